/* The message transaction: RSET, MAIL, RCPT, DATA or BDAT, their replies
 * matched in order, and the results they leave (RFC 5321 3.3, RFC 2920,
 * RFC 3030, RFC 2033 4.2). What may be sent at all is decided before, in
 * command.c; the body's octets are body.c's. */
#include <stdlib.h>
#include <string.h>

#include "smtp/client/client.h"

void tern__smtpc_txn_free(struct tern__smtpc_txn *t)
{
	free(t->mail_line);
	for (size_t i = 0; i < t->n_rcpts; i++) {
		free(t->rcpts[i].line);
		tern__smtpc_result_clear(&t->rcpts[i].res);
	}
	free(t->rcpts);
	tern__smtpc_result_clear(&t->chunk_res);
	tern__smtpc_result_clear(&t->res);
	tern__buf_free(&t->chunk);
	memset(t, 0, sizeof(*t));
	t->res.text = t->res.enhanced = "";
	t->chunk_res.text = t->chunk_res.enhanced = "";
}

/* The message is over: every recipient still open gets fallback (when
 * given); the message result is fallback or the first refusal. */
void tern__smtpc_message_done(tern_smtp_client *c, const tern_smtp_client_result *fallback)
{
	struct tern__smtpc_txn *t = &c->txn;
	if (!t->active)
		return;
	if (!t->have_res && fallback) {
		tern__smtpc_result_copy(&t->res, fallback);
		t->have_res = true;
	}
	/* Nothing decided the message as a whole (every recipient was
	 * refused): its result is the first refusal. */
	for (size_t i = 0; !t->have_res && i < t->n_rcpts; i++)
		if (t->rcpts[i].done) {
			tern__smtpc_result_copy(&t->res, &t->rcpts[i].res);
			t->have_res = true;
		}
	for (size_t i = 0; i < t->n_rcpts; i++) {
		if (!t->rcpts[i].done && fallback) {
			tern__smtpc_result_copy(&t->rcpts[i].res, fallback);
			t->rcpts[i].done = true;
		}
	}
	t->active = false;
	c->have_message_result = true;
	tern__smtpc_event(c, TERN_SMTP_CLIENT_EV_MESSAGE_DONE);
}


static void txn_finish(tern_smtp_client *c, bool clean)
{
	if (!clean)
		c->need_rset = true;
	tern__smtpc_message_done(c, NULL);
	c->state = TERN__SMTPC_READY;
	tern__smtpc_event(c, TERN_SMTP_CLIENT_EV_READY);
}

static int send_mail(tern_smtp_client *c)
{
	c->txn.mail_sent = true;
	int r = tern__smtpc_write(c, "%s", c->txn.mail_line);
	return r ? r : tern__smtpc_expect(c, TERN__SMTPC_K_MAIL, 0);
}

static int send_rcpt(tern_smtp_client *c)
{
	struct tern__smtpc_txn *t = &c->txn;
	while (t->next_rcpt < t->n_rcpts && t->rcpts[t->next_rcpt].done)
		t->next_rcpt++;
	size_t i = t->next_rcpt++;
	int r = tern__smtpc_write(c, "%s", t->rcpts[i].line);
	return r ? r : tern__smtpc_expect(c, TERN__SMTPC_K_RCPT, i);
}

static bool rcpts_left(const struct tern__smtpc_txn *t)
{
	for (size_t i = t->next_rcpt; i < t->n_rcpts; i++)
		if (!t->rcpts[i].done)
			return true;
	return false;
}

static int send_data(tern_smtp_client *c)
{
	c->txn.data_sent = true;
	int r = tern__smtpc_write(c, "DATA\r\n");
	return r ? r : tern__smtpc_expect(c, TERN__SMTPC_K_DATA, 0);
}

static void start_body(tern_smtp_client *c)
{
	c->txn.at_bol = true;
	c->state = TERN__SMTPC_BODY;
	tern__smtpc_event(c, TERN_SMTP_CLIENT_EV_BODY);
}

/* Writes the commands of the transaction: all at once with PIPELINING
 * (RFC 2920 3.1: RSET, MAIL and RCPT may go in a group that DATA ends),
 * else the next one once the previous reply is in. Called when the
 * transaction starts and whenever the reply queue runs empty. */
static int txn_advance(tern_smtp_client *c)
{
	struct tern__smtpc_txn *t = &c->txn;
	int r = 0;
	if (t->pipelined && !t->mail_sent) {
		if (c->need_rset) {
			t->rset_sent = true;
			c->need_rset = false;
			r = tern__smtpc_write(c, "RSET\r\n");
			if (r == 0)
				r = tern__smtpc_expect(c, TERN__SMTPC_K_RSET, 0);
		}
		if (r == 0)
			r = send_mail(c);
		while (r == 0 && rcpts_left(t))
			r = send_rcpt(c);
		if (r == 0 && !t->bdat)
			r = send_data(c);
		return r;
	}
	if (c->exp_len)
		return 0;
	if (c->need_rset) {
		c->need_rset = false;
		t->rset_sent = true;
		r = tern__smtpc_write(c, "RSET\r\n");
		return r ? r : tern__smtpc_expect(c, TERN__SMTPC_K_RSET, 0);
	}
	if (!t->mail_sent)
		return send_mail(c);
	if (t->mail_failed) {
		txn_finish(c, false);
		return 0;
	}
	if (rcpts_left(t))
		return send_rcpt(c);
	if (t->n_accepted == 0) {
		txn_finish(c, false);
		return 0;
	}
	if (t->bdat) {
		start_body(c);
		return 0;
	}
	if (!t->data_sent)
		return send_data(c);
	return 0;
}

static void on_txn_reply(tern_smtp_client *c, const struct tern__smtpc_expect *e, int code,
			 const char *enh, const char *text)
{
	struct tern__smtpc_txn *t = &c->txn;
	switch (e->kind) {
	case TERN__SMTPC_K_RSET:
		/* A refused RSET changes nothing we could act on. */
		break;
	case TERN__SMTPC_K_MAIL:
		if (code / 100 != 2) {
			t->mail_failed = true;
			(void)tern__smtpc_result_set(&t->res, code, enh, text, TERN_SMTP_CLIENT_R_REPLY);
			t->have_res = true;
			for (size_t i = 0; i < t->n_rcpts; i++)
				if (!t->rcpts[i].done) {
					tern__smtpc_result_copy(&t->rcpts[i].res, &t->res);
					t->rcpts[i].done = true;
				}
		}
		break;
	case TERN__SMTPC_K_RCPT: {
		struct tern__smtpc_rcpt *rc = &t->rcpts[e->idx];
		if (t->mail_failed)
			break; /* the result is MAIL's; this is the 503 that follows */
		(void)tern__smtpc_result_set(&rc->res, code, enh, text, TERN_SMTP_CLIENT_R_REPLY);
		if (code / 100 == 2) {
			rc->accepted = true;
			t->n_accepted++;
		} else {
			rc->done = true;
		}
		break;
	}
	case TERN__SMTPC_K_DATA:
		if (code == 354 && !t->mail_failed && t->n_accepted > 0) {
			start_body(c);
			return;
		}
		if (code == 354) {
			/* RFC 2920 3.1: the server took DATA though nothing
			 * was accepted; end the empty message at once and
			 * throw its reply away. */
			if (tern__smtpc_write(c, ".\r\n") < 0 ||
			    tern__smtpc_expect(c, TERN__SMTPC_K_DISCARD, 0) < 0) {
				tern__smtpc_fail_nomem(c);
				return;
			}
			return;
		}
		if (!t->mail_failed && t->n_accepted > 0) {
			(void)tern__smtpc_result_set(&t->res, code, enh, text, TERN_SMTP_CLIENT_R_REPLY);
			/* Anything but 354 here means no data went: a 2xx to
			 * DATA is a broken server, not a delivery. */
			if (t->res.cls == TERN_SMTP_CLIENT_SUCCESS)
				t->res.cls = TERN_SMTP_CLIENT_TEMPFAIL;
			t->have_res = true;
			for (size_t i = 0; i < t->n_rcpts; i++)
				if (!t->rcpts[i].done) {
					tern__smtpc_result_copy(&t->rcpts[i].res, &t->res);
					t->rcpts[i].done = true;
				}
		}
		txn_finish(c, false);
		return;
	case TERN__SMTPC_K_DISCARD:
		txn_finish(c, false);
		return;
	default:
		break;
	}
	if (c->exp_len == 0 && txn_advance(c) < 0)
		tern__smtpc_fail_nomem(c);
}

static void on_end_reply(tern_smtp_client *c, const struct tern__smtpc_expect *e, int code,
			 const char *enh, const char *text)
{
	struct tern__smtpc_txn *t = &c->txn;
	if (e->kind == TERN__SMTPC_K_BDAT) {
		t->bdat_waiting--;
		if (code / 100 != 2 && !t->chunk_failed) {
			t->chunk_failed = true;
			(void)tern__smtpc_result_set(&t->chunk_res, code, enh, text,
						     TERN_SMTP_CLIENT_R_REPLY);
		}
		/* Without PIPELINING the body waited for this reply. */
		if (!t->pipelined && c->state == TERN__SMTPC_BODY)
			tern__smtpc_event(c, TERN_SMTP_CLIENT_EV_BODY);
		return;
	}
	/* K_END: the reply to "." / BDAT LAST, for one recipient in LMTP
	 * (RFC 2033 4.2: one reply per accepted recipient, in RCPT order), for
	 * all of them in SMTP. An earlier refused chunk decides the message. */
	tern_smtp_client_result r = { 0 };
	r.text = r.enhanced = "";
	(void)tern__smtpc_result_set(&r, code, enh, text, TERN_SMTP_CLIENT_R_REPLY);
	const tern_smtp_client_result *use = t->chunk_failed ? &t->chunk_res : &r;
	if (!t->have_res) {
		tern__smtpc_result_copy(&t->res, use);
		t->have_res = true;
	}
	if (c->opts.lmtp) {
		tern__smtpc_result_copy(&t->rcpts[e->idx].res, use);
		t->rcpts[e->idx].done = true;
	} else {
		for (size_t i = 0; i < t->n_rcpts; i++)
			if (t->rcpts[i].accepted && !t->rcpts[i].done) {
				tern__smtpc_result_copy(&t->rcpts[i].res, use);
				t->rcpts[i].done = true;
			}
	}
	tern__smtpc_result_clear(&r);
	/* The final reply ends the transaction whatever it says (RFC 5321
	 * 4.1.1.4); after a refused chunk RSET anyway, to be sure. */
	if (c->exp_len == 0)
		txn_finish(c, !t->chunk_failed);
}

int tern__smtpc_txn_start(tern_smtp_client *c)
{
	struct tern__smtpc_txn *t = &c->txn;
	t->active = true;
	if (t->have_res || !rcpts_left(t)) {
		/* Decided here: nothing goes to the server. When the message
		 * as a whole was refused, every recipient shares its result. */
		for (size_t i = 0; i < t->n_rcpts; i++)
			if (!t->rcpts[i].done) {
				tern__smtpc_result_copy(&t->rcpts[i].res, &t->res);
				t->rcpts[i].done = true;
			}
		tern__smtpc_message_done(c, NULL);
		tern__smtpc_event(c, TERN_SMTP_CLIENT_EV_READY);
		return 0;
	}
	t->pipelined = (c->caps.ext & TERN_SMTP_EXT_PIPELINING) && !c->opts.no_pipelining;
	c->state = TERN__SMTPC_TXN;
	return txn_advance(c);
}

void tern__smtpc_txn_reply(tern_smtp_client *c, const struct tern__smtpc_expect *e, int code,
			   const char *enh, const char *text)
{
	if (e->kind == TERN__SMTPC_K_BDAT || e->kind == TERN__SMTPC_K_END)
		on_end_reply(c, e, code, enh, text);
	else
		on_txn_reply(c, e, code, enh, text);
}
