/* XCLIENT/XFORWARD attribute lists (see xattr.h). The wording quoted above
 * each check is Postfix's XCLIENT_README and XFORWARD_README. */
#include "smtp/xattr.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "util/address.h"
#include "util/xtext.h"

static const char *const names[TERN__XATTR_COUNT] = {
	"NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT", "IDENT", "SOURCE",
};

const char *tern__xattr_name(enum tern__xattr_id id)
{
	return (unsigned)id < TERN__XATTR_COUNT ? names[id] : "?";
}

/* "attribute-name = ( NAME | ADDR | PORT | PROTO | HELO | LOGIN | DESTADDR
 * | DESTPORT )" for XCLIENT, "( NAME | ADDR | PORT | PROTO | HELO | IDENT |
 * SOURCE )" for XFORWARD; "command and attribute names ... are in fact case
 * insensitive". */
static int lookup(enum tern__xattr_cmd cmd, const char *name, size_t len)
{
	static const unsigned xclient = 1u << TERN__XATTR_NAME | 1u << TERN__XATTR_ADDR |
					1u << TERN__XATTR_PORT | 1u << TERN__XATTR_PROTO |
					1u << TERN__XATTR_HELO | 1u << TERN__XATTR_LOGIN |
					1u << TERN__XATTR_DESTADDR | 1u << TERN__XATTR_DESTPORT;
	static const unsigned xforward = 1u << TERN__XATTR_NAME | 1u << TERN__XATTR_ADDR |
					 1u << TERN__XATTR_PORT | 1u << TERN__XATTR_PROTO |
					 1u << TERN__XATTR_HELO | 1u << TERN__XATTR_IDENT |
					 1u << TERN__XATTR_SOURCE;
	unsigned allowed = cmd == TERN__XATTR_XCLIENT ? xclient : xforward;
	for (int i = 0; i < TERN__XATTR_COUNT; i++)
		if ((allowed & 1u << i) && strlen(names[i]) == len &&
		    strncasecmp(names[i], name, len) == 0)
			return i;
	return -1;
}

/* "[UNAVAILABLE], [TEMPUNAVAIL] and IPV6: may be specified in upper case,
 * lower case or mixed case" (XCLIENT_README, note 2). */
static bool is_word(const char *v, const char *word)
{
	return strcasecmp(v, word) == 0;
}

/* Printable ASCII, no space: what an IDENT or a PROTO may hold. */
static bool printable_word(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return false;
	return true;
}

static void upper(char *v)
{
	for (; *v; v++)
		if (*v >= 'a' && *v <= 'z')
			*v = (char)(*v - 'a' + 'A');
}

/* "a numerical IPv4 network address, an IPv6 address prefixed with IPV6:
 * ... Address information is not enclosed with []." */
static bool address_value(struct tern__xattr_value *val)
{
	unsigned char buf[16];
	if (strncasecmp(val->text, "IPV6:", 5) == 0) {
		if (inet_pton(AF_INET6, val->text + 5, buf) != 1)
			return false;
		memmove(val->text, val->text + 5, strlen(val->text + 5) + 1);
		val->ipv6 = true;
		return true;
	}
	return inet_pton(AF_INET, val->text, buf) == 1;
}

/* "a ... TCP port number as a decimal number". */
static bool port_value(struct tern__xattr_value *val)
{
	unsigned long n = 0;
	size_t i = 0;
	for (; val->text[i]; i++) {
		if (val->text[i] < '0' || val->text[i] > '9' || i >= 5)
			return false;
		n = n * 10 + (unsigned long)(val->text[i] - '0');
	}
	if (i == 0 || n > 65535)
		return false;
	val->port = (unsigned)n;
	return true;
}

/* A host name: LDH labels, not an address literal and not an address
 * (Postfix: valid_hostname, and older versions also !valid_hostaddr). */
static bool hostname_value(const char *v, size_t len)
{
	unsigned char buf[16];
	return v[0] != '[' && tern__domain_valid(v, len, false) && inet_pton(AF_INET, v, buf) != 1;
}

static bool value_valid(enum tern__xattr_cmd cmd, enum tern__xattr_id id,
			struct tern__xattr_value *val, size_t len)
{
	const char *v = val->text;
	/* "[UNAVAILABLE] when the information is unavailable": every
	 * attribute but XCLIENT's PROTO ("either SMTP or ESMTP"). NAME has
	 * "[TEMPUNAVAIL] when hostname lookup failed due to a temporary
	 * error" too. */
	if ((is_word(v, "[UNAVAILABLE]") && !(cmd == TERN__XATTR_XCLIENT && id == TERN__XATTR_PROTO)) ||
	    (id == TERN__XATTR_NAME && is_word(v, "[TEMPUNAVAIL]"))) {
		val->unavailable = true;
		val->text[0] = '\0';
		return true;
	}
	switch (id) {
	case TERN__XATTR_NAME:
		/* XCLIENT: "a remote SMTP client hostname (not an SMTP client
		 * address)"; XFORWARD: "the up-stream hostname". */
		return hostname_value(v, len);
	case TERN__XATTR_ADDR:
	case TERN__XATTR_DESTADDR:
		return address_value(val);
	case TERN__XATTR_PORT:
	case TERN__XATTR_DESTPORT:
		return port_value(val);
	case TERN__XATTR_PROTO:
		if (cmd == TERN__XATTR_XCLIENT) {
			/* "The PROTO attribute specifies either SMTP or ESMTP." */
			if (!is_word(v, "SMTP") && !is_word(v, "ESMTP"))
				return false;
		} else if (len > 64 || !printable_word(v)) {
			/* XFORWARD: "an SMTP or non-SMTP protocol name of up
			 * to 64 characters". */
			return false;
		}
		upper(val->text);
		return true;
	case TERN__XATTR_HELO:
		/* "an SMTP HELO parameter value": the same lenient check
		 * as HELO/EHLO themselves (no controls, no spaces). */
		return tern__helo_name_valid(v, len);
	case TERN__XATTR_LOGIN:
		/* "a SASL login name": anything without controls (checked
		 * for every value by the caller). */
		return len > 0;
	case TERN__XATTR_IDENT:
		/* "a local message identifier on the up-stream host". */
		return printable_word(v);
	case TERN__XATTR_SOURCE:
		/* "LOCAL when the message was received from a source that is
		 * local with respect to the up-stream host ..., REMOTE for all
		 * other mail". */
		if (!is_word(v, "LOCAL") && !is_word(v, "REMOTE"))
			return false;
		upper(val->text);
		return true;
	case TERN__XATTR_COUNT:
		break;
	}
	return false;
}

int tern__xattr_parse(enum tern__xattr_cmd cmd, const char *args, size_t len,
		      struct tern__xattrs *out, struct tern__xattr_bad *bad_r)
{
	struct tern__xattr_bad bad_local;
	struct tern__xattr_bad *bad = bad_r ? bad_r : &bad_local;
	size_t i = 0, elements = 0;

	memset(out, 0, sizeof(*out));
	memset(bad, 0, sizeof(*bad));
	while (i < len) {
		if (args[i] == ' ') {
			i++;
			continue;
		}
		size_t start = i;
		while (i < len && args[i] != ' ')
			i++;
		const char *el = args + start;
		size_t el_len = i - start;
		const char *eq = memchr(el, '=', el_len);
		size_t name_len = eq ? (size_t)(eq - el) : el_len;
		bad->off = start;
		bad->len = name_len;
		elements++;
		/* Postfix: "501 5.5.4 Error: attribute=value expected". */
		if (!eq || name_len == 0 || eq + 1 == el + el_len)
			return TERN__XATTR_ESYNTAX;
		size_t raw_len = el_len - name_len - 1;
		int id = lookup(cmd, el, name_len);
		if (id < 0)
			return TERN__XATTR_EUNKNOWN;
		bad->id = (enum tern__xattr_id)id;
		/* Postfix: "501 5.5.4 Error: attribute value too long". The
		 * decoded value is never longer than the raw one. */
		if (raw_len > TERN__XATTR_VALUE_MAX)
			return TERN__XATTR_ETOOLONG;
		struct tern__xattr_value val = {.set = true};
		/* "Attribute values are xtext encoded as per RFC 1891." Unlike
		 * Postfix, a value that is not valid xtext is refused rather
		 * than taken raw (its fallback for clients before 2.3). */
		ssize_t n = tern__xtext_decode(eq + 1, raw_len, val.text, sizeof(val.text));
		if (n <= 0 || tern__has_control(val.text, (size_t)n) ||
		    !value_valid(cmd, (enum tern__xattr_id)id, &val, (size_t)n))
			return TERN__XATTR_EVALUE;
		out->v[id] = val; /* a repeated attribute: the last one counts */
	}
	return elements ? TERN__XATTR_OK : TERN__XATTR_EEMPTY;
}
