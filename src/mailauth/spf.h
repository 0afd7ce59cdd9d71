/* SPDX-License-Identifier: MIT */
/*
 * SPF (RFC 7208): check_host() for the MAIL FROM and HELO identities. The
 * evaluator (spf_eval_*) does no I/O: it asks for one DNS answer at a time
 * and is fed them, so tests can drive it; spf_check_start() runs it on an
 * ioev loop through dns_lookup(), spf_check_sync() for tools. docs/mailauth.md.
 */
#ifndef HERALD_MAILAUTH_SPF_H
#define HERALD_MAILAUTH_SPF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/dns.h"

struct ioev_loop;

/* The seven results of RFC 7208 2.6. */
enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* Which identity is checked (RFC 7208 2.3, 2.4). */
enum spf_identity {
	SPF_ID_MAILFROM,	/* the reverse-path; "" checks the HELO
				 * name as postmaster@HELO (2.4) */
	SPF_ID_HELO,		/* the HELO/EHLO name */
};

/* Processing limits (RFC 7208 4.6.4, 11.1); [mailauth] settings. */
struct spf_limits {
	unsigned dns_mechanisms;	/* include/a/mx/ptr/exists/redirect
					 * per check (10) */
	unsigned void_lookups;		/* NXDOMAIN/NODATA answers (2) */
	unsigned mx_names;		/* MX records of one mx (10; more is
					 * permerror) */
	unsigned ptr_names;		/* PTR names checked (10; the rest
					 * ignored) */
	unsigned timeout_ms;		/* the whole check (20 s) */
};

/* The RFC's figures above. */
void spf_limits_default(struct spf_limits *lim);

struct spf_request {
	enum spf_identity identity;
	/* The SMTP client's address (AF_INET or AF_INET6; an IPv4-mapped
	 * IPv6 address is checked as IPv4, RFC 7208 5). */
	const struct sockaddr *ip;
	const char *mail_from;	/* the address without <>; "" or NULL for
				 * the null reverse-path */
	const char *helo;	/* the HELO/EHLO argument; NULL as "" */
	const char *receiver;	/* %{r}; NULL: "unknown" */
};

struct spf_verdict {
	enum spf_result result;
	enum spf_identity identity;	/* HELO for MAIL FROM <> */
	char *domain;		/* the domain checked first ("" if none) */
	/* SPF_FAIL only: the explanation (RFC 7208 6.2) from the exp=
	 * modifier when it gave one (explanation_from_record), otherwise
	 * Herald's own text. NULL for the other results. */
	char *explanation;
	bool explanation_from_record;
	/* The term that decided ("-all", "ip4:192.0.2.0/24"), "default"
	 * when none matched; NULL for none, temperror, permerror. */
	char *mechanism;
	/* temperror/permerror/none: why, for logs and Received-SPF. */
	char *problem;
	unsigned dns_mechanisms;	/* counted against the limits */
	unsigned void_lookups;
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror",
 * "permerror" (the words of RFC 7208 and RFC 8601). */
const char *spf_result_name(enum spf_result result);

/* --- the evaluator, without I/O -------------------------------------- */

struct spf_eval;

enum spf_step {
	SPF_STEP_DONE,		/* spf_eval_verdict() has the result */
	SPF_STEP_NEED_DNS,	/* feed the answer to the lookup named */
};

/* A check of req (copied: req's strings may go after the call) under
 * lim (copied). Never NULL. */
struct spf_eval *spf_eval_new(const struct spf_request *req,
			      const struct spf_limits *lim);
void spf_eval_free(struct spf_eval **eval);

/* Runs the check as far as the answers given allow. SPF_STEP_NEED_DNS:
 * *name_r (valid until the next call) and *type_r name the next lookup;
 * give its answer with spf_eval_answer() and step again. At most
 * SPF_EVAL_MAX_ANSWERS lookups are ever asked for. */
#define SPF_EVAL_MAX_ANSWERS 256
/* The answers kept take at most about this many octets: one that would
 * go past it ends the check with permerror (a hostile domain's large
 * RRsets at every lookup). */
#define SPF_EVAL_MAX_BYTES (2u * 1024 * 1024)
enum spf_step spf_eval_step(struct spf_eval *eval, const char **name_r,
			    enum dns_type *type_r);
/* The answer to the lookup the last step asked for (copied). */
void spf_eval_answer(struct spf_eval *eval, const struct dns_result *res);
/* The same, taking *res (freed and set to NULL when not kept): no copy of
 * an answer made for this check alone (dns_lookup_now()'s). */
void spf_eval_answer_take(struct spf_eval *eval, struct dns_result **res);
/* Ends the check with temperror (the time limit ran out). */
void spf_eval_abort(struct spf_eval *eval, const char *why);
/* After SPF_STEP_DONE: the verdict, valid until spf_eval_free(). */
const struct spf_verdict *spf_eval_verdict(const struct spf_eval *eval);
/* After SPF_STEP_DONE: the verdict for the caller to keep
 * (spf_verdict_free()); the evaluator's is left empty. */
struct spf_verdict *spf_eval_take_verdict(struct spf_eval *eval);

/* --- running it ------------------------------------------------------ */

struct spf_check;

/* Runs on the loop thread, never from inside spf_check_start(). verdict
 * is valid until the callback returns; the check is freed after it
 * (forget the handle). */
typedef void spf_cb_t(const struct spf_verdict *verdict, void *ctx);

/* Starts a check on loop through resolver (made for that loop). The
 * lookups run one after the other; the whole check ends with temperror
 * after lim->timeout_ms. Never NULL. */
struct spf_check *spf_check_start(struct ioev_loop *loop,
				  struct dns_resolver *resolver,
				  const struct spf_request *req,
				  const struct spf_limits *lim,
				  spf_cb_t *cb, void *ctx);
/* The same, except that the check runs at once as far as the DNS cache
 * answers (dns_lookup_now()): when that is its end, cb runs inside this
 * call and NULL is returned; otherwise the handle, as from
 * spf_check_start(). For a caller that can take the verdict at once
 * (smtp-authin.c at MAIL): no loop turn and no timer for a sender whose
 * answers came with its previous message. */
struct spf_check *spf_check_start_now(struct ioev_loop *loop,
				      struct dns_resolver *resolver,
				      const struct spf_request *req,
				      const struct spf_limits *lim,
				      spf_cb_t *cb, void *ctx);
/* The callback will not run; frees the check and its lookup in flight.
 * NULL or *check NULL: nothing. */
void spf_check_cancel(struct spf_check **check);

/* The same, blocking (dns_lookup_sync(), a resolver made without a
 * loop): for command-line tools and tests. The time limit is checked
 * between lookups (each one is bounded by [dns] timeout). The caller frees the verdict
 * with spf_verdict_free(). */
struct spf_verdict *spf_check_sync(struct dns_resolver *resolver,
				   const struct spf_request *req,
				   const struct spf_limits *lim);
void spf_verdict_free(struct spf_verdict **verdict);

/* --- the verdict as header text (spf-header.c) ------------------------ */

/* The body of a Received-SPF field (RFC 7208 9.1), unfolded, allocated:
 * 'pass (mx.example.org: domain of a@example.com designates 192.0.2.1 as
 * permitted sender) client-ip=192.0.2.1; envelope-from=a@example.com;
 * helo=mail.example.com; receiver=mx.example.org; identity=mailfrom;
 * mechanism="ip4:192.0.2.0/24"'. Peer values are quoted or made safe
 * (no controls: no new header lines). */
char *spf_received_spf(const struct spf_verdict *verdict,
		       const char *client_ip, const char *mail_from,
		       const char *helo, const char *receiver);
/* The spf resinfo of Authentication-Results (RFC 8601 2.7.2),
 * allocated: "spf=pass smtp.mailfrom=example.com", or smtp.helo= for the
 * HELO identity. */
char *spf_auth_results(const struct spf_verdict *verdict);

#endif
