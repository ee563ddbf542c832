/* A complete embedder in one file: an SMTP server on 127.0.0.1:2526 that
 * accepts mail for one domain, decides recipients asynchronously (as if after
 * a database lookup), and counts the body bytes of each message.
 *
 *   cc embed.c $(pkg-config --cflags --libs tern libevent) -o embed */
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <tern/smtp.h>

struct pending_rcpt {
	tern_smtp_session *session;
	bool ok;
};

static void decide_later(evutil_socket_t fd, short what, void *arg)
{
	struct pending_rcpt *p = arg;
	(void)fd;
	(void)what;
	if (p->ok)
		tern_smtp_session_resume(p->session, NULL);
	else
		tern_smtp_session_reject(p->session, 550, "5.1.1", "No such user here");
}

static int on_rcpt_to(tern_smtp_session *s, const tern_smtp_rcpt *rcpt, tern_smtp_reply *reply_r,
		      void *user_data)
{
	struct event_base *base = user_data;
	const char *at = strrchr(rcpt->address, '@');
	static struct pending_rcpt p; /* one session at a time in this example */
	(void)reply_r;
	p.session = s;
	p.ok = at && strcasecmp(at + 1, "example.org") == 0;
	struct timeval tv = {0, 1000};
	event_base_once(base, -1, EV_TIMEOUT, decide_later, &p, &tv);
	return TERN_SMTP_PENDING;
}

static int on_data_chunk(tern_smtp_session *s, const void *buf, size_t len,
			 tern_smtp_reply *reply_r, void *user_data)
{
	(void)buf;
	(void)reply_r;
	(void)user_data;
	size_t *total = tern_smtp_session_get_context(s);
	*total += len;
	return TERN_SMTP_ACCEPT;
}

static int on_data_start(tern_smtp_session *s, tern_smtp_reply *reply_r, void *user_data)
{
	static size_t total;
	(void)reply_r;
	(void)user_data;
	total = 0;
	tern_smtp_session_set_context(s, &total);
	tern_smtp_session_add_header(s, "X-Embedded-By", "examples/embed.c");
	return TERN_SMTP_ACCEPT;
}

static int on_data_end(tern_smtp_session *s, const tern_smtp_data_info *info,
		       tern_smtp_reply *reply_r, void *user_data)
{
	(void)user_data;
	/* A real server stores the message durably before accepting it. */
	printf("%s: message of %llu octets\n", tern_smtp_session_id(s),
	       (unsigned long long)info->size);
	reply_r->text = "Counted and dropped";
	return TERN_SMTP_ACCEPT;
}

int main(void)
{
	struct event_base *base = event_base_new();
	tern_smtp_options opts;
	tern_smtp_options_init(&opts);
	opts.name = "mx.example.org";
	opts.size = 10 * 1024 * 1024;
	opts.callbacks.on_rcpt_to = on_rcpt_to;
	opts.callbacks.on_data_start = on_data_start;
	opts.callbacks.on_data_chunk = on_data_chunk;
	opts.callbacks.on_data_end = on_data_end;
	opts.user_data = base;

	tern_smtp_server *server;
	int r = tern_smtp_server_new(&server, &opts);
	if (r == 0)
		r = tern_smtp_server_listen(server, "127.0.0.1:2526");
	if (r == 0)
		r = tern_smtp_server_attach(server, base);
	if (r != 0) {
		fprintf(stderr, "embed: %s\n", tern_strerror(r));
		return 1;
	}
	event_base_dispatch(base);
	tern_smtp_server_destroy(&server);
	event_base_free(base);
	return 0;
}
