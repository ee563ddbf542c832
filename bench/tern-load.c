/* bench/tern-load.c: an SMTP load generator that a fast server cannot outrun.
 *
 * smtp-source sends one command per round trip and runs one process for all
 * its sessions, so on a 2-core machine it saturates its own core before a
 * fast server does. tern-load runs many sessions per thread on libevent
 * bufferevents, sends MAIL, RCPT and DATA (or BDAT) of a message in one write
 * when the server offers PIPELINING (RFC 2920) or CHUNKING (RFC 3030), and
 * shares one body per size among all sessions (written by reference, never
 * copied per message).
 *
 *   tern-load [options] HOST:PORT
 *
 * Built by bench/run.sh with cc (it needs libevent and OpenSSL, not libtern):
 *   cc -O2 -o tern-load bench/tern-load.c $(pkg-config --cflags --libs \
 *      libevent_openssl libssl libcrypto) -lpthread
 *
 * Every run is bounded in count and time: --messages N and/or --duration S,
 * and always --max-seconds (default 120), after which whatever is still in
 * flight is aborted and counted as an error. Every reply is checked: a 4xx or
 * 5xx (or a closed connection, or a timeout) is an error, counted by stage and
 * its first lines printed to stderr. Every session ends with QUIT.
 *
 * Output: one human line on stderr, one key=value line on stdout:
 *   msgs= failed= errors= secs= msgs_per_sec= mb_per_sec= p50_us= p99_us=
 *   p999_us= max_us= client_cpu= client_busy= client_runq= [server_cpu=
 *   server_us_per_msg= server_busy= server_runq=] pipelining= chunking= tls=
 * mb_per_sec counts message bytes (headers and body, without the final dot
 * line) of delivered messages, in 10^6 bytes per second. Latency is from the
 * write of MAIL FROM to the final 250 of DATA or BDAT, per message.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define MAX_THREADS 64
#define MAX_SESSIONS 100000
#define MAX_RCPTS 100
#define MAX_SIZES 16
#define MAX_SIZE (64u << 20)	  /* one message; larger is not a benchmark of SMTP */
#define REPLY_LINE_MAX 2048	  /* RFC 5321 4.5.3.1.5 allows 512; be lenient */
#define ERR_LINES_PER_THREAD 5	  /* error replies printed to stderr, per thread */
#define RETRY_AFTER_ERROR_MS 10	  /* keeps a refused connect from spinning */

/* ---- latency histogram ---------------------------------------------------
 * HdrHistogram's layout in miniature: values below 2^SUB_BITS microseconds
 * are exact; above, each power of two is split into 2^SUB_BITS buckets, so a
 * reported value is at most 1/32 (~3%) above the true one, over 2^40 us of
 * range, in 1184 counters per thread (merged at the end, no locking). */
#define SUB_BITS 5
#define SUB (1u << SUB_BITS)
#define MAX_EXP 40
#define NBUCKETS (SUB + (MAX_EXP + 1 - SUB_BITS) * SUB)

struct hist {
	uint64_t b[NBUCKETS];
	uint64_t n, max;
};

static unsigned bucket_of(uint64_t v)
{
	unsigned e;

	if (v < SUB)
		return (unsigned)v;
	if (v >= (1ull << (MAX_EXP + 1)))
		v = (1ull << (MAX_EXP + 1)) - 1;
	e = 63u - (unsigned)__builtin_clzll(v);
	return SUB + (e - SUB_BITS) * SUB + (unsigned)((v >> (e - SUB_BITS)) & (SUB - 1));
}

/* The highest value that falls in bucket i (what a percentile reports). */
static uint64_t bucket_top(unsigned i)
{
	unsigned e, m;

	if (i < SUB)
		return i;
	e = (i - SUB) / SUB + SUB_BITS;
	m = (i - SUB) % SUB;
	return ((uint64_t)(SUB + m) << (e - SUB_BITS)) + (1ull << (e - SUB_BITS)) - 1;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->b[bucket_of(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static void hist_merge(struct hist *to, const struct hist *from)
{
	for (unsigned i = 0; i < NBUCKETS; i++)
		to->b[i] += from->b[i];
	to->n += from->n;
	if (from->max > to->max)
		to->max = from->max;
}

static uint64_t hist_pct(const struct hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n + 0.999999);
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return bucket_top(i) < h->max ? bucket_top(i) : h->max;
	}
	return h->max;
}

/* ---- configuration (built by main, read-only once threads run) ---------- */

/* One message size: the message is generated once and shared by every
 * session of every thread; DATA writes text + ".\r\n", BDAT writes the
 * "BDAT n LAST" line then text (the first size bytes of the same buffer). */
struct size_class {
	size_t size;
	unsigned weight;
	char *text;		/* size bytes, then ".\r\n" */
	char *env_bdat;		/* MAIL, RCPTs and "BDAT size LAST\r\n" */
	size_t env_bdat_len;
};

enum stage {
	E_CONNECT, E_TLS, E_GREETING, E_EHLO, E_STARTTLS, E_AUTH, E_MAIL, E_RCPT,
	E_DATA, E_BODY, E_RSET, E_QUIT, E_CLOSED, E_TIMEOUT, E_PROTO, E_ABORTED, E_NSTAGES
};
static const char *const stage_name[E_NSTAGES] = {
	"connect", "tls", "greeting", "ehlo", "starttls", "auth", "mail", "rcpt",
	"data", "final", "rset", "quit", "closed", "timeout", "protocol", "aborted",
};

struct config {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int threads, sessions, rcpts;
	uint64_t messages;	/* 0: no count limit (then --duration bounds it) */
	uint64_t msgs_per_conn;	/* 0: unlimited */
	bool conn_per_msg, bdat, starttls, tls, no_pipelining;
	double duration, max_seconds, timeout;
	unsigned long max_errors;
	const char *helo;
	char *auth_line;	/* "AUTH PLAIN <base64>\r\n" or NULL */
	char *env_data;		/* MAIL, RCPTs, "DATA\r\n": the pipelined group */
	size_t env_data_len;
	char *mail_line;	/* the same commands one by one, for servers */
	char *rcpt_line[MAX_RCPTS]; /* without PIPELINING */
	struct size_class sizes[MAX_SIZES];
	int nsizes;
	unsigned total_weight;
	SSL_CTX *ssl_ctx;
	pid_t server_pid;
	double t0, soft_end, hard_end; /* CLOCK_MONOTONIC seconds */
	/* Shared between threads: the only mutable state, and atomic. */
	atomic_ullong claimed;	/* messages started, over all sessions */
	atomic_ulong errors;	/* error events, over all sessions */
	atomic_int seen_pipelining, seen_chunking;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- sessions ------------------------------------------------------------ */

enum state {
	S_IDLE,		/* no connection (before connect, between connections) */
	S_CONNECT,	/* TCP connect, and the handshake for --tls */
	S_GREETING, S_EHLO, S_STARTTLS, S_TLS_HS, S_EHLO_TLS, S_AUTH,
	S_MAIL, S_RCPT, S_DATA, S_BODY, S_RSET, S_QUIT,
	S_DONE		/* no more work for this session */
};

struct worker;

struct session {
	struct worker *w;
	struct bufferevent *bev;
	struct event *retry;
	enum state st;
	bool pipelining, chunking, starttls_offered, auth_plain, tls_on;
	bool direct;		/* a plain socket: writes may go straight to it */
	uint64_t msgs_on_conn;
	/* the transaction in flight */
	const struct size_class *sc;
	bool pipelined, failed, in_txn;
	int rcpt_sent, rcpt_seen, rcpt_ok;
	uint64_t t_start;
};

struct worker {
	struct config *cfg;
	int id;
	pthread_t tid;
	struct event_base *base;
	struct event *hard_timer;
	struct session *sess;
	int nsess, active;
	uint64_t rng;
	/* results, merged by main after join */
	uint64_t ok, failed, bytes, err[E_NSTAGES];
	unsigned err_printed;
	struct hist h;
};

static void session_connect(struct session *s);
static void session_next(struct session *s);

static bool more_work(const struct config *c)
{
	double t = now_s();

	if (t >= c->hard_end || (c->duration > 0 && t >= c->soft_end))
		return false;
	if (atomic_load(&c->errors) >= c->max_errors)
		return false;
	return c->messages == 0 || atomic_load(&c->claimed) < c->messages;
}

/* Takes one message of the --messages budget; false when it is spent. */
static bool claim(struct config *c)
{
	if (!more_work(c))
		return false;
	if (c->messages == 0)
		return true;
	return atomic_fetch_add(&c->claimed, 1) < c->messages;
}

static void note_error(struct session *s, enum stage e, const char *line)
{
	struct worker *w = s->w;

	w->err[e]++;
	atomic_fetch_add(&w->cfg->errors, 1);
	if (s->in_txn)
		s->failed = true;
	if (w->err_printed < ERR_LINES_PER_THREAD) {
		w->err_printed++;
		fprintf(stderr, "tern-load: thread %d: %s: %.200s\n", w->id, stage_name[e],
			line ? line : "(no reply)");
	}
}

/* A transaction is over: count it once. */
static void txn_end(struct session *s, bool delivered)
{
	struct worker *w = s->w;

	if (!s->in_txn)
		return;
	s->in_txn = false;
	if (delivered && !s->failed) {
		w->ok++;
		w->bytes += s->sc->size;
		hist_add(&w->h, now_us() - s->t_start);
	} else {
		w->failed++;
	}
}

static void worker_session_done(struct session *s)
{
	struct worker *w = s->w;

	s->st = S_DONE;
	if (--w->active == 0)
		event_del(w->hard_timer); /* nothing left: let the loop end */
}

/* Drop the connection. After an error the session connects again (later)
 * while there is work; otherwise it is done. */
static void session_close(struct session *s, bool after_error)
{
	struct timeval tv = {0, after_error ? RETRY_AFTER_ERROR_MS * 1000 : 0};

	txn_end(s, false);
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	s->st = S_IDLE;
	s->tls_on = false;
	if (!more_work(s->w->cfg)) {
		worker_session_done(s);
		return;
	}
	/* Not from inside the bufferevent's own callback: from a timer. */
	evtimer_add(s->retry, &tv);
}

/* Queue iov in order. On a plain socket with nothing queued, write it
 * straight away and leave only a short write's rest to the bufferevent:
 * bufferevent_write() arms EV_WRITE and disarms it after the write (two
 * epoll_ctl calls per write), which made the generator cost as much CPU per
 * message as the server it measures. Bit i of stable: iov[i] lives until
 * the end of the run (the shared messages and envelopes) and is queued by
 * reference; otherwise it is copied. */
static void send_iov(struct session *s, const struct iovec *iov, int n, unsigned stable)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	size_t done = 0;

	if (s->direct && evbuffer_get_length(out) == 0) {
		ssize_t w = writev(bufferevent_getfd(s->bev), iov, n);

		/* An error other than EAGAIN: the bufferevent meets it again on
		 * its own write and reports it through event_cb. */
		done = w > 0 ? (size_t)w : 0;
	}
	for (int i = 0; i < n; i++) {
		const char *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (done >= len) {
			done -= len;
			continue;
		}
		if (stable & (1u << i))
			evbuffer_add_reference(out, p + done, len - done, NULL, NULL);
		else
			evbuffer_add(out, p + done, len - done);
		done = 0;
	}
}

static void send_bytes(struct session *s, const char *p, size_t len, bool stable)
{
	struct iovec iov = {(void *)p, len};

	send_iov(s, &iov, 1, stable ? 1u : 0u);
}

static void send_str(struct session *s, const char *p)
{
	send_bytes(s, p, strlen(p), false);
}

static void send_quit(struct session *s)
{
	s->st = S_QUIT;
	send_str(s, "QUIT\r\n");
}

static void send_ehlo(struct session *s, enum state next)
{
	char line[300];

	s->pipelining = s->chunking = s->starttls_offered = s->auth_plain = false;
	snprintf(line, sizeof(line), "EHLO %s\r\n", s->w->cfg->helo);
	s->st = next;
	send_str(s, line);
}

/* Send what the DATA or BDAT stage needs once MAIL and RCPT are answered
 * (without PIPELINING), or straight after them (with it). */
static void send_payload_cmd(struct session *s)
{
	const struct config *c = s->w->cfg;
	char line[64];

	if (c->bdat) {
		/* RFC 3030 2: the chunk follows the BDAT command line at once, with
		 * no 354 to wait for. */
		struct iovec iov[2] = {{line, 0}, {s->sc->text, s->sc->size}};

		iov[0].iov_len = (size_t)snprintf(line, sizeof(line), "BDAT %zu LAST\r\n", s->sc->size);
		/* one writev; the line is copied if it must wait, the message
		 * referenced */
		send_iov(s, iov, 2, 2u);
		s->st = S_BODY;
	} else {
		send_str(s, "DATA\r\n");
		s->st = S_DATA;
	}
}

/* Pick this message's size: one class, or by weight from --size-dist with a
 * per-thread xorshift (reproducible, no shared state). */
static const struct size_class *pick_size(struct worker *w)
{
	const struct config *c = w->cfg;
	unsigned r;

	if (c->nsizes == 1)
		return &c->sizes[0];
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	r = (unsigned)(w->rng % c->total_weight);
	for (int i = 0; i < c->nsizes; i++) {
		if (r < c->sizes[i].weight)
			return &c->sizes[i];
		r -= c->sizes[i].weight;
	}
	return &c->sizes[c->nsizes - 1];
}

static void start_txn(struct session *s)
{
	const struct config *c = s->w->cfg;

	s->sc = pick_size(s->w);
	s->in_txn = true;
	s->failed = false;
	s->rcpt_sent = s->rcpt_seen = s->rcpt_ok = 0;
	s->pipelined = s->pipelining && !c->no_pipelining;
	s->msgs_on_conn++;
	s->t_start = now_us();
	s->st = S_MAIL;
	if (s->pipelined) {
		/* RFC 2920 3.1: MAIL and RCPT may be grouped, and DATA (or the
		 * BDAT LAST chunk, RFC 3030 4.2) is the last command of the group;
		 * the DATA body goes only after the 354. One write for all. */
		if (c->bdat) {
			struct iovec iov[2] = {{s->sc->env_bdat, s->sc->env_bdat_len},
					       {s->sc->text, s->sc->size}};

			send_iov(s, iov, 2, 3u);
		} else {
			send_bytes(s, c->env_data, c->env_data_len, true);
		}
		s->rcpt_sent = c->rcpts;
	} else {
		send_bytes(s, c->mail_line, strlen(c->mail_line), true);
	}
}

/* Between transactions: another message on this connection, a new
 * connection, or QUIT when the budget or the clock says so. */
static void session_next(struct session *s)
{
	const struct config *c = s->w->cfg;

	if ((c->conn_per_msg && s->msgs_on_conn >= 1) ||
	    (c->msgs_per_conn && s->msgs_on_conn >= c->msgs_per_conn)) {
		send_quit(s);
		return;
	}
	if (!claim(s->w->cfg)) {
		send_quit(s);
		return;
	}
	start_txn(s);
}

static void after_setup(struct session *s)
{
	const struct config *c = s->w->cfg;

	if (c->bdat && !s->chunking) {
		note_error(s, E_EHLO, "--bdat: the server does not offer CHUNKING");
		atomic_store(&s->w->cfg->errors, c->max_errors); /* stop everyone */
		send_quit(s);
		return;
	}
	if (s->pipelining)
		atomic_store(&s->w->cfg->seen_pipelining, 1);
	if (s->chunking)
		atomic_store(&s->w->cfg->seen_chunking, 1);
	s->msgs_on_conn = 0;
	session_next(s);
}

static void after_ehlo(struct session *s)
{
	const struct config *c = s->w->cfg;

	if (c->starttls && !s->tls_on) {
		if (!s->starttls_offered) {
			note_error(s, E_STARTTLS, "--starttls: the server does not offer STARTTLS");
			atomic_store(&s->w->cfg->errors, c->max_errors);
			send_quit(s);
			return;
		}
		s->st = S_STARTTLS;
		send_str(s, "STARTTLS\r\n");
		return;
	}
	if (c->auth_line) {
		if (!s->auth_plain) {
			note_error(s, E_AUTH, "--auth: the server does not offer AUTH PLAIN");
			atomic_store(&s->w->cfg->errors, c->max_errors);
			send_quit(s);
			return;
		}
		s->st = S_AUTH;
		send_bytes(s, c->auth_line, strlen(c->auth_line), true);
		return;
	}
	after_setup(s);
}

/* One EHLO line: the extensions this run cares about. */
static void ehlo_keyword(struct session *s, const char *kw)
{
	if (strcasecmp(kw, "PIPELINING") == 0)
		s->pipelining = true;
	else if (strcasecmp(kw, "CHUNKING") == 0)
		s->chunking = true;
	else if (strcasecmp(kw, "STARTTLS") == 0)
		s->starttls_offered = true;
	else if (strncasecmp(kw, "AUTH ", 5) == 0 || strncasecmp(kw, "AUTH=", 5) == 0) {
		for (const char *p = kw + 5; *p;) {
			size_t n = strcspn(p, " ");

			if (n == 5 && strncasecmp(p, "PLAIN", 5) == 0)
				s->auth_plain = true;
			p += n;
			p += strspn(p, " ");
		}
	}
}

static void upgrade_tls(struct session *s)
{
	SSL *ssl = SSL_new(s->w->cfg->ssl_ctx);
	struct bufferevent *tls;

	/* RFC 3207 4.2: nothing the server sent before the handshake counts;
	 * a server sends nothing after its 220, so this drops at most junk. */
	evbuffer_drain(bufferevent_get_input(s->bev), evbuffer_get_length(bufferevent_get_input(s->bev)));
	tls = ssl ? bufferevent_openssl_filter_new(s->w->base, s->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
						   BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (tls == NULL) {
		if (ssl)
			SSL_free(ssl);
		note_error(s, E_TLS, "cannot start TLS");
		session_close(s, true);
		return;
	}
	s->bev = tls; /* owns the plain bufferevent now */
	s->direct = false;
	s->st = S_TLS_HS;
}

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

/* Every wait for the server is bounded: connect, handshake, each reply. */
static void set_timeouts(struct session *s)
{
	double t = s->w->cfg->timeout;
	struct timeval tv = {(time_t)t, (suseconds_t)((t - (double)(time_t)t) * 1e6)};

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* A whole reply (its last line in line, code parsed). Returns false when the
 * session's connection was closed, so the caller stops reading. */
static bool on_reply(struct session *s, int code, const char *line)
{
	const struct config *c = s->w->cfg;
	bool ok2 = code >= 200 && code < 300;

	switch (s->st) {
	case S_GREETING:
		if (code != 220) {
			note_error(s, E_GREETING, line);
			send_quit(s);
			return true;
		}
		send_ehlo(s, S_EHLO);
		return true;
	case S_EHLO:
	case S_EHLO_TLS:
		if (code != 250) {
			note_error(s, E_EHLO, line);
			send_quit(s);
			return true;
		}
		after_ehlo(s);
		return s->bev != NULL;
	case S_STARTTLS:
		if (code != 220) {
			note_error(s, E_STARTTLS, line);
			send_quit(s);
			return true;
		}
		upgrade_tls(s);
		/* the old input is gone with the filter: read from the new bev */
		if (s->bev) {
			bufferevent_setcb(s->bev, read_cb, NULL, event_cb, s);
			set_timeouts(s);
			bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		}
		return false;
	case S_AUTH:
		if (code != 235) {
			note_error(s, E_AUTH, line);
			send_quit(s);
			return true;
		}
		after_setup(s);
		return true;
	case S_MAIL:
		if (code != 250)
			note_error(s, E_MAIL, line);
		s->st = S_RCPT;
		if (!s->pipelined) {
			if (s->failed) {
				s->st = S_RSET;
				send_str(s, "RSET\r\n");
			} else {
				send_str(s, c->rcpt_line[s->rcpt_sent++]);
			}
		}
		return true;
	case S_RCPT:
		s->rcpt_seen++;
		if (ok2)
			s->rcpt_ok++;
		else
			note_error(s, E_RCPT, line);
		if (s->rcpt_seen < s->rcpt_sent || (!s->pipelined && s->rcpt_sent < c->rcpts)) {
			if (!s->pipelined)
				send_str(s, c->rcpt_line[s->rcpt_sent++]);
			return true;
		}
		if (s->pipelined) {
			s->st = c->bdat ? S_BODY : S_DATA;
			return true;
		}
		if (s->rcpt_ok == 0) {
			s->st = S_RSET;
			send_str(s, "RSET\r\n");
			return true;
		}
		send_payload_cmd(s);
		return true;
	case S_DATA:
		if (code != 354) {
			note_error(s, E_DATA, line);
			txn_end(s, false);
			s->st = S_RSET;
			send_str(s, "RSET\r\n");
			return true;
		}
		/* RFC 2920 3.1: a 354 after every RCPT failed still needs the
		 * end of data; send the empty message rather than the body. */
		if (s->rcpt_ok == 0)
			send_str(s, ".\r\n");
		else
			send_bytes(s, s->sc->text, s->sc->size + 3, true);
		s->st = S_BODY;
		return true;
	case S_BODY:
		if (code != 250)
			note_error(s, E_BODY, line);
		if (s->failed) {
			/* whatever part of the transaction the server kept, drop it */
			txn_end(s, false);
			s->st = S_RSET;
			send_str(s, "RSET\r\n");
			return true;
		}
		txn_end(s, true);
		session_next(s);
		return true;
	case S_RSET:
		if (code != 250)
			note_error(s, E_RSET, line);
		txn_end(s, false);
		session_next(s);
		return true;
	case S_QUIT:
		if (code != 221)
			note_error(s, E_QUIT, line);
		session_close(s, false);
		return false;
	default:
		note_error(s, E_PROTO, line);
		session_close(s, true);
		return false;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[REPLY_LINE_MAX + 1];

	/* Bounded: each pass consumes one line of what was read. */
	for (;;) {
		size_t eol_len = 0, n;
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);

		if (p.pos < 0) {
			if (evbuffer_get_length(in) > REPLY_LINE_MAX) {
				note_error(s, E_PROTO, "reply line too long");
				session_close(s, true);
			}
			return;
		}
		n = (size_t)p.pos;
		if (n > REPLY_LINE_MAX) {
			note_error(s, E_PROTO, "reply line too long");
			session_close(s, true);
			return;
		}
		evbuffer_remove(in, line, n);
		evbuffer_drain(in, eol_len);
		line[n] = 0;
		if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (n > 3 && line[3] != ' ' && line[3] != '-')) {
			note_error(s, E_PROTO, line);
			session_close(s, true);
			return;
		}
		if (n > 3 && line[3] == '-') {
			/* a continuation line: only EHLO's carry what we read */
			if ((s->st == S_EHLO || s->st == S_EHLO_TLS) && n > 4)
				ehlo_keyword(s, line + 4);
			continue;
		}
		if ((s->st == S_EHLO || s->st == S_EHLO_TLS) && n > 4 && line[0] == '2')
			ehlo_keyword(s, line + 4);
		if (!on_reply(s, atoi(line), line))
			return;
		if (s->bev != bev)
			return;
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	int one = 1;

	if (what & BEV_EVENT_CONNECTED) {
		if (s->st == S_TLS_HS) {
			/* RFC 3207 4.2: the session starts over after the handshake */
			s->tls_on = true;
			send_ehlo(s, S_EHLO_TLS);
			return;
		}
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s->tls_on = s->w->cfg->tls;
		s->st = S_GREETING;
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		note_error(s, E_TIMEOUT, s->st == S_CONNECT ? "connect or TLS handshake timed out"
							      : "no reply in time");
	} else if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char buf[160];

		if (e) {
			ERR_error_string_n(e, buf, sizeof(buf));
			note_error(s, E_TLS, buf);
		} else {
			snprintf(buf, sizeof(buf), "%s", strerror(EVUTIL_SOCKET_ERROR()));
			note_error(s, s->st == S_CONNECT ? E_CONNECT : E_CLOSED, buf);
		}
	} else if (what & BEV_EVENT_EOF) {
		/* Replies that came with the close count first. */
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
			read_cb(bev, s);
			if (s->bev != bev)
				return;
		}
		/* After QUIT the close is what we asked for. Over a STARTTLS
		 * filter, libevent may report the socket's EOF before the last
		 * TLS record (the 221) is decrypted: not the server's fault. */
		if (s->st == S_QUIT) {
			session_close(s, false);
			return;
		}
		note_error(s, E_CLOSED, s->in_txn ? "connection closed by the server in a transaction"
						  : "connection closed by the server");
	}
	session_close(s, true);
}

static void session_connect(struct session *s)
{
	const struct config *c = s->w->cfg;

	if (c->tls) {
		SSL *ssl = SSL_new(c->ssl_ctx);

		s->bev = ssl ? bufferevent_openssl_socket_new(s->w->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
							     BEV_OPT_CLOSE_ON_FREE) : NULL;
		if (s->bev == NULL && ssl)
			SSL_free(ssl);
	} else {
		s->bev = bufferevent_socket_new(s->w->base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	s->direct = !c->tls;
	if (s->bev == NULL) {
		note_error(s, E_CONNECT, "out of memory");
		session_close(s, true);
		return;
	}
	bufferevent_setcb(s->bev, read_cb, NULL, event_cb, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->st = S_CONNECT;
	if (bufferevent_socket_connect(s->bev, (const struct sockaddr *)&c->addr, (int)c->addrlen) != 0) {
		note_error(s, E_CONNECT, strerror(errno));
		session_close(s, true);
	}
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (!more_work(s->w->cfg)) {
		worker_session_done(s);
		return;
	}
	session_connect(s);
}

/* --max-seconds: abort whatever is still in flight, count it, stop. */
static void hard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < w->nsess; i++) {
		struct session *s = &w->sess[i];

		if (s->st == S_DONE)
			continue;
		if (s->bev || s->in_txn)
			note_error(s, E_ABORTED, "--max-seconds reached");
		txn_end(s, false);
		if (s->bev)
			bufferevent_free(s->bev);
		s->bev = NULL;
		evtimer_del(s->retry);
		s->st = S_DONE;
	}
	w->active = 0;
	event_base_loopbreak(w->base);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct timeval cap;
	double left = w->cfg->hard_end - now_s();

	if (left < 0)
		left = 0;
	cap.tv_sec = (time_t)left;
	cap.tv_usec = (suseconds_t)((left - (double)cap.tv_sec) * 1e6);
	evtimer_add(w->hard_timer, &cap);
	for (int i = 0; i < w->nsess; i++)
		session_connect(&w->sess[i]);
	event_base_dispatch(w->base);
	return NULL;
}

/* ---- set-up --------------------------------------------------------------- */

static void die(const char *msg)
{
	fprintf(stderr, "tern-load: %s\n", msg);
	exit(2);
}

/* A message of exactly size bytes: a few header lines, a blank line, then
 * text lines of at most 78 characters + CRLF. No line starts with '.', so it
 * needs no dot-stuffing, and ".\r\n" is written right after it. */
static char *make_message(size_t size)
{
	static const char hdr[] = "From: <bench@tern-load.test>\r\nTo: <bench@localhost>\r\n"
				  "Subject: tern-load\r\nMessage-ID: <tern-load@tern-load.test>\r\n\r\n";
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
	char *m = malloc(size + 3);
	size_t at = 0, k = 0;

	if (m == NULL)
		die("out of memory");
	if (size >= 2 * sizeof(hdr)) {
		memcpy(m, hdr, sizeof(hdr) - 1);
		at = sizeof(hdr) - 1;
	}
	/* Bounded: each pass writes at least 3 bytes. */
	while (at < size) {
		size_t rem = size - at, len = rem - 2 < 78 ? rem - 2 : 78;

		if (rem < 3) { /* only after a short message: one or two bytes */
			memset(m + at, 'x', rem);
			if (rem == 2)
				memcpy(m + at, "\r\n", 2);
			at = size;
			break;
		}
		/* leave no tail shorter than a one-character line */
		if (rem - (len + 2) > 0 && rem - (len + 2) < 3)
			len -= 3;
		for (size_t i = 0; i < len; i++)
			m[at + i] = alpha[(k + i * 7) % (sizeof(alpha) - 1)];
		m[at] = 'L'; /* never '.' and never a blank first character */
		memcpy(m + at + len, "\r\n", 2);
		at += len + 2;
		k++;
	}
	memcpy(m + size, ".\r\n", 3);
	return m;
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		die("bad size");
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end != 0 && *end != ':')
		die("bad size");
	if (v < 3 || v > MAX_SIZE)
		die("a message size must be from 3 bytes to 64 MiB");
	return (size_t)v;
}

static void add_size(struct config *c, size_t size, unsigned weight)
{
	if (c->nsizes == MAX_SIZES)
		die("too many sizes");
	c->sizes[c->nsizes].size = size;
	c->sizes[c->nsizes].weight = weight;
	c->nsizes++;
	c->total_weight += weight;
}

/* "1k:70,10k:25,100k:5" */
static void parse_dist(struct config *c, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;

	if (copy == NULL)
		die("out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		long w = colon ? strtol(colon + 1, NULL, 10) : 0;

		if (colon == NULL || w <= 0 || w > 1000000)
			die("--size-dist: SIZE:WEIGHT[,SIZE:WEIGHT...]");
		add_size(c, parse_size(tok), (unsigned)w);
	}
	free(copy);
}

/* RFC 5735: 127.0.0.0/8; RFC 4291: ::1 (and 127/8 mapped into IPv6). */
static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

static void parse_target(struct config *c, const char *arg, bool allow_remote)
{
	char host[256];
	const char *port, *colon = strrchr(arg, ':');
	size_t hl;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;

	if (colon == NULL)
		die("target must be HOST:PORT");
	port = colon + 1;
	hl = (size_t)(colon - arg);
	if (hl >= 2 && arg[0] == '[' && arg[hl - 1] == ']')
		arg++, hl -= 2;
	if (hl == 0 || hl >= sizeof(host))
		die("bad host");
	memcpy(host, arg, hl);
	host[hl] = 0;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		die("cannot resolve the target");
	memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
	c->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (!is_loopback(&c->addr) && !allow_remote)
		die("the target is not a loopback address (use --allow-remote to load a remote server)");
}

static char *make_group(const struct config *c, const char *from, const char *last, size_t *len_r,
			   char *rcpt_lines[])
{
	size_t cap = strlen(from) + 32 + strlen(last);
	char *buf, *p;

	for (int i = 0; i < c->rcpts; i++)
		cap += strlen(rcpt_lines[i]);
	buf = malloc(cap);
	if (buf == NULL)
		die("out of memory");
	p = buf;
	p += sprintf(p, "MAIL FROM:<%s>\r\n", from);
	for (int i = 0; i < c->rcpts; i++)
		p += sprintf(p, "%s", rcpt_lines[i]);
	p += sprintf(p, "%s", last);
	*len_r = (size_t)(p - buf);
	return buf;
}

static void make_envelopes(struct config *c, const char *from, const char *to)
{
	const char *at = strchr(to, '@');
	char line[600];

	if (strlen(from) > 256 || strlen(to) > 256 || at == NULL)
		die("--from/--to: an address of at most 256 characters, with an @");
	for (int i = 0; i < c->rcpts; i++) {
		/* recipient i > 0: the local part with i appended, so they differ */
		if (i == 0)
			snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", to);
		else
			snprintf(line, sizeof(line), "RCPT TO:<%.*s%d%s>\r\n", (int)(at - to), to, i, at);
		c->rcpt_line[i] = strdup(line);
		if (c->rcpt_line[i] == NULL)
			die("out of memory");
	}
	snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", from);
	c->mail_line = strdup(line);
	if (c->mail_line == NULL)
		die("out of memory");
	c->env_data = make_group(c, from, "DATA\r\n", &c->env_data_len, c->rcpt_line);
	for (int i = 0; i < c->nsizes; i++) {
		snprintf(line, sizeof(line), "BDAT %zu LAST\r\n", c->sizes[i].size);
		c->sizes[i].env_bdat = make_group(c, from, line, &c->sizes[i].env_bdat_len, c->rcpt_line);
		c->sizes[i].text = make_message(c->sizes[i].size);
	}
}

static void make_auth(struct config *c, const char *userpass)
{
	const char *colon = strchr(userpass, ':');
	size_t ul, pl, rl;
	unsigned char raw[600];
	char b64[820];

	if (colon == NULL)
		die("--auth USER:PASS");
	ul = (size_t)(colon - userpass);
	pl = strlen(colon + 1);
	if (ul + pl + 2 > sizeof(raw))
		die("--auth: too long");
	/* RFC 4616 2: [authzid] NUL authcid NUL passwd */
	raw[0] = 0;
	memcpy(raw + 1, userpass, ul);
	raw[1 + ul] = 0;
	memcpy(raw + 2 + ul, colon + 1, pl);
	rl = ul + pl + 2;
	EVP_EncodeBlock((unsigned char *)b64, raw, (int)rl);
	c->auth_line = malloc(strlen(b64) + 16);
	if (c->auth_line == NULL)
		die("out of memory");
	sprintf(c->auth_line, "AUTH PLAIN %s\r\n", b64);
}

/* utime+stime of a process (all threads), seconds; -1 if it is gone. */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[2048], *p;
	FILE *f;
	size_t n;
	unsigned long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may hold blanks */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Seconds the process's threads spent runnable but waiting for a CPU
 * (schedstat field 2, summed over /proc/PID/task): on a shared machine other
 * work takes the cores, and a figure is only meaningful beside this. */
static double runq_wait(pid_t pid)
{
	char path[320];
	DIR *d;
	struct dirent *e;
	double sum = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		unsigned long long run, wait;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.30s/schedstat", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fscanf(f, "%llu %llu", &run, &wait) == 2)
			sum += (double)wait / 1e9;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static double self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void usage(void)
{
	fputs("usage: tern-load [options] HOST:PORT\n"
	      "  --messages N        messages in all (default 1000 unless --duration)\n"
	      "  --duration S        start no message after S seconds\n"
	      "  --max-seconds S     hard cap: abort what is in flight after S (default 120)\n"
	      "  --threads N         event loops (default 1)\n"
	      "  --sessions N        sessions in all, spread over the threads (default 8)\n"
	      "  --conn-per-msg      a new connection for every message\n"
	      "  --msgs-per-conn N   QUIT and reconnect after N messages (default unlimited)\n"
	      "  --size BYTES        message size, k/m suffixes (default 1024)\n"
	      "  --size-dist LIST    sizes by weight: 1k:70,10k:25,100k:5\n"
	      "  --rcpts N           recipients per message (default 1)\n"
	      "  --bdat              BDAT n LAST instead of DATA (the server must offer CHUNKING)\n"
	      "  --no-pipelining     one command per round trip even if PIPELINING is offered\n"
	      "  --starttls | --tls  STARTTLS after EHLO, or TLS from the first byte\n"
	      "  --auth USER:PASS    AUTH PLAIN after EHLO (and TLS)\n"
	      "  --from A --to A --helo NAME\n"
	      "  --timeout S         per reply, connect and handshake (default 30)\n"
	      "  --max-errors N      stop starting work after N errors (default 100)\n"
	      "  --server-pid PID    also report that process's CPU over the run\n"
	      "  --allow-remote      permit a non-loopback target\n",
	      stderr);
	exit(2);
}

static double parse_num(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != 0 || v < lo || v > hi) {
		fprintf(stderr, "tern-load: %s: out of range (%g..%g)\n", what, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	enum { O_MSG = 256, O_DUR, O_MAXS, O_THR, O_SESS, O_CPM, O_MPC, O_SIZE, O_DIST, O_RCPTS,
	       O_BDAT, O_NOPIPE, O_STLS, O_TLS, O_AUTH, O_FROM, O_TO, O_HELO, O_TMO, O_MAXE,
	       O_SPID, O_REMOTE };
	static const struct option opts[] = {
		{"messages", 1, NULL, O_MSG}, {"duration", 1, NULL, O_DUR},
		{"max-seconds", 1, NULL, O_MAXS}, {"threads", 1, NULL, O_THR},
		{"sessions", 1, NULL, O_SESS}, {"conn-per-msg", 0, NULL, O_CPM},
		{"msgs-per-conn", 1, NULL, O_MPC}, {"size", 1, NULL, O_SIZE},
		{"size-dist", 1, NULL, O_DIST}, {"rcpts", 1, NULL, O_RCPTS},
		{"bdat", 0, NULL, O_BDAT}, {"no-pipelining", 0, NULL, O_NOPIPE},
		{"starttls", 0, NULL, O_STLS}, {"tls", 0, NULL, O_TLS}, {"auth", 1, NULL, O_AUTH},
		{"from", 1, NULL, O_FROM}, {"to", 1, NULL, O_TO}, {"helo", 1, NULL, O_HELO},
		{"timeout", 1, NULL, O_TMO}, {"max-errors", 1, NULL, O_MAXE},
		{"server-pid", 1, NULL, O_SPID}, {"allow-remote", 0, NULL, O_REMOTE},
		{NULL, 0, NULL, 0},
	};
	struct config *c = calloc(1, sizeof(*c));
	const char *from = "bench@tern-load.test", *to = "bench@localhost", *auth = NULL;
	const char *size_arg = NULL, *dist_arg = NULL;
	bool allow_remote = false;
	struct worker *w;
	struct hist total;
	uint64_t ok = 0, failed = 0, bytes = 0, err[E_NSTAGES] = {0}, nerr = 0;
	double srv0 = -1, cpu0, t1, secs, cpu, srv1, srq0 = 0, crq0, srq = 0, crq;
	int opt;

	if (c == NULL)
		die("out of memory");
	atomic_init(&c->claimed, 0);
	atomic_init(&c->errors, 0);
	atomic_init(&c->seen_pipelining, 0);
	atomic_init(&c->seen_chunking, 0);
	c->threads = 1;
	c->sessions = 8;
	c->rcpts = 1;
	c->max_seconds = 120;
	c->timeout = 30;
	c->max_errors = 100;
	c->helo = "tern-load.test";
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case O_MSG: c->messages = (uint64_t)parse_num(optarg, 1, 1e12, "--messages"); break;
		case O_DUR: c->duration = parse_num(optarg, 0.001, 86400, "--duration"); break;
		case O_MAXS: c->max_seconds = parse_num(optarg, 0.001, 86400, "--max-seconds"); break;
		case O_THR: c->threads = (int)parse_num(optarg, 1, MAX_THREADS, "--threads"); break;
		case O_SESS: c->sessions = (int)parse_num(optarg, 1, MAX_SESSIONS, "--sessions"); break;
		case O_CPM: c->conn_per_msg = true; break;
		case O_MPC: c->msgs_per_conn = (uint64_t)parse_num(optarg, 1, 1e12, "--msgs-per-conn"); break;
		case O_SIZE: size_arg = optarg; break;
		case O_DIST: dist_arg = optarg; break;
		case O_RCPTS: c->rcpts = (int)parse_num(optarg, 1, MAX_RCPTS, "--rcpts"); break;
		case O_BDAT: c->bdat = true; break;
		case O_NOPIPE: c->no_pipelining = true; break;
		case O_STLS: c->starttls = true; break;
		case O_TLS: c->tls = true; break;
		case O_AUTH: auth = optarg; break;
		case O_FROM: from = optarg; break;
		case O_TO: to = optarg; break;
		case O_HELO: c->helo = optarg; break;
		case O_TMO: c->timeout = parse_num(optarg, 0.01, 3600, "--timeout"); break;
		case O_MAXE: c->max_errors = (unsigned long)parse_num(optarg, 1, 1e9, "--max-errors"); break;
		case O_SPID: c->server_pid = (pid_t)parse_num(optarg, 1, 1e9, "--server-pid"); break;
		case O_REMOTE: allow_remote = true; break;
		default: usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	if (c->starttls && c->tls)
		die("--starttls and --tls exclude each other");
	if (size_arg && dist_arg)
		die("--size and --size-dist exclude each other");
	if (strlen(c->helo) > 255)
		die("--helo: too long");
	if (c->messages == 0 && c->duration == 0)
		c->messages = 1000; /* never unbounded in count by accident */
	if (dist_arg)
		parse_dist(c, dist_arg);
	else
		add_size(c, size_arg ? parse_size(size_arg) : 1024, 1);
	parse_target(c, argv[optind], allow_remote);
	make_envelopes(c, from, to);
	if (auth)
		make_auth(c, auth);
	if (c->sessions < c->threads)
		c->threads = c->sessions;
	if (c->tls || c->starttls) {
		c->ssl_ctx = SSL_CTX_new(TLS_client_method());
		if (c->ssl_ctx == NULL)
			die("SSL_CTX_new failed");
		/* A load generator against a self-signed loopback server: the
		 * certificate is not checked (the handshake's signature still is). */
		SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
	}
	signal(SIGPIPE, SIG_IGN); /* a server closing under us is an error, not a kill */

	w = calloc((size_t)c->threads, sizeof(*w));
	if (w == NULL)
		die("out of memory");
	for (int t = 0; t < c->threads; t++) {
		struct event_config *ec = event_config_new();

		w[t].cfg = c;
		w[t].id = t;
		w[t].rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(t + 1) * 0xbf58476d1ce4e5b9ull;
		/* each base is used by its own thread only: no locks needed */
		if (ec)
			event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
		w[t].base = ec ? event_base_new_with_config(ec) : NULL;
		if (ec)
			event_config_free(ec);
		if (w[t].base == NULL)
			die("event_base_new failed");
		w[t].hard_timer = evtimer_new(w[t].base, hard_cb, &w[t]);
		w[t].nsess = c->sessions / c->threads + (t < c->sessions % c->threads);
		w[t].active = w[t].nsess;
		w[t].sess = calloc((size_t)w[t].nsess, sizeof(*w[t].sess));
		if (w[t].hard_timer == NULL || w[t].sess == NULL)
			die("out of memory");
		for (int i = 0; i < w[t].nsess; i++) {
			w[t].sess[i].w = &w[t];
			w[t].sess[i].retry = evtimer_new(w[t].base, retry_cb, &w[t].sess[i]);
			if (w[t].sess[i].retry == NULL)
				die("out of memory");
		}
	}

	if (c->server_pid) {
		srv0 = proc_cpu(c->server_pid);
		srq0 = runq_wait(c->server_pid);
	}
	crq0 = runq_wait(getpid());
	cpu0 = self_cpu();
	c->t0 = now_s();
	c->soft_end = c->t0 + c->duration;
	c->hard_end = c->t0 + c->max_seconds;
	for (int t = 0; t < c->threads; t++)
		if (pthread_create(&w[t].tid, NULL, worker_main, &w[t]) != 0)
			die("pthread_create failed");
	for (int t = 0; t < c->threads; t++)
		pthread_join(w[t].tid, NULL);
	t1 = now_s();
	cpu = self_cpu() - cpu0;
	crq = runq_wait(getpid()) - crq0;
	srv1 = c->server_pid ? proc_cpu(c->server_pid) : -1;
	if (c->server_pid)
		srq = runq_wait(c->server_pid) - srq0;

	memset(&total, 0, sizeof(total));
	for (int t = 0; t < c->threads; t++) {
		ok += w[t].ok;
		failed += w[t].failed;
		bytes += w[t].bytes;
		for (int e = 0; e < E_NSTAGES; e++)
			err[e] += w[t].err[e];
		hist_merge(&total, &w[t].h);
	}
	for (int e = 0; e < E_NSTAGES; e++)
		nerr += err[e];
	secs = t1 - c->t0;
	if (secs <= 0)
		secs = 1e-9;

	/* The human line (stderr) with the errors by stage, then the machine one. */
	fprintf(stderr, "tern-load: %llu messages delivered in %.3f s (%.0f/s, %.2f MB/s), %llu failed, %llu errors",
		(unsigned long long)ok, secs, (double)ok / secs, (double)bytes / secs / 1e6,
		(unsigned long long)failed, (unsigned long long)nerr);
	for (int e = 0; e < E_NSTAGES; e++)
		if (err[e])
			fprintf(stderr, " %s:%llu", stage_name[e], (unsigned long long)err[e]);
	fprintf(stderr, "; latency p50 %llu us, p99 %llu us, p99.9 %llu us, max %llu us; own CPU %.2f s (%.0f%% of one core)\n",
		(unsigned long long)hist_pct(&total, 0.50), (unsigned long long)hist_pct(&total, 0.99),
		(unsigned long long)hist_pct(&total, 0.999), (unsigned long long)total.max, cpu,
		100 * cpu / secs);
	printf("msgs=%llu failed=%llu errors=%llu secs=%.3f msgs_per_sec=%.0f mb_per_sec=%.2f "
	       "p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu client_cpu=%.3f client_busy=%.2f",
	       (unsigned long long)ok, (unsigned long long)failed, (unsigned long long)nerr, secs,
	       (double)ok / secs, (double)bytes / secs / 1e6,
	       (unsigned long long)hist_pct(&total, 0.50), (unsigned long long)hist_pct(&total, 0.99),
	       (unsigned long long)hist_pct(&total, 0.999), (unsigned long long)total.max, cpu, cpu / secs);
	printf(" client_runq=%.2f", crq / secs);
	if (c->server_pid) {
		if (srv0 >= 0 && srv1 >= 0)
			printf(" server_cpu=%.3f server_us_per_msg=%.1f server_busy=%.2f server_runq=%.2f",
			       srv1 - srv0, ok ? (srv1 - srv0) * 1e6 / (double)ok : 0.0,
			       (srv1 - srv0) / secs, srq / secs);
		else
			printf(" server=gone");
	}
	printf(" pipelining=%d chunking=%d tls=%d\n", atomic_load(&c->seen_pipelining),
	       atomic_load(&c->seen_chunking), c->tls || c->starttls);

	for (int t = 0; t < c->threads; t++) {
		for (int i = 0; i < w[t].nsess; i++)
			event_free(w[t].sess[i].retry);
		free(w[t].sess);
		event_free(w[t].hard_timer);
		event_base_free(w[t].base);
	}
	free(w);
	for (int i = 0; i < c->nsizes; i++) {
		free(c->sizes[i].text);
		free(c->sizes[i].env_bdat);
	}
	for (int i = 0; i < c->rcpts; i++)
		free(c->rcpt_line[i]);
	free(c->mail_line);
	free(c->env_data);
	free(c->auth_line);
	if (c->ssl_ctx)
		SSL_CTX_free(c->ssl_ctx);
	free(c);
	return nerr == 0 && ok > 0 ? 0 : 1;
}
