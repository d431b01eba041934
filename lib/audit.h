/* audit.h - log_dir/audit.jsonl: one JSON object a line (docs/CONTRACT.md section 6), and
 * the same events in the systemd journal */
#ifndef SSM_AUDIT_H
#define SSM_AUDIT_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct ssm_audit_session {
	const char *sid, *sub, *run_as, *doc;
};

/* /proc/self/sessionid and /proc/self/loginuid when the kernel has none set */
#define SSM_AUDIT_ID_UNSET 4294967295ULL

/* The journal's native socket (systemd.io/JOURNAL_NATIVE_PROTOCOL) */
#define SSM_JOURNAL_SOCKET "/run/systemd/journal/socket"

/* MESSAGE_ID of each event in the journal (fixed: journalctl MESSAGE_ID=...) */
#define SSM_MSGID_LOGIN_DENIED "55cb0813d2474268a5f4d48914dfd345"
#define SSM_MSGID_SESSION_START "86eafb3d17d2444a9cd91e4595c606fa"
#define SSM_MSGID_SHELL_START "4ba10bff0ee64ddb897aaaf49dc4012d"
#define SSM_MSGID_PORT_OPEN "43cb8138542842b1aad32ba5d70b7d03"
#define SSM_MSGID_TRANSCRIPT_LIMIT "f3948c9c1e654783bbc286d6dae6f399"
#define SSM_MSGID_SESSION_END "d18d8096fde74abea5e1a5bcb76b500f"
#define SSM_MSGID_TERMINATE_REQUESTED "1a30151c78e04425b7c4fd291293089a"

/* Open log_dir/audit.jsonl for appending (created 0640 root-owned, log_dir created 0750
 * if missing).  Returns fd or -errno. */
int ssm_audit_open(const char *log_dir);

/* Append {"ts","event","host_id", sid/sub/run_as/doc if s, "audit_session", "loginuid",
 * then every member of extra} as one line with a single write(2), and send the same event
 * to the journal (best effort, always, even when fd < 0: then -EBADF is returned and
 * nothing is logged).  host_id NULL is written as null (the configuration could not be
 * read).  extra may be NULL; not consumed.  0 or -errno. */
int ssm_audit_write_fd(int fd, int64_t now, const char *host_id, const char *event,
                       const struct ssm_audit_session *s, const cJSON *extra);
/* Open, write, close.  When log_dir cannot be opened the journal still gets the event. */
int ssm_audit_write(const char *log_dir, int64_t now, const char *host_id, const char *event,
                    const struct ssm_audit_session *s, const cJSON *extra);

/* The journal entry (native protocol: KEY=VALUE\n fields, a value holding a newline in the
 * binary form) for the event ev whose audit line is line: MESSAGE, PRIORITY,
 * SYSLOG_FACILITY, SYSLOG_IDENTIFIER=ssmsession, MESSAGE_ID (known events), SSM_<MEMBER>
 * for every member but ts (strings as they are, others as JSON; null members left out),
 * SSM_AUDIT_JSON (the line).  *pbuf is malloc'ed.  0 or -errno. */
int ssm_audit_journal_entry(const cJSON *ev, const char *line, char **pbuf, size_t *plen);
/* Send an entry to the journal socket at path (a sealed memfd when too large for one
 * datagram).  0 or -errno. */
int ssm_audit_journal_send(const char *path, const char *buf, size_t len);

#endif
