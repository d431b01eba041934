/* ssmctl.c - the administrator's tool (SPEC section 7).
 *
 *   ssmctl [--config PATH] token verify [--json] [--user U] TOKEN|-
 *   ssmctl document validate [--json] FILE
 *   ssmctl [--config PATH] sessions [list] [--json]
 *   ssmctl [--config PATH] sessions terminate SID
 *   ssmctl sudo enable [--for DURATION] | disable | status [--json] [--user NAME]
 *   ssmctl sudo expire
 *   ssmctl [--config PATH] user ensure [--user NAME] [--sudo|--no-sudo] [--force]
 *   ssmctl [--config PATH] config check [--json]
 *   ssmctl --version
 *
 * Exit 0 ok, 1 refused or what was asked about is wrong, 2 usage or configuration error. */
#include "config.h" /* lib/config.h */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "document.h"
#include "jwk.h"
#include "json.h"
#include "jws.h"
#include "log.h"
#include "record.h"
#include "replay.h"
#include "token.h"
#include "util.h"
#include "ssmctl.h"

const char *ssmctl_config_path = SSM_DEFAULT_CONFIG;

static void usage(FILE *f)
{
	fputs("usage: ssmctl [--config PATH] token verify [--json] [--user USER] TOKEN|-\n"
	      "       ssmctl document validate [--json] FILE\n"
	      "       ssmctl [--config PATH] sessions [list] [--json]\n"
	      "       ssmctl [--config PATH] sessions terminate SID\n"
	      "       ssmctl [--config PATH] sudo enable [--for DURATION] [--user NAME]\n"
	      "       ssmctl [--config PATH] sudo disable [--user NAME]\n"
	      "       ssmctl sudo status [--json] [--user NAME]\n"
	      "       ssmctl [--config PATH] sudo expire\n"
	      "       ssmctl [--config PATH] user ensure [--user NAME] [--sudo|--no-sudo] [--force]\n"
	      "       ssmctl [--config PATH] config check [--json]\n"
	      "       ssmctl register --broker URL --ca FILE --activation-id ID\n"
	      "              --activation-code CODE [--config PATH]\n"
	      "       ssmctl register --broker URL --ca FILE --ec2 [--imds URL]\n"
	      "              [--ec2-signature pkcs7|rsa2048] [--config PATH]\n"
	      "       ssmctl --version\n",
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
	int json; /* --json */
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
				ssmctl_config_path = argv[++i];
			else
				p->user = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			ssmctl_config_path = a + 9;
		} else if (allow_user && strncmp(a, "--user=", 7) == 0) {
			p->user = a + 7;
		} else if (strcmp(a, "--json") == 0) {
			p->json = 1;
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

	r = ssm_config_load(ssmctl_config_path, pcfg, err, sizeof(err));
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
	int ret, r, used = 0;
	char why[600] = "";

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
		snprintf(why, sizeof(why), "longer than %d bytes", SSM_TOKEN_MAX_LEN);
		fprintf(stderr, "ssmctl: token refused: %s\n", why);
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
		snprintf(why, sizeof(why), "%s", reason);
		goto out;
	} else if (r < 0) {
		fprintf(stderr, "ssmctl: cannot verify: %s\n", reason[0] ? reason : strerror(-r));
		ret = SSMCTL_USAGE;
		goto out;
	}
	if (ssm_token_check_account(cfg, tok, reason, sizeof(reason)) != 0) {
		fprintf(stderr, "ssmctl: token refused by the account step: %s\n", reason);
		snprintf(why, sizeof(why), "account: %s", reason);
		goto out;
	}
	/* never records: verifying a token must not use it up */
	r = ssm_replay_seen(cfg->state_dir, tok->jti, ssm_now());
	used = r == 1;
	if (r == 1)
		fprintf(stderr, "ssmctl: note: this token's jti was already used: a login with it "
				"would be refused as a replay\n");
	json = ssm_token_claims_json(tok);
	if (json == NULL) {
		fprintf(stderr, "ssmctl: out of memory\n");
		ret = SSMCTL_USAGE;
		goto out;
	}
	if (p.json) {
		/* {"valid": true, "jti_used": B, "claims": {...}} */
		cJSON *o = cJSON_CreateObject(), *claims = cJSON_Parse(json);
		char *text = NULL;

		if (o != NULL && claims != NULL && cJSON_AddBoolToObject(o, "valid", 1) &&
		    cJSON_AddBoolToObject(o, "jti_used", used)) {
			cJSON_AddItemToObject(o, "claims", claims);
			claims = NULL;
			text = cJSON_PrintUnformatted(o);
		}
		cJSON_Delete(claims);
		cJSON_Delete(o);
		if (text == NULL) {
			fprintf(stderr, "ssmctl: out of memory\n");
			ret = SSMCTL_USAGE;
			goto out;
		}
		printf("%s\n", text);
		cJSON_free(text);
	} else {
		printf("%s\n", json);
	}
	ret = fflush(stdout) == 0 ? SSMCTL_OK : SSMCTL_USAGE;
out:
	if (p.json && ret == SSMCTL_REFUSED) {
		/* {"valid": false, "reason": "..."} (the same line as on standard error) */
		cJSON *o = cJSON_CreateObject();
		char *text = NULL;

		if (o != NULL && cJSON_AddBoolToObject(o, "valid", 0) &&
		    cJSON_AddStringToObject(o, "reason", why))
			text = cJSON_PrintUnformatted(o);
		if (text != NULL)
			printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(o);
	}
	explicit_bzero(buf, sizeof(buf));
	free(json);
	ssm_token_free(tok);
	ssm_jwks_free(keys);
	ssm_config_free(cfg);
	return ret;
}

/* ------------------------------------------------------------------ document validate */

struct warn_ctx {
	const char *file;
	cJSON *arr; /* --json: warnings collected here */
};

static void print_warning(void *vctx, const char *msg)
{
	struct warn_ctx *w = vctx;

	if (w->arr != NULL)
		cJSON_AddItemToArray(w->arr, cJSON_CreateString(msg));
	else
		fprintf(stderr, "ssmctl: warning: %s: %s\n", w->file, msg);
}

/* --json: {"file", "valid", "name", "session_type", "sha256", "warnings", "error"} */
static int print_validate_json(const char *file, const char *name,
			       const struct ssm_document *doc, cJSON *warnings, const char *error)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	if (o != NULL) {
		cJSON_AddStringToObject(o, "file", file);
		cJSON_AddBoolToObject(o, "valid", doc != NULL);
		if (name != NULL)
			cJSON_AddStringToObject(o, "name", name);
		else
			cJSON_AddNullToObject(o, "name");
		if (doc != NULL) {
			cJSON_AddStringToObject(o, "session_type", ssm_session_type_name(doc->type));
			cJSON_AddStringToObject(o, "sha256", doc->sha256);
		} else {
			cJSON_AddNullToObject(o, "session_type");
			cJSON_AddNullToObject(o, "sha256");
		}
		cJSON_AddItemToObject(o, "warnings", warnings ? warnings : cJSON_CreateArray());
		if (error != NULL)
			cJSON_AddStringToObject(o, "error", error);
		else
			cJSON_AddNullToObject(o, "error");
		text = cJSON_PrintUnformatted(o);
	} else {
		cJSON_Delete(warnings);
	}
	if (text != NULL)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(o);
	return text != NULL ? 0 : -1;
}

static int cmd_document_validate(int argc, char **argv)
{
	char err[512] = "", name[160], why[640];
	struct ssm_document *doc = NULL;
	const char *base, *namearg = NULL;
	struct warn_ctx w = { 0 };
	char *buf = NULL;
	struct parsed p;
	size_t len, blen;
	int ret, r;

	ret = parse_args(argc, argv, 0, 1, &p);
	if (ret != 0)
		return ret;
	if (p.npos != 1)
		return usage_error("%s", "document validate needs FILE");
	w.file = p.pos[0];
	if (p.json)
		w.arr = cJSON_CreateArray();
	r = ssm_read_file(p.pos[0], SSM_DOCUMENT_MAX_SIZE, 0, &buf, &len, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ssmctl: %s\n", err[0] ? err : strerror(-r));
		if (p.json)
			(void)print_validate_json(p.pos[0], NULL, NULL, w.arr,
						  err[0] ? err : strerror(-r));
		else
			cJSON_Delete(w.arr);
		return SSMCTL_REFUSED;
	}
	/* the name the host would know it by: the file name without .json */
	base = strrchr(p.pos[0], '/');
	base = base ? base + 1 : p.pos[0];
	blen = strlen(base);
	if (blen > 5 && blen - 5 < sizeof(name) && strcmp(base + blen - 5, ".json") == 0) {
		memcpy(name, base, blen - 5);
		name[blen - 5] = '\0';
		if (ssm_document_name_valid(name)) {
			namearg = name;
		} else {
			snprintf(why, sizeof(why), "\"%s\" is not a valid document name (3 to 128 "
						   "of [A-Za-z0-9_.-])", name);
			print_warning(&w, why);
		}
	}
	r = ssm_document_parse(buf, len, namearg, &doc, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ssmctl: %s: invalid document: %s\n", p.pos[0],
			err[0] ? err : strerror(-r));
		if (p.json)
			(void)print_validate_json(p.pos[0], namearg, NULL, w.arr,
						  err[0] ? err : strerror(-r));
		else
			cJSON_Delete(w.arr);
		ret = SSMCTL_REFUSED;
		goto out;
	}
	(void)ssm_document_warnings(doc, print_warning, &w);
	if (p.json) {
		ret = print_validate_json(p.pos[0], namearg, doc, w.arr, NULL) == 0 ? SSMCTL_OK
										     : SSMCTL_USAGE;
		goto out;
	}
	printf("%s: valid %s document, sha256 %s\n", p.pos[0], ssm_session_type_name(doc->type),
	       doc->sha256);
	ret = SSMCTL_OK;
out:
	ssm_document_free(doc);
	free(buf);
	return ret;
}

/* ------------------------------------------------------------------ sessions */

/* One live session as `sessions list` shows it. */
struct sess {
	char *sid, *sub, *run_as, *doc, *service, *rhost, *pam_tty;
	char doc_sha256[65];
	char tty[64];         /* the client's terminal device, "" if none known */
	int64_t created, exp, idle; /* idle -1: unknown (no terminal) */
	pid_t pid, recorder;
};

struct list_ctx {
	const char *run_dir;
	struct sess *v;
	size_t n;
	int oom;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The controlling terminal of pid as a device path (/dev/pts/N, /dev/ttyN, /dev/ttySN)
 * checked against the device numbers of /proc/PID/stat field 7; "" when it has none. */
static void proc_tty(pid_t pid, char *out, size_t outsz)
{
	char path[64], buf[1024];
	unsigned long long nr = 0;
	unsigned maj, min;
	const char *q;
	struct stat st;
	ssize_t n;
	int fd, field;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	q = strrchr(buf, ')'); /* the command name may hold anything */
	if (q == NULL)
		return;
	q++;
	for (field = 3; field < 7 && q != NULL; field++)
		q = strchr(q + 1, ' ');
	if (q == NULL || sscanf(q + 1, "%llu", &nr) != 1 || nr == 0)
		return;
	maj = (unsigned)((nr >> 8) & 0xfff);
	min = (unsigned)((nr & 0xff) | ((nr >> 12) & 0xfff00));
	if (maj >= 136 && maj <= 143)
		snprintf(path, sizeof(path), "/dev/pts/%u", min + (maj - 136) * 256);
	else if (maj == 4 && min < 64)
		snprintf(path, sizeof(path), "/dev/tty%u", min);
	else if (maj == 4)
		snprintf(path, sizeof(path), "/dev/ttyS%u", min - 64);
	else
		return;
	if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(maj, min))
		return;
	snprintf(out, outsz, "%s", path);
}

static int list_one(void *vctx, const char *path, const struct ssm_record *rec)
{
	struct list_ctx *c = vctx;
	struct sess *v, *e;
	struct stat st;

	(void)path;
	v = realloc(c->v, (c->n + 1) * sizeof(*v));
	if (v == NULL) {
		c->oom = 1;
		return 1;
	}
	c->v = v;
	e = &v[c->n];
	memset(e, 0, sizeof(*e));
	e->sid = dup_or_null(rec->sid);
	e->sub = dup_or_null(rec->sub);
	e->run_as = dup_or_null(rec->run_as);
	e->doc = dup_or_null(rec->doc_name);
	e->service = dup_or_null(rec->service);
	e->rhost = dup_or_null(rec->rhost);
	e->pam_tty = dup_or_null(rec->tty);
	c->n++;
	if (e->sid == NULL || e->sub == NULL || e->run_as == NULL || e->doc == NULL) {
		c->oom = 1;
		return 1;
	}
	memcpy(e->doc_sha256, rec->doc_sha256, sizeof(e->doc_sha256));
	e->created = rec->created;
	e->exp = rec->exp;
	e->pid = rec->pid;
	e->idle = -1;
	if (ssm_live_lookup(c->run_dir, rec->sid, &e->recorder) < 0)
		e->recorder = 0;
	/* the client's terminal: ssm-shell's (the recorder reads the client's input from it);
	 * idle: since the kernel last saw it read, its atime, as w(1) reports it */
	if (e->recorder > 0)
		proc_tty(e->recorder, e->tty, sizeof(e->tty));
	if (e->tty[0] != '\0' && stat(e->tty, &st) == 0) {
		e->idle = ssm_now() - (int64_t)st.st_atime;
		if (e->idle < 0)
			e->idle = 0;
	}
	return 0;
}

/* Sessions whose record does not hold the PAM service and remote host (records written
 * before those members existed): take them from their session_start audit event, looked
 * for in the last 8 MiB of the audit log. */
static void sources_from_audit(const char *log_dir, struct sess *v, size_t n)
{
	char path[4096], *buf, *line, *next;
	size_t i, missing = 0, len = 0;
	struct stat st;
	off_t from;
	ssize_t r;
	int fd;

	for (i = 0; i < n; i++)
		if (v[i].service == NULL)
			missing++;
	if (missing == 0 || snprintf(path, sizeof(path), "%s/audit.jsonl", log_dir) >=
				    (int)sizeof(path))
		return;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (buf = malloc(8 * 1024 * 1024 + 1)) == NULL) {
		close(fd);
		return;
	}
	from = st.st_size > 8 * 1024 * 1024 ? st.st_size - 8 * 1024 * 1024 : 0;
	while (len < 8 * 1024 * 1024 &&
	       (r = pread(fd, buf + len, 8 * 1024 * 1024 - len, from + (off_t)len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		cJSON *o;
		const char *sid, *sv, *rh;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strstr(line, "\"event\":\"session_start\"") == NULL)
			continue;
		o = cJSON_Parse(line);
		if (o != NULL && ssm_json_get_string(o, "sid", &sid) == 0) {
			for (i = 0; i < n; i++) {
				if (v[i].service != NULL || strcmp(v[i].sid, sid) != 0)
					continue;
				if (ssm_json_get_string(o, "service", &sv) == 0)
					v[i].service = strdup(sv);
				if (ssm_json_get_string(o, "rhost", &rh) == 0 && v[i].rhost == NULL)
					v[i].rhost = strdup(rh);
			}
		}
		cJSON_Delete(o);
	}
	free(buf);
}

static void sess_free(struct sess *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].sid);
		free(v[i].sub);
		free(v[i].run_as);
		free(v[i].doc);
		free(v[i].service);
		free(v[i].rhost);
		free(v[i].pam_tty);
	}
	free(v);
}

static int sess_cmp(const void *a, const void *b)
{
	const struct sess *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->sid, y->sid);
}

static void add_str_or_null(cJSON *o, const char *name, const char *val)
{
	if (val != NULL && val[0] != '\0')
		cJSON_AddStringToObject(o, name, val);
	else
		cJSON_AddNullToObject(o, name);
}

/* "SERVICE@RHOST", "SERVICE" or "-" */
static void source_text(const struct sess *e, char *out, size_t outsz)
{
	if (e->service != NULL && e->rhost != NULL)
		snprintf(out, outsz, "%s@%s", e->service, e->rhost);
	else if (e->service != NULL)
		snprintf(out, outsz, "%s", e->service);
	else if (e->rhost != NULL)
		snprintf(out, outsz, "@%s", e->rhost);
	else
		snprintf(out, outsz, "-");
}

static int print_sessions(const struct list_ctx *lc, int json)
{
	char created[32], esc[8][SSM_LOG_ESCAPE_BUFSZ], src[600], idle[32];
	size_t i;

	if (json) {
		cJSON *arr = cJSON_CreateArray();
		char *text;

		for (i = 0; arr != NULL && i < lc->n; i++) {
			const struct sess *e = &lc->v[i];
			cJSON *o = cJSON_CreateObject();

			if (o == NULL)
				break;
			ssm_rfc3339(e->created, created);
			source_text(e, src, sizeof(src));
			cJSON_AddStringToObject(o, "sid", e->sid);
			cJSON_AddStringToObject(o, "sub", e->sub);
			cJSON_AddStringToObject(o, "run_as", e->run_as);
			cJSON_AddStringToObject(o, "document", e->doc);
			cJSON_AddStringToObject(o, "doc_sha256", e->doc_sha256);
			add_str_or_null(o, "service", e->service);
			add_str_or_null(o, "rhost", e->rhost);
			add_str_or_null(o, "source", strcmp(src, "-") ? src : NULL);
			add_str_or_null(o, "tty", e->tty[0] ? e->tty : NULL);
			add_str_or_null(o, "pam_tty", e->pam_tty);
			cJSON_AddNumberToObject(o, "pid", (double)e->pid);
			if (e->recorder > 0)
				cJSON_AddNumberToObject(o, "recorder_pid", (double)e->recorder);
			else
				cJSON_AddNullToObject(o, "recorder_pid");
			cJSON_AddStringToObject(o, "started", created);
			cJSON_AddNumberToObject(o, "started_epoch", (double)e->created);
			cJSON_AddNumberToObject(o, "exp", (double)e->exp);
			if (e->idle >= 0)
				cJSON_AddNumberToObject(o, "idle_seconds", (double)e->idle);
			else
				cJSON_AddNullToObject(o, "idle_seconds");
			cJSON_AddItemToArray(arr, o);
		}
		text = arr ? cJSON_PrintUnformatted(arr) : NULL;
		cJSON_Delete(arr);
		if (text == NULL) {
			fprintf(stderr, "ssmctl: out of memory\n");
			return SSMCTL_USAGE;
		}
		printf("%s\n", text);
		cJSON_free(text);
		return SSMCTL_OK;
	}
	if (lc->n == 0) {
		printf("no live sessions\n");
		return SSMCTL_OK;
	}
	printf("%-40s %-16s %-16s %-24s %-24s %-12s %-20s %s\n", "SID", "SUB", "RUN_AS",
	       "DOCUMENT", "SOURCE", "TTY", "STARTED", "IDLE");
	for (i = 0; i < lc->n; i++) {
		const struct sess *e = &lc->v[i];

		ssm_rfc3339(e->created, created);
		source_text(e, src, sizeof(src));
		if (e->idle < 0)
			snprintf(idle, sizeof(idle), "-");
		else if (e->idle < 60)
			snprintf(idle, sizeof(idle), "%llds", (long long)e->idle);
		else if (e->idle < 3600)
			snprintf(idle, sizeof(idle), "%lldm%02llds", (long long)(e->idle / 60),
				 (long long)(e->idle % 60));
		else
			snprintf(idle, sizeof(idle), "%lldh%02lldm", (long long)(e->idle / 3600),
				 (long long)(e->idle % 3600 / 60));
		printf("%-40s %-16s %-16s %-24s %-24s %-12s %-20s %s\n",
		       ssm_log_escape(e->sid, esc[0], sizeof(esc[0])),
		       ssm_log_escape(e->sub, esc[1], sizeof(esc[1])),
		       ssm_log_escape(e->run_as, esc[2], sizeof(esc[2])),
		       ssm_log_escape(e->doc, esc[3], sizeof(esc[3])),
		       ssm_log_escape(src, esc[4], sizeof(esc[4])),
		       e->tty[0] ? e->tty + 5 /* without /dev/ */
				 : (e->pam_tty ? ssm_log_escape(e->pam_tty, esc[5], sizeof(esc[5]))
					       : "-"),
		       created, idle);
	}
	return SSMCTL_OK;
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
		/* records hold each token's jti and parameters: root's business only */
		if (geteuid() != 0) {
			fprintf(stderr, "ssmctl: sessions list is for root only (the session records "
					"are root's)\n");
			ret = SSMCTL_REFUSED;
			goto out;
		}
		lc.run_dir = cfg->run_dir;
		r = ssm_record_foreach(cfg->run_dir, list_one, &lc);
		if (lc.oom) {
			fprintf(stderr, "ssmctl: out of memory\n");
			ret = SSMCTL_USAGE;
			goto out;
		}
		if (r < 0 && r != -ENOENT) {
			fprintf(stderr, "ssmctl: cannot list %s/sessions: %s\n", cfg->run_dir,
				strerror(-r));
			ret = SSMCTL_USAGE;
			goto out;
		}
		sources_from_audit(cfg->log_dir, lc.v, lc.n);
		if (lc.n > 1)
			qsort(lc.v, lc.n, sizeof(*lc.v), sess_cmp);
		ret = print_sessions(&lc, p.json);
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
	sess_free(lc.v, lc.n);
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
			ssmctl_config_path = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			ssmctl_config_path = argv[i] + 9;
			i++;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return SSMCTL_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("ssmctl (%s) %s\nconfiguration: %s\nssm-shell: %s/ssm-shell\n",
			       PACKAGE_NAME, PACKAGE_VERSION, SSM_DEFAULT_CONFIG, SSM_BINDIR);
			return fflush(stdout) == 0 ? SSMCTL_OK : SSMCTL_USAGE;
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
	if (strcmp(argv[i], "user") == 0)
		return ssmctl_user(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "config") == 0)
		return ssmctl_config_check(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "register") == 0)
		return ssmctl_register(argc - i - 1, argv + i + 1);
	return usage_error("unknown command %s", argv[i]);
}
