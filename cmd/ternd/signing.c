/* DKIM signing of outbound mail: see signing.h. */
#include "signing.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "tern/dkim.h"
#include "tern/dmarc.h"

#include "mail/header_filter.h"

/* A PEM private key is a few KiB; anything much larger is not one. */
#define MAX_KEY_FILE (64 * 1024)
/* Signatures per message: every key of one domain. */
#define MAX_SIGNATURES 8
/* The header section is kept until the From domain is known (the DKIM
 * signer's own default limit). */
#define MAX_HEADER (1024 * 1024)
#define MAX_FROM_FIELDS 4

struct sign_key {
	char *selector;
	tern_dkim_key *key;
};

struct sign_domain {
	char *name;
	struct sign_key *keys;
	unsigned n;
};

struct ternd_signing {
	atomic_uint refs;
	struct sign_domain *domains;
	unsigned n, nkeys;
};

struct ternd_signing_slot {
	pthread_mutex_t lock;
	struct ternd_signing *cur;
};

struct ternd_signer {
	struct ternd_signing *s;     /* a reference: a reload does not free it */
	time_t now;
	bool in_body;       /* the header section has ended: the choice is made */
	int line;           /* 0 mid-line, 1 at a line start, 2 after a CR there */
	char *hdr;
	size_t hlen, hcap;
	const struct sign_domain *dom;
	tern_dkim_signer *signers[MAX_SIGNATURES];
	unsigned nsig;
	const char *why;    /* set: the message will go unsigned for this reason */
	/* From fields, read from hdr once it is complete */
	char *from[MAX_FROM_FIELDS];
	size_t from_len[MAX_FROM_FIELDS];
	size_t from_fields;
};

/* ---- the key table ---------------------------------------------------- */

static int read_small_file(int dirfd, const char *name, char **buf_r, size_t *len_r)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf;
	ssize_t got;

	if (fd < 0)
		return errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_KEY_FILE) {
		int err = errno != 0 ? errno : EINVAL;

		close(fd);
		return S_ISREG(st.st_mode) ? EFBIG : err;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return ENOMEM;
	}
	got = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (got != st.st_size) {
		free(buf);
		return got < 0 ? errno : EIO;
	}
	buf[got] = '\0';
	*buf_r = buf;
	*len_r = (size_t)got;
	return 0;
}

static bool pem_name(const char *name, size_t *sel_len)
{
	size_t len = strlen(name);

	if (len <= 4 || name[0] == '.' || strcmp(name + len - 4, ".pem") != 0)
		return false;
	*sel_len = len - 4;
	return true;
}

/* Every STATE/domains/DOMAIN/dkim/SELECTOR.pem of one domain. */
static int load_domain(struct ternd_signing *s, int domfd, const char *name, char *err,
		       size_t err_size)
{
	int kfd = openat(domfd, "dkim", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct sign_domain d = {0};
	struct sign_domain *grown;
	struct dirent *de;
	DIR *dir;
	int rc = 0;

	if (kfd < 0)
		return errno == ENOENT ? 0 : (snprintf(err, err_size, "%s/dkim: %s", name,
						       strerror(errno)), -1);
	dir = fdopendir(kfd);
	if (dir == NULL) {
		close(kfd);
		snprintf(err, err_size, "%s/dkim: %s", name, strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		size_t sel_len;
		char *pem = NULL;
		size_t pem_len = 0;
		struct sign_key *keys;
		tern_dkim_key *key = NULL;
		int e;

		if (!pem_name(de->d_name, &sel_len))
			continue;
		if ((e = read_small_file(kfd, de->d_name, &pem, &pem_len)) != 0 ||
		    tern_dkim_key_from_pem(pem, pem_len, &key) != 0) {
			snprintf(err, err_size, "%s/dkim/%s: %s", name, de->d_name,
				 e != 0 ? strerror(e) : "not a usable DKIM private key");
			free(pem);
			rc = -1;
			break;
		}
		free(pem);
		keys = realloc(d.keys, (d.n + 1) * sizeof(*keys));
		if (keys == NULL || (keys[d.n].selector = strndup(de->d_name, sel_len)) == NULL) {
			if (keys != NULL)
				d.keys = keys;
			tern_dkim_key_free(&key);
			snprintf(err, err_size, "out of memory");
			rc = -1;
			break;
		}
		d.keys = keys;
		d.keys[d.n++].key = key;
	}
	closedir(dir);
	if (rc == 0 && d.n > 0) {
		grown = realloc(s->domains, (s->n + 1) * sizeof(*grown));
		d.name = strdup(name);
		if (grown == NULL || d.name == NULL) {
			if (grown != NULL)
				s->domains = grown;
			snprintf(err, err_size, "out of memory");
			rc = -1;
		} else {
			for (char *p = d.name; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			s->domains = grown;
			s->domains[s->n++] = d;
			s->nkeys += d.n;
			return 0;
		}
	}
	for (unsigned i = 0; i < d.n; i++) {
		free(d.keys[i].selector);
		tern_dkim_key_free(&d.keys[i].key);
	}
	free(d.keys);
	free(d.name);
	return rc;
}

int ternd_signing_load(struct ternd_signing **s_r, const char *state_dir, char *err,
		       size_t err_size)
{
	struct ternd_signing *s;
	char path[4096];
	struct dirent *de;
	DIR *dir;
	int rc = 0;

	*s_r = NULL;
	snprintf(path, sizeof(path), "%s/domains", state_dir);
	dir = opendir(path);
	if (dir == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (s != NULL)
		atomic_init(&s->refs, 1);
	if (s == NULL) {
		closedir(dir);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		int domfd;

		if (de->d_name[0] == '.')
			continue;
		domfd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (domfd < 0)
			continue;   /* not a directory */
		rc = load_domain(s, domfd, de->d_name, err, err_size);
		close(domfd);
	}
	closedir(dir);
	if (rc != 0 || s->n == 0) {
		ternd_signing_free(&s);
		return rc;
	}
	*s_r = s;
	return 0;
}

void ternd_signing_free(struct ternd_signing **sp)
{
	struct ternd_signing *s = sp != NULL ? *sp : NULL;

	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->n; i++) {
		for (unsigned j = 0; j < s->domains[i].n; j++) {
			free(s->domains[i].keys[j].selector);
			tern_dkim_key_free(&s->domains[i].keys[j].key);
		}
		free(s->domains[i].keys);
		free(s->domains[i].name);
	}
	free(s->domains);
	free(s);
	*sp = NULL;
}

void ternd_signing_put(struct ternd_signing **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	if (atomic_fetch_sub(&(*sp)->refs, 1) == 1)
		ternd_signing_free(sp);
	*sp = NULL;
}

int ternd_signing_slot_new(struct ternd_signing_slot **slot_r, struct ternd_signing *s)
{
	struct ternd_signing_slot *slot = calloc(1, sizeof(*slot));

	*slot_r = NULL;
	if (slot == NULL) {
		ternd_signing_put(&s);
		return -1;
	}
	pthread_mutex_init(&slot->lock, NULL);
	slot->cur = s;
	*slot_r = slot;
	return 0;
}

void ternd_signing_slot_free(struct ternd_signing_slot **slot)
{
	if (slot == NULL || *slot == NULL)
		return;
	ternd_signing_put(&(*slot)->cur);
	pthread_mutex_destroy(&(*slot)->lock);
	free(*slot);
	*slot = NULL;
}

struct ternd_signing *ternd_signing_get(struct ternd_signing_slot *slot)
{
	struct ternd_signing *s;

	if (slot == NULL)
		return NULL;
	pthread_mutex_lock(&slot->lock);
	s = slot->cur;
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&slot->lock);
	return s;
}

int ternd_signing_reload(struct ternd_signing_slot *slot, const char *state_dir, char *err,
			 size_t err_size)
{
	struct ternd_signing *s = NULL, *old;

	if (ternd_signing_load(&s, state_dir, err, err_size) != 0)
		return -1;
	pthread_mutex_lock(&slot->lock);
	old = slot->cur;
	slot->cur = s;
	pthread_mutex_unlock(&slot->lock);
	ternd_signing_put(&old);
	return 0;
}

void ternd_signing_counts(const struct ternd_signing *s, unsigned *domains, unsigned *keys)
{
	*domains = s != NULL ? s->n : 0;
	*keys = s != NULL ? s->nkeys : 0;
}

/* The configured domain for a From domain: itself, or the closest parent
 * (mail from lists.example.com is signed d=example.com, which DMARC's
 * relaxed alignment accepts). */
static const struct sign_domain *find_domain(const struct ternd_signing *s, const char *from)
{
	const struct sign_domain *best = NULL;
	size_t flen = strlen(from);

	for (unsigned i = 0; i < s->n; i++) {
		const char *name = s->domains[i].name;
		size_t nlen = strlen(name);
		bool match = nlen == flen ? strcmp(name, from) == 0
					  : nlen < flen && from[flen - nlen - 1] == '.' &&
						    strcmp(from + flen - nlen, name) == 0;

		if (match && (best == NULL || strlen(best->name) < nlen))
			best = &s->domains[i];
	}
	return best;
}

/* ---- one message -------------------------------------------------------- */

int ternd_signer_new(struct ternd_signer **m_r, struct ternd_signing *s, time_t now)
{
	struct ternd_signer *m = calloc(1, sizeof(*m));

	*m_r = NULL;
	if (m == NULL)
		return -1;
	m->s = s;
	atomic_fetch_add(&s->refs, 1);
	m->now = now;
	m->line = 1;
	*m_r = m;
	return 0;
}

static bool keep_from(const char *field, size_t len, size_t name_len, bool truncated, void *arg)
{
	struct ternd_signer *m = arg;
	size_t i = m->from_fields++;

	if (i < MAX_FROM_FIELDS && !truncated) {
		m->from[i] = strndup(field + name_len + 1, len - name_len - 1);
		m->from_len[i] = m->from[i] != NULL ? len - name_len - 1 : 0;
	}
	return true;
}

static int discard(const void *data, size_t len, void *arg)
{
	return 0;
}

static void feed_signers(struct ternd_signer *m, const void *data, size_t len)
{
	for (unsigned i = 0; i < m->nsig && m->why == NULL; i++) {
		if (tern_dkim_signer_feed(m->signers[i], data, len) != 0)
			m->why = "out of memory while signing";
	}
}

/* The header section is complete: who signs, if anyone. */
static void choose(struct ternd_signer *m)
{
	static const char *const watch[] = {"From", NULL};
	struct tern__hdr_filter f;
	struct tern_dmarc_from from = {0};
	const char *values[MAX_FROM_FIELDS];
	size_t n = m->from_fields < MAX_FROM_FIELDS ? m->from_fields : MAX_FROM_FIELDS;
	int rc;

	m->in_body = true;
	if (m->why != NULL)
		return;
	tern__hdr_filter_init(&f, watch, keep_from, discard, m);
	(void)tern__hdr_filter_feed(&f, m->hdr, m->hlen);
	(void)tern__hdr_filter_end(&f);
	tern__hdr_filter_clear(&f);
	n = m->from_fields < MAX_FROM_FIELDS ? m->from_fields : MAX_FROM_FIELDS;
	for (size_t i = 0; i < n; i++) {
		if (m->from[i] == NULL) {
			m->why = "From field unreadable";
			return;
		}
		values[i] = m->from[i];
	}
	rc = tern_dmarc_from_domains(values, m->from_len, n, &from);
	if (rc != 0 || from.count != 1) {
		/* No From, several, or mailboxes of different domains: no
		 * one d= speaks for the author. */
		m->why = rc == TERN_DMARC_FROM_NONE ? NULL : "no single From domain";
		tern_dmarc_from_clear(&from);
		return;
	}
	m->dom = find_domain(m->s, from.domains[0]);
	tern_dmarc_from_clear(&from);
	if (m->dom == NULL)
		return;
	for (unsigned i = 0; i < m->dom->n && m->nsig < MAX_SIGNATURES; i++) {
		tern_dkim_sign_options o;

		tern_dkim_sign_options_init(&o);
		o.key = m->dom->keys[i].key;
		o.domain = m->dom->name;
		o.selector = m->dom->keys[i].selector;
		o.now = m->now;
		if (tern_dkim_signer_new(&o, &m->signers[m->nsig]) != 0) {
			m->why = "out of memory starting a signature";
			return;
		}
		m->nsig++;
	}
	feed_signers(m, m->hdr, m->hlen);
}

/* Where the header section ends in data[0..len) (the index just past the
 * empty line), or len when it does not end here. */
static size_t header_end(struct ternd_signer *m, const unsigned char *data, size_t len,
			 bool *found)
{
	*found = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = data[i];

		if (c == '\n') {
			if (m->line != 0) {
				*found = true;
				return i + 1;
			}
			m->line = 1;
		} else if (c == '\r' && m->line == 1) {
			m->line = 2;
		} else if (c != '\r') {
			m->line = 0;
		}
	}
	return len;
}

int ternd_signer_feed(struct ternd_signer *m, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!m->in_body) {
		bool found;
		size_t end = header_end(m, p, len, &found);

		if (m->why == NULL && m->hlen + end > MAX_HEADER)
			m->why = "header section too long to sign";
		if (m->why == NULL) {
			if (m->hlen + end > m->hcap) {
				size_t cap = m->hcap ? m->hcap : 4096;
				char *grown;

				while (cap < m->hlen + end)
					cap *= 2;
				grown = realloc(m->hdr, cap);
				if (grown == NULL) {
					m->why = "out of memory";
					return -1;
				}
				m->hdr = grown;
				m->hcap = cap;
			}
			memcpy(m->hdr + m->hlen, p, end);
			m->hlen += end;
		}
		if (!found)
			return 0;
		choose(m);
		p += end;
		len -= end;
	}
	if (len > 0)
		feed_signers(m, p, len);
	return 0;
}

int ternd_signer_finish(struct ternd_signer *m, char **fields_r, size_t *len_r,
			const char **why_r)
{
	char *all = NULL;
	size_t total = 0;

	*fields_r = NULL;
	*len_r = 0;
	*why_r = NULL;
	if (!m->in_body)
		choose(m);   /* a message that is all header */
	for (unsigned i = 0; i < m->nsig && m->why == NULL; i++) {
		char *field = NULL;
		size_t flen = 0;
		char *grown;

		if (tern_dkim_signer_finish(m->signers[i], &field, &flen) != 0) {
			m->why = "the signer failed";
			break;
		}
		grown = realloc(all, total + flen + 1);
		if (grown == NULL) {
			free(field);
			m->why = "out of memory";
			break;
		}
		all = grown;
		memcpy(all + total, field, flen);
		total += flen;
		all[total] = '\0';
		free(field);
	}
	if (m->why != NULL) {
		free(all);
		*why_r = m->why;
		return -1;
	}
	*fields_r = all;
	*len_r = total;
	return 0;
}

const char *ternd_signer_domain(const struct ternd_signer *m)
{
	return m->dom != NULL ? m->dom->name : NULL;
}

void ternd_signer_free(struct ternd_signer **mp)
{
	struct ternd_signer *m = mp != NULL ? *mp : NULL;

	if (m == NULL)
		return;
	for (unsigned i = 0; i < m->nsig; i++)
		tern_dkim_signer_free(&m->signers[i]);
	for (size_t i = 0; i < MAX_FROM_FIELDS; i++)
		free(m->from[i]);
	free(m->hdr);
	ternd_signing_put(&m->s);
	free(m);
	*mp = NULL;
}
