/* SPDX-License-Identifier: MIT */
/*
 * What changed in a mailbox since a modseq, on SQLite: the counters, the
 * messages with a newer modseq or a UID not seen yet (with keywords) and
 * the expunged UIDs from the change log, all from one read snapshot, for
 * IMAP's unsolicited EXISTS / FETCH / EXPUNGE (imap-sync.c); and the
 * pruning of that log, which moves each mailbox's expunge horizon.
 */
#include "store/store-sqlite-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"

#define PRUNE_DEFAULT_MAX 1000

/* Written as a UNION of the two index searches (messages_modseq and the
 * UNIQUE (mailbox_id, uid)): with "modseq > ? OR uid >= ?" SQLite scanned
 * the whole mailbox (EXPLAIN QUERY PLAN), which costs a 10,000-message
 * mailbox a millisecond per look. */
#define DELTA_WHERE \
	" WHERE m.id IN (SELECT id FROM messages WHERE mailbox_id = ?1" \
	" AND modseq > ?2 UNION SELECT id FROM messages WHERE" \
	" mailbox_id = ?1 AND uid >= ?3)"

static enum store_result
delta_counters(sqlite3 *db, int64_t mailbox_id, uint64_t since,
	       struct store_mailbox_delta *d, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite_prep(db, &stmt, "SELECT m.uidvalidity, m.uidnext,"
			" m.highestmodseq, coalesce(h.modseq, 0) FROM"
			" mailboxes m LEFT JOIN expunge_horizons h ON"
			" h.mailbox_id = m.id WHERE m.id = ?", "i",
			mailbox_id) != SQLITE_OK)
		return sqlite_fail(db, "mailbox delta", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		d->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 0);
		d->uidnext = (uint32_t)sqlite3_column_int64(stmt, 1);
		d->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 2);
		/* the pruned expunges all have a modseq at most this */
		d->expunged_partial =
			(uint64_t)sqlite3_column_int64(stmt, 3) > since;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "mailbox %lld does not exist",
				   (long long)mailbox_id);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox delta", error_r);
	return STORE_OK;
}

static enum store_result
delta_messages(sqlite3 *db, int64_t mailbox_id, uint64_t since,
	       uint32_t uid_from, struct store_mailbox_delta *d,
	       const char **error_r)
{
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	if (sqlite_prep(db, &stmt, "SELECT " SQLITE_MESSAGE_COLUMNS("m.")
			" FROM messages m" DELTA_WHERE
			" ORDER BY m.uid", "iii", mailbox_id, (int64_t)since,
			(int64_t)uid_from) != SQLITE_OK)
		return sqlite_fail(db, "mailbox delta", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_message *m;

		if (d->n_changed == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			d->changed = xreallocarray(d->changed, cap,
						   sizeof(*d->changed));
		}
		memset(&d->changed[d->n_changed], 0, sizeof(*d->changed));
		m = &d->changed[d->n_changed++].msg;
		sqlite_message_from_row(stmt, 0, m);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "mailbox delta", error_r);
	return STORE_OK;
}

/* Keywords of the changed messages, in the same UID order, merged in. */
static enum store_result
delta_keywords(sqlite3 *db, int64_t mailbox_id, uint64_t since,
	       uint32_t uid_from, struct store_mailbox_delta *d,
	       const char **error_r)
{
	sqlite3_stmt *stmt;
	size_t i = 0, cap = 0;
	int rc;

	if (d->n_changed == 0)
		return STORE_OK;
	if (sqlite_prep(db, &stmt, "SELECT m.id, k.keyword FROM messages m"
			" JOIN keywords k ON k.message_id = m.id" DELTA_WHERE
			" ORDER BY m.uid, k.keyword", "iii", mailbox_id,
			(int64_t)since, (int64_t)uid_from) != SQLITE_OK)
		return sqlite_fail(db, "mailbox delta", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(stmt, 0);
		struct store_message_change *c;

		while (i < d->n_changed && d->changed[i].msg.id != id) {
			i++;
			cap = 0;
		}
		if (i == d->n_changed)
			break;	/* same snapshot: cannot happen */
		c = &d->changed[i];
		if (c->n_keywords == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			c->keywords = xreallocarray(c->keywords, cap,
						    sizeof(*c->keywords));
		}
		c->keywords[c->n_keywords++] = sqlite_col_strdup(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox delta", error_r);
	return STORE_OK;
}

static enum store_result
delta_mailbox_keywords(sqlite3 *db, int64_t mailbox_id,
		       struct store_mailbox_delta *d, const char **error_r)
{
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	/* ids grow as keywords are added: the mailbox's order */
	if (sqlite_prep(db, &stmt, "SELECT keyword FROM mailbox_keywords"
			" WHERE mailbox_id = ? ORDER BY id", "i",
			mailbox_id) != SQLITE_OK)
		return sqlite_fail(db, "mailbox delta", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (d->n_keywords == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			d->keywords = xreallocarray(d->keywords, cap,
						    sizeof(*d->keywords));
		}
		d->keywords[d->n_keywords++] = sqlite_col_strdup(stmt, 0);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "mailbox delta", error_r);
	return STORE_OK;
}

static enum store_result
delta_expunged(sqlite3 *db, int64_t mailbox_id, uint64_t since,
	       struct store_mailbox_delta *d, const char **error_r)
{
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	if (sqlite_prep(db, &stmt, "SELECT DISTINCT uid FROM changes"
			" WHERE mailbox_id = ? AND modseq > ? AND"
			" kind = 'email' AND change = 'destroyed' AND"
			" uid IS NOT NULL ORDER BY uid", "ii", mailbox_id,
			(int64_t)since) != SQLITE_OK)
		return sqlite_fail(db, "mailbox delta", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (d->n_expunged == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			d->expunged = xreallocarray(d->expunged, cap,
						    sizeof(*d->expunged));
		}
		d->expunged[d->n_expunged++] =
			(uint32_t)sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "mailbox delta", error_r);
	return STORE_OK;
}

/* Every UID of the mailbox, for a caller whose since is past the log. */
static enum store_result
delta_present(sqlite3 *db, int64_t mailbox_id,
	      struct store_mailbox_delta *d, const char **error_r)
{
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	if (sqlite_prep(db, &stmt, "SELECT uid FROM messages WHERE"
			" mailbox_id = ? ORDER BY uid", "i", mailbox_id) !=
	    SQLITE_OK)
		return sqlite_fail(db, "mailbox delta", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (d->n_present == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			d->present = xreallocarray(d->present, cap,
						   sizeof(*d->present));
		}
		d->present[d->n_present++] =
			(uint32_t)sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "mailbox delta", error_r);
	if (d->present == NULL)
		d->present = xcalloc(1, sizeof(*d->present));
	return STORE_OK;
}

enum store_result
sqlite_mailbox_delta(struct store *store, int64_t mailbox_id, uint64_t since,
		     uint32_t uid_from, struct store_mailbox_delta *d,
		     const char **error_r)
{
	enum store_result r;
	sqlite3 *db;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	/* One snapshot: counters, rows and log agree with each other. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		r = sqlite_fail(db, "mailbox delta", error_r);
	if (r == STORE_OK)
		r = delta_counters(db, mailbox_id, since, d, error_r);
	if (r == STORE_OK)
		r = delta_mailbox_keywords(db, mailbox_id, d, error_r);
	if (r == STORE_OK)
		r = delta_messages(db, mailbox_id, since, uid_from, d,
				   error_r);
	if (r == STORE_OK)
		r = delta_keywords(db, mailbox_id, since, uid_from, d,
				   error_r);
	if (r == STORE_OK)
		r = delta_expunged(db, mailbox_id, since, d, error_r);
	if (r == STORE_OK && d->expunged_partial)
		r = delta_present(db, mailbox_id, d, error_r);
	sqlite_reader_put(store, db);
	if (r != STORE_OK)
		store_mailbox_delta_free(d);
	return r;
}

/* The oldest rows of the log while they are old enough, in id order (the
 * order they were written in, so one old row is never kept behind a
 * newer one for long; a clock that stepped back only keeps rows longer):
 * each mailbox's horizon first, from the expunge records going, then
 * the rows. Alone in its transaction, like the blob collector. */
enum store_result
sqlite_changes_prune(struct store *store, void *ctx, const char **error_r)
{
	struct store_changes_prune_result *res = ctx;
	sqlite3 *db = sqlite_wdb(store);
	size_t max = res->max > 0 ? res->max : PRUNE_DEFAULT_MAX;
	int64_t cutoff = (int64_t)time(NULL) - (int64_t)res->max_age_s;
	int64_t last = 0;
	sqlite3_stmt *stmt;
	size_t n = 0;
	int rc;

	res->pruned = 0;
	res->more = false;
	if (res->max_age_s == 0)
		return STORE_OK;
	/* NOTIFY's metadata changes age like the rest of the log: a
	 * session reads them within moments of each wake */
	if (sqlite_exec(db, "DELETE FROM metadata_changes WHERE at < ?", "i",
			cutoff) != SQLITE_OK)
		return sqlite_fail(db, "metadata change prune", error_r);
	if (sqlite_prep(db, &stmt, "SELECT id, at FROM changes ORDER BY id"
			" LIMIT ?", "i", (int64_t)max + 1) != SQLITE_OK)
		return sqlite_fail(db, "change log prune", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite3_column_int64(stmt, 1) >= cutoff)
			break;
		if (n == max) {
			res->more = true;
			break;
		}
		last = sqlite3_column_int64(stmt, 0);
		n++;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sqlite_fail(db, "change log prune", error_r);
	if (n == 0)
		return STORE_OK;
	if (sqlite_exec(db, "INSERT INTO expunge_horizons (mailbox_id,"
			" modseq) SELECT mailbox_id, max(modseq) FROM changes"
			" WHERE id <= ? AND kind = 'email' AND"
			" change = 'destroyed' AND mailbox_id IS NOT NULL"
			" GROUP BY mailbox_id ON CONFLICT (mailbox_id) DO"
			" UPDATE SET modseq = max(modseq, excluded.modseq)",
			"i", last) != SQLITE_OK ||
	    sqlite_exec(db, "DELETE FROM changes WHERE id <= ?", "i",
			last) != SQLITE_OK)
		return sqlite_fail(db, "change log prune", error_r);
	res->pruned = n;
	return STORE_OK;
}
