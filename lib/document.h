/* document.h - Session documents (SPEC section 3, AWS schemaVersion 1.0) and parameters */
#ifndef SSM_DOCUMENT_H
#define SSM_DOCUMENT_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define SSM_DOCUMENT_MAX_SIZE (64 * 1024)
#define SSM_RUNSHELL_DOCUMENT "SSM-SessionManagerRunShell"

enum ssm_session_type {
	SSM_SESSION_STANDARD_STREAM = 1,
	SSM_SESSION_INTERACTIVE_COMMANDS,
	SSM_SESSION_NON_INTERACTIVE_COMMANDS,
	SSM_SESSION_PORT,
};

struct ssm_doc_param {
	char *name;
	int is_list;             /* StringList */
	char *description;
	cJSON *default_value;    /* string or array of strings, or NULL */
	char *allowed_pattern;   /* NULL if none */
	void *pattern_code;      /* compiled pcre2_code */
	char **allowed_values; size_t n_allowed_values;
	int64_t max_chars;       /* 0 = no limit */
	int command_line;        /* inserted unquoted: ssm_document_set_command_line */
};

struct ssm_document {
	char *name;
	char sha256[65];
	enum ssm_session_type type;
	/* inputs (for non-Standard_Stream types: taken from SSM-SessionManagerRunShell, see
	 * ssm_document_apply_runshell) */
	int64_t idle_timeout_s;   /* default 20 min */
	int64_t max_duration_s;   /* 0 = none */
	int run_as_enabled;
	char *run_as_default_user;
	char *shell_profile;      /* shellProfile.linux or NULL */
	/* parameters */
	struct ssm_doc_param *params; size_t n_params;
	/* properties */
	char *commands;           /* linux.commands (command types) */
	int run_as_elevated;      /* linux.runAsElevated */
	char *port_number;        /* portNumber template (Port) */
};

const char *ssm_session_type_name(enum ssm_session_type t);

/* 1 if NAME is 3..128 characters of [A-Za-z0-9_.-] and not "." or ".." */
int ssm_document_name_valid(const char *name);

/* Parse and validate a document; name may be NULL.  0, -EINVAL (err says what), -ENOMEM.
 * Strict: unknown members are refused at every level (typos), except the AWS delivery
 * inputs (s3*, cloudWatch*, kmsKeyId), accepted and unused.  inputs only in Standard_Stream
 * documents; properties.linux.commands required for the command types, portNumber for Port
 * (LocalPortForwarding only: a remote "host" is refused).  Parameter defaults must pass the
 * parameter's own checks; every {{ name }} must name a parameter. */
int ssm_document_parse(const char *buf, size_t len, const char *name, struct ssm_document **pdoc,
                       char *err, size_t errlen);
/* Warnings that do not make a document invalid (unanchored allowedPattern): each one is
 * passed to warn(ctx, message).  Returns the number of warnings. */
int ssm_document_warnings(const struct ssm_document *doc, void (*warn)(void *ctx, const char *msg),
                          void *ctx);

/* Load documents_dir/NAME.json (trusted file) whose bytes must hash to sha256hex.
 * 0; -EINVAL bad name or invalid document; -ENOENT no such document; -EBADMSG hash
 * mismatch; -EACCES unsafe file; -ENOMEM. */
int ssm_document_load(const char *dir, const char *name, const char *sha256hex,
                      struct ssm_document **pdoc, char *err, size_t errlen);
/* For non-Standard_Stream documents: take idle/max/runAs inputs from
 * dir/SSM-SessionManagerRunShell.json when it exists (defaults otherwise). */
int ssm_document_apply_runshell(struct ssm_document *doc, const char *dir, char *err, size_t errlen);

/* Check token params (object of name -> array of strings, or NULL) against the document:
 * unknown parameter, missing without default, type, allowedPattern, allowedValues, maxChars,
 * NUL or control characters.  0 or -EINVAL with err naming the parameter and why. */
int ssm_document_check_params(const struct ssm_document *doc, const cJSON *params, char *err,
                              size_t errlen);

/* Substitute {{ name }} in tmpl: each value checked as above and inserted as exactly one
 * shell word (single-quoted); a StringList gives one word per element.  A {{ }} naming no
 * parameter is an error.  *pout malloc'ed.  0, -EINVAL (err), -ENOMEM. */
int ssm_document_render(const struct ssm_document *doc, const char *tmpl, const cJSON *params,
                        char **pout, char *err, size_t errlen);
/* The host configuration's opt-in (command_line_parameters) for AWS's whole-command-line
 * parameters: each named parameter (an array of strings) must exist, be a String, belong to
 * an InteractiveCommands or NonInteractiveCommands document, and stand in linux.commands
 * only as words of their own; its value is then inserted as it is (still checked: no
 * control character, allowedPattern, ...), so the session user writes shell.  0 or -EINVAL
 * with err saying why. */
int ssm_document_set_command_line(struct ssm_document *doc, const cJSON *names, char *err,
                                  size_t errlen);
/* Port: render portNumber (no quoting; result must be 1..65535). */
int ssm_document_port(const struct ssm_document *doc, const cJSON *params, int *pport, char *err,
                      size_t errlen);

/* Append value to *pout as one single-quoted shell word ('...' with ' as '\'').  *pout is
 * NULL (a new string is made) or a malloc'ed string that is replaced; unchanged on error.
 * 0 or -ENOMEM. */
int ssm_shquote(const char *value, char **pout);

void ssm_document_free(struct ssm_document *doc);

#endif
