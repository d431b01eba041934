/* fuzz_start_session.c - libFuzzer target for the POST /v1/sessions body parser
 * (lib/session_req.c), what any user holding a credential may send the broker.
 *
 * Properties checked on accepted requests: Target a managed instance id, DocumentName a
 * valid document name, Parameters absent or passing ssm_session_params_check, Reason at most
 * 256 bytes; on refusal a one-line message and nothing left allocated. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ca.h"
#include "document.h"
#include "session_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssm_start_session_request req;
	char err[256];

	if (ssm_start_session_request_parse((const char *)data, size, &req, err, sizeof(err)) !=
	    0) {
		if (err[0] == '\0' || strchr(err, '\n') != NULL || req.parameters != NULL)
			abort();
		return 0;
	}
	if (!ssm_ca_host_id_valid(req.target) || !ssm_document_name_valid(req.document) ||
	    strlen(req.reason) > SSM_SESSION_REASON_MAX)
		abort();
	if (req.parameters != NULL && ssm_session_params_check(req.parameters, err, sizeof(err)))
		abort();
	ssm_start_session_request_clear(&req);
	return 0;
}
