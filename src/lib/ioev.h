/* SPDX-License-Identifier: MIT */
/*
 * Event loop and buffered connections: the only I/O interface protocol code
 * uses (it never includes <event2/...> or <openssl/ssl.h>). A loop runs on
 * one thread; every function here must be called on that thread, and every
 * callback fires on it. Blocking work goes through ioev_run_blocking().
 */
#ifndef HERALD_LIB_IOEV_H
#define HERALD_LIB_IOEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lib/log.h"
#include "lib/threadpool.h"

struct ssl_st;

struct ioev_loop;
struct ioev_timer;
struct ioev_conn;

/* --- loop ----------------------------------------------------------- */

/* A new loop with a thread pool of pool_threads threads (0: 4). Sets
 * SIGPIPE to be ignored process-wide (writes to a closed peer fail with
 * EPIPE instead). */
struct ioev_loop *ioev_loop_new(unsigned pool_threads);
/* Closes every connection still open (their close callbacks run with
 * IOEV_CLOSE_SHUTDOWN), waits for pending blocking jobs (their done
 * callbacks run), frees the loop. Timers and watches not freed yet are
 * stopped for good (a signal gets its old disposition back); they must
 * still be freed, which is then safe. Sets *loop to NULL. */
void ioev_loop_free(struct ioev_loop **loop);
/* Runs until ioev_loop_stop(). Returns 0, or -1 on an internal error. */
int ioev_loop_run(struct ioev_loop *loop);
/* Makes ioev_loop_run() return after the current callback. */
void ioev_loop_stop(struct ioev_loop *loop);
/* Number of connections whose close callback has not run yet. */
size_t ioev_loop_conn_count(const struct ioev_loop *loop);
/* Closes every open connection (close callbacks run with reason
 * IOEV_CLOSE_SHUTDOWN on later loop iterations). */
void ioev_loop_close_all(struct ioev_loop *loop);
/* Called (on a loop iteration) whenever the last connection has gone and
 * its close callback has run; used by a draining worker. NULL to unset. */
void ioev_loop_set_empty_cb(struct ioev_loop *loop,
			    void (*cb)(void *ctx), void *ctx);
/* The loop's thread pool, for code that needs it directly. */
struct threadpool *ioev_loop_pool(struct ioev_loop *loop);
/* Runs the callbacks that are ready now, without waiting for more (tests
 * drive a loop with it). Returns 0, or -1 on an internal error. */
int ioev_loop_poll(struct ioev_loop *loop);

/* Runs work(ctx) on the loop's thread pool, then done(ctx) on the loop
 * thread. ctx belongs to the caller; a result travels inside it. A session
 * that waits for a job must not be freed before done runs: use
 * ioev_conn_run_blocking() for jobs tied to a connection. */
void ioev_run_blocking(struct ioev_loop *loop, threadpool_work_cb_t *work,
		       threadpool_done_cb_t *done, void *ctx);

/* --- timers ---------------------------------------------------------- */

typedef void ioev_timer_cb_t(void *ctx);

/* A stopped timer. */
struct ioev_timer *ioev_timer_new(struct ioev_loop *loop, ioev_timer_cb_t *cb,
				  void *ctx);
/* (Re)arms the timer to fire once after ms milliseconds, or every ms
 * milliseconds when repeat is true. */
void ioev_timer_start(struct ioev_timer *timer, uint64_t ms, bool repeat);
void ioev_timer_stop(struct ioev_timer *timer);
bool ioev_timer_is_pending(const struct ioev_timer *timer);
void ioev_timer_free(struct ioev_timer **timer);

/* --- fd and signal watches ------------------------------------------- */

/* A descriptor ioev does not own (a listening socket, libunbound's fd, a
 * pipe) or a signal, delivered to a callback on the loop. */
struct ioev_watch;

typedef void ioev_fd_cb_t(int fd, void *ctx);
typedef void ioev_signal_cb_t(int sig, void *ctx);

/* Calls cb(fd, ctx) on the loop each time fd is readable (level
 * triggered: again on the next turn if cb left data unread) until the
 * watch is stopped or freed. fd stays the caller's: close it after
 * ioev_watch_free(). Starts active. */
struct ioev_watch *ioev_watch_fd(struct ioev_loop *loop, int fd,
				 ioev_fd_cb_t *cb, void *ctx);
/* Calls cb(sig, ctx) on the loop after sig arrives (several arrivals
 * between two turns may come as one call). The signal's disposition is
 * the loop's while the watch exists (restored by ioev_watch_free); in
 * a threaded process block sig in every other thread. One loop per
 * process may watch a given signal. Starts active. */
struct ioev_watch *ioev_watch_signal(struct ioev_loop *loop, int sig,
				     ioev_signal_cb_t *cb, void *ctx);
/* Pauses and resumes a watch (a listener that backs off after EMFILE).
 * A callback may stop or free its own watch. */
void ioev_watch_stop(struct ioev_watch *watch);
void ioev_watch_start(struct ioev_watch *watch);
bool ioev_watch_is_active(const struct ioev_watch *watch);
/* Stops and frees; sets *watch to NULL. NULL is fine. */
void ioev_watch_free(struct ioev_watch **watch);

/* --- TLS engine ------------------------------------------------------ */

/* lib/ is the lowest layer and tls/ a service above it, so ioev never
 * includes a tls/ header: it does TLS through this table, which tls/
 * fills in for a server context (tls_server_ioev()). The sessions are
 * OpenSSL SSL objects, handed to libevent's OpenSSL bufferevent. */
struct ioev_tls_info {
	char protocol[16];	/* "TLSv1.3" */
	char cipher[64];	/* "TLS_AES_256_GCM_SHA384" */
	int bits;		/* secret bits of the cipher, e.g. 256 */
};

struct ioev_tls {
	/* A new server-side session for one connection; never NULL. The
	 * conn owns it from then on. */
	struct ssl_st *(*session_new)(struct ioev_tls *tls);
	/* Fills *info_r for an established session; zeroes it otherwise. */
	void (*session_info)(const struct ssl_st *ssl,
			     struct ioev_tls_info *info_r);
	/* Sends close_notify on an established session without waiting
	 * for the peer's (the socket is closed right after). */
	void (*session_close_notify)(struct ssl_st *ssl);
	/* A short, readable reason for an error code OpenSSL queued ("no
	 * shared cipher", "wrong version number"); err 0: the peer closed.
	 * Returns out. */
	const char *(*error_reason)(unsigned long err, char *out,
				    size_t outsz);
	/* A handshake not finished after this long closes the conn
	 * (IOEV_CLOSE_TIMEOUT); 0: IOEV_TLS_HANDSHAKE_TIMEOUT_MS. */
	uint64_t handshake_timeout_ms;
};

#define IOEV_TLS_HANDSHAKE_TIMEOUT_MS 30000

/* --- connections ---------------------------------------------------- */

/* Why a connection ended; passed to the close callback. */
enum ioev_close_reason {
	IOEV_CLOSE_LOCAL,	/* ioev_conn_close() or close-after-write done */
	IOEV_CLOSE_EOF,		/* the peer closed (after its replies went out) */
	IOEV_CLOSE_ERROR,	/* socket error (reset, ...) */
	IOEV_CLOSE_TLS,		/* TLS handshake or record error */
	IOEV_CLOSE_TIMEOUT,	/* idle timeout and no timeout callback, or
				 * a TLS handshake past its time */
	IOEV_CLOSE_OVERFLOW,	/* output beyond ioev_conn_limits.output_max */
	IOEV_CLOSE_SHUTDOWN,	/* the worker is stopping */
};

/* Short name for logs: "local", "eof", "error", "tls", "timeout", ... */
const char *ioev_close_reason_name(enum ioev_close_reason reason);

struct ioev_conn_limits {
	/* Reading from the socket stops while this many input bytes wait
	 * unconsumed; must be >= the longest line or chunk a protocol asks
	 * for. 0: 64 KiB. */
	size_t input_max;
	/* Output above this pauses reading and makes
	 * ioev_conn_output_is_full() true, until output falls to half of
	 * it (then the drain callback runs). 0: 256 KiB. */
	size_t output_high;
	/* A write that would take buffered output past this closes the
	 * connection with IOEV_CLOSE_OVERFLOW. 0: 16 MiB. */
	size_t output_max;
	/* Idle timeout in ms, reset by every read; 0: none. It also ends a
	 * connection whose pending output makes no progress for as long
	 * (the peer does not read): closed with IOEV_CLOSE_TIMEOUT, without
	 * the timeout callback. */
	uint64_t idle_timeout_ms;
};

struct ioev_conn_callbacks {
	/* Input is buffered (new bytes arrived, or reading was resumed with
	 * bytes still buffered). Consume every complete command you can;
	 * what is left stays buffered for the next call. Not called while
	 * reading is paused or after the connection closed. Required. */
	void (*input)(struct ioev_conn *conn, void *ctx);
	/* The connection ended. After the peer's EOF (which may be a
	 * half-close: the peer still reads) the conn stays open until the
	 * protocol has been given every buffered byte, is not paused, has no
	 * job pending and its output has gone; it then closes with
	 * IOEV_CLOSE_EOF. Fires exactly once, never from inside
	 * another ioev call, and only once no job of
	 * ioev_conn_run_blocking() is pending. The socket is already
	 * closed; free the session here. The conn stays valid until this
	 * returns (and longer for holders of ioev_conn_ref()). Required. */
	void (*close)(struct ioev_conn *conn, void *ctx,
		      enum ioev_close_reason reason);
	/* Output fell below the low mark after ioev_conn_output_is_full()
	 * was true: resume producing a large response. Optional. */
	void (*drain)(struct ioev_conn *conn, void *ctx);
	/* The idle timeout expired. The handler typically writes a goodbye
	 * and calls ioev_conn_close_after_write(). If NULL the connection is
	 * closed with IOEV_CLOSE_TIMEOUT. Optional. */
	void (*timeout)(struct ioev_conn *conn, void *ctx);
	/* A TLS handshake (implicit or after ioev_conn_starttls) completed:
	 * ioev_conn_tls_info() now has its version and cipher. Optional. */
	void (*tls_ready)(struct ioev_conn *conn, void *ctx);
};

/* Wraps an accepted, connected socket (takes ownership of fd; it is made
 * non-blocking). With tls non-NULL the connection starts with a server TLS
 * handshake (implicit TLS, ports 465/993/995); output written before the
 * handshake ends is sent after it, a failed handshake ends the connection
 * with IOEV_CLOSE_TLS and one that takes longer than
 * tls->handshake_timeout_ms with IOEV_CLOSE_TIMEOUT (the idle timeout and
 * the timeout callback wait for the handshake to end; either failure is
 * logged at info with a readable reason). An established TLS session
 * ends with close_notify whenever ioev closes it (close, close after
 * write, timeouts, shutdown), not when the peer broke it. limits may be
 * NULL (defaults). Nothing fires until ioev_conn_set_callbacks(). Never
 * NULL (aborts on OOM). tls must outlive the conn. */
struct ioev_conn *ioev_conn_new(struct ioev_loop *loop, int fd,
				struct ioev_tls *tls,
				const struct ioev_conn_limits *limits);
/* Installs callbacks and starts reading. cbs must outlive the conn
 * (usually a static table). */
void ioev_conn_set_callbacks(struct ioev_conn *conn,
			     const struct ioev_conn_callbacks *cbs, void *ctx);
/* Changes only limits.output_high (0: the default); for a command that
 * streams a large response for a while. */
void ioev_conn_set_output_high(struct ioev_conn *conn, size_t output_high);
void ioev_conn_set_limits(struct ioev_conn *conn,
			  const struct ioev_conn_limits *limits);
/* A second close callback, for the layer that accepted the conn and
 * counts it (per-address limits): runs once, right after the protocol's
 * close callback (or alone when none was set), when the conn is gone.
 * One per conn; a second call replaces the first. */
void ioev_conn_set_release(struct ioev_conn *conn,
			   void (*release)(void *ctx), void *ctx);

/* Extra references keep the struct (not the socket) alive, e.g. across a
 * lookup that does not go through ioev_conn_run_blocking(). After close,
 * every call on the conn is a harmless no-op: writes are dropped, reads
 * see no input; check ioev_conn_is_closed(). */
void ioev_conn_ref(struct ioev_conn *conn);
void ioev_conn_unref(struct ioev_conn **conn);
bool ioev_conn_is_closed(const struct ioev_conn *conn);

/* Closes now: pending output is dropped, the close callback follows on a
 * later iteration with IOEV_CLOSE_LOCAL. */
void ioev_conn_close(struct ioev_conn *conn);
/* Stops reading, sends what is buffered, then closes (IOEV_CLOSE_LOCAL).
 * Use after a final reply ("221 Bye", "* BYE"). From then on input reads
 * as empty (pipelined commands after QUIT are never parsed) and writes
 * fail. */
void ioev_conn_close_after_write(struct ioev_conn *conn);

/* Opens an outgoing connection (the SMTP client) without blocking, from
 * the source address bind_addr when it is not NULL (port 0):
 * cb(conn, 0, ctx) once connected, with a new conn like ioev_conn_new()'s
 * (no TLS, no callbacks yet), or cb(NULL, errno, ctx) when it failed
 * (ETIMEDOUT after timeout_ms; 0: no limit). cb runs exactly once, on a
 * later loop iteration, unless the attempt is cancelled first; the
 * handle is freed after cb returns. addr is AF_INET, AF_INET6 or
 * AF_UNIX. Never NULL. Cancel pending attempts before freeing the loop. */
struct ioev_connect;
typedef void ioev_connect_cb_t(struct ioev_conn *conn, int error, void *ctx);
struct ioev_connect *ioev_connect_start(struct ioev_loop *loop,
					const struct sockaddr *addr,
					socklen_t addrlen,
					const struct sockaddr *bind_addr,
					socklen_t bind_len, uint64_t timeout_ms,
					const struct ioev_conn_limits *limits,
					ioev_connect_cb_t *cb, void *ctx);
/* Abandons a pending attempt (its socket is closed, cb never runs); sets
 * *c to NULL. Only before cb has run; NULL is fine. */
void ioev_connect_cancel(struct ioev_connect **c);

/* Connection id for log lines (LOG_ID_LEN characters, from log_new_id). */
const char *ioev_conn_id(const struct ioev_conn *conn);
/* Peer and local addresses: the IP as text ("192.0.2.1", "2001:db8::1";
 * "unix" for a unix socket) and the port (0 for unix). */
const char *ioev_conn_peer_ip(const struct ioev_conn *conn);
unsigned ioev_conn_peer_port(const struct ioev_conn *conn);
const char *ioev_conn_local_ip(const struct ioev_conn *conn);
unsigned ioev_conn_local_port(const struct ioev_conn *conn);
/* The peer's raw address (for rate-limit keys, DNSBL lookups). */
const struct sockaddr_storage *ioev_conn_peer_sockaddr(const struct ioev_conn *conn);
/* True for 127.0.0.0/8, ::1, v4-mapped loopback and unix sockets. */
bool ioev_conn_peer_is_local(const struct ioev_conn *conn);
/* Turns on TCP keepalive probes (SO_KEEPALIVE) after idle_s seconds of
 * silence (0: the system's default, two hours on Linux), then every
 * minute, five times: a peer gone without a FIN (a phone that lost its
 * network) is noticed, and carrier NATs see traffic. Returns 0, or -1
 * (errno) for a closed conn or a socket that refuses. */
int ioev_conn_set_keepalive(struct ioev_conn *conn, unsigned idle_s);
/* A unix socket peer's user, group and process (SO_PEERCRED, taken by the
 * kernel when the peer connected). False for TCP. */
bool ioev_conn_peer_cred(const struct ioev_conn *conn, uid_t *uid_r,
			 gid_t *gid_r, pid_t *pid_r);

/* --- input ----------------------------------------------------------- */

enum ioev_line_result {
	IOEV_LINE_OK,		/* *line_r holds a complete line */
	IOEV_LINE_NEED_MORE,	/* no LF yet and under max_len: wait */
	IOEV_LINE_TOO_LONG,	/* no LF within max_len bytes */
};

struct ioev_line {
	const char *data;	/* the line without its LF (not NUL-ended) */
	size_t len;		/* bytes before the LF; a CR stays included */
	bool crlf;		/* the line ended in CR LF (not a bare LF) */
	size_t size;		/* bytes to consume: len + 1 (the LF) */
};

/* Peeks at the next line in the input, ended by LF, without copying when
 * the bytes are contiguous (otherwise they are made contiguous in the
 * buffer). max_len counts the whole line with its CRLF (SMTP's 512).
 * The line stays valid until the next consume, read, write or close on
 * conn; call ioev_conn_consume(conn, line.size) when done with it.
 * Protocols that require CRLF check line.crlf (the CR is then
 * data[len - 1]); a bare CR inside the line is the protocol's business.
 * After IOEV_LINE_TOO_LONG use ioev_conn_skip_line() or close. */
enum ioev_line_result ioev_conn_readline(struct ioev_conn *conn,
					 size_t max_len,
					 struct ioev_line *line_r);
/* Discards input up to and including the next LF. Returns true if a LF was
 * found; false if everything buffered was discarded (call again on the
 * next input to keep skipping the over-long line). */
bool ioev_conn_skip_line(struct ioev_conn *conn);
/* Bytes buffered and not consumed. */
size_t ioev_conn_input_len(const struct ioev_conn *conn);
/* Up to `want` contiguous buffered bytes (for DATA, BDAT chunks, IMAP
 * literals); *len_r gets how many (0 when nothing is buffered). Valid like
 * a line. */
const uint8_t *ioev_conn_peek(struct ioev_conn *conn, size_t want,
			      size_t *len_r);
/* Drops n bytes from the front of the input (n <= input_len). */
void ioev_conn_consume(struct ioev_conn *conn, size_t n);
/* ioev_conn_consume() that first zeroes those n bytes in the input
 * buffer, for lines that may carry a password or SASL response: the
 * buffer's memory is reused and freed without being cleared. Copies
 * made on the way (by OpenSSL, or by a pullup that joined chunks) are
 * not reached. */
void ioev_conn_consume_wipe(struct ioev_conn *conn, size_t n);

/* Stops calling input until resumed, e.g. while a store job for the
 * current command runs: pipelined commands stay buffered (reading goes on
 * up to input_max, so a disconnect is still noticed; once input_max bytes
 * wait, reading stops until some are consumed, since libevent would run
 * its read callback on every loop turn meanwhile) and input reads as
 * empty (readline says NEED_MORE), which ends a parse loop. Pauses nest:
 * each pause needs one resume. Resuming with input buffered schedules an
 * input callback. */
void ioev_conn_pause(struct ioev_conn *conn);
void ioev_conn_resume(struct ioev_conn *conn);

/* --- output ---------------------------------------------------------- */

/* Appends to the output buffer; it is sent as the socket allows. Returns 0,
 * or -1 if the connection is closed or the write would pass output_max
 * (the connection is then closed with IOEV_CLOSE_OVERFLOW). */
int ioev_conn_write(struct ioev_conn *conn, const void *data, size_t len);
int ioev_conn_puts(struct ioev_conn *conn, const char *s);
int ioev_conn_printf(struct ioev_conn *conn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Bytes buffered and not yet sent. */
size_t ioev_conn_output_len(const struct ioev_conn *conn);
/* Output is above output_high: stop producing until the drain callback. */
bool ioev_conn_output_is_full(const struct ioev_conn *conn);

/* --- TLS --------------------------------------------------------------- */

/* Starts a server TLS handshake on a plain connection (STARTTLS). Call it
 * right after writing the "go ahead" reply ("220 Ready to start TLS"): the
 * reply is sent in clear, then the handshake runs. Every input byte
 * buffered after the STARTTLS command line is discarded first, so
 * commands a client (or a man in the middle) pipelined behind STARTTLS are
 * never executed inside the TLS session (CVE-2011-0411). The caller must
 * already have consumed the STARTTLS line itself and must reset its
 * protocol state (RFC 3207 4.2). Input resumes once the handshake is done;
 * a failed handshake closes with IOEV_CLOSE_TLS (a slow one with
 * IOEV_CLOSE_TIMEOUT, as for ioev_conn_new). Returns 0, or -1 with a
 * static *error_r if TLS is already active or the conn is closed. */
int ioev_conn_starttls(struct ioev_conn *conn, struct ioev_tls *tls,
		       const char **error_r);
/* Starts a client TLS handshake on a plain connection (outbound SMTP:
 * after the server's "220" to STARTTLS, or at once for implicit TLS).
 * ssl is a new client session (tls_client_session_new(), with its SNI
 * and verification name); the conn owns it from now on. tls supplies
 * session_info, close_notify, error_reason and the handshake timeout
 * (session_new is not used). Input still buffered is discarded (a man in
 * the middle's injected replies). Nothing may be buffered for output.
 * tls_ready fires when the handshake is done; a failure closes with
 * IOEV_CLOSE_TLS (IOEV_CLOSE_EOF when the peer just closed, or
 * IOEV_CLOSE_TIMEOUT) and ioev_conn_tls_error() says why. Returns 0, or
 * -1 with a static *error_r (ssl is then still the caller's). */
int ioev_conn_starttls_client(struct ioev_conn *conn, struct ioev_tls *tls,
			      struct ssl_st *ssl, const char **error_r);
/* The TLS session (for tls/ to read the peer's certificate), or NULL. */
struct ssl_st *ioev_conn_tls_session(const struct ioev_conn *conn);
/* Why the last TLS handshake failed ("certificate verify failed",
 * "handshake timeout"), "" when none did; valid in the close callback. */
const char *ioev_conn_tls_error(const struct ioev_conn *conn);
bool ioev_conn_is_tls(const struct ioev_conn *conn);
/* Protocol, cipher and bits of an established TLS session, for Received
 * headers ("using TLSv1.3 with cipher X (256/256 bits)"); returns false
 * (and zeroes *info_r) when the connection is not (yet) encrypted. */
bool ioev_conn_tls_info(const struct ioev_conn *conn,
			struct ioev_tls_info *info_r);

/* --- blocking work --------------------------------------------------- */

/* Like ioev_run_blocking(), tied to conn: the conn holds a reference and
 * its close callback is deferred until done(ctx) has run, so a session
 * freed in the close callback is still valid in done. In done, check
 * ioev_conn_is_closed() before writing a reply. Typically paired with
 * ioev_conn_pause() before and ioev_conn_resume() in done. */
void ioev_conn_run_blocking(struct ioev_conn *conn, threadpool_work_cb_t *work,
			    threadpool_done_cb_t *done, void *ctx);

/* The same contract, for work that another thread already running does
 * (threadpool_external_begin): start(ctx, handle) runs at once on the loop
 * thread and must see to it that ioev_external_done(handle) is called
 * exactly once, from any thread (possibly from start itself); done(ctx)
 * then runs on the loop thread. */
struct ioev_external;
typedef void ioev_external_start_cb_t(void *ctx, struct ioev_external *h);
void ioev_conn_run_external(struct ioev_conn *conn,
			    ioev_external_start_cb_t *start,
			    threadpool_done_cb_t *done, void *ctx);
void ioev_external_done(struct ioev_external *h);

#endif
