/* imds.h - the EC2 instance metadata service, IMDSv2 (ssmctl register --ec2): a session
 * token (PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds), then the
 * instance identity document and its PKCS7 signature (GET
 * /latest/dynamic/instance-identity/document and .../pkcs7 or .../rsa2048 with
 * X-aws-ec2-metadata-token).  Plain HTTP/1.1 to a link-local address, as AWS serves it;
 * every answer bounded in size and time. */
#ifndef SSMCTL_IMDS_H
#define SSMCTL_IMDS_H
#include <stddef.h>

#define SSMCTL_IMDS_DEFAULT "http://169.254.169.254"
#define SSMCTL_IMDS_TIMEOUT_MS 5000 /* each request, connect to last byte */
#define SSMCTL_IMDS_TOKEN_MAX 1024
#define SSMCTL_IMDS_TOKEN_TTL 300   /* seconds: registration needs a few */

/* base: http://ADDRESS[:PORT] (an IPv4 or bracketed IPv6 literal, no path).  sig: "pkcs7"
 * or "rsa2048".  0 with *pdoc and *psig (malloc'ed, NUL-terminated, their sizes within
 * SSM_EC2ID_DOC_MAX and SSM_EC2ID_SIG_MAX); -EINVAL a bad base URL; -EIO with err one line:
 * no IMDS (connection refused, unreachable), a timeout, IMDSv2 token refused, an answer
 * that is not HTTP, too large, or not 200. */
/* One HTTP/1 answer as read from a connection the server closed: buf[0..len) (untrusted
 * bytes, from whoever answers on the metadata service's address).  0 with *pstatus (100 to
 * 599) and the body at buf[*pbody .. *pbody + *pbodylen), at most max bytes; -EINVAL with
 * err one line.  Strict: "HTTP/1.0" or "HTTP/1.1", a three-digit status; header lines
 * NAME: VALUE ending in CRLF (no bare CR or LF, no control byte, no folding), the section at
 * most SSMCTL_IMDS_HEADER_MAX bytes with its CRLF CRLF; no Transfer-Encoding; at most one
 * Content-Length, digits only, equal to the body's length; no NUL anywhere. */
#define SSMCTL_IMDS_HEADER_MAX 8192
int ssmctl_imds_answer_parse(const char *buf, size_t len, size_t max, int *pstatus,
			     size_t *pbody, size_t *pbodylen, char *err, size_t errlen);

int ssmctl_imds_identity(const char *base, const char *sig, char **pdoc, char **psig,
			 char *err, size_t errlen);

#endif
