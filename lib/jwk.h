/* jwk.h - the trusted JWK Set (RFC 7517 section 5): public Ed25519 and P-256 keys only. */
#ifndef SSM_JWK_H
#define SSM_JWK_H
#include <stddef.h>
#include <openssl/evp.h>

enum ssm_key_type { SSM_KEY_ED25519 = 1, SSM_KEY_P256 = 2 };

struct ssm_jwk;
struct ssm_jwks;

#define SSM_JWKS_MAX_FILE (64 * 1024) /* the largest JWK Set file ssm_jwks_load reads */

/* Parse a JWK Set.  Refuses: not an object with a "keys" array, a key with a private part
 * ("d"), an unknown kty/crv, bad or missing kid (1..64 of [A-Za-z0-9._-]), duplicate kid,
 * coordinates of the wrong length or not on the curve.  0, -EINVAL (err says which key
 * and why), -ENOMEM. */
int ssm_jwks_parse(const char *buf, size_t len, struct ssm_jwks **pset, char *err, size_t errlen);
/* Load from a file that must be trusted (root-owned, not group/other writable):
 * -ENOENT, -EACCES, -EINVAL as above. */
int ssm_jwks_load(const char *path, struct ssm_jwks **pset, char *err, size_t errlen);
void ssm_jwks_free(struct ssm_jwks *set);

size_t ssm_jwks_count(const struct ssm_jwks *set);
const struct ssm_jwk *ssm_jwks_find(const struct ssm_jwks *set, const char *kid);
/* The i-th key in file order, NULL when i >= ssm_jwks_count(set). */
const struct ssm_jwk *ssm_jwks_at(const struct ssm_jwks *set, size_t i);
enum ssm_key_type ssm_jwk_type(const struct ssm_jwk *key);
const char *ssm_jwk_kid(const struct ssm_jwk *key);
EVP_PKEY *ssm_jwk_pkey(const struct ssm_jwk *key);

/* Verify sig over tbs with key, reusing per-key contexts (thread-safe).  Ed25519: sig is the
 * 64-byte signature over the message tbs.  P-256: sig is a DER ECDSA-Sig-Value over
 * SHA-256(tbs).  0, -EBADMSG (bad signature), -ENOMEM.  No JWS rules here: ssm_jws_verify
 * is the function that applies them. */
int ssm_jwk_verify(const struct ssm_jwk *key, const unsigned char *sig, size_t siglen,
		   const unsigned char *tbs, size_t tbslen);

#endif
