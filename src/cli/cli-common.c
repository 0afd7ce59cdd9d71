/* SPDX-License-Identifier: MIT */
/* The command table, `herald help`, `herald version` and shared helpers. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "version.h"

const struct cli_command cli_commands[] = {
	{ "serve", cli_serve, "run the server in the foreground" },
	{ "config", cli_config, "check or print the configuration" },
	{ "domain", cli_domain, "add, delete or list mail domains" },
	{ "user", cli_user, "add, delete, list users; set passwords and quotas" },
	{ "alias", cli_alias, "add, delete or list aliases" },
	{ "share", cli_share, "share a user's mailbox with other users (add, remove, list)" },
	{ "index", cli_index, "run or rebuild the full-text search index" },
	{ "dns", cli_dns, "records to publish (dns DOMAIN), check them (dns check DOMAIN); dns lookup TYPE NAME" },
	{ "dkim", cli_dkim, "DKIM keys (keygen, list); sign or verify a message" },
	{ "spf", cli_spf, "check SPF for an address and sender (spf check IP SENDER)" },
	{ "dmarc", cli_dmarc, "DMARC aggregate reports: send now or print (dmarc report --now|--dry-run)" },
	{ "sendmail", cli_sendmail, "inject a message from stdin (sendmail-compatible)" },
	{ "queue", cli_queue, "list, show, flush, hold, release, delete or bounce queued mail" },
	{ "mailq", cli_mailq, "list the outbound queue (sendmail -bp)" },
	{ "debug", cli_debug, "developer tools: smtp-send (the outbound client by hand)" },
	{ "version", cli_version, "print the version" },
	{ "help", cli_help, "list the commands, or explain one" },
	{ NULL, NULL, NULL },
};

void
cli_verror(const char *prog, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_verror_s(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(prog, fmt, ap);
	va_end(ap);
}

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror("herald", fmt, ap);
	va_end(ap);
}

int
cli_config_options(int argc, char **argv, bool stop_at_operand,
		   void (*usage)(FILE *fp), const char **path_r)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, stop_at_operand ? "+c:h" : "c:h",
				opts, NULL)) != -1) {
		if (c == 'c') {
			*path_r = optarg;
		} else if (c == 'h') {
			usage(stdout);
			return CLI_OK;
		} else {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	return -1;
}

struct store *
cli_open_config_store(const char *path, struct config **cfg_r)
{
	struct store *store;

	if ((*cfg_r = cli_load_config(path)) == NULL)
		return NULL;
	if ((store = cli_open_store(*cfg_r)) == NULL)
		config_free(cfg_r);
	return store;
}

struct config *
cli_load_config(const char *path)
{
	struct config *cfg;
	char *err = NULL;

	if (path == NULL)
		path = config_default_path();
	cfg = config_load(path, &err);
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		free(err);
	}
	return cfg;
}

bool
cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

int
cli_version(int argc, char **argv)
{
	printf("herald %s\n", HERALD_VERSION);
	return CLI_OK;
}

int
cli_help(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "help") != 0) {
		for (const struct cli_command *c = cli_commands; c->name != NULL; c++) {
			if (strcmp(argv[1], c->name) == 0) {
				char help[] = "--help";
				char *args[] = { argv[1], help, NULL };

				return c->run(2, args);
			}
		}
		cli_error("unknown command '%s'", argv[1]);
		return CLI_USAGE;
	}
	printf("usage: herald COMMAND [ARGS]\n\n"
	       "Herald %s: a complete mail server in one program.\n\n"
	       "Commands:\n", HERALD_VERSION);
	for (const struct cli_command *c = cli_commands; c->name != NULL; c++)
		printf("  %-10s %s\n", c->name, c->summary);
	printf("\nEvery command takes -c FILE (default $HERALD_CONFIG, then\n"
	       "/etc/herald/herald.conf) and --help. Exit status: 0 success,\n"
	       "1 error, 2 usage.\n");
	return CLI_OK;
}
