/* seccomp_run - apply a session seccomp profile, then exec a command (for seccomp_live.sh)
 *
 *   seccomp_run PROFILE NNP -- COMMAND [ARG...]
 *
 * NNP is 0 or 1: the no_new_privs argument of ssm_seccomp_apply.  Exit 125 when the filter
 * cannot be applied (the reason on stderr), 127 when COMMAND cannot be executed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "seccomp_policy.h"

int main(int argc, char **argv)
{
	int r;

	if (argc < 5 || strcmp(argv[3], "--") != 0 ||
	    (strcmp(argv[2], "0") != 0 && strcmp(argv[2], "1") != 0)) {
		fprintf(stderr, "usage: seccomp_run PROFILE 0|1 -- COMMAND [ARG...]\n");
		return 125;
	}
	r = ssm_seccomp_apply(argv[1], argv[2][0] == '1');
	if (r < 0) {
		fprintf(stderr, "seccomp_run: ssm_seccomp_apply(%s, %s): %s\n", argv[1], argv[2],
		        strerror(-r));
		return 125;
	}
	execvp(argv[4], argv + 4);
	fprintf(stderr, "seccomp_run: %s: %s\n", argv[4], strerror(errno));
	return 127;
}
