/* replay.c - the per-host replay cache (see replay.h)
 *
 * Layout: state_dir/replay/ (0700, root), one entry per accepted jti named by the
 * lower-case hex sha256 of the jti.  An entry holds its keep-until time as decimal text
 * and carries it as its mtime too.
 *
 * How an entry is added, so that it is never visible half-written:
 *   1. a private temp file ".tmp-PID-N" is created with O_CREAT|O_EXCL|O_NOFOLLOW 0600,
 *      keep-until is written into it and its mtime is set to keep-until (futimens): the
 *      entry is complete before anybody can see it under its name;
 *   2. linkat(temp, NAME) publishes it: link(2) fails with EEXIST when NAME exists, so it
 *      is the O_EXCL of the entry name, atomic across processes;
 *   3. the temp name is unlinked; the entry is fsync'ed (data and the mtime), then the
 *      directory (its new name), both before success is returned, so that a crash after
 *      success never forgets the jti.  The file is fsync'ed after the link, not before:
 *      durability is the same (both fsyncs still precede success, and until then the jti
 *      counts as not accepted whatever a crash leaves), but on a journalling file system
 *      the file's fsync then commits the link in the same transaction and the directory's
 *      fsync finds nothing left to commit: one journal commit per login instead of two.
 *      A refused (replayed) token costs no file fsync at all.
 * Creating NAME itself with O_EXCL and filling it afterwards would leave a window in which
 * a pruner sees an entry with its creation time as mtime (already "expired") and removes
 * it while its creator goes on to report success: a replay hole.
 *
 * Removing an entry (replacing an expired one, pruning) happens only under an exclusive
 * flock(2) on the replay directory, and the entry is re-checked under the lock.  Entries
 * are only ever created by link(2), which cannot replace, so while the lock is held nobody
 * can swap the entry under the checker: of several processes racing to reuse an expired
 * jti exactly one wins, and a pruner never removes a fresh entry.
 */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "replay.h"
#include "util.h"

#define REPLAY_SUBDIR "replay"
#define REPLAY_STAMP ".prune-stamp"
#define REPLAY_TMP_PREFIX ".tmp-"
#define REPLAY_PRUNE_INTERVAL 60
/* a temp file older than this (real time) is a crash leftover */
#define REPLAY_TMP_MAX_AGE 300

static int dir_is_safe(int fd, const char *what)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		ssm_log(LOG_ERR, "%s: not a directory", what);
		return -ENOTDIR;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		ssm_log(LOG_ERR, "%s: owned by uid %u, not root: refusing it", what,
			(unsigned)st.st_uid);
		return -EACCES;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		ssm_log(LOG_ERR, "%s: writable by group or others (mode %04o): refusing it", what,
			(unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	return 0;
}

/* After creating path (relative to dirfd): make its directory entry durable, or a crash
 * could take the whole cache, and the jtis it holds, with it. */
static int fsync_parent(int dirfd, const char *path)
{
	char parent[PATH_MAX];
	const char *slash;
	int fd, r = 0;

	if (dirfd != AT_FDCWD)
		return fsync(dirfd) == 0 ? 0 : -errno;
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == path)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

/* Open (and with create, make) dirfd/name as a safe directory; never follows a symlink. */
static int open_dir_at(int dirfd, const char *name, const char *what, mode_t mode, int create)
{
	int fd, r, made = 0;

	/* the common case first: it exists (no mkdir attempt on every login) */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dirfd, name, mode) == 0) {
			made = 1;
			r = fsync_parent(dirfd, name);
			if (r < 0)
				return r;
		} else if (errno != EEXIST) {
			return -errno;
		}
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP || r == -ENOTDIR) {
			ssm_log(LOG_ERR, "%s: not a directory (or a symlink): refusing it", what);
			return -EACCES;
		}
		return r;
	}
	/* the umask may have narrowed the mode: set exactly what was asked */
	if (made && fchmod(fd, mode) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = dir_is_safe(fd, what);
	if (r < 0) {
		close(fd);
		return r == -ENOTDIR ? -EACCES : r;
	}
	return fd;
}

/* fd of state_dir/replay, or -errno; create makes state_dir (0755) and replay (0700). */
static int replay_dir_open(const char *state_dir, int create)
{
	char what[PATH_MAX];
	int sfd, fd;

	if (state_dir == NULL || state_dir[0] == '\0')
		return -EINVAL;
	sfd = open_dir_at(AT_FDCWD, state_dir, state_dir, 0755, create);
	if (sfd < 0)
		return sfd;
	snprintf(what, sizeof(what), "%s/" REPLAY_SUBDIR, state_dir);
	fd = open_dir_at(sfd, REPLAY_SUBDIR, what, 0700, create);
	close(sfd);
	return fd;
}

static int is_entry_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64 || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return i == 64;
}

/* The keep-until of an entry: the later of its mtime and its text (either alone would do;
 * both are fsync'ed, taking the later one fails closed if one was not).  0, -ENOENT, -errno. */
static int entry_keep_until(int dfd, const char *name, int64_t *pkeep)
{
	char buf[32];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int64_t keep;
	int fd, r;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return errno == ELOOP ? -EIO : -errno;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EIO;
		goto out;
	}
	keep = (int64_t)st.st_mtim.tv_sec;
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len > 0) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(buf, &end, 10);
		if (errno == 0 && end != buf && (*end == '\n' || *end == '\0') && v > keep)
			keep = (int64_t)v;
	}
	*pkeep = keep;
	r = 0;
out:
	close(fd);
	return r;
}

/* Write a complete entry under a temp name, not yet fsync'ed.  Returns its open fd (the
 * caller fsyncs and closes it) or -errno; *tmpname is the name used. */
static int entry_write_tmp(int dfd, int64_t keep_until, int64_t now, char *tmpname,
			   size_t tmpsz)
{
	static unsigned int counter;
	struct timespec ts[2];
	char text[32];
	int fd = -1, r, tries;

	for (tries = 0; tries < 100; tries++) {
		snprintf(tmpname, tmpsz, REPLAY_TMP_PREFIX "%ld-%u", (long)getpid(), counter++);
		fd = openat(dfd, tmpname,
			    O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return -errno;
	snprintf(text, sizeof(text), "%" PRId64 "\n", keep_until);
	r = ssm_write_all(fd, text, strlen(text));
	if (r < 0)
		goto fail;
	ts[0].tv_sec = (time_t)now;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = (time_t)keep_until;
	ts[1].tv_nsec = 0;
	if (futimens(fd, ts) != 0) {
		r = -errno;
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmpname, 0);
	return r;
}

static int lock_dir(int dfd, int nonblock)
{
	while (flock(dfd, LOCK_EX | (nonblock ? LOCK_NB : 0)) != 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static void unlock_dir(int dfd)
{
	flock(dfd, LOCK_UN);
}

/* Remove expired entries and old temp files; the caller holds the lock. */
static int prune_locked(int dfd, int64_t now)
{
	struct dirent *de;
	DIR *d;
	int64_t keep;
	time_t real_now = time(NULL);
	int fd, n = 0;

	fd = dup(dfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (is_entry_name(de->d_name)) {
			if (entry_keep_until(dfd, de->d_name, &keep) == 0 && keep <= now &&
			    unlinkat(dfd, de->d_name, 0) == 0)
				n++;
		} else if (strncmp(de->d_name, REPLAY_TMP_PREFIX, strlen(REPLAY_TMP_PREFIX)) == 0) {
			struct stat st;

			/* a crash leftover (never linked) or a live writer's: age decides */
			if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_ctim.tv_sec + REPLAY_TMP_MAX_AGE < real_now)
				unlinkat(dfd, de->d_name, 0);
		}
	}
	closedir(d);
	if (n > 0 && fsync(dfd) != 0)
		return -errno;
	return n;
}

/* At most once per REPLAY_PRUNE_INTERVAL, guarded by the stamp's mtime; never fails. */
static void prune_maybe(int dfd, int64_t now)
{
	struct timespec ts[2];
	struct stat st;
	int fd, r;

	if (fstatat(dfd, REPLAY_STAMP, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (int64_t)st.st_mtim.tv_sec <= now &&
	    now - (int64_t)st.st_mtim.tv_sec < REPLAY_PRUNE_INTERVAL)
		return;
	/* somebody else is pruning or replacing: leave it to them */
	if (lock_dir(dfd, 1) < 0)
		return;
	fd = openat(dfd, REPLAY_STAMP, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		    0600);
	if (fd < 0)
		goto out;
	/* re-check under the lock, then claim this interval */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    ((int64_t)st.st_mtim.tv_sec <= now &&
	     now - (int64_t)st.st_mtim.tv_sec < REPLAY_PRUNE_INTERVAL && st.st_size > 0)) {
		close(fd);
		goto out;
	}
	ts[0].tv_sec = ts[1].tv_sec = (time_t)now;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	/* one byte marks a stamp that has been set (a fresh file has mtime = real time) */
	if (st.st_size == 0)
		(void)!write(fd, "\n", 1);
	(void)futimens(fd, ts);
	close(fd);
	r = prune_locked(dfd, now);
	if (r < 0)
		ssm_log(LOG_DEBUG, "replay cache: pruning failed: %s", strerror(-r));
out:
	unlock_dir(dfd);
}

static int is_lower_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int key_valid(const char *key)
{
	return key != NULL && strnlen(key, 65) == 64 && ssm_str_charset(key, 64, 64, is_lower_hex);
}

int ssm_replay_check_and_add_key(const char *state_dir, const char *name, int64_t keep_until,
				 int64_t now, int durable)
{
	char tmp[64];
	int64_t keep;
	int dfd, tfd, r, locked = 0, attempt;

	if (!key_valid(name) || keep_until < 0 || now < 0)
		return -EINVAL;
	dfd = replay_dir_open(state_dir, 1);
	if (dfd < 0)
		return dfd;

	prune_maybe(dfd, now);

	tfd = entry_write_tmp(dfd, keep_until, now, tmp, sizeof(tmp));
	if (tfd < 0) {
		r = tfd;
		goto out;
	}
	/* first try without the lock: the common case; then at most once more, under the
	 * lock, after removing an entry found expired under that lock */
	for (attempt = 0; attempt < 2; attempt++) {
		if (linkat(dfd, tmp, dfd, name, 0) == 0) {
			r = 0;
			break;
		}
		if (errno != EEXIST) {
			r = -errno;
			break;
		}
		if (attempt == 0) {
			r = lock_dir(dfd, 0);
			if (r < 0)
				break;
			locked = 1;
		}
		r = entry_keep_until(dfd, name, &keep);
		if (r == -ENOENT && attempt == 0) {
			/* removed by a pruner between our link and now: take the name */
			continue;
		}
		if (r == -ENOENT) {
			/* cannot happen while we hold the lock: fail closed */
			r = -EEXIST;
			break;
		}
		if (r < 0)
			break;
		if (keep > now || attempt > 0) {
			r = -EEXIST;
			break;
		}
		/* expired, and we hold the lock: nobody can change it under us */
		if (unlinkat(dfd, name, 0) != 0) {
			r = -errno;
			break;
		}
	}
	if (locked)
		unlock_dir(dfd);
	unlinkat(dfd, tmp, 0);
	/* the entry's data and mtime (fsync, not just fdatasync: the mtime must be durable as
	 * well), then its name and the temp name's removal: see the top of this file */
	if (durable && r == 0 && fsync(tfd) != 0)
		r = -errno;
	if (close(tfd) != 0 && r == 0)
		r = -EIO;
	if (durable && fsync(dfd) != 0 && r == 0)
		r = -errno;
	/* (an error is the caller's to report, in its one line) */
	if (r == -EEXIST)
		ssm_log(LOG_DEBUG, "replay cache: jti already used (entry %.16s...)", name);
out:
	close(dfd);
	return r;
}

int ssm_replay_seen_key(const char *state_dir, const char *name, int64_t now)
{
	int64_t keep;
	int dfd, r;

	if (!key_valid(name))
		return -EINVAL;
	dfd = replay_dir_open(state_dir, 0);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	r = entry_keep_until(dfd, name, &keep);
	if (r == 0)
		r = keep > now;
	else if (r == -ENOENT)
		r = 0;
	close(dfd);
	return r;
}

int ssm_replay_prune(const char *state_dir, int64_t now)
{
	int dfd, r;

	dfd = replay_dir_open(state_dir, 0);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	r = lock_dir(dfd, 0);
	if (r == 0) {
		r = prune_locked(dfd, now);
		unlock_dir(dfd);
	}
	close(dfd);
	return r;
}
