/* fuzz_shctx.c - libFuzzer target for the shell context check of linux.commands
 * (lib/shctx.c): random templates built from shell fragments, random values; whenever the
 * document parser accepts a template, a real /bin/sh (sandboxed, tests/sh_oracle.h) must
 * show every value as exactly one literal argument, or the target aborts.
 *
 * Input: template fragment choices up to the first NUL byte (one byte each), then the
 * values of a, b and the two elements of the StringList l, separated by NUL bytes, each
 * byte mapped onto an alphabet of shell metacharacters and letters.  No pipe fragment: the
 * order in which two processes of a pipeline write to stderr is not deterministic. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "document.h"
#include "json.h"
#include "shctx.h"
#include "../sh_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const frags[] = {
	"printf '[%s]\\n' ", "{{a}}", "{{b}}", "{{l}}", " ", "'", "\"", "`", "$(", ")", "$((",
	"${", "}", "{", "#", "\n", "\\", ";", "&&", "||", "=", "X=", "x", "-", "--o=",
	"eval ", "sh -c ", "/bin/sh -c ", ":", "<<E\n", "E\n", "<<'E'\n", "<<-E\n", "\tE\n",
	"$x", "*", "~", "(", "case ", " in ", "*) ", ";;", " esac", "for i in ",
	"; do printf '[%s]\\n' \"$i\"; done", "echo ", "$'", "export X=", "\"$X\"", "$",
	"f() { ", " }", "if true; then ", "; fi", "?", "[", "]", ",", ".", "/", "%", "!",
	"2>/dev/null ", "let ", "trap ", "sudo ", "env ", "-c ", "x{{a}}", "true ", "((", "))",
	"read -r v; ", "set -- ", "\"$@\" ", "printf '<%s>' ", "cat <<E\n", "{{ a }}", "{{b}}{{a}}",
	/* what the second review used: continuations, $" and $\, many here-documents, bash */
	"\\\n", "$\"", "$\\", "<<A ", "<<B ", "A\n", "B\n", "<(", ">(", "[[ ", " ]]",
	"test -v ", "[ ", " ]", "read ", "time -p ", "x+=", "a[0]=", "export ", "coproc ",
	"env -S ", "printf -v ", "-eq ", "${x:-", "$\"x\"", "\\{{a}}",
};

static const char alphabet[] = "'\"\\$`;|&<>(){}[]*?~#!= \t-/abcxE%.,:^@+";

static char *value_of(const uint8_t **p, const uint8_t *end)
{
	size_t n = 0;
	char *v = malloc(65);

	while (v && *p < end && **p != 0 && n < 64) {
		v[n++] = alphabet[**p % (sizeof(alphabet) - 1)];
		(*p)++;
	}
	while (*p < end && **p != 0)
		(*p)++;
	if (*p < end)
		(*p)++;
	if (v)
		v[n] = '\0';
	return v;
}

static int sandbox_checked, sandbox_ok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char tmpl[2048], err[1024], why[1024], *va, *vb, *vl1, *vl2, *json;
	size_t n = 0;
	struct ssm_document *doc = NULL;
	cJSON *d, *params, *o, *props, *lx, *vals, *arr;

	if (!sandbox_checked) {
		char *out;
		size_t len;
		int st;
		struct rlimit rl = { 256, 256 };

		sandbox_checked = 1;
		sandbox_ok = oracle_run("printf ok", 1, &out, &len, &st) == 1 && st == 0;
		free(out);
		(void)setrlimit(RLIMIT_NPROC, &rl); /* no fork bomb from a fragment soup */
	}
	tmpl[0] = '\0';
	while (p < end && *p != 0) {
		const char *f = frags[*p % (sizeof(frags) / sizeof(frags[0]))];
		size_t fl = strlen(f);

		if (n + fl + 1 >= sizeof(tmpl))
			break;
		memcpy(tmpl + n, f, fl + 1);
		n += fl;
		p++;
	}
	while (p < end && *p != 0)
		p++;
	if (p < end)
		p++;
	if (n == 0)
		return 0;
	va = value_of(&p, end);
	vb = value_of(&p, end);
	vl1 = value_of(&p, end);
	vl2 = value_of(&p, end);

	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "schemaVersion", "1.0");
	cJSON_AddStringToObject(d, "sessionType", "NonInteractiveCommands");
	params = cJSON_AddObjectToObject(d, "parameters");
	o = cJSON_AddObjectToObject(params, "a");
	cJSON_AddStringToObject(o, "type", "String");
	o = cJSON_AddObjectToObject(params, "b");
	cJSON_AddStringToObject(o, "type", "String");
	o = cJSON_AddObjectToObject(params, "l");
	cJSON_AddStringToObject(o, "type", "StringList");
	props = cJSON_AddObjectToObject(d, "properties");
	lx = cJSON_AddObjectToObject(props, "linux");
	cJSON_AddStringToObject(lx, "commands", tmpl);
	json = cJSON_PrintUnformatted(d);
	cJSON_Delete(d);

	vals = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(vals, "a");
	cJSON_AddItemToArray(arr, cJSON_CreateString(va ? va : ""));
	arr = cJSON_AddArrayToObject(vals, "b");
	cJSON_AddItemToArray(arr, cJSON_CreateString(vb ? vb : ""));
	arr = cJSON_AddArrayToObject(vals, "l");
	cJSON_AddItemToArray(arr, cJSON_CreateString(vl1 ? vl1 : ""));
	cJSON_AddItemToArray(arr, cJSON_CreateString(vl2 ? vl2 : ""));

	if (json && ssm_document_parse(json, strlen(json), "Fuzz-Doc", &doc, err, sizeof(err)) == 0 &&
	    sandbox_ok) {
		if (oracle_check(doc, vals, 1, why, sizeof(why)) < 0) {
			fprintf(stderr, "template accepted but a value is not one literal argument:\n"
			                "%s\n%s\n", tmpl, why);
			abort();
		}
	}
	ssm_document_free(doc);
	cJSON_Delete(vals);
	free(json);
	free(va);
	free(vb);
	free(vl1);
	free(vl2);
	return 0;
}
