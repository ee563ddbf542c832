/* The mail transaction: the envelope built by MAIL and RCPT and the state of
 * its message transfer. Changed only after the embedder approved a step. */
#ifndef TERN_SMTP_TRANSACTION_H
#define TERN_SMTP_TRANSACTION_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/smtp.h"

struct tern__smtp_recipient {
	tern_smtp_rcpt rcpt;   /* strings point into storage after the struct */
	tern_smtp_reply reply; /* LMTP per-recipient reply; code 0 = unset */
	char *reply_text, *reply_enhanced;
};

struct tern__smtp_header {
	struct tern__smtp_header *next;
	size_t len;
	char line[];           /* "Name: value\r\n" */
};

struct tern__smtp_transaction {
	bool active;              /* MAIL accepted */
	tern_smtp_mail mail;      /* strings owned by mail_storage */
	char *mail_storage;
	struct tern__smtp_recipient **rcpts;
	unsigned rcpt_count, rcpt_cap;
	bool rcpt_attempted;      /* some RCPT was tried, accepted or not */

	/* Candidates waiting for the embedder's decision. */
	tern_smtp_mail pending_mail;
	char *pending_mail_storage;
	struct tern__smtp_recipient *pending_rcpt;

	/* Message transfer. */
	bool data_started;        /* on_data_start accepted: body is being streamed */
	bool bdat_used;           /* BDAT seen in this transaction */
	bool bdat_failed;         /* RFC 3030 2: discard further chunks */
	struct tern__smtp_header *headers, **headers_tail;
	bool headers_open;        /* add_header allowed now */
};

void tern__smtp_tx_init(struct tern__smtp_transaction *tx);
/* Frees everything and returns to the initial (no MAIL) state. */
void tern__smtp_tx_reset(struct tern__smtp_transaction *tx);
/* Builds a candidate MAIL (copies strings). Returns 0 or TERN_ENOMEM. */
int tern__smtp_tx_set_pending_mail(struct tern__smtp_transaction *tx, const tern_smtp_mail *m);
void tern__smtp_tx_commit_mail(struct tern__smtp_transaction *tx);
int tern__smtp_tx_set_pending_rcpt(struct tern__smtp_transaction *tx, const tern_smtp_rcpt *r);
/* Returns 0 or TERN_ENOMEM (the candidate is dropped then). */
int tern__smtp_tx_commit_rcpt(struct tern__smtp_transaction *tx);
void tern__smtp_tx_drop_pending(struct tern__smtp_transaction *tx);
int tern__smtp_tx_add_header(struct tern__smtp_transaction *tx, const char *name,
			     const char *value);
void tern__smtp_tx_free_headers(struct tern__smtp_transaction *tx);

#endif
