/* SPDX-License-Identifier: MIT */
/* Structured one-line logging to stderr; see log.h. */
#include "lib/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/utf8.h"

static enum log_level log_min_level = LOG_LEVEL_INFO;
static int log_timestamps = -1;	/* -1: decide from JOURNAL_STREAM */

/* getpid() is a system call (glibc does not cache it); every log line
 * and id needs it. 0: not known yet; a fork() child forgets it. */
static pid_t log_pid_cached;
static pthread_once_t log_pid_once = PTHREAD_ONCE_INIT;

/* Lines an event-loop thread holds until the end of its loop turn
 * (log_hold). Each write(2) of them is whole lines and at most
 * LOG_HOLD_MAX bytes, so it stays atomic on a pipe (PIPE_BUF). */
#define LOG_HOLD_MAX 4096

struct log_held {
	bool on;
	bool kicked;		/* a flush at the end of this turn is due */
	void (*kick)(void *ctx, bool soon);
	void *ctx;
	size_t len;
	char data[LOG_HOLD_MAX];
};

static __thread struct log_held *log_held;

static void
log_pid_forget(void)
{
	__atomic_store_n(&log_pid_cached, 0, __ATOMIC_RELAXED);
	/* a forked child must not write its parent's held lines again,
	 * nor wake the parent's loop */
	if (log_held != NULL) {
		log_held->on = false;
		log_held->len = 0;
	}
}

static void
log_pid_init(void)
{
	pthread_atfork(NULL, NULL, log_pid_forget);
}

static pid_t
log_pid(void)
{
	pid_t pid = __atomic_load_n(&log_pid_cached, __ATOMIC_RELAXED);

	if (pid == 0) {
		pthread_once(&log_pid_once, log_pid_init);
		pid = getpid();
		__atomic_store_n(&log_pid_cached, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

static const char *const log_level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

void
log_set_level(enum log_level level)
{
	log_min_level = level;
}

enum log_level
log_get_level(void)
{
	return log_min_level;
}

int
log_level_parse(const char *s, enum log_level *level_r)
{
	for (size_t i = 0; i < sizeof(log_level_names) / sizeof(*log_level_names); i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_set_timestamps(bool on)
{
	log_timestamps = on;
}

static void
log_write(const char *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(STDERR_FILENO, data + off, len - off);

		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

void
log_flush(void)
{
	struct log_held *h = log_held;

	if (h != NULL && h->len > 0) {
		log_write(h->data, h->len);
		h->len = 0;
	}
	if (h != NULL)
		h->kicked = false;
}

/* One whole line: held when this thread holds lines and the line is
 * info or debug, else written at once after whatever is held. */
static void
log_write_line(const char *data, size_t len, enum log_level level,
	       bool later)
{
	struct log_held *h = log_held;

	if (h == NULL || !h->on || level > LOG_LEVEL_INFO ||
	    len > LOG_HOLD_MAX) {
		log_flush();
		log_write(data, len);
		return;
	}
	if (h->len + len > LOG_HOLD_MAX)
		log_flush();
	if (h->kick != NULL && !h->kicked) {
		/* a later line in an empty hold asks for the slow flush;
		 * one after it, or any other line, for this turn's */
		if (!later) {
			h->kicked = true;
			h->kick(h->ctx, true);
		} else if (h->len == 0) {
			h->kick(h->ctx, false);
		}
	}
	memcpy(h->data + h->len, data, len);
	h->len += len;
}

static void
log_write_buf(struct buf *b, enum log_level level)
{
	log_write_line(b->data, b->len, level, false);
}

void
log_hold(void (*kick)(void *ctx, bool soon), void *ctx)
{
	/* the fork handler that drops held lines in a child */
	pthread_once(&log_pid_once, log_pid_init);
	if (log_held == NULL)
		log_held = calloc(1, sizeof(*log_held));
	if (log_held == NULL)
		return;		/* lines are simply written at once */
	log_flush();
	log_held->kick = kick;
	log_held->ctx = ctx;
	log_held->kicked = false;
	log_held->on = true;
}

void
log_release(void)
{
	log_flush();
	free(log_held);
	log_held = NULL;
}

/* The timestamp's seconds as text, per thread: a second holds many lines
 * (five per relayed message), and gmtime_r plus strftime cost more than
 * the rest of the prefix. */
struct log_ts_cache {
	time_t sec;
	bool valid;
	char text[24];		/* "YYYY-MM-DDTHH:MM:SS" */
	size_t len;
};

static __thread struct log_ts_cache log_ts_cache;

/* Writes the line's prefix ("2026-12-07T07:18:14.671Z herald[3006]: info ")
 * into out, which has room for LOG_PREFIX_MAX bytes; returns its length. */
#define LOG_PREFIX_MAX 96
static size_t
log_prefix_str(char *out, enum log_level level)
{
	size_t o = 0;
	const char *name;
	size_t nl;

	if (log_timestamps < 0)
		log_timestamps = getenv("JOURNAL_STREAM") == NULL;
	if (log_timestamps) {
		struct log_ts_cache *c = &log_ts_cache;
		struct timeval tv;
		unsigned ms;

		gettimeofday(&tv, NULL);
		if (!c->valid || c->sec != tv.tv_sec) {
			struct tm tm;

			gmtime_r(&tv.tv_sec, &tm);
			c->len = strftime(c->text, sizeof(c->text),
					  "%Y-%m-%dT%H:%M:%S", &tm);
			c->sec = tv.tv_sec;
			c->valid = true;
		}
		memcpy(out, c->text, c->len);
		o = c->len;
		ms = (unsigned)(tv.tv_usec / 1000);
		out[o++] = '.';
		out[o++] = (char)('0' + ms / 100);
		out[o++] = (char)('0' + ms / 10 % 10);
		out[o++] = (char)('0' + ms % 10);
		out[o++] = 'Z';
		out[o++] = ' ';
	}
	memcpy(out + o, "herald[", 7);
	o += 7;
	o += buf_uint_to_dec(out + o, (uint64_t)log_pid());
	memcpy(out + o, "]: ", 3);
	o += 3;
	name = log_level_names[level];
	nl = strlen(name);
	memcpy(out + o, name, nl);
	o += nl;
	out[o++] = ' ';
	return o;
}

static void
log_prefix(struct buf *b, enum log_level level)
{
	char p[LOG_PREFIX_MAX];

	buf_append(b, p, log_prefix_str(p, level));
}

/* A line is formatted on the stack when it fits (nearly all do): one
 * vsnprintf pass and no allocation. A struct buf starts at 64 bytes, so a
 * typical 250-byte line was formatted twice (the first pass found it too
 * long) and cost a malloc, a realloc and a free. */
#define LOG_LINE_STACK 2048

static void
log_eventv(enum log_level level, bool later, const char *id,
	   const char *subsys, const char *event, const char *fmt,
	   va_list ap0)
{
	char line[LOG_LINE_STACK];
	size_t o, idl, sl, el;
	va_list ap;
	int n;

	if (level < log_min_level)
		return;
	if (id == NULL)
		id = "-";
	idl = strlen(id);
	sl = strlen(subsys);
	el = strlen(event);
	o = log_prefix_str(line, level);
	if (idl + sl + el + 4 < sizeof(line) - o) {
		memcpy(line + o, id, idl);
		o += idl;
		line[o++] = ' ';
		memcpy(line + o, subsys, sl);
		o += sl;
		line[o++] = ' ';
		memcpy(line + o, event, el);
		o += el;
		if (fmt == NULL || fmt[0] == '\0') {
			line[o++] = '\n';
			log_write_line(line, o, level, later);
			return;
		}
		line[o++] = ' ';
		va_copy(ap, ap0);
		n = vsnprintf(line + o, sizeof(line) - o, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n + 1 < sizeof(line) - o) {
			o += (size_t)n;
			line[o++] = '\n';
			log_write_line(line, o, level, later);
			return;
		}
	}
	/* a long line: on the heap */
	{
		struct buf b;

		buf_init(&b);
		log_prefix(&b, level);
		buf_printf(&b, "%s %s %s", id, subsys, event);
		if (fmt != NULL && fmt[0] != '\0') {
			buf_putc(&b, ' ');
			va_copy(ap, ap0);
			buf_vprintf(&b, fmt, ap);
			va_end(ap);
		}
		buf_putc(&b, '\n');
		log_write_line(b.data, b.len, level, later);
		buf_deinit(&b);
	}
}

void
log_event(enum log_level level, const char *id, const char *subsys,
	  const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_eventv(level, false, id, subsys, event, fmt, ap);
	va_end(ap);
}

void
log_event_later(enum log_level level, const char *id, const char *subsys,
		const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_eventv(level, true, id, subsys, event, fmt, ap);
	va_end(ap);
}

/* Code points that stay escaped although they are valid UTF-8: C1
 * controls (U+0085 ends a line for some readers), the Unicode spaces and
 * line/paragraph separators (a reader splitting fields on white space,
 * fail2ban's \s among them, would see two fields), the bidirectional
 * controls that can make a line read differently from what it holds, and
 * U+FEFF. */
static bool
log_cp_escaped(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0xa0) || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200f) ||
	       (cp >= 0x2028 && cp <= 0x202f) ||
	       (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 ||
	       cp == 0xfeff;
}

const char *
log_strn(char *out, size_t outsz, const char *s, size_t len)
{
	bool quote = len == 0;
	size_t o = 0;

	if (outsz < 8) {
		if (outsz > 0)
			out[0] = '\0';
		return out;
	}
	bool plain = !quote;

	for (size_t i = 0; i < len && !quote; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ' || c == '"' || c == '\\')
			quote = true;
		else if (c < 0x20 || c >= 0x7f)
			plain = false;
	}
	/* printable ASCII that fits (the loop below keeps room for "..."
	 * and the NUL): as it is, in one copy; domains and addresses in
	 * lines written for every message mostly are */
	if (plain && !quote && len + 5 <= outsz) {
		memcpy(out, s, len);
		out[len] = '\0';
		return out;
	}
	if (quote)
		out[o++] = '"';
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		char tmp[16];
		size_t tl, n = 1;
		uint32_t cp = 0;

		if (c >= 0x80)
			n = utf8_decode((const uint8_t *)s + i, len - i, &cp);
		if (c >= 0x80 && n > 0 && !log_cp_escaped(cp)) {
			/* UTF-8 addresses and names read as themselves
			 * (RFC 6531); only invalid sequences and the code
			 * points above are escaped, octet by octet */
			memcpy(tmp, s + i, n);
			tl = n;
		} else if (c < 0x20 || c >= 0x7f) {
			if (n == 0)
				n = 1;
			tl = 0;
			for (size_t k = 0; k < n; k++) {
				snprintf(tmp + tl, sizeof(tmp) - tl, "\\x%02x",
					 (unsigned char)s[i + k]);
				tl += 4;
			}
		} else if (quote && (c == '"' || c == '\\')) {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			tl = 2;
		} else {
			tmp[0] = (char)c;
			tl = 1;
		}
		/* keep room for "...", the closing quote and the NUL; a
		 * character is written whole or not at all */
		if (o + tl + 5 > outsz) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, tmp, tl);
		o += tl;
		i += n;
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
	return out;
}

const char *
log_str(char *out, size_t outsz, const char *s)
{
	if (s == NULL)
		s = "";
	return log_strn(out, outsz, s, strlen(s));
}

void
log_new_id(char *out)
{
	static const char alphabet[] = "0123456789BCDFGHJKLMNPQRSTVWXYZ";
	static uint32_t counter;
	struct timeval tv;
	uint64_t v;

	/* 31 symbols, so ids never spell words with vowels; time first so ids
	 * sort roughly by creation, then pid and a counter for uniqueness. */
	gettimeofday(&tv, NULL);
	v = ((uint64_t)tv.tv_sec << 20) ^ (uint64_t)tv.tv_usec;
	for (int i = 6; i >= 0; i--) {
		out[i] = alphabet[v % 31];
		v /= 31;
	}
	v = ((uint64_t)log_pid() << 16) ^ __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	for (int i = 11; i >= 7; i--) {
		out[i] = alphabet[v % 31];
		v /= 31;
	}
	out[LOG_ID_LEN] = '\0';
}

void
panic(const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b);
	log_prefix(&b, LOG_LEVEL_ERROR);
	buf_puts(&b, "- panic ");
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_putc(&b, '\n');
	log_write_buf(&b, LOG_LEVEL_ERROR);
	abort();
}
