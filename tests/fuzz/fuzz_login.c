/* fuzz_login.c - libFuzzer target for the POST /v1/login body parser (lib/login.c), what
 * any network peer may send the broker before it is anyone.
 *
 * Properties checked on accepted requests: the user 1..64 of IAM's characters, the password
 * 1..1024 bytes without control characters, the totp (when present) 1..16 bytes. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ssm_login_request req;
	char err[256];
	size_t i, n;

	if (ssm_login_request_parse((const char *)data, size, &req, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	n = strlen(req.user);
	if (n < 1 || n > 64)
		abort();
	for (i = 0; i < n; i++)
		if (!((req.user[i] >= 'a' && req.user[i] <= 'z') ||
		      (req.user[i] >= 'A' && req.user[i] <= 'Z') ||
		      (req.user[i] >= '0' && req.user[i] <= '9') || strchr("+=,.@_-", req.user[i])))
			abort();
	n = strlen(req.password);
	if (n < 1 || n > SSM_LOGIN_PASSWORD_MAX)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)req.password[i] < 0x20 || req.password[i] == 0x7f)
			abort();
	if (req.has_totp && (strlen(req.totp) < 1 || strlen(req.totp) > 16))
		abort();
	if (!req.has_totp && req.totp[0] != '\0')
		abort();
	return 0;
}
