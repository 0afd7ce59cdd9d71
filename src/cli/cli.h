/* SPDX-License-Identifier: MIT */
/*
 * The subcommands of the herald program, one file per group, and the small
 * helpers they share. Each entry point takes the arguments after the
 * command name (argv[0] is the command name) and returns the exit status:
 * 0 success, 1 a user error (one line saying what to do), 2 usage.
 */
#ifndef HERALD_CLI_CLI_H
#define HERALD_CLI_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

struct config;
struct store;

#define CLI_OK 0
#define CLI_ERROR 1
#define CLI_USAGE 2

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* Every top-level command, for dispatch and `herald help`. */
extern const struct cli_command cli_commands[];

int cli_config(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_domain(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_alias(int argc, char **argv);
/* `herald share add|remove|list`: shared mailboxes (cli-share.c). */
int cli_share(int argc, char **argv);
/* `herald index run|rebuild`: the full-text search index. */
int cli_index(int argc, char **argv);
/* `herald dns DOMAIN|check DOMAIN|lookup TYPE NAME` (cli-dns.c,
 * cli-dns-publish.c). */
int cli_dns(int argc, char **argv);
/* `herald dkim keygen|list|sign|verify` (cli-dkim.c). */
int cli_dkim(int argc, char **argv);
/* `herald spf check IP SENDER`: one SPF check (src/mailauth/spf.h). */
int cli_spf(int argc, char **argv);
/* `herald dmarc report --now|--dry-run` (cli-dmarc.c). */
int cli_dmarc(int argc, char **argv);
int cli_sendmail(int argc, char **argv);
/* `herald mailq`, the same as `herald sendmail -bp`. */
int cli_mailq(int argc, char **argv);
/* `herald queue list|show|flush|hold|release|delete|bounce`. */
int cli_queue(int argc, char **argv);
/* The Postfix-shaped queue listing of mailq (`sendmail -bp`) on stdout;
 * -1 after printing why the queue could not be read. */
int cli_queue_print_mailq(struct store *store);
/* `herald debug smtp-send`: the outbound client by hand (cli-debug.c). */
int cli_debug(int argc, char **argv);
int cli_version(int argc, char **argv);
int cli_help(int argc, char **argv);

/* Registers the settings section and the protocol start handlers of
 * every module built in (config_register_section(),
 * config_register_protocol(), daemon_set_protocol_handler()). main() calls
 * it first; unit tests that load configs call it too. Idempotent. */
void cli_modules_register(void);

/* Prints "herald: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "<prog>: <message>" to stderr (sendmail and mailq name
 * themselves); the second form takes the arguments directly. */
void cli_verror_s(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cli_verror(const char *prog, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Loads the config at path (NULL: config_default_path()). On error prints
 * every "FILE:LINE: message" line and returns NULL. */
struct config *cli_load_config(const char *path);

/* Opens the store for cfg, first creating data_dir for the configured user
 * and dropping to it when run as root (files stay the workers'). Prints the
 * error and returns NULL on failure. */
struct store *cli_open_store(const struct config *cfg);

/* The option loop of a command whose only options are -c/--config FILE and
 * -h/--help: sets *path_r for -c, prints usage(stdout) for -h and
 * usage(stderr) for anything else. Restarts getopt (optind = 1); stops at
 * the first operand when stop_at_operand (so an operand such as "-w" is not
 * an option). Returns -1 to go on with the operands at argv[optind], else
 * the exit status to return (CLI_OK after help, CLI_USAGE). */
int cli_config_options(int argc, char **argv, bool stop_at_operand,
		       void (*usage)(FILE *fp), const char **path_r);

/* cli_load_config(path) then cli_open_store(): the config in *cfg_r and
 * the store, or NULL (*cfg_r NULL too) after printing why. The caller
 * closes the store and frees *cfg_r. */
struct store *cli_open_config_store(const char *path, struct config **cfg_r);

/* True when argv has -h or --help anywhere before "--". */
bool cli_wants_help(int argc, char **argv);

#endif
