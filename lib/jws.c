/* jws.c - JWS Compact Serialization, EdDSA/Ed25519 and ES256 only, see jws.h and SPEC
 * section 2.
 *
 * ssm_jws_parse does every structural check before any cryptography: the algorithm comes
 * from a closed list of exact spellings (never "none", never HMAC, never a key named by the
 * token), and the signature length is fixed.  ssm_jws_verify checks the signature over the
 * received header.payload bytes with the key the trusted set holds under kid; ES256
 * signatures arrive as R||S (RFC 7518 section 3.4) and are turned into the DER that
 * libcrypto verifies only after R and S are checked to lie in [1, n-1]. */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include "b64url.h"
#include "json.h"
#include "jws.h"
#include "util.h"

#define SSM_JWS_SIG_LEN 64
#define SSM_ECDSA_DER_MAX 80 /* SEQUENCE of two 33-byte INTEGERs is at most 72 bytes */

/* the order n of the P-256 group (SEC 2, FIPS 186-4 D.1.2.3), big-endian */
static const unsigned char p256_order[32] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* header members whose presence refuses the token: extensions we do not understand, and
 * every way for a token to bring or point at its own key */
static const char *const forbidden_members[] = {
	"crit", "jku", "jwk", "x5u", "x5c", "cty", "b64",
};


static int is_kid_char(int c)
{
	return ssm_is_b64url_char(c) || c == '.';
}

/* Decode one part as strict base64url then as one strict JSON object whose strings hold no
 * control characters. */
static int decode_object(const char *part, size_t len, const char *what, cJSON **pjson,
			 char *err, size_t errlen)
{
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	char jerr[200];
	int r;

	*pjson = NULL;
	r = ssm_b64url_decode(part, len, &raw, &rawlen);
	if (r == -ENOMEM) {
		ssm_errf(err, errlen, "out of memory");
		return r;
	}
	if (r < 0) {
		ssm_errf(err, errlen, "%s is not strict base64url", what);
		return -EINVAL;
	}
	r = ssm_json_parse_object((const char *)raw, rawlen, pjson, jerr, sizeof(jerr));
	if (r == 0)
		r = ssm_json_check_text(*pjson, jerr, sizeof(jerr));
	if (r < 0) {
		ssm_errf(err, errlen, "%s: %s", what, jerr);
		cJSON_Delete(*pjson);
		*pjson = NULL;
	}
	free(raw);
	return r;
}

static int check_header(struct ssm_jws *jws, char *err, size_t errlen)
{
	const char *alg, *typ, *kid;
	size_t i;

	for (i = 0; i < sizeof(forbidden_members) / sizeof(forbidden_members[0]); i++) {
		if (ssm_json_member(jws->header, forbidden_members[i]) != NULL) {
			ssm_errf(err, errlen, "header member \"%s\" is not allowed",
				forbidden_members[i]);
			return -EINVAL;
		}
	}
	/* exact, case-sensitive spellings only */
	if (ssm_json_get_string(jws->header, "alg", &alg) < 0) {
		ssm_errf(err, errlen, "header \"alg\" missing or not a string");
		return -EINVAL;
	}
	if (strcmp(alg, "EdDSA") == 0 || strcmp(alg, "Ed25519") == 0) {
		jws->alg = SSM_ALG_EDDSA;
	} else if (strcmp(alg, "ES256") == 0) {
		jws->alg = SSM_ALG_ES256;
	} else {
		/* the value is untrusted: do not echo it */
		ssm_errf(err, errlen, "header \"alg\" is not EdDSA, Ed25519 or ES256");
		return -EINVAL;
	}
	if (ssm_json_get_string(jws->header, "typ", &typ) < 0 ||
	    strcmp(typ, "ssm-session+jwt") != 0) {
		ssm_errf(err, errlen, "header \"typ\" is not \"ssm-session+jwt\"");
		return -EINVAL;
	}
	if (ssm_json_get_string(jws->header, "kid", &kid) < 0 ||
	    !ssm_str_charset(kid, 1, 64, is_kid_char)) {
		ssm_errf(err, errlen, "header \"kid\" missing or not 1 to 64 of [A-Za-z0-9._-]");
		return -EINVAL;
	}
	snprintf(jws->kid, sizeof(jws->kid), "%s", kid);
	return 0;
}

int ssm_jws_parse(const char *token, size_t len, struct ssm_jws **pjws, char *err, size_t errlen)
{
	struct ssm_jws *jws = NULL;
	const char *dot1, *dot2, *sig;
	size_t hlen, plen, slen;
	int r;

	*pjws = NULL;
	/* before anything is decoded */
	if (token == NULL || len == 0) {
		ssm_errf(err, errlen, "empty token");
		return -EINVAL;
	}
	if (len > SSM_TOKEN_MAX_LEN) {
		ssm_errf(err, errlen, "token longer than %d bytes", SSM_TOKEN_MAX_LEN);
		return -EINVAL;
	}
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
		ssm_errf(err, errlen, "not three dot-separated parts");
		return -EINVAL;
	}
	hlen = (size_t)(dot1 - token);
	plen = (size_t)(dot2 - dot1 - 1);
	sig = dot2 + 1;
	slen = len - (size_t)(sig - token);
	if (hlen == 0 || plen == 0 || slen == 0) {
		ssm_errf(err, errlen, "empty part in the token");
		return -EINVAL;
	}

	jws = calloc(1, sizeof(*jws));
	if (jws == NULL) {
		ssm_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = decode_object(token, hlen, "header", &jws->header, err, errlen);
	if (r < 0)
		goto out;
	r = check_header(jws, err, errlen);
	if (r < 0)
		goto out;
	r = decode_object(dot1 + 1, plen, "payload", &jws->claims, err, errlen);
	if (r < 0)
		goto out;
	r = ssm_b64url_decode(sig, slen, &jws->sig, &jws->sig_len);
	if (r == -ENOMEM) {
		ssm_errf(err, errlen, "out of memory");
		goto out;
	}
	if (r < 0) {
		ssm_errf(err, errlen, "signature is not strict base64url");
		goto out;
	}
	/* both algorithms: exactly 64 bytes (ES256 as R||S; a DER signature is refused here) */
	if (jws->sig_len != SSM_JWS_SIG_LEN) {
		ssm_errf(err, errlen, "signature is %zu bytes, must be %d", jws->sig_len,
			SSM_JWS_SIG_LEN);
		r = -EINVAL;
		goto out;
	}
	jws->signing_input = token;
	jws->signing_input_len = (size_t)(dot2 - token);
	*pjws = jws;
	jws = NULL;
	r = 0;
out:
	ssm_jws_free(jws);
	return r;
}

/* 1 if the 32-byte big-endian integer is in [1, n-1] */
static int scalar_in_range(const unsigned char *v)
{
	unsigned char any = 0;

	for (size_t i = 0; i < 32; i++)
		any |= v[i];
	return any != 0 && memcmp(v, p256_order, 32) < 0;
}

static int verify_es256(const struct ssm_jwk *key, const struct ssm_jws *jws, char *err,
			size_t errlen)
{
	ECDSA_SIG *esig = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char der[SSM_ECDSA_DER_MAX], *p = der;
	int derlen, r = -ENOMEM;

	if (jws->sig_len != SSM_JWS_SIG_LEN) {
		ssm_errf(err, errlen, "ES256 signature is not 64 bytes");
		return -EBADMSG;
	}
	if (!scalar_in_range(jws->sig) || !scalar_in_range(jws->sig + 32)) {
		ssm_errf(err, errlen, "bad signature: ES256 r or s out of range");
		return -EBADMSG;
	}
	esig = ECDSA_SIG_new();
	br = BN_bin2bn(jws->sig, 32, NULL);
	bs = BN_bin2bn(jws->sig + 32, 32, NULL);
	if (esig == NULL || br == NULL || bs == NULL || ECDSA_SIG_set0(esig, br, bs) != 1) {
		ssm_errf(err, errlen, "out of memory");
		goto out;
	}
	br = bs = NULL; /* owned by esig now */
	derlen = i2d_ECDSA_SIG(esig, NULL);
	if (derlen <= 0 || derlen > (int)sizeof(der) || i2d_ECDSA_SIG(esig, &p) != derlen) {
		ssm_errf(err, errlen, "ES256 signature does not encode");
		r = -EBADMSG;
		goto out;
	}
	r = ssm_jwk_verify(key, der, (size_t)derlen, (const unsigned char *)jws->signing_input,
			   jws->signing_input_len);
	if (r == -EBADMSG)
		ssm_errf(err, errlen, "bad signature");
	else if (r < 0)
		ssm_errf(err, errlen, "out of memory");
out:
	ECDSA_SIG_free(esig);
	BN_free(br);
	BN_free(bs);
	return r;
}

int ssm_jws_verify(const struct ssm_jws *jws, const struct ssm_jwks *keys, char *err, size_t errlen)
{
	const struct ssm_jwk *key;
	enum ssm_key_type want;
	int r;

	if (jws == NULL || jws->signing_input == NULL || jws->sig == NULL) {
		ssm_errf(err, errlen, "no token");
		return -EBADMSG;
	}
	key = ssm_jwks_find(keys, jws->kid);
	if (key == NULL) {
		/* kid passed the charset check at parse time: safe to show */
		ssm_errf(err, errlen, "no trusted key with kid \"%.64s\"", jws->kid);
		return -ENOKEY;
	}
	switch (jws->alg) {
	case SSM_ALG_EDDSA:
		want = SSM_KEY_ED25519;
		break;
	case SSM_ALG_ES256:
		want = SSM_KEY_P256;
		break;
	default:
		ssm_errf(err, errlen, "unsupported algorithm");
		return -EKEYREJECTED;
	}
	if (ssm_jwk_type(key) != want) {
		ssm_errf(err, errlen, "key \"%.64s\" is %s, token says %s", jws->kid,
			ssm_jwk_type(key) == SSM_KEY_ED25519 ? "Ed25519" : "P-256",
			want == SSM_KEY_ED25519 ? "EdDSA" : "ES256");
		return -EKEYREJECTED;
	}
	if (want == SSM_KEY_ED25519) {
		if (jws->sig_len != SSM_JWS_SIG_LEN) {
			ssm_errf(err, errlen, "Ed25519 signature is not 64 bytes");
			return -EBADMSG;
		}
		/* pure Ed25519 over the received bytes: no digest (RFC 8032 section 5.1) */
		r = ssm_jwk_verify(key, jws->sig, jws->sig_len,
				   (const unsigned char *)jws->signing_input,
				   jws->signing_input_len);
		if (r == -EBADMSG)
			ssm_errf(err, errlen, "bad signature");
		else if (r < 0)
			ssm_errf(err, errlen, "out of memory");
		return r;
	}
	return verify_es256(key, jws, err, errlen);
}

void ssm_jws_free(struct ssm_jws *jws)
{
	if (jws == NULL)
		return;
	cJSON_Delete(jws->header);
	cJSON_Delete(jws->claims);
	if (jws->sig != NULL) /* with the payload, the signature is the credential */
		explicit_bzero(jws->sig, jws->sig_len);
	free(jws->sig);
	free(jws);
}
