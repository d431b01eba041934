/* test_enroll.c - registration messages and broker URLs (lib/enroll.c), row by row. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "ec2id.h"
#include "enroll.h"

#define CSR "-----BEGIN CERTIFICATE REQUEST-----\\nMIIB\\n-----END CERTIFICATE REQUEST-----\\n"
#define CERT "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"
#define NONCE "abcdefghijklmnopqrstuvwxyz012345_-"
#define JWKS                                                                               \
	"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k1\","                    \
	"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}"

static const struct {
	int line;
	const char *json;
	int expect;
} requests[] = {
	{ __LINE__, "{\"activation_id\":\"a1b2-c3\",\"activation_code\":\"Zx_9-q\",\"csr\":\"" CSR "\"}", 0 },
	/* members missing, unknown, duplicated or of the wrong type */
	{ __LINE__, "{\"activation_code\":\"c\",\"csr\":\"" CSR "\"}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"a\",\"csr\":\"" CSR "\"}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_code\":\"c\"}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_code\":\"c\",\"csr\":\"" CSR "\",\"host_id\":\"mi-00000000000000000\"}", -EINVAL }, /* a host choosing its own id */
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_id\":\"b\",\"activation_code\":\"c\",\"csr\":\"" CSR "\"}", -EINVAL }, /* duplicate: which one is checked? */
	{ __LINE__, "{\"activation_id\":1,\"activation_code\":\"c\",\"csr\":\"" CSR "\"}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_code\":[\"c\"],\"csr\":\"" CSR "\"}", -EINVAL },
	/* characters outside the id and code sets: SQL or log injection */
	{ __LINE__, "{\"activation_id\":\"a' OR 1=1--\",\"activation_code\":\"c\",\"csr\":\"" CSR "\"}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_code\":\"c\\n\",\"csr\":\"" CSR "\"}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"\",\"activation_code\":\"c\",\"csr\":\"" CSR "\"}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_code\":\"\",\"csr\":\"" CSR "\"}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"a\\u0000b\",\"activation_code\":\"c\",\"csr\":\"" CSR "\"}", -EINVAL }, /* NUL cuts the id */
	/* the CSR is not a PEM certificate request */
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_code\":\"c\",\"csr\":\"" CERT "\"}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_code\":\"c\",\"csr\":\"MIIB\"}", -EINVAL },
	/* not one object */
	{ __LINE__, "[]", -EINVAL },
	{ __LINE__, "", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_code\":\"c\",\"csr\":\"" CSR "\"} {}", -EINVAL },
	{ __LINE__, "{\"activation_id\":\"\xc3\x28\",\"activation_code\":\"c\",\"csr\":\"" CSR "\"}", -EINVAL },
	/* the EC2 form: document, signature, nonce, CSR; nothing of an activation with it */
	{ __LINE__, "{\"ec2_document\":\"{}\",\"ec2_signature\":\"QUJD\\nREVG\",\"ec2_nonce\":\"" NONCE "\",\"csr\":\"" CSR "\"}", 0 },
	{ __LINE__, "{\"ec2_document\":\"{}\",\"ec2_signature\":\"QUJD\",\"ec2_nonce\":\"" NONCE "\",\"csr\":\"" CSR "\",\"activation_id\":\"a\"}", -EINVAL }, /* both ways at once */
	{ __LINE__, "{\"activation_id\":\"a\",\"activation_code\":\"c\",\"csr\":\"" CSR "\",\"ec2_signature\":\"QUJD\"}", -EINVAL }, /* half of each */
	{ __LINE__, "{\"ec2_document\":\"{}\",\"ec2_signature\":\"QUJD\",\"csr\":\"" CSR "\"}", -EINVAL }, /* no nonce */
	{ __LINE__, "{\"ec2_document\":\"{}\",\"ec2_signature\":\"QUJD\",\"ec2_nonce\":\"" NONCE "\"}", -EINVAL }, /* no CSR */
	{ __LINE__, "{\"ec2_document\":\"{}\",\"ec2_nonce\":\"" NONCE "\",\"csr\":\"" CSR "\"}", -EINVAL }, /* no signature */
	{ __LINE__, "{\"ec2_document\":\"{}\",\"ec2_signature\":\"QUJD\",\"ec2_nonce\":\"short\",\"csr\":\"" CSR "\"}", -EINVAL }, /* a guessable nonce */
	{ __LINE__, "{\"ec2_document\":\"{}\",\"ec2_signature\":\"QUJD\",\"ec2_nonce\":\"" NONCE "!\",\"csr\":\"" CSR "\"}", -EINVAL },
	{ __LINE__, "{\"ec2_document\":\"{}\",\"ec2_signature\":\"QU\\tJD\",\"ec2_nonce\":\"" NONCE "\",\"csr\":\"" CSR "\"}", -EINVAL }, /* a tab in the signature */
	{ __LINE__, "{\"ec2_document\":\"\",\"ec2_signature\":\"QUJD\",\"ec2_nonce\":\"" NONCE "\",\"csr\":\"" CSR "\"}", -EINVAL }, /* an empty document */
	{ __LINE__, "{\"ec2_document\":{},\"ec2_signature\":\"QUJD\",\"ec2_nonce\":\"" NONCE "\",\"csr\":\"" CSR "\"}", -EINVAL }, /* an object, not its bytes */
};

static const struct {
	int line;
	const char *json;
	int expect;
} responses[] = {
	{ __LINE__, "{\"host_id\":\"mi-0123456789abcdef0\",\"certificate\":\"" CERT "\",\"ca\":\"" CERT "\",\"jwks\":" JWKS ",\"issuer\":\"urn:x\",\"tags\":{\"Env\":\"Prod\"}}", 0 },
	{ __LINE__, "{\"host_id\":\"mi-0123456789abcdef0\",\"certificate\":\"" CERT "\",\"ca\":\"" CERT "\",\"jwks\":" JWKS ",\"issuer\":\"urn:x\"}", 0 },
	/* a broker naming a host id outside mi- and 17 lowercase hex (a path in the config) */
	{ __LINE__, "{\"host_id\":\"../../etc\",\"certificate\":\"" CERT "\",\"ca\":\"" CERT "\",\"jwks\":" JWKS ",\"issuer\":\"urn:x\"}", -EINVAL },
	{ __LINE__, "{\"host_id\":\"mi-0123456789abcdef0\",\"certificate\":\"x\",\"ca\":\"" CERT "\",\"jwks\":" JWKS ",\"issuer\":\"urn:x\"}", -EINVAL },
	{ __LINE__, "{\"host_id\":\"mi-0123456789abcdef0\",\"certificate\":\"" CERT "\",\"ca\":\"" CERT "\",\"jwks\":\"" "x" "\",\"issuer\":\"urn:x\"}", -EINVAL },
	{ __LINE__, "{\"host_id\":\"mi-0123456789abcdef0\",\"certificate\":\"" CERT "\",\"ca\":\"" CERT "\",\"jwks\":" JWKS ",\"issuer\":\"a\\nb\"}", -EINVAL },
	{ __LINE__, "{\"host_id\":\"mi-0123456789abcdef0\",\"certificate\":\"" CERT "\",\"ca\":\"" CERT "\",\"jwks\":" JWKS ",\"issuer\":\"urn:x\",\"tags\":{\"Env\":1}}", -EINVAL },
	{ __LINE__, "{\"host_id\":\"mi-0123456789abcdef0\",\"certificate\":\"" CERT "\",\"ca\":\"" CERT "\",\"jwks\":" JWKS ",\"issuer\":\"urn:x\",\"extra\":1}", -EINVAL },
	{ __LINE__, "{\"error\":\"activation expired\"}", -EINVAL },
};

static const struct {
	int line;
	const char *url, *host;
	int port, expect;
} urls[] = {
	{ __LINE__, "https://broker.example.com", "broker.example.com", 443, 0 },
	{ __LINE__, "https://broker.example.com:8443/", "broker.example.com", 8443, 0 },
	{ __LINE__, "wss://10.0.0.1:9", "10.0.0.1", 9, 0 },
	{ __LINE__, "https://[::1]:8443", "::1", 8443, 0 },
	{ __LINE__, "http://broker", NULL, 0, -EINVAL },          /* no TLS */
	{ __LINE__, "https://user@broker", NULL, 0, -EINVAL },    /* user info */
	{ __LINE__, "https://broker/v1", NULL, 0, -EINVAL },      /* a path: where would it go? */
	{ __LINE__, "https://broker?x", NULL, 0, -EINVAL },
	{ __LINE__, "https://broker:0", NULL, 0, -EINVAL },
	{ __LINE__, "https://broker:65536", NULL, 0, -EINVAL },
	{ __LINE__, "https://broker:", NULL, 0, -EINVAL },
	{ __LINE__, "https://broker:+1", NULL, 0, -EINVAL },
	{ __LINE__, "https://broker:0000443", NULL, 0, -EINVAL },
	{ __LINE__, "https://", NULL, 0, -EINVAL },
	{ __LINE__, "https://-broker", NULL, 0, -EINVAL },        /* an option to a tool */
	{ __LINE__, "https://[::1", NULL, 0, -EINVAL },
	{ __LINE__, "https://[broker]", NULL, 0, -EINVAL },
	{ __LINE__, "https://bro ker", NULL, 0, -EINVAL },
};

int main(void)
{
	char err[256], host[256];
	size_t i;

	for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		struct ssm_enroll_request *req = (void *)1;
		int r = ssm_enroll_request_parse(requests[i].json, strlen(requests[i].json), &req,
						 err, sizeof(err));
		CHECK_ROW(requests[i].line, r == requests[i].expect, "request: %d (%s)", r, err);
		CHECK_ROW(requests[i].line, (r == 0) == (req != NULL), "request result set");
		if (r == 0 && req->ec2_document != NULL) {
			CHECK_ROW(requests[i].line, req->activation_id == NULL &&
							    req->activation_code == NULL &&
							    strcmp(req->ec2_document, "{}") == 0 &&
							    strcmp(req->ec2_signature, "QUJD\nREVG") == 0 &&
							    strcmp(req->ec2_nonce, NONCE) == 0,
				  "ec2 request values");
		} else if (r == 0) {
			CHECK_ROW(requests[i].line, strcmp(req->activation_id, "a1b2-c3") == 0 &&
							    strcmp(req->activation_code, "Zx_9-q") == 0 &&
							    strncmp(req->csr, "-----BEGIN", 10) == 0,
				  "request values");
		}
		ssm_enroll_request_free(req == (void *)1 ? NULL : req);
	}
	for (i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
		struct ssm_enroll_response *resp = (void *)1;
		int r = ssm_enroll_response_parse(responses[i].json, strlen(responses[i].json), &resp,
						  err, sizeof(err));
		CHECK_ROW(responses[i].line, r == responses[i].expect, "response: %d (%s)", r, err);
		if (r == 0)
			CHECK_ROW(responses[i].line, resp->tags != NULL && resp->jwks != NULL &&
							     strcmp(resp->host_id, "mi-0123456789abcdef0") == 0,
				  "response values");
		ssm_enroll_response_free(resp == (void *)1 ? NULL : resp);
	}
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		int port = -1;
		int r = ssm_enroll_url_parse(urls[i].url, host, sizeof(host), &port);
		CHECK_ROW(urls[i].line, r == urls[i].expect, "url %s: %d", urls[i].url, r);
		if (r == 0)
			CHECK_ROW(urls[i].line, strcmp(host, urls[i].host) == 0 && port == urls[i].port,
				  "url %s: %s %d", urls[i].url, host, port);
	}
	/* build and parse back */
	{
		char *s = ssm_enroll_request_build("id-1", "code_2", "-----BEGIN CERTIFICATE REQUEST-----\nx\n");
		struct ssm_enroll_request *req = NULL;
		CHECK(s && ssm_enroll_request_parse(s, strlen(s), &req, err, sizeof(err)) == 0,
		      "round trip: %s", err);
		CHECK(req && strcmp(req->activation_code, "code_2") == 0, "round trip code");
		ssm_enroll_request_free(req);
		free(s);
	}
	{
		int port;
		CHECK(ssm_enroll_url_parse("https://broker", host, 4, &port) == -EINVAL,
		      "host buffer too small");
	}
	/* the EC2 form: built and parsed back; a document over SSM_EC2ID_DOC_MAX refused */
	{
		char *doc = malloc(SSM_EC2ID_DOC_MAX + 2), *b;
		struct ssm_enroll_request *req = NULL;
		memset(doc, 'x', SSM_EC2ID_DOC_MAX);
		doc[SSM_EC2ID_DOC_MAX] = '\0';
		b = ssm_enroll_request_build_ec2(doc, "QUJD\n", NONCE, "-----BEGIN CERTIFICATE REQUEST-----\nx\n");
		CHECK(b && ssm_enroll_request_parse(b, strlen(b), &req, err, sizeof(err)) == 0 &&
			      strcmp(req->ec2_document, doc) == 0 && strcmp(req->ec2_nonce, NONCE) == 0,
		      "ec2 build and parse back: %s", err);
		ssm_enroll_request_free(req);
		req = NULL;
		free(b);
		strcat(doc, "x");
		b = ssm_enroll_request_build_ec2(doc, "QUJD", NONCE, "-----BEGIN CERTIFICATE REQUEST-----\nx\n");
		CHECK(b && ssm_enroll_request_parse(b, strlen(b), &req, err, sizeof(err)) == -EINVAL &&
			      req == NULL && strstr(err, "ec2_document") != NULL,
		      "an ec2 document of %d bytes refused: %s", SSM_EC2ID_DOC_MAX + 1, err);
		free(b);
		free(doc);
	}
	return check_done("test_enroll");
}
