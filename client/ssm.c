/* ssm.c - the users' client (SPEC section 9), the verbs of `aws ssm`.  This slice:
 *
 *   ssm login --broker URL --ca FILE [--user NAME]
 *
 * reads the password from the terminal with echo off (or one line of standard input when it
 * is not a terminal), POSTs it to URL/v1/login over TLS trusting only FILE (no system store,
 * the broker's name checked), asks for the TOTP code when the broker says the user needs
 * one, and caches the credential in $XDG_CONFIG_HOME/ssmsession/credentials (or
 * ~/.config/ssmsession/credentials): mode 0600 in a 0700 directory, written atomically.
 * A directory not the user's or writable by others is refused.
 *
 * Exit 0 ok, 1 refused or failed, 2 usage error; an error is one line on standard error. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <termios.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "https.h"
#include "json.h"
#include "login.h"
#include "util.h"

#define TIMEOUT_S 30
#define RESPONSE_MAX 65536

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("ssm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* https://HOST[:PORT] (no path), IPv6 in brackets */
static int parse_url(const char *url, char *host, size_t size, int *pport)
{
	const char *h, *end, *colon;
	char *e;
	long port = 443;
	size_t n;

	if (strncmp(url, "https://", 8) != 0)
		return -EINVAL;
	h = url + 8;
	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL)
			return -EINVAL;
		n = (size_t)(end - h - 1);
		h++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && end[1] != ':')
			return -EINVAL;
	} else {
		colon = strchr(h, ':');
		n = colon ? (size_t)(colon - h) : strlen(h);
	}
	if (colon) {
		port = strtol(colon + 1, &e, 10);
		if (colon[1] == '\0' || *e != '\0' || port < 1 || port > 65535)
			return -EINVAL;
	}
	if (n == 0 || n >= size || memchr(h, '/', n) || memchr(h, '@', n))
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	*pport = (int)port;
	return 0;
}

/* POST body (or GET when body is NULL) to https://host:port/path, with "Authorization:
 * Bearer CRED" when cred is set; 0 with *pstatus and *presp, or 1 (2: an unusable CA file)
 * after saying why (lib/https.c) */
static int https_request(const char *host, int port, const char *ca_file, const char *path,
			 const char *cred, const char *body, int *pstatus, char **presp)
{
	struct ssm_https_req req = {
		.host = host, .port = port, .ca_file = ca_file, .path = path, .bearer = cred,
		.body = body, .agent = "ssm", .max_answer = RESPONSE_MAX, .timeout_s = TIMEOUT_S,
	};
	char err[512];
	int r = ssm_https_request(&req, pstatus, presp, err, sizeof(err));

	if (r == 0)
		return 0;
	return fail(r == -EINVAL ? 2 : 1, "%s", err);
}

/* One line from standard input, echo off when it is a terminal.  0, or -1 (nothing). */
static int read_secret(const char *prompt, char *out, size_t size)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), restore = 0;
	size_t n = 0;
	ssize_t r;
	char c;

	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			quiet.c_lflag |= ECHONL;
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		}
	}
	while (n + 1 < size) {
		r = read(STDIN_FILENO, &c, 1); /* byte by byte: the next line is the TOTP code's */
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		out[n++] = c;
	}
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '\r')
		out[--n] = '\0';
	if (restore)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return n > 0 ? 0 : -1;
}

/* $XDG_CONFIG_HOME/ssmsession or ~/.config/ssmsession, made 0700 if missing; refused when
 * it is not ours or others may write or read it. */
static int cache_dir(char *out, size_t size)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char base[PATH_MAX];
	struct stat st;

	if (xdg != NULL && xdg[0] == '/')
		snprintf(base, sizeof(base), "%s", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(base, sizeof(base), "%s/.config", home);
	else {
		struct passwd *pw = getpwuid(getuid());
		if (pw == NULL || pw->pw_dir == NULL)
			return fail(1, "no home directory to keep the credential in");
		snprintf(base, sizeof(base), "%s/.config", pw->pw_dir);
	}
	if ((size_t)snprintf(out, size, "%s/ssmsession", base) >= size)
		return fail(1, "%s: path too long", base);
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return fail(1, "%s: %s", base, strerror(errno));
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return fail(1, "%s: %s", out, strerror(errno));
	if (lstat(out, &st) != 0)
		return fail(1, "%s: %s", out, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return fail(1, "%s: not a directory of yours with mode 0700: refusing it", out);
	return 0;
}

static int save_credential(const cJSON *cred)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], tmp[PATH_MAX + 32];
	char *s = NULL;
	int fd = -1, r = 1;

	if (cache_dir(dir, sizeof(dir)) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/credentials", dir);
	snprintf(tmp, sizeof(tmp), "%s/.credentials.%ld", dir, (long)getpid());
	s = cJSON_Print(cred);
	if (s == NULL)
		return fail(1, "out of memory");
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(1, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || ssm_write_all(fd, s, strlen(s)) < 0 ||
	    ssm_write_all(fd, "\n", 1) < 0 || fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		fail(1, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		fail(1, "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return r;
}

static int cmd_login(int argc, char **argv)
{
	const char *broker = NULL, *ca = NULL, *user = NULL;
	char host[256], pw[SSM_LOGIN_PASSWORD_MAX + 2], code[32] = "", ca_abs[PATH_MAX], uname[65];
	char *body = NULL, *resp = NULL, jerr[256];
	cJSON *req = NULL, *ans = NULL, *cache = NULL;
	const char *msg, *cred, *expires;
	int i, port, status = 0, r = 1, mfa;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--broker") == 0 && i + 1 < argc)
			broker = argv[++i];
		else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
			ca = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else
			return fail(2, "usage: ssm login --broker URL --ca FILE [--user NAME]");
	}
	if (broker == NULL || ca == NULL)
		return fail(2, "usage: ssm login --broker URL --ca FILE [--user NAME]");
	if (parse_url(broker, host, sizeof(host), &port) < 0)
		return fail(2, "--broker: https://HOST[:PORT], not %s", broker);
	if (realpath(ca, ca_abs) == NULL)
		return fail(2, "--ca %s: %s", ca, strerror(errno));
	if (user == NULL) {
		struct passwd *p = getpwuid(getuid());
		if (p == NULL || strlen(p->pw_name) >= sizeof(uname))
			return fail(2, "--user NAME is needed");
		snprintf(uname, sizeof(uname), "%s", p->pw_name);
		user = uname;
	}
	if (read_secret("Password: ", pw, sizeof(pw)) < 0)
		return fail(1, "no password given");
	req = cJSON_CreateObject();
	if (req == NULL || !cJSON_AddStringToObject(req, "user", user) ||
	    !cJSON_AddStringToObject(req, "password", pw))
		goto oom;
	for (;;) {
		free(body);
		body = cJSON_PrintUnformatted(req);
		if (body == NULL)
			goto oom;
		free(resp);
		resp = NULL;
		if ((r = https_request(host, port, ca_abs, "/v1/login", NULL, body, &status,
					&resp)) != 0)
			goto out;
		r = 1;
		cJSON_Delete(ans);
		ans = NULL;
		if (ssm_json_parse_object(resp, strlen(resp), &ans, jerr, sizeof(jerr)) < 0) {
			fail(1, "the broker's answer (HTTP %d) is not a JSON object", status);
			goto out;
		}
		if (status == 200)
			break;
		if (ssm_json_get_string(ans, "error", &msg) < 0)
			msg = "no reason given";
		if (status == 401 && strstr(msg, "needs a TOTP code") != NULL &&
		    ssm_json_member(req, "totp") == NULL) {
			if (read_secret("TOTP code: ", code, sizeof(code)) < 0) {
				fail(1, "login refused: %s", msg);
				goto out;
			}
			if (!cJSON_AddStringToObject(req, "totp", code))
				goto oom;
			continue;
		}
		fail(1, "login refused (HTTP %d): %s", status, msg);
		goto out;
	}
	if (ssm_json_get_string(ans, "credential", &cred) < 0 ||
	    ssm_json_get_string(ans, "expires", &expires) < 0 ||
	    ssm_json_get_bool(ans, "mfa", &mfa) < 0 ||
	    !ssm_str_charset(cred, 43, 43, ssm_is_b64url_char)) {
		fail(1, "the broker's answer has no valid credential");
		goto out;
	}
	cache = cJSON_CreateObject();
	if (cache == NULL || !cJSON_AddStringToObject(cache, "broker", broker) ||
	    !cJSON_AddStringToObject(cache, "ca", ca_abs) ||
	    !cJSON_AddStringToObject(cache, "user", user) ||
	    !cJSON_AddStringToObject(cache, "credential", cred) ||
	    !cJSON_AddStringToObject(cache, "expires", expires) ||
	    !cJSON_AddBoolToObject(cache, "mfa", mfa))
		goto oom;
	if (save_credential(cache) != 0)
		goto out;
	printf("logged in to %s as %s until %s (MFA: %s)\n", broker, user, expires,
	       mfa ? "yes" : "no");
	r = 0;
	goto out;
oom:
	fail(1, "out of memory");
	r = 1;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(code, sizeof(code));
	if (body != NULL) {
		OPENSSL_cleanse(body, strlen(body));
		free(body);
	}
	if (resp != NULL) {
		OPENSSL_cleanse(resp, strlen(resp));
		free(resp);
	}
	if (req != NULL) {
		const cJSON *m = ssm_json_member(req, "password");
		if (cJSON_IsString(m) && m->valuestring != NULL)
			OPENSSL_cleanse(m->valuestring, strlen(m->valuestring));
	}
	cJSON_Delete(req);
	cJSON_Delete(ans);
	cJSON_Delete(cache);
	return r;
}

/* The cached credential: refused unless a regular file of the user's that no one else may
 * read or write.  0 with *pcache, or 1 after saying why. */
static int load_credential(cJSON **pcache)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], err[256];
	char buf[8192];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd;

	*pcache = NULL;
	if (cache_dir(dir, sizeof(dir)) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/credentials", dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(1, "%s: %s (ssm login first)", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077)) {
		close(fd);
		return fail(1, "%s: not a file of yours with mode 0600: refusing to use it", path);
	}
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	if (ssm_json_parse_object(buf, len, pcache, err, sizeof(err)) < 0) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return fail(1, "%s: %s", path, err);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int cmd_describe_instance_information(int argc, char **argv)
{
	const char *broker, *ca, *cred, *msg;
	cJSON *cache = NULL, *ans = NULL;
	char host[256], *resp = NULL, *s, err[256];
	int port, status = 0, r = 1;

	(void)argv;
	if (argc != 0)
		return fail(2, "usage: ssm describe-instance-information");
	if (load_credential(&cache) != 0)
		return 1;
	if (ssm_json_get_string(cache, "broker", &broker) < 0 ||
	    ssm_json_get_string(cache, "ca", &ca) < 0 ||
	    ssm_json_get_string(cache, "credential", &cred) < 0 ||
	    parse_url(broker, host, sizeof(host), &port) < 0 ||
	    !ssm_str_charset(cred, 43, 43, ssm_is_b64url_char)) {
		fail(1, "the cached credential is damaged (ssm login again)");
		goto out;
	}
	if (https_request(host, port, ca, "/v1/instances", cred, NULL, &status, &resp) != 0)
		goto out;
	if (ssm_json_parse_object(resp, strlen(resp), &ans, err, sizeof(err)) < 0) {
		fail(1, "the broker's answer (HTTP %d) is not a JSON object", status);
		goto out;
	}
	if (status != 200) {
		if (ssm_json_get_string(ans, "error", &msg) < 0)
			msg = "no reason given";
		fail(1, "An error occurred (%s) when calling the DescribeInstanceInformation "
			"operation: %s",
		     status == 403 ? "AccessDeniedException" :
		     status == 401 ? "UnrecognizedClientException" : "InternalServerError",
		     msg);
		goto out;
	}
	s = cJSON_Print(ans);
	if (s == NULL)
		goto out;
	printf("%s\n", s);
	free(s);
	r = 0;
out:
	free(resp);
	cJSON_Delete(ans);
	if (cache != NULL) {
		const cJSON *m = ssm_json_member(cache, "credential");
		if (cJSON_IsString(m) && m->valuestring != NULL)
			OPENSSL_cleanse(m->valuestring, strlen(m->valuestring));
	}
	cJSON_Delete(cache);
	return r;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts("usage: ssm login --broker URL --ca FILE [--user NAME]\n"
		     "       ssm describe-instance-information");
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("ssm %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "login") == 0)
		return cmd_login(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "describe-instance-information") == 0)
		return cmd_describe_instance_information(argc - 2, argv + 2);
	return fail(2, "usage: ssm login --broker URL --ca FILE [--user NAME] (the other verbs "
		       "are not there yet)");
}
