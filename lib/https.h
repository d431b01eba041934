/* https.h - one HTTP/1.1 request over TLS to the broker, for ssmctl register and the ssm
 * client: OpenSSL only, trusting nothing but the CA file given, the broker's name (an IP
 * SAN for an address, a DNS SAN and SNI for a name) checked, a bounded answer. */
#ifndef SSM_HTTPS_H
#define SSM_HTTPS_H
#include <stddef.h>

struct ssm_https_req {
	const char *host;     /* name or address, no brackets */
	int port;
	const char *ca_file;  /* PEM: the only trust anchor */
	const char *path;     /* "/v1/register" */
	const char *bearer;   /* "Authorization: Bearer ..." when not NULL */
	const char *body;     /* POST application/json when not NULL, else GET */
	const char *agent;    /* User-Agent product, e.g. "ssm" */
	size_t max_answer;    /* the most bytes of the answer read */
	int timeout_s;        /* each read and write */
};

/* 0: *pstatus the HTTP status, *pbody the answer's body (malloc'ed); -EINVAL: the CA file is
 * not usable; -EIO: no answer (the broker's certificate refused, no connection, TLS, a
 * malformed or too large answer); err says which in one line (with OpenSSL's reason). */
int ssm_https_request(const struct ssm_https_req *req, int *pstatus, char **pbody, char *err,
                      size_t errlen);

/* The answer as read (len bytes, Connection: close): "HTTP/1.1 NNN reason\r\n", headers,
 * "\r\n\r\n", the body (the rest).  0 with *pstatus (100..599) and *pbody (malloc'ed, no
 * NUL inside: a body with one is refused); -EINVAL (err says why), -ENOMEM. */
int ssm_https_parse_answer(const char *buf, size_t len, int *pstatus, char **pbody, char *err,
                           size_t errlen);

#endif
