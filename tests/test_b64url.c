/* test_b64url.c - strict base64url decoder and encoder */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "b64url.h"
#include "check.h"

struct row {
	int line;
	const char *in;
	size_t inlen; /* 0: strlen(in) */
	int want;     /* 0 or -EINVAL */
	const char *out;
	size_t outlen;
};

static const struct row rows[] = {
	/* good: canonical encodings */
	{ __LINE__, "", 0, 0, "", 0 },
	{ __LINE__, "Zg", 0, 0, "f", 1 },
	{ __LINE__, "Zm8", 0, 0, "fo", 2 },
	{ __LINE__, "Zm9v", 0, 0, "foo", 3 },
	{ __LINE__, "Zm9vYg", 0, 0, "foob", 4 },
	{ __LINE__, "Zm9vYmE", 0, 0, "fooba", 5 },
	{ __LINE__, "Zm9vYmFy", 0, 0, "foobar", 6 },
	{ __LINE__, "-_-_", 0, 0, "\xfb\xff\xbf", 3 },
	{ __LINE__, "AAA", 0, 0, "\0\0", 2 },
	{ __LINE__, "eyJhbGciOiJFZERTQSJ9", 0, 0, "{\"alg\":\"EdDSA\"}", 15 },

	/* padding: '=' is not base64url (RFC 7515 section 2) */
	{ __LINE__, "Zg==", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm8=", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm9v====", 0, -EINVAL, NULL, 0 },
	/* standard alphabet smuggled in */
	{ __LINE__, "+/+/", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "ab+c", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "ab/c", 0, -EINVAL, NULL, 0 },
	/* white space anywhere: lenient decoders skip it, we do not */
	{ __LINE__, " Zm9v", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm9v ", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm\n9v", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm\t9", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm9v\r\n", 0, -EINVAL, NULL, 0 },
	/* embedded NUL: C-string truncation trick */
	{ __LINE__, "Zm\0v", 4, -EINVAL, NULL, 0 },
	/* other separators and bytes */
	{ __LINE__, "Zm9v.", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm9\xc3\xa9", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm9\x80", 0, -EINVAL, NULL, 0 },
	/* length 1 mod 4 cannot encode whole bytes */
	{ __LINE__, "Z", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm9vY", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm9vYmFyZ", 0, -EINVAL, NULL, 0 },
	/* non-zero unused bits: "Zh" decodes to "f" too in a lenient decoder (malleability) */
	{ __LINE__, "Zh", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zv", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm9", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm-", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "Zm9vYh", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "AB", 0, -EINVAL, NULL, 0 },
	{ __LINE__, "AAB", 0, -EINVAL, NULL, 0 },
};

static void test_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *t = &rows[i];
		size_t inlen = t->inlen ? t->inlen : strlen(t->in);
		static unsigned char sentinel;
		unsigned char *out = &sentinel;
		size_t outlen = 99;
		int r = ssm_b64url_decode(t->in, inlen, &out, &outlen);

		CHECK_ROW(t->line, r == t->want, "decode returned %d, want %d", r, t->want);
		if (t->want == 0 && r == 0) {
			CHECK_ROW(t->line, outlen == t->outlen && memcmp(out, t->out, outlen) == 0,
				  "wrong bytes (len %zu)", outlen);
			CHECK_ROW(t->line, out[outlen] == '\0', "not NUL-terminated");
			/* and back: the canonical encoding is the input */
			char *enc = NULL;
			CHECK_ROW(t->line, ssm_b64url_encode(out, outlen, &enc) == 0, "encode failed");
			CHECK_ROW(t->line, enc && strlen(enc) == inlen && memcmp(enc, t->in, inlen) == 0,
				  "round trip differs: %s", enc ? enc : "(null)");
			free(enc);
		} else {
			CHECK_ROW(t->line, out == NULL && outlen == 0, "outputs not reset on error");
		}
		if (out != &sentinel)
			free(out);
	}
}

/* every byte string of lengths 0..70 with varied content survives encode then decode,
 * and the encoding only uses the URL-safe alphabet */
static void test_round_trips(void)
{
	unsigned char buf[70];
	size_t len, i;
	unsigned seed = 12345;

	for (len = 0; len <= sizeof(buf); len++) {
		char *enc = NULL;
		unsigned char *dec = NULL;
		size_t declen = 0;
		int ok_chars = 1;

		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (unsigned char)(seed >> 16);
		}
		CHECK(ssm_b64url_encode(buf, len, &enc) == 0, "encode len %zu", len);
		if (enc == NULL)
			continue;
		for (i = 0; enc[i]; i++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
				    enc[i]))
				ok_chars = 0;
		CHECK(ok_chars, "encoding of len %zu uses other characters", len);
		CHECK(strlen(enc) % 4 != 1, "encoded length 1 mod 4");
		CHECK(ssm_b64url_decode(enc, strlen(enc), &dec, &declen) == 0, "decode len %zu", len);
		CHECK(declen == len && (len == 0 || memcmp(dec, buf, len) == 0), "round trip len %zu",
		      len);
		free(enc);
		free(dec);
	}
	/* all 256 byte values */
	{
		unsigned char all[256];
		char *enc = NULL;
		unsigned char *dec = NULL;
		size_t declen = 0;

		for (i = 0; i < 256; i++)
			all[i] = (unsigned char)i;
		CHECK(ssm_b64url_encode(all, sizeof(all), &enc) == 0, "encode 256");
		CHECK(enc && ssm_b64url_decode(enc, strlen(enc), &dec, &declen) == 0, "decode 256");
		CHECK(declen == 256 && dec && memcmp(dec, all, 256) == 0, "round trip 256");
		free(enc);
		free(dec);
	}
}

int main(void)
{
	test_rows();
	test_round_trips();
	return check_done("b64url");
}
