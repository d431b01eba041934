/* relay.c - the recorder's event loop: client <-> session, recorded.
 *
 * Runs unprivileged (as the recorder user) after the fork.  One ppoll() on explicit
 * CLOCK_MONOTONIC deadlines (idle warning, idle timeout, maximum duration, transcript
 * flush); signals arrive through a signalfd.  Output is recorded before the next read:
 * passed on first (then encoded while the client reads it) when the transcript has room
 * reserved for it (ssm_rec_reserve), recorded first otherwise and passed on only once it was
 * written or its room reserved (ssm_rec_secure).  So nothing reaches the client that the
 * transcript does not hold, whatever fills the disk, a quota or the file size limit; an I/O
 * error is the exception asciicast.h describes. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "log.h"
#include "shell.h"

#define BUFSZ (64 * 1024)
#define NS 1000000000ULL
/* transcript_backlog_max: the broker taking nothing for this long while the output waits on
 * it lets the output go on, and the limit end the session */
#define BACKLOG_STALL_NS (5 * NS)

uint64_t shell_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* Milliseconds from now until the deadline next (rounded up), -1 for none. */
int shell_timeout_ms(uint64_t now, uint64_t next)
{
	uint64_t ms;

	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	ms = (next - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* one direction of bytes: src -> buffer -> dst */
struct chan {
	int src, dst;
	char *buf;
	size_t len, off;
	int src_eof;
	int output; /* recorded as output */
};

struct relay {
	struct shell *sh;
	struct chan in, out, err;
	int sfd;
	struct termios saved;
	int saved_ok;
	int fl0, fl1, fl2;
	uint64_t idle_ns, warn_ns, max_ns;
	uint64_t last_input, deadline_max;
	int warned;
	int recording; /* 0 after stop_recording */
	uint64_t backlog_next; /* when to compare the transcript with what the broker holds */
	uint64_t held;         /* the transcript's bytes the broker holds, as last read */
	uint64_t held_mark;    /* held when it last made progress (an eighth of the limit) */
	uint64_t held_at;      /* when that was */
	uint64_t paused_at;
	int paused;            /* the session's output is not read: the backlog is at half the
	                        * limit (the broker acknowledges slower than the session prints) */
	int stalled;           /* the broker took nothing for BACKLOG_STALL_NS while paused */
	struct shell_end *end;
	int done;
	int init_reaped;
	int sigchld;
};

static void set_end(struct relay *r, const char *reason, const char *error)
{
	if (r->done)
		return;
	r->done = 1;
	r->end->reason = reason;
	r->end->error = error;
}

static void set_nonblock(int fd, int *psaved)
{
	int fl = fcntl(fd, F_GETFL);

	if (psaved)
		*psaved = fl;
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* What any recording call returned (output, input, resize): 0 to go on (with the bytes,
 * or unrecorded after stop_recording), -1 when the session must end (the bytes that
 * crossed the cap or failed are then not passed on).  The cap is applied here for every
 * kind of event: audited once, then the configured action. */
static int recorded(struct relay *r, int rc)
{
	struct shell *sh = r->sh;
	cJSON *extra;

	if (rc == 0)
		return 0;
	if (rc < 0) {
		set_end(r, "error", "transcript write failed");
		ssm_log(LOG_ERR, "transcript write failed: %s: ending the session", strerror(-rc));
		return -1;
	}
	/* SSM_REC_LIMIT_REACHED */
	extra = cJSON_CreateObject();
	if (extra) {
		cJSON_AddNumberToObject(extra, "transcript_max_bytes",
		                        (double)sh->cfg->transcript_max_bytes);
		cJSON_AddStringToObject(extra, "action",
		                        sh->cfg->transcript_limit_action == SSM_LIMIT_STOP_RECORDING
		                            ? "stop_recording"
		                            : "end");
	}
	(void)shell_audit(sh, "transcript_limit", extra);
	cJSON_Delete(extra);
	if (sh->cfg->transcript_limit_action == SSM_LIMIT_STOP_RECORDING) {
		r->recording = 0;
		/* nothing more to wait for: the output goes on, unrecorded, and the backlog is
		 * no longer checked */
		r->paused = 0;
		r->backlog_next = UINT64_MAX;
		return 0;
	}
	set_end(r, "error", "transcript size limit reached");
	return -1;
}

/* Record a chunk of output; 0 to forward it, -1 when the session must end. */
static int record(struct relay *r, const char *buf, size_t len)
{
	if (!r->recording)
		return 0;
	return recorded(r, ssm_rec_output(r->sh->recorder_rec, shell_mono_ns(), buf, len));
}

/* Everything recorded so far is in the transcript or has room reserved there; 0, or -1
 * when the session must end (the bytes recorded last are then not passed on). */
static int secure(struct relay *r)
{
	int rc = ssm_rec_secure(r->sh->recorder_rec);

	if (rc == 0)
		return 0;
	set_end(r, "error", "transcript write failed");
	ssm_log(LOG_ERR, "transcript write failed: %s: ending the session", strerror(-rc));
	return -1;
}

/* Write what we can of c's buffer to its destination. */
static int chan_flush(struct relay *r, struct chan *c)
{
	ssize_t n;

	while (c->off < c->len) {
		n = write(c->dst, c->buf + c->off, c->len - c->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->off += (size_t)n;
	}
	c->off = c->len = 0;
	return 0;
}

/* Read one chunk from c's source into its (empty) buffer. */
static int chan_fill(struct relay *r, struct chan *c)
{
	ssize_t n;

	n = read(c->src, c->buf, BUFSZ);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		c->src_eof = 1; /* EIO: the pty's last slave is gone */
		return 0;
	}
	if (n == 0) {
		c->src_eof = 1;
		return 0;
	}
	c->len = (size_t)n;
	c->off = 0;
	/* Output: gather what else is waiting, up to the buffer.  A pty's read returns at most
	 * its line discipline's 4 KiB; a read when that is empty pulls in what the writer has
	 * queued since, so a fast writer's output leaves in one write, one recording and one
	 * wake-up of the reader instead of sixteen.  Anything but more bytes ends the
	 * gathering; an EOF or error comes back at the next read. */
	while (c->output && c->len < BUFSZ) {
		n = read(c->src, c->buf + c->len, BUFSZ - c->len);
		if (n <= 0)
			break;
		c->len += (size_t)n;
	}
	if (!c->output || !r->recording)
		return 0;
	if (ssm_rec_reserve(r->sh->recorder_rec, c->len) == 0) {
		/* The transcript has room reserved for this chunk (the file sink fallocates
		 * ahead in large steps) and no cap within reach: pass it on first and encode
		 * and hash it while the client reads it, which keeps the recording work off the
		 * path of the bytes.  It is recorded before the next read, into the reserved
		 * room, where nothing recorded later can take its place: a full disk, a quota
		 * or RLIMIT_FSIZE cannot make the write of these bytes fail.  A write error to
		 * the client is left to chan_flush. */
		do {
			n = write(c->dst, c->buf, c->len);
		} while (n < 0 && errno == EINTR);
		if (n > 0)
			c->off = (size_t)n;
		if (record(r, c->buf, c->len) < 0) {
			c->len = c->off = 0; /* the session ends: nothing more goes out */
			return -1;
		}
		if (c->off == c->len)
			c->off = c->len = 0;
		return 0;
	}
	/* No room reserved (the disk or quota almost full, the file size limit near, a file
	 * system without fallocate) or the size cap within reach: record first, make sure
	 * the transcript has the bytes (reserved at their exact size, or written now), and
	 * only then let chan_flush pass them on. */
	if (record(r, c->buf, c->len) < 0 || (r->recording && secure(r) < 0)) {
		c->len = 0; /* not recorded: not forwarded */
		return -1;
	}
	return 0;
}

/* Add c's source (buffer empty) or destination (bytes pending) to the poll set.  Returns
 * the index of the source entry or -1; *pidx_write (if not NULL) gets the other. */
static int chan_poll(const struct chan *c, struct pollfd *pfd, int *nfd, int *pidx_write)
{
	int idx = -1;

	if (pidx_write)
		*pidx_write = -1;
	if (!c->src_eof && c->len == 0) {
		pfd[*nfd].fd = c->src;
		pfd[*nfd].events = POLLIN;
		idx = (*nfd)++;
	} else if (c->len > 0) {
		pfd[*nfd].fd = c->dst;
		pfd[*nfd].events = POLLOUT;
		if (pidx_write)
			*pidx_write = *nfd;
		(*nfd)++;
	}
	return idx;
}

static void outer_raw(struct relay *r)
{
	struct termios t;

	if (!r->sh->outer_tty || !r->sh->use_pty)
		return;
	if (tcgetattr(0, &r->saved) != 0)
		return;
	r->saved_ok = 1;
	t = r->saved;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	(void)tcsetattr(0, TCSADRAIN, &t);
}

static void outer_restore(struct relay *r)
{
	if (r->saved_ok)
		(void)tcsetattr(0, TCSADRAIN, &r->saved);
	r->saved_ok = 0;
	if (r->fl0 >= 0)
		(void)fcntl(0, F_SETFL, r->fl0);
	if (r->fl1 >= 0)
		(void)fcntl(1, F_SETFL, r->fl1);
	if (r->fl2 >= 0)
		(void)fcntl(2, F_SETFL, r->fl2);
}

static void winch(struct relay *r)
{
	struct winsize ws;

	if (!r->sh->outer_tty || ioctl(0, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0)
		return;
	if (r->sh->master_fd >= 0)
		(void)ioctl(r->sh->master_fd, TIOCSWINSZ, &ws);
	if (r->recording)
		(void)recorded(r, ssm_rec_resize(r->sh->recorder_rec, shell_mono_ns(), ws.ws_col,
		                                  ws.ws_row));
}

/* A message from ssm-shell to the client (not part of the session's output). */
static void tell_client(struct relay *r, const char *msg)
{
	int fd = r->sh->outer_tty ? 1 : 2;
	size_t len = strlen(msg), off = 0;
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	while (off < len) {
		ssize_t n = write(fd, msg + off, len - off);
		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			if (poll(&p, 1, 1000) <= 0)
				return;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			return;
		}
	}
}

/* transcript_delivery "required" (SPEC section 8): compare the transcript with what the
 * broker holds (ssm-agent writes it).  Past transcript_backlog_max the session ends (reason
 * error).  So that a session printing faster than the broker acknowledges is slowed down,
 * not ended, its output waits (is not read, which holds the session's writes back) from
 * half the limit until the backlog is under a quarter; if meanwhile the broker takes nothing
 * for BACKLOG_STALL_NS, the output goes on and the limit applies (waiting for a channel in
 * the agent's queue is not taking nothing: it waits as long).  Checked once a second,
 * every 50 ms from a quarter of the limit.  -1: the session ends. */
static int backlog_check(struct relay *r, uint64_t now)
{
	uint64_t held = 0, written = ssm_rec_written(r->sh->recorder_rec), backlog;
	uint64_t lim = (uint64_t)r->sh->cfg->transcript_backlog_max;
	int queued = 0;

	/* what the broker holds durably never shrinks: a missing file (0) or an older copy
	 * does not make the backlog larger */
	if (ssm_agent_delivered_read(r->sh->cfg->run_dir, r->sh->rec->sid, &held, &queued) == 0 &&
	    held > r->held)
		r->held = held;
	/* waiting behind other transcripts for one of the broker's channels (the agent says so
	 * every second while its link is up and the queue moves): the broker is busy, not
	 * taking nothing; the output is held back again, and the wait is not a stall */
	if (queued) {
		r->held_at = now;
		r->stalled = 0;
	}
	/* progress: an eighth of the limit more, or all of it (a broker that takes a few
	 * bytes now and then is taking nothing) */
	if (r->held >= r->held_mark + lim / 8 + 1 || (r->held >= written && r->held > r->held_mark)) {
		r->held_mark = r->held;
		r->held_at = now;
		r->stalled = 0;
	}
	backlog = written > r->held ? written - r->held : 0;
	if (backlog > lim) {
		set_end(r, "error", "transcript backlog over transcript_backlog_max");
		tell_client(r, "\r\nssm-shell: the broker is not taking this session's "
		               "transcript (backlog over the host's limit): ended\r\n");
		return -1;
	}
	if (!r->paused && !r->stalled && backlog >= lim / 2) {
		r->paused = 1;
		r->paused_at = now;
	} else if (r->paused && backlog <= lim / 4) {
		r->paused = 0;
	} else if (r->paused && now - r->held_at >= BACKLOG_STALL_NS &&
	           now - r->paused_at >= BACKLOG_STALL_NS) {
		r->paused = 0;
		r->stalled = 1;
	}
	r->backlog_next = now + (r->paused || backlog >= lim / 4 ? NS / 20 : NS);
	return 0;
}

/* After output was recorded: at half the limit by what the broker held at the last check
 * (past the limit once stalled), check now: the output may have to wait, or the session
 * end. */
static void backlog_watch(struct relay *r, uint64_t now)
{
	uint64_t written, lim = (uint64_t)r->sh->cfg->transcript_backlog_max;

	if (r->backlog_next == UINT64_MAX || r->paused || !r->recording)
		return;
	written = ssm_rec_written(r->sh->recorder_rec);
	if (written > r->held && written - r->held >= (r->stalled ? lim + 1 : lim / 2))
		r->backlog_next = now;
}

static void handle_signals(struct relay *r)
{
	struct signalfd_siginfo si;

	while (read(r->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGWINCH:
			winch(r);
			break;
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			set_end(r, "terminated", NULL);
			break;
		case SIGHUP:
			set_end(r, "disconnect", NULL);
			break;
		case SIGUSR1:
			/* ssm-agent's session parent (root): the session's channel was lost, the
			 * broker link not restored within its resumption grace (PROTOCOL.md
			 * section 6); from anyone else it means nothing */
			if (si.ssi_uid == 0)
				set_end(r, "error", "the connection to the broker was lost");
			break;
		case SIGCHLD:
			r->sigchld = 1;
			break;
		default:
			break;
		}
	}
}

/* The session child's exit status, if init passed it on. */
static void read_status(struct relay *r)
{
	int32_t st;
	ssize_t n = read(r->sh->status_pipe[0], &st, sizeof(st));

	if (n != (ssize_t)sizeof(st))
		return;
	r->end->have_status = 1;
	if (WIFEXITED(st)) {
		r->end->exit_status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		r->end->signal = WTERMSIG(st);
		r->end->exit_status = 128 + WTERMSIG(st);
	} else {
		r->end->have_status = 0;
	}
}

static int check_init(struct relay *r)
{
	int st;
	pid_t p = waitpid(r->sh->init_pid, &st, WNOHANG);

	if (p == r->sh->init_pid) {
		r->init_reaped = 1;
		read_status(r);
		if (r->end->have_status)
			set_end(r, "exit", NULL);
		else
			set_end(r, "error", "session init ended unexpectedly");
		return 1;
	}
	return 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Drain what the session wrote before it ended, forwarding it (bounded in time). */
static void drain(struct relay *r, struct chan *c)
{
	uint64_t stop = shell_mono_ns() + 2 * NS;
	struct pollfd p;

	if (c->src < 0)
		return;
	for (;;) {
		if (c->len == 0 && !c->src_eof) {
			if (chan_fill(r, c) < 0)
				return;
			if (c->len == 0 && !c->src_eof) {
				/* nothing pending yet: the writer may still be dying */
				p.fd = c->src;
				p.events = POLLIN;
				if (poll(&p, 1, 50) <= 0)
					return;
				continue;
			}
		}
		if (c->len > 0) {
			if (chan_flush(r, c) < 0)
				return;
			if (c->len > 0) {
				p.fd = c->dst;
				p.events = POLLOUT;
				if (shell_mono_ns() > stop || poll(&p, 1, 200) <= 0)
					return;
			}
		}
		if (c->src_eof && c->len == 0)
			return;
		if (shell_mono_ns() > stop)
			return;
	}
}

static int setup_signals(struct relay *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -errno;
	r->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r->sfd < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	return 0;
}

int shell_relay_run(struct shell *sh, struct shell_end *end)
{
	struct relay r;
	struct pollfd pfd[6];
	int idx_sig, idx_in, idx_out, idx_err, idx_inw;
	uint64_t now, next, flush_next;
	char msg[160];
	int nfd, timeout_ms, rc;

	memset(&r, 0, sizeof(r));
	r.sh = sh;
	r.end = end;
	r.recording = 1;
	r.fl0 = r.fl1 = r.fl2 = -1;
	r.sfd = -1;
	r.in.buf = malloc(BUFSZ);
	r.out.buf = malloc(BUFSZ);
	r.err.buf = malloc(BUFSZ);
	if (!r.in.buf || !r.out.buf || !r.err.buf) {
		set_end(&r, "error", "out of memory");
		goto out;
	}
	rc = setup_signals(&r);
	if (rc < 0) {
		set_end(&r, "error", "signalfd failed");
		goto out;
	}

	if (sh->use_pty) {
		r.in.src = 0;
		r.in.dst = sh->master_fd;
		r.out.src = sh->master_fd;
		r.out.dst = 1;
		r.err.src = r.err.dst = -1;
	} else {
		r.in.src = sh->in_fd >= 0 ? 0 : -1;
		r.in.dst = sh->in_fd;
		r.out.src = sh->out_fd;
		r.out.dst = 1;
		r.err.src = sh->err_fd;
		r.err.dst = 2;
	}
	r.out.output = r.err.output = 1;
	r.in.src_eof = r.in.src < 0;
	r.err.src_eof = r.err.src < 0;
	if (r.in.src >= 0)
		set_nonblock(0, &r.fl0);
	set_nonblock(1, &r.fl1);
	if (r.err.src >= 0)
		set_nonblock(2, &r.fl2);
	if (sh->master_fd >= 0)
		set_nonblock(sh->master_fd, NULL);
	if (sh->in_fd >= 0)
		set_nonblock(sh->in_fd, NULL);
	if (sh->out_fd >= 0)
		set_nonblock(sh->out_fd, NULL);
	if (sh->err_fd >= 0)
		set_nonblock(sh->err_fd, NULL);
	set_nonblock(sh->status_pipe[0], NULL);
	outer_raw(&r);

	/* limits: idle counts time without input from the client (not for
	 * NonInteractiveCommands, which has no input) */
	now = shell_mono_ns();
	r.last_input = now;
	if (sh->doc->idle_timeout_s > 0 && sh->doc->type != SSM_SESSION_NON_INTERACTIVE_COMMANDS) {
		r.idle_ns = (uint64_t)sh->doc->idle_timeout_s * NS;
		r.warn_ns = min_u64(60 * NS, r.idle_ns / 2);
	}
	r.deadline_max = sh->doc->max_duration_s > 0
	                     ? sh->mono_start + (uint64_t)sh->doc->max_duration_s * NS
	                     : UINT64_MAX;
	flush_next = UINT64_MAX;
	/* transcript_delivery "required" on a host registered with a broker: the transcript's
	 * bytes the broker has not acknowledged (ssm-agent writes what it has) may not pass
	 * transcript_backlog_max (SPEC section 8); backlog_check */
	r.backlog_next = sh->cfg->broker_url != NULL && sh->cfg->transcript_delivery_required &&
	                         sh->cfg->transcript_backlog_max > 0 && sh->rec && sh->rec->sid
	                     ? now + NS
	                     : UINT64_MAX;
	r.held_at = now;

	while (!r.done) {
		nfd = 0;
		pfd[nfd].fd = r.sfd;
		pfd[nfd].events = POLLIN;
		idx_sig = nfd++;
		/* read a source only when its buffer is empty (back-pressure) */
		idx_in = chan_poll(&r.in, pfd, &nfd, &idx_inw);
		/* the output waits while the broker catches up with the transcript */
		idx_out = r.paused && r.out.len == 0 ? -1 : chan_poll(&r.out, pfd, &nfd, NULL);
		idx_err = r.paused && r.err.len == 0 ? -1 : chan_poll(&r.err, pfd, &nfd, NULL);

		/* the nearest deadline */
		now = shell_mono_ns();
		next = min_u64(min_u64(r.deadline_max, flush_next), r.backlog_next);
		if (r.idle_ns) {
			uint64_t idle_end = r.last_input + r.idle_ns;
			next = min_u64(next, r.warned ? idle_end : idle_end - r.warn_ns);
		}
		timeout_ms = shell_timeout_ms(now, next);
		{
			struct timespec ts, *pts = NULL;
			if (timeout_ms >= 0) {
				ts.tv_sec = timeout_ms / 1000;
				ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
				pts = &ts;
			}
			if (ppoll(pfd, (nfds_t)nfd, pts, NULL) < 0 && errno != EINTR) {
				set_end(&r, "error", "poll failed");
				break;
			}
		}

		if (pfd[idx_sig].revents)
			handle_signals(&r);
		if (r.sigchld && !r.init_reaped) {
			r.sigchld = 0;
			if (check_init(&r))
				break;
		}
		if (r.done)
			break;

		/* client -> session */
		if (idx_in >= 0 && pfd[idx_in].revents) {
			if (chan_fill(&r, &r.in) < 0)
				break;
			if (r.in.len > 0) {
				r.last_input = shell_mono_ns();
				r.warned = 0;
				/* recorded input is in the transcript (or has room there)
				 * before the session gets it */
				if (sh->cfg->record_input && r.recording &&
				    recorded(&r, ssm_rec_input(sh->recorder_rec, r.last_input,
				                               r.in.buf, r.in.len)) < 0) {
					r.in.len = 0; /* not recorded: never passed on */
					break;
				}
				if (sh->cfg->record_input && r.recording && secure(&r) < 0) {
					r.in.len = 0;
					break;
				}
			}
			if (r.in.src_eof) {
				if (sh->use_pty && sh->outer_tty) {
					set_end(&r, "disconnect", NULL);
					break;
				}
				if (sh->in_fd >= 0) {
					close(sh->in_fd); /* the session sees EOF */
					sh->in_fd = -1;
				}
			}
		}
		if (r.in.len > 0 && (idx_in >= 0 || (idx_inw >= 0 && pfd[idx_inw].revents))) {
			if (chan_flush(&r, &r.in) < 0) {
				r.in.len = 0;
				r.in.src_eof = 1;
			}
		}
		/* session -> client */
		if (idx_out >= 0 && pfd[idx_out].revents && chan_fill(&r, &r.out) < 0)
			break;
		if (idx_err >= 0 && pfd[idx_err].revents && chan_fill(&r, &r.err) < 0)
			break;
		backlog_watch(&r, shell_mono_ns());
		if (r.out.len > 0 && chan_flush(&r, &r.out) < 0) {
			set_end(&r, "disconnect", NULL);
			break;
		}
		if (r.err.len > 0 && chan_flush(&r, &r.err) < 0) {
			set_end(&r, "disconnect", NULL);
			break;
		}

		/* deadlines */
		now = shell_mono_ns();
		if (now >= r.deadline_max) {
			set_end(&r, "max_duration", NULL);
			tell_client(&r, "\r\nssm-shell: maximum session duration reached\r\n");
			break;
		}
		if (r.idle_ns) {
			uint64_t idle_end = r.last_input + r.idle_ns;
			if (now >= idle_end) {
				set_end(&r, "idle_timeout", NULL);
				tell_client(&r, "\r\nssm-shell: session idle too long: ended\r\n");
				break;
			}
			if (!r.warned && now >= idle_end - r.warn_ns) {
				r.warned = 1;
				snprintf(msg, sizeof(msg),
				         "\r\nssm-shell: session idle: it ends in %llu seconds "
				         "without input\r\n",
				         (unsigned long long)((idle_end - now + NS / 2) / NS));
				tell_client(&r, msg);
			}
		}
		if (r.recording && now >= r.backlog_next && backlog_check(&r, now) < 0)
			break;
		if (r.recording) {
			rc = ssm_rec_tick(sh->recorder_rec, now, &flush_next);
			if (rc < 0) {
				set_end(&r, "error", "transcript write failed");
				break;
			}
		} else {
			flush_next = UINT64_MAX;
		}
	}

out:
	/* end the session: EOF on init's pipe makes init exit, and with it the namespace */
	if (sh->init_pipe[1] >= 0) {
		close(sh->init_pipe[1]);
		sh->init_pipe[1] = -1;
	}
	if (!r.init_reaped) {
		int st;
		(void)kill(sh->init_pid, SIGKILL); /* same uid as us: a backstop */
		while (waitpid(sh->init_pid, &st, 0) < 0 && errno == EINTR)
			;
		r.init_reaped = 1;
	}
	/* what the session printed before it ended still reaches the client (recorded) */
	if (!end->reason || strcmp(end->reason, "error") != 0) {
		drain(&r, &r.out);
		drain(&r, &r.err);
	}
	outer_restore(&r);
	if (r.sfd >= 0)
		close(r.sfd);
	free(r.in.buf);
	free(r.out.buf);
	free(r.err.buf);
	if (!end->reason)
		end->reason = "error";
	return 0;
}
