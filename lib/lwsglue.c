/* lwsglue.c - see lwsglue.h. */
#include "lwsglue.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "frame.h"
#include "wsclient.h"
#include "wsframe.h"

_Static_assert(LWS_PRE <= SSM_LINK_PRE, "SSM_LINK_PRE must hold LWS_PRE");

/* A dialer's message: framed and masked here (lib/wsframe.h says why), then handed to
 * libwebsockets as LWS_WRITE_HTTP, which its websocket role sends as it is (through TLS,
 * keeping what the socket did not take for later, in order with its own control frames).
 * This relies on the dialers using no websocket extension: with permessage-deflate, 4.1
 * would frame the frame again.  Our copy is wiped (it may hold an OPEN's token, and the
 * masking key travels with it); what libwebsockets keeps of a partial send is its own heap
 * copy, freed unwiped, as it was when it masked the frame itself. */
static int write_dialer(struct lws *wsi, const uint8_t *p, size_t n)
{
	static uint8_t out[LWS_PRE + SSM_WS_HEADER_MAX + SSM_FRAME_MAX];
	uint8_t key[4];
	size_t len;
	int r;

	if (ssm_ws_mask_key(key) < 0)
		return -1;
	len = ssm_ws_client_frame(out + LWS_PRE, sizeof(out) - LWS_PRE, SSM_WS_OP_BINARY, p, n,
				  key);
	if (len == 0)
		return -1;
	r = lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP);
	explicit_bzero(out + LWS_PRE, len);
	return r == (int)len ? 0 : -1;
}

static int write_msg(struct lws *wsi, uint8_t *p, size_t n, int flags)
{
	if (flags & SSM_LWS_DIALER)
		return write_dialer(wsi, p, n);
	return lws_write(wsi, p, n, LWS_WRITE_BINARY) == (int)n ? 0 : -1;
}

int ssm_lws_write_next(struct lws *wsi, struct ssm_link *l, struct ssm_mux *m, int flags)
{
	size_t n;
	uint8_t *p = ssm_link_tx_peek(l, &n);

	if (p != NULL) {
		if (write_msg(wsi, p, n, flags) < 0)
			return -1;
		ssm_link_tx_pop(l);
		lws_callback_on_writable(wsi);
		return 0;
	}
	/* after the HELLOs: the resumption's frames, then (once resumed) traffic */
	if (m != NULL && (l->state == SSM_LINK_UP || l->state == SSM_LINK_RESUME_WAIT) &&
	    (p = ssm_mux_tx_peek(m, &n)) != NULL) {
		if (write_msg(wsi, p, n, flags) < 0)
			return -1;
		ssm_mux_tx_pop(m);
		lws_callback_on_writable(wsi);
		return 0;
	}
	return ssm_link_done(l) ? 1 : 0;
}

struct lws *ssm_lws_watch_fd(struct lws_vhost *vh, const char *protocol, int fd, void *user)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	lws_sock_file_fd_type u;
	struct lws *w;

	if (d < 0 || vh == NULL) {
		if (d >= 0)
			close(d);
		return NULL;
	}
	u.filefd = d;
	w = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, protocol, NULL);
	if (w == NULL) {
		close(d);
		return NULL;
	}
	lws_set_opaque_user_data(w, user);
	return w;
}

void ssm_lws_unwatch(struct lws **pw)
{
	if (*pw != NULL) {
		lws_set_opaque_user_data(*pw, NULL);
		lws_set_timeout(*pw, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		*pw = NULL;
	}
}

int64_t ssm_backoff_next(int64_t *backoff_ms, uint64_t hint_ms)
{
	uint32_t rnd = 0;
	int64_t wait;

	(void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	wait = *backoff_ms / 2 + (int64_t)(rnd % (uint32_t)(*backoff_ms / 2 + 1));
	if ((int64_t)hint_ms > wait)
		wait = (int64_t)hint_ms;
	*backoff_ms = *backoff_ms * 2 > SSM_BACKOFF_MAX_MS ? SSM_BACKOFF_MAX_MS : *backoff_ms * 2;
	return wait;
}
