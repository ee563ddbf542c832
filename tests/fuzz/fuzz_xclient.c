/* libFuzzer target: the XCLIENT/XFORWARD attribute parser (src/smtp/xattr.c).
 * The first octet picks the command; the rest is the text after the verb.
 * Besides crashes it checks what the command files rely on: an accepted
 * list holds only values its attribute allows (no control octet, within
 * the length limit, addresses that parse, ports in range, PROTO and SOURCE
 * from their sets), only attributes the command has, and an error points
 * inside the input. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/xattr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	enum tern__xattr_cmd cmd = data[0] & 1 ? TERN__XATTR_XFORWARD : TERN__XATTR_XCLIENT;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	struct tern__xattrs a;
	struct tern__xattr_bad bad;
	int e = tern__xattr_parse(cmd, in, len, &a, &bad);
	if (e != TERN__XATTR_OK) {
		check(e > 0 && e <= TERN__XATTR_EVALUE);
		check(bad.off <= len && bad.len <= len - bad.off);
		return 0;
	}
	bool any = false;
	for (int i = 0; i < TERN__XATTR_COUNT; i++) {
		const struct tern__xattr_value *v = &a.v[i];
		if (!v->set) {
			check(!v->unavailable);
			continue;
		}
		any = true;
		bool xclient_only = i == TERN__XATTR_LOGIN || i == TERN__XATTR_DESTADDR ||
				    i == TERN__XATTR_DESTPORT;
		bool xforward_only = i == TERN__XATTR_IDENT || i == TERN__XATTR_SOURCE;
		check(cmd == TERN__XATTR_XCLIENT ? !xforward_only : !xclient_only);
		size_t n = strnlen(v->text, sizeof(v->text));
		check(n < sizeof(v->text));
		for (size_t k = 0; k < n; k++)
			check((unsigned char)v->text[k] >= 0x20 && v->text[k] != 0x7f);
		if (v->unavailable) {
			check(n == 0);
			check(!(cmd == TERN__XATTR_XCLIENT && i == TERN__XATTR_PROTO));
			continue;
		}
		unsigned char buf[16];
		switch (i) {
		case TERN__XATTR_ADDR:
		case TERN__XATTR_DESTADDR:
			check(inet_pton(v->ipv6 ? AF_INET6 : AF_INET, v->text, buf) == 1);
			break;
		case TERN__XATTR_PORT:
		case TERN__XATTR_DESTPORT:
			check(v->port <= 65535);
			break;
		case TERN__XATTR_PROTO:
			if (cmd == TERN__XATTR_XCLIENT)
				check(strcmp(v->text, "SMTP") == 0 || strcmp(v->text, "ESMTP") == 0);
			else
				check(n > 0 && n <= 64);
			break;
		case TERN__XATTR_SOURCE:
			check(strcmp(v->text, "LOCAL") == 0 || strcmp(v->text, "REMOTE") == 0);
			break;
		case TERN__XATTR_NAME:
		case TERN__XATTR_HELO:
			check(n > 0 && strchr(v->text, ' ') == NULL);
			break;
		default:
			check(n > 0);
			break;
		}
	}
	check(any);
	return 0;
}
