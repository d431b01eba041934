/* priv.c - all of ssm-shell that runs as root before the processes split.
 *
 * ssm-shell is installed setuid root.  This file is meant to be read in one sitting: it
 * sanitises what the caller controls (descriptors, signals, environment, limits, argv),
 * finds and checks the session record of this very login, loads the document, opens the
 * transcript and the audit log, creates the pty, forks the session's pid namespace, and
 * drops privilege.  Nothing here trusts the caller's environment or arguments beyond the
 * documented "-c COMMAND" and (for root only) "--config PATH".  See docs/SECURITY.md. */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pty.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "audit.h"
#include "doccache.h"
#include "log.h"
#include "shell.h"
#include "util.h"

#ifndef SSM_BINDIR
#define SSM_BINDIR "/usr/bin"
#endif

/* ---- the caller's process state ---------------------------------------------------- */

/* fds 0..2 open (else /dev/null), everything else closed. */
static void sanitize_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			int n = open("/dev/null", O_RDWR);
			if (n != fd)
				_exit(SHELL_EXIT_REFUSED); /* cannot even report it */
		}
	}
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			(void)close(fd);
	}
}

/* The caller chose our signal dispositions and mask: take them all back. */
static void reset_signals(void)
{
	struct itimerval off;
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&off, 0, sizeof(off));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL); /* fails for SIGKILL/SIGSTOP and RT internals */
	/* Job control stops from the client's terminal: when the caller's shell runs us as a
	 * job (su), the process group is not orphaned and ^Z would stop us, the recorder and
	 * init whatever our uids (the session child gets SIG_DFL back before its exec). */
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGTSTP, &sa, NULL);
	(void)sigaction(SIGTTIN, &sa, NULL);
	(void)sigaction(SIGTTOU, &sa, NULL);
	/* A file size limit we could not lift (no CAP_SYS_RESOURCE): a transcript or audit
	 * write past it fails with EFBIG and ends the session as an error, instead of a
	 * SIGXFSZ that kills the recorder without session_end (SIG_DFL again in the child) */
	(void)sigaction(SIGXFSZ, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* interval timers survive execve: a SIGALRM, SIGVTALRM or SIGPROF the caller timed
	 * would end the recorder (default action) whenever they chose */
	(void)setitimer(ITIMER_REAL, &off, NULL);
	(void)setitimer(ITIMER_VIRTUAL, &off, NULL);
	(void)setitimer(ITIMER_PROF, &off, NULL);
}

/* Limits the caller set that would let them stop the recording mid-session (a small
 * RLIMIT_FSIZE makes the transcript write fail; that would still end the session, but
 * as an error they can provoke at will). */
static void reset_limits(struct shell *sh)
{
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	struct rlimit nf = {1024, 1024}, fs;

	/* RLIMIT_CPU would let them kill the recorder (SIGXCPU, SIGKILL) when they choose,
	 * by making it relay output: lifted for us, given back to the session child */
	sh->caller_cpu_saved = getrlimit(RLIMIT_CPU, &sh->caller_cpu) == 0;
	if (setrlimit(RLIMIT_CPU, &rl) != 0 && sh->caller_cpu_saved) /* no CAP_SYS_RESOURCE */
		(void)setrlimit(RLIMIT_CPU, &(struct rlimit){sh->caller_cpu.rlim_max,
		                                             sh->caller_cpu.rlim_max});
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0 && getrlimit(RLIMIT_FSIZE, &fs) == 0) {
		fs.rlim_cur = fs.rlim_max; /* no CAP_SYS_RESOURCE: at least the soft one */
		(void)setrlimit(RLIMIT_FSIZE, &fs);
	}
	(void)setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024)
		(void)setrlimit(RLIMIT_NOFILE, &nf);
}

static int term_char(int c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '+' || c == '-';
}

static int lang_char(int c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '@' || c == '-';
}

static int name_char(int c)
{
	return isalnum(c) || strchr("_+=,.@-", c) != NULL;
}

int shell_name_ok(const char *s, size_t maxlen)
{
	return s && ssm_str_charset(s, 1, maxlen, name_char) && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

/* Keep TERM and LANG (validated), SSH_ORIGINAL_COMMAND (copied: it is the caller's own
 * command, no more trusted than -c), and nothing else. */
static void sanitize_env(struct shell *sh, char **porig_cmd)
{
	const char *v;

	v = getenv("TERM");
	if (v && ssm_str_charset(v, 1, sizeof(sh->term) - 1, term_char))
		snprintf(sh->term, sizeof(sh->term), "%s", v);
	v = getenv("LANG");
	if (v && ssm_str_charset(v, 1, sizeof(sh->lang) - 1, lang_char))
		snprintf(sh->lang, sizeof(sh->lang), "%s", v);
	v = getenv("SSH_ORIGINAL_COMMAND");
	*porig_cmd = (v && *v && strlen(v) < 65536) ? ssm_strdup(v) : NULL;
	(void)clearenv();
}

/* 1 if cmd names this very program (sshd "ForceCommand ssm-shell" with ssm-shell as the
 * user's login shell runs "ssm-shell -c ssm-shell"). */
static int is_self(const char *cmd)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (strcmp(cmd, "ssm-shell") == 0 || strcmp(cmd, SSM_BINDIR "/ssm-shell") == 0)
		return 1;
	if (n > 0) {
		exe[n] = '\0';
		if (strcmp(cmd, exe) == 0)
			return 1;
	}
	return 0;
}

static void log_nothing(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)prio;
	(void)fmt;
	(void)ap;
}

/* A refusal before the configuration is in hand (bad arguments, a configuration that cannot
 * be loaded): a login_denied in the configuration's log_dir when it loads, else in the
 * compiled-in SSM_DEFAULT_LOG_DIR with host_id null (and in the journal either way); user is
 * the caller's name when passwd has it.  Best effort: the message on standard error is what
 * is sure.  Exits with status. */
static void refuse_early(struct shell *sh, uid_t caller, const char *reason, const char *msg,
                         int status)
{
	struct ssm_config *cfg = NULL;
	struct passwd *pw;
	cJSON *extra = cJSON_CreateObject();
	char err[512];

	if (sh->cfg == NULL && reason != NULL && strcmp(reason, "config_error") != 0)
		(void)ssm_config_load(sh->config_path, &cfg, err, sizeof(err));
	if (extra) {
		cJSON_AddStringToObject(extra, "reason", reason);
		cJSON_AddStringToObject(extra, "detail", msg);
		cJSON_AddStringToObject(extra, "program", "ssm-shell");
		errno = 0;
		pw = getpwuid(caller);
		if (pw != NULL)
			cJSON_AddStringToObject(extra, "user", pw->pw_name);
	}
	/* quiet: the message on standard error said what happened */
	ssm_log_set_handler(log_nothing, NULL);
	{
		const struct ssm_config *c = sh->cfg ? sh->cfg : cfg;

		(void)ssm_audit_write(c ? c->log_dir : SSM_DEFAULT_LOG_DIR, ssm_now(),
		                      c ? c->host_id : NULL, "login_denied", NULL, extra);
	}
	cJSON_Delete(extra);
	ssm_config_free(cfg);
	exit(status);
}

static void usage_exit(struct shell *sh, uid_t caller, const char *msg)
{
	fprintf(stderr, "ssm-shell: %s\nusage: ssm-shell [-c COMMAND]\n", msg);
	refuse_early(sh, caller, "usage", msg, SHELL_EXIT_USAGE);
}

static int copy_user(const struct passwd *pw, struct shell_user *u)
{
	if (strlen(pw->pw_name) >= sizeof(u->name) || strlen(pw->pw_dir) >= sizeof(u->home) ||
	    strlen(pw->pw_shell) >= sizeof(u->shell))
		return -ENAMETOOLONG;
	snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
	snprintf(u->home, sizeof(u->home), "%s", pw->pw_dir);
	snprintf(u->shell, sizeof(u->shell), "%s", pw->pw_shell);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

/* The login shell for Standard_Stream: passwd's, unless that is ssm-shell itself (it is the
 * login shell of ssm-user) or not executable: then bash, else sh. */
static void pick_shell(struct shell_user *u)
{
	struct stat a, b;

	if (u->shell[0] == '/' && access(u->shell, X_OK) == 0 && stat(u->shell, &a) == 0 &&
	    !(stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
		return;
	snprintf(u->shell, sizeof(u->shell), "%s",
	         access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh");
}

/* ---- refusing ------------------------------------------------------------------------ */

void shell_deny(struct shell *sh, const char *reason, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	cJSON *extra;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ssm-shell: %s\n", msg);
	if (sh->cfg) {
		extra = cJSON_CreateObject();
		if (extra) {
			cJSON_AddStringToObject(extra, "reason", reason);
			cJSON_AddStringToObject(extra, "detail", msg);
			cJSON_AddStringToObject(extra, "program", "ssm-shell");
			if (sh->user.name[0])
				cJSON_AddStringToObject(extra, "user", sh->user.name);
		}
		if (sh->audit_fd >= 0)
			(void)shell_audit(sh, "login_denied", extra);
		else if (sh->rec && sh->rec->sid)
			(void)ssm_audit_write(
			    sh->cfg->log_dir, ssm_now(), sh->cfg->host_id, "login_denied",
			    &(struct ssm_audit_session){sh->rec->sid, sh->rec->sub, sh->rec->run_as,
			                                sh->rec->doc_name},
			    extra);
		else
			(void)ssm_audit_write(sh->cfg->log_dir, ssm_now(), sh->cfg->host_id,
			                      "login_denied", NULL, extra);
		cJSON_Delete(extra);
	}
	exit(SHELL_EXIT_REFUSED);
}

/* ---- startup: who is this, and is this login allowed a session ----------------------- */

int shell_priv_startup(struct shell *sh, int argc, char **argv)
{
	char err[512], esc[SSM_LOG_ESCAPE_BUFSZ];
	char *orig_cmd = NULL;
	struct passwd *pw;
	const char *tname;
	int64_t now;
	struct stat st1;
	pid_t me, ppid;
	uid_t caller;
	char self[32];
	ssize_t n;
	int i, r;

	sanitize_fds();
	reset_signals();
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sanitize_env(sh, &orig_cmd);
	umask(077);
	reset_limits(sh);
	sh->audit_fd = sh->cast_fd = sh->end_fd = -1;
	sh->master_fd = sh->slave_fd = -1;
	sh->in_fd = sh->out_fd = sh->err_fd = -1;
	sh->child_in = sh->child_out = sh->child_err = -1;
	sh->init_pipe[0] = sh->init_pipe[1] = sh->status_pipe[0] = sh->status_pipe[1] = -1;
	sh->config_path = SSM_DEFAULT_CONFIG;

	if (geteuid() != 0) {
		fprintf(stderr,
		        "ssm-shell: not installed setuid root: refusing to run a session\n");
		exit(SHELL_EXIT_REFUSED);
	}
	/* Real uid root as well (as sudo does): with the caller's real uid kept, a process
	 * of theirs could signal us and the session's init until each drops privilege; an
	 * init stopped before its drop cannot be killed by the recorder (another uid by
	 * then) and the session would outlive it. */
	caller = getuid();
	if (setresuid(0, 0, 0) != 0) {
		fprintf(stderr, "ssm-shell: setresuid: %s\n", strerror(errno));
		exit(SHELL_EXIT_REFUSED);
	}
	/* files we create are root:root, not the caller's group */
	if (setegid(0) != 0) {
		fprintf(stderr, "ssm-shell: setegid: %s\n", strerror(errno));
		exit(SHELL_EXIT_REFUSED);
	}

	/* argv: argc may be 0 (execve with an empty vector); argv[0] may be anything */
	if (argc < 1 || argv == NULL || argv[0] == NULL)
		usage_exit(sh, caller, "called without argv[0]");
	sh->login = argv[0][0] == '-';
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: ssm-shell [-c COMMAND]\nconfiguration: %s\n", SSM_DEFAULT_CONFIG);
		exit(0);
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && caller == 0 &&
		    sh->command == NULL) {
			/* only root may point us at another configuration (tests, ssmctl) */
			sh->config_path = argv[++i];
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc && i + 2 == argc) {
			sh->command = argv[++i];
		} else {
			usage_exit(sh, caller, "unsupported arguments");
		}
	}
	if (sh->command && is_self(sh->command))
		sh->command = orig_cmd; /* ForceCommand: the client's command, or none */

	r = ssm_config_load(sh->config_path, &sh->cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ssm-shell: %s: no session\n", err);
		sh->cfg = NULL;
		refuse_early(sh, caller, "config_error", err, SHELL_EXIT_REFUSED);
	}

	errno = 0;
	pw = getpwuid(caller);
	if (pw == NULL || copy_user(pw, &sh->user) < 0)
		shell_deny(sh, "unknown_user", "uid %u has no usable passwd entry",
		           (unsigned)caller);

	errno = 0;
	pw = getpwnam(sh->cfg->recorder_user ? sh->cfg->recorder_user : "ssmsession");
	if (pw == NULL || copy_user(pw, &sh->recorder) < 0 || sh->recorder.uid == 0 ||
	    sh->recorder.uid == sh->user.uid || sh->recorder.gid == 0)
		shell_deny(sh, "recorder_user",
		           "recorder user %s is missing or unusable: no session",
		           sh->cfg->recorder_user ? sh->cfg->recorder_user : "ssmsession");
	{
		struct group *gr = getgrnam("tty");
		sh->tty_gid = gr ? gr->gr_gid : (gid_t)-1;
	}
	/* Never inside a session: there pid 1 is the session's init, run by the recorder
	 * user, and ancestors are counted in the session's pid namespace (their numbers
	 * mean other processes to the records).  Also refuse a /proc that does not show
	 * our own pid namespace. */
	me = getpid();
	n = readlink("/proc/self", self, sizeof(self) - 1);
	if (n <= 0 || (self[n] = '\0', strtol(self, NULL, 10) != me))
		shell_deny(sh, "nested", "ssm-shell cannot run inside a session");
	if (stat("/proc/1", &st1) != 0 || st1.st_uid == sh->recorder.uid)
		shell_deny(sh, "nested", "ssm-shell cannot run inside a session");

	r = ssm_record_find(sh->cfg->run_dir, me, &sh->rec, err, sizeof(err));
	if (r == -ENOENT)
		shell_deny(sh, "no_record",
		           "no session record for this login (only token logins get a session)");
	if (r < 0)
		shell_deny(sh, "bad_record", "session record refused: %s", err);
	if (!shell_name_ok(sh->rec->sid, 128))
		shell_deny(sh, "bad_record", "session record has an invalid sid");
	if (sh->rec->run_as == NULL || strcmp(sh->rec->run_as, sh->user.name) != 0)
		shell_deny(sh, "run_as_mismatch", "session record is for user %s, not %s",
		           ssm_log_escape(sh->rec->run_as, esc, sizeof(esc)), sh->user.name);
	if (sh->rec->host_id && strcmp(sh->rec->host_id, sh->cfg->host_id) != 0)
		shell_deny(sh, "bad_record", "session record is for another host");
	now = ssm_now();
	if (sh->rec->exp > INT64_MAX - sh->cfg->leeway || now >= sh->rec->exp + sh->cfg->leeway)
		shell_deny(sh, "expired", "session record has expired");
	if (sh->rec->audit_session != UINT32_MAX) {
		uint32_t mine = UINT32_MAX;
		if (ssm_proc_audit_session(me, &mine) < 0 || mine != sh->rec->audit_session)
			shell_deny(sh, "audit_session_mismatch",
			           "session record belongs to another audit session");
	}
	if (!ssm_config_run_as_allowed(sh->cfg, sh->user.name))
		shell_deny(sh, "run_as_not_allowed", "user %s may not run sessions", sh->user.name);
	if (!ssm_config_document_allowed(sh->cfg, sh->rec->doc_name))
		shell_deny(sh, "document_not_allowed", "document is not allowed on this host");

	r = ssm_doccache_load(sh->cfg, sh->rec->doc_name, sh->rec->doc_sha256, &sh->doc, NULL, err,
	                      sizeof(err));
	if (r < 0)
		shell_deny(sh, "document", "document refused: %s", err);
	if (sh->doc->type != SSM_SESSION_STANDARD_STREAM &&
	    ssm_document_apply_runshell(sh->doc, sh->cfg->documents_dir, err, sizeof(err)) < 0)
		shell_deny(sh, "document", "%s refused: %s", SSM_RUNSHELL_DOCUMENT, err);
	if (ssm_document_check_params(sh->doc, sh->rec->params, err, sizeof(err)) < 0)
		shell_deny(sh, "parameters", "%s", err);
	tname = ssm_session_type_name(sh->doc->type);
	if (sh->command && sh->doc->type != SSM_SESSION_STANDARD_STREAM)
		shell_deny(sh, "command_refused", "a %s session runs only its document's %s", tname,
		           sh->doc->type == SSM_SESSION_PORT ? "port" : "command");
	switch (sh->doc->type) {
	case SSM_SESSION_INTERACTIVE_COMMANDS:
	case SSM_SESSION_NON_INTERACTIVE_COMMANDS:
		if (sh->doc->commands == NULL)
			shell_deny(sh, "document", "document has no linux.commands");
		if (ssm_document_set_command_line(
		        sh->doc, ssm_config_command_line_params(sh->cfg, sh->rec->doc_name), err,
		        sizeof(err)) < 0)
			shell_deny(sh, "document", "command_line_parameters: %s", err);
		if (ssm_document_render(sh->doc, sh->doc->commands, sh->rec->params, &sh->rendered,
		                        err, sizeof(err)) < 0)
			shell_deny(sh, "parameters", "%s", err);
		break;
	case SSM_SESSION_PORT:
		if (ssm_document_port(sh->doc, sh->rec->params, &sh->port, err, sizeof(err)) < 0)
			shell_deny(sh, "parameters", "%s", err);
		break;
	case SSM_SESSION_STANDARD_STREAM:
		pick_shell(&sh->user);
		break;
	default:
		shell_deny(sh, "document", "unknown session type");
	}

	if (ssm_proc_stat(me, &ppid, &sh->self_starttime) < 0)
		shell_deny(sh, "internal", "cannot read /proc/self/stat");
	sh->self_pid = me;
	return 0;
}

/* ---- prepare: files, pty, pipes ------------------------------------------------------ */

static int open_dir_checked(const char *path, int create)
{
	struct stat st;
	int fd;

	if (create && mkdir(path, 0750) != 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		return -EACCES;
	}
	return fd;
}

static int pipe_pair(int p[2])
{
	return pipe2(p, O_CLOEXEC) == 0 ? 0 : -errno;
}

/* A process of the user that opened the client's terminal while it was still theirs keeps
 * its descriptor through the fchown above: it could write to the client around the
 * recorder and read keystrokes.  As login(1) does, hang the terminal up (the kernel turns
 * every open file of it into a dead one: writes fail with EIO, reads give EOF) and open it
 * again by name.  vhangup() acts on our controlling terminal and only a session leader gets
 * it back, so this is done where we are the session leader and fd 0 is our controlling
 * terminal (sshd, login); elsewhere (a job under another shell, su without --pty) it is
 * skipped and only the fchown applies (docs/SECURITY.md).  Our own fds 0-2 stay open
 * across the hangup so that the terminal is never without an open file (the client's side
 * of a pty, sshd's or tmux's master, would see the line closed). */
static void revoke_tty(struct shell *sh)
{
	struct sigaction ign, old;
	struct termios tio, quiet;
	struct stat st0, st;
	char name[PATH_MAX];
	int fd, fl, same[3] = {1, 0, 0}, have_tio, i, r;
	pid_t me = getpid();

	if (getsid(0) != me || tcgetsid(0) != me) {
		ssm_log(LOG_DEBUG, "not the session leader of the terminal: no vhangup");
		return;
	}
	if (fstat(0, &st0) != 0 || !S_ISCHR(st0.st_mode))
		shell_deny(sh, "tty", "cannot stat the terminal: %s", strerror(errno));
	r = ttyname_r(0, name, sizeof(name));
	if (r != 0 || strncmp(name, "/dev/", 5) != 0) {
		/* no name to open it again by (no /dev/pts here): hanging up would lose it */
		ssm_log(LOG_DEBUG, "terminal has no name (%s): no vhangup",
		        r ? strerror(r) : "not in /dev");
		return;
	}
	for (i = 1; i <= 2; i++)
		same[i] = fstat(i, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == st0.st_rdev;
	/* the modes sshd set from the client's: kept across the hangup; HUPCL off so that
	 * no last close drops a modem line meanwhile */
	have_tio = tcgetattr(0, &tio) == 0;
	if (have_tio) {
		quiet = tio;
		quiet.c_cflag &= ~(tcflag_t)HUPCL;
		(void)tcsetattr(0, TCSANOW, &quiet);
	}

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGHUP, &ign, &old) != 0)
		shell_deny(sh, "tty", "sigaction: %s", strerror(errno));
	if (vhangup() != 0) {
		/* EPERM without CAP_SYS_TTY_CONFIG (a container's root): the terminal is as
		 * it was, the fchown still applies */
		r = errno;
		(void)sigaction(SIGHUP, &old, NULL);
		if (have_tio)
			(void)tcsetattr(0, TCSANOW, &tio);
		ssm_log(LOG_DEBUG, "vhangup: %s", strerror(r));
		return;
	}
	/* without O_NOCTTY: we are a session leader without a controlling terminal now,
	 * the open makes this one ours again */
	fd = open(name, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	r = errno;
	(void)sigaction(SIGHUP, &old, NULL);
	if (fd < 0)
		shell_deny(sh, "tty", "cannot reopen %s after vhangup: %s", name, strerror(r));
	if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != st0.st_rdev ||
	    !isatty(fd))
		shell_deny(sh, "tty", "%s is no longer the terminal we hung up", name);
	if (tcgetsid(fd) != me && ioctl(fd, TIOCSCTTY, 0) != 0)
		shell_deny(sh, "tty", "cannot make %s our terminal again: %s", name,
		           strerror(errno));
	if (tcgetsid(fd) != me)
		shell_deny(sh, "tty", "%s is not our controlling terminal after vhangup", name);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
		shell_deny(sh, "tty", "fcntl %s: %s", name, strerror(errno));
	for (i = 0; i <= 2; i++) {
		if (same[i] && dup2(fd, i) != i)
			shell_deny(sh, "tty", "dup2: %s", strerror(errno));
	}
	close(fd);
	if (have_tio)
		(void)tcsetattr(0, TCSANOW, &tio);
}

int shell_priv_prepare(struct shell *sh)
{
	char path[PATH_MAX], name[160];
	int dfd = -1, r;

	sh->started = ssm_now();
	sh->mono_start = shell_mono_ns();
	umask(022); /* files below get explicit modes; the session starts with 022 */

	/* transcript_delivery "required" (SPEC section 8): on a host registered with a broker, no
	 * session starts while ssm-agent cannot deliver its transcript */
	if (sh->cfg->broker_url != NULL && sh->cfg->transcript_delivery_required &&
	    ssm_agent_link_up(sh->cfg->run_dir) != 1)
		shell_deny(sh, "transcript_delivery",
			   "the broker cannot take this session's transcript now (ssm-agent's link "
			   "to %s is down, and transcript_delivery is \"required\")",
			   sh->cfg->broker_url);

	sh->audit_fd = ssm_audit_open(sh->cfg->log_dir);
	if (sh->audit_fd < 0)
		shell_deny(sh, "audit", "cannot open the audit log in %s: %s", sh->cfg->log_dir,
		           strerror(-sh->audit_fd));

	if (sh->doc->type != SSM_SESSION_PORT) {
		/* the transcript: a new root-owned file the session user can neither write
		 * nor remove (log_dir/sessions is root's, 0750) */
		if (snprintf(path, sizeof(path), "%s/sessions", sh->cfg->log_dir) >=
		    (int)sizeof(path))
			shell_deny(sh, "transcript", "log_dir too long");
		dfd = open_dir_checked(path, 1);
		if (dfd < 0)
			shell_deny(sh, "transcript", "%s: unusable: %s", path, strerror(-dfd));
		snprintf(name, sizeof(name), "%s.cast", sh->rec->sid);
		sh->cast_fd =
		    openat(dfd, name,
		           O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
		r = errno;
		close(dfd);
		if (sh->cast_fd < 0)
			shell_deny(sh, "transcript", "cannot create transcript %s/%s: %s", path,
			           name, strerror(r));
		if (fchown(sh->cast_fd, 0, 0) != 0 || fchmod(sh->cast_fd, 0640) != 0)
			shell_deny(sh, "transcript", "fchown transcript: %s", strerror(errno));
	}

	r = ssm_live_register(sh->cfg->run_dir, sh->rec->sid, sh->self_pid, sh->self_starttime,
	                      sh->user.name, sh->started);
	if (r < 0)
		shell_deny(sh, "live", "cannot register the live session: %s", strerror(-r));
	/* SID.end: the recorder's word that it logged session_end (pam_ssmsession's close
	 * step then does not log a second one).  Created here, root's, written through the fd
	 * we keep: the recorder user, which every session's recorder shares, can open no
	 * other session's (it could otherwise silence that session's end). */
	if (snprintf(path, sizeof(path), "%s/live", sh->cfg->run_dir) >= (int)sizeof(path))
		shell_deny(sh, "live", "run_dir too long");
	dfd = open_dir_checked(path, 0);
	if (dfd < 0)
		shell_deny(sh, "live", "%s: unusable: %s", path, strerror(-dfd));
	snprintf(name, sizeof(name), "%s.end", sh->rec->sid);
	(void)unlinkat(dfd, name, 0); /* stale from a crash: the sid's transcript is new */
	sh->end_fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	r = errno;
	close(dfd);
	if (sh->end_fd < 0)
		shell_deny(sh, "live", "cannot create %s/%s: %s", path, name, strerror(r));

	sh->outer_tty = isatty(0);
	if (sh->outer_tty && ioctl(0, TIOCGWINSZ, &sh->ws) != 0)
		memset(&sh->ws, 0, sizeof(sh->ws));
	if (sh->ws.ws_col == 0 || sh->ws.ws_row == 0) {
		sh->ws.ws_col = 80;
		sh->ws.ws_row = 24;
	}
	if (sh->outer_tty) {
		/* The client's terminal (sshd's pty slave) belongs to the session user: they
		 * could open it again and write to the client around the recorder.  Hand it to
		 * the recorder user for the session (sshd resets it when the login ends). */
		struct stat st;
		if (fstat(0, &st) == 0 && st.st_uid == sh->user.uid && st.st_uid != 0) {
			if (fchown(0, sh->recorder.uid, (gid_t)-1) != 0 || fchmod(0, 0600) != 0)
				shell_deny(sh, "tty", "cannot take over the terminal: %s",
				           strerror(errno));
		}
		revoke_tty(sh);
	}

	if (sh->doc->type == SSM_SESSION_PORT)
		return 0;

	sh->use_pty = sh->doc->type == SSM_SESSION_INTERACTIVE_COMMANDS ||
	              (sh->doc->type == SSM_SESSION_STANDARD_STREAM && sh->outer_tty);
	if (sh->use_pty) {
		if (openpty(&sh->master_fd, &sh->slave_fd, NULL, NULL, &sh->ws) != 0)
			shell_deny(sh, "pty", "openpty: %s", strerror(errno));
		(void)fcntl(sh->master_fd, F_SETFD, FD_CLOEXEC);
		(void)fcntl(sh->slave_fd, F_SETFD, FD_CLOEXEC);
		if (fchown(sh->slave_fd, sh->user.uid, sh->tty_gid) != 0 ||
		    fchmod(sh->slave_fd, 0620) != 0)
			shell_deny(sh, "pty", "pty ownership: %s", strerror(errno));
	} else {
		int p[2];
		struct stat st1;
		/* ssm-agent gives ssm-shell a socket as its standard output beside a terminal
		 * (its output then skips the outer pty, whose line discipline our raw mode
		 * leaves idle); without a pty of our own the terminal stays cooked, and what the
		 * session writes goes through it as its standard error does */
		if (sh->outer_tty && fstat(1, &st1) == 0 && S_ISSOCK(st1.st_mode) && dup2(0, 1) != 1)
			shell_deny(sh, "tty", "dup2: %s", strerror(errno));
		if (sh->doc->type == SSM_SESSION_STANDARD_STREAM) {
			if (pipe_pair(p) < 0)
				shell_deny(sh, "pipe", "pipe: %s", strerror(errno));
			sh->child_in = p[0];
			sh->in_fd = p[1];
		}
		if (pipe_pair(p) < 0)
			shell_deny(sh, "pipe", "pipe: %s", strerror(errno));
		sh->out_fd = p[0];
		sh->child_out = p[1];
		if (pipe_pair(p) < 0)
			shell_deny(sh, "pipe", "pipe: %s", strerror(errno));
		sh->err_fd = p[0];
		sh->child_err = p[1];
	}
	if (pipe_pair(sh->init_pipe) < 0 || pipe_pair(sh->status_pipe) < 0)
		shell_deny(sh, "pipe", "pipe: %s", strerror(errno));
	return 0;
}

/* ---- spawn: the session's own pid namespace ------------------------------------------ */

int shell_priv_spawn(struct shell *sh)
{
	pid_t pid;

	/* Every process of the session lives in a new pid namespace whose init is our
	 * child: when it exits the kernel kills all of them, whatever they did (setsid,
	 * SIGHUP ignored, sudo).  unshare(CLONE_NEWPID) affects our next child only. */
	if (unshare(CLONE_NEWPID) != 0)
		shell_deny(sh, "namespace", "cannot create the session's pid namespace: %s",
		           strerror(errno));
	pid = fork();
	if (pid < 0)
		shell_deny(sh, "fork", "fork: %s", strerror(errno));
	if (pid == 0)
		shell_session_init(sh); /* does not return */
	sh->init_pid = pid;
	/* the recorder keeps: master, init_pipe[1], status_pipe[0], its pipe ends */
	close(sh->init_pipe[0]);
	close(sh->status_pipe[1]);
	sh->init_pipe[0] = sh->status_pipe[1] = -1;
	if (sh->slave_fd >= 0)
		close(sh->slave_fd);
	sh->slave_fd = -1;
	if (sh->child_in >= 0)
		close(sh->child_in);
	if (sh->child_out >= 0)
		close(sh->child_out);
	if (sh->child_err >= 0)
		close(sh->child_err);
	sh->child_in = sh->child_out = sh->child_err = -1;
	return 0;
}

/* ---- dropping privilege -------------------------------------------------------------- */

/* Become u for good: groups, gid, uid (real, effective, saved), checked afterwards. */
int shell_priv_drop_to(const struct shell_user *u, int init_groups)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (init_groups ? initgroups(u->name, u->gid) != 0 : setgroups(0, NULL) != 0)
		return -errno;
	if (setresgid(u->gid, u->gid, u->gid) != 0)
		return -errno;
	if (setresuid(u->uid, u->uid, u->uid) != 0)
		return -errno;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return -errno;
	if (ru != u->uid || eu != u->uid || su != u->uid || rg != u->gid || eg != u->gid ||
	    sg != u->gid)
		return -EPERM;
	if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -EPERM; /* privilege could be regained: never run like that */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

int shell_priv_drop_recorder(struct shell *sh)
{
	int r = shell_priv_drop_to(&sh->recorder, 0);

	if (r < 0)
		return r;
	/* Not dumpable after the uid change either (kernel resets it to suid_dumpable): the
	 * session user can neither ptrace nor read /proc/PID/mem, fd, environ of us. */
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -EPERM;
	return 0;
}
