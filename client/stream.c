/* stream.c - `ssm start-session`'s streams: one wss connection to the broker's /v1/client
 * (docs/PROTOCOL.md), and on it one SESSION channel per stream, each attached with the
 * secret StartSession returned for it.
 *
 * - With a terminal (Standard_Stream and InteractiveCommands sessions on a tty), the terminal
 *   is put in raw mode and restored on every way out (exit, error, signal); window changes
 *   are sent as RESIZE.
 * - Without one (NonInteractiveCommands, Port sessions without localPortNumber — ssh's
 *   ProxyCommand —, or standard input not a tty), standard input and output are the byte
 *   stream, and the end of standard input is passed on as EOF.
 * - A Port session with localPortNumber listens on 127.0.0.1:PORT (0: a free port, printed)
 *   and gives every accepted TCP connection a session of its own (StartSession again with
 *   the same parameters, through a->new_session): each connection has its own window, its
 *   own half-close (EOF is shutdown(SHUT_WR)), its own login and audit on the host, and one
 *   slow or stuck connection never holds another up.  It runs until interrupted.
 *
 * A lost connection does not end the sessions (docs/PROTOCOL.md section 6): the client says
 * on standard error that it is reconnecting, dials again (backoff from 1 s doubling to 30 s,
 * each wait drawn from half to all of it), naming its sessions (resume=SID) so that the
 * broker gives it back their link, and resumes them where they were; typed input waits (up
 * to the window) meanwhile.  After the grace period (120 s, SSM_RESUME_GRACE) it gives up.
 * SSM_KEEPALIVE=PING:DEAD (seconds) shortens the keepalive (tests).
 *
 * The process exits with the session's status (128 + signal when the session was killed by
 * one); an error is one line on standard error and status 255. */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "ca.h"
#include "client.h"
#include "enroll.h"
#include "link.h"
#include "lwsglue.h"
#include "wsdial.h"
#include "log.h"
#include "mux.h"
#include "util.h"

#define CLIENT_SOFTWARE "ssm " PACKAGE_VERSION
#define RAW_PROTOCOL "ssm-client-raw"
#define WINDOW (1024u * 1024)
#define TICK_US (100 * 1000)
#define EXIT_ERROR 255
#define CONNS_MAX 256
#define FIRST_SESSION_FRESH_MS 50000 /* StartSession's attach secret lasts 60 s */
#define RESUME_SIDS_MAX 32 /* session ids named when reconnecting (brokerd/serve.c) */

/* one stream: standard input/output, or one accepted TCP connection */
struct cs {
	uint32_t ch;
	char sid[SSM_FRAME_SID_MAX + 1];
	char *secret;
	int in_fd, out_fd;          /* the same socket for a connection */
	int is_conn;
	struct lws *wsi_in, *wsi_out; /* for a connection: one wsi (wsi_out NULL) */
	int accepted, in_eof, in_eof_sent, out_eof_done, have_exit, ended;
	struct ssm_frame exit_frame;
	char exit_detail[SSM_FRAME_REASON_MAX + 1];
	lws_sorted_usec_list_t rearm; /* POLLOUT asked again after a writeable callback */
	struct cs *next;
};
/* inside LWS_CALLBACK_RAW_WRITEABLE_FILE: libwebsockets 4.1 clears POLLOUT after the callback
 * returns (roles/raw-file), so lws_callback_on_writable() from inside it is lost */
static int in_raw_wcb;

static const struct ssm_stream_args *A;
static struct lws_context *ctx;
static struct lws *wsi_listen;
static struct ssm_wsd *wsd; /* the connection to the broker (lib/wsdial.c) */
static struct ssm_link link_;
static struct ssm_mux *mux;
static char host[SSM_ENROLL_HOST_MAX + 1], path[256];
static int port, connected, done, exit_code = EXIT_ERROR;
static int use_tty, listen_fd = -1, first_used;
static int64_t started_ms;
static struct cs *streams;
static struct termios saved_tio;
static int tio_saved, in_flags = -1, out_flags = -1;
static volatile sig_atomic_t winch, stop_sig;
static lws_sorted_usec_list_t tick_sul;
/* reconnecting (PROTOCOL.md section 6) */
static int ever_up, reconnecting;
static int64_t backoff_ms = SSM_BACKOFF_MIN_MS, next_connect_ms, grace_ms, ping_after_ms,
	dead_after_ms;
static char conn_path[256 + RESUME_SIDS_MAX * (8 + SSM_FRAME_SID_MAX)];

static void restore(void)
{
	if (tio_saved) {
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tio);
		tio_saved = 0;
	}
	if (in_flags >= 0) {
		(void)fcntl(STDIN_FILENO, F_SETFL, in_flags);
		in_flags = -1;
	}
	if (out_flags >= 0) {
		(void)fcntl(STDOUT_FILENO, F_SETFL, out_flags);
		out_flags = -1;
	}
}

static void fail(const char *fmt, ...) SSM_PRINTF(1, 2);
static void fail(const char *fmt, ...)
{
	va_list ap;

	restore();
	if (done)
		return;
	fputs("ssm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit_code = EXIT_ERROR;
	done = 1;
}

/* a connection's problem: one line, the listener goes on */
static void warn_(const char *fmt, ...) SSM_PRINTF(1, 2);
static void warn_(const char *fmt, ...)
{
	va_list ap;

	fputs("ssm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* one line on standard error while the session goes on (raw terminal: \r\n) */
static void note(const char *fmt, ...) SSM_PRINTF(1, 2);
static void note(const char *fmt, ...)
{
	va_list ap;

	fputs(tio_saved ? "\r\nssm: " : "ssm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(tio_saved ? "\r\n" : "\n", stderr);
}

static void want_write(void)
{
	if (connected && wsd)
		ssm_wsd_want_write(wsd);
}

static struct lws *adopt(int fd, void *user)
{
	return ssm_lws_watch_fd(lws_get_vhost_by_name(ctx, "ssm"), RAW_PROTOCOL, fd, user);
}

static void unwatch(struct lws **pw)
{
	ssm_lws_unwatch(pw);
}

static void free_cs(struct cs *c)
{
	struct cs **pp;

	lws_sul_cancel(&c->rearm);
	unwatch(&c->wsi_in);
	unwatch(&c->wsi_out);
	if (c->is_conn && c->in_fd >= 0)
		close(c->in_fd);
	if (c->secret) {
		OPENSSL_cleanse(c->secret, strlen(c->secret));
		free(c->secret);
	}
	for (pp = &streams; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	free(c);
}

static void send_resize(void)
{
	struct winsize ws;

	if (use_tty && streams && streams->accepted && streams->ch &&
	    ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row)
		(void)ssm_mux_resize(mux, streams->ch, ws.ws_col > 4096 ? 4096 : ws.ws_col,
				     ws.ws_row > 4096 ? 4096 : ws.ws_row);
}

static int open_channel(struct cs *c)
{
	struct ssm_frame o;
	struct winsize ws;
	const char *term = getenv("TERM");

	memset(&o, 0, sizeof(o));
	o.u.open.kind = SSM_KIND_SESSION;
	o.u.open.sid = ssm_frame_str(c->sid);
	o.u.open.document = ssm_frame_str(A->document);
	o.u.open.token = ssm_frame_str(c->secret);
	if (use_tty && !c->is_conn) {
		if (term == NULL || term[0] == '\0' || strlen(term) > SSM_FRAME_TERM_MAX ||
		    strspn(term, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-") !=
			    strlen(term))
			term = "xterm";
		if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) {
			ws.ws_col = 80;
			ws.ws_row = 24;
		}
		o.u.open.term = ssm_frame_str(term);
		o.u.open.cols = ws.ws_col > 4096 ? 4096 : ws.ws_col;
		o.u.open.rows = ws.ws_row > 4096 ? 4096 : ws.ws_row;
	}
	c->ch = ssm_mux_open(mux, &o, WINDOW, c);
	/* the secret is used once: the broker keeps only its hash */
	OPENSSL_cleanse(c->secret, strlen(c->secret));
	want_write();
	return c->ch ? 0 : -1;
}

/* 0, or -1 if c was freed (a connection that cannot be watched) */
static int on_accept(struct cs *c)
{
	int fl;

	c->accepted = 1;
	if (c->is_conn) {
		c->wsi_in = adopt(c->in_fd, c);
		if (c->wsi_in == NULL) {
			warn_("session %s: cannot watch its connection", c->sid);
			(void)ssm_mux_close(mux, c->ch, 0, SSM_CODE_INTERNAL, "client error");
			c->ch = 0;
			free_cs(c);
			return -1;
		}
		return 0;
	}
	if (use_tty) {
		struct termios t;
		if (tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
			t = saved_tio;
			cfmakeraw(&t);
			if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == 0)
				tio_saved = 1;
		}
	}
	fl = fcntl(STDIN_FILENO, F_GETFL);
	if (fl >= 0 && fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK) == 0)
		in_flags = fl;
	fl = fcntl(STDOUT_FILENO, F_GETFL);
	if (fl >= 0 && fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) == 0)
		out_flags = fl;
	c->wsi_in = adopt(STDIN_FILENO, c);
	c->wsi_out = adopt(STDOUT_FILENO, c);
	if (c->wsi_in == NULL || c->wsi_out == NULL) {
		fail("cannot watch standard input and output");
		return 0;
	}
	lws_rx_flow_control(c->wsi_out, 0); /* only its writability matters */
	return 0;
}

/* The session ended (EXIT, everything before it written out). */
static void stream_done(struct cs *c)
{
	int code;

	code = c->exit_frame.u.exit.how == SSM_EXIT_EXITED     ? c->exit_frame.u.exit.status
	       : c->exit_frame.u.exit.how == SSM_EXIT_SIGNALED ? 128 + c->exit_frame.u.exit.status
							       : EXIT_ERROR;
	if (c->ch)
		(void)ssm_mux_close(mux, c->ch, 0, SSM_CODE_OK, "");
	c->ch = 0;
	want_write();
	if (c->is_conn) {
		free_cs(c);
		return;
	}
	if (c->exit_detail[0] && !use_tty)
		fprintf(stderr, "ssm: %s\n", c->exit_detail);
	restore();
	if (use_tty)
		fprintf(stderr, "\r\nExiting session with sessionId: %s.\r\n", c->sid);
	exit_code = code;
	done = 1;
}

static void rearm_out(lws_sorted_usec_list_t *sul)
{
	struct cs *c = lws_container_of(sul, struct cs, rearm);
	struct lws *ww = c->is_conn ? c->wsi_in : c->wsi_out;

	if (ww)
		lws_callback_on_writable(ww);
}

/* stream 0 to standard output or the connection */
static void pump_out(struct cs *c)
{
	const uint8_t *p;
	size_t n;
	ssize_t w;

	while (c->ch && (p = ssm_mux_read_peek(mux, c->ch, 0, &n)) != NULL && n > 0) {
		w = c->is_conn ? send(c->out_fd, p, n, MSG_NOSIGNAL) : write(c->out_fd, p, n);
		if (w > 0) {
			ssm_mux_read_consume(mux, c->ch, 0, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct lws *ww = c->is_conn ? c->wsi_in : c->wsi_out;
			if (ww && in_raw_wcb)
				lws_sul_schedule(ctx, 0, &c->rearm, rearm_out, 1);
			else if (ww)
				lws_callback_on_writable(ww);
			return;
		}
		if (c->is_conn) {
			/* the local peer went away: end this connection's session */
			(void)ssm_mux_close(mux, c->ch, 0, SSM_CODE_OK, "connection closed");
			c->ch = 0;
			free_cs(c);
			return;
		}
		fail("cannot write to standard output: %s", strerror(errno));
		return;
	}
	if (c->ch && c->is_conn && !c->out_eof_done && ssm_mux_read_eof(mux, c->ch, 0)) {
		c->out_eof_done = 1;
		(void)shutdown(c->out_fd, SHUT_WR);
	}
	if (c->have_exit && c->ch && ssm_mux_readable(mux, c->ch, 0) == 0) {
		stream_done(c);
		return;
	}
	want_write();
}

/* standard input or the connection to stream 0 */
static void pump_in(struct cs *c)
{
	uint8_t buf[16384];

	while (c->ch && c->accepted && !c->in_eof) {
		size_t room = ssm_mux_write_room(mux, c->ch, 0);
		ssize_t n;

		if (room == 0)
			break;
		n = read(c->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
		if (n > 0) {
			(void)ssm_mux_write(mux, c->ch, 0, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		c->in_eof = 1;
	}
	if (c->in_eof && !c->is_conn)
		unwatch(&c->wsi_in);
	if (c->in_eof && !c->in_eof_sent && c->ch && ssm_mux_write_eof(mux, c->ch, 0) == 0)
		c->in_eof_sent = 1;
	if (c->wsi_in)
		lws_rx_flow_control(c->wsi_in,
				    c->ch && !c->in_eof && ssm_mux_write_room(mux, c->ch, 0) > 0);
	want_write();
}

static void on_mux(void *unused, const struct ssm_mux_ev *ev)
{
	struct cs *c = ev->user;

	(void)unused;
	if (c == NULL || ev->stream != 0)
		return;
	switch (ev->type) {
	case SSM_MUX_EV_ACCEPT:
		if (on_accept(c) < 0)
			break; /* c is gone */
		if (!done) {
			pump_in(c);
			pump_out(c);
		}
		break;
	case SSM_MUX_EV_READABLE:
	case SSM_MUX_EV_EOF:
		pump_out(c);
		break;
	case SSM_MUX_EV_WRITABLE:
		pump_in(c);
		break;
	case SSM_MUX_EV_EXIT:
		c->exit_frame = *ev->f;
		snprintf(c->exit_detail, sizeof(c->exit_detail), "%.*s",
			 (int)ev->f->u.exit.detail.len, ev->f->u.exit.detail.p);
		c->have_exit = 1;
		pump_out(c);
		break;
	case SSM_MUX_EV_CLOSED:
		c->ch = 0;
		if (c->is_conn) {
			warn_("session %s: %s%s%s", c->sid, ssm_frame_code_name(ev->code),
			      ev->reason && ev->reason[0] ? ": " : "", ev->reason ? ev->reason : "");
			free_cs(c);
		} else {
			fail("session %s: %s%s%s", c->sid, ssm_frame_code_name(ev->code),
			     ev->reason && ev->reason[0] ? ": " : "", ev->reason ? ev->reason : "");
		}
		break;
	default:
		break;
	}
	want_write();
}

static struct cs *new_cs(const char *sid, const char *secret)
{
	struct cs *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	snprintf(c->sid, sizeof(c->sid), "%s", sid);
	c->secret = strdup(secret);
	if (c->secret == NULL) {
		free(c);
		return NULL;
	}
	c->in_fd = c->out_fd = -1;
	c->next = streams;
	streams = c;
	return c;
}

static size_t count_conns(void)
{
	size_t n = 0;
	struct cs *c;

	for (c = streams; c; c = c->next)
		n++;
	return n;
}

/* A local connection: a session of its own (the first StartSession's while it is fresh). */
static void on_connection(void)
{
	char *sid = NULL, *secret = NULL;
	struct cs *c;
	int fd;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (count_conns() >= CONNS_MAX || link_.state != SSM_LINK_UP) {
			warn_("connection refused: %s", link_.state != SSM_LINK_UP
								 ? "the broker link is down"
								 : "too many connections");
			close(fd);
			continue;
		}
		if (!first_used && ssm_mono_ms() - started_ms < FIRST_SESSION_FRESH_MS) {
			first_used = 1;
			c = new_cs(A->session_id, A->token_value);
		} else {
			first_used = 1;
			if (A->new_session == NULL ||
			    A->new_session(A->new_session_ctx, &sid, &secret) != 0) {
				close(fd);
				continue; /* new_session said why */
			}
			c = new_cs(sid, secret);
			OPENSSL_cleanse(secret, strlen(secret));
			free(secret);
			free(sid);
		}
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->is_conn = 1;
		c->in_fd = c->out_fd = fd;
		if (open_channel(c) < 0) {
			warn_("cannot open a channel for a connection");
			free_cs(c);
		}
	}
}

static int start_listener(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1;

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -1;
	(void)setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)A->local_port);
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(listen_fd, 64) != 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&sa, &sl) != 0) {
		fail("cannot listen on 127.0.0.1:%ld: %s", A->local_port, strerror(errno));
		return -1;
	}
	wsi_listen = adopt(listen_fd, NULL);
	if (wsi_listen == NULL) {
		fail("cannot watch the listening socket");
		return -1;
	}
	fprintf(stderr, "Port %u opened for sessionId %s.\nWaiting for connections...\n",
		ntohs(sa.sin_port), A->session_id);
	return 0;
}

/* The link is up: the stream of standard input/output, or the listener. */
static void on_link_up(void)
{
	struct cs *c;

	if (A->local_port >= 0) {
		if (listen_fd < 0)
			(void)start_listener();
		return;
	}
	c = new_cs(A->session_id, A->token_value);
	if (c == NULL) {
		fail("out of memory");
		return;
	}
	c->in_fd = STDIN_FILENO;
	c->out_fd = STDOUT_FILENO;
	if (open_channel(c) < 0)
		fail("cannot open the session channel");
}

static void schedule_reconnect(uint64_t hint_ms);
static void on_open(void *arg);
static int on_event(void *arg, int ev);
static void on_close(void *arg, int was_open, const char *why);

/* Dial the broker; once a link was up, with resume=SID for the sessions to resume. */
static void connect_now(void)
{
	struct ssm_wsd_cfg dc;
	char err[1100];
	size_t n, k = 0;
	struct cs *c;

	n = (size_t)snprintf(conn_path, sizeof(conn_path), "%s", path);
	for (c = streams; c && ever_up && k < RESUME_SIDS_MAX; c = c->next) {
		/* only ids that need no escaping in a query (USER-[a-z0-9]...) */
		if (!c->ch || strspn(c->sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789_.@-") != strlen(c->sid))
			continue;
		n += (size_t)snprintf(conn_path + n, sizeof(conn_path) - n, "%cresume=%s",
				      k ? '&' : strchr(path, '?') ? '&' : '?', c->sid);
		k++;
		if (n >= sizeof(conn_path))
			return; /* cannot happen: sized for RESUME_SIDS_MAX */
	}
	memset(&dc, 0, sizeof(dc));
	dc.ctx = ctx;
	dc.vh = lws_get_vhost_by_name(ctx, "ssm");
	dc.host = host;
	dc.port = port;
	dc.path = conn_path;
	dc.ca_file = A->ca_file;
	dc.bearer = A->bearer;
	dc.timeout_s = 10;
	dc.link = &link_;
	dc.mux = mux;
	dc.on_open = on_open;
	dc.on_event = on_event;
	dc.on_close = on_close;
	next_connect_ms = 0;
	wsd = ssm_wsd_dial(&dc, err, sizeof(err));
	if (wsd == NULL && !done) {
		if (ever_up) {
			note("cannot reconnect to the broker yet: %s", err);
			schedule_reconnect(0);
		} else {
			fail("cannot reach the broker: %s", err);
		}
	}
}

/* The next attempt: uniformly from half to all of the backoff, which then doubles up to
 * 30 s; at least hint_ms (a GOAWAY's retry hint). */
static void schedule_reconnect(uint64_t hint_ms)
{
	next_connect_ms = ssm_mono_ms() + ssm_backoff_next(&backoff_ms, hint_ms);
}

/* The connection ended after a link was up: the sessions wait for the next one. */
static void link_lost(const char *why, uint64_t hint_ms)
{
	ssm_mux_link_down(mux, ssm_mono_ms());
	if (!reconnecting)
		note("the connection to the broker was lost (%s); reconnecting (the session waits "
		     "up to %lld s)",
		     why, (long long)(grace_ms / 1000));
	reconnecting = 1;
	schedule_reconnect(hint_ms);
}

/* the websocket is open: the link starts with its HELLO */
static void on_open(void *arg)
{
	(void)arg;
	connected = 1;
	ssm_link_init(&link_, SSM_ROLE_CLIENT, CLIENT_SOFTWARE, ping_after_ms, dead_after_ms,
		      ssm_mono_ms());
	ssm_mux_attach(mux, &link_);
}

static int on_event(void *arg, int ev)
{
	(void)arg;
	if (ev == SSM_LINK_EV_UP) {
		backoff_ms = SSM_BACKOFF_MIN_MS;
		if (!ever_up) {
			ever_up = 1;
			on_link_up();
		} else if (reconnecting) {
			note("reconnected to the broker: %zu sessions resumed", ssm_mux_channels(mux));
			reconnecting = 0;
		}
	} else if (ev == SSM_LINK_EV_GOAWAY) {
		if (ever_up && link_.peer_goaway_code == SSM_CODE_SHUTDOWN)
			return -1; /* a restart: reconnect (on_close) */
		fail("the broker ended the connection: %s", link_.peer_goaway_reason);
		return -1;
	} else if (ev == SSM_LINK_EV_ERROR) {
		fail("protocol error from the broker: %s", link_.error);
	}
	return 0;
}

static void on_close(void *arg, int was_open, const char *why)
{
	(void)arg;
	connected = 0;
	wsd = NULL;
	if (done)
		return;
	if (!was_open) {
		if (ever_up) {
			note("cannot reconnect to the broker yet: %s", why);
			schedule_reconnect(0);
			return;
		}
		fail("cannot reach the broker: %s", why);
		return;
	}
	if (!ever_up || link_.state == SSM_LINK_CLOSING) {
		if (!ever_up || link_.peer_goaway_code != SSM_CODE_SHUTDOWN || link_.error[0]) {
			fail("the connection to the broker was lost: %s",
			     link_.error[0] ? link_.error : why);
			return;
		}
	}
	link_lost(link_.peer_goaway_reason[0] ? link_.peer_goaway_reason
		  : link_.error[0]		   ? link_.error
						   : why,
		  link_.state == SSM_LINK_CLOSING ? link_.peer_goaway_retry_ms : 0);
}

static int cb_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	struct cs *c = lws_get_opaque_user_data(wsi);

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == wsi_listen)
			on_connection();
		else if (c && wsi == c->wsi_in)
			pump_in(c);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (c && (wsi == c->wsi_out || (c->is_conn && wsi == c->wsi_in))) {
			in_raw_wcb = 1;
			pump_out(c);
			in_raw_wcb = 0;
		}
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == wsi_listen) {
			wsi_listen = NULL;
		} else if (c && wsi == c->wsi_in) {
			c->wsi_in = NULL;
			if (c->is_conn) {
				c->in_eof = 1; /* hang-up: nothing more to read */
				pump_in(c);
			} else {
				pump_in(c); /* read what is left, then EOF */
			}
		} else if (c && wsi == c->wsi_out) {
			c->wsi_out = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	SSM_WSD_PROTOCOL_ENTRY,
	{ RAW_PROTOCOL, cb_raw, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = ssm_mono_ms();
	struct cs *c, *next;

	(void)sul;
	if (stop_sig && !done) {
		for (c = streams; c; c = next) {
			next = c->next;
			if (c->ch)
				(void)ssm_mux_close(mux, c->ch, 0, SSM_CODE_SHUTDOWN,
						    "the client was stopped");
			c->ch = 0;
		}
		if (A->local_port >= 0) {
			/* ending a port forward with ^C is its normal end */
			restore();
			exit_code = 0;
			done = 1;
		} else {
			fail("stopped by a signal");
		}
	}
	if (winch) {
		winch = 0;
		send_resize();
	}
	if (connected && wsd) {
		ssm_mux_tick(mux); /* acknowledgements that waited for the tick */
		if (ssm_link_tick(&link_, now) == SSM_LINK_EV_DEAD) {
			/* CLIENT_CLOSED follows: the sessions wait, the client reconnects */
			ssm_wsd_close(wsd, link_.error);
		} else if (link_.q_n || ssm_mux_tx_pending(mux)) {
			ssm_wsd_want_write(wsd);
		}
	} else if (!done && ever_up && wsd == NULL && next_connect_ms && now >= next_connect_ms) {
		connect_now();
	}
	if (!done && ever_up && ssm_mux_channels(mux) > 0 && ssm_mux_down_ms(mux, now) >= grace_ms)
		fail("the connection to the broker was not restored within %lld s: the session is "
		     "lost",
		     (long long)(grace_ms / 1000));
	for (c = streams; c && !done; c = next) {
		next = c->next;
		if (c->ch && c->accepted) {
			pump_in(c);
			if (c->ch)
				pump_out(c);
		}
	}
	lws_sul_schedule(ctx, 0, &tick_sul, tick, TICK_US);
}

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

static void on_stop(int sig)
{
	(void)sig;
	stop_sig = 1;
}

static void lws_log_emit(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "ssm: lws: %s", line);
}

/* wss://HOST[:PORT]/PATH */
static int parse_url(const char *url)
{
	char https[sizeof(host) + 300];
	const char *slash;

	if (strncmp(url, "wss://", 6) != 0)
		return -1;
	slash = strchr(url + 6, '/');
	if (slash == NULL || strlen(slash) >= sizeof(path) ||
	    (size_t)(slash - url) + 2 > sizeof(https))
		return -1;
	snprintf(https, sizeof(https), "https://%.*s", (int)(slash - (url + 6)), url + 6);
	if (ssm_enroll_url_parse(https, host, sizeof(host), &port) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s", slash);
	return 0;
}

int ssm_stream_run(const struct ssm_stream_args *a)
{
	struct lws_context_creation_info info;
	struct sigaction sa;
	const char *env;

	A = a;
	started_ms = ssm_mono_ms();
	if (parse_url(a->stream_url) < 0) {
		fprintf(stderr, "ssm: the broker returned a bad StreamUrl: %.200s\n", a->stream_url);
		return EXIT_ERROR;
	}
	if (strlen(a->bearer) > 120) {
		fprintf(stderr, "ssm: the cached credential is malformed (ssm login)\n");
		return EXIT_ERROR;
	}
	use_tty = a->local_port < 0 &&
		  (strcmp(a->session_type, "Standard_Stream") == 0 ||
		   strcmp(a->session_type, "InteractiveCommands") == 0) &&
		  isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (ssm_mux_new(&mux, SSM_ROLE_CLIENT, SSM_ROLE_BROKER, on_mux, NULL) < 0) {
		fprintf(stderr, "ssm: out of memory\n");
		return EXIT_ERROR;
	}
	lws_set_log_level(LLL_ERR, lws_log_emit);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* the broker is dialled by lib/wsdial.c with its own TLS; this client context is never
	 * used to connect: it only loads the CA file once, so that an unusable one fails now */
	info.client_ssl_ca_filepath = a->ca_file;
	info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_RENEGOTIATION;
	info.alpn = "http/1.1";
	info.timeout_secs = 10;
	info.vhost_name = "ssm";
	ctx = lws_create_context(&info);
	if (ctx == NULL) {
		fprintf(stderr, "ssm: cannot set up TLS with %s\n", a->ca_file);
		ssm_mux_free(mux);
		return EXIT_ERROR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(restore);

	grace_ms = SSM_FRAME_RESUME_GRACE * 1000;
	if ((env = getenv("SSM_RESUME_GRACE")) != NULL && env[0]) {
		char *end;
		long g = strtol(env, &end, 10);
		if (*end == '\0' && g >= 1 && g <= 86400)
			grace_ms = g * 1000;
	}
	if ((env = getenv("SSM_KEEPALIVE")) != NULL && env[0]) {
		char *end;
		long p = strtol(env, &end, 10), d;
		if (*end == ':' && p >= 1) {
			d = strtol(end + 1, &end, 10);
			if (*end == '\0' && d > p && d <= 3600) {
				ping_after_ms = p * 1000;
				dead_after_ms = d * 1000;
			}
		}
	}
	connect_now();
	lws_sul_schedule(ctx, 0, &tick_sul, tick, TICK_US);
	while (!done) {
		if (lws_service(ctx, 0) < 0)
			break;
	}
	/* let the CLOSEs out */
	{
		int i;
		for (i = 0; i < 20 && connected && (link_.q_n || ssm_mux_tx_pending(mux)); i++) {
			ssm_wsd_want_write(wsd);
			lws_service(ctx, 0);
		}
	}
	restore();
	while (streams)
		free_cs(streams);
	if (listen_fd >= 0)
		close(listen_fd);
	ssm_wsd_free(wsd);
	wsd = NULL;
	lws_context_destroy(ctx);
	ssm_mux_free(mux);
	return exit_code;
}
