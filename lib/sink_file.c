/* sink_file.c - the file sink: asciicast lines appended to an fd opened by the privileged
 * part.  No buffering of its own (the recorder batches); flush is fdatasync(2).  The first
 * error (ENOSPC, EIO, EDQUOT, ...) is remembered and returned by every later call: a
 * transcript with a hole in it is not a transcript.
 *
 * Space is reserved on request (the recorder asks before its relay passes output on ahead
 * of the write): fallocate(2) with FALLOC_FL_KEEP_SIZE allocates blocks past the end of the
 * file without changing its size, so that the later write(2)s into them cannot meet
 * ENOSPC or EDQUOT.  Reserving in steps of 1 MiB makes it one system call per MiB of
 * transcript; when the step does not fit (the disk almost full) exactly what was asked is
 * tried.  RLIMIT_FSIZE is not checked by fallocate: a reservation past the soft limit is
 * refused here (EFBIG), as the write would be.  On close the blocks reserved beyond the
 * data are given back: ftruncate(2) to the size frees blocks past EOF on ext4, XFS and tmpfs
 * (checked with st_blocks; if not, size + 1 and back).  A write that fails is truncated
 * away, so the file ends with the last whole line that was written. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "sink.h"
#include "util.h"

#define RESERVE_STEP (1024 * 1024)

struct sink_file {
	struct ssm_sink base;
	int fd;
	int err;        /* sticky -errno */
	int can_sync;   /* regular file: fdatasync means something */
	int no_falloc;  /* -EOPNOTSUPP once fallocate said so, or not a regular file */
	uint64_t start; /* size of the file when the sink took it */
	uint64_t size;  /* the file's size: start + bytes written */
	uint64_t alloc; /* blocks are allocated up to this offset (KEEP_SIZE) */
};

/* write(2) all of buf, or fail with nothing of it left in the file. */
static int file_write(struct ssm_sink *sink, const char *buf, size_t len)
{
	struct sink_file *f = (struct sink_file *)sink;
	size_t off = 0;

	if (f->err)
		return f->err;
	if (f->fd < 0)
		return f->err = -EBADF;
	while (off < len) {
		ssize_t n = write(f->fd, buf + off, len - off);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		f->err = n < 0 ? -errno : -EIO;
		/* a partial line is not asciicast: give back what this write put there (a
		 * smaller size never fails for space, quota or RLIMIT_FSIZE) */
		if (off > 0 && f->can_sync && ftruncate(f->fd, (off_t)f->size) != 0)
			ssm_log(LOG_ERR, "transcript: a failed write left a cut line: %s",
			        strerror(errno));
		return f->err;
	}
	f->size += len;
	if (f->size > f->alloc)
		f->alloc = f->size;
	return 0;
}

static int file_flush(struct ssm_sink *sink)
{
	struct sink_file *f = (struct sink_file *)sink;

	if (f->err)
		return f->err;
	if (f->fd < 0)
		return f->err = -EBADF;
	if (f->can_sync && fdatasync(f->fd) != 0)
		f->err = errno == EINTR ? -EIO : -errno;
	return f->err;
}

static int space_error(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EFBIG;
}

static int file_reserve(struct ssm_sink *sink, uint64_t upto)
{
	struct sink_file *f = (struct sink_file *)sink;
	struct rlimit rl;
	uint64_t end, target, limit = UINT64_MAX;

	if (f->err)
		return f->err;
	if (f->fd < 0)
		return -EBADF;
	if (f->no_falloc)
		return -EOPNOTSUPP;
	if (upto > UINT64_MAX - f->start - 2 * RESERVE_STEP)
		return -EFBIG;
	end = f->start + upto;
	if (end <= f->alloc)
		return 0;
	/* the soft limit: a write past it fails with EFBIG (SIGXFSZ, ignored by ssm-shell) */
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		limit = (uint64_t)rl.rlim_cur;
	if (end > limit)
		return -EFBIG;
	target = end + RESERVE_STEP;
	if (target > limit)
		target = limit;
	if (sink->ceiling && target > f->start + sink->ceiling) /* the transcript's size cap */
		target = end > f->start + sink->ceiling ? end : f->start + sink->ceiling;
	if (target > INT64_MAX)
		return -EFBIG;
	for (;;) {
		if (fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)f->alloc,
		              (off_t)(target - f->alloc)) == 0) {
			f->alloc = target;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EOPNOTSUPP || errno == ENOSYS) {
			f->no_falloc = 1;
			return -EOPNOTSUPP;
		}
		if (!space_error(errno) || target == end)
			return -errno;
		target = end; /* the step does not fit: just what is needed */
	}
}

/* Give back the blocks reserved beyond the data. */
static void release_reserve(struct sink_file *f)
{
	struct stat st;
	struct rlimit rl;

	if (!f->can_sync || f->no_falloc || f->alloc <= f->size)
		return;
	if (ftruncate(f->fd, (off_t)f->size) != 0 || fstat(f->fd, &st) != 0)
		return;
	/* more than the data's blocks (with a block of slack) still held: some file systems
	 * keep blocks past EOF when the size does not change */
	if ((uint64_t)st.st_blocks * 512 <= f->size + 2 * (uint64_t)st.st_blksize)
		return;
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    f->size + 1 > (uint64_t)rl.rlim_cur)
		return;
	if (ftruncate(f->fd, (off_t)(f->size + 1)) == 0 && ftruncate(f->fd, (off_t)f->size) != 0)
		f->err = f->err ? f->err : -errno; /* one byte too many in the file */
}

static int file_close(struct ssm_sink *sink)
{
	struct sink_file *f = (struct sink_file *)sink;

	if (f->fd < 0)
		return f->err;
	(void)file_flush(sink);
	release_reserve(f);
	/* close(2) may report a deferred write error (NFS, EDQUOT); EINTR still closed it */
	if (close(f->fd) != 0 && errno != EINTR && !f->err)
		f->err = -errno;
	f->fd = -1;
	return f->err;
}

static void file_destroy(struct ssm_sink *sink)
{
	struct sink_file *f = (struct sink_file *)sink;

	if (f->fd >= 0) {
		release_reserve(f);
		close(f->fd);
	}
	free(f);
}

static const struct ssm_sink_ops file_ops = {
    .name = "file",
    .write = file_write,
    .flush = file_flush,
    .close = file_close,
    .destroy = file_destroy,
    .reserve = file_reserve,
};

int ssm_sink_file_new(int fd, struct ssm_sink **psink)
{
	struct sink_file *f;
	struct stat st;

	*psink = NULL;
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) != 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		close(fd);
		return -ENOMEM;
	}
	f->base.ops = &file_ops;
	f->fd = fd;
	f->can_sync = S_ISREG(st.st_mode);
	f->no_falloc = !f->can_sync;
	if (f->can_sync && st.st_size > 0)
		f->start = (uint64_t)st.st_size;
	f->size = f->alloc = f->start;
	*psink = &f->base;
	return 0;
}
