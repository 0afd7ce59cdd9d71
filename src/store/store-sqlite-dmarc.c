/* SPDX-License-Identifier: MIT */
/*
 * DMARC aggregate report rows on SQLite (docs/store.md "DMARC reports"):
 * counts added in batches by upsert, set apart by a report run, read per
 * policy domain and deleted once reported.
 */
#include "store/store-sqlite-private.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"

struct dmarc_add_ctx {
	const struct store_dmarc_count *counts;
	size_t n;
	const struct store_dmarc_policy *pols;
	size_t n_pols;
};

static enum store_result
run_dmarc_add(struct store *store, void *ctx, const char **error_r)
{
	struct dmarc_add_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);

	for (size_t i = 0; i < c->n; i++) {
		const struct store_dmarc_count *r = &c->counts[i];

		if (sqlite_exec(db, "INSERT INTO dmarc_rows (domain, key,"
				" passed, count, first_seen, last_seen)"
				" VALUES (?, ?, ?, ?, ?, ?)"
				" ON CONFLICT (domain, key, taken) DO UPDATE"
				" SET count = count + excluded.count,"
				" first_seen = min(first_seen,"
				" excluded.first_seen),"
				" last_seen = max(last_seen, excluded.last_seen)",
				"ttiiii", r->domain, r->key, (int64_t)r->passed,
				(int64_t)r->count, r->first_seen,
				r->last_seen) != SQLITE_OK)
			return sqlite_fail(db, "dmarc rows", error_r);
	}
	for (size_t i = 0; i < c->n_pols; i++) {
		const struct store_dmarc_policy *p = &c->pols[i];

		if (sqlite_exec(db, "INSERT INTO dmarc_domains (domain, policy,"
				" rua, seen) VALUES (?, ?, ?, ?)"
				" ON CONFLICT (domain) DO UPDATE"
				" SET policy = excluded.policy,"
				" rua = excluded.rua, seen = excluded.seen"
				" WHERE excluded.seen >= seen",
				"ttti", p->domain, p->policy, p->rua,
				p->seen) != SQLITE_OK)
			return sqlite_fail(db, "dmarc domains", error_r);
	}
	return STORE_OK;
}

enum store_result
sqlite_dmarc_add(struct store *store, const struct store_dmarc_count *counts,
		 size_t n, const struct store_dmarc_policy *pols,
		 size_t n_pols, const char **error_r)
{
	struct dmarc_add_ctx c = { counts, n, pols, n_pols };

	return store_commit_run(store, run_dmarc_add, &c, error_r);
}

static enum store_result
run_dmarc_take(struct store *store, void *ctx, const char **error_r)
{
	const int64_t *forget_before = ctx;
	sqlite3 *db = sqlite_wdb(store);

	/* rows left taken by a run that stopped half-way keep their
	 * counts: the new ones are added to them */
	if (sqlite_exec(db, "INSERT INTO dmarc_rows (domain, key, passed,"
			" count, first_seen, last_seen, taken)"
			" SELECT domain, key, passed, count, first_seen,"
			" last_seen, 1 FROM dmarc_rows WHERE taken = 0"
			" ON CONFLICT (domain, key, taken) DO UPDATE"
			" SET count = count + excluded.count,"
			" first_seen = min(first_seen, excluded.first_seen),"
			" last_seen = max(last_seen, excluded.last_seen)",
			NULL) != SQLITE_OK ||
	    sqlite_exec(db, "DELETE FROM dmarc_rows WHERE taken = 0",
			NULL) != SQLITE_OK ||
	    sqlite_exec(db, "DELETE FROM dmarc_domains WHERE seen < ? AND"
			" NOT EXISTS (SELECT 1 FROM dmarc_rows r"
			" WHERE r.domain = dmarc_domains.domain)", "i",
			*forget_before) != SQLITE_OK)
		return sqlite_fail(db, "dmarc take", error_r);
	return STORE_OK;
}

enum store_result
sqlite_dmarc_take(struct store *store, int64_t forget_before,
		  const char **error_r)
{
	return store_commit_run(store, run_dmarc_take, &forget_before, error_r);
}

enum store_result
sqlite_dmarc_domains(struct store *store, bool taken_only,
		     struct store_dmarc_domain **d_r, size_t *count_r,
		     const char **error_r)
{
	struct store_dmarc_domain *v = NULL;
	size_t n = 0, cap = 0;
	enum store_result r;
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int rc;

	*d_r = NULL;
	*count_r = 0;
	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	rc = sqlite_prep(db, &stmt, "SELECT r.domain, coalesce(d.policy, ''),"
			 " coalesce(d.rua, ''), coalesce(d.last_end, 0),"
			 " min(r.first_seen), max(r.last_seen), sum(r.count),"
			 " sum(CASE WHEN r.passed THEN r.count ELSE 0 END),"
			 " count(*)"
			 " FROM dmarc_rows r LEFT JOIN dmarc_domains d"
			 " ON d.domain = r.domain"
			 " WHERE r.taken >= ? GROUP BY r.domain"
			 " ORDER BY r.domain", "i", (int64_t)taken_only);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "dmarc domains", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_dmarc_domain *d;

		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		d = &v[n++];
		d->domain = sqlite_col_strdup(stmt, 0);
		d->policy = sqlite_col_strdup(stmt, 1);
		d->rua = sqlite_col_strdup(stmt, 2);
		d->last_end = sqlite3_column_int64(stmt, 3);
		d->first_seen = sqlite3_column_int64(stmt, 4);
		d->last_seen = sqlite3_column_int64(stmt, 5);
		d->messages = (uint64_t)sqlite3_column_int64(stmt, 6);
		d->passed = (uint64_t)sqlite3_column_int64(stmt, 7);
		d->rows = (size_t)sqlite3_column_int64(stmt, 8);
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "dmarc domains", error_r);
		store_dmarc_domains_free(&v, n);
		n = 0;
	}
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	*d_r = v;
	*count_r = n;
	return r;
}

enum store_result
sqlite_dmarc_rows(struct store *store, const char *domain, bool taken_only,
		  size_t max, struct store_dmarc_row **rows_r, size_t *count_r,
		  const char **error_r)
{
	struct store_dmarc_row *v = NULL;
	size_t n = 0, cap = 0;
	enum store_result r;
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int rc;

	*rows_r = NULL;
	*count_r = 0;
	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	rc = sqlite_prep(db, &stmt, "SELECT key, sum(count) AS n"
			 " FROM dmarc_rows WHERE domain = ? AND taken >= ?"
			 " GROUP BY key ORDER BY n DESC, key LIMIT ?", "tii",
			 domain, (int64_t)taken_only,
			 max == 0 ? (int64_t)-1 : (int64_t)max);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "dmarc rows", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].key = sqlite_col_strdup(stmt, 0);
		v[n].count = (uint64_t)sqlite3_column_int64(stmt, 1);
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "dmarc rows", error_r);
		store_dmarc_rows_free(&v, n);
		n = 0;
	}
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	*rows_r = v;
	*count_r = n;
	return r;
}

struct dmarc_done_ctx {
	const char *domain;
	int64_t end;
};

static enum store_result
run_dmarc_done(struct store *store, void *ctx, const char **error_r)
{
	struct dmarc_done_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);

	if (sqlite_exec(db, "DELETE FROM dmarc_rows WHERE domain = ? AND"
			" taken = 1", "t", c->domain) != SQLITE_OK)
		return sqlite_fail(db, "dmarc done", error_r);
	if (c->end != 0 &&
	    sqlite_exec(db, "UPDATE dmarc_domains SET last_end = ?"
			" WHERE domain = ?", "it", c->end,
			c->domain) != SQLITE_OK)
		return sqlite_fail(db, "dmarc done", error_r);
	return STORE_OK;
}

enum store_result
sqlite_dmarc_done(struct store *store, const char *domain, int64_t end,
		  const char **error_r)
{
	struct dmarc_done_ctx c = { domain, end };

	return store_commit_run(store, run_dmarc_done, &c, error_r);
}
