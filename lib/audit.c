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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
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

/* /proc/self/sessionid or /proc/self/loginuid as a number member, or null when the file
 * is missing (a kernel without audit), unreadable or says "unset" (4294967295). */
static int add_proc_id(cJSON *obj, const char *name, const char *path)
{
	char buf[32];
	unsigned long long v = SSM_AUDIT_ID_UNSET;
	char *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		do {
			n = read(fd, buf, sizeof(buf) - 1);
		} while (n < 0 && errno == EINTR);
		close(fd);
		if (n > 0 && buf[0] >= '0' && buf[0] <= '9') {
			buf[n] = '\0';
			errno = 0;
			v = strtoull(buf, &end, 10);
			if (errno != 0 || (*end != '\0' && *end != '\n') || v > SSM_AUDIT_ID_UNSET)
				v = SSM_AUDIT_ID_UNSET;
		}
	}
	if (v == SSM_AUDIT_ID_UNSET)
		return cJSON_AddNullToObject(obj, name) ? 0 : -ENOMEM;
	return cJSON_AddNumberToObject(obj, name, (double)v) ? 0 : -ENOMEM;
}

/* The line for one event, without its newline; NULL-terminated malloc'ed, or NULL.
 * *pobj (when pobj is not NULL) gets the event's tree, the caller's to delete. */
static int audit_line(int64_t now, const char *host_id, const char *event,
		      const struct ssm_audit_session *s, const cJSON *extra, char **pline,
		      cJSON **pobj)
{
	const cJSON *m;
	cJSON *obj, *dup;
	char ts[32];
	int r;

	*pline = NULL;
	if (event == NULL)
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
	if (r == 0 && host_id != NULL)
		r = add_string(obj, "host_id", host_id);
	else if (r == 0 && cJSON_AddNullToObject(obj, "host_id") == NULL)
		r = -ENOMEM;
	if (r == 0 && s != NULL) {
		r = add_string(obj, "sid", s->sid);
		if (r == 0)
			r = add_string(obj, "sub", s->sub);
		if (r == 0)
			r = add_string(obj, "run_as", s->run_as);
		if (r == 0)
			r = add_string(obj, "doc", s->doc);
	}
	/* the kernel audit session and login uid of the writing process, to join with
	 * auditd's records (ses=, auid=); null when unset (4294967295) or not there */
	if (r == 0)
		r = add_proc_id(obj, "audit_session", "/proc/self/sessionid");
	if (r == 0)
		r = add_proc_id(obj, "loginuid", "/proc/self/loginuid");
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
	if (pobj != NULL) {
		*pobj = obj;
		obj = NULL;
	}
out:
	cJSON_Delete(obj);
	return r;
}

/* ------------------------------------------------------------------ the journal
 *
 * Every event also goes to the systemd journal, so that the log shippers a host already
 * runs pick it up with structured fields.  This is the journal's native protocol
 * (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/), written here rather than through
 * libsystemd's sd_journal_send: the PAM module runs in every login process and links
 * nothing it does not need (no cryptography, no libsystemd and its dependencies); the
 * protocol is one datagram of fields to /run/systemd/journal/socket.  Best effort: no
 * journal (no socket, journald down, a full queue for a second) loses the journal copy
 * only; audit.jsonl stays the record, and nothing about the journal is logged. */

struct jbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void jb_add(struct jbuf *b, const void *data, size_t n)
{
	if (b->err)
		return;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = -E2BIG;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

/* One field: KEY=VALUE\n, or, when the value holds a newline, KEY\n, its length as 64-bit
 * little endian, the value, \n. */
static void jb_field(struct jbuf *b, const char *key, const char *val, size_t n)
{
	if (memchr(val, '\n', n) == NULL) {
		jb_add(b, key, strlen(key));
		jb_add(b, "=", 1);
		jb_add(b, val, n);
		jb_add(b, "\n", 1);
	} else {
		unsigned char le[8];
		uint64_t v = n;
		int i;

		for (i = 0; i < 8; i++)
			le[i] = (unsigned char)(v >> (8 * i));
		jb_add(b, key, strlen(key));
		jb_add(b, "\n", 1);
		jb_add(b, le, 8);
		jb_add(b, val, n);
		jb_add(b, "\n", 1);
	}
}

static void jb_str(struct jbuf *b, const char *key, const char *val)
{
	jb_field(b, key, val, strlen(val));
}

/* MESSAGE_ID of each event: a fixed 128-bit id, as journalctl MESSAGE_ID= filters on
 * (docs/CONTRACT.md section 6.1) */
static const struct {
	const char *event, *id;
	int prio;
} journal_events[] = {
	{ "login_denied", SSM_MSGID_LOGIN_DENIED, LOG_NOTICE },
	{ "session_start", SSM_MSGID_SESSION_START, LOG_INFO },
	{ "shell_start", SSM_MSGID_SHELL_START, LOG_INFO },
	{ "port_open", SSM_MSGID_PORT_OPEN, LOG_INFO },
	{ "transcript_limit", SSM_MSGID_TRANSCRIPT_LIMIT, LOG_WARNING },
	{ "session_end", SSM_MSGID_SESSION_END, LOG_INFO },
	{ "terminate_requested", SSM_MSGID_TERMINATE_REQUESTED, LOG_NOTICE },
};

/* The field name for member NAME: SSM_ and NAME in upper case, any other character than
 * [A-Za-z0-9_] as '_' (member names are the callers' constants), at most 64 bytes. */
static void field_name(const char *name, char out[65])
{
	size_t i, o = 4;

	memcpy(out, "SSM_", 4);
	for (i = 0; name[i] != '\0' && o < 64; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		out[o++] = (char)c;
	}
	out[o] = '\0';
}

int ssm_audit_journal_entry(const cJSON *ev, const char *line, char **pbuf, size_t *plen)
{
	static const char *const summary[] = { "reason", "sid", "user", "run_as", "sub", "doc",
					       "service", "rhost", "program", "detail" };
	struct jbuf b = { 0 }, msg = { 0 };
	const cJSON *m, *e;
	const char *event = "", *msgid = NULL;
	char name[65], num[32];
	size_t i;
	int prio = LOG_INFO;

	*pbuf = NULL;
	*plen = 0;
	e = cJSON_GetObjectItemCaseSensitive(ev, "event");
	if (cJSON_IsString(e))
		event = e->valuestring;
	for (i = 0; i < sizeof(journal_events) / sizeof(journal_events[0]); i++) {
		if (strcmp(event, journal_events[i].event) == 0) {
			msgid = journal_events[i].id;
			prio = journal_events[i].prio;
		}
	}
	/* MESSAGE: "ssmsession EVENT: reason=... sid=... user=..." */
	jb_add(&msg, "ssmsession ", 11);
	jb_add(&msg, event, strlen(event));
	for (i = 0; i < sizeof(summary) / sizeof(summary[0]); i++) {
		m = cJSON_GetObjectItemCaseSensitive(ev, summary[i]);
		if (!cJSON_IsString(m))
			continue;
		jb_add(&msg, i == 0 ? ": " : " ", i == 0 ? 2 : 1);
		jb_add(&msg, summary[i], strlen(summary[i]));
		jb_add(&msg, "=", 1);
		jb_add(&msg, m->valuestring, strlen(m->valuestring));
	}
	if (msg.err) {
		free(msg.p);
		return msg.err;
	}
	jb_field(&b, "MESSAGE", msg.p, msg.len);
	free(msg.p);
	snprintf(num, sizeof(num), "%d", prio);
	jb_str(&b, "PRIORITY", num);
	jb_str(&b, "SYSLOG_FACILITY", "10"); /* authpriv, as the module's syslog lines */
	jb_str(&b, "SYSLOG_IDENTIFIER", "ssmsession");
	if (msgid != NULL)
		jb_str(&b, "MESSAGE_ID", msgid);
	cJSON_ArrayForEach(m, ev) {
		if (m->string == NULL || cJSON_IsNull(m))
			continue;
		if (strcmp(m->string, "ts") == 0) /* the journal has its own timestamp */
			continue;
		field_name(m->string, name);
		if (cJSON_IsString(m)) {
			jb_str(&b, name, m->valuestring);
		} else {
			char *v = cJSON_PrintUnformatted(m);

			if (v == NULL) {
				b.err = -ENOMEM;
				break;
			}
			jb_str(&b, name, v);
			cJSON_free(v);
		}
	}
	/* the audit line itself, byte for byte */
	jb_str(&b, "SSM_AUDIT_JSON", line);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*pbuf = b.p;
	*plen = b.len;
	return 0;
}

int ssm_audit_journal_send(const char *path, const char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 1 };
	struct msghdr mh;
	int fd, mfd = -1, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a journald that does not read its socket may delay a login by a second, no more */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (sendto(fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)) ==
	    (ssize_t)len) {
		r = 0;
		goto out;
	}
	r = -errno;
	if (r != -EMSGSIZE && r != -ENOBUFS)
		goto out;
	/* too large for one datagram: the entry in a sealed memfd, its descriptor sent */
	{
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} c;
		struct cmsghdr *cm;

		mfd = memfd_create("ssmsession-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (mfd < 0) {
			r = -errno;
			goto out;
		}
		r = ssm_write_all(mfd, buf, len);
		if (r < 0)
			goto out;
		if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
						       F_SEAL_SEAL) != 0) {
			r = -errno;
			goto out;
		}
		memset(&mh, 0, sizeof(mh));
		memset(&c, 0, sizeof(c));
		mh.msg_name = &sa;
		mh.msg_namelen = sizeof(sa);
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &mfd, sizeof(int));
		r = sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
	}
out:
	if (mfd >= 0)
		close(mfd);
	close(fd);
	return r;
}

static void journal_event(const cJSON *ev, const char *line)
{
	char *buf = NULL;
	size_t len = 0;

	if (ssm_audit_journal_entry(ev, line, &buf, &len) == 0)
		(void)ssm_audit_journal_send(SSM_JOURNAL_SOCKET, buf, len);
	free(buf);
}

/* ------------------------------------------------------------------ writing */

int ssm_audit_write_fd(int fd, int64_t now, const char *host_id, const char *event,
		       const struct ssm_audit_session *s, const cJSON *extra)
{
	char *line = NULL, *buf = NULL;
	cJSON *ev = NULL;
	size_t len;
	ssize_t n;
	int r;

	r = audit_line(now, host_id, event, s, extra, &line, &ev);
	if (r < 0) {
		ssm_log(LOG_ERR, "audit: cannot build the %s event: %s",
			event ? event : "(null)", strerror(-r));
		return r;
	}
	/* the journal's copy first: it does not depend on the file being writable */
	journal_event(ev, line);
	cJSON_Delete(ev);
	if (fd < 0) {
		r = -EBADF;
		goto out;
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
	if (r < 0 && r != -ENOMEM && r != -EBADF)
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
	if (fd < 0) {
		/* no audit.jsonl: the journal still gets the event */
		(void)ssm_audit_write_fd(-1, now, host_id, event, s, extra);
		return fd;
	}
	r = ssm_audit_write_fd(fd, now, host_id, event, s, extra);
	if (close(fd) != 0 && r == 0)
		r = -EIO;
	return r;
}
