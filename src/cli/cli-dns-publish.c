/* SPDX-License-Identifier: MIT */
/*
 * herald dns DOMAIN and herald dns check DOMAIN: the records a domain
 * should publish, made from the config, the store and the DKIM key store
 * (src/mailauth/publish.h), printed as a zone file or JSON; and each of
 * them looked up through the resolver ([dns]) and judged, one line each.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli-dns.h"
#include "cli/cli.h"
#include "conf/config.h"
#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/ioev.h"
#include "lib/mem.h"
#include "mailauth/dkim.h"
#include "mailauth/mailauth-settings.h"
#include "mailauth/publish.h"
#include "mailauth/spf.h"
#include "store/store.h"

/* A retired DKIM key stays published for the queue's max_lifetime plus
 * this (docs/mailauth.md "Rotation"): receivers' queues hold mail too. */
#define DKIM_KEEP_EXTRA_S (7 * 86400)

static const enum listen_proto srv_protos[PUBLISH_SRV_COUNT] = {
	[PUBLISH_SRV_SUBMISSIONS] = PROTO_SUBMISSIONS,
	[PUBLISH_SRV_SUBMISSION] = PROTO_SUBMISSION,
	[PUBLISH_SRV_IMAPS] = PROTO_IMAPS,
	[PUBLISH_SRV_IMAP] = PROTO_IMAP,
	[PUBLISH_SRV_POP3S] = PROTO_POP3S,
	[PUBLISH_SRV_POP3] = PROTO_POP3,
};

/* Whether addr can be this server's address on the Internet: not the
 * wildcard, loopback, private (RFC 1918, RFC 4193), shared (RFC 6598),
 * link-local or multicast. Documentation ranges pass (examples). */
static bool
addr_is_public(int family, const void *addr)
{
	if (family == AF_INET) {
		const uint8_t *a = addr;

		return !(a[0] == 0 || a[0] == 10 || a[0] == 127 ||
			 a[0] >= 224 || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
			 (a[0] == 169 && a[1] == 254) ||
			 (a[0] == 172 && (a[1] & 0xf0) == 16) ||
			 (a[0] == 192 && a[1] == 168));
	}
	if (family == AF_INET6) {
		const struct in6_addr *a6 = addr;
		const uint8_t *a = a6->s6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6))
			return addr_is_public(AF_INET, a + 12);
		return !(IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_LOOPBACK(a6) ||
			 IN6_IS_ADDR_LINKLOCAL(a6) || IN6_IS_ADDR_MULTICAST(a6) ||
			 (a[0] & 0xfe) == 0xfc);
	}
	return false;
}

struct addr_list {
	char **v;
	size_t n;
};

static void
addr_list_add(struct addr_list *l, const char *text)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], text) == 0)
			return;
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof(char *));
	l->v[l->n++] = xstrdup(text);
}

static void
addr_list_free(struct addr_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* A listener's address as text when it is public. */
static bool
listen_public_text(const struct listen_addr *la, char *out, size_t outsz)
{
	const void *a;
	int family = la->ss.ss_family;

	if (la->kind != LISTEN_INET)
		return false;
	a = family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)&la->ss)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)&la->ss)->sin6_addr;
	if (!addr_is_public(family, a))
		return false;
	return inet_ntop(family, a, out, (socklen_t)outsz) != NULL;
}

static bool
text_is_public(const char *s)
{
	unsigned char a[16];

	if (s == NULL)
		return false;
	if (inet_pton(AF_INET, s, a) == 1)
		return addr_is_public(AF_INET, a);
	if (inet_pton(AF_INET6, s, a) == 1)
		return addr_is_public(AF_INET6, a);
	return false;
}

static uint16_t
first_port(const struct listen_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct listen_addr *la = &l->v[i];

		if (la->kind != LISTEN_INET)
			continue;
		if (la->ss.ss_family == AF_INET)
			return ntohs(((const struct sockaddr_in *)&la->ss)->sin_port);
		return ntohs(((const struct sockaddr_in6 *)&la->ss)->sin6_port);
	}
	return 0;
}

struct plan_ctx {
	struct addr_list host, spf;
	struct dkim_key_info *keys;
	size_t n_keys;
	char *hostname;
};

static void
plan_ctx_deinit(struct plan_ctx *c)
{
	addr_list_free(&c->host);
	addr_list_free(&c->spf);
	dkim_key_infos_free(&c->keys, c->n_keys);
	free(c->hostname);
}

static char *
lower_dup(const char *s)
{
	char *d = xstrdup(s);
	size_t n = strlen(d);

	for (char *p = d; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (n > 0 && d[n - 1] == '.')
		d[n - 1] = '\0';
	return d;
}

/* The plan for domain, from the config, the store (the domain must be
 * ours) and the key store. NULL after printing why. */
static struct publish_plan *
make_plan(const struct config *cfg, const char *domain_arg,
	  const struct cli_dns_publish_opts *o, struct plan_ctx *c)
{
	struct publish_input in = { 0 };
	struct store *store;
	char text[INET6_ADDRSTRLEN], *domain, *err = NULL;
	const char *serr = NULL;
	enum store_result sr;
	struct publish_plan *plan;

	memset(c, 0, sizeof(*c));
	domain = lower_dup(domain_arg);
	if (!dkim_name_is_valid(domain) || strchr(domain, '.') == NULL) {
		cli_error("'%s' is not a domain name (an IDN in its xn-- form)",
			  domain_arg);
		free(domain);
		return NULL;
	}
	if ((store = cli_open_store(cfg)) == NULL) {
		free(domain);
		return NULL;
	}
	sr = store_domain_lookup(store, domain, &serr);
	store_close(&store);
	if (sr == STORE_E_NOT_FOUND) {
		cli_error("%s is not a domain of this server (herald domain "
			  "add %s)", domain, domain);
		free(domain);
		return NULL;
	}
	if (sr != STORE_OK) {
		cli_error("cannot read the domains: %s",
			  serr != NULL ? serr : "store error");
		free(domain);
		return NULL;
	}
	if (dkim_keystore_list(cfg->data_dir, domain, time(NULL), &c->keys,
			       &c->n_keys, &err) < 0) {
		cli_error("%s", err);
		free(err);
		free(domain);
		return NULL;
	}
	for (size_t i = 0; i < cfg->listen.proto[PROTO_SMTP].n; i++) {
		if (listen_public_text(&cfg->listen.proto[PROTO_SMTP].v[i], text,
				       sizeof(text)))
			addr_list_add(&c->host, text);
	}
	if (text_is_public(cfg->smtp_client.bind_address)) {
		addr_list_add(&c->spf, cfg->smtp_client.bind_address);
		addr_list_add(&c->host, cfg->smtp_client.bind_address);
	}
	if (text_is_public(cfg->smtp_client.bind_address6)) {
		addr_list_add(&c->spf, cfg->smtp_client.bind_address6);
		addr_list_add(&c->host, cfg->smtp_client.bind_address6);
	}
	c->hostname = lower_dup(cfg->hostname);
	in.domain = domain;
	in.hostname = c->hostname;
	in.host_addrs = (const char *const *)c->host.v;
	in.n_host_addrs = c->host.n;
	in.spf_addrs = (const char *const *)c->spf.v;
	in.n_spf_addrs = c->spf.n;
	in.relayhost = cfg->queue.relayhost;
	for (size_t i = 0; i < PUBLISH_SRV_COUNT; i++)
		in.srv_ports[i] = first_port(&cfg->listen.proto[srv_protos[i]]);
	in.keys = c->keys;
	in.n_keys = c->n_keys;
	in.selector = o->selector;
	in.dkim_keep_s = cfg->queue.max_lifetime_s + DKIM_KEEP_EXTRA_S;
	in.now = time(NULL);
	in.dmarc_policy = o->dmarc_policy;
	in.report_address = o->report_address;
	in.mta_sts_enforce = o->mta_sts_enforce;
	plan = publish_plan_new(&in);
	free(domain);
	return plan;
}

int
cli_dns_publish(const struct config *cfg, const char *domain,
		const struct cli_dns_publish_opts *o)
{
	struct publish_plan *plan;
	struct plan_ctx c;
	struct buf out;

	if ((plan = make_plan(cfg, domain, o, &c)) == NULL)
		return CLI_ERROR;
	buf_init(&out);
	if (o->json)
		publish_print_json(plan, &out);
	else
		publish_print_zone(plan, o->ttl, &out);
	fwrite(out.data, 1, out.len, stdout);
	buf_deinit(&out);
	publish_plan_free(&plan);
	plan_ctx_deinit(&c);
	return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

/* ---- check ---- */

struct lookup {
	const char *name;
	enum dns_type type;
	struct dns_result *res;
};

struct batch {
	struct ioev_loop *loop;
	size_t pending;
};

struct lookup_slot {
	struct batch *batch;
	struct lookup *lookup;
};

static void
lookup_done(const struct dns_result *res, void *ctx)
{
	struct lookup_slot *slot = ctx;

	slot->lookup->res = dns_result_dup(res);
	if (--slot->batch->pending == 0)
		ioev_loop_stop(slot->batch->loop);
}

struct spf_slot {
	struct batch *batch;
	struct spf_verdict *verdict;
	char ip[INET6_ADDRSTRLEN];
};

static void
spf_done(const struct spf_verdict *verdict, void *ctx)
{
	struct spf_slot *slot = ctx;

	slot->verdict = xcalloc(1, sizeof(*slot->verdict));
	slot->verdict->result = verdict->result;
	slot->verdict->problem = verdict->problem != NULL ?
		xstrdup(verdict->problem) : NULL;
	if (--slot->batch->pending == 0)
		ioev_loop_stop(slot->batch->loop);
}

/* Runs SPF for the MX host's addresses (as the sender postmaster@DOMAIN)
 * and turns an ok SPF verdict into a warning when one does not pass. */
static void
spf_coverage(const struct config *cfg, struct ioev_loop *loop,
	     struct dns_resolver *r, const struct publish_plan *plan,
	     const struct dns_result *a, const struct dns_result *aaaa,
	     struct publish_verdict *v)
{
	const struct dns_result *sets[2] = { a, aaaa };
	struct spf_slot *slots;
	struct batch batch = { .loop = loop };
	struct spf_limits lim;
	size_t n = 0, max = 0;
	char *mail_from;
	struct buf bad, good;

	for (size_t s = 0; s < 2; s++)
		if (sets[s] != NULL && sets[s]->status == DNS_OK)
			max += sets[s]->count;
	if (max == 0)
		return;
	spf_limits_from_config(&cfg->mailauth, &lim);
	mail_from = xasprintf("postmaster@%s", plan->domain);
	slots = xcalloc(max, sizeof(*slots));
	for (size_t s = 0; s < 2; s++) {
		if (sets[s] == NULL || sets[s]->status != DNS_OK)
			continue;
		for (size_t i = 0; i < sets[s]->count; i++) {
			struct sockaddr_storage ss;
			struct spf_request req = {
				.identity = SPF_ID_MAILFROM,
				.ip = (const struct sockaddr *)&ss,
				.mail_from = mail_from,
				.helo = plan->hostname,
				.receiver = "herald-dns-check",
			};

			dns_addr_sockaddr(&sets[s]->rrs[i].addr, 0, &ss);
			dns_addr_str(&sets[s]->rrs[i].addr, slots[n].ip,
				     sizeof(slots[n].ip));
			slots[n].batch = &batch;
			batch.pending++;
			(void)spf_check_start(loop, r, &req, &lim, spf_done,
					      &slots[n]);
			n++;
		}
	}
	if (ioev_loop_run(loop) < 0)
		cli_error("event loop failed");
	buf_init(&bad);
	buf_init(&good);
	for (size_t i = 0; i < n; i++) {
		struct spf_verdict *sv = slots[i].verdict;

		if (sv != NULL && sv->result == SPF_PASS) {
			buf_printf(&good, "%s%s", good.len > 0 ? " " : "",
				   slots[i].ip);
		} else {
			buf_printf(&bad, "%s%s (%s%s%s)", bad.len > 0 ? ", " : "",
				   slots[i].ip,
				   sv != NULL ? spf_result_name(sv->result) :
				   "no verdict",
				   sv != NULL && sv->problem != NULL ? ": " : "",
				   sv != NULL && sv->problem != NULL ?
				   sv->problem : "");
		}
		if (sv != NULL) {
			free(sv->problem);
			free(sv);
		}
	}
	if (bad.len > 0) {
		char *d = xasprintf("%s; does not pass for the MX's address %s",
				    v->detail != NULL ? v->detail : "",
				    bad.data);

		free(v->detail);
		v->detail = d;
		v->status = PUBLISH_WARN;
	} else if (v->status == PUBLISH_OK) {
		char *d = xasprintf("%s; passes for %s",
				    v->detail != NULL ? v->detail : "",
				    good.data);

		free(v->detail);
		v->detail = d;
	}
	buf_deinit(&bad);
	buf_deinit(&good);
	free(slots);
	free(mail_from);
}

int
cli_dns_check(const struct config *cfg, const char *domain,
	      const struct cli_dns_publish_opts *o)
{
	struct publish_plan *plan;
	struct plan_ctx c;
	struct ioev_loop *loop;
	struct dns_resolver *r;
	struct lookup *lookups;
	struct lookup_slot *slots;
	struct batch batch = { 0 };
	size_t nl = 0, counts[5] = { 0 };
	struct buf failed;
	const char *err;
	size_t *first;		/* per record: its lookup (A first for HOST) */
	int ret;

	if ((plan = make_plan(cfg, domain, o, &c)) == NULL)
		return CLI_ERROR;
	loop = ioev_loop_new(1);
	batch.loop = loop;
	r = dns_resolver_new(loop, &cfg->dns, &err);
	if (r == NULL) {
		cli_error("%s", err);
		ioev_loop_free(&loop);
		publish_plan_free(&plan);
		plan_ctx_deinit(&c);
		return CLI_ERROR;
	}
	lookups = xcalloc(2 * plan->n + 1, sizeof(*lookups));
	slots = xcalloc(2 * plan->n + 1, sizeof(*slots));
	first = xcalloc(plan->n + 1, sizeof(*first));
	for (size_t i = 0; i < plan->n; i++) {
		const struct publish_record *rec = &plan->recs[i];

		first[i] = SIZE_MAX;
		if (!rec->checked ||
		    (rec->kind == PUBLISH_DKIM && rec->key == NULL))
			continue;
		first[i] = nl;
		lookups[nl++] = (struct lookup){ rec->name, rec->type, NULL };
		if (rec->kind == PUBLISH_HOST)
			lookups[nl++] = (struct lookup){ rec->name,
							 DNS_TYPE_AAAA, NULL };
	}
	/* all at once: a server that does not answer costs one timeout */
	batch.pending = nl;
	for (size_t i = 0; i < nl; i++) {
		slots[i] = (struct lookup_slot){ &batch, &lookups[i] };
		(void)dns_lookup(r, lookups[i].name, lookups[i].type,
				 lookup_done, &slots[i]);
	}
	if (nl > 0 && ioev_loop_run(loop) < 0)
		cli_error("event loop failed");

	buf_init(&failed);
	for (size_t i = 0; i < plan->n; i++) {
		const struct publish_record *rec = &plan->recs[i];
		const struct dns_result *res = NULL, *aaaa = NULL;
		struct publish_verdict v;

		if (!rec->checked)
			continue;
		if (first[i] != SIZE_MAX) {
			res = lookups[first[i]].res;
			if (rec->kind == PUBLISH_HOST)
				aaaa = lookups[first[i] + 1].res;
		}
		publish_judge(plan, rec, res, aaaa, &v);
		if (rec->kind == PUBLISH_SPF &&
		    (v.status == PUBLISH_OK || v.status == PUBLISH_WARN)) {
			/* the HOST record comes before SPF in the plan */
			for (size_t j = 0; j < i; j++) {
				if (plan->recs[j].kind == PUBLISH_HOST &&
				    first[j] != SIZE_MAX)
					spf_coverage(cfg, loop, r, plan,
						     lookups[first[j]].res,
						     lookups[first[j] + 1].res,
						     &v);
			}
		}
		counts[v.status]++;
		if (rec->required && v.status != PUBLISH_OK &&
		    v.status != PUBLISH_WARN)
			buf_printf(&failed, "%s%s %s", failed.len > 0 ? ", " : "",
				   rec->purpose, rec->name);
		printf("%-7s %-8s %s. %s%s%s\n", publish_status_name(v.status),
		       rec->purpose, rec->name,
		       rec->kind == PUBLISH_HOST ? "A/AAAA" :
		       dns_type_name(rec->type), v.detail != NULL ? ": " : "",
		       v.detail != NULL ? v.detail : "");
		publish_verdict_deinit(&v);
	}
	printf("summary: %zu ok, %zu warn, %zu missing, %zu wrong, %zu error; ",
	       counts[PUBLISH_OK], counts[PUBLISH_WARN], counts[PUBLISH_MISSING],
	       counts[PUBLISH_WRONG], counts[PUBLISH_DNS_ERROR]);
	if (failed.len == 0)
		printf("the required records (MX, its address, SPF, DKIM, "
		       "DMARC) are in place\n");
	else
		printf("required and not in place: %s\n", failed.data);
	ret = failed.len == 0 ? CLI_OK : CLI_ERROR;
	buf_deinit(&failed);
	for (size_t i = 0; i < nl; i++)
		dns_result_free(&lookups[i].res);
	free(lookups);
	free(slots);
	free(first);
	dns_resolver_free(&r);
	ioev_loop_free(&loop);
	publish_plan_free(&plan);
	plan_ctx_deinit(&c);
	return fflush(stdout) == 0 ? ret : CLI_ERROR;
}
