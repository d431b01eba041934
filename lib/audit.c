/* audit.c - log_dir/audit.jsonl (see audit.h, SPEC section 6)
 *
 * Each event is one line written with a single write(2) on an O_APPEND descriptor: the
 * kernel appends it whole at the end of the file, so concurrent writers (several logins at
 * once) never interleave.  The line has been handed to the kernel (the write(2) returned,
 * whole) before the caller goes on: from then on every reader sees it and no crash of the
 * login process can lose it.  It is not fdatasync'ed: that would cost every login a disk
 * flush (about 0.3 ms each on the reference disk, two per session) for the one case of the
 * kernel itself dying within the few seconds before writeback, the same exposure syslog
 * and the journal accept for the login lines they write.  What must survive a power loss
 * to keep a login from being repeated, the replay entry, is fsync'ed (replay.c). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "audit.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define AUDIT_FILE "audit.jsonl"
#define AUDIT_LINE_MAX (256 * 1024)

static int audit_dir_open(const char *log_dir)
{
	struct stat st;
	int fd, r, made = 0;

	/* the common case first: the directory exists (no mkdir attempt on every login) */
	fd = open(log_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdir(log_dir, 0750) == 0) {
			char parent[PATH_MAX];
			const char *slash = strrchr(log_dir, '/');
			int pfd;

			made = 1;
			/* make the new directory's entry durable before anything is logged in it */
			if (slash == NULL)
				snprintf(parent, sizeof(parent), ".");
			else
				snprintf(parent, sizeof(parent), "%.*s",
					 slash == log_dir ? 1 : (int)(slash - log_dir), log_dir);
			pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (pfd >= 0) {
				(void)fsync(pfd);
				close(pfd);
			}
		} else if (errno != EEXIST) {
			return -errno;
		}
		fd = open(log_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP || r == -ENOTDIR) {
			ssm_log(LOG_ERR, "%s: not a directory (or a symlink): refusing it", log_dir);
			return -EACCES;
		}
		return r;
	}
	if (made && fchmod(fd, 0750) != 0) {
		r = -errno;
		goto fail;
	}
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto fail;
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		ssm_log(LOG_ERR, "%s: owned by uid %u, mode %04o: not safe for the audit log",
			log_dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		r = -EACCES;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int ssm_audit_open(const char *log_dir)
{
	/* O_NONBLOCK: a FIFO planted as the log must not hang the login */
	const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;
	int dfd, fd = -1, r, made = 0;

	if (log_dir == NULL || log_dir[0] == '\0')
		return -EINVAL;
	dfd = audit_dir_open(log_dir);
	if (dfd < 0)
		return dfd;
	/* the file exists but for the first event: open it, create it only when missing
	 * (and if another login created it in between, open that one) */
	fd = openat(dfd, AUDIT_FILE, flags);
	if (fd < 0 && errno == ENOENT) {
		fd = openat(dfd, AUDIT_FILE, flags | O_CREAT | O_EXCL, 0640);
		if (fd >= 0)
			made = 1;
		else if (errno == EEXIST)
			fd = openat(dfd, AUDIT_FILE, flags);
	}
	if (fd < 0) {
		r = -errno;
		ssm_log(LOG_ERR, "%s/" AUDIT_FILE ": cannot open: %s", log_dir,
			r == -ELOOP ? "it is a symlink" : strerror(-r));
		if (r == -ELOOP || r == -ENXIO)
			r = -EACCES;
		goto out;
	}
	if (made && (fchmod(fd, 0640) != 0 || fsync(dfd) != 0)) {
		r = -errno;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		ssm_log(LOG_ERR,
			"%s/" AUDIT_FILE ": not a root-owned regular file writable only by its "
			"owner: refusing it",
			log_dir);
		r = -EACCES;
		goto out;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) != 0) {
		r = -errno;
		goto out;
	}
	r = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return r;
}

/* A copy of s in which every byte that does not start a valid UTF-8 sequence is written
 * as the text \xNN: an untrusted value (a user name from the PAM client, say) is still
 * logged, recognisably, and the line stays valid UTF-8.  NULL on ENOMEM. */
static char *utf8_sanitize(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(s), i = 0, o = 0, n;
	char *out;

	if (len > (SIZE_MAX - 1) / 4)
		return NULL;
	out = malloc(4 * len + 1);
	if (out == NULL)
		return NULL;
	while (i < len) {
		/* the shortest valid sequence starting here, if any (1 to 4 bytes) */
		for (n = 1; n <= 4 && i + n <= len; n++) {
			if (ssm_json_utf8_valid(s + i, n))
				break;
		}
		if (n <= 4 && i + n <= len) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			unsigned char c = (unsigned char)s[i++];

			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

static int add_string(cJSON *obj, const char *name, const char *val)
{
	cJSON *item;
	char *clean;

	if (val == NULL)
		return 0;
	if (ssm_json_utf8_valid(val, strlen(val)))
		return cJSON_AddStringToObject(obj, name, val) ? 0 : -ENOMEM;
	clean = utf8_sanitize(val);
	if (clean == NULL)
		return -ENOMEM;
	item = cJSON_AddStringToObject(obj, name, clean);
	free(clean);
	return item ? 0 : -ENOMEM;
}

/* Replace, in a copied tree, every string value that is not valid UTF-8. */
static int sanitize_tree(cJSON *item)
{
	cJSON *c;
	char *clean;

	if (cJSON_IsString(item) && item->valuestring != NULL &&
	    !ssm_json_utf8_valid(item->valuestring, strlen(item->valuestring))) {
		clean = utf8_sanitize(item->valuestring);
		if (clean == NULL)
			return -ENOMEM;
		/* valuestring belongs to cJSON's allocator: swap through cJSON itself */
		if (cJSON_SetValuestring(item, clean) == NULL) {
			free(clean);
			return -ENOMEM;
		}
		free(clean);
	}
	for (c = item->child; c != NULL; c = c->next) {
		int r = sanitize_tree(c);

		if (r < 0)
			return r;
	}
	return 0;
}

/* The line for one event, without its newline; NULL-terminated malloc'ed, or NULL. */
static int audit_line(int64_t now, const char *host_id, const char *event,
		      const struct ssm_audit_session *s, const cJSON *extra, char **pline)
{
	const cJSON *m;
	cJSON *obj, *dup;
	char ts[32];
	int r;

	*pline = NULL;
	if (event == NULL || host_id == NULL)
		return -EINVAL;
	if (extra != NULL && !cJSON_IsObject(extra))
		return -EINVAL;
	obj = cJSON_CreateObject();
	if (obj == NULL)
		return -ENOMEM;
	ssm_rfc3339(now, ts);
	r = add_string(obj, "ts", ts);
	if (r == 0)
		r = add_string(obj, "event", event);
	if (r == 0)
		r = add_string(obj, "host_id", host_id);
	if (r == 0 && s != NULL) {
		r = add_string(obj, "sid", s->sid);
		if (r == 0)
			r = add_string(obj, "sub", s->sub);
		if (r == 0)
			r = add_string(obj, "run_as", s->run_as);
		if (r == 0)
			r = add_string(obj, "doc", s->doc);
	}
	if (r < 0)
		goto out;
	if (extra != NULL) {
		cJSON_ArrayForEach(m, extra) {
			/* a member may not replace or repeat one already there; names are the
			 * caller's own constants */
			if (m->string == NULL ||
			    !ssm_json_utf8_valid(m->string, strlen(m->string)) ||
			    cJSON_GetObjectItemCaseSensitive(obj, m->string)) {
				r = -EINVAL;
				goto out;
			}
			dup = cJSON_Duplicate(m, 1);
			if (dup == NULL) {
				r = -ENOMEM;
				goto out;
			}
			cJSON_AddItemToObject(obj, m->string, dup);
			r = sanitize_tree(dup);
			if (r < 0)
				goto out;
		}
	}
	*pline = cJSON_PrintUnformatted(obj);
	if (*pline == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/* every string was made valid above: this only guards against a cJSON surprise */
	if (!ssm_json_utf8_valid(*pline, strlen(*pline))) {
		cJSON_free(*pline);
		*pline = NULL;
		r = -EILSEQ;
		goto out;
	}
	r = 0;
out:
	cJSON_Delete(obj);
	return r;
}

int ssm_audit_write_fd(int fd, int64_t now, const char *host_id, const char *event,
		       const struct ssm_audit_session *s, const cJSON *extra)
{
	char *line = NULL, *buf = NULL;
	size_t len;
	ssize_t n;
	int r;

	if (fd < 0)
		return -EBADF;
	r = audit_line(now, host_id, event, s, extra, &line);
	if (r < 0) {
		ssm_log(LOG_ERR, "audit: cannot build the %s event: %s",
			event ? event : "(null)", strerror(-r));
		return r;
	}
	len = strlen(line);
	if (len > AUDIT_LINE_MAX) {
		r = -E2BIG;
		goto out;
	}
	buf = malloc(len + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(buf, line, len);
	buf[len++] = '\n';
	/* one write(2): O_APPEND makes it land whole at the end; a short write is an error,
	 * since writing the rest separately could interleave with another writer */
	do {
		n = write(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	if ((size_t)n != len) {
		r = -EIO;
		goto out;
	}
	/* no fdatasync: see the top of this file */
	r = 0;
out:
	if (r < 0 && r != -ENOMEM)
		ssm_log(LOG_ERR, "audit: cannot write the %s event: %s", event, strerror(-r));
	free(buf);
	cJSON_free(line);
	return r;
}

int ssm_audit_write(const char *log_dir, int64_t now, const char *host_id, const char *event,
		    const struct ssm_audit_session *s, const cJSON *extra)
{
	int fd, r;

	fd = ssm_audit_open(log_dir);
	if (fd < 0)
		return fd;
	r = ssm_audit_write_fd(fd, now, host_id, event, s, extra);
	if (close(fd) != 0 && r == 0)
		r = -EIO;
	return r;
}
