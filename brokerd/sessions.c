/* sessions.c - sessions at the broker (SPEC section 9): AWS's StartSession, TerminateSession
 * and DescribeSessions over HTTPS (see brokerd.h for the routes), and the session table the
 * relay (serve.c) attaches clients to.
 *
 * StartSession, as Session Manager does it: the user's IAM policies are evaluated for
 * ssm:StartSession on the managed instance (its tags as ssm:resourceTag/K) and on the
 * session document (lib/iam.c ssm_iam_start_session: the default shell document needs no
 * grant of its own unless ssm:SessionDocumentAccessCheck is required); the target must be
 * registered, not revoked and linked; the document must be stored at the broker and the
 * parameters must pass it (lib/document.c, what the host runs).  Then a session token for the
 * host is minted (lib/token_mint.c: aud the target, 60 s, the document's SHA-256) and kept
 * with the Pending session, and the client gets a one-time attach secret (32 random bytes,
 * base64url; only its SHA-256 is stored) to present on /v1/client within 60 s. */
#include "brokerd.h"
#include "tstore.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "b64url.h"
#include "document.h"
#include "iam.h"
#include "json.h"
#include "log.h"
#include "session_req.h"
#include "token_mint.h"
#include "util.h"

/* ---------------------------------------------------------------- the relay's side */

/* Until serve.c's relay defines them: every registered target counts as linked, and no
 * session is held by a relay. */
__attribute__((weak)) int broker_agent_connected(const char *host_id)
{
	(void)host_id;
	return 1;
}

__attribute__((weak)) int broker_session_terminate(const char *sid, const char *reason)
{
	(void)sid;
	(void)reason;
	return 0;
}

/* ---------------------------------------------------------------- the table */

static const char sessions_schema[] =
	"CREATE TABLE IF NOT EXISTS sessions("
	" sid TEXT PRIMARY KEY,"
	" owner TEXT NOT NULL,"            /* the broker user */
	" target TEXT NOT NULL,"           /* the host id */
	" document TEXT NOT NULL,"
	" session_type TEXT NOT NULL,"
	" run_as TEXT NOT NULL,"
	" params TEXT,"                    /* JSON object, NULL without parameters */
	" state TEXT NOT NULL CHECK(state IN ('Pending', 'Connected', 'Terminated', 'Failed')),"
	" reason TEXT,"                    /* StartSession's Reason */
	" created INTEGER NOT NULL,"
	" started INTEGER,"                /* the client attached */
	" ended INTEGER,"
	" end_reason TEXT,"                /* why it ended */
	" attach_hash TEXT,"               /* sha256 hex of the attach secret, until attached */
	" host_token TEXT);"               /* the host's session token, until attached */
	"CREATE INDEX IF NOT EXISTS sessions_state ON sessions(state, created);";

int sessions_schema_ensure(sqlite3 *db)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sessions_schema, NULL, NULL, &msg) != SQLITE_OK) {
		ssm_log(LOG_ERR, "database: cannot create the sessions table: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

void broker_session_free(struct broker_session *s)
{
	if (s == NULL)
		return;
	if (s->host_token != NULL) {
		OPENSSL_cleanse(s->host_token, strlen(s->host_token));
		free(s->host_token);
	}
	s->host_token = NULL;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Pending sessions nobody attached to within the window */
static void expire_pending(sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st = brokerd_prep(db, "UPDATE sessions SET state = 'Failed', ended = ?1,"
					    " end_reason = 'no client attached within 60 s',"
					    " attach_hash = NULL, host_token = NULL"
					    " WHERE state = 'Pending' AND created <= ?2");

	if (st == NULL)
		return;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, now - BROKER_ATTACH_WINDOW);
	(void)sqlite3_step(st);
	sqlite3_finalize(st);
}

static void copy_col(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(dst, size, "%s", s ? (const char *)s : "");
}

int db_session_attach(sqlite3 *db, const char *sid, const char *secret, const char *user,
		      int64_t now, struct broker_session *out, char *why, size_t whylen)
{
	sqlite3_stmt *st = NULL, *up = NULL;
	char hash[65], stored[65];
	int64_t created;
	int r = -EIO, match;

	memset(out, 0, sizeof(*out));
	if (sid == NULL || secret == NULL || user == NULL) {
		snprintf(why, whylen, "no session id, secret or user");
		return -EACCES;
	}
	if (sessions_schema_ensure(db) < 0 || exec_sql(db, "BEGIN IMMEDIATE") < 0) {
		snprintf(why, whylen, "database error");
		return -EIO;
	}
	st = brokerd_prep(db, "SELECT owner, target, document, session_type, run_as, state,"
			      " created, attach_hash, host_token FROM sessions WHERE sid = ?1");
	if (st == NULL) {
		snprintf(why, whylen, "database error");
		goto out;
	}
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(why, whylen, "no session %s to attach to with this secret", sid);
		r = -ENOENT;
		goto out;
	}
	ssm_sha256_hex(secret, strlen(secret), hash);
	copy_col(stored, sizeof(stored), st, 7);
	/* compared before anything else is told, and always in constant time */
	match = strlen(stored) == 64 && CRYPTO_memcmp(hash, stored, 64) == 0;
	created = sqlite3_column_int64(st, 6);
	r = -EACCES;
	if (strcmp((const char *)sqlite3_column_text(st, 0), user) != 0) {
		snprintf(why, whylen, "no session %s to attach to with this secret", sid);
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 5), "Pending") != 0) {
		snprintf(why, whylen, "session %s is %s: a session is attached to once", sid,
			 (const char *)sqlite3_column_text(st, 5));
		goto out;
	}
	if (!match) {
		snprintf(why, whylen, "wrong attach secret for session %s", sid);
		goto out;
	}
	if (now - created >= BROKER_ATTACH_WINDOW || now < created) {
		sqlite3_finalize(st);
		st = NULL;
		expire_pending(db, now);
		(void)exec_sql(db, "COMMIT");
		snprintf(why, whylen, "session %s was not attached to within %d s", sid,
			 BROKER_ATTACH_WINDOW);
		return -EACCES;
	}
	snprintf(out->sid, sizeof(out->sid), "%s", sid);
	copy_col(out->owner, sizeof(out->owner), st, 0);
	copy_col(out->target, sizeof(out->target), st, 1);
	copy_col(out->document, sizeof(out->document), st, 2);
	copy_col(out->session_type, sizeof(out->session_type), st, 3);
	copy_col(out->run_as, sizeof(out->run_as), st, 4);
	if (sqlite3_column_type(st, 8) == SQLITE_NULL ||
	    (out->host_token = strdup((const char *)sqlite3_column_text(st, 8))) == NULL) {
		snprintf(why, whylen, "session %s has no host token", sid);
		r = -EIO;
		goto out;
	}
	up = brokerd_prep(db, "UPDATE sessions SET state = 'Connected', started = ?2,"
			      " attach_hash = NULL, host_token = NULL"
			      " WHERE sid = ?1 AND state = 'Pending'");
	if (up == NULL)
		goto dberr;
	sqlite3_bind_text(up, 1, sid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(up, 2, now);
	if (sqlite3_step(up) != SQLITE_DONE || sqlite3_changes(db) != 1)
		goto dberr;
	sqlite3_finalize(up);
	up = NULL;
	sqlite3_finalize(st);
	st = NULL;
	if (exec_sql(db, "COMMIT") < 0)
		goto dberr;
	snprintf(why, whylen, "attached");
	return 0;
dberr:
	snprintf(why, whylen, "database error");
	r = -EIO;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	(void)exec_sql(db, "ROLLBACK");
	if (r != 0)
		broker_session_free(out);
	return r;
}

int db_session_end(sqlite3 *db, const char *sid, const char *state, const char *reason,
		   int64_t now)
{
	sqlite3_stmt *st;
	int r;

	if (state == NULL || (strcmp(state, "Terminated") != 0 && strcmp(state, "Failed") != 0))
		return -EINVAL;
	if (sessions_schema_ensure(db) < 0)
		return -EIO;
	st = brokerd_prep(db, "UPDATE sessions SET state = ?2, end_reason = ?3, ended = ?4,"
			      " attach_hash = NULL, host_token = NULL"
			      " WHERE sid = ?1 AND state IN ('Pending', 'Connected')");
	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	if (reason != NULL)
		sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, now);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	if (r == 0 && sqlite3_changes(db) == 0) {
		st = brokerd_prep(db, "SELECT 1 FROM sessions WHERE sid = ?1");
		if (st == NULL)
			return -EIO;
		sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
		r = sqlite3_step(st) == SQLITE_ROW ? 0 : -ENOENT;
		sqlite3_finalize(st);
	}
	return r;
}

static const char *aws_status(const char *state)
{
	return strcmp(state, "Pending") == 0 ? "Connecting" : state;
}

cJSON *db_session_list(sqlite3 *db, const char *state, const char *owner_or_null)
{
	sqlite3_stmt *st;
	cJSON *arr;
	const char *states;
	char ts[32], arn[256];

	if (state == NULL)
		return NULL;
	if (strcmp(state, "Active") == 0)
		states = "('Pending', 'Connected')";
	else if (strcmp(state, "History") == 0)
		states = "('Terminated', 'Failed')";
	else
		return NULL;
	if (sessions_schema_ensure(db) < 0)
		return NULL;
	expire_pending(db, ssm_now());
	{
		char sql[512];
		snprintf(sql, sizeof(sql),
			 "SELECT sid, target, state, created, started, ended, owner, document,"
			 " reason FROM sessions WHERE state IN %s AND (?1 IS NULL OR owner = ?1)"
			 " ORDER BY created DESC, sid",
			 states);
		st = brokerd_prep(db, sql);
	}
	arr = cJSON_CreateArray();
	if (st == NULL || arr == NULL) {
		sqlite3_finalize(st);
		cJSON_Delete(arr);
		return NULL;
	}
	if (owner_or_null != NULL)
		sqlite3_bind_text(st, 1, owner_or_null, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			goto fail;
		}
		ssm_rfc3339(sqlite3_column_int64(st, 3), ts);
		snprintf(arn, sizeof(arn), "arn:aws:iam::%s:user/%s", BROKER_ACCOUNT,
			 (const char *)sqlite3_column_text(st, 6));
		if (!cJSON_AddStringToObject(o, "SessionId", (const char *)sqlite3_column_text(st, 0)) ||
		    !cJSON_AddStringToObject(o, "Target", (const char *)sqlite3_column_text(st, 1)) ||
		    !cJSON_AddStringToObject(o, "Status",
					     aws_status((const char *)sqlite3_column_text(st, 2))) ||
		    !cJSON_AddStringToObject(o, "StartDate", ts))
			goto fail;
		if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
			ssm_rfc3339(sqlite3_column_int64(st, 5), ts);
			if (!cJSON_AddStringToObject(o, "EndDate", ts))
				goto fail;
		}
		if (!cJSON_AddStringToObject(o, "DocumentName",
					     (const char *)sqlite3_column_text(st, 7)) ||
		    !cJSON_AddStringToObject(o, "Owner", arn))
			goto fail;
		if (sqlite3_column_type(st, 8) != SQLITE_NULL &&
		    !cJSON_AddStringToObject(o, "Reason", (const char *)sqlite3_column_text(st, 8)))
			goto fail;
	}
	sqlite3_finalize(st);
	return arr;
fail:
	sqlite3_finalize(st);
	cJSON_Delete(arr);
	return NULL;
}

/* ---------------------------------------------------------------- HTTP */

#define FAIL(code, ...)                                    \
	do {                                               \
		snprintf(msg, msglen, __VA_ARGS__);        \
		status = (code);                           \
		goto out;                                  \
	} while (0)

static int is_sid_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_principal_char(int c)
{
	return ssm_is_b64url_char(c) || (c != 0 && strchr("+=,.@", c) != NULL);
}

/* USER-[a-z0-9]{8,32} (the token's sid rule), USER an IAM user name */
static int sid_valid(const char *sid)
{
	const char *dash = strrchr(sid, '-');
	size_t n;

	if (dash == NULL || !ssm_str_charset(dash + 1, 8, 32, is_sid_char))
		return 0;
	n = (size_t)(dash - sid);
	if (n < 1 || n > 64)
		return 0;
	while (sid < dash)
		if (!is_principal_char(*sid++))
			return 0;
	return 1;
}

/* AWS's form: the user name, "-", 17 lowercase hex digits */
static int sid_new(const char *user, char *out, size_t size)
{
	unsigned char b[9];
	char hex[19];
	int i;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	for (i = 0; i < 9; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	hex[17] = '\0';
	snprintf(out, size, "%s-%s", user, hex);
	return 0;
}

/* The token signing key (serve's state: signing.key), loaded once; its kid from the JWK
 * Set the hosts hold. */
static EVP_PKEY *sign_key;
static char sign_kid[65];

static int load_sign_key(struct broker *b, char *msg, size_t msglen)
{
	const cJSON *keys, *k;
	const char *kid;
	char err[256] = "";

	/* `ssm-broker key rotate` while serving replaces signing.key: whoever notices first
	 * (here or docserve.c) reloads the set, and the key follows the set's first kid */
	(void)broker_keys_fresh(b);
	keys = ssm_json_member(b->jwks, "keys");
	k = cJSON_IsArray(keys) ? cJSON_GetArrayItem(keys, 0) : NULL;
	if (k == NULL || ssm_json_get_string(k, "kid", &kid) < 0 || strlen(kid) >= sizeof(sign_kid)) {
		snprintf(msg, msglen, "the broker has no JWK Set");
		return -EIO;
	}
	if (sign_key != NULL && strcmp(sign_kid, kid) == 0)
		return 0;
	EVP_PKEY_free(sign_key);
	sign_key = NULL;
	if (ssm_ca_read_key(b->sign_key, &sign_key, err, sizeof(err)) < 0) {
		snprintf(msg, msglen, "the signing key: %s", err);
		return -EIO;
	}
	/* the key read must be the one the set names first: a token is never labelled with
	 * another key's kid */
	if (broker_key_kid(sign_key, sign_kid) < 0 || strcmp(sign_kid, kid) != 0) {
		EVP_PKEY_free(sign_key);
		sign_key = NULL;
		sign_kid[0] = '\0';
		snprintf(msg, msglen, "the signing key is not the JWK Set's first key");
		return -EIO;
	}
	return 0;
}

/* The policies of the principal, and the context: the global keys plus aws:SourceIp. */
struct authz {
	struct users_principal p;
	struct ssm_iam_policy **pols;
	size_t npols;
	cJSON *ctx;
};

static void authz_free(struct authz *a)
{
	size_t i;

	for (i = 0; i < a->npols; i++)
		ssm_iam_policy_free(a->pols[i]);
	free(a->pols);
	cJSON_Delete(a->ctx);
	memset(a, 0, sizeof(*a));
}

static int authz_load(struct broker *b, const struct broker_http_request *req, int64_t now,
		      struct authz *a, char *msg, size_t msglen)
{
	char ip[64];
	int status;

	memset(a, 0, sizeof(*a));
	status = users_credential(b->db, req->authorization, now, &a->p, msg, msglen);
	if (status != 0)
		return status;
	if (req->user_out != NULL && req->user_size > 0)
		snprintf(req->user_out, req->user_size, "%s", a->p.user);
	if (users_load_policies(b->db, a->p.user, &a->pols, &a->npols, msg, msglen) < 0) {
		if (msg[0] == '\0')
			snprintf(msg, msglen, "cannot load the user's policies");
		return 500;
	}
	a->ctx = users_context(&a->p, now);
	if (a->ctx == NULL) {
		snprintf(msg, msglen, "out of memory");
		return 500;
	}
	/* the peer's address as lws gives it; an IPv4-mapped IPv6 address counts as IPv4 */
	snprintf(ip, sizeof(ip), "%s", req->peer ? req->peer : "");
	if (ip[0] != '\0' && !cJSON_AddStringToObject(a->ctx, "aws:SourceIp", ip)) {
		snprintf(msg, msglen, "out of memory");
		return 500;
	}
	return 0;
}

/* one action on one resource with the context as it is */
static int authz_check(struct authz *a, const char *action, const char *resource, char *msg,
		       size_t msglen)
{
	struct ssm_iam_request q = { action, resource, a->ctx };
	struct ssm_iam_result res;
	char err[256] = "", why[1024];

	if (ssm_iam_evaluate((const struct ssm_iam_policy *const *)a->pols, a->npols, &q, &res,
			     err, sizeof(err)) < 0) {
		snprintf(msg, msglen, "policy evaluation failed: %s", err);
		return 500;
	}
	if (res.decision != SSM_IAM_ALLOW) {
		ssm_iam_explain(a->p.user, action, &res, why, sizeof(why));
		snprintf(msg, msglen, "AccessDeniedException: %s", why);
		return 403;
	}
	return 0;
}

/* wss://NAME:PORT/v1/client: the Host header when the server certificate names it (what
 * the client dialled), else the listening address (the host's name when that is a
 * wildcard). */
static void stream_url(struct broker *b, const struct broker_http_request *req, char *out,
		       size_t size)
{
	char name[256] = "", port[8] = "", laddr[128] = "", lport[8] = "443", err[256];
	const char *h = req->host, *colon, *end;
	unsigned char buf[16];
	X509 *cert = NULL;
	size_t n;

	/* the listening address, ADDR:PORT or [V6]:PORT */
	if (req->listen != NULL && (colon = strrchr(req->listen, ':')) != NULL &&
	    strlen(colon + 1) < sizeof(lport)) {
		snprintf(lport, sizeof(lport), "%s", colon + 1);
		n = (size_t)(colon - req->listen);
		if (n >= 2 && req->listen[0] == '[' && req->listen[n - 1] == ']')
			snprintf(laddr, sizeof(laddr), "%.*s", (int)(n - 2), req->listen + 1);
		else if (n < sizeof(laddr))
			snprintf(laddr, sizeof(laddr), "%.*s", (int)n, req->listen);
	}
	if (h != NULL && h[0] != '\0' && strlen(h) < sizeof(name)) {
		if (h[0] == '[' && (end = strchr(h, ']')) != NULL) {
			snprintf(name, sizeof(name), "%.*s", (int)(end - h - 1), h + 1);
			colon = end[1] == ':' ? end + 1 : NULL;
		} else {
			colon = strchr(h, ':');
			n = colon ? (size_t)(colon - h) : strlen(h);
			snprintf(name, sizeof(name), "%.*s", (int)n, h);
		}
		if (colon != NULL && colon[1] != '\0' && strlen(colon + 1) <= 5 &&
		    strspn(colon + 1, "0123456789") == strlen(colon + 1))
			snprintf(port, sizeof(port), "%s", colon + 1);
		if (name[0] == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
						    "0123456789.-:") != strlen(name) ||
		    ssm_ca_read_cert(b->server_cert, &cert, err, sizeof(err)) < 0 ||
		    !ssm_ca_cert_names(cert, name))
			name[0] = '\0';
		X509_free(cert);
	}
	if (name[0] == '\0') {
		port[0] = '\0';
		if (laddr[0] != '\0' && strcmp(laddr, "0.0.0.0") != 0 && strcmp(laddr, "::") != 0)
			snprintf(name, sizeof(name), "%s", laddr);
		else if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0')
			snprintf(name, sizeof(name), "localhost");
	}
	if (inet_pton(AF_INET6, name, buf) == 1)
		snprintf(out, size, "wss://[%s]:%s/v1/client", name, port[0] ? port : lport);
	else
		snprintf(out, size, "wss://%s:%s/v1/client", name, port[0] ? port : lport);
}

/* The target's tags (ssm:resourceTag/K and aws:ResourceTag/K) into ctx; 1 if the host is
 * registered, 0 if not; *revoked.  -EIO. */
static int target_context(sqlite3 *db, const char *id, cJSON *ctx, int *revoked)
{
	sqlite3_stmt *st = brokerd_prep(db, "SELECT tags, revoked FROM hosts WHERE id = ?1");
	cJSON *tags = NULL, *t;
	char key[300];
	int r = -EIO;

	*revoked = 0;
	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_DONE:
		r = 0;
		goto out;
	case SQLITE_ROW:
		break;
	default:
		goto out;
	}
	*revoked = sqlite3_column_int64(st, 1) != 0;
	tags = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
	cJSON_ArrayForEach(t, tags) {
		if (!cJSON_IsString(t) || t->string == NULL)
			continue;
		snprintf(key, sizeof(key), "ssm:resourceTag/%s", t->string);
		if (!cJSON_AddStringToObject(ctx, key, t->valuestring))
			goto out;
		snprintf(key, sizeof(key), "aws:ResourceTag/%s", t->string);
		if (!cJSON_AddStringToObject(ctx, key, t->valuestring))
			goto out;
	}
	r = 1;
out:
	cJSON_Delete(tags);
	sqlite3_finalize(st);
	return r;
}

static int start_session(struct broker *b, const struct broker_http_request *req,
			 cJSON **presp, char *msg, size_t msglen)
{
	struct ssm_start_session_request sr;
	struct ssm_iam_session is;
	struct ssm_iam_result res;
	struct ssm_document *doc = NULL;
	struct ssm_token_claims c;
	struct authz a;
	sqlite3_stmt *st = NULL;
	char err[512] = "", why[1024], target_arn[256], doc_arn[256], sid[129], hash[65],
	     stype[32], run_as[64] = "ssm-user", ahash[65], url[512];
	char *content = NULL, *token = NULL, *secret = NULL, *params_s = NULL;
	unsigned char rnd[32];
	cJSON *tctx = NULL, *resp = NULL;
	int64_t now = ssm_now();
	size_t clen;
	int status = 500, revoked = 0, known, r, tries;

	memset(&sr, 0, sizeof(sr));
	status = authz_load(b, req, now, &a, msg, msglen);
	if (status != 0)
		goto out;
	if (req->too_large)
		FAIL(413, "ValidationException: the request body is larger than %d bytes",
		     BROKER_SESSIONS_BODY_MAX);
	if (ssm_start_session_request_parse(req->body ? req->body : "", req->body ? req->len : 0,
					    &sr, err, sizeof(err)) < 0) {
		if (strncmp(err, "Parameters", 10) == 0)
			FAIL(400, "InvalidParameters: %s", err);
		FAIL(400, "ValidationException: %s", err);
	}
	/* the policies first: nothing about the target or the document is told to a user who
	 * may not start a session on it */
	tctx = cJSON_Duplicate(a.ctx, 1);
	if (tctx == NULL)
		FAIL(500, "out of memory");
	known = target_context(b->db, sr.target, tctx, &revoked);
	if (known < 0)
		FAIL(500, "database error");
	/* an EC2 host: the instance's ARN, in the account and region of its identity
	 * document (AWS names i- targets so); an unknown i- target: this broker's */
	r = ssm_ca_ec2_id_valid(sr.target)
		    ? ec2_host_arn(b->db, sr.target, target_arn, sizeof(target_arn))
		    : -ENOENT;
	if (r == -EIO)
		FAIL(500, "database error");
	if (r < 0 && ssm_ca_ec2_id_valid(sr.target))
		snprintf(target_arn, sizeof(target_arn), "arn:aws:ec2:%s:%s:instance/%s",
			 BROKER_REGION, BROKER_ACCOUNT, sr.target);
	else if (r < 0)
		snprintf(target_arn, sizeof(target_arn), "arn:aws:ssm:%s:%s:managed-instance/%s",
			 BROKER_REGION, BROKER_ACCOUNT, sr.target);
	snprintf(doc_arn, sizeof(doc_arn), "arn:aws:ssm:%s:%s:document/%s", BROKER_REGION,
		 BROKER_ACCOUNT, sr.document);
	is.target_arn = target_arn;
	is.target_context = tctx;
	is.document_arn = doc_arn;
	is.document_context = a.ctx;
	if (ssm_iam_start_session((const struct ssm_iam_policy *const *)a.pols, a.npols, &is,
				  &res, err, sizeof(err)) < 0)
		FAIL(500, "policy evaluation failed: %s", err);
	if (res.decision != SSM_IAM_ALLOW) {
		ssm_iam_explain(a.p.user, "ssm:StartSession", &res, why, sizeof(why));
		FAIL(403, "AccessDeniedException: %s", why);
	}
	if (!known)
		FAIL(400, "TargetNotConnected: %s is not a managed instance of this broker",
		     sr.target);
	if (revoked)
		FAIL(400, "TargetNotConnected: %s is revoked", sr.target);
	r = db_document_get(b->db, sr.document, &content, &clen, hash, stype);
	if (r == -ENOENT)
		FAIL(400, "InvalidDocument: the document %s does not exist at the broker",
		     sr.document);
	if (r < 0)
		FAIL(500, "database error");
	if (ssm_document_parse(content, clen, sr.document, &doc, err, sizeof(err)) < 0)
		FAIL(400, "InvalidDocument: the stored document %s is not valid: %s", sr.document,
		     err);
	if (ssm_document_check_params(doc, sr.parameters, err, sizeof(err)) < 0)
		FAIL(400, "InvalidParameters: %s", err);
	if (!broker_agent_connected(sr.target))
		FAIL(400, "TargetNotConnected: %s is not connected", sr.target);
	/* run as: the user's set-run-as, else the document's runAsDefaultUser, else ssm-user */
	r = users_run_as(b->db, a.p.user, run_as, sizeof(run_as));
	if (r == -EIO)
		FAIL(500, "database error");
	if (r == -ENOENT) {
		if (doc->run_as_enabled && doc->run_as_default_user != NULL &&
		    doc->run_as_default_user[0] != '\0')
			snprintf(run_as, sizeof(run_as), "%s", doc->run_as_default_user);
		else
			snprintf(run_as, sizeof(run_as), "ssm-user");
	}
	if (load_sign_key(b, msg, msglen) < 0) {
		status = 500;
		goto out;
	}
	if (sessions_schema_ensure(b->db) < 0)
		FAIL(500, "database error");
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 || ssm_b64url_encode(rnd, sizeof(rnd), &secret) < 0)
		FAIL(500, "no randomness");
	ssm_sha256_hex(secret, strlen(secret), ahash);
	if (sr.parameters != NULL && (params_s = cJSON_PrintUnformatted(sr.parameters)) == NULL)
		FAIL(500, "out of memory");
	for (tries = 0; tries < 8; tries++) {
		if (sid_new(a.p.user, sid, sizeof(sid)) < 0)
			FAIL(500, "no randomness");
		memset(&c, 0, sizeof(c));
		c.iss = b->issuer;
		c.aud = sr.target;
		c.sub = a.p.user;
		c.sid = sid;
		c.iat = now;
		c.exp = now + BROKER_ATTACH_WINDOW;
		c.run_as = run_as;
		c.doc_name = sr.document;
		c.doc_sha256 = hash;
		c.params = sr.parameters;
		free(token);
		token = ssm_token_mint(sign_key, sign_kid, &c, err, sizeof(err));
		if (token == NULL)
			FAIL(500, "cannot mint the session token: %s", err);
		sqlite3_finalize(st);
		st = brokerd_prep(b->db, "INSERT INTO sessions(sid, owner, target, document,"
					 " session_type, run_as, params, state, reason, created,"
					 " attach_hash, host_token) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
					 " 'Pending', ?8, ?9, ?10, ?11)");
		if (st == NULL)
			FAIL(500, "database error");
		sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, a.p.user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, sr.target, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, sr.document, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, ssm_session_type_name(doc->type), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, run_as, -1, SQLITE_STATIC);
		if (params_s)
			sqlite3_bind_text(st, 7, params_s, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 7);
		if (sr.reason[0])
			sqlite3_bind_text(st, 8, sr.reason, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 8);
		sqlite3_bind_int64(st, 9, now);
		sqlite3_bind_text(st, 10, ahash, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, token, -1, SQLITE_STATIC);
		r = sqlite3_step(st);
		if (r == SQLITE_DONE)
			break;
		if (sqlite3_extended_errcode(b->db) != SQLITE_CONSTRAINT_PRIMARYKEY)
			FAIL(500, "database error: %s", sqlite3_errmsg(b->db));
	}
	if (tries == 8)
		FAIL(500, "cannot find a free session id");
	stream_url(b, req, url, sizeof(url));
	resp = cJSON_CreateObject();
	if (resp == NULL || !cJSON_AddStringToObject(resp, "SessionId", sid) ||
	    !cJSON_AddStringToObject(resp, "TokenValue", secret) ||
	    !cJSON_AddStringToObject(resp, "StreamUrl", url) ||
	    !cJSON_AddStringToObject(resp, "SessionType", ssm_session_type_name(doc->type)))
		FAIL(500, "out of memory");
	*presp = resp;
	resp = NULL;
	snprintf(msg, msglen,
		 "StartSession %s: user %s (mfa %s) target %s document %s (sha256 %.12s) as %s%s%s",
		 sid, a.p.user, a.p.mfa ? "yes" : "no", sr.target, sr.document, hash, run_as,
		 sr.reason[0] ? ", reason: " : "", sr.reason);
	status = 200;
out:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if (secret != NULL) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	sqlite3_finalize(st);
	ssm_start_session_request_clear(&sr);
	ssm_document_free(doc);
	cJSON_Delete(tctx);
	cJSON_Delete(resp);
	free(content);
	free(params_s);
	authz_free(&a);
	return status;
}

static int terminate_session(struct broker *b, const struct broker_http_request *req,
			     const char *sid, cJSON **presp, char *msg, size_t msglen)
{
	struct authz a;
	sqlite3_stmt *st = NULL;
	char arn[256], state[16] = "", reason[160];
	int64_t now = ssm_now();
	int status;

	status = authz_load(b, req, now, &a, msg, msglen);
	if (status != 0)
		goto out;
	if (!sid_valid(sid))
		FAIL(400, "ValidationException: not a session id (USER-[a-z0-9]{8,32})");
	snprintf(arn, sizeof(arn), "arn:aws:ssm:%s:%s:session/%s", BROKER_REGION, BROKER_ACCOUNT,
		 sid);
	status = authz_check(&a, "ssm:TerminateSession", arn, msg, msglen);
	if (status != 0)
		goto out;
	/* only now: whether the session exists */
	if (sessions_schema_ensure(b->db) < 0)
		FAIL(500, "database error");
	st = brokerd_prep(b->db, "SELECT state, owner FROM sessions WHERE sid = ?1");
	if (st == NULL)
		FAIL(500, "database error");
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		FAIL(400, "DoesNotExist: Session %s does not exist", sid);
	snprintf(state, sizeof(state), "%s", (const char *)sqlite3_column_text(st, 0));
	if (strcmp((const char *)sqlite3_column_text(st, 1), a.p.user) != 0) {
		/* see get_transcript: a prefix grant does not cover other owners */
		snprintf(arn, sizeof(arn), "arn:aws:ssm:%s:%s:session/*", BROKER_REGION,
			 BROKER_ACCOUNT);
		if ((status = authz_check(&a, "ssm:TerminateSession", arn, msg, msglen)) != 0)
			goto out;
	}
	snprintf(reason, sizeof(reason), "terminated by %s", a.p.user);
	if (strcmp(state, "Pending") == 0 || strcmp(state, "Connected") == 0) {
		(void)broker_session_terminate(sid, reason);
		if (strcmp(state, "Pending") == 0 &&
		    db_session_end(b->db, sid, "Terminated", reason, now) < 0)
			FAIL(500, "database error");
	}
	*presp = cJSON_CreateObject();
	if (*presp == NULL || !cJSON_AddStringToObject(*presp, "SessionId", sid)) {
		cJSON_Delete(*presp);
		*presp = NULL;
		FAIL(500, "out of memory");
	}
	snprintf(msg, msglen, "TerminateSession %s (%s) by %s", sid, state, a.p.user);
	status = 200;
out:
	sqlite3_finalize(st);
	authz_free(&a);
	return status;
}

/* GET /v1/sessions/SID/transcript: the stored asciicast (ssm:GetTranscript on the session) */
#define TRANSCRIPT_GET_MAX (64u * 1024 * 1024)
static int get_transcript(struct broker *b, const struct broker_http_request *req,
			  const char *sid, cJSON **presp, char *msg, size_t msglen)
{
	struct authz a;
	sqlite3_stmt *st = NULL;
	char arn[256], target[64] = "", owner[65] = "", any_session_arn[128];
	uint64_t size = 0;
	int complete = 0, fd = -1, status, r;
	char *buf = NULL;
	size_t got = 0;

	status = authz_load(b, req, ssm_now(), &a, msg, msglen);
	if (status != 0)
		goto out;
	if (!sid_valid(sid))
		FAIL(400, "ValidationException: not a session id (USER-[a-z0-9]{8,32})");
	snprintf(arn, sizeof(arn), "arn:aws:ssm:%s:%s:session/%s", BROKER_REGION, BROKER_ACCOUNT,
		 sid);
	snprintf(any_session_arn, sizeof(any_session_arn), "arn:aws:ssm:%s:%s:session/*",
		 BROKER_REGION, BROKER_ACCOUNT);
	status = authz_check(&a, "ssm:GetTranscript", arn, msg, msglen);
	if (status != 0)
		goto out;
	if (sessions_schema_ensure(b->db) < 0)
		FAIL(500, "database error");
	st = brokerd_prep(b->db, "SELECT target, owner FROM sessions WHERE sid = ?1");
	if (st == NULL)
		FAIL(500, "database error");
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(target, sizeof(target), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(owner, sizeof(owner), "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	st = NULL;
	/* session/${aws:username}-* also matches the sessions of user "NAME-x": another
	 * owner's session needs a grant on every session (session/ and a star) */
	if (owner[0] && strcmp(owner, a.p.user) != 0 &&
	    (status = authz_check(&a, "ssm:GetTranscript", any_session_arn, msg, msglen)) != 0)
		goto out;
	if (target[0] == '\0')
		FAIL(400, "DoesNotExist: no transcript of session %s has reached the broker", sid);
	r = tstore_read(b, sid, target, &fd, &size, &complete);
	if (r == -ENOENT)
		FAIL(400, "DoesNotExist: no transcript of session %s has reached the broker", sid);
	if (r < 0)
		FAIL(500, "cannot read the transcript: %s", strerror(-r));
	if (size > TRANSCRIPT_GET_MAX)
		size = TRANSCRIPT_GET_MAX;
	buf = malloc((size_t)size + 1);
	if (buf == NULL)
		FAIL(500, "out of memory");
	while (got < size) {
		ssize_t n = pread(fd, buf + got, (size_t)size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*presp = cJSON_CreateObject();
	if (*presp == NULL || !cJSON_AddStringToObject(*presp, "SessionId", sid) ||
	    !cJSON_AddBoolToObject(*presp, "Complete", complete) ||
	    !cJSON_AddNumberToObject(*presp, "Bytes", (double)got) ||
	    !cJSON_AddStringToObject(*presp, "Transcript", buf)) {
		cJSON_Delete(*presp);
		*presp = NULL;
		FAIL(500, "out of memory");
	}
	snprintf(msg, msglen, "GetTranscript %s (%zu bytes) by %s", sid, got, a.p.user);
	status = 200;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	sqlite3_finalize(st);
	authz_free(&a);
	return status;
}

static int describe_sessions(struct broker *b, const struct broker_http_request *req,
			     cJSON **presp, char *msg, size_t msglen)
{
	struct authz a;
	const char *state = NULL;
	cJSON *list, *out;
	int status;

	status = authz_load(b, req, ssm_now(), &a, msg, msglen);
	if (status != 0)
		goto out;
	if (req->query != NULL && strcmp(req->query, "state=Active") == 0)
		state = "Active";
	else if (req->query != NULL && strcmp(req->query, "state=History") == 0)
		state = "History";
	else
		FAIL(400, "ValidationException: state must be Active or History (?state=Active)");
	status = authz_check(&a, "ssm:DescribeSessions", "*", msg, msglen);
	if (status != 0)
		goto out;
	list = db_session_list(b->db, state, NULL);
	out = cJSON_CreateObject();
	if (list == NULL || out == NULL || !cJSON_AddItemToObject(out, "Sessions", list)) {
		cJSON_Delete(list);
		cJSON_Delete(out);
		FAIL(500, "database error");
	}
	*presp = out;
	snprintf(msg, msglen, "DescribeSessions %s by %s: %d sessions", state, a.p.user,
		 cJSON_GetArraySize(list));
	status = 200;
out:
	authz_free(&a);
	return status;
}

int broker_sessions_http(struct broker *b, const struct broker_http_request *req,
			 cJSON **presp, char *msg, size_t msglen)
{
	const char *p = req->path, *rest;
	char sid[140];
	size_t n;

	*presp = NULL;
	msg[0] = '\0';
	if (p == NULL || strncmp(p, "/v1/sessions", 12) != 0) {
		snprintf(msg, msglen, "not found");
		return 404;
	}
	rest = p + 12;
	if (rest[0] == '\0') {
		if (strcmp(req->method, "POST") == 0)
			return start_session(b, req, presp, msg, msglen);
		if (strcmp(req->method, "GET") == 0)
			return describe_sessions(b, req, presp, msg, msglen);
		snprintf(msg, msglen, "method not allowed");
		return 405;
	}
	/* /SID/terminate */
	if (rest[0] == '/' && (n = strcspn(rest + 1, "/")) > 0 && n < sizeof(sid) &&
	    strcmp(rest + 1 + n, "/terminate") == 0) {
		if (strcmp(req->method, "POST") != 0) {
			snprintf(msg, msglen, "method not allowed");
			return 405;
		}
		memcpy(sid, rest + 1, n);
		sid[n] = '\0';
		return terminate_session(b, req, sid, presp, msg, msglen);
	}
	/* /SID/transcript */
	if (rest[0] == '/' && (n = strcspn(rest + 1, "/")) > 0 && n < sizeof(sid) &&
	    strcmp(rest + 1 + n, "/transcript") == 0) {
		if (strcmp(req->method, "GET") != 0) {
			snprintf(msg, msglen, "method not allowed");
			return 405;
		}
		memcpy(sid, rest + 1, n);
		sid[n] = '\0';
		return get_transcript(b, req, sid, presp, msg, msglen);
	}
	snprintf(msg, msglen, "not found");
	return 404;
}
