/* session_req.h - the body of POST /v1/sessions (StartSession, SPEC section 9):
 *
 *   {"Target": "mi-...", "DocumentName": NAME, "Parameters": {"name": ["value", ...], ...},
 *    "Reason": TEXT}
 *
 * parsed strictly (lib/json.h: one object, valid UTF-8, no duplicate members) with no other
 * member: Target a managed instance id (mi- and 17 lowercase hex digits), DocumentName
 * optional (default SSM-SessionManagerRunShell) and a valid document name, Parameters
 * optional, an object of at most 64 names (1..128 of [A-Za-z0-9_.-]) each a list of at most
 * 64 strings of at most 4096 bytes, Reason optional, 1..256 bytes; no control character in
 * any of them (a token could not carry it). */
#ifndef SSM_SESSION_REQ_H
#define SSM_SESSION_REQ_H
#include <stddef.h>
#include <cjson/cJSON.h>

#define SSM_SESSION_PARAMS_MAX 64       /* names */
#define SSM_SESSION_PARAM_VALUES_MAX 64 /* values of one name */
#define SSM_SESSION_PARAM_VALUE_MAX 4096
#define SSM_SESSION_REASON_MAX 256

struct ssm_start_session_request {
	char target[33];
	char document[129];
	cJSON *parameters; /* object, or NULL when absent (owned) */
	char reason[SSM_SESSION_REASON_MAX + 1]; /* "" when absent */
};

/* 0, or -EINVAL with err saying which member and why, -ENOMEM.  On success free with
 * ssm_start_session_request_clear. */
int ssm_start_session_request_parse(const char *body, size_t len,
				    struct ssm_start_session_request *req, char *err,
				    size_t errlen);
void ssm_start_session_request_clear(struct ssm_start_session_request *req);

/* The shape check of Parameters alone (also for the client's --parameters): an object of
 * at most SSM_SESSION_PARAMS_MAX names of 1..128 of [A-Za-z0-9_.-], each an array of at
 * most SSM_SESSION_PARAM_VALUES_MAX strings of at most SSM_SESSION_PARAM_VALUE_MAX bytes
 * with no control character.  0 or -EINVAL with err naming the parameter. */
int ssm_session_params_check(const cJSON *params, char *err, size_t errlen);

#endif
