/* record.c - live session records (see record.h)
 *
 * run_dir/sessions/PID-STARTTIME.json   one per PAM session, written by the module
 * run_dir/live/SID.json                 one per running recorder (ssm-shell)
 *
 * Both directories are root-owned 0755, files root-owned 0600 (a record holds the jti and
 * the parameters: only root reads them, ssm-shell as setuid root), written to a temp file in
 * the same directory and renamed into place, so that a reader sees the old file or the
 * whole new one.  Nothing is fsync'ed: a record describes running processes, so after a
 * crash of the kernel (the only thing a disk flush protects against) it is meaningless
 * anyway; run_dir is /run, a tmpfs, by default.  Readers accept only root-owned
 * (or, for tests, the caller's own) regular files not writable by group or others, open
 * them without following symlinks, parse them as strict JSON and validate every field. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../lib/config.h"
#include "json.h"
#include "log.h"
#include "record.h"
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)

#define SESSIONS_SUBDIR "sessions"
#define LIVE_SUBDIR "live"
#define RECORD_MAX (64 * 1024)
#define FIND_MAX_STEPS 64
#define JSON_INT_MAX ((int64_t)1 << 53) /* exact in a double */
#define AUDIT_SESSION_UNSET 4294967295u

/* ---------------------------------------------------------------- /proc */

/* Read a small /proc file (st_size is 0 there, so ssm_read_file does not fit). */
static int read_proc(pid_t pid, const char *what, char *buf, size_t bufsz)
{
	char path[64];
	size_t len = 0;
	ssize_t n;
	int fd, r = 0;

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	for (;;) {
		if (len == bufsz - 1) {
			r = -EFBIG;
			break;
		}
		n = read(fd, buf + len, bufsz - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno == ESRCH ? -ESRCH : -EIO;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (r == 0 && memchr(buf, '\0', len) != NULL)
		r = -EIO;
	return r;
}

static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *pval)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*pval = v;
	return 0;
}

int ssm_proc_stat(pid_t pid, pid_t *pppid, uint64_t *pstarttime)
{
	char buf[4096];
	const char *p, *end;
	uint64_t ppid = 0, start = 0;
	int field, r;

	r = read_proc(pid, "stat", buf, sizeof(buf));
	if (r < 0)
		return r;
	/* "PID (COMM) S PPID ...": COMM may hold anything, ')' and spaces included, so
	 * the fields start after the LAST ')' */
	p = strrchr(buf, ')');
	if (p == NULL)
		return -EIO;
	p++;
	/* p is before field 3 */
	for (field = 3; field <= 22; field++) {
		if (*p != ' ')
			return -EIO;
		p++;
		end = p;
		while (*end != ' ' && *end != '\n' && *end != '\0')
			end++;
		if (end == p)
			return -EIO;
		if (field == 4 && parse_u64(p, (size_t)(end - p), INT32_MAX, &ppid) < 0)
			return -EIO;
		if (field == 22 && parse_u64(p, (size_t)(end - p), UINT64_MAX, &start) < 0)
			return -EIO;
		p = end;
	}
	if (pppid)
		*pppid = (pid_t)ppid;
	if (pstarttime)
		*pstarttime = start;
	return 0;
}

int ssm_proc_audit_session(pid_t pid, uint32_t *psid)
{
	char buf[32];
	uint64_t v;
	size_t len;
	int r;

	r = read_proc(pid, "sessionid", buf, sizeof(buf));
	if (r == -ESRCH) {
		/* no such process, or a kernel without audit: tell them apart */
		char path[64];

		snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
		if (access(path, F_OK) != 0)
			return -ESRCH;
		*psid = AUDIT_SESSION_UNSET;
		return 0;
	}
	if (r < 0)
		return r;
	len = strcspn(buf, "\n");
	if (parse_u64(buf, len, UINT32_MAX, &v) < 0)
		return -EIO;
	*psid = (uint32_t)v;
	return 0;
}

/* ---------------------------------------------------------------- directories */

static int dir_check(int fd, const char *what, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		ERR("%s: cannot stat: %s", what, strerror(errno));
		return -EIO;
	}
	if (!S_ISDIR(st.st_mode)) {
		ERR("%s: not a directory", what);
		return -EACCES;
	}
	return ssm_check_trusted_fd(fd, what, err, errlen);
}

static int open_dir_at(int dirfd, const char *name, const char *what, int create, char *err,
		       size_t errlen)
{
	int fd, r, made = 0;

	/* the common case first: it exists (no mkdir attempt on every login) */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dirfd, name, 0755) == 0) {
			made = 1;
		} else if (errno != EEXIST) {
			r = -errno;
			ERR("%s: cannot create: %s", what, strerror(-r));
			return r;
		}
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP || r == -ENOTDIR) {
			ERR("%s: not a directory (or a symlink): refusing it", what);
			return -EACCES;
		}
		ERR("%s: cannot open: %s", what, strerror(-r));
		return r;
	}
	if (made && fchmod(fd, 0755) != 0) {
		r = -errno;
		ERR("%s: cannot set its mode: %s", what, strerror(-r));
		close(fd);
		return r;
	}
	r = dir_check(fd, what, err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* fd of run_dir/sub (both checked; created 0755 with create), or -errno. */
static int run_subdir_open(const char *run_dir, const char *sub, int create, char *err,
			   size_t errlen)
{
	char what[PATH_MAX];
	int rfd, fd;

	if (run_dir == NULL || run_dir[0] == '\0') {
		ERR("no run_dir");
		return -EINVAL;
	}
	rfd = open_dir_at(AT_FDCWD, run_dir, run_dir, create, err, errlen);
	if (rfd < 0)
		return rfd;
	snprintf(what, sizeof(what), "%s/%s", run_dir, sub);
	fd = open_dir_at(rfd, sub, what, create, err, errlen);
	close(rfd);
	return fd;
}

/* Write buf as dfd/name atomically: temp file 0600, rename (no fsync: see the top). */
static int write_atomic_mode(int dfd, const char *name, const char *buf, size_t len,
			     mode_t mode);

static int write_atomic(int dfd, const char *name, const char *buf, size_t len)
{
	return write_atomic_mode(dfd, name, buf, len, 0600);
}

/* The same with another mode (0644: for the recorder, which reads it unprivileged). */
static int write_atomic_mode(int dfd, const char *name, const char *buf, size_t len,
			     mode_t mode)
{
	static unsigned int counter;
	char tmp[NAME_MAX + 1];
	int fd = -1, r, tries;

	for (tries = 0; tries < 100; tries++) {
		r = snprintf(tmp, sizeof(tmp), ".%s.%ld.%u.tmp", name, (long)getpid(),
			     counter++);
		if (r < 0 || (size_t)r >= sizeof(tmp))
			return -ENAMETOOLONG;
		fd = openat(dfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
			    0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) != 0) {
		r = -errno;
		goto fail;
	}
	r = ssm_write_all(fd, buf, len);
	if (r < 0)
		goto fail;
	r = close(fd);
	fd = -1;
	if (r != 0) {
		r = -EIO;
		goto fail;
	}
	if (renameat(dfd, tmp, dfd, name) != 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	return r;
}

/* Read a trusted file dfd/name (no symlink, regular, root-owned, not g/o writable). */
static int read_trusted_at(int dfd, const char *name, const char *what, char **pbuf,
			   size_t *plen, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, r;

	*pbuf = NULL;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return r;
		ERR("%s: cannot open: %s", what, r == -ELOOP ? "it is a symlink" : strerror(-r));
		return r == -ELOOP ? -EACCES : r;
	}
	if (fstat(fd, &st) != 0) {
		r = -EIO;
		ERR("%s: cannot stat", what);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EACCES;
		ERR("%s: not a regular file", what);
		goto out;
	}
	r = ssm_check_trusted_fd(fd, what, err, errlen);
	if (r < 0)
		goto out;
	if (st.st_size < 0 || (uintmax_t)st.st_size > RECORD_MAX) {
		r = -EFBIG;
		ERR("%s: larger than %d bytes", what, RECORD_MAX);
		goto out;
	}
	buf = malloc(RECORD_MAX + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		ERR("out of memory");
		goto out;
	}
	for (;;) {
		if (len == RECORD_MAX) {
			r = -EFBIG;
			ERR("%s: larger than %d bytes", what, RECORD_MAX);
			goto out;
		}
		n = read(fd, buf + len, RECORD_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -EIO;
			ERR("%s: read error: %s", what, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*pbuf = buf;
	*plen = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* ---------------------------------------------------------------- validation */

static int is_sub_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("_+=,.@-", c) != NULL;
}

static int is_sid_tail_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_name_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static int is_hex_lower(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int valid_sub(const char *s)
{
	return ssm_str_charset(s, 1, 64, is_sub_char);
}

/* sid = sub "-" 8..32 of [a-z0-9] (SPEC section 2); it is also a file name under live/ */
static int valid_sid(const char *sid, const char *sub)
{
	const char *dash;

	if (sid == NULL)
		return 0;
	dash = strrchr(sid, '-');
	if (dash == NULL || !ssm_str_charset(dash + 1, 8, 32, is_sid_tail_char))
		return 0;
	if (sub != NULL)
		return strlen(sub) == (size_t)(dash - sid) && strncmp(sid, sub, strlen(sub)) == 0;
	/* no sub given: the part before the dash must be one */
	{
		char head[65];
		size_t n = (size_t)(dash - sid);

		if (n == 0 || n > 64)
			return 0;
		memcpy(head, sid, n);
		head[n] = '\0';
		return ssm_str_charset(head, 1, 64, is_sub_char);
	}
}

int ssm_record_sid_valid(const char *sid)
{
	return valid_sid(sid, NULL);
}

/* an OS user name, by the same rule as the configuration and the token */
static int valid_user(const char *s)
{
	return ssm_config_user_name_valid(s);
}

static int valid_params(const cJSON *params)
{
	const cJSON *m, *v;

	if (params == NULL)
		return 1;
	if (!cJSON_IsObject(params))
		return 0;
	cJSON_ArrayForEach(m, params) {
		if (m->string == NULL || !ssm_str_charset(m->string, 1, 128, is_name_char) ||
		    !cJSON_IsArray(m))
			return 0;
		cJSON_ArrayForEach(v, m) {
			const unsigned char *c;

			if (!cJSON_IsString(v) || v->valuestring == NULL ||
			    !ssm_json_utf8_valid(v->valuestring, strlen(v->valuestring)))
				return 0;
			/* as SPEC section 3: never a control character (the strict reader
			 * would refuse the record afterwards) */
			for (c = (const unsigned char *)v->valuestring; *c; c++) {
				if (*c < 0x20 || *c == 0x7f)
					return 0;
			}
		}
	}
	return 1;
}

/* an optional PAM item: NULL, or 1..256 bytes of UTF-8 without a control character */
static int valid_item(const char *s)
{
	const unsigned char *c;
	size_t len;

	if (s == NULL)
		return 1;
	len = strlen(s);
	if (len < 1 || len > 256 || !ssm_json_utf8_valid(s, len))
		return 0;
	for (c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return 0;
	return 1;
}

static int record_validate(const struct ssm_record *rec, char *err, size_t errlen)
{
	if (!valid_item(rec->service) || !valid_item(rec->rhost) || !valid_item(rec->tty)) {
		ERR("bad service, rhost or tty");
		return -EINVAL;
	}
	if (!valid_sub(rec->sub)) {
		ERR("bad sub");
		return -EINVAL;
	}
	if (!valid_sid(rec->sid, rec->sub)) {
		ERR("bad sid");
		return -EINVAL;
	}
	if (!valid_user(rec->run_as)) {
		ERR("bad run_as");
		return -EINVAL;
	}
	if (!ssm_str_charset(rec->jti, 16, 128, ssm_is_b64url_char)) {
		ERR("bad jti");
		return -EINVAL;
	}
	if (!ssm_str_charset(rec->host_id, 1, 128, is_name_char)) {
		ERR("bad host_id");
		return -EINVAL;
	}
	if (!ssm_str_charset(rec->doc_name, 3, 128, is_name_char)) {
		ERR("bad doc name");
		return -EINVAL;
	}
	if (!ssm_str_charset(rec->doc_sha256, 64, 64, is_hex_lower)) {
		ERR("bad doc sha256");
		return -EINVAL;
	}
	if (!valid_params(rec->params)) {
		ERR("bad params");
		return -EINVAL;
	}
	if (rec->exp < 0 || rec->exp > JSON_INT_MAX || rec->created < 0 ||
	    rec->created > JSON_INT_MAX) {
		ERR("bad exp or created");
		return -EINVAL;
	}
	if (rec->pid <= 0 || rec->starttime > (uint64_t)JSON_INT_MAX) {
		ERR("bad pid or starttime");
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------- records */

void ssm_record_free(struct ssm_record *rec)
{
	if (rec == NULL)
		return;
	free(rec->sid);
	free(rec->sub);
	free(rec->run_as);
	free(rec->jti);
	free(rec->host_id);
	free(rec->doc_name);
	cJSON_Delete(rec->params);
	free(rec->service);
	free(rec->rhost);
	free(rec->tty);
	free(rec);
}

cJSON *ssm_record_to_json(const struct ssm_record *rec)
{
	cJSON *o, *doc, *params;

	if (rec == NULL || record_validate(rec, NULL, 0) < 0)
		return NULL;
	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	if (!cJSON_AddStringToObject(o, "sid", rec->sid) ||
	    !cJSON_AddStringToObject(o, "sub", rec->sub) ||
	    !cJSON_AddStringToObject(o, "run_as", rec->run_as) ||
	    !cJSON_AddStringToObject(o, "jti", rec->jti) ||
	    !cJSON_AddStringToObject(o, "host_id", rec->host_id))
		goto fail;
	doc = cJSON_AddObjectToObject(o, "doc");
	if (doc == NULL || !cJSON_AddStringToObject(doc, "name", rec->doc_name) ||
	    !cJSON_AddStringToObject(doc, "sha256", rec->doc_sha256))
		goto fail;
	if (rec->params) {
		params = cJSON_Duplicate(rec->params, 1);
		if (params == NULL)
			goto fail;
		cJSON_AddItemToObject(o, "params", params);
	} else if (!cJSON_AddNullToObject(o, "params")) {
		goto fail;
	}
	if (!cJSON_AddNumberToObject(o, "exp", (double)rec->exp) ||
	    !cJSON_AddNumberToObject(o, "created", (double)rec->created) ||
	    !cJSON_AddNumberToObject(o, "pid", (double)rec->pid) ||
	    !cJSON_AddNumberToObject(o, "starttime", (double)rec->starttime) ||
	    !cJSON_AddNumberToObject(o, "audit_session", (double)rec->audit_session))
		goto fail;
	if ((rec->service && !cJSON_AddStringToObject(o, "service", rec->service)) ||
	    (rec->rhost && !cJSON_AddStringToObject(o, "rhost", rec->rhost)) ||
	    (rec->tty && !cJSON_AddStringToObject(o, "tty", rec->tty)))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int get_str(const cJSON *o, const char *name, char **pval, char *err, size_t errlen)
{
	const char *s;

	if (ssm_json_get_string(o, name, &s) < 0) {
		ERR("member \"%s\" missing or not a string", name);
		return -EINVAL;
	}
	*pval = strdup(s);
	if (*pval == NULL) {
		ERR("out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int get_int(const cJSON *o, const char *name, int64_t min, int64_t max, int64_t *pval,
		   char *err, size_t errlen)
{
	int64_t v;

	if (ssm_json_get_int64(o, name, &v) < 0 || v < min || v > max) {
		ERR("member \"%s\" missing, not an integer or out of range", name);
		return -EINVAL;
	}
	*pval = v;
	return 0;
}

static int record_from_json(const cJSON *o, struct ssm_record **prec, char *err, size_t errlen)
{
	struct ssm_record *rec;
	const cJSON *doc, *params;
	const char *sha;
	int64_t v;
	int r;

	*prec = NULL;
	rec = calloc(1, sizeof(*rec));
	if (rec == NULL) {
		ERR("out of memory");
		return -ENOMEM;
	}
	if ((r = get_str(o, "sid", &rec->sid, err, errlen)) < 0 ||
	    (r = get_str(o, "sub", &rec->sub, err, errlen)) < 0 ||
	    (r = get_str(o, "run_as", &rec->run_as, err, errlen)) < 0 ||
	    (r = get_str(o, "jti", &rec->jti, err, errlen)) < 0 ||
	    (r = get_str(o, "host_id", &rec->host_id, err, errlen)) < 0)
		goto fail;
	doc = ssm_json_member(o, "doc");
	if (!cJSON_IsObject(doc) || (r = get_str(doc, "name", &rec->doc_name, err, errlen)) < 0 ||
	    ssm_json_get_string(doc, "sha256", &sha) < 0 || strlen(sha) != 64) {
		ERR("member \"doc\" missing or malformed");
		r = r < 0 ? r : -EINVAL;
		goto fail;
	}
	memcpy(rec->doc_sha256, sha, 65);
	params = ssm_json_member(o, "params");
	if (params != NULL && !cJSON_IsNull(params)) {
		if (!cJSON_IsObject(params)) {
			ERR("member \"params\" is not an object");
			r = -EINVAL;
			goto fail;
		}
		rec->params = cJSON_Duplicate(params, 1);
		if (rec->params == NULL) {
			ERR("out of memory");
			r = -ENOMEM;
			goto fail;
		}
	}
	if ((r = get_int(o, "exp", 0, JSON_INT_MAX, &rec->exp, err, errlen)) < 0 ||
	    (r = get_int(o, "created", 0, JSON_INT_MAX, &rec->created, err, errlen)) < 0)
		goto fail;
	if ((r = get_int(o, "pid", 1, INT32_MAX, &v, err, errlen)) < 0)
		goto fail;
	rec->pid = (pid_t)v;
	if ((r = get_int(o, "starttime", 0, JSON_INT_MAX, &v, err, errlen)) < 0)
		goto fail;
	rec->starttime = (uint64_t)v;
	if ((r = get_int(o, "audit_session", 0, UINT32_MAX, &v, err, errlen)) < 0)
		goto fail;
	rec->audit_session = (uint32_t)v;
	if ((ssm_json_member(o, "service") && (r = get_str(o, "service", &rec->service, err, errlen)) < 0) ||
	    (ssm_json_member(o, "rhost") && (r = get_str(o, "rhost", &rec->rhost, err, errlen)) < 0) ||
	    (ssm_json_member(o, "tty") && (r = get_str(o, "tty", &rec->tty, err, errlen)) < 0))
		goto fail;
	r = record_validate(rec, err, errlen);
	if (r < 0)
		goto fail;
	*prec = rec;
	return 0;
fail:
	ssm_record_free(rec);
	return r;
}

static int record_read_at(int dfd, const char *name, const char *what,
			  struct ssm_record **prec, char *err, size_t errlen)
{
	char *buf = NULL, jerr[160];
	cJSON *json = NULL;
	size_t len = 0;
	int r;

	*prec = NULL;
	r = read_trusted_at(dfd, name, what, &buf, &len, err, errlen);
	if (r < 0)
		return r;
	r = ssm_json_parse_object(buf, len, &json, jerr, sizeof(jerr));
	if (r < 0) {
		ERR("%s: not a valid record: %s", what, jerr);
		goto out;
	}
	r = record_from_json(json, prec, jerr, sizeof(jerr));
	if (r < 0)
		ERR("%s: not a valid record: %s", what, jerr);
out:
	cJSON_Delete(json);
	free(buf);
	return r;
}

int ssm_record_read(const char *path, struct ssm_record **prec, char *err, size_t errlen)
{
	*prec = NULL;
	if (path == NULL || path[0] == '\0')
		return -EINVAL;
	return record_read_at(AT_FDCWD, path, path, prec, err, errlen);
}

static void record_name(char *buf, size_t bufsz, pid_t pid, uint64_t starttime)
{
	snprintf(buf, bufsz, "%ld-%" PRIu64 ".json", (long)pid, starttime);
}

int ssm_record_write(const char *run_dir, const struct ssm_record *rec)
{
	char name[64], err[256];
	char *text = NULL, *line = NULL;
	cJSON *json = NULL;
	size_t len;
	int dfd = -1, r;

	if (rec == NULL)
		return -EINVAL;
	r = record_validate(rec, err, sizeof(err));
	if (r < 0) {
		ssm_log(LOG_ERR, "session record: %s", err);
		return r;
	}
	json = ssm_record_to_json(rec);
	if (json == NULL) {
		r = -ENOMEM;
		goto out;
	}
	text = cJSON_PrintUnformatted(json);
	if (text == NULL) {
		r = -ENOMEM;
		goto out;
	}
	len = strlen(text);
	line = malloc(len + 2);
	if (line == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(line, text, len);
	line[len++] = '\n';
	line[len] = '\0';
	dfd = run_subdir_open(run_dir, SESSIONS_SUBDIR, 1, err, sizeof(err));
	if (dfd < 0) {
		r = dfd;
		ssm_log(LOG_ERR, "session record: %s", err);
		goto out;
	}
	record_name(name, sizeof(name), rec->pid, rec->starttime);
	r = write_atomic(dfd, name, line, len);
	if (r < 0)
		ssm_log(LOG_ERR, "session record %s/" SESSIONS_SUBDIR "/%s: %s", run_dir, name,
			strerror(-r));
out:
	if (dfd >= 0)
		close(dfd);
	free(line);
	cJSON_free(text);
	cJSON_Delete(json);
	return r;
}

int ssm_record_find(const char *run_dir, pid_t pid, struct ssm_record **prec, char *err,
		    size_t errlen)
{
	char name[64], what[PATH_MAX];
	struct ssm_record *rec = NULL;
	uint64_t start, start2;
	pid_t a, ppid, ppid2;
	int dfd, r, step;

	*prec = NULL;
	if (pid <= 0) {
		ERR("bad pid");
		return -EINVAL;
	}
	dfd = run_subdir_open(run_dir, SESSIONS_SUBDIR, 0, err, errlen);
	if (dfd < 0)
		return dfd;
	r = ssm_proc_stat(pid, &a, NULL);
	if (r < 0) {
		ERR("cannot read /proc/%ld/stat: %s", (long)pid, strerror(-r));
		goto out;
	}
	r = -ENOENT;
	for (step = 0; step < FIND_MAX_STEPS && a > 0; step++) {
		r = ssm_proc_stat(a, &ppid, &start);
		if (r < 0) {
			/* an ancestor that exited: its children were re-parented, so the chain
			 * we walk is the current one; a vanished link ends it */
			ERR("cannot read /proc/%ld/stat: %s", (long)a, strerror(-r));
			r = -ENOENT;
			break;
		}
		record_name(name, sizeof(name), a, start);
		snprintf(what, sizeof(what), "%s/" SESSIONS_SUBDIR "/%s", run_dir, name);
		r = record_read_at(dfd, name, what, &rec, err, errlen);
		if (r == 0) {
			/* the content must name the process the file name does, and that
			 * process must still be the one we looked at */
			if (rec->pid != a || rec->starttime != start) {
				ERR("%s: names pid %ld start %" PRIu64 ": refusing it", what,
				    (long)rec->pid, rec->starttime);
				r = -EACCES;
				goto out;
			}
			if (ssm_proc_stat(a, &ppid2, &start2) < 0 || start2 != start) {
				ERR("process %ld ended while its record was read", (long)a);
				r = -ENOENT;
				goto out;
			}
			*prec = rec;
			rec = NULL;
			goto out;
		}
		if (r != -ENOENT)
			goto out; /* an unsafe or invalid record: fail closed */
		if (a == 1)
			break;
		a = ppid;
	}
	if (r == 0 || step == FIND_MAX_STEPS)
		r = -ENOENT;
	if (r == -ENOENT)
		ERR("no session record for any ancestor of process %ld", (long)pid);
out:
	ssm_record_free(rec);
	close(dfd);
	return r;
}

int ssm_record_remove(const char *run_dir, pid_t pid, uint64_t starttime)
{
	char name[64], err[256];
	int dfd, r = 0;

	if (pid <= 0)
		return -EINVAL;
	dfd = run_subdir_open(run_dir, SESSIONS_SUBDIR, 0, err, sizeof(err));
	if (dfd < 0)
		return dfd;
	record_name(name, sizeof(name), pid, starttime);
	if (unlinkat(dfd, name, 0) != 0)
		r = -errno;
	close(dfd);
	return r;
}

/* "DIGITS-DIGITS.json" */
static int is_record_name(const char *s)
{
	const char *p = s;
	int part;

	for (part = 0; part < 2; part++) {
		const char *q = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == q || p - q > 20)
			return 0;
		if (part == 0 && *p++ != '-')
			return 0;
	}
	return strcmp(p, ".json") == 0;
}

int ssm_record_foreach(const char *run_dir,
		       int (*fn)(void *ctx, const char *path, const struct ssm_record *rec),
		       void *ctx)
{
	char path[PATH_MAX], err[256];
	struct ssm_record *rec;
	struct dirent *de;
	DIR *d;
	int dfd, fd, r = 0;

	dfd = run_subdir_open(run_dir, SESSIONS_SUBDIR, 0, err, sizeof(err));
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0) {
		ssm_log(LOG_ERR, "session records: %s", err);
		return dfd;
	}
	fd = dup(dfd);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		close(dfd);
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_record_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/" SESSIONS_SUBDIR "/%s", run_dir, de->d_name);
		r = record_read_at(dfd, de->d_name, path, &rec, err, sizeof(err));
		if (r < 0) {
			/* gone meanwhile, or not to be trusted: not a session to show */
			if (r != -ENOENT)
				ssm_log(LOG_NOTICE, "skipping session record: %s", err);
			r = 0;
			continue;
		}
		r = fn(ctx, path, rec);
		ssm_record_free(rec);
		if (r != 0)
			break;
	}
	closedir(d);
	close(dfd);
	return r;
}

int ssm_record_alive(const struct ssm_record *rec)
{
	uint64_t start;

	if (rec == NULL || rec->pid <= 0)
		return 0;
	return ssm_proc_stat(rec->pid, NULL, &start) == 0 && start == rec->starttime;
}

/* ---------------------------------------------------------------- live recorders */

int ssm_live_register(const char *run_dir, const char *sid, pid_t pid, uint64_t starttime,
		      const char *run_as, int64_t started)
{
	char name[128], err[256];
	char *text = NULL;
	cJSON *o = NULL;
	int dfd = -1, r;

	if (!valid_sid(sid, NULL) || pid <= 0 || starttime > (uint64_t)JSON_INT_MAX ||
	    !valid_user(run_as) || started < 0 || started > JSON_INT_MAX)
		return -EINVAL;
	o = cJSON_CreateObject();
	if (o == NULL || !cJSON_AddStringToObject(o, "sid", sid) ||
	    !cJSON_AddNumberToObject(o, "pid", (double)pid) ||
	    !cJSON_AddNumberToObject(o, "starttime", (double)starttime) ||
	    !cJSON_AddStringToObject(o, "run_as", run_as) ||
	    !cJSON_AddNumberToObject(o, "started", (double)started) ||
	    (text = cJSON_PrintUnformatted(o)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	dfd = run_subdir_open(run_dir, LIVE_SUBDIR, 1, err, sizeof(err));
	if (dfd < 0) {
		r = dfd;
		ssm_log(LOG_ERR, "live session: %s", err);
		goto out;
	}
	snprintf(name, sizeof(name), "%s.json", sid);
	r = write_atomic(dfd, name, text, strlen(text));
	if (r < 0)
		ssm_log(LOG_ERR, "live session %s/" LIVE_SUBDIR "/%s: %s", run_dir, name,
			strerror(-r));
out:
	if (dfd >= 0)
		close(dfd);
	cJSON_free(text);
	cJSON_Delete(o);
	return r;
}

int ssm_live_unregister(const char *run_dir, const char *sid)
{
	char name[128], err[256];
	int dfd, r = 0;

	if (!valid_sid(sid, NULL))
		return -EINVAL;
	dfd = run_subdir_open(run_dir, LIVE_SUBDIR, 0, err, sizeof(err));
	if (dfd < 0)
		return dfd;
	snprintf(name, sizeof(name), "%s.json", sid);
	if (unlinkat(dfd, name, 0) != 0)
		r = -errno;
	close(dfd);
	return r;
}

int ssm_live_lookup(const char *run_dir, const char *sid, pid_t *ppid)
{
	char name[128], what[PATH_MAX], err[256], jerr[160];
	char *buf = NULL;
	const char *s;
	cJSON *o = NULL;
	size_t len;
	uint64_t start;
	int64_t pid, st;
	int dfd, r;

	if (!valid_sid(sid, NULL))
		return -EINVAL;
	dfd = run_subdir_open(run_dir, LIVE_SUBDIR, 0, err, sizeof(err));
	if (dfd < 0)
		return dfd;
	snprintf(name, sizeof(name), "%s.json", sid);
	snprintf(what, sizeof(what), "%s/" LIVE_SUBDIR "/%s", run_dir, name);
	r = read_trusted_at(dfd, name, what, &buf, &len, err, sizeof(err));
	if (r < 0) {
		if (r != -ENOENT)
			ssm_log(LOG_ERR, "live session: %s", err);
		goto out;
	}
	r = ssm_json_parse_object(buf, len, &o, jerr, sizeof(jerr));
	if (r < 0 || ssm_json_get_string(o, "sid", &s) < 0 || strcmp(s, sid) != 0 ||
	    ssm_json_get_int64(o, "pid", &pid) < 0 || pid <= 0 || pid > INT32_MAX ||
	    ssm_json_get_int64(o, "starttime", &st) < 0 || st < 0) {
		ssm_log(LOG_ERR, "live session %s: malformed: refusing it", what);
		r = -EINVAL;
		goto out;
	}
	/* a recorder that exited, or a pid now used by another process, is not live */
	if (ssm_proc_stat((pid_t)pid, NULL, &start) < 0 || start != (uint64_t)st) {
		r = -ENOENT;
		goto out;
	}
	*ppid = (pid_t)pid;
	r = 0;
out:
	cJSON_Delete(o);
	free(buf);
	close(dfd);
	return r;
}

/* ---- ssm-agent's link status (transcript_delivery "required") ----------------------- */

#define AGENT_SUBDIR "agent"

int ssm_agent_status_write(const char *run_dir, int up, int64_t since)
{
	char err[256], buf[160];
	uint64_t start = 0;
	int dfd, r, n;

	if (ssm_proc_stat(getpid(), NULL, &start) < 0)
		return -ESRCH;
	dfd = run_subdir_open(run_dir, AGENT_SUBDIR, 1, err, sizeof(err));
	if (dfd < 0) {
		ssm_log(LOG_ERR, "agent status: %s", err);
		return dfd;
	}
	n = snprintf(buf, sizeof(buf), "{\"up\": %s, \"pid\": %ld, \"starttime\": %llu, \"since\": %lld}\n",
		     up ? "true" : "false", (long)getpid(), (unsigned long long)start,
		     (long long)since);
	r = write_atomic(dfd, "link.json", buf, (size_t)n);
	close(dfd);
	return r;
}

int ssm_agent_link_up(const char *run_dir)
{
	char what[PATH_MAX], err[256], jerr[160];
	char *buf = NULL;
	cJSON *o = NULL;
	const cJSON *up;
	size_t len;
	uint64_t start;
	int64_t pid, st;
	int dfd, r;

	dfd = run_subdir_open(run_dir, AGENT_SUBDIR, 0, err, sizeof(err));
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	snprintf(what, sizeof(what), "%s/" AGENT_SUBDIR "/link.json", run_dir);
	r = read_trusted_at(dfd, "link.json", what, &buf, &len, err, sizeof(err));
	close(dfd);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = ssm_json_parse_object(buf, len, &o, jerr, sizeof(jerr));
	up = r == 0 ? cJSON_GetObjectItemCaseSensitive(o, "up") : NULL;
	if (r < 0 || !cJSON_IsBool(up) || ssm_json_get_int64(o, "pid", &pid) < 0 || pid <= 0 ||
	    pid > INT32_MAX || ssm_json_get_int64(o, "starttime", &st) < 0 || st < 0) {
		ssm_log(LOG_ERR, "%s: malformed", what);
		r = -EINVAL;
		goto out;
	}
	/* an agent that is no longer running says nothing */
	r = cJSON_IsTrue(up) && ssm_proc_stat((pid_t)pid, NULL, &start) == 0 &&
	    start == (uint64_t)st;
out:
	cJSON_Delete(o);
	free(buf);
	return r;
}

/* ---- what the broker acknowledged of each transcript (transcript_backlog_max) ------------ */

static int delivered_name(const char *sid, char *name, size_t size)
{
	if (!valid_sid(sid, NULL))
		return -EINVAL;
	return snprintf(name, size, "delivered-%s", sid) < (int)size ? 0 : -EINVAL;
}

int ssm_agent_delivered_write(const char *run_dir, const char *sid, uint64_t bytes,
			      int queued)
{
	char name[NAME_MAX + 1], err[256], buf[64];
	int dfd, r, n;

	if ((r = delivered_name(sid, name, sizeof(name))) < 0)
		return r;
	dfd = run_subdir_open(run_dir, AGENT_SUBDIR, 1, err, sizeof(err));
	if (dfd < 0)
		return dfd;
	if (queued)
		n = snprintf(buf, sizeof(buf), "%llu queued %lld\n", (unsigned long long)bytes,
			     (long long)ssm_mono_ms());
	else
		n = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)bytes);
	r = write_atomic_mode(dfd, name, buf, (size_t)n, 0644);
	close(dfd);
	return r;
}

/* "BYTES\n" or "BYTES queued MS\n"; *pqueued only for a mark at most
 * SSM_AGENT_QUEUED_TTL_MS old (an agent that stopped saying so is not waiting) */
static int delivered_parse(const char *buf, size_t len, uint64_t *pbytes, int *pqueued)
{
	unsigned long long v;
	long long ms = 0;
	char *end;
	int64_t now;

	*pqueued = 0;
	if (len == 0 || buf[len - 1] != '\n' || memchr(buf, '\0', len) != NULL || buf[0] < '0' ||
	    buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0)
		return -EINVAL;
	if (strncmp(end, " queued ", 8) == 0) {
		const char *p = end + 8;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		ms = strtoll(p, &end, 10);
		if (errno != 0)
			return -EINVAL;
		now = ssm_mono_ms();
		*pqueued = ms <= now && now - ms <= SSM_AGENT_QUEUED_TTL_MS;
	}
	if (*end != '\n' || (size_t)(end + 1 - buf) != len) {
		*pqueued = 0;
		return -EINVAL;
	}
	*pbytes = v;
	return 0;
}

int ssm_agent_delivered_read(const char *run_dir, const char *sid, uint64_t *pbytes,
			     int *pqueued)
{
	char name[NAME_MAX + 1], what[PATH_MAX], err[256], *buf = NULL;
	size_t len;
	int dfd, r, queued = 0;
	uint64_t v = 0;

	*pbytes = 0;
	if (pqueued)
		*pqueued = 0;
	if ((r = delivered_name(sid, name, sizeof(name))) < 0)
		return r;
	dfd = run_subdir_open(run_dir, AGENT_SUBDIR, 0, err, sizeof(err));
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	snprintf(what, sizeof(what), "%s/" AGENT_SUBDIR "/%s", run_dir, name);
	r = read_trusted_at(dfd, name, what, &buf, &len, err, sizeof(err));
	close(dfd);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = delivered_parse(buf, len, &v, &queued);
	free(buf);
	if (r < 0)
		return r;
	*pbytes = v;
	if (pqueued)
		*pqueued = queued;
	return 0;
}

int ssm_agent_delivered_mark(const char *run_dir, const char *sid, int queued)
{
	uint64_t bytes;
	int was, r;

	r = ssm_agent_delivered_read(run_dir, sid, &bytes, &was);
	if (r < 0)
		return r;
	if (!queued && !was)
		return 0; /* nothing to clear (an expired mark counts for nothing) */
	return ssm_agent_delivered_write(run_dir, sid, bytes, queued);
}

void ssm_agent_delivered_remove(const char *run_dir, const char *sid)
{
	char name[NAME_MAX + 1], err[256];
	int dfd;

	if (delivered_name(sid, name, sizeof(name)) < 0)
		return;
	dfd = run_subdir_open(run_dir, AGENT_SUBDIR, 0, err, sizeof(err));
	if (dfd < 0)
		return;
	(void)unlinkat(dfd, name, 0);
	close(dfd);
}
