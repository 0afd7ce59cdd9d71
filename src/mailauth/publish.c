/* SPDX-License-Identifier: MIT */
/*
 * The records a domain publishes for Herald, made from the config's view
 * (publish_input) and printed as a zone file or JSON. Each choice is
 * explained in the comment printed before its record, so the output
 * stands on its own; docs/dns.md "Publishing your records" says why.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/mem.h"
#include "mailauth/publish.h"

/* RFC 8461 3.2 allows up to 31557600; a week lets a policy change
 * reach senders soon while they still cache it across short outages. */
#define MTA_STS_MAX_AGE_DEFAULT 604800

static const struct {
	const char *label;
	uint16_t priority;
	const char *what;
} srv_services[PUBLISH_SRV_COUNT] = {
	[PUBLISH_SRV_SUBMISSIONS] = { "_submissions._tcp", 0,
				      "submission over implicit TLS" },
	[PUBLISH_SRV_SUBMISSION] = { "_submission._tcp", 10,
				     "submission with STARTTLS" },
	[PUBLISH_SRV_IMAPS] = { "_imaps._tcp", 0, "IMAP over implicit TLS" },
	[PUBLISH_SRV_IMAP] = { "_imap._tcp", 10, "IMAP with STARTTLS" },
	[PUBLISH_SRV_POP3S] = { "_pop3s._tcp", 20, "POP3 over implicit TLS" },
	[PUBLISH_SRV_POP3] = { "_pop3._tcp", 30, "POP3 with STLS" },
};

static struct publish_record *
add(struct publish_plan *plan, enum publish_kind kind, const char *purpose,
    char *name, enum dns_type type, char *value, char *comment)
{
	struct publish_record *r;

	plan->recs = xreallocarray(plan->recs, plan->n + 1, sizeof(*r));
	r = &plan->recs[plan->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->purpose = purpose;
	r->name = name;
	r->type = type;
	r->value = value;
	r->comment = comment;
	r->printed = value != NULL;
	r->checked = value != NULL;
	return r;
}

static void
format_day(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outsz, "%Y-%m-%d %H:%M UTC", &tm);
}

static bool
selector_wanted(const struct publish_input *in, const char *selector)
{
	size_t n;

	if (in->selector == NULL || strcmp(in->selector, selector) == 0)
		return true;
	/* keygen without --algorithm makes S-rsa and S-ed25519 */
	n = strlen(in->selector);
	return strncmp(selector, in->selector, n) == 0 &&
	       (strcmp(selector + n, "-rsa") == 0 ||
		strcmp(selector + n, "-ed25519") == 0);
}

/* When a retired key stopped signing: the first newer key of its
 * algorithm whose time came. */
static time_t
retired_at(const struct publish_input *in, const struct dkim_key_info *k)
{
	time_t at = 0;

	for (size_t i = 0; i < in->n_keys; i++) {
		const struct dkim_key_info *o = &in->keys[i];

		if (o == k || o->state == DKIM_KEY_BROKEN || o->alg != k->alg ||
		    o->sign_after <= k->sign_after || o->sign_after > in->now)
			continue;
		if (at == 0 || o->sign_after < at)
			at = o->sign_after;
	}
	return at != 0 ? at : k->sign_after;
}

static void
add_dkim(struct publish_plan *plan, const struct publish_input *in)
{
	bool any = false;

	for (size_t i = 0; i < in->n_keys; i++) {
		const struct dkim_key_info *k = &in->keys[i];
		struct publish_record *r;
		char what[64], d1[32], d2[32], *comment, *name;
		time_t at, until;

		if (!selector_wanted(in, k->selector))
			continue;
		any = true;
		name = xasprintf("%s._domainkey.%s", k->selector, plan->domain);
		if (k->state == DKIM_KEY_BROKEN || k->record == NULL) {
			comment = xasprintf("DKIM selector %s: the key file does "
					    "not load (%s); nothing to publish "
					    "until it is fixed or removed.",
					    k->selector,
					    k->error != NULL ? k->error : "?");
			r = add(plan, PUBLISH_NOTE, "dkim", name, DNS_TYPE_TXT,
				NULL, comment);
			continue;
		}
		if (k->alg == DKIM_ALG_RSA_SHA256)
			snprintf(what, sizeof(what), "rsa %u bits", k->bits);
		else
			snprintf(what, sizeof(what), "%s",
				 dkim_algorithm_key_type(k->alg));
		switch (k->state) {
		case DKIM_KEY_ACTIVE:
			comment = xasprintf("DKIM (RFC 6376) selector %s (%s): "
					    "signs %s's mail now.", k->selector,
					    what, plan->domain);
			r = add(plan, PUBLISH_DKIM, "dkim", name, DNS_TYPE_TXT,
				xstrdup(k->record), comment);
			r->required = true;
			break;
		case DKIM_KEY_PENDING:
			format_day(k->sign_after, d1, sizeof(d1));
			comment = xasprintf("DKIM selector %s (%s): the next key, "
					    "signs from %s; publish it now, "
					    "before it signs.", k->selector,
					    what, d1);
			r = add(plan, PUBLISH_DKIM, "dkim", name, DNS_TYPE_TXT,
				xstrdup(k->record), comment);
			break;
		default:	/* retired */
			at = retired_at(in, k);
			until = at + (time_t)in->dkim_keep_s;
			format_day(at, d1, sizeof(d1));
			format_day(until, d2, sizeof(d2));
			if (until > in->now) {
				comment = xasprintf(
					"DKIM selector %s (%s): retired on %s "
					"(a newer key signs); keep it published "
					"until %s for mail still in queues, then "
					"remove the record and the key file.",
					k->selector, what, d1, d2);
				r = add(plan, PUBLISH_DKIM, "dkim", name,
					DNS_TYPE_TXT, xstrdup(k->record),
					comment);
			} else {
				comment = xasprintf(
					"DKIM selector %s: retired on %s, kept "
					"published until %s: remove its record "
					"and data_dir/dkim/%s/%s.key.",
					k->selector, d1, d2, plan->domain,
					k->selector);
				r = add(plan, PUBLISH_DKIM, "dkim", name,
					DNS_TYPE_TXT, NULL, comment);
				/* check says whether it is still there */
				r->checked = true;
			}
			r->keep_until = until;
			break;
		}
		r->key = k;
	}
	if (!any) {
		struct publish_record *r;
		char *comment;

		if (in->selector != NULL)
			comment = xasprintf("DKIM: %s has no key with the "
					    "selector %s (herald dkim list %s).",
					    plan->domain, in->selector,
					    plan->domain);
		else
			comment = xasprintf("DKIM: %s has no key yet: run "
					    "`herald dkim keygen %s`, then "
					    "`herald dns %s` again.",
					    plan->domain, plan->domain,
					    plan->domain);
		/* checked: check reports it missing without a lookup */
		r = add(plan, PUBLISH_DKIM, "dkim",
			xasprintf("_domainkey.%s", plan->domain), DNS_TYPE_TXT,
			NULL, comment);
		r->checked = true;
		r->required = true;
	}
}

void
publish_mta_sts_policy(const struct publish_plan *plan, struct buf *out)
{
	buf_printf(out, "version: STSv1\r\nmode: %s\r\nmx: %s\r\n"
		   "max_age: %llu\r\n",
		   plan->mta_sts_enforce ? "enforce" : "testing",
		   plan->hostname, (unsigned long long)plan->mta_sts_max_age);
}

/* RFC 8461 3.1: id is 1*32 alphanumerics and must change when the
 * policy does; a digest of the policy does both without state. */
static char *
mta_sts_id(const struct publish_plan *plan)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char *id = xmalloc(21);
	struct buf policy;

	buf_init(&policy);
	publish_mta_sts_policy(plan, &policy);
	if (EVP_Digest(policy.data, policy.len, md, &mdlen, EVP_sha256(),
		       NULL) != 1 || mdlen < 10)
		abort();
	for (size_t i = 0; i < 10; i++)
		snprintf(id + 2 * i, 3, "%02x", md[i]);
	buf_deinit(&policy);
	return id;
}

static void
add_spf(struct publish_plan *plan, const struct publish_input *in)
{
	struct buf value, comment;
	struct publish_record *r;

	buf_init(&value);
	buf_init(&comment);
	buf_puts(&value, "v=spf1 mx");
	for (size_t i = 0; i < in->n_spf_addrs; i++)
		buf_printf(&value, " %s:%s",
			   strchr(in->spf_addrs[i], ':') != NULL ? "ip6" : "ip4",
			   in->spf_addrs[i]);
	buf_puts(&value, " -all");
	buf_printf(&comment,
		   "SPF (RFC 7208): the hosts of %s's MX (this server) may send "
		   "its mail; -all: every other host fails. (~all would "
		   "change little for receivers that apply DMARC, and -all "
		   "says what is meant.)", plan->domain);
	if (in->n_spf_addrs > 0)
		buf_puts(&comment, "\nip4:/ip6: the outbound source addresses "
			 "of [smtp_client] bind_address and bind_address6, "
			 "in case they are not the MX's.");
	if (in->relayhost != NULL)
		buf_printf(&comment, "\nMail leaves through the relayhost %s: "
			   "add what its provider documents (an include: or "
			   "ip4: term) before -all.", in->relayhost);
	r = add(plan, PUBLISH_SPF, "spf", xstrdup(plan->domain), DNS_TYPE_TXT,
		buf_steal(&value), buf_steal(&comment));
	r->required = true;
}

static void
add_host(struct publish_plan *plan, const struct publish_input *in)
{
	struct buf comment;
	struct publish_record *r;

	buf_init(&comment);
	if (in->n_host_addrs > 0) {
		buf_printf(&comment, "A/AAAA of %s, from the config (the "
			   "addresses it listens on or sends from); put them "
			   "in the zone that holds %s, with a PTR naming it:",
			   plan->hostname, plan->hostname);
		for (size_t i = 0; i < in->n_host_addrs; i++)
			buf_printf(&comment, "\n  %s. IN %s %s", plan->hostname,
				   strchr(in->host_addrs[i], ':') != NULL ?
				   "AAAA" : "A", in->host_addrs[i]);
	} else {
		buf_printf(&comment, "A/AAAA: set the A (and AAAA) record of "
			   "%s. to this server's public address, and its PTR "
			   "to %s. The config does not name the address, and "
			   "Herald does not guess it.", plan->hostname,
			   plan->hostname);
	}
	r = add(plan, PUBLISH_HOST, "host", xstrdup(plan->hostname),
		DNS_TYPE_A, NULL, buf_steal(&comment));
	/* the MX is useless without it: check looks it up */
	r->checked = true;
	r->required = true;
}

static void
add_srv(struct publish_plan *plan, const struct publish_input *in)
{
	for (size_t i = 0; i < PUBLISH_SRV_COUNT; i++) {
		struct publish_record *r;
		uint16_t port = in->srv_ports[i];
		char *value, *comment = NULL;

		if (i == 0)
			comment = xstrdup(
				"SRV (RFC 6186, RFC 8314): where mail clients "
				"find submission, IMAP and POP3. Implicit TLS "
				"first (lower priority), IMAP before POP3; a "
				"service Herald does not offer here has the "
				"target \".\" (RFC 6186: not available).");
		if (port != 0)
			value = xasprintf("%u 1 %u %s.", srv_services[i].priority,
					  port, plan->hostname);
		else
			value = xstrdup("0 0 0 .");
		r = add(plan, PUBLISH_SRV, "srv",
			xasprintf("%s.%s", srv_services[i].label, plan->domain),
			DNS_TYPE_SRV, value, comment);
		r->port = port;
	}
}

static void
add_notes(struct publish_plan *plan)
{
	add(plan, PUBLISH_NOTE, "autoconfig", xstrdup(plan->domain),
	    DNS_TYPE_TXT, NULL,
	    xasprintf("Autoconfig (Thunderbird) and Autodiscover (Outlook) "
		      "fetch an XML file from autoconfig.%s and "
		      "autodiscover.%s over HTTP(S). Herald does not serve "
		      "them (it has no HTTP server); clients then use the SRV "
		      "records above where they support them, or ask the "
		      "user. If a web server of yours serves the files, point "
		      "the names at it:\n  autoconfig.%s. IN CNAME "
		      "www.%s.\n  autodiscover.%s. IN CNAME www.%s.",
		      plan->domain, plan->domain, plan->domain, plan->domain,
		      plan->domain, plan->domain));
}

struct publish_plan *
publish_plan_new(const struct publish_input *in)
{
	struct publish_plan *plan = xcalloc(1, sizeof(*plan));
	struct publish_record *r;
	struct buf policy;
	const char *p = in->dmarc_policy != NULL ? in->dmarc_policy :
			"quarantine";
	char *comment;

	plan->domain = xstrdup(in->domain);
	plan->hostname = xstrdup(in->hostname);
	plan->report_address = in->report_address != NULL ?
		xstrdup(in->report_address) :
		xasprintf("postmaster@%s", in->domain);
	plan->dmarc_policy = xstrdup(p);
	plan->mta_sts_enforce = in->mta_sts_enforce;
	plan->mta_sts_max_age = in->mta_sts_max_age != 0 ?
		in->mta_sts_max_age : MTA_STS_MAX_AGE_DEFAULT;
	plan->mta_sts_id = mta_sts_id(plan);

	r = add(plan, PUBLISH_MX, "mx", xstrdup(plan->domain), DNS_TYPE_MX,
		xasprintf("10 %s.", plan->hostname),
		xasprintf("MX: mail for %s is delivered to this server (the "
			  "config's hostname).", plan->domain));
	r->required = true;
	add_host(plan, in);
	add_spf(plan, in);
	add_dkim(plan, in);

	if (strcmp(p, "none") == 0)
		comment = xasprintf(
			"DMARC (RFC 7489): p=none: receivers only report, to "
			"%s; once the daily reports show that only your "
			"servers send as %s, publish p=quarantine.",
			plan->report_address, plan->domain);
	else
		comment = xasprintf(
			"DMARC (RFC 7489): receivers %s mail claiming to be from "
			"%s that passes neither SPF nor DKIM for it, and send "
			"daily reports to %s. Herald signs all its users' mail, "
			"so its own passes; use --dmarc-policy none first if "
			"other services (a newsletter, a web shop) send as %s.",
			strcmp(p, "reject") == 0 ? "reject" : "quarantine",
			plan->domain, plan->report_address, plan->domain);
	r = add(plan, PUBLISH_DMARC, "dmarc",
		xasprintf("_dmarc.%s", plan->domain), DNS_TYPE_TXT,
		xasprintf("v=DMARC1; p=%s; rua=mailto:%s", p,
			  plan->report_address), comment);
	r->required = true;

	buf_init(&policy);
	buf_printf(&policy,
		   "MTA-STS (RFC 8461): senders that support it insist on TLS "
		   "to your MX. Herald does not serve the policy (it has no "
		   "HTTP server): serve this file at "
		   "https://mta-sts.%s/.well-known/mta-sts.txt from a web "
		   "server with a certificate for mta-sts.%s, then publish "
		   "the TXT record; its id changes whenever the policy does. "
		   "Until the file is served, senders ignore the record. The "
		   "web server's name:\n  mta-sts.%s. IN CNAME www.%s.\n"
		   "The policy file:",
		   plan->domain, plan->domain, plan->domain, plan->domain);
	{
		struct buf text;
		const char *line, *end;

		buf_init(&text);
		publish_mta_sts_policy(plan, &text);
		for (line = text.data; *line != '\0'; line = end + 2) {
			end = strstr(line, "\r\n");
			buf_printf(&policy, "\n  %.*s", (int)(end - line), line);
		}
		buf_deinit(&text);
	}
	add(plan, PUBLISH_MTASTS, "mta-sts",
	    xasprintf("_mta-sts.%s", plan->domain), DNS_TYPE_TXT,
	    xasprintf("v=STSv1; id=%s", plan->mta_sts_id), buf_steal(&policy));
	add(plan, PUBLISH_TLSRPT, "tls-rpt",
	    xasprintf("_smtp._tls.%s", plan->domain), DNS_TYPE_TXT,
	    xasprintf("v=TLSRPTv1; rua=mailto:%s", plan->report_address),
	    xasprintf("TLS-RPT (RFC 8460): senders report failed TLS towards "
		      "your MX to %s.", plan->report_address));
	add_srv(plan, in);
	add_notes(plan);
	return plan;
}

void
publish_plan_free(struct publish_plan **planp)
{
	struct publish_plan *plan = *planp;

	if (plan == NULL)
		return;
	for (size_t i = 0; i < plan->n; i++) {
		free(plan->recs[i].name);
		free(plan->recs[i].value);
		free(plan->recs[i].comment);
	}
	free(plan->recs);
	free(plan->domain);
	free(plan->hostname);
	free(plan->report_address);
	free(plan->dmarc_policy);
	free(plan->mta_sts_id);
	free(plan);
	*planp = NULL;
}

void
publish_txt_quote(const char *text, struct buf *out)
{
	size_t len = strlen(text), n = (len + 254) / 255;

	if (n > 1)
		buf_puts(out, "( ");
	if (len == 0)
		buf_puts(out, "\"\"");
	for (size_t off = 0; off < len; off += 255) {
		size_t end = len - off < 255 ? len : off + 255;

		if (off > 0)
			buf_putc(out, ' ');
		buf_putc(out, '"');
		for (size_t i = off; i < end; i++) {
			unsigned char c = (unsigned char)text[i];

			if (c == '"' || c == '\\')
				buf_printf(out, "\\%c", c);
			else if (c < ' ' || c >= 0x7f)
				buf_printf(out, "\\%03u", c);
			else
				buf_putc(out, (char)c);
		}
		buf_putc(out, '"');
	}
	if (n > 1)
		buf_puts(out, " )");
}

/* Comment lines of at most COMMENT_WIDTH columns where words allow:
 * each '\n'-separated line of text is a paragraph, wrapped; a line that
 * starts with two spaces (a record or policy line) is kept as it is. */
#define COMMENT_WIDTH 76

static void
print_comment_text(const char *text, struct buf *out)
{
	const char *line = text;

	for (;;) {
		const char *end = strchr(line, '\n');
		size_t n = end != NULL ? (size_t)(end - line) : strlen(line);

		if (n >= 2 && line[0] == ' ' && line[1] == ' ') {
			buf_printf(out, "; %.*s\n", (int)n, line);
		} else {
			size_t pos = 0;

			while (pos < n) {
				size_t take = n - pos, sp;

				if (take > COMMENT_WIDTH) {
					/* the last space within the width, or
					 * the first after it for a long word */
					for (sp = pos + COMMENT_WIDTH;
					     sp > pos && line[sp] != ' '; sp--)
						;
					if (sp == pos) {
						for (sp = pos + COMMENT_WIDTH;
						     sp < n && line[sp] != ' ';
						     sp++)
							;
					}
					take = sp - pos;
				}
				buf_printf(out, "; %.*s\n", (int)take,
					   line + pos);
				pos += take;
				while (pos < n && line[pos] == ' ')
					pos++;
			}
		}
		if (end == NULL)
			break;
		line = end + 1;
	}
}

static void
print_comment(const char *fmt, struct buf *out, ...)
{
	va_list ap;
	char *text;

	va_start(ap, out);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	print_comment_text(text, out);
	free(text);
}

void
publish_print_zone(const struct publish_plan *plan, unsigned ttl,
		   struct buf *out)
{
	print_comment("DNS records for %s, served by Herald on %s. Names are "
		      "absolute; `herald dns check %s` compares them with "
		      "what is published.", out, plan->domain, plan->hostname,
		      plan->domain);
	for (size_t i = 0; i < plan->n; i++) {
		const struct publish_record *r = &plan->recs[i];

		if (r->comment != NULL) {
			buf_putc(out, '\n');
			print_comment_text(r->comment, out);
		}
		if (!r->printed)
			continue;
		buf_printf(out, "%s.", r->name);
		if (ttl != 0)
			buf_printf(out, " %u", ttl);
		buf_printf(out, " IN %s ", dns_type_name(r->type));
		if (r->type == DNS_TYPE_TXT)
			publish_txt_quote(r->value, out);
		else
			buf_puts(out, r->value);
		buf_putc(out, '\n');
	}
}

static void
json_string(const char *s, struct buf *out)
{
	buf_putc(out, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20)
			buf_printf(out, "\\u%04x", c);
		else
			buf_putc(out, (char)c);
	}
	buf_putc(out, '"');
}

void
publish_print_json(const struct publish_plan *plan, struct buf *out)
{
	bool first = true;

	buf_puts(out, "[");
	for (size_t i = 0; i < plan->n; i++) {
		const struct publish_record *r = &plan->recs[i];
		char *name;

		if (!r->printed)
			continue;
		name = xasprintf("%s.", r->name);
		buf_puts(out, first ? "\n  {\"name\": " : ",\n  {\"name\": ");
		json_string(name, out);
		buf_puts(out, ", \"type\": ");
		json_string(dns_type_name(r->type), out);
		buf_puts(out, ", \"value\": ");
		json_string(r->value, out);
		buf_puts(out, ", \"purpose\": ");
		json_string(r->purpose, out);
		buf_puts(out, "}");
		free(name);
		first = false;
	}
	buf_puts(out, "\n]\n");
}
