/* session.c - the session's init (pid 1 of its pid namespace) and the session child.
 *
 * Both start as forks of the privileged ssm-shell.  Init starts the session child only on
 * the recorder's go (once the recorder has dropped privilege and entered its SELinux
 * domain), then drops to the recorder user, so neither the session user nor anything the
 * session starts can signal or trace it; the child does its terminal and environment set-up, loads the seccomp filter while
 * it still may, becomes the run-as user and execs what the document says.  The only
 * privileged steps here are that filter load and shell_priv_drop_to() (priv.c). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_policy.h"
#include "shell.h"

#define CHILD_FAIL 126 /* set-up failed: nothing was run */

static void child_die(const char *what, int err)
{
	/* stderr is already the session's terminal or pipe: the client sees this line */
	fprintf(stderr, "ssm-shell: %s: %s\r\n", what, strerror(err));
	_exit(CHILD_FAIL);
}

static void close_from(int lowfd)
{
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0U) != 0) {
		int fd;
		for (fd = lowfd; fd < 65536; fd++)
			(void)close(fd);
	}
}

static void unblock_all(void)
{
	sigset_t none;

	/* ssm-shell ignores the job control stops and SIGXFSZ (priv.c): the session has them
	 * back */
	(void)signal(SIGTSTP, SIG_DFL);
	(void)signal(SIGTTIN, SIG_DFL);
	(void)signal(SIGTTOU, SIG_DFL);
	(void)signal(SIGXFSZ, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static const char *user_path(uid_t uid)
{
	return uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	                : "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games";
}

static int env_add(char **env, size_t *n, size_t max, const char *k, const char *v)
{
	size_t len = strlen(k) + strlen(v) + 2;

	if (*n + 1 >= max)
		return -E2BIG;
	env[*n] = malloc(len);
	if (env[*n] == NULL)
		return -ENOMEM;
	snprintf(env[*n], len, "%s=%s", k, v);
	(*n)++;
	env[*n] = NULL;
	return 0;
}

#define ENV_MAX 32

/* The first executable of a list, or the last one as it is. */
static const char *first_exec(const char *const *paths)
{
	for (; paths[1]; paths++)
		if (access(*paths, X_OK) == 0)
			return *paths;
	return *paths;
}

/* InteractiveCommands and NonInteractiveCommands never give a shell prompt through the
 * programs they run (docs/SECURITY.md, "Command documents"): every way a pager, editor or
 * client starts "a shell" or "an editor" from the environment leads to a program that
 * refuses, and less (also as man's, git's and systemctl's pager) runs in its secure mode
 * (no !, |, v, :e, log files). */
static int command_env(char **env, size_t *n)
{
	static const char *const refuse[] = {"/usr/sbin/nologin", "/sbin/nologin", "/bin/false",
	                                     NULL};
	static const char *const pager[] = {"/usr/bin/less", "/bin/cat", NULL};
	const char *no = first_exec(refuse), *pg = first_exec(pager);

	if (env_add(env, n, ENV_MAX, "SHELL", no) < 0 ||
	    env_add(env, n, ENV_MAX, "EDITOR", no) < 0 ||
	    env_add(env, n, ENV_MAX, "VISUAL", no) < 0 ||
	    env_add(env, n, ENV_MAX, "SUDO_EDITOR", no) < 0 ||
	    env_add(env, n, ENV_MAX, "PSQL_EDITOR", no) < 0 ||
	    env_add(env, n, ENV_MAX, "LESSSECURE", "1") < 0 ||
	    env_add(env, n, ENV_MAX, "SYSTEMD_PAGERSECURE", "1") < 0 ||
	    env_add(env, n, ENV_MAX, "PAGER", pg) < 0 ||
	    env_add(env, n, ENV_MAX, "MANPAGER", pg) < 0 ||
	    env_add(env, n, ENV_MAX, "GIT_PAGER", pg) < 0 ||
	    env_add(env, n, ENV_MAX, "PSQL_PAGER", pg) < 0 ||
	    env_add(env, n, ENV_MAX, "SYSTEMD_PAGER", pg) < 0)
		return -ENOMEM;
	return 0;
}

/* The argument vector for the session's one program. */
static void build_argv(struct shell *sh, char **argv, char *argv0, size_t argv0len, char **pscript)
{
	const char *base;

	*pscript = NULL;
	switch (sh->doc->type) {
	case SSM_SESSION_STANDARD_STREAM:
		base = strrchr(sh->user.shell, '/');
		base = base ? base + 1 : sh->user.shell;
		if (sh->command && sh->doc->shell_profile && sh->doc->shell_profile[0]) {
			/* ssh HOST CMD: the profile runs first, in the same shell, and the
			 * command only after it, as eval "$1": what the profile set up (a menu
			 * that exits, exec sudo -u app, umask, cd, functions) holds for the
			 * command too, and the command cannot change how the profile parses.
			 * The profile sees the command in SSM_COMMAND (session_child), so one
			 * that ends in `exec bash -l` for interactive sessions can leave that
			 * out when a command is waiting, or allow only some commands. */
			size_t len = strlen(sh->doc->shell_profile) + 32;
			char *script = malloc(len);
			if (script == NULL)
				child_die("shellProfile", ENOMEM);
			snprintf(script, len, "%s\neval \"$1\"", sh->doc->shell_profile);
			argv[0] = (char *)base;
			argv[1] = "-c";
			argv[2] = script;
			argv[3] = sh->user.shell;
			argv[4] = sh->command;
			argv[5] = NULL;
			*pscript = script;
		} else if (sh->command) {
			/* sshd's way: SHELL -c COMMAND, not a login shell */
			argv[0] = (char *)base;
			argv[1] = "-c";
			argv[2] = sh->command;
			argv[3] = NULL;
		} else if (sh->doc->shell_profile && sh->doc->shell_profile[0]) {
			/* shellProfile runs before the user's shell exists, so no key, signal or
			 * escape sequence skips it: interrupting it ends the session.  Its
			 * directory, umask, limits and exported variables carry over. */
			size_t len = strlen(sh->doc->shell_profile) + 32;
			char *script = malloc(len);
			if (script == NULL)
				child_die("shellProfile", ENOMEM);
			snprintf(script, len, "%s\nexec \"$0\" -l", sh->doc->shell_profile);
			argv[0] = sh->user.shell;
			argv[1] = "-c";
			argv[2] = script;
			argv[3] = sh->user.shell;
			argv[4] = NULL;
			*pscript = script;
		} else {
			snprintf(argv0, argv0len, "-%s", base); /* a login shell */
			argv[0] = argv0;
			argv[1] = NULL;
		}
		break;
	case SSM_SESSION_INTERACTIVE_COMMANDS:
	case SSM_SESSION_NON_INTERACTIVE_COMMANDS:
		/* the rendered command: every parameter value is one single-quoted word */
		argv[0] = "sh";
		argv[1] = "-c";
		argv[2] = sh->rendered;
		argv[3] = NULL;
		break;
	default:
		child_die("session type", EINVAL);
	}
}

static void session_child(struct shell *sh) __attribute__((noreturn));
static void session_child(struct shell *sh)
{
	char *argv[8], argv0[sizeof(sh->user.shell) + 2], *script;
	char *env[ENV_MAX];
	size_t n = 0;
	const char *prog, *profile;
	int fd, r, nnp;

	env[0] = NULL;
	if (setsid() < 0)
		child_die("setsid", errno);
	if (sh->use_pty) {
		if (ioctl(sh->slave_fd, TIOCSCTTY, 0) != 0)
			child_die("controlling terminal", errno);
		for (fd = 0; fd <= 2; fd++)
			if (dup2(sh->slave_fd, fd) != fd)
				child_die("dup2", errno);
	} else {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul < 0)
			child_die("/dev/null", errno);
		if (dup2(sh->child_in >= 0 ? sh->child_in : nul, 0) != 0 ||
		    dup2(sh->child_out, 1) != 1 || dup2(sh->child_err, 2) != 2)
			child_die("dup2", errno);
	}
	close_from(3); /* no inherited descriptors beyond 0..2 */

	if (env_add(env, &n, ENV_MAX, "HOME", sh->user.home) < 0 ||
	    env_add(env, &n, ENV_MAX, "USER", sh->user.name) < 0 ||
	    env_add(env, &n, ENV_MAX, "LOGNAME", sh->user.name) < 0 ||
	    env_add(env, &n, ENV_MAX, "PATH", user_path(sh->user.uid)) < 0 ||
	    (sh->term[0] && env_add(env, &n, ENV_MAX, "TERM", sh->term) < 0) ||
	    (sh->lang[0] && env_add(env, &n, ENV_MAX, "LANG", sh->lang) < 0) ||
	    (sh->doc->type == SSM_SESSION_STANDARD_STREAM
	         ? env_add(env, &n, ENV_MAX, "SHELL", sh->user.shell) < 0
	         : command_env(env, &n) < 0) ||
	    (sh->doc->type == SSM_SESSION_STANDARD_STREAM && sh->command &&
	     sh->doc->shell_profile && sh->doc->shell_profile[0] &&
	     env_add(env, &n, ENV_MAX, "SSM_COMMAND", sh->command) < 0))
		child_die("environment", ENOMEM);

	build_argv(sh, argv, argv0, sizeof(argv0), &script);
	prog = sh->doc->type == SSM_SESSION_STANDARD_STREAM ? sh->user.shell : "/bin/sh";

	/* the caller's CPU time limit, lifted for ssm-shell only (priv.c) */
	if (sh->caller_cpu_saved && setrlimit(RLIMIT_CPU, &sh->caller_cpu) != 0)
		child_die("RLIMIT_CPU", errno);

	/* seccomp: loaded while still root so that it can be loaded without no_new_privs,
	 * which keeps sudo working inside the session and the filter on what sudo starts.
	 * With allow_privilege false no_new_privs is set too: no setuid program can then
	 * gain privilege at all. */
	profile = ssm_config_seccomp_profile(sh->cfg, ssm_session_type_name(sh->doc->type));
	nnp = !sh->cfg->allow_privilege;
	r = ssm_seccomp_apply(profile, nnp);
	if (r < 0)
		child_die("seccomp", -r);

	r = shell_priv_drop_to(&sh->user, 1);
	if (r < 0)
		child_die("cannot become the run-as user", -r);
	if (chdir(sh->user.home) != 0 && chdir("/") != 0)
		child_die("chdir", errno);
	unblock_all();
	execve(prog, argv, env);
	child_die(prog, errno);
	_exit(CHILD_FAIL); /* not reached */
}

/* pid 1 of the session's namespace.  Exits when the session child exits (passing its
 * wait status to the recorder) or when the recorder's pipe reaches EOF; either way the
 * kernel then kills every other process of the namespace. */
void shell_session_init(struct shell *sh)
{
	struct pollfd pfd[2];
	sigset_t set;
	pid_t child, pid;
	int sfd, rfd, wfd, status, nul;

	/* what belongs to the recorder only */
	if (sh->master_fd >= 0)
		close(sh->master_fd);
	if (sh->in_fd >= 0)
		close(sh->in_fd);
	if (sh->out_fd >= 0)
		close(sh->out_fd);
	if (sh->err_fd >= 0)
		close(sh->err_fd);
	close(sh->init_pipe[1]);
	close(sh->status_pipe[0]);
	if (sh->audit_fd >= 0)
		close(sh->audit_fd);
	if (sh->cast_fd >= 0)
		close(sh->cast_fd);
	if (sh->end_fd >= 0)
		close(sh->end_fd);

	/* A /proc of our own: the host's /proc does not know the session's pids, and ps
	 * and /proc/self would break (or, worse, name other processes).  The mount
	 * namespace receives the host's later mounts (slave) but gives nothing back. */
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
		fprintf(stderr, "ssm-shell: cannot give the session its own /proc: %s\r\n",
		        strerror(errno));
		_exit(CHILD_FAIL);
	}

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		_exit(CHILD_FAIL);

	/* The recorder's go: one byte once it has dropped privilege and entered its SELinux
	 * domain (main.c, selinux.c).  EOF instead (it refused the session, or died): the
	 * session child never starts. */
	{
		char go;
		ssize_t n;

		do {
			n = read(sh->init_pipe[0], &go, 1);
		} while (n < 0 && errno == EINTR);
		if (n != 1)
			_exit(CHILD_FAIL);
	}

	child = fork();
	if (child < 0)
		_exit(CHILD_FAIL);
	if (child == 0)
		session_child(sh);

	/* init keeps only its two pipes; not the client's terminal, not the pty */
	nul = open("/dev/null", O_RDWR);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
		_exit(CHILD_FAIL);
	(void)setsid(); /* out of the client terminal's session: its signals are not ours */
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		_exit(CHILD_FAIL);
	/* move the three above any fd they could collide with, then to 3, 4, 5 */
	rfd = fcntl(sh->init_pipe[0], F_DUPFD, 10);
	wfd = fcntl(sh->status_pipe[1], F_DUPFD, 10);
	sfd = fcntl(sfd, F_DUPFD, 10);
	if (rfd < 0 || wfd < 0 || sfd < 0 || dup2(rfd, 3) != 3 || dup2(wfd, 4) != 4 ||
	    dup2(sfd, 5) != 5)
		_exit(CHILD_FAIL);
	close_from(6);
	if (shell_priv_drop_to(&sh->recorder, 0) < 0)
		_exit(CHILD_FAIL);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

	pfd[0].fd = 3;
	pfd[0].events = POLLIN;
	pfd[1].fd = 5;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(CHILD_FAIL);
		}
		if (pfd[0].revents)
			_exit(0); /* the recorder ended or died: the session ends with it */
		if (pfd[1].revents) {
			struct signalfd_siginfo si;
			if (read(5, &si, sizeof(si)) < 0 && errno != EAGAIN)
				_exit(CHILD_FAIL);
			/* reap every orphan of the namespace, watch for the session child */
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				if (pid == child) {
					int32_t st = status;
					(void)!write(4, &st, sizeof(st));
					_exit(0);
				}
			}
		}
	}
}
