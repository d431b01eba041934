/* doccache.c - reading, storing and pruning the documents ssm-agent received from the
 * broker, and the host's choice between them and documents_dir (doccache.h).
 *
 * Every file operation goes through a descriptor of the cache directory that was opened
 * without following a symbolic link and checked (owner root or the trusted owner, no group
 * or other write), so that the files checked are the files used: a directory swapped or
 * replaced by a link between check and use is not followed. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include "doccache.h"
#include "document.h"
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)
#define TMP_PREFIX ".tmp-"
#define TMP_STALE_S 60
/* What an entry costs against document_cache_max_bytes: its size rounded up to a block of
 * 4 KiB, at least one block.  A tiny document still takes an inode and a block on disk, so
 * counting bytes alone would let thousands of them pile up (a 55-byte document is valid)
 * under a limit meant for documents of up to 64 KiB. */
#define ENTRY_BLOCK 4096
#define PRUNE_MAX_FILES (1 << 18) /* entries considered at once: 1 GiB (the largest limit) / 4 KiB */

/* The cache directory, opened and checked.  fd, or -ENOENT, -EACCES (a link, unsafe owner
 * or mode), -ENOTDIR, -EIO. */
static int open_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int fd, r;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = errno;
		if (r == ENOENT) {
			ERR("%s: no such directory", dir);
			return -ENOENT;
		}
		if (r == ELOOP) {
			ERR("%s: a symbolic link: refusing it", dir);
			return -EACCES;
		}
		ERR("%s: cannot open: %s", dir, strerror(r));
		return r == ENOTDIR ? -ENOTDIR : r == EACCES ? -EACCES : -EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ERR("%s: not a directory", dir);
		close(fd);
		return -ENOTDIR;
	}
	r = ssm_check_trusted_fd(fd, dir, err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int ssm_doccache_read(const char *dir, const char *name, const char *sha256, char **pbuf,
		      size_t *plen, char *err, size_t errlen)
{
	char entry[SSM_DOCCACHE_ENTRY_MAX], path[PATH_MAX], hex[65], *buf = NULL;
	size_t len = 0;
	int dfd, fd = -1, r;

	*pbuf = NULL;
	*plen = 0;
	if (!ssm_doccache_entry(name, sha256, entry, sizeof(entry))) {
		ERR("invalid document name or sha256");
		return -EINVAL;
	}
	dfd = open_dir(dir, err, errlen);
	if (dfd < 0)
		return dfd == -ENOTDIR ? -EACCES : dfd;
	fd = openat(dfd, entry, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		r = errno;
		ERR("%s/%s: %s", dir, entry,
		    r == ELOOP ? "a symbolic link: refusing it" : strerror(r));
		r = r == ENOENT ? -ENOENT : (r == ELOOP || r == EACCES || r == EPERM) ? -EACCES : -EIO;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, entry);
	r = ssm_read_fd(fd, path, SSM_DOCUMENT_MAX_SIZE, SSM_FILE_TRUSTED, &buf, &len, err, errlen);
	if (r == -EFBIG)
		r = -EINVAL; /* this function's code for an entry over 64 KiB */
	if (r < 0)
		goto out;
	ssm_sha256_hex(buf, len, hex);
	if (strcmp(hex, sha256) != 0) {
		ERR("%s/%s: its bytes do not hash to its name (a damaged cache entry)", dir, entry);
		r = -EBADMSG;
		goto out;
	}
	*pbuf = buf;
	*plen = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	close(dfd);
	return r;
}

/* dirfd/name as a directory, made 0755 (whatever the umask) when missing, opened without
 * following a symbolic link and checked as open_dir does.  The mode of a directory just made
 * is set through its descriptor: a path could meanwhile name a link to anything.  fd, or
 * -EACCES (a link, not a directory, unsafe owner or mode), -EIO. */
static int make_open_dir(int dirfd, const char *name, const char *what, char *err,
			 size_t errlen)
{
	int fd, r, made = 0;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(dirfd, name, 0755) == 0)
			made = 1;
		else if (errno != EEXIST) {
			r = errno;
			ERR("%s: cannot create: %s", what, strerror(r));
			return r == EACCES || r == EPERM ? -EACCES : -EIO;
		}
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		r = errno;
		if (r == ELOOP || r == ENOTDIR) {
			ERR("%s: a symbolic link or not a directory: refusing it", what);
			return -EACCES;
		}
		ERR("%s: cannot open: %s", what, strerror(r));
		return r == EACCES ? -EACCES : -EIO;
	}
	if (made && fchmod(fd, 0755) != 0) {
		ERR("%s: cannot set its mode: %s", what, strerror(errno));
		close(fd);
		return -EIO;
	}
	r = ssm_check_trusted_fd(fd, what, err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* The cache directory for a store: its parent (state_dir) and itself, each made when missing
 * and checked (owner root, no group or other write, not a link).  Only root can then change
 * what either holds.  fd, or a negative errno with err. */
static int open_store_dir(const char *dir, char *err, size_t errlen)
{
	char parent[4096];
	const char *base;
	char *slash;
	int pfd, dfd;

	if (snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent)) {
		ERR("%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	slash = strrchr(parent, '/');
	if (slash == NULL || slash[1] == '\0') {
		ERR("%s: not an absolute path to a directory", dir);
		return -EINVAL;
	}
	base = dir + (slash - parent) + 1;
	if (slash == parent)
		parent[1] = '\0'; /* "/documents": the parent is "/" */
	else
		*slash = '\0';
	pfd = make_open_dir(AT_FDCWD, parent, parent, err, errlen);
	if (pfd < 0)
		return pfd;
	dfd = make_open_dir(pfd, base, dir, err, errlen);
	close(pfd);
	return dfd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ssm_doccache_store(const char *dir, const char *name, const char *sha256, const void *buf,
		       size_t len, int64_t max_bytes, char *err, size_t errlen)
{
	char entry[SSM_DOCCACHE_ENTRY_MAX], tmp[64], hex[65], sub[512] = "";
	struct ssm_document *doc = NULL;
	static unsigned counter;
	int dfd = -1, fd = -1, r, tries;

	if (!ssm_doccache_entry(name, sha256, entry, sizeof(entry))) {
		ERR("invalid document name or sha256");
		return -EINVAL;
	}
	if (len > SSM_DOCUMENT_MAX_SIZE) {
		ERR("document %s: larger than %d bytes", name, SSM_DOCUMENT_MAX_SIZE);
		return -EFBIG;
	}
	ssm_sha256_hex(buf, len, hex);
	if (strcmp(hex, sha256) != 0) {
		ERR("document %s: the bytes received hash to %.12s..., not to %.12s...", name, hex,
		    sha256);
		return -EBADMSG;
	}
	/* the parser that every reader runs: a document no host could use is not kept */
	r = ssm_document_parse(buf, len, name, &doc, sub, sizeof(sub));
	ssm_document_free(doc);
	if (r < 0) {
		ERR("document %s: not a valid session document: %s", name, sub);
		return r;
	}
	/* the parent (state_dir) and the directory itself, made when missing, both checked */
	dfd = open_store_dir(dir, err, errlen);
	if (dfd < 0)
		return dfd;
	/* a name no earlier agent used: one that died while storing left its temporary file,
	 * and a pid is reused (in a container the agent's is the same at every start); on a
	 * clash, another name, and the file there is left alone (pruning removes it when stale) */
	for (tries = 0;; tries++) {
		uint32_t rnd = 0;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
			rnd = (uint32_t)time(NULL);
		snprintf(tmp, sizeof(tmp), TMP_PREFIX "%ld-%u-%08x", (long)getpid(), counter++,
			 (unsigned)rnd);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
			    0644);
		if (fd >= 0 || errno != EEXIST || tries >= 16)
			break;
	}
	if (fd < 0) {
		ERR("%s/%s: cannot create: %s", dir, tmp, strerror(errno));
		tmp[0] = '\0'; /* not ours: never removed here */
		r = -EIO;
		goto out;
	}
	if (fchmod(fd, 0644) != 0 || write_all(fd, buf, len) < 0 || fsync(fd) != 0) {
		int e = errno;

		ERR("%s/%s: cannot write: %s", dir, tmp, strerror(e));
		r = e == ENOSPC ? -ENOSPC : -EIO;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		ERR("%s/%s: cannot write: %s", dir, tmp, strerror(errno));
		r = -EIO;
		goto out;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, entry) != 0) {
		ERR("%s/%s: cannot rename into place: %s", dir, entry, strerror(errno));
		r = -EIO;
		goto out;
	}
	tmp[0] = '\0';
	(void)fsync(dfd);
	/* stored: a cache that cannot be pruned now is pruned at the next store */
	(void)ssm_doccache_prune(dir, max_bytes, entry, sub, sizeof(sub));
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0' && dfd >= 0)
		(void)unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		close(dfd);
	return r;
}

int ssm_doccache_touch(const char *dir, const char *name, const char *sha256)
{
	char entry[SSM_DOCCACHE_ENTRY_MAX], err[256];
	int dfd, r = 0;

	if (!ssm_doccache_entry(name, sha256, entry, sizeof(entry)))
		return -EINVAL;
	dfd = open_dir(dir, err, sizeof(err));
	if (dfd < 0)
		return dfd;
	if (utimensat(dfd, entry, NULL, AT_SYMLINK_NOFOLLOW) != 0)
		r = -errno;
	close(dfd);
	return r;
}

struct pentry {
	char name[SSM_DOCCACHE_ENTRY_MAX];
	int64_t size;
	struct timespec mtime;
};

static int by_age(const void *a, const void *b)
{
	const struct pentry *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

int ssm_doccache_prune(const char *dir, int64_t max_bytes, const char *keep, char *err,
		       size_t errlen)
{
	struct pentry *v = NULL;
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	int64_t total = 0;
	size_t n = 0, cap = 0, i;
	DIR *d = NULL;
	int dfd, fd2, removed = 0;

	dfd = open_dir(dir, err, errlen);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	fd2 = dup(dfd);
	if (fd2 < 0 || (d = fdopendir(fd2)) == NULL) {
		if (fd2 >= 0)
			close(fd2);
		close(dfd);
		ERR("%s: cannot list: %s", dir, strerror(errno));
		return -EIO;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t cost;

		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		/* an entry first: a document's name may begin with ".tmp-" too (no temporary
		 * file's name has an '@') */
		if (!ssm_doccache_entry_valid(de->d_name)) {
			if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
			    now - st.st_mtime > TMP_STALE_S && unlinkat(dfd, de->d_name, 0) == 0)
				removed++; /* a store that died half way */
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			/* only root writes here: nothing but a regular file belongs under an
			 * entry's name */
			if (unlinkat(dfd, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
				removed++;
			continue;
		}
		cost = ((int64_t)st.st_size + ENTRY_BLOCK - 1) / ENTRY_BLOCK * ENTRY_BLOCK;
		if (cost < ENTRY_BLOCK)
			cost = ENTRY_BLOCK;
		total += cost;
		if (n == cap && cap < PRUNE_MAX_FILES) {
			size_t ncap = cap == 0 ? 256 : cap * 2;
			struct pentry *nv = realloc(v, ncap * sizeof(*v));

			if (nv != NULL) {
				v = nv;
				cap = ncap;
			}
		}
		if (n < cap) {
			/* a valid entry name fits (SSM_DOCCACHE_ENTRY_MAX) */
			memcpy(v[n].name, de->d_name, strlen(de->d_name) + 1);
			v[n].size = cost;
			v[n].mtime = st.st_mtim;
			n++;
		}
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), by_age);
	for (i = 0; i < n && total > max_bytes; i++) {
		if (keep != NULL && strcmp(v[i].name, keep) == 0)
			continue;
		if (unlinkat(dfd, v[i].name, 0) == 0) {
			total -= v[i].size;
			removed++;
		}
	}
	free(v);
	closedir(d);
	close(dfd);
	return removed;
}

int ssm_doccache_load(const struct ssm_config *cfg, const char *name, const char *sha256,
		      struct ssm_document **pdoc, const char **pfrom, char *err, size_t errlen)
{
	char dir[4096], sub[512] = "", *buf = NULL;
	size_t len = 0;
	int r;

	*pdoc = NULL;
	if (pfrom)
		*pfrom = NULL;
	r = ssm_document_load(cfg->documents_dir, name, sha256, pdoc, err, errlen);
	if (r != -ENOENT) {
		if (r == 0 && pfrom)
			*pfrom = "documents_dir";
		return r;
	}
	if (!cfg->broker_documents)
		return r; /* err: not present on this host */
	if (!ssm_config_document_allowed(cfg, name)) {
		ERR("document %s: not present on this host (a copy from the broker is used only "
		    "for names in allowed_documents)", name);
		return -ENOENT;
	}
	if (ssm_doccache_dir(cfg, dir, sizeof(dir)) < 0) {
		ERR("state_dir too long");
		return -EINVAL;
	}
	r = ssm_doccache_read(dir, name, sha256, &buf, &len, sub, sizeof(sub));
	switch (r) {
	case 0:
		break;
	case -ENOENT:
		ERR("document %s: not present on this host, nor received from the broker", name);
		return -ENOENT;
	case -EBADMSG:
		ERR("%s", sub);
		return -EIO; /* the cache's name says the token's hash: the host is at fault */
	default:
		ERR("%s", sub);
		return r;
	}
	r = ssm_document_parse(buf, len, name, pdoc, sub, sizeof(sub));
	if (r < 0)
		ERR("%s/%s@%.12s...: %s", dir, name, sha256, sub);
	else if (pfrom)
		*pfrom = "broker";
	free(buf);
	return r;
}
