/* SPDX-License-Identifier: MIT */
/*
 * The ARC header field parsers (RFC 8617 4.1): ARC-Seal as a DKIM tag
 * list, and ARC-Authentication-Results (an instance, then an RFC 8601
 * Authentication-Results body) read as a mail client reads A-R: comments
 * and folding skipped, values as tokens or quoted-strings.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "mailauth/arc.h"
#include "mailauth/dkim-private.h"

const char *
arc_result_name(enum arc_result result)
{
	switch (result) {
	case ARC_RESULT_NONE: return "none";
	case ARC_RESULT_PASS: return "pass";
	case ARC_RESULT_FAIL: return "fail";
	}
	return "fail";
}

const char *
arc_cv_name(enum arc_cv cv)
{
	switch (cv) {
	case ARC_CV_NONE: return "none";
	case ARC_CV_PASS: return "pass";
	case ARC_CV_FAIL: return "fail";
	}
	return "fail";
}

static char *
lower_dup(const char *s, size_t len)
{
	char *d = xstrndup(s, len);

	for (char *p = d; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	return d;
}

void
arc_seal_deinit(struct arc_seal *seal)
{
	free(seal->domain);
	free(seal->selector);
	free(seal->b);
	memset(seal, 0, sizeof(*seal));
}

int
arc_seal_parse(const char *value, size_t len, struct arc_seal *seal_r,
	       const char **error_r)
{
	static const char *const required[] = { "i", "a", "b", "cv", "d",
						"s" };
	struct dkim_tag_list tags;
	const struct dkim_tag *t;
	struct arc_seal seal;
	struct buf b;

	memset(&seal, 0, sizeof(seal));
	memset(seal_r, 0, sizeof(*seal_r));
	if (dkim_tags_parse(value, len, &tags, error_r) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (dkim_tags_get(&tags, required[i]) == NULL) {
			*error_r = "a required tag is missing (i a b cv d s)";
			goto fail;
		}
	}
	if (dkim_tags_get(&tags, "h") != NULL) {
		*error_r = "h= is not allowed in ARC-Seal (RFC 8617 4.1.3)";
		goto fail;
	}
	if (dkim_instance_parse(dkim_tags_get(&tags, "i")->value,
				ARC_INSTANCE_LIMIT, &seal.instance) < 0) {
		*error_r = "bad instance (i=)";
		goto fail;
	}
	t = dkim_tags_get(&tags, "a");
	if (strcmp(t->value, "rsa-sha256") == 0) {
		seal.alg = DKIM_ALG_RSA_SHA256;
	} else if (strcmp(t->value, "ed25519-sha256") == 0) {
		seal.alg = DKIM_ALG_ED25519_SHA256;
	} else {
		*error_r = "unknown algorithm (a=)";
		goto fail;
	}
	t = dkim_tags_get(&tags, "cv");
	if (strcasecmp(t->value, "none") == 0) {
		seal.cv = ARC_CV_NONE;
	} else if (strcasecmp(t->value, "pass") == 0) {
		seal.cv = ARC_CV_PASS;
	} else if (strcasecmp(t->value, "fail") == 0) {
		seal.cv = ARC_CV_FAIL;
	} else {
		*error_r = "unknown chain validation status (cv=)";
		goto fail;
	}
	t = dkim_tags_get(&tags, "d");
	if (!dkim_dns_name_is_valid(t->value)) {
		*error_r = "bad domain (d=)";
		goto fail;
	}
	seal.domain = lower_dup(t->value, strlen(t->value));
	t = dkim_tags_get(&tags, "s");
	if (!dkim_dns_name_is_valid(t->value)) {
		*error_r = "bad selector (s=)";
		goto fail;
	}
	seal.selector = lower_dup(t->value, strlen(t->value));
	t = dkim_tags_get(&tags, "b");
	buf_init(&b);
	if (dkim_base64_fws_decode(t->value, &b) < 0 || b.len == 0) {
		buf_deinit(&b);
		*error_r = "bad b= (base64)";
		goto fail;
	}
	seal.b_len = b.len;
	seal.b = (uint8_t *)buf_steal(&b);
	buf_deinit(&b);
	seal.b_value_start = t->value_start;
	seal.b_value_end = t->value_end;
	if ((t = dkim_tags_get(&tags, "t")) != NULL) {
		const char *p = t->value;
		int64_t n = 0;

		if (*p == '\0' || strlen(p) > 18) {
			*error_r = "bad timestamp (t=)";
			goto fail;
		}
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9') {
				*error_r = "bad timestamp (t=)";
				goto fail;
			}
			n = n * 10 + (*p - '0');
		}
		seal.has_t = true;
		seal.t = n;
	}
	dkim_tags_deinit(&tags);
	*seal_r = seal;
	return 0;
fail:
	dkim_tags_deinit(&tags);
	arc_seal_deinit(&seal);
	return -1;
}

/* ---- Authentication-Results (RFC 8601 2.2) ---- */

struct ar_reader {
	const char *p, *end;
	const char *error;
};

/* CFWS: white space, CRLF folding and (nested) comments. False on an
 * unclosed comment. */
static bool
skip_cfws(struct ar_reader *r)
{
	while (r->p < r->end) {
		char c = *r->p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			r->p++;
		} else if (c == '(') {
			unsigned depth = 0;

			for (; r->p < r->end; r->p++) {
				if (*r->p == '\\' && r->p + 1 < r->end) {
					r->p++;
				} else if (*r->p == '(') {
					depth++;
				} else if (*r->p == ')' && --depth == 0) {
					r->p++;
					break;
				}
			}
			if (depth != 0) {
				r->error = "unclosed comment";
				return false;
			}
		} else {
			break;
		}
	}
	return true;
}

/* A token of RFC 2045 (printable ASCII but tspecials), with '@' and '/'
 * allowed as pvalues and versions need; stop is an extra end octet. */
static bool
is_token_char(unsigned char c, char stop)
{
	if (c <= ' ' || c >= 0x7f || c == (unsigned char)stop)
		return false;
	return strchr("()<>,;:\\\"[]?=", c) == NULL;
}

/* A value: token or quoted-string, appended unquoted to out. False when
 * there is neither. */
static bool
read_value(struct ar_reader *r, char stop, struct buf *out)
{
	buf_reset(out);
	if (r->p < r->end && *r->p == '"') {
		r->p++;
		while (r->p < r->end && *r->p != '"') {
			unsigned char c;

			if (*r->p == '\\' && r->p + 1 < r->end)
				r->p++;
			c = (unsigned char)*r->p;
			/* RFC 5322 qtext: no controls (a NUL would cut the
			 * value short); folding is unfolded */
			if (c == 0 || c == 0x7f ||
			    (c < ' ' && c != '\t' && c != '\r' && c != '\n')) {
				r->error = "control character in a "
					   "quoted-string";
				return false;
			}
			if (c != '\r' && c != '\n')
				buf_putc(out, (char)c);
			r->p++;
		}
		if (r->p >= r->end) {
			r->error = "unclosed quoted-string";
			return false;
		}
		r->p++;
		return true;
	}
	while (r->p < r->end && is_token_char((unsigned char)*r->p, stop))
		buf_putc(out, *r->p++);
	return out->len > 0;
}

static bool
at(struct ar_reader *r, char c)
{
	return r->p < r->end && *r->p == c;
}

void
arc_aar_deinit(struct arc_aar *aar)
{
	for (size_t i = 0; i < aar->n_results; i++) {
		struct arc_ar_result *res = &aar->results[i];

		for (size_t j = 0; j < res->n_props; j++) {
			free(res->props[j].name);
			free(res->props[j].value);
		}
		free(res->props);
		free(res->method);
		free(res->result);
	}
	free(aar->results);
	free(aar->authserv_id);
	memset(aar, 0, sizeof(*aar));
}

/* One resinfo after its ';': methodspec [reasonspec] *propspec. */
static bool
read_resinfo(struct ar_reader *r, struct arc_aar *ar, struct buf *tmp)
{
	struct arc_ar_result res;

	memset(&res, 0, sizeof(res));
	if (!skip_cfws(r))
		return false;
	if (!read_value(r, '/', tmp)) {
		r->error = "no method";
		return false;
	}
	res.method = lower_dup(tmp->data, tmp->len);
	if (!skip_cfws(r))
		goto fail;
	if (at(r, '/')) {
		/* method-version: ignored */
		r->p++;
		if (!skip_cfws(r) || !read_value(r, '/', tmp) ||
		    !skip_cfws(r)) {
			r->error = "bad method version";
			goto fail;
		}
	}
	if (!at(r, '=')) {
		r->error = "no '=' after the method";
		goto fail;
	}
	r->p++;
	if (!skip_cfws(r) || !read_value(r, 0, tmp)) {
		r->error = r->error != NULL ? r->error : "no result";
		goto fail;
	}
	res.result = lower_dup(tmp->data, tmp->len);
	for (;;) {
		char *name;

		if (!skip_cfws(r))
			goto fail;
		if (r->p >= r->end || at(r, ';'))
			break;
		/* reason=value, or ptype.property=pvalue */
		if (!read_value(r, 0, tmp)) {
			r->error = "bad property";
			goto fail;
		}
		name = lower_dup(tmp->data, tmp->len);
		if (!skip_cfws(r) || !at(r, '=')) {
			free(name);
			r->error = r->error != NULL ? r->error :
				   "no '=' after a property";
			goto fail;
		}
		r->p++;
		if (!skip_cfws(r)) {
			free(name);
			goto fail;
		}
		/* an empty pvalue is allowed (RFC 8601 2.2) */
		if (!read_value(r, 0, tmp) && r->error != NULL) {
			free(name);
			goto fail;
		}
		if (strcmp(name, "reason") == 0 || strchr(name, '.') == NULL) {
			free(name);
			continue;
		}
		if (res.n_props == ARC_AR_PROPS_MAX) {
			free(name);
			r->error = "too many properties";
			goto fail;
		}
		res.props = xreallocarray(res.props, res.n_props + 1,
					  sizeof(*res.props));
		res.props[res.n_props].name = name;
		res.props[res.n_props].value = lower_dup(tmp->data, tmp->len);
		res.n_props++;
	}
	if (ar->n_results == ARC_AR_RESULTS_MAX) {
		r->error = "too many results";
		goto fail;
	}
	ar->results = xreallocarray(ar->results, ar->n_results + 1,
				    sizeof(*ar->results));
	ar->results[ar->n_results++] = res;
	return true;
fail:
	for (size_t j = 0; j < res.n_props; j++) {
		free(res.props[j].name);
		free(res.props[j].value);
	}
	free(res.props);
	free(res.method);
	free(res.result);
	if (r->error == NULL)
		r->error = "bad resinfo";
	return false;
}

static int
ar_parse(struct ar_reader *r, struct arc_aar *ar, const char **error_r)
{
	struct buf tmp;
	bool ok = false;

	buf_init(&tmp);
	if (!skip_cfws(r))
		goto out;
	if (!read_value(r, 0, &tmp) || tmp.len == 0) {
		r->error = r->error != NULL ? r->error : "no authserv-id";
		goto out;
	}
	ar->authserv_id = lower_dup(tmp.data, tmp.len);
	if (!skip_cfws(r))
		goto out;
	if (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
		/* authres-version */
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
		if (!skip_cfws(r))
			goto out;
	}
	if (r->p >= r->end) {
		r->error = "no results";
		goto out;
	}
	for (;;) {
		if (!at(r, ';')) {
			r->error = "';' expected";
			goto out;
		}
		r->p++;
		if (!skip_cfws(r))
			goto out;
		if (r->p >= r->end) {
			/* a trailing ';' */
			break;
		}
		if (ar->n_results == 0 && (size_t)(r->end - r->p) >= 4 &&
		    strncasecmp(r->p, "none", 4) == 0) {
			struct ar_reader look = *r;

			look.p += 4;
			if (skip_cfws(&look) && look.p >= look.end) {
				r->p = look.p;
				break;
			}
		}
		if (!read_resinfo(r, ar, &tmp))
			goto out;
		if (r->p >= r->end)
			break;
	}
	ok = true;
out:
	buf_deinit(&tmp);
	if (!ok) {
		*error_r = r->error != NULL ? r->error : "bad syntax";
		arc_aar_deinit(ar);
		return -1;
	}
	return 0;
}

int
arc_ar_parse(const char *value, size_t len, struct arc_aar *ar_r,
	     const char **error_r)
{
	struct ar_reader r = { .p = value, .end = value + len };

	memset(ar_r, 0, sizeof(*ar_r));
	return ar_parse(&r, ar_r, error_r);
}

int
arc_aar_parse(const char *value, size_t len, struct arc_aar *aar_r,
	      const char **error_r)
{
	struct ar_reader r = { .p = value, .end = value + len };
	const char *start;
	char num[4];
	unsigned instance;

	memset(aar_r, 0, sizeof(*aar_r));
	/* RFC 8617 4.1.1: "i=" instance ";" first */
	if (!skip_cfws(&r) || r.end - r.p < 2 ||
	    (r.p[0] != 'i' && r.p[0] != 'I') || r.p[1] != '=') {
		*error_r = "no instance (i=) first";
		return -1;
	}
	r.p += 2;
	if (!skip_cfws(&r)) {
		*error_r = r.error;
		return -1;
	}
	start = r.p;
	while (r.p < r.end && *r.p >= '0' && *r.p <= '9' &&
	       r.p - start < 3)
		r.p++;
	memcpy(num, start, (size_t)(r.p - start));
	num[r.p - start] = '\0';
	if (dkim_instance_parse(num, ARC_INSTANCE_LIMIT, &instance) < 0 ||
	    !skip_cfws(&r) || !at(&r, ';')) {
		*error_r = "bad instance (i=)";
		return -1;
	}
	r.p++;
	if (ar_parse(&r, aar_r, error_r) < 0)
		return -1;
	aar_r->instance = instance;
	return 0;
}

const char *
arc_ar_result_prop(const struct arc_ar_result *r, const char *name)
{
	for (size_t i = 0; i < r->n_props; i++) {
		if (strcmp(r->props[i].name, name) == 0)
			return r->props[i].value;
	}
	return NULL;
}

int
arc_domain_list_parse(const char *value, char ***domains_r, size_t *n_r,
		      char **error_r)
{
	const char *p = value;

	*domains_r = NULL;
	*n_r = 0;
	while (*p != '\0') {
		size_t len;
		char *d;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		len = strcspn(p, ", \t");
		if (len == 0)
			break;
		d = lower_dup(p, len);
		p += len;
		if (len > 1 && d[len - 1] == '.')
			d[len - 1] = '\0';
		if (!dkim_dns_name_is_valid(d)) {
			*error_r = xasprintf("not a domain: \"%s\"", d);
			free(d);
			arc_domain_list_free(domains_r, *n_r);
			*n_r = 0;
			return -1;
		}
		*domains_r = xreallocarray(*domains_r, *n_r + 1,
					   sizeof(**domains_r));
		(*domains_r)[(*n_r)++] = d;
	}
	return 0;
}

void
arc_domain_list_free(char ***domains, size_t n)
{
	if (*domains == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*domains)[i]);
	free(*domains);
	*domains = NULL;
}
