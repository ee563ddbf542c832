/* The abuse table (server/abuse.h): a chained hash over a fixed pool of
 * entries, one mutex. */
#include "server/abuse.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "tern/tern.h"

struct entry {
	struct tern__abuse_key key;
	uint32_t next;        /* chain: index + 1; 0 ends it */
	unsigned open;        /* connections admitted and not ended */
	unsigned rate_count;  /* connections in the window from rate_start */
	unsigned auth_count;  /* failed AUTH in the window from auth_start */
	uint64_t rate_start, auth_start;
	uint64_t ban_until;   /* banned while now < ban_until */
};

struct tern__abuse {
	pthread_mutex_t lock;
	struct tern__abuse_limits lim;
	struct tern__cidr_list exempt;
	uint64_t seed;         /* random: nobody picks addresses that collide */
	uint32_t *buckets;     /* index + 1 of a chain's first entry; 0: empty */
	size_t n_buckets;      /* a power of two */
	struct entry *pool;
	size_t max, made;      /* pool size; entries ever handed out */
	uint32_t free_list;    /* index + 1; entries given back */
	size_t in_use;
	uint64_t last_sweep;
	bool swept;
	uint64_t untracked;
};

int tern__abuse_new(struct tern__abuse **a_r, const struct tern__abuse_limits *limits,
		    const char *const *exempt, size_t max_entries, size_t *bad_r)
{
	struct tern__abuse *a;
	int err;

	*a_r = NULL;
	if (limits->ipv6_prefix < 1 || limits->ipv6_prefix > 128 ||
	    limits->ban_seconds > TERN__ABUSE_MAX_BAN)
		return TERN_EINVAL;
	if (max_entries == 0)
		max_entries = TERN__ABUSE_MAX_ENTRIES;
	if (max_entries > UINT32_MAX / 2)
		return TERN_EINVAL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return TERN_ENOMEM;
	err = tern__cidr_list_parse(&a->exempt, exempt, bad_r);
	if (err != 0) {
		free(a);
		return err;
	}
	a->lim = *limits;
	a->max = max_entries;
	a->n_buckets = 1;
	while (a->n_buckets < max_entries)
		a->n_buckets <<= 1;
	/* calloc: pages nobody touches are never made. */
	a->buckets = calloc(a->n_buckets, sizeof(*a->buckets));
	a->pool = calloc(max_entries, sizeof(*a->pool));
	if (a->buckets == NULL || a->pool == NULL || pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a->buckets);
		free(a->pool);
		tern__cidr_list_free(&a->exempt);
		free(a);
		return TERN_ENOMEM;
	}
	if (getrandom(&a->seed, sizeof(a->seed), GRND_NONBLOCK) != (ssize_t)sizeof(a->seed)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		a->seed = (uint64_t)ts.tv_nsec * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)ts.tv_sec;
	}
	*a_r = a;
	return 0;
}

void tern__abuse_free(struct tern__abuse **ap)
{
	struct tern__abuse *a = ap ? *ap : NULL;

	if (a == NULL)
		return;
	pthread_mutex_destroy(&a->lock);
	tern__cidr_list_free(&a->exempt);
	free(a->buckets);
	free(a->pool);
	free(a);
	*ap = NULL;
}

bool tern__abuse_key(struct tern__abuse *a, const char *addr, struct tern__abuse_key *key)
{
	uint8_t b[16];
	bool exempt;

	memset(key, 0, sizeof(*key));
	if (addr == NULL)
		return false;
	if (inet_pton(AF_INET, addr, b) == 1) {
		key->family = AF_INET;
		memcpy(key->addr, b, 4);
	} else if (inet_pton(AF_INET6, addr, b) != 1) {
		return false;
	}
	/* The prefix and the exempt list change with set_limits(). */
	pthread_mutex_lock(&a->lock);
	if (key->family == 0) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		if (memcmp(b, mapped, sizeof(mapped)) == 0) {
			key->family = AF_INET;
			memcpy(key->addr, b + 12, 4);
		} else {
			unsigned p = a->lim.ipv6_prefix;

			key->family = AF_INET6;
			memcpy(key->addr, b, p / 8);
			if (p % 8)
				key->addr[p / 8] = (uint8_t)(b[p / 8] & (0xff00u >> (p % 8)));
		}
	}
	exempt = a->exempt.n > 0 && tern__cidr_list_match(&a->exempt, addr);
	pthread_mutex_unlock(&a->lock);
	if (exempt) {
		memset(key, 0, sizeof(*key));
		return false;
	}
	return true;
}

int tern__abuse_set_limits(struct tern__abuse *a, const struct tern__abuse_limits *limits,
			   const char *const *exempt, size_t *bad_r)
{
	struct tern__cidr_list list = {0}, old;
	int err;

	if (limits->ipv6_prefix < 1 || limits->ipv6_prefix > 128 ||
	    limits->ban_seconds > TERN__ABUSE_MAX_BAN)
		return TERN_EINVAL;
	/* Parsed outside the lock; only the swap is inside. */
	err = tern__cidr_list_parse(&list, exempt, bad_r);
	if (err != 0)
		return err;
	pthread_mutex_lock(&a->lock);
	a->lim = *limits;
	old = a->exempt;
	a->exempt = list;
	pthread_mutex_unlock(&a->lock);
	tern__cidr_list_free(&old);
	return 0;
}

static size_t bucket_of(const struct tern__abuse *a, const struct tern__abuse_key *k)
{
	/* FNV-1a from a random start: the chains an attacker can aim at
	 * differ from server to server. */
	uint64_t h = UINT64_C(0xcbf29ce484222325) ^ a->seed;

	h = (h ^ k->family) * UINT64_C(0x100000001b3);
	for (size_t i = 0; i < sizeof(k->addr); i++)
		h = (h ^ k->addr[i]) * UINT64_C(0x100000001b3);
	h ^= h >> 29;
	return (size_t)h & (a->n_buckets - 1);
}

static bool window_over(uint64_t start, uint64_t now, unsigned len)
{
	return now < start || now - start >= len;
}

/* Nothing left to remember: it may go. */
static bool idle(const struct entry *e, uint64_t now)
{
	return e->open == 0 && e->ban_until <= now &&
	       (e->rate_count == 0 || window_over(e->rate_start, now, TERN__ABUSE_RATE_WINDOW)) &&
	       (e->auth_count == 0 || window_over(e->auth_start, now, TERN__ABUSE_AUTH_WINDOW));
}

/* Takes every idle entry out of the table. */
static void sweep(struct tern__abuse *a, uint64_t now)
{
	for (size_t b = 0; b < a->n_buckets; b++) {
		uint32_t *link = &a->buckets[b];

		while (*link != 0) {
			struct entry *e = &a->pool[*link - 1];
			uint32_t self = *link;

			if (idle(e, now)) {
				*link = e->next;
				memset(e, 0, sizeof(*e));
				e->next = a->free_list;
				a->free_list = self;
				a->in_use--;
			} else {
				link = &e->next;
			}
		}
	}
}

static struct entry *find(struct tern__abuse *a, const struct tern__abuse_key *k)
{
	for (uint32_t i = a->buckets[bucket_of(a, k)]; i != 0; i = a->pool[i - 1].next) {
		struct entry *e = &a->pool[i - 1];

		if (e->key.family == k->family && memcmp(e->key.addr, k->addr, sizeof(k->addr)) == 0)
			return e;
	}
	return NULL;
}

/* The entry of k, made if need be; NULL when the table is full. */
static struct entry *get(struct tern__abuse *a, const struct tern__abuse_key *k, uint64_t now)
{
	struct entry *e = find(a, k);
	uint32_t idx;
	size_t b;

	if (e != NULL)
		return e;
	if (a->free_list == 0 && a->made == a->max &&
	    (!a->swept || now != a->last_sweep)) {
		/* A full table is swept at most once a second: under a
		 * flood of new networks, not once per connection. */
		a->swept = true;
		a->last_sweep = now;
		sweep(a, now);
	}
	if (a->free_list != 0) {
		idx = a->free_list;
		a->free_list = a->pool[idx - 1].next;
	} else if (a->made < a->max) {
		idx = (uint32_t)++a->made;
	} else {
		a->untracked++;
		return NULL;
	}
	e = &a->pool[idx - 1];
	memset(e, 0, sizeof(*e));
	e->key = *k;
	b = bucket_of(a, k);
	e->next = a->buckets[b];
	a->buckets[b] = idx;
	a->in_use++;
	return e;
}

static bool is_banned(const struct entry *e, uint64_t now)
{
	return e != NULL && e->ban_until > now;
}

enum tern__abuse_verdict tern__abuse_connect(struct tern__abuse *a,
					     const struct tern__abuse_key *key, uint64_t now)
{
	enum tern__abuse_verdict v = TERN__ABUSE_OK;
	struct entry *e;

	if (key->family == 0)
		return TERN__ABUSE_UNTRACKED;
	pthread_mutex_lock(&a->lock);
	e = get(a, key, now);
	if (e == NULL) {
		v = TERN__ABUSE_UNTRACKED;
	} else {
		if (e->rate_count == 0 || window_over(e->rate_start, now, TERN__ABUSE_RATE_WINDOW)) {
			e->rate_start = now;
			e->rate_count = 0;
		}
		if (e->rate_count < UINT32_MAX)
			e->rate_count++;
		if (is_banned(e, now))
			v = TERN__ABUSE_BANNED;
		else if (a->lim.max_conn_rate != 0 && e->rate_count > a->lim.max_conn_rate)
			v = TERN__ABUSE_TOO_FAST;
		else if (a->lim.max_per_ip != 0 && e->open >= a->lim.max_per_ip)
			v = TERN__ABUSE_TOO_MANY;
		else
			e->open++;
	}
	pthread_mutex_unlock(&a->lock);
	return v;
}

void tern__abuse_disconnect(struct tern__abuse *a, const struct tern__abuse_key *key)
{
	struct entry *e;

	if (key->family == 0)
		return;
	pthread_mutex_lock(&a->lock);
	/* An entry with open connections is never swept: it is there. */
	e = find(a, key);
	if (e != NULL && e->open > 0)
		e->open--;
	pthread_mutex_unlock(&a->lock);
}

bool tern__abuse_auth_failed(struct tern__abuse *a, const struct tern__abuse_key *key,
			     uint64_t now)
{
	bool banned = false;
	struct entry *e;

	if (key->family == 0)
		return false;
	if (a->lim.max_auth_failures == 0)
		return tern__abuse_banned(a, key, now); /* counted by nobody */
	pthread_mutex_lock(&a->lock);
	e = get(a, key, now);
	if (e != NULL) {
		if (e->auth_count == 0 || window_over(e->auth_start, now, TERN__ABUSE_AUTH_WINDOW)) {
			e->auth_start = now;
			e->auth_count = 0;
		}
		e->auth_count++;
		if (e->auth_count >= a->lim.max_auth_failures && !is_banned(e, now)) {
			e->ban_until = now + a->lim.ban_seconds;
			e->auth_count = 0; /* after the ban, a fresh window */
		}
	}
	banned = is_banned(e, now);
	pthread_mutex_unlock(&a->lock);
	return banned;
}

bool tern__abuse_banned(struct tern__abuse *a, const struct tern__abuse_key *key, uint64_t now)
{
	bool banned;

	if (key->family == 0)
		return false;
	pthread_mutex_lock(&a->lock);
	banned = is_banned(find(a, key), now);
	pthread_mutex_unlock(&a->lock);
	return banned;
}

int tern__abuse_ban(struct tern__abuse *a, const struct tern__abuse_key *key, unsigned seconds,
		    uint64_t now)
{
	struct entry *e;

	if (key->family == 0 || seconds > TERN__ABUSE_MAX_BAN)
		return TERN_EINVAL;
	if (seconds == 0)
		seconds = a->lim.ban_seconds;
	pthread_mutex_lock(&a->lock);
	e = get(a, key, now);
	if (e != NULL)
		e->ban_until = now + seconds;
	pthread_mutex_unlock(&a->lock);
	return e != NULL ? 0 : TERN_ELIMIT;
}

bool tern__abuse_unban(struct tern__abuse *a, const struct tern__abuse_key *key, uint64_t now)
{
	bool was = false;
	struct entry *e;

	if (key->family == 0)
		return false;
	pthread_mutex_lock(&a->lock);
	e = find(a, key);
	if (e != NULL) {
		was = is_banned(e, now);
		e->ban_until = 0;
		e->auth_count = 0;
	}
	pthread_mutex_unlock(&a->lock);
	return was;
}

size_t tern__abuse_entries(struct tern__abuse *a)
{
	size_t n;

	pthread_mutex_lock(&a->lock);
	n = a->in_use;
	pthread_mutex_unlock(&a->lock);
	return n;
}

uint64_t tern__abuse_untracked(struct tern__abuse *a)
{
	uint64_t n;

	pthread_mutex_lock(&a->lock);
	n = a->untracked;
	pthread_mutex_unlock(&a->lock);
	return n;
}

unsigned tern__abuse_open(struct tern__abuse *a, const struct tern__abuse_key *key)
{
	const struct entry *e;
	unsigned n;

	pthread_mutex_lock(&a->lock);
	e = find(a, key);
	n = e != NULL ? e->open : 0;
	pthread_mutex_unlock(&a->lock);
	return n;
}

struct tern__abuse_limits tern__abuse_limits(struct tern__abuse *a)
{
	struct tern__abuse_limits lim;

	pthread_mutex_lock(&a->lock);
	lim = a->lim;
	pthread_mutex_unlock(&a->lock);
	return lim;
}

uint64_t tern__abuse_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* +1: no "now" is 0, the value of a ban that never was. */
	return (uint64_t)ts.tv_sec + 1;
}
