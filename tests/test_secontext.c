/* test_secontext.c - the recorder's SELinux context derived from ssm-shell's own
 * (lib/secontext.c: type replaced, user, role and MLS/MCS range kept; malformed and
 * overlong contexts refused), and the rule that decides between going on, going on with a
 * log line, and refusing the session (enforcing fails closed). */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "check.h"
#include "secontext.h"

static const struct {
	int line;
	const char *con, *type;
	int rc;           /* 0, -EINVAL or -ENAMETOOLONG */
	const char *want; /* the result when rc == 0 */
} rows[] = {
    /* the contexts ssm-shell runs in (selinux/README.md), with and without a range */
    {__LINE__, "system_u:system_r:ssm_shell_t:s0", "ssm_recorder_t", 0,
     "system_u:system_r:ssm_recorder_t:s0"},
    {__LINE__, "ssm_u:unconfined_r:ssm_shell_t:s0-s0:c0.c1023", "ssm_recorder_t", 0,
     "ssm_u:unconfined_r:ssm_recorder_t:s0-s0:c0.c1023"},
    {__LINE__, "staff_u:staff_r:ssm_shell_t:s0:c1,c5.c9", "ssm_recorder_t", 0,
     "staff_u:staff_r:ssm_recorder_t:s0:c1,c5.c9"},
    {__LINE__, "user_u:user_r:ssm_shell_t", "ssm_recorder_t", 0,
     "user_u:user_r:ssm_recorder_t"},
    {__LINE__, "u:r:t:s0", "x", 0, "u:r:x:s0"},
    {__LINE__, "_u.1:r-2:t.x-y:s15:c0.c1023", "n_e.w-t", 0, "_u.1:r-2:n_e.w-t:s15:c0.c1023"},
    /* whatever the current type is, only it changes */
    {__LINE__, "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023", "ssm_recorder_t", 0,
     "unconfined_u:unconfined_r:ssm_recorder_t:s0-s0:c0.c1023"},
    /* malformed contexts */
    {__LINE__, "", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r::s0", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, ":system_r:ssm_shell_t:s0", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u::ssm_shell_t:s0", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:s0-", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:s0:", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:s0 s0", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:s0\n", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm shell_t:s0", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t\n", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "1user:system_r:ssm_shell_t:s0", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:s0;rm", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:s0:c0/c1", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:\xc3\xa9t:s0", "ssm_recorder_t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:Top Secret", "ssm_recorder_t", -EINVAL, NULL},
    /* a malformed new type */
    {__LINE__, "system_u:system_r:ssm_shell_t:s0", "", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:s0", "a:b", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:s0", "9t", -EINVAL, NULL},
    {__LINE__, "system_u:system_r:ssm_shell_t:s0", "t t", -EINVAL, NULL},
};

/* a context of exactly len bytes: "u:r:t:s0:c" and categories */
static void long_context(char *buf, size_t len)
{
	size_t i;

	memcpy(buf, "u:r:t:s0:c", 10);
	for (i = 10; i < len; i++)
		buf[i] = '0' + (char)(i % 10);
	buf[len] = '\0';
}

int main(void)
{
	static char big[SSM_SECONTEXT_MAX + 64], out[SSM_SECONTEXT_MAX + 64];
	char small[32];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(out, 'X', sizeof(out));
		rc = ssm_secontext_with_type(rows[i].con, rows[i].type, out, sizeof(out));
		CHECK_ROW(rows[i].line, rc == rows[i].rc, "rc %d, want %d", rc, rows[i].rc);
		if (rows[i].rc == 0)
			CHECK_ROW(rows[i].line, strcmp(out, rows[i].want) == 0, "got '%s', want '%s'",
			          out, rows[i].want);
		else
			CHECK_ROW(rows[i].line, out[0] == '\0', "output not emptied on error");
	}

	/* NULL arguments */
	CHECK(ssm_secontext_with_type(NULL, "t", out, sizeof(out)) == -EINVAL, "NULL context");
	CHECK(ssm_secontext_with_type("u:r:t", NULL, out, sizeof(out)) == -EINVAL, "NULL type");
	CHECK(ssm_secontext_with_type("u:r:t", "x", NULL, 10) == -EINVAL, "NULL out");

	/* the output buffer: exactly enough, one byte short, none */
	CHECK(ssm_secontext_with_type("u:r:t:s0", "xy", small, 10) == 0 &&
	          strcmp(small, "u:r:xy:s0") == 0,
	      "10 bytes hold u:r:xy:s0");
	memset(small, 'X', sizeof(small));
	CHECK(ssm_secontext_with_type("u:r:t:s0", "xy", small, 9) == -ENAMETOOLONG &&
	          small[0] == '\0',
	      "a result that does not fit is -ENAMETOOLONG and empty");
	CHECK(ssm_secontext_with_type("u:r:t:s0", "xy", small, 0) == -ENAMETOOLONG,
	      "no room at all");

	/* overlong input: SSM_SECONTEXT_MAX bytes are accepted, one more is not */
	long_context(big, SSM_SECONTEXT_MAX);
	rc = ssm_secontext_with_type(big, "t", out, sizeof(out));
	CHECK(rc == 0 && strlen(out) == SSM_SECONTEXT_MAX && strncmp(out, "u:r:t:s0:c", 10) == 0,
	      "a context of SSM_SECONTEXT_MAX bytes: rc %d", rc);
	rc = ssm_secontext_with_type(big, "t", out, SSM_SECONTEXT_MAX);
	CHECK(rc == -ENAMETOOLONG, "its result in SSM_SECONTEXT_MAX bytes: rc %d", rc);
	long_context(big, SSM_SECONTEXT_MAX + 1);
	rc = ssm_secontext_with_type(big, "t", out, sizeof(out));
	CHECK(rc == -ENAMETOOLONG && out[0] == '\0', "SSM_SECONTEXT_MAX + 1 bytes: rc %d", rc);
	memset(big, 'a', SSM_SECONTEXT_MAX + 1);
	big[SSM_SECONTEXT_MAX + 1] = '\0';
	rc = ssm_secontext_with_type("u:r:t:s0", big, out, sizeof(out));
	CHECK(rc == -ENAMETOOLONG, "an overlong new type: rc %d", rc);

	/* the verdict: disabled does nothing; enforcing (or unknown) refuses on any failure;
	 * permissive goes on with a log line */
	{
		static const struct {
			int line, enabled, enforcing, err;
			enum ssm_se_verdict want;
		} v[] = {
		    {__LINE__, 0, -1, 0, SSM_SE_OFF},
		    {__LINE__, 0, 1, -EPERM, SSM_SE_OFF},
		    {__LINE__, 1, 1, 0, SSM_SE_OK},
		    {__LINE__, 1, 0, 0, SSM_SE_OK},
		    {__LINE__, 1, 1, -EACCES, SSM_SE_REFUSE},
		    {__LINE__, 1, 1, -EINVAL, SSM_SE_REFUSE},
		    {__LINE__, 1, -1, -EACCES, SSM_SE_REFUSE},
		    {__LINE__, 1, -1, 0, SSM_SE_OK},
		    {__LINE__, 1, 0, -EACCES, SSM_SE_CONTINUE},
		    {__LINE__, 1, 0, -EINVAL, SSM_SE_CONTINUE},
		    {__LINE__, -1, 1, 0, SSM_SE_REFUSE},
		    {__LINE__, -1, -1, 0, SSM_SE_REFUSE},
		    {__LINE__, -1, 0, 0, SSM_SE_CONTINUE},
		};
		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			enum ssm_se_verdict got =
			    ssm_selinux_verdict(v[i].enabled, v[i].enforcing, v[i].err);
			CHECK_ROW(v[i].line, got == v[i].want, "verdict %d, want %d", (int)got,
			          (int)v[i].want);
		}
	}
	return check_done("test_secontext");
}
