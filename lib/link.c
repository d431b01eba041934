/* link.c - one end of an agent-broker connection, see link.h. */
#include "link.h"
#include <stdio.h>
#include <string.h>

static struct ssm_link_msg *q_slot(struct ssm_link *l)
{
	struct ssm_link_msg *m;

	if (l->q_n >= SSM_LINK_QUEUE)
		return NULL;
	m = &l->q[(l->q_head + l->q_n) % SSM_LINK_QUEUE];
	return m;
}

/* Encode f into the next queue slot.  0, or -1 (queue full or a frame this code should never
 * build). */
static int queue(struct ssm_link *l, const struct ssm_frame *f)
{
	struct ssm_link_msg *m = q_slot(l);

	if (m == NULL)
		return -1;
	if (ssm_frame_encode(f, m->buf + SSM_LINK_PRE, SSM_LINK_MSG_MAX, &m->len) != 0)
		return -1;
	l->q_n++;
	return 0;
}

static int queue_simple(struct ssm_link *l, uint8_t type, uint64_t value)
{
	struct ssm_frame f;

	memset(&f, 0, sizeof(f));
	f.type = type;
	f.value = value;
	return queue(l, &f);
}

void ssm_link_init(struct ssm_link *l, enum ssm_frame_role role, const char *software,
		   int64_t ping_after_ms, int64_t dead_after_ms, int64_t now_ms)
{
	struct ssm_frame f;

	memset(l, 0, sizeof(*l));
	l->role = role;
	l->peer_role = role == SSM_ROLE_BROKER ? SSM_ROLE_AGENT : SSM_ROLE_BROKER;
	l->ping_after_ms = ping_after_ms > 0 ? ping_after_ms : SSM_FRAME_PING_IDLE * 1000;
	l->dead_after_ms = dead_after_ms > 0 ? dead_after_ms : SSM_FRAME_DEAD_IDLE * 1000;
	l->last_rx_ms = now_ms;
	l->state = SSM_LINK_HELLO_WAIT;
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_HELLO;
	f.u.hello.features = SSM_FRAME_FEATURES;
	f.u.hello.role = (uint8_t)role;
	f.u.hello.software = ssm_frame_str(software);
	if (f.u.hello.software.len > SSM_FRAME_SOFTWARE_MAX)
		f.u.hello.software.len = SSM_FRAME_SOFTWARE_MAX;
	(void)queue(l, &f); /* the queue is empty: cannot fail for a valid software string */
}

int ssm_link_goaway(struct ssm_link *l, uint16_t code, uint64_t retry_ms, const char *reason)
{
	struct ssm_frame f;

	if (l->state == SSM_LINK_CLOSING)
		return 0;
	l->state = SSM_LINK_CLOSING;
	if (l->error[0] == '\0')
		snprintf(l->error, sizeof(l->error), "%s", reason ? reason : "");
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_GOAWAY;
	f.value = retry_ms > SSM_FRAME_GOAWAY_RETRY_MAX ? SSM_FRAME_GOAWAY_RETRY_MAX : retry_ms;
	f.u.close.code = code;
	f.u.close.reason = ssm_frame_str(reason);
	if (f.u.close.reason.len > SSM_FRAME_REASON_MAX)
		f.u.close.reason.len = SSM_FRAME_REASON_MAX;
	/* control frames of a closing link are dropped: GOAWAY goes out next */
	l->q_n = 0;
	return queue(l, &f);
}

static int link_error(struct ssm_link *l, uint16_t code, const char *what, const char *detail)
{
	char reason[SSM_FRAME_REASON_MAX + 1];

	snprintf(reason, sizeof(reason), "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
	snprintf(l->error, sizeof(l->error), "%s", reason);
	(void)ssm_link_goaway(l, code, 1000, reason);
	return SSM_LINK_EV_ERROR;
}

static int protocol_error(struct ssm_link *l, const char *what, const char *detail)
{
	return link_error(l, SSM_CODE_PROTOCOL, what, detail);
}

int ssm_link_protocol_error(struct ssm_link *l, const char *what, const char *detail)
{
	if (l->state == SSM_LINK_CLOSING)
		return SSM_LINK_EV_NONE;
	return protocol_error(l, what, detail);
}

/* One whole message. */
static int chan_error(struct ssm_link *l, int r, const char *err)
{
	return link_error(l,
			  r <= SSM_FRAME_E_FLOW_GAP && r >= SSM_FRAME_E_FLOW_GRANT ? SSM_CODE_FLOW
										 : SSM_CODE_PROTOCOL,
			  err[0] ? err : ssm_frame_strerror(r), NULL);
}

static int on_message(struct ssm_link *l, const uint8_t *buf, size_t len, int64_t now_ms)
{
	struct ssm_frame f;
	int r = ssm_frame_decode(buf, len, &f);

	if (r != 0)
		return protocol_error(l, "bad frame", ssm_frame_strerror(r));
	if (l->state == SSM_LINK_HELLO_WAIT) {
		if (f.type != SSM_FRAME_HELLO)
			return protocol_error(l, "expected HELLO, got", ssm_frame_type_name(f.type));
		if (f.u.hello.role != l->peer_role)
			return protocol_error(l, "HELLO from the wrong role", NULL);
		ssm_frame_str_copy(l->peer_software, sizeof(l->peer_software), &f.u.hello.software);
		l->peer_features = f.u.hello.features; /* bits this side does not know: ignored */
		l->state = SSM_LINK_RESUME_WAIT;
		if (l->chan_hello != NULL) {
			/* the channels' RESUMEs, then RESUME_DONE, from the mux (section 6) */
			l->chan_hello(l->chan_ctx, l->peer_features & SSM_FRAME_FEATURES, now_ms);
			return SSM_LINK_EV_NONE;
		}
		/* no channels: nothing to RESUME (section 6), RESUME_DONE at once */
		if (queue_simple(l, SSM_FRAME_RESUME_DONE, 0) < 0)
			return protocol_error(l, "send queue full", NULL);
		return SSM_LINK_EV_NONE;
	}
	switch (f.type) {
	case SSM_FRAME_HELLO:
		return protocol_error(l, "a second HELLO", NULL);
	case SSM_FRAME_RESUME_DONE:
		if (l->state != SSM_LINK_RESUME_WAIT)
			return protocol_error(l, "a second RESUME_DONE", NULL);
		if (l->chan_hello != NULL && l->chan_rx != NULL) {
			char err[SSM_FRAME_REASON_MAX + 1] = "";

			r = l->chan_rx(l->chan_ctx, &f, err, sizeof(err));
			if (r < 0)
				return chan_error(l, r, err);
		}
		l->state = SSM_LINK_UP;
		return SSM_LINK_EV_UP;
	case SSM_FRAME_RESUME: {
		/* a channel this side does not have (it has none): CLOSE unknown on it */
		struct ssm_frame c;
		if (l->state != SSM_LINK_RESUME_WAIT)
			return protocol_error(l, "RESUME after RESUME_DONE", NULL);
		if (l->chan_hello != NULL && l->chan_rx != NULL) {
			char err[SSM_FRAME_REASON_MAX + 1] = "";

			r = l->chan_rx(l->chan_ctx, &f, err, sizeof(err));
			if (r < 0)
				return chan_error(l, r, err);
			return SSM_LINK_EV_NONE;
		}
		memset(&c, 0, sizeof(c));
		c.type = SSM_FRAME_CLOSE;
		c.channel = f.channel;
		c.stream = f.stream;
		c.u.close.code = SSM_CODE_UNKNOWN;
		c.u.close.reason = ssm_frame_str("no such channel");
		if (queue(l, &c) < 0)
			return protocol_error(l, "send queue full", NULL);
		return SSM_LINK_EV_NONE;
	}
	case SSM_FRAME_PING:
		if (queue_simple(l, SSM_FRAME_PONG, f.value) < 0)
			return protocol_error(l, "send queue full", NULL);
		return SSM_LINK_EV_NONE;
	case SSM_FRAME_PONG:
		l->pongs_received++;
		return SSM_LINK_EV_NONE;
	case SSM_FRAME_GOAWAY:
		l->peer_goaway_code = f.u.close.code;
		l->peer_goaway_retry_ms = f.value;
		ssm_frame_str_copy(l->peer_goaway_reason, sizeof(l->peer_goaway_reason), &f.u.close.reason);
		l->state = SSM_LINK_CLOSING;
		l->q_n = 0;
		return SSM_LINK_EV_GOAWAY;
	default:
		break;
	}
	if (l->state == SSM_LINK_RESUME_WAIT)
		return protocol_error(l, "before RESUME_DONE:", ssm_frame_type_name(f.type));
	if (l->chan_rx != NULL) {
		char err[SSM_FRAME_REASON_MAX + 1] = "";

		r = l->chan_rx(l->chan_ctx, &f, err, sizeof(err));
		if (r < 0)
			return chan_error(l, r, err);
		return SSM_LINK_EV_NONE;
	}
	/* channel frames: no channel is ever opened on this version of the link; an OPEN of a
	 * kind the peer may open is refused, anything else names a channel never opened */
	if (f.type == SSM_FRAME_OPEN && l->role == SSM_ROLE_BROKER &&
	    (f.u.open.kind == SSM_KIND_TRANSCRIPT || f.u.open.kind == SSM_KIND_AUDIT) &&
	    (f.channel & 1u)) {
		struct ssm_frame c;
		memset(&c, 0, sizeof(c));
		c.type = SSM_FRAME_CLOSE;
		c.channel = f.channel;
		c.u.close.code = SSM_CODE_REFUSED;
		c.u.close.reason = ssm_frame_str("not supported by this broker yet");
		if (queue(l, &c) < 0)
			return protocol_error(l, "send queue full", NULL);
		return SSM_LINK_EV_NONE;
	}
	if (f.type == SSM_FRAME_CLOSE)
		return SSM_LINK_EV_NONE; /* the answer to a CLOSE of ours */
	return protocol_error(l, "no such channel for", ssm_frame_type_name(f.type));
}

int ssm_link_rx(struct ssm_link *l, const uint8_t *p, size_t len, int first, int final,
		int binary, int64_t now_ms)
{
	if (l->state == SSM_LINK_CLOSING)
		return SSM_LINK_EV_NONE; /* whatever crosses our GOAWAY is dropped */
	l->last_rx_ms = now_ms;
	l->ping_sent_ms = 0;
	if (first) {
		l->rx_len = 0;
		l->rx_text = !binary;
	}
	if (l->rx_text)
		return protocol_error(l, "a text message", NULL);
	if (len > sizeof(l->rx) - l->rx_len)
		return protocol_error(l, "a message longer than one frame", NULL);
	memcpy(l->rx + l->rx_len, p, len);
	l->rx_len += len;
	if (!final)
		return SSM_LINK_EV_NONE;
	len = l->rx_len;
	l->rx_len = 0;
	return on_message(l, l->rx, len, now_ms);
}

int ssm_link_tick(struct ssm_link *l, int64_t now_ms)
{
	int64_t idle = now_ms - l->last_rx_ms;

	if (l->state == SSM_LINK_CLOSING)
		return SSM_LINK_EV_NONE;
	if (idle >= l->dead_after_ms) {
		snprintf(l->error, sizeof(l->error), "nothing received for %lld s",
			 (long long)(idle / 1000));
		return SSM_LINK_EV_DEAD;
	}
	/* PING after ping_after of silence, and again every ping_after while it lasts */
	if (idle >= l->ping_after_ms && l->state != SSM_LINK_HELLO_WAIT &&
	    (l->ping_sent_ms == 0 || now_ms - l->ping_sent_ms >= l->ping_after_ms)) {
		if (queue_simple(l, SSM_FRAME_PING, ++l->ping_nonce) == 0) {
			l->ping_sent_ms = now_ms;
			l->pings_sent++;
		}
	}
	return SSM_LINK_EV_NONE;
}

uint8_t *ssm_link_tx_peek(struct ssm_link *l, size_t *plen)
{
	struct ssm_link_msg *m;

	if (l->q_n == 0)
		return NULL;
	m = &l->q[l->q_head];
	*plen = m->len;
	return m->buf + SSM_LINK_PRE;
}

void ssm_link_tx_pop(struct ssm_link *l)
{
	if (l->q_n == 0)
		return;
	l->q_head = (l->q_head + 1) % SSM_LINK_QUEUE;
	l->q_n--;
}

int ssm_link_done(const struct ssm_link *l)
{
	return l->state == SSM_LINK_CLOSING && l->q_n == 0;
}

const char *ssm_link_state_name(enum ssm_link_state s)
{
	switch (s) {
	case SSM_LINK_HELLO_WAIT:
		return "hello";
	case SSM_LINK_RESUME_WAIT:
		return "resume";
	case SSM_LINK_UP:
		return "up";
	case SSM_LINK_CLOSING:
		return "closing";
	}
	return "?";
}
