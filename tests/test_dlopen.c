/* test_dlopen.c - the module loads with RTLD_NOW (every symbol resolves, as Linux-PAM's
 * tst-dlopen checks), exports the five pam_sm_* entry points and nothing of the core
 * library, and brings no cryptography or PCRE2 into the login process (libcrypto alone
 * costs a login more than pam_permit's whole cycle; verification lives in ssm-verifyd and
 * ssm-verify.so).  ssm-verify.so beside it loads and exports its one entry point.
 * Usage: test_dlopen [MODULE.so]; default: the libtool build output. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
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
	/* what the module brought in: not libcrypto, libssl, PCRE2 or another SHA-256 */
	{
		static const char *banned[] = { "libcrypto.so", "libssl.so", "libpcre2",
						"libnettle", "libgcrypt" };
		char line[4096];
		FILE *maps = fopen("/proc/self/maps", "r");
		int mapped[5] = { 0 };
		size_t j;

		CHECK(maps != NULL, "cannot read /proc/self/maps");
		while (maps != NULL && fgets(line, sizeof(line), maps) != NULL)
			for (j = 0; j < 5; j++)
				mapped[j] |= strstr(line, banned[j]) != NULL;
		if (maps != NULL)
			fclose(maps);
		for (j = 0; j < 5; j++)
			CHECK(!mapped[j], "loading the module mapped %s", banned[j]);
	}
	CHECK(dlclose(h) == 0, "dlclose: %s", dlerror());

	/* the in-process verifier beside the module */
	{
		char vpath[4096];
		const char *slash = strrchr(path, '/');
		void *sym;

		snprintf(vpath, sizeof(vpath), "%.*s/ssm-verify.so", (int)(slash - path), path);
		h = dlopen(vpath, RTLD_NOW | RTLD_LOCAL);
		CHECK(h != NULL, "dlopen(%s, RTLD_NOW): %s", vpath, dlerror());
		if (h != NULL) {
			sym = dlsym(h, "ssm_verify_once_v1");
			CHECK(sym != NULL, "ssm-verify.so exports ssm_verify_once_v1");
			CHECK(dlsym(h, "ssm_token_verify") == NULL && dlsym(h, "ssm_log") == NULL,
			      "ssm-verify.so exports nothing else");
			dlclose(h);
		}
	}
	return check_done("test_dlopen");
}
