/* SPDX-License-Identifier: MIT */
/*
 * RFC 5256 3 THREAD algorithms. The REFERENCES tree is a node array
 * (messages first, then dummies) linked by index: parent, first child,
 * siblings; a hash table maps Message-IDs to nodes and base subjects to
 * threads. Every walk over the tree is iterative (a thread may be as
 * deep as the mailbox is large), and pool threads have ordinary stacks.
 */
#include "imap/imap-thread.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"

#define NONE ((size_t)-1)

struct tnode {
	size_t msg;		/* index into msgs, NONE for a dummy */
	size_t parent, first, last, next, prev;
	/* for sorting: the message that stands for this node (a dummy:
	 * its first child's, once its children are ordered) */
	size_t rep;
};

struct tree {
	const struct imap_thread_msg *msgs;
	struct tnode *v;
	size_t n, cap;
	size_t root;
};

/* ---- a string -> node hash table (open addressing) ---- */

struct htab {
	const char **keys;
	size_t *vals;
	size_t cap;		/* a power of two */
	size_t used;
};

static uint64_t
str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static void
htab_init(struct htab *t, size_t expect)
{
	t->cap = 16;
	while (t->cap < expect * 2)
		t->cap *= 2;
	t->keys = xcalloc(t->cap, sizeof(*t->keys));
	t->vals = xcalloc(t->cap, sizeof(*t->vals));
	t->used = 0;
}

static void
htab_deinit(struct htab *t)
{
	free(t->keys);
	free(t->vals);
}

static size_t *
htab_slot(struct htab *t, const char *key, bool insert)
{
	size_t i;

	if (insert && (t->used + 1) * 2 > t->cap) {
		struct htab bigger;

		htab_init(&bigger, t->cap);
		for (size_t k = 0; k < t->cap; k++)
			if (t->keys[k] != NULL)
				*htab_slot(&bigger, t->keys[k], true) =
					t->vals[k];
		htab_deinit(t);
		*t = bigger;
	}
	i = (size_t)str_hash(key) & (t->cap - 1);
	while (t->keys[i] != NULL && strcmp(t->keys[i], key) != 0)
		i = (i + 1) & (t->cap - 1);
	if (t->keys[i] == NULL) {
		if (!insert)
			return NULL;
		t->keys[i] = key;
		t->used++;
	}
	return &t->vals[i];
}

/* ---- the tree ---- */

static size_t
node_new(struct tree *t, size_t msg)
{
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n] = (struct tnode){ .msg = msg, .parent = NONE,
				     .first = NONE, .last = NONE,
				     .next = NONE, .prev = NONE, .rep = msg };
	return t->n++;
}

static void
unlink_node(struct tree *t, size_t c)
{
	struct tnode *x = &t->v[c];

	if (x->parent == NONE)
		return;
	if (x->prev != NONE)
		t->v[x->prev].next = x->next;
	else
		t->v[x->parent].first = x->next;
	if (x->next != NONE)
		t->v[x->next].prev = x->prev;
	else
		t->v[x->parent].last = x->prev;
	x->parent = x->prev = x->next = NONE;
}

static void
append_child(struct tree *t, size_t p, size_t c)
{
	struct tnode *x = &t->v[c];

	unlink_node(t, c);
	x->parent = p;
	x->prev = t->v[p].last;
	x->next = NONE;
	if (t->v[p].last != NONE)
		t->v[t->v[p].last].next = c;
	else
		t->v[p].first = c;
	t->v[p].last = c;
}

/* Whether making p the parent of c would make a loop: p is c or one of
 * c's descendants. */
static bool
would_loop(const struct tree *t, size_t p, size_t c)
{
	for (size_t a = p; a != NONE; a = t->v[a].parent)
		if (a == c)
			return true;
	return false;
}

static size_t
children_count(const struct tree *t, size_t p)
{
	size_t n = 0;

	for (size_t c = t->v[p].first; c != NONE; c = t->v[c].next)
		n++;
	return n;
}

/* Earlier sent date first, then lower sequence number (RFC 5256 2.2);
 * a node stands for its rep message. */
static int
node_cmp(const struct tree *t, size_t a, size_t b)
{
	const struct imap_thread_msg *x = &t->msgs[t->v[a].rep];
	const struct imap_thread_msg *y = &t->msgs[t->v[b].rep];

	if (x->sent != y->sent)
		return x->sent < y->sent ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef int idx_cmp_fn(const struct tree *t, size_t a, size_t b);

/* A stable merge sort of indexes (tmp: n more). */
static void
merge(size_t *v, size_t *tmp, size_t n, const struct tree *t,
      idx_cmp_fn *cmp)
{
	size_t mid = n / 2, i = 0, j = mid, k = 0;

	if (n < 2)
		return;
	merge(v, tmp, mid, t, cmp);
	merge(v + mid, tmp, n - mid, t, cmp);
	while (i < mid && j < n)
		tmp[k++] = cmp(t, v[j], v[i]) < 0 ? v[j++] : v[i++];
	while (i < mid)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

/* Orders p's children by date and sets p's rep when p is a dummy. */
static void
sort_children(struct tree *t, size_t p, size_t **buf, size_t *cap)
{
	size_t n = children_count(t, p), k = 0;

	if (n == 0)
		return;
	if (*cap < 2 * n) {
		*cap = 2 * n;
		*buf = xreallocarray(*buf, *cap, sizeof(**buf));
	}
	for (size_t c = t->v[p].first; c != NONE; c = t->v[c].next)
		(*buf)[k++] = c;
	merge(*buf, *buf + n, n, t, node_cmp);
	t->v[p].first = t->v[p].last = NONE;
	for (k = 0; k < n; k++) {
		size_t c = (*buf)[k];

		t->v[c].parent = NONE;
		append_child(t, p, c);
	}
	if (t->v[p].msg == NONE)
		t->v[p].rep = t->v[p].first != NONE ?
			      t->v[t->v[p].first].rep : NONE;
}

/* The nodes under from (not from itself) children before parents. */
static size_t *
post_order(const struct tree *t, size_t from, size_t *n_r)
{
	size_t *out = xcalloc(t->n + 1, sizeof(*out));
	size_t *stack = xcalloc(t->n + 1, sizeof(*stack));
	size_t n = 0, sp = 0;

	/* reversed pre-order with children pushed in order gives a
	 * post-order once reversed */
	for (size_t c = t->v[from].first; c != NONE; c = t->v[c].next)
		stack[sp++] = c;
	while (sp > 0) {
		size_t x = stack[--sp];

		out[n++] = x;
		for (size_t c = t->v[x].first; c != NONE; c = t->v[c].next)
			stack[sp++] = c;
	}
	for (size_t i = 0; i < n / 2; i++) {
		size_t tmp = out[i];

		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	free(stack);
	*n_r = n;
	return out;
}

/* Step (6) (and (4) for the root): every sibling set by date, the
 * youngest generations first. */
static void
sort_all(struct tree *t)
{
	size_t n, *order = post_order(t, t->root, &n), *buf = NULL, cap = 0;

	for (size_t i = 0; i < n; i++)
		sort_children(t, order[i], &buf, &cap);
	sort_children(t, t->root, &buf, &cap);
	free(buf);
	free(order);
}

/* Step (3): dummies without children go; a dummy's children take its
 * place, except under the root when there are several. Children are
 * pruned before their parent, so what is promoted is pruned already. */
static void
prune(struct tree *t)
{
	size_t n, *order = post_order(t, t->root, &n);

	for (size_t i = 0; i < n; i++) {
		size_t d = order[i], p = t->v[d].parent, c;

		if (t->v[d].msg != NONE)
			continue;
		if (t->v[d].first == NONE) {
			unlink_node(t, d);
			continue;
		}
		if (p == t->root && t->v[d].first != t->v[d].last)
			continue;
		/* splice the children in where the dummy was */
		while ((c = t->v[d].first) != NONE) {
			unlink_node(t, c);
			t->v[c].parent = p;
			t->v[c].prev = t->v[d].prev;
			t->v[c].next = d;
			if (t->v[d].prev != NONE)
				t->v[t->v[d].prev].next = c;
			else
				t->v[p].first = c;
			t->v[d].prev = c;
		}
		unlink_node(t, d);
	}
	free(order);
}

/* The thread subject of a root child (step 5.B.i): its own, or its
 * first child's for a dummy; NULL when empty. */
static const char *
thread_subject(const struct tree *t, size_t x)
{
	size_t m = t->v[x].msg;
	const char *s;

	if (m == NONE) {
		if (t->v[x].first == NONE)
			return NULL;
		m = t->v[t->v[x].first].msg;
		if (m == NONE)
			return NULL;
	}
	s = t->msgs[m].subject;
	return s != NULL && s[0] != '\0' ? s : NULL;
}

static bool
is_reply(const struct tree *t, size_t x)
{
	return t->v[x].msg != NONE && t->msgs[t->v[x].msg].reply;
}

/* Step (5): threads with the same base subject gathered. */
static void
gather_subjects(struct tree *t)
{
	struct htab subjects;
	size_t n = children_count(t, t->root), k = 0;
	size_t *kids = xcalloc(n + 1, sizeof(*kids));

	for (size_t c = t->v[t->root].first; c != NONE; c = t->v[c].next)
		kids[k++] = c;
	htab_init(&subjects, n);
	/* (B) one thread per subject */
	for (k = 0; k < n; k++) {
		size_t c = kids[k], *slot, e;
		const char *subj = thread_subject(t, c);

		if (subj == NULL)
			continue;
		slot = htab_slot(&subjects, subj, false);
		if (slot == NULL) {
			*htab_slot(&subjects, subj, true) = c;
			continue;
		}
		e = *slot;
		if (t->v[e].msg != NONE &&
		    (t->v[c].msg == NONE || (is_reply(t, e) && !is_reply(t, c))))
			*slot = c;
	}
	/* (C) merge */
	for (k = 0; k < n; k++) {
		size_t c = kids[k], *slot, e, d;
		const char *subj;

		if (t->v[c].parent != t->root)
			continue;	/* merged into another already */
		subj = thread_subject(t, c);
		if (subj == NULL)
			continue;
		slot = htab_slot(&subjects, subj, false);
		e = *slot;
		if (e == c)
			continue;
		if (t->v[e].msg == NONE && t->v[c].msg == NONE) {
			size_t x;

			while ((x = t->v[c].first) != NONE)
				append_child(t, e, x);
			unlink_node(t, c);
		} else if (t->v[e].msg == NONE) {
			append_child(t, e, c);
		} else if (is_reply(t, c) && !is_reply(t, e)) {
			append_child(t, e, c);
		} else {
			d = node_new(t, NONE);
			/* e's place at the root goes to the new dummy */
			append_child(t, t->root, d);
			append_child(t, d, e);
			append_child(t, d, c);
			*slot = d;
		}
	}
	htab_deinit(&subjects);
	free(kids);
}

static void
references(struct tree *t, size_t n)
{
	struct htab ids;

	/* the messages are nodes 0..n-1, the root node n */
	for (size_t i = 0; i < n; i++)
		node_new(t, i);
	t->root = node_new(t, NONE);
	htab_init(&ids, n);
	for (size_t i = 0; i < n; i++) {
		const struct imap_thread_msg *m = &t->msgs[i];
		size_t *slot, prev = NONE;
		const char *r = m->refs;

		/* (1) the message's own id: a dummy made for it earlier
		 * becomes it; a duplicate counts for the first only (the
		 * later ones are given unique ids: they are simply not in
		 * the table) */
		if (m->msgid != NULL) {
			slot = htab_slot(&ids, m->msgid, true);
			if (*slot == 0) {
				*slot = i + 1;	/* node index + 1 */
			} else if (t->v[*slot - 1].msg == NONE) {
				size_t dummy = *slot - 1;

				/* take the dummy's place and children */
				while (t->v[dummy].first != NONE)
					append_child(t, i,
						     t->v[dummy].first);
				if (t->v[dummy].parent != NONE)
					append_child(t, t->v[dummy].parent,
						     i);
				unlink_node(t, dummy);
				*slot = i + 1;
			}
		}
		/* (1.A) link the references in order */
		for (size_t k = 0; k < m->n_refs; k++) {
			size_t cur;

			slot = htab_slot(&ids, r, true);
			if (*slot == 0)
				*slot = node_new(t, NONE) + 1;
			cur = *slot - 1;
			if (prev != NONE && t->v[cur].parent == NONE &&
			    !would_loop(t, prev, cur))
				append_child(t, prev, cur);
			prev = cur;
			r += strlen(r) + 1;
		}
		/* (1.B) the last reference is the parent, over any link
		 * made before */
		unlink_node(t, i);
		if (prev != NONE && !would_loop(t, prev, i))
			append_child(t, prev, i);
	}
	htab_deinit(&ids);
	/* (2) every node without a parent under the root */
	for (size_t x = 0; x < t->n; x++)
		if (x != t->root && t->v[x].parent == NONE)
			append_child(t, t->root, x);
	prune(t);				/* (3) */
	sort_all(t);				/* (4) */
	gather_subjects(t);			/* (5) */
	sort_all(t);				/* (6) */
}

/* ORDEREDSUBJECT order: base subject, then sent date, then sequence. */
static int
subject_cmp(const struct tree *t, size_t a, size_t b)
{
	const struct imap_thread_msg *x = &t->msgs[a], *y = &t->msgs[b];
	int r = strcmp(x->subject != NULL ? x->subject : "",
		       y->subject != NULL ? y->subject : "");

	if (r != 0)
		return r;
	return node_cmp(t, a, b);
}

/* RFC 5256 3 ORDEREDSUBJECT: per base subject, the earliest message is
 * the parent of all the others; threads by the date of their first. */
static void
ordered_subject(struct tree *t, size_t n)
{
	size_t *idx = xcalloc(2 * n + 1, sizeof(*idx)), *buf = NULL, cap = 0;
	size_t head = NONE;

	for (size_t i = 0; i < n; i++) {
		node_new(t, i);
		idx[i] = i;
	}
	t->root = node_new(t, NONE);
	merge(idx, idx + n, n, t, subject_cmp);
	for (size_t k = 0; k < n; k++) {
		size_t i = idx[k];

		if (head != NONE && strcmp(t->msgs[head].subject != NULL ?
			   t->msgs[head].subject : "",
			   t->msgs[i].subject != NULL ?
			   t->msgs[i].subject : "") == 0) {
			append_child(t, head, i);
			continue;
		}
		head = i;
		append_child(t, t->root, i);
	}
	sort_children(t, t->root, &buf, &cap);
	free(buf);
	free(idx);
}

static void
write_thread(const struct tree *t, size_t top, struct buf *out,
	     size_t *stack)
{
	size_t sp = 0, x = top;
	bool first = true;

	buf_putc(out, '(');
	for (;;) {
		for (;;) {
			const struct tnode *v = &t->v[x];

			if (v->msg != NONE) {
				if (!first)
					buf_putc(out, ' ');
				buf_printf(out, "%u", t->msgs[v->msg].num);
				first = false;
			}
			if (v->first == NONE)
				break;
			if (v->msg != NONE && v->first == v->last) {
				x = v->first;
				continue;
			}
			if (!first)
				buf_putc(out, ' ');
			x = v->first;
			buf_putc(out, '(');
			stack[sp++] = x;
			first = true;
		}
		for (;;) {
			size_t c;

			buf_putc(out, ')');
			if (sp == 0)
				return;
			c = stack[--sp];
			if (t->v[c].next != NONE) {
				x = t->v[c].next;
				buf_putc(out, '(');
				stack[sp++] = x;
				first = true;
				break;
			}
		}
	}
}

bool
imap_thread_algorithm_parse(const char *name,
			    enum imap_thread_algorithm *algo_r)
{
	if (strcasecmp(name, "ORDEREDSUBJECT") == 0)
		*algo_r = IMAP_THREAD_ORDEREDSUBJECT;
	else if (strcasecmp(name, "REFERENCES") == 0)
		*algo_r = IMAP_THREAD_REFERENCES;
	else
		return false;
	return true;
}

void
imap_thread_write(enum imap_thread_algorithm algo,
		  const struct imap_thread_msg *msgs, size_t n,
		  struct buf *out)
{
	struct tree t = { .msgs = msgs };
	size_t *stack;

	if (n == 0)
		return;
	if (algo == IMAP_THREAD_ORDEREDSUBJECT)
		ordered_subject(&t, n);
	else
		references(&t, n);
	stack = xcalloc(t.n + 1, sizeof(*stack));
	for (size_t c = t.v[t.root].first; c != NONE; c = t.v[c].next)
		write_thread(&t, c, out, stack);
	free(stack);
	free(t.v);
}
