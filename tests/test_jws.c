/* test_jws.c - JWK Set loader, JWS structure rules and signature verification.
 *
 * Known-answer vectors: RFC 8037 appendix A.4 (Ed25519, key of A.2) and RFC 7515 appendix
 * A.3 (ES256).  Their headers carry no typ/kid, so they go through the crypto path with a
 * struct ssm_jws built by hand; everything else uses tokens signed here with fresh keys. */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include "b64url.h"
#include "jwk.h"
#include "jws.h"
#include "check.h"

/* RFC 8037 A.2 public key and A.4 JWS */
#define RFC8037_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8037_JWS                                                                        \
	"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."                         \
	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
/* RFC 7515 A.3 public key and A.3.1 JWS */
#define RFC7515_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define RFC7515_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define RFC7515_JWS                                                                        \
	"eyJhbGciOiJFUzI1NiJ9."                                                            \
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290" \
	"Ijp0cnVlfQ."                                                                      \
	"DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

#define RFC_JWKS                                                                           \
	"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc8037\",\"x\":\"" RFC8037_X   \
	"\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"rfc7515\",\"x\":\"" RFC7515_X           \
	"\",\"y\":\"" RFC7515_Y "\"}]}"

/* the order n of P-256, big-endian */
static const unsigned char p256_n[32] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

static char *b64(const void *p, size_t len)
{
	char *s = NULL;

	if (ssm_b64url_encode(p, len, &s) < 0) {
		fprintf(stderr, "out of memory\n");
		exit(99);
	}
	return s;
}

static char *b64s(const char *s)
{
	return b64(s, strlen(s));
}

/* Build a struct ssm_jws for a compact JWS without parsing its header (RFC vectors). */
static struct ssm_jws *raw_jws(const char *token, enum ssm_jws_alg alg, const char *kid)
{
	struct ssm_jws *j = calloc(1, sizeof(*j));
	const char *dot2 = strrchr(token, '.');

	if (j == NULL || dot2 == NULL)
		exit(99);
	j->alg = alg;
	snprintf(j->kid, sizeof(j->kid), "%s", kid);
	j->signing_input = token;
	j->signing_input_len = (size_t)(dot2 - token);
	if (ssm_b64url_decode(dot2 + 1, strlen(dot2 + 1), &j->sig, &j->sig_len) < 0)
		exit(99);
	return j;
}

static void test_rfc_vectors(void)
{
	struct ssm_jwks *keys = NULL;
	struct ssm_jws *j, *bad;
	char err[256] = "";
	int r;

	r = ssm_jwks_parse(RFC_JWKS, strlen(RFC_JWKS), &keys, err, sizeof(err));
	CHECK(r == 0, "RFC key set: %d %s", r, err);
	if (r != 0)
		return;
	CHECK(ssm_jwks_count(keys) == 2, "two keys");

	/* RFC 8037 A.4: Ed25519 over "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc" */
	j = raw_jws(RFC8037_JWS, SSM_ALG_EDDSA, "rfc8037");
	CHECK(j->sig_len == 64, "A.4 signature length");
	r = ssm_jws_verify(j, keys, err, sizeof(err));
	CHECK(r == 0, "RFC 8037 A.4 signature verifies: %d %s", r, err);
	/* flipped bit in the signature */
	j->sig[10] ^= 0x01;
	CHECK(ssm_jws_verify(j, keys, err, sizeof(err)) == -EBADMSG, "A.4 flipped sig bit");
	j->sig[10] ^= 0x01;
	/* one byte less of signing input */
	j->signing_input_len--;
	CHECK(ssm_jws_verify(j, keys, err, sizeof(err)) == -EBADMSG, "A.4 shortened input");
	j->signing_input_len++;
	/* truncated signature (a struct made by hand; the parser refuses it earlier) */
	j->sig_len = 63;
	CHECK(ssm_jws_verify(j, keys, err, sizeof(err)) == -EBADMSG, "A.4 truncated signature");
	j->sig_len = 64;
	/* EdDSA token naming the P-256 key: key type must match alg */
	snprintf(j->kid, sizeof(j->kid), "rfc7515");
	CHECK(ssm_jws_verify(j, keys, err, sizeof(err)) == -EKEYREJECTED, "EdDSA with EC key");
	snprintf(j->kid, sizeof(j->kid), "nosuchkey");
	CHECK(ssm_jws_verify(j, keys, err, sizeof(err)) == -ENOKEY, "unknown kid");
	ssm_jws_free(j);

	/* the same token through the parser: no typ, no kid -> refused before crypto */
	j = NULL;
	CHECK(ssm_jws_parse(RFC8037_JWS, strlen(RFC8037_JWS), &j, err, sizeof(err)) == -EINVAL &&
		      j == NULL,
	      "RFC 8037 token lacks typ/kid");

	/* RFC 7515 A.3: ES256, R||S */
	j = raw_jws(RFC7515_JWS, SSM_ALG_ES256, "rfc7515");
	r = ssm_jws_verify(j, keys, err, sizeof(err));
	CHECK(r == 0, "RFC 7515 A.3 signature verifies: %d %s", r, err);
	j->sig[63] ^= 0x01;
	CHECK(ssm_jws_verify(j, keys, err, sizeof(err)) == -EBADMSG, "A.3 flipped sig bit");
	j->sig[63] ^= 0x01;
	j->sig[0] ^= 0x80;
	CHECK(ssm_jws_verify(j, keys, err, sizeof(err)) == -EBADMSG, "A.3 flipped r top bit");
	j->sig[0] ^= 0x80;
	/* ES256 token naming the Ed25519 key */
	snprintf(j->kid, sizeof(j->kid), "rfc8037");
	CHECK(ssm_jws_verify(j, keys, err, sizeof(err)) == -EKEYREJECTED, "ES256 with Ed25519 key");
	snprintf(j->kid, sizeof(j->kid), "rfc7515");

	/* r and s out of [1, n-1] */
	{
		static const struct {
			int line;
			int which; /* 0: r, 32: s */
			int kind;  /* 0 zero, 1 n, 2 n+1, 3 all ff */
		} rs[] = {
			{ __LINE__, 0, 0 },  /* r = 0: the classic "psychic signature" */
			{ __LINE__, 32, 0 }, /* s = 0 */
			{ __LINE__, 0, 1 },  /* r = n */
			{ __LINE__, 32, 1 }, /* s = n */
			{ __LINE__, 32, 2 }, /* s = n + 1 (s >= n) */
			{ __LINE__, 0, 3 },  /* r = 2^256 - 1 */
			{ __LINE__, 32, 3 },
		};
		for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
			bad = raw_jws(RFC7515_JWS, SSM_ALG_ES256, "rfc7515");
			unsigned char *p = bad->sig + rs[i].which;

			if (rs[i].kind == 0)
				memset(p, 0, 32);
			else if (rs[i].kind == 3)
				memset(p, 0xff, 32);
			else
				memcpy(p, p256_n, 32);
			if (rs[i].kind == 2)
				p[31]++;
			r = ssm_jws_verify(bad, keys, err, sizeof(err));
			CHECK_ROW(rs[i].line, r == -EBADMSG, "r/s out of range: %d", r);
			ssm_jws_free(bad);
		}
		/* the boundary exactly: n - 1 passes the range check (and fails the math), n not */
		{
			EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
			unsigned char order[32];

			CHECK(g && BN_bn2binpad(EC_GROUP_get0_order(g), order, 32) == 32 &&
				      memcmp(order, p256_n, 32) == 0,
			      "test's P-256 order matches libcrypto's");
			EC_GROUP_free(g);
		}
		bad = raw_jws(RFC7515_JWS, SSM_ALG_ES256, "rfc7515");
		memcpy(bad->sig + 32, p256_n, 32);
		bad->sig[63]--;
		err[0] = '\0';
		CHECK(ssm_jws_verify(bad, keys, err, sizeof(err)) == -EBADMSG &&
			      strstr(err, "out of range") == NULL,
		      "s = n - 1 reaches the signature check: %s", err);
		bad->sig[63]++;
		CHECK(ssm_jws_verify(bad, keys, err, sizeof(err)) == -EBADMSG &&
			      strstr(err, "out of range") != NULL,
		      "s = n stopped by the range check: %s", err);
		ssm_jws_free(bad);
		/* both zero */
		bad = raw_jws(RFC7515_JWS, SSM_ALG_ES256, "rfc7515");
		memset(bad->sig, 0, 64);
		CHECK(ssm_jws_verify(bad, keys, err, sizeof(err)) == -EBADMSG, "r = s = 0");
		ssm_jws_free(bad);
	}
	/* the A.3 signature as DER (what OpenSSL emits): 70-72 bytes, refused by length */
	{
		ECDSA_SIG *es = ECDSA_SIG_new();
		unsigned char *der = NULL;
		char *tok, *dsig;
		int derlen;
		size_t n;
		struct ssm_jws *pj = NULL;

		ECDSA_SIG_set0(es, BN_bin2bn(j->sig, 32, NULL), BN_bin2bn(j->sig + 32, 32, NULL));
		derlen = i2d_ECDSA_SIG(es, &der);
		CHECK(derlen > 64, "DER encode");
		dsig = b64(der, (size_t)derlen);
		n = strlen(dsig) + 200;
		tok = malloc(n);
		{
			char *h = b64s("{\"alg\":\"ES256\",\"typ\":\"ssm-session+jwt\",\"kid\":\"rfc7515\"}");
			char *p = b64s("{\"sub\":\"x\"}");
			snprintf(tok, n, "%s.%s.%s", h, p, dsig);
			free(h);
			free(p);
		}
		CHECK(ssm_jws_parse(tok, strlen(tok), &pj, err, sizeof(err)) == -EINVAL && pj == NULL,
		      "DER ES256 signature refused by length");
		free(tok);
		free(dsig);
		OPENSSL_free(der);
		ECDSA_SIG_free(es);
	}
	ssm_jws_free(j);
	ssm_jwks_free(keys);
}

/* ---- tokens signed here ---- */

static EVP_PKEY *ed_key, *ec_key, *ed_key2;
static struct ssm_jwks *test_keys;

static void sign(EVP_PKEY *k, int es256, const char *in, size_t inlen, unsigned char out[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[128];
	size_t len = sizeof(der);

	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, es256 ? EVP_sha256() : NULL, NULL, k) != 1 ||
	    EVP_DigestSign(md, der, &len, (const unsigned char *)in, inlen) != 1)
		exit(99);
	EVP_MD_CTX_free(md);
	if (!es256) {
		memcpy(out, der, 64);
	} else {
		const unsigned char *p = der;
		ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
		const BIGNUM *r, *ss;

		if (s == NULL)
			exit(99);
		ECDSA_SIG_get0(s, &r, &ss);
		BN_bn2binpad(r, out, 32);
		BN_bn2binpad(ss, out + 32, 32);
		ECDSA_SIG_free(s);
	}
}

/* header and payload JSON text (as given, not re-encoded) -> signed compact token */
static char *make_token(EVP_PKEY *k, int es256, const char *header, const char *payload)
{
	char *h = b64s(header), *p = b64s(payload), *s, *tok;
	unsigned char sig[64];
	size_t n = strlen(h) + strlen(p) + 100;

	tok = malloc(n);
	if (tok == NULL)
		exit(99);
	snprintf(tok, n, "%s.%s", h, p);
	sign(k, es256, tok, strlen(tok), sig);
	s = b64(sig, 64);
	strcat(tok, ".");
	strcat(tok, s);
	free(h);
	free(p);
	free(s);
	return tok;
}

static void setup_keys(void)
{
	unsigned char raw[65];
	size_t len;
	char *edx, *ecx, *ecy, *ed2x, jwks[1024];
	char err[256] = "";

	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ed_key2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!ed_key || !ed_key2 || !ec_key)
		exit(99);
	len = 32;
	if (EVP_PKEY_get_raw_public_key(ed_key, raw, &len) != 1 || len != 32)
		exit(99);
	edx = b64(raw, 32);
	len = 32;
	if (EVP_PKEY_get_raw_public_key(ed_key2, raw, &len) != 1 || len != 32)
		exit(99);
	ed2x = b64(raw, 32);
	if (EVP_PKEY_get_octet_string_param(ec_key, OSSL_PKEY_PARAM_PUB_KEY, raw, sizeof(raw),
					    &len) != 1 || len != 65 || raw[0] != 4)
		exit(99);
	ecx = b64(raw + 1, 32);
	ecy = b64(raw + 33, 32);
	snprintf(jwks, sizeof(jwks),
		 "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed-1\",\"x\":\"%s\"},"
		 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec.1\",\"x\":\"%s\",\"y\":\"%s\","
		 "\"use\":\"sig\",\"alg\":\"ES256\"},"
		 "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed_2\",\"x\":\"%s\",\"alg\":\"EdDSA\"}]}",
		 edx, ecx, ecy, ed2x);
	if (ssm_jwks_parse(jwks, strlen(jwks), &test_keys, err, sizeof(err)) != 0) {
		fprintf(stderr, "test key set: %s\n", err);
		exit(99);
	}
	free(edx);
	free(ecx);
	free(ecy);
	free(ed2x);
}

#define H_ED "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}"
#define H_EC "{\"alg\":\"ES256\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ec.1\"}"
#define CLAIMS "{\"sub\":\"alice\",\"iat\":1700000000,\"aud\":[\"i-1\"]}"

struct tok_row {
	int line;
	int es256;        /* sign with the P-256 key, else ed-1 */
	const char *header;
	const char *payload;
	int want_parse;   /* 0 or -EINVAL */
	int want_verify;  /* if parse succeeded */
};

static const struct tok_row tok_rows[] = {
	/* good */
	{ __LINE__, 0, H_ED, CLAIMS, 0, 0 },
	{ __LINE__, 1, H_EC, CLAIMS, 0, 0 },
	{ __LINE__, 0, "{\"alg\":\"Ed25519\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, 0, 0 },
	{ __LINE__, 0, "{ \"kid\" : \"ed-1\",\r\n\"typ\":\"ssm-session+jwt\", \"alg\":\"EdDSA\", \"x\":1 }",
	  CLAIMS, 0, 0 }, /* odd spacing and an unknown member: signature is over these bytes */
	/* alg: only the three exact spellings, before any crypto */
	{ __LINE__, 0, "{\"alg\":\"none\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"NONE\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"None\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"HS256\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 }, /* key confusion */
	{ __LINE__, 0, "{\"alg\":\"RS256\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 1, "{\"alg\":\"es256\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ec.1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 1, "{\"alg\":\"ES256K\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ec.1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 1, "{\"alg\":\"ES384\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ec.1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA \",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"eddsa\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"Ed448\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":[\"EdDSA\"],\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"ALG\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 }, /* case */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"alg\":\"none\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 }, /* dup */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\\u0000\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 }, /* NUL cut */
	/* typ: explicit typing */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 }, /* cross-JWT confusion */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"SSM-SESSION+JWT\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"application/ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, -EINVAL, 0 },
	/* kid */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"../../etc/passwd\"}", CLAIMS, -EINVAL, 0 }, /* path */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed 1\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":1}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":"
	  "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", CLAIMS, -EINVAL, 0 }, /* 65 */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"nosuchkey\"}", CLAIMS, 0, -ENOKEY },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ec.1\"}", CLAIMS, 0, -EKEYREJECTED },
	{ __LINE__, 1, "{\"alg\":\"ES256\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\"}", CLAIMS, 0, -EKEYREJECTED },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed_2\"}", CLAIMS, 0, -EBADMSG }, /* other key */
	/* members that bring keys or extensions */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\",\"crit\":[\"exp\"]}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\",\"jku\":\"https://e/k\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\",\"jwk\":{}}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\",\"x5u\":\"https://e\"}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\",\"x5c\":[]}", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\",\"cty\":\"JWT\"}", CLAIMS, -EINVAL, 0 }, /* nested JWT */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\",\"b64\":false}", CLAIMS, -EINVAL, 0 }, /* RFC 7797 */
	{ __LINE__, 0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"ed-1\",\"crit\":null}", CLAIMS, -EINVAL, 0 },
	/* header and payload must each be one strict object */
	{ __LINE__, 0, "[\"EdDSA\"]", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, H_ED " ", CLAIMS, 0, 0 },                     /* trailing white space is fine */
	{ __LINE__, 0, H_ED "x", CLAIMS, -EINVAL, 0 },
	{ __LINE__, 0, H_ED, "[]", -EINVAL, 0 },
	{ __LINE__, 0, H_ED, "\"claims\"", -EINVAL, 0 },
	{ __LINE__, 0, H_ED, "{\"sub\":\"a\",\"sub\":\"b\"}", -EINVAL, 0 }, /* duplicate claim */
	{ __LINE__, 0, H_ED, "{\"sub\":\"alice\\u0000admin\"}", -EINVAL, 0 },
	{ __LINE__, 0, H_ED, "{\"sub\":\"alice\\nadmin\"}", -EINVAL, 0 },   /* control character */
	{ __LINE__, 0, H_ED, "{\"sub\":\"alice\\u001b[0m\"}", -EINVAL, 0 },
	{ __LINE__, 0, H_ED, "{\"sub\":\"\xc0\xaf\"}", -EINVAL, 0 },      /* overlong UTF-8 */
	{ __LINE__, 0, H_ED, "{\"sub\":\"alice\"}{}", -EINVAL, 0 },
	{ __LINE__, 0, H_ED, "{\"iat\":1e400}", -EINVAL, 0 },
};

static void test_token_rows(void)
{
	for (size_t i = 0; i < sizeof(tok_rows) / sizeof(tok_rows[0]); i++) {
		const struct tok_row *t = &tok_rows[i];
		char *tok = make_token(t->es256 ? ec_key : ed_key, t->es256, t->header, t->payload);
		struct ssm_jws *j = NULL;
		char err[256] = "";
		int r;

		r = ssm_jws_parse(tok, strlen(tok), &j, err, sizeof(err));
		CHECK_ROW(t->line, r == t->want_parse, "parse returned %d, want %d (%s)", r,
			  t->want_parse, err);
		if (r == 0) {
			r = ssm_jws_verify(j, test_keys, err, sizeof(err));
			CHECK_ROW(t->line, r == t->want_verify, "verify returned %d, want %d (%s)", r,
				  t->want_verify, err);
			CHECK_ROW(t->line, j->header && j->claims && j->sig_len == 64, "fields");
		} else {
			CHECK_ROW(t->line, j == NULL && err[0], "no reset or no message");
		}
		ssm_jws_free(j);
		free(tok);
	}
}

/* Token-level damage: each row is a transformation of a good token. */
static void test_structure(void)
{
	char *good_ed = make_token(ed_key, 0, H_ED, CLAIMS);
	char *good_ec = make_token(ec_key, 1, H_EC, CLAIMS);
	char buf[8192], err[256];
	struct ssm_jws *j;
	size_t n = strlen(good_ed);
	char *d1 = strchr(good_ed, '.'), *d2 = strrchr(good_ed, '.');
	int r;

	/* sanity: both verify */
	j = NULL;
	CHECK(ssm_jws_parse(good_ed, n, &j, err, sizeof(err)) == 0 &&
		      ssm_jws_verify(j, test_keys, err, sizeof(err)) == 0,
	      "good EdDSA token");
	CHECK(j && j->signing_input == good_ed && j->signing_input_len == (size_t)(d2 - good_ed),
	      "signing input points into the token");
	CHECK(j && strcmp(j->kid, "ed-1") == 0 && j->alg == SSM_ALG_EDDSA, "kid and alg");
	ssm_jws_free(j);
	j = NULL;
	CHECK(ssm_jws_parse(good_ec, strlen(good_ec), &j, err, sizeof(err)) == 0 &&
		      ssm_jws_verify(j, test_keys, err, sizeof(err)) == 0 && j->alg == SSM_ALG_ES256,
	      "good ES256 token");
	ssm_jws_free(j);

	struct {
		int line;
		const char *what;
		int verify; /* 1: parse must succeed and verify give -EBADMSG */
	} rows[] = {
		{ __LINE__, "two parts", 0 },
		{ __LINE__, "four parts", 0 },
		{ __LINE__, "empty signature", 0 },
		{ __LINE__, "empty payload", 0 },
		{ __LINE__, "padding", 0 },
		{ __LINE__, "white space", 0 },
		{ __LINE__, "newline at end", 0 },
		{ __LINE__, "NUL at end (len includes it)", 0 },
		{ __LINE__, "truncated signature", 0 },
		{ __LINE__, "signature one byte long", 0 },
		{ __LINE__, "longer than 4096", 0 },
		{ __LINE__, "standard base64 alphabet", 0 },
		{ __LINE__, "non-zero unused bits in signature", 0 },
		{ __LINE__, "payload swapped", 1 },
		{ __LINE__, "flipped signature bit", 1 },
		{ __LINE__, "len shorter than string", 0 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len;
		const char *w = rows[i].what;

		snprintf(buf, sizeof(buf), "%s", good_ed);
		len = n;
		if (strcmp(w, "two parts") == 0) {
			buf[d2 - good_ed] = '\0';
			len = strlen(buf);
		} else if (strcmp(w, "four parts") == 0) {
			strcat(buf, ".AAAA");
			len = strlen(buf);
		} else if (strcmp(w, "empty signature") == 0) {
			buf[d2 - good_ed + 1] = '\0';
			len = strlen(buf);
		} else if (strcmp(w, "empty payload") == 0) {
			snprintf(buf, sizeof(buf), "%.*s.%s", (int)(d1 - good_ed), good_ed, d2);
			len = strlen(buf);
		} else if (strcmp(w, "padding") == 0) {
			/* 64 bytes -> 86 characters, would be padded with "==" */
			strcat(buf, "==");
			len = strlen(buf);
		} else if (strcmp(w, "white space") == 0) {
			memmove(buf + (d1 - good_ed) + 2, buf + (d1 - good_ed) + 1,
				n - (size_t)(d1 - good_ed));
			buf[d1 - good_ed + 1] = ' ';
			len = n + 1;
			buf[len] = '\0';
		} else if (strcmp(w, "newline at end") == 0) {
			strcat(buf, "\n");
			len = strlen(buf);
		} else if (strcmp(w, "NUL at end (len includes it)") == 0) {
			len = n + 1;
		} else if (strcmp(w, "truncated signature") == 0) {
			len = n - 3; /* 83 characters: 62 bytes */
			buf[len] = '\0';
		} else if (strcmp(w, "signature one byte long") == 0) {
			buf[d2 - good_ed + 3] = '\0';
			buf[d2 - good_ed + 2] = 'A';
			buf[d2 - good_ed + 1] = 'A';
			len = strlen(buf);
		} else if (strcmp(w, "longer than 4096") == 0) {
			/* a huge ignored header member: refused before decoding anything */
			char *pad = malloc(4200);
			char *t2;

			memset(pad, 'a', 4100);
			pad[4100] = '\0';
			snprintf(buf, sizeof(buf), H_ED);
			buf[strlen(buf) - 1] = '\0';
			strcat(buf, ",\"pad\":\"");
			strcat(buf, pad);
			strcat(buf, "\"}");
			t2 = make_token(ed_key, 0, buf, CLAIMS);
			snprintf(buf, sizeof(buf), "%s", t2);
			len = strlen(buf);
			free(t2);
			free(pad);
		} else if (strcmp(w, "standard base64 alphabet") == 0) {
			char *p;
			/* force a '-' or '_' into '+' or '/' somewhere in the signature */
			p = buf + (d2 - good_ed) + 1;
			p[0] = '+';
		} else if (strcmp(w, "non-zero unused bits in signature") == 0) {
			/* last character of an 86-character part carries 2 unused bits */
			char *last = buf + n - 1;
			static const char al[] =
				"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
			const char *pos = strchr(al, *last);
			*last = al[(pos - al) | 1];
		} else if (strcmp(w, "payload swapped") == 0) {
			char *p2 = b64s("{\"sub\":\"root\",\"iat\":1700000000,\"aud\":[\"i-1\"]}");
			snprintf(buf, sizeof(buf), "%.*s.%s%s", (int)(d1 - good_ed), good_ed, p2, d2);
			len = strlen(buf);
			free(p2);
		} else if (strcmp(w, "flipped signature bit") == 0) {
			/* the first signature character: 'A' <-> 'B' flips one bit */
			char *c = buf + (d2 - good_ed) + 1;
			*c = *c == 'A' ? 'B' : 'A';
		} else if (strcmp(w, "len shorter than string") == 0) {
			len = n - 1; /* last char of the signature not counted */
		}
		j = NULL;
		err[0] = '\0';
		r = ssm_jws_parse(buf, len, &j, err, sizeof(err));
		if (rows[i].verify) {
			CHECK_ROW(rows[i].line, r == 0, "%s: parse %d %s", w, r, err);
			if (r == 0) {
				r = ssm_jws_verify(j, test_keys, err, sizeof(err));
				CHECK_ROW(rows[i].line, r == -EBADMSG, "%s: verify %d", w, r);
			}
		} else {
			CHECK_ROW(rows[i].line, r == -EINVAL && j == NULL && err[0],
				  "%s: parse returned %d (%s)", w, r, err);
		}
		ssm_jws_free(j);
	}
	free(good_ed);
	free(good_ec);
}

/* ---- the JWK Set loader ---- */

#define OKP(kid, x) "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"" kid "\",\"x\":\"" x "\"}"
#define EC(kid, x, y)                                                                      \
	"{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"" kid "\",\"x\":\"" x "\",\"y\":\"" y "\"}"
#define SET(k) "{\"keys\":[" k "]}"

struct jwk_row {
	int line;
	const char *in;
	int want;
	size_t count;
};

static const struct jwk_row jwk_rows[] = {
	{ __LINE__, SET(OKP("a", RFC8037_X)), 0, 1 },
	{ __LINE__, SET(EC("b", RFC7515_X, RFC7515_Y)), 0, 1 },
	{ __LINE__, SET(OKP("a", RFC8037_X) "," EC("b", RFC7515_X, RFC7515_Y)), 0, 2 },
	{ __LINE__, "{\"keys\":[" OKP("a", RFC8037_X) "],\"other\":1}", 0, 1 },
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"" RFC8037_X
			"\",\"alg\":\"Ed25519\",\"use\":\"sig\"}"), 0, 1 },
	/* private part: the host must hold public keys only */
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"" RFC8037_X
			"\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}"), -EINVAL, 0 },
	{ __LINE__, SET("{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"b\",\"x\":\"" RFC7515_X
			"\",\"y\":\"" RFC7515_Y "\",\"d\":\"AAAA\"}"), -EINVAL, 0 },
	/* other key types and curves */
	{ __LINE__, SET("{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"AQAB\",\"e\":\"AQAB\"}"), -EINVAL, 0 },
	{ __LINE__, SET("{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}"), -EINVAL, 0 }, /* HMAC secret */
	{ __LINE__, SET("{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"b\",\"x\":\"" RFC7515_X
			"\",\"y\":\"" RFC7515_Y "\"}"), -EINVAL, 0 },
	{ __LINE__, SET("{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"kid\":\"b\",\"x\":\"" RFC7515_X
			"\",\"y\":\"" RFC7515_Y "\"}"), -EINVAL, 0 },
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"kid\":\"a\",\"x\":\"" RFC8037_X "\"}"), -EINVAL, 0 },
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"kid\":\"a\",\"x\":\"" RFC8037_X "\"}"), -EINVAL, 0 },
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"P-256\",\"kid\":\"a\",\"x\":\"" RFC7515_X
			"\",\"y\":\"" RFC7515_Y "\"}"), -EINVAL, 0 }, /* kty/crv mismatch */
	{ __LINE__, SET("{\"kty\":\"okp\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"" RFC8037_X "\"}"), -EINVAL, 0 },
	{ __LINE__, SET("{\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"" RFC8037_X "\"}"), -EINVAL, 0 },
	{ __LINE__, SET("{\"kty\":\"OKP\",\"kid\":\"a\",\"x\":\"" RFC8037_X "\"}"), -EINVAL, 0 },
	/* alg and use, when present, must agree */
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"" RFC8037_X
			"\",\"alg\":\"ES256\"}"), -EINVAL, 0 },
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"" RFC8037_X
			"\",\"use\":\"enc\"}"), -EINVAL, 0 },
	/* coordinates */
	{ __LINE__, SET(OKP("a", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUQ")), -EINVAL, 0 },   /* 31 bytes */
	{ __LINE__, SET(OKP("a", RFC8037_X "AA")), -EINVAL, 0 },                                 /* 33 bytes */
	{ __LINE__, SET(OKP("a", RFC8037_X "=")), -EINVAL, 0 },                                  /* padding */
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\"}"), -EINVAL, 0 },    /* no x */
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":7}"), -EINVAL, 0 },
	{ __LINE__, SET(EC("b", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVA", RFC7515_Y)), -EINVAL, 0 }, /* x 31 */
	{ __LINE__, SET(EC("b", RFC7515_X, RFC7515_Y "AA")), -EINVAL, 0 },                      /* y 33 */
	{ __LINE__, SET("{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"b\",\"x\":\"" RFC7515_X "\"}"), -EINVAL, 0 },
	{ __LINE__, SET(EC("b", RFC7515_X, "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4")), -EINVAL, 0 }, /* not on curve */
	{ __LINE__, SET(EC("b", RFC7515_X, RFC7515_X)), -EINVAL, 0 },                            /* not on curve */
	{ __LINE__, SET(EC("b", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")), -EINVAL, 0 },        /* (0,0) */
	/* kid */
	{ __LINE__, SET(OKP("a", RFC8037_X) "," OKP("a", RFC8037_X)), -EINVAL, 0 },              /* duplicate */
	{ __LINE__, SET(OKP("k", RFC8037_X) "," EC("k", RFC7515_X, RFC7515_Y)), -EINVAL, 0 },   /* duplicate, other type */
	{ __LINE__, SET(OKP("a/b", RFC8037_X)), -EINVAL, 0 },
	{ __LINE__, SET(OKP("", RFC8037_X)), -EINVAL, 0 },
	{ __LINE__, SET(OKP("a b", RFC8037_X)), -EINVAL, 0 },
	{ __LINE__, SET(OKP("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", RFC8037_X)), 0, 1 }, /* 64 */
	{ __LINE__, SET(OKP("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", RFC8037_X)), -EINVAL, 0 }, /* 65 */
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "\"}"), -EINVAL, 0 }, /* no kid */
	{ __LINE__, SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":5,\"x\":\"" RFC8037_X "\"}"), -EINVAL, 0 },
	/* the set itself */
	{ __LINE__, "{\"keys\":{}}", -EINVAL, 0 },          /* keys not an array */
	{ __LINE__, "{\"keys\":\"x\"}", -EINVAL, 0 },
	{ __LINE__, "{\"keys\":[]}", -EINVAL, 0 },          /* empty set */
	{ __LINE__, "{}", -EINVAL, 0 },
	{ __LINE__, "[" OKP("a", RFC8037_X) "]", -EINVAL, 0 },
	{ __LINE__, OKP("a", RFC8037_X), -EINVAL, 0 },      /* a single JWK, not a set */
	{ __LINE__, SET("[]"), -EINVAL, 0 },                /* key not an object */
	{ __LINE__, "{\"keys\":[" OKP("a", RFC8037_X) "],\"keys\":[]}", -EINVAL, 0 }, /* duplicate keys */
	{ __LINE__, "{\"Keys\":[" OKP("a", RFC8037_X) "]}", -EINVAL, 0 },
};

static void test_jwk_rows(void)
{
	for (size_t i = 0; i < sizeof(jwk_rows) / sizeof(jwk_rows[0]); i++) {
		const struct jwk_row *t = &jwk_rows[i];
		struct ssm_jwks *set = (struct ssm_jwks *)1;
		char err[256] = "";
		int r = ssm_jwks_parse(t->in, strlen(t->in), &set, err, sizeof(err));

		CHECK_ROW(t->line, r == t->want, "jwks_parse returned %d, want %d (%s)", r, t->want,
			  err);
		if (r == 0) {
			CHECK_ROW(t->line, ssm_jwks_count(set) == t->count, "count %zu",
				  ssm_jwks_count(set));
			ssm_jwks_free(set);
		} else {
			CHECK_ROW(t->line, set == NULL && err[0], "no reset or no message");
		}
	}
}

static void test_jwk_accessors(void)
{
	const char *in = SET(OKP("ed", RFC8037_X) "," EC("ec", RFC7515_X, RFC7515_Y));
	struct ssm_jwks *set = NULL;
	const struct ssm_jwk *k;
	char err[256] = "";

	CHECK(ssm_jwks_parse(in, strlen(in), &set, err, sizeof(err)) == 0, "parse: %s", err);
	k = ssm_jwks_find(set, "ed");
	CHECK(k && ssm_jwk_type(k) == SSM_KEY_ED25519 && strcmp(ssm_jwk_kid(k), "ed") == 0 &&
		      ssm_jwk_pkey(k) != NULL,
	      "ed key");
	k = ssm_jwks_find(set, "ec");
	CHECK(k && ssm_jwk_type(k) == SSM_KEY_P256 && ssm_jwk_pkey(k) != NULL, "ec key");
	CHECK(ssm_jwks_find(set, "EC") == NULL, "kid lookup is case-sensitive");
	CHECK(ssm_jwks_find(set, "e") == NULL, "no prefix match");
	CHECK(ssm_jwks_find(NULL, "ed") == NULL, "NULL set");
	ssm_jwks_free(set);
	ssm_jwks_free(NULL);

	/* the d error names the problem clearly */
	in = SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"" RFC8037_X "\",\"d\":\"x\"}");
	set = NULL;
	ssm_jwks_parse(in, strlen(in), &set, err, sizeof(err));
	CHECK(strstr(err, "private") != NULL, "d message: %s", err);

	/* ssm_jwks_load: missing file and an unsafe file */
	CHECK(ssm_jwks_load("/nonexistent/jwks.json", &set, err, sizeof(err)) == -ENOENT,
	      "load missing");
	{
		char path[] = "/tmp/ssm-test-jwks-XXXXXX";
		int fd = mkstemp(path);
		const char *s = SET(OKP("a", RFC8037_X));

		if (fd >= 0) {
			CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s), "write");
			close(fd);
			chmod(path, 0600);
			set = NULL;
			CHECK(ssm_jwks_load(path, &set, err, sizeof(err)) == 0 && ssm_jwks_count(set) == 1,
			      "load good file: %s", err);
			ssm_jwks_free(set);
			chmod(path, 0666);
			set = NULL;
			CHECK(ssm_jwks_load(path, &set, err, sizeof(err)) == -EACCES && set == NULL,
			      "world-writable key file refused");
			unlink(path);
		}
	}
}

/* The per-key verification contexts are reused: good after bad after good must hold, for
 * both key types, and threads sharing one key set must all get the right answers. */
struct thr_arg {
	const char *good, *bad;
	int failures;
};

static void *thr_main(void *p)
{
	struct thr_arg *a = p;
	char err[256];

	for (int i = 0; i < 150; i++) {
		const char *t = (i % 3 == 2) ? a->bad : a->good;
		struct ssm_jws *j = NULL;
		int r = ssm_jws_parse(t, strlen(t), &j, err, sizeof(err));

		if (r == 0)
			r = ssm_jws_verify(j, test_keys, err, sizeof(err));
		if (r != (t == a->bad ? -EBADMSG : 0))
			a->failures++;
		ssm_jws_free(j);
	}
	return NULL;
}

static void test_reuse(void)
{
	char *good[2], *bad[2];
	struct thr_arg args[4];
	pthread_t th[4];
	char err[256];

	good[0] = make_token(ed_key, 0, H_ED, CLAIMS);
	good[1] = make_token(ec_key, 1, H_EC, CLAIMS);
	for (int k = 0; k < 2; k++) {
		char *last;

		bad[k] = strdup(good[k]);
		if (bad[k] == NULL)
			exit(99);
		/* a different but well-formed signature: flip a middle character's low bit */
		last = strrchr(bad[k], '.') + 40;
		*last = *last == 'A' ? 'B' : 'A';
		for (int round = 0; round < 4; round++) {
			const char *t = (round % 2) ? bad[k] : good[k];
			struct ssm_jws *j = NULL;
			int r = ssm_jws_parse(t, strlen(t), &j, err, sizeof(err));

			CHECK(r == 0, "reuse parse %d/%d", k, round);
			if (r == 0) {
				r = ssm_jws_verify(j, test_keys, err, sizeof(err));
				CHECK(r == ((round % 2) ? -EBADMSG : 0), "reuse %s round %d: %d",
				      k ? "ES256" : "EdDSA", round, r);
			}
			ssm_jws_free(j);
		}
	}
	for (int i = 0; i < 4; i++) {
		args[i].good = good[i % 2];
		args[i].bad = bad[i % 2];
		args[i].failures = 0;
		CHECK(pthread_create(&th[i], NULL, thr_main, &args[i]) == 0, "pthread_create");
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(args[i].failures == 0, "thread %d: %d wrong answers", i, args[i].failures);
	}
	for (int k = 0; k < 2; k++) {
		free(good[k]);
		free(bad[k]);
	}
}

int main(void)
{
	test_rfc_vectors();
	test_jwk_rows();
	test_jwk_accessors();
	setup_keys();
	test_token_rows();
	test_structure();
	test_reuse();
	ssm_jwks_free(test_keys);
	EVP_PKEY_free(ed_key);
	EVP_PKEY_free(ed_key2);
	EVP_PKEY_free(ec_key);
	return check_done("jws");
}
