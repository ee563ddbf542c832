/* DANE decisions for SMTP (RFC 7672): see client/dane.h. */
#include "client/dane.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

bool tern__dane_lookup_due(bool mx_secure, bool host_addresses_secure)
{
	/* RFC 7672 2.2.1: an insecure MX RRset means the host names may be
	 * an attacker's; 2.2.2: an insecure address RRset means the TLSA
	 * records are not to be looked up either. */
	return mx_secure && host_addresses_secure;
}

int tern__dane_tlsa_name(char *buf, size_t size, unsigned port, const char *host)
{
	int n = snprintf(buf, size, "_%u._tcp.%s", port, host);

	return n < 0 || (size_t)n >= size || (size_t)n > TERN__DNS_NAME_SIZE - 1 ? TERN_EINVAL : 0;
}

bool tern__dane_tlsa_parse(const unsigned char *rdata, size_t len, struct tern__tlsa *t)
{
	memset(t, 0, sizeof(*t));
	if (rdata == NULL || len < 4)
		return false;
	t->usage = rdata[0];
	t->selector = rdata[1];
	t->mtype = rdata[2];
	t->data = (unsigned char *)rdata + 3;
	t->len = len - 3;
	return true;
}

bool tern__dane_tlsa_usable(const struct tern__tlsa *t)
{
	/* RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable in SMTP;
	 * unknown usages, selectors and matching types are unusable (RFC
	 * 6698 4.1). A digest of the wrong length cannot match anything:
	 * counting it as usable would only turn a typo into a failure of
	 * every delivery that the other records could have authenticated. */
	if (t->usage != TERN__TLSA_DANE_TA && t->usage != TERN__TLSA_DANE_EE)
		return false;
	if (t->selector != TERN__TLSA_SEL_CERT && t->selector != TERN__TLSA_SEL_SPKI)
		return false;
	switch (t->mtype) {
	case TERN__TLSA_MT_FULL:
		return t->len > 0 && t->len <= TERN__DANE_MAX_DATA;
	case TERN__TLSA_MT_SHA256:
		return t->len == 32;
	case TERN__TLSA_MT_SHA512:
		return t->len == 64;
	default:
		return false;
	}
}

void tern__dane_host_clear(struct tern__dane_host *h)
{
	for (size_t i = 0; i < h->n_tlsa; i++)
		free(h->tlsa[i].data);
	memset(h, 0, sizeof(*h));
}

void tern__dane_host_fail(struct tern__dane_host *h, const char *rpt_type, const char *why)
{
	tern__dane_host_clear(h);
	h->state = TERN__DANE_FAILED;
	h->rpt_type = rpt_type;
	snprintf(h->why, sizeof(h->why), "%s", why);
}

int tern__dane_host_decide(struct tern__dane_host *h, const struct tern__dns_answer *a)
{
	tern__dane_host_clear(h);
	/* Rule 5: a bogus answer, whatever its status (libunbound reports a
	 * bogus answer as SERVFAIL with sec bogus). */
	if (a->security == TERN__DNS_BOGUS) {
		tern__dane_host_fail(h, "dnssec-invalid", "TLSA answer failed DNSSEC validation");
		return 0;
	}
	switch (a->status) {
	case TERN__DNS_NXDOMAIN:
	case TERN__DNS_NODATA:
		/* Rule 4: secure or not, no records means no DANE. */
		return 0;
	case TERN__DNS_TEMPFAIL:
		tern__dane_host_fail(h, "dnssec-invalid", "TLSA lookup failed (SERVFAIL)");
		return 0;
	case TERN__DNS_TIMEOUT:
		tern__dane_host_fail(h, "dnssec-invalid", "TLSA lookup timed out");
		return 0;
	case TERN__DNS_ANSWER:
		break;
	}
	if (a->security != TERN__DNS_SECURE)
		return 0; /* rule 4: records an attacker could have made */
	for (size_t i = 0; i < a->n; i++) {
		struct tern__tlsa t;

		if (!tern__dane_tlsa_parse(a->raw[i].data, a->raw[i].len, &t) ||
		    !tern__dane_tlsa_usable(&t) || h->n_tlsa >= TERN__DANE_MAX_TLSA) {
			h->n_unusable++;
			continue;
		}
		h->tlsa[h->n_tlsa] = t;
		h->tlsa[h->n_tlsa].data = malloc(t.len);
		if (h->tlsa[h->n_tlsa].data == NULL) {
			tern__dane_host_clear(h);
			return TERN_ENOMEM;
		}
		memcpy(h->tlsa[h->n_tlsa].data, t.data, t.len);
		h->n_tlsa++;
	}
	/* Rules 2 and 3. */
	h->state = h->n_tlsa > 0 ? TERN__DANE_VERIFY : TERN__DANE_ENCRYPT;
	return 0;
}

void tern__dane_tlsa_format(const struct tern__tlsa *t, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	int n = snprintf(buf, size, "%u %u %u ", t->usage, t->selector, t->mtype);
	size_t at;

	if (n < 0 || (size_t)n >= size)
		return;
	at = (size_t)n;
	for (size_t i = 0; i < t->len && at + 2 < size; i++) {
		buf[at++] = hex[t->data[i] >> 4];
		buf[at++] = hex[t->data[i] & 15];
	}
	buf[at] = '\0';
}
