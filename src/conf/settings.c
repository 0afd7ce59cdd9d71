/* SPDX-License-Identifier: MIT */
/*
 * The settings tables of the foundation sections: top level, [listen],
 * [dns], [store], [auth]. Each row drives parsing, validation,
 * `herald config show` and docs/config.md. Modules above conf/ (tls/,
 * smtp/, pop3/) own their sections; cli/ registers them at start, so that conf/
 * includes none of them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/config.h"
#include "lib/log.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* config_set() stores an enum setting through an unsigned *. */
_Static_assert(sizeof(enum log_level) == sizeof(unsigned), "enum size");
_Static_assert(sizeof(enum config_store_backend) == sizeof(unsigned),
	       "enum size");
_Static_assert(sizeof(enum config_password_scheme) == sizeof(unsigned),
	       "enum size");
#define OFF(field) offsetof(struct config, field)

static const struct setting top_settings[] = {
	{ .key = "hostname", .type = SETTING_STRING, .offset = OFF(hostname),
	  .doc = "Fully qualified name of this server, used in the SMTP "
		 "greeting, Received headers and the self-signed certificate. "
		 "Default: the system host name." },
	{ .key = "data_dir", .type = SETTING_STRING, .offset = OFF(data_dir),
	  .def = "/var/lib/herald",
	  .doc = "Directory for the database, message blobs, the self-signed "
		 "certificate and DKIM keys. Must be an absolute path." },
	{ .key = "user", .type = SETTING_STRING, .offset = OFF(user),
	  .def = "herald",
	  .doc = "Unprivileged user the worker processes run as when Herald is "
		 "started as root. Ignored when not started as root." },
	{ .key = "group", .type = SETTING_STRING, .offset = OFF(group),
	  .doc = "Group for the workers; default: the user's primary group." },
	{ .key = "workers", .type = SETTING_UINT, .offset = OFF(workers),
	  .def = "1", .min = 0, .max = 256, .reloadable = true,
	  .doc = "Number of worker processes; 0 means one per CPU. One is "
		 "the fastest for mail delivery: every worker has its own "
		 "store writer, and writers in several processes take turns "
		 "(docs/ARCHITECTURE.md). More help only where protocol work "
		 "on the event loop (TLS) fills a core." },
	{ .key = "log_level", .type = SETTING_ENUM, .offset = OFF(log_level),
	  .def = "info", .enum_values = "debug|info|warn|error",
	  .reloadable = true,
	  .doc = "Least severe level that is logged." },
	{ .key = "shutdown_timeout", .type = SETTING_DURATION,
	  .offset = OFF(shutdown_timeout_ms), .def = "5s", .min = 100,
	  .max = 600000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "How long SIGTERM waits for workers to finish before they "
		 "are killed." },
	{ .key = "max_connections_per_ip", .type = SETTING_UINT,
	  .offset = OFF(max_connections_per_ip), .def = "50", .min = 0,
	  .max = 100000, .reloadable = true,
	  .doc = "Concurrent connections from one client address per worker "
		 "process, all protocols together (a local user's on the "
		 "sendmail socket count per user; LMTP's unix socket not at "
		 "all). More are refused: SMTP 421 4.7.0, POP3 -ERR, closed "
		 "on implicit TLS ports. 0: no limit." },
	{ .key = "max_connections", .type = SETTING_UINT,
	  .offset = OFF(max_connections), .def = "10000", .min = 1,
	  .max = 1000000, .reloadable = true,
	  .doc = "Concurrent connections per worker process, all listeners "
		 "together; more are refused like those over "
		 "`max_connections_per_ip` (SMTP 421 4.3.2). Lowered at start "
		 "to what the open-file limit leaves room for." },
	{ .key = "max_open_files", .type = SETTING_UINT,
	  .offset = OFF(max_open_files), .def = "0", .min = 0,
	  .max = 16777216,
	  .doc = "The open-file limit (RLIMIT_NOFILE) `herald serve` sets for "
		 "itself and its workers at start. 0: raise it to the hard "
		 "limit. Above the hard limit needs root." },
};

#define LISTEN(p, name, example)                                           \
	{ .key = name, .type = SETTING_LISTEN,                               \
	  .offset = OFF(listen.proto[p]), .reloadable = true,                  \
	  .doc = "Addresses for " example ", comma-separated "                 \
		 "(`127.0.0.1:25`, `[::1]:25`, `unix:/path`). "                \
		 "Left out or empty: not opened." }

static const struct setting listen_settings[] = {
	LISTEN(PROTO_SMTP, "smtp", "inbound SMTP (port 25)"),
	LISTEN(PROTO_SUBMISSION, "submission",
	       "message submission with STARTTLS (port 587)"),
	LISTEN(PROTO_SUBMISSIONS, "submissions",
	       "message submission over implicit TLS (port 465)"),
	LISTEN(PROTO_IMAP, "imap", "IMAP with STARTTLS (port 143)"),
	LISTEN(PROTO_IMAPS, "imaps", "IMAP over implicit TLS (port 993)"),
	LISTEN(PROTO_POP3, "pop3", "POP3 with STLS (port 110)"),
	LISTEN(PROTO_POP3S, "pop3s", "POP3 over implicit TLS (port 995)"),
	LISTEN(PROTO_LMTP, "lmtp", "LMTP (a unix socket or TCP)"),
	LISTEN(PROTO_HTTP, "http", "HTTPS: JMAP and autoconfig (port 443)"),
	{ .key = "sendmail", .type = SETTING_LISTEN,
	  .offset = OFF(listen.proto[PROTO_SENDMAIL]), .reloadable = true,
	  .doc = "Unix socket through which `herald sendmail` run by users "
		 "other than root and Herald's user (PHP as www-data, cron "
		 "jobs) hands over mail: `unix:/run/herald/sendmail.sock`. "
		 "Mode 0666; the server learns the sender's user id from the "
		 "socket (docs/sendmail.md). Left out: only root and Herald's "
		 "user can run sendmail." },
};

static const struct setting dns_settings[] = {
	{ .key = "unbound_config", .type = SETTING_STRING,
	  .offset = OFF(dns.unbound_config),
	  .doc = "libunbound configuration file (tests point it at local "
		 "zones). Absent: libunbound defaults." },
	{ .key = "resolv_conf", .type = SETTING_STRING,
	  .offset = OFF(dns.resolv_conf),
	  .doc = "Forward queries to the servers in this resolv.conf instead "
		 "of resolving from the root." },
	{ .key = "hosts", .type = SETTING_STRING, .offset = OFF(dns.hosts),
	  .doc = "hosts(5) file whose entries answer before DNS." },
};

static const struct setting store_settings[] = {
	{ .key = "backend", .type = SETTING_ENUM, .offset = OFF(store.backend),
	  .def = "sqlite", .enum_values = "sqlite|mariadb",
	  .doc = "Where domains, users, mailboxes and the queue live." },
	{ .key = "sqlite_path", .type = SETTING_STRING,
	  .offset = OFF(store.sqlite_path),
	  .doc = "SQLite database file. Absent: `data_dir/herald.db`." },
	{ .key = "mariadb_host", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_host), .def = "127.0.0.1",
	  .doc = "MariaDB server host." },
	{ .key = "mariadb_port", .type = SETTING_UINT,
	  .offset = OFF(store.mariadb_port), .def = "3306", .min = 1,
	  .max = 65535, .doc = "MariaDB server port." },
	{ .key = "mariadb_socket", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_socket),
	  .doc = "MariaDB unix socket; used instead of host and port." },
	{ .key = "mariadb_user", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_user), .def = "herald",
	  .doc = "MariaDB user." },
	{ .key = "mariadb_password", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_password), .secret = true,
	  .doc = "MariaDB password." },
	{ .key = "mariadb_database", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_database), .def = "herald",
	  .doc = "MariaDB database name." },
	{ .key = "threads", .type = SETTING_UINT, .offset = OFF(store.threads),
	  .def = "16", .min = 1, .max = 256,
	  .doc = "Threads per worker that run blocking store work and "
		 "password hashing. Writes waiting in these threads are "
		 "committed together, so more threads mean bigger group "
		 "commits under load." },
	{ .key = "group_commit_max", .type = SETTING_UINT,
	  .offset = OFF(store.group_commit_max), .def = "256", .min = 1,
	  .max = 10000,
	  .doc = "Most writes committed together in one transaction." },
	{ .key = "group_commit_wait", .type = SETTING_DURATION,
	  .offset = OFF(store.group_commit_wait_us), .def = "0ms", .min = 0,
	  .max = 100000, .unit = DURATION_US,
	  .doc = "How long the writer waits for more writes before it "
		 "commits a batch. 0: commit whatever is waiting at once "
		 "(writes that arrive during a commit join the next one)." },
	{ .key = "busy_timeout", .type = SETTING_DURATION,
	  .offset = OFF(store.busy_timeout_ms), .def = "10s", .min = 0,
	  .max = 600000, .unit = DURATION_MS,
	  .doc = "How long a store call waits for a lock held by another "
		 "process before it fails with a temporary error." },
	{ .key = "blob_gc_interval", .type = SETTING_DURATION,
	  .offset = OFF(store.blob_gc_interval_ms), .def = "1m", .min = 0,
	  .max = 86400000, .unit = DURATION_MS,
	  .doc = "How often the store writer of each worker removes message "
		 "bodies no message or queue entry uses any more (expunged, "
		 "POP3-deleted, removed with their account), at most 500 per "
		 "transaction. 0: never (docs/store.md \"Deleting blobs\")." },
};

static const struct setting auth_settings[] = {
	{ .key = "fail_per_ip", .type = SETTING_UINT,
	  .offset = OFF(auth.fail_per_ip), .def = "10", .min = 1,
	  .max = 1000000, .reloadable = true,
	  .doc = "Failed logins allowed from one client address per window, "
		 "in all protocols together, before further attempts are "
		 "refused. A successful login does not reset the count." },
	{ .key = "fail_per_user", .type = SETTING_UINT,
	  .offset = OFF(auth.fail_per_user), .def = "20", .min = 1,
	  .max = 1000000, .reloadable = true,
	  .doc = "Failed logins allowed for one account per window (user "
		 "names compared without ASCII case, all protocols together). "
		 "Once spent, only addresses that logged in to the account "
		 "within `known_address_ttl` may still log in to it." },
	{ .key = "fail_window", .type = SETTING_DURATION,
	  .offset = OFF(auth.fail_window_s), .def = "10m", .min = 1,
	  .max = 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "Length of the failed-login window." },
	{ .key = "fail_delay", .type = SETTING_DURATION,
	  .offset = OFF(auth.fail_delay_ms), .def = "1s", .min = 0,
	  .max = 60000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "Delay before a failed login is answered." },
	{ .key = "known_address_ttl", .type = SETTING_DURATION,
	  .offset = OFF(auth.known_address_s), .def = "30d", .min = 0,
	  .max = 31536000, .unit = DURATION_S, .reloadable = true,
	  .doc = "How long an address that logged in to an account keeps "
		 "logging in to it while failures from other addresses have "
		 "spent the account's budget (`fail_per_user`). 0: the "
		 "account budget applies to every address." },
	{ .key = "fail_ipv6_prefix", .type = SETTING_UINT,
	  .offset = OFF(auth.fail_ipv6_prefix), .def = "64", .min = 32,
	  .max = 128, .reloadable = true,
	  .doc = "IPv6 clients share one `fail_per_ip` budget per network of "
		 "this prefix length (one host usually holds a whole /64)." },
	{ .key = "fail_table_size", .type = SETTING_UINT,
	  .offset = OFF(auth.fail_table_size), .def = "16384", .min = 16,
	  .max = 1000000, .reloadable = true,
	  .doc = "Addresses, accounts and known address/account pairs the "
		 "server remembers for the limits above (each table, shared "
		 "by all workers; the least recently failed entry is "
		 "forgotten first)." },
	{ .key = "plaintext_on_loopback", .type = SETTING_BOOL,
	  .offset = OFF(auth.plaintext_on_loopback), .def = "yes",
	  .reloadable = true,
	  .doc = "Allow password authentication without TLS from loopback "
		 "addresses (elsewhere TLS is always required)." },
	{ .key = "password_scheme", .type = SETTING_ENUM,
	  .offset = OFF(auth.password_scheme), .def = "ARGON2ID",
	  .enum_values = "ARGON2ID|SHA512-CRYPT",
	  .doc = "Scheme for new password hashes. Existing hashes of any "
		 "supported scheme keep working." },
	{ .key = "argon2_opslimit", .type = SETTING_UINT,
	  .offset = OFF(auth.argon2_opslimit), .def = "2", .min = 1,
	  .max = 100,
	  .doc = "Argon2id passes (libsodium opslimit)." },
	{ .key = "argon2_memlimit", .type = SETTING_SIZE,
	  .offset = OFF(auth.argon2_memlimit), .def = "64M",
	  .min = 8192, .max = (uint64_t)4 << 30,
	  .doc = "Argon2id memory per hash." },
	{ .key = "password_min_length", .type = SETTING_UINT,
	  .offset = OFF(auth.password_min_length), .def = "8", .min = 1,
	  .max = 1024,
	  .doc = "Fewest characters of a password set with `herald user add` "
		 "or `herald user passwd`." },
};

#define SECTION(n, t, d) { .name = n, .settings = t, .n_settings = N(t), .doc = d }

static const struct setting_section section_top =
	SECTION("", top_settings, "Keys before the first section.");
static const struct setting_section section_listen =
	SECTION("listen", listen_settings,
		"Listening addresses per protocol. A protocol that is left out "
		"is not served. Changes take effect on SIGHUP.");
static const struct setting_section section_dns =
	SECTION("dns", dns_settings, "The DNS resolver (libunbound).");
static const struct setting_section section_store =
	SECTION("store", store_settings, "The store: directory, mailboxes, queue.");
static const struct setting_section section_auth =
	SECTION("auth", auth_settings, "Authentication and login limits.");

/* The foundation sections first, then the registered ones in the order
 * of registration: that is the order of docs/config.md. */
#define SECTIONS_MAX 32

static const struct setting_section *sections[SECTIONS_MAX] = {
	&section_top,
	&section_listen,
	&section_dns,
	&section_store,
	&section_auth,
};
static size_t sections_count = 5;
static bool protocols_available[PROTO_COUNT];

void
config_register_section(const struct setting_section *sec)
{
	for (size_t i = 0; i < sections_count; i++) {
		if (sections[i] == sec)
			return;
		if (strcmp(sections[i]->name, sec->name) == 0)
			panic("config: section [%s] registered twice", sec->name);
	}
	if (sections_count == SECTIONS_MAX)
		panic("config: more than %d sections", SECTIONS_MAX);
	sections[sections_count++] = sec;
}

size_t
config_section_count(void)
{
	return sections_count;
}

const struct setting_section *
config_section_at(size_t i)
{
	if (i >= sections_count)
		panic("config: section %zu of %zu", i, sections_count);
	return sections[i];
}

void
config_register_protocol(enum listen_proto proto)
{
	if ((unsigned)proto >= PROTO_COUNT)
		panic("config: protocol %d out of range", (int)proto);
	protocols_available[proto] = true;
}

bool
config_protocol_is_available(enum listen_proto proto)
{
	return (unsigned)proto < PROTO_COUNT && protocols_available[proto];
}
