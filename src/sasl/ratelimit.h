/* SPDX-License-Identifier: MIT */
/*
 * Failed-login rate limiting: counters keyed by a string (a client address,
 * an account), each with a fixed window that opens at the first failure.
 * Once `limit` failures fall inside a window the key is blocked until the
 * window ends; nothing but the end of the window clears it (a success
 * must not: one good account would reset a guesser's budget). The same
 * table with limit 1 is a set of keys seen recently (ratelimit_mark).
 * Memory is fixed at creation: at most max_entries keys; to make room
 * the least recently failed key that blocks nothing is evicted (among
 * the 64 oldest), else the least recently failed one. The table lives in a
 * shared mapping: one made before fork() is shared by the parent and
 * every child (the workers), across threads and processes alike.
 * sasl/login.c holds the tables of the login service.
 */
#ifndef HERALD_SASL_RATELIMIT_H
#define HERALD_SASL_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct ratelimit;

/* 1 <= max_entries < 2^31. limit 0 disables blocking (counters still
 * kept). window_s 0 is taken as 1. Keys are compared by a keyed 64-bit
 * hash of the whole key. */
struct ratelimit *ratelimit_new(size_t max_entries, unsigned limit,
				time_t window_s);
/* Changes limit and window (a reload): the counters stay, and every
 * process sharing the table sees the new values. */
void ratelimit_set_limits(struct ratelimit *rl, unsigned limit,
			  time_t window_s);
/* Unmaps this process's view (forked children keep theirs); NULLs *rl. */
void ratelimit_free(struct ratelimit **rl);

/* True if key has `limit` failures in a window that has not ended at
 * `now`. An entry whose window has ended is dropped. */
bool ratelimit_is_blocked(struct ratelimit *rl, const char *key, time_t now);
/* Counts one failure of key at now (opening a new window if none is open
 * or the last one ended). Returns true if key is now blocked. */
bool ratelimit_fail(struct ratelimit *rl, const char *key, time_t now);
/* Records key at now: its window restarts at now with one count, so with
 * limit 1 ratelimit_is_blocked() says "marked less than window_s ago". */
void ratelimit_mark(struct ratelimit *rl, const char *key, time_t now);
/* Failures counted for key in its open window at now (0 if none). */
unsigned ratelimit_failures(struct ratelimit *rl, const char *key, time_t now);
/* Number of keys held (at most max_entries). */
size_t ratelimit_count(struct ratelimit *rl);

#endif
