/* SPDX-License-Identifier: MIT */
/*
 * NOTIFY (RFC 5465): what a session asked to hear about, and sending it
 * while no command runs (and during IDLE). The worker's store watch
 * (imap-watch.c) wakes the session; the account's change counter says
 * that a mailbox of the account changed, a pool job lists the mailboxes,
 * and the difference with what the client was last told goes out as
 * STATUS (other mailboxes), LIST (names, subscriptions) and METADATA
 * (entry names, from the store's list of metadata changes after the last
 * one the session read). The selected mailbox is brought up to date by
 * imap-sync.c, as for IDLE. Other users' mailboxes shared with the user
 * (imap-acl.h) are watched under their "Other Users" names while the user
 * has "l" on them, for STATUS while it also has "r" (RFC 5465 3.1, 5.9).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/worker.h"
#include "imap/imap-acl.h"
#include "imap/imap-metadata.h"
#include "imap/imap-notify.h"
#include "imap/imap-private.h"
#include "imap/imap-write.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"

/* One mailbox as the client was last told of it. */
struct notify_box {
	int64_t id;
	char *name;
	enum store_role role;
	bool subscribed;
	unsigned rights;	/* the user's (STORE_ACL_ALL: its own) */
	uint64_t counter;	/* shared: its change counter when counted */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	/* its counts, read while it is watched for message events */
	bool have_st;
	struct store_mailbox_status st;
};

struct notify_group {
	enum imap_notify_filter filter;
	unsigned events;
	char **names;		/* UTF-8, as the store names them */
	size_t n_names;
};

struct imap_notify {
	struct imap_session *s;
	struct imap_watcher watcher;
	/* what was asked */
	bool selected;
	bool delayed;
	unsigned selected_events;
	struct imap_arg *fetch_atts;	/* a copy of the LIST, or NULL */
	struct notify_group *groups;
	size_t n_groups;
	/* some group names MailboxMetadataChange or ServerMetadataChange
	 * (the latter: any group, it names no mailbox) */
	bool meta;
	bool server_meta;
	/* the last metadata change read (store_metadata_changes()) */
	int64_t meta_seq;
	/* what the client was told: the account's mailboxes (by id) and
	 * subscriptions to names without a mailbox (sorted), as of the
	 * account's change counter */
	uint64_t counter;
	struct notify_box *boxes;
	size_t n_boxes;
	char **subs;
	size_t n_subs;
	/* a delivery is under way (no command may start); woken during
	 * it */
	bool busy;
	bool again;
	/* overflowed (RFC 5465 5.8): goes when the delivery ends */
	bool off;
	/* woken during a delivery: looks again from the loop, after the
	 * commands that waited have had their turn */
	struct ioev_timer *retry;
	/* the selected mailbox's last UID before its sync: MessageNew's
	 * FETCH is for those above, by the UID set fetch_set */
	uint32_t last_uid;
	struct imap_arg fetch_args[2];
	char *fetch_set;
};

/* ---- what is watched ---- */

static bool
strv_has(char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

/* RFC 5465 5: STATUS and message events of a mailbox need "r" besides
 * the "l" that lets the user see it at all. */
static bool
may_read(unsigned rights)
{
	return imap_acl_check(true, rights, STORE_ACL_LOOKUP |
			      STORE_ACL_READ) == IMAP_ACL_OK;
}

static bool
name_under(const char *name, const char *root)
{
	size_t n = strlen(root);

	return strncmp(name, root, n) == 0 &&
	       (name[n] == '\0' || name[n] == STORE_MAILBOX_DELIM);
}

/* The events of the first group naming the mailbox (RFC 5465 6: a
 * client lists the specific before the general, "(mailboxes Spam NONE)
 * (personal ...)"). INBOXES and PERSONAL are the user's personal
 * namespace (RFC 5465 6.2, 6.3), never other users' mailboxes; the
 * others name shared mailboxes by their "Other Users/..." names. */
static unsigned
box_events(const struct imap_notify *n, const char *name, bool subscribed)
{
	for (size_t i = 0; i < n->n_groups; i++) {
		const struct notify_group *g = &n->groups[i];
		bool match = false;

		switch (g->filter) {
		case IMAP_NOTIFY_INBOXES:
		case IMAP_NOTIFY_PERSONAL:
			match = !imap_acl_name_is_shared(name);
			break;
		case IMAP_NOTIFY_SUBSCRIBED:
			match = subscribed;
			break;
		case IMAP_NOTIFY_SUBTREE:
		case IMAP_NOTIFY_MAILBOXES:
			for (size_t k = 0; k < g->n_names && !match; k++)
				match = g->filter == IMAP_NOTIFY_SUBTREE ?
					name_under(name, g->names[k]) :
					strcmp(name, g->names[k]) == 0;
			break;
		}
		if (match)
			return g->events;
	}
	return 0;
}

/* ---- the state ---- */

static void
arg_copy(struct imap_arg *dst, const struct imap_arg *src)
{
	*dst = *src;
	if (src->type == IMAP_ARG_LIST) {
		struct imap_arg *list = xcalloc(src->list_count + 1,
						sizeof(*list));

		for (size_t i = 0; i < src->list_count; i++)
			arg_copy(&list[i], &src->list[i]);
		dst->list = list;
		return;
	}
	dst->str = xmemdup(src->str, src->len + 1);
}

static void
arg_free(struct imap_arg *a)
{
	if (a->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < a->list_count; i++)
			arg_free((struct imap_arg *)&a->list[i]);
		free((void *)a->list);
		return;
	}
	free((void *)a->str);
}

static void
boxes_free(struct notify_box *boxes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(boxes[i].name);
	free(boxes);
}

static void
notify_free(struct imap_notify **np)
{
	struct imap_notify *n = *np;

	if (n == NULL)
		return;
	imap_watch_remove(&n->watcher);
	ioev_timer_free(&n->retry);
	if (n->fetch_atts != NULL) {
		arg_free(n->fetch_atts);
		free(n->fetch_atts);
	}
	for (size_t i = 0; i < n->n_groups; i++)
		store_strv_free(&n->groups[i].names, n->groups[i].n_names);
	free(n->groups);
	boxes_free(n->boxes, n->n_boxes);
	store_strv_free(&n->subs, n->n_subs);
	free(n->fetch_set);
	free(n);
	*np = NULL;
}

void
imap_notify_free(struct imap_session *s)
{
	notify_free(&s->notify);
}

bool
imap_notify_busy(const struct imap_session *s)
{
	return s->notify != NULL && s->notify->busy;
}

bool
imap_notify_idle_selected(const struct imap_session *s)
{
	return s->notify == NULL ||
	       (s->notify->selected && s->notify->selected_events != 0);
}

/* The account's change counter, which also moves when a mailbox shared
 * with the account changes or its rights on one do (the store's
 * triggers, docs/store.md "Change notification"), plus account 0's: the
 * server's shared metadata entries and mailboxes shared with "anyone"
 * bump it. A sum of counters that only grow moves when either does. */
static uint64_t
watch_counter(const struct imap_notify *n)
{
	const struct imap_session *s = n->s;

	return store_change_counter(s->store, STORE_WATCH_ACCOUNT,
				    s->account_id) +
	       store_change_counter(s->store, STORE_WATCH_ACCOUNT, 0);
}

static bool
selected_due(const struct imap_notify *n)
{
	return n->selected && n->selected_events != 0 &&
	       imap_sync_changed(n->s);
}

/* ---- reading the account (pool) ---- */

struct notify_job {
	struct imap_notify *n;	/* read-only on the pool */
	struct store *store;
	int64_t account_id;
	uint64_t counter;	/* read before the job: see store.h */
	bool initial;		/* NOTIFY SET: every watched mailbox */
	struct store_mailbox *mbs;
	size_t n_mbs;
	struct store_mailbox_status *sts;
	bool *have_st;
	unsigned *rights;	/* the user's on each of mbs */
	uint64_t *counters;	/* shared ones': read before their status */
	char **subs;
	size_t n_subs;
	/* the metadata entries changed, and the last change read */
	struct store_metadata_changed *meta;
	size_t n_meta;
	int64_t meta_last;
	enum store_result result;
	char error[200];
	/* the NOTIFY command's: its request and STATUS indicator */
	struct imap_notify *fresh;
	bool status;
};

static void
job_free(void *ctx)
{
	struct notify_job *job = ctx;

	store_mailboxes_free(&job->mbs, job->n_mbs);
	free(job->sts);
	free(job->have_st);
	free(job->rights);
	free(job->counters);
	store_strv_free(&job->subs, job->n_subs);
	store_metadata_changed_free(&job->meta, job->n_meta);
	notify_free(&job->fresh);
	free(job);
}

static const struct notify_box *
box_by_id(const struct imap_notify *n, int64_t id)
{
	size_t lo = 0, hi = n->n_boxes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n->boxes[mid].id == id)
			return &n->boxes[mid];
		if (n->boxes[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
mb_cmp_id(const void *a, const void *b)
{
	const struct store_mailbox *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int
shared_cmp_id(const void *a, const void *b)
{
	const struct store_acl_shared *x = a, *y = b;

	return x->mailbox_id < y->mailbox_id ? -1 :
	       x->mailbox_id > y->mailbox_id;
}

/* The other accounts' mailboxes the user may see ("l", RFC 4314 4: the
 * others do not exist for it), added to job->mbs under their client
 * names, subscribed when the user subscribed that name. */
static void
shared_add(struct notify_job *job, const struct store_acl_shared *sh,
	   size_t n_sh)
{
	size_t n = job->n_mbs;

	job->mbs = xreallocarray(job->mbs, n + n_sh + 1, sizeof(*job->mbs));
	for (size_t i = 0; i < n_sh; i++) {
		struct store_mailbox *mb;

		if (imap_acl_check(true, sh[i].rights, STORE_ACL_LOOKUP) !=
		    IMAP_ACL_OK)
			continue;
		mb = &job->mbs[n++];
		memset(mb, 0, sizeof(*mb));
		mb->id = sh[i].mailbox_id;
		mb->account_id = sh[i].owner_id;
		mb->name = imap_acl_client_name(true, sh[i].owner,
						sh[i].name);
		mb->role = STORE_ROLE_NONE;
		mb->subscribed = strv_has(job->subs, job->n_subs, mb->name);
	}
	job->n_mbs = n;
}

/* job->rights for the sorted job->mbs: every right on the user's own,
 * the ACL's on the others (sh sorted by mailbox id). */
static void
rights_fill(struct notify_job *job, const struct store_acl_shared *sh,
	    size_t n_sh)
{
	job->rights = xcalloc(job->n_mbs + 1, sizeof(*job->rights));
	for (size_t i = 0; i < job->n_mbs; i++) {
		struct store_acl_shared key = {
			.mailbox_id = job->mbs[i].id };
		const struct store_acl_shared *e;

		if (job->mbs[i].account_id == job->account_id) {
			job->rights[i] = STORE_ACL_ALL;
			continue;
		}
		e = n_sh == 0 ? NULL : bsearch(&key, sh, n_sh, sizeof(*sh),
					       shared_cmp_id);
		job->rights[i] = e != NULL ? e->rights : 0;
	}
}

/* A name under "Other Users/" with the owner's address as LIST spells
 * it (the store's), so that one typed in another case still names the
 * mailbox; left as it is when no account has that address. */
static enum store_result
name_canonical(struct store *store, char **name, const char **error_r)
{
	const char *owner = *name + strlen(IMAP_ACL_PREFIX), *slash;
	struct store_user *u = NULL;
	enum store_result r;
	char *address;

	if (!imap_acl_name_is_shared(*name) || *owner != '/')
		return STORE_OK;
	owner++;
	slash = strchr(owner, '/');
	address = slash != NULL ? xstrndup(owner, (size_t)(slash - owner)) :
		xstrdup(owner);
	r = store_user_lookup(store, address, &u, error_r);
	free(address);
	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID)
		return STORE_OK;
	if (r != STORE_OK)
		return r;
	address = xasprintf("%s/%s%s", IMAP_ACL_PREFIX, u->address,
			    slash != NULL ? slash : "");
	store_user_free(&u);
	free(*name);
	*name = address;
	return STORE_OK;
}

/* NOTIFY SET's SUBTREE and MAILBOXES names, before the first look (the
 * request is the job's alone until set_done). */
static enum store_result
names_canonical(struct store *store, struct imap_notify *n,
		const char **error_r)
{
	for (size_t g = 0; g < n->n_groups; g++)
		for (size_t k = 0; k < n->groups[g].n_names; k++) {
			enum store_result r = name_canonical(store,
				&n->groups[g].names[k], error_r);

			if (r != STORE_OK)
				return r;
		}
	return STORE_OK;
}

static void
job_work(void *ctx)
{
	struct notify_job *job = ctx;
	const struct imap_notify *n = job->fresh != NULL ? job->fresh :
		job->n;
	struct store_acl_shared *sh = NULL;
	size_t n_sh = 0;
	const char *error = NULL;

	job->result = job->fresh != NULL ?
		names_canonical(job->store, job->fresh, &error) : STORE_OK;
	if (job->result == STORE_OK)
		job->result = store_mailbox_list(job->store, job->account_id,
						 &job->mbs, &job->n_mbs,
						 &error);
	if (job->result == STORE_OK)
		job->result = store_subscription_list(job->store,
						      job->account_id,
						      &job->subs, &job->n_subs,
						      &error);
	if (job->result == STORE_OK)
		job->result = store_acl_shared_list(job->store,
						    job->account_id, &sh,
						    &n_sh, &error);
	/* NOTIFY SET starts from the newest change; later looks list the
	 * entries changed since */
	job->meta_last = n->meta_seq;
	if (job->result == STORE_OK && n->meta)
		job->result = store_metadata_changes(job->store,
			job->account_id, n->meta_seq,
			job->initial ? NULL : &job->meta, &job->n_meta,
			&job->meta_last, &error);
	if (job->result != STORE_OK) {
		snprintf(job->error, sizeof(job->error), "%s",
			 error != NULL ? error : "?");
		store_acl_shared_free(&sh, n_sh);
		return;
	}
	shared_add(job, sh, n_sh);
	/* qsort and bsearch want a base that is not NULL, even for no
	 * elements: an account emptied under NOTIFY has no mailboxes */
	if (job->n_mbs > 0)
		qsort(job->mbs, job->n_mbs, sizeof(*job->mbs), mb_cmp_id);
	if (n_sh > 0)
		qsort(sh, n_sh, sizeof(*sh), shared_cmp_id);
	rights_fill(job, sh, n_sh);
	store_acl_shared_free(&sh, n_sh);
	job->sts = xcalloc(job->n_mbs + 1, sizeof(*job->sts));
	job->have_st = xcalloc(job->n_mbs + 1, sizeof(*job->have_st));
	job->counters = xcalloc(job->n_mbs + 1, sizeof(*job->counters));
	for (size_t i = 0; i < job->n_mbs; i++) {
		struct store_mailbox *mb = &job->mbs[i];
		const struct notify_box *old = job->initial ? NULL :
			box_by_id(n, mb->id);
		bool shared = mb->account_id != job->account_id;
		enum store_result r;

		if ((box_events(n, mb->name, mb->subscribed) &
		     IMAP_NOTIFY_MESSAGE_EVENTS) == 0 ||
		    !may_read(job->rights[i]))
			continue;
		/* counted again only when something moved: a shared
		 * mailbox's row is not read, its change counter says */
		if (shared) {
			job->counters[i] = store_change_counter(job->store,
				STORE_WATCH_MAILBOX, mb->id);
			if (old != NULL && old->have_st &&
			    job->counters[i] != 0 &&
			    old->counter == job->counters[i]) {
				job->sts[i] = old->st;
				job->have_st[i] = true;
				continue;
			}
		} else if (old != NULL && old->have_st &&
			   old->uidvalidity == mb->uidvalidity &&
			   old->uidnext == mb->uidnext &&
			   old->highestmodseq == mb->highestmodseq) {
			job->sts[i] = old->st;
			job->have_st[i] = true;
			continue;
		}
		r = store_mailbox_status(job->store, mb->id, &job->sts[i],
					 &error);
		/* deleted meanwhile: the next look finds it gone */
		if (r == STORE_E_NOT_FOUND)
			continue;
		if (r != STORE_OK) {
			job->result = r;
			snprintf(job->error, sizeof(job->error), "%s",
				 error != NULL ? error : "?");
			return;
		}
		job->have_st[i] = true;
	}
}

/* ---- writing ---- */

static unsigned
write_flags(const struct imap_session *s)
{
	return s->utf8 ? IMAP_WRITE_UTF8 : 0;
}

static void
write_status(struct imap_session *s, struct buf *out, const char *name,
	     const struct store_mailbox_status *st)
{
	struct imap_status_items items = {
		.mask = IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT |
			IMAP_STATUS_UIDVALIDITY | IMAP_STATUS_UNSEEN,
		.count = 4,
		.order = { IMAP_STATUS_MESSAGES, IMAP_STATUS_UIDNEXT,
			   IMAP_STATUS_UIDVALIDITY, IMAP_STATUS_UNSEEN },
	};
	const char *error;

	/* RFC 5465 5.2, 5.3: HIGHESTMODSEQ once CONDSTORE is on */
	if (s->condstore) {
		items.mask |= IMAP_STATUS_HIGHESTMODSEQ;
		items.order[items.count++] = IMAP_STATUS_HIGHESTMODSEQ;
	}
	(void)imap_status_write(out, name, write_flags(s), &items, st, &error);
}

static bool
has_children(const struct store_mailbox *mbs, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (strncmp(mbs[i].name, name, len) == 0 &&
		    mbs[i].name[len] == STORE_MAILBOX_DELIM)
			return true;
	return false;
}

/* "* LIST (attrs) "/" name", with OLDNAME for a rename (RFC 5465 5.4,
 * 5.5); mb NULL: a name that is no mailbox (\NonExistent); noaccess: one
 * the user sees but may not read (RFC 5465 3.1, 5.9). */
static void
write_list(struct imap_session *s, struct buf *out,
	   const struct notify_job *job, const struct store_mailbox *mb,
	   const char *name, bool subscribed, const char *oldname,
	   bool noaccess)
{
	struct imap_write_list list;
	size_t start = out->len;
	const char *error;

	buf_puts(out, "* LIST ");
	imap_write_list_begin(&list, out);
	if (mb == NULL) {
		buf_puts(imap_write_list_item(&list), "\\NonExistent");
	} else {
		const char *use = store_role_imap(mb->role);

		buf_puts(imap_write_list_item(&list),
			 has_children(job->mbs, job->n_mbs, name) ?
			 "\\HasChildren" : "\\HasNoChildren");
		if (use != NULL)
			buf_puts(imap_write_list_item(&list), use);
		if (noaccess)
			buf_puts(imap_write_list_item(&list), "\\NoAccess");
	}
	if (subscribed)
		buf_puts(imap_write_list_item(&list), "\\Subscribed");
	imap_write_list_end(&list);
	buf_puts(out, " \"/\" ");
	if (imap_write_mailbox(out, name, strlen(name), write_flags(s),
			       &error) < 0)
		goto skip;
	if (oldname != NULL) {
		buf_puts(out, " (\"OLDNAME\" (");
		if (imap_write_mailbox(out, oldname, strlen(oldname),
				       write_flags(s), &error) < 0)
			goto skip;
		buf_puts(out, "))");
	}
	buf_puts(out, "\r\n");
	return;
skip:
	/* never stored by Herald (store_mailbox_name_check) */
	buf_truncate(out, start);
}

static bool
mbs_has_name(const struct store_mailbox *mbs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(mbs[i].name, name) == 0)
			return true;
	return false;
}

static bool
boxes_have_name(const struct imap_notify *n, const char *name)
{
	for (size_t i = 0; i < n->n_boxes; i++)
		if (strcmp(n->boxes[i].name, name) == 0)
			return true;
	return false;
}

/* The responses for what changed since the client was last told;
 * returns how many. */
static size_t
write_changes(struct imap_session *s, struct imap_notify *n,
	      const struct notify_job *job, struct buf *out)
{
	int64_t selected = s->box != NULL ? s->box->id : 0;
	size_t count = 0;

	for (size_t i = 0; i < job->n_mbs; i++) {
		const struct store_mailbox *mb = &job->mbs[i];
		const struct notify_box *old = box_by_id(n, mb->id);
		unsigned ev = box_events(n, mb->name, mb->subscribed);
		const struct store_mailbox_status *st = &job->sts[i];
		bool can = may_read(job->rights[i]);

		/* a shared mailbox the user gains "l" on appears as if
		 * created (RFC 5465 5.4) */
		if (old == NULL) {
			if (ev & IMAP_NOTIFY_MAILBOX_NAME) {
				write_list(s, out, job, mb, mb->name,
					   mb->subscribed, NULL,
					   !can && (ev &
					   IMAP_NOTIFY_MESSAGE_EVENTS));
				count++;
			}
			continue;
		}
		ev |= box_events(n, old->name, old->subscribed);
		if (strcmp(old->name, mb->name) != 0) {
			if (ev & IMAP_NOTIFY_MAILBOX_NAME) {
				write_list(s, out, job, mb, mb->name,
					   mb->subscribed, old->name, false);
				count++;
			}
		} else if (old->subscribed != mb->subscribed &&
			   (ev & IMAP_NOTIFY_SUBSCRIPTION_CHANGE)) {
			write_list(s, out, job, mb, mb->name, mb->subscribed,
				   NULL, false);
			count++;
		}
		/* RFC 5465 5.9: losing "r" stops the monitoring, told as
		 * \NoAccess; getting it back restarts it, told by a LIST
		 * without and the STATUS as of now */
		if (mb->id != selected && (ev & IMAP_NOTIFY_MESSAGE_EVENTS) &&
		    may_read(old->rights) != can) {
			write_list(s, out, job, mb, mb->name, mb->subscribed,
				   NULL, !can);
			count++;
			if (job->have_st[i]) {
				write_status(s, out, mb->name, st);
				count++;
			}
			continue;
		}
		/* the selected mailbox's go as EXISTS, EXPUNGE, FETCH
		 * (RFC 5465 5.2: STATUS is for the others) */
		if (mb->id == selected || !job->have_st[i] || !old->have_st ||
		    (ev & IMAP_NOTIFY_MESSAGE_EVENTS) == 0)
			continue;
		if (st->messages != old->st.messages ||
		    st->uidnext != old->st.uidnext ||
		    st->uidvalidity != old->st.uidvalidity ||
		    ((ev & IMAP_NOTIFY_FLAG_CHANGE) &&
		     (st->unseen != old->st.unseen ||
		      st->highestmodseq != old->st.highestmodseq))) {
			write_status(s, out, mb->name, st);
			count++;
		}
	}
	for (size_t i = 0; i < n->n_boxes; i++) {
		const struct notify_box *old = &n->boxes[i];
		struct store_mailbox key = { .id = old->id };

		if (job->n_mbs > 0 &&
		    bsearch(&key, job->mbs, job->n_mbs, sizeof(*job->mbs),
			    mb_cmp_id) != NULL)
			continue;
		if (box_events(n, old->name, old->subscribed) &
		    IMAP_NOTIFY_MAILBOX_NAME) {
			write_list(s, out, job, NULL, old->name,
				   strv_has(job->subs, job->n_subs, old->name),
				   NULL, false);
			count++;
		}
	}
	/* subscriptions to names that are no mailbox; a name whose
	 * mailbox came or went was told of above */
	for (size_t i = 0; i < job->n_subs; i++) {
		const char *name = job->subs[i];

		if (strv_has(n->subs, n->n_subs, name) ||
		    boxes_have_name(n, name) ||
		    !(box_events(n, name, true) &
		      IMAP_NOTIFY_SUBSCRIPTION_CHANGE))
			continue;
		write_list(s, out, job, NULL, name, true, NULL, false);
		count++;
	}
	for (size_t i = 0; i < n->n_subs; i++) {
		const char *name = n->subs[i];

		if (strv_has(job->subs, job->n_subs, name) ||
		    mbs_has_name(job->mbs, job->n_mbs, name) ||
		    !(box_events(n, name, true) &
		      IMAP_NOTIFY_SUBSCRIPTION_CHANGE))
			continue;
		write_list(s, out, job, NULL, name, false, NULL, false);
		count++;
	}
	return count;
}

/* "* METADATA mailbox entry..." (RFC 5464 4.4.2, RFC 5465 5.9, 5.10) for
 * each mailbox whose entries changed, "" for the server; returns how
 * many. The rows come sorted by mailbox. */
static size_t
write_metadata(struct imap_session *s, const struct imap_notify *n,
	       const struct notify_job *job, struct buf *out)
{
	size_t count = 0;

	for (size_t i = 0; i < job->n_meta;) {
		int64_t id = job->meta[i].mailbox_id;
		const char *name = NULL;
		size_t end = i, start = out->len;
		const char *error;
		bool told;

		while (end < job->n_meta && job->meta[end].mailbox_id == id)
			end++;
		if (id == STORE_METADATA_SERVER) {
			told = n->server_meta;
		} else {
			struct store_mailbox key = { .id = id };
			const struct store_mailbox *mb = job->n_mbs == 0 ? NULL :
				bsearch(&key, job->mbs, job->n_mbs,
					sizeof(*job->mbs), mb_cmp_id);

			/* a mailbox gone meanwhile: MailboxName tells; one
			 * shared with the user only while it may read the
			 * entries (GETMETADATA's rights, RFC 5464 3.3) */
			told = mb != NULL &&
			       (box_events(n, mb->name, mb->subscribed) &
				IMAP_NOTIFY_MAILBOX_METADATA_CHANGE) != 0 &&
			       imap_metadata_acl(true,
						 job->rights[mb - job->mbs],
						 false) == IMAP_ACL_OK;
			if (mb != NULL)
				name = mb->name;
		}
		if (told) {
			buf_puts(out, "* METADATA ");
			if (id == STORE_METADATA_SERVER) {
				buf_puts(out, "\"\"");
			} else if (imap_write_mailbox(out, name, strlen(name),
						      write_flags(s),
						      &error) < 0) {
				/* never stored by Herald */
				buf_truncate(out, start);
				i = end;
				continue;
			}
			for (size_t k = i; k < end; k++) {
				buf_putc(out, ' ');
				imap_write_astring(out, job->meta[k].name,
						   strlen(job->meta[k].name),
						   0);
			}
			buf_puts(out, "\r\n");
			count++;
		}
		i = end;
	}
	return count;
}

/* Takes the job's mailboxes as what the client now knows. */
static void
snapshot_take(struct imap_notify *n, struct notify_job *job)
{
	struct notify_box *boxes = xcalloc(job->n_mbs + 1, sizeof(*boxes));

	for (size_t i = 0; i < job->n_mbs; i++) {
		const struct store_mailbox *mb = &job->mbs[i];
		struct notify_box *b = &boxes[i];

		b->id = mb->id;
		b->name = xstrdup(mb->name);
		b->role = mb->role;
		b->subscribed = mb->subscribed;
		b->rights = job->rights[i];
		b->counter = job->counters[i];
		b->uidvalidity = mb->uidvalidity;
		b->uidnext = mb->uidnext;
		b->highestmodseq = mb->highestmodseq;
		b->have_st = job->have_st[i];
		b->st = job->sts[i];
	}
	boxes_free(n->boxes, n->n_boxes);
	n->boxes = boxes;
	n->n_boxes = job->n_mbs;
	store_strv_free(&n->subs, n->n_subs);
	n->subs = job->subs;
	n->n_subs = job->n_subs;
	job->subs = NULL;
	job->n_subs = 0;
	n->counter = job->counter;
	n->meta_seq = job->meta_last;
}

/* ---- delivering between commands ---- */

static void pass_end(struct imap_notify *n);

/* RFC 5465 5.8: too much to tell; as if NOTIFY NONE had come */
static void
overflow(struct imap_session *s, const char *why)
{
	char ubuf[300];

	log_info(s->id, "imap", "notify-overflow", "user=<%s> reason=%s",
		 s->user != NULL ? log_str(ubuf, sizeof(ubuf), s->user) : "",
		 why);
	buf_puts(imap_session_out(s), "* OK [NOTIFICATIONOVERFLOW] Too many "
		 "changes to tell, NOTIFY is off now\r\n");
	imap_session_flush(s);
	/* the delivery's state goes at its end (pass_end) */
	s->notify->off = true;
}

static void
account_done(void *ctx)
{
	struct notify_job *job = ctx;
	struct imap_notify *n = job->n;
	struct imap_session *s = n->s;
	struct buf out;
	size_t count;

	if (ioev_conn_is_closed(s->conn)) {
		job_free(job);
		return;
	}
	if (job->result != STORE_OK) {
		/* looked at again at the next wake: the counter stays */
		log_warn(s->id, "imap", "notify-failed", "result=%s "
			 "error=\"%s\"", store_result_str(job->result),
			 job->error);
		job_free(job);
		pass_end(n);
		return;
	}
	buf_init(&out);
	count = write_changes(s, n, job, &out);
	count += write_metadata(s, n, job, &out);
	snapshot_take(n, job);
	if (count > s->set->notify_events_max) {
		overflow(s, "events");
	} else if (out.len > 0) {
		buf_append(imap_session_out(s), out.data, out.len);
		imap_session_flush(s);
	}
	buf_deinit(&out);
	job_free(job);
	pass_end(n);
}

static void
account_step(struct imap_notify *n)
{
	struct imap_session *s = n->s;
	struct notify_job *job;
	uint64_t counter = watch_counter(n);

	if (n->off || n->n_groups == 0 || counter == n->counter) {
		pass_end(n);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->n = n;
	job->store = s->store;
	job->account_id = s->account_id;
	job->counter = counter;
	ioev_conn_run_blocking(s->conn, job_work, account_done, job);
}

static void
fetched(struct imap_session *s)
{
	struct imap_notify *n = s->notify;

	xfree(&n->fetch_set);
	account_step(n);
}

/* RFC 5465 5.2: EXISTS went out, then the FETCH asked for */
static void
selected_synced(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	struct imap_mailbox *box = s->box;
	uint32_t *uids;
	size_t k = 0;
	struct buf set;

	if (n->fetch_atts == NULL || box == NULL || box->count == 0 ||
	    box->msgs[box->count - 1].uid <= n->last_uid) {
		account_step(n);
		return;
	}
	uids = xcalloc(box->count, sizeof(*uids));
	for (size_t i = 0; i < box->count; i++)
		if (box->msgs[i].uid > n->last_uid && !box->msgs[i].expunged)
			uids[k++] = box->msgs[i].uid;
	if (k == 0) {
		free(uids);
		account_step(n);
		return;
	}
	buf_init(&set);
	imap_write_uid_set(&set, uids, k);
	free(uids);
	/* kept in n: the command may outlive the call, or the session
	 * close under it */
	free(n->fetch_set);
	n->fetch_set = buf_steal(&set);
	n->fetch_args[0] = (struct imap_arg){ .type = IMAP_ARG_ATOM,
		.str = n->fetch_set, .len = strlen(n->fetch_set) };
	n->fetch_args[1] = *n->fetch_atts;
	imap_session_run_internal(s, "FETCH", true, n->fetch_args, 2,
				  fetched);
}

static void
pass_start(struct imap_notify *n)
{
	struct imap_session *s = n->s;

	n->busy = true;
	n->again = false;
	if (s->cmd == NULL)
		imap_session_pause(s, true);
	/* a client that does not read what it is sent falls behind */
	if (imap_session_output_full(s)) {
		overflow(s, "output");
		pass_end(n);
		return;
	}
	if (s->cmd == NULL && !n->off && selected_due(n)) {
		struct imap_mailbox *box = s->box;

		n->last_uid = box->count > 0 ? box->msgs[box->count - 1].uid :
			0;
		/* RFC 5465 6.1: SELECTED sends EXPUNGE as it happens (no
		 * command runs now), SELECTED-DELAYED holds it for the
		 * next command that may have it */
		imap_sync_start(s, !n->delayed, selected_synced);
		return;
	}
	account_step(n);
}

static bool
due(const struct imap_notify *n)
{
	return (n->n_groups > 0 && watch_counter(n) != n->counter) ||
	       selected_due(n);
}

static void
retry_cb(void *arg)
{
	struct imap_notify *n = arg;

	if (n->busy) {
		n->again = true;
		return;
	}
	(void)imap_notify_kick(n->s);
}

/* The delivery is over: input again (what it resumes may end the
 * session or this NOTIFY, so nothing is touched after). */
static void
pass_end(struct imap_notify *n)
{
	struct imap_session *s = n->s;

	n->busy = false;
	if (n->off) {
		imap_notify_free(s);
		if (s->cmd == NULL)
			imap_session_resume(s);
		return;
	}
	if (n->again) {
		/* from the loop: a command waiting in the input goes
		 * first, and a flood of changes cannot starve it */
		n->again = false;
		ioev_timer_start(n->retry, 0, false);
	}
	if (s->cmd == NULL)
		imap_session_resume(s);
}

bool
imap_notify_kick(struct imap_session *s)
{
	struct imap_notify *n = s->notify;

	/* a command half sent (waiting for its literal) is a command in
	 * progress: its end kicks again */
	if (n == NULL || n->busy || s->cmd != NULL ||
	    s->state == IMAP_STATE_LOGOUT ||
	    imap_parser_has_partial(s->parser) || !due(n))
		return false;
	pass_start(n);
	return true;
}

static void
notify_wake(struct imap_watcher *w)
{
	struct imap_notify *n = (struct imap_notify *)((char *)w -
		offsetof(struct imap_notify, watcher));
	struct imap_session *s = n->s;

	if (n->busy) {
		n->again = true;
		return;
	}
	if (s->cmd == NULL) {
		(void)imap_notify_kick(s);
		return;
	}
	/* RFC 5465 4: during IDLE, the same events (IDLE itself brings
	 * the selected mailbox's) */
	if (s->cmd->def != NULL && s->cmd->def->run == imap_cmd_idle &&
	    n->n_groups > 0 && watch_counter(n) != n->counter)
		pass_start(n);
}

/* ---- the command ---- */

/* RFC 5465 3.1: a mailbox named for message events that the user sees
 * but may not read gets a LIST with \NoAccess; one it may not see (or
 * that does not exist) is ignored, whoever owns it. */
static void
write_noaccess(struct imap_session *s, const struct imap_notify *n,
	       const struct notify_job *job, int64_t selected)
{
	for (size_t g = 0; g < n->n_groups; g++) {
		const struct notify_group *grp = &n->groups[g];

		if (grp->filter != IMAP_NOTIFY_SUBTREE &&
		    grp->filter != IMAP_NOTIFY_MAILBOXES)
			continue;
		for (size_t k = 0; k < grp->n_names; k++) {
			for (size_t i = 0; i < job->n_mbs; i++) {
				const struct store_mailbox *mb = &job->mbs[i];

				if (strcmp(mb->name, grp->names[k]) != 0 ||
				    mb->id == selected ||
				    may_read(job->rights[i]) ||
				    !(box_events(n, mb->name,
						 mb->subscribed) &
				      IMAP_NOTIFY_MESSAGE_EVENTS))
					continue;
				write_list(s, imap_session_out(s), job, mb,
					   mb->name, mb->subscribed, NULL,
					   true);
			}
		}
	}
}

static void
set_done(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct notify_job *job = cmd->ctx;
	struct imap_notify *n = job->fresh;
	int64_t selected = s->box != NULL ? s->box->id : 0;

	if (job->result != STORE_OK) {
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		return;
	}
	/* RFC 5465 3.1: STATUS of each watched mailbox before the OK */
	for (size_t i = 0; job->status && i < job->n_mbs; i++)
		if (job->have_st[i] && job->mbs[i].id != selected)
			write_status(s, imap_session_out(s), job->mbs[i].name,
				     &job->sts[i]);
	write_noaccess(s, n, job, selected);
	snapshot_take(n, job);
	if (!imap_watch_add(s, &n->watcher)) {
		(void)imap_cmd_no(cmd, "[UNAVAILABLE] NOTIFY is not available "
				  "now");
		return;
	}
	imap_notify_free(s);
	s->notify = n;
	job->fresh = NULL;
	/* RFC 5465 3.1: an implicit NOOP, which the tagged reply's sync
	 * is */
	(void)imap_cmd_ok(cmd, "NOTIFY completed");
}

static enum imap_cmd_result
bad_event(struct imap_cmd *cmd)
{
	struct buf b;
	enum imap_cmd_result r;

	buf_init(&b);
	imap_notify_write_events(&b, IMAP_NOTIFY_SUPPORTED);
	r = imap_cmd_no(cmd, "[BADEVENT (%s)] Unsupported event", b.data);
	buf_deinit(&b);
	return r;
}

enum imap_cmd_result
imap_cmd_notify(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_notify_request req;
	struct imap_notify *n;
	struct notify_job *job;
	const char *error;
	bool status;

	if (imap_notify_parse(cmd->args, cmd->n_args, &req, &error) < 0)
		return imap_cmd_bad(cmd, "%s", error);
	if (req.none) {
		imap_notify_free(s);
		return imap_cmd_ok(cmd, "NOTIFY completed");
	}
	if ((req.events_used & ~(unsigned)IMAP_NOTIFY_SUPPORTED) != 0) {
		imap_notify_request_deinit(&req);
		return bad_event(cmd);
	}
	n = xcalloc(1, sizeof(*n));
	n->s = s;
	n->watcher.wake = notify_wake;
	n->retry = ioev_timer_new(s->w->loop, retry_cb, n);
	n->selected = req.selected;
	n->delayed = req.delayed;
	n->selected_events = req.selected_events;
	if (req.fetch_atts != NULL) {
		n->fetch_atts = xcalloc(1, sizeof(*n->fetch_atts));
		arg_copy(n->fetch_atts, req.fetch_atts);
	}
	n->groups = xcalloc(req.n_groups + 1, sizeof(*n->groups));
	for (size_t i = 0; i < req.n_groups; i++) {
		const struct imap_notify_group *rg = &req.groups[i];
		struct notify_group *g = &n->groups[n->n_groups];

		/* NONE is what an unnamed mailbox gets anyway, but it
		 * stays: the first group naming a mailbox decides */
		g->filter = rg->filter;
		g->events = rg->events;
		if (g->events & IMAP_NOTIFY_MAILBOX_METADATA_CHANGE)
			n->meta = true;
		if (g->events & IMAP_NOTIFY_SERVER_METADATA_CHANGE)
			n->meta = n->server_meta = true;
		g->names = xcalloc(rg->n_names + 1, sizeof(*g->names));
		n->n_groups++;
		for (size_t k = 0; k < rg->n_names; k++) {
			if (imap_mailbox_arg(s, rg->names[k],
					     &g->names[g->n_names],
					     &error) < 0) {
				imap_notify_request_deinit(&req);
				notify_free(&n);
				return imap_cmd_bad(cmd, "%s", error);
			}
			g->n_names++;
		}
	}
	status = req.status;
	imap_notify_request_deinit(&req);
	job = xcalloc(1, sizeof(*job));
	job->n = n;
	job->fresh = n;
	job->status = status;
	job->initial = true;
	job->store = s->store;
	job->account_id = s->account_id;
	job->counter = watch_counter(n);
	return imap_cmd_run_blocking(cmd, job_work, set_done, job, job_free);
}
