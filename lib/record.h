/* record.h - live session records under run_dir/sessions, written by pam_ssmsession's
 * session step (root-owned, 0600, atomic rename) and read by ssm-shell (setuid root) and
 * ssmctl (root): a record holds the token's jti and parameters, so no other user reads it.
 *
 * A record is keyed by the process that opened the PAM session: its pid and its start
 * time (field 22 of /proc/PID/stat), file name "PID-STARTTIME.json".  ssm-shell finds its
 * record by walking its own ancestors, so a login that did not go through the module (an
 * SSH key, the console) finds none, and a pid reused later does not match the start time. */
#ifndef SSM_RECORD_H
#define SSM_RECORD_H
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

struct ssm_record {
	char *sid, *sub, *run_as, *jti, *host_id;
	char *doc_name;
	char doc_sha256[65];
	cJSON *params;          /* object or NULL */
	int64_t exp;            /* token expiry */
	int64_t created;
	pid_t pid;              /* the PAM session process */
	uint64_t starttime;
	uint32_t audit_session; /* /proc/PID/sessionid at open, 4294967295 = unset */
	/* optional (members absent in older records): PAM_SERVICE, PAM_RHOST, PAM_TTY at open;
	 * NULL when unknown.  At most 256 bytes of UTF-8, no control character. */
	char *service, *rhost, *tty;
};

int ssm_proc_stat(pid_t pid, pid_t *pppid, uint64_t *pstarttime);
/* 1 if sid has the form of a session id (USER-TAIL, as records and live files take) */
int ssm_record_sid_valid(const char *sid);
int ssm_proc_audit_session(pid_t pid, uint32_t *psid);

/* Write run_dir/sessions/PID-STARTTIME.json.  0 or -errno. */
int ssm_record_write(const char *run_dir, const struct ssm_record *rec);
/* Read one record file; it must be a root-owned regular file not writable by others. */
int ssm_record_read(const char *path, struct ssm_record **prec, char *err, size_t errlen);
/* Nearest ancestor of pid (pid's parent upwards) that has a record. 0, -ENOENT, -EACCES... */
int ssm_record_find(const char *run_dir, pid_t pid, struct ssm_record **prec, char *err,
                    size_t errlen);
int ssm_record_remove(const char *run_dir, pid_t pid, uint64_t starttime);
/* Call fn for each record file (path, record); stops if fn returns non-zero. */
int ssm_record_foreach(const char *run_dir, int (*fn)(void *ctx, const char *path,
                       const struct ssm_record *rec), void *ctx);
cJSON *ssm_record_to_json(const struct ssm_record *rec);
/* 1 if the record's process is still running (same pid and start time), else 0. */
int ssm_record_alive(const struct ssm_record *rec);
void ssm_record_free(struct ssm_record *rec);

/* The recorder of a live session registers itself as run_dir/live/SID.json
 * {"sid", "pid", "starttime", "run_as", "started"} while still privileged. */
int ssm_live_register(const char *run_dir, const char *sid, pid_t pid, uint64_t starttime,
                      const char *run_as, int64_t started);
/* Remove run_dir/live/SID.json (the recorder, at its end).  0 or -errno. */
int ssm_live_unregister(const char *run_dir, const char *sid);
/* Find the live recorder of sid: -ENOENT if none or it is no longer running. */
int ssm_live_lookup(const char *run_dir, const char *sid, pid_t *ppid);

/* ssm-agent's link to the broker, for transcript_delivery "required": the agent writes
 * run_dir/agent/link.json (root's) whenever the link comes up or goes down; ssm-shell asks
 * ssm_agent_link_up: 1 when a running agent (same pid and start time) says it is up, 0 when
 * down or no agent runs, <0 on an error (a malformed or untrusted file). */
int ssm_agent_status_write(const char *run_dir, int up, int64_t since);
int ssm_agent_link_up(const char *run_dir);

/* How much of sid's transcript the broker acknowledged (durably stored), for the backlog
 * limit (transcript_backlog_max): the agent writes run_dir/agent/delivered-SID (root's,
 * atomically) as "BYTES\n", or "BYTES queued MS\n" while the transcript waits behind
 * others for one of the broker's channels, MS being CLOCK_MONOTONIC milliseconds when it
 * said so.  The agent says it again every second while the transcript waits; ssm-shell
 * takes the wait as no stall of the broker (it holds the output back, as long as it takes)
 * only while the mark is at most SSM_AGENT_QUEUED_TTL_MS old, so an agent that died or lost
 * its link stops counting.  0 / -errno; ssm_agent_delivered_read gives 0 bytes (not queued)
 * when there is no such file yet; pqueued may be NULL.  ssm_agent_delivered_mark sets (or
 * renews) or clears the mark and keeps the bytes (0 when there is no file yet). */
#define SSM_AGENT_QUEUED_TTL_MS 4000
int ssm_agent_delivered_write(const char *run_dir, const char *sid, uint64_t bytes, int queued);
int ssm_agent_delivered_read(const char *run_dir, const char *sid, uint64_t *pbytes,
			     int *pqueued);
int ssm_agent_delivered_mark(const char *run_dir, const char *sid, int queued);
void ssm_agent_delivered_remove(const char *run_dir, const char *sid);

#endif
