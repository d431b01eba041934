/* mux.c - channels and streams over one link (docs/PROTOCOL.md sections 3, 4, 5, 8), see
 * mux.h.
 *
 * Layout: channels in a hash table by id, each with an array of its open streams (stream 0
 * first).  Every stream has an ssm_flow (both directions), a send ring holding the bytes
 * acked..written (grown from 64 KiB by doubling up to SSM_MUX_SEND_MAX, allocated when
 * first written, freed when everything was acknowledged), and a receive ring of exactly the
 * window this side granted (allocated when the first byte arrives).  Both rings are indexed
 * by absolute stream offset modulo their capacity.
 *
 * Sending: one FIFO of control messages (encoded frames; an ACK or an EOF is a node embedded
 * in its stream and encoded when it reaches the head, so an ACK carries the newest values
 * and a stream has at most one queued), then DATA round-robin over the streams with
 * written-but-unsent bytes.  Each stream owns a reserved CLOSE node from its creation, so
 * closing (or answering the peer's CLOSE) never needs memory.
 *
 * Forgetting: a closed stream or channel leaves the lookup structures at once and goes to a
 * graveyard, freed only when no callback is running (the program may close from inside a
 * callback while mux.c still holds pointers to the object the event is about). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mux.h"

#define SEND_MIN (64u * 1024)
/* Payload of one DATA frame this side sends: the frame (32-byte header), inside a websocket
 * frame (at most 8 bytes of header for these sizes, masked from a client), fills one TLS
 * record (16384 bytes of plaintext) exactly; at SSM_FRAME_BODY_MAX every frame cost two
 * records.  Receiving accepts up to SSM_FRAME_BODY_MAX, as the protocol allows. */
#define DATA_MAX (16384 - SSM_FRAME_HEADER - 8)
#define CLOSE_MAX (SSM_FRAME_HEADER + 4 + SSM_FRAME_REASON_MAX)

enum { Q_FRAME = 1, Q_ACK, Q_EOF };

struct stream;

struct qnode {
	struct qnode *prev, *next;
	struct stream *s; /* Q_ACK, Q_EOF: the owner */
	uint8_t *data;    /* Q_FRAME: the encoded frame, right after the node */
	size_t len;
	uint8_t kind;
	uint8_t linked;
	uint8_t counted; /* counts against SSM_MUX_CTL_MAX */
};

struct chan;

struct stream {
	uint32_t id;
	struct chan *c;
	void *user;
	struct ssm_flow fl;
	unsigned mine : 1;     /* this side opened it */
	unsigned accepted : 1; /* ACCEPT sent (peer's stream) or received (ours) */
	unsigned dead : 1;
	unsigned blocked : 1;    /* a short write, or write_room said 0: EV_WRITABLE due */
	unsigned eof_wanted : 1; /* ssm_mux_write_eof was called */
	unsigned eof_queued : 1;
	unsigned in_rr : 1;
	unsigned has_exit : 1;      /* stream 0: the peer's EXIT arrived */
	unsigned exit_given : 1;    /* ... and SSM_MUX_EV_EXIT was given */
	unsigned exit_sent : 1;     /* stream 0: this side queued EXIT */
	unsigned terminated : 1;    /* stream 0: this side queued TERMINATE */
	unsigned ack_later : 1;     /* consumed bytes to acknowledge at the next tick */
	unsigned got_terminate : 1; /* stream 0: the peer's TERMINATE arrived */
	unsigned listed : 1;        /* resumption: the peer sent a RESUME for it */
	unsigned adopted : 1;       /* taken up from the peer's RESUME (adopt): its ACKs may
				     * restate bytes already counted as acknowledged here */
	uint16_t peer_flags;        /* ... with these flags */
	uint64_t base;              /* receiving: where the offsets started (ACCEPT's base) */
	uint8_t *open_msg;          /* ours, until the ACCEPT: the encoded OPEN/STREAM_OPEN */
	size_t open_len;
	char *term_reason;          /* stream 0 of a session we opened: TERMINATE's reason */
	uint16_t cols, rows;        /* ... and the terminal size last sent (0: none) */
	/* sending: bytes fl.send_acked..written are in sbuf */
	uint8_t *sbuf;
	size_t scap;
	uint64_t written;
	/* receiving: bytes rd..fl.recv_next are in rbuf (capacity: window) */
	uint8_t *rbuf;
	uint32_t window;
	uint64_t rd;
	struct qnode ack_node, eof_node;
	struct qnode *close_node; /* reserved for this stream's CLOSE (stream 0: the channel's) */
	struct stream *rr_prev, *rr_next;
	struct stream *grave;
	/* stream 0 of a SESSION: the EXIT received (opener) or sent (acceptor) */
	struct ssm_frame exit_f;
	char exit_detail[SSM_FRAME_REASON_MAX];
};

/* A stream or channel this side closed (or refused in a resumption) whose CLOSE the peer
 * has not answered yet: a RESUME for it gets that CLOSE again (section 6). */
struct tomb {
	uint32_t ch, st;
	uint16_t code;
	unsigned listed : 1;
	unsigned answer : 1; /* lost by the peer: its CLOSE (the answer to our RESUME) is
			      * answered, not the answer to one of ours */
	struct tomb *next;
	char reason[SSM_FRAME_REASON_MAX + 1];
};
#define TOMBS_MAX 4096

enum { PH_UP = 0, PH_DOWN, PH_RESUMING };

struct chan {
	uint32_t id;
	uint8_t kind;
	unsigned mine : 1;
	unsigned allow_streams : 1;
	unsigned dead : 1;
	unsigned taken_up : 1; /* adopted in the resumption under way: this side does not know
				* which of its streams' ids the peer holds */
	uint32_t last_local_stream, max_peer_stream;
	struct stream *s0;  /* stream 0: lives as long as the channel */
	struct stream **st; /* the open streams, s0 included */
	size_t nst, cap;
	struct chan *hnext;
	struct chan *grave;
};

struct ssm_mux {
	enum ssm_frame_role role, peer;
	ssm_mux_cb cb;
	void *ctx;
	struct chan **ht;
	size_t nb; /* buckets, a power of two */
	size_t nchan;
	uint32_t last_local_chan, max_peer_chan;
	struct qnode *qh, *qt;
	size_t ctl_n;
	struct stream *rr_head, *rr_tail;
	struct chan *grave_c;
	struct stream *grave_s;
	unsigned depth; /* callbacks running */
	unsigned ticking : 1; /* the program calls ssm_mux_tick: acknowledgements may wait */
	unsigned want_acked : 1; /* SSM_MUX_EV_ACKED wanted (ssm_mux_want_acked) */
	uint32_t feat;           /* HELLO features both sides announced */
	ssm_mux_adopt_cb adopt;  /* resumption: the program may take up a RESUME it lacks */
	/* resumption (section 6) */
	int phase;                 /* PH_*: a mux that never lost a connection is up */
	int64_t down_since;        /* ms, when the connection ended (phase not up) */
	uint32_t (*rlist)[2];      /* the RESUMEs to send: (channel, stream) */
	size_t rn, ri;
	unsigned done_sent : 1;    /* this side's RESUME_DONE left */
	unsigned peer_done : 1;    /* the peer's RESUME_DONE arrived */
	unsigned tx_done : 1;      /* the message peeked is this side's RESUME_DONE */
	unsigned known : 1;        /* a resumption finished: this side knows every id it used
				    * (a new mux, one that lost its state, does not) */
	uint32_t resume_peer_max;  /* highest channel id of the peer's parity it resumed */
	uint32_t resume_adopts;    /* RESUMEs offered for adoption in this resumption */
	struct tomb *tombs;
	size_t ntombs;
	size_t tx_len;  /* a peeked message waiting for ssm_mux_tx_pop */
	uint8_t tx[SSM_LINK_PRE + SSM_FRAME_MAX];
	uint8_t scratch[SSM_FRAME_MAX];
};

/* ---- names ---- */

const char *ssm_mux_strerror(int err)
{
	switch (err) {
	case SSM_MUX_E_ID:
		return "channel or stream id of the wrong parity or not above the previous one";
	case SSM_MUX_E_NOT_OPEN:
		return "no such channel or stream was ever opened";
	case SSM_MUX_E_KIND:
		return "a channel or stream this peer may not open";
	case SSM_MUX_E_STATE:
		return "frame out of order for the stream's state";
	case SSM_MUX_E_SIDE:
		return "control frame from the wrong side or on the wrong kind of channel";
	case SSM_MUX_E_QUEUE:
		return "send queue full";
	case SSM_MUX_E_TYPE:
		return "not a channel frame here";
	}
	return ssm_frame_strerror(err);
}

int ssm_mux_err_is_flow(int err)
{
	return err <= SSM_FRAME_E_FLOW_GAP && err >= SSM_FRAME_E_FLOW_GRANT;
}

/* ---- rings (absolute offsets modulo the capacity) ---- */

static void ring_put(uint8_t *buf, size_t cap, uint64_t off, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t pos = (size_t)(off % cap), k = cap - pos < n ? cap - pos : n;
		memcpy(buf + pos, p, k);
		p += k;
		off += k;
		n -= k;
	}
}

static void ring_get(const uint8_t *buf, size_t cap, uint64_t off, uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t pos = (size_t)(off % cap), k = cap - pos < n ? cap - pos : n;
		memcpy(p, buf + pos, k);
		p += k;
		off += k;
		n -= k;
	}
}

/* ---- the send queue ---- */

static void q_link(struct ssm_mux *m, struct qnode *n)
{
	n->next = NULL;
	n->prev = m->qt;
	if (m->qt)
		m->qt->next = n;
	else
		m->qh = n;
	m->qt = n;
	n->linked = 1;
	if (n->counted)
		m->ctl_n++;
}

static void q_unlink(struct ssm_mux *m, struct qnode *n)
{
	if (!n->linked)
		return;
	if (n->prev)
		n->prev->next = n->next;
	else
		m->qh = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		m->qt = n->prev;
	n->prev = n->next = NULL;
	n->linked = 0;
	if (n->counted)
		m->ctl_n--;
}

static struct qnode *frame_node_alloc(size_t size)
{
	struct qnode *n = calloc(1, sizeof(*n) + size);

	if (n == NULL)
		return NULL;
	n->kind = Q_FRAME;
	n->data = (uint8_t *)(n + 1);
	return n;
}

/* An encoded OPEN carries a credential (the host's session token, the client's attach
 * secret): every copy of it is wiped once it is no longer needed. */
static void wipe_if_open(uint8_t *p, size_t len)
{
	if (len >= 2 && p[1] == SSM_FRAME_OPEN)
		explicit_bzero(p, len);
}

/* Encode f into a new node and queue it.  0, SSM_MUX_E_QUEUE (queue full, counted frames
 * only, or out of memory), or the codec's refusal of f. */
static int q_frame(struct ssm_mux *m, const struct ssm_frame *f, int counted)
{
	struct qnode *n;
	size_t len;
	int r;

	if (counted && m->ctl_n >= SSM_MUX_CTL_MAX)
		return SSM_MUX_E_QUEUE;
	if ((r = ssm_frame_encode(f, m->scratch, sizeof(m->scratch), &len)) < 0)
		return r;
	if (m->phase != PH_UP) {
		wipe_if_open(m->scratch, len);
		return 0; /* no connection: the resumption restates it from the state */
	}
	if ((n = frame_node_alloc(len)) == NULL) {
		wipe_if_open(m->scratch, len);
		return SSM_MUX_E_QUEUE;
	}
	memcpy(n->data, m->scratch, len);
	wipe_if_open(m->scratch, len);
	n->len = len;
	n->counted = (uint8_t)(counted != 0);
	q_link(m, n);
	return 0;
}

static void close_frame(struct ssm_frame *f, uint32_t ch, uint32_t st, uint16_t code,
			const char *reason)
{
	memset(f, 0, sizeof(*f));
	f->type = SSM_FRAME_CLOSE;
	f->channel = ch;
	f->stream = st;
	f->u.close.code = code;
	f->u.close.reason = ssm_frame_str(reason);
	if (f->u.close.reason.len > SSM_FRAME_REASON_MAX)
		f->u.close.reason.len = SSM_FRAME_REASON_MAX;
}

/* Queue the CLOSE of s (its reserved node: never fails); a reason the codec refuses (not
 * UTF-8, control characters, cut inside a character) is sent empty. */
static void q_close_reserved(struct ssm_mux *m, struct stream *s, uint16_t code,
			     const char *reason)
{
	struct qnode *n = s->close_node;
	struct ssm_frame f;

	if (n == NULL)
		return;
	if (code > SSM_CODE_LAST)
		code = SSM_CODE_INTERNAL;
	close_frame(&f, s->c->id, s->id, code, reason);
	if (ssm_frame_encode(&f, n->data, CLOSE_MAX, &n->len) != 0) {
		f.u.close.reason = ssm_frame_str(NULL);
		if (ssm_frame_encode(&f, n->data, CLOSE_MAX, &n->len) != 0)
			return;
	}
	if (m->phase != PH_UP)
		return; /* the tombstone says it in the resumption */
	s->close_node = NULL;
	q_link(m, n);
}

/* ---- tombstones ---- */

static struct tomb *tomb_get(const struct ssm_mux *m, uint32_t ch, uint32_t st)
{
	struct tomb *t;

	for (t = m->tombs; t; t = t->next)
		if (t->ch == ch && t->st == st)
			return t;
	return NULL;
}

static struct tomb *tomb_add(struct ssm_mux *m, uint32_t ch, uint32_t st, uint16_t code,
			     const char *reason)
{
	struct tomb *t = tomb_get(m, ch, st);

	if (t == NULL) {
		if (m->ntombs >= TOMBS_MAX || (t = calloc(1, sizeof(*t))) == NULL)
			return NULL; /* a later RESUME for it is answered CLOSE unknown */
		t->ch = ch;
		t->st = st;
		t->next = m->tombs;
		m->tombs = t;
		m->ntombs++;
	}
	t->code = code > SSM_CODE_LAST ? SSM_CODE_INTERNAL : code;
	t->answer = 0;
	snprintf(t->reason, sizeof(t->reason), "%s", reason ? reason : "");
	return t;
}

static void tomb_del(struct ssm_mux *m, uint32_t ch, uint32_t st)
{
	struct tomb **pp, *t;

	for (pp = &m->tombs; (t = *pp) != NULL;)
		if (t->ch == ch && (t->st == st || st == 0)) {
			*pp = t->next;
			free(t);
			m->ntombs--;
		} else {
			pp = &t->next;
		}
}

static void tombs_free(struct ssm_mux *m)
{
	while (m->tombs) {
		struct tomb *t = m->tombs;
		m->tombs = t->next;
		free(t);
	}
	m->ntombs = 0;
}

/* ---- round-robin list of streams with bytes to send ---- */

static void rr_add(struct ssm_mux *m, struct stream *s)
{
	if (s->in_rr)
		return;
	s->rr_next = NULL;
	s->rr_prev = m->rr_tail;
	if (m->rr_tail)
		m->rr_tail->rr_next = s;
	else
		m->rr_head = s;
	m->rr_tail = s;
	s->in_rr = 1;
}

static void rr_del(struct ssm_mux *m, struct stream *s)
{
	if (!s->in_rr)
		return;
	if (s->rr_prev)
		s->rr_prev->rr_next = s->rr_next;
	else
		m->rr_head = s->rr_next;
	if (s->rr_next)
		s->rr_next->rr_prev = s->rr_prev;
	else
		m->rr_tail = s->rr_prev;
	s->rr_prev = s->rr_next = NULL;
	s->in_rr = 0;
}

/* ---- channels and streams ---- */

static size_t hash_id(const struct ssm_mux *m, uint32_t id)
{
	return (size_t)((id * UINT32_C(2654435761)) >> 7) & (m->nb - 1);
}

static struct chan *chan_get(const struct ssm_mux *m, uint32_t id)
{
	struct chan *c;

	for (c = m->ht[hash_id(m, id)]; c; c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

static void ht_grow(struct ssm_mux *m)
{
	size_t nb = m->nb * 2, i;
	struct chan **ht = calloc(nb, sizeof(*ht)), *c, *next;
	struct chan **old = m->ht;
	size_t oldnb = m->nb;

	if (ht == NULL)
		return; /* longer chains, still correct */
	m->ht = ht;
	m->nb = nb;
	for (i = 0; i < oldnb; i++)
		for (c = old[i]; c; c = next) {
			size_t h = hash_id(m, c->id);
			next = c->hnext;
			c->hnext = ht[h];
			ht[h] = c;
		}
	free(old);
}

static void ht_insert(struct ssm_mux *m, struct chan *c)
{
	size_t h;

	if (m->nchan + 1 > m->nb)
		ht_grow(m);
	h = hash_id(m, c->id);
	c->hnext = m->ht[h];
	m->ht[h] = c;
	m->nchan++;
}

static void ht_remove(struct ssm_mux *m, struct chan *c)
{
	struct chan **pp;

	for (pp = &m->ht[hash_id(m, c->id)]; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			c->hnext = NULL;
			m->nchan--;
			return;
		}
}

static struct stream *stream_get(const struct chan *c, uint32_t id)
{
	size_t i;

	for (i = 0; i < c->nst; i++)
		if (c->st[i]->id == id)
			return c->st[i];
	return NULL;
}

static struct stream *stream_new(struct chan *c, uint32_t id, int mine)
{
	struct stream *s;

	if (c->nst == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		struct stream **st = realloc(c->st, cap * sizeof(*st));
		if (st == NULL)
			return NULL;
		c->st = st;
		c->cap = cap;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->close_node = frame_node_alloc(CLOSE_MAX)) == NULL) {
		free(s);
		return NULL;
	}
	s->id = id;
	s->c = c;
	s->mine = (unsigned)(mine != 0);
	ssm_flow_init(&s->fl);
	s->ack_node.kind = Q_ACK;
	s->ack_node.s = s;
	s->eof_node.kind = Q_EOF;
	s->eof_node.s = s;
	c->st[c->nst++] = s;
	return s;
}

/* The kept OPEN holds a credential (the host's session token, the client's attach
 * secret): wiped before it is freed. */
static void open_msg_free(struct stream *s)
{
	if (s->open_msg != NULL)
		explicit_bzero(s->open_msg, s->open_len);
	free(s->open_msg);
	s->open_msg = NULL;
	s->open_len = 0;
}

static void stream_free(struct stream *s)
{
	open_msg_free(s);
	free(s->term_reason);
	free(s->sbuf);
	free(s->rbuf);
	free(s->close_node);
	free(s);
}

/* A channel with its stream 0, not yet in the table. */
static struct chan *chan_new(uint32_t id, uint8_t kind, int mine)
{
	struct chan *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->id = id;
	c->kind = kind;
	c->mine = (unsigned)(mine != 0);
	if ((c->s0 = stream_new(c, 0, mine)) == NULL) {
		free(c->st);
		free(c);
		return NULL;
	}
	return c;
}

static void chan_free(struct chan *c)
{
	size_t i;

	for (i = 0; i < c->nst; i++)
		stream_free(c->st[i]);
	free(c->st);
	free(c);
}

/* Forget s (not stream 0 of a live channel): out of every list, to the graveyard. */
static void stream_forget(struct ssm_mux *m, struct stream *s)
{
	struct chan *c = s->c;
	size_t i;

	s->dead = 1;
	q_unlink(m, &s->ack_node);
	q_unlink(m, &s->eof_node);
	rr_del(m, s);
	for (i = 0; i < c->nst; i++)
		if (c->st[i] == s) {
			c->st[i] = c->st[--c->nst];
			break;
		}
	s->grave = m->grave_s;
	m->grave_s = s;
}

static void chan_forget(struct ssm_mux *m, struct chan *c)
{
	while (c->nst > 0)
		stream_forget(m, c->st[c->nst - 1]);
	c->dead = 1;
	ht_remove(m, c);
	c->grave = m->grave_c;
	m->grave_c = c;
}

static struct stream *stream0(const struct chan *c)
{
	return c->s0;
}

/* Free the graveyard once no callback runs. */
static void reap(struct ssm_mux *m)
{
	if (m->depth > 0)
		return;
	while (m->grave_s) {
		struct stream *s = m->grave_s;
		m->grave_s = s->grave;
		stream_free(s);
	}
	while (m->grave_c) {
		struct chan *c = m->grave_c;
		m->grave_c = c->grave;
		chan_free(c); /* its streams went to grave_s: st is empty */
	}
}

static struct stream *find_open(const struct ssm_mux *m, uint32_t ch, uint32_t st)
{
	struct chan *c;

	if (ch == 0 || (c = chan_get(m, ch)) == NULL)
		return NULL;
	return stream_get(c, st);
}

static int local_odd(const struct ssm_mux *m)
{
	return m->role != SSM_ROLE_BROKER;
}

/* kinds the peer may open (PROTOCOL.md sections 4 and 8) */
static int peer_may_open(const struct ssm_mux *m, uint8_t kind)
{
	if (m->role == SSM_ROLE_BROKER && m->peer == SSM_ROLE_AGENT)
		return kind == SSM_KIND_TRANSCRIPT || kind == SSM_KIND_AUDIT ||
		       kind == SSM_KIND_DOCUMENT;
	if (m->role == SSM_ROLE_BROKER && m->peer == SSM_ROLE_CLIENT)
		return kind == SSM_KIND_SESSION;
	if (m->role == SSM_ROLE_AGENT)
		return kind == SSM_KIND_SESSION;
	return 0; /* a client opens, it is never opened to */
}

static int self_may_open(const struct ssm_mux *m, uint8_t kind)
{
	if (m->role == SSM_ROLE_AGENT)
		return kind == SSM_KIND_TRANSCRIPT || kind == SSM_KIND_AUDIT ||
		       kind == SSM_KIND_DOCUMENT;
	if (m->role == SSM_ROLE_CLIENT)
		return kind == SSM_KIND_SESSION;
	if (m->role == SSM_ROLE_BROKER && m->peer == SSM_ROLE_AGENT)
		return kind == SSM_KIND_SESSION;
	return 0;
}

/* ---- events ---- */

static void emit(struct ssm_mux *m, enum ssm_mux_ev_type type, struct chan *c,
		 struct stream *s, const struct ssm_frame *f, uint16_t code, const char *reason)
{
	struct ssm_mux_ev ev;

	if (m->cb == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.channel = c->id;
	ev.stream = s ? s->id : 0;
	ev.user = s ? s->user : NULL;
	ev.f = f;
	ev.code = code;
	ev.reason = reason ? reason : "";
	m->depth++;
	m->cb(m->ctx, &ev);
	m->depth--;
}

/* ---- sending side ---- */

static uint64_t room_of(const struct stream *s)
{
	uint64_t win, buf;

	if (s->dead || !s->accepted || s->eof_wanted)
		return 0;
	win = s->fl.send_limit > s->written ? s->fl.send_limit - s->written : 0;
	buf = SSM_MUX_SEND_MAX - (s->written - s->fl.send_acked);
	return win < buf ? win : buf;
}

/* make room for need bytes (acked..written plus the new ones); 0 or -1 */
static int sbuf_reserve(struct stream *s, size_t need)
{
	size_t cap = s->scap ? s->scap : SEND_MIN;
	uint8_t *nb;
	uint64_t o, end;

	if (need <= s->scap)
		return 0;
	while (cap < need && cap < SSM_MUX_SEND_MAX)
		cap *= 2;
	if (cap < need)
		return -1;
	if ((nb = malloc(cap)) == NULL)
		return -1;
	/* move acked..written to their places in the larger ring */
	for (o = s->fl.send_acked, end = s->written; o < end;) {
		size_t sp = (size_t)(o % s->scap), dp = (size_t)(o % cap);
		size_t k = (size_t)(end - o);
		if (k > s->scap - sp)
			k = s->scap - sp;
		if (k > cap - dp)
			k = cap - dp;
		memcpy(nb + dp, s->sbuf + sp, k);
		o += k;
	}
	free(s->sbuf);
	s->sbuf = nb;
	s->scap = cap;
	return 0;
}

/* everything written was sent and EOF is due: queue it (behind the DATA) */
static void maybe_eof(struct ssm_mux *m, struct stream *s)
{
	if (m->phase != PH_UP)
		return; /* the resumption queues it */
	if (s->eof_wanted && !s->eof_queued && s->fl.send_next == s->written) {
		s->eof_queued = 1;
		q_link(m, &s->eof_node);
	}
}

/* ---- receiving side ---- */

static size_t readable_of(const struct stream *s)
{
	return (size_t)(s->fl.recv_next - s->rd);
}

/* docs/PROTOCOL.md section 4, ACK: at once when half a window was consumed since the last
 * acknowledgement or the peer's EOF was consumed (the stream's end is not held up);
 * otherwise at the program's next ssm_mux_tick, so a stream of small frames costs one ACK
 * per tick instead of one per frame, and the peer's window never runs dry waiting for one
 * (it has at least half a window of room).  A program that never ticks gets the old rule:
 * at once whenever everything received was consumed. */
static void maybe_ack(struct ssm_mux *m, struct stream *s)
{
	if (s->ack_node.linked || s->dead || s->rd <= s->fl.recv_acked)
		return;
	if (m->phase != PH_UP) {
		s->ack_later = 1; /* the resumption acknowledges it */
		return;
	}
	if (s->rd - s->fl.recv_acked >= s->window / 2 ||
	    ((s->fl.flags & SSM_FLOW_RECV_EOF) && s->rd == s->fl.recv_next) ||
	    (!m->ticking && s->rd == s->fl.recv_next)) {
		s->ack_later = 0;
		q_link(m, &s->ack_node);
	} else {
		s->ack_later = 1;
	}
}

void ssm_mux_tick(struct ssm_mux *m)
{
	size_t i, k;
	struct chan *c;

	m->ticking = 1;
	if (m->phase != PH_UP)
		return;
	for (i = 0; i < m->nb; i++)
		for (c = m->ht[i]; c != NULL; c = c->hnext)
			for (k = 0; k < c->nst; k++) {
				struct stream *s = c->st[k];

				if (s->ack_later && !s->ack_node.linked && !s->dead &&
				    s->rd > s->fl.recv_acked)
					q_link(m, &s->ack_node);
				s->ack_later = 0;
			}
}

/* ---- rx ---- */

static int fail(char *err, size_t errlen, const struct ssm_frame *f, int code, const char *what)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s on channel %u stream %u: %s", ssm_frame_type_name(f->type),
			 (unsigned)f->channel, (unsigned)f->stream,
			 what ? what : ssm_mux_strerror(code));
	return code;
}

/* Was this channel id ever opened (by either side)? */
static int chan_id_used(const struct ssm_mux *m, uint32_t id)
{
	if ((int)(id & 1u) == local_odd(m))
		return id <= m->last_local_chan;
	return id <= m->max_peer_chan;
}

static int stream_id_used(const struct chan *c, uint32_t id)
{
	if ((int)(id & 1u) == (int)c->mine)
		return id <= c->last_local_stream;
	return id <= c->max_peer_stream;
}

/* The open (channel, stream) of f: 1 and *pc, *ps; 0 for a closed id (drop the frame); or
 * SSM_MUX_E_NOT_OPEN. */
static int lookup(struct ssm_mux *m, const struct ssm_frame *f, struct chan **pc,
		  struct stream **ps)
{
	struct chan *c = chan_get(m, f->channel);

	if (c == NULL)
		return chan_id_used(m, f->channel) ? 0 : SSM_MUX_E_NOT_OPEN;
	if ((*ps = stream_get(c, f->stream)) == NULL)
		return f->stream != 0 && stream_id_used(c, f->stream) ? 0 : SSM_MUX_E_NOT_OPEN;
	*pc = c;
	return 1;
}

static int rx_open(struct ssm_mux *m, const struct ssm_frame *f, char *err, size_t errlen)
{
	struct tomb *t;
	struct chan *c;
	struct stream *s;
	struct ssm_frame cf;
	int r;

	if ((int)(f->channel & 1u) == local_odd(m))
		return fail(err, errlen, f, SSM_MUX_E_ID, "channel id of this side's parity");
	if (f->channel <= m->max_peer_chan && (t = tomb_get(m, f->channel, 0)) != NULL) {
		/* an OPEN sent again after a resumption that crossed our CLOSE: say it again */
		close_frame(&cf, f->channel, 0, t->code, t->reason);
		if (q_frame(m, &cf, 1) < 0)
			return fail(err, errlen, f, SSM_MUX_E_QUEUE, "send queue full");
		return 0;
	}
	if (f->channel <= m->max_peer_chan)
		return fail(err, errlen, f, SSM_MUX_E_ID, "channel id not above the previous one");
	m->max_peer_chan = f->channel;
	if (!peer_may_open(m, f->u.open.kind))
		return fail(err, errlen, f, SSM_MUX_E_KIND, "a kind this peer may not open");
	if (m->nchan >= SSM_FRAME_CHANNELS_MAX) {
		close_frame(&cf, f->channel, 0, SSM_CODE_LIMIT, "too many channels");
		if ((r = q_frame(m, &cf, 1)) < 0)
			return fail(err, errlen, f, SSM_MUX_E_QUEUE, "send queue full");
		return 0;
	}
	if ((c = chan_new(f->channel, f->u.open.kind, 0)) == NULL) {
		close_frame(&cf, f->channel, 0, SSM_CODE_INTERNAL, "out of memory");
		if (q_frame(m, &cf, 1) < 0)
			return fail(err, errlen, f, SSM_MUX_E_QUEUE, "out of memory");
		return 0;
	}
	s = c->st[0];
	if ((r = ssm_flow_init_send(&s->fl, 0, f->value)) < 0) {
		chan_free(c);
		return fail(err, errlen, f, r, NULL);
	}
	ht_insert(m, c);
	emit(m, SSM_MUX_EV_OPEN, c, s, f, 0, NULL);
	return 0;
}

static int rx_stream_open(struct ssm_mux *m, const struct ssm_frame *f, char *err,
			  size_t errlen)
{
	struct chan *c = chan_get(m, f->channel);
	struct stream *s, *s0;
	struct ssm_frame cf;
	int r;

	if (c == NULL)
		return chan_id_used(m, f->channel)
			   ? 0
			   : fail(err, errlen, f, SSM_MUX_E_NOT_OPEN, "no such channel");
	if (c->kind != SSM_KIND_SESSION || !c->allow_streams)
		return fail(err, errlen, f, SSM_MUX_E_KIND, "the channel takes no streams");
	if ((s0 = stream0(c)) == NULL || !s0->accepted)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "before the channel's ACCEPT");
	if ((int)(f->stream & 1u) == (int)c->mine)
		return fail(err, errlen, f, SSM_MUX_E_ID, "stream id of this side's parity");
	if (f->stream <= c->max_peer_stream)
		return fail(err, errlen, f, SSM_MUX_E_ID, "stream id not above the previous one");
	c->max_peer_stream = f->stream;
	if (c->nst >= SSM_FRAME_STREAMS_MAX) {
		close_frame(&cf, f->channel, f->stream, SSM_CODE_LIMIT, "too many streams");
		if (q_frame(m, &cf, 1) < 0)
			return fail(err, errlen, f, SSM_MUX_E_QUEUE, "send queue full");
		return 0;
	}
	if ((s = stream_new(c, f->stream, 0)) == NULL) {
		close_frame(&cf, f->channel, f->stream, SSM_CODE_INTERNAL, "out of memory");
		if (q_frame(m, &cf, 1) < 0)
			return fail(err, errlen, f, SSM_MUX_E_QUEUE, "out of memory");
		return 0;
	}
	if ((r = ssm_flow_init_send(&s->fl, 0, f->value)) < 0) {
		stream_forget(m, s);
		return fail(err, errlen, f, r, NULL);
	}
	emit(m, SSM_MUX_EV_STREAM_OPEN, c, s, f, 0, NULL);
	return 0;
}

/* A local failure receiving on s (out of memory): close it (the channel for stream 0) with
 * code internal, and tell the program. */
static void fail_stream(struct ssm_mux *m, struct chan *c, struct stream *s, const char *why)
{
	(void)tomb_add(m, c->id, s->id, SSM_CODE_INTERNAL, why);
	q_close_reserved(m, s, SSM_CODE_INTERNAL, why);
	if (s->id == 0)
		chan_forget(m, c);
	else
		stream_forget(m, s);
	emit(m, SSM_MUX_EV_CLOSED, c, s, NULL, SSM_CODE_INTERNAL, why);
}

static void give_exit(struct ssm_mux *m, struct chan *c, struct stream *s)
{
	if (s->has_exit && !s->exit_given && s->fl.recv_next >= s->exit_f.offset) {
		s->exit_given = 1;
		emit(m, SSM_MUX_EV_EXIT, c, s, &s->exit_f, 0, NULL);
	}
}

static int rx_data(struct ssm_mux *m, struct chan *c, struct stream *s,
		   const struct ssm_frame *f, char *err, size_t errlen)
{
	uint64_t at = s->fl.recv_next;
	size_t len = f->u.data.len;
	int r;

	if (!s->accepted)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "before ACCEPT");
	if (s->has_exit && f->offset + len > s->exit_f.offset && f->offset + len > at)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "beyond the EXIT's offset");
	if (s->rbuf == NULL && s->window > 0 && f->offset + len > at &&
	    (s->rbuf = malloc(s->window)) == NULL) {
		/* check the frame first: a flow error is the peer's, not ours */
		struct ssm_flow probe = s->fl;
		if ((r = ssm_flow_on_data(&probe, f->offset, len)) < 0)
			return fail(err, errlen, f, r, NULL);
		if (r == 0)
			return 0;
		fail_stream(m, c, s, "out of memory");
		return 0;
	}
	if ((r = ssm_flow_on_data(&s->fl, f->offset, len)) < 0)
		return fail(err, errlen, f, r, NULL);
	if (r == 0)
		return 0; /* a duplicate */
	ring_put(s->rbuf, s->window, at, f->u.data.p, len);
	emit(m, SSM_MUX_EV_READABLE, c, s, f, 0, NULL);
	if (!s->dead)
		give_exit(m, c, s);
	return 0;
}

static int rx_ack(struct ssm_mux *m, struct chan *c, struct stream *s,
		  const struct ssm_frame *f, char *err, size_t errlen)
{
	uint64_t before, freed = 0, ack;
	int r;

	if (!s->accepted)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "before ACCEPT");
	before = room_of(s);
	ack = f->offset;
	if (s->adopted) {
		/* this side started at the peer's received offset, which the peer's reads may
		 * not have reached yet: its first ACKs restate an older offset */
		if (ack < s->fl.send_acked)
			ack = s->fl.send_acked;
		else
			s->adopted = 0;
	}
	if ((r = ssm_flow_on_ack(&s->fl, ack, f->value, &freed)) < 0)
		return fail(err, errlen, f, r, NULL);
	if (s->written > s->fl.send_next)
		rr_add(m, s); /* a window a resumption had shut may be open again */
	if (s->fl.send_acked == s->written && s->sbuf != NULL) {
		free(s->sbuf); /* everything delivered: the ring is allocated again when needed */
		s->sbuf = NULL;
		s->scap = 0;
	}
	if ((before == 0 || s->blocked) && room_of(s) > 0) {
		s->blocked = 0;
		emit(m, SSM_MUX_EV_WRITABLE, c, s, f, 0, NULL);
	}
	if (freed > 0 && m->want_acked && !s->dead)
		emit(m, SSM_MUX_EV_ACKED, c, s, f, 0, NULL);
	return 0;
}

static int rx_eof(struct ssm_mux *m, struct chan *c, struct stream *s,
		  const struct ssm_frame *f, char *err, size_t errlen)
{
	int r;

	if (!s->accepted)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "before ACCEPT");
	if (s->has_exit && f->offset != s->exit_f.offset)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "not at the EXIT's offset");
	if ((r = ssm_flow_on_eof(&s->fl, f->offset)) < 0)
		return fail(err, errlen, f, r, NULL);
	if (r == 1)
		emit(m, SSM_MUX_EV_EOF, c, s, f, 0, NULL);
	return 0;
}

static int rx_accept(struct ssm_mux *m, struct chan *c, struct stream *s,
		     const struct ssm_frame *f, char *err, size_t errlen)
{
	int r;

	if (!s->mine)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "for a stream this side did not open");
	if (s->accepted)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "a second ACCEPT");
	if (f->offset != 0 &&
	    (c->kind == SSM_KIND_SESSION || c->kind == SSM_KIND_DOCUMENT || s->id != 0))
		return fail(err, errlen, f, SSM_MUX_E_STATE, "a base offset on a session stream");
	if ((r = ssm_flow_init_send(&s->fl, f->offset, f->value)) < 0)
		return fail(err, errlen, f, r, NULL);
	s->written = f->offset;
	s->accepted = 1;
	open_msg_free(s);
	emit(m, SSM_MUX_EV_ACCEPT, c, s, f, 0, NULL);
	return 0;
}

static int rx_close(struct ssm_mux *m, struct chan *c, struct stream *s,
		    const struct ssm_frame *f)
{
	char reason[SSM_FRAME_REASON_MAX + 1];
	size_t n = f->u.close.reason.len < SSM_FRAME_REASON_MAX ? f->u.close.reason.len
								  : SSM_FRAME_REASON_MAX;

	if (n > 0)
		memcpy(reason, f->u.close.reason.p, n);
	reason[n] = '\0';
	q_close_reserved(m, s, f->u.close.code, NULL); /* the answer: same code */
	if (s->id == 0)
		chan_forget(m, c);
	else
		stream_forget(m, s);
	emit(m, SSM_MUX_EV_CLOSED, c, s, f, f->u.close.code, reason);
	return 0;
}

static int rx_exit(struct ssm_mux *m, struct chan *c, struct stream *s,
		   const struct ssm_frame *f, char *err, size_t errlen)
{
	size_t n;

	if (c->kind != SSM_KIND_SESSION || !c->mine || s->id != 0)
		return fail(err, errlen, f, SSM_MUX_E_SIDE, "EXIT is the channel acceptor's");
	if (!s->accepted)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "before ACCEPT");
	if (s->has_exit)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "a second EXIT");
	if (f->offset < s->fl.recv_next)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "offset below the bytes received");
	/* output the window never let the peer send cannot be waited for */
	if (f->offset > s->fl.recv_limit)
		return fail(err, errlen, f, SSM_FRAME_E_FLOW_WINDOW, "EXIT's offset beyond the window");
	if ((s->fl.flags & SSM_FLOW_RECV_EOF) && f->offset != s->fl.recv_eof)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "offset beyond the EOF");
	s->has_exit = 1;
	s->exit_f = *f;
	n = f->u.exit.detail.len < sizeof(s->exit_detail) ? f->u.exit.detail.len
							  : sizeof(s->exit_detail);
	if (n > 0)
		memcpy(s->exit_detail, f->u.exit.detail.p, n);
	s->exit_f.u.exit.detail.p = s->exit_detail;
	s->exit_f.u.exit.detail.len = n;
	give_exit(m, c, s);
	return 0;
}

/* ---- resumption (section 6) ---- */

static void drop_queue(struct ssm_mux *m);

static int peer_parity(const struct ssm_mux *m, uint32_t ch)
{
	return (int)(ch & 1u) != local_odd(m);
}

/* The peer's RESUME cannot be honoured (its offsets or flags contradict this side's state):
 * the stream (channel for stream 0) is closed with CLOSE unknown, sent once the resumption
 * is done; the program gets SSM_MUX_EV_CLOSED. */
static void resume_refuse(struct ssm_mux *m, struct chan *c, struct stream *s, const char *why)
{
	struct tomb *t = tomb_add(m, c->id, s->id, SSM_CODE_UNKNOWN, why);

	if (t != NULL)
		t->listed = 1;
	if (s->id == 0)
		chan_forget(m, c);
	else
		stream_forget(m, s);
	emit(m, SSM_MUX_EV_CLOSED, c, s, NULL, SSM_CODE_UNKNOWN, why);
}

static int rlist_add(struct ssm_mux *m, uint32_t ch, uint32_t st)
{
	uint32_t(*nl)[2] = realloc(m->rlist, (m->rn + 1) * sizeof(*m->rlist));

	if (nl == NULL)
		return -1;
	m->rlist = nl;
	m->rlist[m->rn][0] = ch;
	m->rlist[m->rn][1] = st;
	m->rn++;
	return 0;
}

/* A RESUME for a SESSION channel this side has no state for (a broker that restarted):
 * the program may take it up (ssm_mux_set_adopt).  The channel is made as it stands at
 * the peer: accepted, sending from the peer's received offset (nothing held here),
 * receiving from the peer's acknowledged offset (the peer sends again what it holds).
 * 0 adopted (this side's RESUME for it is queued), -1 not. */
static int adopt(struct ssm_mux *m, const struct ssm_frame *f)
{
	struct ssm_mux_adopt a;
	struct chan *c;
	struct stream *s;
	int ok;

	/* a side that kept its state knows every channel of its own it has: one it lacks was
	 * closed, and is not taken up again */
	if (m->adopt == NULL || (m->known && !peer_parity(m, f->channel)) ||
	    !(m->feat & SSM_FRAME_FEAT_RESUME_ACKED) ||
	    (f->flags & (SSM_FRAME_F_ACKED | SSM_FRAME_F_ACCEPT_SEEN)) !=
		    (SSM_FRAME_F_ACKED | SSM_FRAME_F_ACCEPT_SEEN) ||
	    m->nchan >= SSM_FRAME_CHANNELS_MAX ||
	    f->u.resume.acked > SSM_FRAME_OFFSET_MAX - SSM_FRAME_WINDOW_MAX)
		return -1;
	/* everything that can fail first: once the program said yes, the channel exists */
	if ((c = chan_new(f->channel, SSM_KIND_SESSION, !peer_parity(m, f->channel))) == NULL)
		return -1;
	s = c->s0;
	if (ssm_flow_init_send(&s->fl, f->offset, f->value) < 0 || rlist_add(m, c->id, 0) < 0) {
		chan_free(c);
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.channel = f->channel;
	a.mine = !peer_parity(m, f->channel);
	a.peer_received = f->offset;
	a.peer_acked = f->u.resume.acked;
	a.peer_flags = f->flags;
	m->depth++;
	ok = m->adopt(m->ctx, &a);
	m->depth--;
	/* once the program said yes the channel exists, whatever it got wrong: a window out of
	 * range (the program's error) becomes the default; the receive limit cannot fail, the
	 * acknowledged offset having been checked above */
	if (ok && (a.window < 1 || a.window > SSM_FRAME_WINDOW_MAX))
		a.window = SSM_FRAME_WINDOW_DEFAULT;
	if (ok && ssm_flow_init_recv(&s->fl, f->u.resume.acked, f->u.resume.acked + a.window) < 0)
		abort(); /* unreachable: acked <= SSM_FRAME_OFFSET_MAX - SSM_FRAME_WINDOW_MAX */
	if (!ok) {
		m->rn--; /* the RESUME just listed */
		chan_free(c);
		return -1;
	}
	s->written = f->offset;
	s->window = a.window;
	s->rd = s->base = f->u.resume.acked;
	s->accepted = 1;
	s->adopted = 1;
	c->taken_up = 1;
	s->user = a.user;
	s->listed = 1;
	s->peer_flags = f->flags;
	if (a.mine && f->channel > m->last_local_chan)
		m->last_local_chan = f->channel;
	ht_insert(m, c);
	return 0;
}

static int rx_resume(struct ssm_mux *m, const struct ssm_frame *f, char *err, size_t errlen)
{
	struct chan *c = chan_get(m, f->channel);
	struct stream *s = c ? stream_get(c, f->stream) : NULL;
	uint16_t fl = f->flags;
	struct tomb *t;
	int r;

	if (m->phase != PH_RESUMING || m->peer_done)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "RESUME outside a resumption");
	if (s == NULL) {
		t = tomb_get(m, f->channel, f->stream);
		if (t == NULL && f->stream != 0)
			t = tomb_get(m, f->channel, 0);
		if (t == NULL && !(fl & SSM_FRAME_F_ACCEPT_SEEN)) {
			/* an OPEN or STREAM_OPEN that never arrived: the peer sends it again */
			if (c == NULL && peer_parity(m, f->channel) && f->channel > m->max_peer_chan)
				return 0;
			if (c != NULL && f->stream != 0 && (int)(f->stream & 1u) != (int)c->mine &&
			    f->stream > c->max_peer_stream)
				return 0;
		}
		if (peer_parity(m, f->channel) && f->channel > m->resume_peer_max)
			m->resume_peer_max = f->channel;
		if (t != NULL) {
			t->listed = 1;
			return 0;
		}
		if (c == NULL && f->stream == 0 && m->adopt != NULL) {
			/* each is an allocation and a question to the program: a peer has at most
			 * SSM_FRAME_CHANNELS_MAX channels on a link to resume */
			if (++m->resume_adopts > SSM_FRAME_CHANNELS_MAX)
				return fail(err, errlen, f, SSM_MUX_E_STATE,
					    "more RESUMEs for unknown channels than a link has channels");
			if (adopt(m, f) == 0)
				return 0;
		}
		/* ids of this side's parity that it has no record of using: a side that lost its
		 * state never uses them now (the peer may still hold them).  A side that kept its
		 * state knows every id it used, and the peer's word does not move its next id:
		 * otherwise a RESUME naming an id near UINT32_MAX would leave it no new channel
		 * or stream on the link for as long as it runs. */
		if (c == NULL && !m->known && !peer_parity(m, f->channel) &&
		    f->channel > m->last_local_chan)
			m->last_local_chan = f->channel;
		if (c != NULL && c->taken_up && f->stream != 0 &&
		    (int)(f->stream & 1u) == (int)c->mine && f->stream > c->last_local_stream)
			c->last_local_stream = f->stream;
		t = tomb_add(m, f->channel, f->stream, SSM_CODE_UNKNOWN,
			     c ? "no such stream here (state lost, or its grace period passed)"
				: "no such channel here (state lost, or its grace period passed)");
		if (t != NULL)
			t->listed = 1;
		return 0;
	}
	if (s->listed)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "a second RESUME for the stream");
	if (peer_parity(m, f->channel) && f->channel > m->resume_peer_max)
		m->resume_peer_max = f->channel;
	/* the peer claims to have seen frames this side never sent */
	if (((fl & SSM_FRAME_F_EOF_SEEN) && !(s->fl.flags & SSM_FLOW_SENT_EOF)) ||
	    ((fl & SSM_FRAME_F_ACCEPT_SEEN) && !s->mine && !s->accepted) ||
	    ((fl & SSM_FRAME_F_EXIT_SEEN) && !s->exit_sent) ||
	    ((fl & SSM_FRAME_F_TERMINATE_SEEN) && !s->terminated)) {
		resume_refuse(m, c, s, "the peer saw frames never sent (state lost)");
		return 0;
	}
	if (s->accepted || !s->mine) {
		r = ssm_flow_on_resume(&s->fl, f->offset, f->value);
		if (r == SSM_FRAME_E_FLOW_RESUME_LOST || r == SSM_FRAME_E_FLOW_RESUME_AHEAD) {
			resume_refuse(m, c, s,
				      r == SSM_FRAME_E_FLOW_RESUME_LOST
					  ? "the peer lost bytes it acknowledged (state lost)"
					  : "the peer claims bytes never sent (state lost)");
			return 0;
		}
		if (r < 0)
			return fail(err, errlen, f, r, NULL);
	}
	s->listed = 1;
	s->peer_flags = fl;
	return 0;
}

static int cmp_chan(const void *a, const void *b)
{
	uint32_t x = (*(struct chan *const *)a)->id, y = (*(struct chan *const *)b)->id;

	return x < y ? -1 : x > y;
}

static int cmp_stream(const void *a, const void *b)
{
	uint32_t x = (*(struct stream *const *)a)->id, y = (*(struct stream *const *)b)->id;

	return x < y ? -1 : x > y;
}

static void q_raw(struct ssm_mux *m, const uint8_t *p, size_t len)
{
	struct qnode *n = frame_node_alloc(len);

	if (n == NULL)
		return; /* out of memory: the peer's window or state stalls, never corrupts */
	memcpy(n->data, p, len);
	n->len = len;
	q_link(m, n);
}

/* One stream once both RESUME_DONEs passed: what the peer's flags show missing. */
static void resume_stream(struct ssm_mux *m, struct chan *c, struct stream *s)
{
	uint16_t pf = s->peer_flags;
	struct ssm_frame f;

	if (s->mine && !s->accepted) {
		/* the peer never saw our OPEN (or it is waiting to be answered) */
		if (!s->listed && s->open_msg != NULL)
			q_raw(m, s->open_msg, s->open_len);
		if (s->id == 0 && c->kind == SSM_KIND_SESSION) {
			if (s->terminated && !(pf & SSM_FRAME_F_TERMINATE_SEEN))
				(void)ssm_mux_terminate(m, c->id, s->term_reason);
			if (s->cols != 0)
				(void)ssm_mux_resize(m, c->id, s->cols, s->rows);
		}
		return;
	}
	if (!s->listed) {
		/* the peer lost it (or closed it, and the cut swallowed its CLOSE): closed here;
		 * the CLOSE the peer answers our RESUME with is expected (and answered) */
		struct tomb *t = tomb_add(m, c->id, s->id, SSM_CODE_UNKNOWN, NULL);

		if (t != NULL)
			t->answer = 1;
		if (s->id == 0)
			chan_forget(m, c);
		else
			stream_forget(m, s);
		emit(m, SSM_MUX_EV_CLOSED, c, s, NULL, SSM_CODE_UNKNOWN,
		     "the peer lost it while the connection was down");
		return;
	}
	if (!s->mine && s->accepted && !(pf & SSM_FRAME_F_ACCEPT_SEEN)) {
		memset(&f, 0, sizeof(f));
		f.type = SSM_FRAME_ACCEPT;
		f.channel = c->id;
		f.stream = s->id;
		f.offset = s->base;
		f.value = s->fl.recv_limit;
		(void)q_frame(m, &f, 0);
	}
	if (s->accepted && s->rd > s->base && !s->ack_node.linked) {
		s->ack_later = 0;
		q_link(m, &s->ack_node);
	}
	if (s->eof_wanted) {
		if (pf & SSM_FRAME_F_EOF_SEEN) {
			s->eof_queued = 1;
		} else {
			s->eof_queued = 0;
			s->fl.flags &= ~SSM_FLOW_SENT_EOF;
		}
	}
	if (s->accepted) {
		if (s->written > s->fl.send_next)
			rr_add(m, s);
		else
			maybe_eof(m, s);
	}
	if (s->id == 0 && c->kind == SSM_KIND_SESSION) {
		if (!c->mine && s->exit_sent && !(pf & SSM_FRAME_F_EXIT_SEEN))
			(void)q_frame(m, &s->exit_f, 0);
		if (c->mine && s->terminated && !(pf & SSM_FRAME_F_TERMINATE_SEEN))
			(void)ssm_mux_terminate(m, c->id, s->term_reason);
		if (c->mine && s->cols != 0)
			(void)ssm_mux_resize(m, c->id, s->cols, s->rows);
	}
	if (s->blocked && room_of(s) > 0) {
		s->blocked = 0;
		emit(m, SSM_MUX_EV_WRITABLE, c, s, NULL, 0, NULL);
	}
}

/* Both RESUME_DONEs passed: the link carries traffic again. */
static void resume_finish(struct ssm_mux *m)
{
	struct chan **cs = NULL, *c;
	struct tomb **pp, *t;
	size_t n = 0, i, k;

	m->phase = PH_UP;
	m->known = 1;
	for (k = 0; k < m->nb; k++)
		for (c = m->ht[k]; c != NULL; c = c->hnext)
			c->taken_up = 0;
	m->down_since = 0;
	free(m->rlist);
	m->rlist = NULL;
	m->rn = m->ri = 0;
	drop_queue(m);
	m->depth++; /* nothing is freed before the end, whatever the callbacks close */
	for (pp = &m->tombs; (t = *pp) != NULL;) {
		if (t->listed) {
			struct ssm_frame f;
			close_frame(&f, t->ch, t->st, t->code, t->reason);
			(void)q_frame(m, &f, 0);
			t->listed = 0;
			pp = &t->next;
		} else {
			*pp = t->next;
			free(t);
			m->ntombs--;
		}
	}
	m->max_peer_chan = m->resume_peer_max;
	if (m->nchan > 0 && (cs = calloc(m->nchan, sizeof(*cs))) != NULL) {
		for (i = 0; i < m->nb; i++)
			for (c = m->ht[i]; c != NULL; c = c->hnext)
				cs[n++] = c;
		qsort(cs, n, sizeof(*cs), cmp_chan); /* OPENs again in increasing order */
	}
	for (i = 0; i < n; i++) {
		struct stream **ss;
		size_t ns;

		c = cs[i];
		if (c->dead)
			continue;
		ns = c->nst;
		ss = malloc(ns * sizeof(*ss));
		if (ss == NULL) {
			resume_stream(m, c, c->s0);
			continue;
		}
		memcpy(ss, c->st, ns * sizeof(*ss));
		qsort(ss, ns, sizeof(*ss), cmp_stream);
		for (k = 0; k < ns; k++) {
			if (!ss[k]->dead && !c->dead)
				resume_stream(m, c, ss[k]);
			ss[k]->listed = 0;
			ss[k]->peer_flags = 0;
		}
		free(ss);
	}
	free(cs);
	m->depth--;
	reap(m);
}

static int rx_resume_done(struct ssm_mux *m, const struct ssm_frame *f, char *err,
			  size_t errlen)
{
	if (m->phase != PH_RESUMING || m->peer_done)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "RESUME_DONE out of place");
	m->peer_done = 1;
	if (m->done_sent)
		resume_finish(m);
	return 0;
}

static int rx(struct ssm_mux *m, const struct ssm_frame *f, char *err, size_t errlen)
{
	struct chan *c = NULL;
	struct stream *s = NULL;
	struct tomb *t;
	int r;

	if (f->channel == 0 && f->type == SSM_FRAME_RESUME_DONE)
		return rx_resume_done(m, f, err, errlen);
	if (f->channel == 0 || f->type < SSM_FRAME_OPEN)
		return fail(err, errlen, f, SSM_MUX_E_TYPE, NULL);
	if (f->type == SSM_FRAME_RESUME)
		return rx_resume(m, f, err, errlen);
	if (m->phase != PH_UP)
		return fail(err, errlen, f, SSM_MUX_E_STATE, "before RESUME_DONE");
	if (f->type == SSM_FRAME_OPEN)
		return rx_open(m, f, err, errlen);
	if (f->type == SSM_FRAME_STREAM_OPEN)
		return rx_stream_open(m, f, err, errlen);
	r = lookup(m, f, &c, &s);
	if (r <= 0 && f->type == SSM_FRAME_CLOSE &&
	    (t = tomb_get(m, f->channel, f->stream)) != NULL) {
		if (t->answer) { /* the peer's answer to our RESUME of what it lost: answer it */
			struct ssm_frame cf;

			close_frame(&cf, f->channel, f->stream, f->u.close.code, NULL);
			if (q_frame(m, &cf, 1) < 0)
				return fail(err, errlen, f, SSM_MUX_E_QUEUE, "send queue full");
		}
		tomb_del(m, f->channel, f->stream); /* else: the answer to a CLOSE of ours */
		return 0;
	}
	if (r < 0)
		return fail(err, errlen, f, r, f->stream ? "no such stream" : "no such channel");
	if (r == 0)
		return 0; /* closed: it crossed our CLOSE */
	switch (f->type) {
	case SSM_FRAME_ACCEPT:
		return rx_accept(m, c, s, f, err, errlen);
	case SSM_FRAME_DATA:
		return rx_data(m, c, s, f, err, errlen);
	case SSM_FRAME_ACK:
		return rx_ack(m, c, s, f, err, errlen);
	case SSM_FRAME_EOF:
		return rx_eof(m, c, s, f, err, errlen);
	case SSM_FRAME_CLOSE:
		return rx_close(m, c, s, f);
	case SSM_FRAME_RESIZE:
	case SSM_FRAME_TERMINATE:
		if (c->kind != SSM_KIND_SESSION || c->mine || s->id != 0)
			return fail(err, errlen, f, SSM_MUX_E_SIDE, "only from the channel's opener");
		if (f->type == SSM_FRAME_TERMINATE)
			s->got_terminate = 1;
		emit(m, f->type == SSM_FRAME_RESIZE ? SSM_MUX_EV_RESIZE : SSM_MUX_EV_TERMINATE, c, s,
		     f, 0, NULL);
		return 0;
	case SSM_FRAME_EXIT:
		return rx_exit(m, c, s, f, err, errlen);
	}
	return fail(err, errlen, f, SSM_MUX_E_TYPE, NULL);
}

int ssm_mux_rx(struct ssm_mux *m, const struct ssm_frame *f, char *err, size_t errlen)
{
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (m == NULL || f == NULL)
		return SSM_FRAME_E_INVAL;
	r = rx(m, f, err, errlen);
	reap(m);
	return r;
}

static int link_chan_rx(void *ctx, const struct ssm_frame *f, char *err, size_t errlen)
{
	return ssm_mux_rx(ctx, f, err, errlen);
}

static void link_chan_hello(void *ctx, uint32_t features, int64_t now_ms)
{
	ssm_mux_set_features(ctx, features);
	ssm_mux_hello(ctx, now_ms);
}

void ssm_mux_set_features(struct ssm_mux *m, uint32_t features)
{
	m->feat = features & SSM_FRAME_FEATURES;
}

void ssm_mux_set_adopt(struct ssm_mux *m, ssm_mux_adopt_cb cb)
{
	m->adopt = cb;
}

void ssm_mux_want_acked(struct ssm_mux *m)
{
	m->want_acked = 1;
}

void ssm_mux_attach(struct ssm_mux *m, struct ssm_link *l)
{
	l->chan_rx = link_chan_rx;
	l->chan_hello = link_chan_hello;
	l->chan_ctx = m;
}

/* ---- life ---- */

int ssm_mux_new(struct ssm_mux **pm, enum ssm_frame_role role, enum ssm_frame_role peer,
		ssm_mux_cb cb, void *ctx)
{
	struct ssm_mux *m;

	*pm = NULL;
	if (!((role == SSM_ROLE_BROKER && (peer == SSM_ROLE_AGENT || peer == SSM_ROLE_CLIENT)) ||
	      ((role == SSM_ROLE_AGENT || role == SSM_ROLE_CLIENT) && peer == SSM_ROLE_BROKER)))
		return -EINVAL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	m->nb = 64;
	if ((m->ht = calloc(m->nb, sizeof(*m->ht))) == NULL) {
		free(m);
		return -ENOMEM;
	}
	m->role = role;
	m->peer = peer;
	m->cb = cb;
	m->ctx = ctx;
	*pm = m;
	return 0;
}

static void drop_queue(struct ssm_mux *m)
{
	while (m->qh) {
		struct qnode *n = m->qh;
		q_unlink(m, n);
		if (n->kind == Q_FRAME) {
			wipe_if_open(n->data, n->len);
			free(n);
		} else if (n->kind == Q_EOF)
			n->s->eof_queued = 0; /* not sent: the stream is going anyway */
	}
	while (m->rr_head)
		rr_del(m, m->rr_head);
	wipe_if_open(m->tx + SSM_LINK_PRE, m->tx_len);
	m->tx_len = 0;
}

void ssm_mux_free(struct ssm_mux *m)
{
	size_t i;

	if (m == NULL)
		return;
	drop_queue(m);
	for (i = 0; i < m->nb; i++)
		while (m->ht[i])
			chan_forget(m, m->ht[i]);
	m->depth = 0;
	reap(m);
	tombs_free(m);
	free(m->rlist);
	free(m->ht);
	free(m);
}

void ssm_mux_reset(struct ssm_mux *m, uint16_t code, const char *reason)
{
	struct chan *old = m->grave_c, *c;
	size_t i;

	drop_queue(m);
	for (i = 0; i < m->nb; i++)
		while (m->ht[i])
			chan_forget(m, m->ht[i]);
	/* the channels just forgotten sit in front of the graveyard, up to old; callbacks
	 * free nothing (depth), channels they forget go in front of these */
	for (c = m->grave_c; c != old; c = c->grave)
		emit(m, SSM_MUX_EV_CLOSED, c, c->s0, NULL, code, reason);
	/* the link ends: the peer may start its ids over (a broker that lost the connection
	 * lost its state); this side never reuses its own */
	m->max_peer_chan = 0;
	tombs_free(m);
	reap(m);
}

size_t ssm_mux_channels(const struct ssm_mux *m)
{
	return m->nchan;
}

/* ---- the program's side ---- */

/* Keep the encoded OPEN or STREAM_OPEN of a stream of ours until its ACCEPT: a resumption
 * sends it again when the peer never saw it.  0 or -1. */
static int keep_open(struct ssm_mux *m, struct stream *s, const struct ssm_frame *f)
{
	size_t len;

	if (ssm_frame_encode(f, m->scratch, sizeof(m->scratch), &len) < 0)
		return -1;
	if ((s->open_msg = malloc(len)) == NULL) {
		wipe_if_open(m->scratch, len);
		return -1;
	}
	memcpy(s->open_msg, m->scratch, len);
	wipe_if_open(m->scratch, len);
	s->open_len = len;
	return 0;
}

uint32_t ssm_mux_open(struct ssm_mux *m, const struct ssm_frame *open, uint32_t window,
		      void *user)
{
	struct ssm_frame f;
	struct chan *c;
	uint32_t id;

	if (m == NULL || open == NULL || !self_may_open(m, open->u.open.kind))
		return 0;
	if (open->u.open.kind == SSM_KIND_SESSION
		    ? window < 1 || window > SSM_FRAME_WINDOW_MAX
		    : open->u.open.kind == SSM_KIND_DOCUMENT
			      ? window < 1 || window > SSM_FRAME_DOCUMENT_MAX
			      : window != 0)
		return 0;
	if (m->nchan >= SSM_FRAME_CHANNELS_MAX || m->ctl_n >= SSM_MUX_CTL_MAX)
		return 0;
	if (m->last_local_chan == 0)
		id = local_odd(m) ? 1 : 2;
	else if (m->last_local_chan > UINT32_MAX - 2)
		return 0;
	else
		id = m->last_local_chan + 2;
	f = *open;
	f.type = SSM_FRAME_OPEN;
	f.flags = 0;
	f.channel = id;
	f.stream = 0;
	f.offset = 0;
	f.value = window;
	if ((c = chan_new(id, open->u.open.kind, 1)) == NULL)
		return 0;
	if (ssm_flow_init_recv(&c->st[0]->fl, 0, window) < 0 || keep_open(m, c->st[0], &f) < 0 ||
	    q_frame(m, &f, 1) < 0) {
		chan_free(c);
		return 0;
	}
	c->st[0]->window = window;
	c->st[0]->user = user;
	c->st[0]->cols = f.u.open.cols;
	c->st[0]->rows = f.u.open.rows;
	m->last_local_chan = id;
	tomb_del(m, id, 0); /* one a peer named in a RESUME: the id is this channel's now */
	ht_insert(m, c);
	return id;
}

int ssm_mux_allow_streams(struct ssm_mux *m, uint32_t channel)
{
	struct chan *c = channel ? chan_get(m, channel) : NULL;

	if (c == NULL || c->kind != SSM_KIND_SESSION)
		return -1;
	c->allow_streams = 1;
	return 0;
}

uint32_t ssm_mux_stream_open(struct ssm_mux *m, uint32_t channel, const char *origin,
			     uint32_t window, void *user)
{
	struct chan *c = channel ? chan_get(m, channel) : NULL;
	struct stream *s, *s0;
	struct ssm_frame f;
	uint32_t id;

	if (c == NULL || !c->allow_streams || (s0 = stream0(c)) == NULL || !s0->accepted)
		return 0;
	if (window < 1 || window > SSM_FRAME_WINDOW_MAX || c->nst >= SSM_FRAME_STREAMS_MAX)
		return 0;
	if (c->last_local_stream == 0)
		id = c->mine ? 1 : 2;
	else if (c->last_local_stream > UINT32_MAX - 2)
		return 0;
	else
		id = c->last_local_stream + 2;
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_STREAM_OPEN;
	f.channel = channel;
	f.stream = id;
	f.value = window;
	f.u.stream_open.origin = ssm_frame_str(origin);
	if ((s = stream_new(c, id, 1)) == NULL)
		return 0;
	if (ssm_flow_init_recv(&s->fl, 0, window) < 0 || keep_open(m, s, &f) < 0 ||
	    q_frame(m, &f, 1) < 0) {
		c->nst--; /* the last one: s */
		stream_free(s);
		return 0;
	}
	s->window = window;
	s->user = user;
	c->last_local_stream = id;
	tomb_del(m, channel, id); /* one a peer named in a RESUME: the id is this stream's now */
	return id;
}

int ssm_mux_accept_at(struct ssm_mux *m, uint32_t channel, uint32_t stream, uint64_t base,
		      uint32_t window)
{
	struct stream *s = find_open(m, channel, stream);
	struct ssm_frame f;

	if (s == NULL || s->mine || s->accepted)
		return -1;
	/* a DOCUMENT channel is one-way, towards its opener: its acceptor grants nothing */
	if (s->c->kind == SSM_KIND_DOCUMENT ? window != 0 || base != 0
					    : window < 1 || window > SSM_FRAME_WINDOW_MAX)
		return -1;
	if (base > SSM_FRAME_OFFSET_MAX - window)
		return -1;
	if (base != 0 && (s->c->kind == SSM_KIND_SESSION || stream != 0))
		return -1;
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_ACCEPT;
	f.channel = channel;
	f.stream = stream;
	f.offset = base;
	f.value = base + window;
	if (ssm_flow_init_recv(&s->fl, base, base + window) < 0 || q_frame(m, &f, 1) < 0)
		return -1;
	s->window = window;
	s->rd = base;
	s->base = base;
	s->accepted = 1;
	return 0;
}

int ssm_mux_accept(struct ssm_mux *m, uint32_t channel, uint32_t stream, uint32_t window)
{
	return ssm_mux_accept_at(m, channel, stream, 0, window);
}

int ssm_mux_close(struct ssm_mux *m, uint32_t channel, uint32_t stream, uint16_t code,
		  const char *reason)
{
	struct chan *c = channel ? chan_get(m, channel) : NULL;
	struct stream *s = c ? stream_get(c, stream) : NULL;
	struct tomb *t;

	if (s == NULL)
		return -1;
	t = tomb_add(m, channel, stream, code, reason);
	if (t != NULL && s->listed)
		t->listed = 1; /* closed during a resumption, after the peer's RESUME for it */
	q_close_reserved(m, s, code, reason);
	if (stream == 0)
		chan_forget(m, c);
	else
		stream_forget(m, s);
	reap(m);
	return 0;
}

void ssm_mux_set_user(struct ssm_mux *m, uint32_t channel, uint32_t stream, void *user)
{
	struct stream *s = find_open(m, channel, stream);

	if (s != NULL)
		s->user = user;
}

void *ssm_mux_user(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);

	return s ? s->user : NULL;
}

int ssm_mux_is_open(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	return find_open(m, channel, stream) != NULL;
}

size_t ssm_mux_write_room(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);
	uint64_t room;

	if (s == NULL)
		return 0;
	room = room_of(s);
	if (room == 0 && s->accepted && !s->eof_wanted)
		s->blocked = 1; /* the program will wait for EV_WRITABLE */
	return room > SIZE_MAX ? SIZE_MAX : (size_t)room;
}

size_t ssm_mux_write(struct ssm_mux *m, uint32_t channel, uint32_t stream, const void *p,
		     size_t len)
{
	struct stream *s = find_open(m, channel, stream);
	uint64_t room;
	size_t n, used;

	if (s == NULL)
		return 0;
	room = room_of(s);
	n = len < room ? len : (size_t)room;
	used = (size_t)(s->written - s->fl.send_acked);
	if (n > 0 && sbuf_reserve(s, used + n) < 0)
		n = s->scap > used ? s->scap - used : 0; /* out of memory: what still fits */
	if (n > 0) {
		ring_put(s->sbuf, s->scap, s->written, p, n);
		s->written += n;
		rr_add(m, s);
	}
	if (n < len && s->accepted && !s->eof_wanted)
		s->blocked = 1;
	return n;
}

int ssm_mux_write_eof(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);

	if (s == NULL || !s->accepted || s->eof_wanted)
		return -1;
	s->eof_wanted = 1;
	maybe_eof(m, s);
	return 0;
}

uint64_t ssm_mux_unacked(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);

	return s && s->accepted ? s->written - s->fl.send_acked : 0;
}

uint64_t ssm_mux_written(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);

	return s ? s->written : 0;
}

uint64_t ssm_mux_read_offset(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);

	return s ? s->rd : 0;
}

size_t ssm_mux_readable(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);

	return s ? readable_of(s) : 0;
}

size_t ssm_mux_read(struct ssm_mux *m, uint32_t channel, uint32_t stream, void *buf,
		    size_t len)
{
	struct stream *s = find_open(m, channel, stream);
	size_t n;

	if (s == NULL)
		return 0;
	n = readable_of(s);
	if (n > len)
		n = len;
	if (n == 0)
		return 0;
	ring_get(s->rbuf, s->window, s->rd, buf, n);
	s->rd += n;
	maybe_ack(m, s);
	return n;
}

const uint8_t *ssm_mux_read_peek(struct ssm_mux *m, uint32_t channel, uint32_t stream,
				 size_t *plen)
{
	return ssm_mux_read_peek_at(m, channel, stream, 0, plen);
}

const uint8_t *ssm_mux_read_peek_at(struct ssm_mux *m, uint32_t channel, uint32_t stream,
				    size_t skip, size_t *plen)
{
	struct stream *s = find_open(m, channel, stream);
	size_t n, pos;

	*plen = 0;
	if (s == NULL || (n = readable_of(s)) <= skip)
		return NULL;
	n -= skip;
	pos = (size_t)((s->rd + skip) % s->window);
	if (n > s->window - pos)
		n = s->window - pos;
	*plen = n;
	return s->rbuf + pos;
}

void ssm_mux_read_consume(struct ssm_mux *m, uint32_t channel, uint32_t stream, size_t n)
{
	struct stream *s = find_open(m, channel, stream);
	size_t avail;

	if (s == NULL)
		return;
	avail = readable_of(s);
	s->rd += n < avail ? n : avail;
	maybe_ack(m, s);
}

int ssm_mux_eof_sent(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);

	return s && (s->fl.flags & SSM_FLOW_SENT_EOF);
}

int ssm_mux_peer_eof(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);

	return s && (s->fl.flags & SSM_FLOW_RECV_EOF);
}

int ssm_mux_read_eof(struct ssm_mux *m, uint32_t channel, uint32_t stream)
{
	struct stream *s = find_open(m, channel, stream);

	return s && (s->fl.flags & SSM_FLOW_RECV_EOF) && readable_of(s) == 0;
}

/* stream 0 of a SESSION channel that this side opened (opener) or accepted (!opener) */
static struct stream *session0(struct ssm_mux *m, uint32_t channel, int opener)
{
	struct chan *c = channel ? chan_get(m, channel) : NULL;

	if (c == NULL || c->kind != SSM_KIND_SESSION || (int)c->mine != opener)
		return NULL;
	return stream0(c);
}

int ssm_mux_resize(struct ssm_mux *m, uint32_t channel, uint16_t cols, uint16_t rows)
{
	struct stream *s = session0(m, channel, 1);
	struct ssm_frame f;

	if (s == NULL)
		return -1;
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_RESIZE;
	f.channel = channel;
	f.u.resize.cols = cols;
	f.u.resize.rows = rows;
	if (q_frame(m, &f, 1) < 0)
		return -1;
	s->cols = cols; /* said again after a resumption */
	s->rows = rows;
	return 0;
}

int ssm_mux_terminate(struct ssm_mux *m, uint32_t channel, const char *reason)
{
	struct stream *s = session0(m, channel, 1);
	struct ssm_frame f;

	if (s == NULL)
		return -1;
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_TERMINATE;
	f.channel = channel;
	f.u.terminate.reason = ssm_frame_str(reason);
	if (f.u.terminate.reason.len > SSM_FRAME_REASON_MAX)
		f.u.terminate.reason.len = SSM_FRAME_REASON_MAX;
	if (q_frame(m, &f, 1) < 0)
		return -1;
	if (reason != s->term_reason) { /* said again after a resumption until EXIT comes */
		char *keep = malloc(f.u.terminate.reason.len + 1);
		if (keep != NULL) {
			memcpy(keep, f.u.terminate.reason.p, f.u.terminate.reason.len);
			keep[f.u.terminate.reason.len] = '\0';
			free(s->term_reason);
			s->term_reason = keep;
		}
	}
	s->terminated = 1;
	return 0;
}

int ssm_mux_exit(struct ssm_mux *m, uint32_t channel, uint8_t how, uint8_t status,
		 uint8_t end_reason, const char *detail)
{
	struct stream *s = session0(m, channel, 0);
	struct ssm_frame f;

	if (s == NULL || !s->accepted || s->exit_sent)
		return -1;
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_EXIT;
	f.channel = channel;
	f.offset = s->written;
	f.u.exit.how = how;
	f.u.exit.status = status;
	f.u.exit.reason = end_reason;
	f.u.exit.detail = ssm_frame_str(detail);
	if (f.u.exit.detail.len > SSM_FRAME_REASON_MAX)
		f.u.exit.detail.len = SSM_FRAME_REASON_MAX;
	if (q_frame(m, &f, 1) < 0)
		return -1;
	/* said again after a resumption until the channel is closed */
	if (f.u.exit.detail.len > 0)
		memcpy(s->exit_detail, f.u.exit.detail.p, f.u.exit.detail.len);
	s->exit_f = f;
	s->exit_f.u.exit.detail.p = s->exit_detail;
	s->exit_sent = 1;
	return 0;
}

/* ---- tx ---- */

static int encode_simple(struct ssm_mux *m, uint8_t type, const struct stream *s,
			 uint64_t offset, uint64_t value)
{
	struct ssm_frame f;

	memset(&f, 0, sizeof(f));
	f.type = type;
	f.channel = s->c->id;
	f.stream = s->id;
	f.offset = offset;
	f.value = value;
	return ssm_frame_encode(&f, m->tx + SSM_LINK_PRE, SSM_FRAME_MAX, &m->tx_len);
}

/* The broker answers the peer's RESUMEs before its RESUME_DONE: a broker that restarted
 * may take up sessions it finds there (section 6). */
static int done_waits(const struct ssm_mux *m)
{
	return m->role == SSM_ROLE_BROKER && (m->feat & SSM_FRAME_FEAT_RESUME_ACKED) &&
	       !m->peer_done;
}

/* The RESUMEs, then RESUME_DONE (section 6). */
static void resume_peek(struct ssm_mux *m)
{
	struct ssm_frame f;

	while (m->tx_len == 0 && m->ri < m->rn) {
		struct stream *s = find_open(m, m->rlist[m->ri][0], m->rlist[m->ri][1]);

		m->ri++;
		if (s == NULL)
			continue; /* closed since: its tombstone answers the peer's RESUME */
		memset(&f, 0, sizeof(f));
		f.type = SSM_FRAME_RESUME;
		f.channel = s->c->id;
		f.stream = s->id;
		f.offset = s->fl.recv_next;
		f.value = s->fl.recv_limit;
		if (s->fl.flags & SSM_FLOW_RECV_EOF)
			f.flags |= SSM_FRAME_F_EOF_SEEN;
		if (s->accepted)
			f.flags |= SSM_FRAME_F_ACCEPT_SEEN;
		if (s->id == 0 && s->has_exit)
			f.flags |= SSM_FRAME_F_EXIT_SEEN;
		if (s->id == 0 && s->got_terminate)
			f.flags |= SSM_FRAME_F_TERMINATE_SEEN;
		if (m->feat & SSM_FRAME_FEAT_RESUME_ACKED) {
			f.flags |= SSM_FRAME_F_ACKED;
			f.u.resume.acked = s->fl.send_acked;
		}
		if (ssm_frame_encode(&f, m->tx + SSM_LINK_PRE, SSM_FRAME_MAX, &m->tx_len) != 0)
			m->tx_len = 0;
	}
	if (m->tx_len == 0 && !m->done_sent && !done_waits(m)) {
		memset(&f, 0, sizeof(f));
		f.type = SSM_FRAME_RESUME_DONE;
		if (ssm_frame_encode(&f, m->tx + SSM_LINK_PRE, SSM_FRAME_MAX, &m->tx_len) != 0)
			m->tx_len = 0;
		else
			m->tx_done = 1;
	}
}

uint8_t *ssm_mux_tx_peek(struct ssm_mux *m, size_t *plen)
{
	struct qnode *n;
	struct stream *s;
	uint64_t off;

	if (m->phase == PH_DOWN)
		return NULL;
	if (m->phase == PH_RESUMING) {
		resume_peek(m);
		if (m->tx_len == 0)
			return NULL;
		*plen = m->tx_len;
		return m->tx + SSM_LINK_PRE;
	}
	while (m->tx_len == 0 && (n = m->qh) != NULL) {
		q_unlink(m, n);
		s = n->s;
		switch (n->kind) {
		case Q_FRAME:
			memcpy(m->tx + SSM_LINK_PRE, n->data, n->len);
			m->tx_len = n->len;
			wipe_if_open(n->data, n->len);
			free(n);
			break;
		case Q_ACK:
			/* what the program read, and a window from there */
			if (ssm_flow_grant(&s->fl, s->rd, s->rd + s->window) == 0 &&
			    encode_simple(m, SSM_FRAME_ACK, s, s->rd, s->rd + s->window) != 0)
				m->tx_len = 0;
			break;
		case Q_EOF:
			if (ssm_flow_send_eof(&s->fl, &off) == 0 &&
			    encode_simple(m, SSM_FRAME_EOF, s, off, 0) != 0)
				m->tx_len = 0;
			break;
		}
	}
	while (m->tx_len == 0 && (s = m->rr_head) != NULL) {
		/* bytes to send again after a resumption first, then new ones; a resumption
		 * may have lowered the window below what was written */
		int again = s->fl.send_next < s->fl.send_high;
		uint64_t unsent = again ? s->fl.send_high - s->fl.send_next
					: s->written - s->fl.send_high;
		uint64_t win = s->fl.send_limit > s->fl.send_next
				       ? s->fl.send_limit - s->fl.send_next
				       : 0;
		size_t len;

		if (unsent > win)
			unsent = win;
		len = unsent < DATA_MAX ? (size_t)unsent : DATA_MAX;
		rr_del(m, s);
		if (len == 0 ||
		    (again ? ssm_flow_resend(&s->fl, len, &off) : ssm_flow_send(&s->fl, len, &off)) !=
			    0 ||
		    ssm_frame_data_header(m->tx + SSM_LINK_PRE, s->c->id, s->id, off, len) != 0)
			continue; /* the window is shut: the peer's ACK puts it back */
		ring_get(s->sbuf, s->scap, off, m->tx + SSM_LINK_PRE + SSM_FRAME_HEADER, len);
		m->tx_len = SSM_FRAME_HEADER + len;
		if (s->written > s->fl.send_next)
			rr_add(m, s); /* to the back: round-robin */
		else
			maybe_eof(m, s);
	}
	if (m->tx_len == 0)
		return NULL;
	*plen = m->tx_len;
	return m->tx + SSM_LINK_PRE;
}

void ssm_mux_tx_pop(struct ssm_mux *m)
{
	wipe_if_open(m->tx + SSM_LINK_PRE, m->tx_len);
	m->tx_len = 0;
	if (m->tx_done) {
		m->tx_done = 0;
		m->done_sent = 1;
		if (m->peer_done)
			resume_finish(m);
	}
}

int ssm_mux_tx_pending(const struct ssm_mux *m)
{
	if (m->phase == PH_DOWN)
		return 0;
	if (m->phase == PH_RESUMING)
		return m->tx_len > 0 || m->ri < m->rn || (!m->done_sent && !done_waits(m));
	return m->tx_len > 0 || m->qh != NULL || m->rr_head != NULL;
}

/* ---- connections coming and going (section 6) ---- */

void ssm_mux_link_down(struct ssm_mux *m, int64_t now_ms)
{
	if (m->phase == PH_UP)
		m->down_since = now_ms;
	m->phase = PH_DOWN;
	drop_queue(m);
	free(m->rlist);
	m->rlist = NULL;
	m->rn = m->ri = 0;
	m->tx_done = 0;
}

void ssm_mux_hello(struct ssm_mux *m, int64_t now_ms)
{
	size_t n = 0, i, k;
	struct chan *c;

	if (m->phase == PH_UP)
		m->down_since = now_ms;
	drop_queue(m); /* what was queued is restated from the state once resumed */
	free(m->rlist);
	m->rlist = NULL;
	m->rn = m->ri = 0;
	m->tx_done = 0;
	m->done_sent = m->peer_done = 0;
	m->resume_peer_max = 0;
	m->resume_adopts = 0;
	m->phase = PH_RESUMING;
	for (i = 0; i < m->nb; i++)
		for (c = m->ht[i]; c != NULL; c = c->hnext)
			n += c->nst;
	if (n > 0 && (m->rlist = calloc(n, sizeof(*m->rlist))) == NULL)
		n = 0; /* out of memory: the peer sees none listed and closes them */
	for (i = 0; i < m->nb && m->rlist; i++)
		for (c = m->ht[i]; c != NULL; c = c->hnext)
			for (k = 0; k < c->nst && m->rn < n; k++) {
				c->st[k]->listed = 0;
				c->st[k]->peer_flags = 0;
				m->rlist[m->rn][0] = c->id;
				m->rlist[m->rn][1] = c->st[k]->id;
				m->rn++;
			}
	{
		struct tomb *t;
		for (t = m->tombs; t; t = t->next)
			t->listed = 0;
	}
}

int64_t ssm_mux_down_ms(const struct ssm_mux *m, int64_t now_ms)
{
	if (m->phase == PH_UP)
		return -1;
	return now_ms >= m->down_since ? now_ms - m->down_since : 0;
}

int ssm_mux_resumed(const struct ssm_mux *m)
{
	return m->phase == PH_UP;
}
