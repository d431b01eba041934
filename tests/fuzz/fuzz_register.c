/* fuzz_register.c - libFuzzer target for the registration request parser (lib/enroll.c),
 * the body of POST /v1/register that any network peer may send the broker.
 *
 * Properties checked on accepted requests: every member within its character set and
 * length, the CSR a PEM request; building the request again and parsing it gives the same
 * values.  The response parser (what ssmctl register reads from a broker) runs on the same
 * input. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "enroll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssm_enroll_request *req = (struct ssm_enroll_request *)1, *again = NULL;
	struct ssm_enroll_response *resp = (struct ssm_enroll_response *)1;
	char err[256];
	char *s;

	if (ssm_enroll_request_parse((const char *)data, size, &req, err, sizeof(err)) != 0) {
		if (req != NULL)
			abort();
	} else {
		if (!ssm_enroll_id_valid(req->activation_id) ||
		    !ssm_enroll_code_valid(req->activation_code) ||
		    strncmp(req->csr, "-----BEGIN CERTIFICATE REQUEST-----", 35) != 0 ||
		    strlen(req->csr) > SSM_ENROLL_CSR_MAX)
			abort();
		s = ssm_enroll_request_build(req->activation_id, req->activation_code, req->csr);
		if (s == NULL || ssm_enroll_request_parse(s, strlen(s), &again, err, sizeof(err)) != 0 ||
		    strcmp(again->activation_id, req->activation_id) != 0 ||
		    strcmp(again->activation_code, req->activation_code) != 0 ||
		    strcmp(again->csr, req->csr) != 0)
			abort();
		free(s);
		ssm_enroll_request_free(again);
		ssm_enroll_request_free(req);
	}
	if (ssm_enroll_response_parse((const char *)data, size, &resp, err, sizeof(err)) != 0) {
		if (resp != NULL)
			abort();
	} else {
		if (resp->host_id == NULL || strlen(resp->host_id) != 20 || resp->tags == NULL ||
		    !ssm_enroll_tags_valid(resp->tags))
			abort();
		ssm_enroll_response_free(resp);
	}
	return 0;
}
