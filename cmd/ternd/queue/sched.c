/* The retry schedule: pure functions of the options and a clock passed in,
 * so the tests drive time and never sleep. Defaults are Postfix's
 * (postconf(5)): minimal_backoff_time 300s, maximal_backoff_time 4000s,
 * maximal_queue_lifetime and bounce_queue_lifetime 5d, delay_warning_time
 * 4h (Postfix ships it off; the issue asks for 4 hours). */
#include "queue.h"

void q_options_init(struct q_options *o)
{
	o->minimal_backoff = 300;
	o->maximal_backoff = 4000;
	o->max_lifetime = 5 * 24 * 3600;
	o->bounce_lifetime = 5 * 24 * 3600;
	o->delay_warning = 4 * 3600;
	o->settle_batch = 32;
	o->claim_timeout = 3600;
}

unsigned q_backoff(const struct q_options *o, unsigned attempts)
{
	uint64_t d = o->minimal_backoff;
	for (unsigned i = 1; i < attempts && d < o->maximal_backoff; i++)
		d *= 2;
	if (d > o->maximal_backoff)
		d = o->maximal_backoff;
	return (unsigned)d;
}

bool q_expired(const struct q_options *o, int64_t arrival, bool null_sender, int64_t now)
{
	unsigned life = null_sender ? o->bounce_lifetime : o->max_lifetime;
	return now - arrival >= (int64_t)life;
}

unsigned q_notify_effective(unsigned notify)
{
	/* RFC 3461 4.1: without NOTIFY the server decides; like Postfix, it
	 * is failure and delay notices. */
	return notify == Q_NOTIFY_DEFAULT ? (Q_NOTIFY_FAILURE | Q_NOTIFY_DELAY) : notify;
}

bool q_delay_due(const struct q_options *o, int64_t arrival, unsigned notify, bool null_sender,
		 int64_t now)
{
	/* RFC 3461 6.2: never a DSN about a message with a null sender. */
	if (null_sender || o->delay_warning == 0)
		return false;
	if ((q_notify_effective(notify) & Q_NOTIFY_DELAY) == 0)
		return false;
	return now - arrival >= (int64_t)o->delay_warning;
}
