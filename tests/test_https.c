/* test_https.c - the parser of the broker's HTTP answers (lib/https.c), what `ssm` and
 * `ssmctl register` read from a network peer: a table of good and bad answers. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "https.h"

static const struct {
	int line;
	const char *in;
	size_t len; /* 0: strlen */
	int want_r, want_status;
	const char *want_body;
} rows[] = {
    {__LINE__, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}", 0, 0, 200, "{\"a\":1}"},
    {__LINE__, "HTTP/1.1 403 Forbidden\r\n\r\n", 0, 0, 403, ""},
    {__LINE__, "HTTP/1.1 204\r\n\r\n", 0, 0, 204, ""},
    {__LINE__, "HTTP/1.1 500 x\r\n\r\nbody\r\n\r\nmore", 0, 0, 500, "body\r\n\r\nmore"},
    /* not HTTP/1.1, or no status of three digits 1xx..5xx */
    {__LINE__, "HTTP/1.0 200 OK\r\n\r\n{}", 0, -EINVAL, 0, NULL},
    {__LINE__, "HTTP/1.1 20 OK\r\n\r\n{}", 0, -EINVAL, 0, NULL},
    {__LINE__, "HTTP/1.1 2000 OK\r\n\r\n{}", 0, -EINVAL, 0, NULL},
    {__LINE__, "HTTP/1.1 600 OK\r\n\r\n{}", 0, -EINVAL, 0, NULL},
    {__LINE__, "HTTP/1.1 099 OK\r\n\r\n{}", 0, -EINVAL, 0, NULL},
    {__LINE__, "HTTP/1.1 -20 OK\r\n\r\n{}", 0, -EINVAL, 0, NULL},
    {__LINE__, "HTTP/1.1 2x0 OK\r\n\r\n{}", 0, -EINVAL, 0, NULL},
    {__LINE__, "HTTP/1.1 200", 0, -EINVAL, 0, NULL},
    {__LINE__, "", 0, -EINVAL, 0, NULL},
    /* no end of the headers */
    {__LINE__, "HTTP/1.1 200 OK\r\nX: y\r\n", 0, -EINVAL, 0, NULL},
    {__LINE__, "HTTP/1.1 200 OK\n\n{}", 0, -EINVAL, 0, NULL},
    /* a NUL in the headers or the body */
    {__LINE__, "HTTP/1.1 200 OK\r\nX: \0y\r\n\r\n{}", 28, -EINVAL, 0, NULL},
    {__LINE__, "HTTP/1.1 200 OK\r\n\r\n{\0}", 22, -EINVAL, 0, NULL},
};

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[256] = "", *body = (char *)1;
		int status = -1;
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].in);
		int r = ssm_https_parse_answer(rows[i].in, len, &status, &body, err, sizeof(err));

		CHECK_ROW(rows[i].line, r == rows[i].want_r, "r %d, want %d (%s)", r, rows[i].want_r, err);
		if (r == 0) {
			CHECK_ROW(rows[i].line, status == rows[i].want_status, "status %d", status);
			CHECK_ROW(rows[i].line, strcmp(body, rows[i].want_body) == 0, "body \"%s\"", body);
			free(body);
		} else {
			CHECK_ROW(rows[i].line, body == NULL && err[0] != '\0', "no body, a reason");
		}
	}
	return check_done("test_https");
}
