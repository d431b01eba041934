/* test_record.c - live session records: /proc parsing, write/read round trip, strict
 * validation, finding the record of an ancestor, unsafe files, live recorders */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <inttypes.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "json.h"
#include "log.h"
#include "record.h"
#include "util.h"
#include "check.h"
#include "testdir.h"

static int wait_exit(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *DOC_SHA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void fill(struct ssm_record *r, pid_t pid, uint64_t start)
{
	memset(r, 0, sizeof(*r));
	r->sid = (char *)"alice@example.com-abcd1234";
	r->sub = (char *)"alice@example.com";
	r->run_as = (char *)"ssm-user";
	r->jti = (char *)"jti_0123456789abcdef-XYZ";
	r->host_id = (char *)"i-0123456789abcdef0";
	r->doc_name = (char *)"SSM-SessionManagerRunShell";
	memcpy(r->doc_sha256, DOC_SHA, 65);
	r->params = NULL;
	r->exp = 2000000300;
	r->created = 2000000000;
	r->pid = pid;
	r->starttime = start;
	r->audit_session = 42;
}

static void test_proc(void)
{
	uint64_t start, cstart;
	uint32_t asid;
	pid_t ppid, pid;
	int pfd[2], s;
	char c;

	CHECK(ssm_proc_stat(getpid(), &ppid, &start) == 0, "stat of self");
	CHECK(ppid == getppid(), "ppid of self is getppid() (%ld)", (long)ppid);
	CHECK(start > 0, "starttime of self is set");
	CHECK(ssm_proc_stat(0, &ppid, &start) == -EINVAL, "pid 0 refused");
	CHECK(ssm_proc_stat(-5, &ppid, &start) == -EINVAL, "negative pid refused");
	CHECK(ssm_proc_stat(INT32_MAX, &ppid, &start) == -ESRCH, "no such process: -ESRCH");
	CHECK(ssm_proc_audit_session(getpid(), &asid) == 0, "audit session of self");
	CHECK(ssm_proc_audit_session(INT32_MAX, &asid) == -ESRCH, "audit session of no process");

	/* a child whose comm holds ") 1 2 3 (" and spaces: a parser that takes the first
	 * ')' would read a forged ppid */
	if (pipe(pfd) != 0)
		return;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		prctl(PR_SET_NAME, "x) S 1 1 1 (y)", 0, 0, 0);
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) == 1) {
		s = ssm_proc_stat(pid, &ppid, &cstart);
		CHECK(s == 0 && ppid == getpid(), "comm with ') S 1': ppid is the real parent (%ld)",
		      (long)ppid);
		CHECK(s == 0 && cstart >= start, "child starttime not before ours");
	}
	close(pfd[0]);
	kill(pid, SIGKILL);
	wait_exit(pid);
	CHECK(ssm_proc_stat(pid, &ppid, &cstart) == -ESRCH, "reaped child: -ESRCH");
}

static void test_roundtrip(void)
{
	char rd[DIRLEN], p[PATH_MAX], err[256];
	struct ssm_record in, *out = NULL;
	struct stat st;
	cJSON *j;
	char *s1, *s2;
	int r;

	new_dir_mode(rd, "rt", 0755);
	fill(&in, 4242, 123456789);
	in.params = cJSON_Parse("{\"host\":[\"db1\"],\"ports\":[\"1\",\"2\"]}");
	r = ssm_record_write(rd, &in);
	CHECK(r == 0, "record written (%d)", r);
	snprintf(p, sizeof(p), "%s/sessions", rd);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0755, "sessions dir 0755");
	snprintf(p, sizeof(p), "%s/sessions/4242-123456789.json", rd);
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600,
	      "record file PID-STARTTIME.json is 0600");
	r = ssm_record_read(p, &out, err, sizeof(err));
	CHECK(r == 0, "record read back (%d: %s)", r, err);
	if (r == 0) {
		CHECK(strcmp(out->sid, in.sid) == 0 && strcmp(out->sub, in.sub) == 0 &&
		      strcmp(out->run_as, in.run_as) == 0 && strcmp(out->jti, in.jti) == 0 &&
		      strcmp(out->host_id, in.host_id) == 0 &&
		      strcmp(out->doc_name, in.doc_name) == 0 &&
		      strcmp(out->doc_sha256, in.doc_sha256) == 0,
		      "strings round-trip");
		CHECK(out->exp == in.exp && out->created == in.created && out->pid == in.pid &&
		      out->starttime == in.starttime && out->audit_session == in.audit_session,
		      "numbers round-trip");
		s1 = cJSON_PrintUnformatted(in.params);
		s2 = out->params ? cJSON_PrintUnformatted(out->params) : NULL;
		CHECK(s1 && s2 && strcmp(s1, s2) == 0, "params round-trip");
		cJSON_free(s1);
		cJSON_free(s2);
		j = ssm_record_to_json(out);
		CHECK(j && ssm_json_member(j, "doc") && ssm_json_member(j, "audit_session") &&
		      ssm_json_member(j, "starttime"), "to_json has the members");
		cJSON_Delete(j);
		ssm_record_free(out);
	}
	cJSON_Delete(in.params);

	/* the optional PAM items: written when set, read back; absent stays NULL */
	fill(&in, 4244, 2);
	in.service = (char *)"sshd";
	in.rhost = (char *)"192.0.2.7";
	in.tty = (char *)"ssh";
	CHECK(ssm_record_write(rd, &in) == 0, "record with service, rhost, tty written");
	snprintf(p, sizeof(p), "%s/sessions/4244-2.json", rd);
	r = ssm_record_read(p, &out, err, sizeof(err));
	CHECK(r == 0 && out->service && strcmp(out->service, "sshd") == 0 && out->rhost &&
	      strcmp(out->rhost, "192.0.2.7") == 0 && out->tty && strcmp(out->tty, "ssh") == 0,
	      "service, rhost, tty round-trip (%d: %s)", r, err);
	if (r == 0)
		ssm_record_free(out);
	in.service = (char *)"ss\nhd";
	CHECK(ssm_record_write(rd, &in) == -EINVAL, "a service with a newline refused");
	in.service = in.rhost = in.tty = NULL;

	/* no params, unset audit session */
	fill(&in, 4243, 1);
	in.audit_session = 4294967295u;
	CHECK(ssm_record_write(rd, &in) == 0, "record without params written");
	snprintf(p, sizeof(p), "%s/sessions/4243-1.json", rd);
	r = ssm_record_read(p, &out, err, sizeof(err));
	CHECK(r == 0 && out->params == NULL && out->audit_session == 4294967295u,
	      "no params, audit_session unset: round-trip");
	CHECK(r == 0 && out->service == NULL && out->rhost == NULL && out->tty == NULL,
	      "a record without the PAM items reads with them NULL");
	if (r == 0)
		ssm_record_free(out);
	/* overwriting is atomic and leaves no temp file */
	CHECK(ssm_record_write(rd, &in) == 0, "rewritten");
	{
		DIR *d;
		struct dirent *de;
		int other = 0;

		snprintf(p, sizeof(p), "%s/sessions", rd);
		d = opendir(p);
		while (d && (de = readdir(d)) != NULL)
			other += de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
				 strcmp(de->d_name, "..") != 0;
		if (d)
			closedir(d);
		CHECK(other == 0, "no temp files left in sessions/");
	}
	CHECK(ssm_record_remove(rd, 4243, 1) == 0, "removed");
	CHECK(ssm_record_remove(rd, 4243, 1) == -ENOENT, "removed twice: -ENOENT");
	CHECK(ssm_record_read(p, &out, err, sizeof(err)) != 0, "a directory is not a record");
}

/* ---- records that must not be written */

struct wrow {
	int line;
	const char *what;
	void (*mod)(struct ssm_record *r);
};

static void w_sid_other_sub(struct ssm_record *r) { r->sid = (char *)"bob-abcd1234"; }
static void w_sid_slash(struct ssm_record *r) { r->sid = (char *)"alice@example.com-abcd/234"; }
static void w_sid_short(struct ssm_record *r) { r->sid = (char *)"alice@example.com-abc"; }
static void w_sub_space(struct ssm_record *r) { r->sub = (char *)"alice smith"; r->sid = (char *)"alice smith-abcd1234"; }
static void w_jti_short(struct ssm_record *r) { r->jti = (char *)"short"; }
static void w_jti_dot(struct ssm_record *r) { r->jti = (char *)"jti.0123456789abcdef"; }
static void w_run_as_dash(struct ssm_record *r) { r->run_as = (char *)"-oops"; }
static void w_run_as_slash(struct ssm_record *r) { r->run_as = (char *)"../root"; }
static void w_run_as_digits(struct ssm_record *r) { r->run_as = (char *)"0"; }
static void w_doc_sha_upper(struct ssm_record *r) { memcpy(r->doc_sha256, "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", 65); }
static void w_doc_name_slash(struct ssm_record *r) { r->doc_name = (char *)"../../etc/x"; }
static void w_pid_zero(struct ssm_record *r) { r->pid = 0; }
static void w_null_sid(struct ssm_record *r) { r->sid = NULL; }
static void w_host_space(struct ssm_record *r) { r->host_id = (char *)"i-1 2"; }
static void w_start_huge(struct ssm_record *r) { r->starttime = UINT64_MAX; }

static const struct wrow wrows[] = {
	/* a sid naming another principal */
	{ __LINE__, "sid of another sub", w_sid_other_sub },
	/* the sid becomes a file name under live/ */
	{ __LINE__, "sid with a slash", w_sid_slash },
	{ __LINE__, "sid tail too short", w_sid_short },
	{ __LINE__, "sub with a space", w_sub_space },
	{ __LINE__, "jti too short", w_jti_short },
	{ __LINE__, "jti outside base64url", w_jti_dot },
	/* a user name read as an option by a later command */
	{ __LINE__, "run_as starting with -", w_run_as_dash },
	{ __LINE__, "run_as with a slash", w_run_as_slash },
	/* getpwnam("0") might be read as uid 0 by some tool */
	{ __LINE__, "run_as all digits", w_run_as_digits },
	{ __LINE__, "doc sha256 upper case", w_doc_sha_upper },
	{ __LINE__, "doc name with a path", w_doc_name_slash },
	{ __LINE__, "pid 0", w_pid_zero },
	{ __LINE__, "NULL sid", w_null_sid },
	{ __LINE__, "host_id with a space", w_host_space },
	/* not exact in JSON */
	{ __LINE__, "starttime beyond 2^53", w_start_huge },
};

static void test_write_bad(void)
{
	struct ssm_record rec;
	char rd[DIRLEN];
	size_t i;
	int r;

	new_dir_mode(rd, "wbad", 0755);
	for (i = 0; i < sizeof(wrows) / sizeof(wrows[0]); i++) {
		fill(&rec, 777, 7);
		wrows[i].mod(&rec);
		r = ssm_record_write(rd, &rec);
		CHECK_ROW(wrows[i].line, r == -EINVAL, "%s: write refused (got %d)", wrows[i].what,
			  r);
	}
	fill(&rec, 777, 7);
	rec.params = cJSON_Parse("{\"x\":[\"a\\nb\"]}");
	/* a newline in a parameter value (SPEC section 3 refuses control characters) */
	CHECK(ssm_record_write(rd, &rec) == -EINVAL, "param value with a newline refused");
	cJSON_Delete(rec.params);
	rec.params = cJSON_Parse("{\"x\":\"not-a-list\"}");
	CHECK(ssm_record_write(rd, &rec) == -EINVAL, "param value not a list refused");
	cJSON_Delete(rec.params);
}

/* ---- record files that must not be read */

#define GOOD_DOC "\"doc\":{\"name\":\"SSM-SessionManagerRunShell\",\"sha256\":" \
	"\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}"
#define GOOD_HEAD "\"sid\":\"alice-abcd1234\",\"sub\":\"alice\",\"run_as\":\"ssm-user\"," \
	"\"jti\":\"jti_0123456789abcdef\",\"host_id\":\"i-0123\","
#define GOOD_TAIL "\"params\":null,\"exp\":10,\"created\":5,\"pid\":100,\"starttime\":9," \
	"\"audit_session\":1"

struct rrow {
	int line;
	const char *json;
	int want;
};

static const struct rrow rrows[] = {
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC "," GOOD_TAIL "}", 0 },
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC "," GOOD_TAIL "}\n", 0 },
	/* duplicate member: another reader would see the other pid */
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC "," GOOD_TAIL ",\"pid\":1}", -EINVAL },
	/* trailing garbage */
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC "," GOOD_TAIL "}{}", -EINVAL },
	/* missing member */
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC ",\"exp\":10,\"created\":5,\"pid\":100,"
		    "\"audit_session\":1}", -EINVAL },
	/* wrong types */
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC ",\"params\":null,\"exp\":\"10\",\"created\":5,"
		    "\"pid\":100,\"starttime\":9,\"audit_session\":1}", -EINVAL },
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC ",\"params\":[],\"exp\":10,\"created\":5,"
		    "\"pid\":100,\"starttime\":9,\"audit_session\":1}", -EINVAL },
	/* fractional and negative pids */
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC ",\"params\":null,\"exp\":10,\"created\":5,"
		    "\"pid\":100.5,\"starttime\":9,\"audit_session\":1}", -EINVAL },
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC ",\"params\":null,\"exp\":10,\"created\":5,"
		    "\"pid\":-1,\"starttime\":9,\"audit_session\":1}", -EINVAL },
	/* audit session beyond 32 bits */
	{ __LINE__, "{" GOOD_HEAD GOOD_DOC ",\"params\":null,\"exp\":10,\"created\":5,"
		    "\"pid\":100,\"starttime\":9,\"audit_session\":4294967296}", -EINVAL },
	/* NUL smuggled into the sub */
	{ __LINE__, "{\"sid\":\"alice-abcd1234\",\"sub\":\"alice\\u0000x\",\"run_as\":\"ssm-user\","
		    "\"jti\":\"jti_0123456789abcdef\",\"host_id\":\"i-0123\"," GOOD_DOC ","
		    GOOD_TAIL "}", -EINVAL },
	/* sid that does not start with sub */
	{ __LINE__, "{\"sid\":\"mallory-abcd1234\",\"sub\":\"alice\",\"run_as\":\"ssm-user\","
		    "\"jti\":\"jti_0123456789abcdef\",\"host_id\":\"i-0123\"," GOOD_DOC ","
		    GOOD_TAIL "}", -EINVAL },
	/* doc sha256 too short */
	{ __LINE__, "{" GOOD_HEAD "\"doc\":{\"name\":\"SSM-x\",\"sha256\":\"0123\"}," GOOD_TAIL "}",
	  -EINVAL },
	/* not an object */
	{ __LINE__, "[]", -EINVAL },
	{ __LINE__, "", -EINVAL },
};

static int put_file(const char *path, const char *text, mode_t mode)
{
	int fd, r;

	unlink(path);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, mode);
	if (fd < 0)
		return -1;
	r = ssm_write_all(fd, text, strlen(text));
	if (fchmod(fd, mode) != 0)
		r = -1;
	close(fd);
	return r;
}

static void test_read_bad(void)
{
	char rd[DIRLEN], p[PATH_MAX], t[PATH_MAX], err[256];
	struct ssm_record *rec;
	size_t i;
	int r;

	new_dir_mode(rd, "rbad", 0755);
	snprintf(p, sizeof(p), "%s/r.json", rd);
	for (i = 0; i < sizeof(rrows) / sizeof(rrows[0]); i++) {
		put_file(p, rrows[i].json, 0644);
		rec = NULL;
		r = ssm_record_read(p, &rec, err, sizeof(err));
		CHECK_ROW(rrows[i].line, r == rrows[i].want, "got %d (%s), want %d", r,
			  r ? err : "", rrows[i].want);
		CHECK_ROW(rrows[i].line, (r == 0) == (rec != NULL), "record set only on success");
		ssm_record_free(rec);
	}

	/* unsafe files */
	put_file(p, rrows[0].json, 0666);
	/* anyone could have written it */
	CHECK(ssm_record_read(p, &rec, err, sizeof(err)) == -EACCES, "0666 record refused");
	put_file(p, rrows[0].json, 0664);
	CHECK(ssm_record_read(p, &rec, err, sizeof(err)) == -EACCES, "0664 record refused");
	snprintf(t, sizeof(t), "%s/link.json", rd);
	put_file(p, rrows[0].json, 0644);
	if (symlink(p, t) != 0)
		perror("symlink");
	/* a symlink to a good record elsewhere */
	CHECK(ssm_record_read(t, &rec, err, sizeof(err)) == -EACCES, "symlinked record refused");
	snprintf(t, sizeof(t), "%s/fifo.json", rd);
	mkfifo(t, 0644);
	CHECK(ssm_record_read(t, &rec, err, sizeof(err)) == -EACCES, "FIFO refused, no hang");
	if (geteuid() == 0) {
		put_file(p, rrows[0].json, 0644);
		if (chown(p, 65534, 65534) != 0)
			perror("chown");
		CHECK(ssm_record_read(p, &rec, err, sizeof(err)) == -EACCES,
		      "record owned by nobody refused");
	} else {
		printf("SKIP: record owned by another user: needs root\n");
	}
}

/* ---- finding the record through the ancestors */

/* In a forked descendant: ssm_record_find(from) and report through the exit status:
 * 0 found with pid == want_pid, 1 -ENOENT, 2 -EACCES, 3 found something else, 4 other */
static int find_code(const char *rd, pid_t from, pid_t want_pid)
{
	struct ssm_record *rec = NULL;
	char err[256];
	int r;

	r = ssm_record_find(rd, from, &rec, err, sizeof(err));
	if (r == 0) {
		r = rec->pid == want_pid ? 0 : 3;
		ssm_record_free(rec);
		return r;
	}
	return r == -ENOENT ? 1 : r == -EACCES ? 2 : 4;
}

/* fork a child, which forks a grandchild, which runs find_code(getpid()) */
static int find_in_grandchild(const char *rd, pid_t want)
{
	pid_t c = fork();

	if (c == 0) {
		pid_t g = fork();

		if (g == 0)
			_exit(find_code(rd, getpid(), want));
		_exit(wait_exit(g));
	}
	return wait_exit(c);
}

static void test_find(void)
{
	char rd[DIRLEN], p[PATH_MAX], q[PATH_MAX], err[256];
	struct ssm_record rec, *out;
	uint64_t start;
	pid_t me = getpid(), ppid;
	int r;

	new_dir_mode(rd, "find", 0755);
	if (ssm_proc_stat(me, &ppid, &start) != 0) {
		CHECK(0, "stat of self");
		return;
	}
	/* no sessions dir at all */
	CHECK(find_in_grandchild(rd, me) == 1, "no sessions dir: -ENOENT");

	fill(&rec, me, start);
	CHECK(ssm_record_write(rd, &rec) == 0, "record for the test process written");
	r = find_in_grandchild(rd, me);
	CHECK(r == 0, "grandchild finds its grandparent's record (%d)", r);
	/* a direct child as well */
	{
		pid_t c = fork();

		if (c == 0)
			_exit(find_code(rd, getpid(), me));
		r = wait_exit(c);
		CHECK(r == 0, "child finds its parent's record (%d)", r);
	}
	/* the search starts at the parent: our own record is not ours to find */
	r = ssm_record_find(rd, me, &out, err, sizeof(err));
	CHECK(r == -ENOENT, "own record skipped: search starts at the parent (%d)", r);
	/* a process that is not our descendant (our parent's chain) */
	r = ssm_record_find(rd, ppid, &out, err, sizeof(err));
	CHECK(r == -ENOENT, "unrelated process (our parent) finds nothing (%d)", r);
	/* an orphaned grandchild: re-parented away from us, it must not find our record */
	{
		int pfd[2];
		char c = 0;
		pid_t k;

		if (pipe(pfd) == 0) {
			k = fork();
			if (k == 0) {
				pid_t kp = getpid(), g = fork();
				int n;

				if (g == 0) {
					close(pfd[0]);
					/* wait (bounded) until our parent has exited */
					for (n = 0; n < 5000 && getppid() == kp; n++)
						usleep(1000);
					c = (char)find_code(rd, getpid(), me);
					if (write(pfd[1], &c, 1) != 1)
						_exit(1);
					_exit(0);
				}
				_exit(0);
			}
			close(pfd[1]);
			wait_exit(k);
			if (read(pfd[0], &c, 1) != 1)
				c = 9;
			close(pfd[0]);
			CHECK(c == 1, "orphaned grandchild (re-parented) finds nothing (%d)", c);
		}
	}

	/* a record whose file name carries another start time (pid reused): not used */
	CHECK(ssm_record_remove(rd, me, start) == 0, "good record removed");
	fill(&rec, me, start + 1);
	CHECK(ssm_record_write(rd, &rec) == 0, "record with a wrong start time written");
	r = find_in_grandchild(rd, me);
	CHECK(r == 1, "record with another start time is not used (%d)", r);
	CHECK(ssm_record_remove(rd, me, start + 1) == 0, "removed");

	/* the right file name, but content naming another process: refused */
	fill(&rec, 99999, start);
	CHECK(ssm_record_write(rd, &rec) == 0, "record for another pid written");
	snprintf(p, sizeof(p), "%s/sessions/99999-%" PRIu64 ".json", rd, start);
	snprintf(q, sizeof(q), "%s/sessions/%ld-%" PRIu64 ".json", rd, (long)me, start);
	CHECK(rename(p, q) == 0, "renamed to our name");
	r = find_in_grandchild(rd, me);
	CHECK(r == 2, "record whose content names another pid refused (%d)", r);

	/* unsafe record on the way: fail closed rather than keep looking */
	fill(&rec, me, start);
	CHECK(ssm_record_write(rd, &rec) == 0, "good record again");
	CHECK(chmod(q, 0666) == 0, "made world-writable");
	r = find_in_grandchild(rd, me);
	CHECK(r == 2, "world-writable record refused (%d)", r);
	CHECK(chmod(q, 0644) == 0 && find_in_grandchild(rd, me) == 0, "mode restored: found");

	/* unsafe sessions directory */
	snprintf(p, sizeof(p), "%s/sessions", rd);
	CHECK(chmod(p, 0777) == 0 && find_in_grandchild(rd, me) == 2,
	      "world-writable sessions dir refused");
	chmod(p, 0755);
	CHECK(chmod(rd, 0777) == 0 && find_in_grandchild(rd, me) == 2,
	      "world-writable run_dir refused");
	chmod(rd, 0755);
	if (geteuid() == 0) {
		CHECK(chown(p, 65534, 65534) == 0 && find_in_grandchild(rd, me) == 2,
		      "sessions dir owned by nobody refused");
		if (chown(p, 0, 0) != 0)
			perror("chown");
		CHECK(chown(q, 65534, 65534) == 0 && find_in_grandchild(rd, me) == 2,
		      "record owned by nobody refused");
		if (chown(q, 0, 0) != 0)
			perror("chown");
	} else {
		printf("SKIP: ownership rows of find: need root\n");
	}
	/* sessions dir replaced by a symlink to a directory holding a good record */
	snprintf(q, sizeof(q), "%s/sessions-real", rd);
	CHECK(rename(p, q) == 0 && symlink(q, p) == 0, "sessions is now a symlink");
	CHECK(find_in_grandchild(rd, me) == 2, "symlinked sessions dir refused");
}

static int count_fn(void *ctx, const char *path, const struct ssm_record *rec)
{
	int *n = ctx;

	(void)path;
	(void)rec;
	return ++*n >= 100 ? 1 : 0;
}

static int stop_fn(void *ctx, const char *path, const struct ssm_record *rec)
{
	int *n = ctx;

	(void)path;
	(void)rec;
	++*n;
	return 7;
}

static void test_foreach(void)
{
	struct ssm_record rec;
	char rd[DIRLEN], p[PATH_MAX];
	int n = 0, r, i;

	new_dir_mode(rd, "each", 0755);
	CHECK(ssm_record_foreach(rd, count_fn, &n) == 0 && n == 0, "no sessions dir: none");
	for (i = 1; i <= 3; i++) {
		fill(&rec, 1000 + i, (uint64_t)i);
		CHECK(ssm_record_write(rd, &rec) == 0, "write %d", i);
	}
	/* noise: a bad record and a foreign file are skipped */
	snprintf(p, sizeof(p), "%s/sessions/5-5.json", rd);
	put_file(p, "{}", 0644);
	snprintf(p, sizeof(p), "%s/sessions/README", rd);
	put_file(p, "hello", 0644);
	r = ssm_record_foreach(rd, count_fn, &n);
	CHECK(r == 0 && n == 3, "three valid records listed (r %d n %d)", r, n);
	n = 0;
	r = ssm_record_foreach(rd, stop_fn, &n);
	CHECK(r == 7 && n == 1, "stops at the first non-zero return and passes it on");
	fill(&rec, getpid(), 0);
	CHECK(ssm_proc_stat(getpid(), NULL, &rec.starttime) == 0 && ssm_record_alive(&rec) == 1,
	      "own record is alive");
	rec.starttime++;
	CHECK(ssm_record_alive(&rec) == 0, "other start time: not alive");
}

static void test_live(void)
{
	char rd[DIRLEN], p[PATH_MAX];
	const char *sid = "alice-0123abcd";
	struct stat st;
	uint64_t start, cstart;
	pid_t pid = 0, c;

	new_dir_mode(rd, "live", 0755);
	CHECK(ssm_live_lookup(rd, sid, &pid) == -ENOENT, "nothing registered: -ENOENT");
	CHECK(ssm_proc_stat(getpid(), NULL, &start) == 0, "own start time");
	CHECK(ssm_live_register(rd, sid, getpid(), start, "ssm-user", 2000000000) == 0,
	      "registered");
	snprintf(p, sizeof(p), "%s/live/%s.json", rd, sid);
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600,
	      "live/SID.json is 0600");
	CHECK(ssm_live_lookup(rd, sid, &pid) == 0 && pid == getpid(), "lookup finds us");
	/* the same pid number, another process (start time differs): not live */
	CHECK(ssm_live_register(rd, sid, getpid(), start + 1, "ssm-user", 2000000000) == 0,
	      "re-registered with another start time");
	CHECK(ssm_live_lookup(rd, sid, &pid) == -ENOENT, "start time mismatch: -ENOENT");
	/* a recorder that has exited */
	c = fork();
	if (c == 0)
		_exit(0);
	ssm_proc_stat(c, NULL, &cstart);
	wait_exit(c);
	CHECK(ssm_live_register(rd, sid, c, cstart, "ssm-user", 2000000000) == 0,
	      "registered a process that then exited");
	CHECK(ssm_live_lookup(rd, sid, &pid) == -ENOENT, "exited recorder: -ENOENT");
	/* a sid that would escape live/ */
	CHECK(ssm_live_register(rd, "../../etc/x-abcdefgh", getpid(), start, "ssm-user", 1) ==
	      -EINVAL, "sid with a path refused by register");
	CHECK(ssm_live_lookup(rd, "../x-abcdefgh", &pid) == -EINVAL, "and by lookup");
	CHECK(ssm_live_register(rd, sid, getpid(), start, "ssm-user", 1) == 0, "back");
	CHECK(chmod(p, 0666) == 0 && ssm_live_lookup(rd, sid, &pid) == -EACCES,
	      "world-writable live file refused");
	CHECK(ssm_live_unregister(rd, sid) == 0 && ssm_live_lookup(rd, sid, &pid) == -ENOENT,
	      "unregistered");
}

/* run_dir/agent/delivered-SID: what the broker holds, and the agent's queued mark */
static void put_delivered(const char *rd, const char *sid, const char *content, size_t len)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/agent/delivered-%s", rd, sid);
	(void)unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(fd >= 0 && write(fd, content, len) == (ssize_t)len, "wrote a delivered file");
	if (fd >= 0)
		close(fd);
}

static void test_delivered(void)
{
	static const struct {
		const char *content;
		size_t len;
	} bad[] = {
		{"", 0},
		{"\n", 1},
		{"12", 2},
		{"12 \n", 4},
		{"x\n", 2},
		{"-1\n", 3},
		{" 1\n", 3},
		{"+1\n", 3},
		{"1 queued\n", 9},
		{"1 queued \n", 10},
		{"1 queued x\n", 11},
		{"1 queued -5\n", 12},
		{"1 queued 5 \n", 12},
		{"1 Queued 5\n", 11},
		{"1 queued 5\n2\n", 13},
		{"99999999999999999999999\n", 24},
		{"1 queued 99999999999999999999999\n", 33},
		{"1\0\n", 3},
		{"1\n\n", 3},
	};
	char rd[DIRLEN], p[PATH_MAX], buf[128], line[64];
	const char *sid = "alice-0123abcd";
	uint64_t bytes;
	size_t i;
	int q, fd, n;

	CHECK(ssm_record_sid_valid(sid) && !ssm_record_sid_valid("alice-copy") &&
	      !ssm_record_sid_valid("nodash01234567") && !ssm_record_sid_valid("../x-abcdefgh") &&
	      !ssm_record_sid_valid("-abcdefgh"), "ssm_record_sid_valid: the form USER-TAIL");
	new_dir_mode(rd, "delivered", 0755);
	CHECK(ssm_agent_delivered_read(rd, sid, &bytes, &q) == 0 && bytes == 0 && q == 0,
	      "no file yet: 0 bytes, not queued");
	CHECK(ssm_agent_delivered_mark(rd, sid, 0) == 0, "clearing a mark that is not there");
	snprintf(p, sizeof(p), "%s/agent/delivered-%s", rd, sid);
	CHECK(access(p, F_OK) != 0, "  writes no file");
	CHECK(ssm_agent_delivered_write(rd, sid, 123, 0) == 0 &&
	      ssm_agent_delivered_read(rd, sid, &bytes, &q) == 0 && bytes == 123 && q == 0,
	      "bytes written and read back");
	CHECK(ssm_agent_delivered_read(rd, sid, &bytes, NULL) == 0 && bytes == 123,
	      "pqueued may be NULL");
	CHECK(ssm_agent_delivered_mark(rd, sid, 1) == 0 &&
	      ssm_agent_delivered_read(rd, sid, &bytes, &q) == 0 && bytes == 123 && q == 1,
	      "marked queued, bytes kept");
	fd = open(p, O_RDONLY);
	n = fd >= 0 ? (int)read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strncmp(buf, "123 queued ", 11) == 0 && buf[n > 0 ? n - 1 : 0] == '\n',
	      "  as \"BYTES queued MS\"");
	CHECK(ssm_agent_delivered_mark(rd, sid, 0) == 0 &&
	      ssm_agent_delivered_read(rd, sid, &bytes, &q) == 0 && bytes == 123 && q == 0,
	      "mark cleared, bytes kept");
	CHECK(ssm_agent_delivered_mark(rd, "alice-0123abce", 1) == 0 &&
	      ssm_agent_delivered_read(rd, "alice-0123abce", &bytes, &q) == 0 && bytes == 0 &&
	      q == 1, "marked queued before any byte was acknowledged");
	/* a mark the agent did not renew (dead, or its link down) counts for nothing; so does
	 * one from the future */
	if (ssm_mono_ms() > SSM_AGENT_QUEUED_TTL_MS + 1000) { /* not just booted */
		n = snprintf(line, sizeof(line), "77 queued %lld\n",
			     (long long)(ssm_mono_ms() - SSM_AGENT_QUEUED_TTL_MS - 1000));
		put_delivered(rd, sid, line, (size_t)n);
		CHECK(ssm_agent_delivered_read(rd, sid, &bytes, &q) == 0 && bytes == 77 && q == 0,
		      "an old mark: not queued");
	}
	n = snprintf(line, sizeof(line), "77 queued %lld\n", (long long)(ssm_mono_ms() + 60000));
	put_delivered(rd, sid, line, (size_t)n);
	CHECK(ssm_agent_delivered_read(rd, sid, &bytes, &q) == 0 && bytes == 77 && q == 0,
	      "a mark from the future: not queued");
	n = snprintf(line, sizeof(line), "78 queued %lld\n", (long long)ssm_mono_ms());
	put_delivered(rd, sid, line, (size_t)n);
	CHECK(ssm_agent_delivered_read(rd, sid, &bytes, &q) == 0 && bytes == 78 && q == 1,
	      "a fresh mark: queued");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_delivered(rd, sid, bad[i].content, bad[i].len);
		bytes = 5;
		q = 5;
		if (ssm_agent_delivered_read(rd, sid, &bytes, &q) != -EINVAL || bytes != 0 || q != 0) {
			fprintf(stderr, "bad delivered file %zu accepted\n", i);
			CHECK(0, "a malformed delivered file is refused");
		}
	}
	put_delivered(rd, sid, "5\n", 2);
	CHECK(chmod(p, 0666) == 0 && ssm_agent_delivered_read(rd, sid, &bytes, &q) == -EACCES,
	      "a delivered file others may write is refused");
	CHECK(ssm_agent_delivered_read(rd, "../x-abcdefgh", &bytes, &q) == -EINVAL,
	      "a sid with a path is refused");
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/ssm-test-record-XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	chmod(base, 0755);
	ssm_log_set_handler(quiet_log, NULL);
	test_proc();
	test_roundtrip();
	test_write_bad();
	test_read_bad();
	test_find();
	test_foreach();
	test_live();
	test_delivered();
	rm_rf(base);
	return check_done("test_record");
}
