#include "smtp/transaction.h"

#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

void tern__smtp_tx_init(struct tern__smtp_transaction *tx)
{
	memset(tx, 0, sizeof(*tx));
	tx->headers_tail = &tx->headers;
}

static void recipient_free(struct tern__smtp_recipient *r)
{
	if (!r)
		return;
	free(r->reply_text);
	free(r->reply_enhanced);
	free(r);
}

void tern__smtp_tx_drop_pending(struct tern__smtp_transaction *tx)
{
	free(tx->pending_mail_storage);
	tx->pending_mail_storage = NULL;
	memset(&tx->pending_mail, 0, sizeof(tx->pending_mail));
	recipient_free(tx->pending_rcpt);
	tx->pending_rcpt = NULL;
}

void tern__smtp_tx_free_headers(struct tern__smtp_transaction *tx)
{
	struct tern__smtp_header *h = tx->headers;
	while (h) {
		struct tern__smtp_header *next = h->next;
		free(h);
		h = next;
	}
	tx->headers = NULL;
	tx->headers_tail = &tx->headers;
}

void tern__smtp_tx_reset(struct tern__smtp_transaction *tx)
{
	tern__smtp_tx_drop_pending(tx);
	free(tx->mail_storage);
	for (unsigned i = 0; i < tx->rcpt_count; i++)
		recipient_free(tx->rcpts[i]);
	free(tx->rcpts);
	tern__smtp_tx_free_headers(tx);
	tern__smtp_tx_init(tx);
}

/* Copies a possibly NULL string into storage at *pos. */
static const char *put(char **pos, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	memcpy(*pos, s, n);
	const char *r = *pos;
	*pos += n;
	return r;
}

static size_t need(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

int tern__smtp_tx_set_pending_mail(struct tern__smtp_transaction *tx, const tern_smtp_mail *m)
{
	tern__smtp_tx_drop_pending(tx);
	char *storage = malloc(need(m->address) + need(m->envid) + need(m->auth));
	if (!storage)
		return TERN_ENOMEM;
	char *pos = storage;
	tx->pending_mail = *m;
	tx->pending_mail.address = put(&pos, m->address);
	tx->pending_mail.envid = put(&pos, m->envid);
	tx->pending_mail.auth = put(&pos, m->auth);
	tx->pending_mail_storage = storage;
	return 0;
}

void tern__smtp_tx_commit_mail(struct tern__smtp_transaction *tx)
{
	free(tx->mail_storage);
	tx->mail = tx->pending_mail;
	tx->mail_storage = tx->pending_mail_storage;
	tx->pending_mail_storage = NULL;
	memset(&tx->pending_mail, 0, sizeof(tx->pending_mail));
	tx->active = true;
}

int tern__smtp_tx_set_pending_rcpt(struct tern__smtp_transaction *tx, const tern_smtp_rcpt *r)
{
	tern__smtp_tx_drop_pending(tx);
	size_t n = sizeof(struct tern__smtp_recipient) + need(r->address) + need(r->orcpt_type) +
		   need(r->orcpt);
	struct tern__smtp_recipient *rc = calloc(1, n);
	if (!rc)
		return TERN_ENOMEM;
	char *pos = (char *)(rc + 1);
	rc->rcpt = *r;
	rc->rcpt.address = put(&pos, r->address);
	rc->rcpt.orcpt_type = put(&pos, r->orcpt_type);
	rc->rcpt.orcpt = put(&pos, r->orcpt);
	tx->pending_rcpt = rc;
	return 0;
}

int tern__smtp_tx_commit_rcpt(struct tern__smtp_transaction *tx)
{
	if (tx->rcpt_count == tx->rcpt_cap) {
		unsigned cap = tx->rcpt_cap ? tx->rcpt_cap * 2 : 4;
		void *p = realloc(tx->rcpts, cap * sizeof(*tx->rcpts));
		if (!p) {
			tern__smtp_tx_drop_pending(tx);
			return TERN_ENOMEM;
		}
		tx->rcpts = p;
		tx->rcpt_cap = cap;
	}
	tx->rcpts[tx->rcpt_count++] = tx->pending_rcpt;
	tx->pending_rcpt = NULL;
	return 0;
}

int tern__smtp_tx_add_header(struct tern__smtp_transaction *tx, const char *name,
			     const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	size_t len = nl + 2 + vl + 2;
	struct tern__smtp_header *h = malloc(sizeof(*h) + len + 1);
	if (!h)
		return TERN_ENOMEM;
	memcpy(h->line, name, nl);
	memcpy(h->line + nl, ": ", 2);
	memcpy(h->line + nl + 2, value, vl);
	memcpy(h->line + nl + 2 + vl, "\r\n", 3);
	h->len = len;
	h->next = NULL;
	*tx->headers_tail = h;
	tx->headers_tail = &h->next;
	return 0;
}
