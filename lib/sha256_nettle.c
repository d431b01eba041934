/* sha256_nettle.c - the nettle back end of sha256.h (and ssm_sha256_hex of util.h) */
#include <errno.h>
#include <stdlib.h>
#include <nettle/sha2.h>
#include "sha256.h"
#include "util.h"

struct ssm_sha256 {
	struct sha256_ctx ctx;
};

int ssm_sha256_new(struct ssm_sha256 **ph)
{
	*ph = malloc(sizeof(**ph));
	if (*ph == NULL)
		return -ENOMEM;
	sha256_init(&(*ph)->ctx);
	return 0;
}

void ssm_sha256_update(struct ssm_sha256 *h, const void *buf, size_t len)
{
	sha256_update(&h->ctx, len, buf);
}

int ssm_sha256_final_hex(struct ssm_sha256 *h, char out[65])
{
	unsigned char md[SHA256_DIGEST_SIZE];

	sha256_digest(&h->ctx, sizeof(md), md);
	ssm_sha256_digest_hex(md, out);
	return 0;
}

void ssm_sha256_free(struct ssm_sha256 *h)
{
	free(h);
}

void ssm_sha256_hex(const void *buf, size_t len, char out[65])
{
	struct sha256_ctx ctx;
	unsigned char md[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, len, buf);
	sha256_digest(&ctx, sizeof(md), md);
	ssm_sha256_digest_hex(md, out);
}
