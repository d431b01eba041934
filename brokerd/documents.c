/* documents.c - the session documents ssm-broker knows (SPEC section 3), the administration
 * side and what StartSession needs:
 *
 *   ssm-broker document put [--state-dir DIR] NAME FILE
 *   ssm-broker document list [--state-dir DIR] [--json]
 *   ssm-broker document delete [--state-dir DIR] NAME
 *
 * A document is stored as the file's bytes, exactly: a session token carries their SHA-256,
 * and a host runs exactly those bytes, from its own documents_dir/NAME.json or from the copy
 * its agent fetches over a DOCUMENT channel (docserve.c; docs/CONTRACT.md section 3.1).  It
 * must pass lib/document.c, the parser the host runs.  Every version put is kept by its hash
 * (document_versions) until the document is deleted, so a token minted before a `put`
 * replaced the document still finds its bytes. */
#include "brokerd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "document.h"
#include "log.h"
#include "util.h"

static const char documents_schema[] =
	"CREATE TABLE IF NOT EXISTS documents("
	" name TEXT PRIMARY KEY,"
	" content BLOB NOT NULL,"          /* the file's bytes */
	" sha256 TEXT NOT NULL,"           /* lowercase hex of content */
	" session_type TEXT NOT NULL,"     /* Standard_Stream, InteractiveCommands, ... */
	" created INTEGER NOT NULL);"
	/* every version ever put, by its hash: a host fetches the version its token names
	 * (DOCUMENT channels, docserve.c), even after `document put` replaced it */
	"CREATE TABLE IF NOT EXISTS document_versions("
	" name TEXT NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" content BLOB NOT NULL,"
	" created INTEGER NOT NULL,"
	" PRIMARY KEY(name, sha256));";

int documents_schema_ensure(sqlite3 *db)
{
	char *msg = NULL;

	if (sqlite3_exec(db, documents_schema, NULL, NULL, &msg) != SQLITE_OK) {
		ssm_log(LOG_ERR, "database: cannot create the documents table: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* Column col of the row st is on, as a NUL-terminated copy (*pcontent, *plen): 0 or -ENOMEM. */
static int blob_copy(sqlite3_stmt *st, int col, char **pcontent, size_t *plen)
{
	int n = sqlite3_column_bytes(st, col);

	*pcontent = malloc((size_t)n + 1);
	if (*pcontent == NULL)
		return -ENOMEM;
	if (n > 0)
		memcpy(*pcontent, sqlite3_column_blob(st, col), (size_t)n);
	(*pcontent)[n] = '\0';
	*plen = (size_t)n;
	return 0;
}

int db_document_get(sqlite3 *db, const char *name, char **pcontent, size_t *plen,
		    char sha256[65], char session_type[32])
{
	sqlite3_stmt *st;
	int r = -ENOENT;

	*pcontent = NULL;
	*plen = 0;
	if (documents_schema_ensure(db) < 0)
		return -EIO;
	st = brokerd_prep(db, "SELECT content, sha256, session_type FROM documents WHERE name = ?1");
	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		r = blob_copy(st, 0, pcontent, plen);
		if (r == 0) {
			snprintf(sha256, 65, "%s", (const char *)sqlite3_column_text(st, 1));
			snprintf(session_type, 32, "%s", (const char *)sqlite3_column_text(st, 2));
		}
	}
	sqlite3_finalize(st);
	return r;
}

int db_document_version_get(sqlite3 *db, const char *name, const char *sha256,
			    char **pcontent, size_t *plen)
{
	sqlite3_stmt *st;
	int r = -ENOENT;

	*pcontent = NULL;
	*plen = 0;
	if (documents_schema_ensure(db) < 0)
		return -EIO;
	/* the current version (also one put before versions were kept), else an older one */
	st = brokerd_prep(db, "SELECT content FROM documents WHERE name = ?1 AND sha256 = ?2"
			      " UNION ALL SELECT content FROM document_versions"
			      " WHERE name = ?1 AND sha256 = ?2 LIMIT 1");
	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		r = blob_copy(st, 0, pcontent, plen);
	}
	sqlite3_finalize(st);
	return r;
}

static int derr(const char *msg, const char *arg)
{
	fprintf(stderr, "ssm-broker: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

static int open_state(const char *dir, struct broker **pb)
{
	if (broker_open(dir, 0, pb) < 0)
		return -1;
	if (documents_schema_ensure((*pb)->db) < 0) {
		broker_close(*pb);
		*pb = NULL;
		return -1;
	}
	return 0;
}

static void warn(void *ctx, const char *msg)
{
	fprintf(stderr, "ssm-broker: warning: %s: %s\n", (const char *)ctx, msg);
}

static int document_put(const char *dir, const char *name, const char *file)
{
	struct ssm_document *doc = NULL;
	struct broker *b = NULL;
	char err[512] = "", hash[65];
	const char *type;
	sqlite3_stmt *st = NULL;
	char *text = NULL;
	size_t len = 0;
	int r, existed, ret = 1;

	r = ssm_read_file(file, SSM_DOCUMENT_MAX_SIZE, 0, &text, &len, err, sizeof(err));
	if (r < 0) {
		if (r == -EFBIG)
			fprintf(stderr, "ssm-broker: %s: larger than %d bytes\n", file,
				SSM_DOCUMENT_MAX_SIZE);
		else
			fprintf(stderr, "ssm-broker: %s\n", err[0] ? err : strerror(-r));
		return 1;
	}
	if (ssm_document_parse(text, len, name, &doc, err, sizeof(err)) < 0) {
		fprintf(stderr, "ssm-broker: %s: not a valid session document: %s\n", file, err);
		goto out;
	}
	ssm_document_warnings(doc, warn, (void *)file);
	type = ssm_session_type_name(doc->type);
	ssm_sha256_hex(text, len, hash);
	if (open_state(dir, &b) < 0) {
		ret = 2;
		goto out;
	}
	st = brokerd_prep(b->db, "SELECT 1 FROM documents WHERE name = ?1");
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	existed = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	st = brokerd_prep(b->db, "INSERT OR REPLACE INTO documents(name, content, sha256,"
				 " session_type, created) VALUES(?1, ?2, ?3, ?4, ?5)");
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, text, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, ssm_now());
	if (sqlite3_step(st) != SQLITE_DONE) {
		ssm_log(LOG_ERR, "database: %s", sqlite3_errmsg(b->db));
		goto out;
	}
	sqlite3_finalize(st);
	st = brokerd_prep(b->db, "INSERT OR IGNORE INTO document_versions(name, sha256, content,"
				 " created) VALUES(?1, ?2, ?3, ?4)");
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, text, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, ssm_now());
	if (sqlite3_step(st) != SQLITE_DONE) {
		ssm_log(LOG_ERR, "database: %s", sqlite3_errmsg(b->db));
		goto out;
	}
	printf("document: %s\nsha256: %s\nsession_type: %s\n%s\n", name, hash, type,
	       existed ? "replaced the stored document (tokens minted before name the old hash;"
			 " hosts can still fetch it)"
		       : "stored (hosts fetch it from the broker when they need it, unless their"
			 " documents_dir has NAME.json)");
	ret = 0;
out:
	sqlite3_finalize(st);
	ssm_document_free(doc);
	free(text);
	broker_close(b);
	return ret;
}

static int document_list(const char *dir, int json)
{
	struct broker *b = NULL;
	sqlite3_stmt *st;
	cJSON *arr = cJSON_CreateArray(), *d;
	int ret = 1;

	if (arr == NULL)
		return 1;
	if (open_state(dir, &b) < 0) {
		cJSON_Delete(arr);
		return 2;
	}
	st = brokerd_prep(b->db, "SELECT name, sha256, session_type, length(content), created"
				 " FROM documents ORDER BY name");
	if (st == NULL)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		d = cJSON_CreateObject();
		if (d == NULL ||
		    !cJSON_AddStringToObject(d, "name", (const char *)sqlite3_column_text(st, 0)) ||
		    !cJSON_AddStringToObject(d, "sha256", (const char *)sqlite3_column_text(st, 1)) ||
		    !cJSON_AddStringToObject(d, "session_type",
					     (const char *)sqlite3_column_text(st, 2)) ||
		    !cJSON_AddNumberToObject(d, "size", (double)sqlite3_column_int64(st, 3)) ||
		    !cJSON_AddNumberToObject(d, "created", (double)sqlite3_column_int64(st, 4))) {
			cJSON_Delete(d);
			sqlite3_finalize(st);
			goto out;
		}
		cJSON_AddItemToArray(arr, d);
	}
	sqlite3_finalize(st);
	if (json) {
		char *s = cJSON_Print(arr);
		printf("%s\n", s ? s : "[]");
		free(s);
	} else {
		printf("%-40s  %-24s  %-7s  %s\n", "NAME", "SESSION_TYPE", "SIZE", "SHA256");
		cJSON_ArrayForEach(d, arr)
			printf("%-40s  %-24s  %-7.0f  %s\n",
			       cJSON_GetObjectItem(d, "name")->valuestring,
			       cJSON_GetObjectItem(d, "session_type")->valuestring,
			       cJSON_GetObjectItem(d, "size")->valuedouble,
			       cJSON_GetObjectItem(d, "sha256")->valuestring);
	}
	ret = 0;
out:
	cJSON_Delete(arr);
	broker_close(b);
	return ret;
}

static int document_delete(const char *dir, const char *name)
{
	struct broker *b = NULL;
	sqlite3_stmt *st;
	int ret = 1;

	if (open_state(dir, &b) < 0)
		return 2;
	/* every version: a deleted document is no longer sent to any host */
	st = brokerd_prep(b->db, "DELETE FROM document_versions WHERE name = ?1");
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	(void)sqlite3_step(st);
	sqlite3_finalize(st);
	st = brokerd_prep(b->db, "DELETE FROM documents WHERE name = ?1");
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		ssm_log(LOG_ERR, "database: %s", sqlite3_errmsg(b->db));
	} else if (sqlite3_changes(b->db) == 0) {
		fprintf(stderr, "ssm-broker: no document %s\n", name);
	} else {
		printf("deleted the document %s\n", name);
		ret = 0;
	}
	sqlite3_finalize(st);
out:
	broker_close(b);
	return ret;
}

/* argv[0] is "document" */
int broker_documents_main(int argc, char **argv)
{
	const char *dir = BROKER_DEFAULT_STATE_DIR, *verb, *args[2] = { NULL, NULL };
	int i, n = 0, json = 0;

	if (argc < 2)
		goto usage;
	verb = argv[1];
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strncmp(argv[i], "--state-dir=", 12) == 0)
			dir = argv[i] + 12;
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] != '-' && n < 2)
			args[n++] = argv[i];
		else
			goto usage;
	}
	if (strcmp(verb, "list") == 0 && n == 0)
		return document_list(dir, json);
	if (json)
		goto usage;
	if ((strcmp(verb, "put") == 0 && n == 2) || (strcmp(verb, "delete") == 0 && n == 1)) {
		if (!ssm_document_name_valid(args[0]))
			return derr("a document name is 3..128 of [A-Za-z0-9_.-]:", args[0]);
		return n == 2 ? document_put(dir, args[0], args[1]) : document_delete(dir, args[0]);
	}
usage:
	return derr("usage: ssm-broker document put NAME FILE | document list [--json] |"
		    " document delete NAME  [--state-dir DIR]",
		    NULL);
}
