/* jwk.c - the trusted JWK Set, see jwk.h.
 *
 * Public keys only, of two kinds: OKP/Ed25519 (RFC 8037) and EC/P-256 (RFC 7518 section
 * 6.2).  Keys become EVP_PKEYs once, at load time, so that verification does no key
 * decoding.  A P-256 point is checked to be on the curve; a private part ("d") refuses the
 * whole set, since a host that holds the broker's private key could mint its own tokens. */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "b64url.h"
#include "json.h"
#include "jwk.h"
#include "log.h"
#include "util.h"

#define SSM_JWKS_MAX_KEYS 64

/* Verification contexts are set up once per key, on first use, and reused: creating them
 * (a provider fetch, a digest fetch inside the ECDSA provider) costs as much as half a
 * verification in OpenSSL 3.0.  They are not thread-safe, so the cache is taken with a
 * trylock; a thread that finds it busy, or a failed set-up, uses fresh contexts instead. */
struct jwk_cache {
	pthread_mutex_t lock;
	int state;            /* 0 not set up, 1 ready */
	EVP_MD_CTX *vctx;     /* Ed25519: DigestVerify-initialised */
	EVP_PKEY_CTX *pctx;   /* P-256: verify-initialised for SHA-256 digests */
	EVP_MD_CTX *hctx;     /* P-256: SHA-256 */
};

struct ssm_jwk {
	enum ssm_key_type type;
	char kid[65];
	EVP_PKEY *pkey;
	struct jwk_cache *cache;
};

struct ssm_jwks {
	size_t n;
	struct ssm_jwk *keys;
};


static int is_kid_char(int c)
{
	return ssm_is_b64url_char(c) || c == '.';
}

/* Decode member name of key as exactly want bytes of strict base64url into out. */
static int get_coord(const cJSON *key, const char *name, unsigned char *out, size_t want,
		     size_t idx, char *err, size_t errlen)
{
	const char *s;
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	int r;

	r = ssm_json_get_string(key, name, &s);
	if (r < 0) {
		ssm_errf(err, errlen, "key %zu: \"%s\" %s", idx, name,
			r == -ENOENT ? "missing" : "is not a string");
		return -EINVAL;
	}
	r = ssm_b64url_decode(s, strlen(s), &raw, &rawlen);
	if (r == -ENOMEM) {
		ssm_errf(err, errlen, "out of memory");
		return r;
	}
	if (r < 0) {
		ssm_errf(err, errlen, "key %zu: \"%s\" is not strict base64url", idx, name);
		return -EINVAL;
	}
	if (rawlen != want) {
		ssm_errf(err, errlen, "key %zu: \"%s\" is %zu bytes, must be exactly %zu", idx, name,
			rawlen, want);
		free(raw);
		return -EINVAL;
	}
	memcpy(out, raw, want);
	free(raw);
	return 0;
}

static int load_ed25519(const cJSON *key, size_t idx, EVP_PKEY **ppkey, char *err, size_t errlen)
{
	unsigned char x[32];
	int r;

	r = get_coord(key, "x", x, sizeof(x), idx, err, errlen);
	if (r < 0)
		return r;
	*ppkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, sizeof(x));
	if (*ppkey == NULL) {
		ssm_errf(err, errlen, "key %zu: not a valid Ed25519 public key", idx);
		return -EINVAL;
	}
	return 0;
}

static int load_p256(const cJSON *key, size_t idx, EVP_PKEY **ppkey, char *err, size_t errlen)
{
	unsigned char point[65];
	char group[] = "prime256v1";
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL, *cctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	point[0] = 0x04; /* uncompressed: 04 || x || y */
	r = get_coord(key, "x", point + 1, 32, idx, err, errlen);
	if (r < 0)
		return r;
	r = get_coord(key, "y", point + 33, 32, idx, err, errlen);
	if (r < 0)
		return r;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
	params[2] = OSSL_PARAM_construct_end();

	r = -EINVAL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
		ssm_errf(err, errlen, "key %zu: libcrypto cannot create EC keys", idx);
		goto out;
	}
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 || pkey == NULL) {
		ssm_errf(err, errlen, "key %zu: not a valid P-256 public key (point not on the curve?)",
			idx);
		goto out;
	}
	/* fromdata decodes the point; check it again explicitly: coordinates in range, on the
	 * curve, not the point at infinity.  The _quick variant leaves out n*Q == infinity,
	 * a full scalar multiplication that cannot fail on P-256 (cofactor 1) and would add
	 * to every PAM login's start-up time. */
	cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (cctx == NULL || EVP_PKEY_public_check_quick(cctx) != 1) {
		ssm_errf(err, errlen, "key %zu: P-256 point is not on the curve", idx);
		goto out;
	}
	*ppkey = pkey;
	pkey = NULL;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* SHA-256 fetched once: an implicit fetch on every verification costs a lock and a lookup */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void sha256_fetch(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *jwk_sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md;
}

static void cache_clear(struct jwk_cache *c)
{
	EVP_MD_CTX_free(c->vctx);
	EVP_PKEY_CTX_free(c->pctx);
	EVP_MD_CTX_free(c->hctx);
	c->vctx = NULL;
	c->pctx = NULL;
	c->hctx = NULL;
	c->state = 0;
}

static int cache_setup(const struct ssm_jwk *key, struct jwk_cache *c)
{
	const EVP_MD *sha256 = jwk_sha256();

	if (key->type == SSM_KEY_ED25519) {
		c->vctx = EVP_MD_CTX_new();
		if (c->vctx == NULL || EVP_DigestVerifyInit(c->vctx, NULL, NULL, NULL, key->pkey) != 1)
			goto fail;
	} else {
		c->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
		c->hctx = EVP_MD_CTX_new();
		if (sha256 == NULL || c->pctx == NULL || c->hctx == NULL ||
		    EVP_PKEY_verify_init(c->pctx) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(c->pctx, sha256) != 1 ||
		    EVP_DigestInit_ex(c->hctx, sha256, NULL) != 1)
			goto fail;
	}
	c->state = 1;
	return 0;
fail:
	cache_clear(c);
	return -1;
}

/* 1 good, 0 bad signature or error */
static int verify_cached(const struct ssm_jwk *key, struct jwk_cache *c, const unsigned char *sig,
			 size_t siglen, const unsigned char *tbs, size_t tbslen)
{
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (key->type == SSM_KEY_ED25519)
		return EVP_DigestVerify(c->vctx, sig, siglen, tbs, tbslen) == 1;
	if (EVP_DigestInit_ex(c->hctx, NULL, NULL) != 1 ||
	    EVP_DigestUpdate(c->hctx, tbs, tbslen) != 1 ||
	    EVP_DigestFinal_ex(c->hctx, dgst, &dlen) != 1 || dlen != 32)
		return 0;
	return EVP_PKEY_verify(c->pctx, sig, siglen, dgst, dlen) == 1;
}

static int verify_fresh(const struct ssm_jwk *key, const unsigned char *sig, size_t siglen,
			const unsigned char *tbs, size_t tbslen)
{
	const EVP_MD *md = key->type == SSM_KEY_ED25519 ? NULL : jwk_sha256();
	EVP_MD_CTX *ctx;
	int r = -ENOMEM;

	if (key->type != SSM_KEY_ED25519 && md == NULL)
		return r;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return r;
	r = -EBADMSG;
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, key->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen) == 1)
		r = 0;
	EVP_MD_CTX_free(ctx);
	return r;
}

int ssm_jwk_verify(const struct ssm_jwk *key, const unsigned char *sig, size_t siglen,
		   const unsigned char *tbs, size_t tbslen)
{
	struct jwk_cache *c = key->cache;
	int ok;

	if (c != NULL && pthread_mutex_trylock(&c->lock) == 0) {
		if (c->state == 1 || cache_setup(key, c) == 0) {
			ok = verify_cached(key, c, sig, siglen, tbs, tbslen);
			/* a context that failed is not trusted to be reusable: start afresh
			 * next time (costs only on bad signatures) */
			if (!ok)
				cache_clear(c);
			pthread_mutex_unlock(&c->lock);
			return ok ? 0 : -EBADMSG;
		}
		pthread_mutex_unlock(&c->lock);
	}
	return verify_fresh(key, sig, siglen, tbs, tbslen);
}

static int load_key(const cJSON *key, size_t idx, struct ssm_jwk *out, char *err, size_t errlen)
{
	const char *kty, *crv, *kid, *s;
	char esc[SSM_LOG_ESCAPE_BUFSZ];
	int r;

	if (!cJSON_IsObject(key)) {
		ssm_errf(err, errlen, "key %zu: not a JSON object", idx);
		return -EINVAL;
	}
	/* checked first, so that any private key, RSA and oct included, gets this message */
	if (ssm_json_member(key, "d") != NULL) {
		ssm_errf(err, errlen,
			"key %zu: has a private part (\"d\"): the trusted key set must hold public "
			"keys only; remove \"d\" and keep the private key on the broker",
			idx);
		return -EINVAL;
	}
	if (ssm_json_get_string(key, "kid", &kid) < 0) {
		ssm_errf(err, errlen, "key %zu: \"kid\" missing or not a string", idx);
		return -EINVAL;
	}
	if (!ssm_str_charset(kid, 1, 64, is_kid_char)) {
		ssm_errf(err, errlen, "key %zu: kid \"%s\" is not 1 to 64 of [A-Za-z0-9._-]", idx,
			ssm_log_escape(kid, esc, sizeof(esc)));
		return -EINVAL;
	}
	snprintf(out->kid, sizeof(out->kid), "%s", kid);
	if (ssm_json_get_string(key, "kty", &kty) < 0) {
		ssm_errf(err, errlen, "key %zu (%s): \"kty\" missing or not a string", idx, kid);
		return -EINVAL;
	}
	if (strcmp(kty, "OKP") != 0 && strcmp(kty, "EC") != 0) {
		ssm_errf(err, errlen, "key %zu (%s): unsupported kty \"%s\" (only OKP and EC)", idx,
			kid, ssm_log_escape(kty, esc, sizeof(esc)));
		return -EINVAL;
	}
	if (ssm_json_get_string(key, "crv", &crv) < 0) {
		ssm_errf(err, errlen, "key %zu (%s): \"crv\" missing or not a string", idx, kid);
		return -EINVAL;
	}
	/* optional members that, when present, must agree with the key */
	r = ssm_json_get_string(key, "use", &s);
	if (r == -EINVAL || (r == 0 && strcmp(s, "sig") != 0)) {
		ssm_errf(err, errlen, "key %zu (%s): \"use\" must be \"sig\"", idx, kid);
		return -EINVAL;
	}

	if (strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0) {
		r = ssm_json_get_string(key, "alg", &s);
		if (r == -EINVAL ||
		    (r == 0 && strcmp(s, "EdDSA") != 0 && strcmp(s, "Ed25519") != 0)) {
			ssm_errf(err, errlen, "key %zu (%s): \"alg\" of an Ed25519 key must be EdDSA",
				idx, kid);
			return -EINVAL;
		}
		out->type = SSM_KEY_ED25519;
		r = load_ed25519(key, idx, &out->pkey, err, errlen);
	} else if (strcmp(kty, "EC") == 0 && strcmp(crv, "P-256") == 0) {
		r = ssm_json_get_string(key, "alg", &s);
		if (r == -EINVAL || (r == 0 && strcmp(s, "ES256") != 0)) {
			ssm_errf(err, errlen, "key %zu (%s): \"alg\" of a P-256 key must be ES256", idx,
				kid);
			return -EINVAL;
		}
		out->type = SSM_KEY_P256;
		r = load_p256(key, idx, &out->pkey, err, errlen);
	} else {
		ssm_errf(err, errlen,
			"key %zu (%s): unsupported curve \"%s\" for kty %s (only OKP/Ed25519 and "
			"EC/P-256)",
			idx, kid, ssm_log_escape(crv, esc, sizeof(esc)), kty);
		return -EINVAL;
	}
	return r;
}

int ssm_jwks_parse(const char *buf, size_t len, struct ssm_jwks **pset, char *err, size_t errlen)
{
	struct ssm_jwks *set = NULL;
	cJSON *json = NULL;
	const cJSON *keys, *key;
	char jerr[256];
	size_t n, i, j;
	int r;

	*pset = NULL;
	/* no openssl.cnf: it costs time on every PAM login and could redirect providers */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);

	r = ssm_json_parse_object(buf, len, &json, jerr, sizeof(jerr));
	if (r < 0) {
		ssm_errf(err, errlen, "not a JWK Set: %s", jerr);
		return r;
	}
	keys = ssm_json_member(json, "keys");
	if (!cJSON_IsArray(keys)) {
		ssm_errf(err, errlen, "not a JWK Set: \"keys\" %s",
			keys ? "is not an array" : "missing");
		r = -EINVAL;
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(keys);
	if (n == 0) {
		ssm_errf(err, errlen, "the key set holds no keys: no token could be verified");
		r = -EINVAL;
		goto out;
	}
	if (n > SSM_JWKS_MAX_KEYS) {
		ssm_errf(err, errlen, "more than %d keys in the set", SSM_JWKS_MAX_KEYS);
		r = -EINVAL;
		goto out;
	}
	set = calloc(1, sizeof(*set));
	if (set)
		set->keys = calloc(n, sizeof(*set->keys));
	if (set == NULL || set->keys == NULL) {
		ssm_errf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach(key, keys) {
		r = load_key(key, i, &set->keys[i], err, errlen);
		set->n = i + 1; /* so that a partial key is freed too */
		if (r < 0)
			goto out;
		set->keys[i].cache = calloc(1, sizeof(*set->keys[i].cache));
		if (set->keys[i].cache == NULL ||
		    pthread_mutex_init(&set->keys[i].cache->lock, NULL) != 0) {
			free(set->keys[i].cache);
			set->keys[i].cache = NULL;
			ssm_errf(err, errlen, "out of memory");
			r = -ENOMEM;
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(set->keys[j].kid, set->keys[i].kid) == 0) {
				ssm_errf(err, errlen, "key %zu: duplicate kid \"%s\" (also key %zu)", i,
					set->keys[i].kid, j);
				r = -EINVAL;
				goto out;
			}
		}
		i++;
	}
	*pset = set;
	set = NULL;
	r = 0;
out:
	ssm_jwks_free(set);
	cJSON_Delete(json);
	return r;
}

int ssm_jwks_load(const char *path, struct ssm_jwks **pset, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	char perr[256];
	int r;

	*pset = NULL;
	r = ssm_read_file(path, SSM_JWKS_MAX_FILE, SSM_FILE_TRUSTED, &buf, &len, err, errlen);
	if (r == -EFBIG || r == -EIO)
		r = -EINVAL;
	if (r < 0)
		return r;
	r = ssm_jwks_parse(buf, len, pset, perr, sizeof(perr));
	if (r < 0)
		ssm_errf(err, errlen, "%s: %s", path, perr);
	free(buf);
	return r;
}

void ssm_jwks_free(struct ssm_jwks *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; set->keys && i < set->n; i++) {
		struct jwk_cache *c = set->keys[i].cache;

		if (c != NULL) {
			cache_clear(c);
			pthread_mutex_destroy(&c->lock);
			free(c);
		}
		EVP_PKEY_free(set->keys[i].pkey);
	}
	free(set->keys);
	free(set);
}

size_t ssm_jwks_count(const struct ssm_jwks *set)
{
	return set ? set->n : 0;
}

const struct ssm_jwk *ssm_jwks_find(const struct ssm_jwks *set, const char *kid)
{
	if (set == NULL || kid == NULL)
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->keys[i].kid, kid) == 0)
			return &set->keys[i];
	return NULL;
}

const struct ssm_jwk *ssm_jwks_at(const struct ssm_jwks *set, size_t i)
{
	if (set == NULL || i >= set->n)
		return NULL;
	return &set->keys[i];
}

enum ssm_key_type ssm_jwk_type(const struct ssm_jwk *key)
{
	return key->type;
}

const char *ssm_jwk_kid(const struct ssm_jwk *key)
{
	return key->kid;
}

EVP_PKEY *ssm_jwk_pkey(const struct ssm_jwk *key)
{
	return key->pkey;
}
