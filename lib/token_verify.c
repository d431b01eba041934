/* token_verify.c - the whole token check (SPEC section 2): structure and header (jws.c,
 * before any cryptography), signature over the received bytes, then the claims (token.c),
 * then the document the token names and its parameters.  Only a token that passed every
 * step is returned.  Outcome codes: 0, SSM_TOKEN_REFUSED for a token that is not valid for
 * this login, another negative errno when the host itself is at fault (a document that
 * exists but is unsafe or invalid, memory). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "doccache.h"
#include "document.h"
#include "json.h"
#include "jws.h"
#include "token.h"

#define REASON(...) do { if (reason && reasonlen) snprintf(reason, reasonlen, __VA_ARGS__); } while (0)

int ssm_token_verify(const struct ssm_verify_ctx *ctx, const char *token, size_t len,
		     struct ssm_token **ptok, struct ssm_document **pdoc, char *reason,
		     size_t reasonlen)
{
	struct ssm_jws *jws = NULL;
	struct ssm_token *tok = NULL;
	struct ssm_document *doc = NULL;
	const cJSON *alg;
	char sub[512] = "";
	int r;

	*ptok = NULL;
	if (pdoc)
		*pdoc = NULL;
	if (ctx == NULL || ctx->cfg == NULL || ctx->keys == NULL) {
		REASON("no configuration or keys");
		return -EINVAL;
	}
	if (token == NULL) {
		REASON("no token");
		return SSM_TOKEN_REFUSED;
	}
	r = ssm_jws_parse(token, len, &jws, sub, sizeof(sub));
	if (r == -ENOMEM) {
		REASON("out of memory");
		goto out;
	}
	if (r < 0) {
		REASON("malformed token: %s", sub);
		r = SSM_TOKEN_REFUSED;
		goto out;
	}
	r = ssm_jws_verify(jws, ctx->keys, sub, sizeof(sub));
	switch (r) {
	case 0:
		break;
	case -ENOMEM:
		REASON("out of memory");
		goto out;
	case -ENOKEY:
		REASON("unknown key");
		r = SSM_TOKEN_REFUSED;
		goto out;
	case -EKEYREJECTED:
		REASON("key type does not match alg");
		r = SSM_TOKEN_REFUSED;
		goto out;
	default:
		REASON("bad signature");
		r = SSM_TOKEN_REFUSED;
		goto out;
	}
	r = ssm_token_check_claims(ctx, jws->claims, &tok, reason, reasonlen);
	if (r < 0)
		goto out;
	memcpy(tok->kid, jws->kid, sizeof(tok->kid));
	tok->kid[sizeof(tok->kid) - 1] = '\0';
	alg = ssm_json_member(jws->header, "alg");
	tok->alg = jws->alg == SSM_ALG_ES256 ? "ES256"
		   : (cJSON_IsString(alg) && strcmp(alg->valuestring, "Ed25519") == 0) ? "Ed25519"
		   : "EdDSA";

	/* documents_dir first; else the broker's copy that ssm-agent cached, for names in
	 * allowed_documents only (doccache.h) */
	r = ssm_doccache_load(ctx->cfg, tok->doc_name, tok->doc_sha256, &doc, NULL, sub,
			      sizeof(sub));
	switch (r) {
	case 0:
		break;
	case -ENOENT:
		/* the token names a document this host does not hold: not valid here */
		REASON("%s", SSM_REASON_UNKNOWN_DOCUMENT);
		r = SSM_TOKEN_REFUSED;
		goto out;
	case -EBADMSG:
		REASON("document hash mismatch");
		r = SSM_TOKEN_REFUSED;
		goto out;
	case -ENOMEM:
		REASON("out of memory");
		goto out;
	case -EACCES:
		/* an unsafe file is the host's fault; keep it apart from SSM_TOKEN_REFUSED */
		REASON("document unusable: %s", sub);
		r = -EPERM;
		goto out;
	default:
		REASON("document unusable: %s", sub);
		if (r == SSM_TOKEN_REFUSED)
			r = -EIO;
		goto out;
	}
	r = ssm_document_check_params(doc, tok->params, sub, sizeof(sub));
	if (r == -ENOMEM) {
		REASON("out of memory");
		goto out;
	}
	if (r < 0) {
		REASON("bad params: %s", sub);
		r = SSM_TOKEN_REFUSED;
		goto out;
	}
	*ptok = tok;
	tok = NULL;
	if (pdoc) {
		*pdoc = doc;
		doc = NULL;
	}
	r = 0;
out:
	ssm_document_free(doc);
	ssm_token_free(tok);
	ssm_jws_free(jws);
	return r;
}
