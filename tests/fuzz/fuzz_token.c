/* fuzz_token.c - libFuzzer target for the token path: ssm_jws_parse on arbitrary bytes, then
 * the signature check and the claims check (on whatever claims parsed, signed or not) with a
 * fixed configuration, key set and clock.  Every outcome must be 0 or a negative errno, a
 * refusal must come with a reason, and nothing may leak. */
#include "config.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "jws.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 8037 A.2 (Ed25519) and RFC 7515 A.3 (P-256) public keys */
static const char jwks_text[] =
	"{\"keys\": [{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\": \"ed1\", \"x\": "
	"\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}, {\"kty\": \"EC\", \"crv\": \"P-256\", "
	"\"kid\": \"ec1\", \"x\": \"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\", \"y\": "
	"\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";
static const char config_text[] =
	"{\"host_id\": \"i-0123456789abcdef0\", \"issuer\": \"https://broker.test\", "
	"\"trusted_keys\": \"/nonexistent/jwks.json\", \"documents_dir\": \"/nonexistent/docs\", "
	"\"run_as_allowed\": [\"ssm-user\", \"root\"]}";

static struct ssm_config *cfg;
static struct ssm_jwks *keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssm_verify_ctx ctx;
	struct ssm_jws *jws = NULL;
	struct ssm_token *tok = NULL;
	struct ssm_document *doc = NULL;
	char err[256], reason[256];
	char *tokstr;
	int r;

	if (cfg == NULL) {
		if (ssm_config_parse(config_text, strlen(config_text), "/fuzz", &cfg, err,
				     sizeof(err)) < 0 ||
		    ssm_jwks_parse(jwks_text, strlen(jwks_text), &keys, err, sizeof(err)) < 0)
			abort();
	}
	ctx.cfg = cfg;
	ctx.keys = keys;
	ctx.now = 1790000000;
	ctx.user = (size & 1) ? "ssm-user" : NULL;

	/* the token must outlive the parse: keep an exact-size copy so ASan sees overreads */
	tokstr = malloc(size ? size : 1);
	if (tokstr == NULL)
		return 0;
	memcpy(tokstr, data, size);
	r = ssm_jws_parse(tokstr, size, &jws, err, sizeof(err));
	if (r == 0) {
		(void)ssm_jws_verify(jws, keys, err, sizeof(err));
		reason[0] = '\0';
		r = ssm_token_check_claims(&ctx, jws->claims, &tok, reason, sizeof(reason));
		if (r != 0 && (r != SSM_TOKEN_REFUSED || reason[0] == '\0') && r != -ENOMEM)
			abort();
		if (r == 0) {
			char *j = ssm_token_claims_json(tok);
			(void)ssm_token_check_account(cfg, tok, reason, sizeof(reason));
			(void)ssm_token_keep_until(cfg, tok);
			free(j);
		}
		ssm_token_free(tok);
		tok = NULL;
	} else if (r > 0) {
		abort();
	}
	ssm_jws_free(jws);
	/* the whole path too (signatures will not verify, documents do not exist) */
	reason[0] = '\0';
	r = ssm_token_verify(&ctx, tokstr, size, &tok, &doc, reason, sizeof(reason));
	if (r == 0 || reason[0] == '\0')
		abort();
	ssm_token_free(tok);
	ssm_document_free(doc);
	free(tokstr);
	return 0;
}
