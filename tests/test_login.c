/* test_login.c - lib/login.c: the POST /v1/login body, good and bad (table). */
#include <errno.h>
#include <string.h>
#include "check.h"
#include "login.h"

int main(void)
{
	static const struct {
		int line;
		const char *body;
		int want;             /* 0 or -errno */
		const char *user, *totp; /* expected when accepted (totp NULL: none) */
	} rows[] = {
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"correct horse\"}", 0, "alice", NULL },
		{ __LINE__, "{\"user\":\"a.b@c+d=e,f_g-h\",\"password\":\"x\",\"totp\":\"123456\"}", 0,
		  "a.b@c+d=e,f_g-h", "123456" },
		{ __LINE__, " {\"password\":\"p\\u00e9\",\"user\":\"u\"} \n", 0, "u", NULL },
		{ __LINE__, "", -EINVAL, NULL, NULL },
		{ __LINE__, "[]", -EINVAL, NULL, NULL },
		{ __LINE__, "\"alice\"", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"alice\"}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"password\":\"x\"}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"\"}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"\",\"password\":\"x\"}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"al ice\",\"password\":\"x\"}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"al/ice\",\"password\":\"x\"}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":1,\"password\":\"x\"}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":null}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"x\",\"totp\":123456}", -EINVAL, NULL,
		  NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"x\",\"totp\":\"\"}", -EINVAL, NULL,
		  NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"x\",\"totp\":\"12345678901234567\"}",
		  -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"x\",\"mfa\":true}", -EINVAL, NULL,
		  NULL },
		{ __LINE__, "{\"user\":\"alice\",\"user\":\"root\",\"password\":\"x\"}", -EINVAL, NULL,
		  NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"a\\nb\"}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"a\\u0000b\"}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"x\"} {}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"x\",}", -EINVAL, NULL, NULL },
		{ __LINE__, "{\"user\":\"alice\",\"password\":\"\xff\"}", -EINVAL, NULL, NULL },
	};
	struct ssm_login_request req;
	char err[256], big[SSM_LOGIN_BODY_MAX + 64], pw[SSM_LOGIN_PASSWORD_MAX + 2];
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err[0] = '\0';
		r = ssm_login_request_parse(rows[i].body, strlen(rows[i].body), &req, err,
					    sizeof(err));
		CHECK_ROW(rows[i].line, r == rows[i].want, "got %d (%s), want %d", r, err,
			  rows[i].want);
		if (r == 0 && rows[i].want == 0) {
			CHECK_ROW(rows[i].line, strcmp(req.user, rows[i].user) == 0, "user %s",
				  req.user);
			CHECK_ROW(rows[i].line, req.has_totp == (rows[i].totp != NULL), "has_totp");
			if (rows[i].totp)
				CHECK_ROW(rows[i].line, strcmp(req.totp, rows[i].totp) == 0, "totp");
		}
		if (r < 0)
			CHECK_ROW(rows[i].line, err[0] != '\0' && strstr(err, "horse") == NULL,
				  "a message, never the password: %s", err);
	}
	/* the password's length limit, and the body's */
	memset(pw, 'p', sizeof(pw));
	pw[SSM_LOGIN_PASSWORD_MAX] = '\0';
	snprintf(big, sizeof(big), "{\"user\":\"u\",\"password\":\"%s\"}", pw);
	CHECK(ssm_login_request_parse(big, strlen(big), &req, err, sizeof(err)) == 0,
	      "1024-byte password: %s", err);
	CHECK(strlen(req.password) == SSM_LOGIN_PASSWORD_MAX, "kept whole");
	pw[SSM_LOGIN_PASSWORD_MAX] = 'p';
	pw[SSM_LOGIN_PASSWORD_MAX + 1] = '\0';
	snprintf(big, sizeof(big), "{\"user\":\"u\",\"password\":\"%s\"}", pw);
	CHECK(ssm_login_request_parse(big, strlen(big), &req, err, sizeof(err)) == -EINVAL,
	      "1025-byte password");
	memset(big, ' ', sizeof(big));
	CHECK(ssm_login_request_parse(big, SSM_LOGIN_BODY_MAX + 1, &req, err, sizeof(err)) ==
		      -E2BIG,
	      "a body over the limit");
	CHECK(ssm_login_request_parse("{\"user\":\"u\",\"password\":\"x\"}", 26, &req, err,
				      sizeof(err)) == -EINVAL,
	      "a body cut short by its length");
	/* a 64-character user name passes, 65 not */
	snprintf(big, sizeof(big), "{\"user\":\"%064d\",\"password\":\"x\"}", 0);
	CHECK(ssm_login_request_parse(big, strlen(big), &req, err, sizeof(err)) == 0, "64 chars");
	snprintf(big, sizeof(big), "{\"user\":\"%065d\",\"password\":\"x\"}", 0);
	CHECK(ssm_login_request_parse(big, strlen(big), &req, err, sizeof(err)) == -EINVAL,
	      "65 chars");
	return check_done("test_login");
}
