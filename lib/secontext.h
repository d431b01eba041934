/* secontext.h - SELinux security contexts as strings, and ssm-shell's rule for when its
 * recorder cannot have its own domain.  Pure functions: no libselinux, no system state,
 * so tests/test_secontext checks them on any machine (selinux/README.md, docs/SECURITY.md).
 *
 * A context is USER:ROLE:TYPE[:RANGE].  USER, ROLE and TYPE are policy identifiers
 * (a letter or '_', then letters, digits, '_', '.', '-'); RANGE, the MLS/MCS level or
 * range ("s0", "s0-s0:c0.c1023", "s0:c1,c5"), is everything after the third colon and may
 * itself hold colons.  Contexts here are raw (untranslated: no mcstrans names). */
#ifndef SSM_SECONTEXT_H
#define SSM_SECONTEXT_H
#include <stddef.h>

/* The longest context accepted; the kernel's own limit is a page. */
#define SSM_SECONTEXT_MAX 4096

/* The recorder's domain (selinux/ssmsession.te). */
#define SSM_RECORDER_TYPE "ssm_recorder_t"

/* con with its type replaced by type, USER, ROLE and RANGE kept as they are, written to out
 * (outsz bytes, NUL included).  0; -EINVAL for a malformed con or type; -ENAMETOOLONG
 * when con is longer than SSM_SECONTEXT_MAX or the result does not fit in out.  On error
 * out holds "" (when outsz > 0). */
int ssm_secontext_with_type(const char *con, const char *type, char *out, size_t outsz);

/* What ssm-shell does about its recorder's domain.
 *   enabled   is_selinux_enabled(): 1, 0, or negative when it could not tell
 *   enforcing security_getenforce(): 1, 0, or negative when it could not be read
 *   err       0 when the step (deriving, checking or entering the context) worked, else
 *             a negative errno
 * SSM_SE_OFF: SELinux is disabled, nothing to do.  SSM_SE_OK: go on in the new domain.
 * SSM_SE_CONTINUE: the step failed but SELinux is permissive: log it and go on without
 * the domain.  SSM_SE_REFUSE: the step failed and SELinux is enforcing (or in a state
 * that could not be read: fail closed): no session. */
enum ssm_se_verdict { SSM_SE_OFF, SSM_SE_OK, SSM_SE_CONTINUE, SSM_SE_REFUSE };
enum ssm_se_verdict ssm_selinux_verdict(int enabled, int enforcing, int err);

#endif
