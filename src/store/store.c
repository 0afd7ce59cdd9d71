/* SPDX-License-Identifier: MIT */
/*
 * The backend-independent front of store.h: opening and closing, argument
 * checks and address splitting, error messages, then dispatch through the
 * backend's ops table.
 */
#include "store/store-private.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "conf/config.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "mail/address.h"

/* Messages live until the next store call in the same thread. */
static _Thread_local char store_errbuf[STORE_ERROR_SIZE];

/* RFC 5321 4.5.3.1: local part 64, domain 255, path 256 octets. */
#define STORE_LOCAL_MAX 64
#define STORE_DOMAIN_MAX 255

enum store_result
store_error(const char **error_r, enum store_result r, const char *fmt, ...)
{
	va_list ap;

	if (error_r == NULL)
		return r;
	va_start(ap, fmt);
	vsnprintf(store_errbuf, sizeof(store_errbuf), fmt, ap);
	va_end(ap);
	*error_r = store_errbuf;
	return r;
}

const char *
store_result_str(enum store_result r)
{
	switch (r) {
	case STORE_OK: return "ok";
	case STORE_E_NOT_FOUND: return "not found";
	case STORE_E_EXISTS: return "exists";
	case STORE_E_OVER_QUOTA: return "over quota";
	case STORE_E_IN_USE: return "in use";
	case STORE_E_INVALID: return "invalid";
	case STORE_E_TEMP: return "temporary failure";
	}
	return "unknown";
}

static const char *const role_names[STORE_ROLE_COUNT] = {
	"", "inbox", "drafts", "sent", "junk", "trash", "archive",
};
static const char *const role_imap[STORE_ROLE_COUNT] = {
	NULL, NULL, "\\Drafts", "\\Sent", "\\Junk", "\\Trash", "\\Archive",
};

const char *
store_role_name(enum store_role role)
{
	if ((unsigned)role >= STORE_ROLE_COUNT)
		return "";
	return role_names[role];
}

const char *
store_role_imap(enum store_role role)
{
	if ((unsigned)role >= STORE_ROLE_COUNT)
		return NULL;
	return role_imap[role];
}

/* Random bytes for ids, fetched 4 KiB at a time per thread: a delivery
 * takes two ids, and a system call each was measurable. A forked child
 * must not reuse its parent's bytes (the same ids in two processes). */
static _Thread_local uint8_t pool[4096];
static _Thread_local size_t pool_left;
static pthread_once_t id_pool_once = PTHREAD_ONCE_INIT;

static void
id_pool_forget(void)
{
	pool_left = 0;
}

static void
id_pool_init(void)
{
	pthread_atfork(NULL, NULL, id_pool_forget);
}

void
store_new_stable_id(char prefix, char out[STORE_ID_SIZE])
{
	/* JMAP ids (RFC 8620 1.2) allow [A-Za-z0-9_-]. Nine characters
	 * of milliseconds since 1970 (45 bits, enough for a million years),
	 * then 12 random ones (60 bits: two processes that share the
	 * database and make ids in the same millisecond do not collide).
	 * The alphabet is in ASCII order, so ids sort by time: the indexes
	 * over them (threads.jmap_id, messages (account_id, email_id)) grow
	 * at their right edge, and the pages one group commit touches are
	 * shared by its deliveries instead of one random page per id. */
	static const char alphabet[] = "234567abcdefghijklmnopqrstuvwxyz";
	struct timespec ts;
	uint64_t ms;
	uint8_t *rnd;

	pthread_once(&id_pool_once, id_pool_init);
	if (pool_left < 12) {
		size_t got = 0;

		while (got < sizeof(pool)) {
			ssize_t n = getrandom(pool + got, sizeof(pool) - got,
					      0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				panic("getrandom failed");
			}
			got += (size_t)n;
		}
		pool_left = sizeof(pool);
	}
	rnd = pool + sizeof(pool) - pool_left;
	pool_left -= 12;
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	out[0] = prefix;
	for (size_t i = 0; i < 9; i++)
		out[1 + i] = alphabet[(ms >> (5 * (8 - i))) & 31];
	for (size_t i = 0; i < 12; i++)
		out[10 + i] = alphabet[rnd[i] & 31];
	out[22] = '\0';
}

/* ---- address handling ---- */

/* A domain we hold or look up: RFC 5321 syntax, U-labels allowed
 * (mail/address.h, the check RCPT and the config use). */
static bool
domain_is_valid(const char *d)
{
	return strlen(d) <= STORE_DOMAIN_MAX && address_domain_is_valid(d, true);
}

/* A local part as accounts and aliases keep it: valid UTF-8 without
 * spaces or controls (it reaches SQL parameters and log lines). */
static bool
local_is_valid(const char *local)
{
	for (const char *p = local; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c == 0x7f)
			return false;
	}
	return strlen(local) <= STORE_LOCAL_MAX &&
	       utf8_is_valid((const uint8_t *)local, strlen(local));
}

/* Splits "local@domain" at the last '@' into a scratch copy: *local_r and
 * *domain_r point into *copy_r (caller frees). Local may be empty only when
 * allow_empty_local (catch-all "@domain"). The domain is lowercased. */
static enum store_result
address_split(const char *address, bool allow_empty_local, char **copy_r,
	      const char **local_r, const char **domain_r,
	      const char **error_r)
{
	char *copy, *at;

	if (address == NULL)
		return store_error(error_r, STORE_E_INVALID, "missing address");
	at = strrchr(address, '@');
	if (at == NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "address has no @domain");
	copy = xstrdup(address);
	at = copy + (at - address);
	*at = '\0';
	for (char *p = at + 1; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!domain_is_valid(at + 1) || !local_is_valid(copy) ||
	    (!allow_empty_local && copy[0] == '\0')) {
		free(copy);
		return store_error(error_r, STORE_E_INVALID,
				   "malformed address");
	}
	*copy_r = copy;
	*local_r = copy;
	*domain_r = at + 1;
	return STORE_OK;
}

static enum store_result
domain_norm(const char *domain, char **copy_r, const char **error_r)
{
	char *copy;

	if (domain == NULL || !domain_is_valid(domain))
		return store_error(error_r, STORE_E_INVALID,
				   "malformed domain name");
	copy = xstrdup(domain);
	for (char *p = copy; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	*copy_r = copy;
	return STORE_OK;
}

/* ---- lifecycle ---- */

/* A config built in code (tests, tools) may leave the thread_* settings
 * 0; the settings table never lets a file do so (each minimum is 1). */
static void
store_thread_limits_init(struct store *store, const struct config_store *cs)
{
	const struct mail_thread_limits *d = &mail_thread_limits_default;
	struct mail_thread_limits *l = &store->thread_limits;

	l->refs_max = cs->thread_references_max != 0 ?
		      cs->thread_references_max : d->refs_max;
	l->msgid_max = cs->thread_msgid_max != 0 ? cs->thread_msgid_max :
		       d->msgid_max;
	l->subject_max = cs->thread_subject_max != 0 ?
			 cs->thread_subject_max : d->subject_max;
	l->header_max = cs->thread_header_max != 0 ?
			(size_t)cs->thread_header_max : d->header_max;
}

const struct mail_thread_limits *
store_thread_limits(const struct store *store)
{
	return &store->thread_limits;
}

enum store_result
store_open(const struct config *cfg, struct store **store_r,
	   const char **error_r)
{
	struct store *store;
	pthread_condattr_t attr;
	enum store_result r;

	*store_r = NULL;
	if (cfg == NULL || cfg->data_dir == NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "data_dir is not set");
	if (cfg->store.backend != CONFIG_STORE_SQLITE)
		return store_error(error_r, STORE_E_INVALID,
				   "store backend %s is not implemented",
				   cfg->store.backend == CONFIG_STORE_MARIADB ?
				   "mariadb" : "(unknown)");
	store = xcalloc(1, sizeof(*store));
	store->cfg = cfg;
	store->ops = &store_sqlite_ops;
	store->batch_max = cfg->store.group_commit_max > 0 ?
		cfg->store.group_commit_max : 64;
	store->batch_wait_us = cfg->store.group_commit_wait_us;
	store->linger_us = cfg->store.group_commit_linger_us;
	store->gc_interval_us = cfg->store.blob_gc_interval_ms * 1000;
	store->change_log_max_age_s = cfg->store.change_log_retention_s;
	store_thread_limits_init(store, &cfg->store);
	store_deadline_after(&store->gc_next, store->gc_interval_us);
	pthread_mutex_init(&store->lock, NULL);
	pthread_condattr_init(&attr);
	/* The writer's batch deadline must not jump with the wall clock. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&store->queue_cond, &attr);
	pthread_condattr_destroy(&attr);

	r = store_blob_init(store, cfg->data_dir, error_r);
	if (r == STORE_OK)
		r = store->ops->open(store, error_r);
	if (r != STORE_OK) {
		store_notify_close(&store->notify);
		store_blob_deinit(store);
		pthread_cond_destroy(&store->queue_cond);
		pthread_mutex_destroy(&store->lock);
		free(store);
		return r;
	}
	if (store_commit_start(store, error_r) < 0) {
		store_close(&store);
		return STORE_E_TEMP;
	}
	*store_r = store;
	return STORE_OK;
}

void
store_close(struct store **storep)
{
	struct store *store = *storep;

	if (store == NULL)
		return;
	store_search_indexer_stop(store);
	store_commit_stop(store);
	if (store->backend != NULL)
		store->ops->close(store);
	store_notify_close(&store->notify);
	free(store->changed);
	store_blob_deinit(store);
	pthread_cond_destroy(&store->queue_cond);
	pthread_mutex_destroy(&store->lock);
	free(store);
	*storep = NULL;
}

int
store_schema_version(struct store *store)
{
	return store->schema_version;
}

void
store_get_stats(struct store *store, struct store_stats *stats_r)
{
	pthread_mutex_lock(&store->lock);
	*stats_r = store->stats;
	pthread_mutex_unlock(&store->lock);
}

enum store_result
store_check_integrity(struct store *store, const char **error_r)
{
	return store->ops->check_integrity(store, error_r);
}

static void
blob_forget_done(struct store *store, void *ctx, enum store_result result,
		 const char *error)
{
	(void)store;
	(void)result;
	(void)error;
	free(ctx);
}

void
store_blob_forget(struct store *store, const char *id)
{
	char *copy;

	if (store->ops->blob_forget == NULL || !store_blob_id_is_valid(id))
		return;
	copy = xstrdup(id);
	/* one statement, no savepoint needed; it starts a commit like a
	 * waited op (an asynchronous op alone would wait for the next
	 * write, which may never come) */
	if (store_commit_submit_flags(store, store->ops->blob_forget, copy,
				      blob_forget_done, STORE_OP_NO_SAVEPOINT,
				      NULL) != STORE_OK)
		free(copy);
}

enum store_result
store_blob_gc(struct store *store, struct store_blob_gc_result *res,
	      const char **error_r)
{
	if (store->ops->blob_gc == NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "blob collection not supported");
	return store_commit_run_flags(store, store->ops->blob_gc, res,
				      STORE_OP_ALONE, error_r);
}

void
store_strv_free(char ***vp, size_t n)
{
	char **v = *vp;

	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	*vp = NULL;
}

/* ---- directory ---- */

bool
store_directory_generation(struct store *store, uint64_t *gen_r)
{
	return store->ops->dir_generation != NULL &&
	       store->ops->dir_generation(store, gen_r);
}

/* Around every change that can alter how an address resolves: before, so
 * no cache fills from a lookup that might straddle the commit with a
 * generation that outlives it; after, so every lookup cached before the
 * commit is dropped. */
static void
dir_changed(struct store *store)
{
	if (store->ops->dir_changed != NULL)
		store->ops->dir_changed(store);
}

enum store_result
store_domain_add(struct store *store, const char *domain, const char **error_r)
{
	char *d;
	enum store_result r = domain_norm(domain, &d, error_r);

	if (r != STORE_OK)
		return r;
	dir_changed(store);
	r = store->ops->domain_add(store, d, error_r);
	dir_changed(store);
	free(d);
	return r;
}

enum store_result
store_domain_del(struct store *store, const char *domain, bool force,
		 const char **error_r)
{
	char *d;
	enum store_result r = domain_norm(domain, &d, error_r);

	if (r != STORE_OK)
		return r;
	dir_changed(store);
	r = store->ops->domain_del(store, d, force, error_r);
	dir_changed(store);
	free(d);
	return r;
}

enum store_result
store_domain_list(struct store *store, char ***names_r, size_t *count_r,
		  const char **error_r)
{
	return store->ops->domain_list(store, names_r, count_r, error_r);
}

enum store_result
store_domain_lookup(struct store *store, const char *domain,
		    const char **error_r)
{
	char *d;
	bool exists = false;
	enum store_result r;

	if (domain == NULL || !domain_is_valid(domain))
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "malformed domain name");
	r = domain_norm(domain, &d, error_r);
	if (r != STORE_OK)
		return r;
	r = store->ops->domain_exists(store, d, &exists, error_r);
	if (r == STORE_OK && !exists)
		r = store_error(error_r, STORE_E_NOT_FOUND,
				"domain %s is not local", d);
	else if (r != STORE_OK && r != STORE_E_TEMP)
		/* Whatever went wrong, the answer is unknown: not "no". */
		r = STORE_E_TEMP;
	free(d);
	return r;
}

static bool
text_is_valid(const char *s)
{
	return s != NULL && s[0] != '\0' && strchr(s, '\n') == NULL;
}

enum store_result
store_user_add(struct store *store, const char *address,
	       const char *password_hash, const char *scram,
	       uint64_t quota_bytes, int64_t *id_r, const char **error_r)
{
	char *copy;
	const char *local, *domain;
	int64_t id;
	enum store_result r;

	if (!text_is_valid(password_hash))
		return store_error(error_r, STORE_E_INVALID,
				   "missing password hash");
	r = address_split(address, false, &copy, &local, &domain, error_r);
	if (r != STORE_OK)
		return r;
	dir_changed(store);
	r = store->ops->user_add(store, local, domain, password_hash, scram,
				 quota_bytes, &id, error_r);
	dir_changed(store);
	free(copy);
	if (r == STORE_OK && id_r != NULL)
		*id_r = id;
	return r;
}

enum store_result
store_user_del(struct store *store, const char *address, const char **error_r)
{
	char *copy;
	const char *local, *domain;
	enum store_result r;

	r = address_split(address, false, &copy, &local, &domain, error_r);
	if (r != STORE_OK)
		return r;
	dir_changed(store);
	r = store->ops->user_del(store, local, domain, error_r);
	dir_changed(store);
	free(copy);
	return r;
}

enum store_result
store_user_set_password(struct store *store, const char *address,
			const char *password_hash, const char *scram,
			const char **error_r)
{
	char *copy;
	const char *local, *domain;
	enum store_result r;

	if (!text_is_valid(password_hash))
		return store_error(error_r, STORE_E_INVALID,
				   "missing password hash");
	r = address_split(address, false, &copy, &local, &domain, error_r);
	if (r != STORE_OK)
		return r;
	r = store->ops->user_set_password(store, local, domain,
					  password_hash, scram, error_r);
	free(copy);
	return r;
}

enum store_result
store_user_set_quota(struct store *store, const char *address,
		     uint64_t quota_bytes, const char **error_r)
{
	char *copy;
	const char *local, *domain;
	enum store_result r;

	r = address_split(address, false, &copy, &local, &domain, error_r);
	if (r != STORE_OK)
		return r;
	r = store->ops->user_set_quota(store, local, domain, quota_bytes,
				       error_r);
	free(copy);
	return r;
}

enum store_result
store_user_set_message_quota(struct store *store, const char *address,
			     uint64_t quota_messages, const char **error_r)
{
	char *copy;
	const char *local, *domain;
	enum store_result r;

	r = address_split(address, false, &copy, &local, &domain, error_r);
	if (r != STORE_OK)
		return r;
	r = store->ops->user_set_message_quota(store, local, domain,
					       quota_messages, error_r);
	free(copy);
	return r;
}

enum store_result
store_user_lookup(struct store *store, const char *address,
		  struct store_user **user_r, const char **error_r)
{
	char *copy;
	const char *local, *domain;
	enum store_result r;

	*user_r = NULL;
	r = address_split(address, false, &copy, &local, &domain, error_r);
	if (r != STORE_OK)
		return r;
	r = store->ops->user_lookup(store, local, domain, 0, user_r, error_r);
	free(copy);
	return r;
}

enum store_result
store_user_get(struct store *store, int64_t id, struct store_user **user_r,
	       const char **error_r)
{
	*user_r = NULL;
	return store->ops->user_lookup(store, NULL, NULL, id, user_r, error_r);
}

enum store_result
store_user_list(struct store *store, const char *domain,
		struct store_user **users_r, size_t *count_r,
		const char **error_r)
{
	char *d = NULL;
	enum store_result r;

	*users_r = NULL;
	*count_r = 0;
	if (domain != NULL) {
		r = domain_norm(domain, &d, error_r);
		if (r != STORE_OK)
			return r;
	}
	r = store->ops->user_list(store, d, users_r, count_r, error_r);
	free(d);
	return r;
}

static void
user_clear(struct store_user *u)
{
	free(u->address);
	mem_free_secret(&u->password_hash);
	mem_free_secret(&u->scram_sha256);
}

void
store_user_free(struct store_user **userp)
{
	if (*userp == NULL)
		return;
	user_clear(*userp);
	free(*userp);
	*userp = NULL;
}

void
store_users_free(struct store_user **usersp, size_t count)
{
	if (*usersp == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		user_clear(&(*usersp)[i]);
	free(*usersp);
	*usersp = NULL;
}

enum store_result
store_alias_add(struct store *store, const char *source, const char *target,
		const char **error_r)
{
	char *copy;
	const char *local, *domain;
	enum store_result r;

	if (target == NULL || strchr(target, '@') == NULL ||
	    !text_is_valid(target) || strchr(target, ' ') != NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "alias target must be an address");
	r = address_split(source, true, &copy, &local, &domain, error_r);
	if (r != STORE_OK)
		return r;
	dir_changed(store);
	r = store->ops->alias_add(store, local, domain, target, error_r);
	dir_changed(store);
	free(copy);
	return r;
}

enum store_result
store_alias_del(struct store *store, const char *source, const char *target,
		const char **error_r)
{
	char *copy;
	const char *local, *domain;
	enum store_result r;

	r = address_split(source, true, &copy, &local, &domain, error_r);
	if (r != STORE_OK)
		return r;
	dir_changed(store);
	r = store->ops->alias_del(store, local, domain, target, error_r);
	dir_changed(store);
	free(copy);
	return r;
}

enum store_result
store_alias_list(struct store *store, const char *domain,
		 struct store_alias **aliases_r, size_t *count_r,
		 const char **error_r)
{
	char *d = NULL;
	enum store_result r;

	*aliases_r = NULL;
	*count_r = 0;
	if (domain != NULL) {
		r = domain_norm(domain, &d, error_r);
		if (r != STORE_OK)
			return r;
	}
	r = store->ops->alias_list(store, d, aliases_r, count_r, error_r);
	free(d);
	return r;
}

void
store_aliases_free(struct store_alias **aliasesp, size_t count)
{
	if (*aliasesp == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*aliasesp)[i].source);
		free((*aliasesp)[i].target);
	}
	free(*aliasesp);
	*aliasesp = NULL;
}

enum store_result
store_alias_resolve(struct store *store, const char *address,
		    char ***targets_r, size_t *count_r, const char **error_r)
{
	char *copy;
	const char *local, *domain;
	enum store_result r;

	*targets_r = NULL;
	*count_r = 0;
	r = address_split(address, false, &copy, &local, &domain, error_r);
	if (r != STORE_OK)
		return r;
	r = store->ops->alias_resolve(store, local, domain, targets_r,
				      count_r, error_r);
	free(copy);
	return r;
}

/* ---- mailboxes and messages ---- */

enum store_result
store_mailbox_list(struct store *store, int64_t account_id,
		   struct store_mailbox **boxes_r, size_t *count_r,
		   const char **error_r)
{
	*boxes_r = NULL;
	*count_r = 0;
	return store->ops->mailbox_list(store, account_id, boxes_r, count_r,
					error_r);
}

enum store_result
store_mailbox_lookup(struct store *store, int64_t account_id,
		     const char *name, struct store_mailbox **box_r,
		     const char **error_r)
{
	enum store_result r;
	char *canon;

	*box_r = NULL;
	if (name == NULL || name[0] == '\0')
		return store_error(error_r, STORE_E_INVALID,
				   "empty mailbox name");
	canon = store_mailbox_name_canonical(name);
	r = store->ops->mailbox_lookup(store, account_id, canon,
				       STORE_ROLE_NONE, box_r, error_r);
	free(canon);
	return r;
}

enum store_result
store_mailbox_lookup_role(struct store *store, int64_t account_id,
			  enum store_role role, struct store_mailbox **box_r,
			  const char **error_r)
{
	*box_r = NULL;
	if (role <= STORE_ROLE_NONE || role >= STORE_ROLE_COUNT)
		return store_error(error_r, STORE_E_INVALID, "unknown role");
	return store->ops->mailbox_lookup(store, account_id, NULL, role,
					  box_r, error_r);
}

void
store_mailbox_free(struct store_mailbox **boxp)
{
	if (*boxp == NULL)
		return;
	free((*boxp)->name);
	free(*boxp);
	*boxp = NULL;
}

void
store_mailboxes_free(struct store_mailbox **boxesp, size_t count)
{
	if (*boxesp == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free((*boxesp)[i].name);
	free(*boxesp);
	*boxesp = NULL;
}

enum store_result
store_mailbox_status(struct store *store, int64_t mailbox_id,
		     struct store_mailbox_status *status_r,
		     const char **error_r)
{
	memset(status_r, 0, sizeof(*status_r));
	return store->ops->mailbox_status(store, mailbox_id, status_r,
					  error_r);
}

static enum store_result keywords_check(const char *const *kw, size_t n,
				       const char **error_r);

/* Every target has a blob: its own (valid id) or the default; keywords
 * are valid. */
static enum store_result
targets_check(const char *blob_id, const struct store_target *targets,
	      size_t count, const char **error_r)
{
	for (size_t i = 0; i < count; i++) {
		const char *id = targets[i].blob_id;
		uint64_t size = targets[i].size;

		if (id == NULL && blob_id == NULL)
			return store_error(error_r, STORE_E_INVALID,
					   "target %zu has no blob", i);
		if (id != NULL && !store_blob_id_is_valid(id))
			return store_error(error_r, STORE_E_INVALID,
					   "bad blob id");
		if (id != NULL && size > INT64_MAX)
			return store_error(error_r, STORE_E_INVALID,
					   "bad size");
		if (keywords_check(targets[i].keywords,
				   targets[i].n_keywords, error_r) != STORE_OK)
			return STORE_E_INVALID;
	}
	return STORE_OK;
}

static enum store_result
queue_check(const char *blob_id, const char *env_from,
	    const struct store_queue_rcpt *rcpts, size_t count,
	    const char **error_r);

enum store_result
store_deliver(struct store *store, const char *blob_id, uint64_t size,
	      int64_t internal_date, struct store_target *targets,
	      size_t count, size_t *failed_r, const char **error_r)
{
	enum store_result r;

	if (blob_id != NULL && !store_blob_id_is_valid(blob_id))
		return store_error(error_r, STORE_E_INVALID, "bad blob id");
	if (count == 0)
		return store_error(error_r, STORE_E_INVALID, "no targets");
	if (size > INT64_MAX)
		return store_error(error_r, STORE_E_INVALID, "bad size");
	r = targets_check(blob_id, targets, count, error_r);
	if (r != STORE_OK)
		return r;
	r = store->ops->deliver(store, blob_id, size, internal_date, targets,
				count, NULL, NULL, failed_r, error_r);
	if (r == STORE_OK)
		store_search_kick(store);
	return r;
}

static enum store_result
deliver_queue_check(const struct store_target *targets, size_t count,
		    const struct store_queue_msg *queue, const char **error_r)
{
	enum store_result r;

	if (count == 0 && queue == NULL)
		return store_error(error_r, STORE_E_INVALID, "no targets");
	r = targets_check(NULL, targets, count, error_r);
	if (r == STORE_OK && queue != NULL) {
		r = queue_check(queue->blob_id, queue->env_from, queue->rcpts,
				queue->count, error_r);
		if (r == STORE_OK && queue->size > INT64_MAX)
			r = store_error(error_r, STORE_E_INVALID, "bad size");
	}
	return r;
}

enum store_result
store_deliver_queue(struct store *store, int64_t internal_date,
		    struct store_target *targets, size_t count,
		    struct store_queue_msg *queue, size_t *failed_r,
		    const char **error_r)
{
	enum store_result r = deliver_queue_check(targets, count, queue,
						  error_r);

	if (r != STORE_OK)
		return r;
	r = store->ops->deliver(store, NULL, 0, internal_date, targets, count,
				queue, NULL, failed_r, error_r);
	if (r == STORE_OK && count > 0)
		store_search_kick(store);
	return r;
}

enum store_result
store_deliver_report(struct store *store, int64_t internal_date,
		     struct store_target *targets, size_t count,
		     struct store_queue_msg *queue,
		     struct store_queue_notified *notified, size_t *failed_r,
		     const char **error_r)
{
	enum store_result r = deliver_queue_check(targets, count, queue,
						  error_r);

	if (r != STORE_OK)
		return r;
	if (notified != NULL)
		notified->finished = false;
	r = store->ops->deliver(store, NULL, 0, internal_date, targets, count,
				queue, notified, failed_r, error_r);
	if (r == STORE_OK && count > 0)
		store_search_kick(store);
	return r;
}

enum store_result
store_deliver_queue_async(struct store *store, int64_t internal_date,
			  struct store_target *targets, size_t count,
			  struct store_queue_msg *queue, store_deliver_cb_t *cb,
			  void *ctx, const char **error_r)
{
	enum store_result r = deliver_queue_check(targets, count, queue,
						  error_r);

	if (r != STORE_OK)
		return r;
	if (store->ops->deliver_async == NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "asynchronous delivery not supported");
	return store->ops->deliver_async(store, internal_date, targets, count,
					 queue, cb, ctx, error_r);
}

enum store_result
store_message_list(struct store *store, int64_t mailbox_id,
		   struct store_message **msgs_r, size_t *count_r,
		   const char **error_r)
{
	*msgs_r = NULL;
	*count_r = 0;
	return store->ops->message_list(store, mailbox_id, msgs_r, count_r,
					NULL, error_r);
}

enum store_result
store_message_list_keywords(struct store *store, int64_t mailbox_id,
			    struct store_message **msgs_r, size_t *count_r,
			    struct store_keywords *kw_r, const char **error_r)
{
	*msgs_r = NULL;
	*count_r = 0;
	memset(kw_r, 0, sizeof(*kw_r));
	return store->ops->message_list(store, mailbox_id, msgs_r, count_r,
					kw_r, error_r);
}

enum store_result
store_message_ids(struct store *store, int64_t mailbox_id,
		  const uint32_t *uids, size_t count,
		  struct store_message_ids **ids_r, size_t *count_r,
		  const char **error_r)
{
	*ids_r = NULL;
	*count_r = 0;
	return store->ops->message_ids(store, mailbox_id, uids, count, ids_r,
				       count_r, error_r);
}

bool
store_keyword_is_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL || s[0] == '\\')
		return false;
	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		/* RFC 9051 9: ATOM-CHAR is any CHAR except atom-specials
		 * ( ) { SP CTL % * " \ ] (resp-specials). */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
		if (n >= STORE_KEYWORD_MAX)
			return false;
	}
	return n > 0;
}

void
store_keywords_deinit(struct store_keywords *kw)
{
	store_strv_free(&kw->names, kw->n_names);
	free(kw->refs);
	memset(kw, 0, sizeof(*kw));
}

void
store_flags_result_deinit(struct store_flags_result *res)
{
	free(res->msgs);
	free(res->modified);
	store_keywords_deinit(&res->kw);
	memset(res, 0, sizeof(*res));
}

static enum store_result
keywords_check(const char *const *kw, size_t n, const char **error_r)
{
	for (size_t i = 0; i < n; i++)
		if (!store_keyword_is_valid(kw[i]))
			return store_error(error_r, STORE_E_INVALID,
					   "invalid keyword");
	return STORE_OK;
}

enum store_result
store_flags_store(struct store *store, int64_t mailbox_id,
		  const uint32_t *uids, size_t count,
		  const struct store_flags_change *change,
		  struct store_flags_result *res, const char **error_r)
{
	struct store_flags_result local;
	enum store_result r;

	if (res != NULL)
		memset(res, 0, sizeof(*res));
	if (((change->add | change->remove) & ~STORE_FLAGS_ALL) != 0)
		return store_error(error_r, STORE_E_INVALID, "unknown flag");
	r = keywords_check(change->kw_add, change->n_kw_add, error_r);
	if (r == STORE_OK)
		r = keywords_check(change->kw_remove, change->n_kw_remove,
				   error_r);
	if (r != STORE_OK)
		return r;
	if (res != NULL)
		return store->ops->flags_store(store, mailbox_id, uids, count,
					       change, res, true, error_r);
	memset(&local, 0, sizeof(local));
	r = store->ops->flags_store(store, mailbox_id, uids, count, change,
				    &local, false, error_r);
	store_flags_result_deinit(&local);
	return r;
}

enum store_result
store_flags_update(struct store *store, int64_t mailbox_id,
		   const uint32_t *uids, size_t count, uint32_t add,
		   uint32_t remove, size_t *changed_r, uint64_t *modseq_r,
		   const char **error_r)
{
	struct store_flags_change ch = { .add = add, .remove = remove };
	struct store_flags_result res;
	enum store_result r;

	if (((add | remove) & ~STORE_FLAGS_ALL) != 0)
		return store_error(error_r, STORE_E_INVALID, "unknown flag");
	memset(&res, 0, sizeof(res));
	r = store->ops->flags_store(store, mailbox_id, uids, count, &ch,
				    &res, false, error_r);
	if (changed_r != NULL)
		*changed_r = res.changed;
	if (modseq_r != NULL)
		*modseq_r = res.modseq;
	store_flags_result_deinit(&res);
	return r;
}

enum store_result
store_expunge(struct store *store, int64_t mailbox_id, const uint32_t *uids,
	      size_t count, size_t *expunged_r, const char **error_r)
{
	size_t n = 0;
	enum store_result r = store->ops->expunge(store, mailbox_id, uids,
						  count, false, NULL, &n,
						  error_r);

	if (expunged_r != NULL)
		*expunged_r = n;
	if (r == STORE_OK)
		store_search_kick(store);
	return r;
}

enum store_result
store_expunge_deleted(struct store *store, int64_t mailbox_id,
		      const uint32_t *uids, size_t count,
		      uint32_t **expunged_r, size_t *count_r,
		      const char **error_r)
{
	enum store_result r;

	*expunged_r = NULL;
	*count_r = 0;
	r = store->ops->expunge(store, mailbox_id, uids, count, true,
				expunged_r, count_r, error_r);
	if (r == STORE_OK)
		store_search_kick(store);
	return r;
}

enum store_result
store_copy(struct store *store, struct store_copy *c, const char **error_r)
{
	c->dst_uidvalidity = 0;
	c->src_uids = NULL;
	c->dst_uids = NULL;
	c->n = 0;
	for (size_t i = 1; i < c->count; i++)
		if (c->uids[i] <= c->uids[i - 1])
			return store_error(error_r, STORE_E_INVALID,
					   "UIDs not ascending");
	enum store_result r = store->ops->copy(store, c, error_r);

	if (r == STORE_OK)
		store_search_kick(store);
	return r;
}

void
store_copy_deinit(struct store_copy *c)
{
	free(c->src_uids);
	free(c->dst_uids);
	c->src_uids = NULL;
	c->dst_uids = NULL;
	c->n = 0;
}

/* ---- outbound queue ---- */

static enum store_result
queue_check(const char *blob_id, const char *env_from,
	    const struct store_queue_rcpt *rcpts, size_t count,
	    const char **error_r)
{
	if (blob_id == NULL || !store_blob_id_is_valid(blob_id))
		return store_error(error_r, STORE_E_INVALID, "bad blob id");
	if (count == 0 || rcpts == NULL || env_from == NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "no sender or no recipients");
	for (size_t i = 0; i < count; i++)
		if (!text_is_valid(rcpts[i].address))
			return store_error(error_r, STORE_E_INVALID,
					   "empty recipient");
	return STORE_OK;
}

enum store_result
store_queue_insert(struct store *store, const char *blob_id, uint64_t size,
		   const char *env_from, const char *dsn_ret,
		   const char *dsn_envid, const struct store_queue_rcpt *rcpts,
		   size_t count, int64_t *id_r, const char **error_r)
{
	enum store_result r = queue_check(blob_id, env_from, rcpts, count,
					  error_r);

	if (r != STORE_OK)
		return r;
	return store->ops->queue_insert(store, blob_id, size, env_from,
					dsn_ret, dsn_envid, rcpts, count, id_r,
					error_r);
}

enum store_result
store_queue_list(struct store *store, int64_t due,
		 struct store_queue_entry **entries_r, size_t *count_r,
		 const char **error_r)
{
	*entries_r = NULL;
	*count_r = 0;
	return store->ops->queue_list(store, due, entries_r, count_r, error_r);
}

void
store_queue_entries_free(struct store_queue_entry **entriesp, size_t count)
{
	struct store_queue_entry *v = *entriesp;

	if (v == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free(v[i].env_from);
		free(v[i].dsn_ret);
		free(v[i].dsn_envid);
		free(v[i].status);
		free(v[i].msg_id);
		for (size_t j = 0; j < v[i].n_rcpts; j++) {
			free(v[i].rcpts[j].address);
			free(v[i].rcpts[j].dsn_notify);
			free(v[i].rcpts[j].dsn_orcpt);
			free(v[i].rcpts[j].status);
			free(v[i].rcpts[j].last_error);
			free(v[i].rcpts[j].dsn_status);
			free(v[i].rcpts[j].relay);
			free(v[i].rcpts[j].tls);
		}
		free(v[i].rcpts);
	}
	free(v);
	*entriesp = NULL;
}

enum store_result
store_queue_rcpt_update(struct store *store, int64_t rcpt_id,
			const char *status, const char *last_error,
			const char **error_r)
{
	if (!text_is_valid(status))
		return store_error(error_r, STORE_E_INVALID, "missing status");
	return store->ops->queue_rcpt_update(store, rcpt_id, status,
					     last_error, error_r);
}

enum store_result
store_queue_reschedule(struct store *store, int64_t id, int64_t next_attempt,
		       const char *status, const char **error_r)
{
	if (!text_is_valid(status))
		return store_error(error_r, STORE_E_INVALID, "missing status");
	return store->ops->queue_reschedule(store, id, next_attempt, status,
					    error_r);
}

enum store_result
store_queue_delete(struct store *store, int64_t id, const char **error_r)
{
	return store->ops->queue_delete(store, id, error_r);
}

enum store_result
store_queue_get(struct store *store, int64_t id,
		struct store_queue_entry **entry_r, const char **error_r)
{
	*entry_r = NULL;
	return store->ops->queue_get(store, id, entry_r, error_r);
}

enum store_result
store_queue_get_many(struct store *store, const int64_t *ids, size_t n,
		     struct store_queue_entry ***entries_r,
		     const char **error_r)
{
	struct store_queue_entry **v = xcalloc(n > 0 ? n : 1, sizeof(*v));
	enum store_result r = store->ops->queue_get_many(store, ids, n, v,
							 error_r);

	if (r != STORE_OK) {
		for (size_t i = 0; i < n; i++)
			store_queue_entries_free(&v[i], 1);
		free(v);
		v = NULL;
	}
	*entries_r = v;
	return r;
}

enum store_result
store_queue_due(struct store *store, int64_t now, size_t max, int64_t **ids_r,
		size_t *count_r, int64_t *next_r, const char **error_r)
{
	*ids_r = NULL;
	*count_r = 0;
	*next_r = 0;
	if (max == 0)
		return store_error(error_r, STORE_E_INVALID, "max is 0");
	return store->ops->queue_due(store, now, max, ids_r, count_r, next_r,
				     error_r);
}

static bool
queue_status_is_valid(const char *status)
{
	return status != NULL && (strcmp(status, STORE_QUEUE_PENDING) == 0 ||
				  strcmp(status, STORE_QUEUE_DEFERRED) == 0 ||
				  strcmp(status, STORE_QUEUE_SENT) == 0 ||
				  strcmp(status, STORE_QUEUE_BOUNCED) == 0);
}

enum store_result
store_queue_record(struct store *store, int64_t id,
		   const struct store_queue_result *results, size_t count,
		   bool *finished_r, const char **error_r)
{
	bool finished;

	for (size_t i = 0; i < count; i++)
		if (!queue_status_is_valid(results[i].status))
			return store_error(error_r, STORE_E_INVALID,
					   "bad recipient status");
	return store->ops->queue_record(store, id, results, count,
					finished_r != NULL ? finished_r :
					&finished, error_r);
}

enum store_result
store_queue_record_async(struct store *store, struct store_queue_record *recs,
			 size_t n, store_queue_recorded_cb_t *cb, void *ctx,
			 const char **error_r)
{
	if (n == 0)
		return store_error(error_r, STORE_E_INVALID, "no records");
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < recs[k].count; i++)
			if (!queue_status_is_valid(recs[k].results[i].status))
				return store_error(error_r, STORE_E_INVALID,
						   "bad recipient status");
	if (store->ops->queue_record_async == NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "asynchronous recording not supported");
	return store->ops->queue_record_async(store, recs, n, cb, ctx,
					      error_r);
}

enum store_result
store_queue_notified(struct store *store, int64_t id, const int64_t *rcpt_ids,
		     size_t count, bool delay_warned, bool *finished_r,
		     const char **error_r)
{
	bool finished;

	return store->ops->queue_notified(store, id, rcpt_ids, count,
					  delay_warned, finished_r != NULL ?
					  finished_r : &finished, error_r);
}

enum store_result
store_queue_admin(struct store *store, int64_t id, enum store_queue_admin op,
		  const char *reason, size_t *changed_r, const char **error_r)
{
	size_t changed;

	if (op == STORE_QUEUE_BOUNCE && id == 0)
		return store_error(error_r, STORE_E_INVALID,
				   "bounce needs an entry");
	return store->ops->queue_admin(store, id, op, reason,
				       changed_r != NULL ? changed_r : &changed,
				       error_r);
}

uint64_t
store_queue_counter(struct store *store)
{
	return store_change_counter(store, STORE_WATCH_QUEUE, 0);
}

/* ---- testing ---- */

void
store_test_fail_reads(struct store *store, bool on)
{
	atomic_store(&store->test_fail_reads, on);
}

void
store_test_gc_round(struct store *store, size_t n)
{
	pthread_mutex_lock(&store->lock);
	store->gc_round_max = n;
	pthread_mutex_unlock(&store->lock);
}

/* ---- DMARC report rows ---- */

enum store_result
store_dmarc_add(struct store *store, const struct store_dmarc_count *counts,
		size_t n, const struct store_dmarc_policy *pols, size_t n_pols,
		const char **error_r)
{
	for (size_t i = 0; i < n; i++)
		if (!text_is_valid(counts[i].domain) ||
		    !text_is_valid(counts[i].key))
			return store_error(error_r, STORE_E_INVALID,
					   "dmarc row without domain or key");
	for (size_t i = 0; i < n_pols; i++)
		if (!text_is_valid(pols[i].domain) || pols[i].policy == NULL ||
		    pols[i].rua == NULL)
			return store_error(error_r, STORE_E_INVALID,
					   "dmarc policy without domain");
	if (n == 0 && n_pols == 0)
		return STORE_OK;
	return store->ops->dmarc_add(store, counts, n, pols, n_pols, error_r);
}

enum store_result
store_dmarc_take(struct store *store, int64_t forget_before,
		 const char **error_r)
{
	return store->ops->dmarc_take(store, forget_before, error_r);
}

enum store_result
store_dmarc_domains(struct store *store, bool taken_only,
		    struct store_dmarc_domain **domains_r, size_t *count_r,
		    const char **error_r)
{
	return store->ops->dmarc_domains(store, taken_only, domains_r, count_r,
					 error_r);
}

void
store_dmarc_domains_free(struct store_dmarc_domain **domains, size_t n)
{
	if (*domains == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*domains)[i].domain);
		free((*domains)[i].policy);
		free((*domains)[i].rua);
	}
	xfree(domains);
}

enum store_result
store_dmarc_rows(struct store *store, const char *domain, bool taken_only,
		 size_t max, struct store_dmarc_row **rows_r, size_t *count_r,
		 const char **error_r)
{
	if (!text_is_valid(domain))
		return store_error(error_r, STORE_E_INVALID, "missing domain");
	return store->ops->dmarc_rows(store, domain, taken_only, max, rows_r,
				      count_r, error_r);
}

void
store_dmarc_rows_free(struct store_dmarc_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*rows)[i].key);
	xfree(rows);
}

enum store_result
store_dmarc_done(struct store *store, const char *domain, int64_t end,
		 const char **error_r)
{
	if (!text_is_valid(domain))
		return store_error(error_r, STORE_E_INVALID, "missing domain");
	return store->ops->dmarc_done(store, domain, end, error_r);
}
