/* SPDX-License-Identifier: MIT */
/*
 * The worker's one store watch, shared by every session that waits for
 * changes made elsewhere (IDLE, NOTIFY): made by the first that asks,
 * freed with the last, so a worker nobody waits in runs no watch thread.
 * A publish in any process wakes each waiter, which looks at its own
 * change counters (a memory load) to decide whether anything is its.
 */
#include <stdlib.h>

#include "conf/worker.h"
#include "imap/imap-private.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"

struct watch_hub {
	struct store_watch *watch;
	struct ioev_watch *fd_watch;
	struct imap_watcher *head;
	size_t count;
};

/* a worker has one loop */
static struct watch_hub *hub;

static void
hub_wake(int fd, void *arg)
{
	(void)fd;
	(void)arg;
	store_watch_ack(hub->watch);
	/* a waiter may leave the hub from its callback (and the hub may
	 * go with the last one): the next is read before */
	for (struct imap_watcher *w = hub->head, *next; w != NULL; w = next) {
		next = w->next;
		w->wake(w);
	}
}

bool
imap_watch_add(struct imap_session *s, struct imap_watcher *w)
{
	if (w->added)
		return true;
	if (hub == NULL) {
		struct store_watch *watch = NULL;
		const char *error = NULL;

		if (store_watch_new_kinds(s->store,
				STORE_WATCH_KIND(STORE_WATCH_MAILBOX) |
				STORE_WATCH_KIND(STORE_WATCH_ACCOUNT), &watch,
				&error) != STORE_OK) {
			log_warn(s->id, "imap", "idle-watch-failed",
				 "error=\"%s\"", error != NULL ? error : "?");
			return false;
		}
		hub = xcalloc(1, sizeof(*hub));
		hub->watch = watch;
		hub->fd_watch = ioev_watch_fd(s->w->loop,
					      store_watch_fd(watch), hub_wake,
					      NULL);
	}
	w->prev = NULL;
	w->next = hub->head;
	if (hub->head != NULL)
		hub->head->prev = w;
	hub->head = w;
	hub->count++;
	w->added = true;
	return true;
}

void
imap_watch_remove(struct imap_watcher *w)
{
	if (hub == NULL || !w->added)
		return;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		hub->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->added = false;
	if (--hub->count > 0)
		return;
	ioev_watch_free(&hub->fd_watch);
	store_watch_free(&hub->watch);
	xfree(&hub);
}
