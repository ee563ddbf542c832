/* A reply the engine keeps for later (a refused BDAT chunk, a decision the
 * embedder gave from inside its callback). Stored inline, so keeping one
 * cannot fail for lack of memory; text longer than the buffer is cut, which
 * RFC 5321 4.5.3.1.5 (512-octet reply lines) would force anyway. */
#ifndef TERN_SMTP_KEPT_REPLY_H
#define TERN_SMTP_KEPT_REPLY_H

#include <stdbool.h>
#include <stdio.h>

#include "tern/smtp.h"

struct tern__kept_reply {
	int code;
	bool has_enhanced, has_text;
	char enhanced[16];
	char text[240];
};

static inline void tern__kept_reply_set(struct tern__kept_reply *k, int code,
					const char *enhanced, const char *text)
{
	k->code = code;
	k->has_enhanced = enhanced != NULL;
	k->has_text = text != NULL;
	snprintf(k->enhanced, sizeof(k->enhanced), "%s", enhanced ? enhanced : "");
	snprintf(k->text, sizeof(k->text), "%s", text ? text : "");
}

static inline void tern__kept_reply_clear(struct tern__kept_reply *k)
{
	k->code = 0;
	k->has_enhanced = k->has_text = false;
	k->enhanced[0] = k->text[0] = '\0';
}

/* A view valid while k is unchanged. */
static inline tern_smtp_reply tern__kept_reply_get(const struct tern__kept_reply *k)
{
	return (tern_smtp_reply){k->code, k->has_enhanced ? k->enhanced : NULL,
				 k->has_text ? k->text : NULL};
}

static inline bool tern__kept_reply_empty(const struct tern__kept_reply *k)
{
	return k->code == 0 && !k->has_text;
}

#endif
