/* sha256.c - see sha256.h */
#include <nettle/sha2.h>
#include "sha256.h"
#include "util.h"

void ssm_sha256_init(struct ssm_sha256 *h)
{
	sha256_init(&h->ctx);
}

void ssm_sha256_update(struct ssm_sha256 *h, const void *buf, size_t len)
{
	sha256_update(&h->ctx, len, buf);
}

void ssm_sha256_final_hex(struct ssm_sha256 *h, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_SIZE];
	size_t i;

	sha256_digest(&h->ctx, sizeof(md), md);
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

void ssm_sha256_hex(const void *buf, size_t len, char out[65])
{
	struct ssm_sha256 h;

	ssm_sha256_init(&h);
	ssm_sha256_update(&h, buf, len);
	ssm_sha256_final_hex(&h, out);
}
