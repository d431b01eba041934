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
#include "ca.h"
#include "ec2id.h"
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
		int ec2 = req->ec2_document != NULL;
		/* exactly one way in: an activation or an EC2 identity */
		if (ec2 ? (req->activation_id || req->activation_code || !req->ec2_signature ||
			   !ssm_enroll_nonce_valid(req->ec2_nonce) ||
			   strlen(req->ec2_document) > SSM_EC2ID_DOC_MAX ||
			   strlen(req->ec2_signature) > SSM_EC2ID_SIG_MAX)
			: (req->ec2_signature || req->ec2_nonce ||
			   !ssm_enroll_id_valid(req->activation_id) ||
			   !ssm_enroll_code_valid(req->activation_code)) ||
		    strncmp(req->csr, "-----BEGIN CERTIFICATE REQUEST-----", 35) != 0 ||
		    strlen(req->csr) > SSM_ENROLL_CSR_MAX)
			abort();
		s = ec2 ? ssm_enroll_request_build_ec2(req->ec2_document, req->ec2_signature,
						       req->ec2_nonce, req->csr)
			: ssm_enroll_request_build(req->activation_id, req->activation_code, req->csr);
		if (s == NULL || ssm_enroll_request_parse(s, strlen(s), &again, err, sizeof(err)) != 0 ||
		    strcmp(again->csr, req->csr) != 0 ||
		    (ec2 ? strcmp(again->ec2_document, req->ec2_document) != 0 ||
			       strcmp(again->ec2_signature, req->ec2_signature) != 0 ||
			       strcmp(again->ec2_nonce, req->ec2_nonce) != 0
			 : strcmp(again->activation_id, req->activation_id) != 0 ||
			       strcmp(again->activation_code, req->activation_code) != 0))
			abort();
		free(s);
		ssm_enroll_request_free(again);
		ssm_enroll_request_free(req);
	}
	if (ssm_enroll_response_parse((const char *)data, size, &resp, err, sizeof(err)) != 0) {
		if (resp != NULL)
			abort();
	} else {
		if (resp->host_id == NULL || !ssm_ca_host_id_valid(resp->host_id) || resp->tags == NULL ||
		    !ssm_enroll_tags_valid(resp->tags))
			abort();
		ssm_enroll_response_free(resp);
	}
	return 0;
}
