/* SPDX-License-Identifier: MIT */
/*
 * `herald debug smtp-send`: the outbound SMTP/LMTP client driven by hand
 * against one address, printing what happened at each step. Tests use it
 * against real servers (smtp-sink, Postfix, aiosmtpd, Herald itself);
 * admins use it to see why a destination refuses mail.
 */
#include "cli/cli.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "smtp/smtp-client.h"
#include "tls/tls.h"

static void
debug_usage(FILE *f)
{
	fprintf(f,
"usage: herald debug smtp-send [OPTIONS] --from ADDR --rcpt ADDR... FILE\n"
"\n"
"Connects to one server (no DNS, no queue), sends FILE as one message\n"
"(--count N: N times on the same connection) and prints each step:\n"
"  connect: ok | failed error=NAME permanent=yes|no message=\"...\"\n"
"  tls: protocol=.. cipher=.. verified=yes|no error=\"..\" subject=\"..\"\n"
"  ext: the ESMTP keywords offered\n"
"  send N: error=NAME reusable=yes|no message=\"...\"\n"
"  rcpt <ADDR>: CODE X.Y.Z TEXT stage=STAGE local=yes|no\n"
"Exit status 0 when every recipient got a 2xx, else 1.\n"
"\n"
"  -c, --config FILE      [smtp_client] settings (default: built-in)\n"
"  --host IP              server address (default 127.0.0.1)\n"
"  --port N               server port (default 25)\n"
"  --unix PATH            connect to a unix socket instead (LMTP)\n"
"  --lmtp                 speak LMTP (LHLO, a reply per recipient)\n"
"  --tls POLICY           none|may|encrypt|implicit (default may)\n"
"  --server-name NAME     the server's name: SNI, certificate check\n"
"  --verify-name NAME     name the certificate must match instead\n"
"  --ca-file FILE         trusted CAs for encrypt/implicit\n"
"  --helo NAME            name sent in EHLO (default: hostname)\n"
"  --bind IP              source address (else [smtp_client] bind_address)\n"
"  --auth-user USER       AUTH PLAIN/LOGIN as USER; the password is\n"
"                         read from the HERALD_AUTH_PASS variable\n"
"  --auth-plaintext       allow AUTH without TLS\n"
"  --from ADDR            envelope sender ('' for <>)\n"
"  --rcpt ADDR            a recipient (repeat)\n"
"  --notify LIST          NOTIFY= for every recipient (SUCCESS,FAILURE)\n"
"  --orcpt ADDR           ORCPT=rfc822;ADDR for every recipient\n"
"  --ret full|hdrs        RET=\n"
"  --envid ID             ENVID=\n"
"  --8bitmime             the message needs 8BITMIME\n"
"  --smtputf8             the message needs SMTPUTF8\n"
"  --prefix TEXT          a header line sent before the message\n"
"  --memory               hand the message over in memory, not as a file\n"
"  --count N              send it N times on one connection\n"
"  --timeout MS           every timeout of the client, in ms\n");
}

struct debug_run {
	struct ioev_loop *loop;
	struct smtp_client *client;
	struct smtp_client_envelope env;
	struct smtp_client_message msg;
	unsigned count, sent;
	bool all_ok;
	bool done;
};

static void debug_sent(struct smtp_client *client,
		       const struct smtp_client_send_result *res, void *ctx);

static void
debug_next(struct debug_run *run)
{
	if (run->sent == run->count) {
		smtp_client_quit(&run->client);
		run->done = true;
		ioev_loop_stop(run->loop);
		return;
	}
	run->sent++;
	smtp_client_send(run->client, &run->env, &run->msg, debug_sent, run);
}

static void
print_reply_line(const struct smtp_reply *r)
{
	struct buf b;

	buf_init(&b);
	smtp_reply_append_line(r, &b);
	printf("%s", b.data);
	buf_deinit(&b);
}

static void
debug_sent(struct smtp_client *client, const struct smtp_client_send_result *res,
	   void *ctx)
{
	struct debug_run *run = ctx;

	printf("send %u: error=%s reusable=%s message=\"%s\"\n", run->sent,
	       smtp_client_send_error_name(res->error),
	       res->reusable ? "yes" : "no", res->message);
	for (size_t i = 0; i < res->n_rcpts; i++) {
		const struct smtp_client_rcpt_result *r = &res->rcpts[i];

		char safe[512];

		/* an address is printed as the log shows peer text: a line
		 * end in it must not start a line of its own */
		printf("rcpt <%s>: ", log_str(safe, sizeof(safe),
					      run->env.rcpts[i].address));
		print_reply_line(&r->reply);
		printf(" stage=\"%s\" local=%s\n",
		       smtp_client_stage_name(r->stage),
		       r->local ? "yes" : "no");
		if (r->reply.code / 100 != 2)
			run->all_ok = false;
	}
	fflush(stdout);
	if (!res->reusable) {
		smtp_client_free(&run->client);
		run->done = true;
		ioev_loop_stop(run->loop);
		return;
	}
	debug_next(run);
}

static void
debug_ready(struct smtp_client *client, const struct smtp_client_failure *f,
	    void *ctx)
{
	struct debug_run *run = ctx;
	const struct smtp_client_info *info = smtp_client_info(client);

	if (f != NULL) {
		printf("connect: failed error=%s permanent=%s message=\"%s\"\n",
		       smtp_client_error_name(f->error),
		       f->permanent ? "yes" : "no", f->message);
		fflush(stdout);
		run->all_ok = false;
		smtp_client_free(&run->client);
		run->done = true;
		ioev_loop_stop(run->loop);
		return;
	}
	printf("connect: ok remote=\"%s\" local=%s esmtp=%s auth=%s\n",
	       info->remote_name, info->local_ip, info->esmtp ? "yes" : "no",
	       info->authenticated ? "yes" : "no");
	if (info->tls)
		printf("tls: protocol=%s cipher=%s bits=%d verified=%s "
		       "error=\"%s\" subject=\"%s\" issuer=\"%s\"\n",
		       info->tls_info.protocol, info->tls_info.cipher,
		       info->tls_info.bits, info->cert_verified ? "yes" : "no",
		       info->cert_error, info->cert_subject, info->cert_issuer);
	else
		printf("tls: none\n");
	printf("ext:");
	for (unsigned bit = 1; bit <= SMTP_EXT_DSN; bit <<= 1) {
		if ((info->ext & bit) == 0)
			continue;
		if (bit == SMTP_EXT_SIZE && info->size_max > 0)
			printf(" SIZE=%llu", (unsigned long long)info->size_max);
		else
			printf(" %s", smtp_ext_name(bit));
	}
	printf("\n");
	fflush(stdout);
	debug_next(run);
}

static int
parse_policy(const char *s, enum smtp_client_tls_policy *p)
{
	static const char *const names[] = { "none", "may", "encrypt",
					     "implicit" };

	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*p = (enum smtp_client_tls_policy)i;
			return 0;
		}
	}
	return -1;
}

static unsigned
parse_notify(const char *s)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {
		{ "NEVER", SMTP_NOTIFY_NEVER },
		{ "SUCCESS", SMTP_NOTIFY_SUCCESS },
		{ "FAILURE", SMTP_NOTIFY_FAILURE },
		{ "DELAY", SMTP_NOTIFY_DELAY },
	};
	unsigned bits = 0;

	while (*s != '\0') {
		size_t n = strcspn(s, ",");

		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].name) == n &&
			    strncasecmp(s, words[i].name, n) == 0)
				bits |= words[i].bit;
		s += n;
		if (*s == ',')
			s++;
	}
	return bits;
}

static void
debug_loop_stop(void *ctx)
{
	ioev_loop_stop(ctx);
}

static uint8_t *
read_all(int fd, size_t *len_r)
{
	struct buf b;
	char tmp[65536];
	ssize_t n;

	buf_init(&b);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(&b, tmp, (size_t)n);
	uint8_t *data;

	*len_r = b.len;
	data = (uint8_t *)buf_steal(&b);
	buf_deinit(&b);		/* buf_steal leaves a fresh empty buffer */
	return data;
}

static int
debug_smtp_send(int argc, char **argv)
{
	enum { O_HOST = 256, O_PORT, O_UNIX, O_LMTP, O_TLS, O_SNAME, O_VNAME,
	       O_CA, O_HELO, O_AUSER, O_APLAIN, O_FROM, O_RCPT, O_NOTIFY,
	       O_ORCPT, O_RET, O_ENVID, O_8BIT, O_UTF8, O_PREFIX, O_MEM,
	       O_COUNT, O_TIMEOUT, O_BIND };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "unix", required_argument, NULL, O_UNIX },
		{ "lmtp", no_argument, NULL, O_LMTP },
		{ "tls", required_argument, NULL, O_TLS },
		{ "server-name", required_argument, NULL, O_SNAME },
		{ "verify-name", required_argument, NULL, O_VNAME },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "helo", required_argument, NULL, O_HELO },
		{ "auth-user", required_argument, NULL, O_AUSER },
		{ "auth-plaintext", no_argument, NULL, O_APLAIN },
		{ "from", required_argument, NULL, O_FROM },
		{ "rcpt", required_argument, NULL, O_RCPT },
		{ "notify", required_argument, NULL, O_NOTIFY },
		{ "orcpt", required_argument, NULL, O_ORCPT },
		{ "ret", required_argument, NULL, O_RET },
		{ "envid", required_argument, NULL, O_ENVID },
		{ "8bitmime", no_argument, NULL, O_8BIT },
		{ "smtputf8", no_argument, NULL, O_UTF8 },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "memory", no_argument, NULL, O_MEM },
		{ "count", required_argument, NULL, O_COUNT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "bind", required_argument, NULL, O_BIND },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg_path = NULL, *host = "127.0.0.1", *unix_path = NULL;
	const char *from = NULL, *notify = NULL, *orcpt = NULL, *ca = NULL;
	const char *helo = NULL, *prefix = NULL, *bind_ip = NULL;
	unsigned port = 25, count = 1;
	unsigned long long timeout = 0;
	bool memory = false;
	struct smtp_client_opts o;
	struct smtp_client_rcpt *rcpts = NULL;
	size_t n_rcpts = 0;
	struct debug_run run;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	struct config *cfg;
	struct tls_client *tls = NULL;
	uint8_t *data = NULL;
	char *err = NULL;
	int c, fd, ret;

	memset(&run, 0, sizeof(run));
	smtp_client_opts_default(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfg_path = optarg; break;
		case O_HOST: host = optarg; break;
		case O_PORT: port = (unsigned)strtoul(optarg, NULL, 10); break;
		case O_UNIX: unix_path = optarg; break;
		case O_LMTP: o.protocol = SMTP_CLIENT_LMTP; break;
		case O_TLS:
			if (parse_policy(optarg, &o.tls_policy) < 0) {
				cli_error("--tls: none, may, encrypt or "
					  "implicit");
				return CLI_USAGE;
			}
			break;
		case O_SNAME: o.server_name = optarg; break;
		case O_VNAME: o.verify_name = optarg; break;
		case O_CA: ca = optarg; break;
		case O_HELO: helo = optarg; break;
		case O_AUSER: o.auth_user = optarg; break;
		case O_APLAIN: o.auth_allow_plaintext = true; break;
		case O_FROM: from = optarg; break;
		case O_RCPT:
			rcpts = xreallocarray(rcpts, n_rcpts + 1,
					      sizeof(*rcpts));
			memset(&rcpts[n_rcpts], 0, sizeof(*rcpts));
			rcpts[n_rcpts++].address = optarg;
			break;
		case O_NOTIFY: notify = optarg; break;
		case O_ORCPT: orcpt = optarg; break;
		case O_RET:
			run.env.ret = strcasecmp(optarg, "hdrs") == 0 ?
				SMTP_RET_HDRS : SMTP_RET_FULL;
			break;
		case O_ENVID: run.env.envid = optarg; break;
		case O_8BIT: run.env.body = SMTP_BODY_8BITMIME; break;
		case O_UTF8: run.env.smtputf8 = true; break;
		case O_PREFIX: prefix = optarg; break;
		case O_MEM: memory = true; break;
		case O_COUNT: count = (unsigned)strtoul(optarg, NULL, 10); break;
		case O_TIMEOUT: timeout = strtoull(optarg, NULL, 10); break;
		case O_BIND: bind_ip = optarg; break;
		case 'h':
			debug_usage(stdout);
			free(rcpts);
			return CLI_OK;
		default:
			debug_usage(stderr);
			free(rcpts);
			return CLI_USAGE;
		}
	}
	if (from == NULL || n_rcpts == 0 || optind != argc - 1 || count == 0) {
		debug_usage(stderr);
		free(rcpts);
		return CLI_USAGE;
	}
	cfg = cfg_path != NULL ? cli_load_config(cfg_path) : config_defaults();
	if (cfg == NULL) {
		free(rcpts);
		return CLI_ERROR;
	}
	if (ca != NULL) {
		free(cfg->smtp_client.ca_file);
		cfg->smtp_client.ca_file = xstrdup(ca);
	}
	{
		/* keep what was given on the command line */
		struct smtp_client_opts given = o;

		smtp_client_opts_from_config(cfg, &o);
		o.protocol = given.protocol;
		o.tls_policy = given.tls_policy;
		o.server_name = given.server_name;
		o.verify_name = given.verify_name;
		o.auth_user = given.auth_user;
		o.auth_allow_plaintext = given.auth_allow_plaintext;
	}
	if (helo != NULL)
		o.helo_name = helo;
	if (bind_ip != NULL) {
		o.bind_address = bind_ip;
		o.bind_address6 = bind_ip;
	}
	if (o.auth_user != NULL)
		o.auth_pass = getenv("HERALD_AUTH_PASS");
	if (timeout > 0) {
		o.timeouts.connect_ms = o.timeouts.greeting_ms =
		o.timeouts.helo_ms = o.timeouts.mail_ms = o.timeouts.rcpt_ms =
		o.timeouts.data_init_ms = o.timeouts.data_block_ms =
		o.timeouts.data_end_ms = o.timeouts.tls_ms =
		o.timeouts.quit_ms = timeout;
	}
	if (o.tls_policy != SMTP_CLIENT_TLS_NONE) {
		tls = tls_client_new(cfg, &err);
		if (tls == NULL) {
			cli_error("%s", err);
			free(err);
			config_free(&cfg);
			free(rcpts);
			return CLI_ERROR;
		}
		o.tls = tls;
	}
	for (size_t i = 0; i < n_rcpts; i++) {
		if (notify != NULL)
			rcpts[i].notify = parse_notify(notify);
		if (orcpt != NULL) {
			rcpts[i].orcpt_type = "rfc822";
			rcpts[i].orcpt_addr = orcpt;
		}
	}
	if (unix_path != NULL) {
		sl = smtp_client_unix_addr(unix_path, &ss);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		memset(&ss, 0, sizeof(ss));
		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			sl = sizeof(*sin);
		} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)port);
			sl = sizeof(*sin6);
		}
	}
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (sl == 0 || fd < 0) {
		cli_error(sl == 0 ? "bad --host or --unix" :
			  "cannot open the message file");
		if (fd >= 0)
			close(fd);
		tls_client_free(&tls);
		config_free(&cfg);
		free(rcpts);
		return CLI_ERROR;
	}
	run.env.mail_from = from;
	run.env.rcpts = rcpts;
	run.env.n_rcpts = n_rcpts;
	run.msg.fd = fd;
	run.msg.prefix = prefix;
	if (memory) {
		data = read_all(fd, &run.msg.len);
		run.msg.data = data;
		run.msg.fd = -1;
	}
	run.count = count;
	run.all_ok = true;
	run.loop = ioev_loop_new(2);
	run.client = smtp_client_connect(run.loop, (struct sockaddr *)&ss, sl,
					 &o, debug_ready, &run);
	while (!run.done)
		ioev_loop_run(run.loop);
	/* let QUIT go out and its reply come back (bounded by quit_ms) */
	while (ioev_loop_conn_count(run.loop) > 0) {
		ioev_loop_set_empty_cb(run.loop, debug_loop_stop, run.loop);
		ioev_loop_run(run.loop);
	}
	ioev_loop_free(&run.loop);
	ret = run.all_ok ? CLI_OK : CLI_ERROR;
	close(fd);
	free(data);
	tls_client_free(&tls);
	config_free(&cfg);
	free(rcpts);
	return ret;
}

int
cli_debug(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		debug_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "smtp-send") == 0)
		return debug_smtp_send(argc - 1, argv + 1);
	cli_error("debug: unknown tool '%s'; try 'herald debug --help'",
		  argv[1]);
	return CLI_USAGE;
}
