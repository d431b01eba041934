/* fuzz_csr.c - libFuzzer target for the certificate request a registering host sends the
 * broker (lib/ca.c: ssm_ca_issue_host, the PEM CSR inside POST /v1/register), and for the
 * PEM certificate parser the registration answer goes through (ssm_ca_parse_cert).
 *
 * Properties: a certificate is issued only with a serial, and it parses back as one PEM
 * certificate; a refusal says why and issues nothing. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>
#include "ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ssm_ca *ca;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "", serial[SSM_CA_SERIAL_MAX] = "", *pem = NULL;
	X509 *cert = NULL;
	int r;

	if (ca == NULL && ssm_ca_create("fuzz CA", 1700000000, 30, &ca, err, sizeof(err)) != 0)
		abort();
	r = ssm_ca_issue_host(ca, (const char *)data, size, "mi-0123456789abcdef0", 1700000000, 30,
			      &pem, serial, err, sizeof(err));
	if (r == 0) {
		if (pem == NULL || serial[0] == '\0' || ssm_ca_parse_cert(pem, strlen(pem), &cert) != 0)
			abort();
		X509_free(cert);
		cert = NULL;
	} else if (pem != NULL || err[0] == '\0') {
		abort();
	}
	free(pem);
	if (ssm_ca_parse_cert((const char *)data, size, &cert) == 0)
		X509_free(cert);
	return 0;
}
