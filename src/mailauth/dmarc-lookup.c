/* SPDX-License-Identifier: MIT */
/*
 * DMARC policy discovery on an ioev loop (RFC 7489 6.6.3; DMARCbis 4.10):
 * the TXT lookups of every _dmarc name the discovery may need start at
 * once (two with the PSL, at most eight for the tree walk), so the answer
 * costs one round trip; then, for a record with np=, whether the From
 * domain exists (A, AAAA, MX in parallel).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "lib/mem.h"
#include "mailauth/dmarc.h"

/* DMARCbis 4.10.1: at most 8 names (the From domain, then from 7 labels
 * down to 1). */
#define DMARC_WALK_MAX 8
#define DMARC_NAME_MAX 253

enum outcome {
	OUT_PENDING,
	OUT_NONE,	/* no DMARC record (NXDOMAIN, NODATA, no v=DMARC1) */
	OUT_RECORD,	/* exactly one, parsed */
	OUT_SEVERAL,	/* several DMARC records */
	OUT_INVALID,	/* one, that does not parse */
	OUT_TEMP,	/* the lookup failed for now */
};

struct dmarc_lookup;

struct name_state {
	struct dmarc_lookup *l;
	const char *name;	/* into lookup->from (a suffix of it) */
	struct dns_query *q;
	enum outcome out;
	struct dmarc_record rec;
	const char *error;	/* OUT_INVALID: why (static) */
};

struct dmarc_lookup {
	struct dns_resolver *resolver;
	const struct dmarc_psl *psl;
	enum dmarc_discovery mode;
	char *from;
	struct name_state names[DMARC_WALK_MAX];
	size_t n_names;
	unsigned pending;
	/* the existence check for np= */
	struct dns_query *np_q[3];
	unsigned np_pending;
	bool np_exists;
	struct dmarc_policy_found found;
	dmarc_lookup_cb_t *cb;
	void *ctx;
	/* dmarc_lookup_now(): answers from the cache only; the outcome is
	 * moved to *now_found at the end, or now_wait says it needs a
	 * lookup */
	bool now;
	bool now_wait;
	struct dmarc_policy_found *now_found;
};

static void
lookup_deinit(struct dmarc_lookup *l)
{
	for (size_t i = 0; i < l->n_names; i++) {
		dns_query_cancel(&l->names[i].q);
		dmarc_record_deinit(&l->names[i].rec);
	}
	for (size_t i = 0; i < 3; i++)
		dns_query_cancel(&l->np_q[i]);
	dmarc_policy_found_deinit(&l->found);
	free(l->from);
}

static void
lookup_free(struct dmarc_lookup **lp)
{
	if (*lp == NULL)
		return;
	lookup_deinit(*lp);
	free(*lp);
	*lp = NULL;
}

/* "_dmarc." name into buf (a name too long for it, which DNS cannot hold
 * either, allocated into *heap_r). */
static const char *
dmarc_name(const char *name, char *buf, size_t size, char **heap_r)
{
	size_t len = strlen(name);

	*heap_r = NULL;
	if (len + 8 > size)
		return *heap_r = xasprintf("_dmarc.%s", name);
	memcpy(buf, "_dmarc.", 7);
	memcpy(buf + 7, name, len + 1);
	return buf;
}

void
dmarc_lookup_cancel(struct dmarc_lookup **lookup)
{
	lookup_free(lookup);
}

static void
finish(struct dmarc_lookup *l)
{
	if (l->now) {
		/* dmarc_lookup_now() takes it and frees l */
		*l->now_found = l->found;
		memset(&l->found, 0, sizeof(l->found));
		return;
	}
	l->cb(&l->found, l->ctx);
	lookup_free(&l);
}

static void
set_problem(struct dmarc_lookup *l, const char *fmt_name, const char *why)
{
	free(l->found.problem);
	l->found.problem = xasprintf("%s%s%s", why, fmt_name != NULL ? " at "
				     : "", fmt_name != NULL ? fmt_name : "");
}

static unsigned
count_labels(const char *d)
{
	unsigned n = 1;

	for (; *d != '\0'; d++) {
		if (*d == '.')
			n++;
	}
	return n;
}

/* The suffix of d with its last n labels. */
static const char *
last_labels(const char *d, unsigned n)
{
	unsigned have = count_labels(d);

	while (have > n) {
		d = strchr(d, '.') + 1;
		have--;
	}
	return d;
}

static void np_answer(const struct dns_result *res, void *ctx);

/* The outcomes are in: pick the record (and the organisational domain
 * for the tree walk), then maybe check whether the From domain exists. */
static void
decide(struct dmarc_lookup *l)
{
	struct dmarc_policy_found *f = &l->found;
	ssize_t at = -1;

	f->status = DMARC_LOOKUP_NONE;
	for (size_t i = 0; i < l->n_names; i++) {
		struct name_state *n = &l->names[i];

		if (n->out == OUT_NONE)
			continue;
		if (n->out == OUT_TEMP) {
			f->status = DMARC_LOOKUP_TEMPERROR;
			set_problem(l, n->name, "DNS lookup failed");
		} else if (n->out == OUT_SEVERAL) {
			/* RFC 7489 6.6.3 step 4: no DMARC processing */
			set_problem(l, n->name, "several DMARC records");
		} else if (n->out == OUT_INVALID) {
			f->status = DMARC_LOOKUP_PERMERROR;
			set_problem(l, n->name, n->error);
		} else {
			f->status = DMARC_LOOKUP_FOUND;
			at = (ssize_t)i;
		}
		break;
	}
	if (f->status == DMARC_LOOKUP_NONE && f->problem == NULL)
		set_problem(l, NULL, "no DMARC record");
	if (l->mode == DMARC_DISCOVERY_TREEWALK) {
		/* DMARCbis 4.10.2: from the From domain up, psd=n names
		 * the organisational domain, psd=y makes it the name one
		 * label below; else the record with the fewest labels;
		 * without any record the From domain itself */
		const char *org = NULL;

		for (size_t i = 0; i < l->n_names; i++) {
			struct name_state *n = &l->names[i];

			if (n->out != OUT_RECORD)
				continue;
			if (n->rec.psd_set && !n->rec.psd) {
				org = n->name;
				break;
			}
			if (n->rec.psd_set && n->rec.psd) {
				unsigned k = count_labels(n->name) + 1;

				org = k <= count_labels(l->from)
					      ? last_labels(l->from, k) : NULL;
				break;
			}
			org = n->name;
		}
		if (org == NULL)
			org = l->from;
		free(f->org_domain);
		f->org_domain = xstrdup(org);
		f->org_from_walk = true;
	}
	if (at < 0) {
		finish(l);
		return;
	}
	struct name_state *n = &l->names[at];

	f->policy_domain = xstrdup(n->name);
	f->record = n->rec;
	memset(&n->rec, 0, sizeof(n->rec));
	free(f->problem);
	f->problem = NULL;
	if (f->record.np == DMARC_POLICY_UNSET ||
	    strcasecmp(f->policy_domain, l->from) == 0) {
		finish(l);
		return;
	}
	/* DMARCbis 3.2.10: a domain is non-existent when A, AAAA and MX
	 * all answer NXDOMAIN or NODATA */
	static const enum dns_type types[3] = { DNS_TYPE_A, DNS_TYPE_AAAA,
						DNS_TYPE_MX };

	if (l->now) {
		/* the existence check is left to dmarc_lookup_start() */
		l->now_wait = true;
		return;
	}
	l->np_pending = 3;
	for (size_t i = 0; i < 3; i++) {
		l->np_q[i] = dns_lookup(l->resolver, l->from, types[i],
					np_answer, l);
		f->lookups++;
	}
}

static void
np_answer(const struct dns_result *res, void *ctx)
{
	struct dmarc_lookup *l = ctx;

	for (size_t i = 0; i < 3; i++) {
		if (l->np_q[i] != NULL && res->type ==
		    (i == 0 ? DNS_TYPE_A : i == 1 ? DNS_TYPE_AAAA : DNS_TYPE_MX)) {
			l->np_q[i] = NULL;
			break;
		}
	}
	/* a temporary failure counts as existing: np never applies on a
	 * doubt */
	if (res->status != DNS_NXDOMAIN && res->status != DNS_NODATA)
		l->np_exists = true;
	if (--l->np_pending > 0)
		return;
	l->found.from_nonexistent = !l->np_exists;
	finish(l);
}

static void
txt_answer(const struct dns_result *res, void *ctx)
{
	struct name_state *n = ctx;
	struct dmarc_lookup *l = n->l;
	const struct dns_txt *pick = NULL;
	unsigned count = 0;

	n->q = NULL;
	if (strlen(n->name) + 7 > DMARC_NAME_MAX) {
		/* "_dmarc." makes it too long for DNS: no record can be
		 * there (the lookup answered DNS_ERROR at once) */
		n->out = OUT_NONE;
	} else if (res->status == DNS_OK) {
		for (size_t i = 0; i < res->count; i++) {
			const struct dns_txt *t = &res->rrs[i].txt;

			if (dmarc_record_is_dmarc(t->text, t->text_len)) {
				count++;
				pick = t;
			}
		}
		if (count == 0) {
			n->out = OUT_NONE;
		} else if (count > 1) {
			n->out = OUT_SEVERAL;
		} else if (memchr(pick->text, '\0', pick->text_len) != NULL) {
			n->error = "NUL in the record";
			n->out = OUT_INVALID;
		} else if (dmarc_record_parse_cached(pick->text,
						     pick->text_len, &n->rec,
						     &n->error) < 0) {
			n->out = OUT_INVALID;
		} else {
			n->out = OUT_RECORD;
		}
	} else if (dns_status_is_permanent(res->status)) {
		n->out = OUT_NONE;
	} else {
		n->out = OUT_TEMP;
	}
	if (--l->pending == 0)
		decide(l);
}

static void
add_name(struct dmarc_lookup *l, const char *name)
{
	if (l->n_names == DMARC_WALK_MAX)
		return;
	l->names[l->n_names].l = l;
	l->names[l->n_names].name = name;
	l->names[l->n_names].out = OUT_PENDING;
	l->n_names++;
}

static void
lookup_init(struct dmarc_lookup *l, struct dns_resolver *resolver,
	    const struct dmarc_psl *psl, enum dmarc_discovery mode,
	    const char *from_domain, dmarc_lookup_cb_t *cb, void *ctx)
{
	memset(l, 0, sizeof(*l));
	l->resolver = resolver;
	l->psl = psl;
	l->mode = mode;
	l->from = xstrdup(from_domain);
	l->cb = cb;
	l->ctx = ctx;
	l->found.from_domain = xstrdup(from_domain);
	add_name(l, l->from);
	if (mode == DMARC_DISCOVERY_PSL) {
		const char *org = psl != NULL
					  ? dmarc_psl_org_domain(psl, l->from)
					  : NULL;

		if (org != NULL)
			l->found.org_domain = xstrdup(org);
		if (org != NULL && org != l->from)
			add_name(l, org);
	} else {
		/* DMARCbis 4.10.1: from 8 labels or more, jump to the last
		 * 7; then one label less each time, down to the last one */
		unsigned nl = count_labels(l->from);

		if (nl > 8)
			nl = 8;
		while (--nl >= 1)
			add_name(l, last_labels(l->from, nl));
	}
	l->pending = (unsigned)l->n_names;
}

bool
dmarc_lookup_now(struct dns_resolver *resolver, const struct dmarc_psl *psl,
		 enum dmarc_discovery mode, const char *from_domain,
		 struct dmarc_policy_found *found_r)
{
	/* on the stack: no allocation of its own for the usual sender */
	struct dmarc_lookup lookup, *l = &lookup;
	bool done;

	lookup_init(l, resolver, psl, mode, from_domain, NULL, NULL);
	l->now = true;
	l->now_found = found_r;
	memset(found_r, 0, sizeof(*found_r));
	/* the same answers through the same code as dmarc_lookup_start()'s
	 * callbacks, or nothing when one is not in the cache */
	for (size_t i = 0; i < l->n_names && !l->now_wait; i++) {
		struct name_state *n = &l->names[i];
		char qbuf[DMARC_NAME_MAX + 16], *heap;
		const char *q = dmarc_name(n->name, qbuf, sizeof(qbuf), &heap);
		struct dns_result *res = dns_lookup_now(resolver, q,
							DNS_TYPE_TXT);

		free(heap);
		if (res == NULL) {
			l->now_wait = true;
			break;
		}
		l->found.lookups++;
		txt_answer(res, n);
		dns_result_free(&res);
	}
	done = !l->now_wait;
	if (!done)
		dmarc_policy_found_deinit(found_r);
	lookup_deinit(l);
	return done;
}

struct dmarc_lookup *
dmarc_lookup_start(struct dns_resolver *resolver, const struct dmarc_psl *psl,
		   enum dmarc_discovery mode, const char *from_domain,
		   dmarc_lookup_cb_t *cb, void *ctx)
{
	struct dmarc_lookup *l = xmalloc(sizeof(*l));

	lookup_init(l, resolver, psl, mode, from_domain, cb, ctx);
	/* all at once: one round trip (answers come through the cache);
	 * the callbacks never run inside dns_lookup() */
	for (size_t i = 0; i < l->n_names; i++) {
		struct name_state *n = &l->names[i];
		char qbuf[DMARC_NAME_MAX + 16], *heap;
		const char *q = dmarc_name(n->name, qbuf, sizeof(qbuf), &heap);

		n->q = dns_lookup(resolver, q, DNS_TYPE_TXT, txt_answer, n);
		l->found.lookups++;
		free(heap);
	}
	return l;
}
