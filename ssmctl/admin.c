/* admin.c - `ssmctl user ensure` and `ssmctl config check` (SPEC section 7).
 *
 * user ensure: the run-as user as AWS's agent makes ssm-user (a home directory under /home,
 * its own group), but with ssm-shell as the login shell and no sudo unless the host says so
 * (ssm_user_sudo, or --sudo).  Accounts are made and changed by useradd(8)/usermod(8), run by
 * absolute path with a fixed environment; ssmctl never edits /etc/passwd itself.
 *
 * config check: everything pam_ssmsession and ssm-shell would refuse or trip over, each
 * problem named (the check goes on after one). */
#include "config.h" /* lib/config.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "document.h"
#include "jwk.h"
#include "log.h"
#include "seccomp_policy.h"
#include "util.h"
#include "ssmctl.h"

#ifndef SSM_BINDIR
#define SSM_BINDIR "/usr/bin"
#endif
#define SSM_SHELL_PATH SSM_BINDIR "/ssm-shell"
#define USERADD "/usr/sbin/useradd"
#define USERMOD "/usr/sbin/usermod"
#define SHELLS_FILE "/etc/shells"
#define HOME_BASE "/home"

static char *const clean_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };

/* Run argv[0] (an absolute path) with clean_env; its exit status, or -1. */
static int run(char *const argv[])
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execve(argv[0], argv, clean_env);
		fprintf(stderr, "ssmctl: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------ user ensure */

static int user_usage(const char *msg)
{
	fprintf(stderr, "ssmctl: %s\nusage: ssmctl [--config PATH] user ensure [--user NAME] "
			"[--sudo|--no-sudo] [--force]\n", msg);
	return SSMCTL_USAGE;
}

int ssmctl_user(int argc, char **argv)
{
	const char *user = SSMCTL_DEFAULT_SUDO_USER, *action = NULL;
	int sudo = -1, force = 0, i, r, ret = SSMCTL_OK, want_sudo;
	char home[sizeof(HOME_BASE) + 40], err[512] = "";
	struct ssm_config *cfg = NULL;
	struct passwd *pw;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strncmp(argv[i], "--user=", 7) == 0)
			user = argv[i] + 7;
		else if (strcmp(argv[i], "--sudo") == 0)
			sudo = 1;
		else if (strcmp(argv[i], "--no-sudo") == 0)
			sudo = 0;
		else if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			ssmctl_config_path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			ssmctl_config_path = argv[i] + 9;
		else if (argv[i][0] == '-')
			return user_usage("unknown option or missing value");
		else if (action == NULL)
			action = argv[i];
		else
			return user_usage("too many arguments");
	}
	if (action == NULL || strcmp(action, "ensure") != 0)
		return user_usage("user needs: ensure");
	if (!ssmctl_user_name_ok(user)) {
		fprintf(stderr, "ssmctl: refusing user name \"%.40s\": not [a-z_][a-z0-9_-]{0,31}\n",
			user);
		return SSMCTL_USAGE;
	}
	/* the configuration: ssm_user_sudo and run_as_allowed; a host without one yet (the
	 * user is often made first) gets the defaults */
	r = ssm_config_load(ssmctl_config_path, &cfg, err, sizeof(err));
	if (r == -ENOENT) {
		fprintf(stderr, "ssmctl: note: no configuration %s: using the defaults "
				"(ssm_user_sudo false)\n", ssmctl_config_path);
	} else if (r < 0) {
		fprintf(stderr, "ssmctl: configuration unusable: %s\n", err[0] ? err : strerror(-r));
		return SSMCTL_USAGE;
	}
	want_sudo = sudo >= 0 ? sudo : (cfg != NULL && cfg->ssm_user_sudo);
	snprintf(home, sizeof(home), "%s/%s", HOME_BASE, user);

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL && errno != 0 && errno != ENOENT && errno != ESRCH) {
		fprintf(stderr, "ssmctl: cannot look up %s: %s\n", user, strerror(errno));
		ret = SSMCTL_REFUSED;
		goto out;
	}
	if (pw == NULL) {
		char *const av[] = { USERADD, "--create-home", "--home-dir", home, "--shell",
				     SSM_SHELL_PATH, "--user-group", "--no-log-init", "--comment",
				     "Session Manager user", "--", (char *)user, NULL };

		r = run(av);
		if (r != 0) {
			fprintf(stderr, "ssmctl: %s failed (exit status %d): %s not created\n",
				USERADD, r, user);
			ret = SSMCTL_REFUSED;
			goto out;
		}
		printf("created user %s: home %s, login shell %s\n", user, home, SSM_SHELL_PATH);
	} else if (pw->pw_uid == 0) {
		fprintf(stderr, "ssmctl: %s has uid 0: refusing to make it a session user\n", user);
		ret = SSMCTL_REFUSED;
		goto out;
	} else {
		int bad_shell = strcmp(pw->pw_shell ? pw->pw_shell : "", SSM_SHELL_PATH) != 0;
		int bad_home = strcmp(pw->pw_dir ? pw->pw_dir : "", home) != 0;
		char oldshell[PATH_MAX], olddir[PATH_MAX];

		snprintf(oldshell, sizeof(oldshell), "%s", pw->pw_shell ? pw->pw_shell : "");
		snprintf(olddir, sizeof(olddir), "%s", pw->pw_dir ? pw->pw_dir : "");
		if (!bad_shell && !bad_home) {
			printf("user %s already exists as it should: home %s, login shell %s\n", user,
			       home, SSM_SHELL_PATH);
		} else if (!force) {
			if (bad_shell)
				fprintf(stderr, "ssmctl: %s exists with login shell %s, not %s\n", user,
					oldshell, SSM_SHELL_PATH);
			if (bad_home)
				fprintf(stderr, "ssmctl: %s exists with home %s, not %s\n", user,
					olddir, home);
			fprintf(stderr, "ssmctl: %s left unchanged (--force changes it)\n", user);
			ret = SSMCTL_REFUSED;
			goto out;
		} else {
			char *av[10];
			int n = 0;

			av[n++] = USERMOD;
			if (bad_shell) {
				av[n++] = "--shell";
				av[n++] = SSM_SHELL_PATH;
			}
			if (bad_home) {
				struct stat st;

				av[n++] = "--home";
				av[n++] = home;
				/* move the old home only when there is one and nothing at the new */
				if (olddir[0] == '/' && stat(olddir, &st) == 0 && S_ISDIR(st.st_mode) &&
				    lstat(home, &st) != 0)
					av[n++] = "--move-home";
			}
			av[n++] = "--";
			av[n++] = (char *)user;
			av[n] = NULL;
			r = run(av);
			if (r != 0) {
				fprintf(stderr, "ssmctl: %s failed (exit status %d): %s unchanged\n",
					USERMOD, r, user);
				ret = SSMCTL_REFUSED;
				goto out;
			}
			if (bad_shell)
				printf("changed the login shell of %s from %s to %s\n", user,
				       oldshell, SSM_SHELL_PATH);
			if (bad_home)
				printf("changed the home of %s from %s to %s\n", user, olddir, home);
		}
	}
	if (cfg != NULL && !ssm_config_run_as_allowed(cfg, user))
		fprintf(stderr, "ssmctl: warning: %s is not in run_as_allowed of %s: no session can "
				"run as it\n", user, cfg->path);
	{
		char *sav[6] = { want_sudo ? "enable" : "disable", "--user", (char *)user, NULL };
		int n = 3;

		if (cfg != NULL) {
			sav[n++] = "--config";
			sav[n++] = (char *)ssmctl_config_path;
			sav[n] = NULL;
		}
		if (sudo < 0 && !want_sudo) {
			printf("sudo not granted to %s (ssm_user_sudo is false; --sudo grants it)\n",
			       user);
		} else {
			fflush(stdout);
			r = ssmctl_sudo(n, sav);
			if (r != SSMCTL_OK && ret == SSMCTL_OK)
				ret = r;
		}
	}
out:
	ssm_config_free(cfg);
	return ret;
}

/* ------------------------------------------------------------------ config check */

struct check {
	cJSON *problems, *notes;
	int json, n;
};

static void problem(struct check *c, const char *what, const char *fmt, ...) SSM_PRINTF(3, 4);
static void problem(struct check *c, const char *what, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c->n++;
	if (c->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "what", what);
		cJSON_AddStringToObject(o, "message", text);
		cJSON_AddItemToArray(c->problems, o);
	} else {
		printf("problem: %s: %s\n", what, text);
	}
}

static void note(struct check *c, const char *what, const char *fmt, ...) SSM_PRINTF(3, 4);
static void note(struct check *c, const char *what, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (c->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "what", what);
		cJSON_AddStringToObject(o, "message", text);
		cJSON_AddItemToArray(c->notes, o);
	} else {
		printf("note: %s: %s\n", what, text);
	}
}

/* owner root, not group/other writable (what the module and ssm-shell require).
 * kind: 'f' regular file, 'd' directory.  1 if it exists, 0 if not, -1 if wrong. */
static int check_owner_mode(struct check *c, const char *what, const char *path, int kind,
			    int missing_is_problem)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT && !missing_is_problem)
			return 0;
		problem(c, what, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? 0 : -1;
	}
	if (S_ISLNK(st.st_mode)) {
		problem(c, what, "%s is a symlink (refused)", path);
		return -1;
	}
	if (kind == 'f' && !S_ISREG(st.st_mode)) {
		problem(c, what, "%s is not a regular file", path);
		return -1;
	}
	if (kind == 'd' && !S_ISDIR(st.st_mode)) {
		problem(c, what, "%s is not a directory", path);
		return -1;
	}
	if (st.st_uid != 0) {
		problem(c, what, "%s is owned by uid %u, not root", path, (unsigned)st.st_uid);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		problem(c, what, "%s has mode %04o: writable by group or others", path,
			(unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 1;
}

/* A directory the module or ssm-shell creates when missing: if missing, its parent must
 * exist; if present, root's and not group/other writable. */
static void check_dir(struct check *c, const char *what, const char *path)
{
	char parent[PATH_MAX];
	const char *slash;
	struct stat st;

	if (check_owner_mode(c, what, path, 'd', 0) != 0)
		return;
	slash = strrchr(path, '/');
	snprintf(parent, sizeof(parent), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
		problem(c, what, "%s does not exist, and cannot be created: no directory %s", path,
			parent);
	else
		note(c, what, "%s does not exist yet: created at the first login", path);
}

/* Files in dir that other users can read but should not (records from older versions). */
static void check_private_files(struct check *c, const char *what, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[PATH_MAX + 256];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= (int)sizeof(p))
			continue;
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IROTH))
			problem(c, what, "%s has mode %04o: readable by every user (it holds the "
					 "token's jti and parameters; chmod 0600)", p,
				(unsigned)(st.st_mode & 07777));
	}
	closedir(d);
}

struct docinfo {
	char name[129];
	enum ssm_session_type type;
	int valid;
};

static int shell_listed(void)
{
	char *buf = NULL, err[256];
	size_t len;
	const char *l;
	int found = 0;

	if (ssm_read_file(SHELLS_FILE, 1024 * 1024, 0, &buf, &len, err, sizeof(err)) < 0)
		return -1;
	for (l = buf; l != NULL && *l != '\0'; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t n = strcspn(l, "\n");
		if (n == strlen(SSM_SHELL_PATH) && memcmp(l, SSM_SHELL_PATH, n) == 0)
			found = 1;
	}
	free(buf);
	return found;
}

static const char *const type_names[] = { "Standard_Stream", "InteractiveCommands",
					  "NonInteractiveCommands", "Port" };

int ssmctl_config_check(int argc, char **argv)
{
	struct check c = { 0 };
	struct ssm_config *cfg = NULL;
	struct ssm_jwks *keys = NULL;
	struct docinfo *docs = NULL;
	size_t ndocs = 0, i, j;
	char *buf = NULL, err[512] = "", p[PATH_MAX + 256];
	size_t len;
	int r, ret, action = 0;
	struct stat st;
	DIR *d;
	struct dirent *de;

	for (i = 0; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			c.json = 1;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < (size_t)argc)
			ssmctl_config_path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			ssmctl_config_path = argv[i] + 9;
		else if (strcmp(argv[i], "check") == 0 && !action)
			action = 1;
		else {
			fprintf(stderr, "ssmctl: unexpected argument %s\nusage: ssmctl [--config "
					"PATH] config check [--json]\n", argv[i]);
			return SSMCTL_USAGE;
		}
	}
	if (!action) {
		fprintf(stderr, "ssmctl: config needs: check\n");
		return SSMCTL_USAGE;
	}
	if (c.json) {
		c.problems = cJSON_CreateArray();
		c.notes = cJSON_CreateArray();
		if (c.problems == NULL || c.notes == NULL) {
			fprintf(stderr, "ssmctl: out of memory\n");
			return SSMCTL_USAGE;
		}
	}

	/* the file: as the module reads it (root, not group/other writable), then parsed
	 * regardless, so that the rest is checked too */
	if (check_owner_mode(&c, "config", ssmctl_config_path, 'f', 1) == 0)
		goto done;
	r = ssm_read_file(ssmctl_config_path, SSM_CONFIG_MAX_SIZE, 0, &buf, &len, err, sizeof(err));
	if (r < 0) {
		problem(&c, "config", "%s", err[0] ? err : strerror(-r));
		goto done;
	}
	r = ssm_config_parse(buf, len, ssmctl_config_path, &cfg, err, sizeof(err));
	if (r < 0) {
		problem(&c, "config", "%s", err[0] ? err : strerror(-r));
		goto done;
	}

	/* trusted keys */
	if (check_owner_mode(&c, "trusted_keys", cfg->trusted_keys, 'f', 1) > 0) {
		r = ssm_jwks_load(cfg->trusted_keys, &keys, err, sizeof(err));
		if (r < 0)
			problem(&c, "trusted_keys", "%s", err[0] ? err : strerror(-r));
		else
			note(&c, "trusted_keys", "%zu usable key(s) in %s", ssm_jwks_count(keys),
			     cfg->trusted_keys);
	}

	/* documents */
	if (check_owner_mode(&c, "documents_dir", cfg->documents_dir, 'd', 1) > 0 &&
	    (d = opendir(cfg->documents_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			size_t nl = strlen(de->d_name);
			struct ssm_document *doc = NULL;
			struct docinfo *nd;
			char *dbuf = NULL;
			size_t dlen;

			if (nl <= 5 || strcmp(de->d_name + nl - 5, ".json") != 0 ||
			    de->d_name[0] == '.')
				continue;
			nd = realloc(docs, (ndocs + 1) * sizeof(*docs));
			if (nd == NULL)
				break;
			docs = nd;
			memset(&docs[ndocs], 0, sizeof(docs[ndocs]));
			snprintf(docs[ndocs].name, sizeof(docs[ndocs].name), "%.*s", (int)(nl - 5),
				 de->d_name);
			if (snprintf(p, sizeof(p), "%s/%s", cfg->documents_dir, de->d_name) >=
			    (int)sizeof(p))
				continue;
			if (!ssm_document_name_valid(docs[ndocs].name) || nl - 5 > 128) {
				problem(&c, "documents", "%s: not a valid document name (3 to 128 of "
							 "[A-Za-z0-9_.-]): no token can name it", p);
				ndocs++;
				continue;
			}
			if (check_owner_mode(&c, "documents", p, 'f', 1) <= 0) {
				ndocs++;
				continue;
			}
			r = ssm_read_file(p, SSM_DOCUMENT_MAX_SIZE, SSM_FILE_NOFOLLOW, &dbuf, &dlen,
					  err, sizeof(err));
			if (r == 0)
				r = ssm_document_parse(dbuf, dlen, docs[ndocs].name, &doc, err,
						       sizeof(err));
			if (r < 0) {
				problem(&c, "documents", "%s: %s", p, err[0] ? err : strerror(-r));
			} else {
				docs[ndocs].valid = 1;
				docs[ndocs].type = doc->type;
				if (strcmp(docs[ndocs].name, "SSM-SessionManagerRunShell") == 0 &&
				    doc->type != SSM_SESSION_STANDARD_STREAM)
					problem(&c, "documents", "%s: must be a Standard_Stream "
						"document (command sessions take their limits from it)", p);
				/* the administrator's opt-in, as ssm-shell applies it */
				{
					const cJSON *cl = ssm_config_command_line_params(cfg,
											 doc->name ? doc->name : docs[ndocs].name);
					if (cl != NULL &&
					    ssm_document_set_command_line(doc, cl, err, sizeof(err)) < 0)
						problem(&c, "command_line_parameters", "%s: %s",
							docs[ndocs].name, err);
				}
			}
			ssm_document_free(doc);
			free(dbuf);
			ndocs++;
		}
		closedir(d);
		for (i = 0, j = 0; i < ndocs; i++)
			if (strcmp(docs[i].name, "SSM-SessionManagerRunShell") == 0)
				j = 1;
		if (!j)
			note(&c, "documents", "no SSM-SessionManagerRunShell.json: command sessions "
					      "get the default limits (20 minutes idle, no maximum)");
	}
	/* allowed_documents: a glob matching no document here */
	for (i = 0; i < cfg->n_allowed_documents; i++) {
		const char *g = cfg->allowed_documents[i];
		int hit = 0;

		for (j = 0; j < ndocs; j++)
			if (fnmatch(g, docs[j].name, 0) == 0)
				hit = 1;
		if (!hit)
			problem(&c, "allowed_documents", "\"%s\" matches no document in %s", g,
				cfg->documents_dir);
	}
	/* command_line_parameters naming documents that are not here */
	if (cfg->command_line_params != NULL) {
		const cJSON *e;

		cJSON_ArrayForEach(e, cfg->command_line_params) {
			int found = 0;

			for (j = 0; j < ndocs; j++)
				if (strcmp(docs[j].name, e->string) == 0)
					found = 1;
			if (!found)
				problem(&c, "command_line_parameters", "names document %s, which is "
					"not in %s", e->string, cfg->documents_dir);
		}
	}
	/* seccomp profiles */
	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		const char *prof = ssm_config_seccomp_profile(cfg, type_names[i]);
		if (!ssm_seccomp_profile_valid(prof))
			problem(&c, "seccomp_profiles", "%s: unknown profile \"%s\" (known: "
				"baseline, strict, debug): its sessions would fail to start",
				type_names[i], prof);
	}

	/* users */
	for (i = 0; i < cfg->n_run_as_allowed; i++) {
		const char *u = cfg->run_as_allowed[i];
		struct passwd *pw;

		errno = 0;
		pw = getpwnam(u);
		if (pw == NULL) {
			problem(&c, "run_as_allowed", "user %s does not exist (`ssmctl user ensure "
				"--user %s` makes it)", u, u);
			continue;
		}
		if (strcmp(pw->pw_shell ? pw->pw_shell : "", SSM_SHELL_PATH) != 0)
			problem(&c, "run_as_allowed", "user %s has login shell %s, not %s: its "
				"logins would not be confined to the document", u,
				pw->pw_shell ? pw->pw_shell : "(none)", SSM_SHELL_PATH);
		if (pw->pw_uid == 0)
			note(&c, "run_as_allowed", "user %s has uid 0: sessions may run as root", u);
		if (cfg->recorder_user && strcmp(u, cfg->recorder_user) == 0)
			problem(&c, "run_as_allowed", "user %s is also the recorder_user: ssm-shell "
				"refuses such sessions", u);
	}
	{
		struct passwd *pw;

		errno = 0;
		pw = getpwnam(cfg->recorder_user);
		if (pw == NULL)
			problem(&c, "recorder_user", "user %s does not exist: every session is refused",
				cfg->recorder_user);
		else if (pw->pw_uid == 0 || pw->pw_gid == 0)
			problem(&c, "recorder_user", "user %s has uid or primary gid 0: every session "
				"is refused", cfg->recorder_user);
	}

	/* directories */
	check_dir(&c, "state_dir", cfg->state_dir);
	snprintf(p, sizeof(p), "%s/replay", cfg->state_dir);
	(void)check_owner_mode(&c, "state_dir", p, 'd', 0);
	check_dir(&c, "run_dir", cfg->run_dir);
	snprintf(p, sizeof(p), "%s/sessions", cfg->run_dir);
	if (check_owner_mode(&c, "run_dir", p, 'd', 0) > 0)
		check_private_files(&c, "run_dir", p);
	snprintf(p, sizeof(p), "%s/live", cfg->run_dir);
	(void)check_owner_mode(&c, "run_dir", p, 'd', 0);
	check_dir(&c, "log_dir", cfg->log_dir);
	snprintf(p, sizeof(p), "%s/audit.jsonl", cfg->log_dir);
	if (check_owner_mode(&c, "log_dir", p, 'f', 0) > 0 && stat(p, &st) == 0 &&
	    st.st_nlink != 1)
		problem(&c, "log_dir", "%s has %lu links: refused", p, (unsigned long)st.st_nlink);
	snprintf(p, sizeof(p), "%s/sessions", cfg->log_dir);
	(void)check_owner_mode(&c, "log_dir", p, 'd', 0);

	/* ssm-shell */
	if (stat(SSM_SHELL_PATH, &st) != 0) {
		problem(&c, "ssm-shell", "%s: %s", SSM_SHELL_PATH, strerror(errno));
	} else if (st.st_uid != 0 || !(st.st_mode & S_ISUID) || !S_ISREG(st.st_mode) ||
		   (st.st_mode & (S_IWGRP | S_IWOTH))) {
		problem(&c, "ssm-shell", "%s is owner uid %u mode %04o: must be root's, setuid "
			"and not writable by others (chown root:root; chmod 4755)", SSM_SHELL_PATH,
			(unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	}
	r = shell_listed();
	if (r == 0)
		problem(&c, "ssm-shell", "%s is not in %s: some services (su, ftp, chsh) refuse "
			"users whose shell is not listed", SSM_SHELL_PATH, SHELLS_FILE);
	else if (r < 0)
		problem(&c, "ssm-shell", "cannot read %s", SHELLS_FILE);

done:
	if (c.json) {
		cJSON *o = cJSON_CreateObject();
		char *text;

		cJSON_AddStringToObject(o, "config", ssmctl_config_path);
		cJSON_AddBoolToObject(o, "ok", c.n == 0);
		cJSON_AddItemToObject(o, "problems", c.problems);
		cJSON_AddItemToObject(o, "notes", c.notes);
		text = cJSON_PrintUnformatted(o);
		if (text != NULL)
			printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(o);
	} else if (c.n == 0) {
		printf("%s: no problem found\n", ssmctl_config_path);
	} else {
		printf("%s: %d problem%s\n", ssmctl_config_path, c.n, c.n == 1 ? "" : "s");
	}
	ret = c.n == 0 ? SSMCTL_OK : SSMCTL_REFUSED;
	free(docs);
	free(buf);
	ssm_jwks_free(keys);
	ssm_config_free(cfg);
	return ret;
}
