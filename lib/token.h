/* token.h - session token verification: SPEC section 2 claims on top of jws.h, plus the
 * account checks of section 5.  This is what pam_ssmsession and `ssmctl token verify` call. */
#ifndef SSM_TOKEN_H
#define SSM_TOKEN_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "config.h"
#include "document.h"
#include "jwk.h"

#ifndef SSM_TOKEN_MAX_LEN
#define SSM_TOKEN_MAX_LEN 4096 /* SPEC section 2: refused before anything is decoded */
#endif

struct ssm_token {
	char *iss, *sub, *sid, *jti, *run_as;
	char *doc_name;
	char doc_sha256[65];
	int64_t iat, exp, nbf; int has_nbf;
	cJSON *params;   /* object or NULL (owned) */
	cJSON *claims;   /* the whole claims object (owned) */
	char kid[65];
	const char *alg; /* "EdDSA", "Ed25519" or "ES256" as received */
};

/* Outcome codes: 0 valid; SSM_TOKEN_REFUSED (-EACCES) the token is not valid for this
 * login (PAM_AUTH_ERR); any other negative errno: the host is at fault (configuration,
 * documents, memory: PAM_AUTHINFO_UNAVAIL / PAM_BUF_ERR). */
#define SSM_TOKEN_REFUSED (-13)
/* the reason ssm_token_verify gives for a document the host does not hold */
#define SSM_REASON_UNKNOWN_DOCUMENT "unknown document"

struct ssm_verify_ctx {
	const struct ssm_config *cfg;
	const struct ssm_jwks *keys;
	int64_t now;      /* injectable clock */
	const char *user; /* the login user; NULL: use the token's run_as */
};

/* Full auth check: structure, signature, claims (iss, aud has host_id, sub, sid, jti,
 * iat/nbf/exp with leeway and max_token_lifetime, run_as == user), document present with
 * the right sha256, params valid for it.  Does not touch the replay cache.
 * On success *ptok (and *pdoc if pdoc != NULL) are set.  reason gets one line. */
int ssm_token_verify(const struct ssm_verify_ctx *ctx, const char *token, size_t len,
                     struct ssm_token **ptok, struct ssm_document **pdoc, char *reason,
                     size_t reasonlen);

/* Claims only (no signature, no document), for unit tests and the fuzzer. */
int ssm_token_check_claims(const struct ssm_verify_ctx *ctx, const cJSON *claims,
                           struct ssm_token **ptok, char *reason, size_t reasonlen);

/* Account step: run_as in run_as_allowed, uid 0 only if named there explicitly, document
 * name in allowed_documents.  0 or SSM_TOKEN_REFUSED with reason. */
int ssm_token_check_account(const struct ssm_config *cfg, const struct ssm_token *tok,
                            char *reason, size_t reasonlen);

/* Seconds until which the jti must be remembered: exp + leeway. */
int64_t ssm_token_keep_until(const struct ssm_config *cfg, const struct ssm_token *tok);

/* Claims as a JSON text (malloc'ed) for `ssmctl token verify`. */
char *ssm_token_claims_json(const struct ssm_token *tok);

void ssm_token_free(struct ssm_token *tok);

#endif
