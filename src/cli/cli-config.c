/* SPDX-License-Identifier: MIT */
/* herald config check|show|docs */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "lib/buf.h"
#include "dns/dns.h"
#include "mailauth/dmarc.h"
#include "tls/tls.h"

static void
config_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald config check [-c FILE]\n"
		"       herald config show [-c FILE] [--defaults]\n"
		"       herald config docs\n\n"
		"check     validate the file; every error is printed as FILE:LINE: message;\n"
		"          tls.cert and tls.key are loaded as serve loads them, and\n"
		"          the [dns] files as the resolver reads them\n"
		"show      print the effective configuration (secrets hidden)\n"
		"          --defaults: print the built-in defaults instead\n"
		"docs      print the reference of every key (docs/config.md)\n");
}

/* What serve loads from other files before it starts: the certificate
 * and key (a path that does not exist or a key of another certificate
 * passed config check and only stopped herald serve). Without tls.cert
 * serve makes its own. */
static int
check_tls(const struct config *cfg)
{
	struct tls_server *tls;
	char *err = NULL;

	if (cfg->tls.cert == NULL)
		return 0;
	tls = tls_server_new(cfg, &err);
	if (tls == NULL) {
		fprintf(stderr, "%s: %s\n", cfg->path, err);
		free(err);
		return -1;
	}
	tls_server_free(&tls);
	return 0;
}

/* The [dns] files (unbound_config, resolv_conf, hosts, trust_anchor) as
 * the resolver reads them: libunbound refuses a broken one only when it
 * is set up. */
static int
check_dns(const struct config *cfg)
{
	struct dns_resolver *r;
	const char *err;

	r = dns_resolver_new(NULL, &cfg->dns, &err);
	if (r == NULL) {
		fprintf(stderr, "%s: %s\n", cfg->path, err);
		return -1;
	}
	dns_resolver_free(&r);
	return 0;
}

/* DMARC's Public Suffix List, as herald serve checks it at start. */
static int
check_psl(const struct config *cfg)
{
	struct dmarc_psl *psl;
	char *err = NULL;

	if (cfg->mailauth.dmarc == CONFIG_DMARC_OFF)
		return 0;
	psl = dmarc_psl_load(cfg->mailauth.psl_file, &err);
	if (psl == NULL) {
		fprintf(stderr, "%s: [mailauth] psl_file: %s\n", cfg->path, err);
		free(err);
		return -1;
	}
	dmarc_psl_free(&psl);
	return 0;
}

int
cli_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "defaults", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *sub;
	bool defaults = false;
	struct config *cfg;
	struct buf out;
	int c;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		config_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	sub = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			defaults = true;
			break;
		default:
			config_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc - 1) {
		config_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(sub, "docs") == 0) {
		buf_init(&out);
		config_print_docs(&out);
		fwrite(out.data, 1, out.len, stdout);
		buf_deinit(&out);
		return CLI_OK;
	}
	if (strcmp(sub, "check") != 0 && strcmp(sub, "show") != 0) {
		config_usage(stderr);
		return CLI_USAGE;
	}
	cfg = defaults ? config_defaults() : cli_load_config(path);
	if (cfg == NULL)
		return CLI_ERROR;
	if (strcmp(sub, "show") == 0) {
		buf_init(&out);
		config_print(cfg, &out);
		fwrite(out.data, 1, out.len, stdout);
		buf_deinit(&out);
	} else {
		if (cfg->warnings != NULL)
			fprintf(stderr, "%s\n", cfg->warnings);
		if (check_tls(cfg) < 0 || check_dns(cfg) < 0 ||
		    check_psl(cfg) < 0) {
			config_free(&cfg);
			return CLI_ERROR;
		}
		printf("%s: ok\n", cfg->path);
	}
	config_free(&cfg);
	return CLI_OK;
}
