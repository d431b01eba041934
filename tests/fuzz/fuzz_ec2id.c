/* fuzz_ec2id.c - libFuzzer target for what a host not yet trusted sends the broker in the
 * EC2 form of POST /v1/register (lib/ec2id.c): the instance identity document and its
 * base64 PKCS#7 signature.
 *
 * Input: the document, a NUL byte, the signature (no NUL: the whole input is both).  The
 * signature is verified against one fixed self-signed certificate (made once with lib/ca.c),
 * which no input can have signed for: every verification must fail, and never crash or
 * leak.  Properties checked on accepted documents: the instance id is an EC2 id (and so a
 * host id), the account 12 digits, the region valid, the availability zone in it. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>
#include "ca.h"
#include "ec2id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static STACK_OF(X509) *trusted;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nul = memchr(data, '\0', size);
	size_t dlen = nul ? (size_t)(nul - (const char *)data) : size;
	const char *sig = nul ? nul + 1 : (const char *)data;
	size_t slen = nul ? size - dlen - 1 : size;
	struct ssm_ec2id_doc doc;
	char err[512];
	int r;

	if (trusted == NULL) {
		struct ssm_ca *ca = NULL;
		if (ssm_ca_create("fuzz signer", 1796000000, 30, &ca, err, sizeof(err)) < 0)
			abort();
		trusted = sk_X509_new_null();
		X509_up_ref(ssm_ca_cert(ca));
		sk_X509_push(trusted, ssm_ca_cert(ca));
		ssm_ca_free(ca);
	}
	r = ssm_ec2id_doc_parse((const char *)data, dlen, &doc, err, sizeof(err));
	if (r == 0) {
		size_t rl = strlen(doc.region);
		if (!ssm_ca_ec2_id_valid(doc.instance_id) || !ssm_ca_host_id_valid(doc.instance_id) ||
		    !ssm_ec2id_account_valid(doc.account_id) || !ssm_ec2id_region_valid(doc.region) ||
		    (doc.availability_zone[0] != '\0' &&
		     (strncmp(doc.availability_zone, doc.region, rl) != 0 ||
		      strlen(doc.availability_zone) > SSM_EC2ID_AZ_MAX ||
		      (strlen(doc.availability_zone) != rl + 1 &&
		       (doc.availability_zone[rl] != '-' ||
			strspn(doc.availability_zone + rl, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
				strlen(doc.availability_zone + rl))))))
			abort();
	} else if (doc.instance_id[0] != '\0') {
		abort();
	}
	/* the signature: never valid (nobody holds the key), whatever the bytes */
	r = ssm_ec2id_verify((const char *)data, dlen, sig, slen, trusted, err, sizeof(err));
	if (r == 0)
		abort();
	return 0;
}
