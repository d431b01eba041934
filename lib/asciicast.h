/* asciicast.h - the recorder: turns terminal bytes into asciicast v2 lines
 * (https://docs.asciinema.org/manual/asciicast/v2/) and hands them to a sink.
 *
 * Output bytes may split UTF-8 sequences across reads: an incomplete tail is held for the
 * next event; invalid bytes become U+FFFD so every line is valid JSON that asciinema reads.
 * Lines are batched and flushed when ssm_rec_tick() finds the last flush a second old, or
 * when the batch buffer is full, and on close.  The running size and sha256 of everything
 * handed to the sink are kept for the session_end audit event. */
#ifndef SSM_ASCIICAST_H
#define SSM_ASCIICAST_H
#include <stddef.h>
#include <stdint.h>
#include "sink.h"

struct ssm_rec;

struct ssm_rec_header {
	unsigned width, height;
	int64_t timestamp;       /* unix seconds of the start */
	const char *term;        /* TERM, may be NULL */
	const char *shell;       /* SHELL, may be NULL */
	const char *title;       /* e.g. "sid on host_id", may be NULL */
};

enum ssm_rec_state { SSM_REC_OK = 0, SSM_REC_LIMIT_REACHED = 1 };

/* max_bytes: cap on the transcript size (0 none).  Takes ownership of sink.
 * mono_start_ns: CLOCK_MONOTONIC time of the session start; event times are relative to it. */
int ssm_rec_new(struct ssm_sink *sink, const struct ssm_rec_header *hdr, uint64_t max_bytes,
                uint64_t mono_start_ns, struct ssm_rec **prec);

/* Record terminal output ('o'), input ('i') or a resize ('r').  Return 0, SSM_REC_LIMIT_REACHED
 * when this event would pass max_bytes (nothing more is recorded; the caller applies the
 * configured action), or -errno when the sink failed. */
int ssm_rec_output(struct ssm_rec *rec, uint64_t mono_ns, const void *buf, size_t len);
int ssm_rec_input(struct ssm_rec *rec, uint64_t mono_ns, const void *buf, size_t len);
int ssm_rec_resize(struct ssm_rec *rec, uint64_t mono_ns, unsigned width, unsigned height);

/* 1 when ssm_rec_output(rec, ..., len bytes) cannot fail for the cap or an earlier sink
 * error (it may still meet a new sink error when it hands a full batch on), 0 when it might:
 * a relay may then pass the bytes on before it records them, and must record first
 * otherwise. */
int ssm_rec_can_take(const struct ssm_rec *rec, size_t len);

/* Flush if the last flush is >= 1 s old.  Returns 0 or -errno.  *pnext_ns (if not NULL)
 * receives the monotonic time the next flush is due, or UINT64_MAX when nothing is buffered. */
int ssm_rec_tick(struct ssm_rec *rec, uint64_t mono_ns, uint64_t *pnext_ns);

/* Flush everything, close the sink and report totals; sha256 is 65 bytes of hex. */
int ssm_rec_close(struct ssm_rec *rec, uint64_t *pbytes, char sha256[65]);
void ssm_rec_free(struct ssm_rec *rec);

#endif
