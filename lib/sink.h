/* sink.h - transcript sinks: where asciicast lines go (file now, broker stream and syslog
 * later), one interface as tlog's sink types and OpenSSH's sandbox-*.c back ends. */
#ifndef SSM_SINK_H
#define SSM_SINK_H
#include <stddef.h>

struct ssm_sink;

struct ssm_sink_ops {
	const char *name;
	/* Accept whole asciicast lines (each ends in '\n').  May buffer.  0 or -errno; an error
	 * is final: the recorder ends the session (never runs it unrecorded). */
	int (*write)(struct ssm_sink *sink, const char *buf, size_t len);
	/* Push buffered lines to their destination (file: write(2) + fdatasync). */
	int (*flush)(struct ssm_sink *sink);
	/* Flush and release the destination; reports the last error. */
	int (*close)(struct ssm_sink *sink);
	void (*destroy)(struct ssm_sink *sink);
};

struct ssm_sink {
	const struct ssm_sink_ops *ops;
};

static inline int ssm_sink_write(struct ssm_sink *s, const char *buf, size_t len)
{
	return s->ops->write(s, buf, len);
}
static inline int ssm_sink_flush(struct ssm_sink *s)
{
	return s->ops->flush(s);
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
 * root-owned 0640).  Takes ownership of fd. */
int ssm_sink_file_new(int fd, struct ssm_sink **psink);

/* Fan out to several sinks (file + broker): a write error of a sink marked required is
 * returned; others are reported through ssm_log and dropped. */
int ssm_sink_tee_new(struct ssm_sink **sinks, const int *required, size_t n,
                     struct ssm_sink **psink);

#endif
