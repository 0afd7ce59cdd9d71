/* SPDX-License-Identifier: MIT */
/*
 * The message body reader for DATA (RFC 5321 4.1.1.4, 4.5.2) and BDAT
 * (RFC 3030). DATA ends only at CRLF "." CRLF: a bare LF or bare CR next
 * to a "." never ends it (SMTP smuggling). Every fault in the body (bare
 * CR/LF, NUL, long line, over the size limit) is recorded and the reader
 * keeps consuming to the real end, so the server answers once, after the
 * terminator, and stays in step with a pipelining client.
 */
#ifndef HERALD_SMTP_SMTP_DATA_H
#define HERALD_SMTP_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* RFC 5321 4.5.3.1.6: 1000 octets with CRLF. */
#define SMTP_DATA_DEFAULT_MAX_LINE 998
#define SMTP_DATA_DEFAULT_MAX_SIZE (50ull * 1024 * 1024)

struct smtp_data_limits {
	/* Largest message in octets after dot-unstuffing, CRLF counted;
	 * 0 means no limit. Beyond it output stops, input is still read. */
	uint64_t max_message_size;
	/* Longest line, excluding its CRLF, after unstuffing. */
	size_t max_line_len;
	/* Rewrite a bare CR or bare LF as CRLF instead of flagging it.
	 * Never makes them end DATA. Not for BINARYMIME bodies. */
	bool normalize_bare_eol;
};

/* 50 MiB, 998, strict (no normalising). */
void smtp_data_limits_default(struct smtp_data_limits *limits_r);

enum smtp_data_result {
	SMTP_DATA_NEED_MORE,	/* all input consumed, not at the end yet */
	SMTP_DATA_DONE,		/* end reached: check smtp_data_reader_errors() */
};

/* Error bits; several may be set. Suggested replies in docs/limits.md. */
#define SMTP_DATA_ERR_BARE_LF	0x01u	/* 550 5.6.0 */
#define SMTP_DATA_ERR_BARE_CR	0x02u	/* 550 5.6.0 */
#define SMTP_DATA_ERR_LONG_LINE	0x04u	/* 550 5.6.0 (RFC 5321 4.5.3.1.6) */
#define SMTP_DATA_ERR_NUL	0x08u	/* 550 5.6.0 */
#define SMTP_DATA_ERR_TOO_BIG	0x10u	/* 552 5.3.4 */

/* Receives unstuffed message octets in order, in pieces of any size. */
typedef void smtp_data_sink_cb_t(const uint8_t *data, size_t len,
				 void *context);

struct smtp_data_reader;

/* A reader for one message; limits are copied. The sink is called during
 * feed calls (never after DONE). */
struct smtp_data_reader *
smtp_data_reader_new(const struct smtp_data_limits *limits,
		     smtp_data_sink_cb_t *sink, void *context);
/* The same, appending to out (which must stay alive). */
struct smtp_data_reader *
smtp_data_reader_new_buf(const struct smtp_data_limits *limits,
			 struct buf *out);
void smtp_data_reader_free(struct smtp_data_reader **reader);

/* DATA: feed octets received after the 354 reply. Stores in *consumed_r
 * the octets used: all of len for NEED_MORE; for DONE, up to and
 * including the LF of the final ".\r\n", leaving what follows (pipelined
 * commands) to the command reader. The message includes the CRLF of its
 * last line; ".\r\n" at once gives an empty message. Feeding after DONE
 * consumes nothing and returns DONE. */
enum smtp_data_result smtp_data_reader_feed(struct smtp_data_reader *reader,
					    const uint8_t *data, size_t len,
					    size_t *consumed_r);

/* BDAT: starts a chunk of exactly chunk_size octets (may be 0). */
void smtp_data_reader_bdat_begin(struct smtp_data_reader *reader,
				 uint64_t chunk_size);
/* Consumes at most the rest of the chunk; DONE when the chunk is
 * complete (*consumed_r may then be < len). No dot processing; bare CR
 * and LF are detected across chunk boundaries (a CR at the end of one
 * chunk and LF at the start of the next is a proper CRLF). */
enum smtp_data_result
smtp_data_reader_bdat_feed(struct smtp_data_reader *reader,
			   const uint8_t *data, size_t len,
			   size_t *consumed_r);
/* After the LAST chunk: a trailing CR with no LF becomes a bare CR. */
void smtp_data_reader_bdat_finish(struct smtp_data_reader *reader);

/* SMTP_DATA_ERR_* bits seen so far. */
unsigned smtp_data_reader_errors(const struct smtp_data_reader *reader);
/* Message octets so far, including those dropped over the size limit. */
uint64_t smtp_data_reader_size(const struct smtp_data_reader *reader);
/* 1-based number of the first line over max_line_len, or 0. */
uint64_t smtp_data_reader_long_line(const struct smtp_data_reader *reader);
/* Whether a bare CR or LF was rewritten (normalize_bare_eol). */
bool smtp_data_reader_normalized(const struct smtp_data_reader *reader);

/* Where octets above 127 were seen (bits), for the queue's envelope
 * facts: an 8-bit body needs 8BITMIME from the next hop, UTF-8 in the
 * header SMTPUTF8 (when the client sent it). The header ends at the
 * first empty line. */
#define SMTP_DATA_8BIT_HEADER	0x01u
#define SMTP_DATA_8BIT_BODY	0x02u
unsigned smtp_data_reader_8bit(const struct smtp_data_reader *reader);

/* A static description of the most severe bit in errors ("" for 0). */
const char *smtp_data_error_str(unsigned errors);

/* ---- the client's side: encoding a message for DATA or BDAT ---- */

/* Turns stored message text into what goes on the wire: every line ends
 * in CRLF whatever it ended in (CRLF, bare LF, bare CR: no outbound
 * smuggling, RFC 5321 2.3.8), a line starting with "." gets another one
 * for DATA (4.5.2), and finish adds a final CRLF when the text did not
 * end with one and, for DATA, the "." CRLF terminator. Incremental: a
 * CR at the end of one piece is decided by the next. */
struct smtp_data_encoder {
	bool dot_stuff;
	bool cr_pending;	/* last piece ended in CR */
	bool line_start;	/* next octet starts a line */
	uint64_t out_bytes;	/* octets appended so far */
};

void smtp_data_encoder_init(struct smtp_data_encoder *enc, bool dot_stuff);
/* Appends the encoding of p[0..len) to out. */
void smtp_data_encode(struct smtp_data_encoder *enc, const uint8_t *p,
		      size_t len, struct buf *out);
/* Appends what ends the message (see above). */
void smtp_data_encode_finish(struct smtp_data_encoder *enc, struct buf *out);

#endif
