/* test_wsdial.c - the dialers' connection (lib/wsdial.c) driven by a real libwebsockets
 * 4.1 loop and a real struct ssm_link against a fake broker on 127.0.0.1: for each case a
 * forked child listens on an ephemeral port and plays one broker (an OpenSSL TLS server
 * written here, with certificates this test issues in memory through lib/ca.h), and the
 * parent dials it with ssm_wsd_dial and services the loop until on_close (every case is
 * bounded by a deadline on the loop, so a bug fails the case instead of hanging the suite).
 *
 * The cases: a GOAWAY in the read that crosses the 4 MiB per-turn read budget (a
 * regression: the dialer used its freed TLS connection after the GOAWAY closed it), the
 * good path up to the broker's websocket close and the client's reply, a certificate from
 * another CA, a certificate that does not name the address dialled, an HTTP refusal of the
 * upgrade, a masked frame from the broker (a protocol error answered with GOAWAY), nothing
 * listening, and a broker that never speaks TLS (the handshake timeout).  The child checks
 * what the client sends (the upgrade request, its frames masked, the HELLO, the pong, the
 * close reply, the GOAWAY) and reports a failure to the parent through a pipe.
 *
 * No root needed: loopback only; the CA file lives in a mkdtemp directory removed at the
 * end.  Exit 77 (skip) if libwebsockets cannot create a context. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "ca.h"
#include "check.h"
#include "frame.h"
#include "link.h"
#include "util.h"
#include "wsclient.h"
#include "wsdial.h"
#include "wsframe.h"

#define VHOST "test-wsdial"
#define WS_PATH "/v1/test"
#define BEARER "tok"
#define CASE_DEADLINE_S 15    /* the loop of one case, at most */
#define SERVER_WAIT_MS 10000  /* the child's verdict after on_close, at most */
#define BUDGET (4u << 20)     /* lib/wsdial.c's READ_PER_TURN */

/* ==================================================================== the fake broker */

enum behaviour {
	SRV_GOAWAY_BULK, /* 101, HELLO, pings up to just under BUDGET, GOAWAY shutdown */
	SRV_CLOSE,       /* 101, HELLO, RESUME_DONE, a ping; then close 1001 "bye" */
	SRV_REFUSED,     /* the TLS handshake must fail (the client refuses the certificate) */
	SRV_403,         /* the upgrade answered 403 Forbidden */
	SRV_MASKED,      /* 101, HELLO, then a masked frame */
	SRV_SILENT,      /* TCP accepted, nothing ever said */
};

static int srv_report = -1; /* the child's verdict: nothing written means all was well */
static int srv_sync = -1;   /* SRV_GOAWAY_BULK: 'W' all written ahead, 'P' only part */

static void srv_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void srv_fail(const char *fmt, ...)
{
	char m[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (write(srv_report, m, strlen(m)) < 0) {
		/* the parent reads the exit status too */
	}
	_exit(1);
}

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			srv_fail("out of memory");
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* one final frame as a server sends it (unmasked), or masked with mask when not NULL */
static void put_frame(struct buf *b, unsigned op, const uint8_t *p, size_t n,
		      const uint8_t *mask)
{
	uint8_t h[14];
	size_t hl = 2, i;

	h[0] = (uint8_t)(0x80 | op);
	if (n < 126) {
		h[1] = (uint8_t)n;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	if (mask != NULL) {
		h[1] |= 0x80;
		memcpy(h + hl, mask, 4);
		hl += 4;
	}
	buf_put(b, h, hl);
	for (i = 0; i < n; i++) {
		uint8_t c = mask != NULL ? (uint8_t)(p[i] ^ mask[i & 3]) : p[i];

		buf_put(b, &c, 1);
	}
}

/* a link message of the broker: HELLO, RESUME_DONE, PING (value 1) or GOAWAY (code) */
static size_t link_msg(uint8_t *out, size_t cap, uint8_t type, uint16_t code)
{
	struct ssm_frame f;
	size_t n = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.type = type;
	switch (type) {
	case SSM_FRAME_HELLO:
		f.u.hello.role = SSM_ROLE_BROKER;
		f.u.hello.software = ssm_frame_str("test_wsdial broker");
		break;
	case SSM_FRAME_PING:
		f.value = 1;
		break;
	case SSM_FRAME_GOAWAY:
		f.u.close.code = code;
		f.u.close.reason = ssm_frame_str("restart");
		break;
	default:
		break;
	}
	r = ssm_frame_encode(&f, out, cap, &n);
	if (r != 0)
		srv_fail("cannot encode a %s: %s", ssm_frame_type_name(type), ssm_frame_strerror(r));
	return n;
}

static void srv_write_all(SSL *s, const void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		int r = SSL_write(s, (const uint8_t *)p + off, (int)(n - off));

		if (r <= 0)
			srv_fail("the server's SSL_write failed (error %d)", SSL_get_error(s, r));
		off += (size_t)r;
	}
}

/* n bytes from the client, or -1 at its end (close_notify, EOF, reset) */
static int srv_read_exact(SSL *s, void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		int r = SSL_read(s, (uint8_t *)p + off, (int)(n - off));

		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/* the client's next frame, unmasked into pl (cap bytes): 0, or -1 at the connection's end.
 * A client frame without a mask, not final, or too long fails the server. */
static int srv_read_frame(SSL *s, unsigned *op, uint8_t *pl, size_t cap, size_t *plen)
{
	uint8_t h[8], key[4];
	uint64_t n;
	size_t i;

	if (srv_read_exact(s, h, 2) < 0)
		return -1;
	if (!(h[1] & 0x80))
		srv_fail("an unmasked frame from the client (opcode %u)", h[0] & 0x0fu);
	if (!(h[0] & 0x80) || (h[0] & 0x70))
		srv_fail("a client frame not final or with RSV bits (0x%02x)", h[0]);
	n = h[1] & 0x7fu;
	if (n == 126) {
		if (srv_read_exact(s, h, 2) < 0)
			return -1;
		n = (uint64_t)h[0] << 8 | h[1];
	} else if (n == 127) {
		if (srv_read_exact(s, h, 8) < 0)
			return -1;
		n = 0;
		for (i = 0; i < 8; i++)
			n = n << 8 | h[i];
	}
	if (n > cap)
		srv_fail("a client frame of %llu bytes", (unsigned long long)n);
	if (srv_read_exact(s, key, 4) < 0 || srv_read_exact(s, pl, (size_t)n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		pl[i] ^= key[i & 3];
	*op = h[0] & 0x0fu;
	*plen = (size_t)n;
	return 0;
}

/* the request line and the bearer checked; the key into wskey */
static void srv_request(SSL *s, char wskey[SSM_WS_KEY_LEN + 1])
{
	static const char line[] = "GET " WS_PATH " HTTP/1.1\r\n";
	char req[8192], *k;
	size_t len = 0;

	req[0] = '\0';
	while (strstr(req, "\r\n\r\n") == NULL) {
		int r;

		if (len + 1 >= sizeof(req))
			srv_fail("an upgrade request longer than %zu bytes", sizeof(req));
		r = SSL_read(s, req + len, (int)(sizeof(req) - 1 - len));
		if (r <= 0)
			srv_fail("the client ended before its upgrade request was whole");
		len += (size_t)r;
		req[len] = '\0';
	}
	if (strncmp(req, line, sizeof(line) - 1) != 0)
		srv_fail("the request does not start with \"GET " WS_PATH
			 " HTTP/1.1\\r\\n\": %.60s", req);
	if (strstr(req, "\r\nAuthorization: Bearer " BEARER "\r\n") == NULL)
		srv_fail("the request has no \"Authorization: Bearer " BEARER "\" line");
	k = strcasestr(req, "\r\nSec-WebSocket-Key: ");
	if (k == NULL || strlen(k + 21) < SSM_WS_KEY_LEN)
		srv_fail("the request has no Sec-WebSocket-Key");
	memcpy(wskey, k + 21, SSM_WS_KEY_LEN);
	wskey[SSM_WS_KEY_LEN] = '\0';
}

static void srv_answer_101(SSL *s, const char *wskey)
{
	char acc[SSM_WS_ACCEPT_LEN + 1], ans[512];
	int n;

	if (ssm_ws_accept_of(wskey, acc) != 0)
		srv_fail("ssm_ws_accept_of failed");
	n = snprintf(ans, sizeof(ans),
		     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
		     "Sec-WebSocket-Protocol: %s\r\n\r\n",
		     acc, SSM_FRAME_SUBPROTOCOL);
	srv_write_all(s, ans, (size_t)n); /* a record of its own: the answer's read ends there */
}

/* p written with fd non-blocking: on the first would-block the parent is told 'P' (the
 * kernel does not take it all ahead) and the write goes on as the client reads */
static void srv_write_ahead(SSL *s, int fd, const uint8_t *p, size_t n, int *partial)
{
	for (;;) {
		int r = SSL_write(s, p, (int)n), e;
		struct pollfd pf = { fd, POLLOUT, 0 };

		if (r > 0)
			return; /* without SSL_MODE_ENABLE_PARTIAL_WRITE: all of it */
		e = SSL_get_error(s, r);
		if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
			srv_fail("the server's bulk SSL_write failed (error %d)", e);
		if (!*partial) {
			*partial = 1;
			if (write(srv_sync, "P", 1) != 1)
				srv_fail("cannot tell the parent");
		}
		pf.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		(void)poll(&pf, 1, -1);
	}
}

/* HELLO, websocket pings, then a GOAWAY whose last byte is the BUDGET-th byte of frames:
 * the read that crosses lib/wsdial.c's per-turn budget is the one that holds the GOAWAY
 * (when everything arrives in one turn of the loop, which the big send buffer and the
 * parent waiting in on_open for 'W' arrange) */
static void srv_goaway_bulk(SSL *s, int fd)
{
	uint8_t msg[SSM_LINK_MSG_MAX], pl[125], f[SSM_FRAME_MAX];
	struct buf bulk = { 0 }, goaway = { 0 };
	size_t n, left;
	unsigned op;
	int partial = 0, fl, close_code = -1;

	memset(pl, 'p', sizeof(pl));
	n = link_msg(msg, sizeof(msg), SSM_FRAME_HELLO, 0);
	put_frame(&bulk, SSM_WS_OP_BINARY, msg, n, NULL);
	n = link_msg(msg, sizeof(msg), SSM_FRAME_GOAWAY, SSM_CODE_SHUTDOWN);
	put_frame(&goaway, SSM_WS_OP_BINARY, msg, n, NULL);
	/* pings of 2..127 bytes (payload 0..125) filling exactly up to the GOAWAY */
	left = BUDGET - goaway.len - bulk.len;
	while (left > 0) {
		size_t fl2 = left < 127 ? left : 127;

		if (left - fl2 == 1)
			fl2--; /* never leave a single byte: a frame is at least 2 */
		put_frame(&bulk, 0x9, pl, fl2 - 2, NULL);
		left -= fl2;
	}
	if (bulk.len + goaway.len != BUDGET)
		srv_fail("the pings do not add up: %zu + %zu", bulk.len, goaway.len);
	fl = fcntl(fd, F_GETFL);
	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	srv_write_ahead(s, fd, bulk.p, bulk.len, &partial);
	srv_write_ahead(s, fd, goaway.p, goaway.len, &partial); /* a record of its own */
	(void)fcntl(fd, F_SETFL, fl);
	if (!partial && write(srv_sync, "W", 1) != 1)
		srv_fail("cannot tell the parent");
	/* the client's websocket close (1000, lib/wsdial.c's wsd_close) before its end */
	while (srv_read_frame(s, &op, f, sizeof(f), &n) == 0)
		if (op == 0x8 && close_code < 0)
			close_code = n >= 2 ? f[0] << 8 | f[1] : 1005;
	if (close_code != 1000)
		srv_fail("the client's websocket close: %d, not 1000", close_code);
}

static void srv_close_1001(SSL *s)
{
	static const uint8_t bye[] = { 0x03, 0xe9, 'b', 'y', 'e' };
	uint8_t msg[SSM_LINK_MSG_MAX], f[SSM_FRAME_MAX];
	struct buf b = { 0 }, c = { 0 };
	struct ssm_frame fr;
	size_t n;
	unsigned op;
	int hello = 0, pong = 0;

	n = link_msg(msg, sizeof(msg), SSM_FRAME_HELLO, 0);
	put_frame(&b, SSM_WS_OP_BINARY, msg, n, NULL);
	n = link_msg(msg, sizeof(msg), SSM_FRAME_RESUME_DONE, 0);
	put_frame(&b, SSM_WS_OP_BINARY, msg, n, NULL);
	put_frame(&b, 0x9, (const uint8_t *)"p2", 2, NULL);
	srv_write_all(s, b.p, b.len);
	/* the client's HELLO (role client) and its pong "p2" (which lib/wsdial.c sends
	 * ahead of the link's messages) */
	while (!hello || !pong) {
		if (srv_read_frame(s, &op, f, sizeof(f), &n) < 0)
			srv_fail("the client ended before its HELLO (%d) and pong (%d)", hello,
				 pong);
		if (op == SSM_WS_OP_BINARY && !hello) {
			if (ssm_frame_decode(f, n, &fr) != 0 || fr.type != SSM_FRAME_HELLO ||
			    fr.u.hello.role != SSM_ROLE_CLIENT)
				srv_fail("the client's first message is not a HELLO of a client");
			hello = 1;
		} else if (op == 0xA) {
			if (n != 2 || memcmp(f, "p2", 2) != 0)
				srv_fail("the client's pong carries %zu bytes, not \"p2\"", n);
			pong = 1;
		} else if (op == 0x8) {
			srv_fail("the client closed instead of answering the ping");
		}
	}
	put_frame(&c, 0x8, bye, sizeof(bye), NULL);
	srv_write_all(s, c.p, c.len);
	for (;;) {
		if (srv_read_frame(s, &op, f, sizeof(f), &n) < 0)
			srv_fail("the client ended without answering the close");
		if (op == 0x8)
			break;
	}
	if (n < 2 || f[0] != 0x03 || f[1] != 0xe9)
		srv_fail("the client's close reply is %zu bytes, %02x %02x, not 03 e9...", n,
			 n > 0 ? f[0] : 0, n > 1 ? f[1] : 0);
	while (srv_read_frame(s, &op, f, sizeof(f), &n) == 0)
		if (op != 0x8)
			srv_fail("the client sent opcode %u after its close", op);
}

static void srv_masked(SSL *s)
{
	static const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	uint8_t msg[SSM_LINK_MSG_MAX], f[SSM_FRAME_MAX];
	struct buf b = { 0 };
	struct ssm_frame fr;
	size_t n;
	unsigned op;

	n = link_msg(msg, sizeof(msg), SSM_FRAME_HELLO, 0);
	put_frame(&b, SSM_WS_OP_BINARY, msg, n, NULL);
	n = link_msg(msg, sizeof(msg), SSM_FRAME_PING, 0);
	put_frame(&b, SSM_WS_OP_BINARY, msg, n, mask);
	srv_write_all(s, b.p, b.len);
	for (;;) {
		if (srv_read_frame(s, &op, f, sizeof(f), &n) < 0)
			srv_fail("the client ended without a GOAWAY");
		if (op != SSM_WS_OP_BINARY)
			continue;
		if (ssm_frame_decode(f, n, &fr) != 0)
			srv_fail("the client sent a message that does not decode");
		if (fr.type == SSM_FRAME_GOAWAY)
			break;
	}
	if (fr.u.close.code != SSM_CODE_PROTOCOL)
		srv_fail("the client's GOAWAY has code %u, not protocol",
			 (unsigned)fr.u.close.code);
	(void)SSL_shutdown(s); /* then the child's end closes the socket */
}

static void server(enum behaviour b, int ls, X509 *cert, EVP_PKEY *key)
{
	char wskey[SSM_WS_KEY_LEN + 1];
	SSL_CTX *c;
	SSL *s;
	int fd;

	alarm(30); /* a child never outlives a broken parent for long */
	fd = accept(ls, NULL, NULL);
	close(ls);
	if (fd < 0)
		srv_fail("accept: %s", strerror(errno));
	if (b == SRV_SILENT) {
		char junk[4096];

		while (read(fd, junk, sizeof(junk)) > 0)
			;
		_exit(0);
	}
	if (b == SRV_GOAWAY_BULK) {
		/* room for everything ahead of the client's reads (FORCE needs CAP_NET_ADMIN:
		 * without it the kernel caps the size at net.core.wmem_max) */
		int big = 32 << 20;

		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) != 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	}
	c = SSL_CTX_new(TLS_server_method());
	if (c == NULL || SSL_CTX_use_certificate(c, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(c, key) != 1 || (s = SSL_new(c)) == NULL ||
	    SSL_set_fd(s, fd) != 1)
		srv_fail("cannot set up the server's TLS");
	if (SSL_accept(s) != 1) {
		if (b == SRV_REFUSED)
			_exit(0); /* as expected: the client refused the certificate */
		srv_fail("the server's TLS handshake failed");
	}
	if (b == SRV_REFUSED)
		srv_fail("the client completed a TLS handshake it should have refused");
	srv_request(s, wskey);
	switch (b) {
	case SRV_GOAWAY_BULK:
		srv_answer_101(s, wskey);
		srv_goaway_bulk(s, fd);
		break;
	case SRV_CLOSE:
		srv_answer_101(s, wskey);
		srv_close_1001(s);
		break;
	case SRV_403: {
		static const char a[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
		char junk[4096];

		srv_write_all(s, a, sizeof(a) - 1);
		while (SSL_read(s, junk, sizeof(junk)) > 0)
			;
		break;
	}
	case SRV_MASKED:
		srv_answer_101(s, wskey);
		srv_masked(s);
		break;
	default:
		break;
	}
	_exit(0);
}

/* ==================================================================== the parent */

struct srv {
	pid_t pid;
	int port;
	int report; /* read end of the child's verdict */
	int sync;   /* read end of SRV_GOAWAY_BULK's word, or -1 */
};

/* a socket listening on 127.0.0.1 at an ephemeral port */
static int listen_any(int *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 4) != 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
		perror("a socket on 127.0.0.1");
		exit(99);
	}
	*port = ntohs(a.sin_port);
	return ls;
}

static void srv_start(struct srv *sv, enum behaviour b, X509 *cert, EVP_PKEY *key)
{
	int rep[2], syn[2] = { -1, -1 };
	int ls = listen_any(&sv->port);

	if (pipe2(rep, O_CLOEXEC) != 0 || (b == SRV_GOAWAY_BULK && pipe2(syn, O_CLOEXEC) != 0)) {
		perror("pipe2");
		exit(99);
	}
	fflush(stdout);
	fflush(stderr);
	sv->pid = fork();
	if (sv->pid < 0) {
		perror("fork");
		exit(99);
	}
	if (sv->pid == 0) {
		close(rep[0]);
		if (syn[0] >= 0)
			close(syn[0]);
		srv_report = rep[1];
		srv_sync = syn[1];
		server(b, ls, cert, key);
		_exit(0);
	}
	close(ls);
	close(rep[1]);
	if (syn[1] >= 0)
		close(syn[1]);
	sv->report = rep[0];
	sv->sync = syn[0];
}

static int64_t mono_ms(void)
{
	return ssm_mono_ms();
}

/* the child's verdict ("" when it found nothing wrong), once it has ended */
static void srv_finish(struct srv *sv, char *out, size_t cap)
{
	int64_t end = mono_ms() + SERVER_WAIT_MS;
	size_t len = 0;
	int status = 0, killed = 0;

	out[0] = '\0';
	for (;;) {
		struct pollfd pf = { sv->report, POLLIN, 0 };
		int64_t left = end - mono_ms();
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			kill(sv->pid, SIGKILL);
			killed = 1;
			break;
		}
		r = read(sv->report, out + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* the child's end */
		len += (size_t)r;
		out[len] = '\0';
		if (len + 1 >= cap)
			break;
	}
	close(sv->report);
	if (sv->sync >= 0)
		close(sv->sync);
	while (waitpid(sv->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (killed)
		snprintf(out + len, cap - len, "%sthe server did not end within %d s", len ? "; " : "",
			 SERVER_WAIT_MS / 1000);
	else if (len == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		snprintf(out, cap, "the server ended with status 0x%x", (unsigned)status);
}

/* one dial and what its callbacks saw */
struct run {
	int sync_fd; /* on_open waits for the server's 'W' or 'P' on it (or -1) */
	char sync;
	int opened, closes, was_open, nev, ev[16];
	char why[1200];
	struct ssm_wsd *w;
	struct lws_context *ctx;
	int timed_out;
	lws_sorted_usec_list_t sul_deadline;
	struct ssm_link link;
};

static void on_open(void *arg)
{
	struct run *r = arg;

	r->opened++;
	ssm_link_init(&r->link, SSM_ROLE_CLIENT, "test_wsdial", 0, 0, ssm_mono_ms());
	if (r->sync_fd >= 0) {
		/* the regression case: the loop's turn waits until the server has written
		 * everything (or says it cannot), so it all comes in one turn */
		struct pollfd pf = { r->sync_fd, POLLIN, 0 };

		if (poll(&pf, 1, SERVER_WAIT_MS) == 1 && read(r->sync_fd, &r->sync, 1) == 1)
			return;
		r->sync = '?';
	}
}

static int on_event(void *arg, int ev)
{
	struct run *r = arg;

	if (r->nev < (int)(sizeof(r->ev) / sizeof(r->ev[0])))
		r->ev[r->nev] = ev;
	r->nev++;
	return ev == SSM_LINK_EV_GOAWAY ? -1 : 0;
}

static void on_close(void *arg, int was_open, const char *why)
{
	struct run *r = arg;

	r->closes++;
	r->was_open = was_open;
	snprintf(r->why, sizeof(r->why), "%s", why);
	r->w = NULL; /* freed when this returns */
	lws_cancel_service(r->ctx); /* called from a timer: the loop would wait in poll */
}

static void deadline_cb(lws_sorted_usec_list_t *sul)
{
	struct run *r = lws_container_of(sul, struct run, sul_deadline);

	r->timed_out = 1;
	lws_cancel_service(r->ctx);
}

static const struct lws_protocols protocols[] = {
	SSM_WSD_PROTOCOL_ENTRY,
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static struct lws_context *new_context(void)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.vhost_name = VHOST;
	return lws_create_context(&info);
}

static const char *ca_file_path; /* this test's CA, in the scratch directory */
static struct run R;

/* dial 127.0.0.1:port and service the loop until on_close or the deadline; 0, or -1 when
 * ssm_wsd_dial refused to start (dial_err says why) */
static int dial_run(struct run *r, int port, int timeout_s, int sync_fd, double *secs,
		    char *dial_err, size_t errlen)
{
	struct ssm_wsd_cfg c;
	struct lws_context *ctx;
	struct timespec t0, t1;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->sync_fd = sync_fd;
	dial_err[0] = '\0';
	*secs = 0;
	ctx = new_context();
	if (ctx == NULL) {
		snprintf(dial_err, errlen, "no libwebsockets context");
		return -1;
	}
	r->ctx = ctx;
	memset(&c, 0, sizeof(c));
	c.ctx = ctx;
	c.vh = lws_get_vhost_by_name(ctx, VHOST);
	c.host = "127.0.0.1";
	c.port = port;
	c.path = WS_PATH;
	c.ca_file = ca_file_path;
	c.bearer = BEARER;
	c.timeout_s = timeout_s;
	c.link = &r->link;
	c.mux = NULL;
	c.on_open = on_open;
	c.on_event = on_event;
	c.on_close = on_close;
	c.arg = r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->w = ssm_wsd_dial(&c, dial_err, errlen);
	if (r->w == NULL) {
		rc = -1;
	} else {
		lws_sul_schedule(ctx, 0, &r->sul_deadline, deadline_cb,
				 (lws_usec_t)CASE_DEADLINE_S * LWS_US_PER_SEC);
		while (!r->closes && !r->timed_out)
			if (lws_service(ctx, 0) < 0)
				break;
		lws_sul_cancel(&r->sul_deadline);
		if (!r->closes) {
			ssm_wsd_free(r->w); /* without on_close */
			r->w = NULL;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	lws_context_destroy(ctx);
	return rc;
}

static void report(const char *name, const struct run *r, double secs, const char *verdict)
{
	printf("%-36s %5.2f s  open %d, events %d, close %d%s: %s%s%s\n", name, secs, r->opened,
	       r->nev, r->closes, r->timed_out ? " (TIMED OUT)" : "", r->why,
	       verdict[0] ? "; server: " : "", verdict);
}

/* the common end of a case: on_close once, in time, was_open as expected, why holding want */
static void check_end(const char *name, const struct run *r, int was_open, const char *want)
{
	CHECK(!r->timed_out, "%s: no on_close within %d s", name, CASE_DEADLINE_S);
	CHECK(r->closes == 1, "%s: on_close called %d times", name, r->closes);
	CHECK(r->was_open == was_open, "%s: was_open %d", name, r->was_open);
	CHECK(r->opened == was_open, "%s: on_open called %d times", name, r->opened);
	CHECK(strstr(r->why, want) != NULL, "%s: why \"%s\" lacks \"%s\"", name, r->why, want);
}

static void check_events(const char *name, const struct run *r, int ev)
{
	if (ev == SSM_LINK_EV_NONE)
		CHECK(r->nev == 0, "%s: %d events (the first %d)", name, r->nev, r->ev[0]);
	else
		CHECK(r->nev == 1 && r->ev[0] == ev, "%s: events %d (the first %d), not just %d",
		      name, r->nev, r->ev[0], ev);
}

/* a case with a fake broker: the dial, then the child's verdict */
static void run_server_case(const char *name, enum behaviour b, X509 *cert, EVP_PKEY *key,
			    int timeout_s, double *secs, char *verdict, size_t vlen)
{
	struct srv sv;
	char err[512];

	srv_start(&sv, b, cert, key);
	if (dial_run(&R, sv.port, timeout_s, sv.sync, secs, err, sizeof(err)) < 0) {
		CHECK(0, "%s: ssm_wsd_dial failed: %s", name, err);
		snprintf(R.why, sizeof(R.why), "(dial failed: %s)", err);
	}
	srv_finish(&sv, verdict, vlen);
	report(name, &R, *secs, verdict);
	CHECK(verdict[0] == '\0', "%s: the server found: %s", name, verdict);
}

static void case_goaway_at_budget(X509 *cert, EVP_PKEY *key)
{
	const char *name = "1 GOAWAY in the budget's last read";
	char verdict[1024];
	double secs;

	run_server_case(name, SRV_GOAWAY_BULK, cert, key, 10, &secs, verdict, sizeof(verdict));
	check_end(name, &R, 1, "closed by this side");
	check_events(name, &R, SSM_LINK_EV_GOAWAY);
	CHECK(R.link.peer_goaway_code == SSM_CODE_SHUTDOWN &&
		      strcmp(R.link.peer_goaway_reason, "restart") == 0,
	      "%s: the link's GOAWAY: code %u, \"%s\"", name, (unsigned)R.link.peer_goaway_code,
	      R.link.peer_goaway_reason);
	CHECK(R.sync == 'W' || R.sync == 'P', "%s: no word from the server in on_open ('%c')",
	      name, R.sync ? R.sync : '0');
	if (R.sync == 'P')
		printf("  note: the kernel did not take the server's %u bytes ahead of the "
		       "client's reads: the budget crossing may not have been exercised\n",
		       BUDGET);
}

static void case_close_1001(X509 *cert, EVP_PKEY *key)
{
	const char *name = "2 the broker's websocket close";
	char verdict[1024];
	double secs;

	run_server_case(name, SRV_CLOSE, cert, key, 10, &secs, verdict, sizeof(verdict));
	check_end(name, &R, 1, "closed the websocket (1001: bye)");
	check_events(name, &R, SSM_LINK_EV_UP);
}

static void case_refused(const char *name, X509 *cert, EVP_PKEY *key, const char *want)
{
	char verdict[1024];
	double secs;

	run_server_case(name, SRV_REFUSED, cert, key, 10, &secs, verdict, sizeof(verdict));
	check_end(name, &R, 0, want);
	check_events(name, &R, SSM_LINK_EV_NONE);
}

static void case_403(X509 *cert, EVP_PKEY *key)
{
	const char *name = "5 the upgrade refused (403)";
	char verdict[1024];
	double secs;

	run_server_case(name, SRV_403, cert, key, 10, &secs, verdict, sizeof(verdict));
	check_end(name, &R, 0, "403");
	check_events(name, &R, SSM_LINK_EV_NONE);
}

static void case_masked(X509 *cert, EVP_PKEY *key)
{
	const char *name = "6 a masked frame from the broker";
	char verdict[1024];
	double secs;

	run_server_case(name, SRV_MASKED, cert, key, 10, &secs, verdict, sizeof(verdict));
	check_end(name, &R, 1, ""); /* this side's close or the broker's, whichever is first */
	CHECK(R.why[0] != '\0', "%s: on_close without a reason", name);
	check_events(name, &R, SSM_LINK_EV_ERROR);
	CHECK(strstr(R.link.error, "a broken websocket stream") != NULL,
	      "%s: the link's error \"%s\"", name, R.link.error);
	printf("  the link's error: %s\n", R.link.error);
}

static void case_nothing_listening(void)
{
	const char *name = "7 nothing listening";
	char err[512];
	double secs;
	int port, ls = listen_any(&port);

	close(ls); /* the port is free again: a connect is refused */
	if (dial_run(&R, port, 10, -1, &secs, err, sizeof(err)) < 0) {
		printf("%-36s %5.2f s  ssm_wsd_dial: %s\n", name, secs, err);
		CHECK(strstr(err, "cannot connect") != NULL, "%s: dial error \"%s\"", name, err);
		CHECK(R.opened == 0 && R.closes == 0, "%s: callbacks after a failed dial", name);
		return;
	}
	report(name, &R, secs, "");
	check_end(name, &R, 0, "cannot connect");
	check_events(name, &R, SSM_LINK_EV_NONE);
}

static void case_silent(X509 *cert, EVP_PKEY *key)
{
	const char *name = "8 no TLS from the broker (1 s)";
	char verdict[1024];
	double secs;

	run_server_case(name, SRV_SILENT, cert, key, 1, &secs, verdict, sizeof(verdict));
	check_end(name, &R, 0, "within 1 s");
	check_events(name, &R, SSM_LINK_EV_NONE);
	CHECK(secs >= 0.9 && secs < 3.0, "%s: on_close after %.2f s", name, secs);
}

int main(void)
{
	const char *ip_ok[] = { "127.0.0.1" }, *ip_other[] = { "127.0.0.2" };
	struct ssm_ca *ca = NULL, *other = NULL;
	X509 *cert_ok = NULL, *cert_foreign = NULL, *cert_wrong_ip = NULL;
	EVP_PKEY *key;
	struct lws_context *probe;
	char dir[] = "/tmp/test_wsdial.XXXXXX", path[64], err[512], *pem = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	lws_set_log_level(LLL_ERR, NULL);
	probe = new_context();
	if (probe == NULL) {
		printf("test_wsdial: SKIP: libwebsockets cannot create a context\n");
		return 77;
	}
	lws_context_destroy(probe);
	alarm(8 * (CASE_DEADLINE_S + SERVER_WAIT_MS / 1000) + 30); /* the last resort */

	/* the broker's CA and certificates, another CA's, and one for another address */
	key = ssm_ca_keygen();
	if (key == NULL || ssm_ca_create("test_wsdial CA", now, 2, &ca, err, sizeof(err)) != 0 ||
	    ssm_ca_create("test_wsdial other CA", now, 2, &other, err, sizeof(err)) != 0 ||
	    ssm_ca_issue_server(ca, key, ip_ok, 1, now, 2, &cert_ok, err, sizeof(err)) != 0 ||
	    ssm_ca_issue_server(other, key, ip_ok, 1, now, 2, &cert_foreign, err, sizeof(err)) !=
		    0 ||
	    ssm_ca_issue_server(ca, key, ip_other, 1, now, 2, &cert_wrong_ip, err, sizeof(err)) !=
		    0 ||
	    ssm_ca_cert_pem(ssm_ca_cert(ca), &pem) != 0) {
		fprintf(stderr, "cannot make the test's certificates: %s\n", err);
		return 99;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	ca_file_path = path;
	if (ssm_ca_write_file(path, pem, strlen(pem), 0644, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		rmdir(dir);
		return 99;
	}

	case_goaway_at_budget(cert_ok, key);
	case_close_1001(cert_ok, key);
	case_refused("3 a certificate of another CA", cert_foreign, key,
		     "broker certificate refused");
	case_refused("4 a certificate for 127.0.0.2", cert_wrong_ip, key,
		     "broker certificate refused: it does not name 127.0.0.1");
	case_403(cert_ok, key);
	case_masked(cert_ok, key);
	case_nothing_listening();
	case_silent(cert_ok, key);

	rc = check_done("test_wsdial");
	unlink(path);
	if (rmdir(dir) != 0)
		perror(dir);
	free(pem);
	X509_free(cert_ok);
	X509_free(cert_foreign);
	X509_free(cert_wrong_ip);
	EVP_PKEY_free(key);
	ssm_ca_free(ca);
	ssm_ca_free(other);
	return rc;
}
