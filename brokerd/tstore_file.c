/* tstore_file.c - the embedded transcript store (tstore.h): files under the state directory,
 * their durable length and completion in broker.db. */
#include "tstore.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tstore_obj {
	struct broker *b;
	char host[SSM_HOST_ID_LEN + 1];
	char sid[129];
	int fd;
	uint64_t size;   /* bytes appended */
	uint64_t synced; /* bytes durable */
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS transcripts (host TEXT NOT NULL, sid TEXT NOT NULL,"
	" document TEXT NOT NULL, bytes INTEGER NOT NULL DEFAULT 0,"
	" complete INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL,"
	" PRIMARY KEY (host, sid))";

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

static int path_of(const struct broker *b, const char *host, const char *sid, char *out,
		   size_t size)
{
	if (snprintf(out, size, "%s/transcripts/%s/%s.cast", b->dir, host, sid) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

/* names reaching the file system: a host id and a sid (docs/PROTOCOL.md string rules) */
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

int tstore_open(struct broker *b, const char *host, const char *sid, const char *doc,
		struct tstore_obj **po, uint64_t *psize, int *pcomplete, char *err,
		size_t errlen)
{
	char path[4200];
	struct tstore_obj *o;
	sqlite3_stmt *st;
	struct stat sb;
	int64_t bytes = 0;
	int complete = 0, r;

	if (!safe_name(host) || !safe_name(sid)) {
		snprintf(err, errlen, "bad host or session id");
		return -EINVAL;
	}
	if (ensure_schema(b->db) < 0) {
		snprintf(err, errlen, "database error");
		return -EIO;
	}
	st = brokerd_prep(b->db, "SELECT bytes, complete FROM transcripts WHERE host=?1 AND sid=?2");
	if (st == NULL) {
		snprintf(err, errlen, "database error");
		return -EIO;
	}
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		bytes = sqlite3_column_int64(st, 0);
		complete = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	snprintf(path, sizeof(path), "%s/transcripts", b->dir);
	if ((r = mkdir_p(path)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/transcripts/%s", b->dir, host);
	if ((r = mkdir_p(path)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if ((r = path_of(b, host, sid, path, sizeof(path))) < 0) {
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
	snprintf(o->sid, sizeof(o->sid), "%s", sid);
	o->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (o->fd < 0 || fstat(o->fd, &sb) != 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (o->fd >= 0)
			close(o->fd);
		free(o);
		return r;
	}
	/* the database's length is what was acknowledged; bytes beyond it (written, not yet
	 * synced when the broker stopped) are dropped: the host sends them again */
	if ((uint64_t)sb.st_size < (uint64_t)bytes) {
		/* the file lost acknowledged bytes: it cannot be resumed */
		snprintf(err, errlen, "%s is shorter (%lld) than what was acknowledged (%lld)", path,
			 (long long)sb.st_size, (long long)bytes);
		close(o->fd);
		free(o);
		return -EIO;
	}
	if ((uint64_t)sb.st_size > (uint64_t)bytes && ftruncate(o->fd, (off_t)bytes) != 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(o->fd);
		free(o);
		return r;
	}
	if (lseek(o->fd, (off_t)bytes, SEEK_SET) < 0) {
		r = -errno;
		close(o->fd);
		free(o);
		snprintf(err, errlen, "seek: %s", strerror(-r));
		return r;
	}
	o->size = o->synced = (uint64_t)bytes;
	st = brokerd_prep(b->db, "INSERT INTO transcripts (host, sid, document, bytes, complete,"
			  " updated) VALUES (?1, ?2, ?3, 0, 0, strftime('%s','now'))"
			  " ON CONFLICT (host, sid) DO NOTHING");
	if (st == NULL || (sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC),
			   sqlite3_bind_text(st, 2, sid, -1, SQLITE_STATIC),
			   sqlite3_bind_text(st, 3, doc, -1, SQLITE_STATIC),
			   sqlite3_step(st)) != SQLITE_DONE) {
		sqlite3_finalize(st);
		snprintf(err, errlen, "database error");
		close(o->fd);
		free(o);
		return -EIO;
	}
	sqlite3_finalize(st);
	*po = o;
	*psize = o->size;
	*pcomplete = complete;
	return 0;
}

int tstore_append(struct tstore_obj *o, const void *p, size_t n)
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

static int set_bytes(struct tstore_obj *o, int complete)
{
	sqlite3_stmt *st = brokerd_prep(o->b->db, "UPDATE transcripts SET bytes=?1, complete=?2,"
					" updated=strftime('%s','now') WHERE host=?3 AND sid=?4");
	int r;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)o->synced);
	sqlite3_bind_int(st, 2, complete);
	sqlite3_bind_text(st, 3, o->host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, o->sid, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}

int tstore_sync(struct tstore_obj *o)
{
	if (o->synced == o->size)
		return 0;
	if (fdatasync(o->fd) != 0)
		return -errno;
	o->synced = o->size;
	return set_bytes(o, 0);
}

int tstore_complete(struct tstore_obj *o)
{
	int r = tstore_sync(o);

	return r < 0 ? r : set_bytes(o, 1);
}

void tstore_close(struct tstore_obj *o)
{
	if (o == NULL)
		return;
	close(o->fd);
	free(o);
}

int tstore_read(struct broker *b, const char *sid, const char *host, int *pfd,
		uint64_t *psize, int *pcomplete)
{
	char path[4200], h[SSM_HOST_ID_LEN + 1] = "";
	sqlite3_stmt *st;
	int n = 0, fd;

	/* never by sid alone: any host can deliver a transcript under any sid */
	if (host == NULL || !safe_name(sid) || !safe_name(host) || ensure_schema(b->db) < 0)
		return -EINVAL;
	st = brokerd_prep(b->db, "SELECT host, bytes, complete FROM transcripts WHERE sid=?1"
			  " AND (?2 IS NULL OR host=?2)");
	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	if (host)
		sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	while (sqlite3_step(st) == SQLITE_ROW) {
		n++;
		snprintf(h, sizeof(h), "%s", (const char *)sqlite3_column_text(st, 0));
		*psize = (uint64_t)sqlite3_column_int64(st, 1);
		*pcomplete = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);
	if (n != 1)
		return n == 0 ? -ENOENT : -EEXIST;
	if (path_of(b, h, sid, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	*pfd = fd;
	return 0;
}
