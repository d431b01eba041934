/* deliver.c - the host's transcripts to the broker (SPEC section 8; docs/PROTOCOL.md
 * section 4, TRANSCRIPT channels).
 *
 * Every transcript ssm-shell's recorder writes (log_dir/sessions/SID.cast, root's, 0640:
 * the session user can neither read nor change it), whatever the login path (the channel,
 * sshd, login), is delivered on a TRANSCRIPT channel while it grows.  The broker's ACCEPT
 * says how many bytes it already holds durably; delivery continues from there, so an agent
 * or broker restart neither loses nor repeats a byte.  The broker acknowledges a byte only
 * once it is durable, and the file on the host is the spool: nothing is deleted here (the
 * host's logrotate or retention policy decides), so an unacknowledged byte is never lost.
 * The channel ends (EOF, then CLOSE) once the session is over (its recorder no longer
 * registered as live) and every byte was acknowledged.
 *
 * The broker takes at most SSM_FRAME_TRANSCRIPTS_MAX transcript channels per host at once.
 * When more transcripts have something to deliver, they take turns: the ones waiting queue
 * up in order, and a free channel goes to a running session's, of the user (the session
 * id's USER part) holding the fewest channels; a delivery that has caught up (every byte
 * sent and acknowledged) gives its
 * channel up at once, and one that has held it for SLICE_MS stops sending, waits for its
 * last acknowledgement and closes (CLOSE ok without EOF: the broker keeps the transcript
 * open, and a later OPEN resumes from what it holds).  A transcript given up while caught
 * up waits until it grows or its session ends, so idle sessions do not take turns for
 * nothing.  Without turns, the seventeenth busy session on a host was never delivered live,
 * and its recorder ended it at transcript_backlog_max.  While a running session's
 * transcript waits in the queue, run_dir/agent/delivered-SID says so (renewed every second
 * while the broker acknowledged transcript bytes in the last MOVED_MAX_MS, and not for one
 * whose last STUCK_TURNS turns got nothing acknowledged): its recorder holds the output
 * back meanwhile, but does not take the wait for a broker that takes nothing, which would
 * end the session at that limit.  A broker that stores nothing lets the marks lapse, and
 * the limit apply.
 *
 * The document name comes from the session_start event of the host's audit log (the
 * recorder's transcript header does not name it); "unknown" when there is none. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "agent.h"
#include "lwsglue.h"
#include "record.h"
#include "util.h"

#define MAX_OPEN SSM_FRAME_TRANSCRIPTS_MAX /* transcript channels at once (the broker's limit) */
#define SLICE_MS 1000         /* a turn, while others wait */
#define RELEASE_MAX_MS 5000   /* a turn's last acknowledgement: closed anyway after this */
#define WAIT_MAX 4096         /* transcripts queued for a channel */
#define SCAN_EVERY_MS 1000
#define CHUNK 65536
#define WATCH_MIN_BYTES 65536 /* what a growing transcript sends on at once (inotify) */
#define EMPTY_FINAL_S 30      /* an empty transcript not live is ended this much later */
#define DONE_MAX 262144       /* transcripts remembered as delivered (beyond: offered again,
			       * and the broker refuses them as complete) */
#define DONE_FILE "delivered-transcripts" /* in state_dir: what survives a restart */

struct tdel {
	char sid[SSM_FRAME_SID_MAX + 1];
	int fd;
	uint32_t ch;
	int accepted, eof_sent;
	int grew;             /* the file grew since it was last pumped (inotify) */
	uint64_t off;         /* file offset of the next byte to send */
	uint64_t published;   /* the acknowledged offset last written for ssm-shell */
	int64_t since_ms;     /* accepted at (its turn began) */
	int64_t release_ms;   /* its turn ends (0: not ending): sends nothing more, then closes */
	uint64_t turn_acked;  /* what the broker held when its turn began (ACCEPT) */
	uint64_t seen_acked;  /* the most it acknowledged in this turn */
	int fails;            /* turns before this one that got nothing acknowledged */
	struct tdel *next;
};

/* a transcript waiting for a channel (queued), or one that gave its channel up caught up
 * (parked: queued again once it grew past idle_size or its session ended).  Those of
 * running sessions are served first, in order, then the others: after a restart, a spool
 * of old transcripts does not hold a live one back. */
struct twait {
	char sid[SSM_FRAME_SID_MAX + 1];
	int queued, seen;
	int live; /* its session was running when queued: served before finished ones */
	int fails; /* its last turns in a row that got nothing acknowledged: from STUCK_TURNS
		    * on, not marked queued (the broker takes nothing of it, whatever it takes
		    * of others); one failure (a moment of disk full) is not enough */
	uint64_t idle_size; /* parked: the size it had been delivered to; UINT64_MAX: not */
	struct twait *next;
};

static struct agent_env E;
static const struct ssm_config *C;
static struct tdel *dels;
/* Delivered completely: a tree of sids (tsearch), loaded from state_dir/DONE_FILE at the
 * start and appended to as deliveries end, so that neither a scan nor a restart costs a
 * look at each of a large spool's transcripts (a host keeps them for its retention time:
 * tens of thousands).  The file keeps, at each start, only those still in the spool. */
static void *done_root;
static size_t ndone;
static int state_fd = -1, done_fd = -1;
static struct twait *waits; /* queued in order, and parked */
static void *wait_root;     /* the same, by sid (tsearch) */
static int nwaits;
static int64_t last_scan;
static cJSON *docs;            /* sid -> document, from audit session_start events */
static off_t audit_off;
static ino_t audit_ino;
/* log_dir/sessions watched (inotify): a transcript that grows is sent on at once, where
 * the tick alone would leave up to a quarter of a second of a busy session's output behind
 * (and ssm-shell's transcript_backlog_max compares with what is delivered) */
static int ino_fd = -1, ino_wd = -1;
static struct lws *ino_wsi;
static int link_is_up; /* as at the last tick */
/* when the broker last acknowledged transcript bytes: queued marks are set and renewed only
 * while it does, so a broker that stores nothing (closes every channel with an error, or
 * accepts and never acknowledges) lets the waiting sessions' stall rule apply again */
static int64_t moved_ms;
#define MOVED_MAX_MS 5000
#define STUCK_TURNS 2

/* both trees: a struct twait starts with its sid */
_Static_assert(offsetof(struct twait, sid) == 0, "struct twait starts with its sid");
static int sid_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static int is_done(const char *sid)
{
	return tfind(sid, &done_root, sid_cmp) != NULL;
}

/* state_dir, opened once: root's, not writable by others, no symlink */
static int open_state_dir(void)
{
	char err[256];
	int fd = open(C->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && mkdir(C->state_dir, 0755) == 0)
		fd = open(C->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		E.log("%s: %s: delivered transcripts are not remembered across restarts",
		      C->state_dir, strerror(errno));
		return -1;
	}
	if (ssm_check_trusted_fd(fd, C->state_dir, err, sizeof(err)) < 0) {
		E.log("%s: delivered transcripts are not remembered across restarts", err);
		close(fd);
		return -1;
	}
	return fd;
}

static void append_done(const char *sid)
{
	char line[SSM_FRAME_SID_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", sid);

	if (done_fd < 0 || n <= 0 || (size_t)n >= sizeof(line))
		return;
	/* one write with O_APPEND; after a short one nothing more is appended (a line cut
	 * short must not run into the next) */
	if (write(done_fd, line, (size_t)n) != n) {
		E.log("cannot append to %s/" DONE_FILE ": %s: no more delivered transcripts are "
		      "remembered across restarts", C->state_dir, strerror(errno));
		close(done_fd);
		done_fd = -1;
	}
}

/* twalk has no argument for its action: the keys are gathered here */
static char **walk_keys;
static size_t walk_n, walk_cap;

static void walk_collect(const void *node, VISIT which, int depth)
{
	(void)depth;
	if ((which == postorder || which == leaf) && walk_n < walk_cap)
		walk_keys[walk_n++] = *(char *const *)node;
}

/* Forget the sids whose transcript is no longer in the spool (rotated away), and write the
 * rest to DONE_FILE afresh (a temporary file renamed over it); appends go on to the new
 * file.  At the start, and when DONE_MAX is reached (at most every 10 minutes). */
static void rewrite_done(void)
{
	char cast[SSM_FRAME_SID_MAX + 8], sess[4096];
	FILE *out = NULL;
	size_t i;
	int sdfd = -1, fd, ok = 0;

	if (state_fd < 0)
		return;
	walk_cap = ndone;
	walk_n = 0;
	walk_keys = walk_cap ? calloc(walk_cap, sizeof(*walk_keys)) : NULL;
	if (walk_cap && walk_keys == NULL)
		return;
	if (walk_cap)
		twalk(done_root, walk_collect);
	if (snprintf(sess, sizeof(sess), "%s/sessions", C->log_dir) < (int)sizeof(sess))
		sdfd = open(sess, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	(void)unlinkat(state_fd, DONE_FILE ".new", 0);
	fd = openat(state_fd, DONE_FILE ".new", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd >= 0 && (out = fdopen(fd, "w")) == NULL)
		close(fd);
	for (i = 0; i < walk_n; i++) {
		char *k = walk_keys[i];
		struct stat st;

		snprintf(cast, sizeof(cast), "%s.cast", k);
		/* forgotten only when the spool says it is gone */
		if (sdfd >= 0 && fstatat(sdfd, cast, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
		    errno == ENOENT) {
			(void)tdelete(k, &done_root, sid_cmp);
			free(k);
			ndone--;
			continue;
		}
		if (out != NULL)
			fprintf(out, "%s\n", k);
	}
	free(walk_keys);
	walk_keys = NULL;
	if (sdfd >= 0)
		close(sdfd);
	if (out != NULL) {
		ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
		ok = fclose(out) == 0 && ok;
		ok = ok && renameat(state_fd, DONE_FILE ".new", state_fd, DONE_FILE) == 0;
	}
	if (!ok) {
		E.log("cannot write %s/" DONE_FILE ": %s", C->state_dir, strerror(errno));
		(void)unlinkat(state_fd, DONE_FILE ".new", 0);
	}
	if (done_fd >= 0)
		close(done_fd);
	done_fd = openat(state_fd, DONE_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
}

/* Remember sid as delivered (persist: in DONE_FILE too). 1 if it is now, 0 if not. */
static int remember_done(const char *sid, int persist)
{
	static int64_t pruned_ms = -600000;
	char *dup;

	if (is_done(sid))
		return 1;
	if (ndone >= DONE_MAX && ssm_mono_ms() - pruned_ms >= 600000) {
		pruned_ms = ssm_mono_ms();
		rewrite_done();
	}
	if (ndone >= DONE_MAX || (dup = strdup(sid)) == NULL)
		return 0;
	if (tsearch(dup, &done_root, sid_cmp) == NULL) {
		free(dup);
		return 0;
	}
	ndone++;
	if (persist)
		append_done(sid);
	return 1;
}

/* Delivered completely: every byte acknowledged after the EOF. */
static void mark_done(const char *sid)
{
	(void)remember_done(sid, 1);
}

static int name_ok(const char *s, size_t min, size_t max, const char *extra);

/* state_dir/DONE_FILE, if present (root's, regular, not writable by others), read, then
 * written again with only those still in log_dir/sessions.  Without it (no state_dir,
 * another owner, unreadable) the agent still works: delivered transcripts are offered once
 * after a restart and the broker refuses them as complete. */
static void load_done(void)
{
	char line[SSM_FRAME_SID_MAX + 2], err[256] = "not a regular file";
	struct stat st;
	FILE *in = NULL;
	int fd, skipping = 0;

	if ((state_fd = open_state_dir()) < 0)
		return;
	fd = openat(state_fd, DONE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
			ssm_check_trusted_fd(fd, DONE_FILE, err, sizeof(err)) < 0 ||
			(in = fdopen(fd, "r")) == NULL)) {
		close(fd);
		fd = -1;
		errno = EPERM;
	}
	if (fd < 0 && errno != ENOENT) {
		/* kept as it is: not read, not replaced */
		if (errno != EPERM)
			snprintf(err, sizeof(err), "%s", strerror(errno));
		E.log("%s/" DONE_FILE ": not a file of ours or unreadable (%s): delivered "
		      "transcripts are not remembered across restarts", C->state_dir, err);
		close(state_fd);
		state_fd = -1;
		return;
	}
	while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
		size_t n = strlen(line);

		if (n == 0 || line[n - 1] != '\n') {
			skipping = 1; /* too long: not one of ours, nor is the rest of it */
			continue;
		}
		if (skipping) {
			skipping = 0;
			continue;
		}
		line[n - 1] = '\0';
		if (name_ok(line, 1, SSM_FRAME_SID_MAX, "_+=,.@-"))
			(void)remember_done(line, 0);
	}
	if (in != NULL)
		fclose(in);
	rewrite_done();
	if (ndone > 0)
		E.log("%zu transcripts in the spool were delivered before", ndone);
}

void agent_deliver_init(const struct agent_env *env, const struct ssm_config *cfg)
{
	E = *env;
	C = cfg;
	docs = cJSON_CreateObject();
	load_done();
}

static struct tdel *find_ch(uint32_t ch)
{
	struct tdel *t;

	for (t = dels; t; t = t->next)
		if (t->ch == ch)
			return t;
	return NULL;
}

static int open_count(void)
{
	int n = 0;
	struct tdel *t;

	for (t = dels; t; t = t->next)
		n++;
	return n;
}

static void drop(struct tdel *t)
{
	struct tdel **pp;

	for (pp = &dels; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

static struct twait *find_wait(const char *sid)
{
	void *node = tfind(sid, &wait_root, sid_cmp);

	return node != NULL ? *(struct twait **)node : NULL;
}

static void unwait(struct twait *w)
{
	struct twait **pp;

	for (pp = &waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			nwaits--;
			(void)tdelete(w, &wait_root, sid_cmp);
			free(w);
			return;
		}
}

/* Queue sid (at the end: in turn) or, with idle_size != UINT64_MAX, park it; fails: its
 * last turns in a row that got nothing acknowledged. */
static void enqueue(const char *sid, uint64_t idle_size, int live, int force, int fails)
{
	struct twait *w = find_wait(sid), **pp;

	if (w != NULL) {
		w->seen = 1;
		w->live = live;
		if (idle_size != UINT64_MAX) {
			w->queued = 0;
			w->idle_size = idle_size;
		} else if (!w->queued) {
			unwait(w); /* parked: to the end of the queue */
			enqueue(sid, idle_size, live, 1, fails);
		}
		return;
	}
	/* past WAIT_MAX only for one that was delivering (at most MAX_OPEN more): the others
	 * are found again by a later scan */
	if ((nwaits >= WAIT_MAX && !force) || (w = calloc(1, sizeof(*w))) == NULL)
		return;
	snprintf(w->sid, sizeof(w->sid), "%s", sid);
	if (tsearch(w, &wait_root, sid_cmp) == NULL) {
		free(w);
		return;
	}
	w->seen = 1;
	w->live = live;
	w->fails = fails;
	w->queued = idle_size == UINT64_MAX;
	w->idle_size = idle_size;
	for (pp = &waits; *pp; pp = &(*pp)->next)
		;
	*pp = w;
	nwaits++;
	/* a running session's recorder holds its output back while the transcript waits, and
	 * must not take the wait for a broker that takes nothing (its stall rule ends the
	 * session): it is told, and told again every second (mark_waiting) until the broker
	 * accepts its channel (pump writes the file anew) */
	if (w->queued && live && fails < STUCK_TURNS && ssm_mono_ms() - moved_ms < MOVED_MAX_MS)
		(void)ssm_agent_delivered_mark(C->run_dir, sid, 1);
}

/* The queued mark of each waiting transcript of a running session, renewed (it counts for
 * SSM_AGENT_QUEUED_TTL_MS: an agent that stops renewing it, dead or unlinked, stops
 * counting); once a second, with the scan, while the link is up. */
static void mark_waiting(void)
{
	struct twait *w;

	if (ssm_mono_ms() - moved_ms >= MOVED_MAX_MS)
		return; /* the broker stored nothing for that long: the marks lapse */
	for (w = waits; w; w = w->next)
		if (w->queued && w->live && w->fails < STUCK_TURNS)
			(void)ssm_agent_delivered_mark(C->run_dir, w->sid, 1);
}

static int nqueued(void)
{
	int n = 0;
	struct twait *w;

	for (w = waits; w; w = w->next)
		n += w->queued;
	return n;
}

/* New session_start lines of audit.jsonl: remember each sid's document. */
static void read_audit(void)
{
	char path[4096], buf[8192];
	struct stat st;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/audit.jsonl", C->log_dir) >= (int)sizeof(path))
		return;
	f = fopen(path, "re");
	if (f == NULL)
		return;
	if (fstat(fileno(f), &st) != 0) {
		fclose(f);
		return;
	}
	if (st.st_ino != audit_ino || st.st_size < audit_off) {
		audit_ino = st.st_ino;
		audit_off = 0;
	}
	if (fseeko(f, audit_off, SEEK_SET) == 0) {
		while (fgets(buf, sizeof(buf), f) != NULL) {
			size_t n = strlen(buf);
			cJSON *o, *ev, *sid, *doc;

			if (n == 0 || buf[n - 1] != '\n')
				break; /* a line still being written: read it next time */
			audit_off += (off_t)n;
			if (strstr(buf, "\"session_start\"") == NULL)
				continue;
			o = cJSON_ParseWithLength(buf, n);
			ev = cJSON_GetObjectItemCaseSensitive(o, "event");
			sid = cJSON_GetObjectItemCaseSensitive(o, "sid");
			doc = cJSON_GetObjectItemCaseSensitive(o, "doc");
			if (cJSON_IsString(ev) && strcmp(ev->valuestring, "session_start") == 0 &&
			    cJSON_IsString(sid) && cJSON_IsString(doc) &&
			    cJSON_GetObjectItemCaseSensitive(docs, sid->valuestring) == NULL &&
			    cJSON_GetArraySize(docs) < 100000)
				cJSON_AddStringToObject(docs, sid->valuestring, doc->valuestring);
			cJSON_Delete(o);
		}
	}
	fclose(f);
}

static int name_ok(const char *s, size_t min, size_t max, const char *extra)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

static int start(const char *sid, int fails)
{
	char path[4096];
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(docs, sid);
	const char *doc = cJSON_IsString(d) && name_ok(d->valuestring, SSM_FRAME_DOC_MIN,
						       SSM_FRAME_DOC_MAX, "_.-")
				  ? d->valuestring
				  : "unknown";
	struct ssm_frame o;
	struct tdel *t;

	if (snprintf(path, sizeof(path), "%s/sessions/%s.cast", C->log_dir, sid) >=
	    (int)sizeof(path))
		return -1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -1;
	snprintf(t->sid, sizeof(t->sid), "%s", sid);
	t->published = UINT64_MAX;
	t->fails = fails;
	t->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (t->fd < 0) {
		free(t);
		if (errno != ENOENT)
			return -1;
		ssm_agent_delivered_remove(C->run_dir, sid); /* its mark, if any */
		return 0; /* gone (rotated away): nothing to deliver */
	}
	memset(&o, 0, sizeof(o));
	o.u.open.kind = SSM_KIND_TRANSCRIPT;
	o.u.open.sid = ssm_frame_str(sid);
	o.u.open.document = ssm_frame_str(doc);
	t->ch = ssm_mux_open(E.mux, &o, 0, t);
	if (t->ch == 0) {
		close(t->fd);
		free(t);
		return -1;
	}
	t->next = dels;
	dels = t;
	return 0;
}

/* A transcript whose recorder is gone: nothing will be appended any more.  So is one whose
 * name is no session id ssm-shell makes (a copy put in the spool): no recorder is ever
 * registered for it, and it would otherwise wait, as a running session's, for bytes that
 * never come (never ended, never complete at the broker). */
static int finished(const char *sid)
{
	pid_t pid;

	return !ssm_record_sid_valid(sid) || ssm_live_lookup(C->run_dir, sid, &pid) == -ENOENT;
}

/* ssm-shell creates SID.cast, then registers the session as live, then writes the header:
 * an empty transcript of a session not live (yet) is ended only once it is old enough that
 * its ssm-shell has died before its header (a new one is offered at once, inotify) */
static int just_made(const struct stat *st)
{
	time_t now = time(NULL);

	/* a time ahead of the clock (the clock set back) counts as old */
	return st->st_size == 0 && st->st_mtime <= now && now - st->st_mtime < EMPTY_FINAL_S;
}

/* 1 if t has sent the whole file and every byte was acknowledged */
static int caught_up(const struct tdel *t)
{
	struct stat st;

	return ssm_mux_unacked(E.mux, t->ch, 0) == 0 && fstat(t->fd, &st) == 0 &&
	       (uint64_t)st.st_size <= t->off;
}

/* t's count of failed turns with this one (kept at STUCK_TURNS: it only matters up to it) */
static int failed_again(const struct tdel *t)
{
	return t->fails < STUCK_TURNS ? t->fails + 1 : STUCK_TURNS;
}

/* t's turn is over (every byte it sent acknowledged, or RELEASE_MAX_MS passed): its channel
 * closes without an EOF, so the broker keeps the transcript open at what it holds, and t
 * waits: parked if it had caught up, queued if it has more to send. */
static void end_turn(struct tdel *t)
{
	uint64_t idle_size = caught_up(t) ? t->off : UINT64_MAX;
	uint64_t acked = t->off - ssm_mux_unacked(E.mux, t->ch, 0);

	(void)ssm_mux_close(E.mux, t->ch, 0, SSM_CODE_OK, "");
	enqueue(t->sid, idle_size, !finished(t->sid), 1,
		idle_size == UINT64_MAX && acked <= t->turn_acked ? failed_again(t) : 0);
	drop(t);
}

static void pump(struct tdel *t)
{
	uint8_t buf[CHUNK];
	int rounds = 0;

	if (!t->accepted || t->eof_sent || t->release_ms)
		goto check_end;
	while (rounds++ < 16) {
		size_t room = ssm_mux_write_room(E.mux, t->ch, 0);
		ssize_t n;

		if (room == 0)
			break;
		n = pread(t->fd, buf, room < sizeof(buf) ? room : sizeof(buf), (off_t)t->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			struct stat st;
			/* at the end of the file: the end of the transcript once its session is
			 * over (checked after reading, so nothing appended before the end is
			 * missed: read again once more below).  A file shorter than what the
			 * broker holds (cut on the host, e.g. copytruncate) ends there too. */
			if (n == 0 && finished(t->sid) && fstat(t->fd, &st) == 0 &&
			    (uint64_t)st.st_size <= t->off && !just_made(&st) &&
			    ssm_mux_write_eof(E.mux, t->ch, 0) == 0)
				t->eof_sent = 1;
			break;
		}
		t->off += (uint64_t)ssm_mux_write(E.mux, t->ch, 0, buf, (size_t)n);
	}
check_end:
	if (t->accepted) {
		/* what the broker holds durably, for ssm-shell's backlog limit
		 * (transcript_backlog_max): the stream's offsets are the file's */
		uint64_t acked = t->off - ssm_mux_unacked(E.mux, t->ch, 0);

		if (acked != t->published &&
		    ssm_agent_delivered_write(C->run_dir, t->sid, acked, 0) == 0)
			t->published = acked;
	}
	/* the EOF itself must have left first: a CLOSE queued behind an EOF still waiting to
	 * be sent discards it, and the broker never marks the transcript complete (which is
	 * what happened when every byte was acknowledged before the session ended) */
	if (t->eof_sent && ssm_mux_eof_sent(E.mux, t->ch, 0) &&
	    ssm_mux_unacked(E.mux, t->ch, 0) == 0) {
		/* every byte durable at the broker */
		(void)ssm_mux_close(E.mux, t->ch, 0, SSM_CODE_OK, "");
		E.log("transcript %s delivered (%llu bytes)", t->sid, (unsigned long long)t->off);
		ssm_agent_delivered_remove(C->run_dir, t->sid);
		mark_done(t->sid);
		drop(t);
		return;
	}
	if (t->release_ms && !t->eof_sent && ssm_mux_unacked(E.mux, t->ch, 0) == 0)
		end_turn(t);
}

/* 1 if t is delivering: accepted, not at its end, its turn not ending */
static int busy(const struct tdel *t)
{
	return t->accepted && !t->eof_sent && !t->release_ms;
}

/* The user part of a session id (AWS's form: USER-TAIL): its length */
static size_t user_len(const char *sid)
{
	const char *dash = strrchr(sid, '-');

	return dash != NULL ? (size_t)(dash - sid) : strlen(sid);
}

/* How many transcript channels the user of sid holds now */
static int user_open(const char *sid)
{
	size_t n = user_len(sid);
	const struct tdel *t;
	int k = 0;

	for (t = dels; t; t = t->next)
		k += user_len(t->sid) == n && memcmp(t->sid, sid, n) == 0;
	return k;
}

/* Free channels to the queue: running sessions' transcripts first; among them, those of the
 * user holding the fewest channels, so one user's many busy sessions do not make everyone
 * else's wait behind them; then in order. */
static void fill(void)
{
	char sid[SSM_FRAME_SID_MAX + 1];
	struct twait *w, *pick;
	int pick_n, n, fails;

	while (open_count() < MAX_OPEN) {
		pick = NULL;
		pick_n = 0;
		for (w = waits; w; w = w->next) {
			if (!w->queued || (pick != NULL && pick->live && !w->live))
				continue;
			if (!w->live) {
				if (pick == NULL)
					pick = w; /* the first finished one, unless a live one waits */
				continue;
			}
			n = user_open(w->sid);
			if (pick == NULL || !pick->live || n < pick_n) {
				pick = w;
				pick_n = n;
				if (n == 0)
					break; /* a user holding none: no better pick */
			}
		}
		if (pick == NULL)
			return;
		snprintf(sid, sizeof(sid), "%s", pick->sid);
		fails = pick->fails;
		/* its queued mark stays until the broker's ACCEPT (pump writes the file anew) or
		 * lapses: a broker that never answers is one that takes nothing */
		unwait(pick);
		if (start(sid, fails) < 0)
			return; /* queued again by a later scan */
	}
}

/* When transcripts still wait for a channel, turns end, as many as wait (counted once,
 * before any turn ends here: one that ends is queued again behind them): those ending
 * already count, a caught-up delivery's ends at once, then those of deliveries that held a
 * channel for SLICE_MS, longest first.  A turn ends once its last byte is acknowledged
 * (pump) or RELEASE_MAX_MS later; with nobody waiting any more, it goes on. */
static void schedule(int64_t now)
{
	struct tdel *t, *old, *ending[MAX_OPEN];
	int want, n = 0, i;

	fill();
	want = nqueued();
	for (t = dels; t; t = t->next) {
		if (!t->release_ms)
			continue;
		if (want <= 0 && now - t->release_ms < RELEASE_MAX_MS) {
			t->release_ms = 0; /* nobody waits now: its turn goes on */
			continue;
		}
		want--;
		if (now - t->release_ms >= RELEASE_MAX_MS && n < MAX_OPEN)
			ending[n++] = t;
	}
	for (t = dels; t && want > 0; t = t->next)
		if (busy(t) && caught_up(t) && n < MAX_OPEN) {
			t->release_ms = now;
			ending[n++] = t;
			want--;
		}
	while (want > 0) {
		old = NULL;
		for (t = dels; t; t = t->next)
			if (busy(t) && now - t->since_ms >= SLICE_MS &&
			    (old == NULL || t->since_ms < old->since_ms))
				old = t;
		if (old == NULL)
			break;
		old->release_ms = now;
		want--;
		if (ssm_mux_unacked(E.mux, old->ch, 0) == 0 && n < MAX_OPEN)
			ending[n++] = old;
	}
	/* end_turn drops only its own entry: the others stay valid */
	for (i = 0; i < n; i++)
		end_turn(ending[i]);
	fill();
}

static void watch_start(void)
{
	char path[4096];

	if (ino_fd < 0 && (ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return;
	if (ino_wd < 0) {
		if (snprintf(path, sizeof(path), "%s/sessions", C->log_dir) >= (int)sizeof(path))
			return;
		ino_wd = inotify_add_watch(ino_fd, path,
					   IN_MODIFY | IN_CREATE | IN_MOVE_SELF | IN_ONLYDIR);
		if (ino_wd < 0)
			return; /* not made yet: tried again at the next scan */
	}
	if (ino_wsi == NULL)
		ino_wsi = ssm_lws_watch_fd(E.vhost, E.raw_protocol, ino_fd, NULL);
}

int agent_deliver_is_watch(const struct lws *wsi)
{
	return wsi != NULL && wsi == ino_wsi;
}

/* At most WATCH_MIN_BYTES, and an eighth of transcript_backlog_max: ssm-shell's output waits
 * from half of that limit, so a small limit must not leave its refills to the tick. */
static uint64_t watch_min(void)
{
	uint64_t lim = (uint64_t)C->transcript_backlog_max / 8;

	return C->transcript_backlog_max > 0 && lim < WATCH_MIN_BYTES ? lim : WATCH_MIN_BYTES;
}

static struct tdel *find_sid(const char *name, size_t len)
{
	struct tdel *t;

	if (len <= 5 || memcmp(name + len - 5, ".cast", 5) != 0)
		return NULL;
	for (t = dels; t; t = t->next)
		if (strlen(t->sid) == len - 5 && memcmp(t->sid, name, len - 5) == 0)
			return t;
	return NULL;
}

static void scan(void);

/* A transcript that grew is sent on (only that one: the others cost nothing here); a new
 * one is offered at once rather than at the next scan. */
void agent_deliver_watch_cb(int readable, int closed)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct tdel *t, *next;
	int created = 0;
	ssize_t n;

	if (closed) {
		ino_wsi = NULL; /* watched again at the next scan */
		return;
	}
	if (!readable)
		return;
	while ((n = read(ino_fd, buf, sizeof(buf))) > 0) {
		const char *p = buf;

		while (p + sizeof(struct inotify_event) <= buf + n) {
			const struct inotify_event *ev = (const struct inotify_event *)(const void *)p;

			p += sizeof(struct inotify_event) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				/* events were lost: every transcript may have grown */
				for (t = dels; t; t = t->next)
					t->grew = 1;
				continue;
			}
			if (ev->wd != ino_wd)
				continue; /* a watch removed before */
			if (ev->mask & (IN_IGNORED | IN_MOVE_SELF)) {
				/* the directory is gone or moved away: watched again once it is back */
				if (ev->mask & IN_MOVE_SELF)
					(void)inotify_rm_watch(ino_fd, ino_wd);
				ino_wd = -1;
				continue;
			}
			if (ev->len == 0)
				continue;
			if (ev->mask & IN_CREATE)
				created = 1;
			else if ((t = find_sid(ev->name, strnlen(ev->name, ev->len))) != NULL)
				t->grew = 1;
		}
	}
	if (!link_is_up)
		return;
	if (created) {
		scan();
		schedule(ssm_mono_ms());
	}
	for (t = dels; t; t = next) {
		struct stat st;

		next = t->next; /* pump may drop t (only t) */
		if (!t->grew)
			continue;
		t->grew = 0;
		/* a few bytes (a keystroke's echo) wait for the tick: sending each at once would
		 * add a frame, a store and an acknowledgement to every keystroke */
		if (fstat(t->fd, &st) == 0 && (uint64_t)st.st_size < t->off + watch_min())
			continue;
		pump(t);
	}
	E.want_write();
}

static void scan(void)
{
	char path[4096];
	struct dirent *de;
	struct twait *w, *next;
	DIR *d;
	int rd_err;

	read_audit();
	watch_start();
	if (snprintf(path, sizeof(path), "%s/sessions", C->log_dir) >= (int)sizeof(path))
		return;
	d = opendir(path);
	if (d == NULL)
		return;
	for (w = waits; w; w = w->next)
		w->seen = 0;
	while ((errno = 0, de = readdir(d)) != NULL) {
		char sid[SSM_FRAME_SID_MAX + 1];
		size_t n = strlen(de->d_name);
		struct tdel *t;
		int open_already = 0;
		struct stat st;

		if (n <= 5 || n - 5 > SSM_FRAME_SID_MAX || strcmp(de->d_name + n - 5, ".cast") != 0)
			continue;
		memcpy(sid, de->d_name, n - 5);
		sid[n - 5] = '\0';
		if (!name_ok(sid, 1, SSM_FRAME_SID_MAX, "_+=,.@-") || is_done(sid))
			continue;
		for (t = dels; t; t = t->next)
			if (strcmp(t->sid, sid) == 0)
				open_already = 1;
		if (open_already)
			continue;
		if ((w = find_wait(sid)) == NULL) {
			/* ssm-shell makes SID.cast before it registers the session as live: an
			 * empty new file is a session starting */
			enqueue(sid, UINT64_MAX,
				!finished(sid) || (fstatat(dirfd(d), de->d_name, &st,
							   AT_SYMLINK_NOFOLLOW) == 0 &&
						   just_made(&st)),
				0, 0);
			continue;
		}
		w->seen = 1;
		/* parked: its turn again once it grew or its session is over */
		if (!w->queued && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			int over = finished(sid);

			if ((uint64_t)st.st_size > w->idle_size || (over && !just_made(&st)))
				enqueue(sid, UINT64_MAX, !over, 0, w->fails);
		}
	}
	rd_err = errno;
	closedir(d);
	if (rd_err != 0)
		return; /* the listing was cut short: what it did not show may still be there */
	/* gone from the directory (rotated away) or delivered: forgotten, with its file */
	for (w = waits; w; w = next)
		if (next = w->next, !w->seen) {
			ssm_agent_delivered_remove(C->run_dir, w->sid);
			unwait(w);
		}
}

/* mux events of TRANSCRIPT channels; 1 if the event was one of ours */
int agent_deliver_event(const struct ssm_mux_ev *ev)
{
	struct tdel *t = find_ch(ev->channel);

	if (t == NULL || ev->user != t)
		return 0;
	switch (ev->type) {
	case SSM_MUX_EV_ACCEPT:
		t->accepted = 1;
		t->since_ms = ssm_mono_ms();
		t->off = t->turn_acked = t->seen_acked = ev->f ? ev->f->offset : 0;
		pump(t);
		break;
	case SSM_MUX_EV_ACKED:
		if (t->accepted) {
			uint64_t acked = t->off - ssm_mux_unacked(E.mux, t->ch, 0);

			if (acked > t->seen_acked) {
				t->seen_acked = acked;
				moved_ms = ssm_mono_ms(); /* the broker stores */
			}
		}
		/* fall through */
	case SSM_MUX_EV_WRITABLE:
		/* room again, or more durable at the broker: send on, and tell ssm-shell (its
		 * transcript_backlog_max compares with what is published here) */
		pump(t);
		break;
	case SSM_MUX_EV_CLOSED:
		E.log("transcript %s: the broker closed its delivery: %s%s%s", t->sid,
		      ssm_frame_code_name(ev->code), ev->reason && ev->reason[0] ? ": " : "",
		      ev->reason ? ev->reason : "");
		/* refused: the broker holds it complete already (an agent restarted after
		 * delivering it): never offered again, where it was reopened every second */
		if (ev->code == SSM_CODE_REFUSED) {
			(void)remember_done(t->sid, 0); /* until a restart: a broker may
							   refuse for other reasons */
			ssm_agent_delivered_remove(C->run_dir, t->sid);
		} else if (ev->code == SSM_CODE_INTERNAL && !t->eof_sent) {
			/* the broker could not take it (cannot store it): a failed turn; parked
			 * until the next scan (once a second, as before), then queued again,
			 * unmarked from its second failure on */
			(void)ssm_agent_delivered_mark(C->run_dir, t->sid, 0);
			enqueue(t->sid, 0, !finished(t->sid), 1, failed_again(t));
		}
		t->ch = 0;
		drop(t);
		break;
	default:
		break;
	}
	E.want_write();
	return 1;
}

void agent_deliver_tick(int64_t now_ms, int link_up)
{
	struct tdel *t, *next;

	link_is_up = link_up;
	if (!link_up)
		return;
	if (now_ms - last_scan >= SCAN_EVERY_MS) {
		last_scan = now_ms;
		scan();
		mark_waiting();
	}
	for (t = dels; t; t = next) {
		next = t->next;
		pump(t);
	}
	schedule(now_ms);
}
