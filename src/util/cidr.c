/* CIDR networks; see cidr.h. inet_pton does the address syntax. */
#include "util/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

/* An address to 16 octets; IPv4 (and IPv4-mapped IPv6) as AF_INET. */
static bool addr_bytes(const char *text, uint8_t out[16], uint8_t *family_r)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, text, &a4) == 1) {
		memset(out, 0, 16);
		memcpy(out, &a4, 4);
		*family_r = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memset(out, 0, 16);
			memcpy(out, a6.s6_addr + 12, 4);
			*family_r = AF_INET;
		} else {
			memcpy(out, a6.s6_addr, 16);
			*family_r = AF_INET6;
		}
		return true;
	}
	return false;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == net[whole];
}

int tern__cidr_parse(struct tern__cidr *net, const char *text, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	unsigned long prefix;
	uint8_t max;

	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return TERN_EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash != NULL)
		buf[slash - buf] = '\0';
	memset(net, 0, sizeof(*net));
	if (!addr_bytes(buf, net->addr, &net->family))
		return TERN_EINVAL;
	/* "::ffff:10.0.0.0/104" would be IPv4 /8: keep it simple and refuse
	 * prefixes on mapped addresses rather than translate them. */
	max = net->family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		prefix = max;
	} else {
		char *end;
		const char *p = slash + 1;

		if (*p < '0' || *p > '9')
			return TERN_EINVAL;
		prefix = strtoul(p, &end, 10);
		if (*end != '\0' || prefix > max || (net->family == AF_INET && strchr(buf, ':')))
			return TERN_EINVAL;
	}
	net->prefix = (uint8_t)prefix;
	/* Host bits beyond the prefix must be zero. */
	for (unsigned bit = (unsigned)prefix; bit < max; bit++)
		if (net->addr[bit / 8] & (0x80 >> (bit % 8)))
			return TERN_EINVAL;
	return 0;
}

int tern__cidr_list_parse(struct tern__cidr_list *list, const char *const *items,
			  size_t *err_item)
{
	size_t count = 0;

	list->nets = NULL;
	list->n = 0;
	for (size_t i = 0; items && items[i]; i++) {
		count++;
		for (const char *p = items[i]; *p; p++)
			count += *p == ',';
	}
	if (count == 0)
		return 0;
	list->nets = calloc(count, sizeof(*list->nets));
	if (list->nets == NULL)
		return TERN_ENOMEM;
	for (size_t i = 0; items[i]; i++) {
		const char *s = items[i];

		for (;;) {
			const char *comma = strchr(s, ',');
			size_t len = comma ? (size_t)(comma - s) : strlen(s);

			if (tern__cidr_parse(&list->nets[list->n], s, len) != 0) {
				if (err_item)
					*err_item = i;
				tern__cidr_list_free(list);
				return TERN_EINVAL;
			}
			list->n++;
			if (comma == NULL)
				break;
			s = comma + 1;
		}
	}
	return 0;
}

void tern__cidr_list_free(struct tern__cidr_list *list)
{
	free(list->nets);
	list->nets = NULL;
	list->n = 0;
}

bool tern__cidr_list_match(const struct tern__cidr_list *list, const char *addr)
{
	uint8_t a[16], family;

	if (list == NULL || list->n == 0 || addr == NULL || !addr_bytes(addr, a, &family))
		return false;
	for (size_t i = 0; i < list->n; i++)
		if (list->nets[i].family == family && prefix_match(a, list->nets[i].addr,
								   list->nets[i].prefix))
			return true;
	return false;
}

bool tern__cidr_list_match_sa(const struct tern__cidr_list *list, const struct sockaddr *sa)
{
	char text[INET6_ADDRSTRLEN];

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof(text));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text,
			  sizeof(text));
	else
		return false;
	return tern__cidr_list_match(list, text);
}
