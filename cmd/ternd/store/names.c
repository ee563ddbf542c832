/* Names the store checks and builds: folder names, their directories,
 * maildir(5) flag letters and IMAP keywords. Pure functions. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (n == 0 || p[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

int st_name_check(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > ST_NAME_MAX || name[0] == '.' || name[len - 1] == '.')
		return EINVAL;
	if (strncasecmp(name, "INBOX.", 6) == 0)
		return EINVAL; /* children of INBOX would clash with the top */
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)name[i];
		size_t n = utf8_len((const unsigned char *)name + i);
		if (n == 0 || c < 0x20 || c == 0x7f || c == '/' || (c == '.' && name[i + 1] == '.'))
			return EINVAL;
		i += n;
	}
	return 0;
}

void st_folder_dir(const char *name, char *buf, size_t size)
{
	if (strcasecmp(name, "INBOX") == 0)
		snprintf(buf, size, ".");
	else
		snprintf(buf, size, ".%s", name);
}

/* maildir(5): the letters in ASCII order. */
static const struct {
	char letter;
	unsigned flag;
} flag_table[] = {
	{'D', STORE_DRAFT}, {'F', STORE_FLAGGED}, {'R', STORE_ANSWERED},
	{'S', STORE_SEEN},  {'T', STORE_DELETED},
};

void st_flag_letters(unsigned flags, char out[8])
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof(flag_table) / sizeof(flag_table[0]); i++) {
		if (flags & flag_table[i].flag)
			out[n++] = flag_table[i].letter;
	}
	out[n] = '\0';
}

unsigned st_flags_parse(const char *info)
{
	unsigned flags = 0;
	for (; *info != '\0'; info++) {
		for (size_t i = 0; i < sizeof(flag_table) / sizeof(flag_table[0]); i++) {
			if (*info == flag_table[i].letter)
				flags |= flag_table[i].flag;
		}
	}
	return flags;
}

/* RFC 9051 atom characters minus '\' (keywords never start with it). */
static bool atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits s into words (modifies s); at most max, else max + 1. */
static size_t split_words(char *s, char **words, size_t max)
{
	size_t n = 0;
	char *save;
	for (char *tok = strtok_r(s, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		if (n == max)
			return max + 1;
		words[n++] = tok;
	}
	return n;
}

#define KW_MAX 128

/* Joins sorted words without duplicates; *out NULL when none. */
static int join_words(char **words, size_t n, char **out)
{
	qsort(words, n, sizeof(words[0]), cmp_str);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	*out = NULL;
	if (n == 0)
		return 0;
	char *r = malloc(len);
	if (r == NULL)
		return ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(words[i], words[i - 1]) == 0)
			continue;
		if (o > 0)
			r[o++] = ' ';
		size_t l = strlen(words[i]);
		memcpy(r + o, words[i], l);
		o += l;
	}
	r[o] = '\0';
	*out = r;
	return 0;
}

int st_keywords_norm(const char *in, char **out)
{
	*out = NULL;
	if (in == NULL)
		return 0;
	for (const char *p = in; *p != '\0'; p++) {
		if (*p != ' ' && !atom_char((unsigned char)*p))
			return EINVAL;
	}
	char *copy = strdup(in);
	if (copy == NULL)
		return ENOMEM;
	char *words[KW_MAX];
	size_t n = split_words(copy, words, KW_MAX);
	int err = n > KW_MAX ? EINVAL : join_words(words, n, out);
	free(copy);
	return err;
}

int st_keywords_apply(const char *have, const char *kw, enum store_flag_op op, char **out)
{
	*out = NULL;
	if (op == STORE_FLAGS_SET)
		return st_keywords_norm(kw, out);
	size_t lh = have != NULL ? strlen(have) : 0, lk = kw != NULL ? strlen(kw) : 0;
	char *a = malloc(lh + 1), *b = malloc(lk + 1);
	int err = ENOMEM;
	if (a == NULL || b == NULL)
		goto out;
	memcpy(a, have != NULL ? have : "", lh + 1);
	memcpy(b, kw != NULL ? kw : "", lk + 1);
	char *wa[KW_MAX * 2], *wb[KW_MAX];
	size_t na = split_words(a, wa, KW_MAX), nb = split_words(b, wb, KW_MAX);
	if (na > KW_MAX || nb > KW_MAX) {
		err = EINVAL;
		goto out;
	}
	if (op == STORE_FLAGS_ADD) {
		for (size_t i = 0; i < nb; i++)
			wa[na++] = wb[i];
	} else {
		size_t keep = 0;
		for (size_t i = 0; i < na; i++) {
			bool drop = false;
			for (size_t j = 0; j < nb; j++)
				drop |= strcmp(wa[i], wb[j]) == 0;
			if (!drop)
				wa[keep++] = wa[i];
		}
		na = keep;
	}
	err = join_words(wa, na, out);
	/* More than KW_MAX distinct keywords on one message: refused. */
	if (err == 0 && *out != NULL) {
		size_t words = 1;
		for (const char *p = *out; *p != '\0'; p++)
			words += *p == ' ';
		if (words > KW_MAX) {
			free(*out);
			*out = NULL;
			err = EINVAL;
		}
	}
out:
	free(a);
	free(b);
	return err;
}
