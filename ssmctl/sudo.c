/* sudo.c - `ssmctl sudo enable [--for DURATION]|disable|status|expire [--user NAME]`
 * (SPEC section 7).
 *
 * /etc/sudoers.d/ssm-agent-users holds one line per user, permanent or timed:
 *     NAME ALL=(ALL:ALL) NOPASSWD:ALL
 *     NAME ALL=(ALL:ALL) NOTAFTER=YYYYMMDDHHMMSSZ NOPASSWD:ALL
 * A timed grant is sudo's own NOTAFTER option: sudo stops honouring it at the deadline
 * whether or not anything runs, across reboots.  `expire` (run by a systemd timer) only
 * removes lapsed lines from the file and writes their `sudo_lapsed` audit events.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "ssmctl.h"

#define SUDOERS_MAX (256 * 1024)
#define SUDO_LIST_MAX (64 * 1024)
#define SUDOERS_D_FILES_MAX 64
#define SUDOERS_HEADER "# Managed by ssmctl sudo: passwordless sudo for Session Manager users.\n"
#define SUDOERS_GRANT " ALL=(ALL:ALL) NOPASSWD:ALL\n"
#define SUDOERS_TIMED " ALL=(ALL:ALL) NOTAFTER="     /* then YYYYMMDDHHMMSS */
#define SUDOERS_TIMED_TAIL "Z NOPASSWD:ALL\n"
#define SUDO_FOR_MAX (30 * 86400)   /* --for at most 30 days */
#define SUDO_LAPSED_MAX 256         /* lapsed lines audited per expire run */

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

/* "YYYYMMDDHHMMSS" (exactly 14 digits, UTC) to seconds since the epoch; -1 if it is not a
 * real time written that way (round trip through gmtime). */
static int64_t parse_gentime(const char *s, size_t len)
{
	struct tm tm, back;
	time_t t;
	size_t i;
	char again[16];

	if (len != 14)
		return -1;
	for (i = 0; i < 14; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') -
		     1900;
	tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
	tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
	tm.tm_hour = (s[8] - '0') * 10 + (s[9] - '0');
	tm.tm_min = (s[10] - '0') * 10 + (s[11] - '0');
	tm.tm_sec = (s[12] - '0') * 10 + (s[13] - '0');
	t = timegm(&tm);
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    strftime(again, sizeof(again), "%Y%m%d%H%M%S", &back) != 14 ||
	    memcmp(again, s, 14) != 0)
		return -1;
	return (int64_t)t;
}

/* Classify one line (without its newline) of the managed file for user (uid).  continued:
 * the previous line ended in a backslash, so this one is part of it and proves nothing.
 * sudo matches a plain name in a user list by the name only, and names here are lower case,
 * so a grant line for another name grants user nothing (unless both names have one uid).
 * For a grant line, *until gets its NOTAFTER time (0: permanent) and name its user name. */
static enum line_kind classify(const char *line, size_t len, int continued, const char *user,
			       uid_t uid, int64_t *until, char name[33])
{
	size_t i, tail = sizeof(SUDOERS_GRANT) - 2; /* without the newline and the NUL */
	size_t ttail = sizeof(SUDOERS_TIMED) - 1 + 14 + sizeof(SUDOERS_TIMED_TAIL) - 2;
	size_t nlen;
	struct passwd *pw;

	*until = 0;
	name[0] = '\0';
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len)
		return LINE_BLANK;
	if (continued || memchr(line, '\0', len) != NULL)
		return LINE_OTHER;
	if (line[0] == '#' && (len == 1 || line[1] == ' ' || line[1] == '\t') &&
	    line[len - 1] != '\\')
		return LINE_COMMENT;
	nlen = strcspn(line, " ");
	if (nlen == 0 || nlen > 32 || nlen >= len)
		return LINE_OTHER;
	if (len - nlen == tail && memcmp(line + nlen, SUDOERS_GRANT, tail) == 0) {
		*until = 0;
	} else if (len - nlen == ttail &&
		   memcmp(line + nlen, SUDOERS_TIMED, sizeof(SUDOERS_TIMED) - 1) == 0 &&
		   memcmp(line + len - (sizeof(SUDOERS_TIMED_TAIL) - 2), SUDOERS_TIMED_TAIL,
			  sizeof(SUDOERS_TIMED_TAIL) - 2) == 0) {
		*until = parse_gentime(line + nlen + sizeof(SUDOERS_TIMED) - 1, 14);
		if (*until <= 0) {
			*until = 0;
			return LINE_OTHER;
		}
	} else {
		return LINE_OTHER;
	}
	memcpy(name, line, nlen);
	name[nlen] = '\0';
	if (!ssmctl_user_name_ok(name)) {
		*until = 0;
		name[0] = '\0';
		return LINE_OTHER;
	}
	if (user == NULL)
		return LINE_GRANT_OTHER;
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
static void src_out(FILE *f, cJSON *arr, const char *prefix, const char *fmt, ...)
	SSM_PRINTF(4, 5);
static void src_out(FILE *f, cJSON *arr, const char *prefix, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (arr != NULL)
		cJSON_AddItemToArray(arr, cJSON_CreateString(text));
	else
		fprintf(f, "%s%s\n", prefix, text);
}

/* As above; with arr, each source is added to it as a string instead of printed. */
static void print_sources(FILE *f, cJSON *arr, const char *prefix, const char *user)
{
	char empty[] = SSMCTL_SUDOERS_DIR "/.ssmctl-empty.XXXXXX";
	char *paths[SUDOERS_D_FILES_MAX], *hide[SUDOERS_D_FILES_MAX];
	size_t n = 0, i, j, nhide, found = 0;
	DIR *d = NULL;
	struct dirent *de;
	int fd, r, unknown = 0;

	fd = mkstemp(empty);
	if (fd < 0 || fchown(fd, 0, 0) != 0 || fchmod(fd, 0440) != 0) {
		src_out(f, arr, prefix, "unknown (cannot create an empty file in %s: %s)",
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
		src_out(f, arr, prefix, "unknown (cannot list %s, or more than %d files)",
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
			src_out(f, arr, prefix, "%s", "unknown (sudo does not answer with files "
				"hidden: no mount namespace?)");
			goto out;
		}
		if (r == 1) {
			src_out(f, arr, prefix, "%s", i < n ? paths[i] : SSMCTL_SUDOERS);
			found++;
		}
	}
	if (found == 0)
		src_out(f, arr, prefix, "%s", "no single file: several files together (an alias "
			"in one, the rule in another?)");
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
	fprintf(stderr, "ssmctl: %s\nusage: ssmctl sudo enable [--for DURATION] [--user NAME]\n"
			"       ssmctl sudo disable|status [--json] [--user NAME]\n"
			"       ssmctl sudo expire\n",
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
		print_sources(stderr, NULL, "ssmctl: granted by ", user);
		free(rules);
		return SSMCTL_REFUSED;
	}
	return SSMCTL_OK;
}

/* What sudo's listing of user's rules (the lines after "User U may run ...") says about time:
 * a rule (a line indented by 4, with its continuation lines) whose options, right after its
 * Runas part, are NOTAFTER=YYYYMMDDHHMMSSZ (possibly with NOTBEFORE=) in the past is lapsed
 * (sudo lists such rules but no longer honours them); one with NOTBEFORE in the future is not
 * in force yet.  Every other rule is counted in force, with no time limit.
 * *in_force: rules in force; *permanent: one of them has no NOTAFTER; *until: the latest
 * NOTAFTER of those in force; *lapsed: the latest NOTAFTER of the lapsed rules (0: none). */
static int64_t rule_time(const char *rule, size_t len, const char *opt)
{
	size_t olen = strlen(opt);
	const char *p = rule, *end = rule + len;

	while (p < end && (p = memchr(p, opt[0], (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) > olen + 15 && memcmp(p, opt, olen) == 0 &&
		    (p == rule || p[-1] == ' ') && p[olen + 14] == 'Z')
			return parse_gentime(p + olen, 14);
		p++;
	}
	return 0; /* not there */
}

static size_t count_in(const char *p, size_t len, const char *what)
{
	size_t n = 0, wl = strlen(what);
	const char *end = p + len;

	while ((p = memmem(p, (size_t)(end - p), what, wl)) != NULL) {
		n++;
		p += wl;
	}
	return n;
}

static void rules_time(const char *rules, int64_t now, int *in_force, int *permanent,
		       int64_t *until, int64_t *lapsed)
{
	const char *line = rules, *next, *end;

	*in_force = 0;
	*permanent = 0;
	*until = 0;
	*lapsed = 0;
	while (line != NULL && *line != '\0') {
		int64_t na, nb;
		size_t len;
		const char *close;

		/* one rule: this line and the lines indented deeper */
		if (strncmp(line, "    ", 4) != 0 || line[4] == ' ') {
			next = strchr(line, '\n');
			line = next ? next + 1 : NULL;
			continue;
		}
		end = line;
		do {
			next = strchr(end, '\n');
			end = next ? next + 1 : end + strlen(end);
		} while (*end != '\0' && strncmp(end, "     ", 5) == 0);
		len = (size_t)(end - line);
		close = memchr(line, ')', len);
		na = rule_time(line, len, "NOTAFTER=");
		nb = rule_time(line, len, "NOTBEFORE=");
		/* only "    (RUNAS) NOTBEFORE=.. NOTAFTER=.. ..." forms are read as timed;
		 * anything else (a date on one command of several, a date sudo wrote otherwise)
		 * counts as a rule in force without limit */
		/* a later command of the same rule may set the option again (sudo honours the
		 * last one for it): a rule with several commands or dates is not read as timed */
		if (line[4] != '(' || close == NULL || na < 0 || nb < 0 ||
		    memchr(line, ',', len) != NULL || count_in(line, len, "NOTAFTER=") > 1 ||
		    count_in(line, len, "NOTBEFORE=") > 1 ||
		    (na > 0 && strncmp(close + 1, " NOTAFTER=", 10) != 0 &&
		     strncmp(close + 1, " NOTBEFORE=", 11) != 0)) {
			na = 0;
			nb = 0;
		}
		if (na > 0 && now > na) {
			if (na > *lapsed)
				*lapsed = na;
		} else if (nb > 0 && now < nb) {
			; /* not yet */
		} else {
			(*in_force)++;
			if (na == 0)
				*permanent = 1;
			else if (na > *until)
				*until = na;
		}
		line = end;
	}
}

static void print_left(int64_t secs)
{
	if (secs >= 86400)
		printf("%lldd", (long long)(secs / 86400));
	if (secs >= 3600)
		printf("%lldh", (long long)(secs % 86400 / 3600));
	if (secs >= 60)
		printf("%lldm", (long long)(secs % 3600 / 60));
	printf("%llds", (long long)(secs % 60));
}

static int sudo_status(const char *user, int json)
{
	char *rules = NULL, when[32];
	int r = sudo_lists(user, NULL, 0, NULL, &rules), in_force = 0, permanent = 0;
	int64_t now = ssm_now(), until = 0, lapsed = 0;
	cJSON *o = NULL, *src = NULL;
	char *text;

	if (r < 0) {
		fprintf(stderr, "ssmctl: cannot tell: `%s -n -l -U %s` failed or said something "
				"else than expected\n",
			SSMCTL_SUDO, user);
		return SSMCTL_REFUSED;
	}
	if (r == 1)
		rules_time(rules ? rules : "", now, &in_force, &permanent, &until, &lapsed);
	if (json) {
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddStringToObject(o, "user", user) ||
		    !cJSON_AddBoolToObject(o, "enabled", in_force > 0)) {
			fprintf(stderr, "ssmctl: out of memory\n");
			cJSON_Delete(o);
			free(rules);
			return SSMCTL_REFUSED;
		}
		ssm_rfc3339(until, when);
		if (in_force > 0 && !permanent && until > 0) {
			cJSON_AddStringToObject(o, "until", when);
			cJSON_AddNumberToObject(o, "remaining_seconds", (double)(until - now));
		} else {
			cJSON_AddNullToObject(o, "until");
			cJSON_AddNullToObject(o, "remaining_seconds");
		}
		if (lapsed > 0) {
			ssm_rfc3339(lapsed, when);
			cJSON_AddStringToObject(o, "lapsed_until", when);
		} else {
			cJSON_AddNullToObject(o, "lapsed_until");
		}
		src = cJSON_AddArrayToObject(o, "sources");
		if (r == 1 && src != NULL)
			print_sources(NULL, src, "", user);
		cJSON_AddStringToObject(o, "rules", r == 1 && rules ? rules : "");
		text = cJSON_PrintUnformatted(o);
		if (text != NULL)
			printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(o);
		free(rules);
		return text != NULL ? SSMCTL_OK : SSMCTL_REFUSED;
	}
	if (in_force == 0) {
		printf("disabled\n");
		if (lapsed > 0) {
			ssm_rfc3339(lapsed, when);
			printf("lapsed at %s: sudo no longer honours it (`ssmctl sudo expire` removes "
			       "it from the file)\n", when);
		}
		free(rules);
		return SSMCTL_OK;
	}
	printf("enabled\n");
	if (permanent) {
		printf("no time limit\n");
	} else {
		ssm_rfc3339(until, when);
		printf("until %s (", when);
		print_left(until - now);
		printf(" left)\n");
	}
	print_sources(stdout, NULL, "granted by ", user);
	printf("rules (sudo -l -U %s):\n%s", user, rules ? rules : "");
	free(rules);
	return SSMCTL_OK;
}

/* "30m", "2h", "1d", "90" or "90s": 1 second to SUDO_FOR_MAX.  -1 if not that. */
static int64_t parse_duration(const char *s)
{
	int64_t v = 0, mul = 1;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (s[i] - '0');
		if (v > SUDO_FOR_MAX)
			return -1;
	}
	if (i == 0)
		return -1;
	if (s[i] == 's')
		mul = 1;
	else if (s[i] == 'm')
		mul = 60;
	else if (s[i] == 'h')
		mul = 3600;
	else if (s[i] == 'd')
		mul = 86400;
	else if (s[i] != '\0')
		return -1;
	if (s[i] != '\0' && s[i + 1] != '\0')
		return -1;
	v *= mul;
	return v >= 1 && v <= SUDO_FOR_MAX ? v : -1;
}

/* The audit log of the configuration (ssmctl_config_path): fd, with *pcfg loaded; or -1
 * after saying why on standard error (as an error when required, else as a warning). */
static int audit_open(struct ssm_config **pcfg, int required)
{
	char err[512] = "";
	int r, fd;

	*pcfg = NULL;
	r = ssm_config_load(ssmctl_config_path, pcfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ssmctl: %s: configuration unusable, so no audit log: %s\n",
			required ? "error" : "warning", err[0] ? err : strerror(-r));
		return -1;
	}
	fd = ssm_audit_open((*pcfg)->log_dir);
	if (fd < 0) {
		fprintf(stderr, "ssmctl: %s: cannot open the audit log in %s: %s\n",
			required ? "error" : "warning", (*pcfg)->log_dir, strerror(-fd));
		ssm_config_free(*pcfg);
		*pcfg = NULL;
		return -1;
	}
	return fd;
}

/* Write one sudo event: user, until (RFC 3339, or null: no time limit) when until >= 0,
 * seconds when > 0, by_uid when by_uid.  0 or -1 (said on standard error). */
static int audit_sudo(int fd, const struct ssm_config *cfg, const char *event, const char *user,
		      int64_t until, int64_t seconds, int by_uid)
{
	cJSON *extra = cJSON_CreateObject();
	char when[32];
	int r = -ENOMEM;

	if (extra != NULL && cJSON_AddStringToObject(extra, "user", user) != NULL) {
		r = 0;
		if (until > 0) {
			ssm_rfc3339(until, when);
			if (cJSON_AddStringToObject(extra, "until", when) == NULL)
				r = -ENOMEM;
		} else if (until == 0 && cJSON_AddNullToObject(extra, "until") == NULL) {
			r = -ENOMEM;
		}
		if (seconds > 0 && cJSON_AddNumberToObject(extra, "seconds", (double)seconds) == NULL)
			r = -ENOMEM;
		if (by_uid && cJSON_AddNumberToObject(extra, "by_uid", (double)getuid()) == NULL)
			r = -ENOMEM;
		if (r == 0)
			r = ssm_audit_write_fd(fd, ssm_now(), cfg->host_id, event, NULL, extra);
	}
	cJSON_Delete(extra);
	if (r < 0)
		fprintf(stderr, "ssmctl: cannot write the %s audit event for %s: %s\n", event, user,
			strerror(-r));
	return r < 0 ? -1 : 0;
}

int ssmctl_sudo(int argc, char **argv)
{
	const char *path = SSMCTL_SUDOERS_DIR "/" SSMCTL_SUDOERS_FILE;
	const char *user = SSMCTL_DEFAULT_SUDO_USER, *action = NULL, *forarg = NULL;
	char *old = NULL, *out = NULL, err[512] = "";
	size_t oldlen = 0, olen = 0, outsz, grants = 0, others = 0, lineno = 0, nlapsed = 0;
	int dirfd = -1, have = 0, continued = 0, json = 0, afd = -1, ret, r, i, n;
	int64_t now = ssm_now(), secs = 0, until = 0;
	struct ssm_config *acfg = NULL;
	struct {
		char name[33];
		int64_t until;
	} *lapsed = NULL;
	const char *p, *end, *oldend;
	struct passwd *pw;
	uid_t uid = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strncmp(argv[i], "--user=", 7) == 0)
			user = argv[i] + 7;
		else if (strcmp(argv[i], "--for") == 0 && i + 1 < argc)
			forarg = argv[++i];
		else if (strncmp(argv[i], "--for=", 6) == 0)
			forarg = argv[i] + 6;
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			ssmctl_config_path = argv[++i]; /* where the audit log is */
		else if (strncmp(argv[i], "--config=", 9) == 0)
			ssmctl_config_path = argv[i] + 9;
		else if (argv[i][0] == '-')
			return sudo_usage("unknown option or missing value");
		else if (action == NULL)
			action = argv[i];
		else
			return sudo_usage("too many arguments");
	}
	if (action == NULL)
		return sudo_usage("missing enable, disable, status or expire");
	if (strcmp(action, "enable") != 0 && strcmp(action, "disable") != 0 &&
	    strcmp(action, "status") != 0 && strcmp(action, "expire") != 0)
		return sudo_usage("sudo needs enable, disable, status or expire");
	if (forarg != NULL && strcmp(action, "enable") != 0)
		return sudo_usage("--for goes with enable only");
	if (json && strcmp(action, "status") != 0)
		return sudo_usage("--json goes with status only");
	if (forarg != NULL) {
		secs = parse_duration(forarg);
		if (secs < 0)
			return sudo_usage("--for needs a duration of 1s to 30d: N, Ns, Nm, Nh or Nd");
		until = now + secs;
	}
	if (strcmp(action, "expire") == 0) {
		user = NULL; /* every user's lapsed lines */
	} else {
		if (!ssmctl_user_name_ok(user)) {
			fprintf(stderr, "ssmctl: refusing user name \"%.40s\": not "
					"[a-z_][a-z0-9_-]{0,31}\n", user);
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
			return sudo_status(user, json);
	}
	/* every grant and every lapse must be audited: no audit log, no grant (a revoke
	 * still goes ahead, with a warning: refusing it would keep the access) */
	{
		int need = strcmp(action, "enable") == 0 || user == NULL;

		afd = audit_open(&acfg, need);
		if (afd < 0 && need)
			return SSMCTL_USAGE;
	}

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
	outsz = oldlen + 1 + sizeof(SUDOERS_HEADER) + 33 + sizeof(SUDOERS_TIMED) + 14 +
		sizeof(SUDOERS_TIMED_TAIL);
	out = malloc(outsz);
	lapsed = calloc(SUDO_LAPSED_MAX, sizeof(*lapsed));
	if (out == NULL || lapsed == NULL) {
		fprintf(stderr, "ssmctl: out of memory\n");
		ret = SSMCTL_REFUSED;
		goto out;
	}
	/* enable: copy every line but the user's own grant lines (replaced by the new one),
	 * note whether the user's permanent grant line is there.
	 * disable: copy only the lines proven to grant the user nothing, say what is dropped.
	 * expire: copy every line but the grant lines whose NOTAFTER has passed. */
	/* by length, not NUL: a NUL byte is part of a line (never one ssmctl keeps) */
	for (p = old, oldend = old ? old + oldlen : NULL; p != NULL && p < oldend; p = end) {
		size_t len, tlen, j;
		enum line_kind k;
		int64_t lu;
		char lname[33];

		end = memchr(p, '\n', (size_t)(oldend - p));
		end = end ? end + 1 : oldend;
		len = (size_t)(end - p);
		tlen = p[len - 1] == '\n' ? len - 1 : len; /* without the newline */
		lineno++;
		k = classify(p, tlen, continued, user, uid, &lu, lname);
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
		} else if (strcmp(action, "expire") == 0) {
			if (k == LINE_GRANT_OTHER && lu > 0 && now > lu) {
				if (nlapsed < SUDO_LAPSED_MAX) {
					memcpy(lapsed[nlapsed].name, lname, sizeof(lname));
					lapsed[nlapsed].until = lu;
					nlapsed++;
					continue;
				}
				/* more than we audit in one run: kept for the next run */
			}
			if (k == LINE_OTHER)
				others++;
		} else if (k == LINE_GRANT_USER && strcmp(lname, user) == 0) {
			if (lu == 0 && forarg == NULL)
				have = 1;
			else
				continue; /* replaced by the new grant */
		}
		if (k == LINE_GRANT_OTHER)
			grants++;
		memcpy(out + olen, p, tlen);
		olen += tlen;
		out[olen++] = '\n';
	}

	if (strcmp(action, "expire") == 0) {
		size_t e;

		if (nlapsed == 0) {
			printf("no lapsed grant\n");
			ret = SSMCTL_OK;
			goto out;
		}
		if (grants == 0 && others == 0) {
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
		ret = SSMCTL_OK;
		for (e = 0; e < nlapsed; e++) {
			char when[32];

			ssm_rfc3339(lapsed[e].until, when);
			printf("removed the grant of %s that lapsed at %s\n", lapsed[e].name, when);
			if (audit_sudo(afd, acfg, "sudo_lapsed", lapsed[e].name, lapsed[e].until, 0,
				       0) < 0)
				ret = SSMCTL_REFUSED;
		}
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
		if (forarg == NULL) {
			n = snprintf(out + olen, outsz - olen, "%s" SUDOERS_GRANT, user);
		} else {
			char stamp[16];
			time_t t = (time_t)until;
			struct tm tm;

			if (gmtime_r(&t, &tm) == NULL ||
			    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) != 14) {
				fprintf(stderr, "ssmctl: cannot write the deadline\n");
				ret = SSMCTL_REFUSED;
				goto out;
			}
			n = snprintf(out + olen, outsz - olen,
				     "%s" SUDOERS_TIMED "%s" SUDOERS_TIMED_TAIL, user, stamp);
		}
		if (n < 0 || (size_t)n >= outsz - olen) {
			/* cannot happen with the size above; never write a cut line */
			fprintf(stderr, "ssmctl: internal error sizing %s, unchanged\n", path);
			ret = SSMCTL_REFUSED;
			goto out;
		}
		olen += (size_t)n;
		r = replace_file(dirfd, out, olen);
		ret = r < 0 ? SSMCTL_REFUSED : SSMCTL_OK;
		if (r == 0) {
			if (forarg == NULL) {
				printf("passwordless sudo enabled for %s\n", user);
			} else {
				char when[32];

				ssm_rfc3339(until, when);
				printf("passwordless sudo enabled for %s until %s (sudo stops "
				       "honouring it then by itself)\n", user, when);
			}
			if (afd >= 0 && audit_sudo(afd, acfg, "sudo_granted", user,
						   forarg ? until : 0, secs, 1) < 0)
				ret = SSMCTL_REFUSED;
		}
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
	if (old != NULL && !(olen == oldlen && memcmp(out, old, olen) == 0) && afd >= 0)
		(void)audit_sudo(afd, acfg, "sudo_revoked", user, -1, 0, 1);
	ret = check_none_left(user, path);
	if (ret == SSMCTL_OK)
		printf("passwordless sudo disabled for %s: sudo grants it no rules\n", user);
out:
	free(lapsed);
	free(out);
	free(old);
	if (dirfd >= 0)
		close(dirfd); /* releases the lock */
	if (afd >= 0)
		close(afd);
	ssm_config_free(acfg);
	return ret;
}
