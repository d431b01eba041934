/* audit.h - log_dir/audit.jsonl: one JSON object a line (SPEC section 6) */
#ifndef SSM_AUDIT_H
#define SSM_AUDIT_H
#include <cjson/cJSON.h>
#include <stdint.h>

struct ssm_audit_session {
	const char *sid, *sub, *run_as, *doc;
};

/* Open log_dir/audit.jsonl for appending (created 0640 root-owned, log_dir created 0750
 * if missing).  Returns fd or -errno. */
int ssm_audit_open(const char *log_dir);

/* Append {"ts","event","host_id", sid/sub/run_as/doc if s, then every member of extra}
 * as one line with a single write(2), then fdatasync.  extra may be NULL; not consumed.
 * 0 or -errno. */
int ssm_audit_write_fd(int fd, int64_t now, const char *host_id, const char *event,
                       const struct ssm_audit_session *s, const cJSON *extra);
/* Open, write, close. */
int ssm_audit_write(const char *log_dir, int64_t now, const char *host_id, const char *event,
                    const struct ssm_audit_session *s, const cJSON *extra);

#endif
