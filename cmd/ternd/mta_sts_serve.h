/* ternd --mta-sts-listen: the MTA-STS policy host (RFC 8461 3.3).
 *
 * A sender that finds "_mta-sts.DOMAIN" fetches
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt. This serves exactly that
 * for every DOMAIN in STATE/domains/ (the files `ternd domain add`
 * writes), over HTTPS with libevent's evhttp and OpenSSL bufferevents, on a
 * thread and event_base of its own so that no mail worker ever waits on a
 * web client. The certificate is chosen by SNI from the --tls-cert pairs;
 * the host name (SNI, else Host) must be mta-sts.DOMAIN for a DOMAIN set up
 * here. Everything else is 404; methods other than GET and HEAD are 405;
 * requests are small and short-lived (bounded headers, no body, a timeout).
 * The policy file is read at each request, so `domain add` takes effect
 * without a restart. */
#ifndef TERND_MTA_STS_SERVE_H
#define TERND_MTA_STS_SERVE_H

#include <stddef.h>

struct ternd_mta_sts;

/* The request path (RFC 8461 3.2). */
#define TERND_MTA_STS_PATH "/.well-known/mta-sts.txt"
/* Policy files are a few hundred octets; a larger one is not served. */
#define TERND_MTA_STS_MAX_POLICY 65536
/* Seconds a client gets to send its request (the handshake included). */
#define TERND_MTA_STS_TIMEOUT 10

/* Loads the certificates (certs[i] with keys[i], NULL-terminated lists;
 * the first is the default) and binds addr_port ("ADDR:PORT"); called as
 * root, before ternd gives root up, since 443 is privileged. state_dir is
 * copied. Nothing is served until ternd_mta_sts_start(). Returns 0, or
 * TERN_EINVAL (a bad address or certificate: logged), TERN_EIO (the bind
 * failed: logged, errno set) or TERN_ENOMEM. */
int ternd_mta_sts_open(struct ternd_mta_sts **m_r, const char *addr_port, const char *state_dir,
		       const char *const *certs, const char *const *keys);

/* Starts the thread. Returns 0 or TERN_ENOMEM (logged). */
int ternd_mta_sts_start(struct ternd_mta_sts *m);

/* Stops the thread if it runs, closes the socket and frees *m (sets it to
 * NULL). No effect on NULL. */
void ternd_mta_sts_stop(struct ternd_mta_sts **m);

#endif
