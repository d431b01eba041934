/* imds.c - the EC2 instance metadata service client, see imds.h.  One connection per
 * request ("Connection: close"), non-blocking with poll on a monotonic deadline. */
#include "imds.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include "ec2id.h"
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)

struct target {
	struct sockaddr_storage sa;
	socklen_t salen;
	char name[80]; /* for messages: the base URL */
};

static int parse_base(const char *base, struct target *t)
{
	char host[64];
	const char *p, *end;
	long port = 80;
	size_t n;

	memset(t, 0, sizeof(*t));
	if (base == NULL || strncmp(base, "http://", 7) != 0 || strlen(base) >= sizeof(t->name))
		return -EINVAL;
	snprintf(t->name, sizeof(t->name), "%s", base);
	n = strlen(t->name);
	if (n > 7 && t->name[n - 1] == '/')
		t->name[n - 1] = '\0';
	p = base + 7;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL || (n = (size_t)(end - p - 1)) == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, p + 1, n);
		end++;
	} else {
		end = p + strcspn(p, ":/");
		if ((n = (size_t)(end - p)) == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, p, n);
	}
	host[n] = '\0';
	if (*end == ':') {
		char *e;
		if (end[1] < '0' || end[1] > '9')
			return -EINVAL;
		port = strtol(end + 1, &e, 10);
		if (port < 1 || port > 65535)
			return -EINVAL;
		end = e;
	}
	if (*end == '/')
		end++;
	if (*end != '\0')
		return -EINVAL;
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t->sa;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->sa;
		if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)port);
			t->salen = sizeof(*s4);
		} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)port);
			t->salen = sizeof(*s6);
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

/* wait for ev on fd until deadline (monotonic ms): 1 ready, 0 timeout, -errno */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd pfd = { fd, ev, 0 };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - ssm_mono_ms();
		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* RFC 9110 token characters (a header field's name) */
static int tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* a field value's or a reason phrase's byte: HTAB, SP, VCHAR, obs-text; never CR, LF, NUL */
static int vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* the first CRLF at or after from, before end; end if none */
static size_t crlf(const char *buf, size_t from, size_t end)
{
	size_t i;

	for (i = from; i + 1 < end; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n')
			return i;
	return end;
}

int ssmctl_imds_answer_parse(const char *buf, size_t len, size_t max, int *pstatus,
			     size_t *pbody, size_t *pbodylen, char *err, size_t errlen)
{
	size_t i, eol, hend = len, cl = 0, blen, lim;
	int status, have_cl = 0;

	if (memchr(buf, '\0', len) != NULL) {
		ERR("a NUL byte");
		return -EINVAL;
	}
	/* the header section: up to the first CRLF CRLF, at most SSMCTL_IMDS_HEADER_MAX bytes
	 * with it (no line of it holds a bare CR or LF: checked below) */
	lim = len < SSMCTL_IMDS_HEADER_MAX ? len : SSMCTL_IMDS_HEADER_MAX;
	for (i = 0; i + 4 <= lim; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			hend = i;
			break;
		}
	if (hend == len) {
		if (len >= SSMCTL_IMDS_HEADER_MAX)
			ERR("a header section larger than %d bytes", SSMCTL_IMDS_HEADER_MAX);
		else
			ERR("no end of the header section");
		return -EINVAL;
	}
	/* HTTP/1.0 or HTTP/1.1, SP, three digits, then SP and a reason phrase, or the end */
	eol = crlf(buf, 0, hend + 2);
	if (eol < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
	    buf[8] != ' ' || !is_digit(buf[9]) || !is_digit(buf[10]) || !is_digit(buf[11]) ||
	    (eol > 12 && buf[12] != ' ')) {
		ERR("not an HTTP/1 status line");
		return -EINVAL;
	}
	for (i = 13; i < eol; i++)
		if (!vchar((unsigned char)buf[i])) {
			ERR("not an HTTP/1 status line (byte 0x%02x)", (unsigned char)buf[i]);
			return -EINVAL;
		}
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (status < 100 || status > 599) {
		ERR("status %.3s", buf + 9);
		return -EINVAL;
	}
	/* header lines: NAME ":" OWS VALUE OWS CRLF; no folding (a line starting with white
	 * space), no chunked or other transfer coding, one Content-Length of digits */
	for (i = eol + 2; i < hend + 2; i = eol + 2) {
		size_t n = i, v, ve;
		eol = crlf(buf, i, hend + 2);
		while (n < eol && tchar((unsigned char)buf[n]))
			n++;
		if (n == i || n == eol || buf[n] != ':') {
			ERR("a bad header line");
			return -EINVAL;
		}
		for (v = n + 1; v < eol; v++)
			if (!vchar((unsigned char)buf[v])) {
				ERR("a bad header line (byte 0x%02x)", (unsigned char)buf[v]);
				return -EINVAL;
			}
		for (v = n + 1; v < eol && (buf[v] == ' ' || buf[v] == '\t'); v++)
			;
		for (ve = eol; ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'); ve--)
			;
		if (n - i == 17 && strncasecmp(buf + i, "Transfer-Encoding", 17) == 0) {
			ERR("a Transfer-Encoding (chunked?) is not taken");
			return -EINVAL;
		}
		if (n - i == 14 && strncasecmp(buf + i, "Content-Length", 14) == 0) {
			if (have_cl) {
				ERR("two Content-Length fields");
				return -EINVAL;
			}
			have_cl = 1;
			if (v == ve) {
				ERR("an empty Content-Length");
				return -EINVAL;
			}
			for (; v < ve; v++) {
				if (!is_digit(buf[v]) || cl > (SIZE_MAX - 9) / 10) {
					ERR("a bad Content-Length");
					return -EINVAL;
				}
				cl = cl * 10 + (size_t)(buf[v] - '0');
			}
		}
	}
	blen = len - (hend + 4);
	if (have_cl && cl != blen) {
		ERR("%zu bytes of body, Content-Length %zu", blen, cl);
		return -EINVAL;
	}
	if (blen > max) {
		ERR("a body larger than %zu bytes", max);
		return -EINVAL;
	}
	*pstatus = status;
	*pbody = hend + 4;
	*pbodylen = blen;
	return 0;
}

/* One request; *pbody the answer's body (at most max bytes), *pstatus the HTTP status. */
static int request(const struct target *t, const char *method, const char *path,
		   const char *header, size_t max, int *pstatus, char **pbody, char *err,
		   size_t errlen)
{
	char req[2048], *buf = NULL, why[128];
	size_t cap = SSMCTL_IMDS_HEADER_MAX + max + 1, len = 0, sent = 0, rlen, blen, boff;
	int64_t deadline = ssm_mono_ms() + SSMCTL_IMDS_TIMEOUT_MS;
	int fd = -1, r = -EIO, n, soerr = 0, status;
	socklen_t sl = sizeof(soerr);

	*pbody = NULL;
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ssmctl\r\n%s%sContent-Length: 0\r\n"
		     "Connection: close\r\n\r\n",
		     method, path, t->name + 7, header ? header : "", header ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		ERR("instance metadata request too long");
		return -EINVAL;
	}
	rlen = (size_t)n;
	fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ERR("no instance metadata service: socket: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, (const struct sockaddr *)&t->sa, t->salen) != 0) {
		if (errno != EINPROGRESS) {
			ERR("no instance metadata service at %s: %s", t->name, strerror(errno));
			goto out;
		}
		n = wait_fd(fd, POLLOUT, deadline);
		if (n == 0) {
			ERR("no instance metadata service at %s: connect timed out after %d ms",
			    t->name, SSMCTL_IMDS_TIMEOUT_MS);
			goto out;
		}
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			ERR("no instance metadata service at %s: %s", t->name,
			    strerror(soerr ? soerr : n < 0 ? -n : errno));
			goto out;
		}
	}
	while (sent < rlen) {
		ssize_t w = send(fd, req + sent, rlen - sent, MSG_NOSIGNAL);
		if (w > 0) {
			sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			ERR("instance metadata service at %s: send: %s", t->name, strerror(errno));
			goto out;
		}
		if (wait_fd(fd, POLLOUT, deadline) <= 0) {
			ERR("instance metadata service at %s: timed out", t->name);
			goto out;
		}
	}
	buf = malloc(cap + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		ERR("out of memory");
		goto out;
	}
	for (;;) {
		ssize_t got;
		if (len >= cap) {
			ERR("instance metadata service at %s: answer to %s larger than %zu bytes",
			    t->name, path, cap);
			goto out;
		}
		got = recv(fd, buf + len, cap - len, 0);
		if (got > 0) {
			len += (size_t)got;
			continue;
		}
		if (got == 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			ERR("instance metadata service at %s: %s", t->name, strerror(errno));
			goto out;
		}
		n = wait_fd(fd, POLLIN, deadline);
		if (n <= 0) {
			ERR("instance metadata service at %s: no answer to %s within %d ms", t->name,
			    path, SSMCTL_IMDS_TIMEOUT_MS);
			goto out;
		}
	}
	buf[len] = '\0';
	if (ssmctl_imds_answer_parse(buf, len, max, &status, &boff, &blen, why, sizeof(why)) < 0) {
		ERR("instance metadata service at %s: a bad answer to %s (%s)", t->name, path, why);
		goto out;
	}
	memmove(buf, buf + boff, blen);
	buf[blen] = '\0';
	*pbody = buf;
	*pstatus = status;
	buf = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

static int token_char(int c)
{
	return c > 0x20 && c < 0x7f;
}

int ssmctl_imds_identity(const char *base, const char *sig, char **pdoc, char **psig,
			 char *err, size_t errlen)
{
	struct target t;
	char hdr[SSMCTL_IMDS_TOKEN_MAX + 64], path[128], *token = NULL, *doc = NULL, *s = NULL;
	int status = 0, r;

	*pdoc = *psig = NULL;
	if (parse_base(base, &t) < 0 || (strcmp(sig, "pkcs7") != 0 && strcmp(sig, "rsa2048") != 0)) {
		ERR("bad instance metadata URL %.100s (http://ADDRESS[:PORT])", base ? base : "");
		return -EINVAL;
	}
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token-ttl-seconds: %d",
		 SSMCTL_IMDS_TOKEN_TTL);
	if ((r = request(&t, "PUT", "/latest/api/token", hdr, SSMCTL_IMDS_TOKEN_MAX, &status,
			 &token, err, errlen)) < 0)
		goto out;
	r = -EIO;
	if (status != 200) {
		ERR("the instance metadata service at %s refused an IMDSv2 session token (HTTP %d)",
		    t.name, status);
		goto out;
	}
	if (!ssm_str_charset(token, 1, SSMCTL_IMDS_TOKEN_MAX, token_char)) {
		ERR("the instance metadata service at %s: a bad IMDSv2 token", t.name);
		goto out;
	}
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", token);
	if ((r = request(&t, "GET", "/latest/dynamic/instance-identity/document", hdr,
			 SSM_EC2ID_DOC_MAX, &status, &doc, err, errlen)) < 0)
		goto out;
	r = -EIO;
	if (status != 200) {
		ERR("the instance metadata service at %s: HTTP %d for the identity document%s",
		    t.name, status, status == 401 ? " (IMDSv2 token refused)" : "");
		goto out;
	}
	snprintf(path, sizeof(path), "/latest/dynamic/instance-identity/%s", sig);
	if ((r = request(&t, "GET", path, hdr, SSM_EC2ID_SIG_MAX, &status, &s, err, errlen)) < 0)
		goto out;
	r = -EIO;
	if (status != 200) {
		ERR("the instance metadata service at %s: HTTP %d for the %s signature%s", t.name,
		    status, sig, status == 401 ? " (IMDSv2 token refused)" : "");
		goto out;
	}
	*pdoc = doc;
	*psig = s;
	doc = s = NULL;
	r = 0;
out:
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	explicit_bzero(hdr, sizeof(hdr));
	free(doc);
	free(s);
	return r;
}
