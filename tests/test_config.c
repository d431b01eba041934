/* test_config.c - host configuration rows (SPEC section 4, config.h) */
#include "config.h" /* autoconf */
#include "../lib/config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"

#define BASE "\"host_id\": \"i-0123456789abcdef0\", \"issuer\": \"https://broker.example\", " \
	     "\"trusted_keys\": \"/etc/ssmsession/keys.json\""

struct row {
	int line;
	const char *json;
	int expect;           /* 0 or negative errno */
	const char *errpart;  /* substring of the error message */
};

static const struct row rows[] = {
	/* good: minimal and full */
	{ __LINE__, "{" BASE "}", 0, NULL },
	{ __LINE__, "{" BASE ", \"host_tags\": {\"Environment\": \"Prod\"}, \"max_token_lifetime\": 86400,"
		    " \"leeway\": 0, \"documents_dir\": \"/srv/docs\", \"allowed_documents\": [\"AWS-*\","
		    " \"SSM-SessionManagerRunShell\", \"Port[0-9]\"], \"run_as_allowed\": [\"ssm-user\", \"root\"],"
		    " \"state_dir\": \"/var/lib/x\", \"run_dir\": \"/run/x\", \"log_dir\": \"/var/log/x\","
		    " \"record_input\": true, \"transcript_max_bytes\": 0, \"transcript_limit_action\": "
		    "\"stop_recording\", \"recorder_user\": \"ssmrec\", \"seccomp_profiles\": "
		    "{\"Port\": \"port_only\"}, \"allow_privilege\": false}", 0, NULL },
	{ __LINE__, "{\"host_id\": \"mi-0123456789abcdef0\", \"issuer\": \"b\", \"trusted_keys\": \"/k\"}", 0, NULL },
	/* missing required keys: every login must fail closed */
	{ __LINE__, "{\"issuer\": \"b\", \"trusted_keys\": \"/k\"}", -EINVAL, "missing required key 'host_id'" },
	{ __LINE__, "{\"host_id\": \"i-1\", \"trusted_keys\": \"/k\"}", -EINVAL, "'issuer'" },
	{ __LINE__, "{\"host_id\": \"i-1\", \"issuer\": \"b\"}", -EINVAL, "'trusted_keys'" },
	/* typo protection: unknown keys, case variants */
	{ __LINE__, "{" BASE ", \"run_as_alowed\": [\"root\"]}", -EINVAL, "unknown key 'run_as_alowed'" },
	{ __LINE__, "{" BASE ", \"Leeway\": 5}", -EINVAL, "unknown key 'Leeway'" },
	/* duplicate keys: which one wins would be a parser accident */
	{ __LINE__, "{" BASE ", \"leeway\": 5, \"leeway\": 3600}", -EINVAL, NULL },
	/* not an object / not JSON */
	{ __LINE__, "[]", -EINVAL, NULL },
	{ __LINE__, "", -EINVAL, NULL },
	{ __LINE__, "{" BASE "} {}", -EINVAL, NULL },
	/* host_id forms */
	{ __LINE__, "{\"host_id\": \"x-123\", \"issuer\": \"b\", \"trusted_keys\": \"/k\"}", -EINVAL, "'host_id'" },
	{ __LINE__, "{\"host_id\": \"i-\", \"issuer\": \"b\", \"trusted_keys\": \"/k\"}", -EINVAL, "'host_id'" },
	{ __LINE__, "{\"host_id\": \"i-12 3\", \"issuer\": \"b\", \"trusted_keys\": \"/k\"}", -EINVAL, "'host_id'" },
	{ __LINE__, "{\"host_id\": \"i-1/../x\", \"issuer\": \"b\", \"trusted_keys\": \"/k\"}", -EINVAL, "'host_id'" },
	{ __LINE__, "{\"host_id\": 12, \"issuer\": \"b\", \"trusted_keys\": \"/k\"}", -EINVAL, "'host_id'" },
	{ __LINE__, "{\"host_id\": \"i-00000000000000000000000000000000000000000000000000000000000000000\", "
		    "\"issuer\": \"b\", \"trusted_keys\": \"/k\"}", -EINVAL, "'host_id'" },
	/* issuer */
	{ __LINE__, "{\"host_id\": \"i-1\", \"issuer\": \"\", \"trusted_keys\": \"/k\"}", -EINVAL, "'issuer'" },
	{ __LINE__, "{\"host_id\": \"i-1\", \"issuer\": [\"b\"], \"trusted_keys\": \"/k\"}", -EINVAL, "'issuer'" },
	/* every key with a bad type */
	{ __LINE__, "{" BASE ", \"host_tags\": []}", -EINVAL, "'host_tags'" },
	{ __LINE__, "{" BASE ", \"host_tags\": {\"a\": 1}}", -EINVAL, "'host_tags'" },
	{ __LINE__, "{" BASE ", \"host_tags\": {\"\": \"x\"}}", -EINVAL, "'host_tags'" },
	{ __LINE__, "{" BASE ", \"max_token_lifetime\": \"300\"}", -EINVAL, "'max_token_lifetime'" },
	{ __LINE__, "{" BASE ", \"leeway\": true}", -EINVAL, "'leeway'" },
	{ __LINE__, "{" BASE ", \"documents_dir\": 1}", -EINVAL, "'documents_dir'" },
	{ __LINE__, "{" BASE ", \"allowed_documents\": \"*\"}", -EINVAL, "'allowed_documents'" },
	{ __LINE__, "{" BASE ", \"run_as_allowed\": \"root\"}", -EINVAL, "'run_as_allowed'" },
	{ __LINE__, "{" BASE ", \"state_dir\": null}", -EINVAL, "'state_dir'" },
	{ __LINE__, "{" BASE ", \"run_dir\": {}}", -EINVAL, "'run_dir'" },
	{ __LINE__, "{" BASE ", \"log_dir\": false}", -EINVAL, "'log_dir'" },
	{ __LINE__, "{" BASE ", \"record_input\": \"yes\"}", -EINVAL, "'record_input'" },
	{ __LINE__, "{" BASE ", \"record_input\": 1}", -EINVAL, "'record_input'" },
	{ __LINE__, "{" BASE ", \"transcript_max_bytes\": \"1\"}", -EINVAL, "'transcript_max_bytes'" },
	{ __LINE__, "{" BASE ", \"transcript_limit_action\": \"drop\"}", -EINVAL, "'transcript_limit_action'" },
	{ __LINE__, "{" BASE ", \"recorder_user\": 0}", -EINVAL, "'recorder_user'" },
	{ __LINE__, "{" BASE ", \"recorder_user\": \"0\"}", -EINVAL, "'recorder_user'" },
	{ __LINE__, "{" BASE ", \"seccomp_profiles\": {\"Shell\": \"x\"}}", -EINVAL, "'seccomp_profiles'" },
	{ __LINE__, "{" BASE ", \"seccomp_profiles\": {\"Port\": \"../x\"}}", -EINVAL, "'seccomp_profiles'" },
	{ __LINE__, "{" BASE ", \"allow_privilege\": \"false\"}", -EINVAL, "'allow_privilege'" },
	{ __LINE__, "{" BASE ", \"ssm_user_sudo\": true}", 0, NULL },
	{ __LINE__, "{" BASE ", \"ssm_user_sudo\": 1}", -EINVAL, "'ssm_user_sudo'" },
	/* documents from the broker: an on/off switch and the cache's size */
	{ __LINE__, "{" BASE ", \"broker_documents\": false, \"document_cache_max_bytes\": 65536}", 0, NULL },
	{ __LINE__, "{" BASE ", \"broker_documents\": \"no\"}", -EINVAL, "'broker_documents'" },
	{ __LINE__, "{" BASE ", \"document_cache_max_bytes\": 65535}", -EINVAL, "'document_cache_max_bytes'" },
	{ __LINE__, "{" BASE ", \"document_cache_max_bytes\": 1073741825}", -EINVAL, "'document_cache_max_bytes'" },
	{ __LINE__, "{" BASE ", \"document_cache_max_bytes\": 1.5}", -EINVAL, "'document_cache_max_bytes'" },
	/* the opt-in to AWS's whole-command-line parameters */
	{ __LINE__, "{" BASE ", \"command_line_parameters\": {\"AWS-StartInteractiveCommand\": [\"command\"]}}", 0, NULL },
	{ __LINE__, "{" BASE ", \"command_line_parameters\": [\"command\"]}", -EINVAL, "'command_line_parameters'" },
	{ __LINE__, "{" BASE ", \"command_line_parameters\": {\"../x\": [\"command\"]}}", -EINVAL, "not a document name" },
	{ __LINE__, "{" BASE ", \"command_line_parameters\": {\"Doc-A\": []}}", -EINVAL, "1 to 16" },
	{ __LINE__, "{" BASE ", \"command_line_parameters\": {\"Doc-A\": \"command\"}}", -EINVAL, "1 to 16" },
	{ __LINE__, "{" BASE ", \"command_line_parameters\": {\"Doc-A\": [\"a b\"]}}", -EINVAL, "parameter names" },
	{ __LINE__, "{" BASE ", \"command_line_parameters\": {\"Doc-A\": [5]}}", -EINVAL, "parameter names" },
	{ __LINE__, "{" BASE ", \"replay_durability\": \"fsync\"}", 0, NULL },
	{ __LINE__, "{" BASE ", \"replay_durability\": \"boot\"}", 0, NULL },
	/* only the two spellings: anything else must not silently turn the flush off */
	{ __LINE__, "{" BASE ", \"replay_durability\": \"Boot\"}", -EINVAL, "'replay_durability'" },
	{ __LINE__, "{" BASE ", \"replay_durability\": \"none\"}", -EINVAL, "'replay_durability'" },
	{ __LINE__, "{" BASE ", \"replay_durability\": false}", -EINVAL, "'replay_durability'" },
	{ __LINE__, "{\"host_id\": \"i-1\", \"issuer\": \"b\", \"trusted_keys\": true}", -EINVAL, "'trusted_keys'" },
	/* numbers out of range, fractional, huge */
	{ __LINE__, "{" BASE ", \"max_token_lifetime\": 0}", -EINVAL, "'max_token_lifetime'" },
	{ __LINE__, "{" BASE ", \"max_token_lifetime\": 86401}", -EINVAL, "'max_token_lifetime'" },
	{ __LINE__, "{" BASE ", \"max_token_lifetime\": 300.5}", -EINVAL, "'max_token_lifetime'" },
	{ __LINE__, "{" BASE ", \"max_token_lifetime\": 1e300}", -EINVAL, "'max_token_lifetime'" },
	{ __LINE__, "{" BASE ", \"leeway\": -1}", -EINVAL, "'leeway'" },
	{ __LINE__, "{" BASE ", \"leeway\": 3601}", -EINVAL, "'leeway'" },
	{ __LINE__, "{" BASE ", \"transcript_max_bytes\": -1}", -EINVAL, "'transcript_max_bytes'" },
	/* relative paths and dot-dot components */
	{ __LINE__, "{\"host_id\": \"i-1\", \"issuer\": \"b\", \"trusted_keys\": \"keys.json\"}", -EINVAL, "'trusted_keys'" },
	{ __LINE__, "{" BASE ", \"documents_dir\": \"docs\"}", -EINVAL, "'documents_dir'" },
	{ __LINE__, "{" BASE ", \"documents_dir\": \"\"}", -EINVAL, "'documents_dir'" },
	{ __LINE__, "{" BASE ", \"documents_dir\": \"/etc/../tmp\"}", -EINVAL, "'documents_dir'" },
	{ __LINE__, "{" BASE ", \"log_dir\": \"/var/log/..\"}", -EINVAL, "'log_dir'" },
	{ __LINE__, "{" BASE ", \"state_dir\": \"./x\"}", -EINVAL, "'state_dir'" },
	/* allowed_documents: empty list, slash, bad globs */
	{ __LINE__, "{" BASE ", \"allowed_documents\": []}", -EINVAL, "'allowed_documents'" },
	{ __LINE__, "{" BASE ", \"allowed_documents\": [\"../*\"]}", -EINVAL, "'allowed_documents'" },
	{ __LINE__, "{" BASE ", \"allowed_documents\": [\"a/b\"]}", -EINVAL, "'allowed_documents'" },
	{ __LINE__, "{" BASE ", \"allowed_documents\": [\"AWS-[\"]}", -EINVAL, "'allowed_documents'" },
	{ __LINE__, "{" BASE ", \"allowed_documents\": [\"\"]}", -EINVAL, "'allowed_documents'" },
	{ __LINE__, "{" BASE ", \"allowed_documents\": [1]}", -EINVAL, "'allowed_documents'" },
	{ __LINE__, "{" BASE ", \"allowed_documents\": [\"a\\\\*\"]}", -EINVAL, "'allowed_documents'" },
	/* run_as_allowed: globs and odd names are not user names */
	{ __LINE__, "{" BASE ", \"run_as_allowed\": [\"*\"]}", -EINVAL, "'run_as_allowed'" },
	{ __LINE__, "{" BASE ", \"run_as_allowed\": [\"0\"]}", -EINVAL, "'run_as_allowed'" },
	{ __LINE__, "{" BASE ", \"run_as_allowed\": [\"-root\"]}", -EINVAL, "'run_as_allowed'" },
	{ __LINE__, "{" BASE ", \"run_as_allowed\": [\"ro ot\"]}", -EINVAL, "'run_as_allowed'" },
	{ __LINE__, "{" BASE ", \"run_as_allowed\": [\"a:b\"]}", -EINVAL, "'run_as_allowed'" },
	{ __LINE__, "{" BASE ", \"run_as_allowed\": [\"ssm-user\", \"ssm-user\"]}", -EINVAL, "duplicate" },
	{ __LINE__, "{" BASE ", \"run_as_allowed\": []}", -EINVAL, "'run_as_allowed'" },
};

static void test_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ssm_config *cfg = NULL;
		char err[512] = "";
		int r = ssm_config_parse(rows[i].json, strlen(rows[i].json), "/t/ssm.json", &cfg, err,
					 sizeof(err));
		CHECK_ROW(rows[i].line, r == rows[i].expect, "got %d want %d (%s)", r,
			  rows[i].expect, err);
		if (r == 0) {
			CHECK_ROW(rows[i].line, cfg != NULL && cfg->host_tags != NULL &&
				  cfg->seccomp_profiles != NULL, "config not complete");
		} else {
			CHECK_ROW(rows[i].line, cfg == NULL, "config set on error");
			CHECK_ROW(rows[i].line, strstr(err, "/t/ssm.json") != NULL || r == -ENOMEM,
				  "error does not name the file: %s", err);
			CHECK_ROW(rows[i].line, strchr(err, '\n') == NULL, "error not one line");
			if (rows[i].errpart)
				CHECK_ROW(rows[i].line, strstr(err, rows[i].errpart) != NULL,
					  "error '%s' lacks '%s'", err, rows[i].errpart);
		}
		ssm_config_free(cfg);
	}
}

static void test_defaults_and_matching(void)
{
	const char *j = "{" BASE "}";
	const char *j2 = "{" BASE ", \"allowed_documents\": [\"AWS-*\", \"Port[0-9]\"],"
			 " \"run_as_allowed\": [\"ssm-user\", \"root\"], \"seccomp_profiles\": "
			 "{\"Port\": \"port\"}}";
	struct ssm_config *cfg = NULL;
	char err[256];

	CHECK(ssm_config_parse(j, strlen(j), "/t", &cfg, err, sizeof(err)) == 0, "%s", err);
	if (cfg == NULL)
		return;
	CHECK(cfg->max_token_lifetime == 300 && cfg->leeway == 60, "numeric defaults");
	CHECK(strcmp(cfg->documents_dir, SSM_DEFAULT_DOCUMENTS_DIR) == 0, "documents_dir");
	CHECK(strcmp(cfg->state_dir, SSM_DEFAULT_STATE_DIR) == 0, "state_dir");
	CHECK(strcmp(cfg->run_dir, SSM_DEFAULT_RUN_DIR) == 0, "run_dir");
	CHECK(strcmp(cfg->log_dir, SSM_DEFAULT_LOG_DIR) == 0, "log_dir");
	CHECK(cfg->n_allowed_documents == 1 && strcmp(cfg->allowed_documents[0], "*") == 0, "docs");
	CHECK(cfg->n_run_as_allowed == 1 && strcmp(cfg->run_as_allowed[0], "ssm-user") == 0, "users");
	CHECK(cfg->transcript_max_bytes == 64 * 1024 * 1024, "transcript cap");
	CHECK(cfg->allow_privilege == 1 && cfg->record_input == 0, "flags");
	CHECK(cfg->ssm_user_sudo == 0, "ssm_user_sudo defaults to false");
	CHECK(cfg->broker_documents == 1 && cfg->document_cache_max_bytes == 16 * 1024 * 1024,
	      "broker documents on by default, a 16 MiB cache");
	CHECK(cfg->replay_fsync == 1, "replay_durability defaults to fsync");
	CHECK(ssm_config_document_allowed(cfg, "AnyDoc"), "* allows any valid name");
	CHECK(!ssm_config_document_allowed(cfg, "../etc"), "* never allows an invalid name");
	CHECK(!ssm_config_document_allowed(cfg, "a/b"), "* never allows a slash");
	CHECK(ssm_config_run_as_allowed(cfg, "ssm-user"), "default user");
	CHECK(!ssm_config_run_as_allowed(cfg, "root"), "root not allowed by default");
	CHECK(strcmp(ssm_config_seccomp_profile(cfg, "Port"), "baseline") == 0, "default profile");
	ssm_config_free(cfg);
	cfg = NULL;

	CHECK(ssm_config_parse(j2, strlen(j2), "/t", &cfg, err, sizeof(err)) == 0, "%s", err);
	if (cfg == NULL)
		return;
	CHECK(ssm_config_document_allowed(cfg, "AWS-StartPortForwardingSession"), "glob match");
	CHECK(!ssm_config_document_allowed(cfg, "aws-StartX"), "globs are case-sensitive");
	CHECK(!ssm_config_document_allowed(cfg, "SSM-SessionManagerRunShell"), "not listed");
	CHECK(ssm_config_document_allowed(cfg, "Port7"), "bracket glob");
	CHECK(!ssm_config_document_allowed(cfg, "Port77"), "bracket is one char");
	CHECK(ssm_config_run_as_allowed(cfg, "root"), "root listed explicitly");
	CHECK(!ssm_config_run_as_allowed(cfg, "Root"), "user names case-sensitive");
	CHECK(strcmp(ssm_config_seccomp_profile(cfg, "Port"), "port") == 0, "configured profile");
	ssm_config_free(cfg);
}

static void test_files(void)
{
	char dir[] = "/tmp/ssm-test-config-XXXXXX", path[256], err[512];
	const char *j = "{" BASE "}\n";
	struct ssm_config *cfg = NULL;
	FILE *f;
	int r;

	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/ssmsession.json", dir);
	/* missing file */
	r = ssm_config_load(path, &cfg, err, sizeof(err));
	CHECK(r == -ENOENT && cfg == NULL, "missing file: %d", r);
	f = fopen(path, "w");
	CHECK(f != NULL, "create");
	if (f == NULL)
		goto out;
	fputs(j, f);
	fclose(f);
	chmod(path, 0644);
	r = ssm_config_load(path, &cfg, err, sizeof(err));
	CHECK(r == 0 && cfg != NULL && strcmp(cfg->path, path) == 0, "good file: %d %s", r, err);
	ssm_config_free(cfg);
	cfg = NULL;
	/* group-writable / world-writable config: anyone in the group could grant access */
	chmod(path, 0664);
	r = ssm_config_load(path, &cfg, err, sizeof(err));
	CHECK(r == -EACCES && cfg == NULL, "group-writable file: %d %s", r, err);
	CHECK(strstr(err, path) != NULL, "error names the file: %s", err);
	chmod(path, 0646);
	r = ssm_config_load(path, &cfg, err, sizeof(err));
	CHECK(r == -EACCES && cfg == NULL, "world-writable file: %d", r);
	/* a directory is not a configuration */
	r = ssm_config_load(dir, &cfg, err, sizeof(err));
	CHECK(r == -EINVAL && cfg == NULL, "directory: %d", r);
out:
	unlink(path);
	rmdir(dir);
}

static void test_user_names(void)
{
	CHECK(ssm_config_user_name_valid("ssm-user"), "ssm-user");
	CHECK(ssm_config_user_name_valid("a"), "a");
	CHECK(ssm_config_user_name_valid("web_1.x"), "web_1.x");
	CHECK(!ssm_config_user_name_valid(""), "empty");
	CHECK(!ssm_config_user_name_valid("123"), "numeric");
	CHECK(!ssm_config_user_name_valid("-x"), "option");
	CHECK(!ssm_config_user_name_valid(".."), "dotdot");
	CHECK(!ssm_config_user_name_valid("a b"), "space");
	CHECK(!ssm_config_user_name_valid("a/b"), "slash");
	CHECK(!ssm_config_user_name_valid("abcdefghijabcdefghijabcdefghijabc"), "33 chars");
	CHECK(!ssm_config_user_name_valid(NULL), "NULL");
}

int main(void)
{
	test_rows();
	test_defaults_and_matching();
	test_files();
	test_user_names();
	return check_done("config");
}
