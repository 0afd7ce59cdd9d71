/* SPDX-License-Identifier: MIT */
/*
 * The IMAP server (RFC 9051, RFC 3501 and extensions): one session per
 * connection on the imap (STARTTLS) and imaps (implicit TLS) listeners;
 * see docs/imap.md.
 */
#ifndef HERALD_IMAP_IMAP_H
#define HERALD_IMAP_IMAP_H

#include "conf/config.h"
#include "conf/worker.h"

struct ioev_conn;
struct worker;

/* The daemon's start handler for PROTO_IMAP and PROTO_IMAPS: a session
 * that owns conn until its close callback; the greeting goes out (after
 * the handshake on imaps) and commands are served. */
void imap_session_start(struct ioev_conn *conn, struct worker *w,
			enum listen_proto proto);
/* The refusal handler: "* BYE [UNAVAILABLE] ..." instead of the
 * greeting, then close. */
void imap_session_refuse(struct ioev_conn *conn, struct worker *w,
			 enum worker_refusal why);

/* IMAP sessions open in this process (tests, benchmarks). */
unsigned imap_session_count(void);

#endif
