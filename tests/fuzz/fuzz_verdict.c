/* fuzz_verdict.c - libFuzzer target for the pam_ssmsession <-> ssm-verifyd wire form
 * (lib/verdict.c): verdicts (what the module parses) and requests (what the daemon parses).
 * Properties: an accepted verdict encodes again and decodes to the same fields; an accepted
 * request's strings lie inside the message. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[SSM_VERIFY_MSG_MAX + 1], again[SSM_VERIFY_MSG_MAX + 1];
	const char *cp, *up, *tp;
	struct ssm_verdict v, w;
	size_t tl;
	int n;

	if (size > SSM_VERIFY_MSG_MAX + 1)
		return 0;
	memcpy(buf, data, size);
	if (ssm_verdict_decode(buf, size, &v) == 0) {
		n = ssm_verdict_encode(&v, again, sizeof(again));
		if (n < 0 || ssm_verdict_decode(again, (size_t)n, &w) != 0)
			abort();
		if (w.code != v.code || strcmp(w.why, v.why) || strcmp(w.reason, v.reason) ||
		    strcmp(w.key, v.key) || strcmp(w.kid, v.kid) || strcmp(w.alg, v.alg) ||
		    (v.claims == NULL) != (w.claims == NULL) ||
		    (v.claims && strcmp(v.claims, w.claims)))
			abort();
		ssm_verdict_clear(&w);
	}
	ssm_verdict_clear(&v);
	memcpy(buf, data, size);
	if (ssm_verify_request_decode(buf, size, &cp, &up, &tp, &tl) == 0) {
		if (cp < buf || up < buf || tp < buf || tp + tl > buf + size || cp[0] != '/' ||
		    memchr(tp, '\0', tl) != NULL)
			abort();
	}
	return 0;
}
