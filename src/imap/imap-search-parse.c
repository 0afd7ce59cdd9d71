/* SPDX-License-Identifier: MIT */
/*
 * SEARCH's arguments into a program (RFC 9051 6.4.4 and 9 search-key,
 * RFC 3501's NEW, OLD and RECENT, RFC 4731 RETURN, RFC 5182 SAVE and "$",
 * RFC 5032 OLDER and YOUNGER, RFC 8514 SAVED*): a tree of keys, counted
 * and depth-limited before anything deep is built (a client may send
 * 10,000 NOTs), strings folded once for matching.
 */
#include "imap/imap-search.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/unifold.h"
#include "store/store.h"

struct sp {
	const struct imap_search_limits *lim;
	struct imap_search_program *prog;
	const char *error;
	enum imap_search_parse_result res;
	unsigned int depth;
};

void
imap_search_limits_default(struct imap_search_limits *limits_r)
{
	limits_r->keys_max = IMAP_SEARCH_KEYS_DEFAULT;
	limits_r->depth_max = IMAP_SEARCH_DEPTH_DEFAULT;
}

static int
sp_bad(struct sp *p, const char *error)
{
	if (p->error == NULL) {
		p->error = error;
		p->res = IMAP_SEARCH_PARSE_BAD;
	}
	return -1;
}

/* astring, with NIL read as the text "NIL" (an atom in this place). */
static bool
sp_astring(const struct imap_arg *arg, const char **s_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*s_r = arg->str;
		*len_r = arg->len;
		return true;
	}
	return imap_arg_get_astring(arg, s_r, len_r);
}

static void
sp_fold(struct imap_search_key *key, const char *s, size_t len)
{
	struct buf b;

	buf_init(&b);
	unifold_append(s, len, &b);
	key->str_len = b.len;
	key->str = buf_steal(&b);
	buf_deinit(&b);		/* buf_steal leaves a fresh empty buffer */
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), H. Hinnant's
 * days_from_civil. */
static int64_t
days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	int64_t era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? (unsigned int)-3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static const char *const sp_months[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec",
};

static unsigned int
sp_month(const char *s)
{
	for (unsigned int i = 0; i < 12; i++)
		if (strncasecmp(s, sp_months[i], 3) == 0)
			return i + 1;
	return 0;
}

static bool
sp_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool
sp_day_ok(int64_t y, unsigned int m, unsigned int d)
{
	static const unsigned int mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	return d >= 1 && (d <= mdays[m - 1] ||
			  (m == 2 && d == 29 && sp_leap(y)));
}

/* date-text: 1*2DIGIT "-" date-month "-" 4DIGIT (RFC 9051 9). */
static bool
sp_date(const char *s, size_t len, int64_t *day_r)
{
	unsigned int d = 0, m, i = 0;
	int64_t y = 0;

	while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
		d = d * 10 + (unsigned int)(s[i++] - '0');
	if (i == 0 || i + 9 != len || s[i] != '-' || s[i + 4] != '-')
		return false;
	m = sp_month(s + i + 1);
	if (m == 0)
		return false;
	for (unsigned int k = i + 5; k < len; k++) {
		if (s[k] < '0' || s[k] > '9')
			return false;
		y = y * 10 + (s[k] - '0');
	}
	if (!sp_day_ok(y, m, d))
		return false;
	*day_r = days_from_civil(y, m, d);
	return true;
}

int64_t
imap_search_date_day(const char *v, size_t len)
{
	size_t i = 0;
	unsigned int d = 0, m, nd = 0;
	int64_t y = 0;
	unsigned int ny = 0;

	/* [day-of-week ","] day month year (RFC 5322 3.3, with CFWS
	 * and obsolete two-digit years read as mail readers do) */
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (size_t k = i; k < len && k < i + 12; k++) {
		if (v[k] == ',') {
			i = k + 1;
			break;
		}
	}
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (i < len && nd < 2 && v[i] >= '0' && v[i] <= '9') {
		d = d * 10 + (unsigned int)(v[i++] - '0');
		nd++;
	}
	if (nd == 0)
		return -1;
	while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '-'))
		i++;
	if (len - i < 3)
		return -1;
	m = sp_month(v + i);
	if (m == 0)
		return -1;
	i += 3;
	while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '-' ||
			   (v[i] >= 'a' && v[i] <= 'z') ||
			   (v[i] >= 'A' && v[i] <= 'Z')))
		i++;
	while (i < len && ny < 4 && v[i] >= '0' && v[i] <= '9') {
		y = y * 10 + (v[i++] - '0');
		ny++;
	}
	if (ny == 2)		/* RFC 5322 4.3 */
		y += y < 50 ? 2000 : 1900;
	else if (ny == 3)
		y += 1900;
	else if (ny != 4)
		return -1;
	if (!sp_day_ok(y, m, d))
		return -1;
	return days_from_civil(y, m, d);
}

static const struct sp_flag {
	const char *name;
	enum imap_search_type type;
	uint32_t flags;
} sp_flag_keys[] = {
	{ "ANSWERED", IMAP_SK_FLAGS, STORE_FLAG_ANSWERED },
	{ "DELETED", IMAP_SK_FLAGS, STORE_FLAG_DELETED },
	{ "DRAFT", IMAP_SK_FLAGS, STORE_FLAG_DRAFT },
	{ "FLAGGED", IMAP_SK_FLAGS, STORE_FLAG_FLAGGED },
	{ "SEEN", IMAP_SK_FLAGS, STORE_FLAG_SEEN },
	{ "UNANSWERED", IMAP_SK_UNFLAGS, STORE_FLAG_ANSWERED },
	{ "UNDELETED", IMAP_SK_UNFLAGS, STORE_FLAG_DELETED },
	{ "UNDRAFT", IMAP_SK_UNFLAGS, STORE_FLAG_DRAFT },
	{ "UNFLAGGED", IMAP_SK_UNFLAGS, STORE_FLAG_FLAGGED },
	{ "UNSEEN", IMAP_SK_UNFLAGS, STORE_FLAG_SEEN },
	{ "ALL", IMAP_SK_ALL, 0 },
	{ "NEW", IMAP_SK_NEW, 0 },
	{ "OLD", IMAP_SK_OLD, 0 },
	{ "RECENT", IMAP_SK_RECENT, 0 },
	/* RFC 8514: every mailbox here keeps save dates */
	{ "SAVEDATESUPPORTED", IMAP_SK_ALL, 0 },
};

static const struct sp_date_key {
	const char *name;
	enum imap_search_type type;
} sp_date_keys[] = {
	{ "BEFORE", IMAP_SK_BEFORE }, { "ON", IMAP_SK_ON },
	{ "SINCE", IMAP_SK_SINCE }, { "SENTBEFORE", IMAP_SK_SENTBEFORE },
	{ "SENTON", IMAP_SK_SENTON }, { "SENTSINCE", IMAP_SK_SENTSINCE },
	{ "SAVEDBEFORE", IMAP_SK_SAVEDBEFORE }, { "SAVEDON", IMAP_SK_SAVEDON },
	{ "SAVEDSINCE", IMAP_SK_SAVEDSINCE },
};

static const char *const sp_header_keys[] = {
	"FROM", "TO", "CC", "BCC", "SUBJECT",
};

/* flag-keyword: an atom, not a system flag (those start with "\"). */
static int
sp_keyword(struct sp *p, const struct imap_arg *arg,
	   struct imap_search_key *key)
{
	struct imap_search_program *prog = p->prog;
	size_t i;

	if (arg->type != IMAP_ARG_ATOM || arg->len == 0 ||
	    arg->str[0] == '\\')
		return sp_bad(p, "KEYWORD needs a keyword");
	for (i = 0; i < prog->n_keywords; i++)
		if (strcasecmp(prog->keywords[i], arg->str) == 0)
			break;
	if (i == prog->n_keywords) {
		if (prog->n_keywords == IMAP_SEARCH_KEYWORDS_MAX)
			return sp_bad(p, "too many keywords in SEARCH");
		prog->keywords = xreallocarray(prog->keywords, i + 1,
					       sizeof(*prog->keywords));
		prog->keywords[prog->n_keywords++] = xstrdup(arg->str);
	}
	key->kw = (unsigned int)i;
	return 0;
}

static int sp_keys(struct sp *p, const struct imap_arg *args, size_t n,
		   struct imap_search_key *and);

/* One key from args[*i ...]; advances *i past it. */
static int
sp_key(struct sp *p, const struct imap_arg *args, size_t n, size_t *i,
       struct imap_search_key *key)
{
	const struct imap_arg *a = &args[*i];
	const char *s;
	size_t len;

	memset(key, 0, sizeof(*key));
	if (++p->prog->n_keys > p->lim->keys_max)
		return sp_bad(p, "SEARCH has too many keys");
	(*i)++;
	if (a->type == IMAP_ARG_LIST) {
		int r;

		if (a->list_count == 0)
			return sp_bad(p, "empty list in SEARCH");
		if (++p->depth > p->lim->depth_max)
			return sp_bad(p, "SEARCH nested too deep");
		key->type = IMAP_SK_AND;
		r = sp_keys(p, a->list, a->list_count, key);
		p->depth--;
		return r;
	}
	if (a->type != IMAP_ARG_ATOM)
		return sp_bad(p, "SEARCH key expected");
	s = a->str;
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '*' || s[0] == '$') {
		const char *err;

		key->type = IMAP_SK_SEQ;
		key->cost = IMAP_SEARCH_COST_VIEW;
		if (imap_seqset_parse(s, a->len, IMAP_SEQSET_RANGES_DEFAULT,
				      &key->set, &err) < 0)
			return sp_bad(p, err);
		if (key->set.saved)
			p->prog->uses_saved = true;
		return 0;
	}
	for (size_t k = 0; k < sizeof(sp_flag_keys) / sizeof(sp_flag_keys[0]);
	     k++) {
		if (strcasecmp(s, sp_flag_keys[k].name) == 0) {
			key->type = sp_flag_keys[k].type;
			key->flags = sp_flag_keys[k].flags;
			return 0;
		}
	}
	if (strcasecmp(s, "NOT") == 0 || strcasecmp(s, "OR") == 0) {
		size_t want = s[0] == 'N' || s[0] == 'n' ? 1 : 2;
		int r = 0;

		key->type = want == 1 ? IMAP_SK_NOT : IMAP_SK_OR;
		if (++p->depth > p->lim->depth_max)
			return sp_bad(p, "SEARCH nested too deep");
		key->children = xcalloc(want, sizeof(*key->children));
		for (size_t c = 0; c < want && r == 0; c++) {
			if (*i >= n) {
				r = sp_bad(p, "SEARCH key missing after "
					   "NOT or OR");
				break;
			}
			key->n_children = c + 1;
			r = sp_key(p, args, n, i, &key->children[c]);
			if (key->children[c].cost > key->cost)
				key->cost = key->children[c].cost;
		}
		p->depth--;
		return r;
	}
	/* the keys with an argument */
	if (*i >= n)
		return sp_bad(p, "SEARCH key needs an argument");
	a = &args[(*i)++];
	for (size_t k = 0; k < sizeof(sp_date_keys) / sizeof(sp_date_keys[0]);
	     k++) {
		if (strcasecmp(s, sp_date_keys[k].name) != 0)
			continue;
		key->type = sp_date_keys[k].type;
		if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING)
			return sp_bad(p, "SEARCH date expected");
		if (!sp_date(a->str, a->len, &key->day))
			return sp_bad(p, "SEARCH date is not d-Mon-yyyy");
		if (key->type == IMAP_SK_SENTBEFORE ||
		    key->type == IMAP_SK_SENTON ||
		    key->type == IMAP_SK_SENTSINCE)
			key->cost = IMAP_SEARCH_COST_HEADER;
		return 0;
	}
	if (strcasecmp(s, "LARGER") == 0 || strcasecmp(s, "SMALLER") == 0) {
		key->type = s[0] == 'L' || s[0] == 'l' ? IMAP_SK_LARGER :
			    IMAP_SK_SMALLER;
		if (!imap_arg_get_number64(a, &key->size))
			return sp_bad(p, "SEARCH size is not a number");
		return 0;
	}
	if (strcasecmp(s, "OLDER") == 0 || strcasecmp(s, "YOUNGER") == 0) {
		uint32_t interval;

		key->type = s[0] == 'O' || s[0] == 'o' ? IMAP_SK_OLDER :
			    IMAP_SK_YOUNGER;
		/* RFC 5032: interval is an nz-number of seconds */
		if (!imap_arg_get_number(a, &interval) || interval == 0)
			return sp_bad(p, "OLDER and YOUNGER need a number of"
				      " seconds above 0");
		key->since = (int64_t)time(NULL) - interval;
		return 0;
	}
	if (strcasecmp(s, "UID") == 0) {
		const char *err;

		key->type = IMAP_SK_UID;
		if (a->type != IMAP_ARG_ATOM)
			return sp_bad(p, "UID needs a sequence set");
		if (imap_seqset_parse(a->str, a->len,
				      IMAP_SEQSET_RANGES_DEFAULT, &key->set,
				      &err) < 0)
			return sp_bad(p, err);
		if (key->set.saved)
			p->prog->uses_saved = true;
		return 0;
	}
	if (strcasecmp(s, "UIDAFTER") == 0 ||
	    strcasecmp(s, "UIDBEFORE") == 0) {
		uint32_t uid;

		/* RFC 9738: "UIDAFTER" SP uniqueid, uniqueid an nz-number
		 * (no "*", no "$"); a UID past UIDNEXT is no error, it just
		 * matches nothing (UIDAFTER) or everything (UIDBEFORE) */
		key->type = s[3] == 'A' || s[3] == 'a' ? IMAP_SK_UIDAFTER :
			    IMAP_SK_UIDBEFORE;
		if (a->type != IMAP_ARG_ATOM || a->len == 0 ||
		    a->str[0] == '0' || !imap_arg_get_number(a, &uid))
			return sp_bad(p, "UIDAFTER and UIDBEFORE need a UID "
				      "above 0");
		key->size = uid;
		return 0;
	}
	if (strcasecmp(s, "MODSEQ") == 0) {
		/* RFC 7162 3.1.5: MODSEQ [entry-name entry-type-req]
		 * mod-sequence-valzer; the store keeps one modseq per
		 * message, which stands for every entry (RFC 7162 3.1.5
		 * allows it) */
		key->type = IMAP_SK_MODSEQ;
		p->prog->has_modseq = true;
		if (a->type == IMAP_ARG_STRING) {
			if (strncasecmp(a->str, "/flags/", 7) != 0 ||
			    a->len <= 7)
				return sp_bad(p, "MODSEQ entry must be a "
					      "flag's");
			if (*i + 1 >= n ||
			    !(imap_arg_atom_equals(&args[*i], "priv") ||
			      imap_arg_atom_equals(&args[*i], "shared") ||
			      imap_arg_atom_equals(&args[*i], "all")))
				return sp_bad(p, "MODSEQ entry type must be "
					      "priv, shared or all");
			(*i)++;
			a = &args[(*i)++];
		}
		if (!imap_arg_get_number64(a, &key->size) ||
		    key->size > INT64_MAX)
			return sp_bad(p, "MODSEQ needs a mod-sequence");
		return 0;
	}
	if (strcasecmp(s, "EMAILID") == 0 || strcasecmp(s, "THREADID") == 0) {
		key->type = s[0] == 'E' || s[0] == 'e' ? IMAP_SK_EMAILID :
			    IMAP_SK_THREADID;
		key->cost = IMAP_SEARCH_COST_HEADER;
		/* objectid = 1*255(ALPHA / DIGIT / "_" / "-"), an atom */
		if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 255)
			return sp_bad(p, "SEARCH needs an object id");
		for (size_t c = 0; c < a->len; c++)
			if (!isalnum((unsigned char)a->str[c]) &&
			    a->str[c] != '_' && a->str[c] != '-')
				return sp_bad(p, "SEARCH needs an object id");
		key->str = xstrndup(a->str, a->len);
		key->str_len = a->len;
		p->prog->needs_ids = true;
		return 0;
	}
	if (strcasecmp(s, "KEYWORD") == 0 || strcasecmp(s, "UNKEYWORD") == 0) {
		key->type = s[0] == 'K' || s[0] == 'k' ? IMAP_SK_KEYWORD :
			    IMAP_SK_UNKEYWORD;
		return sp_keyword(p, a, key);
	}
	if (strcasecmp(s, "BODY") == 0 || strcasecmp(s, "TEXT") == 0) {
		key->type = s[0] == 'B' || s[0] == 'b' ? IMAP_SK_BODY :
			    IMAP_SK_TEXT;
		key->cost = IMAP_SEARCH_COST_BODY;
		if (!sp_astring(a, &s, &len))
			return sp_bad(p, "SEARCH string expected");
		sp_fold(key, s, len);
		return 0;
	}
	for (size_t k = 0;
	     k < sizeof(sp_header_keys) / sizeof(sp_header_keys[0]); k++) {
		if (strcasecmp(s, sp_header_keys[k]) != 0)
			continue;
		key->type = IMAP_SK_HEADER;
		key->cost = IMAP_SEARCH_COST_HEADER;
		key->field = xstrdup(sp_header_keys[k]);
		if (!sp_astring(a, &s, &len))
			return sp_bad(p, "SEARCH string expected");
		sp_fold(key, s, len);
		return 0;
	}
	if (strcasecmp(s, "HEADER") == 0) {
		const char *name;
		size_t nlen;

		key->type = IMAP_SK_HEADER;
		key->cost = IMAP_SEARCH_COST_HEADER;
		/* header-fld-name is an astring */
		if (!sp_astring(a, &name, &nlen) || nlen == 0 ||
		    memchr(name, ':', nlen) != NULL)
			return sp_bad(p, "HEADER needs a field name");
		for (size_t c = 0; c < nlen; c++)
			if ((unsigned char)name[c] <= ' ' ||
			    (unsigned char)name[c] >= 0x7f)
				return sp_bad(p, "HEADER needs a field name");
		if (*i >= n)
			return sp_bad(p, "HEADER needs a string");
		a = &args[(*i)++];
		if (!sp_astring(a, &s, &len))
			return sp_bad(p, "SEARCH string expected");
		key->field = xstrndup(name, nlen);
		sp_fold(key, s, len);
		return 0;
	}
	return sp_bad(p, "unknown SEARCH key");
}

/* Cheaper children first, otherwise in the order sent: AND stops at
 * the first NO. */
static void
sp_order(struct imap_search_key *and)
{
	struct imap_search_key *v;
	size_t n = 0;

	if (and->n_children < 2)
		return;
	v = xcalloc(and->n_children, sizeof(*v));
	for (unsigned int c = IMAP_SEARCH_COST_VIEW;
	     c <= IMAP_SEARCH_COST_BODY; c++)
		for (size_t i = 0; i < and->n_children; i++)
			if (and->children[i].cost == c)
				v[n++] = and->children[i];
	free(and->children);
	and->children = v;
}

/* Keys args[0..n) into the AND node and (its children). */
static int
sp_keys(struct sp *p, const struct imap_arg *args, size_t n,
	struct imap_search_key *and)
{
	size_t i = 0, cap = 0;

	while (i < n) {
		if (and->n_children == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			and->children = xreallocarray(and->children, cap,
						      sizeof(*and->children));
		}
		and->n_children++;
		if (sp_key(p, args, n, &i,
			   &and->children[and->n_children - 1]) < 0)
			return -1;
		if (and->children[and->n_children - 1].cost > and->cost)
			and->cost = and->children[and->n_children - 1].cost;
	}
	sp_order(and);
	return 0;
}

static int
sp_return(struct sp *p, const struct imap_arg *list)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} opts[] = {
		{ "MIN", IMAP_SEARCH_RET_MIN }, { "MAX", IMAP_SEARCH_RET_MAX },
		{ "ALL", IMAP_SEARCH_RET_ALL },
		{ "COUNT", IMAP_SEARCH_RET_COUNT },
		{ "SAVE", IMAP_SEARCH_RET_SAVE },
	};

	if (list->type != IMAP_ARG_LIST)
		return sp_bad(p, "RETURN needs a list");
	p->prog->has_return = true;
	for (size_t i = 0; i < list->list_count; i++) {
		size_t k;

		if (imap_arg_atom_equals(&list->list[i], "PARTIAL")) {
			const struct imap_arg *a = i + 1 < list->list_count ?
				&list->list[i + 1] : NULL;

			if ((p->prog->ret & IMAP_SEARCH_RET_PARTIAL) ||
			    a == NULL || a->type != IMAP_ARG_ATOM ||
			    !imap_partial_range_parse(a->str, a->len,
						      &p->prog->partial))
				return sp_bad(p, "PARTIAL needs a range");
			p->prog->ret |= IMAP_SEARCH_RET_PARTIAL;
			i++;
			continue;
		}
		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (imap_arg_atom_equals(&list->list[i],
						 opts[k].name))
				break;
		if (k == sizeof(opts) / sizeof(opts[0]))
			return sp_bad(p, "unknown RETURN option");
		p->prog->ret |= opts[k].bit;
	}
	/* RFC 9394 3.1: ALL and PARTIAL are exclusive */
	if ((p->prog->ret & IMAP_SEARCH_RET_ALL) &&
	    (p->prog->ret & IMAP_SEARCH_RET_PARTIAL))
		return sp_bad(p, "PARTIAL and ALL are exclusive");
	/* RFC 4731 3.1: RETURN () is RETURN (ALL) */
	if (p->prog->ret == 0)
		p->prog->ret = IMAP_SEARCH_RET_ALL;
	return 0;
}

/* One nz-number of a partial-range, with its sign. */
static bool
partial_number(const char *s, size_t len, int64_t *v_r)
{
	bool neg = len > 0 && s[0] == '-';
	uint64_t v = 0;

	if (neg) {
		s++;
		len--;
	}
	if (len == 0 || len > 10 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*v_r = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

bool
imap_partial_range_parse(const char *s, size_t len,
			 struct imap_partial_range *r)
{
	const char *colon = memchr(s, ':', len);
	int64_t a, b;

	if (colon == NULL ||
	    !partial_number(s, (size_t)(colon - s), &a) ||
	    !partial_number(colon + 1, len - (size_t)(colon - s) - 1, &b) ||
	    (a < 0) != (b < 0))
		return false;
	/* "500:400" is "400:500", "-5:-1" is "-1:-5" */
	if ((a > 0 && a > b) || (a < 0 && a < b)) {
		int64_t t = a;

		a = b;
		b = t;
	}
	r->lo = a;
	r->hi = b;
	return true;
}

void
imap_partial_range_window(const struct imap_partial_range *r, size_t n,
			  size_t *from_r, size_t *to_r)
{
	uint64_t lo = (uint64_t)(r->lo < 0 ? -r->lo : r->lo);
	uint64_t hi = (uint64_t)(r->hi < 0 ? -r->hi : r->hi);

	*from_r = *to_r = 0;
	if (lo > n)
		return;
	if (hi > n)
		hi = n;
	if (r->lo > 0) {
		*from_r = (size_t)lo - 1;
		*to_r = (size_t)hi;
	} else {
		*from_r = n - (size_t)hi;
		*to_r = n - (size_t)lo + 1;
	}
}

static void
key_deinit(struct imap_search_key *key)
{
	for (size_t i = 0; i < key->n_children; i++)
		key_deinit(&key->children[i]);
	free(key->children);
	free(key->field);
	free(key->str);
	free(key->docs);
	imap_seqset_deinit(&key->set);
}

void
imap_search_program_deinit(struct imap_search_program *prog)
{
	key_deinit(&prog->root);
	for (size_t i = 0; i < prog->n_keywords; i++)
		free(prog->keywords[i]);
	free(prog->keywords);
	memset(prog, 0, sizeof(*prog));
}

static void
key_forget(struct imap_search_key *key)
{
	for (size_t i = 0; i < key->n_children; i++)
		key_forget(&key->children[i]);
	free(key->docs);
	key->docs = NULL;
	key->n_docs = 0;
	key->lookup_done = false;
	key->lookup_usable = false;
}

void
imap_search_program_forget_lookups(struct imap_search_program *prog)
{
	key_forget(&prog->root);
}

static bool
key_uses_seq(const struct imap_search_key *key)
{
	/* "$" is the saved result, UIDs underneath */
	if (key->type == IMAP_SK_SEQ && !key->set.saved)
		return true;
	for (size_t i = 0; i < key->n_children; i++)
		if (key_uses_seq(&key->children[i]))
			return true;
	return false;
}

bool
imap_search_program_uses_seq(const struct imap_search_program *prog)
{
	return key_uses_seq(&prog->root);
}

enum imap_search_parse_result
imap_search_parse(const struct imap_arg *args, size_t n_args,
		  const struct imap_search_limits *limits,
		  struct imap_search_program *prog_r, const char **error_r)
{
	struct imap_search_limits def;
	struct sp p = { .lim = limits, .prog = prog_r,
			.res = IMAP_SEARCH_PARSE_OK };
	size_t i = 0;

	if (limits == NULL) {
		imap_search_limits_default(&def);
		p.lim = &def;
	}
	memset(prog_r, 0, sizeof(*prog_r));
	prog_r->root.type = IMAP_SK_AND;
	if (i < n_args && imap_arg_atom_equals(&args[i], "RETURN")) {
		if (i + 1 >= n_args || sp_return(&p, &args[i + 1]) < 0) {
			sp_bad(&p, "RETURN needs a list");
			goto fail;
		}
		i += 2;
	}
	if (i < n_args && imap_arg_atom_equals(&args[i], "CHARSET")) {
		const char *cs;
		size_t len;

		if (i + 1 >= n_args || !sp_astring(&args[i + 1], &cs, &len)) {
			sp_bad(&p, "CHARSET needs a name");
			goto fail;
		}
		if (strcasecmp(cs, "UTF-8") != 0 &&
		    strcasecmp(cs, "US-ASCII") != 0) {
			p.res = IMAP_SEARCH_PARSE_BADCHARSET;
			p.error = "charset not supported";
			goto fail;
		}
		i += 2;
	}
	if (i >= n_args) {
		sp_bad(&p, "SEARCH needs a key");
		goto fail;
	}
	if (sp_keys(&p, args + i, n_args - i, &prog_r->root) < 0)
		goto fail;
	prog_r->needs_store = prog_r->root.cost > IMAP_SEARCH_COST_VIEW;
	return IMAP_SEARCH_PARSE_OK;
fail:
	*error_r = p.error != NULL ? p.error : "bad SEARCH";
	imap_search_program_deinit(prog_r);
	return p.res != IMAP_SEARCH_PARSE_OK ? p.res :
	       IMAP_SEARCH_PARSE_BAD;
}
