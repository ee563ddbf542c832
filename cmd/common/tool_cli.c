/* Command-line plumbing shared by tern-dkim and tern-arc (tool_cli.h). */
#include "tool_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tool_name = "tern";

_Noreturn void tool_die(const char *what, const char *why)
{
	fprintf(stderr, "%s: %s: %s\n", tool_name, what, why);
	exit(2);
}

char *tool_slurp(int fd, size_t *len_r)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);

	if (buf == NULL)
		tool_die("read", "out of memory");
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *p = realloc(buf, cap *= 2);

			if (p == NULL)
				tool_die("read", "out of memory");
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			tool_die("read", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*len_r = len;
	return buf;
}

char *tool_slurp_file(const char *path, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;

	if (fd < 0)
		tool_die(path, strerror(errno));
	buf = tool_slurp(fd, len_r);
	close(fd);
	return buf;
}

time_t tool_parse_time(const char *s, const char *what, long long min)
{
	char *end;
	long long t = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || t < min)
		tool_die(what, "not a number of seconds since the epoch");
	return (time_t)t;
}

bool tool_dns_option(struct tool_dns_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 'D': o->server = arg; break;
	case 'R':
		if (o->nrec == 64)
			tool_die("--record", "too many");
		o->records[o->nrec++] = arg;
		break;
	case 'F':
		if (o->nfiles == 8)
			tool_die("--records", "too many");
		o->files[o->nfiles++] = arg;
		break;
	default: return false;
	}
	return true;
}

struct tool_dns *tool_dns_open(const struct tool_dns_opts *o)
{
	struct tool_dns *dns;
	char err[256];

	if ((dns = tool_dns_new(o->server, 0, err, sizeof err)) == NULL)
		tool_die("dns", err);
	for (size_t i = 0; i < o->nrec; i++) {
		const char *eq = strchr(o->records[i], '=');
		char name[300];

		if (eq == NULL || (size_t)(eq - o->records[i]) >= sizeof name)
			tool_die("--record", "expected NAME=TXT");
		snprintf(name, sizeof name, "%.*s", (int)(eq - o->records[i]), o->records[i]);
		if (tool_dns_add(dns, name, "TXT", eq + 1, err, sizeof err) < 0)
			tool_die("--record", err);
	}
	for (size_t i = 0; i < o->nfiles; i++)
		if (tool_dns_load(dns, o->files[i], err, sizeof err) < 0)
			tool_die("--records", err);
	return dns;
}
