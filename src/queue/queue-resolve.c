/* SPDX-License-Identifier: MIT */
/*
 * Routing a destination to the addresses to try (RFC 5321 5.1): its MX
 * hosts by preference, equal preferences in random order, every address
 * of each (IPv6 and IPv4 as [queue] address_family says); the domain
 * itself when it has no MX (the implicit MX); a null MX (RFC 7505)
 * refused at once; NXDOMAIN permanent, any other DNS failure temporary.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dns/dns.h"
#include "lib/ioev.h"
#include "lib/mem.h"
#include "queue/queue-private.h"
#include "smtp/smtp-client.h"

/* MX hosts looked at for one destination. */
#define MX_HOSTS_MAX 10

struct resolve_host {
	char name[QUEUE_HOST_MAX];
	unsigned pref;			/* MX preference; 0 without MX */
	struct dns_query *q[2];		/* AAAA, A */
	enum dns_status st[2];
	bool asked[2];
	struct dns_addr *addrs;
	size_t n_addrs;
	struct queue_resolve *r;
};

struct queue_resolve {
	struct queue_runner *rn;
	struct queue_dest *d;
	queue_resolved_cb_t *cb;
	struct dns_query *mx_q;
	struct resolve_host hosts[MX_HOSTS_MAX];
	size_t n_hosts;
	size_t pending;
	bool implicit;			/* no MX: the domain itself */
	struct ioev_timer *later;	/* results known without DNS */
	struct queue_resolved res;
};

static void
finish(struct queue_resolve *r)
{
	struct queue_dest *d = r->d;
	queue_resolved_cb_t *cb = r->cb;
	struct queue_resolved res = r->res;

	for (size_t i = 0; i < r->n_hosts; i++)
		free(r->hosts[i].addrs);
	ioev_timer_free(&r->later);
	free(r);
	d->resolving = NULL;
	cb(d, &res);
}

static void __attribute__((format(printf, 4, 5)))
fail(struct queue_resolve *r, bool permanent, const char *dsn,
     const char *fmt, ...)
{
	va_list ap;

	r->res.status = permanent ? QUEUE_RESOLVED_PERM : QUEUE_RESOLVED_TEMP;
	snprintf(r->res.dsn, sizeof(r->res.dsn), "%s", dsn);
	va_start(ap, fmt);
	vsnprintf(r->res.reason, sizeof(r->res.reason), fmt, ap);
	va_end(ap);
}

static bool
family_wanted(const struct queue_runner *rn, int family)
{
	switch (rn->q->address_family) {
	case CONFIG_QUEUE_FAMILY_IPV4:
		return family == AF_INET;
	case CONFIG_QUEUE_FAMILY_IPV6:
		return family == AF_INET6;
	default:
		return true;
	}
}

static void
add_target(struct queue_resolve *r, const char *host, unsigned pref,
	   const struct sockaddr_storage *ss, socklen_t len, const char *ip)
{
	struct queue_resolved *res = &r->res;
	struct queue_target *t;

	if (res->n_targets >= r->rn->q->mx_addresses_max)
		return;
	res->targets = xreallocarray(res->targets, res->n_targets + 1,
				     sizeof(*res->targets));
	t = &res->targets[res->n_targets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", host);
	memcpy(&t->ss, ss, len);
	t->len = len;
	snprintf(t->ip, sizeof(t->ip), "%s", ip);
	t->pref = pref;
}

static void
add_addr(struct queue_resolve *r, const struct resolve_host *h,
	 const struct dns_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = dns_addr_sockaddr(a, (uint16_t)r->d->route.port, &ss);
	char ip[INET6_ADDRSTRLEN];

	add_target(r, h->name, h->pref, &ss, len,
		   dns_addr_str(a, ip, sizeof(ip)));
}

void
queue_targets_prefer_ipv4(struct queue_target *t, size_t n)
{
	/* a stable partition: MX order stays within each family */
	struct queue_target *tmp = xcalloc(n > 0 ? n : 1, sizeof(*tmp));
	size_t k = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++)
			if ((t[i].ss.ss_family == AF_INET) == (pass == 0))
				tmp[k++] = t[i];
	memcpy(t, tmp, n * sizeof(*t));
	free(tmp);
}

/* Every address lookup is in: the targets in MX order, each host's
 * addresses by family preference. */
static void
hosts_done(struct queue_resolve *r)
{
	const struct queue_runner *rn = r->rn;
	bool v4_first = rn->q->address_family ==
		CONFIG_QUEUE_FAMILY_PREFER_IPV4 || r->d->prefer_ipv4;
	bool temp = false, any = false;

	for (size_t i = 0; i < r->n_hosts; i++) {
		struct resolve_host *h = &r->hosts[i];

		for (int pass = 0; pass < 2; pass++) {
			int fam = (pass == 0) == v4_first ? AF_INET : AF_INET6;

			for (size_t k = 0; k < h->n_addrs; k++)
				if (h->addrs[k].family == fam)
					add_addr(r, h, &h->addrs[k]);
		}
		for (int k = 0; k < 2; k++) {
			if (!h->asked[k])
				continue;
			any = true;
			if (h->st[k] != DNS_OK && !dns_status_is_permanent(h->st[k]))
				temp = true;
		}
	}
	if (r->res.n_targets > 0) {
		r->res.status = QUEUE_RESOLVED_OK;
	} else if (temp || !any) {
		fail(r, false, "4.4.3", "Host or domain name lookup failed "
		     "for %s%s: temporary DNS failure", r->d->route.host, "");
	} else if (r->implicit) {
		fail(r, true, "5.1.2", "Host or domain name not found: %s has "
		     "no MX and no address%s", r->d->route.host, "");
	} else {
		fail(r, true, "5.4.4", "No address for any MX host of %s%s",
		     r->d->route.host, "");
	}
	finish(r);
}

static void
addr_cb(const struct dns_result *result, void *ctx)
{
	struct resolve_host *h = ctx;
	struct queue_resolve *r = h->r;
	int k = result->type == DNS_TYPE_AAAA ? 0 : 1;

	h->q[k] = NULL;
	h->st[k] = result->status;
	if (result->status == DNS_OK) {
		h->addrs = xreallocarray(h->addrs, h->n_addrs + result->count,
					 sizeof(*h->addrs));
		for (size_t i = 0; i < result->count; i++)
			h->addrs[h->n_addrs++] = result->rrs[i].addr;
	}
	if (--r->pending == 0)
		hosts_done(r);
}

/* Looks up the addresses of every host in r->hosts; a host that is an IP
 * literal needs none. */
static void
lookup_hosts(struct queue_resolve *r)
{
	for (size_t i = 0; i < r->n_hosts; i++) {
		struct resolve_host *h = &r->hosts[i];
		struct dns_addr a;

		h->r = r;
		if (inet_pton(AF_INET6, h->name, &a.v6) == 1) {
			a.family = AF_INET6;
			h->addrs = xmemdup(&a, sizeof(a));
			h->n_addrs = 1;
			continue;
		}
		if (inet_pton(AF_INET, h->name, &a.v4) == 1) {
			a.family = AF_INET;
			h->addrs = xmemdup(&a, sizeof(a));
			h->n_addrs = 1;
			continue;
		}
		h->asked[0] = family_wanted(r->rn, AF_INET6);
		h->asked[1] = family_wanted(r->rn, AF_INET);
		r->pending += h->asked[0] + h->asked[1];
	}
	if (r->pending == 0) {
		ioev_timer_start(r->later, 0, false);
		return;
	}
	/* started after counting: a callback never runs inside dns_lookup,
	 * but pending must be whole before the first one does */
	for (size_t i = 0; i < r->n_hosts; i++) {
		struct resolve_host *h = &r->hosts[i];

		if (h->asked[0])
			h->q[0] = dns_lookup(r->rn->dns, h->name,
					     DNS_TYPE_AAAA, addr_cb, h);
		if (h->asked[1])
			h->q[1] = dns_lookup(r->rn->dns, h->name, DNS_TYPE_A,
					     addr_cb, h);
	}
}

static uint32_t
rand32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)queue_now_ms();
	return v;
}

static void
mx_cb(const struct dns_result *result, void *ctx)
{
	struct queue_resolve *r = ctx;
	const char *domain = r->d->route.host;

	r->mx_q = NULL;
	if (result->status == DNS_NODATA) {
		/* RFC 5321 5.1: no MX, the domain is its own mail host */
		r->implicit = true;
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s",
			 domain);
		r->n_hosts = 1;
		lookup_hosts(r);
		return;
	}
	if (result->status == DNS_NXDOMAIN) {
		fail(r, true, "5.1.2", "Host or domain name not found: %s%s",
		     domain, " does not exist (NXDOMAIN)");
		finish(r);
		return;
	}
	if (result->status != DNS_OK) {
		char why[300];

		snprintf(why, sizeof(why), " (%s%s%s)",
			 dns_status_name(result->status),
			 result->error != NULL ? ": " : "",
			 result->error != NULL ? result->error : "");
		fail(r, false, "4.4.3", "MX lookup for %s failed%s", domain,
		     why);
		finish(r);
		return;
	}
	for (size_t i = 0; i < result->count; i++) {
		if (result->rrs[i].mx.exchange[0] == '\0') {
			/* RFC 7505 3: a null MX says the domain takes no mail */
			fail(r, true, "5.1.10", "Domain %s does not accept "
			     "mail (null MX)%s", domain, "");
			finish(r);
			return;
		}
	}
	for (size_t i = 0; i < result->count && r->n_hosts < MX_HOSTS_MAX;
	     i++) {
		snprintf(r->hosts[r->n_hosts].name,
			 sizeof(r->hosts[r->n_hosts].name), "%s",
			 result->rrs[i].mx.exchange);
		r->hosts[r->n_hosts].pref = result->rrs[i].mx.preference;
		r->n_hosts++;
	}
	/* RFC 5321 5.1: equal preferences in random order (Fisher-Yates
	 * within each run of one preference; the answer is sorted) */
	for (size_t s0 = 0, e; s0 < r->n_hosts; s0 = e) {
		for (e = s0 + 1; e < r->n_hosts &&
		     result->rrs[e].mx.preference ==
		     result->rrs[s0].mx.preference; e++)
			;
		for (size_t k = e - 1; k > s0; k--) {
			size_t j = s0 + rand32() % (k - s0 + 1);
			struct resolve_host tmp = r->hosts[k];

			r->hosts[k] = r->hosts[j];
			r->hosts[j] = tmp;
		}
	}
	lookup_hosts(r);
}

static void
later_cb(void *ctx)
{
	struct queue_resolve *r = ctx;

	if (r->mx_q == NULL && r->pending == 0 && r->res.status ==
	    QUEUE_RESOLVED_OK && r->res.n_targets == 0 && r->n_hosts > 0)
		hosts_done(r);
	else
		finish(r);
}

struct queue_resolve *
queue_resolve_start(struct queue_runner *rn, struct queue_dest *d,
		    queue_resolved_cb_t *cb)
{
	struct queue_resolve *r = xcalloc(1, sizeof(*r));
	const struct queue_route *route = &d->route;

	r->rn = rn;
	r->d = d;
	r->cb = cb;
	r->later = ioev_timer_new(rn->loop, later_cb, r);
	d->resolving = r;
	if (route->kind == QUEUE_ROUTE_UNIX) {
		struct sockaddr_storage ss;
		socklen_t len = smtp_client_unix_addr(route->path, &ss);

		if (len == 0)
			fail(r, false, "4.3.5", "socket path too long: %s%s",
			     route->path, "");
		else
			add_target(r, "", 0, &ss, len, "unix");
		ioev_timer_start(r->later, 0, false);
		return r;
	}
	if (rn->dns == NULL && route->kind == QUEUE_ROUTE_MX) {
		fail(r, false, "4.4.3", "no DNS resolver: %s%s",
		     rn->dns_error != NULL ? rn->dns_error : "?", "");
		ioev_timer_start(r->later, 0, false);
		return r;
	}
	if (route->kind == QUEUE_ROUTE_DIRECT) {
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s",
			 route->host);
		r->n_hosts = 1;
		r->implicit = true;
		if (rn->dns == NULL) {
			struct in6_addr tmp;

			if (inet_pton(AF_INET, route->host, &tmp) != 1 &&
			    inet_pton(AF_INET6, route->host, &tmp) != 1) {
				fail(r, false, "4.4.3", "no DNS resolver: "
				     "%s%s", rn->dns_error != NULL ?
				     rn->dns_error : "?", "");
				ioev_timer_start(r->later, 0, false);
				return r;
			}
		}
		lookup_hosts(r);
		return r;
	}
	r->mx_q = dns_lookup(rn->dns, route->host, DNS_TYPE_MX, mx_cb, r);
	return r;
}

void
queue_resolve_cancel(struct queue_resolve **rp)
{
	struct queue_resolve *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	dns_query_cancel(&r->mx_q);
	for (size_t i = 0; i < r->n_hosts; i++) {
		dns_query_cancel(&r->hosts[i].q[0]);
		dns_query_cancel(&r->hosts[i].q[1]);
		free(r->hosts[i].addrs);
	}
	free(r->res.targets);
	ioev_timer_free(&r->later);
	r->d->resolving = NULL;
	free(r);
}
