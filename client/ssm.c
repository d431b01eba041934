/* ssm.c - the users' client (SPEC section 9), the verbs of `aws ssm`:
 *
 *   ssm login --broker URL --ca FILE [--user NAME]
 *   ssm describe-instance-information
 *   ssm start-session --target ID [--document-name NAME] [--parameters JSON|SHORTHAND]
 *                     [--reason TEXT]
 *   ssm terminate-session --session-id SID
 *   ssm describe-sessions --state Active|History [--output json|text]
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
#include "client.h"
#include "cliparams.h"
#include "https.h"
#include "json.h"
#include "login.h"
#include "util.h"

#define TIMEOUT_S 30
#define RESPONSE_MAX 65536
/* GetTranscript: the broker serves at most 64 MiB of asciicast, as a JSON string (its
 * backslashes and line ends escaped again: at most twice as long) */
#define TRANSCRIPT_RESPONSE_MAX (2u * 64 * 1024 * 1024 + 65536)

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
			 const char *cred, const char *body, size_t max, int *pstatus, char **presp)
{
	struct ssm_https_req req = {
		.host = host, .port = port, .ca_file = ca_file, .path = path, .bearer = cred,
		.body = body, .agent = "ssm", .max_answer = max ? max : RESPONSE_MAX,
		.timeout_s = TIMEOUT_S,
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
		if ((r = https_request(host, port, ca_abs, "/v1/login", NULL, body, 0, &status,
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

/* ---------------------------------------------------------------- sessions */

/* Until client/stream.c links in: StartSession works, the stream does not. */
__attribute__((weak)) int ssm_stream_run(const struct ssm_stream_args *a)
{
	(void)a;
	fputs("ssm: streaming not available yet\n", stderr);
	return 1;
}

/* The cached credential and one request to the broker with it.  0 with *pans (the answer,
 * a JSON object with HTTP status 200), or 1 after one line on standard error, in the AWS
 * CLI's words for a refusal: "An error occurred (CODE) when calling the OP operation: ..."
 * (the broker's messages start "CODE: "). */
struct call {
	cJSON *cache;
	const char *ca, *cred;
	size_t max_answer; /* 0: RESPONSE_MAX */
};

static void call_done(struct call *c)
{
	if (c->cache != NULL) {
		const cJSON *m = ssm_json_member(c->cache, "credential");
		if (cJSON_IsString(m) && m->valuestring != NULL)
			OPENSSL_cleanse(m->valuestring, strlen(m->valuestring));
	}
	cJSON_Delete(c->cache);
	memset(c, 0, sizeof(*c));
}

/* the error codes the broker's session routes give (brokerd/sessions.c) */
static int known_code(const char *s, size_t n)
{
	static const char *const codes[] = { "AccessDeniedException", "ValidationException",
					     "InvalidParameters", "InvalidDocument",
					     "TargetNotConnected", "DoesNotExist",
					     "InternalServerError" };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strlen(codes[i]) == n && strncmp(s, codes[i], n) == 0)
			return 1;
	return 0;
}

static int broker_call(struct call *c, const char *op, const char *path, const char *body,
		       cJSON **pans)
{
	const char *broker, *msg;
	char host[256], *resp = NULL, err[256], code[64];
	cJSON *ans = NULL;
	int port, status = 0, r = 1;
	size_t n;

	*pans = NULL;
	if (c->cache == NULL) {
		if (load_credential(&c->cache) != 0)
			return 1;
		if (ssm_json_get_string(c->cache, "broker", &broker) < 0 ||
		    ssm_json_get_string(c->cache, "ca", &c->ca) < 0 ||
		    ssm_json_get_string(c->cache, "credential", &c->cred) < 0 ||
		    parse_url(broker, host, sizeof(host), &port) < 0 ||
		    !ssm_str_charset(c->cred, 43, 43, ssm_is_b64url_char))
			return fail(1, "the cached credential is damaged (ssm login again)");
	}
	if (ssm_json_get_string(c->cache, "broker", &broker) < 0 ||
	    parse_url(broker, host, sizeof(host), &port) < 0)
		return fail(1, "the cached credential is damaged (ssm login again)");
	if (https_request(host, port, c->ca, path, c->cred, body, c->max_answer, &status, &resp) !=
	    0)
		return 1;
	if (ssm_json_parse_object(resp, strlen(resp), &ans, err, sizeof(err)) < 0) {
		fail(1, "the broker's answer (HTTP %d) is not a JSON object", status);
		goto out;
	}
	if (status != 200) {
		if (ssm_json_get_string(ans, "error", &msg) < 0)
			msg = "no reason given";
		n = strspn(msg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
		if (n > 0 && n < sizeof(code) && strncmp(msg + n, ": ", 2) == 0 &&
		    known_code(msg, n)) {
			snprintf(code, sizeof(code), "%.*s", (int)n, msg);
			msg += n + 2;
		} else {
			snprintf(code, sizeof(code), "%s",
				 status == 403 ? "AccessDeniedException" :
				 status == 401 ? "UnrecognizedClientException" :
				 status == 500 ? "InternalServerError" : "ValidationException");
		}
		fail(1, "An error occurred (%s) when calling the %s operation: %s", code, op, msg);
		goto out;
	}
	*pans = ans;
	ans = NULL;
	r = 0;
out:
	if (resp != NULL) {
		OPENSSL_cleanse(resp, strlen(resp));
		free(resp);
	}
	cJSON_Delete(ans);
	return r;
}

static int print_json(const cJSON *o)
{
	char *s = cJSON_Print(o);

	if (s == NULL)
		return fail(1, "out of memory");
	printf("%s\n", s);
	free(s);
	return 0;
}

/* Another StartSession with the same request (a port forward's further connections). */
struct again {
	struct call *c;
	const char *body;
};

static int start_again(void *ctx, char **psid, char **psecret)
{
	struct again *g = ctx;
	cJSON *ans = NULL;
	const char *sid, *secret;
	int r = -1;

	if (broker_call(g->c, "StartSession", "/v1/sessions", g->body, &ans) != 0)
		return -1;
	if (ssm_json_get_string(ans, "SessionId", &sid) == 0 &&
	    ssm_json_get_string(ans, "TokenValue", &secret) == 0) {
		*psid = strdup(sid);
		*psecret = strdup(secret);
		if (*psid && *psecret) {
			r = 0;
		} else {
			free(*psid);
			free(*psecret);
			fail(1, "out of memory");
		}
		OPENSSL_cleanse((char *)secret, strlen(secret));
	} else {
		fail(1, "the broker's StartSession answer lacks SessionId or TokenValue");
	}
	cJSON_Delete(ans);
	return r;
}

static int cmd_start_session(int argc, char **argv)
{
	struct again again;
	const char *target = NULL, *document = NULL, *params_text = NULL, *reason = NULL;
	const char *sid, *secret, *url, *type;
	struct ssm_stream_args sa;
	struct call c = { 0 };
	cJSON *req = NULL, *params = NULL, *ans = NULL;
	const cJSON *lp;
	char err[512], *body = NULL, *end;
	int i, r = 1;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--target") == 0 && i + 1 < argc && target == NULL)
			target = argv[++i];
		else if (strcmp(argv[i], "--document-name") == 0 && i + 1 < argc && !document)
			document = argv[++i];
		else if (strcmp(argv[i], "--parameters") == 0 && i + 1 < argc && !params_text)
			params_text = argv[++i];
		else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc && reason == NULL)
			reason = argv[++i];
		else
			return fail(2, "usage: ssm start-session --target ID [--document-name NAME] "
				       "[--parameters JSON|NAME=VALUE,...] [--reason TEXT]");
	}
	if (target == NULL)
		return fail(2, "start-session: --target ID is required");
	if (params_text != NULL && ssm_cli_params_parse(params_text, &params, err, sizeof(err)) < 0)
		return fail(2, "%s", err);
	req = cJSON_CreateObject();
	if (req == NULL || !cJSON_AddStringToObject(req, "Target", target) ||
	    (document && !cJSON_AddStringToObject(req, "DocumentName", document)) ||
	    (reason && !cJSON_AddStringToObject(req, "Reason", reason))) {
		fail(1, "out of memory");
		goto out;
	}
	if (params != NULL) {
		cJSON_AddItemToObject(req, "Parameters", params);
		params = NULL;
	}
	body = cJSON_PrintUnformatted(req);
	if (body == NULL) {
		fail(1, "out of memory");
		goto out;
	}
	if (broker_call(&c, "StartSession", "/v1/sessions", body, &ans) != 0)
		goto out;
	if (ssm_json_get_string(ans, "SessionId", &sid) < 0 ||
	    ssm_json_get_string(ans, "TokenValue", &secret) < 0 ||
	    ssm_json_get_string(ans, "StreamUrl", &url) < 0 ||
	    ssm_json_get_string(ans, "SessionType", &type) < 0 ||
	    strncmp(url, "wss://", 6) != 0) {
		fail(1, "the broker's StartSession answer lacks SessionId, TokenValue, StreamUrl "
			"or SessionType");
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.stream_url = url;
	sa.session_id = sid;
	sa.token_value = secret;
	sa.session_type = type;
	sa.document = document ? document : "SSM-SessionManagerRunShell";
	sa.ca_file = c.ca;
	sa.bearer = c.cred;
	sa.local_port = -1;
	lp = ssm_json_member(ssm_json_member(req, "Parameters"), "localPortNumber");
	if (strcmp(type, "Port") == 0 && cJSON_IsArray(lp) && cJSON_GetArraySize(lp) == 1 &&
	    cJSON_IsString(cJSON_GetArrayItem(lp, 0))) {
		const char *v = cJSON_GetArrayItem(lp, 0)->valuestring;
		long port = strtol(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || *end != '\0' || port < 0 || port > 65535) {
			fail(2, "--parameters: localPortNumber must be 0..65535");
			goto out;
		}
		sa.local_port = port;
	}
	again.c = &c;
	again.body = body;
	sa.new_session = start_again;
	sa.new_session_ctx = &again;
	fprintf(stderr, "\nStarting session with SessionId: %s\n", sid);
	r = ssm_stream_run(&sa);
out:
	if (ans != NULL) {
		const cJSON *m = ssm_json_member(ans, "TokenValue");
		if (cJSON_IsString(m) && m->valuestring != NULL)
			OPENSSL_cleanse(m->valuestring, strlen(m->valuestring));
	}
	free(body);
	cJSON_Delete(params);
	cJSON_Delete(req);
	cJSON_Delete(ans);
	call_done(&c);
	return r;
}

/* USER-[a-z0-9]{8,32}, checked here only so that it can go into a path */
static int sid_plausible(const char *s)
{
	size_t n = strlen(s);

	return n >= 10 && n <= 100 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-") == n;
}

static int cmd_terminate_session(int argc, char **argv)
{
	const char *sid = NULL;
	struct call c = { 0 };
	cJSON *ans = NULL;
	char path[160];
	int r;

	if (argc == 2 && strcmp(argv[0], "--session-id") == 0)
		sid = argv[1];
	else
		return fail(2, "usage: ssm terminate-session --session-id SID");
	if (!sid_plausible(sid))
		return fail(2, "--session-id: not a session id (USER-[a-z0-9]{8,32})");
	snprintf(path, sizeof(path), "/v1/sessions/%s/terminate", sid);
	r = broker_call(&c, "TerminateSession", path, "{}", &ans);
	if (r == 0)
		r = print_json(ans);
	cJSON_Delete(ans);
	call_done(&c);
	return r;
}

/* --output text, as the AWS CLI writes it: a SESSIONS line per session, the values in the
 * order of their sorted keys, tab-separated */
static void print_sessions_text(const cJSON *list)
{
	static const char *const keys[] = { "DocumentName", "EndDate", "Owner", "Reason",
					    "SessionId", "StartDate", "Status", "Target" };
	const cJSON *s, *v;
	size_t i;

	cJSON_ArrayForEach(s, list) {
		fputs("SESSIONS", stdout);
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			v = ssm_json_member(s, keys[i]);
			if (cJSON_IsString(v))
				printf("\t%s", v->valuestring);
		}
		putchar('\n');
	}
}

static int cmd_describe_instance_information(int argc, char **argv)
{
	struct call c = { 0 };
	cJSON *ans = NULL;
	int r;

	(void)argv;
	if (argc != 0)
		return fail(2, "usage: ssm describe-instance-information");
	r = broker_call(&c, "DescribeInstanceInformation", "/v1/instances", NULL, &ans);
	if (r == 0)
		r = print_json(ans);
	cJSON_Delete(ans);
	call_done(&c);
	return r;
}

static int cmd_describe_sessions(int argc, char **argv)
{
	const char *state = NULL, *output = "json";
	struct call c = { 0 };
	cJSON *ans = NULL;
	const cJSON *list;
	char path[64];
	int i, r;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
			state = argv[++i];
		else if (strcmp(argv[i], "--output") == 0 && i + 1 < argc)
			output = argv[++i];
		else
			return fail(2, "usage: ssm describe-sessions --state Active|History "
				       "[--output json|text]");
	}
	if (state == NULL || (strcmp(state, "Active") != 0 && strcmp(state, "History") != 0))
		return fail(2, "describe-sessions: --state Active or --state History");
	if (strcmp(output, "json") != 0 && strcmp(output, "text") != 0)
		return fail(2, "describe-sessions: --output json or text");
	snprintf(path, sizeof(path), "/v1/sessions?state=%s", state);
	r = broker_call(&c, "DescribeSessions", path, NULL, &ans);
	if (r == 0) {
		list = ssm_json_member(ans, "Sessions");
		if (!cJSON_IsArray(list))
			r = fail(1, "the broker's answer has no Sessions list");
		else if (strcmp(output, "text") == 0)
			print_sessions_text(list);
		else
			r = print_json(ans);
	}
	cJSON_Delete(ans);
	call_done(&c);
	return r;
}

/* the stored asciicast of a session, on standard output (asciinema play - reads it) */
static int cmd_get_transcript(int argc, char **argv)
{
	const char *sid = NULL;
	struct call c = { 0 };
	cJSON *ans = NULL;
	const cJSON *t;
	char path[160];
	int r;

	if (argc == 2 && strcmp(argv[0], "--session-id") == 0)
		sid = argv[1];
	else
		return fail(2, "usage: ssm get-transcript --session-id SID");
	if (!sid_plausible(sid))
		return fail(2, "--session-id: not a session id (USER-[a-z0-9]{8,32})");
	snprintf(path, sizeof(path), "/v1/sessions/%s/transcript", sid);
	c.max_answer = TRANSCRIPT_RESPONSE_MAX;
	r = broker_call(&c, "GetTranscript", path, NULL, &ans);
	if (r == 0) {
		t = ssm_json_member(ans, "Transcript");
		if (!cJSON_IsString(t) || t->valuestring == NULL)
			r = fail(1, "the broker's answer has no Transcript");
		else if (fputs(t->valuestring, stdout) == EOF || fflush(stdout) != 0)
			r = fail(1, "cannot write the transcript: %s", strerror(errno));
		else if (!cJSON_IsTrue(ssm_json_member(ans, "Complete")))
			fprintf(stderr, "ssm: note: session %s's transcript is not complete yet "
					"(live, or still being delivered)\n", sid);
	}
	cJSON_Delete(ans);
	call_done(&c);
	return r;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts("usage: ssm login --broker URL --ca FILE [--user NAME]\n"
		     "       ssm describe-instance-information\n"
		     "       ssm start-session --target ID [--document-name NAME]\n"
		     "                         [--parameters JSON|NAME=VALUE,...] [--reason TEXT]\n"
		     "       ssm terminate-session --session-id SID\n"
		     "       ssm describe-sessions --state Active|History [--output json|text]\n"
		     "       ssm get-transcript --session-id SID");
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
	if (argc >= 2 && strcmp(argv[1], "start-session") == 0)
		return cmd_start_session(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "terminate-session") == 0)
		return cmd_terminate_session(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "get-transcript") == 0)
		return cmd_get_transcript(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "describe-sessions") == 0)
		return cmd_describe_sessions(argc - 2, argv + 2);
	return fail(2, "usage: ssm login|describe-instance-information|start-session|"
		       "terminate-session|describe-sessions ... (ssm --help)");
}
