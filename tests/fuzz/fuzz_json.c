/* fuzz_json.c - libFuzzer target for the strict JSON front end (lib/json.c).
 *
 * Besides crashes and sanitizer reports, it checks properties: whatever is accepted is a
 * tree without duplicate names, and cJSON's own printing of it is accepted again. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void poke(const cJSON *item, int depth)
{
	const cJSON *c;
	const char *s;
	int64_t v;
	int b;

	if (depth > SSM_JSON_MAX_DEPTH + 1)
		abort(); /* the parser let something too deep through */
	(void)ssm_json_to_int64(item, &v);
	if (cJSON_IsObject(item)) {
		for (c = item->child; c != NULL; c = c->next) {
			/* every name must find exactly this member: no duplicates */
			if (c->string == NULL || ssm_json_member(item, c->string) != c)
				abort();
			(void)ssm_json_get_string(item, c->string, &s);
			(void)ssm_json_get_bool(item, c->string, &b);
			(void)ssm_json_get_int64(item, c->string, &v);
		}
	}
	for (c = item->child; c != NULL; c = c->next)
		poke(c, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *json = NULL, *again = NULL;
	char err[256];
	char *printed;

	if (ssm_json_parse((const char *)data, size, &json, err, sizeof(err)) != 0) {
		if (json != NULL)
			abort();
		return 0;
	}
	poke(json, 1);
	(void)ssm_json_check_text(json, err, sizeof(err));
	printed = cJSON_PrintUnformatted(json);
	if (printed != NULL) {
		if (ssm_json_parse(printed, strlen(printed), &again, err, sizeof(err)) != 0)
			abort(); /* accepted input, refused re-encoding: a parser differential */
		cJSON_Delete(again);
		free(printed);
	}
	cJSON_Delete(json);
	return 0;
}
