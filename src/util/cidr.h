/* Networks in CIDR notation ("192.0.2.0/24", "2001:db8::/32", "127.0.0.1")
 * and matching addresses against them: the trusted networks of PROXY,
 * XCLIENT and XFORWARD, and the per-network counting of abuse limits.
 * Pure functions, no I/O; a list is one allocation. */
#ifndef TERN_UTIL_CIDR_H
#define TERN_UTIL_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct tern__cidr {
	uint8_t family;    /* AF_INET or AF_INET6 */
	uint8_t prefix;    /* 0..32 or 0..128 */
	uint8_t addr[16];  /* network address, host bits zero; IPv4 in addr[0..3] */
};

struct tern__cidr_list {
	struct tern__cidr *nets;
	size_t n;
};

/* Parses one network: an address with an optional "/prefix" (IPv6 without
 * brackets). Host bits set beyond the prefix are refused (a typo more often
 * than not). Returns 0 or TERN_EINVAL. */
int tern__cidr_parse(struct tern__cidr *net, const char *text, size_t len);

/* Parses a NULL-terminated list of strings, each of which may itself be a
 * comma-separated list ("10.0.0.0/8,::1"); blanks around items are
 * allowed. An empty or NULL list gives an empty list. Returns 0, TERN_EINVAL
 * (err_item, when not NULL, gets the first bad item's index) or
 * TERN_ENOMEM. */
int tern__cidr_list_parse(struct tern__cidr_list *list, const char *const *items,
			  size_t *err_item);
void tern__cidr_list_free(struct tern__cidr_list *list);

/* The address (numeric text, or a sockaddr) is in one of the networks.
 * IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) match IPv4 networks. */
bool tern__cidr_list_match(const struct tern__cidr_list *list, const char *addr);
bool tern__cidr_list_match_sa(const struct tern__cidr_list *list, const struct sockaddr *sa);

#endif
