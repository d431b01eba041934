/* jwks.c - the broker's token signing key (Ed25519, OpenSSL) and its public JWK Set
 * (RFC 8037 OKP key; kid: the first 16 characters of the base64url SHA-256 of the raw
 * public key), the set hosts store as trusted_keys. */
#include "brokerd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include "b64url.h"
#include "log.h"

static cJSON *jwks_for(EVP_PKEY *key)
{
	unsigned char pub[32], digest[32];
	size_t publen = sizeof(pub);
	unsigned int dlen = 0;
	char *x = NULL, *kid = NULL;
	cJSON *set = NULL, *keys, *k;

	if (EVP_PKEY_get_raw_public_key(key, pub, &publen) != 1 || publen != 32 ||
	    EVP_Digest(pub, publen, digest, &dlen, EVP_sha256(), NULL) != 1 ||
	    ssm_b64url_encode(pub, publen, &x) < 0 ||
	    ssm_b64url_encode(digest, dlen, &kid) < 0)
		goto out;
	kid[16] = '\0';
	set = cJSON_CreateObject();
	keys = cJSON_AddArrayToObject(set, "keys");
	k = cJSON_CreateObject();
	if (keys == NULL || k == NULL) {
		cJSON_Delete(k);
		cJSON_Delete(set);
		set = NULL;
		goto out;
	}
	cJSON_AddItemToArray(keys, k);
	cJSON_AddStringToObject(k, "kty", "OKP");
	cJSON_AddStringToObject(k, "crv", "Ed25519");
	cJSON_AddStringToObject(k, "kid", kid);
	cJSON_AddStringToObject(k, "use", "sig");
	cJSON_AddStringToObject(k, "alg", "EdDSA");
	cJSON_AddStringToObject(k, "x", x);
out:
	free(x);
	free(kid);
	return set;
}

int broker_jwks_ensure(const char *key_path, const char *jwks_path, cJSON **pjwks)
{
	char err[512] = "", *pem = NULL, *json = NULL;
	EVP_PKEY *key = NULL;
	int r;

	*pjwks = NULL;
	r = ssm_ca_read_key(key_path, &key, err, sizeof(err));
	if (r == -ENOENT) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (key == NULL || ssm_ca_key_pem(key, &pem) < 0)
			return -ENOMEM;
		r = ssm_ca_write_file(key_path, pem, strlen(pem), 0600, err, sizeof(err));
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
		if (r == 0)
			fprintf(stderr, "ssm-broker: created the token signing key %s\n", key_path);
	}
	if (r < 0) {
		ssm_log(LOG_ERR, "%s", err);
		EVP_PKEY_free(key);
		return r;
	}
	if (!EVP_PKEY_is_a(key, "ED25519")) {
		ssm_log(LOG_ERR, "%s: not an Ed25519 key", key_path);
		EVP_PKEY_free(key);
		return -EINVAL;
	}
	*pjwks = jwks_for(key);
	EVP_PKEY_free(key);
	if (*pjwks == NULL)
		return -ENOMEM;
	json = cJSON_Print(*pjwks);
	if (json == NULL)
		return -ENOMEM;
	r = ssm_ca_write_file(jwks_path, json, strlen(json), 0644, err, sizeof(err));
	free(json);
	if (r < 0)
		ssm_log(LOG_ERR, "%s", err);
	return r;
}
