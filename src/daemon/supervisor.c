/* SPDX-License-Identifier: MIT */
/*
 * The supervisor: binds listeners, loads TLS, forks and watches workers,
 * restarts crashed ones with backoff, reloads on SIGHUP (a new generation
 * of workers while the old one drains) and stops on SIGTERM/SIGINT. It
 * never parses network input and runs no threads, so fork() is safe.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon-private.h"
#include "lib/array.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "sasl/login.h"
#include "tls/tls.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 10000
/* a worker that lived this long is healthy: its next crash starts the
 * backoff from the beginning */
#define BACKOFF_RESET_MS 60000
#define DEFAULT_SHUTDOWN_MS 5000

struct slot {
	pid_t pid;		/* 0: not running */
	uint64_t started_ms;
	uint64_t backoff_ms;
	uint64_t restart_at_ms;	/* 0: no restart scheduled */
};

struct generation {
	unsigned number;
	struct config *cfg;
	bool cfg_owned;
	struct tls_server *tls;
	struct daemon_listeners ls;
	struct daemon_creds creds;
	struct slot *slots;
	unsigned n_slots;	/* the workers, then the runner if any */
	unsigned n_workers;
};

struct supervisor {
	const char *config_path;
	pid_t pid;
	struct generation cur;
	ARRAY(pid_t) draining;	/* workers of older generations */
	bool stopping, killed;
	uint64_t kill_at_ms;
	int exit_status;	/* of daemon_serve(): 1 after a fatal worker */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned
worker_count(const struct config *cfg)
{
	long n;

	if (cfg->workers > 0)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static void
apply_log_level(const struct config *cfg)
{
	log_set_level(cfg->log_level);
}

static void
spawn(struct supervisor *sup, unsigned i)
{
	struct generation *g = &sup->cur;
	struct slot *s = &g->slots[i];
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error(NULL, "daemon", "fork-failed", "error=\"%s\"",
			  strerror(errno));
		s->restart_at_ms = now_ms() + BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0)
		daemon_worker_main(g->cfg, g->tls, &g->ls, &g->creds, sup->pid,
				   g->number, i, i >= g->n_workers);
	s->pid = pid;
	s->started_ms = now_ms();
	s->restart_at_ms = 0;
	if (i >= g->n_workers)
		log_info(NULL, "daemon", "runner-start", "pid=%d generation=%u",
			 (int)pid, g->number);
	else
		log_info(NULL, "daemon", "worker-start",
			 "pid=%d generation=%u index=%u", (int)pid, g->number,
			 i);
}

static void
status_text(int status, char *out, size_t outsz)
{
	if (WIFEXITED(status))
		snprintf(out, outsz, "exit=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, outsz, "signal=%d", WTERMSIG(status));
	else
		snprintf(out, outsz, "status=%d", status);
}

static void begin_stop(struct supervisor *sup, int sig);

static bool
reap_current(struct supervisor *sup, pid_t pid, int status, const char *st)
{
	struct generation *g = &sup->cur;
	uint64_t now = now_ms();

	for (unsigned i = 0; i < g->n_slots; i++) {
		struct slot *s = &g->slots[i];

		if (s->pid != pid)
			continue;
		s->pid = 0;
		if (sup->stopping) {
			log_info(NULL, "daemon", "worker-exit",
				 "pid=%d generation=%u %s", (int)pid, g->number, st);
			return true;
		}
		if (WIFEXITED(status) &&
		    WEXITSTATUS(status) == DAEMON_EXIT_FATAL) {
			/* The worker logged why; a restart would fail the
			 * same way, forever. */
			log_error(NULL, "daemon", "worker-fatal",
				  "pid=%d generation=%u %s: stopping", (int)pid,
				  g->number, st);
			sup->exit_status = 1;
			begin_stop(sup, 0);
			return true;
		}
		if (now - s->started_ms >= BACKOFF_RESET_MS)
			s->backoff_ms = 0;
		s->backoff_ms = s->backoff_ms == 0 ? BACKOFF_FIRST_MS :
			(s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
			 s->backoff_ms * 2);
		s->restart_at_ms = now + s->backoff_ms;
		log_warn(NULL, "daemon", "worker-exit",
			 "pid=%d generation=%u %s restart_in_ms=%llu", (int)pid,
			 g->number, st, (unsigned long long)s->backoff_ms);
		return true;
	}
	return false;
}

static void
reap(struct supervisor *sup)
{
	pid_t pid;
	int status;
	char st[32];

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		status_text(status, st, sizeof(st));
		if (reap_current(sup, pid, status, st))
			continue;
		for (size_t i = 0; i < array_len(&sup->draining); i++) {
			if (*array_idx(&sup->draining, i) != pid)
				continue;
			array_delete(&sup->draining, i);
			log_info(NULL, "daemon", "worker-exit",
				 "pid=%d generation=old %s", (int)pid, st);
			break;
		}
	}
}

static size_t
live_workers(const struct supervisor *sup)
{
	size_t n = array_len(&sup->draining);

	for (unsigned i = 0; i < sup->cur.n_slots; i++)
		n += sup->cur.slots[i].pid > 0;
	return n;
}

static void
signal_all(struct supervisor *sup, int sig)
{
	for (unsigned i = 0; i < sup->cur.n_slots; i++) {
		if (sup->cur.slots[i].pid > 0)
			kill(sup->cur.slots[i].pid, sig);
	}
	for (size_t i = 0; i < array_len(&sup->draining); i++)
		kill(*array_idx(&sup->draining, i), sig);
}

static void
begin_stop(struct supervisor *sup, int sig)
{
	uint64_t timeout = sup->cur.cfg->shutdown_timeout_ms;

	if (sup->stopping) {
		/* a second ^C: do not wait */
		signal_all(sup, SIGKILL);
		sup->killed = true;
		return;
	}
	log_info(NULL, "daemon", "stopping", "signal=%d workers=%zu", sig,
		 live_workers(sup));
	daemon_notify("STOPPING=1");
	sup->stopping = true;
	daemon_listeners_close(&sup->cur.ls, true);
	for (unsigned i = 0; i < sup->cur.n_slots; i++)
		sup->cur.slots[i].restart_at_ms = 0;
	signal_all(sup, SIGTERM);
	sup->kill_at_ms = now_ms() + (timeout > 0 ? timeout : DEFAULT_SHUTDOWN_MS);
}

static void
generation_deinit(struct generation *g)
{
	daemon_listeners_close(&g->ls, true);
	tls_server_free(&g->tls);
	daemon_creds_deinit(&g->creds);
	if (g->cfg_owned)
		config_free(&g->cfg);
	free(g->slots);
	memset(g, 0, sizeof(*g));
}

/* Everything a generation needs, checked before anything is changed so a
 * failed reload leaves the running generation untouched. */
static int
generation_prepare(struct generation *g, struct config *cfg,
		   struct daemon_listeners *old, char **error_r)
{
	g->cfg = cfg;
	if (daemon_check_protocols(cfg, error_r) < 0 ||
	    daemon_creds_resolve(cfg, &g->creds, error_r) < 0)
		return -1;
	if (daemon_data_dir_ensure(cfg, &g->creds, error_r) < 0)
		goto fail;
	g->tls = tls_server_new(cfg, error_r);
	if (g->tls == NULL)
		goto fail;
	if (daemon_listeners_open(cfg, &g->creds, old, &g->ls, error_r) < 0)
		goto fail;
	g->n_workers = worker_count(cfg);
	g->n_slots = g->n_workers + (daemon_runner_wanted(cfg) ? 1 : 0);
	g->slots = xcalloc(g->n_slots, sizeof(*g->slots));
	/* one set of failed-login budgets for all workers of the generation */
	login_service_prepare(&cfg->auth);
	return 0;
fail:
	tls_server_free(&g->tls);
	daemon_creds_deinit(&g->creds);
	return -1;
}

static void
log_multiline_error(const char *event, const char *error)
{
	char *copy = xstrdup(error);

	for (char *p = copy; *p != '\0'; p++) {
		if (*p == '\n')
			*p = ';';
	}
	log_error(NULL, "daemon", event, "error=\"%s\"", copy);
	free(copy);
}

/* A renamed key still works; say so in the log at every (re)load, since
 * nobody runs config check before a restart. */
static void
log_config_warnings(const struct config *cfg)
{
	const char *p = cfg->warnings;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char safe[1024];

		log_warn(NULL, "daemon", "config-warning", "warning=%s",
			 log_strn(safe, sizeof(safe), p, n));
		p = nl != NULL ? nl + 1 : NULL;
	}
}

static void
reload(struct supervisor *sup)
{
	struct generation next = { 0 };
	struct config *cfg;
	char *error = NULL;
	char *desc;

	log_info(NULL, "daemon", "reloading", "path=%s",
		 sup->config_path != NULL ? sup->config_path : "-");
	daemon_notify("RELOADING=1");
	cfg = sup->config_path != NULL ? config_load(sup->config_path, &error) :
		NULL;
	if (cfg == NULL) {
		if (error == NULL)
			error = xstrdup("no configuration file to reload");
		goto fail;
	}
	if (generation_prepare(&next, cfg, &sup->cur.ls, &error) < 0) {
		config_free(&cfg);
		goto fail;
	}
	next.cfg_owned = true;
	next.number = sup->cur.number + 1;
	log_config_warnings(cfg);

	/* commit: the old workers drain, the new ones start accepting */
	for (unsigned i = 0; i < sup->cur.n_slots; i++) {
		pid_t pid = sup->cur.slots[i].pid;

		if (pid <= 0)
			continue;
		kill(pid, DAEMON_SIG_DRAIN);
		array_append(&sup->draining, &pid);
	}
	/* listeners reused by the new generation have fd -1 here */
	generation_deinit(&sup->cur);
	sup->cur = next;
	apply_log_level(cfg);
	for (unsigned i = 0; i < sup->cur.n_slots; i++)
		spawn(sup, i);
	desc = daemon_listeners_describe(&sup->cur.ls);
	log_info(NULL, "daemon", "reloaded", "generation=%u listen=\"%s\"",
		 sup->cur.number, desc);
	free(desc);
	daemon_notify("READY=1");
	return;
fail:
	log_multiline_error("reload-failed", error);
	free(error);
	daemon_notify("READY=1");
}

static void
run_timers(struct supervisor *sup)
{
	uint64_t now = now_ms();

	if (!sup->stopping) {
		for (unsigned i = 0; i < sup->cur.n_slots; i++) {
			struct slot *s = &sup->cur.slots[i];

			if (s->pid == 0 && s->restart_at_ms != 0 &&
			    s->restart_at_ms <= now)
				spawn(sup, i);
		}
	} else if (!sup->killed && now >= sup->kill_at_ms) {
		log_warn(NULL, "daemon", "stop-timeout", "killing=%zu",
			 live_workers(sup));
		signal_all(sup, SIGKILL);
		sup->killed = true;
	}
}

static uint64_t
next_deadline(const struct supervisor *sup)
{
	uint64_t next = now_ms() + 3600 * 1000;

	if (sup->stopping)
		return sup->killed ? now_ms() + 100 : sup->kill_at_ms;
	for (unsigned i = 0; i < sup->cur.n_slots; i++) {
		const struct slot *s = &sup->cur.slots[i];

		if (s->pid == 0 && s->restart_at_ms != 0 && s->restart_at_ms < next)
			next = s->restart_at_ms;
	}
	return next;
}

static void
supervise(struct supervisor *sup, const sigset_t *set)
{
	while (!sup->stopping || live_workers(sup) > 0) {
		uint64_t deadline = next_deadline(sup), now = now_ms();
		uint64_t wait = deadline > now ? deadline - now : 0;
		struct timespec ts = {
			.tv_sec = (time_t)(wait / 1000),
			.tv_nsec = (long)(wait % 1000) * 1000000,
		};
		int sig = sigtimedwait(set, NULL, &ts);

		switch (sig) {
		case SIGTERM:
		case SIGINT:
			begin_stop(sup, sig);
			break;
		case SIGHUP:
			if (!sup->stopping)
				reload(sup);
			break;
		default:
			break;
		}
		reap(sup);
		run_timers(sup);
	}
}

/* Debian's soft limit of 1024 open files runs out at about a thousand
 * connections, and then every listener waits in accept(2) (EMFILE). The
 * hard limit is what the admin (or systemd's LimitNOFILE) allows; workers
 * inherit what is set here. */
static void
raise_nofile(const struct config *cfg)
{
	struct rlimit rl, want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want = rl;
	if (cfg->max_open_files == 0) {
		want.rlim_cur = rl.rlim_max;
	} else {
		want.rlim_cur = cfg->max_open_files;
		if (want.rlim_cur > rl.rlim_max)
			want.rlim_max = want.rlim_cur;	/* root only */
	}
	if (want.rlim_cur == rl.rlim_cur && want.rlim_max == rl.rlim_max)
		return;
	if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
		log_warn(NULL, "daemon", "nofile-failed", "want=%llu hard=%llu "
			 "error=\"%s\"", (unsigned long long)want.rlim_cur,
			 (unsigned long long)rl.rlim_max, strerror(errno));
		return;
	}
	log_info(NULL, "daemon", "nofile", "soft=%llu hard=%llu",
		 (unsigned long long)want.rlim_cur,
		 (unsigned long long)want.rlim_max);
}

int
daemon_serve(const char *config_path, struct config *cfg)
{
	struct supervisor sup = { .config_path = config_path };
	sigset_t set, old_mask;
	struct sigaction sa = { .sa_handler = SIG_IGN };
	char *error = NULL, *desc;
	uint64_t t0 = now_ms();

	/* handled synchronously by sigtimedwait() in supervise() */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old_mask);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);

	sup.pid = getpid();
	apply_log_level(cfg);
	log_config_warnings(cfg);
	raise_nofile(cfg);
	if (generation_prepare(&sup.cur, cfg, NULL, &error) < 0) {
		log_multiline_error("start-failed", error);
		free(error);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		return 1;
	}
	sup.cur.number = 1;
	for (unsigned i = 0; i < sup.cur.n_slots; i++)
		spawn(&sup, i);
	desc = daemon_listeners_describe(&sup.cur.ls);
	log_info(NULL, "daemon", "ready", "listen=\"%s\" workers=%u runner=%s "
		 "start_ms=%llu", desc, sup.cur.n_workers,
		 sup.cur.n_slots > sup.cur.n_workers ? "yes" : "no",
		 (unsigned long long)(now_ms() - t0));
	free(desc);
	daemon_notify("READY=1");

	supervise(&sup, &set);

	log_info(NULL, "daemon", "stopped", "pid=%d", (int)sup.pid);
	generation_deinit(&sup.cur);
	array_free(&sup.draining);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	return sup.exit_status;
}
