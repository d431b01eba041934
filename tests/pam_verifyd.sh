#!/bin/sh
# pam_verifyd.sh - every check of pam_pamtester.sh again, with ssm-verifyd answering the
# module (as its own unprivileged user, in the same private namespace), plus the daemon's
# own checks: it answered, its socket is root's 0600, it is not root and not dumpable, a
# non-root user cannot ask it, and logins go on (verified in-process) once it is gone.
SSM_TEST_VERIFYD=1
export SSM_TEST_VERIFYD
exec /bin/sh "${srcdir:-$(dirname "$0")/..}/tests/pam_pamtester.sh" "$@"
