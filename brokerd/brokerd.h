/* brokerd.h - ssm-broker, the C broker (SPEC section 9): its state directory (SQLite
 * database, CA, TLS and signing keys), the database operations, and `serve`. */
#ifndef SSM_BROKERD_H
#define SSM_BROKERD_H
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <cjson/cJSON.h>
#include "ca.h"
#include "config.h"
#include "enroll.h"

#define BROKER_DEFAULT_STATE_DIR SSM_LOCALSTATEDIR "/lib/ssm-broker"
#define BROKER_DEFAULT_LISTEN "127.0.0.1:8443"
#define BROKER_CA_DAYS 3650
#define BROKER_SERVER_DAYS 825
#define BROKER_HOST_DAYS 365
#define BROKER_SOFTWARE "ssm-broker " PACKAGE_VERSION

struct broker {
	char *dir;
	char db_path[4096], ca_cert[4096], ca_key[4096], server_cert[4096], server_key[4096],
		sign_key[4096], jwks_path[4096];
	sqlite3 *db;
	struct ssm_ca *ca;
	char issuer[SSM_ENROLL_ISSUER_MAX + 1];
	cJSON *jwks; /* the public JWK Set */
};

/* state.c: open the state directory, creating what is missing (and saying where, on
 * stderr) when create is set; without it only the database is opened (admin commands). */
int broker_open(const char *dir, int create, struct broker **pb);
void broker_close(struct broker *b);
/* Make sure the server certificate names every one of names (reissued when not). */
int broker_server_cert(struct broker *b, const char *const *names, size_t n);

/* jwks.c: the token signing key (Ed25519) and its public JWK Set. */
int broker_jwks_ensure(const char *key_path, const char *jwks_path, cJSON **pjwks);

/* db.c */
int db_open(const char *path, sqlite3 **pdb);
int db_meta_get(sqlite3 *db, const char *key, char *val, size_t size);
int db_meta_set(sqlite3 *db, const char *key, const char *val);
/* A new activation: id and code (the code is shown once; only its hash is stored). */
int db_activation_create(sqlite3 *db, int64_t limit, int64_t expires, const cJSON *tags,
			 char id[64], char code[64]);
/* Register a host: checks the activation, assigns the id, issues the certificate, records
 * the host.  0 with *presp (JSON); or an HTTP status (400, 403, 500) with msg. */
int db_register(struct broker *b, const struct ssm_enroll_request *req, int64_t now,
		cJSON **presp, char *msg, size_t msglen);
/* 1 if host id with this certificate serial may connect (known, not revoked, the serial it
 * was issued, the serial not revoked); 0 otherwise with why. -1 on a database error. */
int db_host_allowed(sqlite3 *db, const char *id, const char *serial, char *why, size_t whylen);
int db_host_contact(sqlite3 *db, const char *id, int64_t now);
int db_host_revoke(sqlite3 *db, const char *id);
cJSON *db_host_list(sqlite3 *db);
/* PRAGMA data_version: changes when another connection committed. */
int64_t db_data_version(sqlite3 *db);

/* users.c: users, groups, policies (the administration commands; argv[0] is "user",
 * "group" or "policy"), and what login needs. */
int broker_users_main(int argc, char **argv);
int users_schema_ensure(sqlite3 *db);
int users_name_valid(const char *name, size_t max);
/* 1 if pw matches the stored crypt(3) hash, 0 if not, -ENOMEM */
int users_check_password(const char *pw, const char *stored);

/* login.c: POST /v1/login.  0 with *presp (the credential), or an HTTP status (401, 429,
 * 500) with msg for the client. */
#define BROKER_CREDENTIAL_TTL 3600
struct ssm_login_request;
int users_login(sqlite3 *db, const struct ssm_login_request *req, int64_t now, cJSON **presp,
		char *msg, size_t msglen);
/* The user behind "Bearer CREDENTIAL" (not expired) may do action on resource under the IAM
 * policies attached to them and their groups, with aws:username, aws:userid,
 * aws:PrincipalType, aws:MultiFactorAuthPresent, aws:CurrentTime, aws:EpochTime.  0 (the
 * user's name in user_out), or 401 (no or a bad credential), 403 (denied: msg in AWS's
 * words), 500; msg says why. */
int users_authorize(sqlite3 *db, const char *authorization, const char *action,
		    const char *resource, int64_t now, char *user_out, size_t user_size,
		    char *msg, size_t msglen);

/* serve.c */
struct serve_opts {
	const char *listen; /* ADDR:PORT */
	int64_t ping_after_ms, dead_after_ms;
};
int broker_serve(struct broker *b, const struct serve_opts *o);

/* db.c: a prepared statement, or NULL after logging the database's error */
sqlite3_stmt *brokerd_prep(sqlite3 *db, const char *sql);

#endif
