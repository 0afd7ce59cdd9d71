/* SPDX-License-Identifier: MIT */
/*
 * The config loader: defaults from the settings tables, then the INI file
 * through inih. The file is read whole (a regular file, bounded) and
 * handed to inih line by line; inih does not report line numbers to the
 * handler, so that reader counts them itself: every error names FILE:LINE.
 */
#include "conf/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/array.h"
#include "lib/cidr.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "mail/address.h"

static const char *const proto_names[PROTO_COUNT] = {
	[PROTO_SMTP] = "smtp",
	[PROTO_SUBMISSION] = "submission",
	[PROTO_SUBMISSIONS] = "submissions",
	[PROTO_IMAP] = "imap",
	[PROTO_IMAPS] = "imaps",
	[PROTO_POP3] = "pop3",
	[PROTO_POP3S] = "pop3s",
	[PROTO_LMTP] = "lmtp",
	[PROTO_HTTP] = "http",
	[PROTO_SENDMAIL] = "sendmail",
};

const char *
listen_proto_name(enum listen_proto proto)
{
	return proto < PROTO_COUNT ? proto_names[proto] : "?";
}

bool
listen_proto_is_implicit_tls(enum listen_proto proto)
{
	return proto == PROTO_SUBMISSIONS || proto == PROTO_IMAPS ||
	       proto == PROTO_POP3S || proto == PROTO_HTTP;
}

const char *
config_default_path(void)
{
	const char *p = getenv("HERALD_CONFIG");

	return p != NULL && p[0] != '\0' ? p : "/etc/herald/herald.conf";
}

/* ---- listen addresses ---- */

int
listen_addr_parse(const char *text, struct listen_addr *addr,
		  const char **error_r)
{
	char host[256];
	const char *port, *colon;
	struct addrinfo hints, *res;
	size_t hostlen;
	char *end;
	unsigned long portnum;

	memset(addr, 0, sizeof(*addr));
	if (strncmp(text, "unix:", 5) == 0) {
		const char *path = text + 5;

		if (path[0] != '/') {
			*error_r = "a unix socket path must be absolute";
			return -1;
		}
		if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*error_r = "unix socket path too long";
			return -1;
		}
		addr->kind = LISTEN_UNIX;
		addr->path = xstrdup(path);
		addr->text = xstrdup(text);
		return 0;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':') {
			*error_r = "expected [IPv6]:port";
			return -1;
		}
		hostlen = (size_t)(close - text - 1);
		if (hostlen >= sizeof(host)) {
			*error_r = "address too long";
			return -1;
		}
		memcpy(host, text + 1, hostlen);
		host[hostlen] = '\0';
		port = close + 2;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL) {
			*error_r = "expected address:port";
			return -1;
		}
		hostlen = (size_t)(colon - text);
		if (hostlen >= sizeof(host) || memchr(text, ':', hostlen) != NULL) {
			*error_r = "IPv6 addresses are written [addr]:port";
			return -1;
		}
		memcpy(host, text, hostlen);
		host[hostlen] = '\0';
		port = colon + 1;
		if (strcmp(host, "*") == 0 || host[0] == '\0')
			memcpy(host, "0.0.0.0", sizeof("0.0.0.0"));
	}
	errno = 0;
	portnum = strtoul(port, &end, 10);
	if (port[0] == '\0' || *end != '\0' || errno != 0 || portnum > 65535 ||
	    !isdigit((unsigned char)port[0])) {
		*error_r = "bad port number";
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		*error_r = "not a numeric IP address (host names are not "
			   "accepted for listeners)";
		return -1;
	}
	memcpy(&addr->ss, res->ai_addr, res->ai_addrlen);
	addr->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	addr->kind = LISTEN_INET;
	addr->text = xstrdup(text);
	return 0;
}

static void
listen_list_clear(struct listen_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].text);
		free(l->v[i].path);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
parse_listen(const char *value, struct listen_list *out, char **error_r)
{
	char *copy = xstrdup(value), *p = copy, *tok;
	struct listen_list l = { 0 };

	while (p != NULL) {
		const char *err;

		tok = p;
		p = strchr(p, ',');
		if (p != NULL)
			*p++ = '\0';
		tok = trim(tok);
		if (tok[0] == '\0')
			continue;
		l.v = xreallocarray(l.v, l.n + 1, sizeof(*l.v));
		if (listen_addr_parse(tok, &l.v[l.n], &err) < 0) {
			*error_r = xasprintf("bad address '%s': %s", tok, err);
			listen_list_clear(&l);
			free(copy);
			return -1;
		}
		l.n++;
	}
	free(copy);
	listen_list_clear(out);
	*out = l;
	return 0;
}

/* ---- scalar values ---- */

static int
parse_u64(const char *s, uint64_t *v_r, const char **rest_r)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	*v_r = v;
	*rest_r = end;
	return 0;
}

static int
parse_bool(const char *s, bool *v_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v_r = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v_r = false;
			return 0;
		}
	}
	return -1;
}

static int
mul_check(uint64_t v, uint64_t m, uint64_t *r)
{
	if (m != 0 && v > UINT64_MAX / m)
		return -1;
	*r = v * m;
	return 0;
}

static int
parse_size(const char *s, uint64_t *v_r)
{
	const char *rest;
	uint64_t v, m = 1;

	if (parse_u64(s, &v, &rest) < 0)
		return -1;
	if (strcasecmp(rest, "") == 0 || strcasecmp(rest, "b") == 0)
		m = 1;
	else if (strcasecmp(rest, "k") == 0 || strcasecmp(rest, "kb") == 0)
		m = 1024;
	else if (strcasecmp(rest, "m") == 0 || strcasecmp(rest, "mb") == 0)
		m = 1024 * 1024;
	else if (strcasecmp(rest, "g") == 0 || strcasecmp(rest, "gb") == 0)
		m = 1024ULL * 1024 * 1024;
	else
		return -1;
	return mul_check(v, m, v_r);
}

/* Durations are written with a unit (ms, s, m, h, d); a bare number is
 * seconds, as in Postfix. The value is stored in the setting's unit. */
static int
parse_duration(const char *s, enum duration_unit unit, uint64_t *v_r)
{
	const char *rest;
	uint64_t v, us_per;

	if (parse_u64(s, &v, &rest) < 0)
		return -1;
	if (strcmp(rest, "ms") == 0)
		us_per = 1000;
	else if (strcmp(rest, "") == 0 || strcmp(rest, "s") == 0)
		us_per = 1000000;
	else if (strcmp(rest, "m") == 0 || strcmp(rest, "min") == 0)
		us_per = 60000000ULL;
	else if (strcmp(rest, "h") == 0)
		us_per = 3600000000ULL;
	else if (strcmp(rest, "d") == 0)
		us_per = 86400000000ULL;
	else if (strcmp(rest, "us") == 0)
		us_per = 1;
	else
		return -1;
	if (mul_check(v, us_per, &v) < 0)
		return -1;
	switch (unit) {
	case DURATION_US:
		break;
	case DURATION_MS:
		v /= 1000;
		break;
	case DURATION_S:
		v /= 1000000;
		break;
	}
	*v_r = v;
	return 0;
}

/* The index of the entry of "a|b|c" that equals v ignoring case; -1 when
 * there is none. */
static int
enum_find(const char *values, const char *v)
{
	size_t len = strlen(v);
	const char *p = values;

	for (int i = 0; *p != '\0'; i++) {
		const char *bar = strchr(p, '|');
		size_t n = bar != NULL ? (size_t)(bar - p) : strlen(p);

		if (n == len && strncasecmp(p, v, n) == 0)
			return i;
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	return -1;
}

/* Entry i of "a|b|c" (its length in *n_r), or NULL past the end. */
static const char *
enum_nth(const char *values, unsigned i, size_t *n_r)
{
	const char *p = values;

	for (; i > 0; i--) {
		p = strchr(p, '|');
		if (p == NULL)
			return NULL;
		p++;
	}
	*n_r = strcspn(p, "|");
	return p;
}

static const char *
unit_name(enum duration_unit u)
{
	return u == DURATION_MS ? "ms" : u == DURATION_US ? "us" : "s";
}

static int
setting_apply(struct config *cfg, const struct setting *s, const char *value,
	      char **error_r)
{
	void *field = (char *)cfg + s->offset;
	uint64_t v;
	bool b;

	switch (s->type) {
	case SETTING_STRING:
		if (s->check != NULL && value[0] != '\0') {
			char *err = NULL;

			if (s->check(value, &err) < 0) {
				*error_r = xasprintf("%s: %s", s->key, err);
				free(err);
				return -1;
			}
		}
		free(*(char **)field);
		*(char **)field = value[0] != '\0' ? xstrdup(value) : NULL;
		return 0;
	case SETTING_NETWORKS: {
		char *err = NULL;

		if (cidr_list_check(value, &err) < 0) {
			*error_r = xasprintf("%s: %s", s->key, err);
			free(err);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = value[0] != '\0' ? xstrdup(value) : NULL;
		return 0;
	}
	case SETTING_ENUM: {
		int i = enum_find(s->enum_values, value);

		if (i < 0) {
			*error_r = xasprintf("%s: '%s' is not one of %s", s->key,
					     value, s->enum_values);
			return -1;
		}
		/* the field is a C enum whose constants follow enum_values */
		*(unsigned *)field = (unsigned)i;
		return 0;
	}
	case SETTING_BOOL:
		if (parse_bool(value, &b) < 0) {
			*error_r = xasprintf("%s: '%s' is not yes or no",
					     s->key, value);
			return -1;
		}
		*(bool *)field = b;
		return 0;
	case SETTING_UINT:
		if (parse_u64(value, &v, &(const char *){ NULL }) < 0 ||
		    strspn(value, "0123456789") != strlen(value)) {
			*error_r = xasprintf("%s: '%s' is not a number", s->key,
					     value);
			return -1;
		}
		if (v < s->min || v > s->max) {
			*error_r = xasprintf("%s: %" PRIu64 " is out of range "
					     "%" PRIu64 "..%" PRIu64,
					     s->key, v, s->min, s->max);
			return -1;
		}
		*(unsigned *)field = (unsigned)v;
		return 0;
	case SETTING_SIZE:
		if (parse_size(value, &v) < 0) {
			*error_r = xasprintf("%s: '%s' is not a size (a number "
					     "with an optional k, M or G)",
					     s->key, value);
			return -1;
		}
		if (v < s->min || v > s->max) {
			*error_r = xasprintf("%s: %s is out of range %" PRIu64
					     "..%" PRIu64 " bytes",
					     s->key, value, s->min, s->max);
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	case SETTING_DURATION:
		if (parse_duration(value, s->unit, &v) < 0) {
			*error_r = xasprintf("%s: '%s' is not a duration (a "
					     "number with ms, s, m, h or d)",
					     s->key, value);
			return -1;
		}
		if (v < s->min || v > s->max) {
			*error_r = xasprintf("%s: %s is out of range %" PRIu64
					     "..%" PRIu64 "%s",
					     s->key, value, s->min, s->max,
					     unit_name(s->unit));
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	case SETTING_LISTEN: {
		char *err = NULL;

		if (parse_listen(value, (struct listen_list *)field, &err) < 0) {
			*error_r = xasprintf("%s: %s", s->key, err);
			free(err);
			return -1;
		}
		return 0;
	}
	}
	panic("setting type %d", (int)s->type);
}

const char *
config_map_get(const struct config_map *map, const char *key)
{
	for (size_t i = 0; i < map->n; i++)
		if (strcasecmp(map->v[i].key, key) == 0)
			return map->v[i].value;
	return NULL;
}

static const struct setting_section *
section_find(const char *name)
{
	for (size_t i = 0; i < config_section_count(); i++) {
		if (strcasecmp(config_section_at(i)->name, name) == 0)
			return config_section_at(i);
	}
	return NULL;
}

static const struct setting *
setting_find(const struct setting_section *sec, const char *key)
{
	for (size_t i = 0; i < sec->n_settings; i++) {
		if (strcasecmp(sec->settings[i].key, key) == 0)
			return &sec->settings[i];
	}
	return NULL;
}

/* A listener for a protocol this build has no server for would accept
 * connections and drop them; refuse it where it is written. */
static int
listen_check_available(const struct config *cfg, const struct setting *s,
		       char **error_r)
{
	size_t base = offsetof(struct config, listen.proto);
	enum listen_proto proto = (enum listen_proto)
		((s->offset - base) / sizeof(struct listen_list));
	const struct listen_list *l = (const struct listen_list *)
		((const char *)cfg + s->offset);

	if (l->n == 0 || config_protocol_is_available(proto))
		return 0;
	*error_r = xasprintf("%s: the %s protocol is not available in this "
			     "build", s->key, listen_proto_name(proto));
	return -1;
}

int
config_set(struct config *cfg, const char *section, const char *key,
	   const char *value, char **error_r)
{
	const struct setting_section *sec = section_find(section);
	const struct setting *s;

	if (sec == NULL) {
		*error_r = xasprintf("unknown section [%s]", section);
		return -1;
	}
	if (sec->is_map) {
		struct config_map *map = (struct config_map *)
			((char *)cfg + sec->map_offset);
		struct config_map_entry *e;

		if (key[0] == '\0') {
			*error_r = xstrdup("empty key");
			return -1;
		}
		if (config_map_get(map, key) != NULL) {
			*error_r = xasprintf("duplicate key '%s'", key);
			return -1;
		}
		if (sec->map_check != NULL &&
		    sec->map_check(key, value, error_r) < 0)
			return -1;
		map->v = xreallocarray(map->v, map->n + 1, sizeof(*map->v));
		e = &map->v[map->n++];
		e->key = xstrdup(key);
		for (char *p = e->key; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		e->value = xstrdup(value);
		return 0;
	}
	s = setting_find(sec, key);
	if (s == NULL) {
		if (section[0] == '\0')
			*error_r = xasprintf("unknown key '%s'", key);
		else
			*error_r = xasprintf("unknown key '%s' in [%s]", key,
					     section);
		return -1;
	}
	if (setting_apply(cfg, s, value, error_r) < 0)
		return -1;
	if (s->type == SETTING_LISTEN)
		return listen_check_available(cfg, s, error_r);
	return 0;
}

struct config *
config_defaults(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	char host[256];

	for (size_t i = 0; i < config_section_count(); i++) {
		const struct setting_section *sec = config_section_at(i);

		for (size_t j = 0; j < sec->n_settings; j++) {
			const struct setting *s = &sec->settings[j];
			char *err = NULL;

			if (s->def == NULL)
				continue;
			if (setting_apply(cfg, s, s->def, &err) < 0)
				panic("bad default for %s: %s", s->key, err);
		}
	}
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		cfg->hostname = xstrdup(host);
	} else {
		cfg->hostname = xstrdup("localhost");
	}
	return cfg;
}

/* ---- loading a file ---- */

struct seen_key {
	char *name;		/* "section]key" as written */
	int line;
};

struct load_ctx {
	struct config *cfg;
	const char *path;
	const char *text;	/* the whole file, checked by file_read() */
	size_t len, pos;
	bool at_line_start;
	int line;
	int section_line;	/* line of the last [section] header */
	bool section_reported;
	struct buf errors;
	struct buf warnings;
	/* keys seen, to refuse duplicates and to name the line of a value
	 * config_validate() refuses */
	ARRAY(struct seen_key) seen;
};

static void
load_error(struct load_ctx *ctx, int line, const char *msg)
{
	if (ctx->errors.len > 0)
		buf_putc(&ctx->errors, '\n');
	buf_printf(&ctx->errors, "%s:%d: %s", ctx->path, line, msg);
}

/* The whole file into *text_r (NUL-terminated, length *len_r). Only a
 * regular file is read, and only up to CONFIG_FILE_MAX: a directory, a
 * FIFO or /dev/urandom given as the config is refused, not read forever. */
static int
file_read(const char *path, char **text_r, size_t *len_r, char **error_r)
{
	struct stat st;
	struct buf b;
	int fd;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = xasprintf("%s: cannot open: %s", path,
				     strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = xasprintf("%s: cannot stat: %s", path,
				     strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_r = xasprintf("%s: not a regular file", path);
		close(fd);
		return -1;
	}
	buf_init(&b);
	for (;;) {
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("%s: cannot read: %s", path,
					     strerror(errno));
			break;
		}
		if (n == 0) {
			close(fd);
			*len_r = b.len;
			*text_r = buf_steal(&b);
			buf_deinit(&b);
			return 0;
		}
		if (b.len + (size_t)n > CONFIG_FILE_MAX) {
			*error_r = xasprintf("%s: larger than %u bytes", path,
					     (unsigned)CONFIG_FILE_MAX);
			break;
		}
		buf_append(&b, chunk, (size_t)n);
	}
	close(fd);
	buf_deinit(&b);
	return -1;
}

/* Lines that inih must not see: one with a NUL would be cut at it (the
 * rest dropped unseen); every such line is named. */
static void
check_lines(struct load_ctx *ctx)
{
	int line = 1;

	for (size_t i = 0; i < ctx->len; i++) {
		if (ctx->text[i] == '\n') {
			line++;
		} else if (ctx->text[i] == '\0') {
			const char *nl = memchr(ctx->text + i, '\n',
						ctx->len - i);

			load_error(ctx, line, "contains a NUL byte");
			/* one report per line */
			i = nl != NULL ? (size_t)(nl - ctx->text) - 1 : ctx->len;
		}
	}
}

/* fgets() over the file in memory. inih reads a line in pieces while it
 * grows its buffer (ini_allow_realloc), so a line is counted when its
 * first piece is handed out. */
static char *
load_reader(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	const char *start = ctx->text + ctx->pos, *nl;
	size_t n;

	if (ctx->pos >= ctx->len || num < 2)
		return NULL;
	nl = memchr(start, '\n', ctx->len - ctx->pos);
	n = nl != NULL ? (size_t)(nl - start) + 1 : ctx->len - ctx->pos;
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	memcpy(str, start, n);
	str[n] = '\0';
	if (ctx->at_line_start) {
		const char *p = str;

		ctx->line++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '[') {
			ctx->section_line = ctx->line;
			ctx->section_reported = false;
		}
	}
	ctx->pos += n;
	ctx->at_line_start = str[n - 1] == '\n';
	return str;
}

/* The longest line in octets, its newline included. */
static size_t
longest_line(const char *text, size_t len, int *line_r)
{
	size_t max = 0, start = 0;
	int line = 1;

	*line_r = 1;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n')
			continue;
		if (i - start + 1 > max) {
			max = i - start + 1;
			*line_r = line;
		}
		start = i + 1;
		line++;
	}
	return max;
}

/* Values may end with a "  # comment": inih only strips ';' comments. */
static void
strip_inline_comment(char *v)
{
	for (char *p = v; *p != '\0'; p++) {
		if (*p == '#' && p > v && isspace((unsigned char)p[-1])) {
			*p = '\0';
			break;
		}
	}
}

static int
load_handler(void *user, const char *section, const char *name,
	     const char *value)
{
	struct load_ctx *ctx = user;
	const struct setting_rename *rename;
	char *v, *err = NULL, *seen;

	if (section_find(section) == NULL) {
		/* reported once, at the header's line */
		if (!ctx->section_reported) {
			err = xasprintf("unknown section [%s]", section);
			load_error(ctx, ctx->section_line, err);
			free(err);
			ctx->section_reported = true;
		}
		return 1;
	}
	if (name == NULL)
		return 1;
	rename = config_renamed_key(section, name);
	if (rename != NULL) {
		if (ctx->warnings.len > 0)
			buf_putc(&ctx->warnings, '\n');
		buf_printf(&ctx->warnings, "%s:%d: warning: %s%s%s%s is now "
			   "%s%s%s%s; the old name still works but will go",
			   ctx->path, ctx->line,
			   section[0] != '\0' ? "[" : "", section,
			   section[0] != '\0' ? "] " : "", name,
			   rename->new_section[0] != '\0' ? "[" : "",
			   rename->new_section,
			   rename->new_section[0] != '\0' ? "] " : "top-level ",
			   rename->new_key);
		section = rename->new_section;
		name = rename->new_key;
	}
	v = xstrdup(value);
	strip_inline_comment(v);
	seen = xasprintf("%s]%s", section, name);
	for (size_t i = 0; i < array_len(&ctx->seen); i++) {
		if (strcasecmp(array_idx(&ctx->seen, i)->name, seen) == 0) {
			err = xasprintf("duplicate key '%s'", name);
			break;
		}
	}
	if (err == NULL) {
		array_append(&ctx->seen, &((struct seen_key){
			.name = seen, .line = ctx->line }));
		seen = NULL;
		(void)config_set(ctx->cfg, section, name, trim(v), &err);
	}
	free(seen);
	if (err != NULL) {
		load_error(ctx, ctx->line, err);
		free(err);
	}
	free(v);
	return 1;
}

/* The line that set key ("section]name"), or 0 when the file did not. */
static int
seen_line(struct load_ctx *ctx, const char *key)
{
	for (size_t i = 0; key != NULL && i < array_len(&ctx->seen); i++) {
		if (strcasecmp(array_idx(&ctx->seen, i)->name, key) == 0)
			return array_idx(&ctx->seen, i)->line;
	}
	return 0;
}

struct config *
config_load(const char *path, char **error_r)
{
	struct load_ctx ctx = { 0 };
	char *text, *err = NULL;
	const char *key;
	size_t len;
	int rc, long_line;

	if (file_read(path, &text, &len, error_r) < 0)
		return NULL;
	ctx.cfg = config_defaults();
	ctx.cfg->path = xstrdup(path);
	ctx.path = path;
	ctx.text = text;
	ctx.len = len;
	ctx.at_line_start = true;
	buf_init(&ctx.errors);
	buf_init(&ctx.warnings);
	/* inih's line buffer is fixed (200 bytes) unless it may grow: a
	 * longer line was read as several, and the tail of a comment became a
	 * live setting. Let it grow past the largest file we read; should a
	 * build ignore these switches, the check below refuses the line
	 * instead of letting it split. */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONFIG_FILE_MAX + 3;
	if (longest_line(text, len, &long_line) + 2 > (size_t)ini_max_line)
		load_error(&ctx, long_line, "line too long");
	check_lines(&ctx);
	if (ctx.errors.len == 0) {
		rc = ini_parse_stream(load_reader, &ctx, load_handler, &ctx);
		if (rc > 0)
			load_error(&ctx, rc, "syntax error (expected key = "
					     "value or [section])");
		else if (rc < 0)
			load_error(&ctx, 0, "cannot parse file");
	}
	free(text);
	if (ctx.errors.len == 0 && config_validate(ctx.cfg, &key, &err) < 0) {
		int line = seen_line(&ctx, key);

		/* a default (hostname from gethostname()) has no line */
		if (line > 0)
			load_error(&ctx, line, err);
		else
			buf_printf(&ctx.errors, "%s: %s", path, err);
		free(err);
	}
	for (size_t i = 0; i < array_len(&ctx.seen); i++)
		free(array_idx(&ctx.seen, i)->name);
	array_free(&ctx.seen);
	if (ctx.errors.len > 0) {
		*error_r = buf_steal(&ctx.errors);
		buf_deinit(&ctx.errors);
		buf_deinit(&ctx.warnings);
		config_free(&ctx.cfg);
		return NULL;
	}
	buf_deinit(&ctx.errors);
	if (ctx.warnings.len > 0)
		ctx.cfg->warnings = buf_steal(&ctx.warnings);
	buf_deinit(&ctx.warnings);
	return ctx.cfg;
}

/* An ASCII host name, at most 253 octets as written in DNS. */
static bool
hostname_is_valid(const char *h)
{
	return strlen(h) <= 253 && address_domain_is_valid(h, false);
}

int
config_validate(const struct config *cfg, const char **key_r,
		char **error_r)
{
	*key_r = NULL;
	if (cfg->hostname == NULL || !hostname_is_valid(cfg->hostname)) {
		*key_r = "]hostname";
		*error_r = xasprintf("hostname '%s' is not a valid host name",
				     cfg->hostname != NULL ? cfg->hostname : "");
		return -1;
	}
	if (cfg->data_dir == NULL || cfg->data_dir[0] != '/') {
		*key_r = "]data_dir";
		*error_r = xstrdup("data_dir must be an absolute path");
		return -1;
	}
	if ((cfg->tls.cert == NULL) != (cfg->tls.key == NULL)) {
		*key_r = cfg->tls.cert != NULL ? "tls]cert" : "tls]key";
		*error_r = xstrdup("[tls] cert and key must be set together");
		return -1;
	}
	for (size_t i = 0; i < cfg->listen.proto[PROTO_SENDMAIL].n; i++) {
		const struct listen_addr *a =
			&cfg->listen.proto[PROTO_SENDMAIL].v[i];

		if (a->kind != LISTEN_UNIX) {
			*key_r = "listen]sendmail";
			*error_r = xasprintf("[listen] sendmail: %s: local "
					     "submission is a unix socket "
					     "only (unix:/path)", a->text);
			return -1;
		}
	}
	if (cfg->store.backend == CONFIG_STORE_MARIADB &&
	    cfg->store.mariadb_database == NULL) {
		*key_r = "store]mariadb_database";
		*error_r = xstrdup("[store] mariadb_database is required");
		return -1;
	}
	return 0;
}

void
config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;

	if (cfg == NULL)
		return;
	for (size_t i = 0; i < config_section_count(); i++) {
		const struct setting_section *sec = config_section_at(i);

		if (sec->is_map) {
			struct config_map *map = (struct config_map *)
				((char *)cfg + sec->map_offset);

			for (size_t j = 0; j < map->n; j++) {
				free(map->v[j].key);
				free(map->v[j].value);
			}
			free(map->v);
			memset(map, 0, sizeof(*map));
		}
		for (size_t j = 0; j < sec->n_settings; j++) {
			const struct setting *s = &sec->settings[j];
			void *field = (char *)cfg + s->offset;

			if (s->type == SETTING_STRING ||
			    s->type == SETTING_NETWORKS) {
				if (s->secret && *(char **)field != NULL)
					mem_free_secret((char **)field);
				else
					xfree((char **)field);
			} else if (s->type == SETTING_LISTEN) {
				listen_list_clear(field);
			}
		}
	}
	free(cfg->path);
	free(cfg->warnings);
	free(cfg);
	*cfgp = NULL;
}

char *
config_data_path(const struct config *cfg, const char *name)
{
	return xasprintf("%s/%s", cfg->data_dir, name);
}

/* ---- printing ---- */

static void
format_duration(struct buf *out, uint64_t v, enum duration_unit unit)
{
	uint64_t us = unit == DURATION_US ? v :
		      unit == DURATION_MS ? v * 1000 : v * 1000000;

	if (us == 0)
		buf_puts(out, "0s");
	else if (us % 86400000000ULL == 0)
		buf_printf(out, "%" PRIu64 "d", (uint64_t)(us / 86400000000ULL));
	else if (us % 3600000000ULL == 0)
		buf_printf(out, "%" PRIu64 "h", (uint64_t)(us / 3600000000ULL));
	else if (us % 60000000ULL == 0)
		buf_printf(out, "%" PRIu64 "m", (uint64_t)(us / 60000000ULL));
	else if (us % 1000000 == 0)
		buf_printf(out, "%" PRIu64 "s", us / 1000000);
	else if (us % 1000 == 0)
		buf_printf(out, "%" PRIu64 "ms", us / 1000);
	else
		buf_printf(out, "%" PRIu64 "us", us);
}

static void
format_size(struct buf *out, uint64_t v)
{
	if (v != 0 && v % (1024ULL * 1024 * 1024) == 0)
		buf_printf(out, "%" PRIu64 "G", (uint64_t)(v / (1024ULL * 1024 * 1024)));
	else if (v != 0 && v % (1024 * 1024) == 0)
		buf_printf(out, "%" PRIu64 "M", v / (1024 * 1024));
	else if (v != 0 && v % 1024 == 0)
		buf_printf(out, "%" PRIu64 "k", v / 1024);
	else
		buf_printf(out, "%" PRIu64, v);
}

static void
format_value(struct buf *out, const struct config *cfg, const struct setting *s)
{
	const void *field = (const char *)cfg + s->offset;

	switch (s->type) {
	case SETTING_STRING:
	case SETTING_NETWORKS: {
		const char *v = *(char *const *)field;

		if (v != NULL && s->secret)
			buf_puts(out, "(hidden)");
		else if (v != NULL)
			buf_puts(out, v);
		break;
	}
	case SETTING_ENUM: {
		size_t n;
		const char *v = enum_nth(s->enum_values,
					 *(const unsigned *)field, &n);

		if (v == NULL)
			panic("%s: enum value %u", s->key,
			      *(const unsigned *)field);
		buf_append(out, v, n);
		break;
	}
	case SETTING_BOOL:
		buf_puts(out, *(const bool *)field ? "yes" : "no");
		break;
	case SETTING_UINT:
		buf_printf(out, "%u", *(const unsigned *)field);
		break;
	case SETTING_SIZE:
		format_size(out, *(const uint64_t *)field);
		break;
	case SETTING_DURATION:
		format_duration(out, *(const uint64_t *)field, s->unit);
		break;
	case SETTING_LISTEN: {
		const struct listen_list *l = field;

		for (size_t i = 0; i < l->n; i++)
			buf_printf(out, "%s%s", i > 0 ? ", " : "", l->v[i].text);
		break;
	}
	}
}

void
config_print(const struct config *cfg, struct buf *out)
{
	for (size_t i = 0; i < config_section_count(); i++) {
		const struct setting_section *sec = config_section_at(i);

		if (sec->name[0] != '\0')
			buf_printf(out, "\n[%s]\n", sec->name);
		if (sec->is_map) {
			const struct config_map *map = (const struct config_map *)
				((const char *)cfg + sec->map_offset);

			for (size_t j = 0; j < map->n; j++)
				buf_printf(out, "%s = %s\n", map->v[j].key,
					   map->v[j].value);
		}
		for (size_t j = 0; j < sec->n_settings; j++) {
			buf_printf(out, "%s = ", sec->settings[j].key);
			format_value(out, cfg, &sec->settings[j]);
			buf_putc(out, '\n');
		}
	}
}

static const char *
type_name(const struct setting *s)
{
	switch (s->type) {
	case SETTING_STRING: return "string";
	case SETTING_NETWORKS: return "networks";
	case SETTING_BOOL: return "yes/no";
	case SETTING_UINT: return "number";
	case SETTING_SIZE: return "size";
	case SETTING_DURATION: return "duration";
	case SETTING_LISTEN: return "addresses";
	case SETTING_ENUM: return "one of";
	}
	return "?";
}

void
config_print_docs(struct buf *out)
{
	for (size_t i = 0; i < config_section_count(); i++) {
		const struct setting_section *sec = config_section_at(i);

		if (sec->name[0] == '\0')
			buf_puts(out, "## Top level\n\n");
		else
			buf_printf(out, "## [%s]\n\n", sec->name);
		buf_printf(out, "%s\n\n", sec->doc);
		if (sec->is_map) {
			buf_printf(out, "```\n[%s]\n%s\n```\n\n", sec->name,
				   sec->map_example != NULL ?
				   sec->map_example : "");
			continue;
		}
		buf_puts(out, "| key | type | default | reload | description |\n"
			      "|---|---|---|---|---|\n");
		for (size_t j = 0; j < sec->n_settings; j++) {
			const struct setting *s = &sec->settings[j];

			buf_printf(out, "| `%s` | %s", s->key, type_name(s));
			if (s->type == SETTING_ENUM) {
				/* a bare '|' would split the table cell */
				buf_putc(out, ' ');
				for (const char *e = s->enum_values; *e != '\0'; e++) {
					if (*e == '|')
						buf_puts(out, ", ");
					else
						buf_putc(out, *e);
				}
			}
			if (s->type == SETTING_UINT)
				buf_printf(out, " %" PRIu64 "..%" PRIu64,
					   s->min, s->max);
			buf_puts(out, " | ");
			if (s->def != NULL && s->def[0] != '\0')
				buf_printf(out, "`%s`", s->def);
			else
				buf_puts(out, "(unset)");
			buf_printf(out, " | %s | %s |\n",
				   s->reloadable ? "yes" : "restart", s->doc);
		}
		buf_putc(out, '\n');
	}
	if (config_rename_count() == 0)
		return;
	buf_puts(out, "## Renamed keys\n\n"
		      "A file that still uses an old name is read as if it used "
		      "the new one; `herald config check` and the start-up log "
		      "warn with its line. Setting both names is a duplicate.\n\n"
		      "| old | new |\n|---|---|\n");
	for (size_t i = 0; i < config_rename_count(); i++) {
		const struct setting_rename *r = config_rename_at(i);

		buf_printf(out, "| `[%s] %s` | `%s%s%s%s` |\n", r->section,
			   r->key, r->new_section[0] != '\0' ? "[" : "",
			   r->new_section,
			   r->new_section[0] != '\0' ? "] " : "", r->new_key);
	}
	buf_putc(out, '\n');
}
