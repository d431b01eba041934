/* check.h - minimal table-test helpers for the unit tests.
 * CHECK(cond, fmt, ...) records a failure with file:line; check_done() prints
 * "NAME: N passed, M failed" and returns the exit status for main. */
#ifndef SSM_CHECK_H
#define SSM_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int check_pass, check_fail;

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (cond) {                                                                \
			check_pass++;                                                      \
		} else {                                                                   \
			check_fail++;                                                      \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
		}                                                                          \
	} while (0)

/* row-level variant: the table row's own line number is reported */
#define CHECK_ROW(line, cond, ...)                                                         \
	do {                                                                               \
		if (cond) {                                                                \
			check_pass++;                                                      \
		} else {                                                                   \
			check_fail++;                                                      \
			fprintf(stderr, "FAIL %s:%d (row): ", __FILE__, (int)(line));      \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
		}                                                                          \
	} while (0)

static inline int check_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_pass, check_fail);
	return check_fail ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
