/* SPDX-License-Identifier: MIT */
/*
 * The login service: keyed tables (failures per address, failures per
 * account, addresses that logged in to an account, and how many new
 * ones each account added today) in memory the
 * workers of a generation share (sasl/ratelimit.c), the
 * credential lookup the SASL mechanisms and APOP call on a pool thread,
 * the cache of verified passwords (this process's memory only), and the
 * log lines of a login's end.
 */
#include "sasl/login.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/cidr.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "sasl/password.h"
#include "sasl/ratelimit.h"
#include "store/store.h"

struct login_service {
	struct login_limits limits;
	login_clock_cb_t *clock;
	struct ratelimit *by_ip;	/* failures per address key */
	struct ratelimit *by_user;	/* failures per account key */
	/* "<account key> <address key>" of recent successes (limit 1) */
	struct ratelimit *known;
	/* new known addresses per account key and day; NULL: no cap */
	struct ratelimit *known_new;
};

struct login_attempt {
	struct login_service *svc;
	struct store *store;
	char *sid, *proto, *ip, *rip;
	const char *method;		/* static or the mechanism's name */
	struct sasl_server *sasl;	/* NULL for APOP */
	char *user;			/* claimed user name (APOP) */
	/* filled by the lookup on the pool thread */
	int64_t account_id;
	char *account;
};

static struct login_service *login_worker_service;

void
login_limits_from_config(const struct config_auth *auth,
			 struct login_limits *limits_r)
{
	memset(limits_r, 0, sizeof(*limits_r));
	limits_r->fail_per_ip = auth->fail_per_ip;
	limits_r->fail_per_user = auth->fail_per_user;
	limits_r->fail_window_s = (time_t)auth->fail_window_s;
	limits_r->fail_delay_ms = auth->fail_delay_ms;
	limits_r->known_address_s = (time_t)auth->known_address_s;
	limits_r->known_addresses_per_day = auth->known_addresses_per_day;
	limits_r->ipv6_prefix = auth->fail_ipv6_prefix;
	limits_r->table_size = auth->fail_table_size;
	limits_r->login_cache_s = (time_t)auth->login_cache_ttl_s;
	limits_r->login_cache_size = auth->login_cache_size;
}

struct login_service *
login_service_new(const struct login_limits *limits, login_clock_cb_t *clock)
{
	struct login_service *svc = xcalloc(1, sizeof(*svc));
	size_t n = limits->table_size > 0 ? limits->table_size : 1;

	svc->limits = *limits;
	svc->clock = clock;
	svc->by_ip = ratelimit_new(n, limits->fail_per_ip,
				   limits->fail_window_s);
	svc->by_user = ratelimit_new(n, limits->fail_per_user,
				     limits->fail_window_s);
	svc->known = ratelimit_new(n, 1, limits->known_address_s);
	if (limits->known_addresses_per_day > 0)
		svc->known_new = ratelimit_new(n,
					       limits->known_addresses_per_day,
					       86400);
	return svc;
}

void
login_service_free(struct login_service **svcp)
{
	struct login_service *svc = *svcp;

	if (svc == NULL)
		return;
	ratelimit_free(&svc->by_ip);
	ratelimit_free(&svc->by_user);
	ratelimit_free(&svc->known);
	ratelimit_free(&svc->known_new);
	free(svc);
	*svcp = NULL;
}

struct login_service *
login_service_get(const struct config_auth *auth)
{
	if (login_worker_service == NULL) {
		struct login_limits lim;

		login_limits_from_config(auth, &lim);
		login_worker_service = login_service_new(&lim, NULL);
	}
	return login_worker_service;
}

void
login_service_prepare(const struct config_auth *auth)
{
	struct login_service *svc = login_worker_service;
	struct login_limits lim;

	login_limits_from_config(auth, &lim);
	/* A reload keeps the tables: new ones would hand every guesser a
	 * fresh budget and forget every known address at each reload (a
	 * certificate renewal hook reloads daily). Only a new table size
	 * starts them over. */
	if (svc != NULL && svc->limits.table_size == lim.table_size &&
	    (svc->known_new != NULL) == (lim.known_addresses_per_day > 0)) {
		svc->limits = lim;
		ratelimit_set_limits(svc->by_ip, lim.fail_per_ip,
				     lim.fail_window_s);
		ratelimit_set_limits(svc->by_user, lim.fail_per_user,
				     lim.fail_window_s);
		ratelimit_set_limits(svc->known, 1, lim.known_address_s);
		if (svc->known_new != NULL)
			ratelimit_set_limits(svc->known_new,
					     lim.known_addresses_per_day,
					     86400);
		return;
	}
	login_service_free(&login_worker_service);
	login_worker_service = login_service_new(&lim, NULL);
}

uint64_t
login_service_fail_delay_ms(const struct login_service *svc)
{
	return svc->limits.fail_delay_ms;
}

static time_t
login_now(const struct login_service *svc)
{
	return svc->clock != NULL ? svc->clock() : time(NULL);
}

/* ---- keys ---- */

void
login_account_key(const char *user, char key_r[LOGIN_KEY_MAX])
{
	size_t i = 0;

	for (; user[i] != '\0' && i + 1 < LOGIN_KEY_MAX; i++) {
		char c = user[i];

		key_r[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	key_r[i] = '\0';
}

void
login_address_key(const struct login_service *svc, const char *ip,
		  char key_r[LOGIN_KEY_MAX])
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	/* the connection layer's rule (lib/cidr): an IPv6 host commonly
	 * holds a whole /64, and an IPv4-mapped client is its IPv4 address */
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	if (ss.ss_family == 0 ||
	    !cidr_network_key(&ss, svc->limits.ipv6_prefix, key_r,
			      LOGIN_KEY_MAX))
		snprintf(key_r, LOGIN_KEY_MAX, "%s", ip);
}

/* "<account key> <address key>": the known-address table's key. */
static void
known_key(const struct login_service *svc, const char *account,
	  const char *ip, char *out, size_t outsz)
{
	char a[LOGIN_KEY_MAX], k[LOGIN_KEY_MAX];

	login_account_key(account, a);
	login_address_key(svc, ip, k);
	snprintf(out, outsz, "%s %s", a, k);
}

/* Whether user's budget keeps ip out: spent, and ip not known for it. */
static bool
account_is_limited(struct login_service *svc, const char *user,
		   const char *ip, time_t now)
{
	char key[LOGIN_KEY_MAX], kk[2 * LOGIN_KEY_MAX];

	login_account_key(user, key);
	if (!ratelimit_is_blocked(svc->by_user, key, now))
		return false;
	if (svc->limits.known_address_s == 0)
		return true;
	known_key(svc, user, ip, kk, sizeof(kk));
	return !ratelimit_is_blocked(svc->known, kk, now);
}

/* Remembers that ip logged in to account. An address already known is
 * only refreshed; a new one spends one of the account's
 * known_addresses_per_day, and past them is not remembered: the table is
 * LRU, and one account logging in from ever new addresses (its own
 * account, a /48 of 65,536 /64s) would otherwise push everyone's known
 * addresses out, leaving them to be locked out by failures from
 * elsewhere. */
static void
remember_address(struct login_service *svc, const char *account,
		 const char *ip, time_t now)
{
	char kk[2 * LOGIN_KEY_MAX], ak[LOGIN_KEY_MAX];

	known_key(svc, account, ip, kk, sizeof(kk));
	if (svc->known_new != NULL &&
	    !ratelimit_is_blocked(svc->known, kk, now)) {
		login_account_key(account, ak);
		if (ratelimit_is_blocked(svc->known_new, ak, now))
			return;
		(void)ratelimit_fail(svc->known_new, ak, now);
	}
	ratelimit_mark(svc->known, kk, now);
}

static void
log_limited(const char *sid, const char *proto, const char *method,
	    const char *ip, const char *user)
{
	char ubuf[300], ibuf[64];

	log_info(sid, "sasl", "auth-ratelimited",
		 "user=<%s> method=%s proto=%s rip=%s",
		 user != NULL ? log_str(ubuf, sizeof(ubuf), user) : "", method,
		 proto, log_str(ibuf, sizeof(ibuf), ip));
}

bool
login_service_allows(struct login_service *svc, const char *sid,
		     const char *proto, const char *method, const char *ip,
		     const char *user)
{
	time_t now = login_now(svc);
	char key[LOGIN_KEY_MAX];

	login_address_key(svc, ip, key);
	if (!ratelimit_is_blocked(svc->by_ip, key, now) &&
	    (user == NULL || !account_is_limited(svc, user, ip, now)))
		return true;
	log_limited(sid, proto, method, ip, user);
	return false;
}

/* ---- the verified-login cache ----
 *
 * Remembers that a user name and password matched a stored hash: an
 * entry is HMAC-SHA256, under a key drawn at random by each process, of
 * the name, the password AND the stored hash string, and its expiry.
 * Neither the password nor the hash is kept. A new stored hash (herald
 * user passwd) gives another MAC, so the old password misses at once;
 * the user is still looked up in the store before every check, so a
 * deleted or disabled account is refused at once; only a match is ever
 * added, so a wrong password always pays the full hash, the fail delay
 * and the budgets. The trade-off is in docs/passwords.md. */

#define LOGIN_CACHE_PROBE 4	/* slots an entry may take */

struct login_cache_entry {
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	time_t expires;		/* 0: empty */
};

/* Pool threads of one worker share it. Made on first use in the worker
 * (pid differs from the one that made it: a new key after a fork). */
static pthread_mutex_t login_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t login_cache_pid;
static size_t login_cache_n;
static uint8_t login_cache_key[crypto_auth_hmacsha256_KEYBYTES];
static struct login_cache_entry *login_cache_tab;

static void
login_cache_mac_field(crypto_auth_hmacsha256_state *st, const char *s)
{
	uint64_t len = s != NULL ? strlen(s) : 0;
	uint8_t lb[8];

	/* length first: no two (user, password, hash) give one input */
	for (int i = 0; i < 8; i++)
		lb[i] = (uint8_t)(len >> (8 * i));
	crypto_auth_hmacsha256_update(st, lb, sizeof(lb));
	if (len > 0)
		crypto_auth_hmacsha256_update(st, (const uint8_t *)s, len);
}

/* Under the lock: the table for n entries, fresh in a new process. */
static void
login_cache_ready(size_t n)
{
	pid_t pid = getpid();

	if (login_cache_tab != NULL && login_cache_pid == pid &&
	    login_cache_n == n)
		return;
	/* after a fork: the parent's copy goes, and so does its key */
	free(login_cache_tab);
	login_cache_tab = xcalloc(n, sizeof(*login_cache_tab));
	login_cache_n = n;
	login_cache_pid = pid;
	randombytes_buf(login_cache_key, sizeof(login_cache_key));
}

static size_t
login_cache_slot(const uint8_t *mac, size_t n)
{
	uint64_t h = 0;

	for (int i = 0; i < 8; i++)
		h = h << 8 | mac[i];
	return (size_t)(h % n);
}

/* Looks mac up (hit: true) or, with add, stores it until expires. */
static bool
login_cache_op(const struct login_service *svc, const char *user,
	       const char *password, const char *stored, time_t now,
	       bool add)
{
	size_t n = svc->limits.login_cache_size, i0, victim;
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	bool hit = false;

	pthread_mutex_lock(&login_cache_lock);
	login_cache_ready(n);
	crypto_auth_hmacsha256_init(&st, login_cache_key,
				    sizeof(login_cache_key));
	pthread_mutex_unlock(&login_cache_lock);
	login_cache_mac_field(&st, user);
	login_cache_mac_field(&st, password);
	login_cache_mac_field(&st, stored);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));

	pthread_mutex_lock(&login_cache_lock);
	if (login_cache_n != n || login_cache_pid != getpid()) {
		/* resized by a reload between the two locks: a miss */
		pthread_mutex_unlock(&login_cache_lock);
		return false;
	}
	i0 = login_cache_slot(mac, n);
	victim = i0;
	for (size_t k = 0; k < LOGIN_CACHE_PROBE && k < n; k++) {
		struct login_cache_entry *e = &login_cache_tab[(i0 + k) % n];

		if (e->expires > now &&
		    sodium_memcmp(e->mac, mac, sizeof(mac)) == 0) {
			hit = true;
			victim = (i0 + k) % n;
			break;
		}
		if (e->expires < login_cache_tab[victim].expires)
			victim = (i0 + k) % n;
	}
	if (add) {
		memcpy(login_cache_tab[victim].mac, mac, sizeof(mac));
		login_cache_tab[victim].expires = now +
						  svc->limits.login_cache_s;
	}
	pthread_mutex_unlock(&login_cache_lock);
	return hit;
}

/* sasl_verify_cb_t for PLAIN and LOGIN, on a pool thread. */
static bool
login_verify(void *ctx, const char *user, const char *password,
	     const char *stored, char **error_r)
{
	struct login_attempt *a = ctx;
	const struct login_service *svc = a->svc;
	bool on = svc->limits.login_cache_s > 0 &&
		  svc->limits.login_cache_size > 0;
	time_t now = login_now(svc);
	char ubuf[300];

	if (error_r != NULL)
		*error_r = NULL;
	if (on && login_cache_op(svc, user, password, stored, now, false)) {
		log_debug(a->sid, "sasl", "login-cache",
			  "hit user=<%s> proto=%s",
			  log_str(ubuf, sizeof(ubuf), user), a->proto);
		return true;
	}
	if (!password_verify(password, stored, error_r))
		return false;
	if (on)
		(void)login_cache_op(svc, user, password, stored, now, true);
	return true;
}

/* ---- one attempt ---- */

/* Runs on a pool thread, from sasl_server_step or APOP. */
static int
login_lookup(void *ctx, const char *user, struct sasl_credentials *cred_r)
{
	struct login_attempt *a = ctx;
	struct store_user *u = NULL;
	enum store_result r = store_user_lookup(a->store, user, &u, NULL);

	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID)
		return SASL_LOOKUP_UNKNOWN;
	if (r != STORE_OK)
		return SASL_LOOKUP_TEMPFAIL;
	if (u->password_hash != NULL)
		cred_r->password_hash = xstrdup(u->password_hash);
	if (u->scram_sha256 != NULL)
		cred_r->scram_sha256 = xstrdup(u->scram_sha256);
	a->account_id = u->id;
	free(a->account);
	a->account = xstrdup(u->address);
	store_user_free(&u);
	return SASL_LOOKUP_FOUND;
}

struct login_attempt *
login_attempt_new(struct login_service *svc, struct store *store,
		  const struct login_client *client, const char *mech,
		  const char *method)
{
	struct login_attempt *a = xcalloc(1, sizeof(*a));

	a->svc = svc;
	a->store = store;
	if (strcasecmp(mech, "APOP") != 0) {
		a->sasl = sasl_server_new(mech, login_lookup, a);
		if (a->sasl == NULL) {
			free(a);
			return NULL;
		}
		sasl_server_set_verify(a->sasl, login_verify);
	}
	a->method = method != NULL ? method :
		    a->sasl != NULL ? sasl_server_mech(a->sasl) : "APOP";
	a->sid = xstrdup(client->sid != NULL ? client->sid : "-");
	a->proto = xstrdup(client->proto);
	a->ip = xstrdup(client->ip);
	a->rip = xstrdup(client->rip != NULL ? client->rip : client->ip);
	return a;
}

void
login_attempt_free(struct login_attempt **ap)
{
	struct login_attempt *a = *ap;

	if (a == NULL)
		return;
	sasl_server_free(&a->sasl);
	free(a->sid);
	free(a->proto);
	free(a->ip);
	free(a->rip);
	free(a->user);
	free(a->account);
	free(a);
	*ap = NULL;
}

enum sasl_result
login_attempt_step(struct login_attempt *a, const uint8_t *in, size_t inlen,
		   struct buf *out, const char **error_r)
{
	if (a->sasl == NULL)
		panic("login_attempt_step on an APOP attempt");
	return sasl_server_step(a->sasl, in, inlen, out, error_r);
}

enum sasl_result
login_attempt_apop(struct login_attempt *a, const char *user,
		   const char *stamp, const char *digest, const char **error_r)
{
	struct sasl_credentials cred = { NULL, NULL };
	const char *why = NULL;
	enum sasl_result res = SASL_FAIL;
	int ret;

	free(a->user);
	a->user = xstrdup(user);
	ret = login_lookup(a, user, &cred);
	if (ret == SASL_LOOKUP_TEMPFAIL) {
		*error_r = "user lookup failed";
		res = SASL_TEMPFAIL;
	} else if (ret != SASL_LOOKUP_FOUND || cred.password_hash == NULL) {
		*error_r = "unknown user";
	} else if (password_apop_verify(cred.password_hash, stamp, digest,
					&why)) {
		*error_r = NULL;
		res = SASL_OK;
	} else {
		*error_r = why != NULL ? why : "wrong digest";
	}
	mem_free_secret(&cred.password_hash);
	mem_free_secret(&cred.scram_sha256);
	return res;
}

/* The name the client claimed, for logs and the account budget. */
static const char *
attempt_user(const struct login_attempt *a)
{
	if (a->sasl != NULL)
		return sasl_server_attempted_user(a->sasl);
	return a->user;
}

static void
attempt_failed(struct login_attempt *a, const char *reason, time_t now)
{
	const char *user = attempt_user(a);
	char key[LOGIN_KEY_MAX], ubuf[300];

	/* One shape for fail2ban (contrib/fail2ban): rip= then reason= last,
	 * both after the peer's text, which log_str escapes. */
	log_info(a->sid, "sasl", "auth-failed",
		 "user=<%s> method=%s proto=%s rip=%s reason=\"%s\"",
		 user != NULL ? log_str(ubuf, sizeof(ubuf), user) : "",
		 a->method, a->proto, a->rip,
		 reason != NULL ? reason : "bad credentials");
	login_address_key(a->svc, a->ip, key);
	ratelimit_fail(a->svc->by_ip, key, now);
	if (user != NULL && user[0] != '\0') {
		login_account_key(user, key);
		ratelimit_fail(a->svc->by_user, key, now);
	}
}

/* Whether this attempt's address or account was out of budget before it
 * ended. */
static bool
attempt_is_limited(struct login_attempt *a, const char *user, time_t now)
{
	char key[LOGIN_KEY_MAX];

	login_address_key(a->svc, a->ip, key);
	return ratelimit_is_blocked(a->svc->by_ip, key, now) ||
	       (user != NULL && user[0] != '\0' &&
		account_is_limited(a->svc, user, a->ip, now));
}

enum login_outcome
login_attempt_finish(struct login_attempt *a, enum sasl_result result,
		     const char *reason)
{
	struct login_service *svc = a->svc;
	time_t now = login_now(svc);
	bool limited;

	switch (result) {
	case SASL_OK:
		if (a->account == NULL)
			panic("login_attempt_finish: OK without an account");
		/* Checked again at the end: the name may have come inside
		 * the exchange, and parallel connections may have spent the
		 * budget since the start. */
		if (attempt_is_limited(a, a->account, now)) {
			log_limited(a->sid, a->proto, a->method, a->ip,
				    a->account);
			return LOGIN_OUTCOME_LIMITED;
		}
		if (svc->limits.known_address_s > 0)
			remember_address(svc, a->account, a->ip, now);
		return LOGIN_OUTCOME_OK;
	case SASL_FAIL:
		/* Limited before this guess: the same answer as a right
		 * password gets then, or the answer would tell them apart. */
		limited = attempt_is_limited(a, attempt_user(a), now);
		attempt_failed(a, reason, now);
		return limited ? LOGIN_OUTCOME_LIMITED : LOGIN_OUTCOME_FAILED;
	case SASL_TEMPFAIL:
		log_warn(a->sid, "sasl", "auth-tempfail",
			 "method=%s proto=%s rip=%s reason=\"%s\"", a->method,
			 a->proto, a->rip, reason != NULL ? reason : "?");
		return LOGIN_OUTCOME_TEMPFAIL;
	case SASL_BAD_PROTOCOL:
	case SASL_CONTINUE:
		break;
	}
	return LOGIN_OUTCOME_MALFORMED;
}

int64_t
login_attempt_account_id(const struct login_attempt *a)
{
	return a->account_id;
}

const char *
login_attempt_account(const struct login_attempt *a)
{
	return a->account;
}

const char *
login_attempt_method(const struct login_attempt *a)
{
	return a->method;
}

struct sasl_server *
login_attempt_sasl(struct login_attempt *a)
{
	return a->sasl;
}
