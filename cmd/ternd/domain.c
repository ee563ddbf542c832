/* `ternd domain add|check|list|remove-key`: the command line and the files
 * under STATE/domains/ (see domain.h and docs/domains.md). */
#include "domain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/spf_int.h"
#include "fsutil.h"
#include "privs.h"
#include "tern/dkim.h"
#include "tern/dmarc.h"

/* sysexits(3), as config.h has them. */
#define DOMAIN_EX_OK 0
#define DOMAIN_EX_USAGE 64
#define DOMAIN_EX_DATAERR 65
#define DOMAIN_EX_NOINPUT 66
#define DOMAIN_EX_SOFTWARE 70
#define DOMAIN_EX_CANTCREAT 73

/* A key file is a few kilobytes; anything much larger is not ours. */
#define KEY_FILE_MAX 65536
#define ZONE_FILE_MAX 262144

struct add_options {
	const char *state_dir;
	const char *name;
	const char *hostname;
	const char *user;
	const char *selector;
	const char *spf, *dmarc, *tls_rpt;
	const char *mx[TERND_DOMAIN_MAX_MX];
	unsigned mx_count;
	bool dkim; /* --dkim given: make a key */
	enum tern_dkim_algorithm alg;
	unsigned bits;
	bool mode_set;
	enum ternd_sts_mode mode;
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ternd domain: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ternd domain --help' for more information.\n", stderr);
	return DOMAIN_EX_USAGE;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ternd domain add NAME [--dkim rsa|ed25519] [--bits N] [--selector S]\n"
		"                        [--mx HOST]... [--spf TEXT] [--dmarc POLICY|RECORD]\n"
		"                        [--mta-sts enforce|testing|none] [--tls-rpt MAILTO]\n"
		"                        [--hostname NAME] [--user USER] [--state-dir DIR]\n"
		"       ternd domain check NAME [--dns-server ADDR@PORT] [--hostname NAME]\n"
		"                        [--ip ADDR]... [--state-dir DIR]\n"
		"       ternd domain list [--state-dir DIR]\n"
		"       ternd domain remove-key NAME SELECTOR [--state-dir DIR]\n\n"
		"add makes a DKIM key (RSA 2048 unless --dkim says otherwise; none when the\n"
		"domain has one and --dkim is not given), writes the MTA-STS policy, and prints\n"
		"every DNS record the domain needs in zone-file syntax (also kept in\n"
		"STATE/domains/NAME/records.zone). check looks them up: exit status 0 when all\n"
		"are right, 1 otherwise. See docs/domains.md.\n");
}

/* ---- paths and files -------------------------------------------------------- */

static int path_of(char *buf, size_t size, const char *state_dir, const char *domain,
		   const char *rest)
{
	int n = snprintf(buf, size, "%s/domains%s%s%s%s", state_dir, domain ? "/" : "",
			 domain ? domain : "", rest ? "/" : "", rest ? rest : "");
	return n > 0 && (size_t)n < size ? 0 : ENAMETOOLONG;
}

/* Reads a whole small file into a malloc'd NUL-terminated string. */
static int read_small(const char *path, size_t max, char **text_r, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	*text_r = NULL;
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		int e = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		close(fd);
		return e;
	}
	char *text = malloc((size_t)st.st_size + 1);
	size_t n = 0;
	if (text == NULL) {
		close(fd);
		return ENOMEM;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, text + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	text[n] = '\0';
	*text_r = text;
	if (len_r != NULL)
		*len_r = n;
	return 0;
}

/* Writes path durably and atomically: PATH.tmp (O_EXCL, mode), fsync,
 * rename, fsync the directory. A reader sees the old file or the new one. */
static int write_file(const char *dir, const char *name, const char *data, size_t len, mode_t mode,
		      const struct ternd_user *u)
{
	char tmp[512];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return errno;
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= sizeof(tmp)) {
		close(dfd);
		return ENAMETOOLONG;
	}
	unlinkat(dfd, tmp, 0); /* left by a crash: ours to replace */
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		close(dfd);
		return e;
	}
	int err = fs_write_all(fd, data, len);
	if (err == 0 && fchmod(fd, mode) != 0) /* the umask may have taken bits */
		err = errno;
	if (err == 0 && u != NULL && fchown(fd, u->uid, u->gid) != 0)
		err = errno;
	if (err == 0 && fsync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && err == 0)
		err = errno;
	if (err == 0 && renameat(dfd, tmp, dfd, name) != 0)
		err = errno;
	if (err == 0 && fsync(dfd) != 0)
		err = errno;
	if (err != 0)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return err;
}

/* mkdir -p with 0700 for what it makes; each made directory is given to u. */
static int make_dirs(const char *path, const struct ternd_user *u)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0700) == 0) {
			if (u != NULL && chown(buf, u->uid, u->gid) != 0)
				return errno;
		} else if (errno != EEXIST) {
			return errno;
		}
		buf[i] = c;
	}
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno;
	return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

/* ---- keys ----------------------------------------------------------------- */

static int load_key(const char *path, tern_dkim_key **key_r)
{
	char *pem;
	size_t len;
	int err = read_small(path, KEY_FILE_MAX, &pem, &len);

	*key_r = NULL;
	if (err != 0)
		return err;
	int rc = tern_dkim_key_from_pem(pem, len, key_r);
	explicit_bzero(pem, len);
	free(pem);
	return rc == 0 ? 0 : rc == TERN_ENOMEM ? ENOMEM : EINVAL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The selectors of dkim/ (files SEL.pem), sorted; *n_r of them, each
 * malloc'd. */
static int list_selectors(const char *dkim_dir, char **sel, unsigned max, unsigned *n_r)
{
	DIR *d = opendir(dkim_dir);
	struct dirent *e;
	unsigned n = 0;

	*n_r = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : errno;
	while ((e = readdir(d)) != NULL && n < max) {
		size_t len = strlen(e->d_name);
		if (len <= 4 || strcmp(e->d_name + len - 4, ".pem") != 0)
			continue;
		char *s = strndup(e->d_name, len - 4);
		if (s == NULL) {
			closedir(d);
			for (unsigned i = 0; i < n; i++)
				free(sel[i]);
			return ENOMEM;
		}
		if (!ternd_selector_ok(s)) {
			free(s);
			continue;
		}
		sel[n++] = s;
	}
	closedir(d);
	qsort(sel, n, sizeof(sel[0]), cmp_str);
	*n_r = n;
	return 0;
}

int ternd_domain_load(const char *state_dir, const char *domain, struct ternd_domain_records *r,
		      char *err, size_t errlen)
{
	char dir[4096], path[4200];
	struct stat st;
	char *sel[TERND_DOMAIN_MAX_KEYS];
	unsigned n = 0;

	snprintf(r->domain, sizeof(r->domain), "%s", domain);
	if (path_of(dir, sizeof(dir), state_dir, domain, NULL) != 0)
		return ternd_domain_fail(err, errlen, ENAMETOOLONG, "--state-dir %s: name too long",
					 state_dir);
	if (stat(dir, &st) != 0)
		return ternd_domain_fail(err, errlen, errno, "%s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/records.zone", dir);
	char *zone = NULL;
	int e = read_small(path, ZONE_FILE_MAX, &zone, NULL);
	if (e == 0)
		e = ternd_domain_zone_read(zone, r);
	free(zone);
	if (e != 0 && e != ENOENT)
		return ternd_domain_fail(err, errlen, e, "%s: %s", path, strerror(e));
	snprintf(path, sizeof(path), "%s/dkim", dir);
	if ((e = list_selectors(path, sel, TERND_DOMAIN_MAX_KEYS, &n)) != 0)
		return ternd_domain_fail(err, errlen, e, "%s: %s", path, strerror(e));
	int rc = 0;
	for (unsigned i = 0; i < n; i++) {
		tern_dkim_key *key = NULL;
		struct ternd_dkim_rec *k = &r->dkim[r->dkim_count];

		snprintf(path, sizeof(path), "%s/dkim/%s.pem", dir, sel[i]);
		if (rc == 0 && (e = load_key(path, &key)) != 0)
			rc =
			    ternd_domain_fail(err, errlen, e, "%s: %s", path,
					      e == EINVAL ? "not a DKIM private key" : strerror(e));
		if (rc == 0 && tern_dkim_key_dns_record(key, &k->txt) != 0)
			rc = ternd_domain_fail(err, errlen, ENOMEM, "out of memory");
		if (rc == 0) {
			snprintf(k->selector, sizeof(k->selector), "%s", sel[i]);
			r->dkim_count++;
		}
		tern_dkim_key_free(&key);
		free(sel[i]);
	}
	return rc;
}

/* RFC 6376 3.1 leaves selectors to the signer; ternd names them by month,
 * as email-server does ("s202604"), 'e' for Ed25519, and "-2", "-3", ...
 * after a name that is taken. */
static int pick_selector(const char *dkim_dir, enum tern_dkim_algorithm alg, time_t now,
			 char out[TERND_SELECTOR_MAX])
{
	struct tm tm;
	char base[32], path[4200];

	if (gmtime_r(&now, &tm) == NULL)
		return EINVAL;
	snprintf(base, sizeof(base), "s%04d%02d%s", tm.tm_year + 1900, tm.tm_mon + 1,
		 alg == TERN_DKIM_ED25519_SHA256 ? "e" : "");
	for (unsigned i = 1; i < 1000; i++) {
		if (i == 1)
			snprintf(out, TERND_SELECTOR_MAX, "%s", base);
		else
			snprintf(out, TERND_SELECTOR_MAX, "%s-%u", base, i);
		snprintf(path, sizeof(path), "%s/%s.pem", dkim_dir, out);
		if (access(path, F_OK) != 0 && errno == ENOENT)
			return 0;
	}
	return EEXIST;
}

static int make_key(const struct add_options *o, const char *dkim_dir, time_t now,
		    const struct ternd_user *u, char *err, size_t errlen)
{
	char sel[TERND_SELECTOR_MAX], name[TERND_SELECTOR_MAX + 8], path[4200];

	if (o->selector != NULL) {
		snprintf(sel, sizeof(sel), "%s", o->selector);
		snprintf(path, sizeof(path), "%s/%s.pem", dkim_dir, sel);
		if (access(path, F_OK) == 0)
			return ternd_domain_fail(
			    err, errlen, EEXIST,
			    "selector %s exists already (%s); remove-key it or pick another", sel,
			    path);
	} else if (pick_selector(dkim_dir, o->alg, now, sel) != 0) {
		return ternd_domain_fail(err, errlen, EEXIST, "no free selector name in %s",
					 dkim_dir);
	}
	tern_dkim_key *key = NULL;
	char *pem = NULL;
	int rc = tern_dkim_key_generate(o->alg, o->bits, &key);
	if (rc == 0)
		rc = tern_dkim_key_to_pem(key, &pem);
	if (rc != 0) {
		tern_dkim_key_free(&key);
		return ternd_domain_fail(err, errlen,
					 rc == TERN_EINVAL   ? EINVAL
					 : rc == TERN_ENOMEM ? ENOMEM
							     : EIO,
					 "cannot make the key: %s", tern_strerror(rc));
	}
	snprintf(name, sizeof(name), "%s.pem", sel);
	size_t len = strlen(pem);
	int e = write_file(dkim_dir, name, pem, len, 0600, u);
	explicit_bzero(pem, len);
	free(pem);
	if (e != 0) {
		tern_dkim_key_free(&key);
		return ternd_domain_fail(err, errlen, e, "%s/%s: %s", dkim_dir, name, strerror(e));
	}
	fprintf(stderr, "ternd domain: new DKIM key %s/%s (%s %u bits)\n", dkim_dir, name,
		o->alg == TERN_DKIM_ED25519_SHA256 ? "ed25519" : "rsa", tern_dkim_key_bits(key));
	tern_dkim_key_free(&key);
	return 0;
}

/* ---- add ------------------------------------------------------------------ */

static const char *const sts_modes[] = {"enforce", "testing", "none"};

static int set_text(char **dst, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* The mode of an existing policy ("mode: testing"), or -1. */
static int policy_mode(const char *policy)
{
	const char *m = policy != NULL ? strstr(policy, "mode:") : NULL;

	if (m == NULL)
		return -1;
	m += 5;
	m += strspn(m, " \t");
	for (int i = 0; i < 3; i++)
		if (strncmp(m, sts_modes[i], strlen(sts_modes[i])) == 0)
			return i;
	return -1;
}

/* What the records say: the command line first, then what the last `add`
 * printed (records.zone), then the defaults. */
static int settle_records(const struct add_options *o, const char *host,
			  struct ternd_domain_records *r, char *err, size_t errlen)
{
	char buf[1024];
	const char *d = r->domain;

	if (o->mx_count > 0) {
		for (unsigned i = 0; i < r->mx_count; i++)
			free(r->mx[i]);
		r->mx_count = 0;
		for (unsigned i = 0; i < o->mx_count; i++) {
			char name[TERND_DOMAIN_MAX];

			if (ternd_domain_name(o->mx[i], name, err, errlen) != 0)
				return EINVAL;
			if ((r->mx[r->mx_count] = strdup(name)) == NULL)
				return ENOMEM;
			r->mx_count++;
		}
	} else if (r->mx_count == 0) {
		if (host[0] == '\0')
			return ternd_domain_fail(
			    err, errlen, EINVAL,
			    "this host's name is not a domain name: give --hostname or --mx");
		if ((r->mx[0] = strdup(host)) == NULL)
			return ENOMEM;
		r->mx_count = 1;
	}
	if (o->spf != NULL) {
		if (!tern__spf_is_record((const unsigned char *)o->spf, strlen(o->spf)))
			return ternd_domain_fail(err, errlen, EINVAL,
						 "--spf: '%s' does not start with v=spf1", o->spf);
		if (set_text(&r->spf, o->spf) != 0)
			return ENOMEM;
	} else if (r->spf == NULL && set_text(&r->spf, "v=spf1 mx -all") != 0) {
		return ENOMEM;
	}
	const char *dmarc = o->dmarc;
	if (dmarc != NULL && (strcmp(dmarc, "none") == 0 || strcmp(dmarc, "quarantine") == 0 ||
			      strcmp(dmarc, "reject") == 0)) {
		snprintf(buf, sizeof(buf), "v=DMARC1; p=%s; rua=mailto:dmarc-reports@%s", dmarc, d);
		dmarc = buf;
	}
	if (dmarc != NULL) {
		struct tern_dmarc_record rec;
		int rc = tern_dmarc_record_parse(dmarc, strlen(dmarc), &rec);

		tern_dmarc_record_clear(&rec);
		if (rc == TERN_ENOMEM)
			return ENOMEM;
		if (rc != 0)
			return ternd_domain_fail(
			    err, errlen, EINVAL,
			    "--dmarc: '%s' is neither none, quarantine, reject nor a usable "
			    "DMARC record",
			    o->dmarc);
		if (set_text(&r->dmarc, dmarc) != 0)
			return ENOMEM;
	} else if (r->dmarc == NULL) {
		snprintf(buf, sizeof(buf), "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@%s",
			 d);
		if (set_text(&r->dmarc, buf) != 0)
			return ENOMEM;
	}
	if (o->tls_rpt != NULL) {
		bool scheme = strncasecmp(o->tls_rpt, "mailto:", 7) == 0 ||
			      strncasecmp(o->tls_rpt, "https://", 8) == 0;
		snprintf(buf, sizeof(buf), "v=TLSRPTv1; rua=%s%s",
			 scheme ? "" : "mailto:", o->tls_rpt);
		if (ternd_tlsrpt_record_problem(buf, strlen(buf)) != NULL)
			return ternd_domain_fail(err, errlen, EINVAL,
						 "--tls-rpt: '%s' is not an address or URI",
						 o->tls_rpt);
		if (set_text(&r->tlsrpt, buf) != 0)
			return ENOMEM;
	} else if (r->tlsrpt == NULL) {
		snprintf(buf, sizeof(buf), "v=TLSRPTv1; rua=mailto:tls-reports@%s", d);
		if (set_text(&r->tlsrpt, buf) != 0)
			return ENOMEM;
	}
	/* mta-sts.DOMAIN is served by ternd --mta-sts-listen: on the first
	 * MX host unless the last add said otherwise. */
	if (o->mx_count > 0 || r->sts_host == NULL)
		if (set_text(&r->sts_host, r->mx[0]) != 0)
			return ENOMEM;
	return 0;
}

static int cmd_add(const struct add_options *o)
{
	char domain[TERND_DOMAIN_MAX], err[1024], host[TERND_DOMAIN_MAX];
	char dir[4096], dkim_dir[4200], path[4300];
	struct ternd_user user = {0}, *u = NULL;
	struct ternd_domain_records r = {0};
	time_t now = time(NULL);
	int status = DOMAIN_EX_OK, e;

	if (ternd_domain_name(o->name, domain, err, sizeof(err)) != 0)
		return usage_error("%s", err);
	char sys[256] = "";
	const char *h = o->hostname;
	if (h == NULL)
		h = gethostname(sys, sizeof(sys) - 1) == 0 && sys[0] != '\0' ? sys : "localhost";
	/* Checked when it is used: with --mx, or an MX from the last add, a
	 * short host name does not matter. */
	if (ternd_domain_name(h, host, err, sizeof(err)) != 0)
		host[0] = '\0';
	if (o->user != NULL) {
		if (ternd_user_lookup(&user, o->user, err, sizeof(err)) != 0)
			return usage_error("%s", err);
		u = &user;
	}
	if (path_of(dir, sizeof(dir), o->state_dir, domain, NULL) != 0)
		return usage_error("--state-dir %s: name too long", o->state_dir);
	snprintf(dkim_dir, sizeof(dkim_dir), "%s/dkim", dir);
	if ((e = make_dirs(dkim_dir, u)) != 0) {
		fprintf(stderr, "ternd domain: %s: %s\n", dkim_dir, strerror(e));
		return DOMAIN_EX_CANTCREAT;
	}
	if ((e = ternd_domain_load(o->state_dir, domain, &r, err, sizeof(err))) != 0) {
		fprintf(stderr, "ternd domain: %s\n", err);
		ternd_domain_records_clear(&r);
		return e == ENOMEM ? DOMAIN_EX_SOFTWARE : DOMAIN_EX_DATAERR;
	}
	/* Refused before anything is made: a key without its records
	 * would be left behind. */
	if (o->mx_count == 0 && r.mx_count == 0 && host[0] == '\0') {
		ternd_domain_records_clear(&r);
		return usage_error("%s", "this host's name is not a domain name: give --hostname or --mx");
	}
	/* A domain with keys gets a new one only when asked: running add
	 * again prints what exists. */
	if (o->dkim || r.dkim_count == 0) {
		if ((e = make_key(o, dkim_dir, now, u, err, sizeof(err))) != 0) {
			fprintf(stderr, "ternd domain: %s\n", err);
			ternd_domain_records_clear(&r);
			return e == EEXIST ? DOMAIN_EX_USAGE : DOMAIN_EX_CANTCREAT;
		}
		ternd_domain_records_clear(&r);
		if ((e = ternd_domain_load(o->state_dir, domain, &r, err, sizeof(err))) != 0) {
			fprintf(stderr, "ternd domain: %s\n", err);
			ternd_domain_records_clear(&r);
			return DOMAIN_EX_SOFTWARE;
		}
	}
	if ((e = settle_records(o, host, &r, err, sizeof(err))) != 0) {
		if (e == ENOMEM)
			fprintf(stderr, "ternd domain: out of memory\n");
		ternd_domain_records_clear(&r);
		return e == ENOMEM ? DOMAIN_EX_SOFTWARE : usage_error("%s", err);
	}

	/* The policy. RFC 8461 3.1: the id changes whenever the policy
	 * does, or senders keep the one they cached. */
	char *old = NULL;
	snprintf(path, sizeof(path), "%s/mta-sts.txt", dir);
	read_small(path, ZONE_FILE_MAX, &old, NULL);
	int old_mode = policy_mode(old);
	enum ternd_sts_mode mode = o->mode_set     ? o->mode
				   : old_mode >= 0 ? (enum ternd_sts_mode)old_mode
						   : TERND_STS_TESTING;
	char *policy = ternd_mta_sts_policy(mode, r.mx, r.mx_count, TERND_MTA_STS_MAX_AGE);
	if (policy == NULL) {
		free(old);
		ternd_domain_records_clear(&r);
		fprintf(stderr, "ternd domain: out of memory\n");
		return DOMAIN_EX_SOFTWARE;
	}
	bool changed = old == NULL || strcmp(old, policy) != 0;
	free(old);
	if (changed || r.sts_id == NULL) {
		struct tm tm;
		char id[32];

		gmtime_r(&now, &tm);
		strftime(id, sizeof(id), "%Y%m%d%H%M%S", &tm);
		if (r.sts_id != NULL && strcmp(r.sts_id, id) == 0)
			snprintf(id + strlen(id), sizeof(id) - strlen(id), "1");
		if (set_text(&r.sts_id, id) != 0)
			status = DOMAIN_EX_SOFTWARE;
	}
	if (status == DOMAIN_EX_OK && changed &&
	    (e = write_file(dir, "mta-sts.txt", policy, strlen(policy), 0644, u)) != 0) {
		fprintf(stderr, "ternd domain: %s/mta-sts.txt: %s\n", dir, strerror(e));
		status = DOMAIN_EX_CANTCREAT;
	}
	free(policy);

	char *zone = NULL;
	size_t zlen = 0;
	FILE *mem = status == DOMAIN_EX_OK ? open_memstream(&zone, &zlen) : NULL;
	if (mem != NULL) {
		ternd_domain_zone_write(&r, now, mem);
		if (fclose(mem) != 0) {
			free(zone);
			zone = NULL;
		}
	}
	if (status == DOMAIN_EX_OK && zone == NULL) {
		fprintf(stderr, "ternd domain: out of memory\n");
		status = DOMAIN_EX_SOFTWARE;
	}
	if (status == DOMAIN_EX_OK &&
	    (e = write_file(dir, "records.zone", zone, zlen, 0644, u)) != 0) {
		fprintf(stderr, "ternd domain: %s/records.zone: %s\n", dir, strerror(e));
		status = DOMAIN_EX_CANTCREAT;
	}
	if (status == DOMAIN_EX_OK)
		fwrite(zone, 1, zlen, stdout);
	free(zone);
	ternd_domain_records_clear(&r);
	return status;
}

/* ---- list and remove-key ------------------------------------------------------ */

static int cmd_list(const char *state_dir)
{
	char dir[4096], path[4400];
	char *names[1024];
	unsigned n = 0;

	if (path_of(dir, sizeof(dir), state_dir, NULL, NULL) != 0)
		return usage_error("--state-dir %s: name too long", state_dir);
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return DOMAIN_EX_OK; /* no domain yet */
		fprintf(stderr, "ternd domain: %s: %s\n", dir, strerror(errno));
		return DOMAIN_EX_NOINPUT;
	}
	for (struct dirent *e; (e = readdir(d)) != NULL && n < 1024;) {
		if (e->d_name[0] == '.')
			continue;
		if ((names[n] = strdup(e->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (unsigned i = 0; i < n; i++) {
		char *sel[TERND_DOMAIN_MAX_KEYS], *policy = NULL;
		unsigned ns = 0;

		snprintf(path, sizeof(path), "%s/%s/dkim", dir, names[i]);
		list_selectors(path, sel, TERND_DOMAIN_MAX_KEYS, &ns);
		snprintf(path, sizeof(path), "%s/%s/mta-sts.txt", dir, names[i]);
		read_small(path, ZONE_FILE_MAX, &policy, NULL);
		int mode = policy_mode(policy);
		free(policy);
		printf("%s\tmta-sts %s\tdkim", names[i], mode >= 0 ? sts_modes[mode] : "-");
		for (unsigned k = 0; k < ns; k++) {
			tern_dkim_key *key = NULL;

			snprintf(path, sizeof(path), "%s/%s/dkim/%s.pem", dir, names[i], sel[k]);
			if (load_key(path, &key) == 0)
				printf(" %s(%s-%u)", sel[k],
				       tern_dkim_key_algorithm(key) == TERN_DKIM_ED25519_SHA256
					   ? "ed25519"
					   : "rsa",
				       tern_dkim_key_bits(key));
			else
				printf(" %s(unreadable)", sel[k]);
			tern_dkim_key_free(&key);
			free(sel[k]);
		}
		printf("%s\n", ns == 0 ? " -" : "");
		free(names[i]);
	}
	return DOMAIN_EX_OK;
}

static int cmd_remove_key(const char *state_dir, const char *name, const char *sel)
{
	char domain[TERND_DOMAIN_MAX], err[1024], dkim_dir[4200], file[TERND_SELECTOR_MAX + 8];

	if (ternd_domain_name(name, domain, err, sizeof(err)) != 0)
		return usage_error("%s", err);
	if (!ternd_selector_ok(sel))
		return usage_error("'%s' is not a selector", sel);
	if (path_of(dkim_dir, sizeof(dkim_dir), state_dir, domain, "dkim") != 0)
		return usage_error("--state-dir %s: name too long", state_dir);
	snprintf(file, sizeof(file), "%s.pem", sel);
	int dfd = open(dkim_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || unlinkat(dfd, file, 0) != 0) {
		fprintf(stderr, "ternd domain: %s/%s: %s\n", dkim_dir, file, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return DOMAIN_EX_NOINPUT;
	}
	fsync(dfd);
	close(dfd);
	fprintf(stderr,
		"ternd domain: removed key %s of %s; mail is no longer signed with it. Keep "
		"%s._domainkey.%s published a few days more (mail in flight), then delete it.\n",
		sel, domain, sel, domain);
	return DOMAIN_EX_OK;
}

/* ---- the command line ---------------------------------------------------------- */

/* "--flag VALUE" or "--flag=VALUE": the value, or NULL when a is not flag. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag, bool *missing)
{
	size_t len = strlen(flag);
	const char *a = argv[*i];

	if (strncmp(a, flag, len) != 0)
		return NULL;
	if (a[len] == '=')
		return a + len + 1;
	if (a[len] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static int parse_bits(const char *v, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n < 1024 || n > 8192)
		return -1;
	*out = (unsigned)n;
	return 0;
}

int ternd_domain_main(int argc, char **argv, const char *default_state_dir)
{
	struct add_options o = {.state_dir = default_state_dir, .alg = TERN_DKIM_RSA_SHA256};
	const char *pos[3] = {NULL}, *dns_server = NULL;
	const char *ips[17] = {NULL};
	unsigned npos = 0, nips = 0;
	bool missing = false;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? DOMAIN_EX_USAGE : DOMAIN_EX_OK;
	}
	const char *verb = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return DOMAIN_EX_OK;
		} else if ((v = flag_value(argc, argv, &i, "--state-dir", &missing)) != NULL) {
			o.state_dir = v;
		} else if ((v = flag_value(argc, argv, &i, "--hostname", &missing)) != NULL) {
			o.hostname = v;
		} else if ((v = flag_value(argc, argv, &i, "--user", &missing)) != NULL) {
			o.user = v;
		} else if ((v = flag_value(argc, argv, &i, "--dkim", &missing)) != NULL) {
			o.dkim = true;
			if (strcmp(v, "rsa") == 0)
				o.alg = TERN_DKIM_RSA_SHA256;
			else if (strcmp(v, "ed25519") == 0)
				o.alg = TERN_DKIM_ED25519_SHA256;
			else
				return usage_error("--dkim: '%s' is not rsa or ed25519", v);
		} else if ((v = flag_value(argc, argv, &i, "--bits", &missing)) != NULL) {
			if (parse_bits(v, &o.bits) != 0)
				return usage_error("--bits: '%s' is not 1024..8192", v);
		} else if ((v = flag_value(argc, argv, &i, "--selector", &missing)) != NULL) {
			if (!ternd_selector_ok(v))
				return usage_error("--selector: '%s' is not a DNS label (letters, "
						   "digits, '-')",
						   v);
			o.selector = v;
			o.dkim = true;
		} else if ((v = flag_value(argc, argv, &i, "--mx", &missing)) != NULL) {
			if (o.mx_count >= TERND_DOMAIN_MAX_MX)
				return usage_error("--mx: at most %d hosts", TERND_DOMAIN_MAX_MX);
			o.mx[o.mx_count++] = v;
		} else if ((v = flag_value(argc, argv, &i, "--spf", &missing)) != NULL) {
			o.spf = v;
		} else if ((v = flag_value(argc, argv, &i, "--dmarc", &missing)) != NULL) {
			o.dmarc = v;
		} else if ((v = flag_value(argc, argv, &i, "--tls-rpt", &missing)) != NULL) {
			o.tls_rpt = v;
		} else if ((v = flag_value(argc, argv, &i, "--mta-sts", &missing)) != NULL) {
			int m = -1;
			for (int k = 0; k < 3; k++)
				if (strcmp(v, sts_modes[k]) == 0)
					m = k;
			if (m < 0)
				return usage_error(
				    "--mta-sts: '%s' is not enforce, testing or none", v);
			o.mode = (enum ternd_sts_mode)m;
			o.mode_set = true;
		} else if ((v = flag_value(argc, argv, &i, "--dns-server", &missing)) != NULL) {
			dns_server = v;
		} else if ((v = flag_value(argc, argv, &i, "--ip", &missing)) != NULL) {
			if (nips >= 16)
				return usage_error("--ip: at most 16 addresses");
			ips[nips++] = v;
		} else if (missing) {
			return usage_error("%s needs a value", a);
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error("unknown flag '%s'", a);
		} else if (npos >= 2) {
			return usage_error("too many arguments ('%s')", a);
		} else {
			pos[npos++] = a;
		}
	}
	if (strcmp(verb, "list") == 0) {
		if (npos != 0)
			return usage_error("list takes no NAME");
		return cmd_list(o.state_dir);
	}
	if (strcmp(verb, "remove-key") == 0) {
		if (npos != 2)
			return usage_error("remove-key needs NAME and SELECTOR");
		return cmd_remove_key(o.state_dir, pos[0], pos[1]);
	}
	if (strcmp(verb, "add") != 0 && strcmp(verb, "check") != 0)
		return usage_error("unknown command '%s' (add, check, list, remove-key)", verb);
	if (npos != 1)
		return usage_error("%s needs one NAME", verb);
	o.name = pos[0];
	if (strcmp(verb, "add") == 0)
		return cmd_add(&o);

	char domain[TERND_DOMAIN_MAX], err[1024], sys[256] = "";
	if (ternd_domain_name(o.name, domain, err, sizeof(err)) != 0)
		return usage_error("%s", err);
	struct ternd_domain_check_options co = {
	    .state_dir = o.state_dir,
	    .domain = domain,
	    .dns_server = dns_server,
	    .hostname = o.hostname,
	    .ips = nips > 0 ? ips : NULL,
	};
	if (co.hostname == NULL)
		co.hostname = gethostname(sys, sizeof(sys) - 1) == 0 && sys[0] ? sys : "localhost";
	return ternd_domain_check(&co, stdout);
}
