/* brokerd.h - ssm-broker, the C broker (SPEC section 9): its state directory (SQLite
 * database, CA, TLS and signing keys), the database operations, and `serve`. */
#ifndef SSM_BROKERD_H
#define SSM_BROKERD_H
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <time.h>
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
	cJSON *jwks; /* the public JWK Set: the signing key's, and the one it replaced */
	char *keychain; /* the rotation statements hosts are sent (lib/keyrot.h), "" if none */
	size_t keychain_len;
	ino_t key_ino; /* signing.key as loaded (a rotation replaces the file) */
	struct timespec key_mtime;
};

/* state.c: open the state directory, creating what is missing (and saying where, on
 * stderr) when create is set; without it only the database is opened (admin commands). */
int broker_open(const char *dir, int create, struct broker **pb);
void broker_close(struct broker *b);
/* Make sure the server certificate names every one of names (reissued when not). */
int broker_server_cert(struct broker *b, const char *const *names, size_t n);

/* jwks.c: the token signing key (Ed25519) and its public JWK Set. */
int broker_jwks_ensure(const char *key_path, const char *jwks_path, cJSON **pjwks);
/* The signing key, the JWK Set and the rotation chain (STATE/keyrot), finishing a rotation
 * that was interrupted; 0 or -errno (the keys in use, if any, stay). */
int broker_keys_load(struct broker *b);
/* Reload when signing.key was replaced (`ssm-broker key rotate` while serving): 1 reloaded,
 * 0 unchanged, -1 failed (the keys in use stay). */
int broker_keys_fresh(struct broker *b);
/* A new signing key; the old one signs the statement that hands it to hosts and stays in
 * the JWK Set until the next rotation.  0 or -errno; the kids of both. */
int broker_key_rotate(struct broker *b, char newkid[65], char oldkid[65]);
/* The kid the JWK Set gives key (the first 16 characters of the base64url SHA-256 of the
 * raw public key); 0 or -ENOMEM. */
int broker_key_kid(EVP_PKEY *key, char kid[65]);

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
/* ec2.c: the same for a host proving its EC2 instance identity (req->ec2_document set):
 * 0 with *presp; 400, 403, 500 with msg.  The tables, the ARN of a registered EC2 host
 * (arn:aws:ec2:REGION:ACCOUNT:instance/ID; 0, -ENOENT, -EINVAL, -EIO), and
 * `ssm-broker ec2 ...` (argv[0] is "ec2"). */
int db_register_ec2(struct broker *b, const struct ssm_enroll_request *req, int64_t now,
		    cJSON **presp, char *msg, size_t msglen);
int ec2_schema_ensure(sqlite3 *db);
int ec2_host_arn(sqlite3 *db, const char *id, char *out, size_t size);
int broker_ec2_main(int argc, char **argv);
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
/* The pieces of users_authorize, for requests with more than one resource or context key
 * (brokerd/sessions.c): the user behind "Bearer CREDENTIAL" (0, or 401/500 with msg); their
 * policies and their groups' (0 or -EIO with msg; free each with ssm_iam_policy_free, then
 * the array); the global condition keys (aws:username, aws:userid, aws:PrincipalType,
 * aws:MultiFactorAuthPresent, aws:CurrentTime, aws:EpochTime), NULL without memory. */
struct users_principal {
	char user[65];
	char uid[32];
	int mfa;
};
struct ssm_iam_policy;
int users_credential(sqlite3 *db, const char *authorization, int64_t now,
		     struct users_principal *p, char *msg, size_t msglen);
int users_load_policies(sqlite3 *db, const char *user, struct ssm_iam_policy ***ppols,
			size_t *pn, char *msg, size_t msglen);
cJSON *users_context(const struct users_principal *p, int64_t now);
/* users.c: the OS user a broker user's sessions run as (`ssm-broker user set-run-as`, like
 * AWS's SSMSessionRunAs principal tag): 0 with out, -ENOENT when none is set, -EIO. */
int users_run_as(sqlite3 *db, const char *user, char *out, size_t size);

/* documents.c: the session documents the broker knows (their bytes: a token carries their
 * SHA-256), `ssm-broker document put|list|delete` (argv[0] is "document"). */
int broker_documents_main(int argc, char **argv);
int documents_schema_ensure(sqlite3 *db);
/* The stored bytes of document name (malloc'ed, NUL-terminated, *plen bytes), their SHA-256
 * (64 lowercase hex) and session type.  0, -ENOENT, -EIO, -ENOMEM. */
int db_document_get(sqlite3 *db, const char *name, char **pcontent, size_t *plen,
		    char sha256[65], char session_type[32]);
/* The bytes of document name whose SHA-256 is sha256: the current version or an older one
 * still kept.  0, -ENOENT, -EIO, -ENOMEM. */
int db_document_version_get(sqlite3 *db, const char *name, const char *sha256,
			    char **pcontent, size_t *plen);

/* sessions.c: sessions (AWS StartSession, TerminateSession, DescribeSessions), in the table
 * sessions(sid, owner, target, document, session_type, run_as, params, state, reason,
 * created, started, ended, attach_hash, host_token); state is Pending (started, no client
 * attached yet), Connected, Terminated or Failed. */
#define BROKER_REGION "us-east-1"     /* the ARNs' region and account (IAM resources) */
#define BROKER_ACCOUNT "123456789012"
#define BROKER_ATTACH_WINDOW 60        /* seconds to attach after StartSession; the host
					* token's lifetime too */
int sessions_schema_ensure(sqlite3 *db);
struct broker_session {
	char sid[129], owner[129], target[32], document[129], session_type[32], run_as[33];
	char *host_token; /* malloc'ed */
};
void broker_session_free(struct broker_session *s); /* the token cleansed and freed */
/* A client attaches to a session it started: one-shot.  The session must be Pending, owned
 * by user, created less than BROKER_ATTACH_WINDOW seconds before now, and the SHA-256 of
 * secret (StartSession's TokenValue) must equal its attach_hash (CRYPTO_memcmp).  Then it
 * is Connected (started = now; its host token and attach hash are cleared from the
 * database) and out holds it.  0; -ENOENT no such session; -EACCES refused (why says
 * which rule; a session past its window is marked Failed); -EIO database error. */
int db_session_attach(sqlite3 *db, const char *sid, const char *secret, const char *user,
		      int64_t now, struct broker_session *out, char *why, size_t whylen);
/* A session ends: state "Terminated" or "Failed", with reason (may be NULL).  A session
 * that has already ended keeps its first end.  0, -ENOENT, -EINVAL (bad state), -EIO. */
int db_session_end(sqlite3 *db, const char *sid, const char *state, const char *reason,
		   int64_t now);
/* DescribeSessions: state "Active" (Pending and Connected) or "History" (Terminated and
 * Failed), all owners or one.  An array of AWS Session objects (SessionId, Target, Status
 * Connecting|Connected|Terminated|Failed, StartDate, EndDate, Owner, DocumentName, Reason),
 * newest first; NULL on a bad state or a database error.  Pending sessions past their
 * attach window are marked Failed first. */
cJSON *db_session_list(sqlite3 *db, const char *state, const char *owner_or_null);
/* The HTTP routes (serve.c dispatches; every one needs the bearer credential):
 *   POST /v1/sessions                  StartSession
 *   POST /v1/sessions/SID/terminate    TerminateSession
 *   GET  /v1/sessions?state=Active|History   DescribeSessions
 * Returns the HTTP status: 200 with *presp (and msg a line for the broker's log), or an
 * error status with msg "Code: text" (AccessDeniedException, ValidationException,
 * InvalidParameters, InvalidDocument, TargetNotConnected, DoesNotExist, ...). */
#define BROKER_SESSIONS_BODY_MAX 16384
struct broker_http_request {
	const char *method;        /* "GET" or "POST" */
	const char *path;          /* without the query */
	const char *query;         /* "state=Active" or NULL */
	const char *authorization; /* the Authorization header or NULL */
	const char *peer;          /* the client's address (aws:SourceIp) */
	const char *host;          /* the Host header or NULL */
	const char *listen;        /* the broker's ADDR:PORT */
	const char *body;          /* POST body (NULL: none) */
	size_t len;
	int too_large;             /* the body was larger than BROKER_SESSIONS_BODY_MAX */
	char *user_out;            /* out (may be NULL): the user of the credential, for the log */
	size_t user_size;
};
int broker_sessions_http(struct broker *b, const struct broker_http_request *req,
			 cJSON **presp, char *msg, size_t msglen);
/* serve.c (the relay): 1 if host_id's agent is linked now; ask the relay to end a session
 * (0 or -ENOENT when it holds no such session).  sessions.c has weak defaults (connected;
 * nothing to end) for builds without the relay. */
int broker_agent_connected(const char *host_id);
int broker_session_terminate(const char *sid, const char *reason);

/* serve.c */
struct serve_opts {
	const char *listen; /* ADDR:PORT */
	int64_t ping_after_ms, dead_after_ms;
	int64_t grace_ms; /* resumption grace (0: the protocol's 120 s) */
};
int broker_serve(struct broker *b, const struct serve_opts *o);

/* db.c: a prepared statement, or NULL after logging the database's error */
sqlite3_stmt *brokerd_prep(sqlite3 *db, const char *sql);

#endif
