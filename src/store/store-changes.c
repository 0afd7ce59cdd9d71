/* SPDX-License-Identifier: MIT */
/*
 * The backend-independent side of change notification: what a batch
 * changed is gathered on the writer thread while its ops run and published
 * to the shared counters once it is committed (store-commit.c), so every
 * write path notifies without its caller's help; the watch and delta calls
 * of store.h dispatch here.
 */
#include "store/store-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"

void
store_changed(struct store *store, enum store_watch_kind kind, int64_t id)
{
	if (store->notify == NULL)
		return;
	/* A batch holds at most batch_max ops, each touching a few
	 * mailboxes: the list stays short, duplicates are cheap. */
	for (size_t i = store->n_changed; i > 0; i--) {
		if (store->changed[i - 1].kind == kind &&
		    store->changed[i - 1].id == id)
			return;
	}
	if (store->n_changed == store->cap_changed) {
		store->cap_changed = store->cap_changed == 0 ? 16 :
			store->cap_changed * 2;
		store->changed = xreallocarray(store->changed,
					       store->cap_changed,
					       sizeof(*store->changed));
	}
	store->changed[store->n_changed++] =
		(struct store_notify_key){ .kind = kind, .id = id };
}

void
store_changes_publish(struct store *store)
{
	if (store->notify != NULL && store->n_changed > 0)
		store_notify_publish(store->notify, store->changed,
				     store->n_changed);
	store->n_changed = 0;
}

void
store_changes_discard(struct store *store)
{
	store->n_changed = 0;
}

uint64_t
store_change_counter(struct store *store, enum store_watch_kind kind,
		     int64_t id)
{
	if (store->notify == NULL)
		return 0;
	return store_notify_counter(store->notify, kind, id);
}

struct store_watch {
	struct store_notify_watch *w;
};

enum store_result
store_watch_new(struct store *store, struct store_watch **watch_r,
		const char **error_r)
{
	return store_watch_new_kinds(store, STORE_WATCH_KINDS_ALL, watch_r,
				     error_r);
}

enum store_result
store_watch_new_kinds(struct store *store, unsigned kinds,
		      struct store_watch **watch_r, const char **error_r)
{
	struct store_notify_watch *w;
	char err[256];

	*watch_r = NULL;
	if (store->notify == NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "the %s store has no change notification",
				   store->ops->name);
	w = store_notify_watch_new(store->notify, kinds, err, sizeof(err));
	if (w == NULL)
		return store_error(error_r, STORE_E_TEMP, "%s", err);
	*watch_r = xcalloc(1, sizeof(**watch_r));
	(*watch_r)->w = w;
	return STORE_OK;
}

int
store_watch_fd(const struct store_watch *watch)
{
	return store_notify_watch_fd(watch->w);
}

void
store_watch_ack(struct store_watch *watch)
{
	store_notify_watch_ack(watch->w);
}

void
store_watch_free(struct store_watch **watch)
{
	if (*watch == NULL)
		return;
	store_notify_watch_free(&(*watch)->w);
	free(*watch);
	*watch = NULL;
}

enum store_result
store_mailbox_delta(struct store *store, int64_t mailbox_id, uint64_t since,
		    uint32_t uid_from, struct store_mailbox_delta *delta_r,
		    const char **error_r)
{
	memset(delta_r, 0, sizeof(*delta_r));
	return store->ops->mailbox_delta(store, mailbox_id, since, uid_from,
					 delta_r, error_r);
}

enum store_result
store_changes_prune(struct store *store,
		    struct store_changes_prune_result *res,
		    const char **error_r)
{
	if (store->ops->changes_prune == NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "change log pruning not supported");
	return store_commit_run_flags(store, store->ops->changes_prune, res,
				      STORE_OP_ALONE, error_r);
}

void
store_mailbox_delta_free(struct store_mailbox_delta *d)
{
	for (size_t i = 0; i < d->n_changed; i++)
		store_strv_free(&d->changed[i].keywords,
				d->changed[i].n_keywords);
	free(d->changed);
	free(d->expunged);
	free(d->present);
	store_strv_free(&d->keywords, d->n_keywords);
	memset(d, 0, sizeof(*d));
}
