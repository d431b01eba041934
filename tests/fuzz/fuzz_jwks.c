/* fuzz_jwks.c - libFuzzer target for the JWK Set loader (lib/jwk.c).
 *
 * Properties checked on accepted sets: not empty, every key found again by its kid (so kids
 * are unique), a well-formed kid, a key object of a known type; a verification with it runs
 * (its answer is not checked: a fuzzed key may be of small order). */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char sig[64] = { 1 };
	struct ssm_jwks *set = (struct ssm_jwks *)1;
	char err[256];

	if (ssm_jwks_parse((const char *)data, size, &set, err, sizeof(err)) != 0) {
		if (set != NULL)
			abort();
		return 0;
	}
	if (ssm_jwks_count(set) == 0 || ssm_jwks_at(set, ssm_jwks_count(set)) != NULL)
		abort();
	for (size_t i = 0; i < ssm_jwks_count(set); i++) {
		const struct ssm_jwk *k = ssm_jwks_at(set, i);
		const char *kid = ssm_jwk_kid(k);
		size_t n = strlen(kid);

		if (ssm_jwks_find(set, kid) != k || n == 0 || n > 64 ||
		    strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
			abort();
		if (ssm_jwk_pkey(k) == NULL ||
		    (ssm_jwk_type(k) != SSM_KEY_ED25519 && ssm_jwk_type(k) != SSM_KEY_P256))
			abort();
		(void)ssm_jwk_verify(k, sig, sizeof(sig), data, size);
	}
	ssm_jwks_free(set);
	return 0;
}
