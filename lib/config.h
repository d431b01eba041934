/* config.h - the host configuration (SPEC section 4) */
#ifndef SSM_CONFIG_H
#define SSM_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* configure's --sysconfdir, --localstatedir and --runstatedir (Makefile.am passes them) */
#ifndef SSM_SYSCONFDIR
#define SSM_SYSCONFDIR "/etc"
#endif
#ifndef SSM_LOCALSTATEDIR
#define SSM_LOCALSTATEDIR "/var"
#endif
#ifndef SSM_RUNSTATEDIR
#define SSM_RUNSTATEDIR "/run"
#endif
#define SSM_DEFAULT_CONFIG SSM_SYSCONFDIR "/ssmsession/ssmsession.json"
#define SSM_DEFAULT_DOCUMENTS_DIR SSM_SYSCONFDIR "/ssmsession/documents"
#define SSM_DEFAULT_STATE_DIR SSM_LOCALSTATEDIR "/lib/ssmsession"
#define SSM_DEFAULT_RUN_DIR SSM_RUNSTATEDIR "/ssmsession"
#define SSM_DEFAULT_LOG_DIR SSM_LOCALSTATEDIR "/log/ssmsession"
#define SSM_CONFIG_MAX_SIZE (256 * 1024)

enum ssm_limit_action { SSM_LIMIT_END = 0, SSM_LIMIT_STOP_RECORDING = 1 };

struct ssm_config {
	char *path;
	/* SPEC section 4 */
	char *host_id;           /* required, i-... or mi-... */
	cJSON *host_tags;        /* object of string to string, never NULL after load */
	char *issuer;            /* required */
	char *trusted_keys;      /* required, path of the JWK Set */
	int64_t max_token_lifetime; /* seconds, default 300 */
	int64_t leeway;          /* seconds, default 60 */
	char *documents_dir;     /* default SSM_DEFAULT_DOCUMENTS_DIR (/etc/ssmsession/documents) */
	char **allowed_documents; size_t n_allowed_documents; /* default {"*"} */
	char **run_as_allowed; size_t n_run_as_allowed;       /* default {"ssm-user"} */
	char *state_dir;         /* default SSM_DEFAULT_STATE_DIR (/var/lib/ssmsession) */
	char *run_dir;           /* default SSM_DEFAULT_RUN_DIR (/run/ssmsession) */
	char *log_dir;           /* default SSM_DEFAULT_LOG_DIR (/var/log/ssmsession) */
	/* project extensions (all optional) */
	int record_input;                 /* "record_input": false */
	int64_t transcript_max_bytes;     /* "transcript_max_bytes": 64 MiB; 0 = no cap */
	enum ssm_limit_action transcript_limit_action; /* "transcript_limit_action": "end"|"stop_recording" */
	char *recorder_user;              /* "recorder_user": "ssmsession" */
	cJSON *seccomp_profiles;          /* "seccomp_profiles": {"Standard_Stream": "baseline", ...} */
	int allow_privilege;              /* "allow_privilege": true - false sets no_new_privs */
	/* "replay_durability": "fsync" (1, default): every accepted jti is on disk before auth
	 * succeeds; "boot" (0): no disk flush, and instead a token issued before this host
	 * booted (iat < boot time + leeway) is refused, which covers every entry a crash could
	 * have lost (pam_ssmsession(8)) */
	int replay_fsync;
	/* "command_line_parameters": {"DOC": ["param", ...]}: the administrator's opt-in to AWS's
	 * whole-command-line parameters (AWS-StartInteractiveCommand): such a parameter's value
	 * is inserted unquoted, so the document becomes a shell (docs/SECURITY.md) */
	cJSON *command_line_params;
	/* "ssm_user_sudo": false - `ssmctl user ensure` grants the user passwordless sudo
	 * (AWS's agent does by default; here the host must ask for it) */
	int ssm_user_sudo;
	/* the broker channel (SPEC section 8; written by `ssmctl register`, read by ssm-agent):
	 * "broker_url" https://HOST[:PORT], "broker_ca" the CA file the broker's certificate
	 * must chain to, "host_certificate" and "host_key" this host's TLS client credential.
	 * NULL when absent. */
	char *broker_url;
	char *broker_ca;
	char *host_certificate;
	char *host_key;
	/* "transcript_delivery": "required" (1, the default: on a host registered with a broker,
	 * ssm-shell starts no session while ssm-agent's link is down) or "deferred" (0: record
	 * on the host, delivered when the broker is back) */
	int transcript_delivery_required;
	/* "transcript_backlog_max": with "required", a session whose transcript has more bytes
	 * than this not yet acknowledged by the broker ends with reason error (16 MiB; 0 = no
	 * limit) */
	int64_t transcript_backlog_max;
	/* "broker_documents": true - accept a document that ssm-agent received from the broker
	 * (state_dir/documents/, lib/doccache.h) when documents_dir has no NAME.json and NAME is
	 * in allowed_documents; false: documents_dir only, and the agent fetches nothing */
	int broker_documents;
	/* "document_cache_max_bytes": what the agent keeps in that cache (16 MiB); the least
	 * recently used documents are removed beyond it */
	int64_t document_cache_max_bytes;
};

/* Load and validate: unknown keys, wrong types, relative paths, out-of-range numbers and
 * a file not owned by root or writable by group/other are errors.
 * 0, -ENOENT, -EACCES, -EINVAL (err has one line naming the file and the key), -ENOMEM. */
int ssm_config_load(const char *path, struct ssm_config **pcfg, char *err, size_t errlen);
int ssm_config_parse(const char *buf, size_t len, const char *path, struct ssm_config **pcfg,
                     char *err, size_t errlen);
void ssm_config_free(struct ssm_config *cfg);

/* 1 if name matches a glob in allowed_documents / is in run_as_allowed. */
int ssm_config_document_allowed(const struct ssm_config *cfg, const char *name);
int ssm_config_run_as_allowed(const struct ssm_config *cfg, const char *user);
/* The seccomp profile name for a session type name ("baseline" unless configured). */
const char *ssm_config_seccomp_profile(const struct ssm_config *cfg, const char *session_type);

/* The parameters of document NAME that the configuration declares whole command lines
 * (an array of strings), or NULL. */
const cJSON *ssm_config_command_line_params(const struct ssm_config *cfg, const char *doc_name);

/* 1 if name is a plausible OS user name: 1..32 of [A-Za-z0-9_.-], not starting with '-' or
 * '.', not all digits (so it can never be mistaken for a uid). */
int ssm_config_user_name_valid(const char *name);

#endif
