/* wsdial.c - see wsdial.h. */
#include "wsdial.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "ca.h"
#include "frame.h"
#include "lwsglue.h"
#include "util.h"
#include "wsclient.h"
#include "wsframe.h"

enum wsd_state { WSD_CONNECTING, WSD_TLS, WSD_REQUEST, WSD_ANSWER, WSD_OPEN };

#define OUT_FILL 65536 /* frames gathered into one SSL_write while the queues hold more */
#define OUT_CAP (OUT_FILL + SSM_WS_HEADER_MAX + SSM_FRAME_MAX)
#define READ_BUF 65536
#define READ_PER_TURN (4u << 20) /* then the loop gets a turn before the rest is read */
#define ATTEMPT_S 4              /* one address's connect, when another address is left */
#define DEADLINE_S 5             /* a GOAWAY or close reply's chance to go out, then closed */

struct ssm_wsd {
	struct ssm_wsd_cfg cfg;
	char host[256], ca_file[512];
	enum wsd_state state;
	int fd;
	struct addrinfo *ai_list, *ai_next;
	char connect_err[128];
	struct lws *wsi; /* the loop's watch on fd */
	SSL_CTX *sctx;
	SSL *ssl;
	int name_checked;
	char refusal[1024];
	char key[SSM_WS_KEY_LEN + 1];
	char req[6144]; /* the upgrade request (it may hold the bearer: wiped once sent); a
			 * reconnecting ssm names up to 32 sessions in its path */
	size_t req_len, req_off;
	uint8_t ans[SSM_WS_ANSWER_MAX];
	size_t ans_len;
	struct ssm_ws_rx rx;
	/* the reply to the broker's ping or close, sent before anything else */
	uint8_t ctl_out[SSM_WS_HEADER_MAX + SSM_WS_CONTROL_MAX];
	size_t ctl_out_len;
	int close_after_ctl;   /* the reply is a close: end the connection once it is out */
	int close_after_batch; /* the batch being written holds that close */
	char close_why[256];
	uint8_t out[OUT_CAP]; /* framed messages not yet taken by SSL_write (wiped after) */
	size_t out_len, out_off;
	uint8_t rbuf[READ_BUF];
	int in_wcb, in_rx;
	lws_sorted_usec_list_t sul_rearm, sul_read, sul_timeout, sul_close;
	lws_sorted_usec_list_t sul_attempt; /* one address's connect, when others are left */
	lws_sorted_usec_list_t sul_deadline; /* ending after the broker broke the stream */
	int closed, was_open;
	char why[1100];
};

static void wsd_close(struct ssm_wsd *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void on_readable(struct ssm_wsd *w);
static void flush(struct ssm_wsd *w);

/* --------------------------------------------------------------- helpers */

static void openssl_reason(char *out, size_t outlen)
{
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, out, outlen);
	else
		snprintf(out, outlen, "%s", errno ? strerror(errno) : "connection closed");
	ERR_clear_error();
}

/* POLLOUT, asked the way raw files allow: from inside their writeable callback libwebsockets
 * 4.1 clears it after the callback returns, so it is asked again from the loop */
static void rearm(lws_sorted_usec_list_t *sul)
{
	struct ssm_wsd *w = lws_container_of(sul, struct ssm_wsd, sul_rearm);

	if (w->wsi != NULL)
		lws_callback_on_writable(w->wsi);
}

static void want_pollout(struct ssm_wsd *w)
{
	if (w->wsi == NULL)
		return;
	if (w->in_wcb)
		lws_sul_schedule(w->cfg.ctx, 0, &w->sul_rearm, rearm, 1);
	else
		lws_callback_on_writable(w->wsi);
}

static void read_more(lws_sorted_usec_list_t *sul)
{
	struct ssm_wsd *w = lws_container_of(sul, struct ssm_wsd, sul_read);

	if (!w->closed)
		on_readable(w);
}

static void timed_out(lws_sorted_usec_list_t *sul)
{
	struct ssm_wsd *w = lws_container_of(sul, struct ssm_wsd, sul_timeout);

	if (!w->closed && w->state != WSD_OPEN)
		wsd_close(w, "no websocket from %s:%d within %d s%s%s", w->host, w->cfg.port,
			  w->cfg.timeout_s, w->connect_err[0] ? ": " : "", w->connect_err);
}

static int connect_next(struct ssm_wsd *w);

/* an address that did not answer within ATTEMPT_S: the next one */
static void attempt_timed_out(lws_sorted_usec_list_t *sul)
{
	struct ssm_wsd *w = lws_container_of(sul, struct ssm_wsd, sul_attempt);

	if (w->closed || w->state != WSD_CONNECTING)
		return;
	snprintf(w->connect_err, sizeof(w->connect_err), "no answer within %d s", ATTEMPT_S);
	if (connect_next(w) < 0)
		wsd_close(w, "cannot connect to %s:%d: %s", w->host, w->cfg.port, w->connect_err);
}

/* the broker broke the stream and its GOAWAY (or the close's reply) was not all written
 * within DEADLINE_S: closed anyway */
static void deadline_passed(lws_sorted_usec_list_t *sul)
{
	struct ssm_wsd *w = lws_container_of(sul, struct ssm_wsd, sul_deadline);

	if (!w->closed)
		wsd_close(w, "%s", w->close_why[0] ? w->close_why
			  : "the broker broke the websocket protocol");
}

static void set_deadline(struct ssm_wsd *w)
{
	lws_sul_schedule(w->cfg.ctx, 0, &w->sul_deadline, deadline_passed,
			 (lws_usec_t)DEADLINE_S * LWS_US_PER_SEC);
}

static void closed_cb(lws_sorted_usec_list_t *sul)
{
	struct ssm_wsd *w = lws_container_of(sul, struct ssm_wsd, sul_close);

	w->cfg.on_close(w->cfg.arg, w->was_open, w->why);
	explicit_bzero(w, sizeof(*w));
	free(w);
}

static void wsd_close(struct ssm_wsd *w, const char *fmt, ...)
{
	va_list ap;

	if (w->closed)
		return;
	w->closed = 1;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	if (w->ssl != NULL) {
		if (w->state == WSD_OPEN && w->out_off == w->out_len && !w->close_after_batch) {
			/* a websocket close (1000), once, if the socket takes it */
			static const uint8_t code[2] = { 0x03, 0xe8 };
			uint8_t f[SSM_WS_HEADER_MAX + sizeof(code)], key[4] = { 0 };
			size_t n;

			(void)ssm_ws_mask_key(key);
			n = ssm_ws_client_frame(f, sizeof(f), 0x8, code, sizeof(code), key);
			if (n > 0)
				(void)SSL_write(w->ssl, f, (int)n);
		}
		if (w->state >= WSD_REQUEST)
			(void)SSL_shutdown(w->ssl);
		SSL_free(w->ssl);
		w->ssl = NULL;
		ERR_clear_error();
	}
	if (w->sctx != NULL) {
		SSL_CTX_free(w->sctx);
		w->sctx = NULL;
	}
	ssm_lws_unwatch(&w->wsi);
	if (w->fd >= 0) {
		(void)shutdown(w->fd, SHUT_RDWR); /* the loop's dup of it closes later */
		close(w->fd);
		w->fd = -1;
	}
	if (w->ai_list != NULL) {
		freeaddrinfo(w->ai_list);
		w->ai_list = w->ai_next = NULL;
	}
	explicit_bzero(w->req, sizeof(w->req));
	explicit_bzero(w->out, w->out_len);
	w->out_len = w->out_off = 0;
	lws_sul_cancel(&w->sul_rearm);
	lws_sul_cancel(&w->sul_read);
	lws_sul_cancel(&w->sul_timeout);
	lws_sul_cancel(&w->sul_attempt);
	lws_sul_cancel(&w->sul_deadline);
	lws_sul_schedule(w->cfg.ctx, 0, &w->sul_close, closed_cb, 1);
}

/* --------------------------------------------------------------- TLS */

static int verify_cb(int preverify_ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct ssm_wsd *w = ssl ? SSL_get_app_data(ssl) : NULL;
	int depth = X509_STORE_CTX_get_error_depth(x);

	if (w == NULL)
		return 0;
	if (!preverify_ok) {
		if (!w->refusal[0])
			snprintf(w->refusal, sizeof(w->refusal),
				 "broker certificate refused: %s (depth %d; not issued by the CA "
				 "in %s)",
				 X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)), depth,
				 w->ca_file);
		return 0;
	}
	if (depth == 0) {
		if (!ssm_ca_cert_names(X509_STORE_CTX_get_current_cert(x), w->host)) {
			X509_STORE_CTX_set_error(x, X509_V_ERR_HOSTNAME_MISMATCH);
			snprintf(w->refusal, sizeof(w->refusal),
				 "broker certificate refused: it does not name %s", w->host);
			return 0;
		}
		w->name_checked = 1;
	}
	return 1;
}

static SSL_CTX *tls_ctx(const struct ssm_wsd_cfg *c, char *err, size_t errlen)
{
	static const unsigned char alpn[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
	SSL_CTX *s = SSL_CTX_new(TLS_client_method());
	char why[200];

	if (s == NULL || SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(s, alpn, sizeof(alpn)) != 0) {
		openssl_reason(why, sizeof(why));
		snprintf(err, errlen, "cannot set up TLS: %s", why);
		SSL_CTX_free(s);
		return NULL;
	}
	/* plaintext (an OPEN's token) wiped from OpenSSL's buffers once read */
	SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_CLEANSE_PLAINTEXT);
	if (SSL_CTX_load_verify_file(s, c->ca_file) != 1) {
		openssl_reason(why, sizeof(why));
		snprintf(err, errlen, "cannot read the broker's CA from %s: %s", c->ca_file, why);
		SSL_CTX_free(s);
		return NULL;
	}
	if (c->cert_file != NULL &&
	    (SSL_CTX_use_certificate_chain_file(s, c->cert_file) != 1 ||
	     SSL_CTX_use_PrivateKey_file(s, c->key_file, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(s) != 1)) {
		openssl_reason(why, sizeof(why));
		snprintf(err, errlen, "cannot use the certificate %s and key %s: %s", c->cert_file,
			 c->key_file, why);
		SSL_CTX_free(s);
		return NULL;
	}
	SSL_CTX_set_verify(s, SSL_VERIFY_PEER, verify_cb);
	/* whole records in few reads: the broker's frames come in bulk */
	SSL_CTX_set_read_ahead(s, 1);
	SSL_CTX_set_default_read_buffer_len(s, READ_BUF);
	SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE);
	return s;
}

static int is_address(const char *h)
{
	unsigned char b[16];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

/* --------------------------------------------------------------- connecting */

/* the next address's connect, started; -1 when none is left (connect_err says why) */
static int connect_next(struct ssm_wsd *w)
{
	if (w->wsi != NULL)
		ssm_lws_unwatch(&w->wsi);
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	for (; w->ai_next != NULL; w->ai_next = w->ai_next->ai_next) {
		struct addrinfo *a = w->ai_next;
		int one = 1;
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);

		if (fd < 0) {
			snprintf(w->connect_err, sizeof(w->connect_err), "%s", strerror(errno));
			continue;
		}
		/* small frames (a keystroke, an acknowledgement) go out at once, as lws's do */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			snprintf(w->connect_err, sizeof(w->connect_err), "%s", strerror(errno));
			close(fd);
			continue;
		}
		w->wsi = ssm_lws_watch_fd(w->cfg.vh, SSM_WSD_PROTOCOL, fd, w);
		if (w->wsi == NULL) {
			snprintf(w->connect_err, sizeof(w->connect_err), "cannot watch the socket");
			close(fd);
			continue;
		}
		w->fd = fd;
		w->ai_next = a->ai_next;
		w->state = WSD_CONNECTING;
		if (w->ai_next != NULL)
			lws_sul_schedule(w->cfg.ctx, 0, &w->sul_attempt, attempt_timed_out,
					 (lws_usec_t)ATTEMPT_S * LWS_US_PER_SEC);
		want_pollout(w);
		return 0;
	}
	return -1;
}

static void handshake(struct ssm_wsd *w);

static void check_connect(struct ssm_wsd *w)
{
	int e = 0;
	socklen_t sl = sizeof(e);
	struct sockaddr_storage ss;
	socklen_t al = sizeof(ss);

	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
		e = errno;
	if (e == 0 && getpeername(w->fd, (struct sockaddr *)&ss, &al) < 0) {
		if (errno == ENOTCONN) {
			want_pollout(w); /* not yet */
			return;
		}
		e = errno;
	}
	if (e != 0) {
		snprintf(w->connect_err, sizeof(w->connect_err), "%s", strerror(e));
		if (connect_next(w) < 0)
			wsd_close(w, "cannot connect to %s:%d: %s", w->host, w->cfg.port,
				  w->connect_err);
		return;
	}
	lws_sul_cancel(&w->sul_attempt);
	freeaddrinfo(w->ai_list);
	w->ai_list = w->ai_next = NULL;
	w->connect_err[0] = '\0'; /* connected: an earlier address's failure is no longer news */
	w->ssl = SSL_new(w->sctx);
	if (w->ssl == NULL || SSL_set_fd(w->ssl, w->fd) != 1 || SSL_set_app_data(w->ssl, w) != 1) {
		wsd_close(w, "cannot set up TLS");
		return;
	}
	if (is_address(w->host)) {
		/* checked by verify_cb (ssm_ca_cert_names): an IP SAN */
	} else if (SSL_set_tlsext_host_name(w->ssl, w->host) != 1) {
		wsd_close(w, "cannot set up TLS for %s", w->host);
		return;
	}
	SSL_set_connect_state(w->ssl);
	w->state = WSD_TLS;
	handshake(w);
}

static void send_request(struct ssm_wsd *w);

static void handshake(struct ssm_wsd *w)
{
	char why[200];
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(w->ssl);
	if (r == 1) {
		if (!w->name_checked || SSL_get_verify_result(w->ssl) != X509_V_OK) {
			wsd_close(w, "%s", w->refusal[0] ? w->refusal
				  : "the broker's certificate was not checked");
			return;
		}
		w->state = WSD_REQUEST;
		send_request(w);
		return;
	}
	switch (SSL_get_error(w->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return;
	case SSL_ERROR_WANT_WRITE:
		want_pollout(w);
		return;
	default:
		openssl_reason(why, sizeof(why));
		if (w->refusal[0])
			wsd_close(w, "%s", w->refusal);
		else
			wsd_close(w, "TLS with %s:%d failed: %s", w->host, w->cfg.port, why);
	}
}

/* a read or write that did not complete: 0 to wait (POLLOUT asked when needed), -1 when
 * the connection is over (closed with why) */
static int ssl_wait(struct ssm_wsd *w, int r, const char *what)
{
	char why[200];
	int e = SSL_get_error(w->ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		want_pollout(w);
		return 0;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		wsd_close(w, "the broker closed the connection%s", what);
		return -1;
	}
	openssl_reason(why, sizeof(why));
	wsd_close(w, "the connection to the broker failed%s: %s", what, why);
	return -1;
}

static void send_request(struct ssm_wsd *w)
{
	while (w->req_off < w->req_len) {
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_write(w->ssl, w->req + w->req_off, (int)(w->req_len - w->req_off));
		if (r <= 0) {
			(void)ssl_wait(w, r, " during the websocket upgrade");
			return;
		}
		w->req_off += (size_t)r;
	}
	explicit_bzero(w->req, sizeof(w->req));
	w->state = WSD_ANSWER;
	on_readable(w); /* the answer may be in already */
}

/* --------------------------------------------------------------- frames */

static int rx_data(void *arg, const uint8_t *p, size_t len, int first, int final, int binary)
{
	struct ssm_wsd *w = arg;
	int ev = ssm_link_rx(w->cfg.link, p, len, first, final, binary, ssm_mono_ms());

	if (ev != SSM_LINK_EV_NONE && w->cfg.on_event(w->cfg.arg, ev) < 0) {
		wsd_close(w, "closed by this side");
		return 1;
	}
	return w->closed ? 1 : 0;
}

static int rx_control(void *arg, unsigned op, const uint8_t *p, size_t len)
{
	struct ssm_wsd *w = arg;
	uint8_t key[4];
	char reason[128];
	unsigned code;

	if (op == 0xA)
		return 0; /* a pong: the link has its own keepalive */
	if (ssm_ws_mask_key(key) < 0) {
		wsd_close(w, "no randomness for a masking key");
		return 1;
	}
	if (op == 0x9) {
		/* a ping: answered with its payload (only the latest one, RFC 6455 5.5.3) */
		if (!w->close_after_ctl)
			w->ctl_out_len = ssm_ws_client_frame(w->ctl_out, sizeof(w->ctl_out), 0xA, p,
							     len, key);
		return 0;
	}
	/* a close: answered with its code, then the connection ends */
	if (ssm_ws_close_reason(p, len, &code, reason, sizeof(reason)) < 0) {
		int ev = ssm_link_protocol_error(w->cfg.link, "a broken websocket stream",
						 "a malformed close");

		w->rx.failed = 1;
		set_deadline(w);
		if (ev != SSM_LINK_EV_NONE && w->cfg.on_event(w->cfg.arg, ev) < 0)
			wsd_close(w, "the broker sent a malformed websocket close");
		return 1;
	}
	snprintf(w->close_why, sizeof(w->close_why), "the broker closed the websocket (%u%s%s)",
		 code, reason[0] ? ": " : "", reason);
	w->ctl_out_len = ssm_ws_client_frame(w->ctl_out, sizeof(w->ctl_out), 0x8, p,
					     len >= 2 ? 2 : 0, key);
	w->close_after_ctl = 1;
	set_deadline(w);
	return 1; /* nothing after a close is read */
}

static const struct ssm_ws_rx_ops rx_ops = { rx_data, rx_control };

/* A stream RFC 6455 does not allow ends the link as a protocol error would: GOAWAY
 * protocol (written if the socket takes it), the program told, nothing more read. */
static void feed(struct ssm_wsd *w, const uint8_t *p, size_t n)
{
	char err[160];
	int ev;

	if (w->rx.failed || w->close_after_ctl)
		return; /* after a broken stream or a close: what follows is read and dropped */
	if (ssm_ws_rx_feed(&w->rx, p, n, &rx_ops, w, err, sizeof(err)) != -1 || w->closed)
		return;
	set_deadline(w);
	ev = ssm_link_protocol_error(w->cfg.link, "a broken websocket stream", err);
	if (ev != SSM_LINK_EV_NONE && w->cfg.on_event(w->cfg.arg, ev) < 0)
		wsd_close(w, "the broker broke the websocket protocol: %s", err);
}

static void opened(struct ssm_wsd *w, size_t hdr_len)
{
	size_t extra = w->ans_len - hdr_len;

	lws_sul_cancel(&w->sul_timeout);
	w->state = WSD_OPEN;
	w->was_open = 1;
	memset(&w->rx, 0, sizeof(w->rx));
	w->rx.msg_max = SSM_FRAME_MAX;
	w->cfg.on_open(w->cfg.arg);
	if (extra > 0 && !w->closed) {
		w->in_rx = 1;
		feed(w, w->ans + hdr_len, extra);
		w->in_rx = 0;
	}
	explicit_bzero(w->ans, w->ans_len);
	w->ans_len = 0;
}

static void read_answer(struct ssm_wsd *w)
{
	char err[200];

	while (!w->closed && w->state == WSD_ANSWER) {
		int r, rc;

		ERR_clear_error();
		errno = 0;
		r = SSL_read(w->ssl, w->ans + w->ans_len, (int)(sizeof(w->ans) - w->ans_len));
		if (r <= 0) {
			(void)ssl_wait(w, r, " before answering the websocket upgrade");
			return;
		}
		w->ans_len += (size_t)r;
		rc = ssm_ws_answer(w->ans, w->ans_len, w->key, SSM_FRAME_SUBPROTOCOL, err,
				   sizeof(err));
		if (rc < 0) {
			wsd_close(w, "%s", err);
			return;
		}
		if (rc > 0)
			opened(w, (size_t)rc);
	}
}

static void read_frames(struct ssm_wsd *w)
{
	size_t total = 0;

	while (!w->closed) {
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_read(w->ssl, w->rbuf, sizeof(w->rbuf));
		if (r <= 0) {
			if (ssl_wait(w, r, "") < 0)
				return;
			break;
		}
		w->in_rx = 1;
		feed(w, w->rbuf, (size_t)r);
		w->in_rx = 0;
		explicit_bzero(w->rbuf, (size_t)r); /* a broker's OPEN holds a token */
		if (w->closed)
			return; /* feed closed it (a GOAWAY, on_event): w->ssl is gone */
		total += (size_t)r;
		if (total >= READ_PER_TURN) {
			/* the loop's turn; what OpenSSL holds already would raise no POLLIN */
			if (SSL_has_pending(w->ssl))
				lws_sul_schedule(w->cfg.ctx, 0, &w->sul_read, read_more, 1);
			break;
		}
	}
	flush(w); /* acknowledgements, replies, what the programs queued meanwhile */
}

/* frame into out what the link and the mux have queued, in order (the link's own control
 * frames first, then the mux's once the link is up), up to OUT_FILL bytes */
static void fill(struct ssm_wsd *w)
{
	struct ssm_link *l = w->cfg.link;
	uint8_t *p, key[4];
	size_t n, f;
	int from_mux;

	if (w->ctl_out_len > 0) {
		memcpy(w->out, w->ctl_out, w->ctl_out_len);
		w->out_len = w->ctl_out_len;
		w->ctl_out_len = 0;
		if (w->close_after_ctl) {
			w->close_after_batch = 1;
			return;
		}
	}
	while (w->out_len < OUT_FILL) {
		from_mux = 0;
		p = ssm_link_tx_peek(l, &n);
		if (p == NULL && w->cfg.mux != NULL &&
		    (l->state == SSM_LINK_UP || l->state == SSM_LINK_RESUME_WAIT)) {
			p = ssm_mux_tx_peek(w->cfg.mux, &n);
			from_mux = 1;
		}
		if (p == NULL)
			return;
		if (ssm_ws_mask_key(key) < 0) {
			wsd_close(w, "no randomness for a masking key");
			return;
		}
		f = ssm_ws_client_frame(w->out + w->out_len, sizeof(w->out) - w->out_len,
					SSM_WS_OP_BINARY, p, n, key);
		if (f == 0) {
			wsd_close(w, "a message of %zu bytes does not fit a frame", n);
			return;
		}
		w->out_len += f;
		if (from_mux)
			ssm_mux_tx_pop(w->cfg.mux);
		else
			ssm_link_tx_pop(l);
	}
}

static void flush(struct ssm_wsd *w)
{
	size_t total = 0;

	while (!w->closed && w->state == WSD_OPEN) {
		int r;

		if (w->out_off == w->out_len) {
			if (w->close_after_batch) {
				wsd_close(w, "%s", w->close_why);
				return;
			}
			w->out_len = w->out_off = 0;
			fill(w);
			if (w->closed)
				return;
			if (w->out_len == 0) {
				if (ssm_link_done(w->cfg.link))
					wsd_close(w, "closed by this side");
				return;
			}
		}
		if (total >= READ_PER_TURN) {
			want_pollout(w); /* the rest at the next turn of the loop */
			return;
		}
		ERR_clear_error();
		errno = 0;
		r = SSL_write(w->ssl, w->out + w->out_off, (int)(w->out_len - w->out_off));
		if (r <= 0) {
			(void)ssl_wait(w, r, "");
			return;
		}
		w->out_off += (size_t)r;
		total += (size_t)r;
		if (w->out_off == w->out_len)
			explicit_bzero(w->out, w->out_len); /* an OPEN holds a token */
	}
}

/* The socket is readable (writable: 0) or writable (1): the state's next step. */
static void step(struct ssm_wsd *w, int writable)
{
	switch (w->state) {
	case WSD_CONNECTING:
		check_connect(w);
		break;
	case WSD_TLS:
		handshake(w);
		break;
	case WSD_REQUEST:
		send_request(w);
		break;
	case WSD_ANSWER:
		if (writable)
			break;
		read_answer(w);
		if (!w->closed && w->state == WSD_OPEN)
			read_frames(w);
		break;
	case WSD_OPEN:
		if (writable)
			flush(w);
		else
			read_frames(w);
		break;
	}
}

static void on_readable(struct ssm_wsd *w)
{
	step(w, 0);
}

int ssm_wsd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	const struct lws_protocols *pr;
	struct ssm_wsd *w;

	(void)user;
	(void)in;
	(void)len;
	/* as protocols[0], this sees other descriptors' poll changes too: only the raw-file
	 * events of a socket bound to this protocol carry an ssm_wsd as their opaque data */
	if (reason != LWS_CALLBACK_RAW_RX_FILE && reason != LWS_CALLBACK_RAW_WRITEABLE_FILE &&
	    reason != LWS_CALLBACK_RAW_CLOSE_FILE)
		return 0;
	if (wsi == NULL || (pr = lws_get_protocol(wsi)) == NULL || pr->callback != ssm_wsd_callback)
		return 0;
	w = lws_get_opaque_user_data(wsi);
	if (w == NULL || w->closed || wsi != w->wsi)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		on_readable(w);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		w->in_wcb = 1;
		step(w, 1);
		w->in_wcb = 0;
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		/* a hang-up: what is left is read from the socket itself, then it is over */
		w->wsi = NULL;
		if (w->state == WSD_CONNECTING) {
			int e = 0;
			socklen_t sl = sizeof(e);

			if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0 || e == 0)
				e = ECONNRESET;
			snprintf(w->connect_err, sizeof(w->connect_err), "%s", strerror(e));
			if (connect_next(w) < 0)
				wsd_close(w, "cannot connect to %s:%d: %s", w->host, w->cfg.port,
					  w->connect_err);
			return 0;
		}
		on_readable(w);
		if (!w->closed)
			wsd_close(w, "the connection to the broker was cut");
		return 0;
	default:
		return 0;
	}
}

/* --------------------------------------------------------------- the API */

struct ssm_wsd *ssm_wsd_dial(const struct ssm_wsd_cfg *cfg, char *err, size_t errlen)
{
	struct addrinfo hints;
	char port[16];
	struct ssm_wsd *w;
	int r;

	if (strlen(cfg->host) >= sizeof(w->host) || strlen(cfg->ca_file) >= sizeof(w->ca_file)) {
		snprintf(err, errlen, "the broker's name or CA file name is too long");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->cfg = *cfg;
	w->fd = -1;
	snprintf(w->host, sizeof(w->host), "%s", cfg->host);
	snprintf(w->ca_file, sizeof(w->ca_file), "%s", cfg->ca_file);
	if (ssm_ws_key_new(w->key) < 0 ||
	    (w->req_len = ssm_ws_request(w->req, sizeof(w->req), cfg->host, cfg->port, cfg->path,
					 SSM_FRAME_SUBPROTOCOL, w->key, cfg->bearer)) == 0) {
		snprintf(err, errlen, "cannot build the websocket upgrade for %s", cfg->path);
		goto fail;
	}
	w->sctx = tls_ctx(cfg, err, errlen);
	if (w->sctx == NULL)
		goto fail;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg->port);
	r = getaddrinfo(cfg->host, port, &hints, &w->ai_list);
	if (r != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", cfg->host, gai_strerror(r));
		goto fail;
	}
	w->ai_next = w->ai_list;
	if (connect_next(w) < 0) {
		snprintf(err, errlen, "cannot connect to %s:%d: %s", cfg->host, cfg->port,
			 w->connect_err);
		goto fail;
	}
	lws_sul_schedule(cfg->ctx, 0, &w->sul_timeout, timed_out,
			 (lws_usec_t)cfg->timeout_s * LWS_US_PER_SEC);
	return w;
fail:
	if (w->ai_list != NULL)
		freeaddrinfo(w->ai_list);
	SSL_CTX_free(w->sctx);
	explicit_bzero(w, sizeof(*w));
	free(w);
	return NULL;
}

void ssm_wsd_want_write(struct ssm_wsd *w)
{
	if (w != NULL && !w->closed && w->state == WSD_OPEN && !w->in_rx)
		flush(w);
}

void ssm_wsd_close(struct ssm_wsd *w, const char *why)
{
	if (w != NULL)
		wsd_close(w, "%s", why);
}

void ssm_wsd_free(struct ssm_wsd *w)
{
	if (w == NULL)
		return;
	if (!w->closed)
		wsd_close(w, "closed by this side");
	lws_sul_cancel(&w->sul_close);
	explicit_bzero(w, sizeof(*w));
	free(w);
}

int ssm_wsd_is_open(const struct ssm_wsd *w)
{
	return w != NULL && !w->closed && w->state == WSD_OPEN;
}
