/* test_session_params.c - tables for the two StartSession parsers: the client's
 * --parameters (lib/cliparams.c: AWS CLI JSON and shorthand) and the broker's POST
 * /v1/sessions body (lib/session_req.c). */
#include "config.h" /* autoconf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "cliparams.h"
#include "session_req.h"

struct prow {
	int line;
	const char *in;
	const char *want; /* compact JSON, or NULL: refused */
	const char *err;  /* part of the message when refused */
};

static const struct prow prows[] = {
	/* JSON, as the AWS CLI documents it */
	{ __LINE__, "{\"portNumber\":[\"80\"],\"localPortNumber\":[\"8080\"]}",
	  "{\"portNumber\":[\"80\"],\"localPortNumber\":[\"8080\"]}", NULL },
	{ __LINE__, "  {\"portNumber\": \"80\"}", "{\"portNumber\":[\"80\"]}", NULL },
	{ __LINE__, "{\"command\":[\"ls\",\"-l\"]}", "{\"command\":[\"ls\",\"-l\"]}", NULL },
	{ __LINE__, "{\"a\":[]}", "{\"a\":[]}", NULL },
	{ __LINE__, "{}", "{}", NULL },
	{ __LINE__, "{\"portNumber\":[80]}", NULL, "must be strings" },
	{ __LINE__, "{\"portNumber\":80}", NULL, "a string or a list of strings" },
	{ __LINE__, "{\"portNumber\":{\"a\":\"b\"}}", NULL, "a string or a list" },
	{ __LINE__, "{\"portNumber\":null}", NULL, "a string or a list" },
	{ __LINE__, "{\"a\":\"1\",\"a\":\"2\"}", NULL, "not a JSON object" },
	{ __LINE__, "{\"a\":\"1\"", NULL, "not a JSON object" },
	{ __LINE__, "{\"a\":\"1\"} x", NULL, "not a JSON object" },
	{ __LINE__, "{\"a b\":\"1\"}", NULL, "parameter name" },
	{ __LINE__, "{\"a\":\"x\\ny\"}", NULL, "control character" },
	{ __LINE__, "{\"a\":[\"x\",[\"y\"]]}", NULL, "must be strings" },
	/* shorthand */
	{ __LINE__, "portNumber=80,localPortNumber=8080",
	  "{\"portNumber\":[\"80\"],\"localPortNumber\":[\"8080\"]}", NULL },
	{ __LINE__, "portNumber=80", "{\"portNumber\":[\"80\"]}", NULL },
	{ __LINE__, " portNumber = 80 , localPortNumber = 8080 ",
	  "{\"portNumber\":[\"80\"],\"localPortNumber\":[\"8080\"]}", NULL },
	{ __LINE__, "command=[ls,-l],other=x", "{\"command\":[\"ls\",\"-l\"],\"other\":[\"x\"]}",
	  NULL },
	{ __LINE__, "command=[ ls , -l ]", "{\"command\":[\"ls\",\"-l\"]}", NULL },
	{ __LINE__, "command=[]", "{\"command\":[]}", NULL },
	{ __LINE__, "command=ls,-l,other=x", "{\"command\":[\"ls\",\"-l\"],\"other\":[\"x\"]}",
	  NULL },
	{ __LINE__, "command=\"ls -l, /tmp\"", "{\"command\":[\"ls -l, /tmp\"]}", NULL },
	{ __LINE__, "command='a=b',x=1", "{\"command\":[\"a=b\"],\"x\":[\"1\"]}", NULL },
	{ __LINE__, "command=\"say \\\"hi\\\" \\\\o/\"", "{\"command\":[\"say \\\"hi\\\" \\\\o/\"]}",
	  NULL },
	{ __LINE__, "command=a\\,b", "{\"command\":[\"a,b\"]}", NULL },
	{ __LINE__, "command=a=b", "{\"command\":[\"a=b\"]}", NULL },
	{ __LINE__, "command=", "{\"command\":[\"\"]}", NULL },
	{ __LINE__, "command=[\"a,b\",'c]']", "{\"command\":[\"a,b\",\"c]\"]}", NULL },
	{ __LINE__, "", NULL, "empty" },
	{ __LINE__, "   ", NULL, "empty" },
	{ __LINE__, "portNumber", NULL, "'=' expected" },
	{ __LINE__, "=80", NULL, "parameter name expected" },
	{ __LINE__, "portNumber=80,", NULL, "value expected" },
	{ __LINE__, "a=1,a=2", NULL, "given twice" },
	{ __LINE__, "a=[1,2", NULL, "unclosed '['" },
	{ __LINE__, "a=[1,[2]]", NULL, "list inside a list" },
	{ __LINE__, "a=[1]x", NULL, "text after ']'" },
	{ __LINE__, "a=\"1", NULL, "unclosed \"" },
	{ __LINE__, "a='1", NULL, "unclosed '" },
	{ __LINE__, "a=\"1\"x", NULL, "text after a quoted value" },
	{ __LINE__, "a=x[1]", NULL, "'[' inside a value" },
	{ __LINE__, "a=1\\", NULL, "'\\' at the end" },
	{ __LINE__, "a b=1", NULL, "'=' expected" },
	{ __LINE__, "a/b=1", NULL, "parameter name" },
	{ __LINE__, "a\nb=1", NULL, "parameter name must be" },
	{ __LINE__, "{\"a\\nb\":\"1\"}", NULL, "parameter name must be" },
	{ __LINE__, "a=\t", "{\"a\":[\"\"]}", NULL },
	{ __LINE__, "a=\x01", NULL, "control character" },
	{ __LINE__, "a=\xff", NULL, "UTF-8" },
};

static void test_cli(void)
{
	size_t i;

	for (i = 0; i < sizeof(prows) / sizeof(prows[0]); i++) {
		const struct prow *row = &prows[i];
		cJSON *p = NULL;
		char err[256] = "", *s;
		int r = ssm_cli_params_parse(row->in, &p, err, sizeof(err));

		if (row->want) {
			CHECK_ROW(row->line, r == 0, "'%s' refused: %s", row->in, err);
			s = p ? cJSON_PrintUnformatted(p) : NULL;
			CHECK_ROW(row->line, s && strcmp(s, row->want) == 0, "'%s': %s, want %s",
				  row->in, s ? s : "-", row->want);
			free(s);
		} else {
			CHECK_ROW(row->line, r == -EINVAL && p == NULL, "'%s' accepted", row->in);
			CHECK_ROW(row->line, strstr(err, row->err) != NULL && strchr(err, '\n') == NULL,
				  "'%s': message '%s' lacks '%s'", row->in, err, row->err);
		}
		cJSON_Delete(p);
	}
	{
		/* limits: 64 names, 64 values, 4096 bytes a value, 16 KiB of text */
		char *big = malloc(20000);
		cJSON *p = NULL;
		char err[256];
		size_t n = 0;
		int k;

		for (k = 0; k < 65; k++)
			n += (size_t)sprintf(big + n, "%sp%d=1", k ? "," : "", k);
		CHECK(ssm_cli_params_parse(big, &p, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "more than 64 parameters"), "65 names: %s", err);
		n = (size_t)sprintf(big, "a=[");
		for (k = 0; k < 65; k++)
			n += (size_t)sprintf(big + n, "%sx", k ? "," : "");
		sprintf(big + n, "]");
		CHECK(ssm_cli_params_parse(big, &p, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "more than 64 values"), "65 values: %s", err);
		memset(big, 'x', 4100);
		memcpy(big, "a=", 2);
		big[4100] = '\0';
		CHECK(ssm_cli_params_parse(big, &p, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "longer than 4096"), "a 4098-byte value: %s", err);
		memset(big, 'x', 17000);
		memcpy(big, "a=", 2);
		big[17000] = '\0';
		CHECK(ssm_cli_params_parse(big, &p, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "longer than 16384"), "17000 bytes: %s", err);
		CHECK(ssm_cli_params_parse(NULL, &p, err, sizeof(err)) == -EINVAL, "NULL");
		free(big);
	}
}

struct brow {
	int line;
	const char *body;
	int ok;
	const char *what; /* ok: "TARGET DOCUMENT REASON PARAMS"; refused: part of the message */
};

#define T "mi-0123456789abcdef0"
static const struct brow brows[] = {
	{ __LINE__, "{\"Target\":\"" T "\"}", 1, T " SSM-SessionManagerRunShell - -" },
	{ __LINE__, "{\"Target\":\"" T "\",\"DocumentName\":\"AWS-StartPortForwardingSession\","
		    "\"Parameters\":{\"portNumber\":[\"80\"]},\"Reason\":\"debug\"}",
	  1, T " AWS-StartPortForwardingSession debug {\"portNumber\":[\"80\"]}" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Parameters\":{}}", 1,
	  T " SSM-SessionManagerRunShell - {}" },
	{ __LINE__, "Target=" T, 0, "not a JSON object" },
	{ __LINE__, "", 0, "not a JSON object" },
	{ __LINE__, "[]", 0, "not a JSON object" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Target\":\"" T "\"}", 0, "not a JSON object" },
	{ __LINE__, "{\"Target\":\"" T "\",\"RunAs\":\"root\"}", 0, "unknown member" },
	{ __LINE__, "{\"target\":\"" T "\"}", 0, "unknown member" },
	{ __LINE__, "{}", 0, "Target is required" },
	{ __LINE__, "{\"Target\":42}", 0, "Target must be a string" },
	/* EC2 instance ids (SPEC section 4): i- and 17 or 8 lowercase hex digits */
	{ __LINE__, "{\"Target\":\"i-0123456789abcdef0\"}", 1,
	  "i-0123456789abcdef0 SSM-SessionManagerRunShell - -" },
	{ __LINE__, "{\"Target\":\"i-0123abcd\"}", 1, "i-0123abcd SSM-SessionManagerRunShell - -" },
	{ __LINE__, "{\"Target\":\"i-0123456789ABCDEF0\"}", 0, "managed instance id" },
	{ __LINE__, "{\"Target\":\"i-0123456789abcdef\"}", 0, "managed instance id" }, /* 16 */
	{ __LINE__, "{\"Target\":\"i-0123abc\"}", 0, "managed instance id" },          /* 7 */
	{ __LINE__, "{\"Target\":\"i-../../etc\"}", 0, "managed instance id" },         /* a path */
	{ __LINE__, "{\"Target\":\"mi-0123456789ABCDEF0\"}", 0, "managed instance id" },
	{ __LINE__, "{\"Target\":\"" T "\",\"DocumentName\":\"../x\"}", 0, "DocumentName" },
	{ __LINE__, "{\"Target\":\"" T "\",\"DocumentName\":null}", 0, "DocumentName" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Parameters\":[]}", 0, "Parameters must be an object" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Parameters\":{\"a\":\"1\"}}", 0,
	  "parameter 'a' must be a list of strings" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Parameters\":{\"a\":[1]}}", 0,
	  "parameter 'a' must be a list of strings" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Parameters\":{\"a\":[\"\\u0007\"]}}", 0,
	  "not a JSON object" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Parameters\":{\"a\":[\"\\t\"]}}", 0,
	  "control character" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Reason\":\"\"}", 0, "Reason must be 1..256" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Reason\":\"a\\nb\"}", 0, "Reason must be 1..256" },
	{ __LINE__, "{\"Target\":\"" T "\",\"Reason\":7}", 0, "Reason must be a string" },
};

static void test_body(void)
{
	size_t i;

	for (i = 0; i < sizeof(brows) / sizeof(brows[0]); i++) {
		const struct brow *row = &brows[i];
		struct ssm_start_session_request req;
		char err[256] = "", got[1024], *ps;
		int r = ssm_start_session_request_parse(row->body, strlen(row->body), &req, err,
							sizeof(err));

		if (row->ok) {
			CHECK_ROW(row->line, r == 0, "refused: %s", err);
			if (r == 0) {
				ps = req.parameters ? cJSON_PrintUnformatted(req.parameters) : NULL;
				snprintf(got, sizeof(got), "%s %s %s %s", req.target, req.document,
					 req.reason[0] ? req.reason : "-", ps ? ps : "-");
				free(ps);
				CHECK_ROW(row->line, strcmp(got, row->what) == 0, "got '%s' want '%s'",
					  got, row->what);
			}
		} else {
			CHECK_ROW(row->line, r == -EINVAL, "accepted");
			CHECK_ROW(row->line, strstr(err, row->what) != NULL,
				  "message '%s' lacks '%s'", err, row->what);
			CHECK_ROW(row->line, req.parameters == NULL, "parameters left");
		}
		ssm_start_session_request_clear(&req);
	}
}

int main(void)
{
	test_cli();
	test_body();
	return check_done("session_params");
}
