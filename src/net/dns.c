/* DNS through libunbound on the loop's own event_base. See dns.h. */
#include "net/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unbound-event.h>
#include <unbound.h>

#include "tern/tern.h"

struct tern__dns {
	struct ub_ctx *ub;
	struct event_base *base;
	struct tern__dns_query *queries; /* running, a doubly linked list */
	bool forwarding;                 /* a server was given (tests, split horizon) */
	bool asked;                      /* a query went out: the config is final */
};

struct tern__dns_query {
	struct tern__dns_query *prev, *next;
	struct tern__dns *dns;
	int type;
	int async_id;            /* libunbound's; 0 once it answered */
	bool ub_running;         /* libunbound holds our pointer */
	bool have_answer;        /* parsed, waiting for the loop to deliver it */
	struct event timer;      /* the timeout, and the deferred delivery */
	struct tern__dns_answer answer;
	tern__dns_cb *cb;
	void *arg;
};

/* ---- names ------------------------------------------------------------ */

int tern__dns_addr_parse(const char *text, struct tern__dns_addr *a)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(a, 0, sizeof(*a));
	if (text == NULL)
		return TERN_EINVAL;
	if (inet_pton(AF_INET, text, a->bytes) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, a->bytes) != 1)
		return TERN_EINVAL;
	a->family = AF_INET6;
	if (memcmp(a->bytes, mapped, sizeof(mapped)) == 0) {
		memmove(a->bytes, a->bytes + 12, 4);
		memset(a->bytes + 4, 0, 12);
		a->family = AF_INET;
	}
	return 0;
}

int tern__dns_ptr_name(const char *address, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	struct tern__dns_addr a;
	size_t o = 0;
	int n;

	if (tern__dns_addr_parse(address, &a) != 0 || size < TERN__DNS_PTR_NAME_SIZE)
		return TERN_EINVAL;
	if (a.family == AF_INET) {
		/* RFC 1035 3.5: the octets in reverse order. */
		n = snprintf(buf, size, "%u.%u.%u.%u.in-addr.arpa", a.bytes[3], a.bytes[2],
			     a.bytes[1], a.bytes[0]);
		return n > 0 && (size_t)n < size ? 0 : TERN_EINVAL;
	}
	/* RFC 3596 2.5: every nibble, low-order first. */
	for (int i = 15; i >= 0; i--) {
		buf[o++] = hex[a.bytes[i] & 0xf];
		buf[o++] = '.';
		buf[o++] = hex[a.bytes[i] >> 4];
		buf[o++] = '.';
	}
	memcpy(buf + o, "ip6.arpa", sizeof("ip6.arpa"));
	return 0;
}

bool tern__dns_hostname_valid(const char *name, size_t len)
{
	size_t label = 0;
	bool digits_only = true;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? name[i] : '.';

		if (c == '.') {
			/* RFC 1123 2.1: 1..63 octets, no hyphen at either end. */
			if (label == 0 || label > 63 || name[i - 1] == '-')
				return false;
			label = 0;
			if (i < len)
				digits_only = true;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (!isdigit((unsigned char)c))
			digits_only = false;
		label++;
	}
	/* "192.0.2.1" as a PTR target would read as an address. */
	return !digits_only;
}

/* ---- answers ------------------------------------------------------------ */

void tern__dns_answer_clear(struct tern__dns_answer *a)
{
	for (size_t i = 0; a->names && i < a->n; i++)
		free(a->names[i]);
	for (size_t i = 0; a->mx && i < a->n; i++)
		free(a->mx[i].exchange);
	for (size_t i = 0; a->raw && i < a->n; i++)
		free(a->raw[i].data);
	free(a->names);
	free(a->addrs);
	free(a->mx);
	free(a->raw);
	memset(a, 0, sizeof(*a));
}

struct msg {
	const unsigned char *p;
	size_t len;
};

static unsigned get16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned long get32(const unsigned char *p)
{
	return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 |
	       p[3];
}

/* Reads the (possibly compressed, RFC 1035 4.1.4) name at *off into out as
 * text without the trailing dot ("" for the root), and moves *off past it.
 * Returns false for a malformed name. Every jump must go backwards, so a
 * loop of pointers cannot run forever. */
static bool read_name(const struct msg *m, size_t *off, char *out, size_t out_size)
{
	size_t pos = *off, o = 0, limit = *off;
	bool jumped = false;

	for (int labels = 0; labels < 128; labels++) {
		if (pos >= m->len)
			return false;
		unsigned c = m->p[pos];

		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= m->len)
				return false;
			size_t to = (c & 0x3f) << 8 | m->p[pos + 1];

			if (!jumped)
				*off = pos + 2;
			if (to >= limit)
				return false;
			limit = to;
			pos = to;
			jumped = true;
			continue;
		}
		if (c & 0xc0)
			return false; /* RFC 6891's extended labels: not in answers */
		if (c == 0) {
			if (!jumped)
				*off = pos + 1;
			out[o] = '\0';
			return true;
		}
		if (pos + 1 + c > m->len || o + c + 2 > out_size)
			return false;
		if (o > 0)
			out[o++] = '.';
		for (unsigned i = 0; i < c; i++) {
			unsigned char ch = m->p[pos + 1 + i];

			/* A dot or a control inside a label would change
			 * what the text says; such names are not host names
			 * and are refused whole. */
			if (ch == '.' || ch <= 0x20 || ch >= 0x7f)
				return false;
			out[o++] = (char)ch;
		}
		pos += 1 + c;
	}
	return false;
}

static bool name_eq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

/* Appends one record of the asked type to a. Returns 0, TERN_ENOMEM, or 1
 * for a malformed record. */
static int add_record(struct tern__dns_answer *a, const struct msg *m, size_t off, size_t rdlen)
{
	size_t n = a->n + 1;
	char name[TERN__DNS_NAME_SIZE + 2];

	switch (a->type) {
	case TERN__DNS_A:
	case TERN__DNS_AAAA: {
		size_t want = a->type == TERN__DNS_A ? 4 : 16;
		struct tern__dns_addr *v;

		if (rdlen != want)
			return 1;
		v = realloc(a->addrs, n * sizeof(*v));
		if (v == NULL)
			return TERN_ENOMEM;
		a->addrs = v;
		memset(&v[a->n], 0, sizeof(v[a->n]));
		v[a->n].family = a->type == TERN__DNS_A ? AF_INET : AF_INET6;
		memcpy(v[a->n].bytes, m->p + off, want);
		break;
	}
	case TERN__DNS_PTR: {
		size_t o = off;
		char **v;

		if (!read_name(m, &o, name, sizeof(name)) || o != off + rdlen)
			return 1;
		v = realloc(a->names, n * sizeof(*v));
		if (v == NULL)
			return TERN_ENOMEM;
		a->names = v;
		if ((v[a->n] = strdup(name)) == NULL)
			return TERN_ENOMEM;
		break;
	}
	case TERN__DNS_MX: {
		size_t o = off + 2;
		struct tern__dns_mx *v;

		if (rdlen < 3 || !read_name(m, &o, name, sizeof(name)) || o != off + rdlen)
			return 1;
		v = realloc(a->mx, n * sizeof(*v));
		if (v == NULL)
			return TERN_ENOMEM;
		a->mx = v;
		v[a->n].preference = get16(m->p + off);
		if ((v[a->n].exchange = strdup(name)) == NULL)
			return TERN_ENOMEM;
		break;
	}
	default: {
		struct tern__dns_rdata *v = realloc(a->raw, n * sizeof(*v));

		if (v == NULL)
			return TERN_ENOMEM;
		a->raw = v;
		v[a->n].len = rdlen;
		v[a->n].data = malloc(rdlen ? rdlen : 1);
		if (v[a->n].data == NULL)
			return TERN_ENOMEM;
		memcpy(v[a->n].data, m->p + off, rdlen);
		break;
	}
	}
	a->n = n;
	return 0;
}

int tern__dns_parse(struct tern__dns_answer *a, int type, const void *packet, size_t len,
		    int rcode, int sec)
{
	struct msg m = {packet, len};
	char qname[TERN__DNS_NAME_SIZE + 2], owner[TERN__DNS_NAME_SIZE + 2];
	char target[TERN__DNS_NAME_SIZE + 2];
	size_t off = 12;
	unsigned qd, an;
	int r;

	memset(a, 0, sizeof(*a));
	a->type = type;
	a->security = sec == 2 ? TERN__DNS_SECURE : sec == 1 ? TERN__DNS_BOGUS : TERN__DNS_INSECURE;
	a->status = TERN__DNS_TEMPFAIL;
	/* A bogus answer (its signatures fail under our trust anchors) is
	 * no answer at all, as a validating resolver's SERVFAIL: an
	 * attacker's records or denial must not be used as if unsigned
	 * (RFC 4035 5.5; RFC 7672 2.1.1 for DANE). libunbound hands the
	 * data over with rcode 0 and leaves this to us. */
	if (a->security == TERN__DNS_BOGUS)
		return 0;
	if (rcode == 3) {
		a->status = TERN__DNS_NXDOMAIN;
		return 0;
	}
	if (rcode != 0 || packet == NULL || len < 12)
		return 0;
	switch (m.p[3] & 0x0f) {
	case 0:
		break;
	case 3:
		a->status = TERN__DNS_NXDOMAIN;
		return 0;
	default:
		return 0; /* SERVFAIL, REFUSED, ...: try later */
	}
	qd = get16(m.p + 4);
	an = get16(m.p + 6);
	if (qd != 1 || !read_name(&m, &off, qname, sizeof(qname)) || off + 4 > len)
		return 0;
	off += 4;
	memcpy(target, qname, sizeof(target));
	/* Records in the order a server sends them: the CNAME chain, then
	 * the records of its end. One pass follows the chain as it goes; a
	 * chain sent out of order is taken as no data, which is safe. */
	for (unsigned i = 0; i < an; i++) {
		unsigned rtype, rclass;
		unsigned long ttl;
		size_t rdlen;

		if (!read_name(&m, &off, owner, sizeof(owner)) || off + 10 > len)
			goto malformed;
		rtype = get16(m.p + off);
		rclass = get16(m.p + off + 2);
		ttl = get32(m.p + off + 4);
		rdlen = get16(m.p + off + 8);
		off += 10;
		if (off + rdlen > len)
			goto malformed;
		if (rclass == 1 && name_eq(owner, target)) {
			if (rtype == 5 && type != 5) {
				size_t o = off;

				if (!read_name(&m, &o, target, sizeof(target)))
					goto malformed;
			} else if (rtype == (unsigned)type) {
				r = add_record(a, &m, off, rdlen);
				if (r == TERN_ENOMEM)
					return r;
				if (r != 0)
					goto malformed;
				if (a->n == 1 || ttl < a->ttl)
					a->ttl = (unsigned)(ttl > 0x7fffffff ? 0x7fffffff : ttl);
			}
		}
		off += rdlen;
	}
	a->status = a->n > 0 ? TERN__DNS_ANSWER : TERN__DNS_NODATA;
	return 0;
malformed:
	tern__dns_answer_clear(a);
	a->type = type;
	a->status = TERN__DNS_TEMPFAIL;
	return 0;
}

const char *tern__dns_status_name(enum tern__dns_status s)
{
	switch (s) {
	case TERN__DNS_ANSWER: return "answer";
	case TERN__DNS_NXDOMAIN: return "NXDOMAIN";
	case TERN__DNS_NODATA: return "no data";
	case TERN__DNS_TEMPFAIL: return "temporary failure";
	case TERN__DNS_TIMEOUT: return "timeout";
	}
	return "?";
}

/* ---- resolver ----------------------------------------------------------- */

/* Zones libunbound answers itself (RFC 6761, RFC 6303) that a forwarder
 * configured for tests or a split horizon must be asked about instead.
 * They are declared transparent (no local data: every query goes out),
 * which replaces the default zone; libunbound 1.17 still made the default
 * zone for test. with "nodefault". */
static const char *const forwarded_zones[] = {
	"test.",
	"invalid.",
	"127.in-addr.arpa.",
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	"ip6.arpa.",
};

static void set_err(char *err, size_t size, const char *what, int r)
{
	if (err != NULL && size > 0)
		snprintf(err, size, "%s: %s", what, ub_strerror(r));
}

bool tern__dns_server_valid(const char *server)
{
	char addr[INET6_ADDRSTRLEN];
	const char *at = server ? strchr(server, '@') : NULL;
	size_t len = at ? (size_t)(at - server) : server ? strlen(server) : 0;
	unsigned char bytes[16];

	if (server == NULL || len == 0 || len >= sizeof(addr))
		return false;
	memcpy(addr, server, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, bytes) != 1 && inet_pton(AF_INET6, addr, bytes) != 1)
		return false;
	if (at != NULL) {
		unsigned long port = 0;
		const char *p = at + 1;

		if (*p == '\0' || strlen(p) > 5)
			return false;
		for (; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return false;
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			return false;
	}
	return true;
}

static int configure(struct ub_ctx *ub, const char *server, char *err, size_t err_size)
{
	int r;

	if (server == NULL) {
		/* A missing resolv.conf means 127.0.0.1 (resolv.conf(5));
		 * a missing hosts file means no local names. Neither stops
		 * the server. */
		(void)ub_ctx_resolvconf(ub, NULL);
		(void)ub_ctx_hosts(ub, NULL);
		return 0;
	}
	if (!tern__dns_server_valid(server)) {
		if (err != NULL && err_size > 0)
			snprintf(err, err_size, "%s: not ADDR or ADDR@PORT", server);
		return TERN_EINVAL;
	}
	if ((r = ub_ctx_set_fwd(ub, server)) != 0) {
		set_err(err, err_size, server, r);
		return TERN_EINVAL;
	}
	if ((r = ub_ctx_set_option(ub, "do-not-query-localhost:", "no")) != 0 ||
	    (r = ub_ctx_set_option(ub, "unblock-lan-zones:", "yes")) != 0 ||
	    (r = ub_ctx_set_option(ub, "insecure-lan-zones:", "yes")) != 0) {
		set_err(err, err_size, "resolver option", r);
		return r == UB_NOMEM ? TERN_ENOMEM : TERN_EINVAL;
	}
	for (size_t i = 0; i < sizeof(forwarded_zones) / sizeof(forwarded_zones[0]); i++) {
		char v[128];

		snprintf(v, sizeof(v), "%s transparent", forwarded_zones[i]);
		if ((r = ub_ctx_set_option(ub, "local-zone:", v)) != 0) {
			set_err(err, err_size, "local-zone", r);
			return r == UB_NOMEM ? TERN_ENOMEM : TERN_EINVAL;
		}
	}
	return 0;
}

struct event_base *tern__dns_base(const struct tern__dns *dns)
{
	return dns->base;
}

int tern__dns_new(struct tern__dns **dns_r, struct event_base *base, const char *server,
		  char *err, size_t err_size)
{
	struct tern__dns *d;
	int r;

	*dns_r = NULL;
	if (base == NULL)
		return TERN_EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return TERN_ENOMEM;
	d->base = base;
	d->ub = ub_ctx_create_event(base);
	if (d->ub == NULL) {
		free(d);
		return TERN_ENOMEM;
	}
	d->forwarding = server != NULL;
	r = configure(d->ub, server, err, err_size);
	if (r != 0) {
		ub_ctx_delete(d->ub);
		free(d);
		return r;
	}
	*dns_r = d;
	return 0;
}

int tern__dns_add_trust_anchor(struct tern__dns *dns, const char *file, char *err,
				size_t err_size)
{
	int r;

	if (dns == NULL || file == NULL || dns->asked)
		return TERN_EINVAL;
	/* libunbound reads the file at its first query, where an error
	 * would fail every lookup: say it now. */
	if (access(file, R_OK) != 0) {
		if (err != NULL && err_size > 0)
			snprintf(err, err_size, "%s: %s", file, strerror(errno));
		return TERN_EINVAL;
	}
	if ((r = ub_ctx_add_ta_file(dns->ub, file)) != 0) {
		set_err(err, err_size, file, r);
		return r == UB_NOMEM ? TERN_ENOMEM : TERN_EINVAL;
	}
	/* The zones a forwarder answers in place of the real tree (test.,
	 * the loopback reverse zones) have no chain of trust from the root:
	 * under the root's anchor they would all be bogus. They count as
	 * unsigned, unless the file holds an anchor inside them (a signed
	 * test zone), which libunbound lets win. */
	for (size_t i = 0; dns->forwarding && i < sizeof(forwarded_zones) / sizeof(forwarded_zones[0]);
	     i++) {
		if ((r = ub_ctx_set_option(dns->ub, "domain-insecure:", forwarded_zones[i])) != 0) {
			set_err(err, err_size, "domain-insecure", r);
			return r == UB_NOMEM ? TERN_ENOMEM : TERN_EINVAL;
		}
	}
	return 0;
}

static void unlink_query(struct tern__dns_query *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		q->dns->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

/* Ends q and runs its callback (once). */
static void deliver(struct tern__dns_query *q)
{
	struct tern__dns_answer a = q->answer;
	tern__dns_cb *cb = q->cb;
	void *arg = q->arg;

	event_del(&q->timer);
	unlink_query(q);
	free(q);
	cb(&a, arg);
	tern__dns_answer_clear(&a);
}

static void on_ub_answer(void *arg, int rcode, void *packet, int len, int sec, char *why_bogus,
			 int was_ratelimited)
{
	struct tern__dns_query *q = arg;

	(void)why_bogus;
	(void)was_ratelimited;
	q->ub_running = false;
	q->async_id = 0;
	if (tern__dns_parse(&q->answer, q->type, packet, len > 0 ? (size_t)len : 0, rcode, sec) !=
	    0) {
		tern__dns_answer_clear(&q->answer);
		q->answer.type = q->type;
		q->answer.status = TERN__DNS_TEMPFAIL;
	}
	q->have_answer = true;
	/* Delivered from the loop, never from here: an answer known at once
	 * (cache, local data) comes inside ub_resolve_event (dns.h rule 1),
	 * and a callback that starts or cancels queries is better not run
	 * inside libunbound's own answer processing. */
	event_active(&q->timer, EV_TIMEOUT, 0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tern__dns_query *q = arg;

	(void)fd;
	(void)what;
	if (!q->have_answer) {
		if (q->ub_running)
			ub_cancel(q->dns->ub, q->async_id);
		q->ub_running = false;
		memset(&q->answer, 0, sizeof(q->answer));
		q->answer.type = q->type;
		q->answer.status = TERN__DNS_TIMEOUT;
	}
	deliver(q);
}

static bool query_name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return false;
		if (c == '.' && (i == 0 || name[i - 1] == '.'))
			return false;
	}
	return true;
}

int tern__dns_query(struct tern__dns *dns, const char *name, int type, unsigned timeout_ms,
		    tern__dns_cb *cb, void *arg, struct tern__dns_query **q_r)
{
	struct tern__dns_query *q;
	unsigned ms = timeout_ms ? timeout_ms : TERN__DNS_DEFAULT_TIMEOUT_MS;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	int r;

	if (q_r != NULL)
		*q_r = NULL;
	if (dns == NULL || cb == NULL || type <= 0 || type > 0xffff || !query_name_valid(name))
		return TERN_EINVAL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return TERN_ENOMEM;
	q->dns = dns;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	evtimer_assign(&q->timer, dns->base, on_timer, q);
	if (evtimer_add(&q->timer, &tv) != 0) {
		free(q);
		return TERN_ENOMEM;
	}
	q->next = dns->queries;
	if (q->next != NULL)
		q->next->prev = q;
	dns->queries = q;
	q->ub_running = true;
	dns->asked = true;
	r = ub_resolve_event(dns->ub, name, type, 1, q, on_ub_answer, &q->async_id);
	if (r != 0) {
		if (q->have_answer) {
			/* Answered, then failed: the answer stands. */
			tern__dns_answer_clear(&q->answer);
		}
		event_del(&q->timer);
		unlink_query(q);
		free(q);
		return r == UB_NOMEM ? TERN_ENOMEM : r == UB_SYNTAX ? TERN_EINVAL : TERN_EIO;
	}
	if (q_r != NULL)
		*q_r = q;
	return 0;
}

int tern__dns_query_ptr(struct tern__dns *dns, const char *address, unsigned timeout_ms,
			tern__dns_cb *cb, void *arg, struct tern__dns_query **q_r)
{
	char name[TERN__DNS_PTR_NAME_SIZE];

	if (q_r != NULL)
		*q_r = NULL;
	if (tern__dns_ptr_name(address, name, sizeof(name)) != 0)
		return TERN_EINVAL;
	return tern__dns_query(dns, name, TERN__DNS_PTR, timeout_ms, cb, arg, q_r);
}

static void query_drop(struct tern__dns_query *q)
{
	/* libunbound keeps the query running but never calls back a
	 * cancelled one (its event contexts only mark it). */
	if (q->ub_running)
		ub_cancel(q->dns->ub, q->async_id);
	event_del(&q->timer);
	tern__dns_answer_clear(&q->answer);
	unlink_query(q);
	free(q);
}

void tern__dns_cancel(struct tern__dns_query **qp)
{
	if (qp == NULL || *qp == NULL)
		return;
	query_drop(*qp);
	*qp = NULL;
}

void tern__dns_free(struct tern__dns **dp)
{
	struct tern__dns *d;

	if (dp == NULL || *dp == NULL)
		return;
	d = *dp;
	while (d->queries != NULL)
		query_drop(d->queries);
	ub_ctx_delete(d->ub);
	free(d);
	*dp = NULL;
}

/* ---- FCrDNS decisions --------------------------------------------------- */

int tern__dns_fcrdns_init(struct tern__dns_fcrdns *f, const char *address)
{
	memset(f, 0, sizeof(*f));
	return tern__dns_addr_parse(address, &f->client);
}

void tern__dns_fcrdns_clear(struct tern__dns_fcrdns *f)
{
	for (size_t i = 0; i < f->n_names; i++)
		free(f->names[i]);
	memset(f, 0, sizeof(*f));
}

static void decide(struct tern__dns_fcrdns *f, enum tern__dns_fcrdns_result r)
{
	f->done = true;
	f->result = r;
}

int tern__dns_fcrdns_ptr(struct tern__dns_fcrdns *f, const struct tern__dns_answer *a)
{
	if (f->done)
		return 0;
	switch (a->status) {
	case TERN__DNS_ANSWER:
		break;
	case TERN__DNS_NXDOMAIN:
	case TERN__DNS_NODATA:
		decide(f, TERN__FCRDNS_NO_NAME);
		return 0;
	case TERN__DNS_TIMEOUT:
		decide(f, TERN__FCRDNS_TIMEOUT);
		return 0;
	case TERN__DNS_TEMPFAIL:
	default:
		decide(f, TERN__FCRDNS_TEMPFAIL);
		return 0;
	}
	for (size_t i = 0; i < a->n && f->n_names < TERN__DNS_FCRDNS_MAX_NAMES; i++) {
		const char *n = a->names[i];
		bool dup = false;

		if (!tern__dns_hostname_valid(n, strlen(n)))
			continue;
		for (size_t j = 0; j < f->n_names; j++)
			dup |= strcasecmp(f->names[j], n) == 0;
		if (dup)
			continue;
		if ((f->names[f->n_names] = strdup(n)) == NULL)
			return TERN_ENOMEM;
		f->n_names++;
	}
	if (f->n_names == 0)
		decide(f, TERN__FCRDNS_NO_NAME);
	return 0;
}

const char *tern__dns_fcrdns_next(const struct tern__dns_fcrdns *f, int *type_r)
{
	if (f->done || f->next >= f->n_names)
		return NULL;
	*type_r = f->client.family == AF_INET ? TERN__DNS_A : TERN__DNS_AAAA;
	return f->names[f->next];
}

void tern__dns_fcrdns_forward(struct tern__dns_fcrdns *f, const struct tern__dns_answer *a)
{
	size_t len = f->client.family == AF_INET ? 4 : 16;

	if (f->done || f->next >= f->n_names)
		return;
	if (a->status == TERN__DNS_ANSWER && a->addrs != NULL) {
		for (size_t i = 0; i < a->n; i++) {
			if (a->addrs[i].family == f->client.family &&
			    memcmp(a->addrs[i].bytes, f->client.bytes, len) == 0) {
				f->hostname = f->names[f->next];
				decide(f, TERN__FCRDNS_CONFIRMED);
				return;
			}
		}
	} else if (a->status == TERN__DNS_TEMPFAIL || a->status == TERN__DNS_TIMEOUT) {
		f->tempfail = true;
	}
	/* This name does not lead back: the next one may. */
	if (++f->next < f->n_names)
		return;
	/* Deliberate compromise (as Postfix): a name that could not be
	 * checked makes the whole answer a temporary failure, not a
	 * mismatch, but either way the client is known by its address. */
	decide(f, f->tempfail ? TERN__FCRDNS_TEMPFAIL : TERN__FCRDNS_MISMATCH);
}

const char *tern__dns_fcrdns_result_name(enum tern__dns_fcrdns_result r)
{
	switch (r) {
	case TERN__FCRDNS_CONFIRMED: return "confirmed";
	case TERN__FCRDNS_NO_NAME: return "no name";
	case TERN__FCRDNS_MISMATCH: return "name does not resolve to the address";
	case TERN__FCRDNS_TEMPFAIL: return "temporary failure";
	case TERN__FCRDNS_TIMEOUT: return "timeout";
	}
	return "?";
}

/* ---- FCrDNS driver ------------------------------------------------------ */

struct tern__dns_fcrdns_lookup {
	struct tern__dns *dns;
	struct tern__dns_fcrdns f;
	struct tern__dns_query *q;  /* the query running, if any */
	struct event timer;         /* the whole lookup's deadline; delivery */
	unsigned timeout_ms;
	struct tern__dns_fcrdns_counters *counters;
	tern__dns_fcrdns_cb *cb;
	void *arg;
};

static void count(struct tern__dns_fcrdns_counters *c, enum tern__dns_fcrdns_result r)
{
	if (c == NULL)
		return;
	switch (r) {
	case TERN__FCRDNS_CONFIRMED: atomic_fetch_add(&c->confirmed, 1); break;
	case TERN__FCRDNS_NO_NAME: atomic_fetch_add(&c->no_name, 1); break;
	case TERN__FCRDNS_MISMATCH: atomic_fetch_add(&c->mismatch, 1); break;
	case TERN__FCRDNS_TEMPFAIL: atomic_fetch_add(&c->tempfail, 1); break;
	case TERN__FCRDNS_TIMEOUT: atomic_fetch_add(&c->timeout, 1); break;
	}
}

static void lookup_finish(struct tern__dns_fcrdns_lookup *l)
{
	tern__dns_fcrdns_cb *cb = l->cb;
	void *arg = l->arg;
	enum tern__dns_fcrdns_result r = l->f.result;
	char name[TERN__DNS_NAME_SIZE];
	bool have = r == TERN__FCRDNS_CONFIRMED && l->f.hostname != NULL;

	if (have)
		snprintf(name, sizeof(name), "%s", l->f.hostname);
	tern__dns_cancel(&l->q);
	event_del(&l->timer);
	count(l->counters, r);
	tern__dns_fcrdns_clear(&l->f);
	free(l);
	cb(r, have ? name : NULL, arg);
}

static void lookup_answer(const struct tern__dns_answer *a, void *arg);

/* Starts the next query, or finishes (l is then freed). */
static void lookup_step(struct tern__dns_fcrdns_lookup *l)
{
	int type = 0;
	const char *name = tern__dns_fcrdns_next(&l->f, &type);

	if (name != NULL && tern__dns_query(l->dns, name, type, l->timeout_ms, lookup_answer, l,
					    &l->q) != 0) {
		/* A name libunbound would not ask: skip it as unusable. */
		struct tern__dns_answer fail = {.status = TERN__DNS_TEMPFAIL, .type = type};

		tern__dns_fcrdns_forward(&l->f, &fail);
		lookup_step(l);
		return;
	}
	if (name == NULL) {
		if (!l->f.done)
			l->f.done = true; /* no name left without a decision: cannot happen */
		lookup_finish(l);
	}
}

static void lookup_answer(const struct tern__dns_answer *a, void *arg)
{
	struct tern__dns_fcrdns_lookup *l = arg;

	l->q = NULL; /* over (dns.h rule 5) */
	if (a->type == TERN__DNS_PTR) {
		if (tern__dns_fcrdns_ptr(&l->f, a) != 0 && !l->f.done) {
			l->f.done = true;
			l->f.result = TERN__FCRDNS_TEMPFAIL;
		}
	} else {
		tern__dns_fcrdns_forward(&l->f, a);
	}
	lookup_step(l);
}

static void lookup_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tern__dns_fcrdns_lookup *l = arg;

	(void)fd;
	(void)what;
	if (!l->f.done) {
		l->f.done = true;
		l->f.result = TERN__FCRDNS_TIMEOUT;
		l->f.hostname = NULL;
	}
	lookup_finish(l);
}

int tern__dns_fcrdns_start(struct tern__dns *dns, const char *address, unsigned timeout_ms,
			   struct tern__dns_fcrdns_counters *counters, tern__dns_fcrdns_cb *cb,
			   void *arg, struct tern__dns_fcrdns_lookup **l_r)
{
	struct tern__dns_fcrdns_lookup *l;
	unsigned ms = timeout_ms ? timeout_ms : TERN__DNS_DEFAULT_TIMEOUT_MS;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	int r;

	*l_r = NULL;
	if (dns == NULL || cb == NULL)
		return TERN_EINVAL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return TERN_ENOMEM;
	if (tern__dns_fcrdns_init(&l->f, address) != 0) {
		free(l);
		return TERN_EINVAL;
	}
	l->dns = dns;
	l->timeout_ms = ms;
	l->counters = counters;
	l->cb = cb;
	l->arg = arg;
	evtimer_assign(&l->timer, dns->base, lookup_timer, l);
	if (evtimer_add(&l->timer, &tv) != 0) {
		free(l);
		return TERN_ENOMEM;
	}
	if (counters != NULL)
		atomic_fetch_add(&counters->lookups, 1);
	r = tern__dns_query_ptr(dns, address, ms, lookup_answer, l, &l->q);
	if (r != 0) {
		/* Decided already; the callback still comes from the loop. */
		l->f.done = true;
		l->f.result = r == TERN_ENOMEM ? TERN__FCRDNS_TEMPFAIL : TERN__FCRDNS_NO_NAME;
		event_del(&l->timer);
		event_active(&l->timer, EV_TIMEOUT, 0);
	}
	*l_r = l;
	return 0;
}

void tern__dns_fcrdns_cancel(struct tern__dns_fcrdns_lookup **lp)
{
	struct tern__dns_fcrdns_lookup *l;

	if (lp == NULL || *lp == NULL)
		return;
	l = *lp;
	tern__dns_cancel(&l->q);
	event_del(&l->timer);
	if (l->counters != NULL)
		atomic_fetch_add(&l->counters->cancelled, 1);
	tern__dns_fcrdns_clear(&l->f);
	free(l);
	*lp = NULL;
}
