/* The server's TLS settings (server_tls.c). */
#ifndef TERN_SERVER_SERVER_TLS_H
#define TERN_SERVER_SERVER_TLS_H

#include "server/server.h"

/* Copies the TLS options (the library's full-size copy of the caller's)
 * and builds the contexts (reading the files).
 * Without certificates TLS stays off and this returns 0. Returns
 * TERN_EINVAL (logged: which file and why) or TERN_ENOMEM. */
int tern__server_tls_init(tern_smtp_server *s, const tern_smtp_options *opts);

/* Whether opts name the TLS settings s runs with (files by name, not by
 * content: tern_smtp_server_reload_tls() reads them again). */
bool tern__server_tls_same(const tern_smtp_server *s, const tern_smtp_options *opts);
void tern__server_tls_free(tern_smtp_server *s);

#endif
