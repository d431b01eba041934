/* ssmctl.c - the administrator's tool (SPEC section 7).
 *
 *   ssmctl [--config PATH] token verify [--user U] TOKEN|-
 *   ssmctl document validate FILE
 *   ssmctl [--config PATH] sessions [list]
 *   ssmctl [--config PATH] sessions terminate SID
 *   ssmctl sudo enable|disable|status [--user NAME]
 *
 * Exit 0 ok, 1 refused or what was asked about is wrong, 2 usage or configuration error. */
#include "config.h" /* lib/config.h */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "document.h"
#include "jwk.h"
#include "jws.h"
#include "log.h"
#include "record.h"
#include "replay.h"
#include "token.h"
#include "util.h"
#include "ssmctl.h"

static const char *config_path = SSM_DEFAULT_CONFIG;

static void usage(FILE *f)
{
	fputs("usage: ssmctl [--config PATH] token verify [--user USER] TOKEN|-\n"
	      "       ssmctl document validate FILE\n"
	      "       ssmctl [--config PATH] sessions [list]\n"
	      "       ssmctl [--config PATH] sessions terminate SID\n"
	      "       ssmctl sudo enable|disable|status [--user NAME]\n",
	      f);
}

static int usage_error(const char *fmt, ...) SSM_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ssmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return SSMCTL_USAGE;
}

/* Split a command's arguments into known options and positionals.  opts lists the option
 * names taking a value ("--config" is always accepted).  Returns 0, or SSMCTL_USAGE after
 * printing why. */
struct parsed {
	const char *user;
	const char *pos[4];
	int npos;
};

static int parse_args(int argc, char **argv, int allow_user, int maxpos, struct parsed *p)
{
	int i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--config") == 0 || (allow_user && strcmp(a, "--user") == 0)) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			if (a[2] == 'c')
				config_path = argv[++i];
			else
				p->user = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			config_path = a + 9;
		} else if (allow_user && strncmp(a, "--user=", 7) == 0) {
			p->user = a + 7;
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error("unknown option %s", a);
		} else {
			if (p->npos >= maxpos || p->npos >= 4)
				return usage_error("unexpected argument %s", a);
			p->pos[p->npos++] = a;
		}
	}
	return 0;
}

static int load_config(struct ssm_config **pcfg)
{
	char err[512] = "";
	int r;

	r = ssm_config_load(config_path, pcfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ssmctl: configuration unusable: %s\n",
			err[0] ? err : strerror(-r));
		return SSMCTL_USAGE;
	}
	return 0;
}

/* ------------------------------------------------------------------ token verify */

/* Read the token from stdin: at most SSM_TOKEN_MAX_LEN bytes plus one line ending. */
static int read_token_stdin(char *buf, size_t bufsz, size_t *plen)
{
	size_t len = 0;

	while (len < bufsz - 1) {
		ssize_t n = read(STDIN_FILENO, buf + len, bufsz - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	*plen = len;
	return 0;
}

static int cmd_token_verify(int argc, char **argv)
{
	char buf[SSM_TOKEN_MAX_LEN + 4], reason[512] = "", err[512] = "";
	struct ssm_config *cfg = NULL;
	struct ssm_jwks *keys = NULL;
	struct ssm_token *tok = NULL;
	const char *token;
	char *json = NULL;
	struct parsed p;
	size_t len = 0;
	int ret, r;

	ret = parse_args(argc, argv, 1, 1, &p);
	if (ret != 0)
		return ret;
	if (p.npos != 1)
		return usage_error("%s", "token verify needs TOKEN or - (standard input)");
	if (strcmp(p.pos[0], "-") == 0) {
		r = read_token_stdin(buf, sizeof(buf), &len);
		if (r < 0) {
			fprintf(stderr, "ssmctl: cannot read standard input: %s\n", strerror(-r));
			ret = SSMCTL_USAGE;
			goto out;
		}
		token = buf;
	} else {
		token = p.pos[0];
		len = strnlen(token, SSM_TOKEN_MAX_LEN + 1);
	}
	ret = load_config(&cfg);
	if (ret != 0)
		goto out;
	r = ssm_jwks_load(cfg->trusted_keys, &keys, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ssmctl: trusted keys unusable: %s\n", err[0] ? err : strerror(-r));
		ret = SSMCTL_USAGE;
		goto out;
	}
	ret = SSMCTL_REFUSED;
	if (len > SSM_TOKEN_MAX_LEN) {
		fprintf(stderr, "ssmctl: token refused: longer than %d bytes\n", SSM_TOKEN_MAX_LEN);
		goto out;
	}
	{
		const struct ssm_verify_ctx ctx = {
			.cfg = cfg, .keys = keys, .now = ssm_now(), .user = p.user,
		};
		r = ssm_token_verify(&ctx, token, len, &tok, NULL, reason, sizeof(reason));
	}
	if (r == SSM_TOKEN_REFUSED) {
		fprintf(stderr, "ssmctl: token refused: %s\n", reason);
		goto out;
	} else if (r < 0) {
		fprintf(stderr, "ssmctl: cannot verify: %s\n", reason[0] ? reason : strerror(-r));
		ret = SSMCTL_USAGE;
		goto out;
	}
	if (ssm_token_check_account(cfg, tok, reason, sizeof(reason)) != 0) {
		fprintf(stderr, "ssmctl: token refused by the account step: %s\n", reason);
		goto out;
	}
	/* never records: verifying a token must not use it up */
	r = ssm_replay_seen(cfg->state_dir, tok->jti, ssm_now());
	if (r == 1)
		fprintf(stderr, "ssmctl: note: this token's jti was already used: a login with it "
				"would be refused as a replay\n");
	json = ssm_token_claims_json(tok);
	if (json == NULL) {
		fprintf(stderr, "ssmctl: out of memory\n");
		ret = SSMCTL_USAGE;
		goto out;
	}
	printf("%s\n", json);
	ret = fflush(stdout) == 0 ? SSMCTL_OK : SSMCTL_USAGE;
out:
	explicit_bzero(buf, sizeof(buf));
	free(json);
	ssm_token_free(tok);
	ssm_jwks_free(keys);
	ssm_config_free(cfg);
	return ret;
}

/* ------------------------------------------------------------------ document validate */

static void print_warning(void *ctx, const char *msg)
{
	fprintf(stderr, "ssmctl: warning: %s: %s\n", (const char *)ctx, msg);
}

static int cmd_document_validate(int argc, char **argv)
{
	char err[512] = "", name[160];
	struct ssm_document *doc = NULL;
	const char *base, *namearg = NULL;
	char *buf = NULL;
	struct parsed p;
	size_t len, blen;
	int ret, r;

	ret = parse_args(argc, argv, 0, 1, &p);
	if (ret != 0)
		return ret;
	if (p.npos != 1)
		return usage_error("%s", "document validate needs FILE");
	r = ssm_read_file(p.pos[0], SSM_DOCUMENT_MAX_SIZE, 0, &buf, &len, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ssmctl: %s\n", err[0] ? err : strerror(-r));
		return SSMCTL_REFUSED;
	}
	/* the name the host would know it by: the file name without .json */
	base = strrchr(p.pos[0], '/');
	base = base ? base + 1 : p.pos[0];
	blen = strlen(base);
	if (blen > 5 && blen - 5 < sizeof(name) && strcmp(base + blen - 5, ".json") == 0) {
		memcpy(name, base, blen - 5);
		name[blen - 5] = '\0';
		if (ssm_document_name_valid(name))
			namearg = name;
		else
			fprintf(stderr, "ssmctl: warning: %s: \"%s\" is not a valid document name "
					"(3 to 128 of [A-Za-z0-9_.-])\n", p.pos[0], name);
	}
	r = ssm_document_parse(buf, len, namearg, &doc, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ssmctl: %s: invalid document: %s\n", p.pos[0],
			err[0] ? err : strerror(-r));
		ret = SSMCTL_REFUSED;
		goto out;
	}
	(void)ssm_document_warnings(doc, print_warning, (void *)p.pos[0]);
	printf("%s: valid %s document, sha256 %s\n", p.pos[0], ssm_session_type_name(doc->type),
	       doc->sha256);
	ret = SSMCTL_OK;
out:
	ssm_document_free(doc);
	free(buf);
	return ret;
}

/* ------------------------------------------------------------------ sessions */

struct list_ctx {
	const char *run_dir;
	int n;
};

static int list_one(void *vctx, const char *path, const struct ssm_record *rec)
{
	struct list_ctx *c = vctx;
	char created[32], esc[5][SSM_LOG_ESCAPE_BUFSZ];
	pid_t recorder = 0;

	(void)path;
	ssm_rfc3339(rec->created, created);
	if (ssm_live_lookup(c->run_dir, rec->sid, &recorder) < 0)
		recorder = 0;
	if (c->n++ == 0)
		printf("%-40s %-20s %-16s %-24s %8s %8s %s\n", "SID", "SUB", "RUN_AS", "DOCUMENT",
		       "PID", "SHELL", "STARTED");
	printf("%-40s %-20s %-16s %-24s %8ld %8s %s\n",
	       ssm_log_escape(rec->sid, esc[0], sizeof(esc[0])),
	       ssm_log_escape(rec->sub, esc[1], sizeof(esc[1])),
	       ssm_log_escape(rec->run_as, esc[2], sizeof(esc[2])),
	       ssm_log_escape(rec->doc_name, esc[3], sizeof(esc[3])), (long)rec->pid,
	       recorder > 0 ? (snprintf(esc[4], sizeof(esc[4]), "%ld", (long)recorder), esc[4])
			    : "-",
	       created);
	return 0;
}

static int sid_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("_+=,.@-", c) != NULL;
}

static int cmd_sessions(int argc, char **argv)
{
	struct ssm_config *cfg = NULL;
	struct list_ctx lc = { 0 };
	struct parsed p;
	pid_t pid = 0;
	int ret, r;

	ret = parse_args(argc, argv, 0, 2, &p);
	if (ret != 0)
		return ret;
	if (p.npos == 0 || strcmp(p.pos[0], "list") == 0) {
		if (p.npos > 1)
			return usage_error("unexpected argument %s", p.pos[1]);
		ret = load_config(&cfg);
		if (ret != 0)
			goto out;
		lc.run_dir = cfg->run_dir;
		r = ssm_record_foreach(cfg->run_dir, list_one, &lc);
		if (r < 0 && r != -ENOENT) {
			fprintf(stderr, "ssmctl: cannot list %s/sessions: %s\n", cfg->run_dir,
				strerror(-r));
			ret = SSMCTL_USAGE;
			goto out;
		}
		if (lc.n == 0)
			printf("no live sessions\n");
		ret = SSMCTL_OK;
	} else if (strcmp(p.pos[0], "terminate") == 0) {
		if (p.npos != 2)
			return usage_error("%s", "sessions terminate needs SID");
		/* the sid names a file: same rule as the token's sid characters */
		if (!ssm_str_charset(p.pos[1], 10, 97, sid_char))
			return usage_error("invalid session id %s", p.pos[1]);
		ret = load_config(&cfg);
		if (ret != 0)
			goto out;
		r = ssm_live_lookup(cfg->run_dir, p.pos[1], &pid);
		if (r < 0 || pid <= 1) {
			fprintf(stderr, "ssmctl: no live session %s\n", p.pos[1]);
			ret = SSMCTL_REFUSED;
			goto out;
		}
		if (kill(pid, SIGTERM) != 0) {
			fprintf(stderr, "ssmctl: cannot signal the recorder of %s (pid %ld): %s\n",
				p.pos[1], (long)pid, strerror(errno));
			ret = SSMCTL_REFUSED;
			goto out;
		}
		{
			cJSON *extra = cJSON_CreateObject();
			if (extra != NULL && cJSON_AddStringToObject(extra, "sid", p.pos[1]) &&
			    cJSON_AddNumberToObject(extra, "by_uid", (double)getuid()))
				(void)ssm_audit_write(cfg->log_dir, ssm_now(), cfg->host_id,
						      "terminate_requested", NULL, extra);
			cJSON_Delete(extra);
		}
		printf("sent SIGTERM to the recorder of %s (pid %ld)\n", p.pos[1], (long)pid);
		ret = SSMCTL_OK;
	} else {
		return usage_error("unknown sessions command %s", p.pos[0]);
	}
out:
	ssm_config_free(cfg);
	return ret;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	int i = 1;

	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	/* global options before the command */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_path = argv[i] + 9;
			i++;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return SSMCTL_OK;
		} else {
			return usage_error("unknown option %s", argv[i]);
		}
	}
	if (i >= argc)
		return usage_error("%s", "missing command");
	if (strcmp(argv[i], "token") == 0) {
		if (i + 1 >= argc || strcmp(argv[i + 1], "verify") != 0)
			return usage_error("%s", "token needs: verify");
		return cmd_token_verify(argc - i - 2, argv + i + 2);
	}
	if (strcmp(argv[i], "document") == 0) {
		if (i + 1 >= argc || strcmp(argv[i + 1], "validate") != 0)
			return usage_error("%s", "document needs: validate");
		return cmd_document_validate(argc - i - 2, argv + i + 2);
	}
	if (strcmp(argv[i], "sessions") == 0)
		return cmd_sessions(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "sudo") == 0)
		return ssmctl_sudo(argc - i - 1, argv + i + 1);
	return usage_error("unknown command %s", argv[i]);
}
