/* test_replay.c - the replay cache: once only, expiry, pruning, unsafe directories,
 * races between many processes, and durability of an entry when its process dies */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "log.h"
#include "replay.h"
#include "util.h"
#include "check.h"
#include "testdir.h"

#define T0 ((int64_t)2000000000) /* a fixed "now": the cache takes now as a parameter */

static void entry_path(char *out, const char *state, const char *jti)
{
	char hex[65];

	ssm_sha256_hex(jti, strlen(jti), hex);
	snprintf(out, PATH_MAX, "%s/replay/%s", state, hex);
}

static int entry_exists(const char *state, const char *jti)
{
	char p[PATH_MAX];

	entry_path(p, state, jti);
	return access(p, F_OK) == 0;
}

static void jti_of(char *out, size_t n, const char *tag, int i)
{
	snprintf(out, n, "%s-jti-%08d-abcdefgh", tag, i);
}

/* count names in dir that are not entries or the stamp (temp leftovers) */
static int leftovers(const char *state)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/replay", state);
	d = opendir(p);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".prune-stamp") == 0 || strlen(de->d_name) == 64)
			continue;
		n++;
	}
	closedir(d);
	return n;
}

static void test_basic(void)
{
	char st[DIRLEN], p[PATH_MAX], buf[64];
	const char *j = "basic-jti-0123456789";
	struct stat sb;
	int fd;
	ssize_t n;

	new_dir_mode(st, "basic", 0700);
	CHECK(ssm_replay_seen(st, j, T0) == 0, "unseen before first use");
	CHECK(ssm_replay_check_and_add(st, j, T0 + 300, T0) == 0, "first use accepted");
	/* replay within validity: refused */
	CHECK(ssm_replay_check_and_add(st, j, T0 + 300, T0 + 1) == -EEXIST, "second use refused");
	CHECK(ssm_replay_check_and_add(st, j, T0 + 900, T0 + 299) == -EEXIST,
	      "use one second before expiry refused");
	CHECK(ssm_replay_seen(st, j, T0 + 10) == 1, "seen while valid");
	CHECK(ssm_replay_seen(st, "other-jti-0123456789", T0) == 0, "other jti unseen");

	/* the entry: 0600 in a 0700 directory, keep-until as text and as mtime */
	snprintf(p, sizeof(p), "%s/replay", st);
	CHECK(lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 07777) == 0700,
	      "replay dir is 0700 (mode %o)", (unsigned)(sb.st_mode & 07777));
	entry_path(p, st, j);
	CHECK(lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 07777) == 0600,
	      "entry is a 0600 regular file");
	CHECK(sb.st_mtim.tv_sec == (time_t)(T0 + 300), "entry mtime is keep_until");
	fd = open(p, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strcmp(buf, "2000000300\n") == 0, "entry text is keep_until (got '%s')", buf);
	CHECK(leftovers(st) == 0, "no temp files left behind");

	/* expired (keep_until <= now): the jti may be used again, and then not again */
	CHECK(ssm_replay_seen(st, j, T0 + 300) == 0, "not seen once expired");
	CHECK(ssm_replay_check_and_add(st, j, T0 + 600, T0 + 300) == 0, "expired entry replaced");
	CHECK(ssm_replay_check_and_add(st, j, T0 + 600, T0 + 301) == -EEXIST,
	      "replacement is itself once-only");
	CHECK(lstat(p, &sb) == 0 && sb.st_mtim.tv_sec == (time_t)(T0 + 600),
	      "replacement carries the new keep_until");

	/* the same within a minute of the last prune: replaced in place under the lock */
	CHECK(ssm_replay_check_and_add(st, "short-jti-0123456789", T0 + 330, T0 + 310) == 0,
	      "short-lived entry");
	CHECK(ssm_replay_check_and_add(st, "short-jti-0123456789", T0 + 340, T0 + 329) == -EEXIST,
	      "short-lived entry refused until it expires");
	CHECK(ssm_replay_check_and_add(st, "short-jti-0123456789", T0 + 340, T0 + 330) == 0,
	      "expired entry replaced without a prune");
	entry_path(p, st, "short-jti-0123456789");
	CHECK(lstat(p, &sb) == 0 && sb.st_mtim.tv_sec == (time_t)(T0 + 340),
	      "replacement carries its keep_until");
	CHECK(leftovers(st) == 0, "no temp files left behind");

	/* bad arguments */
	CHECK(ssm_replay_check_and_add(st, "", T0 + 1, T0) == -EINVAL, "empty jti refused");
	CHECK(ssm_replay_check_and_add(st, NULL, T0 + 1, T0) == -EINVAL, "NULL jti refused");
	CHECK(ssm_replay_check_and_add(NULL, j, T0 + 1, T0) == -EINVAL, "NULL state_dir");

	/* a missing state_dir (one level) is created; a missing parent is an error */
	snprintf(p, sizeof(p), "%s/fresh", st);
	CHECK(ssm_replay_check_and_add(p, j, T0 + 1, T0) == 0, "state_dir created");
	snprintf(p, sizeof(p), "%s/no/such/dir", st);
	CHECK(ssm_replay_check_and_add(p, j, T0 + 1, T0) == -ENOENT, "missing parent -> -ENOENT");
	CHECK(ssm_replay_seen(p, j, T0) == 0, "seen on a missing dir: 0, not created");
	CHECK(access(p, F_OK) != 0, "seen never creates the directory");
}

static void test_prune(void)
{
	char st[DIRLEN], j[64];
	int i, r;

	new_dir_mode(st, "prune", 0700);
	/* keep_until T0+0..T0+9 */
	for (i = 0; i < 10; i++) {
		jti_of(j, sizeof(j), "p", i);
		CHECK(ssm_replay_check_and_add(st, j, T0 + i, T0 - 100) == 0, "add %d", i);
	}
	r = ssm_replay_prune(st, T0 + 4);
	CHECK(r == 5, "prune at T0+4 removes the 5 entries with keep_until <= now (got %d)", r);
	for (i = 0; i < 10; i++) {
		jti_of(j, sizeof(j), "p", i);
		CHECK(entry_exists(st, j) == (i > 4), "entry %d %s", i, i > 4 ? "kept" : "pruned");
	}
	CHECK(ssm_replay_prune(st, T0 + 4) == 0, "nothing more to prune");

	/* opportunistic pruning: at most once per 60 s of `now`, guarded by the stamp */
	new_dir_mode(st, "stamp", 0700);
	CHECK(ssm_replay_check_and_add(st, "stamp-jti-000000001", T0 + 5, T0) == 0, "a1");
	CHECK(ssm_replay_check_and_add(st, "stamp-jti-000000002", T0 + 5, T0 + 10) == 0, "a2");
	CHECK(entry_exists(st, "stamp-jti-000000001"),
	      "no prune within 60 s of the last one (expired entry still there)");
	CHECK(ssm_replay_check_and_add(st, "stamp-jti-000000003", T0 + 1000, T0 + 61) == 0, "a3");
	CHECK(!entry_exists(st, "stamp-jti-000000001") && !entry_exists(st, "stamp-jti-000000002"),
	      "pruned after 60 s");
	CHECK(entry_exists(st, "stamp-jti-000000003"), "unexpired entry kept by pruning");
	CHECK(ssm_replay_check_and_add(st, "stamp-jti-000000003", T0 + 1000, T0 + 62) == -EEXIST,
	      "and still refuses a replay");
}

struct unsafe_row {
	int line;
	const char *what;
	int need_root;
	void (*setup)(const char *st);
};

static void set_dir_0777(const char *st)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/replay", st);
	mkdir(p, 0700);
	chmod(p, 0777);
}

static void set_dir_0770(const char *st)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/replay", st);
	mkdir(p, 0700);
	chmod(p, 0770);
}

static void set_dir_symlink(const char *st)
{
	char p[PATH_MAX], t[PATH_MAX];

	snprintf(t, sizeof(t), "%s/elsewhere", st);
	mkdir(t, 0700);
	snprintf(p, sizeof(p), "%s/replay", st);
	if (symlink(t, p) != 0)
		perror("symlink");
}

static void set_dir_file(const char *st)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/replay", st);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
}

static void set_state_0777(const char *st)
{
	chmod(st, 0777);
}

static void set_dir_owner(const char *st)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/replay", st);
	mkdir(p, 0700);
	if (chown(p, 65534, 65534) != 0)
		perror("chown");
}

static void set_state_owner(const char *st)
{
	if (chown(st, 65534, 65534) != 0)
		perror("chown");
}

static const struct unsafe_row unsafe_rows[] = {
	/* anyone could plant or delete entries: replay */
	{ __LINE__, "replay dir mode 0777", 0, set_dir_0777 },
	/* a group member could delete entries */
	{ __LINE__, "replay dir mode 0770", 0, set_dir_0770 },
	/* a symlink could point the cache somewhere an attacker controls */
	{ __LINE__, "replay dir is a symlink", 0, set_dir_symlink },
	{ __LINE__, "replay is a regular file", 0, set_dir_file },
	/* the parent lets anyone rename the replay dir away */
	{ __LINE__, "state_dir mode 0777", 0, set_state_0777 },
	/* owned by another user who can chmod it open */
	{ __LINE__, "replay dir owned by nobody", 1, set_dir_owner },
	{ __LINE__, "state_dir owned by nobody", 1, set_state_owner },
};

static void test_unsafe(void)
{
	char st[DIRLEN], p[PATH_MAX];
	size_t i;
	int r;

	for (i = 0; i < sizeof(unsafe_rows) / sizeof(unsafe_rows[0]); i++) {
		const struct unsafe_row *u = &unsafe_rows[i];

		if (u->need_root && geteuid() != 0) {
			printf("SKIP row %d (%s): needs root\n", u->line, u->what);
			continue;
		}
		new_dir_mode(st, "unsafe", 0700);
		u->setup(st);
		r = ssm_replay_check_and_add(st, "unsafe-jti-0123456789", T0 + 10, T0);
		CHECK_ROW(u->line, r == -EACCES, "%s: check_and_add refused (got %d)", u->what, r);
		r = ssm_replay_seen(st, "unsafe-jti-0123456789", T0);
		CHECK_ROW(u->line, r == -EACCES, "%s: seen refused (got %d)", u->what, r);
		r = ssm_replay_prune(st, T0);
		CHECK_ROW(u->line, r == -EACCES, "%s: prune refused (got %d)", u->what, r);
		snprintf(p, sizeof(p), "%s/elsewhere", st);
		CHECK_ROW(u->line, rmdir(p) == 0 || errno == ENOENT,
			  "%s: nothing written through the symlink", u->what);
		chmod(st, 0700);
	}
}

/* ---- races */

struct shared {
	int results[64];
	int counts[4096];
};

/* n children each run fn(i) after all are ready; returns once all exited */
static int child_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int race_once(const char *st, const char *jti, int nproc, int64_t now, int with_pruner)
{
	pid_t pids[64], pruner = -1;
	int pfd[2], i, ok = 0, eexist = 0, other = 0;
	char c;

	if (pipe(pfd) != 0)
		return -1;
	for (i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			int r;

			close(pfd[1]);
			/* everyone blocks here until the parent closes the pipe */
			if (read(pfd[0], &c, 1) != 0)
				_exit(3);
			r = ssm_replay_check_and_add(st, jti, now + 300, now);
			_exit(r == 0 ? 0 : r == -EEXIST ? 1 : 2);
		}
	}
	if (with_pruner) {
		pruner = fork();
		if (pruner == 0) {
			close(pfd[1]);
			if (read(pfd[0], &c, 1) != 0)
				_exit(3);
			for (i = 0; i < 20; i++)
				if (ssm_replay_prune(st, now) < 0)
					_exit(2);
			_exit(0);
		}
	}
	close(pfd[0]);
	close(pfd[1]);
	for (i = 0; i < nproc; i++) {
		int s = child_status(pids[i]);

		if (s == 0)
			ok++;
		else if (s == 1)
			eexist++;
		else
			other++;
	}
	if (pruner > 0 && child_status(pruner) != 0)
		other++;
	if (other)
		return -1;
	return ok == 1 && eexist == nproc - 1 ? 1 : 0;
}

static void test_race(void)
{
	char st[DIRLEN], j[64];
	int i, good = 0, good2 = 0;

	new_dir_mode(st, "race", 0700);
	/* 16 processes, the same fresh jti, released at the same moment: one wins */
	for (i = 0; i < 50; i++) {
		jti_of(j, sizeof(j), "race", i);
		if (race_once(st, j, 16, T0, 0) == 1)
			good++;
	}
	CHECK(good == 50, "fresh jti, 16 racers: exactly one winner in %d of 50 rounds", good);

	/* the same for an expired entry being replaced; "now" stays within a minute of the
	 * last prune so that the racers themselves must replace it (the locked path); every
	 * other round a pruner runs as well */
	for (i = 0; i < 40; i++) {
		int64_t t = T0 + 1000 * (i + 1);

		jti_of(j, sizeof(j), "stamp", i);
		if (ssm_replay_check_and_add(st, j, t + 1000, t) != 0) /* prunes, sets stamp */
			continue;
		jti_of(j, sizeof(j), "exp", i);
		if (ssm_replay_check_and_add(st, j, t + 5, t) != 0)
			continue;
		if (race_once(st, j, 16, t + 10, i % 2) == 1)
			good2++;
	}
	CHECK(good2 == 40, "expired jti, 16 racers (+ pruner): exactly one winner in %d of 40",
	      good2);
	CHECK(leftovers(st) == 0, "no temp files left behind after the races");
}

static void test_two_procs(void)
{
	char st[DIRLEN], j[64];
	struct shared *sh;
	pid_t pid[2];
	int pfd[2], i, k, bad = 0;
	const int n = 1000;
	char c;

	new_dir_mode(st, "two", 0700);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		CHECK(0, "mmap");
		return;
	}
	memset(sh, 0, sizeof(*sh));
	if (pipe(pfd) != 0)
		return;
	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		if (pid[k] == 0) {
			close(pfd[1]);
			if (read(pfd[0], &c, 1) != 0)
				_exit(3);
			for (i = 0; i < n; i++) {
				/* one goes up, the other down: they meet in the middle */
				int idx = k == 0 ? i : n - 1 - i;
				int r;

				jti_of(j, sizeof(j), "two", idx);
				r = ssm_replay_check_and_add(st, j, T0 + 300, T0);
				if (r == 0)
					__atomic_add_fetch(&sh->counts[idx], 1, __ATOMIC_SEQ_CST);
				else if (r != -EEXIST)
					_exit(2);
			}
			_exit(0);
		}
	}
	close(pfd[0]);
	close(pfd[1]);
	for (k = 0; k < 2; k++)
		CHECK(child_status(pid[k]) == 0, "racer %d finished without I/O errors", k);
	for (i = 0; i < n; i++)
		if (sh->counts[i] != 1)
			bad++;
	CHECK(bad == 0, "two processes, %d jtis: each accepted exactly once (%d wrong)", n, bad);
	munmap(sh, sizeof(*sh));
}

/* a process killed right after check_and_add returned: the entry is there */
static void test_crash(void)
{
	char st[DIRLEN], j[64];
	int i, s, kept = 0;
	pid_t pid;

	new_dir_mode(st, "crash", 0700);
	for (i = 0; i < 10; i++) {
		jti_of(j, sizeof(j), "crash", i);
		pid = fork();
		if (pid == 0) {
			if (ssm_replay_check_and_add(st, j, T0 + 300, T0) == 0)
				raise(SIGKILL);
			_exit(1);
		}
		s = child_status(pid);
		if (s == 128 + SIGKILL && ssm_replay_seen(st, j, T0 + 1) == 1 &&
		    ssm_replay_check_and_add(st, j, T0 + 300, T0 + 1) == -EEXIST)
			kept++;
	}
	CHECK(kept == 10, "entry survives its killed writer: %d of 10", kept);
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/ssm-test-replay-XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	ssm_log_set_handler(quiet_log, NULL);
	test_basic();
	test_prune();
	test_unsafe();
	test_race();
	test_two_procs();
	test_crash();
	rm_rf(base);
	return check_done("test_replay");
}
