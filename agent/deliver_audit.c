/* deliver_audit.c - the host's audit log to the broker (SPEC section 8; docs/PROTOCOL.md
 * section 4, AUDIT channels).
 *
 * log_dir/audit.jsonl (lib/audit.c: one line per event, each written whole by a single
 * write(2) on an O_APPEND descriptor, whatever the login path) is delivered as segments: a
 * segment is one file (one inode) from its first byte to its end.  Its name, the OPEN's
 * sid, is "audit.INODE.HASH" (HASH: the first 16 hex digits of the SHA-256 of its first
 * line, the line's '\n' included), so it is unique on the host (an inode reused by a later
 * file starts with another line: its own timestamp) and the same after an agent restart;
 * the broker's ACCEPT says how many bytes of it it already holds durably and delivery
 * continues there, so nothing is lost or stored twice.
 *
 * Whole lines only: bytes after the file's last '\n' are never sent (a line cannot be half
 * written by lib/audit.c, but a file is not trusted to end with one).  The broker
 * acknowledges a byte only once it is durable; the file on the host is the spool (nothing is
 * deleted here; logrotate decides).
 *
 * Rotation (data/logrotate.in: audit.jsonl renamed to audit.jsonl.1 and a new audit.jsonl
 * created): the renamed file is still written by the ssm-shells (and ssmctl sudo) that were
 * running, which keep their descriptor for the whole session.  A segment is therefore
 * complete once it is no longer log_dir/audit.jsonl (renamed or removed), no process holds
 * it open for writing (every /proc/PID/fd is looked at: nobody opens a rotated file by
 * name for writing, so none can appear later), and every whole line was sent and
 * acknowledged: then EOF, and CLOSE ok once acknowledged.  The new audit.jsonl is a new
 * segment, delivered meanwhile on its own channel.  Scanned: audit.jsonl and audit.jsonl.1
 * (delaycompress keeps it uncompressed); a segment already open stays open whatever its
 * name becomes.  Only root-owned regular files, opened O_NOFOLLOW. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"
#include "sha256.h"

#define MAX_SEGMENTS 4          /* audit channels at once */
#define SCAN_EVERY_MS 1000
#define WRITERS_EVERY_MS 2000   /* the /proc walk for a rotated segment's writers */
#define RETRY_MS 10000          /* after a refusal other than "already complete" */
#define CHUNK 65536
#define FIRST_LINE_MAX (1024 * 1024)

struct aseg {
	char name[SSM_FRAME_SID_MAX + 1];
	int fd;
	dev_t dev;
	ino_t ino;
	uint32_t ch;
	int accepted, eof_sent;
	uint64_t off;         /* file offset of the next byte to send */
	uint64_t line_end;    /* just after the last '\n' found so far */
	uint64_t scanned;     /* bytes looked at for '\n' */
	int64_t writers_at;   /* when the /proc walk last ran (0: never) */
	struct aseg *next;
};

/* segments delivered (until: forever) or refused (until: the next attempt) */
struct aknown {
	char name[SSM_FRAME_SID_MAX + 1];
	int64_t until;
	struct aknown *next;
};

static struct agent_env E;
static const struct ssm_config *C;
static struct aseg *segs;
static struct aknown *known;
static int64_t last_scan, now_ms;

void agent_deliver_audit_init(const struct agent_env *env, const struct ssm_config *cfg)
{
	E = *env;
	C = cfg;
}

static struct aknown *known_find(const char *name)
{
	struct aknown *k;

	for (k = known; k; k = k->next)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static void known_set(const char *name, int64_t until)
{
	struct aknown *k = known_find(name);

	if (k == NULL) {
		k = calloc(1, sizeof(*k));
		if (k == NULL)
			return;
		snprintf(k->name, sizeof(k->name), "%s", name);
		k->next = known;
		known = k;
	}
	k->until = until;
}

static int segs_count(void)
{
	int n = 0;
	struct aseg *s;

	for (s = segs; s; s = s->next)
		n++;
	return n;
}

static void drop(struct aseg *s)
{
	struct aseg **pp;

	for (pp = &segs; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* "audit.INODE.HASH" of the file open on fd: 0, -EAGAIN while it has no whole first line
 * (nothing to deliver yet), or -errno. */
static int segment_name(int fd, const struct stat *st, char *out, size_t size)
{
	uint8_t buf[4096];
	struct ssm_sha256 *h;
	char hex[65];
	uint64_t pos = 0;
	int found = 0, r;

	if ((r = ssm_sha256_new(&h)) < 0)
		return r;
	while (!found && pos < FIRST_LINE_MAX) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)pos), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n && buf[i] != '\n'; i++)
			;
		if (i < n) {
			found = 1;
			n = i + 1;
		}
		ssm_sha256_update(h, buf, (size_t)n);
		pos += (uint64_t)n;
	}
	if (!found) {
		ssm_sha256_free(h);
		return pos >= FIRST_LINE_MAX ? -EFBIG : -EAGAIN;
	}
	r = ssm_sha256_final_hex(h, hex);
	ssm_sha256_free(h);
	if (r < 0)
		return r;
	if (snprintf(out, size, "audit.%llu.%.16s", (unsigned long long)st->st_ino, hex) >=
	    (int)size)
		return -ENAMETOOLONG;
	return 0;
}

/* Open log_dir/NAME if it is a root-owned regular file: the descriptor and its stat, or -1. */
static int open_log(const char *name, struct stat *st)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", C->log_dir, name) >= (int)sizeof(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_uid != 0 ||
	    (st->st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void start(const char *file)
{
	char name[SSM_FRAME_SID_MAX + 1];
	struct ssm_frame o;
	struct stat st;
	struct aseg *s;
	int fd = open_log(file, &st), r;
	struct aknown *k;

	if (fd < 0)
		return;
	for (s = segs; s; s = s->next)
		if (s->dev == st.st_dev && s->ino == st.st_ino) {
			close(fd);
			return; /* being delivered */
		}
	r = segment_name(fd, &st, name, sizeof(name));
	if (r < 0) {
		if (r != -EAGAIN)
			E.log("audit %s/%s: cannot name its segment: %s", C->log_dir, file,
			      strerror(-r));
		close(fd);
		return;
	}
	k = known_find(name);
	if (k != NULL && k->until > now_ms) {
		close(fd);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		return;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	memset(&o, 0, sizeof(o));
	o.u.open.kind = SSM_KIND_AUDIT;
	o.u.open.sid = ssm_frame_str(name);
	s->ch = ssm_mux_open(E.mux, &o, 0, s);
	if (s->ch == 0) {
		close(fd);
		free(s);
		return;
	}
	s->next = segs;
	segs = s;
}

/* 1 if s is no longer log_dir/audit.jsonl: renamed away or removed */
static int rotated(const struct aseg *s)
{
	char path[4096];
	struct stat st, cur;

	if (fstat(s->fd, &st) != 0)
		return 0;
	if (st.st_nlink == 0)
		return 1;
	if (snprintf(path, sizeof(path), "%s/audit.jsonl", C->log_dir) >= (int)sizeof(path))
		return 0;
	if (lstat(path, &cur) != 0)
		return errno == ENOENT;
	return cur.st_dev != s->dev || cur.st_ino != s->ino;
}

/* 1 if some process has the file open for writing (or the answer is unknown), 0 if none */
static int has_writer(const struct aseg *s)
{
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	int found = 0;

	if (proc == NULL)
		return 1;
	while (!found && (pe = readdir(proc)) != NULL) {
		char path[300];
		struct dirent *fe;
		DIR *fds;
		int dfd;

		if (pe->d_name[0] < '1' || pe->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		fds = opendir(path);
		if (fds == NULL)
			continue; /* gone meanwhile */
		dfd = dirfd(fds);
		while (!found && (fe = readdir(fds)) != NULL) {
			char info[600], line[128];
			struct stat st;
			FILE *f;

			if (fe->d_name[0] < '0' || fe->d_name[0] > '9')
				continue;
			if (fstatat(dfd, fe->d_name, &st, 0) != 0 || st.st_dev != s->dev ||
			    st.st_ino != s->ino)
				continue;
			/* this file: open for writing? (fdinfo's flags, octal) */
			snprintf(info, sizeof(info), "/proc/%s/fdinfo/%s", pe->d_name, fe->d_name);
			f = fopen(info, "re");
			if (f == NULL)
				continue;
			while (fgets(line, sizeof(line), f) != NULL) {
				unsigned long flags;
				if (sscanf(line, "flags: %lo", &flags) == 1) {
					if ((flags & O_ACCMODE) != O_RDONLY)
						found = 1;
					break;
				}
			}
			fclose(f);
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/* Look for '\n' beyond what was scanned (bounded per call): advances line_end. */
static void find_lines(struct aseg *s)
{
	uint8_t buf[CHUNK];
	int rounds = 0;

	while (rounds++ < 16) {
		ssize_t n = pread(s->fd, buf, sizeof(buf), (off_t)s->scanned), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = n; i > 0; i--)
			if (buf[i - 1] == '\n') {
				s->line_end = s->scanned + (uint64_t)i;
				break;
			}
		s->scanned += (uint64_t)n;
	}
}

static void pump(struct aseg *s)
{
	uint8_t buf[CHUNK];
	int rounds = 0;

	if (!s->accepted || s->eof_sent)
		goto check_end;
	find_lines(s);
	while (rounds++ < 16 && s->off < s->line_end) {
		size_t room = ssm_mux_write_room(E.mux, s->ch, 0), want;
		ssize_t n;

		if (room == 0)
			break;
		want = room < sizeof(buf) ? room : sizeof(buf);
		if ((uint64_t)want > s->line_end - s->off)
			want = (size_t)(s->line_end - s->off);
		n = pread(s->fd, buf, want, (off_t)s->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		s->off += (uint64_t)ssm_mux_write(E.mux, s->ch, 0, buf, (size_t)n);
	}
	if (s->off == s->line_end && rotated(s) &&
	    (s->writers_at == 0 || now_ms - s->writers_at >= WRITERS_EVERY_MS)) {
		struct stat st;

		s->writers_at = now_ms;
		/* no writer left: nothing can be appended any more.  Look once more after the
		 * check, so that a line written just before the last writer closed is sent. */
		if (!has_writer(s)) {
			find_lines(s);
			if (s->off == s->line_end && fstat(s->fd, &st) == 0 &&
			    (uint64_t)st.st_size == s->scanned) {
				uint64_t tail = (uint64_t)st.st_size - s->line_end;

				if (tail > 0)
					E.log("audit segment %s ends with %llu bytes that are "
					      "not a whole line: not delivered",
					      s->name, (unsigned long long)tail);
				if (ssm_mux_write_eof(E.mux, s->ch, 0) == 0)
					s->eof_sent = 1;
			}
		}
	}
check_end:
	/* every line durable at the broker, and the EOF gone out: CLOSE forgets the channel
	 * with whatever of it is still queued, EOF included */
	if (s->eof_sent && ssm_mux_unacked(E.mux, s->ch, 0) == 0 &&
	    ssm_mux_eof_sent(E.mux, s->ch, 0)) {
		(void)ssm_mux_close(E.mux, s->ch, 0, SSM_CODE_OK, "");
		E.log("audit segment %s delivered (%llu bytes)", s->name,
		      (unsigned long long)s->off);
		known_set(s->name, INT64_MAX);
		drop(s);
	}
}

static void scan(void)
{
	/* the rotated file first: its events are the older ones */
	if (segs_count() < MAX_SEGMENTS)
		start("audit.jsonl.1");
	if (segs_count() < MAX_SEGMENTS)
		start("audit.jsonl");
}

static struct aseg *find_ch(uint32_t ch)
{
	struct aseg *s;

	for (s = segs; s; s = s->next)
		if (s->ch == ch)
			return s;
	return NULL;
}

/* mux events of AUDIT channels; 1 if the event was one of ours */
int agent_deliver_audit_event(const struct ssm_mux_ev *ev)
{
	struct aseg *s = find_ch(ev->channel);
	struct stat st;

	if (s == NULL || ev->user != s)
		return 0;
	switch (ev->type) {
	case SSM_MUX_EV_ACCEPT:
		s->accepted = 1;
		s->off = ev->f ? ev->f->offset : 0;
		if (fstat(s->fd, &st) != 0 || s->off > (uint64_t)st.st_size) {
			/* the broker holds more than this file has: not the same segment */
			E.log("audit segment %s: the broker holds %llu bytes, the file has fewer: "
			      "not delivered",
			      s->name, (unsigned long long)s->off);
			(void)ssm_mux_close(E.mux, s->ch, 0, SSM_CODE_UNKNOWN,
					    "the host's segment is shorter than the broker's");
			known_set(s->name, INT64_MAX);
			drop(s);
			break;
		}
		s->line_end = s->scanned = s->off;
		pump(s);
		break;
	case SSM_MUX_EV_WRITABLE:
		pump(s);
		break;
	case SSM_MUX_EV_CLOSED:
		E.log("audit segment %s: the broker closed its delivery: %s%s%s", s->name,
		      ssm_frame_code_name(ev->code), ev->reason && ev->reason[0] ? ": " : "",
		      ev->reason ? ev->reason : "");
		/* refused: already complete at the broker; otherwise try again later (a lost
		 * connection: as soon as it is back) */
		if (ev->code == SSM_CODE_REFUSED)
			known_set(s->name, INT64_MAX);
		else if (ev->code != SSM_CODE_TIMEOUT)
			known_set(s->name, now_ms + RETRY_MS);
		s->ch = 0;
		drop(s);
		break;
	default:
		break;
	}
	E.want_write();
	return 1;
}

void agent_deliver_audit_tick(int64_t now, int link_up)
{
	struct aseg *s, *next;

	now_ms = now;
	if (!link_up)
		return;
	if (now - last_scan >= SCAN_EVERY_MS) {
		last_scan = now;
		scan();
	}
	for (s = segs; s; s = next) {
		next = s->next;
		pump(s);
	}
}
