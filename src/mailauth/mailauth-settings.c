/* SPDX-License-Identifier: MIT */
/*
 * [mailauth] settings table. Every limit here is also listed in
 * docs/limits.md ("Mail authentication", "DKIM"); RFC 7208 4.6.4 sets
 * the SPF defaults.
 */
#include <stddef.h>

#include "mailauth/mailauth-settings.h"
#include "mailauth/arc.h"
#include "mailauth/spf.h"

#define OFF(field) offsetof(struct config, field)

static int
arc_trusted_sealers_check(const char *value, char **error_r)
{
	char **domains = NULL;
	size_t n = 0;
	int ret = arc_domain_list_parse(value, &domains, &n, error_r);

	arc_domain_list_free(&domains, n);
	return ret;
}

static const struct setting mailauth_settings[] = {
	{ .key = "spf_dns_mechanisms", .type = SETTING_UINT,
	  .offset = OFF(mailauth.spf_dns_mechanisms), .def = "10", .min = 1,
	  .max = 100, .reloadable = true,
	  .doc = "SPF: terms that look DNS up (include, a, mx, ptr, exists, "
		 "redirect) one check may evaluate; one more is a permerror "
		 "(RFC 7208 4.6.4 sets 10)." },
	{ .key = "spf_void_lookups", .type = SETTING_UINT,
	  .offset = OFF(mailauth.spf_void_lookups), .def = "2", .min = 0,
	  .max = 100, .reloadable = true,
	  .doc = "SPF: lookups of those terms answered \"no such name\" or "
		 "\"no such record\" one check may meet; one more is a "
		 "permerror (RFC 7208 4.6.4 recommends 2)." },
	{ .key = "spf_mx_names", .type = SETTING_UINT,
	  .offset = OFF(mailauth.spf_mx_names), .def = "10", .min = 1,
	  .max = 100, .reloadable = true,
	  .doc = "SPF: MX records an mx mechanism may return; more is a "
		 "permerror (RFC 7208 4.6.4: 10)." },
	{ .key = "spf_ptr_names", .type = SETTING_UINT,
	  .offset = OFF(mailauth.spf_ptr_names), .def = "10", .min = 1,
	  .max = 100, .reloadable = true,
	  .doc = "SPF: PTR names of the client address a ptr mechanism or "
		 "%{p} macro checks; the rest are ignored (RFC 7208 4.6.4: "
		 "10)." },
	{ .key = "spf_timeout", .type = SETTING_DURATION,
	  .offset = OFF(mailauth.spf_timeout_ms), .def = "20s", .min = 1000,
	  .max = 600000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "SPF: the whole check, all its lookups; past it the result "
		 "is temperror (RFC 7208 4.6.4 asks for at least 20 s)." },
	{ .key = "dkim_sign", .type = SETTING_BOOL, .offset = OFF(mailauth.dkim_sign),
	  .def = "yes", .reloadable = true,
	  .doc = "DKIM: Sign mail that local users submit with the active keys of "
		 "its From domain (herald dkim keygen); a domain without "
		 "keys is sent unsigned." },
	{ .key = "dkim_verify_max_signatures", .type = SETTING_UINT,
	  .offset = OFF(mailauth.dkim_verify_max_signatures), .def = "5", .min = 1,
	  .max = 50, .reloadable = true,
	  .doc = "DKIM: DKIM-Signature fields verified per message, top down; "
		 "later ones get the result policy without a key lookup." },
	{ .key = "dkim_header_max", .type = SETTING_SIZE,
	  .offset = OFF(mailauth.dkim_header_max), .def = "1M", .min = 4096,
	  .max = 64 * 1024 * 1024, .reloadable = true,
	  .doc = "DKIM: Header octets kept to sign or verify a message; a bigger "
		 "header is not signed and its signatures are a permerror." },
	{ .key = "dkim_clock_skew", .type = SETTING_DURATION,
	  .offset = OFF(mailauth.dkim_clock_skew_s), .def = "5m", .min = 0,
	  .max = 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "DKIM: A signature time (t=) up to this far in the future is "
		 "accepted (the signer's clock may be ahead)." },
	{ .key = "dkim_rotation_delay", .type = SETTING_DURATION,
	  .offset = OFF(mailauth.dkim_rotation_delay_s), .def = "2d", .min = 0,
	  .max = 90 * 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "DKIM: herald dkim keygen for a domain that already has a key of "
		 "the algorithm: the new key signs after this long, time to "
		 "publish its record." },
	{ .key = "dkim_expire", .type = SETTING_DURATION,
	  .offset = OFF(mailauth.dkim_expire_s), .def = "0", .min = 0,
	  .max = 365 * 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "DKIM: Signatures made carry x= this long after t=; 0: no x= "
		 "(a message re-delivered late still verifies)." },
	{ .key = "spf", .type = SETTING_BOOL, .offset = OFF(mailauth.spf),
	  .def = "yes", .reloadable = true,
	  .doc = "Inbound: check SPF (MAIL FROM, or HELO for <>) of mail "
		 "received on port 25 without AUTH (not from relay_networks) "
		 "and record the result "
		 "(Authentication-Results, and Received-SPF with "
		 "received_spf); the verdict feeds DMARC (dmarc), nothing "
		 "else acts on it." },
	{ .key = "received_spf", .type = SETTING_BOOL,
	  .offset = OFF(mailauth.received_spf), .def = "no",
	  .reloadable = true,
	  .doc = "Inbound: with spf, also add a Received-SPF field (RFC 7208 "
		 "9.1) above Authentication-Results. Off by default: the "
		 "verdict is in Authentication-Results already, and the "
		 "field's ~280 octets are stored with every copy of every "
		 "message (docs/mailauth.md). On for filters that read only "
		 "Received-SPF." },
	{ .key = "dkim_verify", .type = SETTING_BOOL,
	  .offset = OFF(mailauth.dkim_verify), .def = "yes",
	  .reloadable = true,
	  .doc = "Inbound: verify the DKIM signatures of mail received on "
		 "port 25 without AUTH (not from relay_networks) and record "
		 "the results "
		 "(Authentication-Results); the verdicts feed DMARC "
		 "(dmarc), nothing else acts on them." },
	{ .key = "authserv_id", .type = SETTING_STRING,
	  .offset = OFF(mailauth.authserv_id), .reloadable = true,
	  .doc = "The authserv-id of the Authentication-Results field Herald "
		 "adds (RFC 8601 2.5); incoming fields that claim it are "
		 "removed. Unset: hostname." },
	{ .key = "arc_verify", .type = SETTING_BOOL,
	  .offset = OFF(mailauth.arc_verify), .def = "yes",
	  .reloadable = true,
	  .doc = "Inbound: verify the ARC chain (RFC 8617) of mail received "
		 "on port 25 without AUTH (not from relay_networks) and "
		 "record arc= in "
		 "Authentication-Results; needed by arc_seal and "
		 "arc_trusted_sealers." },
	{ .key = "arc_max_instances", .type = SETTING_UINT,
	  .offset = OFF(mailauth.arc_max_instances), .def = "50", .min = 1,
	  .max = 50, .reloadable = true,
	  .doc = "ARC: a chain with more sets than this fails without a key "
		 "lookup (RFC 8617 allows 50; each set costs a lookup and a "
		 "signature check)." },
	{ .key = "arc_seal", .type = SETTING_BOOL,
	  .offset = OFF(mailauth.arc_seal), .def = "yes", .reloadable = true,
	  .doc = "ARC: add an ARC set (seal) to mail received on port 25 "
		 "that an alias forwards to an external address, signed "
		 "with the RSA DKIM key of the alias's domain (else of "
		 "hostname's domain); needs arc_verify." },
	{ .key = "arc_trusted_sealers", .type = SETTING_STRING,
	  .offset = OFF(mailauth.arc_trusted_sealers),
	  .check = arc_trusted_sealers_check, .reloadable = true,
	  .doc = "ARC: domains (comma-separated) whose ARC seal Herald "
		 "trusts: mail failing DMARC whose chain passes and whose "
		 "set sealed by one of them says DMARC (or aligned SPF or "
		 "DKIM) passed is not rejected or quarantined (override "
		 "trusted_forwarder). Unset: none." },
	{ .key = "dmarc", .type = SETTING_ENUM, .offset = OFF(mailauth.dmarc),
	  .def = "enforce", .enum_values = "off|record|enforce",
	  .reloadable = true,
	  .doc = "Inbound: DMARC (RFC 7489) of mail received on port 25 "
		 "without AUTH (not from relay_networks). off: not "
		 "evaluated; record: "
		 "Authentication-Results and the log only; enforce: "
		 "p=reject is refused with 550 5.7.1 at the end of data, "
		 "p=quarantine is filed into each recipient's Junk, and a "
		 "message without exactly one From domain is refused." },
	{ .key = "dmarc_discovery", .type = SETTING_ENUM,
	  .offset = OFF(mailauth.dmarc_discovery), .def = "psl",
	  .enum_values = "psl|treewalk", .reloadable = true,
	  .doc = "DMARC: how the policy and the organisational domain are "
		 "found: psl (RFC 7489: _dmarc.FROM, then _dmarc of the "
		 "organisational domain from the Public Suffix List) or "
		 "treewalk (DMARCbis: up to 8 names from the From domain "
		 "upwards)." },
	{ .key = "psl_file", .type = SETTING_STRING,
	  .offset = OFF(mailauth.psl_file),
	  .def = "/usr/share/publicsuffix/public_suffix_list.dat",
	  .reloadable = true,
	  .doc = "DMARC: the Public Suffix List (Debian package "
		 "publicsuffix), read when a worker starts (so again on "
		 "SIGHUP). Missing while dmarc is not off: Herald does not "
		 "start." },
	{ .key = "dmarc_reject_exempt", .type = SETTING_NETWORKS,
	  .offset = OFF(mailauth.dmarc_reject_exempt), .reloadable = true,
	  .doc = "DMARC: comma-separated networks whose mail is never "
		 "rejected or quarantined on a DMARC fail (a forwarder you "
		 "trust); the verdict is still recorded." },
	{ .key = "dmarc_reports", .type = SETTING_BOOL,
	  .offset = OFF(mailauth.dmarc_reports), .def = "off",
	  .reloadable = true,
	  .doc = "DMARC: count the verdicts of mail received on port 25 and "
		 "send aggregate reports (RFC 7489 7.2) to the rua addresses "
		 "of the domains that ask, after the external-destination "
		 "check." },
	{ .key = "dmarc_report_org", .type = SETTING_STRING,
	  .offset = OFF(mailauth.dmarc_report_org), .reloadable = true,
	  .doc = "DMARC reports: the org_name of the reports (and their "
		 "Subject's Submitter). Unset: hostname." },
	{ .key = "dmarc_report_email", .type = SETTING_STRING,
	  .offset = OFF(mailauth.dmarc_report_email), .reloadable = true,
	  .doc = "DMARC reports: the address they come from (From, the "
		 "envelope sender, the report's email). Unset: postmaster@ "
		 "the first local domain that is the hostname or one of its "
		 "parents, else of the first local domain, else of hostname." },
	{ .key = "dmarc_report_interval", .type = SETTING_DURATION,
	  .offset = OFF(mailauth.dmarc_report_interval_s), .def = "1d",
	  .min = 60, .max = 7 * 86400, .unit = DURATION_S,
	  .reloadable = true,
	  .doc = "DMARC reports: sent every this long, at multiples of it "
		 "since the epoch (1d: UTC midnight, as RFC 7489 7.2 asks)." },
	{ .key = "dmarc_report_max_per_run", .type = SETTING_UINT,
	  .offset = OFF(mailauth.dmarc_report_max_per_run), .def = "1000",
	  .min = 1, .max = 1000000, .reloadable = true,
	  .doc = "DMARC reports: most reports (policy domains) one run "
		 "sends; the other domains' rows wait for the next run." },
	{ .key = "dmarc_report_max_destinations", .type = SETTING_UINT,
	  .offset = OFF(mailauth.dmarc_report_max_destinations), .def = "2",
	  .min = 1, .max = 10, .reloadable = true,
	  .doc = "DMARC reports: rua mailto: addresses of one domain a "
		 "report goes to (RFC 7489 6.2 asks for at least two); the "
		 "rest are ignored." },
	{ .key = "dmarc_report_max_size", .type = SETTING_SIZE,
	  .offset = OFF(mailauth.dmarc_report_max_size), .def = "10M",
	  .min = 4096, .max = 100 * 1024 * 1024, .reloadable = true,
	  .doc = "DMARC reports: largest report message; a bigger one is "
		 "not sent (logged)." },
	{ .key = "dmarc_report_max_records", .type = SETTING_UINT,
	  .offset = OFF(mailauth.dmarc_report_max_records), .def = "10000",
	  .min = 1, .max = 1000000, .reloadable = true,
	  .doc = "DMARC reports: most records (rows) in one report, the "
		 "largest counts first; the others are left out (logged)." },
	{ .key = "dmarc_report_memory_rows", .type = SETTING_UINT,
	  .offset = OFF(mailauth.dmarc_report_memory_rows), .def = "10000",
	  .min = 16, .max = 10000000, .reloadable = true,
	  .doc = "DMARC reports: distinct rows a process counts in memory "
		 "between two flushes to the store (every 5 s); messages "
		 "that would add more are not counted (logged)." },
};

const struct setting_section mailauth_settings_section = {
	.name = "mailauth",
	.settings = mailauth_settings,
	.n_settings = sizeof(mailauth_settings) / sizeof(mailauth_settings[0]),
	.doc = "Mail authentication: SPF checks, DKIM signing and "
	       "verification, DMARC, ARC (docs/mailauth.md).",
};

void
spf_limits_from_config(const struct config_mailauth *cfg,
		       struct spf_limits *lim_r)
{
	lim_r->dns_mechanisms = cfg->spf_dns_mechanisms;
	lim_r->void_lookups = cfg->spf_void_lookups;
	lim_r->mx_names = cfg->spf_mx_names;
	lim_r->ptr_names = cfg->spf_ptr_names;
	lim_r->timeout_ms = (unsigned)cfg->spf_timeout_ms;
}
