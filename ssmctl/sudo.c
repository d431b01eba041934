/* sudo.c - `ssmctl sudo enable|disable|status [--user NAME]` (SPEC section 7).
 *
 * /etc/sudoers.d/ssm-agent-users holds one line per user:
 *     NAME ALL=(ALL:ALL) NOPASSWD:ALL
 * Lines ssmctl does not manage (comments, other rules) are kept as they are.
 *
 * Never written in place: the new content goes to a temp file in the same directory
 * (its name has a '.', so sudo's #includedir ignores it), created root-owned 0440,
 * fsync'ed, checked with `visudo -cf`, then rename(2)d over the old file and the
 * directory fsync'ed.  An flock on the directory serialises concurrent ssmctl runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "ssmctl.h"

#define SUDOERS_MAX (256 * 1024)
#define SUDOERS_HEADER "# Managed by ssmctl sudo: passwordless sudo for Session Manager users.\n"
#define SUDOERS_GRANT " ALL=(ALL:ALL) NOPASSWD:ALL\n"

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

/* Does this line grant something to user (its first word is the user name)? */
static int line_is_user(const char *line, size_t len, const char *user)
{
	size_t ulen = strlen(user);

	return len > ulen && memcmp(line, user, ulen) == 0 &&
	       (line[ulen] == ' ' || line[ulen] == '\t');
}

/* Run visudo -cf path; 0 if it accepts the file. */
static int visudo_check(const char *path)
{
	char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
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
		execle(SSMCTL_VISUDO, "visudo", "-c", "-f", path, (char *)NULL, envp);
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

int ssmctl_sudo(int argc, char **argv)
{
	const char *path = SSMCTL_SUDOERS_DIR "/" SSMCTL_SUDOERS_FILE;
	const char *user = SSMCTL_DEFAULT_SUDO_USER, *action = NULL;
	char *old = NULL, *out = NULL, err[512] = "";
	size_t oldlen = 0, olen = 0, outsz, keep_lines = 0;
	int dirfd = -1, have = 0, ret, r, i, n;
	const char *p, *end;

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

	dirfd = open(SSMCTL_SUDOERS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "ssmctl: cannot open %s: %s\n", SSMCTL_SUDOERS_DIR, strerror(errno));
		ret = SSMCTL_REFUSED;
		goto out;
	}
	if (strcmp(action, "status") != 0 && flock(dirfd, LOCK_EX) != 0) {
		fprintf(stderr, "ssmctl: cannot lock %s: %s\n", SSMCTL_SUDOERS_DIR, strerror(errno));
		ret = SSMCTL_REFUSED;
		goto out;
	}
	/* Rules in a file that is not root's or is group/world-writable are not in force
	 * (sudo ignores such a file); carrying them into our fresh root 0440 file would put
	 * them in force.  So enable and disable take the old content only from a trusted
	 * file, and otherwise leave it alone. */
	r = ssm_read_file(path, SUDOERS_MAX,
			  SSM_FILE_NOFOLLOW | (strcmp(action, "status") != 0 ? SSM_FILE_TRUSTED : 0),
			  &old, &oldlen, err, sizeof(err));
	if (r < 0 && r != -ENOENT) {
		fprintf(stderr, "ssmctl: %s; %s unchanged\n", err, path);
		ret = SSMCTL_REFUSED;
		goto out;
	}

	/* copy every line except the user's; note whether the user has one.  Room for the
	 * old text, a newline it may lack, the header and the grant (oldlen is at most
	 * SUDOERS_MAX and the user name at most 32 characters: no overflow). */
	outsz = oldlen + 1 + sizeof(SUDOERS_HEADER) + strlen(user) + sizeof(SUDOERS_GRANT);
	out = malloc(outsz);
	if (out == NULL) {
		fprintf(stderr, "ssmctl: out of memory\n");
		ret = SSMCTL_REFUSED;
		goto out;
	}
	for (p = old ? old : ""; *p != '\0'; p = end) {
		size_t len;

		end = strchr(p, '\n');
		end = end ? end + 1 : p + strlen(p);
		len = (size_t)(end - p);
		if (line_is_user(p, len, user)) {
			have = 1;
			continue;
		}
		memcpy(out + olen, p, len);
		olen += len;
		if (p[len - 1] != '\n')
			out[olen++] = '\n';
		if (p[0] != '#' && p[0] != '\n')
			keep_lines++;
	}

	if (strcmp(action, "status") == 0) {
		printf("%s\n", have ? "enabled" : "disabled");
		ret = SSMCTL_OK;
		goto out;
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
	if (!have) {
		printf("passwordless sudo already disabled for %s\n", user);
		ret = SSMCTL_OK;
		goto out;
	}
	if (keep_lines == 0) {
		/* nothing else granted in the file: remove it */
		if (unlinkat(dirfd, SSMCTL_SUDOERS_FILE, 0) != 0) {
			fprintf(stderr, "ssmctl: cannot remove %s: %s\n", path, strerror(errno));
			ret = SSMCTL_REFUSED;
			goto out;
		}
		(void)fsync(dirfd);
		r = 0;
	} else {
		r = replace_file(dirfd, out, olen);
	}
	ret = r < 0 ? SSMCTL_REFUSED : SSMCTL_OK;
	if (r == 0)
		printf("passwordless sudo disabled for %s\n", user);
out:
	free(out);
	free(old);
	if (dirfd >= 0)
		close(dirfd); /* releases the lock */
	return ret;
}
