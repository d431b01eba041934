/* sessions.c - the agent's session channels (docs/PROTOCOL.md sections 4 and 5; SPEC 8).
 *
 * The broker opens a SESSION channel with the session's signed token; the agent starts the
 * login through the PAM service ssm-session in a session parent process (session_priv.c:
 * pam_ssmsession judges the token exactly as for any other login) and answers ACCEPT once
 * the shell runs, or CLOSE refused with PAM's reason.  Then the pty (or, without a terminal,
 * a socket pair) is relayed to stream 0 of the channel: the agent reads the pty only while
 * the broker's window has room, so a slow user stops the shell's output instead of losing
 * it; input is written to the pty only as fast as the pty takes it, and acknowledged (the
 * window reopened) only once written.
 *
 * Descriptors: the session's pty master and control socket are the agent's (nonblocking);
 * libwebsockets polls a dup() of each, adopted as a raw file, only to say when they are
 * ready.  Reads and writes always use the agent's own descriptor, so a hang-up that makes
 * libwebsockets close its copy never loses output still buffered in the pty. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <libwebsockets.h>
#include <cjson/cJSON.h>
#include "agent.h"
#include "keyrot.h"
#include "jws.h"
#include "lwsglue.h"
#include "mux.h"
#include "session_priv.h"

#define SESSION_WINDOW (1024u * 1024) /* our grant for the user's input */
#define IO_CHUNK 65536
#define SESSIONS_MAX 256              /* sessions at once: a broker cannot exhaust ptys */

struct asess {
	uint32_t ch;
	char sid[SSM_FRAME_SID_MAX + 1];
	struct ssm_asess s;
	struct lws *io_wsi, *ctl_wsi, *out_wsi;
	int started;        /* the session parent said ok */
	int channel_open;   /* the channel is still open on our side */
	int io_eof;         /* no more output will come from the pty/socket */
	int out_eof;        /* ... nor from the output socket (s.out_fd; set without one) */
	int io_hup;         /* lws dropped its copy of io_fd */
	int ctl_eof;        /* the session parent closed its end (it exited) */
	int exited;         /* "exit" came */
	int exit_sent;
	int in_eof_done;    /* the user's EOF was passed on (socket: SHUT_WR) */
	int terminate_asked;
	int lost;           /* ... because the channel was lost */
	/* held back until the document its token names arrived from the broker (docfetch.c):
	 * what the login needs, kept until then (the token wiped when it is used or dropped) */
	int parked;
	int keys_wait; /* ... or first for the broker's key rotation chain (its token's kid) */
	char kid[65];
	char user[64], doc[SSM_FRAME_DOC_MAX + 1], term[SSM_FRAME_TERM_MAX + 1];
	char want_doc[SSM_FRAME_DOC_MAX + 1], want_sha[65];
	char *token;
	size_t token_len;
	uint16_t cols, rows;
	uint8_t how, status;
	lws_sorted_usec_list_t rearm; /* POLLOUT asked again after a writeable callback */
	struct asess *next;
};
/* inside LWS_CALLBACK_RAW_WRITEABLE_FILE: libwebsockets 4.1 clears POLLOUT after the callback
 * returns (roles/raw-file), so lws_callback_on_writable() from inside it would be lost */
static int in_raw_wcb;

static struct agent_env E;
static struct asess *sessions;

void agent_sessions_init(const struct agent_env *env)
{
	E = *env;
}

static void wipe_token(struct asess *a)
{
	if (a->token != NULL) {
		explicit_bzero(a->token, a->token_len);
		free(a->token);
		a->token = NULL;
	}
}

static void unlink_sess(struct asess *a)
{
	struct asess **pp;

	for (pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
}

static void release(struct asess *a)
{
	struct asess **pp;

	lws_sul_cancel(&a->rearm);
	ssm_lws_unwatch(&a->io_wsi);
	ssm_lws_unwatch(&a->ctl_wsi);
	ssm_lws_unwatch(&a->out_wsi);
	if (a->s.io_fd >= 0)
		close(a->s.io_fd);
	if (a->s.out_fd >= 0)
		close(a->s.out_fd);
	if (a->s.ctl_fd >= 0)
		close(a->s.ctl_fd);
	for (pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	free(a);
}

/* Free once both the channel and the session parent are gone. */
static void maybe_release(struct asess *a)
{
	if (!a->channel_open && a->ctl_eof)
		release(a);
}

/* lost: the channel was lost (the resumption grace passed, or the broker lost it): the
 * session ends with reason error instead of terminated */
static void end_session_as(struct asess *a, const char *why, int lost)
{
	if (a->ctl_eof || a->terminate_asked)
		return;
	a->terminate_asked = 1;
	a->lost = lost;
	E.log("session %s: ending it: %s", a->sid, why);
	(void)(lost ? ssm_asess_lost(&a->s) : ssm_asess_terminate(&a->s));
}

static void end_session(struct asess *a, const char *why)
{
	end_session_as(a, why, 0);
}

static struct lws *adopt(int fd, struct asess *a)
{
	return ssm_lws_watch_fd(E.vhost, E.raw_protocol, fd, a);
}

/* The token's run_as, read without trusting it: PAM verifies the token for exactly this
 * user, so a token that lies about it only names a login PAM will refuse.  The OPEN's sid
 * must be the token's (what the agent logs and the broker shows is what PAM judges). */
static int token_user(const struct ssm_frame_str *t, const char *sid, char *user, size_t size,
		      char doc[SSM_FRAME_DOC_MAX + 1], char sha[65], char kid[65])
{
	char *tok = malloc(t->len + 1);
	struct ssm_jws *jws = NULL;
	char err[128];
	const cJSON *ra;
	int r = -1;

	if (tok == NULL)
		return -1;
	memcpy(tok, t->p, t->len);
	tok[t->len] = '\0';
	if (ssm_jws_parse(tok, t->len, &jws, err, sizeof(err)) == 0) {
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(jws->claims, "sid");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(jws->claims, "doc");
		const cJSON *dn = cJSON_GetObjectItemCaseSensitive(d, "name");
		const cJSON *dh = cJSON_GetObjectItemCaseSensitive(d, "sha256");

		/* the key and the document to have on the host before PAM judges (docfetch.c
		 * checks both) */
		snprintf(kid, 65, "%s", jws->kid);
		doc[0] = sha[0] = '\0';
		if (cJSON_IsString(dn) && cJSON_IsString(dh) &&
		    strlen(dn->valuestring) <= SSM_FRAME_DOC_MAX && strlen(dh->valuestring) == 64 &&
		    strcmp(dn->valuestring, SSM_KEYROT_DOC_NAME) != 0) { /* that name: the keys */
			snprintf(doc, SSM_FRAME_DOC_MAX + 1, "%s", dn->valuestring);
			snprintf(sha, 65, "%s", dh->valuestring);
		}

		ra = cJSON_GetObjectItemCaseSensitive(jws->claims, "run_as");
		if (cJSON_IsString(ra) && strlen(ra->valuestring) > 0 &&
		    strlen(ra->valuestring) < size && cJSON_IsString(ts) &&
		    strcmp(ts->valuestring, sid) == 0) {
			snprintf(user, size, "%s", ra->valuestring);
			r = 0;
		}
		ssm_jws_free(jws);
	}
	explicit_bzero(tok, t->len);
	free(tok);
	return r;
}

/* Run the login (session_priv.c) of a session whose OPEN was taken: a is new, or on the list
 * parked.  On failure its channel is closed and a freed. */
static void start_login(struct asess *a)
{
	struct ssm_asess_req req;
	char err[256] = "";
	int r;

	memset(&req, 0, sizeof(req));
	req.user = a->user;
	req.token = a->token;
	req.token_len = a->token_len;
	req.sid = a->sid;
	req.document = a->doc;
	req.term = a->term[0] ? a->term : NULL;
	req.cols = a->cols;
	req.rows = a->rows;
	req.service = E.pam_service;
	req.rhost = E.broker_host;
	r = ssm_asess_start(&req, &a->s, err, sizeof(err));
	wipe_token(a);
	if (r < 0) {
		E.log("session %s: cannot start: %s", a->sid, err);
		(void)ssm_mux_close(E.mux, a->ch, 0, SSM_CODE_INTERNAL, "cannot start");
		if (a->parked)
			unlink_sess(a);
		free(a);
		return;
	}
	if (!a->parked) {
		a->next = sessions;
		sessions = a;
	}
	a->parked = 0;
	a->channel_open = 1;
	ssm_mux_set_user(E.mux, a->ch, 0, a);
	a->ctl_wsi = adopt(a->s.ctl_fd, a);
	a->io_wsi = adopt(a->s.io_fd, a);
	a->out_eof = a->s.out_fd < 0;
	if (a->s.out_fd >= 0)
		a->out_wsi = adopt(a->s.out_fd, a);
	if (a->ctl_wsi == NULL || a->io_wsi == NULL || (a->s.out_fd >= 0 && a->out_wsi == NULL)) {
		E.log("session %s: cannot watch its descriptors", a->sid);
		(void)ssm_mux_close(E.mux, a->ch, 0, SSM_CODE_INTERNAL, "agent error");
		a->channel_open = 0;
		end_session(a, "agent error");
		return;
	}
	/* no output is read before the ACCEPT */
	lws_rx_flow_control(a->io_wsi, 0);
	if (a->out_wsi)
		lws_rx_flow_control(a->out_wsi, 0);
	E.log("session %s: login of %s for %s (%s) started, pid %ld", a->sid, a->user, a->doc,
	      a->s.has_tty ? "terminal" : "no terminal", (long)a->s.pid);
}

static int wait_doc(struct asess *a)
{
	return a->want_doc[0] != '\0' && agent_docs_need(a->want_doc, a->want_sha) > 0;
}

static void park(struct asess *a)
{
	a->parked = 1;
	a->channel_open = 1;
	a->next = sessions;
	sessions = a;
	ssm_mux_set_user(E.mux, a->ch, 0, a);
}

static void on_open(const struct ssm_mux_ev *ev)
{
	const struct ssm_frame *f = ev->f;
	struct asess *a;

	if (f->u.open.kind != SSM_KIND_SESSION) {
		(void)ssm_mux_close(E.mux, ev->channel, 0, SSM_CODE_REFUSED, "not a session");
		return;
	}
	if (agent_sessions_count() >= SESSIONS_MAX) {
		(void)ssm_mux_close(E.mux, ev->channel, 0, SSM_CODE_LIMIT,
				    "the host runs too many sessions");
		return;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		(void)ssm_mux_close(E.mux, ev->channel, 0, SSM_CODE_INTERNAL, "out of memory");
		return;
	}
	a->ch = ev->channel;
	a->s.io_fd = a->s.ctl_fd = a->s.out_fd = -1;
	ssm_frame_str_copy(a->sid, sizeof(a->sid), &f->u.open.sid);
	ssm_frame_str_copy(a->doc, sizeof(a->doc), &f->u.open.document);
	ssm_frame_str_copy(a->term, sizeof(a->term), &f->u.open.term);
	a->cols = f->u.open.cols;
	a->rows = f->u.open.rows;
	if (token_user(&f->u.open.token, a->sid, a->user, sizeof(a->user), a->want_doc,
		       a->want_sha, a->kid) < 0) {
		E.log("session %s refused: the token names no run_as user or another session",
		      a->sid);
		(void)ssm_mux_close(E.mux, ev->channel, 0, SSM_CODE_REFUSED,
				    "the token is not this session's token");
		free(a);
		return;
	}
	a->token = malloc(f->u.open.token.len + 1);
	if (a->token == NULL) {
		(void)ssm_mux_close(E.mux, ev->channel, 0, SSM_CODE_INTERNAL, "out of memory");
		free(a);
		return;
	}
	memcpy(a->token, f->u.open.token.p, f->u.open.token.len);
	a->token[f->u.open.token.len] = '\0';
	a->token_len = f->u.open.token.len;
	if (a->kid[0] != '\0' && !agent_keys_known(a->kid) && agent_keys_fetch() > 0) {
		/* a key this host does not trust yet: the broker rotated it, and the chain that
		 * hands it over comes first (agent_sessions_doc_ready); PAM judges either way */
		a->keys_wait = 1;
		park(a);
		E.log("session %s: waiting for the broker's key rotation chain (key %s)", a->sid,
		      a->kid);
		return;
	}
	if (wait_doc(a)) {
		/* the login waits for the document (agent_sessions_doc_ready) */
		park(a);
		E.log("session %s: waiting for document %s from the broker", a->sid, a->want_doc);
		return;
	}
	start_login(a);
}

/* A parked session goes away before its login started (its channel closed or was
 * terminated, or the agent stops). */
static void drop_parked(struct asess *a)
{
	unlink_sess(a);
	wipe_token(a);
	free(a);
}

void agent_sessions_doc_ready(const char *name, const char *sha)
{
	struct asess *a, *next;
	int keys = strcmp(name, SSM_KEYROT_DOC_NAME) == 0 && strcmp(sha, SSM_KEYROT_DOC_SHA) == 0;

	for (a = sessions; a; a = next) {
		next = a->next;
		if (!a->parked)
			continue;
		if (keys) {
			if (!a->keys_wait)
				continue;
			a->keys_wait = 0;
		} else if (a->keys_wait || strcmp(a->want_doc, name) != 0 ||
			   strcmp(a->want_sha, sha) != 0) {
			continue;
		}
		/* a channel closed meanwhile (the link lost): its CLOSED event frees it */
		if (!ssm_mux_is_open(E.mux, a->ch, 0))
			continue;
		if (keys && wait_doc(a)) {
			E.log("session %s: waiting for document %s from the broker", a->sid, a->want_doc);
			continue;
		}
		start_login(a);
	}
	E.want_write();
}

/* One read of fd into stream 0: 1 bytes passed on, 0 nothing waiting, -1 at its end (EOF;
 * EIO: the pty's last holder closed it).  After the exit nothing more is waiting: the
 * output of fd is complete. */
static int out_once(struct asess *a, int fd, uint8_t *buf, size_t cap)
{
	ssize_t n;

	do
		n = read(fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		(void)ssm_mux_write(E.mux, a->ch, 0, buf, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return a->exited ? -1 : 0;
	return -1;
}

/* Watch a source of output while it may still give some, and only while there is room. */
static void out_watch(struct asess *a, struct lws **pw, int eof, int *phup)
{
	if (*pw && eof) {
		/* a socket at EOF or a hung-up pty stays readable: stop watching it */
		ssm_lws_unwatch(pw);
		if (phup)
			*phup = 1;
	} else if (*pw) {
		lws_rx_flow_control(*pw, a->started && ssm_mux_write_room(E.mux, a->ch, 0) > 0);
	}
}

/* Output to stream 0, as far as the window lets: the pty or socket, and for ssm-shell with
 * a terminal the output socket, which carries its relayed output (session_priv.h); the pty
 * then carries only what ssm-shell writes to its standard error. */
static void pump_out(struct asess *a)
{
	uint8_t buf[IO_CHUNK];
	int rounds = 0;

	while (a->started && a->channel_open && !(a->io_eof && a->out_eof) && rounds++ < 8) {
		size_t room = ssm_mux_write_room(E.mux, a->ch, 0);
		size_t cap = room < sizeof(buf) ? room : sizeof(buf);
		int r = 0, moved = 0;

		if (room == 0)
			break;
		if (!a->out_eof) {
			r = out_once(a, a->s.out_fd, buf, cap);
			if (r < 0)
				a->out_eof = 1;
			if (r > 0)
				continue; /* the socket first, while it has more */
		}
		if (!a->io_eof) {
			r = out_once(a, a->s.io_fd, buf, cap);
			if (r < 0)
				a->io_eof = 1;
			moved = r > 0;
		}
		if (!moved)
			break;
	}
	out_watch(a, &a->io_wsi, a->io_eof, &a->io_hup);
	out_watch(a, &a->out_wsi, a->out_eof, NULL);
	if (a->exited && a->io_eof && a->out_eof && a->channel_open && !a->exit_sent) {
		uint8_t reason = a->lost ? SSM_END_ERROR
				 : a->terminate_asked ? SSM_END_TERMINATED : SSM_END_EXIT;
		uint8_t how = a->how, status = a->status;
		char detail[80];

		if (how == SSM_EXIT_SIGNALED && (status < 1 || status > 64))
			how = SSM_EXIT_NONE;
		if (how == SSM_EXIT_NONE) {
			status = 0;
			if (reason == SSM_END_EXIT)
				reason = SSM_END_ERROR;
		}
		if (reason == SSM_END_TERMINATED)
			snprintf(detail, sizeof(detail), "session terminated");
		else if (reason == SSM_END_ERROR && a->lost)
			snprintf(detail, sizeof(detail), "the connection to the broker was lost");
		else
			detail[0] = '\0';
		if (ssm_mux_exit(E.mux, a->ch, how, status, reason, detail) == 0)
			a->exit_sent = 1;
		E.log("session %s: ended (%s %u)", a->sid,
		      how == SSM_EXIT_EXITED ? "status" : how == SSM_EXIT_SIGNALED ? "signal" : "none",
		      status);
	}
	E.want_write();
}

static void rearm_in(lws_sorted_usec_list_t *sul)
{
	struct asess *a = lws_container_of(sul, struct asess, rearm);

	if (a->io_wsi)
		lws_callback_on_writable(a->io_wsi);
}

/* Input: stream 0 to the pty or socket, as fast as it takes it. */
static void pump_in(struct asess *a)
{
	for (;;) {
		size_t n;
		const uint8_t *p;
		ssize_t w;

		if (!a->channel_open || a->io_hup)
			return;
		p = ssm_mux_read_peek(E.mux, a->ch, 0, &n);
		if (p == NULL || n == 0)
			break;
		w = write(a->s.io_fd, p, n);
		if (w > 0) {
			ssm_mux_read_consume(E.mux, a->ch, 0, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (a->io_wsi && in_raw_wcb)
				lws_sul_schedule(E.ctx, 0, &a->rearm, rearm_in, 1);
			else if (a->io_wsi)
				lws_callback_on_writable(a->io_wsi);
			return;
		}
		/* the session is going away: drop the input (the window stays shut) */
		return;
	}
	if (ssm_mux_read_eof(E.mux, a->ch, 0) && !a->in_eof_done) {
		a->in_eof_done = 1;
		if (!a->s.has_tty)
			(void)shutdown(a->s.io_fd, SHUT_WR);
	}
	E.want_write();
}

/* The session parent's messages: 0 when none is left for now, 1 at the end of them (the
 * session parent gone), after which a may have been released. */
static int on_ctl(struct asess *a)
{
	struct ssm_asess_msg m;
	int r;

	for (;;) {
		r = ssm_asess_ctl_read(a->s.ctl_fd, &m);
		if (r == 0)
			return 0; /* nothing more now */
		if (r < 0) {
			a->ctl_eof = 1;
			if (!a->exited) {
				/* the session parent is gone without a word */
				a->exited = 1;
				a->how = SSM_EXIT_NONE;
				a->status = 0;
				if (!a->started && a->channel_open) {
					(void)ssm_mux_close(E.mux, a->ch, 0, SSM_CODE_INTERNAL,
							    "the login process failed");
					a->channel_open = 0;
				}
			}
			if (a->channel_open)
				pump_out(a);
			maybe_release(a);
			return 1;
		}
		switch (m.type) {
		case SSM_ASESS_MSG_OK:
			a->started = 1;
			if (ssm_mux_accept(E.mux, a->ch, 0, SESSION_WINDOW) < 0) {
				end_session(a, "cannot accept the channel");
				break;
			}
			E.log("session %s: shell pid %ld", a->sid, (long)m.pid);
			pump_out(a);
			break;
		case SSM_ASESS_MSG_REFUSED:
		case SSM_ASESS_MSG_ERROR:
			E.log("session %s: login %s: %s", a->sid,
			      m.type == SSM_ASESS_MSG_REFUSED ? "refused" : "failed", m.text);
			if (a->channel_open) {
				(void)ssm_mux_close(E.mux, a->ch, 0,
						    m.type == SSM_ASESS_MSG_REFUSED
							    ? SSM_CODE_REFUSED
							    : SSM_CODE_INTERNAL,
						    m.text);
				a->channel_open = 0;
			}
			break;
		case SSM_ASESS_MSG_EXIT:
			a->exited = 1;
			a->how = (uint8_t)m.how;
			a->status = (uint8_t)m.status;
			pump_out(a);
			break;
		default:
			break;
		}
		E.want_write();
	}
}

void agent_mux_event(void *ctx, const struct ssm_mux_ev *ev)
{
	struct asess *a = ev->user;

	(void)ctx;
	if (ev->type != SSM_MUX_EV_OPEN &&
	    (agent_deliver_event(ev) || agent_deliver_audit_event(ev)))
		return;
	if (ev->type != SSM_MUX_EV_OPEN && agent_docs_event(ev))
		return;
	if (a != NULL && a->parked) {
		/* waiting for its document: only its end, a termination or a new size */
		if (ev->type == SSM_MUX_EV_CLOSED) {
			drop_parked(a);
		} else if (ev->type == SSM_MUX_EV_TERMINATE) {
			E.log("session %s: terminated while waiting for its document", a->sid);
			(void)ssm_mux_close(E.mux, a->ch, 0, SSM_CODE_TERMINATED,
					    "terminated before it started");
			drop_parked(a);
		} else if (ev->type == SSM_MUX_EV_RESIZE && a->term[0] != '\0') {
			a->cols = ev->f->u.resize.cols;
			a->rows = ev->f->u.resize.rows;
		}
		E.want_write();
		return;
	}
	switch (ev->type) {
	case SSM_MUX_EV_OPEN:
		on_open(ev);
		break;
	case SSM_MUX_EV_READABLE:
	case SSM_MUX_EV_EOF:
		if (a)
			pump_in(a);
		break;
	case SSM_MUX_EV_WRITABLE:
		if (a)
			pump_out(a);
		break;
	case SSM_MUX_EV_RESIZE:
		if (a && a->s.has_tty) {
			struct winsize ws;
			memset(&ws, 0, sizeof(ws));
			ws.ws_col = ev->f->u.resize.cols;
			ws.ws_row = ev->f->u.resize.rows;
			(void)ioctl(a->s.io_fd, TIOCSWINSZ, &ws);
		}
		break;
	case SSM_MUX_EV_TERMINATE:
		if (a)
			end_session(a, "terminated at the broker");
		break;
	case SSM_MUX_EV_CLOSED:
		if (a) {
			a->channel_open = 0;
			/* timeout: the broker link was not restored within the resumption grace;
			 * unknown: the broker lost the channel (section 6) */
			if (!a->exit_sent)
				end_session_as(a, ev->reason && ev->reason[0] ? ev->reason
									     : "channel closed",
					       ev->code == SSM_CODE_TIMEOUT ||
						       ev->code == SSM_CODE_UNKNOWN);
			maybe_release(a);
		}
		break;
	default:
		break;
	}
	E.want_write();
}

/* libwebsockets callbacks of the adopted descriptors */
int agent_raw_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len)
{
	struct asess *a = lws_get_opaque_user_data(wsi);

	(void)user;
	(void)in;
	(void)len;
	if (agent_deliver_is_watch(wsi)) {
		agent_deliver_watch_cb(reason == LWS_CALLBACK_RAW_RX_FILE,
				       reason == LWS_CALLBACK_RAW_CLOSE_FILE);
		return 0;
	}
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (a == NULL)
			return 0;
		if (wsi == a->ctl_wsi)
			(void)on_ctl(a);
		else if (wsi == a->io_wsi || wsi == a->out_wsi)
			pump_out(a);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (a != NULL && wsi == a->io_wsi) {
			in_raw_wcb = 1;
			pump_in(a);
			in_raw_wcb = 0;
		}
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (a == NULL)
			return 0;
		if (wsi == a->io_wsi) {
			a->io_wsi = NULL;
			a->io_hup = 1;
			pump_out(a); /* what the pty still holds */
		} else if (wsi == a->out_wsi) {
			a->out_wsi = NULL;
			pump_out(a); /* what the socket still holds */
		} else if (wsi == a->ctl_wsi) {
			a->ctl_wsi = NULL;
			/* the last messages, then EOF (a may be gone after it) */
			if (on_ctl(a) == 0) {
				/* lws saw a hang-up: the session parent is gone */
				a->ctl_eof = 1;
				maybe_release(a);
			}
		}
		return 0;
	default:
		return 0;
	}
}

void agent_sessions_link_lost(void)
{
	struct asess *a, *next;

	/* the agent is stopping: its sessions end, their channels are closed (a lost
	 * connection alone does not end them: their channels wait for the resumption,
	 * PROTOCOL.md section 6) */
	for (a = sessions; a; a = next) {
		next = a->next;
		if (!a->channel_open)
			continue;
		(void)ssm_mux_close(E.mux, a->ch, 0, SSM_CODE_SHUTDOWN, "the agent is stopping");
		if (a->parked) { /* its login never started */
			drop_parked(a);
			continue;
		}
		a->channel_open = 0;
		end_session(a, "the agent is stopping");
	}
}

void agent_sessions_tick(void)
{
	struct asess *a, *next;
	int st;

	while (waitpid(-1, &st, WNOHANG) > 0)
		;
	for (a = sessions; a; a = next) {
		next = a->next;
		if (a->started && a->channel_open && !(a->io_eof && a->out_eof))
			pump_out(a);
	}
}

size_t agent_sessions_count(void)
{
	size_t n = 0;
	struct asess *a;

	for (a = sessions; a; a = a->next)
		n++;
	return n;
}
