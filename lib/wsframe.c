/* wsframe.c - see wsframe.h. */
#include "wsframe.h"
#include <string.h>

size_t ssm_ws_client_frame(uint8_t *dst, size_t cap, unsigned op, const uint8_t *payload,
			   size_t n, const uint8_t key[4])
{
	uint8_t kk[8];
	uint64_t k8, w;
	size_t h = 2, i;

	if (op > 0xf)
		return 0;
	if (n > 65535)
		h += 8;
	else if (n > 125)
		h += 2;
	if (cap < h + 4 || cap - h - 4 < n)
		return 0;
	dst[0] = (uint8_t)(0x80u | op); /* FIN, no RSV bits */
	if (n > 65535) {
		dst[1] = 0x80u | 127u;
		for (i = 0; i < 8; i++)
			dst[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	} else if (n > 125) {
		dst[1] = 0x80u | 126u;
		dst[2] = (uint8_t)(n >> 8);
		dst[3] = (uint8_t)n;
	} else {
		dst[1] = (uint8_t)(0x80u | n);
	}
	memcpy(dst + h, key, 4);
	dst += h + 4;
	/* byte i of the payload is masked with key[i % 4]: eight at a time, in memory order */
	memcpy(kk, key, 4);
	memcpy(kk + 4, key, 4);
	memcpy(&k8, kk, 8);
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, payload + i, 8);
		w ^= k8;
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = payload[i] ^ key[i & 3];
	return h + 4 + n;
}
