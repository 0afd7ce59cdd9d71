/* SPDX-License-Identifier: MIT */
/*
 * Mailboxes and messages on SQLite: lookups and status, delivery (UID,
 * MODSEQ, stable ids, quota), message lists, flag changes and expunge.
 * Every change bumps the mailbox's HIGHESTMODSEQ and is recorded in the
 * change log for CONDSTORE/QRESYNC and JMAP.
 */
#include "store/store-sqlite-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/mem.h"

#define MAILBOX_COLUMNS \
	"SELECT id, account_id, name, role, uidvalidity, uidnext," \
	" highestmodseq, subscribed, jmap_id, created FROM mailboxes "

static enum store_role
role_parse(const char *s)
{
	if (s == NULL)
		return STORE_ROLE_NONE;
	for (int r = STORE_ROLE_INBOX; r < STORE_ROLE_COUNT; r++)
		if (strcmp(s, store_role_name((enum store_role)r)) == 0)
			return (enum store_role)r;
	return STORE_ROLE_NONE;
}

static void
mailbox_from_row(sqlite3_stmt *stmt, struct store_mailbox *b)
{
	const unsigned char *jid;

	b->id = sqlite3_column_int64(stmt, 0);
	b->account_id = sqlite3_column_int64(stmt, 1);
	b->name = sqlite_col_strdup(stmt, 2);
	b->role = role_parse((const char *)sqlite3_column_text(stmt, 3));
	b->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 4);
	b->uidnext = (uint32_t)sqlite3_column_int64(stmt, 5);
	b->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 6);
	b->subscribed = sqlite3_column_int(stmt, 7) != 0;
	jid = sqlite3_column_text(stmt, 8);
	snprintf(b->jmap_id, sizeof(b->jmap_id), "%s",
		 jid != NULL ? (const char *)jid : "");
	b->created = sqlite3_column_int64(stmt, 9);
}

enum store_result
sqlite_mailbox_list(struct store *store, int64_t account_id,
		    struct store_mailbox **boxes_r, size_t *count_r,
		    const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	struct store_mailbox *v = NULL;
	size_t n = 0, cap = 0;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	if (sqlite_prep(db, &stmt, MAILBOX_COLUMNS "WHERE account_id = ?"
			" ORDER BY name", "i", account_id) != SQLITE_OK) {
		r = sqlite_fail(db, "mailbox list", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		mailbox_from_row(stmt, &v[n++]);
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "mailbox list", error_r);
		store_mailboxes_free(&v, n);
		n = 0;
	}
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	*boxes_r = v;
	*count_r = n;
	return r;
}

static bool
name_is_inbox(const char *name)
{
	return name == NULL || strcasecmp(name, "INBOX") == 0;
}

enum store_result
sqlite_mailbox_lookup(struct store *store, int64_t account_id,
		      const char *name, enum store_role role,
		      struct store_mailbox **box_r, const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	enum store_result r;
	bool cached;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	/* RFC 9051 5.1: INBOX is case-insensitive, other names are not.
	 * Cached: IMAP looks a mailbox up for every SELECT and APPEND. */
	if (name != NULL && !name_is_inbox(name))
		rc = sqlite_prep_cached(db, &stmt, &cached, MAILBOX_COLUMNS
					"WHERE account_id = ? AND name = ?",
					"it", account_id, name);
	else
		rc = sqlite_prep_cached(db, &stmt, &cached, MAILBOX_COLUMNS
					"WHERE account_id = ? AND role = ?",
					"it", account_id,
					store_role_name(name != NULL ?
							STORE_ROLE_INBOX :
							role));
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "mailbox lookup", error_r);
	} else {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			*box_r = xcalloc(1, sizeof(**box_r));
			mailbox_from_row(stmt, *box_r);
		} else if (rc == SQLITE_DONE) {
			r = store_error(error_r, STORE_E_NOT_FOUND,
					"mailbox %s does not exist",
					name != NULL ? name :
					store_role_name(role));
		} else {
			r = sqlite_fail(db, "mailbox lookup", error_r);
		}
		sqlite_stmt_done(stmt, cached);
	}
	sqlite_reader_put(store, db);
	return r;
}

enum store_result
sqlite_mailbox_status(struct store *store, int64_t mailbox_id,
		      struct store_mailbox_status *st, const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt = NULL;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	/* One read transaction so both queries see the same snapshot. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		r = sqlite_fail(db, "status", error_r);
		goto out;
	}
	rc = sqlite_prep(db, &stmt, "SELECT uidvalidity, uidnext,"
			 " highestmodseq, jmap_id FROM mailboxes WHERE id = ?",
			 "i",
			 mailbox_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = store_error(error_r, STORE_E_NOT_FOUND,
				"mailbox %lld does not exist",
				(long long)mailbox_id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = sqlite_fail(db, "status", error_r);
		goto out;
	}
	st->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 0);
	st->uidnext = (uint32_t)sqlite3_column_int64(stmt, 1);
	st->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 2);
	snprintf(st->mailbox_id, sizeof(st->mailbox_id), "%s",
		 sqlite3_column_text(stmt, 3) != NULL ?
		 (const char *)sqlite3_column_text(stmt, 3) : "");
	sqlite3_finalize(stmt);
	rc = sqlite_prep(db, &stmt, "SELECT count(*),"
			 " coalesce(sum((flags & 1) = 0), 0),"
			 " coalesce(sum(size), 0),"
			 " coalesce(sum((flags & 8) != 0), 0),"
			 " coalesce(sum(CASE WHEN flags & 8 THEN size"
			 " ELSE 0 END), 0)"
			 " FROM messages WHERE mailbox_id = ?", "i",
			 mailbox_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = sqlite_fail(db, "status", error_r);
		goto out;
	}
	st->messages = (uint32_t)sqlite3_column_int64(stmt, 0);
	st->unseen = (uint32_t)sqlite3_column_int64(stmt, 1);
	st->size = (uint64_t)sqlite3_column_int64(stmt, 2);
	st->deleted = (uint32_t)sqlite3_column_int64(stmt, 3);
	st->deleted_size = (uint64_t)sqlite3_column_int64(stmt, 4);
out:
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	return r;
}

/* ---- delivery ---- */

struct deliver_ctx {
	const char *blob_id;	/* for targets without their own */
	uint64_t size;
	int64_t internal_date;
	struct store_target *targets;
	size_t count;
	struct store_queue_msg *queue;	/* or NULL */
	struct store_queue_notified *notified;	/* or NULL */
	bool notified_exists;
	struct store *store;
	size_t failed;
};

static enum store_result
target_mailbox(sqlite3 *db, struct store_target *t, int64_t *uidnext_r,
	       int64_t *hms_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	bool cached;
	int rc;

	if (t->mailbox_id != 0)
		rc = sqlite_prep_cached(db, &stmt, &cached,
					"SELECT id, uidnext, highestmodseq,"
					" uidvalidity"
					" FROM mailboxes WHERE id = ? AND"
					" account_id = ?", "ii", t->mailbox_id,
					t->account_id);
	else if (name_is_inbox(t->mailbox_name))
		rc = sqlite_prep_cached(db, &stmt, &cached,
					"SELECT id, uidnext, highestmodseq,"
					" uidvalidity"
					" FROM mailboxes WHERE account_id = ?"
					" AND role = 'inbox'", "i",
					t->account_id);
	else
		rc = sqlite_prep_cached(db, &stmt, &cached,
					"SELECT id, uidnext, highestmodseq,"
					" uidvalidity"
					" FROM mailboxes WHERE account_id = ?"
					" AND name = ?", "it", t->account_id,
					t->mailbox_name);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "mailbox lookup", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		t->mailbox_id = sqlite3_column_int64(stmt, 0);
		*uidnext_r = sqlite3_column_int64(stmt, 1);
		*hms_r = sqlite3_column_int64(stmt, 2);
		t->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 3);
	}
	sqlite_stmt_done(stmt, cached);
	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "mailbox %s of account %lld does not exist",
				   t->mailbox_name != NULL ? t->mailbox_name :
				   "INBOX", (long long)t->account_id);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox lookup", error_r);
	return STORE_OK;
}

int
sqlite_email_change_log(sqlite3 *db, int64_t account_id, int64_t mailbox_id,
		 int64_t modseq, int64_t message_id, int64_t uid,
		 const char *change, int64_t now)
{
	return sqlite_exec(db, "INSERT INTO changes (account_id, mailbox_id,"
			   " modseq, kind, object_id, uid, change, at)"
			   " VALUES (?, ?, ?, 'email', ?, ?, ?, ?)", "iiiiiti",
			   account_id, mailbox_id, modseq, message_id, uid,
			   change, now);
}

/* Where a target goes, found before anything is written. */
struct deliver_plan {
	int64_t uidnext;
	int64_t hms;
	int64_t blob_rid;	/* 0: the body is a file */
};

static const char *
target_blob(const struct deliver_ctx *c, const struct store_target *t)
{
	return t->blob_id != NULL ? t->blob_id : c->blob_id;
}

static uint64_t
target_size(const struct deliver_ctx *c, const struct store_target *t)
{
	return t->blob_id != NULL ? t->size : c->size;
}

/* Everything that can refuse target i, before the op writes anything (it
 * runs without a savepoint: store-private.h no_savepoint): the blob is
 * stored, the account and mailbox exist, UIDs are left, and the account's
 * quota (bytes and message count) holds this copy on top of the op's
 * earlier copies for it. */
static enum store_result
deliver_check(sqlite3 *db, struct deliver_ctx *c, size_t i,
	      struct deliver_plan *plan, const char **error_r)
{
	struct store_target *t = &c->targets[i];
	int64_t quota = 0, used = 0, size = (int64_t)target_size(c, t);
	int64_t quota_msgs = 0, used_msgs = 0;
	enum store_result r;
	sqlite3_stmt *stmt;
	bool cached;
	int rc;

	/* Nothing may reference a blob that is not stored. */
	r = sqlite_blob_ref(c->store, db, target_blob(c, t), &plan->blob_rid,
			    error_r);
	if (r != STORE_OK)
		return r;
	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT quota_bytes,"
				" used_bytes, quota_messages, used_messages"
				" FROM accounts WHERE id = ?", "i",
				t->account_id);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "account lookup", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		quota = sqlite3_column_int64(stmt, 0);
		used = sqlite3_column_int64(stmt, 1);
		quota_msgs = sqlite3_column_int64(stmt, 2);
		used_msgs = sqlite3_column_int64(stmt, 3);
	}
	sqlite_stmt_done(stmt, cached);
	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "account %lld does not exist",
				   (long long)t->account_id);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "account lookup", error_r);
	for (size_t j = 0; j < i; j++) {
		if (c->targets[j].account_id == t->account_id) {
			used += (int64_t)target_size(c, &c->targets[j]);
			used_msgs++;
		}
	}
	if (quota > 0 && used + size > quota)
		return store_error(error_r, STORE_E_OVER_QUOTA,
				   "account %lld is over quota (%lld of %lld"
				   " bytes)", (long long)t->account_id,
				   (long long)(used + size), (long long)quota);
	if (quota_msgs > 0 && used_msgs + 1 > quota_msgs)
		return store_error(error_r, STORE_E_OVER_QUOTA,
				   "account %lld is over quota (%lld of %lld"
				   " messages)", (long long)t->account_id,
				   (long long)(used_msgs + 1),
				   (long long)quota_msgs);
	r = target_mailbox(db, t, &plan->uidnext, &plan->hms, error_r);
	if (r != STORE_OK)
		return r;
	/* Earlier copies into the same mailbox take the UIDs before. */
	for (size_t j = 0; j < i; j++) {
		if (c->targets[j].mailbox_id == t->mailbox_id) {
			plan->uidnext++;
			plan->hms++;
		}
	}
	/* RFC 9051 2.3.1.1: UIDs are 32-bit; a full mailbox needs a new
	 * UIDVALIDITY, which is an administrative act, not a delivery. */
	if (plan->uidnext >= (int64_t)UINT32_MAX)
		return store_error(error_r, STORE_E_TEMP,
				   "mailbox %lld has run out of UIDs",
				   (long long)t->mailbox_id);
	return STORE_OK;
}

/* 64-bit FNV-1a of s, as SQLite's signed integer: thread_msgids keys.
 * A collision could only put a message in a thread of its own account
 * whose base subject hashes the same too. */
static int64_t
thread_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (int64_t)h;
}

/* Ids looked up per statement: one cached statement whatever a
 * message's count; the unused places repeat the chunk's first id. */
#define THREAD_LOOKUP_CHUNK 8

/* What one message's ids found (thread_find). */
struct thread_links {
	size_t n;		/* ids: the references, then the Message-ID */
	int64_t *hash;		/* [n] thread_hash() of each */
	bool *found;		/* [n] mapped already (no insert) */
	int64_t *roots;		/* distinct threads found, continued_in
				 * followed; at most n */
	size_t n_roots;
	int64_t joined;		/* the oldest of roots, 0: none */
};

static void
thread_links_init(struct thread_links *l, const struct store_target *t)
{
	size_t cap = t->n_thread_refs + 1;

	memset(l, 0, sizeof(*l));
	l->hash = xcalloc(cap, sizeof(*l->hash));
	l->roots = xcalloc(cap, sizeof(*l->roots));
	l->found = xcalloc(cap, sizeof(*l->found));
	for (size_t k = 0; k < cap; k++) {
		const char *id = k < t->n_thread_refs ? t->thread_refs[k] :
				 t->thread_msgid;

		if (id != NULL)
			l->hash[l->n++] = thread_hash(id);
	}
}

static void
thread_links_deinit(struct thread_links *l)
{
	free(l->hash);
	free(l->roots);
	free(l->found);
}

/* Looks up every id of the message (not only until one is found: a
 * message that links two threads must be seen to do so) under its
 * subject, in chunks of THREAD_LOOKUP_CHUNK indexed probes. A thread
 * continued in another counts as that one: continued_in is one hop. */
static enum store_result
thread_find(sqlite3 *db, int64_t account_id, int64_t subject,
	    struct thread_links *l, const char **error_r)
{
	for (size_t base = 0; base < l->n; base += THREAD_LOOKUP_CHUNK) {
		size_t end = base + THREAD_LOOKUP_CHUNK < l->n ?
			     base + THREAD_LOOKUP_CHUNK : l->n;
		int64_t h[THREAD_LOOKUP_CHUNK];
		sqlite3_stmt *stmt;
		bool cached;
		int rc;

		for (size_t i = 0; i < THREAD_LOOKUP_CHUNK; i++)
			h[i] = l->hash[base + i < end ? base + i : base];
		rc = sqlite_prep_cached(db, &stmt, &cached,
					"SELECT m.msgid_hash,"
					" coalesce(t.continued_in, t.id)"
					" FROM thread_msgids m JOIN threads t"
					" ON t.id = m.thread_id"
					" WHERE m.account_id = ? AND"
					" m.subject_hash = ? AND m.msgid_hash"
					" IN (?, ?, ?, ?, ?, ?, ?, ?)",
					"iiiiiiiiii", account_id, subject,
					h[0], h[1], h[2], h[3], h[4], h[5],
					h[6], h[7]);
		if (rc != SQLITE_OK)
			return sqlite_fail(db, "thread lookup", error_r);
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			int64_t mh = sqlite3_column_int64(stmt, 0);
			int64_t root = sqlite3_column_int64(stmt, 1);
			size_t r;

			for (size_t k = base; k < end; k++)
				if (l->hash[k] == mh)
					l->found[k] = true;
			for (r = 0; r < l->n_roots; r++)
				if (l->roots[r] == root)
					break;
			if (r == l->n_roots && l->n_roots < l->n)
				l->roots[l->n_roots++] = root;
		}
		sqlite_stmt_done(stmt, cached);
		if (rc != SQLITE_DONE)
			return sqlite_fail(db, "thread lookup", error_r);
	}
	/* the oldest: ids grow with creation (AUTOINCREMENT), so the
	 * choice depends on the threads, not on the order of the ids */
	for (size_t r = 0; r < l->n_roots; r++)
		if (l->joined == 0 || l->roots[r] < l->joined)
			l->joined = l->roots[r];
	return STORE_OK;
}

/* The message links its thread l->joined with the other threads it
 * found: each is continued in l->joined (and so is every thread that
 * was continued in it), so later messages that find any of them join
 * l->joined. No message changes thread (RFC 8474 5.2, RFC 8621 4.1.1):
 * nothing for CONDSTORE or JMAP changes to report. */
static enum store_result
thread_link(sqlite3 *db, int64_t account_id, const struct thread_links *l,
	    const char **error_r)
{
	for (size_t r = 0; r < l->n_roots; r++) {
		if (l->roots[r] == l->joined)
			continue;
		if (sqlite_exec(db, "UPDATE threads SET continued_in = ?"
				" WHERE continued_in = ? AND account_id = ?",
				"iii", l->joined, l->roots[r], account_id) !=
		    SQLITE_OK ||
		    sqlite_exec(db, "UPDATE threads SET continued_in = ?"
				" WHERE id = ? AND account_id = ?", "iii",
				l->joined, l->roots[r], account_id) !=
		    SQLITE_OK)
			return sqlite_fail(db, "thread link", error_r);
	}
	return STORE_OK;
}

/* Maps the message's ids not mapped yet to its thread, for later
 * messages; an id already mapped keeps its first thread (which leads to
 * this one if it was linked). */
static enum store_result
thread_ids_add(sqlite3 *db, int64_t account_id, int64_t subject,
	       int64_t thread, const struct thread_links *l,
	       const char **error_r)
{
	for (size_t k = 0; k < l->n; k++) {
		if (l->found[k])
			continue;
		if (sqlite_exec(db, "INSERT OR IGNORE INTO thread_msgids"
				" (account_id, msgid_hash, subject_hash,"
				" thread_id) VALUES (?, ?, ?, ?)", "iiii",
				account_id, l->hash[k], subject, thread) !=
		    SQLITE_OK)
			return sqlite_fail(db, "thread id insert", error_r);
	}
	return STORE_OK;
}

/* Threads target t (docs/store.md "Threads"): *thread_r is the oldest
 * thread of the account that one of its ids (references or Message-ID)
 * maps to under its base subject, else a new one; the others found are
 * continued in it, and its ids not mapped yet map to it. No subject: a
 * thread of its own, no ids mapped. */
static enum store_result
thread_choose(sqlite3 *db, const struct store_target *t, int64_t now,
	      int64_t *thread_r, const char **error_r)
{
	struct thread_links l = { 0 };
	int64_t subject = 0;
	enum store_result r = STORE_OK;

	*thread_r = 0;
	if (t->thread_subject != NULL) {
		subject = thread_hash(t->thread_subject);
		thread_links_init(&l, t);
		r = thread_find(db, t->account_id, subject, &l, error_r);
		if (r == STORE_OK)
			r = thread_link(db, t->account_id, &l, error_r);
		*thread_r = l.joined;
	}
	if (r == STORE_OK && *thread_r == 0) {
		char tid[STORE_ID_SIZE];

		store_new_stable_id('t', tid);
		if (sqlite_exec(db, "INSERT INTO threads (account_id, jmap_id,"
				" created) VALUES (?, ?, ?)", "iti",
				t->account_id, tid, now) != SQLITE_OK)
			r = sqlite_fail(db, "thread insert", error_r);
		else
			*thread_r = sqlite3_last_insert_rowid(db);
	}
	if (t->thread_subject != NULL) {
		if (r == STORE_OK)
			r = thread_ids_add(db, t->account_id, subject,
					   *thread_r, &l, error_r);
		thread_links_deinit(&l);
	}
	return r;
}

static enum store_result
deliver_write(sqlite3 *db, struct deliver_ctx *c, size_t i,
	      const struct deliver_plan *plan, int64_t *threads, int64_t now,
	      const char **error_r)
{
	struct store_target *t = &c->targets[i];
	const char *blob_id = target_blob(c, t);
	int64_t size = (int64_t)target_size(c, t);
	int64_t uidnext = plan->uidnext, hms = plan->hms;
	size_t j;

	/* Copies of one blob for one account share the email and thread
	 * ids (JMAP); a different blob is a different email. */
	for (j = 0; j < i; j++) {
		const struct store_target *o = &c->targets[j];

		if (o->account_id == t->account_id &&
		    strcmp(target_blob(c, o), blob_id) == 0)
			break;
	}
	if (j < i) {
		memcpy(t->email_id, c->targets[j].email_id,
		       sizeof(t->email_id));
		threads[i] = threads[j];
	} else {
		enum store_result r;

		store_new_stable_id('e', t->email_id);
		r = thread_choose(db, t, now, &threads[i], error_r);
		if (r != STORE_OK)
			return r;
	}
	t->uid = (uint32_t)uidnext;
	t->modseq = (uint64_t)hms + 1;
	if (sqlite_exec(db, "UPDATE mailboxes SET uidnext = ?,"
			" highestmodseq = ? WHERE id = ?", "iii", uidnext + 1,
			hms + 1, t->mailbox_id) != SQLITE_OK ||
	    sqlite_exec(db, "INSERT INTO messages (mailbox_id, account_id,"
			" uid, modseq, flags, internal_date, saved_date, size,"
			" blob_id, blob_rid, thread_id, email_id)"
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?, ?)",
			"iiiiiiiitiit", t->mailbox_id, t->account_id, uidnext,
			hms + 1, (int64_t)(t->flags & STORE_FLAGS_ALL),
			t->internal_date != 0 ? t->internal_date :
			c->internal_date != 0 ? c->internal_date : now, now,
			size, blob_id, plan->blob_rid, threads[i],
			t->email_id) != SQLITE_OK)
		return sqlite_fail(db, "message insert", error_r);
	t->message_id = sqlite3_last_insert_rowid(db);
	if (t->n_keywords > 0) {
		enum store_result r = sqlite_keywords_add(db, t->mailbox_id,
							  t->message_id,
							  t->keywords,
							  t->n_keywords,
							  t->keywords_max,
							  error_r);
		if (r != STORE_OK)
			return r;
	}
	if (sqlite_email_change_log(db, t->account_id, t->mailbox_id, hms + 1,
			     t->message_id, uidnext, "created",
			     now) != SQLITE_OK ||
	    sqlite_exec(db, "UPDATE accounts SET used_bytes = used_bytes + ?,"
			" used_messages = used_messages + 1 WHERE id = ?",
			"ii", size, t->account_id) != SQLITE_OK)
		return sqlite_fail(db, "usage update", error_r);
	return STORE_OK;
}

struct uid_ctx {
	int64_t mailbox_id;
	const uint32_t *uids;
	size_t count;
	bool only_deleted;
	uint32_t *expunged;	/* count entries, or NULL */
	size_t changed;
};

static enum store_result run_expunge(struct store *store, void *ctx,
				     const char **error_r);

/* REPLACE: the target's old message goes in the same op (after the new
 * one is in, so the new one's modseq is below the expunge's). */
static enum store_result
deliver_replace(struct store *store, struct store_target *t,
		const char **error_r)
{
	struct uid_ctx u;
	enum store_result r;

	t->replaced = false;
	if (t->replace_mailbox_id == 0 || t->replace_uid == 0)
		return STORE_OK;
	u = (struct uid_ctx){ .mailbox_id = t->replace_mailbox_id,
			      .uids = &t->replace_uid, .count = 1 };
	r = run_expunge(store, &u, error_r);
	t->replaced = r == STORE_OK && u.changed > 0;
	return r;
}

/* Runs without a savepoint (STORE_OP_NO_SAVEPOINT): every check, for all
 * targets and the queue entry, comes before the first write, so a refusal
 * (quota, a missing account, mailbox or blob) leaves nothing to undo and a
 * message is never half-delivered; a database error while writing fails
 * the whole batch (store-commit.c). The exception is a target with
 * keywords (IMAP APPEND): the keyword limit is met while writing, so such
 * an op gets a savepoint (deliver_op_flags). */
static enum store_result
run_deliver(struct store *store, void *ctx, const char **error_r)
{
	struct deliver_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	size_t n = c->count > 0 ? c->count : 1;
	int64_t *threads = xcalloc(n, sizeof(*threads));
	struct deliver_plan *plans = xcalloc(n, sizeof(*plans));
	int64_t now = (int64_t)time(NULL);
	enum store_result r = STORE_OK;

	c->store = store;
	for (size_t i = 0; i < c->count && r == STORE_OK; i++) {
		r = deliver_check(db, c, i, &plans[i], error_r);
		if (r != STORE_OK)
			c->failed = i;
	}
	if (r == STORE_OK && c->queue != NULL) {
		r = sqlite_blob_check_ref(store, db, c->queue->blob_id,
					  error_r);
		if (r != STORE_OK)
			c->failed = c->count;
	}
	if (r == STORE_OK && c->notified != NULL) {
		/* a check, so before the first write (no savepoint) */
		r = sqlite_queue_entry_exists(db, c->notified->id, error_r);
		c->notified_exists = r == STORE_OK;
		if (r == STORE_E_NOT_FOUND)
			r = STORE_OK;
		else if (r != STORE_OK)
			c->failed = c->count;
	}
	for (size_t i = 0; i < c->count && r == STORE_OK; i++) {
		r = deliver_write(db, c, i, &plans[i], threads, now, error_r);
		if (r != STORE_OK)
			c->failed = i;
	}
	for (size_t i = 0; i < c->count && r == STORE_OK; i++) {
		r = deliver_replace(store, &c->targets[i], error_r);
		if (r != STORE_OK)
			c->failed = i;
	}
	if (r == STORE_OK && c->queue != NULL) {
		r = sqlite_queue_insert_in(store, db, c->queue, error_r);
		if (r != STORE_OK)
			c->failed = c->count;
	}
	if (r == STORE_OK && c->notified_exists) {
		r = sqlite_queue_notified_in(db, c->notified, error_r);
		if (r != STORE_OK)
			c->failed = c->count;
	}
	free(plans);
	free(threads);
	return r;
}

static unsigned
deliver_op_flags(const struct store_target *targets, size_t count)
{
	/* keywords and REPLACE's expunge can refuse after the first write
	 * (the keyword limit, a mailbox deleted meanwhile) */
	for (size_t i = 0; i < count; i++)
		if (targets[i].n_keywords > 0 ||
		    targets[i].replace_mailbox_id != 0)
			return STORE_OP_RERUN;
	return STORE_OP_NO_SAVEPOINT | STORE_OP_RERUN;
}

enum store_result
sqlite_deliver(struct store *store, const char *blob_id, uint64_t size,
	       int64_t internal_date, struct store_target *targets,
	       size_t count, struct store_queue_msg *queue,
	       struct store_queue_notified *notified, size_t *failed_r,
	       const char **error_r)
{
	struct deliver_ctx c = {
		.blob_id = blob_id, .size = size,
		.internal_date = internal_date, .targets = targets,
		.count = count, .queue = queue, .notified = notified,
		/* a failure that is no part's own (the commit) */
		.failed = queue != NULL ? count : 0,
	};
	enum store_result r = store_commit_run_flags(store, run_deliver, &c,
						     deliver_op_flags(targets,
								      count),
						     error_r);

	if (failed_r != NULL)
		*failed_r = c.failed;
	return r;
}

struct deliver_async {
	struct deliver_ctx c;
	store_deliver_cb_t *cb;
	void *cb_ctx;
};

static void
deliver_async_done(struct store *store, void *ctx, enum store_result result,
		   const char *error)
{
	struct deliver_async *a = ctx;

	if (result == STORE_OK && a->c.count > 0)
		store_search_kick(store);
	a->cb(a->cb_ctx, result, a->c.failed, error);
	free(a);
}

enum store_result
sqlite_deliver_async(struct store *store, int64_t internal_date,
		     struct store_target *targets, size_t count,
		     struct store_queue_msg *queue, store_deliver_cb_t *cb,
		     void *cb_ctx, const char **error_r)
{
	struct deliver_async *a = xcalloc(1, sizeof(*a));
	enum store_result r;

	a->c = (struct deliver_ctx){
		.internal_date = internal_date, .targets = targets,
		.count = count, .queue = queue,
		.failed = queue != NULL ? count : 0,
	};
	a->cb = cb;
	a->cb_ctx = cb_ctx;
	r = store_commit_submit_flags(store, run_deliver, &a->c,
				      deliver_async_done,
				      deliver_op_flags(targets, count),
				      error_r);
	if (r != STORE_OK)
		free(a);
	return r;
}

/* ---- message list ---- */

void
sqlite_message_from_row(sqlite3_stmt *stmt, int col, struct store_message *m)
{
	const unsigned char *t;

	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(stmt, col);
	m->uid = (uint32_t)sqlite3_column_int64(stmt, col + 1);
	m->modseq = (uint64_t)sqlite3_column_int64(stmt, col + 2);
	m->flags = (uint32_t)sqlite3_column_int64(stmt, col + 3);
	m->internal_date = sqlite3_column_int64(stmt, col + 4);
	m->saved_date = sqlite3_column_int64(stmt, col + 5);
	m->size = (uint64_t)sqlite3_column_int64(stmt, col + 6);
	m->thread_id = sqlite3_column_int64(stmt, col + 7);
	t = sqlite3_column_text(stmt, col + 8);
	snprintf(m->blob_id, sizeof(m->blob_id), "%s",
		 t != NULL ? (const char *)t : "");
	t = sqlite3_column_text(stmt, col + 9);
	snprintf(m->email_id, sizeof(m->email_id), "%s",
		 t != NULL ? (const char *)t : "");
}

enum store_result
sqlite_message_list(struct store *store, int64_t mailbox_id,
		    struct store_message **msgs_r, size_t *count_r,
		    struct store_keywords *kw_r, const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt = NULL;
	struct store_message *v = NULL;
	size_t n = 0, cap = 0;
	int64_t exists = 0, total = 0;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite_int(db, &exists, "SELECT count(*) FROM mailboxes"
		       " WHERE id = ?", "i", mailbox_id) != SQLITE_ROW) {
		r = sqlite_fail(db, "message list", error_r);
		goto out;
	}
	if (exists == 0) {
		r = store_error(error_r, STORE_E_NOT_FOUND,
				"mailbox %lld does not exist",
				(long long)mailbox_id);
		goto out;
	}
	/* Sized once (same snapshot): the doubling left blocks of a few
	 * hundred KiB behind in the malloc arena of each pool thread that
	 * listed a big mailbox (the final one is mmapped and returned). */
	if (sqlite_int(db, &total, "SELECT count(*) FROM messages"
		       " WHERE mailbox_id = ?", "i", mailbox_id) != SQLITE_ROW) {
		r = sqlite_fail(db, "message list", error_r);
		goto out;
	}
	if (total > 0) {
		cap = (size_t)total;
		v = xreallocarray(NULL, cap, sizeof(*v));
	}
	if (sqlite_prep(db, &stmt, "SELECT " SQLITE_MESSAGE_COLUMNS("")
			" FROM messages WHERE mailbox_id = ?"
			" ORDER BY uid", "i", mailbox_id) != SQLITE_OK) {
		r = sqlite_fail(db, "message list", error_r);
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_message *m;

		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		m = &v[n++];
		sqlite_message_from_row(stmt, 0, m);
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "message list", error_r);
		free(v);
		v = NULL;
		n = 0;
	}
	/* In the same read transaction: the same snapshot. */
	if (r == STORE_OK && kw_r != NULL) {
		r = sqlite_message_keywords_read(db, mailbox_id, v, n, kw_r,
						 error_r);
		if (r != STORE_OK) {
			store_keywords_deinit(kw_r);
			free(v);
			v = NULL;
			n = 0;
		}
	}
out:
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	*msgs_r = v;
	*count_r = n;
	return r;
}

/* ---- object ids (RFC 8474) ---- */

static void
ids_from_row(sqlite3_stmt *stmt, struct store_message_ids *id)
{
	const unsigned char *t;

	id->uid = (uint32_t)sqlite3_column_int64(stmt, 0);
	t = sqlite3_column_text(stmt, 1);
	snprintf(id->email_id, sizeof(id->email_id), "%s",
		 t != NULL ? (const char *)t : "");
	t = sqlite3_column_text(stmt, 2);
	snprintf(id->thread_id, sizeof(id->thread_id), "%s",
		 t != NULL ? (const char *)t : "");
}

static bool
uid_wanted(const uint32_t *uids, size_t count, uint32_t uid)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (uids[mid] == uid)
			return true;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

#define IDS_SELECT "SELECT m.uid, m.email_id, t.jmap_id FROM messages m" \
	" LEFT JOIN threads t ON t.id = m.thread_id WHERE m.mailbox_id = ?"

enum store_result
sqlite_message_ids(struct store *store, int64_t mailbox_id,
		   const uint32_t *uids, size_t count,
		   struct store_message_ids **ids_r, size_t *count_r,
		   const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt = NULL;
	struct store_message_ids *v = NULL;
	size_t n = 0, cap = 0;
	int64_t exists = 0;
	enum store_result r;
	int rc = SQLITE_DONE;
	/* a few UIDs are looked up one by one, more in one pass over the
	 * mailbox */
	bool each = uids != NULL && count <= 64;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite_int(db, &exists, "SELECT count(*) FROM mailboxes"
		       " WHERE id = ?", "i", mailbox_id) != SQLITE_ROW) {
		r = sqlite_fail(db, "message ids", error_r);
		goto out;
	}
	if (exists == 0) {
		r = store_error(error_r, STORE_E_NOT_FOUND,
				"mailbox %lld does not exist",
				(long long)mailbox_id);
		goto out;
	}
	if (sqlite_prep(db, &stmt, each ? IDS_SELECT " AND m.uid = ?" :
			IDS_SELECT " ORDER BY m.uid", "i", mailbox_id) !=
	    SQLITE_OK) {
		r = sqlite_fail(db, "message ids", error_r);
		goto out;
	}
	for (size_t i = 0; each ? i < count : i == 0; i++) {
		if (each) {
			sqlite3_reset(stmt);
			sqlite3_bind_int64(stmt, 2, uids[i]);
		}
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			uint32_t uid = (uint32_t)sqlite3_column_int64(stmt, 0);

			if (!each && uids != NULL &&
			    !uid_wanted(uids, count, uid))
				continue;
			if (n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			ids_from_row(stmt, &v[n++]);
		}
		if (rc != SQLITE_DONE)
			break;
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "message ids", error_r);
		free(v);
		v = NULL;
		n = 0;
	}
out:
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	*ids_r = v;
	*count_r = n;
	return r;
}

/* ---- flags and expunge ---- */

enum store_result
sqlite_mailbox_modseq(sqlite3 *db, int64_t mailbox_id, int64_t *account_r,
	       int64_t *hms_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite_prep(db, &stmt, "SELECT account_id, highestmodseq"
			" FROM mailboxes WHERE id = ?", "i", mailbox_id) !=
	    SQLITE_OK)
		return sqlite_fail(db, "mailbox lookup", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*account_r = sqlite3_column_int64(stmt, 0);
		*hms_r = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "mailbox %lld does not exist",
				   (long long)mailbox_id);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox lookup", error_r);
	return STORE_OK;
}

static enum store_result
run_expunge(struct store *store, void *ctx, const char **error_r)
{
	struct uid_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t account = 0, hms = 0, bytes = 0, now = (int64_t)time(NULL);
	enum store_result r;
	sqlite3_stmt *stmt;

	c->changed = 0;
	r = sqlite_mailbox_modseq(db, c->mailbox_id, &account, &hms, error_r);
	if (r != STORE_OK)
		return r;
	for (size_t i = 0; i < c->count; i++) {
		int64_t msg_id = 0;
		/* \Deleted is bit 3 (migration 1). */
		int rc = sqlite_prep(db, &stmt, "DELETE FROM messages"
				     " WHERE mailbox_id = ? AND uid = ?"
				     " AND (flags & ?) = ?"
				     " RETURNING id, size", "iiii",
				     c->mailbox_id, (int64_t)c->uids[i],
				     (int64_t)(c->only_deleted ?
					       STORE_FLAG_DELETED : 0),
				     (int64_t)(c->only_deleted ?
					       STORE_FLAG_DELETED : 0));

		if (rc != SQLITE_OK)
			return sqlite_fail(db, "expunge", error_r);
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			msg_id = sqlite3_column_int64(stmt, 0);
			bytes += sqlite3_column_int64(stmt, 1);
			rc = sqlite3_step(stmt);
		}
		sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE)
			return sqlite_fail(db, "expunge", error_r);
		if (msg_id == 0)
			continue;
		if (c->expunged != NULL)
			c->expunged[c->changed] = c->uids[i];
		c->changed++;
		if (sqlite_email_change_log(db, account, c->mailbox_id, hms + 1,
				     msg_id, (int64_t)c->uids[i], "destroyed",
				     now) != SQLITE_OK)
			return sqlite_fail(db, "change log", error_r);
	}
	if (c->changed == 0)
		return STORE_OK;
	if (sqlite_exec(db, "UPDATE mailboxes SET highestmodseq = ?"
			" WHERE id = ?", "ii", hms + 1, c->mailbox_id) !=
	    SQLITE_OK ||
	    sqlite_exec(db, "UPDATE accounts SET"
			" used_bytes = max(0, used_bytes - ?),"
			" used_messages = max(0, used_messages - ?)"
			" WHERE id = ?", "iii", bytes, (int64_t)c->changed,
			account) != SQLITE_OK)
		return sqlite_fail(db, "expunge update", error_r);
	return STORE_OK;
}

enum store_result
sqlite_expunge(struct store *store, int64_t mailbox_id, const uint32_t *uids,
	       size_t count, bool only_deleted, uint32_t **expunged_r,
	       size_t *expunged_count_r, const char **error_r)
{
	struct uid_ctx c = { .mailbox_id = mailbox_id, .uids = uids,
			     .count = count, .only_deleted = only_deleted };
	enum store_result r;

	if (expunged_r != NULL && count > 0)
		c.expunged = xcalloc(count, sizeof(*c.expunged));
	r = store_commit_run_flags(store, run_expunge, &c, STORE_OP_RERUN,
				   error_r);
	if (r != STORE_OK || c.changed == 0) {
		free(c.expunged);
		c.expunged = NULL;
		c.changed = 0;
	}
	if (expunged_r != NULL)
		*expunged_r = c.expunged;
	*expunged_count_r = c.changed;
	return r;
}
