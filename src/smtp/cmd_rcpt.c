/* RCPT (RFC 5321 4.1.1.3, 4.1.2):
 *   rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 *          Forward-path ) [SP Rcpt-parameters] CRLF
 * Parameters: NOTIFY and ORCPT (RFC 3461 4.1, 4.2). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/command.h"
#include "smtp/params.h"
#include "util/address.h"
#include "util/esmtp_param.h"
#include "util/xtext.h"

#define MAX_PARAMS 8
#define ORCPT_MAX 500 /* RFC 3461 4.2: the parameter may be 500 characters */

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) */
static bool parse_notify(const char *v, size_t len, unsigned *notify_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {{"NEVER", TERN_SMTP_NOTIFY_NEVER},
		     {"SUCCESS", TERN_SMTP_NOTIFY_SUCCESS},
		     {"FAILURE", TERN_SMTP_NOTIFY_FAILURE},
		     {"DELAY", TERN_SMTP_NOTIFY_DELAY}};
	unsigned bits = 0;
	size_t i = 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && v[j] != ',')
			j++;
		bool found = false;
		for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
			if (strlen(words[w].name) == j - i && !strncasecmp(v + i, words[w].name, j - i)) {
				bits |= words[w].bit;
				found = true;
			}
		}
		if (!found)
			return false;
		i = j + 1;
	}
	if ((bits & TERN_SMTP_NOTIFY_NEVER) && bits != TERN_SMTP_NOTIFY_NEVER)
		return false; /* RFC 3461 4.1: NEVER stands alone */
	*notify_r = bits;
	return true;
}

/* ORCPT = addr-type ";" xtext; addr-type is an atom. type_buf and addr_buf
 * must hold value_len + 1 octets. */
static bool parse_orcpt(const struct tern__esmtp_param *p, char *type_buf, char *addr_buf)
{
	if (!p->value || p->value_len > ORCPT_MAX)
		return false;
	const char *semi = memchr(p->value, ';', p->value_len);
	if (!semi || semi == p->value)
		return false;
	size_t tl = (size_t)(semi - p->value);
	for (size_t i = 0; i < tl; i++) {
		char c = p->value[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	memcpy(type_buf, p->value, tl);
	type_buf[tl] = '\0';
	size_t xl = p->value_len - tl - 1;
	ssize_t n = tern__xtext_decode(semi + 1, xl, addr_buf, xl + 1);
	if (n <= 0)
		return false;
	/* Decoded text goes into DSNs later: no control characters. */
	return !tern__has_control(addr_buf, (size_t)n) && memchr(addr_buf, '\0', (size_t)n) == NULL;
}

void tern__cmd_rcpt_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r)
{
	tern_smtp_reply def_ok = {250, "2.1.5", "Recipient OK"};
	if (!tern__smtp_decision_ok(decision, r)) {
		tern__smtp_log(s, TERN_LOG_INFO, "recipient <%s> rejected",
			       s->tx.pending_rcpt->rcpt.address);
		tern_smtp_reply def_fail = {550, "5.1.1", "Recipient rejected"};
		tern__smtp_reply_decision(s, decision, r, &def_ok, &def_fail);
		tern__smtp_tx_drop_pending(&s->tx);
		return;
	}
	if (tern__smtp_tx_commit_rcpt(&s->tx) < 0) {
		tern__smtp_reply(s, 452, "4.3.1", "Out of memory, try again later");
		return;
	}
	s->rcpts_accepted++;
	tern__smtp_log(s, TERN_LOG_INFO, "rcpt to <%s>",
		       s->tx.rcpts[s->tx.rcpt_count - 1]->rcpt.address);
	tern__smtp_reply_decision(s, TERN_SMTP_ACCEPT, r, &def_ok, &def_ok);
}

static bool rcpt_params(tern_smtp_session *s, const char *in, size_t len, tern_smtp_rcpt *rc,
			char *type_buf, char *addr_buf)
{
	struct tern__esmtp_param params[MAX_PARAMS];
	size_t n = 0;
	if (!tern__smtp_split_params(s, in, len, params, MAX_PARAMS, &n))
		return false;
	bool notify_seen = false, orcpt_seen = false;
	for (size_t i = 0; i < n; i++) {
		const struct tern__esmtp_param *p = &params[i];
		bool is_notify = tern__esmtp_param_is(p, "NOTIFY");
		bool is_orcpt = tern__esmtp_param_is(p, "ORCPT");
		if (!is_notify && !is_orcpt) {
			tern__smtp_reply_error(s, 555, "5.5.4", "Unsupported RCPT parameter");
			return false;
		}
		if (!tern__smtp_ext(s, TERN__EXT_DSN)) {
			tern__smtp_reply_error(s, 555, "5.5.4", "RCPT parameter not supported in this session");
			return false;
		}
		bool ok;
		if (is_notify) {
			ok = !notify_seen && p->value &&
			     parse_notify(p->value, p->value_len, &rc->notify);
			notify_seen = true;
		} else {
			ok = !orcpt_seen && parse_orcpt(p, type_buf, addr_buf);
			orcpt_seen = true;
			rc->orcpt_type = type_buf;
			rc->orcpt = addr_buf;
		}
		if (!ok) {
			tern__smtp_reply_error(s, 501, "5.5.4", "Invalid RCPT parameter value");
			return false;
		}
	}
	return true;
}

void tern__cmd_rcpt(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	if (!s->tx.active) {
		tern__smtp_reply_error(s, 503, "5.5.1", "Bad sequence of commands: need MAIL first");
		return;
	}
	/* An abuse limit over all of the connection's transactions (the
	 * per-message one, max_recipients, is the 452 below). */
	if (s->opts->max_rcpts_per_conn != 0 && s->rcpts_accepted >= s->opts->max_rcpts_per_conn) {
		tern__smtp_log(s, TERN_LOG_INFO, "%u recipients in this session: the limit",
			       s->rcpts_accepted);
		tern__smtp_reply(s, 421, "4.7.0", "%s Too many recipients in this session",
				 s->cfg->name);
		return;
	}
	size_t off = 0;
	if (!tern__smtp_path_prefix(args, len, "TO:", &off)) {
		tern__smtp_reply_error(s, 501, "5.5.2", "Syntax: RCPT TO:<address>");
		return;
	}
	/* Scratch strings on the stack for ordinary lines (see cmd_mail.c). */
	char small[TERN__CMD_SCRATCH];
	char *block = 3 * (len + 1) <= sizeof(small) ? small : malloc(3 * (len + 1));
	if (block == NULL) {
		tern__smtp_reply(s, 451, "4.3.0", "Out of memory");
		return;
	}
	char *addr = block, *type_buf = block + len + 1, *orcpt_buf = block + 2 * (len + 1);
	unsigned flags = TERN__PATH_ALLOW_POSTMASTER;
	if (s->tx.mail.smtputf8)
		flags |= TERN__PATH_ALLOW_UTF8;
	size_t used = 0;
	int pr = tern__path_parse(args + off, len - off, flags, addr, len + 1, &used);
	off += used;
	tern_smtp_rcpt rc = {0};
	rc.address = addr;
	if (pr == TERN__PATH_EUTF8 && !s->tx.mail.smtputf8) {
		/* RFC 6531 3.4. */
		tern__smtp_reply_error(s, 553, "5.6.7", "Non-ASCII recipient address needs SMTPUTF8");
	} else if (pr != TERN__PATH_OK || (off < len && args[off] != ' ')) {
		tern__smtp_reply_error(s, 501, "5.1.3",
		    pr == TERN__PATH_ECONTROL ? "Control characters in recipient address"
					      : "Bad recipient address syntax");
	} else if (rcpt_params(s, args + off, len - off, &rc, type_buf, orcpt_buf)) {
		s->tx.rcpt_attempted = true;
		/* max_recipients 0 means "no policy limit", but memory still has
		 * one (Exim CVE-2020-28017 overflowed a counter at ~50M RCPTs). */
		unsigned max = s->opts->max_recipients ? s->opts->max_recipients : 100000;
		if (s->tx.rcpt_count >= max) {
			/* RFC 5321 4.5.3.1.10: 452, the client retries the rest. */
			tern__smtp_reply(s, 452, "4.5.3", "Too many recipients");
		} else if (tern__smtp_tx_set_pending_rcpt(&s->tx, &rc) < 0) {
			tern__smtp_reply(s, 451, "4.3.0", "Out of memory");
		} else {
			tern_smtp_reply r = {0};
			int d = TERN_SMTP_ACCEPT;
			if (s->opts->callbacks.on_rcpt_to) {
				tern__smtp_decide_begin(s, TERN__WAIT_RCPT);
				d = s->opts->callbacks.on_rcpt_to(s, &s->tx.pending_rcpt->rcpt, &r,
								  s->opts->user_data);
				d = tern__smtp_decide_end(s, d, &r);
			}
			if (d != TERN_SMTP_PENDING)
				tern__cmd_rcpt_decided(s, d, &r);
		}
	}
	if (block != small)
		free(block);
}
