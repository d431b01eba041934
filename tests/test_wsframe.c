/* test_wsframe.c - the dialers' websocket framing and masking (lib/wsframe.c) against RFC
 * 6455: the RFC's own example (section 5.7), every length encoding at its edges, every
 * masking alignment, and the refusals (a buffer too small, an opcode out of range). */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "wsframe.h"

/* an independent reading of the frame: header fields, then the payload unmasked bytewise */
static int parse(const uint8_t *f, size_t len, unsigned *op, uint8_t *out, size_t *n)
{
	size_t h = 2, pl, i;

	if (len < 2 || (f[0] & 0x70) != 0 || !(f[0] & 0x80) || !(f[1] & 0x80))
		return -1;
	*op = f[0] & 0x0f;
	pl = f[1] & 0x7f;
	if (pl == 126) {
		if (len < 4)
			return -1;
		pl = (size_t)f[2] << 8 | f[3];
		if (pl < 126)
			return -1; /* not the shortest encoding */
		h = 4;
	} else if (pl == 127) {
		if (len < 10 || (f[2] & 0x80))
			return -1;
		pl = 0;
		for (i = 0; i < 8; i++)
			pl = pl << 8 | f[2 + i];
		if (pl < 65536)
			return -1;
		h = 10;
	}
	if (len != h + 4 + pl)
		return -1;
	for (i = 0; i < pl; i++)
		out[i] = f[h + 4 + i] ^ f[h + (i & 3)];
	*n = pl;
	return 0;
}

int main(void)
{
	/* RFC 6455 section 5.7: a single-frame masked text message "Hello" */
	static const uint8_t rfc[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				      0x7f, 0x9f, 0x4d, 0x51, 0x58};
	static const uint8_t rfc_key[4] = {0x37, 0xfa, 0x21, 0x3d};
	static const size_t sizes[] = {0,     1,     7,     8,     9,     15,    16,    17,
				       125,   126,   127,   1000,  16383, 16384, 16424, 65535,
				       65536, 65537, 70001};
	uint8_t buf[32];
	uint8_t *in, *fr, *back;
	size_t i, k, len;

	len = ssm_ws_client_frame(buf, sizeof(buf), SSM_WS_OP_TEXT, (const uint8_t *)"Hello", 5,
				  rfc_key);
	CHECK(len == sizeof(rfc) && memcmp(buf, rfc, sizeof(rfc)) == 0,
	      "RFC 6455 5.7: masked \"Hello\" is byte for byte the RFC's");

	in = malloc(70001);
	fr = malloc(70001 + SSM_WS_HEADER_MAX);
	back = malloc(70001);
	if (in == NULL || fr == NULL || back == NULL)
		return 99;
	for (i = 0; i < 70001; i++)
		in[i] = (uint8_t)(i * 131 + 7);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k], got = 0, want_h = n > 65535 ? 10 : n > 125 ? 4 : 2;
		uint8_t key[4] = {(uint8_t)(0x5a + k), 0xa5, (uint8_t)(0x0f ^ k), 0xf0};
		unsigned op = 99;
		size_t off;

		/* the payload at every alignment: the eight-byte loop must not care */
		for (off = 0; off < 8 && off <= 70001 - n; off += n > 20000 ? 7 : 1) {
			memset(fr, 0xee, n + SSM_WS_HEADER_MAX);
			len = ssm_ws_client_frame(fr, n + want_h + 4, SSM_WS_OP_BINARY, in + off, n,
						  key);
			CHECK(len == n + want_h + 4 &&
				      parse(fr, len, &op, back, &got) == 0 && op == SSM_WS_OP_BINARY &&
				      got == n && memcmp(back, in + off, n) == 0 &&
				      memcmp(fr + want_h, key, 4) == 0,
			      "%zu bytes at offset %zu: header of %zu, FIN, masked, key in place, "
			      "payload back",
			      n, off, want_h);
		}
		/* one byte short: refused, nothing claimed written */
		CHECK(ssm_ws_client_frame(fr, n + want_h + 3, SSM_WS_OP_BINARY, in, n, key) == 0,
		      "%zu bytes: a buffer one byte short is refused", n);
	}
	CHECK(ssm_ws_client_frame(fr, 64, 0x10, in, 4, rfc_key) == 0,
	      "an opcode above 0xf is refused");
	CHECK(ssm_ws_client_frame(fr, 3, SSM_WS_OP_BINARY, in, 0, rfc_key) == 0,
	      "an empty frame needs six bytes (a three-byte buffer is refused)");
	CHECK(ssm_ws_client_frame(fr, 6, SSM_WS_OP_BINARY, in, 0, rfc_key) == 6,
	      "an empty frame is six bytes");
	free(in);
	free(fr);
	free(back);
	return check_done("test_wsframe");
}
