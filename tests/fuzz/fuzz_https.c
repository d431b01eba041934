/* fuzz_https.c - libFuzzer target for the parser of the broker's HTTP answers
 * (lib/https.c: ssm_https_parse_answer), what `ssm` and `ssmctl register` read from the
 * network.  Properties: a status of 100..599 and a body without NUL, which is the input's
 * tail after the first blank line. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "https.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "", *body = (char *)1;
	int status = -1;
	const char *in = (const char *)data;

	if (ssm_https_parse_answer(in, size, &status, &body, err, sizeof(err)) != 0) {
		if (body != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	if (status < 100 || status > 599 || strlen(body) > size ||
	    memcmp(in + size - strlen(body), body, strlen(body)) != 0)
		abort();
	free(body);
	return 0;
}
