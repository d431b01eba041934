/* sha256.h - SHA-256 for hashing documents and transcripts.
 *
 * Backed by nettle, not OpenSSL: ssm-shell (setuid, and its recorder must stay under 3 MiB
 * resident) and the document check in every login only need a hash, and OpenSSL 3's
 * first use costs about 3.3 MiB resident and a millisecond of provider set-up.  OpenSSL
 * stays the library for signatures (jwk.c, jws.c). */
#ifndef SSM_SHA256_H
#define SSM_SHA256_H
#include <stddef.h>
#include <nettle/sha2.h>

struct ssm_sha256 {
	struct sha256_ctx ctx;
};

void ssm_sha256_init(struct ssm_sha256 *h);
void ssm_sha256_update(struct ssm_sha256 *h, const void *buf, size_t len);
/* Lower-case hex digest into out (65 bytes); the context is reset. */
void ssm_sha256_final_hex(struct ssm_sha256 *h, char out[65]);

#endif
