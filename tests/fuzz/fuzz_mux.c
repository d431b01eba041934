/* fuzz_mux.c - libFuzzer target for the channel/stream multiplexer (lib/mux.c) and its link
 * hook (lib/link.c chan_rx).
 *
 * The first byte picks this side's role and peer (agent-broker, broker-agent, broker-client,
 * client-broker) and whether frames go to ssm_mux_rx directly or through ssm_link_rx of a
 * link (brought up with the peer's HELLO and RESUME_DONE) with the mux attached.  The rest
 * is a sequence of operations:
 *   0x00..0x3f  a raw message: 2-byte length, that many bytes (decoded, then fed);
 *   0x40..0x7f  a synthesised frame: type, channel, stream, offset, value, length from the
 *               next bytes (encoded by the codec, so mostly valid frames reach the mux);
 *   0x80..0xff  a program action (open, accept, read, write, EOF, close, resize, EXIT...)
 *               on a channel and stream picked among the small ids, and the connection
 *               ending and a new one starting (ssm_mux_link_down, ssm_mux_hello: the
 *               resumption of section 6, whose RESUME and RESUME_DONE the synthesised
 *               frames include);
 * and the event callback itself takes input bytes to accept, close or read from inside the
 * callback.  Properties: no crash, no leak, every message the mux writes decodes (RESUME and
 * RESUME_DONE only while resuming), the channel count stays within 1024, a refusal is a
 * known error code. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mux.h"

#define DOC_HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	const uint8_t *p;
	size_t n;
	struct ssm_mux *m;
	struct ssm_link *l;
	int dead; /* the mux reported an error: the connection would be closed */
	uint32_t last_ch, last_st;
	uint32_t features; /* announced by the peer (mode bit 8: all of this code's) */
};


static uint8_t take(struct fz *z)
{
	uint8_t b;

	if (z->n == 0)
		return 0;
	b = z->p[0];
	z->p++;
	z->n--;
	return b;
}

static uint32_t take32(struct fz *z, unsigned bytes)
{
	uint32_t v = 0;

	while (bytes-- > 0)
		v = v << 8 | take(z);
	return v;
}

/* a restarted broker's program taking up a RESUME it has no state for: the input says */
static int on_adopt(void *ctx, struct ssm_mux_adopt *a)
{
	struct fz *z = ctx;
	uint8_t b = take(z);

	if (!(b & 1))
		return 0;
	a->window = b & 2 ? 0 : 1u + (uint32_t)b * 97u; /* 0: a program error, refused */
	a->user = NULL;
	return 1;
}

static uint32_t pick_ch(struct fz *z)
{
	uint8_t b = take(z);

	return b < 64 ? z->last_ch : (uint32_t)(b & 31);
}

static uint32_t pick_st(struct fz *z)
{
	uint8_t b = take(z);

	return b < 128 ? z->last_st : (uint32_t)(b & 7);
}

static void on_ev(void *ctx, const struct ssm_mux_ev *ev)
{
	struct fz *z = ctx;
	uint8_t b = take(z), buf[512];

	if (ev->type < SSM_MUX_EV_OPEN || ev->type > SSM_MUX_EV_EXIT || ev->channel == 0)
		abort();
	z->last_ch = ev->channel;
	z->last_st = ev->stream;
	switch (b & 7) {
	case 1:
		(void)ssm_mux_accept(z->m, ev->channel, ev->stream, 1 + (b >> 3) * 97u);
		break;
	case 2:
		(void)ssm_mux_close(z->m, ev->channel, b & 8 ? ev->stream : 0, SSM_CODE_REFUSED, "no");
		break;
	case 3:
		(void)ssm_mux_read(z->m, ev->channel, ev->stream, buf, b);
		break;
	case 4:
		(void)ssm_mux_write(z->m, ev->channel, ev->stream, buf, (size_t)b * 2);
		break;
	case 5:
		if (b & 0x80)
			(void)ssm_mux_allow_streams(z->m, ev->channel);
		break;
	default:
		break;
	}
}

static void drain(struct fz *z)
{
	struct ssm_frame f;
	uint8_t *p;
	size_t n;
	int i;

	if (z->l != NULL)
		while ((p = ssm_link_tx_peek(z->l, &n)) != NULL) {
			if (ssm_frame_decode(p, n, &f) != 0)
				abort();
			ssm_link_tx_pop(z->l);
		}
	for (i = 0; i < 64; i++) {
		int resuming = !ssm_mux_resumed(z->m);

		if ((p = ssm_mux_tx_peek(z->m, &n)) == NULL)
			break;
		if (n > SSM_FRAME_MAX || ssm_frame_decode(p, n, &f) != 0)
			abort();
		if (resuming != (f.type == SSM_FRAME_RESUME || f.type == SSM_FRAME_RESUME_DONE))
			abort();
		if (f.type < SSM_FRAME_OPEN && f.type != SSM_FRAME_RESUME_DONE)
			abort();
		ssm_mux_tx_pop(z->m);
	}
}

static void feed(struct fz *z, const uint8_t *msg, size_t len)
{
	struct ssm_frame f;
	char err[300];
	int r;

	if (z->dead)
		return;
	if (z->l != NULL) {
		r = ssm_link_rx(z->l, msg, len, 1, 1, 1, 0);
		if (r == SSM_LINK_EV_ERROR || r == SSM_LINK_EV_GOAWAY)
			z->dead = 1; /* the program closes the connection */
		return;
	}
	if (ssm_frame_decode(msg, len, &f) != 0 ||
	    (f.channel == 0 && f.type != SSM_FRAME_RESUME_DONE))
		return;
	r = ssm_mux_rx(z->m, &f, err, sizeof(err));
	if (r < 0) {
		if (strcmp(ssm_mux_strerror(r), "unknown frame error") == 0 || err[0] == '\0')
			abort();
		z->dead = 1;
	}
}

static const uint8_t types[] = {SSM_FRAME_OPEN,  SSM_FRAME_ACCEPT, SSM_FRAME_STREAM_OPEN,
				SSM_FRAME_DATA,  SSM_FRAME_ACK,    SSM_FRAME_EOF,
				SSM_FRAME_CLOSE, SSM_FRAME_RESIZE, SSM_FRAME_EXIT,
				SSM_FRAME_TERMINATE, SSM_FRAME_DATA, SSM_FRAME_ACK,
				SSM_FRAME_RESUME, SSM_FRAME_RESUME, SSM_FRAME_RESUME_DONE};

static void synth(struct fz *z, uint8_t op)
{
	static uint8_t payload[SSM_FRAME_BODY_MAX];
	uint8_t buf[SSM_FRAME_MAX];
	struct ssm_frame f;
	size_t n;
	uint8_t t = take(z);

	memset(&f, 0, sizeof(f));
	f.type = types[t % sizeof(types)];
	f.channel = take(z) & 31;
	f.stream = (op & 1) ? take(z) & 7 : 0;
	f.offset = take32(z, (op >> 1) & 3);
	f.value = f.offset + take32(z, 2 + ((op >> 3) & 1));
	switch (f.type) {
	case SSM_FRAME_OPEN:
		f.offset = 0;
		f.value &= 0xffff;
		f.u.open.kind = (uint8_t)(1 + take(z) % 4);
		f.u.open.sid = ssm_frame_str(f.u.open.kind == SSM_KIND_DOCUMENT ? DOC_HASH : "s-1");
		if (f.u.open.kind != SSM_KIND_AUDIT)
			f.u.open.document = ssm_frame_str("Doc");
		if (f.u.open.kind == SSM_KIND_SESSION) {
			f.u.open.token = ssm_frame_str("t.t.t");
		} else if (f.u.open.kind == SSM_KIND_DOCUMENT) {
			f.value = 1 + f.value % SSM_FRAME_DOCUMENT_MAX;
		} else {
			f.value = 0;
		}
		break;
	case SSM_FRAME_STREAM_OPEN:
		f.offset = 0;
		f.value &= 0xffff;
		break;
	case SSM_FRAME_DATA:
		f.value = 0;
		f.u.data.p = payload;
		f.u.data.len = 1 + take32(z, 2) % SSM_FRAME_BODY_MAX;
		break;
	case SSM_FRAME_EOF:
		f.value = 0;
		break;
	case SSM_FRAME_CLOSE:
		f.offset = f.value = 0;
		f.u.close.code = take(z) % (SSM_CODE_LAST + 1);
		break;
	case SSM_FRAME_RESIZE:
		f.offset = f.value = 0;
		f.u.resize.cols = f.u.resize.rows = 10;
		break;
	case SSM_FRAME_EXIT:
		f.value = 0;
		f.u.exit.how = SSM_EXIT_EXITED;
		f.u.exit.reason = SSM_END_EXIT;
		break;
	case SSM_FRAME_TERMINATE:
		f.offset = f.value = 0;
		break;
	case SSM_FRAME_RESUME:
		f.flags = take(z) & 31;
		if (f.flags & SSM_FRAME_F_ACKED)
			f.u.resume.acked = take32(z, 3);
		break;
	case SSM_FRAME_RESUME_DONE:
		memset(&f, 0, sizeof(f));
		f.type = SSM_FRAME_RESUME_DONE;
		break;
	default: /* ACCEPT, ACK */
		break;
	}
	if (ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0)
		feed(z, buf, n);
}

static void action(struct fz *z, uint8_t op)
{
	static uint8_t buf[70000];
	struct ssm_frame o;
	uint32_t ch = pick_ch(z), st, id;
	uint8_t b = take(z);
	size_t n;
	const uint8_t *p;

	switch (op & 15) {
	case 0:
		memset(&o, 0, sizeof(o));
		o.u.open.kind = (uint8_t)(1 + b % 4);
		o.u.open.sid = ssm_frame_str(o.u.open.kind == SSM_KIND_DOCUMENT ? DOC_HASH : "s-2");
		if (o.u.open.kind != SSM_KIND_AUDIT)
			o.u.open.document = ssm_frame_str("Doc");
		if (o.u.open.kind == SSM_KIND_SESSION)
			o.u.open.token = ssm_frame_str("a.b.c");
		id = ssm_mux_open(z->m, &o,
				  o.u.open.kind == SSM_KIND_SESSION    ? 1 + b * 300u
				  : o.u.open.kind == SSM_KIND_DOCUMENT ? 1 + b * 256u
								       : 0,
				  NULL);
		if (id != 0)
			z->last_ch = id;
		break;
	case 1:
		st = pick_st(z);
		/* a window of 0 is how a DOCUMENT channel is accepted */
		(void)ssm_mux_accept_at(z->m, ch, st, b & 1 ? take32(z, 2) : 0,
					(b & 6) == 6 ? 0 : 1 + b * 64u);
		break;
	case 2:
		st = pick_st(z);
		(void)ssm_mux_read(z->m, ch, st, buf, (size_t)b * 300);
		break;
	case 3:
		st = pick_st(z);
		if ((p = ssm_mux_read_peek(z->m, ch, st, &n)) != NULL) {
			if (n == 0)
				abort();
			ssm_mux_read_consume(z->m, ch, st, n > b ? b : n);
		}
		break;
	case 4:
		st = pick_st(z);
		n = ssm_mux_write_room(z->m, ch, st);
		if (ssm_mux_write(z->m, ch, st, buf, (size_t)b * 270) > n)
			abort();
		break;
	case 5:
		(void)ssm_mux_write_eof(z->m, ch, pick_st(z));
		break;
	case 6:
		(void)ssm_mux_close(z->m, ch, b & 1 ? pick_st(z) : 0, b % 12, "x");
		break;
	case 7:
		(void)ssm_mux_allow_streams(z->m, ch);
		id = ssm_mux_stream_open(z->m, ch, "o", 1 + b * 50u, NULL);
		if (id != 0)
			z->last_st = id;
		break;
	case 8:
		(void)ssm_mux_resize(z->m, ch, 80, 24);
		(void)ssm_mux_terminate(z->m, ch, b & 1 ? "t" : NULL);
		break;
	case 9:
		(void)ssm_mux_exit(z->m, ch, SSM_EXIT_EXITED, b, SSM_END_EXIT, "d");
		break;
	case 10:
		drain(z);
		break;
	case 11:
		if (b == 0x5a) {
			/* the connection ends; channels wait for the resumption */
			ssm_mux_link_down(z->m, 0);
			z->dead = 0;
		} else if (b == 0x3c && z->l == NULL) {
			/* a new connection passed its HELLOs */
			ssm_mux_hello(z->m, 0);
			z->dead = 0;
		} else if (b == 0xa5) {
			ssm_mux_reset(z->m, SSM_CODE_TIMEOUT, "reset");
			z->dead = 0;
			if (z->l != NULL && z->l->state == SSM_LINK_CLOSING) {
				/* a new connection: the link starts over, the mux is attached again */
				enum ssm_frame_role pr = z->l->peer_role;
				ssm_link_init(z->l, z->l->role, "f", 0, 0, 0);
				z->l->peer_role = pr;
				z->l->state = SSM_LINK_UP;
				z->l->q_n = 0;
				ssm_mux_attach(z->m, z->l);
			}
		}
		break;
	case 12:
		(void)ssm_mux_unacked(z->m, ch, 0);
		(void)ssm_mux_written(z->m, ch, 0);
		(void)ssm_mux_readable(z->m, ch, 0);
		(void)ssm_mux_read_eof(z->m, ch, 0);
		(void)ssm_mux_is_open(z->m, ch, b & 7);
		(void)ssm_mux_user(z->m, ch, 0);
		ssm_mux_set_user(z->m, ch, 0, z);
		break;
	default:
		/* one message out, as the program would when the socket is writable */
		if (ssm_mux_tx_peek(z->m, &n) != NULL)
			ssm_mux_tx_pop(z->m);
		break;
	}
}

static const enum ssm_frame_role roles[4][2] = {
    {SSM_ROLE_AGENT, SSM_ROLE_BROKER},
    {SSM_ROLE_BROKER, SSM_ROLE_AGENT},
    {SSM_ROLE_BROKER, SSM_ROLE_CLIENT},
    {SSM_ROLE_CLIENT, SSM_ROLE_BROKER},
};

static void link_up(struct fz *z, enum ssm_frame_role peer)
{
	struct ssm_frame f;
	uint8_t buf[128];
	size_t n;

	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_HELLO;
	f.u.hello.role = (uint8_t)peer;
	f.u.hello.features = z->features;
	if (ssm_frame_encode(&f, buf, sizeof(buf), &n) != 0 ||
	    ssm_link_rx(z->l, buf, n, 1, 1, 1, 0) != SSM_LINK_EV_NONE)
		abort();
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_RESUME_DONE;
	if (ssm_frame_encode(&f, buf, sizeof(buf), &n) != 0 ||
	    ssm_link_rx(z->l, buf, n, 1, 1, 1, 0) != SSM_LINK_EV_UP)
		abort();
	/* this side's RESUME_DONE (nothing to resume yet) comes from the mux */
	drain(z);
	if (!ssm_mux_resumed(z->m))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ssm_link link;
	struct fz z;
	uint8_t mode;
	const enum ssm_frame_role *rp;

	if (size < 1 || size > 200000)
		return 0;
	memset(&z, 0, sizeof(z));
	z.p = data;
	z.n = size;
	mode = take(&z);
	rp = roles[mode & 3];
	if (ssm_mux_new(&z.m, rp[0], rp[1], on_ev, &z) != 0)
		abort();
	if (mode & 8) {
		z.features = SSM_FRAME_FEATURES;
		ssm_mux_set_features(z.m, z.features);
		ssm_mux_set_adopt(z.m, on_adopt);
	}
	if (mode & 4) {
		z.l = &link;
		ssm_link_init(z.l, rp[0], "fuzz", 0, 0, 0);
		z.l->peer_role = rp[1];
		ssm_mux_attach(z.m, z.l);
		link_up(&z, rp[1]);
	}
	while (z.n > 0) {
		uint8_t op = take(&z);

		if (op < 0x40) {
			size_t len = take32(&z, 2);
			const uint8_t *msg = z.p;
			if (len > z.n)
				len = z.n;
			/* past the message first: the callbacks take the bytes after it */
			z.p += len;
			z.n -= len;
			feed(&z, msg, len);
		} else if (op < 0x80) {
			synth(&z, op);
		} else {
			action(&z, op);
		}
		if (ssm_mux_channels(z.m) > SSM_FRAME_CHANNELS_MAX)
			abort();
	}
	drain(&z);
	ssm_mux_free(z.m);
	return 0;
}
