/* Message preparation: the extension rules decided before MAIL, and the
 * MAIL FROM / RCPT TO lines with their parameters.
 *   RFC 1870 6     SIZE: a message over the peer's limit is not sent.
 *   RFC 6152 3     8-bit data needs 8BITMIME, or conversion (the caller's).
 *   RFC 3030 3     BODY=BINARYMIME needs BINARYMIME and BDAT.
 *   RFC 6531 3.7.5 no SMTPUTF8 at the peer: ASCII local parts may go with
 *                  the domains as A-labels; UTF-8 local parts cannot go.
 *   RFC 8689 4.2   REQUIRETLS needs TLS and the peer's REQUIRETLS.
 *   RFC 3461 4.2   no DSN at the peer: drop NOTIFY/ORCPT/RET/ENVID; a
 *                  NOTIFY=SUCCESS recipient then gets a "relayed" DSN. */
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client/client.h"
#include "tern/tern.h"
#include "util/address.h"
#include "util/xtext.h"

static bool non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* The local part is what precedes the last "@" (a domain has none). */
static size_t local_len(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? (size_t)(at - addr) : strlen(addr);
}

static bool local_non_ascii(const char *addr)
{
	size_t n = local_len(addr);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)addr[i] >= 0x80)
			return true;
	return false;
}

/* Checks addr as the path "<addr>" would be parsed by a server. */
int tern__smtpc_path_check(const char *addr, unsigned flags)
{
	size_t len = strlen(addr);
	if (len > 512 || tern__has_control(addr, len))
		return TERN_EINVAL;
	char in[520], out[520];
	in[0] = '<';
	memcpy(in + 1, addr, len);
	in[len + 1] = '>';
	size_t used = 0;
	int r = tern__path_parse(in, len + 2, flags | TERN__PATH_ALLOW_UTF8, out, sizeof(out), &used);
	return r == TERN__PATH_OK && used == len + 2 ? 0 : TERN_EINVAL;
}

/* addr with its domain as A-labels (RFC 5890) in *out_r (malloc'd).
 * Returns 0, 1 when the domain has no valid A-label form, or TERN_ENOMEM. */
static int to_alabel(const char *addr, char **out_r)
{
	*out_r = NULL;
	const char *at = strrchr(addr, '@');
	if (!at || !non_ascii(at + 1)) {
		*out_r = strdup(addr);
		return *out_r ? 0 : TERN_ENOMEM;
	}
	char *ace = NULL;
	/* Strict IDNA2008 (no UTS #46 mapping): an address carries U-labels
	 * already (RFC 6531 3.2); mapping could turn it into another domain
	 * (U+2163 into "iv"), so anything not a valid U-label is refused. */
	int rc = idn2_to_ascii_8z(at + 1, &ace, IDN2_NFC_INPUT | IDN2_NO_TR46);
	if (rc == IDN2_MALLOC)
		return TERN_ENOMEM;
	if (rc != IDN2_OK || !ace) {
		idn2_free(ace);
		return 1;
	}
	size_t ll = (size_t)(at - addr), al = strlen(ace);
	char *o = malloc(ll + 1 + al + 1);
	if (!o) {
		idn2_free(ace);
		return TERN_ENOMEM;
	}
	memcpy(o, addr, ll + 1);
	memcpy(o + ll + 1, ace, al + 1);
	idn2_free(ace);
	*out_r = o;
	return 0;
}

/* The address as it goes to this peer: with A-labels when downgrading.
 * Returns 0, 1 (no A-label form) or TERN_ENOMEM. */
static int addr_for_peer(const char *addr, bool downgrade, char **out_r)
{
	if (downgrade)
		return to_alabel(addr, out_r);
	*out_r = strdup(addr);
	return *out_r ? 0 : TERN_ENOMEM;
}

/* " KEY=" xtext(value) appended to b. */
static int xtext_param(struct tern__buf *b, const char *key, const char *prefix, const char *v)
{
	size_t len = strlen(v);
	char *enc = malloc(3 * len + 1);
	if (!enc)
		return TERN_ENOMEM;
	int r = tern__xtext_encode(v, len, enc, 3 * len + 1) < 0 ? TERN_EINVAL : 0;
	if (r == 0)
		r = tern__buf_printf(b, " %s=%s%s", key, prefix, enc);
	free(enc);
	return r;
}

static bool atom_ok(const char *s)
{
	if (!s[0])
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-'))
			return false;
	}
	return true;
}

static int validate(const tern_smtp_client_message *msg)
{
	if (!msg->from || !msg->rcpts || msg->n_rcpts == 0)
		return TERN_EINVAL;
	if (tern__smtpc_path_check(msg->from, TERN__PATH_ALLOW_NULL) < 0)
		return TERN_EINVAL;
	if (msg->envid && tern__has_control(msg->envid, strlen(msg->envid)))
		return TERN_EINVAL;
	for (size_t i = 0; i < msg->n_rcpts; i++)
		if (!tern__smtpc_rcpt_valid(&msg->rcpts[i]))
			return TERN_EINVAL;
	return 0;
}

bool tern__smtpc_rcpt_valid(const tern_smtp_client_rcpt *r)
{
	if (!r->address || tern__smtpc_path_check(r->address, TERN__PATH_ALLOW_POSTMASTER) < 0)
		return false;
	/* RFC 3461 4.1: NEVER stands alone. */
	if ((r->notify & TERN_SMTP_NOTIFY_NEVER) && (r->notify & ~TERN_SMTP_NOTIFY_NEVER))
		return false;
	if (r->notify & ~0xfu)
		return false;
	if (r->orcpt_type && (!atom_ok(r->orcpt_type) || !r->orcpt ||
			      tern__has_control(r->orcpt, strlen(r->orcpt))))
		return false;
	return true;
}

static void local_fail(tern_smtp_client_result *res, int code, const char *enh, const char *text,
		       enum tern_smtp_client_reason reason)
{
	/* An allocation failure leaves the code and reason, with no text. */
	(void)tern__smtpc_result_set(res, code, enh, text, reason);
}

static int rcpt_line(tern_smtp_client *c, const tern_smtp_client_rcpt *in, const char *addr,
		     bool dsn, struct tern__smtpc_rcpt *out)
{
	struct tern__buf b;
	tern__buf_init(&b, 0);
	int r = tern__buf_printf(&b, "RCPT TO:<%s>", addr);
	if (r == 0 && dsn && in->notify) {
		if (in->notify & TERN_SMTP_NOTIFY_NEVER) {
			r = tern__buf_printf(&b, " NOTIFY=NEVER");
		} else {
			const char *sep = " NOTIFY=";
			static const struct {
				unsigned bit;
				const char *name;
			} n[] = { { TERN_SMTP_NOTIFY_SUCCESS, "SUCCESS" },
				  { TERN_SMTP_NOTIFY_FAILURE, "FAILURE" },
				  { TERN_SMTP_NOTIFY_DELAY, "DELAY" } };
			for (size_t i = 0; r == 0 && i < 3; i++)
				if (in->notify & n[i].bit) {
					r = tern__buf_printf(&b, "%s%s", sep, n[i].name);
					sep = ",";
				}
		}
	}
	if (r == 0 && dsn && in->orcpt_type) {
		char *prefix = malloc(strlen(in->orcpt_type) + 2);
		if (!prefix) {
			r = TERN_ENOMEM;
		} else {
			strcpy(prefix, in->orcpt_type);
			strcat(prefix, ";");
			r = xtext_param(&b, "ORCPT", prefix, in->orcpt);
			free(prefix);
		}
	}
	if (r == 0)
		r = tern__buf_append(&b, "\r\n", 3);
	if (r < 0) {
		tern__buf_free(&b);
		return r;
	}
	out->line = b.data; /* off is 0: nothing was consumed */
	return 0;
}

int tern__smtpc_prepare(tern_smtp_client *c, const tern_smtp_client_message *msg)
{
	int r = validate(msg);
	if (r < 0)
		return r;
	struct tern__smtpc_txn *t = &c->txn;
	const struct tern__smtpc_caps *caps = &c->caps;
	t->rcpts = calloc(msg->n_rcpts, sizeof(*t->rcpts));
	if (!t->rcpts)
		return TERN_ENOMEM;
	t->n_rcpts = msg->n_rcpts;
	for (size_t i = 0; i < t->n_rcpts; i++)
		t->rcpts[i].res.text = t->rcpts[i].res.enhanced = "";
	tern__buf_init(&t->chunk, 0);
	t->bdat = (caps->ext & TERN_SMTP_EXT_CHUNKING) && !c->opts.no_chunking;
	bool dsn = caps->ext & TERN_SMTP_EXT_DSN;
	bool need_utf8 = msg->smtputf8 || non_ascii(msg->from);
	for (size_t i = 0; i < msg->n_rcpts; i++)
		need_utf8 = need_utf8 || non_ascii(msg->rcpts[i].address);
	bool downgrade = need_utf8 && !(caps->ext & TERN_SMTP_EXT_SMTPUTF8);

	/* Message-wide refusals, decided before MAIL. */
	if (msg->requiretls && (!c->secure || !(caps->ext & TERN_SMTP_EXT_REQUIRETLS)))
		local_fail(&t->res, 550, "5.7.30",
			   c->secure ? "REQUIRETLS not supported by the server"
				     : "REQUIRETLS needs a TLS session",
			   TERN_SMTP_CLIENT_R_REQUIRETLS);
	else if (msg->size && caps->size_limit && msg->size > caps->size_limit)
		local_fail(&t->res, 552, "5.3.4", "message larger than the server's SIZE limit",
			   TERN_SMTP_CLIENT_R_SIZE);
	else if (msg->body == TERN_SMTP_BODY_8BITMIME && !(caps->ext & TERN_SMTP_EXT_8BITMIME))
		local_fail(&t->res, 554, "5.6.3", "8-bit message needs conversion: no 8BITMIME",
			   TERN_SMTP_CLIENT_R_NEED_8BITMIME);
	else if (msg->body == TERN_SMTP_BODY_BINARYMIME &&
		 !((caps->ext & TERN_SMTP_EXT_BINARYMIME) && t->bdat))
		local_fail(&t->res, 554, "5.6.3",
			   "binary message needs conversion: no BINARYMIME with CHUNKING",
			   TERN_SMTP_CLIENT_R_NEED_BINARYMIME);
	else if (downgrade && local_non_ascii(msg->from))
		local_fail(&t->res, 553, "5.6.7", "UTF-8 sender address and no SMTPUTF8",
			   TERN_SMTP_CLIENT_R_SMTPUTF8);
	if (t->res.code) {
		t->have_res = true;
		return 0;
	}

	char *from = NULL;
	r = addr_for_peer(msg->from, downgrade, &from);
	if (r < 0)
		return r;
	if (r == 1) {
		local_fail(&t->res, 553, "5.1.7", "sender domain has no A-label form",
			   TERN_SMTP_CLIENT_R_IDN);
		t->have_res = true;
		return 0;
	}
	struct tern__buf b;
	tern__buf_init(&b, 0);
	r = tern__buf_printf(&b, "MAIL FROM:<%s>", from);
	free(from);
	if (r == 0 && msg->size && (caps->ext & TERN_SMTP_EXT_SIZE))
		r = tern__buf_printf(&b, " SIZE=%llu", (unsigned long long)msg->size);
	if (r == 0 && msg->body == TERN_SMTP_BODY_8BITMIME)
		r = tern__buf_printf(&b, " BODY=8BITMIME");
	if (r == 0 && msg->body == TERN_SMTP_BODY_BINARYMIME)
		r = tern__buf_printf(&b, " BODY=BINARYMIME");
	if (r == 0 && need_utf8 && !downgrade)
		r = tern__buf_printf(&b, " SMTPUTF8");
	if (r == 0 && msg->requiretls)
		r = tern__buf_printf(&b, " REQUIRETLS");
	if (r == 0 && dsn && msg->ret != TERN_SMTP_RET_UNSET)
		r = tern__buf_printf(&b, " RET=%s", msg->ret == TERN_SMTP_RET_FULL ? "FULL" : "HDRS");
	if (r == 0 && dsn && msg->envid)
		r = xtext_param(&b, "ENVID", "", msg->envid);
	if (r == 0)
		r = tern__buf_append(&b, "\r\n", 3);
	if (r < 0) {
		tern__buf_free(&b);
		return r;
	}
	t->mail_line = b.data;

	for (size_t i = 0; i < msg->n_rcpts; i++) {
		const tern_smtp_client_rcpt *in = &msg->rcpts[i];
		struct tern__smtpc_rcpt *out = &t->rcpts[i];
		out->res.notify_success_dropped = !dsn && (in->notify & TERN_SMTP_NOTIFY_SUCCESS);
		if (downgrade && local_non_ascii(in->address)) {
			local_fail(&out->res, 553, "5.6.7",
				   "UTF-8 recipient address and no SMTPUTF8",
				   TERN_SMTP_CLIENT_R_SMTPUTF8);
			out->done = true;
			continue;
		}
		char *addr = NULL;
		r = addr_for_peer(in->address, downgrade, &addr);
		if (r < 0)
			return r;
		if (r == 1) {
			local_fail(&out->res, 553, "5.1.2", "recipient domain has no A-label form",
				   TERN_SMTP_CLIENT_R_IDN);
			out->done = true;
			continue;
		}
		r = rcpt_line(c, in, addr, dsn, out);
		free(addr);
		if (r < 0)
			return r;
	}
	return 0;
}
