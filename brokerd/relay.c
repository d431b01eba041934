/* relay.c - the broker's part of a session: a client's SESSION channel joined to a SESSION
 * channel it opens on the target host's agent link (docs/PROTOCOL.md sections 4 and 5).
 *
 * The client opens its channel with the session id and the attach secret StartSession
 * returned (brokerd/sessions.c); the broker checks them (one use, the owner, 60 s), opens
 * the channel to the agent with the signed host token and the client's terminal, and
 * answers the client with the agent's ACCEPT or CLOSE.  Bytes then move between the two
 * channels' buffers only as fast as the receiving side's window allows, so the slowest end
 * sets the pace and the broker holds at most one window per direction: the agent's output
 * is read from the agent side only while the client side has room.  EXIT is passed on once
 * every byte before it was; TERMINATE (TerminateSession) goes to the agent; when either end
 * goes away the other channel is closed and the session ends in the database.  A lost
 * connection does not end a session: both conns keep their channels for the resumption
 * grace period (docs/PROTOCOL.md section 6), bytes wait in the channel of the side that is
 * away (up to its window), and TERMINATE's deadline runs only while the host is linked.
 * A byte is consumed from one side only once the other side's peer acknowledged it (rule
 * 6), so a broker restart loses nothing: running relays are rows of the relays table, and
 * a restarted broker takes up the agent's and the client's RESUMEs for them (section 6,
 * "A broker that restarted"). */
#include "conn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "astore.h"
#include "util.h"

#define RELAY_WINDOW (1024u * 1024)
#define RELAY_TERMINATE_MS 5000 /* PROTOCOL.md: EXIT within 2 s of TERMINATE; some slack */

struct relay {
	int tag; /* RELAY_TAG_SESSION */
	char sid[SSM_FRAME_SID_MAX + 1];
	char target[32];
	char owner[65];
	struct conn *client, *agent;
	uint32_t cch, ach;  /* the client's and the agent's channel (0: not open) */
	int accepted;
	int have_exit, exit_sent;
	uint8_t how, status, reason;
	char detail[SSM_FRAME_REASON_MAX + 1];
	int c_eof, a_eof;   /* EOF passed on: client->agent, agent->client */
	int ended;          /* recorded in the database */
	int64_t term_deadline; /* ssm_mono_ms() by which EXIT must have come, 0: none */
	/* a session the broker had before it restarted (relays table): the agent's and the
	 * client's RESUMEs for these channels are taken up until adopt_deadline */
	int adopting;
	uint32_t want_ach, want_cch;
	char *term_pending; /* TerminateSession before the host came back: its reason */
	int64_t adopt_deadline;
	/* a window change from the client while the host's end is not there yet (before its
	 * ACCEPT, or while a restarted broker waits for its RESUME): passed on when it is */
	uint16_t pend_cols, pend_rows;
	struct relay *next;
};

static struct broker *B;
static struct conn **Conns;
static void (*logf_)(const char *fmt, ...);
static struct relay *relays;
static int keeping; /* relay_keep_for_restart */

void relay_init(struct broker *b, struct conn **conns, void (*log)(const char *fmt, ...))
{
	B = b;
	Conns = conns;
	logf_ = log;
	transcripts_init(b, log);
	audit_chans_init(b, log);
	docserve_init(b, log);
}

static void wake(struct relay *r)
{
	conn_wake(r->client);
	conn_wake(r->agent);
}

/* ---- the relays table: the sessions a restarted broker takes up again ---- */

static const char relays_schema[] =
	"CREATE TABLE IF NOT EXISTS relays(sid TEXT PRIMARY KEY, host TEXT NOT NULL,"
	" agent_ch INTEGER NOT NULL, owner TEXT NOT NULL, client_ch INTEGER NOT NULL);";

static int relays_schema_ensure(void)
{
	return sqlite3_exec(B->db, relays_schema, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* The session runs end to end: both ends can resume it without the broker's memory. */
static void relay_row_put(const struct relay *r)
{
	sqlite3_stmt *st;

	if (relays_schema_ensure() < 0 ||
	    (st = brokerd_prep(B->db, "INSERT OR REPLACE INTO relays(sid, host, agent_ch, owner,"
				      " client_ch) VALUES(?1, ?2, ?3, ?4, ?5)")) == NULL) {
		logf_("session %s: cannot record it for a broker restart (database error)", r->sid);
		return;
	}
	sqlite3_bind_text(st, 1, r->sid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->ach);
	sqlite3_bind_text(st, 4, r->owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, r->cch);
	if (sqlite3_step(st) != SQLITE_DONE)
		logf_("session %s: cannot record it for a broker restart (database error)", r->sid);
	sqlite3_finalize(st);
	/* a session this broker still waited for on the same host channel: the host did not
	 * list that channel (the id is in use again), so it is gone there */
	if ((st = brokerd_prep(B->db, "DELETE FROM relays WHERE host = ?1 AND agent_ch = ?2"
				      " AND sid <> ?3")) != NULL) {
		sqlite3_bind_text(st, 1, r->target, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, r->ach);
		sqlite3_bind_text(st, 3, r->sid, -1, SQLITE_STATIC);
		(void)sqlite3_step(st);
		sqlite3_finalize(st);
	}
}

static void relay_row_del(const char *sid)
{
	sqlite3_stmt *st;

	if (relays_schema_ensure() < 0 ||
	    (st = brokerd_prep(B->db, "DELETE FROM relays WHERE sid = ?1")) == NULL)
		return;
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	(void)sqlite3_step(st);
	sqlite3_finalize(st);
}

static void record_end(struct relay *r, const char *state, const char *why)
{
	if (r->ended)
		return;
	r->ended = 1;
	r->adopting = 0;
	if (keeping)
		return; /* the broker is stopping: the next start takes the session up */
	relay_row_del(r->sid);
	(void)db_session_end(B->db, r->sid, state, why, ssm_now());
	logf_("session %s on %s: %s (%s)", r->sid, r->target, state, why);
}

static void maybe_free(struct relay *r)
{
	struct relay **pp;

	if (r->cch || r->ach || r->adopting)
		return;
	for (pp = &relays; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r->term_pending);
	free(r);
}

/* Bytes from (sm, sch) to (dm, dch), PROTOCOL.md section 5 rule 6: a byte is forwarded
 * once, and consumed from the source (which acknowledges it to its sender) only once the
 * destination's peer has acknowledged it, so that the broker never holds a byte only it
 * has.  Offsets are the session's own on both hops: the destination's written offset is
 * where forwarding goes on, its acknowledged offset where consuming may go; the source's
 * EOF is passed on after its last byte (*eof_passed).  1 once every byte received from the
 * source was forwarded, 0 if not yet, -1 if the two hops disagree
 * (the destination is behind what the source's sender has already freed). */
static int pump(struct ssm_mux *sm, uint32_t sch, struct ssm_mux *dm, uint32_t dch,
		int *eof_passed)
{
	uint64_t rd = ssm_mux_read_offset(sm, sch, 0);
	uint64_t end = rd + ssm_mux_readable(sm, sch, 0);
	uint64_t w = ssm_mux_written(dm, dch, 0);
	uint64_t acked = w - ssm_mux_unacked(dm, dch, 0);
	const uint8_t *p;
	size_t n, room, k;

	if (w < rd)
		return -1;
	while (w < end) {
		p = ssm_mux_read_peek_at(sm, sch, 0, (size_t)(w - rd), &n);
		if (p == NULL || n == 0)
			break;
		room = ssm_mux_write_room(dm, dch, 0);
		if (room == 0)
			break;
		k = ssm_mux_write(dm, dch, 0, p, n < room ? n : room);
		if (k == 0)
			break;
		w += k;
	}
	if (acked > rd)
		ssm_mux_read_consume(sm, sch, 0, (size_t)((acked < end ? acked : end) - rd));
	if (w < end)
		return 0;
	/* the source's EOF follows once every byte before it was passed on */
	if (!*eof_passed && ssm_mux_peer_eof(sm, sch, 0) && ssm_mux_write_eof(dm, dch, 0) == 0)
		*eof_passed = 1;
	return 1;
}

static int relay_live(const struct relay *r)
{
	return r->cch && r->ach && r->accepted && r->client && r->agent;
}

static void relay_end(struct relay *r, uint16_t code, const char *why);

/* agent -> client: output, EOF, then EXIT */
static void pump_down(struct relay *r)
{
	int all;

	if (!relay_live(r))
		return;
	all = pump(r->agent->mux, r->ach, r->client->mux, r->cch, &r->a_eof);
	if (all < 0) {
		relay_end(r, SSM_CODE_INTERNAL, "the client is behind what the host has freed");
		return;
	}
	if (all && r->have_exit && !r->exit_sent &&
	    ssm_mux_exit(r->client->mux, r->cch, r->how, r->status, r->reason, r->detail) == 0)
		r->exit_sent = 1;
	wake(r);
}

/* The client's last window change, kept while the host's end was missing: said once the
 * host's channel is there and accepted.  1 when it was said now. */
static int pass_resize(struct relay *r)
{
	if (r->pend_cols == 0 || !r->ach || !r->agent || !r->accepted ||
	    ssm_mux_resize(r->agent->mux, r->ach, r->pend_cols, r->pend_rows) < 0)
		return 0;
	r->pend_cols = r->pend_rows = 0;
	return 1;
}

/* client -> agent: input and EOF */
static void pump_up(struct relay *r)
{
	if (!relay_live(r))
		return;
	(void)pass_resize(r);
	if (pump(r->client->mux, r->cch, r->agent->mux, r->ach, &r->c_eof) < 0) {
		relay_end(r, SSM_CODE_INTERNAL, "the host is behind what the client has freed");
		return;
	}
	wake(r);
}

/* Both ends are told (CLOSE code) and the session ends: the hops cannot be joined, or an
 * end did not come back after a restart. */
static void relay_end(struct relay *r, uint16_t code, const char *why)
{
	logf_("session %s on %s: %s: closing", r->sid, r->target, why);
	if (r->ach && r->agent)
		(void)ssm_mux_close(r->agent->mux, r->ach, 0, code, why);
	if (r->cch && r->client)
		(void)ssm_mux_close(r->client->mux, r->cch, 0, code, why);
	wake(r);
	r->ach = r->cch = 0;
	record_end(r, "Terminated", why); /* freed by relay_tick */
}

static struct conn *agent_of(const char *host_id)
{
	struct conn *c;

	for (c = *Conns; c; c = c->next)
		if (!c->is_client && c->linked && !c->kill && c->link.state == SSM_LINK_UP &&
		    strcmp(c->host_id, host_id) == 0)
			return c;
	return NULL;
}

struct conn *relay_client_of(const char *user, char (*sids)[SSM_FRAME_SID_MAX + 1], int n)
{
	struct conn *c;
	struct relay *r;
	int i, found;

	if (n < 1)
		return NULL;
	for (c = *Conns; c; c = c->next) {
		if (!c->is_client || strcmp(c->user, user) != 0)
			continue;
		for (i = 0; i < n; i++) {
			found = 0;
			for (r = relays; r && !found; r = r->next)
				found = r->client == c && r->cch != 0 && strcmp(r->sid, sids[i]) == 0;
			if (!found)
				break;
		}
		if (i == n)
			return c;
	}
	return NULL;
}

int broker_agent_connected(const char *host_id)
{
	return agent_of(host_id) != NULL;
}

int broker_session_terminate(const char *sid, const char *reason)
{
	struct relay *r;

	for (r = relays; r; r = r->next)
		if (strcmp(r->sid, sid) == 0 && r->ach) {
			if (ssm_mux_terminate(r->agent->mux, r->ach,
					      reason && reason[0] ? reason : "TerminateSession") < 0)
				return -1;
			logf_("session %s: TERMINATE sent to %s", r->sid, r->target);
			if (r->term_deadline == 0)
				r->term_deadline = ssm_mono_ms() + RELAY_TERMINATE_MS;
			wake(r);
			return 1;
		}
	for (r = relays; r; r = r->next)
		if (strcmp(r->sid, sid) == 0 && r->adopting && !r->ach) {
			/* the broker restarted and the host is not back yet: sent when it is */
			free(r->term_pending);
			r->term_pending = strdup(reason && reason[0] ? reason : "TerminateSession");
			if (r->term_pending == NULL)
				return -1;
			logf_("session %s: TERMINATE waits for %s to come back", r->sid, r->target);
			return 1;
		}
	return 0;
}

/* A client's OPEN: sid and attach secret from StartSession. */
static void client_open(struct conn *c, const struct ssm_mux_ev *ev)
{
	const struct ssm_frame *f = ev->f;
	char sid[SSM_FRAME_SID_MAX + 1], why[256] = "";
	char *secret;
	struct broker_session bs;
	struct ssm_frame o;
	struct relay *r;
	struct conn *a;
	int rc;

	ssm_frame_str_copy(sid, sizeof(sid), &f->u.open.sid);
	secret = malloc(f->u.open.token.len + 1);
	if (secret == NULL) {
		(void)ssm_mux_close(c->mux, ev->channel, 0, SSM_CODE_INTERNAL, "out of memory");
		return;
	}
	memcpy(secret, f->u.open.token.p, f->u.open.token.len);
	secret[f->u.open.token.len] = '\0';
	memset(&bs, 0, sizeof(bs));
	rc = db_session_attach(B->db, sid, secret, c->user, ssm_now(), &bs, why, sizeof(why));
	explicit_bzero(secret, f->u.open.token.len);
	free(secret);
	if (rc != 0) {
		logf_("session %s: attach by %s from %s refused: %s", sid, c->user, c->peer, why);
		(void)ssm_mux_close(c->mux, ev->channel, 0, SSM_CODE_REFUSED,
				    why[0] ? why : "no such session to attach to");
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		broker_session_free(&bs);
		(void)ssm_mux_close(c->mux, ev->channel, 0, SSM_CODE_INTERNAL, "out of memory");
		return;
	}
	r->tag = RELAY_TAG_SESSION;
	snprintf(r->sid, sizeof(r->sid), "%s", bs.sid);
	snprintf(r->target, sizeof(r->target), "%s", bs.target);
	snprintf(r->owner, sizeof(r->owner), "%s", c->user);
	r->client = c;
	r->cch = ev->channel;
	r->next = relays;
	relays = r;
	ssm_mux_set_user(c->mux, r->cch, 0, r);
	a = agent_of(bs.target);
	if (a == NULL) {
		(void)ssm_mux_close(c->mux, r->cch, 0, SSM_CODE_REFUSED,
				    "TargetNotConnected: the host has no link to the broker");
		r->cch = 0;
		record_end(r, "Failed", "TargetNotConnected");
		broker_session_free(&bs);
		maybe_free(r);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.u.open.kind = SSM_KIND_SESSION;
	o.u.open.cols = f->u.open.cols;
	o.u.open.rows = f->u.open.rows;
	o.u.open.term = f->u.open.term;
	o.u.open.sid = ssm_frame_str(bs.sid);
	o.u.open.document = ssm_frame_str(bs.document);
	o.u.open.token = ssm_frame_str(bs.host_token);
	r->agent = a;
	r->ach = ssm_mux_open(a->mux, &o, RELAY_WINDOW, r);
	if (bs.host_token)
		explicit_bzero(bs.host_token, strlen(bs.host_token));
	broker_session_free(&bs);
	if (r->ach == 0) {
		(void)ssm_mux_close(c->mux, r->cch, 0, SSM_CODE_LIMIT,
				    "the host's link has no room for another session");
		r->cch = 0;
		record_end(r, "Failed", "no channel on the host's link");
		maybe_free(r);
		return;
	}
	logf_("session %s: %s attached from %s, opening it on %s", r->sid, c->user, c->peer,
	      r->target);
	wake(r);
}

static void client_event(struct conn *c, const struct ssm_mux_ev *ev)
{
	struct relay *r = ev->user;

	if (ev->type == SSM_MUX_EV_OPEN) {
		client_open(c, ev);
		return;
	}
	if (r == NULL || ev->stream != 0)
		return;
	switch (ev->type) {
	case SSM_MUX_EV_READABLE:
	case SSM_MUX_EV_EOF:
		pump_up(r);
		break;
	case SSM_MUX_EV_WRITABLE:
	case SSM_MUX_EV_ACKED:
		pump_down(r);
		break;
	case SSM_MUX_EV_RESIZE:
		r->pend_cols = ev->f->u.resize.cols;
		r->pend_rows = ev->f->u.resize.rows;
		if (!pass_resize(r))
			logf_("session %s: window change to %ux%u kept until the host's end is back",
			      r->sid, (unsigned)r->pend_cols, (unsigned)r->pend_rows);
		break;
	case SSM_MUX_EV_TERMINATE:
		/* the owner ending their own session */
		if (r->ach && ssm_mux_terminate(r->agent->mux, r->ach, "ended by the client") == 0 &&
		    r->term_deadline == 0)
			r->term_deadline = ssm_mono_ms() + RELAY_TERMINATE_MS;
		break;
	case SSM_MUX_EV_CLOSED:
		r->cch = 0;
		/* the broker stopping: the host keeps the session for the next start (its own
		 * channel closes when its link goes) */
		if (r->ach && !keeping) {
			/* after EXIT, the normal end; before it, the user went away (timeout: the
			 * client's connection was not restored within the grace period, and the
			 * host ends the session with reason error) */
			(void)ssm_mux_close(r->agent->mux, r->ach, 0,
					    r->exit_sent			? SSM_CODE_OK
					    : ev->code == SSM_CODE_TIMEOUT ? SSM_CODE_TIMEOUT
									   : SSM_CODE_SHUTDOWN,
					    r->exit_sent			? ""
					    : ev->code == SSM_CODE_TIMEOUT ? ev->reason
									   : "the client went away");
			r->ach = 0;
		}
		record_end(r, "Terminated", r->exit_sent ? "exit" : "client disconnected");
		wake(r);
		maybe_free(r);
		break;
	default:
		break;
	}
}

static void agent_event(struct conn *a, const struct ssm_mux_ev *ev)
{
	struct relay *r = ev->user;

	if (ev->type == SSM_MUX_EV_OPEN) {
		/* the mux lets an agent open only TRANSCRIPT, AUDIT and DOCUMENT */
		if (ev->f->u.open.kind == SSM_KIND_TRANSCRIPT)
			transcripts_open(a, ev);
		else if (ev->f->u.open.kind == SSM_KIND_DOCUMENT)
			docserve_open(a, ev);
		else
			audit_chan_open(a, ev);
		return;
	}
	if (transcripts_event(a, ev) || audit_chan_event(a, ev) || docserve_event(a, ev))
		return;
	if (r == NULL || ev->stream != 0)
		return;
	switch (ev->type) {
	case SSM_MUX_EV_ACCEPT:
		r->accepted = 1;
		if (r->cch && ssm_mux_accept(r->client->mux, r->cch, 0, RELAY_WINDOW) < 0) {
			(void)ssm_mux_close(a->mux, r->ach, 0, SSM_CODE_INTERNAL, "relay error");
			r->ach = 0;
		}
		logf_("session %s: started on %s", r->sid, r->target);
		if (r->ach && r->cch) {
			struct relay *o;

			/* a session waiting since a restart for this host channel: the host reuses
			 * the id, so it no longer has that session */
			for (o = relays; o; o = o->next)
				if (o != r && o->adopting && !o->ach && o->want_ach == r->ach &&
				    strcmp(o->target, r->target) == 0)
					o->adopt_deadline = 0;
			relay_row_put(r);
		}
		pump_down(r);
		pump_up(r);
		break;
	case SSM_MUX_EV_READABLE:
	case SSM_MUX_EV_EOF:
		pump_down(r);
		break;
	case SSM_MUX_EV_WRITABLE:
	case SSM_MUX_EV_ACKED:
		pump_up(r);
		break;
	case SSM_MUX_EV_EXIT:
		r->have_exit = 1;
		r->how = ev->f->u.exit.how;
		r->status = ev->f->u.exit.status;
		r->reason = ev->f->u.exit.reason;
		ssm_frame_str_copy(r->detail, sizeof(r->detail), &ev->f->u.exit.detail);
		pump_down(r);
		break;
	case SSM_MUX_EV_CLOSED:
		r->ach = 0;
		if (r->cch && !keeping) { /* stopping: the client keeps the session */
			if (r->exit_sent) {
				/* the client answers our EXIT with its CLOSE */
			} else {
				/* unknown: the host lost the session (its agent restarted) */
				(void)ssm_mux_close(r->client->mux, r->cch, 0,
						    ev->code == SSM_CODE_OK ? SSM_CODE_INTERNAL
									    : ev->code,
						    ev->code == SSM_CODE_UNKNOWN
							    ? "the host lost the session (its agent "
							      "restarted)"
						    : ev->reason && ev->reason[0]
							    ? ev->reason
							    : "the host closed the session");
				r->cch = 0;
			}
		}
		record_end(r, r->accepted ? "Terminated" : "Failed",
			   ev->reason && ev->reason[0] ? ev->reason : "closed by the host");
		wake(r);
		maybe_free(r);
		break;
	default:
		break;
	}
}

static void on_event(void *ctx, const struct ssm_mux_ev *ev)
{
	struct conn *c = ctx;

	if (c->is_client)
		client_event(c, ev);
	else
		agent_event(c, ev);
}

static int conn_names(const struct conn *c, const char *sid)
{
	int i;

	for (i = 0; i < c->nresume; i++)
		if (strcmp(c->resume[i], sid) == 0)
			return 1;
	return 0;
}

/* A RESUME for a session channel this broker has no state for: one it had before it
 * restarted (relay_restore), from the same host on the same channel, or from the same
 * user on the same channel naming the session in its resume= arguments. */
static int on_adopt(void *ctx, struct ssm_mux_adopt *a)
{
	struct conn *c = ctx;
	struct relay *r;

	for (r = relays; r; r = r->next) {
		if (!r->adopting)
			continue;
		if (c->is_client) {
			if (r->cch || a->mine || r->want_cch != a->channel ||
			    strcmp(r->owner, c->user) != 0 || !conn_names(c, r->sid))
				continue;
			r->client = c;
			r->cch = a->channel;
			/* the client has the EXIT already: the host's, sent again, is not passed on */
			if (a->peer_flags & SSM_FRAME_F_EXIT_SEEN)
				r->exit_sent = 1;
		} else {
			if (r->ach || !a->mine || r->want_ach != a->channel ||
			    strcmp(r->target, c->host_id) != 0)
				continue;
			r->agent = c;
			r->ach = a->channel;
		}
		a->window = RELAY_WINDOW;
		a->user = r;
		logf_("session %s: %s resumed it after the broker restarted", r->sid,
		      c->is_client ? "the client" : "the host");
		if (r->ach && r->cch) {
			r->adopting = 0;
			logf_("session %s: both ends are back, relaying", r->sid);
		}
		wake(r);
		return 1;
	}
	return 0;
}

int relay_conn_setup(struct conn *c)
{
	if (ssm_mux_new(&c->mux, SSM_ROLE_BROKER, c->is_client ? SSM_ROLE_CLIENT : SSM_ROLE_AGENT,
			on_event, c) < 0)
		return -1;
	ssm_mux_set_adopt(c->mux, on_adopt);
	ssm_mux_want_acked(c->mux);
	ssm_mux_attach(c->mux, &c->link);
	return 0;
}

void relay_keep_for_restart(void)
{
	keeping = 1;
}

int relay_restore(int64_t grace_ms)
{
	sqlite3_stmt *st;
	struct relay *r;
	int n = 0;

	if (relays_schema_ensure() < 0 || sessions_schema_ensure(B->db) < 0)
		return -1;
	/* a session that ended meanwhile (TerminateSession while the broker was down) stays
	 * ended */
	(void)sqlite3_exec(B->db,
			   "DELETE FROM relays WHERE sid NOT IN"
			   " (SELECT sid FROM sessions WHERE state = 'Connected')",
			   NULL, NULL, NULL);
	st = brokerd_prep(B->db, "SELECT sid, host, agent_ch, owner, client_ch FROM relays");
	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *sid = (const char *)sqlite3_column_text(st, 0);
		const char *host = (const char *)sqlite3_column_text(st, 1);
		const char *owner = (const char *)sqlite3_column_text(st, 3);
		int64_t ach = sqlite3_column_int64(st, 2), cch = sqlite3_column_int64(st, 4);

		if (sid == NULL || host == NULL || owner == NULL || ach <= 0 || ach > UINT32_MAX ||
		    cch <= 0 || cch > UINT32_MAX || strlen(sid) > SSM_FRAME_SID_MAX ||
		    (r = calloc(1, sizeof(*r))) == NULL)
			continue;
		r->tag = RELAY_TAG_SESSION;
		snprintf(r->sid, sizeof(r->sid), "%s", sid);
		snprintf(r->target, sizeof(r->target), "%s", host);
		snprintf(r->owner, sizeof(r->owner), "%s", owner);
		r->want_ach = (uint32_t)ach;
		r->want_cch = (uint32_t)cch;
		r->accepted = 1;
		r->adopting = 1;
		r->adopt_deadline = ssm_mono_ms() + grace_ms;
		r->next = relays;
		relays = r;
		n++;
	}
	sqlite3_finalize(st);
	if (n > 0)
		logf_("%d sessions from before the restart wait up to %lld s for their host and "
		      "client", n, (long long)(grace_ms / 1000));
	return n;
}

void relay_conn_gone(struct conn *c, const char *why)
{
	struct relay *r;

	if (c->mux == NULL)
		return;
	/* the grace period passed (or the broker stops): every session on this link ends */
	ssm_mux_reset(c->mux, SSM_CODE_TIMEOUT, why);
	for (r = relays; r; r = r->next) {
		if (r->client == c)
			r->client = NULL;
		if (r->agent == c)
			r->agent = NULL;
	}
	ssm_mux_free(c->mux);
	c->mux = NULL;
}

void relay_tick(void)
{
	struct relay *r, *next;
	int64_t now = ssm_mono_ms();

	for (r = relays; r; r = next) {
		next = r->next;
		if (r->adopting && now >= r->adopt_deadline) {
			const char *why = r->ach || r->cch ? "the other end did not come back after "
							     "the broker restarted"
							   : "neither end came back after the broker "
							     "restarted";

			relay_end(r, SSM_CODE_TIMEOUT, why);
			maybe_free(r);
			continue;
		}
		if (r->term_pending && r->ach && r->agent) {
			if (ssm_mux_terminate(r->agent->mux, r->ach, r->term_pending) == 0) {
				logf_("session %s: TERMINATE sent to %s", r->sid, r->target);
				if (r->term_deadline == 0)
					r->term_deadline = now + RELAY_TERMINATE_MS;
				wake(r);
			}
			free(r->term_pending);
			r->term_pending = NULL;
		}
		if (pass_resize(r)) /* the host's end came back */
			wake(r);
		/* TERMINATE takes effect once the host is back (SPEC section 8): its 2 s (and our
		 * slack) count only while the host's link is up */
		if (r->term_deadline && r->ach && r->agent &&
		    (r->agent->wsi == NULL || !ssm_mux_resumed(r->agent->mux)))
			r->term_deadline = now + RELAY_TERMINATE_MS;
		if (r->term_deadline && now >= r->term_deadline && !r->have_exit) {
			/* the host ignored TERMINATE: end it here, both sides */
			logf_("session %s: no EXIT from %s after TERMINATE: closing", r->sid,
			      r->target);
			if (r->ach && r->agent)
				(void)ssm_mux_close(r->agent->mux, r->ach, 0, SSM_CODE_TERMINATED,
						    "no EXIT after TERMINATE");
			if (r->cch && r->client)
				(void)ssm_mux_close(r->client->mux, r->cch, 0, SSM_CODE_TERMINATED,
						    "terminated (the host did not confirm)");
			r->ach = r->cch = 0;
			record_end(r, "Terminated", "terminated, the host did not confirm");
			wake(r);
			maybe_free(r);
			continue;
		}
		pump_down(r);
		pump_up(r);
		maybe_free(r);
	}
}
