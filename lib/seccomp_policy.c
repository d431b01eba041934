/* seccomp_policy.c: not yet written */
