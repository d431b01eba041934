/* sha256_openssl.c - the OpenSSL 3 EVP back end of sha256.h (and ssm_sha256_hex of util.h) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "sha256.h"
#include "util.h"

struct ssm_sha256 {
	EVP_MD_CTX *ctx;
	int failed;
};

int ssm_sha256_new(struct ssm_sha256 **ph)
{
	struct ssm_sha256 *h = calloc(1, sizeof(*h));

	*ph = NULL;
	if (h == NULL)
		return -ENOMEM;
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL) {
		free(h);
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		h->failed = 1;
	*ph = h;
	return 0;
}

void ssm_sha256_update(struct ssm_sha256 *h, const void *buf, size_t len)
{
	if (!h->failed && EVP_DigestUpdate(h->ctx, buf, len) != 1)
		h->failed = 1;
}

int ssm_sha256_final_hex(struct ssm_sha256 *h, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (h->failed || EVP_DigestFinal_ex(h->ctx, md, &mdlen) != 1 || mdlen != 32) {
		/* never a plausible digest */
		memset(out, 'x', 64);
		out[64] = '\0';
		return -EIO;
	}
	ssm_sha256_digest_hex(md, out);
	return 0;
}

void ssm_sha256_free(struct ssm_sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void ssm_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		/* cannot happen with a working libcrypto; never return a plausible hash */
		memset(out, 'x', 64);
		out[64] = '\0';
		return;
	}
	ssm_sha256_digest_hex(md, out);
}
