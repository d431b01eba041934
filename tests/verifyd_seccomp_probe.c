/* verifyd_seccomp_probe - ssm-verifyd's seccomp filter (verifyd/seccomp.c), tried call by
 * call.  A helper of tests/verifyd_seccomp.sh, never installed: the daemon itself has no
 * test hook.  Each row forks a child that sets no_new_privs, installs exactly the daemon's
 * filter (ssm_verifyd_seccomp) and makes one call; the parent checks how the child ended:
 * exit 0 for a call the filter lets through, SIGSYS for one it must kill.
 *
 * In a sanitizer build the filter's default only logs (seccomp.h): rows marked KILL_LOGGED are
 * expected to get through there, rows marked KILL_ALWAYS (the explicit kill list, foreign
 * ABIs) die in both builds.  The foreign-ABI rows first make their call in a child WITHOUT
 * the filter and are skipped, with the reason, when it does not work there (an int $0x80 dies
 * of SIGSEGV on a kernel booted with ia32_emulation=0).  Prints one line per row and
 * "verifyd_seccomp_probe: N passed, M failed, K skipped"; exit 1 on any failure. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../verifyd/seccomp.h"

enum expect {
	ALLOWED,     /* gets through in every build */
	KILL_ALWAYS, /* SIGSYS in every build */
	KILL_LOGGED, /* SIGSYS in a release build, logged and let through under sanitizers */
};

static int lfd = -1;   /* the "listening socket" the filter lets accept4 on */
static int sp[2];      /* a connected pair: credentials, timeouts, send/recv */
static pid_t parent;   /* who made the pair (getppid is not allowed) */
static char dir[64];   /* a scratch directory with one file */
static char file[128]; /* dir/existing, mode 0644 */
static char fresh[128]; /* dir/fresh: must never come to exist */

/* ---- calls the daemon makes: 0 when the call worked as the daemon uses it */
static int a_status(void)
{
	char buf[4096];
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* the filter in force, and no_new_privs */
	return strstr(buf, "Seccomp:\t2") != NULL && strstr(buf, "NoNewPrivs:\t1") != NULL ? 0 : 1;
}

static int a_read_file(void)
{
	struct stat st;
	char c;
	int fd = openat(AT_FDCWD, file, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0 || stat(file, &st) != 0 || read(fd, &c, 1) != 1 ||
	    lseek(fd, 0, SEEK_SET) != 0)
		return 1;
	return close(fd);
}

static int a_stderr(void)
{
	return write(2, "", 0) == 0 ? 0 : 1;
}

static int a_accept(void)
{
	/* nonblocking and nobody connecting: EAGAIN, from the kernel */
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC) < 0 && errno == EAGAIN ? 0 : 1;
}

static int a_sockopts(void)
{
	struct timeval tv = { .tv_sec = 1 };
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	if (getsockopt(sp[0], SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
	    cred.pid != parent)
		return 1;
	return setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
			       setsockopt(sp[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0
		       ? 0
		       : 1;
}

static int a_send_recv(void)
{
	char c = 0;

	return send(sp[0], "x", 1, MSG_NOSIGNAL) == 1 && recv(sp[1], &c, 1, 0) == 1 && c == 'x'
		       ? 0
		       : 1;
}

static int a_memory(void)
{
	/* 4 MiB: malloc maps it, realloc mremaps, free unmaps */
	char *p = malloc(4 << 20), *q;
	long pg = sysconf(_SC_PAGESIZE);
	void *m;

	if (p == NULL)
		return 1;
	memset(p, 1, 4 << 20);
	q = realloc(p, 8 << 20);
	if (q == NULL)
		return 1;
	free(q);
	m = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m, (size_t)pg, PROT_READ) != 0 ||
	    madvise(m, (size_t)pg, MADV_DONTNEED) != 0)
		return 1;
	return munmap(m, (size_t)pg) == 0 && sbrk(0) != (void *)-1 ? 0 : 1;
}

static int a_misc(void)
{
	struct timespec ts;
	struct timeval tv;
	unsigned char b[16];

	/* the system calls themselves, not the vDSO */
	return getrandom(b, sizeof(b), 0) == (ssize_t)sizeof(b) &&
			       syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) == 0 &&
			       syscall(SYS_gettimeofday, &tv, NULL) == 0 &&
			       syscall(SYS_getpid) > 0 && syscall(SYS_gettid) > 0
		       ? 0
		       : 1;
}

/* ---- calls it must not make: reaching the end of one is the failure */
static int k_execve(void)
{
	char *argv[] = { "true", NULL }, *envp[] = { NULL };

	execve("/bin/true", argv, envp);
	return 0;
}

static int k_execveat(void)
{
	char *argv[] = { "true", NULL }, *envp[] = { NULL };

	syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, envp, 0);
	return 0;
}

static int k_socket_inet(void)
{
	(void)socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int k_socket_unix(void)
{
	(void)socket(AF_UNIX, SOCK_SEQPACKET, 0);
	return 0;
}

static int k_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "\0ssm-vsc-nowhere" };

	(void)connect(sp[0], (struct sockaddr *)&sa, sizeof(sa));
	return 0;
}

static int k_bind(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "\0ssm-vsc-other" };

	(void)bind(sp[0], (struct sockaddr *)&sa, sizeof(sa));
	return 0;
}

static int k_listen(void)
{
	(void)listen(lfd, 1);
	return 0;
}

static int k_open_wronly(void)
{
	(void)openat(AT_FDCWD, file, O_WRONLY | O_CLOEXEC);
	return 0;
}

static int k_open_rdwr(void)
{
	(void)openat(AT_FDCWD, file, O_RDWR | O_CLOEXEC);
	return 0;
}

static int k_open_creat(void)
{
	(void)openat(AT_FDCWD, fresh, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	return 0;
}

static int k_open_trunc(void)
{
	(void)openat(AT_FDCWD, file, O_RDONLY | O_TRUNC | O_CLOEXEC);
	return 0;
}

static int k_open_tmpfile(void)
{
	(void)openat(AT_FDCWD, dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return 0;
}

static int open_legacy(int flags)
{
#ifdef SYS_open
	(void)syscall(SYS_open, file, flags);
#else
	(void)flags;
	raise(SIGSYS); /* no such call here */
#endif
	return 0;
}

static int k_open_legacy(void)
{
	return open_legacy(O_RDONLY);
}

static int k_open_legacy_w(void)
{
	return open_legacy(O_WRONLY);
}

static int k_unlink(void)
{
	(void)unlink(file);
	return 0;
}

static int k_rename(void)
{
	(void)rename(file, fresh);
	return 0;
}

static int k_chmod(void)
{
	(void)chmod(file, 0666);
	return 0;
}

static int k_chown(void)
{
	if (chown(file, 1, 1) < 0)
		return 0;
	return 0;
}

static int k_setuid(void)
{
	(void)syscall(SYS_setuid, getuid());
	return 0;
}

static int k_setresuid(void)
{
	(void)syscall(SYS_setresuid, -1, -1, -1);
	return 0;
}

static int k_process_vm(void)
{
	char a[8], b[8] = "";
	struct iovec l = { a, sizeof(a) }, r = { b, sizeof(b) };

	(void)process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return 0;
}

static int k_write_stdout(void)
{
	if (write(1, "", 0) < 0)
		return 0;
	return 0;
}

static int k_fork(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	if (p > 0)
		waitpid(p, NULL, 0);
	return 0;
}

static int k_ptrace(void)
{
	(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 0;
}

static int k_kill(void)
{
	(void)kill(getpid(), 0);
	return 0;
}

static int k_mmap_exec(void)
{
	void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m != MAP_FAILED)
		munmap(m, 4096);
	return 0;
}

static int k_mprotect_exec(void)
{
	void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m != MAP_FAILED)
		(void)mprotect(m, 4096, PROT_READ | PROT_EXEC);
	return 0;
}

static int k_accept_other(void)
{
	(void)accept4(sp[0], NULL, NULL, 0);
	return 0;
}

static int k_setsockopt_other(void)
{
	int one = 1;

	(void)setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	return 0;
}

static int k_ioctl(void)
{
	int n;

	(void)ioctl(sp[0], FIONREAD, &n);
	return 0;
}

static int k_x32(void)
{
#if defined(__x86_64__)
	(void)syscall(0x40000000L | SYS_getpid); /* __X32_SYSCALL_BIT */
#else
	raise(SIGSYS); /* no x32 here */
#endif
	return 0;
}

static int k_i386(void)
{
#if defined(__x86_64__)
	long r, nr = 20; /* i386 getpid through int $0x80 */

	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "0"(nr)
			 : "memory", "cc", "r8", "r9", "r10", "r11");
	(void)r;
#else
	raise(SIGSYS);
#endif
	return 0;
}

/* ---- foreign ABIs: does the call work at all WITHOUT the filter?  Run in a child with no
 * filter: exit 0 when it returned as expected.  A kernel whose 32-bit entry is off
 * (ia32_emulation=0 on the command line, or no CONFIG_IA32_EMULATION) answers int $0x80 with
 * SIGSEGV, before any seccomp filter could look at it: the row cannot test the filter there
 * and is skipped with the reason. */
static int u_i386(void)
{
#if defined(__x86_64__)
	long r, nr = 20; /* i386 getpid */

	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "0"(nr)
			 : "memory", "cc", "r8", "r9", "r10", "r11");
	return r == (long)syscall(SYS_getpid) ? 0 : 1;
#else
	return 2; /* not x86_64 */
#endif
}

static int u_x32(void)
{
#if defined(__x86_64__)
	/* the pid with x32 support, ENOSYS without (CONFIG_X86_X32_ABI is rare); either way
	 * seccomp sees the number first, so the filter must kill it */
	long r = syscall(0x40000000L | SYS_getpid);

	return r == (long)syscall(SYS_getpid) || (r == -1 && errno == ENOSYS) ? 0 : 1;
#else
	return 2;
#endif
}

static const struct {
	int (*fn)(void); /* the row */
	int (*unfiltered)(void);
	const char *what;
} foreign[] = {
	{ k_i386, u_i386, "an i386 getpid through int $0x80" },
	{ k_x32, u_x32, "an x32 getpid (__X32_SYSCALL_BIT)" },
};

/* NULL when row's call works without the filter (or the row needs no such check), else why
 * it cannot be tested here, in why[]. */
static const char *unfiltered_fails(int (*fn)(void), char *why, size_t whylen)
{
	size_t i;
	pid_t pid;
	int st;

	for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		if (foreign[i].fn != fn)
			continue;
		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			snprintf(why, whylen, "fork: %s", strerror(errno));
			return why;
		}
		if (pid == 0)
			_exit(foreign[i].unfiltered());
		if (waitpid(pid, &st, 0) != pid) {
			snprintf(why, whylen, "waitpid: %s", strerror(errno));
			return why;
		}
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return NULL;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
			snprintf(why, whylen, "not an x86_64 build");
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && fn == k_i386)
			snprintf(why, whylen,
				 "%s dies of SIGSEGV without any filter: the kernel's 32-bit "
				 "system call entry is off (ia32_emulation=0, or no "
				 "CONFIG_IA32_EMULATION)",
				 foreign[i].what);
		else if (WIFSIGNALED(st))
			snprintf(why, whylen, "%s dies of signal %d without this filter", foreign[i].what,
				 WTERMSIG(st));
		else
			snprintf(why, whylen, "%s gives a wrong answer without any filter",
				 foreign[i].what);
		return why;
	}
	return NULL;
}

struct row {
	const char *name;
	int (*fn)(void);
	enum expect expect;
};

static const struct row rows[] = {
	{ "Seccomp 2 and NoNewPrivs 1 in /proc/self/status (read-only open, read)", a_status,
	  ALLOWED },
	{ "openat O_RDONLY|O_NOFOLLOW, fstat, stat, read, lseek, close", a_read_file, ALLOWED },
	{ "write to fd 2 (the log)", a_stderr, ALLOWED },
	{ "accept4 on the listening socket", a_accept, ALLOWED },
	{ "getsockopt SO_PEERCRED, setsockopt SO_RCVTIMEO/SO_SNDTIMEO", a_sockopts, ALLOWED },
	{ "send and recv", a_send_recv, ALLOWED },
	{ "malloc/realloc/free 4-8 MiB, mmap/mprotect/madvise/munmap RW, brk", a_memory, ALLOWED },
	{ "getrandom, clock_gettime/gettimeofday/getpid/gettid syscalls", a_misc, ALLOWED },
	/* an attacker with code execution in the daemon: run something, reach the network or
	 * another local service, write or remove files, regain ids, read another process */
	{ "execve", k_execve, KILL_ALWAYS },
	{ "execveat", k_execveat, KILL_ALWAYS },
	{ "socket(AF_INET)", k_socket_inet, KILL_ALWAYS },
	{ "socket(AF_UNIX)", k_socket_unix, KILL_ALWAYS },
	{ "connect", k_connect, KILL_ALWAYS },
	{ "bind", k_bind, KILL_ALWAYS },
	{ "listen", k_listen, KILL_ALWAYS },
	{ "openat O_WRONLY", k_open_wronly, KILL_ALWAYS },
	{ "openat O_RDWR", k_open_rdwr, KILL_ALWAYS },
	{ "openat O_RDONLY|O_CREAT", k_open_creat, KILL_ALWAYS },
	{ "openat O_RDONLY|O_TRUNC", k_open_trunc, KILL_ALWAYS },
	{ "openat O_TMPFILE", k_open_tmpfile, KILL_ALWAYS },
	{ "open O_WRONLY (the legacy call)", k_open_legacy_w, KILL_ALWAYS },
	{ "unlink", k_unlink, KILL_ALWAYS },
	{ "rename", k_rename, KILL_ALWAYS },
	{ "chmod", k_chmod, KILL_ALWAYS },
	{ "chown", k_chown, KILL_ALWAYS },
	{ "setuid", k_setuid, KILL_ALWAYS },
	{ "setresuid", k_setresuid, KILL_ALWAYS },
	{ "process_vm_readv", k_process_vm, KILL_ALWAYS },
	{ "write to fd 1 (only fd 2 is the log)", k_write_stdout, KILL_ALWAYS },
	/* foreign ABIs around the filter */
	{ "x32 getpid (__X32_SYSCALL_BIT)", k_x32, KILL_ALWAYS },
	{ "i386 getpid (int $0x80)", k_i386, KILL_ALWAYS },
	/* the rest of "not allowed" (a sanitizer build logs these: LeakSanitizer needs them) */
	{ "fork (clone)", k_fork, KILL_LOGGED },
	{ "ptrace(PTRACE_TRACEME)", k_ptrace, KILL_LOGGED },
	{ "kill(self, 0)", k_kill, KILL_LOGGED },
	{ "mmap PROT_EXEC", k_mmap_exec, KILL_LOGGED },
	{ "mprotect PROT_EXEC", k_mprotect_exec, KILL_LOGGED },
	{ "accept4 on another socket", k_accept_other, KILL_LOGGED },
	{ "setsockopt SO_SNDBUF", k_setsockopt_other, KILL_LOGGED },
	{ "ioctl", k_ioctl, KILL_LOGGED },
	/* glibc opens with openat; the sanitizer runtime with open(2), read-only */
	{ "open O_RDONLY (the legacy call)", k_open_legacy, KILL_LOGGED },
};

/* Run one row in a child.  1 when it ended as expected. */
static int run(const struct row *row)
{
	int killed = row->expect == KILL_ALWAYS ||
		     (row->expect == KILL_LOGGED && !SSM_VERIFYD_SECCOMP_LOG_ONLY);
	char err[256];
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		printf("FAIL: %s: fork: %s\n", row->name, strerror(errno));
		return 0;
	}
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(3);
		if (ssm_verifyd_seccomp(lfd, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			_exit(3);
		}
		_exit(row->fn() == 0 ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) != pid) {
		printf("FAIL: %s: waitpid: %s\n", row->name, strerror(errno));
		return 0;
	}
	if (killed && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) {
		printf("ok: %s: killed by SIGSYS\n", row->name);
		return 1;
	}
	if (!killed && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		printf("ok: %s: %s\n", row->name,
		       row->expect == ALLOWED ? "allowed" : "logged, not killed (sanitizer build)");
		return 1;
	}
	if (WIFSIGNALED(st))
		printf("FAIL: %s: expected %s, killed by signal %d\n", row->name,
		       killed ? "SIGSYS" : "to get through", WTERMSIG(st));
	else
		printf("FAIL: %s: expected %s, exit %d%s\n", row->name,
		       killed ? "SIGSYS" : "to get through", WEXITSTATUS(st),
		       WEXITSTATUS(st) == 3 ? " (filter not installed)" : "");
	return 0;
}

int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	size_t i;
	int fd, passed = 0, failed = 0, skipped = 0;

	parent = getpid();
	snprintf(dir, sizeof(dir), "/tmp/ssm-vsc-probe.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(file, sizeof(file), "%s/existing", dir);
	snprintf(fresh, sizeof(fresh), "%s/fresh", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "data\n", 5) != 5 || close(fd) != 0) {
		perror(file);
		return 1;
	}
	/* an abstract listening socket (nothing on the file system), nonblocking */
	snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "ssm-vsc-probe-%ld", (long)getpid());
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		perror("sockets");
		return 1;
	}
	printf("note: %s build: default action %s\n",
	       SSM_VERIFYD_SECCOMP_LOG_ONLY ? "sanitizer" : "release",
	       SSM_VERIFYD_SECCOMP_LOG_ONLY ? "LOG (explicit kill list)" : "KILL_PROCESS");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char why[256];

		if (unfiltered_fails(rows[i].fn, why, sizeof(why))) {
			printf("SKIP: %s: %s\n", rows[i].name, why);
			skipped++;
			continue;
		}
		if (run(&rows[i]))
			passed++;
		else
			failed++;
	}
	/* and the calls that were killed did nothing */
	if (stat(file, &st) == 0 && st.st_size == 5 && (st.st_mode & 07777) == 0644 &&
	    st.st_uid == getuid() && access(fresh, F_OK) != 0) {
		printf("ok: the scratch file is untouched and nothing was created\n");
		passed++;
	} else {
		printf("FAIL: the scratch file changed or a file was created\n");
		failed++;
	}
	(void)unlink(fresh);
	(void)unlink(file);
	(void)rmdir(dir);
	printf("verifyd_seccomp_probe: %d passed, %d failed, %d skipped\n", passed, failed,
	       skipped);
	return failed == 0 ? 0 : 1;
}
