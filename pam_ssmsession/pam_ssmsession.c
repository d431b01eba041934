/* pam_ssmsession.c - PAM module: broker-issued session tokens (SPEC section 5).
 *
 *   auth     verifies the token (SPEC section 2) for PAM_USER and records its jti;
 *   account  run_as allowed, uid 0 only if named explicitly, document allowed;
 *   session  writes the live session record and the session_start / session_end events.
 *
 * The verified claims travel from auth to account and session in the PAM handle
 * ("pam_ssmsession:token").  Every refusal is one line in the system log (NOTICE, or ERR
 * when the host is at fault) and one login_denied audit event, also sent to the journal
 * (lib/audit.c); a configuration that cannot be loaded has no log_dir of its own, and its
 * refusal (reason config_error) goes to the compiled-in SSM_DEFAULT_LOG_DIR.  The token
 * itself is never logged and every copy we own is wiped. */
#include "config.h" /* lib/config.h: struct ssm_config */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "audit.h"
#include "doccache.h"
#include "json.h"
#include "log.h"
#include "record.h"
#include "replay.h"
#include "token.h"
#include "util.h"
#include "verdict.h"
#include "verify.h"

#define DATA_KEY "pam_ssmsession:token"
#define TOKEN_PROMPT "Session token: "

struct opts {
	const char *config;
	int use_first_pass;
	int try_first_pass;
	int debug;
};

/* What auth hands to account and session, owned by the PAM handle. */
struct auth_data {
	struct ssm_config *cfg; /* the configuration auth used */
	struct ssm_token *tok;  /* the verified claims */
	int account_ok;         /* our account step approved this handle */
	int session_open;       /* a record was written by open_session */
	pid_t pid;
	uint64_t starttime;
};

/* ------------------------------------------------------------------ logging */

/* The process that loaded this module: libpam loads a service's modules in pam_start, so
 * this is the process that started the PAM handle (or an ancestor of it).  An auth step
 * running in another process runs in a fork whose handle data never reach the handle
 * that account, setcred and session use: OpenSSH's keyboard-interactive does that. */
static pid_t load_pid;

__attribute__((constructor)) static void module_loaded(void)
{
	load_pid = getpid();
}

static void quiet_log_handler(void *ctx, int prio, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void quiet_log_handler(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)prio;
	(void)fmt;
	(void)ap;
}

static void pam_log_handler(void *ctx, int prio, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void pam_log_handler(void *ctx, int prio, const char *fmt, va_list ap)
{
	pam_vsyslog((pam_handle_t *)ctx, prio, fmt, ap);
}

static void log_begin(pam_handle_t *pamh, const struct opts *o)
{
	ssm_log_set_handler(pam_log_handler, pamh);
	ssm_log_set_debug(o->debug);
}

static void log_end(void)
{
	/* never leave a dangling pamh behind in the library's logger */
	ssm_log_set_handler(NULL, NULL);
	ssm_log_set_debug(0);
}

/* ------------------------------------------------------------------ options */

static const char *skip_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static void deny_config(pam_handle_t *pamh, const char *detail);

/* Strict: anything unknown or malformed is a configuration error, since this module
 * guards access.  Returns PAM_SUCCESS or PAM_SERVICE_ERR; audit: a refusal, also audited
 * (reason config_error) besides the one syslog line. */
static int parse_opts(pam_handle_t *pamh, int argc, const char **argv, struct opts *o,
		      int audit)
{
	char esc[SSM_LOG_ESCAPE_BUFSZ];
	int i;

	memset(o, 0, sizeof(*o));
	o->config = SSM_DEFAULT_CONFIG;
	for (i = 0; i < argc; i++) {
		const char *v;

		if (argv[i] == NULL)
			goto bad;
		if ((v = skip_prefix(argv[i], "config=")) != NULL) {
			if (v[0] != '/')
				goto bad;
			o->config = v;
		} else if (strcmp(argv[i], "use_first_pass") == 0) {
			o->use_first_pass = 1;
		} else if (strcmp(argv[i], "try_first_pass") == 0) {
			o->try_first_pass = 1;
		} else if (strcmp(argv[i], "debug") == 0) {
			o->debug = 1;
		} else {
			goto bad;
		}
	}
	if (o->use_first_pass && o->try_first_pass) {
		pam_syslog(pamh, LOG_ERR, "use_first_pass and try_first_pass are exclusive");
		if (audit)
			deny_config(pamh, "module options: use_first_pass and try_first_pass "
				    "are exclusive");
		return PAM_SERVICE_ERR;
	}
	return PAM_SUCCESS;
bad:
	pam_syslog(pamh, LOG_ERR, "unknown or malformed option \"%s\" (config= needs an absolute path)",
		   ssm_log_escape(argv[i], esc, sizeof(esc)));
	if (audit) {
		char detail[SSM_LOG_ESCAPE_BUFSZ + 64];

		snprintf(detail, sizeof(detail), "module options: unknown or malformed option \"%s\"",
			 esc);
		deny_config(pamh, detail);
	}
	return PAM_SERVICE_ERR;
}

/* ------------------------------------------------------------------ handle data */

static void wipe_str(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

static void auth_data_free(struct auth_data *d)
{
	if (d == NULL)
		return;
	if (d->tok != NULL) {
		/* not secret like the token itself, but a jti is a one-time credential name */
		wipe_str(d->tok->jti);
		ssm_token_free(d->tok);
	}
	ssm_config_free(d->cfg);
	explicit_bzero(d, sizeof(*d));
	free(d);
}

static void auth_data_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	auth_data_free(data);
}

static struct auth_data *get_auth_data(pam_handle_t *pamh)
{
	const void *data = NULL;

	if (pam_get_data(pamh, DATA_KEY, &data) != PAM_SUCCESS)
		return NULL;
	return (struct auth_data *)data;
}

/* ------------------------------------------------------------------ helpers */

/* Load the configuration; when it is unusable, the one syslog line and a login_denied
 * (config_error) in the compiled-in log_dir. */
static int load_config(pam_handle_t *pamh, const char *path, struct ssm_config **pcfg)
{
	char err[512] = "", detail[640];
	int r;

	r = ssm_config_load(path, pcfg, err, sizeof(err));
	if (r < 0) {
		/* the one clear line: the module fails closed */
		if (err[0] != '\0') /* err names the file (and the key) */
			ssm_log(LOG_ERR, "configuration unusable, refusing every login: %s", err);
		else
			ssm_log(LOG_ERR, "configuration %s unusable, refusing every login: %s",
				path, strerror(-r));
		if (err[0] != '\0')
			snprintf(detail, sizeof(detail), "%s", err);
		else
			snprintf(detail, sizeof(detail), "%s: %s", path, strerror(-r));
		deny_config(pamh, detail);
		return r == -ENOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
	}
	return PAM_SUCCESS;
}

/* The configuration for account/session: the one auth used when the path is the same,
 * else our own copy in *pown. */
static int config_for(pam_handle_t *pamh, const struct opts *o, const struct auth_data *d,
		      const struct ssm_config **pcfg, struct ssm_config **pown)
{
	int ret;

	*pown = NULL;
	if (d != NULL && d->cfg != NULL && d->cfg->path != NULL &&
	    strcmp(d->cfg->path, o->config) == 0) {
		*pcfg = d->cfg;
		return PAM_SUCCESS;
	}
	ret = load_config(pamh, o->config, pown);
	*pcfg = *pown;
	return ret;
}

/* Audit an event in log_dir (host_id NULL: null); extra members reason/detail/user/
 * service/rhost.  quiet: log nothing about a failure (the caller's line says enough).
 * Returns 0 or -errno. */
static int audit_event_at(pam_handle_t *pamh, const char *log_dir, const char *host_id,
			  const char *event, const struct ssm_token *tok, const char *reason,
			  const char *detail, int quiet)
{
	struct ssm_audit_session s = { 0 };
	const void *item = NULL;
	cJSON *extra;
	int r = -ENOMEM;

	extra = cJSON_CreateObject();
	if (extra == NULL)
		goto out;
	if (reason != NULL && cJSON_AddStringToObject(extra, "reason", reason) == NULL)
		goto out;
	if (detail != NULL && detail[0] != '\0' &&
	    cJSON_AddStringToObject(extra, "detail", detail) == NULL)
		goto out;
	if (pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS && item != NULL &&
	    cJSON_AddStringToObject(extra, "user", item) == NULL)
		goto out;
	item = NULL;
	if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS && item != NULL &&
	    cJSON_AddStringToObject(extra, "service", item) == NULL)
		goto out;
	item = NULL;
	if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS && item != NULL &&
	    cJSON_AddStringToObject(extra, "rhost", item) == NULL)
		goto out;
	if (tok != NULL) {
		s.sid = tok->sid;
		s.sub = tok->sub;
		s.run_as = tok->run_as;
		s.doc = tok->doc_name;
	}
	if (quiet)
		ssm_log_set_handler(quiet_log_handler, NULL);
	r = ssm_audit_write(log_dir, ssm_now(), host_id, event, tok != NULL ? &s : NULL, extra);
	if (quiet)
		ssm_log_set_handler(pam_log_handler, pamh);
	else if (r < 0)
		ssm_log(LOG_ERR, "cannot write %s event to %s/audit.jsonl: %s", event, log_dir,
			strerror(-r));
out:
	cJSON_Delete(extra);
	return r;
}

static int audit_event(pam_handle_t *pamh, const struct ssm_config *cfg, const char *event,
		       const struct ssm_token *tok, const char *reason, const char *detail)
{
	return audit_event_at(pamh, cfg->log_dir, cfg->host_id, event, tok, reason, detail, 0);
}

/* The configuration (or the module's options) cannot be used: the caller logged the one
 * line; the login_denied goes to the compiled-in log_dir with host_id null, quietly (if
 * that fails too, the syslog line is all there is; the journal still gets it). */
static void deny_config(pam_handle_t *pamh, const char *detail)
{
	(void)audit_event_at(pamh, SSM_DEFAULT_LOG_DIR, NULL, "login_denied", NULL, "config_error",
			     detail, 1);
}

/* One line (NOTICE for a refused token, ERR when the host is at fault) and one
 * login_denied event for a refused login. */
static void deny_at(int prio, pam_handle_t *pamh, const struct ssm_config *cfg,
		    const struct ssm_token *tok, const char *user, const char *reason,
		    const char *detail)
{
	char esc_user[SSM_LOG_ESCAPE_BUFSZ], esc_detail[SSM_LOG_ESCAPE_BUFSZ];

	ssm_log(prio, "login refused for user %s: %s%s%s",
		ssm_log_escape(user ? user : "(unknown)", esc_user, sizeof(esc_user)), reason,
		detail && detail[0] ? ": " : "",
		detail && detail[0] ? ssm_log_escape(detail, esc_detail, sizeof(esc_detail)) : "");
	if (cfg != NULL)
		(void)audit_event(pamh, cfg, "login_denied", tok, reason, detail);
}

static void deny(pam_handle_t *pamh, const struct ssm_config *cfg, const struct ssm_token *tok,
		 const char *user, const char *reason, const char *detail)
{
	deny_at(LOG_NOTICE, pamh, cfg, tok, user, reason, detail);
}

/* Ask for the token through the conversation; *powned is ours to wipe and free. */
static int prompt_token(pam_handle_t *pamh, char **powned)
{
	char *resp = NULL;
	int r;

	*powned = NULL;
	r = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", TOKEN_PROMPT);
	if (r != PAM_SUCCESS || resp == NULL) {
		if (resp != NULL) {
			explicit_bzero(resp, strlen(resp));
			free(resp);
		}
		return PAM_CONV_ERR;
	}
	*powned = resp;
	return PAM_SUCCESS;
}

/* ------------------------------------------------------------------ verification
 *
 * This module links no cryptography (verdict.h): the signature, the document and the
 * parameters are checked by ssm-verifyd when it answers on run_dir/verifyd.sock, else by
 * ssm-verify.so loaded here.  Only a verdict of "valid" or "refused" from the daemon is
 * final; anything else (no daemon, a timeout, a host error on its side) is verified again
 * in this process, whose answer is final.  The verified claims are checked again here
 * (ssm_token_check_claims) before anything uses them. */

#define VERIFYD_TIMEOUT_S 2

/* Ask ssm-verifyd.  0 with *v filled, or -errno (no daemon, or it failed to answer). */
static int ask_verifyd(const struct ssm_config *cfg, const char *config_path, const char *user,
		       const char *token, size_t len, struct ssm_verdict *v)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = VERIFYD_TIMEOUT_S };
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int dfd, fd = -1, r;

	/* Only the owner of a trusted run_dir (root) can have made the socket (ssm-verifyd binds
	 * it as root); it is reached through the directory opened and checked here, so that
	 * nothing can swap the path between the check and the connect. */
	dfd = open(cfg->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = ssm_check_trusted_fd(dfd, cfg->run_dir, NULL, 0);
	if (r < 0)
		goto out;
	if (fstatat(dfd, SSM_VERIFYD_SOCKET, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISSOCK(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid())) {
		r = -EPERM;
		goto out;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, SSM_VERIFYD_SOCKET);
	buf = malloc(SSM_VERIFY_MSG_MAX + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		r = -errno;
		goto out;
	}
	r = ssm_verify_request_encode(buf, SSM_VERIFY_MSG_MAX, config_path, user, token, len);
	if (r < 0)
		goto out;
	if (send(fd, buf, (size_t)r, MSG_NOSIGNAL) != r) {
		r = -EIO;
		goto out;
	}
	explicit_bzero(buf, (size_t)r);
	n = recv(fd, buf, SSM_VERIFY_MSG_MAX + 1, 0);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	if (n == 0 || n > SSM_VERIFY_MSG_MAX) {
		r = -EBADMSG;
		goto out;
	}
	r = ssm_verdict_decode(buf, (size_t)n, v);
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	if (buf != NULL) {
		explicit_bzero(buf, SSM_VERIFY_MSG_MAX + 1); /* the token, on every path */
		free(buf);
	}
	return r;
}

/* ssm-verify.so beside this module (one build: the build tree, a package that puts both in
 * one place), else in the package's library directory; a regular file owned by root (or
 * owned like this module) and not writable by group or others.  The file is opened and
 * checked here and loaded through that descriptor.  fd, or -errno with err set. */
static int open_verify_lib(char *err, size_t errlen)
{
	struct stat self, st;
	Dl_info info;
	char path[PATH_MAX];
	const char *slash;
	int r, i, fd;

	if (dladdr((void *)pam_sm_authenticate, &info) == 0 || info.dli_fname == NULL ||
	    stat(info.dli_fname, &self) != 0)
		self.st_uid = 0;
	for (i = 0; i < 2; i++) {
		if (i == 0) {
			if (info.dli_fname == NULL || (slash = strrchr(info.dli_fname, '/')) == NULL)
				continue;
			r = snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - info.dli_fname),
				     info.dli_fname, SSM_VERIFY_LIB_NAME);
		} else {
			r = snprintf(path, sizeof(path), "%s/%s", SSM_PKGLIBDIR, SSM_VERIFY_LIB_NAME);
		}
		if (r < 0 || (size_t)r >= sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
		    (st.st_uid != 0 && st.st_uid != self.st_uid) ||
		    (st.st_mode & (S_IWGRP | S_IWOTH))) {
			snprintf(err, errlen, "%s: not a regular file owned by root and writable "
				 "only by its owner: refusing to load it", path);
			close(fd);
			return -EPERM;
		}
		return fd;
	}
	snprintf(err, errlen, "%s not found beside this module nor in %s", SSM_VERIFY_LIB_NAME,
		 SSM_PKGLIBDIR);
	return -ENOENT;
}

/* Verify in this process through ssm-verify.so.  Always fills *v. */
static void verify_here(const char *config_path, const char *user, const char *token,
			size_t len, int64_t now, struct ssm_verdict *v)
{
	char path[64], err[PATH_MAX + 128] = "";
	ssm_verify_once_fn fn;
	void *h;
	int fd;

	ssm_verdict_init(v);
	/* a library that returned without filling it in must not leave "valid" behind */
	ssm_verdict_fail(v, -EIO, "host_error", "%s returned no verdict", SSM_VERIFY_LIB_NAME);
	fd = open_verify_lib(err, sizeof(err));
	if (fd < 0) {
		ssm_verdict_fail(v, fd, "host_error", "%s", err);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* NODELETE: libcrypto stays loaded anyway, and a second login in this process (or
	 * handle) must not pay for loading it again */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	close(fd);
	if (h == NULL) {
		ssm_verdict_fail(v, -ELIBBAD, "host_error", "cannot load %s: %s",
				 SSM_VERIFY_LIB_NAME, dlerror());
		return;
	}
	*(void **)&fn = dlsym(h, SSM_VERIFY_ONCE_SYMBOL);
	if (fn == NULL) {
		ssm_verdict_fail(v, -ELIBBAD, "host_error", "%s has no %s", SSM_VERIFY_LIB_NAME,
				 SSM_VERIFY_ONCE_SYMBOL);
	} else if (fn(config_path, user, token, len, now, v, sizeof(*v)) == -EPROTO) {
		ssm_verdict_fail(v, -EPROTO, "host_error", "%s is from another build",
				 SSM_VERIFY_LIB_NAME);
	}
	dlclose(h);
}

static const char *alg_literal(const char *alg)
{
	return strcmp(alg, "ES256") == 0 ? "ES256" : strcmp(alg, "Ed25519") == 0 ? "Ed25519"
										  : "EdDSA";
}

/* The files a verdict rests on, as this process sees them: "CONFIG;KEYS;" and, when
 * doc_name is given, the document's identity (verdict.h). */
static void my_ids(const char *config_path, const struct ssm_config *cfg, const char *doc_name,
		   const char *doc_sha256, char *out, size_t outlen)
{
	char c[SSM_FILE_ID_MAX], k[SSM_FILE_ID_MAX], d[SSM_FILE_ID_MAX] = "";

	ssm_file_id(config_path, c);
	ssm_file_id(cfg->trusted_keys, k);
	if (doc_name != NULL) /* documents_dir's file, else the broker's cached copy */
		ssm_doccache_file_id(cfg, doc_name, doc_sha256, d);
	snprintf(out, outlen, "%s;%s;%s", c, k, d);
}

#define JUDGE_RETRY 1000 /* not a PAM code: the daemon's verdict is not usable here */

/* Turn a verdict into the outcome of verify_one.  remote: it came from ssm-verifyd, whose
 * view of the files must be ours, else JUDGE_RETRY. */
static int judge(const struct opts *o, const struct ssm_config *cfg, const char *user,
		 int64_t now, struct ssm_verdict *v, int remote, struct ssm_token **ptok,
		 char key[65], char *reason, size_t reasonlen, const char **pwhy)
{
	struct ssm_verify_ctx ctx = { .cfg = cfg, .now = now, .user = user };
	char mine[sizeof(v->ids)], sub[512] = "";
	cJSON *claims = NULL;
	int r;

	if (v->code == SSM_TOKEN_REFUSED) {
		if (remote) {
			my_ids(o->config, cfg, NULL, NULL, mine, sizeof(mine));
			if (strncmp(v->ids, mine, strlen(mine)) != 0)
				return JUDGE_RETRY;
		}
		*pwhy = strcmp(v->why, "token_too_long") == 0 ? "token_too_long" : "invalid_token";
		snprintf(reason, reasonlen, "%s", v->reason);
		return PAM_AUTH_ERR;
	}
	if (v->code != 0) {
		/* the host is at fault: the caller's one refusal line, at LOG_ERR, says why */
		*pwhy = strcmp(v->why, "trusted_keys") == 0 ? "trusted_keys" : "host_error";
		snprintf(reason, reasonlen, "%s", v->reason);
		return v->code == -ENOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
	}
	/* valid: take the verified claims through the claims rules once more, here */
	r = ssm_json_parse_object(v->claims, strlen(v->claims), &claims, sub, sizeof(sub));
	if (r == 0)
		r = ssm_token_check_claims(&ctx, claims, ptok, sub, sizeof(sub));
	cJSON_Delete(claims);
	if (r < 0) {
		*pwhy = "host_error";
		snprintf(reason, reasonlen, "the verifier accepted claims that this module refuses: %s",
			 sub);
		return r == -ENOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
	}
	if (remote) {
		my_ids(o->config, cfg, (*ptok)->doc_name, (*ptok)->doc_sha256, mine, sizeof(mine));
		if (strcmp(v->ids, mine) != 0) {
			ssm_token_free(*ptok);
			*ptok = NULL;
			return JUDGE_RETRY;
		}
	}
	snprintf((*ptok)->kid, sizeof((*ptok)->kid), "%s", v->kid);
	(*ptok)->alg = alg_literal(v->alg);
	memcpy(key, v->key, 65);
	return PAM_SUCCESS;
}

/* Verify one candidate token.  PAM_SUCCESS with *ptok and key (its replay cache name);
 * PAM_AUTH_ERR with *pwhy (the audit reason) and reason (the detail); PAM_AUTHINFO_UNAVAIL
 * / PAM_BUF_ERR when the host is at fault (*pwhy and reason say why). */
static int verify_one(const struct opts *o, const struct ssm_config *cfg, const char *user,
		      int64_t now, const char *token, struct ssm_token **ptok, char key[65],
		      char *reason, size_t reasonlen, const char **pwhy)
{
	struct ssm_verdict v;
	size_t len;
	int r, ret = JUDGE_RETRY;

	reason[0] = '\0';
	*pwhy = "invalid_token";
	/* refused before anything is decoded */
	len = strnlen(token, SSM_TOKEN_MAX_LEN + 1);
	if (len > SSM_TOKEN_MAX_LEN) {
		*pwhy = "token_too_long";
		return PAM_AUTH_ERR;
	}
	/* no token can name a user that is not a plausible user name (run_as == PAM_USER) */
	if (!ssm_config_user_name_valid(user)) {
		snprintf(reason, reasonlen, "the PAM user is not a valid user name");
		return PAM_AUTH_ERR;
	}
	ssm_verdict_init(&v);
	r = ask_verifyd(cfg, o->config, user, token, len, &v);
	if (r == 0 && (v.code == 0 || v.code == SSM_TOKEN_REFUSED)) {
		ret = judge(o, cfg, user, now, &v, 1, ptok, key, reason, reasonlen, pwhy);
		if (ret == JUDGE_RETRY)
			ssm_log(LOG_DEBUG, "ssm-verifyd judged other files than this module sees: "
				"verifying in this process");
	} else if (r == 0) { /* ssm-verifyd logs why; the answer here is what counts */
		ssm_log(LOG_DEBUG, "ssm-verifyd could not verify (%s): verifying in this process",
			v.reason);
	} else if (r != -ENOENT && r != -ECONNREFUSED) {
		ssm_log(LOG_WARNING, "ssm-verifyd did not answer (%s): verifying in this process",
			strerror(-r));
	}
	if (ret == JUDGE_RETRY) {
		ssm_verdict_clear(&v);
		verify_here(o->config, user, token, len, now, &v);
		ret = judge(o, cfg, user, now, &v, 0, ptok, key, reason, reasonlen, pwhy);
	}
	ssm_verdict_clear(&v);
	return ret;
}

/* The wall-clock second this host booted, rounded up (later is the safe side: more tokens
 * count as issued before it); INT64_MAX, refusing everything, if the clocks fail. */
static int64_t boot_time(void)
{
	struct timespec rt, bt;

	if (clock_gettime(CLOCK_REALTIME, &rt) != 0 || clock_gettime(CLOCK_BOOTTIME, &bt) != 0)
		return INT64_MAX;
	return (int64_t)rt.tv_sec - (int64_t)bt.tv_sec + 1;
}

/* ------------------------------------------------------------------ auth */

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	char reason[512] = "", key[65] = "";
	struct ssm_config *cfg = NULL;
	struct ssm_token *tok = NULL;
	struct auth_data *data = NULL;
	const char *user = NULL, *why = NULL;
	char *owned = NULL;
	int need_prompt = 0;
	int64_t now;
	int ret, r;
	struct opts o;

	ret = parse_opts(pamh, argc, argv, &o, 1);
	if (ret != PAM_SUCCESS) {
		log_end();
		return ret;
	}
	log_begin(pamh, &o);
	/* a stale success from an earlier call on this handle must not survive a failure */
	(void)pam_set_data(pamh, DATA_KEY, NULL, NULL);

	ret = load_config(pamh, o.config, &cfg);
	if (ret != PAM_SUCCESS)
		goto out;
	ret = pam_get_user(pamh, &user, NULL);
	if (ret != PAM_SUCCESS || user == NULL || user[0] == '\0') {
		deny(pamh, cfg, NULL, NULL, "no_user", "cannot determine the user name");
		ret = ret == PAM_SUCCESS ? PAM_USER_UNKNOWN : ret;
		goto out;
	}
	/* Auth in a process forked after this module was loaded (OpenSSH keyboard-
	 * interactive): what it verifies stays in that process, and the handle that goes on
	 * to setcred and session never sees it.  Refused before the token is asked for, so
	 * that it is not used up by a login that cannot succeed. */
	if (load_pid != 0 && getpid() != load_pid) {
		deny(pamh, cfg, NULL, user, "forked_auth",
		     "pam_authenticate runs in a process forked from the one that started PAM "
		     "(OpenSSH keyboard-interactive): token not asked for; use password "
		     "authentication");
		if (!(flags & PAM_SILENT))
			(void)pam_error(pamh, "Session tokens are accepted through password "
				       "authentication only.");
		ret = PAM_AUTH_ERR;
		goto out;
	}

	now = ssm_now();
	if (o.use_first_pass || o.try_first_pass) {
		const void *item = NULL;

		if (pam_get_item(pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS && item != NULL) {
			ret = verify_one(&o, cfg, user, now, item, &tok, key, reason,
					 sizeof(reason), &why);
			/* try_first_pass: what an earlier module got may be a password, not
			 * a token; ask for the token then, and judge only that */
			need_prompt = ret == PAM_AUTH_ERR && o.try_first_pass;
			if (need_prompt)
				ssm_log(LOG_DEBUG, "PAM_AUTHTOK is not a valid token (%s): prompting",
					why);
		} else if (o.use_first_pass) {
			deny(pamh, cfg, NULL, user, "no_token", "use_first_pass and no PAM_AUTHTOK");
			ret = PAM_AUTH_ERR;
			goto out;
		} else {
			need_prompt = 1;
		}
	} else {
		need_prompt = 1;
	}
	if (need_prompt) {
		ret = prompt_token(pamh, &owned);
		if (ret != PAM_SUCCESS) {
			deny(pamh, cfg, NULL, user, "conversation", NULL);
			goto out;
		}
		ret = verify_one(&o, cfg, user, now, owned, &tok, key, reason, sizeof(reason),
				 &why);
	}
	if (ret != PAM_SUCCESS) {
		deny_at(ret == PAM_AUTH_ERR ? LOG_NOTICE : LOG_ERR, pamh, cfg, NULL, user, why,
			reason);
		goto out;
	}

	/* replay_durability "boot": entries are not flushed to disk, so a crash may lose the
	 * newest ones; every token that could have been accepted before a crash was issued
	 * before this boot, and is refused here (the broker's clock within leeway) */
	if (!cfg->replay_fsync) {
		int64_t limit;

		if (__builtin_add_overflow(boot_time(), cfg->leeway, &limit) || tok->iat < limit) {
			deny(pamh, cfg, tok, user, "issued_before_boot",
			     "replay_durability boot: token issued before this host booted");
			ret = PAM_AUTH_ERR;
			goto out;
		}
	}
	r = ssm_replay_check_and_add_key(cfg->state_dir, key, ssm_token_keep_until(cfg, tok), now,
					 cfg->replay_fsync);
	if (r == -EEXIST) {
		deny(pamh, cfg, tok, user, "replay", "token already used");
		ret = PAM_AUTH_ERR;
		goto out;
	} else if (r < 0) {
		snprintf(reason, sizeof(reason), "%s/replay: %s", cfg->state_dir, strerror(-r));
		deny_at(LOG_ERR, pamh, cfg, tok, user, "replay_cache", reason);
		ret = PAM_AUTHINFO_UNAVAIL;
		goto out;
	}

	data = calloc(1, sizeof(*data));
	if (data == NULL) {
		deny_at(LOG_ERR, pamh, cfg, tok, user, "host_error", "out of memory");
		ret = PAM_BUF_ERR;
		goto out;
	}
	data->cfg = cfg;
	data->tok = tok;
	cfg = NULL;
	tok = NULL;
	ret = pam_set_data(pamh, DATA_KEY, data, auth_data_cleanup);
	if (ret != PAM_SUCCESS) {
		snprintf(reason, sizeof(reason), "cannot keep the verified token: %s",
			 pam_strerror(pamh, ret));
		/* data (and the configuration and token in it) are freed by pam_set_data's
		 * failure path only when it took them: it did not */
		deny_at(LOG_CRIT, pamh, data->cfg, data->tok, user, "host_error", reason);
		auth_data_free(data);
		goto out;
	}
	ssm_log(LOG_DEBUG, "token accepted for sid %s", data->tok->sid);
	ret = PAM_SUCCESS;
out:
	if (owned != NULL) {
		explicit_bzero(owned, strlen(owned));
		free(owned);
	}
	explicit_bzero(reason, sizeof(reason));
	if (tok != NULL) {
		wipe_str(tok->jti);
		ssm_token_free(tok);
	}
	explicit_bzero(key, sizeof(key));
	ssm_config_free(cfg);
	log_end();
	return ret;
}

/* Credentials: the module establishes none.  Succeed only after our own auth in this
 * handle, so that a stack where auth was skipped does not get credentials through us. */
PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct opts o;
	int ret;

	/* establishing (or refreshing) credentials is part of a login; deleting them is not */
	ret = parse_opts(pamh, argc, argv, &o, !(flags & PAM_DELETE_CRED));
	if (ret != PAM_SUCCESS) {
		log_end();
		return ret;
	}
	if (get_auth_data(pamh) != NULL)
		return PAM_SUCCESS;
	ret = PAM_CRED_ERR;
	if (!(flags & PAM_DELETE_CRED)) {
		struct ssm_config *cfg = NULL;
		const void *user = NULL;

		log_begin(pamh, &o);
		(void)pam_get_item(pamh, PAM_USER, &user);
		if (load_config(pamh, o.config, &cfg) == PAM_SUCCESS)
			deny(pamh, cfg, NULL, user, "not_authenticated",
			     "setcred: no token was verified by pam_ssmsession in this PAM handle");
		ssm_config_free(cfg);
		log_end();
	}
	return ret;
}

/* ------------------------------------------------------------------ account */

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	char reason[512] = "";
	struct ssm_config *own = NULL;
	const struct ssm_config *cfg = NULL;
	struct auth_data *d;
	const char *user = NULL;
	struct opts o;
	int ret;

	d = get_auth_data(pamh);
	/* an earlier approval never outlives a later account call that fails, whatever fails */
	if (d != NULL)
		d->account_ok = 0;
	ret = parse_opts(pamh, argc, argv, &o, 1);
	if (ret != PAM_SUCCESS) {
		log_end();
		return ret;
	}
	log_begin(pamh, &o);
	ret = config_for(pamh, &o, d, &cfg, &own);
	if (ret != PAM_SUCCESS)
		goto out;
	if (pam_get_item(pamh, PAM_USER, (const void **)&user) != PAM_SUCCESS || user == NULL) {
		deny(pamh, cfg, NULL, NULL, "no_user", NULL);
		ret = PAM_USER_UNKNOWN;
		goto out;
	}
	ret = PAM_PERM_DENIED;
	if (d == NULL || d->tok == NULL) {
		deny(pamh, cfg, NULL, user, "not_authenticated",
		     "no token was verified by pam_ssmsession in this PAM handle");
		goto out;
	}
	/* another module may have changed PAM_USER since auth */
	if (strcmp(user, d->tok->run_as) != 0) {
		deny(pamh, cfg, d->tok, user, "user_mismatch", "PAM user is not the token's run_as");
		goto out;
	}
	if (ssm_token_check_account(cfg, d->tok, reason, sizeof(reason)) != 0) {
		deny(pamh, cfg, d->tok, user, "account", reason);
		goto out;
	}
	d->account_ok = 1;
	ret = PAM_SUCCESS;
out:
	if (ret == PAM_PERM_DENIED && !(flags & PAM_SILENT))
		(void)pam_error(pamh, "Access denied by the session policy of this host.");
	ssm_config_free(own);
	log_end();
	return ret;
}

/* ------------------------------------------------------------------ session */

static int live_path(char *buf, size_t len, const char *run_dir, const char *sid, const char *ext)
{
	int n = snprintf(buf, len, "%s/live/%s.%s", run_dir, sid, ext);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}


/* A PAM item (service, rhost, tty) as it is, when it is 1 to 255 printable ASCII bytes;
 * NULL otherwise (not set, or something no listing should print). */
static const char *plain_item(pam_handle_t *pamh, int type)
{
	const void *item = NULL;
	const unsigned char *c;

	if (pam_get_item(pamh, type, &item) != PAM_SUCCESS || item == NULL)
		return NULL;
	for (c = item; *c; c++)
		if (*c < 0x21 || *c > 0x7e || c - (const unsigned char *)item >= 255)
			return NULL;
	return c == item ? NULL : item;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const void *item = NULL;
	struct ssm_record rec;
	struct auth_data *d;
	struct opts o;
	pid_t ppid = 0;
	int ret, r;

	(void)flags;
	ret = parse_opts(pamh, argc, argv, &o, 1);
	if (ret != PAM_SUCCESS) {
		log_end();
		return ret;
	}
	log_begin(pamh, &o);
	ret = PAM_SESSION_ERR;
	d = get_auth_data(pamh);
	if (d == NULL || d->tok == NULL || d->cfg == NULL) {
		/* fail closed: without a verified token there is nothing to confine the session */
		struct ssm_config *cfg = NULL;

		(void)pam_get_item(pamh, PAM_USER, &item);
		if (load_config(pamh, o.config, &cfg) == PAM_SUCCESS)
			deny_at(LOG_ERR, pamh, cfg, NULL, item, "not_authenticated",
				"session: no token was verified by pam_ssmsession in this PAM handle");
		ssm_config_free(cfg);
		goto out;
	}
	if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS)
		item = NULL;
	if (!d->account_ok) {
		/* an application that ignored a refused (or skipped) account step */
		deny_at(LOG_ERR, pamh, d->cfg, d->tok, item, "account_not_approved",
			"session: the account step did not approve this login");
		goto out;
	}
	if (strcmp(d->cfg->path, o.config) != 0) {
		char detail[PATH_MAX * 2 + 64];

		snprintf(detail, sizeof(detail), "session config=%s differs from auth's %s",
			 o.config, d->cfg->path);
		deny_at(LOG_ERR, pamh, d->cfg, d->tok, item, "config_error", detail);
		goto out;
	}
	/* another module may have changed PAM_USER since account approved it: the session
	 * must be for the token's run_as and nobody else */
	if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS || item == NULL ||
	    strcmp(item, d->tok->run_as) != 0) {
		deny(pamh, d->cfg, d->tok, item, "user_mismatch", "PAM user is not the token's run_as");
		goto out;
	}

	memset(&rec, 0, sizeof(rec));
	rec.sid = d->tok->sid;
	rec.sub = d->tok->sub;
	rec.run_as = d->tok->run_as;
	rec.jti = d->tok->jti;
	rec.host_id = d->cfg->host_id;
	rec.doc_name = d->tok->doc_name;
	memcpy(rec.doc_sha256, d->tok->doc_sha256, sizeof(rec.doc_sha256));
	rec.params = d->tok->params;
	rec.exp = d->tok->exp;
	rec.created = ssm_now();
	rec.pid = getpid();
	r = ssm_proc_stat(rec.pid, &ppid, &rec.starttime);
	if (r < 0) {
		char detail[128];

		snprintf(detail, sizeof(detail), "cannot read /proc/%ld/stat: %s", (long)rec.pid,
			 strerror(-r));
		deny_at(LOG_ERR, pamh, d->cfg, d->tok, item, "host_error", detail);
		goto out;
	}
	if (ssm_proc_audit_session(rec.pid, &rec.audit_session) < 0)
		rec.audit_session = UINT32_MAX;
	/* where the login came from, for `ssmctl sessions list`: taken only when plain */
	rec.service = (char *)plain_item(pamh, PAM_SERVICE);
	rec.rhost = (char *)plain_item(pamh, PAM_RHOST);
	rec.tty = (char *)plain_item(pamh, PAM_TTY);
	r = ssm_record_write(d->cfg->run_dir, &rec);
	if (r < 0) {
		char detail[PATH_MAX + 64];

		snprintf(detail, sizeof(detail), "cannot write the session record in %s: %s",
			 d->cfg->run_dir, strerror(-r));
		deny_at(LOG_ERR, pamh, d->cfg, d->tok, item, "host_error", detail);
		goto out;
	}
	d->session_open = 1;
	d->pid = rec.pid;
	d->starttime = rec.starttime;
	r = audit_event_at(pamh, d->cfg->log_dir, d->cfg->host_id, "session_start", d->tok, NULL,
			   NULL, 1);
	if (r < 0) {
		char detail[PATH_MAX + 64];

		(void)ssm_record_remove(d->cfg->run_dir, d->pid, d->starttime);
		d->session_open = 0;
		snprintf(detail, sizeof(detail), "cannot write session_start to %s/audit.jsonl: %s",
			 d->cfg->log_dir, strerror(-r));
		deny_at(LOG_ERR, pamh, d->cfg, d->tok, item, "audit", detail);
		goto out;
	}
	ret = PAM_SUCCESS;
out:
	log_end();
	return ret;
}

/* 1 if ssm-shell's recorder already logged session_end (a non-empty SID.end). */
static int end_already_logged(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	char live_json[4096], live_end[4096];
	struct auth_data *d;
	struct opts o;
	int ret, r;

	(void)flags;
	ret = parse_opts(pamh, argc, argv, &o, 0);
	if (ret != PAM_SUCCESS)
		return ret;
	log_begin(pamh, &o);
	d = get_auth_data(pamh);
	if (d == NULL || !d->session_open) {
		/* this module opened no session in this handle: nothing of ours to close */
		ret = PAM_IGNORE;
		goto out;
	}
	ret = PAM_SESSION_ERR;
	if (live_path(live_json, sizeof(live_json), d->cfg->run_dir, d->tok->sid, "json") < 0 ||
	    live_path(live_end, sizeof(live_end), d->cfg->run_dir, d->tok->sid, "end") < 0)
		goto out;
	r = 0;
	if (!end_already_logged(live_end))
		r = audit_event(pamh, d->cfg, "session_end", d->tok, "exit", NULL);
	(void)ssm_record_remove(d->cfg->run_dir, d->pid, d->starttime);
	(void)unlink(live_json);
	(void)unlink(live_end);
	d->session_open = 0;
	if (r < 0)
		goto out;
	ret = PAM_SUCCESS;
out:
	log_end();
	return ret;
}
