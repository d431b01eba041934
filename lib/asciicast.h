/* asciicast.h - the recorder: turns terminal bytes into asciicast v2 lines
 * (https://docs.asciinema.org/manual/asciicast/v2/) and hands them to a sink.
 *
 * Output bytes may split UTF-8 sequences across reads: an incomplete tail is held for the
 * next event; invalid bytes become U+FFFD so every line is valid JSON that asciinema reads.
 * Lines are batched and flushed when ssm_rec_tick() finds the last flush a second old, or
 * when the batch buffer is full, and on close.  The running size and sha256 of everything
 * handed to the sink are kept for the session_end audit event.  Space for output a relay
 * passes on before recording it is reserved in the sink first (ssm_rec_reserve). */
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

/* Before a relay passes len bytes of output on ahead of recording them.  0 when
 * ssm_rec_output(rec, ..., len bytes) cannot fail for the size cap, an earlier sink error or
 * lack of space: the sink reserved room for the worst case of the pending batch plus this
 * event (most calls only compare: the file sink reserves in large steps).  Otherwise the
 * relay must record first and pass the bytes on only after ssm_rec_secure() returned 0:
 * SSM_REC_LIMIT_REACHED when the cap is within reach, -EOPNOTSUPP when the sink cannot
 * reserve, -ENOSPC, -EDQUOT or -EFBIG when the space is not there (none of them final),
 * or the sink's sticky -errno.  Output passed on after 0 lies in the transcript before
 * anything recorded later, within the reservation: later events cannot take its room.
 *
 * What "recorded" means: handed to the sink in lines it has room reserved for, then
 * accepted by write(2) into blocks the file system allocated (once the batch is full, at
 * the next tick, or at once when nothing could be reserved); durable after the next
 * fdatasync (ssm_rec_tick, once a second).  An I/O error cannot be reserved away: EIO from
 * write(2) ends the session, but the batch not yet written (up to 64 KiB, at most a second
 * old) and the chunk just passed on are then missing although the client got them; EIO
 * from fdatasync ends it too, and what was written since the last good fdatasync (about a
 * second of output) may be missing from the disk (the page cache may still show it). */
int ssm_rec_reserve(struct ssm_rec *rec, size_t len);

/* Make everything recorded so far safe from lack of space: reserved in the sink at its
 * exact size, or else handed to the sink now (write(2), no fdatasync).  0 or -errno
 * (final, as any sink error: the session ends and the bytes are not passed on). */
int ssm_rec_secure(struct ssm_rec *rec);

/* Flush if the last flush is >= 1 s old.  Returns 0 or -errno.  *pnext_ns (if not NULL)
 * receives the monotonic time the next flush is due, or UINT64_MAX when nothing is buffered. */
int ssm_rec_tick(struct ssm_rec *rec, uint64_t mono_ns, uint64_t *pnext_ns);

/* Bytes handed to the sink so far (header included): what the transcript file holds, but
 * for the batch of at most a second not yet written. */
uint64_t ssm_rec_written(const struct ssm_rec *rec);

/* Flush everything, close the sink and report totals; sha256 is 65 bytes of hex. */
int ssm_rec_close(struct ssm_rec *rec, uint64_t *pbytes, char sha256[65]);
void ssm_rec_free(struct ssm_rec *rec);

#endif
