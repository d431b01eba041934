/* replay.h - the per-host replay cache: a jti is accepted once while its token may be valid.
 *
 * One file per jti (name: sha256 of the jti) under state_dir/replay, created with O_EXCL,
 * mtime = keep-until, fsync'ed with its directory before success: atomic across processes,
 * and a crash never forgets an accepted jti.  Expired entries are pruned at most once a
 * minute. */
#ifndef SSM_REPLAY_H
#define SSM_REPLAY_H
#include <stdint.h>

/* 0 first use (recorded); -EEXIST replay (an unexpired entry exists); other -errno: I/O. */
int ssm_replay_check_and_add(const char *state_dir, const char *jti, int64_t keep_until,
                             int64_t now);
/* 1 if the jti is recorded and unexpired, 0 if not, -errno on I/O error.  Never records. */
int ssm_replay_seen(const char *state_dir, const char *jti, int64_t now);
/* The same by entry name (ssm_replay_key of the jti: 64 lower-case hex digits), for code
 * that links no SHA-256 (the PAM module gets the name from the verifier).  durable 0 skips
 * the fsyncs (replay_durability "boot": the caller refuses tokens issued before boot). */
int ssm_replay_check_and_add_key(const char *state_dir, const char *key, int64_t keep_until,
                                 int64_t now, int durable);
int ssm_replay_seen_key(const char *state_dir, const char *key, int64_t now);
/* key = lower-case hex SHA-256 of the jti; 0 or -EINVAL (empty or over 4096 bytes). */
int ssm_replay_key(const char *jti, char key[65]);
/* Remove expired entries; returns how many, or -errno. */
int ssm_replay_prune(const char *state_dir, int64_t now);

#endif
