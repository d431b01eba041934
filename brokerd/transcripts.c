/* transcripts.c - the broker's end of TRANSCRIPT channels (docs/PROTOCOL.md section 4): a
 * host delivers the transcript of one of its sessions; the broker stores it (tstore.h) and
 * acknowledges each byte only once it is durable, so the host keeps whatever is not. */
#include "conn.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tstore.h"

#define TRANSCRIPT_WINDOW (1024u * 1024)
/* each holds a descriptor and up to a window of memory: bounded per host (the agent takes
 * turns when more of its transcripts are being written) */
#define TRANSCRIPTS_PER_LINK SSM_FRAME_TRANSCRIPTS_MAX
/* Bytes appended but not yet durable are committed (fdatasync, then their length in
 * broker.db) once there are SYNC_BYTES of them, at the transcript's end, or at the broker's
 * next tick: one commit per 256 KiB of a busy transcript instead of one per 16 KiB frame.
 * Until then they stay unconsumed in the channel, so nothing is acknowledged before it is
 * durable; SYNC_BYTES is a quarter of the window, so the host never waits on a commit. */
#define SYNC_BYTES (256u * 1024)

struct tchan {
	int tag; /* RELAY_TAG_TRANSCRIPT */
	struct conn *agent;
	uint32_t ch;
	char sid[SSM_FRAME_SID_MAX + 1];
	struct tstore_obj *obj;
	int completed;
	size_t pending;           /* appended, not yet durable nor consumed */
	struct tchan *next_pending; /* on the list of those with pending bytes */
	int on_list;
};

static struct tchan *pending_list;

static struct broker *B;
static void (*logf_)(const char *fmt, ...);

void transcripts_init(struct broker *b, void (*log)(const char *fmt, ...))
{
	B = b;
	logf_ = log;
}

void transcripts_open(struct conn *a, const struct ssm_mux_ev *ev)
{
	char doc[SSM_FRAME_DOC_MAX + 1], err[256] = "";
	uint64_t size = 0;
	int complete = 0, r;
	struct tchan *t;

	if (a->ntranscripts >= TRANSCRIPTS_PER_LINK) {
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_LIMIT,
				    "too many transcripts at once on this link");
		return;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_INTERNAL, "out of memory");
		return;
	}
	t->tag = RELAY_TAG_TRANSCRIPT;
	t->agent = a;
	t->ch = ev->channel;
	ssm_frame_str_copy(t->sid, sizeof(t->sid), &ev->f->u.open.sid);
	ssm_frame_str_copy(doc, sizeof(doc), &ev->f->u.open.document);
	/* stored under the host's own id (from its certificate): a host can only ever write
	 * its own transcripts */
	r = tstore_open(B, a->host_id, t->sid, doc, &t->obj, &size, &complete, err, sizeof(err));
	if (r < 0) {
		logf_("transcript %s from %s refused: %s", t->sid, a->host_id, err);
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_INTERNAL,
				    "the broker cannot store it");
		free(t);
		return;
	}
	t->completed = complete;
	if (complete) {
		/* a complete transcript is final: never reopened for appending */
		tstore_close(t->obj);
		free(t);
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_REFUSED,
				    "this transcript is already complete");
		return;
	}
	a->ntranscripts++;
	ssm_mux_set_user(a->mux, t->ch, 0, t);
	if (ssm_mux_accept_at(a->mux, t->ch, 0, size, TRANSCRIPT_WINDOW) < 0) {
		a->ntranscripts--;
		(void)ssm_mux_close(a->mux, t->ch, 0, SSM_CODE_INTERNAL, "accept failed");
		tstore_close(t->obj);
		free(t);
		return;
	}
	conn_wake(a);
}

static void unlist(struct tchan *t)
{
	struct tchan **pp;

	if (!t->on_list)
		return;
	for (pp = &pending_list; *pp; pp = &(*pp)->next_pending)
		if (*pp == t) {
			*pp = t->next_pending;
			break;
		}
	t->on_list = 0;
}

static void drop(struct tchan *t)
{
	unlist(t);
	t->agent->ntranscripts--;
	tstore_close(t->obj);
	free(t);
}

/* Commit what was appended, and only then acknowledge it (consume: the ACK goes out after
 * this returns, never before the bytes are on disk).  0 or -errno. */
static int commit(struct tchan *t)
{
	int r;

	if (t->pending > 0) {
		if ((r = tstore_sync(t->obj)) < 0)
			return r;
		ssm_mux_read_consume(t->agent->mux, t->ch, 0, t->pending);
		t->pending = 0;
		conn_wake(t->agent);
	}
	unlist(t);
	/* the host's EOF and every byte before it durable: the transcript is complete */
	if (ssm_mux_read_eof(t->agent->mux, t->ch, 0) && !t->completed) {
		if ((r = tstore_complete(t->obj)) < 0)
			return r;
		t->completed = 1;
	}
	return 0;
}

static void take(struct tchan *t)
{
	const uint8_t *p;
	size_t n;
	int r;

	/* each contiguous run not yet appended: append (it stays unconsumed until committed) */
	while ((p = ssm_mux_read_peek_at(t->agent->mux, t->ch, 0, t->pending, &n)) != NULL &&
	       n > 0) {
		if ((r = tstore_append(t->obj, p, n)) < 0)
			goto fail;
		t->pending += n;
		if (t->pending >= SYNC_BYTES && (r = commit(t)) < 0)
			goto fail;
	}
	if (ssm_mux_peer_eof(t->agent->mux, t->ch, 0) || t->pending == 0) {
		/* the end (the host's EOF, every byte before it appended): commit now */
		if ((r = commit(t)) < 0)
			goto fail;
	} else if (!t->on_list) {
		t->next_pending = pending_list;
		pending_list = t;
		t->on_list = 1;
	}
	conn_wake(t->agent);
	return;
fail:
	logf_("transcript %s from %s: cannot store: %s", t->sid, t->agent->host_id,
	      strerror(-r));
	(void)ssm_mux_close(t->agent->mux, t->ch, 0, SSM_CODE_INTERNAL,
			    "the broker cannot store it");
	drop(t);
}

void transcripts_tick(void)
{
	while (pending_list) {
		struct tchan *t = pending_list;
		int r = commit(t);

		unlist(t);
		if (r < 0) {
			logf_("transcript %s from %s: cannot store: %s", t->sid, t->agent->host_id,
			      strerror(-r));
			(void)ssm_mux_close(t->agent->mux, t->ch, 0, SSM_CODE_INTERNAL,
					    "the broker cannot store it");
			drop(t);
		}
	}
}

/* 1 if the event was a transcript channel's */
int transcripts_event(struct conn *a, const struct ssm_mux_ev *ev)
{
	struct tchan *t = ev->user;

	if (t == NULL || t->tag != RELAY_TAG_TRANSCRIPT)
		return 0;
	switch (ev->type) {
	case SSM_MUX_EV_READABLE:
	case SSM_MUX_EV_EOF:
		take(t);
		break;
	case SSM_MUX_EV_CLOSED:
		if (ev->code == SSM_CODE_OK && t->completed)
			logf_("transcript %s from %s stored", t->sid, a->host_id);
		/* bytes appended but never acknowledged: the host still has them and sends
		 * them again from the stored length, which counts only committed bytes */
		drop(t);
		break;
	default:
		break;
	}
	return 1;
}
