/* login.h - the body of POST /v1/login (the users' side of the channel, issue 8 point 3):
 *
 *   {"user": NAME, "password": PASSWORD [, "totp": "123456"]}
 *
 * parsed strictly (lib/json.h: one object, valid UTF-8, no duplicates) with no other member:
 * user 1..64 of IAM's [A-Za-z0-9+=,.@_-], password 1..1024 bytes without a control
 * character, totp absent or a string of 1..16 bytes (its form is the TOTP check's job). */
#ifndef SSM_LOGIN_H
#define SSM_LOGIN_H
#include <stddef.h>

#define SSM_LOGIN_BODY_MAX 4096
#define SSM_LOGIN_PASSWORD_MAX 1024

struct ssm_login_request {
	char user[65];
	char password[SSM_LOGIN_PASSWORD_MAX + 1];
	char totp[17];
	int has_totp;
};

/* 0, or -EINVAL with err saying why (never quoting the password), -E2BIG, -ENOMEM.
 * The caller should OPENSSL_cleanse the request after use. */
int ssm_login_request_parse(const char *body, size_t len, struct ssm_login_request *req,
			    char *err, size_t errlen);

#endif
