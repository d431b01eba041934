/* login.c - POST /v1/login (issue 8 point 3): a user's password (crypt(3), compared in
 * constant time), their TOTP code when they have a secret (RFC 6238, lib/totp.c; each step
 * accepted once), then a bearer credential: 32 random bytes, base64url, of which the
 * database keeps only the SHA-256, valid BROKER_CREDENTIAL_TTL seconds, with whether MFA
 * was used (aws:MultiFactorAuthPresent).  At most LOGIN_FAILURES_MAX failures per user name
 * (known or not) in LOGIN_FAILURE_WINDOW seconds; past that every attempt is refused with
 * 429 until the window has moved on, right password or not. */
#include "brokerd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "b64url.h"
#include "iam.h"
#include "log.h"
#include "login.h"
#include "totp.h"
#include "util.h"

#define LOGIN_FAILURES_MAX 5
#define LOGIN_FAILURE_WINDOW 60

/* a hash of no one's password: an unknown user costs the same crypt as a known one */
static const char dummy_hash[] =
	"$y$j9T$JoJRHU7Usumhom3lu3cph.$XbP5QPnJ89EoMLebdpBEoxT6c.iyYl9muzcWlrkp/H5";

static const char login_schema[] =
	"CREATE TABLE IF NOT EXISTS login_failures(user_name TEXT NOT NULL, at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS login_failures_user ON login_failures(user_name, at);"
	"CREATE TABLE IF NOT EXISTS credentials("
	" hash TEXT PRIMARY KEY,"         /* sha256 hex of the credential */
	" user_name TEXT NOT NULL,"
	" mfa INTEGER NOT NULL,"
	" issued INTEGER NOT NULL,"
	" expires INTEGER NOT NULL);";

static int64_t failures(sqlite3 *db, const char *user, int64_t now)
{
	sqlite3_stmt *st = brokerd_prep(db, "SELECT count(*) FROM login_failures WHERE user_name = ?1"
				    " AND at > ?2");
	int64_t n = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now - LOGIN_FAILURE_WINDOW);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void record_failure(sqlite3 *db, const char *user, int64_t now)
{
	sqlite3_stmt *st = brokerd_prep(db, "INSERT INTO login_failures(user_name, at) VALUES(?1, ?2)");

	if (st != NULL) {
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	st = brokerd_prep(db, "DELETE FROM login_failures WHERE at <= ?1");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, now - LOGIN_FAILURE_WINDOW);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
}

int users_login(sqlite3 *db, const struct ssm_login_request *req, int64_t now, cJSON **presp,
		char *msg, size_t msglen)
{
	sqlite3_stmt *st = NULL;
	char *hash = NULL, *secret_b32 = NULL, *uid = NULL, *cred = NULL, cred_hash[65],
	     ts[32];
	unsigned char secret[64], rnd[32];
	int64_t last_step = 0, step = 0, n;
	long keylen;
	int known = 0, ok, status = 500, mfa = 0;
	cJSON *o;

	*presp = NULL;
	if (users_schema_ensure(db) < 0 || sqlite3_exec(db, login_schema, NULL, NULL, NULL) !=
						   SQLITE_OK) {
		snprintf(msg, msglen, "database error");
		return 500;
	}
	n = failures(db, req->user, now);
	if (n < 0) {
		snprintf(msg, msglen, "database error");
		return 500;
	}
	if (n >= LOGIN_FAILURES_MAX) {
		snprintf(msg, msglen, "too many failed logins for %s: try again in a minute",
			 req->user);
		return 429;
	}
	st = brokerd_prep(db, "SELECT pw_hash, totp_secret, totp_last_step, id FROM users WHERE name = ?1");
	if (st == NULL) {
		snprintf(msg, msglen, "database error");
		return 500;
	}
	sqlite3_bind_text(st, 1, req->user, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		known = 1;
		hash = strdup((const char *)sqlite3_column_text(st, 0));
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			secret_b32 = strdup((const char *)sqlite3_column_text(st, 1));
		last_step = sqlite3_column_int64(st, 2);
		uid = strdup((const char *)sqlite3_column_text(st, 3));
	}
	sqlite3_finalize(st);
	st = NULL;
	if (known && (hash == NULL || uid == NULL)) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	ok = users_check_password(req->password, known ? hash : dummy_hash);
	if (ok < 0) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	if (!known || !ok) {
		record_failure(db, req->user, now);
		snprintf(msg, msglen, "wrong user name or password");
		status = 401;
		goto out;
	}
	if (secret_b32 != NULL) {
		if (!req->has_totp) {
			/* counted: else the answer would be a password oracle without a limit */
			record_failure(db, req->user, now);
			snprintf(msg, msglen, "%s needs a TOTP code: send it as \"totp\"", req->user);
			status = 401;
			goto out;
		}
		keylen = ssm_base32_decode(secret_b32, secret, sizeof(secret));
		if (keylen <= 0) {
			snprintf(msg, msglen, "the user's TOTP secret is damaged");
			goto out;
		}
		ok = ssm_totp_verify(secret, (size_t)keylen, req->totp, now, last_step, &step);
		OPENSSL_cleanse(secret, sizeof(secret));
		if (ok < 0) {
			snprintf(msg, msglen, "TOTP check failed");
			goto out;
		}
		if (ok == 0) {
			record_failure(db, req->user, now);
			snprintf(msg, msglen, "wrong or already used TOTP code");
			status = 401;
			goto out;
		}
		/* claim the step: a concurrent login with the same code loses here */
		st = brokerd_prep(db, "UPDATE users SET totp_last_step = ?2 WHERE name = ?1"
			      " AND totp_last_step < ?2");
		if (st == NULL)
			goto dberr;
		sqlite3_bind_text(st, 1, req->user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, step);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto dberr;
		sqlite3_finalize(st);
		st = NULL;
		if (sqlite3_changes(db) != 1) {
			record_failure(db, req->user, now);
			snprintf(msg, msglen, "wrong or already used TOTP code");
			status = 401;
			goto out;
		}
		mfa = 1;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 || ssm_b64url_encode(rnd, sizeof(rnd), &cred) < 0) {
		snprintf(msg, msglen, "cannot make a credential");
		goto out;
	}
	OPENSSL_cleanse(rnd, sizeof(rnd));
	ssm_sha256_hex(cred, strlen(cred), cred_hash);
	st = brokerd_prep(db, "INSERT INTO credentials(hash, user_name, mfa, issued, expires)"
		      " VALUES(?1, ?2, ?3, ?4, ?5)");
	if (st == NULL)
		goto dberr;
	sqlite3_bind_text(st, 1, cred_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, req->user, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, mfa);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, now + BROKER_CREDENTIAL_TTL);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	ssm_rfc3339(now + BROKER_CREDENTIAL_TTL, ts);
	o = cJSON_CreateObject();
	if (o == NULL || !cJSON_AddStringToObject(o, "credential", cred) ||
	    !cJSON_AddStringToObject(o, "user", req->user) ||
	    !cJSON_AddStringToObject(o, "user_id", uid) ||
	    !cJSON_AddBoolToObject(o, "mfa", mfa) || !cJSON_AddStringToObject(o, "expires", ts) ||
	    !cJSON_AddNumberToObject(o, "expires_at", (double)(now + BROKER_CREDENTIAL_TTL))) {
		cJSON_Delete(o);
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	*presp = o;
	snprintf(msg, msglen, "%s (mfa %s)", req->user, mfa ? "yes" : "no");
	status = 0;
	goto out;
dberr:
	snprintf(msg, msglen, "database error");
	status = 500;
out:
	sqlite3_finalize(st);
	if (cred != NULL) {
		OPENSSL_cleanse(cred, strlen(cred));
		free(cred);
	}
	if (secret_b32 != NULL) {
		OPENSSL_cleanse(secret_b32, strlen(secret_b32));
		free(secret_b32);
	}
	free(hash);
	free(uid);
	return status;
}

/* ---------------------------------------------------------------- bearer credentials */

int users_load_policies(sqlite3 *db, const char *user, struct ssm_iam_policy ***ppols,
			size_t *pn, char *msg, size_t msglen)
{
	sqlite3_stmt *st = brokerd_prep(db, "SELECT name, document FROM policies WHERE"
				    " (kind = 'user' AND owner = ?1) OR (kind = 'group' AND owner IN"
				    " (SELECT group_name FROM group_members WHERE user_name = ?1))"
				    " ORDER BY kind, owner, name");
	struct ssm_iam_policy **pols = NULL, **np;
	size_t n = 0;
	char err[256];

	*ppols = NULL;
	*pn = 0;
	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *doc = (const char *)sqlite3_column_text(st, 1);
		struct ssm_iam_policy *p = NULL;
		if (ssm_iam_policy_parse(doc, (size_t)sqlite3_column_bytes(st, 1), name, &p, err,
					 sizeof(err)) < 0) {
			/* stored only once parsed: a policy that no longer parses denies */
			snprintf(msg, msglen, "the stored policy %s does not parse: %s", name, err);
			goto fail;
		}
		np = realloc(pols, (n + 1) * sizeof(*pols));
		if (np == NULL) {
			ssm_iam_policy_free(p);
			goto fail;
		}
		pols = np;
		pols[n++] = p;
	}
	sqlite3_finalize(st);
	*ppols = pols;
	*pn = n;
	return 0;
fail:
	sqlite3_finalize(st);
	while (n > 0)
		ssm_iam_policy_free(pols[--n]);
	free(pols);
	return -EIO;
}

int users_credential(sqlite3 *db, const char *authorization, int64_t now,
		     struct users_principal *p, char *msg, size_t msglen)
{
	sqlite3_stmt *st;
	char hash[65];
	const char *cred;

	memset(p, 0, sizeof(*p));
	if (users_schema_ensure(db) < 0 ||
	    sqlite3_exec(db, login_schema, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(msg, msglen, "database error");
		return 500;
	}
	if (authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0 ||
	    !ssm_str_charset(authorization + 7, 43, 43, ssm_is_b64url_char)) {
		snprintf(msg, msglen, "a bearer credential is required (ssm login)");
		return 401;
	}
	cred = authorization + 7;
	ssm_sha256_hex(cred, strlen(cred), hash);
	st = brokerd_prep(db, "SELECT c.user_name, c.mfa, u.id FROM credentials c JOIN users u"
		      " ON u.name = c.user_name WHERE c.hash = ?1 AND c.expires > ?2");
	if (st == NULL) {
		snprintf(msg, msglen, "database error");
		return 500;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		snprintf(msg, msglen, "the credential is unknown or expired (ssm login)");
		return 401;
	}
	snprintf(p->user, sizeof(p->user), "%s", (const char *)sqlite3_column_text(st, 0));
	p->mfa = sqlite3_column_int(st, 1);
	snprintf(p->uid, sizeof(p->uid), "%s", (const char *)sqlite3_column_text(st, 2));
	sqlite3_finalize(st);
	return 0;
}

cJSON *users_context(const struct users_principal *p, int64_t now)
{
	cJSON *ctx = cJSON_CreateObject();
	char ts[32];

	ssm_rfc3339(now, ts);
	if (ctx == NULL || !cJSON_AddStringToObject(ctx, "aws:username", p->user) ||
	    !cJSON_AddStringToObject(ctx, "aws:userid", p->uid) ||
	    !cJSON_AddStringToObject(ctx, "aws:PrincipalType", "User") ||
	    !cJSON_AddBoolToObject(ctx, "aws:MultiFactorAuthPresent", p->mfa) ||
	    !cJSON_AddStringToObject(ctx, "aws:CurrentTime", ts) ||
	    !cJSON_AddNumberToObject(ctx, "aws:EpochTime", (double)now)) {
		cJSON_Delete(ctx);
		return NULL;
	}
	return ctx;
}

int users_authorize(sqlite3 *db, const char *authorization, const char *action,
		    const char *resource, int64_t now, char *user_out, size_t user_size,
		    char *msg, size_t msglen)
{
	struct ssm_iam_policy **pols = NULL;
	struct ssm_iam_request req;
	struct ssm_iam_result res;
	struct users_principal p;
	char err[256] = "";
	cJSON *ctx = NULL;
	size_t npols = 0, i;
	int status;

	status = users_credential(db, authorization, now, &p, msg, msglen);
	if (status != 0)
		return status;
	status = 500;
	snprintf(user_out, user_size, "%s", p.user);
	if (users_load_policies(db, p.user, &pols, &npols, msg, msglen) < 0) {
		if (msg[0] == '\0')
			snprintf(msg, msglen, "cannot load the user's policies");
		return 500;
	}
	ctx = users_context(&p, now);
	if (ctx == NULL) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	req.action = action;
	req.resource = resource;
	req.context = ctx;
	if (ssm_iam_evaluate((const struct ssm_iam_policy *const *)pols, npols, &req, &res, err,
			     sizeof(err)) < 0) {
		snprintf(msg, msglen, "policy evaluation failed: %s", err);
		goto out;
	}
	if (res.decision != SSM_IAM_ALLOW) {
		ssm_iam_explain(p.user, action, &res, msg, msglen);
		status = 403;
		goto out;
	}
	status = 0;
out:
	cJSON_Delete(ctx);
	for (i = 0; i < npols; i++)
		ssm_iam_policy_free(pols[i]);
	free(pols);
	return status;
}
