/* SPDX-License-Identifier: MIT */
/*
 * Flags and keywords on SQLite: each mailbox's list of keywords
 * (mailbox_keywords, one spelling per keyword, compared case-insensitively)
 * and the keywords of each message (keywords); the STORE operation that
 * changes both in one modseq, and the keywords read with a message list.
 */
#include "store/store-sqlite-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/mem.h"

/* A small set of keyword strings (a message's, or a change's). */
struct kw_set {
	char **v;
	size_t n, cap;
};

static void
kw_set_clear(struct kw_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

static void
kw_set_deinit(struct kw_set *s)
{
	kw_set_clear(s);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool
kw_set_has(const struct kw_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcasecmp(s->v[i], name) == 0)
			return true;
	return false;
}

/* Adds a copy of name unless the set has it. */
static void
kw_set_add(struct kw_set *s, const char *name)
{
	if (kw_set_has(s, name))
		return;
	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 8 : s->cap * 2;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = xstrdup(name);
}

static bool
kw_set_equal(const struct kw_set *a, const struct kw_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!kw_set_has(b, a->v[i]))
			return false;
	return true;
}

enum store_result
sqlite_keyword_canon(sqlite3 *db, int64_t mailbox_id, const char *name,
		     bool create, size_t max, char **canon_r,
		     const char **error_r)
{
	sqlite3_stmt *stmt;
	bool cached;
	int64_t n = 0;
	int rc;

	*canon_r = NULL;
	/* The column's NOCASE collation applies: "$label1" finds
	 * "$Label1". */
	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT keyword FROM"
				" mailbox_keywords WHERE mailbox_id = ? AND"
				" keyword = ?", "it", mailbox_id, name);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "keyword lookup", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*canon_r = sqlite_col_strdup(stmt, 0);
	sqlite_stmt_done(stmt, cached);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "keyword lookup", error_r);
	if (!create)
		return STORE_OK;
	if (max > 0) {
		if (sqlite_int(db, &n, "SELECT count(*) FROM mailbox_keywords"
			       " WHERE mailbox_id = ?", "i", mailbox_id) !=
		    SQLITE_ROW)
			return sqlite_fail(db, "keyword count", error_r);
		if ((uint64_t)n >= max)
			return store_error(error_r, STORE_E_INVALID,
					   "mailbox has too many keywords"
					   " (at most %zu)", max);
	}
	if (sqlite_exec(db, "INSERT INTO mailbox_keywords (mailbox_id,"
			" keyword) VALUES (?, ?)", "it", mailbox_id, name) !=
	    SQLITE_OK)
		return sqlite_fail(db, "keyword insert", error_r);
	*canon_r = xstrdup(name);
	return STORE_OK;
}

enum store_result
sqlite_keywords_add(sqlite3 *db, int64_t mailbox_id, int64_t message_id,
		    const char *const *names, size_t n, size_t max,
		    const char **error_r)
{
	for (size_t i = 0; i < n; i++) {
		char *canon;
		enum store_result r = sqlite_keyword_canon(db, mailbox_id,
							   names[i], true, max,
							   &canon, error_r);
		int rc;

		if (r != STORE_OK)
			return r;
		rc = sqlite_exec(db, "INSERT OR IGNORE INTO keywords"
				 " (message_id, keyword) VALUES (?, ?)", "it",
				 message_id, canon);
		free(canon);
		if (rc != SQLITE_OK)
			return sqlite_fail(db, "keyword insert", error_r);
	}
	return STORE_OK;
}

/* A message's keywords, as stored (the mailbox's spelling). */
static enum store_result
message_keywords(sqlite3 *db, int64_t message_id, struct kw_set *set,
		 const char **error_r)
{
	sqlite3_stmt *stmt;
	bool cached;
	int rc;

	kw_set_clear(set);
	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT keyword FROM"
				" keywords WHERE message_id = ?", "i",
				message_id);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "keyword read", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		kw_set_add(set, (const char *)sqlite3_column_text(stmt, 0));
	sqlite_stmt_done(stmt, cached);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "keyword read", error_r);
	return STORE_OK;
}

/* The mailbox's keywords in their order (ids grow as they are added). */
static enum store_result
mailbox_keyword_names(sqlite3 *db, int64_t mailbox_id,
		      struct store_keywords *kw, const char **error_r)
{
	sqlite3_stmt *stmt;
	size_t cap = 0;
	bool cached;
	int rc;

	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT keyword FROM"
				" mailbox_keywords WHERE mailbox_id = ?"
				" ORDER BY id", "i", mailbox_id);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "keyword list", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (kw->n_names == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			kw->names = xreallocarray(kw->names, cap,
						  sizeof(*kw->names));
		}
		kw->names[kw->n_names++] = sqlite_col_strdup(stmt, 0);
	}
	sqlite_stmt_done(stmt, cached);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "keyword list", error_r);
	return STORE_OK;
}

/* Index of name in kw->names (case-insensitive), or -1. */
static int64_t
keyword_index(const struct store_keywords *kw, const char *name)
{
	for (size_t i = 0; i < kw->n_names; i++)
		if (strcasecmp(kw->names[i], name) == 0)
			return (int64_t)i;
	return -1;
}

static int
ref_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends one message's references (sorted) to kw->refs. */
static void
refs_append(struct store_keywords *kw, size_t *cap, const struct kw_set *set,
	    uint32_t *first_r, uint32_t *n_r)
{
	size_t first = kw->n_refs;

	for (size_t i = 0; i < set->n; i++) {
		int64_t idx = keyword_index(kw, set->v[i]);

		if (idx < 0)
			continue;
		if (kw->n_refs == *cap) {
			*cap = *cap == 0 ? 64 : *cap * 2;
			kw->refs = xreallocarray(kw->refs, *cap,
						 sizeof(*kw->refs));
		}
		kw->refs[kw->n_refs++] = (uint32_t)idx;
	}
	if (kw->n_refs > first)
		qsort(kw->refs + first, kw->n_refs - first, sizeof(*kw->refs),
		      ref_cmp);
	*first_r = (uint32_t)first;
	*n_r = (uint32_t)(kw->n_refs - first);
}

enum store_result
sqlite_message_keywords_read(sqlite3 *db, int64_t mailbox_id,
			     struct store_message *msgs, size_t count,
			     struct store_keywords *kw, const char **error_r)
{
	sqlite3_stmt *stmt;
	struct kw_set set = { 0 };
	size_t i = 0, cap = 0;
	int64_t cur_uid = -1;
	enum store_result r;
	bool cached;
	int rc;

	r = mailbox_keyword_names(db, mailbox_id, kw, error_r);
	if (r != STORE_OK)
		return r;
	if (kw->n_names == 0)
		return STORE_OK;
	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT m.uid, k.keyword"
				" FROM messages m JOIN keywords k"
				" ON k.message_id = m.id WHERE m.mailbox_id = ?"
				" ORDER BY m.uid", "i", mailbox_id);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "keyword list", error_r);
	for (;;) {
		int64_t uid = -1;

		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			uid = sqlite3_column_int64(stmt, 0);
		else if (rc != SQLITE_DONE)
			break;
		if (uid != cur_uid && set.n > 0) {
			/* Both lists are in UID order. */
			while (i < count && msgs[i].uid < cur_uid)
				i++;
			if (i < count && msgs[i].uid == cur_uid)
				refs_append(kw, &cap, &set, &msgs[i].kw_first,
					    &msgs[i].n_kw);
			kw_set_clear(&set);
		}
		if (rc == SQLITE_DONE)
			break;
		cur_uid = uid;
		kw_set_add(&set, (const char *)sqlite3_column_text(stmt, 1));
	}
	sqlite_stmt_done(stmt, cached);
	kw_set_deinit(&set);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "keyword list", error_r);
	return STORE_OK;
}

/* ---- STORE ---- */

struct flags_ctx {
	int64_t mailbox_id;
	const uint32_t *uids;
	size_t count;
	const struct store_flags_change *ch;
	struct store_flags_result *res;
	bool states;		/* fill res->msgs and res->kw */
	size_t refs_cap;
};

static void
flags_result_reset(struct flags_ctx *c)
{
	store_flags_result_deinit(c->res);
	c->refs_cap = 0;
	if (c->states)
		c->res->msgs = xcalloc(c->count > 0 ? c->count : 1,
				       sizeof(*c->res->msgs));
	if (c->ch->if_unchanged)
		c->res->modified = xcalloc(c->count > 0 ? c->count : 1,
					   sizeof(*c->res->modified));
}

/* The change's keywords in the mailbox's spelling: those to add are
 * created (up to the limit), unknown ones to remove are dropped. */
static enum store_result
flags_canon(sqlite3 *db, struct flags_ctx *c, struct kw_set *add,
	    struct kw_set *remove, const char **error_r)
{
	const struct store_flags_change *ch = c->ch;
	enum store_result r;
	char *canon;

	for (size_t i = 0; i < ch->n_kw_add; i++) {
		r = sqlite_keyword_canon(db, c->mailbox_id, ch->kw_add[i],
					 true, ch->keywords_max, &canon,
					 error_r);
		if (r != STORE_OK)
			return r;
		kw_set_add(add, canon);
		free(canon);
	}
	for (size_t i = 0; i < ch->n_kw_remove; i++) {
		r = sqlite_keyword_canon(db, c->mailbox_id, ch->kw_remove[i],
					 false, 0, &canon, error_r);
		if (r != STORE_OK)
			return r;
		if (canon != NULL)
			kw_set_add(remove, canon);
		free(canon);
	}
	return STORE_OK;
}

/* The keywords the message gets: cur changed as the change says. */
static void
flags_new_keywords(const struct store_flags_change *ch,
		   const struct kw_set *cur, const struct kw_set *add,
		   const struct kw_set *remove, struct kw_set *out)
{
	kw_set_clear(out);
	if (!ch->replace)
		for (size_t i = 0; i < cur->n; i++)
			kw_set_add(out, cur->v[i]);
	for (size_t i = 0; i < add->n; i++)
		kw_set_add(out, add->v[i]);
	for (size_t i = 0; i < remove->n && !ch->replace; i++) {
		for (size_t j = 0; j < out->n; j++) {
			if (strcasecmp(out->v[j], remove->v[i]) == 0) {
				free(out->v[j]);
				out->v[j] = out->v[--out->n];
				break;
			}
		}
	}
}

static enum store_result
keywords_replace(sqlite3 *db, int64_t message_id, const struct kw_set *set,
		 const char **error_r)
{
	if (sqlite_exec(db, "DELETE FROM keywords WHERE message_id = ?", "i",
			message_id) != SQLITE_OK)
		return sqlite_fail(db, "keyword update", error_r);
	for (size_t i = 0; i < set->n; i++)
		if (sqlite_exec(db, "INSERT INTO keywords (message_id,"
				" keyword) VALUES (?, ?)", "it", message_id,
				set->v[i]) != SQLITE_OK)
			return sqlite_fail(db, "keyword update", error_r);
	return STORE_OK;
}

/* One message: its row, new flags and keywords, the writes. */
static enum store_result
flags_one(sqlite3 *db, struct flags_ctx *c, uint32_t uid, int64_t account,
	  int64_t hms, int64_t now, struct kw_set *sets, bool *changed_r,
	  const char **error_r)
{
	const struct store_flags_change *ch = c->ch;
	struct kw_set *add = &sets[0], *remove = &sets[1], *cur = &sets[2];
	struct kw_set *next = &sets[3];
	bool kw_used = ch->replace || add->n > 0 || remove->n > 0;
	int64_t msg_id = 0, flags = 0, modseq = 0, new_flags;
	bool cached, kw_changed = false;
	enum store_result r;
	sqlite3_stmt *stmt;
	int rc;

	*changed_r = false;
	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT id, flags, modseq"
				" FROM messages WHERE mailbox_id = ? AND"
				" uid = ?", "ii", c->mailbox_id, (int64_t)uid);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "flag update", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		msg_id = sqlite3_column_int64(stmt, 0);
		flags = sqlite3_column_int64(stmt, 1);
		modseq = sqlite3_column_int64(stmt, 2);
	}
	sqlite_stmt_done(stmt, cached);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "flag update", error_r);
	if (ch->if_unchanged && (uint64_t)modseq > ch->unchanged_since) {
		c->res->modified[c->res->n_modified++] = uid;
		return STORE_OK;
	}

	new_flags = ch->replace ? (int64_t)ch->add :
		    (flags | (int64_t)ch->add) & ~(int64_t)ch->remove;
	kw_set_clear(cur);
	if (kw_used || c->states) {
		r = message_keywords(db, msg_id, cur, error_r);
		if (r != STORE_OK)
			return r;
	}
	if (kw_used) {
		flags_new_keywords(ch, cur, add, remove, next);
		if (!kw_set_equal(cur, next)) {
			r = keywords_replace(db, msg_id, next, error_r);
			if (r != STORE_OK)
				return r;
			kw_changed = true;
			kw_set_clear(cur);
			for (size_t i = 0; i < next->n; i++)
				kw_set_add(cur, next->v[i]);
		}
	}
	if (new_flags != flags || kw_changed) {
		/* One new modseq for every message this call changes (RFC
		 * 7162 3.1.1 allows several messages to share one). */
		modseq = hms + 1;
		if (sqlite_exec(db, "UPDATE messages SET flags = ?,"
				" modseq = ? WHERE id = ?", "iii", new_flags,
				modseq, msg_id) != SQLITE_OK ||
		    sqlite_email_change_log(db, account, c->mailbox_id,
					    modseq, msg_id, (int64_t)uid,
					    "updated", now) != SQLITE_OK)
			return sqlite_fail(db, "flag update", error_r);
		*changed_r = true;
	}
	if (c->states) {
		struct store_flags_result *res = c->res;
		struct store_flags_msg *m = &res->msgs[res->count++];

		m->uid = uid;
		m->flags = (uint32_t)new_flags;
		m->modseq = (uint64_t)modseq;
		m->changed = *changed_r;
		refs_append(&res->kw, &c->refs_cap, cur, &m->kw_first,
			    &m->n_kw);
	}
	return STORE_OK;
}

static enum store_result
run_flags_store(struct store *store, void *ctx, const char **error_r)
{
	struct flags_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t account = 0, hms = 0, now = (int64_t)time(NULL);
	struct kw_set sets[4];
	enum store_result r;

	memset(sets, 0, sizeof(sets));
	flags_result_reset(c);
	r = sqlite_mailbox_modseq(db, c->mailbox_id, &account, &hms, error_r);
	if (r == STORE_OK)
		r = flags_canon(db, c, &sets[0], &sets[1], error_r);
	if (r == STORE_OK && c->states)
		r = mailbox_keyword_names(db, c->mailbox_id, &c->res->kw,
					  error_r);
	for (size_t i = 0; i < c->count && r == STORE_OK; i++) {
		bool changed;

		r = flags_one(db, c, c->uids[i], account, hms, now, sets,
			      &changed, error_r);
		if (changed)
			c->res->changed++;
	}
	for (size_t i = 0; i < 4; i++)
		kw_set_deinit(&sets[i]);
	if (r != STORE_OK)
		return r;
	c->res->modseq = (uint64_t)hms;
	if (c->res->changed > 0) {
		if (sqlite_exec(db, "UPDATE mailboxes SET highestmodseq = ?"
				" WHERE id = ?", "ii", hms + 1,
				c->mailbox_id) != SQLITE_OK)
			return sqlite_fail(db, "modseq update", error_r);
		c->res->modseq = (uint64_t)hms + 1;
	}
	return STORE_OK;
}

enum store_result
sqlite_flags_store(struct store *store, int64_t mailbox_id,
		   const uint32_t *uids, size_t count,
		   const struct store_flags_change *ch,
		   struct store_flags_result *res, bool states,
		   const char **error_r)
{
	struct flags_ctx c = { .mailbox_id = mailbox_id, .uids = uids,
			       .count = count, .ch = ch, .res = res,
			       .states = states };
	enum store_result r = store_commit_run_flags(store, run_flags_store,
						     &c, STORE_OP_RERUN,
						     error_r);

	if (r != STORE_OK)
		store_flags_result_deinit(res);
	return r;
}
