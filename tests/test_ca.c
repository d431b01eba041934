/* test_ca.c - the broker's certificate authority (lib/ca.c): issuing the server and host
 * certificates and verifying a host's certificate, with the refusals a broker relies on. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "ca.h"
#include "check.h"

#define NOW ((int64_t)1767225600) /* 2026-01-01 */
#define DAY 86400

/* A host certificate for host_id issued by ca from a fresh key; NULL on failure. */
static X509 *issue(const struct ssm_ca *ca, const char *host_id, int64_t now, int days,
		   char serial[SSM_CA_SERIAL_MAX])
{
	EVP_PKEY *key = ssm_ca_keygen();
	char *csr = NULL, *pem = NULL, err[256] = "";
	X509 *x = NULL;

	if (key != NULL && ssm_ca_csr_make(key, &csr) == 0 &&
	    ssm_ca_issue_host(ca, csr, strlen(csr), host_id, now, days, &pem, serial, err,
			      sizeof(err)) == 0)
		(void)ssm_ca_parse_cert(pem, strlen(pem), &x);
	free(csr);
	free(pem);
	EVP_PKEY_free(key);
	return x;
}

/* A client certificate signed by ca's key that ssm_ca_issue_host would never write: cn and
 * the SAN value (NULL: none) as given (a CA bug or a forged subject). */
static X509 *forge(const struct ssm_ca *ca, const char *cn, const char *san, const char *eku)
{
	EVP_PKEY *key = ssm_ca_keygen();
	X509 *x = X509_new();
	X509V3_CTX ctx;
	time_t t = (time_t)NOW;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &t);
	X509_time_adj_ex(X509_getm_notAfter(x), 30, 0, &t);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ssm_ca_cert(ca)));
	X509_set_pubkey(x, key);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, ssm_ca_cert(ca), x, NULL, NULL, 0);
	{
		const char *exts[][2] = {
			{ "basicConstraints", "critical,CA:FALSE" },
			{ "keyUsage", "critical,digitalSignature" },
			{ "extendedKeyUsage", eku },
			{ "subjectAltName", san },
			{ "authorityKeyIdentifier", "keyid:always" },
			{ "subjectKeyIdentifier", "hash" },
		};
		for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
			X509_EXTENSION *e;
			if (exts[i][1] == NULL)
				continue;
			e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
			if (e != NULL) {
				X509_add_ext(x, e, -1);
				X509_EXTENSION_free(e);
			}
		}
	}
	X509_sign(x, ssm_ca_key(ca), EVP_sha256());
	EVP_PKEY_free(key);
	return x;
}

struct revoked_list {
	const char *host_id;
	const char *serial;
};

static int is_revoked(void *ctx, const char *host_id, const char *serial)
{
	const struct revoked_list *l = ctx;

	return (l->host_id && strcmp(l->host_id, host_id) == 0) ||
	       (l->serial && strcmp(l->serial, serial) == 0);
}

static void test_host_ids(void)
{
	static const struct {
		int line;
		const char *id;
		int valid;
	} rows[] = {
		{ __LINE__, "mi-0123456789abcdef0", 1 },
		{ __LINE__, "mi-0123456789ABCDEF0", 0 },  /* upper case: not what we assign */
		{ __LINE__, "mi-0123456789abcdef", 0 },   /* 16 digits */
		{ __LINE__, "mi-0123456789abcdef01", 0 }, /* 18 digits */
		{ __LINE__, "mi-0123456789abcdeg0", 0 },  /* g */
		{ __LINE__, "mi-0123456789abcde/0", 0 },  /* path character */
		{ __LINE__, "", 0 },
		{ __LINE__, "mi-", 0 },
		/* EC2 instance ids: i- and 17 or 8 lowercase hex digits (SPEC section 4) */
		{ __LINE__, "i-0123456789abcdef0", 1 },
		{ __LINE__, "i-0123abcd", 1 },
		{ __LINE__, "i-0123456789ABCDEF0", 0 }, /* upper case */
		{ __LINE__, "i-0123abc", 0 },           /* 7 digits */
		{ __LINE__, "i-0123abcde", 0 },         /* 9 digits */
		{ __LINE__, "i-0123456789abcdef", 0 },  /* 16 digits */
		{ __LINE__, "i-0123456789abcdef01", 0 }, /* 18 digits */
		{ __LINE__, "i-0123abc/", 0 },          /* path character */
		{ __LINE__, "i-", 0 },
		{ __LINE__, "mi-0123abcd", 0 },         /* 8 digits: only i- has the short form */
	};
	char id[SSM_HOST_ID_LEN + 1], id2[SSM_HOST_ID_LEN + 1];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_ROW(rows[i].line, ssm_ca_host_id_valid(rows[i].id) == rows[i].valid, "%s",
			  rows[i].id);
	CHECK(ssm_ca_host_id_new(id) == 0 && ssm_ca_host_id_valid(id), "new id %s", id);
	CHECK(ssm_ca_host_id_new(id2) == 0 && strcmp(id, id2) != 0, "two new ids differ");
}

static void test_server(const struct ssm_ca *ca, const struct ssm_ca *other)
{
	const char *names[] = { "broker.example.com", "127.0.0.1", "::1" };
	const char *bad[] = { "bro ker" };
	EVP_PKEY *key = ssm_ca_keygen();
	X509 *x = NULL;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	char err[256];

	CHECK(ssm_ca_issue_server(ca, key, names, 3, NOW, 365, &x, err, sizeof(err)) == 0,
	      "server cert: %s", err);
	CHECK(ssm_ca_cert_names(x, "broker.example.com"), "DNS name");
	CHECK(ssm_ca_cert_names(x, "127.0.0.1"), "IP name");
	CHECK(ssm_ca_cert_names(x, "::1"), "IPv6 name");
	CHECK(!ssm_ca_cert_names(x, "127.0.0.2"), "other IP");
	CHECK(!ssm_ca_cert_names(x, "evil.example.com"), "other DNS name");
	CHECK(!ssm_ca_cert_names(x, "example.com"), "parent domain");
	{
		/* a name in the subject's CN only (no DNS SAN) names nothing */
		X509 *cn = forge(ca, "broker.example.com", NULL, "serverAuth");

		CHECK(!ssm_ca_cert_names(cn, "broker.example.com"), "a CN without a DNS SAN");
		X509_free(cn);
	}
	/* it verifies as a TLS server under its CA, not under another, and not as a client */
	X509_STORE_add_cert(st, ssm_ca_cert(ca));
	X509_STORE_CTX_init(sctx, st, x, NULL);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(sctx), (time_t)NOW);
	X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_SERVER);
	CHECK(X509_verify_cert(sctx) == 1, "server cert verifies");
	{
		char id[SSM_HOST_ID_LEN + 1], serial[SSM_CA_SERIAL_MAX];
		CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), x, NULL, NOW, NULL, NULL, id, serial, err,
					 sizeof(err)) == -EACCES,
		      "a server certificate is no host certificate");
		CHECK(ssm_ca_verify_host(ssm_ca_cert(other), x, NULL, NOW, NULL, NULL, id, serial,
					 err, sizeof(err)) == -EACCES,
		      "another CA");
	}
	X509_free(x);
	x = NULL;
	CHECK(ssm_ca_issue_server(ca, key, bad, 1, NOW, 365, &x, err, sizeof(err)) == -EINVAL &&
		      x == NULL,
	      "a name with a space refused");
	CHECK(ssm_ca_issue_server(ca, key, names, 0, NOW, 365, &x, err, sizeof(err)) == -EINVAL,
	      "no name refused");
	X509_STORE_CTX_free(sctx);
	X509_STORE_free(st);
	EVP_PKEY_free(key);
}

static void test_csr(const struct ssm_ca *ca)
{
	static const char junk[] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
				   "-----END CERTIFICATE REQUEST-----\n";
	EVP_PKEY *key = ssm_ca_keygen();
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	char *csr = NULL, *pem = NULL, serial[SSM_CA_SERIAL_MAX], err[256];

	CHECK(ssm_ca_csr_make(key, &csr) == 0, "csr");
	CHECK(ssm_ca_issue_host(ca, csr, strlen(csr), "mi-0123456789ABCDEF0", NOW, 30, &pem, serial,
				err, sizeof(err)) == -EINVAL &&
		      pem == NULL,
	      "issue: bad host id refused");
	CHECK(ssm_ca_issue_host(ca, junk, strlen(junk), "mi-0123456789abcdef0", NOW, 30, &pem,
				serial, err, sizeof(err)) == -EINVAL,
	      "issue: garbage CSR refused");
	CHECK(ssm_ca_issue_host(ca, "", 0, "mi-0123456789abcdef0", NOW, 30, &pem, serial, err,
				sizeof(err)) == -EINVAL,
	      "issue: empty CSR refused");
	/* a CSR whose signature does not match its key (proof of possession fails) */
	{
		char *tampered = strdup(csr);
		char *mid = strstr(tampered, "\n") + 1;
		size_t n = strlen(mid);
		/* flip a base64 character inside the signature near the end */
		char *p = mid + n - 40;
		*p = *p == 'A' ? 'B' : 'A';
		CHECK(ssm_ca_issue_host(ca, tampered, strlen(tampered), "mi-0123456789abcdef0", NOW,
					30, &pem, serial, err, sizeof(err)) == -EINVAL,
		      "issue: CSR with a broken signature refused");
		free(tampered);
	}
	free(csr);
	csr = NULL;
	CHECK(ssm_ca_csr_make(rsa, &csr) == 0 &&
		      ssm_ca_issue_host(ca, csr, strlen(csr), "mi-0123456789abcdef0", NOW, 30, &pem,
					serial, err, sizeof(err)) == -EINVAL,
	      "issue: RSA key refused");
	free(csr);
	csr = NULL;
	CHECK(ssm_ca_csr_make(p384, &csr) == 0 &&
		      ssm_ca_issue_host(ca, csr, strlen(csr), "mi-0123456789abcdef0", NOW, 30, &pem,
					serial, err, sizeof(err)) == -EINVAL,
	      "issue: P-384 key refused");
	free(csr);
	csr = NULL;
	free(csr);
	EVP_PKEY_free(key);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
}

static void test_verify(const struct ssm_ca *ca, const struct ssm_ca *other)
{
	char id[SSM_HOST_ID_LEN + 1], serial[SSM_CA_SERIAL_MAX], serial2[SSM_CA_SERIAL_MAX];
	char err[256];
	X509 *good = issue(ca, "mi-0123456789abcdef0", NOW, 30, serial);
	X509 *expired = issue(ca, "mi-0123456789abcdef1", NOW - 60 * DAY, 30, serial2);
	X509 *future = issue(ca, "mi-0123456789abcdef2", NOW + 2 * DAY, 30, serial2);
	X509 *foreign = issue(other, "mi-0123456789abcdef0", NOW, 30, serial2);
	struct revoked_list none = { NULL, NULL };
	struct revoked_list by_id = { "mi-0123456789abcdef0", NULL };
	struct revoked_list by_serial = { NULL, serial };
	struct revoked_list other_id = { "mi-0123456789abcdef9", "01" };
	static const struct {
		int line;
		const char *cn, *san, *eku;
		int expect;
	} forged[] = {
		/* the well-formed control row: verify accepts what the CA would have issued */
		{ __LINE__, "mi-00000000000000000", "URI:urn:ssmsession:host:mi-00000000000000000",
		  "clientAuth", 0 },
		/* wrong id format in the SAN and CN (upper case, short, EC2 style) */
		{ __LINE__, "mi-0000000000000000A", "URI:urn:ssmsession:host:mi-0000000000000000A",
		  "clientAuth", -EINVAL },
		{ __LINE__, "mi-0000", "URI:urn:ssmsession:host:mi-0000", "clientAuth", -EINVAL },
		/* EC2 instance ids (17 or 8 digits) are host ids too; their malformed forms not */
		{ __LINE__, "i-00000000000000000", "URI:urn:ssmsession:host:i-00000000000000000",
		  "clientAuth", 0 },
		{ __LINE__, "i-0000abcd", "URI:urn:ssmsession:host:i-0000abcd", "clientAuth", 0 },
		{ __LINE__, "i-0000000000000000", "URI:urn:ssmsession:host:i-0000000000000000",
		  "clientAuth", -EINVAL },
		{ __LINE__, "i-0000ABCD", "URI:urn:ssmsession:host:i-0000ABCD", "clientAuth",
		  -EINVAL },
		/* the CN a prefix of the SAN's id, and the SAN's id longer than any host id */
		{ __LINE__, "i-0000abcd", "URI:urn:ssmsession:host:i-0000abcd0", "clientAuth",
		  -EINVAL },
		{ __LINE__, "mi-00000000000000000",
		  "URI:urn:ssmsession:host:mi-000000000000000000000", "clientAuth", -EINVAL },
		/* CN and SAN disagree: which host is it? */
		{ __LINE__, "mi-11111111111111111", "URI:urn:ssmsession:host:mi-00000000000000000",
		  "clientAuth", -EINVAL },
		/* two host URIs */
		{ __LINE__, "mi-00000000000000000",
		  "URI:urn:ssmsession:host:mi-00000000000000000,URI:urn:ssmsession:host:mi-11111111111111111",
		  "clientAuth", -EINVAL },
		/* no SAN at all, or only a DNS name */
		{ __LINE__, "mi-00000000000000000", NULL, "clientAuth", -EINVAL },
		{ __LINE__, "mi-00000000000000000", "DNS:mi-00000000000000000", "clientAuth",
		  -EINVAL },
		/* a trailing path after the id */
		{ __LINE__, "mi-00000000000000000", "URI:urn:ssmsession:host:mi-00000000000000000/x",
		  "clientAuth", -EINVAL },
		/* a server-only certificate used as a client certificate */
		{ __LINE__, "mi-00000000000000000", "URI:urn:ssmsession:host:mi-00000000000000000",
		  "serverAuth", -EACCES },
	};

	CHECK(good && expired && future && foreign, "issued the test certificates");
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), good, NULL, NOW, is_revoked, &none, id, serial2,
				 err, sizeof(err)) == 0,
	      "good host cert: %s", err);
	CHECK(strcmp(id, "mi-0123456789abcdef0") == 0, "host id from the certificate: %s", id);
	CHECK(strcmp(serial, serial2) == 0, "serial as issued: %s %s", serial, serial2);
	CHECK(strlen(serial) >= 30, "serial of 127 bits: %s", serial);
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), good, NULL, NOW, NULL, NULL, id, serial2, err,
				 sizeof(err)) == 0,
	      "no revocation list");
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), good, NULL, NOW + 31 * DAY, NULL, NULL, id,
				 serial2, err, sizeof(err)) == -EACCES &&
		      strstr(err, "expired") != NULL,
	      "good cert, after its end: %s", err);
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), expired, NULL, NOW, NULL, NULL, id, serial2, err,
				 sizeof(err)) == -EACCES &&
		      strstr(err, "expired") != NULL && id[0] == '\0',
	      "expired: %s", err);
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), future, NULL, NOW, NULL, NULL, id, serial2, err,
				 sizeof(err)) == -EACCES &&
		      strstr(err, "not yet valid") != NULL,
	      "not yet valid: %s", err);
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), foreign, NULL, NOW, NULL, NULL, id, serial2, err,
				 sizeof(err)) == -EACCES,
	      "wrong CA: %s", err);
	CHECK(ssm_ca_verify_host(ssm_ca_cert(other), good, NULL, NOW, NULL, NULL, id, serial2, err,
				 sizeof(err)) == -EACCES,
	      "checked against another CA: %s", err);
	/* the foreign CA's certificate offered as an intermediate changes nothing */
	{
		STACK_OF(X509) *chain = sk_X509_new_null();
		sk_X509_push(chain, ssm_ca_cert(other));
		CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), foreign, chain, NOW, NULL, NULL, id,
					 serial2, err, sizeof(err)) == -EACCES,
		      "wrong CA with its root as intermediate: %s", err);
		sk_X509_free(chain);
	}
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), good, NULL, NOW, is_revoked, &by_id, id, serial2,
				 err, sizeof(err)) == -EACCES &&
		      strstr(err, "revoked") != NULL,
	      "revoked by host id: %s", err);
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), good, NULL, NOW, is_revoked, &by_serial, id,
				 serial2, err, sizeof(err)) == -EACCES,
	      "revoked by serial: %s", err);
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), good, NULL, NOW, is_revoked, &other_id, id,
				 serial2, err, sizeof(err)) == 0,
	      "another host revoked");
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), NULL, NULL, NOW, NULL, NULL, id, serial2, err,
				 sizeof(err)) == -EACCES,
	      "no certificate");
	/* the CA certificate itself is no host */
	CHECK(ssm_ca_verify_host(ssm_ca_cert(ca), ssm_ca_cert(ca), NULL, NOW, NULL, NULL, id,
				 serial2, err, sizeof(err)) < 0,
	      "the CA as a host");
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		X509 *x = forge(ca, forged[i].cn, forged[i].san, forged[i].eku);
		int r = ssm_ca_verify_host(ssm_ca_cert(ca), x, NULL, NOW, NULL, NULL, id, serial2,
					   err, sizeof(err));
		CHECK_ROW(forged[i].line, r == forged[i].expect, "forged %s: %d (%s)",
			  forged[i].cn, r, err);
		X509_free(x);
	}
	X509_free(good);
	X509_free(expired);
	X509_free(future);
	X509_free(foreign);
}

static void test_files(const struct ssm_ca *ca)
{
	char dir[] = "/tmp/test_ca.XXXXXX", cert[64], key[64], err[256] = "";
	struct ssm_ca *loaded = NULL, *other = NULL;
	struct stat st;

	CHECK(mkdtemp(dir) != NULL, "tmpdir");
	snprintf(cert, sizeof(cert), "%s/ca.crt", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	CHECK(ssm_ca_save(ca, cert, key, err, sizeof(err)) == 0, "save: %s", err);
	CHECK(stat(key, &st) == 0 && (st.st_mode & 07777) == 0600, "key mode 0600");
	CHECK(stat(cert, &st) == 0 && (st.st_mode & 07777) == 0644, "cert mode 0644");
	CHECK(ssm_ca_load(cert, key, &loaded, err, sizeof(err)) == 0, "load: %s", err);
	CHECK(loaded && X509_cmp(ssm_ca_cert(loaded), ssm_ca_cert(ca)) == 0, "same certificate");
	CHECK(loaded && EVP_PKEY_eq(ssm_ca_key(loaded), ssm_ca_key(ca)) == 1, "same key");
	/* a key that does not belong to the certificate */
	CHECK(ssm_ca_create("other", NOW, 30, &other, err, sizeof(err)) == 0, "other");
	{
		char k[80], c[80];
		snprintf(k, sizeof(k), "%s/o.key", dir);
		snprintf(c, sizeof(c), "%s/o.crt", dir);
		CHECK(other && ssm_ca_save(other, c, k, err, sizeof(err)) == 0, "save other pair");
		ssm_ca_free(loaded);
		loaded = NULL;
		CHECK(ssm_ca_load(cert, k, &loaded, err, sizeof(err)) == -EINVAL && loaded == NULL,
		      "mismatched key refused: %s", err);
		unlink(k);
		unlink(c);
	}
	CHECK(ssm_ca_load("/nonexistent/ca.crt", key, &loaded, err, sizeof(err)) == -ENOENT,
	      "missing file");
	ssm_ca_free(other);
	unlink(cert);
	unlink(key);
	rmdir(dir);
	ssm_ca_free(loaded);
}

int main(void)
{
	struct ssm_ca *ca = NULL, *other = NULL;
	char err[256] = "";

	test_host_ids();
	CHECK(ssm_ca_create("ssm-broker test CA", NOW, 3650, &ca, err, sizeof(err)) == 0,
	      "create CA: %s", err);
	CHECK(ssm_ca_create("ssm-broker other CA", NOW, 3650, &other, err, sizeof(err)) == 0,
	      "create other CA: %s", err);
	if (ca == NULL || other == NULL)
		return check_done("test_ca");
	CHECK(X509_check_ca(ssm_ca_cert(ca)) == 1, "is a CA");
	test_server(ca, other);
	test_csr(ca);
	test_verify(ca, other);
	test_files(ca);
	ssm_ca_free(ca);
	ssm_ca_free(other);
	return check_done("test_ca");
}
