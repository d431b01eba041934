/* fuzz_keyrot.c - libFuzzer target for the key rotation chain a broker sends a host
 * (lib/keyrot.c): the input is the chain, applied to a fixed trusted set of one Ed25519 key.
 *
 * Properties: a step taken always gives a new set; a new set is a JWK Set whose newest key
 * is not the old one (the set cannot change by a retirement alone: it has one key); an
 * error always says why. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "keyrot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CUR[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k0\","
			  "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = (char *)1, err[256] = "", kid[65];
	size_t applied = 99;
	int64_t retire_at = -1;
	int r = ssm_keyrot_apply(CUR, sizeof(CUR) - 1, (const char *)data, size, NULL, 1700000000,
				 360, &out, &applied, &retire_at, err, sizeof(err));

	if (r < 0 && (out != NULL || err[0] == '\0'))
		abort();
	if (r == 0 && applied > 0 && out == NULL)
		abort();
	if (out != NULL) {
		if (ssm_keyrot_newest_kid(out, strlen(out), kid) != 0 || strcmp(kid, "k0") == 0)
			abort();
		free(out);
	}
	return 0;
}
