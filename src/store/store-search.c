/* SPDX-License-Identifier: MIT */
/*
 * The full-text search index's driver (docs/store.md "Search index"): an
 * indexer thread per store handle that reads the work list, extracts each
 * body's text (mail/mime-text), writes the index file in rounds bounded
 * by count and by text, then takes the round off the work list; and the
 * search handle SEARCH reads it through, which extracts a body not yet
 * indexed on the spot.
 */
#include "store/store-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "mail/mime-cache.h"
#include "mail/mime-text.h"

/* Work list entries read at once; [store] search_round_bytes bounds the
 * text a round holds. */
#define INDEX_ROUND 64
#define INDEX_ROUND_BYTES_DEFAULT (2u * 1024 * 1024)
/* The indexer also looks at the work list this often: other processes
 * sharing the database queue work there too. */
#define INDEX_POLL_S 5
/* After a round that emptied the work list, the indexer waits until
 * deliveries have paused this long (a window of INDEX_QUIET_MS without a
 * kick: 300-600 ms after the last one), but no longer than
 * INDEX_LAG_MAX_MS after the first kick. A burst of
 * deliveries so has both cores to itself and is indexed in full rounds
 * once it is over (each round costs a commit of the index, an FTS5
 * segment to merge later and a write op in herald.db whatever its size);
 * a delivery stream that never pauses is indexed every INDEX_LAG_MAX_MS.
 * A SEARCH meanwhile reads the bodies not indexed yet: slower, never
 * wrong. */
#define INDEX_QUIET_MS 300
#define INDEX_LAG_MAX_MS 10000

struct store_indexer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	bool kicked;
	/* waiting for the first kick of a burst: only then does a kick
	 * wake the thread (during a burst, one per commit would cost a
	 * wake-up and a task switch each; the quiet window's end sees the
	 * flag) */
	bool idle;
};

struct store_search {
	struct store *store;
	void *handle;
	struct store_blob_reader *blobs;
};

static size_t
text_max(const struct store *store)
{
	uint64_t m = store->cfg->store.search_text_max;

	return m > 0 && m < SIZE_MAX ? (size_t)m : MIME_TEXT_DEFAULT_MAX;
}

static size_t
round_bytes(const struct store *store)
{
	uint64_t m = store->cfg->store.search_round_bytes;

	return m > 0 && m < SIZE_MAX ? (size_t)m : INDEX_ROUND_BYTES_DEFAULT;
}

/* A body as mime-text reads it: in memory (a database blob) or a file
 * read in pieces (never mapped or read whole: a 50 MB attachment must not
 * cost 50 MB). */
struct blob_src {
	const uint8_t *data;
	int fd;
};

static int
blob_src_read(void *ctx, uint64_t offset, size_t len, struct buf *out)
{
	struct blob_src *src = ctx;

	if (src->data != NULL) {
		buf_append(out, src->data + offset, len);
		return 0;
	}
	buf_reserve(out, len);
	while (len > 0) {
		ssize_t n = pread(src->fd, out->data + out->len, len,
				  (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		offset += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* The text of the body blob_id through reader rd (one of a run); its
 * MIME tree from the store's structure cache (parsed once, when it was
 * stored). */
static enum store_result
extract_blob(struct store *store, struct store_blob_reader *rd,
	     const char *blob_id, struct buf *hdr, struct buf *body,
	     bool *complete_r, const char **error_r)
{
	struct blob_src src = { .fd = -1 };
	struct mime_cache *mc = NULL;
	enum store_result r;
	uint64_t size;
	size_t len = 0;
	struct stat st;

	r = store_blob_reader_get(rd, blob_id, 0, &src.data, &len, &src.fd,
				  error_r);
	if (r != STORE_OK)
		return r;
	size = len;
	if (src.fd >= 0) {
		if (fstat(src.fd, &st) < 0) {
			int err = errno;

			close(src.fd);
			return store_error(error_r, STORE_E_TEMP,
					   "blob %s: %s", blob_id,
					   strerror(err));
		}
		size = (uint64_t)st.st_size;
	}
	r = store_mime_get(store, blob_id, size, &mc, error_r);
	if (r == STORE_OK)
		*complete_r = mime_text_extract_read(mc->root, size,
						     blob_src_read, &src,
						     text_max(store), hdr,
						     body);
	mime_cache_free(&mc);
	if (src.fd >= 0)
		close(src.fd);
	return r;
}

static void
batch_free(struct store_search_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].hdr != NULL) {
			buf_deinit(items[i].hdr);
			free(items[i].hdr);
		}
		if (items[i].body != NULL) {
			buf_deinit(items[i].body);
			free(items[i].body);
		}
	}
	free(items);
}

/* An index file found damaged or gone while open is replaced by an empty
 * one and every message queued again (docs/store.md "Search index"). */
static void
repair_if_damaged(struct store *store)
{
	const char *err = NULL;

	if (!store->ops->search_damaged(store))
		return;
	if (store_commit_run(store, store->ops->search_repair, NULL, &err) !=
	    STORE_OK)
		log_warn(NULL, "store", "search-index-failed", "error=\"%s\"",
			 err != NULL ? err : "?");
}

/* One round: up to INDEX_ROUND entries of the work list, fewer when their
 * text reaches [store] search_round_bytes (at least one: a message's text
 * is at most search_text_max). *done_r counts them (0: the list was
 * empty); *more_r: entries may be left (a full or cut round). */
static enum store_result
index_round(struct store *store, size_t max, size_t *done_r, bool *more_r,
	    const char **error_r)
{
	struct store_search_item *items = NULL;
	struct store_blob_reader *rd;
	struct store_search_batch b;
	size_t n = 0, text = 0, i, budget = round_bytes(store);
	enum store_result r;

	*done_r = 0;
	*more_r = false;
	repair_if_damaged(store);
	r = store->ops->search_queue_read(store, max, &items, &n, error_r);
	if (r != STORE_OK || n == 0) {
		free(items);
		return r;
	}
	rd = store_blob_reader_new(store);
	for (i = 0; i < n && text < budget; i++) {
		struct store_search_item *it = &items[i];
		const char *err = NULL;

		if (it->op != STORE_SEARCH_ADD)
			continue;
		it->skip = it->indexed;
		/* the same body twice in one round (a copy) */
		for (size_t j = 0; j < i && !it->skip; j++)
			it->skip = items[j].op == STORE_SEARCH_ADD &&
				   items[j].account_id == it->account_id &&
				   strcmp(items[j].blob_id, it->blob_id) == 0;
		if (it->skip)
			continue;
		it->hdr = xcalloc(1, sizeof(*it->hdr));
		it->body = xcalloc(1, sizeof(*it->body));
		buf_init(it->hdr);
		buf_init(it->body);
		r = extract_blob(store, rd, it->blob_id, it->hdr, it->body,
				 &it->complete, &err);
		if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID) {
			/* the body is gone: its message was expunged and
			 * collected (a DROP follows), nothing to index */
			it->skip = true;
		} else if (r != STORE_OK) {
			store_blob_reader_free(&rd);
			batch_free(items, n);
			return store_error(error_r, r, "%s", err);
		}
		text += it->hdr->len + it->body->len;
	}
	store_blob_reader_free(&rd);
	/* a round cut short by the budget applies what it has; the rest
	 * (nothing extracted yet) is read again next round */
	b.items = items;
	b.count = i;
	/* the index first, then the work list: a crash between them
	 * applies the round again, which changes nothing */
	r = store->ops->search_apply(store, &b, error_r);
	if (r != STORE_OK)
		repair_if_damaged(store);
	if (r == STORE_OK)
		r = store_commit_run(store, store->ops->search_dequeue, &b,
				     error_r);
	if (r == STORE_OK) {
		*done_r = i;
		*more_r = n == max || i < n;
		pthread_mutex_lock(&store->lock);
		store->stats.search_rounds++;
		pthread_mutex_unlock(&store->lock);
	}
	batch_free(items, n);
	return r;
}

enum store_result
store_search_index_pending(struct store *store, size_t max, size_t *done_r,
			   const char **error_r)
{
	size_t total = 0, done;
	enum store_result r;
	bool more;

	do {
		size_t round = INDEX_ROUND;

		if (max > 0 && max - total < round)
			round = max - total;
		r = index_round(store, round, &done, &more, error_r);
		total += done;
	} while (r == STORE_OK && done > 0 && (max == 0 || total < max));
	if (done_r != NULL)
		*done_r = total;
	return r;
}

enum store_result
store_search_reindex(struct store *store, const char **error_r)
{
	/* empty first: a round running meanwhile adds only entries that
	 * are right, and the queue keeps its pending drops */
	enum store_result r = store->ops->search_clear(store, error_r);

	if (r != STORE_OK && store->ops->search_damaged(store)) {
		/* damaged: replaced by an empty one instead */
		repair_if_damaged(store);
		r = STORE_OK;
	}
	if (r == STORE_OK)
		r = store_commit_run(store, store->ops->search_requeue, NULL,
				     error_r);
	if (r == STORE_OK)
		store_search_kick(store);
	return r;
}

/* ---- the indexer thread ---- */

static bool
indexer_stopping(struct store_indexer *ix)
{
	bool stop;

	pthread_mutex_lock(&ix->lock);
	stop = ix->stop;
	pthread_mutex_unlock(&ix->lock);
	return stop;
}

static void *
indexer_main(void *arg)
{
	struct store *store = arg;
	struct store_indexer *ix = store->indexer;

	int64_t seen_mark = -1;
	bool run = true;

	/* below the threads that answer clients (Linux: per thread) */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	for (;;) {
		struct timespec until, limit;
		size_t done;
		bool more;
		const char *err = NULL;
		enum store_result r = STORE_OK;

		/* on while rounds come out full (or cut by the byte
		 * budget: done > 0 and entries left) */
		do {
			if (!run)
				break;
			r = index_round(store, INDEX_ROUND, &done, &more,
					&err);
		} while (r == STORE_OK && more &&
			 !indexer_stopping(ix));
		if (r != STORE_OK)
			log_warn(NULL, "store", "search-index-failed",
				 "error=\"%s\"", err != NULL ? err : "?");
		pthread_mutex_lock(&ix->lock);
		store_deadline_after(&until, INDEX_POLL_S * 1000000ull);
		ix->idle = true;
		while (!ix->stop && !ix->kicked)
			if (pthread_cond_timedwait(&ix->cond, &ix->lock,
						   &until) == ETIMEDOUT)
				break;
		ix->idle = false;
		if (!ix->stop && !ix->kicked) {
			int64_t mark;

			/* The poll, for work other processes queued: while
			 * the list keeps growing they are in a burst, which
			 * their own indexers take once it is over; a round
			 * here would take a core and the disk from it (the
			 * queue runner's indexer did so in the middle of
			 * 10 clients' APPENDs). Only a list that stood
			 * still for a whole interval is ours to take. */
			pthread_mutex_unlock(&ix->lock);
			err = NULL;
			r = store->ops->search_queue_mark != NULL ?
			    store->ops->search_queue_mark(store, &mark, &err) :
			    STORE_E_INVALID;
			run = r != STORE_OK || (mark != 0 && mark == seen_mark);
			if (r == STORE_OK)
				seen_mark = mark;
			continue;
		}
		run = true;
		/* let the burst that kicked us end (stop cuts it): it is
		 * over after a window of INDEX_QUIET_MS without a kick */
		store_deadline_after(&limit, INDEX_LAG_MAX_MS * 1000ull);
		while (!ix->stop) {
			bool last = false;
			int rc = 0;

			ix->kicked = false;
			store_deadline_after(&until, INDEX_QUIET_MS * 1000ull);
			if (until.tv_sec > limit.tv_sec ||
			    (until.tv_sec == limit.tv_sec &&
			     until.tv_nsec >= limit.tv_nsec)) {
				until = limit;
				last = true;
			}
			while (!ix->stop && rc != ETIMEDOUT)
				rc = pthread_cond_timedwait(&ix->cond,
							    &ix->lock, &until);
			if (ix->stop || !ix->kicked || last)
				break;
			/* deliveries went on: so does the burst */
		}
		ix->kicked = false;
		if (ix->stop) {
			pthread_mutex_unlock(&ix->lock);
			break;
		}
		pthread_mutex_unlock(&ix->lock);
	}
	return NULL;
}

enum store_result
store_search_indexer_start(struct store *store, const char **error_r)
{
	struct store_indexer *ix;
	pthread_condattr_t attr;
	int err;

	if (!store->cfg->store.search_index || store->indexer != NULL)
		return STORE_OK;
	ix = xcalloc(1, sizeof(*ix));
	pthread_mutex_init(&ix->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ix->cond, &attr);
	pthread_condattr_destroy(&attr);
	store->indexer = ix;
	err = pthread_create(&ix->thread, NULL, indexer_main, store);
	if (err != 0) {
		store->indexer = NULL;
		pthread_cond_destroy(&ix->cond);
		pthread_mutex_destroy(&ix->lock);
		free(ix);
		return store_error(error_r, STORE_E_TEMP,
				   "cannot start the search indexer: %s",
				   strerror(err));
	}
	(void)pthread_setname_np(ix->thread, "herald-index");
	return STORE_OK;
}

void
store_search_kick(struct store *store)
{
	struct store_indexer *ix = store->indexer;

	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->lock);
	ix->kicked = true;
	if (ix->idle)
		pthread_cond_signal(&ix->cond);
	pthread_mutex_unlock(&ix->lock);
}

/* Called by store_close() before the writer stops (the indexer's last
 * round may still take its entries off the work list). */
void
store_search_indexer_stop(struct store *store)
{
	struct store_indexer *ix = store->indexer;

	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->lock);
	ix->stop = true;
	pthread_cond_signal(&ix->cond);
	pthread_mutex_unlock(&ix->lock);
	pthread_join(ix->thread, NULL);
	pthread_cond_destroy(&ix->cond);
	pthread_mutex_destroy(&ix->lock);
	free(ix);
	store->indexer = NULL;
}

/* ---- one search ---- */

enum store_result
store_search_begin(struct store *store, int64_t account_id,
		   struct store_search **search_r, const char **error_r)
{
	struct store_search *s;
	enum store_result r;
	void *h = NULL;

	*search_r = NULL;
	r = store->ops->search_begin(store, account_id, &h, error_r);
	if (r != STORE_OK)
		return r;
	s = xcalloc(1, sizeof(*s));
	s->store = store;
	s->handle = h;
	*search_r = s;
	return STORE_OK;
}

void
store_search_end(struct store_search **searchp)
{
	struct store_search *s = *searchp;

	if (s == NULL)
		return;
	if (s->blobs != NULL)
		store_blob_reader_free(&s->blobs);
	s->store->ops->search_end(s->handle);
	/* a damaged index file found: the indexer replaces it now */
	if (s->store->ops->search_damaged(s->store))
		store_search_kick(s->store);
	free(s);
	*searchp = NULL;
}

enum store_result
store_search_doc(struct store_search *s, const char *blob_id, int64_t *doc_r,
		 const char **error_r)
{
	return s->store->ops->search_doc(s->handle, blob_id, doc_r, error_r);
}

enum store_result
store_search_mailbox_docs(struct store_search *s, int64_t mailbox_id,
			  uint32_t **uids_r, int64_t **docs_r,
			  size_t *count_r, const char **error_r)
{
	return s->store->ops->search_mailbox_docs(s->handle, mailbox_id,
						  uids_r, docs_r, count_r,
						  error_r);
}

enum store_result
store_search_match(struct store_search *s, const char *needle,
		   bool body_only, int64_t **docs_r, size_t *count_r,
		   const char **error_r)
{
	size_t chars = 0;

	*docs_r = NULL;
	*count_r = 0;
	for (const char *p = needle; *p != '\0'; p++)
		if (((unsigned char)*p & 0xc0) != 0x80)
			chars++;
	if (chars < STORE_SEARCH_NEEDLE_MIN)
		return store_error(error_r, STORE_E_INVALID,
				   "needle too short for the index");
	return s->store->ops->search_match(s->handle, needle, body_only,
					   docs_r, count_r, error_r);
}

enum store_result
store_search_text(struct store_search *s, int64_t doc, const char *blob_id,
		  struct buf *hdr, struct buf *body, const char **error_r)
{
	struct buf scratch;
	enum store_result r;
	bool complete;

	if (doc != 0) {
		r = s->store->ops->search_text(s->handle, doc, hdr, body,
					       error_r);
		if (r != STORE_E_NOT_FOUND)
			return r;
	}
	if (s->blobs == NULL)
		s->blobs = store_blob_reader_new(s->store);
	buf_init(&scratch);
	r = extract_blob(s->store, s->blobs, blob_id, hdr,
			 body != NULL ? body : &scratch, &complete, error_r);
	buf_deinit(&scratch);
	/* a body that cannot be found has no text: the message matches no
	 * text key, and the rest of the search goes on */
	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID)
		r = STORE_OK;
	return r;
}
