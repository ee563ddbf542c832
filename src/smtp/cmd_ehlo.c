/* EHLO, LHLO and HELO (RFC 5321 4.1.1.1, RFC 2033 4.1).
 *   ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
 *   helo = "HELO" SP Domain CRLF
 *   lhlo = "LHLO" SP ( Domain / address-literal ) CRLF
 * An accepted greeting resets the transaction as RSET does (4.1.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/command.h"
#include "util/address.h"

bool tern__smtp_ext(const tern_smtp_session *s, enum tern__smtp_ext ext)
{
	const tern_smtp_options *o = s->opts;
	if (s->helo_kind != TERN__HELO_EHLO && s->helo_kind != TERN__HELO_LHLO)
		return false;
	switch (ext) {
	case TERN__EXT_PIPELINING: return !o->hide_pipelining;
	case TERN__EXT_SIZE: return !o->hide_size;
	case TERN__EXT_8BITMIME: return !o->hide_8bitmime;
	case TERN__EXT_SMTPUTF8: return !o->hide_smtputf8;
	case TERN__EXT_ENHANCEDSTATUSCODES: return !o->hide_enhancedstatuscodes;
	case TERN__EXT_DSN: return !o->hide_dsn;
	case TERN__EXT_CHUNKING: return !o->hide_chunking;
	/* RFC 3030 3: BINARYMIME needs CHUNKING to carry it. */
	case TERN__EXT_BINARYMIME: return !o->hide_binarymime && !o->hide_chunking;
	/* RFC 8689 4: offered only on a TLS-protected session. */
	case TERN__EXT_REQUIRETLS: return s->secure && !o->hide_requiretls;
	/* RFC 3207 4: offered while TLS can still start. hide_starttls
	 * (smtp-server's hideSTARTTLS) only hides it: the command works. */
	case TERN__EXT_STARTTLS:
		return s->tls_available && !s->secure && !s->listener->hide_starttls;
	/* RFC 4954: what makes the AUTH= MAIL parameter valid. */
	case TERN__EXT_AUTH: return s->listener->auth_offered;
	}
	return false;
}

/* The first line of the reply: helo_response with "%s" replaced by our name
 * and then the client's host name (no printf: the text is configuration). */
static void first_line(const tern_smtp_session *s, char *out, size_t size)
{
	const char *fmt = s->cfg->helo_response ? s->cfg->helo_response : "%s Hello %s";
	const char *args[2] = {s->cfg->name, s->client_hostname};
	size_t n = 0, arg = 0;
	for (const char *p = fmt; *p && n + 1 < size; p++) {
		if (p[0] == '%' && (p[1] == 's' || p[1] == '%')) {
			const char *ins = p[1] == '%' ? "%" : (arg < 2 ? args[arg++] : "");
			size_t l = strlen(ins);
			if (l > size - 1 - n)
				l = size - 1 - n;
			memcpy(out + n, ins, l);
			n += l;
			p++;
			continue;
		}
		out[n++] = *p;
	}
	out[n] = '\0';
}

static void reply_ehlo(tern_smtp_session *s)
{
	char first[512], size[32], auth[256];
	const char *lines[16];
	size_t n = 0;
	first_line(s, first, sizeof(first));
	lines[n++] = first;
	if (tern__smtp_ext(s, TERN__EXT_PIPELINING))
		lines[n++] = "PIPELINING";
	if (tern__smtp_ext(s, TERN__EXT_SIZE)) {
		/* RFC 1870 4: "SIZE 0" would say there is no fixed limit. */
		snprintf(size, sizeof(size), "SIZE %llu", (unsigned long long)s->opts->size);
		lines[n++] = size;
	}
	if (tern__smtp_ext(s, TERN__EXT_8BITMIME))
		lines[n++] = "8BITMIME";
	if (tern__smtp_ext(s, TERN__EXT_SMTPUTF8))
		lines[n++] = "SMTPUTF8";
	if (tern__smtp_ext(s, TERN__EXT_ENHANCEDSTATUSCODES))
		lines[n++] = "ENHANCEDSTATUSCODES";
	if (tern__smtp_ext(s, TERN__EXT_DSN))
		lines[n++] = "DSN";
	if (tern__smtp_ext(s, TERN__EXT_CHUNKING))
		lines[n++] = "CHUNKING";
	if (tern__smtp_ext(s, TERN__EXT_BINARYMIME))
		lines[n++] = "BINARYMIME";
	if (tern__smtp_ext(s, TERN__EXT_STARTTLS))
		lines[n++] = "STARTTLS";
	if (tern__smtp_auth_ehlo(s, auth, sizeof(auth)) > 0)
		lines[n++] = auth;
	if (tern__smtp_ext(s, TERN__EXT_REQUIRETLS))
		lines[n++] = "REQUIRETLS";
	/* Postfix: "XCLIENT must not override its own access control": the
	 * keywords only where the connection's own address is trusted. */
	if (tern__smtp_xclient_trusted(s))
		lines[n++] = "XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT";
	if (tern__smtp_xforward_trusted(s))
		lines[n++] = "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE";
	tern__smtp_reply_lines(s, 250, NULL, lines, n);
}

void tern__cmd_helo_decided(tern_smtp_session *s, int decision, const tern_smtp_reply *r)
{
	char *name = s->pending_helo;
	s->pending_helo = NULL;
	if (!tern__smtp_decision_ok(decision, r)) {
		tern_smtp_reply def_ok = {250, "2.0.0", "OK"};
		tern_smtp_reply def_fail = {550, "5.7.1", "Greeting refused"};
		tern__smtp_reply_decision(s, decision, r, &def_ok, &def_fail);
		free(name);
		return;
	}
	tern__smtp_session_reset_tx(s);
	free(s->helo_name);
	s->helo_name = name;
	s->helo_kind = s->pending_helo_kind;
	tern__smtp_log(s, TERN_LOG_DEBUG, "%s %s",
		       s->helo_kind == TERN__HELO_HELO ? "HELO" :
		       s->helo_kind == TERN__HELO_LHLO ? "LHLO" : "EHLO", name);
	if (s->helo_kind == TERN__HELO_HELO) {
		char first[512];
		first_line(s, first, sizeof(first));
		const char *lines[1] = {first};
		tern__smtp_reply_lines(s, 250, NULL, lines, 1);
		return;
	}
	reply_ehlo(s);
}

static void greet(tern_smtp_session *s, const char *verb, char *args, size_t len,
		  enum tern__smtp_helo_kind kind)
{
	if (len == 0) {
		tern__smtp_reply_error(s, 501, "5.5.4", "Syntax: %s hostname", verb);
		return;
	}
	if (!tern__helo_name_valid(args, len)) {
		tern__smtp_reply_error(s, 501, "5.5.2", "Syntax error in %s hostname", verb);
		return;
	}
	free(s->pending_helo);
	s->pending_helo = strdup(args);
	if (!s->pending_helo) {
		tern__smtp_reply(s, 451, "4.3.0", "Out of memory");
		return;
	}
	s->pending_helo_kind = kind;
	tern_smtp_reply r = {0};
	int d = TERN_SMTP_ACCEPT;
	if (s->opts->callbacks.on_helo) {
		tern__smtp_decide_begin(s, TERN__WAIT_HELO);
		d = s->opts->callbacks.on_helo(s, args, &r, s->opts->user_data);
		d = tern__smtp_decide_end(s, d, &r);
	}
	if (d != TERN_SMTP_PENDING)
		tern__cmd_helo_decided(s, d, &r);
}

void tern__cmd_ehlo(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	greet(s, verb, args, len, s->opts->lmtp ? TERN__HELO_LHLO : TERN__HELO_EHLO);
}

void tern__cmd_helo(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	greet(s, verb, args, len, TERN__HELO_HELO);
}
