/* test_dlopen.c - the module loads with RTLD_NOW (every symbol resolves, as Linux-PAM's
 * tst-dlopen checks), exports the five pam_sm_* entry points and nothing of the core
 * library.  Usage: test_dlopen [MODULE.so]; default: the libtool build output. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

static const struct {
	int line;
	const char *symbol;
	int exported;
} rows[] = {
	{ __LINE__, "pam_sm_authenticate", 1 },
	{ __LINE__, "pam_sm_setcred", 1 },
	{ __LINE__, "pam_sm_acct_mgmt", 1 },
	{ __LINE__, "pam_sm_open_session", 1 },
	{ __LINE__, "pam_sm_close_session", 1 },
	/* no password changing: libpam must see this module does not do chauthtok */
	{ __LINE__, "pam_sm_chauthtok", 0 },
	/* internals must not leak into the host program's symbol space (another module
	 * or the application could interpose them, or we theirs) */
	{ __LINE__, "ssm_token_verify", 0 },
	{ __LINE__, "ssm_jwks_load", 0 },
	{ __LINE__, "ssm_config_load", 0 },
	{ __LINE__, "ssm_replay_check_and_add", 0 },
	{ __LINE__, "ssm_log", 0 },
	{ __LINE__, "ssm_json_parse", 0 },
};

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "pam_ssmsession/.libs/pam_ssmsession.so";
	void *h;
	size_t i;

	if (strchr(path, '/') == NULL) {
		fprintf(stderr, "test_dlopen: give a path, not a bare name: %s\n", path);
		return 2;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CHECK(h != NULL, "dlopen(%s, RTLD_NOW): %s", path, dlerror());
	if (h == NULL)
		return check_done("test_dlopen");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		void *sym;

		dlerror();
		sym = dlsym(h, rows[i].symbol);
		CHECK_ROW(rows[i].line, (sym != NULL) == rows[i].exported, "%s is %sexported",
			  rows[i].symbol, sym != NULL ? "" : "not ");
	}
	CHECK(dlclose(h) == 0, "dlclose: %s", dlerror());
	return check_done("test_dlopen");
}
