/* test_token.c - session tokens (SPEC section 2) against independent vectors, plus C tables
 * for the claims and the account step.
 *
 * The vectors come from tests/token_vectors.py (PyJWT + python3-cryptography, none of our
 * code), run here into a temporary directory with a fixed clock that is passed on to
 * ssm_token_verify.  SSM_TOKEN_VECTORS=DIR uses vectors made beforehand instead. */
#include "config.h" /* autoconf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "jwk.h"
#include "token.h"
#include "util.h"

#define NOW 1790000000LL
#define HOST "i-0123456789abcdef0"
#define ISS "https://broker.test"

static int run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static const char *outcome(int r)
{
	return r == 0 ? "ok" : r == SSM_TOKEN_REFUSED ? "refused" : "hostfault";
}

/* Returns 1 if the vectors ran, 0 if they could not be made (skip). */
static int test_vectors(void)
{
	char tmpl[] = "/tmp/ssm-test-token-XXXXXX", path[512], script[512], nowarg[32];
	const char *dir = getenv("SSM_TOKEN_VECTORS"), *srcdir = getenv("srcdir");
	struct ssm_config *cfg = NULL;
	struct ssm_jwks *keys = NULL;
	cJSON *vec = NULL, *rows, *row;
	char *buf = NULL, err[512];
	size_t len = 0;
	int made = 0, n = 0, r, ran = 0;
	int64_t now;

	if (dir == NULL) {
		char *argv[] = { "python3", script, "--out", tmpl, "--now", nowarg, NULL };
		if (mkdtemp(tmpl) == NULL) {
			CHECK(0, "mkdtemp");
			return 1;
		}
		dir = tmpl;
		made = 1;
		snprintf(script, sizeof(script), "%s/tests/token_vectors.py", srcdir ? srcdir : "..");
		snprintf(nowarg, sizeof(nowarg), "%lld", NOW);
		if (access("/usr/bin/python3", X_OK) == 0)
			argv[0] = "/usr/bin/python3"; /* the Debian one, with python3-jwt */
		r = run(argv);
		if (r == 77) {
			printf("SKIP: token_vectors.py cannot run (python3-jwt, python3-cryptography?)\n");
			goto out;
		}
		CHECK(r == 0, "token_vectors.py failed: %d", r);
		if (r != 0)
			goto out;
	}
	snprintf(path, sizeof(path), "%s/vectors.json", dir);
	r = ssm_read_file(path, 16 * 1024 * 1024, 0, &buf, &len, err, sizeof(err));
	CHECK(r == 0, "%s", err);
	if (r < 0)
		goto out;
	/* plain cJSON: rows hold tokens with escaped white space that our strict parser
	 * rightly refuses; this file is the test's own */
	vec = cJSON_ParseWithLength(buf, len);
	CHECK(vec != NULL, "vectors.json does not parse");
	if (vec == NULL)
		goto out;
	now = (int64_t)cJSON_GetObjectItem(vec, "now")->valuedouble;
	CHECK(now == NOW, "clock passed through");
	r = ssm_config_load(cJSON_GetObjectItem(vec, "config")->valuestring, &cfg, err,
			    sizeof(err));
	CHECK(r == 0, "config: %s", err);
	if (r < 0)
		goto out;
	r = ssm_jwks_load(cfg->trusted_keys, &keys, err, sizeof(err));
	CHECK(r == 0, "jwks: %s", err);
	if (r < 0)
		goto out;
	rows = cJSON_GetObjectItem(vec, "rows");
	cJSON_ArrayForEach(row, rows) {
		const char *name = cJSON_GetObjectItem(row, "name")->valuestring;
		const char *token = cJSON_GetObjectItem(row, "token")->valuestring;
		const char *expect = cJSON_GetObjectItem(row, "expect")->valuestring;
		const cJSON *user = cJSON_GetObjectItem(row, "user");
		struct ssm_verify_ctx ctx = { cfg, keys, now,
					      cJSON_IsString(user) ? user->valuestring : NULL };
		struct ssm_token *tok = NULL;
		struct ssm_document *doc = NULL;
		char reason[256] = "";
		const char *sig;

		r = ssm_token_verify(&ctx, token, strlen(token), &tok, &doc, reason, sizeof(reason));
		n++;
		if (getenv("SSM_TEST_VERBOSE"))
			printf("%-9s %-70.70s %s\n", outcome(r), name, reason);
		CHECK(strcmp(outcome(r), expect) == 0, "vector \"%s\": got %s (%d: %s), want %s",
		      name, outcome(r), r, reason, expect);
		if (r == 0) {
			char *cj = ssm_token_claims_json(tok);
			CHECK(tok && doc && tok->sub && tok->sid && tok->jti && tok->run_as &&
			      strcmp(doc->sha256, tok->doc_sha256) == 0 &&
			      strcmp(doc->name, tok->doc_name) == 0, "vector \"%s\": token fields",
			      name);
			CHECK(tok && ssm_token_keep_until(cfg, tok) == tok->exp + cfg->leeway,
			      "keep_until");
			CHECK(tok && tok->alg && (strcmp(tok->alg, "ES256") == 0) ==
			      (strstr(name, "ES256") != NULL), "vector \"%s\": alg %s", name,
			      tok && tok->alg ? tok->alg : "-");
			CHECK(cj != NULL && strstr(cj, "\"jti\"") != NULL, "claims json");
			free(cj);
		} else {
			CHECK(tok == NULL && doc == NULL, "vector \"%s\": outputs set on failure",
			      name);
			CHECK(reason[0] != '\0' && strchr(reason, '\n') == NULL,
			      "vector \"%s\": reason must be one line", name);
			/* never echo the token's signature */
			sig = strrchr(token, '.');
			CHECK(sig == NULL || strlen(sig) < 12 || strstr(reason, sig + 1) == NULL,
			      "vector \"%s\": reason contains the signature", name);
		}
		ssm_token_free(tok);
		ssm_document_free(doc);
	}
	printf("token vectors: %d rows checked\n", n);
	CHECK(n >= 60, "at least 60 vector rows (%d)", n);
	ran = 1;
out:
	ssm_jwks_free(keys);
	ssm_config_free(cfg);
	cJSON_Delete(vec);
	free(buf);
	if (made) {
		char *argv[] = { "rm", "-rf", tmpl, NULL };
		run(argv);
	}
	return ran;
}

/* ---- claims table (no signature, no document) ---- */

static struct ssm_config *make_config(const char *extra)
{
	char json[1024], err[256];
	struct ssm_config *cfg = NULL;

	snprintf(json, sizeof(json),
		 "{\"host_id\": \"" HOST "\", \"issuer\": \"" ISS "\", \"trusted_keys\": "
		 "\"/nonexistent/keys.json\", \"leeway\": 60, \"max_token_lifetime\": 300%s}",
		 extra ? extra : "");
	if (ssm_config_parse(json, strlen(json), "/t/cfg.json", &cfg, err, sizeof(err)) < 0)
		fprintf(stderr, "config: %s\n", err);
	return cfg;
}

struct claim_row {
	int line;
	const char *member;
	const char *value; /* JSON text, NULL: remove the member */
	const char *user;  /* login user, "" for NULL */
	int expect;
	const char *reason;
};

#define R SSM_TOKEN_REFUSED
static const struct claim_row claim_rows[] = {
	{ __LINE__, NULL, NULL, "ssm-user", 0, NULL },
	{ __LINE__, NULL, NULL, "", 0, NULL },
	{ __LINE__, NULL, NULL, "alice", R, "wrong user" },
	{ __LINE__, "iss", "\"https://other\"", "ssm-user", R, "wrong issuer" },
	{ __LINE__, "iss", NULL, "ssm-user", R, "iss" },
	{ __LINE__, "iss", "[\"" ISS "\"]", "ssm-user", R, "iss" },
	{ __LINE__, "aud", "\"i-1\"", "ssm-user", R, "wrong audience" },
	{ __LINE__, "aud", "[\"i-1\", \"" HOST "\"]", "ssm-user", 0, NULL },
	{ __LINE__, "aud", "[]", "ssm-user", R, "aud" },
	{ __LINE__, "aud", "[\"" HOST "\", null]", "ssm-user", R, "aud" },
	{ __LINE__, "aud", "[\"" HOST "\", {}]", "ssm-user", R, "aud" },
	{ __LINE__, "aud", "true", "ssm-user", R, "aud" },
	{ __LINE__, "aud", NULL, "ssm-user", R, "aud" },
	{ __LINE__, "sub", "\"bob\"", "ssm-user", R, "sid" },     /* sid names alice */
	{ __LINE__, "sub", "\"alice\\\"\"", "ssm-user", R, "sub" },
	{ __LINE__, "sid", "\"alice-abcdefg\"", "ssm-user", R, "sid" },
	{ __LINE__, "sid", "\"alice-abcdefgh\"", "ssm-user", 0, NULL },
	{ __LINE__, "sid", "\"alice_abcdefgh\"", "ssm-user", R, "sid" },
	{ __LINE__, "sid", "\"alice\"", "ssm-user", R, "sid" },
	{ __LINE__, "sid", "\"alice-\"", "ssm-user", R, "sid" },
	{ __LINE__, "sid", "\"alice-abcdefgh-\"", "ssm-user", R, "sid" },
	{ __LINE__, "jti", "\"aaaaaaaaaaaaaaa\"", "ssm-user", R, "jti" },
	{ __LINE__, "jti", "\"aaaaaaaaaaaaaaaa\"", "ssm-user", 0, NULL },
	{ __LINE__, "jti", "\"aaaaaaaaaaaaaaa+\"", "ssm-user", R, "jti" },
	/* times: now = 1790000000, leeway 60, max lifetime 300 */
	{ __LINE__, "iat", "1790000060", "ssm-user", 0, NULL },
	{ __LINE__, "iat", "1790000061", "ssm-user", R, "future" },
	{ __LINE__, "iat", "1790000000.0", "ssm-user", 0, NULL },    /* integral value */
	{ __LINE__, "iat", "1790000000.5", "ssm-user", R, "iat" },
	{ __LINE__, "iat", "1e19", "ssm-user", R, "iat" },
	{ __LINE__, "iat", "-1e19", "ssm-user", R, "iat" },
	{ __LINE__, "iat", "\"1790000000\"", "ssm-user", R, "iat" },
	{ __LINE__, "exp", "1789999940", "ssm-user", R, "expired" }, /* exp + leeway == now */
	{ __LINE__, "exp", "1789999941", "ssm-user", R, "lifetime" }, /* valid time, exp < iat */
	{ __LINE__, "exp", "1790000300", "ssm-user", 0, NULL },      /* exp - iat = 300 */
	{ __LINE__, "exp", "1790000301", "ssm-user", R, "lifetime" },
	{ __LINE__, "exp", "1790000000", "ssm-user", R, "lifetime" }, /* exp == iat */
	{ __LINE__, "exp", NULL, "ssm-user", R, "exp" },
	{ __LINE__, "nbf", "1790000060", "ssm-user", 0, NULL },
	{ __LINE__, "nbf", "1790000061", "ssm-user", R, "not yet valid" },
	{ __LINE__, "nbf", "null", "ssm-user", R, "nbf" },
	{ __LINE__, "nbf", "-9223372036854775808", "ssm-user", R, "not yet valid" },
	{ __LINE__, "run_as", "\"root\"", "root", 0, NULL },
	{ __LINE__, "run_as", "\"0\"", "0", R, "run_as" },
	{ __LINE__, "run_as", "\"-froot\"", "-froot", R, "run_as" },
	{ __LINE__, "run_as", NULL, "ssm-user", R, "run_as" },
	{ __LINE__, "doc", "{\"name\": \"a/bc\", \"sha256\": \"" "0000000000000000000000000000000000000000000000000000000000000000" "\"}", "ssm-user", R, "doc name" },
	{ __LINE__, "doc", "{\"name\": \"abc\", \"sha256\": \"" "000000000000000000000000000000000000000000000000000000000000000A" "\"}", "ssm-user", R, "sha256" },
	{ __LINE__, "doc", "{\"name\": \"abc\", \"sha256\": \"" "0000000000000000000000000000000000000000000000000000000000000000" "\", \"x\": 1}", "ssm-user", 0, NULL },
	{ __LINE__, "doc", "[]", "ssm-user", R, "doc" },
	{ __LINE__, "params", "{\"a\": [\"1\", \"2\"]}", "ssm-user", 0, NULL },
	{ __LINE__, "params", "{\"a\": \"1\"}", "ssm-user", R, "params" },
	{ __LINE__, "params", "{\"a\": [1]}", "ssm-user", R, "params" },
	{ __LINE__, "params", "null", "ssm-user", R, "params" },
	{ __LINE__, "params", "[]", "ssm-user", R, "params" },
};

static void test_claims(void)
{
	static const char base[] =
		"{\"iss\": \"" ISS "\", \"aud\": \"" HOST "\", \"sub\": \"alice\", \"sid\": "
		"\"alice-0123abcd\", \"jti\": \"0123456789abcdef\", \"iat\": 1790000000, \"exp\": "
		"1790000100, \"run_as\": \"ssm-user\", \"doc\": {\"name\": \"SSM-SessionManagerRunShell\", "
		"\"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}}";
	struct ssm_config *cfg = make_config(NULL);
	size_t i;

	CHECK(cfg != NULL, "config");
	if (cfg == NULL)
		return;
	for (i = 0; i < sizeof(claim_rows) / sizeof(claim_rows[0]); i++) {
		const struct claim_row *row = &claim_rows[i];
		cJSON *c = cJSON_Parse(base);
		struct ssm_verify_ctx ctx = { cfg, NULL, NOW, row->user[0] ? row->user : NULL };
		struct ssm_token *tok = NULL;
		char reason[256] = "";
		int r;

		if (row->member) {
			cJSON_DeleteItemFromObjectCaseSensitive(c, row->member);
			if (row->value)
				cJSON_AddItemToObject(c, row->member, cJSON_Parse(row->value));
		}
		r = ssm_token_check_claims(&ctx, c, &tok, reason, sizeof(reason));
		CHECK_ROW(row->line, r == row->expect, "got %d (%s) want %d", r, reason, row->expect);
		if (r < 0 && row->reason)
			CHECK_ROW(row->line, strstr(reason, row->reason) != NULL,
				  "reason '%s' lacks '%s'", reason, row->reason);
		CHECK_ROW(row->line, (r == 0) == (tok != NULL), "token output");
		if (tok && row->member && strcmp(row->member, "params") == 0)
			CHECK_ROW(row->line, cJSON_IsObject(tok->params), "params kept");
		if (tok && row->member && strcmp(row->member, "nbf") == 0)
			CHECK_ROW(row->line, tok->has_nbf, "has_nbf");
		ssm_token_free(tok);
		cJSON_Delete(c);
	}
	ssm_config_free(cfg);
}

/* ---- account step ---- */

static void test_account(void)
{
	struct ssm_config *def = make_config(NULL);
	struct ssm_config *withroot = make_config(", \"run_as_allowed\": [\"daemon\", \"root\"], "
						  "\"allowed_documents\": [\"AWS-*\"]");
	struct ssm_config *nobody = make_config(", \"run_as_allowed\": [\"daemon\", "
						"\"no-such-user-zz\"]");
	struct ssm_token tok;
	char reason[128];

	CHECK(def && withroot && nobody, "configs");
	if (!def || !withroot || !nobody)
		goto out;
	memset(&tok, 0, sizeof(tok));
	tok.doc_name = "AWS-StartInteractiveCommand";
	/* root is refused unless listed by name */
	tok.run_as = "root";
	CHECK(ssm_token_check_account(def, &tok, reason, sizeof(reason)) == SSM_TOKEN_REFUSED,
	      "root not in the default list");
	CHECK(ssm_token_check_account(nobody, &tok, reason, sizeof(reason)) == SSM_TOKEN_REFUSED,
	      "root not listed");
	CHECK(ssm_token_check_account(withroot, &tok, reason, sizeof(reason)) == 0,
	      "root listed explicitly: %s", reason);
	tok.run_as = "daemon";
	CHECK(ssm_token_check_account(withroot, &tok, reason, sizeof(reason)) == 0, "daemon: %s",
	      reason);
	CHECK(ssm_token_check_account(def, &tok, reason, sizeof(reason)) == SSM_TOKEN_REFUSED,
	      "daemon not listed by default");
	tok.run_as = "no-such-user-zz";
	CHECK(ssm_token_check_account(nobody, &tok, reason, sizeof(reason)) == SSM_TOKEN_REFUSED,
	      "listed user that does not exist");
	/* documents by glob */
	tok.run_as = "daemon";
	tok.doc_name = "SSM-SessionManagerRunShell";
	CHECK(ssm_token_check_account(withroot, &tok, reason, sizeof(reason)) == SSM_TOKEN_REFUSED &&
	      strstr(reason, "document"), "document outside allowed_documents: %s", reason);
	CHECK(ssm_token_check_account(nobody, &tok, reason, sizeof(reason)) == 0,
	      "default allowed_documents *: %s", reason);
	CHECK(ssm_token_check_account(nobody, NULL, reason, sizeof(reason)) == SSM_TOKEN_REFUSED,
	      "no token");
out:
	ssm_config_free(def);
	ssm_config_free(withroot);
	ssm_config_free(nobody);
}

int main(void)
{
	int vectors;

	test_claims();
	test_account();
	vectors = test_vectors();
	if (!vectors && check_fail == 0) {
		check_done("token");
		return 77;
	}
	return check_done("token");
}
