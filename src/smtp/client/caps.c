/* EHLO/LHLO capabilities (RFC 5321 4.1.1.1):
 *   ehlo-ok-rsp = "250" SP Domain [ SP ehlo-greet ] CRLF
 *               / ( "250-" Domain [ SP ehlo-greet ] CRLF
 *                   *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF )
 *   ehlo-line   = ehlo-keyword *( SP ehlo-param )
 * Keywords are case-insensitive. "AUTH=" is the pre-RFC 2554 form some
 * servers still send next to (or instead of) "AUTH". */
#include <string.h>
#include <strings.h>

#include "sasl/sasl.h"
#include "smtp/client/client.h"

static const struct {
	const char *kw;
	unsigned bit;
} simple[] = {
	{ "PIPELINING", TERN_SMTP_EXT_PIPELINING },
	{ "8BITMIME", TERN_SMTP_EXT_8BITMIME },
	{ "SMTPUTF8", TERN_SMTP_EXT_SMTPUTF8 },
	{ "CHUNKING", TERN_SMTP_EXT_CHUNKING },
	{ "BINARYMIME", TERN_SMTP_EXT_BINARYMIME },
	{ "DSN", TERN_SMTP_EXT_DSN },
	{ "ENHANCEDSTATUSCODES", TERN_SMTP_EXT_ENHANCEDSTATUSCODES },
	{ "STARTTLS", TERN_SMTP_EXT_STARTTLS },
	{ "REQUIRETLS", TERN_SMTP_EXT_REQUIRETLS },
};

static void auth_mechs(struct tern__smtpc_caps *caps, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && s[i] == ' ')
			i++;
		size_t start = i;
		while (i < len && s[i] != ' ')
			i++;
		if (i > start) {
			int m = tern__sasl_mech_lookup(s + start, i - start);
			if (m >= 0)
				caps->auth_mechs |= 1u << m;
		}
	}
	caps->ext |= TERN_SMTP_EXT_AUTH;
}

static void size_param(struct tern__smtpc_caps *caps, const char *s, size_t len)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < len && s[i] == ' ')
		i++;
	size_t start = i;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10) {
			v = 0; /* absurd: treat as no limit */
			break;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	caps->ext |= TERN_SMTP_EXT_SIZE;
	/* RFC 1870 4: "SIZE" alone or "SIZE 0" means no fixed limit. */
	caps->size_limit = i > start ? v : 0;
}

static void one_line(struct tern__smtpc_caps *caps, const char *s, size_t len)
{
	size_t kw = 0;
	while (kw < len && s[kw] != ' ' && s[kw] != '=')
		kw++;
	const char *rest = s + kw;
	size_t rlen = len - kw;
	if (kw == 4 && strncasecmp(s, "AUTH", 4) == 0) {
		auth_mechs(caps, rest + (rlen ? 1 : 0), rlen ? rlen - 1 : 0);
		return;
	}
	if (kw == 4 && strncasecmp(s, "SIZE", 4) == 0 && (rlen == 0 || rest[0] == ' ')) {
		size_param(caps, rest, rlen);
		return;
	}
	if (rlen && rest[0] == '=')
		return;
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (strlen(simple[i].kw) == kw && strncasecmp(s, simple[i].kw, kw) == 0)
			caps->ext |= simple[i].bit;
}

void tern__smtpc_caps_parse(struct tern__smtpc_caps *caps, const char *text, size_t len)
{
	memset(caps, 0, sizeof(*caps));
	const char *nl = memchr(text, '\n', len);
	if (!nl)
		return;
	size_t i = (size_t)(nl - text) + 1;
	while (i < len) {
		const char *e = memchr(text + i, '\n', len - i);
		size_t l = e ? (size_t)(e - (text + i)) : len - i;
		one_line(caps, text + i, l);
		i += l + 1;
	}
}
