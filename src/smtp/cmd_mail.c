/* MAIL (RFC 5321 4.1.1.2, 4.1.2):
 *   mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
 * Parameters: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC
 * 6531), REQUIRETLS (RFC 8689), RET and ENVID (RFC 3461). Nothing in the
 * session changes until the embedder accepts the sender. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/command.h"
#include "smtp/params.h"
#include "util/address.h"
#include "util/esmtp_param.h"
#include "util/xtext.h"

#define MAX_PARAMS 16
#define ENVID_MAX 100 /* RFC 3461 4.4 */
/* RFC 4954 5: AUTH=<mailbox> (xtext), a mailbox of at most 254 octets
 * (RFC 5321 4.5.3.1.3) and its brackets. */
#define AUTH_PARAM_MAX 256

/* Validates the MAIL parameters into *m. envid_buf receives the decoded
 * ENVID. Returns false after replying. */
static bool mail_params(tern_smtp_session *s, const char *in, size_t len, tern_smtp_mail *m,
			char *envid_buf, char *auth_buf)
{
	struct tern__esmtp_param params[MAX_PARAMS];
	size_t n = 0;
	if (!tern__smtp_split_params(s, in, len, params, MAX_PARAMS, &n))
		return false;
	unsigned seen = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tern__esmtp_param *p = &params[i];
		unsigned bit;
		int err = 0;
		if (tern__esmtp_param_is(p, "SIZE")) {
			bit = 1;
			if (!tern__smtp_ext(s, TERN__EXT_SIZE))
				err = 555;
			else if (!tern__param_size(p, &m->size))
				err = 501;
		} else if (tern__esmtp_param_is(p, "BODY")) {
			bit = 2;
			err = tern__param_body(s, p, &m->body);
		} else if (tern__esmtp_param_is(p, "SMTPUTF8")) {
			bit = 4;
			if (!tern__smtp_ext(s, TERN__EXT_SMTPUTF8))
				err = 555;
			else if (p->value)
				err = 501;
			m->smtputf8 = true;
		} else if (tern__esmtp_param_is(p, "REQUIRETLS")) {
			bit = 8;
			if (!s->secure) {
				/* RFC 8689 4.1: only over TLS; X.7.10 encryption needed. */
				tern__smtp_reply_error(s, 530, "5.7.10", "REQUIRETLS needs a TLS-protected session");
				return false;
			}
			if (!tern__smtp_ext(s, TERN__EXT_REQUIRETLS))
				err = 555; /* TLS, but HELO: no extensions */
			else if (p->value)
				err = 501;
			m->requiretls = true;
		} else if (tern__esmtp_param_is(p, "RET")) {
			bit = 16;
			if (!tern__smtp_ext(s, TERN__EXT_DSN))
				err = 555;
			else if (p->value && p->value_len == 4 && !strncasecmp(p->value, "FULL", 4))
				m->ret = TERN_SMTP_RET_FULL;
			else if (p->value && p->value_len == 4 && !strncasecmp(p->value, "HDRS", 4))
				m->ret = TERN_SMTP_RET_HDRS;
			else
				err = 501;
		} else if (tern__esmtp_param_is(p, "ENVID")) {
			bit = 32;
			if (!tern__smtp_ext(s, TERN__EXT_DSN))
				err = 555;
			else if (!tern__param_xtext(p, ENVID_MAX, envid_buf))
				err = 501;
			else
				m->envid = envid_buf;
		} else if (tern__esmtp_param_is(p, "AUTH")) {
			bit = 64;
			if (!tern__smtp_ext(s, TERN__EXT_AUTH))
				err = 555;
			else if (!tern__param_xtext(p, AUTH_PARAM_MAX, auth_buf))
				err = 501;
			else
				/* RFC 4954 5: "<>" says the submitter is unknown;
				 * the value is kept as information only. */
				m->auth = strcmp(auth_buf, "<>") == 0 ? "" : auth_buf;
		} else {
			/* RFC 5321 4.1.1.11 / RFC 1869: unknown parameter. */
			tern__smtp_reply_error(s, 555, "5.5.4", "Unsupported MAIL parameter");
			return false;
		}
		if (!err && (seen & bit))
			err = 501; /* a parameter may appear once */
		seen |= bit;
		if (err == 555) {
			tern__smtp_reply_error(s, 555, "5.5.4", "MAIL parameter not supported in this session");
			return false;
		}
		if (err) {
			tern__smtp_reply_error(s, 501, "5.5.4", "Invalid MAIL parameter value");
			return false;
		}
	}
	return true;
}

void tern__cmd_mail_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r)
{
	if (!tern__smtp_decision_ok(decision, r)) {
		tern__smtp_log(s, TERN_LOG_INFO, "sender <%s> rejected",
			       s->tx.pending_mail.address);
		tern_smtp_reply def_ok = {250, "2.1.0", "Sender OK"};
		tern_smtp_reply def_fail = {550, "5.7.1", "Sender rejected"};
		tern__smtp_reply_decision(s, decision, r, &def_ok, &def_fail);
		tern__smtp_tx_drop_pending(&s->tx);
		return;
	}
	tern__smtp_tx_commit_mail(&s->tx);
	s->mails_accepted++;
	tern__smtp_log(s, TERN_LOG_INFO, "mail from <%s> size=%llu", s->tx.mail.address,
		       (unsigned long long)s->tx.mail.size);
	tern_smtp_reply def_ok = {250, "2.1.0", "Sender OK"};
	tern__smtp_reply_decision(s, TERN_SMTP_ACCEPT, r, &def_ok, &def_ok);
}

void tern__cmd_mail(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	if (s->tx.active) {
		tern__smtp_reply_error(s, 503, "5.5.1", "Bad sequence of commands: sender already given");
		return;
	}
	/* An abuse limit: a sender with more to send reconnects, so one
	 * connection does not keep a worker for ever. */
	if (s->opts->max_messages_per_conn != 0 &&
	    s->mails_accepted >= s->opts->max_messages_per_conn) {
		tern__smtp_log(s, TERN_LOG_INFO, "%u messages in this session: the limit",
			       s->mails_accepted);
		tern__smtp_reply(s, 421, "4.7.0", "%s Too many messages in this session",
				 s->cfg->name);
		return;
	}
	size_t off = 0;
	if (!tern__smtp_path_prefix(args, len, "FROM:", &off)) {
		tern__smtp_reply_error(s, 501, "5.5.2", "Syntax: MAIL FROM:<address>");
		return;
	}
	/* Three scratch strings as long as the line: on the stack for any
	 * ordinary line, so MAIL allocates nothing of its own in the steady
	 * state (issue 10); from the heap for long ones. */
	char small[TERN__CMD_SCRATCH];
	char *block = 3 * (len + 1) <= sizeof(small) ? small : malloc(3 * (len + 1));
	if (block == NULL) {
		tern__smtp_reply(s, 451, "4.3.0", "Out of memory");
		return;
	}
	char *addr = block, *envid = block + len + 1, *auth = block + 2 * (len + 1);
	unsigned flags = TERN__PATH_ALLOW_NULL;
	if (tern__smtp_ext(s, TERN__EXT_SMTPUTF8))
		flags |= TERN__PATH_ALLOW_UTF8;
	size_t used = 0;
	int pr = tern__path_parse(args + off, len - off, flags, addr, len + 1, &used);
	off += used;
	tern_smtp_mail m = {0};
	m.address = addr;
	if (pr == TERN__PATH_EUTF8 && !tern__smtp_ext(s, TERN__EXT_SMTPUTF8)) {
		/* RFC 6531 3.4: UTF-8 addresses need SMTPUTF8. */
		tern__smtp_reply_error(s, 553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8");
	} else if (pr != TERN__PATH_OK || (off < len && args[off] != ' ')) {
		tern__smtp_reply_error(s, 501, "5.1.7",
		    pr == TERN__PATH_ECONTROL ? "Control characters in sender address"
					      : "Bad sender address syntax");
	} else if (mail_params(s, args + off, len - off, &m, envid, auth)) {
		if (!m.smtputf8 && tern__smtp_has_8bit(addr)) {
			/* RFC 6531 3.4: a UTF-8 address needs SMTPUTF8. */
			tern__smtp_reply_error(s, 553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8");
		} else if (s->opts->size && m.size > s->opts->size) {
			/* RFC 1870 6.1: refuse a declared size over the limit. */
			tern__smtp_reply(s, 552, "5.3.4",
					 "Message size exceeds fixed maximum message size");
		} else if (tern__smtp_tx_set_pending_mail(&s->tx, &m) < 0) {
			tern__smtp_reply(s, 451, "4.3.0", "Out of memory");
		} else {
			tern_smtp_reply r = {0};
			int d = TERN_SMTP_ACCEPT;
			if (s->opts->callbacks.on_mail_from) {
				tern__smtp_decide_begin(s, TERN__WAIT_MAIL);
				d = s->opts->callbacks.on_mail_from(s, &s->tx.pending_mail, &r,
								    s->opts->user_data);
				d = tern__smtp_decide_end(s, d, &r);
			}
			if (d != TERN_SMTP_PENDING)
				tern__cmd_mail_decided(s, d, &r);
		}
	}
	if (block != small)
		free(block);
}
