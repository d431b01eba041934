/* fuzz_frame.c - libFuzzer target for the broker channel's frames and flow control
 * (lib/frame.c, docs/PROTOCOL.md).
 *
 * Properties:
 * - the whole input as one websocket message: if it decodes, peek agrees on its size, it
 *   re-encodes to exactly the same bytes, and those decode to the same frame; pointers stay
 *   inside the input; a refusal is a known error code;
 * - the input as a sequence of frames (each as long as its header says): DATA, EOF, ACK and
 *   RESUME frames drive one stream's flow state (this side sending into the window the peer
 *   grants, receiving what the peer sends), and its invariants hold after every step. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const void *p, size_t len, const uint8_t *buf, size_t size)
{
	const uint8_t *q = p;

	return len == 0 || (q >= buf && len <= size && q - buf <= (ptrdiff_t)(size - len));
}

static void whole(const uint8_t *data, size_t size)
{
	static uint8_t out[SSM_FRAME_MAX];
	struct ssm_frame f, g;
	size_t n, total;
	int r;

	r = ssm_frame_decode(data, size, &f);
	if (r < 0) {
		if (strcmp(ssm_frame_strerror(r), "unknown frame error") == 0)
			abort();
		return;
	}
	if (r != 0 || ssm_frame_peek(data, size, &total) != 0 || total != size)
		abort();
	if (ssm_frame_encode(&f, out, sizeof(out), &n) != 0 || n != size ||
	    memcmp(out, data, size) != 0)
		abort();
	if (ssm_frame_decode(out, n, &g) != 0 || g.type != f.type || g.flags != f.flags ||
	    g.channel != f.channel || g.stream != f.stream || g.offset != f.offset ||
	    g.value != f.value)
		abort();
	if (strcmp(ssm_frame_type_name(f.type), "?") == 0)
		abort();
	switch (f.type) {
	case SSM_FRAME_DATA:
		if (f.u.data.len == 0 || !inside(f.u.data.p, f.u.data.len, data, size) ||
		    f.offset + f.u.data.len > SSM_FRAME_OFFSET_MAX)
			abort();
		break;
	case SSM_FRAME_OPEN:
		if (!inside(f.u.open.sid.p, f.u.open.sid.len, data, size) ||
		    !inside(f.u.open.token.p, f.u.open.token.len, data, size) ||
		    memchr(f.u.open.sid.p, 0, f.u.open.sid.len) != NULL)
			abort();
		break;
	case SSM_FRAME_ACK:
	case SSM_FRAME_RESUME:
	case SSM_FRAME_ACCEPT:
		if (f.value < f.offset || f.value - f.offset > SSM_FRAME_WINDOW_MAX)
			abort();
		break;
	case SSM_FRAME_CLOSE:
	case SSM_FRAME_GOAWAY:
		if (f.u.close.code > SSM_CODE_LAST ||
		    strcmp(ssm_frame_code_name(f.u.close.code), "?") == 0 ||
		    memchr(f.u.close.reason.p, 0, f.u.close.reason.len) != NULL)
			abort();
		break;
	}
}

static void invariants(const struct ssm_flow *s)
{
	if (s->send_acked > s->send_next || s->send_next > s->send_high ||
	    s->send_next > s->send_limit || s->recv_acked > s->recv_next ||
	    s->recv_next > s->recv_limit || s->recv_limit - s->recv_acked > SSM_FRAME_WINDOW_MAX ||
	    s->send_high > SSM_FRAME_OFFSET_MAX || s->recv_limit > SSM_FRAME_OFFSET_MAX)
		abort();
	if ((s->flags & SSM_FLOW_RECV_EOF) && s->recv_eof != s->recv_next)
		abort();
}

static void sequence(const uint8_t *data, size_t size)
{
	struct ssm_flow s;
	struct ssm_frame f;
	uint64_t off, freed, before;
	size_t pos = 0, total, len;
	int r;

	ssm_flow_init(&s);
	if (ssm_flow_init_send(&s, 0, SSM_FRAME_WINDOW_DEFAULT) != 0 ||
	    ssm_flow_init_recv(&s, 0, SSM_FRAME_WINDOW_DEFAULT) != 0)
		abort();
	while (size - pos >= SSM_FRAME_HEADER) {
		if (ssm_frame_peek(data + pos, size - pos, &total) != 0 || total > size - pos)
			return;
		r = ssm_frame_decode(data + pos, total, &f);
		pos += total;
		if (r != 0)
			continue;
		switch (f.type) {
		case SSM_FRAME_DATA:
			before = s.recv_next;
			r = ssm_flow_on_data(&s, f.offset, f.u.data.len);
			if ((r == 1 && s.recv_next != before + f.u.data.len) ||
			    (r != 1 && s.recv_next != before))
				abort();
			if (r == 1 && ssm_flow_grant(&s, s.recv_next,
			                             s.recv_next + SSM_FRAME_WINDOW_DEFAULT) != 0)
				abort();
			break;
		case SSM_FRAME_EOF:
			ssm_flow_on_eof(&s, f.offset);
			break;
		case SSM_FRAME_ACK:
			/* send what the window allows first, so there is something to ack */
			len = (size_t)(ssm_flow_send_room(&s) < 16384 ? ssm_flow_send_room(&s)
			                                              : 16384);
			if (len > 0 && s.send_next == s.send_high)
				if (ssm_flow_send(&s, len, &off) != 0 || off + len != s.send_next)
					abort();
			before = s.send_acked;
			if (ssm_flow_on_ack(&s, f.offset, f.value, &freed) == 0 &&
			    freed != s.send_acked - before)
				abort();
			break;
		case SSM_FRAME_RESUME:
			if (ssm_flow_on_resume(&s, f.offset, f.value) == 0 &&
			    s.send_next != f.offset)
				abort();
			len = (size_t)(s.send_high - s.send_next);
			if (len > 16384)
				len = 16384;
			if (len > ssm_flow_send_room(&s))
				len = (size_t)ssm_flow_send_room(&s);
			if (len > 0 && ssm_flow_resend(&s, len, &off) != 0)
				abort();
			break;
		}
		invariants(&s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4 * SSM_FRAME_MAX)
		return 0;
	whole(data, size);
	sequence(data, size);
	return 0;
}
