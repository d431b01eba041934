/* token_mint.c - session tokens for the broker (see token_mint.h): cJSON for the header and
 * the claims, OpenSSL EVP for the Ed25519 signature, lib/b64url.c for the encoding. */
#include "config.h"
#include "token_mint.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "b64url.h"
#include "json.h"
#include "token.h"
#include "util.h"

#define TYP "ssm-session+jwt"

static int is_kid_char(int c)
{
	return ssm_is_b64url_char(c) || c == '.';
}

static int add_string(cJSON *o, const char *name, const char *v)
{
	return v != NULL && cJSON_AddStringToObject(o, name, v) != NULL;
}

static int add_int(cJSON *o, const char *name, int64_t v)
{
	/* every claim time is an integer of at most 2^53 (a double holds it exactly) */
	if (v < -(INT64_C(1) << 53) || v > (INT64_C(1) << 53))
		return 0;
	return cJSON_AddNumberToObject(o, name, (double)v) != NULL;
}

static cJSON *build_claims(const struct ssm_token_claims *c, const char *jti)
{
	cJSON *o = cJSON_CreateObject(), *doc;

	if (o == NULL || !add_string(o, "iss", c->iss) || !add_string(o, "aud", c->aud) ||
	    !add_string(o, "sub", c->sub) || !add_string(o, "sid", c->sid) ||
	    !add_string(o, "jti", jti) || !add_int(o, "iat", c->iat) ||
	    (c->has_nbf && !add_int(o, "nbf", c->nbf)) || !add_int(o, "exp", c->exp) ||
	    !add_string(o, "run_as", c->run_as))
		goto fail;
	doc = cJSON_AddObjectToObject(o, "doc");
	if (doc == NULL || !add_string(doc, "name", c->doc_name) ||
	    !add_string(doc, "sha256", c->doc_sha256))
		goto fail;
	if (c->params != NULL) {
		cJSON *p = cJSON_Duplicate(c->params, 1);
		if (p == NULL || !cJSON_AddItemToObject(o, "params", p)) {
			cJSON_Delete(p);
			goto fail;
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* The host's claim rules, applied to what we are about to sign. */
static int self_check(const struct ssm_token_claims *c, const cJSON *claims, char *err,
		      size_t errlen)
{
	struct ssm_config cfg;
	struct ssm_verify_ctx ctx;
	struct ssm_token *tok = NULL;
	char reason[256] = "", sub[256] = "";
	int64_t life;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.issuer = (char *)c->iss;
	cfg.host_id = (char *)c->aud;
	cfg.leeway = 0;
	cfg.max_token_lifetime =
		!__builtin_sub_overflow(c->exp, c->iat, &life) && life > 0 ? life : 1;
	ctx.cfg = &cfg;
	ctx.keys = NULL;
	ctx.now = c->has_nbf && c->nbf > c->iat ? c->nbf : c->iat;
	ctx.user = NULL;
	r = ssm_token_check_claims(&ctx, claims, &tok, reason, sizeof(reason));
	ssm_token_free(tok);
	if (r == -ENOMEM) {
		ssm_errf(err, errlen, "out of memory");
		return r;
	}
	if (r < 0) {
		ssm_errf(err, errlen, "the claims break the token contract: %s", reason);
		return -EINVAL;
	}
	if (ssm_json_check_text(claims, sub, sizeof(sub)) < 0) {
		ssm_errf(err, errlen, "the claims break the token contract: %s", sub);
		return -EINVAL;
	}
	return 0;
}

/* base64url of the compact JSON text of o */
static char *encode_json(const cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o), *out = NULL;

	if (s == NULL)
		return NULL;
	if (ssm_b64url_encode((const unsigned char *)s, strlen(s), &out) < 0)
		out = NULL;
	free(s);
	return out;
}

char *ssm_jws_sign_ed25519(EVP_PKEY *key, const cJSON *header, const cJSON *payload, size_t max,
			   char *err, size_t errlen)
{
	unsigned char sig[64];
	size_t siglen = sizeof(sig), n;
	char *h64 = NULL, *p64 = NULL, *s64 = NULL, *out = NULL;
	EVP_MD_CTX *md = NULL;

	if (key == NULL || !EVP_PKEY_is_a(key, "ED25519")) {
		ssm_errf(err, errlen, "the signing key is not an Ed25519 key");
		return NULL;
	}
	h64 = encode_json(header);
	p64 = encode_json(payload);
	if (h64 == NULL || p64 == NULL)
		goto oom;
	n = strlen(h64) + 1 + strlen(p64);
	/* room for the signing input now, the signature later */
	if ((out = malloc(n + 1 + 86 + 1)) == NULL)
		goto oom;
	snprintf(out, n + 1, "%s.%s", h64, p64);
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out, n) != 1 ||
	    siglen != sizeof(sig)) {
		ssm_errf(err, errlen, "Ed25519 signing failed");
		free(out);
		out = NULL;
		goto done;
	}
	if (ssm_b64url_encode(sig, siglen, &s64) < 0 || strlen(s64) != 86) {
		free(out);
		out = NULL;
		goto oom;
	}
	out[n] = '.';
	memcpy(out + n + 1, s64, 87);
	if (strlen(out) > max) {
		ssm_errf(err, errlen, "it would be %zu bytes, more than %zu", strlen(out), max);
		free(out);
		out = NULL;
	}
	goto done;
oom:
	ssm_errf(err, errlen, "out of memory");
done:
	EVP_MD_CTX_free(md);
	free(h64);
	free(p64);
	free(s64);
	return out;
}

char *ssm_token_mint(EVP_PKEY *key, const char *kid, const struct ssm_token_claims *c, char *err,
		     size_t errlen)
{
	unsigned char rnd[24];
	char *jti = NULL, *tok = NULL;
	cJSON *header = NULL, *claims = NULL;

	if (key == NULL || c == NULL || !EVP_PKEY_is_a(key, "ED25519")) {
		ssm_errf(err, errlen, "the signing key is not an Ed25519 key");
		return NULL;
	}
	if (kid == NULL || !ssm_str_charset(kid, 1, 64, is_kid_char)) {
		ssm_errf(err, errlen, "bad kid: 1..64 of [A-Za-z0-9._-]");
		return NULL;
	}
	if (c->jti == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			ssm_errf(err, errlen, "no randomness for the jti");
			return NULL;
		}
		if (ssm_b64url_encode(rnd, sizeof(rnd), &jti) < 0)
			goto oom;
	}
	claims = build_claims(c, c->jti ? c->jti : jti);
	if (claims == NULL) {
		ssm_errf(err, errlen, "a claim is missing or out of range");
		goto out;
	}
	if (self_check(c, claims, err, errlen) < 0)
		goto out;
	header = cJSON_CreateObject();
	if (header == NULL || !add_string(header, "alg", "EdDSA") ||
	    !add_string(header, "typ", TYP) || !add_string(header, "kid", kid))
		goto oom;
	tok = ssm_jws_sign_ed25519(key, header, claims, SSM_TOKEN_MAX_LEN, err, errlen);
	goto out;
oom:
	ssm_errf(err, errlen, "out of memory");
out:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	cJSON_Delete(header);
	cJSON_Delete(claims);
	free(jti);
	return tok;
}
