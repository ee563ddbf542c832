/* GS2 header and saslname (RFC 5802 7):
 *   gs2-cbind-flag  = ("p=" cb-name) / "n" / "y"
 *   gs2-header      = gs2-cbind-flag "," [ authzid ] ","
 *   authzid         = "a=" saslname
 *   cb-name         = 1*(ALPHA / DIGIT / "." / "-")
 *   saslname        = 1*(value-safe-char / "=2C" / "=3D")
 *   value-safe-char = UTF8-char except NUL, "=", ","  */
#include "sasl/gs2.h"

#include <string.h>

#include "sasl/prep.h"

static int is_cb_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-';
}

int tern__sasl_gs2_parse(const unsigned char *in, size_t len, struct tern__sasl_gs2 *h)
{
	size_t i = 0;

	memset(h, 0, sizeof(*h));
	if (len < 1)
		return -1;
	if (in[0] == 'n' || in[0] == 'y') {
		h->flag = (char)in[0];
		i = 1;
	} else if (in[0] == 'p') {
		if (len < 2 || in[1] != '=')
			return -1;
		h->flag = 'p';
		i = 2;
		h->cb_name = in + i;
		while (i < len && is_cb_char(in[i]))
			i++;
		h->cb_name_len = (size_t)(in + i - h->cb_name);
		if (h->cb_name_len == 0)
			return -1;
	} else {
		return -1;
	}
	if (i >= len || in[i] != ',')
		return -1;
	i++;
	if (i < len && in[i] == 'a') {
		if (i + 1 >= len || in[i + 1] != '=')
			return -1;
		i += 2;
		h->authzid = in + i;
		while (i < len && in[i] != ',')
			i++;
		h->authzid_len = (size_t)(in + i - h->authzid);
		if (h->authzid_len == 0)
			return -1;
	}
	if (i >= len || in[i] != ',')
		return -1;
	h->header_len = i + 1;
	return 0;
}

ssize_t tern__sasl_saslname_decode(const unsigned char *in, size_t len, char *out)
{
	size_t o = 0;

	if (len == 0 || !tern__sasl_utf8_ok(in, len))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == ',')
			return -1;
		if (in[i] == '=') {
			/* RFC 5802 5.1: "If the server receives a username that
			 * contains '=' not followed by either '2C' or '3D', then
			 * the server MUST fail the authentication." */
			if (len - i >= 3 && in[i + 1] == '2' && in[i + 2] == 'C')
				out[o++] = ',';
			else if (len - i >= 3 && in[i + 1] == '3' && in[i + 2] == 'D')
				out[o++] = '=';
			else
				return -1;
			i += 2;
			continue;
		}
		out[o++] = (char)in[i];
	}
	out[o] = '\0';
	return (ssize_t)o;
}

size_t tern__sasl_saslname_encode(const char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == ',') {
			memcpy(out + o, "=2C", 3);
			o += 3;
		} else if (in[i] == '=') {
			memcpy(out + o, "=3D", 3);
			o += 3;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
	return o;
}
