/* test_mux.c - the channel/stream multiplexer (lib/mux.c, docs/PROTOCOL.md sections 3-5, 8):
 * two muxes wired back to back through their send queues (broker and agent, broker and
 * client), then a table of hostile frames fed to ssm_mux_rx, each row asserting the exact
 * result and the events it gave. */
#include "config.h"
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include "check.h"
#include "mux.h"

#define NEV 32

struct side {
	struct ssm_mux *m;
	const char *name;
	int counts[16];
	struct {
		int type;
		uint32_t ch, st;
		uint16_t code;
		uint64_t off;
		void *user;
	} last[NEV];
	int nev;          /* events since the last clear */
	int auto_accept;  /* accept OPEN / STREAM_OPEN at once with window */
	uint32_t window;
	int close_on;     /* close the event's channel (stream 0) from inside this event */
	int close_rc[2];  /* ... and what that close, then a second one, returned */
	int close_stream_on; /* close the event's stream from inside this event */
	int sent[64];
	int err;
	char errmsg[300];
};

static void on_ev(void *ctx, const struct ssm_mux_ev *ev)
{
	struct side *s = ctx;

	s->counts[ev->type]++;
	if (s->nev < NEV) {
		s->last[s->nev].type = ev->type;
		s->last[s->nev].ch = ev->channel;
		s->last[s->nev].st = ev->stream;
		s->last[s->nev].code = ev->code;
		s->last[s->nev].off = ev->f ? ev->f->offset : 0;
		s->last[s->nev].user = ev->user;
	}
	s->nev++;
	if (s->auto_accept && ev->type == SSM_MUX_EV_OPEN)
		(void)ssm_mux_accept(s->m, ev->channel, 0, s->window);
	if (s->auto_accept && ev->type == SSM_MUX_EV_STREAM_OPEN)
		(void)ssm_mux_accept(s->m, ev->channel, ev->stream, s->window);
	if (s->close_on == (int)ev->type) {
		s->close_rc[0] = ssm_mux_close(s->m, ev->channel, 0, SSM_CODE_REFUSED, "in callback");
		/* a second close of the same channel: already forgotten */
		s->close_rc[1] = ssm_mux_close(s->m, ev->channel, 0, SSM_CODE_OK, "");
	}
	if (s->close_stream_on == (int)ev->type && ev->stream != 0)
		CHECK(ssm_mux_close(s->m, ev->channel, ev->stream, SSM_CODE_OK, "") == 0,
		      "stream close from inside the event");
}

static void side_init(struct side *s, const char *name, enum ssm_frame_role role,
		      enum ssm_frame_role peer)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->window = 1000;
	CHECK(ssm_mux_new(&s->m, role, peer, on_ev, s) == 0, "%s: new", name);
}

static void clear(struct side *s)
{
	memset(s->counts, 0, sizeof(s->counts));
	s->nev = 0;
}

/* one message from a to b: 1 moved, 0 none, <0 b's error */
static int pump1(struct side *a, struct side *b)
{
	uint8_t buf[SSM_FRAME_MAX];
	struct ssm_frame f;
	uint8_t *p;
	size_t n;
	int r;

	if ((p = ssm_mux_tx_peek(a->m, &n)) == NULL)
		return 0;
	CHECK(n <= sizeof(buf), "message size");
	memcpy(buf, p, n);
	CHECK(ssm_mux_tx_peek(a->m, &n) == p, "peek is stable");
	ssm_mux_tx_pop(a->m);
	r = ssm_frame_decode(buf, n, &f);
	CHECK(r == 0, "%s sent a frame that does not decode: %d", a->name, r);
	if (r != 0)
		return r;
	a->sent[f.type & 63]++;
	if (getenv("MUXDBG"))
		fprintf(stderr, "%s: %s ch %u st %u off %llu val %llu fl %x\n", a->name,
			ssm_frame_type_name(f.type), f.channel, f.stream,
			(unsigned long long)f.offset, (unsigned long long)f.value, f.flags);
	r = ssm_mux_rx(b->m, &f, b->errmsg, sizeof(b->errmsg));
	if (r < 0) {
		b->err = r;
		return r;
	}
	return 1;
}

static int pump(struct side *a, struct side *b)
{
	int r, moved = 0;

	while ((r = pump1(a, b)) > 0)
		moved++;
	return r < 0 ? r : moved;
}

/* both ways until quiet; 0 or the first error */
static int wire(struct side *a, struct side *b)
{
	int x, y;

	do {
		if ((x = pump(a, b)) < 0)
			return x;
		if ((y = pump(b, a)) < 0)
			return y;
	} while (x > 0 || y > 0);
	return 0;
}

static struct ssm_frame open_frame(uint8_t kind)
{
	struct ssm_frame f;

	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_OPEN;
	f.u.open.kind = kind;
	f.u.open.sid = ssm_frame_str(kind == SSM_KIND_AUDIT ? "audit.1733350000.42" : "s-1");
	if (kind != SSM_KIND_AUDIT)
		f.u.open.document = ssm_frame_str("SSM-SessionManagerRunShell");
	if (kind == SSM_KIND_SESSION) {
		f.u.open.token = ssm_frame_str("aaa.bbb.ccc");
		f.u.open.term = ssm_frame_str("xterm");
		f.u.open.cols = 80;
		f.u.open.rows = 24;
	}
	return f;
}

static uint8_t pat(uint64_t off, unsigned seed)
{
	return (uint8_t)((off * 131u + seed) ^ (off >> 9));
}

/* a writes total pattern bytes on (ch, st), b reads them in chunks of rd: the bytes arrive
 * intact; returns how many times a's write was short */
static int transfer(struct side *a, uint32_t ach, struct side *b, uint32_t bch, uint32_t st,
		    uint64_t total, size_t rd, unsigned seed)
{
	static uint8_t buf[70000];
	uint64_t w = 0, r = 0, base_w = ssm_mux_written(a->m, ach, st);
	int shorts = 0, bad = 0, rounds = 0;

	if (rd > sizeof(buf))
		rd = sizeof(buf);

	while (r < total && rounds++ < 1000000) {
		size_t n, i, got;
		/* write until the window or the buffer says no */
		while (w < total) {
			size_t room = ssm_mux_write_room(a->m, ach, st);
			n = (size_t)(total - w < sizeof(buf) ? total - w : sizeof(buf));
			for (i = 0; i < n; i++)
				buf[i] = pat(base_w + w + i, seed);
			got = ssm_mux_write(a->m, ach, st, buf, n);
			CHECK(got == (n < room ? n : room), "write takes min(len, room)");
			w += got;
			if (got < n) {
				shorts++;
				break;
			}
		}
		if (wire(a, b) < 0) {
			CHECK(0, "transfer: error %s", b->errmsg);
			return -1;
		}
		while ((got = ssm_mux_read(b->m, bch, st, buf, rd)) > 0) {
			for (i = 0; i < got; i++)
				if (buf[i] != pat(base_w + r + i, seed))
					bad++;
			r += got;
		}
		if (wire(a, b) < 0)
			return -1;
	}
	CHECK(r == total && bad == 0, "transfer: %llu of %llu bytes, %d bad", (unsigned long long)r,
	      (unsigned long long)total, bad);
	return shorts;
}

/* ---- the session path: broker and agent ---- */

static void test_session(void)
{
	struct side br, ag;
	struct ssm_frame o = open_frame(SSM_KIND_SESSION);
	uint32_t ch;
	uint8_t buf[4096];
	size_t n;
	int tag = 7;

	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	side_init(&ag, "agent", SSM_ROLE_AGENT, SSM_ROLE_BROKER);
	ch = ssm_mux_open(br.m, &o, 1000, &tag);
	CHECK(ch == 2, "the broker's first channel is 2 (got %u)", ch);
	CHECK(ssm_mux_write_room(br.m, ch, 0) == 0, "no room before ACCEPT");
	CHECK(ssm_mux_user(br.m, ch, 0) == &tag, "user pointer");
	CHECK(pump(&br, &ag) == 1 && ag.counts[SSM_MUX_EV_OPEN] == 1 && ag.last[0].ch == 2,
	      "agent got OPEN");
	CHECK(ssm_mux_channels(ag.m) == 1 && ssm_mux_is_open(ag.m, 2, 0), "agent has it");
	CHECK(ssm_mux_write_room(ag.m, 2, 0) == 0, "no room before accepting");
	CHECK(ssm_mux_accept(ag.m, 2, 0, 500) == 0, "agent accepts (window 500)");
	CHECK(ssm_mux_accept(ag.m, 2, 0, 500) == -1, "a second accept");
	CHECK(ssm_mux_write_room(ag.m, 2, 0) == 1000, "agent may send the broker's window");
	CHECK(pump(&ag, &br) == 1 && br.counts[SSM_MUX_EV_ACCEPT] == 1 &&
	          br.last[0].user == &tag,
	      "broker got ACCEPT with its user pointer");
	CHECK(ssm_mux_write_room(br.m, ch, 0) == 500, "broker room is the agent's window");

	/* back-pressure: 1500 offered, 500 taken; room 0; the agent reads 300 (>= half a
	 * window: ACK), the broker gets WRITABLE */
	memset(buf, 'x', sizeof(buf));
	CHECK(ssm_mux_write(br.m, ch, 0, buf, 1500) == 500, "short write");
	CHECK(ssm_mux_write_room(br.m, ch, 0) == 0, "room 0");
	CHECK(ssm_mux_unacked(br.m, ch, 0) == 500, "500 unacked");
	clear(&ag);
	CHECK(wire(&br, &ag) == 0 && ag.counts[SSM_MUX_EV_READABLE] == 1, "READABLE");
	CHECK(ssm_mux_readable(ag.m, 2, 0) == 500, "500 readable");
	CHECK(ssm_mux_read(ag.m, 2, 0, buf, 100) == 100 && !ssm_mux_tx_pending(ag.m),
	      "100 read: no ACK yet");
	CHECK(ssm_mux_read(ag.m, 2, 0, buf, 200) == 200 && ssm_mux_tx_pending(ag.m),
	      "300 read: ACK queued");
	clear(&br);
	CHECK(wire(&br, &ag) == 0 && br.counts[SSM_MUX_EV_WRITABLE] == 1, "WRITABLE");
	CHECK(ssm_mux_write_room(br.m, ch, 0) == 300, "room 300");
	CHECK(ssm_mux_unacked(br.m, ch, 0) == 200, "200 unacked");
	{
		const uint8_t *p = ssm_mux_read_peek(ag.m, 2, 0, &n);
		CHECK(p != NULL && n == 200, "peek the rest");
		ssm_mux_read_consume(ag.m, 2, 0, n);
	}
	CHECK(wire(&br, &ag) == 0 && ssm_mux_unacked(br.m, ch, 0) == 0 &&
	          ssm_mux_write_room(br.m, ch, 0) == 500,
	      "empty buffer: everything acked");

	/* bulk both ways, windows much smaller than the data: rings wrap */
	CHECK(transfer(&br, ch, &ag, 2, 0, 200000, 77, 1) > 0, "broker to agent, back-pressured");
	CHECK(transfer(&ag, 2, &br, ch, 0, 300000, 333, 2) > 0, "agent to broker, back-pressured");
	CHECK(ssm_mux_written(ag.m, 2, 0) == 300000, "agent wrote 300000");

	/* RESIZE and TERMINATE: opener (broker) only; EXIT: acceptor (agent) only */
	CHECK(ssm_mux_resize(ag.m, 2, 100, 40) == -1, "agent cannot RESIZE");
	CHECK(ssm_mux_terminate(ag.m, 2, "x") == -1, "agent cannot TERMINATE");
	CHECK(ssm_mux_exit(br.m, ch, SSM_EXIT_EXITED, 0, SSM_END_EXIT, "") == -1,
	      "broker cannot EXIT");
	clear(&ag);
	CHECK(ssm_mux_resize(br.m, ch, 100, 40) == 0, "broker RESIZE");
	CHECK(wire(&br, &ag) == 0 && ag.counts[SSM_MUX_EV_RESIZE] == 1, "agent got RESIZE");

	/* EXIT after output: control frames go first, the EXIT waits for the bytes */
	CHECK(ssm_mux_write(ag.m, 2, 0, "bye\n", 4) == 4, "last output");
	CHECK(ssm_mux_write_eof(ag.m, 2, 0) == 0, "EOF after it");
	CHECK(ssm_mux_write_eof(ag.m, 2, 0) == -1, "a second EOF");
	CHECK(ssm_mux_write_room(ag.m, 2, 0) == 0, "no room after EOF");
	CHECK(ssm_mux_exit(ag.m, 2, SSM_EXIT_EXITED, 3, SSM_END_EXIT, "done") == 0, "EXIT");
	CHECK(ssm_mux_exit(ag.m, 2, SSM_EXIT_EXITED, 3, SSM_END_EXIT, "done") == -1,
	      "a second EXIT");
	clear(&br);
	CHECK(pump1(&ag, &br) == 1 && ag.sent[SSM_FRAME_EXIT] == 1 && br.nev == 0,
	      "EXIT went first, held back");
	CHECK(pump1(&ag, &br) == 1 && ag.sent[SSM_FRAME_DATA] > 0 && br.nev == 2 &&
	          br.last[0].type == SSM_MUX_EV_READABLE && br.last[1].type == SSM_MUX_EV_EXIT &&
	          br.last[1].off == 300004,
	      "the DATA, then EXIT at 300004");
	CHECK(pump1(&ag, &br) == 1 && br.counts[SSM_MUX_EV_EOF] == 1, "then EOF");
	CHECK(!ssm_mux_read_eof(br.m, ch, 0), "EOF not yet read");
	CHECK(ssm_mux_read(br.m, ch, 0, buf, sizeof(buf)) == 4 && memcmp(buf, "bye\n", 4) == 0,
	      "last output read");
	CHECK(ssm_mux_read_eof(br.m, ch, 0), "read_eof");

	/* the broker closes: the agent gets CLOSED, its answer is dropped by the broker */
	clear(&ag);
	clear(&br);
	CHECK(ssm_mux_close(br.m, ch, 0, SSM_CODE_OK, "bye") == 0, "broker closes");
	CHECK(!ssm_mux_is_open(br.m, ch, 0) && ssm_mux_channels(br.m) == 0, "forgotten");
	CHECK(wire(&br, &ag) == 0 && ag.counts[SSM_MUX_EV_CLOSED] == 1 &&
	          ag.last[0].code == SSM_CODE_OK && br.nev == 0 && ag.sent[SSM_FRAME_CLOSE] == 1,
	      "agent CLOSED, answered, answer dropped");
	CHECK(ssm_mux_channels(ag.m) == 0, "agent forgot it");

	/* a second channel: ids increase; crossing CLOSEs give no events */
	ch = ssm_mux_open(br.m, &o, 1000, NULL);
	CHECK(ch == 4, "next id 4");
	ag.auto_accept = 1;
	CHECK(wire(&br, &ag) == 0 && ssm_mux_write_room(br.m, ch, 0) == 1000, "accepted");
	clear(&ag);
	clear(&br);
	CHECK(ssm_mux_close(br.m, ch, 0, SSM_CODE_OK, "") == 0 &&
	          ssm_mux_close(ag.m, ch, 0, SSM_CODE_INTERNAL, "") == 0,
	      "both close");
	CHECK(wire(&br, &ag) == 0 && ag.nev == 0 && br.nev == 0 && !ssm_mux_tx_pending(br.m) &&
	          !ssm_mux_tx_pending(ag.m),
	      "crossing CLOSEs: no event, no answer");

	/* a large window: the send ring grows past 64 KiB */
	ag.window = 4u * 1024 * 1024;
	ch = ssm_mux_open(br.m, &o, 2u * 1024 * 1024, NULL);
	CHECK(wire(&br, &ag) == 0 && ssm_mux_write_room(br.m, ch, 0) == 4u * 1024 * 1024,
	      "4 MiB room");
	CHECK(transfer(&br, ch, &ag, ch, 0, 9000000, 65536, 3) >= 0, "9 MB through a 4 MiB window");
	CHECK(transfer(&ag, ch, &br, ch, 0, 5000000, 100000, 4) >= 0, "5 MB back");

	/* TERMINATE, then the reset closes what is left, one CLOSED each */
	clear(&ag);
	CHECK(ssm_mux_terminate(br.m, ch, "TerminateSession") == 0, "TERMINATE");
	CHECK(wire(&br, &ag) == 0 && ag.counts[SSM_MUX_EV_TERMINATE] == 1, "agent TERMINATE");
	(void)ssm_mux_open(br.m, &o, 1000, NULL);
	clear(&br);
	CHECK(ssm_mux_tx_pending(br.m), "an OPEN queued");
	ssm_mux_reset(br.m, SSM_CODE_TIMEOUT, "connection lost");
	CHECK(br.counts[SSM_MUX_EV_CLOSED] == 2 && br.last[0].code == SSM_CODE_TIMEOUT &&
	          ssm_mux_channels(br.m) == 0 && !ssm_mux_tx_pending(br.m),
	      "reset: 2 CLOSED, queue empty");
	CHECK(ssm_mux_open(br.m, &o, 1000, NULL) == 10, "ids are not reused after reset");
	ssm_mux_free(br.m);
	/* the agent keeps its mux across connections; a new broker mux starts at 2 again */
	ssm_mux_reset(ag.m, SSM_CODE_TIMEOUT, "connection lost");
	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	clear(&ag);
	CHECK(ssm_mux_open(br.m, &o, 1000, NULL) == 2 && wire(&br, &ag) == 0 &&
	          ag.counts[SSM_MUX_EV_OPEN] == 1 && ssm_mux_write_room(br.m, 2, 0) > 0,
	      "after a reset the peer's ids may start over (%s)", ag.errmsg);
	ssm_mux_free(br.m);
	ssm_mux_free(ag.m);
}

/* ---- close from inside callbacks ---- */

static void test_close_in_callback(void)
{
	struct side br, ag;
	struct ssm_frame o = open_frame(SSM_KIND_SESSION);
	uint32_t ch;

	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	side_init(&ag, "agent", SSM_ROLE_AGENT, SSM_ROLE_BROKER);
	/* refusal inside EV_OPEN: the broker gets CLOSED refused */
	ag.close_on = SSM_MUX_EV_OPEN;
	ch = ssm_mux_open(br.m, &o, 1000, NULL);
	CHECK(wire(&br, &ag) == 0 && br.counts[SSM_MUX_EV_CLOSED] == 1 &&
	          br.last[0].code == SSM_CODE_REFUSED && ssm_mux_channels(br.m) == 0 &&
	          ag.close_rc[0] == 0 && ag.close_rc[1] == -1 && ssm_mux_channels(ag.m) == 0,
	      "refused in the OPEN callback");
	/* close inside EV_READABLE while EOF and EXIT follow in the same batch */
	ag.close_on = 0;
	ag.auto_accept = 1;
	ch = ssm_mux_open(br.m, &o, 1000, NULL);
	CHECK(wire(&br, &ag) == 0, "accepted");
	ag.close_on = SSM_MUX_EV_READABLE;
	CHECK(ssm_mux_write(br.m, ch, 0, "abc", 3) == 3 && ssm_mux_write_eof(br.m, ch, 0) == 0,
	      "data and EOF");
	CHECK(ssm_mux_write(br.m, ch, 0, "abc", 3) == 0, "no write after EOF");
	clear(&ag);
	clear(&br);
	ag.close_rc[0] = ag.close_rc[1] = 99;
	CHECK(wire(&br, &ag) == 0 && ag.counts[SSM_MUX_EV_READABLE] == 1 &&
	          ag.counts[SSM_MUX_EV_EOF] == 0 && br.counts[SSM_MUX_EV_CLOSED] == 1 &&
	          ag.close_rc[0] == 0 && ag.close_rc[1] == -1,
	      "closed inside READABLE: the EOF after it dropped");
	/* close inside EV_CLOSED (the peer's): nothing left to close */
	ag.close_on = 0;
	ch = ssm_mux_open(br.m, &o, 1000, NULL);
	CHECK(wire(&br, &ag) == 0, "accepted");
	ag.close_on = SSM_MUX_EV_CLOSED;
	clear(&ag);
	clear(&br);
	CHECK(ssm_mux_close(br.m, ch, 0, SSM_CODE_OK, "") == 0, "close");
	ag.close_rc[0] = ag.close_rc[1] = 99;
	CHECK(wire(&br, &ag) == 0 && ag.counts[SSM_MUX_EV_CLOSED] == 1 && ag.close_rc[0] == -1 &&
	          ag.close_rc[1] == -1 && br.counts[SSM_MUX_EV_CLOSED] == 0,
	      "close inside the peer's CLOSED: already gone, answered once");
	ssm_mux_free(br.m);
	ssm_mux_free(ag.m);
}

/* ---- a Port session: streams ---- */

static void test_streams(void)
{
	struct side cl, br;
	struct ssm_frame o = open_frame(SSM_KIND_SESSION), f;
	uint32_t ch, st, st2, i;
	uint8_t buf[64];

	side_init(&cl, "client", SSM_ROLE_CLIENT, SSM_ROLE_BROKER);
	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_CLIENT);
	o.u.open.cols = o.u.open.rows = 0;
	o.u.open.term = ssm_frame_str(NULL);
	ch = ssm_mux_open(cl.m, &o, 1000, NULL);
	CHECK(ch == 1, "client's first channel 1");
	CHECK(ssm_mux_stream_open(cl.m, ch, "x", 100, NULL) == 0, "no stream without allow");
	CHECK(ssm_mux_allow_streams(cl.m, ch) == 0, "client allows");
	CHECK(ssm_mux_stream_open(cl.m, ch, "x", 100, NULL) == 0, "no stream before ACCEPT");
	br.auto_accept = 1;
	br.window = 100;
	CHECK(wire(&cl, &br) == 0 && ssm_mux_allow_streams(br.m, ch) == 0, "accepted, allowed");
	st = ssm_mux_stream_open(cl.m, ch, "127.0.0.1:5555", 100, &buf);
	CHECK(st == 1, "first stream 1");
	clear(&br);
	clear(&cl);
	CHECK(wire(&cl, &br) == 0 && br.counts[SSM_MUX_EV_STREAM_OPEN] == 1 &&
	          br.last[0].st == 1 && cl.counts[SSM_MUX_EV_ACCEPT] == 1,
	      "STREAM_OPEN, ACCEPT");
	CHECK(transfer(&cl, ch, &br, ch, st, 5000, 33, 5) > 0, "stream 1 client to broker");
	CHECK(transfer(&br, ch, &cl, ch, st, 5000, 7, 6) > 0, "stream 1 broker to client");
	st2 = ssm_mux_stream_open(br.m, ch, "", 100, NULL);
	CHECK(st2 == 2, "broker's first stream 2");
	cl.auto_accept = 1;
	cl.window = 100;
	CHECK(wire(&cl, &br) == 0 && ssm_mux_write_room(br.m, ch, st2) == 100, "stream 2 accepted");
	/* EOF on one stream, the other keeps going */
	CHECK(ssm_mux_write_eof(cl.m, ch, st) == 0 && wire(&cl, &br) == 0 &&
	          ssm_mux_read_eof(br.m, ch, st) && !ssm_mux_read_eof(br.m, ch, st2),
	      "EOF on stream 1 only");
	/* a stream CLOSE: the peer gets CLOSED for that stream, the channel stays */
	clear(&br);
	CHECK(ssm_mux_close(cl.m, ch, st, SSM_CODE_OK, "") == 0 && wire(&cl, &br) == 0 &&
	          br.counts[SSM_MUX_EV_CLOSED] == 1 && br.last[0].st == st &&
	          ssm_mux_is_open(br.m, ch, 0) && !ssm_mux_is_open(br.m, ch, st),
	      "stream closed");
	/* 256 streams: stream 0, stream 2 and 254 more of the client's */
	for (i = 0; i < 254; i++)
		if (ssm_mux_stream_open(cl.m, ch, "", 10, NULL) == 0)
			break;
	CHECK(i == 254, "254 more streams (%u)", i);
	CHECK(ssm_mux_stream_open(cl.m, ch, "", 10, NULL) == 0, "the 257th refused locally");
	CHECK(wire(&cl, &br) == 0, "all accepted");
	/* a peer going beyond: CLOSE limit on that stream, no event */
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_STREAM_OPEN;
	f.channel = ch;
	f.stream = 1001;
	f.value = 10;
	clear(&br);
	CHECK(ssm_mux_rx(br.m, &f, NULL, 0) == 0 && br.nev == 0, "257th STREAM_OPEN: no event");
	{
		uint8_t *p;
		size_t n;
		struct ssm_frame c;
		p = ssm_mux_tx_peek(br.m, &n);
		CHECK(p && ssm_frame_decode(p, n, &c) == 0 && c.type == SSM_FRAME_CLOSE &&
		          c.stream == 1001 && c.u.close.code == SSM_CODE_LIMIT,
		      "CLOSE limit on stream 1001");
	}
	ssm_mux_tx_pop(br.m); /* the client never sent that STREAM_OPEN: not for its eyes */
	/* closing stream 0 closes all streams: one event */
	clear(&br);
	CHECK(ssm_mux_close(cl.m, ch, 0, SSM_CODE_OK, "") == 0 && wire(&cl, &br) == 0 &&
	          br.nev == 1 && br.counts[SSM_MUX_EV_CLOSED] == 1 && ssm_mux_channels(br.m) == 0,
	      "channel close: one event");
	ssm_mux_free(cl.m);
	ssm_mux_free(br.m);
}

/* ---- 1024 channels ---- */

static void test_channel_limit(void)
{
	struct side br, ag;
	struct ssm_frame o = open_frame(SSM_KIND_AUDIT), f;
	uint32_t i, ch = 0;
	uint8_t *p;
	size_t n;

	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	side_init(&ag, "agent", SSM_ROLE_AGENT, SSM_ROLE_BROKER);
	br.auto_accept = 1;
	br.window = 64;
	for (i = 0; i < 1024; i++)
		if ((ch = ssm_mux_open(ag.m, &o, 0, NULL)) == 0)
			break;
	CHECK(i == 1024 && ch == 2047, "1024 channels (%u, last %u)", i, ch);
	CHECK(ssm_mux_open(ag.m, &o, 0, NULL) == 0, "the 1025th refused locally");
	CHECK(wire(&ag, &br) == 0 && ssm_mux_channels(br.m) == 1024 &&
	          br.counts[SSM_MUX_EV_OPEN] == 1024,
	      "broker has 1024");
	/* every channel carries a little: the hash table finds them all */
	for (i = 1; i <= 2047; i += 2)
		CHECK(ssm_mux_write(ag.m, i, 0, "log\n", 4) == 4, "write on %u", i);
	CHECK(wire(&ag, &br) == 0, "delivered");
	for (i = 1; i <= 2047; i += 2)
		if (ssm_mux_readable(br.m, i, 0) != 4)
			break;
	CHECK(i > 2047, "1024 channels with 4 bytes each");
	/* an agent that opens one more: CLOSE limit, no event */
	f = o;
	f.channel = 2049;
	clear(&br);
	CHECK(ssm_mux_rx(br.m, &f, NULL, 0) == 0 && br.nev == 0, "1025th OPEN: no event");
	p = ssm_mux_tx_peek(br.m, &n);
	CHECK(p && ssm_frame_decode(p, n, &f) == 0 && f.type == SSM_FRAME_CLOSE &&
	          f.channel == 2049 && f.u.close.code == SSM_CODE_LIMIT,
	      "CLOSE limit");
	/* the agent's answer (it never opened 2049: it is an unknown id of its own parity) */
	ssm_mux_free(br.m);
	ssm_mux_free(ag.m);
}

/* ---- the send queue bound: a peer flooding frames we must answer ---- */

static void test_queue_flood(void)
{
	struct side br;
	struct ssm_frame f = open_frame(SSM_KIND_AUDIT);
	uint32_t i;
	int r = 0;

	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	/* 1024 channels the program never answers, then OPENs answered CLOSE limit */
	for (i = 0; i < 1024 + SSM_MUX_CTL_MAX + 10 && r == 0; i++) {
		f.channel = 2 * i + 1;
		r = ssm_mux_rx(br.m, &f, br.errmsg, sizeof(br.errmsg));
	}
	CHECK(r == SSM_MUX_E_QUEUE && i == 1024 + SSM_MUX_CTL_MAX + 1,
	      "queue full after %u OPENs: %d %s", i, r, br.errmsg);
	ssm_mux_free(br.m);
}

/* ---- hostile frames ---- */

/* The setup every row starts from (fresh muxes each row):
 *   channel 2: broker's SESSION to the agent, accepted (agent window 100, broker 100);
 *              10 bytes each way, read and acknowledged;
 *   channel 4: broker's SESSION, closed by the broker (a closed id);
 *   channel 6: broker's SESSION, the agent has not answered;
 *   channel 1: agent's TRANSCRIPT, accepted by the broker (window 100);
 *   channel 3: agent's AUDIT, not answered by the broker. */
struct pair {
	struct side br, ag;
};

static void pair_setup(struct pair *p)
{
	struct ssm_frame s = open_frame(SSM_KIND_SESSION), t = open_frame(SSM_KIND_TRANSCRIPT),
			 a = open_frame(SSM_KIND_AUDIT);
	uint8_t buf[16];

	side_init(&p->br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	side_init(&p->ag, "agent", SSM_ROLE_AGENT, SSM_ROLE_BROKER);
	p->ag.window = p->br.window = 100;
	CHECK(ssm_mux_open(p->br.m, &s, 100, NULL) == 2, "ch 2");
	CHECK(ssm_mux_open(p->br.m, &s, 100, NULL) == 4, "ch 4");
	CHECK(ssm_mux_open(p->br.m, &s, 100, NULL) == 6, "ch 6");
	CHECK(ssm_mux_open(p->ag.m, &t, 0, NULL) == 1, "ch 1");
	CHECK(ssm_mux_open(p->ag.m, &a, 0, NULL) == 3, "ch 3");
	CHECK(wire(&p->br, &p->ag) == 0, "opens");
	CHECK(ssm_mux_accept(p->ag.m, 2, 0, 100) == 0 && ssm_mux_accept(p->ag.m, 4, 0, 100) == 0 &&
	          ssm_mux_accept(p->br.m, 1, 0, 100) == 0,
	      "accepts");
	CHECK(wire(&p->br, &p->ag) == 0, "accepted");
	CHECK(ssm_mux_close(p->br.m, 4, 0, SSM_CODE_OK, "") == 0, "close 4");
	CHECK(ssm_mux_write(p->br.m, 2, 0, "0123456789", 10) == 10 &&
	          ssm_mux_write(p->ag.m, 2, 0, "0123456789", 10) == 10,
	      "10 bytes each way");
	CHECK(wire(&p->br, &p->ag) == 0, "delivered");
	CHECK(ssm_mux_read(p->br.m, 2, 0, buf, 16) == 10 && ssm_mux_read(p->ag.m, 2, 0, buf, 16) == 10,
	      "read");
	CHECK(wire(&p->br, &p->ag) == 0 && ssm_mux_unacked(p->br.m, 2, 0) == 0 &&
	          ssm_mux_unacked(p->ag.m, 2, 0) == 0,
	      "acked");
	clear(&p->br);
	clear(&p->ag);
}

static void pair_free(struct pair *p)
{
	ssm_mux_free(p->br.m);
	ssm_mux_free(p->ag.m);
}

enum { AG, BR };

static const uint8_t payload[200];

struct row {
	int line;
	int victim;
	uint8_t type, kind;
	uint32_t ch, st;
	uint64_t off, val;
	size_t len;
	int want;     /* ssm_mux_rx's result */
	int want_ev;  /* the one event expected, 0 none */
};

#define R(...) {__LINE__, __VA_ARGS__}
static const struct row rows[] = {
    /* OPEN: parity, order, kinds (the agent may be opened SESSION only, the broker by an
     * agent TRANSCRIPT and AUDIT only) */
    R(AG, SSM_FRAME_OPEN, SSM_KIND_SESSION, 7, 0, 0, 100, 0, SSM_MUX_E_ID, 0),
    R(AG, SSM_FRAME_OPEN, SSM_KIND_SESSION, 2, 0, 0, 100, 0, SSM_MUX_E_ID, 0),
    R(AG, SSM_FRAME_OPEN, SSM_KIND_SESSION, 6, 0, 0, 100, 0, SSM_MUX_E_ID, 0),
    R(AG, SSM_FRAME_OPEN, SSM_KIND_TRANSCRIPT, 8, 0, 0, 0, 0, SSM_MUX_E_KIND, 0),
    R(AG, SSM_FRAME_OPEN, SSM_KIND_SESSION, 8, 0, 0, 100, 0, 0, SSM_MUX_EV_OPEN),
    R(AG, SSM_FRAME_OPEN, SSM_KIND_SESSION, 1000, 0, 0, 100, 0, 0, SSM_MUX_EV_OPEN),
    R(BR, SSM_FRAME_OPEN, SSM_KIND_SESSION, 5, 0, 0, 100, 0, SSM_MUX_E_KIND, 0),
    R(BR, SSM_FRAME_OPEN, SSM_KIND_TRANSCRIPT, 8, 0, 0, 0, 0, SSM_MUX_E_ID, 0),
    R(BR, SSM_FRAME_OPEN, SSM_KIND_TRANSCRIPT, 3, 0, 0, 0, 0, SSM_MUX_E_ID, 0),
    R(BR, SSM_FRAME_OPEN, SSM_KIND_AUDIT, 1, 0, 0, 0, 0, SSM_MUX_E_ID, 0),
    R(BR, SSM_FRAME_OPEN, SSM_KIND_AUDIT, 5, 0, 0, 0, 0, 0, SSM_MUX_EV_OPEN),
    /* DATA: window, gap, overlap, duplicate; the agent received 10 of a 100 window */
    R(AG, SSM_FRAME_DATA, 0, 2, 0, 10, 0, 90, 0, SSM_MUX_EV_READABLE),
    R(AG, SSM_FRAME_DATA, 0, 2, 0, 10, 0, 101, SSM_FRAME_E_FLOW_WINDOW, 0),
    R(AG, SSM_FRAME_DATA, 0, 2, 0, 11, 0, 1, SSM_FRAME_E_FLOW_GAP, 0),
    R(AG, SSM_FRAME_DATA, 0, 2, 0, 5, 0, 10, SSM_FRAME_E_FLOW_OVERLAP, 0),
    R(AG, SSM_FRAME_DATA, 0, 2, 0, 0, 0, 10, 0, 0),
    R(AG, SSM_FRAME_DATA, 0, 2, 0, 5, 0, 5, 0, 0),
    /* DATA before ACCEPT (the broker's channel 6 is not accepted by the agent) */
    R(BR, SSM_FRAME_DATA, 0, 6, 0, 0, 0, 1, SSM_MUX_E_STATE, 0),
    R(AG, SSM_FRAME_DATA, 0, 6, 0, 0, 0, 1, SSM_MUX_E_STATE, 0),
    R(AG, SSM_FRAME_EOF, 0, 6, 0, 0, 0, 0, SSM_MUX_E_STATE, 0),
    R(AG, SSM_FRAME_ACK, 0, 6, 0, 0, 100, 0, SSM_MUX_E_STATE, 0),
    R(AG, SSM_FRAME_DATA, 0, 3, 0, 0, 0, 1, SSM_MUX_E_STATE, 0),
    /* the broker sends no DATA on a TRANSCRIPT: the agent granted 0 */
    R(AG, SSM_FRAME_DATA, 0, 1, 0, 0, 0, 1, SSM_FRAME_E_FLOW_WINDOW, 0),
    R(BR, SSM_FRAME_DATA, 0, 1, 0, 0, 0, 100, 0, SSM_MUX_EV_READABLE),
    /* ACK: ahead, backwards, window backwards; a repeated one is fine */
    R(AG, SSM_FRAME_ACK, 0, 2, 0, 11, 111, 0, SSM_FRAME_E_FLOW_ACK_AHEAD, 0),
    R(AG, SSM_FRAME_ACK, 0, 2, 0, 5, 105, 0, SSM_FRAME_E_FLOW_ACK_BACK, 0),
    R(AG, SSM_FRAME_ACK, 0, 2, 0, 10, 109, 0, SSM_FRAME_E_FLOW_WINDOW_BACK, 0),
    R(AG, SSM_FRAME_ACK, 0, 2, 0, 10, 110, 0, 0, 0),
    R(AG, SSM_FRAME_ACK, 0, 2, 0, 10, 500, 0, 0, 0),
    /* EOF at the wrong offset */
    R(AG, SSM_FRAME_EOF, 0, 2, 0, 5, 0, 0, SSM_FRAME_E_FLOW_EOF, 0),
    R(AG, SSM_FRAME_EOF, 0, 2, 0, 20, 0, 0, SSM_FRAME_E_FLOW_GAP, 0),
    R(AG, SSM_FRAME_EOF, 0, 2, 0, 10, 0, 0, 0, SSM_MUX_EV_EOF),
    /* never opened (error) and closed (dropped) ids */
    R(AG, SSM_FRAME_DATA, 0, 8, 0, 0, 0, 1, SSM_MUX_E_NOT_OPEN, 0),
    R(AG, SSM_FRAME_DATA, 0, 5, 0, 0, 0, 1, SSM_MUX_E_NOT_OPEN, 0),
    R(AG, SSM_FRAME_CLOSE, 0, 8, 0, 0, 0, 0, SSM_MUX_E_NOT_OPEN, 0),
    R(AG, SSM_FRAME_DATA, 0, 2, 1, 0, 0, 1, SSM_MUX_E_NOT_OPEN, 0),
    R(BR, SSM_FRAME_DATA, 0, 4, 0, 0, 0, 1, 0, 0),
    R(BR, SSM_FRAME_CLOSE, 0, 4, 0, 0, 0, 0, 0, 0),
    R(BR, SSM_FRAME_EXIT, 0, 4, 0, 0, 0, 0, 0, 0),
    R(AG, SSM_FRAME_DATA, 0, 4, 0, 0, 0, 1, 0, 0),
    R(AG, SSM_FRAME_CLOSE, 0, 2, 0, 0, 0, 0, 0, SSM_MUX_EV_CLOSED),
    /* RESIZE/TERMINATE from the opener only, EXIT from the acceptor only, SESSION only */
    R(AG, SSM_FRAME_RESIZE, 0, 2, 0, 0, 0, 0, 0, SSM_MUX_EV_RESIZE),
    R(AG, SSM_FRAME_TERMINATE, 0, 2, 0, 0, 0, 0, 0, SSM_MUX_EV_TERMINATE),
    R(AG, SSM_FRAME_RESIZE, 0, 6, 0, 0, 0, 0, 0, SSM_MUX_EV_RESIZE),
    R(BR, SSM_FRAME_RESIZE, 0, 2, 0, 0, 0, 0, SSM_MUX_E_SIDE, 0),
    R(BR, SSM_FRAME_TERMINATE, 0, 2, 0, 0, 0, 0, SSM_MUX_E_SIDE, 0),
    R(AG, SSM_FRAME_EXIT, 0, 2, 0, 10, 0, 0, SSM_MUX_E_SIDE, 0),
    R(BR, SSM_FRAME_RESIZE, 0, 1, 0, 0, 0, 0, SSM_MUX_E_SIDE, 0),
    R(AG, SSM_FRAME_RESIZE, 0, 1, 0, 0, 0, 0, SSM_MUX_E_SIDE, 0),
    R(BR, SSM_FRAME_EXIT, 0, 1, 0, 0, 0, 0, SSM_MUX_E_SIDE, 0),
    R(BR, SSM_FRAME_EXIT, 0, 2, 0, 10, 0, 0, 0, SSM_MUX_EV_EXIT),
    R(BR, SSM_FRAME_EXIT, 0, 2, 0, 50, 0, 0, 0, 0),
    R(BR, SSM_FRAME_EXIT, 0, 2, 0, 5, 0, 0, SSM_MUX_E_STATE, 0),
    R(BR, SSM_FRAME_EXIT, 0, 6, 0, 0, 0, 0, SSM_MUX_E_STATE, 0),
    /* STREAM_OPEN outside a Port session */
    R(AG, SSM_FRAME_STREAM_OPEN, 0, 2, 2, 0, 100, 0, SSM_MUX_E_KIND, 0),
    R(BR, SSM_FRAME_STREAM_OPEN, 0, 1, 1, 0, 100, 0, SSM_MUX_E_KIND, 0),
    R(BR, SSM_FRAME_STREAM_OPEN, 0, 4, 2, 0, 100, 0, 0, 0),
    R(BR, SSM_FRAME_STREAM_OPEN, 0, 10, 2, 0, 100, 0, SSM_MUX_E_NOT_OPEN, 0),
    /* ACCEPT: of a stream this side did not open, a second one, a base on a session */
    R(AG, SSM_FRAME_ACCEPT, 0, 2, 0, 0, 100, 0, SSM_MUX_E_STATE, 0),
    R(AG, SSM_FRAME_ACCEPT, 0, 1, 0, 0, 100, 0, SSM_MUX_E_STATE, 0),
    R(BR, SSM_FRAME_ACCEPT, 0, 2, 0, 0, 100, 0, SSM_MUX_E_STATE, 0),
    R(BR, SSM_FRAME_ACCEPT, 0, 6, 0, 5, 105, 0, SSM_MUX_E_STATE, 0),
    R(BR, SSM_FRAME_ACCEPT, 0, 6, 0, 0, 100, 0, 0, SSM_MUX_EV_ACCEPT),
    R(AG, SSM_FRAME_ACCEPT, 0, 3, 0, 5000, 5100, 0, 0, SSM_MUX_EV_ACCEPT),
    /* RESUME only between the HELLOs and RESUME_DONE (test_resume has the rest) */
    R(AG, SSM_FRAME_RESUME, 0, 2, 0, 0, 0, 0, SSM_MUX_E_STATE, 0),
    R(AG, SSM_FRAME_RESUME_DONE, 0, 0, 0, 0, 0, 0, SSM_MUX_E_STATE, 0),
};

static int rx_row(struct side *v, const struct row *r, int *pnev)
{
	struct ssm_frame f, g;
	uint8_t buf[SSM_FRAME_MAX];
	size_t n;
	int rc;

	*pnev = 0;
	f = open_frame(r->kind ? r->kind : SSM_KIND_SESSION);
	f.type = r->type;
	f.channel = r->ch;
	f.stream = r->st;
	f.offset = r->off;
	f.value = r->val;
	switch (r->type) {
	case SSM_FRAME_OPEN:
		break;
	case SSM_FRAME_DATA:
		memset(&f.u, 0, sizeof(f.u));
		f.u.data.p = payload;
		f.u.data.len = r->len;
		break;
	case SSM_FRAME_CLOSE:
		memset(&f.u, 0, sizeof(f.u));
		f.u.close.code = SSM_CODE_OK;
		f.u.close.reason = ssm_frame_str("bye");
		break;
	case SSM_FRAME_RESIZE:
		memset(&f.u, 0, sizeof(f.u));
		f.u.resize.cols = 100;
		f.u.resize.rows = 30;
		break;
	case SSM_FRAME_EXIT:
		memset(&f.u, 0, sizeof(f.u));
		f.u.exit.how = SSM_EXIT_EXITED;
		f.u.exit.reason = SSM_END_EXIT;
		break;
	default:
		memset(&f.u, 0, sizeof(f.u));
		break;
	}
	/* every row is a valid frame for the codec: only the mux refuses it */
	rc = ssm_frame_encode(&f, buf, sizeof(buf), &n);
	CHECK_ROW(r->line, rc == 0, "row frame does not encode: %s", ssm_frame_strerror(rc));
	if (rc != 0 || ssm_frame_decode(buf, n, &g) != 0)
		return 99;
	clear(v);
	rc = ssm_mux_rx(v->m, &g, v->errmsg, sizeof(v->errmsg));
	*pnev = v->nev;
	return rc;
}

static void test_hostile(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct pair p;
		struct side *v;
		int rc, nev;

		pair_setup(&p);
		v = r->victim == AG ? &p.ag : &p.br;
		rc = rx_row(v, r, &nev);
		CHECK_ROW(r->line, rc == r->want, "%s got %d (%s), want %d", v->name, rc,
			  v->errmsg, r->want);
		CHECK_ROW(r->line, rc == 0 || v->errmsg[0] != '\0', "an error says why");
		if (r->want_ev)
			CHECK_ROW(r->line, nev == 1 && v->last[0].type == r->want_ev,
				  "events %d, first %d, want %d", nev, v->last[0].type, r->want_ev);
		else
			CHECK_ROW(r->line, nev == 0, "%d events, want none", nev);
		pair_free(&p);
	}
}

/* sequences the table cannot express */
static void test_hostile_sequences(void)
{
	struct pair p;
	struct ssm_frame f;
	char err[200];

	/* EXIT ahead of the data: held until the bytes arrive, then DATA beyond it refused */
	pair_setup(&p);
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_EXIT;
	f.channel = 2;
	f.offset = 15;
	f.u.exit.how = SSM_EXIT_SIGNALED;
	f.u.exit.status = 9;
	f.u.exit.reason = SSM_END_TERMINATED;
	f.u.exit.detail = ssm_frame_str("killed");
	f.offset = (uint64_t)1 << 30; /* beyond any window the broker granted */
	CHECK(ssm_mux_rx(p.br.m, &f, err, sizeof(err)) == SSM_FRAME_E_FLOW_WINDOW && p.br.nev == 0,
	      "EXIT beyond the window granted: refused, not waited for");
	f.offset = 15;
	CHECK(ssm_mux_rx(p.br.m, &f, err, sizeof(err)) == 0 && p.br.nev == 0, "EXIT held");
	CHECK(ssm_mux_rx(p.br.m, &f, err, sizeof(err)) == SSM_MUX_E_STATE, "a second EXIT");
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_DATA;
	f.channel = 2;
	f.offset = 10;
	f.u.data.p = payload;
	f.u.data.len = 3;
	CHECK(ssm_mux_rx(p.br.m, &f, err, sizeof(err)) == 0 && p.br.nev == 1, "3 bytes: READABLE");
	f.offset = 13;
	f.u.data.len = 3;
	CHECK(ssm_mux_rx(p.br.m, &f, err, sizeof(err)) == SSM_MUX_E_STATE,
	      "DATA beyond EXIT's offset");
	f.u.data.len = 2;
	CHECK(ssm_mux_rx(p.br.m, &f, err, sizeof(err)) == 0 && p.br.nev == 3 &&
	          p.br.last[2].type == SSM_MUX_EV_EXIT && p.br.last[2].off == 15,
	      "the last 2 bytes: READABLE, EXIT");
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_EOF;
	f.channel = 2;
	f.offset = 15;
	CHECK(ssm_mux_rx(p.br.m, &f, err, sizeof(err)) == 0 && p.br.nev == 4, "EOF at 15");
	pair_free(&p);

	/* duplicate EOF is dropped, DATA after EOF refused */
	pair_setup(&p);
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_EOF;
	f.channel = 2;
	f.offset = 10;
	CHECK(ssm_mux_rx(p.ag.m, &f, err, sizeof(err)) == 0 && p.ag.nev == 1, "EOF");
	CHECK(ssm_mux_rx(p.ag.m, &f, err, sizeof(err)) == 0 && p.ag.nev == 1, "EOF again");
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_DATA;
	f.channel = 2;
	f.offset = 10;
	f.u.data.p = payload;
	f.u.data.len = 1;
	CHECK(ssm_mux_rx(p.ag.m, &f, err, sizeof(err)) == SSM_FRAME_E_FLOW_AFTER_EOF,
	      "DATA after EOF");
	pair_free(&p);

	/* the link hands channel frames to the mux; a flow error becomes GOAWAY flow */
	{
		struct side ag;
		struct ssm_link l, b;
		uint8_t buf[SSM_FRAME_MAX], *q;
		size_t n;
		int r;

		side_init(&ag, "agent", SSM_ROLE_AGENT, SSM_ROLE_BROKER);
		ag.auto_accept = 1;
		ssm_link_init(&l, SSM_ROLE_AGENT, "a", 0, 0, 0);
		ssm_link_init(&b, SSM_ROLE_BROKER, "b", 0, 0, 0);
		ssm_mux_attach(ag.m, &l);
		while ((q = ssm_link_tx_peek(&l, &n)) != NULL) {
			ssm_link_rx(&b, q, n, 1, 1, 1, 0);
			ssm_link_tx_pop(&l);
		}
		while ((q = ssm_link_tx_peek(&b, &n)) != NULL) {
			ssm_link_rx(&l, q, n, 1, 1, 1, 0);
			ssm_link_tx_pop(&b);
		}
		/* the agent's RESUME_DONE comes from its mux (section 6) */
		CHECK(ssm_link_tx_peek(&l, &n) == NULL && (q = ssm_mux_tx_peek(ag.m, &n)) != NULL &&
			      ssm_frame_decode(q, n, &f) == 0 && f.type == SSM_FRAME_RESUME_DONE,
		      "RESUME_DONE from the mux");
		ssm_link_rx(&b, q, n, 1, 1, 1, 0);
		ssm_mux_tx_pop(ag.m);
		CHECK(l.state == SSM_LINK_UP && b.state == SSM_LINK_UP && ssm_mux_resumed(ag.m),
		      "link up");
		f = open_frame(SSM_KIND_SESSION);
		f.channel = 2;
		f.value = 100;
		CHECK(ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0, "encode OPEN");
		CHECK(ssm_link_rx(&l, buf, n, 1, 1, 1, 0) == 0 && ag.counts[SSM_MUX_EV_OPEN] == 1,
		      "OPEN through the link");
		memset(&f, 0, sizeof(f));
		f.type = SSM_FRAME_DATA;
		f.channel = 2;
		f.offset = 5;
		f.u.data.p = payload;
		f.u.data.len = 1;
		CHECK(ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0, "encode DATA");
		r = ssm_link_rx(&l, buf, n, 1, 1, 1, 0);
		q = ssm_link_tx_peek(&l, &n);
		CHECK(r == SSM_LINK_EV_ERROR && q && ssm_frame_decode(q, n, &f) == 0 &&
		          f.type == SSM_FRAME_GOAWAY && f.u.close.code == SSM_CODE_FLOW,
		      "a gap: GOAWAY flow (%s)", l.error);
		/* a protocol error: GOAWAY protocol */
		ssm_link_init(&l, SSM_ROLE_AGENT, "a", 0, 0, 0);
		ssm_mux_reset(ag.m, SSM_CODE_TIMEOUT, "");
		ssm_mux_attach(ag.m, &l);
		l.state = SSM_LINK_UP;
		l.q_n = 0;
		f = open_frame(SSM_KIND_SESSION);
		f.channel = 3; /* the agent's parity */
		f.value = 100;
		CHECK(ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0, "encode OPEN");
		r = ssm_link_rx(&l, buf, n, 1, 1, 1, 0);
		q = ssm_link_tx_peek(&l, &n);
		CHECK(r == SSM_LINK_EV_ERROR && q && ssm_frame_decode(q, n, &f) == 0 &&
		          f.type == SSM_FRAME_GOAWAY && f.u.close.code == SSM_CODE_PROTOCOL &&
		          strstr(l.error, "OPEN on channel 3") != NULL,
		      "wrong parity: GOAWAY protocol (%s)", l.error);
		ssm_mux_free(ag.m);
	}

	/* the client is never opened to */
	{
		struct side cl;
		side_init(&cl, "client", SSM_ROLE_CLIENT, SSM_ROLE_BROKER);
		f = open_frame(SSM_KIND_SESSION);
		f.channel = 2;
		f.value = 100;
		CHECK(ssm_mux_rx(cl.m, &f, err, sizeof(err)) == SSM_MUX_E_KIND, "OPEN to a client");
		CHECK(ssm_mux_open(cl.m, &(struct ssm_frame){.u.open.kind = SSM_KIND_AUDIT}, 0,
				   NULL) == 0,
		      "a client opens SESSION only");
		ssm_mux_free(cl.m);
	}
	/* bad roles */
	{
		struct ssm_mux *m;
		CHECK(ssm_mux_new(&m, SSM_ROLE_AGENT, SSM_ROLE_CLIENT, NULL, NULL) < 0 && m == NULL,
		      "agent-client refused");
		CHECK(ssm_mux_new(&m, SSM_ROLE_BROKER, SSM_ROLE_BROKER, NULL, NULL) < 0,
		      "broker-broker refused");
	}
}

/* PROTOCOL.md section 4, ACK, once the program ticks: at half a window, when the peer's EOF
 * was consumed, or at the next tick; never one per frame */
static void test_delayed_ack(void)
{
	struct pair p;
	uint8_t buf[100];
	int i, a0;

	pair_setup(&p); /* channel 2: windows of 100 bytes each way */
	a0 = p.br.sent[SSM_FRAME_ACK];
	ssm_mux_tick(p.br.m);
	ssm_mux_tick(p.ag.m);
	for (i = 0; i < 4; i++) { /* four small frames, each read at once */
		CHECK(ssm_mux_write(p.ag.m, 2, 0, "0123456789", 10) == 10, "10 bytes");
		CHECK(wire(&p.ag, &p.br) == 0, "delivered");
		CHECK(ssm_mux_read(p.br.m, 2, 0, buf, sizeof(buf)) == 10, "read at once");
		CHECK(wire(&p.br, &p.ag) == 0, "wired");
	}
	CHECK(p.br.sent[SSM_FRAME_ACK] == a0, "no ACK for 40 bytes of a 100-byte window (%d)",
	      p.br.sent[SSM_FRAME_ACK] - a0);
	CHECK(ssm_mux_unacked(p.ag.m, 2, 0) == 40, "40 bytes unacknowledged at the sender");
	CHECK(ssm_mux_write_room(p.ag.m, 2, 0) == 60, "the sender still has room for 60");
	ssm_mux_tick(p.br.m);
	CHECK(wire(&p.br, &p.ag) == 0 && p.br.sent[SSM_FRAME_ACK] == a0 + 1 &&
	          ssm_mux_unacked(p.ag.m, 2, 0) == 0,
	      "the tick sends one ACK for all four");
	ssm_mux_tick(p.br.m);
	CHECK(wire(&p.br, &p.ag) == 0 && p.br.sent[SSM_FRAME_ACK] == a0 + 1, "and no second one");
	/* half a window consumed: at once, no tick needed */
	CHECK(ssm_mux_write(p.ag.m, 2, 0, payload, 50) == 50, "50 bytes");
	CHECK(wire(&p.ag, &p.br) == 0 && ssm_mux_read(p.br.m, 2, 0, buf, sizeof(buf)) == 50, "read");
	CHECK(wire(&p.br, &p.ag) == 0 && p.br.sent[SSM_FRAME_ACK] == a0 + 2 &&
	          ssm_mux_unacked(p.ag.m, 2, 0) == 0,
	      "half a window: ACK at once");
	/* the peer's EOF consumed: at once, so the stream's end is not held up */
	CHECK(ssm_mux_write(p.ag.m, 2, 0, "xy", 2) == 2 && ssm_mux_write_eof(p.ag.m, 2, 0) == 0,
	      "2 bytes and EOF");
	CHECK(wire(&p.ag, &p.br) == 0 && ssm_mux_read(p.br.m, 2, 0, buf, sizeof(buf)) == 2 &&
	          ssm_mux_read_eof(p.br.m, 2, 0),
	      "read to the EOF");
	CHECK(wire(&p.br, &p.ag) == 0 && p.br.sent[SSM_FRAME_ACK] == a0 + 3 &&
	          ssm_mux_unacked(p.ag.m, 2, 0) == 0,
	      "EOF consumed: ACK at once");
	pair_free(&p);
}

/* ---- resumption (PROTOCOL.md section 6) ---- */

static uint32_t rnd(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return *st;
}

/* one message from a lost in the cut: it left a, it never arrives */
static int lose1(struct side *a)
{
	size_t n;

	if (ssm_mux_tx_peek(a->m, &n) == NULL)
		return 0;
	ssm_mux_tx_pop(a->m);
	return 1;
}

static void cut(struct side *a, struct side *b, uint32_t *rs, int64_t now)
{
	int k;

	for (k = (int)(rnd(rs) % 4); k > 0; k--)
		(void)lose1(a);
	for (k = (int)(rnd(rs) % 4); k > 0; k--)
		(void)lose1(b);
	ssm_mux_link_down(a->m, now);
	ssm_mux_link_down(b->m, now);
}

/* a new connection: the HELLOs passed, then the resumption (sometimes cut again part way
 * through, more than once); 0 or the first error */
static int reconnect(struct side *a, struct side *b, uint32_t *rs)
{
	int r, k;

	for (;;) {
		ssm_mux_hello(a->m, 0);
		ssm_mux_hello(b->m, 0);
		if (rnd(rs) % 4 != 0)
			break;
		/* a few messages of the resumption get through, then the link breaks again */
		for (k = (int)(rnd(rs) % 6); k > 0; k--) {
			if ((r = rnd(rs) & 1 ? pump1(a, b) : pump1(b, a)) < 0)
				return r;
		}
		cut(a, b, rs, 0);
	}
	return 0;
}

struct dir {
	uint64_t total, w, r;
	int bad;
	unsigned seed;
};

static void write_some(struct side *s, uint32_t ch, struct dir *d, size_t max)
{
	uint8_t buf[4096];
	size_t n, i, got;

	while (d->w < d->total && max > 0) {
		n = (size_t)(d->total - d->w < sizeof(buf) ? d->total - d->w : sizeof(buf));
		if (n > max)
			n = max;
		for (i = 0; i < n; i++)
			buf[i] = pat(d->w + i, d->seed);
		got = ssm_mux_write(s->m, ch, 0, buf, n);
		d->w += got;
		max -= got;
		if (got < n)
			break;
	}
}

static void read_some(struct side *s, uint32_t ch, struct dir *d, size_t max)
{
	uint8_t buf[4096];
	size_t got, i;

	while (max > 0 && (got = ssm_mux_read(s->m, ch, 0, buf,
					      max < sizeof(buf) ? max : sizeof(buf))) > 0) {
		for (i = 0; i < got; i++)
			if (buf[i] != pat(d->r + i, d->seed))
				d->bad++;
		d->r += got;
		max -= got;
	}
}

/* A session between broker and agent, cut at random points of its life (OPEN and ACCEPT in
 * flight, DATA both ways, EOF, EXIT and TERMINATE in flight, during a resumption, the CLOSE
 * in flight), with writes, reads and TERMINATE while the connection is down: every byte
 * arrives exactly once and in order, and every control frame takes effect exactly once. */
static void resume_run(uint32_t seed)
{
	struct side br, ag;
	struct ssm_frame o = open_frame(SSM_KIND_SESSION);
	uint32_t rs = seed * 2654435761u + 1, ch;
	struct dir down = {0}, up = {0};
	int down_now = 0, steps = 0, cuts = 0, err = 0, term_at, exited = 0, eof_a = 0, eof_b = 0;
	int accept_at;
	static const uint32_t windows[] = {100, 1000, 16384, 70000};

	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	side_init(&ag, "agent", SSM_ROLE_AGENT, SSM_ROLE_BROKER);
	ag.auto_accept = rnd(&rs) % 2; /* or the session takes a while to start */
	accept_at = 1 + (int)(rnd(&rs) % 60);
	ag.window = windows[rnd(&rs) % 4];
	down.total = 1 + rnd(&rs) % 60000; /* the agent's output */
	up.total = rnd(&rs) % 20000;       /* the user's input */
	down.seed = seed;
	up.seed = seed + 7;
	term_at = 1 + (int)(rnd(&rs) % 400);
	ch = ssm_mux_open(br.m, &o, windows[rnd(&rs) % 4], NULL);
	CHECK(ch == 2, "seed %u: open", seed);
	while (steps++ < 200000 && !err) {
		int k;

		/* the programs: write, read, end their directions, TERMINATE, EXIT */
		if (!ag.auto_accept && steps >= accept_at && ag.counts[SSM_MUX_EV_OPEN] == 1 &&
		    ssm_mux_accept(ag.m, ch, 0, ag.window) == 0)
			ag.auto_accept = 1;
		if (ssm_mux_is_open(ag.m, ch, 0))
			write_some(&ag, ch, &down, rnd(&rs) % 20000);
		if (ssm_mux_is_open(br.m, ch, 0))
			write_some(&br, ch, &up, rnd(&rs) % 5000);
		if (down.w == down.total && !eof_a && ssm_mux_write_eof(ag.m, ch, 0) == 0)
			eof_a = 1;
		if (up.w == up.total && !eof_b && ssm_mux_write_eof(br.m, ch, 0) == 0)
			eof_b = 1;
		if (steps == term_at)
			CHECK(ssm_mux_terminate(br.m, ch, "TerminateSession") == 0,
			      "seed %u: terminate", seed);
		if (eof_a && !exited && rnd(&rs) % 3 == 0 &&
		    ssm_mux_exit(ag.m, ch, SSM_EXIT_EXITED, 3, SSM_END_TERMINATED, "ended") == 0)
			exited = 1;
		read_some(&br, ch, &down, rnd(&rs) % 30000);
		read_some(&ag, ch, &up, rnd(&rs) % 30000);
		if (down_now) {
			/* a while without a connection, then a new one */
			if (rnd(&rs) % 3 == 0) {
				if ((err = reconnect(&br, &ag, &rs)) < 0)
					break;
				down_now = 0;
			}
			continue;
		}
		for (k = (int)(rnd(&rs) % 8); k > 0 && !err; k--)
			if ((err = rnd(&rs) & 1 ? pump1(&br, &ag) : pump1(&ag, &br)) > 0)
				err = 0;
		if (err < 0)
			break;
		if (rnd(&rs) % 10 == 0) {
			cut(&br, &ag, &rs, 0);
			cuts++;
			down_now = 1;
			continue;
		}
		if (down.r == down.total && up.r == up.total && br.counts[SSM_MUX_EV_EXIT] &&
		    ssm_mux_read_eof(br.m, ch, 0) && ssm_mux_read_eof(ag.m, ch, 0) &&
		    ag.counts[SSM_MUX_EV_TERMINATE] && steps > term_at)
			break;
	}
	CHECK(err == 0, "seed %u: error %d: %s%s", seed, err, br.errmsg, ag.errmsg);
	CHECK(down.r == down.total && up.r == up.total && down.bad == 0 && up.bad == 0,
	      "seed %u (%d cuts): output %llu of %llu, input %llu of %llu, %d+%d bad", seed, cuts,
	      (unsigned long long)down.r, (unsigned long long)down.total,
	      (unsigned long long)up.r, (unsigned long long)up.total, down.bad, up.bad);
	CHECK(br.counts[SSM_MUX_EV_EXIT] == 1 && br.counts[SSM_MUX_EV_EOF] == 1 &&
	          br.counts[SSM_MUX_EV_ACCEPT] == 1,
	      "seed %u: the broker saw ACCEPT, EOF and EXIT once (%d %d %d)", seed,
	      br.counts[SSM_MUX_EV_ACCEPT], br.counts[SSM_MUX_EV_EOF], br.counts[SSM_MUX_EV_EXIT]);
	CHECK(ag.counts[SSM_MUX_EV_OPEN] == 1 && ag.counts[SSM_MUX_EV_EOF] == (up.total ? 1 : 1) &&
	          ag.counts[SSM_MUX_EV_TERMINATE] == 1,
	      "seed %u: the agent saw OPEN, EOF and TERMINATE once (%d %d %d)", seed,
	      ag.counts[SSM_MUX_EV_OPEN], ag.counts[SSM_MUX_EV_EOF],
	      ag.counts[SSM_MUX_EV_TERMINATE]);
	/* the end: the broker's CLOSE, perhaps lost in a cut, still reaches the agent once */
	CHECK(ssm_mux_close(br.m, ch, 0, SSM_CODE_OK, "") == 0, "seed %u: close", seed);
	if (rnd(&rs) % 2) {
		if (rnd(&rs) % 2)
			(void)lose1(&br);
		cut(&br, &ag, &rs, 0);
		CHECK(reconnect(&br, &ag, &rs) == 0, "seed %u: reconnect at the end", seed);
	}
	CHECK(wire(&br, &ag) == 0, "seed %u: the end wired (%s%s)", seed, br.errmsg, ag.errmsg);
	CHECK(ag.counts[SSM_MUX_EV_CLOSED] == 1 && ssm_mux_channels(ag.m) == 0 &&
	          ssm_mux_channels(br.m) == 0,
	      "seed %u: the agent saw the CLOSE once (%d), no channel left (%zu, %zu)", seed,
	      ag.counts[SSM_MUX_EV_CLOSED], ssm_mux_channels(ag.m), ssm_mux_channels(br.m));
	CHECK(br.counts[SSM_MUX_EV_CLOSED] == 0, "seed %u: the broker got no CLOSE event", seed);
	ssm_mux_free(br.m);
	ssm_mux_free(ag.m);
}

static void test_resume_cuts(void)
{
	uint32_t seed;

	if (getenv("MUXSEED")) {
		resume_run((uint32_t)atoi(getenv("MUXSEED")));
		return;
	}
	for (seed = 1; seed <= 300; seed++)
		resume_run(seed);
}

/* v is resuming: its own RESUMEs and RESUME_DONE went out (to nowhere) */
static void victim_hello(struct side *v)
{
	size_t n;

	ssm_mux_link_down(v->m, 0);
	ssm_mux_hello(v->m, 0);
	while (ssm_mux_tx_peek(v->m, &n) != NULL)
		ssm_mux_tx_pop(v->m);
	clear(v);
}

static int rx_resume(struct side *v, uint32_t ch, uint32_t st, uint16_t flags, uint64_t off,
		     uint64_t val)
{
	struct ssm_frame f;

	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_RESUME;
	f.channel = ch;
	f.stream = st;
	f.flags = flags;
	f.offset = off;
	f.value = val;
	return ssm_mux_rx(v->m, &f, v->errmsg, sizeof(v->errmsg));
}

static int rx_done(struct side *v)
{
	struct ssm_frame f;

	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_RESUME_DONE;
	return ssm_mux_rx(v->m, &f, v->errmsg, sizeof(v->errmsg));
}

/* what v sends once resumed: the code of its CLOSE on (ch, st) (-1: none); *ptypes gets a
 * bit per frame type seen on ch */
static int sent_close(struct side *v, uint32_t ch, uint32_t st, unsigned long *ptypes)
{
	uint8_t *p;
	size_t n;
	struct ssm_frame f;
	int code = -1;

	if (ptypes)
		*ptypes = 0;
	while ((p = ssm_mux_tx_peek(v->m, &n)) != NULL) {
		if (ssm_frame_decode(p, n, &f) == 0 && f.channel == ch) {
			if (ptypes)
				*ptypes |= 1ul << (f.type & 63);
			if (f.type == SSM_FRAME_CLOSE && f.stream == st)
				code = f.u.close.code;
		}
		ssm_mux_tx_pop(v->m);
	}
	return code;
}

#define F_EOF SSM_FRAME_F_EOF_SEEN
#define F_ACC SSM_FRAME_F_ACCEPT_SEEN
#define F_EXIT SSM_FRAME_F_EXIT_SEEN
#define F_TERM SSM_FRAME_F_TERMINATE_SEEN

struct rrow {
	int line, victim;
	uint32_t ch, st;
	uint16_t flags;
	uint64_t off, val;
	int want_ev;    /* 1: EV_CLOSED unknown for the channel */
	int want_close; /* the CLOSE code sent once resumed, -1 none */
};

/* pair_setup's state, then one RESUME (the other channels listed as they are) */
static const struct rrow rrows[] = {
    /* the broker's channel 2: it sent 10 bytes, all acknowledged */
    {__LINE__, BR, 2, 0, F_ACC, 10, 110, 0, -1},
    {__LINE__, BR, 2, 0, F_ACC, 9, 109, 1, SSM_CODE_UNKNOWN},  /* below what was acked */
    {__LINE__, BR, 2, 0, F_ACC, 11, 111, 1, SSM_CODE_UNKNOWN}, /* beyond what was sent */
    {__LINE__, BR, 2, 0, F_ACC | F_EOF, 10, 110, 1, SSM_CODE_UNKNOWN}, /* EOF never sent */
    {__LINE__, BR, 2, 0, F_ACC | F_EXIT, 10, 110, 1, SSM_CODE_UNKNOWN}, /* EXIT never sent */
    /* channels the broker does not have */
    {__LINE__, BR, 4, 0, F_ACC, 0, 100, 0, SSM_CODE_UNKNOWN},  /* closed */
    {__LINE__, BR, 8, 0, F_ACC, 0, 100, 0, SSM_CODE_UNKNOWN},  /* its parity, never opened */
    {__LINE__, BR, 9, 0, F_ACC, 0, 0, 0, SSM_CODE_UNKNOWN},    /* accepted, never seen */
    {__LINE__, BR, 9, 0, 0, 0, 0, 0, -1},                      /* an OPEN that never came */
    {__LINE__, BR, 2, 4, 0, 0, 100, 0, -1},                    /* a STREAM_OPEN never came */
    {__LINE__, BR, 2, 4, F_ACC, 0, 100, 0, SSM_CODE_UNKNOWN},  /* a stream it does not have */
    {__LINE__, BR, 2, 5, 0, 0, 100, 0, SSM_CODE_UNKNOWN},      /* its parity, never opened */
    /* the agent's TRANSCRIPT 1: the broker sends nothing on it */
    {__LINE__, BR, 1, 0, F_ACC, 0, 0, 0, -1},
    {__LINE__, BR, 1, 0, F_ACC, 1, 1, 1, SSM_CODE_UNKNOWN},
    /* the agent: channel 2 (it accepted; it sent 10 bytes) */
    {__LINE__, AG, 2, 0, 0, 10, 110, 0, -1},
    {__LINE__, AG, 2, 0, F_TERM, 10, 110, 1, SSM_CODE_UNKNOWN}, /* TERMINATE never sent */
    {__LINE__, AG, 2, 0, 0, 0, 100, 1, SSM_CODE_UNKNOWN},
    {__LINE__, AG, 6, 0, 0, 0, 100, 0, -1}, /* not accepted yet: offsets 0 */
    {__LINE__, AG, 6, 0, F_ACC, 0, 100, 1, SSM_CODE_UNKNOWN}, /* it never accepted */
    {__LINE__, AG, 6, 0, 0, 1, 100, 1, SSM_CODE_UNKNOWN},
    {__LINE__, AG, 7, 0, F_ACC, 0, 100, 0, SSM_CODE_UNKNOWN},   /* its parity, never opened */
    {__LINE__, AG, 10, 0, 0, 0, 100, 0, -1},                   /* an OPEN that never came */
};

/* what the victim lists so that only the row's channel matters: every other channel of
 * pair_setup as its peer has it */
static void list_others(struct side *v, int victim, uint32_t except)
{
	if (victim == BR) {
		if (except != 2)
			CHECK(rx_resume(v, 2, 0, F_ACC, 10, 110) == 0, "list 2");
		if (except != 6)
			CHECK(rx_resume(v, 6, 0, 0, 0, 0) == 0, "list 6");
		if (except != 1)
			CHECK(rx_resume(v, 1, 0, F_ACC, 0, 0) == 0, "list 1");
		if (except != 3)
			CHECK(rx_resume(v, 3, 0, 0, 0, 0) == 0, "list 3");
	} else {
		if (except != 2)
			CHECK(rx_resume(v, 2, 0, F_ACC, 10, 110) == 0, "list 2");
		if (except != 6)
			CHECK(rx_resume(v, 6, 0, 0, 0, 100) == 0, "list 6");
		if (except != 1)
			CHECK(rx_resume(v, 1, 0, F_ACC, 0, 100) == 0, "list 1");
		if (except != 3)
			CHECK(rx_resume(v, 3, 0, 0, 0, 0) == 0, "list 3");
	}
}

static void test_resume_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(rrows) / sizeof(rrows[0]); i++) {
		const struct rrow *r = &rrows[i];
		struct pair p;
		struct side *v;
		int rc, code;

		pair_setup(&p);
		v = r->victim == AG ? &p.ag : &p.br;
		victim_hello(v);
		list_others(v, r->victim, r->st == 0 ? r->ch : 0);
		rc = rx_resume(v, r->ch, r->st, r->flags, r->off, r->val);
		CHECK_ROW(r->line, rc == 0, "RESUME: %d %s", rc, v->errmsg);
		CHECK_ROW(r->line, rx_done(v) == 0, "RESUME_DONE: %s", v->errmsg);
		if (r->want_ev)
			CHECK_ROW(r->line, v->counts[SSM_MUX_EV_CLOSED] == 1 &&
					       v->last[0].code == SSM_CODE_UNKNOWN &&
					       v->last[0].ch == r->ch && !ssm_mux_is_open(v->m, r->ch, 0),
				  "EV_CLOSED unknown (%d events)", v->nev);
		else
			CHECK_ROW(r->line, v->counts[SSM_MUX_EV_CLOSED] == 0, "no channel closed");
		code = sent_close(v, r->ch, r->st, NULL);
		CHECK_ROW(r->line, code == r->want_close, "CLOSE sent %d, want %d", code,
			  r->want_close);
		pair_free(&p);
	}
}

/* A side that kept its state (it finished a resumption) knows every id it used: a RESUME
 * naming one of its parity it never used is answered CLOSE unknown and does not move its
 * next id.  Before, an id near UINT32_MAX left it no new channel (or stream) on the link
 * for as long as it ran.  (A new mux still skips what the peer resumes: test_resume_rules.) */
static void test_resume_known(void)
{
	static const struct {
		int line, victim;
		uint32_t ch, st, want_next;
	} kr[] = {
	    {__LINE__, BR, 0xFFFFFFFEu, 0, 8}, {__LINE__, BR, 8, 0, 8},
	    {__LINE__, AG, 0xFFFFFFFFu, 0, 5}, {__LINE__, AG, 7, 0, 5},
	    /* streams of the broker's parity in its channel 2, which it kept */
	    {__LINE__, BR, 2, 0xFFFFFFFFu, 1}, {__LINE__, BR, 2, 5, 1},
	};
	size_t i;

	for (i = 0; i < sizeof(kr) / sizeof(kr[0]); i++) {
		struct pair p;
		struct side *v;
		struct ssm_frame o;
		uint32_t got;

		pair_setup(&p);
		CHECK(ssm_mux_allow_streams(p.br.m, 2) == 0 && ssm_mux_allow_streams(p.ag.m, 2) == 0,
		      "streams allowed in channel 2");
		/* one resumption of both sides: each now knows its ids */
		ssm_mux_link_down(p.br.m, 0);
		ssm_mux_link_down(p.ag.m, 0);
		ssm_mux_hello(p.br.m, 0);
		ssm_mux_hello(p.ag.m, 0);
		CHECK_ROW(kr[i].line, wire(&p.br, &p.ag) == 0, "resumed (%s%s)", p.br.errmsg,
			  p.ag.errmsg);
		clear(&p.br);
		clear(&p.ag);
		v = kr[i].victim == AG ? &p.ag : &p.br;
		victim_hello(v);
		list_others(v, kr[i].victim, kr[i].st == 0 ? kr[i].ch : 0);
		CHECK_ROW(kr[i].line, rx_resume(v, kr[i].ch, kr[i].st, F_ACC, 0, 100) == 0,
			  "RESUME: %s", v->errmsg);
		CHECK_ROW(kr[i].line, rx_done(v) == 0, "RESUME_DONE: %s", v->errmsg);
		CHECK_ROW(kr[i].line, sent_close(v, kr[i].ch, kr[i].st, NULL) == SSM_CODE_UNKNOWN,
			  "answered CLOSE unknown");
		if (kr[i].st != 0) {
			got = ssm_mux_stream_open(v->m, kr[i].ch, "127.0.0.1:1", 100, NULL);
		} else {
			o = open_frame(kr[i].victim == BR ? SSM_KIND_SESSION : SSM_KIND_TRANSCRIPT);
			got = ssm_mux_open(v->m, &o, kr[i].victim == BR ? 100 : 0, NULL);
		}
		CHECK_ROW(kr[i].line, got == kr[i].want_next, "next id %u, want %u", got,
			  kr[i].want_next);
		pair_free(&p);
	}
}

/* the order of things in a resumption, and what goes again */
static void test_resume_rules(void)
{
	struct pair p;
	struct ssm_frame f;
	unsigned long types;
	uint8_t buf[200];
	size_t n;

	/* nothing but RESUME before the peer's RESUME_DONE; RESUME only once per stream,
	 * never after RESUME_DONE; RESUME_DONE once */
	pair_setup(&p);
	victim_hello(&p.br);
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_ACK;
	f.channel = 2;
	f.offset = 10;
	f.value = 110;
	CHECK(ssm_mux_rx(p.br.m, &f, p.br.errmsg, sizeof(p.br.errmsg)) == SSM_MUX_E_STATE &&
		      strstr(p.br.errmsg, "before RESUME_DONE") != NULL,
	      "ACK before RESUME_DONE: %s", p.br.errmsg);
	f.type = SSM_FRAME_DATA;
	f.u.data.p = payload;
	f.u.data.len = 1;
	CHECK(ssm_mux_rx(p.br.m, &f, NULL, 0) == SSM_MUX_E_STATE, "DATA before RESUME_DONE");
	CHECK(rx_resume(&p.br, 2, 0, F_ACC, 10, 110) == 0, "RESUME");
	CHECK(rx_resume(&p.br, 2, 0, F_ACC, 10, 110) == SSM_MUX_E_STATE, "a second RESUME");
	CHECK(rx_done(&p.br) == 0, "RESUME_DONE");
	CHECK(rx_done(&p.br) == SSM_MUX_E_STATE, "a second RESUME_DONE");
	CHECK(rx_resume(&p.br, 6, 0, 0, 0, 0) == SSM_MUX_E_STATE, "RESUME after RESUME_DONE");
	pair_free(&p);

	/* a side that waits for the peer's RESUME_DONE sends nothing after its own */
	pair_setup(&p);
	ssm_mux_link_down(p.br.m, 0);
	ssm_mux_hello(p.br.m, 0);
	CHECK(ssm_mux_write(p.br.m, 2, 0, "abc", 3) == 3, "write while resuming");
	{
		int resumes = 0, done = 0, other = 0;
		uint8_t *q;
		while ((q = ssm_mux_tx_peek(p.br.m, &n)) != NULL) {
			CHECK(ssm_frame_decode(q, n, &f) == 0, "decodes");
			if (f.type == SSM_FRAME_RESUME)
				resumes++;
			else if (f.type == SSM_FRAME_RESUME_DONE)
				done++;
			else
				other++;
			ssm_mux_tx_pop(p.br.m);
		}
		/* channels 2 and 6 (its own), 1 and 3 (the agent's) */
		CHECK(resumes == 4 && done == 1 && other == 0,
		      "4 RESUMEs, RESUME_DONE, nothing else (%d %d %d)", resumes, done, other);
		CHECK(!ssm_mux_tx_pending(p.br.m) && !ssm_mux_resumed(p.br.m), "then it waits");
	}
	pair_free(&p);

	/* unlisted by the peer: ours unanswered is opened again, the rest is closed (the peer
	 * lost it, or closed it and the cut swallowed its CLOSE) */
	pair_setup(&p);
	victim_hello(&p.br);
	CHECK(rx_done(&p.br) == 0, "RESUME_DONE alone");
	CHECK(p.br.counts[SSM_MUX_EV_CLOSED] == 3 && p.br.last[0].code == SSM_CODE_UNKNOWN &&
		      ssm_mux_channels(p.br.m) == 1 && ssm_mux_is_open(p.br.m, 6, 0),
	      "2, 1 and 3 closed, unknown (%d), 6 kept", p.br.counts[SSM_MUX_EV_CLOSED]);
	(void)sent_close(&p.br, 6, 0, &types);
	CHECK(types == (1ul << SSM_FRAME_OPEN | 1ul << SSM_FRAME_RESIZE),
	      "6: OPEN sent again, and the terminal's size (%lx)", types);
	{
		/* the peer's CLOSEs answering our RESUMEs: expected, answered, no more events */
		static const uint32_t lost[] = {2, 1, 3};
		size_t i;
		for (i = 0; i < 3; i++) {
			memset(&f, 0, sizeof(f));
			f.type = SSM_FRAME_CLOSE;
			f.channel = lost[i];
			f.u.close.code = i == 0 ? SSM_CODE_TERMINATED : SSM_CODE_UNKNOWN;
			CHECK(ssm_mux_rx(p.br.m, &f, NULL, 0) == 0, "CLOSE %u", lost[i]);
			CHECK(sent_close(&p.br, lost[i], 0, NULL) == (int)f.u.close.code,
			      "CLOSE %u answered", lost[i]);
			/* once more: an id of this side's (2) is dropped as closed; the peer's
			 * (1, 3: it lost them, and its ids may start over) is no more known */
			CHECK(ssm_mux_rx(p.br.m, &f, NULL, 0) == (i == 0 ? 0 : SSM_MUX_E_NOT_OPEN),
			      "CLOSE %u again", lost[i]);
			CHECK(sent_close(&p.br, lost[i], 0, NULL) == -1, "not answered twice");
		}
	}
	CHECK(p.br.counts[SSM_MUX_EV_CLOSED] == 3, "no second event");
	pair_free(&p);

	/* what a peer misses is sent again: ACCEPT, bytes from its offset, EOF, EXIT; and
	 * what it saw is not */
	pair_setup(&p);
	CHECK(ssm_mux_write(p.ag.m, 2, 0, "abcdef", 6) == 6 && ssm_mux_write_eof(p.ag.m, 2, 0) == 0 &&
		      ssm_mux_exit(p.ag.m, 2, SSM_EXIT_EXITED, 0, SSM_END_EXIT, "") == 0,
	      "the agent: 6 bytes, EOF, EXIT");
	victim_hello(&p.ag);
	list_others(&p.ag, AG, 2);
	CHECK(rx_resume(&p.ag, 2, 0, F_ACC, 10, 110) == 0 && rx_done(&p.ag) == 0, "resumed");
	{
		uint8_t *q;
		int data = 0, eof = 0, exit_ = 0, order_ok = 1;
		while ((q = ssm_mux_tx_peek(p.ag.m, &n)) != NULL) {
			CHECK(ssm_frame_decode(q, n, &f) == 0, "decodes");
			if (f.channel == 2 && f.type == SSM_FRAME_DATA) {
				data += (int)f.u.data.len;
				order_ok &= f.offset == 10 && eof == 0;
			}
			if (f.channel == 2 && f.type == SSM_FRAME_EOF)
				eof += f.offset == 16;
			if (f.channel == 2 && f.type == SSM_FRAME_EXIT)
				exit_ += f.offset == 16;
			ssm_mux_tx_pop(p.ag.m);
		}
		CHECK(data == 6 && eof == 1 && exit_ == 1 && order_ok,
		      "DATA from 10, EOF at 16, EXIT at 16 (%d %d %d)", data, eof, exit_);
	}
	victim_hello(&p.ag);
	list_others(&p.ag, AG, 2);
	CHECK(rx_resume(&p.ag, 2, 0, F_ACC | F_EOF | F_EXIT, 16, 116) == 0 && rx_done(&p.ag) == 0,
	      "resumed, the broker had it all");
	(void)sent_close(&p.ag, 2, 0, &types);
	CHECK((types & ~(1ul << SSM_FRAME_ACK)) == 0,
	      "nothing sent again on 2 but an ACK of what it holds (%lx)", types);
	pair_free(&p);

	/* an ACCEPT lost: sent again, before anything else on the channel */
	pair_setup(&p);
	CHECK(ssm_mux_accept(p.ag.m, 6, 0, 100) == 0 && lose1(&p.ag) == 1, "ACCEPT lost");
	CHECK(ssm_mux_write(p.ag.m, 6, 0, "xyz", 3) == 3, "3 bytes behind it");
	ssm_mux_link_down(p.br.m, 0);
	ssm_mux_link_down(p.ag.m, 0);
	ssm_mux_hello(p.br.m, 0);
	ssm_mux_hello(p.ag.m, 0);
	CHECK(wire(&p.br, &p.ag) == 0, "resumed (%s%s)", p.br.errmsg, p.ag.errmsg);
	CHECK(p.br.counts[SSM_MUX_EV_ACCEPT] == 1 && ssm_mux_read(p.br.m, 6, 0, buf, 10) == 3,
	      "the broker got the ACCEPT and the bytes");
	pair_free(&p);

	/* a peer that lost its state (a new mux): what it does not list is closed, what the
	 * other side resumes is answered CLOSE unknown, and its new ids are taken */
	pair_setup(&p);
	ssm_mux_free(p.br.m);
	side_init(&p.br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	ssm_mux_link_down(p.ag.m, 0);
	ssm_mux_hello(p.br.m, 0);
	ssm_mux_hello(p.ag.m, 0);
	clear(&p.ag);
	CHECK(wire(&p.br, &p.ag) == 0, "resumed (%s%s)", p.br.errmsg, p.ag.errmsg);
	CHECK(ssm_mux_channels(p.ag.m) == 1 && ssm_mux_is_open(p.ag.m, 3, 0) &&
		      ssm_mux_channels(p.br.m) == 1 && p.br.counts[SSM_MUX_EV_OPEN] == 1,
	      "the agent kept only its unanswered AUDIT 3, opened again (%zu %zu)",
	      ssm_mux_channels(p.ag.m), ssm_mux_channels(p.br.m));
	{
		struct ssm_frame s = open_frame(SSM_KIND_SESSION);
		/* 2 and 6 were resumed by the agent: the new broker never uses them */
		CHECK(ssm_mux_open(p.br.m, &s, 100, NULL) == 8 && wire(&p.br, &p.ag) == 0 &&
			      p.ag.counts[SSM_MUX_EV_OPEN] == 1,
		      "the new broker's next channel is a new channel (%s)", p.ag.errmsg);
	}
	pair_free(&p);

	/* the grace period: the program's clock, then ssm_mux_reset closes with timeout */
	pair_setup(&p);
	CHECK(ssm_mux_down_ms(p.ag.m, 5000) == -1, "up: not waiting");
	ssm_mux_link_down(p.ag.m, 1000);
	CHECK(ssm_mux_down_ms(p.ag.m, 120999) == 119999, "waiting 119999 ms");
	ssm_mux_hello(p.ag.m, 121000);
	CHECK(ssm_mux_down_ms(p.ag.m, 121000) == 120000, "a resumption under way still waits");
	ssm_mux_link_down(p.ag.m, 121000);
	clear(&p.ag);
	ssm_mux_reset(p.ag.m, SSM_CODE_TIMEOUT, "grace expired");
	CHECK(p.ag.counts[SSM_MUX_EV_CLOSED] == 4 && ssm_mux_channels(p.ag.m) == 0,
	      "every channel closed (%d)", p.ag.counts[SSM_MUX_EV_CLOSED]);
	CHECK(p.ag.last[0].code == SSM_CODE_TIMEOUT, "code timeout");
	/* the broker, still within its grace, resumes them: each is answered CLOSE unknown */
	ssm_mux_link_down(p.br.m, 0);
	ssm_mux_hello(p.br.m, 0);
	ssm_mux_hello(p.ag.m, 0);
	clear(&p.br);
	CHECK(wire(&p.br, &p.ag) == 0, "resumed (%s%s)", p.br.errmsg, p.ag.errmsg);
	CHECK(ssm_mux_channels(p.br.m) == 1 && ssm_mux_is_open(p.br.m, 6, 0) &&
		      p.br.counts[SSM_MUX_EV_CLOSED] == 3 && p.ag.counts[SSM_MUX_EV_OPEN] == 1,
	      "the broker lost 2, 1, 3 (%d) and opened 6 again (%d)",
	      p.br.counts[SSM_MUX_EV_CLOSED], p.ag.counts[SSM_MUX_EV_OPEN]);
	pair_free(&p);

	/* TERMINATE and RESIZE while down: sent once resumed */
	pair_setup(&p);
	ssm_mux_link_down(p.br.m, 0);
	ssm_mux_link_down(p.ag.m, 0);
	CHECK(ssm_mux_terminate(p.br.m, 2, "TerminateSession") == 0 &&
		      ssm_mux_resize(p.br.m, 2, 120, 40) == 0,
	      "TERMINATE and RESIZE while down");
	CHECK(!ssm_mux_tx_pending(p.br.m), "nothing to send while down");
	ssm_mux_hello(p.br.m, 0);
	ssm_mux_hello(p.ag.m, 0);
	CHECK(wire(&p.br, &p.ag) == 0 && p.ag.counts[SSM_MUX_EV_TERMINATE] == 1 &&
		      p.ag.counts[SSM_MUX_EV_RESIZE] == 2,
	      "the agent got TERMINATE and RESIZE (channels 2 and 6) once resumed");
	pair_free(&p);
}

/* DOCUMENT channels (PROTOCOL.md section 4): the agent opens one naming a document and its
 * SHA-256 and grants the largest document it takes; the broker accepts granting nothing and
 * sends the bytes, then EOF.  The grant is the size cap: the agent reads nothing before EOF,
 * so the window never slides, and a byte beyond it is a flow-control error. */
static void test_document_channel(void)
{
	static uint8_t big[SSM_FRAME_DOCUMENT_MAX];
	struct side br, ag;
	struct ssm_frame o, f, g;
	uint8_t buf[SSM_FRAME_MAX], one = 'x';
	uint64_t sent = 0;
	size_t n, i, got;
	uint32_t ch;
	int bad = 0;

	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	side_init(&ag, "agent", SSM_ROLE_AGENT, SSM_ROLE_BROKER);
	memset(&o, 0, sizeof(o));
	o.type = SSM_FRAME_OPEN;
	o.u.open.kind = SSM_KIND_DOCUMENT;
	o.u.open.sid = ssm_frame_str("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	o.u.open.document = ssm_frame_str("Doc-From-Broker");
	CHECK(ssm_mux_open(ag.m, &o, 0, NULL) == 0, "document: a grant of 0 is refused");
	CHECK(ssm_mux_open(ag.m, &o, SSM_FRAME_DOCUMENT_MAX + 1, NULL) == 0,
	      "document: a grant over 64 KiB is refused");
	CHECK(ssm_mux_open(br.m, &o, SSM_FRAME_DOCUMENT_MAX, NULL) == 0,
	      "document: the broker may not open one");
	ch = ssm_mux_open(ag.m, &o, SSM_FRAME_DOCUMENT_MAX, NULL);
	CHECK(ch == 1, "document: the agent opens channel 1 (%u)", ch);
	CHECK(wire(&ag, &br) == 0 && br.counts[SSM_MUX_EV_OPEN] == 1, "document: the broker sees it");
	CHECK(ssm_mux_accept(br.m, ch, 0, 100) < 0, "document: the acceptor grants nothing");
	CHECK(ssm_mux_accept_at(br.m, ch, 0, 5, 0) < 0, "document: no base offset");
	CHECK(ssm_mux_accept(br.m, ch, 0, 0) == 0, "document: accepted with a grant of 0");
	CHECK(wire(&ag, &br) == 0 && ag.counts[SSM_MUX_EV_ACCEPT] == 1, "document: agent has ACCEPT");
	CHECK(ssm_mux_write_room(ag.m, ch, 0) == 0, "document: the agent cannot send");
	for (i = 0; i < sizeof(big); i++)
		big[i] = pat(i, 7);
	/* the broker sends 64 KiB; the agent does not read: the window must not slide */
	while (sent < sizeof(big)) {
		size_t room = ssm_mux_write_room(br.m, ch, 0);
		if (room == 0)
			break;
		got = ssm_mux_write(br.m, ch, 0, big + sent,
				    sizeof(big) - sent < room ? sizeof(big) - sent : room);
		sent += got;
		if (wire(&br, &ag) < 0)
			break;
		ssm_mux_tick(ag.m);
		if (wire(&br, &ag) < 0)
			break;
	}
	CHECK(sent == sizeof(big), "document: 64 KiB sent (%llu)", (unsigned long long)sent);
	CHECK(ssm_mux_readable(ag.m, ch, 0) == sizeof(big), "document: all of it held unread");
	CHECK(ssm_mux_write_room(br.m, ch, 0) == 0, "document: no room for a byte more");
	CHECK(ssm_mux_write(br.m, ch, 0, &one, 1) == 0, "document: the 65537th byte is not taken");
	CHECK(ssm_mux_write_eof(br.m, ch, 0) == 0 && wire(&br, &ag) == 0 &&
		  ssm_mux_peer_eof(ag.m, ch, 0),
	      "document: EOF");
	for (i = 0; i < sizeof(big);) {
		const uint8_t *p = ssm_mux_read_peek_at(ag.m, ch, 0, i, &n);
		if (p == NULL || n == 0)
			break;
		for (got = 0; got < n; got++)
			bad += p[got] != big[i + got];
		i += n;
	}
	CHECK(i == sizeof(big) && bad == 0, "document: the bytes arrive intact (%zu, %d bad)", i, bad);
	/* a hostile broker: one byte beyond the grant */
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_DATA;
	f.channel = ch;
	f.offset = sizeof(big);
	f.u.data.p = &one;
	f.u.data.len = 1;
	CHECK(ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0 && ssm_frame_decode(buf, n, &g) == 0,
	      "document: frame");
	CHECK(ssm_mux_rx(ag.m, &g, ag.errmsg, sizeof(ag.errmsg)) == SSM_FRAME_E_FLOW_AFTER_EOF,
	      "document: DATA after EOF is a flow error (%s)", ag.errmsg);
	ssm_mux_free(br.m);
	ssm_mux_free(ag.m);

	/* again, without EOF: DATA past the 64 KiB grant */
	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	side_init(&ag, "agent", SSM_ROLE_AGENT, SSM_ROLE_BROKER);
	ch = ssm_mux_open(ag.m, &o, 1000, NULL);
	CHECK(wire(&ag, &br) == 0 && ssm_mux_accept(br.m, ch, 0, 0) == 0 && wire(&ag, &br) == 0,
	      "document 2: opened and accepted");
	f.offset = 1000;
	CHECK(ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0 && ssm_frame_decode(buf, n, &g) == 0,
	      "document 2: frame");
	f.offset = 0;
	{
		static uint8_t k[1001];
		struct ssm_frame d = f;
		d.u.data.p = k;
		d.u.data.len = sizeof(k);
		CHECK(ssm_frame_encode(&d, buf, sizeof(buf), &n) == 0 &&
			  ssm_frame_decode(buf, n, &g) == 0,
		      "document 2: frame of 1001");
		CHECK(ssm_mux_rx(ag.m, &g, ag.errmsg, sizeof(ag.errmsg)) == SSM_FRAME_E_FLOW_WINDOW,
		      "document 2: 1001 bytes on a grant of 1000 is a flow error (%s)", ag.errmsg);
	}
	/* the agent's DATA on it: the broker granted 0 */
	f.offset = 0;
	CHECK(ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0 && ssm_frame_decode(buf, n, &g) == 0,
	      "document 2: agent frame");
	CHECK(ssm_mux_rx(br.m, &g, br.errmsg, sizeof(br.errmsg)) == SSM_FRAME_E_FLOW_WINDOW,
	      "document 2: DATA from the agent is a flow error (%s)", br.errmsg);
	/* an ACCEPT with a base offset, and a DOCUMENT OPEN from the broker */
	ch = ssm_mux_open(ag.m, &o, 1000, NULL);
	CHECK(wire(&ag, &br) == 0, "document 3: opened");
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_ACCEPT;
	f.channel = ch;
	f.offset = 5;
	f.value = 5;
	CHECK(ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0 && ssm_frame_decode(buf, n, &g) == 0,
	      "document 3: frame");
	CHECK(ssm_mux_rx(ag.m, &g, ag.errmsg, sizeof(ag.errmsg)) == SSM_MUX_E_STATE,
	      "document 3: an ACCEPT with a base is refused (%s)", ag.errmsg);
	f = o;
	f.channel = 2;
	f.value = 1000;
	CHECK(ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0 && ssm_frame_decode(buf, n, &g) == 0,
	      "document 4: frame");
	CHECK(ssm_mux_rx(ag.m, &g, ag.errmsg, sizeof(ag.errmsg)) == SSM_MUX_E_KIND,
	      "document 4: a broker may not open a DOCUMENT (%s)", ag.errmsg);
	ssm_mux_free(br.m);
	ssm_mux_free(ag.m);
}

/* ---- a broker that restarts: adoption (PROTOCOL.md section 6, RESUME's ACKED) ---- */

static struct {
	int calls, answer;
	uint32_t window; /* the window answered; 0: 1000 */
	struct ssm_mux_adopt got;
} adopt_rec;

static int adopt_cb(void *ctx, struct ssm_mux_adopt *a)
{
	(void)ctx;
	adopt_rec.calls++;
	adopt_rec.got = *a;
	if (!adopt_rec.answer)
		return 0;
	a->window = adopt_rec.window ? adopt_rec.window : 1000;
	a->user = &adopt_rec;
	return 1;
}

static void write_pat(struct side *s, uint32_t ch, uint64_t from, size_t n, unsigned seed)
{
	uint8_t buf[4096];
	size_t i;

	CHECK(n <= sizeof(buf), "write_pat size");
	for (i = 0; i < n; i++)
		buf[i] = pat(from + i, seed);
	CHECK(ssm_mux_write(s->m, ch, 0, buf, n) == n, "%s: write %zu", s->name, n);
}

/* read everything readable: it must be the pattern from the read offset on */
static size_t read_pat(struct side *s, uint32_t ch, unsigned seed)
{
	uint8_t buf[4096];
	uint64_t off = ssm_mux_read_offset(s->m, ch, 0);
	size_t got, i, total = 0;
	int bad = 0;

	while ((got = ssm_mux_read(s->m, ch, 0, buf, sizeof(buf))) > 0) {
		for (i = 0; i < got; i++)
			bad += buf[i] != pat(off + i, seed);
		off += got;
		total += got;
	}
	CHECK(bad == 0, "%s: %d bytes differ from the pattern", s->name, bad);
	return total;
}

/* The agent side of a session with unacknowledged bytes both ways, its broker gone without
 * a word; a new broker mux (answer: whether its program adopts); features: the agent's. */
static void restart_case(int answer, uint32_t features, int *adopted)
{
	struct side b1, ag, b2;
	struct ssm_frame o = open_frame(SSM_KIND_SESSION);
	uint64_t ag_acked, ag_recv;
	size_t n;
	uint32_t ch;
	int i;

	side_init(&b1, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	side_init(&ag, "agent", SSM_ROLE_AGENT, SSM_ROLE_BROKER);
	ag.auto_accept = 1;
	ch = ssm_mux_open(b1.m, &o, 1000, NULL);
	CHECK(ch == 2 && wire(&b1, &ag) == 0, "restart: the session opens");
	/* agent -> broker: 1600 written, the broker reads 600 (acknowledged), 400 unread in its
	 * buffer, 600 never sent (window); broker -> agent: 900, the agent reads 300 */
	write_pat(&ag, ch, 0, 1000, 7);
	write_pat(&b1, ch, 0, 900, 9);
	CHECK(wire(&b1, &ag) == 0, "restart: bytes move");
	{
		uint8_t tmp[600];
		CHECK(ssm_mux_read(b1.m, ch, 0, tmp, 600) == 600, "restart: the broker reads 600");
		CHECK(ssm_mux_read(ag.m, ch, 0, tmp, 300) == 300, "restart: the agent reads 300");
	}
	CHECK(wire(&b1, &ag) == 0, "restart: acknowledgements move");
	write_pat(&ag, ch, 1000, 600, 7);
	CHECK(wire(&b1, &ag) == 0, "restart: more bytes move");
	ag_acked = ssm_mux_written(ag.m, ch, 0) - ssm_mux_unacked(ag.m, ch, 0);
	ag_recv = ssm_mux_read_offset(ag.m, ch, 0) + ssm_mux_readable(ag.m, ch, 0);
	CHECK(ag_acked > 0 && ag_acked < 1600 && ag_recv == 900,
	      "restart: the agent holds unacknowledged bytes (acked %llu, received %llu)",
	      (unsigned long long)ag_acked, (unsigned long long)ag_recv);
	/* the broker dies */
	ssm_mux_free(b1.m);
	ssm_mux_link_down(ag.m, 0);
	side_init(&b2, "broker2", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	ssm_mux_set_adopt(b2.m, adopt_cb);
	ssm_mux_set_features(b2.m, SSM_FRAME_FEATURES);
	ssm_mux_set_features(ag.m, features);
	memset(&adopt_rec, 0, sizeof(adopt_rec));
	adopt_rec.answer = answer;
	ssm_mux_hello(ag.m, 0);
	ssm_mux_hello(b2.m, 0);
	if (features & SSM_FRAME_FEAT_RESUME_ACKED)
		CHECK(ssm_mux_tx_peek(b2.m, &n) == NULL && !ssm_mux_tx_pending(b2.m),
		      "restart: the broker's RESUME_DONE waits for the agent's");
	CHECK(wire(&ag, &b2) == 0, "restart: the resumption passes (%s %s)", ag.errmsg,
	      b2.errmsg);
	CHECK(ssm_mux_resumed(ag.m) && ssm_mux_resumed(b2.m), "restart: both resumed");
	*adopted = ssm_mux_is_open(b2.m, ch, 0);
	if (!(features & SSM_FRAME_FEAT_RESUME_ACKED) || !answer) {
		CHECK(adopt_rec.calls == ((features & SSM_FRAME_FEAT_RESUME_ACKED) ? 1 : 0),
		      "restart: the program was asked %d times", adopt_rec.calls);
		CHECK(!*adopted && !ssm_mux_is_open(ag.m, ch, 0) &&
			      ag.counts[SSM_MUX_EV_CLOSED] == 1,
		      "restart: not adopted: the agent's session closes");
		for (i = 0; i < ag.nev; i++)
			if (ag.last[i].type == SSM_MUX_EV_CLOSED)
				CHECK(ag.last[i].code == SSM_CODE_UNKNOWN, "restart: code unknown");
		goto out;
	}
	CHECK(adopt_rec.calls == 1 && adopt_rec.got.channel == ch && adopt_rec.got.mine &&
		      adopt_rec.got.peer_acked == ag_acked && adopt_rec.got.peer_received == ag_recv,
	      "restart: the program is asked with the agent's offsets");
	CHECK(*adopted && ssm_mux_user(b2.m, ch, 0) == &adopt_rec, "restart: adopted");
	CHECK(ssm_mux_is_open(ag.m, ch, 0) && ag.counts[SSM_MUX_EV_CLOSED] == 0,
	      "restart: the agent keeps its session");
	CHECK(ssm_mux_written(b2.m, ch, 0) == ag_recv && ssm_mux_unacked(b2.m, ch, 0) == 0,
	      "restart: the new broker sends from the agent's received offset");
	/* the agent sends again everything it holds, then the rest */
	CHECK(wire(&ag, &b2) == 0, "restart: resent");
	n = 0;
	for (i = 0; i < 10 && ssm_mux_read_offset(b2.m, ch, 0) < 1600; i++) {
		CHECK(ssm_mux_read_offset(b2.m, ch, 0) + ssm_mux_readable(b2.m, ch, 0) <= 1600,
		      "restart: no byte beyond what was written");
		n += read_pat(&b2, ch, 7);
		CHECK(wire(&ag, &b2) == 0, "restart: more");
	}
	CHECK(ssm_mux_read_offset(b2.m, ch, 0) == 1600 && n == 1600 - ag_acked,
	      "restart: the new broker gets the agent's bytes from its acknowledged offset on "
	      "(%zu)", n);
	/* and the other way: from the agent's received offset, continuing the pattern */
	{
		uint64_t w = ag_recv;
		uint8_t one[1];

		n = 0;
		for (i = 0; i < 20 && w < ag_recv + 500; i++) {
			size_t k = ssm_mux_write_room(b2.m, ch, 0);

			for (; k > 0 && w < ag_recv + 500; k--, w++) {
				one[0] = pat(w, 9);
				CHECK(ssm_mux_write(b2.m, ch, 0, one, 1) == 1, "restart: write");
			}
			CHECK(wire(&ag, &b2) == 0, "restart: new bytes to the agent");
			n += read_pat(&ag, ch, 9);
			CHECK(wire(&ag, &b2) == 0, "restart: acknowledged");
		}
	}
	CHECK(n == ag_recv - 300 + 500, "restart: the agent reads its old bytes, then the new ones "
	      "(%zu)", n);
	/* the broker's next channel takes an id above the adopted one */
	ch = ssm_mux_open(b2.m, &o, 1000, NULL);
	CHECK(ch == 4 && wire(&b2, &ag) == 0 && ssm_mux_is_open(ag.m, 4, 0),
	      "restart: the next OPEN (channel %u) is accepted", ch);
out:
	ssm_mux_free(b2.m);
	ssm_mux_free(ag.m);
}

/* the host token in an OPEN: no copy left in the mux's buffers once it left */
static void test_open_wiped(void)
{
	struct side br;
	struct ssm_frame o = open_frame(SSM_KIND_SESSION);
	uint8_t *p;
	size_t n;

	side_init(&br, "broker", SSM_ROLE_BROKER, SSM_ROLE_AGENT);
	CHECK(ssm_mux_open(br.m, &o, 1000, NULL) == 2, "wipe: open");
	p = ssm_mux_tx_peek(br.m, &n);
	CHECK(p != NULL && memmem(p, n, "aaa.bbb.ccc", 11) != NULL, "wipe: the OPEN holds the token");
	ssm_mux_tx_pop(br.m);
	CHECK(memmem(p, n, "aaa.bbb.ccc", 11) == NULL, "wipe: sent, the buffer no longer holds it");
	ssm_mux_free(br.m);
}

/* A broker's mux that lost its state (a restart), linked again and resuming: the program
 * answers adoption with answer (adopt_rec); *f is a RESUME for stream 0 as a client sends
 * it, channel and acknowledged offset to fill in. */
static void adopt_side(struct side *b, int answer, struct ssm_frame *f)
{
	side_init(b, "broker", SSM_ROLE_BROKER, SSM_ROLE_CLIENT);
	ssm_mux_set_adopt(b->m, adopt_cb);
	ssm_mux_set_features(b->m, SSM_FRAME_FEATURES);
	memset(&adopt_rec, 0, sizeof(adopt_rec));
	adopt_rec.answer = answer;
	ssm_mux_link_down(b->m, 0);
	ssm_mux_hello(b->m, 0);
	memset(f, 0, sizeof(*f));
	f->type = SSM_FRAME_RESUME;
	f->channel = 1;
	f->flags = SSM_FRAME_F_ACCEPT_SEEN | SSM_FRAME_F_ACKED;
	f->value = 1000;
}

/* a RESUME the peer shapes to be taken up with offsets that cannot be: never offered to the
 * program, answered CLOSE unknown like any other */
static void test_adopt_bad(void)
{
	static const uint64_t acked[] = {UINT64_C(1) << 62,
					 (UINT64_C(1) << 62) - SSM_FRAME_WINDOW_MAX + 1};
	struct side b;
	struct ssm_frame f;
	size_t i;

	for (i = 0; i < sizeof(acked) / sizeof(acked[0]); i++) {
		adopt_side(&b, 1, &f);
		f.u.resume.acked = acked[i];
		CHECK(ssm_mux_rx(b.m, &f, b.errmsg, sizeof(b.errmsg)) == 0,
		      "adopt, acked %llu: the RESUME is taken (%s)", (unsigned long long)acked[i],
		      b.errmsg);
		CHECK(adopt_rec.calls == 0 && !ssm_mux_is_open(b.m, 1, 0),
		      "adopt, acked %llu: the program is not asked, no channel",
		      (unsigned long long)acked[i]);
		ssm_mux_free(b.m);
	}
	/* a program that says yes with a window out of range still gets its channel (it holds
	 * state for it now), with the default window */
	adopt_side(&b, 1, &f);
	adopt_rec.window = SSM_FRAME_WINDOW_MAX + 1;
	f.u.resume.acked = 5;
	CHECK(ssm_mux_rx(b.m, &f, b.errmsg, sizeof(b.errmsg)) == 0 && adopt_rec.calls == 1 &&
		      ssm_mux_is_open(b.m, 1, 0),
	      "adopt: a yes with a window out of range still makes the channel (%s)", b.errmsg);
	adopt_rec.window = 0;
	ssm_mux_free(b.m);
}

/* A resumption offers at most SSM_FRAME_CHANNELS_MAX unknown channels for adoption: a peer
 * that lists more (each an allocation and a question to the program) loses its link. */
static void test_adopt_flood(void)
{
	struct side b;
	struct ssm_frame f;
	uint32_t i;
	int rc = 0;

	adopt_side(&b, 0, &f);
	for (i = 0; i < SSM_FRAME_CHANNELS_MAX && rc == 0; i++) {
		f.channel = 2 * i + 1;
		rc = ssm_mux_rx(b.m, &f, b.errmsg, sizeof(b.errmsg));
	}
	CHECK(rc == 0 && adopt_rec.calls == SSM_FRAME_CHANNELS_MAX,
	      "adopt flood: %d unknown channels are each offered (%d asked, %s)",
	      SSM_FRAME_CHANNELS_MAX, adopt_rec.calls, b.errmsg);
	f.channel = 2 * SSM_FRAME_CHANNELS_MAX + 1;
	b.errmsg[0] = 0;
	CHECK(ssm_mux_rx(b.m, &f, b.errmsg, sizeof(b.errmsg)) < 0 &&
		      strstr(b.errmsg, "more RESUMEs for unknown channels") != NULL &&
		      adopt_rec.calls == SSM_FRAME_CHANNELS_MAX,
	      "adopt flood: one more fails the link without asking (%s)", b.errmsg);
	ssm_mux_free(b.m);
}

static void test_broker_restart(void)
{
	int adopted;

	restart_case(1, SSM_FRAME_FEATURES, &adopted);
	CHECK(adopted, "a restarted broker adopts a session its program knows");
	restart_case(0, SSM_FRAME_FEATURES, &adopted);
	CHECK(!adopted, "a RESUME the program does not know is answered CLOSE unknown");
	restart_case(1, SSM_FRAME_FEAT_DOCUMENTS, &adopted);
	CHECK(!adopted, "without RESUME_ACKED on both sides, no adoption");
}

int main(void)
{
	test_delayed_ack();
	test_session();
	test_close_in_callback();
	test_streams();
	test_channel_limit();
	test_queue_flood();
	test_hostile();
	test_hostile_sequences();
	test_resume_rows();
	test_resume_known();
	test_resume_rules();
	test_resume_cuts();
	test_document_channel();
	test_broker_restart();
	test_open_wiped();
	test_adopt_bad();
	test_adopt_flood();
	return check_done("test_mux");
}
