/* SPDX-License-Identifier: MIT */
/*
 * herald domain|user|alias: the directory of domains, accounts and aliases.
 * Passwords come from standard input, never from argv (argv is visible to
 * every user through /proc).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "lib/mem.h"
#include "mail/address.h"
#include "sasl/password.h"
#include "store/store.h"

struct dir_opts {
	const char *config;
	bool force;
	bool quota_set;
	uint64_t quota;
	bool messages_set;	/* --messages: the message-count limit */
	uint64_t messages;
	int argc;	/* positional arguments after the subcommand */
	char **argv;
};

static int
parse_quota(const char *s, uint64_t *v_r)
{
	char *end;
	unsigned long long v;
	uint64_t m = 1;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	v = strtoull(s, &end, 10);
	if (strcasecmp(end, "k") == 0)
		m = 1024;
	else if (strcasecmp(end, "m") == 0)
		m = 1024 * 1024;
	else if (strcasecmp(end, "g") == 0)
		m = 1024ULL * 1024 * 1024;
	else if (*end != '\0')
		return -1;
	if (v > UINT64_MAX / m)
		return -1;
	*v_r = v * m;
	return 0;
}

/* A message count: digits only, no unit. */
static int
parse_count(const char *s, uint64_t *v_r)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || errno == ERANGE || v > INT64_MAX)
		return -1;
	*v_r = v;
	return 0;
}

/* Parses "CMD SUB [options] ARGS..."; returns -1 on a usage error. */
static int
dir_parse(int argc, char **argv, struct dir_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ "quota", required_argument, NULL, 'q' },
		{ "messages", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "c:f", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->force = true;
			break;
		case 'q':
			if (parse_quota(optarg, &o->quota) < 0) {
				cli_error("bad quota '%s' (a size like 500M or "
					  "2G, 0 for none)", optarg);
				return -1;
			}
			o->quota_set = true;
			break;
		case 'm':
			if (parse_count(optarg, &o->messages) < 0) {
				cli_error("bad message limit '%s' (a number of "
					  "messages, 0 for none)", optarg);
				return -1;
			}
			o->messages_set = true;
			break;
		default:
			return -1;
		}
	}
	o->argc = argc - 1 - optind;
	o->argv = argv + 1 + optind;
	return 0;
}

typedef void dir_usage_fn(FILE *fp);

/* A subcommand and how many positional arguments it takes. */
struct dir_sub {
	const char *name;
	int min_args, max_args;
};

/* --help, a missing or unknown subcommand, bad options and a wrong number
 * of arguments (subs ends with a NULL name). Returns the exit status when
 * the command is done, or -1 to go on with *o filled. */
static int
dir_prelude(int argc, char **argv, dir_usage_fn *usage,
	    const struct dir_sub *subs, struct dir_opts *o)
{
	if (argc < 2 || cli_wants_help(argc, argv)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (dir_parse(argc, argv, o) < 0) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (; subs->name != NULL; subs++) {
		if (strcmp(argv[1], subs->name) == 0) {
			if (o->argc < subs->min_args || o->argc > subs->max_args)
				break;
			return -1;
		}
	}
	usage(stderr);
	return CLI_USAGE;
}

static void
dir_close(struct store **store, struct config **cfg)
{
	store_close(store);
	config_free(cfg);
}

/* Domain names as addresses carry them (UTF-8 labels allowed), at most
 * 253 octets as written in DNS. */
static bool
domain_is_valid(const char *d)
{
	return strlen(d) <= 253 && address_domain_is_valid(d, true);
}

/* local@domain with a valid domain; or "@domain" when catchall_ok. */
static bool
address_is_valid(const char *a, bool catchall_ok)
{
	const char *at = strrchr(a, '@');

	if (at == NULL || strlen(a) > 254)
		return false;
	if (at == a && !catchall_ok)
		return false;
	if (at - a > 64)
		return false;
	for (const char *p = a; p < at; p++) {
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' ||
		    *p == '"' || *p == '\\' || *p == '@' || *p == ',')
			return false;
	}
	return domain_is_valid(at + 1);
}

static char *
lowercase(const char *s)
{
	char *r = xstrdup(s);

	for (char *p = r; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

/* Runs the directory command with the store opened; prints store errors. */
static int
store_failed(const char *what, enum store_result r, const char *err)
{
	cli_error("%s: %s", what, err != NULL ? err : store_result_str(r));
	return CLI_ERROR;
}

/* ---- herald domain ---- */

static void
domain_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald domain add DOMAIN... [-c FILE]\n"
		"       herald domain del DOMAIN [--force] [-c FILE]\n"
		"       herald domain list [-c FILE]\n\n"
		"add     make Herald the final destination for DOMAIN\n"
		"del     remove DOMAIN; with users or aliases it needs --force,\n"
		"        which deletes them and their mail too\n"
		"list    print the domains, one a line\n");
}

int
cli_domain(int argc, char **argv)
{
	struct dir_opts o;
	struct config *cfg;
	struct store *store;
	const char *sub, *err = NULL;
	enum store_result r;
	int rc;

	static const struct dir_sub subs[] = {
		{ "add", 1, INT_MAX }, { "del", 1, 1 }, { "list", 0, 0 },
		{ NULL, 0, 0 },
	};

	if ((rc = dir_prelude(argc, argv, domain_usage, subs, &o)) >= 0)
		return rc;
	rc = CLI_OK;
	sub = argv[1];
	for (int i = 0; i < o.argc; i++) {
		if (!domain_is_valid(o.argv[i])) {
			cli_error("'%s' is not a valid domain name", o.argv[i]);
			return CLI_ERROR;
		}
	}
	if ((store = cli_open_config_store(o.config, &cfg)) == NULL)
		return CLI_ERROR;
	if (strcmp(sub, "add") == 0) {
		for (int i = 0; i < o.argc && rc == CLI_OK; i++) {
			char *d = lowercase(o.argv[i]);

			r = store_domain_add(store, d, &err);
			if (r != STORE_OK)
				rc = store_failed(d, r, err);
			free(d);
		}
	} else if (strcmp(sub, "del") == 0) {
		char *d = lowercase(o.argv[0]);

		r = store_domain_del(store, d, o.force, &err);
		if (r == STORE_E_IN_USE) {
			cli_error("%s still has users or aliases; use --force "
				  "to delete them and their mail too", d);
			rc = CLI_ERROR;
		} else if (r != STORE_OK) {
			rc = store_failed(d, r, err);
		}
		free(d);
	} else {
		char **names;
		size_t n;

		r = store_domain_list(store, &names, &n, &err);
		if (r != STORE_OK) {
			rc = store_failed("domain list", r, err);
		} else {
			for (size_t i = 0; i < n; i++)
				printf("%s\n", names[i]);
			store_strv_free(&names, n);
		}
	}
	dir_close(&store, &cfg);
	return rc;
}

/* ---- herald user ---- */

static void
user_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald user add ADDRESS [--quota SIZE] [--messages N] [-c FILE]\n"
		"                                           (password on stdin)\n"
		"       herald user passwd ADDRESS [-c FILE]                (password on stdin)\n"
		"       herald user quota ADDRESS [SIZE] [--messages N] [-c FILE]\n"
		"       herald user del ADDRESS [-c FILE]\n"
		"       herald user list [DOMAIN] [-c FILE]\n\n"
		"The password is read from standard input (one line), never from\n"
		"the command line: echo 'a long secret' | herald user add alice@example.org\n"
		"On a terminal it is asked for twice, without echo. It must have at\n"
		"least [auth] password_min_length characters (8 by default).\n"
		"SIZE is bytes with an optional k, M or G; 0 means no quota.\n"
		"--messages N limits the number of messages (0: no limit); 'user quota'\n"
		"changes only the limits it is given. 'user list' shows the limits set.\n");
}

/* Characters, not bytes: a minimum in bytes would let three CJK
 * characters pass for nine. The password is valid UTF-8 by now. */
static size_t
password_chars(const char *pw)
{
	size_t n = 0;

	for (; *pw != '\0'; pw++)
		n += ((unsigned char)*pw & 0xc0) != 0x80;
	return n;
}

/* On a terminal: a prompt on stderr, no echo (password_read_fd), and the
 * password twice, since a typo nobody saw would lock the user out. */
static int
read_password(const char *address, char **pw_r)
{
	char *again = NULL;
	const char *rerr;
	bool tty = isatty(STDIN_FILENO);

	if (tty) {
		fprintf(stderr, "Password for %s: ", address);
		fflush(stderr);
	}
	if (password_read_stdin(pw_r, &rerr) < 0) {
		cli_error("reading the password%s: %s",
			  tty ? "" : " from standard input", rerr);
		return -1;
	}
	if (!tty)
		return 0;
	fprintf(stderr, "Again: ");
	fflush(stderr);
	if (password_read_stdin(&again, &rerr) < 0) {
		cli_error("reading the password: %s", rerr);
		mem_free_secret(pw_r);
		return -1;
	}
	if (strcmp(*pw_r, again) != 0) {
		cli_error("the two passwords differ; nothing changed");
		mem_free_secret(pw_r);
		mem_free_secret(&again);
		return -1;
	}
	mem_free_secret(&again);
	return 0;
}

/* Reads the password, checks it against [auth] password_min_length,
 * hashes it (argon2id by default) and derives the SCRAM-SHA-256
 * credential. */
static int
read_and_hash(const struct config *cfg, const char *address, char **hash_r,
	      char **scram_r)
{
	char *pw = NULL, *err = NULL;

	if (read_password(address, &pw) < 0)
		return -1;
	if (password_chars(pw) < cfg->auth.password_min_length) {
		cli_error("the password is shorter than %u characters "
			  "([auth] password_min_length); nothing changed",
			  cfg->auth.password_min_length);
		mem_free_secret(&pw);
		return -1;
	}
	if (password_hash(pw, &cfg->auth, hash_r, &err) < 0 ||
	    password_scram_sha256(pw, 0, scram_r, &err) < 0) {
		cli_error("%s", err);
		free(err);
		mem_free_secret(&pw);
		return -1;
	}
	mem_free_secret(&pw);
	return 0;
}

static int
user_run(const char *sub, struct dir_opts *o, const struct config *cfg,
	 struct store *store)
{
	const char *err = NULL;
	enum store_result r;
	char *hash = NULL, *scram = NULL;

	if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) {
		if (read_and_hash(cfg, o->argv[0], &hash, &scram) < 0)
			return CLI_ERROR;
		if (strcmp(sub, "add") == 0) {
			r = store_user_add(store, o->argv[0], hash, scram,
					   o->quota, NULL, &err);
			if (r == STORE_OK && o->messages_set)
				r = store_user_set_message_quota(
					store, o->argv[0], o->messages, &err);
		} else
			r = store_user_set_password(store, o->argv[0], hash,
						    scram, &err);
		mem_free_secret(&hash);
		mem_free_secret(&scram);
		if (r == STORE_E_EXISTS) {
			cli_error("%s already exists; use 'herald user passwd' "
				  "to change its password", o->argv[0]);
			return CLI_ERROR;
		}
		if (r == STORE_E_NOT_FOUND && strcmp(sub, "add") == 0) {
			cli_error("domain %s does not exist; add it first with "
				  "'herald domain add %s'",
				  strrchr(o->argv[0], '@') + 1,
				  strrchr(o->argv[0], '@') + 1);
			return CLI_ERROR;
		}
		return r == STORE_OK ? CLI_OK : store_failed(o->argv[0], r, err);
	}
	if (strcmp(sub, "del") == 0) {
		r = store_user_del(store, o->argv[0], &err);
		return r == STORE_OK ? CLI_OK : store_failed(o->argv[0], r, err);
	}
	if (strcmp(sub, "quota") == 0) {
		r = STORE_OK;
		if (o->messages_set)
			r = store_user_set_message_quota(store, o->argv[0],
							 o->messages, &err);
		if (r == STORE_OK && o->argc == 2)
			r = store_user_set_quota(store, o->argv[0], o->quota,
						 &err);
		return r == STORE_OK ? CLI_OK : store_failed(o->argv[0], r, err);
	}
	/* list */
	struct store_user *users;
	size_t n;

	r = store_user_list(store, o->argc > 0 ? o->argv[0] : NULL, &users, &n,
			    &err);
	if (r != STORE_OK)
		return store_failed(o->argc > 0 ? o->argv[0] : "user list", r,
				    err);
	for (size_t i = 0; i < n; i++) {
		printf("%s", users[i].address);
		if (users[i].quota_bytes > 0)
			printf("\tquota=%llu used=%llu",
			       (unsigned long long)users[i].quota_bytes,
			       (unsigned long long)users[i].used_bytes);
		if (users[i].quota_messages > 0)
			printf("\tmessage_quota=%llu messages=%llu",
			       (unsigned long long)users[i].quota_messages,
			       (unsigned long long)users[i].used_messages);
		printf("\n");
	}
	store_users_free(&users, n);
	return CLI_OK;
}

int
cli_user(int argc, char **argv)
{
	struct dir_opts o;
	struct config *cfg;
	struct store *store;
	const char *sub;
	int rc;
	static const struct dir_sub subs[] = {
		{ "add", 1, 1 }, { "passwd", 1, 1 }, { "del", 1, 1 },
		{ "quota", 1, 2 }, { "list", 0, 1 }, { NULL, 0, 0 },
	};

	if ((rc = dir_prelude(argc, argv, user_usage, subs, &o)) >= 0)
		return rc;
	rc = CLI_OK;
	sub = argv[1];
	if (strcmp(sub, "list") == 0) {
		if (o.argc == 1 && !domain_is_valid(o.argv[0])) {
			cli_error("'%s' is not a valid domain name", o.argv[0]);
			return CLI_ERROR;
		}
	} else if (!address_is_valid(o.argv[0], false)) {
		cli_error("'%s' is not a valid address (local@domain)",
			  o.argv[0]);
		return CLI_ERROR;
	}
	if (o.messages_set && strcmp(sub, "add") != 0 &&
	    strcmp(sub, "quota") != 0) {
		cli_error("--messages goes with user add or user quota");
		return CLI_USAGE;
	}
	if (strcmp(sub, "quota") == 0 && o.argc == 1 && !o.messages_set) {
		cli_error("user quota needs a SIZE, --messages N or both");
		user_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(sub, "quota") == 0 && o.argc == 2 &&
	    parse_quota(o.argv[1], &o.quota) < 0) {
		cli_error("bad quota '%s' (a size like 500M or 2G, 0 for none)",
			  o.argv[1]);
		return CLI_ERROR;
	}
	if ((store = cli_open_config_store(o.config, &cfg)) == NULL)
		return CLI_ERROR;
	rc = user_run(sub, &o, cfg, store);
	dir_close(&store, &cfg);
	return rc;
}

/* ---- herald alias ---- */

static void
alias_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald alias add SOURCE TARGET... [-c FILE]\n"
		"       herald alias del SOURCE [TARGET...] [-c FILE]\n"
		"       herald alias list [DOMAIN] [-c FILE]\n\n"
		"SOURCE is local@domain, or @domain for a catch-all that takes\n"
		"mail for every address of the domain that is not a user or an\n"
		"alias. Targets may be local or remote addresses. del without\n"
		"TARGET removes every target of SOURCE.\n");
}

int
cli_alias(int argc, char **argv)
{
	struct dir_opts o;
	struct config *cfg;
	struct store *store;
	const char *sub, *err = NULL;
	enum store_result r;
	int rc;

	static const struct dir_sub subs[] = {
		{ "add", 2, INT_MAX }, { "del", 1, INT_MAX }, { "list", 0, 1 },
		{ NULL, 0, 0 },
	};

	if ((rc = dir_prelude(argc, argv, alias_usage, subs, &o)) >= 0)
		return rc;
	rc = CLI_OK;
	sub = argv[1];
	if (strcmp(sub, "list") == 0) {
		if (o.argc == 1 && !domain_is_valid(o.argv[0])) {
			cli_error("'%s' is not a valid domain name", o.argv[0]);
			return CLI_ERROR;
		}
	} else {
		if (!address_is_valid(o.argv[0], true)) {
			cli_error("'%s' is not a valid alias source (local@domain "
				  "or @domain)", o.argv[0]);
			return CLI_ERROR;
		}
		for (int i = 1; i < o.argc; i++) {
			if (!address_is_valid(o.argv[i], false)) {
				cli_error("'%s' is not a valid target address",
					  o.argv[i]);
				return CLI_ERROR;
			}
		}
	}
	if ((store = cli_open_config_store(o.config, &cfg)) == NULL)
		return CLI_ERROR;
	if (strcmp(sub, "add") == 0) {
		for (int i = 1; i < o.argc && rc == CLI_OK; i++) {
			r = store_alias_add(store, o.argv[0], o.argv[i], &err);
			if (r == STORE_E_NOT_FOUND) {
				cli_error("%s is not a local domain; add it "
					  "first with 'herald domain add'",
					  strrchr(o.argv[0], '@') + 1);
				rc = CLI_ERROR;
			} else if (r != STORE_OK) {
				rc = store_failed(o.argv[0], r, err);
			}
		}
	} else if (strcmp(sub, "del") == 0) {
		if (o.argc == 1) {
			r = store_alias_del(store, o.argv[0], NULL, &err);
			if (r != STORE_OK)
				rc = store_failed(o.argv[0], r, err);
		}
		for (int i = 1; i < o.argc && rc == CLI_OK; i++) {
			r = store_alias_del(store, o.argv[0], o.argv[i], &err);
			if (r != STORE_OK)
				rc = store_failed(o.argv[0], r, err);
		}
	} else {
		struct store_alias *a;
		size_t n;

		r = store_alias_list(store, o.argc > 0 ? o.argv[0] : NULL, &a,
				     &n, &err);
		if (r != STORE_OK) {
			rc = store_failed("alias list", r, err);
		} else {
			for (size_t i = 0; i < n; i++)
				printf("%s\t%s\n", a[i].source, a[i].target);
			store_aliases_free(&a, n);
		}
	}
	dir_close(&store, &cfg);
	return rc;
}
