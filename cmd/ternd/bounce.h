/* DSNs for queued mail (bounce.c). */
#ifndef TERND_BOUNCE_H
#define TERND_BOUNCE_H

#include "queue/queue.h"
#include "routing.h"

struct ternd_bounce {
	const char *hostname;                /* Reporting-MTA, From: MAILER-DAEMON@ */
	const struct ternd_routing *routing; /* delivered (local) or relayed */
	unsigned lifetime;                   /* s, for Will-Retry-Until */
};

/* Queues every DSN the queue says is owed (up to a batch) and records it
 * paid. Returns how many messages had debts. Called by the queue's owner
 * with the store's lock held (it writes into the queue). */
unsigned ternd_bounce_run(const struct ternd_bounce *b, q_store *q);

#endif
