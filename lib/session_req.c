/* session_req.c - the StartSession request body (see session_req.h) */
#include "session_req.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ca.h"
#include "document.h"
#include "json.h"
#include "util.h"

static int is_param_name_char(int c)
{
	return ssm_is_b64url_char(c) || c == '.';
}

/* no C0/C1 control character, DEL included */
static int text_ok(const char *s)
{
	char err[8];
	cJSON tmp;

	memset(&tmp, 0, sizeof(tmp));
	tmp.type = cJSON_String;
	tmp.valuestring = (char *)s;
	return ssm_json_check_text(&tmp, err, sizeof(err)) == 0;
}

int ssm_session_params_check(const cJSON *params, char *err, size_t errlen)
{
	const cJSON *p, *v;
	int n = 0, m;

	if (!cJSON_IsObject(params)) {
		ssm_errf(err, errlen, "Parameters must be an object of name to a list of strings");
		return -EINVAL;
	}
	cJSON_ArrayForEach(p, params) {
		if (++n > SSM_SESSION_PARAMS_MAX) {
			ssm_errf(err, errlen, "more than %d parameters", SSM_SESSION_PARAMS_MAX);
			return -EINVAL;
		}
		if (p->string == NULL || !ssm_str_charset(p->string, 1, 128, is_param_name_char)) {
			ssm_errf(err, errlen, "a parameter name must be 1..128 of [A-Za-z0-9_.-]");
			return -EINVAL;
		}
		if (!cJSON_IsArray(p)) {
			ssm_errf(err, errlen, "parameter '%s' must be a list of strings", p->string);
			return -EINVAL;
		}
		m = 0;
		cJSON_ArrayForEach(v, p) {
			if (++m > SSM_SESSION_PARAM_VALUES_MAX) {
				ssm_errf(err, errlen, "parameter '%s' has more than %d values", p->string,
					 SSM_SESSION_PARAM_VALUES_MAX);
				return -EINVAL;
			}
			if (!cJSON_IsString(v) || v->valuestring == NULL) {
				ssm_errf(err, errlen, "parameter '%s' must be a list of strings",
					 p->string);
				return -EINVAL;
			}
			if (strlen(v->valuestring) > SSM_SESSION_PARAM_VALUE_MAX) {
				ssm_errf(err, errlen, "a value of parameter '%s' is longer than %d bytes",
					 p->string, SSM_SESSION_PARAM_VALUE_MAX);
				return -EINVAL;
			}
			if (!text_ok(v->valuestring)) {
				ssm_errf(err, errlen, "a value of parameter '%s' has a control character",
					 p->string);
				return -EINVAL;
			}
		}
	}
	return 0;
}

void ssm_start_session_request_clear(struct ssm_start_session_request *req)
{
	if (req == NULL)
		return;
	cJSON_Delete(req->parameters);
	memset(req, 0, sizeof(*req));
}

int ssm_start_session_request_parse(const char *body, size_t len,
				    struct ssm_start_session_request *req, char *err,
				    size_t errlen)
{
	cJSON *o = NULL;
	const cJSON *m;
	const char *s;
	char sub[256];
	int r;

	memset(req, 0, sizeof(*req));
	r = ssm_json_parse_object(body, len, &o, sub, sizeof(sub));
	if (r == -ENOMEM) {
		ssm_errf(err, errlen, "out of memory");
		return r;
	}
	if (r < 0) {
		ssm_errf(err, errlen, "the body is not a JSON object: %s", sub);
		return -EINVAL;
	}
	r = -EINVAL;
	cJSON_ArrayForEach(m, o) {
		if (strcmp(m->string, "Target") != 0 && strcmp(m->string, "DocumentName") != 0 &&
		    strcmp(m->string, "Parameters") != 0 && strcmp(m->string, "Reason") != 0) {
			ssm_errf(err, errlen,
				 "unknown member (only Target, DocumentName, Parameters, Reason)");
			goto out;
		}
	}
	switch (ssm_json_get_string(o, "Target", &s)) {
	case 0:
		break;
	case -ENOENT:
		ssm_errf(err, errlen, "Target is required");
		goto out;
	default:
		ssm_errf(err, errlen, "Target must be a string");
		goto out;
	}
	if (!ssm_ca_host_id_valid(s)) {
		ssm_errf(err, errlen, "Target is not a managed instance id (mi- and 17 lowercase hex"
				      " digits) or an EC2 instance id (i- and 8 or 17)");
		goto out;
	}
	snprintf(req->target, sizeof(req->target), "%s", s);
	switch (ssm_json_get_string(o, "DocumentName", &s)) {
	case 0:
		if (!ssm_document_name_valid(s)) {
			ssm_errf(err, errlen, "DocumentName must be 3..128 of [A-Za-z0-9_.-]");
			goto out;
		}
		snprintf(req->document, sizeof(req->document), "%s", s);
		break;
	case -ENOENT:
		snprintf(req->document, sizeof(req->document), "%s", SSM_RUNSHELL_DOCUMENT);
		break;
	default:
		ssm_errf(err, errlen, "DocumentName must be a string");
		goto out;
	}
	switch (ssm_json_get_string(o, "Reason", &s)) {
	case 0:
		if (strlen(s) < 1 || strlen(s) > SSM_SESSION_REASON_MAX || !text_ok(s)) {
			ssm_errf(err, errlen, "Reason must be 1..%d bytes without control characters",
				 SSM_SESSION_REASON_MAX);
			goto out;
		}
		snprintf(req->reason, sizeof(req->reason), "%s", s);
		break;
	case -ENOENT:
		break;
	default:
		ssm_errf(err, errlen, "Reason must be a string");
		goto out;
	}
	m = ssm_json_member(o, "Parameters");
	if (m != NULL) {
		if (ssm_session_params_check(m, sub, sizeof(sub)) < 0) {
			ssm_errf(err, errlen, "Parameters: %s", sub);
			goto out;
		}
		req->parameters = cJSON_DetachItemViaPointer(o, (cJSON *)m);
	}
	r = 0;
out:
	cJSON_Delete(o);
	if (r < 0)
		ssm_start_session_request_clear(req);
	return r;
}
