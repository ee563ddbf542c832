/* ternd's metrics listener: GET /metrics in the Prometheus text exposition
 * format (version 0.0.4), from tern_smtp_server_stats(), served by
 * libevent's evhttp on a thread and event_base of its own, so that a slow
 * scraper never holds up a mail worker. Every other path is 404, every
 * other method 405. */
#ifndef TERND_METRICS_H
#define TERND_METRICS_H

#include <stddef.h>

#include "tern/smtp.h"

struct ternd_metrics;

/* Binds addr_port and starts the thread. server is not owned; it must
 * outlive ternd_metrics_stop(). Returns 0 or TERN_EIO (errno set: the
 * bind failed), TERN_ENOMEM, TERN_EINVAL (a bad address); each logged. */
int ternd_metrics_start(struct ternd_metrics **m_r, const char *addr_port,
			tern_smtp_server *server);

/* Stops the thread, closes the socket and frees *m (sets it to NULL). No
 * effect on NULL. */
void ternd_metrics_stop(struct ternd_metrics **m);

/* The Prometheus text for st and the live session count into a malloc'd
 * string (*len_r its length); NULL when out of memory. */
char *ternd_metrics_render(const tern_smtp_stats *st, unsigned active, size_t *len_r);

#endif
