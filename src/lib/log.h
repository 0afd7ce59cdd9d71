/* SPDX-License-Identifier: MIT */
/*
 * One log line per event on stderr (journald or a terminal picks it up):
 *   LEVEL ID SUBSYSTEM EVENT key=value ...
 * Fields come in a fixed order chosen by the caller; values from peers go
 * through log_str() first so a client cannot forge log lines. The shapes of
 * the lines are documented in docs/logging.md.
 */
#ifndef HERALD_LIB_LOG_H
#define HERALD_LIB_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Length of an id made by log_new_id(), without the NUL. */
#define LOG_ID_LEN 12

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warn", "error". Returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *level_r);
/* Adds a "YYYY-mm-ddTHH:MM:SS.mmmZ " prefix; on by default unless stderr is
 * journald's (JOURNAL_STREAM is set), which stamps lines itself. */
void log_set_timestamps(bool on);

/* Writes one line: "<level> <id> <subsys> <event> <fmt...>". id may be NULL
 * ("-"). The line is written with one write(2) so lines from several
 * processes do not interleave. */
void log_event(enum log_level level, const char *id, const char *subsys,
	       const char *event, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define log_debug(...) log_event(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_event(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_event(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_event(LOG_LEVEL_ERROR, __VA_ARGS__)

/* log_event() for an info or debug line that needs no write(2) of its
 * own turn: on a thread that holds lines (log_hold) it waits for the
 * next line that does, or for the hold's own later flush (kick with
 * soon false: the loop's, at most LOG_LATER_MS), whichever comes first.
 * Elsewhere, and for warn or error, the same as log_event(). For a line
 * of every message that another line of the same message follows within
 * milliseconds (mailauth verdicts, then smtp accepted). */
void log_event_later(enum log_level level, const char *id,
		     const char *subsys, const char *event,
		     const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define log_info_later(...) log_event_later(LOG_LEVEL_INFO, __VA_ARGS__)
/* How long the loop lets a line of log_event_later() wait at most. */
#define LOG_LATER_MS 50

/* Event-loop threads: from now on this thread's info and debug lines
 * are held in memory and written together by log_flush(), which the
 * caller runs once per loop turn: kick(ctx, true) is called when the
 * first line of a turn is held, to schedule that, and kick(ctx, false)
 * when a line of log_event_later() is held and nothing is scheduled, to
 * flush within LOG_LATER_MS. A warn or error line, a panic, and a full
 * hold buffer (4 KiB) write what is held at once, in order.
 * log_release() writes what is held and stops holding. Lines of one
 * thread stay in order; another thread's line may be written before a
 * held line that was logged earlier (by at most one loop turn, or
 * LOG_LATER_MS for a later line). */
void log_hold(void (*kick)(void *ctx, bool soon), void *ctx);
void log_flush(void);
void log_release(void);

/* Makes peer text safe for a log value: control bytes, octets that are
 * not valid UTF-8, and C1 controls, Unicode spaces and separators,
 * bidirectional controls and U+FEFF become \xHH (one per octet); other
 * UTF-8 is kept as it is. The value is wrapped in double quotes (with \" and \\) when it
 * contains a space, a quote or is empty. Truncated to fit outsz with "..."
 * appended. Returns out. */
const char *log_str(char *out, size_t outsz, const char *s);
/* Same for a byte slice that may not be NUL-terminated. */
const char *log_strn(char *out, size_t outsz, const char *s, size_t len);

/* Writes a new unique id (time, pid and a counter; base32, LOG_ID_LEN
 * characters) into out, which holds LOG_ID_LEN + 1 bytes. */
void log_new_id(char *out);

/* A broken invariant: logs and aborts. */
void panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
