/* Queue ids and the message file header; see qfile.h for the format. */
#include "qfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/xtext.h"

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void put_b62(char *out, unsigned width, uint64_t v)
{
	for (unsigned i = width; i-- > 0;) {
		out[i] = b62[v % 62];
		v /= 62;
	}
}

void q_id_make(struct q_idgen *g, int64_t sec, long usec, char out[Q_ID_SIZE])
{
	uint64_t us = (uint64_t)(sec < 0 ? 0 : sec) * 1000000u + (uint64_t)(usec < 0 ? 0 : usec);
	if (us <= g->last_us)
		us = g->last_us + 1; /* the clock stood still or went back */
	g->last_us = us;
	unsigned char rnd[8] = {0};
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		/* No entropy yet (early boot): the address of a stack byte and
		 * the time still differ between processes; O_EXCL catches the
		 * rest. */
		uint64_t x = (uint64_t)(uintptr_t)&rnd ^ (us * 0x9E3779B97F4A7C15u);
		memcpy(rnd, &x, sizeof(x));
	}
	uint64_t r;
	memcpy(&r, rnd, sizeof(r));
	put_b62(out, 6, us / 1000000u);
	put_b62(out + 6, 4, us % 1000000u);
	put_b62(out + 10, 5, r);
	out[Q_ID_LEN] = '\0';
}

bool q_id_valid(const char *s)
{
	if (s == NULL || strlen(s) != Q_ID_LEN)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (strchr(b62, *p) == NULL)
			return false;
	}
	return true;
}

void q_id_dir(const char *id, char out[3])
{
	uint32_t h = 2166136261u; /* FNV-1a: spreads the random part evenly */
	for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	snprintf(out, 3, "%02x", (unsigned)(h & 0xff));
}

void q_rcpt_domain(const char *addr, char *out, size_t outsize)
{
	const char *at = strrchr(addr, '@');
	size_t o = 0;
	if (at != NULL) {
		for (const char *p = at + 1; *p != '\0' && o + 1 < outsize; p++)
			out[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	}
	if (outsize > 0)
		out[o] = '\0';
}

/* ---- writing ---------------------------------------------------------- */

/* Appends " <xtext of v>" (or " =" for NULL) to line at *len. */
static int put_value(char *line, size_t *len, const char *v)
{
	if (*len + 2 >= Q_LINE_MAX)
		return EINVAL;
	line[(*len)++] = ' ';
	if (v == NULL) {
		line[(*len)++] = '=';
		line[*len] = '\0';
		return 0;
	}
	ssize_t n = tern__xtext_encode(v, strlen(v), line + *len, Q_LINE_MAX - *len);
	if (n < 0)
		return EINVAL;
	*len += (size_t)n;
	return 0;
}

static int put_line(FILE *f, char key, const char *v)
{
	char line[Q_LINE_MAX];
	size_t len = 1;
	line[0] = key;
	int err = put_value(line, &len, v);
	if (err == 0 && fprintf(f, "%s\n", line) < 0)
		err = EIO;
	return err;
}

int q_header_write(FILE *f, const struct q_envelope *env, uint64_t *st_off_r)
{
	return q_header_write_ex(f, env, st_off_r, NULL);
}

int q_header_write_ex(FILE *f, const struct q_envelope *env, uint64_t *st_off_r,
		      uint64_t *z_off_r)
{
	static const char ret_c[] = {'0', 'F', 'H'};
	static const char body_c[] = {'0', '7', '8', 'B'};
	if (env->nrcpt == 0 || env->nrcpt > Q_RCPT_MAX || env->sender == NULL ||
	    (unsigned)env->ret > Q_RET_HDRS || (unsigned)env->body > Q_BODY_BINARYMIME)
		return EINVAL;
	int err = 0;
	if (fprintf(f, "TQ1\nT %lld\n", (long long)env->arrival) < 0)
		return EIO;
	/* The null reverse-path is "=", an empty value. */
	if ((err = put_line(f, 'S', env->sender[0] != '\0' ? env->sender : NULL)) != 0 ||
	    (err = put_line(f, 'V', env->envid)) != 0)
		return err;
	if (fprintf(f, "M %c %c %d %d\n", ret_c[env->ret], body_c[env->body], env->smtputf8 ? 1 : 0,
		    env->requiretls ? 1 : 0) < 0)
		return EIO;
	if ((err = put_line(f, 'A', env->auth_user)) != 0 ||
	    (err = put_line(f, 'C', env->client)) != 0)
		return err;
	for (unsigned i = 0; i < env->nrcpt; i++) {
		const struct q_rcpt *r = &env->rcpts[i];
		if (r->addr == NULL || r->addr[0] == '\0')
			return EINVAL;
		char line[Q_LINE_MAX];
		size_t len = (size_t)snprintf(line, sizeof(line), "R - %u", r->notify & 15u);
		if ((err = put_value(line, &len, r->addr)) != 0 ||
		    (err = put_value(line, &len, r->orcpt)) != 0)
			return err;
		long off = ftell(f);
		if (off < 0)
			return EIO;
		if (st_off_r != NULL)
			st_off_r[i] = (uint64_t)off + 2;
		if (fprintf(f, "%s\n", line) < 0)
			return EIO;
	}
	if (env->prefix_room > 0) {
		long off = ftell(f);

		if (env->prefix_room > Q_PREFIX_MAX || off < 0)
			return off < 0 ? EIO : EINVAL;
		if (z_off_r != NULL)
			*z_off_r = (uint64_t)off;
		if (fprintf(f, "Z %*s\n", (int)env->prefix_room, "") < 0)
			return EIO;
	}
	if (fputc('\n', f) == EOF || ferror(f))
		return EIO;
	return 0;
}

/* ---- reading ---------------------------------------------------------- */

/* Reads one line (without its LF) into line; EBADMSG when too long, at end
 * of file, or holding a NUL. */
static int get_line(FILE *f, char *line, size_t size, uint64_t *off)
{
	if (fgets(line, (int)size, f) == NULL)
		return ferror(f) ? EIO : EBADMSG;
	size_t len = strlen(line);
	*off += len;
	if (len == 0 || line[len - 1] != '\n')
		return EBADMSG;
	line[len - 1] = '\0';
	return 0;
}

/* Decodes the xtext token at *p (up to a space or the end) into a new
 * string; "=" gives NULL. Moves *p past the token and one space. */
static int take_value(char **p, char **out)
{
	char *s = *p;
	char *end = strchr(s, ' ');
	size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
	*p = end != NULL ? end + 1 : s + len;
	*out = NULL;
	if (len == 0)
		return EBADMSG;
	if (len == 1 && s[0] == '=')
		return 0;
	char *v = malloc(len + 1);
	if (v == NULL)
		return ENOMEM;
	ssize_t n = tern__xtext_decode(s, len, v, len + 1);
	if (n < 0 || memchr(v, '\0', (size_t)n) != NULL) {
		free(v);
		return EBADMSG;
	}
	*out = v;
	return 0;
}

/* A line "<key> <value>" with exactly one value. */
static int read_value_line(FILE *f, char key, char **out, uint64_t *off)
{
	char line[Q_LINE_MAX + 2];
	int err = get_line(f, line, sizeof(line), off);
	if (err != 0)
		return err;
	if (line[0] != key || line[1] != ' ')
		return EBADMSG;
	char *p = line + 2;
	err = take_value(&p, out);
	if (err == 0 && *p != '\0') {
		free(*out);
		*out = NULL;
		err = EBADMSG;
	}
	return err;
}

static int parse_rcpt(char *line, uint64_t line_off, struct q_rcpt *r)
{
	if (strncmp(line, "R ", 2) != 0 || strchr("-DF", line[2]) == NULL || line[2] == '\0' ||
	    line[3] != ' ')
		return EBADMSG;
	r->status = line[2];
	r->st_off = line_off + 2;
	char *p = line + 4;
	char *end;
	unsigned long notify = strtoul(p, &end, 10);
	if (end == p || *end != ' ' || notify > 15)
		return EBADMSG;
	r->notify = (unsigned)notify;
	p = end + 1;
	int err = take_value(&p, &r->addr);
	if (err == 0 && r->addr == NULL)
		err = EBADMSG;
	if (err == 0)
		err = take_value(&p, &r->orcpt);
	if (err == 0 && *p != '\0')
		err = EBADMSG;
	return err;
}

static int parse_flags(const char *line, struct q_envelope *env)
{
	char ret, body;
	int utf8, tls, n = 0;
	if (sscanf(line, "M %c %c %d %d%n", &ret, &body, &utf8, &tls, &n) != 4 ||
	    line[n] != '\0' || (utf8 != 0 && utf8 != 1) || (tls != 0 && tls != 1))
		return EBADMSG;
	const char *rp = strchr("0FH", ret), *bp = strchr("078B", body);
	if (rp == NULL || bp == NULL)
		return EBADMSG;
	env->ret = (enum q_ret)(rp - "0FH");
	env->body = (enum q_body)(bp - "078B");
	env->smtputf8 = utf8 == 1;
	env->requiretls = tls == 1;
	return 0;
}

static int read_header(FILE *f, struct q_envelope *env, uint64_t *off)
{
	char line[Q_LINE_MAX + 2];
	int err = get_line(f, line, sizeof(line), off);
	if (err != 0)
		return err;
	if (strcmp(line, "TQ1") != 0)
		return EBADMSG;
	if ((err = get_line(f, line, sizeof(line), off)) != 0)
		return err;
	char *end;
	if (strncmp(line, "T ", 2) != 0)
		return EBADMSG;
	errno = 0;
	long long t = strtoll(line + 2, &end, 10);
	if (errno != 0 || end == line + 2 || *end != '\0')
		return EBADMSG;
	env->arrival = t;
	if ((err = read_value_line(f, 'S', &env->sender, off)) != 0)
		return err;
	if (env->sender == NULL && (env->sender = strdup("")) == NULL)
		return ENOMEM;
	if ((err = read_value_line(f, 'V', &env->envid, off)) != 0 ||
	    (err = get_line(f, line, sizeof(line), off)) != 0 ||
	    (err = parse_flags(line, env)) != 0 ||
	    (err = read_value_line(f, 'A', &env->auth_user, off)) != 0 ||
	    (err = read_value_line(f, 'C', &env->client, off)) != 0)
		return err;
	unsigned cap = 0;
	for (;;) {
		uint64_t line_off = *off;
		if ((err = get_line(f, line, sizeof(line), off)) != 0)
			return err;
		if (line[0] == '\0')
			break;
		if (line[0] == 'Z' && (line[1] == ' ' || line[1] == '\0')) {
			/* Room for a prefix, used or not: the last line. */
			if ((err = get_line(f, line, sizeof(line), off)) != 0)
				return err;
			if (line[0] != '\0')
				return EBADMSG;
			break;
		}
		if (env->nrcpt == Q_RCPT_MAX)
			return EBADMSG;
		if (env->nrcpt == cap) {
			unsigned ncap = cap == 0 ? 4 : cap * 2;
			struct q_rcpt *nr = realloc(env->rcpts, ncap * sizeof(*nr));
			if (nr == NULL)
				return ENOMEM;
			env->rcpts = nr;
			cap = ncap;
		}
		struct q_rcpt *r = &env->rcpts[env->nrcpt];
		memset(r, 0, sizeof(*r));
		env->nrcpt++;
		if ((err = parse_rcpt(line, line_off, r)) != 0)
			return err;
	}
	return env->nrcpt > 0 ? 0 : EBADMSG;
}

int q_header_read(FILE *f, struct q_envelope *env, uint64_t *body_off_r)
{
	memset(env, 0, sizeof(*env));
	uint64_t off = 0;
	int err = read_header(f, env, &off);
	if (err != 0) {
		q_envelope_free(env);
		return err;
	}
	if (body_off_r != NULL)
		*body_off_r = off;
	return 0;
}

void q_envelope_free(struct q_envelope *env)
{
	for (unsigned i = 0; env->rcpts != NULL && i < env->nrcpt; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->envid);
	free(env->auth_user);
	free(env->client);
	memset(env, 0, sizeof(*env));
}

/* strdup that keeps NULL; *ok turns false when a copy fails. */
static char *dup_opt(const char *s, bool *ok)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*ok = false;
	return d;
}

int q_envelope_copy(struct q_envelope *dst, const struct q_envelope *src)
{
	bool ok = true;
	*dst = *src;
	dst->rcpts = NULL;
	dst->sender = dup_opt(src->sender != NULL ? src->sender : "", &ok);
	dst->envid = dup_opt(src->envid, &ok);
	dst->auth_user = dup_opt(src->auth_user, &ok);
	dst->client = dup_opt(src->client, &ok);
	if (src->nrcpt > 0) {
		dst->rcpts = calloc(src->nrcpt, sizeof(*dst->rcpts));
		if (dst->rcpts == NULL)
			ok = false;
	}
	for (unsigned i = 0; ok && i < src->nrcpt; i++) {
		dst->rcpts[i] = src->rcpts[i];
		dst->rcpts[i].addr = dup_opt(src->rcpts[i].addr, &ok);
		dst->rcpts[i].orcpt = dup_opt(src->rcpts[i].orcpt, &ok);
	}
	if (!ok) {
		if (dst->rcpts == NULL)
			dst->nrcpt = 0;
		q_envelope_free(dst);
		return ENOMEM;
	}
	return 0;
}
