/* test_audit.c - the audit log: one valid JSON object a line with the required members,
 * no interleaving between concurrent writers, no writing through symlinks */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "audit.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "check.h"
#include "testdir.h"

#define T0 ((int64_t)1795348800) /* 2026-11-22T12:00:00Z */

static char *slurp(const char *path, size_t *plen)
{
	char *buf = NULL;

	/* the test owns these files: no trust flags needed */
	if (ssm_read_file(path, 64 << 20, 0, &buf, plen, NULL, 0) < 0)
		return NULL;
	return buf;
}

static int count_lines(const char *path)
{
	size_t len, i;
	char *buf = slurp(path, &len);
	int n = 0;

	if (buf == NULL)
		return -1;
	for (i = 0; i < len; i++)
		n += buf[i] == '\n';
	free(buf);
	return n;
}

static int str_member(const cJSON *o, const char *name, const char *want)
{
	const char *v;

	return ssm_json_get_string(o, name, &v) == 0 && strcmp(v, want) == 0;
}

static void test_lines(void)
{
	struct ssm_audit_session s = { "alice-abcdef12", "alice", "ssm-user", "SSM-SessionManagerRunShell" };
	char dir[DIRLEN], log_dir[2 * DIRLEN], path[PATH_MAX];
	char *buf, *line, *save = NULL;
	cJSON *extra, *o;
	struct stat st;
	size_t len;
	int r, n;

	new_dir_mode(dir, "lines", 0700);
	/* log_dir missing: created 0750 */
	snprintf(log_dir, sizeof(log_dir), "%s/log", dir);
	snprintf(path, sizeof(path), "%s/audit.jsonl", log_dir);
	extra = cJSON_CreateObject();
	cJSON_AddStringToObject(extra, "reason", "exit");
	cJSON_AddNumberToObject(extra, "code", 3);
	r = ssm_audit_write(log_dir, T0, "i-0123456789abcdef0", "session_end", &s, extra);
	CHECK(r == 0, "session event written (%d)", r);
	r = ssm_audit_write(log_dir, T0 + 1, "i-0123456789abcdef0", "login_denied", NULL, NULL);
	CHECK(r == 0, "event without session written (%d)", r);
	cJSON_Delete(extra);

	CHECK(stat(log_dir, &st) == 0 && (st.st_mode & 07777) == 0750, "log_dir created 0750");
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640,
	      "audit.jsonl created 0640 (mode %o)", (unsigned)(st.st_mode & 07777));

	buf = slurp(path, &len);
	CHECK(buf != NULL && len > 0 && buf[len - 1] == '\n', "file ends with a newline");
	if (buf == NULL)
		return;
	n = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		r = ssm_json_parse_object(line, strlen(line), &o, NULL, 0);
		CHECK(r == 0, "line %d is one strict JSON object", n);
		if (r < 0)
			continue;
		CHECK(str_member(o, "host_id", "i-0123456789abcdef0"), "line %d host_id", n);
		if (n == 0) {
			int64_t code;

			CHECK(str_member(o, "ts", "2026-11-22T12:00:00Z"), "line 0 ts RFC 3339 UTC");
			CHECK(str_member(o, "event", "session_end"), "line 0 event");
			CHECK(str_member(o, "sid", "alice-abcdef12") && str_member(o, "sub", "alice") &&
			      str_member(o, "run_as", "ssm-user") &&
			      str_member(o, "doc", "SSM-SessionManagerRunShell"),
			      "line 0 session members");
			CHECK(str_member(o, "reason", "exit") &&
			      ssm_json_get_int64(o, "code", &code) == 0 && code == 3,
			      "line 0 extra members");
			/* ts, event, host_id come first, as a reader scanning by eye expects */
			CHECK(strncmp(line, "{\"ts\":", 6) == 0, "line 0 starts with ts");
		} else {
			CHECK(str_member(o, "ts", "2026-11-22T12:00:01Z"), "line 1 ts");
			CHECK(str_member(o, "event", "login_denied"), "line 1 event");
			CHECK(ssm_json_member(o, "sid") == NULL, "line 1 has no session members");
		}
		cJSON_Delete(o);
	}
	CHECK(n == 2, "two lines (got %d)", n);
	free(buf);
}

struct bad_row {
	int line;
	const char *what;
	const char *event;
	const char *extra_json;
	const char *bad_value; /* put into extra.reason when not NULL */
	int want;
};

static const struct bad_row bad_rows[] = {
	/* extra may not forge the members the log vouches for */
	{ __LINE__, "extra overrides event", "x", "{\"event\":\"session_start\"}", NULL, -EINVAL },
	{ __LINE__, "extra overrides ts", "x", "{\"ts\":\"1970-01-01T00:00:00Z\"}", NULL, -EINVAL },
	{ __LINE__, "extra overrides host_id", "x", "{\"host_id\":\"i-other\"}", NULL, -EINVAL },
	{ __LINE__, "extra is not an object", "x", "[1,2]", NULL, -EINVAL },
	/* a member name that is not valid UTF-8 (names are the caller's constants) */
	{ __LINE__, "invalid UTF-8 member name", "x", "{}", NULL, -EINVAL },
	/* no event */
	{ __LINE__, "NULL event", NULL, "{}", NULL, -EINVAL },
};

static void test_bad(void)
{
	char dir[DIRLEN], path[PATH_MAX];
	cJSON *extra;
	size_t i;
	int r;

	new_dir_mode(dir, "bad", 0700);
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		const struct bad_row *b = &bad_rows[i];

		extra = cJSON_Parse(b->extra_json);
		if (b->bad_value)
			cJSON_AddStringToObject(extra, "reason", b->bad_value);
		if (strcmp(b->what, "invalid UTF-8 member name") == 0)
			cJSON_AddStringToObject(extra, "re\xffson", "x");
		r = ssm_audit_write(dir, T0, "i-0123", b->event, NULL, extra);
		CHECK_ROW(b->line, r == b->want, "%s: got %d, want %d", b->what, r, b->want);
		cJSON_Delete(extra);
	}
	r = count_lines(path);
	CHECK(r <= 0, "nothing written by refused events (%d lines)", r);

	/* invalid UTF-8 from an untrusted value (a PAM user name): logged as \xNN text, so
	 * the event is not lost and the line stays valid UTF-8 */
	{
		static const struct {
			int line;
			const char *in, *out;
		} u8[] = {
			{ __LINE__, "abc\xff\xfe", "abc\\xff\\xfe" },
			{ __LINE__, "\xc0\xaf", "\\xc0\\xaf" },            /* overlong '/' */
			{ __LINE__, "\xed\xa0\x80x", "\\xed\\xa0\\x80x" }, /* surrogate */
			{ __LINE__, "\xc3\xa9\xe2\x82", "\xc3\xa9\\xe2\\x82" }, /* cut short */
			{ __LINE__, "ok \xe2\x82\xac", "ok \xe2\x82\xac" },  /* valid stays */
		};
		size_t k;

		for (k = 0; k < sizeof(u8) / sizeof(u8[0]); k++) {
			char d2[DIRLEN], p2[PATH_MAX];
			struct ssm_audit_session s = { "alice-abcdef12", u8[k].in, "ssm-user", "doc" };
			char *buf;
			size_t len;
			cJSON *o = NULL;

			new_dir_mode(d2, "utf8", 0700);
			snprintf(p2, sizeof(p2), "%s/audit.jsonl", d2);
			extra = cJSON_CreateObject();
			cJSON_AddStringToObject(extra, "user", u8[k].in);
			r = ssm_audit_write(d2, T0, "i-0123", "login_denied", &s, extra);
			cJSON_Delete(extra);
			CHECK_ROW(u8[k].line, r == 0, "written (%d)", r);
			buf = slurp(p2, &len);
			CHECK_ROW(u8[k].line, buf && ssm_json_parse_object(buf, len, &o, NULL, 0) == 0,
				  "line is strict JSON");
			CHECK_ROW(u8[k].line, o && str_member(o, "user", u8[k].out) &&
					      str_member(o, "sub", u8[k].out),
				  "value logged as expected");
			cJSON_Delete(o);
			free(buf);
		}
	}

	/* untrusted text with quotes, newlines and escapes stays inside one line */
	extra = cJSON_CreateObject();
	cJSON_AddStringToObject(extra, "reason", "bad\"}\n{\"event\":\"forged\"}\r\x1b[2J");
	r = ssm_audit_write(dir, T0, "i-0123", "login_denied", NULL, extra);
	cJSON_Delete(extra);
	CHECK(r == 0, "event with hostile text written");
	CHECK(count_lines(path) == 1, "hostile text did not add a line");
	{
		size_t len;
		char *buf = slurp(path, &len);
		cJSON *o = buf ? cJSON_ParseWithLength(buf, len) : NULL;

		CHECK(o && str_member(o, "event", "login_denied") &&
		      str_member(o, "reason", "bad\"}\n{\"event\":\"forged\"}\r\x1b[2J"),
		      "hostile text round-trips as data");
		cJSON_Delete(o);
		free(buf);
	}
}

#define WRITERS 8
#define PER_WRITER 200

static void test_concurrent(void)
{
	char dir[DIRLEN], path[PATH_MAX], pad[3001];
	static char seen[WRITERS][PER_WRITER];
	char *buf, *line, *save = NULL;
	pid_t pids[WRITERS];
	size_t len;
	int i, k, bad = 0, lines = 0, dups = 0, missing = 0, status;

	new_dir_mode(dir, "conc", 0700);
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	/* long lines make a torn or interleaved write likely to show */
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (k = 0; k < WRITERS; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			int fd = ssm_audit_open(dir);

			if (fd < 0)
				_exit(2);
			for (i = 0; i < PER_WRITER; i++) {
				cJSON *extra = cJSON_CreateObject();

				cJSON_AddNumberToObject(extra, "writer", k);
				cJSON_AddNumberToObject(extra, "seq", i);
				cJSON_AddStringToObject(extra, "pad", pad);
				/* half the writers reopen every time, as separate logins do */
				if (k % 2 ? ssm_audit_write(dir, T0, "i-0123", "session_start", NULL,
							    extra) < 0
					  : ssm_audit_write_fd(fd, T0, "i-0123", "session_start",
							       NULL, extra) < 0)
					_exit(1);
				cJSON_Delete(extra);
			}
			close(fd);
			_exit(0);
		}
	}
	for (k = 0; k < WRITERS; k++) {
		waitpid(pids[k], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d ok", k);
	}
	buf = slurp(path, &len);
	if (buf == NULL) {
		CHECK(0, "read the log");
		return;
	}
	memset(seen, 0, sizeof(seen));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = NULL;
		int64_t w, s;

		lines++;
		if (ssm_json_parse_object(line, strlen(line), &o, NULL, 0) < 0 ||
		    ssm_json_get_int64(o, "writer", &w) < 0 ||
		    ssm_json_get_int64(o, "seq", &s) < 0 || w < 0 || w >= WRITERS || s < 0 ||
		    s >= PER_WRITER || !str_member(o, "pad", pad)) {
			bad++;
		} else if (seen[w][s]++) {
			dups++;
		}
		cJSON_Delete(o);
	}
	for (k = 0; k < WRITERS; k++)
		for (i = 0; i < PER_WRITER; i++)
			missing += !seen[k][i];
	CHECK(lines == WRITERS * PER_WRITER, "%d lines from %d writers x %d (got %d)",
	      WRITERS * PER_WRITER, WRITERS, PER_WRITER, lines);
	CHECK(bad == 0 && dups == 0 && missing == 0,
	      "no torn, interleaved, duplicated or lost line (bad %d dup %d missing %d)", bad,
	      dups, missing);
	free(buf);
}

struct unsafe_row {
	int line;
	const char *what;
	int need_root;
	int (*setup)(const char *dir, char *log_dir); /* returns 0 when set up */
};

static int u_file_symlink(const char *dir, char *log_dir)
{
	char t[PATH_MAX], p[PATH_MAX];
	int fd;

	snprintf(t, sizeof(t), "%s/target", dir);
	fd = open(t, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
	snprintf(log_dir, 2 * DIRLEN, "%s/log", dir);
	mkdir(log_dir, 0750);
	snprintf(p, sizeof(p), "%s/audit.jsonl", log_dir);
	return symlink(t, p);
}

static int u_dangling_symlink(const char *dir, char *log_dir)
{
	char t[PATH_MAX], p[PATH_MAX];

	snprintf(t, sizeof(t), "%s/target", dir);
	snprintf(log_dir, 2 * DIRLEN, "%s/log", dir);
	mkdir(log_dir, 0750);
	snprintf(p, sizeof(p), "%s/audit.jsonl", log_dir);
	return symlink(t, p);
}

static int u_dir_symlink(const char *dir, char *log_dir)
{
	char t[PATH_MAX];

	snprintf(t, sizeof(t), "%s/realdir", dir);
	mkdir(t, 0750);
	snprintf(log_dir, 2 * DIRLEN, "%s/log", dir);
	return symlink(t, log_dir);
}

static int u_dir_0777(const char *dir, char *log_dir)
{
	snprintf(log_dir, 2 * DIRLEN, "%s/log", dir);
	mkdir(log_dir, 0750);
	return chmod(log_dir, 0777);
}

static int u_file_0666(const char *dir, char *log_dir)
{
	char p[PATH_MAX];
	int fd;

	snprintf(log_dir, 2 * DIRLEN, "%s/log", dir);
	mkdir(log_dir, 0750);
	snprintf(p, sizeof(p), "%s/audit.jsonl", log_dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return chmod(p, 0666);
}

static int u_hardlink(const char *dir, char *log_dir)
{
	char t[PATH_MAX], p[PATH_MAX];
	int fd;

	snprintf(t, sizeof(t), "%s/target", dir);
	fd = open(t, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
	snprintf(log_dir, 2 * DIRLEN, "%s/log", dir);
	mkdir(log_dir, 0750);
	snprintf(p, sizeof(p), "%s/audit.jsonl", log_dir);
	return link(t, p);
}

static int u_fifo(const char *dir, char *log_dir)
{
	char p[PATH_MAX];

	snprintf(log_dir, 2 * DIRLEN, "%s/log", dir);
	mkdir(log_dir, 0750);
	snprintf(p, sizeof(p), "%s/audit.jsonl", log_dir);
	return mkfifo(p, 0600);
}

static int u_file_owner(const char *dir, char *log_dir)
{
	char p[PATH_MAX];
	int fd;

	snprintf(log_dir, 2 * DIRLEN, "%s/log", dir);
	mkdir(log_dir, 0750);
	snprintf(p, sizeof(p), "%s/audit.jsonl", log_dir);
	fd = open(p, O_CREAT | O_WRONLY, 0640);
	if (fd < 0)
		return -1;
	close(fd);
	return chown(p, 65534, 65534);
}

static int u_dir_owner(const char *dir, char *log_dir)
{
	snprintf(log_dir, 2 * DIRLEN, "%s/log", dir);
	mkdir(log_dir, 0750);
	return chown(log_dir, 65534, 65534);
}

static const struct unsafe_row unsafe_rows[] = {
	/* a symlink planted as the log: root would append to (or create) any file */
	{ __LINE__, "audit.jsonl is a symlink to a file", 0, u_file_symlink },
	{ __LINE__, "audit.jsonl is a dangling symlink", 0, u_dangling_symlink },
	/* the directory swapped for a symlink */
	{ __LINE__, "log_dir is a symlink", 0, u_dir_symlink },
	/* anyone may replace or delete the log */
	{ __LINE__, "log_dir mode 0777", 0, u_dir_0777 },
	/* anyone may rewrite history */
	{ __LINE__, "audit.jsonl mode 0666", 0, u_file_0666 },
	/* a hard link to a file elsewhere */
	{ __LINE__, "audit.jsonl has a second link", 0, u_hardlink },
	/* a FIFO would block the login or feed a reader */
	{ __LINE__, "audit.jsonl is a FIFO", 0, u_fifo },
	/* owned by a user who can truncate it */
	{ __LINE__, "audit.jsonl owned by nobody", 1, u_file_owner },
	{ __LINE__, "log_dir owned by nobody", 1, u_dir_owner },
};

static void test_unsafe(void)
{
	char dir[DIRLEN], log_dir[2 * DIRLEN], t[PATH_MAX];
	struct stat st;
	size_t i;
	int r;

	for (i = 0; i < sizeof(unsafe_rows) / sizeof(unsafe_rows[0]); i++) {
		const struct unsafe_row *u = &unsafe_rows[i];

		if (u->need_root && geteuid() != 0) {
			printf("SKIP row %d (%s): needs root\n", u->line, u->what);
			continue;
		}
		new_dir_mode(dir, "unsafe", 0700);
		if (u->setup(dir, log_dir) != 0) {
			CHECK_ROW(u->line, 0, "%s: setup failed", u->what);
			continue;
		}
		/* a FIFO would block a plain write-only open: the alarm turns a hang into a
		 * failure */
		alarm(5);
		r = ssm_audit_write(log_dir, T0, "i-0123", "session_start", NULL, NULL);
		alarm(0);
		CHECK_ROW(u->line, r == -EACCES, "%s: refused (got %d)", u->what, r);
		snprintf(t, sizeof(t), "%s/target", dir);
		CHECK_ROW(u->line, stat(t, &st) != 0 || st.st_size == 0,
			  "%s: nothing written to the target", u->what);
	}
}

/* The journal entry: native protocol fields, a value with a newline in the binary form, and
 * an entry too large for one datagram passed as a sealed memfd. */
static const char *jfield(const char *buf, size_t len, const char *key, size_t *pn)
{
	size_t i = 0, kl = strlen(key);

	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i), *eq;

		if (nl == NULL)
			return NULL;
		eq = memchr(buf + i, '=', (size_t)(nl - (buf + i)));
		if (eq != NULL) {
			if ((size_t)(eq - (buf + i)) == kl && memcmp(buf + i, key, kl) == 0) {
				*pn = (size_t)(nl - eq - 1);
				return eq + 1;
			}
			i = (size_t)(nl - buf) + 1;
		} else {
			uint64_t n = 0;
			int b;
			const unsigned char *le = (const unsigned char *)nl + 1;

			for (b = 7; b >= 0; b--)
				n = (n << 8) | le[b];
			if ((size_t)(nl - (buf + i)) == kl && memcmp(buf + i, key, kl) == 0) {
				*pn = (size_t)n;
				return nl + 9;
			}
			i = (size_t)(nl - buf) + 9 + (size_t)n + 1;
		}
	}
	return NULL;
}

static int jhas(const char *buf, size_t len, const char *key, const char *want)
{
	size_t n = 0;
	const char *v = jfield(buf, len, key, &n);

	return v != NULL && n == strlen(want) && memcmp(v, want, n) == 0;
}

static void test_journal(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *buf = NULL, *big, *rbuf;
	const char *line;
	cJSON *ev;
	size_t len = 0, n;
	ssize_t got;
	int s, fd;

	ev = cJSON_Parse("{\"ts\":\"2026-11-22T12:00:00Z\",\"event\":\"login_denied\","
			 "\"host_id\":null,\"audit_session\":7,\"loginuid\":null,"
			 "\"reason\":\"replay\",\"detail\":\"two\\nlines\",\"pty\":true,"
			 "\"params\":{\"a\":[\"b\"]},\"odd-name.x\":\"v\"}");
	line = "{\"the\":\"line\"}";
	CHECK(ev != NULL, "ev != NULL");
	CHECK(ssm_audit_journal_entry(ev, line, &buf, &len) == 0, "ssm_audit_journal_entry(ev, line, &buf, &len) == 0");
	CHECK(jhas(buf, len, "SSM_EVENT", "login_denied"), "SSM_EVENT");
	CHECK(jhas(buf, len, "SSM_REASON", "replay"), "SSM_REASON");
	CHECK(jhas(buf, len, "SSM_DETAIL", "two\nlines"), "a newline: binary form");
	CHECK(jhas(buf, len, "SSM_AUDIT_SESSION", "7"), "numbers as JSON");
	CHECK(jhas(buf, len, "SSM_PTY", "true"), "booleans as JSON");
	CHECK(jhas(buf, len, "SSM_PARAMS", "{\"a\":[\"b\"]}"), "objects as JSON");
	CHECK(jhas(buf, len, "SSM_ODD_NAME_X", "v"), "other characters as _");
	CHECK(jfield(buf, len, "SSM_HOST_ID", &n) == NULL, "null members left out");
	CHECK(jfield(buf, len, "SSM_LOGINUID", &n) == NULL, "null loginuid left out");
	CHECK(jfield(buf, len, "SSM_TS", &n) == NULL, "ts left out");
	CHECK(jhas(buf, len, "PRIORITY", "5"), "login_denied is a notice");
	CHECK(jhas(buf, len, "MESSAGE_ID", SSM_MSGID_LOGIN_DENIED), "MESSAGE_ID");
	CHECK(jhas(buf, len, "SYSLOG_IDENTIFIER", "ssmsession"), "SYSLOG_IDENTIFIER");
	CHECK(jhas(buf, len, "SSM_AUDIT_JSON", line), "the line itself");
	CHECK(jhas(buf, len, "MESSAGE", "ssmsession login_denied: reason=replay "
			"detail=two\nlines"), "MESSAGE");

	/* over a socket, small and too large for one datagram */
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%.80s/journal.sock", base) >= (int)sizeof(sa.sun_path))
		return;
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0, "s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0");
	rbuf = malloc(1 << 20);
	CHECK(rbuf != NULL, "rbuf != NULL");
	CHECK(ssm_audit_journal_send(sa.sun_path, buf, len) == 0, "ssm_audit_journal_send(sa.sun_path, buf, len) == 0");
	got = recv(s, rbuf, 1 << 20, 0);
	CHECK(got == (ssize_t)len && memcmp(rbuf, buf, len) == 0, "one datagram, as built");
	free(buf);
	big = malloc(600000);
	CHECK(big != NULL, "big != NULL");
	memset(big, 'x', 599999);
	big[599999] = '\0';
	cJSON_AddStringToObject(ev, "command", big);
	CHECK(ssm_audit_journal_entry(ev, line, &buf, &len) == 0, "ssm_audit_journal_entry(ev, line, &buf, &len) == 0");
	CHECK(ssm_audit_journal_send(sa.sun_path, buf, len) == 0, "ssm_audit_journal_send(sa.sun_path, buf, len) == 0");
	{
		union {
			struct cmsghdr h;
			char c[CMSG_SPACE(sizeof(int))];
		} cm;
		struct iovec iov = { rbuf, 1 << 20 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.c,
				     .msg_controllen = sizeof(cm.c) };
		struct cmsghdr *c;

		fd = -1;
		got = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
		c = CMSG_FIRSTHDR(&mh);
		if (got >= 0 && c != NULL && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
		CHECK(fd >= 0, "a large entry comes as a descriptor");
		if (fd >= 0) {
			char *m = malloc(len + 1);

			CHECK(m != NULL && pread(fd, m, len + 1, 0) == (ssize_t)len &&
			      memcmp(m, buf, len) == 0, "m != NULL && pread(fd, m, len + 1, 0) == (ssize_t)len &&       memcmp(m, buf, len) == 0");
			CHECK(fcntl(fd, F_GET_SEALS) & F_SEAL_WRITE, "sealed");
			free(m);
			close(fd);
		}
	}
	CHECK(ssm_audit_journal_send("/nonexistent/journal.sock", buf, len) == -ENOENT,
		  "no journal: -ENOENT");
	free(buf);
	free(big);
	free(rbuf);
	close(s);
	cJSON_Delete(ev);
}

/* audit_session and loginuid are in every line: numbers, or null when unset */
static void test_ids(void)
{
	char dir[2 * DIRLEN], path[PATH_MAX];
	cJSON *o = NULL;
	size_t len;
	char *buf;
	const cJSON *a, *l;

	snprintf(dir, sizeof(dir), "%s/ids", base);
	CHECK(ssm_audit_write(dir, T0, "i-1", "session_start", NULL, NULL) == 0, "write");
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	buf = slurp(path, &len);
	CHECK(buf != NULL && ssm_json_parse_object(buf, len - 1, &o, NULL, 0) == 0, "buf != NULL && ssm_json_parse_object(buf, len - 1, &o, NULL, 0) == 0");
	a = cJSON_GetObjectItemCaseSensitive(o, "audit_session");
	l = cJSON_GetObjectItemCaseSensitive(o, "loginuid");
	CHECK(a && (cJSON_IsNull(a) || cJSON_IsNumber(a)), "audit_session member");
	CHECK(l && (cJSON_IsNull(l) || cJSON_IsNumber(l)), "loginuid member");
	{
		FILE *f = fopen("/proc/self/loginuid", "r");
		unsigned long long v = 0;

		if (f != NULL && fscanf(f, "%llu", &v) == 1 && l != NULL)
			CHECK(v == SSM_AUDIT_ID_UNSET ? cJSON_IsNull(l)
							  : cJSON_IsNumber(l) &&
								    (unsigned long long)l->valuedouble == v,
				  "loginuid is /proc/self/loginuid");
		if (f != NULL)
			fclose(f);
	}
	CHECK(ssm_audit_write(dir, T0, NULL, "login_denied", NULL, NULL) == 0 &&
		  (free(buf), buf = slurp(path, &len)) != NULL && strstr(buf, "\"host_id\":null"),
		  "host_id NULL is written as null");
	free(buf);
	cJSON_Delete(o);
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/ssm-test-audit-XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	ssm_log_set_handler(quiet_log, NULL);
	test_lines();
	test_bad();
	test_concurrent();
	test_unsafe();
	test_journal();
	test_ids();
	rm_rf(base);
	return check_done("test_audit");
}
