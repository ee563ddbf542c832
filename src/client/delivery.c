/* Outbound delivery on an event loop: see include/tern/delivery.h.
 *
 * A job is one message; its recipients are split into groups, one per
 * destination (a recipient domain, or the relay host for all). A group
 * finds its addresses (net/dns_mx.h), then a connection to its
 * destination: an idle one kept from an earlier message (reuse), a new one
 * while the destination has fewer than max_per_dest, or it waits in the
 * destination's queue for one to come free. One message transaction per
 * group and connection (client/outbound.h); the group's recipients get
 * their results from it, or the group moves on to the next address:
 *   - the connection failed, the greeting or EHLO failed, TLS failed (with
 *     the MAY policy the same address is tried once more without TLS, as
 *     Postfix does), or a reused connection turned out to be gone;
 *   - the whole transaction failed temporarily on a host (every recipient
 *     4xx: MAIL refused, 421, a timeout) and another host is left: at most
 *     MAX_SESSIONS hosts take a transaction per attempt (Postfix's
 *     smtp_mx_session_limit).
 * When addresses run out, the last failure is the group's result. */
#include "tern/delivery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <idn2.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>

#include "client/mta_sts.h"
#include "client/outbound.h"
#include "client/tls_policy.h"
#include "net/dns.h"
#include "net/dns_mx.h"
#include "net/tls_client.h"
#include "smtp/client/client.h"
#include "util/address.h"

#define DEFAULT_PORT 25
#define DEFAULT_DNS_TIMEOUT_MS 10000
#define DEFAULT_MAX_PER_DEST 20       /* Postfix default_destination_concurrency_limit */
#define DEFAULT_MAX_MSGS_PER_CONN 100 /* Postfix smtp_connection_reuse_count_limit is 0: */
				      /* unlimited; a bound keeps one peer from holding us */
#define DEFAULT_CONN_CACHE_MS 2000    /* Postfix smtp_connection_cache_time_limit */
#define DEFAULT_MAX_ADDRESSES 5       /* Postfix smtp_mx_address_limit */
#define MAX_SESSIONS 2                /* Postfix smtp_mx_session_limit */
#define RATE_WINDOW_MS 60000

struct dest;
struct group;

/* A connection of a destination. */
struct conn {
	struct conn *next;       /* in dest->conns */
	struct dest *dest;
	struct tern__outbound *o;
	struct group *g;         /* the group it carries; NULL: idle or closing */
	bool ready;              /* the session is up and waits for a message */
	bool verified_tls;       /* for REQUIRETLS reuse */
	unsigned msgs;
	struct event idle;       /* conn_cache_ms while idle */
	char relay[320];         /* "host[address]:port" */
	size_t host_i;           /* its host in the group's plan */
	char ip[64];             /* its address, for TLS outcomes */
	bool strict_tls;         /* a DANE or MTA-STS policy: no fallback to plaintext */
};

struct dest {
	struct dest *next;       /* in d->dests */
	tern_delivery *d;
	char key[320];           /* the domain (A-label), or "[relay]" */
	unsigned open;           /* connections (connecting, busy or idle) */
	struct conn *conns;
	struct group *wait_head, *wait_tail;
	uint64_t window_start;   /* dest_rate: a fixed one-minute window */
	unsigned window_count;
	struct event rate_timer;
	bool rate_timer_on;
};

/* One job's recipients for one destination. */
struct group {
	struct tern_delivery_job *job;
	struct dest *dest;
	size_t *rcpt;            /* indices into the job's recipients */
	size_t n;
	char name[TERN__DNS_NAME_SIZE]; /* what is looked up (A-label) */
	struct tern__mx_lookup *lookup;
	struct tern__tls_policy *pol; /* DANE, MTA-STS (MX delivery only) */
	struct tern__mx_plan plan;
	bool planned;
	size_t host_i, addr_i;   /* the next address to try */
	unsigned tries, sessions;
	bool no_tls;             /* the MAY fallback after a failed handshake */
	bool no_reuse;           /* the next try must be a new connection */
	bool retry_same;         /* try the address just used again (no TLS, or reuse gone) */
	struct conn *conn;
	struct group *next_wait;
	bool waiting, done;
	/* The last failure, the group's result when addresses run out. */
	int fail_code;
	char fail_enhanced[16];
	char fail_text[512];
	bool fail_permanent, fail_remote;
	char fail_relay[320];
};

struct rcpt_out {
	bool set;
	enum tern_smtp_client_class cls;
	int code;
	char enhanced[16];
	char *text;
	char relay[320];
	char tls[160];
	bool remote, relayed;
};

struct tern_delivery_job {
	tern_delivery *d;
	struct tern_delivery_job *prev, *next; /* in d->jobs */
	tern_smtp_client_message msg;          /* with copied strings */
	tern_smtp_client_rcpt *rcpts;
	char **strings;                        /* every copy, to free */
	size_t n_strings;
	tern_delivery_body body;
	tern_delivery_cb *cb;
	void *arg;
	struct rcpt_out *out;
	tern_delivery_result *res;             /* made at send: the callback cannot fail */
	struct group **groups;
	size_t n_groups, groups_left;
	struct event done;                     /* the callback, from the loop */
	bool finished;
};

struct tern_delivery {
	struct event_base *base;
	tern_delivery_options o;
	char *helo, *relay_host, *tls_ca, *auth_user, *auth_password, *dns_server, *trust_anchor;
	char **self;
	unsigned relay_port;
	bool relay_literal;       /* "[...]": no MX lookup */
	struct tern__dns_addr relay_addr; /* the relay is an address */
	bool relay_is_addr;
	char *relay_unix;         /* "/path": a local socket (LMTP to Dovecot) */
	struct tern__dns *dns;
	struct tern__tls_client *tls;
	struct tern__tls_policy_env penv;
	struct tern__sts_cache *sts_cache;
	struct dest *dests;
	struct tern_delivery_job *jobs;
	unsigned conns;
	uint64_t seed;
};

static void group_next(struct group *g);
static void dest_kick(struct dest *ds);

/* ---- logging ---------------------------------------------------------- */

static void dlog(tern_delivery *d, enum tern_smtp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void dlog(tern_delivery *d, enum tern_smtp_log_level level, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	if (d->o.on_log == NULL || level > d->o.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	d->o.on_log(level, line, d->o.user_data);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_timer(struct event *ev, unsigned ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(ev, &tv);
}

/* ---- options ---------------------------------------------------------- */

void tern_delivery_options_init_sized(tern_delivery_options *o, size_t size)
{
	tern_delivery_options def;

	if (o == NULL || size < sizeof(o->struct_size))
		return;
	memset(&def, 0, sizeof(def));
	def.struct_size = sizeof(def);
	def.log_level = TERN_LOG_INFO;
	memset(o, 0, size);
	memcpy(o, &def, size < sizeof(def) ? size : sizeof(def));
	o->struct_size = size;
}

static int dup(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	return *dst != NULL ? 0 : TERN_ENOMEM;
}

/* "host", "host:port", "[host]:port", "[addr]:port", "[v6]:port". */
static int parse_relay(tern_delivery *d, const char *spec)
{
	char host[TERN__DNS_NAME_SIZE + 2];
	const char *end, *port = NULL;
	size_t len;

	d->relay_port = DEFAULT_PORT;
	if (spec[0] == '/') {
		if (strlen(spec) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return TERN_EINVAL;
		d->relay_is_addr = true;
		return dup(&d->relay_unix, spec) != 0 || dup(&d->relay_host, spec) != 0 ? TERN_ENOMEM
											: 0;
	}
	if (spec[0] == '[') {
		end = strchr(spec, ']');
		if (end == NULL)
			return TERN_EINVAL;
		len = (size_t)(end - spec - 1);
		if (len == 0 || len >= sizeof(host))
			return TERN_EINVAL;
		memcpy(host, spec + 1, len);
		host[len] = '\0';
		d->relay_literal = true;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return TERN_EINVAL;
	} else {
		end = strrchr(spec, ':');
		len = end != NULL ? (size_t)(end - spec) : strlen(spec);
		if (len == 0 || len >= sizeof(host))
			return TERN_EINVAL;
		memcpy(host, spec, len);
		host[len] = '\0';
		if (end != NULL)
			port = end + 1;
	}
	if (port != NULL) {
		char *e;
		unsigned long p = strtoul(port, &e, 10);

		if (*port == '\0' || *e != '\0' || p == 0 || p > 65535)
			return TERN_EINVAL;
		d->relay_port = (unsigned)p;
	}
	if (tern__dns_addr_parse(host, &d->relay_addr) == 0)
		d->relay_is_addr = true;
	else if (!tern__dns_hostname_valid(host, strlen(host)))
		return TERN_EINVAL;
	return dup(&d->relay_host, host);
}

static void free_self(char **self)
{
	for (size_t i = 0; self != NULL && self[i] != NULL; i++)
		free(self[i]);
	free(self);
}

static int copy_self(tern_delivery *d)
{
	const char *const *src = d->o.self_names;
	const char *one[] = {d->helo, NULL};
	size_t n = 0;

	if (src == NULL)
		src = one;
	while (src[n] != NULL)
		n++;
	d->self = calloc(n + 1, sizeof(char *));
	if (d->self == NULL)
		return TERN_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if ((d->self[i] = strdup(src[i])) == NULL)
			return TERN_ENOMEM;
	return 0;
}

int tern_delivery_new(tern_delivery **d_r, struct event_base *base,
		      const tern_delivery_options *opts)
{
	tern_delivery *d;
	char err[512] = "";
	int r;

	if (d_r == NULL)
		return TERN_EINVAL;
	*d_r = NULL;
	if (base == NULL || opts == NULL || opts->struct_size < offsetof(tern_delivery_options, port))
		return TERN_EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return TERN_ENOMEM;
	tern_delivery_options_init(&d->o);
	memcpy(&d->o, opts, opts->struct_size < sizeof(d->o) ? opts->struct_size : sizeof(d->o));
	d->o.struct_size = sizeof(d->o);
	d->base = base;
	if (d->o.max_per_dest == 0)
		d->o.max_per_dest = DEFAULT_MAX_PER_DEST;
	if (d->o.max_msgs_per_conn == 0)
		d->o.max_msgs_per_conn = DEFAULT_MAX_MSGS_PER_CONN;
	if (d->o.conn_cache_ms == 0)
		d->o.conn_cache_ms = DEFAULT_CONN_CACHE_MS;
	if (d->o.max_addresses == 0)
		d->o.max_addresses = DEFAULT_MAX_ADDRESSES;
	if (getrandom(&d->seed, sizeof(d->seed), GRND_NONBLOCK) != (ssize_t)sizeof(d->seed))
		d->seed = (uint64_t)time(NULL) * UINT64_C(0x9E3779B97F4A7C15);
	r = TERN_EINVAL;
	if (d->o.helo_name == NULL || !tern__dns_hostname_valid(d->o.helo_name,
								strlen(d->o.helo_name)) ||
	    (unsigned)d->o.tls > TERN_DELIVERY_TLS_VERIFY ||
	    (d->o.dns_server != NULL && !tern__dns_server_valid(d->o.dns_server)) ||
	    (d->o.auth_user != NULL && d->o.auth_password == NULL))
		goto fail;
	if ((r = dup(&d->helo, d->o.helo_name)) != 0 || (r = dup(&d->tls_ca, d->o.tls_ca_file)) != 0 ||
	    (r = dup(&d->auth_user, d->o.auth_user)) != 0 ||
	    (r = dup(&d->auth_password, d->o.auth_password)) != 0 ||
	    (r = dup(&d->dns_server, d->o.dns_server)) != 0 ||
	    (r = dup(&d->trust_anchor, d->o.dns_trust_anchor)) != 0 || (r = copy_self(d)) != 0)
		goto fail;
	if (d->o.relayhost != NULL && (r = parse_relay(d, d->o.relayhost)) != 0) {
		dlog(d, TERN_LOG_ERROR, "relayhost '%s': not HOST[:PORT] or [HOST]:PORT",
		     d->o.relayhost);
		goto fail;
	}
	/* Pointers into the caller's memory are not kept. */
	d->o.helo_name = d->helo;
	d->o.relayhost = d->o.tls_ca_file = d->o.auth_user = d->o.auth_password = NULL;
	d->o.dns_server = d->o.dns_trust_anchor = NULL;
	d->o.self_names = NULL;
	/* Whatever the policy: REQUIRETLS messages need TLS. */
	r = tern__tls_client_new(&d->tls, d->tls_ca, err, sizeof(err));
	if (r != 0) {
		dlog(d, TERN_LOG_ERROR, "TLS: %s", err);
		goto fail;
	}
	r = tern__dns_new(&d->dns, base, d->dns_server, err, sizeof(err));
	if (r != 0) {
		dlog(d, TERN_LOG_ERROR, "DNS resolver: %s", err[0] ? err : tern_strerror(r));
		goto fail;
	}
	if (d->trust_anchor != NULL &&
	    (r = tern__dns_add_trust_anchor(d->dns, d->trust_anchor, err, sizeof(err))) != 0) {
		dlog(d, TERN_LOG_ERROR, "DNSSEC trust anchor: %s", err[0] ? err : tern_strerror(r));
		goto fail;
	}
	d->penv = (struct tern__tls_policy_env){
		.base = base,
		.dns = d->dns,
		.tls = d->tls,
		.dane = d->o.dane && d->o.tls != TERN_DELIVERY_TLS_NONE,
		.mta_sts = d->o.mta_sts && d->o.tls != TERN_DELIVERY_TLS_NONE,
		.port = d->o.port ? d->o.port : DEFAULT_PORT,
		.dns_timeout_ms = d->o.dns_timeout_ms,
		.sts_port = d->o.mta_sts_port,
		.sts_timeout_ms = d->o.mta_sts_timeout_ms,
		.o = &d->o,
	};
	if (d->penv.mta_sts) {
		if ((r = tern__sts_cache_new(&d->sts_cache, d->o.sts_store, d->o.user_data)) != 0)
			goto fail;
		d->penv.cache = d->sts_cache;
	}
	d->o.sts_store = NULL;
	*d_r = d;
	return 0;
fail:
	tern_delivery_free(&d);
	return r;
}

/* ---- jobs and results ------------------------------------------------- */

static int keep(struct tern_delivery_job *j, const char **dst, const char *src)
{
	char *c;

	*dst = NULL;
	if (src == NULL)
		return 0;
	c = strdup(src);
	if (c == NULL)
		return TERN_ENOMEM;
	j->strings[j->n_strings++] = c;
	*dst = c;
	return 0;
}

static void set_result(struct tern_delivery_job *j, size_t i, enum tern_smtp_client_class cls,
		       int code, const char *enhanced, const char *text, bool remote,
		       const char *relay, const char *tls, bool relayed)
{
	struct rcpt_out *r = &j->out[i];

	r->set = true;
	r->cls = cls;
	r->code = code;
	snprintf(r->enhanced, sizeof(r->enhanced), "%s", enhanced ? enhanced : "");
	free(r->text);
	r->text = strdup(text ? text : "");
	snprintf(r->relay, sizeof(r->relay), "%s", relay ? relay : "none");
	snprintf(r->tls, sizeof(r->tls), "%s", tls ? tls : "");
	r->remote = remote;
	r->relayed = relayed;
}

static void group_free(struct group *g);

/* Frees a job that is unlinked and whose groups hold no connection. */
static void job_free(struct tern_delivery_job *j)
{
	for (size_t i = 0; i < j->n_groups; i++)
		group_free(j->groups[i]);
	event_del(&j->done);
	for (size_t i = 0; j->out != NULL && i < j->msg.n_rcpts; i++)
		free(j->out[i].text);
	for (size_t i = 0; i < j->n_strings; i++)
		free(j->strings[i]);
	free(j->strings);
	free(j->out);
	free(j->res);
	free(j->rcpts);
	free(j->groups);
	free(j);
}

static void job_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct tern_delivery_job *j = arg;
	tern_delivery *d = j->d;
	tern_delivery_result *res = j->res;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < j->msg.n_rcpts; i++) {
		struct rcpt_out *r = &j->out[i];

		res[i] = (tern_delivery_result){
			.address = j->rcpts[i].address,
			.cls = r->set ? r->cls : TERN_SMTP_CLIENT_TEMPFAIL,
			.code = r->set ? r->code : 451,
			.enhanced = r->set ? r->enhanced : "4.3.0",
			.text = r->set && r->text ? r->text : "not attempted",
			.remote = r->remote,
			.relay = r->set ? r->relay : "none",
			.tls = r->set ? r->tls : "",
			.relayed_without_dsn = r->relayed,
		};
	}
	/* Unlinked first: the callback may free the agent. */
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		d->jobs = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->cb(res, j->msg.n_rcpts, j->arg);
	job_free(j);
}

static void group_free(struct group *g)
{
	if (g == NULL)
		return;
	tern__mx_cancel(&g->lookup);
	tern__tls_policy_free(&g->pol);
	free(g->rcpt);
	free(g);
}

static void wait_remove(struct group *g)
{
	struct dest *ds = g->dest;
	struct group **pp = &ds->wait_head, *prev = NULL;

	if (!g->waiting)
		return;
	while (*pp != NULL && *pp != g) {
		prev = *pp;
		pp = &(*pp)->next_wait;
	}
	if (*pp == g) {
		*pp = g->next_wait;
		if (ds->wait_tail == g)
			ds->wait_tail = prev;
	}
	g->waiting = false;
	g->next_wait = NULL;
}

/* Every recipient of g has its result: the job may be over. */
static void group_done(struct group *g)
{
	struct tern_delivery_job *j = g->job;

	if (g->done)
		return;
	g->done = true;
	wait_remove(g);
	tern__mx_cancel(&g->lookup);
	if (--j->groups_left == 0 && !j->finished) {
		j->finished = true;
		event_active(&j->done, EV_TIMEOUT, 0);
	}
}

/* The group's recipients that have no result get its last failure. */
static void group_fail(struct group *g)
{
	for (size_t k = 0; k < g->n; k++)
		if (!g->job->out[g->rcpt[k]].set)
			set_result(g->job, g->rcpt[k],
				   g->fail_permanent ? TERN_SMTP_CLIENT_PERMFAIL
						     : TERN_SMTP_CLIENT_TEMPFAIL,
				   g->fail_code, g->fail_enhanced, g->fail_text, g->fail_remote,
				   g->fail_relay[0] ? g->fail_relay : "none", "", false);
	group_done(g);
}

static void note_failure(struct group *g, bool permanent, int code, const char *enhanced,
			 bool remote, const char *relay, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void note_failure(struct group *g, bool permanent, int code, const char *enhanced,
			 bool remote, const char *relay, const char *fmt, ...)
{
	va_list ap;

	g->fail_permanent = permanent;
	g->fail_code = code;
	g->fail_remote = remote;
	snprintf(g->fail_enhanced, sizeof(g->fail_enhanced), "%s", enhanced);
	snprintf(g->fail_relay, sizeof(g->fail_relay), "%s", relay ? relay : "");
	va_start(ap, fmt);
	vsnprintf(g->fail_text, sizeof(g->fail_text), fmt, ap);
	va_end(ap);
}

/* ---- destinations ------------------------------------------------------ */

static void on_rate_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dest *ds = arg;

	(void)fd;
	(void)what;
	ds->rate_timer_on = false;
	dest_kick(ds);
}

static struct dest *dest_get(tern_delivery *d, const char *key)
{
	struct dest *ds;

	for (ds = d->dests; ds != NULL; ds = ds->next)
		if (strcasecmp(ds->key, key) == 0)
			return ds;
	ds = calloc(1, sizeof(*ds));
	if (ds == NULL)
		return NULL;
	ds->d = d;
	snprintf(ds->key, sizeof(ds->key), "%s", key);
	evtimer_assign(&ds->rate_timer, d->base, on_rate_timer, ds);
	ds->next = d->dests;
	d->dests = ds;
	return ds;
}

/* dest_rate: may a message start now? If not, the timer wakes the queue
 * when the window turns. */
static bool rate_allows(struct dest *ds)
{
	unsigned limit = ds->d->o.dest_rate;
	uint64_t now = now_ms();

	if (limit == 0)
		return true;
	if (now - ds->window_start >= RATE_WINDOW_MS) {
		ds->window_start = now;
		ds->window_count = 0;
	}
	if (ds->window_count < limit)
		return true;
	if (!ds->rate_timer_on) {
		ds->rate_timer_on = true;
		set_timer(&ds->rate_timer,
			  (unsigned)(RATE_WINDOW_MS - (now - ds->window_start)) + 1);
	}
	return false;
}

static void wait_push(struct group *g)
{
	struct dest *ds = g->dest;

	if (g->waiting)
		return;
	g->waiting = true;
	g->next_wait = NULL;
	if (ds->wait_tail != NULL)
		ds->wait_tail->next_wait = g;
	else
		ds->wait_head = g;
	ds->wait_tail = g;
}

static struct group *wait_pop(struct dest *ds)
{
	struct group *g = ds->wait_head;

	if (g == NULL)
		return NULL;
	ds->wait_head = g->next_wait;
	if (ds->wait_head == NULL)
		ds->wait_tail = NULL;
	g->waiting = false;
	g->next_wait = NULL;
	return g;
}

/* A slot or an idle connection may be free: let the queue move. */
static void dest_kick(struct dest *ds)
{
	size_t n = 0;

	/* Each waiting group once per kick (one that cannot go re-queues). */
	for (struct group *g = ds->wait_head; g != NULL; g = g->next_wait)
		n++;
	while (n-- > 0) {
		struct group *g = wait_pop(ds);

		if (g == NULL)
			break;
		group_next(g);
		if (g->waiting)
			break; /* still no room: the rest wait too */
	}
}

static void conn_unlink(struct conn *c)
{
	struct conn **pp = &c->dest->conns;

	while (*pp != NULL && *pp != c)
		pp = &(*pp)->next;
	if (*pp == c)
		*pp = c->next;
	c->dest->open--;
	c->dest->d->conns--;
	event_del(&c->idle);
}

/* ---- connections -------------------------------------------------------- */

static const tern_smtp_client_message *group_message(struct group *g,
						      tern_smtp_client_message *m,
						      tern_smtp_client_rcpt *rc)
{
	*m = g->job->msg;
	for (size_t k = 0; k < g->n; k++)
		rc[k] = g->job->rcpts[g->rcpt[k]];
	m->rcpts = rc;
	m->n_rcpts = g->n;
	return m;
}

/* Sends g's message on c (ready, idle). */
static void conn_send(struct conn *c, struct group *g)
{
	tern_smtp_client_message m;
	tern_smtp_client_rcpt *rc = calloc(g->n, sizeof(*rc));
	struct tern__body_source src = {
		.fd = g->job->body.fd,
		.offset = g->job->body.offset,
		.data = g->job->body.data,
		.len = g->job->body.len,
	};
	int r;

	event_del(&c->idle);
	c->ready = false;
	c->g = g;
	g->conn = c;
	g->dest->window_count++;
	if (rc == NULL) {
		r = TERN_ENOMEM;
	} else {
		r = tern__outbound_send(c->o, group_message(g, &m, rc), &src);
		free(rc);
	}
	if (r == TERN_ESTATE) {
		/* The connection ended (the server closed an idle one) and
		 * its closed() has not run yet: a new connection instead. */
		c->g = NULL;
		g->conn = NULL;
		c->ready = false;
		g->no_reuse = true;
		group_next(g);
		return;
	}
	if (r != 0) {
		/* A message the engine refuses outright: the recipients were
		 * checked at send, so this is the sender or ENVID: permanent,
		 * whatever host would be tried. */
		c->g = NULL;
		g->conn = NULL;
		c->ready = true;
		note_failure(g, r != TERN_ENOMEM, r == TERN_ENOMEM ? 451 : 553,
			     r == TERN_ENOMEM ? "4.3.0" : "5.1.3", false, c->relay,
			     r == TERN_ENOMEM ? "out of memory" : "the message cannot be sent as given");
		group_fail(g);
	}
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->ready && c->g == NULL) {
		c->ready = false;
		tern__outbound_quit(c->o);
	}
}

static void on_ready(struct tern__outbound *o, void *arg)
{
	struct conn *c = arg;
	struct dest *ds = c->dest;
	struct group *g;

	c->ready = true;
	c->verified_tls = tern__outbound_tls_verified(o);
	if (c->g != NULL) {
		/* A new session for the group that asked for it. */
		g = c->g;
		tern__tls_policy_session(g->pol, c->host_i, c->ip, o);
		c->g = NULL;
		conn_send(c, g);
		return;
	}
	if (c->msgs >= ds->d->o.max_msgs_per_conn) {
		c->ready = false;
		tern__outbound_quit(o);
		return;
	}
	/* Reuse: the first waiting group this connection suits. */
	dest_kick(ds);
	if (c->ready && c->g == NULL)
		set_timer(&c->idle, ds->d->o.conn_cache_ms);
}

/* After a transaction: results, or the next host for a group that got
 * nowhere here. */
static void on_message_done(struct tern__outbound *o, void *arg)
{
	struct conn *c = arg;
	struct group *g = c->g;
	tern_smtp_client *cl = tern__outbound_client(o);
	const char *tls = tern__outbound_tls_summary(o);
	size_t temp = 0;

	c->msgs++;
	c->g = NULL;
	if (g == NULL)
		return; /* its job was cancelled */
	g->conn = NULL;
	g->sessions++;
	for (size_t k = 0; k < g->n; k++) {
		const tern_smtp_client_result *r = tern_smtp_client_rcpt_result(cl, k);

		/* RFC 8689 4.2.1: a host without REQUIRETLS (or without TLS)
		 * is skipped for the next one; the message fails only when
		 * none has it. */
		temp += r == NULL || r->cls == TERN_SMTP_CLIENT_TEMPFAIL ||
			r->reason == TERN_SMTP_CLIENT_R_REQUIRETLS;
	}
	if (temp == g->n && g->n > 0 && g->sessions < MAX_SESSIONS) {
		/* Nothing got through here: another host may do better
		 * (RFC 5321 5.1: a transient failure, try the next MX). */
		const tern_smtp_client_result *r = tern_smtp_client_message_result(cl);
		size_t host = g->host_i;

		if (r != NULL)
			note_failure(g, false, r->code, r->enhanced, r->reason == TERN_SMTP_CLIENT_R_REPLY,
				     c->relay, "%s", r->text);
		/* Skip to the next host: its other addresses are the same
		 * server. */
		g->host_i = host + 1;
		g->addr_i = 0;
		g->no_reuse = true;
		if (g->planned && g->host_i < g->plan.n_hosts) {
			group_next(g);
			return;
		}
	}
	for (size_t k = 0; k < g->n; k++) {
		const tern_smtp_client_result *r = tern_smtp_client_rcpt_result(cl, k);

		if (r == NULL)
			set_result(g->job, g->rcpt[k], TERN_SMTP_CLIENT_TEMPFAIL, 451, "4.3.0",
				   "no result", false, c->relay, tls, false);
		else
			set_result(g->job, g->rcpt[k], r->cls, r->code, r->enhanced, r->text,
				   r->reason == TERN_SMTP_CLIENT_R_REPLY, c->relay, tls,
				   r->notify_success_dropped);
	}
	group_done(g);
}

static void on_closed(struct tern__outbound *o, const struct tern__outbound_end *end, void *arg)
{
	struct conn *c = arg;
	struct dest *ds = c->dest;
	struct group *g = c->g;
	tern_delivery *d = ds->d;

	(void)o;
	conn_unlink(c);
	if (g != NULL) {
		g->conn = NULL;
		if (!end->greeted || end->tls_failed)
			tern__tls_policy_failed(g->pol, c->host_i, c->ip, end);
		if (end->tls_failed && d->o.tls == TERN_DELIVERY_TLS_MAY && !g->job->msg.requiretls &&
		    !g->no_tls && !c->strict_tls) {
			/* Opportunistic: the same server, without TLS. */
			dlog(d, TERN_LOG_INFO, "%s: %s; trying again without TLS", c->relay, end->why);
			g->no_tls = true;
			g->retry_same = true;
		} else if (c->msgs > 0) {
			/* A cached connection that the server had dropped or
			 * that failed now: a new one, counted as a try. */
			dlog(d, TERN_LOG_DEBUG, "%s: reused connection gone: %s", c->relay, end->why);
			g->no_reuse = true;
		} else {
			const tern_smtp_client_result *f = end->failure;

			dlog(d, TERN_LOG_INFO, "%s: %s", c->relay, end->why);
			if (f != NULL)
				note_failure(g, false, f->code, f->enhanced,
					     f->reason == TERN_SMTP_CLIENT_R_REPLY, c->relay, "%s",
					     f->text);
			else if (end->tls_failed)
				note_failure(g, false, 451, "4.7.5", false, c->relay, "%s", end->why);
			else
				note_failure(g, false, 451, end->connected ? "4.4.2" : "4.4.1", false,
					     c->relay, "%s", end->why);
		}
		group_next(g);
	}
	free(c);
	dest_kick(ds);
}

/* The next address of g's plan, as a sockaddr with the port; false when
 * none is left. */
static bool next_address(struct group *g, struct sockaddr_storage *ss, socklen_t *len,
			 const char **host)
{
	tern_delivery *d = g->job->d;
	unsigned port = d->relay_host != NULL ? d->relay_port
					      : (d->o.port ? d->o.port : DEFAULT_PORT);

	if (d->relay_unix != NULL) {
		struct sockaddr_un *su = (struct sockaddr_un *)ss;

		if (g->host_i > 0 || g->addr_i > 0)
			return false;
		memset(ss, 0, sizeof(*ss));
		su->sun_family = AF_UNIX;
		memcpy(su->sun_path, d->relay_unix, strlen(d->relay_unix) + 1);
		*len = (socklen_t)sizeof(*su);
		*host = d->relay_unix;
		return true;
	}
	while (g->host_i < g->plan.n_hosts) {
		const struct tern__mx_host *h = &g->plan.hosts[g->host_i];
		/* IPv6 first, then IPv4 (RFC 6724's default order). */
		size_t n = h->n_v6 + h->n_v4;

		if (g->addr_i < n) {
			const struct tern__dns_addr *a = g->addr_i < h->n_v6
								? &h->v6[g->addr_i]
								: &h->v4[g->addr_i - h->n_v6];

			memset(ss, 0, sizeof(*ss));
			if (a->family == AF_INET6) {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

				s6->sin6_family = AF_INET6;
				s6->sin6_port = htons((uint16_t)port);
				memcpy(&s6->sin6_addr, a->bytes, 16);
				*len = sizeof(*s6);
			} else {
				struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

				s4->sin_family = AF_INET;
				s4->sin_port = htons((uint16_t)port);
				memcpy(&s4->sin_addr, a->bytes, 4);
				*len = sizeof(*s4);
			}
			*host = h->name;
			return true;
		}
		g->host_i++;
		g->addr_i = 0;
	}
	return false;
}

static void format_ip(char *buf, size_t size, const struct sockaddr_storage *ss)
{
	buf[0] = '\0';
	if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
			  (socklen_t)size);
	else if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)size);
}

static void format_relay(char *buf, size_t size, const char *host,
			 const struct sockaddr_storage *ss)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port;

	if (ss->ss_family == AF_UNIX) {
		snprintf(buf, size, "%s", host);
		return;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		port = ntohs(s4->sin_port);
	}
	snprintf(buf, size, "%s[%s]:%u", host, addr, port);
}

/* Opens a connection for g to its next address. Returns false when no
 * address is left. */
static bool conn_open(struct group *g)
{
	struct tern_delivery *d = g->job->d;
	struct dest *ds = g->dest;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const char *host = NULL;
	tern_smtp_client_options co;
	struct tern__outbound_params p;
	struct tern__outbound_cbs cbs = {on_ready, on_message_done, on_closed};
	bool requiretls = g->job->msg.requiretls;
	struct tern__host_tls ht;
	struct conn *c;
	int r;

	for (;;) {
		if (g->retry_same) {
			/* The address just tried, once more. */
			g->retry_same = false;
			if (g->addr_i > 0)
				g->addr_i--;
			else if (g->host_i > 0)
				g->host_i--; /* cannot happen: an address was used */
		}
		if (g->tries >= d->o.max_addresses || !next_address(g, &ss, &len, &host))
			return false;
		tern__tls_policy_host(g->pol, g->host_i, &ht);
		if (ht.skip) {
			/* A policy rules this host out (RFC 7672 2.2, RFC
			 * 8461 4.1): the next one, never plaintext here. */
			dlog(d, TERN_LOG_INFO, "%s: %s", ds->key, ht.why);
			note_failure(g, false, 451, "4.7.5", false, host, "%s", ht.why);
			g->host_i++;
			g->addr_i = 0;
			continue;
		}
		g->addr_i++;
		g->tries++;
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			note_failure(g, false, 451, "4.3.0", false, NULL, "out of memory");
			return false;
		}
		c->dest = ds;
		c->host_i = g->host_i;
		c->strict_tls = ht.require_tls;
		format_relay(c->relay, sizeof(c->relay), host, &ss);
		format_ip(c->ip, sizeof(c->ip), &ss);
		evtimer_assign(&c->idle, d->base, on_idle, c);
		tern_smtp_client_options_init(&co);
		co.helo_name = d->helo;
		co.lmtp = d->o.lmtp && d->relay_host != NULL;
		co.tls = g->no_tls || d->o.tls == TERN_DELIVERY_TLS_NONE
				 ? TERN_SMTP_CLIENT_TLS_NONE
				 : d->o.tls == TERN_DELIVERY_TLS_MAY ? TERN_SMTP_CLIENT_TLS_OPPORTUNISTIC
								       : TERN_SMTP_CLIENT_TLS_REQUIRED;
		if (requiretls || ht.require_tls)
			co.tls = TERN_SMTP_CLIENT_TLS_REQUIRED; /* RFC 8689 4.2.1, RFC 7672 2.2 */
		if (d->relay_host != NULL && d->auth_user != NULL) {
			co.auth_user = d->auth_user;
			co.auth_password = d->auth_password;
			co.auth_required = true;
		}
		if (d->o.server_timeout_ms != 0) {
			co.timeout_greeting_ms = co.timeout_mail_ms = co.timeout_rcpt_ms =
				co.timeout_data_init_ms = co.timeout_data_block_ms =
					co.timeout_data_end_ms = co.timeout_other_ms =
						d->o.server_timeout_ms;
		}
		p = (struct tern__outbound_params){
			.addr = (struct sockaddr *)&ss,
			.addr_len = len,
			.host = host,
			.connect_timeout_ms = d->o.connect_timeout_ms,
			.client = &co,
			.tls = d->tls,
			.tls_verify = requiretls || d->o.tls == TERN_DELIVERY_TLS_VERIFY || ht.verify,
			.tlsa = ht.tlsa,
			.n_tlsa = ht.n_tlsa,
		};
		dlog(d, TERN_LOG_DEBUG, "connecting to %s for %s", c->relay, ds->key);
		r = tern__outbound_start(d->base, &p, &cbs, c, &c->o);
		if (r != 0) {
			note_failure(g, false, 451, "4.3.0", false, c->relay, "cannot connect to %s: %s",
				     c->relay, tern_strerror(r));
			free(c);
			continue;
		}
		c->g = g; /* sent on ready */
		g->conn = c;
		c->next = ds->conns;
		ds->conns = c;
		ds->open++;
		d->conns++;
		return true;
	}
}

/* g needs a connection: an idle one, a new one, or a place in the queue. */
static void group_next(struct group *g)
{
	struct dest *ds = g->dest;
	tern_delivery *d = ds->d;

	if (g->done)
		return;
	if (!rate_allows(ds)) {
		wait_push(g);
		return;
	}
	if (!g->retry_same && !g->no_reuse) {
		for (struct conn *c = ds->conns; c != NULL; c = c->next) {
			/* A connection opened without a DANE or MTA-STS
			 * policy does not carry mail of a domain that has
			 * one now. */
			if (c->ready && c->g == NULL &&
			    (!g->job->msg.requiretls || c->verified_tls) &&
			    (c->strict_tls || !tern__tls_policy_strict(g->pol))) {
				conn_send(c, g);
				return;
			}
		}
	}
	if (ds->open >= d->o.max_per_dest) {
		wait_push(g);
		return;
	}
	g->no_reuse = false;
	if (!conn_open(g)) {
		if (g->fail_text[0] == '\0')
			note_failure(g, false, 451, "4.4.1", false, NULL, "no address of %s to try",
				     g->name);
		group_fail(g);
	}
}

/* ---- addresses --------------------------------------------------------- */

static void on_policy_ready(void *arg)
{
	group_next(arg);
}

static void on_plan(const struct tern__mx_plan *plan, void *arg)
{
	struct group *g = arg;

	g->lookup = NULL;
	g->plan = *plan;
	g->planned = true;
	if (plan->status != TERN__MX_OK) {
		static const int codes[] = {
			[TERN__MX_NULL] = 556,      [TERN__MX_NO_DOMAIN] = 550,
			[TERN__MX_NO_ADDRESS] = 550, [TERN__MX_LOOP] = 554,
			[TERN__MX_TEMPFAIL] = 451,  [TERN__MX_TIMEOUT] = 451,
		};

		note_failure(g, tern__mx_status_permanent(plan->status), codes[plan->status],
			     tern__mx_status_code(plan->status), false, NULL, "%s", plan->detail);
		dlog(g->job->d, TERN_LOG_INFO, "%s: %s", g->name, plan->detail);
		group_fail(g);
		return;
	}
	if (g->pol != NULL) {
		/* The TLSA lookups first: group_next once they are in. */
		if (tern__tls_policy_plan(g->pol, &g->plan, on_policy_ready, g) == 0)
			return;
		note_failure(g, false, 451, "4.3.0", false, NULL, "out of memory");
		group_fail(g);
		return;
	}
	group_next(g);
}

/* A relay given as an address needs no DNS: its plan is made here. */
static void plan_literal(struct group *g)
{
	tern_delivery *d = g->job->d;
	struct tern__mx_host *h = &g->plan.hosts[0];

	memset(&g->plan, 0, sizeof(g->plan));
	snprintf(g->plan.domain, sizeof(g->plan.domain), "%s", d->relay_host);
	snprintf(h->name, sizeof(h->name), "%s", d->relay_host);
	if (d->relay_addr.family == AF_INET6)
		h->v6[h->n_v6++] = d->relay_addr;
	else
		h->v4[h->n_v4++] = d->relay_addr;
	g->plan.n_hosts = 1;
	g->plan.done = true;
	g->plan.status = TERN__MX_OK;
	g->planned = true;
}

static int group_start(struct group *g)
{
	tern_delivery *d = g->job->d;
	unsigned ms = d->o.dns_timeout_ms ? d->o.dns_timeout_ms : DEFAULT_DNS_TIMEOUT_MS;

	if (d->relay_host != NULL && d->relay_is_addr) {
		plan_literal(g); /* a socket path: next_address knows */
		group_next(g);
		return 0;
	}
	d->seed = d->seed * UINT64_C(6364136223846793005) + 1442695040888963407u;
	if (d->relay_host != NULL && d->relay_literal)
		return tern__mx_host_lookup_start(d->dns, g->name, ms, on_plan, g, &g->lookup);
	if (d->relay_host == NULL && (d->penv.dane || d->penv.mta_sts) &&
	    tern__tls_policy_new(&g->pol, &d->penv, g->name) != 0)
		return TERN_ENOMEM;
	return tern__mx_lookup_start(d->dns, g->name, (const char *const *)d->self, d->seed, ms,
				     on_plan, g, &g->lookup);
}

/* ---- sending ----------------------------------------------------------- */

/* The DNS name of a recipient's domain (A-label), or NULL with a reason. */
static bool rcpt_domain(const char *address, char *out, size_t size, const char **why)
{
	const char *at = strrchr(address, '@');
	uint8_t *ace = NULL;
	int rc;

	if (at == NULL || at[1] == '\0') {
		*why = "no domain in the address";
		return false;
	}
	if (at[1] == '[') {
		*why = "address literals are not delivered to";
		return false;
	}
	rc = idn2_lookup_u8((const uint8_t *)(at + 1), &ace, IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK || strlen((char *)ace) >= size ||
	    !tern__dns_hostname_valid((char *)ace, strlen((char *)ace))) {
		*why = "the domain is not a valid domain name";
		idn2_free(ace);
		return false;
	}
	snprintf(out, size, "%s", (char *)ace);
	idn2_free(ace);
	return true;
}

/* Drops a job without its callback: its connections in flight go too (a
 * message cannot be un-sent, and no result may reach a gone job). */
static void job_abandon(struct tern_delivery_job *j)
{
	for (size_t i = 0; i < j->n_groups; i++) {
		struct group *g = j->groups[i];

		wait_remove(g);
		if (g->conn != NULL) {
			struct conn *c = g->conn;

			c->g = NULL;
			g->conn = NULL;
			tern__outbound_abort(c->o);
			conn_unlink(c);
			free(c);
		}
	}
	job_free(j);
}

int tern_delivery_send(tern_delivery *d, const tern_smtp_client_message *msg,
		       const tern_delivery_body *body, tern_delivery_cb *cb, void *arg,
		       tern_delivery_job **job_r)
{
	struct tern_delivery_job *j;
	size_t n;
	int r = TERN_ENOMEM;

	if (job_r != NULL)
		*job_r = NULL;
	if (d == NULL || msg == NULL || body == NULL || cb == NULL || msg->n_rcpts == 0 ||
	    msg->rcpts == NULL || msg->from == NULL || (body->fd < 0 && body->data == NULL &&
							 body->len > 0))
		return TERN_EINVAL;
	n = msg->n_rcpts;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return TERN_ENOMEM;
	j->d = d;
	j->cb = cb;
	j->arg = arg;
	j->body = *body;
	j->msg = *msg;
	j->rcpts = calloc(n, sizeof(*j->rcpts));
	j->out = calloc(n, sizeof(*j->out));
	j->res = calloc(n, sizeof(*j->res));
	j->groups = calloc(n, sizeof(*j->groups));
	j->strings = calloc(2 * n + 2, sizeof(char *));
	event_assign(&j->done, d->base, -1, 0, job_deliver, j);
	if (j->rcpts == NULL || j->out == NULL || j->res == NULL || j->groups == NULL ||
	    j->strings == NULL)
		goto fail;
	if (keep(j, &j->msg.from, msg->from) || keep(j, &j->msg.envid, msg->envid))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		j->rcpts[i] = msg->rcpts[i];
		if (msg->rcpts[i].address == NULL ||
		    keep(j, &j->rcpts[i].address, msg->rcpts[i].address) != 0) {
			r = msg->rcpts[i].address == NULL ? TERN_EINVAL : TERN_ENOMEM;
			goto fail;
		}
	}
	j->msg.rcpts = j->rcpts;
	/* ORCPT: copy type and address into one string "type;addr". */
	for (size_t i = 0; i < n; i++) {
		const tern_smtp_client_rcpt *in = &msg->rcpts[i];

		if (in->orcpt != NULL) {
			size_t tl = in->orcpt_type ? strlen(in->orcpt_type) : 0;
			char *both = malloc(tl + strlen(in->orcpt) + 2);

			if (both == NULL)
				goto fail;
			memcpy(both, in->orcpt_type ? in->orcpt_type : "", tl);
			both[tl] = '\0';
			strcpy(both + tl + 1, in->orcpt);
			j->strings[j->n_strings++] = both;
			j->rcpts[i].orcpt_type = both;
			j->rcpts[i].orcpt = both + tl + 1;
		}
	}
	if (tern__smtpc_path_check(j->msg.from, TERN__PATH_ALLOW_NULL) != 0 ||
	    (j->msg.envid != NULL && tern__has_control(j->msg.envid, strlen(j->msg.envid)))) {
		r = TERN_EINVAL;
		goto fail;
	}
	/* Groups by destination. */
	for (size_t i = 0; i < n; i++) {
		char name[TERN__DNS_NAME_SIZE];
		const char *why = NULL;
		struct group *g = NULL;

		/* One bad recipient must not fail the others sent with it. */
		if (!tern__smtpc_rcpt_valid(&j->rcpts[i])) {
			set_result(j, i, TERN_SMTP_CLIENT_PERMFAIL, 553, "5.1.3",
				   "not a valid recipient address", false, "none", "", false);
			continue;
		}
		if (d->relay_host != NULL) {
			snprintf(name, sizeof(name), "%s", d->relay_host);
		} else if (!rcpt_domain(j->rcpts[i].address, name, sizeof(name), &why)) {
			set_result(j, i, TERN_SMTP_CLIENT_PERMFAIL, 553, "5.1.2", why, false, "none",
				   "", false);
			continue;
		}
		for (size_t k = 0; k < j->n_groups && g == NULL; k++)
			if (strcasecmp(j->groups[k]->name, name) == 0)
				g = j->groups[k];
		if (g == NULL) {
			g = calloc(1, sizeof(*g));
			if (g == NULL || (g->rcpt = calloc(n, sizeof(size_t))) == NULL) {
				free(g);
				goto fail;
			}
			g->job = j;
			snprintf(g->name, sizeof(g->name), "%s", name);
			g->dest = dest_get(d, d->relay_host != NULL ? "[relay]" : name);
			j->groups[j->n_groups++] = g;
			if (g->dest == NULL)
				goto fail;
		}
		g->rcpt[g->n++] = i;
	}
	j->groups_left = j->n_groups;
	j->next = d->jobs;
	if (d->jobs != NULL)
		d->jobs->prev = j;
	d->jobs = j;
	if (j->n_groups == 0) {
		j->finished = true;
		event_active(&j->done, EV_TIMEOUT, 0);
	}
	for (size_t k = 0; k < j->n_groups; k++) {
		struct group *g = j->groups[k];

		if (group_start(g) != 0) {
			note_failure(g, false, 451, "4.3.0", false, NULL, "cannot look up %s", g->name);
			group_fail(g);
		}
	}
	if (job_r != NULL)
		*job_r = j;
	return 0;
fail:
	/* Not linked yet, nothing started. */
	job_free(j);
	return r;
}

void tern_delivery_cancel(tern_delivery_job **jp)
{
	struct tern_delivery_job *j;

	if (jp == NULL || *jp == NULL)
		return;
	j = *jp;
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		j->d->jobs = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	job_abandon(j);
	*jp = NULL;
}

unsigned tern_delivery_connections(const tern_delivery *d)
{
	return d != NULL ? d->conns : 0;
}

void tern_delivery_free(tern_delivery **dp)
{
	tern_delivery *d;

	if (dp == NULL || *dp == NULL)
		return;
	d = *dp;
	while (d->jobs != NULL) {
		struct tern_delivery_job *j = d->jobs;

		tern_delivery_cancel(&j);
	}
	while (d->dests != NULL) {
		struct dest *ds = d->dests;

		while (ds->conns != NULL) {
			struct conn *c = ds->conns;

			tern__outbound_abort(c->o);
			conn_unlink(c);
			free(c);
		}
		event_del(&ds->rate_timer);
		d->dests = ds->next;
		free(ds);
	}
	tern__dns_free(&d->dns);
	tern__tls_client_free(&d->tls);
	tern__sts_cache_free(&d->sts_cache);
	free(d->helo);
	free(d->relay_host);
	free(d->relay_unix);
	free(d->tls_ca);
	free(d->auth_user);
	free(d->auth_password);
	free(d->dns_server);
	free(d->trust_anchor);
	free_self(d->self);
	free(d);
	*dp = NULL;
}
