/* ssm-verifyd - the token verifier daemon for pam_ssmsession (ssm-verifyd(8), verdict.h).
 *
 * Started as root: reads the configuration (for run_dir), binds run_dir/verifyd.sock
 * (mode 0600: only root, i.e. the login services, may ask), then drops for good to its own
 * unprivileged user, non-dumpable, with no_new_privs, confines itself with a seccomp
 * allow-list (seccomp.c: any other system call kills it), and answers one verdict per
 * connection, one connection at a time.  It keeps the parsed configuration and imported
 * keys between logins (verify.c), which is what makes a login cheaper than verifying in the
 * login process.  It never writes anything: the replay cache, the audit log and the
 * session records stay with the PAM module, which also checks every verified claim again.
 * When it is not running, the module verifies in its own process with the same code. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "log.h"
#include "seccomp.h"
#include "token.h"
#include "util.h"
#include "verdict.h"
#include "verify.h"

#define DEFAULT_USER "ssm-verifyd"
#define CLIENT_TIMEOUT_S 1

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ssm-verifyd [--config PATH] [--user NAME] [--debug]\n"
		   "  --config PATH  host configuration (default " SSM_DEFAULT_CONFIG ");\n"
		   "                 the socket is its run_dir/" SSM_VERIFYD_SOCKET "\n"
		   "  --user NAME    the unprivileged user to run as (default " DEFAULT_USER ")\n"
		   "  --debug        log every verdict\n");
}

/* Bind path (mode 0600) and listen; a live daemon on it is an error, a stale socket is
 * replaced.  fd or -1 (logged). */
static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ssm_log(LOG_ERR, "%s: path too long for a socket", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ssm_log(LOG_ERR, "socket: %s", strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			ssm_log(LOG_ERR, "%s exists and is not a socket: refusing to replace it", path);
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			ssm_log(LOG_ERR, "%s: another ssm-verifyd is answering there", path);
			goto fail;
		}
		close(fd);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0 || unlink(path) != 0) {
			ssm_log(LOG_ERR, "cannot replace the stale socket %s: %s", path,
				strerror(errno));
			goto fail;
		}
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0600) != 0 ||
	    listen(fd, 64) != 0) {
		ssm_log(LOG_ERR, "cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Drop to user for good.  0 or -1 (logged). */
static int drop_to(const char *user)
{
	struct passwd *pw;
	uid_t ruid, euid, suid;

	if (geteuid() != 0) {
		ssm_log(LOG_WARNING, "not started as root: running as uid %u", (unsigned)geteuid());
		return 0;
	}
	pw = getpwnam(user);
	if (pw == NULL) {
		ssm_log(LOG_ERR, "no user %s (create it: useradd --system --no-create-home "
			"--shell /usr/sbin/nologin %s)", user, user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		ssm_log(LOG_ERR, "user %s is uid 0: refusing to run as root", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		ssm_log(LOG_ERR, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (getresuid(&ruid, &euid, &suid) != 0 || ruid != pw->pw_uid || euid != pw->pw_uid ||
	    suid != pw->pw_uid || setuid(0) == 0) {
		ssm_log(LOG_ERR, "privileges not dropped for good");
		return -1;
	}
	return 0;
}

/* One connection: one request, one verdict. */
static void serve(struct ssm_verifier *vf, int cfd, char *buf, char *token)
{
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	const char *config_path, *user, *tok;
	struct ssm_verdict v;
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	char who[257] = "";
	socklen_t clen = sizeof(cred);
	size_t toklen = 0;
	ssize_t n;
	int r;

	ssm_verdict_init(&v);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || cred.uid != 0) {
		/* the socket is 0600 root: only root gets here */
		ssm_log(LOG_WARNING, "refusing a client that is not root (uid %u)",
			(unsigned)cred.uid);
		return;
	}
	(void)setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = recv(cfd, buf, SSM_VERIFY_MSG_MAX + 1, 0);
	if (n <= 0)
		return;
	if ((size_t)n > SSM_VERIFY_MSG_MAX ||
	    ssm_verify_request_decode(buf, (size_t)n, &config_path, &user, &tok, &toklen) < 0) {
		ssm_log(LOG_WARNING, "malformed request from pid %ld", (long)cred.pid);
		ssm_verdict_fail(&v, -EBADMSG, "host_error", "malformed request");
	} else if (toklen > SSM_TOKEN_MAX_LEN) {
		ssm_verdict_fail(&v, SSM_TOKEN_REFUSED, "token_too_long",
				 "token longer than %d bytes", SSM_TOKEN_MAX_LEN);
	} else {
		memcpy(token, tok, toklen);
		token[toklen] = '\0';
		(void)ssm_verifier_check(vf, config_path, user, token, toklen, ssm_now(), &v);
		explicit_bzero(token, toklen);
		snprintf(who, sizeof(who), "%s", user); /* buf is reused for the answer */
	}
	explicit_bzero(buf, (size_t)n);
	r = ssm_verdict_encode(&v, buf, SSM_VERIFY_MSG_MAX);
	if (r < 0) {
		ssm_verdict_fail(&v, -EMSGSIZE, "host_error", "verdict too large");
		r = ssm_verdict_encode(&v, buf, SSM_VERIFY_MSG_MAX);
	}
	if (r > 0 && send(cfd, buf, (size_t)r, MSG_NOSIGNAL) != r)
		ssm_log(LOG_WARNING, "cannot answer pid %ld: %s", (long)cred.pid, strerror(errno));
	if (r > 0)
		explicit_bzero(buf, (size_t)r);
	/* logged after answering: the login waits for the verdict, not for the log */
	if (v.code != 0 && v.code != SSM_TOKEN_REFUSED) {
		/* the module verifies again itself: say why it had to */
		ssm_log(LOG_WARNING, "cannot verify (%s): %s", v.why, v.reason);
	} else if (ssm_log_debug_enabled() && who[0] != '\0') {
		char esc[SSM_LOG_ESCAPE_BUFSZ];

		if (v.code == 0)
			ssm_log(LOG_DEBUG, "verdict 0 valid for user %s (key %s, %s)",
				ssm_log_escape(who, esc, sizeof(esc)), v.kid, v.alg);
		else
			ssm_log(LOG_DEBUG, "verdict %d %s for user %s: %s", v.code, v.why,
				ssm_log_escape(who, esc, sizeof(esc)), v.reason);
	}
	ssm_verdict_clear(&v);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = SSM_DEFAULT_CONFIG, *user = DEFAULT_USER;
	struct ssm_config *cfg = NULL;
	struct ssm_verifier *vf = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	char path[PATH_MAX], err[512] = "";
	char *buf = NULL, *token = NULL;
	int lfd = -1, c, r, fd;

	while ((c = getopt_long(argc, argv, "c:u:dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'd':
			ssm_log_set_debug(1);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || config_path[0] != '/') {
		usage(stderr);
		return 2;
	}
	/* nothing inherited beyond standard input, output and error */
	for (fd = 3; fd < 1024; fd++)
		(void)close(fd);
	umask(077);
	(void)prctl(PR_SET_DUMPABLE, 0);
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL);

	r = ssm_config_load(config_path, &cfg, err, sizeof(err));
	if (r < 0) {
		ssm_log(LOG_ERR, "configuration unusable: %s", err[0] ? err : strerror(-r));
		return 1;
	}
	/* run_dir as the module and ssm-shell create it: 0755 root (not our umask's 0700) */
	if (mkdir(cfg->run_dir, 0755) == 0) {
		if (chmod(cfg->run_dir, 0755) != 0) {
			ssm_log(LOG_ERR, "cannot chmod %s: %s", cfg->run_dir, strerror(errno));
			goto out;
		}
	} else if (errno != EEXIST) {
		ssm_log(LOG_ERR, "cannot create %s: %s", cfg->run_dir, strerror(errno));
		goto out;
	}
	r = snprintf(path, sizeof(path), "%s/%s", cfg->run_dir, SSM_VERIFYD_SOCKET);
	if (r < 0 || (size_t)r >= sizeof(path))
		goto out;
	lfd = listen_on(path);
	if (lfd < 0)
		goto out;
	/* trust exactly the files the PAM module (root) trusts, whoever we become */
	ssm_set_trusted_owner(geteuid());
	if (drop_to(user) < 0)
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		ssm_log(LOG_ERR, "no_new_privs: %s", strerror(errno));
		goto out;
	}
	(void)prctl(PR_SET_DUMPABLE, 0); /* setresuid may have reset it */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	vf = ssm_verifier_new();
	if (vf != NULL)
		ssm_verifier_set_remote(vf, 1);
	buf = malloc(SSM_VERIFY_MSG_MAX + 1);
	token = malloc(SSM_TOKEN_MAX_LEN + 1);
	if (vf == NULL || buf == NULL || token == NULL) {
		ssm_log(LOG_ERR, "out of memory");
		goto out;
	}
	/* from here on only what serving a request needs (seccomp.c); no way to start
	 * without it: a daemon that cannot confine itself leaves logins to the module */
	r = ssm_verifyd_seccomp(lfd, err, sizeof(err));
	if (r < 0) {
		ssm_log(LOG_ERR, "%s", err);
		goto out;
	}
	ssm_log(LOG_INFO, "answering on %s as %s%s", path, user,
		SSM_VERIFYD_SECCOMP_LOG_ONLY ? " (sanitizer build: seccomp only logs most calls)" : "");
	while (!stop) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				ssm_log(LOG_WARNING, "accept: %s", strerror(errno));
			continue;
		}
		serve(vf, cfd, buf, token);
		close(cfd);
	}
	ssm_log(LOG_INFO, "stopping");
	r = 0;
	goto done;
out:
	r = 1;
done:
	ssm_verifier_free(vf);
	free(buf);
	free(token);
	ssm_config_free(cfg);
	if (lfd >= 0)
		close(lfd);
	return r;
}
