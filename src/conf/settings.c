/* SPDX-License-Identifier: MIT */
/*
 * The settings tables of the foundation sections: top level, [listen],
 * [dns]. Each row drives parsing, validation,
 * `herald config show` and docs/config.md. Modules above conf/ (store/,
 * sasl/, tls/, smtp/, pop3/) own their sections; cli/ registers them at start, so that conf/
 * includes none of them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "lib/log.h"
#include "lib/mem.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* config_set() stores an enum setting through an unsigned *. */
_Static_assert(sizeof(enum log_level) == sizeof(unsigned), "enum size");
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
	{ .key = "connections_ipv6_prefix", .type = SETTING_UINT,
	  .offset = OFF(connections_ipv6_prefix), .def = "64", .min = 32,
	  .max = 128, .reloadable = true,
	  .doc = "IPv6 clients count against `max_connections_per_ip` per "
		 "network of this prefix length (one host is usually given a "
		 "whole /64, and could otherwise open as many connections as "
		 "it has addresses); 128: per address." },
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

/* [dns] forward: "ADDR[@PORT], ..." with IP addresses only (libunbound
 * takes no host names there); checked here so that `herald config check`
 * names the bad entry rather than the resolver failing at start. */
static int
forward_check(const char *value, char **error_r)
{
	char *copy = xstrdup(value), *p = copy;
	int ret = 0, n = 0;

	while (ret == 0 && *p != '\0') {
		char *end = p + strcspn(p, ", \t"), save = *end, *at;
		unsigned char addr[sizeof(struct in6_addr)];

		*end = '\0';
		if (*p != '\0') {
			n++;
			at = strchr(p, '@');
			if (at != NULL) {
				char *pe;
				unsigned long port;

				*at = '\0';
				errno = 0;
				port = strtoul(at + 1, &pe, 10);
				if (at[1] == '\0' || *pe != '\0' || errno != 0 ||
				    port == 0 || port > 65535)
					ret = -1;
			}
			if (inet_pton(AF_INET, p, addr) != 1 &&
			    inet_pton(AF_INET6, p, addr) != 1)
				ret = -1;
			if (ret < 0) {
				if (at != NULL)
					*at = '@';
				*error_r = xasprintf("'%s' is not an IP address "
						     "with an optional @port", p);
			}
		}
		p = save != '\0' ? end + 1 : end;
	}
	free(copy);
	if (ret == 0 && n == 0) {
		*error_r = xstrdup("no address");
		ret = -1;
	}
	return ret;
}

static const struct setting dns_settings[] = {
	{ .key = "unbound_config", .type = SETTING_STRING,
	  .offset = OFF(dns.unbound_config),
	  .doc = "libunbound configuration file (unbound.conf(5) syntax: "
		 "forward-zone, trust-anchor-file, local-zone, local-data), "
		 "read before the keys below. Unset: none." },
	{ .key = "forward", .type = SETTING_STRING, .offset = OFF(dns.forward),
	  .check = forward_check,
	  .doc = "Send every query to these resolvers instead of resolving "
		 "from the root: addresses separated by commas, each with an "
		 "optional `@port` (`127.0.0.1@5353, ::1`). Takes precedence "
		 "over `resolv_conf`." },
	{ .key = "resolv_conf", .type = SETTING_STRING,
	  .offset = OFF(dns.resolv_conf), .def = "/etc/resolv.conf",
	  .doc = "Forward queries to the nameservers of this resolv.conf(5) "
		 "file when neither `forward` nor `unbound_config` is set. "
		 "Empty, or a file that does not exist (with a warning): "
		 "resolve from the root servers (recursion)." },
	{ .key = "hosts", .type = SETTING_STRING, .offset = OFF(dns.hosts),
	  .doc = "hosts(5) file whose entries answer A and AAAA lookups "
		 "before DNS. Unset: none." },
	{ .key = "trust_anchor", .type = SETTING_STRING,
	  .offset = OFF(dns.trust_anchor),
	  .doc = "DNSSEC trust anchor file (DS or DNSKEY records in zone "
		 "file format, e.g. `/usr/share/dns/root.key` from "
		 "dns-root-data): answers are then validated, and a bogus one "
		 "is a temporary failure. Unset: no validation (every answer "
		 "insecure), unless `unbound_config` names an anchor." },
	{ .key = "timeout", .type = SETTING_DURATION,
	  .offset = OFF(dns.timeout_ms), .def = "10s", .min = 100,
	  .max = 600000, .unit = DURATION_MS,
	  .doc = "How long one lookup may take; after it the caller gets a "
		 "timeout (a temporary failure)." },
	{ .key = "cache_size", .type = SETTING_UINT,
	  .offset = OFF(dns.cache_size), .def = "10000", .min = 0,
	  .max = 10000000,
	  .doc = "Answers kept by each process's resolver, the least "
		 "recently used dropped first (libunbound keeps its own cache "
		 "below this one). 0: no cache." },
	{ .key = "cache_memory", .type = SETTING_SIZE,
	  .offset = OFF(dns.cache_memory), .def = "16M", .min = 65536,
	  .max = 1ULL << 32,
	  .doc = "Memory the cached answers of one resolver may take "
		 "together (a TXT answer can be 64 KiB); the least recently "
		 "used are dropped to stay under it." },
	{ .key = "cache_max_ttl", .type = SETTING_DURATION,
	  .offset = OFF(dns.cache_max_ttl_s), .def = "1h", .min = 0,
	  .max = 604800, .unit = DURATION_S,
	  .doc = "Longest time an answer stays in the cache, whatever its "
		 "TTL." },
	{ .key = "cache_negative_ttl", .type = SETTING_DURATION,
	  .offset = OFF(dns.cache_negative_ttl_s), .def = "5m", .min = 0,
	  .max = 86400, .unit = DURATION_S,
	  .doc = "Longest time a \"no such name\" or \"no such record\" answer "
		 "stays in the cache (its SOA may ask for longer)." },
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

/* The foundation sections first, then the registered ones in the order
 * of registration: that is the order of docs/config.md. */
#define SECTIONS_MAX 32

static const struct setting_section *sections[SECTIONS_MAX] = {
	&section_top,
	&section_listen,
	&section_dns,
};
static size_t sections_count = 3;
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

/* Keys that moved, oldest first. Each stays readable with a warning. */
static const struct setting_rename renames[] = {
	/* the limit moved to the connection layer and covers every protocol */
	{ "smtp", "max_connections_per_ip", "", "max_connections_per_ip" },
};

const struct setting_rename *
config_renamed_key(const char *section, const char *key)
{
	for (size_t i = 0; i < N(renames); i++) {
		if (strcasecmp(renames[i].section, section) == 0 &&
		    strcasecmp(renames[i].key, key) == 0)
			return &renames[i];
	}
	return NULL;
}

size_t
config_rename_count(void)
{
	return N(renames);
}

const struct setting_rename *
config_rename_at(size_t i)
{
	return &renames[i];
}
