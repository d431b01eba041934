/* ca.c - the broker's certificate authority, see ca.h.  OpenSSL 3 EVP/X509 only. */
#include "ca.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)

struct ssm_ca {
	X509 *cert;
	EVP_PKEY *key;
};

static int lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

int ssm_ca_host_id_valid(const char *s)
{
	if (s == NULL)
		return 0;
	if (strncmp(s, "mi-", 3) == 0)
		return strlen(s) == SSM_HOST_ID_LEN && lower_hex(s + 3, 17);
	return ssm_ca_ec2_id_valid(s);
}

int ssm_ca_ec2_id_valid(const char *s)
{
	size_t n;

	if (s == NULL || strncmp(s, "i-", 2) != 0)
		return 0;
	n = strlen(s + 2);
	return (n == 8 || n == 17) && lower_hex(s + 2, n);
}

int ssm_ca_host_id_new(char out[SSM_HOST_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[9];
	size_t i;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	memcpy(out, "mi-", 3);
	for (i = 0; i < 17; i++)
		out[3 + i] = hex[(rnd[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
	out[SSM_HOST_ID_LEN] = '\0';
	return 0;
}

EVP_PKEY *ssm_ca_keygen(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* A random positive 127-bit serial (RFC 5280: at most 20 octets, positive). */
static int set_serial(X509 *x)
{
	unsigned char rnd[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	rnd[0] &= 0x7f;
	rnd[0] |= 0x40; /* never a short or zero serial */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (bn == NULL)
		return -ENOMEM;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

static int set_validity(X509 *x, int64_t now, int days)
{
	time_t t = (time_t)now;

	/* an hour back for clocks slightly behind the issuer's */
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &t) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &t) == NULL)
		return -EINVAL;
	return 0;
}

static int set_cn(X509_NAME *name, const char *cn)
{
	return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					  -1, 0) == 1
		       ? 0
		       : -ENOMEM;
}

/* Add extension nid with OpenSSL's own v3 configuration syntax, e.g. "critical,CA:TRUE". */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -EINVAL;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

static int sign(X509 *x, EVP_PKEY *key)
{
	return X509_sign(x, key, EVP_sha256()) > 0 ? 0 : -EINVAL;
}

int ssm_ca_create(const char *cn, int64_t now, int days, struct ssm_ca **pca, char *err,
		  size_t errlen)
{
	struct ssm_ca *ca;
	int r = -ENOMEM;

	*pca = NULL;
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return -ENOMEM;
	ca->key = ssm_ca_keygen();
	ca->cert = X509_new();
	if (ca->key == NULL || ca->cert == NULL)
		goto fail;
	if (X509_set_version(ca->cert, 2) != 1 || (r = set_serial(ca->cert)) < 0 ||
	    (r = set_validity(ca->cert, now, days)) < 0 ||
	    (r = set_cn(X509_get_subject_name(ca->cert), cn)) < 0 ||
	    X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert)) != 1 ||
	    X509_set_pubkey(ca->cert, ca->key) != 1)
		goto fail;
	if ((r = add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) < 0 ||
	    (r = add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
	    (r = add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash")) < 0 ||
	    (r = sign(ca->cert, ca->key)) < 0)
		goto fail;
	*pca = ca;
	return 0;
fail:
	ERR("cannot create the certificate authority");
	ssm_ca_free(ca);
	return r < 0 ? r : -ENOMEM;
}

void ssm_ca_free(struct ssm_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

X509 *ssm_ca_cert(const struct ssm_ca *ca)
{
	return ca->cert;
}

EVP_PKEY *ssm_ca_key(const struct ssm_ca *ca)
{
	return ca->key;
}

int ssm_ca_read_cert(const char *path, X509 **pcert, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	*pcert = NULL;
	r = ssm_read_file(path, SSM_CA_PEM_MAX, 0, &buf, &len, err, errlen);
	if (r < 0)
		return r;
	r = ssm_ca_parse_cert(buf, len, pcert);
	if (r < 0)
		ERR("%s: not a PEM certificate", path);
	free(buf);
	return r;
}

int ssm_ca_read_key(const char *path, EVP_PKEY **pkey, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	BIO *bio;
	int r;

	*pkey = NULL;
	r = ssm_read_file(path, SSM_CA_PEM_MAX, SSM_FILE_NOFOLLOW, &buf, &len, err, errlen);
	if (r < 0)
		return r;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio != NULL)
		*pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (*pkey == NULL) {
		ERR("%s: not a PEM private key", path);
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

int ssm_ca_parse_cert(const char *pem, size_t len, X509 **pcert)
{
	BIO *bio;

	*pcert = NULL;
	if (len > SSM_CA_PEM_MAX)
		return -EINVAL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return -ENOMEM;
	*pcert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (*pcert == NULL) {
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

int ssm_ca_load(const char *cert_path, const char *key_path, struct ssm_ca **pca, char *err,
		size_t errlen)
{
	struct ssm_ca *ca;
	int r;

	*pca = NULL;
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return -ENOMEM;
	if ((r = ssm_ca_read_cert(cert_path, &ca->cert, err, errlen)) < 0 ||
	    (r = ssm_ca_read_key(key_path, &ca->key, err, errlen)) < 0)
		goto fail;
	if (X509_check_private_key(ca->cert, ca->key) != 1 || X509_check_ca(ca->cert) == 0) {
		ERR("%s: not a CA certificate matching %s", cert_path, key_path);
		ERR_clear_error();
		r = -EINVAL;
		goto fail;
	}
	*pca = ca;
	return 0;
fail:
	ssm_ca_free(ca);
	return r;
}

/* PEM of a BIO writer into a malloc'ed NUL-terminated string. */
static int bio_to_str(BIO *bio, char **ppem)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *s;

	if (n <= 0)
		return -ENOMEM;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return -ENOMEM;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*ppem = s;
	return 0;
}

int ssm_ca_cert_pem(X509 *cert, char **ppem)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r = -ENOMEM;

	*ppem = NULL;
	if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1)
		r = bio_to_str(bio, ppem);
	BIO_free(bio);
	return r;
}

int ssm_ca_key_pem(EVP_PKEY *key, char **ppem)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r = -ENOMEM;

	*ppem = NULL;
	if (bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
		r = bio_to_str(bio, ppem);
	BIO_free(bio); /* BIO_s_mem frees its buffer; the key's PEM is wiped below by callers */
	return r;
}

int ssm_ca_csr_make(EVP_PKEY *key, char **ppem)
{
	X509_REQ *req = X509_REQ_new();
	BIO *bio = NULL;
	int r = -ENOMEM;

	*ppem = NULL;
	if (req == NULL || X509_REQ_set_version(req, 0) != 1 ||
	    set_cn(X509_REQ_get_subject_name(req), "ssmsession-host") < 0 ||
	    X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto out;
	bio = BIO_new(BIO_s_mem());
	if (bio != NULL && PEM_write_bio_X509_REQ(bio, req) == 1)
		r = bio_to_str(bio, ppem);
out:
	BIO_free(bio);
	X509_REQ_free(req);
	return r;
}

int ssm_ca_write_file(const char *path, const void *data, size_t len, unsigned mode, char *err,
		      size_t errlen)
{
	char tmp[PATH_MAX];
	int fd, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		r = -errno;
		ERR("%s: cannot create: %s", tmp, strerror(-r));
		return r;
	}
	r = fchmod(fd, mode) != 0 ? -errno : 0;
	if (r == 0)
		r = ssm_write_all(fd, data, len);
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (r < 0) {
		ERR("%s: cannot write: %s", tmp, strerror(-r));
		close(fd);
		unlink(tmp);
		return r;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		r = -errno;
		ERR("%s: cannot write: %s", path, strerror(-r));
		unlink(tmp);
		return r;
	}
	return 0;
}

int ssm_ca_save(const struct ssm_ca *ca, const char *cert_path, const char *key_path, char *err,
		size_t errlen)
{
	char *cert = NULL, *key = NULL;
	int r;

	if ((r = ssm_ca_cert_pem(ca->cert, &cert)) < 0 || (r = ssm_ca_key_pem(ca->key, &key)) < 0)
		goto out;
	if ((r = ssm_ca_write_file(key_path, key, strlen(key), 0600, err, errlen)) < 0)
		goto out;
	r = ssm_ca_write_file(cert_path, cert, strlen(cert), 0644, err, errlen);
out:
	if (key != NULL) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	free(cert);
	return r;
}

/* A new certificate from ca for pubkey, subject CN=cn, with its common extensions. */
static int new_leaf(const struct ssm_ca *ca, EVP_PKEY *pubkey, const char *cn, int64_t now,
		    int days, X509 **px)
{
	X509 *x = X509_new();
	int r = -ENOMEM;

	*px = NULL;
	if (x == NULL || X509_set_version(x, 2) != 1)
		goto fail;
	if ((r = set_serial(x)) < 0 || (r = set_validity(x, now, days)) < 0 ||
	    (r = set_cn(X509_get_subject_name(x), cn)) < 0)
		goto fail;
	r = -ENOMEM;
	if (X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    X509_set_pubkey(x, pubkey) != 1)
		goto fail;
	if ((r = add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
	    (r = add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature")) < 0 ||
	    (r = add_ext(x, ca->cert, NID_subject_key_identifier, "hash")) < 0 ||
	    (r = add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always")) < 0)
		goto fail;
	*px = x;
	return 0;
fail:
	X509_free(x);
	return r;
}

static int is_ip_literal(const char *name)
{
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);

	if (ip == NULL) {
		ERR_clear_error();
		return 0;
	}
	ASN1_OCTET_STRING_free(ip);
	return 1;
}

static int dns_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

int ssm_ca_issue_server(const struct ssm_ca *ca, EVP_PKEY *key, const char *const *names,
			size_t n, int64_t now, int days, X509 **pcert, char *err, size_t errlen)
{
	char san[4096] = "";
	size_t i, used = 0;
	X509 *x = NULL;
	int r;

	*pcert = NULL;
	if (n == 0) {
		ERR("the server certificate needs at least one name");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		int ip = is_ip_literal(names[i]);
		int w;

		if (!ip && !dns_name_ok(names[i])) {
			ERR("'%.100s' is neither a DNS name nor an IP address", names[i]);
			return -EINVAL;
		}
		w = snprintf(san + used, sizeof(san) - used, "%s%s:%s", i ? "," : "",
			     ip ? "IP" : "DNS", names[i]);
		if (w < 0 || (size_t)w >= sizeof(san) - used) {
			ERR("too many server names");
			return -EINVAL;
		}
		used += (size_t)w;
	}
	if ((r = new_leaf(ca, key, names[0], now, days, &x)) < 0 ||
	    (r = add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth")) < 0 ||
	    (r = add_ext(x, ca->cert, NID_subject_alt_name, san)) < 0 || (r = sign(x, ca->key)) < 0) {
		ERR("cannot issue the server certificate");
		X509_free(x);
		return r;
	}
	*pcert = x;
	return 0;
}

int ssm_ca_cert_names(X509 *cert, const char *name)
{
	if (is_ip_literal(name))
		return X509_check_ip_asc(cert, name, 0) == 1;
	/* a DNS SAN only: never the subject's CN (a host's client certificate has its id there) */
	return X509_check_host(cert, name, strlen(name),
			       X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
				       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
			       NULL) == 1;
}

int ssm_ca_serial_hex(X509 *cert, char serial[SSM_CA_SERIAL_MAX])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex, *p;
	int r = -EINVAL;

	serial[0] = '\0';
	if (bn == NULL)
		return -ENOMEM;
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (hex == NULL)
		return -ENOMEM;
	if (hex[0] != '-' && strlen(hex) < SSM_CA_SERIAL_MAX) {
		for (p = hex; *p; p++)
			*p = (*p >= 'A' && *p <= 'F') ? (char)(*p - 'A' + 'a') : *p;
		memcpy(serial, hex, strlen(hex) + 1);
		r = 0;
	}
	OPENSSL_free(hex);
	return r;
}

int ssm_ca_issue_host(const struct ssm_ca *ca, const char *csr_pem, size_t csr_len,
		      const char *host_id, int64_t now, int days, char **pcert_pem,
		      char serial[SSM_CA_SERIAL_MAX], char *err, size_t errlen)
{
	char san[128];
	X509_REQ *req = NULL;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	BIO *bio = NULL;
	int r = -EINVAL;

	*pcert_pem = NULL;
	serial[0] = '\0';
	if (!ssm_ca_host_id_valid(host_id)) {
		ERR("not a host id: '%.40s'", host_id);
		return -EINVAL;
	}
	if (csr_len == 0 || csr_len > SSM_CA_PEM_MAX) {
		ERR("certificate request empty or too large");
		return -EINVAL;
	}
	bio = BIO_new_mem_buf(csr_pem, (int)csr_len);
	if (bio == NULL)
		return -ENOMEM;
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	if (req == NULL) {
		ERR("certificate request: not a PEM CERTIFICATE REQUEST");
		goto out;
	}
	pub = X509_REQ_get_pubkey(req);
	if (pub == NULL || X509_REQ_verify(req, pub) != 1) {
		ERR("certificate request: its signature does not verify");
		goto out;
	}
	/* the host keys this project makes are P-256; Ed25519 is accepted too (both are
	 * what OpenSSL 3 and libwebsockets 4.1 handle for TLS client authentication) */
	if (!EVP_PKEY_is_a(pub, "EC") && !EVP_PKEY_is_a(pub, "ED25519")) {
		ERR("certificate request: the key must be EC P-256 or Ed25519");
		goto out;
	}
	if (EVP_PKEY_is_a(pub, "EC")) {
		char group[32] = "";
		size_t glen = 0;
		if (EVP_PKEY_get_group_name(pub, group, sizeof(group), &glen) != 1 ||
		    strcmp(group, "prime256v1") != 0) {
			ERR("certificate request: the EC key must be on P-256");
			goto out;
		}
	}
	snprintf(san, sizeof(san), "URI:%s%s", SSM_CA_HOST_URI_PREFIX, host_id);
	if ((r = new_leaf(ca, pub, host_id, now, days, &x)) < 0 ||
	    (r = add_ext(x, ca->cert, NID_ext_key_usage, "clientAuth")) < 0 ||
	    (r = add_ext(x, ca->cert, NID_subject_alt_name, san)) < 0 || (r = sign(x, ca->key)) < 0 ||
	    (r = ssm_ca_serial_hex(x, serial)) < 0 || (r = ssm_ca_cert_pem(x, pcert_pem)) < 0) {
		ERR("cannot issue the host certificate");
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	BIO_free(bio);
	return r;
}

/* The one urn:ssmsession:host: URI SAN and the CN must name the same valid id. */
static int host_id_from_cert(X509 *cert, char host_id[SSM_HOST_ID_LEN + 1], char *err,
			     size_t errlen)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	const size_t plen = strlen(SSM_CA_HOST_URI_PREFIX);
	char cn[64] = "", found[SSM_HOST_ID_LEN + 1] = "";
	int i, n_uri = 0, r = -EINVAL;

	if (gens == NULL) {
		ERR("the certificate has no subject alternative name");
		return -EINVAL;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *d;
		int len;

		if (g->type != GEN_URI)
			continue;
		d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (len < 0 || (size_t)len <= plen ||
		    memcmp(d, SSM_CA_HOST_URI_PREFIX, plen) != 0)
			continue;
		n_uri++;
		if ((size_t)len - plen > SSM_HOST_ID_LEN ||
		    memchr(d, '\0', (size_t)len) != NULL) {
			ERR("the certificate's host URI is malformed");
			goto out;
		}
		memcpy(found, d + plen, (size_t)len - plen);
		found[(size_t)len - plen] = '\0';
	}
	if (n_uri != 1) {
		ERR("the certificate names %d hosts, not one", n_uri);
		goto out;
	}
	if (!ssm_ca_host_id_valid(found)) {
		ERR("the certificate's host id is neither mi- and 17 nor i- and 8 or 17 lowercase "
		    "hex digits");
		goto out;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
				      sizeof(cn)) != (int)strlen(found) ||
	    strcmp(cn, found) != 0) {
		ERR("the certificate's common name is not its host id");
		goto out;
	}
	memcpy(host_id, found, sizeof(found));
	r = 0;
out:
	GENERAL_NAMES_free(gens);
	return r;
}

int ssm_ca_verify_host(X509 *ca_cert, X509 *cert, STACK_OF(X509) *untrusted, int64_t now,
		       ssm_ca_revoked_fn revoked, void *ctx, char host_id[SSM_HOST_ID_LEN + 1],
		       char serial[SSM_CA_SERIAL_MAX], char *err, size_t errlen)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *sctx = NULL;
	X509_VERIFY_PARAM *param;
	int r = -ENOMEM, rv;

	host_id[0] = '\0';
	serial[0] = '\0';
	if (ca_cert == NULL || cert == NULL) {
		ERR("no certificate");
		return -EACCES;
	}
	store = X509_STORE_new();
	sctx = X509_STORE_CTX_new();
	if (store == NULL || sctx == NULL || X509_STORE_add_cert(store, ca_cert) != 1 ||
	    X509_STORE_CTX_init(sctx, store, cert, untrusted) != 1)
		goto out;
	param = X509_STORE_CTX_get0_param(sctx);
	X509_VERIFY_PARAM_set_time(param, (time_t)now);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_CLIENT);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	rv = X509_verify_cert(sctx);
	if (rv != 1) {
		ERR("certificate refused: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
		r = -EACCES;
		goto out;
	}
	if ((r = host_id_from_cert(cert, host_id, err, errlen)) < 0)
		goto out;
	if ((r = ssm_ca_serial_hex(cert, serial)) < 0)
		goto out;
	if (revoked != NULL && revoked(ctx, host_id, serial)) {
		ERR("certificate refused: host %s (serial %s) is revoked", host_id, serial);
		r = -EACCES;
		goto out;
	}
	r = 0;
out:
	if (r < 0 && r != -EACCES && r != -EINVAL) {
		host_id[0] = '\0';
		serial[0] = '\0';
	} else if (r < 0) {
		host_id[0] = '\0';
	}
	ERR_clear_error();
	X509_STORE_CTX_free(sctx);
	X509_STORE_free(store);
	return r;
}
