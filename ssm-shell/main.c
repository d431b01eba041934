/* main.c - ssm-shell: the forced shell of token logins (SPEC sections 3 and 6).
 *
 * The order of things; each step's code lives in the file named:
 *   priv.c     sanitise, find this login's session record, load the document (root)
 *   priv.c     open the audit log and the transcript, register the live session, pty (root)
 *   selinux.c  the recorder's SELinux context, checked before anything is created
 *   priv.c     fork the session's pid namespace (session.c runs in it), drop to the
 *              recorder user
 *   selinux.c  the recorder enters its SELinux domain; only then the session starts
 *   relay.c    relay and record until the session ends (port.c for Port)
 *   main.c     session_end audit event, SID.end, pass the exit status on */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "asciicast.h"
#include "audit.h"
#include "log.h"
#include "shell.h"
#include "sink.h"
#include "util.h"

int shell_audit(struct shell *sh, const char *event, const cJSON *extra)
{
	struct ssm_audit_session s = {sh->rec->sid, sh->rec->sub, sh->rec->run_as,
	                              sh->rec->doc_name};

	return ssm_audit_write_fd(sh->audit_fd, ssm_now(), sh->cfg->host_id, event, &s, extra);
}

static void write_end_file(struct shell *sh, const struct shell_end *end)
{
	cJSON *o = cJSON_CreateObject();
	char *line = NULL;

	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "reason", end->reason);
	if (end->have_status)
		cJSON_AddNumberToObject(o, "exit_status", end->exit_status);
	else
		cJSON_AddNullToObject(o, "exit_status");
	line = cJSON_PrintUnformatted(o);
	if (line) {
		(void)ssm_write_all(sh->end_fd, line, strlen(line));
		(void)ssm_write_all(sh->end_fd, "\n", 1);
		(void)fdatasync(sh->end_fd);
	}
	free(line);
	cJSON_Delete(o);
}

int shell_finish(struct shell *sh, const struct shell_end *end, uint64_t bytes, const char *sha256)
{
	cJSON *extra = cJSON_CreateObject();
	int r;

	if (extra) {
		cJSON_AddStringToObject(extra, "reason", end->reason);
		if (end->have_status)
			cJSON_AddNumberToObject(extra, "exit_status", end->exit_status);
		else
			cJSON_AddNullToObject(extra, "exit_status");
		if (end->signal)
			cJSON_AddNumberToObject(extra, "exit_signal", end->signal);
		if (end->error)
			cJSON_AddStringToObject(extra, "error", end->error);
		if (sh->doc->type == SSM_SESSION_PORT) {
			cJSON_AddNumberToObject(extra, "bytes_in", (double)sh->port_bytes_in);
			cJSON_AddNumberToObject(extra, "bytes_out", (double)sh->port_bytes_out);
		} else {
			cJSON_AddNumberToObject(extra, "transcript_bytes", (double)bytes);
			if (sha256)
				cJSON_AddStringToObject(extra, "transcript_sha256", sha256);
		}
		cJSON_AddStringToObject(extra, "program", "ssm-shell");
	}
	r = shell_audit(sh, "session_end", extra);
	cJSON_Delete(extra);
	if (r < 0)
		ssm_log(LOG_ERR, "cannot write session_end to the audit log: %s", strerror(-r));
	else
		write_end_file(sh, end); /* only once session_end is in the log */

	if (strcmp(end->reason, "exit") == 0 && end->have_status) {
		if (end->signal) {
			sigset_t set;
			/* pass a fatal signal on as such (no core: we are not dumpable) */
			signal(end->signal, SIG_DFL);
			sigemptyset(&set);
			sigaddset(&set, end->signal);
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			raise(end->signal);
		}
		return end->exit_status;
	}
	if (strcmp(end->reason, "idle_timeout") == 0 || strcmp(end->reason, "max_duration") == 0)
		return SHELL_EXIT_LIMIT;
	if (strcmp(end->reason, "terminated") == 0)
		return SHELL_EXIT_TERMINATED;
	if (strcmp(end->reason, "disconnect") == 0)
		return SHELL_EXIT_DISCONNECT;
	return SHELL_EXIT_REFUSED;
}

static void block_session_signals(void)
{
	sigset_t set;

	/* held pending until the relay's signalfd reads them */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1); /* from the agent's session parent: the broker link is lost */
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
}

static void audit_start(struct shell *sh)
{
	cJSON *extra = cJSON_CreateObject();
	char path[4096];

	if (extra) {
		cJSON_AddStringToObject(extra, "session_type",
		                        ssm_session_type_name(sh->doc->type));
		cJSON_AddNumberToObject(extra, "pid", sh->self_pid);
		if (sh->command)
			cJSON_AddStringToObject(extra, "command", sh->command);
		if (sh->doc->type != SSM_SESSION_PORT) {
			snprintf(path, sizeof(path), "%s/sessions/%s.cast", sh->cfg->log_dir,
			         sh->rec->sid);
			cJSON_AddStringToObject(extra, "transcript", path);
		}
		cJSON_AddBoolToObject(extra, "pty", sh->use_pty);
	}
	if (shell_audit(sh, "shell_start", extra) < 0)
		shell_deny(sh, "audit", "cannot write to the audit log: no session");
	cJSON_Delete(extra);
}

static void new_recorder(struct shell *sh)
{
	struct ssm_rec_header hdr;
	struct ssm_sink *sink = NULL;
	char title[300];
	int r;

	r = ssm_sink_file_new(sh->cast_fd, &sink);
	if (r < 0)
		shell_deny(sh, "transcript", "transcript sink: %s", strerror(-r));
	snprintf(title, sizeof(title), "%s on %s", sh->rec->sid, sh->cfg->host_id);
	memset(&hdr, 0, sizeof(hdr));
	hdr.width = sh->ws.ws_col;
	hdr.height = sh->ws.ws_row;
	hdr.timestamp = sh->started;
	hdr.term = sh->term[0] ? sh->term : NULL;
	hdr.shell = sh->doc->type == SSM_SESSION_STANDARD_STREAM ? sh->user.shell : "/bin/sh";
	hdr.title = title;
	r = ssm_rec_new(sink, &hdr,
	                sh->cfg->transcript_max_bytes > 0 ? (uint64_t)sh->cfg->transcript_max_bytes
	                                                  : 0,
	                sh->mono_start, &sh->recorder_rec);
	if (r < 0)
		shell_deny(sh, "transcript", "transcript recorder: %s", strerror(-r));
}

/* Let the session's init start the session child (session.c waits for this byte): only once
 * the recorder has dropped privilege and is in its SELinux domain.  -1 if init is gone. */
static int start_session(struct shell *sh)
{
	ssize_t n;

	(void)signal(SIGPIPE, SIG_IGN); /* init gone: EPIPE, not our death (relay.c: the same) */
	do {
		n = write(sh->init_pipe[1], "g", 1);
	} while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer works through ptrace, which a non-dumpable process (every ssm-shell
 * process, on purpose) refuses: it would turn every exit into a failure. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

/* Our messages go to the client's standard error, which may be a terminal in raw mode. */
static void log_stderr(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	if (prio == LOG_DEBUG)
		return;
	fputs("ssm-shell: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(isatty(2) ? "\r\n" : "\n", stderr);
}

int main(int argc, char **argv)
{
	static struct shell sh;
	struct shell_end end;
	char sha[65] = "";
	uint64_t bytes = 0;
	int r;

	memset(&end, 0, sizeof(end));
	ssm_log_set_handler(log_stderr, NULL);
	shell_priv_startup(&sh, argc, argv);
	shell_selinux_prepare(&sh);
	shell_priv_prepare(&sh);
	block_session_signals();
	audit_start(&sh);

	if (sh.doc->type == SSM_SESSION_PORT) {
		r = shell_priv_drop_recorder(&sh);
		if (r < 0)
			shell_deny(&sh, "recorder_user", "cannot become the recorder user: %s",
			           strerror(-r));
		shell_selinux_recorder(&sh);
		shell_port_run(&sh, &end);
		return shell_finish(&sh, &end, 0, NULL);
	}

	new_recorder(&sh);
	shell_priv_spawn(&sh);
	r = shell_priv_drop_recorder(&sh);
	if (r < 0) {
		/* still root here: end the session we just started */
		(void)kill(sh.init_pid, SIGKILL);
		end.reason = "error";
		end.error = "cannot become the recorder user";
		ssm_log(LOG_ERR, "cannot become the recorder user: %s", strerror(-r));
		ssm_rec_free(sh.recorder_rec);
		return shell_finish(&sh, &end, 0, NULL);
	}
	shell_selinux_recorder(&sh); /* refuses (and init ends, unstarted) or returns */
	if (start_session(&sh) < 0) {
		int st;

		close(sh.init_pipe[1]);
		(void)kill(sh.init_pid, SIGKILL);
		while (waitpid(sh.init_pid, &st, 0) < 0 && errno == EINTR)
			;
		end.reason = "error";
		end.error = "the session's init ended before the session started";
		ssm_log(LOG_ERR, "%s", end.error);
		ssm_rec_free(sh.recorder_rec);
		return shell_finish(&sh, &end, 0, NULL);
	}
	shell_relay_run(&sh, &end);
	r = ssm_rec_close(sh.recorder_rec, &bytes, sha);
	ssm_rec_free(sh.recorder_rec);
	sh.recorder_rec = NULL;
	if (r < 0 && strcmp(end.reason, "error") != 0) {
		end.reason = "error";
		end.error = "transcript could not be completed";
	}
	return shell_finish(&sh, &end, bytes, sha[0] ? sha : NULL);
}
