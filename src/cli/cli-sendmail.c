/* SPDX-License-Identifier: MIT */
/*
 * herald sendmail (also run as `sendmail` and `mailq`): the
 * sendmail-compatible injector for cron, scripts and PHP mail(). It reads
 * a message on stdin (or an SMTP dialogue with -bs), completes its header
 * and stores it straight into the store with the delivery module: local
 * users' INBOX, the outbound queue for the rest. Exit codes are sysexits.h
 * values; docs/sendmail.md describes the flags.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli-sendmail-socket.h"
#include "conf/config.h"
#include "delivery/delivery.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "mail/address.h"
#include "mail/header-address.h"
#include "mailauth/dkim.h"
#include "smtp/smtp-data.h"
#include "smtp/smtp-params.h"
#include "smtp/smtp-parser.h"
#include "store/store.h"

/* RFC 5322 2.1.1: a line is at most 998 octets without its CRLF. */
#define SENDMAIL_MAX_HEADER_LINE 998
#define SENDMAIL_READ_CHUNK 65536

struct sendmail_opts {
	bool extract;		/* -t */
	bool ignore_dots;	/* -i, -oi */
	bool verbose;		/* -v */
	char mode;		/* -b: 'm' deliver, 'p' list queue, 's' SMTP */
	const char *from;	/* -f, -r */
	const char *full_name;	/* -F */
	const char *notify;	/* -N */
	const char *ret;	/* -R */
	const char *envid;	/* -V */
	const char *config;	/* -C (sendmail's config option), -c */
	char **args;		/* recipient arguments */
	size_t n_args;
};

struct sendmail_rcpt {
	char *address;		/* canonical envelope address */
	struct delivery_dest *dests;
	size_t n_dests;
	char *notify;		/* -N or NOTIFY=, normalised, or NULL */
	char *orcpt;		/* "rfc822;addr" from ORCPT=, or NULL */
};

struct sendmail {
	struct sendmail_opts o;
	struct config *cfg;
	struct store *store;	/* NULL when socket_path is set */
	char *socket_path;	/* the server's local submission socket */
	uid_t uid;
	char *login;		/* the invoking user's name */
	char *gecos_name;	/* their full name from passwd, or NULL */
	char *env_from;		/* canonical sender, "" for the null sender */
	bool from_given;	/* -f/-r or MAIL FROM */
	char *ret;		/* "FULL", "HDRS" or NULL */
	char *envid;
	char *notify;		/* normalised -N */
	struct sendmail_rcpt *rcpts;
	size_t n_rcpts;
};

static const char *sendmail_prog = "sendmail";

static void __attribute__((format(printf, 1, 2)))
sm_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(sendmail_prog, fmt, ap);
	va_end(ap);
}

static void
sm_usage(FILE *out)
{
	fprintf(out,
		"usage: sendmail [-t] [-i] [-f FROM] [-F NAME] [-C FILE] "
		"[-N DSN] [-R ret] [-V envid]\n"
		"                [-bm|-bp|-bs] [--] [RECIPIENT...]\n"
		"       mailq [-C FILE]\n\n"
		"Reads a message on standard input and delivers it: local "
		"users' INBOX,\nthe outbound queue for other domains. "
		"Recipients may be comma-separated.\n\n"
		"  -t        also take recipients from To, Cc and Bcc "
		"(Bcc is removed)\n"
		"  -i, -oi   a line with a single '.' does not end the "
		"message\n"
		"  -f, -r    envelope sender (default: USER@hostname)\n"
		"  -F NAME   full name for an added From header\n"
		"  -C FILE   Herald's config file (also -c; default "
		"$HERALD_CONFIG,\n"
		"            then /etc/herald/herald.conf)\n"
		"  -N DSN    never | success,failure,delay (kept when queued)\n"
		"  -R ret    full | hdrs;   -V envid   DSN envelope id\n"
		"  -bm       deliver (default); -bp list the queue (mailq);\n"
		"  -bs       SMTP dialogue on stdin/stdout\n"
		"  -v        print the log lines on standard error\n"
		"Ignored as sendmail does: -o*, -B*, -U, -m, -n, -h N, -L "
		"label, -X file.\n"
		"Root and Herald's user write the store; other users hand "
		"the message to the\nserver's [listen] sendmail socket. Exit "
		"status: sysexits.h (0 delivered,\n"
		"64 usage, 65 bad message, 67 unknown user, 75 try again "
		"later, 77 no permission).\n");
}

/* ---- options ---- */

/* Options that take a value, attached ("-fADDR") or as the next argument. */
static bool
sm_opt_has_value(char c)
{
	return strchr("BCFNRVXbcfhLorq", c) != NULL;
}

static int
sm_parse_args(int argc, char **argv, struct sendmail_opts *o)
{
	bool opts_done = false;

	o->mode = 'm';
	o->args = xcalloc((size_t)argc + 1, sizeof(*o->args));
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];

		if (opts_done || a[0] != '-' || a[1] == '\0') {
			o->args[o->n_args++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (strcmp(a, "--help") == 0) {
			sm_usage(stdout);
			return -2;
		}
		for (size_t k = 1; a[k] != '\0'; k++) {
			char c = a[k];
			const char *val = NULL;

			if (sm_opt_has_value(c)) {
				if (a[k + 1] != '\0') {
					val = a + k + 1;
				} else if (c == 'q') {
					val = "";	/* -q alone */
				} else if (i + 1 < argc) {
					val = argv[++i];
				} else {
					sm_error("option -%c needs a value", c);
					return -1;
				}
			}
			switch (c) {
			case 't':
				o->extract = true;
				break;
			case 'i':
				o->ignore_dots = true;
				break;
			case 'v':
				o->verbose = true;
				break;
			case 'U': case 'm': case 'n': case 'e':
				break;
			case 'B': case 'X': case 'L': case 'h':
				break;
			case 'o':
				if (strcmp(val, "i") == 0)
					o->ignore_dots = true;
				break;
			case 'b':
				if (strcmp(val, "m") == 0 || strcmp(val, "p") == 0 ||
				    strcmp(val, "s") == 0 || strcmp(val, "i") == 0) {
					o->mode = val[0];
					break;
				}
				if (val[0] == 'd' || val[0] == 'D')
					sm_error("-b%s: Herald's daemon is "
						 "'herald serve'", val);
				else
					sm_error("-b%s: mode not supported "
						 "(use -bm, -bp or -bs)", val);
				return -1;
			case 'q':
				sm_error("-q: the queue is run by 'herald "
					 "serve'");
				return -1;
			case 'C': case 'c':
				o->config = val;
				break;
			case 'f': case 'r':
				o->from = val;
				break;
			case 'F':
				o->full_name = val;
				break;
			case 'N':
				o->notify = val;
				break;
			case 'R':
				o->ret = val;
				break;
			case 'V':
				o->envid = val;
				break;
			default:
				sm_error("unknown option -%c; see '%s --help'",
					 c, sendmail_prog);
				return -1;
			}
			if (val != NULL)
				break;
		}
	}
	return 0;
}

/* -N: "never" or a comma list of success, failure, delay (RFC 3461 4.1). */
static char *
sm_notify_normalise(const char *s)
{
	struct buf out;
	bool never = false, others = false;
	const char *p = s;
	char *result;

	buf_init(&out);
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		static const char *const words[] = { "NEVER", "SUCCESS",
						     "FAILURE", "DELAY" };
		size_t w;

		for (w = 0; w < 4; w++) {
			if (strlen(words[w]) == n &&
			    strncasecmp(p, words[w], n) == 0)
				break;
		}
		if (w == 4) {
			buf_deinit(&out);
			return NULL;
		}
		if (w == 0)
			never = true;
		else
			others = true;
		if (out.len > 0)
			buf_putc(&out, ',');
		buf_puts(&out, words[w]);
		p += n;
		if (*p == ',')
			p++;
	}
	if (out.len == 0 || (never && others)) {
		buf_deinit(&out);
		return NULL;
	}
	result = buf_steal(&out);
	buf_deinit(&out);	/* buf_steal leaves a fresh buffer */
	return result;
}

/* RFC 3461 4.4: ENVID is printable ASCII, at most 100 characters. */
static bool
sm_envid_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SMTP_PARAMS_MAX_ENVID)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	}
	return true;
}

/* ---- addresses ---- */

/* Parses one address (bare local parts get "@hostname") into canonical
 * form; NULL with *error_r on failure. */
static char *
sm_canonical(const struct sendmail *sm, const char *in, const char **error_r)
{
	struct address_limits lim;
	struct address addr;
	enum address_error err;
	char *full, *out;

	if (strchr(in, '@') == NULL)
		full = xasprintf("%s@%s", in, sm->cfg->hostname);
	else
		full = xstrdup(in);
	address_limits_default(&lim);
	if (address_parse_mailbox(full, strlen(full), &lim, ADDRESS_PARSE_UTF8,
				  &addr, &err, error_r) < 0) {
		free(full);
		return NULL;
	}
	out = address_to_string(&addr);
	address_deinit(&addr);
	free(full);
	return out;
}

static bool
sm_has_rcpt(const struct sendmail *sm, const char *address)
{
	for (size_t i = 0; i < sm->n_rcpts; i++) {
		if (strcasecmp(sm->rcpts[i].address, address) == 0)
			return true;
	}
	return false;
}

/* Adds every address of an address list (a command-line argument or a
 * header value). Returns 0, or -1 after printing why. */
static int
sm_add_rcpt_list(struct sendmail *sm, const char *value, size_t len,
		 const char *what)
{
	struct header_address_limits lim;
	const char *error = NULL;
	char **addrs;
	size_t n;

	header_address_limits_default(&lim);
	lim.allow_no_domain = true;
	if (header_address_list_parse(value, len, &lim, &addrs, &n, NULL,
				      &error) < 0) {
		char vbuf[200];

		sm_error("%s: cannot read the address list %s: %s", what,
			 log_strn(vbuf, sizeof(vbuf), value, len), error);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char vbuf[200];
		char *canon = sm_canonical(sm, addrs[i], &error);

		if (canon == NULL) {
			sm_error("%s: bad address %s: %s", what,
				 log_str(vbuf, sizeof(vbuf), addrs[i]), error);
			header_address_list_free(&addrs, n);
			return -1;
		}
		if (sm_has_rcpt(sm, canon)) {
			free(canon);
			continue;
		}
		sm->rcpts = xreallocarray(sm->rcpts, sm->n_rcpts + 1,
					  sizeof(*sm->rcpts));
		memset(&sm->rcpts[sm->n_rcpts], 0, sizeof(*sm->rcpts));
		sm->rcpts[sm->n_rcpts++].address = canon;
	}
	header_address_list_free(&addrs, n);
	return 0;
}

static void
sm_rcpts_clear(struct sendmail *sm)
{
	for (size_t i = 0; i < sm->n_rcpts; i++) {
		free(sm->rcpts[i].address);
		free(sm->rcpts[i].notify);
		free(sm->rcpts[i].orcpt);
		delivery_dests_free(&sm->rcpts[i].dests, sm->rcpts[i].n_dests);
	}
	xfree(&sm->rcpts);
	sm->n_rcpts = 0;
}

/* ---- reading the message ---- */

/* Appends one line (without its end) to out with CRLF; a bare CR inside
 * the line becomes a line end of its own, so the store never holds one. */
static void
sm_put_line(struct buf *out, const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (line[i] == '\r')
			buf_puts(out, "\r\n");
		else
			buf_putc(out, line[i]);
	}
	buf_puts(out, "\r\n");
}

/* Reads stdin until EOF (or a "." line without -i) into out with CRLF
 * line ends. Returns 0 or a sysexits code after printing why. */
static int
sm_read_message(const struct sendmail *sm, struct buf *out)
{
	uint64_t max = sm->cfg->smtp.message_size_limit;
	struct buf line;
	char *chunk = xmalloc(SENDMAIL_READ_CHUNK);
	bool done = false;
	int ret = 0;

	buf_init(&line);
	while (!done) {
		ssize_t n = read(STDIN_FILENO, chunk, SENDMAIL_READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sm_error("reading the message: %s", strerror(errno));
			ret = EX_IOERR;
			break;
		}
		if (n == 0) {
			if (line.len > 0)
				sm_put_line(out, line.data, line.len);
			break;
		}
		if (memchr(chunk, '\0', (size_t)n) != NULL) {
			sm_error("the message contains a NUL byte; send "
				 "binary data encoded (base64)");
			ret = EX_DATAERR;
			break;
		}
		for (size_t off = 0; off < (size_t)n && !done;) {
			const char *nl = memchr(chunk + off, '\n',
						(size_t)n - off);
			size_t take = nl != NULL ? (size_t)(nl - chunk) - off
						 : (size_t)n - off;

			buf_append(&line, chunk + off, take);
			off += take;
			if (nl == NULL)
				break;
			off++;
			/* CRLF, and the CRs some tools double, end the line */
			while (line.len > 0 && line.data[line.len - 1] == '\r')
				buf_truncate(&line, line.len - 1);
			if (!sm->o.ignore_dots && line.len == 1 &&
			    line.data[0] == '.') {
				done = true;
				break;
			}
			sm_put_line(out, line.data, line.len);
			buf_reset(&line);
		}
		if (out->len + line.len > max) {
			sm_error("the message is larger than "
				 "message_size_limit (%llu bytes)",
				 (unsigned long long)max);
			ret = EX_DATAERR;
			break;
		}
	}
	buf_deinit(&line);
	free(chunk);
	return ret;
}

/* ---- completing the header ---- */

struct sm_field {
	size_t start, end;	/* [start, end) in the message, CRLFs included */
	size_t name_len;
};

static bool
sm_field_is(const char *msg, const struct sm_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	       strncasecmp(msg + f->start, name, f->name_len) == 0;
}

/* Length of a field name at line[0..len) followed by ':', or 0. */
static size_t
sm_field_name_len(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] >= 33 && line[i] <= 126 && line[i] != ':')
		i++;
	return i > 0 && i < len && line[i] == ':' ? i : 0;
}

/* Appends a display name: as atoms when it is plain, a quoted-string when
 * it has specials, an RFC 2047 encoded-word when it has non-ASCII. */
static void
sm_append_display_name(struct buf *out, const char *name)
{
	bool plain = true, ascii = true;

	for (const char *p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c >= 0x80)
			ascii = false;
		else if (!(c == ' ' || (c >= 'a' && c <= 'z') ||
			   (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			   strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL))
			plain = false;
	}
	if (!ascii) {
		buf_puts(out, "=?UTF-8?B?");
		base64_encode((const uint8_t *)name, strlen(name), out);
		buf_puts(out, "?=");
	} else if (plain) {
		buf_puts(out, name);
	} else {
		buf_putc(out, '"');
		for (const char *p = name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(out, '\\');
			buf_putc(out, *p);
		}
		buf_putc(out, '"');
	}
}

/* A full name with controls removed (it comes from argv or passwd). */
static char *
sm_clean_name(const char *name)
{
	struct buf b;
	char *out;

	buf_init(&b);
	for (const char *p = name; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			buf_putc(&b, *p);
	}
	out = buf_steal(&b);
	buf_deinit(&b);		/* buf_steal leaves a fresh buffer */
	return out;
}

/* Checks the header of msg (CRLF lines), takes the -t recipients, drops
 * Bcc and adds Date, Message-ID and From when missing. Writes the new
 * header section (with its empty line) to out and where msg's body
 * starts to *body_r (sm_splice() joins them). Returns 0 or a sysexits
 * code after printing why. */
static int
sm_prepare(struct sendmail *sm, const struct buf *msg, bool extract,
	   const char *id, time_t now, struct buf *out, size_t *body_r)
{
	struct sm_field *fields = NULL;
	size_t n_fields = 0, pos = 0, body = msg->len, lineno = 0;
	bool has_from = false, has_date = false,
	     has_msgid = false;
	int ret = 0;

	/* An mbox "From " line is not part of the message. */
	if (msg->len >= 5 && memcmp(msg->data, "From ", 5) == 0) {
		const char *nl = strstr(msg->data, "\r\n");

		pos = nl != NULL ? (size_t)(nl - msg->data) + 2 : msg->len;
	}
	while (pos < msg->len) {
		const char *line = msg->data + pos;
		const char *nl = strstr(line, "\r\n");
		size_t len = nl != NULL ? (size_t)(nl - line) : msg->len - pos;
		size_t next = pos + len + (nl != NULL ? 2 : 0);
		size_t name_len;

		lineno++;
		if (len == 0) {
			body = next;
			break;
		}
		if ((line[0] == ' ' || line[0] == '\t') && n_fields > 0) {
			fields[n_fields - 1].end = next;
		} else if ((name_len = sm_field_name_len(line, len)) > 0) {
			fields = xreallocarray(fields, n_fields + 1,
					       sizeof(*fields));
			fields[n_fields].start = pos;
			fields[n_fields].end = next;
			fields[n_fields].name_len = name_len;
			n_fields++;
		} else {
			body = pos;	/* not a header: the body starts here */
			break;
		}
		if (len > SENDMAIL_MAX_HEADER_LINE) {
			sm_error("header line %zu is longer than %d octets "
				 "(RFC 5322 2.1.1); fold it", lineno,
				 SENDMAIL_MAX_HEADER_LINE);
			ret = EX_DATAERR;
			goto out;
		}
		pos = next;
	}
	for (size_t i = 0; i < n_fields; i++) {
		const struct sm_field *f = &fields[i];
		bool bcc = sm_field_is(msg->data, f, "Bcc");

		if (extract && (bcc || sm_field_is(msg->data, f, "To") ||
				sm_field_is(msg->data, f, "Cc"))) {
			char what[16];
			size_t vstart = f->start + f->name_len + 1;

			snprintf(what, sizeof(what), "%.*s header",
				 (int)f->name_len, msg->data + f->start);
			if (sm_add_rcpt_list(sm, msg->data + vstart,
					     f->end - vstart, what) < 0) {
				ret = EX_DATAERR;
				goto out;
			}
		}
		has_from |= sm_field_is(msg->data, f, "From");
		has_date |= sm_field_is(msg->data, f, "Date");
		has_msgid |= sm_field_is(msg->data, f, "Message-ID");
		/* Bcc recipients stay hidden from the others */
		if (!bcc)
			buf_append(out, msg->data + f->start, f->end - f->start);
	}
	if (!has_from) {
		const char *name = sm->o.full_name;
		/* -f '<>': a From needs a domain (RFC 5322 addr-spec) */
		char *addr = sm->env_from[0] != '\0' ? xstrdup(sm->env_from)
			: xasprintf("MAILER-DAEMON@%s", sm->cfg->hostname);
		char *clean;

		if (name == NULL && !sm->from_given)
			name = sm->gecos_name;
		clean = sm_clean_name(name != NULL ? name : "");
		buf_puts(out, "From: ");
		if (clean[0] != '\0') {
			sm_append_display_name(out, clean);
			buf_printf(out, " <%s>\r\n", addr);
		} else {
			buf_printf(out, "%s\r\n", addr);
		}
		free(clean);
		free(addr);
	}
	if (!has_date) {
		buf_puts(out, "Date: ");
		delivery_date_format(now, out);
		buf_puts(out, "\r\n");
	}
	if (!has_msgid)
		buf_printf(out, "Message-ID: <%s.%lld@%s>\r\n", id,
			   (long long)now, sm->cfg->hostname);
	buf_puts(out, "\r\n");
	*body_r = body < msg->len ? body : msg->len;
out:
	free(fields);
	return ret;
}

/* Puts the completed header section hdr in front of the body, which
 * starts at offset body of msg, inside msg's own buffer: a large message
 * is not copied whole a second time. */
static void
sm_splice(struct buf *msg, size_t body, const struct buf *hdr)
{
	/* UNSAFE: body <= msg->len (sm_prepare), and after the reserve
	 * the buffer holds hdr->len + blen bytes and the NUL. */
	size_t blen = msg->len - body;

	if (hdr->len > body)
		buf_reserve(msg, hdr->len - body);
	memmove(msg->data + hdr->len, msg->data + body, blen);
	memcpy(msg->data, hdr->data, hdr->len);
	msg->len = hdr->len + blen;
	msg->data[msg->len] = '\0';
}

/* ---- delivery ---- */

/* Resolves one recipient. Returns 0, EX_NOUSER or EX_TEMPFAIL. */
static int
sm_resolve(struct sendmail *sm, struct sendmail_rcpt *r)
{
	const char *error = NULL;

	switch (delivery_resolve(sm->store, r->address, &r->dests, &r->n_dests,
				 &error)) {
	case DELIVERY_FOUND:
	case DELIVERY_NOT_LOCAL:
		return 0;
	case DELIVERY_UNKNOWN:
		return EX_NOUSER;
	case DELIVERY_TEMP:
	default:
		sm_error("<%s>: cannot look the recipient up: %s", r->address,
			 error != NULL ? error : "store failure");
		return EX_TEMPFAIL;
	}
}

/* Signs the message as the server signs a local user's (docs/mailauth.md
 * "Signing"): DKIM-Signature fields appended to out (after Received). The
 * `dkim signed|unsigned` line as the server logs it. */
static void
sm_dkim_sign(const struct sendmail *sm, const char *id, const struct buf *raw,
	     struct buf *out)
{
	const struct config_mailauth *d = &sm->cfg->mailauth;
	struct dkim_sign_params p = {
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED,
		.expire_s = d->dkim_expire_s, .header_max = (size_t)d->dkim_header_max,
	};
	struct dkim_sign_key **keys = NULL;
	struct dkim_signer *signer;
	const char *domain, *err;
	char *perr = NULL, dbuf[300];
	size_t n = 0;

	if (!d->dkim_sign)
		return;
	signer = dkim_signer_new(&p);
	dkim_signer_feed(signer, (const uint8_t *)raw->data, raw->len);
	dkim_signer_end_input(signer);
	domain = dkim_signer_from_domain(signer);
	if (domain == NULL) {
		log_info(id, "dkim", "unsigned",
			 "reason=\"no single From address\"");
	} else if (dkim_keystore_load_signing(sm->cfg->data_dir, domain,
					      time(NULL), &keys, &n,
					      &perr) < 0 || n == 0) {
		log_info(id, "dkim", "unsigned", "d=%s reason=\"%s\"",
			 log_str(dbuf, sizeof(dbuf), domain),
			 perr != NULL ? perr : "no active key");
	} else {
		struct buf sels;

		buf_init(&sels);
		for (size_t i = 0; i < n; i++) {
			dkim_signer_add_key(signer, keys[i]);
			buf_printf(&sels, "%s%s", i > 0 ? "," : "",
				   keys[i]->selector);
		}
		if (dkim_signer_finish(signer, out, &err) < 0)
			log_info(id, "dkim", "unsigned", "d=%s reason=\"%s\"",
				 domain, err);
		else
			log_info(id, "dkim", "signed", "d=%s s=%s", domain,
				 sels.data);
		buf_deinit(&sels);
	}
	free(perr);
	dkim_signer_free(&signer);
	dkim_sign_keys_free(&keys, n);
}

static void
sm_received(const struct sendmail *sm, const char *id, time_t now,
	    struct buf *out)
{
	struct delivery_received r = {
		.by_host = sm->cfg->hostname,
		.id = id,
		.when = now,
		.local = true,
		.local_uid = (unsigned)sm->uid,
	};

	delivery_received_format(&r, out);
}

/* Hands the prepared message to the server over its socket; the server
 * adds the Received header with the user id it sees on the socket. */
static int
sm_submit(struct sendmail *sm, const struct buf *data,
	  char id_r[LOG_ID_LEN + 1])
{
	struct sendmail_submit_rcpt *r = xcalloc(sm->n_rcpts, sizeof(*r));
	struct sendmail_submit m = {
		.prog = sendmail_prog,
		.socket_path = sm->socket_path,
		.timeout_s = (unsigned)(sm->cfg->smtp.data_timeout_ms / 1000),
		.env_from = sm->env_from,
		.dsn_ret = sm->ret,
		.dsn_envid = sm->envid,
		.rcpts = r,
		.n_rcpts = sm->n_rcpts,
		.data = data->data,
		.len = data->len,
	};
	int ret;

	for (size_t i = 0; i < sm->n_rcpts; i++) {
		r[i].address = sm->rcpts[i].address;
		r[i].notify = sm->rcpts[i].notify != NULL ? sm->rcpts[i].notify
							  : sm->notify;
		r[i].orcpt = sm->rcpts[i].orcpt;
	}
	ret = sendmail_submit(&m, id_r);
	if (ret == 0) {
		char fbuf[300];

		log_str(fbuf, sizeof(fbuf), sm->env_from);
		log_info(id_r, "sendmail", "accepted", "from=<%s> nrcpt=%zu "
			 "size=%zu uid=%u via=%s", fbuf, sm->n_rcpts,
			 data->len, (unsigned)sm->uid, sm->socket_path);
	}
	free(r);
	return ret;
}

/* Completes and stores one message for sm->rcpts (all resolved); raw
 * becomes the completed message. Returns 0 or a sysexits code; *id_r
 * gets the message id. */
static int
sm_deliver(struct sendmail *sm, struct buf *raw, bool extract,
	   char id_r[LOG_ID_LEN + 1])
{
	struct delivery_msg msg;
	struct delivery_rcpt *drcpts;
	struct buf hdr, received;
	size_t body = 0;
	time_t now = time(NULL);
	size_t delivered;
	int ret = 0;

	log_new_id(id_r);
	buf_init(&hdr);
	buf_init(&received);
	ret = sm_prepare(sm, raw, extract, id_r, now, &hdr, &body);
	if (ret != 0)
		goto out;
	sm_splice(raw, body, &hdr);
	if (sm->n_rcpts == 0) {
		sm_error(extract ? "no recipient addresses found in the "
				   "To, Cc, Bcc headers or arguments"
				 : "no recipients: give addresses or use -t");
		ret = extract ? EX_DATAERR : EX_USAGE;
		goto out;
	}
	if (sm->n_rcpts > sm->cfg->smtp.max_recipients) {
		sm_error("too many recipients (%zu; max_recipients is %u)",
			 sm->n_rcpts, sm->cfg->smtp.max_recipients);
		ret = EX_DATAERR;
		goto out;
	}
	if (sm->socket_path != NULL) {
		ret = sm_submit(sm, raw, id_r);
		goto out;
	}
	/* Nobody gets the message unless everyone can (a script sees one
	 * exit status and can correct and resend). */
	for (size_t i = 0; i < sm->n_rcpts; i++) {
		int r;

		if (sm->rcpts[i].dests != NULL)
			continue;
		r = sm_resolve(sm, &sm->rcpts[i]);
		if (r == EX_NOUSER) {
			sm_error("<%s>: unknown user: no such account or "
				 "alias", sm->rcpts[i].address);
			ret = EX_NOUSER;
		} else if (r != 0 && ret == 0) {
			ret = r;
		}
	}
	if (ret != 0)
		goto out;
	sm_received(sm, id_r, now, &received);
	sm_dkim_sign(sm, id_r, raw, &received);
	drcpts = xcalloc(sm->n_rcpts, sizeof(*drcpts));
	for (size_t i = 0; i < sm->n_rcpts; i++) {
		drcpts[i].address = sm->rcpts[i].address;
		drcpts[i].dsn_notify = sm->rcpts[i].notify != NULL
					       ? sm->rcpts[i].notify
					       : sm->notify;
		drcpts[i].dsn_orcpt = sm->rcpts[i].orcpt;
		drcpts[i].dests = sm->rcpts[i].dests;
		drcpts[i].n_dests = sm->rcpts[i].n_dests;
	}
	memset(&msg, 0, sizeof(msg));
	msg.id = id_r;
	/* A temporary failure stores nothing, so a retry (exit 75) makes no
	 * duplicate; a full mailbox fails only its own recipients. */
	msg.mode = DELIVERY_SKIP_OVER_QUOTA;
	msg.env_from = sm->env_from;
	msg.dsn_ret = sm->ret;
	msg.dsn_envid = sm->envid;
	msg.received = received.data;
	msg.data = (const uint8_t *)raw->data;
	msg.len = raw->len;
	msg.internal_date = (int64_t)now;
	msg.rcpts = drcpts;
	msg.n_rcpts = sm->n_rcpts;
	/* as the socket path does: BODY=8BITMIME for any 8-bit octet,
	 * SMTPUTF8 only for a UTF-8 address (a script's raw UTF-8 Subject
	 * should not keep its mail from servers without SMTPUTF8) */
	delivery_msg_set_needs(&msg, false, false,
			       utf8_has_non_ascii((const uint8_t *)raw->data,
						  raw->len),
			       false);
	delivered = delivery_run(sm->store, &msg);
	for (size_t i = 0; i < sm->n_rcpts; i++) {
		switch (drcpts[i].result) {
		case STORE_OK:
			break;
		case STORE_E_OVER_QUOTA:
			sm_error("<%s>: mailbox full (over quota)",
				 drcpts[i].address);
			if (ret == 0)
				ret = EX_CANTCREAT;
			break;
		default:
			sm_error("<%s>: temporary storage failure: %s; try "
				 "again later", drcpts[i].address,
				 drcpts[i].error != NULL ? drcpts[i].error
							 : "store error");
			ret = EX_TEMPFAIL;
			break;
		}
	}
	if (delivered > 0) {
		char fbuf[300];

		log_str(fbuf, sizeof(fbuf), sm->env_from);
		log_info(id_r, "sendmail", "accepted", "from=<%s> nrcpt=%zu "
			 "size=%zu uid=%u", fbuf, delivered, raw->len,
			 (unsigned)sm->uid);
		/* stderr is the caller's (cron mails it): the record of the
		 * injection goes to syslog, which journald keeps too */
		if (!sm->o.verbose)
			syslog(LOG_MAIL | LOG_INFO, "info %s sendmail accepted "
			       "from=<%s> nrcpt=%zu size=%zu uid=%u", id_r,
			       fbuf, delivered, raw->len, (unsigned)sm->uid);
	}
	if (ret != 0 && delivered > 0)
		sm_error("delivered to %zu of %zu recipients", delivered,
			 sm->n_rcpts);
	free(drcpts);
out:
	buf_deinit(&hdr);
	buf_deinit(&received);
	return ret;
}

/* ---- setting up ---- */

/* The store is the herald user's: root and that user open it themselves;
 * anyone else goes through the server's socket when there is one, else is
 * told plainly instead of failing deep inside SQLite. Returns 0 or a
 * sysexits code. */
static int
sm_check_access(struct sendmail *sm)
{
	const struct config *cfg = sm->cfg;
	const struct listen_list *sock = &cfg->listen.proto[PROTO_SENDMAIL];
	char *db;
	int ret = 0;

	if (geteuid() == 0)
		return 0;
	db = cfg->store.sqlite_path != NULL ? xstrdup(cfg->store.sqlite_path)
					    : config_data_path(cfg, "herald.db");
	if (access(cfg->data_dir, F_OK) != 0 && errno == ENOENT &&
	    sock->n == 0) {
		sm_error("data_dir %s does not exist; start Herald first "
			 "(herald serve) or run sendmail as root",
			 cfg->data_dir);
		ret = EX_CONFIG;
	} else if (access(cfg->data_dir, R_OK | W_OK | X_OK) != 0 ||
		   (access(db, F_OK) == 0 && access(db, R_OK | W_OK) != 0)) {
		if (sock->n > 0) {
			sm->socket_path = xstrdup(sock->v[0].path);
		} else {
			sm_error("permission denied: cannot write to the store "
				 "in %s as user %s; sendmail must run as root "
				 "or as Herald's user (%s), or the server must "
				 "listen for local submission ([listen] "
				 "sendmail in %s)", cfg->data_dir, sm->login,
				 cfg->user != NULL ? cfg->user : "herald",
				 cfg->path != NULL ? cfg->path : "the config");
			ret = EX_NOPERM;
		}
	}
	free(db);
	return ret;
}

static int
sm_setup(struct sendmail *sm)
{
	struct passwd *pw;
	int ret;

	const char *path = sm->o.config != NULL ? sm->o.config
						: config_default_path();

	if (geteuid() != 0 && access(path, R_OK) != 0 && errno == EACCES &&
	    access(SENDMAIL_SOCKET_DEFAULT, F_OK) == 0) {
		/* a config with secrets, kept from other users: the server
		 * at the documented socket knows the rest */
		char *host = sendmail_socket_hostname(SENDMAIL_SOCKET_DEFAULT);

		sm->cfg = config_defaults();
		sm->socket_path = xstrdup(SENDMAIL_SOCKET_DEFAULT);
		if (host != NULL) {
			free(sm->cfg->hostname);
			sm->cfg->hostname = host;
		}
	} else {
		char *err = NULL;

		sm->cfg = config_load(path, &err);
		if (sm->cfg == NULL) {
			/* scripts run sendmail with no config in mind: say
			 * who speaks and how to name the file */
			if (access(path, F_OK) != 0 && errno == ENOENT)
				sm_error("%s; name Herald's config with -C FILE "
					 "or HERALD_CONFIG", err);
			else
				sm_error("%s", err);
			free(err);
			return EX_CONFIG;
		}
	}
	sm->uid = getuid();
	pw = getpwuid(sm->uid);
	sm->login = pw != NULL ? xstrdup(pw->pw_name)
			       : xasprintf("uid%u", (unsigned)sm->uid);
	if (pw != NULL && pw->pw_gecos != NULL && pw->pw_gecos[0] != '\0') {
		size_t n = strcspn(pw->pw_gecos, ",");

		if (n > 0)
			sm->gecos_name = xstrndup(pw->pw_gecos, n);
	}
	if (sm->o.verbose)
		log_set_level(LOG_LEVEL_INFO);
	else
		openlog("herald", LOG_PID, LOG_MAIL);
	if (sm->socket_path == NULL) {
		ret = sm_check_access(sm);
		if (ret != 0)
			return ret;
	}
	if (sm->socket_path != NULL) {
		if (sm->o.mode == 'p') {
			sm_error("the queue can be listed by root and Herald's "
				 "user (%s) only",
				 sm->cfg->user != NULL ? sm->cfg->user
						       : "herald");
			return EX_NOPERM;
		}
		return 0;
	}
	sm->store = cli_open_store(sm->cfg);
	if (sm->store == NULL)
		return EX_TEMPFAIL;
	return 0;
}

static int
sm_set_sender(struct sendmail *sm, const char *from)
{
	const char *error = NULL;
	size_t len;

	free(sm->env_from);
	sm->env_from = NULL;
	if (from == NULL) {
		sm->env_from = sm_canonical(sm, sm->login, &error);
		if (sm->env_from == NULL) {
			sm_error("cannot make a sender address from the user "
				 "name '%s': %s; use -f", sm->login, error);
			return EX_USAGE;
		}
		return 0;
	}
	sm->from_given = true;
	len = strlen(from);
	if (len >= 2 && from[0] == '<' && from[len - 1] == '>') {
		from++;
		len -= 2;
	}
	if (len == 0) {
		sm->env_from = xstrdup("");
		return 0;
	}
	char *tmp = xstrndup(from, len);

	sm->env_from = sm_canonical(sm, tmp, &error);
	free(tmp);
	if (sm->env_from == NULL) {
		sm_error("bad sender address for -f: %s", error);
		return EX_USAGE;
	}
	return 0;
}

static void
sm_deinit(struct sendmail *sm)
{
	sm_rcpts_clear(sm);
	if (sm->store != NULL)
		store_close(&sm->store);
	config_free(&sm->cfg);
	free(sm->o.args);
	free(sm->socket_path);
	free(sm->login);
	free(sm->gecos_name);
	free(sm->env_from);
	free(sm->ret);
	free(sm->envid);
	free(sm->notify);
}

/* ---- mailq ---- */

static int
sm_mailq(struct sendmail *sm)
{
	return cli_queue_print_mailq(sm->store) < 0 ? EX_TEMPFAIL : EX_OK;
}

/* ---- -bs: SMTP on stdin/stdout ---- */

struct sm_smtp {
	struct sendmail *sm;
	struct smtp_parser *parser;
	struct smtp_data_reader *reader;	/* while in DATA */
	struct buf msg;
	bool in_mail;
	bool quit;
};

static void __attribute__((format(printf, 1, 2)))
sm_reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs("\r\n", stdout);
	fflush(stdout);
}

static void
sm_smtp_reset(struct sm_smtp *s)
{
	struct sendmail *sm = s->sm;

	s->in_mail = false;
	sm_rcpts_clear(sm);
	xfree(&sm->ret);
	xfree(&sm->envid);
	sm->from_given = false;
}

static void
sm_smtp_mail(struct sm_smtp *s, const struct smtp_command *c)
{
	struct sendmail *sm = s->sm;
	struct smtp_params_limits lim;
	struct smtp_mail_args args;
	struct smtp_arg_result res;

	if (s->in_mail) {
		sm_reply("503 5.5.1 Error: nested MAIL command");
		return;
	}
	smtp_params_limits_default(&lim);
	lim.allow_utf8_without_param = true;
	if (smtp_mail_args_parse(c->arg, c->arg_len, &lim, &args, &res) < 0) {
		sm_reply("501 5.5.4 %s", res.message);
	} else if (args.size > sm->cfg->smtp.message_size_limit) {
		sm_reply("552 5.3.4 Message size exceeds fixed limit");
	} else {
		free(sm->env_from);
		sm->env_from = address_to_string(&args.from); /* "" for <> */
		free(sm->ret);
		sm->ret = args.ret == SMTP_RET_FULL   ? xstrdup("FULL")
			  : args.ret == SMTP_RET_HDRS ? xstrdup("HDRS")
						      : NULL;
		free(sm->envid);
		sm->envid = args.envid != NULL ? xstrdup(args.envid) : NULL;
		sm->from_given = true;
		s->in_mail = true;
		sm_reply("250 2.1.0 Ok");
	}
	smtp_mail_args_deinit(&args);
	smtp_arg_result_deinit(&res);
}

static void
sm_smtp_rcpt(struct sm_smtp *s, const struct smtp_command *c)
{
	struct sendmail *sm = s->sm;
	struct smtp_params_limits lim;
	struct smtp_rcpt_args args;
	struct smtp_arg_result res;
	struct sendmail_rcpt r;
	const char *error = NULL;
	char *addr;
	int ret;

	if (!s->in_mail) {
		sm_reply("503 5.5.1 Error: need MAIL command");
		return;
	}
	smtp_params_limits_default(&lim);
	lim.allow_utf8_without_param = true;
	if (smtp_rcpt_args_parse(c->arg, c->arg_len, &lim, true, &args,
				 &res) < 0) {
		sm_reply("501 5.5.4 %s", res.message);
		goto out;
	}
	if (sm->n_rcpts >= sm->cfg->smtp.max_recipients) {
		sm_reply("452 4.5.3 Error: too many recipients");
		goto out;
	}
	addr = address_to_string(&args.to);
	memset(&r, 0, sizeof(r));
	r.address = sm_canonical(sm, addr, &error);
	free(addr);
	if (r.address == NULL) {
		sm_reply("501 5.1.3 Bad recipient address syntax");
		goto out;
	}
	if (sm_has_rcpt(sm, r.address)) {
		free(r.address);
		sm_reply("250 2.1.5 Ok");
		goto out;
	}
	ret = sm_resolve(sm, &r);
	if (ret == EX_NOUSER) {
		sm_reply("550 5.1.1 <%s>: Recipient address rejected: User "
			 "unknown", r.address);
		free(r.address);
		goto out;
	}
	if (ret != 0) {
		sm_reply("451 4.3.0 <%s>: Temporary lookup failure",
			 r.address);
		free(r.address);
		goto out;
	}
	if (args.notify != 0) {
		struct buf nb;

		buf_init(&nb);
		smtp_notify_append(args.notify, &nb);
		r.notify = buf_steal(&nb);
		buf_deinit(&nb);
	}
	if (args.orcpt_addr != NULL)
		r.orcpt = xasprintf("%s;%s", args.orcpt_type != NULL
						     ? args.orcpt_type
						     : "rfc822",
				    args.orcpt_addr);
	sm->rcpts = xreallocarray(sm->rcpts, sm->n_rcpts + 1,
				  sizeof(*sm->rcpts));
	sm->rcpts[sm->n_rcpts++] = r;
	sm_reply("250 2.1.5 Ok");
out:
	smtp_rcpt_args_deinit(&args);
	smtp_arg_result_deinit(&res);
}

static void
sm_smtp_data_end(struct sm_smtp *s)
{
	unsigned errors = smtp_data_reader_errors(s->reader);
	char id[LOG_ID_LEN + 1];
	int ret;

	smtp_data_reader_free(&s->reader);
	if (errors & SMTP_DATA_ERR_TOO_BIG) {
		sm_reply("552 5.3.4 Error: message size exceeds fixed maximum "
			 "message size");
	} else if (errors != 0) {
		sm_reply("550 5.6.0 Error: %s", smtp_data_error_str(errors));
	} else {
		ret = sm_deliver(s->sm, &s->msg, false, id);
		if (ret == 0)
			sm_reply("250 2.0.0 Ok: queued as %s", id);
		else if (ret == EX_TEMPFAIL)
			sm_reply("451 4.3.0 Error: temporary storage failure, "
				 "try again later");
		else if (ret == EX_CANTCREAT)
			sm_reply("552 5.2.2 Error: mailbox full: over quota");
		else
			sm_reply("550 5.6.0 Error: message refused (see "
				 "standard error)");
	}
	buf_reset(&s->msg);
	sm_smtp_reset(s);
}

static void
sm_smtp_command(struct sm_smtp *s, const char *line, size_t len)
{
	struct sendmail *sm = s->sm;
	struct smtp_command c;

	smtp_command_parse(line, len, &c);
	switch (c.cmd) {
	case SMTP_CMD_HELO:
		sm_smtp_reset(s);
		sm_reply("250 %s", sm->cfg->hostname);
		break;
	case SMTP_CMD_EHLO:
		sm_smtp_reset(s);
		printf("250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n"
		       "250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n",
		       sm->cfg->hostname,
		       (unsigned long long)sm->cfg->smtp.message_size_limit);
		sm_reply("250 ENHANCEDSTATUSCODES");
		break;
	case SMTP_CMD_MAIL:
		sm_smtp_mail(s, &c);
		break;
	case SMTP_CMD_RCPT:
		sm_smtp_rcpt(s, &c);
		break;
	case SMTP_CMD_DATA: {
		struct smtp_data_limits lim;

		if (!s->in_mail) {
			sm_reply("503 5.5.1 Error: need MAIL command");
			break;
		}
		if (sm->n_rcpts == 0) {
			sm_reply("554 5.5.1 Error: no valid recipients");
			break;
		}
		smtp_data_limits_default(&lim);
		lim.max_message_size = sm->cfg->smtp.message_size_limit;
		/* body lines are not limited here; sm_prepare checks the
		 * header lines */
		lim.max_line_len = (size_t)lim.max_message_size + 1;
		lim.normalize_bare_eol = true;
		buf_reset(&s->msg);
		s->reader = smtp_data_reader_new_buf(&lim, &s->msg);
		sm_reply("354 End data with <CR><LF>.<CR><LF>");
		break;
	}
	case SMTP_CMD_RSET:
		sm_smtp_reset(s);
		sm_reply("250 2.0.0 Ok");
		break;
	case SMTP_CMD_NOOP:
		sm_reply("250 2.0.0 Ok");
		break;
	case SMTP_CMD_QUIT:
		sm_reply("221 2.0.0 Bye");
		s->quit = true;
		break;
	case SMTP_CMD_VRFY:
		sm_reply("252 2.5.2 Send some mail, I'll try my best");
		break;
	case SMTP_CMD_HELP:
		sm_reply("214 2.0.0 HELO EHLO MAIL RCPT DATA RSET NOOP QUIT");
		break;
	case SMTP_CMD_UNKNOWN:
		sm_reply("500 5.5.2 Error: command not recognized");
		break;
	default:
		sm_reply("502 5.5.1 Error: command not implemented");
		break;
	}
}

static int
sm_smtp(struct sendmail *sm)
{
	struct smtp_parser_limits plim;
	struct sm_smtp s;
	uint8_t *chunk = xmalloc(SENDMAIL_READ_CHUNK);

	memset(&s, 0, sizeof(s));
	s.sm = sm;
	buf_init(&s.msg);
	smtp_parser_limits_default(&plim);
	plim.allow_bare_lf = true;	/* a person typing at a terminal */
	s.parser = smtp_parser_new(&plim);
	sm_reply("220 %s ESMTP Herald sendmail", sm->cfg->hostname);
	while (!s.quit) {
		ssize_t n = read(STDIN_FILENO, chunk, SENDMAIL_READ_CHUNK);
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		while (off < (size_t)n && !s.quit) {
			size_t used = 0;

			if (s.reader != NULL) {
				if (smtp_data_reader_feed(s.reader, chunk + off,
							  (size_t)n - off,
							  &used) ==
				    SMTP_DATA_DONE)
					sm_smtp_data_end(&s);
				off += used;
				continue;
			}
			switch (smtp_parser_feed(s.parser, chunk + off,
						 (size_t)n - off, &used)) {
			case SMTP_PARSER_LINE: {
				size_t len;
				const char *line = smtp_parser_line(s.parser,
								    &len);

				sm_smtp_command(&s, line, len);
				break;
			}
			case SMTP_PARSER_ERROR:
				sm_reply("500 5.5.2 Error: %s",
					 smtp_line_error_str(
						 smtp_parser_error(s.parser)));
				break;
			case SMTP_PARSER_NEED_MORE:
				break;
			}
			off += used;
		}
	}
	smtp_data_reader_free(&s.reader);
	smtp_parser_free(&s.parser);
	buf_deinit(&s.msg);
	free(chunk);
	return EX_OK;
}

/* ---- entry points ---- */

static int
sm_run(int argc, char **argv, bool mailq)
{
	struct sendmail sm;
	struct buf raw;
	char id[LOG_ID_LEN + 1];
	int ret;

	memset(&sm, 0, sizeof(sm));
	ret = sm_parse_args(argc, argv, &sm.o);
	if (ret < 0) {
		free(sm.o.args);
		return ret == -2 ? EX_OK : EX_USAGE;
	}
	if (mailq)
		sm.o.mode = 'p';
	if (sm.o.mode == 'i') {
		fprintf(stderr, "%s: aliases live in Herald's store; manage "
			"them with 'herald alias'\n", sendmail_prog);
		free(sm.o.args);
		return EX_OK;
	}
	buf_init(&raw);
	ret = sm_setup(&sm);
	if (ret != 0)
		goto out;
	if (sm.o.notify != NULL &&
	    (sm.notify = sm_notify_normalise(sm.o.notify)) == NULL) {
		sm_error("-N %s: use never, or a list of success, failure, "
			 "delay", sm.o.notify);
		ret = EX_USAGE;
		goto out;
	}
	if (sm.o.ret != NULL) {
		if (strcasecmp(sm.o.ret, "full") != 0 &&
		    strcasecmp(sm.o.ret, "hdrs") != 0) {
			sm_error("-R %s: use full or hdrs", sm.o.ret);
			ret = EX_USAGE;
			goto out;
		}
		sm.ret = xstrdup(strcasecmp(sm.o.ret, "full") == 0 ? "FULL"
								   : "HDRS");
	}
	if (sm.o.envid != NULL) {
		if (!sm_envid_is_valid(sm.o.envid)) {
			sm_error("-V: the envelope id must be 1-100 printable "
				 "ASCII characters");
			ret = EX_USAGE;
			goto out;
		}
		sm.envid = xstrdup(sm.o.envid);
	}
	if (sm.o.mode == 'p') {
		ret = sm_mailq(&sm);
		goto out;
	}
	ret = sm_set_sender(&sm, sm.o.from);
	if (ret != 0)
		goto out;
	if (sm.o.mode == 's') {
		xfree(&sm.env_from);
		ret = sm.socket_path != NULL
			      ? sendmail_socket_proxy(sendmail_prog,
						      sm.socket_path)
			      : sm_smtp(&sm);
		goto out;
	}
	for (size_t i = 0; i < sm.o.n_args; i++) {
		if (sm_add_rcpt_list(&sm, sm.o.args[i], strlen(sm.o.args[i]),
				     "recipient") < 0) {
			ret = EX_USAGE;
			goto out;
		}
	}
	if (sm.n_rcpts == 0 && !sm.o.extract) {
		sm_error("no recipients: give addresses or use -t");
		ret = EX_USAGE;
		goto out;
	}
	ret = sm_read_message(&sm, &raw);
	if (ret == 0)
		ret = sm_deliver(&sm, &raw, sm.o.extract, id);
out:
	buf_deinit(&raw);
	sm_deinit(&sm);
	fflush(stdout);
	return ret;
}

int
cli_sendmail(int argc, char **argv)
{
	sendmail_prog = "sendmail";
	return sm_run(argc, argv, false);
}

int
cli_mailq(int argc, char **argv)
{
	sendmail_prog = "mailq";
	return sm_run(argc, argv, true);
}
