/* SPDX-License-Identifier: MIT */
/*
 * The per-process collector of DMARC report rows: each verdict is counted
 * in a hash table under a mutex (no I/O on the SMTP loop), and a pool job
 * writes the counts to the store every DMARC_REPORT_FLUSH_MS and at exit,
 * so a crash loses at most those seconds of counts.
 */
#include "mailauth/dmarc-report.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"
#include "store/store.h"

struct row {
	char *domain, *key;
	uint64_t hash;
	bool passed;
	uint64_t count;
	int64_t first, last;
};

struct pol {
	char *domain, *policy, *rua;
	uint64_t hash;
	int64_t seen;
};

/* Rows and policies waiting for a flush: open addressing over indexes
 * into the arrays (slot 0 empty, i + 1 otherwise). */
struct table {
	struct row *rows;
	size_t n_rows, cap_rows;
	struct pol *pols;
	size_t n_pols, cap_pols;
	uint32_t *slots;	/* rows, size mask + 1 */
	uint32_t *pslots;	/* policies */
	size_t mask, pmask;
	uint64_t messages;	/* counted since the last flush */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* read without the lock on the SMTP loop's fast path */
	atomic_bool started;
	bool flushing;
	struct ioev_loop *loop;
	struct store *store;
	struct ioev_timer *timer;
	size_t max_rows;
	struct table t;
	uint64_t dropped;	/* messages not counted: table full */
} coll = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static uint64_t
hash_str(uint64_t h, const char *s)
{
	/* FNV-1a */
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->n_rows; i++) {
		free(t->rows[i].domain);
		free(t->rows[i].key);
	}
	for (size_t i = 0; i < t->n_pols; i++) {
		free(t->pols[i].domain);
		free(t->pols[i].policy);
		free(t->pols[i].rua);
	}
	free(t->rows);
	free(t->pols);
	free(t->slots);
	free(t->pslots);
	memset(t, 0, sizeof(*t));
}

static void
rehash_rows(struct table *t, size_t size)
{
	free(t->slots);
	t->slots = xcalloc(size, sizeof(*t->slots));
	t->mask = size - 1;
	for (size_t i = 0; i < t->n_rows; i++) {
		size_t s = t->rows[i].hash & t->mask;

		while (t->slots[s] != 0)
			s = (s + 1) & t->mask;
		t->slots[s] = (uint32_t)i + 1;
	}
}

static void
rehash_pols(struct table *t, size_t size)
{
	free(t->pslots);
	t->pslots = xcalloc(size, sizeof(*t->pslots));
	t->pmask = size - 1;
	for (size_t i = 0; i < t->n_pols; i++) {
		size_t s = t->pols[i].hash & t->pmask;

		while (t->pslots[s] != 0)
			s = (s + 1) & t->pmask;
		t->pslots[s] = (uint32_t)i + 1;
	}
}

/* Adds count to the row (domain, key), or a new row unless the table
 * holds max rows. Returns false when the row could not be added. */
static bool
table_add_row(struct table *t, size_t max, const char *domain,
	      const char *key, bool passed, uint64_t count, int64_t first,
	      int64_t last)
{
	uint64_t h = hash_str(hash_str(14695981039346656037ULL, domain), key);
	struct row *r;
	size_t s;

	if (t->slots != NULL) {
		for (s = h & t->mask; t->slots[s] != 0; s = (s + 1) & t->mask) {
			r = &t->rows[t->slots[s] - 1];
			if (r->hash == h && strcmp(r->key, key) == 0 &&
			    strcmp(r->domain, domain) == 0) {
				r->count += count;
				if (first < r->first)
					r->first = first;
				if (last > r->last)
					r->last = last;
				return true;
			}
		}
	}
	if (t->n_rows >= max)
		return false;
	if (t->n_rows == t->cap_rows) {
		t->cap_rows = t->cap_rows == 0 ? 64 : t->cap_rows * 2;
		t->rows = xreallocarray(t->rows, t->cap_rows, sizeof(*t->rows));
	}
	r = &t->rows[t->n_rows++];
	*r = (struct row){ .domain = xstrdup(domain), .key = xstrdup(key),
			   .hash = h, .passed = passed, .count = count,
			   .first = first, .last = last };
	/* at most half full */
	if (t->slots == NULL || t->n_rows * 2 > t->mask + 1)
		rehash_rows(t, t->slots == NULL ? 128 : (t->mask + 1) * 2);
	else {
		for (s = h & t->mask; t->slots[s] != 0; s = (s + 1) & t->mask)
			;
		t->slots[s] = (uint32_t)t->n_rows;
	}
	return true;
}

static void
table_set_pol(struct table *t, const char *domain, const char *policy,
	      const char *rua, int64_t seen)
{
	uint64_t h = hash_str(14695981039346656037ULL, domain);
	struct pol *p;
	size_t s;

	if (t->pslots != NULL) {
		for (s = h & t->pmask; t->pslots[s] != 0;
		     s = (s + 1) & t->pmask) {
			p = &t->pols[t->pslots[s] - 1];
			if (p->hash != h || strcmp(p->domain, domain) != 0)
				continue;
			if (seen >= p->seen) {
				if (strcmp(p->policy, policy) != 0) {
					free(p->policy);
					p->policy = xstrdup(policy);
				}
				if (strcmp(p->rua, rua) != 0) {
					free(p->rua);
					p->rua = xstrdup(rua);
				}
				p->seen = seen;
			}
			return;
		}
	}
	if (t->n_pols == t->cap_pols) {
		t->cap_pols = t->cap_pols == 0 ? 16 : t->cap_pols * 2;
		t->pols = xreallocarray(t->pols, t->cap_pols, sizeof(*t->pols));
	}
	p = &t->pols[t->n_pols++];
	*p = (struct pol){ .domain = xstrdup(domain), .policy = xstrdup(policy),
			   .rua = xstrdup(rua), .hash = h, .seen = seen };
	if (t->pslots == NULL || t->n_pols * 2 > t->pmask + 1)
		rehash_pols(t, t->pslots == NULL ? 32 : (t->pmask + 1) * 2);
	else {
		for (s = h & t->pmask; t->pslots[s] != 0;
		     s = (s + 1) & t->pmask)
			;
		t->pslots[s] = (uint32_t)t->n_pols;
	}
}

void
dmarc_report_record(const struct dmarc_report_input *in)
{
	struct buf key, policy;
	char domain[256];
	int64_t when;
	size_t i;

	if (!atomic_load(&coll.started) || in->policy_domain == NULL ||
	    in->policy_domain[0] == '\0' || in->rua == NULL ||
	    strcasestr(in->rua, "mailto:") == NULL)
		return;
	for (i = 0; in->policy_domain[i] != '\0' && i < sizeof(domain) - 1;
	     i++) {
		char c = in->policy_domain[i];

		domain[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	domain[i] = '\0';
	when = in->when != 0 ? (int64_t)in->when : (int64_t)time(NULL);
	buf_init(&key);
	buf_init(&policy);
	dmarc_report_row_key(in, &key);
	dmarc_report_policy_text(in, &policy);
	pthread_mutex_lock(&coll.lock);
	if (coll.started) {
		if (table_add_row(&coll.t, coll.max_rows, domain, key.data,
				  in->dkim_aligned || in->spf_aligned, 1, when,
				  when)) {
			table_set_pol(&coll.t, domain, policy.data, in->rua,
				      when);
			coll.t.messages++;
		} else {
			coll.dropped++;
		}
	}
	pthread_mutex_unlock(&coll.lock);
	buf_deinit(&key);
	buf_deinit(&policy);
}

static const char *
policy_word(enum dmarc_policy p)
{
	return p == DMARC_POLICY_UNSET ? NULL : dmarc_policy_name(p);
}

void
dmarc_report_record_result(const struct dmarc_result *r)
{
	struct dmarc_report_dkim sigs[8];
	const struct dmarc_record *rec = &r->record;
	size_t n = r->n_dkim < 8 ? r->n_dkim : 8;

	if (!atomic_load(&coll.started) || !r->has_record ||
	    r->policy_domain == NULL ||
	    rec->rua == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		sigs[i] = (struct dmarc_report_dkim){
			.domain = r->dkim[i].domain,
			.selector = r->dkim[i].selector,
			.result = dkim_result_name(r->dkim[i].result),
		};
	struct dmarc_report_input in = {
		.policy_domain = r->policy_domain,
		.source_ip = r->source_ip,
		.header_from = r->from_domain,
		.envelope_from = r->env_from_domain,
		.p = policy_word(rec->p),
		.sp = policy_word(rec->sp),
		.np = policy_word(rec->np),
		.pct = rec->pct,
		.adkim = rec->adkim == DMARC_ALIGN_STRICT ? 's' : 'r',
		.aspf = rec->aspf == DMARC_ALIGN_STRICT ? 's' : 'r',
		.fo = rec->fo,
		.rua = rec->rua,
		.disposition = r->disposition == DMARC_POLICY_UNSET ? "none" :
			       dmarc_policy_name(r->disposition),
		.dkim_aligned = r->dkim_aligned,
		.spf_aligned = r->spf_aligned,
		.reason = r->reason == DMARC_REASON_NONE ? NULL :
			  dmarc_reason_name(r->reason),
		.reason_comment = r->override_comment,
		.spf_domain = r->spf_domain,
		.spf_scope = r->spf_is_helo ? "helo" : "mfrom",
		.spf_result = spf_result_name(r->spf_result),
		.dkim = sigs,
		.n_dkim = n,
	};

	dmarc_report_record(&in);
}

/* Writes t to the store; on failure puts its rows back (as far as they
 * fit). Called without the lock. */
static int
flush_table(struct store *store, struct table *t, const char **error_r)
{
	struct store_dmarc_count *counts;
	struct store_dmarc_policy *pols;
	uint64_t dropped;
	enum store_result r;

	if (t->n_rows == 0 && t->n_pols == 0)
		return 0;
	counts = xcalloc(t->n_rows + 1, sizeof(*counts));
	pols = xcalloc(t->n_pols + 1, sizeof(*pols));
	for (size_t i = 0; i < t->n_rows; i++)
		counts[i] = (struct store_dmarc_count){
			.domain = t->rows[i].domain, .key = t->rows[i].key,
			.passed = t->rows[i].passed,
			.count = t->rows[i].count,
			.first_seen = t->rows[i].first,
			.last_seen = t->rows[i].last,
		};
	for (size_t i = 0; i < t->n_pols; i++)
		pols[i] = (struct store_dmarc_policy){
			.domain = t->pols[i].domain,
			.policy = t->pols[i].policy, .rua = t->pols[i].rua,
			.seen = t->pols[i].seen,
		};
	r = store_dmarc_add(store, counts, t->n_rows, pols, t->n_pols,
			    error_r);
	free(counts);
	free(pols);
	pthread_mutex_lock(&coll.lock);
	dropped = coll.dropped;
	coll.dropped = 0;
	if (r != STORE_OK) {
		/* kept for the next flush, as far as they fit */
		for (size_t i = 0; i < t->n_rows; i++) {
			struct row *w = &t->rows[i];

			if (!table_add_row(&coll.t, coll.max_rows, w->domain,
					   w->key, w->passed, w->count,
					   w->first, w->last))
				coll.dropped += w->count;
		}
		for (size_t i = 0; i < t->n_pols; i++)
			table_set_pol(&coll.t, t->pols[i].domain,
				      t->pols[i].policy, t->pols[i].rua,
				      t->pols[i].seen);
		coll.t.messages += t->messages;
	}
	pthread_mutex_unlock(&coll.lock);
	if (r != STORE_OK)
		log_warn(NULL, "dmarc", "flush-failed", "rows=%zu error=\"%s\"",
			 t->n_rows, *error_r != NULL ? *error_r : "?");
	else
		log_debug(NULL, "dmarc", "flushed", "rows=%zu messages=%llu",
			  t->n_rows, (unsigned long long)t->messages);
	if (dropped > 0)
		log_warn(NULL, "dmarc", "rows-dropped", "messages=%llu "
			 "reason=memory_rows",
			 (unsigned long long)dropped);
	return r == STORE_OK ? 0 : -1;
}

/* Takes the table out under the lock (the SMTP loop keeps counting into
 * a fresh one) and writes it. */
static int
flush_now(const char **error_r)
{
	struct table t;
	int ret;

	pthread_mutex_lock(&coll.lock);
	t = coll.t;
	memset(&coll.t, 0, sizeof(coll.t));
	pthread_mutex_unlock(&coll.lock);
	ret = flush_table(coll.store, &t, error_r);
	table_free(&t);
	return ret;
}

static void
flush_work(void *ctx)
{
	const char *error = NULL;

	(void)flush_now(&error);
	/* here, not in the done callback: that one never runs once the
	 * loop has stopped, and stop() waits for this */
	pthread_mutex_lock(&coll.lock);
	coll.flushing = false;
	pthread_cond_broadcast(&coll.cond);
	pthread_mutex_unlock(&coll.lock);
}

static void
flush_done(void *ctx)
{
}

static void
timer_cb(void *ctx)
{
	bool go;

	pthread_mutex_lock(&coll.lock);
	go = !coll.flushing && (coll.t.n_rows > 0 || coll.dropped > 0);
	if (go)
		coll.flushing = true;
	pthread_mutex_unlock(&coll.lock);
	if (go)
		ioev_run_blocking(coll.loop, flush_work, flush_done, NULL);
}

void
dmarc_report_collector_start(struct ioev_loop *loop, struct store *store,
			     const struct config *cfg)
{
	if (!cfg->mailauth.dmarc_reports || coll.started)
		return;
	pthread_mutex_lock(&coll.lock);
	coll.loop = loop;
	coll.store = store;
	coll.max_rows = cfg->mailauth.dmarc_report_memory_rows;
	coll.started = true;
	pthread_mutex_unlock(&coll.lock);
	if (loop != NULL) {
		coll.timer = ioev_timer_new(loop, timer_cb, NULL);
		ioev_timer_start(coll.timer, DMARC_REPORT_FLUSH_MS, true);
	}
}

void
dmarc_report_collector_stop(void)
{
	const char *error = NULL;

	if (!coll.started)
		return;
	ioev_timer_free(&coll.timer);
	pthread_mutex_lock(&coll.lock);
	coll.started = false;
	while (coll.flushing)
		pthread_cond_wait(&coll.cond, &coll.lock);
	pthread_mutex_unlock(&coll.lock);
	(void)flush_now(&error);
	pthread_mutex_lock(&coll.lock);
	table_free(&coll.t);
	coll.store = NULL;
	coll.loop = NULL;
	pthread_mutex_unlock(&coll.lock);
}

int
dmarc_report_collector_flush(const char **error_r)
{
	if (!coll.started || coll.store == NULL)
		return 0;
	return flush_now(error_r);
}
