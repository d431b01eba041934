/* totp.c - RFC 6238 TOTP, see totp.h.  The MAC is OpenSSL's HMAC-SHA1. */
#include "totp.h"
#include <errno.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

int ssm_totp_code(const unsigned char *key, size_t keylen, int64_t t, int digits, char *out)
{
	static const uint32_t mod[] = { 1000000, 10000000, 100000000 };
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0, off;
	uint64_t step;
	uint32_t bin;
	int i;

	if (digits < 6 || digits > 8 || t < 0 || key == NULL || keylen == 0 || keylen > 1024)
		return -EINVAL;
	step = (uint64_t)t / SSM_TOTP_STEP;
	for (i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(step & 0xff);
		step >>= 8;
	}
	if (HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen) == NULL ||
	    maclen != 20)
		return -EIO;
	/* RFC 4226 5.3: dynamic truncation */
	off = mac[19] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	      ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	bin %= mod[digits - 6];
	for (i = digits - 1; i >= 0; i--) {
		out[i] = (char)('0' + bin % 10);
		bin /= 10;
	}
	out[digits] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int ssm_totp_verify(const unsigned char *key, size_t keylen, const char *code, int64_t now,
		    int64_t last_step, int64_t *pstep)
{
	char want[SSM_TOTP_DIGITS + 1];
	int64_t cur, s;
	int i, r, found = 0;

	if (code == NULL || now < 0 || strlen(code) != SSM_TOTP_DIGITS)
		return 0;
	for (i = 0; i < SSM_TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	cur = now / SSM_TOTP_STEP;
	for (s = cur - SSM_TOTP_WINDOW; s <= cur + SSM_TOTP_WINDOW; s++) {
		if (s < 0 || s <= last_step)
			continue;
		r = ssm_totp_code(key, keylen, s * SSM_TOTP_STEP, SSM_TOTP_DIGITS, want);
		if (r < 0)
			return r == -EIO ? -EIO : 0;
		if (CRYPTO_memcmp(want, code, SSM_TOTP_DIGITS) == 0 && !found) {
			found = 1;
			*pstep = s;
		}
	}
	OPENSSL_cleanse(want, sizeof(want));
	return found;
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t ssm_base32_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t i, n = 0;
	uint32_t buf = 0;
	int bits = 0;

	if (outlen == 0)
		return 0;
	for (i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			if (n + 1 >= outlen)
				goto done;
			out[n++] = b32[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0 && n + 1 < outlen)
		out[n++] = b32[(buf << (5 - bits)) & 31];
done:
	out[n] = '\0';
	return n;
}

long ssm_base32_decode(const char *in, unsigned char *out, size_t outlen)
{
	size_t i, len = strlen(in), n = 0, data;
	uint32_t buf = 0;
	int bits = 0;

	data = len;
	while (data > 0 && in[data - 1] == '=')
		data--;
	/* valid unpadded lengths mod 8: 0, 2, 4, 5, 7; padding only to a multiple of 8 */
	if (data % 8 == 1 || data % 8 == 3 || data % 8 == 6)
		return -EINVAL;
	if (data != len && len % 8 != 0)
		return -EINVAL;
	for (i = 0; i < data; i++) {
		char c = in[i];
		int v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a';
		else if (c >= '2' && c <= '7')
			v = c - '2' + 26;
		else
			return -EINVAL;
		buf = (buf << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			if (n >= outlen)
				return -E2BIG;
			out[n++] = (unsigned char)((buf >> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	/* the leftover bits must be zero (a canonical encoding) */
	if (bits > 0 && (buf & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return (long)n;
}
