/* SPDX-License-Identifier: MIT */
/*
 * Inside `herald dns`: the options of `herald dns DOMAIN` and `herald dns
 * check DOMAIN` (cli-dns-publish.c), parsed by cli_dns() in cli-dns.c.
 */
#ifndef HERALD_CLI_CLI_DNS_H
#define HERALD_CLI_CLI_DNS_H

#include <stdbool.h>

struct config;

struct cli_dns_publish_opts {
	const char *selector;		/* --selector: only this DKIM key */
	unsigned ttl;			/* --ttl; 0: no TTL column */
	bool json;			/* --json */
	const char *dmarc_policy;	/* --dmarc-policy; NULL: quarantine */
	const char *report_address;	/* --report-address; NULL:
					 * postmaster@DOMAIN */
	bool mta_sts_enforce;		/* --mta-sts-mode enforce */
};

/* Prints the records DOMAIN should publish; CLI_OK, or CLI_ERROR after
 * printing why (not a domain of the store, unreadable keys). */
int cli_dns_publish(const struct config *cfg, const char *domain,
		    const struct cli_dns_publish_opts *o);
/* Looks each of them up and prints one line per record and a summary;
 * CLI_OK when every required record is ok (or only warned about). */
int cli_dns_check(const struct config *cfg, const char *domain,
		  const struct cli_dns_publish_opts *o);

#endif
