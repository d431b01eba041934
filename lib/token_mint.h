/* token_mint.h - mint a session token (docs/CONTRACT.md section 2) for ssm-broker: a JWS in
 * compact serialization, protected header {"alg":"EdDSA","typ":"ssm-session+jwt","kid":KID},
 * the claims built with cJSON and signed with OpenSSL 3's EVP (Ed25519, RFC 8037).
 *
 * Before signing, the claims are put through the host's own claim check
 * (ssm_token_check_claims, with the issuer and audience of the claims themselves), so the
 * broker never hands out a token that a host holding the document would refuse on its
 * claims: a bad sub, sid, jti, run_as, document name or hash, a params shape or a lifetime
 * the contract does not allow is an error here. */
#ifndef SSM_TOKEN_MINT_H
#define SSM_TOKEN_MINT_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

struct ssm_token_claims {
	const char *iss;        /* the broker's issuer */
	const char *aud;        /* the host id (one string) */
	const char *sub;        /* the broker user: 1..64 of [A-Za-z0-9_+=,.@-] */
	const char *sid;        /* SUB-[a-z0-9]{8,32} */
	const char *jti;        /* NULL: 24 random bytes, base64url (32 characters) */
	int64_t iat, exp;       /* 0 < exp - iat */
	int64_t nbf;            /* only with has_nbf */
	int has_nbf;
	const char *run_as;     /* the OS user */
	const char *doc_name;   /* the document name */
	const char *doc_sha256; /* 64 lowercase hex digits: SHA-256 of the document's bytes */
	const cJSON *params;    /* NULL, or an object of name -> array of strings */
};

/* The token (malloc'ed, NUL-terminated), or NULL with err saying why (a key that is not
 * Ed25519, a bad kid, claims the contract refuses, no memory, a signing failure). */
char *ssm_token_mint(EVP_PKEY *key, const char *kid, const struct ssm_token_claims *c, char *err,
		     size_t errlen);

/* The JWS compact serialization of header and payload (each as compact JSON, base64url)
 * signed with the Ed25519 key (EdDSA): a string to free, or NULL with err saying why (not an
 * Ed25519 key, no memory, a signing failure, longer than max). */
char *ssm_jws_sign_ed25519(EVP_PKEY *key, const cJSON *header, const cJSON *payload, size_t max,
			   char *err, size_t errlen);

#endif
