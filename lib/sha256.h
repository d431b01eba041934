/* sha256.h - SHA-256 for hashing documents, replay entries and transcripts.
 *
 * Two interchangeable back ends, one linked into each program:
 *  - sha256_openssl.c (lib/libssm_ossl.la): OpenSSL 3 EVP, for the PAM module, ssmctl and
 *    the tests, which load libcrypto for signatures anyway;
 *  - sha256_nettle.c (lib/libssm_nettle.la): nettle, for ssm-shell, which never verifies a
 *    signature and must not pay OpenSSL 3's set-up (about 3.3 MiB resident and a
 *    millisecond): its recorder has to stay under 3 MiB. */
#ifndef SSM_SHA256_H
#define SSM_SHA256_H
#include <stddef.h>

struct ssm_sha256;

/* 0 or -ENOMEM */
int ssm_sha256_new(struct ssm_sha256 **ph);
void ssm_sha256_update(struct ssm_sha256 *h, const void *buf, size_t len);
/* Lower-case hex digest into out (65 bytes).  0, or -EIO if the back end failed at any
 * point (out then holds no plausible digest). */
int ssm_sha256_final_hex(struct ssm_sha256 *h, char out[65]);
void ssm_sha256_free(struct ssm_sha256 *h);

/* For the back ends: a 32-byte digest as 64 lower-case hex digits and a NUL.  Header-only,
 * so that a back end, linked after lib/libssm.la, needs nothing from it. */
static inline void ssm_sha256_digest_hex(const unsigned char md[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

#endif
