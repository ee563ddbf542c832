/* `ternd passwd`: makes one users-file line (docs/users.md) from a
 * password read on standard input, so that nobody has to assemble hashes
 * and SCRAM keys by hand. */
#ifndef TERND_PASSWD_H
#define TERND_PASSWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* RFC 7677 4: at least 4096 iterations; the default is that minimum, so
 * a SCRAM login costs the server what RFC 7677 asks and no more. */
#define PASSWD_DEFAULT_SCRAM_ITERATIONS 4096
#define PASSWD_SCRAM_SALT_LEN 16

struct passwd_options {
	bool cram_md5;             /* add a cram-md5= field (password-equivalent) */
	const char *from;          /* from= list, or NULL */
	unsigned scram_iterations; /* 0: PASSWD_DEFAULT_SCRAM_ITERATIONS */
};

/* Builds the line for name and password (len octets), without a newline,
 * into *line_r (malloc'd; the caller wipes and frees it). The line is
 * parsed back with users.c before it is returned, so whatever it would
 * refuse is refused here, with its message. Returns 0, EINVAL (bad name,
 * --from list or password, err says which), ENOMEM, or EIO (the hash or
 * the random salt could not be made). */
int passwd_make_line(const char *name, const char *password, size_t len,
		     const struct passwd_options *opts, char **line_r, char *err, size_t errlen);

/* Reads a password from fd. On a terminal: prompts on prompt_out twice with
 * echo off and requires both to match; otherwise reads one line (the final
 * LF or CRLF is not part of it). buf gets the password and a NUL; *len_r its
 * length. Returns 0, EINVAL (empty, too long, a NUL octet, or the two
 * entries differ; err says which) or an errno of the read. */
int passwd_read(int fd, FILE *prompt_out, char *buf, size_t size, size_t *len_r, char *err,
		size_t errlen);

/* The subcommand: argv[0] is "passwd". Returns a sysexits(3) status. */
int ternd_passwd_main(int argc, char **argv);

#endif
