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
int ssmctl_imds_identity(const char *base, const char *sig, char **pdoc, char **psig,
			 char *err, size_t errlen);

#endif
