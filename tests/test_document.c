/* test_document.c - Session documents, parameters and rendering (SPEC section 3) */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"
#include "document.h"
#include "json.h"
#include "util.h"
#include "shctx.h"
#include "sh_oracle.h"

#define CMD(params, cmd) "{\"schemaVersion\": \"1.0\", \"sessionType\": \"InteractiveCommands\", " \
	"\"parameters\": {" params "}, \"properties\": {\"linux\": {\"commands\": \"" cmd "\"}}}"
#define SS(inputs) "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Standard_Stream\", " \
	"\"inputs\": {" inputs "}}"

/* The documents users actually write (AWS public documents, the seeds' examples). */
static const char doc_port_forwarding[] =
	"{\"schemaVersion\": \"1.0\", \"description\": \"Document to start port forwarding session "
	"over Session Manager\", \"sessionType\": \"Port\", \"parameters\": {\"portNumber\": "
	"{\"type\": \"String\", \"description\": \"(Optional) Port number of the server on the "
	"instance\", \"allowedPattern\": \"^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|"
	"65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$\", \"default\": \"80\"}, \"localPortNumber\": "
	"{\"type\": \"String\", \"description\": \"(Optional) Port number on local machine to "
	"forward traffic to. An open port is chosen at run-time if not provided\", "
	"\"allowedPattern\": \"^([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|"
	"655[0-2][0-9]|6553[0-5])$\", \"default\": \"0\"}}, \"properties\": {\"portNumber\": "
	"\"{{ portNumber }}\", \"type\": \"LocalPortForwarding\", \"localPortNumber\": "
	"\"{{ localPortNumber }}\"}}";

static const char doc_interactive[] =
	"{\"schemaVersion\": \"1.0\", \"description\": \"Document to run single interactive command "
	"on an instance\", \"sessionType\": \"InteractiveCommands\", \"parameters\": {\"command\": "
	"{\"type\": \"String\", \"description\": \"The command to run on the instance\"}}, "
	"\"properties\": {\"windows\": {\"commands\": \"{{command}}\", \"runAsElevated\": false}, "
	"\"linux\": {\"commands\": \"{{command}}\", \"runAsElevated\": false}, \"macos\": "
	"{\"commands\": \"{{command}}\", \"runAsElevated\": false}}}";

static const char doc_runshell[] =
	"{\"schemaVersion\": \"1.0\", \"description\": \"Document to hold regional settings for "
	"Session Manager\", \"sessionType\": \"Standard_Stream\", \"inputs\": {\"s3BucketName\": "
	"\"\", \"s3KeyPrefix\": \"\", \"s3EncryptionEnabled\": true, \"cloudWatchLogGroupName\": "
	"\"\", \"cloudWatchEncryptionEnabled\": true, \"cloudWatchStreamingEnabled\": true, "
	"\"kmsKeyId\": \"\", \"runAsEnabled\": true, \"runAsDefaultUser\": \"\", "
	"\"idleSessionTimeout\": \"20\", \"maxSessionDuration\": \"\", \"shellProfile\": "
	"{\"windows\": \"\", \"linux\": \"cd ~; exec bash -l\"}}}";

static const char doc_logview[] =
	"{\"schemaVersion\": \"1.0\", \"description\": \"Document to view a log file on a Linux "
	"instance\", \"sessionType\": \"InteractiveCommands\", \"parameters\": {\"logpath\": "
	"{\"type\": \"String\", \"description\": \"The log file path to read.\", \"default\": "
	"\"/var/log/amazon/ssm/amazon-ssm-agent.log\", \"allowedPattern\": "
	"\"^[a-zA-Z0-9-_/]+(.log)$\"}}, \"properties\": {\"linux\": {\"commands\": "
	"\"tail -f {{ logpath }}\", \"runAsElevated\": true}}}";

struct parse_row {
	int line;
	const char *json;
	int expect;
	const char *errpart;
};

static const struct parse_row parse_rows[] = {
	{ __LINE__, doc_port_forwarding, 0, NULL },
	{ __LINE__, doc_interactive, 0, NULL },
	{ __LINE__, doc_runshell, 0, NULL },
	{ __LINE__, doc_logview, 0, NULL },
	{ __LINE__, SS(""), 0, NULL },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Standard_Stream\"}", 0, NULL },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"NonInteractiveCommands\", "
		    "\"properties\": {\"linux\": {\"commands\": \"uptime\", \"runAsElevated\": \"false\"}}}", 0, NULL },
	/* schemaVersion: other versions are other schemas */
	{ __LINE__, "{\"schemaVersion\": \"2.2\", \"sessionType\": \"Standard_Stream\"}", -EINVAL, "schemaVersion" },
	{ __LINE__, "{\"schemaVersion\": 1.0, \"sessionType\": \"Standard_Stream\"}", -EINVAL, "schemaVersion" },
	{ __LINE__, "{\"sessionType\": \"Standard_Stream\"}", -EINVAL, "schemaVersion" },
	/* sessionType: unknown, case variants, missing */
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Shell\"}", -EINVAL, "sessionType" },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"standard_stream\"}", -EINVAL, "sessionType" },
	{ __LINE__, "{\"schemaVersion\": \"1.0\"}", -EINVAL, "sessionType" },
	/* not a document */
	{ __LINE__, "[]", -EINVAL, NULL },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Standard_Stream\"} x", -EINVAL, NULL },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"schemaVersion\": \"1.0\", \"sessionType\": \"Port\"}", -EINVAL, NULL },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Standard_Stream\", \"mainSteps\": []}", -EINVAL, "mainSteps" },
	/* timeouts out of range or malformed */
	{ __LINE__, SS("\"idleSessionTimeout\": \"0\""), -EINVAL, "idleSessionTimeout" },
	{ __LINE__, SS("\"idleSessionTimeout\": \"61\""), -EINVAL, "idleSessionTimeout" },
	{ __LINE__, SS("\"idleSessionTimeout\": \"-1\""), -EINVAL, "idleSessionTimeout" },
	{ __LINE__, SS("\"idleSessionTimeout\": \"2.5\""), -EINVAL, "idleSessionTimeout" },
	{ __LINE__, SS("\"idleSessionTimeout\": \" 20\""), -EINVAL, "idleSessionTimeout" },
	{ __LINE__, SS("\"idleSessionTimeout\": \"\""), -EINVAL, "idleSessionTimeout" },
	{ __LINE__, SS("\"idleSessionTimeout\": \"99999999999999999999\""), -EINVAL, "idleSessionTimeout" },
	{ __LINE__, SS("\"idleSessionTimeout\": true"), -EINVAL, "idleSessionTimeout" },
	{ __LINE__, SS("\"idleSessionTimeout\": \"60\""), 0, NULL },
	{ __LINE__, SS("\"maxSessionDuration\": \"1441\""), -EINVAL, "maxSessionDuration" },
	{ __LINE__, SS("\"maxSessionDuration\": \"0\""), -EINVAL, "maxSessionDuration" },
	{ __LINE__, SS("\"maxSessionDuration\": \"1440\""), 0, NULL },
	{ __LINE__, SS("\"idleSessionTimeoutSeconds\": 0"), -EINVAL, "idleSessionTimeoutSeconds" },
	{ __LINE__, SS("\"idleSessionTimeoutSeconds\": 86401"), -EINVAL, "idleSessionTimeoutSeconds" },
	{ __LINE__, SS("\"idleSessionTimeoutSeconds\": \"5\""), -EINVAL, "idleSessionTimeoutSeconds" },
	{ __LINE__, SS("\"idleSessionTimeoutSeconds\": 1.5"), -EINVAL, "idleSessionTimeoutSeconds" },
	{ __LINE__, SS("\"maxSessionDurationSeconds\": -5"), -EINVAL, "maxSessionDurationSeconds" },
	{ __LINE__, SS("\"runAsEnabled\": \"yes\""), -EINVAL, "runAsEnabled" },
	{ __LINE__, SS("\"runAsEnabled\": \"true\""), 0, NULL },
	{ __LINE__, SS("\"runAsDefaultUser\": \"root;id\""), -EINVAL, "runAsDefaultUser" },
	{ __LINE__, SS("\"runAsDefaultUser\": \"-oops\""), -EINVAL, "runAsDefaultUser" },
	{ __LINE__, SS("\"shellProfile\": {\"linux\": 5}"), -EINVAL, "shellProfile" },
	{ __LINE__, SS("\"idleTimeout\": \"5\""), -EINVAL, "idleTimeout" },
	/* inputs belong to Standard_Stream only */
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"InteractiveCommands\", \"inputs\": "
		    "{\"idleSessionTimeout\": \"5\"}, \"properties\": {\"linux\": {\"commands\": \"top\"}}}", -EINVAL, "inputs" },
	/* Standard_Stream has no properties; command types need commands; Port needs a port */
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Standard_Stream\", \"properties\": "
		    "{\"linux\": {\"commands\": \"id\"}}}", -EINVAL, "properties" },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"InteractiveCommands\"}", -EINVAL, "commands" },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"InteractiveCommands\", "
		    "\"properties\": {\"linux\": {\"commands\": \"\"}}}", -EINVAL, "commands" },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"InteractiveCommands\", "
		    "\"properties\": {\"linux\": {\"commands\": [\"id\"]}}}", -EINVAL, "commands" },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Port\"}", -EINVAL, "portNumber" },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Port\", \"properties\": "
		    "{\"portNumber\": \"22\", \"host\": \"10.0.0.1\"}}", -EINVAL, "host" },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Port\", \"properties\": "
		    "{\"portNumber\": 22}}", -EINVAL, "portNumber" },
	{ __LINE__, "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Port\", \"properties\": "
		    "{\"portNumber\": \"{{ p }}\"}}", -EINVAL, "names no parameter" },
	/* parameter definitions */
	{ __LINE__, CMD("\"a\": {\"type\": \"Integer\"}", "x {{a}}"), -EINVAL, "type" },
	{ __LINE__, CMD("\"a\": {\"type\": \"string\"}", "x {{a}}"), -EINVAL, "type" },
	{ __LINE__, CMD("\"a\": {\"description\": \"no type\"}", "x {{a}}"), -EINVAL, "type" },
	{ __LINE__, CMD("\"a\": \"String\"", "x {{a}}"), -EINVAL, "'a'" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"allowedPattern\": \"([a-z\"}", "x {{a}}"), -EINVAL, "compile" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"allowedPattern\": \"\"}", "x {{a}}"), -EINVAL, "allowedPattern" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"allowedPattern\": 5}", "x {{a}}"), -EINVAL, "allowedPattern" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"allowedPattern\": \"\\\\C\"}", "x {{a}}"), -EINVAL, "compile" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"allowedValues\": []}", "x {{a}}"), -EINVAL, "allowedValues" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"allowedValues\": [1]}", "x {{a}}"), -EINVAL, "allowedValues" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"maxChars\": 0}", "x {{a}}"), -EINVAL, "maxChars" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"maxChars\": \"10\"}", "x {{a}}"), -EINVAL, "maxChars" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"maxChars\": 1.5}", "x {{a}}"), -EINVAL, "maxChars" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"minChars\": 1}", "x {{a}}"), -EINVAL, "minChars" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"default\": \"x;id\", \"allowedPattern\": \"^[a-z]+$\"}", "x {{a}}"), -EINVAL, "default" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"default\": \"c\", \"allowedValues\": [\"a\", \"b\"]}", "x {{a}}"), -EINVAL, "default" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"default\": \"abcd\", \"maxChars\": 3}", "x {{a}}"), -EINVAL, "default" },
	{ __LINE__, CMD("\"a\": {\"type\": \"StringList\", \"default\": \"x\"}", "x {{a}}"), -EINVAL, "default" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\", \"default\": 5}", "x {{a}}"), -EINVAL, "default" },
	{ __LINE__, CMD("\"a\": {\"type\": \"StringList\", \"default\": [\"x\", \"y\"]}", "x {{a}}"), 0, NULL },
	{ __LINE__, CMD("\"a b\": {\"type\": \"String\"}", "x"), -EINVAL, "parameter name" },
	{ __LINE__, CMD("\"\": {\"type\": \"String\"}", "x"), -EINVAL, "parameter name" },
	/* template references */
	{ __LINE__, CMD("\"a\": {\"type\": \"String\"}", "x {{ b }}"), -EINVAL, "names no parameter" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\"}", "x {{ a"), -EINVAL, "unterminated" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\"}", "x {{ }}"), -EINVAL, "names no parameter" },
	{ __LINE__, CMD("\"a\": {\"type\": \"String\"}", "x {{a}} {{  a  }}"), 0, NULL },
};

static void test_parse_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		struct ssm_document *doc = NULL;
		char err[512] = "";
		int r = ssm_document_parse(parse_rows[i].json, strlen(parse_rows[i].json), NULL, &doc,
					   err, sizeof(err));
		CHECK_ROW(parse_rows[i].line, r == parse_rows[i].expect, "got %d want %d (%s)", r,
			  parse_rows[i].expect, err);
		if (r < 0) {
			CHECK_ROW(parse_rows[i].line, doc == NULL, "doc set on error");
			if (parse_rows[i].errpart)
				CHECK_ROW(parse_rows[i].line, strstr(err, parse_rows[i].errpart) != NULL,
					  "error '%s' lacks '%s'", err, parse_rows[i].errpart);
		}
		ssm_document_free(doc);
	}
}

static struct ssm_document *parse(const char *json)
{
	struct ssm_document *doc = NULL;
	char err[512] = "";

	if (ssm_document_parse(json, strlen(json), NULL, &doc, err, sizeof(err)) < 0)
		fprintf(stderr, "parse: %s\n", err);
	return doc;
}

static void test_inputs(void)
{
	struct ssm_document *d;

	d = parse(SS("\"idleSessionTimeout\": \"5\", \"maxSessionDuration\": \"30\""));
	CHECK(d && d->idle_timeout_s == 300 && d->max_duration_s == 1800, "minutes");
	ssm_document_free(d);
	/* the seconds extensions take precedence, in either order */
	d = parse(SS("\"idleSessionTimeoutSeconds\": 7, \"idleSessionTimeout\": \"5\", "
		     "\"maxSessionDuration\": \"30\", \"maxSessionDurationSeconds\": 9"));
	CHECK(d && d->idle_timeout_s == 7 && d->max_duration_s == 9, "seconds precedence");
	ssm_document_free(d);
	d = parse(SS(""));
	CHECK(d && d->idle_timeout_s == 1200 && d->max_duration_s == 0 && !d->run_as_enabled,
	      "defaults");
	CHECK(d && d->type == SSM_SESSION_STANDARD_STREAM, "type");
	ssm_document_free(d);
	d = parse(doc_runshell);
	CHECK(d && d->run_as_enabled == 1 && d->run_as_default_user == NULL && d->shell_profile &&
	      strcmp(d->shell_profile, "cd ~; exec bash -l") == 0, "runshell inputs");
	ssm_document_free(d);
	d = parse(SS("\"runAsEnabled\": \"false\", \"runAsDefaultUser\": \"app\""));
	CHECK(d && d->run_as_enabled == 0 && d->run_as_default_user &&
	      strcmp(d->run_as_default_user, "app") == 0, "runAs strings");
	ssm_document_free(d);
	d = parse(doc_logview);
	CHECK(d && d->run_as_elevated == 1 && d->n_params == 1 && d->params[0].default_value,
	      "logview");
	CHECK(d && strcmp(ssm_session_type_name(d->type), "InteractiveCommands") == 0, "name");
	ssm_document_free(d);
}

/* ---- rendering: each value must arrive as exactly one argument, byte for byte ---- */

/* Run `printf '%s\0' RENDERED` through /bin/sh (script in a file: a 1 MiB value is too long
 * for one execve argument) and return what it printed. */
static char *sh_printf(const char *rendered, size_t *plen)
{
	char script[] = "/tmp/ssm-test-render-XXXXXX";
	int fd = mkstemp(script), pfd[2];
	char *out = NULL;
	size_t len = 0, cap = 0;
	pid_t pid;
	int st;

	*plen = 0;
	if (fd < 0)
		return NULL;
	if (ssm_write_all(fd, "printf '%s\\0' ", 14) < 0 ||
	    ssm_write_all(fd, rendered, strlen(rendered)) < 0 || ssm_write_all(fd, "\n", 1) < 0 ||
	    pipe(pfd) < 0) {
		close(fd);
		unlink(script);
		return NULL;
	}
	close(fd);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execl("/bin/sh", "sh", script, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n;
		if (len + 65536 > cap) {
			char *nb = realloc(out, cap + 65536 + 1);
			if (nb == NULL)
				break;
			out = nb;
			cap += 65536;
		}
		n = read(pfd[0], out + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	waitpid(pid, &st, 0);
	unlink(script);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		free(out);
		return NULL;
	}
	*plen = len;
	return out;
}

static const char free_doc[] =
	CMD("\"v\": {\"type\": \"String\"}, \"other\": {\"type\": \"String\", \"default\": \"OTHER\"}, "
	    "\"l\": {\"type\": \"StringList\", \"default\": [\"d\"]}", "printf '%s\\\\0' {{ v }}");

struct value_row {
	int line;
	const char *value;
};

static const struct value_row hostile[] = {
	{ __LINE__, "; id" },            /* command separator */
	{ __LINE__, "$(id)" },           /* command substitution */
	{ __LINE__, "`id`" },            /* old-style substitution */
	{ __LINE__, "${IFS}" },          /* field splitting through expansion */
	{ __LINE__, "a b  c" },          /* plain splitting */
	{ __LINE__, "'" },               /* ends a single-quoted word */
	{ __LINE__, "'; id; '" },        /* quote break-out */
	{ __LINE__, "'\\''" },           /* our own escape, doubled */
	{ __LINE__, "\"" },
	{ __LINE__, "\\" },
	{ __LINE__, "-n" },              /* option-looking value stays one argument */
	{ __LINE__, "--" },
	{ __LINE__, "*" },               /* pathname expansion */
	{ __LINE__, "/*/*" },
	{ __LINE__, "?[a]" },
	{ __LINE__, "~root" },           /* tilde expansion */
	{ __LINE__, "$HOME" },
	{ __LINE__, "{a,b}" },           /* brace expansion (bash) */
	{ __LINE__, "!!" },              /* history (bash) */
	{ __LINE__, "#comment" },
	{ __LINE__, "a & b | c > /tmp/x < /etc/passwd" },
	{ __LINE__, "{{ other }}" },     /* a reference inside a value stays literal */
	{ __LINE__, "{{" },
	{ __LINE__, "" },                /* empty value is still one argument */
	{ __LINE__, "caf\xc3\xa9 \xe2\x82\xac" }, /* UTF-8 */
	{ __LINE__, "x\\cy" },          /* dash's echo: \c ends the output (fuzz_shctx) */
	{ __LINE__, "]x" },              /* dash's [: a last argument beginning with ] closes it */
};

static void check_one_arg(int line, const char *rendered_in, const char *value)
{
	size_t len = 0, vl = strlen(value);
	char *out;

	out = sh_printf(rendered_in, &len);
	CHECK_ROW(line, out != NULL, "shell failed");
	if (out == NULL)
		return;
	CHECK_ROW(line, len == vl + 1 && memcmp(out, value, vl) == 0 && out[vl] == '\0',
		  "value did not arrive as one argument byte for byte (got %zu bytes)", len);
	free(out);
}

static cJSON *params1(const char *name, const char *v)
{
	cJSON *p = cJSON_CreateObject(), *a = cJSON_CreateArray();

	cJSON_AddItemToArray(a, cJSON_CreateString(v));
	cJSON_AddItemToObject(p, name, a);
	return p;
}

static void test_render_hostile(void)
{
	struct ssm_document *d = parse(free_doc);
	size_t i;

	CHECK(d != NULL, "free_doc");
	if (d == NULL)
		return;
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		cJSON *p = params1("v", hostile[i].value);
		char *out = NULL, *word = NULL, err[256] = "";
		int r = ssm_document_render(d, "{{ v }}", p, &out, err, sizeof(err));
		CHECK_ROW(hostile[i].line, r == 0, "render: %s", err);
		if (r == 0)
			check_one_arg(hostile[i].line, out, hostile[i].value);
		/* and as a middle word of a larger command */
		free(out);
		out = NULL;
		r = ssm_document_render(d, d->commands, p, &out, err, sizeof(err));
		CHECK_ROW(hostile[i].line, r == 0 && strncmp(out, "printf '%s\\0' '", 15) == 0,
			  "commands render: %s", err);
		CHECK_ROW(hostile[i].line, ssm_shquote(hostile[i].value, &word) == 0 && word &&
			  strcmp(word, out + 14) == 0, "render is shquote");
		free(word);
		free(out);
		cJSON_Delete(p);
	}
	/* 1 MiB value, quotes included */
	{
		size_t n = 1024 * 1024, k;
		char *big = malloc(n + 1), *out = NULL, err[256];
		cJSON *p;
		CHECK(big != NULL, "malloc");
		if (big == NULL)
			goto done;
		for (k = 0; k < n; k++)
			big[k] = "a'b $(x)\""[k % 9];
		big[n] = '\0';
		p = params1("v", big);
		CHECK(ssm_document_render(d, "{{v}}", p, &out, err, sizeof(err)) == 0, "big: %s", err);
		if (out)
			check_one_arg(__LINE__, out, big);
		free(out);
		cJSON_Delete(p);
		free(big);
	}
done:
	ssm_document_free(d);
}

/* Values that are always refused, whatever the document says. */
static const struct value_row refused_values[] = {
	{ __LINE__, "a\nid" },           /* newline starts a new command */
	{ __LINE__, "a\rb" },
	{ __LINE__, "a\tb" },
	{ __LINE__, "\x01" },
	{ __LINE__, "\x1b[2J" },         /* terminal escape */
	{ __LINE__, "\x7f" },
	{ __LINE__, "\xc2\x85" },        /* NEL, a C1 control */
	{ __LINE__, "\xc2\x9b" "31m" },  /* CSI, a C1 control */
	{ __LINE__, "\xff\xfe" },        /* invalid UTF-8 */
	{ __LINE__, "\xc0\xaf" },        /* overlong '/' */
	{ __LINE__, "\xed\xa0\x80" },    /* surrogate */
};

static void test_render_refused(void)
{
	struct ssm_document *d = parse(free_doc);
	size_t i;

	if (d == NULL) {
		CHECK(0, "free_doc");
		return;
	}
	for (i = 0; i < sizeof(refused_values) / sizeof(refused_values[0]); i++) {
		cJSON *p = params1("v", refused_values[i].value);
		char *out = NULL, err[256] = "";
		int r = ssm_document_render(d, "x {{ v }}", p, &out, err, sizeof(err));
		CHECK_ROW(refused_values[i].line, r == -EINVAL && out == NULL, "accepted: %d", r);
		CHECK_ROW(refused_values[i].line, strstr(err, "'v'") != NULL, "err: %s", err);
		r = ssm_document_check_params(d, p, err, sizeof(err));
		CHECK_ROW(refused_values[i].line, r == -EINVAL, "check_params accepted");
		free(out);
		cJSON_Delete(p);
	}
	ssm_document_free(d);
}

struct render_row {
	int line;
	const char *doc;
	const char *tmpl;    /* NULL: the document's commands */
	const char *params;  /* JSON or NULL */
	int expect;
	const char *result;  /* expected rendering, or error substring */
};

#define P1(pattern) CMD("\"v\": {\"type\": \"String\", \"allowedPattern\": \"" pattern "\"}", "x {{ v }}")

static const struct render_row render_rows[] = {
	/* StringList: one word per element */
	{ __LINE__, free_doc, "ls {{ l }}", "{\"v\": [\"1\"], \"l\": [\"a b\", \"; id\", \"'\"]}", 0,
	  "ls 'a b' '; id' ''\\'''" },
	{ __LINE__, free_doc, "ls {{l}}", "{\"v\": [\"1\"]}", 0, "ls 'd'" },
	{ __LINE__, free_doc, "{{ other }}-{{v}}", "{\"v\": [\"{{ other }}\"]}", 0, "'OTHER'-'{{ other }}'" },
	{ __LINE__, free_doc, "no refs at all", "{\"v\": [\"1\"]}", 0, "no refs at all" },
	{ __LINE__, free_doc, "x {{\tv\t}}", "{\"v\": [\"1\"]}", 0, "x '1'" },
	/* parameter errors name the parameter and why */
	{ __LINE__, free_doc, "x {{ v }}", "{\"v\": [\"1\"], \"w\": [\"2\"]}", -EINVAL, "'w': not defined" },
	{ __LINE__, free_doc, "x {{ v }}", NULL, -EINVAL, "'v': missing" },
	{ __LINE__, free_doc, "x {{ v }}", "{}", -EINVAL, "'v': missing" },
	{ __LINE__, free_doc, "x {{ v }}", "{\"v\": [\"1\", \"2\"]}", -EINVAL, "'v': a String takes exactly one" },
	{ __LINE__, free_doc, "x {{ v }}", "{\"v\": []}", -EINVAL, "'v'" },
	{ __LINE__, free_doc, "x {{ v }}", "{\"v\": \"1\"}", -EINVAL, "'v'" },
	{ __LINE__, free_doc, "x {{ v }}", "{\"v\": [1]}", -EINVAL, "'v'" },
	{ __LINE__, free_doc, "x {{ v }}", "{\"v\": [\"1\"], \"l\": []}", -EINVAL, "'l'" },
	{ __LINE__, free_doc, "x {{ v }}", "[\"v\"]", -EINVAL, "object" },
	{ __LINE__, free_doc, "x {{ nope }}", "{\"v\": [\"1\"]}", -EINVAL, "nope" },
	{ __LINE__, free_doc, "x {{ }}", "{\"v\": [\"1\"]}", -EINVAL, "names no parameter" },
	{ __LINE__, free_doc, "x {{ v", "{\"v\": [\"1\"]}", -EINVAL, "unterminated" },
	{ __LINE__, free_doc, "x {{ v }", "{\"v\": [\"1\"]}", -EINVAL, "unterminated" },
	/* allowedPattern: anywhere unless anchored, as in AWS */
	{ __LINE__, P1("[a-z]+"), NULL, "{\"v\": [\"abc; id\"]}", 0, "x 'abc; id'" },
	{ __LINE__, P1("^[a-z]+$"), NULL, "{\"v\": [\"abc; id\"]}", -EINVAL, "allowedPattern" },
	{ __LINE__, P1("^[a-z]+$"), NULL, "{\"v\": [\"abc\"]}", 0, "x 'abc'" },
	{ __LINE__, P1("\\\\A[0-9]+\\\\z"), NULL, "{\"v\": [\"12\"]}", 0, "x '12'" },
	{ __LINE__, P1("^[a-z]+$"), NULL, "{\"v\": [\"ABC\"]}", -EINVAL, "allowedPattern" },
	{ __LINE__, P1("^\\\\w+$"), NULL, "{\"v\": [\"caf\xc3\xa9\"]}", -EINVAL, "allowedPattern" },
	{ __LINE__, P1("^.$"), NULL, "{\"v\": [\"\xc3\xa9\"]}", 0, "x '\xc3\xa9'" },
	/* catastrophic backtracking is cut off by the match limit and refused */
	{ __LINE__, P1("^(a+)+$"), NULL, "{\"v\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"]}", -EINVAL, "'v'" },
	{ __LINE__, P1("^(\\\\w+\\\\s?)*$"), NULL, "{\"v\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"]}", -EINVAL, "'v'" },
	/* allowedValues and maxChars (characters, not bytes) */
	{ __LINE__, CMD("\"v\": {\"type\": \"String\", \"allowedValues\": [\"start\", \"stop\"]}", "svc {{v}}"),
	  NULL, "{\"v\": [\"stop\"]}", 0, "svc 'stop'" },
	{ __LINE__, CMD("\"v\": {\"type\": \"String\", \"allowedValues\": [\"start\", \"stop\"]}", "svc {{v}}"),
	  NULL, "{\"v\": [\"stop \"]}", -EINVAL, "allowedValues" },
	{ __LINE__, CMD("\"v\": {\"type\": \"String\", \"allowedValues\": [\"start\", \"stop\"]}", "svc {{v}}"),
	  NULL, "{\"v\": [\"Stop\"]}", -EINVAL, "allowedValues" },
	{ __LINE__, CMD("\"v\": {\"type\": \"String\", \"maxChars\": 3}", "e {{v}}"), NULL,
	  "{\"v\": [\"\xc3\xa9\xc3\xa9\xc3\xa9\"]}", 0, "e '\xc3\xa9\xc3\xa9\xc3\xa9'" },
	{ __LINE__, CMD("\"v\": {\"type\": \"String\", \"maxChars\": 3}", "e {{v}}"), NULL,
	  "{\"v\": [\"abcd\"]}", -EINVAL, "maxChars" },
	{ __LINE__, CMD("\"v\": {\"type\": \"StringList\", \"maxChars\": 2}", "e {{v}}"), NULL,
	  "{\"v\": [\"ab\", \"abc\"]}", -EINVAL, "maxChars" },
	/* the seed's log viewer document with its default */
	{ __LINE__, doc_logview, NULL, NULL, 0, "tail -f '/var/log/amazon/ssm/amazon-ssm-agent.log'" },
	{ __LINE__, doc_logview, NULL, "{\"logpath\": [\"/etc/shadow\"]}", -EINVAL, "allowedPattern" },
	{ __LINE__, doc_interactive, NULL, "{\"command\": [\"top -b\"]}", 0, "'top -b'" },
};

static void test_render_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(render_rows) / sizeof(render_rows[0]); i++) {
		const struct render_row *row = &render_rows[i];
		struct ssm_document *d = parse(row->doc);
		cJSON *p = NULL;
		char *out = NULL, err[512] = "";
		int r;

		CHECK_ROW(row->line, d != NULL, "document does not parse");
		if (d == NULL)
			continue;
		if (row->params && ssm_json_parse(row->params, strlen(row->params), &p, err,
						  sizeof(err)) < 0) {
			CHECK_ROW(row->line, 0, "params JSON: %s", err);
			ssm_document_free(d);
			continue;
		}
		r = ssm_document_render(d, row->tmpl ? row->tmpl : d->commands, p, &out, err,
					sizeof(err));
		CHECK_ROW(row->line, r == row->expect, "got %d want %d (%s)", r, row->expect, err);
		if (r == 0 && row->expect == 0)
			CHECK_ROW(row->line, strcmp(out, row->result) == 0, "rendered [%s] want [%s]",
				  out, row->result);
		if (r < 0)
			CHECK_ROW(row->line, out == NULL && strstr(err, row->result) != NULL,
				  "error '%s' lacks '%s'", err, row->result);
		free(out);
		cJSON_Delete(p);
		ssm_document_free(d);
	}
}

struct port_row {
	int line;
	const char *port_tmpl; /* properties.portNumber */
	const char *pattern;   /* allowedPattern of parameter p or NULL */
	const char *value;     /* value of p or NULL (default "80") */
	int expect, port;
};

static const struct port_row port_rows[] = {
	{ __LINE__, "{{ p }}", NULL, NULL, 0, 80 },
	{ __LINE__, "{{ p }}", NULL, "22", 0, 22 },
	{ __LINE__, "{{ p }}", NULL, "65535", 0, 65535 },
	{ __LINE__, "{{ p }}", NULL, "65536", -EINVAL, 0 },    /* out of range */
	{ __LINE__, "{{ p }}", NULL, "0", -EINVAL, 0 },
	{ __LINE__, "{{ p }}", NULL, "022", 0, 22 },
	{ __LINE__, "{{ p }}", NULL, "000000022", -EINVAL, 0 }, /* too long to be a port */
	{ __LINE__, "{{ p }}", NULL, "22;id", -EINVAL, 0 },     /* digits only */
	{ __LINE__, "{{ p }}", NULL, " 22", -EINVAL, 0 },
	{ __LINE__, "{{ p }}", NULL, "-1", -EINVAL, 0 },
	{ __LINE__, "{{ p }}", NULL, "0x16", -EINVAL, 0 },
	{ __LINE__, "{{ p }}", NULL, "", -EINVAL, 0 },
	{ __LINE__, "{{ p }}", "^[0-9]{2}$", "443", -EINVAL, 0 }, /* the pattern still applies */
	{ __LINE__, "8080", NULL, NULL, 0, 8080 },
	{ __LINE__, "80{{ p }}", NULL, "8", 0, 808 },
	{ __LINE__, "http", NULL, NULL, -EINVAL, 0 },
};

static void test_port(void)
{
	size_t i;

	for (i = 0; i < sizeof(port_rows) / sizeof(port_rows[0]); i++) {
		const struct port_row *row = &port_rows[i];
		char json[1024], err[256] = "";
		struct ssm_document *d = NULL;
		cJSON *p = NULL;
		int port = -1, r;

		snprintf(json, sizeof(json),
			 "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Port\", \"parameters\": "
			 "{\"p\": {\"type\": \"String\", \"default\": \"80\"%s%s%s}}, \"properties\": "
			 "{\"portNumber\": \"%s\"}}", row->pattern ? ", \"allowedPattern\": \"" : "",
			 row->pattern ? row->pattern : "", row->pattern ? "\"" : "", row->port_tmpl);
		r = ssm_document_parse(json, strlen(json), NULL, &d, err, sizeof(err));
		CHECK_ROW(row->line, r == 0, "parse: %s", err);
		if (r < 0)
			continue;
		if (row->value)
			p = params1("p", row->value);
		r = ssm_document_port(d, p, &port, err, sizeof(err));
		CHECK_ROW(row->line, r == row->expect && (r < 0 || port == row->port),
			  "got %d port %d want %d port %d (%s)", r, port, row->expect, row->port, err);
		cJSON_Delete(p);
		ssm_document_free(d);
	}
	{
		struct ssm_document *d = parse(doc_port_forwarding);
		int port = 0;
		char err[256];
		cJSON *p = params1("portNumber", "5432");
		CHECK(d && ssm_document_port(d, NULL, &port, err, sizeof(err)) == 0 && port == 80,
		      "AWS default port");
		CHECK(d && ssm_document_port(d, p, &port, err, sizeof(err)) == 0 && port == 5432,
		      "AWS port param");
		cJSON_Delete(p);
		ssm_document_free(d);
	}
}

static void count_warn(void *ctx, const char *msg)
{
	(*(int *)ctx)++;
	CHECK(strstr(msg, "anchored") != NULL, "warning text: %s", msg);
}

static void test_warnings(void)
{
	static const struct {
		int line;
		const char *pattern;
		int warnings;
	} rows[] = {
		{ __LINE__, "^[a-z]+$", 0 },
		{ __LINE__, "\\\\A[a-z]+\\\\z", 0 },
		{ __LINE__, "[a-z]+", 1 },       /* matches anywhere */
		{ __LINE__, "^[a-z]+", 1 },      /* open at the end */
		{ __LINE__, "[a-z]+$", 1 },      /* open at the start */
		{ __LINE__, "^[a-z]+\\\\$", 1 }, /* a literal dollar is no anchor */
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char json[512];
		struct ssm_document *d;
		int n = 0, r;

		snprintf(json, sizeof(json), CMD("\"v\": {\"type\": \"String\", \"allowedPattern\": \"%s\"}",
						 "x {{v}}"), rows[i].pattern);
		d = parse(json);
		CHECK_ROW(rows[i].line, d != NULL, "parse");
		if (d == NULL)
			continue;
		r = ssm_document_warnings(d, count_warn, &n);
		CHECK_ROW(rows[i].line, r == rows[i].warnings && n == r, "warnings %d/%d want %d", r,
			  n, rows[i].warnings);
		ssm_document_free(d);
	}
}

static void test_shquote(void)
{
	char *s = NULL;

	CHECK(ssm_shquote("a'b", &s) == 0 && strcmp(s, "'a'\\''b'") == 0, "quote");
	CHECK(ssm_shquote("", &s) == 0 && strcmp(s, "'a'\\''b'''") == 0, "append");
	free(s);
	CHECK(ssm_document_name_valid("AWS-StartPortForwardingSession"), "name");
	CHECK(!ssm_document_name_valid("ab"), "too short");
	CHECK(!ssm_document_name_valid("../x"), "path");
	CHECK(!ssm_document_name_valid("a/bc"), "slash");
	CHECK(ssm_document_name_valid("..."), "three dots: a plain file name, no traversal");
}

static int write_file(const char *path, const char *data, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(data, f);
	fclose(f);
	return chmod(path, mode);
}

static void test_load(void)
{
	char dir[] = "/tmp/ssm-test-doc-XXXXXX", path[512], path2[512], hex[65], err[512];
	struct ssm_document *d = NULL;
	char upper[65];
	size_t i;
	int r;

	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/AWS-StartInteractiveCommand.json", dir);
	CHECK(write_file(path, doc_interactive, 0644) == 0, "write");
	ssm_sha256_hex(doc_interactive, strlen(doc_interactive), hex);
	r = ssm_document_load(dir, "AWS-StartInteractiveCommand", hex, &d, err, sizeof(err));
	CHECK(r == 0 && d && strcmp(d->sha256, hex) == 0 && strcmp(d->name,
	      "AWS-StartInteractiveCommand") == 0, "load: %d %s", r, err);
	ssm_document_free(d);
	d = NULL;
	/* the hash binds the exact bytes */
	r = ssm_document_load(dir, "AWS-StartInteractiveCommand",
			      "0000000000000000000000000000000000000000000000000000000000000000", &d,
			      err, sizeof(err));
	CHECK(r == -EBADMSG && d == NULL, "hash mismatch: %d", r);
	for (i = 0; i < 65; i++)
		upper[i] = (hex[i] >= 'a' && hex[i] <= 'f') ? (char)(hex[i] - 32) : hex[i];
	r = ssm_document_load(dir, "AWS-StartInteractiveCommand", upper, &d, err, sizeof(err));
	CHECK(r == -EINVAL && d == NULL, "uppercase hex: %d", r);
	r = ssm_document_load(dir, "AWS-StartInteractiveCommand", "abc", &d, err, sizeof(err));
	CHECK(r == -EINVAL && d == NULL, "short hex: %d", r);
	r = ssm_document_load(dir, "Missing-Doc", hex, &d, err, sizeof(err));
	CHECK(r == -ENOENT && d == NULL, "missing: %d", r);
	r = ssm_document_load(dir, "../etc/passwd", hex, &d, err, sizeof(err));
	CHECK(r == -EINVAL && d == NULL, "path in name: %d", r);
	r = ssm_document_load(dir, "a/bcd", hex, &d, err, sizeof(err));
	CHECK(r == -EINVAL && d == NULL, "slash in name: %d", r);
	/* a group-writable document could be swapped by the group */
	chmod(path, 0664);
	r = ssm_document_load(dir, "AWS-StartInteractiveCommand", hex, &d, err, sizeof(err));
	CHECK(r == -EACCES && d == NULL, "group-writable: %d", r);
	chmod(path, 0644);
	/* a symlink is not followed */
	snprintf(path2, sizeof(path2), "%s/Linked-Doc.json", dir);
	CHECK(symlink(path, path2) == 0, "symlink");
	r = ssm_document_load(dir, "Linked-Doc", hex, &d, err, sizeof(err));
	CHECK(r == -EACCES && d == NULL, "symlink: %d", r);
	unlink(path2);
	/* valid hash of an invalid document: the host's fault, -EINVAL */
	snprintf(path2, sizeof(path2), "%s/Broken-Doc.json", dir);
	CHECK(write_file(path2, "{\"schemaVersion\": \"1.0\"", 0644) == 0, "write");
	ssm_sha256_hex("{\"schemaVersion\": \"1.0\"", 23, hex);
	r = ssm_document_load(dir, "Broken-Doc", hex, &d, err, sizeof(err));
	CHECK(r == -EINVAL && d == NULL && strstr(err, "Broken-Doc.json"), "broken: %d %s", r, err);
	unlink(path2);

	/* RunShell inputs for command documents */
	ssm_sha256_hex(doc_interactive, strlen(doc_interactive), hex);
	r = ssm_document_load(dir, "AWS-StartInteractiveCommand", hex, &d, err, sizeof(err));
	CHECK(r == 0, "reload");
	if (d) {
		CHECK(ssm_document_apply_runshell(d, dir, err, sizeof(err)) == 0 &&
		      d->idle_timeout_s == 1200 && d->max_duration_s == 0, "no RunShell: defaults");
		snprintf(path2, sizeof(path2), "%s/SSM-SessionManagerRunShell.json", dir);
		CHECK(write_file(path2, SS("\"idleSessionTimeout\": \"3\", \"maxSessionDuration\": "
					   "\"9\", \"runAsEnabled\": true, \"runAsDefaultUser\": "
					   "\"app\""), 0644) == 0, "write");
		r = ssm_document_apply_runshell(d, dir, err, sizeof(err));
		CHECK(r == 0 && d->idle_timeout_s == 180 && d->max_duration_s == 540 &&
		      d->run_as_enabled && d->run_as_default_user &&
		      strcmp(d->run_as_default_user, "app") == 0, "RunShell applied: %d %s", r, err);
		CHECK(write_file(path2, doc_interactive, 0644) == 0, "write");
		r = ssm_document_apply_runshell(d, dir, err, sizeof(err));
		CHECK(r == -EINVAL, "RunShell must be Standard_Stream: %d", r);
		unlink(path2);
	}
	ssm_document_free(d);
	unlink(path);
	rmdir(dir);
}

/* ---- the shell context of every placeholder (lib/shctx.c) ---- */

struct ctx_row {
	int line;
	const char *tmpl;
	int list;            /* parameter a is a StringList */
	const char *errpart; /* NULL: accepted (and run with a real sh) */
};

static const struct ctx_row ctx_rows[] = {
	/* the review's examples */
	{ __LINE__, "echo \"message: {{ a }}\"", 0, "inside double quotes" },
	{ __LINE__, "echo '{{ a }}'", 0, "inside single quotes" },
	/* quoting and substitution */
	{ __LINE__, "echo \"{{a}}\"", 0, "inside double quotes" },
	{ __LINE__, "echo \"x\\\"{{a}}\"", 0, "inside double quotes" },
	{ __LINE__, "echo $'{{a}}'", 0, "$'...'" },
	{ __LINE__, "echo `echo {{a}}`", 0, "backticks" },
	{ __LINE__, "echo $(echo {{a}})", 0, "command substitution" },
	{ __LINE__, "echo \"$(echo {{a}})\"", 0, "command substitution" },
	{ __LINE__, "echo $(case x in a) echo \"{{a}}\";; esac)", 0, "command substitution" },
	{ __LINE__, "echo $(( {{a}} + 1 ))", 0, "arithmetic" },
	{ __LINE__, "(( {{a}} ))", 0, "arithmetic" },
	{ __LINE__, "echo ${x:-{{a}}}", 0, "parameter expansion" },
	{ __LINE__, "echo ${{a}}", 0, "glued" },
	{ __LINE__, "cat <<EOF\n{{a}}\nEOF", 0, "here-document" },
	{ __LINE__, "cat <<'EOF'\n{{a}}\nEOF", 0, "here-document" },
	{ __LINE__, "cat <<-EOF\n\tx {{a}}\n\tEOF", 0, "here-document" },
	{ __LINE__, "cat <<A <<B\nx\nA\n{{a}}\nB", 0, "here-document" },
	{ __LINE__, "cat <<{{a}}\nx", 0, "here-document delimiter" },
	{ __LINE__, "echo x # {{a}}", 0, "comment" },
	{ __LINE__, "# {{a}}\necho x", 0, "comment" },
	/* glued to text that changes its meaning */
	{ __LINE__, "echo x#{{a}}", 0, "glued" },
	{ __LINE__, "echo \\{{a}}", 0, "glued" },
	{ __LINE__, "echo \\\\{{a}}", 0, "glued" },
	{ __LINE__, "echo $x{{a}}", 0, "glued" },
	{ __LINE__, "echo {{a}}$x", 0, "glued" },
	{ __LINE__, "echo ~{{a}}", 0, "glued" },
	{ __LINE__, "echo {{a}}*", 0, "glued" },
	{ __LINE__, "echo [{{a}}]", 0, "glued" },
	{ __LINE__, "echo {x,{{a}}}", 0, "glued" },
	{ __LINE__, "echo \"x\"{{a}}", 0, "glued" },
	{ __LINE__, "echo {{a}}'x'", 0, "glued" },
	{ __LINE__, "echo x{{a}}", 1, "StringList" },
	{ __LINE__, "echo {{a}}{{b}}", 1, "StringList" },
	{ __LINE__, "X={{a}} env", 0, "assignment" },
	{ __LINE__, "LD_PRELOAD={{a}} ls", 0, "assignment" },
	/* arguments that are code */
	{ __LINE__, "eval {{a}}", 0, "not supported as a command" },
	{ __LINE__, "eval echo {{a}}", 0, "not supported as a command" },
	{ __LINE__, ". {{a}}", 0, "not supported as a command" },
	{ __LINE__, "source {{a}}", 0, "not supported as a command" },
	{ __LINE__, "trap {{a}} EXIT", 0, "shell code" },
	{ __LINE__, "let {{a}}", 0, "shell code" },
	{ __LINE__, "declare {{a}}", 0, "shell code" },
	{ __LINE__, "watch {{a}}", 0, "shell code" },
	{ __LINE__, "sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "/bin/bash -c {{a}}", 0, "shell code" },
	{ __LINE__, "bash -ec {{a}}", 0, "shell code" },
	{ __LINE__, "sudo -u app sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "env X=1 bash -c {{a}}", 0, "shell code" },
	{ __LINE__, "timeout 5 dash -c {{a}}", 0, "shell code" },
	{ __LINE__, "su -c {{a}} app", 0, "shell code" },
	{ __LINE__, "su --command={{a}}", 0, "shell code" },
	{ __LINE__, "runuser -u app -- sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "\"eval\" {{a}}", 0, "not supported as a command" },
	{ __LINE__, "e\\val {{a}}", 0, "not supported as a command" },
	{ __LINE__, "$cmd {{a}}", 0, "shell code" },
	{ __LINE__, "{{b}} {{a}}", 0, "shell code" },
	{ __LINE__, "f() { eval {{a}}; }", 0, "not supported as a command" },
	{ __LINE__, "true && eval {{a}}", 0, "not supported as a command" },
	/* the second review's accepted-but-unsafe templates, and their neighbours */
	{ __LINE__, "grep -e \"^foo$\" -e \" {{a}} $\" /dev/null", 0, "inside double quotes" },
	{ __LINE__, "echo \"a$\" \" {{a}} b$\"", 0, "inside double quotes" },
	{ __LINE__, "cat <<EOF $\n{{a}}\nEOF", 0, "here-document" },
	{ __LINE__, "echo $\\'a' {{a}} \\'", 0, "inside single quotes" },
	{ __LINE__, "echo \"a$\\\" {{a}} '\"\\'", 0, "inside double quotes" },
	{ __LINE__, "echo $\" {{a}} '\" \\'", 0, "dash has no such quoting" },
	{ __LINE__, "echo $\\\n{{a}}", 0, "line continuation" },
	{ __LINE__, "cat <<EOF\nhello \\\nEOF\n: {{a}}\nEOF", 0, "line continuation" },
	{ __LINE__, "ev\\\nal {{a}}", 0, "line continuation" },
	{ __LINE__, "sh -\\\nc {{a}}", 0, "line continuation" },
	{ __LINE__, "echo \"$\\\n(echo \" {{a}} \")\"", 0, "line continuation" },
	{ __LINE__, "cat <<A <<B <<C <<D <<E <<F <<G <<H <<I\nA\nB\nC\nD\nE\nF\nG\nH\n: {{a}}\nI", 0, "more than 8" },
	{ __LINE__, "cat <<xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n: {{a}}\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, "longer than" },
	{ __LINE__, "cat <<{\\{zzz}}\n{{zzz}}", 0, "here-document delimiter must be" },
	{ __LINE__, "cat <<EOF\n{{a}}EOF\nEOF", 0, "here-document" },
	{ __LINE__, "cat <(eval {{a}})", 0, "process substitution" },
	{ __LINE__, "echo x > >(eval {{a}})", 0, "process substitution" },
	{ __LINE__, "cat <(sh -c {{a}})", 0, "process substitution" },
	{ __LINE__, "time -p eval {{a}}", 0, "not supported as a command" },
	{ __LINE__, "time -- eval {{a}}", 0, "not supported as a command" },
	{ __LINE__, "coproc eval {{a}}", 0, "shell code" },
	{ __LINE__, "function f { eval {{a}}; }; f", 0, "shell code" },
	{ __LINE__, "x+=1 eval {{a}}", 0, "not supported as a command" },
	{ __LINE__, "a[0]=1 eval {{a}}", 0, "not supported as a command" },
	{ __LINE__, "declare -i n=0; n+={{a}}", 0, "assignment" },
	{ __LINE__, "n+={{a}}", 0, "assignment" },
	{ __LINE__, "[[ {{a}} -eq 1 ]]", 0, "[[ ]]" },
	{ __LINE__, "[[ $# -eq {{a}} ]]", 0, "[[ ]]" },
	{ __LINE__, "test -v {{a}}", 0, "shell code" },
	{ __LINE__, "[ -v {{a}} ]", 0, "shell code" },
	{ __LINE__, "[ -R {{a}} ]", 0, "shell code" },
	{ __LINE__, "[ {{a}} {{b}} ]", 0, "shell code" },
	{ __LINE__, "read {{a}}", 0, "shell code" },
	{ __LINE__, "printf -v {{a}} %s x", 0, "shell code" },
	{ __LINE__, "wait -n -p {{a}}", 0, "shell code" },
	{ __LINE__, "unset {{a}}", 0, "shell code" },
	{ __LINE__, "export RANDOM={{a}}", 0, "shell code" },
	{ __LINE__, "export {{a}}", 0, "shell code" },
	{ __LINE__, "readonly n={{a}}", 0, "shell code" },
	{ __LINE__, "compgen -W {{a}}", 0, "shell code" },
	{ __LINE__, "mapfile -C {{a}}", 0, "shell code" },
	{ __LINE__, "alias {{a}}", 0, "not supported as a command" },
	{ __LINE__, "flock /tmp/lk -c {{a}}", 0, "shell code" },
	{ __LINE__, "script -q -c {{a}} /dev/null", 0, "shell code" },
	{ __LINE__, "env -S {{a}}", 0, "shell code" },
	{ __LINE__, "env --split-string={{a}}", 0, "shell code" },
	{ __LINE__, "sh {{a}} {{b}}", 0, "shell code" },
	{ __LINE__, "bash -e {{a}} {{b}}", 0, "shell code" },
	{ __LINE__, "env LD_PRELOAD={{a}} ls", 0, "assignment" },
	{ __LINE__, "sudo env PATH={{a}} ls", 0, "assignment" },
	{ __LINE__, "echo \"${x:-'}\" '}\" {{a}} \\'", 0, "parameter expansion" },
	{ __LINE__, "false && echo $(( 1 ' )); touchme ' )) ; : {{a}} \\'", 0, "arithmetic" },
	{ __LINE__, "printf '[%s]\\n' hello >{{a}}", 1, "redirection" },
	{ __LINE__, "if [ {{a}} = zz ]; then printf yes; else printf '[%s]\\n' no; fi", 0, NULL },
	{ __LINE__, "test -n {{a}}; printf '[%s]\\n' {{b}}", 0, NULL },
	{ __LINE__, "/bin/sh /nonexistent-script {{a}}", 0, NULL }, /* a script's arguments */
	{ __LINE__, "env X=1 printf '[%s]\\n' {{a}}", 0, NULL },
	{ __LINE__, "printf '%s' x >/dev/null; printf '[%s]\\n' {{a}} 2>/dev/null", 0, NULL },
	/* the third review (a second hostile reviewer), and what the strict subset now allows */
	{ __LINE__, "sh +e -c {{a}}", 0, "shell code" },
	{ __LINE__, "bash -o posix -c {{a}}", 0, "shell code" },
	{ __LINE__, "bash --rcfile /dev/null -c {{a}}", 0, "shell code" },
	{ __LINE__, "sh -c -- {{a}}", 0, "shell code" },
	{ __LINE__, "bash -c -x {{a}}", 0, "shell code" },
	{ __LINE__, "su root -c {{a}}", 0, "shell code" },
	{ __LINE__, "runuser root -c {{a}}", 0, "shell code" },
	{ __LINE__, "sudo su root -c {{a}}", 0, "shell code" },
	{ __LINE__, "busybox sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "rbash -c {{a}}", 0, "shell code" },
	{ __LINE__, "ssh host {{a}}", 0, "shell code" },
	{ __LINE__, "env -S 'sh -c' {{a}}", 0, "shell code" },
	{ __LINE__, "env -S\"sh -c\" {{a}}", 0, "shell code" },
	{ __LINE__, "env --split-string='sh -c' {{a}}", 0, "shell code" },
	{ __LINE__, "[[ -n x && {{a}} -eq 1 ]]", 0, "[[ ]]" },
	{ __LINE__, "if [[ -n x && {{a}} -gt 0 ]]; then :; fi", 0, "[[ ]]" },
	{ __LINE__, "for ((i=0; i<{{a}}; i++)); do :; done", 0, "arithmetic command" },
	{ __LINE__, "echo $[ {{a}} ]", 0, "$[ ]" },
	{ __LINE__, "cat <<E\\F\nEF\n'\nE\\F\necho \"'\necho {{a}}\n\" #\"", 0, "here-document delimiter must be" },
	{ __LINE__, "cat <<'E\\F'\nx\nE\\F\necho {{a}}", 0, "here-document delimiter must be" },
	{ __LINE__, "echo $(cat <<EOF) x\necho {{a}}\nEOF", 0, "command substitution" },
	{ __LINE__, "echo $'\\'' {{a}} #'", 0, "$'...'" },
	{ __LINE__, "echo \"${x:-$'}\"'}\" {{a}} #'", 0, "parameter expansion" },
	{ __LINE__, "echo \"$(case esac in (esac) echo \" {{a}} \";; esac)\"", 0, "command substitution" },
	{ __LINE__, "case esac in (esac) eval {{a}};; esac", 0, "not supported as a command" },
	{ __LINE__, "eval &>/dev/null echo {{a}}", 0, "not supported as a command" },
	{ __LINE__, "echo x |& cat {{a}}", 0, "&>" },
	{ __LINE__, "cat <<< {{a}}", 0, "here-string" },
	{ __LINE__, "test {{a}}", 1, "StringList where one word is expected" },
	{ __LINE__, "[ {{a}} ]", 1, "StringList where one word is expected" },
	{ __LINE__, "printf {{a}} x", 1, "shell code" },
	{ __LINE__, "printf {{a}}", 0, "shell code" },
	{ __LINE__, "hash -p {{a}} ls; ls", 0, "shell code" },
	{ __LINE__, "((x = 1<<2))\necho {{a}}\n2", 0, "arithmetic command" },
	{ __LINE__, "echo @(x|#')\n{{a}}\n')' #'", 0, "extended glob" },
	{ __LINE__, "echo ${x}{{a}}", 0, "glued" },
	{ __LINE__, "case x in (esac|x) printf '[%s]\\n' {{a}};; esac", 0, NULL },
	{ __LINE__, "sudo -u {{a}} printf '[%s]\\n' {{b}}", 0, NULL },
	{ __LINE__, "timeout {{a}} printf '[%s]\\n' {{b}}", 0, NULL },
	{ __LINE__, "nice -n {{a}} printf '[%s]\\n' {{b}}", 0, NULL },
	{ __LINE__, "env -u {{a}} printf '[%s]\\n' {{b}}", 0, NULL },
	{ __LINE__, "printf '[%s]\\n' ${HOME} {{a}}", 0, NULL },
	/* the fourth review, and what the wrapper tables and script rule now allow */
	{ __LINE__, "timeout {{a}} true", 1, "StringList where one word" },
	{ __LINE__, "nice -n {{a}} true", 1, "StringList where one word" },
	{ __LINE__, "env -u {{a}} true", 1, "StringList where one word" },
	{ __LINE__, "sudo -u {{a}} true", 1, "StringList where one word" },
	{ __LINE__, "exec -a {{a}} true", 1, "StringList where one word" },
	{ __LINE__, "sudo -Hu nobody sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "sudo --user root sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "chroot / sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "setpriv --reuid 65534 sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "stdbuf --output 0 sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "ionice --class 3 sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "exec -a name sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "jobs -x sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "time -f %e sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "true | time -f %e sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "command time -f %e sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "X=1 time -f %e sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "X=1 case a in b\nsh -c {{a}}", 0, "shell code" },
	{ __LINE__, "2>/dev/null case a in b\nsh -c {{a}}", 0, "shell code" },
	{ __LINE__, "{fd}>/dev/null sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "a[\"0\"]=x sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "a['0']=x sh -c {{a}}", 0, "shell code" },
	{ __LINE__, "/bin/da[s]h -c {{a}}", 0, "shell code" },
	{ __LINE__, "{eval,} {{a}}", 0, "shell code" },
	{ __LINE__, "[ {{a}} $9 {{b}} ]", 0, "shell code" },
	/* an expansion among a shell's operands may vanish: the value could become the code
	 * (fuzz_shctx: /bin/sh -c $case {{a}}printf) or the script */
	{ __LINE__, "/bin/sh -c $case {{a}}printf x", 0, "shell code" },
	{ __LINE__, "sh -c $x {{a}}", 0, "shell code" },
	{ __LINE__, "sh $x {{a}}", 0, "shell code" },
	{ __LINE__, "bash -c * {{a}}", 0, "shell code" },
	{ __LINE__, "printf {,} {{a}} {{b}} x", 0, "shell code" },
	{ __LINE__, "alias x=eval\nx {{a}}", 0, "not supported as a command" },
	{ __LINE__, "command eval {{a}}", 0, "not supported as a command" },
	{ __LINE__, "builtin alias x=y; x {{a}}", 0, "not supported as a command" },
	{ __LINE__, "sudo -s printf %s {{a}}", 0, "shell code" },
	{ __LINE__, "sh +e -c {{a}}", 0, "shell code" },
	{ __LINE__, "sh -s {{a}}", 0, "shell code" },
	{ __LINE__, "bash -O extglob -c {{a}}", 0, "shell code" },
	{ __LINE__, "ssh host ls {{a}}", 0, "shell code" },
	{ __LINE__, "~{{a}}/x", 0, "glued" },
	{ __LINE__, "nice -n 5 {{a}}", 1, "StringList as the command" },
	{ __LINE__, "env {{a}}", 1, "StringList as the command" },
	{ __LINE__, "{{a}}", 1, "StringList as the command" },
	{ __LINE__, "./deploy.sh {{a}}", 0, NULL },
	{ __LINE__, "/opt/x/backup.sh {{a}} {{b}}", 0, NULL },
	{ __LINE__, "sh ./backup.sh {{a}}", 0, NULL },
	{ __LINE__, "bash -e ./backup.sh {{a}}", 0, NULL },
	{ __LINE__, "cat ~/x/{{a}}", 0, NULL },
	{ __LINE__, "tail -n {{a}} ~/logs/{{b}}.log", 0, NULL },
	{ __LINE__, "sudo -u {{a}} /opt/app/deploy.sh {{b}}", 0, NULL },
	{ __LINE__, "sudo -n -u {{a}} printf '[%s]\\n' {{b}}", 0, NULL },
	{ __LINE__, "time -p printf '[%s]\\n' {{a}}", 0, NULL },
	/* templates sh cannot parse */
	{ __LINE__, "echo \"unterminated {{a}}", 0, "inside double quotes" },
	{ __LINE__, "echo {{a}} 'x", 0, "ends inside single quotes" },
	{ __LINE__, "echo {{a}} $(echo x", 0, "command substitution" },
	{ __LINE__, "echo {{a}}; cat <<", 0, "without a delimiter" },
	{ __LINE__, "echo 'no parameters, so not checked", 0, NULL },
	/* accepted: each value must reach sh as one literal argument */
	{ __LINE__, "printf '[%s]\\n' {{a}}", 0, NULL },
	{ __LINE__, "printf '[%s]\\n' {{a}}", 1, NULL },
	{ __LINE__, "printf '[%s]\\n' {{a}} {{b}}", 0, NULL },
	{ __LINE__, "printf '[%s]\\n' --opt={{a}}", 0, NULL },
	{ __LINE__, "printf '[%s]\\n' x{{a}}y:{{b}}", 0, NULL },
	{ __LINE__, "printf '[%s]\\n' {{a}}{{b}}", 0, NULL },
	{ __LINE__, "printf '[%s]\\n' {{a}};printf '<%s>\\n' {{b}}", 0, NULL },
	{ __LINE__, "export X={{a}}; printf '[%s]\\n' \"$X\"", 0, "shell code" },
	{ __LINE__, "X=x; printf '[%s]\\n' \"$X\" {{a}}", 0, NULL },
	{ __LINE__, "case {{a}} in *) printf '[%s]\\n' {{b}};; esac", 0, NULL },
	{ __LINE__, "for i in {{a}}; do printf '[%s]\\n' \"$i\"; done", 1, NULL },
	{ __LINE__, "if true; then printf '[%s]\\n' {{a}}; fi", 0, NULL },
	{ __LINE__, "printf '[%s]\\n' {{a}} 2>/dev/null", 0, NULL },
	{ __LINE__, "cat <<EOF\n{{x}} is text here\nEOF\nprintf '[%s]\\n' {{a}}", 0, "here-document" },
	{ __LINE__, "cat <<EOF\nplain text\nEOF\nprintf '[%s]\\n' {{a}}", 0, NULL },
	{ __LINE__, "cat <<-'E'\n\tx\n\tE\nprintf '[%s]\\n' {{a}}", 0, NULL },
	{ __LINE__, "x=$(printf y); printf '[%s]\\n' \"$x\" {{a}}", 0, "command substitution" },
	{ __LINE__, "printf '[%s]\\n' {{a}} # a comment", 0, NULL },
	{ __LINE__, "printf '[%s]\\n' {{a}} \\\n {{b}}", 0, "line continuation" },
	{ __LINE__, "/bin/sh -c 'printf \"[%s]\\n\" \"$1\"' sh {{a}}", 0, NULL }, /* $1 of -c's code */
	{ __LINE__, "f() { printf '[%s]\\n' \"$@\"; }; f {{a}} {{b}}", 0, NULL },
	{ __LINE__, "printf '[%s]\\n' {{a}} | { read -r l; printf '<%s>\\n' \"$l\"; }", 0, NULL },
};

static struct ssm_document *ctx_doc(const char *tmpl, int list, char *err, size_t errlen)
{
	cJSON *d = cJSON_CreateObject(), *params, *a, *b, *x, *props, *lx;
	struct ssm_document *doc = NULL;
	char *json;

	cJSON_AddStringToObject(d, "schemaVersion", "1.0");
	cJSON_AddStringToObject(d, "sessionType", "NonInteractiveCommands");
	params = cJSON_AddObjectToObject(d, "parameters");
	a = cJSON_AddObjectToObject(params, "a");
	cJSON_AddStringToObject(a, "type", list ? "StringList" : "String");
	b = cJSON_AddObjectToObject(params, "b");
	cJSON_AddStringToObject(b, "type", "String");
	x = cJSON_AddObjectToObject(params, "x");
	cJSON_AddStringToObject(x, "type", "String");
	cJSON_AddStringToObject(x, "default", "X");
	props = cJSON_AddObjectToObject(d, "properties");
	lx = cJSON_AddObjectToObject(props, "linux");
	cJSON_AddStringToObject(lx, "commands", tmpl);
	json = cJSON_PrintUnformatted(d);
	cJSON_Delete(d);
	if (json == NULL)
		return NULL;
	if (ssm_document_parse(json, strlen(json), "Ctx-Doc", &doc, err, errlen) != 0)
		doc = NULL;
	free(json);
	return doc;
}

static void test_contexts(void)
{
	size_t i, k, nh = sizeof(hostile) / sizeof(hostile[0]);
	int ran = 0;

	for (i = 0; i < sizeof(ctx_rows) / sizeof(ctx_rows[0]); i++) {
		const struct ctx_row *row = &ctx_rows[i];
		char err[1024] = "";
		struct ssm_document *d = ctx_doc(row->tmpl, row->list, err, sizeof(err));

		if (row->errpart) {
			CHECK_ROW(row->line, d == NULL && strstr(err, row->errpart) != NULL,
				  "want refusal with '%s', got %s", row->errpart,
				  d ? "accepted" : err);
			ssm_document_free(d);
			continue;
		}
		CHECK_ROW(row->line, d != NULL, "refused: %s", err);
		if (d == NULL)
			continue;
		for (k = 0; k < nh; k++) {
			cJSON *p = cJSON_CreateObject(), *la = cJSON_CreateArray();
			char why[1024];
			int r;

			cJSON_AddItemToArray(la, cJSON_CreateString(hostile[k].value));
			if (row->list)
				cJSON_AddItemToArray(la, cJSON_CreateString(hostile[(k + 3) % nh].value));
			cJSON_AddItemToObject(p, "a", la);
			la = cJSON_AddArrayToObject(p, "b");
			cJSON_AddItemToArray(la, cJSON_CreateString(hostile[(k + 7) % nh].value));
			r = oracle_check(d, p, 0, why, sizeof(why));
			CHECK_ROW(row->line, r >= 0, "value row %d: %s", hostile[k].line, why);
			ran += r > 0;
			cJSON_Delete(p);
		}
		ssm_document_free(d);
	}
	CHECK(ran > 0, "the real sh ran no accepted template");
}

/* The oracle itself: templates the parser refuses, slipped past it, must be caught. */
static void test_oracle_catches(void)
{
	static const struct {
		int line;
		const char *tmpl;
		const char *value;
	} rows[] = {
		{ __LINE__, "printf '[%s]\\n' \"{{a}}\"", "$(printf INJECTED)" },
		{ __LINE__, "printf '[%s]\\n' \"m: {{a}}\"", "'$(printf INJECTED)'" },
		{ __LINE__, "printf '[%s]\\n' x{{a}}*", "" }, /* x* matches the files xa, xb */
		{ __LINE__, "printf '[%s]\\n' $(printf '%s' {{a}})", "a b" },
		{ __LINE__, "eval printf \"'[%s]\\n'\" {{a}}", "x; printf INJECTED" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[512], why[1024];
		struct ssm_document *d = ctx_doc("printf '[%s]\\n' {{a}}", 0, err, sizeof(err));
		cJSON *p = cJSON_CreateObject(), *la = cJSON_AddArrayToObject(p, "a");
		int r;

		cJSON_AddItemToArray(la, cJSON_CreateString(rows[i].value));
		la = cJSON_AddArrayToObject(p, "b");
		cJSON_AddItemToArray(la, cJSON_CreateString("b"));
		CHECK_ROW(rows[i].line, d != NULL, "%s", err);
		if (d) {
			free(d->commands);
			d->commands = strdup(rows[i].tmpl);
			r = oracle_check(d, p, 0, why, sizeof(why));
			CHECK_ROW(rows[i].line, r == -1, "the oracle missed it (%d)", r);
		}
		ssm_document_free(d);
		cJSON_Delete(p);
	}
}

/* command_line_parameters: the administrator's opt-in to AWS's whole-command-line parameter */
static void test_command_line(void)
{
	static const struct {
		int line;
		const char *type;
		const char *tmpl;
		const char *names; /* JSON array */
		const char *errpart;
		const char *value, *want; /* render of a = value */
	} rows[] = {
		{ __LINE__, "InteractiveCommands", "{{a}}", "[\"a\"]", NULL, "echo x; echo y", "echo x; echo y" },
		{ __LINE__, "NonInteractiveCommands", "cd /tmp && {{a}}", "[\"a\"]", NULL, "ls -l", "cd /tmp && ls -l" },
		{ __LINE__, "NonInteractiveCommands", "{{a}} && echo {{b}}", "[\"a\"]", NULL, "ls -l", "ls -l && echo 'B'" },
		{ __LINE__, "InteractiveCommands", "{{a}}", "[]", NULL, "echo x", "'echo x'" },
		{ __LINE__, "InteractiveCommands", "{{a}}", "[\"nope\"]", "not a parameter", NULL, NULL },
		{ __LINE__, "InteractiveCommands", "x{{a}}", "[\"a\"]", "word of its own", NULL, NULL },
		{ __LINE__, "InteractiveCommands", "echo --x={{a}}", "[\"a\"]", "word of its own", NULL, NULL },
		{ __LINE__, "InteractiveCommands", "{{a}} && x{{a}}", "[\"a\"]", "word of its own", NULL, NULL },
		{ __LINE__, "InteractiveCommands", "echo {{l}}", "[\"l\"]", "StringList", NULL, NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char json[1024], err[512] = "", *out = NULL;
		struct ssm_document *d = NULL;
		cJSON *names = cJSON_Parse(rows[i].names), *p;
		int r;

		snprintf(json, sizeof(json),
			 "{\"schemaVersion\": \"1.0\", \"sessionType\": \"%s\", \"parameters\": "
			 "{\"a\": {\"type\": \"String\"}, \"b\": {\"type\": \"String\", \"default\": "
			 "\"B\"}, \"l\": {\"type\": \"StringList\", \"default\": [\"l\"]}}, "
			 "\"properties\": {\"linux\": {\"commands\": \"%s\"}}}", rows[i].type, rows[i].tmpl);
		r = ssm_document_parse(json, strlen(json), NULL, &d, err, sizeof(err));
		CHECK_ROW(rows[i].line, r == 0, "parse: %s", err);
		if (r == 0)
			r = ssm_document_set_command_line(d, names, err, sizeof(err));
		if (rows[i].errpart) {
			CHECK_ROW(rows[i].line, r < 0 && strstr(err, rows[i].errpart), "want '%s': %d %s",
				  rows[i].errpart, r, err);
		} else {
			CHECK_ROW(rows[i].line, r == 0, "set: %s", err);
			p = params1("a", rows[i].value);
			r = ssm_document_render(d, d->commands, p, &out, err, sizeof(err));
			CHECK_ROW(rows[i].line, r == 0 && out && strcmp(out, rows[i].want) == 0,
				  "render: %d %s [%s]", r, err, out ? out : "");
			free(out);
			out = NULL;
			/* still checked: a control character is refused */
			cJSON_Delete(p);
			p = params1("a", "echo x\necho y");
			r = ssm_document_render(d, d->commands, p, &out, err, sizeof(err));
			CHECK_ROW(rows[i].line, r < 0 && out == NULL, "a newline passed");
			cJSON_Delete(p);
		}
		ssm_document_free(d);
		cJSON_Delete(names);
	}
	{ /* only for command documents */
		struct ssm_document *d = NULL;
		char err[256];
		cJSON *names = cJSON_Parse("[\"a\"]");
		const char *std = "{\"schemaVersion\": \"1.0\", \"sessionType\": \"Standard_Stream\"}";

		CHECK(ssm_document_parse(std, strlen(std), NULL, &d, err, sizeof(err)) == 0, "%s", err);
		CHECK(d && ssm_document_set_command_line(d, names, err, sizeof(err)) < 0 &&
		      strstr(err, "only"), "Standard_Stream accepted a command-line parameter");
		ssm_document_free(d);
		cJSON_Delete(names);
	}
}

int main(void)
{
	test_parse_rows();
	test_inputs();
	test_render_hostile();
	test_contexts();
	test_oracle_catches();
	test_command_line();
	test_render_refused();
	test_render_rows();
	test_port();
	test_warnings();
	test_shquote();
	test_load();
	return check_done("document");
}
