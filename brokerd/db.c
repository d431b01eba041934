/* db.c - ssm-broker's SQLite database, see brokerd.h.  Every statement is prepared with
 * bound parameters; no value is ever pasted into SQL text. */
#include "brokerd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "b64url.h"
#include "log.h"
#include "util.h"

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS hosts("
	" id TEXT PRIMARY KEY,"           /* mi- and 17 lowercase hex */
	" tags TEXT NOT NULL,"            /* JSON object */
	" cert_serial TEXT NOT NULL,"     /* lowercase hex of the certificate it was issued */
	" registered INTEGER NOT NULL,"   /* unix seconds */
	" last_contact INTEGER,"          /* unix seconds, NULL until it first connected */
	" revoked INTEGER NOT NULL DEFAULT 0," /* unix seconds of the revocation, 0 if not */
	" activation_id TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS activations("
	" id TEXT PRIMARY KEY,"
	" code_hash TEXT NOT NULL,"       /* sha256 hex of the code */
	" reg_limit INTEGER NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0,"
	" expires INTEGER NOT NULL,"      /* unix seconds */
	" tags TEXT NOT NULL,"
	" created INTEGER NOT NULL);"
	/* revoked certificate serials (a host's earlier certificates, or one alone) */
	"CREATE TABLE IF NOT EXISTS revoked_certs(serial TEXT PRIMARY KEY, host_id TEXT,"
	" revoked INTEGER NOT NULL);";

int db_open(const char *path, sqlite3 **pdb)
{
	char *msg = NULL;
	int rc;

	*pdb = NULL;
	rc = sqlite3_open_v2(path, pdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
						SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		ssm_log(LOG_ERR, "%s: cannot open the database: %s", path,
			*pdb ? sqlite3_errmsg(*pdb) : sqlite3_errstr(rc));
		sqlite3_close(*pdb);
		*pdb = NULL;
		return -EIO;
	}
	sqlite3_busy_timeout(*pdb, 5000);
	if (sqlite3_exec(*pdb, schema, NULL, NULL, &msg) != SQLITE_OK) {
		ssm_log(LOG_ERR, "%s: cannot create the schema: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(*pdb);
		*pdb = NULL;
		return -EIO;
	}
	return 0;
}

sqlite3_stmt *brokerd_prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		ssm_log(LOG_ERR, "database: %s", sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

int db_meta_get(sqlite3 *db, const char *key, char *val, size_t size)
{
	sqlite3_stmt *st = brokerd_prep(db, "SELECT value FROM meta WHERE key = ?1");
	int r = -ENOENT;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(val, size, "%s", (const char *)sqlite3_column_text(st, 0));
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

int db_meta_set(sqlite3 *db, const char *key, const char *val)
{
	sqlite3_stmt *st = brokerd_prep(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)");
	int r;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}

static int random_uuid(char out[64])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 64,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
	return 0;
}

int db_activation_create(sqlite3 *db, int64_t limit, int64_t expires, const cJSON *tags,
			 char id[64], char code[64])
{
	unsigned char rnd[20];
	char hash[65], *b64 = NULL, *tags_s = NULL;
	sqlite3_stmt *st = NULL;
	int r = -EIO;

	if (random_uuid(id) < 0 || RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	if (ssm_b64url_encode(rnd, sizeof(rnd), &b64) < 0)
		return -ENOMEM;
	snprintf(code, 64, "%s", b64);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	ssm_sha256_hex(code, strlen(code), hash);
	tags_s = cJSON_PrintUnformatted(tags);
	st = brokerd_prep(db, "INSERT INTO activations(id, code_hash, reg_limit, used, expires, tags,"
		      " created) VALUES(?1, ?2, ?3, 0, ?4, ?5, ?6)");
	if (st == NULL || tags_s == NULL)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, limit);
	sqlite3_bind_int64(st, 4, expires);
	sqlite3_bind_text(st, 5, tags_s, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, ssm_now());
	if (sqlite3_step(st) == SQLITE_DONE)
		r = 0;
	else
		ssm_log(LOG_ERR, "database: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	free(tags_s);
	return r;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int host_exists(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = brokerd_prep(db, "SELECT 1 FROM hosts WHERE id = ?1");
	int r;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return r;
}

#define FAIL(code, ...)                                    \
	do {                                               \
		snprintf(msg, msglen, __VA_ARGS__);        \
		status = (code);                           \
		goto out;                                  \
	} while (0)

int db_register(struct broker *b, const struct ssm_enroll_request *req, int64_t now,
		cJSON **presp, char *msg, size_t msglen)
{
	sqlite3_stmt *st = NULL, *ins = NULL, *upd = NULL;
	char hash[65], stored[65], host_id[SSM_HOST_ID_LEN + 1], serial[SSM_CA_SERIAL_MAX];
	char err[256] = "", *cert = NULL, *ca_pem = NULL;
	int64_t limit, used, expires;
	cJSON *tags = NULL, *resp = NULL;
	int status = 500, in_tx = 0, tries;

	*presp = NULL;
	if (exec(b->db, "BEGIN IMMEDIATE") < 0)
		FAIL(500, "database busy");
	in_tx = 1;
	st = brokerd_prep(b->db, "SELECT code_hash, reg_limit, used, expires, tags FROM activations"
			 " WHERE id = ?1");
	if (st == NULL)
		FAIL(500, "database error");
	sqlite3_bind_text(st, 1, req->activation_id, -1, SQLITE_STATIC);
	ssm_sha256_hex(req->activation_code, strlen(req->activation_code), hash);
	if (sqlite3_step(st) != SQLITE_ROW) {
		/* compare anyway, so that an unknown id costs what a wrong code costs */
		memset(stored, '0', 64);
		stored[64] = '\0';
		(void)CRYPTO_memcmp(hash, stored, 64);
		FAIL(403, "activation refused: unknown activation id or wrong code");
	}
	snprintf(stored, sizeof(stored), "%s", (const char *)sqlite3_column_text(st, 0));
	limit = sqlite3_column_int64(st, 1);
	used = sqlite3_column_int64(st, 2);
	expires = sqlite3_column_int64(st, 3);
	tags = cJSON_Parse((const char *)sqlite3_column_text(st, 4));
	if (strlen(stored) != 64 || CRYPTO_memcmp(hash, stored, 64) != 0)
		FAIL(403, "activation refused: unknown activation id or wrong code");
	/* only a holder of the code learns the activation's state */
	if (expires <= now)
		FAIL(403, "activation refused: the activation expired");
	if (used >= limit)
		FAIL(403, "activation refused: its registration limit (%lld) is reached",
		     (long long)limit);
	if (tags == NULL)
		FAIL(500, "database error (tags)");
	for (tries = 0; tries < 8; tries++) {
		if (ssm_ca_host_id_new(host_id) < 0)
			FAIL(500, "no randomness");
		if (host_exists(b->db, host_id) == 0)
			break;
	}
	if (tries == 8)
		FAIL(500, "cannot find a free host id");
	if (ssm_ca_issue_host(b->ca, req->csr, strlen(req->csr), host_id, now, BROKER_HOST_DAYS,
			      &cert, serial, err, sizeof(err)) < 0)
		FAIL(400, "%s", err);
	ins = brokerd_prep(b->db, "INSERT INTO hosts(id, tags, cert_serial, registered, last_contact,"
			  " revoked, activation_id) VALUES(?1, ?2, ?3, ?4, NULL, 0, ?5)");
	upd = brokerd_prep(b->db, "UPDATE activations SET used = used + 1 WHERE id = ?1");
	if (ins == NULL || upd == NULL)
		FAIL(500, "database error");
	{
		char *tags_s = cJSON_PrintUnformatted(tags);
		if (tags_s == NULL)
			FAIL(500, "out of memory");
		sqlite3_bind_text(ins, 1, host_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, tags_s, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 3, serial, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 4, now);
		sqlite3_bind_text(ins, 5, req->activation_id, -1, SQLITE_STATIC);
		free(tags_s);
	}
	sqlite3_bind_text(upd, 1, req->activation_id, -1, SQLITE_STATIC);
	if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(upd) != SQLITE_DONE ||
	    exec(b->db, "COMMIT") < 0)
		FAIL(500, "database error: %s", sqlite3_errmsg(b->db));
	in_tx = 0;
	if (ssm_ca_cert_pem(ssm_ca_cert(b->ca), &ca_pem) < 0)
		FAIL(500, "out of memory");
	resp = cJSON_CreateObject();
	if (resp == NULL || !cJSON_AddStringToObject(resp, "host_id", host_id) ||
	    !cJSON_AddStringToObject(resp, "certificate", cert) ||
	    !cJSON_AddStringToObject(resp, "ca", ca_pem) ||
	    !cJSON_AddItemToObject(resp, "jwks", cJSON_Duplicate(b->jwks, 1)) ||
	    !cJSON_AddStringToObject(resp, "issuer", b->issuer) ||
	    !cJSON_AddItemToObject(resp, "tags", tags))
		FAIL(500, "out of memory");
	tags = NULL;
	*presp = resp;
	resp = NULL;
	snprintf(msg, msglen, "%s (serial %s, activation %s)", host_id, serial, req->activation_id);
	status = 0;
out:
	if (in_tx)
		(void)exec(b->db, "ROLLBACK");
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	cJSON_Delete(tags);
	cJSON_Delete(resp);
	free(cert);
	free(ca_pem);
	return status;
}

int db_host_allowed(sqlite3 *db, const char *id, const char *serial, char *why, size_t whylen)
{
	sqlite3_stmt *st = brokerd_prep(db, "SELECT cert_serial, revoked FROM hosts WHERE id = ?1");
	sqlite3_stmt *rc = brokerd_prep(db, "SELECT 1 FROM revoked_certs WHERE serial = ?1");
	int r = -1;

	if (st == NULL || rc == NULL)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(rc, 1, serial, -1, SQLITE_STATIC);
	if (sqlite3_step(rc) == SQLITE_ROW) {
		snprintf(why, whylen, "certificate serial %s is revoked", serial);
		r = 0;
	} else if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(why, whylen, "host %s is not registered here", id);
		r = 0;
	} else if (sqlite3_column_int64(st, 1) != 0) {
		snprintf(why, whylen, "host %s is revoked", id);
		r = 0;
	} else if (strcmp((const char *)sqlite3_column_text(st, 0), serial) != 0) {
		snprintf(why, whylen, "host %s: certificate serial %s is not its current one", id,
			 serial);
		r = 0;
	} else {
		r = 1;
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(rc);
	return r;
}

int db_host_contact(sqlite3 *db, const char *id, int64_t now)
{
	sqlite3_stmt *st = brokerd_prep(db, "UPDATE hosts SET last_contact = ?2 WHERE id = ?1");
	int r;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}

int db_host_revoke(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = NULL, *ins = NULL;
	int r = -EIO;

	if (exec(db, "BEGIN IMMEDIATE") < 0)
		return -EIO;
	st = brokerd_prep(db, "UPDATE hosts SET revoked = ?2 WHERE id = ?1 AND revoked = 0");
	ins = brokerd_prep(db, "INSERT OR IGNORE INTO revoked_certs(serial, host_id, revoked)"
		       " SELECT cert_serial, id, ?2 FROM hosts WHERE id = ?1");
	if (st == NULL || ins == NULL)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ssm_now());
	sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 2, ssm_now());
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_step(ins) != SQLITE_DONE)
		goto out;
	r = sqlite3_changes(db) > 0 || host_exists(db, id) == 1 ? 0 : -ENOENT;
	if (exec(db, "COMMIT") < 0)
		r = -EIO;
out:
	if (r < 0)
		(void)exec(db, "ROLLBACK");
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
	return r;
}

cJSON *db_host_list(sqlite3 *db)
{
	sqlite3_stmt *st = brokerd_prep(db, "SELECT id, tags, cert_serial, registered, last_contact,"
				    " revoked, activation_id FROM hosts ORDER BY id");
	cJSON *arr = cJSON_CreateArray();

	if (st == NULL || arr == NULL) {
		sqlite3_finalize(st);
		cJSON_Delete(arr);
		return NULL;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		cJSON *tags = cJSON_Parse((const char *)sqlite3_column_text(st, 1));

		if (o == NULL)
			break;
		cJSON_AddStringToObject(o, "id", (const char *)sqlite3_column_text(st, 0));
		cJSON_AddItemToObject(o, "tags", tags ? tags : cJSON_CreateObject());
		cJSON_AddStringToObject(o, "cert_serial", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddNumberToObject(o, "registered", (double)sqlite3_column_int64(st, 3));
		if (sqlite3_column_type(st, 4) == SQLITE_NULL)
			cJSON_AddNullToObject(o, "last_contact");
		else
			cJSON_AddNumberToObject(o, "last_contact", (double)sqlite3_column_int64(st, 4));
		cJSON_AddBoolToObject(o, "revoked", sqlite3_column_int64(st, 5) != 0);
		cJSON_AddStringToObject(o, "activation_id", (const char *)sqlite3_column_text(st, 6));
		cJSON_AddItemToArray(arr, o);
	}
	sqlite3_finalize(st);
	return arr;
}

int64_t db_data_version(sqlite3 *db)
{
	sqlite3_stmt *st = brokerd_prep(db, "PRAGMA data_version");
	int64_t v = -1;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}
