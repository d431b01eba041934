/* wsclient.c - see wsclient.h. */
#include "wsclient.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int ssm_ws_key_new(char key[SSM_WS_KEY_LEN + 1])
{
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	if (EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw)) != SSM_WS_KEY_LEN)
		return -1;
	return 0;
}

int ssm_ws_mask_key(uint8_t key[4])
{
	static uint8_t pool[4096];
	static size_t used = sizeof(pool);

	if (used == sizeof(pool)) {
		if (RAND_bytes(pool, sizeof(pool)) != 1)
			return -1;
		used = 0;
	}
	memcpy(key, pool + used, 4);
	used += 4;
	return 0;
}

int ssm_ws_accept_of(const char *key, char out[SSM_WS_ACCEPT_LEN + 1])
{
	char in[SSM_WS_KEY_LEN + sizeof(WS_GUID)];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n = snprintf(in, sizeof(in), "%s%s", key, WS_GUID);

	if (n < 0 || (size_t)n >= sizeof(in) ||
	    EVP_Digest(in, (size_t)n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		return -1;
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != SSM_WS_ACCEPT_LEN)
		return -1;
	return 0;
}

/* printable ASCII and space only: nothing that could end a header line */
static int field_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

size_t ssm_ws_request(char *buf, size_t cap, const char *host, int port, const char *path,
		      const char *subprotocol, const char *key, const char *bearer)
{
	char hostport[300];
	int n, v6 = strchr(host, ':') != NULL;

	if (!field_ok(host) || !field_ok(path) || !field_ok(subprotocol) || !field_ok(key) ||
	    (bearer && !field_ok(bearer)) || path[0] != '/' || strchr(path, ' ') != NULL ||
	    port <= 0 || port > 65535)
		return 0;
	if (port == 443)
		n = snprintf(hostport, sizeof(hostport), v6 ? "[%s]" : "%s", host);
	else
		n = snprintf(hostport, sizeof(hostport), v6 ? "[%s]:%d" : "%s:%d", host, port);
	if (n < 0 || (size_t)n >= sizeof(hostport))
		return 0;
	n = snprintf(buf, cap,
		     "GET %s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "Sec-WebSocket-Protocol: %s\r\n"
		     "%s%s%s"
		     "\r\n",
		     path, hostport, key, subprotocol, bearer ? "Authorization: Bearer " : "",
		     bearer ? bearer : "", bearer ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			memset(buf, 0, cap);
		return 0;
	}
	return (size_t)n;
}

/* ------------------------------------------------------------------ the answer */

#define FAIL(...)                                                                          \
	do {                                                                               \
		snprintf(err, errlen, __VA_ARGS__);                                        \
		return -1;                                                                 \
	} while (0)

/* value of a header line "Name: value" (name matched without case), trimmed of spaces and
 * tabs; NULL when the line is another header */
static const char *header_value(const char *line, size_t len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name), b, e;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	b = nl + 1;
	e = len;
	while (b < e && (line[b] == ' ' || line[b] == '\t'))
		b++;
	while (e > b && (line[e - 1] == ' ' || line[e - 1] == '\t'))
		e--;
	*vlen = e - b;
	return line + b;
}

/* a comma-separated list value names tok (without case) */
static int list_has(const char *v, size_t vlen, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < vlen) {
		size_t b, e;

		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		b = i;
		while (i < vlen && v[i] != ',')
			i++;
		e = i;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - b == tl && strncasecmp(v + b, tok, tl) == 0)
			return 1;
	}
	return 0;
}

/* the status line's text, printable, for a refusal */
static void status_text(const char *line, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < outlen && o < 80; i++)
		out[o++] = (line[i] >= 0x20 && line[i] <= 0x7e) ? line[i] : '?';
	if (outlen > 0)
		out[o] = '\0';
}

int ssm_ws_answer(const uint8_t *buf, size_t len, const char *key, const char *subprotocol,
		  char *err, size_t errlen)
{
	const char *s = (const char *)buf;
	char want[SSM_WS_ACCEPT_LEN + 1], st[96];
	size_t end = 0, i, pos, vlen;
	int upgrade = 0, connection = 0, accept = 0, proto = 0;
	const char *v;

	/* the end of the headers: the first empty line */
	for (i = 0; i + 3 < len && i + 4 <= SSM_WS_ANSWER_MAX; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = i + 4;
			break;
		}
	if (memchr(buf, '\0', end ? end : len) != NULL)
		FAIL("the broker's answer to the upgrade holds a NUL byte");
	if (end == 0) {
		if (len >= SSM_WS_ANSWER_MAX)
			FAIL("the broker's answer to the upgrade is longer than %d bytes",
			     SSM_WS_ANSWER_MAX);
		/* a bare LF where CRLF must be: refused now rather than waiting for more */
		for (i = 0; i < len; i++)
			if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
				FAIL("the broker's answer to the upgrade has a line not ended by "
				     "CRLF");
		return 0;
	}
	for (i = 0; i < end; i++)
		if ((buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) ||
		    (buf[i] == '\r' && buf[i + 1] != '\n'))
			FAIL("the broker's answer to the upgrade has a line not ended by CRLF");
	if (ssm_ws_accept_of(key, want) < 0)
		FAIL("cannot compute the expected Sec-WebSocket-Accept");

	/* the status line */
	pos = (size_t)((const char *)memchr(s, '\r', end) - s);
	if (pos < 12 || memcmp(s, "HTTP/1.1 ", 9) != 0 || (pos > 12 && s[12] != ' ')) {
		status_text(s, pos, st, sizeof(st));
		FAIL("the broker's answer is not HTTP/1.1: \"%s\"", st);
	}
	if (memcmp(s + 9, "101", 3) != 0) {
		status_text(s + 9, pos - 9, st, sizeof(st));
		FAIL("the broker refused the connection: HTTP %s", st);
	}
	/* the headers */
	for (i = pos + 2; i < end - 2;) {
		const char *line = s + i;
		size_t ll = (size_t)((const char *)memchr(line, '\r', end - i) - line);

		if (line[0] == ' ' || line[0] == '\t')
			FAIL("the broker's answer to the upgrade has a folded header line");
		if (memchr(line, ':', ll) == NULL)
			FAIL("the broker's answer to the upgrade has a line that is not a header");
		if ((v = header_value(line, ll, "Upgrade", &vlen)) != NULL) {
			if (upgrade++ || vlen != 9 || strncasecmp(v, "websocket", 9) != 0)
				FAIL("the broker's answer does not upgrade to websocket");
		} else if ((v = header_value(line, ll, "Connection", &vlen)) != NULL) {
			if (list_has(v, vlen, "upgrade"))
				connection = 1;
		} else if ((v = header_value(line, ll, "Sec-WebSocket-Accept", &vlen)) != NULL) {
			if (accept++ || vlen != SSM_WS_ACCEPT_LEN ||
			    memcmp(v, want, SSM_WS_ACCEPT_LEN) != 0)
				FAIL("the broker's Sec-WebSocket-Accept does not match the key sent");
		} else if ((v = header_value(line, ll, "Sec-WebSocket-Protocol", &vlen)) != NULL) {
			if (proto++ || vlen != strlen(subprotocol) ||
			    memcmp(v, subprotocol, vlen) != 0)
				FAIL("the broker chose another subprotocol than %s", subprotocol);
		} else if (header_value(line, ll, "Sec-WebSocket-Extensions", &vlen) != NULL) {
			FAIL("the broker's answer names an extension the client did not offer");
		}
		i += ll + 2;
	}
	if (!upgrade)
		FAIL("the broker's answer has no Upgrade: websocket");
	if (!connection)
		FAIL("the broker's answer has no Connection: Upgrade");
	if (!accept)
		FAIL("the broker's answer has no Sec-WebSocket-Accept");
	if (!proto)
		FAIL("the broker's answer names no subprotocol (%s was asked)", subprotocol);
	return (int)end;
}

/* ------------------------------------------------------------------ frames */

#define RXFAIL(...)                                                                        \
	do {                                                                               \
		r->failed = 1;                                                             \
		snprintf(err, errlen, __VA_ARGS__);                                        \
		return -1;                                                                 \
	} while (0)

/* a complete header in r->hdr: check it and set up the frame */
static int frame_begin(struct ssm_ws_rx *r, char *err, size_t errlen)
{
	unsigned op = r->hdr[0] & 0x0f, i;
	uint64_t len = r->hdr[1] & 0x7f;

	if (r->hdr[0] & 0x70)
		RXFAIL("a websocket frame with reserved bits set (no extension was agreed)");
	if (r->hdr[1] & 0x80)
		RXFAIL("a masked websocket frame from the server");
	if (len == 126) {
		len = (uint64_t)r->hdr[2] << 8 | r->hdr[3];
		if (len < 126)
			RXFAIL("a websocket length not in its shortest form");
	} else if (len == 127) {
		if (r->hdr[2] & 0x80)
			RXFAIL("a websocket length with its top bit set");
		len = 0;
		for (i = 0; i < 8; i++)
			len = len << 8 | r->hdr[2 + i];
		if (len < 65536)
			RXFAIL("a websocket length not in its shortest form");
	}
	r->op = op;
	r->fin = !!(r->hdr[0] & 0x80);
	r->left = len;
	switch (op) {
	case 0x8:
	case 0x9:
	case 0xA:
		if (!r->fin)
			RXFAIL("a fragmented websocket control frame");
		if (len > SSM_WS_CONTROL_MAX)
			RXFAIL("a websocket control frame of %llu bytes (at most %d)",
			       (unsigned long long)len, SSM_WS_CONTROL_MAX);
		r->ctl_len = 0;
		return 0;
	case 0x0:
		if (r->msg_op == 0)
			RXFAIL("a websocket continuation frame with no message begun");
		break;
	case 0x1:
	case 0x2:
		if (r->msg_op != 0)
			RXFAIL("a websocket data frame inside a fragmented message");
		r->msg_op = op;
		r->msg_started = 0;
		r->msg_len = 0;
		break;
	default:
		RXFAIL("a websocket frame of unknown opcode 0x%x", op);
	}
	if (len > r->msg_max - r->msg_len)
		RXFAIL("a websocket message longer than %llu bytes",
		       (unsigned long long)r->msg_max);
	r->msg_len += len;
	return 0;
}

int ssm_ws_rx_feed(struct ssm_ws_rx *r, const uint8_t *p, size_t len,
		   const struct ssm_ws_rx_ops *ops, void *ctx, char *err, size_t errlen)
{
	size_t i = 0, n;
	int rc, first, fin;
	unsigned mop;

	if (r->failed)
		RXFAIL("the websocket stream already failed");
	for (;;) {
		if (!r->in_payload) {
			/* header bytes, one at a time (at most 14 per frame) */
			if (i == len)
				return 0;
			r->hdr[r->hdr_len++] = p[i++];
			if (r->hdr_len == 2) {
				unsigned l7 = r->hdr[1] & 0x7f;

				r->hdr_need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
			}
			if (r->hdr_len < 2 || r->hdr_len < r->hdr_need)
				continue;
			if (frame_begin(r, err, errlen) < 0)
				return -1;
			r->hdr_len = 0;
			r->in_payload = 1;
		}
		n = len - i;
		if ((uint64_t)n > r->left)
			n = (size_t)r->left;
		if (r->op >= 0x8) {
			/* a control frame: gathered, handed on whole */
			memcpy(r->ctl + r->ctl_len, p + i, n);
			r->ctl_len += n;
			r->left -= n;
			i += n;
			if (r->left > 0)
				return 0;
			r->in_payload = 0;
			rc = ops->control(ctx, r->op, r->ctl, r->ctl_len);
			r->ctl_len = 0;
			if (rc != 0)
				return rc;
			continue;
		}
		if (n == 0 && r->left > 0)
			return 0; /* the payload is still to come */
		r->left -= n;
		i += n;
		fin = r->left == 0 && r->fin;
		if (r->left == 0)
			r->in_payload = 0;
		if (n == 0 && !fin)
			continue; /* an empty frame that does not end its message: nothing to say */
		first = !r->msg_started;
		mop = r->msg_op;
		r->msg_started = !fin;
		if (fin)
			r->msg_op = 0;
		rc = ops->data(ctx, p + i - n, n, first, fin, mop == 0x2);
		if (rc != 0)
			return rc;
	}
}

int ssm_ws_close_reason(const uint8_t *p, size_t len, unsigned *code, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (outlen > 0)
		out[0] = '\0';
	if (len == 0) {
		*code = 1005;
		return 0;
	}
	if (len == 1)
		return -1;
	*code = (unsigned)p[0] << 8 | p[1];
	if (*code < 1000 || *code == 1004 || *code == 1005 || *code == 1006 ||
	    (*code >= 1016 && *code < 3000) || *code >= 5000 || *code == 1015)
		return -1;
	for (i = 2; i < len && o + 1 < outlen; i++)
		out[o++] = (p[i] >= 0x20 && p[i] <= 0x7e) ? (char)p[i] : '?';
	if (outlen > 0)
		out[o] = '\0';
	return 0;
}
