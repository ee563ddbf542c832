/* ternd's metrics listener; see metrics.h.
 *
 * Threads: the listener's event_base runs on its own pthread. Stopping
 * needs no libevent threading support (evthread_use_pthreads is
 * process-wide; the server's loops do without it as well): stop() writes a
 * byte to a pipe the loop watches, the loop breaks, and the thread is
 * joined before anything is freed. The counters are read with
 * tern_smtp_server_stats(), which is safe from any thread. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

struct ternd_metrics {
	tern_smtp_server *server;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev;
	int stop_fd[2];
	pthread_t thread;
	bool started;
};

/* ---- the text ------------------------------------------------------ */

struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap <= t->len + (size_t)n)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (p == NULL) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
}

static void head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct text *t, const char *name, const char *help, uint64_t v)
{
	head(t, name, "counter", help);
	put(t, "%s %llu\n", name, (unsigned long long)v);
}

/* RFC 3463 subjects, the reason label of ternd_replies_total. */
static const char *const subjects[TERN_SMTP_STATS_REPLY_SUBJECTS] = {
	"other", "address", "mailbox", "system", "network", "protocol", "content", "policy",
};

char *ternd_metrics_render(const tern_smtp_stats *st, unsigned active, size_t *len_r)
{
	struct text t = {0};

	one(&t, "ternd_connections_total", "Connections accepted (busy ones included).",
	    st->connections_accepted);
	one(&t, "ternd_connections_busy_total",
	    "Connections turned away with 421 because max-clients was reached.",
	    st->connections_busy);
	head(&t, "ternd_connections_refused_total", "counter",
	     "Connections refused with 421 4.7.0 by an abuse limit, by which.");
	put(&t,
	    "ternd_connections_refused_total{reason=\"per_ip\"} %llu\n"
	    "ternd_connections_refused_total{reason=\"rate\"} %llu\n"
	    "ternd_connections_refused_total{reason=\"banned\"} %llu\n",
	    (unsigned long long)st->refused_per_ip, (unsigned long long)st->refused_rate,
	    (unsigned long long)st->refused_banned);
	head(&t, "ternd_sessions_active", "gauge", "Sessions open now.");
	put(&t, "ternd_sessions_active %u\n", active);
	head(&t, "ternd_sessions_total", "counter", "Sessions ended, by how they ended.");
	put(&t,
	    "ternd_sessions_total{outcome=\"quit\"} %llu\n"
	    "ternd_sessions_total{outcome=\"client_gone\"} %llu\n"
	    "ternd_sessions_total{outcome=\"timeout\"} %llu\n"
	    "ternd_sessions_total{outcome=\"closed\"} %llu\n"
	    "ternd_sessions_total{outcome=\"shutdown\"} %llu\n",
	    (unsigned long long)st->sessions_quit, (unsigned long long)st->sessions_gone,
	    (unsigned long long)st->sessions_timeout, (unsigned long long)st->sessions_closed,
	    (unsigned long long)st->sessions_shutdown);
	head(&t, "ternd_messages_total", "counter", "Messages whose end was answered, by result.");
	put(&t,
	    "ternd_messages_total{result=\"accepted\"} %llu\n"
	    "ternd_messages_total{result=\"refused\"} %llu\n",
	    (unsigned long long)st->messages_accepted, (unsigned long long)st->messages_refused);
	one(&t, "ternd_message_bytes_total", "Octets of accepted messages, as the clients sent them.",
	    st->message_bytes);
	head(&t, "ternd_replies_total", "counter",
	     "4xx and 5xx replies, by class and RFC 3463 subject of the enhanced status code.");
	for (unsigned i = 0; i < TERN_SMTP_STATS_REPLY_SUBJECTS; i++)
		put(&t, "ternd_replies_total{class=\"4xx\",reason=\"%s\"} %llu\n", subjects[i],
		    (unsigned long long)st->replies_4xx[i]);
	for (unsigned i = 0; i < TERN_SMTP_STATS_REPLY_SUBJECTS; i++)
		put(&t, "ternd_replies_total{class=\"5xx\",reason=\"%s\"} %llu\n", subjects[i],
		    (unsigned long long)st->replies_5xx[i]);
	head(&t, "ternd_tls_handshakes_total", "counter", "TLS handshakes, by result.");
	put(&t,
	    "ternd_tls_handshakes_total{result=\"ok\"} %llu\n"
	    "ternd_tls_handshakes_total{result=\"failed\"} %llu\n",
	    (unsigned long long)st->tls_handshakes, (unsigned long long)st->tls_failures);
	head(&t, "ternd_auth_total", "counter", "AUTH attempts, by result.");
	put(&t,
	    "ternd_auth_total{result=\"success\"} %llu\n"
	    "ternd_auth_total{result=\"failure\"} %llu\n",
	    (unsigned long long)st->auth_successes, (unsigned long long)st->auth_failures);
	one(&t, "ternd_dns_lookups_total", "Reverse DNS lookups of clients.", st->dns_lookups);
	one(&t, "ternd_dns_failures_total",
	    "Reverse DNS lookups that failed temporarily or timed out.", st->dns_failures);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	*len_r = t.len;
	return t.p;
}

/* ---- HTTP ---------------------------------------------------------- */

static void reply_text(struct evhttp_request *req, int code, const char *reason,
		       const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	if (b != NULL)
		evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	if (b != NULL)
		evbuffer_free(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct ternd_metrics *m = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	size_t plen = strcspn(uri, "?#");
	tern_smtp_stats st = TERN_SMTP_STATS_INIT;
	struct evbuffer *b;
	char *text;
	size_t len = 0;

	if (plen != 8 || strncmp(uri, "/metrics", 8) != 0) {
		reply_text(req, HTTP_NOTFOUND, "Not Found", "not found; try /metrics\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed", "GET only\n");
		return;
	}
	if (tern_smtp_server_stats(m->server, &st) != 0 ||
	    (text = ternd_metrics_render(&st, tern_smtp_server_session_count(m->server), &len)) ==
		    NULL) {
		reply_text(req, HTTP_INTERNAL, "Internal Server Error", "out of memory\n");
		return;
	}
	b = evbuffer_new();
	if (b == NULL || evbuffer_add(b, text, len) != 0) {
		free(text);
		if (b != NULL)
			evbuffer_free(b);
		reply_text(req, HTTP_INTERNAL, "Internal Server Error", "out of memory\n");
		return;
	}
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct ternd_metrics *m = arg;
	char buf[16];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	event_base_loopbreak(m->base);
}

static void *metrics_thread(void *arg)
{
	struct ternd_metrics *m = arg;

	event_base_dispatch(m->base);
	return NULL;
}

static void metrics_free(struct ternd_metrics *m)
{
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->stop_ev != NULL)
		event_free(m->stop_ev);
	if (m->base != NULL)
		event_base_free(m->base);
	for (int i = 0; i < 2; i++)
		if (m->stop_fd[i] >= 0)
			close(m->stop_fd[i]);
	free(m);
}

int ternd_metrics_start(struct ternd_metrics **m_r, const char *addr_port,
			tern_smtp_server *server)
{
	struct ternd_metrics *m;
	char host[64], why[256];
	unsigned port;
	int loopback, saved;
	struct evhttp_bound_socket *bound;

	*m_r = NULL;
	if (ternd_metrics_addr(addr_port, host, sizeof(host), &port, &loopback, why,
			       sizeof(why)) != 0) {
		ternd_log(TERN_LOG_ERROR, NULL, "--metrics: %s", why);
		return TERN_EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return TERN_ENOMEM;
	m->stop_fd[0] = m->stop_fd[1] = -1;
	m->server = server;
	if (pipe2(m->stop_fd, O_NONBLOCK | O_CLOEXEC) != 0 || (m->base = event_base_new()) == NULL ||
	    (m->http = evhttp_new(m->base)) == NULL ||
	    (m->stop_ev = event_new(m->base, m->stop_fd[0], EV_READ | EV_PERSIST, on_stop, m)) ==
		    NULL ||
	    event_add(m->stop_ev, NULL) != 0) {
		metrics_free(m);
		ternd_log(TERN_LOG_ERROR, NULL, "--metrics: out of memory");
		return TERN_ENOMEM;
	}
	/* A scraper asks small questions: bounded requests, a short timeout. */
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 4096);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(m->http, on_request, m);
	bound = evhttp_bind_socket_with_handle(m->http, host, (ev_uint16_t)port);
	if (bound == NULL) {
		saved = errno;
		ternd_log(TERN_LOG_ERROR, NULL, "--metrics %s: cannot listen: %s", addr_port,
			  strerror(saved));
		metrics_free(m);
		errno = saved;
		return TERN_EIO;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char text[INET6_ADDRSTRLEN] = "?";
		unsigned bound_port = port;
		evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);

		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET) {
				const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

				inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
				bound_port = ntohs(sin->sin_port);
			} else if (ss.ss_family == AF_INET6) {
				const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

				inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
				bound_port = ntohs(sin6->sin6_port);
			}
		}
		ternd_log(TERN_LOG_INFO, NULL, "metrics on http://%s%s%s:%u/metrics%s",
			  strchr(text, ':') ? "[" : "", text, strchr(text, ':') ? "]" : "", bound_port,
			  loopback ? "" : " (not loopback: --metrics-allow-remote)");
	}
	/* The thread takes no signal: they are for ternd's signal thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int perr = pthread_create(&m->thread, NULL, metrics_thread, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (perr != 0) {
		ternd_log(TERN_LOG_ERROR, NULL, "--metrics: cannot start its thread: %s",
			  strerror(perr));
		metrics_free(m);
		return TERN_ENOMEM;
	}
	m->started = true;
	*m_r = m;
	return 0;
}

void ternd_metrics_stop(struct ternd_metrics **mp)
{
	struct ternd_metrics *m;

	if (mp == NULL || *mp == NULL)
		return;
	m = *mp;
	*mp = NULL;
	if (m->started) {
		ssize_t w = write(m->stop_fd[1], "s", 1);

		(void)w;
		pthread_join(m->thread, NULL);
	}
	metrics_free(m);
}
