/* test_totp.c - lib/totp.c: the RFC 6238 appendix B vectors (SHA-1), the RFC 4648 base32
 * vectors, the +-1 step window, replay refusal and malformed codes. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "check.h"
#include "totp.h"

static const unsigned char rfc_key[] = "12345678901234567890";

int main(void)
{
	/* RFC 6238 appendix B, SHA1 rows */
	static const struct {
		int64_t t;
		const char *code;
	} vec[] = {
		{ 59, "94287082" },	    { 1111111109, "07081804" }, { 1111111111, "14050471" },
		{ 1234567890, "89005924" }, { 2000000000, "69279037" }, { 20000000000LL, "65353130" },
	};
	static const struct {
		const char *raw, *enc;
	} b32[] = {
		/* RFC 4648 section 10, padding removed */
		{ "", "" },	      { "f", "MY" },	       { "fo", "MZXQ" },
		{ "foo", "MZXW6" },   { "foob", "MZXW6YQ" },   { "fooba", "MZXW6YTB" },
		{ "foobar", "MZXW6YTBOI" },
	};
	static const char *bad_b32[] = { "M", "MZX", "MZXW6Y", "MZ1Q", "MZ XQ", "MZXQ=", "MZ==XQ==",
					 "MZ!Q", "MZ" /* non-canonical: "f" is MY */ };
	char code[16], enc[64];
	unsigned char dec[64];
	int64_t step = -1;
	size_t i;
	long n;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		CHECK(ssm_totp_code(rfc_key, 20, vec[i].t, 8, code) == 0, "code %zu", i);
		CHECK(strcmp(code, vec[i].code) == 0, "t=%lld: %s, want %s", (long long)vec[i].t,
		      code, vec[i].code);
		/* 6 digits: the last six of the 8-digit code */
		CHECK(ssm_totp_code(rfc_key, 20, vec[i].t, 6, code) == 0 &&
			      strcmp(code, vec[i].code + 2) == 0,
		      "t=%lld 6 digits: %s", (long long)vec[i].t, code);
	}
	CHECK(ssm_totp_code(rfc_key, 20, 59, 5, code) == -EINVAL, "5 digits");
	CHECK(ssm_totp_code(rfc_key, 20, 59, 9, code) == -EINVAL, "9 digits");
	CHECK(ssm_totp_code(rfc_key, 0, 59, 6, code) == -EINVAL, "empty key");
	CHECK(ssm_totp_code(rfc_key, 20, -1, 6, code) == -EINVAL, "negative time");

	/* verify: 1111111111 is in step 37037037; 1111111109 in 37037036 (code 081804) */
	CHECK(ssm_totp_verify(rfc_key, 20, "050471", 1111111111, 0, &step) == 1 &&
		      step == 37037037,
		  "the current step");
	CHECK(ssm_totp_verify(rfc_key, 20, "081804", 1111111111, 0, &step) == 1 &&
		      step == 37037036,
		  "the step before");
	CHECK(ssm_totp_verify(rfc_key, 20, "050471", 1111111109, 0, &step) == 1 &&
		      step == 37037037,
		  "the step after");
	CHECK(ssm_totp_verify(rfc_key, 20, "050471", 1111111111 + 60, 0, &step) == 0,
	      "two steps later refused");
	CHECK(ssm_totp_verify(rfc_key, 20, "050471", 1111111111 - 60, 0, &step) == 0,
	      "two steps earlier refused");
	/* replay: the step already used, or an earlier one */
	CHECK(ssm_totp_verify(rfc_key, 20, "050471", 1111111111, 37037037, &step) == 0,
	      "replay of the same step refused");
	CHECK(ssm_totp_verify(rfc_key, 20, "081804", 1111111111, 37037037, &step) == 0,
	      "an earlier step after a later one refused");
	CHECK(ssm_totp_verify(rfc_key, 20, "050471", 1111111111, 37037036, &step) == 1,
	      "the next step after the used one accepted");
	/* malformed codes */
	{
		static const char *bad[] = { "", "05047", "0504710", "05047a", " 50471", "050471 ",
					     "+50471", "-50471", "００００００" };
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			CHECK(ssm_totp_verify(rfc_key, 20, bad[i], 1111111111, 0, &step) == 0,
			      "bad code %zu accepted", i);
		CHECK(ssm_totp_verify(rfc_key, 20, NULL, 1111111111, 0, &step) == 0, "NULL code");
		CHECK(ssm_totp_verify(rfc_key, 20, "123456", 1111111111, 0, &step) == 0,
		      "wrong code");
	}

	/* base32 */
	for (i = 0; i < sizeof(b32) / sizeof(b32[0]); i++) {
		size_t l = strlen(b32[i].raw);
		CHECK(ssm_base32_encode((const unsigned char *)b32[i].raw, l, enc, sizeof(enc)) ==
				      strlen(b32[i].enc) &&
			      strcmp(enc, b32[i].enc) == 0,
		      "encode %s: %s", b32[i].raw, enc);
		n = ssm_base32_decode(b32[i].enc, dec, sizeof(dec));
		CHECK(n == (long)l && memcmp(dec, b32[i].raw, l) == 0, "decode %s", b32[i].enc);
	}
	n = ssm_base32_decode("mzxw6ytboi", dec, sizeof(dec));
	CHECK(n == 6 && memcmp(dec, "foobar", 6) == 0, "lower case");
	n = ssm_base32_decode("MZXW6YQ=", dec, sizeof(dec));
	CHECK(n == 4 && memcmp(dec, "foob", 4) == 0, "padded");
	for (i = 0; i < sizeof(bad_b32) / sizeof(bad_b32[0]); i++)
		CHECK(ssm_base32_decode(bad_b32[i], dec, sizeof(dec)) == -EINVAL, "bad base32 %s",
		      bad_b32[i]);
	CHECK(ssm_base32_decode("MY", dec, sizeof(dec)) == 1 && dec[0] == 'f', "MY is f");
	CHECK(ssm_base32_decode("MB", dec, sizeof(dec)) == -EINVAL, "non-zero trailing bits");
	CHECK(ssm_base32_decode("MZXW6YTBOI", dec, 5) == -E2BIG, "output too small");
	/* round trip of a 20-byte secret: 32 characters */
	{
		unsigned char s[20];
		for (i = 0; i < 20; i++)
			s[i] = (unsigned char)(i * 37 + 11);
		CHECK(ssm_base32_encode(s, 20, enc, sizeof(enc)) == 32, "20 bytes: 32 chars");
		CHECK(ssm_base32_decode(enc, dec, sizeof(dec)) == 20 && memcmp(dec, s, 20) == 0,
		      "round trip");
		CHECK(ssm_base32_encode(s, 20, enc, 10) == 9, "truncated to the buffer");
	}
	return check_done("test_totp");
}
