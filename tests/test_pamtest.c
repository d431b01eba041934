/* test_pamtest.c - pam_ssmsession through libpamtest and pam_wrapper (no root needed).
 *
 * The process re-executes itself with LD_PRELOAD=libpam_wrapper.so, PAM_WRAPPER=1 and a
 * private PAM_WRAPPER_SERVICE_DIR; keys, documents and the configuration live in a temp
 * directory owned by the test user; tokens come from broker/ssmtoken.py (through
 * tests/pam_common.sh), an implementation independent of the C verifier.
 * run_as users are real system users: "nobody" (allowed) and "daemon" (not allowed). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpamtest.h>
#include <security/pam_appl.h>

#include "check.h"

#define ALLOWED "nobody"
#define NOT_ALLOWED "daemon"
#define SET_ITEMS "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so"

static char dir[256];    /* the temp directory */
static char srcdir[PATH_MAX]; /* absolute top source directory */
static char module[PATH_MAX]; /* the built module */

/* ------------------------------------------------------------------ helpers */

static int run_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_sh(const char *fmt, ...)
{
	char cmd[8 * PATH_MAX];
	va_list ap;
	int n, st;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A token from ssmtoken.py: mint RUN_AS [extra args]; static buffer. */
static const char *mint(const char *run_as, const char *extra)
{
	static char tok[8192];
	char cmd[3 * PATH_MAX];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "srcdir='%s'; . \"$srcdir/tests/pam_common.sh\"; KEY='%s/host/k1.pem'; "
		 "DOC='%s/host/docs/SSM-SessionManagerRunShell.json'; mint %s %s",
		 srcdir, dir, dir, run_as, extra ? extra : "");
	tok[0] = '\0';
	f = popen(cmd, "r");
	if (f == NULL)
		return tok;
	n = fread(tok, 1, sizeof(tok) - 1, f);
	tok[n] = '\0';
	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r'))
		tok[--n] = '\0';
	pclose(f);
	return tok;
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return strdup("");
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static int audit_count(const char *needle1, const char *needle2)
{
	char path[512], *buf, *line, *save = NULL;
	int n = 0;

	snprintf(path, sizeof(path), "%s/host/log/audit.jsonl", dir);
	buf = slurp(path);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, needle1) && (needle2 == NULL || strstr(line, needle2)))
			n++;
	free(buf);
	return n;
}

static int count_records(char *first, size_t firstlen)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/host/run/sessions", dir);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".json") == NULL || de->d_name[0] == '.')
			continue;
		if (n++ == 0 && first)
			snprintf(first, firstlen, "%s/%s", path, de->d_name);
	}
	closedir(d);
	return n;
}

/* The sid claim of a token (the payload decoded by python: no C decoder here). */
static void token_sid(const char *tok, char *sid, size_t len)
{
	char cmd[8192 + 256];
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c 'import sys,json,base64;p=sys.argv[1].split(\".\")[1];"
		 "print(json.loads(base64.urlsafe_b64decode(p+\"=\"*(-len(p)%%4)))[\"sid\"])' '%s'",
		 tok);
	sid[0] = '\0';
	f = popen(cmd, "r");
	if (f && fgets(sid, (int)len, f))
		sid[strcspn(sid, "\n")] = '\0';
	if (f)
		pclose(f);
}

/* libpamtest copies PAM_ERROR_MSG / PAM_TEXT_INFO into caller-provided buffers and
 * crashes when none are given: every run gets these (cleared first). */
static char msgbuf[2][16][PAM_MAX_MSG_SIZE];
static char *errs[17], *infos[17];

static struct pamtest_conv_data conv_data(const char **toks)
{
	struct pamtest_conv_data cd = { .in_echo_off = toks, .out_err = errs, .out_info = infos };
	int i;

	for (i = 0; i < 16; i++) {
		msgbuf[0][i][0] = msgbuf[1][i][0] = '\0';
		errs[i] = msgbuf[0][i];
		infos[i] = msgbuf[1][i];
	}
	errs[16] = infos[16] = NULL;
	return cd;
}

/* One-shot run: every op with its expected return; echo-off answers from toks. */
#define RUN(line, svc, user, toks, ...)                                                    \
	do {                                                                               \
		struct pam_testcase tc_[] = { __VA_ARGS__ };                               \
		struct pamtest_conv_data cd_ = conv_data(toks);                             \
		enum pamtest_err pe_ = run_pamtest((svc), (user), &cd_, tc_, NULL);        \
		const struct pam_testcase *f_ = pamtest_failed_case(tc_);                  \
		CHECK_ROW(line, pe_ == PAMTEST_ERR_OK, "%s/%s: %s (op %d returned %d, expected %d)", \
			  svc, user, pamtest_strerror(pe_), f_ ? (int)f_->pam_operation : -1, \
			  f_ ? f_->op_rv : 0, f_ ? f_->expected_rv : 0);             \
	} while (0)

static int conv_fail(int n, const struct pam_message **msg, struct pam_response **resp,
		     void *data)
{
	(void)n;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR;
}

/* ------------------------------------------------------------------ cases */

static void test_full_session(void)
{
	const char *toks[] = { NULL, NULL };
	char tok[8192], sid[128], rec[1024] = "", *buf;
	struct pam_testcase tc[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		pam_test(PAMTEST_SETCRED, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_KEEPHANDLE, PAM_SUCCESS),
	};
	struct pamtest_conv_data cd = conv_data(toks);
	pam_handle_t *ph;
	enum pamtest_err pe;

	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
	token_sid(tok, sid, sizeof(sid));
	CHECK(tok[0] != '\0' && sid[0] != '\0', "minted a token");
	toks[0] = tok;
	pe = run_pamtest("ssm", ALLOWED, &cd, tc, NULL);
	CHECK(pe == PAMTEST_ERR_OK, "auth, account, setcred, open_session: %s (%d)",
	      pamtest_strerror(pe), pamtest_failed_case(tc) ? pamtest_failed_case(tc)->op_rv : 0);
	if (pe != PAMTEST_ERR_OK)
		return;
	ph = tc[4].case_out.ph;
	/* open_session: the record and session_start */
	CHECK(count_records(rec, sizeof(rec)) == 1, "one session record after open");
	buf = slurp(rec);
	CHECK(strstr(buf, sid) != NULL, "the record names the sid %s", sid);
	{
		char want[64];
		snprintf(want, sizeof(want), "%ld-", (long)getpid());
		CHECK(strstr(rec, want) != NULL, "record keyed by this process: %s", rec);
	}
	free(buf);
	CHECK(audit_count("\"session_start\"", sid) == 1, "session_start audited");
	CHECK(audit_count("\"session_end\"", sid) == 0, "no session_end before close");
	/* close_session: session_end, record removed */
	CHECK(pam_close_session(ph, 0) == PAM_SUCCESS, "close_session");
	CHECK(audit_count("\"session_end\"", sid) == 1, "session_end audited at close");
	CHECK(audit_count("\"reason\":\"exit\"", sid) == 1, "session_end reason exit");
	CHECK(count_records(NULL, 0) == 0, "record removed at close");
	pam_end(ph, PAM_SUCCESS);

	/* the same token again: replay */
	RUN(__LINE__, "ssm", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR));
	CHECK(audit_count("\"reason\":\"replay\"", sid) == 1, "replay audited with the sid");
	/* the token never reaches the audit log */
	CHECK(audit_count(strrchr(tok, '.') + 1, NULL) == 0, "no signature in the audit log");
	CHECK(audit_count(tok, NULL) == 0, "no token in the audit log");
}

/* ssm-shell's recorder logged session_end itself (non-empty live/SID.end): close adds
 * nothing, and removes live/SID.json and SID.end. */
static void test_close_after_recorder(void)
{
	const char *toks[] = { NULL, NULL };
	char tok[8192], sid[128], path[512];
	struct pam_testcase tc[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_KEEPHANDLE, PAM_SUCCESS),
	};
	struct pamtest_conv_data cd = conv_data(toks);
	pam_handle_t *ph;
	FILE *f;

	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
	token_sid(tok, sid, sizeof(sid));
	toks[0] = tok;
	CHECK(run_pamtest("ssm", ALLOWED, &cd, tc, NULL) == PAMTEST_ERR_OK, "open for close test");
	ph = tc[3].case_out.ph;
	snprintf(path, sizeof(path), "%s/host/run/live", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/host/run/live/%s.end", dir, sid);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "{\"event\":\"session_end\",\"reason\":\"idle_timeout\"}\n");
		fclose(f);
	}
	CHECK(pam_close_session(ph, 0) == PAM_SUCCESS, "close_session after the recorder");
	CHECK(audit_count("\"session_end\"", sid) == 0, "no second session_end");
	CHECK(access(path, F_OK) != 0, "live/SID.end removed");
	CHECK(count_records(NULL, 0) == 0, "record removed");
	pam_end(ph, PAM_SUCCESS);
}

static void test_refusals(void)
{
	const char *toks[] = { NULL, NULL };
	const char *none[] = { NULL };
	char tok[8192], big[6000];

	/* garbage: refused by structure, audited */
	toks[0] = "garbage";
	RUN(__LINE__, "ssm", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR));
	CHECK(audit_count("\"reason\":\"invalid_token\"", NULL) >= 1, "invalid_token audited");
	/* a token for someone else: run_as != PAM user */
	snprintf(tok, sizeof(tok), "%s", mint(NOT_ALLOWED, NULL));
	toks[0] = tok;
	RUN(__LINE__, "ssm", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR));
	/* run_as not allowed: auth fine, account refuses */
	snprintf(tok, sizeof(tok), "%s", mint(NOT_ALLOWED, NULL));
	RUN(__LINE__, "ssm", NOT_ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
	    pam_test(PAMTEST_ACCOUNT, PAM_PERM_DENIED), pam_test(PAMTEST_OPEN_SESSION, PAM_SESSION_ERR));
	CHECK(audit_count("\"reason\":\"account\"", NULL) >= 1, "account refusal audited");
	CHECK(count_records(NULL, 0) == 0, "no record for a refused session");
	/* account (and setcred) without this module's auth in the handle */
	RUN(__LINE__, "ssm", ALLOWED, none, pam_test(PAMTEST_ACCOUNT, PAM_PERM_DENIED));
	RUN(__LINE__, "ssm", ALLOWED, none, pam_test(PAMTEST_SETCRED, PAM_CRED_ERR));
	CHECK(audit_count("\"reason\":\"not_authenticated\"", NULL) >= 1,
	      "account without auth audited");
	/* PAM_SILENT: no message to the user on an account refusal; without it, one */
	{
		struct pam_testcase tc[] = {
			pam_test_flags(PAMTEST_ACCOUNT, PAM_PERM_DENIED, PAM_SILENT),
		};
		struct pamtest_conv_data cd = conv_data(none);
		CHECK(run_pamtest("ssm", ALLOWED, &cd, tc, NULL) == PAMTEST_ERR_OK, "silent account");
		CHECK(errs[0][0] == '\0', "PAM_SILENT: no error message sent");
	}
	{
		struct pam_testcase tc[] = { pam_test(PAMTEST_ACCOUNT, PAM_PERM_DENIED) };
		struct pamtest_conv_data cd = conv_data(none);
		CHECK(run_pamtest("ssm", ALLOWED, &cd, tc, NULL) == PAMTEST_ERR_OK, "loud account");
		CHECK(errs[0][0] != '\0', "without PAM_SILENT: an error message is sent");
	}
	/* expired, signed by an untrusted key, alg none */
	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, "--now 1000000000"));
	RUN(__LINE__, "ssm", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR));
	{
		char extra[600];
		snprintf(extra, sizeof(extra), "--key %s/host/evil.pem", dir);
		snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, extra));
	}
	RUN(__LINE__, "ssm", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR));
	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, "--header-json '{\"alg\":\"none\"}'"));
	RUN(__LINE__, "ssm", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR));
	/* longer than 4096 bytes: refused before decoding */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	toks[0] = big;
	RUN(__LINE__, "ssm", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR));
	CHECK(audit_count("\"reason\":\"token_too_long\"", NULL) == 1, "over-long token audited");
	/* configuration and keys the host is at fault for */
	toks[0] = tok;
	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
	RUN(__LINE__, "ssm_noconf", ALLOWED, toks,
	    pam_test(PAMTEST_AUTHENTICATE, PAM_AUTHINFO_UNAVAIL));
	RUN(__LINE__, "ssm_gw", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_AUTHINFO_UNAVAIL));
	CHECK(audit_count("\"reason\":\"trusted_keys\"", NULL) == 1, "unsafe key file audited");
	RUN(__LINE__, "ssm_badopt", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_SERVICE_ERR),
	    pam_test(PAMTEST_ACCOUNT, PAM_SERVICE_ERR));
	/* use_first_pass with no PAM_AUTHTOK: no prompt, refused */
	RUN(__LINE__, "ssm_ufp", ALLOWED, none, pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR));
	CHECK(audit_count("\"reason\":\"no_token\"", NULL) == 1, "use_first_pass without token audited");
	/* conversation failure */
	{
		struct pam_testcase tc[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_CONV_ERR) };
		/* (libpamtest.h's run_pamtest_conv macro misplaces a parenthesis) */
		CHECK(_pamtest_conv("ssm", ALLOWED, conv_fail, NULL, tc, 1, NULL) == PAMTEST_ERR_OK,
		      "conversation error -> PAM_CONV_ERR (got %d)", tc[0].op_rv);
	}
}

/* PAM_AUTHTOK set by an earlier module (pam_wrapper's pam_set_items reads $PAM_AUTHTOK) */
static void test_first_pass(void)
{
	const char *none[] = { NULL };
	char tok[8192];

	if (access(SET_ITEMS, R_OK) != 0) {
		printf("note: %s missing, first-pass rows skipped\n", SET_ITEMS);
		return;
	}
	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
	setenv("PAM_AUTHTOK", tok, 1);
	/* no answer available from the conversation: success proves no prompt happened */
	RUN(__LINE__, "ssm_items_ufp", ALLOWED, none, pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
	    pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS));
	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
	setenv("PAM_AUTHTOK", tok, 1);
	RUN(__LINE__, "ssm_items_tfp", ALLOWED, none, pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS));
	/* an earlier module's password is not a token: try_first_pass then asks for the
	 * token; use_first_pass refuses without asking */
	setenv("PAM_AUTHTOK", "hunter2", 1);
	{
		const char *toks[] = { tok, NULL };
		snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
		RUN(__LINE__, "ssm_items_tfp", ALLOWED, toks,
		    pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS));
		snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
		RUN(__LINE__, "ssm_items_ufp", ALLOWED, toks,
		    pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR));
	}
	unsetenv("PAM_AUTHTOK");
	/* try_first_pass without an item falls back to the prompt */
	{
		const char *toks[] = { tok, NULL };
		snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
		RUN(__LINE__, "ssm_tfp", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS));
	}
}

/* PAM_USER changed by another module after our auth (pam_wrapper's pam_set_items reads
 * $PAM_USER): account and open_session each refuse a user that is not the token's run_as,
 * so a session is never opened for someone the token does not name. */
static void test_user_changed(void)
{
	const char *toks[] = { NULL, NULL };
	char tok[8192];

	if (access(SET_ITEMS, R_OK) != 0) {
		printf("note: %s missing, user-change rows skipped\n", SET_ITEMS);
		return;
	}
	setenv("PAM_USER", "root", 1);
	toks[0] = tok;
	/* attack: a module in the account stack after auth switches the user to root */
	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
	RUN(__LINE__, "ssm_chuser_acct", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
	    pam_test(PAMTEST_ACCOUNT, PAM_PERM_DENIED),
	    pam_test(PAMTEST_OPEN_SESSION, PAM_SESSION_ERR));
	CHECK(audit_count("\"reason\":\"user_mismatch\"", NULL) >= 1,
	      "user changed before account: user_mismatch audited");
	/* attack: the switch happens in the session stack, after account approved */
	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
	RUN(__LINE__, "ssm_chuser_sess", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
	    pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
	    pam_test(PAMTEST_OPEN_SESSION, PAM_SESSION_ERR));
	CHECK(count_records(NULL, 0) == 0, "no session record for a changed user");
	unsetenv("PAM_USER");
}

/* An account call that fails for any reason (here: its configuration cannot be read) takes
 * back an approval an earlier account call gave in the same handle. */
static void test_account_revoked(void)
{
	const char *toks[] = { NULL, NULL };
	char tok[8192];

	toks[0] = tok;
	snprintf(tok, sizeof(tok), "%s", mint(ALLOWED, NULL));
	RUN(__LINE__, "ssm_acct_twice", ALLOWED, toks, pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
	    pam_test(PAMTEST_ACCOUNT, PAM_AUTHINFO_UNAVAIL),
	    pam_test(PAMTEST_OPEN_SESSION, PAM_SESSION_ERR));
	CHECK(count_records(NULL, 0) == 0, "no session record after a failed account step");
}

/* ------------------------------------------------------------------ setup */

static int write_service(const char *name, const char *auth_pre, const char *auth_args,
			 const char *conf)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/pam/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	if (auth_pre)
		fprintf(f, "auth required %s\n", auth_pre);
	fprintf(f, "auth required %s %s\n", module, auth_args);
	fprintf(f, "account required %s config=%s\n", module, conf);
	fprintf(f, "session required %s config=%s\n", module, conf);
	return fclose(f);
}

static int setup(void)
{
	char conf[512], args[1024], gw[512];

	if (run_sh("srcdir='%s'; . \"$srcdir/tests/pam_common.sh\"; need_python_jwt >/dev/null; "
		   "setup_host '%s/host' '[\"%s\"]' && mkdir '%s/pam' && "
		   "cp '%s/host/jwks.json' '%s/host/jwks-gw.json' && chmod 664 '%s/host/jwks-gw.json' && "
		   "sed 's#%s/host/jwks.json#%s/host/jwks-gw.json#' '%s/host/ssmsession.json' "
		   ">'%s/host/gw.json'",
		   srcdir, dir, ALLOWED, dir, dir, dir, dir, dir, dir, dir, dir) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/host/ssmsession.json", dir);
	if (run_sh("printf 'auth required pam_deny.so\\naccount required pam_deny.so\\n' >'%s/pam/other'",
		   dir) != 0)
		return -1;
	snprintf(gw, sizeof(gw), "%s/host/gw.json", dir);
	snprintf(args, sizeof(args), "config=%s", conf);
	if (write_service("ssm", NULL, args, conf))
		return -1;
	snprintf(args, sizeof(args), "config=%s", gw);
	if (write_service("ssm_gw", NULL, args, conf))
		return -1;
	snprintf(args, sizeof(args), "config=%s/host/absent.json", dir);
	if (write_service("ssm_noconf", NULL, args, conf))
		return -1;
	/* account with a bad option too: every step checks its options */
	{
		char path[512];
		FILE *f;
		snprintf(path, sizeof(path), "%s/pam/ssm_badopt", dir);
		f = fopen(path, "w");
		if (!f)
			return -1;
		fprintf(f, "auth required %s config=%s no_such_option\n", module, conf);
		fprintf(f, "account required %s config=%s debug=1\n", module, conf);
		fclose(f);
	}
	snprintf(args, sizeof(args), "config=%s use_first_pass", conf);
	if (write_service("ssm_ufp", NULL, args, conf) ||
	    write_service("ssm_items_ufp", SET_ITEMS, args, conf))
		return -1;
	/* another module changes PAM_USER after our auth: in account, or in session */
	{
		static const char *const names[] = { "ssm_chuser_acct", "ssm_chuser_sess" };
		char path[512];
		FILE *f;
		for (int k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/pam/%s", dir, names[k]);
			f = fopen(path, "w");
			if (!f)
				return -1;
			fprintf(f, "auth required %s config=%s\n", module, conf);
			if (k == 0)
				fprintf(f, "account required %s\n", SET_ITEMS);
			fprintf(f, "account required %s config=%s\n", module, conf);
			if (k == 1)
				fprintf(f, "session required %s\n", SET_ITEMS);
			fprintf(f, "session required %s config=%s\n", module, conf);
			if (fclose(f) != 0)
				return -1;
		}
	}
	/* account runs twice: the first approves, the second fails on its configuration */
	{
		char path[512];
		FILE *f;
		snprintf(path, sizeof(path), "%s/pam/ssm_acct_twice", dir);
		f = fopen(path, "w");
		if (!f)
			return -1;
		fprintf(f, "auth required %s config=%s\n", module, conf);
		fprintf(f, "account required %s config=%s\n", module, conf);
		fprintf(f, "account required %s config=%s/host/absent.json\n", module, dir);
		fprintf(f, "session required %s config=%s\n", module, conf);
		if (fclose(f) != 0)
			return -1;
	}
	snprintf(args, sizeof(args), "config=%s try_first_pass", conf);
	if (write_service("ssm_tfp", NULL, args, conf) ||
	    write_service("ssm_items_tfp", SET_ITEMS, args, conf))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *s = getenv("srcdir");
	int status;
	pid_t pid;

	if (realpath(s ? s : "..", srcdir) == NULL) {
		perror("test_pamtest: srcdir");
		return 99;
	}
	if (argc > 1)
		snprintf(module, sizeof(module), "%s", argv[1]);
	else if (realpath("pam_ssmsession/.libs/pam_ssmsession.so", module) == NULL) {
		perror("test_pamtest: pam_ssmsession/.libs/pam_ssmsession.so");
		return 99;
	}

	if (getenv("SSM_PAMTEST_DIR") != NULL) {
		/* the re-executed child, under pam_wrapper */
		snprintf(dir, sizeof(dir), "%s", getenv("SSM_PAMTEST_DIR"));
		test_full_session();
		test_close_after_recorder();
		test_refusals();
		test_first_pass();
		test_user_changed();
		test_account_revoked();
		return check_done("test_pamtest");
	}

#if defined(__SANITIZE_ADDRESS__)
	/* Debian 12's pam_wrapper dlopens libpam with RTLD_DEEPBIND, which the ASan runtime
	 * refuses, and has no switch to turn it off: the sanitizer build checks the module
	 * under the real libpam in tests/pam_pamtester.sh instead. */
	printf("SKIP: pam_wrapper (RTLD_DEEPBIND) cannot run under AddressSanitizer\n");
	return 77;
#endif
	if (system("/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null") != 0) {
		printf("SKIP: /usr/bin/python3 lacks python3-jwt/python3-cryptography\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/ssm-pamtest.XXXXXX");
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || setup() != 0) {
		fprintf(stderr, "test_pamtest: setup failed in %s\n", dir);
		return 99;
	}
	{
		char sd[512];
		snprintf(sd, sizeof(sd), "%s/pam", dir);
		setenv("SSM_PAMTEST_DIR", dir, 1);
		setenv("PAM_WRAPPER", "1", 1);
		setenv("PAM_WRAPPER_SERVICE_DIR", sd, 1);
		setenv("LD_PRELOAD", "libpam_wrapper.so", 1);
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (getenv("SSM_KEEP_TMP") == NULL)
		run_sh("rm -rf '%s'", dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}
