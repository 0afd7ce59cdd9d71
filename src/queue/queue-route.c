/* SPDX-License-Identifier: MIT */
/*
 * Routes and the retry schedule: which server a recipient domain goes to
 * ([transport], relayhost, MX), which open connection may carry another
 * destination's mail, and when a deferred recipient is tried again. Pure
 * functions, shared by the runner, the CLI and the unit tests.
 */
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "queue/queue-private.h"

static int
parse_port(const char *s, unsigned *port_r)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

static bool
host_is_valid(const char *h, size_t len)
{
	if (len == 0 || len >= QUEUE_HOST_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];

		if (!isalnum(c) && c != '-' && c != '.' && c != ':' &&
		    c != '_')
			return false;
	}
	return true;
}

static void
copy_lower(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[len] = '\0';
}

int
queue_route_parse(const char *text, bool relayhost,
		  struct queue_route *r, const char **error_r)
{
	const char *p = text, *end;
	size_t hlen;

	memset(r, 0, sizeof(*r));
	if (strncasecmp(p, "lmtp:", 5) == 0) {
		r->lmtp = true;
		p += 5;
	} else if (strncasecmp(p, "smtp:", 5) == 0) {
		p += 5;
	} else if (!relayhost) {
		*error_r = "must start with smtp: or lmtp:";
		return -1;
	}
	r->port = r->lmtp ? 24 : 25;
	r->relayhost = relayhost;
	if (strncasecmp(p, "unix:", 5) == 0) {
		if (!r->lmtp) {
			*error_r = "a unix socket is for lmtp: only";
			return -1;
		}
		p += 5;
		if (p[0] != '/' || strlen(p) >= QUEUE_PATH_MAX) {
			*error_r = "unix: needs an absolute socket path "
				   "(at most 107 bytes)";
			return -1;
		}
		r->kind = QUEUE_ROUTE_UNIX;
		snprintf(r->path, sizeof(r->path), "%s", p);
		return 0;
	}
	if (p[0] == '[') {
		end = strchr(p, ']');
		if (end == NULL) {
			*error_r = "missing ']'";
			return -1;
		}
		hlen = (size_t)(end - p - 1);
		if (!host_is_valid(p + 1, hlen)) {
			*error_r = "bad host name in brackets";
			return -1;
		}
		r->kind = QUEUE_ROUTE_DIRECT;
		copy_lower(r->host, p + 1, hlen);
		p = end + 1;
	} else {
		end = strchr(p, ':');
		hlen = end != NULL ? (size_t)(end - p) : strlen(p);
		if (!host_is_valid(p, hlen) || memchr(p, ':', hlen) != NULL) {
			*error_r = "bad host name (an IPv6 address goes in "
				   "brackets)";
			return -1;
		}
		/* an LMTP server is a host, not a mail domain */
		r->kind = r->lmtp ? QUEUE_ROUTE_DIRECT : QUEUE_ROUTE_MX;
		copy_lower(r->host, p, hlen);
		p += hlen;
	}
	if (p[0] == ':') {
		if (parse_port(p + 1, &r->port) < 0) {
			*error_r = "bad port";
			return -1;
		}
	} else if (p[0] != '\0') {
		*error_r = "unexpected text after the host";
		return -1;
	}
	return 0;
}

static enum config_queue_tls
tls_named(const char *v, enum config_queue_tls def)
{
	if (strcasecmp(v, "none") == 0)
		return CONFIG_QUEUE_TLS_NONE;
	if (strcasecmp(v, "may") == 0)
		return CONFIG_QUEUE_TLS_MAY;
	if (strcasecmp(v, "encrypt") == 0)
		return CONFIG_QUEUE_TLS_ENCRYPT;
	return def;
}

void
queue_route_for(const struct config *cfg, const char *domain,
		struct queue_route *r)
{
	const struct config_queue *q = &cfg->queue;
	const char *t = config_map_get(&q->transport, domain);
	const char *policy = config_map_get(&q->tls_policy, domain);
	const char *err;
	enum config_queue_tls def;

	if (t != NULL && queue_route_parse(t, false, r, &err) == 0) {
		r->tls = r->lmtp ? CONFIG_QUEUE_TLS_NONE : q->tls;
	} else if (q->relayhost != NULL &&
		   queue_route_parse(q->relayhost, true, r, &err) == 0) {
		r->tls = q->relayhost_tls;
	} else {
		memset(r, 0, sizeof(*r));
		r->kind = QUEUE_ROUTE_MX;
		r->port = 25;
		snprintf(r->host, sizeof(r->host), "%s", domain);
		for (char *c = r->host; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		r->tls = q->tls;
	}
	def = r->tls;
	if (policy != NULL)
		r->tls = tls_named(policy, r->tls);
	r->tls_override = r->tls != def;
}

static const char *
tls_name(enum config_queue_tls t)
{
	switch (t) {
	case CONFIG_QUEUE_TLS_NONE:
		return "none";
	case CONFIG_QUEUE_TLS_MAY:
		return "may";
	case CONFIG_QUEUE_TLS_ENCRYPT:
		return "encrypt";
	case CONFIG_QUEUE_TLS_IMPLICIT:
		return "implicit";
	}
	return "?";
}

void
queue_route_key(const struct queue_route *r, char *out, size_t outsz)
{
	const char *proto = r->lmtp ? "lmtp" : "smtp";
	int n = 0;

	switch (r->kind) {
	case QUEUE_ROUTE_UNIX:
		n = snprintf(out, outsz, "lmtp:unix:%s", r->path);
		break;
	case QUEUE_ROUTE_DIRECT:
		n = snprintf(out, outsz, "%s:[%s]:%u", proto, r->host, r->port);
		break;
	case QUEUE_ROUTE_MX:
		n = snprintf(out, outsz, "%s:mx:%s:%u", proto, r->host, r->port);
		break;
	}
	if (r->tls_override && n > 0 && (size_t)n < outsz)
		snprintf(out + n, outsz - (size_t)n, "/tls=%s",
			 tls_name(r->tls));
}

static bool
same_address(const struct queue_target *a, const struct queue_target *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)&a->ss;
		const struct sockaddr_in *y = (const struct sockaddr_in *)&b->ss;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *x =
			(const struct sockaddr_in6 *)&a->ss;
		const struct sockaddr_in6 *y =
			(const struct sockaddr_in6 *)&b->ss;

		return x->sin6_port == y->sin6_port &&
		       x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr,
			      sizeof(x->sin6_addr)) == 0;
	}
	return false;			/* a unix socket is LMTP's alone */
}

bool
queue_conn_can_serve(const struct queue_route *have,
		     const struct queue_target *have_t,
		     const struct queue_route *want,
		     const struct queue_target *want_t, size_t n)
{
	/* LMTP delivers into one server's mailboxes; the relayhost's
	 * session is logged in (AUTH) and means "relay this for me" */
	if (have->lmtp || want->lmtp || have->kind == QUEUE_ROUTE_UNIX ||
	    want->kind == QUEUE_ROUTE_UNIX || have->kind != want->kind ||
	    have->relayhost != want->relayhost || have->port != want->port ||
	    have->tls != want->tls || n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct queue_target *t = &want_t[i];

		/* only where a new connection of want could go first: RFC
		 * 5321 5.1 picks by preference, and after an IPv6 refusal
		 * (prefer_ipv4) IPv4 comes first */
		if (t->pref != want_t[0].pref ||
		    t->ss.ss_family != want_t[0].ss.ss_family)
			continue;
		/* the same name: SNI, the name a certificate is verified
		 * against under encrypt, and relay= in the log */
		if (same_address(t, have_t) &&
		    strcasecmp(t->host, have_t->host) == 0)
			return true;
	}
	return false;
}

uint64_t
queue_retry_interval(const struct config_queue *q, uint32_t attempts)
{
	uint64_t v = q->retry_min_s;

	for (uint32_t i = 1; i < attempts && v < q->retry_max_s; i++)
		v *= 2;
	return v < q->retry_max_s ? v : q->retry_max_s;
}

int64_t
queue_next_attempt(const struct config_queue *q, int64_t created,
		   uint32_t attempts, int64_t now)
{
	int64_t expire = created + (int64_t)q->max_lifetime_s;
	int64_t next = now + (int64_t)queue_retry_interval(q, attempts);

	if (now >= expire)
		return 0;
	/* the last try comes at the deadline, not an interval past it */
	return next < expire ? next : expire;
}

bool
queue_delay_warning_due(const struct config_queue *q, int64_t created,
			int64_t now)
{
	return q->delay_warning_s > 0 &&
	       now - created >= (int64_t)q->delay_warning_s &&
	       q->delay_warning_s < q->max_lifetime_s;
}

const char *
queue_address_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

bool
queue_rcpt_is_open(const struct store_queue_entry_rcpt *r)
{
	return strcmp(r->status, STORE_QUEUE_PENDING) == 0 ||
	       strcmp(r->status, STORE_QUEUE_DEFERRED) == 0;
}

size_t
queue_group_due(const struct config *cfg, const struct store_queue_entry *e,
		int64_t now, struct queue_group **groups_r)
{
	struct queue_group *g = NULL;
	size_t n = 0;

	for (size_t i = 0; i < e->n_rcpts; i++) {
		const struct store_queue_entry_rcpt *r = &e->rcpts[i];
		struct queue_route route;
		char key[sizeof(g->key)];
		size_t k;

		if (!queue_rcpt_is_open(r) || r->next_attempt > now)
			continue;
		queue_route_for(cfg, queue_address_domain(r->address), &route);
		queue_route_key(&route, key, sizeof(key));
		for (k = 0; k < n && strcmp(g[k].key, key) != 0; k++)
			;
		if (k == n) {
			g = xreallocarray(g, n + 1, sizeof(*g));
			memset(&g[n], 0, sizeof(g[n]));
			g[n].route = route;
			memcpy(g[n].key, key, sizeof(key));
			g[n].idx = xcalloc(e->n_rcpts, sizeof(*g[n].idx));
			n++;
		}
		g[k].idx[g[k].n++] = i;
	}
	*groups_r = g;
	return n;
}

void
queue_groups_free(struct queue_group **groups, size_t count)
{
	if (*groups == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free((*groups)[i].idx);
	free(*groups);
	*groups = NULL;
}
