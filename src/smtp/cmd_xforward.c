/* XFORWARD (Postfix's XFORWARD_README):
 *   xforward-command = XFORWARD 1*( SP attribute-name"="attribute-value )
 *   attribute-name   = ( NAME | ADDR | PORT | PROTO | HELO | IDENT | SOURCE )
 *   attribute-value  = xtext
 * A content filter tells the MTA after it about the client of the MTA
 * before it, for logging and the Received: header. Only for xforward_from
 * networks. Also the session's XCLIENT/XFORWARD state (xclient.h): trust,
 * the forwarded attributes and their reset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/command.h"
#include "smtp/xattr.h"
#include "smtp/xclient.h"

struct tern__smtp_xstate *tern__smtp_xstate_get(tern_smtp_session *s)
{
	if (s->xstate == NULL)
		s->xstate = calloc(1, sizeof(*s->xstate));
	return s->xstate;
}

char *tern__smtp_address_literal(const char *addr, bool ipv6)
{
	size_t n = strlen(addr) + sizeof("[IPv6:]");
	char *lit = malloc(n);
	if (lit)
		snprintf(lit, n, ipv6 ? "[IPv6:%s]" : "[%s]", addr);
	return lit;
}

static void xforward_clear(struct tern__smtp_xstate *x)
{
	free(x->xf_name);
	free(x->xf_addr);
	free(x->xf_proto);
	free(x->xf_helo);
	free(x->xf_ident);
	free(x->xf_received);
	x->xf_name = x->xf_addr = x->xf_proto = x->xf_helo = x->xf_ident = NULL;
	x->xf_received = NULL;
	x->xf_ipv6 = false;
	x->xf_any = false;
	memset(&x->xf, 0, sizeof(x->xf));
}

void tern__smtp_xstate_free(struct tern__smtp_xstate **xp)
{
	struct tern__smtp_xstate *x = *xp;
	*xp = NULL;
	if (x == NULL)
		return;
	xforward_clear(x);
	free(x->xclient_received);
	free(x);
}

/* Looks both lists up the first time, while the session still has the
 * address the connection came from: XCLIENT calls this before it changes
 * the address, so the answer never depends on what a client claimed. */
static enum tern__xtrust trust(tern_smtp_session *s, bool xclient)
{
	struct tern__smtp_xstate *x = tern__smtp_xstate_get(s);
	if (x == NULL || s->cfg == NULL)
		return TERN__XTRUST_NO;
	if (x->xclient == TERN__XTRUST_UNKNOWN) {
		x->xclient = tern__cidr_list_match(&s->cfg->xclient_from, s->remote_address)
				     ? TERN__XTRUST_YES
				     : TERN__XTRUST_NO;
		x->xforward = tern__cidr_list_match(&s->cfg->xforward_from, s->remote_address)
				      ? TERN__XTRUST_YES
				      : TERN__XTRUST_NO;
	}
	return xclient ? x->xclient : x->xforward;
}

bool tern__smtp_xclient_trusted(tern_smtp_session *s)
{
	return s->cfg && s->cfg->xclient_from.n > 0 && trust(s, true) == TERN__XTRUST_YES;
}

bool tern__smtp_xforward_trusted(tern_smtp_session *s)
{
	return s->cfg && s->cfg->xforward_from.n > 0 && trust(s, false) == TERN__XTRUST_YES;
}

void tern__smtp_xforward_reset(tern_smtp_session *s)
{
	if (s->xstate)
		xforward_clear(s->xstate);
}

const tern_smtp_xforward *tern_smtp_session_xforward(const tern_smtp_session *s)
{
	return s && s->xstate && s->xstate->xf_any ? &s->xstate->xf : NULL;
}

const char *tern__smtp_received_client(const tern_smtp_session *s, const char **helo_r)
{
	*helo_r = NULL;
	if (s->xstate == NULL)
		return NULL;
	if (s->xstate->xf_received) {
		/* The forwarded client stands where the session's would:
		 * "from HELO (NAME [ADDR])", its HELO name, else its NAME. */
		*helo_r = s->xstate->xf_helo ? s->xstate->xf_helo : s->xstate->xf_name;
		return s->xstate->xf_received;
	}
	return s->xstate->xclient_received;
}

/* The attributes after this command, built aside: nothing changes unless
 * every allocation succeeded. */
struct xf_new {
	char *name, *addr, *proto, *helo, *ident, *received;
	bool ipv6;
	unsigned port;
	const char *source;
};

static void xf_new_free(struct xf_new *n)
{
	free(n->name);
	free(n->addr);
	free(n->proto);
	free(n->helo);
	free(n->ident);
	free(n->received);
}

/* new value: the attribute's if given ([UNAVAILABLE]: none), else the old. */
static bool pick(char **dst, const struct tern__xattr_value *v, const char *old)
{
	const char *src = v->set ? (v->unavailable ? NULL : v->text) : old;
	*dst = src ? strdup(src) : NULL;
	return src == NULL || *dst != NULL;
}

static bool build(struct tern__smtp_xstate *x, const struct tern__xattrs *a, struct xf_new *n)
{
	const struct tern__xattr_value *v = a->v;
	memset(n, 0, sizeof(*n));
	bool ok = pick(&n->name, &v[TERN__XATTR_NAME], x->xf_name) &&
		  pick(&n->addr, &v[TERN__XATTR_ADDR], x->xf_addr) &&
		  pick(&n->proto, &v[TERN__XATTR_PROTO], x->xf_proto) &&
		  pick(&n->helo, &v[TERN__XATTR_HELO], x->xf_helo) &&
		  pick(&n->ident, &v[TERN__XATTR_IDENT], x->xf_ident);
	n->ipv6 = v[TERN__XATTR_ADDR].set ? v[TERN__XATTR_ADDR].ipv6 : x->xf_ipv6;
	n->port = v[TERN__XATTR_PORT].set ? v[TERN__XATTR_PORT].port : x->xf.port;
	if (v[TERN__XATTR_SOURCE].set)
		n->source = v[TERN__XATTR_SOURCE].unavailable ? NULL
			    : strcmp(v[TERN__XATTR_SOURCE].text, "LOCAL") == 0 ? "LOCAL"
									       : "REMOTE";
	else
		n->source = x->xf.source;
	if (ok && (n->name || n->addr)) {
		/* RFC 5321 4.4 TCP-info: Domain FWS address-literal, or either. */
		char *lit = n->addr ? tern__smtp_address_literal(n->addr, n->ipv6) : NULL;
		size_t len = (n->name ? strlen(n->name) : 0) + (lit ? strlen(lit) : 0) + 2;
		n->received = (n->addr && !lit) ? NULL : malloc(len);
		if (n->received)
			snprintf(n->received, len, "%s%s%s", n->name ? n->name : "",
				 n->name && lit ? " " : "", lit ? lit : "");
		ok = n->received != NULL;
		free(lit);
	}
	if (!ok)
		xf_new_free(n);
	return ok;
}

static void commit(struct tern__smtp_xstate *x, struct xf_new *n, unsigned given)
{
	bool any = x->xf_any || given != 0;
	xforward_clear(x);
	x->xf_name = n->name;
	x->xf_addr = n->addr;
	x->xf_proto = n->proto;
	x->xf_helo = n->helo;
	x->xf_ident = n->ident;
	x->xf_received = n->received;
	x->xf_ipv6 = n->ipv6;
	x->xf = (tern_smtp_xforward){
		.name = n->name, .addr = n->addr, .port = n->port, .proto = n->proto,
		.helo = n->helo, .ident = n->ident, .source = n->source,
	};
	x->xf_any = any;
}

bool tern__smtp_xcommand_parse(tern_smtp_session *s, enum tern__xattr_cmd cmd, const char *args,
			       size_t len, struct tern__xattrs *a)
{
	bool xclient = cmd == TERN__XATTR_XCLIENT;
	const char *verb = xclient ? "XCLIENT" : "XFORWARD";
	struct tern__xattr_bad bad;

	if ((xclient ? s->cfg->xclient_from.n : s->cfg->xforward_from.n) == 0) {
		/* Nobody may use it here (the option is not set): as for any
		 * verb this server does not serve, RFC 5321 4.2.4's 502. */
		tern__smtp_reply_error(s, 502, "5.5.1", "Command not implemented");
		return false;
	}
	/* Postfix: "550 5.7.0 Error: insufficient authorization". Checked
	 * first (Postfix checks the transaction and the syntax before it), so
	 * a client that may not use the command learns nothing else. Trust
	 * comes from the address the connection came from, looked up before
	 * any XCLIENT changed it (xclient.h). */
	if (!(xclient ? tern__smtp_xclient_trusted(s) : tern__smtp_xforward_trusted(s))) {
		tern__smtp_reply_error(s, 550, "5.7.0", "Error: insufficient authorization");
		return false;
	}
	/* Not between MAIL and DOT or RSET (both READMEs). */
	if (s->tx.active) {
		tern__smtp_reply_error(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		return false;
	}
	/* "501 bad command parameter syntax", Postfix's texts; nothing of the
	 * session has changed. */
	switch (tern__xattr_parse(cmd, args, len, a, &bad)) {
	case TERN__XATTR_OK:
		return true;
	case TERN__XATTR_EEMPTY:
		tern__smtp_reply_error(s, 501, "5.5.4", "Syntax: %s attribute=value...", verb);
		return false;
	case TERN__XATTR_ESYNTAX:
		tern__smtp_reply_error(s, 501, "5.5.4", "Error: attribute=value expected");
		return false;
	case TERN__XATTR_ETOOLONG:
		tern__smtp_reply_error(s, 501, "5.5.4", "Error: attribute value too long");
		return false;
	case TERN__XATTR_EUNKNOWN:
		tern__smtp_reply_error(s, 501, "5.5.4", "Bad %s attribute name: %.*s", verb,
				       (int)(bad.len > 64 ? 64 : bad.len), args + bad.off);
		return false;
	default:
		tern__smtp_reply_error(s, 501, "5.5.4", "Bad %s syntax", tern__xattr_name(bad.id));
		return false;
	}
}

void tern__cmd_xforward(tern_smtp_session *s, const char *verb, char *args, size_t len)
{
	(void)verb;
	/* XFORWARD_README: "at any time except in the middle of a mail
	 * delivery transaction". */
	struct tern__xattrs a;
	if (!tern__smtp_xcommand_parse(s, TERN__XATTR_XFORWARD, args, len, &a))
		return;
	struct tern__smtp_xstate *x = tern__smtp_xstate_get(s);
	struct xf_new n;
	if (x == NULL || !build(x, &a, &n)) {
		tern__smtp_reply(s, 451, "4.3.0", "Out of memory");
		return;
	}
	unsigned given = 0;
	for (int i = 0; i < TERN__XATTR_COUNT; i++)
		given |= a.v[i].set ? 1u << i : 0;
	commit(x, &n, given);
	/* Postfix logs the forwarded client as orig_client=NAME[ADDR]. */
	tern__smtp_log(s, TERN_LOG_INFO, "xforward: orig_client=%s[%s]%s%s%s%s",
		       x->xf.name ? x->xf.name : "unknown", x->xf.addr ? x->xf.addr : "unknown",
		       x->xf.helo ? " helo=" : "", x->xf.helo ? x->xf.helo : "",
		       x->xf.ident ? " orig_queue_id=" : "", x->xf.ident ? x->xf.ident : "");
	tern__smtp_reply(s, 250, "2.0.0", "Ok");
}
