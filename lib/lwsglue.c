/* lwsglue.c - see lwsglue.h. */
#include "lwsglue.h"
#include <fcntl.h>
#include <unistd.h>
#include <openssl/rand.h>

_Static_assert(LWS_PRE <= SSM_LINK_PRE, "SSM_LINK_PRE must hold LWS_PRE");

int ssm_lws_write_next(struct lws *wsi, struct ssm_link *l, struct ssm_mux *m)
{
	size_t n;
	uint8_t *p = ssm_link_tx_peek(l, &n);

	if (p != NULL) {
		if (lws_write(wsi, p, n, LWS_WRITE_BINARY) != (int)n)
			return -1;
		ssm_link_tx_pop(l);
		lws_callback_on_writable(wsi);
		return 0;
	}
	/* after the HELLOs: the resumption's frames, then (once resumed) traffic */
	if (m != NULL && (l->state == SSM_LINK_UP || l->state == SSM_LINK_RESUME_WAIT) &&
	    (p = ssm_mux_tx_peek(m, &n)) != NULL) {
		if (lws_write(wsi, p, n, LWS_WRITE_BINARY) != (int)n)
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
