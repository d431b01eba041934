/* wsclient.h - the websocket client side of RFC 6455 that ssm and ssm-agent speak for
 * themselves (lib/wsdial.c carries it over their own TLS connection): the opening
 * handshake's request, the check of the server's answer, and a parser of the frames the
 * server sends.  No I/O here: bytes in, calls out.
 *
 * Why not libwebsockets' client: Debian 12's 4.1.6 parses a client's incoming frames one
 * function call per byte (bench/RESULTS.md section 4a, item 7), about three quarters of
 * ssm's CPU in a port forward; and its raw TLS client cannot be used instead (4.1.6 starts
 * TLS on a socket not yet connected).  Everything the server sends is untrusted: every
 * length is bounded, and anything RFC 6455 does not allow a server to send is refused
 * with a reason (tests/test_wsclient.c, tests/fuzz/fuzz_wsclient.c). */
#ifndef SSM_WSCLIENT_H
#define SSM_WSCLIENT_H
#include <stddef.h>
#include <stdint.h>

#define SSM_WS_KEY_LEN 24     /* base64 of 16 random bytes */
#define SSM_WS_ACCEPT_LEN 28  /* base64 of a SHA-1 digest */
#define SSM_WS_ANSWER_MAX 8192 /* the server's answer to the upgrade, headers only */
#define SSM_WS_CONTROL_MAX 125 /* a control frame's payload (RFC 6455 5.5) */

/* A fresh Sec-WebSocket-Key (16 bytes from RAND_bytes, base64): 0, -1 if no randomness. */
int ssm_ws_key_new(char key[SSM_WS_KEY_LEN + 1]);
/* The Sec-WebSocket-Accept a server must answer to key: base64(SHA-1(key GUID)). */
int ssm_ws_accept_of(const char *key, char out[SSM_WS_ACCEPT_LEN + 1]);

/* A websocket masking key for the next frame this client sends: 4 bytes of RAND_bytes,
 * drawn 1024 keys at a time (RAND_bytes costs a getpid() per call).  0, or -1 if no
 * randomness.  One process-wide pool: not for threads. */
int ssm_ws_mask_key(uint8_t key[4]);

/* The upgrade request: GET path with Host (host, port added when not 443, brackets for an
 * IPv6 address), the key, version 13, the subprotocol, and "Authorization: Bearer B" when
 * bearer is not NULL.  Its length, or 0 when it does not fit in cap or a field holds a
 * control character (CR, LF, NUL...).  The caller wipes it after sending (the bearer). */
size_t ssm_ws_request(char *buf, size_t cap, const char *host, int port, const char *path,
		      const char *subprotocol, const char *key, const char *bearer);

/* The server's answer, fed as it arrives: buf/len is everything received so far.
 *   0  incomplete: feed again with more (nothing decided yet; len < SSM_WS_ANSWER_MAX);
 *   n  >0: accepted, the headers are the first n bytes; what follows them is frames;
 *  -1  refused: err says why in one line ("the broker answered HTTP 403 Forbidden", "no
 *      Sec-WebSocket-Accept", "an extension the client did not offer", ...).
 * Accepted means: "HTTP/1.1 101", Upgrade: websocket, Connection naming upgrade, the
 * accept matching key, the subprotocol exactly, no extension; every line CRLF-terminated,
 * no NUL, no folded line, at most SSM_WS_ANSWER_MAX bytes. */
int ssm_ws_answer(const uint8_t *buf, size_t len, const char *key, const char *subprotocol,
		  char *err, size_t errlen);

/* What the frame parser hands on.  data: a piece of a text or binary message, in order,
 * straight from the bytes fed (first: its first piece, final: its last; a message may come
 * in any number of pieces, the empty message as one empty piece with both set).  control:
 * a whole ping (0x9), pong (0xA) or close (0x8) frame, payload at most 125 bytes.  Either
 * returns 0 to go on; anything else stops ssm_ws_rx_feed, which returns it. */
struct ssm_ws_rx_ops {
	int (*data)(void *ctx, const uint8_t *p, size_t len, int first, int final, int binary);
	int (*control)(void *ctx, unsigned op, const uint8_t *p, size_t len);
};

struct ssm_ws_rx {
	uint64_t msg_max;   /* the longest message accepted (sum of its frames' payloads) */
	/* parser state: zero it, then set msg_max */
	uint8_t hdr[14];
	unsigned hdr_len;   /* header bytes gathered */
	unsigned hdr_need;  /* the header's whole length, once its second byte is in */
	int in_payload;     /* the header is done: payload bytes come */
	unsigned op;        /* the frame in progress */
	int fin;
	uint64_t left;      /* its payload bytes still to come */
	unsigned msg_op;    /* 0, or the opcode of the message in progress (1 text, 2 binary) */
	int msg_started;    /* a piece of it was handed on */
	uint64_t msg_len;   /* its payload so far */
	uint8_t ctl[SSM_WS_CONTROL_MAX];
	size_t ctl_len;
	int failed;         /* a refusal ended the stream: every later feed fails */
};

/* Parse len bytes of the server's frames.  0 when all were consumed; -1 when the stream
 * broke RFC 6455 or the limit (err says how; the connection must be closed); or the first
 * non-zero result of a callback (the rest of p unread). */
int ssm_ws_rx_feed(struct ssm_ws_rx *r, const uint8_t *p, size_t len,
		   const struct ssm_ws_rx_ops *ops, void *ctx, char *err, size_t errlen);

/* A close frame's payload: its status code (1005 when it has none) and reason (printable
 * ASCII kept, the rest as '?'), into out (outlen bytes, NUL-terminated). -1 for a payload
 * of one byte or a code RFC 6455 does not allow on the wire. */
int ssm_ws_close_reason(const uint8_t *p, size_t len, unsigned *code, char *out, size_t outlen);

#endif
