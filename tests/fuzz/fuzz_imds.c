/* fuzz_imds.c - libFuzzer target for the instance metadata service's answers as ssmctl
 * register --ec2 reads them (ssmctl/imds.c, ssmctl_imds_answer_parse): the bytes whoever
 * answers on 169.254.169.254 sent before closing the connection.
 *
 * The input is the whole answer.  Properties checked on accepted answers: the status is
 * 100..599; the body lies inside the input, ends with it, and is at most the limit; the
 * header section is at most SSMCTL_IMDS_HEADER_MAX bytes and ends with CRLF CRLF, has no
 * NUL, no bare CR or LF and no Transfer-Encoding field; the answer parses the same again. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "imds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t boff = 0, blen = 0, boff2 = 0, blen2 = 0, i;
	int status = 0, status2 = 0;
	char err[256];

	if (ssmctl_imds_answer_parse(in, size, MAX, &status, &boff, &blen, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || memchr(err, '\n', strlen(err)) != NULL)
			abort(); /* a refusal says why, in one line */
		return 0;
	}
	if (status < 100 || status > 599 || boff < 4 || boff > size || blen > MAX ||
	    boff + blen != size || boff > SSMCTL_IMDS_HEADER_MAX ||
	    memcmp(in + boff - 4, "\r\n\r\n", 4) != 0 || memchr(in, '\0', size) != NULL)
		abort();
	for (i = 0; i + 4 < boff; i++) {
		if ((in[i] == '\r') != (in[i + 1] == '\n'))
			abort(); /* a bare CR or LF in the header section */
		if (i > 0 && in[i - 1] == '\n' && i + 18 <= boff &&
		    strncasecmp(in + i, "transfer-encoding:", 18) == 0)
			abort();
	}
	if (ssmctl_imds_answer_parse(in, size, MAX, &status2, &boff2, &blen2, err, sizeof(err)) != 0 ||
	    status2 != status || boff2 != boff || blen2 != blen)
		abort();
	return 0;
}
