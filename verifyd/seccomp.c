/* seccomp.c - the system call allow-list of ssm-verifyd, installed after the privilege drop
 * and PR_SET_NO_NEW_PRIVS, before the accept loop.
 *
 * What the daemon does from then on: accept a connection on the listening socket, read the
 * peer's credentials, set receive and send timeouts, receive one request, read the
 * configuration, key and document files (open read-only, stat, read, close), verify with
 * OpenSSL 3, cJSON and PCRE2 (memory only: no threads, no dlopen, no JIT), send the verdict,
 * log to standard error, close.  Found with strace -f over the pamtester checks of
 * tests/pam_verifyd.sh, then with this filter at SCMP_ACT_LOG (no audit line was left).
 *
 * Everything else kills the process (SCMP_ACT_KILL_PROCESS); the PAM module then verifies
 * in its own process, so a killed daemon costs speed, never a login.  In particular never
 * allowed: execve/execveat, socket/connect/bind/listen (the listening socket exists
 * already), ptrace, process_vm_readv/writev, opening for writing or creating, unlink,
 * rename, chmod, chown, the setuid family, clone/fork (OpenSSL starts no thread here),
 * kill, ioctl, mmap/mprotect with PROT_EXEC.
 *
 * Architectures: only the native ABI is in the filter.  Any other audit arch (i386 through
 * int $0x80 on x86_64) hits SCMP_FLTATR_ACT_BADARCH = kill; x32 shares x86_64's audit arch,
 * and because SCMP_ARCH_X32 is not added libseccomp guards the x86_64 block with "nr >=
 * __X32_SYSCALL_BIT -> bad arch action", so x32 calls are killed too
 * (tests/verifyd_seccomp_probe checks both).
 *
 * Sanitizer builds: see SSM_VERIFYD_SECCOMP_LOG_ONLY in seccomp.h: default action LOG and
 * an explicit kill list, because ASan's reports and LeakSanitizer's exit check need clone,
 * ptrace, prctl, ioctl (isatty) and more, which the release filter must not allow.  The kill
 * list still stops a report's external symbolizer (execve): such a report loses its
 * symbols, not its first line. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <seccomp.h>
#include "seccomp.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

/* open flags that write, create or truncate: an openat with any of them is not allowed
 * (O_ACCMODE covers O_WRONLY, O_RDWR and the invalid 3; O_TMPFILE without O_DIRECTORY) */
#define OPEN_WRITE_MASK \
	((scmp_datum_t)(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY)))

/* allowed without argument checks */
static const int allow_plain[] = {
	/* the request: one connection's I/O (recv/send are recvfrom/sendto) */
	SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
	SCMP_SYS(close),
	/* reading the configuration, keys and documents (ssm_read_file: open, fstat, read
	 * until EOF; verify.c stats each path to name the file identities in the verdict) */
	SCMP_SYS(read), SCMP_SYS(lseek), SCMP_SYS(newfstatat), SCMP_SYS(fstat), SCMP_SYS(statx),
	/* malloc (brk, mmap arenas, trimming with madvise, realloc with mremap) */
	SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
	/* pthread_once / CRYPTO_THREAD_run_once and OpenSSL's locks wake waiters (seen:
	 * FUTEX_WAKE_PRIVATE at the first verification) */
	SCMP_SYS(futex),
	/* OpenSSL's DRBG, should a code path seed it; time(2)/clock_gettime are vDSO calls,
	 * these are their fallbacks; getpid: OpenSSL's fork detection, glibc's abort */
	SCMP_SYS(getrandom), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(getpid), SCMP_SYS(gettid),
	/* SIGTERM/SIGINT handler return; glibc blocks signals around some calls */
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* killed explicitly in a sanitizer build, where the default only logs (seccomp.h); in a
 * release build the default action kills these and everything else not allowed */
static const int deny_always[] = {
	SCMP_SYS(execve), SCMP_SYS(execveat),
	SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind),
	SCMP_SYS(listen),
	SCMP_SYS(creat), SCMP_SYS(openat2), SCMP_SYS(open_by_handle_at),
	SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(link), SCMP_SYS(linkat), SCMP_SYS(symlink),
	SCMP_SYS(symlinkat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir),
	SCMP_SYS(mknod), SCMP_SYS(mknodat), SCMP_SYS(truncate), SCMP_SYS(ftruncate),
	SCMP_SYS(chmod), SCMP_SYS(fchmod), SCMP_SYS(fchmodat), SCMP_SYS(chown),
	SCMP_SYS(fchown), SCMP_SYS(lchown), SCMP_SYS(fchownat),
	SCMP_SYS(setuid), SCMP_SYS(setgid), SCMP_SYS(setreuid), SCMP_SYS(setregid),
	SCMP_SYS(setresuid), SCMP_SYS(setresgid), SCMP_SYS(setgroups), SCMP_SYS(setfsuid),
	SCMP_SYS(setfsgid), SCMP_SYS(capset),
	SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
	SCMP_SYS(fork), SCMP_SYS(vfork),
	SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root), SCMP_SYS(chroot),
	SCMP_SYS(init_module), SCMP_SYS(finit_module), SCMP_SYS(kexec_load), SCMP_SYS(bpf),
};

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (errlen == 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (r < 0 && n < errlen)
		snprintf(err + n, errlen - n, ": %s", strerror(-r));
	return r;
}

/* The allow rules that look at arguments.  0 or negative errno. */
static int add_arg_rules(scmp_filter_ctx ctx, int listen_fd, const char **what)
{
	int r;

	/* accept only on the listening socket */
	*what = "accept4";
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(accept4), 1,
			     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)listen_fd));
	/* SO_PEERCRED (only root may ask), the 1 s client timeouts (the _OLD numbers on
	 * 64-bit: time_t is already 64 bits there) */
	if (r == 0) {
		*what = "getsockopt";
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2,
				     SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
				     SCMP_A2(SCMP_CMP_EQ, SO_PEERCRED));
	}
	if (r == 0) {
		*what = "setsockopt";
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
				     SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
				     SCMP_A2(SCMP_CMP_EQ, SO_RCVTIMEO));
	}
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
				     SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
				     SCMP_A2(SCMP_CMP_EQ, SO_SNDTIMEO));
	/* read-only opens */
	if (r == 0) {
		*what = "openat";
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, OPEN_WRITE_MASK, 0));
	}
	/* log lines go to standard error, nowhere else */
	if (r == 0) {
		*what = "write";
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
				     SCMP_A0(SCMP_CMP_EQ, 2));
	}
	/* memory, never executable: nothing is loaded after startup */
	if (r == 0) {
		*what = "mmap";
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	}
	if (r == 0) {
		*what = "mprotect";
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	}
	return r;
}

/* Sanitizer builds only: the explicit kills under the logging default.  0 or -errno. */
static int add_deny_rules(scmp_filter_ctx ctx, const char **what)
{
	static const scmp_datum_t open_bits[] = {
		O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_TMPFILE & ~O_DIRECTORY,
	};
	size_t i;
	int r = 0;

	*what = "deny list";
	for (i = 0; r == 0 && i < N_ELEM(deny_always); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, deny_always[i], 0);
	*what = "openat (write)";
	for (i = 0; r == 0 && i < N_ELEM(open_bits); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, open_bits[i], open_bits[i]));
	/* the sanitizer runtime opens with open(2) on x86_64 (/proc/self/maps, LeakSanitizer's
	 * /proc/PID/task): read-only is logged there, writing still kills */
	*what = "open (write)";
	for (i = 0; r == 0 && i < N_ELEM(open_bits); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(open), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, open_bits[i], open_bits[i]));
	*what = "write (fd 2)";
	if (r == 0) /* what the release filter refuses; ASan writes to fd 2 only */
		r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(write), 1,
				     SCMP_A0(SCMP_CMP_NE, 2));
	return r;
}

int ssm_verifyd_seccomp(int listen_fd, char *err, size_t errlen)
{
	const uint32_t dflt = SSM_VERIFYD_SECCOMP_LOG_ONLY ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	const char *what = "attributes";
	scmp_filter_ctx ctx;
	size_t i;
	int r;

	if (errlen > 0)
		err[0] = '\0';
	if (listen_fd < 0)
		return fail(err, errlen, -EBADF, "seccomp: no listening socket");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return fail(err, errlen, -EPERM, "seccomp: no_new_privs is not set");
	/* KILL_PROCESS and LOG need API level 3 (Linux 4.14) */
	if (seccomp_api_get() < 3)
		return fail(err, errlen, -EOPNOTSUPP,
			    "seccomp: kernel or libseccomp too old (API level %u, need 3)",
			    seccomp_api_get());
	ctx = seccomp_init(dflt);
	if (ctx == NULL)
		return fail(err, errlen, -ENOMEM, "seccomp: seccomp_init failed");
	/* any other ABI is killed (see the top); NNP is ours to set, and set already */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* the kernel logs every action but allow: a kill names the system call */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	for (i = 0; r == 0 && i < N_ELEM(allow_plain); i++) {
		what = "allow list";
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow_plain[i], 0);
	}
	if (r == 0)
		r = add_arg_rules(ctx, listen_fd, &what);
	if (r == 0 && SSM_VERIFYD_SECCOMP_LOG_ONLY)
		r = add_deny_rules(ctx, &what);
	if (r < 0) {
		r = fail(err, errlen, r, "seccomp: building the filter (%s)", what);
		goto out;
	}
	r = seccomp_load(ctx);
	if (r < 0)
		r = fail(err, errlen, r, "seccomp: loading the filter");
out:
	seccomp_release(ctx);
	return r;
}
