/* totp.h - RFC 6238 time-based one-time passwords (HMAC-SHA1 through OpenSSL, 30-second
 * steps) and the RFC 4648 base32 the authenticator apps exchange secrets in.
 * The broker keeps the last step a user's code was accepted for, so that the same code
 * (or an earlier one) is never accepted twice. */
#ifndef SSM_TOTP_H
#define SSM_TOTP_H
#include <stddef.h>
#include <stdint.h>

#define SSM_TOTP_STEP 30          /* seconds */
#define SSM_TOTP_DIGITS 6
#define SSM_TOTP_WINDOW 1         /* steps accepted either side of now */
#define SSM_TOTP_SECRET_BYTES 20  /* 160 bits, RFC 4226's recommendation */

/* The code for the step that contains unix time t: digits 6..8; out holds digits + 1.
 * 0, or -EINVAL (bad digits, t < 0, an empty key), -EIO (HMAC failed). */
int ssm_totp_code(const unsigned char *key, size_t keylen, int64_t t, int digits, char *out);

/* Check a 6-digit code against the steps now-1..now+1 whose number is above last_step
 * (0: none used yet).  1 and *pstep = the step matched; 0 not accepted (wrong, malformed
 * or a replay); -EIO on an HMAC failure.  The comparison does not stop at the first
 * differing digit. */
int ssm_totp_verify(const unsigned char *key, size_t keylen, const char *code, int64_t now,
		    int64_t last_step, int64_t *pstep);

/* RFC 4648 base32, upper case, without padding.  out holds ceil(len * 8 / 5) + 1 bytes. */
size_t ssm_base32_encode(const unsigned char *in, size_t len, char *out, size_t outlen);
/* Decode base32 (upper or lower case, '=' padding at the end allowed, nothing else).
 * The number of bytes, or -EINVAL (a bad character or length), -E2BIG (out too small). */
long ssm_base32_decode(const char *in, unsigned char *out, size_t outlen);

#endif
