/* SPDX-License-Identifier: MIT */
/*
 * herald dns: the option parsing of the group, and `herald dns lookup`:
 * one lookup through Herald's resolver (src/dns/) with the [dns] settings
 * of a config, printed with its status, DNSSEC state, TTLs and records
 * (docs/dns.md). `herald dns DOMAIN` and `check` are cli-dns-publish.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-dns.h"
#include "cli/cli.h"
#include "conf/config.h"
#include "dns/dns.h"
#include "lib/ioev.h"
#include "lib/log.h"

static void
dns_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald dns [-c FILE] [--selector S] [--ttl N] [--json]\n"
		"                  [--dmarc-policy none|quarantine|reject]\n"
		"                  [--report-address ADDR]\n"
		"                  [--mta-sts-mode testing|enforce] DOMAIN\n"
		"       herald dns check [-c FILE] [same options] DOMAIN\n"
		"       herald dns lookup [-c FILE] [--sync] [--repeat N] TYPE NAME\n\n"
		"DOMAIN  print the records DOMAIN (a domain of this server)\n"
		"        should publish, as a zone file with a comment on each:\n"
		"        MX, SPF, DKIM (each key of the domain that is active,\n"
		"        next or retired but still to be kept), DMARC, MTA-STS,\n"
		"        TLS-RPT, the SRV records of RFC 6186/8314, and hints\n"
		"        for the A/AAAA of the hostname and for autoconfig.\n"
		"        --selector: only that DKIM key; --ttl: a TTL column;\n"
		"        --json: [{name, type, value, purpose}]; reports go to\n"
		"        postmaster@DOMAIN unless --report-address.\n"
		"check   look each of those records up with the [dns]\n"
		"        settings and print one line per record: ok, warn,\n"
		"        missing, wrong or error (the lookup failed), what was\n"
		"        found and what was expected, then a summary. Exit\n"
		"        status 0 when MX, the hostname's address, SPF, the\n"
		"        active DKIM keys and DMARC are ok (or only warned\n"
		"        about), 1 otherwise.\n"
		"lookup  look NAME up with the resolver and [dns] settings of\n"
		"        the config; TYPE is A, AAAA, MX, TXT, SRV, TLSA or\n"
		"        PTR (for PTR, NAME may be an IP address). Prints the\n"
		"        status (ok, nxdomain, nodata, servfail, timeout,\n"
		"        error), the DNSSEC state, the TTLs and the records.\n"
		"        --repeat looks it up N times in a row (the later ones\n"
		"        from the cache); --sync uses the blocking variant\n"
		"        instead of the event loop. Exit status 0 when the last\n"
		"        answer is ok, 1 otherwise.\n");
}

/* TXT strings in zone-file presentation: quoted, with \" \\ and \DDD. */
static void
print_txt_string(const char *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < ' ' || c >= 0x7f)
			printf("\\%03u", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
print_result(const struct dns_result *res)
{
	char addr[64];

	printf("name: %s\ntype: %s\nstatus: %s\nsec: %s\n", res->name,
	       dns_type_name(res->type), dns_status_name(res->status),
	       dns_sec_name(res->sec));
	printf("canonname: %s\nttl: %u\nrcode: %d\ncache: %s\n",
	       res->canonname, res->ttl, res->rcode,
	       res->from_cache ? "hit" : "miss");
	if (res->error != NULL)
		printf("error: %s\n", res->error);
	if (res->why_bogus != NULL)
		printf("why_bogus: %s\n", res->why_bogus);
	for (size_t i = 0; i < res->count; i++) {
		const struct dns_rr *rr = &res->rrs[i];

		printf("record: %u %s ", rr->ttl, dns_type_name(res->type));
		switch (res->type) {
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			printf("%s", dns_addr_str(&rr->addr, addr, sizeof(addr)));
			break;
		case DNS_TYPE_MX:
			printf("%u %s", rr->mx.preference,
			       rr->mx.exchange[0] != '\0' ? rr->mx.exchange : ".");
			break;
		case DNS_TYPE_PTR:
			printf("%s", rr->ptr);
			break;
		case DNS_TYPE_TXT:
			for (size_t j = 0; j < rr->txt.n_strings; j++) {
				if (j > 0)
					putchar(' ');
				print_txt_string(rr->txt.strings[j],
						 rr->txt.string_lens[j]);
			}
			break;
		case DNS_TYPE_SRV:
			printf("%u %u %u %s", rr->srv.priority, rr->srv.weight,
			       rr->srv.port,
			       rr->srv.target[0] != '\0' ? rr->srv.target : ".");
			break;
		case DNS_TYPE_TLSA:
			printf("%u %u %u ", rr->tlsa.usage, rr->tlsa.selector,
			       rr->tlsa.mtype);
			for (size_t j = 0; j < rr->tlsa.data_len; j++)
				printf("%02x", rr->tlsa.data[j]);
			break;
		}
		putchar('\n');
	}
	if (res->type == DNS_TYPE_TXT) {
		for (size_t i = 0; i < res->count; i++) {
			printf("joined: ");
			print_txt_string(res->rrs[i].txt.text,
					 res->rrs[i].txt.text_len);
			putchar('\n');
		}
	}
	fflush(stdout);
}

struct lookup_run {
	struct ioev_loop *loop;
	enum dns_status last;
};

static void
lookup_done(const struct dns_result *res, void *ctx)
{
	struct lookup_run *run = ctx;

	print_result(res);
	run->last = res->status;
	ioev_loop_stop(run->loop);
}

static int
run_lookup(const struct config *cfg, bool sync, unsigned repeat,
	   enum dns_type type, const char *name)
{
	struct lookup_run run = { .last = DNS_ERROR };
	struct dns_resolver *r;
	const char *err;

	if (!sync)
		run.loop = ioev_loop_new(1);
	r = dns_resolver_new(run.loop, &cfg->dns, &err);
	if (r == NULL) {
		cli_error("%s", err);
		ioev_loop_free(&run.loop);
		return CLI_ERROR;
	}
	for (unsigned i = 0; i < repeat; i++) {
		if (i > 0)
			printf("\n");
		if (sync) {
			struct dns_result *res = dns_lookup_sync(r, name, type);

			print_result(res);
			run.last = res->status;
			dns_result_free(&res);
		} else {
			(void)dns_lookup(r, name, type, lookup_done, &run);
			if (ioev_loop_run(run.loop) < 0) {
				cli_error("event loop failed");
				break;
			}
		}
	}
	dns_resolver_free(&r);
	ioev_loop_free(&run.loop);
	return run.last == DNS_OK ? CLI_OK : CLI_ERROR;
}

int
cli_dns(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "sync", no_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "selector", required_argument, NULL, 'S' },
		{ "ttl", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "dmarc-policy", required_argument, NULL, 'p' },
		{ "report-address", required_argument, NULL, 'a' },
		{ "mta-sts-mode", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_dns_publish_opts po = { 0 };
	const char *path = NULL;
	bool sync = false;
	unsigned long repeat = 1, ttl;
	enum dns_type type;
	struct config *cfg;
	char *end;
	int c, ret, npos;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 's':
			sync = true;
			break;
		case 'r':
			repeat = strtoul(optarg, &end, 10);
			if (*end != '\0' || repeat == 0 || repeat > 1000) {
				cli_error("--repeat takes 1 to 1000");
				return CLI_USAGE;
			}
			break;
		case 'S':
			po.selector = optarg;
			break;
		case 't':
			ttl = strtoul(optarg, &end, 10);
			/* RFC 2181 8: a TTL is at most 2^31 - 1 */
			if (*end != '\0' || optarg[0] == '-' || ttl == 0 ||
			    ttl > 2147483647UL) {
				cli_error("--ttl takes 1 to 2147483647 seconds");
				return CLI_USAGE;
			}
			po.ttl = (unsigned)ttl;
			break;
		case 'j':
			po.json = true;
			break;
		case 'p':
			if (strcmp(optarg, "none") != 0 &&
			    strcmp(optarg, "quarantine") != 0 &&
			    strcmp(optarg, "reject") != 0) {
				cli_error("--dmarc-policy takes none, quarantine "
					  "or reject");
				return CLI_USAGE;
			}
			po.dmarc_policy = optarg;
			break;
		case 'a':
			if (strchr(optarg, '@') == NULL ||
			    strpbrk(optarg, " \t;,!\"\\") != NULL) {
				cli_error("--report-address takes an address "
					  "(reports@example.com)");
				return CLI_USAGE;
			}
			po.report_address = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "testing") != 0 &&
			    strcmp(optarg, "enforce") != 0) {
				cli_error("--mta-sts-mode takes testing or "
					  "enforce");
				return CLI_USAGE;
			}
			po.mta_sts_enforce = strcmp(optarg, "enforce") == 0;
			break;
		case 'h':
			dns_usage(stdout);
			return CLI_OK;
		default:
			dns_usage(stderr);
			return CLI_USAGE;
		}
	}
	npos = argc - optind;
	if (npos == 3 && strcmp(argv[optind], "lookup") == 0) {
		if (dns_type_parse(argv[optind + 1], &type) < 0) {
			cli_error("unknown record type '%s' (A, AAAA, MX, TXT, "
				  "SRV, TLSA, PTR)", argv[optind + 1]);
			return CLI_USAGE;
		}
		if ((cfg = cli_load_config(path)) == NULL)
			return CLI_ERROR;
		log_set_level(cfg->log_level);
		ret = run_lookup(cfg, sync, (unsigned)repeat, type,
				 argv[optind + 2]);
		config_free(&cfg);
		return ret;
	}
	if (!((npos == 2 && strcmp(argv[optind], "check") == 0) ||
	      (npos == 1 && strcmp(argv[optind], "lookup") != 0 &&
	       strcmp(argv[optind], "check") != 0))) {
		dns_usage(stderr);
		return CLI_USAGE;
	}
	if ((cfg = cli_load_config(path)) == NULL)
		return CLI_ERROR;
	log_set_level(cfg->log_level);
	if (npos == 2)
		ret = cli_dns_check(cfg, argv[optind + 1], &po);
	else
		ret = cli_dns_publish(cfg, argv[optind], &po);
	config_free(&cfg);
	return ret;
}
