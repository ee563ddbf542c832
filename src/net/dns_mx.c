/* MX hosts and addresses for outbound delivery: see net/dns_mx.h. */
#include "net/dns_mx.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "tern/tern.h"

int tern__mx_plan_init(struct tern__mx_plan *p, const char *domain)
{
	size_t len = domain != NULL ? strlen(domain) : 0;

	memset(p, 0, sizeof(*p));
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(p->domain) || !tern__dns_hostname_valid(domain, len))
		return TERN_EINVAL;
	memcpy(p->domain, domain, len);
	p->domain[len] = '\0';
	return 0;
}

static void decide(struct tern__mx_plan *p, enum tern__mx_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void decide(struct tern__mx_plan *p, enum tern__mx_status status, const char *fmt, ...)
{
	va_list ap;

	p->done = true;
	p->status = status;
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
}

static bool is_self(const char *name, const char *const *self)
{
	for (size_t i = 0; self != NULL && self[i] != NULL; i++)
		if (strcasecmp(name, self[i]) == 0)
			return true;
	return false;
}

/* xorshift64*: the shuffle needs spread, not secrecy. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(0x2545F4914F6CDD1D);
}

/* Sorts by preference (insertion sort: at most a few dozen records), then
 * shuffles each run of equal preferences (Fisher-Yates). */
static void order_hosts(struct tern__mx_host *h, size_t n, uint64_t seed)
{
	uint64_t s = seed ? seed : UINT64_C(0x9E3779B97F4A7C15);

	for (size_t i = 1; i < n; i++) {
		struct tern__mx_host t = h[i];
		size_t j = i;

		for (; j > 0 && h[j - 1].preference > t.preference; j--)
			h[j] = h[j - 1];
		h[j] = t;
	}
	for (size_t start = 0; start < n;) {
		size_t end = start + 1;

		while (end < n && h[end].preference == h[start].preference)
			end++;
		for (size_t i = end - 1; i > start; i--) {
			size_t j = start + (size_t)(next_random(&s) % (i - start + 1));
			struct tern__mx_host t = h[i];

			h[i] = h[j];
			h[j] = t;
		}
		start = end;
	}
}

/* Adds an MX host unless it is invalid or already there (the lower
 * preference wins). Returns false when the list is full. */
static bool add_host(struct tern__mx_host *h, size_t *n, size_t max, const char *name,
		     unsigned preference)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len >= TERN__DNS_NAME_SIZE || !tern__dns_hostname_valid(name, len))
		return true; /* skipped: nothing we could connect to */
	for (size_t i = 0; i < *n; i++) {
		if (strlen(h[i].name) == len && strncasecmp(h[i].name, name, len) == 0) {
			if (preference < h[i].preference)
				h[i].preference = preference;
			return true;
		}
	}
	if (*n == max)
		return false;
	memset(&h[*n], 0, sizeof(h[*n]));
	memcpy(h[*n].name, name, len);
	h[*n].name[len] = '\0';
	h[*n].preference = preference;
	(*n)++;
	return true;
}

void tern__mx_plan_mx(struct tern__mx_plan *p, const struct tern__dns_answer *mx,
		      const char *const *self, uint64_t seed)
{
	/* Room for more than we keep: the cut comes after sorting, so the
	 * best hosts are never the ones dropped. */
	struct tern__mx_host *all;
	size_t n = 0, max = TERN__MX_MAX_HOSTS * 4;
	unsigned loop_pref = 0;
	bool looped = false;

	if (p->done)
		return;
	switch (mx->status) {
	case TERN__DNS_NXDOMAIN:
		decide(p, TERN__MX_NO_DOMAIN, "domain %s does not exist (NXDOMAIN)", p->domain);
		return;
	case TERN__DNS_TEMPFAIL:
		decide(p, TERN__MX_TEMPFAIL, "cannot look up the MX of %s (%s)", p->domain,
		       tern__dns_status_name(mx->status));
		return;
	case TERN__DNS_TIMEOUT:
		decide(p, TERN__MX_TIMEOUT, "looking up the MX of %s took too long", p->domain);
		return;
	case TERN__DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain is its own host. A
		 * secure denial makes it a secure implicit MX (RFC 7672
		 * 2.2.1: DANE applies). */
		p->implicit = true;
		p->mx_secure = mx->security == TERN__DNS_SECURE;
		if (is_self(p->domain, self)) {
			decide(p, TERN__MX_LOOP, "mail for %s loops back to myself", p->domain);
			return;
		}
		add_host(p->hosts, &p->n_hosts, TERN__MX_MAX_HOSTS, p->domain, 0);
		return;
	case TERN__DNS_ANSWER:
		break;
	}
	p->mx_secure = mx->security == TERN__DNS_SECURE;
	/* RFC 7505 3: the null MX is the only record. */
	if (mx->n == 1 && mx->mx[0].exchange[0] == '\0') {
		decide(p, TERN__MX_NULL, "domain %s does not accept mail (null MX, RFC 7505)",
		       p->domain);
		return;
	}
	all = calloc(max, sizeof(*all));
	if (all == NULL) {
		decide(p, TERN__MX_TEMPFAIL, "out of memory planning delivery to %s", p->domain);
		return;
	}
	for (size_t i = 0; i < mx->n; i++)
		if (mx->mx[i].exchange[0] != '\0' &&
		    !add_host(all, &n, max, mx->mx[i].exchange, mx->mx[i].preference))
			break;
	for (size_t i = 0; i < n; i++) {
		if (is_self(all[i].name, self) && (!looped || all[i].preference < loop_pref)) {
			looped = true;
			loop_pref = all[i].preference;
		}
	}
	order_hosts(all, n, seed);
	for (size_t i = 0; i < n && p->n_hosts < TERN__MX_MAX_HOSTS; i++)
		if (!looped || all[i].preference < loop_pref)
			p->hosts[p->n_hosts++] = all[i];
	free(all);
	if (p->n_hosts == 0) {
		if (looped)
			decide(p, TERN__MX_LOOP, "mail for %s loops back to myself", p->domain);
		else
			decide(p, TERN__MX_NO_ADDRESS, "no valid MX host for %s", p->domain);
	}
}

static void decide_addresses(struct tern__mx_plan *p, bool timed_out)
{
	bool tempfail = false;
	size_t with = 0;

	for (size_t i = 0; i < p->n_hosts; i++) {
		const struct tern__mx_host *h = &p->hosts[i];

		with += h->n_v4 + h->n_v6 > 0;
		tempfail |= (h->v4_done && (h->v4_status == TERN__DNS_TEMPFAIL ||
					   h->v4_status == TERN__DNS_TIMEOUT)) ||
			    (h->v6_done && (h->v6_status == TERN__DNS_TEMPFAIL ||
					   h->v6_status == TERN__DNS_TIMEOUT)) ||
			    !h->v4_done || !h->v6_done;
	}
	if (with > 0) {
		p->done = true;
		p->status = TERN__MX_OK;
		snprintf(p->detail, sizeof(p->detail), "%zu of %zu host(s) for %s have addresses",
			 with, p->n_hosts, p->domain);
	} else if (timed_out) {
		decide(p, TERN__MX_TIMEOUT, "looking up the mail hosts of %s took too long",
		       p->domain);
	} else if (tempfail) {
		decide(p, TERN__MX_TEMPFAIL, "cannot look up the address of %s%s (%s)",
		       p->implicit ? "" : "MX host ", p->hosts[0].name,
		       tern__dns_status_name(p->hosts[0].v4_status == TERN__DNS_NODATA ||
						     p->hosts[0].v4_status == TERN__DNS_NXDOMAIN
					     ? p->hosts[0].v6_status
					     : p->hosts[0].v4_status));
	} else {
		decide(p, TERN__MX_NO_ADDRESS, "%s%s has no address (%s)",
		       p->implicit ? "domain " : "MX host ", p->hosts[0].name,
		       tern__dns_status_name(p->hosts[0].v4_status));
	}
}

void tern__mx_plan_addr(struct tern__mx_plan *p, size_t i, int type,
			const struct tern__dns_answer *a)
{
	struct tern__mx_host *h;
	bool all = true;

	if (p->done || i >= p->n_hosts)
		return;
	h = &p->hosts[i];
	if (type == TERN__DNS_A && !h->v4_done) {
		h->v4_done = true;
		h->v4_status = a->status;
		for (size_t k = 0; a->status == TERN__DNS_ANSWER && k < a->n; k++)
			if (a->addrs[k].family == AF_INET && h->n_v4 < TERN__MX_MAX_ADDRS)
				h->v4[h->n_v4++] = a->addrs[k];
	} else if (type == TERN__DNS_AAAA && !h->v6_done) {
		h->v6_done = true;
		h->v6_status = a->status;
		for (size_t k = 0; a->status == TERN__DNS_ANSWER && k < a->n; k++)
			if (a->addrs[k].family == AF_INET6 && h->n_v6 < TERN__MX_MAX_ADDRS)
				h->v6[h->n_v6++] = a->addrs[k];
	} else {
		return;
	}
	/* Secure only when both answers were. */
	h->insecure |= a->security != TERN__DNS_SECURE;
	h->secure = h->v4_done && h->v6_done && !h->insecure;
	for (size_t k = 0; k < p->n_hosts; k++)
		all &= p->hosts[k].v4_done && p->hosts[k].v6_done;
	if (all)
		decide_addresses(p, false);
}

void tern__mx_plan_timeout(struct tern__mx_plan *p)
{
	if (p->done)
		return;
	if (p->n_hosts == 0)
		decide(p, TERN__MX_TIMEOUT, "looking up the MX of %s took too long", p->domain);
	else
		decide_addresses(p, true);
}

const char *tern__mx_status_code(enum tern__mx_status status)
{
	switch (status) {
	case TERN__MX_OK: return NULL;
	case TERN__MX_NULL: return "5.1.10";    /* RFC 7505 4.2 */
	case TERN__MX_NO_DOMAIN: return "5.1.2"; /* RFC 3463: bad destination system */
	case TERN__MX_NO_ADDRESS: return "5.4.4"; /* unable to route */
	case TERN__MX_LOOP: return "5.4.6";      /* routing loop */
	case TERN__MX_TEMPFAIL:
	case TERN__MX_TIMEOUT: return "4.4.3";   /* directory server failure */
	}
	return "4.4.3";
}

bool tern__mx_status_permanent(enum tern__mx_status status)
{
	const char *code = tern__mx_status_code(status);

	return code != NULL && code[0] == '5';
}

/* ---- driver ---------------------------------------------------------- */

struct tern__mx_lookup {
	struct tern__dns *dns;
	struct tern__mx_plan plan;
	struct tern__dns_query *mx_q;
	struct tern__dns_query *addr_q[TERN__MX_MAX_HOSTS][2]; /* A, AAAA */
	struct event timer;   /* the deadline, and the deferred delivery */
	unsigned timeout_ms;
	char **self;          /* NULL-terminated copies */
	uint64_t seed;
	tern__mx_cb *cb;
	void *arg;
};

static void free_self(char **self)
{
	for (size_t i = 0; self != NULL && self[i] != NULL; i++)
		free(self[i]);
	free(self);
}

static void lookup_free(struct tern__mx_lookup *l)
{
	tern__dns_cancel(&l->mx_q);
	for (size_t i = 0; i < TERN__MX_MAX_HOSTS; i++)
		for (int f = 0; f < 2; f++)
			tern__dns_cancel(&l->addr_q[i][f]);
	event_del(&l->timer);
	free_self(l->self);
	free(l); /* the block it begins */
}

static void finish(struct tern__mx_lookup *l)
{
	tern__mx_cb *cb = l->cb;
	void *arg = l->arg;

	/* Cancel what still runs before the callback: the caller may free
	 * the resolver from it. */
	tern__dns_cancel(&l->mx_q);
	for (size_t i = 0; i < TERN__MX_MAX_HOSTS; i++)
		for (int f = 0; f < 2; f++)
			tern__dns_cancel(&l->addr_q[i][f]);
	event_del(&l->timer);
	cb(&l->plan, arg);
	free_self(l->self);
	free(l); /* the block it begins */
}

/* The refs live in a table inside the lookup, so a query's arg needs no
 * allocation of its own: index = host * 2 + family. */
static void addr_answer(const struct tern__dns_answer *a, void *arg);

struct addr_slot {
	struct tern__mx_lookup *l;
	unsigned index;
};

static struct addr_slot *slots_of(struct tern__mx_lookup *l);

/* Asks for every host's addresses; a query that cannot start counts as a
 * temporary failure. */
static void begin_addresses(struct tern__mx_lookup *l)
{
	struct tern__dns_answer failed = {.status = TERN__DNS_TEMPFAIL};

	for (size_t i = 0; !l->plan.done && i < l->plan.n_hosts; i++) {
		for (int f = 0; f < 2; f++) {
			struct addr_slot *s = &slots_of(l)[i * 2 + (size_t)f];
			int type = f == 0 ? TERN__DNS_A : TERN__DNS_AAAA;

			if (tern__dns_query(l->dns, l->plan.hosts[i].name, type, l->timeout_ms,
					    addr_answer, s, &l->addr_q[i][f]) != 0)
				tern__mx_plan_addr(&l->plan, i, type, &failed);
		}
	}
}

static void mx_answer(const struct tern__dns_answer *a, void *arg)
{
	struct tern__mx_lookup *l = arg;

	l->mx_q = NULL;
	tern__mx_plan_mx(&l->plan, a, (const char *const *)l->self, l->seed);
	begin_addresses(l);
	if (l->plan.done)
		finish(l);
}

static void addr_answer(const struct tern__dns_answer *a, void *arg)
{
	struct addr_slot *s = arg;
	struct tern__mx_lookup *l = s->l;
	size_t host = s->index / 2;
	int f = (int)(s->index % 2);

	l->addr_q[host][f] = NULL;
	tern__mx_plan_addr(&l->plan, host, f == 0 ? TERN__DNS_A : TERN__DNS_AAAA, a);
	if (l->plan.done)
		finish(l);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tern__mx_lookup *l = arg;

	(void)fd;
	(void)what;
	tern__mx_plan_timeout(&l->plan);
	finish(l);
}

/* The lookup and its slots in one allocation. */
struct lookup_block {
	struct tern__mx_lookup l;
	struct addr_slot slots[TERN__MX_MAX_HOSTS * 2];
};

static struct addr_slot *slots_of(struct tern__mx_lookup *l)
{
	return ((struct lookup_block *)(void *)l)->slots;
}

static int lookup_start(struct tern__dns *dns, const char *domain, bool no_mx,
			const char *const *self, uint64_t seed, unsigned timeout_ms, tern__mx_cb *cb,
			void *arg, struct tern__mx_lookup **l_r)
{
	struct lookup_block *b;
	struct tern__mx_lookup *l;
	unsigned ms = timeout_ms ? timeout_ms : TERN__DNS_DEFAULT_TIMEOUT_MS;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	size_t n_self = 0;

	*l_r = NULL;
	if (dns == NULL || cb == NULL)
		return TERN_EINVAL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return TERN_ENOMEM;
	l = &b->l;
	if (tern__mx_plan_init(&l->plan, domain) != 0) {
		free(b);
		return TERN_EINVAL;
	}
	while (self != NULL && self[n_self] != NULL)
		n_self++;
	l->self = calloc(n_self + 1, sizeof(char *));
	for (size_t i = 0; l->self != NULL && i < n_self; i++) {
		if ((l->self[i] = strdup(self[i])) == NULL) {
			free_self(l->self);
			l->self = NULL;
		}
	}
	if (l->self == NULL) {
		free(b);
		return TERN_ENOMEM;
	}
	for (unsigned i = 0; i < TERN__MX_MAX_HOSTS * 2; i++)
		b->slots[i] = (struct addr_slot){l, i};
	l->dns = dns;
	l->timeout_ms = ms;
	l->seed = seed;
	l->cb = cb;
	l->arg = arg;
	evtimer_assign(&l->timer, tern__dns_base(dns), on_timer, l);
	if (evtimer_add(&l->timer, &tv) != 0) {
		free_self(l->self);
		free(b);
		return TERN_ENOMEM;
	}
	if (no_mx) {
		/* The host itself, as an implicit MX would be (no loop
		 * check: a relay host is named by the administrator). */
		struct tern__dns_answer none = {.status = TERN__DNS_NODATA};

		tern__mx_plan_mx(&l->plan, &none, NULL, seed);
		begin_addresses(l);
	} else if (tern__dns_query(dns, l->plan.domain, TERN__DNS_MX, ms, mx_answer, l,
				   &l->mx_q) != 0) {
		decide(&l->plan, TERN__MX_TEMPFAIL, "cannot look up the MX of %s", l->plan.domain);
	}
	if (l->plan.done) {
		/* Decided already; the callback still comes from the loop. */
		event_del(&l->timer);
		event_active(&l->timer, EV_TIMEOUT, 0);
	}
	*l_r = l;
	return 0;
}

int tern__mx_lookup_start(struct tern__dns *dns, const char *domain, const char *const *self,
			  uint64_t seed, unsigned timeout_ms, tern__mx_cb *cb, void *arg,
			  struct tern__mx_lookup **l_r)
{
	return lookup_start(dns, domain, false, self, seed, timeout_ms, cb, arg, l_r);
}

int tern__mx_host_lookup_start(struct tern__dns *dns, const char *host, unsigned timeout_ms,
			       tern__mx_cb *cb, void *arg, struct tern__mx_lookup **l_r)
{
	return lookup_start(dns, host, true, NULL, 0, timeout_ms, cb, arg, l_r);
}

void tern__mx_cancel(struct tern__mx_lookup **lp)
{
	if (lp == NULL || *lp == NULL)
		return;
	lookup_free(*lp);
	*lp = NULL;
}
