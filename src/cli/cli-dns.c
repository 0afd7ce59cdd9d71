/* SPDX-License-Identifier: MIT */
/*
 * herald dns lookup: one lookup through Herald's resolver (src/dns/) with
 * the [dns] settings of a config, printed with its status, DNSSEC state,
 * TTLs and records. For admins checking what the queue will see, and for
 * the integration tests of the DNS module (docs/dns.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "dns/dns.h"
#include "lib/ioev.h"
#include "lib/log.h"

static void
dns_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald dns lookup [-c FILE] [--sync] [--repeat N] TYPE NAME\n\n"
		"lookup  look NAME up with the resolver and [dns] settings of\n"
		"        the config; TYPE is A, AAAA, MX, TXT, SRV, TLSA or\n"
		"        PTR (for PTR, NAME may be an IP address). Prints the\n"
		"        status\n"
		"        (ok, nxdomain, nodata, servfail, timeout, error), the\n"
		"        DNSSEC state, the TTLs and the records. --repeat looks\n"
		"        it up N times in a row (the later ones from the cache);\n"
		"        --sync uses the blocking variant instead of the event\n"
		"        loop. Exit status 0 when the last answer is ok, 1\n"
		"        otherwise.\n");
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool sync = false;
	unsigned long repeat = 1;
	enum dns_type type;
	struct config *cfg;
	char *end;
	int c, ret;

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
		case 'h':
			dns_usage(stdout);
			return CLI_OK;
		default:
			dns_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind + 3 != argc || strcmp(argv[optind], "lookup") != 0) {
		dns_usage(stderr);
		return CLI_USAGE;
	}
	if (dns_type_parse(argv[optind + 1], &type) < 0) {
		cli_error("unknown record type '%s' (A, AAAA, MX, TXT, SRV, TLSA, PTR)",
			  argv[optind + 1]);
		return CLI_USAGE;
	}
	if ((cfg = cli_load_config(path)) == NULL)
		return CLI_ERROR;
	log_set_level(cfg->log_level);
	ret = run_lookup(cfg, sync, (unsigned)repeat, type, argv[optind + 2]);
	config_free(&cfg);
	return ret;
}
