/* SPDX-License-Identifier: MIT */
/*
 * A DMARC aggregate report run (RFC 7489 7.2): takes the counted rows,
 * builds one report per policy domain whose mail passed DMARC at least
 * once, checks each rua destination (mailto: only, the external-
 * destination record of 7.1, its size limit), signs the message with
 * Herald's DKIM key and hands it to the mail system; then deletes the
 * rows it reported.
 */
#include "mailauth/dmarc-report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "conf/config.h"
#include "dns/dns.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "mailauth/dkim-generated.h"
#include "mailauth/dmarc.h"
#include "store/store.h"

/* A domain whose rows are not touched for this long (no mail, no run
 * that could report it) is forgotten with its last report's end. */
#define FORGET_AFTER_S (31 * 86400)

/* The report's sender: the setting, else postmaster of the local domain
 * that is the hostname or its nearest parent, else of the first local
 * domain, else of the hostname. */
static char *
report_from(struct store *store, const struct config *cfg)
{
	const char *host = cfg->hostname != NULL ? cfg->hostname : "localhost";
	char **names = NULL;
	size_t n = 0;
	const char *err = NULL;
	char *from = NULL;

	if (cfg->mailauth.dmarc_report_email != NULL)
		return xstrdup(cfg->mailauth.dmarc_report_email);
	if (store_domain_list(store, &names, &n, &err) == STORE_OK) {
		for (const char *d = host; d != NULL && from == NULL;) {
			for (size_t i = 0; i < n && from == NULL; i++)
				if (strcasecmp(names[i], d) == 0)
					from = xasprintf("postmaster@%s",
							 names[i]);
			d = strchr(d, '.');
			if (d != NULL)
				d++;
		}
		if (from == NULL && n > 0)
			from = xasprintf("postmaster@%s", names[0]);
		store_strv_free(&names, n);
	}
	return from != NULL ? from : xasprintf("postmaster@%s", host);
}

static const char *
domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

/* Whether a and b belong to one organisation, so that no external-
 * destination record is needed (7.1): the same organisational domain by
 * the PSL; without one (or for a public suffix), the same name or one
 * under the other. */
static bool
same_org(const struct dmarc_psl *psl, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (strcasecmp(a, b) == 0)
		return true;
	if (psl != NULL) {
		const char *oa = dmarc_psl_org_domain(psl, a);
		const char *ob = dmarc_psl_org_domain(psl, b);

		if (oa != NULL && ob != NULL)
			return strcasecmp(oa, ob) == 0;
	}
	if (la > lb)
		return a[la - lb - 1] == '.' && strcasecmp(a + la - lb, b) == 0;
	if (lb > la)
		return b[lb - la - 1] == '.' && strcasecmp(b + lb - la, a) == 0;
	return false;
}

/* 7.1: "<domain>._report._dmarc.<rua domain>" has a TXT record that
 * starts with v=DMARC1. *why_r says why not. */
static bool
external_ok(struct dns_resolver *dns, const char *domain,
	    const char *rua_domain, const char **why_r)
{
	struct dns_result *res;
	char *name;
	const char **texts;
	bool ok;

	if (dns == NULL) {
		*why_r = "no-resolver";
		return false;
	}
	name = dmarc_report_verify_name(domain, rua_domain);
	res = dns_lookup_sync(dns, name, DNS_TYPE_TXT);
	free(name);
	if (res->status != DNS_OK) {
		*why_r = dns_status_is_permanent(res->status) ?
			 "not-authorized" : "lookup-failed";
		dns_result_free(&res);
		return false;
	}
	texts = xcalloc(res->count + 1, sizeof(*texts));
	for (size_t i = 0; i < res->count; i++)
		texts[i] = res->rrs[i].txt.text;
	ok = dmarc_report_verify_answer(texts, res->count);
	free(texts);
	dns_result_free(&res);
	*why_r = ok ? NULL : "not-authorized";
	return ok;
}

static void
date_format(time_t t, struct buf *out)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
					    "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
					      "May", "Jun", "Jul", "Aug",
					      "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_printf(out, "%s, %d %s %04d %02d:%02d:%02d +0000",
		   days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		   tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* s for a header or the text part: printable ASCII (the setting may
 * hold UTF-8, which an unencoded header must not), at most outsz - 1. */
static const char *
header_safe(const char *s, char *out, size_t outsz)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < outsz; s++)
		out[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
	out[n] = '\0';
	return out;
}

/* The report message (RFC 7489 7.2.1.1): a short text and the gzipped
 * XML as an application/gzip attachment. */
static void
build_message(const struct config *cfg, const char *from, const char *to,
	      const char *org, const struct dmarc_report_meta *m,
	      const char *receiver, const struct buf *gz, time_t now,
	      struct buf *out)
{
	char id[LOG_ID_LEN + 1], org_safe[256];
	struct buf b64;

	log_new_id(id);
	org = header_safe(org, org_safe, sizeof(org_safe));
	buf_printf(out, "From: <%s>\r\nTo: <%s>\r\nDate: ", from, to);
	date_format(now, out);
	/* Subject per 7.2.1.1; the domain and org are plain text here (a
	 * domain is LDH; org_name is the admin's setting) */
	buf_printf(out, "\r\nSubject: Report Domain: %s Submitter: %s "
		   "Report-ID: <%s>\r\n", m->domain, org, m->report_id);
	buf_printf(out, "Message-ID: <dmarc.%s@%s>\r\n", id,
		   cfg->hostname != NULL ? cfg->hostname : "localhost");
	buf_printf(out, "MIME-Version: 1.0\r\n"
		   "Content-Type: multipart/mixed; boundary=\"=_%s\"\r\n"
		   "\r\n"
		   "This is a DMARC aggregate report (RFC 7489).\r\n"
		   "\r\n--=_%s\r\n"
		   "Content-Type: text/plain; charset=us-ascii\r\n"
		   "\r\n"
		   "This is an aggregate report from %s about mail that\r\n"
		   "claimed to come from %s, received between %lld and\r\n"
		   "%lld (seconds since the epoch, UTC).\r\n"
		   "\r\n--=_%s\r\n"
		   "Content-Type: application/gzip\r\n"
		   "Content-Transfer-Encoding: base64\r\n"
		   "Content-Disposition: attachment;\r\n"
		   "\tfilename=\"%s!%s!%lld!%lld.xml.gz\"\r\n\r\n",
		   id, id, org, m->domain, (long long)m->begin,
		   (long long)m->end, id, receiver, m->domain,
		   (long long)m->begin, (long long)m->end);
	buf_init(&b64);
	base64_encode((const uint8_t *)gz->data, gz->len, &b64);
	for (size_t i = 0; i < b64.len; i += 76) {
		size_t n = b64.len - i < 76 ? b64.len - i : 76;

		buf_append(out, b64.data + i, n);
		buf_puts(out, "\r\n");
	}
	buf_deinit(&b64);
	buf_printf(out, "\r\n--=_%s--\r\n", id);
}

/* Puts Herald's DKIM signatures on msg (dkim_sign_generated(): the keys
 * of the From domain or its nearest parent with keys); unsigned, with
 * its log line, otherwise. */
static void
sign_message(const struct config *cfg, const char *log_id, struct buf *msg)
{
	struct buf sig;

	buf_init(&sig);
	if (dkim_sign_generated(cfg, log_id, (const uint8_t *)msg->data,
				msg->len, &sig) > 0) {
		buf_append(&sig, msg->data, msg->len);
		buf_deinit(msg);
		*msg = sig;
	} else {
		buf_deinit(&sig);
	}
}

/* The rows of one domain, decoded; keys that do not decode are left
 * out (a newer Herald's format). */
static size_t
load_rows(struct store *store, const char *domain, bool taken_only,
	  size_t max, struct dmarc_report_row **rows_r, const char **error_r)
{
	struct store_dmarc_row *srows = NULL;
	struct dmarc_report_row *rows;
	size_t n = 0, k = 0;

	*rows_r = NULL;
	if (store_dmarc_rows(store, domain, taken_only, max, &srows, &n,
			     error_r) != STORE_OK)
		return (size_t)-1;
	rows = xcalloc(n + 1, sizeof(*rows));
	for (size_t i = 0; i < n; i++) {
		if (dmarc_report_row_parse(srows[i].key, &rows[k]) < 0)
			continue;
		rows[k++].count = srows[i].count;
	}
	store_dmarc_rows_free(&srows, n);
	*rows_r = rows;
	return k;
}

static void
rows_free(struct dmarc_report_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		dmarc_report_row_deinit(&(*rows)[i]);
	xfree(rows);
}

/* One domain's report: built, and sent to each destination. Returns
 * true when its rows may go (sent to at least one destination, or none
 * can ever take it). */
static bool
report_domain(struct store *store, const struct config *cfg,
	      const struct dmarc_report_run_opts *o,
	      const struct store_dmarc_domain *d, const char *from,
	      time_t now, struct dmarc_report_run_stats *st,
	      const char **error_r)
{
	const struct config_mailauth *ma = &cfg->mailauth;
	const char *org = ma->dmarc_report_org != NULL ? ma->dmarc_report_org
			  : cfg->hostname != NULL ? cfg->hostname : "Herald";
	struct dmarc_report_uri *uris = NULL;
	struct dmarc_report_row *rows = NULL;
	struct dmarc_report_meta m;
	size_t n_uris = 0, n_rows, skipped = 0, sent = 0, left_out;
	char id[LOG_ID_LEN + 1];
	char *report_id;
	struct buf xml, gz;
	bool ok, any_temp = false;

	n_rows = load_rows(store, d->domain, !o->dry_run,
			   ma->dmarc_report_max_records, &rows, error_r);
	if (n_rows == (size_t)-1)
		return false;
	left_out = d->rows > n_rows ? d->rows - n_rows : 0;
	log_new_id(id);
	report_id = xasprintf("%lld.%s", (long long)now, id);
	m = (struct dmarc_report_meta){
		.org_name = org,
		.email = from,
		.report_id = report_id,
		.begin = d->last_end != 0 && d->last_end < d->first_seen ?
			 (time_t)d->last_end : (time_t)d->first_seen,
		.end = now,
		.domain = d->domain,
		.policy = d->policy,
	};
	buf_init(&xml);
	buf_init(&gz);
	dmarc_report_xml(&m, rows, n_rows, &xml);
	st->reports++;
	if (o->dry_run) {
		if (o->out != NULL)
			fwrite(xml.data, 1, xml.len, o->out);
		ok = false;
		goto out;
	}
	if (left_out > 0)
		log_warn(NULL, "dmarc", "report-truncated", "domain=%s "
			 "report_id=%s rows=%zu left_out=%zu", d->domain,
			 report_id, n_rows, left_out);
	if (dmarc_report_gzip((const uint8_t *)xml.data, xml.len, &gz) < 0) {
		*error_r = "gzip failed";
		ok = false;
		goto out;
	}
	n_uris = dmarc_report_rua_parse(d->rua, ma->dmarc_report_max_destinations,
					&uris, &skipped);
	if (skipped > 0)
		log_info(NULL, "dmarc", "report-dropped", "domain=%s "
			 "report_id=%s uris=%zu reason=not-mailto-or-over-max",
			 d->domain, report_id, skipped);
	for (size_t i = 0; i < n_uris; i++) {
		const char *to = uris[i].address;
		const char *why = NULL, *derr = NULL;
		char tbuf[300], ebuf[300];
		int rc;
		struct buf msg;

		log_str(tbuf, sizeof(tbuf), to);
		if (!same_org(o->psl, domain_of(to), d->domain) &&
		    !external_ok(o->dns, d->domain, domain_of(to), &why)) {
			log_info(NULL, "dmarc", "report-dropped", "domain=%s "
				 "report_id=%s to=<%s> reason=%s", d->domain,
				 report_id, tbuf, why);
			st->dropped++;
			any_temp |= strcmp(why, "lookup-failed") == 0;
			continue;
		}
		buf_init(&msg);
		build_message(cfg, from, to, org, &m, domain_of(from), &gz,
			      now, &msg);
		sign_message(cfg, id, &msg);
		if (msg.len > ma->dmarc_report_max_size ||
		    (uris[i].max_size != 0 && msg.len > uris[i].max_size)) {
			log_info(NULL, "dmarc", "report-dropped", "domain=%s "
				 "report_id=%s to=<%s> reason=too-big size=%zu",
				 d->domain, report_id, tbuf, msg.len);
			st->dropped++;
			buf_deinit(&msg);
			continue;
		}
		rc = o->deliver(o->deliver_ctx, from, to,
				(const uint8_t *)msg.data, msg.len, &derr);
		log_str(ebuf, sizeof(ebuf), derr != NULL ? derr : "?");
		if (rc < 0) {
			log_warn(NULL, "dmarc", "report-deferred", "domain=%s "
				 "report_id=%s to=<%s> error=%s", d->domain,
				 report_id, tbuf, ebuf);
			any_temp = true;
		} else if (rc > 0) {
			log_info(NULL, "dmarc", "report-dropped", "domain=%s "
				 "report_id=%s to=<%s> reason=refused error=%s",
				 d->domain, report_id, tbuf, ebuf);
			st->dropped++;
		} else {
			log_info(NULL, "dmarc", "report-sent", "domain=%s "
				 "report_id=%s from=<%s> to=<%s> rows=%zu "
				 "messages=%llu size=%zu", d->domain,
				 report_id, from, tbuf, n_rows,
				 (unsigned long long)d->messages, msg.len);
			sent++;
			st->sent++;
		}
		buf_deinit(&msg);
	}
	/* a temporary failure with nothing sent: the rows wait for the
	 * next run (merged with the new ones) */
	ok = sent > 0 || !any_temp;
	if (n_uris == 0)
		log_info(NULL, "dmarc", "report-skipped", "domain=%s "
			 "reason=no-destination messages=%llu", d->domain,
			 (unsigned long long)d->messages);
out:
	dmarc_report_uris_free(&uris, n_uris);
	rows_free(&rows, n_rows);
	buf_deinit(&xml);
	buf_deinit(&gz);
	free(report_id);
	return ok;
}

static int
lock_run(const struct config *cfg)
{
	char *path;
	int fd;

	if (cfg->data_dir == NULL)
		return -1;
	path = config_data_path(cfg, "dmarc-report.lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int
dmarc_report_run(struct store *store, const struct config *cfg,
		 const struct dmarc_report_run_opts *o,
		 struct dmarc_report_run_stats *st_r, const char **error_r)
{
	struct store_dmarc_domain *doms = NULL;
	struct dmarc_report_run_stats st = { 0 };
	time_t now = o->now != 0 ? o->now : time(NULL);
	const char *err = NULL;
	size_t n = 0;
	char *from;
	int lock_fd = -1, ret = 0;

	*error_r = NULL;
	if (!o->dry_run && o->deliver == NULL) {
		*error_r = "no way to deliver reports";
		return -1;
	}
	/* one run at a time (the runner's and `herald dmarc report`) */
	if (!o->dry_run)
		lock_fd = lock_run(cfg);
	/* this process's own counts first (a no-op where none are kept) */
	(void)dmarc_report_collector_flush(&err);
	if (!o->dry_run &&
	    store_dmarc_take(store, (int64_t)now - FORGET_AFTER_S,
			     error_r) != STORE_OK) {
		ret = -1;
		goto out;
	}
	if (store_dmarc_domains(store, !o->dry_run, &doms, &n,
				error_r) != STORE_OK) {
		ret = -1;
		goto out;
	}
	from = report_from(store, cfg);
	for (size_t i = 0; i < n; i++) {
		const struct store_dmarc_domain *d = &doms[i];

		/* never a report about a domain none of whose mail passed:
		 * forged mail alone must not aim reports at anyone */
		if (d->passed == 0) {
			log_info(NULL, "dmarc", "report-skipped", "domain=%s "
				 "reason=no-pass messages=%llu", d->domain,
				 (unsigned long long)d->messages);
			st.skipped++;
			if (!o->dry_run &&
			    store_dmarc_done(store, d->domain, 0,
					     &err) != STORE_OK)
				log_warn(NULL, "dmarc", "store-failed",
					 "domain=%s error=\"%s\"", d->domain,
					 err != NULL ? err : "?");
			continue;
		}
		if (st.reports >= cfg->mailauth.dmarc_report_max_per_run) {
			log_info(NULL, "dmarc", "report-skipped", "domain=%s "
				 "reason=max-per-run messages=%llu", d->domain,
				 (unsigned long long)d->messages);
			st.skipped++;
			continue;
		}
		if (report_domain(store, cfg, o, d, from, now, &st, &err) &&
		    store_dmarc_done(store, d->domain, (int64_t)now,
				     &err) != STORE_OK)
			log_warn(NULL, "dmarc", "store-failed", "domain=%s "
				 "error=\"%s\"", d->domain,
				 err != NULL ? err : "?");
	}
	free(from);
out:
	store_dmarc_domains_free(&doms, n);
	if (lock_fd >= 0)
		close(lock_fd);
	if (st_r != NULL)
		*st_r = st;
	return ret;
}
