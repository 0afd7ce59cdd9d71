/* SPDX-License-Identifier: MIT */
/*
 * check_host() (RFC 7208 4 to 6) without I/O. Each step replays the
 * evaluation from the start over the answers gathered so far and stops at
 * the first lookup it has no answer for: the evaluation stays a plain
 * recursive function, and the caller (async or sync) only feeds answers.
 * A check asks for at most SPF_EVAL_MAX_ANSWERS lookups, each once.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/mem.h"
#include "mailauth/spf-private.h"
#include "mailauth/spf.h"

/* An internal result besides the seven: stop, a lookup is missing. */
#define R_PENDING ((enum spf_result)100)

struct answer {
	char *name;
	enum dns_type type;
	struct dns_result *res;
	/* TXT: its SPF record, parsed once for all the replays */
	bool parsed;
	struct spf_record *rec;
	const char *rec_error;
};

struct spf_eval {
	struct spf_limits lim;
	enum spf_identity identity;
	int family;
	uint8_t ip[16];
	/* into strings, one block for them all */
	char *sender, *local, *sender_domain, *helo, *receiver;
	char *strings;
	char ip_dots[80];	/* %{i} */
	char ip_text[INET6_ADDRSTRLEN];	/* %{c} */
	uint64_t now;
	struct answer *answers;
	size_t n_answers, cap_answers;
	char *pending;
	enum dns_type pending_type;
	size_t answer_bytes;	/* about what the answers take */
	bool oversize;		/* one more would pass SPF_EVAL_MAX_BYTES */
	bool done;
	bool checkable;		/* domain_is_checkable(verdict.domain) */
	struct spf_verdict verdict;
};

/* One replay of the evaluation. */
struct run {
	struct spf_eval *e;
	unsigned dns_terms;
	unsigned voids;
	char *problem;		/* the first error that decided */
	char *mechanism;	/* the term that matched at the top */
};

const char *
spf_result_name(enum spf_result result)
{
	static const char *const names[] = {
		"none", "neutral", "pass", "fail", "softfail", "temperror",
		"permerror",
	};

	if ((unsigned)result < sizeof(names) / sizeof(names[0]))
		return names[result];
	return "?";
}

void
spf_limits_default(struct spf_limits *lim)
{
	lim->dns_mechanisms = 10;
	lim->void_lookups = 2;
	lim->mx_names = 10;
	lim->ptr_names = 10;
	lim->timeout_ms = 20000;
}

static void __attribute__((format(printf, 2, 3)))
set_problem(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->problem != NULL)
		return;
	va_start(ap, fmt);
	r->problem = xvasprintf(fmt, ap);
	va_end(ap);
}

/* The answer for name/type, or NULL after noting it as the one wanted. */
static struct answer *
lookup_answer(struct run *r, const char *name, enum dns_type type)
{
	struct spf_eval *e = r->e;

	for (size_t i = 0; i < e->n_answers; i++) {
		if (e->answers[i].type == type &&
		    strcasecmp(e->answers[i].name, name) == 0)
			return &e->answers[i];
	}
	if (e->pending == NULL) {
		e->pending = xstrdup(name);
		e->pending_type = type;
	}
	return NULL;
}

static const struct dns_result *
lookup(struct run *r, const char *name, enum dns_type type)
{
	struct answer *a = lookup_answer(r, name, type);

	return a != NULL ? a->res : NULL;
}

static bool
status_is_void(enum dns_status st)
{
	return st == DNS_NXDOMAIN || st == DNS_NODATA;
}

/* Counts a void lookup (4.6.4); false when that exceeds the limit. */
static bool
count_void(struct run *r, const struct dns_result *res)
{
	if (res->status == DNS_OK || !status_is_void(res->status))
		return true;
	if (++r->voids > r->e->lim.void_lookups) {
		set_problem(r, "more than %u void lookups", r->e->lim.void_lookups);
		return false;
	}
	return true;
}

/* Counts a term that looks DNS up (4.6.4). */
static bool
count_term(struct run *r)
{
	if (++r->dns_terms > r->e->lim.dns_mechanisms) {
		set_problem(r, "more than %u DNS mechanisms", r->e->lim.dns_mechanisms);
		return false;
	}
	return true;
}

static bool
addr_matches(const struct spf_eval *e, int family, const uint8_t *addr,
	     unsigned bits)
{
	size_t bytes;

	if (family != e->family)
		return false;
	bytes = bits / 8;
	if (memcmp(e->ip, addr, bytes) != 0)
		return false;
	if (bits % 8 != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));

		if ((e->ip[bytes] & mask) != (addr[bytes] & mask))
			return false;
	}
	return true;
}

static bool
rr_matches(const struct spf_eval *e, const struct dns_rr *rr, unsigned bits)
{
	const uint8_t *a = rr->addr.family == AF_INET ?
		(const uint8_t *)&rr->addr.v4 : (const uint8_t *)&rr->addr.v6;

	return addr_matches(e, rr->addr.family, a, bits);
}

static enum dns_type
addr_type(const struct spf_eval *e)
{
	return e->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
}

static bool
name_is_under(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n == d)
		return strcasecmp(name, domain) == 0;
	return n > d && name[n - d - 1] == '.' &&
	       strcasecmp(name + n - d, domain) == 0;
}

/* The validated names of the client address (5.5): of the first
 * ptr_names PTR names, those with an address record equal to it. A
 * failed PTR lookup validates nothing; a failed address lookup skips
 * that name. names_r gets pointers into the answers. */
static enum spf_result
validated_names(struct run *r, const char ***names_r, size_t *n_r,
		bool *void_r)
{
	struct spf_eval *e = r->e;
	char rev[DNS_PTR_NAME_MAX];
	const struct dns_result *ptr;
	const char **names;
	size_t n = 0, max;

	*names_r = NULL;
	*n_r = 0;
	if (void_r != NULL)
		*void_r = false;
	if (dns_ptr_name_ip(e->ip_text, rev) < 0)
		return SPF_NONE;
	if ((ptr = lookup(r, rev, DNS_TYPE_PTR)) == NULL)
		return R_PENDING;
	if (ptr->status != DNS_OK) {
		if (void_r != NULL)
			*void_r = status_is_void(ptr->status);
		return SPF_NONE;
	}
	max = ptr->count < e->lim.ptr_names ? ptr->count : e->lim.ptr_names;
	names = xcalloc(max + 1, sizeof(*names));
	for (size_t i = 0; i < max; i++) {
		const char *name = ptr->rrs[i].ptr;
		const struct dns_result *a;

		if (!spf_name_is_queryable(name))
			continue;
		if ((a = lookup(r, name, addr_type(e))) == NULL) {
			xfree(&names);
			return R_PENDING;
		}
		for (size_t j = 0; a->status == DNS_OK && j < a->count; j++) {
			if (rr_matches(e, &a->rrs[j], 128)) {
				names[n++] = name;
				break;
			}
		}
	}
	*names_r = names;
	*n_r = n;
	return SPF_NONE;
}

/* %{p} for domain (7.3): the validated name equal to domain, else one
 * under it, else any, else "unknown". *p_r is allocated. */
static enum spf_result
p_macro(struct run *r, const char *domain, char **p_r)
{
	const char **names;
	size_t n;
	const char *best = NULL;

	if (validated_names(r, &names, &n, NULL) == R_PENDING)
		return R_PENDING;
	for (size_t i = 0; i < n && best == NULL; i++) {
		if (strcasecmp(names[i], domain) == 0)
			best = names[i];
	}
	for (size_t i = 0; i < n && best == NULL; i++) {
		if (name_is_under(names[i], domain))
			best = names[i];
	}
	if (best == NULL && n > 0)
		best = names[0];
	*p_r = xstrdup(best != NULL ? best : "unknown");
	xfree(&names);
	return SPF_NONE;
}

static void
vars_init(const struct spf_eval *e, const char *domain,
	  struct spf_macro_vars *v)
{
	*v = (struct spf_macro_vars){
		.s = e->sender, .l = e->local, .o = e->sender_domain,
		.d = domain, .i = e->ip_dots, .c = e->ip_text,
		.v = e->family == AF_INET ? "in-addr" : "ip6",
		.h = e->helo, .r = e->receiver, .t = e->now,
	};
}

/* Expands spec for domain into out. Returns SPF_NONE (done),
 * R_PENDING, or SPF_PERMERROR for a syntax error; *too_long_r for an
 * expansion over SPF_MACRO_MAX. */
static enum spf_result
expand(struct run *r, const char *spec, bool exp, const char *domain,
       struct buf *out)
{
	struct spf_macro_vars v;
	char *p = NULL;
	enum spf_macro_ret ret;

	vars_init(r->e, domain, &v);
	buf_reset(out);
	ret = spf_macro_expand(spec, strlen(spec), exp, &v, out);
	if (ret == SPF_MACRO_NEED_P) {
		if (p_macro(r, domain, &p) == R_PENDING)
			return R_PENDING;
		v.p = p;
		buf_reset(out);
		ret = spf_macro_expand(spec, strlen(spec), exp, &v, out);
		xfree(&p);
	}
	if (ret == SPF_MACRO_SYNTAX) {
		set_problem(r, "macro syntax error in '%s'", spec);
		return SPF_PERMERROR;
	}
	if (ret == SPF_MACRO_TOO_LONG)
		buf_reset(out);
	return SPF_NONE;
}

/* The target of a term: its domain-spec expanded and truncated into out
 * (*name_r = out->data), or without a spec the current domain (*name_r =
 * domain, out untouched: most terms, "mx", "a", need no copy). An empty
 * name means one that cannot exist. */
static enum spf_result
target(struct run *r, const char *spec, const char *domain, struct buf *out,
       const char **name_r)
{
	enum spf_result res;

	*name_r = domain;
	if (spec == NULL)
		return SPF_NONE;
	if (out->data == NULL)
		buf_init(out);
	*name_r = "";
	if ((res = expand(r, spec, false, domain, out)) != SPF_NONE)
		return res;
	spf_domain_truncate(out);
	/* a name DNS cannot hold (empty or long labels, perhaps from a
	 * macro) is taken as one that does not exist: the term does not
	 * match (4.3, 4.8; the suite allows fail or permerror) */
	if (!spf_name_is_queryable(out->data))
		buf_reset(out);
	*name_r = out->data;
	return SPF_NONE;
}

static enum spf_result check_host(struct run *r, const char *domain,
				  bool top, char **exp_r);

/* Temperror for an answer that failed (5: RCODE other than 0 or 3, or
 * a timeout). */
static bool
answer_failed(struct run *r, const struct dns_result *res)
{
	if (res->status == DNS_OK || status_is_void(res->status))
		return false;
	if (r->problem == NULL)
		r->problem = xasprintf("DNS %s for %s %s",
				       dns_status_name(res->status),
				       dns_type_name(res->type), res->name);
	return true;
}

/* One mechanism: SPF_PASS when it matches, SPF_NONE when not, or
 * temperror/permerror/R_PENDING. */
static enum spf_result
mechanism(struct run *r, const struct spf_term *t, const char *domain)
{
	struct spf_eval *e = r->e;
	const struct dns_result *res;
	enum spf_result ret = SPF_NONE;
	struct buf nbuf = { 0 };
	const char *name;

	switch (t->mech) {
	case SPF_MECH_ALL:
		return SPF_PASS;
	case SPF_MECH_IP4:
		return addr_matches(e, AF_INET, t->addr, t->cidr4) ?
			SPF_PASS : SPF_NONE;
	case SPF_MECH_IP6:
		return addr_matches(e, AF_INET6, t->addr, t->cidr6) ?
			SPF_PASS : SPF_NONE;
	default:
		break;
	}
	if (!count_term(r))
		return SPF_PERMERROR;
	if ((ret = target(r, t->domain, domain, &nbuf, &name)) != SPF_NONE)
		goto out;
	switch (t->mech) {
	case SPF_MECH_INCLUDE: {
		char *exp = NULL;

		if (name[0] == '\0') {
			set_problem(r, "include of an invalid domain: %s",
				    t->text);
			ret = SPF_PERMERROR;
			break;
		}
		/* 5.2: pass matches; fail, softfail, neutral do not; none
		 * is a permerror */
		ret = check_host(r, name, false, &exp);
		xfree(&exp);
		if (ret == SPF_NONE) {
			set_problem(r, "included domain %s has no SPF record",
				    name);
			ret = SPF_PERMERROR;
		} else if (ret == SPF_FAIL || ret == SPF_SOFTFAIL ||
			   ret == SPF_NEUTRAL) {
			ret = SPF_NONE;
		}
		break;
	}
	case SPF_MECH_A:
	case SPF_MECH_EXISTS: {
		enum dns_type type = t->mech == SPF_MECH_EXISTS ?
			DNS_TYPE_A : addr_type(e);

		if (name[0] == '\0')
			break;
		if ((res = lookup(r, name, type)) == NULL) {
			ret = R_PENDING;
			break;
		}
		if (answer_failed(r, res)) {
			ret = SPF_TEMPERROR;
			break;
		}
		if (!count_void(r, res)) {
			ret = SPF_PERMERROR;
			break;
		}
		if (res->status != DNS_OK)
			break;
		if (t->mech == SPF_MECH_EXISTS) {
			ret = SPF_PASS;
			break;
		}
		for (size_t i = 0; i < res->count; i++) {
			if (rr_matches(e, &res->rrs[i], e->family == AF_INET ?
				       t->cidr4 : t->cidr6)) {
				ret = SPF_PASS;
				break;
			}
		}
		break;
	}
	case SPF_MECH_MX: {
		size_t n_mx = 0;

		if (name[0] == '\0')
			break;
		if ((res = lookup(r, name, DNS_TYPE_MX)) == NULL) {
			ret = R_PENDING;
			break;
		}
		if (answer_failed(r, res)) {
			ret = SPF_TEMPERROR;
			break;
		}
		if (!count_void(r, res)) {
			ret = SPF_PERMERROR;
			break;
		}
		if (res->status != DNS_OK)
			break;
		for (size_t i = 0; i < res->count; i++) {
			if (res->rrs[i].mx.exchange[0] != '\0')
				n_mx++;
		}
		/* 4.6.4: more than 10 MX names is a permerror */
		if (n_mx > e->lim.mx_names) {
			set_problem(r, "more MX names than allowed for %s",
				    name);
			ret = SPF_PERMERROR;
			break;
		}
		for (size_t i = 0; i < res->count && ret == SPF_NONE; i++) {
			const char *x = res->rrs[i].mx.exchange;
			const struct dns_result *a;

			if (x[0] == '\0' || !spf_name_is_queryable(x))
				continue;
			if ((a = lookup(r, x, addr_type(e))) == NULL) {
				ret = R_PENDING;
				break;
			}
			if (answer_failed(r, a)) {
				ret = SPF_TEMPERROR;
				break;
			}
			for (size_t j = 0; a->status == DNS_OK &&
			     j < a->count; j++) {
				if (rr_matches(e, &a->rrs[j],
					       e->family == AF_INET ?
					       t->cidr4 : t->cidr6)) {
					ret = SPF_PASS;
					break;
				}
			}
		}
		break;
	}
	case SPF_MECH_PTR: {
		const char **names;
		size_t n;
		bool v;

		if (name[0] == '\0')
			break;
		if (validated_names(r, &names, &n, &v) == R_PENDING) {
			ret = R_PENDING;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (name_is_under(names[i], name)) {
				ret = SPF_PASS;
				break;
			}
		}
		xfree(&names);
		if (v && !count_void(r, &(struct dns_result){
				.status = DNS_NXDOMAIN }))
			ret = SPF_PERMERROR;
		break;
	}
	default:
		break;
	}
out:
	buf_deinit(&nbuf);
	return ret;
}

static enum spf_result
qualified(char q)
{
	switch (q) {
	case '-': return SPF_FAIL;
	case '~': return SPF_SOFTFAIL;
	case '?': return SPF_NEUTRAL;
	default: return SPF_PASS;
	}
}

/* The explanation of a fail (6.2): the exp= domain's single TXT record
 * expanded; anything wrong with it gives NULL (Herald's text then). */
static enum spf_result
explanation(struct run *r, const char *spec, const char *domain,
	    char **exp_r)
{
	const struct dns_result *res;
	struct buf name, text;
	enum spf_result ret;

	*exp_r = NULL;
	buf_init(&name);
	ret = expand(r, spec, false, domain, &name);
	if (ret == R_PENDING)
		goto out;
	ret = SPF_NONE;
	spf_domain_truncate(&name);
	if (name.len == 0 || !spf_name_is_queryable(name.data))
		goto out;
	if ((res = lookup(r, name.data, DNS_TYPE_TXT)) == NULL) {
		ret = R_PENDING;
		goto out;
	}
	if (res->status != DNS_OK || res->count != 1)
		goto out;
	buf_init(&text);
	/* the explanation is printable ASCII (6.2); spf_macro_expand
	 * refuses the rest */
	if (expand(r, res->rrs[0].txt.text, true, domain, &text) == R_PENDING)
		ret = R_PENDING;
	else if (strlen(res->rrs[0].txt.text) == res->rrs[0].txt.text_len &&
		 text.len > 0 &&
		 spf_macro_is_valid(res->rrs[0].txt.text,
				    res->rrs[0].txt.text_len, true))
		*exp_r = buf_steal(&text);
	buf_deinit(&text);
out:
	buf_deinit(&name);
	return ret;
}

/* The SPF record of domain: SPF_NONE with *rec_r NULL when there is
 * none, a parsed record (the answer's), or temperror/permerror/R_PENDING. */
static enum spf_result
find_record(struct run *r, const char *domain,
	    const struct spf_record **rec_r)
{
	struct answer *a;
	const struct dns_result *res;
	const struct dns_txt *found = NULL;

	*rec_r = NULL;
	if ((a = lookup_answer(r, domain, DNS_TYPE_TXT)) == NULL)
		return R_PENDING;
	res = a->res;
	if (status_is_void(res->status))
		return SPF_NONE;
	if (answer_failed(r, res))
		return SPF_TEMPERROR;
	for (size_t i = 0; i < res->count; i++) {
		const struct dns_txt *txt = &res->rrs[i].txt;

		if (!spf_record_is_spf1(txt->text, txt->text_len))
			continue;
		if (found != NULL) {
			set_problem(r, "several SPF records for %s", domain);
			return SPF_PERMERROR;
		}
		found = txt;
	}
	if (found == NULL)
		return SPF_NONE;
	/* every replay reads the record again: parse it once (and a
	 * sender's record once for all its messages: the cache) */
	if (!a->parsed) {
		a->parsed = true;
		if (spf_record_parse_cached(found->text, found->text_len,
					    &a->rec, &a->rec_error) < 0)
			a->rec = NULL;
	}
	if (a->rec == NULL) {
		set_problem(r, "%s in the SPF record of %s", a->rec_error,
			    domain);
		return SPF_PERMERROR;
	}
	*rec_r = a->rec;
	return SPF_PASS;
}

/* check_host(<ip>, domain, <sender>) (4). top: the domain whose fail
 * takes its explanation from exp= (the first one or one reached by
 * redirect, not an include: 6.2). */
static enum spf_result
check_host(struct run *r, const char *domain, bool top, char **exp_r)
{
	const struct spf_record *rec;
	enum spf_result ret;
	const struct spf_term *matched = NULL;

	*exp_r = NULL;
	ret = find_record(r, domain, &rec);
	if (rec == NULL)
		return ret;
	ret = SPF_NONE;
	for (size_t i = 0; i < rec->n_terms; i++) {
		enum spf_result m = mechanism(r, &rec->terms[i], domain);

		if (m == SPF_NONE)
			continue;
		if (m == SPF_PASS) {
			matched = &rec->terms[i];
			ret = qualified(matched->qualifier);
		} else {
			ret = m;
		}
		break;
	}
	if (ret == SPF_NONE && rec->redirect != NULL) {
		struct buf nbuf = { 0 };
		const char *name;

		if (!count_term(r)) {
			ret = SPF_PERMERROR;
		} else if ((ret = target(r, rec->redirect, domain, &nbuf,
					 &name)) == SPF_NONE) {
			/* 6.1: the redirected domain's result, its own exp;
			 * none there is a permerror */
			if (name[0] == '\0')
				ret = SPF_NONE;
			else
				ret = check_host(r, name, top, exp_r);
			if (ret == SPF_NONE) {
				set_problem(r, "redirect to %s without an "
					    "SPF record", name);
				ret = SPF_PERMERROR;
			}
		}
		buf_deinit(&nbuf);
		if (top && r->mechanism == NULL && ret != R_PENDING)
			r->mechanism = xasprintf("redirect=%s", rec->redirect);
		return ret;
	}
	if (ret == SPF_NONE)
		ret = SPF_NEUTRAL;	/* 4.7: no match, no redirect */
	if (top && r->mechanism == NULL && ret != R_PENDING &&
	    ret != SPF_TEMPERROR && ret != SPF_PERMERROR)
		r->mechanism = xstrdup(matched != NULL ? matched->text :
				       "default");
	if (ret == SPF_FAIL && top && rec->exp != NULL &&
	    explanation(r, rec->exp, domain, exp_r) == R_PENDING)
		ret = R_PENDING;
	return ret;
}

/* The initial domain is malformed (4.3): a literal, not multi-label,
 * an empty or long label. */
static bool
domain_is_checkable(const char *d)
{
	return d[0] != '[' && strchr(d, '.') != NULL &&
	       spf_name_is_queryable(d);
}

static void
run_deinit(struct run *r)
{
	xfree(&r->problem);
	xfree(&r->mechanism);
}

enum spf_step
spf_eval_step(struct spf_eval *e, const char **name_r, enum dns_type *type_r)
{
	struct run r = { .e = e };
	char *exp = NULL;
	enum spf_result ret;
	struct spf_verdict *v = &e->verdict;

	if (e->done)
		return SPF_STEP_DONE;
	if (e->oversize) {
		/* a processing limit, like the lookup counts (4.6.4) */
		e->verdict.result = SPF_PERMERROR;
		e->verdict.problem = xasprintf("DNS answers over %u octets",
					       SPF_EVAL_MAX_BYTES);
		e->done = true;
		return SPF_STEP_DONE;
	}
	xfree(&e->pending);
	if (!e->checkable) {
		ret = SPF_NONE;
		set_problem(&r, "'%s' is not a domain SPF can check",
			    v->domain);
	} else {
		ret = check_host(&r, v->domain, true, &exp);
	}
	if (ret == R_PENDING) {
		xfree(&exp);
		run_deinit(&r);
		if (e->n_answers >= SPF_EVAL_MAX_ANSWERS) {
			spf_eval_abort(e, "too many DNS lookups");
			return SPF_STEP_DONE;
		}
		*name_r = e->pending;
		*type_r = e->pending_type;
		return SPF_STEP_NEED_DNS;
	}
	v->result = ret;
	v->dns_mechanisms = r.dns_terms;
	v->void_lookups = r.voids;
	if (ret == SPF_FAIL) {
		v->explanation_from_record = exp != NULL;
		v->explanation = exp != NULL ? exp : xasprintf(
			"%s does not designate %s as permitted sender",
			v->domain, e->ip_text);
		exp = NULL;
	}
	xfree(&exp);
	if (ret != SPF_NONE && ret != SPF_TEMPERROR && ret != SPF_PERMERROR) {
		v->mechanism = r.mechanism;
		r.mechanism = NULL;
	} else {
		v->problem = r.problem;
		r.problem = NULL;
	}
	if (v->problem == NULL && ret == SPF_NONE)
		v->problem = xasprintf("no SPF record for %s", v->domain);
	run_deinit(&r);
	e->done = true;
	return SPF_STEP_DONE;
}

/* Keeps res (taken: *owned, set to NULL; else copied) as the answer to
 * the pending lookup. */
static void
answer_add(struct spf_eval *e, const struct dns_result *res,
	   struct dns_result **owned)
{
	struct answer *a;

	size_t bytes = sizeof(struct answer) + sizeof(*res) +
		res->count * sizeof(struct dns_rr);

	if (e->pending == NULL || e->n_answers >= SPF_EVAL_MAX_ANSWERS)
		return;
	for (size_t i = 0; i < res->count; i++) {
		const struct dns_rr *rr = &res->rrs[i];

		if (res->type == DNS_TYPE_TXT)
			bytes += 2 * rr->txt.text_len +
				rr->txt.n_strings * (sizeof(char *) + 8);
		else if (res->type == DNS_TYPE_MX)
			bytes += strlen(rr->mx.exchange) + 1;
		else if (res->type == DNS_TYPE_PTR)
			bytes += strlen(rr->ptr) + 1;
	}
	if (e->answer_bytes + bytes > SPF_EVAL_MAX_BYTES) {
		e->oversize = true;
		return;
	}
	e->answer_bytes += bytes;
	if (e->n_answers == e->cap_answers) {
		/* room for a usual check's (TXT, MX, A) at once */
		e->cap_answers = e->cap_answers == 0 ? 4 : e->cap_answers * 2;
		e->answers = xreallocarray(e->answers, e->cap_answers,
					   sizeof(*e->answers));
	}
	a = &e->answers[e->n_answers++];
	a->name = e->pending;
	a->type = e->pending_type;
	if (owned != NULL) {
		a->res = *owned;
		*owned = NULL;
	} else {
		a->res = dns_result_dup(res);
	}
	a->parsed = false;
	a->rec = NULL;
	a->rec_error = NULL;
	e->pending = NULL;
}

void
spf_eval_answer(struct spf_eval *e, const struct dns_result *res)
{
	answer_add(e, res, NULL);
}

void
spf_eval_answer_take(struct spf_eval *e, struct dns_result **res)
{
	answer_add(e, *res, res);
	/* not kept (over a limit): freed as the caller would have */
	dns_result_free(res);
}

void
spf_eval_abort(struct spf_eval *e, const char *why)
{
	if (e->done)
		return;
	e->verdict.result = SPF_TEMPERROR;
	e->verdict.problem = xstrdup(why);
	e->done = true;
}

const struct spf_verdict *
spf_eval_verdict(const struct spf_eval *e)
{
	return &e->verdict;
}

struct spf_verdict *
spf_eval_take_verdict(struct spf_eval *e)
{
	struct spf_verdict *v = xmalloc(sizeof(*v));

	*v = e->verdict;
	e->verdict = (struct spf_verdict){ .result = v->result };
	return v;
}

static void
set_ip(struct spf_eval *e, const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	char *o = e->ip_dots;

	e->family = AF_INET;
	if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		memcpy(e->ip, &s6->sin6_addr, 16);
		if (memcmp(e->ip, mapped, 12) == 0)
			memmove(e->ip, e->ip + 12, 4);
		else
			e->family = AF_INET6;
	} else if (sa != NULL && sa->sa_family == AF_INET) {
		memcpy(e->ip, &((const struct sockaddr_in *)(const void *)sa)
		       ->sin_addr, 4);
	}
	if (e->family == AF_INET) {
		/* inet_ntop() and snprintf() were a tenth of a check */
		char *t = e->ip_text;

		for (int i = 0; i < 4; i++) {
			unsigned v = e->ip[i];

			if (v >= 100)
				*t++ = (char)('0' + v / 100);
			if (v >= 10)
				*t++ = (char)('0' + v / 10 % 10);
			*t++ = (char)('0' + v % 10);
			*t++ = i < 3 ? '.' : '\0';
		}
		memcpy(e->ip_dots, e->ip_text, (size_t)(t - e->ip_text));
		return;
	}
	inet_ntop(e->family, e->ip, e->ip_text, sizeof(e->ip_text));
	/* %{i} of IPv6: dot-separated nibbles (7.3), upper case as the
	 * RFC 7208 test suite has them */
	for (int i = 0; i < 16; i++) {
		static const char hex[] = "0123456789ABCDEF";

		*o++ = hex[e->ip[i] >> 4];
		*o++ = '.';
		*o++ = hex[e->ip[i] & 15];
		*o++ = i < 15 ? '.' : '\0';
	}
}

/* Appends s[0..len) and a NUL at *o; returns where it went. */
static char *
put_string(char **o, const char *s, size_t len)
{
	char *start = *o;

	memcpy(start, s, len);
	start[len] = '\0';
	*o += len + 1;
	return start;
}

struct spf_eval *
spf_eval_new(const struct spf_request *req, const struct spf_limits *lim)
{
	struct spf_eval *e = xcalloc(1, sizeof(*e));
	const char *helo = req->helo != NULL ? req->helo : "";
	const char *from = req->mail_from != NULL ? req->mail_from : "";
	const char *receiver = req->receiver != NULL ? req->receiver :
		"unknown";
	const char *local, *domain;
	size_t local_len, domain_len, helo_len = strlen(helo);
	size_t receiver_len = strlen(receiver);
	char *o;

	e->lim = *lim;
	set_ip(e, req->ip);
	e->now = (uint64_t)time(NULL);
	e->identity = req->identity;
	local = "postmaster";
	local_len = 10;
	if (req->identity == SPF_ID_MAILFROM && from[0] != '\0') {
		const char *at = strrchr(from, '@');

		if (at == NULL) {
			domain = from;
		} else {
			/* 4.3: no local-part, "postmaster" stands in */
			if (at != from) {
				local = from;
				local_len = (size_t)(at - from);
			}
			domain = at + 1;
		}
	} else {
		/* 2.3, 2.4: HELO, or MAIL FROM:<> as postmaster@HELO */
		e->identity = SPF_ID_HELO;
		domain = helo;
	}
	domain_len = strlen(domain);
	/* the sender, local part, domain, HELO and receiver in one block */
	e->strings = o = xmalloc(2 * (local_len + domain_len) + helo_len +
				 receiver_len + 6);
	e->sender = o;
	memcpy(o, local, local_len);
	o[local_len] = '@';
	o += local_len + 1;
	put_string(&o, domain, domain_len);
	e->local = put_string(&o, local, local_len);
	e->sender_domain = put_string(&o, domain, domain_len);
	e->helo = put_string(&o, helo, helo_len);
	e->receiver = put_string(&o, receiver, receiver_len);
	/* a trailing dot of the domain is not part of it */
	if (domain_len > 1 && e->sender_domain[domain_len - 1] == '.')
		e->sender_domain[domain_len - 1] = '\0';
	e->verdict.identity = e->identity;
	e->verdict.domain = xstrdup(e->sender_domain);
	e->checkable = domain_is_checkable(e->verdict.domain);
	return e;
}

static void
verdict_deinit(struct spf_verdict *v)
{
	xfree(&v->domain);
	xfree(&v->explanation);
	xfree(&v->mechanism);
	xfree(&v->problem);
}

void
spf_eval_free(struct spf_eval **ep)
{
	struct spf_eval *e = *ep;

	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n_answers; i++) {
		xfree(&e->answers[i].name);
		dns_result_free(&e->answers[i].res);
		spf_record_free(&e->answers[i].rec);
	}
	xfree(&e->answers);
	xfree(&e->pending);
	xfree(&e->strings);
	verdict_deinit(&e->verdict);
	xfree(ep);
}

void
spf_verdict_free(struct spf_verdict **vp)
{
	if (*vp == NULL)
		return;
	verdict_deinit(*vp);
	xfree(vp);
}
