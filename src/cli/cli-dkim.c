/* SPDX-License-Identifier: MIT */
/*
 * herald dkim: keygen and list (the key store under data_dir/dkim, the
 * TXT records to publish), sign and verify (a message from a file or
 * stdin, through src/mailauth/ and, for verify, the resolver of [dns]).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "daemon/privdrop.h"
#include "dns/dns.h"
#include "lib/ioev.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "mailauth/dkim.h"

/* The biggest message sign and verify read (they hold it in memory). */
#define DKIM_CLI_MESSAGE_MAX (256u * 1024 * 1024)

static void
dkim_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald dkim keygen [-c FILE] [--selector S] [--algorithm ed25519|rsa]\n"
		"                          [--bits N] DOMAIN\n"
		"       herald dkim list [-c FILE] [DOMAIN]\n"
		"       herald dkim sign [-c FILE] [--domain D] [--selector S] [--key PEM]\n"
		"                        [--canon H/B] [--body-length] [--time T] [MESSAGE]\n"
		"       herald dkim verify [-c FILE] [--time T] [--sync] [MESSAGE]\n\n"
		"keygen  make a key for DOMAIN under data_dir/dkim/DOMAIN/ (mode\n"
		"        0600, owned by the user Herald runs as) and print the TXT\n"
		"        record to publish. Without --algorithm: an RSA key (2048\n"
		"        bits, --bits) and an Ed25519 key, selectors S-rsa and\n"
		"        S-ed25519; with it, the selector S itself. S defaults to\n"
		"        the date (20261207). A domain that already has a key of\n"
		"        the algorithm: the new one signs after [mailauth]\n"
		"        dkim_rotation_delay (publish its record before).\n"
		"list    the keys: domain, selector, algorithm, bits, created,\n"
		"        state (active, pending, retired) and the TXT record.\n"
		"sign    print MESSAGE (default stdin) with DKIM-Signature fields\n"
		"        before it: the active keys of its From domain, or of\n"
		"        --domain, or only --selector's, or the PEM --key (with\n"
		"        --domain and --selector). --canon (default\n"
		"        relaxed/relaxed), --body-length adds l=, --time sets t=.\n"
		"verify  verify every signature of MESSAGE, keys looked up with\n"
		"        the [dns] settings; one line per signature:\n"
		"        dkim=RESULT d= s= a= b= bits= [l= body_len= partial=]\n"
		"        [testing=yes] [reason=\"...\"]. Exit status 0 when one\n"
		"        passes, 1 otherwise. The keys are looked up together on\n"
		"        the event loop; --sync looks them up one after the other\n"
		"        with the blocking resolver.\n");
}

/* Resolves the workers' user and drops to it (when root), as
 * cli_open_store() does: keys are written and read as that user. */
static int
dkim_become_herald(const struct config *cfg)
{
	struct daemon_creds creds;
	char *err = NULL;

	if (daemon_creds_resolve(cfg, &creds, &err) < 0) {
		cli_error("%s", err);
		free(err);
		return -1;
	}
	if (daemon_data_dir_ensure(cfg, &creds, &err) < 0 ||
	    daemon_privdrop(&creds, &err) < 0) {
		cli_error("%s", err);
		free(err);
		daemon_creds_deinit(&creds);
		return -1;
	}
	daemon_creds_deinit(&creds);
	return 0;
}

/* The record in zone-file form, in strings of at most 255 octets. */
static void
print_record(const char *domain, const char *selector, const char *record)
{
	size_t len = strlen(record);

	printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (size_t off = 0; off < len; off += 255) {
		size_t n = len - off < 255 ? len - off : 255;

		printf(" \"%.*s\"", (int)n, record + off);
	}
	printf(" )\n");
}

static void
format_time(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
keygen_one(const struct config *cfg, const char *domain, const char *selector,
	   enum dkim_algorithm alg, unsigned bits, time_t now)
{
	struct dkim_key_info *infos;
	struct dkim_sign_key *key = NULL;
	char *path = NULL, *err = NULL, when[32], bitstr[32] = "";
	time_t sign_after = now;
	size_t n;
	struct buf rec;

	/* a rotation: the domain signs with a key of this algorithm now */
	if (dkim_keystore_list(cfg->data_dir, domain, now, &infos, &n,
			       &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (infos[i].alg == alg &&
			    infos[i].state == DKIM_KEY_ACTIVE)
				sign_after = now + (time_t)cfg->mailauth.dkim_rotation_delay_s;
		}
		dkim_key_infos_free(&infos, n);
	}
	free(err);
	err = NULL;
	if (dkim_keystore_generate(cfg->data_dir, domain, selector, alg, bits,
				   now, sign_after, &path, &err) < 0) {
		cli_error("%s", err);
		free(err);
		return -1;
	}
	if (dkim_sign_key_load(path, domain, selector, &key, &err) < 0) {
		cli_error("%s", err);
		free(err);
		free(path);
		return -1;
	}
	buf_init(&rec);
	dkim_sign_key_record(key, &rec);
	format_time(sign_after, when, sizeof(when));
	if (alg == DKIM_ALG_RSA_SHA256)
		snprintf(bitstr, sizeof(bitstr), " %u bits", key->bits);
	printf("; %s selector %s (%s%s), %s from %s\n", domain, selector,
	       dkim_algorithm_key_type(alg), bitstr,
	       sign_after > now ? "signs" : "signing", when);
	print_record(domain, selector, rec.data);
	buf_deinit(&rec);
	dkim_sign_key_free(&key);
	free(path);
	return 0;
}

static bool
parse_algorithm(const char *s, enum dkim_algorithm *alg_r)
{
	if (strcmp(s, "rsa") == 0 || strcmp(s, "rsa-sha256") == 0)
		*alg_r = DKIM_ALG_RSA_SHA256;
	else if (strcmp(s, "ed25519") == 0 || strcmp(s, "ed25519-sha256") == 0)
		*alg_r = DKIM_ALG_ED25519_SHA256;
	else
		return false;
	return true;
}

static char *
lower(const char *s)
{
	char *d = xstrdup(s);

	for (char *p = d; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	return d;
}

static int
cmd_keygen(struct config *cfg, const char *domain_arg, const char *selector,
	   const char *algorithm, unsigned bits)
{
	enum dkim_algorithm alg = DKIM_ALG_RSA_SHA256;
	char date[16], *domain, *sel;
	time_t now = time(NULL);
	struct tm tm;
	int ret = CLI_OK;

	if (algorithm != NULL && !parse_algorithm(algorithm, &alg)) {
		cli_error("--algorithm takes ed25519 or rsa");
		return CLI_USAGE;
	}
	domain = lower(domain_arg);
	if (!dkim_name_is_valid(domain) ||
	    (selector != NULL && !dkim_name_is_valid(selector))) {
		cli_error("domain and selector: lower-case letters, digits, "
			  "'-', '_' and dots (an IDN as its xn-- form)");
		free(domain);
		return CLI_ERROR;
	}
	if (dkim_become_herald(cfg) < 0) {
		free(domain);
		return CLI_ERROR;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	if (algorithm != NULL) {
		sel = selector != NULL ? xstrdup(selector) :
		      xasprintf("%s-%s", date, dkim_algorithm_key_type(alg));
		if (keygen_one(cfg, domain, sel, alg, bits, now) < 0)
			ret = CLI_ERROR;
		free(sel);
	} else {
		if (selector == NULL)
			selector = date;
		sel = xasprintf("%s-rsa", selector);
		if (keygen_one(cfg, domain, sel, DKIM_ALG_RSA_SHA256, bits,
			       now) < 0)
			ret = CLI_ERROR;
		free(sel);
		sel = xasprintf("%s-ed25519", selector);
		if (ret == CLI_OK &&
		    keygen_one(cfg, domain, sel, DKIM_ALG_ED25519_SHA256, 0,
			       now) < 0)
			ret = CLI_ERROR;
		free(sel);
	}
	free(domain);
	return ret;
}

static int
cmd_list(struct config *cfg, const char *domain_arg)
{
	struct dkim_key_info *infos;
	char *err = NULL, *domain = NULL, created[32], after[32];
	time_t now = time(NULL);
	size_t n;

	if (domain_arg != NULL)
		domain = lower(domain_arg);
	if (dkim_become_herald(cfg) < 0) {
		free(domain);
		return CLI_ERROR;
	}
	if (dkim_keystore_list(cfg->data_dir, domain, now, &infos, &n,
			       &err) < 0) {
		cli_error("%s", err);
		free(err);
		free(domain);
		return CLI_ERROR;
	}
	if (n == 0)
		printf("no DKIM keys%s%s (herald dkim keygen DOMAIN)\n",
		       domain != NULL ? " for " : "",
		       domain != NULL ? domain : "");
	for (size_t i = 0; i < n; i++) {
		const struct dkim_key_info *ki = &infos[i];

		format_time(ki->created, created, sizeof(created));
		format_time(ki->sign_after, after, sizeof(after));
		if (i > 0)
			printf("\n");
		if (ki->state == DKIM_KEY_BROKEN) {
			printf("domain=%s selector=%s state=broken error=\"%s\"\n",
			       ki->domain, ki->selector, ki->error);
			continue;
		}
		printf("domain=%s selector=%s algorithm=%s bits=%u "
		       "created=%s signs_from=%s state=%s\n", ki->domain,
		       ki->selector, dkim_algorithm_name(ki->alg), ki->bits,
		       created, after, dkim_key_state_name(ki->state));
		print_record(ki->domain, ki->selector, ki->record);
	}
	dkim_key_infos_free(&infos, n);
	free(domain);
	return CLI_OK;
}

static int
read_message(const char *path, struct buf *out)
{
	FILE *fp = path == NULL || strcmp(path, "-") == 0 ? stdin :
		   fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (fp == NULL) {
		cli_error("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (out->len + n > DKIM_CLI_MESSAGE_MAX) {
			cli_error("the message is over %u octets",
				  DKIM_CLI_MESSAGE_MAX);
			if (fp != stdin)
				fclose(fp);
			return -1;
		}
		buf_append(out, chunk, n);
	}
	if (ferror(fp)) {
		cli_error("cannot read %s", path != NULL ? path : "stdin");
		if (fp != stdin)
			fclose(fp);
		return -1;
	}
	if (fp != stdin)
		fclose(fp);
	return 0;
}

static bool
parse_canon_arg(const char *s, struct dkim_sign_params *p)
{
	char h[16], b[16];

	if (sscanf(s, "%15[a-z]/%15[a-z]", h, b) != 2)
		return false;
	if (strcmp(h, "simple") == 0)
		p->hcanon = DKIM_CANON_SIMPLE;
	else if (strcmp(h, "relaxed") == 0)
		p->hcanon = DKIM_CANON_RELAXED;
	else
		return false;
	if (strcmp(b, "simple") == 0)
		p->bcanon = DKIM_CANON_SIMPLE;
	else if (strcmp(b, "relaxed") == 0)
		p->bcanon = DKIM_CANON_RELAXED;
	else
		return false;
	return true;
}

struct sign_opts {
	const char *domain, *selector, *key, *canon;
	bool body_length;
	time_t now;
};

static int
cmd_sign(struct config *cfg, const struct sign_opts *o, const char *path)
{
	struct dkim_sign_params params = {
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED,
	};
	struct dkim_sign_key **keys = NULL, *one = NULL;
	struct dkim_signer *s;
	struct buf msg, out;
	const char *err, *domain;
	char *perr = NULL;
	size_t nk = 0;
	int ret = CLI_ERROR;

	if (o->canon != NULL && !parse_canon_arg(o->canon, &params)) {
		cli_error("--canon takes simple|relaxed/simple|relaxed");
		return CLI_USAGE;
	}
	if (o->key != NULL && (o->domain == NULL || o->selector == NULL)) {
		cli_error("--key needs --domain and --selector");
		return CLI_USAGE;
	}
	params.now = o->now;
	params.body_length = o->body_length;
	params.expire_s = cfg->mailauth.dkim_expire_s;
	params.header_max = cfg->mailauth.dkim_header_max;
	buf_init(&msg);
	buf_init(&out);
	if (read_message(path, &msg) < 0)
		goto out;
	s = dkim_signer_new(&params);
	dkim_signer_feed(s, (const uint8_t *)msg.data, msg.len);
	if (o->key != NULL) {
		if (dkim_sign_key_load(o->key, o->domain, o->selector, &one,
				       &perr) < 0)
			goto fail;
		dkim_signer_add_key(s, one);
	} else {
		if (dkim_become_herald(cfg) < 0)
			goto fail_quiet;
		/* the From domain is known once the header is */
		domain = o->domain;
		if (domain == NULL) {
			struct dkim_signer *probe = dkim_signer_new(&params);

			dkim_signer_feed(probe, (const uint8_t *)msg.data,
					 msg.len);
			dkim_signer_end_input(probe);
			domain = dkim_signer_from_domain(probe) != NULL ?
				 xstrdup(dkim_signer_from_domain(probe)) : NULL;
			dkim_signer_free(&probe);
			if (domain == NULL) {
				cli_error("the message has no single From "
					  "address: give --domain");
				goto fail_quiet;
			}
		}
		if (o->selector != NULL) {
			char *kpath = xasprintf("%s/dkim/%s/%s.key",
						cfg->data_dir, domain,
						o->selector);

			if (dkim_sign_key_load(kpath, domain, o->selector, &one,
					       &perr) == 0)
				dkim_signer_add_key(s, one);
			free(kpath);
			if (one == NULL)
				goto fail;
		} else {
			if (dkim_keystore_load_signing(cfg->data_dir, domain,
						       time(NULL), &keys, &nk,
						       &perr) < 0)
				goto fail;
			if (nk == 0) {
				perr = xasprintf("no active DKIM key for %s "
						 "(herald dkim keygen %s)",
						 domain, domain);
				goto fail;
			}
			for (size_t i = 0; i < nk; i++)
				dkim_signer_add_key(s, keys[i]);
		}
		if (domain != o->domain)
			free((char *)domain);
	}
	if (dkim_signer_finish(s, &out, &err) < 0) {
		cli_error("cannot sign: %s", err);
		goto fail_quiet;
	}
	fwrite(out.data, 1, out.len, stdout);
	fwrite(msg.data, 1, msg.len, stdout);
	ret = fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
	goto done;
fail:
	cli_error("%s", perr != NULL ? perr : "cannot load the key");
fail_quiet:
	;
done:
	free(perr);
	dkim_signer_free(&s);
	dkim_sign_key_free(&one);
	dkim_sign_keys_free(&keys, nk);
out:
	buf_deinit(&msg);
	buf_deinit(&out);
	return ret;
}

static void
print_quoted(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar((unsigned char)*s < 0x20 ? '?' : *s);
	}
	putchar('"');
}

static void
keys_in(void *ctx)
{
	ioev_loop_stop(ctx);
}

static int
cmd_verify(struct config *cfg, time_t now, bool sync, const char *path)
{
	struct dkim_verify_limits lim = {
		.max_signatures = cfg->mailauth.dkim_verify_max_signatures,
		.header_max = cfg->mailauth.dkim_header_max,
		.clock_skew_s = (unsigned)cfg->mailauth.dkim_clock_skew_s,
		.now = now,
	};
	struct dkim_verifier *v;
	struct dns_resolver *r;
	struct ioev_loop *loop = NULL;
	const char *err;
	struct buf msg;
	bool pass = false;

	buf_init(&msg);
	if (read_message(path, &msg) < 0) {
		buf_deinit(&msg);
		return CLI_ERROR;
	}
	if (!sync)
		loop = ioev_loop_new(1);
	r = dns_resolver_new(loop, &cfg->dns, &err);
	if (r == NULL) {
		cli_error("%s", err);
		ioev_loop_free(&loop);
		buf_deinit(&msg);
		return CLI_ERROR;
	}
	v = dkim_verifier_new(&lim);
	dkim_verifier_feed(v, (const uint8_t *)msg.data, msg.len);
	dkim_verifier_finish(v);
	if (sync) {
		dkim_verifier_lookup_sync(v, r);
	} else if (dkim_verifier_lookup(v, r, keys_in, loop) != NULL &&
		   ioev_loop_run(loop) < 0) {
		cli_error("event loop failed");
	}
	if (dkim_verifier_count(v) == 0)
		printf("dkim=none\n");
	for (size_t i = 0; i < dkim_verifier_count(v); i++) {
		const struct dkim_verify_result *res = dkim_verifier_result(v, i);

		if (res->result == DKIM_RESULT_PASS)
			pass = true;
		printf("dkim=%s", dkim_result_name(res->result));
		if (res->domain != NULL)
			printf(" d=%s", res->domain);
		if (res->selector != NULL)
			printf(" s=%s", res->selector);
		if (res->algorithm != NULL)
			printf(" a=%s", res->algorithm);
		if (res->header_b != NULL)
			printf(" b=%s", res->header_b);
		if (res->key_bits > 0)
			printf(" bits=%u", res->key_bits);
		if (res->has_l)
			printf(" l=%llu body_len=%llu partial=%s",
			       (unsigned long long)res->l,
			       (unsigned long long)res->body_len,
			       res->body_partial ? "yes" : "no");
		if (res->testing)
			printf(" testing=yes");
		if (res->reason != NULL) {
			printf(" reason=");
			print_quoted(res->reason);
		}
		putchar('\n');
	}
	dkim_verifier_free(&v);
	dns_resolver_free(&r);
	ioev_loop_free(&loop);
	buf_deinit(&msg);
	return pass ? CLI_OK : CLI_ERROR;
}

int
cli_dkim(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "selector", required_argument, NULL, 's' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "bits", required_argument, NULL, 'B' },
		{ "domain", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "canon", required_argument, NULL, 'C' },
		{ "body-length", no_argument, NULL, 'l' },
		{ "time", required_argument, NULL, 't' },
		{ "sync", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sign_opts so = { 0 };
	bool sync = false;
	const char *path = NULL, *algorithm = NULL, *cmd;
	unsigned long bits = 2048;
	struct config *cfg;
	char *end;
	int c, ret, nargs;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 's': so.selector = optarg; break;
		case 'a': algorithm = optarg; break;
		case 'd': so.domain = optarg; break;
		case 'k': so.key = optarg; break;
		case 'C': so.canon = optarg; break;
		case 'l': so.body_length = true; break;
		case 'S': sync = true; break;
		case 'B':
			bits = strtoul(optarg, &end, 10);
			if (*end != '\0' || bits < 1024 || bits > 8192) {
				cli_error("--bits takes 1024 to 8192");
				return CLI_USAGE;
			}
			break;
		case 't':
			so.now = (time_t)strtoll(optarg, &end, 10);
			if (*end != '\0' || so.now <= 0) {
				cli_error("--time takes seconds since the epoch");
				return CLI_USAGE;
			}
			break;
		case 'h':
			dkim_usage(stdout);
			return CLI_OK;
		default:
			dkim_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		dkim_usage(stderr);
		return CLI_USAGE;
	}
	cmd = argv[optind];
	nargs = argc - optind - 1;
	if ((strcmp(cmd, "keygen") == 0 && nargs != 1) ||
	    (strcmp(cmd, "list") == 0 && nargs > 1) ||
	    ((strcmp(cmd, "sign") == 0 || strcmp(cmd, "verify") == 0) &&
	     nargs > 1) ||
	    (strcmp(cmd, "keygen") != 0 && strcmp(cmd, "list") != 0 &&
	     strcmp(cmd, "sign") != 0 && strcmp(cmd, "verify") != 0)) {
		dkim_usage(stderr);
		return CLI_USAGE;
	}
	if ((cfg = cli_load_config(path)) == NULL)
		return CLI_ERROR;
	log_set_level(cfg->log_level);
	if (strcmp(cmd, "keygen") == 0)
		ret = cmd_keygen(cfg, argv[optind + 1], so.selector, algorithm,
				 (unsigned)bits);
	else if (strcmp(cmd, "list") == 0)
		ret = cmd_list(cfg, nargs == 1 ? argv[optind + 1] : NULL);
	else if (strcmp(cmd, "sign") == 0)
		ret = cmd_sign(cfg, &so, nargs == 1 ? argv[optind + 1] : NULL);
	else
		ret = cmd_verify(cfg, so.now, sync,
				 nargs == 1 ? argv[optind + 1] : NULL);
	config_free(&cfg);
	return ret;
}
