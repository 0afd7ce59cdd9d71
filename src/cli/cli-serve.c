/* SPDX-License-Identifier: MIT */
/* herald serve: load the config, plug the store into every worker, run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "daemon/daemon.h"
#include "dns/dns.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "mailauth/dmarc.h"
#include "mailauth/dmarc-report.h"
#include "queue/queue.h"
#include "store/store.h"

/* Each worker opens the store after it has dropped privileges, so the
 * database is only ever opened by the unprivileged user. */
static int
serve_worker_init(struct worker *w, char **error_r)
{
	struct store *store = NULL;
	const char *err = NULL;
	enum store_result r;

	r = store_open(w->cfg, &store, &err);
	if (r != STORE_OK) {
		*error_r = xasprintf("cannot open the store in %s: %s",
				     w->cfg->data_dir, err != NULL ? err : "?");
		/* INVALID (not Herald's database, a newer schema, files
		 * our user may not write) stays so on every restart: stop
		 * with the reason instead. */
		return r == STORE_E_INVALID ? DAEMON_INIT_FATAL : -1;
	}
	w->store = store;
	/* SPF and DKIM lookups of inbound mail (docs/mailauth.md "Inbound
	 * checks"); a resolver that cannot start leaves the checks at
	 * temperror, mail still flows; the queue runner uses it too */
	if ((w->dns = dns_resolver_new(w->loop, &w->cfg->dns, &err)) == NULL) {
		w->dns_error = err;
		log_warn(NULL, "mailauth", "resolver-failed", "error=\"%s\"",
			 err != NULL ? err : "?");
	}
	/* DMARC's organisational domains: read by each worker of a
	 * generation, so SIGHUP reads the file again. herald serve checked
	 * it at start; if it went missing since (a reload), mail still
	 * flows and DMARC records temperror */
	if (w->cfg->mailauth.dmarc != CONFIG_DMARC_OFF) {
		char *perr = NULL;

		w->psl = dmarc_psl_load(w->cfg->mailauth.psl_file, &perr);
		if (w->psl == NULL) {
			log_error(NULL, "mailauth", "psl-failed",
				  "error=\"%s\"", perr);
			free(perr);
		}
	}
	/* the full-text index follows deliveries in the background; a
	 * failure only makes searches read bodies */
	if (store_search_indexer_start(store, &err) != STORE_OK)
		log_warn(NULL, "store", "search-indexer-failed", "error=\"%s\"",
			 err != NULL ? err : "?");
	/* DMARC verdicts counted for aggregate reports ([mailauth]
	 * dmarc_reports), written to the store every few seconds */
	dmarc_report_collector_start(w->loop, store, w->cfg);
	return 0;
}

static void
serve_worker_deinit(struct worker *w)
{
	struct store *store = w->store;
	struct store_stats st;

	/* what is still counted in memory goes to the store first */
	dmarc_report_collector_stop();
	if (store != NULL) {
		store_get_stats(store, &st);
		log_info(NULL, "store", "stats", "commits=%llu ops=%llu "
			 "max_batch=%llu lazy=%llu lazy_syncs=%llu "
			 "lingers=%llu",
			 (unsigned long long)st.commits,
			 (unsigned long long)st.ops,
			 (unsigned long long)st.max_batch,
			 (unsigned long long)st.lazy_commits,
			 (unsigned long long)st.lazy_syncs,
			 (unsigned long long)st.lingers);
	}
	store_close(&store);
	w->store = NULL;
	dns_resolver_free(&w->dns);
	dmarc_psl_free(&w->psl);
}

static void
serve_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald serve [-c FILE]\n"
		"       herald serve --protocols\n\n"
		"Runs Herald in the foreground until SIGTERM or SIGINT: a supervisor\n"
		"binds the [listen] addresses, then worker processes (as the\n"
		"configured user when started as root) serve the connections.\n"
		"SIGHUP re-reads the config; established connections are kept.\n"
		"Logs go to stderr. --protocols lists the protocols this build\n"
		"serves. Exits 1 when it cannot start, also when data_dir/herald.db\n"
		"is not Herald's database (empty, another program's, newer) or\n"
		"the workers' user cannot write it.\n");
}

int
cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "protocols", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	struct config *cfg;
	char *err = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'p':
			for (int p = 0; p < PROTO_COUNT; p++) {
				if (daemon_protocol_handler((enum listen_proto)p))
					printf("%s\n", listen_proto_name((enum listen_proto)p));
			}
			return CLI_OK;
		case 'h':
			serve_usage(stdout);
			return CLI_OK;
		default:
			serve_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		serve_usage(stderr);
		return CLI_USAGE;
	}
	if (path == NULL)
		path = config_default_path();
	if ((cfg = cli_load_config(path)) == NULL)
		return CLI_ERROR;
	if (daemon_check_protocols(cfg, &err) < 0) {
		cli_error("%s: %s", path, err);
		free(err);
		config_free(&cfg);
		return CLI_ERROR;
	}
	/* DMARC needs the Public Suffix List: a missing file stops the
	 * start with the reason, not every message later */
	if (cfg->mailauth.dmarc != CONFIG_DMARC_OFF) {
		struct dmarc_psl *psl = dmarc_psl_load(cfg->mailauth.psl_file,
						       &err);

		if (psl == NULL) {
			cli_error("%s: [mailauth] psl_file: %s (install the "
				  "publicsuffix package, set psl_file, or set "
				  "dmarc = off)", path, err);
			free(err);
			config_free(&cfg);
			return CLI_ERROR;
		}
		dmarc_psl_free(&psl);
	}
	daemon_set_worker_hooks(serve_worker_init, serve_worker_deinit);
	daemon_set_runner_hooks(queue_runner_start, queue_runner_stop);
	rc = daemon_serve(path, cfg);
	config_free(&cfg);
	return rc;
}
