/* SPDX-License-Identifier: MIT */
/* Config loader: defaults, every value type, FILE:LINE errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "mailauth/dmarc.h"
#include "lib/buf.h"
#include "lib/mem.h"

static char *
write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/herald-test-config-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static struct config *
load_text(const char *text, char **err_r)
{
	char *path = write_tmp(text);
	struct config *cfg;

	*err_r = NULL;
	cfg = config_load(path, err_r);
	unlink(path);
	if (*err_r != NULL) {
		/* replace the random path so tests can compare */
		struct buf b;
		const char *p = *err_r, *hit;

		buf_init(&b);
		while ((hit = strstr(p, path)) != NULL) {
			buf_append(&b, p, (size_t)(hit - p));
			buf_putc(&b, 'F');
			p = hit + strlen(path);
		}
		buf_puts(&b, p);
		free(*err_r);
		*err_r = buf_steal(&b);
		buf_deinit(&b);
	}
	free(path);
	return cfg;
}

/* Formatted text freed at the end of the test run (a few per test). */
static char *tmp_strings[16];
static size_t n_tmp_strings;

static const char *
xasprintf_tmp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *
xasprintf_tmp(const char *fmt, ...)
{
	va_list ap;
	char *s;

	assert_true(n_tmp_strings < sizeof(tmp_strings) / sizeof(*tmp_strings));
	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	tmp_strings[n_tmp_strings++] = s;
	return s;
}

static void
test_defaults(void **state)
{
	struct config *cfg = config_defaults();

	assert_string_equal(cfg->data_dir, "/var/lib/herald");
	assert_string_equal(cfg->user, "herald");
	assert_int_equal(cfg->shutdown_timeout_ms, 5000);
	assert_int_equal(cfg->tls.min_version, CONFIG_TLS_V1_2);
	assert_int_equal(cfg->store.backend, CONFIG_STORE_SQLITE);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_int_equal(cfg->auth.password_scheme, CONFIG_PASSWORD_ARGON2ID);
	assert_int_equal(cfg->smtp.sender_check, CONFIG_SENDER_CHECK_ALIASES);
	assert_int_equal(cfg->auth.argon2_memlimit, 64 * 1024 * 1024);
	assert_int_equal(cfg->auth.fail_window_s, 600);
	assert_true(cfg->auth.plaintext_on_loopback);
	assert_int_equal(cfg->listen.proto[PROTO_SMTP].n, 0);
	assert_non_null(cfg->hostname);
	config_free(&cfg);
	assert_null(cfg);
}

static void
test_good_file(void **state)
{
	char *err;
	struct config *cfg = load_text(
		"# comment\n"
		"hostname = mail.example.test\n"
		"data_dir = /tmp/x   # inline comment\n"
		"workers = 3\n"
		"shutdown_timeout = 1500ms\n"
		"[listen]\n"
		"smtp = 127.0.0.1:2525, [::1]:2525\n"
		"lmtp = unix:/run/herald/lmtp\n"
		"[store]\n"
		"group_commit_wait = 2ms\n"
		"[auth]\n"
		"argon2_memlimit = 16M\n"
		"plaintext_on_loopback = off\n"
		"password_scheme = sha512-crypt\n", &err);

	assert_null(err);
	assert_non_null(cfg);
	assert_string_equal(cfg->hostname, "mail.example.test");
	assert_string_equal(cfg->data_dir, "/tmp/x");
	assert_int_equal(cfg->workers, 3);
	assert_int_equal(cfg->shutdown_timeout_ms, 1500);
	assert_int_equal(cfg->listen.proto[PROTO_SMTP].n, 2);
	assert_string_equal(cfg->listen.proto[PROTO_SMTP].v[1].text, "[::1]:2525");
	assert_int_equal(cfg->listen.proto[PROTO_SMTP].v[1].ss.ss_family, AF_INET6);
	assert_int_equal(cfg->listen.proto[PROTO_LMTP].v[0].kind, LISTEN_UNIX);
	assert_string_equal(cfg->listen.proto[PROTO_LMTP].v[0].path, "/run/herald/lmtp");
	assert_int_equal(cfg->store.group_commit_wait_us, 2000);
	assert_int_equal(cfg->auth.argon2_memlimit, 16 * 1024 * 1024);
	assert_false(cfg->auth.plaintext_on_loopback);
	assert_int_equal(cfg->auth.password_scheme, CONFIG_PASSWORD_SHA512_CRYPT);
	config_free(&cfg);
}

static const struct {
	const char *text;
	const char *error;
} bad_cases[] = {
	{ "hostname = a.b\nbogus = 1\n", "F:2: unknown key 'bogus'" },
	{ "[listen]\nsmtp = 1.2.3.4\n", "F:2: smtp: bad address '1.2.3.4': expected address:port" },
	{ "[listen]\nsmtp = localhost:25\n", "F:2: smtp: bad address 'localhost:25': not a numeric IP address (host names are not accepted for listeners)" },
	{ "[listen]\nimap = 127.0.0.1:99999\n", "F:2: imap: bad address '127.0.0.1:99999': bad port number" },
	{ "[nosuch]\nx = 1\n", "F:1: unknown section [nosuch]" },
	{ "workers = many\n", "F:1: workers: 'many' is not a number" },
	{ "workers = 1000\n", "F:1: workers: 1000 is out of range 0..256" },
	{ "shutdown_timeout = 5 years\n", "F:1: shutdown_timeout: '5 years' is not a duration (a number with ms, s, m, h or d)" },
	{ "log_level = loud\n", "F:1: log_level: 'loud' is not one of debug|info|warn|error" },
	{ "[auth]\nplaintext_on_loopback = maybe\n", "F:2: plaintext_on_loopback: 'maybe' is not yes or no" },
	{ "[auth]\nargon2_memlimit = 1k\n", "F:2: argon2_memlimit: 1k is out of range 8192..4294967296 bytes" },
	{ "workers = 1\nworkers = 2\n", "F:2: duplicate key 'workers'" },
	{ "this is not ini\n", "F:1: syntax error (expected key = value or [section])" },
	/* cross-key checks name the line of the value at fault */
	{ "data_dir = relative\n", "F:1: data_dir must be an absolute path" },
	{ "# x\nDATA_DIR =\n", "F:2: data_dir must be an absolute path" },
	{ "hostname = -bad-\n", "F:1: hostname '-bad-' is not a valid host name" },
	{ "[tls]\ncert = /a.pem\n", "F:2: [tls] cert and key must be set together" },
	{ "[tls]\n\nkey = /a.pem\n", "F:3: [tls] cert and key must be set together" },
	{ "[listen]\nsendmail = 127.0.0.1:25\n", "F:2: [listen] sendmail: 127.0.0.1:25: local submission is a unix socket only (unix:/path)" },
	{ "[store]\nbackend = mariadb\nmariadb_database =\n", "F:3: [store] mariadb_database is required" },
	{ "a = 1\n[listen]\nb = 2\n", "F:1: unknown key 'a'\nF:3: unknown key 'b' in [listen]" },
	/* checked when loaded, not only when a client connects */
	{ "[smtp]\nrelay_networks = 192.0.2.0/33, banana\n", "F:2: relay_networks: '192.0.2.0/33' is not a network: prefix longer than the address" },
	{ "[smtp]\nrelay_networks = 192.0.2.0/24, banana\n", "F:2: relay_networks: 'banana' is not a network: not an IP address" },
	{ "[pop3]\nexpire = 30 days\n", "F:2: expire: '30 days' is not NEVER or a number of days, optionally followed by USER (RFC 2449)" },
	{ "[tls]\nciphers = NOPE\n", "F:2: ciphers: 'NOPE' has no TLS 1.2 cipher OpenSSL knows" },
	{ "[tls]\nciphersuites = TLS_FAKE\n", "F:2: ciphersuites: 'TLS_FAKE' has no TLS 1.3 suite OpenSSL knows" },
	/* a listener nothing in this build would serve */
	{ "[listen]\nsmtp = 127.0.0.1:25\nhttp = 127.0.0.1:443\n", "F:3: http: the http protocol is not available in this build" },
};

static void
test_bad_files(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
		char *err;
		struct config *cfg = load_text(bad_cases[i].text, &err);

		if (cfg != NULL || err == NULL)
			fail_msg("case %zu loaded", i);
		if (strcmp(err, bad_cases[i].error) != 0)
			fail_msg("case %zu: got '%s' want '%s'", i, err,
				 bad_cases[i].error);
		free(err);
	}
}

/* A comment line longer than inih's 200-byte buffer was read as two
 * lines, and its tail became a live setting: an open relay. */
static void
test_long_lines(void **state)
{
	struct buf text;
	struct config *cfg;
	char *err;

	buf_init(&text);
	buf_puts(&text, "hostname = a.example\n[smtp]\n#");
	for (int i = 0; i < 198; i++)
		buf_putc(&text, 'x');
	buf_puts(&text, "relay_networks = 0.0.0.0/0\n");
	cfg = load_text(text.data, &err);
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_null(cfg->smtp.relay_networks);
	config_free(&cfg);

	for (int i = 0; i < 3; i++) {
		buf_putc(&text, '#');
		for (int j = 0; j < 5000; j++)
			buf_putc(&text, 'y');
		buf_puts(&text, " relay_networks = 0.0.0.0/0\n");
	}
	/* a long value is read whole */
	buf_puts(&text, "relay_networks = 10.0.0.1");
	for (int i = 2; i < 1000; i++)
		buf_printf(&text, ", 10.0.%d.%d", i / 256, i % 256);
	buf_puts(&text, "\n");
	cfg = load_text(text.data, &err);
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_non_null(cfg->smtp.relay_networks);
	assert_null(strstr(cfg->smtp.relay_networks, "0.0.0.0/0"));
	assert_non_null(strstr(cfg->smtp.relay_networks, "10.0.0.1, 10.0.0.2,"));
	assert_non_null(strstr(cfg->smtp.relay_networks, ", 10.0.3.231"));
	config_free(&cfg);

	/* lines are still counted right after long ones */
	buf_puts(&text, "bogus = 1\n");
	assert_null(load_text(text.data, &err));
	assert_string_equal(err, "F:8: unknown key 'bogus' in [smtp]");
	free(err);
	buf_deinit(&text);
}

static void
expect_file_error(const char *path, const char *want)
{
	char *err = NULL;

	assert_null(config_load(path, &err));
	assert_non_null(err);
	if (strcmp(err, want) != 0)
		fail_msg("%s: got '%s' want '%s'", path, err, want);
	free(err);
}

/* Only a regular file of bounded size is read: a directory, a device that
 * never ends or a FIFO without a writer are refused at once. */
static void
test_not_regular_files(void **state)
{
	char dir[] = "/tmp/herald-test-config-XXXXXX", *fifo, *big;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	expect_file_error(dir, xasprintf_tmp("%s: not a regular file", dir));
	expect_file_error("/dev/urandom", "/dev/urandom: not a regular file");
	fifo = xasprintf("%s/fifo.conf", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	expect_file_error(fifo, xasprintf_tmp("%s: not a regular file", fifo));
	big = xasprintf("%s/big.conf", dir);
	fp = fopen(big, "w");
	assert_non_null(fp);
	/* one byte more than the bound, in comment lines of 1 KiB */
	for (size_t i = 0; i < CONFIG_FILE_MAX / 1024; i++)
		fprintf(fp, "#%01022d\n", 0);
	fputc('\n', fp);
	fclose(fp);
	expect_file_error(big, xasprintf_tmp("%s: larger than 1048576 bytes",
					     big));
	unlink(fifo);
	unlink(big);
	rmdir(dir);
	free(fifo);
	free(big);
}

/* A NUL cut the line short for inih: the rest was never checked. */
static void
test_nul_bytes(void **state)
{
	static const char text[] = "hostname = a.example\n"
				   "[smtp]\nrelay_networks = 192.0.2.1\0, banana\n"
				   "max_errors = 5\n"
				   "sender_check = own\0\0x\0\n";
	char *path = xstrdup("/tmp/herald-test-config-XXXXXX"), *want;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
			 (ssize_t)sizeof(text) - 1);
	close(fd);
	want = xasprintf("%s:3: contains a NUL byte\n%s:5: contains a NUL byte",
			 path, path);
	expect_file_error(path, want);
	unlink(path);
	free(want);
	free(path);
}

/* Each enum setting's words, in order, and the C constants they must
 * become: config_set() stores the index in enum_values. */
static const struct {
	const char *section, *key, *value;
	size_t offset;
	unsigned want;
} enum_cases[] = {
	{ "", "log_level", "debug", offsetof(struct config, log_level), LOG_LEVEL_DEBUG },
	{ "", "log_level", "info", offsetof(struct config, log_level), LOG_LEVEL_INFO },
	{ "", "log_level", "warn", offsetof(struct config, log_level), LOG_LEVEL_WARN },
	{ "", "log_level", "ERROR", offsetof(struct config, log_level), LOG_LEVEL_ERROR },
	{ "tls", "min_version", "TLSv1.2", offsetof(struct config, tls.min_version), CONFIG_TLS_V1_2 },
	{ "tls", "min_version", "tlsv1.3", offsetof(struct config, tls.min_version), CONFIG_TLS_V1_3 },
	{ "store", "backend", "sqlite", offsetof(struct config, store.backend), CONFIG_STORE_SQLITE },
	{ "store", "backend", "mariadb", offsetof(struct config, store.backend), CONFIG_STORE_MARIADB },
	{ "auth", "password_scheme", "argon2id", offsetof(struct config, auth.password_scheme), CONFIG_PASSWORD_ARGON2ID },
	{ "auth", "password_scheme", "SHA512-CRYPT", offsetof(struct config, auth.password_scheme), CONFIG_PASSWORD_SHA512_CRYPT },
	{ "smtp", "sender_check", "aliases", offsetof(struct config, smtp.sender_check), CONFIG_SENDER_CHECK_ALIASES },
	{ "smtp", "sender_check", "own", offsetof(struct config, smtp.sender_check), CONFIG_SENDER_CHECK_OWN },
	{ "smtp", "sender_check", "Off", offsetof(struct config, smtp.sender_check), CONFIG_SENDER_CHECK_OFF },
	{ "queue", "address_family", "any", offsetof(struct config, queue.address_family), CONFIG_QUEUE_FAMILY_ANY },
	{ "queue", "address_family", "ipv4", offsetof(struct config, queue.address_family), CONFIG_QUEUE_FAMILY_IPV4 },
	{ "queue", "address_family", "ipv6", offsetof(struct config, queue.address_family), CONFIG_QUEUE_FAMILY_IPV6 },
	{ "queue", "address_family", "prefer-ipv4", offsetof(struct config, queue.address_family), CONFIG_QUEUE_FAMILY_PREFER_IPV4 },
	{ "queue", "tls", "none", offsetof(struct config, queue.tls), CONFIG_QUEUE_TLS_NONE },
	{ "queue", "tls", "may", offsetof(struct config, queue.tls), CONFIG_QUEUE_TLS_MAY },
	{ "queue", "tls", "encrypt", offsetof(struct config, queue.tls), CONFIG_QUEUE_TLS_ENCRYPT },
	{ "queue", "relayhost_tls", "implicit", offsetof(struct config, queue.relayhost_tls), CONFIG_QUEUE_TLS_IMPLICIT },
	{ "mailauth", "dmarc", "off", offsetof(struct config, mailauth.dmarc), CONFIG_DMARC_OFF },
	{ "mailauth", "dmarc", "record", offsetof(struct config, mailauth.dmarc), CONFIG_DMARC_RECORD },
	{ "mailauth", "dmarc", "enforce", offsetof(struct config, mailauth.dmarc), CONFIG_DMARC_ENFORCE },
	{ "mailauth", "dmarc_discovery", "psl", offsetof(struct config, mailauth.dmarc_discovery), DMARC_DISCOVERY_PSL },
	{ "mailauth", "dmarc_discovery", "treewalk", offsetof(struct config, mailauth.dmarc_discovery), DMARC_DISCOVERY_TREEWALK },
};

static void
test_enums(void **state)
{
	size_t n_enum_settings = 0;

	for (size_t i = 0; i < sizeof(enum_cases) / sizeof(*enum_cases); i++) {
		struct config *cfg = config_defaults();
		char *err = NULL;
		struct buf b;
		char *want;

		if (config_set(cfg, enum_cases[i].section, enum_cases[i].key,
			       enum_cases[i].value, &err) < 0)
			fail_msg("%s: %s", enum_cases[i].key, err);
		assert_int_equal(*(unsigned *)((char *)cfg + enum_cases[i].offset),
				 enum_cases[i].want);
		/* config show prints the word as the table spells it */
		buf_init(&b);
		config_print(cfg, &b);
		want = xasprintf("\n%s = ", enum_cases[i].key);
		const char *line = strstr(b.data, want);

		assert_non_null(line);
		line += strlen(want);
		assert_true(strncasecmp(line, enum_cases[i].value,
					strlen(enum_cases[i].value)) == 0);
		assert_int_equal(line[strlen(enum_cases[i].value)], '\n');
		free(want);
		buf_deinit(&b);
		config_free(&cfg);
	}
	/* every enum setting is in the table above */
	for (size_t i = 0; i < config_section_count(); i++) {
		const struct setting_section *sec = config_section_at(i);

		for (size_t j = 0; j < sec->n_settings; j++) {
			if (sec->settings[j].type != SETTING_ENUM)
				continue;
			n_enum_settings++;
			bool found = false;

			for (size_t k = 0; k < sizeof(enum_cases) / sizeof(*enum_cases); k++)
				found |= strcmp(enum_cases[k].key, sec->settings[j].key) == 0;
			if (!found)
				fail_msg("enum setting %s has no case", sec->settings[j].key);
		}
	}
	assert_int_equal(n_enum_settings, 10);
}

/* A key that moved keeps working, with a warning naming its line and its
 * new name; the old and the new name together are a duplicate. */
static void
test_renamed_key(void **state)
{
	struct config *cfg;
	char *err;

	(void)state;
	cfg = load_text("hostname = mail.example.test\n"
			"data_dir = /var/lib/herald\n"
			"[smtp]\n"
			"max_connections_per_ip = 7\n", &err);
	assert_non_null(cfg);
	assert_null(err);
	assert_int_equal(cfg->max_connections_per_ip, 7);
	assert_non_null(cfg->warnings);
	assert_non_null(strstr(cfg->warnings, ":4: warning: [smtp] "
			       "max_connections_per_ip is now top-level "
			       "max_connections_per_ip"));
	config_free(&cfg);

	cfg = load_text("hostname = mail.example.test\n"
			"max_connections_per_ip = 3\n"
			"[smtp]\n"
			"max_connections_per_ip = 7\n", &err);
	assert_null(cfg);
	assert_string_equal(err, "F:4: duplicate key 'max_connections_per_ip'");
	free(err);

	/* a file without old names carries no warnings */
	cfg = load_text("hostname = mail.example.test\n", &err);
	assert_non_null(cfg);
	assert_null(cfg->warnings);
	config_free(&cfg);
}

static void
test_missing_file(void **state)
{
	char *err = NULL;

	assert_null(config_load("/nonexistent/herald.conf", &err));
	assert_string_equal(err, "/nonexistent/herald.conf: cannot open: No such file or directory");
	free(err);
}

static void
test_print_roundtrip(void **state)
{
	struct config *cfg = config_defaults(), *cfg2;
	struct buf b;
	char *err, *path;

	config_set(cfg, "listen", "smtp", "127.0.0.1:25, [::1]:25", &err);
	config_set(cfg, "store", "mariadb_password", "s3cret", &err);
	buf_init(&b);
	config_print(cfg, &b);
	assert_non_null(strstr(b.data, "smtp = 127.0.0.1:25, [::1]:25\n"));
	assert_non_null(strstr(b.data, "mariadb_password = (hidden)\n"));
	assert_null(strstr(b.data, "s3cret"));
	assert_non_null(strstr(b.data, "shutdown_timeout = 5s\n"));
	assert_non_null(strstr(b.data, "argon2_memlimit = 64M\n"));
	/* what show prints (minus the secret) loads back */
	char *p = strstr(b.data, "mariadb_password = (hidden)\n");
	memmove(p, p + strlen("mariadb_password = (hidden)\n"),
		strlen(p + strlen("mariadb_password = (hidden)\n")) + 1);
	path = write_tmp(b.data);
	cfg2 = config_load(path, &err);
	if (cfg2 == NULL)
		fail_msg("%s", err);
	unlink(path);
	free(path);
	assert_int_equal(cfg2->listen.proto[PROTO_SMTP].n, 2);
	config_free(&cfg2);
	buf_deinit(&b);
	config_free(&cfg);
}

static void
test_docs_cover_every_key(void **state)
{
	struct buf b;

	buf_init(&b);
	config_print_docs(&b);
	for (size_t i = 0; i < config_section_count(); i++) {
		const struct setting_section *sec = config_section_at(i);

		for (size_t j = 0; j < sec->n_settings; j++) {
			char *k = xasprintf("| `%s` |", sec->settings[j].key);
			assert_non_null(strstr(b.data, k));
			assert_non_null(sec->settings[j].doc);
			free(k);
		}
	}
	buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_not_regular_files),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_renamed_key),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_docs_cover_every_key),
	};
	/* the sections and protocols of the modules, as herald's main() */
	cli_modules_register();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	for (size_t i = 0; i < n_tmp_strings; i++)
		free(tmp_strings[i]);
	return rc;
}
