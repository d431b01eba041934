/* test_imds.c - the answers of the instance metadata service as ssmctl register --ec2 reads
 * them (ssmctl/imds.c, ssmctl_imds_answer_parse), row by row.  Whoever answers on the
 * metadata service's address is not trusted: the answer must be one plain HTTP/1 response
 * (no chunked encoding, no folded or malformed header line, at most one Content-Length of
 * digits that equals the body's length), or it is refused with one line. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "imds.h"

#define OK200 "HTTP/1.1 200 OK\r\n"
#define MAX 16

static const struct {
	int line;
	const char *in;
	size_t len; /* 0: strlen(in) */
	int status; /* when accepted */
	const char *body;
	const char *want; /* NULL: accepted; else part of the error */
} rows[] = {
	/* answers as IMDS gives them */
	{ __LINE__, OK200 "Content-Length: 5\r\n\r\nhello", 0, 200, "hello", NULL },
	{ __LINE__, "HTTP/1.1 200 OK\r\nX-Aws-Ec2-Metadata-Token-Ttl-Seconds: 300\r\n"
		    "Content-Type: text/plain\r\nAccept-Ranges: none\r\n"
		    "Last-Modified: Sat, 05 Dec 2026 06:00:00 GMT\r\nContent-Length: 4\r\n"
		    "Date: Sat, 05 Dec 2026 06:00:00 GMT\r\nServer: EC2ws\r\nConnection: close\r\n"
		    "\r\nTOKN", 0, 200, "TOKN", NULL },
	{ __LINE__, "HTTP/1.0 401 Unauthorized\r\n\r\n", 0, 401, "", NULL },
	{ __LINE__, OK200 "Server: EC2ws\r\n\r\nabc", 0, 200, "abc", NULL }, /* read to EOF */
	{ __LINE__, OK200 "content-length:\t 3 \r\n\r\nabc", 0, 200, "abc", NULL }, /* OWS, case */
	{ __LINE__, "HTTP/1.1 404 \r\n\r\n", 0, 404, "", NULL },      /* an empty reason */
	{ __LINE__, "HTTP/1.1 200\r\n\r\nx", 0, 200, "x", NULL },     /* no reason at all */
	{ __LINE__, OK200 "X-Empty:\r\n\r\n", 0, 200, "", NULL },     /* an empty value */
	{ __LINE__, OK200 "\r\n0123456789abcdef", 0, 200, "0123456789abcdef", NULL }, /* max */
	/* not an HTTP/1 status line */
	{ __LINE__, "", 0, 0, NULL, "no end of the header section" },
	{ __LINE__, OK200, 0, 0, NULL, "no end of the header section" },
	{ __LINE__, "HTTP/2 200\r\n\r\n", 0, 0, NULL, "status line" },
	{ __LINE__, "HTTP/1.2 200 OK\r\n\r\n", 0, 0, NULL, "status line" },
	{ __LINE__, "HTTP/1.10 200 OK\r\n\r\n", 0, 0, NULL, "status line" },  /* sscanf's 1.10 */
	{ __LINE__, "HTTP/ 1.1 200 OK\r\n\r\n", 0, 0, NULL, "status line" },  /* %d skipped it */
	{ __LINE__, "HTTP/99999999999999999999.1 200\r\n\r\n", 0, 0, NULL, "status line" },
	{ __LINE__, "HTTP/1.1 2000 OK\r\n\r\n", 0, 0, NULL, "status line" },  /* %3d read 200 */
	{ __LINE__, "HTTP/1.1 +200 OK\r\n\r\n", 0, 0, NULL, "status line" },
	{ __LINE__, "HTTP/1.1  200 OK\r\n\r\n", 0, 0, NULL, "status line" },
	{ __LINE__, "HTTP/1.1 099 Low\r\n\r\n", 0, 0, NULL, "status 099" },
	{ __LINE__, "HTTP/1.1 600 High\r\n\r\n", 0, 0, NULL, "status 600" },
	{ __LINE__, "http/1.1 200 OK\r\n\r\n", 0, 0, NULL, "status line" },
	{ __LINE__, " HTTP/1.1 200 OK\r\n\r\n", 0, 0, NULL, "status line" },
	{ __LINE__, "HTTP/1.1 200 O\rK\r\n\r\n", 0, 0, NULL, "status line" }, /* a bare CR */
	{ __LINE__, "HTTP/1.1 200 OK\nX: y\r\n\r\n", 0, 0, NULL, "status line" }, /* a bare LF */
	/* header lines */
	{ __LINE__, OK200 "Garbage\r\n\r\n", 0, 0, NULL, "header line" },     /* no colon */
	{ __LINE__, OK200 ": x\r\n\r\n", 0, 0, NULL, "header line" },         /* no name */
	{ __LINE__, OK200 "Content-Length : 3\r\n\r\nabc", 0, 0, NULL, "header line" },
	{ __LINE__, OK200 "X: a\r\n Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 0,
	  NULL, "header line" },                                            /* obs-fold */
	{ __LINE__, OK200 "X: a\nContent-Length: 9\r\n\r\nabc", 0, 0, NULL, "header line" },
	{ __LINE__, OK200 "X: a\rContent-Length: 9\r\n\r\nabc", 0, 0, NULL, "header line" },
	{ __LINE__, OK200 "X: a\x01\r\n\r\n", 0, 0, NULL, "header line" },    /* a control */
	{ __LINE__, OK200 "X: a\x7f\r\n\r\n", 0, 0, NULL, "header line" },
	{ __LINE__, OK200 "X\xc3\xa9: a\r\n\r\n", 0, 0, NULL, "header line" }, /* not a token */
	/* framing: no chunked encoding, one Content-Length that is the body's */
	{ __LINE__, OK200 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 0, NULL,
	  "Transfer-Encoding" },
	{ __LINE__, OK200 "transfer-encoding: identity\r\n\r\nabc", 0, 0, NULL, "Transfer-Encoding" },
	{ __LINE__, OK200 "Content-Length: 2\r\n\r\nabc", 0, 0, NULL, "Content-Length 2" },
	{ __LINE__, OK200 "Content-Length: 4\r\n\r\nabc", 0, 0, NULL, "Content-Length 4" },
	{ __LINE__, OK200 "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 0, 0, NULL,
	  "two Content-Length" },
	{ __LINE__, OK200 "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 0, 0, NULL,
	  "two Content-Length" },
	{ __LINE__, OK200 "Content-Length: 3abc\r\n\r\nabc", 0, 0, NULL, "Content-Length" },
	{ __LINE__, OK200 "Content-Length: -0\r\n\r\n", 0, 0, NULL, "Content-Length" },
	{ __LINE__, OK200 "Content-Length: +3\r\n\r\nabc", 0, 0, NULL, "Content-Length" },
	{ __LINE__, OK200 "Content-Length: 0x3\r\n\r\nabc", 0, 0, NULL, "Content-Length" },
	{ __LINE__, OK200 "Content-Length: 3, 3\r\n\r\nabc", 0, 0, NULL, "Content-Length" },
	{ __LINE__, OK200 "Content-Length:\r\n\r\n", 0, 0, NULL, "Content-Length" },
	{ __LINE__, OK200 "Content-Length: 18446744073709551619\r\n\r\nabc", 0, 0, NULL,
	  "Content-Length" },                                               /* wraps to 3 */
	{ __LINE__, OK200 "Content-Length: 99999999999999999999999\r\n\r\nabc", 0, 0, NULL,
	  "Content-Length" },
	/* sizes and bytes */
	{ __LINE__, OK200 "\r\n0123456789abcdefX", 0, 0, NULL, "larger than 16 bytes" },
	{ __LINE__, OK200 "Content-Length: 3\r\n\r\na\0c", sizeof(OK200 "Content-Length: 3\r\n\r\n"
							       "a\0c") - 1, 0, NULL, "NUL" },
	{ __LINE__, "HTTP/1.1 200 OK\r\nX: \0\r\n\r\n", sizeof("HTTP/1.1 200 OK\r\nX: \0\r\n\r\n") - 1,
	  0, NULL, "NUL" },
};

int main(void)
{
	size_t i;
	char *big;
	int status;
	size_t boff, blen, n;
	char err[256];

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].in);
		char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees an over-read */
		int r;

		if (copy == NULL)
			return 99;
		memcpy(copy, rows[i].in, len);
		err[0] = '\0';
		status = -1;
		r = ssmctl_imds_answer_parse(copy, len, MAX, &status, &boff, &blen, err, sizeof(err));
		if (rows[i].want == NULL) {
			CHECK_ROW(rows[i].line, r == 0, "refused: %s", err);
			CHECK_ROW(rows[i].line, r != 0 || status == rows[i].status, "status %d", status);
			CHECK_ROW(rows[i].line,
				  r != 0 || (blen == strlen(rows[i].body) && boff + blen == len &&
					     memcmp(copy + boff, rows[i].body, blen) == 0),
				  "body %zu bytes at %zu", blen, boff);
		} else {
			CHECK_ROW(rows[i].line, r == -EINVAL, "accepted (status %d, %zu bytes)", status,
				  blen);
			CHECK_ROW(rows[i].line, strstr(err, rows[i].want) != NULL,
				  "error '%s' does not say '%s'", err, rows[i].want);
			CHECK_ROW(rows[i].line, strchr(err, '\n') == NULL, "error of two lines");
		}
		free(copy);
	}

	/* the header section's bound: SSMCTL_IMDS_HEADER_MAX bytes with its final CRLF CRLF */
	for (n = SSMCTL_IMDS_HEADER_MAX - 1; n <= SSMCTL_IMDS_HEADER_MAX + 1; n++) {
		size_t pre = strlen(OK200 "X: "), total = n + 1; /* + the body's one byte */
		int r;

		big = malloc(total);
		if (big == NULL)
			return 99;
		memcpy(big, OK200 "X: ", pre);
		memset(big + pre, 'a', n - pre - 4);
		memcpy(big + n - 4, "\r\n\r\nb", 5);
		r = ssmctl_imds_answer_parse(big, total, MAX, &status, &boff, &blen, err, sizeof(err));
		if (n <= SSMCTL_IMDS_HEADER_MAX)
			CHECK(r == 0 && blen == 1 && big[boff] == 'b', "%zu bytes of header refused: %s",
			      n, err);
		else
			CHECK(r == -EINVAL && strstr(err, "header section larger than") != NULL,
			      "%zu bytes of header: %d %s", n, r, err);
		free(big);
	}
	return check_done("test_imds");
}
