/* sink.h - transcript sinks: where asciicast lines go (file now, broker stream and syslog
 * later), one interface as tlog's sink types and OpenSSH's sandbox-*.c back ends. */
#ifndef SSM_SINK_H
#define SSM_SINK_H
#include <stddef.h>
#include <stdint.h>
#include <errno.h>

struct ssm_sink;

struct ssm_sink_ops {
	const char *name;
	/* Accept whole asciicast lines (each ends in '\n').  May buffer.  0 or -errno; an error
	 * is final: the recorder ends the session (never runs it unrecorded).  A write that
	 * fails leaves nothing of itself behind (the file sink truncates back to the end of
	 * the last write that succeeded), so the destination keeps whole lines only. */
	int (*write)(struct ssm_sink *sink, const char *buf, size_t len);
	/* Push buffered lines to their destination (file: write(2) + fdatasync). */
	int (*flush)(struct ssm_sink *sink);
	/* Flush and release the destination; reports the last error. */
	int (*close)(struct ssm_sink *sink);
	void (*destroy)(struct ssm_sink *sink);
	/* Optional (NULL: cannot).  Guarantee that later writes up to upto bytes in all
	 * (counted from the sink's first byte) cannot fail for lack of space: a full file
	 * system, a quota, a file size limit.  0, or -errno and nothing changed for the
	 * sink: -EOPNOTSUPP (cannot reserve), -ENOSPC, -EDQUOT, -EFBIG (the space is not
	 * there).  Not sticky: the recorder then writes synchronously instead.  An I/O
	 * error cannot be reserved away. */
	int (*reserve)(struct ssm_sink *sink, uint64_t upto);
};

struct ssm_sink {
	const struct ssm_sink_ops *ops;
	/* the most bytes this sink will be handed (0: no bound), set by its recorder from the
	 * transcript size cap: a reservation never reaches past it */
	uint64_t ceiling;
};

static inline int ssm_sink_write(struct ssm_sink *s, const char *buf, size_t len)
{
	return s->ops->write(s, buf, len);
}
static inline int ssm_sink_flush(struct ssm_sink *s)
{
	return s->ops->flush(s);
}
/* -EOPNOTSUPP for a sink without the operation */
static inline int ssm_sink_reserve(struct ssm_sink *s, uint64_t upto)
{
	return s->ops->reserve ? s->ops->reserve(s, upto) : -EOPNOTSUPP;
}
static inline int ssm_sink_close(struct ssm_sink *s)
{
	return s->ops->close(s);
}
static inline void ssm_sink_destroy(struct ssm_sink *s)
{
	if (s)
		s->ops->destroy(s);
}

/* File sink over an fd opened by the privileged part (O_WRONLY|O_APPEND|O_CREAT|O_EXCL,
 * root-owned 0640).  Takes ownership of fd.  reserve: fallocate(2) with FALLOC_FL_KEEP_SIZE
 * ahead of the data in steps of 1 MiB (just what is asked when the step does not fit),
 * within the RLIMIT_FSIZE soft limit; close gives back what was reserved beyond the data
 * (ftruncate to the size).  -EOPNOTSUPP where the file system has no fallocate or the fd
 * is not a regular file. */
int ssm_sink_file_new(int fd, struct ssm_sink **psink);

/* Fan out to several sinks (file + broker): a write error of a sink marked required is
 * returned; others are reported through ssm_log and dropped.  reserve reserves in every
 * required sink (-EOPNOTSUPP if one cannot); optional ones are not asked. */
int ssm_sink_tee_new(struct ssm_sink **sinks, const int *required, size_t n,
                     struct ssm_sink **psink);

#endif
