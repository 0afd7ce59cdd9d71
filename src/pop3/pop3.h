/* SPDX-License-Identifier: MIT */
/*
 * The POP3 server (RFC 1939, 2449, 2595, 3206, 5034): one session per
 * connection on the pop3 (STLS) and pop3s (implicit TLS) listeners. The
 * maildrop is the account's INBOX; see docs/pop3.md.
 */
#ifndef HERALD_POP3_POP3_H
#define HERALD_POP3_POP3_H

#include "conf/config.h"
#include "conf/worker.h"

struct ioev_conn;
struct worker;

/*
 * The daemon's start handler for PROTO_POP3 and PROTO_POP3S: creates a
 * session that owns conn until its close callback, sends the greeting
 * (after the TLS handshake on pop3s) and serves commands. w must outlive
 * the connection; w->store is the worker's struct store.
 */
void pop3_session_start(struct ioev_conn *conn, struct worker *w,
			enum listen_proto proto);
/* The daemon's refusal handler for PROTO_POP3
 * (daemon_protocol_refuse_cb_t): "-ERR [SYS/TEMP] ..." instead of the
 * greeting, then close. */
void pop3_session_refuse(struct ioev_conn *conn, struct worker *w,
			 enum worker_refusal why);

/* Number of POP3 sessions open in this process (tests, benchmarks). */
unsigned pop3_session_count(void);

#endif
