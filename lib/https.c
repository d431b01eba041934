/* https.c - one HTTP/1.1 request over TLS (see https.h). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "https.h"
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)

/* " (reason)" of OpenSSL's first queued error, or "" */
static void ssl_reason(char *out, size_t size)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	out[0] = '\0';
	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(out, size, " (%s)", buf);
	}
	ERR_clear_error();
}

int ssm_https_parse_answer(const char *buf, size_t len, int *pstatus, char **pbody, char *err,
                           size_t errlen)
{
	const char *p, *end = buf + len;
	size_t blen;

	*pstatus = 0;
	*pbody = NULL;
	/* HTTP/1.1 NNN ...\r\n headers \r\n\r\n body (Connection: close: the body is the rest) */
	if (len < 13 || memcmp(buf, "HTTP/1.1 ", 9) != 0 || buf[9] < '1' || buf[9] > '5' ||
	    buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9' ||
	    (buf[12] != ' ' && buf[12] != '\r')) {
		ERR("the broker's answer is not HTTP/1.1");
		return -EINVAL;
	}
	for (p = buf; p + 4 <= end && memcmp(p, "\r\n\r\n", 4) != 0; p++)
		;
	if (p + 4 > end || memchr(buf, '\0', (size_t)(p - buf)) != NULL) {
		ERR("the broker's answer is not HTTP/1.1");
		return -EINVAL;
	}
	p += 4;
	blen = (size_t)(end - p);
	if (memchr(p, '\0', blen) != NULL) {
		ERR("the broker's answer holds a NUL byte");
		return -EINVAL;
	}
	if ((*pbody = malloc(blen + 1)) == NULL) {
		ERR("out of memory");
		return -ENOMEM;
	}
	memcpy(*pbody, p, blen);
	(*pbody)[blen] = '\0';
	*pstatus = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	return 0;
}

int ssm_https_request(const struct ssm_https_req *req, int *pstatus, char **pbody, char *err,
                      size_t errlen)
{
	static const unsigned char alpn[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
	char target[300], hdr[1024], why[300], *buf = NULL;
	SSL_CTX *ctx = NULL;
	BIO *bio = NULL;
	SSL *ssl = NULL;
	size_t len = 0, blen = req->body ? strlen(req->body) : 0;
	int r = -EIO, n, fd;
	struct timeval tv = { req->timeout_s, 0 };
	long verify;

	*pbody = NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto ssl_fail;
	if (SSL_CTX_load_verify_file(ctx, req->ca_file) != 1) {
		ERR("%s: not a PEM CA certificate", req->ca_file);
		ERR_clear_error();
		r = -EINVAL;
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	snprintf(target, sizeof(target), strchr(req->host, ':') ? "[%s]:%d" : "%s:%d",
	         req->host, req->port);
	bio = BIO_new_ssl_connect(ctx);
	if (bio == NULL)
		goto ssl_fail;
	BIO_get_ssl(bio, &ssl);
	BIO_set_conn_hostname(bio, target);
	/* the broker's name: an IP SAN for an address, a DNS SAN otherwise; SNI for names */
	if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), req->host)) {
		if (!X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), req->host, 0))
			goto ssl_fail;
		SSL_set_tlsext_host_name(ssl, req->host);
	}
	SSL_set_alpn_protos(ssl, alpn, sizeof(alpn));
	if (BIO_do_connect(bio) != 1) {
		verify = SSL_get_verify_result(ssl);
		ssl_reason(why, sizeof(why));
		if (verify != X509_V_OK)
			ERR("the broker's certificate is refused: %s (not issued for %s by the CA "
			    "in %s)", X509_verify_cert_error_string(verify), req->host, req->ca_file);
		else
			ERR("cannot connect to %s%s", target, why);
		goto out;
	}
	fd = (int)BIO_get_fd(bio, NULL);
	if (fd >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (req->body != NULL)
		n = snprintf(hdr, sizeof(hdr),
		             "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s/%s\r\n"
		             "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		             "%s%s%sConnection: close\r\n\r\n",
		             req->path, target, req->agent, PACKAGE_VERSION, blen,
		             req->bearer ? "Authorization: Bearer " : "",
		             req->bearer ? req->bearer : "", req->bearer ? "\r\n" : "");
	else
		n = snprintf(hdr, sizeof(hdr),
		             "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s/%s\r\n"
		             "%s%s%sConnection: close\r\n\r\n",
		             req->path, target, req->agent, PACKAGE_VERSION,
		             req->bearer ? "Authorization: Bearer " : "",
		             req->bearer ? req->bearer : "", req->bearer ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(hdr) || BIO_write(bio, hdr, n) != n ||
	    (blen > 0 && BIO_write(bio, req->body, (int)blen) != (int)blen) || BIO_flush(bio) != 1) {
		OPENSSL_cleanse(hdr, sizeof(hdr)); /* it may hold the credential */
		goto ssl_fail;
	}
	OPENSSL_cleanse(hdr, sizeof(hdr));
	buf = malloc(req->max_answer + 1);
	if (buf == NULL) {
		ERR("out of memory");
		goto out;
	}
	for (;;) {
		int got;

		if (len == req->max_answer) {
			ERR("the broker's answer is larger than %zu bytes", req->max_answer);
			goto out;
		}
		got = BIO_read(bio, buf + len,
		               (int)(req->max_answer - len > 65536 ? 65536 : req->max_answer - len));
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	if (ssm_https_parse_answer(buf, len, pstatus, pbody, err, errlen) == 0)
		r = 0;
	goto out;
ssl_fail:
	ssl_reason(why, sizeof(why));
	ERR("TLS setup failed%s", why);
out:
	free(buf);
	BIO_free_all(bio);
	SSL_CTX_free(ctx);
	return r;
}
