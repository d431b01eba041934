/* seccomp_policy.h - the session's seccomp filter as reviewable data */
#ifndef SSM_SECCOMP_POLICY_H
#define SSM_SECCOMP_POLICY_H
#include <stddef.h>

/* Profiles: "baseline" (every session), "strict" (baseline plus more denials for command
 * documents), "debug" (baseline but ptrace and perf_event_open allowed). */
int ssm_seccomp_profile_valid(const char *profile);

/* Build and load the filter for profile into the calling thread.  no_new_privs: set
 * PR_SET_NO_NEW_PRIVS first (required when the caller lacks CAP_SYS_ADMIN; forbids
 * privilege gain through setuid programs such as sudo).  log: SCMP_FLTATR_CTL_LOG where the
 * kernel supports it.  0 or -errno. */
int ssm_seccomp_apply(const char *profile, int no_new_privs);

/* Write the filter of profile as libseccomp's PFC text to fd (for the golden-file test). */
int ssm_seccomp_export_pfc(const char *profile, int fd);

/* Self-check of the table: sorted, help text on every group, no unknown syscall names.
 * Returns 0 or -EINVAL with a message through ssm_log. */
int ssm_seccomp_table_check(void);

#endif
