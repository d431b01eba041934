/* lwsglue.h - what ssm-agent, ssm-broker and ssm share around libwebsockets 4.1 (which owns
 * each program's loop): writing a link's next message, and watching a descriptor. */
#ifndef SSM_LWSGLUE_H
#define SSM_LWSGLUE_H
#include <libwebsockets.h>
#include "link.h"
#include "mux.h"

/* One writeable callback's work for link l and its mux m: write the next message (the
 * link's own control frames first, then, once the link is up, the mux's), and ask for
 * another callback when one was written.  0, -1 when the write failed (close), 1 when the
 * link is done (GOAWAY sent and nothing left: close).  flags: SSM_LWS_DIALER on a
 * connection this side dialled with libwebsockets' websocket client (bench/loadhosts; ssm
 * and ssm-agent use lib/wsdial.c instead): its messages are framed and masked by
 * lib/wsframe.c instead of by libwebsockets 4.1's byte-at-a-time loop. */
#define SSM_LWS_DIALER 0x1
int ssm_lws_write_next(struct lws *wsi, struct ssm_link *l, struct ssm_mux *m, int flags);

/* Watch fd in the loop without handing it over: a dup() of it (close-on-exec) is adopted as
 * a raw file of protocol (its RAW_RX_FILE / RAW_WRITEABLE_FILE say when fd is ready;
 * RAW_CLOSE_FILE when libwebsockets saw a hang-up and closed the dup), with user as its
 * opaque user data.  Reads and writes go to fd itself, so a hang-up never loses bytes still
 * buffered.  NULL on failure. */
struct lws *ssm_lws_watch_fd(struct lws_vhost *vh, const char *protocol, int fd, void *user);
/* Stop watching: the dup is closed asynchronously, user data cleared, *pw set to NULL. */
void ssm_lws_unwatch(struct lws **pw);

/* The reconnect backoff of the dialers (ssm-agent, ssm, bench/loadhosts): the wait before
 * the next attempt, drawn uniformly from half to all of *backoff_ms and at least hint_ms (a
 * GOAWAY's retry hint); *backoff_ms then doubles, up to SSM_BACKOFF_MAX_MS.  A dialer
 * starts from, and after a link came up returns to, SSM_BACKOFF_MIN_MS. */
#define SSM_BACKOFF_MIN_MS 1000
#define SSM_BACKOFF_MAX_MS 30000
int64_t ssm_backoff_next(int64_t *backoff_ms, uint64_t hint_ms);

#endif
