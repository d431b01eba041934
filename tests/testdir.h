/* testdir.h - scratch directories for the state tests (audit, replay, record): main makes
 * base with mkdtemp under /tmp; each row gets its own directory below it. */
#ifndef SSM_TESTDIR_H
#define SSM_TESTDIR_H
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIRLEN 512 /* test directory names: well under PATH_MAX */

static char base[256];

/* an ssm_log handler for rows that provoke errors on purpose */
static void quiet_log(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)prio;
	(void)fmt;
	(void)ap;
}

static void rm_rf(const char *path)
{
	char cmd[PATH_MAX + 32];

	if (strncmp(path, "/tmp/", 5) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

/* out (DIRLEN bytes) = base/TAG-N, created with mode; exit 99 (hard error) if it cannot be */
static void new_dir_mode(char *out, const char *tag, mode_t mode)
{
	static int n;

	snprintf(out, DIRLEN, "%s/%s-%d", base, tag, n++);
	if (mkdir(out, mode) != 0) {
		perror(out);
		exit(99);
	}
}
#endif
