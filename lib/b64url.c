/* b64url.c - strict base64url (RFC 7515 section 2), see b64url.h.
 *
 * Only the 64 URL-safe characters are accepted: no '=' padding, no white space, no '+' or
 * '/'.  A length of 1 modulo 4 cannot encode whole bytes and is refused, and so is a last
 * character whose unused low bits are not zero: otherwise several strings would decode to
 * the same bytes (a malleable token: same signature, different text). */
#include "config.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "b64url.h"

static const char b64url_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 6-bit value of c, or -1 for anything outside the URL-safe alphabet. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int ssm_b64url_decode(const char *in, size_t inlen, unsigned char **pout, size_t *poutlen)
{
	unsigned char *out;
	size_t outlen, i, o = 0;
	uint32_t acc = 0;
	unsigned int bits = 0;
	int v;

	*pout = NULL;
	*poutlen = 0;
	if (in == NULL && inlen != 0)
		return -EINVAL;
	if (inlen % 4 == 1)
		return -EINVAL;
	/* inlen / 4 * 3 + up to 2 bytes for the tail; no overflow since inlen <= SIZE_MAX */
	outlen = inlen / 4 * 3 + (inlen % 4 ? inlen % 4 - 1 : 0);
	out = malloc(outlen + 1);
	if (out == NULL)
		return -ENOMEM;

	for (i = 0; i < inlen; i++) {
		v = b64url_value((unsigned char)in[i]);
		if (v < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* leftover bits (2 or 4) must all be zero: canonical encoding only */
	if (acc != 0)
		goto bad;
	if (o != outlen)
		goto bad; /* cannot happen; kept as a real check, not an assert */
	out[o] = '\0';
	*pout = out;
	*poutlen = o;
	return 0;
bad:
	free(out);
	return -EINVAL;
}

int ssm_b64url_encode(const unsigned char *in, size_t inlen, char **pout)
{
	char *out;
	size_t outlen, i, o = 0;
	uint32_t v;

	*pout = NULL;
	if (inlen > (SIZE_MAX - 4) / 4 * 3)
		return -ENOMEM;
	outlen = inlen / 3 * 4 + (inlen % 3 ? inlen % 3 + 1 : 0);
	out = malloc(outlen + 1);
	if (out == NULL)
		return -ENOMEM;
	for (i = 0; i + 3 <= inlen; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (inlen - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (inlen - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	*pout = out;
	return 0;
}
