/* SPDX-License-Identifier: MIT */
/*
 * LIST (RFC 9051 6.3.9) with LIST-EXTENDED (RFC 5258: selection and
 * return options, several patterns), SPECIAL-USE (RFC 6154), CHILDREN
 * (RFC 3348), LIST-STATUS (RFC 5819), and LSUB (RFC 3501 6.3.9). The
 * account's names, with the levels they imply, are built and matched on
 * the pool; the responses go out when the job is done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-acl.h"
#include "imap/imap-list-match.h"
#include "imap/imap-private.h"
#include "imap/imap-utf7.h"
#include "imap/imap-write.h"
#include "lib/mem.h"

/* selection options */
#define SEL_SUBSCRIBED	0x1u
#define SEL_SPECIAL_USE	0x2u
#define SEL_RECURSIVE	0x4u
/* return options */
#define RET_SUBSCRIBED	0x1u
#define RET_CHILDREN	0x2u
#define RET_SPECIAL_USE	0x4u
#define RET_STATUS	0x8u

/* Patterns in one LIST (RFC 5258 3): each costs a pass over every name
 * of the account, so a command line full of them (args_max) would keep a
 * pool thread busy for seconds. Clients send one or two. */
#define LIST_PATTERNS_MAX 64

/* One name of the account: a mailbox, a subscription to a name without
 * one, or a level above either that is neither. */
struct node {
	char *name;		/* UTF-8, as stored */
	int64_t id;		/* mailbox id; 0: no mailbox */
	enum store_role role;
	bool subscribed;
	bool meets;		/* meets the selection criteria */
	/* another account's mailbox the user may list but not read
	 * (RFC 4314 "l" without "r"): no STATUS for it */
	bool noread;
};

struct list_job {
	struct store *store;
	int64_t account_id;
	bool lsub, rev2, utf8;
	unsigned sel, ret;
	struct imap_status_items status;
	/* patterns in the client's encoding, reference prepended */
	char **patterns;
	size_t n_patterns;
	size_t name_max;
	struct buf out;
	enum store_result result;
	char error[200];
};

static void
list_job_free(void *ctx)
{
	struct list_job *job = ctx;

	for (size_t i = 0; i < job->n_patterns; i++)
		free(job->patterns[i]);
	free(job->patterns);
	buf_deinit(&job->out);
	free(job);
}

static int
node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->name,
		      ((const struct node *)b)->name);
}

/* Index of the first node whose name is >= key. */
static size_t
lower_bound(const struct node *v, size_t n, const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid].name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct tree {
	struct node *v;
	size_t n, cap;
	/* prefix counts over v: mailboxes, and nodes meeting the
	 * selection criteria, before index i */
	size_t *exists, *meets;
};

static void
tree_add(struct tree *t, const char *name, size_t len, int64_t id,
	 enum store_role role, bool subscribed)
{
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 32 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n++] = (struct node){ .name = xstrndup(name, len), .id = id,
				      .role = role, .subscribed = subscribed };
}

/* Sorts and merges the nodes of one name: a mailbox wins over a level, a
 * subscription sticks. */
static void
tree_merge(struct tree *t)
{
	size_t w = 0;

	/* an account deleted under the session has no node and no array:
	 * qsort's base may not be NULL even for no elements */
	if (t->n == 0)
		return;
	qsort(t->v, t->n, sizeof(*t->v), node_cmp);
	for (size_t i = 0; i < t->n; i++) {
		if (w > 0 && strcmp(t->v[w - 1].name, t->v[i].name) == 0) {
			struct node *d = &t->v[w - 1];

			if (t->v[i].id != 0) {
				d->id = t->v[i].id;
				d->role = t->v[i].role;
				d->noread = t->v[i].noread;
			}
			d->subscribed |= t->v[i].subscribed;
			free(t->v[i].name);
			continue;
		}
		t->v[w++] = t->v[i];
	}
	t->n = w;
}

static bool
meets(const struct list_job *job, const struct node *nd)
{
	if (job->lsub)
		return nd->subscribed;
	if ((job->sel & (SEL_SUBSCRIBED | SEL_SPECIAL_USE)) == 0)
		return nd->id != 0;
	if ((job->sel & SEL_SUBSCRIBED) != 0 && !nd->subscribed)
		return false;
	if ((job->sel & SEL_SPECIAL_USE) != 0 &&
	    (nd->id == 0 || store_role_imap(nd->role) == NULL))
		return false;
	return true;
}

static void
tree_count(struct tree *t, const struct list_job *job)
{
	t->exists = xcalloc(t->n + 1, sizeof(size_t));
	t->meets = xcalloc(t->n + 1, sizeof(size_t));
	for (size_t i = 0; i < t->n; i++) {
		t->v[i].meets = meets(job, &t->v[i]);
		t->exists[i + 1] = t->exists[i] + (t->v[i].id != 0);
		t->meets[i + 1] = t->meets[i] + t->v[i].meets;
	}
}

/* The nodes below v[i] ("name/..."): the range from "name/" up to
 * "name0", '0' following '/' in ASCII. */
static void
tree_children(const struct tree *t, size_t i, size_t *lo_r, size_t *hi_r)
{
	size_t len = strlen(t->v[i].name);
	char *key = xmalloc(len + 2);

	memcpy(key, t->v[i].name, len);
	key[len] = '/';
	key[len + 1] = '\0';
	*lo_r = lower_bound(t->v, t->n, key);
	key[len] = '0';
	*hi_r = lower_bound(t->v, t->n, key);
	free(key);
}

static void
tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	free(t->exists);
	free(t->meets);
}

/* The mailboxes other accounts share with the user, under the "Other
 * Users" namespace (imap-acl.h): only those it has "l" on (RFC 4314 4);
 * each is subscribed when the user subscribed its name (a subscription
 * without a mailbox of the user's own, tree_load). */
static enum store_result
shared_load(struct list_job *job, struct tree *t, const char **error_r)
{
	struct store_acl_shared *sh = NULL;
	size_t n = 0;
	enum store_result r;

	r = store_acl_shared_list(job->store, job->account_id, &sh, &n,
				  error_r);
	if (r != STORE_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		char *name;

		if (imap_acl_check(true, sh[i].rights, STORE_ACL_LOOKUP) !=
		    IMAP_ACL_OK)
			continue;
		name = imap_acl_client_name(true, sh[i].owner, sh[i].name);
		tree_add(t, name, strlen(name), sh[i].mailbox_id,
			 STORE_ROLE_NONE, false);
		t->v[t->n - 1].noread = imap_acl_check(true, sh[i].rights,
						       STORE_ACL_READ) !=
					IMAP_ACL_OK;
		free(name);
	}
	store_acl_shared_free(&sh, n);
	return STORE_OK;
}

/* Every mailbox, every subscription without one (when subscriptions
 * matter), every shared mailbox and every level above them. */
static enum store_result
tree_load(struct list_job *job, struct tree *t, const char **error_r)
{
	struct store_mailbox *boxes = NULL;
	char **subs = NULL;
	size_t n_boxes = 0, n_subs = 0, n_named;
	enum store_result r;

	r = store_mailbox_list(job->store, job->account_id, &boxes, &n_boxes,
			       error_r);
	if (r != STORE_OK)
		return r;
	if (job->lsub || (job->sel & SEL_SUBSCRIBED) != 0 ||
	    (job->ret & RET_SUBSCRIBED) != 0) {
		r = store_subscription_list(job->store, job->account_id,
					    &subs, &n_subs, error_r);
		if (r != STORE_OK) {
			store_mailboxes_free(&boxes, n_boxes);
			return r;
		}
	}
	for (size_t i = 0; i < n_boxes; i++)
		tree_add(t, boxes[i].name, strlen(boxes[i].name), boxes[i].id,
			 boxes[i].role, boxes[i].subscribed);
	for (size_t i = 0; i < n_subs; i++)
		tree_add(t, subs[i], strlen(subs[i]), 0, STORE_ROLE_NONE,
			 true);
	r = shared_load(job, t, error_r);
	if (r != STORE_OK) {
		store_mailboxes_free(&boxes, n_boxes);
		store_strv_free(&subs, n_subs);
		return r;
	}
	n_named = t->n;
	for (size_t i = 0; i < n_named; i++) {
		const char *name = t->v[i].name, *p = name;

		while ((p = strchr(p, '/')) != NULL) {
			tree_add(t, name, (size_t)(p - name), 0,
				 STORE_ROLE_NONE, false);
			p++;
		}
	}
	store_mailboxes_free(&boxes, n_boxes);
	store_strv_free(&subs, n_subs);
	tree_merge(t);
	tree_count(t, job);
	return STORE_OK;
}

/* Whether a LIST line goes out for node i, and with CHILDINFO. */
static bool
listed(const struct list_job *job, const struct tree *t, size_t i,
       bool ends_pct, bool *childinfo_r)
{
	const struct node *nd = &t->v[i];
	size_t lo, hi;

	tree_children(t, i, &lo, &hi);
	*childinfo_r = (job->sel & SEL_RECURSIVE) != 0 &&
		       t->meets[hi] - t->meets[lo] > 0;
	if (nd->meets || *childinfo_r)
		return true;
	/* RFC 3501 6.3.9: LSUB "%" lists an unsubscribed level above a
	 * subscribed name, as \Noselect */
	if (job->lsub)
		return ends_pct && t->meets[hi] - t->meets[lo] > 0;
	/* RFC 9051 6.3.9: a level holding mailboxes that is no mailbox
	 * itself is listed as one that cannot be selected */
	return job->sel == 0 && nd->id == 0 &&
	       t->exists[hi] - t->exists[lo] > 0;
}

static void
write_attrs(const struct list_job *job, const struct tree *t, size_t i,
	    struct buf *out)
{
	const struct node *nd = &t->v[i];
	struct imap_write_list list;
	const char *use = store_role_imap(nd->role);
	size_t lo, hi;
	bool children;

	tree_children(t, i, &lo, &hi);
	children = t->exists[hi] - t->exists[lo] > 0;
	imap_write_list_begin(&list, out);
	if (nd->id == 0 && !nd->subscribed &&
	    imap_acl_name_is_shared(nd->name))
		/* CLIENT-QUIRKS: the other users' namespace root and its
		 * owner levels are \Noselect, never \NonExistent */
		buf_puts(imap_write_list_item(&list), "\\Noselect");
	else if (nd->id == 0)
		/* CLIENT-QUIRKS: \NonExistent is IMAP4rev2's; rev1
		 * clients know \Noselect */
		buf_puts(imap_write_list_item(&list),
			 job->rev2 ? "\\NonExistent" : "\\Noselect");
	else if (job->lsub && !nd->meets)
		/* RFC 3501 6.3.9: in LSUB, a level listed for a subscribed
		 * name below it, itself not subscribed */
		buf_puts(imap_write_list_item(&list), "\\Noselect");
	/* RFC 3348 / 5258: sent whether asked or not (CHILDREN), except
	 * for a name that is only a subscription */
	if (nd->id != 0 || children)
		buf_puts(imap_write_list_item(&list),
			 children ? "\\HasChildren" : "\\HasNoChildren");
	if (!job->lsub && nd->subscribed &&
	    ((job->ret & RET_SUBSCRIBED) != 0 ||
	     (job->sel & SEL_SUBSCRIBED) != 0))
		buf_puts(imap_write_list_item(&list), "\\Subscribed");
	/* CLIENT-QUIRKS: special use in every reply, asked for or not */
	if (use != NULL && nd->id != 0)
		buf_puts(imap_write_list_item(&list), use);
	imap_write_list_end(&list);
}

/* One LIST (or LSUB) line for node i, and its STATUS when asked. */
static void
write_node(struct list_job *job, const struct tree *t, size_t i,
	   bool childinfo)
{
	const struct node *nd = &t->v[i];
	struct buf *out = &job->out;
	size_t start = out->len;
	const char *error;

	buf_puts(out, job->lsub ? "* LSUB " : "* LIST ");
	write_attrs(job, t, i, out);
	buf_puts(out, " \"/\" ");
	if (imap_write_mailbox(out, nd->name, strlen(nd->name),
			       job->utf8 ? IMAP_WRITE_UTF8 : 0, &error) < 0) {
		/* a name no client could be shown (never stored by
		 * Herald, store_mailbox_name_check) is left out */
		buf_truncate(out, start);
		return;
	}
	if (childinfo) {
		buf_puts(out, " (\"CHILDINFO\" (");
		if ((job->sel & SEL_SUBSCRIBED) != 0)
			buf_puts(out, "\"SUBSCRIBED\"");
		if ((job->sel & SEL_SUBSCRIBED) != 0 &&
		    (job->sel & SEL_SPECIAL_USE) != 0)
			buf_putc(out, ' ');
		if ((job->sel & SEL_SPECIAL_USE) != 0)
			buf_puts(out, "\"SPECIAL-USE\"");
		buf_puts(out, "))");
	}
	buf_puts(out, "\r\n");
}

/* RFC 5819: STATUS for each selectable mailbox listed, after its LIST
 * line. A mailbox deleted meanwhile is skipped. */
static enum store_result
write_status(struct list_job *job, const struct node *nd,
	     const char **error_r)
{
	struct store_mailbox_status st;
	enum store_result r;
	const char *error;

	/* RFC 4314 4: STATUS needs "r" */
	if (nd->noread)
		return STORE_OK;
	r = store_mailbox_status(job->store, nd->id, &st, error_r);
	if (r == STORE_E_NOT_FOUND)
		return STORE_OK;
	if (r != STORE_OK)
		return r;
	(void)imap_status_write(&job->out, nd->name,
				job->utf8 ? IMAP_WRITE_UTF8 : 0, &job->status,
				&st, &error);
	return STORE_OK;
}

static void
list_work(void *ctx)
{
	struct list_job *job = ctx;
	struct imap_list_pattern **pats;
	struct tree t = { 0 };
	const char *error = NULL;
	struct buf wire;

	job->result = tree_load(job, &t, &error);
	if (job->result != STORE_OK) {
		snprintf(job->error, sizeof(job->error), "%s",
			 error != NULL ? error : "?");
		tree_free(&t);
		return;
	}
	pats = xcalloc(job->n_patterns, sizeof(*pats));
	for (size_t k = 0; k < job->n_patterns; k++)
		pats[k] = imap_list_pattern_new(job->patterns[k],
						strlen(job->patterns[k]),
						job->name_max);
	buf_init(&wire);
	for (size_t i = 0; i < t.n && job->result == STORE_OK; i++) {
		const struct node *nd = &t.v[i];
		bool childinfo, match = false, ends_pct = false;

		/* Patterns match the name as the client sees it: modified
		 * UTF-7 for rev1 sessions */
		buf_reset(&wire);
		if (job->utf8)
			buf_puts(&wire, nd->name);
		else if (imap_utf8_to_utf7(nd->name, strlen(nd->name), &wire,
					   &error) < 0)
			continue;
		for (size_t k = 0; k < job->n_patterns; k++) {
			if (imap_list_pattern_match(pats[k], wire.data,
						    wire.len)) {
				match = true;
				ends_pct |= imap_list_pattern_ends_in_percent(
					pats[k]);
			}
		}
		if (!match || !listed(job, &t, i, ends_pct, &childinfo))
			continue;
		write_node(job, &t, i, childinfo);
		if ((job->ret & RET_STATUS) != 0 && nd->id != 0) {
			job->result = write_status(job, nd, &error);
			if (job->result != STORE_OK)
				snprintf(job->error, sizeof(job->error), "%s",
					 error != NULL ? error : "?");
		}
	}
	buf_deinit(&wire);
	for (size_t k = 0; k < job->n_patterns; k++)
		imap_list_pattern_free(&pats[k]);
	free(pats);
	tree_free(&t);
}

static void
list_done(struct imap_cmd *cmd)
{
	struct list_job *job = cmd->ctx;

	if (job->result != STORE_OK) {
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		return;
	}
	buf_append(imap_session_out(cmd->s), job->out.data, job->out.len);
	(void)imap_cmd_ok(cmd, "%s completed", job->lsub ? "LSUB" : "LIST");
}

static int
parse_select(const struct imap_arg *a, unsigned *sel_r, const char **error_r)
{
	bool base = false;

	*sel_r = 0;
	for (size_t i = 0; i < a->list_count; i++) {
		const struct imap_arg *o = &a->list[i];

		if (imap_arg_atom_equals(o, "SUBSCRIBED")) {
			*sel_r |= SEL_SUBSCRIBED;
			base = true;
		} else if (imap_arg_atom_equals(o, "SPECIAL-USE")) {
			*sel_r |= SEL_SPECIAL_USE;
			base = true;
		} else if (imap_arg_atom_equals(o, "RECURSIVEMATCH")) {
			*sel_r |= SEL_RECURSIVE;
		} else if (!imap_arg_atom_equals(o, "REMOTE")) {
			/* RFC 5258 3: unknown selection options are BAD;
			 * REMOTE has nothing to add, all is local */
			*error_r = "Unknown LIST selection option";
			return -1;
		}
	}
	if ((*sel_r & SEL_RECURSIVE) != 0 && !base) {
		*error_r = "RECURSIVEMATCH needs another selection option";
		return -1;
	}
	return 0;
}

static int
parse_return(const struct imap_session *s, const struct imap_arg *a,
	     unsigned *ret_r, struct imap_status_items *status_r,
	     const char **error_r)
{
	for (size_t i = 0; i < a->list_count; i++) {
		const struct imap_arg *o = &a->list[i];

		if (imap_arg_atom_equals(o, "SUBSCRIBED")) {
			*ret_r |= RET_SUBSCRIBED;
		} else if (imap_arg_atom_equals(o, "CHILDREN")) {
			*ret_r |= RET_CHILDREN;
		} else if (imap_arg_atom_equals(o, "SPECIAL-USE")) {
			*ret_r |= RET_SPECIAL_USE;
		} else if (imap_arg_atom_equals(o, "STATUS") &&
			   i + 1 < a->list_count &&
			   (*ret_r & RET_STATUS) == 0) {
			if (imap_status_items_parse(s->rev2, &a->list[++i],
						    status_r, error_r) < 0)
				return -1;
			*ret_r |= RET_STATUS;
		} else {
			*error_r = "Unknown LIST return option";
			return -1;
		}
	}
	return 0;
}

/* reference + pattern as one pattern (RFC 9051 6.3.9: the reference is
 * prepended), with a first level "INBOX" in any case spelled INBOX as
 * the names are. */
static char *
pattern_join(const char *ref, size_t ref_len, const char *pat, size_t len)
{
	char *p = xmalloc(ref_len + len + 1);

	memcpy(p, ref, ref_len);
	memcpy(p + ref_len, pat, len);
	p[ref_len + len] = '\0';
	if (strncasecmp(p, "INBOX", 5) == 0 && (p[5] == '\0' || p[5] == '/'))
		memcpy(p, "INBOX", 5);
	return p;
}

static enum imap_cmd_result
list_common(struct imap_cmd *cmd, bool lsub)
{
	struct imap_session *s = cmd->s;
	const struct imap_arg *args = cmd->args, *pats;
	size_t n = cmd->n_args, n_pats;
	struct list_job *job;
	const char *ref, *pat, *error = NULL;
	size_t ref_len, pat_len;
	unsigned sel = 0, ret = 0;
	struct imap_status_items status;

	memset(&status, 0, sizeof(status));
	if (!lsub && n > 0 && args[0].type == IMAP_ARG_LIST) {
		if (parse_select(&args[0], &sel, &error) < 0)
			return imap_cmd_bad(cmd, "%s", error);
		args++;
		n--;
	}
	if (!lsub && n == 4 && imap_arg_atom_equals(&args[2], "RETURN") &&
	    args[3].type == IMAP_ARG_LIST) {
		if (parse_return(s, &args[3], &ret, &status, &error) < 0)
			return imap_cmd_bad(cmd, "%s", error);
		n -= 2;
	}
	if (n != 2 || !imap_arg_get_astring(&args[0], &ref, &ref_len))
		return imap_cmd_bad(cmd, "%s takes a reference and a mailbox"
				    " pattern", cmd->name);
	pats = &args[1];
	n_pats = 1;
	if (!lsub && args[1].type == IMAP_ARG_LIST) {
		/* RFC 5258 3: several patterns */
		pats = args[1].list;
		n_pats = args[1].list_count;
		if (n_pats == 0 || n_pats > LIST_PATTERNS_MAX)
			return imap_cmd_bad(cmd, "LIST takes 1 to %d patterns",
					    LIST_PATTERNS_MAX);
	}
	for (size_t k = 0; k < n_pats; k++)
		if (!imap_arg_get_astring(&pats[k], &pat, &pat_len))
			return imap_cmd_bad(cmd, "Invalid mailbox pattern");
	if (n_pats == 1 && pats[0].len == 0 && !lsub) {
		/* RFC 9051 6.3.9: the delimiter and the root, which is
		 * "" in a namespace without prefix */
		buf_puts(imap_session_out(s),
			 "* LIST (\\Noselect) \"/\" \"\"\r\n");
		return imap_cmd_ok(cmd, "LIST completed");
	}
	job = xcalloc(1, sizeof(*job));
	job->store = s->store;
	job->account_id = s->account_id;
	job->lsub = lsub;
	job->rev2 = s->rev2;
	job->utf8 = s->utf8;
	job->sel = sel;
	job->ret = ret;
	job->status = status;
	job->name_max = s->set->mailbox_name_max;
	job->patterns = xcalloc(n_pats, sizeof(char *));
	for (size_t k = 0; k < n_pats; k++) {
		(void)imap_arg_get_astring(&pats[k], &pat, &pat_len);
		job->patterns[job->n_patterns++] =
			pattern_join(ref, ref_len, pat, pat_len);
	}
	buf_init(&job->out);
	return imap_cmd_run_blocking(cmd, list_work, list_done, job,
				     list_job_free);
}

enum imap_cmd_result
imap_cmd_list(struct imap_cmd *cmd)
{
	return list_common(cmd, false);
}

/* IMAP4rev1 only in spirit (RFC 9051 replaced it with LIST
 * (SUBSCRIBED)), answered for every session as clients still send it. */
enum imap_cmd_result
imap_cmd_lsub(struct imap_cmd *cmd)
{
	return list_common(cmd, true);
}
