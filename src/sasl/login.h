/* SPDX-License-Identifier: MIT */
/*
 * The one login service of every protocol (SMTP AUTH, POP3 USER/PASS, APOP
 * and AUTH; IMAP next): credential lookup through the store, the canonical
 * account key, one failure budget per client address and one per account
 * shared by all protocols and all workers, the fail delay, and the auth-failed
 * log line fail2ban reads (docs/logging.md, docs/limits.md "Failed logins").
 */
#ifndef HERALD_SASL_LOGIN_H
#define HERALD_SASL_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sasl/sasl.h"

struct buf;
struct config_auth;
struct setting_section;
struct store;

/* The [auth] section of the configuration (sasl-settings.c): these
 * limits, password hashing and the shortest password. */
extern const struct setting_section auth_settings_section;

/* Room for a canonical account key or an address key, with the NUL. */
#define LOGIN_KEY_MAX (SASL_MAX_USERNAME + 1)

struct login_limits {
	unsigned fail_per_ip;		/* failures per window per address */
	unsigned fail_per_user;		/* and per account */
	time_t fail_window_s;
	uint64_t fail_delay_ms;		/* before a failure is answered */
	/* How long an address that logged in to an account stays exempt
	 * from that account's budget; 0: no address is. */
	time_t known_address_s;
	/* New known addresses one account may add per day (0: no cap):
	 * beyond them its logins still succeed but are not remembered, so
	 * one account logging in from ever new addresses cannot push the
	 * known addresses of others out of the table. */
	unsigned known_addresses_per_day;
	unsigned ipv6_prefix;		/* IPv6 addresses share a budget per
					 * prefix of this many bits */
	size_t table_size;		/* keys per table (LRU evicted) */
	/* The verified-login cache (login.c): how long a (user, password,
	 * stored hash) that matched is remembered, and how many such
	 * entries a worker keeps; either 0: no cache. */
	time_t login_cache_s;
	size_t login_cache_size;
};

/* Time source; tests inject one. */
typedef time_t login_clock_cb_t(void);

struct login_service;
struct login_attempt;

/* The [auth] settings as limits. */
void login_limits_from_config(const struct config_auth *auth,
			      struct login_limits *limits_r);

/* A service with its own tables; clock NULL means time(). Free with
 * login_service_free. */
struct login_service *login_service_new(const struct login_limits *limits,
					login_clock_cb_t *clock);
void login_service_free(struct login_service **svc);
/* The worker's service, shared by every protocol of the process: the one
 * login_service_prepare() made before the worker was forked, else one
 * made from auth on the first call. Event-loop thread. Never freed. */
struct login_service *login_service_get(const struct config_auth *auth);
/* Makes the service for the workers about to be forked (the supervisor,
 * once per generation): its tables live in shared memory, so every
 * worker of the generation counts failures in the same budgets, and a
 * worker restarted after a crash keeps them. On a reload the tables and
 * their counts stay (the draining workers share them) with the new
 * limits; only a changed fail_table_size makes new ones, when this
 * process lets go of the old and workers already running keep theirs. */
void login_service_prepare(const struct config_auth *auth);

/* How long to wait before answering a failed login. */
uint64_t login_service_fail_delay_ms(const struct login_service *svc);

/* The account key of a user name: ASCII letters lowered, as the store
 * matches accounts (domains lowered, local parts compared without ASCII
 * case), so "ALICE@Example.test" and "alice@example.test" are one
 * account. Cut to fit key_r[LOGIN_KEY_MAX]. */
void login_account_key(const char *user, char key_r[LOGIN_KEY_MAX]);
/* The budget key of a client address: an IPv4 address as it is, an IPv6
 * one as its ipv6_prefix network ("2001:db8::/64"), anything else as it
 * is. */
void login_address_key(const struct login_service *svc, const char *ip,
		       char key_r[LOGIN_KEY_MAX]);

/*
 * Whether a login from ip may start. False when the address has spent its
 * budget, or when user (NULL if not known yet) names an account that has
 * spent its budget and ip has not logged in to it within
 * known_address_s. A refusal is logged (auth-ratelimited) with sid, proto
 * and method; nothing is counted.
 */
bool login_service_allows(struct login_service *svc, const char *sid,
			  const char *proto, const char *method,
			  const char *ip, const char *user);

/* Who is logging in: copied by login_attempt_new. */
struct login_client {
	const char *sid;	/* the connection's log id */
	const char *proto;	/* "smtp", "pop3": the proto= field */
	const char *ip;		/* peer address (ioev_conn_peer_ip) */
	const char *rip;	/* the same as logged (rip=) */
};

/*
 * One login exchange with mechanism mech: a SASL mechanism of sasl.h or
 * "APOP". method is what log lines call it (NULL: the mechanism's name;
 * POP3 USER/PASS runs PLAIN as "USER"). The store must outlive the
 * attempt. Returns NULL for an unknown mechanism.
 */
struct login_attempt *login_attempt_new(struct login_service *svc,
					struct store *store,
					const struct login_client *client,
					const char *mech, const char *method);
void login_attempt_free(struct login_attempt **a);

/* One SASL step (sasl_server_step's contract); looks the user up through
 * the store. Blocks: run it on the thread pool. */
enum sasl_result login_attempt_step(struct login_attempt *a,
				    const uint8_t *in, size_t inlen,
				    struct buf *out, const char **error_r);
/* APOP: checks digest against stamp and user's stored cleartext
 * (password_apop_verify). SASL_OK, SASL_FAIL or SASL_TEMPFAIL with
 * *error_r. Blocks: run it on the thread pool. */
enum sasl_result login_attempt_apop(struct login_attempt *a, const char *user,
				    const char *stamp, const char *digest,
				    const char **error_r);

enum login_outcome {
	LOGIN_OUTCOME_OK,	/* logged in as login_attempt_account() */
	LOGIN_OUTCOME_FAILED,	/* answer "failed" after the fail delay */
	LOGIN_OUTCOME_LIMITED,	/* right password, but the account's budget
				 * is spent for this address: a 4xx */
	LOGIN_OUTCOME_TEMPFAIL,	/* lookup failed: a 4xx */
	LOGIN_OUTCOME_MALFORMED,	/* a protocol error, not a guess */
};

/*
 * Ends the attempt on the loop thread with the last step's result and
 * reason: counts a failure against the address and the account, logs
 * auth-failed, auth-ratelimited or auth-tempfail, and on success records
 * the address as known for the account. A success never clears a
 * failure count. Call once, after SASL_OK, SASL_FAIL, SASL_TEMPFAIL or
 * SASL_BAD_PROTOCOL.
 */
enum login_outcome login_attempt_finish(struct login_attempt *a,
					enum sasl_result result,
					const char *reason);

/* After LOGIN_OUTCOME_OK: the account's id and canonical address (owned
 * by a). */
int64_t login_attempt_account_id(const struct login_attempt *a);
const char *login_attempt_account(const struct login_attempt *a);
/* The method as logged ("PLAIN", "USER", "APOP"). */
const char *login_attempt_method(const struct login_attempt *a);

/* Tests: the sasl exchange behind an attempt (NULL for APOP). */
struct sasl_server *login_attempt_sasl(struct login_attempt *a);

#endif
