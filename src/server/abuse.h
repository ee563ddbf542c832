/* Abuse accounting by client network: one table per server, shared by every
 * worker thread (the "connections per client IP, connection rate,
 * failed AUTH per IP, a temporary ban list").
 *
 * A client network is an IPv4 address, or an IPv6 address cut to
 * ipv6_prefix bits (a /64 by default: one site's LAN, the smallest block a
 * provider hands out, so one host cannot escape by cycling through its own
 * /64). IPv4-mapped IPv6 addresses count as the IPv4 address.
 *
 * Each network has one entry: its open connections, a connection count in a
 * fixed window of TERN__ABUSE_RATE_WINDOW seconds, a failed-AUTH count in a
 * fixed window of TERN__ABUSE_AUTH_WINDOW seconds, and a ban with its own
 * expiry. A fixed window starts at the first event after the previous one
 * ran out; a client may thus get up to twice the limit across the boundary
 * of two windows: a compromise for one counter and one timestamp per entry.
 *
 * Bounded: at most max_entries entries (TERN__ABUSE_MAX_ENTRIES by default),
 * allocated once (untouched pages cost nothing). When every entry is in use,
 * entries with nothing left to remember (no connection open, windows and ban
 * run out) are swept out, at most once a second; if none is, a new network
 * is not tracked: its connection is admitted untracked (fail open, counted
 * in tern__abuse_untracked()) and a ban for it is refused with TERN_ELIMIT.
 * Failing open keeps an attacker who fills the table (an IPv6 /48 holds
 * 65,536 /64s) from locking everyone else out; the networks already in the
 * table, the abusive ones among them, stay limited.
 *
 * No clock here: every call takes `now` in seconds of a monotonic clock (the
 * server passes CLOCK_MONOTONIC, tests their own). One mutex guards the
 * table; every operation is a hash lookup under it (the sweep, when the
 * table is full, a pass over it). Nothing here blocks otherwise. */
#ifndef TERN_SERVER_ABUSE_H
#define TERN_SERVER_ABUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cidr.h"

#define TERN__ABUSE_MAX_ENTRIES 65536
#define TERN__ABUSE_RATE_WINDOW 60  /* s: max_conn_rate is per minute */
#define TERN__ABUSE_AUTH_WINDOW 600 /* s: max_auth_failures_per_ip per 10 minutes */
#define TERN__ABUSE_MAX_BAN (366u * 86400u)

struct tern__abuse_limits {
	unsigned max_per_ip;        /* open connections; 0: no limit */
	unsigned max_conn_rate;     /* connections per RATE_WINDOW; 0: no limit */
	unsigned max_auth_failures; /* per AUTH_WINDOW, then a ban; 0: no limit */
	unsigned ban_seconds;       /* the ban that follows; and ban(0) */
	unsigned ipv6_prefix;       /* 1..128 */
};

/* A client network: the address with the bits past the prefix zeroed. */
struct tern__abuse_key {
	uint8_t family; /* AF_INET, AF_INET6; 0: none (not an address) */
	uint8_t addr[16];
};

enum tern__abuse_verdict {
	TERN__ABUSE_OK,        /* admitted and counted: call disconnect at its end */
	TERN__ABUSE_UNTRACKED, /* admitted, not counted (exempt, no address, table full) */
	TERN__ABUSE_TOO_MANY,  /* max_per_ip connections open already */
	TERN__ABUSE_TOO_FAST,  /* over max_conn_rate this minute */
	TERN__ABUSE_BANNED,    /* banned (ban() or failed AUTH) */
};

struct tern__abuse;

/* Makes a table. exempt: networks never limited, counted or refused (NULL
 * or empty: none); parsed here, the strings are not kept. max_entries 0:
 * TERN__ABUSE_MAX_ENTRIES. Returns 0, TERN_EINVAL (a limit out of range,
 * a bad network: *bad_r gets its index) or TERN_ENOMEM. */
int tern__abuse_new(struct tern__abuse **a_r, const struct tern__abuse_limits *limits,
		    const char *const *exempt, size_t max_entries, size_t *bad_r);
void tern__abuse_free(struct tern__abuse **a);

/* The network of a numeric address. Returns false (key->family 0) for text
 * that is no address (a test's "unknown") and for an exempt one: neither
 * is counted. */
bool tern__abuse_key(struct tern__abuse *a, const char *addr, struct tern__abuse_key *key);

/* Replaces the limits and the exempt list (tern_smtp_server_reconfigure()),
 * from any thread. Entries keep what they counted: an open connection
 * stays counted under the key it was given when it came, and is released
 * under it. A new ipv6_prefix applies to clients from now on. Returns 0 or
 * the errors of tern__abuse_new() (nothing changed then). */
int tern__abuse_set_limits(struct tern__abuse *a, const struct tern__abuse_limits *limits,
			   const char *const *exempt, size_t *bad_r);

/* A connection from key's network: counts it in the rate window (refused
 * ones too: a client hammering the port stays refused until it slows
 * down) and, when admitted, as open. Checks in this order: ban, rate,
 * open connections. */
enum tern__abuse_verdict tern__abuse_connect(struct tern__abuse *a,
					     const struct tern__abuse_key *key, uint64_t now);
/* A connection connect() answered TERN__ABUSE_OK with has ended. */
void tern__abuse_disconnect(struct tern__abuse *a, const struct tern__abuse_key *key);

/* A failed AUTH from key's network. Returns true when the network is
 * banned now (this failure reached max_auth_failures, or it was already). */
bool tern__abuse_auth_failed(struct tern__abuse *a, const struct tern__abuse_key *key,
			     uint64_t now);
bool tern__abuse_banned(struct tern__abuse *a, const struct tern__abuse_key *key, uint64_t now);

/* Bans key's network for seconds (0: ban_seconds), replacing any ban it
 * had. Returns 0, TERN_EINVAL (seconds over TERN__ABUSE_MAX_BAN, no key)
 * or TERN_ELIMIT (the table is full). */
int tern__abuse_ban(struct tern__abuse *a, const struct tern__abuse_key *key, unsigned seconds,
		    uint64_t now);
/* Lifts the ban and forgets the failed AUTH count. Returns true if the
 * network was banned. */
bool tern__abuse_unban(struct tern__abuse *a, const struct tern__abuse_key *key, uint64_t now);

/* The clock the server passes: CLOCK_MONOTONIC, in seconds. */
uint64_t tern__abuse_clock(void);

/* For tests and logs. */
size_t tern__abuse_entries(struct tern__abuse *a);
uint64_t tern__abuse_untracked(struct tern__abuse *a);
unsigned tern__abuse_open(struct tern__abuse *a, const struct tern__abuse_key *key);
struct tern__abuse_limits tern__abuse_limits(struct tern__abuse *a);

#endif
