/* selinux.c - the recorder's own SELinux domain (selinux/README.md, docs/SECURITY.md).
 *
 * ssm-shell runs in ssm_shell_t; its recorder is the same process after the fork of the
 * session's init and the drop to the recorder user, with no exec, so no type transition
 * can give it a domain of its own.  It takes one with setcon(3): ssm_recorder_t, the
 * context of ssm-shell with the type replaced (lib/secontext.c), which the session's
 * processes can neither signal nor trace, and which holds the transcript and the audit
 * log through the descriptors it inherited.  The session's init and child were forked
 * before, and stay in ssm_shell_t; the child's exec then leaves it by the policy's type
 * transition (the run-as user's domain), so no setexeccon is needed.
 *
 * Two steps:
 *   shell_selinux_prepare    as root, before anything is created: derive the context and
 *                            check that the loaded policy knows it
 *   shell_selinux_recorder   the recorder, after its privilege drop and before the
 *                            session's init lets the session child start: setcon
 * A failure refuses the session when SELinux is enforcing (login_denied, reason
 * "selinux"; the session child never starts); when permissive, a log line and the
 * recorder stays in ssm_shell_t; when SELinux is disabled nothing happens.  Built without
 * libselinux (configure --without-selinux) both are no-ops. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include <syslog.h>
#ifdef HAVE_SELINUX
#include <selinux/selinux.h>
#endif

#include "log.h"
#include "secontext.h"
#include "shell.h"

#ifdef HAVE_SELINUX
/* the permissive case: on the client's standard error and in syslog */
static void warn_permissive(const char *what, int err)
{
	ssm_log(LOG_WARNING, "SELinux is permissive: %s: %s; the recorder stays in ssm-shell's "
	                     "domain",
	        what, strerror(-err));
	syslog(LOG_AUTHPRIV | LOG_WARNING,
	       "ssm-shell: SELinux is permissive: %s: %s; the recorder stays in ssm-shell's "
	       "domain",
	       what, strerror(-err));
}
#endif

void shell_selinux_prepare(struct shell *sh)
{
	sh->se_recorder[0] = '\0';
#ifdef HAVE_SELINUX
	{
		const char *what = NULL;
		char *cur = NULL;
		int enabled = is_selinux_enabled(), r = 0;

		if (enabled == 0) {
			ssm_log(LOG_DEBUG, "SELinux is disabled: the recorder needs no domain");
			return;
		}
		sh->se_enforcing = security_getenforce();
		if (getcon_raw(&cur) != 0 || cur == NULL) {
			r = errno ? -errno : -EINVAL;
			what = "cannot read ssm-shell's own context";
		} else if ((r = ssm_secontext_with_type(cur, SSM_RECORDER_TYPE, sh->se_recorder,
		                                        sizeof(sh->se_recorder))) < 0) {
			what = "cannot derive the recorder's context from ssm-shell's";
		} else if (security_check_context_raw(sh->se_recorder) != 0) {
			r = errno ? -errno : -EINVAL;
			what = "the recorder's context is not valid in the loaded policy (is the "
			       "ssmsession module loaded? selinux/README.md)";
		}
		freecon(cur);
		switch (ssm_selinux_verdict(enabled, sh->se_enforcing, r)) {
		case SSM_SE_OFF:
		case SSM_SE_OK:
			return;
		case SSM_SE_CONTINUE:
			sh->se_recorder[0] = '\0';
			warn_permissive(what ? what : "SELinux state unknown", r ? r : -EIO);
			return;
		case SSM_SE_REFUSE:
			shell_deny(sh, "selinux", "SELinux is enforcing and %s: %s: no session",
			           what ? what : "its state could not be read",
			           strerror(r ? -r : EIO));
		}
	}
#endif
}

void shell_selinux_recorder(struct shell *sh)
{
#ifdef HAVE_SELINUX
	int r;

	if (sh->se_recorder[0] == '\0')
		return; /* disabled, permissive after a failure, or built without */
	if (setcon_raw(sh->se_recorder) == 0)
		return;
	r = errno ? -errno : -EINVAL;
	if (ssm_selinux_verdict(1, sh->se_enforcing, r) == SSM_SE_CONTINUE) {
		warn_permissive("cannot enter " SSM_RECORDER_TYPE, r);
		return;
	}
	/* our exit closes init's pipe before it sent the session child on its way: the
	 * session never starts */
	shell_deny(sh, "selinux", "SELinux is enforcing and the recorder cannot enter %s: %s: "
	                          "no session",
	           sh->se_recorder, strerror(-r));
#else
	(void)sh;
#endif
}
