/* link.h - one end of an agent-broker connection (docs/PROTOCOL.md sections 1, 4, 6, 8),
 * with no sessions yet: HELLO exchange, RESUME_DONE, PING/PONG keepalive, GOAWAY, and the
 * protocol errors that end the connection.  No I/O and no libwebsockets here: the program
 * (ssm-broker, ssm-agent) feeds received websocket fragments in, calls the tick on a timer,
 * and writes queued messages out, one per writeable callback, each with SSM_LINK_PRE bytes of
 * headroom before it (libwebsockets' LWS_PRE; the programs check LWS_PRE <= SSM_LINK_PRE).
 * Times are milliseconds of a monotonic clock. */
#ifndef SSM_LINK_H
#define SSM_LINK_H
#include <stddef.h>
#include <stdint.h>
#include "frame.h"

#define SSM_LINK_PRE 32
#define SSM_LINK_MSG_MAX 512 /* a control frame: HELLO, PING, PONG, GOAWAY, CLOSE */
#define SSM_LINK_QUEUE 16    /* queued control frames; a peer that lets more pile up is cut */

enum ssm_link_state {
	SSM_LINK_HELLO_WAIT = 0, /* our HELLO queued, the peer's awaited */
	SSM_LINK_RESUME_WAIT,    /* HELLOs exchanged, our RESUME_DONE sent, the peer's awaited */
	SSM_LINK_UP,             /* both RESUME_DONE: the link carries traffic */
	SSM_LINK_CLOSING,        /* GOAWAY queued or received: close once the queue is empty */
};

/* ssm_link_rx / ssm_link_tick results */
enum {
	SSM_LINK_EV_NONE = 0,
	SSM_LINK_EV_UP = 1,     /* the link just came up (both RESUME_DONEs) */
	SSM_LINK_EV_GOAWAY = 2, /* the peer sent GOAWAY: peer_goaway_* say why; close now */
	SSM_LINK_EV_DEAD = 3,   /* tick: nothing received for dead_after: close now */
	SSM_LINK_EV_ERROR = -1, /* the peer broke the protocol: GOAWAY queued, error says why */
};

struct ssm_link_msg {
	uint8_t buf[SSM_LINK_PRE + SSM_LINK_MSG_MAX];
	size_t len; /* bytes at buf + SSM_LINK_PRE */
};

struct ssm_link {
	enum ssm_frame_role role, peer_role;
	enum ssm_link_state state;
	int64_t ping_after_ms, dead_after_ms;
	int64_t last_rx_ms;   /* last message received (any) */
	int64_t ping_sent_ms; /* 0 if no PING outstanding since the last message received */
	uint64_t ping_nonce;
	/* received message being assembled from websocket fragments */
	uint8_t rx[SSM_FRAME_MAX];
	size_t rx_len;
	int rx_text;
	/* queued messages */
	struct ssm_link_msg q[SSM_LINK_QUEUE];
	unsigned q_head, q_n;
	/* what the peer said */
	char peer_software[SSM_FRAME_SOFTWARE_MAX + 1];
	uint32_t peer_features; /* the peer's HELLO features: a feature is used only when
				 * SSM_FRAME_FEATURES and this both have its bit */
	uint16_t peer_goaway_code;
	uint64_t peer_goaway_retry_ms;
	char peer_goaway_reason[SSM_FRAME_REASON_MAX + 1];
	/* why this side is closing (protocol error, GOAWAY it sent) */
	char error[SSM_FRAME_REASON_MAX + 1];
	uint64_t pings_sent, pongs_received;
	/* Channel frames (OPEN..TERMINATE) once the link is up go to chan_rx when it is set
	 * (ssm_mux_attach sets it, after ssm_link_init, which zeroes it); a negative result ends
	 * the link with GOAWAY (code flow for the SSM_FRAME_E_FLOW_* codes, protocol otherwise)
	 * and err as the reason.  NULL: every channel frame is refused as before. */
	int (*chan_rx)(void *ctx, const struct ssm_frame *f, char *err, size_t errlen);
	void *chan_ctx;
	/* With chan_hello set (ssm_mux_attach), the HELLO exchange hands the resumption to the
	 * channels (section 6): chan_hello is called after the peer's HELLO and this side's
	 * RESUMEs and RESUME_DONE come from the mux's queue; the peer's RESUMEs and its
	 * RESUME_DONE go to chan_rx.  Without it, RESUME_DONE is sent at once and every RESUME
	 * is answered CLOSE unknown. */
	void (*chan_hello)(void *ctx, uint32_t features, int64_t now_ms); /* features: both
									     * sides' */
};

/* Start a connection: role is this side's (agent or broker; the peer must be the other), the
 * keepalive times (0: the protocol's 15 s and 45 s), software for the peer's logs.  Queues
 * HELLO. */
void ssm_link_init(struct ssm_link *l, enum ssm_frame_role role, const char *software,
		   int64_t ping_after_ms, int64_t dead_after_ms, int64_t now_ms);

/* A websocket fragment: first/final as the transport says, binary 0 for a text message. */
int ssm_link_rx(struct ssm_link *l, const uint8_t *p, size_t len, int first, int final,
		int binary, int64_t now_ms);

/* The transport below the link saw the peer break its protocol (a websocket frame RFC 6455
 * does not allow): the same as a protocol error of the link, GOAWAY protocol queued, error
 * set (what: detail).  SSM_LINK_EV_ERROR, or SSM_LINK_EV_NONE when already closing. */
int ssm_link_protocol_error(struct ssm_link *l, const char *what, const char *detail);

/* Keepalive: queues a PING after ping_after of silence; SSM_LINK_EV_DEAD after dead_after. */
int ssm_link_tick(struct ssm_link *l, int64_t now_ms);

/* Queue GOAWAY (code, retry hint, reason) and close once it is written.  0, or -1 when the
 * queue is full (close at once). */
int ssm_link_goaway(struct ssm_link *l, uint16_t code, uint64_t retry_ms, const char *reason);

/* The next queued message (pointer at its first byte, SSM_LINK_PRE bytes of headroom before
 * it), NULL when none; ssm_link_tx_pop drops it once written. */
uint8_t *ssm_link_tx_peek(struct ssm_link *l, size_t *plen);
void ssm_link_tx_pop(struct ssm_link *l);
/* 1 when the connection should be closed now: closing and nothing left to write. */
int ssm_link_done(const struct ssm_link *l);

const char *ssm_link_state_name(enum ssm_link_state s);

#endif
