/* seccomp_probe - try every call the session filter denies, and ordinary work.
 *
 *   seccomp_probe PROFILE    PROFILE: baseline, strict, debug, or "none" (control run)
 *   seccomp_probe --i386     one i386 system call through int $0x80 (getpid)
 *   seccomp_probe --x32      one x32 system call (getpid | __X32_SYSCALL_BIT)
 *
 * Launched by tests/seccomp_live.sh under tests/seccomp_run; not a test by itself.
 * Every risky call runs in a forked child, with arguments the kernel refuses on its own
 * (bad magic, bad flags, missing paths, bad descriptors), so even the unconfined control run
 * ("none") changes nothing: the control run proves that without the filter none of these calls
 * fails with the errno the filter returns, so a passing confined run means the filter did it.
 * reboot uses a bad magic number: it can never reboot.  A few calls must WORK unconfined and
 * do nothing lasting: ptrace(TRACEME) and process_vm_* on the child itself, TIOCSETD setting
 * N_TTY (the line discipline it already has) on a pty the child opened, modify_ldt reading
 * the child's (empty) LDT.  A row whose call the kernel cannot do at all (modify_ldt without
 * CONFIG_MODIFY_LDT_SYSCALL, no ptys) is reported "SKIPPED: why" in the unconfined run.
 *
 * Prints one line per call, "NAME: ERRNO ok" or "NAME: ERRNO FAIL (expected ...)", then
 * "uid=N" and the Seccomp lines of /proc/self/status.  Exit 0 only when every denied call got
 * the expected errno and every ordinary call worked.  Ends with _exit (no sanitizer leak check:
 * LeakSanitizer needs ptrace, which the filter denies). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sched.h>

#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif
#ifndef N_TTY
#define N_TTY 0
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

extern char **environ;

#define SCP_B 0x1u
#define SCP_S 0x2u
#define SCP_D 0x4u
#define SCP_ALL (SCP_B | SCP_S | SCP_D)

static int devnull = -1;

/* Each probe returns 0 on success or the errno, or PROBE_NOPTY (above every errno) when the
 * probe needs a pseudo-terminal and none can be opened here. */
#define PROBE_NOPTY 250
static int ret(long r)
{
	return r < 0 ? errno : 0;
}

/* A fresh pseudo-terminal of our own; returns the slave's fd (the master stays open in the
 * forked child until it exits), or -1. */
static int own_pty(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	const char *name;

	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || !(name = ptsname(m)))
		return -1;
	return open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

static int p_init_module(void)
{
	return ret(syscall(SYS_init_module, NULL, 0UL, ""));
}
static int p_finit_module(void)
{
	return ret(syscall(SYS_finit_module, -1, "", 0));
}
static int p_delete_module(void)
{
	return ret(syscall(SYS_delete_module, "ssm_probe_no_such_module", O_NONBLOCK));
}
static int p_kexec_load(void)
{
	/* nr_segments far above KEXEC_SEGMENT_MAX: EINVAL (or ENOSYS without kexec) */
	return ret(syscall(SYS_kexec_load, 0UL, 100000UL, NULL, 0UL));
}
static int p_kexec_file_load(void)
{
	return ret(syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, 0UL));
}
static int p_reboot(void)
{
	/* wrong magic numbers: the kernel answers EINVAL, it can never reboot */
	return ret(syscall(SYS_reboot, 0x1234567, 0x7654321, 0, NULL));
}
static int p_swapon(void)
{
	return ret(syscall(SYS_swapon, "/nonexistent/ssm-probe", 0));
}
static int p_swapoff(void)
{
	return ret(syscall(SYS_swapoff, "/nonexistent/ssm-probe"));
}
static int p_mount(void)
{
	return ret(mount("none", "/nonexistent/ssm-probe", "tmpfs", 0, NULL));
}
static int p_umount2(void)
{
	return ret(umount2("/nonexistent/ssm-probe", 0));
}
static int p_pivot_root(void)
{
	return ret(syscall(SYS_pivot_root, "/nonexistent/a", "/nonexistent/b"));
}
static int p_fsopen(void)
{
	return ret(syscall(SYS_fsopen, "ssm-no-such-fs", 0));
}
static int p_open_tree(void)
{
	return ret(syscall(SYS_open_tree, -1, "/nonexistent/ssm-probe", 0));
}
static int p_unshare_user(void)
{
	return ret(unshare(CLONE_NEWUSER));
}
static int p_unshare_ns(void)
{
	return ret(unshare(CLONE_NEWNS));
}
static int p_unshare_net(void)
{
	return ret(unshare(CLONE_NEWNET));
}
static int p_unshare_time(void)
{
	return ret(unshare(CLONE_NEWTIME));
}
static int p_unshare_fs(void)
{
	return ret(unshare(CLONE_FS));
}
static int p_setns(void)
{
	return ret(setns(-1, 0));
}

static int raw_clone(unsigned long flags)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, 0UL, NULL, NULL, 0UL);

	if (r == 0)
		_exit(0);
	if (r < 0)
		return errno;
	waitpid((pid_t)r, NULL, 0);
	return 0;
}
static int p_clone_newpid(void)
{
	return raw_clone(CLONE_NEWPID);
}
static int p_clone_newuser(void)
{
	return raw_clone(CLONE_NEWUSER);
}
static int p_clone_newnet(void)
{
	return raw_clone(CLONE_NEWNET);
}
static int p_clone_newns_hi(void)
{
	/* high bits above 32 set as well: the mask test still sees CLONE_NEWNS */
	return raw_clone(CLONE_NEWNS | (sizeof(long) > 4 ? (1UL << 40) : 0));
}
static int p_clone3(void)
{
	return ret(syscall(SYS_clone3, NULL, 0UL));
}
static int p_bpf(void)
{
	return ret(syscall(SYS_bpf, 0x7fff, NULL, 0));
}
static int p_perf(void)
{
	/* invalid flags: EINVAL from the kernel */
	return ret(syscall(SYS_perf_event_open, NULL, 0, -1, -1, ~0UL));
}
static int p_ptrace(void)
{
	return ret(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}
static int p_vm_readv(void)
{
	char src[8] = "ssmprob", dst[8];
	struct iovec l = {dst, sizeof(dst)}, r = {src, sizeof(src)};

	return ret(process_vm_readv(getpid(), &l, 1, &r, 1, 0));
}
static int p_vm_writev(void)
{
	char src[8] = "ssmprob", dst[8];
	struct iovec l = {src, sizeof(src)}, r = {dst, sizeof(dst)};

	return ret(process_vm_writev(getpid(), &l, 1, &r, 1, 0));
}
static int p_pidfd_getfd(void)
{
	return ret(syscall(SYS_pidfd_getfd, -1, 0, 0));
}
static int p_keyctl(void)
{
	return ret(syscall(SYS_keyctl, 0x7fff, 0UL, 0UL, 0UL, 0UL));
}
static int p_add_key(void)
{
	return ret(syscall(SYS_add_key, NULL, NULL, NULL, 0UL, 0));
}
static int p_request_key(void)
{
	return ret(syscall(SYS_request_key, NULL, NULL, NULL, 0));
}
static int p_userfaultfd(void)
{
	return ret(syscall(SYS_userfaultfd, ~0));
}
static int p_io_uring_setup(void)
{
	return ret(syscall(SYS_io_uring_setup, 0U, NULL));
}
static int p_io_uring_enter(void)
{
	return ret(syscall(SYS_io_uring_enter, -1, 0U, 0U, 0U, NULL, 0UL));
}
static int p_open_by_handle(void)
{
	return ret(syscall(SYS_open_by_handle_at, -1, NULL, 0));
}
static int p_pers_linux32(void)
{
	return ret(personality(PER_LINUX32));
}
static int p_pers_hibits(void)
{
	return ret(syscall(SYS_personality, 0x100000000UL));
}
static int p_pers_norandom(void)
{
	return ret(personality(ADDR_NO_RANDOMIZE));
}
static int p_tiocsti(void)
{
	char c = '#';
	return ret(ioctl(devnull, TIOCSTI, &c));
}
static int p_tiocsti_hi(void)
{
	char c = '#';
	return ret(syscall(SYS_ioctl, devnull, 0x100000000UL | TIOCSTI, &c));
}
static int p_tioclinux(void)
{
	char c = 2;
	return ret(ioctl(devnull, TIOCLINUX, &c));
}
static int p_tioclinux_hi(void)
{
	char c = 2;
	return ret(syscall(SYS_ioctl, devnull, 0xffff000000000000UL | TIOCLINUX, &c));
}
/* TIOCSETD on our own pty, setting the line discipline it already has (N_TTY): the kernel
 * does nothing and answers 0, so unconfined it must work.  The filter looks only at the
 * command, so confined it is EPERM whatever the descriptor.  Without ptys the call goes to
 * /dev/null (ENOTTY unconfined): the unconfined row is then skipped. */
static int tiocsetd(unsigned long cmd)
{
	int ldisc = N_TTY, fd = own_pty(), r;

	r = ret(syscall(SYS_ioctl, fd >= 0 ? fd : devnull, cmd, &ldisc));
	return fd < 0 && r == ENOTTY ? PROBE_NOPTY : r;
}
static int p_tiocsetd(void)
{
	return tiocsetd(TIOCSETD);
}
static int p_tiocsetd_hi(void)
{
	/* the kernel takes ioctl's command as unsigned int: the high bits are dropped */
	return tiocsetd(0xffffffff00000000UL | TIOCSETD);
}
#ifdef SYS_modify_ldt
static int p_modify_ldt(void)
{
	/* func 0 reads this process's LDT (none: 0 bytes); ENOSYS when the kernel is built
	 * without CONFIG_MODIFY_LDT_SYSCALL */
	char ldt[64];

	return ret(syscall(SYS_modify_ldt, 0, ldt, sizeof(ldt)));
}
#endif
/* strict only */
static int p_acct(void)
{
	return ret(acct("/nonexistent/ssm-probe"));
}
static int p_chroot(void)
{
	return ret(chroot("/nonexistent/ssm-probe"));
}
static int p_clock_settime(void)
{
	struct timespec ts = {0, 0};
	return ret(clock_settime(CLOCK_MONOTONIC, &ts)); /* EINVAL: monotonic cannot be set */
}
static int p_sethostname(void)
{
	return ret(syscall(SYS_sethostname, "x", -1));
}
static int p_quotactl(void)
{
	return ret(syscall(SYS_quotactl, 0x7fff00, "/nonexistent/ssm-probe", 0, NULL));
}
static int p_syslog(void)
{
	return ret(syscall(SYS_syslog, 0x7fff, NULL, 0));
}
#ifdef SYS_iopl
static int p_iopl(void)
{
	return ret(syscall(SYS_iopl, 4));
}
#endif

struct probe {
	const char *name;
	int (*fn)(void);
	unsigned denied;  /* profiles that deny it */
	int deny_errno;   /* errno the filter returns */
	int must_succeed; /* when allowed, the call itself must work */
};

static const struct probe probes[] = {
    {"init_module", p_init_module, SCP_ALL, EPERM, 0},
    {"finit_module", p_finit_module, SCP_ALL, EPERM, 0},
    {"delete_module", p_delete_module, SCP_ALL, EPERM, 0},
    {"kexec_load", p_kexec_load, SCP_ALL, EPERM, 0},
    {"kexec_file_load", p_kexec_file_load, SCP_ALL, EPERM, 0},
    {"reboot(bad magic)", p_reboot, SCP_ALL, EPERM, 0},
    {"swapon", p_swapon, SCP_ALL, EPERM, 0},
    {"swapoff", p_swapoff, SCP_ALL, EPERM, 0},
    {"mount", p_mount, SCP_ALL, EPERM, 0},
    {"umount2", p_umount2, SCP_ALL, EPERM, 0},
    {"pivot_root", p_pivot_root, SCP_ALL, EPERM, 0},
    {"fsopen", p_fsopen, SCP_ALL, EPERM, 0},
    {"open_tree", p_open_tree, SCP_ALL, EPERM, 0},
    {"unshare(CLONE_NEWUSER)", p_unshare_user, SCP_ALL, EPERM, 0},
    {"unshare(CLONE_NEWNS)", p_unshare_ns, SCP_ALL, EPERM, 0},
    {"unshare(CLONE_NEWNET)", p_unshare_net, SCP_ALL, EPERM, 0},
    {"unshare(CLONE_NEWTIME)", p_unshare_time, SCP_ALL, EPERM, 0},
    {"unshare(CLONE_FS)", p_unshare_fs, SCP_S, EPERM, 1},
    {"setns", p_setns, SCP_ALL, EPERM, 0},
    {"clone(CLONE_NEWPID)", p_clone_newpid, SCP_ALL, EPERM, 0},
    {"clone(CLONE_NEWUSER)", p_clone_newuser, SCP_ALL, EPERM, 0},
    {"clone(CLONE_NEWNET)", p_clone_newnet, SCP_ALL, EPERM, 0},
    {"clone(CLONE_NEWNS|1<<40)", p_clone_newns_hi, SCP_ALL, EPERM, 0},
    {"clone3", p_clone3, SCP_ALL, ENOSYS, 0},
    {"bpf", p_bpf, SCP_ALL, EPERM, 0},
    {"perf_event_open", p_perf, SCP_B | SCP_S, EPERM, 0},
    {"ptrace(PTRACE_TRACEME)", p_ptrace, SCP_B | SCP_S, EPERM, 1},
    {"process_vm_readv", p_vm_readv, SCP_B | SCP_S, EPERM, 1},
    {"process_vm_writev", p_vm_writev, SCP_B | SCP_S, EPERM, 1},
    {"pidfd_getfd", p_pidfd_getfd, SCP_B | SCP_S, EPERM, 0},
    {"keyctl", p_keyctl, SCP_ALL, EPERM, 0},
    {"add_key", p_add_key, SCP_ALL, EPERM, 0},
    {"request_key", p_request_key, SCP_ALL, EPERM, 0},
    {"userfaultfd", p_userfaultfd, SCP_ALL, EPERM, 0},
    {"io_uring_setup", p_io_uring_setup, SCP_ALL, EPERM, 0},
    {"io_uring_enter", p_io_uring_enter, SCP_ALL, EPERM, 0},
    {"open_by_handle_at", p_open_by_handle, SCP_ALL, EPERM, 0},
    {"personality(PER_LINUX32)", p_pers_linux32, SCP_ALL, EPERM, 1},
    {"personality(1<<32)", p_pers_hibits, SCP_ALL, EPERM, 1},
    {"personality(ADDR_NO_RANDOMIZE)", p_pers_norandom, SCP_B | SCP_S, EPERM, 1},
    {"ioctl(TIOCSTI)", p_tiocsti, SCP_ALL, EPERM, 0},
    {"ioctl(1<<32|TIOCSTI)", p_tiocsti_hi, SCP_ALL, EPERM, 0},
    {"ioctl(TIOCLINUX)", p_tioclinux, SCP_ALL, EPERM, 0},
    {"ioctl(0xffff<<48|TIOCLINUX)", p_tioclinux_hi, SCP_ALL, EPERM, 0},
    {"ioctl(TIOCSETD, N_TTY) on a pty", p_tiocsetd, SCP_ALL, EPERM, 1},
    {"ioctl(0xffffffff<<32|TIOCSETD, N_TTY) on a pty", p_tiocsetd_hi, SCP_ALL, EPERM, 1},
#ifdef SYS_modify_ldt
    {"modify_ldt(read)", p_modify_ldt, SCP_ALL, EPERM, 1},
#endif
    {"acct", p_acct, SCP_S, EPERM, 0},
    {"chroot", p_chroot, SCP_S, EPERM, 0},
    {"clock_settime", p_clock_settime, SCP_S, EPERM, 0},
    {"sethostname", p_sethostname, SCP_S, EPERM, 0},
    {"quotactl", p_quotactl, SCP_S, EPERM, 0},
    {"syslog", p_syslog, SCP_S, EPERM, 0},
#ifdef SYS_iopl
    {"iopl", p_iopl, SCP_S, EPERM, 0},
#endif
};

/* Where the call is allowed, these answers mean the kernel cannot do it at all here: the row
 * is skipped with the reason (never where the filter denies the call). */
static const struct {
	int (*fn)(void);
	int e;
	const char *why;
} unsupported[] = {
    {p_tiocsetd, PROBE_NOPTY, "no pseudo-terminal can be opened here"},
    {p_tiocsetd_hi, PROBE_NOPTY, "no pseudo-terminal can be opened here"},
#ifdef SYS_modify_ldt
    {p_modify_ldt, ENOSYS, "kernel built without CONFIG_MODIFY_LDT_SYSCALL"},
#endif
};

static const char *unsupported_why(int (*fn)(void), int e)
{
	size_t i;

	for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (unsupported[i].fn == fn && unsupported[i].e == e)
			return unsupported[i].why;
	return NULL;
}

/* Run fn in a child; its result (0 or errno) comes back as the exit status.
 * Returns the errno, or -signal when the child was killed. */
static int in_child(int (*fn)(void))
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(fn() & 0xff);
	if (waitpid(pid, &st, 0) < 0)
		return errno;
	if (WIFSIGNALED(st))
		return -WTERMSIG(st);
	return WEXITSTATUS(st);
}

static const char *ename(int e)
{
	const char *n;

	if (e == 0)
		return "OK";
	if (e < 0)
		return "KILLED";
	n = strerrorname_np(e);
	return n ? n : "E?";
}

static int failures;

static void report(const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(const char *name, int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" %s\n", ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

/* ---- ordinary work: must succeed under every profile */
static int wait_ok(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		return errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : ECHILD;
}
static int o_fork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(0);
	return wait_ok(pid);
}
static int o_exec(void)
{
	char *argv[] = {"true", NULL};
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0) {
		execv("/bin/true", argv);
		_exit(127);
	}
	return wait_ok(pid);
}
static int o_spawn(void)
{
	/* glibc tries clone3 first, gets ENOSYS and falls back to clone */
	char *argv[] = {"true", NULL};
	pid_t pid;
	int r = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);

	return r ? r : wait_ok(pid);
}
static void *thread_fn(void *arg)
{
	return arg;
}
static int o_thread(void)
{
	static int token;
	pthread_t t;
	void *res = NULL;
	int r = pthread_create(&t, NULL, thread_fn, &token);

	if (r)
		return r;
	pthread_join(t, &res);
	return res == &token ? 0 : EINVAL;
}
static int o_file(void)
{
	char path[] = "/tmp/ssm-probe.XXXXXX", buf[6] = "";
	int fd = mkstemp(path), r = 0;

	if (fd < 0)
		return errno;
	if (write(fd, "hello", 5) != 5 || lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, 5) != 5 ||
	    strcmp(buf, "hello") != 0)
		r = errno ? errno : EIO;
	close(fd);
	unlink(path);
	return r;
}
static int o_pers_query(void)
{
	return personality(0xffffffff) < 0 ? errno : 0;
}
static int o_pers_linux(void)
{
	return personality(PER_LINUX) < 0 ? errno : 0;
}
static int o_getpid(void)
{
	return getpid() > 0 ? 0 : EINVAL;
}
static int o_ioctl(void)
{
	int p[2], n = -1, r;

	if (pipe(p) < 0)
		return errno;
	r = ioctl(p[0], FIONREAD, &n) < 0 ? errno : (n == 0 ? 0 : EINVAL);
	close(p[0]);
	close(p[1]);
	return r;
}
static int o_ioctl_tty(void)
{
	/* an ordinary terminal ioctl on a non-terminal: the kernel's ENOTTY, not EPERM */
	struct winsize ws;

	return ioctl(devnull, TIOCGWINSZ, &ws) < 0 && errno == ENOTTY ? 0 : EINVAL;
}

static int o_tiocgetd(void)
{
	/* reading the line discipline stays allowed: the rule is exact on TIOCSETD */
	int ldisc = -1, fd = own_pty();

	if (fd < 0)
		return PROBE_NOPTY;
	return ioctl(fd, TIOCGETD, &ldisc) < 0 ? errno : (ldisc == N_TTY ? 0 : EINVAL);
}

static const struct {
	const char *name;
	int (*fn)(void);
} ordinary[] = {
    {"fork", o_fork},
    {"fork+exec /bin/true", o_exec},
    {"posix_spawn /bin/true", o_spawn},
    {"pthread_create", o_thread},
    {"open/write/read file", o_file},
    {"personality(0xffffffff) query", o_pers_query},
    {"personality(PER_LINUX)", o_pers_linux},
    {"getpid", o_getpid},
    {"ioctl(FIONREAD) on a pipe", o_ioctl},
    {"ioctl(TIOCGWINSZ) on /dev/null", o_ioctl_tty},
    {"ioctl(TIOCGETD) on a pty", o_tiocgetd},
};

static void show_status(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Seccomp", 7) == 0 || strncmp(line, "NoNewPrivs", 10) == 0)
			fputs(line, stdout);
	fclose(f);
}

/* One foreign-ABI getpid.  Exit 0 when the call returned as it should without a filter: i386
 * must give our pid; x32 our pid (x32 ABI) or ENOSYS (no x32 ABI: seccomp still sees the
 * number first).  Exit 3 on a wrong answer, 77 on a build that is not x86_64.  A kernel
 * whose 32-bit entry is off (ia32_emulation=0) kills int $0x80 with SIGSEGV, filter or not:
 * tests/seccomp_live.sh runs this unconfined first and skips the ABI when it does not exit 0. */
static int foreign_abi(const char *which)
{
	long r = -1, pid = (long)syscall(SYS_getpid);
	int ok;

	if (strcmp(which, "--x32") == 0) {
		/* getpid with __X32_SYSCALL_BIT: ENOSYS without x32 support, SIGSYS under the
		 * filter */
		r = syscall(0x40000000L | 39);
		ok = r == pid || (r == -1 && errno == ENOSYS);
		printf("x32 getpid: %ld (%s)%s\n", r, r < 0 ? ename(errno) : "OK",
		       ok ? "" : ": wrong answer");
	} else {
#if defined(__x86_64__)
		long nr = 20; /* i386 getpid */
		__asm__ volatile("int $0x80"
		                 : "=a"(r)
		                 : "0"(nr)
		                 : "memory", "cc", "r8", "r9", "r10", "r11");
		ok = r == pid;
		printf("i386 getpid: %ld%s\n", r, ok ? "" : ": wrong answer (not our pid)");
#else
		printf("i386: not an x86_64 build\n");
		fflush(stdout);
		_exit(77);
#endif
	}
	fflush(stdout);
	_exit(ok ? 0 : 3);
}

int main(int argc, char **argv)
{
	const char *why;
	unsigned bit;
	size_t i;
	int e, ok;

	if (argc != 2) {
		fprintf(stderr, "usage: seccomp_probe baseline|strict|debug|none|--i386|--x32\n");
		return 2;
	}
	if (strcmp(argv[1], "--i386") == 0 || strcmp(argv[1], "--x32") == 0)
		return foreign_abi(argv[1]);
	if (strcmp(argv[1], "baseline") == 0)
		bit = SCP_B;
	else if (strcmp(argv[1], "strict") == 0)
		bit = SCP_S;
	else if (strcmp(argv[1], "debug") == 0)
		bit = SCP_D;
	else if (strcmp(argv[1], "none") == 0)
		bit = 0;
	else {
		fprintf(stderr, "seccomp_probe: unknown profile %s\n", argv[1]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		perror("seccomp_probe: /dev/null");
		return 2;
	}
	printf("# profile %s: denied calls\n", argv[1]);
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const struct probe *p = &probes[i];

		e = in_child(p->fn);
		if (p->denied & bit) {
			ok = e == p->deny_errno;
			report(p->name, ok, "%s (expected %s)", ename(e), ename(p->deny_errno));
		} else if ((why = unsupported_why(p->fn, e)) != NULL) {
			/* allowed, and the kernel cannot do it at all: nothing to compare */
			report(p->name, 1, "%s (allowed here; SKIPPED: %s)",
			       e == PROBE_NOPTY ? "no pty" : ename(e), why);
		} else if (p->must_succeed) {
			report(p->name, e == 0, "%s (allowed here: expected OK)", ename(e));
		} else if (e == EPERM && p->deny_errno == EPERM && geteuid() != 0) {
			/* allowed, but an unprivileged caller gets the kernel's own EPERM: the
			 * root runs tell the two apart */
			report(p->name, 1, "%s (allowed here; unprivileged: not conclusive)",
			       ename(e));
		} else {
			/* allowed: the kernel's own answer, never the filter's errno */
			ok = e >= 0 && e != p->deny_errno;
			report(p->name, ok, "%s (allowed here: expected not %s)", ename(e),
			       ename(p->deny_errno));
		}
	}
	printf("# ordinary work\n");
	for (i = 0; i < sizeof(ordinary) / sizeof(ordinary[0]); i++) {
		e = in_child(ordinary[i].fn);
		if (e == PROBE_NOPTY)
			report(ordinary[i].name, 1,
			       "SKIPPED: no pseudo-terminal can be opened here");
		else
			report(ordinary[i].name, e == 0, "%s", ename(e));
	}
	/* and in this process too: the query must keep working here */
	e = o_pers_query();
	report("personality query (in process)", e == 0, "%s", ename(e));
	show_status();
	printf("seccomp_probe %s: %d failures\n", argv[1], failures);
	fflush(stdout);
	_exit(failures ? 1 : 0);
}
