/* users.c - ssm-broker's users, groups and their IAM policies (SPEC section 9; issue 8
 * point 3), the administration side:
 *
 *   ssm-broker user add NAME [--group G]... [--totp]   (the password on standard input)
 *   ssm-broker user list [--json]
 *   ssm-broker user passwd NAME                        (the new password on standard input)
 *   ssm-broker user del NAME
 *   ssm-broker user set-run-as NAME OSUSER|--clear     (the OS user of NAME's sessions)
 *   ssm-broker group add NAME
 *   ssm-broker policy attach --user NAME|--group NAME FILE
 *
 * (each with [--state-dir DIR]).  Passwords are stored as crypt(3) yescrypt hashes
 * (libxcrypt, "$y$" with a random salt); a TOTP secret (RFC 6238, 160 random bits) is
 * printed once, as base32 and as an otpauth:// URI for an authenticator app.  A policy is
 * stored as the JSON text given, once lib/iam.c has parsed it. */
#include "brokerd.h"
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "../lib/config.h" /* ssm_config_user_name_valid (autoconf's config.h shares the name) */
#include "iam.h"
#include "log.h"
#include "totp.h"
#include "util.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024
#define POLICY_NAME_MAX 128

static const char users_schema[] =
	"CREATE TABLE IF NOT EXISTS users("
	" name TEXT PRIMARY KEY,"
	" id TEXT NOT NULL UNIQUE,"           /* AIDA and 17 upper-case hex: aws:userid */
	" pw_hash TEXT NOT NULL,"             /* crypt(3), yescrypt */
	" totp_secret TEXT,"                  /* base32, NULL without TOTP */
	" totp_last_step INTEGER NOT NULL DEFAULT 0," /* the last step a code was accepted for */
	" created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS groups(name TEXT PRIMARY KEY, created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS group_members(group_name TEXT NOT NULL, user_name TEXT NOT NULL,"
	" PRIMARY KEY(group_name, user_name));"
	"CREATE TABLE IF NOT EXISTS policies("
	" kind TEXT NOT NULL CHECK(kind IN ('user', 'group')),"
	" owner TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" document TEXT NOT NULL,"            /* the policy's JSON text, as attached */
	" attached INTEGER NOT NULL,"
	" PRIMARY KEY(kind, owner, name));"
	/* the OS user a user's sessions run as (AWS: the SSMSessionRunAs principal tag) */
	"CREATE TABLE IF NOT EXISTS user_run_as(user_name TEXT PRIMARY KEY, os_user TEXT NOT NULL);";

int users_schema_ensure(sqlite3 *db)
{
	char *msg = NULL;

	if (sqlite3_exec(db, users_schema, NULL, NULL, &msg) != SQLITE_OK) {
		ssm_log(LOG_ERR, "database: cannot create the users' tables: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* IAM's user and group names: [A-Za-z0-9+=,.@_-], 1..64 (groups 1..128) */
static int iam_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("+=,.@_-", c) != NULL;
}

int users_name_valid(const char *name, size_t max)
{
	return name != NULL && ssm_str_charset(name, 1, max, iam_name_char);
}

static int exists(sqlite3 *db, const char *sql, const char *name)
{
	sqlite3_stmt *st = brokerd_prep(db, sql);
	int r;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -EIO;
}

static int user_exists(sqlite3 *db, const char *name)
{
	return exists(db, "SELECT 1 FROM users WHERE name = ?1", name);
}

static int group_exists(sqlite3 *db, const char *name)
{
	return exists(db, "SELECT 1 FROM groups WHERE name = ?1", name);
}

static int exec1(sqlite3 *db, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st = brokerd_prep(db, sql);
	int r;

	if (st == NULL)
		return -EIO;
	if (a != NULL)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	if (r < 0)
		ssm_log(LOG_ERR, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

/* Read the password: one line from standard input (a terminal or a pipe), without its
 * newline; PASSWORD_MIN..PASSWORD_MAX bytes, no control characters. */
static int read_password(char *pw, size_t size)
{
	size_t n = 0, i;
	ssize_t r;
	char c;

	if (isatty(STDIN_FILENO))
		fputs("Password (the input is shown; pipe it in to hide it): ", stderr);
	while (n + 1 < size) {
		r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		pw[n++] = c;
	}
	pw[n] = '\0';
	if (n > 0 && pw[n - 1] == '\r')
		pw[--n] = '\0';
	if (n + 1 >= size) {
		fprintf(stderr, "ssm-broker: the password is longer than %d bytes\n", PASSWORD_MAX);
		return -EINVAL;
	}
	if (n < PASSWORD_MIN) {
		fprintf(stderr, "ssm-broker: the password (one line on standard input) must have at "
				"least %d characters\n",
			PASSWORD_MIN);
		return -EINVAL;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)pw[i] < 0x20 || pw[i] == 0x7f) {
			fprintf(stderr, "ssm-broker: the password has a control character\n");
			return -EINVAL;
		}
	return 0;
}

/* yescrypt with a fresh salt (libxcrypt draws it from the kernel) */
static int hash_password(const char *pw, char *out, size_t size)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	int r = -EIO;

	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return -ENOMEM;
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL) {
		fprintf(stderr, "ssm-broker: crypt_gensalt_rn: %s\n", strerror(errno));
		goto out;
	}
	if (crypt_rn(pw, salt, cd, (int)sizeof(*cd)) == NULL || cd->output[0] == '*' ||
	    strlen(cd->output) + 1 > size) {
		fprintf(stderr, "ssm-broker: crypt_rn failed\n");
		goto out;
	}
	snprintf(out, size, "%s", cd->output);
	r = 0;
out:
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return r;
}

int users_check_password(const char *pw, const char *stored)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	size_t n;
	int ok = 0;

	if (cd == NULL)
		return -ENOMEM;
	if (crypt_rn(pw, stored, cd, (int)sizeof(*cd)) != NULL && cd->output[0] != '*') {
		n = strlen(stored);
		ok = strlen(cd->output) == n && CRYPTO_memcmp(cd->output, stored, n) == 0;
	}
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}

static int random_user_id(char out[32])
{
	unsigned char b[9];
	int i;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	memcpy(out, "AIDA", 4);
	for (i = 0; i < 9; i++)
		snprintf(out + 4 + 2 * i, 3, "%02X", b[i]);
	out[4 + 17] = '\0'; /* 17 hex digits after AIDA, like AWS's 21-character ids */
	return 0;
}

static void print_otpauth(const char *user, const char *b32)
{
	const char *p;

	printf("totp_secret: %s\n", b32);
	fputs("totp_uri: otpauth://totp/ssm-broker:", stdout);
	for (p = user; *p; p++) {
		if (isalnum((unsigned char)*p) || strchr("-._", *p))
			putchar(*p);
		else
			printf("%%%02X", (unsigned char)*p);
	}
	printf("?secret=%s&issuer=ssm-broker&algorithm=SHA1&digits=%d&period=%d\n", b32,
	       SSM_TOTP_DIGITS, SSM_TOTP_STEP);
}

static int parse_state_dir(int argc, char **argv, int *pi, const char **pdir)
{
	if (strcmp(argv[*pi], "--state-dir") == 0) {
		if (*pi + 1 >= argc)
			return -1;
		*pdir = argv[++*pi];
		return 1;
	}
	if (strncmp(argv[*pi], "--state-dir=", 12) == 0) {
		*pdir = argv[*pi] + 12;
		return 1;
	}
	return 0;
}

static int open_state(const char *dir, struct broker **pb)
{
	if (broker_open(dir, 0, pb) < 0)
		return -1;
	if (users_schema_ensure((*pb)->db) < 0) {
		broker_close(*pb);
		*pb = NULL;
		return -1;
	}
	return 0;
}

static int uerr(const char *msg, const char *arg)
{
	fprintf(stderr, "ssm-broker: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

static int user_add(const char *dir, const char *name, char **groups, size_t ngroups, int totp)
{
	struct broker *b = NULL;
	char pw[PASSWORD_MAX + 2], hash[CRYPT_OUTPUT_SIZE], id[32], b32[64] = "";
	unsigned char secret[SSM_TOTP_SECRET_BYTES];
	sqlite3_stmt *st = NULL;
	size_t i;
	int r, ret = 1;

	if (open_state(dir, &b) < 0)
		return 2;
	if ((r = user_exists(b->db, name)) != 0) {
		fprintf(stderr, "ssm-broker: %s\n",
			r > 0 ? "that user exists already" : "database error");
		goto out;
	}
	for (i = 0; i < ngroups; i++)
		if ((r = group_exists(b->db, groups[i])) <= 0) {
			fprintf(stderr, "ssm-broker: %s%s%s\n", r < 0 ? "database error" : "no group ",
				r < 0 ? "" : groups[i],
				r < 0 ? "" : " (create it with `ssm-broker group add`)");
			goto out;
		}
	if (read_password(pw, sizeof(pw)) < 0) {
		ret = 2;
		goto out;
	}
	if (hash_password(pw, hash, sizeof(hash)) < 0 || random_user_id(id) < 0)
		goto out;
	if (totp) {
		if (RAND_bytes(secret, sizeof(secret)) != 1)
			goto out;
		ssm_base32_encode(secret, sizeof(secret), b32, sizeof(b32));
	}
	if (exec1(b->db, "BEGIN IMMEDIATE", NULL, NULL) < 0)
		goto out;
	st = brokerd_prep(b->db, "INSERT INTO users(name, id, pw_hash, totp_secret, created)"
			 " VALUES(?1, ?2, ?3, ?4, ?5)");
	if (st == NULL)
		goto rollback;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	if (totp)
		sqlite3_bind_text(st, 4, b32, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, ssm_now());
	if (sqlite3_step(st) != SQLITE_DONE) {
		ssm_log(LOG_ERR, "database: %s", sqlite3_errmsg(b->db));
		goto rollback;
	}
	for (i = 0; i < ngroups; i++)
		if (exec1(b->db, "INSERT OR IGNORE INTO group_members(group_name, user_name)"
				 " VALUES(?1, ?2)",
			  groups[i], name) < 0)
			goto rollback;
	if (exec1(b->db, "COMMIT", NULL, NULL) < 0)
		goto rollback;
	printf("user: %s\nuser_id: %s\n", name, id);
	if (totp)
		print_otpauth(name, b32);
	ret = 0;
	goto out;
rollback:
	exec1(b->db, "ROLLBACK", NULL, NULL);
	fprintf(stderr, "ssm-broker: cannot add the user\n");
out:
	sqlite3_finalize(st);
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(b32, sizeof(b32));
	broker_close(b);
	return ret;
}

static int user_passwd(const char *dir, const char *name)
{
	struct broker *b = NULL;
	char pw[PASSWORD_MAX + 2], hash[CRYPT_OUTPUT_SIZE];
	int r, ret = 1;

	if (open_state(dir, &b) < 0)
		return 2;
	if ((r = user_exists(b->db, name)) <= 0) {
		fprintf(stderr, "ssm-broker: %s%s\n", r < 0 ? "database error" : "no user ",
			r < 0 ? "" : name);
		goto out;
	}
	if (read_password(pw, sizeof(pw)) < 0) {
		ret = 2;
		goto out;
	}
	if (hash_password(pw, hash, sizeof(hash)) < 0 ||
	    exec1(b->db, "UPDATE users SET pw_hash = ?2 WHERE name = ?1", name, hash) < 0)
		goto out;
	printf("changed the password of %s\n", name);
	ret = 0;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	broker_close(b);
	return ret;
}

static int user_del(const char *dir, const char *name)
{
	struct broker *b = NULL;
	int r, ret = 1;

	if (open_state(dir, &b) < 0)
		return 2;
	if ((r = user_exists(b->db, name)) <= 0) {
		fprintf(stderr, "ssm-broker: %s%s\n", r < 0 ? "database error" : "no user ",
			r < 0 ? "" : name);
		goto out;
	}
	if (exec1(b->db, "BEGIN IMMEDIATE", NULL, NULL) < 0)
		goto out;
	if (exec1(b->db, "DELETE FROM group_members WHERE user_name = ?1", name, NULL) < 0 ||
	    exec1(b->db, "DELETE FROM policies WHERE kind = 'user' AND owner = ?1", name, NULL) <
		    0 ||
	    exec1(b->db, "DELETE FROM user_run_as WHERE user_name = ?1", name, NULL) < 0 ||
	    exec1(b->db, "DELETE FROM users WHERE name = ?1", name, NULL) < 0 ||
	    exec1(b->db, "COMMIT", NULL, NULL) < 0) {
		exec1(b->db, "ROLLBACK", NULL, NULL);
		goto out;
	}
	printf("deleted the user %s\n", name);
	ret = 0;
out:
	broker_close(b);
	return ret;
}

int users_run_as(sqlite3 *db, const char *user, char *out, size_t size)
{
	sqlite3_stmt *st;
	int r;

	if (users_schema_ensure(db) < 0)
		return -EIO;
	st = brokerd_prep(db, "SELECT os_user FROM user_run_as WHERE user_name = ?1");
	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? -ENOENT : -EIO;
}

/* os_user NULL: clear */
static int user_set_run_as(const char *dir, const char *name, const char *os_user)
{
	struct broker *b = NULL;
	int r, ret = 1;

	if (open_state(dir, &b) < 0)
		return 2;
	if ((r = user_exists(b->db, name)) <= 0) {
		fprintf(stderr, "ssm-broker: %s%s\n", r < 0 ? "database error" : "no user ",
			r < 0 ? "" : name);
		goto out;
	}
	if (os_user == NULL) {
		if (exec1(b->db, "DELETE FROM user_run_as WHERE user_name = ?1", name, NULL) < 0)
			goto out;
		printf("sessions of %s run as ssm-user (or the document's runAsDefaultUser)\n", name);
	} else {
		if (exec1(b->db, "INSERT OR REPLACE INTO user_run_as(user_name, os_user)"
				 " VALUES(?1, ?2)",
			  name, os_user) < 0)
			goto out;
		printf("sessions of %s run as %s\n", name, os_user);
	}
	ret = 0;
out:
	broker_close(b);
	return ret;
}

static cJSON *names(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st = brokerd_prep(db, sql);
	cJSON *arr = cJSON_CreateArray();

	if (st == NULL || arr == NULL) {
		sqlite3_finalize(st);
		cJSON_Delete(arr);
		return NULL;
	}
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddItemToArray(arr,
				     cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	return arr;
}

static char *joined(const cJSON *arr)
{
	static char buf[1024];
	const cJSON *e;
	size_t n = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(e, arr) {
		int w = snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? "," : "", e->valuestring);
		if (w < 0 || (size_t)w >= sizeof(buf) - n)
			break;
		n += (size_t)w;
	}
	return n ? buf : "-";
}

static int user_list(const char *dir, int json)
{
	struct broker *b = NULL;
	sqlite3_stmt *st;
	cJSON *arr = cJSON_CreateArray(), *u;
	int ret = 1;

	if (open_state(dir, &b) < 0) {
		cJSON_Delete(arr);
		return 2;
	}
	st = brokerd_prep(b->db, "SELECT name, id, totp_secret IS NOT NULL, created FROM users ORDER BY name");
	if (st == NULL || arr == NULL)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		u = cJSON_CreateObject();
		cJSON_AddStringToObject(u, "name", name);
		cJSON_AddStringToObject(u, "id", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddBoolToObject(u, "totp", sqlite3_column_int(st, 2));
		cJSON_AddNumberToObject(u, "created", (double)sqlite3_column_int64(st, 3));
		cJSON_AddItemToObject(u, "groups",
				      names(b->db, "SELECT group_name FROM group_members WHERE"
						   " user_name = ?1 ORDER BY group_name",
					    name));
		cJSON_AddItemToObject(u, "policies",
				      names(b->db, "SELECT name FROM policies WHERE kind = 'user'"
						   " AND owner = ?1 ORDER BY name",
					    name));
		{
			char ru[64];
			if (users_run_as(b->db, name, ru, sizeof(ru)) == 0)
				cJSON_AddStringToObject(u, "run_as", ru);
			else
				cJSON_AddNullToObject(u, "run_as");
		}
		cJSON_AddItemToArray(arr, u);
	}
	if (json) {
		char *s = cJSON_Print(arr);
		printf("%s\n", s ? s : "[]");
		free(s);
	} else {
		printf("%-24s  %-21s  %-4s  %-20s  %s\n", "NAME", "ID", "TOTP", "CREATED",
		       "GROUPS");
		cJSON_ArrayForEach(u, arr) {
			char ts[32];
			ssm_rfc3339((int64_t)cJSON_GetObjectItem(u, "created")->valuedouble, ts);
			printf("%-24s  %-21s  %-4s  %-20s  %s\n",
			       cJSON_GetObjectItem(u, "name")->valuestring,
			       cJSON_GetObjectItem(u, "id")->valuestring,
			       cJSON_IsTrue(cJSON_GetObjectItem(u, "totp")) ? "yes" : "no", ts,
			       joined(cJSON_GetObjectItem(u, "groups")));
		}
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	cJSON_Delete(arr);
	broker_close(b);
	return ret;
}

static int group_add(const char *dir, const char *name)
{
	struct broker *b = NULL;
	sqlite3_stmt *st;
	int r, ret = 1;

	if (open_state(dir, &b) < 0)
		return 2;
	if ((r = group_exists(b->db, name)) != 0) {
		fprintf(stderr, "ssm-broker: %s\n",
			r > 0 ? "that group exists already" : "database error");
		goto out;
	}
	st = brokerd_prep(b->db, "INSERT INTO groups(name, created) VALUES(?1, ?2)");
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ssm_now());
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		goto out;
	printf("group: %s\n", name);
	ret = 0;
out:
	broker_close(b);
	return ret;
}

/* the policy's name: the file's base name without ".json" */
static int policy_name(const char *file, char *out, size_t size)
{
	const char *base = strrchr(file, '/');
	size_t n;

	base = base ? base + 1 : file;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".json") == 0)
		n -= 5;
	if (n == 0 || n >= size || n > POLICY_NAME_MAX)
		return -EINVAL;
	memcpy(out, base, n);
	out[n] = '\0';
	return users_name_valid(out, POLICY_NAME_MAX) ? 0 : -EINVAL;
}

static int policy_attach(const char *dir, int is_group, const char *owner, const char *file)
{
	struct broker *b = NULL;
	struct ssm_iam_policy *pol = NULL;
	char err[512] = "", name[POLICY_NAME_MAX + 1];
	char *text = NULL;
	size_t len = 0;
	sqlite3_stmt *st;
	int r, ret = 1;

	if (policy_name(file, name, sizeof(name)) < 0)
		return uerr("the policy's name is its file's name without .json: 1..128 of "
			    "[A-Za-z0-9+=,.@_-]:",
			    file);
	if ((r = ssm_read_file(file, SSM_IAM_MAX_POLICY_BYTES, 0, &text, &len, err,
			       sizeof(err))) < 0) {
		fprintf(stderr, "ssm-broker: %s\n", err[0] ? err : strerror(-r));
		return 1;
	}
	if (ssm_iam_policy_parse(text, len, name, &pol, err, sizeof(err)) < 0) {
		fprintf(stderr, "ssm-broker: %s: not a valid policy: %s\n", file, err);
		free(text);
		return 1;
	}
	ssm_iam_policy_free(pol);
	if (open_state(dir, &b) < 0) {
		free(text);
		return 2;
	}
	r = is_group ? group_exists(b->db, owner) : user_exists(b->db, owner);
	if (r <= 0) {
		fprintf(stderr, "ssm-broker: %s%s%s\n", r < 0 ? "database error" : "no ",
			r < 0 ? "" : is_group ? "group " : "user ", r < 0 ? "" : owner);
		goto out;
	}
	st = brokerd_prep(b->db, "INSERT OR REPLACE INTO policies(kind, owner, name, document, attached)"
			 " VALUES(?1, ?2, ?3, ?4, ?5)");
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, is_group ? "group" : "user", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, text, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, ssm_now());
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		goto out;
	printf("attached the policy %s to the %s %s\n", name, is_group ? "group" : "user", owner);
	ret = 0;
out:
	free(text);
	broker_close(b);
	return ret;
}

/* argv[0] is "user", "group" or "policy" */
int broker_users_main(int argc, char **argv)
{
	const char *dir = BROKER_DEFAULT_STATE_DIR, *what = argv[0], *verb, *name = NULL,
		   *file = NULL, *owner = NULL;
	char **groups;
	size_t ngroups = 0;
	const char *os_user = NULL;
	int i, r, json = 0, totp = 0, is_group = 0, ret, clear = 0;

	if (argc < 2)
		return uerr("user add|list|passwd|del|set-run-as, group add, policy attach: see "
			    "ssm-broker(8)",
			    NULL);
	verb = argv[1];
	groups = calloc((size_t)argc, sizeof(*groups));
	if (groups == NULL)
		return 1;
	for (i = 2; i < argc; i++) {
		if ((r = parse_state_dir(argc, argv, &i, &dir)) != 0) {
			if (r < 0)
				goto usage;
		} else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc &&
			   strcmp(what, "user") == 0) {
			if (!users_name_valid(argv[++i], 128))
				goto badname;
			groups[ngroups++] = argv[i];
		} else if (strcmp(argv[i], "--totp") == 0) {
			totp = 1;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--clear") == 0 && strcmp(verb, "set-run-as") == 0) {
			clear = 1;
		} else if (argv[i][0] != '-' && name != NULL && os_user == NULL &&
			   strcmp(verb, "set-run-as") == 0) {
			os_user = argv[i];
		} else if ((strcmp(argv[i], "--user") == 0 || strcmp(argv[i], "--group") == 0) &&
			   i + 1 < argc && owner == NULL) {
			is_group = argv[i][2] == 'g';
			owner = argv[++i];
		} else if (argv[i][0] != '-' && name == NULL) {
			name = argv[i];
		} else {
			goto usage;
		}
	}
	if (strcmp(what, "user") == 0) {
		if (strcmp(verb, "list") == 0 && name == NULL && !totp && !ngroups)
			ret = user_list(dir, json);
		else if (name == NULL || json || owner)
			goto usage;
		else if (!users_name_valid(name, 64))
			goto badname;
		else if (strcmp(verb, "add") == 0)
			ret = user_add(dir, name, groups, ngroups, totp);
		else if (strcmp(verb, "passwd") == 0 && !totp && !ngroups)
			ret = user_passwd(dir, name);
		else if (strcmp(verb, "del") == 0 && !totp && !ngroups)
			ret = user_del(dir, name);
		else if (strcmp(verb, "set-run-as") == 0 && !totp && !ngroups &&
			 (os_user != NULL) != clear) {
			if (os_user != NULL && !ssm_config_user_name_valid(os_user)) {
				free(groups);
				return uerr("OSUSER: 1..32 of [A-Za-z0-9_.-], not starting with - or ."
					    " and not all digits:",
					    os_user);
			}
			ret = user_set_run_as(dir, name, os_user);
		}
		else
			goto usage;
	} else if (strcmp(what, "group") == 0 && strcmp(verb, "add") == 0 && name && !json &&
		   !totp && !owner) {
		if (!users_name_valid(name, 128))
			goto badname;
		ret = group_add(dir, name);
	} else if (strcmp(what, "policy") == 0 && strcmp(verb, "attach") == 0 && owner && name &&
		   !json && !totp) {
		file = name;
		if (!users_name_valid(owner, is_group ? 128 : 64))
			goto badname;
		ret = policy_attach(dir, is_group, owner, file);
	} else {
		goto usage;
	}
	free(groups);
	return ret;
badname:
	free(groups);
	return uerr("user names are 1..64, group names 1..128 of [A-Za-z0-9+=,.@_-]", NULL);
usage:
	free(groups);
	return uerr("usage: ssm-broker user add NAME [--group G]... [--totp] | user list [--json] |"
		    " user passwd NAME | user del NAME | user set-run-as NAME OSUSER|--clear |"
		    " group add NAME |"
		    " policy attach --user NAME|--group NAME FILE  [--state-dir DIR]",
		    NULL);
}
