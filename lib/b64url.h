/* b64url.h - strict base64url (RFC 7515 section 2): URL-safe alphabet, no padding,
 * no white space, no length = 1 mod 4, no non-zero unused bits in the last character. */
#ifndef SSM_B64URL_H
#define SSM_B64URL_H
#include <stddef.h>

/* Decode exactly inlen characters.  *pout is malloc'ed and NUL-terminated (not counted
 * in *poutlen).  0, -EINVAL (not strict base64url), -ENOMEM. */
int ssm_b64url_decode(const char *in, size_t inlen, unsigned char **pout, size_t *poutlen);

/* Encode; *pout is malloc'ed and NUL-terminated.  0 or -ENOMEM. */
int ssm_b64url_encode(const unsigned char *in, size_t inlen, char **pout);

#endif
