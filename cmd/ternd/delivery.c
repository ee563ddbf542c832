/* ternd's SMTP callbacks; see delivery.h. The library calls them on the
 * session's loop thread, so the per-session struct needs no lock. */
#include "delivery.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "inbound_auth.h"
#include "log.h"
#include "mail/header_filter.h"
#include "outbound.h"
#include "routing.h"
#include "signing.h"

/* Room a checked message's queue file keeps for its Authentication-Results
 * (a handful of DKIM results fit; a longer field is logged and left out). */
#define AUTH_RESULTS_ROOM 4000

struct session_ctx {
	maildir_msg *msg;   /* the message being received, if any */
	q_writer *queued;   /* or: the message going to the queue */
	struct ternd_signer *signer; /* signing it as it is queued (our users' mail) */
	struct ternd_commit *commit; /* its group commit, while the 250 waits */
	tern_smtp_session *session;  /* for the commit's answer */
	uint64_t queued_size;
	const struct ternd_delivery *d;
	int msg_err;        /* why msg was dropped mid-stream (0: it was not) */
	uint64_t received;  /* bytes seen in this message (for --discard logs) */
	/* Reply text lives here until the callback returns (the library copies
	 * it then). */
	char reply_text[200];
	struct ternd_session_auth auth;
	/* Inbound checks of the message being received (local mail from
	 * strangers): the running checks, and the filter that removes
	 * Authentication-Results fields claiming our authserv-id on their
	 * way into the Maildir. */
	tern_mailauth *ma;
	tern_mailauth_ctx *ma_ctx;
	struct tern__hdr_filter strip;
};

struct ternd_session_auth *ternd_session_auth(tern_smtp_session *s)
{
	struct session_ctx *ctx = tern_smtp_session_get_context(s);
	return ctx != NULL ? &ctx->auth : NULL;
}

static const char *sid(const tern_smtp_session *s)
{
	const char *id = tern_smtp_session_id(s);
	return id != NULL ? id : "?";
}

static void set_reply(tern_smtp_reply *reply, int code, const char *enhanced, const char *text)
{
	reply->code = code;
	reply->enhanced = enhanced;
	reply->text = text;
}

/* Fills reply from a storage errno and returns TERN_SMTP_REJECT. */
static int storage_reject(tern_smtp_reply *reply, int err)
{
	int code;
	const char *enh, *text;
	maildir_error_reply(err, &code, &enh, &text);
	set_reply(reply, code, enh, text);
	return TERN_SMTP_REJECT;
}

static void drop_message(const struct ternd_delivery *d, struct session_ctx *ctx)
{
	tern_mailauth_free(&ctx->ma);  /* stops its lookups: no callback after this */
	tern__hdr_filter_clear(&ctx->strip);
	maildir_msg_free(&ctx->msg); /* unlinks every tmp file */
	if (ctx->queued != NULL)
		ternd_outbound_abort(d->ob, &ctx->queued);
	ternd_signer_free(&ctx->signer);
	if (ctx->commit != NULL)
		ternd_outbound_commit_cancel(d->ob, &ctx->commit);
	ctx->received = 0;
}

/* ---- session events -------------------------------------------------- */

/* The library itself logs the connection, MAIL FROM, RCPT TO, every
 * reply of 400 and up and the message outcome (through on_log); these
 * callbacks add what only ternd knows (where a message was stored, why
 * storage failed) and the session's end. */

static int on_connect(tern_smtp_session *s, tern_smtp_reply *reply, void *user_data)
{
	/* After XCLIENT on_connect runs again for the client it named: the
	 * session, and the context made the first time, go on. */
	if (tern_smtp_session_get_context(s) != NULL)
		return TERN_SMTP_ACCEPT;
	struct session_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		ternd_log(TERN_LOG_ERROR, sid(s), "out of memory for a new session");
		set_reply(reply, 421, "4.3.0", "Try again later");
		return TERN_SMTP_REJECT;
	}
	tern_smtp_session_set_context(s, ctx);
	return TERN_SMTP_ACCEPT;
}

static int on_helo(tern_smtp_session *s, const char *name, tern_smtp_reply *reply,
		   void *user_data)
{
	ternd_log(TERN_LOG_INFO, sid(s), "helo %s", name);
	return TERN_SMTP_ACCEPT;
}

/* Whether recipient address goes through the queue (relayed, or local with
 * --lmtp-to) rather than straight into the Maildir. */
static bool via_queue(const struct ternd_delivery *d, const char *address)
{
	return d->ob != NULL && (d->local_via_queue || !ternd_routing_is_local(d->routing, address));
}

static int on_rcpt_to(tern_smtp_session *s, const tern_smtp_rcpt *rcpt, tern_smtp_reply *reply,
		      void *user_data)
{
	const struct ternd_delivery *d = user_data;
	char mbox[MAILDIR_NAME_MAX + 1];

	if (d->routing != NULL && ternd_routing_enabled(d->routing) && d->lmtp &&
	    !ternd_routing_is_local(d->routing, rcpt->address)) {
		/* An LMTP listener delivers; it never relays (RFC 2033 4.2:
		 * final delivery only). */
		set_reply(reply, 550, "5.1.1", "No such user here");
		return TERN_SMTP_REJECT;
	}
	if (d->routing != NULL && ternd_routing_enabled(d->routing) && !d->lmtp) {
		switch (ternd_routing_rcpt(d->routing, s, rcpt->address)) {
		case TERND_ROUTE_DENIED:
			/* Never an open relay (RFC 5321 7.1, RFC 2505). */
			ternd_log(TERN_LOG_INFO, sid(s), "relay denied for <%s> from [%s]",
				  rcpt->address, tern_smtp_session_remote_address(s));
			set_reply(reply, 554, "5.7.1", "Relay access denied");
			return TERN_SMTP_REJECT;
		case TERND_ROUTE_NO_USER:
			set_reply(reply, 550, "5.1.1", "No such user here");
			return TERN_SMTP_REJECT;
		case TERND_ROUTE_RELAY:
			if (d->ob == NULL) {
				set_reply(reply, 451, "4.3.0", "Relaying is not available now");
				return TERN_SMTP_REJECT;
			}
			return TERN_SMTP_ACCEPT;
		case TERND_ROUTE_LOCAL:
			break;
		}
	}
	if (via_queue(d, rcpt->address))
		return TERN_SMTP_ACCEPT;
	/* Refuse here, not after DATA, an address that cannot become a
	 * mailbox name: the sender learns it per recipient. */
	if (!d->discard) {
		int err = maildir_mailbox_name(rcpt->address, mbox, sizeof(mbox));
		if (err != 0) {
			ternd_log(TERN_LOG_DEBUG, sid(s), "rcpt to <%s> rejected: mailbox name %s",
				  rcpt->address, err == ENAMETOOLONG ? "too long" : "invalid");
			return storage_reject(reply, ENAMETOOLONG);
		}
	}
	return TERN_SMTP_ACCEPT;
}

/* The envelope of the queue file. */
static int begin_queued(tern_smtp_session *s, const struct ternd_delivery *d,
			struct session_ctx *ctx, const tern_smtp_mail *mail, unsigned n,
			tern_smtp_reply *reply)
{
	struct q_rcpt *rcpts = calloc(n, sizeof(*rcpts));
	char client[320], **orcpts = calloc(n, sizeof(char *));
	struct q_envelope env = {
		.arrival = (int64_t)time(NULL),
		.sender = (char *)mail->address,
		.envid = (char *)mail->envid,
		.ret = mail->ret == TERN_SMTP_RET_FULL   ? Q_RET_FULL
		       : mail->ret == TERN_SMTP_RET_HDRS ? Q_RET_HDRS
							 : Q_RET_UNSET,
		.body = mail->body == TERN_SMTP_BODY_8BITMIME     ? Q_BODY_8BITMIME
			: mail->body == TERN_SMTP_BODY_BINARYMIME ? Q_BODY_BINARYMIME
								  : Q_BODY_7BIT,
		.smtputf8 = mail->smtputf8,
		.requiretls = mail->requiretls,
		.auth_user = (char *)tern_smtp_session_auth_user(s),
		.client = client,
		.rcpts = rcpts,
		.nrcpt = n,
	};
	int err = ENOMEM;
	/* Our users' mail is signed (docs/domains.md); room for the
	 * signatures is kept in the file's header. */
	struct ternd_signing *keys = ternd_routing_may_relay(d->routing, s)
					    ? ternd_signing_get(d->signing)
					    : NULL;
	bool sign = keys != NULL;

	if (sign)
		env.prefix_room = TERND_SIGNING_ROOM;
	else if (ctx->ma != NULL)
		env.prefix_room = AUTH_RESULTS_ROOM;

	if (ternd_outbound_full(d->ob, mail->size)) {
		ternd_log(TERN_LOG_WARNING, sid(s), "queue full (--max-queue-size): message refused");
		set_reply(reply, 452, "4.3.1", "Insufficient system storage");
		ternd_signing_put(&keys);
		free(rcpts);
		free(orcpts);
		return TERN_SMTP_REJECT;
	}
	snprintf(client, sizeof(client), "%s[%s]", tern_smtp_session_client_hostname(s),
		 tern_smtp_session_remote_address(s));
	for (unsigned i = 0; rcpts != NULL && orcpts != NULL && i < n; i++) {
		const tern_smtp_rcpt *r = tern_smtp_session_rcpt(s, i);

		rcpts[i].addr = (char *)(r != NULL ? r->address : "");
		rcpts[i].notify = r != NULL ? r->notify : 0; /* the same RFC 3461 bits */
		if (r != NULL && r->orcpt != NULL) {
			size_t len = strlen(r->orcpt_type) + strlen(r->orcpt) + 2;

			if ((orcpts[i] = malloc(len)) == NULL)
				goto out;
			snprintf(orcpts[i], len, "%s;%s", r->orcpt_type, r->orcpt);
			rcpts[i].orcpt = orcpts[i];
		}
	}
	if (rcpts != NULL && orcpts != NULL)
		err = ternd_outbound_writer_open(d->ob, &env, &ctx->queued);
	if (err == 0 && sign && ternd_signer_new(&ctx->signer, keys, time(NULL)) != 0) {
		ternd_outbound_abort(d->ob, &ctx->queued);
		err = ENOMEM;
	}
	ternd_signing_put(&keys);
out:
	for (unsigned i = 0; orcpts != NULL && i < n; i++)
		free(orcpts[i]);
	free(orcpts);
	free(rcpts);
	if (err != 0) {
		ternd_log(TERN_LOG_WARNING, sid(s), "cannot queue message: %s", strerror(err));
		return storage_reject(reply, err);
	}
	return TERN_SMTP_ACCEPT;
}

/* ---- inbound checks ---------------------------------------------------- */

static const char *const strip_fields[] = {"Authentication-Results", NULL};

static int strip_out(const void *data, size_t len, void *arg)
{
	struct session_ctx *ctx = arg;

	if (ctx->queued != NULL)
		return ternd_outbound_write(ctx->d->ob, ctx->queued, data, len);
	return maildir_msg_write(ctx->msg, data, len);
}

static bool strip_decide(const char *field, size_t len, size_t name_len, bool truncated,
			 void *arg)
{
	struct session_ctx *ctx = arg;
	bool ours = ctx->ma_ctx != NULL &&
		    tern_mailauth_claims_us(ctx->ma_ctx, field + name_len + 1, len - name_len - 1);

	if (ours)
		ternd_log(TERN_LOG_INFO, sid(ctx->session),
			  "removed an Authentication-Results field claiming to be ours");
	return !ours;
}

/* Starts SPF now (its lookups run while the message arrives), DKIM as the
 * header section ends. A failure to start leaves the message unchecked,
 * never refused: the checks annotate, they do not guard storage. */
static void start_checks(tern_smtp_session *s, const struct ternd_delivery *d,
			 struct session_ctx *ctx, const tern_smtp_mail *mail)
{
	tern_mailauth_envelope env = {
		.client_ip = tern_smtp_session_remote_address(s),
		.helo = tern_smtp_session_helo_name(s),
		.mail_from = mail->address,
		.now = time(NULL),
		.random = arc4random(),
	};

	ctx->session = s;
	if (!ternd_checks_apply(d->checks, s, d->routing) || env.client_ip == NULL)
		return;
	ctx->ma_ctx = ternd_checks_ctx(d->checks, tern_smtp_session_event_base(s));
	if (ctx->ma_ctx == NULL)
		return;
	if (tern_mailauth_new(&ctx->ma, ctx->ma_ctx, &env) != 0)
		ternd_log(TERN_LOG_WARNING, sid(s), "out of memory: message not checked");
}

/* MAIL FROM: an authenticated user's sender is checked (auth.c); the
 * inbound checks start here so that SPF's lookups overlap RCPT and DATA. */
static int on_mail_from(tern_smtp_session *s, const tern_smtp_mail *mail, tern_smtp_reply *reply,
			void *user_data)
{
	const struct ternd_delivery *d = user_data;
	struct session_ctx *ctx = tern_smtp_session_get_context(s);
	int rc = d->auth != NULL ? ternd_auth_mail_from(s, mail, reply, d) : TERN_SMTP_ACCEPT;

	if (rc == TERN_SMTP_ACCEPT && ctx != NULL && d->checks != NULL && !d->discard) {
		tern_mailauth_free(&ctx->ma);
		start_checks(s, d, ctx, mail);
	}
	return rc;
}

static void finish_checked(tern_mailauth *ma, void *arg);

/* A piece of a checked message: the checks see it as sent; the store (the
 * Maildir or the queue, through strip_out) gets it without fields forged in
 * our name. Returns 0 or an errno value. */
static int write_checked(tern_smtp_session *s, struct session_ctx *ctx, const void *buf,
			 size_t len)
{
	int err;

	if (tern_mailauth_feed(ctx->ma, buf, len) != 0)
		ternd_log(TERN_LOG_WARNING, sid(s), "out of memory: DKIM not checked");
	err = tern__hdr_filter_feed(&ctx->strip, buf, len);
	return err == TERN_ENOMEM ? ENOMEM : err;
}

static int on_data_start(tern_smtp_session *s, tern_smtp_reply *reply, void *user_data)
{
	const struct ternd_delivery *d = user_data;
	struct session_ctx *ctx = tern_smtp_session_get_context(s);
	if (ctx == NULL)
		return storage_reject(reply, EIO);
	/* What an earlier message left goes; the checks started at this
	 * transaction's MAIL FROM stay. */
	tern_mailauth *checks = ctx->ma;
	ctx->ma = NULL;
	drop_message(d, ctx);
	ctx->ma = checks;
	ctx->msg_err = 0;
	if (d->discard)
		return TERN_SMTP_ACCEPT;

	const tern_smtp_mail *mail = tern_smtp_session_mail_from(s);
	unsigned n = tern_smtp_session_rcpt_count(s);
	if (mail == NULL || n == 0) {
		ternd_log(TERN_LOG_ERROR, sid(s), "data without an envelope");
		return storage_reject(reply, EIO);
	}
	/* One message, one commit: when any recipient goes through the
	 * queue, they all do (the queue delivers local ones too), so the 250
	 * never stands for two writes of which one could fail. */
	for (unsigned i = 0; i < n; i++) {
		const tern_smtp_rcpt *r = tern_smtp_session_rcpt(s, i);

		if (r != NULL && via_queue(d, r->address)) {
			int rc = begin_queued(s, d, ctx, mail, n, reply);

			/* Strangers' mail for local domains goes through the
			 * queue with --lmtp-to: checked the same way, the field
			 * put in the room the queue file keeps for it. */
			if (rc == TERN_SMTP_ACCEPT && ctx->ma != NULL)
				tern__hdr_filter_init(&ctx->strip, strip_fields, strip_decide,
						      strip_out, ctx);
			else
				tern_mailauth_free(&ctx->ma);
			return rc;
		}
	}
	const char **rcpts = calloc(n, sizeof(*rcpts));
	if (rcpts == NULL) {
		ternd_log(TERN_LOG_ERROR, sid(s), "out of memory starting a message");
		return storage_reject(reply, ENOMEM);
	}
	for (unsigned i = 0; i < n; i++) {
		const tern_smtp_rcpt *r = tern_smtp_session_rcpt(s, i);
		rcpts[i] = r != NULL ? r->address : "";
	}
	int err = maildir_msg_begin(d->md, mail->address, rcpts, n, &ctx->msg);
	free(rcpts);
	if (err != 0) {
		ternd_log(TERN_LOG_WARNING, sid(s), "cannot store message: %s", strerror(err));
		return storage_reject(reply, err);
	}
	if (ctx->ma != NULL)
		tern__hdr_filter_init(&ctx->strip, strip_fields, strip_decide, strip_out, ctx);
	return TERN_SMTP_ACCEPT;
}

static int on_data_chunk(tern_smtp_session *s, const void *buf, size_t len,
			 tern_smtp_reply *reply, void *user_data)
{
	const struct ternd_delivery *d = user_data;
	struct session_ctx *ctx = tern_smtp_session_get_context(s);
	if (ctx == NULL)
		return storage_reject(reply, EIO);
	ctx->received += len;
	if (ctx->queued != NULL) {
		int err;

		ctx->d = d;
		err = ctx->ma != NULL ? write_checked(s, ctx, buf, len)
				      : ternd_outbound_write(d->ob, ctx->queued, buf, len);

		if (err == 0 && ctx->signer != NULL && ternd_signer_feed(ctx->signer, buf, len) != 0)
			err = ENOMEM;   /* not sent unsigned: the sender's DMARC may need it */

		if (err != 0) {
			ternd_log(TERN_LOG_WARNING, sid(s), "queue write failed: %s", strerror(err));
			drop_message(d, ctx);
			ctx->msg_err = err;
			return storage_reject(reply, err);
		}
		return TERN_SMTP_ACCEPT;
	}
	if (ctx->msg == NULL)
		return ctx->msg_err != 0 ? storage_reject(reply, ctx->msg_err) : TERN_SMTP_ACCEPT;
	int err = ctx->ma != NULL ? write_checked(s, ctx, buf, len)
				  : maildir_msg_write(ctx->msg, buf, len);
	if (err != 0) {
		/* The library reads the rest and drops it; nothing of ours
		 * stays on disk. */
		ternd_log(TERN_LOG_WARNING, sid(s), "message write failed: %s", strerror(err));
		drop_message(d, ctx);
		ctx->msg_err = err;
		return storage_reject(reply, err);
	}
	return TERN_SMTP_ACCEPT;
}

/* LMTP (RFC 2033 4.2): "one reply for each successful RCPT command", in
 * order, so one mailbox failing only fails its recipient. */
static int finish_lmtp(tern_smtp_session *s, const struct ternd_delivery *d,
		       struct session_ctx *ctx, tern_smtp_reply *reply)
{
	unsigned n = tern_smtp_session_rcpt_count(s);
	unsigned delivered = 0;
	int first_err = 0;
	for (unsigned i = 0; i < n; i++) {
		const tern_smtp_rcpt *r = tern_smtp_session_rcpt(s, i);
		const char *path;
		uint64_t size;
		int err = maildir_msg_result(ctx->msg, i, &path, &size);
		tern_smtp_reply rr;
		if (err == 0) {
			delivered++;
			ternd_log(TERN_LOG_INFO, sid(s), "stored for <%s> size=%" PRIu64 " path=%s/%s",
				  r != NULL ? r->address : "?", size, maildir_root(d->md),
				  path);
			set_reply(&rr, 250, "2.6.0", ctx->reply_text);
		} else {
			ternd_log(TERN_LOG_WARNING, sid(s), "not stored for <%s>: %s",
				  r != NULL ? r->address : "?", strerror(err));
			if (first_err == 0)
				first_err = err;
			storage_reject(&rr, err);
		}
		if (tern_smtp_session_set_rcpt_reply(s, i, &rr) != 0)
			ternd_log(TERN_LOG_ERROR, sid(s), "cannot set the reply for recipient %u", i);
	}
	if (delivered == 0)
		return storage_reject(reply, first_err != 0 ? first_err : EIO);
	set_reply(reply, 250, "2.6.0", ctx->reply_text);
	return TERN_SMTP_ACCEPT;
}

/* SMTP: one reply for the whole message. maildir_msg_commit() with
 * all_or_nothing removes partial deliveries, so a 4xx never leaves a copy
 * behind that the client's retry would duplicate. */
static int finish_smtp(tern_smtp_session *s, const struct ternd_delivery *d,
		       struct session_ctx *ctx, int err, tern_smtp_reply *reply)
{
	unsigned n = tern_smtp_session_rcpt_count(s);
	if (err != 0) {
		ternd_log(TERN_LOG_WARNING, sid(s), "message not stored: %s", strerror(err));
		return storage_reject(reply, err);
	}
	for (unsigned i = 0; i < n; i++) {
		const tern_smtp_rcpt *r = tern_smtp_session_rcpt(s, i);
		const char *path;
		uint64_t size;
		maildir_msg_result(ctx->msg, i, &path, &size);
		ternd_log(TERN_LOG_INFO, sid(s), "stored for <%s> size=%" PRIu64 " path=%s/%s",
			  r != NULL ? r->address : "?", size, maildir_root(d->md), path);
	}
	set_reply(reply, 250, "2.6.0", ctx->reply_text);
	return TERN_SMTP_ACCEPT;
}

/* The DKIM-Signature fields go in front of the queued message before its
 * file is made durable. A message that cannot be signed (no single From
 * domain, a key that failed) goes unsigned, logged: refusing our own
 * user's mail over it would help no one. */
static void sign_queued(tern_smtp_session *s, struct session_ctx *ctx)
{
	char *fields = NULL;
	size_t len = 0;
	const char *why = NULL;
	int err;

	if (ternd_signer_finish(ctx->signer, &fields, &len, &why) != 0) {
		ternd_log(TERN_LOG_WARNING, sid(s), "not DKIM-signed: %s", why);
	} else if (fields != NULL) {
		err = q_writer_set_prefix(ctx->queued, fields, len);
		if (err == 0)
			ternd_log(TERN_LOG_INFO, sid(s), "DKIM-signed d=%s",
				  ternd_signer_domain(ctx->signer));
		else
			ternd_log(TERN_LOG_WARNING, sid(s), "not DKIM-signed: %s",
				  err == E2BIG ? "signatures too long for the room kept"
					       : strerror(err));
	}
	free(fields);
	ternd_signer_free(&ctx->signer);
}

/* The group commit's answer, on the session's loop. */
static void queued_done(int err, const char *id, void *arg)
{
	struct session_ctx *ctx = arg;
	tern_smtp_session *s = ctx->session;
	tern_smtp_reply reply;

	ctx->commit = NULL;
	if (err != 0) {
		ternd_log(TERN_LOG_WARNING, sid(s), "message not queued: %s", strerror(err));
		storage_reject(&reply, err);
	} else {
		ternd_log(TERN_LOG_INFO, sid(s), "queued as %s size=%" PRIu64 " nrcpt=%u", id,
			  ctx->queued_size, tern_smtp_session_rcpt_count(s));
		snprintf(ctx->reply_text, sizeof(ctx->reply_text), "Ok: queued as %s", id);
		set_reply(&reply, 250, "2.0.0", ctx->reply_text);
	}
	if (ctx->d->lmtp) {
		/* RFC 2033: one reply per recipient, the same for all here. */
		for (unsigned i = 0; i < tern_smtp_session_rcpt_count(s); i++)
			tern_smtp_session_set_rcpt_reply(s, i, &reply);
	}
	tern_smtp_session_resume(s, &reply);
}

static int on_data_end(tern_smtp_session *s, const tern_smtp_data_info *info,
		       tern_smtp_reply *reply, void *user_data)
{
	const struct ternd_delivery *d = user_data;
	struct session_ctx *ctx = tern_smtp_session_get_context(s);
	if (ctx == NULL)
		return storage_reject(reply, EIO);
	if (d->discard) {
		ternd_log(TERN_LOG_INFO, sid(s), "message discarded size=%" PRIu64, info->size);
		set_reply(reply, 250, "2.6.0", "Message accepted and discarded");
		ctx->received = 0;
		return TERN_SMTP_ACCEPT;
	}
	if (ctx->queued != NULL) {
		/* The 250 only once the file is durable (queue.h, W2): the
		 * committer threads make it so, together with the other
		 * messages finished meanwhile, while this loop serves on. */
		int err;

		ctx->received = 0;
		ctx->session = s;
		ctx->d = d;
		ctx->queued_size = info->size;
		if (ctx->signer != NULL)
			sign_queued(s, ctx);
		if (ctx->ma != NULL) {
			err = tern__hdr_filter_end(&ctx->strip);
			if (err == 0 && tern_mailauth_finish(ctx->ma, finish_checked, ctx) == 0)
				return TERN_SMTP_PENDING;
			if (err != 0) {
				drop_message(d, ctx);
				return storage_reject(reply, err == TERN_ENOMEM ? ENOMEM : err);
			}
			ternd_log(TERN_LOG_WARNING, sid(s), "out of memory: message not checked");
			tern_mailauth_free(&ctx->ma);
		}
		err = ternd_outbound_commit_async(d->ob, &ctx->queued, tern_smtp_session_event_base(s),
						  queued_done, ctx, &ctx->commit);
		if (err != 0) {
			ternd_log(TERN_LOG_WARNING, sid(s), "message not queued: %s", strerror(err));
			return storage_reject(reply, err);
		}
		return TERN_SMTP_PENDING;
	}
	if (ctx->msg == NULL) {
		/* Dropped mid-stream; on_data_chunk logged why. */
		int err = ctx->msg_err != 0 ? ctx->msg_err : EIO;
		ctx->msg_err = 0;
		return storage_reject(reply, err);
	}
	if (ctx->ma != NULL) {
		int err = tern__hdr_filter_end(&ctx->strip);

		if (err != 0) {
			drop_message(d, ctx);
			return storage_reject(reply, err == TERN_ENOMEM ? ENOMEM : err);
		}
		ctx->d = d;
		ctx->session = s;
		if (tern_mailauth_finish(ctx->ma, finish_checked, ctx) == 0)
			return TERN_SMTP_PENDING;
		ternd_log(TERN_LOG_WARNING, sid(s), "out of memory: message not checked");
		tern_mailauth_free(&ctx->ma);
	}
	/* RFC 5321 6.1: the 250 hands over responsibility, so it goes out only
	 * once every file and directory entry is on stable storage. */
	int err = maildir_msg_commit(ctx->msg, !d->lmtp);
	snprintf(ctx->reply_text, sizeof(ctx->reply_text), "Message accepted as %s",
		 maildir_msg_basename(ctx->msg));
	int rc = d->lmtp ? finish_lmtp(s, d, ctx, reply) : finish_smtp(s, d, ctx, err, reply);
	drop_message(d, ctx);
	return rc;
}

/* A checked message on its way through the queue (--lmtp-to): the field
 * goes into the room its file keeps, then the group commit answers. A
 * quarantine cannot choose the LMTP server's folder: the message goes with
 * its field, for the server's filters (Sieve) to file. */
static void commit_checked_queued(tern_smtp_session *s, struct session_ctx *ctx,
				  enum ternd_verdict verdict, const char *field, size_t field_len)
{
	const struct ternd_delivery *d = ctx->d;
	tern_smtp_reply reply;
	int err;

	if (field != NULL && (err = q_writer_set_prefix(ctx->queued, field, field_len)) != 0)
		ternd_log(TERN_LOG_WARNING, sid(s), "Authentication-Results not added: %s",
			  err == E2BIG ? "too long for the room kept" : strerror(err));
	if (verdict == TERND_VERDICT_JUNK)
		ternd_log(TERN_LOG_INFO, sid(s), "DMARC quarantine: delivered with its "
			  "Authentication-Results for the LMTP server to file");
	tern_mailauth_free(&ctx->ma);
	tern__hdr_filter_clear(&ctx->strip);
	err = ternd_outbound_commit_async(d->ob, &ctx->queued, tern_smtp_session_event_base(s),
					  queued_done, ctx, &ctx->commit);
	if (err != 0) {
		ternd_log(TERN_LOG_WARNING, sid(s), "message not queued: %s", strerror(err));
		storage_reject(&reply, err);
		drop_message(d, ctx);
		tern_smtp_session_resume(s, &reply);
	}
}

/* The checks are done: refuse (DMARC p=reject), or store with the
 * Authentication-Results field on top, into Junk for a quarantine. */
static void finish_checked(tern_mailauth *ma, void *arg)
{
	struct session_ctx *ctx = arg;
	tern_smtp_session *s = ctx->session;
	const struct ternd_delivery *d = ctx->d;
	const struct tern_dmarc_outcome *dmarc = tern_mailauth_dmarc(ma);
	enum ternd_verdict verdict = ternd_checks_verdict(d->checks, ma);
	const char *field = NULL;
	size_t field_len = 0;
	tern_smtp_reply reply;
	int rc;

	if (tern_mailauth_header(ma, &field, &field_len) != 0) {
		field = NULL;
		field_len = 0;
	}
	if (field != NULL)
		ternd_log(TERN_LOG_INFO, sid(s), "%.*s", (int)(field_len >= 2 ? field_len - 2 : 0),
			  field);
	if (verdict == TERND_VERDICT_REJECT) {
		snprintf(ctx->reply_text, sizeof(ctx->reply_text),
			 "Message rejected by the DMARC policy of %s",
			 dmarc != NULL && dmarc->from_domain ? dmarc->from_domain : "its sender");
		ternd_log(TERN_LOG_INFO, sid(s), "DMARC reject: %s", ctx->reply_text);
		set_reply(&reply, 550, "5.7.1", ctx->reply_text);
		if (d->lmtp) {
			for (unsigned i = 0; i < tern_smtp_session_rcpt_count(s); i++)
				tern_smtp_session_set_rcpt_reply(s, i, &reply);
		}
		drop_message(d, ctx);
		tern_smtp_session_resume(s, &reply);
		return;
	}
	if (ctx->queued != NULL) {
		commit_checked_queued(s, ctx, verdict, field, field_len);
		return;
	}
	if (verdict == TERND_VERDICT_JUNK)
		maildir_msg_set_folder(ctx->msg, MAILDIR_JUNK_FOLDER);
	int err = maildir_msg_commit_headers(ctx->msg, !d->lmtp, field, field_len);
	snprintf(ctx->reply_text, sizeof(ctx->reply_text), "Message accepted as %s",
		 maildir_msg_basename(ctx->msg));
	rc = d->lmtp ? finish_lmtp(s, d, ctx, &reply) : finish_smtp(s, d, ctx, err, &reply);
	(void)rc;
	if (verdict == TERND_VERDICT_JUNK && err == 0)
		ternd_log(TERN_LOG_INFO, sid(s), "DMARC quarantine: stored in %s",
			  MAILDIR_JUNK_FOLDER);
	drop_message(d, ctx);
	tern_smtp_session_resume(s, &reply);
}

static void on_data_abort(tern_smtp_session *s, void *user_data)
{
	const struct ternd_delivery *d = user_data;
	struct session_ctx *ctx = tern_smtp_session_get_context(s);
	if (ctx == NULL)
		return;
	if (ctx->msg != NULL || ctx->queued != NULL || ctx->received != 0)
		ternd_log(TERN_LOG_INFO, sid(s), "message aborted, nothing stored");
	drop_message(d, ctx);
	ctx->msg_err = 0;
}

static void on_reset(tern_smtp_session *s, void *user_data)
{
	const struct ternd_delivery *d = user_data;
	struct session_ctx *ctx = tern_smtp_session_get_context(s);
	if (ctx != NULL && (ctx->msg != NULL || ctx->queued != NULL))
		drop_message(d, ctx);
}

static void on_close(tern_smtp_session *s, void *user_data)
{
	const struct ternd_delivery *d = user_data;
	struct session_ctx *ctx = tern_smtp_session_get_context(s);
	ternd_log(TERN_LOG_INFO, sid(s), "close after %u message%s",
		  tern_smtp_session_transaction_count(s),
		  tern_smtp_session_transaction_count(s) == 1 ? "" : "s");
	if (ctx != NULL) {
		ternd_auth_session_closed(&ctx->auth);
		drop_message(d, ctx);
		free(ctx);
		tern_smtp_session_set_context(s, NULL);
	}
}

static void on_log(tern_smtp_session *s, enum tern_smtp_log_level level, const char *msg,
		   void *user_data)
{
	ternd_log(level, s != NULL ? sid(s) : NULL, "%s", msg);
}

void ternd_delivery_install(struct ternd_delivery *d, tern_smtp_options *opts)
{
	opts->callbacks.on_connect = on_connect;
	opts->callbacks.on_helo = on_helo;
	opts->callbacks.on_mail_from = on_mail_from;
	opts->callbacks.on_rcpt_to = on_rcpt_to;
	opts->callbacks.on_data_start = on_data_start;
	opts->callbacks.on_data_chunk = on_data_chunk;
	opts->callbacks.on_data_end = on_data_end;
	opts->callbacks.on_data_abort = on_data_abort;
	opts->callbacks.on_reset = on_reset;
	opts->callbacks.on_close = on_close;
	opts->callbacks.on_log = on_log;
	opts->user_data = d;
}
