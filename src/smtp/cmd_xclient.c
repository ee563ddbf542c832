/* XCLIENT (Postfix's XCLIENT_README):
 *   xclient-command = XCLIENT 1*( SP attribute-name"="attribute-value )
 *   attribute-name  = ( NAME | ADDR | PORT | PROTO | HELO | LOGIN |
 *                       DESTADDR | DESTPORT )
 *   attribute-value = xtext
 * A trusted proxy or test tool replaces the session's idea of its client;
 * the session then starts over as if that client had just connected: the
 * new on_connect decision is the reply (220, or its refusal). Only for
 * xclient_from networks; all the attributes apply, or none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/command.h"
#include "smtp/xattr.h"
#include "smtp/xclient.h"

/* The client's facts after the command, built aside first. */
struct xc_new {
	char *remote, *hostname, *local, *helo, *received;
	unsigned remote_port, local_port;
	enum tern__smtp_helo_kind helo_kind;
};

static void xc_new_free(struct xc_new *n)
{
	free(n->remote);
	free(n->hostname);
	free(n->local);
	free(n->helo);
	free(n->received);
}

static bool is_literal(const char *hostname)
{
	return hostname[0] == '[' || strcmp(hostname, "unknown") == 0;
}

static bool build(tern_smtp_session *s, const struct tern__xattrs *a, struct xc_new *n)
{
	const struct tern__xattr_value *v = a->v;
	const struct tern__xattr_value *addr = &v[TERN__XATTR_ADDR], *name = &v[TERN__XATTR_NAME];
	bool ipv6 = strchr(s->remote_address, ':') != NULL;
	memset(n, 0, sizeof(*n));

	/* ADDR: "[UNAVAILABLE] when address information is unavailable";
	 * Postfix then says "unknown", as we do. */
	const char *ra = s->remote_address;
	if (addr->set) {
		ra = addr->unavailable ? "unknown" : addr->text;
		ipv6 = addr->ipv6;
	}
	bool addr_known = strcmp(ra, "unknown") != 0;
	n->remote = strdup(ra);
	n->remote_port = s->remote_port;
	if (v[TERN__XATTR_PORT].set)
		n->remote_port = v[TERN__XATTR_PORT].port; /* [UNAVAILABLE]: 0 */

	/* NAME: "a remote SMTP client hostname ..., [UNAVAILABLE] when client
	 * hostname information is unavailable, or [TEMPUNAVAIL] when hostname
	 * lookup failed": without one the client is known by its address
	 * literal, as at connect. An attribute not given keeps its value
	 * (Postfix): a name stays with a new ADDR, a literal follows it. */
	const char *hn = NULL;
	if (name->set && !name->unavailable)
		hn = name->text;
	else if (!name->set && !is_literal(s->client_hostname))
		hn = s->client_hostname;
	char *lit = addr_known ? tern__smtp_address_literal(ra, ipv6) : strdup("unknown");
	n->hostname = hn ? strdup(hn) : lit;
	if (hn && lit && addr_known) {
		/* RFC 5321 4.4 TCP-info: "Domain FWS address-literal". */
		size_t len = strlen(hn) + strlen(lit) + 2;
		n->received = malloc(len);
		if (n->received)
			snprintf(n->received, len, "%s %s", hn, lit);
	}
	bool ok = n->remote && n->hostname && lit && (!hn || !addr_known || n->received);
	if (hn)
		free(lit);

	/* DESTADDR/DESTPORT: "a local SMTP server numerical IPv4 network
	 * address, an IPv6 address prefixed with IPV6:, or [UNAVAILABLE]". */
	const struct tern__xattr_value *da = &v[TERN__XATTR_DESTADDR];
	n->local = strdup(da->set ? (da->unavailable ? "unknown" : da->text) : s->local_address);
	n->local_port = s->local_port;
	if (v[TERN__XATTR_DESTPORT].set)
		n->local_port = v[TERN__XATTR_DESTPORT].port;
	ok = ok && n->local;

	/* HELO: "an SMTP HELO parameter value"; PROTO "either SMTP or
	 * ESMTP". Postfix keeps the HELO information "if it was specified in
	 * the XCLIENT command" and resets it otherwise; with it the session
	 * is where that greeting would have put it (PROTO=ESMTP: EHLO, its
	 * extensions in effect), and a later HELO/EHLO replaces it. */
	const struct tern__xattr_value *helo = &v[TERN__XATTR_HELO];
	if (helo->set && !helo->unavailable) {
		n->helo = strdup(helo->text);
		ok = ok && n->helo;
		if (s->opts->lmtp)
			n->helo_kind = TERN__HELO_LHLO;
		else if (v[TERN__XATTR_PROTO].set && strcmp(v[TERN__XATTR_PROTO].text, "ESMTP") == 0)
			n->helo_kind = TERN__HELO_EHLO;
		else
			n->helo_kind = TERN__HELO_HELO;
	}
	if (!ok)
		xc_new_free(n);
	return ok;
}

static void commit(tern_smtp_session *s, struct xc_new *n)
{
	struct tern__smtp_xstate *x = s->xstate;
	free(s->remote_address);
	free(s->client_hostname);
	free(s->local_address);
	free(s->helo_name);
	free(x->xclient_received);
	s->remote_address = n->remote;
	s->client_hostname = n->hostname;
	s->local_address = n->local;
	s->helo_name = n->helo;
	x->xclient_received = n->received;
	s->remote_port = n->remote_port;
	s->local_port = n->local_port;
	s->helo_kind = n->helo_kind;
}

void tern__cmd_xclient(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	/* XCLIENT_README: 550 for the untrusted, and "may be sent at any
	 * time, except in the middle of a mail delivery transaction". */
	struct tern__xattrs a;
	if (!tern__smtp_xcommand_parse(s, TERN__XATTR_XCLIENT, args, len, &a))
		return;
	struct xc_new n;
	if (!build(s, &a, &n)) {
		tern__smtp_reply(s, 451, "4.3.0", "Out of memory");
		return;
	}
	/* LOGIN: "a SASL login name"; Postfix sets it with the method
	 * XCLIENT and forgets any authentication when it is not given. */
	const struct tern__xattr_value *login = &a.v[TERN__XATTR_LOGIN];
	if (login->set && !login->unavailable) {
		if (tern__smtp_auth_set_external(s, login->text, "XCLIENT") < 0) {
			xc_new_free(&n);
			tern__smtp_reply(s, 451, "4.3.0", "Out of memory");
			return;
		}
	} else {
		tern__smtp_auth_reset(s);
	}
	char was[96];
	snprintf(was, sizeof(was), "%s:%u", s->remote_address, s->remote_port);
	/* The envelope cannot be open here; this clears the rest of it
	 * (body state, XFORWARD attributes) and tells on_reset nothing. */
	tern__smtp_session_reset_tx(s);
	commit(s, &n);
	free(s->pending_helo);
	s->pending_helo = NULL;
	tern__smtp_log(s, TERN_LOG_INFO, "xclient: client %s[%s]:%u (was %s)%s%s%s%s",
		       s->client_hostname, s->remote_address, s->remote_port, was,
		       s->helo_name ? " helo=" : "", s->helo_name ? s->helo_name : "",
		       login->set && !login->unavailable ? " login=" : "",
		       login->set && !login->unavailable ? login->text : "");
	/* Postfix: "when the client issues XCLIENT then we have to go back to
	 * initial server greeting stage" (smtpd.c): on_connect decides about
	 * the new client, and its answer is the reply to XCLIENT. Input read
	 * while that decision is pending waits for it (session.c: reconnected
	 * is no early talker). */
	s->reconnected = true;
	s->started = false;
	tern__smtp_session_start(s);
}
