/* A server's counters (tern_smtp_server_stats), shared by the layers that
 * see the events: the server counts connections, the net layer TLS
 * handshakes, the SMTP engine sessions, messages, replies and AUTH, the
 * resolver its lookups (net/dns.h, its own struct).
 *
 * One set per server, reached through the config pointers the layers
 * already hold (the engine has no globals). Increments are relaxed atomics:
 * nothing orders by them, a reader sums them as they are, and there is no
 * lock on the hot path. Every pointer to a set may be NULL (a test's
 * session, an embedder's engine without a server): nothing is counted. */
#ifndef TERN_UTIL_STATS_H
#define TERN_UTIL_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* How a session ended (tern_smtp_stats.sessions_*). */
enum tern__stats_end {
	TERN__END_NONE = 0,   /* not decided yet */
	TERN__END_QUIT,       /* 221 to QUIT */
	TERN__END_GONE,       /* the client closed or the connection failed first */
	TERN__END_TIMEOUT,    /* 421 4.4.2: idle too long */
	TERN__END_CLOSED,     /* the server ended it: a closing reply (421 for a
			       * limit or error, 554 refusal), the embedder's
			       * close, a TLS refusal */
	TERN__END_SHUTDOWN,   /* 421 4.3.2: the server closing */
	TERN__END_BUSY,       /* started busy: counted as conn_busy, not here */
	TERN__END_MAX
};

/* RFC 3463 subjects, the second number of an enhanced code (X.n.x); 0
 * also holds replies without one. */
#define TERN__STATS_SUBJECTS 8

struct tern__stats {
	atomic_uint_fast64_t conn_accepted;
	atomic_uint_fast64_t conn_busy;
	atomic_uint_fast64_t ended[TERN__END_MAX];
	atomic_uint_fast64_t msg_accepted;
	atomic_uint_fast64_t msg_refused;
	atomic_uint_fast64_t msg_bytes;
	atomic_uint_fast64_t replies[2][TERN__STATS_SUBJECTS]; /* [4xx, 5xx][subject] */
	atomic_uint_fast64_t tls_ok;
	atomic_uint_fast64_t tls_failed;
	atomic_uint_fast64_t auth_ok;
	atomic_uint_fast64_t auth_failed;
	/* Connections refused by an abuse limit (server/abuse.h), by which:
	 * [0] max_per_ip, [1] max_conn_rate, [2] a ban. */
	atomic_uint_fast64_t abuse_refused[3];
};

static inline void tern__stats_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t tern__stats_get(const atomic_uint_fast64_t *c)
{
	return atomic_load_explicit((atomic_uint_fast64_t *)c, memory_order_relaxed);
}

/* Counts a 4xx or 5xx reply by its class and enhanced subject. */
static inline void tern__stats_reply(struct tern__stats *st, int code, const char *enhanced)
{
	unsigned subject = 0;

	if (st == NULL || code < 400 || code > 599)
		return;
	if (enhanced != NULL && enhanced[0] != '\0' && enhanced[1] == '.' && enhanced[2] >= '0' &&
	    enhanced[2] <= '7' && enhanced[3] == '.')
		subject = (unsigned)(enhanced[2] - '0');
	tern__stats_add(&st->replies[code >= 500][subject], 1);
}

#endif
