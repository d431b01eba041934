/* test_token_mint.c - lib/token_mint.c: tokens minted with a fresh Ed25519 key are accepted
 * by the host's verifier (ssm_token_verify, the code pam_ssmsession runs) under a JWK Set and
 * configuration built here; rows that each change one thing (audience, expiry, document
 * hash, run-as user, key, nbf, parameters) are refused by it, so the mint is not accepted by
 * accident; claims the contract forbids are refused by the mint itself. */
#include "config.h" /* autoconf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "b64url.h"
#include "check.h"
#include "jwk.h"
#include "json.h"
#include "jws.h"
#include "token.h"
#include "token_mint.h"
#include "util.h"

#define NOW 1790000000LL
#define HOST "mi-0123456789abcdef0"
#define ISS "urn:ssmsession:broker:0123456789abcdef"
#define KID "test-key-1"
#define DOC "AWS-StartPortForwardingSession"

static const char doc_text[] =
	"{\"schemaVersion\": \"1.0\", \"sessionType\": \"Port\", \"parameters\": {"
	"\"portNumber\": {\"type\": \"String\", \"allowedPattern\": \"^[0-9]{1,5}$\", "
	"\"default\": \"80\"}, \"localPortNumber\": {\"type\": \"String\", "
	"\"allowedPattern\": \"^[0-9]{1,5}$\", \"default\": \"0\"}}, "
	"\"properties\": {\"portNumber\": \"{{ portNumber }}\"}}\n";

static char dir[] = "/tmp/ssm-test-mint-XXXXXX";
static char doc_hash[65];

static struct ssm_jwks *jwks_of(EVP_PKEY *key, const char *kid)
{
	unsigned char pub[32];
	size_t publen = sizeof(pub);
	char *x = NULL, json[512], err[256];
	struct ssm_jwks *set = NULL;

	if (EVP_PKEY_get_raw_public_key(key, pub, &publen) != 1 ||
	    ssm_b64url_encode(pub, publen, &x) < 0)
		return NULL;
	snprintf(json, sizeof(json),
		 "{\"keys\": [{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\": \"%s\", "
		 "\"use\": \"sig\", \"alg\": \"EdDSA\", \"x\": \"%s\"}]}",
		 kid, x);
	free(x);
	if (ssm_jwks_parse(json, strlen(json), &set, err, sizeof(err)) < 0)
		fprintf(stderr, "jwks: %s\n", err);
	return set;
}

static struct ssm_config *config_for(const char *host_id)
{
	char json[1024], err[256];
	struct ssm_config *cfg = NULL;

	snprintf(json, sizeof(json),
		 "{\"host_id\": \"%s\", \"issuer\": \"" ISS "\", \"trusted_keys\": "
		 "\"/nonexistent/keys.json\", \"documents_dir\": \"%s\", \"leeway\": 60, "
		 "\"max_token_lifetime\": 300}",
		 host_id, dir);
	if (ssm_config_parse(json, strlen(json), "/t/cfg.json", &cfg, err, sizeof(err)) < 0)
		fprintf(stderr, "config: %s\n", err);
	return cfg;
}

static void base_claims(struct ssm_token_claims *c, cJSON *params)
{
	memset(c, 0, sizeof(*c));
	c->iss = ISS;
	c->aud = HOST;
	c->sub = "alice";
	c->sid = "alice-0123456789abcdef0";
	c->iat = NOW;
	c->exp = NOW + 60;
	c->run_as = "ssm-user";
	c->doc_name = DOC;
	c->doc_sha256 = doc_hash;
	c->params = params;
}

/* what a host verifying tok says: 0, SSM_TOKEN_REFUSED, or another negative code */
static int host_verify(const char *host_id, const struct ssm_jwks *keys, int64_t now,
		       const char *user, const char *tok, char *reason, size_t reasonlen)
{
	struct ssm_config *cfg = config_for(host_id);
	struct ssm_verify_ctx ctx = { cfg, keys, now, user };
	struct ssm_token *t = NULL;
	struct ssm_document *d = NULL;
	int r;

	if (cfg == NULL)
		return -EINVAL;
	r = ssm_token_verify(&ctx, tok, strlen(tok), &t, &d, reason, reasonlen);
	ssm_token_free(t);
	ssm_document_free(d);
	ssm_config_free(cfg);
	return r;
}

struct row {
	int line;
	const char *what;
	/* change one thing in the claims (NULL: nothing) */
	void (*change)(struct ssm_token_claims *c);
	const char *host_id; /* the verifying host */
	int64_t now;
	const char *user;    /* the login user */
	int other_key;       /* verified under another key with the same kid */
	int expect;          /* 0 or SSM_TOKEN_REFUSED */
	const char *reason;  /* part of the verifier's reason */
};

static void other_hash(struct ssm_token_claims *c)
{
	c->doc_sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
}
static void other_doc(struct ssm_token_claims *c) { c->doc_name = "SSM-SessionManagerRunShell"; }
static void short_life(struct ssm_token_claims *c) { c->exp = NOW + 1; }
static void with_nbf(struct ssm_token_claims *c)
{
	c->has_nbf = 1;
	c->nbf = NOW + 120;
	c->exp = NOW + 180;
}
static void run_as_dave(struct ssm_token_claims *c) { c->run_as = "dave"; }
static void long_life(struct ssm_token_claims *c) { c->exp = NOW + 301; }
static void other_iss(struct ssm_token_claims *c) { c->iss = "urn:ssmsession:broker:other"; }

#define R SSM_TOKEN_REFUSED
static const struct row rows[] = {
	{ __LINE__, "as minted", NULL, HOST, NOW, "ssm-user", 0, 0, NULL },
	{ __LINE__, "as minted, 59 s later", NULL, HOST, NOW + 59, "ssm-user", 0, 0, NULL },
	{ __LINE__, "as minted, no login user given", NULL, HOST, NOW, NULL, 0, 0, NULL },
	{ __LINE__, "another host", NULL, "mi-0fedcba9876543210", NOW, "ssm-user", 0, R,
	  "wrong audience" },
	{ __LINE__, "expired (exp + leeway)", short_life, HOST, NOW + 61, "ssm-user", 0, R,
	  "expired" },
	{ __LINE__, "wrong document hash", other_hash, HOST, NOW, "ssm-user", 0, R,
	  "document hash mismatch" },
	{ __LINE__, "a document the host does not hold", other_doc, HOST, NOW, "ssm-user", 0, R,
	  "unknown document" },
	{ __LINE__, "not yet valid (nbf)", with_nbf, HOST, NOW, "ssm-user", 0, R,
	  "not yet valid" },
	{ __LINE__, "valid once nbf is reached", with_nbf, HOST, NOW + 61, "ssm-user", 0, 0,
	  NULL },
	{ __LINE__, "another login user", NULL, HOST, NOW, "root", 0, R, "wrong user" },
	{ __LINE__, "run_as dave, dave logs in", run_as_dave, HOST, NOW, "dave", 0, 0, NULL },
	{ __LINE__, "longer than max_token_lifetime", long_life, HOST, NOW, "ssm-user", 0, R,
	  "lifetime" },
	{ __LINE__, "another issuer", other_iss, HOST, NOW, "ssm-user", 0, R, "wrong issuer" },
	{ __LINE__, "another key under the same kid", NULL, HOST, NOW, "ssm-user", 1, R,
	  "bad signature" },
};

static void test_rows(EVP_PKEY *key, const struct ssm_jwks *keys,
		      const struct ssm_jwks *other_keys, const cJSON *params)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *row = &rows[i];
		struct ssm_token_claims c;
		char err[256] = "", reason[256] = "";
		char *tok;
		int r;

		base_claims(&c, (cJSON *)params);
		if (row->change)
			row->change(&c);
		tok = ssm_token_mint(key, KID, &c, err, sizeof(err));
		CHECK_ROW(row->line, tok != NULL, "%s: mint failed: %s", row->what, err);
		if (tok == NULL)
			continue;
		r = host_verify(row->host_id, row->other_key ? other_keys : keys, row->now,
				row->user, tok, reason, sizeof(reason));
		CHECK_ROW(row->line, r == row->expect, "%s: verify %d (%s), want %d", row->what, r,
			  reason, row->expect);
		if (row->reason)
			CHECK_ROW(row->line, strstr(reason, row->reason) != NULL,
				  "%s: reason '%s' lacks '%s'", row->what, reason, row->reason);
		free(tok);
	}
}

/* the token's form: the header members, the claims' names, distinct random jtis */
static void test_form(EVP_PKEY *key, const cJSON *params)
{
	struct ssm_token_claims c;
	struct ssm_jws *jws = NULL;
	char err[256] = "", *t1, *t2;
	const char *s;
	int64_t v;

	base_claims(&c, (cJSON *)params);
	t1 = ssm_token_mint(key, KID, &c, err, sizeof(err));
	t2 = ssm_token_mint(key, KID, &c, err, sizeof(err));
	CHECK(t1 && t2, "mint: %s", err);
	if (!t1 || !t2)
		goto out;
	CHECK(strlen(t1) < 1024, "a token well under 1 KB (%zu bytes)", strlen(t1));
	CHECK(ssm_jws_parse(t1, strlen(t1), &jws, err, sizeof(err)) == 0, "parse: %s", err);
	if (jws == NULL)
		goto out;
	CHECK(ssm_json_get_string(jws->header, "alg", &s) == 0 && strcmp(s, "EdDSA") == 0, "alg");
	CHECK(ssm_json_get_string(jws->header, "typ", &s) == 0 &&
	      strcmp(s, "ssm-session+jwt") == 0, "typ");
	CHECK(ssm_json_get_string(jws->header, "kid", &s) == 0 && strcmp(s, KID) == 0, "kid");
	CHECK(cJSON_GetArraySize(jws->header) == 3, "exactly alg, typ, kid in the header");
	CHECK(ssm_json_get_string(jws->claims, "aud", &s) == 0 && strcmp(s, HOST) == 0, "aud");
	CHECK(ssm_json_get_string(jws->claims, "sub", &s) == 0 && strcmp(s, "alice") == 0, "sub");
	CHECK(ssm_json_get_string(jws->claims, "jti", &s) == 0 &&
	      ssm_str_charset(s, 32, 32, ssm_is_b64url_char), "a random jti of 32 characters");
	CHECK(ssm_json_get_int64(jws->claims, "iat", &v) == 0 && v == NOW, "iat");
	CHECK(ssm_json_get_int64(jws->claims, "exp", &v) == 0 && v == NOW + 60, "exp");
	CHECK(ssm_json_member(jws->claims, "nbf") == NULL, "no nbf unless asked");
	CHECK(cJSON_IsObject(ssm_json_member(jws->claims, "params")), "params");
	CHECK(strcmp(strchr(t1, '.') + 1, strchr(t2, '.') + 1) != 0,
	      "two mints differ (the jti)");
out:
	ssm_jws_free(jws);
	free(t1);
	free(t2);
}

struct bad {
	int line;
	const char *what;
	void (*change)(struct ssm_token_claims *c);
};

static void b_sub(struct ssm_token_claims *c) { c->sub = "bob x"; }
static void b_sid(struct ssm_token_claims *c) { c->sid = "bob-0123456789abcdef0"; }
static void b_sid_short(struct ssm_token_claims *c) { c->sid = "alice-0123"; }
static void b_sid_upper(struct ssm_token_claims *c) { c->sid = "alice-0123456789ABCDEF0"; }
static void b_jti(struct ssm_token_claims *c) { c->jti = "short"; }
static void b_run_as(struct ssm_token_claims *c) { c->run_as = "-froot"; }
static void b_doc(struct ssm_token_claims *c) { c->doc_name = "../etc/passwd"; }
static void b_hash(struct ssm_token_claims *c) { c->doc_sha256 = "ABCDEF"; }
static void b_life(struct ssm_token_claims *c) { c->exp = c->iat; }
static void b_aud(struct ssm_token_claims *c) { c->aud = NULL; }
static void b_iss_ctl(struct ssm_token_claims *c) { c->iss = "urn:x\n"; }
static void b_time(struct ssm_token_claims *c) { c->exp = INT64_MAX; }

static const struct bad bad_rows[] = {
	{ __LINE__, "sub with a space", b_sub },
	{ __LINE__, "sid not of sub", b_sid },
	{ __LINE__, "sid suffix too short", b_sid_short },
	{ __LINE__, "sid suffix upper case", b_sid_upper },
	{ __LINE__, "jti too short", b_jti },
	{ __LINE__, "run_as an option", b_run_as },
	{ __LINE__, "document name a path", b_doc },
	{ __LINE__, "document hash not 64 hex", b_hash },
	{ __LINE__, "exp == iat", b_life },
	{ __LINE__, "no aud", b_aud },
	{ __LINE__, "a control character in iss", b_iss_ctl },
	{ __LINE__, "exp beyond 2^53", b_time },
};

static void test_refused(EVP_PKEY *key)
{
	cJSON *bad_params = cJSON_Parse("{\"portNumber\": \"80\"}");
	struct ssm_token_claims c;
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char err[256], *t;
	size_t i;

	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		base_claims(&c, NULL);
		bad_rows[i].change(&c);
		err[0] = '\0';
		t = ssm_token_mint(key, KID, &c, err, sizeof(err));
		CHECK_ROW(bad_rows[i].line, t == NULL && err[0] != '\0', "%s: minted", bad_rows[i].what);
		free(t);
	}
	base_claims(&c, bad_params);
	t = ssm_token_mint(key, KID, &c, err, sizeof(err));
	CHECK(t == NULL && strstr(err, "params"), "params value a string, not a list: %s", err);
	free(t);
	base_claims(&c, NULL);
	t = ssm_token_mint(key, "bad kid", &c, err, sizeof(err));
	CHECK(t == NULL && strstr(err, "kid"), "a kid with a space: %s", err);
	free(t);
	t = ssm_token_mint(ec, KID, &c, err, sizeof(err));
	CHECK(t == NULL && strstr(err, "Ed25519"), "a P-256 key: %s", err);
	free(t);
	t = ssm_token_mint(NULL, KID, &c, err, sizeof(err));
	CHECK(t == NULL, "no key");
	EVP_PKEY_free(ec);
	cJSON_Delete(bad_params);
}

int main(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct ssm_jwks *keys = NULL, *other_keys = NULL;
	cJSON *params = cJSON_Parse("{\"portNumber\": [\"8080\"], \"localPortNumber\": [\"0\"]}");
	char path[512];
	FILE *f;

	CHECK(key && other && params, "keys");
	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return check_done("token_mint");
	}
	snprintf(path, sizeof(path), "%s/" DOC ".json", dir);
	f = fopen(path, "w");
	CHECK(f != NULL && fputs(doc_text, f) >= 0 && fclose(f) == 0, "write the document");
	ssm_sha256_hex(doc_text, strlen(doc_text), doc_hash);
	keys = jwks_of(key, KID);
	other_keys = jwks_of(other, KID);
	CHECK(keys && other_keys, "JWK Sets");
	if (key && keys && other_keys) {
		test_rows(key, keys, other_keys, params);
		test_form(key, params);
		test_refused(key);
	}
	unlink(path);
	rmdir(dir);
	ssm_jwks_free(keys);
	ssm_jwks_free(other_keys);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	cJSON_Delete(params);
	return check_done("token_mint");
}
