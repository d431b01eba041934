/* session_priv.c - the agent's privileged session start (session_priv.h).
 *
 * Two processes besides the agent:
 *
 *   session parent  forked by ssm_asess_start; root.  Sanitises what it inherited from the
 *                   agent (descriptors, signals, environment), runs PAM (service
 *                   ssm-session: auth with the token, account, setcred, open_session),
 *                   writes utmp for a terminal, starts the session child, reports on the
 *                   control socket, waits for the child, terminates it when told, and
 *                   closes the PAM session.  pam_ssmsession writes the session record
 *                   under this process's pid: ssm-shell, its child, finds it as its parent.
 *   session child   setsid, the pty as controlling terminal (or the socket end) on 0/1/2
 *                   (for ssm-shell with a terminal, the output socket on 1, and the
 *                   shell run through the descriptor it was checked on),
 *                   the user's gid and uid (groups from initgroups and pam_setcred in the
 *                   parent), the home directory, login(1)'s environment plus PAM's, and
 *                   execve of the user's login shell as "-NAME" (a login shell).
 *
 * Descriptors in the session parent: 0-2 /dev/null, CTL_FD the control socket, IO_FD the
 * pty slave (closed once the child has it) or the session's socket end, OUT_FD with a
 * terminal the output socket's shell end (closed once the child has it), nothing else from
 * the agent.  The token exists in the session parent only in its copy of the request and
 * in libpam's reply to the one prompt that gets it; it is wiped after pam_authenticate. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <paths.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <utmpx.h>
#include <security/pam_appl.h>
#include "session_priv.h"

#define CTL_FD 3
#define IO_FD 4
#define OUT_FD 5 /* with a terminal: the output socket (ssm_asess.out_fd's other end) */
#define TOKEN_MAX 16384      /* pam_ssmsession refuses more than 4096 anyway */
#define KILL_AFTER_MS 1500   /* SIGTERM to the shell, then SIGKILL to its process group */
#define LOGIN_GRACE_S 120    /* PAM must be done by then (sshd's LoginGraceTime) */
#define ENV_MAX 128
#define PATH_USER "/usr/local/bin:/usr/bin:/bin"
#define PATH_ROOT "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ------------------------------------------------------------------ the request */

static int char_ok(unsigned char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr(extra, c) != NULL);
}

/* 1..max bytes, each a letter, a digit or one of extra */
static int chars_ok(const char *s, size_t max, const char *extra)
{
	size_t n;

	if (s == NULL)
		return 0;
	for (n = 0; s[n]; n++)
		if (n >= max || !char_ok((unsigned char)s[n], extra))
			return 0;
	return n > 0;
}

/* 1..max printable ASCII bytes without space */
static int plain_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return 0;
	for (n = 0; s[n]; n++)
		if (n >= max || (unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e)
			return 0;
	return n > 0;
}

static int check_req(const struct ssm_asess_req *r, char *err, size_t errlen)
{
	size_t i;
	int tty;

	/* a user name as useradd makes them (and @ for directory users); never an option */
	if (!chars_ok(r->user, 64, "._-@") || r->user[0] == '-' || r->user[0] == '.') {
		snprintf(err, errlen, "invalid user name");
		return -1;
	}
	if (r->token == NULL || r->token_len == 0 || r->token_len > TOKEN_MAX) {
		snprintf(err, errlen, "invalid token length");
		return -1;
	}
	for (i = 0; i < r->token_len; i++) /* a JWS: base64url and dots, no NUL */
		if (!char_ok((unsigned char)r->token[i], "-_.")) {
			snprintf(err, errlen, "invalid token characters");
			return -1;
		}
	if (!plain_ok(r->sid, 128) || !plain_ok(r->document, 128)) {
		snprintf(err, errlen, "invalid session id or document name");
		return -1;
	}
	if (!chars_ok(r->service, 64, "._-") || r->service[0] == '.') {
		snprintf(err, errlen, "invalid PAM service name");
		return -1;
	}
	if (r->rhost != NULL && !plain_ok(r->rhost, 255)) {
		snprintf(err, errlen, "invalid remote host name");
		return -1;
	}
	tty = r->term != NULL && r->term[0] != '\0';
	if (tty ? !chars_ok(r->term, 64, "._+-") || r->cols < 1 || r->cols > 4096 ||
			  r->rows < 1 || r->rows > 4096
		: r->cols != 0 || r->rows != 0) {
		snprintf(err, errlen, "invalid terminal (name %s, %ux%u)", tty ? "given" : "empty",
			 r->cols, r->rows);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ session parent */

static struct rlimit nofile_orig;
static int nofile_set;

void ssm_asess_set_nofile(const struct rlimit *orig)
{
	nofile_orig = *orig;
	nofile_set = 1;
}

struct sp {
	const struct ssm_asess_req *r;
	int tty;
	int out;                /* OUT_FD is open (a terminal session) */
	pam_handle_t *pamh;
	int pam_rc;
	int token_given;        /* the conversation answered the one prompt */
	char pam_msg[128];      /* the last PAM_ERROR_MSG, for the refusal */
	int cred, opened;
	struct passwd pw;
	char *pwbuf;
	gid_t tty_gid;
	char tty_path[64];      /* /dev/pts/N */
	dev_t tty_rdev;
	int utmp;
	char **env, **argv;
	pid_t child;
	int exit_fd;            /* the child's exec report pipe, read end */
};

static void close_from(int lowfd)
{
	long max, fd;

	if (close_range((unsigned)lowfd, ~0U, 0) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 1048576)
		max = 1048576;
	for (fd = lowfd; fd < max; fd++)
		(void)close((int)fd);
}

/* Send one control message (the agent may be gone: errors are ignored, never SIGPIPE). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[SSM_ASESS_MSG_MAX + 1];
	va_list ap;
	size_t i, n;
	ssize_t w;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	for (i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			buf[i] = '?';
	do
		w = send(CTL_FD, buf, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
}

/* The conversation: the token for the first PAM_PROMPT_ECHO_OFF, nothing for anything else
 * (a second secret prompt or an echo-on prompt fails the conversation). */
static int conv(int num, const struct pam_message **msg, struct pam_response **resp,
		void *data)
{
	struct sp *p = data;
	struct pam_response *rs;
	int i;

	*resp = NULL;
	if (num <= 0 || num > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	rs = calloc((size_t)num, sizeof(*rs));
	if (rs == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < num; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (p->token_given || p->r->token == NULL)
				goto fail;
			rs[i].resp = strndup(p->r->token, p->r->token_len);
			if (rs[i].resp == NULL)
				goto fail;
			p->token_given = 1;
			break;
		case PAM_ERROR_MSG:
			if (msg[i]->msg != NULL)
				snprintf(p->pam_msg, sizeof(p->pam_msg), "%s", msg[i]->msg);
			break;
		case PAM_TEXT_INFO:
			break;
		default: /* echo-on prompts, binary messages */
			goto fail;
		}
	}
	*resp = rs;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < num; i++)
		if (rs[i].resp != NULL) {
			explicit_bzero(rs[i].resp, strlen(rs[i].resp));
			free(rs[i].resp);
		}
	free(rs);
	return PAM_CONV_ERR;
}

/* PAM said no: "refused", or "error" for what is the host's fault, not the login's */
static void refused(struct sp *p, const char *step, int rc)
{
	const char *what = "refused";

	switch (rc) {
	case PAM_SYSTEM_ERR:
	case PAM_BUF_ERR:
	case PAM_ABORT:
	case PAM_SERVICE_ERR:
	case PAM_AUTHINFO_UNAVAIL:
		what = "error";
		break;
	default:
		break;
	}
	if (p->pam_msg[0])
		say("%s %s: %s (%s)", what, step, pam_strerror(p->pamh, rc), p->pam_msg);
	else
		say("%s %s: %s", what, step, pam_strerror(p->pamh, rc));
}

static void copy_field(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	memset(dst, 0, size);
	memcpy(dst, src ? src : "", n < size ? n : size);
}

/* utmp and wtmp as login(1) writes them: USER_PROCESS at the start, DEAD_PROCESS at the
 * end, keyed by the line (pts/N) and its id.  A failure is logged, not fatal (login). */
static void utmp_write(struct sp *p, int dead)
{
	const char *line = p->tty_path + 5; /* "pts/N" */
	size_t ll = strlen(line);
	struct utmpx ut;
	struct timeval tv;

	memset(&ut, 0, sizeof(ut));
	ut.ut_type = dead ? DEAD_PROCESS : USER_PROCESS;
	ut.ut_pid = p->child;
	copy_field(ut.ut_line, sizeof(ut.ut_line), line);
	copy_field(ut.ut_id, sizeof(ut.ut_id),
		   ll > sizeof(ut.ut_id) ? line + ll - sizeof(ut.ut_id) : line);
	if (!dead) {
		copy_field(ut.ut_user, sizeof(ut.ut_user), p->pw.pw_name);
		copy_field(ut.ut_host, sizeof(ut.ut_host), p->r->rhost);
	}
	if (gettimeofday(&tv, NULL) == 0) {
		ut.ut_tv.tv_sec = (int32_t)tv.tv_sec;
		ut.ut_tv.tv_usec = (int32_t)tv.tv_usec;
	}
	setutxent();
	if (pututxline(&ut) == NULL)
		syslog(LOG_WARNING, "ssm-agent session: utmp %s: %m", line);
	endutxent();
	updwtmpx(_PATH_WTMP, &ut);
}

/* name=value with a plain name; replaces an earlier value of that name */
static int env_set(char **env, size_t *n, char *entry)
{
	const char *eq = strchr(entry, '=');
	size_t i, len;

	if (eq == NULL || eq == entry || (entry[0] >= '0' && entry[0] <= '9'))
		return -1;
	len = (size_t)(eq - entry);
	for (i = 0; i < len; i++)
		if (!char_ok((unsigned char)entry[i], "_"))
			return -1;
	for (i = 0; i < *n; i++)
		if (strncmp(env[i], entry, len + 1) == 0) {
			free(env[i]);
			env[i] = entry;
			return 0;
		}
	if (*n + 1 >= ENV_MAX)
		return -1;
	env[(*n)++] = entry;
	env[*n] = NULL;
	return 0;
}

static int env_add(char **env, size_t *n, const char *name, const char *value)
{
	char *e;

	if (asprintf(&e, "%s=%s", name, value) < 0)
		return -1;
	if (env_set(env, n, e) < 0) {
		free(e);
		return -1;
	}
	return 0;
}

/* The user's login shell as login(1) runs it: passwd's, or /bin/sh when it names none. */
static const char *login_shell(const struct sp *p)
{
	return p->pw.pw_shell && p->pw.pw_shell[0] ? p->pw.pw_shell : _PATH_BSHELL;
}

/* login(1)'s environment (HOME, SHELL, USER, LOGNAME, PATH, MAIL, TERM), then PAM's. */
static int build_exec(struct sp *p)
{
	const char *shell = login_shell(p);
	const char *base = strrchr(shell, '/');
	char **pamenv, *mail = NULL;
	size_t n = 0, i;
	int bad = 0;

	p->env = calloc(ENV_MAX, sizeof(char *));
	p->argv = calloc(2, sizeof(char *));
	if (p->env == NULL || p->argv == NULL)
		return -1;
	if (asprintf(&p->argv[0], "-%s", base ? base + 1 : shell) < 0) {
		p->argv[0] = NULL;
		return -1;
	}
	if (asprintf(&mail, "%s/%s", _PATH_MAILDIR, p->pw.pw_name) < 0)
		return -1;
	bad = env_add(p->env, &n, "HOME", p->pw.pw_dir) < 0 ||
	      env_add(p->env, &n, "SHELL", shell) < 0 ||
	      env_add(p->env, &n, "USER", p->pw.pw_name) < 0 ||
	      env_add(p->env, &n, "LOGNAME", p->pw.pw_name) < 0 ||
	      env_add(p->env, &n, "PATH", p->pw.pw_uid == 0 ? PATH_ROOT : PATH_USER) < 0 ||
	      env_add(p->env, &n, "MAIL", mail) < 0 ||
	      (p->tty && env_add(p->env, &n, "TERM", p->r->term) < 0);
	free(mail);
	if (bad)
		return -1;
	pamenv = pam_getenvlist(p->pamh);
	for (i = 0; pamenv != NULL && pamenv[i] != NULL; i++)
		if (env_set(p->env, &n, pamenv[i]) < 0)
			free(pamenv[i]); /* not a plain NAME=value, or too many: left out */
	free(pamenv);
	return 0;
}

struct child_fail {
	int err;
	char step[40];
};

static void child_fail(int fd, const char *step, int err) __attribute__((noreturn));
static void child_fail(int fd, const char *step, int err)
{
	struct child_fail f;
	ssize_t w;

	memset(&f, 0, sizeof(f));
	f.err = err;
	copy_field(f.step, sizeof(f.step) - 1, step);
	do
		w = write(fd, &f, sizeof(f));
	while (w < 0 && errno == EINTR);
	_exit(127);
}

static void signals_default(void)
{
	sigset_t none;
	int i;

	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			(void)signal(i, SIG_DFL); /* EINVAL for the C library's own: fine */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The login shell when it is ssm-shell, opened to be run through this descriptor: its
 * standard output may then be the output socket (session_priv.h, out_fd).  ssm-shell relays
 * the session through a pty of its own with its terminal in raw mode, so its output needs
 * nothing of the outer pty's line discipline.  Only the setuid-root binary on a mount that
 * honours setuid, run without no_new_privs, qualifies: the session user can then neither
 * trace it nor take its descriptors, and a copy of the socket, unlike one of the pty, could
 * not be hung up.  Called as the user, just before the exec: the path is looked up with the
 * user's rights, as execve would (O_PATH: nothing of the file is opened).  -1: run the
 * shell by its path with the pty on 0-2 (any other shell; programs that test isatty(1) get
 * a terminal). */
static int open_ssm_shell(const struct sp *p)
{
	const char *sh = login_shell(p);
	const char *base = strrchr(sh, '/');
	struct statvfs vfs;
	struct stat st;
	int fd;

	if (!p->out || strcmp(base ? base + 1 : sh, "ssm-shell") != 0 || sh[0] != '/' ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
		return -1;
	fd = open(sh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    !(st.st_mode & S_ISUID) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    fstatvfs(fd, &vfs) != 0 || (vfs.f_flag & ST_NOSUID) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The session child: never returns; a failure before the shell runs is reported on efd. */
static void session_child(struct sp *p, int efd) __attribute__((noreturn));
static void session_child(struct sp *p, int efd)
{
	uid_t uid = p->pw.pw_uid, ru, eu, su;
	gid_t gid = p->pw.pw_gid, rg, eg, sg;
	int i, shfd;
	const char *shell = login_shell(p);

	signals_default();
	/* the report pipe on 3 (close-on-exec), the session's end on 0-2, nothing else; for
	 * ssm-shell with a terminal, the output socket on 1 (session_priv.h, out_fd) */
	if (dup3(efd, CTL_FD, O_CLOEXEC) != CTL_FD)
		child_fail(efd, "dup3", errno);
	efd = CTL_FD;
	for (i = 0; i < 3; i++)
		if (dup2(IO_FD, i) != i)
			child_fail(efd, "dup2", errno);
	/* the output socket stays on OUT_FD (close-on-exec) until the shell is known */
	close(IO_FD);
	close_from(p->out ? OUT_FD + 1 : IO_FD);
	if (setsid() < 0)
		child_fail(efd, "setsid", errno);
	if (p->tty) {
		struct winsize ws;

		memset(&ws, 0, sizeof(ws));
		ws.ws_col = (unsigned short)p->r->cols;
		ws.ws_row = (unsigned short)p->r->rows;
		if (ioctl(0, TIOCSCTTY, 0) != 0)
			child_fail(efd, "TIOCSCTTY", errno);
		if (ioctl(0, TIOCSWINSZ, &ws) != 0)
			child_fail(efd, "TIOCSWINSZ", errno);
	}
	/* the groups are the session parent's: initgroups, then pam_setcred's additions */
	if (setresgid(gid, gid, gid) != 0)
		child_fail(efd, "setresgid", errno);
	if (setresuid(uid, uid, uid) != 0)
		child_fail(efd, "setresuid", errno);
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		child_fail(efd, "getresuid", errno);
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		child_fail(efd, "user and group ids", EPERM);
	if (uid != 0 && (setuid(0) == 0 || setgid(0) == 0))
		child_fail(efd, "root regained", EPERM);
	/* as sshd: without the home directory, the session starts in / (HOME unchanged) */
	if (chdir(p->pw.pw_dir) != 0 && chdir("/") != 0)
		child_fail(efd, "chdir", errno);
	shfd = open_ssm_shell(p);
	if (shfd >= 0) {
		if (dup2(OUT_FD, 1) != 1)
			child_fail(efd, "dup2", errno);
		fexecve(shfd, p->argv, p->env);
		/* not run (a script: its interpreter could not open a close-on-exec
		 * descriptor): by its path, with the pty on 1 again */
		if (dup2(0, 1) != 1)
			child_fail(efd, "dup2", errno);
	}
	execve(shell, p->argv, p->env);
	child_fail(efd, "execve", errno);
}

/* Start the child; 0 once its shell runs, else -1 with the error said. */
static int start_child(struct sp *p)
{
	struct child_fail f;
	int ep[2];
	ssize_t n;
	size_t got = 0;
	int st;

	if (pipe2(ep, O_CLOEXEC) != 0) {
		say("error pipe: %s", strerror(errno));
		return -1;
	}
	p->child = fork();
	if (p->child < 0) {
		say("error fork: %s", strerror(errno));
		close(ep[0]);
		close(ep[1]);
		return -1;
	}
	if (p->child == 0) {
		close(ep[0]);
		session_child(p, ep[1]);
	}
	close(ep[1]);
	memset(&f, 0, sizeof(f));
	for (;;) {
		n = read(ep[0], (char *)&f + got, sizeof(f) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(f))
			break;
	}
	close(ep[0]);
	if (got == 0 && n == 0)
		return 0; /* closed by the execve */
	while (waitpid(p->child, &st, 0) < 0 && errno == EINTR)
		;
	p->child = 0;
	f.step[sizeof(f.step) - 1] = '\0';
	if (got == sizeof(f))
		say("error starting the shell: %s: %s", f.step, strerror(f.err));
	else
		say("error starting the shell: no report");
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the child; end it when told.  Returns its wait status. */
static int supervise(struct sp *p, int sfd)
{
	int64_t kill_at = 0;
	int terminating = 0, killed = 0, ctl_open = 1, st;

	for (;;) {
		struct pollfd pfd[2];
		int timeout = -1, tell = 0, lost = 0;
		pid_t w;

		w = waitpid(p->child, &st, WNOHANG);
		if (w == p->child)
			return st;
		if (w < 0 && errno != EINTR)
			return -1;
		if (terminating && !killed) {
			int64_t left = kill_at - now_ms();

			if (left <= 0) {
				/* the shell did not end on SIGTERM: its process group, then it */
				(void)kill(-p->child, SIGKILL);
				(void)kill(p->child, SIGKILL);
				killed = 1;
			} else {
				timeout = (int)left;
			}
		}
		pfd[0].fd = ctl_open ? CTL_FD : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				if (si.ssi_signo == SIGTERM)
					tell = 1; /* the agent's unit stopping: as terminate */
		}
		if (pfd[0].revents) {
			char buf[64];
			ssize_t n = recv(CTL_FD, buf, sizeof(buf) - 1, MSG_DONTWAIT);

			if (n > 0) {
				buf[n] = '\0';
				if ((size_t)n == strlen("terminate") &&
				    memcmp(buf, "terminate", (size_t)n) == 0)
					tell = 1;
				if ((size_t)n == strlen("lost") && memcmp(buf, "lost", (size_t)n) == 0)
					tell = lost = 1;
				/* anything else from the agent: ignored */
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				/* POLICY: the agent closed the control socket or died.  A session
				 * must never outlive its agent's control: terminate it.  (The
				 * agent keeps it open through its resumption grace period.) */
				ctl_open = 0;
				tell = 1;
			}
		}
		if (tell && !terminating) {
			terminating = 1;
			kill_at = now_ms() + KILL_AFTER_MS;
			/* ssm-shell ends with reason terminated, or error when the channel
			 * was lost (SIGUSR1) */
			(void)kill(p->child, lost ? SIGUSR1 : SIGTERM);
		}
	}
}

/* Undo what was set up, in reverse; the process then exits. */
static void finish(struct sp *p) __attribute__((noreturn));
static void finish(struct sp *p)
{
	if (p->utmp)
		utmp_write(p, 1);
	if (p->tty && p->tty_path[0]) {
		/* give the terminal back to root (sshd's pty_release), if it is still ours */
		struct stat st;
		int fd = open(p->tty_path, O_RDWR | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

		if (fd >= 0) {
			if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == p->tty_rdev &&
			    (fchown(fd, 0, 0) != 0 || fchmod(fd, 0600) != 0))
				syslog(LOG_WARNING, "ssm-agent session: %s: %m", p->tty_path);
			close(fd);
		}
	}
	if (p->pamh != NULL) {
		if (p->opened)
			(void)pam_close_session(p->pamh, 0);
		if (p->cred)
			(void)pam_setcred(p->pamh, PAM_DELETE_CRED);
		(void)pam_end(p->pamh, p->pam_rc);
	}
	_exit(0);
}

static void session_parent(const struct ssm_asess_req *r, int tty, int io, int ctl, int out)
	__attribute__((noreturn));
static void session_parent(const struct ssm_asess_req *r, int tty, int io, int ctl, int out)
{
	struct pam_conv pc;
	struct sp p;
	struct stat st;
	struct passwd *pwr = NULL;
	struct group *gr;
	const void *item = NULL;
	sigset_t set;
	long bufsize;
	int a, b, c, fd, sfd, rc, i;

	/* descriptors: the control socket on 3, the session's end on 4, /dev/null on 0-2 */
	a = fcntl(ctl, F_DUPFD_CLOEXEC, OUT_FD + 1);
	b = fcntl(io, F_DUPFD_CLOEXEC, OUT_FD + 1);
	c = out >= 0 ? fcntl(out, F_DUPFD_CLOEXEC, OUT_FD + 1) : -1;
	if (a < 0 || b < 0 || (out >= 0 && c < 0) || dup3(a, CTL_FD, O_CLOEXEC) != CTL_FD ||
	    dup3(b, IO_FD, O_CLOEXEC) != IO_FD || (c >= 0 && dup3(c, OUT_FD, O_CLOEXEC) != OUT_FD))
		_exit(1); /* the agent sees EOF without a word */
	close_from(c >= 0 ? OUT_FD + 1 : IO_FD + 1);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		say("error /dev/null: %s", strerror(errno));
		_exit(1);
	}
	for (i = 0; i < 3; i++)
		if (fd != i && dup2(fd, i) != i) {
			say("error dup2: %s", strerror(errno));
			_exit(1);
		}
	if (fd > 2)
		close(fd);
	if (nofile_set && setrlimit(RLIMIT_NOFILE, &nofile_orig) != 0) {
		say("error setrlimit: %s", strerror(errno));
		_exit(1);
	}

	/* signals: all default, none blocked; then SIGCHLD and SIGTERM through a signalfd,
	 * no death by SIGHUP, SIGINT, SIGQUIT or SIGPIPE (the session's cleanup must run) */
	signals_default();
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		say("error signals: %s", strerror(errno));
		_exit(1);
	}
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGQUIT, SIG_IGN);
	(void)signal(SIGPIPE, SIG_IGN);

	/* nothing of the agent's environment; a new session without a terminal */
	if (clearenv() != 0 || setenv("PATH", PATH_ROOT, 1) != 0 || setsid() < 0 ||
	    chdir("/") != 0) {
		say("error environment: %s", strerror(errno));
		_exit(1);
	}
	umask(022);
	/* this process holds a copy of the agent's memory (its keys, other OPEN frames): no
	 * core dump of it (execve gives the shell its own dumpable state) */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		say("error prctl: %s", strerror(errno));
		_exit(1);
	}
	openlog("ssm-agent", LOG_PID, LOG_AUTHPRIV);

	memset(&p, 0, sizeof(p));
	p.r = r;
	p.tty = tty;
	p.out = c >= 0;
	p.tty_gid = (gid_t)-1;
	if (tty) {
		rc = ttyname_r(IO_FD, p.tty_path, sizeof(p.tty_path));
		if (rc != 0 || strncmp(p.tty_path, "/dev/", 5) != 0 || fstat(IO_FD, &st) != 0) {
			say("error the terminal has no name: %s", rc ? strerror(rc) : "not in /dev");
			_exit(1);
		}
		p.tty_rdev = st.st_rdev;
	}

	/* PAM: pam_ssmsession judges the token (auth), the account and the session.  A PAM
	 * that hangs must not keep a root process forever: SIGALRM's default action ends
	 * this one (the agent sees EOF without a word) */
	alarm(LOGIN_GRACE_S);
	pc.conv = conv;
	pc.appdata_ptr = &p;
	rc = pam_start(r->service, r->user, &pc, &p.pamh);
	if (rc != PAM_SUCCESS) {
		say("error pam_start: %s", pam_strerror(p.pamh, rc));
		explicit_bzero(r->token, r->token_len);
		_exit(1);
	}
	p.pam_rc = pam_set_item(p.pamh, PAM_TTY, tty ? p.tty_path : "ssm");
	if (p.pam_rc == PAM_SUCCESS && r->rhost != NULL)
		p.pam_rc = pam_set_item(p.pamh, PAM_RHOST, r->rhost);
	if (p.pam_rc != PAM_SUCCESS) {
		explicit_bzero(r->token, r->token_len);
		say("error pam_set_item: %s", pam_strerror(p.pamh, p.pam_rc));
		finish(&p);
	}
	p.pam_rc = pam_authenticate(p.pamh, 0);
	explicit_bzero(r->token, r->token_len); /* our copy; libpam's reply went to the module */
	if (p.pam_rc != PAM_SUCCESS) {
		refused(&p, "authentication", p.pam_rc);
		finish(&p);
	}
	p.pam_rc = pam_acct_mgmt(p.pamh, 0);
	if (p.pam_rc == PAM_NEW_AUTHTOK_REQD) {
		/* no password to change here: refused, as a login without a terminal would be */
		say("refused account: a new password is required");
		finish(&p);
	}
	if (p.pam_rc != PAM_SUCCESS) {
		refused(&p, "account", p.pam_rc);
		finish(&p);
	}
	/* the user PAM approved must be the one asked for (a module may change PAM_USER) */
	if (pam_get_item(p.pamh, PAM_USER, &item) != PAM_SUCCESS || item == NULL ||
	    strcmp(item, r->user) != 0) {
		say("refused account: PAM changed the user");
		finish(&p);
	}
	bufsize = sysconf(_SC_GETPW_R_SIZE_MAX);
	if (bufsize < 16384)
		bufsize = 16384;
	p.pwbuf = malloc((size_t)bufsize);
	if (p.pwbuf == NULL) {
		say("error out of memory");
		finish(&p);
	}
	rc = getpwnam_r(r->user, &p.pw, p.pwbuf, (size_t)bufsize, &pwr);
	if (rc != 0 || pwr == NULL) {
		if (rc != 0)
			say("error getpwnam: %s", strerror(rc));
		else
			say("refused account: no such user");
		finish(&p);
	}
	if (p.pw.pw_dir == NULL || p.pw.pw_dir[0] != '/') {
		say("error the user's home directory is not an absolute path");
		finish(&p);
	}
	if (tty) {
		/* the terminal is the user's, group tty, as login(1) and sshd make it */
		gr = getgrnam("tty");
		p.tty_gid = gr != NULL ? gr->gr_gid : (gid_t)-1;
		if (fchown(IO_FD, p.pw.pw_uid, p.tty_gid) != 0 ||
		    fchmod(IO_FD, p.tty_gid != (gid_t)-1 ? 0620 : 0600) != 0) {
			say("error %s: %s", p.tty_path, strerror(errno));
			finish(&p);
		}
	}
	if (initgroups(p.pw.pw_name, p.pw.pw_gid) != 0) {
		say("error initgroups: %s", strerror(errno));
		finish(&p);
	}
	p.pam_rc = pam_setcred(p.pamh, PAM_ESTABLISH_CRED);
	if (p.pam_rc != PAM_SUCCESS) {
		refused(&p, "credentials", p.pam_rc);
		finish(&p);
	}
	p.cred = 1;
	p.pam_rc = pam_open_session(p.pamh, 0);
	if (p.pam_rc != PAM_SUCCESS) {
		refused(&p, "session", p.pam_rc);
		finish(&p);
	}
	p.opened = 1;
	alarm(0);
	if (build_exec(&p) < 0) {
		say("error out of memory");
		finish(&p);
	}
	if (start_child(&p) < 0)
		finish(&p);
	/* the child's now: the agent's end sees EOF (hang-up) when the session's is gone */
	close(IO_FD);
	if (p.out)
		close(OUT_FD);
	if (tty) {
		utmp_write(&p, 0);
		p.utmp = 1;
	}
	say("ok %ld", (long)p.child);
	rc = supervise(&p, sfd);
	if (rc == -1) {
		/* cannot supervise it any more: it must not run on unsupervised */
		say("error waiting for the shell: %s", strerror(errno));
		(void)kill(-p.child, SIGKILL);
		(void)kill(p.child, SIGKILL);
		while (waitpid(p.child, &rc, 0) < 0 && errno == EINTR)
			;
	}
	else if (WIFEXITED(rc))
		say("exit 1 %d", WEXITSTATUS(rc));
	else if (WIFSIGNALED(rc))
		say("exit 2 %d", WTERMSIG(rc));
	finish(&p);
}

/* ------------------------------------------------------------------ the agent's side */

static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
		return -errno;
	return 0;
}

int ssm_asess_start(const struct ssm_asess_req *r, struct ssm_asess *s, char *err,
		    size_t errlen)
{
	int io[2] = { -1, -1 }, ctl[2] = { -1, -1 }, out[2] = { -1, -1 };
	int tty, rc = 0;
	pid_t pid;

	s->pid = -1;
	s->io_fd = s->ctl_fd = s->out_fd = -1;
	s->has_tty = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (check_req(r, err, errlen) < 0)
		return -EINVAL;
	tty = r->term != NULL && r->term[0] != '\0';
	if (tty) {
		struct winsize ws;

		memset(&ws, 0, sizeof(ws));
		ws.ws_col = (unsigned short)r->cols;
		ws.ws_row = (unsigned short)r->rows;
		if (openpty(&io[0], &io[1], NULL, NULL, &ws) != 0) {
			rc = -errno;
			snprintf(err, errlen, "openpty: %s", strerror(-rc));
			goto fail;
		}
		if (fcntl(io[1], F_SETFD, FD_CLOEXEC) != 0) {
			rc = -errno;
			snprintf(err, errlen, "fcntl: %s", strerror(-rc));
			goto fail;
		}
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0) {
			rc = -errno;
			snprintf(err, errlen, "socketpair: %s", strerror(-rc));
			goto fail;
		}
		/* one direction: the shell writes, the agent reads (a read on the shell's side
		 * gets EOF) */
		if (shutdown(out[0], SHUT_WR) != 0 || (rc = set_flags(out[0])) < 0) {
			rc = rc < 0 ? rc : -errno;
			snprintf(err, errlen, "output socket: %s", strerror(-rc));
			goto fail;
		}
	} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io) != 0) {
		rc = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(-rc));
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0) {
		rc = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = set_flags(io[0])) < 0 || (rc = set_flags(ctl[0])) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(-rc));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		snprintf(err, errlen, "fork: %s", strerror(-rc));
		goto fail;
	}
	if (pid == 0)
		session_parent(r, tty, io[1], ctl[1], out[1]);
	close(io[1]);
	close(ctl[1]);
	if (out[1] >= 0)
		close(out[1]);
	s->pid = pid;
	s->io_fd = io[0];
	s->ctl_fd = ctl[0];
	s->out_fd = out[0];
	s->has_tty = tty;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (io[i] >= 0)
			close(io[i]);
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return rc;
}

static int ctl_say(struct ssm_asess *s, const char *what)
{
	ssize_t w;

	if (s->ctl_fd < 0)
		return -EBADF;
	do
		w = send(s->ctl_fd, what, strlen(what), MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : 0;
}

int ssm_asess_terminate(struct ssm_asess *s)
{
	return ctl_say(s, "terminate");
}

int ssm_asess_lost(struct ssm_asess *s)
{
	return ctl_say(s, "lost");
}

/* a decimal number without sign or leading zeros, at most max */
static int parse_num(const char *s, long max, long *v)
{
	long n = 0;

	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
		if (n > max)
			return -1;
	}
	*v = n;
	return 0;
}

static int text_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int ssm_asess_ctl_read(int fd, struct ssm_asess_msg *m)
{
	char buf[SSM_ASESS_MSG_MAX + 2], *sp;
	ssize_t n;
	long a, b;

	memset(m, 0, sizeof(*m));
	do
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n > SSM_ASESS_MSG_MAX || memchr(buf, '\0', (size_t)n) != NULL)
		return -EPROTO;
	buf[n] = '\0';
	if (strncmp(buf, "ok ", 3) == 0) {
		if (parse_num(buf + 3, INT_MAX, &a) < 0 || a < 1)
			return -EPROTO;
		m->type = SSM_ASESS_MSG_OK;
		m->pid = (pid_t)a;
		return 1;
	}
	if (strncmp(buf, "refused ", 8) == 0 || strncmp(buf, "error ", 6) == 0) {
		const char *t = buf[0] == 'r' ? buf + 8 : buf + 6;

		if (!text_ok(t))
			return -EPROTO;
		m->type = buf[0] == 'r' ? SSM_ASESS_MSG_REFUSED : SSM_ASESS_MSG_ERROR;
		memcpy(m->text, t, strlen(t) + 1);
		return 1;
	}
	if (strncmp(buf, "exit ", 5) == 0) {
		sp = strchr(buf + 5, ' ');
		if (sp == NULL)
			return -EPROTO;
		*sp = '\0';
		if (parse_num(buf + 5, 2, &a) < 0 || parse_num(sp + 1, 255, &b) < 0 ||
		    (a == 1 ? 0 : a == 2 ? b < 1 || b > 64 : 1))
			return -EPROTO;
		m->type = SSM_ASESS_MSG_EXIT;
		m->how = (int)a;
		m->status = (int)b;
		return 1;
	}
	return -EPROTO;
}
