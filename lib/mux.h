/* mux.h - channels and streams over one link (docs/PROTOCOL.md sections 3, 4, 5 and 8).
 *
 * One struct ssm_mux per link end (the agent's one link, each of the broker's agent and
 * client connections, the client's one connection).  It owns every channel and stream of
 * that link: their ids, the flow control of both directions (lib/frame.h ssm_flow), a send
 * buffer of the bytes not yet acknowledged by the peer and a receive buffer of the bytes the
 * program has not read yet, and the rules of section 8 that go beyond the codec.  Like
 * link.h it does no I/O: ssm_link hands it every decoded channel frame (ssm_link.chan_rx),
 * the program gets events through one callback, and writes the messages ssm_mux_tx_peek
 * gives (each with SSM_LINK_PRE bytes of headroom) once the link's own queue is empty.
 *
 * Back-pressure: ssm_mux_write takes at most ssm_mux_write_room bytes (the peer's window and
 * this side's buffer); when it takes less than offered, the program stops reading its pty or
 * socket and waits for SSM_MUX_EV_WRITABLE.  The receive buffer never overflows: this side
 * grants the peer exactly what the program has read plus the stream's window, so the peer
 * cannot send more than fits (a peer that does commits a flow-control error).
 *
 * Acknowledgements: a received byte is acknowledged once the program has read it
 * (ssm_mux_read / ssm_mux_read_consume), together with the new window limit (read offset +
 * window).  An ACK is queued when the receive buffer becomes empty, or when at least half a
 * window was read since the last ACK.
 *
 * Closing: ssm_mux_close queues a CLOSE and forgets the stream or channel at once (its user
 * pointer is never given back again); frames that cross it on the wire are dropped as the
 * protocol says (ids are never reused).  A CLOSE from the peer gives SSM_MUX_EV_CLOSED, is
 * answered with a CLOSE of the same code, and the ids are forgotten after the callback
 * returns.
 *
 * Re-entrancy: every ssm_mux_* function may be called from inside the event callback,
 * including ssm_mux_close of the channel the event is about; state is freed only after the
 * callback returns.
 *
 * Resumption (section 6): when a connection ends the program calls ssm_mux_link_down; the
 * channels, their unacknowledged bytes and counters stay, and the program may go on writing
 * and reading (nothing is sent; writes stop at the peer's window).  On the next connection
 * ssm_link calls ssm_mux_hello after the HELLOs (ssm_mux_attach arranges it): the mux sends
 * one RESUME per stream and RESUME_DONE, takes the peer's RESUMEs, and once both RESUME_DONEs
 * passed it resends what the peer lacks (bytes from the peer's received offset, EOF, ACCEPT,
 * EXIT, TERMINATE, the last RESIZE, OPENs the peer never saw) and closes with
 * SSM_MUX_EV_CLOSED code unknown what the peer lost.  A stream or channel this side closed
 * keeps a tombstone until the peer answers its CLOSE, so a RESUME for it gets that CLOSE
 * again.  When the grace period passes (ssm_mux_down_ms), the program calls ssm_mux_reset,
 * which closes every channel (SSM_MUX_EV_CLOSED, code given).  With the HELLO feature
 * RESUME_ACKED on both sides, RESUMEs carry this side's acknowledged offset and a broker
 * sends its RESUME_DONE only after the peer's, so that a restarted broker may take up
 * (ssm_mux_set_adopt) the sessions it finds in the peer's RESUMEs. */
#ifndef SSM_MUX_H
#define SSM_MUX_H
#include <stddef.h>
#include <stdint.h>
#include "frame.h"
#include "link.h"

#define SSM_MUX_SEND_MAX (4u * 1024 * 1024) /* send buffer per stream direction */
#define SSM_MUX_CTL_MAX 8192                /* queued control frames; beyond: ENOBUFS */

/* ssm_mux_rx's own refusals (section 8, beyond the codec), besides the SSM_FRAME_E_* codes
 * of the flow-control helper (SSM_FRAME_E_FLOW_*: GOAWAY flow) and of the codec's window
 * check; every one of these is a protocol error (GOAWAY protocol). */
enum {
	SSM_MUX_E_ID = -60,       /* channel/stream id of the wrong parity or not increasing */
	SSM_MUX_E_NOT_OPEN = -61, /* a frame for an id that was never opened */
	SSM_MUX_E_KIND = -62,     /* a kind this peer may not open; STREAM_OPEN outside Port */
	SSM_MUX_E_STATE = -63,    /* out of order: DATA/EOF/ACK/EXIT before ACCEPT, a second
				   * ACCEPT or EXIT, ACCEPT of a stream this side did not open,
				   * an EXIT offset that contradicts the bytes received */
	SSM_MUX_E_SIDE = -64,     /* RESIZE/TERMINATE/EXIT from the wrong side or kind */
	SSM_MUX_E_QUEUE = -65,    /* answering the peer overflowed the send queue (or memory) */
	SSM_MUX_E_TYPE = -66,     /* not a channel frame (nor RESUME_DONE) */
};
/* Names SSM_MUX_E_* and, through ssm_frame_strerror, every SSM_FRAME_E_* code. */
const char *ssm_mux_strerror(int err);
/* 1 if err (a negative ssm_mux_rx result) is a flow-control error (GOAWAY flow). */
int ssm_mux_err_is_flow(int err);

enum ssm_mux_ev_type {
	/* The peer opened a channel (ev->f is its OPEN, ev->stream 0).  The program answers,
	 * in the callback or later, with ssm_mux_accept(channel, 0, window) or ssm_mux_close.
	 * Section 8's opener checks (parity, order, kinds this peer may open) were done;
	 * the 1024-channel limit too (answered CLOSE limit, no event). */
	SSM_MUX_EV_OPEN = 1,
	/* The peer opened a stream in a channel the program marked ssm_mux_allow_streams
	 * (ev->f is its STREAM_OPEN).  Answer with ssm_mux_accept(channel, stream, window) or
	 * ssm_mux_close(channel, stream, SSM_CODE_CONNECT, ...). */
	SSM_MUX_EV_STREAM_OPEN,
	/* The peer accepted this side's OPEN (stream 0) or STREAM_OPEN. */
	SSM_MUX_EV_ACCEPT,
	/* Bytes arrived in the receive buffer of (channel, stream): ssm_mux_read them. */
	SSM_MUX_EV_READABLE,
	/* The peer's EOF on (channel, stream); bytes still unread stay readable. */
	SSM_MUX_EV_EOF,
	/* The peer's ACK made room after ssm_mux_write took less than offered (or room was 0). */
	SSM_MUX_EV_WRITABLE,
	/* The peer closed (channel, stream) (stream 0: the whole channel and all its streams;
	 * one event for the channel, none for its other streams).  ev->code, ev->reason.
	 * Also given by ssm_mux_reset.  The ids are forgotten when the callback returns. */
	SSM_MUX_EV_CLOSED,
	/* SESSION channels, stream 0: from the channel's opener (the user side). */
	SSM_MUX_EV_RESIZE,    /* ev->f->u.resize */
	SSM_MUX_EV_TERMINATE, /* ev->f->u.terminate */
	/* From the channel's acceptor (the host side), given only once every byte up to the
	 * EXIT's offset was received (it may still be unread): ev->f->u.exit. */
	SSM_MUX_EV_EXIT,
	/* The peer's ACK freed bytes of (channel, stream) (only with ssm_mux_want_acked): the
	 * acknowledged offset is ssm_mux_written - ssm_mux_unacked. */
	SSM_MUX_EV_ACKED,
};

struct ssm_mux_ev {
	enum ssm_mux_ev_type type;
	uint32_t channel, stream;
	void *user;                 /* the channel's or stream's user pointer (NULL if none) */
	const struct ssm_frame *f;  /* the frame behind the event, when there is one */
	uint16_t code;              /* EV_CLOSED */
	const char *reason;         /* EV_CLOSED, NUL-terminated */
};

struct ssm_mux;
typedef void (*ssm_mux_cb)(void *ctx, const struct ssm_mux_ev *ev);

/* role: this side (agent, broker or client); peer: the other side's role (agent or client
 * when role is broker; broker otherwise).  0, or -ENOMEM. */
int ssm_mux_new(struct ssm_mux **pm, enum ssm_frame_role role, enum ssm_frame_role peer,
		ssm_mux_cb cb, void *ctx);
/* Frees every channel without events. */
void ssm_mux_free(struct ssm_mux *m);

/* Resumption of a SESSION channel this side has no state for (a broker that restarted,
 * PROTOCOL.md section 6): the peer's RESUME for its stream 0, with ACCEPT_SEEN and ACKED.
 * The callback returns 1 to take it up, with window (this side's grant, 1..16 MiB: the
 * program must give one, another is refused as if the callback had said 0) and user set; the channel is then open as the peer has it: accepted, this side sending from
 * the peer's received offset (ssm_mux_written starts there: nothing is held here),
 * receiving from the peer's acknowledged offset (the peer sends again everything it holds;
 * ssm_mux_read_offset starts there).  Only when both HELLOs announced
 * SSM_FRAME_FEAT_RESUME_ACKED. */
struct ssm_mux_adopt {
	uint32_t channel;
	int mine;               /* the id is of this side's parity (this side opened it) */
	uint64_t peer_received; /* the peer's received offset: where this side sends from */
	uint64_t peer_acked;    /* what the peer holds from: where this side receives from */
	uint16_t peer_flags;    /* the RESUME's flags (EXIT_SEEN: the peer has the EXIT) */
	uint32_t window;        /* set by the callback */
	void *user;             /* set by the callback */
};
typedef int (*ssm_mux_adopt_cb)(void *ctx, struct ssm_mux_adopt *a);
void ssm_mux_set_adopt(struct ssm_mux *m, ssm_mux_adopt_cb cb);
/* The HELLO features both sides announced (ssm_link passes them before ssm_mux_hello;
 * tests without a link call it). */
void ssm_mux_set_features(struct ssm_mux *m, uint32_t features);
/* Give SSM_MUX_EV_ACKED on every ACK that frees bytes (a relay passing acknowledgements
 * on, PROTOCOL.md section 5 rule 6). */
void ssm_mux_want_acked(struct ssm_mux *m);

/* Attach to a link: sets l->chan_rx and l->chan_ctx so that ssm_link_rx hands every
 * channel frame (after RESUME_DONE) to ssm_mux_rx.  ssm_link_init zeroes them: attach again
 * after every ssm_link_init (each new connection). */
void ssm_mux_attach(struct ssm_mux *m, struct ssm_link *l);

/* One decoded channel frame (types OPEN..RESUME, and RESUME_DONE; anything but RESUME
 * before the peer's RESUME_DONE is refused).  0, or a negative SSM_FRAME_E_* code
 * (a protocol or flow-control error: the connection must end with GOAWAY protocol, or
 * flow for the SSM_FRAME_E_FLOW_* codes); err gets one line naming the frame. */
int ssm_mux_rx(struct ssm_mux *m, const struct ssm_frame *f, char *err, size_t errlen);

/* Open a channel of this side (ids: odd for agent and client, even for the broker;
 * increasing).  open carries kind, cols, rows, sid, document, token, term (type, channel
 * and value are set here).  window: this side's grant for stream 0 (0 for TRANSCRIPT and
 * AUDIT; otherwise 1..16 MiB).  Returns the channel id, or 0 (bad arguments, 1024
 * channels open, out of memory). */
uint32_t ssm_mux_open(struct ssm_mux *m, const struct ssm_frame *open, uint32_t window,
		      void *user);
/* Allow the peer to open streams in this channel (a Port session); both sides call it. */
int ssm_mux_allow_streams(struct ssm_mux *m, uint32_t channel);
/* Open a stream in a channel (allowed streams only); returns its id or 0. */
uint32_t ssm_mux_stream_open(struct ssm_mux *m, uint32_t channel, const char *origin,
			     uint32_t window, void *user);
/* Accept the peer's OPEN (stream 0) or STREAM_OPEN with this side's window (and base
 * offset 0; TRANSCRIPT/AUDIT acceptors may give a base, see ssm_mux_accept_at).  0 or -1. */
int ssm_mux_accept(struct ssm_mux *m, uint32_t channel, uint32_t stream, uint32_t window);
int ssm_mux_accept_at(struct ssm_mux *m, uint32_t channel, uint32_t stream, uint64_t base,
		      uint32_t window);
/* Close a stream (stream != 0) or the whole channel (stream 0), queueing CLOSE code/reason;
 * this side forgets it at once.  0, or -1 if no such open channel or stream. */
int ssm_mux_close(struct ssm_mux *m, uint32_t channel, uint32_t stream, uint16_t code,
		  const char *reason);

/* User pointers: the channel's (stream 0) or a stream's. */
void ssm_mux_set_user(struct ssm_mux *m, uint32_t channel, uint32_t stream, void *user);
void *ssm_mux_user(struct ssm_mux *m, uint32_t channel, uint32_t stream);
/* 1 if the channel (and stream) is open on this side. */
int ssm_mux_is_open(struct ssm_mux *m, uint32_t channel, uint32_t stream);

/* Sending on (channel, stream): how many bytes ssm_mux_write would take now (0 before the
 * ACCEPT, after EOF, or when the window or the send buffer is full). */
size_t ssm_mux_write_room(struct ssm_mux *m, uint32_t channel, uint32_t stream);
/* Copy up to room bytes into the send buffer; returns how many were taken. */
size_t ssm_mux_write(struct ssm_mux *m, uint32_t channel, uint32_t stream, const void *p,
		     size_t len);
/* Half-close this side's direction once everything written was sent.  0 or -1. */
int ssm_mux_write_eof(struct ssm_mux *m, uint32_t channel, uint32_t stream);
/* Bytes written but not yet acknowledged by the peer (0: everything delivered). */
uint64_t ssm_mux_unacked(struct ssm_mux *m, uint32_t channel, uint32_t stream);
/* Total bytes written on this side's direction (EXIT's offset for stream 0), as an absolute
 * offset: on a TRANSCRIPT/AUDIT channel it starts at the ACCEPT's base (ev->f->offset of
 * SSM_MUX_EV_ACCEPT), so the first byte written is the byte at that offset. */
uint64_t ssm_mux_written(struct ssm_mux *m, uint32_t channel, uint32_t stream);

/* Receiving: the absolute offset of the first unread byte. */
uint64_t ssm_mux_read_offset(struct ssm_mux *m, uint32_t channel, uint32_t stream);
/* Receiving: bytes waiting in the receive buffer. */
size_t ssm_mux_readable(struct ssm_mux *m, uint32_t channel, uint32_t stream);
/* Copy out up to len bytes (consumes them: may queue an ACK); returns how many. */
size_t ssm_mux_read(struct ssm_mux *m, uint32_t channel, uint32_t stream, void *buf,
		    size_t len);
/* Zero-copy: the next contiguous run of unread bytes (NULL/0 if none), then consume n of
 * them once written out. */
const uint8_t *ssm_mux_read_peek(struct ssm_mux *m, uint32_t channel, uint32_t stream,
				 size_t *plen);
/* The same, skip bytes past the first unread one (a reader that keeps bytes it handled
 * unconsumed until they are durable). */
const uint8_t *ssm_mux_read_peek_at(struct ssm_mux *m, uint32_t channel, uint32_t stream,
				    size_t skip, size_t *plen);
void ssm_mux_read_consume(struct ssm_mux *m, uint32_t channel, uint32_t stream, size_t n);
/* 1 once the peer's EOF arrived and every byte before it was read. */
int ssm_mux_read_eof(struct ssm_mux *m, uint32_t channel, uint32_t stream);
/* 1 once the peer's EOF arrived (bytes before it may still be unread). */
int ssm_mux_peer_eof(struct ssm_mux *m, uint32_t channel, uint32_t stream);
/* 1 once this side's EOF left (was taken by ssm_mux_tx_peek/pop): a CLOSE queued now
 * follows it on the wire.  A CLOSE queued before would discard it. */
int ssm_mux_eof_sent(struct ssm_mux *m, uint32_t channel, uint32_t stream);

/* SESSION control frames on stream 0: RESIZE and TERMINATE by the channel's opener, EXIT by
 * its acceptor (offset: everything written on stream 0, so call it after the last write).
 * Control frames go out ahead of queued DATA.  0 or -1 (wrong side, kind or state). */
int ssm_mux_resize(struct ssm_mux *m, uint32_t channel, uint16_t cols, uint16_t rows);
int ssm_mux_terminate(struct ssm_mux *m, uint32_t channel, const char *reason);
int ssm_mux_exit(struct ssm_mux *m, uint32_t channel, uint8_t how, uint8_t status,
		 uint8_t end_reason, const char *detail);

/* The next message to write (control frames first, then DATA round-robin between the
 * streams with bytes to send), with SSM_LINK_PRE bytes of headroom before the returned
 * pointer; NULL when nothing is due.  The same message is returned until ssm_mux_tx_pop. */
uint8_t *ssm_mux_tx_peek(struct ssm_mux *m, size_t *plen);
void ssm_mux_tx_pop(struct ssm_mux *m);
/* 1 if ssm_mux_tx_peek would return a message. */
int ssm_mux_tx_pending(const struct ssm_mux *m);
/* The program's timer (every 250 ms or less): acknowledgements that waited go out.  Once a
 * program ticks, a stream acknowledges at half a window or at the next tick (PROTOCOL.md
 * section 4, ACK); ssm_mux_tx_pending says whether there is something to write. */
void ssm_mux_tick(struct ssm_mux *m);

/* The connection ended: every channel is closed with code/reason (one SSM_MUX_EV_CLOSED per
 * channel), queued frames are dropped, id counters are kept (ids are never reused).  The
 * peer's ids may start over on the next connection (without resumption a peer such as the
 * broker, which frees its mux with the connection, loses its state): only this side's own
 * counter is kept. */
void ssm_mux_reset(struct ssm_mux *m, uint16_t code, const char *reason);
/* Resumption (section 6).  The connection ended: nothing more is sent; channels stay. */
void ssm_mux_link_down(struct ssm_mux *m, int64_t now_ms);
/* A new connection passed its HELLOs: RESUMEs and RESUME_DONE are due (ssm_link calls it;
 * without ssm_link, e.g. in tests, the program does).  Queued frames are dropped: the
 * resumption restates everything from the state. */
void ssm_mux_hello(struct ssm_mux *m, int64_t now_ms);
/* How long the channels have waited for a resumption (-1: the link is up, resumed). */
int64_t ssm_mux_down_ms(const struct ssm_mux *m, int64_t now_ms);
/* 1 once both RESUME_DONEs passed (or before any connection ever ended). */
int ssm_mux_resumed(const struct ssm_mux *m);

/* Number of open channels. */
size_t ssm_mux_channels(const struct ssm_mux *m);

#endif
