/* sink_file.c - the file sink: asciicast lines appended to an fd opened by the privileged
 * part.  No buffering of its own (the recorder batches); flush is fdatasync(2).  The first
 * error (ENOSPC, EIO, EDQUOT, ...) is remembered and returned by every later call: a
 * transcript with a hole in it is not a transcript. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sink.h"
#include "util.h"

struct sink_file {
	struct ssm_sink base;
	int fd;
	int err;      /* sticky -errno */
	int can_sync; /* regular file: fdatasync means something */
};

static int file_write(struct ssm_sink *sink, const char *buf, size_t len)
{
	struct sink_file *f = (struct sink_file *)sink;
	int r;

	if (f->err)
		return f->err;
	if (f->fd < 0)
		return f->err = -EBADF;
	r = ssm_write_all(f->fd, buf, len);
	if (r < 0)
		f->err = r;
	return r;
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

static int file_close(struct ssm_sink *sink)
{
	struct sink_file *f = (struct sink_file *)sink;

	if (f->fd < 0)
		return f->err;
	(void)file_flush(sink);
	/* close(2) may report a deferred write error (NFS, EDQUOT); EINTR still closed it */
	if (close(f->fd) != 0 && errno != EINTR && !f->err)
		f->err = -errno;
	f->fd = -1;
	return f->err;
}

static void file_destroy(struct ssm_sink *sink)
{
	struct sink_file *f = (struct sink_file *)sink;

	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

static const struct ssm_sink_ops file_ops = {
    .name = "file",
    .write = file_write,
    .flush = file_flush,
    .close = file_close,
    .destroy = file_destroy,
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
	*psink = &f->base;
	return 0;
}
