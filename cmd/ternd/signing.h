/* DKIM signing of the mail ternd's own users send (docs/domains.md).
 *
 * The keys are the files `ternd domain add` creates:
 * STATE/domains/DOMAIN/dkim/SELECTOR.pem. A message whose From domain is
 * DOMAIN, or a subdomain of it, is signed with every key of DOMAIN (an RSA
 * and an Ed25519 key give two signatures) as it streams into the queue; the
 * signatures go in front of it before its file is made durable
 * (q_writer_set_prefix()), so the 250 is never given for an unsigned copy of
 * a message that should have been signed.
 *
 * Threads: a key table is read-only after ternd_signing_load() and shared by
 * every loop through a slot, which SIGHUP refills (ternd_signing_reload()):
 * a message being signed keeps the table it started with (a reference), so
 * a reload never changes keys under it. A ternd_signer belongs to one
 * session. */
#ifndef TERND_SIGNING_H
#define TERND_SIGNING_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct ternd_signing;
struct ternd_signer;

/* Room a queued message keeps for its signatures (q_envelope.prefix_room):
 * an RSA-4096 and an Ed25519 signature, folded, with room to spare. */
#define TERND_SIGNING_ROOM 3072

/* Loads every key under state_dir/domains. *s_r is NULL when there is
 * none (nothing to sign with). Returns 0, or -1 with err set (a key that
 * cannot be read, or out of memory). */
int ternd_signing_load(struct ternd_signing **s_r, const char *state_dir, char *err,
		       size_t err_size);
void ternd_signing_free(struct ternd_signing **s);

/* The table in service, shared by the loops. */
struct ternd_signing_slot;
/* Takes ownership of s (may be NULL: nothing to sign with yet). Returns 0
 * or -1 (out of memory; s is freed). */
int ternd_signing_slot_new(struct ternd_signing_slot **slot_r, struct ternd_signing *s);
void ternd_signing_slot_free(struct ternd_signing_slot **slot);
/* A reference to the table in service, NULL when there is none; give it
 * back with ternd_signing_put(). */
struct ternd_signing *ternd_signing_get(struct ternd_signing_slot *slot);
void ternd_signing_put(struct ternd_signing **s);
/* SIGHUP: reads state_dir/domains again and puts the result in service.
 * On error the table in service stays and err says why. Returns 0 or -1. */
int ternd_signing_reload(struct ternd_signing_slot *slot, const char *state_dir, char *err,
			 size_t err_size);
/* How many keys, over how many domains (for the start-up log). */
void ternd_signing_counts(const struct ternd_signing *s, unsigned *domains, unsigned *keys);

/* One message. Feed it as it is queued; the From domain decides, once the
 * header section has ended, whether and with which keys it is signed. The
 * signer takes its own reference to s. Returns 0 or -1 (out of memory). */
int ternd_signer_new(struct ternd_signer **m_r, struct ternd_signing *s, time_t now);
/* Returns 0, or -1: the message cannot be signed (out of memory); it still
 * goes, unsigned, and the caller logs why. */
int ternd_signer_feed(struct ternd_signer *m, const void *data, size_t len);
/* The DKIM-Signature fields to prepend, CRLF-terminated, concatenated;
 * *fields_r NULL (and 0) when the message is not to be signed (no key for
 * its From domain). The caller frees *fields_r. Returns 0 or -1 (with
 * *why_r a short reason: the message goes unsigned). */
int ternd_signer_finish(struct ternd_signer *m, char **fields_r, size_t *len_r,
			const char **why_r);
/* The domain signed for (d=), NULL when none; valid until the free. */
const char *ternd_signer_domain(const struct ternd_signer *m);
void ternd_signer_free(struct ternd_signer **m);

#endif
