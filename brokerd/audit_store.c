/* audit_store.c - the broker's end of AUDIT channels (docs/PROTOCOL.md section 4) and its
 * store of the hosts' audit logs (astore.h), and the administrator's view of them:
 *
 *   ssm-broker audit list [--state-dir DIR] [--host ID] [--json]
 *   ssm-broker audit show [--state-dir DIR] --host ID [--since RFC3339]
 *
 * A segment is stored as state_dir/audit/HOST/SEGMENT.jsonl: the bytes the host sent,
 * exactly (they are not parsed here), under the host id of the verified certificate (a host
 * can only ever write its own audit).  Its durable length and completion are in broker.db
 * (table audit_segments); the rules are tstore_file.c's: bytes beyond the recorded length
 * are cut at open (never acknowledged: the host sends them again), a file shorter than it is
 * refused (acknowledged bytes were lost: no resumption over the hole), each run of bytes is
 * fdatasync'ed and its length recorded before it is acknowledged, and a completed segment
 * is final (an OPEN of it again is refused). */
#include "astore.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "util.h"

#define AUDIT_WINDOW (1024u * 1024)
#define AUDIT_PER_LINK 8 /* each holds a descriptor: bounded per host */

/* ---------------------------------------------------------------- the store */

struct aobj {
	struct broker *b;
	char host[SSM_HOST_ID_LEN + 1];
	char seg[SSM_FRAME_SID_MAX + 1];
	int fd;
	uint64_t size;   /* bytes appended */
	uint64_t synced; /* bytes durable */
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS audit_segments (host TEXT NOT NULL, segment TEXT NOT NULL,"
	" bytes INTEGER NOT NULL DEFAULT 0, complete INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (host, segment))";

static int ensure_schema(sqlite3 *db)
{
	return sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int mkdir_p(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

/* names reaching the file system: a host id and a segment (docs/PROTOCOL.md string rules) */
static int safe_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128 || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("_+=,.@-", c) != NULL))
			return 0;
	}
	return 1;
}

static int path_of(const char *dir, const char *host, const char *seg, char *out, size_t size)
{
	if (snprintf(out, size, "%s/audit/%s/%s.jsonl", dir, host, seg) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static void aobj_free(struct aobj *o)
{
	if (o == NULL)
		return;
	if (o->fd >= 0)
		close(o->fd);
	free(o);
}

static int astore_open(struct broker *b, const char *host, const char *seg, struct aobj **po,
		       uint64_t *psize, int *pcomplete, char *err, size_t errlen)
{
	char path[4200];
	struct aobj *o;
	sqlite3_stmt *st;
	struct stat sb;
	int64_t bytes = 0;
	int complete = 0, r;

	if (!safe_name(host) || !safe_name(seg)) {
		snprintf(err, errlen, "bad host or segment name");
		return -EINVAL;
	}
	if (ensure_schema(b->db) < 0) {
		snprintf(err, errlen, "database error");
		return -EIO;
	}
	st = brokerd_prep(b->db, "SELECT bytes, complete FROM audit_segments"
			  " WHERE host=?1 AND segment=?2");
	if (st == NULL) {
		snprintf(err, errlen, "database error");
		return -EIO;
	}
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, seg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		bytes = sqlite3_column_int64(st, 0);
		complete = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	snprintf(path, sizeof(path), "%s/audit", b->dir);
	if ((r = mkdir_p(path)) < 0) {
		snprintf(err, errlen, "%.200s: %s", path, strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/audit/%s", b->dir, host);
	if ((r = mkdir_p(path)) < 0) {
		snprintf(err, errlen, "%.200s: %s", path, strerror(-r));
		return r;
	}
	if ((r = path_of(b->dir, host, seg, path, sizeof(path))) < 0) {
		snprintf(err, errlen, "path too long");
		return r;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->b = b;
	snprintf(o->host, sizeof(o->host), "%s", host);
	snprintf(o->seg, sizeof(o->seg), "%s", seg);
	o->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (o->fd < 0 || fstat(o->fd, &sb) != 0) {
		r = -errno;
		snprintf(err, errlen, "%.200s: %s", path, strerror(errno));
		aobj_free(o);
		return r;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%.200s: not a regular file", path);
		aobj_free(o);
		return -EINVAL;
	}
	if ((uint64_t)sb.st_size < (uint64_t)bytes) {
		/* the file lost acknowledged bytes: it cannot be resumed */
		snprintf(err, errlen, "%.200s is shorter (%lld) than what was acknowledged (%lld)",
			 path, (long long)sb.st_size, (long long)bytes);
		aobj_free(o);
		return -EIO;
	}
	/* the database's length is what was acknowledged; bytes beyond it (written, not yet
	 * synced when the broker stopped) are dropped: the host sends them again */
	if ((uint64_t)sb.st_size > (uint64_t)bytes && ftruncate(o->fd, (off_t)bytes) != 0) {
		r = -errno;
		snprintf(err, errlen, "%.200s: %s", path, strerror(errno));
		aobj_free(o);
		return r;
	}
	if (lseek(o->fd, (off_t)bytes, SEEK_SET) < 0) {
		r = -errno;
		snprintf(err, errlen, "seek: %s", strerror(-r));
		aobj_free(o);
		return r;
	}
	o->size = o->synced = (uint64_t)bytes;
	st = brokerd_prep(b->db, "INSERT INTO audit_segments (host, segment, bytes, complete,"
			  " created, updated) VALUES (?1, ?2, 0, 0, strftime('%s','now'),"
			  " strftime('%s','now')) ON CONFLICT (host, segment) DO NOTHING");
	if (st == NULL || (sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC),
			   sqlite3_bind_text(st, 2, seg, -1, SQLITE_STATIC),
			   sqlite3_step(st)) != SQLITE_DONE) {
		sqlite3_finalize(st);
		snprintf(err, errlen, "database error");
		aobj_free(o);
		return -EIO;
	}
	sqlite3_finalize(st);
	*po = o;
	*psize = o->size;
	*pcomplete = complete;
	return 0;
}

static int astore_append(struct aobj *o, const void *p, size_t n)
{
	const uint8_t *q = p;

	while (n > 0) {
		ssize_t w = write(o->fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		q += w;
		n -= (size_t)w;
		o->size += (uint64_t)w;
	}
	return 0;
}

static int set_bytes(struct aobj *o, int complete)
{
	sqlite3_stmt *st = brokerd_prep(o->b->db, "UPDATE audit_segments SET bytes=?1,"
					" complete=?2, updated=strftime('%s','now')"
					" WHERE host=?3 AND segment=?4");
	int r;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)o->synced);
	sqlite3_bind_int(st, 2, complete);
	sqlite3_bind_text(st, 3, o->host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, o->seg, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}

/* make everything appended durable, then record the length: only then may it be acked */
static int astore_sync(struct aobj *o)
{
	if (o->synced == o->size)
		return 0;
	if (fdatasync(o->fd) != 0)
		return -errno;
	o->synced = o->size;
	return set_bytes(o, 0);
}

static int astore_complete(struct aobj *o)
{
	int r = astore_sync(o);

	return r < 0 ? r : set_bytes(o, 1);
}

/* ---------------------------------------------------------------- the channels */

struct achan {
	int tag; /* RELAY_TAG_AUDIT */
	struct conn *agent;
	uint32_t ch;
	char seg[SSM_FRAME_SID_MAX + 1];
	struct aobj *obj;
	int completed;
	struct achan *next;
};

static struct broker *B;
static void (*logf_)(const char *fmt, ...);
static struct achan *chans;

void audit_chans_init(struct broker *b, void (*log)(const char *fmt, ...))
{
	B = b;
	logf_ = log;
}

static void chan_free(struct achan *t)
{
	struct achan **pp;

	for (pp = &chans; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	aobj_free(t->obj);
	free(t);
}

void audit_chan_open(struct conn *a, const struct ssm_mux_ev *ev)
{
	const struct ssm_frame_str *sid = &ev->f->u.open.sid;
	char err[256] = "";
	uint64_t size = 0;
	unsigned n = 0;
	int complete = 0, r;
	struct achan *t;

	for (t = chans; t; t = t->next)
		if (t->agent == a)
			n++;
	if (n >= AUDIT_PER_LINK) {
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_LIMIT,
				    "too many audit segments at once on this link");
		return;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_INTERNAL, "out of memory");
		return;
	}
	t->tag = RELAY_TAG_AUDIT;
	t->agent = a;
	t->ch = ev->channel;
	n = sid->len < sizeof(t->seg) - 1 ? (unsigned)sid->len : (unsigned)sizeof(t->seg) - 1;
	memcpy(t->seg, sid->p, n);
	t->seg[n] = '\0';
	t->next = chans;
	chans = t;
	r = astore_open(B, a->host_id, t->seg, &t->obj, &size, &complete, err, sizeof(err));
	if (r < 0) {
		logf_("audit segment %s from %s refused: %s", t->seg, a->host_id, err);
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_INTERNAL,
				    "the broker cannot store it");
		chan_free(t);
		return;
	}
	if (complete) {
		/* a complete segment is final: never reopened for appending (the agent takes
		 * this refusal as "delivered") */
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_REFUSED,
				    "this audit segment is already complete");
		chan_free(t);
		return;
	}
	ssm_mux_set_user(a->mux, t->ch, 0, t);
	if (ssm_mux_accept_at(a->mux, t->ch, 0, size, AUDIT_WINDOW) < 0) {
		(void)ssm_mux_close(a->mux, t->ch, 0, SSM_CODE_INTERNAL, "accept failed");
		chan_free(t);
		return;
	}
	conn_wake(a);
}

static void take(struct achan *t)
{
	const uint8_t *p;
	size_t n;
	int r;

	/* each contiguous run: append, make durable, and only then acknowledge (consume); the
	 * ACK goes out after this returns, never before the bytes are on disk */
	while ((p = ssm_mux_read_peek(t->agent->mux, t->ch, 0, &n)) != NULL && n > 0) {
		if ((r = astore_append(t->obj, p, n)) < 0 || (r = astore_sync(t->obj)) < 0)
			goto fail;
		ssm_mux_read_consume(t->agent->mux, t->ch, 0, n);
	}
	if (ssm_mux_read_eof(t->agent->mux, t->ch, 0) && !t->completed) {
		if ((r = astore_complete(t->obj)) < 0)
			goto fail;
		t->completed = 1;
	}
	conn_wake(t->agent);
	return;
fail:
	logf_("audit segment %s from %s: cannot store: %s", t->seg, t->agent->host_id,
	      strerror(-r));
	(void)ssm_mux_close(t->agent->mux, t->ch, 0, SSM_CODE_INTERNAL,
			    "the broker cannot store it");
	conn_wake(t->agent);
	chan_free(t);
}

int audit_chan_event(struct conn *a, const struct ssm_mux_ev *ev)
{
	struct achan *t = ev->user;

	if (t == NULL || t->tag != RELAY_TAG_AUDIT)
		return 0;
	switch (ev->type) {
	case SSM_MUX_EV_READABLE:
	case SSM_MUX_EV_EOF:
		take(t);
		break;
	case SSM_MUX_EV_CLOSED:
		if (ev->code == SSM_CODE_OK && t->completed)
			logf_("audit segment %s from %s stored (%llu bytes)", t->seg, a->host_id,
			      (unsigned long long)t->obj->synced);
		chan_free(t);
		break;
	default:
		break;
	}
	return 1;
}

/* ---------------------------------------------------------------- ssm-broker audit */

static int days_from_civil(int64_t y, unsigned m, unsigned d, int64_t *pdays)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*pdays = era * 146097 + (int64_t)doe - 719468;
	return 0;
}

int astore_parse_time(const char *s, int64_t *pt)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, sec;
	int64_t days, off = 0;
	int n = 0;

	if (s == NULL || strlen(s) < 20 ||
	    sscanf(s, "%4u-%2u-%2u%*1[Tt ]%2u:%2u:%2u%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return -EINVAL;
	for (n = 0; n < 19; n++)
		if ((n == 4 || n == 7) ? s[n] != '-'
		    : (n == 13 || n == 16) ? s[n] != ':'
		    : n == 10 ? 0
		    : (s[n] < '0' || s[n] > '9'))
			return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	s += 19;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
		off = 0;
	} else if ((*s == '+' || *s == '-') && strlen(s) == 6 && s[1] >= '0' && s[1] <= '9' &&
		   s[2] >= '0' && s[2] <= '9' && s[3] == ':' && s[4] >= '0' && s[4] <= '5' &&
		   s[5] >= '0' && s[5] <= '9') {
		int oh = (s[1] - '0') * 10 + (s[2] - '0'), om = (s[4] - '0') * 10 + (s[5] - '0');
		if (oh > 23)
			return -EINVAL;
		off = (int64_t)(oh * 60 + om) * 60 * (*s == '+' ? 1 : -1);
	} else {
		return -EINVAL;
	}
	days_from_civil(y, mo, d, &days);
	*pt = days * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec) - off;
	return 0;
}

static int aerr(const char *msg, const char *arg)
{
	fprintf(stderr, "ssm-broker: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	fputs("usage: ssm-broker audit list [--state-dir DIR] [--host ID] [--json]\n"
	      "       ssm-broker audit show [--state-dir DIR] --host ID [--since RFC3339]\n",
	      stderr);
	return 2;
}

static int audit_list(struct broker *b, const char *host, int json)
{
	sqlite3_stmt *st = brokerd_prep(b->db, "SELECT host, segment, bytes, complete, created,"
					" updated FROM audit_segments WHERE ?1 IS NULL OR host=?1"
					" ORDER BY host, created, rowid");
	cJSON *arr = cJSON_CreateArray();
	int ret = 0;

	if (st == NULL || arr == NULL) {
		sqlite3_finalize(st);
		cJSON_Delete(arr);
		fprintf(stderr, "ssm-broker: database error\n");
		return 1;
	}
	if (host)
		sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	if (!json)
		printf("%-20s  %-40s  %12s  %-8s  %s\n", "HOST", "SEGMENT", "BYTES", "STATE",
		       "UPDATED");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		const char *s = (const char *)sqlite3_column_text(st, 1);
		int64_t bytes = sqlite3_column_int64(st, 2), upd = sqlite3_column_int64(st, 5);
		int complete = sqlite3_column_int(st, 3);
		char ts[32], cts[32];

		ssm_rfc3339(upd, ts);
		ssm_rfc3339(sqlite3_column_int64(st, 4), cts);
		if (json) {
			cJSON *o = cJSON_CreateObject();
			if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
				cJSON_Delete(o);
				ret = 1;
				break;
			}
			cJSON_AddStringToObject(o, "host", h ? h : "");
			cJSON_AddStringToObject(o, "segment", s ? s : "");
			cJSON_AddNumberToObject(o, "bytes", (double)bytes);
			cJSON_AddBoolToObject(o, "complete", complete != 0);
			cJSON_AddStringToObject(o, "created", cts);
			cJSON_AddStringToObject(o, "updated", ts);
		} else {
			printf("%-20s  %-40s  %12lld  %-8s  %s\n", h ? h : "", s ? s : "",
			       (long long)bytes, complete ? "complete" : "open", ts);
		}
	}
	sqlite3_finalize(st);
	if (json && ret == 0) {
		char *out = cJSON_Print(arr);
		printf("%s\n", out ? out : "[]");
		free(out);
	}
	cJSON_Delete(arr);
	return ret;
}

/* Print the events of one stored segment (its acknowledged bytes only) at or after since. */
static int show_segment(const char *dir, const char *host, const char *seg, uint64_t bytes,
			int64_t since, unsigned long *pshown)
{
	char path[4200], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t pos = 0;
	unsigned long lineno = 0;
	FILE *f;
	int fd;

	if (!safe_name(host) || !safe_name(seg) || path_of(dir, host, seg, path, sizeof(path)) < 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || (f = fdopen(fd, "r")) == NULL) {
		int r = -errno;
		fprintf(stderr, "ssm-broker: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	while (pos < bytes && (n = getline(&line, &cap, f)) > 0) {
		cJSON *o, *ts;
		int64_t t;
		size_t len = (size_t)n;

		lineno++;
		/* bytes beyond the acknowledged length are not stored */
		if ((uint64_t)n > bytes - pos)
			len = (size_t)(bytes - pos);
		pos += (uint64_t)n;
		if (len == 0 || line[len - 1] != '\n') {
			fprintf(stderr, "ssm-broker: warning: %s line %lu: not a whole line: "
					"skipped\n",
				seg, lineno);
			continue;
		}
		o = cJSON_ParseWithLength(line, len);
		if (!cJSON_IsObject(o)) {
			fprintf(stderr, "ssm-broker: warning: %s line %lu: not a JSON object: "
					"skipped\n",
				seg, lineno);
			cJSON_Delete(o);
			continue;
		}
		ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
		if (since != INT64_MIN &&
		    (!cJSON_IsString(ts) || astore_parse_time(ts->valuestring, &t) < 0 ||
		     t < since)) {
			cJSON_Delete(o);
			continue;
		}
		cJSON_Delete(o);
		fwrite(line, 1, len, stdout);
		++*pshown;
	}
	free(line);
	fclose(f);
	return 0;
}

static int audit_show(struct broker *b, const char *host, int64_t since)
{
	sqlite3_stmt *st = brokerd_prep(b->db, "SELECT segment, bytes FROM audit_segments"
					" WHERE host=?1 ORDER BY created, rowid");
	unsigned long shown = 0;
	int nseg = 0, ret = 0;

	if (st == NULL) {
		fprintf(stderr, "ssm-broker: database error\n");
		return 1;
	}
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *seg = (const char *)sqlite3_column_text(st, 0);

		nseg++;
		if (seg == NULL || show_segment(b->dir, host, seg,
						(uint64_t)sqlite3_column_int64(st, 1), since,
						&shown) < 0)
			ret = 1;
	}
	sqlite3_finalize(st);
	if (nseg == 0) {
		fprintf(stderr, "ssm-broker: no audit segment stored for %s\n", host);
		return 1;
	}
	fflush(stdout);
	return ret;
}

int broker_audit_main(int argc, char **argv)
{
	const char *dir = BROKER_DEFAULT_STATE_DIR, *host = NULL, *since_s = NULL, *verb;
	int64_t since = INT64_MIN;
	struct broker *b = NULL;
	int i, json = 0, ret;

	if (argc < 2)
		return aerr("audit: list or show", NULL);
	verb = argv[1];
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strncmp(argv[i], "--state-dir=", 12) == 0)
			dir = argv[i] + 12;
		else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
			host = argv[++i];
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			since_s = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return aerr("unknown argument", argv[i]);
	}
	if (host != NULL && !ssm_ca_host_id_valid(host))
		return aerr("not a host id (mi- and 17 lowercase hex digits):", host);
	if (strcmp(verb, "list") == 0) {
		if (since_s != NULL)
			return aerr("audit list takes no --since", NULL);
	} else if (strcmp(verb, "show") == 0) {
		if (host == NULL)
			return aerr("audit show needs --host ID", NULL);
		if (json)
			return aerr("audit show prints the events as stored (JSON lines): "
				    "no --json",
				    NULL);
		if (since_s != NULL && astore_parse_time(since_s, &since) < 0)
			return aerr("--since: not an RFC 3339 time:", since_s);
	} else {
		return aerr("audit: list or show, not", verb);
	}
	if (broker_open(dir, 0, &b) < 0)
		return 2;
	if (ensure_schema(b->db) < 0) {
		fprintf(stderr, "ssm-broker: database error\n");
		broker_close(b);
		return 1;
	}
	ret = strcmp(verb, "list") == 0 ? audit_list(b, host, json) : audit_show(b, host, since);
	broker_close(b);
	return ret;
}
