/* SPDX-License-Identifier: MIT */
/*
 * The parsed configuration. One INI file (inih); every key is described by a
 * row in a settings table (conf/settings.c and each module's own table),
 * which drives parsing, validation, `herald config check`,
 * `herald config show --defaults` and docs/config.md.
 */
#ifndef HERALD_CONF_CONFIG_H
#define HERALD_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/log.h"

enum listen_kind {
	LISTEN_INET,	/* IPv4 or IPv6 host:port */
	LISTEN_UNIX,	/* unix:/path */
};

struct listen_addr {
	enum listen_kind kind;
	char *text;			/* as written, e.g. "[::1]:25" */
	struct sockaddr_storage ss;	/* LISTEN_INET */
	socklen_t sslen;
	char *path;			/* LISTEN_UNIX */
};

struct listen_list {
	struct listen_addr *v;
	size_t n;
};

/* Protocols a listener can serve; the order is the [listen] section's. */
enum listen_proto {
	PROTO_SMTP,
	PROTO_SUBMISSION,
	PROTO_SUBMISSIONS,
	PROTO_IMAP,
	PROTO_IMAPS,
	PROTO_POP3,
	PROTO_POP3S,
	PROTO_LMTP,
	PROTO_HTTP,
	PROTO_SENDMAIL,		/* local injection by herald sendmail (unix only) */
	PROTO_COUNT
};

/* Name of a protocol as used in [listen], e.g. "submissions". */
const char *listen_proto_name(enum listen_proto proto);
/* Whether connections on this protocol start with a TLS handshake. */
bool listen_proto_is_implicit_tls(enum listen_proto proto);

struct config_listen {
	struct listen_list proto[PROTO_COUNT];
};

/* The values of the enum settings, in the order of their enum_values
 * ("a|b|c": the first is 0); test-config checks that they agree. */
enum config_tls_version { CONFIG_TLS_V1_2, CONFIG_TLS_V1_3 };
enum config_store_backend { CONFIG_STORE_SQLITE, CONFIG_STORE_MARIADB };
enum config_password_scheme {
	CONFIG_PASSWORD_ARGON2ID,
	CONFIG_PASSWORD_SHA512_CRYPT,
};
enum config_sender_check {
	CONFIG_SENDER_CHECK_ALIASES,
	CONFIG_SENDER_CHECK_OWN,
	CONFIG_SENDER_CHECK_OFF,
};

struct config_tls {
	char *cert;		/* NULL: self-signed in data_dir */
	char *key;
	enum config_tls_version min_version;
	char *ciphers;		/* TLS 1.2 cipher list */
	char *ciphersuites;	/* TLS 1.3 suites */
	uint64_t handshake_timeout_ms;	/* a slower handshake is closed */
};

/* [dns]: the resolver (src/dns/, docs/dns.md). */
struct config_dns {
	char *unbound_config;	/* libunbound config file, read first */
	char *forward;		/* "addr[@port], ..." to forward to */
	char *resolv_conf;	/* forward to its nameservers */
	char *hosts;		/* hosts(5) file answered first */
	char *trust_anchor;	/* DNSSEC anchor file; NULL: no validation */
	uint64_t timeout_ms;	/* per lookup: DNS_TIMEOUT after it */
	unsigned cache_size;	/* answers kept; 0: no cache */
	uint64_t cache_memory;	/* bytes the kept answers may take */
	uint64_t cache_max_ttl_s;	/* positive answers kept at most */
	uint64_t cache_negative_ttl_s;	/* NXDOMAIN/NODATA kept at most */
};

/* [mailauth]: SPF checks (src/mailauth/spf.h), DKIM signing and
 * verification (src/mailauth/dkim.h; docs/mailauth.md); DMARC and
 * Authentication-Results settings may join. */
/* [mailauth] dmarc: what a DMARC verdict does (docs/mailauth.md). */
enum config_dmarc_mode {
	CONFIG_DMARC_OFF,	/* not evaluated */
	CONFIG_DMARC_RECORD,	/* Authentication-Results and the log only */
	CONFIG_DMARC_ENFORCE,	/* reject / quarantine as the policy says */
};

struct config_mailauth {
	unsigned spf_dns_mechanisms;	/* RFC 7208 4.6.4: 10 */
	unsigned spf_void_lookups;	/* 2 */
	unsigned spf_mx_names;		/* 10 */
	unsigned spf_ptr_names;		/* 10 */
	uint64_t spf_timeout_ms;	/* the whole check: 20 s */
	/* DKIM (src/mailauth/dkim.h, docs/mailauth.md "DKIM") */
	bool dkim_sign;			/* sign mail of local users */
	unsigned dkim_verify_max_signatures;	/* verified per message */
	uint64_t dkim_header_max;	/* header octets kept per message */
	uint64_t dkim_clock_skew_s;	/* t= this far ahead is accepted */
	uint64_t dkim_rotation_delay_s;	/* a new key of a domain that has
					 * one signs after this */
	uint64_t dkim_expire_s;		/* x= after t=; 0: none */
	/* inbound checks on port 25 (docs/mailauth.md "Inbound checks") */
	bool spf;			/* SPF at MAIL FROM */
	bool received_spf;		/* Received-SPF beside A-R */
	bool dkim_verify;		/* DKIM while DATA streams in */
	char *authserv_id;		/* Authentication-Results id; NULL:
					 * hostname */
	/* ARC (src/mailauth/arc.h, docs/mailauth.md "ARC") */
	bool arc_verify;		/* verify chains on port 25 */
	unsigned arc_max_instances;	/* sets verified; more: fail */
	bool arc_seal;			/* seal mail forwarded by an alias */
	char *arc_trusted_sealers;	/* domains, comma-separated, or NULL */
	/* DMARC (src/mailauth/dmarc.h, docs/mailauth.md "DMARC") */
	enum config_dmarc_mode dmarc;
	unsigned dmarc_discovery;	/* enum dmarc_discovery */
	char *psl_file;			/* the Public Suffix List */
	char *dmarc_reject_exempt;	/* networks never rejected */
	/* DMARC aggregate reports (docs/mailauth.md "Aggregate reports") */
	bool dmarc_reports;		/* collect and send; off by default */
	char *dmarc_report_org;		/* org_name; NULL: hostname */
	char *dmarc_report_email;	/* From; NULL: postmaster@domain */
	uint64_t dmarc_report_interval_s;	/* 1d, aligned to UTC */
	unsigned dmarc_report_max_per_run;	/* reports per run */
	unsigned dmarc_report_max_destinations;	/* rua URIs per domain */
	uint64_t dmarc_report_max_size;		/* a report message */
	unsigned dmarc_report_max_records;	/* rows in one report */
	unsigned dmarc_report_memory_rows;	/* rows waiting for a flush */
};

struct config_store {
	enum config_store_backend backend;
	char *sqlite_path;	/* NULL: data_dir/herald.db */
	char *mariadb_host;
	unsigned mariadb_port;
	char *mariadb_socket;
	char *mariadb_user;
	char *mariadb_password;
	char *mariadb_database;
	unsigned threads;	/* store thread pool size per worker */
	unsigned group_commit_max;	/* most writes in one transaction */
	uint64_t group_commit_wait_us;	/* how long to wait to fill a batch */
	/* how long a batch waits, at most, for writes announced on their
	 * way (store_write_expect) */
	uint64_t group_commit_linger_us;
	uint64_t busy_timeout_ms;
	uint64_t blob_gc_interval_ms;	/* 0: no blob garbage collection */
	uint64_t change_log_retention_s;	/* 0: never prune the log */
	bool search_index;		/* run the full-text indexer */
	uint64_t search_text_max;	/* searchable text per message */
	uint64_t search_round_bytes;	/* text one indexer round holds */
	/* what a stored message is threaded by (mail/thread-keys.h); 0,
	 * in a config built in code: the default */
	unsigned thread_references_max;
	unsigned thread_msgid_max;
	unsigned thread_subject_max;
	uint64_t thread_header_max;
};

struct config_auth {
	unsigned fail_per_ip;		/* failures allowed per window per IP */
	unsigned fail_per_user;		/* and per account */
	uint64_t fail_window_s;
	uint64_t fail_delay_ms;		/* delay before a failure is answered */
	uint64_t known_address_s;	/* exempt from the account budget */
	unsigned known_addresses_per_day;	/* new ones per account */
	unsigned fail_ipv6_prefix;	/* IPv6 budget per network */
	unsigned fail_table_size;	/* keys per failure table */
	uint64_t login_cache_ttl_s;	/* verified-login cache; 0: off */
	unsigned login_cache_size;	/* its entries per worker */
	bool plaintext_on_loopback;	/* allow AUTH without TLS on loopback */
	enum config_password_scheme password_scheme;	/* for new hashes */
	unsigned argon2_opslimit;	/* SETTING_UINT stores an unsigned */
	uint64_t argon2_memlimit;	/* bytes */
	unsigned password_min_length;	/* characters, herald user add/passwd */
};

/* [smtp]: the SMTP, submission and LMTP server (src/smtp/smtp-settings.c,
 * limits in docs/limits.md). */
struct config_smtp {
	uint64_t greeting_delay_ms;	/* wait before the banner (early talkers) */
	uint64_t command_timeout_ms;	/* RFC 5321 4.5.3.2.7 */
	uint64_t data_timeout_ms;	/* between data blocks */
	uint64_t message_size_limit;	/* bytes; advertised with SIZE */
	uint64_t message_memory_limit;	/* in memory; beyond: a temp file */
	uint64_t message_memory_total;	/* all sessions of a worker */
	unsigned max_recipients;	/* per message */
	unsigned recipient_overshoot_limit;	/* 452s before they count
						 * as errors */
	unsigned max_errors;		/* protocol errors before disconnect */
	unsigned max_line_length;	/* message text line, with CRLF */
	bool normalize_line_endings;	/* bare LF/CR -> CRLF instead of 550 */
	char *relay_networks;		/* CIDRs allowed to relay without AUTH */
	enum config_sender_check sender_check;
	bool check_from_header;		/* apply sender_check to From: too */
};

/* [smtp_client]: the outbound SMTP/LMTP client (src/smtp/
 * smtp-client-settings.c; RFC 5321 4.5.3.2 timeouts, limits in
 * docs/limits.md). Routing and relayhost settings are the queue's. */
struct config_smtp_client {
	char *helo_name;		/* NULL: hostname */
	char *ca_file;			/* NULL: the system trust store */
	char *bind_address;		/* IPv4 source address, or NULL */
	char *bind_address6;		/* IPv6 source address, or NULL */
	uint64_t connect_timeout_ms;
	uint64_t greeting_timeout_ms;	/* 4.5.3.2.1 */
	uint64_t helo_timeout_ms;	/* EHLO, STARTTLS, AUTH */
	uint64_t mail_timeout_ms;	/* 4.5.3.2.2 */
	uint64_t rcpt_timeout_ms;	/* 4.5.3.2.3 */
	uint64_t data_init_timeout_ms;	/* 4.5.3.2.4 */
	uint64_t data_block_timeout_ms;	/* 4.5.3.2.5 */
	uint64_t data_end_timeout_ms;	/* 4.5.3.2.6 */
	uint64_t tls_timeout_ms;	/* handshake */
	uint64_t quit_timeout_ms;	/* RSET, QUIT */
	unsigned reply_line_max;	/* octets of a reply line */
	unsigned reply_lines_max;	/* lines of one reply */
};

struct config_pop3 {
	uint64_t idle_timeout_ms;	/* RFC 1939 3: at least 10 minutes */
	unsigned line_max;		/* command line, with CRLF */
	unsigned auth_line_max;		/* SASL response line */
	unsigned max_errors;		/* bad commands before disconnect */
	bool apop;			/* offer APOP (needs {PLAIN} passwords) */
	uint64_t login_delay_s;		/* LOGIN-DELAY; 0: none */
	char *expire;			/* EXPIRE capability value */
};

struct config_imap {
	uint64_t idle_timeout_ms;	/* autologout once logged in, RFC 9051
					 * 5.4: at least 30 minutes */
	uint64_t login_timeout_ms;	/* before login */
	unsigned line_max;		/* command text, literals not counted */
	uint64_t literal_max;		/* literal data of one command */
	unsigned depth_max;		/* nested parenthesised lists */
	unsigned args_max;		/* arguments of one command */
	unsigned max_errors;		/* BAD commands in a row before BYE */
	unsigned auth_line_max;		/* AUTHENTICATE response line */
	unsigned mailbox_name_max;	/* octets of a mailbox name */
	unsigned mailboxes_max;		/* mailboxes of one account */
	unsigned max_sessions_per_user;	/* per worker; 0: no limit */
	unsigned keywords_max;		/* keywords one mailbox may know */
	/* METADATA (RFC 5464, imap-cmd-metadata.c) */
	uint64_t metadata_value_max;	/* octets of one value */
	unsigned metadata_mailbox_entries_max;	/* entries of a mailbox */
	unsigned metadata_account_entries_max;	/* entries of an account */
	uint64_t metadata_account_size_max;	/* octets of an account */
	unsigned search_keys_max;	/* keys in one SEARCH program */
	unsigned search_depth_max;	/* NOT/OR/parentheses nested */
	unsigned sort_max_messages;	/* SORT/THREAD by header keys */
	unsigned message_limit;		/* RFC 9738 MESSAGELIMIT */
	uint64_t inprogress_interval_ms;	/* RFC 9585 INPROGRESS */
	uint64_t idle_keepalive_ms;	/* "* OK Still here" in IDLE */
	unsigned notify_events_max;	/* NOTIFY responses due at once before
					 * [NOTIFICATIONOVERFLOW] */
	uint64_t fetch_header_max;	/* header read for HEADER.FIELDS */
	char *capabilities_hide;	/* words CAPABILITY leaves out */
	unsigned view_cache_messages;	/* messages in a worker's cached
					 * mailbox views; 0: no cache */
	uint64_t fetch_cache_size;	/* a worker's rendered ENVELOPE /
					 * BODYSTRUCTURE cache; 0: none */
	unsigned compress_level;	/* COMPRESS: zlib level 1-9 */
	unsigned compress_window_bits;	/* COMPRESS: deflate window, 9-15 */
	unsigned multisearch_mailboxes_max; /* mailboxes of one ESEARCH */
};

/* [bounce]: what a delivery status notification returns
 * (src/queue/dsn-settings.c). */
struct config_bounce {
	uint64_t return_size_max;	/* whole message up to this */
	uint64_t headers_max;		/* returned header cut beyond */
};

/* The keys of a free-form section, in file order ([transport]: one key
 * per domain). */
struct config_map {
	struct config_map_entry {
		char *key;	/* lower-cased */
		char *value;
	} *v;
	size_t n;
};

/* The value of key (case-insensitive) in map, or NULL. */
const char *config_map_get(const struct config_map *map, const char *key);

enum config_queue_family {
	CONFIG_QUEUE_FAMILY_ANY,	/* IPv6 addresses first, then IPv4 */
	CONFIG_QUEUE_FAMILY_IPV4,	/* IPv4 only */
	CONFIG_QUEUE_FAMILY_IPV6,	/* IPv6 only */
	CONFIG_QUEUE_FAMILY_PREFER_IPV4,	/* IPv4 first, then IPv6 */
};
/* TLS policy of an outbound connection (docs/outbound.md "TLS"). */
enum config_queue_tls {
	CONFIG_QUEUE_TLS_NONE,		/* never STARTTLS */
	CONFIG_QUEUE_TLS_MAY,		/* STARTTLS when offered, unverified */
	CONFIG_QUEUE_TLS_ENCRYPT,	/* STARTTLS required, verified */
	CONFIG_QUEUE_TLS_IMPLICIT,	/* TLS from the first byte (465) */
};

/* [queue], [transport], [tls_policy]: the queue runner (src/queue/,
 * docs/outbound.md). */
struct config_queue {
	bool enabled;			/* run the queue runner */
	uint64_t retry_min_s;		/* first retry interval */
	uint64_t retry_max_s;		/* intervals double up to this */
	uint64_t max_lifetime_s;	/* then the message bounces */
	uint64_t delay_warning_s;	/* 0: no delay warning */
	unsigned concurrency;		/* connections at once, all in all */
	unsigned destination_concurrency;	/* per destination */
	unsigned destination_rate;	/* messages/s per destination; 0: any */
	uint64_t connection_cache_ms;	/* an idle connection is kept */
	enum config_queue_family address_family;
	enum config_queue_tls tls;	/* towards MX hosts */
	char *relayhost;		/* "[host]:port" / "host"; NULL: MX */
	enum config_queue_tls relayhost_tls;
	char *relayhost_auth;		/* file: user line, password line */
	unsigned mx_addresses_max;	/* addresses tried per attempt */
	unsigned batch;			/* messages loaded per runner round */
	uint64_t batch_memory;		/* bodies of those held in memory */
	struct config_map transport;	/* domain -> "lmtp:...", "smtp:..." */
	struct config_map tls_policy;	/* domain -> none|may|encrypt */
};

struct config {
	char *path;		/* file it was loaded from, or NULL */
	/* "FILE:LINE: warning: ..." lines (renamed keys), or NULL; the
	 * caller shows them (config check on stderr, serve in its log) */
	char *warnings;
	/* top level */
	char *hostname;
	char *data_dir;
	char *user;		/* unprivileged user workers run as */
	char *group;
	unsigned workers;
	enum log_level log_level;
	uint64_t shutdown_timeout_ms;
	/* the connection layer (src/daemon/worker.c), every protocol */
	unsigned max_connections_per_ip;	/* per worker; 0: no limit */
	unsigned connections_ipv6_prefix;	/* IPv6 counts per network */
	unsigned max_connections;		/* per worker */
	unsigned max_open_files;	/* RLIMIT_NOFILE; 0: the hard limit */

	struct config_listen listen;
	struct config_tls tls;
	struct config_dns dns;
	struct config_store store;
	struct config_auth auth;
	struct config_smtp smtp;
	struct config_smtp_client smtp_client;
	struct config_pop3 pop3;
	struct config_imap imap;
	struct config_bounce bounce;
	struct config_queue queue;
	struct config_mailauth mailauth;
};

/* Types of a setting's value. */
enum setting_type {
	SETTING_STRING,		/* char *, NULL when unset and no default */
	SETTING_BOOL,		/* bool: yes/no, true/false, on/off, 1/0 */
	SETTING_UINT,		/* unsigned, within [min, max] */
	SETTING_SIZE,		/* uint64_t bytes; suffixes k, M, G (1024) */
	SETTING_DURATION,	/* uint64_t in the unit below; suffixes ms s m h d */
	SETTING_LISTEN,		/* struct listen_list */
	SETTING_ENUM,		/* an enum: the index in enum_values "a|b|c" */
	SETTING_NETWORKS,	/* char *, networks checked by lib/cidr.h */
};

enum duration_unit { DURATION_MS, DURATION_US, DURATION_S };

struct setting {
	const char *key;
	enum setting_type type;
	size_t offset;		/* into struct config */
	const char *def;	/* default as written in the file; NULL: unset */
	uint64_t min, max;	/* UINT/SIZE/DURATION bounds (in the stored unit) */
	enum duration_unit unit;	/* DURATION: unit stored */
	const char *enum_values;	/* ENUM: "a|b|c" */
	/* STRING: checks a non-empty value when it is loaded, so that a bad
	 * one is an error naming its line, not found when first used.
	 * Returns 0, or -1 with an allocated reason in *error_r. */
	int (*check)(const char *value, char **error_r);
	bool reloadable;	/* SIGHUP may change it without a restart */
	bool secret;		/* never printed by config show */
	const char *doc;	/* one or two sentences for docs/config.md */
};

struct setting_section {
	const char *name;	/* "" for keys before the first [section] */
	const struct setting *settings;
	size_t n_settings;
	const char *doc;
	/* A free-form section (no settings): every key goes into the
	 * struct config_map at map_offset, after map_check (may be NULL)
	 * accepted its value (0, or -1 with an allocated reason). */
	bool is_map;
	size_t map_offset;
	int (*map_check)(const char *key, const char *value, char **error_r);
	const char *map_example;	/* "key = value" line for the docs */
};

/* Adds a module's section (store/, sasl/, tls/, smtp/, pop3/: modules
 * above conf/) after the foundation sections of conf/settings.c;
 * registering the same section again does nothing. The top layer (cli/)
 * registers every module once at start, before any config is built: a
 * section that is not registered is an unknown section, and its defaults
 * are not applied. */
void config_register_section(const struct setting_section *sec);
/* Every section Herald knows, in documentation order: i < count. */
size_t config_section_count(void);
const struct setting_section *config_section_at(size_t i);

/* A key that moved: a file that still sets section/key is loaded as if it
 * set new_section/new_key, with a warning naming the line and the new
 * name (STYLE.md: deprecated keys warn and name their successor). Setting
 * both the old and the new key is a duplicate. */
struct setting_rename {
	const char *section, *key;
	const char *new_section, *new_key;
};
/* The rename of section/key (case-insensitive), or NULL. */
const struct setting_rename *config_renamed_key(const char *section,
						const char *key);
/* Every rename, for the docs: i < count. */
size_t config_rename_count(void);
const struct setting_rename *config_rename_at(size_t i);

/* Marks a protocol as served by this build (cli/ registers each one that
 * has a start handler). config_load() refuses a listener for a protocol
 * that is not registered, naming its line. */
void config_register_protocol(enum listen_proto proto);
bool config_protocol_is_available(enum listen_proto proto);

/* Largest config file read, in bytes: a file is read whole, and a device
 * or a runaway file given as the config must not be. */
#define CONFIG_FILE_MAX (1024 * 1024)

/* Loads defaults, then the file at path (a regular file of at most
 * CONFIG_FILE_MAX bytes; lines of any length, no NUL bytes). On error returns NULL and sets
 * *error_r to an allocated "FILE:LINE: message" string (caller frees);
 * every error in the file is reported, one per line. The result is freed
 * with config_free(). */
struct config *config_load(const char *path, char **error_r);
/* A config with only defaults (hostname from gethostname()). */
struct config *config_defaults(void);
/* Applies one key=value as if it appeared in section. Returns 0 or -1 with
 * an allocated message in *error_r. Used by the loader and by tests. */
int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, char **error_r);
/* Cross-key checks after loading (e.g. tls.cert without tls.key). On
 * error *key_r is the setting at fault as "section]key" ("]hostname" at
 * the top level), so that the loader can name its line. */
int config_validate(const struct config *cfg, const char **key_r,
		    char **error_r);
void config_free(struct config **cfg);

/* Prints the effective configuration (or only defaults) as INI. Secrets are
 * replaced by "(hidden)". */
void config_print(const struct config *cfg, struct buf *out);
/* Writes docs/config.md's body: every section and key with type, default,
 * bounds and doc. */
void config_print_docs(struct buf *out);

/* Path of a file under data_dir; caller frees. */
char *config_data_path(const struct config *cfg, const char *name);

/* Parses "host:port", "[v6]:port", "*:port" or "unix:/path" into *addr.
 * Returns 0 or -1 with a static message in *error_r. */
int listen_addr_parse(const char *text, struct listen_addr *addr,
		      const char **error_r);

/* Default config path: $HERALD_CONFIG, else /etc/herald/herald.conf. */
const char *config_default_path(void);

#endif
