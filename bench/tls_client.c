/* bench/tls_client.c: load client for bench/tls.sh (SMTP over TLS or plain).
 *
 * Built by bench/tls.sh: cc -O2 -o tls_client bench/tls_client.c -lssl -lcrypto
 *
 *   tls_client idle  PID PORT tls|plain N INFLIGHT SETTLE_MS
 *       Open N sessions to 127.0.0.1:PORT (TLS handshake first if "tls"), each
 *       reads the 220 greeting, sends EHLO and reads the 250 reply, then stays
 *       open. The server's PSS (/proc/PID/smaps_rollup) is read after one
 *       warm-up session and again SETTLE_MS after the last EHLO; then a NOOP
 *       on every session counts those still alive.
 *   tls_client hs    PID PORT CONC COUNT MAXSEC
 *       Full TLS 1.3 handshakes in a loop, CONC at a time, until COUNT are done
 *       or MAXSEC have passed: connect, handshake, read the 220, QUIT, read the
 *       221, close. No session is ever reused. Prints the server's CPU time
 *       (utime+stime of PID) and the client's own, over the same wall time,
 *       each also as a share of it ("busy"), and the share of the wall time
 *       each spent runnable but waiting for its core ("runq": the machine
 *       is shared, so other work may take the server's or the client's CPU).
 *   tls_client msg   PID PORT tls|plain COUNT MAXSEC [USER PASS]
 *       One session: (handshake,) greeting, EHLO, AUTH PLAIN when offered and
 *       USER given, then COUNT messages of 1024 payload bytes one after the
 *       other (MAIL, RCPT, DATA, body, each waiting for its reply). Server CPU
 *       is measured over the messages only.
 *
 * 127.0.0.1 only; every wait is bounded. Output: one line of key=value.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static SSL_CTX *ctx;
static long tickets; /* NewSessionTicket messages seen (never reused) */
static char negotiated[128];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double self_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* utime+stime of the whole server process, seconds. */
static double server_cpu(int pid)
{
	char path[64], buf[2048];
	FILE *f;
	size_t n;
	char *p;
	unsigned long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may hold blanks */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&ut, &st) != 2)
		return -1;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* Pss of the whole process, bytes (the kernel's proportional share). */
static long server_pss(int pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* Time the process's threads spent runnable but waiting for a CPU (seconds,
 * schedstat field 2, summed over /proc/PID/task): other work on the machine
 * taking the core. pid 0: this process. */
static double runq_wait(int pid)
{
	char path[320];
	DIR *d;
	struct dirent *e;
	double sum = 0;

	if (pid == 0)
		pid = getpid();
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		unsigned long long run, wait;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", pid, e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fscanf(f, "%llu %llu", &run, &wait) == 2)
			sum += wait / 1e9;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static int new_ticket(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	(void)sess;
	tickets++;
	return 0; /* we did not keep it */
}

static void make_ctx(void)
{
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		fprintf(stderr, "SSL_CTX_new failed\n");
		exit(1);
	}
	/* Full TLS 1.3 handshakes only: no resumption (no session is offered),
	 * the certificate is self-signed so it is not checked against a CA
	 * (the CertificateVerify signature is still verified by OpenSSL). */
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_ticket);
}

static int tcp_connect(int nonblock)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void note_negotiated(SSL *ssl)
{
	const char *group = "?";
	int nid;

	if (negotiated[0])
		return;
#ifdef SSL_get_negotiated_group
	nid = SSL_get_negotiated_group(ssl);
	if (nid > 0 && OBJ_nid2sn(nid))
		group = OBJ_nid2sn(nid);
#else
	(void)nid;
#endif
	snprintf(negotiated, sizeof(negotiated), "%s/%s/%s", SSL_get_version(ssl),
		 SSL_get_cipher_name(ssl), group);
}

/* ---- event-driven sessions (idle, hs) ---------------------------------- */

enum st { CONNECTING, HANDSHAKE, READING, WRITING, HOLD, DONE, FAILED };

struct conn {
	int fd;
	SSL *ssl;
	enum st st;
	int step;		/* index in the script */
	unsigned events;	/* what epoll waits for */
	size_t len;
	char buf[2048];
};

/* A script is a list of steps: a reply code to read (>0) or a line to send. */
struct step {
	int expect;
	const char *send;
};
static const struct step greet_ehlo[] = {{220, NULL}, {0, "EHLO bench.example\r\n"}, {250, NULL}, {-1, NULL}};
static const struct step noop[] = {{0, "NOOP\r\n"}, {250, NULL}, {-1, NULL}};
static const struct step greet_quit[] = {{220, NULL}, {0, "QUIT\r\n"}, {221, NULL}, {-1, NULL}};

static int ep;
static int use_tls;
static long failures;
static char last_error[200];

static void set_events(struct conn *c, unsigned ev);

static void fail(struct conn *c, const char *why)
{
	set_events(c, 0);
	c->st = FAILED;
	failures++;
	snprintf(last_error, sizeof(last_error), "%s", why);
}

static void set_events(struct conn *c, unsigned ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};

	if (ev == c->events)
		return;
	if (c->events == 0)
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
	else if (ev == 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	else
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

static int want_from(SSL *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return EPOLLIN;
	case SSL_ERROR_WANT_WRITE:
		return EPOLLOUT;
	default:
		return -1;
	}
}

/* A complete reply in buf (last line "NNN "): its code, else 0. */
static int reply_code(struct conn *c)
{
	size_t start = 0;

	for (size_t i = 0; i + 1 < c->len; i++) {
		if (c->buf[i] == '\r' && c->buf[i + 1] == '\n') {
			if (i - start >= 4 && c->buf[start + 3] == ' ')
				return atoi(c->buf + start);
			start = i + 2;
		}
	}
	return 0;
}

/* Run c's script from its current step until it would block or ends. */
static void drive(struct conn *c, const struct step *script)
{
	for (;;) {
		if (c->st == CONNECTING) {
			int err = 0;
			socklen_t l = sizeof(err);

			if (!(c->events & EPOLLOUT)) { /* connect() in progress */
				set_events(c, EPOLLOUT);
				return;
			}
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			if (err != 0) {
				fail(c, strerror(err));
				return;
			}
			if (use_tls) {
				c->ssl = SSL_new(ctx);
				SSL_set_fd(c->ssl, c->fd);
				c->st = HANDSHAKE;
			} else {
				c->st = READING;
			}
			continue;
		}
		if (c->st == HANDSHAKE) {
			int r = SSL_connect(c->ssl);

			if (r == 1) {
				note_negotiated(c->ssl);
				c->st = READING;
				continue;
			}
			int w = want_from(c->ssl, r);
			if (w < 0) {
				ERR_error_string_n(ERR_get_error(), last_error, sizeof(last_error));
				fail(c, last_error);
				return;
			}
			set_events(c, w);
			return;
		}
		const struct step *s = &script[c->step];
		if (s->expect < 0) {
			c->st = HOLD;
			set_events(c, EPOLLIN); /* a close by the server shows as readable */
			return;
		}
		if (s->expect > 0) {
			int code = reply_code(c);

			if (code == s->expect) {
				c->len = 0;
				c->step++;
				continue;
			}
			if (code != 0) {
				char why[64];

				snprintf(why, sizeof(why), "got %d, wanted %d", code, s->expect);
				fail(c, why);
				return;
			}
			if (c->len >= sizeof(c->buf) - 1) {
				fail(c, "reply too long");
				return;
			}
			int r;
			if (use_tls) {
				r = SSL_read(c->ssl, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
				if (r <= 0) {
					int w = want_from(c->ssl, r);

					if (w < 0) {
						fail(c, "closed while reading a reply");
						return;
					}
					set_events(c, w);
					return;
				}
			} else {
				r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
				if (r < 0 && errno == EAGAIN) {
					set_events(c, EPOLLIN);
					return;
				}
				if (r <= 0) {
					fail(c, "closed while reading a reply");
					return;
				}
			}
			c->len += r;
			continue;
		}
		/* A command line: small, so one write normally takes it all. */
		int n = strlen(s->send), r;
		if (use_tls) {
			r = SSL_write(c->ssl, s->send, n);
			if (r <= 0) {
				int w = want_from(c->ssl, r);

				if (w < 0) {
					fail(c, "write failed");
					return;
				}
				set_events(c, w);
				return;
			}
		} else {
			r = write(c->fd, s->send, n);
			if (r < 0 && errno == EAGAIN) {
				set_events(c, EPOLLOUT);
				return;
			}
		}
		if (r != n) {
			fail(c, "short write");
			return;
		}
		c->step++;
	}
}

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->events = 0;
}

static int conn_start(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = tcp_connect(1);
	if (c->fd < 0) {
		c->st = FAILED;
		failures++;
		snprintf(last_error, sizeof(last_error), "connect: %s", strerror(errno));
		return -1;
	}
	c->st = CONNECTING;
	return 0;
}

/* Wait for events and drive the sessions until none is busy or the deadline. */
static void pump(const struct step *script, double deadline, long *busy,
		 void (*on_end)(struct conn *c), int once)
{
	struct epoll_event evs[256];

	while (*busy > 0 && now() < deadline) {
		if (once-- == 1)
			break;
		int n = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->st == FAILED)
				continue;
			if (c->st == HOLD) { /* the server closed or spoke unasked */
				fail(c, "server closed an idle session");
				continue;
			}
			drive(c, script);
			if (c->st == HOLD || c->st == FAILED) {
				(*busy)--;
				if (on_end)
					on_end(c);
			}
		}
	}
}

static int cmd_idle(int pid, const char *mode, long count, long inflight, long settle_ms)
{
	struct conn *cs = calloc(count + 1, sizeof(*cs));
	long started = 0, busy = 0, held = 0, alive = 0;
	double deadline, t0;
	long pss0, pss1;

	if (cs == NULL)
		return 1;
	/* Warm-up: one full session, so lazy start-up allocations (the first
	 * TLS handshake loads providers, Node compiles code) are not charged to
	 * the idle sessions. Then closed. */
	{
		struct conn *w = &cs[count];

		if (conn_start(w) == 0) {
			busy = 1;
			drive(w, greet_ehlo);
			if (w->st == HOLD || w->st == FAILED)
				busy = 0;
			pump(greet_ehlo, now() + 10, &busy, NULL, 0);
		}
		if (w->st != HOLD) {
			printf("error=warmup-failed(%s)\n", last_error);
			return 1;
		}
		set_events(w, 0);
		conn_close(w);
		usleep(1000 * 1000);
	}
	pss0 = server_pss(pid);
	t0 = now();
	deadline = t0 + 300;
	while ((started < count || busy > 0) && now() < deadline) {
		while (started < count && busy < inflight) {
			struct conn *c = &cs[started++];

			if (conn_start(c) != 0)
				continue;
			busy++;
			drive(c, greet_ehlo);
			if (c->st == HOLD || c->st == FAILED)
				busy--;
		}
		/* One round of events, then refill to INFLIGHT sessions in progress. */
		pump(greet_ehlo, deadline, &busy, NULL, 2);
	}
	for (long i = 0; i < count; i++)
		held += cs[i].st == HOLD;
	double opened = now() - t0;
	usleep(settle_ms * 1000);
	pss1 = server_pss(pid);
	/* Still alive? A NOOP each. */
	busy = 0;
	for (long i = 0; i < count; i++) {
		struct conn *c = &cs[i];

		if (c->st != HOLD)
			continue;
		c->st = READING;
		c->step = 0;
		c->len = 0;
		busy++;
		drive(c, noop);
		if (c->st == HOLD || c->st == FAILED)
			busy--;
	}
	pump(noop, now() + 60, &busy, NULL, 0);
	for (long i = 0; i < count; i++) {
		alive += cs[i].st == HOLD;
		conn_close(&cs[i]);
	}
	printf("mode=%s sessions=%ld opened=%ld alive=%ld open_seconds=%.2f pss_before=%ld "
	       "pss_after=%ld per_session=%.0f failures=%ld negotiated=%s%s%s\n",
	       mode, count, held, alive, opened, pss0, pss1, (double)(pss1 - pss0) / count,
	       failures, negotiated[0] ? negotiated : "plain", last_error[0] ? " last_error=" : "",
	       last_error);
	return held == count && alive == count ? 0 : 2;
}

/* hs: the loop of full handshakes. */
static long hs_done, hs_started, hs_target;
static struct conn *hs_pool;
static double hs_deadline;
static long hs_busy;

static void hs_end(struct conn *c)
{
	if (c->st == HOLD)
		hs_done++;
	set_events(c, 0);
	conn_close(c);
	if (hs_started < hs_target && now() < hs_deadline && conn_start(c) == 0) {
		hs_started++;
		hs_busy++;
		drive(c, greet_quit);
		if (c->st == HOLD || c->st == FAILED) {
			hs_busy--;
			hs_end(c);
		}
	}
}

static int cmd_hs(int pid, long conc, long count, double maxsec)
{
	double t0, c0, s0, t1, c1, s1, w0, w1, cw0, cw1;

	use_tls = 1;
	hs_pool = calloc(conc, sizeof(*hs_pool));
	hs_target = count;
	t0 = now();
	c0 = self_cpu();
	s0 = server_cpu(pid);
	w0 = runq_wait(pid);
	cw0 = runq_wait(0);
	hs_deadline = t0 + maxsec;
	for (long i = 0; i < conc && hs_started < count; i++) {
		struct conn *c = &hs_pool[i];

		if (conn_start(c) != 0)
			continue;
		hs_started++;
		hs_busy++;
		drive(c, greet_quit);
		if (c->st == HOLD || c->st == FAILED) {
			hs_busy--;
			hs_end(c);
		}
	}
	pump(greet_quit, hs_deadline + 10, &hs_busy, hs_end, 0);
	t1 = now();
	c1 = self_cpu();
	s1 = server_cpu(pid);
	w1 = runq_wait(pid);
	cw1 = runq_wait(0);
	double wall = t1 - t0, scpu = s1 - s0;
	printf("handshakes=%ld failures=%ld wall=%.3f per_second=%.0f server_cpu=%.3f "
	       "server_busy=%.2f server_us_per_hs=%.1f client_cpu=%.3f client_busy=%.2f "
	       "server_runq=%.2f client_runq=%.2f tickets_per_hs=%.2f negotiated=%s%s%s\n",
	       hs_done, failures, wall, hs_done / wall, scpu, scpu / wall,
	       hs_done ? scpu * 1e6 / hs_done : 0, c1 - c0, (c1 - c0) / wall,
	       (w1 - w0) / wall, (cw1 - cw0) / wall,
	       hs_done ? (double)tickets / hs_done : 0, negotiated,
	       last_error[0] ? " last_error=" : "", last_error);
	return hs_done == count ? 0 : 2;
}

/* ---- msg: one blocking session ----------------------------------------- */

static SSL *m_ssl;
static int m_fd;
static char m_buf[8192];
static size_t m_len;

static int m_write(const char *p, size_t n)
{
	while (n > 0) {
		int r = m_ssl ? SSL_write(m_ssl, p, n) : (int)write(m_fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

/* Read one reply; return its code, -1 on error. Keeps the reply text. */
static int m_reply(void)
{
	m_len = 0;
	for (;;) {
		size_t start = 0;

		for (size_t i = 0; i + 1 < m_len; i++)
			if (m_buf[i] == '\r' && m_buf[i + 1] == '\n') {
				if (i - start >= 4 && m_buf[start + 3] == ' ') {
					m_buf[m_len] = 0;
					return atoi(m_buf + start);
				}
				start = i + 2;
			}
		if (m_len >= sizeof(m_buf) - 1)
			return -1;
		int r = m_ssl ? SSL_read(m_ssl, m_buf + m_len, sizeof(m_buf) - 1 - m_len)
			      : (int)read(m_fd, m_buf + m_len, sizeof(m_buf) - 1 - m_len);
		if (r <= 0)
			return -1;
		m_len += r;
	}
}

static int m_cmd(const char *line, int expect)
{
	if (m_write(line, strlen(line)) != 0)
		return -1;
	int code = m_reply();
	if (code != expect) {
		fprintf(stderr, "%s-> %d %s\n", line, code, code > 0 ? m_buf : "");
		return -1;
	}
	return 0;
}

static int cmd_msg(int pid, const char *mode, long count, double maxsec, const char *user,
		   const char *pass)
{
	static const char head[] = "From: <u@example.com>\r\nTo: <bench@localhost>\r\n"
				   "Subject: bench\r\n\r\n";
	char msg[2048];
	size_t ml = 0;
	struct timeval tv = {.tv_sec = 30};
	long sent = 0;

	/* The payload of bench/measure.py: 1024 bytes of 78-x lines. */
	memcpy(msg, head, sizeof(head) - 1);
	ml = sizeof(head) - 1;
	for (int i = 0; i < 1024; i++)
		msg[ml + i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : 'x';
	ml += 1024;
	memcpy(msg + ml - 2, "\r\n.\r\n", 5);
	ml += 3;

	m_fd = tcp_connect(0);
	if (m_fd < 0)
		return 1;
	setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (strcmp(mode, "tls") == 0) {
		m_ssl = SSL_new(ctx);
		SSL_set_fd(m_ssl, m_fd);
		if (SSL_connect(m_ssl) != 1) {
			printf("error=handshake\n");
			return 1;
		}
		note_negotiated(m_ssl);
	}
	if (m_reply() != 220 || m_cmd("EHLO bench.example\r\n", 250) != 0) {
		printf("error=greeting/ehlo\n");
		return 1;
	}
	if (user && strstr(m_buf, "AUTH") && strstr(m_buf, "PLAIN")) {
		char raw[512], b64[800], line[900];
		int n = snprintf(raw, sizeof(raw), "%c%s%c%s", 0, user, 0, pass);

		EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)raw, n);
		snprintf(line, sizeof(line), "AUTH PLAIN %s\r\n", b64);
		if (m_cmd(line, 235) != 0) {
			printf("error=auth\n");
			return 1;
		}
	}
	/* Warm-up messages, then the measured ones. */
	for (int i = 0; i < 50; i++)
		if (m_cmd("MAIL FROM:<u@example.com>\r\n", 250) || m_cmd("RCPT TO:<bench@localhost>\r\n", 250) ||
		    m_cmd("DATA\r\n", 354) || m_write(msg, ml) || m_reply() != 250) {
			printf("error=warmup-message\n");
			return 1;
		}
	double t0 = now(), c0 = self_cpu(), s0 = server_cpu(pid), deadline = t0 + maxsec;
	while (sent < count && now() < deadline) {
		if (m_cmd("MAIL FROM:<u@example.com>\r\n", 250) || m_cmd("RCPT TO:<bench@localhost>\r\n", 250) ||
		    m_cmd("DATA\r\n", 354) || m_write(msg, ml) || m_reply() != 250)
			break;
		sent++;
	}
	double t1 = now(), c1 = self_cpu(), s1 = server_cpu(pid);
	m_cmd("QUIT\r\n", 221);
	if (m_ssl)
		SSL_free(m_ssl);
	close(m_fd);
	printf("mode=%s messages=%ld wall=%.3f per_second=%.0f server_cpu=%.3f server_us_per_msg=%.1f "
	       "client_cpu=%.3f negotiated=%s\n",
	       mode, sent, t1 - t0, sent / (t1 - t0), s1 - s0, sent ? (s1 - s0) * 1e6 / sent : 0,
	       c1 - c0, negotiated[0] ? negotiated : "plain");
	return sent == count ? 0 : 2;
}

int main(int argc, char **argv)
{
	struct rlimit rl;

	/* As many descriptors as we are allowed. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	make_ctx();
	ep = epoll_create1(0);
	if (argc == 8 && strcmp(argv[1], "idle") == 0) {
		port = atoi(argv[3]);
		use_tls = strcmp(argv[4], "tls") == 0;
		return cmd_idle(atoi(argv[2]), argv[4], atol(argv[5]), atol(argv[6]), atol(argv[7]));
	}
	if (argc == 7 && strcmp(argv[1], "hs") == 0) {
		port = atoi(argv[3]);
		return cmd_hs(atoi(argv[2]), atol(argv[4]), atol(argv[5]), atof(argv[6]));
	}
	if ((argc == 7 || argc == 9) && strcmp(argv[1], "msg") == 0) {
		port = atoi(argv[3]);
		return cmd_msg(atoi(argv[2]), argv[4], atol(argv[5]), atof(argv[6]),
			       argc == 9 ? argv[7] : NULL, argc == 9 ? argv[8] : NULL);
	}
	fprintf(stderr, "usage: see the comment at the top of bench/tls_client.c\n");
	return 64;
}
