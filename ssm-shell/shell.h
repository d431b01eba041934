/* shell.h - ssm-shell internals shared by main.c, priv.c, session.c, relay.c and port.c.
 *
 * Process tree of one session (see docs/SECURITY.md):
 *
 *   ssm-shell (setuid root) --priv.c--> recorder (drops to cfg->recorder_user, then
 *        |                              SELinux ssm_recorder_t: selinux.c; relay.c/port.c)
 *        \-- fork into a new pid namespace: session init (pid 1, waits for the recorder's
 *               |  go, drops to the recorder user)
 *               \-- session child: setsid, pty, environment, seccomp, run-as user, exec
 */
#ifndef SSM_SHELL_H
#define SSM_SHELL_H
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <termios.h>
#include <sys/ioctl.h>

#include "../lib/config.h" /* struct ssm_config (the autoconf config.h shares the name) */
#include "document.h"
#include "record.h"
#include "asciicast.h"
#include "secontext.h"

/* exit codes of ssm-shell itself (a normal session passes on the child's status) */
#define SHELL_EXIT_REFUSED 1      /* login refused, error */
#define SHELL_EXIT_USAGE 2        /* bad arguments */
#define SHELL_EXIT_LIMIT 124      /* idle_timeout or max_duration (as timeout(1)) */
#define SHELL_EXIT_TERMINATED 143 /* 128 + SIGTERM */
#define SHELL_EXIT_DISCONNECT 129 /* 128 + SIGHUP */

#define SHELL_NAME_MAX 256

struct shell_user {
	char name[SHELL_NAME_MAX];
	uid_t uid;
	gid_t gid;
	char home[1024];
	char shell[1024];
};

struct shell {
	/* from the command line and the caller's environment (validated) */
	int login;     /* argv[0] started with '-' */
	char *command; /* -c COMMAND, or NULL */
	const char *config_path;
	char term[64]; /* validated TERM or "" */
	char lang[64]; /* validated LANG or "" */
	struct rlimit caller_cpu; /* RLIMIT_CPU as the caller set it: the session's */
	int caller_cpu_saved;

	struct ssm_config *cfg;
	struct ssm_record *rec;
	struct ssm_document *doc;
	char *rendered; /* command types: the rendered linux.commands */
	int port;       /* Port */
	uint64_t port_bytes_in, port_bytes_out;

	struct shell_user user;     /* the run-as (= login) user */
	struct shell_user recorder; /* cfg->recorder_user */
	gid_t tty_gid;

	/* descriptors held by the recorder */
	int audit_fd;
	int cast_fd;   /* transcript, -1 for Port */
	int end_fd;    /* run_dir/live/SID.end */
	int master_fd; /* pty master, -1 without pty */
	int slave_fd;  /* pty slave (closed in the recorder after the fork) */
	int use_pty;
	int outer_tty; /* fd 0 is a terminal */
	struct winsize ws;
	int in_fd, out_fd, err_fd;          /* pipes mode: recorder ends (-1 if unused) */
	int child_in, child_out, child_err; /* pipes mode: child ends */
	int init_pipe[2];                   /* recorder holds [1]; EOF kills the session */
	int status_pipe[2]; /* init writes the wait status of the session child to [1] */
	pid_t init_pid;     /* as the recorder sees it */
	pid_t self_pid;
	uint64_t self_starttime;

	/* SELinux (selinux.c): the recorder's context, "" for none; security_getenforce() */
	char se_recorder[SSM_SECONTEXT_MAX + 1];
	int se_enforcing;

	struct ssm_rec *recorder_rec; /* asciicast recorder over cast_fd */
	int64_t started;              /* wall clock */
	uint64_t mono_start;          /* CLOCK_MONOTONIC ns */
};

/* the session's end, for the audit event and SID.end */
struct shell_end {
	const char *reason; /* exit idle_timeout max_duration terminated error disconnect */
	int have_status;
	int exit_status;   /* 0..255, 128+N for signal N */
	int signal;        /* fatal signal of the session child, 0 if none */
	const char *error; /* detail for reason "error", or NULL */
};

/* priv.c: everything that runs with privilege before the processes split */
int shell_priv_startup(struct shell *sh, int argc, char **argv);
int shell_priv_prepare(struct shell *sh);
int shell_priv_spawn(struct shell *sh);
int shell_priv_drop_to(const struct shell_user *u, int init_groups);
int shell_priv_drop_recorder(struct shell *sh);
void shell_deny(struct shell *sh, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* session.c: the session init and child (run after the fork, in the new pid namespace) */
void shell_session_init(struct shell *sh) __attribute__((noreturn));

/* relay.c: the recorder's event loop for pty and pipe sessions */
int shell_relay_run(struct shell *sh, struct shell_end *end);
uint64_t shell_mono_ns(void);
int shell_timeout_ms(uint64_t now, uint64_t next);

/* port.c: Port sessions */
int shell_port_run(struct shell *sh, struct shell_end *end);

/* main.c / relay.c: audit helper with the session fields filled in */
int shell_audit(struct shell *sh, const char *event, const cJSON *extra);
/* write session_end and SID.end; returns the exit code for ssm-shell */
int shell_finish(struct shell *sh, const struct shell_end *end, uint64_t bytes, const char *sha256);

/* selinux.c: the recorder's own domain; both return only when the session may go on */
void shell_selinux_prepare(struct shell *sh);
void shell_selinux_recorder(struct shell *sh);

/* small helpers */
int shell_name_ok(const char *s, size_t maxlen);

#endif
