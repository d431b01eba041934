/* test_doccache - the host's cache of documents received from the broker (lib/doccache.h):
 * entry names, storing (bad names and hashes, wrong hash, oversized, invalid documents),
 * reading (symbolic links, wrong owner or mode of the file and of the directory, a damaged
 * entry, not a regular file), pruning, and which copy a host uses (documents_dir first,
 * then the cache, only for names in allowed_documents and with broker_documents on).
 *
 * Runs unprivileged: the owner rule accepts root or the effective uid, so "a wrong owner"
 * is made by chown when root and by changing the trusted owner otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "check.h"
#include "config.h"
#include "doccache.h"
#include "document.h"
#include "log.h"
#include "testdir.h"
#include "util.h"
#include "verdict.h"

static const char DOC_A[] = "{\"schemaVersion\": \"1.0\", \"sessionType\": \"NonInteractiveCommands\","
			    " \"properties\": {\"linux\": {\"commands\": \"echo A\"}}}";
static const char DOC_B[] = "{\"schemaVersion\": \"1.0\", \"sessionType\": \"NonInteractiveCommands\","
			    " \"properties\": {\"linux\": {\"commands\": \"echo B\"}}}";
#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static void hash(const char *s, size_t len, char out[65])
{
	ssm_sha256_hex(s, len, out);
}

static void write_file(const char *path, const char *s, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, s, len) != (ssize_t)len || fchmod(fd, mode) != 0) {
		perror(path);
		exit(99);
	}
	close(fd);
}

/* ---- entry names ---- */

static const struct {
	int line;
	const char *file;
	int valid;
} entries[] = {
	{ __LINE__, "Doc-A@" ZERO_HASH ".json", 1 },
	{ __LINE__, "a.b@" ZERO_HASH ".json", 1 },
	{ __LINE__, "ab@" ZERO_HASH ".json", 0 },           /* name under 3 characters */
	{ __LINE__, "../x@" ZERO_HASH ".json", 0 },         /* path traversal */
	{ __LINE__, "a/b@" ZERO_HASH ".json", 0 },          /* a slash */
	{ __LINE__, "Doc@" ZERO_HASH ".jsonx", 0 },         /* suffix */
	{ __LINE__, "Doc@" ZERO_HASH, 0 },                  /* no suffix */
	{ __LINE__, "Doc@0000.json", 0 },                   /* short hash */
	{ __LINE__, "Doc@" "A000000000000000000000000000000000000000000000000000000000000000.json", 0 },
	{ __LINE__, "Doc@x@" ZERO_HASH ".json", 0 },        /* '@' in the name */
	{ __LINE__, ".tmp-1-2", 0 },                        /* a temporary file */
	{ __LINE__, "Doc.json", 0 },                        /* a documents_dir name */
};

static void test_entries(void)
{
	char out[SSM_DOCCACHE_ENTRY_MAX];
	size_t i;

	for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		CHECK_ROW(entries[i].line, ssm_doccache_entry_valid(entries[i].file) == entries[i].valid,
			  "%s", entries[i].file);
	CHECK(ssm_doccache_entry("Doc-A", ZERO_HASH, out, sizeof(out)) &&
		  strcmp(out, "Doc-A@" ZERO_HASH ".json") == 0,
	      "entry name");
	CHECK(!ssm_doccache_entry("Doc-A", ZERO_HASH, out, 20), "entry name: no room");
	CHECK(!ssm_doccache_entry("../etc", ZERO_HASH, out, sizeof(out)), "entry: bad name");
	CHECK(!ssm_doccache_entry("Doc-A", "../" ZERO_HASH, out, sizeof(out)), "entry: bad hash");
}

/* ---- storing ---- */

struct store_row {
	int line;
	const char *why;
	const char *name;
	const char *sha;  /* NULL: the bytes' own hash */
	const char *bytes;
	size_t len;       /* 0: strlen */
	int want;
};

static char big[SSM_DOCUMENT_MAX_SIZE + 2];

static void test_store(void)
{
	const struct store_row rows[] = {
		{ __LINE__, "a valid document", "Doc-A", NULL, DOC_A, 0, 0 },
		{ __LINE__, "name with a slash", "a/b", NULL, DOC_A, 0, -EINVAL },
		{ __LINE__, "name ..", "..", NULL, DOC_A, 0, -EINVAL },
		{ __LINE__, "name too short", "ab", NULL, DOC_A, 0, -EINVAL },
		{ __LINE__, "hash in uppercase", "Doc-A",
		  "ABCDEF0000000000000000000000000000000000000000000000000000000000", DOC_A, 0, -EINVAL },
		{ __LINE__, "hash with a slash", "Doc-A",
		  "/bcdef0000000000000000000000000000000000000000000000000000000000", DOC_A, 0, -EINVAL },
		{ __LINE__, "hash 63 digits", "Doc-A",
		  "000000000000000000000000000000000000000000000000000000000000000", DOC_A, 0, -EINVAL },
		{ __LINE__, "bytes that do not hash to the hash asked for", "Doc-A", ZERO_HASH, DOC_A, 0,
		  -EBADMSG },
		{ __LINE__, "over 64 KiB", "Doc-Big", NULL, big, SSM_DOCUMENT_MAX_SIZE + 1, -EFBIG },
		{ __LINE__, "not JSON", "Doc-A", NULL, "not json", 0, -EINVAL },
		{ __LINE__, "an invalid document (unknown member)", "Doc-A", NULL,
		  "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Standard_Stream\", \"x\": 1}", 0,
		  -EINVAL },
		{ __LINE__, "an unsafe placeholder (inside double quotes)", "Doc-A", NULL,
		  "{\"schemaVersion\": \"1.0\", \"sessionType\": \"NonInteractiveCommands\","
		  " \"parameters\": {\"x\": {\"type\": \"String\"}},"
		  " \"properties\": {\"linux\": {\"commands\": \"echo \\\"{{ x }}\\\"\"}}}", 0, -EINVAL },
	};
	char dir[DIRLEN], cdir[DIRLEN + 16], path[DIRLEN + 300], sha[65], err[512];
	struct stat st;
	size_t i;

	memset(big, ' ', sizeof(big));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct store_row *r = &rows[i];
		size_t len = r->len ? r->len : strlen(r->bytes);
		int rc;

		new_dir_mode(dir, "store", 0755);
		snprintf(cdir, sizeof(cdir), "%s/documents", dir);
		hash(r->bytes, len, sha);
		err[0] = '\0';
		rc = ssm_doccache_store(cdir, r->name, r->sha ? r->sha : sha, r->bytes, len, 1 << 20,
					err, sizeof(err));
		CHECK_ROW(r->line, rc == r->want, "%s: got %d (%s), want %d", r->why, rc, err, r->want);
		CHECK_ROW(r->line, rc == 0 || err[0] != '\0', "%s: an error says why", r->why);
		if (rc == 0) {
			snprintf(path, sizeof(path), "%s/%s@%s.json", cdir, r->name, sha);
			CHECK_ROW(r->line, stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
						   (st.st_mode & 07777) == 0644 &&
						   st.st_size == (off_t)len,
				  "%s: stored 0644 under NAME@HASH.json", r->why);
			CHECK_ROW(r->line, stat(cdir, &st) == 0 && (st.st_mode & 07777) == 0755,
				  "%s: the directory is made 0755", r->why);
		} else {
			/* nothing is left behind, not even a temporary file */
			snprintf(path, sizeof(path), "ls -A '%s' 2>/dev/null | grep -q .", cdir);
			CHECK_ROW(r->line, system(path) != 0, "%s: nothing stored", r->why);
		}
	}
	/* the directory must be safe before anything is written in it */
	new_dir_mode(dir, "store-unsafe", 0755);
	snprintf(cdir, sizeof(cdir), "%s/documents", dir);
	CHECK(mkdir(cdir, 0777) == 0 && chmod(cdir, 0777) == 0, "mkdir 0777");
	hash(DOC_A, strlen(DOC_A), sha);
	CHECK(ssm_doccache_store(cdir, "Doc-A", sha, DOC_A, strlen(DOC_A), 1 << 20, err,
				 sizeof(err)) == -EACCES,
	      "store into a world-writable directory is refused (%s)", err);
	/* nor its parent (state_dir): whoever may write there could swap the directory the
	 * agent (root) just made for a symbolic link before its mode is set, so nothing is
	 * created or written under an unsafe parent */
	new_dir_mode(dir, "store-unsafe-parent", 0777);
	CHECK(chmod(dir, 0777) == 0, "chmod 0777");
	snprintf(cdir, sizeof(cdir), "%s/documents", dir);
	CHECK(ssm_doccache_store(cdir, "Doc-A", sha, DOC_A, strlen(DOC_A), 1 << 20, err,
				 sizeof(err)) == -EACCES,
	      "store under a world-writable state_dir is refused (%s)", err);
	CHECK(access(cdir, F_OK) != 0, "nothing made under a world-writable state_dir");
	/* a symbolic link in the directory's place is not followed */
	new_dir_mode(dir, "store-link", 0755);
	snprintf(cdir, sizeof(cdir), "%s/documents", dir);
	snprintf(path, sizeof(path), "%s/elsewhere", dir);
	CHECK(mkdir(path, 0755) == 0 && symlink(path, cdir) == 0, "symlink dir");
	CHECK(ssm_doccache_store(cdir, "Doc-A", sha, DOC_A, strlen(DOC_A), 1 << 20, err,
				 sizeof(err)) == -EACCES,
	      "store through a symbolic link is refused (%s)", err);
	/* storing the same version twice replaces it atomically, and stores nothing else */
	new_dir_mode(dir, "store-twice", 0755);
	snprintf(cdir, sizeof(cdir), "%s/documents", dir);
	CHECK(ssm_doccache_store(cdir, "Doc-A", sha, DOC_A, strlen(DOC_A), 1 << 20, err,
				 sizeof(err)) == 0 &&
		  ssm_doccache_store(cdir, "Doc-A", sha, DOC_A, strlen(DOC_A), 1 << 20, err,
				     sizeof(err)) == 0,
	      "stored twice (%s)", err);
	snprintf(path, sizeof(path), "test \"$(ls -A '%s' | wc -l)\" = 1", cdir);
	CHECK(system(path) == 0, "one file after two stores");
	/* temporary files an earlier agent with this process id left (it died while storing;
	 * in a container the agent's pid is the same at every start) neither make a store fail
	 * nor are taken for this store's */
	new_dir_mode(dir, "store-leftover", 0755);
	snprintf(cdir, sizeof(cdir), "%s/documents", dir);
	CHECK(mkdir(cdir, 0755) == 0, "mkdir");
	for (i = 0; i < 1024; i++) {
		snprintf(path, sizeof(path), "%s/.tmp-%ld-%zu", cdir, (long)getpid(), i);
		write_file(path, "left", 4, 0600);
	}
	CHECK(ssm_doccache_store(cdir, "Doc-A", sha, DOC_A, strlen(DOC_A), 1 << 20, err,
				 sizeof(err)) == 0,
	      "store beside leftover temporary files (%s)", err);
	snprintf(path, sizeof(path), "test \"$(ls -A '%s' | grep -c '^\\.tmp-')\" = 1024", cdir);
	CHECK(system(path) == 0, "no leftover temporary file removed by a store that did not make it");
}

/* ---- reading ---- */

enum { R_GOOD, R_MISSING, R_LINK, R_FIFO, R_DIRENTRY, R_GROUP_W, R_OTHER_W, R_OWNER, R_DIR_W,
       R_DIR_LINK, R_DIR_OWNER, R_DAMAGED, R_BIG, R_NODIR };

static void test_read(void)
{
	static const struct {
		int line;
		int what;
		const char *why;
		int want;
	} rows[] = {
		{ __LINE__, R_GOOD, "a good entry", 0 },
		{ __LINE__, R_MISSING, "no such entry", -ENOENT },
		{ __LINE__, R_NODIR, "no cache directory", -ENOENT },
		{ __LINE__, R_LINK, "the entry is a symbolic link to a good file", -EACCES },
		{ __LINE__, R_FIFO, "the entry is a FIFO (a reader must not hang)", -EINVAL },
		{ __LINE__, R_DIRENTRY, "the entry is a directory", -EINVAL },
		{ __LINE__, R_GROUP_W, "the entry is group-writable", -EACCES },
		{ __LINE__, R_OTHER_W, "the entry is world-writable", -EACCES },
		{ __LINE__, R_OWNER, "the entry belongs to another user", -EACCES },
		{ __LINE__, R_DIR_W, "the directory is world-writable (a user could plant)", -EACCES },
		{ __LINE__, R_DIR_LINK, "the directory is a symbolic link", -EACCES },
		{ __LINE__, R_DIR_OWNER, "the directory belongs to another user", -EACCES },
		{ __LINE__, R_DAMAGED, "the bytes do not hash to the entry's name", -EBADMSG },
		{ __LINE__, R_BIG, "the entry is over 64 KiB", -EINVAL },
	};
	char dir[DIRLEN], cdir[DIRLEN + 16], path[DIRLEN + 400], other[DIRLEN + 300], sha[65],
	    err[512], *buf;
	size_t i, len;

	hash(DOC_A, strlen(DOC_A), sha);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc, owner_changed = 0;

		new_dir_mode(dir, "read", 0755);
		snprintf(cdir, sizeof(cdir), "%s/documents", dir);
		if (rows[i].what != R_NODIR && rows[i].what != R_DIR_LINK &&
		    mkdir(cdir, 0755) != 0) {
			perror(cdir);
			exit(99);
		}
		snprintf(path, sizeof(path), "%s/Doc-A@%s.json", cdir, sha);
		snprintf(other, sizeof(other), "%s/real.json", dir);
		switch (rows[i].what) {
		case R_GOOD:
		case R_GROUP_W:
		case R_OTHER_W:
		case R_OWNER:
		case R_DIR_W:
		case R_DIR_OWNER:
			write_file(path, DOC_A, strlen(DOC_A),
				   rows[i].what == R_GROUP_W ? 0664 : rows[i].what == R_OTHER_W ? 0646
											: 0644);
			break;
		case R_LINK:
			write_file(other, DOC_A, strlen(DOC_A), 0644);
			CHECK(symlink(other, path) == 0, "symlink");
			break;
		case R_FIFO:
			CHECK(mkfifo(path, 0644) == 0, "mkfifo");
			break;
		case R_DIRENTRY:
			CHECK(mkdir(path, 0755) == 0, "mkdir entry");
			break;
		case R_DAMAGED:
			write_file(path, DOC_B, strlen(DOC_B), 0644);
			break;
		case R_BIG:
			write_file(path, big, SSM_DOCUMENT_MAX_SIZE + 1, 0644);
			break;
		case R_DIR_LINK:
			snprintf(other, sizeof(other), "%s/elsewhere", dir);
			CHECK(mkdir(other, 0755) == 0 && symlink(other, cdir) == 0, "dir symlink");
			snprintf(path, sizeof(path), "%s/Doc-A@%s.json", other, sha);
			write_file(path, DOC_A, strlen(DOC_A), 0644);
			break;
		default:
			break;
		}
		if (rows[i].what == R_DIR_W)
			CHECK(chmod(cdir, 0777) == 0, "chmod dir");
		if (rows[i].what == R_OWNER || rows[i].what == R_DIR_OWNER) {
			const char *target = rows[i].what == R_OWNER ? path : cdir;

			if (geteuid() == 0) {
				CHECK(chown(target, 65534, 65534) == 0, "chown");
			} else {
				/* root's files stay trusted; ours no longer are */
				ssm_set_trusted_owner(geteuid() + 1);
				owner_changed = 1;
				if (rows[i].what == R_DIR_OWNER) {
					/* the entry is ours too: the directory is refused first */
				}
			}
		}
		buf = NULL;
		err[0] = '\0';
		rc = ssm_doccache_read(cdir, "Doc-A", sha, &buf, &len, err, sizeof(err));
		if (owner_changed)
			ssm_set_trusted_owner((uid_t)-1);
		CHECK_ROW(rows[i].line, rc == rows[i].want, "%s: got %d (%s), want %d", rows[i].why, rc,
			  err, rows[i].want);
		CHECK_ROW(rows[i].line, rc == 0 || err[0] != '\0', "%s: an error says why", rows[i].why);
		if (rc == 0)
			CHECK_ROW(rows[i].line, len == strlen(DOC_A) && memcmp(buf, DOC_A, len) == 0,
				  "the bytes");
		else
			CHECK_ROW(rows[i].line, buf == NULL, "no buffer on error");
		free(buf);
	}
	buf = NULL;
	CHECK(ssm_doccache_read(cdir, "../x", sha, &buf, &len, err, sizeof(err)) == -EINVAL,
	      "read: a bad name");
	CHECK(ssm_doccache_read(cdir, "Doc-A", "x", &buf, &len, err, sizeof(err)) == -EINVAL,
	      "read: a bad hash");
}

/* ---- pruning ---- */

static void set_age(const char *cdir, const char *file, time_t age)
{
	char path[DIRLEN + 300];
	struct timespec ts[2];

	snprintf(path, sizeof(path), "%s/%s", cdir, file);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	CHECK(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0, "utimensat %s", file);
}

static int exists(const char *cdir, const char *file)
{
	char path[DIRLEN + 300];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", cdir, file);
	return lstat(path, &st) == 0;
}

static void test_prune(void)
{
	char dir[DIRLEN], cdir[DIRLEN + 16], err[512], sha[4][65], e[4][SSM_DOCCACHE_ENTRY_MAX],
	    text[4][200], path[DIRLEN + 300];
	int i, rc;

	new_dir_mode(dir, "prune", 0755);
	snprintf(cdir, sizeof(cdir), "%s/documents", dir);
	for (i = 0; i < 4; i++) {
		snprintf(text[i], sizeof(text[i]),
			 "{\"schemaVersion\": \"1.0\", \"sessionType\": \"NonInteractiveCommands\","
			 " \"properties\": {\"linux\": {\"commands\": \"echo %d\"}}}", i);
		hash(text[i], strlen(text[i]), sha[i]);
		CHECK(ssm_doccache_store(cdir, "Doc-P", sha[i], text[i], strlen(text[i]), 1 << 20, err,
					 sizeof(err)) == 0,
		      "store %d (%s)", i, err);
		(void)ssm_doccache_entry("Doc-P", sha[i], e[i], sizeof(e[i]));
		set_age(cdir, e[i], 1000 - i * 100); /* 0 oldest, 3 newest */
	}
	/* used recently: the oldest becomes the newest */
	CHECK(ssm_doccache_touch(cdir, "Doc-P", sha[0]) == 0, "touch");
	/* room for two documents: 1 and 2 go (the least recently used), 0 and 3 stay */
	rc = ssm_doccache_prune(cdir, 2 * 4096, NULL, err, sizeof(err));
	CHECK(rc == 2, "prune removed %d (%s)", rc, err);
	CHECK(exists(cdir, e[0]) && !exists(cdir, e[1]) && !exists(cdir, e[2]) && exists(cdir, e[3]),
	      "least recently used removed first");
	/* keep: never the entry just stored, even over the limit */
	set_age(cdir, e[3], 5000);
	rc = ssm_doccache_prune(cdir, 1, e[3], err, sizeof(err));
	CHECK(rc == 1 && exists(cdir, e[3]) && !exists(cdir, e[0]), "keep (%d)", rc);
	/* stale temporary files go, fresh ones (a store in progress) stay; other names stay;
	 * a symbolic link under an entry's name goes */
	snprintf(path, sizeof(path), "%s/.tmp-1-1", cdir);
	write_file(path, "x", 1, 0600);
	set_age(cdir, ".tmp-1-1", 3600);
	snprintf(path, sizeof(path), "%s/.tmp-1-2", cdir);
	write_file(path, "x", 1, 0600);
	snprintf(path, sizeof(path), "%s/README", cdir);
	write_file(path, "x", 1, 0644);
	snprintf(path, sizeof(path), "%s/%s", cdir, e[1]);
	CHECK(symlink("/etc/passwd", path) == 0, "symlink entry");
	rc = ssm_doccache_prune(cdir, 1 << 20, NULL, err, sizeof(err));
	CHECK(rc == 2 && !exists(cdir, ".tmp-1-1") && exists(cdir, ".tmp-1-2") &&
		  exists(cdir, "README") && !exists(cdir, e[1]) && exists(cdir, e[3]),
	      "prune: temporary files and links (%d)", rc);
	/* storing over the limit prunes, keeping the new entry */
	set_age(cdir, e[3], 100);
	CHECK(ssm_doccache_store(cdir, "Doc-P", sha[2], text[2], strlen(text[2]), 64 * 1024, err,
				 sizeof(err)) == 0 &&
		  exists(cdir, e[2]) && exists(cdir, e[3]),
	      "store under the limit keeps both");
	CHECK(ssm_doccache_store(cdir, "Doc-P", sha[1], text[1], strlen(text[1]),
				 (int64_t)strlen(text[1]), err, sizeof(err)) == 0 &&
		  exists(cdir, e[1]) && !exists(cdir, e[2]) && !exists(cdir, e[3]),
	      "store over the limit prunes the others");
	CHECK(ssm_doccache_prune("/nonexistent/documents", 1, NULL, err, sizeof(err)) == 0,
	      "prune: no directory, nothing to do");

	/* a document whose name begins with ".tmp-" (a valid name) is an entry, not a
	 * temporary file: an old one stays while the cache is under its limit */
	new_dir_mode(dir, "prune-tmpname", 0755);
	snprintf(cdir, sizeof(cdir), "%s/documents", dir);
	CHECK(ssm_doccache_store(cdir, ".tmp-doc", sha[0], text[0], strlen(text[0]), 1 << 20, err,
				 sizeof(err)) == 0,
	      "store .tmp-doc (%s)", err);
	(void)ssm_doccache_entry(".tmp-doc", sha[0], e[0], sizeof(e[0]));
	set_age(cdir, e[0], 3600);
	rc = ssm_doccache_prune(cdir, 1 << 20, NULL, err, sizeof(err));
	CHECK(rc == 0 && exists(cdir, e[0]), "an old entry named .tmp-* is kept (%d)", rc);

	/* the limit bounds the disk used, not only the bytes: each entry costs at least a
	 * block (4 KiB), so tiny documents cannot pile up to thousands of files (inodes and
	 * blocks) under a limit meant for 64 KiB ones */
	new_dir_mode(dir, "prune-tiny", 0755);
	snprintf(cdir, sizeof(cdir), "%s/documents", dir);
	for (i = 0; i < 40; i++) {
		char t[200], h[65];

		snprintf(t, sizeof(t),
			 "{\"schemaVersion\": \"1.0\", \"sessionType\": \"NonInteractiveCommands\","
			 " \"properties\": {\"linux\": {\"commands\": \"echo tiny %d\"}}}", i);
		hash(t, strlen(t), h);
		rc = ssm_doccache_store(cdir, "Doc-T", h, t, strlen(t), 64 * 1024, err, sizeof(err));
		CHECK(rc == 0, "store tiny %d (%s)", i, err);
	}
	snprintf(path, sizeof(path), "test \"$(ls -A '%s' | wc -l)\" -le 16", cdir);
	CHECK(system(path) == 0, "64 KiB keeps at most 16 entries of 4 KiB, however small");
}

/* ---- which copy a host uses ---- */

static struct ssm_config *config(const char *dir, const char *extra)
{
	char json[4096], err[512];
	struct ssm_config *cfg = NULL;

	snprintf(json, sizeof(json),
		 "{\"host_id\": \"mi-0123456789abcdef0\", \"issuer\": \"https://broker.test\","
		 " \"trusted_keys\": \"%s/jwks.json\", \"documents_dir\": \"%s/docs\","
		 " \"state_dir\": \"%s/state\"%s%s}",
		 dir, dir, dir, extra[0] ? ", " : "", extra);
	if (ssm_config_parse(json, strlen(json), "test.json", &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "config: %s\n", err);
		exit(99);
	}
	return cfg;
}

static void test_load(void)
{
	static const struct {
		int line;
		const char *why;
		const char *conf;  /* extra configuration members */
		int local;         /* 0 none, 1 documents_dir/Doc-A.json is A, 2 it is B */
		int cached;        /* the cache holds A (stored by the agent) */
		int want;
		const char *from;
	} rows[] = {
		{ __LINE__, "only the broker's copy, allowed by default", "", 0, 1, 0, "broker" },
		{ __LINE__, "the broker's copy, the name allowed by a glob",
		  "\"allowed_documents\": [\"Doc-*\"]", 0, 1, 0, "broker" },
		{ __LINE__, "the broker's copy of a name allowed_documents leaves out",
		  "\"allowed_documents\": [\"Other-*\"]", 0, 1, -ENOENT, NULL },
		{ __LINE__, "broker_documents false: the cache is never read",
		  "\"broker_documents\": false", 0, 1, -ENOENT, NULL },
		{ __LINE__, "nothing anywhere", "", 0, 0, -ENOENT, NULL },
		{ __LINE__, "documents_dir holds the same bytes: it is used", "", 1, 1, 0,
		  "documents_dir" },
		{ __LINE__, "documents_dir holds another version: it wins, a hash mismatch", "", 2, 1,
		  -EBADMSG, NULL },
		{ __LINE__, "documents_dir only", "", 1, 0, 0, "documents_dir" },
	};
	char dir[DIRLEN], path[DIRLEN + 300], cdir[DIRLEN + 32], sha[65], err[512],
	    id[SSM_FILE_ID_MAX], want_id[SSM_FILE_ID_MAX];
	struct ssm_document *doc;
	const char *from;
	size_t i;

	hash(DOC_A, strlen(DOC_A), sha);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ssm_config *cfg;
		int rc;

		new_dir_mode(dir, "load", 0755);
		cfg = config(dir, rows[i].conf);
		snprintf(path, sizeof(path), "%s/docs", dir);
		CHECK(mkdir(path, 0755) == 0, "docs");
		snprintf(path, sizeof(path), "%s/docs/Doc-A.json", dir);
		if (rows[i].local)
			write_file(path, rows[i].local == 1 ? DOC_A : DOC_B,
				   strlen(rows[i].local == 1 ? DOC_A : DOC_B), 0644);
		CHECK(ssm_doccache_dir(cfg, cdir, sizeof(cdir)) == 0, "cache dir");
		if (rows[i].cached)
			CHECK(ssm_doccache_store(cdir, "Doc-A", sha, DOC_A, strlen(DOC_A), 1 << 20,
						 err, sizeof(err)) == 0,
			      "store (%s)", err);
		doc = NULL;
		err[0] = '\0';
		rc = ssm_doccache_load(cfg, "Doc-A", sha, &doc, &from, err, sizeof(err));
		CHECK_ROW(rows[i].line, rc == rows[i].want, "%s: got %d (%s), want %d", rows[i].why,
			  rc, err, rows[i].want);
		if (rc == 0) {
			CHECK_ROW(rows[i].line, doc != NULL && strcmp(from, rows[i].from) == 0 &&
							doc->type == SSM_SESSION_NON_INTERACTIVE_COMMANDS,
				  "%s: from %s", rows[i].why, from ? from : "?");
		} else {
			CHECK_ROW(rows[i].line, doc == NULL && err[0] != '\0', "%s: says why",
				  rows[i].why);
		}
		/* the identity ssm-verifyd and the module compare is the file used */
		ssm_doccache_file_id(cfg, "Doc-A", sha, id);
		if (rows[i].local) {
			ssm_file_id(path, want_id);
		} else if (rows[i].want == 0) {
			snprintf(path, sizeof(path), "%s/Doc-A@%s.json", cdir, sha);
			ssm_file_id(path, want_id);
		} else {
			strcpy(want_id, "-");
		}
		CHECK_ROW(rows[i].line, strcmp(id, want_id) == 0, "%s: file id %s, want %s",
			  rows[i].why, id, want_id);
		ssm_document_free(doc);
		ssm_config_free(cfg);
	}
	/* an entry that is not a valid document (put there by hand, past the agent's check) */
	new_dir_mode(dir, "load-invalid", 0755);
	{
		const char bad[] = "{\"schemaVersion\": \"2.0\"}";
		struct ssm_config *cfg = config(dir, "");
		char bsha[65];

		hash(bad, strlen(bad), bsha);
		snprintf(path, sizeof(path), "%s/state", dir);
		CHECK(mkdir(path, 0755) == 0, "state_dir");
		CHECK(ssm_doccache_dir(cfg, cdir, sizeof(cdir)) == 0 && mkdir(cdir, 0755) == 0 &&
			      snprintf(path, sizeof(path), "%s/Doc-A@%s.json", cdir, bsha) > 0,
		      "setup");
		write_file(path, bad, strlen(bad), 0644);
		doc = NULL;
		CHECK(ssm_doccache_load(cfg, "Doc-A", bsha, &doc, NULL, err, sizeof(err)) == -EINVAL &&
			      doc == NULL,
		      "an invalid cached document is refused (%s)", err);
		/* a damaged entry is the host's fault, not a hash mismatch of the token */
		write_file(path, DOC_A, strlen(DOC_A), 0644);
		CHECK(ssm_doccache_load(cfg, "Doc-A", bsha, &doc, NULL, err, sizeof(err)) == -EIO,
		      "a damaged entry is a host error (%s)", err);
		ssm_config_free(cfg);
	}
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	(void)tmp;
	snprintf(base, sizeof(base), "/tmp/test_doccache-XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	ssm_log_set_handler(quiet_log, NULL);
	test_entries();
	test_store();
	test_read();
	test_prune();
	test_load();
	rm_rf(base);
	return check_done("test_doccache");
}
