/* test_wsclient.c - the dialers' own websocket client (lib/wsclient.c) against RFC 6455 and
 * lib/wsclient.h: the key and its accept (the RFC's section 1.3 example), the upgrade
 * request (its exact bytes, Host with and without the port, IPv6 brackets, the bearer, and
 * the refusal of a field that could end a header line), the server's answer (accepted with
 * its exact header length, undecided on every proper prefix, refused with a reason for each
 * way RFC 6455 4.1 says a client must fail), the server's frames (built here by hand: every
 * length encoding, fragments around a ping, every split of the bytes, and a refusal with a
 * latch for each thing a server may not send), and the close frame's code and reason.
 *
 * Every buffer the library writes into or reads from is malloc'd to its exact size, so that
 * a byte past its end is seen by the ASan build. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "check.h"
#include "wsclient.h"

/* Table rows name only the fields they set; the rest are 0 by the language's rule. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S(x) x, sizeof(x) - 1
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="     /* RFC 6455 section 1.3 */
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* ... and its answer there */
#define KEY2 "x3JJHMbDL1EzLkh9GBhXDw=="
#define ACCEPT2 "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
#define PROTO "ssmsession.1"

/* ---- helpers ---- */

static uint8_t *dup_exact(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	if (q == NULL)
		exit(99);
	if (n)
		memcpy(q, p, n);
	return q;
}

static const void *find(const void *hay, size_t hn, const char *needle)
{
	size_t nn = strlen(needle), i;
	const uint8_t *h = hay;

	for (i = 0; i + nn <= hn; i++)
		if (memcmp(h + i, needle, nn) == 0)
			return h + i;
	return NULL;
}

/* an independent strict base64 decoder: the decoded length, or -1 */
static int b64dec(const char *s, uint8_t *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), i;
	int o = 0;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		unsigned v = 0, j, pad = 0;

		for (j = 0; j < 4; j++) {
			const char *c = s[i + j] ? strchr(al, s[i + j]) : NULL;

			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				pad++;
				v <<= 6;
				continue;
			}
			if (c == NULL || pad)
				return -1;
			v = v << 6 | (unsigned)(c - al);
		}
		out[o++] = (uint8_t)(v >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)v;
	}
	return o;
}

/* err after a refusal: said, one line of printable text, inside its buffer */
static int err_ok(const char *err, size_t errlen)
{
	size_t i, n = strnlen(err, errlen);

	if (n == 0 || n >= errlen)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
			return 0;
	return 1;
}

static unsigned first_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return (unsigned char)*s;
	return 0;
}

/* ---- key and accept ---- */

static void test_key_accept(void)
{
	char a[SSM_WS_ACCEPT_LEN + 1], k[2][SSM_WS_KEY_LEN + 1];
	uint8_t raw[64];
	int i;

	memset(a, 'x', sizeof(a));
	CHECK(ssm_ws_accept_of(KEY, a) == 0 && strcmp(a, ACCEPT) == 0,
	      "RFC 6455 1.3: the accept of " KEY " is " ACCEPT " (got %.29s)", a);
	memset(a, 'x', sizeof(a));
	CHECK(ssm_ws_accept_of(KEY2, a) == 0 && strcmp(a, ACCEPT2) == 0,
	      "the accept of " KEY2 " is " ACCEPT2 " (got %.29s)", a);
	for (i = 0; i < 2; i++) {
		memset(k[i], 'x', sizeof(k[i]));
		CHECK(ssm_ws_key_new(k[i]) == 0, "ssm_ws_key_new succeeds");
		CHECK(k[i][SSM_WS_KEY_LEN] == '\0' && strlen(k[i]) == SSM_WS_KEY_LEN,
		      "a key is %d characters, NUL-terminated", SSM_WS_KEY_LEN);
		CHECK(b64dec(k[i], raw) == 16, "a key is base64 of 16 bytes (%.25s)", k[i]);
		memset(a, 'x', sizeof(a));
		CHECK(ssm_ws_accept_of(k[i], a) == 0 && strlen(a) == SSM_WS_ACCEPT_LEN &&
			      b64dec(a, raw) == 20,
		      "the accept of a new key is base64 of a SHA-1 digest");
	}
	CHECK(strcmp(k[0], k[1]) != 0, "two keys differ (%s, %s)", k[0], k[1]);
}

/* ---- the upgrade request ---- */

/* the header lines a request must hold, in any order; Upgrade's and Connection's values are
 * tokens (case does not matter), the others exact */
struct want_hdr {
	const char *name, *value;
	int nocase;
};

static int request_lines(const char *buf, size_t n, const char *reqline,
			 const struct want_hdr *w, size_t nw, int *seen, char *why, size_t whylen);

static int request_is(const char *req, size_t n, const char *reqline,
		      const struct want_hdr *w, size_t nw, char *why, size_t whylen)
{
	int seen[16] = {0}, ok;
	char *buf;

	if (n < 4 || memcmp(req + n - 4, "\r\n\r\n", 4) != 0 || memchr(req, 0, n) != NULL)
		return snprintf(why, whylen, "not one NUL-free block ending in a blank line"), 0;
	buf = malloc(n + 1);
	if (buf == NULL)
		exit(99);
	memcpy(buf, req, n);
	buf[n] = '\0';
	ok = request_lines(buf, n, reqline, w, nw, seen, why, whylen);
	free(buf);
	return ok;
}

static int request_lines(const char *buf, size_t n, const char *reqline,
			 const struct want_hdr *w, size_t nw, int *seen, char *why, size_t whylen)
{
	size_t pos, i, k;
	const char *eol;

	for (i = 0; i < n; i++)
		if (((unsigned char)buf[i] < 0x20 && buf[i] != '\r' && buf[i] != '\n') ||
		    (buf[i] == '\r' && buf[i + 1] != '\n') ||
		    (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) ||
		    (unsigned char)buf[i] > 0x7e)
			return snprintf(why, whylen, "a stray control byte at %zu", i), 0;
	eol = strstr(buf, "\r\n");
	if ((size_t)(eol - buf) != strlen(reqline) || memcmp(buf, reqline, strlen(reqline)) != 0)
		return snprintf(why, whylen, "request line %.*s", (int)(eol - buf), buf), 0;
	for (pos = (size_t)(eol - buf) + 2; pos < n - 2; pos = (size_t)(eol - buf) + 2) {
		const char *line = buf + pos, *colon;
		size_t ll;

		eol = strstr(line, "\r\n");
		ll = (size_t)(eol - line);
		colon = memchr(line, ':', ll);
		if (colon == NULL)
			return snprintf(why, whylen, "line %.*s", (int)ll, line), 0;
		for (k = 0; k < nw; k++)
			if (strlen(w[k].name) == (size_t)(colon - line) &&
			    strncasecmp(line, w[k].name, strlen(w[k].name)) == 0)
				break;
		if (k == nw || seen[k]++)
			return snprintf(why, whylen, "unexpected or repeated %.*s", (int)ll, line), 0;
		if (colon[1] != ' ' || (size_t)(eol - colon - 2) != strlen(w[k].value) ||
		    (w[k].nocase ? strncasecmp(colon + 2, w[k].value, strlen(w[k].value))
				 : strncmp(colon + 2, w[k].value, strlen(w[k].value))) != 0)
			return snprintf(why, whylen, "value of %.*s", (int)ll, line), 0;
	}
	for (k = 0; k < nw; k++)
		if (!seen[k])
			return snprintf(why, whylen, "no %s", w[k].name), 0;
	return 1;
}

static size_t request(char **out, size_t cap, const char *host, int port, const char *path,
		      const char *proto, const char *key, const char *bearer)
{
	size_t n;

	*out = malloc(cap ? cap : 1);
	if (*out == NULL)
		exit(99);
	memset(*out, 'Z', cap ? cap : 1);
	n = ssm_ws_request(*out, cap, host, port, path, proto, key, bearer);
	return n;
}

static void test_request(void)
{
	static const char golden[] = "GET /v1/agent HTTP/1.1\r\n"
				     "Host: broker.example.com\r\n"
				     "Upgrade: websocket\r\n"
				     "Connection: Upgrade\r\n"
				     "Sec-WebSocket-Key: " KEY "\r\n"
				     "Sec-WebSocket-Version: 13\r\n"
				     "Sec-WebSocket-Protocol: " PROTO "\r\n"
				     "\r\n";
	static const struct {
		int line;
		const char *host;
		int port;
		const char *path, *bearer, *hostval;
	} rows[] = {
		{__LINE__, "broker.example.com", 443, "/v1/agent", NULL, "broker.example.com"},
		{__LINE__, "broker.example.com", 8443, "/v1/agent", NULL, "broker.example.com:8443"},
		{__LINE__, "broker.example.com", 80, "/", NULL, "broker.example.com:80"},
		{__LINE__, "10.0.0.1", 443, "/v1/client?x=1", "tok.en-_~+/=", "10.0.0.1"},
		{__LINE__, "::1", 443, "/v1/client", "eyJ.eyJ.sig", "[::1]"},
		{__LINE__, "::1", 8443, "/v1/client", NULL, "[::1]:8443"},
		{__LINE__, "fe80::1:2", 65535, "/a/b", "B", "[fe80::1:2]:65535"},
	};
	/* a field that could end a header line or start another is refused */
	static const char *const bad[] = {"a\rb", "a\nb", "a\r\nX-Evil: 1", "a\x01", "\x1f",
					  "a\x7f", "a\tb", "\x1b[2J"};
	char why[200];
	char *buf;
	size_t n, i, k, m, full;

	/* the golden request, byte for byte; the library writes a NUL after it */
	n = request(&buf, 4096, "broker.example.com", 443, "/v1/agent", PROTO, KEY, NULL);
	CHECK(n == sizeof(golden) - 1 && memcmp(buf, golden, n) == 0,
	      "the simple request is byte for byte:\n%s\ngot %zu bytes:\n%.*s", golden, n,
	      (int)(n < 4096 ? n : 0), buf);
	free(buf);
	n = request(&buf, 4096, "broker.example.com", 443, "/v1/agent", PROTO, KEY, "T0k3n");
	CHECK(n == sizeof(golden) - 1 + strlen("Authorization: Bearer T0k3n\r\n") &&
		      memcmp(buf, golden, sizeof(golden) - 3) == 0 &&
		      memcmp(buf + sizeof(golden) - 3, "Authorization: Bearer T0k3n\r\n\r\n",
			     strlen("Authorization: Bearer T0k3n\r\n\r\n")) == 0,
	      "with a bearer: the same request and one more line:\n%.*s", (int)n, buf);
	free(buf);

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char reqline[200];
		struct want_hdr w[8] = {
			{"Host", rows[i].hostval},
			{"Upgrade", "websocket", 1},
			{"Connection", "Upgrade", 1},
			{"Sec-WebSocket-Key", KEY2},
			{"Sec-WebSocket-Version", "13"},
			{"Sec-WebSocket-Protocol", PROTO},
			{"Authorization", NULL},
		};
		char auth[100];
		size_t nw = 6;

		if (rows[i].bearer != NULL) {
			snprintf(auth, sizeof(auth), "Bearer %s", rows[i].bearer);
			w[nw++].value = auth;
		}
		snprintf(reqline, sizeof(reqline), "GET %s HTTP/1.1", rows[i].path);
		n = request(&buf, 4096, rows[i].host, rows[i].port, rows[i].path, PROTO, KEY2,
			    rows[i].bearer);
		why[0] = '\0';
		CHECK_ROW(rows[i].line, n > 0 && n < 4096 && request_is(buf, n, reqline, w, nw, why,
								      sizeof(why)),
			  "%s port %d: Host %s%s: %s\n%.*s", rows[i].host, rows[i].port,
			  rows[i].hostval, rows[i].bearer ? ", a bearer" : "", why,
			  (int)(n < 4096 ? n : 0), buf);
		free(buf);
		/* the smallest buffer it fits in (the NUL after it or not), and one byte less
		 * (each buffer malloc'd to its size: a byte written past it is seen by ASan) */
		full = n;
		for (m = full; m <= full + 1; m++) {
			n = request(&buf, m, rows[i].host, rows[i].port, rows[i].path, PROTO, KEY2,
				    rows[i].bearer);
			free(buf);
			if (n > 0)
				break;
		}
		CHECK_ROW(rows[i].line, full > 0 && n == full && m <= full + 1,
			  "fits in a buffer of its length or its length plus the NUL");
		n = request(&buf, m - 1, rows[i].host, rows[i].port, rows[i].path, PROTO, KEY2,
			    rows[i].bearer);
		CHECK_ROW(rows[i].line, n == 0,
			  "a buffer one byte too small (%zu) is refused (got %zu)", m - 1, n);
		free(buf);
		n = request(&buf, 0, rows[i].host, rows[i].port, rows[i].path, PROTO, KEY2,
			    rows[i].bearer);
		CHECK_ROW(rows[i].line, n == 0, "a buffer of 0 is refused");
		free(buf);
	}

	/* a space in the path would end the request line's target; a port out of range */
	n = request(&buf, 4096, "h", 443, "/a HTTP/1.1", PROTO, KEY, NULL);
	CHECK(n == 0, "a space in the path is refused (%zu)", n);
	free(buf);
	n = request(&buf, 4096, "h", 0, "/", PROTO, KEY, NULL);
	CHECK(n == 0, "port 0 is refused (%zu)", n);
	free(buf);
	n = request(&buf, 4096, "h", 65536, "/", PROTO, KEY, NULL);
	CHECK(n == 0, "port 65536 is refused (%zu)", n);
	free(buf);

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		char path[40];
		int field;

		snprintf(path, sizeof(path), "/v1/%s", bad[k]);
		for (field = 0; field < 5; field++) {
			n = request(&buf, 4096, field == 0 ? bad[k] : "h", 443,
				    field == 1 ? path : "/", field == 2 ? bad[k] : PROTO,
				    field == 3 ? bad[k] : KEY, field == 4 ? bad[k] : "b");
			CHECK(n == 0, "a control byte (0x%02x) in the %s is refused",
			      first_ctl(bad[k]),
			      (const char *[]){"host", "path", "subprotocol", "key",
					       "bearer"}[field]);
			free(buf);
		}
	}
}

/* ---- the server's answer ---- */

#define L_STATUS "HTTP/1.1 101 Switching Protocols\r\n"
#define L_UPGRADE "Upgrade: websocket\r\n"
#define L_CONN "Connection: Upgrade\r\n"
#define L_ACCEPT "Sec-WebSocket-Accept: " ACCEPT "\r\n"
#define L_PROTO "Sec-WebSocket-Protocol: " PROTO "\r\n"
#define GOOD L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO "\r\n"

static int answer(const void *p, size_t len, char *err, size_t errlen)
{
	uint8_t *b = dup_exact(p, len);
	int r;

	err[0] = '\0';
	r = ssm_ws_answer(b, len, KEY, PROTO, err, errlen);
	free(b);
	return r;
}

static void test_answer(void)
{
	static const struct {
		int line;
		const char *a;
		size_t len;
		int ok;           /* 1: accepted, its headers end at the first blank line */
		const char *says; /* a refusal's err holds this */
	} rows[] = {
		{__LINE__, S(GOOD), 1},
		{__LINE__, S(GOOD "\x82\x05hello\x81\x02\r\n"), 1},
		{__LINE__, S(GOOD "\r\n\r\n"), 1},
		{__LINE__, S("HTTP/1.1 101 Web Socket Protocol Handshake\r\n" L_PROTO L_ACCEPT
			     L_CONN "Server: x\r\nDate: Mon, 1 Jan 2024 00:00:00 GMT\r\n" L_UPGRADE
			     "\r\n"),
		 1},
		{__LINE__, S(L_STATUS "upgrade: websocket\r\nconnection: upgrade\r\n"
				      "sec-websocket-accept: " ACCEPT "\r\nsec-websocket-protocol: "
				      PROTO "\r\n\r\n"),
		 1},
		{__LINE__, S(L_STATUS "UPGRADE: WebSocket\r\nCONNECTION: UPGRADE\r\n"
				      "SEC-WEBSOCKET-ACCEPT: " ACCEPT "\r\nSEC-WEBSOCKET-PROTOCOL: "
				      PROTO "\r\n\r\n"),
		 1},
		{__LINE__, S(L_STATUS L_UPGRADE "Connection: keep-alive, Upgrade\r\n" L_ACCEPT
			     L_PROTO "\r\n"),
		 1},
		{__LINE__, S(L_STATUS L_UPGRADE "Connection: Upgrade, keep-alive\r\n" L_ACCEPT
			     L_PROTO "\r\n"),
		 1},

		/* the status */
		{__LINE__, S("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"), -1, "403"},
		{__LINE__, S("HTTP/1.1 403 Forbidden\r\n" L_UPGRADE L_CONN L_ACCEPT L_PROTO "\r\n"),
		 -1, "403"},
		{__LINE__, S("HTTP/1.1 200 OK\r\n" L_UPGRADE L_CONN L_ACCEPT L_PROTO "\r\n"), -1,
		 "200"},
		{__LINE__, S("HTTP/1.1 503 Service Unavailable\r\n\r\n"), -1, "503"},
		{__LINE__, S("HTTP/1.1 403 Forb\x1b[2J\x1b]0;pwned\x07idden\r\n\r\n"), -1},
		{__LINE__, S("HTTP/1.0 101 Switching Protocols\r\n" L_UPGRADE L_CONN L_ACCEPT L_PROTO
			     "\r\n"),
		 -1},
		{__LINE__, S("HTTP/2 101 Switching Protocols\r\n" L_UPGRADE L_CONN L_ACCEPT L_PROTO
			     "\r\n"),
		 -1},
		{__LINE__, S("HTTP/1.1 1010 Switching Protocols\r\n" L_UPGRADE L_CONN L_ACCEPT
			     L_PROTO "\r\n"),
		 -1},
		{__LINE__, S("ICY 101 Switching Protocols\r\n" L_UPGRADE L_CONN L_ACCEPT L_PROTO
			     "\r\n"),
		 -1},
		{__LINE__, S("\r\n\r\n"), -1},

		/* the accept */
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_PROTO "\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN "Sec-WebSocket-Accept: " ACCEPT2 "\r\n"
			     L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN
			     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n" L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN "Sec-WebSocket-Accept: " ACCEPT "x\r\n"
			     L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN
			     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n" L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN "Sec-WebSocket-Accept: \r\n" L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN "Sec-WebSocket-Accept: " KEY "\r\n" L_PROTO
			     "\r\n"),
		 -1},
		/* a right accept does not excuse a wrong one; two right ones are refused too
		 * (lib/wsclient.c refuses any second Sec-WebSocket-Accept) */
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT "Sec-WebSocket-Accept: " ACCEPT2
			     "\r\n" L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN "Sec-WebSocket-Accept: " ACCEPT2 "\r\n"
			     L_ACCEPT L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT L_ACCEPT L_PROTO "\r\n"), -1},

		/* Upgrade and Connection */
		{__LINE__, S(L_STATUS L_CONN L_ACCEPT L_PROTO "\r\n"), -1},
		{__LINE__, S(L_STATUS "Upgrade: h2c\r\n" L_CONN L_ACCEPT L_PROTO "\r\n"), -1},
		{__LINE__, S(L_STATUS "Upgrade: websockets\r\n" L_CONN L_ACCEPT L_PROTO "\r\n"), -1},
		{__LINE__, S(L_STATUS "Upgrade: \r\n" L_CONN L_ACCEPT L_PROTO "\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE "Upgrade: h2c\r\n" L_CONN L_ACCEPT L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_ACCEPT L_PROTO "\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE "Connection: keep-alive\r\n" L_ACCEPT L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE "Connection: close\r\n" L_ACCEPT L_PROTO "\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE "Connection: upgrades\r\n" L_ACCEPT L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE "Connection: keep-alive upgrade\r\n" L_ACCEPT L_PROTO
			     "\r\n"),
		 -1},

		/* the subprotocol, the extensions */
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT "\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT "Sec-WebSocket-Protocol: ssmsession.2\r\n"
			     "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT "Sec-WebSocket-Protocol: SSMSESSION.1\r\n"
			     "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT "Sec-WebSocket-Protocol: ssmsession.\r\n"
			     "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT
			     "Sec-WebSocket-Protocol: ssmsession.1x\r\n\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT
			     "Sec-WebSocket-Protocol: ssmsession.1, chat\r\n\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT "Sec-WebSocket-Protocol: \r\n\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO
			     "Sec-WebSocket-Protocol: chat\r\n\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO
			     "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
		 -1},
		{__LINE__, S(L_STATUS "sec-websocket-extensions: x-webkit-deflate-frame\r\n" L_UPGRADE
			     L_CONN L_ACCEPT L_PROTO "\r\n"),
		 -1},

		/* the lines themselves */
		{__LINE__, S("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: "
			     "Upgrade\nSec-WebSocket-Accept: " ACCEPT "\nSec-WebSocket-Protocol: "
			     PROTO "\n\n"),
		 -1},
		{__LINE__, S(L_STATUS "Upgrade: websocket\n" L_CONN L_ACCEPT L_PROTO "\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO "X-A: 1\n\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO "X-A: 1\rX-B: 2\r\n\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO "X-A: a\0b\r\n\r\n"), -1},
		{__LINE__, S("HTTP/1.1 101 Switching\0Protocols\r\n" L_UPGRADE L_CONN L_ACCEPT
			     L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN "Sec-WebSocket-Accept: " ACCEPT "\0\r\n"
			     L_PROTO "\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO "X-A: 1\r\n continued\r\n\r\n"),
		 -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO "X-A: 1\r\n\tcontinued\r\n\r\n"),
		 -1},
		{__LINE__, S(L_STATUS "Upgrade:\r\n websocket\r\n" L_CONN L_ACCEPT L_PROTO "\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO "NoColonHere\r\n\r\n"), -1},
		{__LINE__, S(L_STATUS L_UPGRADE "Connection Upgrade\r\n" L_CONN L_ACCEPT L_PROTO
			     "\r\n"),
		 -1},
	};
	char err[200], small[12];
	size_t i, k;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *end = find(rows[i].a, rows[i].len, "\r\n\r\n");
		size_t want = end ? (size_t)(end - rows[i].a) + 4 : 0;

		r = answer(rows[i].a, rows[i].len, err, sizeof(err));
		if (rows[i].ok > 0) {
			CHECK_ROW(rows[i].line, r > 0 && (size_t)r == want,
				  "accepted, the headers are %zu bytes (got %d, err \"%s\")", want, r,
				  err);
			/* undecided on every proper prefix */
			for (k = 0; k < want; k++) {
				r = answer(rows[i].a, k, err, sizeof(err));
				if (r != 0)
					break;
			}
			CHECK_ROW(rows[i].line, k == want,
				  "every proper prefix is undecided (%zu bytes: %d, \"%s\")", k, r,
				  err);
			continue;
		}
		CHECK_ROW(rows[i].line, r == -1 && err_ok(err, sizeof(err)),
			  "refused with a one-line reason (got %d, err \"%s\")", r, err);
		if (rows[i].says != NULL)
			CHECK_ROW(rows[i].line, strstr(err, rows[i].says) != NULL,
				  "the reason names %s (\"%s\")", rows[i].says, err);
		memset(small, 'x', sizeof(small));
		r = answer(rows[i].a, rows[i].len, small, sizeof(small));
		CHECK_ROW(rows[i].line, r == -1 && err_ok(small, sizeof(small)),
			  "a reason is cut to a small err buffer (\"%.*s\")", (int)sizeof(small),
			  small);
	}

	CHECK(answer("", 0, err, sizeof(err)) == 0, "nothing yet is undecided");

	/* the size limit: headers of exactly SSM_WS_ANSWER_MAX bytes are accepted, one more is
	 * not, and SSM_WS_ANSWER_MAX bytes without the blank line are refused, not undecided */
	{
		static const char head[] = L_STATUS L_UPGRADE L_CONN L_ACCEPT L_PROTO "X-Pad: ";
		size_t max = SSM_WS_ANSWER_MAX, pad;
		char *big = malloc(max + 64);

		if (big == NULL)
			exit(99);
		for (pad = max - (sizeof(head) - 1) - 4; pad <= max - (sizeof(head) - 1) - 3;
		     pad++) {
			size_t total = sizeof(head) - 1 + pad + 4;

			memcpy(big, head, sizeof(head) - 1);
			memset(big + sizeof(head) - 1, 'p', pad);
			memcpy(big + sizeof(head) - 1 + pad, "\r\n\r\n\x82\x00", 6);
			r = answer(big, total + 2, err, sizeof(err));
			if (total <= max) {
				CHECK(r > 0 && (size_t)r == total,
				      "headers of exactly SSM_WS_ANSWER_MAX (%zu) bytes are accepted "
				      "(got %d, \"%s\")",
				      total, r, err);
				for (k = 0; k < total; k += k < 300 || k > total - 10 ? 1 : 61) {
					r = answer(big, k, err, sizeof(err));
					if (r != 0)
						break;
				}
				CHECK(k >= total, "... and undecided on every prefix (%zu: %d)", k, r);
			} else {
				CHECK(r == -1 && err_ok(err, sizeof(err)),
				      "headers of SSM_WS_ANSWER_MAX + 1 bytes are refused (got %d)",
				      r);
				r = answer(big, max, err, sizeof(err));
				CHECK(r == -1 && err_ok(err, sizeof(err)),
				      "... already on their first SSM_WS_ANSWER_MAX bytes (got %d)", r);
			}
		}
		/* lines and lines of a harmless header, never a blank one */
		memcpy(big, L_STATUS, sizeof(L_STATUS) - 1);
		for (k = sizeof(L_STATUS) - 1; k + 6 <= max + 60; k += 6)
			memcpy(big + k, "X: y\r\n", 6);
		r = answer(big, max, err, sizeof(err));
		CHECK(r == -1 && err_ok(err, sizeof(err)),
		      "SSM_WS_ANSWER_MAX bytes of header lines without a blank one: refused (%d)",
		      r);
		r = answer(big, max - 1, err, sizeof(err));
		CHECK(r == 0 || r == -1, "one byte less is undecided or refused (%d)", r);
		r = answer(big, k, err, sizeof(err));
		CHECK(r == -1, "more than SSM_WS_ANSWER_MAX: refused (%d)", r);
		free(big);
	}
}

/* ---- the server's frames ---- */

#define TRACE_MAX 300000

struct rec {
	const uint8_t *chunk; /* the bytes being fed */
	size_t chunk_len;
	uint8_t trace[TRACE_MAX]; /* "<B" or "<T" first, the bytes, ">" final; "{op:...}" */
	size_t tn;
	int nd, nc;
	struct {
		int first, final, binary;
		size_t len;
	} d[8]; /* the first data calls */
	int in_msg, msg_binary;
	int bad; /* a call broke the contract */
	char why[200];
	int stop_data, stop_ctl; /* return this from the nth data / control call (1-based) */
	int stop_value;
};

static void put(struct rec *c, const void *p, size_t n)
{
	if (c->tn + n > TRACE_MAX) {
		c->bad = 1;
		return;
	}
	memcpy(c->trace + c->tn, p, n);
	c->tn += n;
}

static int on_data(void *ctx, const uint8_t *p, size_t len, int first, int final, int binary)
{
	struct rec *c = ctx;

	if (c->nd < 8) {
		c->d[c->nd].first = first;
		c->d[c->nd].final = final;
		c->d[c->nd].binary = binary;
		c->d[c->nd].len = len;
	}
	c->nd++;
	if (len > 0 && (p < c->chunk || len > c->chunk_len ||
			(size_t)(p - c->chunk) > c->chunk_len - len)) {
		c->bad = 1;
		snprintf(c->why, sizeof(c->why), "a data piece not from the bytes fed");
	}
	if (!!first == !!c->in_msg || (c->in_msg && !!binary != !!c->msg_binary)) {
		c->bad = 1;
		snprintf(c->why, sizeof(c->why), "first %d while %sin a message (call %d)", first,
			 c->in_msg ? "" : "not ", c->nd);
	}
	if (first) {
		put(c, binary ? "<B" : "<T", 2);
		c->in_msg = 1;
		c->msg_binary = !!binary;
	}
	put(c, p, len);
	if (final) {
		put(c, ">", 1);
		c->in_msg = 0;
	}
	if (c->stop_data && c->nd == c->stop_data)
		return c->stop_value;
	return 0;
}

static int on_control(void *ctx, unsigned op, const uint8_t *p, size_t len)
{
	struct rec *c = ctx;
	char h[8];

	c->nc++;
	if (len > SSM_WS_CONTROL_MAX || (op != 8 && op != 9 && op != 10)) {
		c->bad = 1;
		snprintf(c->why, sizeof(c->why), "control op %u of %zu bytes", op, len);
	}
	snprintf(h, sizeof(h), "{%x:", op);
	put(c, h, strlen(h));
	put(c, p, len > SSM_WS_CONTROL_MAX ? 0 : len);
	put(c, "}", 1);
	if (c->stop_ctl && c->nc == c->stop_ctl)
		return c->stop_value;
	return 0;
}

static const struct ssm_ws_rx_ops ops = {on_data, on_control};

static void rx_init(struct ssm_ws_rx *r, uint64_t msg_max)
{
	memset(r, 0, sizeof(*r));
	r->msg_max = msg_max;
}

/* feed p in pieces of chunk bytes (0: at once), each a copy of its exact size; the first
 * non-zero result, or 0 */
static int feed(struct ssm_ws_rx *r, struct rec *c, const void *p, size_t len, size_t chunk,
		char *err, size_t errlen)
{
	size_t pos = 0;
	int res = 0;

	err[0] = '\0';
	do {
		size_t n = chunk == 0 || len - pos < chunk ? len - pos : chunk;
		uint8_t *b = dup_exact((const uint8_t *)p + pos, n);

		c->chunk = b;
		c->chunk_len = n;
		res = ssm_ws_rx_feed(r, b, n, &ops, c, err, errlen);
		c->chunk = NULL;
		free(b);
		pos += n;
	} while (res == 0 && pos < len);
	return res;
}

/* a server frame: FIN/RSV/opcode byte, the shortest length encoding, the payload */
static size_t frame(uint8_t *out, uint8_t b0, const void *p, size_t n)
{
	size_t h = 2;
	int i;

	out[0] = b0;
	if (n < 126) {
		out[1] = (uint8_t)n;
	} else if (n < 65536) {
		out[1] = 126;
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
		h = 4;
	} else {
		out[1] = 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		h = 10;
	}
	if (n)
		memcpy(out + h, p, n);
	return h + n;
}

static struct rec rc; /* big: static */

static void reset(struct rec *c)
{
	memset(c, 0, sizeof(*c));
}

static void test_rx_basic(void)
{
	static const size_t chunks[] = {0, 1, 2, 3, 7, 1000};
	struct ssm_ws_rx r;
	char err[200];
	size_t k;
	int res;

	/* one binary message in one frame */
	reset(&rc);
	rx_init(&r, 1 << 20);
	res = feed(&r, &rc, S("\x82\x05hello"), 0, err, sizeof(err));
	CHECK(res == 0 && rc.nd == 1 && rc.nc == 0 && rc.d[0].first && rc.d[0].final &&
		      rc.d[0].binary && rc.d[0].len == 5 && rc.tn == 8 &&
		      memcmp(rc.trace, "<Bhello>", 8) == 0 && !rc.bad,
	      "a binary frame: one data call, first and final, binary (%d, %d calls, %s)", res,
	      rc.nd, err);

	/* the same in every split: the same message */
	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		static const char two[] = "\x82\x05hello\x81\x03" "abc\x82\x00";

		reset(&rc);
		rx_init(&r, 1 << 20);
		res = feed(&r, &rc, S(two), chunks[k], err, sizeof(err));
		CHECK(res == 0 && rc.tn == 17 && memcmp(rc.trace, "<Bhello><Tabc><B>", 17) == 0 &&
			      !rc.bad && rc.d[0].first && !rc.in_msg,
		      "in pieces of %zu: \"<Bhello><Tabc><B>\" (got \"%.*s\", %s, %s)", chunks[k],
		      (int)rc.tn, rc.trace, rc.why, err);
		if (chunks[k] == 1)
			CHECK(rc.nd >= 7 && !rc.d[0].final && rc.d[0].len == 1,
			      "byte by byte: each payload byte as it comes (%d calls)", rc.nd);
	}

	/* the empty messages: one empty piece, first and final */
	reset(&rc);
	rx_init(&r, 1 << 20);
	res = feed(&r, &rc, S("\x82\x00"), 0, err, sizeof(err));
	CHECK(res == 0 && rc.nd == 1 && rc.d[0].first && rc.d[0].final && rc.d[0].binary &&
		      rc.d[0].len == 0,
	      "an empty binary message: one call, len 0, first and final (%d calls)", rc.nd);
	reset(&rc);
	rx_init(&r, 1 << 20);
	res = feed(&r, &rc, S("\x81\x00"), 1, err, sizeof(err));
	CHECK(res == 0 && rc.nd == 1 && rc.d[0].first && rc.d[0].final && !rc.d[0].binary &&
		      rc.d[0].len == 0,
	      "an empty text message byte by byte: one call, len 0, first and final, text");
	reset(&rc);
	rx_init(&r, 0);
	res = feed(&r, &rc, S("\x82\x00\x89\x00"), 0, err, sizeof(err));
	CHECK(res == 0 && rc.tn == 7 && memcmp(rc.trace, "<B>{9:}", 7) == 0,
	      "with msg_max 0 an empty message and an empty ping pass (%d, %s)", res, err);

	/* a fragmented message with a ping in its middle, in every split */
	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		static const char fr[] = "\x02\x03" "abc\x89\x04ping\x00\x00\x8a\x00\x80\x02" "de"
					 "\x01\x01x\x80\x00\x88\x02\x03\xe8";
		static const char want[] = "<Babc{9:ping}{a:}de><Tx>{8:\x03\xe8}";

		reset(&rc);
		rx_init(&r, 1 << 20);
		res = feed(&r, &rc, S(fr), chunks[k], err, sizeof(err));
		CHECK(res == 0 && rc.tn == sizeof(want) - 1 && memcmp(rc.trace, want, rc.tn) == 0 &&
			      rc.nc == 3 && !rc.bad,
		      "fragments around a ping and a pong, in pieces of %zu: got \"%.*s\" (%s, %s)",
		      chunks[k], (int)rc.tn, rc.trace, rc.why, err);
		if (chunks[k] == 0)
			CHECK(rc.nd >= 2 && rc.d[0].first && !rc.d[0].final && rc.d[0].len == 3 &&
				      rc.d[0].binary,
			      "the first fragment: first, not final");
	}

	/* a control frame split: its header, then its payload byte by byte: whole, once */
	{
		static const uint8_t pl[] = "\x89\x05hello";
		size_t i;
		int whole_once = 1;

		reset(&rc);
		rx_init(&r, 1 << 20);
		res = feed(&r, &rc, pl, 1, 0, err, sizeof(err));
		res |= feed(&r, &rc, pl + 1, 1, 0, err, sizeof(err));
		for (i = 2; i < 7; i++) {
			res |= feed(&r, &rc, pl + i, 1, 0, err, sizeof(err));
			if (rc.nc != (i == 6))
				whole_once = 0;
		}
		CHECK(res == 0 && whole_once && rc.nc == 1 && rc.tn == 9 &&
			      memcmp(rc.trace, "{9:hello}", 9) == 0,
		      "a ping split across feeds is handed on whole, once, after its last byte "
		      "(got \"%.*s\")",
		      (int)rc.tn, rc.trace);
	}

	/* a control frame of 125 bytes, the most there is */
	{
		uint8_t f[200], pl[125], want[132];

		memset(pl, 'c', sizeof(pl));
		memcpy(want, "{a:", 3);
		memset(want + 3, 'c', 125);
		want[128] = '}';
		for (k = 0; k < 3; k++) {
			reset(&rc);
			rx_init(&r, 10);
			res = feed(&r, &rc, f, frame(f, 0x8a, pl, sizeof(pl)), k, err, sizeof(err));
			CHECK(res == 0 && rc.nc == 1 && rc.tn == 129 && memcmp(rc.trace, want, 129) == 0,
			      "a pong of 125 bytes in pieces of %zu, msg_max 10 notwithstanding", k);
		}
	}

	/* a callback's non-zero result stops the feed and is its result */
	reset(&rc);
	rx_init(&r, 1 << 20);
	rc.stop_data = 1;
	rc.stop_value = 7;
	res = feed(&r, &rc, S("\x82\x01" "a\x82\x01" "b\x89\x00"), 0, err, sizeof(err));
	CHECK(res == 7 && rc.nd == 1 && rc.nc == 0,
	      "data returning 7: the feed stops and returns 7 (%d, %d data calls)", res, rc.nd);
	rc.stop_data = 0;
	res = feed(&r, &rc, S("\x82\x01" "b\x89\x00"), 0, err, sizeof(err));
	CHECK(res == 0 && rc.tn == 12 && memcmp(rc.trace, "<Ba><Bb>{9:}", 12) == 0,
	      "... and the rest, fed again, goes on where it stopped (\"%.*s\")", (int)rc.tn,
	      rc.trace);
	reset(&rc);
	rx_init(&r, 1 << 20);
	rc.stop_ctl = 1;
	rc.stop_value = -5;
	res = feed(&r, &rc, S("\x89\x01p\x82\x01" "a"), 0, err, sizeof(err));
	CHECK(res == -5 && rc.nd == 0 && rc.nc == 1,
	      "control returning -5: the feed stops and returns -5 (%d, %d data calls)", res,
	      rc.nd);
	reset(&rc);
	rx_init(&r, 1 << 20);
	rc.stop_ctl = 1;
	rc.stop_value = 1;
	res = feed(&r, &rc, S("\x88\x00\x82\x01" "a"), 0, err, sizeof(err));
	CHECK(res == 1 && rc.nd == 0 && rc.nc == 1,
	      "close returning 1: the feed stops and returns 1 (%d)", res);
}

/* every length encoding at its edges, each in a few splits */
static void test_rx_lengths(void)
{
	static const size_t sizes[] = {0, 1, 125, 126, 127, 1000, 65535, 65536, 65537, 100000};
	static const size_t chunks[] = {0, 1, 3, 4096};
	struct ssm_ws_rx r;
	char err[200];
	uint8_t *in = malloc(100000), *f = malloc(100000 + 14), *want = malloc(100000 + 3);
	size_t i, k;
	int res;

	if (in == NULL || f == NULL || want == NULL)
		exit(99);
	for (i = 0; i < 100000; i++)
		in[i] = (uint8_t)(i * 131 + 7);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], fl = frame(f, 0x82, in, n);

		memcpy(want, "<B", 2);
		memcpy(want + 2, in, n);
		want[n + 2] = '>';
		for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			if (chunks[k] == 1 && n > 70000)
				continue;
			reset(&rc);
			rx_init(&r, 100000);
			res = feed(&r, &rc, f, fl, chunks[k], err, sizeof(err));
			CHECK(res == 0 && rc.tn == n + 3 && memcmp(rc.trace, want, n + 3) == 0 &&
				      !rc.bad,
			      "a message of %zu bytes (header %zu) in pieces of %zu (%d, %s, %s)",
			      n, fl - n, chunks[k], res, err, rc.why);
		}
		/* the limit: msg_max = n passes, n - 1 is refused before any of it */
		reset(&rc);
		rx_init(&r, n);
		res = feed(&r, &rc, f, fl, 0, err, sizeof(err));
		CHECK(res == 0 && rc.tn == n + 3, "%zu bytes with msg_max %zu pass", n, n);
		if (n > 0) {
			reset(&rc);
			rx_init(&r, n - 1);
			res = feed(&r, &rc, f, fl, 0, err, sizeof(err));
			CHECK(res == -1 && rc.nd == 0 && err_ok(err, sizeof(err)),
			      "%zu bytes with msg_max %zu: refused, nothing handed on (%d, %d calls)",
			      n, n - 1, res, rc.nd);
		}
	}

	/* the limit summed over fragments: 60 + 40 pass 100, 60 + 41 do not */
	for (k = 40; k <= 41; k++) {
		size_t fl = frame(f, 0x02, in, 60);

		fl += frame(f + fl, 0x00, in, 20);
		fl += frame(f + fl, 0x89, "pp", 2); /* control frames do not count */
		fl += frame(f + fl, 0x80, in, k - 20);
		reset(&rc);
		rx_init(&r, 100);
		res = feed(&r, &rc, f, fl, 0, err, sizeof(err));
		if (k == 40)
			CHECK(res == 0 && rc.tn == 2 + 100 + 6 + 1,
			      "fragments of 60 + 20 + 20 with msg_max 100 pass (%d, %s)", res, err);
		else
			CHECK(res == -1 && rc.tn == 2 + 80 + 6 && err_ok(err, sizeof(err)),
			      "fragments of 60 + 20 + 21 with msg_max 100: refused at the last "
			      "(%d, %zu bytes of trace)",
			      res, rc.tn);
	}
	free(in);
	free(f);
	free(want);
}

/* what a server may not send: refused (-1, a reason) and every later feed fails */
static void test_rx_refusals(void)
{
	static uint8_t zeros[1100];
	static const struct {
		int line;
		const char *f;
		size_t len;
		const char *before; /* the trace before the refusal */
		uint64_t msg_max;   /* 0: 1 MiB */
		size_t pad;         /* that many zeros after f */
	} rows[] = {
		{__LINE__, S("\x82\x85\x01\x02\x03\x04hello"), ""},
		{__LINE__, S("\x82\x80\x00\x00\x00\x00"), ""},
		{__LINE__, S("\x89\x80\x00\x00\x00\x00"), ""},
		{__LINE__, S("\xc2\x01x"), ""},
		{__LINE__, S("\xa2\x01x"), ""},
		{__LINE__, S("\x92\x01x"), ""},
		{__LINE__, S("\xc9\x00"), ""},
		{__LINE__, S("\x82\x01x\xc0\x01x"), "<Bx>"},
		{__LINE__, S("\x09\x00"), ""},
		{__LINE__, S("\x0a\x01p"), ""},
		{__LINE__, S("\x08\x02\x03\xe8"), ""},
		{__LINE__, S("\x89\x7e\x00\x7e"), "", 0, 126},
		{__LINE__, S("\x89\x7e\x00\x05hello"), ""},
		{__LINE__, S("\x88\x7f\x00\x00\x00\x00\x00\x00\x00\x02\x03\xe8"), ""},
		{__LINE__, S("\x8a\x7e\x01\x00"), "", 0, 256},
		{__LINE__, S("\x80\x01x"), ""},
		{__LINE__, S("\x00\x01x"), ""},
		{__LINE__, S("\x80\x00"), ""},
		{__LINE__, S("\x82\x01" "a\x80\x01" "b"), "<Ba>"},
		{__LINE__, S("\x02\x01" "a\x82\x01" "b"), "<Ba"},
		{__LINE__, S("\x01\x01" "a\x81\x01" "b"), "<Ta"},
		{__LINE__, S("\x02\x01" "a\x01\x01" "b"), "<Ba"},
		{__LINE__, S("\x02\x01" "a\x89\x00\x02\x00"), "<Ba{9:}"},
		{__LINE__, S("\x82\x7e\x00\x64"), "", 0, 100},
		{__LINE__, S("\x82\x7e\x00\x00"), ""},
		{__LINE__, S("\x82\x7e\x00\x7d"), "", 0, 125},
		{__LINE__, S("\x82\x7f\x00\x00\x00\x00\x00\x00\x03\xe8"), "", 0, 1000},
		{__LINE__, S("\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff"), "", 1 << 20, 1000},
		{__LINE__, S("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x05hello"), ""},
		{__LINE__, S("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00"), "", UINT64_MAX},
		{__LINE__, S("\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff"), "", UINT64_MAX},
		{__LINE__, S("\x82\x7f\x80\x00\x00\x00\x00\x01\x00\x00"), "", UINT64_MAX},
		{__LINE__, S("\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x00"), ""},
		{__LINE__, S("\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff"), ""},
	};
	struct ssm_ws_rx r;
	char err[200], small[10];
	uint8_t f[1200];
	size_t i, j, k, fl;
	int res, op;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memcpy(f, rows[i].f, rows[i].len);
		memcpy(f + rows[i].len, zeros, rows[i].pad);
		fl = rows[i].len + rows[i].pad;
		for (k = 0; k <= 1; k++) {
			size_t bl = strlen(rows[i].before);

			reset(&rc);
			rx_init(&r, rows[i].msg_max ? rows[i].msg_max : 1 << 20);
			res = feed(&r, &rc, f, fl, k, err, sizeof(err));
			CHECK_ROW(rows[i].line,
				  res == -1 && err_ok(err, sizeof(err)) && rc.tn == bl &&
					  memcmp(rc.trace, rows[i].before, bl) == 0,
				  "%s: refused with a reason after \"%s\" (got %d, \"%s\", trace "
				  "\"%.*s\")",
				  k ? "byte by byte" : "at once", rows[i].before, res, err,
				  (int)rc.tn, rc.trace);
			/* the latch: good frames later fail too, whole or byte by byte, and are
			 * not handed on */
			res = feed(&r, &rc, S("\x82\x01x\x89\x00"), 0, err, sizeof(err));
			CHECK_ROW(rows[i].line, res == -1 && rc.tn == bl && err_ok(err, sizeof(err)),
				  "after the refusal a good frame fails too (%d)", res);
			for (j = 0; j < 300; j++)
				if (feed(&r, &rc, S("\x82\x00"), 1, err, sizeof(err)) != -1)
					break;
			CHECK_ROW(rows[i].line, j == 300 && rc.tn == bl,
				  "... and so do 300 more, one byte at a time (%zu)", j);
		}
		reset(&rc);
		rx_init(&r, rows[i].msg_max ? rows[i].msg_max : 1 << 20);
		memset(small, 'x', sizeof(small));
		res = feed(&r, &rc, f, fl, 0, small, sizeof(small));
		CHECK_ROW(rows[i].line, res == -1 && err_ok(small, sizeof(small)),
			  "the reason is cut to a small err buffer");
	}

	/* every opcode a server may not use, with and without FIN */
	for (op = 0; op < 16; op++) {
		uint8_t b[3] = {0, 1, 'x'};

		if (op <= 2 || (op >= 8 && op <= 10))
			continue;
		for (k = 0; k <= 1; k++) {
			b[0] = (uint8_t)((k ? 0x80 : 0) | op);
			reset(&rc);
			rx_init(&r, 1 << 20);
			res = feed(&r, &rc, b, 3, 0, err, sizeof(err));
			CHECK(res == -1 && err_ok(err, sizeof(err)) && rc.nd == 0 && rc.nc == 0,
			      "opcode 0x%x%s is refused (%d)", op, k ? " with FIN" : "", res);
			res = feed(&r, &rc, S("\x82\x01x"), 0, err, sizeof(err));
			CHECK(res == -1 && rc.nd == 0, "... and latched (%d)", res);
		}
	}
}

/* ---- the close frame ---- */

static int close_reason(const void *p, size_t len, unsigned *code, char **out, size_t outlen)
{
	uint8_t *b = dup_exact(p, len);
	int r;

	*out = malloc(outlen);
	if (*out == NULL)
		exit(99);
	memset(*out, 'x', outlen);
	*code = 12345;
	r = ssm_ws_close_reason(b, len, code, *out, outlen);
	free(b);
	return r;
}

static void test_close(void)
{
	static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
					3000, 3001, 3999, 4000, 4001, 4999};
	static const unsigned bad[] = {0, 1, 999, 1005, 1006, 1015, 5000, 65535};
	static const struct {
		int line;
		const char *p;
		size_t len;
		size_t outlen;
		unsigned code;
		const char *reason;
	} rows[] = {
		{__LINE__, S(""), 16, 1005, ""},
		{__LINE__, S(""), 1, 1005, ""},
		{__LINE__, S("\x03\xe8"), 16, 1000, ""},
		{__LINE__, S("\x03\xe8" "bye"), 16, 1000, "bye"},
		{__LINE__, S("\x03\xe9" "going away now"), 64, 1001, "going away now"},
		{__LINE__, S("\x0f\xa0" "policy: revoked"), 64, 4000, "policy: revoked"},
		{__LINE__, S("\x0b\xb8" "a\x01" "b\xff" "c\x7f" "d\r\n\t\x00" "e"), 64, 3000,
		 "a?b?c?d????e"},
		{__LINE__, S("\x03\xea" "caf\xc3\xa9"), 64, 1002, "caf??"},
		{__LINE__, S("\x0b\xb8" "abcdef"), 4, 3000, "abc"},
		{__LINE__, S("\x0b\xb8" "abcdef"), 7, 3000, "abcdef"},
		{__LINE__, S("\x0b\xb8" "abcdef"), 6, 3000, "abcde"},
		{__LINE__, S("\x0b\xb8" "abcdef"), 1, 3000, ""},
		{__LINE__, S("\x0b\xb8" "\x1b\x1b\x1b\x1b"), 3, 3000, "??"},
	};
	char *out;
	unsigned code;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = close_reason(rows[i].p, rows[i].len, &code, &out, rows[i].outlen);
		CHECK_ROW(rows[i].line,
			  r == 0 && code == rows[i].code && memchr(out, 0, rows[i].outlen) != NULL &&
				  strcmp(out, rows[i].reason) == 0,
			  "code %u, reason \"%s\" (got %d, %u, \"%.*s\")", rows[i].code,
			  rows[i].reason, r, code, (int)rows[i].outlen, out);
		free(out);
	}
	r = close_reason("\x03", 1, &code, &out, 16);
	CHECK(r == -1, "a payload of one byte is refused (%d)", r);
	free(out);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint8_t p[4] = {(uint8_t)(good[i] >> 8), (uint8_t)good[i], 'o', 'k'};

		r = close_reason(p, 4, &code, &out, 8);
		CHECK(r == 0 && code == good[i] && strcmp(out, "ok") == 0,
		      "code %u is allowed on the wire (%d, %u)", good[i], r, code);
		free(out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t p[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};

		r = close_reason(p, 2, &code, &out, 8);
		CHECK(r == -1, "code %u is not allowed on the wire: refused (%d)", bad[i], r);
		free(out);
	}
	/* the longest a close frame carries */
	{
		uint8_t p[125];
		char want[124];

		p[0] = 0x03;
		p[1] = 0xe8;
		memset(p + 2, 'r', 123);
		memset(want, 'r', 123);
		want[123] = '\0';
		r = close_reason(p, sizeof(p), &code, &out, 124);
		CHECK(r == 0 && code == 1000 && strcmp(out, want) == 0,
		      "a reason of 123 bytes fits in 124");
		free(out);
		r = close_reason(p, sizeof(p), &code, &out, 123);
		CHECK(r == 0 && code == 1000 && strlen(out) == 122,
		      "... and is cut to 122 in 123");
		free(out);
	}
}

int main(void)
{
	test_key_accept();
	test_request();
	test_answer();
	test_rx_basic();
	test_rx_lengths();
	test_rx_refusals();
	test_close();
	return check_done("test_wsclient");
}
