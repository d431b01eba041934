/* session_priv.h - the agent's privileged session start (docs/ARCHITECTURE.md, "The host's
 * login"; SPEC section 8).
 *
 * ssm_asess_start forks a "session parent" (root) that logs the session in through the PAM
 * service ssm-session with the broker's token as the authentication token (pam_ssmsession
 * is the only judge), opens the PAM session (loginuid, limits, the session record),
 * writes utmp for a terminal, and starts the user's login shell (ssm-shell) as login(1)
 * would.  It never blocks on PAM: the caller gets the descriptors at once and learns the
 * outcome from messages on ctl_fd:
 *
 *   ok PID              the login shell runs as PID
 *   refused REASON      PAM refused the login (the step and PAM's words, never the token)
 *   error REASON        a host fault (no session): also PAM's PAM_SYSTEM_ERR, PAM_BUF_ERR,
 *                       PAM_ABORT, PAM_SERVICE_ERR, PAM_AUTHINFO_UNAVAIL
 *   exit HOW STATUS     the shell ended: HOW 1 exited (STATUS 0..255), 2 signaled (1..64)
 *
 * then EOF once the session parent has closed the PAM session and exits (the caller reaps
 * it: s->pid).  To the session parent, the caller sends "terminate" (ssm_asess_terminate):
 * SIGTERM to the shell, SIGKILL to its process group 1.5 s later.  Closing ctl_fd (or the
 * agent dying), or SIGTERM to the session parent, terminates the session the same way.
 * The session parent gives PAM 120 s (then it dies: EOF without a message); "terminate"
 * sent before "ok" takes effect as soon as the shell runs.
 *
 * The caller must be single-threaded when it calls ssm_asess_start (the session parent
 * runs PAM in the forked copy without exec). */
#ifndef SSM_SESSION_PRIV_H
#define SSM_SESSION_PRIV_H
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

struct ssm_asess_req {
	const char *user;     /* the run-as user (PAM judges it against the token) */
	char *token;          /* the signed session token, token_len bytes (no NUL inside);
	                       * the session parent wipes its own (copy-on-write) copy of
	                       * these bytes; the caller's copy stays the caller's to wipe */
	size_t token_len;
	const char *sid;      /* for checks and messages only: PAM takes everything from the token */
	const char *document;
	const char *term;     /* NULL or "": no terminal (cols and rows then 0) */
	unsigned cols, rows;  /* 1..4096 each with a terminal */
	const char *service;  /* the PAM service: "ssm-session" */
	const char *rhost;    /* PAM_RHOST and utmp's host (the broker), or NULL */
};

struct ssm_asess {
	pid_t pid;   /* the session parent (the caller reaps it) */
	int io_fd;   /* the pty master, or the agent's end of a SOCK_STREAM socket pair
	              * (shutdown(SHUT_WR) for the session's stdin EOF); nonblocking, CLOEXEC */
	int ctl_fd;  /* SOCK_SEQPACKET to the session parent; nonblocking, CLOEXEC */
	int out_fd;  /* with a terminal: the agent's end of a SOCK_STREAM socket pair that is
	              * the login shell's standard output when that shell is ssm-shell (its
	              * output then leaves without crossing the pty a second time; its
	              * standard error and input stay on the pty); the session child closes
	              * its end otherwise (EOF here).  Read it as well as io_fd: the session's
	              * output is what comes on both.  -1 without a terminal.  Nonblocking,
	              * CLOEXEC */
	int has_tty;
};

/* The RLIMIT_NOFILE the agent started with (before it raised its own for its sessions'
 * descriptors): every session parent puts it back, so that a session starts from the
 * system's limit, as an sshd login does, with pam_limits' on top. */
void ssm_asess_set_nofile(const struct rlimit *orig);

/* 0 with *s filled (the session parent runs; the outcome comes on ctl_fd), or -errno with
 * err set and nothing left open or running (a bad request: -EINVAL). */
int ssm_asess_start(const struct ssm_asess_req *r, struct ssm_asess *s, char *err,
		    size_t errlen);

/* Ask the session parent to end the session (reason "terminated"). 0 or -errno. */
int ssm_asess_terminate(struct ssm_asess *s);
/* The same, reason "error": the session's channel was lost (PROTOCOL.md section 6, the
 * resumption grace passed, or the broker lost it).  0 or -errno. */
int ssm_asess_lost(struct ssm_asess *s);

#define SSM_ASESS_MSG_MAX 255 /* bytes of one control message */

enum ssm_asess_msg_type {
	SSM_ASESS_MSG_OK = 1,
	SSM_ASESS_MSG_REFUSED,
	SSM_ASESS_MSG_ERROR,
	SSM_ASESS_MSG_EXIT,
};

struct ssm_asess_msg {
	enum ssm_asess_msg_type type;
	pid_t pid;                          /* OK: the login shell's pid */
	int how, status;                    /* EXIT: 1 exited (0..255), 2 signaled (1..64) */
	char text[SSM_ASESS_MSG_MAX + 1];   /* REFUSED, ERROR: the reason (printable ASCII) */
};

/* Read one message from the session parent (fd nonblocking).  1: *m filled; 0: nothing
 * waiting now; -EPIPE: EOF (the session parent closed its end: it is done); -EPROTO: a
 * message that is not exactly one of the above; other -errno: read error. */
int ssm_asess_ctl_read(int fd, struct ssm_asess_msg *m);

#endif
