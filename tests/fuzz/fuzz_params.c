/* fuzz_params.c - libFuzzer target for the ssm client's --parameters parser
 * (lib/cliparams.c: AWS CLI JSON and shorthand), what a user types on a command line.
 *
 * Properties checked on accepted input: the result is an object of name -> array of strings
 * that passes the broker's own shape check (ssm_session_params_check); its JSON text,
 * parsed again as --parameters, gives the same object (JSON form round trip). */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cliparams.h"
#include "session_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *p = NULL, *q = NULL;
	char err[256], *text, *s1, *s2;

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ssm_cli_params_parse(text, &p, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || p != NULL || strchr(err, '\n') != NULL)
			abort();
		free(text);
		return 0;
	}
	if (ssm_session_params_check(p, err, sizeof(err)) != 0)
		abort();
	s1 = cJSON_PrintUnformatted(p);
	if (s1 == NULL)
		abort();
	if (ssm_cli_params_parse(s1, &q, err, sizeof(err)) != 0)
		abort();
	s2 = cJSON_PrintUnformatted(q);
	if (s2 == NULL || strcmp(s1, s2) != 0)
		abort();
	free(s1);
	free(s2);
	cJSON_Delete(p);
	cJSON_Delete(q);
	free(text);
	return 0;
}
