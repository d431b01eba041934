/* login.c - the POST /v1/login body, see login.h. */
#include "login.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "json.h"
#include "util.h"

static int iam_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("+=,.@_-", c) != NULL);
}

static int no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int ssm_login_request_parse(const char *body, size_t len, struct ssm_login_request *req,
			    char *err, size_t errlen)
{
	cJSON *doc = NULL;
	const cJSON *m;
	const char *user, *pw, *totp;
	int r;

	memset(req, 0, sizeof(*req));
	if (len > SSM_LOGIN_BODY_MAX) {
		snprintf(err, errlen, "the request is larger than %d bytes", SSM_LOGIN_BODY_MAX);
		return -E2BIG;
	}
	if ((r = ssm_json_parse_object(body, len, &doc, err, errlen)) < 0)
		return r;
	r = -EINVAL;
	cJSON_ArrayForEach(m, doc) {
		if (strcmp(m->string, "user") != 0 && strcmp(m->string, "password") != 0 &&
		    strcmp(m->string, "totp") != 0) {
			snprintf(err, errlen, "unknown member \"%.64s\" (user, password, totp)",
				 m->string);
			goto out;
		}
	}
	if (ssm_json_get_string(doc, "user", &user) < 0) {
		snprintf(err, errlen, "user: a string is required");
		goto out;
	}
	if (!ssm_str_charset(user, 1, 64, iam_name_char)) {
		snprintf(err, errlen, "user: 1..64 characters of [A-Za-z0-9+=,.@_-]");
		goto out;
	}
	if (ssm_json_get_string(doc, "password", &pw) < 0) {
		snprintf(err, errlen, "password: a string is required");
		goto out;
	}
	if (pw[0] == '\0' || strlen(pw) > SSM_LOGIN_PASSWORD_MAX || !no_controls(pw)) {
		snprintf(err, errlen, "password: 1..%d bytes without control characters",
			 SSM_LOGIN_PASSWORD_MAX);
		goto out;
	}
	r = ssm_json_get_string(doc, "totp", &totp);
	if (r == -EINVAL || (r == 0 && (totp[0] == '\0' || strlen(totp) > 16))) {
		snprintf(err, errlen, "totp: a string of 1..16 characters");
		r = -EINVAL;
		goto out;
	}
	req->has_totp = r == 0;
	snprintf(req->user, sizeof(req->user), "%s", user);
	snprintf(req->password, sizeof(req->password), "%s", pw);
	if (req->has_totp)
		snprintf(req->totp, sizeof(req->totp), "%s", totp);
	r = 0;
out:
	/* the password also sits in the parsed tree: wipe it before freeing */
	m = ssm_json_member(doc, "password");
	if (cJSON_IsString(m) && m->valuestring != NULL)
		memset(m->valuestring, 0, strlen(m->valuestring));
	cJSON_Delete(doc);
	return r;
}
