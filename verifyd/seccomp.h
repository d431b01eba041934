/* seccomp.h - the system call filter of ssm-verifyd (ssm-verifyd(8), SECURITY). */
#ifndef SSM_VERIFYD_SECCOMP_H
#define SSM_VERIFYD_SECCOMP_H

#include <stddef.h>

/* A sanitizer build (configure --enable-sanitizers) cannot run under the kill-by-default
 * filter: ASan/UBSan reports and LeakSanitizer's check at exit need system calls the daemon
 * never makes (clone, ptrace, prctl, /proc reads, sigaltstack...).  There the default action
 * is SCMP_ACT_LOG instead (the kernel logs, the call goes on) and only an explicit deny list
 * kills (exec, sockets, writes to files, setuid, process_vm_*): SSM_VERIFYD_SECCOMP_LOG_ONLY
 * is 1.  Release builds: 0, anything not allowed kills the process. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SSM_VERIFYD_SECCOMP_LOG_ONLY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SSM_VERIFYD_SECCOMP_LOG_ONLY 1
#endif
#endif
#ifndef SSM_VERIFYD_SECCOMP_LOG_ONLY
#define SSM_VERIFYD_SECCOMP_LOG_ONLY 0
#endif

/* Install the filter that confines the accept loop: accept4 on listen_fd only, socket
 * I/O, read-only opens, writes to fd 2, memory without PROT_EXEC, time, exit.  Any other
 * system call, and any call of another ABI (i386, x32), kills the process.  The caller must
 * already have set PR_SET_NO_NEW_PRIVS (refused otherwise).  0 or negative errno, with the
 * reason in err. */
int ssm_verifyd_seccomp(int listen_fd, char *err, size_t errlen);

#endif
