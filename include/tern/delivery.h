/* libtern outbound delivery: hand it a message, it finds where each
 * recipient's mail goes and sends it, on an event loop you run.
 *
 * What it does (RFC 5321 5.1 and 4.5.4): MX lookup through libunbound on
 * the loop (preference order, equal preferences shuffled, implicit MX, RFC
 * 7505 null MX, temporary and permanent DNS failures kept apart), the
 * addresses of each host (IPv6 and IPv4), the next address or host after a
 * connection failure, a failed greeting, a TLS failure or a temporary
 * failure of the whole transaction, STARTTLS when offered (required for
 * REQUIRETLS messages, RFC 8689, or by policy), connections reused for the
 * next message to the same destination, at most max_per_dest connections
 * per destination and dest_rate messages a minute, max_msgs_per_conn
 * messages per connection. Or everything through a smarthost (relayhost),
 * with AUTH. The SMTP protocol itself is the client engine
 * (tern/smtp_client.h).
 *
 * What it does not: queue, retry later, bounce. Each tern_delivery_send()
 * is one attempt; its callback gives each recipient's result, classed
 * success, temporary (try again later) or permanent (bounce), for the
 * caller's queue to act on.
 *
 * Threads: a tern_delivery belongs to the thread running its loop; every
 * call and every callback happens there. Distinct tern_delivery objects
 * share nothing. */
#ifndef TERN_DELIVERY_H
#define TERN_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tern/smtp.h"
#include "tern/smtp_client.h"
#include "tern/tern.h"

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
typedef struct tern_delivery tern_delivery;
typedef struct tern_delivery_job tern_delivery_job;

/* TLS policy (Postfix's smtp_tls_security_level words). */
enum tern_delivery_tls {
	/* STARTTLS when offered, any certificate; a failed handshake is
	 * retried once without TLS (RFC 7435 opportunistic security).
	 * REQUIRETLS messages are only sent over verified TLS. */
	TERN_DELIVERY_TLS_MAY = 0,
	TERN_DELIVERY_TLS_NONE,    /* never STARTTLS (REQUIRETLS messages then fail) */
	TERN_DELIVERY_TLS_ENCRYPT, /* STARTTLS required, any certificate */
	TERN_DELIVERY_TLS_VERIFY,  /* STARTTLS required, the certificate must verify */
};

/* RFC 8460 4.2 policy types. */
enum tern_delivery_tls_policy {
	TERN_DELIVERY_POLICY_NONE = 0, /* "no-policy-found" */
	TERN_DELIVERY_POLICY_TLSA,     /* "tlsa": DANE */
	TERN_DELIVERY_POLICY_STS,      /* "sts": MTA-STS */
};

/* One delivery attempt's TLS outcome, for TLS-RPT (RFC 8460) reports:
 * a session that came up (its TLS, or none), a connection whose TLS
 * failed, a host not used because of a policy, or a policy that could not
 * be had. Every string is valid during the callback only. */
typedef struct tern_delivery_tls_outcome {
	const char *domain;           /* the policy domain: the recipient domain */
	enum tern_delivery_tls_policy policy;
	/* RFC 8460 4.4 policy-string: the TLSA records in presentation form
	 * ("3 1 1 ab12..."), or the MTA-STS policy's lines; n may be 0. */
	const char *const *policy_strings;
	size_t n_policy_strings;
	bool sts_testing;             /* an MTA-STS policy in mode testing */
	const char *mx_host;          /* receiving-mx-hostname; "" when no host was tried */
	const char *ip;               /* receiving-ip; "" when none */
	/* NULL: success (TLS was negotiated and, under a policy, it
	 * verified). Else RFC 8460 4.3's result type: "starttls-not-supported",
	 * "certificate-host-mismatch", "certificate-expired",
	 * "certificate-not-trusted", "validation-failure", "tlsa-invalid",
	 * "dnssec-invalid", "sts-policy-fetch-error", "sts-policy-invalid",
	 * "sts-webpki-invalid". Without a policy, a session without TLS
	 * reports "starttls-not-supported". */
	const char *result;
	const char *detail;           /* why, for people; "" when nothing to say */
	bool delivered_anyway;        /* a failure that did not stop the session (testing mode) */
} tern_delivery_tls_outcome;

/* MTA-STS policies are cached in memory per agent; these hooks let the
 * embedder keep them across restarts. load() is asked once per domain
 * missing from the memory cache and fills *text with the policy body as
 * fetched (malloc'd, the library frees it), *id with the TXT record's id
 * (malloc'd) and *fetched with the time (seconds since the epoch) it was
 * fetched; it returns true when it had one. store() gets each policy
 * fetched (text NULL: forget the domain). Both run on the loop's thread,
 * must not block long, and may be NULL. */
typedef struct tern_delivery_sts_store {
	bool (*load)(const char *domain, char **text, char **id, int64_t *fetched,
		     void *user_data);
	void (*store)(const char *domain, const char *text, const char *id, int64_t fetched,
		      void *user_data);
} tern_delivery_sts_store;

typedef struct tern_delivery_options {
	size_t struct_size;   /* set by tern_delivery_options_init() */
	const char *helo_name; /* our name in EHLO; required */
	/* A smarthost for every message: "host", "host:port", "[host]:port"
	 * or "[address]:port" (brackets: no MX lookup, as in Postfix), or
	 * "/path" of a local socket (LMTP to Dovecot). NULL: each recipient
	 * domain's MX hosts. */
	const char *relayhost;
	unsigned port;        /* MX delivery port; 0: 25. The relayhost's own port wins. */
	bool lmtp;            /* speak LMTP (RFC 2033) to the relayhost */
	enum tern_delivery_tls tls;
	const char *tls_ca_file; /* CAs that verify servers; NULL: the system's */
	/* AUTH to the relayhost (never to MX hosts): the engine's mechanism
	 * choice (tern_smtp_client_options.auth_mechs semantics). */
	const char *auth_user;
	const char *auth_password;
	/* "ADDR" or "ADDR@PORT": every DNS query goes there (tests, split
	 * horizon); NULL: /etc/resolv.conf. */
	const char *dns_server;
	unsigned dns_timeout_ms;      /* the whole MX + address lookup; 0: 10000 */
	unsigned connect_timeout_ms;  /* 0: 30000 */
	unsigned max_per_dest;        /* connections per destination; 0: 20 (Postfix's) */
	unsigned dest_rate;           /* messages per minute per destination; 0: no limit */
	unsigned max_msgs_per_conn;   /* 0: 100 */
	unsigned conn_cache_ms;       /* an idle connection waits this long for the next
				       * message to its destination; 0: 2000 */
	unsigned max_addresses;       /* addresses tried per destination and attempt; 0: 5 */
	/* Our own names, for RFC 5321 5.1's loop rule (NULL-terminated);
	 * NULL: helo_name alone. */
	const char *const *self_names;
	/* Every wait for a server's reply or its data, in ms, instead of
	 * RFC 5321 4.5.3.2's values (2 to 10 minutes); 0: those. */
	unsigned server_timeout_ms;
	/* Log lines (connections, TLS, failures); may be NULL. */
	void (*on_log)(enum tern_smtp_log_level level, const char *line, void *user_data);
	enum tern_smtp_log_level log_level;
	void *user_data;
	/* ---- DNSSEC, DANE, MTA-STS, TLS-RPT (docs/dane-mta-sts.md) ---- */
	/* DNSSEC trust anchors: a file of DS or DNSKEY records in zone-file
	 * form (/usr/share/dns/root.key). NULL: none, every answer is
	 * insecure and DANE never applies. */
	const char *dns_trust_anchor;
	/* DANE for MX delivery (RFC 7672): on DNSSEC-secure MX, address and
	 * TLSA records, STARTTLS is mandatory and the certificate must match
	 * a usable TLSA record. Inert with tls TERN_DELIVERY_TLS_NONE and
	 * for the relayhost. */
	bool dane;
	/* MTA-STS for MX delivery (RFC 8461): a recipient domain's policy
	 * fetched over HTTPS (verified against tls_ca_file), cached in
	 * memory; "enforce" limits delivery to the policy's MX hosts over
	 * verified TLS. Inert as dane. DANE wins for a host with usable TLSA
	 * records (RFC 8461 2). */
	bool mta_sts;
	unsigned mta_sts_port;        /* the policy host's HTTPS port; 0: 443 (tests set it) */
	unsigned mta_sts_timeout_ms;  /* the whole policy fetch; 0: 10000 */
	const tern_delivery_sts_store *sts_store; /* may be NULL; copied */
	/* Each attempt's TLS outcome (may be NULL); on the loop's thread. */
	void (*on_tls_outcome)(const tern_delivery_tls_outcome *outcome, void *user_data);
} tern_delivery_options;

#define tern_delivery_options_init(o) tern_delivery_options_init_sized((o), sizeof(*(o)))
void tern_delivery_options_init_sized(tern_delivery_options *o, size_t size);

/* Creates an agent on base (not owned; it must outlive the agent). The
 * library copies every option string. Returns 0, TERN_EINVAL (no
 * helo_name, a relayhost or dns_server it cannot parse, an unreadable
 * tls_ca_file or dns_trust_anchor: on_log says why) or TERN_ENOMEM. */
int tern_delivery_new(tern_delivery **d_r, struct event_base *base,
		      const tern_delivery_options *opts);

/* Stops everything: connections close without QUIT, no callback runs
 * after this. Sets *d to NULL. Not from inside one of its callbacks. */
void tern_delivery_free(tern_delivery **d);

/* One recipient's outcome. Strings are valid during the callback. */
typedef struct tern_delivery_result {
	const char *address;
	enum tern_smtp_client_class cls;
	int code;                  /* the server's reply code, or a local one */
	const char *enhanced;      /* "2.0.0", "5.1.1", ... (RFC 3463) */
	const char *text;          /* the reply text, or why (a DSN's diagnostic) */
	bool remote;               /* code/text came from the server (else local) */
	const char *relay;         /* "mx.example.org[192.0.2.1]:25", or "none" */
	const char *tls;           /* "TLSv1.3 ... (verified)", or "" */
	/* NOTIFY=SUCCESS was asked but the next hop lacks DSN: on success,
	 * a "relayed" DSN is due (RFC 3461 4.2). */
	bool relayed_without_dsn;
} tern_delivery_result;

typedef void tern_delivery_cb(const tern_delivery_result *results, size_t n, void *arg);

/* The body: len octets of fd from offset (read with pread when sent; the
 * fd must stay open until the callback), or len octets at data (fd < 0;
 * valid until the callback). */
typedef struct tern_delivery_body {
	int fd;
	off_t offset;
	const void *data;
	uint64_t len;
} tern_delivery_body;

/* Sends msg (recipients may be in several domains) once. cb runs once, from
 * the loop (never inside this call), with every recipient's result in the
 * order of msg->rcpts. msg and its strings are copied. *job_r (may be NULL)
 * is valid until the callback runs or tern_delivery_cancel(). Returns 0,
 * TERN_EINVAL (no recipient, a bad address) or TERN_ENOMEM. */
int tern_delivery_send(tern_delivery *d, const tern_smtp_client_message *msg,
		       const tern_delivery_body *body, tern_delivery_cb *cb, void *arg,
		       tern_delivery_job **job_r);

/* Abandons a job: its callback never runs (a connection carrying it is
 * closed). Sets *job to NULL. */
void tern_delivery_cancel(tern_delivery_job **job);

/* Connections open now (busy and idle), for tests and metrics. */
unsigned tern_delivery_connections(const tern_delivery *d);

#ifdef __cplusplus
}
#endif
#endif
