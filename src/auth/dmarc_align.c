/* Organizational domains (RFC 7489 3.2) and identifier alignment (3.1),
 * over libpsl. */
#include <libpsl.h>
#include <strings.h>

#include "tern/dmarc.h"

const char *tern_dmarc_org_domain(const struct psl_ctx_st *psl, const char *domain)
{
	if (psl == NULL)
		psl = psl_builtin();
	/* psl_builtin() is NULL only in a libpsl built without its list; then
	 * every domain is its own organization (alignment turns strict). */
	if (psl == NULL || domain == NULL)
		return domain;
	/* RFC 7489 3.2 steps 3-4: the public suffix plus one label. libpsl
	 * applies the "*" default rule, so an unlisted TLD gives
	 * "example.unknowntld"; a domain that is itself a public suffix gives
	 * NULL and is its own organizational domain. */
	const char *org = psl_registrable_domain(psl, domain);

	return org != NULL ? org : domain;
}

bool tern_dmarc_aligned(const struct psl_ctx_st *psl, const char *a, const char *b,
			enum tern_dmarc_alignment mode)
{
	if (a == NULL || b == NULL)
		return false;
	if (strcasecmp(a, b) == 0)
		return true;
	if (mode == TERN_DMARC_STRICT)
		return false;
	return strcasecmp(tern_dmarc_org_domain(psl, a), tern_dmarc_org_domain(psl, b)) == 0;
}
