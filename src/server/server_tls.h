/* The server's TLS settings (server_tls.c). */
#ifndef TERN_SERVER_SERVER_TLS_H
#define TERN_SERVER_SERVER_TLS_H

#include "server/server.h"

/* Copies the TLS options out of s->cfg.opts (clearing them there) and
 * builds the contexts (reading the files).
 * Without certificates TLS stays off and this returns 0. Returns
 * TERN_EINVAL (logged: which file and why) or TERN_ENOMEM. */
int tern__server_tls_init(tern_smtp_server *s);
void tern__server_tls_free(tern_smtp_server *s);

#endif
