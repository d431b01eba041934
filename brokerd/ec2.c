/* ec2.c - hosts registered by their EC2 instance identity (docs/ARCHITECTURE.md
 * "Registration"): what the administrator trusts, and POST /v1/register's EC2 form.
 *
 *   ssm-broker ec2 trust add [--state-dir DIR] --cert FILE     a signing certificate (PEM)
 *   ssm-broker ec2 trust list|remove [--state-dir DIR] [SHA256]
 *   ssm-broker ec2 account add [--state-dir DIR] ACCOUNT [--region R]... [--tag K=V]...
 *   ssm-broker ec2 account list|remove [--state-dir DIR] [ACCOUNT]
 *   ssm-broker ec2 tag [--state-dir DIR] INSTANCE K=V...        tags of one instance
 *   ssm-broker ec2 forget [--state-dir DIR] INSTANCE            its registration is removed
 *
 * A registration is accepted when the signature verifies against a trusted certificate
 * (lib/ec2id.c: PKCS7_verify, the signer pinned), the document's account is allowed (and
 * its region, when the account names regions), and, for an instance already registered,
 * the request carries the nonce of its first registration and a pendingTime no older than
 * the registered one.  The host id is the instanceId; its tags are the account's, then the
 * instance's own (these win); its ARN arn:aws:ec2:REGION:ACCOUNT:instance/ID. */
#include "brokerd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "ec2id.h"
#include "json.h"
#include "log.h"
#include "util.h"

static const char ec2_schema[] =
	"CREATE TABLE IF NOT EXISTS ec2_certs("
	" sha256 TEXT PRIMARY KEY,"       /* of the certificate's DER */
	" pem TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" added INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS ec2_accounts("
	" account TEXT PRIMARY KEY,"      /* 12 digits */
	" regions TEXT NOT NULL,"         /* JSON array, [] for any region */
	" tags TEXT NOT NULL,"            /* JSON object: every instance of the account gets them */
	" added INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS ec2_tags("
	" instance_id TEXT PRIMARY KEY,"
	" tags TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS ec2_instances("
	" id TEXT PRIMARY KEY,"           /* the instanceId, also hosts.id */
	" account TEXT NOT NULL,"
	" region TEXT NOT NULL,"
	" pending_time INTEGER NOT NULL," /* the newest pendingTime it registered with */
	" nonce_hash TEXT NOT NULL,"      /* sha256 hex of its first registration's nonce */
	" registered INTEGER NOT NULL,"
	" updated INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS ec2_instances_nonce ON ec2_instances(nonce_hash);";

int ec2_schema_ensure(sqlite3 *db)
{
	char *msg = NULL;

	if (sqlite3_exec(db, ec2_schema, NULL, NULL, &msg) != SQLITE_OK) {
		ssm_log(LOG_ERR, "database: cannot create the ec2 tables: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int ec2_host_arn(sqlite3 *db, const char *id, char *out, size_t size)
{
	sqlite3_stmt *st;
	int r = -ENOENT;

	if (!ssm_ca_ec2_id_valid(id))
		return -EINVAL;
	if (ec2_schema_ensure(db) < 0 ||
	    (st = brokerd_prep(db, "SELECT region, account FROM ec2_instances WHERE id = ?1")) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, size, "arn:aws:ec2:%s:%s:instance/%s", sqlite3_column_text(st, 0),
			 sqlite3_column_text(st, 1), id);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

/* The trusted certificates, NULL on a database error; an empty stack when there are none. */
static STACK_OF(X509) *load_trusted(sqlite3 *db)
{
	sqlite3_stmt *st = brokerd_prep(db, "SELECT pem FROM ec2_certs ORDER BY sha256");
	STACK_OF(X509) *sk = sk_X509_new_null();
	int n = 0;

	if (st == NULL || sk == NULL)
		goto fail;
	while (sqlite3_step(st) == SQLITE_ROW && n < SSM_EC2ID_CERTS_MAX) {
		const char *pem = (const char *)sqlite3_column_text(st, 0);
		X509 *x = NULL;
		if (ssm_ca_parse_cert(pem, strlen(pem), &x) < 0)
			continue; /* was checked when added */
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto fail;
		}
		n++;
	}
	sqlite3_finalize(st);
	return sk;
fail:
	sqlite3_finalize(st);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

/* The account's tags, then the instance's own over them, as a new object; NULL: error. */
static cJSON *merged_tags(sqlite3 *db, const char *account, const char *id)
{
	sqlite3_stmt *a = brokerd_prep(db, "SELECT tags FROM ec2_accounts WHERE account = ?1");
	sqlite3_stmt *i = brokerd_prep(db, "SELECT tags FROM ec2_tags WHERE instance_id = ?1");
	cJSON *out = cJSON_CreateObject(), *t = NULL, *el;
	int ok = 0;

	if (a == NULL || i == NULL || out == NULL)
		goto done;
	sqlite3_bind_text(a, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(i, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(a) == SQLITE_ROW) {
		t = cJSON_Parse((const char *)sqlite3_column_text(a, 0));
		cJSON_ArrayForEach(el, t) {
			if (cJSON_IsString(el))
				cJSON_AddStringToObject(out, el->string, el->valuestring);
		}
		cJSON_Delete(t);
	}
	if (sqlite3_step(i) == SQLITE_ROW) {
		t = cJSON_Parse((const char *)sqlite3_column_text(i, 0));
		cJSON_ArrayForEach(el, t) {
			if (!cJSON_IsString(el))
				continue;
			cJSON_DeleteItemFromObjectCaseSensitive(out, el->string);
			cJSON_AddStringToObject(out, el->string, el->valuestring);
		}
		cJSON_Delete(t);
	}
	ok = ssm_enroll_tags_valid(out);
done:
	sqlite3_finalize(a);
	sqlite3_finalize(i);
	if (!ok) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

#define FAIL(code, ...)                                    \
	do {                                               \
		snprintf(msg, msglen, __VA_ARGS__);        \
		status = (code);                           \
		goto out;                                  \
	} while (0)

int db_register_ec2(struct broker *b, const struct ssm_enroll_request *req, int64_t now,
		    cJSON **presp, char *msg, size_t msglen)
{
	struct ssm_ec2id_doc doc;
	STACK_OF(X509) *trusted = NULL;
	sqlite3_stmt *st = NULL, *ins = NULL, *ins2 = NULL, *rev = NULL;
	char err[512] = "", nhash[65], serial[SSM_CA_SERIAL_MAX], old_serial[SSM_CA_SERIAL_MAX] = "";
	char *cert = NULL, *ca_pem = NULL, *tags_s = NULL, when[32];
	cJSON *tags = NULL, *resp = NULL, *regions = NULL;
	int status = 500, in_tx = 0, again = 0, rc;
	int64_t old_pending = 0;

	*presp = NULL;
	if (ec2_schema_ensure(b->db) < 0)
		FAIL(500, "database error");
	trusted = load_trusted(b->db);
	if (trusted == NULL)
		FAIL(500, "database error");
	if (sk_X509_num(trusted) == 0)
		FAIL(403, "EC2 identity refused: this broker trusts no EC2 signing certificate "
			  "(ssm-broker ec2 trust add)");
	/* the signature first: nothing in the document is read before it verified */
	switch (ssm_ec2id_verify(req->ec2_document, strlen(req->ec2_document), req->ec2_signature,
				 strlen(req->ec2_signature), trusted, err, sizeof(err))) {
	case 0:
		break;
	case -EACCES:
		FAIL(403, "EC2 identity refused: the %s", err);
	case -ENOMEM:
		FAIL(500, "out of memory");
	default:
		FAIL(400, "EC2 identity refused: %s", err);
	}
	if (ssm_ec2id_doc_parse(req->ec2_document, strlen(req->ec2_document), &doc, err,
				sizeof(err)) < 0)
		FAIL(400, "EC2 identity refused: %s", err);
	/* the account allowlist, and its regions */
	st = brokerd_prep(b->db, "SELECT regions FROM ec2_accounts WHERE account = ?1");
	if (st == NULL)
		FAIL(500, "database error");
	sqlite3_bind_text(st, 1, doc.account_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		FAIL(403, "EC2 identity refused: account %s is not allowed at this broker",
		     doc.account_id);
	regions = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
	if (!cJSON_IsArray(regions))
		FAIL(500, "database error (regions)");
	if (cJSON_GetArraySize(regions) > 0) {
		const cJSON *r;
		int found = 0;
		cJSON_ArrayForEach(r, regions) {
			if (cJSON_IsString(r) && strcmp(r->valuestring, doc.region) == 0)
				found = 1;
		}
		if (!found)
			FAIL(403, "EC2 identity refused: region %s is not allowed for account %s",
			     doc.region, doc.account_id);
	}
	sqlite3_finalize(st);
	st = NULL;
	ssm_sha256_hex(req->ec2_nonce, strlen(req->ec2_nonce), nhash);

	if (exec(b->db, "BEGIN IMMEDIATE") < 0)
		FAIL(500, "database busy");
	in_tx = 1;
	/* an instance registered before: the same nonce, a pendingTime no older, not revoked */
	st = brokerd_prep(b->db, "SELECT e.nonce_hash, e.pending_time, h.revoked, h.cert_serial"
				 " FROM ec2_instances e LEFT JOIN hosts h ON h.id = e.id"
				 " WHERE e.id = ?1");
	if (st == NULL)
		FAIL(500, "database error");
	sqlite3_bind_text(st, 1, doc.instance_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *stored = (const char *)sqlite3_column_text(st, 0);
		again = 1;
		old_pending = sqlite3_column_int64(st, 1);
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			snprintf(old_serial, sizeof(old_serial), "%s", sqlite3_column_text(st, 3));
		if (sqlite3_column_int64(st, 2) != 0)
			FAIL(403, "EC2 identity refused: instance %s is revoked (ssm-broker ec2 forget "
				  "%s lets it register again)", doc.instance_id, doc.instance_id);
		if (stored == NULL || strlen(stored) != 64 || CRYPTO_memcmp(stored, nhash, 64) != 0)
			FAIL(403, "EC2 identity refused: instance %s is already registered, and this "
				  "request does not carry its registration nonce (ssm-broker ec2 forget "
				  "%s lets it register anew)", doc.instance_id, doc.instance_id);
		if (doc.pending_time < old_pending) {
			ssm_rfc3339(old_pending, when);
			FAIL(403, "EC2 identity refused: the document's pendingTime is older than the "
				  "one instance %s registered with (%s)", doc.instance_id, when);
		}
	} else if (rc != SQLITE_DONE) {
		FAIL(500, "database error");
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!again) {
		/* an id taken by a host registered otherwise (cannot happen for mi- ids) */
		st = brokerd_prep(b->db, "SELECT 1 FROM hosts WHERE id = ?1");
		if (st == NULL)
			FAIL(500, "database error");
		sqlite3_bind_text(st, 1, doc.instance_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			FAIL(403, "EC2 identity refused: host id %s is taken", doc.instance_id);
		sqlite3_finalize(st);
		/* a nonce is one instance's: the same nonce for a second instance is a copied
		 * ec2-nonce (an image made after a registration, a copied configuration), and
		 * whoever holds a copy could take over the other instance with its document */
		st = brokerd_prep(b->db, "SELECT 1 FROM ec2_instances WHERE nonce_hash = ?1");
		if (st == NULL)
			FAIL(500, "database error");
		sqlite3_bind_text(st, 1, nhash, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			FAIL(403, "EC2 identity refused: instance %s presents the registration nonce of "
				  "another instance (an ec2-nonce copied from another host or image: "
				  "remove it on this host and register again)", doc.instance_id);
		sqlite3_finalize(st);
		st = NULL;
	}
	tags = merged_tags(b->db, doc.account_id, doc.instance_id);
	if (tags == NULL || (tags_s = cJSON_PrintUnformatted(tags)) == NULL)
		FAIL(500, "database error (tags)");
	if (ssm_ca_issue_host(b->ca, req->csr, strlen(req->csr), doc.instance_id, now,
			      BROKER_HOST_DAYS, &cert, serial, err, sizeof(err)) < 0)
		FAIL(400, "%s", err);
	ins = brokerd_prep(b->db, "INSERT INTO hosts(id, tags, cert_serial, registered, last_contact,"
				  " revoked, activation_id) VALUES(?1, ?2, ?3, ?4, NULL, 0, ?5)"
				  " ON CONFLICT(id) DO UPDATE SET tags = ?2, cert_serial = ?3,"
				  " registered = ?4, activation_id = ?5");
	ins2 = brokerd_prep(b->db, "INSERT INTO ec2_instances(id, account, region, pending_time,"
				   " nonce_hash, registered, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6)"
				   " ON CONFLICT(id) DO UPDATE SET account = ?2, region = ?3,"
				   " pending_time = ?4, updated = ?6");
	rev = brokerd_prep(b->db, "INSERT OR IGNORE INTO revoked_certs(serial, host_id, revoked)"
				  " VALUES(?1, ?2, ?3)");
	if (ins == NULL || ins2 == NULL || rev == NULL)
		FAIL(500, "database error");
	{
		char src[64];
		snprintf(src, sizeof(src), "ec2:%s", doc.account_id);
		sqlite3_bind_text(ins, 1, doc.instance_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, tags_s, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, serial, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 4, now);
		sqlite3_bind_text(ins, 5, src, -1, SQLITE_TRANSIENT);
	}
	sqlite3_bind_text(ins2, 1, doc.instance_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins2, 2, doc.account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins2, 3, doc.region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins2, 4, doc.pending_time);
	sqlite3_bind_text(ins2, 5, nhash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins2, 6, now);
	if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(ins2) != SQLITE_DONE)
		FAIL(500, "database error: %s", sqlite3_errmsg(b->db));
	/* the certificate it had is no longer good: revoked, so a copy of it is useless */
	if (old_serial[0] != '\0') {
		sqlite3_bind_text(rev, 1, old_serial, -1, SQLITE_STATIC);
		sqlite3_bind_text(rev, 2, doc.instance_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(rev, 3, now);
		if (sqlite3_step(rev) != SQLITE_DONE)
			FAIL(500, "database error: %s", sqlite3_errmsg(b->db));
	}
	if (exec(b->db, "COMMIT") < 0)
		FAIL(500, "database error: %s", sqlite3_errmsg(b->db));
	in_tx = 0;
	if (ssm_ca_cert_pem(ssm_ca_cert(b->ca), &ca_pem) < 0)
		FAIL(500, "out of memory");
	resp = cJSON_CreateObject();
	if (resp == NULL || !cJSON_AddStringToObject(resp, "host_id", doc.instance_id) ||
	    !cJSON_AddStringToObject(resp, "certificate", cert) ||
	    !cJSON_AddStringToObject(resp, "ca", ca_pem) ||
	    !cJSON_AddItemToObject(resp, "jwks", cJSON_Duplicate(b->jwks, 1)) ||
	    !cJSON_AddStringToObject(resp, "issuer", b->issuer) ||
	    !cJSON_AddItemToObject(resp, "tags", tags))
		FAIL(500, "out of memory");
	tags = NULL;
	*presp = resp;
	resp = NULL;
	ssm_rfc3339(doc.pending_time, when);
	if (again)
		snprintf(msg, msglen, "%s (serial %s, EC2 account %s region %s, pendingTime %s): "
			 "registered again, certificate %s revoked", doc.instance_id, serial,
			 doc.account_id, doc.region, when, old_serial[0] ? old_serial : "-");
	else
		snprintf(msg, msglen, "%s (serial %s, EC2 account %s region %s, pendingTime %s)",
			 doc.instance_id, serial, doc.account_id, doc.region, when);
	status = 0;
out:
	if (in_tx)
		(void)exec(b->db, "ROLLBACK");
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
	sqlite3_finalize(ins2);
	sqlite3_finalize(rev);
	sk_X509_pop_free(trusted, X509_free);
	cJSON_Delete(tags);
	cJSON_Delete(resp);
	cJSON_Delete(regions);
	free(tags_s);
	free(cert);
	free(ca_pem);
	return status;
}

/* ---------------------------------------------------------------- administration */

static int eerr(const char *msg, const char *arg)
{
	fprintf(stderr, "ssm-broker: ec2: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

static int open_db(const char *dir, struct broker **pb)
{
	if (broker_open(dir, 0, pb) < 0)
		return -1;
	if (ec2_schema_ensure((*pb)->db) < 0) {
		broker_close(*pb);
		*pb = NULL;
		return -1;
	}
	return 0;
}

static int step_done(sqlite3_stmt *st)
{
	int r = st != NULL && sqlite3_step(st) == SQLITE_DONE ? 0 : -1;

	sqlite3_finalize(st);
	return r;
}

static int trust_add(sqlite3 *db, const char *file)
{
	char err[256] = "", hash[65], subject[256];
	unsigned char *der = NULL;
	char *pem = NULL;
	X509 *x = NULL;
	sqlite3_stmt *st;
	int n, ret = 1;

	if (ssm_ca_read_cert(file, &x, err, sizeof(err)) < 0) {
		fprintf(stderr, "ssm-broker: ec2 trust add: %s\n", err);
		return 2;
	}
	n = i2d_X509(x, &der);
	if (n <= 0 || ssm_ca_cert_pem(x, &pem) < 0)
		goto out;
	ssm_sha256_hex(der, (size_t)n, hash);
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	st = brokerd_prep(db, "INSERT OR REPLACE INTO ec2_certs(sha256, pem, subject, added)"
			      " VALUES(?1, ?2, ?3, ?4)");
	if (st != NULL) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, pem, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, subject, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, ssm_now());
	}
	if (step_done(st) < 0) {
		fprintf(stderr, "ssm-broker: ec2 trust add: database error\n");
		goto out;
	}
	printf("trusted %s %s\n", hash, subject);
	ret = 0;
out:
	OPENSSL_free(der);
	free(pem);
	X509_free(x);
	return ret;
}

static int list_rows(sqlite3 *db, const char *sql, int ncols)
{
	sqlite3_stmt *st = brokerd_prep(db, sql);
	int i;

	if (st == NULL)
		return 1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (i = 0; i < ncols; i++)
			printf("%s%s", i ? "  " : "", sqlite3_column_text(st, i));
		putchar('\n');
	}
	sqlite3_finalize(st);
	return 0;
}

static int delete_one(sqlite3 *db, const char *sql, const char *key, const char *what)
{
	sqlite3_stmt *st = brokerd_prep(db, sql);

	if (st != NULL)
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (step_done(st) < 0) {
		fprintf(stderr, "ssm-broker: ec2: database error\n");
		return 1;
	}
	if (sqlite3_changes(db) == 0) {
		fprintf(stderr, "ssm-broker: ec2: no %s %s\n", what, key);
		return 1;
	}
	printf("removed %s %s\n", what, key);
	return 0;
}

/* "K=V" into obj (replacing K) */
static int add_tag(cJSON *obj, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[129];
	size_t kl;

	if (eq == NULL || eq == kv || (kl = (size_t)(eq - kv)) >= sizeof(key))
		return -1;
	memcpy(key, kv, kl);
	key[kl] = '\0';
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	if (!cJSON_AddStringToObject(obj, key, eq + 1) || !ssm_enroll_tags_valid(obj))
		return -1;
	return 0;
}

static int account_add(sqlite3 *db, const char *account, cJSON *regions, cJSON *tags)
{
	char *r_s = cJSON_PrintUnformatted(regions), *t_s = cJSON_PrintUnformatted(tags);
	sqlite3_stmt *st = brokerd_prep(db, "INSERT OR REPLACE INTO ec2_accounts(account, regions,"
					    " tags, added) VALUES(?1, ?2, ?3, ?4)");
	int ret = 1;

	if (st != NULL && r_s != NULL && t_s != NULL) {
		sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r_s, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, t_s, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, ssm_now());
		if (step_done(st) == 0) {
			printf("account %s allowed (regions %s, tags %s)\n", account,
			       cJSON_GetArraySize(regions) ? r_s : "any", t_s);
			ret = 0;
		} else {
			fprintf(stderr, "ssm-broker: ec2 account add: database error\n");
		}
	} else {
		sqlite3_finalize(st);
	}
	free(r_s);
	free(t_s);
	return ret;
}

/* The instance's own tags: set keys; a registered host's tags follow at once. */
static int instance_tag(sqlite3 *db, const char *id, char **kvs, int n)
{
	sqlite3_stmt *st = NULL;
	cJSON *tags = NULL, *merged = NULL;
	char *t_s = NULL, *m_s = NULL, account[16] = "";
	int i, ret = 1;

	if (exec(db, "BEGIN IMMEDIATE") < 0)
		return 1;
	st = brokerd_prep(db, "SELECT tags FROM ec2_tags WHERE instance_id = ?1");
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	tags = sqlite3_step(st) == SQLITE_ROW ? cJSON_Parse((const char *)sqlite3_column_text(st, 0))
					      : cJSON_CreateObject();
	sqlite3_finalize(st);
	st = NULL;
	if (tags == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if (add_tag(tags, kvs[i]) < 0) {
			fprintf(stderr, "ssm-broker: ec2 tag: %s: KEY=VALUE, keys 1..128 bytes, values "
					"at most 256, at most 64 tags\n", kvs[i]);
			ret = 2;
			goto out;
		}
	t_s = cJSON_PrintUnformatted(tags);
	st = brokerd_prep(db, "INSERT OR REPLACE INTO ec2_tags(instance_id, tags) VALUES(?1, ?2)");
	if (st == NULL || t_s == NULL)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t_s, -1, SQLITE_STATIC);
	if (step_done(st) < 0) {
		st = NULL;
		goto out;
	}
	st = brokerd_prep(db, "SELECT account FROM ec2_instances WHERE id = ?1");
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(account, sizeof(account), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (account[0] != '\0') {
		merged = merged_tags(db, account, id);
		if (merged == NULL || (m_s = cJSON_PrintUnformatted(merged)) == NULL)
			goto out;
		st = brokerd_prep(db, "UPDATE hosts SET tags = ?2 WHERE id = ?1");
		if (st == NULL)
			goto out;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, m_s, -1, SQLITE_STATIC);
		if (step_done(st) < 0) {
			st = NULL;
			goto out;
		}
		st = NULL;
	}
	if (exec(db, "COMMIT") < 0)
		goto out;
	printf("%s tags %s%s\n", id, m_s ? m_s : t_s, account[0] ? "" : " (when it registers)");
	ret = 0;
out:
	if (ret != 0) {
		(void)exec(db, "ROLLBACK");
		if (ret == 1)
			fprintf(stderr, "ssm-broker: ec2 tag: database error\n");
	}
	sqlite3_finalize(st);
	cJSON_Delete(tags);
	cJSON_Delete(merged);
	free(t_s);
	free(m_s);
	return ret;
}

/* The registration of id is removed (its certificates revoked): it may register anew. */
static int instance_forget(sqlite3 *db, const char *id)
{
	static const char *const sql[] = {
		"INSERT OR IGNORE INTO revoked_certs(serial, host_id, revoked)"
		" SELECT cert_serial, id, ?2 FROM hosts WHERE id = ?1",
		"DELETE FROM hosts WHERE id = ?1 AND ?2 > 0",
		"DELETE FROM ec2_instances WHERE id = ?1 AND ?2 > 0",
	};
	size_t i;
	int changed = 0;

	if (exec(db, "BEGIN IMMEDIATE") < 0)
		goto fail;
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *st = brokerd_prep(db, sql[i]);
		if (st == NULL)
			goto fail;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, ssm_now());
		if (step_done(st) < 0)
			goto fail;
		changed += sqlite3_changes(db);
	}
	if (exec(db, "COMMIT") < 0)
		goto fail;
	if (changed == 0) {
		fprintf(stderr, "ssm-broker: ec2 forget: no instance %s\n", id);
		return 1;
	}
	printf("forgot %s (its certificates are revoked; it may register again)\n", id);
	return 0;
fail:
	(void)exec(db, "ROLLBACK");
	fprintf(stderr, "ssm-broker: ec2 forget: database error\n");
	return 1;
}

int broker_ec2_main(int argc, char **argv)
{
	const char *dir = BROKER_DEFAULT_STATE_DIR, *what, *verb = NULL, *cert = NULL;
	char **args = NULL;
	cJSON *regions = cJSON_CreateArray(), *tags = cJSON_CreateObject();
	struct broker *b = NULL;
	int i, n = 0, ret = 2;

	if (argc < 2 || regions == NULL || tags == NULL)
		goto usage;
	what = argv[1];
	args = calloc((size_t)argc, sizeof(*args));
	if (args == NULL)
		goto out;
	i = 2;
	if (strcmp(what, "trust") == 0 || strcmp(what, "account") == 0) {
		if (argc < 3)
			goto usage;
		verb = argv[2];
		i = 3;
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strncmp(argv[i], "--state-dir=", 12) == 0) {
			dir = argv[i] + 12;
		} else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc && cert == NULL) {
			cert = argv[++i];
		} else if (strcmp(argv[i], "--region") == 0 && i + 1 < argc) {
			if (!ssm_ec2id_region_valid(argv[++i])) {
				ret = eerr("not a region (e.g. eu-west-3):", argv[i]);
				goto out;
			}
			cJSON_AddItemToArray(regions, cJSON_CreateString(argv[i]));
		} else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc) {
			if (add_tag(tags, argv[++i]) < 0) {
				ret = eerr("--tag KEY=VALUE: keys 1..128 bytes, values at most 256, at "
					   "most 64 tags:", argv[i]);
				goto out;
			}
		} else if (argv[i][0] != '-') {
			args[n++] = argv[i];
		} else {
			goto usage;
		}
	}
	if (verb != NULL && strcmp(what, "trust") == 0) {
		if (cJSON_GetArraySize(regions) || cJSON_GetArraySize(tags))
			goto usage;
		if (strcmp(verb, "add") == 0 && cert != NULL && n == 0) {
			if (open_db(dir, &b) == 0)
				ret = trust_add(b->db, cert);
		} else if (strcmp(verb, "list") == 0 && cert == NULL && n == 0) {
			if (open_db(dir, &b) == 0)
				ret = list_rows(b->db, "SELECT sha256, subject FROM ec2_certs ORDER BY "
						       "added", 2);
		} else if (strcmp(verb, "remove") == 0 && cert == NULL && n == 1) {
			if (open_db(dir, &b) == 0)
				ret = delete_one(b->db, "DELETE FROM ec2_certs WHERE sha256 = ?1",
						 args[0], "certificate");
		} else {
			goto usage;
		}
	} else if (verb != NULL && strcmp(what, "account") == 0) {
		if (cert != NULL)
			goto usage;
		if (n == 1 && !ssm_ec2id_account_valid(args[0])) {
			ret = eerr("an AWS account id is 12 digits:", args[0]);
			goto out;
		}
		if (strcmp(verb, "add") == 0 && n == 1) {
			if (open_db(dir, &b) == 0)
				ret = account_add(b->db, args[0], regions, tags);
		} else if (strcmp(verb, "list") == 0 && n == 0 && !cJSON_GetArraySize(regions) &&
			   !cJSON_GetArraySize(tags)) {
			if (open_db(dir, &b) == 0)
				ret = list_rows(b->db, "SELECT account, regions, tags FROM ec2_accounts"
						       " ORDER BY account", 3);
		} else if (strcmp(verb, "remove") == 0 && n == 1 && !cJSON_GetArraySize(regions) &&
			   !cJSON_GetArraySize(tags)) {
			if (open_db(dir, &b) == 0)
				ret = delete_one(b->db, "DELETE FROM ec2_accounts WHERE account = ?1",
						 args[0], "account");
		} else {
			goto usage;
		}
	} else if (strcmp(what, "tag") == 0 || strcmp(what, "forget") == 0) {
		if (cert != NULL || cJSON_GetArraySize(regions) || cJSON_GetArraySize(tags) || n < 1 ||
		    (what[0] == 't' ? n < 2 : n != 1))
			goto usage;
		if (!ssm_ca_ec2_id_valid(args[0])) {
			ret = eerr("not an EC2 instance id (i- and 8 or 17 lowercase hex digits):",
				   args[0]);
			goto out;
		}
		if (open_db(dir, &b) == 0)
			ret = what[0] == 't' ? instance_tag(b->db, args[0], args + 1, n - 1)
					     : instance_forget(b->db, args[0]);
	} else {
		goto usage;
	}
	goto out;
usage:
	ret = eerr("usage: ssm-broker ec2 trust add --cert FILE | trust list | trust remove SHA256 |"
		   " account add ACCOUNT [--region R]... [--tag K=V]... | account list |"
		   " account remove ACCOUNT | tag INSTANCE K=V... | forget INSTANCE"
		   "  [--state-dir DIR]",
		   NULL);
out:
	broker_close(b);
	free(args);
	cJSON_Delete(regions);
	cJSON_Delete(tags);
	return ret;
}
