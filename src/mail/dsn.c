/* The DSN builder (include/tern/dsn.h): checks the options, decides what
 * the report says and carries, then writes it top to bottom in one pass:
 * header, text part, delivery-status part, the original. Nothing of the
 * original is held in memory but a read buffer, or its header section when
 * only that is returned. */
#include "mail/dsn_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/address.h"
#include "util/base64.h"
#include "util/xtext.h"

#define DEFAULT_SIZE_LIMIT (1024u * 1024u)
#define DEFAULT_HEADER_LIMIT (128u * 1024u)
#define DEFAULT_MAX_DIAGNOSTIC 1024u
/* RFC 3461 4.4: ENVID is at most 100 characters; 4.2: ORCPT at most 500. */
#define ENVID_MAX 100
#define ORCPT_MAX 500
#define TEXT_WIDTH 76

/* The first released layouts: callers compiled against them must work. */
#define FIRST_LAYOUT_SIZE sizeof(tern_dsn_options)
#define FIRST_RCPT_LAYOUT_SIZE sizeof(tern_dsn_rcpt)

/* Why only the header section is returned. */
enum hdrs_reason {
	HDRS_ASKED,      /* RET=HDRS */
	HDRS_NOT_FAILED, /* a delay or success report */
	HDRS_TOO_LARGE,  /* over size_limit */
	HDRS_BINARY,     /* BINARYMIME */
};

struct dsn {
	tern_dsn_options o;
	tern_dsn_rcpt *rcpts;     /* the reported ones, in this library's layout */
	size_t n;
	bool global;              /* RFC 6533 types and UTF-8 */
	bool has[TERN_DSN_EXPANDED + 1];
	bool full, headers, headers_cut;
	enum hdrs_reason why;
	struct tern__buf hdrs;    /* the header section, when only it is returned */
	char boundary[64];
	struct tern__dsn_out out;
};

void tern_dsn_options_init_sized(tern_dsn_options *o, size_t size, size_t rcpt_size)
{
	tern_dsn_options d;

	if (o == NULL || size < offsetof(tern_dsn_options, rcpt_struct_size) + sizeof(size_t))
		return;
	memset(&d, 0, sizeof(d));
	d.original.fd = -1;
	memset(o, 0, size);
	memcpy(o, &d, size < sizeof(d) ? size : sizeof(d));
	o->struct_size = size;
	o->rcpt_struct_size = rcpt_size;
}

bool tern_dsn_wanted(unsigned notify, enum tern_dsn_action action)
{
	if (notify & TERN_SMTP_NOTIFY_NEVER)
		return false;
	/* RFC 3461 4.1: without NOTIFY, the MTA acts as for either
	 * NOTIFY=FAILURE or NOTIFY=FAILURE,DELAY; Tern takes the second and
	 * warns of delays too (docs/dsn.md). */
	if (notify == 0)
		notify = TERN_SMTP_NOTIFY_FAILURE | TERN_SMTP_NOTIFY_DELAY;
	switch (action) {
	case TERN_DSN_FAILED:
		return (notify & TERN_SMTP_NOTIFY_FAILURE) != 0;
	case TERN_DSN_DELAYED:
		return (notify & TERN_SMTP_NOTIFY_DELAY) != 0;
	case TERN_DSN_DELIVERED:
	case TERN_DSN_RELAYED:
	case TERN_DSN_EXPANDED:
		return (notify & TERN_SMTP_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

void tern_dsn_rcpt_from_result(tern_dsn_rcpt *rcpt, const tern_delivery_result *r)
{
	if (rcpt == NULL || r == NULL)
		return;
	rcpt->address = r->address;
	switch (r->cls) {
	case TERN_SMTP_CLIENT_SUCCESS:
		rcpt->action = r->relayed_without_dsn ? TERN_DSN_RELAYED : TERN_DSN_DELIVERED;
		break;
	case TERN_SMTP_CLIENT_TEMPFAIL:
		rcpt->action = TERN_DSN_DELAYED;
		break;
	default:
		rcpt->action = TERN_DSN_FAILED;
		break;
	}
	rcpt->status = r->enhanced;
	rcpt->remote_mta = r->remote ? r->relay : NULL;
	rcpt->diag_code = r->code;
	rcpt->diag_text = r->text;
	rcpt->diag_remote = r->remote;
}

/* Copies a caller's struct of its own size into ours (zeroed past it).
 * -1: not initialised, older than the first layout, or newer with
 * something set that this library cannot honour. */
static int copy_sized(void *dst, size_t dst_size, const void *src, size_t size, size_t first)
{
	if (size < first)
		return -1;
	if (size > dst_size) {
		const unsigned char *extra = (const unsigned char *)src + dst_size;

		for (size_t i = 0; i < size - dst_size; i++) {
			if (extra[i] != 0)
				return -1;
		}
	}
	memset(dst, 0, dst_size);
	memcpy(dst, src, size < dst_size ? size : dst_size);
	return 0;
}

/* An envelope address as the SMTP parser would accept it. RFC 5321
 * 4.5.3.1 bounds a path, so anything longer is invalid without parsing
 * (and the check needs no allocation). */
static bool address_valid(const char *a, unsigned flags)
{
	char path[600], out[600];
	size_t len = strlen(a), consumed = 0;

	if (len + 2 > sizeof(path))
		return false;
	path[0] = '<';
	memcpy(path + 1, a, len);
	path[len + 1] = '>';
	return tern__path_parse(path, len + 2, flags | TERN__PATH_ALLOW_UTF8, out, sizeof(out),
				&consumed) == TERN__PATH_OK &&
	       consumed == len + 2 && out[0] != '\0';
}

/* RFC 3464 2.3.4: status-code = DIGIT "." 1*3DIGIT "." 1*3DIGIT, class 2,
 * 4 or 5 (RFC 3463). */
static bool status_valid(const char *s)
{
	size_t i = 0;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return false;
	i = 1;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;

		if (s[i++] != '.')
			return false;
		while (s[i] >= '0' && s[i] <= '9' && d < 3) {
			i++;
			d++;
		}
		if (d == 0)
			return false;
	}
	return s[i] == '\0';
}

/* RFC 3464 2.3.1: address-type = atom; we allow the registered shape. */
static bool addr_type_valid(const char *t)
{
	size_t len = strlen(t);

	if (len == 0 || len > 32)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = t[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* RFC 5322 3.6.4 id-left = dot-atom-text. */
static bool id_token_valid(const char *t)
{
	size_t len = strlen(t);

	if (len == 0 || len > 200 || t[0] == '.' || t[len - 1] == '.' || strstr(t, "..") != NULL)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c <= 0x20 || c >= 0x7f || strchr("()<>[]:;@\\,\"", c) != NULL)
			return false;
	}
	return true;
}

/* A string with no controls, valid UTF-8, at most max octets. */
static bool text_valid(const char *s, size_t max)
{
	size_t len = strlen(s);

	return len <= max && !tern__has_control(s, len) && tern__dsn_utf8_valid(s, len);
}

static bool is_default_status(const char *s)
{
	return s == NULL || s[0] == '\0';
}

static int check_rcpt(const tern_dsn_rcpt *r)
{
	if (r->address == NULL || !address_valid(r->address, TERN__PATH_ALLOW_POSTMASTER))
		return TERN_EINVAL;
	if ((unsigned)r->action > TERN_DSN_EXPANDED)
		return TERN_EINVAL;
	if (!is_default_status(r->status) && !status_valid(r->status))
		return TERN_EINVAL;
	if ((r->orcpt == NULL) != (r->orcpt_type == NULL))
		return TERN_EINVAL;
	if (r->orcpt != NULL && (!addr_type_valid(r->orcpt_type) || r->orcpt[0] == '\0' ||
				 !text_valid(r->orcpt, ORCPT_MAX)))
		return TERN_EINVAL;
	if (r->remote_mta != NULL && !text_valid(r->remote_mta, 512))
		return TERN_EINVAL;
	return 0;
}

/* Options in; the reported recipients picked. 0, a skip, or an error. */
static int setup(struct dsn *d, const tern_dsn_options *opts)
{
	const tern_dsn_options *o = &d->o;
	size_t rsize;

	if (copy_sized(&d->o, sizeof(d->o), opts, opts->struct_size, FIRST_LAYOUT_SIZE) != 0)
		return TERN_EINVAL;
	rsize = o->rcpt_struct_size;
	if (rsize < FIRST_RCPT_LAYOUT_SIZE || o->rcpts == NULL || o->n_rcpts == 0)
		return TERN_EINVAL;
	if (o->reporting_mta == NULL ||
	    !tern__helo_name_valid(o->reporting_mta, strlen(o->reporting_mta)) ||
	    tern__dsn_has_8bit(o->reporting_mta, strlen(o->reporting_mta)) ||
	    strchr(o->reporting_mta, '@') != NULL)
		return TERN_EINVAL;
	if (o->from != NULL && !address_valid(o->from, 0))
		return TERN_EINVAL;
	if (o->message_id != NULL && !id_token_valid(o->message_id))
		return TERN_EINVAL;
	if (o->envid != NULL && !text_valid(o->envid, ENVID_MAX))
		return TERN_EINVAL;
	/* RFC 5321 4.5.5 ("never a bounce for a bounce"): no notification
	 * is sent for a message whose reverse-path is null. */
	if (o->sender == NULL || o->sender[0] == '\0')
		return TERN_DSN_SKIP_NULL_SENDER;
	if (!address_valid(o->sender, 0))
		return TERN_EINVAL;
	if (o->n_rcpts > SIZE_MAX / sizeof(tern_dsn_rcpt))
		return TERN_ENOMEM;
	d->rcpts = calloc(o->n_rcpts, sizeof(tern_dsn_rcpt));
	if (d->rcpts == NULL)
		return TERN_ENOMEM;
	d->global = o->smtputf8 || tern__dsn_has_8bit(o->sender, strlen(o->sender)) ||
		    (o->from != NULL && tern__dsn_has_8bit(o->from, strlen(o->from)));
	for (size_t i = 0; i < o->n_rcpts; i++) {
		tern_dsn_rcpt r;
		int rc;

		if (copy_sized(&r, sizeof(r), (const char *)o->rcpts + i * rsize, rsize,
			       FIRST_RCPT_LAYOUT_SIZE) != 0)
			return TERN_EINVAL;
		if ((rc = check_rcpt(&r)) != 0)
			return rc;
		if (!tern_dsn_wanted(r.notify, r.action))
			continue;
		d->rcpts[d->n++] = r;
		d->has[r.action] = true;
		if (tern__dsn_has_8bit(r.address, strlen(r.address)))
			d->global = true;
	}
	if (d->n == 0)
		return TERN_DSN_SKIP_NOT_WANTED;
	return 0;
}

/* What of the original goes in (RFC 3461 4.3, docs/dsn.md). */
static int choose_return(struct dsn *d)
{
	const tern_dsn_original *orig = &d->o.original;
	uint64_t limit = d->o.size_limit ? d->o.size_limit : DEFAULT_SIZE_LIMIT;
	size_t hlimit = d->o.header_limit ? d->o.header_limit : DEFAULT_HEADER_LIMIT;
	struct tern__dsn_src src = {.orig = orig};

	if (!tern__dsn_src_present(orig))
		return 0;
	/* RET applies to "failed" DSNs only (RFC 3461 4.3); delay and
	 * success reports carry the headers: nothing was lost. */
	if (!d->has[TERN_DSN_FAILED])
		d->why = HDRS_NOT_FAILED;
	else if (d->o.ret == TERN_SMTP_RET_HDRS)
		d->why = HDRS_ASKED;
	else if (orig->body == TERN_SMTP_BODY_BINARYMIME)
		d->why = HDRS_BINARY;
	else if (orig->len > limit)
		d->why = HDRS_TOO_LARGE;
	else {
		d->full = true;
		return 0;
	}
	d->headers = true;
	/* Read before anything is written, so that the text part can say
	 * whether the headers were cut and the labels can say 8bit. */
	return tern__dsn_read_headers(&src, &d->hdrs, hlimit, &d->headers_cut);
}

/* Random octets as base64: [A-Za-z0-9+/], all of them atext and bchars. */
static int random_b64(char *out, size_t out_size, size_t octets)
{
	unsigned char r[32];

	if (octets > sizeof(r) || getrandom(r, octets, 0) != (ssize_t)octets)
		return TERN_EIO;
	if (tern__base64_encode(r, octets, out, out_size) < 0)
		return TERN_EINVAL;
	/* Padding never appears: octets is a multiple of 3. */
	return 0;
}

static const char *subject(const struct dsn *d)
{
	int kinds = 0;

	for (int a = 0; a <= TERN_DSN_EXPANDED; a++)
		kinds += d->has[a];
	if (kinds == 1 && d->has[TERN_DSN_FAILED])
		return "Undelivered Mail Returned to Sender";
	if (kinds == 1 && d->has[TERN_DSN_DELAYED])
		return "Delayed Mail (still being retried)";
	if (!d->has[TERN_DSN_FAILED] && !d->has[TERN_DSN_DELAYED])
		return "Successful Mail Delivery Report";
	return "Delivery Status Notification";
}

static void write_header(struct dsn *d, const char *msgid)
{
	struct tern__dsn_out *out = &d->out;
	char date[64];

	tern__dsn_date(d->o.now, date);
	if (d->o.from != NULL)
		tern__dsn_out_printf(out, "From: \"Mail Delivery System\" <%s>\r\n", d->o.from);
	else
		tern__dsn_out_printf(out, "From: \"Mail Delivery System\" <MAILER-DAEMON@%s>\r\n",
				     d->o.reporting_mta);
	tern__dsn_out_printf(out, "To: <%s>\r\n", d->o.sender);
	tern__dsn_out_printf(out, "Subject: %s\r\n", subject(d));
	tern__dsn_out_printf(out, "Date: %s\r\n", date);
	tern__dsn_out_printf(out, "Message-ID: <%s@%s>\r\n", msgid, d->o.reporting_mta);
	tern__dsn_out_str(out, "MIME-Version: 1.0\r\n");
	/* RFC 3834 5: a report is an automatic reply. */
	tern__dsn_out_str(out, "Auto-Submitted: auto-replied\r\n");
	/* RFC 6522 3: the report-type names the second part's type; Tern
	 * keeps "delivery-status" for the RFC 6533 global form too, since
	 * readers match on it (docs/dsn.md). */
	tern__dsn_out_printf(out,
			     "Content-Type: multipart/report; report-type=delivery-status;\r\n"
			     "\tboundary=\"%s\"\r\n",
			     d->boundary);
	if (d->global || (d->full && d->o.original.body == TERN_SMTP_BODY_8BITMIME) ||
	    (d->headers && tern__dsn_has_8bit(tern__buf_ptr(&d->hdrs), d->hdrs.len)))
		tern__dsn_out_str(out, "Content-Transfer-Encoding: 8bit\r\n");
	tern__dsn_out_str(out, "\r\nThis is a MIME-encapsulated message.\r\n");
}

static void part_start(struct dsn *d, const char *desc, const char *type, bool eight)
{
	tern__dsn_out_printf(&d->out, "\r\n--%s\r\n", d->boundary);
	tern__dsn_out_printf(&d->out, "Content-Description: %s\r\n", desc);
	tern__dsn_out_printf(&d->out, "Content-Type: %s\r\n", type);
	if (eight)
		tern__dsn_out_str(&d->out, "Content-Transfer-Encoding: 8bit\r\n");
	tern__dsn_out_str(&d->out, "\r\n");
}

/* One paragraph of the text part, wrapped. */
static void para(struct dsn *d, const char *text)
{
	tern__dsn_wrap(&d->out, text, strlen(text), 0, "", TEXT_WIDTH);
	tern__dsn_out_str(&d->out, "\r\n");
}

static const char *action_word(enum tern_dsn_action a)
{
	static const char *const words[] = {"failed", "delayed", "delivered", "relayed",
					    "expanded"};

	return (unsigned)a <= TERN_DSN_EXPANDED ? words[a] : "failed";
}

static const char *default_status(enum tern_dsn_action a)
{
	return a == TERN_DSN_FAILED ? "5.0.0" : a == TERN_DSN_DELAYED ? "4.0.0" : "2.0.0";
}

static const char *rcpt_status(const tern_dsn_rcpt *r)
{
	return is_default_status(r->status) ? default_status(r->action) : r->status;
}

/* The host name of "host[addr]:port", or of "host"; "[addr]" when only an
 * address is known. Empty when none. Without utf8, 8-bit octets (a U-label
 * name) become "?": the report stays 7-bit. */
static void remote_name(const char *relay, bool utf8, char *out, size_t out_size)
{
	size_t len;
	const char *br;

	out[0] = '\0';
	if (relay == NULL || relay[0] == '\0' || strcmp(relay, "none") == 0)
		return;
	br = relay[0] == '[' ? NULL : strchr(relay, '[');
	if (br != NULL) {
		len = (size_t)(br - relay);
	} else if (relay[0] == '[') {
		const char *end = strchr(relay, ']');

		len = end != NULL ? (size_t)(end - relay) + 1 : strlen(relay);
	} else {
		const char *colon = strchr(relay, ':');

		len = colon != NULL && strchr(colon + 1, ':') == NULL ? (size_t)(colon - relay)
								      : strlen(relay);
	}
	if (len >= out_size)
		len = out_size - 1;
	memcpy(out, relay, len);
	out[len] = '\0';
	/* Only a name-like token: the field is "dns; NAME". */
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)out[i] <= 0x20 || (unsigned char)out[i] == 0x7f) {
			out[i] = '\0';
			break;
		}
		if ((unsigned char)out[i] >= 0x80 && !utf8)
			out[i] = '?';
	}
}

/* True when text begins with word followed by white space or its end. */
static bool starts_with_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	return strncmp(text, word, n) == 0 &&
	       (text[n] == '\0' || text[n] == ' ' || text[n] == '\t' || text[n] == '\n');
}

/* "CODE STATUS TEXT" or "TEXT", sanitised and cut. */
static int diagnostic(struct dsn *d, const tern_dsn_rcpt *r, struct tern__buf *b)
{
	size_t max = d->o.max_diagnostic ? d->o.max_diagnostic : DEFAULT_MAX_DIAGNOSTIC;
	const char *text = r->diag_text ? r->diag_text : "";

	if (r->diag_code >= 200 && r->diag_code <= 599) {
		if (tern__buf_printf(b, "%d ", r->diag_code) != 0)
			return TERN_ENOMEM;
		/* The enhanced code once, when the text does not carry it. */
		if (!is_default_status(r->status) && !starts_with_word(text, r->status) &&
		    tern__buf_printf(b, "%s ", r->status) != 0)
			return TERN_ENOMEM;
	}
	return tern__dsn_sanitize(b, text, strlen(text), d->global, max);
}

static bool has_diagnostic(const tern_dsn_rcpt *r)
{
	return (r->diag_text != NULL && r->diag_text[0] != '\0') ||
	       (r->diag_code >= 200 && r->diag_code <= 599);
}

static int write_text_part(struct dsn *d)
{
	struct tern__dsn_out *out = &d->out;
	char date[64], line[320];
	time_t until = 0;
	int rc = 0;

	part_start(d, "Notification",
		   d->global ? "text/plain; charset=utf-8" : "text/plain; charset=us-ascii",
		   d->global);
	snprintf(line, sizeof(line), "This is the mail delivery system at %s.",
		 d->o.reporting_mta);
	para(d, line);
	for (size_t i = 0; i < d->n; i++) {
		if (d->rcpts[i].action == TERN_DSN_DELAYED &&
		    d->rcpts[i].will_retry_until > until)
			until = d->rcpts[i].will_retry_until;
	}
	if (d->has[TERN_DSN_FAILED])
		para(d, "Your message could not be delivered to one or more of its recipients. "
			"This is permanent: the mail system has given up. The reasons are "
			"given below.");
	if (d->has[TERN_DSN_DELAYED]) {
		tern__dsn_date(until, date);
		if (until != 0)
			snprintf(line, sizeof(line),
				 "Your message has not been delivered yet to one or more of its "
				 "recipients. The mail system keeps trying until %s; you do not "
				 "need to send it again. You will be told if it fails for good.",
				 date);
		else
			snprintf(line, sizeof(line),
				 "Your message has not been delivered yet to one or more of its "
				 "recipients. The mail system keeps trying; you do not need to "
				 "send it again. You will be told if it fails for good.");
		para(d, line);
	}
	if (d->has[TERN_DSN_DELIVERED])
		para(d, "Your message was delivered to the recipients marked \"delivered\" "
			"below, as you asked to be told.");
	if (d->has[TERN_DSN_RELAYED])
		para(d, "Your message was passed on for the recipients marked \"relayed\" "
			"below to a mail system that does not send delivery reports: you will "
			"not hear whether it reaches them.");
	if (d->has[TERN_DSN_EXPANDED])
		para(d, "Your message was delivered to the mailing lists or aliases marked "
			"\"expanded\" below, which send it on to their members.");
	for (size_t i = 0; i < d->n && rc == 0; i++) {
		const tern_dsn_rcpt *r = &d->rcpts[i];
		struct tern__buf b;
		char host[256];

		tern__buf_init(&b, 0);
		rc = tern__buf_printf(&b, "<%s>: %s (%s)", r->address, action_word(r->action),
				      rcpt_status(r));
		if (rc == 0)
			tern__dsn_wrap(out, tern__buf_ptr(&b), b.len, 0, "    ", TEXT_WIDTH);
		tern__buf_clear(&b);
		if (rc == 0 && has_diagnostic(r)) {
			remote_name(r->remote_mta, d->global, host, sizeof(host));
			if (r->diag_remote && host[0] != '\0')
				rc = tern__buf_printf(&b, "%s said: ", host);
			else if (r->diag_remote)
				rc = tern__buf_printf(&b, "the remote server said: ");
			if (rc == 0)
				rc = diagnostic(d, r, &b);
			if (rc == 0) {
				tern__dsn_out_str(out, "    ");
				tern__dsn_wrap(out, tern__buf_ptr(&b), b.len, 4, "    ",
					       TEXT_WIDTH);
			}
		}
		tern__buf_free(&b);
		tern__dsn_out_str(out, "\r\n");
	}
	if (rc != 0)
		return rc;
	if (d->full) {
		para(d, "The message is attached.");
	} else if (d->headers) {
		switch (d->why) {
		case HDRS_TOO_LARGE:
			snprintf(line, sizeof(line),
				 "The message is %llu octets, more than the %llu returned in "
				 "full: only its headers are attached.",
				 (unsigned long long)d->o.original.len,
				 (unsigned long long)(d->o.size_limit ? d->o.size_limit
								      : DEFAULT_SIZE_LIMIT));
			break;
		case HDRS_BINARY:
			snprintf(line, sizeof(line),
				 "The message was sent as binary MIME, which a report cannot "
				 "carry: only its headers are attached.");
			break;
		default:
			snprintf(line, sizeof(line), "The headers of the message are attached.");
			break;
		}
		para(d, line);
		if (d->headers_cut) {
			snprintf(line, sizeof(line),
				 "The headers were cut after %zu octets; the rest are left out.",
				 d->o.header_limit ? d->o.header_limit : DEFAULT_HEADER_LIMIT);
			para(d, line);
		}
	}
	return out->err;
}

/* Final-Recipient / Original-Recipient value: "TYPE; ADDRESS". */
static int recipient_value(struct dsn *d, struct tern__buf *b, const char *type, const char *addr,
			   bool orcpt)
{
	size_t len = strlen(addr);
	bool eight = tern__dsn_has_8bit(addr, len);
	bool utf8_type = strcmp(type, "utf-8") == 0;

	if (!utf8_type && !eight) {
		/* RFC 3464 2.3.1: an ORCPT is reported as given (decoded). */
		if (tern__buf_printf(b, "%s; ", type) != 0)
			return TERN_ENOMEM;
		return tern__dsn_sanitize(b, addr, len, false, 0);
	}
	/* RFC 6533 3: a non-ASCII address is of type utf-8, written as
	 * utf-8-addr-unitext in the global form and utf-8-addr-xtext (7-bit)
	 * otherwise. An ORCPT of type utf-8 is already in one of those forms;
	 * only its raw UTF-8 may need escaping. Any other type with
	 * non-ASCII is taken as an address and becomes utf-8. */
	if (tern__buf_append(b, "utf-8; ", 7) != 0)
		return TERN_ENOMEM;
	return tern__dsn_utf8_addr(b, addr, len, d->global, orcpt && utf8_type);
}

static int status_field(struct dsn *d, const char *name, struct tern__buf *b)
{
	int rc = tern__dsn_field(&d->out, name, tern__buf_ptr(b), b->len);

	tern__buf_clear(b);
	return rc;
}

static int write_status_part(struct dsn *d)
{
	struct tern__dsn_out *out = &d->out;
	struct tern__buf b;
	char date[64];
	int rc = 0;

	part_start(d, "Delivery report",
		   d->global ? "message/global-delivery-status" : "message/delivery-status",
		   d->global);
	tern__buf_init(&b, 0);
	/* RFC 3464 2.2: the per-message fields. */
	if (d->o.envid != NULL) {
		size_t len = strlen(d->o.envid);

		/* RFC 3461 4.4 / RFC 3464 2.2.1: the ENVID as given (xtext
		 * decoded). One that is not printable ASCII stays xtext, so
		 * the field remains 7-bit text (a marked compromise). */
		if (tern__dsn_has_8bit(d->o.envid, len)) {
			char *x = malloc(3 * len + 1);

			if (x == NULL) {
				rc = TERN_ENOMEM;
				goto out;
			}
			if (tern__xtext_encode(d->o.envid, len, x, 3 * len + 1) < 0)
				x[0] = '\0';
			rc = tern__buf_append(&b, x, strlen(x));
			free(x);
		} else {
			rc = tern__dsn_sanitize(&b, d->o.envid, len, false, 0);
		}
		if (rc != 0)
			goto out;
		status_field(d, "Original-Envelope-Id", &b);
	}
	tern__dsn_out_printf(out, "Reporting-MTA: dns; %s\r\n", d->o.reporting_mta);
	if (d->o.arrival_date != 0) {
		tern__dsn_date(d->o.arrival_date, date);
		tern__dsn_out_printf(out, "Arrival-Date: %s\r\n", date);
	}
	/* RFC 3464 2.3: one block per recipient, each after an empty line. */
	for (size_t i = 0; i < d->n; i++) {
		const tern_dsn_rcpt *r = &d->rcpts[i];
		char host[256];

		tern__dsn_out_str(out, "\r\n");
		if (r->orcpt != NULL) {
			if ((rc = recipient_value(d, &b, r->orcpt_type, r->orcpt, true)) != 0)
				goto out;
			status_field(d, "Original-Recipient", &b);
		}
		if ((rc = recipient_value(d, &b, "rfc822", r->address, false)) != 0)
			goto out;
		status_field(d, "Final-Recipient", &b);
		tern__dsn_out_printf(out, "Action: %s\r\n", action_word(r->action));
		tern__dsn_out_printf(out, "Status: %s\r\n", rcpt_status(r));
		remote_name(r->remote_mta, d->global, host, sizeof(host));
		if (host[0] != '\0')
			tern__dsn_out_printf(out, "Remote-MTA: dns; %s\r\n", host);
		if (has_diagnostic(r)) {
			/* RFC 3464 2.3.6: diagnostic-type "smtp" for what an
			 * SMTP server said; our own reasons under an X- type,
			 * as Postfix's "X-Postfix". */
			if (tern__buf_append(&b, r->diag_remote ? "smtp; " : "X-Tern; ",
					     r->diag_remote ? 6 : 8) != 0 ||
			    (rc = diagnostic(d, r, &b)) != 0) {
				rc = rc ? rc : TERN_ENOMEM;
				goto out;
			}
			status_field(d, "Diagnostic-Code", &b);
		}
		if (r->last_attempt != 0) {
			tern__dsn_date(r->last_attempt, date);
			tern__dsn_out_printf(out, "Last-Attempt-Date: %s\r\n", date);
		}
		if (r->action == TERN_DSN_DELAYED && r->will_retry_until != 0) {
			tern__dsn_date(r->will_retry_until, date);
			tern__dsn_out_printf(out, "Will-Retry-Until: %s\r\n", date);
		}
	}
out:
	tern__buf_free(&b);
	return rc ? rc : out->err;
}

static int write_original(struct dsn *d)
{
	struct tern__dsn_src src = {.orig = &d->o.original};

	if (d->full) {
		part_start(d, "Undelivered message", d->global ? "message/global" : "message/rfc822",
			   d->global || d->o.original.body == TERN_SMTP_BODY_8BITMIME);
		return tern__dsn_copy_original(&d->out, &src);
	}
	if (d->headers) {
		bool eight = tern__dsn_has_8bit(tern__buf_ptr(&d->hdrs), d->hdrs.len);

		/* RFC 6522 / RFC 6533 6.4: the header section alone. */
		part_start(d, "Headers of the message",
			   d->global ? "message/global-headers" : "text/rfc822-headers",
			   eight);
		tern__dsn_out_write(&d->out, tern__buf_ptr(&d->hdrs), d->hdrs.len);
	}
	return d->out.err;
}

int tern_dsn_build(const tern_dsn_options *opts, tern_dsn_write_cb *write, void *user_data,
		   tern_dsn_info *info_r)
{
	struct dsn *d;
	char msgid[220];
	int rc;

	if (opts == NULL || write == NULL || opts->struct_size == 0)
		return TERN_EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return TERN_ENOMEM;
	tern__buf_init(&d->hdrs, 0);
	tern__dsn_out_init(&d->out, write, user_data);
	if ((rc = setup(d, opts)) != 0)
		goto out;
	if (d->o.now == 0)
		d->o.now = time(NULL);
	if ((rc = choose_return(d)) != 0)
		goto out;
	/* The boundary: "=_tern_" and 192 random bits. Text we generate
	 * cannot contain it by chance, and nobody can put it into the
	 * original or a server's reply on purpose without knowing the
	 * random part: the chance that a given line of the original starts
	 * with it is 2^-192, so it is not searched for (docs/dsn.md). */
	memcpy(d->boundary, "=_tern_", 7);
	if ((rc = random_b64(d->boundary + 7, sizeof(d->boundary) - 7, 24)) != 0)
		goto out;
	if (d->o.message_id != NULL)
		snprintf(msgid, sizeof(msgid), "%s", d->o.message_id);
	else if ((rc = random_b64(msgid, sizeof(msgid), 18)) != 0)
		goto out;
	write_header(d, msgid);
	if ((rc = write_text_part(d)) != 0 || (rc = write_status_part(d)) != 0 ||
	    (rc = write_original(d)) != 0)
		goto out;
	tern__dsn_out_printf(&d->out, "\r\n--%s--\r\n", d->boundary);
	if ((rc = tern__dsn_out_flush(&d->out)) != 0)
		goto out;
	if (info_r != NULL) {
		memset(info_r, 0, sizeof(*info_r));
		info_r->size = d->out.total;
		info_r->smtputf8 = d->global;
		info_r->body = d->out.eight_bit ? TERN_SMTP_BODY_8BITMIME : TERN_SMTP_BODY_7BIT;
		info_r->n_reported = d->n;
		info_r->full = d->full;
		info_r->headers = d->headers;
		info_r->headers_cut = d->headers_cut;
	}
out:
	free(d->rcpts);
	tern__buf_free(&d->hdrs);
	free(d);
	return rc;
}

static int write_fd(const void *data, size_t len, void *user_data)
{
	int fd = *(const int *)user_data;
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return TERN_EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tern_dsn_build_fd(const tern_dsn_options *opts, int fd, tern_dsn_info *info_r)
{
	if (fd < 0)
		return TERN_EINVAL;
	return tern_dsn_build(opts, write_fd, &fd, info_r);
}
