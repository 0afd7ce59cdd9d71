/* SPDX-License-Identifier: MIT */
/*
 * herald dmarc report: build and send the pending DMARC aggregate
 * reports now (--now), or print their XML without sending or forgetting
 * anything (--dry-run). docs/mailauth.md "Aggregate reports".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "lib/log.h"
#include "mailauth/dmarc.h"
#include "mailauth/dmarc-report.h"
#include "queue/queue.h"
#include "store/store.h"

static void
dmarc_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald dmarc report --now [-c FILE]\n"
		"       herald dmarc report --dry-run [-c FILE]\n\n"
		"DMARC aggregate reports (RFC 7489 7.2), which a running server\n"
		"sends once per [mailauth] dmarc_report_interval when\n"
		"dmarc_reports = on. The counts of the SMTP workers reach the\n"
		"store within 5 seconds.\n\n"
		"report --now      build the pending report of every domain and\n"
		"                  send it to its verified rua addresses now (one\n"
		"                  line per report in the log); the rows reported\n"
		"                  are deleted; prints what was done, and the\n"
		"                  log lines of the run on stderr\n"
		"report --dry-run  print each pending report's XML; nothing is\n"
		"                  sent or deleted\n");
}

int
cli_dmarc(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "now", no_argument, NULL, 'n' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dmarc_report_run_stats st;
	struct dmarc_psl *psl = NULL;
	char *perr = NULL;
	const char *path = NULL, *error = NULL;
	bool now = false, dry = false;
	struct config *cfg;
	struct store *store;
	int c, rc = CLI_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			now = true;
			break;
		case 'd':
			dry = true;
			break;
		case 'h':
			dmarc_usage(stdout);
			return CLI_OK;
		default:
			dmarc_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind + 1 != argc || strcmp(argv[optind], "report") != 0 ||
	    now == dry) {
		dmarc_usage(stderr);
		return CLI_USAGE;
	}
	if ((cfg = cli_load_config(path)) == NULL)
		return CLI_ERROR;
	if (now && !cfg->mailauth.dmarc_reports) {
		cli_error("[mailauth] dmarc_reports is off: nothing is "
			  "collected or sent; set it to on");
		config_free(&cfg);
		return CLI_ERROR;
	}
	if ((store = cli_open_store(cfg)) == NULL) {
		config_free(&cfg);
		return CLI_ERROR;
	}
	/* the run's lines (docs/logging.md "dmarc") are what it did */
	if (now)
		log_set_level(LOG_LEVEL_INFO);
	/* organisational domains for the 7.1 check, as the server has */
	if (!dry && cfg->mailauth.psl_file != NULL &&
	    (psl = dmarc_psl_load(cfg->mailauth.psl_file, &perr)) == NULL) {
		cli_error("warning: [mailauth] psl_file: %s; an address is "
			  "external unless in or above the policy domain",
			  perr);
		free(perr);
	}
	if (queue_dmarc_report(store, cfg, psl, dry, stdout, &st,
			       &error) < 0) {
		cli_error("cannot make the reports: %s",
			  error != NULL ? error : "?");
		rc = CLI_ERROR;
	} else if (now) {
		printf("reports=%zu sent=%zu dropped=%zu skipped=%zu\n",
		       st.reports, st.sent, st.dropped, st.skipped);
	}
	dmarc_psl_free(&psl);
	store_close(&store);
	config_free(&cfg);
	return rc;
}
