/* SPDX-License-Identifier: MIT */
/*
 * herald spf check: one SPF check (src/mailauth/spf.h) of an address and
 * a sender through Herald's resolver and the [dns] and [mailauth]
 * settings of a config, printed field by field. For admins asking why a
 * message got its SPF result, and for the RFC 7208 suite's driver.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "dns/dns.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "mailauth/mailauth-settings.h"
#include "mailauth/spf.h"

static void
spf_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald spf check [-c FILE] [--helo NAME] [--identity-helo]\n"
		"                        [--receiver NAME] [--sync] IP SENDER\n"
		"       herald spf check [-c FILE] [--sync] --batch\n\n"
		"check  evaluate SPF (RFC 7208) for a client at IP sending as\n"
		"       SENDER (the MAIL FROM address; \"\" for <>, which checks\n"
		"       postmaster@HELO) with the resolver, [dns] and [mailauth]\n"
		"       settings of the config. --identity-helo checks the HELO\n"
		"       name instead. Prints result, identity, domain, mechanism,\n"
		"       explanation (fail) and its source (record: exp=, or\n"
		"       default), problem (errors), and the DNS terms and void\n"
		"       lookups counted, then the Received-SPF field and the\n"
		"       Authentication-Results method it gives (receiver: the\n"
		"       config's hostname or --receiver). --batch reads lines\n"
		"       of IP TAB SENDER TAB HELO from stdin and prints one\n"
		"       such block per line, each ended by an empty line. --sync uses the blocking\n"
		"       resolver instead of the event loop. Exit status 0 when\n"
		"       the checks ran, 1 otherwise.\n");
}

/* Peer text (explanations come from DNS) on one line. */
static void
print_field(const char *key, const char *value)
{
	printf("%s: ", key);
	for (const unsigned char *p = (const void *)value; *p != '\0'; p++) {
		if (*p < ' ' || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('\n');
}

/* For the Received-SPF line: the request of the verdict printed. */
static const struct spf_request *cur_req;
static const char *cur_receiver;

static void
print_verdict(const struct spf_verdict *v)
{
	char ip[INET6_ADDRSTRLEN] = "", *h;

	print_field("result", spf_result_name(v->result));
	print_field("identity", v->identity == SPF_ID_HELO ? "helo" :
		    "mailfrom");
	print_field("domain", v->domain != NULL ? v->domain : "");
	if (v->mechanism != NULL)
		print_field("mechanism", v->mechanism);
	if (v->explanation != NULL) {
		print_field("explanation", v->explanation);
		print_field("explanation-source",
			    v->explanation_from_record ? "record" : "default");
	}
	if (v->problem != NULL)
		print_field("problem", v->problem);
	printf("dns-mechanisms: %u\nvoid-lookups: %u\n", v->dns_mechanisms,
	       v->void_lookups);
	if (cur_req->ip->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
				      (const void *)cur_req->ip)->sin6_addr,
			  ip, sizeof(ip));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)
				     (const void *)cur_req->ip)->sin_addr,
			  ip, sizeof(ip));
	h = spf_received_spf(v, ip, cur_req->mail_from, cur_req->helo,
			     cur_receiver);
	print_field("received-spf", h);
	free(h);
	h = spf_auth_results(v);
	print_field("authentication-results", h);
	free(h);
	fflush(stdout);
}

static int
parse_ip(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

struct check_run {
	struct ioev_loop *loop;
	bool done;
};

static void
check_done(const struct spf_verdict *v, void *ctx)
{
	struct check_run *run = ctx;

	print_verdict(v);
	run->done = true;
	ioev_loop_stop(run->loop);
}

static int
run_one(struct ioev_loop *loop, struct dns_resolver *r,
	const struct spf_request *req, const struct spf_limits *lim)
{
	cur_req = req;
	if (loop == NULL) {
		struct spf_verdict *v = spf_check_sync(r, req, lim);

		print_verdict(v);
		spf_verdict_free(&v);
		return 0;
	}
	struct check_run run = { .loop = loop };

	(void)spf_check_start(loop, r, req, lim, check_done, &run);
	if (ioev_loop_run(loop) < 0 || !run.done) {
		cli_error("event loop failed");
		return -1;
	}
	return 0;
}

static int
run_batch(struct ioev_loop *loop, struct dns_resolver *r,
	  const struct spf_limits *lim)
{
	char line[4096];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *f[3] = { line, NULL, NULL };
		struct sockaddr_storage ss;
		struct spf_request req = { .identity = SPF_ID_MAILFROM };

		line[strcspn(line, "\n")] = '\0';
		for (int i = 1; i < 3; i++) {
			char *tab = f[i - 1] != NULL ? strchr(f[i - 1], '\t') : NULL;

			if (tab != NULL) {
				*tab = '\0';
				f[i] = tab + 1;
			}
		}
		if (f[2] == NULL || parse_ip(f[0], &ss) < 0) {
			cli_error("batch line: IP TAB SENDER TAB HELO");
			return CLI_ERROR;
		}
		req.ip = (struct sockaddr *)&ss;
		req.mail_from = f[1];
		req.helo = f[2];
		if (run_one(loop, r, &req, lim) < 0)
			return CLI_ERROR;
		putchar('\n');
		fflush(stdout);
	}
	return CLI_OK;
}

int
cli_spf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "helo", required_argument, NULL, 'H' },
		{ "identity-helo", no_argument, NULL, 'I' },
		{ "receiver", required_argument, NULL, 'R' },
		{ "sync", no_argument, NULL, 's' },
		{ "batch", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct spf_request req = { .identity = SPF_ID_MAILFROM, .helo = "" };
	const char *path = NULL, *err;
	bool sync = false, batch = false;
	struct sockaddr_storage ss;
	struct ioev_loop *loop = NULL;
	struct dns_resolver *r;
	struct spf_limits lim;
	struct config *cfg;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'H':
			req.helo = optarg;
			break;
		case 'I':
			req.identity = SPF_ID_HELO;
			break;
		case 'R':
			req.receiver = optarg;
			break;
		case 's':
			sync = true;
			break;
		case 'b':
			batch = true;
			break;
		case 'h':
			spf_usage(stdout);
			return CLI_OK;
		default:
			spf_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind >= argc || strcmp(argv[optind], "check") != 0 ||
	    optind + (batch ? 1 : 3) != argc) {
		spf_usage(stderr);
		return CLI_USAGE;
	}
	if (!batch) {
		if (parse_ip(argv[optind + 1], &ss) < 0) {
			cli_error("'%s' is not an IP address", argv[optind + 1]);
			return CLI_USAGE;
		}
		req.ip = (struct sockaddr *)&ss;
		req.mail_from = argv[optind + 2];
	}
	if ((cfg = cli_load_config(path)) == NULL)
		return CLI_ERROR;
	log_set_level(cfg->log_level);
	spf_limits_from_config(&cfg->mailauth, &lim);
	if (!sync)
		loop = ioev_loop_new(1);
	if ((r = dns_resolver_new(loop, &cfg->dns, &err)) == NULL) {
		cli_error("%s", err);
		ioev_loop_free(&loop);
		config_free(&cfg);
		return CLI_ERROR;
	}
	cur_receiver = req.receiver != NULL ? req.receiver :
		cfg->hostname != NULL ? cfg->hostname : "unknown";
	if (batch)
		ret = run_batch(loop, r, &lim);
	else
		ret = run_one(loop, r, &req, &lim) < 0 ? CLI_ERROR : CLI_OK;
	dns_resolver_free(&r);
	ioev_loop_free(&loop);
	config_free(&cfg);
	return ret;
}
