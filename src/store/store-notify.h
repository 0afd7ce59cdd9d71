/* SPDX-License-Identifier: MIT */
/*
 * Change notification between the processes that share one store: a small
 * mapped file ("<db>-notify") holds a table of change counters, hashed by
 * mailbox and by account, and one futex word that every publish bumps.
 * The writer publishes after each commit; a watch (a thread per watch,
 * asleep on the futex) turns a publish into a readable eventfd for an
 * event loop. docs/ARCHITECTURE.md "Change notification" has the design.
 */
#ifndef HERALD_STORE_STORE_NOTIFY_H
#define HERALD_STORE_STORE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_notify;

/* Opens (creating and initialising if needed) the file at path. Returns
 * NULL with a message in err on failure. */
struct store_notify *store_notify_open(const char *path, char *err,
				       size_t err_size);
/* Drops the caller's reference (the mapping goes with the last one: a
 * watch keeps it). */
void store_notify_close(struct store_notify **n);

/* One object that changed: a mailbox or an account. */
struct store_notify_key {
	enum store_watch_kind kind;
	int64_t id;
};

/* Bumps the counter of every key (several keys sharing a slot bump it
 * once), then wakes every watch, in every process, of a kind among the
 * keys'. Called after the
 * changes are committed, so a reader that sees a counter move and then
 * reads the database sees them. Lock-free; one futex system call. */
void store_notify_publish(struct store_notify *n,
			  const struct store_notify_key *keys, size_t count);

/* The counter for one key: it moves after every committed change of the
 * object (and, rarely, when another object sharing its slot changes). */
uint64_t store_notify_counter(const struct store_notify *n,
			      enum store_watch_kind kind, int64_t id);

/* A watch: an eventfd that becomes readable after any publish of a key
 * of kinds (a mask of STORE_WATCH_KIND()), in any process, that happens
 * after store_notify_watch_new() returned. It holds
 * a reference to n, so it may be freed after the store. Returns
 * NULL with a message in err on failure. */
struct store_notify_watch;
struct store_notify_watch *store_notify_watch_new(struct store_notify *n,
						  unsigned kinds, char *err,
						  size_t err_size);
int store_notify_watch_fd(const struct store_notify_watch *w);
/* Empties the eventfd (non-blocking). */
void store_notify_watch_ack(struct store_notify_watch *w);
/* Stops the thread (at once) and closes the eventfd; NULLs *w. */
void store_notify_watch_free(struct store_notify_watch **w);

#endif
