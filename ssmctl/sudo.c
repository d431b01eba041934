/* sudo.c - `ssmctl sudo enable|disable|status [--user NAME]` (SPEC section 7).
 *
 * /etc/sudoers.d/ssm-agent-users holds one line per user:
 *     NAME ALL=(ALL:ALL) NOPASSWD:ALL
 *
 * enable adds that line (other lines of the file are kept).  disable rewrites the file from
 * what it can prove grants NAME nothing: plain comments and the line above for other users
 * (other names, other uids); every other line is dropped and reported, whatever it is
 * (NAME in another form, a %group, an alias, #include, a line sudo cannot parse...).
 * status, and disable afterwards, ask sudo itself (`sudo -n -l -U NAME`) whether NAME has
 * rules; sudo does not say from which file, so ssmctl asks it again, once per file of
 * /etc/sudoers.d with the other files hidden and once with all of them hidden, each time in a
 * child process with its own mount namespace where the hidden files are covered by an empty
 * file (the host's mounts and files are not touched).
 *
 * Never written in place: the new content goes to a temp file in the same directory
 * (its name has a '.', so sudo's #includedir ignores it), created root-owned 0440,
 * fsync'ed, checked with `visudo -cf`, then rename(2)d over the old file and the
 * directory fsync'ed.  An flock on the directory serialises concurrent ssmctl runs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "ssmctl.h"

#define SUDOERS_MAX (256 * 1024)
#define SUDO_LIST_MAX (64 * 1024)
#define SUDOERS_D_FILES_MAX 64
#define SUDOERS_HEADER "# Managed by ssmctl sudo: passwordless sudo for Session Manager users.\n"
#define SUDOERS_GRANT " ALL=(ALL:ALL) NOPASSWD:ALL\n"

/* the whole environment of visudo and sudo */
static char *const clean_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };

int ssmctl_user_name_ok(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || strlen(name) > 32)
		return 0;
	if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return 0;
	for (i = 1; name[i] != '\0'; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

enum line_kind {
	LINE_BLANK,	  /* only blanks */
	LINE_COMMENT,	  /* "#", or "# ..." / "#\t..." not ending in a backslash */
	LINE_GRANT_OTHER, /* NAME ALL=(ALL:ALL) NOPASSWD:ALL, NAME another user with another uid */
	LINE_GRANT_USER,  /* the same for the user (or a name with the user's uid) */
	LINE_OTHER	  /* anything else: not proven harmless */
};

/* Classify one line (without its newline) of the managed file for user (uid).  continued:
 * the previous line ended in a backslash, so this one is part of it and proves nothing.
 * sudo matches a plain name in a user list by the name only, and names here are lower case,
 * so a grant line for another name grants user nothing (unless both names have one uid). */
static enum line_kind classify(const char *line, size_t len, int continued, const char *user,
			       uid_t uid)
{
	size_t i, tail = sizeof(SUDOERS_GRANT) - 2; /* without the newline and the NUL */
	char name[33];
	struct passwd *pw;

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len)
		return LINE_BLANK;
	if (continued || memchr(line, '\0', len) != NULL)
		return LINE_OTHER;
	if (line[0] == '#' && (len == 1 || line[1] == ' ' || line[1] == '\t') &&
	    line[len - 1] != '\\')
		return LINE_COMMENT;
	if (len <= tail || len - tail > 32 || memcmp(line + len - tail, SUDOERS_GRANT, tail) != 0)
		return LINE_OTHER;
	memcpy(name, line, len - tail);
	name[len - tail] = '\0';
	if (!ssmctl_user_name_ok(name))
		return LINE_OTHER;
	if (strcmp(name, user) == 0)
		return LINE_GRANT_USER;
	pw = getpwnam(name);
	return pw != NULL && pw->pw_uid == uid ? LINE_GRANT_USER : LINE_GRANT_OTHER;
}

/* Print line n of the managed file, made printable and cut at 200 characters. */
static void print_dropped(size_t n, const char *why, const char *line, size_t len)
{
	size_t i;

	printf("dropped line %zu of %s/%s (%s): ", n, SSMCTL_SUDOERS_DIR, SSMCTL_SUDOERS_FILE, why);
	for (i = 0; i < len && i < 200; i++)
		putchar((unsigned char)line[i] < 0x20 || line[i] == 0x7f ? '?' : line[i]);
	printf("%s\n", len > 200 ? "..." : "");
}

/* Run `sudo -n -l -U user` and read its answer: 1 if sudo lists rules for user, 0 if it says
 * user may not run sudo, -1 if it cannot tell (sudo missing or failing, an answer not
 * understood, hiding refused).  Each path in hide[] is covered with the empty file `empty`
 * by a bind mount in the child's own mount namespace, made before sudo runs: sudo then reads
 * nothing from it, and no other process sees the change.  With rules, *rules (when rules is
 * not NULL) gets sudo's lines listing them, to be freed. */
static int sudo_lists(const char *user, char *const *hide, size_t nhide, const char *empty,
		      char **rules)
{
	char *const argv[] = { "sudo", "-n", "-l", "-U", (char *)user, NULL };
	char *buf, may[128], maynot[128];
	const char *line;
	size_t len = 0;
	ssize_t n;
	int pfd[2], status, ret = -1;
	pid_t pid;

	if (rules != NULL)
		*rules = NULL;
	buf = malloc(SUDO_LIST_MAX + 1);
	if (buf == NULL)
		return -1;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		free(buf);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		free(buf);
		return -1;
	}
	if (pid == 0) {
		size_t i;
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(126);
		if (nhide > 0) {
			if (unshare(CLONE_NEWNS) != 0 ||
			    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
				_exit(126);
			for (i = 0; i < nhide; i++)
				if (mount(empty, hide[i], NULL, MS_BIND, NULL) != 0)
					_exit(126);
		}
		execve(SSMCTL_SUDO, argv, clean_env);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char sink[4096];

		if (len < SUDO_LIST_MAX)
			n = read(pfd[0], buf + len, SUDO_LIST_MAX - len);
		else
			n = read(pfd[0], sink, sizeof(sink)); /* too long: drained, not understood */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < SUDO_LIST_MAX)
			len += (size_t)n;
		else
			len = SUDO_LIST_MAX + 1;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	if (status != 0 || len > SUDO_LIST_MAX)
		goto out;
	buf[len] = '\0';
	/* sudo's own lines (plugins/sudoers, C locale) */
	snprintf(may, sizeof(may), "User %s may run the following commands on ", user);
	snprintf(maynot, sizeof(maynot), "User %s is not allowed to run sudo on ", user);
	for (line = buf; *line != '\0'; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
		if (strncmp(line, may, strlen(may)) == 0 && ret == -1) {
			ret = 1;
			if (rules != NULL && strchr(line, '\n') != NULL)
				*rules = strdup(strchr(line, '\n') + 1);
		} else if (strncmp(line, maynot, strlen(maynot)) == 0 && ret == -1) {
			ret = 0;
		} else if (strncmp(line, "User ", 5) == 0 && ret != -1) {
			ret = -2; /* two answers: not understood */
		}
	}
	if (ret == -2) {
		ret = -1;
		if (rules != NULL) {
			free(*rules);
			*rules = NULL;
		}
	}
out:
	free(buf);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Say, one line each after prefix, which files make sudo grant user rules on their own:
 * those of /etc/sudoers.d that sudo reads (its #includedir skips names with a '.' or ending in
 * '~'), each asked about with all the others hidden, and /etc/sudoers (with what it includes
 * from elsewhere), asked about with all of /etc/sudoers.d hidden.  A grant that needs two
 * files together (an alias in one, the rule in another) is named as such. */
static void print_sources(FILE *f, const char *prefix, const char *user)
{
	char empty[] = SSMCTL_SUDOERS_DIR "/.ssmctl-empty.XXXXXX";
	char *paths[SUDOERS_D_FILES_MAX], *hide[SUDOERS_D_FILES_MAX];
	size_t n = 0, i, j, nhide, found = 0;
	DIR *d = NULL;
	struct dirent *de;
	int fd, r, unknown = 0;

	fd = mkstemp(empty);
	if (fd < 0 || fchown(fd, 0, 0) != 0 || fchmod(fd, 0440) != 0) {
		fprintf(f, "%sunknown (cannot create an empty file in %s: %s)\n", prefix,
			SSMCTL_SUDOERS_DIR, strerror(errno));
		if (fd >= 0) {
			close(fd);
			(void)unlink(empty);
		}
		return;
	}
	close(fd);
	d = opendir(SSMCTL_SUDOERS_DIR);
	while (d != NULL && (de = readdir(d)) != NULL) {
		struct stat st;
		char path[sizeof(SSMCTL_SUDOERS_DIR) + 256];
		size_t l = strlen(de->d_name);

		if (strchr(de->d_name, '.') != NULL || de->d_name[l - 1] == '~')
			continue;
		snprintf(path, sizeof(path), "%s/%s", SSMCTL_SUDOERS_DIR, de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == SUDOERS_D_FILES_MAX || (paths[n] = strdup(path)) == NULL) {
			unknown = 1;
			break;
		}
		n++;
	}
	if (d != NULL)
		closedir(d);
	else
		unknown = 1;
	if (unknown) {
		fprintf(f, "%sunknown (cannot list %s, or more than %d files)\n", prefix,
			SSMCTL_SUDOERS_DIR, SUDOERS_D_FILES_MAX);
		goto out;
	}
	qsort(paths, n, sizeof(paths[0]), name_cmp);
	for (i = 0; i <= n; i++) { /* i == n: /etc/sudoers, all of /etc/sudoers.d hidden */
		for (j = 0, nhide = 0; j < n; j++)
			if (j != i)
				hide[nhide++] = paths[j];
		r = sudo_lists(user, hide, nhide, empty, NULL);
		if (r < 0) {
			fprintf(f, "%sunknown (sudo does not answer with files hidden: no mount "
				   "namespace?)\n", prefix);
			goto out;
		}
		if (r == 1) {
			fprintf(f, "%s%s\n", prefix, i < n ? paths[i] : SSMCTL_SUDOERS);
			found++;
		}
	}
	if (found == 0)
		fprintf(f, "%sno single file: several files together (an alias in one, the "
			   "rule in another?)\n", prefix);
out:
	(void)unlink(empty);
	for (i = 0; i < n; i++)
		free(paths[i]);
}

/* Run visudo -cf path; 0 if it accepts the file. */
static int visudo_check(const char *path)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO); /* "parsed OK"; errors go to stderr */
			close(fd);
		}
		execle(SSMCTL_VISUDO, "visudo", "-c", "-f", path, (char *)NULL, clean_env);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return -EINVAL;
}

/* Replace dir/name with content, atomically, after visudo accepts it. */
static int replace_file(int dirfd, const char *content, size_t len)
{
	char tmp[] = SSMCTL_SUDOERS_DIR "/." SSMCTL_SUDOERS_FILE ".XXXXXX";
	int fd, r;

	fd = mkstemp(tmp);
	if (fd < 0) {
		r = -errno;
		fprintf(stderr, "ssmctl: cannot create a temp file in %s: %s\n", SSMCTL_SUDOERS_DIR,
			strerror(-r));
		return r;
	}
	if (fchown(fd, 0, 0) != 0 || fchmod(fd, 0440) != 0) {
		r = -errno;
		fprintf(stderr, "ssmctl: cannot set owner/mode of %s: %s\n", tmp, strerror(-r));
		goto fail;
	}
	r = ssm_write_all(fd, content, len);
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "ssmctl: cannot write %s: %s\n", tmp, strerror(-r));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = -errno;
		fprintf(stderr, "ssmctl: cannot write %s: %s\n", tmp, strerror(-r));
		goto fail;
	}
	fd = -1;
	r = visudo_check(tmp);
	if (r < 0) {
		fprintf(stderr, "ssmctl: %s refused the new file (%s)\n", SSMCTL_VISUDO,
			r == -ENOENT ? "visudo not found" : "syntax error");
		goto fail;
	}
	if (renameat(dirfd, strrchr(tmp, '/') + 1, dirfd, SSMCTL_SUDOERS_FILE) != 0) {
		r = -errno;
		fprintf(stderr, "ssmctl: error renaming %s, %s/%s unchanged: %s\n", tmp,
			SSMCTL_SUDOERS_DIR, SSMCTL_SUDOERS_FILE, strerror(-r));
		goto fail;
	}
	if (fsync(dirfd) != 0)
		fprintf(stderr, "ssmctl: warning: cannot fsync %s: %s\n", SSMCTL_SUDOERS_DIR,
			strerror(errno));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	return r;
}

static int sudo_usage(const char *msg)
{
	fprintf(stderr, "ssmctl: %s\nusage: ssmctl sudo enable|disable|status [--user NAME]\n",
		msg);
	return SSMCTL_USAGE;
}

/* After disable: does sudo still grant user anything?  The managed file no longer can. */
static int check_none_left(const char *user, const char *path)
{
	char *rules = NULL;
	int r = sudo_lists(user, NULL, 0, NULL, &rules);

	if (r < 0) {
		fprintf(stderr, "ssmctl: cannot tell whether sudo still grants %s rules: `%s -n -l "
				"-U %s` failed or said something else than expected\n",
			user, SSMCTL_SUDO, user);
		return SSMCTL_REFUSED;
	}
	if (r == 1) {
		fprintf(stderr, "ssmctl: %s has none, but sudo still grants %s rules:\n%s", path,
			user, rules ? rules : "");
		print_sources(stderr, "ssmctl: granted by ", user);
		free(rules);
		return SSMCTL_REFUSED;
	}
	return SSMCTL_OK;
}

static int sudo_status(const char *user)
{
	char *rules = NULL;
	int r = sudo_lists(user, NULL, 0, NULL, &rules);

	if (r < 0) {
		fprintf(stderr, "ssmctl: cannot tell: `%s -n -l -U %s` failed or said something "
				"else than expected\n",
			SSMCTL_SUDO, user);
		return SSMCTL_REFUSED;
	}
	if (r == 0) {
		printf("disabled\n");
		return SSMCTL_OK;
	}
	printf("enabled\n");
	print_sources(stdout, "granted by ", user);
	printf("rules (sudo -l -U %s):\n%s", user, rules ? rules : "");
	free(rules);
	return SSMCTL_OK;
}

int ssmctl_sudo(int argc, char **argv)
{
	const char *path = SSMCTL_SUDOERS_DIR "/" SSMCTL_SUDOERS_FILE;
	const char *user = SSMCTL_DEFAULT_SUDO_USER, *action = NULL;
	char *old = NULL, *out = NULL, err[512] = "";
	size_t oldlen = 0, olen = 0, outsz, grants = 0, lineno = 0;
	int dirfd = -1, have = 0, continued = 0, ret, r, i, n;
	const char *p, *end, *oldend;
	struct passwd *pw;
	uid_t uid;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strncmp(argv[i], "--user=", 7) == 0)
			user = argv[i] + 7;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			i++; /* accepted everywhere; sudo does not use it */
		else if (strncmp(argv[i], "--config=", 9) == 0)
			continue; /* likewise */
		else if (argv[i][0] == '-')
			return sudo_usage("unknown option or missing value");
		else if (action == NULL)
			action = argv[i];
		else
			return sudo_usage("too many arguments");
	}
	if (action == NULL)
		return sudo_usage("missing enable, disable or status");
	if (strcmp(action, "enable") != 0 && strcmp(action, "disable") != 0 &&
	    strcmp(action, "status") != 0)
		return sudo_usage("sudo needs enable, disable or status");
	if (!ssmctl_user_name_ok(user)) {
		fprintf(stderr, "ssmctl: refusing user name \"%.40s\": not [a-z_][a-z0-9_-]{0,31}\n",
			user);
		return SSMCTL_USAGE;
	}
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		int e = errno == ENOENT || errno == ESRCH ? 0 : errno; /* "not found" */

		fprintf(stderr, "ssmctl: no such user \"%s\"%s%s\n", user, e ? ": " : "",
			e ? strerror(e) : "");
		return SSMCTL_USAGE;
	}
	uid = pw->pw_uid;
	if (strcmp(action, "status") == 0)
		return sudo_status(user);

	dirfd = open(SSMCTL_SUDOERS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "ssmctl: cannot open %s: %s\n", SSMCTL_SUDOERS_DIR, strerror(errno));
		ret = SSMCTL_REFUSED;
		goto out;
	}
	if (flock(dirfd, LOCK_EX) != 0) {
		fprintf(stderr, "ssmctl: cannot lock %s: %s\n", SSMCTL_SUDOERS_DIR, strerror(errno));
		ret = SSMCTL_REFUSED;
		goto out;
	}
	/* Rules in a file that is not root's or is group/world-writable are not in force
	 * (sudo ignores such a file); carrying them into our fresh root 0440 file would put
	 * them in force.  So enable and disable take the old content only from a trusted
	 * file, and otherwise leave it alone. */
	r = ssm_read_file(path, SUDOERS_MAX, SSM_FILE_NOFOLLOW | SSM_FILE_TRUSTED, &old, &oldlen,
			  err, sizeof(err));
	if (r < 0 && r != -ENOENT) {
		fprintf(stderr, "ssmctl: %s; %s unchanged\n", err, path);
		ret = SSMCTL_REFUSED;
		goto out;
	}

	/* Room for the old text, a newline it may lack, the header and the grant (oldlen is at
	 * most SUDOERS_MAX and the user name at most 32 characters: no overflow). */
	outsz = oldlen + 1 + sizeof(SUDOERS_HEADER) + strlen(user) + sizeof(SUDOERS_GRANT);
	out = malloc(outsz);
	if (out == NULL) {
		fprintf(stderr, "ssmctl: out of memory\n");
		ret = SSMCTL_REFUSED;
		goto out;
	}
	/* enable: copy every line, note whether the user's grant line is there.
	 * disable: copy only the lines proven to grant the user nothing, say what is dropped. */
	/* by length, not NUL: a NUL byte is part of a line (never one ssmctl keeps) */
	for (p = old, oldend = old ? old + oldlen : NULL; p != NULL && p < oldend; p = end) {
		size_t len, tlen, j;
		enum line_kind k;

		end = memchr(p, '\n', (size_t)(oldend - p));
		end = end ? end + 1 : oldend;
		len = (size_t)(end - p);
		tlen = p[len - 1] == '\n' ? len - 1 : len; /* without the newline */
		lineno++;
		k = classify(p, tlen, continued, user, uid);
		/* a backslash at the end (blanks or a CR after it too, to be safe) continues it */
		for (j = tlen; j > 0 && (p[j - 1] == ' ' || p[j - 1] == '\t' || p[j - 1] == '\r'); j--)
			;
		continued = j > 0 && p[j - 1] == '\\';
		if (strcmp(action, "disable") == 0) {
			if (k == LINE_GRANT_USER)
				print_dropped(lineno, "grants the user", p, tlen);
			else if (k == LINE_OTHER)
				print_dropped(lineno, "not a line ssmctl writes; may grant the user",
					      p, tlen);
			if (k == LINE_GRANT_USER || k == LINE_OTHER || k == LINE_BLANK)
				continue;
		} else if (k == LINE_GRANT_USER && strncmp(p, user, strlen(user)) == 0 &&
			   p[strlen(user)] == ' ') {
			have = 1;
		}
		if (k == LINE_GRANT_OTHER)
			grants++;
		memcpy(out + olen, p, tlen);
		olen += tlen;
		out[olen++] = '\n';
	}

	if (strcmp(action, "enable") == 0) {
		if (have) {
			printf("passwordless sudo already enabled for %s\n", user);
			ret = SSMCTL_OK;
			goto out;
		}
		if (olen == 0) {
			memcpy(out, SUDOERS_HEADER, sizeof(SUDOERS_HEADER) - 1);
			olen = sizeof(SUDOERS_HEADER) - 1;
		}
		n = snprintf(out + olen, outsz - olen, "%s" SUDOERS_GRANT, user);
		if (n < 0 || (size_t)n >= outsz - olen) {
			/* cannot happen with the size above; never write a cut line */
			fprintf(stderr, "ssmctl: internal error sizing %s, unchanged\n", path);
			ret = SSMCTL_REFUSED;
			goto out;
		}
		olen += (size_t)n;
		r = replace_file(dirfd, out, olen);
		ret = r < 0 ? SSMCTL_REFUSED : SSMCTL_OK;
		if (r == 0)
			printf("passwordless sudo enabled for %s\n", user);
		goto out;
	}
	/* disable */
	if (old == NULL || (olen == oldlen && memcmp(out, old, olen) == 0)) {
		r = 0; /* nothing to drop */
	} else if (grants == 0) {
		/* no grant left in the file: remove it */
		r = unlinkat(dirfd, SSMCTL_SUDOERS_FILE, 0);
		if (r != 0)
			fprintf(stderr, "ssmctl: cannot remove %s: %s\n", path, strerror(errno));
		else
			(void)fsync(dirfd);
	} else {
		r = replace_file(dirfd, out, olen);
	}
	if (r != 0) {
		ret = SSMCTL_REFUSED;
		goto out;
	}
	ret = check_none_left(user, path);
	if (ret == SSMCTL_OK)
		printf("passwordless sudo disabled for %s: sudo grants it no rules\n", user);
out:
	free(out);
	free(old);
	if (dirfd >= 0)
		close(dirfd); /* releases the lock */
	return ret;
}
