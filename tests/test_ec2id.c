/* test_ec2id.c - EC2 instance identity documents and their PKCS7 signatures (lib/ec2id.c),
 * row by row: what a host that is not yet trusted may send the broker at registration.
 * The signing certificates are made here (lib/ca.c, P-256) and the signatures with
 * OpenSSL's PKCS7_sign, as AWS's are: detached, over the document's bytes. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include "ca.h"
#include "check.h"
#include "ec2id.h"

#define NOW 1796000000

/* a document as AWS formats it; each bad row changes one thing */
#define DOC_HEAD "{\n  \"accountId\" : \"111122223333\",\n  \"architecture\" : \"x86_64\",\n"
#define DOC_AZ "  \"availabilityZone\" : \"eu-west-3a\",\n  \"billingProducts\" : null,\n"
#define DOC_IID "  \"instanceId\" : \"i-0123456789abcdef0\",\n"
#define DOC_TAIL "  \"pendingTime\" : \"2026-11-30T08:00:00Z\",\n  \"region\" : \"eu-west-3\",\n" \
		 "  \"version\" : \"2017-09-30\"\n}"
#define GOOD DOC_HEAD DOC_AZ DOC_IID DOC_TAIL

static const struct {
	int line;
	const char *doc;
	const char *want; /* NULL: accepted; else part of the error */
} docs[] = {
	{ __LINE__, GOOD, NULL },
	/* the short instance id; no availabilityZone (optional); members in any order */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"000000000001\",\"region\":"
		    "\"us-gov-west-1\",\"pendingTime\":\"2024-02-29T23:59:59Z\"}", NULL },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"000000000001\",\"region\":"
		    "\"ap-southeast-2\",\"pendingTime\":\"2024-02-29T23:59:59Z\",\"extra\":[1,{}]}",
	  NULL }, /* members AWS may add are ignored */
	/* not one JSON object: the strict parser's refusals */
	{ __LINE__, "", "not a JSON object" },
	{ __LINE__, "[]", "not a JSON object" },
	{ __LINE__, GOOD "x", "not a JSON object" },             /* trailing bytes */
	{ __LINE__, GOOD "{}", "not a JSON object" },            /* two objects */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"instanceId\":\"i-0a1b2c3e\",\"accountId\":"
		    "\"000000000001\",\"region\":\"eu-west-3\",\"pendingTime\":\"2024-01-01T00:00:00Z\"}",
	  "not a JSON object" },                                 /* a second instanceId */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\\u0000\",\"accountId\":\"000000000001\","
		    "\"region\":\"eu-west-3\",\"pendingTime\":\"2024-01-01T00:00:00Z\"}",
	  "not a JSON object" },                                 /* a NUL to cut the id */
	{ __LINE__, "{\"instanceId\":\"i-\xff\"}", "not a JSON object" }, /* invalid UTF-8 */
	/* instanceId */
	{ __LINE__, DOC_HEAD DOC_AZ DOC_TAIL, "missing member 'instanceId'" },
	{ __LINE__, DOC_HEAD DOC_AZ "\"instanceId\":\"i-0123456789ABCDEF0\"," DOC_TAIL, "'instanceId'" },
	{ __LINE__, DOC_HEAD DOC_AZ "\"instanceId\":\"i-0123456789abcdef\"," DOC_TAIL, "'instanceId'" },
	{ __LINE__, DOC_HEAD DOC_AZ "\"instanceId\":\"mi-0123456789abcdef0\"," DOC_TAIL, "'instanceId'" },
	{ __LINE__, DOC_HEAD DOC_AZ "\"instanceId\":\"i-../../../etc\"," DOC_TAIL, "'instanceId'" },
	{ __LINE__, DOC_HEAD DOC_AZ "\"instanceId\":17," DOC_TAIL, "'instanceId'" },
	/* accountId */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"region\":\"eu-west-3\",\"pendingTime\":"
		    "\"2024-01-01T00:00:00Z\"}", "missing member 'accountId'" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":111122223333,\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\"}", "'accountId'" }, /* a number */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"11112222333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\"}", "'accountId'" }, /* 11 digits */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"11112222333x\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\"}", "'accountId'" },
	/* region */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"EU-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\"}", "'region'" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\"}", "'region'" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\"}", "'region'" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3/x\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\"}", "'region'" }, /* into an ARN */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-123\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\"}", "'region'" },
	/* pendingTime */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\"}",
	  "missing member 'pendingTime'" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00.000Z\"}", "'pendingTime'" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00+02:00\"}", "'pendingTime'" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2023-02-29T00:00:00Z\"}", "'pendingTime'" }, /* not a leap year */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-13-01T00:00:00Z\"}", "'pendingTime'" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T24:00:00Z\"}", "'pendingTime'" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":1704067200}", "'pendingTime'" },
	/* availabilityZone: in the document's region */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"us-east-1a\"}",
	  "availabilityZone" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"eu-west-3\"}",
	  "availabilityZone" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":3}",
	  "availabilityZone" },
	/* Local Zones and Wavelength Zones: REGION-[a-z0-9-]*, not a letter */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"us-west-2\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"us-west-2-lax-1a\"}",
	  NULL },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"us-east-1\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"us-east-1-wl1-bos-wlz-1\"}",
	  NULL },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"eu-west-3-\"}",
	  "availabilityZone" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"eu-west-3-lax-1-\"}",
	  "availabilityZone" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"eu-west-3-LAX-1a\"}",
	  "availabilityZone" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"eu-west-3-lax_1a\"}",
	  "availabilityZone" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"eu-west-3ab\"}",
	  "availabilityZone" },
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"eu-west-3-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	  NULL }, /* 63 characters */
	{ __LINE__, "{\"instanceId\":\"i-0a1b2c3d\",\"accountId\":\"111122223333\",\"region\":\"eu-west-3\","
		    "\"pendingTime\":\"2024-01-01T00:00:00Z\",\"availabilityZone\":\"eu-west-3-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	  "availabilityZone" }, /* 64 */
};

static void test_docs(void)
{
	struct ssm_ec2id_doc d;
	char err[256], big[SSM_EC2ID_DOC_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		int r;
		err[0] = '\0';
		r = ssm_ec2id_doc_parse(docs[i].doc, strlen(docs[i].doc), &d, err, sizeof(err));
		if (docs[i].want == NULL)
			CHECK_ROW(docs[i].line, r == 0, "refused: %s", err);
		else
			CHECK_ROW(docs[i].line, r == -EINVAL && strstr(err, docs[i].want) != NULL &&
							d.instance_id[0] == '\0',
				  "got %d '%s', want '%s'", r, err, docs[i].want);
	}
	CHECK(ssm_ec2id_doc_parse(GOOD, strlen(GOOD), &d, err, sizeof(err)) == 0 &&
		      strcmp(d.instance_id, "i-0123456789abcdef0") == 0 &&
		      strcmp(d.account_id, "111122223333") == 0 && strcmp(d.region, "eu-west-3") == 0 &&
		      strcmp(d.availability_zone, "eu-west-3a") == 0 && d.pending_time == 1796025600,
	      "the good document's values: %s %s %s %s %lld", d.instance_id, d.account_id, d.region,
	      d.availability_zone, (long long)d.pending_time);
	/* larger than the limit: refused before parsing */
	memset(big, ' ', sizeof(big));
	memcpy(big, GOOD, strlen(GOOD));
	CHECK(ssm_ec2id_doc_parse(big, sizeof(big), &d, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "larger than") != NULL,
	      "an oversized document: %s", err);
}

/* base64 of DER in lines of 64 (as IMDS serves it), eol "\n" or "\r\n" */
static char *b64_lines(const unsigned char *der, int len, const char *eol)
{
	size_t n = 4 * (((size_t)len + 2) / 3), out = 0, i;
	unsigned char *flat = malloc(n + 1);
	char *s = malloc(n + n / 64 * 2 + 4);

	if (flat == NULL || s == NULL)
		abort();
	EVP_EncodeBlock(flat, der, len);
	for (i = 0; i < n; i++) {
		s[out++] = (char)flat[i];
		if (i % 64 == 63 && i + 1 < n) {
			memcpy(s + out, eol, strlen(eol));
			out += strlen(eol);
		}
	}
	s[out] = '\0';
	free(flat);
	return s;
}

enum { SIG_DETACHED, SIG_EMBEDDED, SIG_WITH_CERT };

static unsigned char *sign_der(const struct ssm_ca *who, const char *doc, int how, int *plen)
{
	BIO *in = BIO_new_mem_buf(doc, (int)strlen(doc));
	int flags = PKCS7_BINARY | (how == SIG_EMBEDDED ? 0 : PKCS7_DETACHED) |
		    (how == SIG_WITH_CERT ? 0 : PKCS7_NOCERTS);
	PKCS7 *p7 = PKCS7_sign(ssm_ca_cert(who), ssm_ca_key(who), NULL, in, flags);
	unsigned char *der = NULL;

	if (p7 == NULL || (*plen = i2d_PKCS7(p7, &der)) <= 0)
		abort();
	PKCS7_free(p7);
	BIO_free(in);
	return der;
}

static char *sign(const struct ssm_ca *who, const char *doc, int how)
{
	int len;
	unsigned char *der = sign_der(who, doc, how, &len);
	char *s = b64_lines(der, len, "\n");

	OPENSSL_free(der);
	return s;
}

static void test_signatures(void)
{
	struct ssm_ca *aws = NULL, *rogue = NULL;
	STACK_OF(X509) *trusted = sk_X509_new_null(), *none = sk_X509_new_null(),
		       *rogue_only = sk_X509_new_null();
	char err[512], *good, *crlf, *rogue_sig, *rogue_cert_sig, *embedded, *s;
	unsigned char *der;
	const char *tampered = GOOD " ";
	int len;

	CHECK(ssm_ca_create("Test AWS EC2 signer", NOW, 30, &aws, err, sizeof(err)) == 0 &&
		      ssm_ca_create("Test rogue signer", NOW, 30, &rogue, err, sizeof(err)) == 0,
	      "signers: %s", err);
	if (aws == NULL || rogue == NULL)
		return;
	sk_X509_push(trusted, ssm_ca_cert(aws));
	sk_X509_push(rogue_only, ssm_ca_cert(rogue));
	good = sign(aws, GOOD, SIG_DETACHED);
	der = sign_der(aws, GOOD, SIG_DETACHED, &len);
	crlf = b64_lines(der, len, "\r\n");
	rogue_sig = sign(rogue, GOOD, SIG_DETACHED);
	rogue_cert_sig = sign(rogue, GOOD, SIG_WITH_CERT);
	embedded = sign(aws, GOOD, SIG_EMBEDDED);

#define V(doc, sig, set) ssm_ec2id_verify((doc), strlen(doc), (sig), strlen(sig), (set), err, sizeof(err))
	CHECK(V(GOOD, good, trusted) == 0, "a good signature: %s", err);
	CHECK(V(GOOD, crlf, trusted) == 0, "the same in CRLF lines: %s", err);
	CHECK(V(GOOD, good, rogue_only) == -EACCES, "signed by a certificate not trusted: %s", err);
	/* the attacks */
	CHECK(V(tampered, good, trusted) == -EACCES && strstr(err, "does not verify") != NULL,
	      "a document changed after signing (one byte added): %s", err);
	CHECK(V(GOOD, rogue_sig, trusted) == -EACCES, "an untrusted signer: %s", err);
	CHECK(V(GOOD, rogue_cert_sig, trusted) == -EACCES,
	      "an untrusted signer that carries its own certificate (never trusted): %s", err);
	CHECK(V(GOOD, good, none) == -EACCES, "no trusted certificate at all: %s", err);
	CHECK(V(GOOD, embedded, trusted) == -EINVAL && strstr(err, "carries content") != NULL,
	      "a signature carrying its own content (not over our bytes): %s", err);
	CHECK(V(GOOD, "not base64!", trusted) == -EINVAL, "not base64: %s", err);
	CHECK(V(GOOD, "QUJD", trusted) == -EINVAL && strstr(err, "not a DER PKCS#7") != NULL,
	      "base64 of 'ABC': %s", err);
	CHECK(V(GOOD, "", trusted) == -EINVAL, "an empty signature: %s", err);
	CHECK(V(GOOD, "QUJ", trusted) == -EINVAL, "base64 of a wrong length: %s", err);
	CHECK(V("", good, trusted) == -EINVAL, "an empty document: %s", err);
	/* truncated and extended DER */
	s = b64_lines(der, len - 12, "\n");
	CHECK(V(GOOD, s, trusted) == -EINVAL, "a truncated signature: %s", err);
	free(s);
	{
		unsigned char *more = malloc((size_t)len + 3);
		memcpy(more, der, (size_t)len);
		memcpy(more + len, "\0\0\0", 3);
		s = b64_lines(more, len + 3, "\n");
		CHECK(V(GOOD, s, trusted) == -EINVAL && strstr(err, "after the PKCS#7") != NULL,
		      "bytes after the signature: %s", err);
		free(s);
		free(more);
	}
	/* a PKCS7 that is not signedData */
	{
		PKCS7 *p7 = PKCS7_new();
		unsigned char *d = NULL;
		int n;
		PKCS7_set_type(p7, NID_pkcs7_data);
		n = i2d_PKCS7(p7, &d);
		s = b64_lines(d, n, "\n");
		CHECK(V(GOOD, s, trusted) == -EINVAL && strstr(err, "not signedData") != NULL,
		      "a PKCS7 data structure: %s", err);
		free(s);
		OPENSSL_free(d);
		PKCS7_free(p7);
	}
	/* oversized */
	{
		char *huge = malloc(SSM_EC2ID_SIG_MAX + 8);
		memset(huge, 'A', SSM_EC2ID_SIG_MAX + 4);
		huge[SSM_EC2ID_SIG_MAX + 4] = '\0';
		CHECK(V(GOOD, huge, trusted) == -EINVAL && strstr(err, "larger than") != NULL,
		      "an oversized signature: %s", err);
		free(huge);
	}
#undef V
	OPENSSL_free(der);
	free(good);
	free(crlf);
	free(rogue_sig);
	free(rogue_cert_sig);
	free(embedded);
	sk_X509_free(trusted);
	sk_X509_free(none);
	sk_X509_free(rogue_only);
	ssm_ca_free(aws);
	ssm_ca_free(rogue);
}

static void test_names(void)
{
	static const struct {
		int line;
		const char *s;
		int account, region;
	} rows[] = {
		{ __LINE__, "123456789012", 1, 0 },
		{ __LINE__, "12345678901", 0, 0 },
		{ __LINE__, "1234567890123", 0, 0 },
		{ __LINE__, "eu-west-3", 0, 1 },
		{ __LINE__, "us-gov-west-1", 0, 1 },
		{ __LINE__, "ap-southeast-12", 0, 1 },
		{ __LINE__, "us-east-", 0, 0 },
		{ __LINE__, "useast1", 0, 0 },
		{ __LINE__, "us-east-1 ", 0, 0 },
		{ __LINE__, "*", 0, 0 }, /* a wildcard into an ARN */
		{ __LINE__, "", 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_ROW(rows[i].line, ssm_ec2id_account_valid(rows[i].s) == rows[i].account &&
						ssm_ec2id_region_valid(rows[i].s) == rows[i].region,
			  "%s", rows[i].s);
}

int main(void)
{
	test_docs();
	test_signatures();
	test_names();
	return check_done("test_ec2id");
}
