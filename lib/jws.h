/* jws.h - JWS Compact Serialization (RFC 7515 section 7.1), EdDSA/Ed25519 and ES256 only. */
#ifndef SSM_JWS_H
#define SSM_JWS_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "jwk.h"

#ifndef SSM_TOKEN_MAX_LEN
#define SSM_TOKEN_MAX_LEN 4096 /* SPEC section 2; also in token.h */
#endif

enum ssm_jws_alg { SSM_ALG_EDDSA = 1, SSM_ALG_ES256 = 2 };

struct ssm_jws {
	cJSON *header;           /* strict-parsed protected header (object) */
	cJSON *claims;           /* strict-parsed payload (object) */
	enum ssm_jws_alg alg;
	char kid[65];
	const char *signing_input; /* points into the caller's token: header.payload */
	size_t signing_input_len;
	unsigned char *sig;
	size_t sig_len;
};

/* Structure only, no cryptography: length <= SSM_TOKEN_MAX_LEN checked before decoding,
 * exactly three parts, strict base64url, header rules of SPEC section 2 (alg, typ, kid,
 * forbidden members), header and payload each one strict JSON object, ES256 signature
 * exactly 64 bytes, Ed25519 exactly 64 bytes.  The caller's token must outlive *pjws.
 * 0, -EINVAL (err says why), -ENOMEM. */
int ssm_jws_parse(const char *token, size_t len, struct ssm_jws **pjws, char *err, size_t errlen);

/* Signature over the received header.payload bytes with the key named by kid.
 * 0; -ENOKEY unknown kid; -EKEYREJECTED key type does not match alg;
 * -EBADMSG bad signature (ES256: r or s zero or >= n included); -ENOMEM. */
int ssm_jws_verify(const struct ssm_jws *jws, const struct ssm_jwks *keys, char *err, size_t errlen);

void ssm_jws_free(struct ssm_jws *jws);

#endif
