/* ca.h - the broker's certificate authority (docs/PROTOCOL.md section 1, SPEC section 8).
 *
 * One P-256 CA per broker.  It issues the broker's TLS server certificate and, at
 * registration, one client certificate per host: the host generates its key and sends a
 * CSR (proof of possession only: its subject is ignored), the broker names the host by the
 * id it assigned (mi-...) or verified (i-..., an EC2 instance id), as subject CN and as the
 * one SAN URI:urn:ssmsession:host:ID .  The
 * broker takes a host's identity from a certificate this module verified, never from
 * anything else the host sends.  OpenSSL 3 EVP/X509 only.
 *
 * Functions return 0 or a negative errno: -EINVAL (malformed input), -EACCES (a
 * certificate refused: chain, validity, purpose, revoked), -ENOMEM, -EIO (files). */
#ifndef SSM_CA_H
#define SSM_CA_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define SSM_HOST_ID_LEN 20 /* the longest host id: "mi-" and 17 lowercase hex digits */
#define SSM_CA_HOST_URI_PREFIX "urn:ssmsession:host:"
#define SSM_CA_SERIAL_MAX 41 /* lowercase hex of a 20-byte serial, NUL included */
#define SSM_CA_PEM_MAX (64 * 1024)

struct ssm_ca;

/* 1 if s is a host id (SPEC sections 4 and 8): mi- and exactly 17 lowercase hex digits (the
 * ids this broker assigns at activation), or an EC2 instance id, i- and 8 or 17 lowercase
 * hex digits (hosts registered by their instance identity document, lib/ec2id.h). */
int ssm_ca_host_id_valid(const char *s);
/* 1 if s is an EC2 instance id: i- and 8 or 17 lowercase hex digits. */
int ssm_ca_ec2_id_valid(const char *s);
/* A fresh random host id into out (SSM_HOST_ID_LEN + 1 bytes).  0 or -EIO. */
int ssm_ca_host_id_new(char out[SSM_HOST_ID_LEN + 1]);

/* A new P-256 key, NULL when out of memory. */
EVP_PKEY *ssm_ca_keygen(void);

/* Create a self-signed CA named cn valid from now - 1 h for days days. */
int ssm_ca_create(const char *cn, int64_t now, int days, struct ssm_ca **pca, char *err,
		  size_t errlen);
/* Load a CA from its PEM certificate and key files (the key must match). */
int ssm_ca_load(const char *cert_path, const char *key_path, struct ssm_ca **pca, char *err,
		size_t errlen);
/* Write the CA (certificate mode 0644, key 0600; each atomically). */
int ssm_ca_save(const struct ssm_ca *ca, const char *cert_path, const char *key_path, char *err,
		size_t errlen);
void ssm_ca_free(struct ssm_ca *ca);
X509 *ssm_ca_cert(const struct ssm_ca *ca);    /* borrowed */
EVP_PKEY *ssm_ca_key(const struct ssm_ca *ca); /* borrowed */

/* Issue the broker's server certificate for key, naming every entry of names (an IP
 * address literal becomes an IP SAN, anything else a DNS SAN). */
int ssm_ca_issue_server(const struct ssm_ca *ca, EVP_PKEY *key, const char *const *names,
			size_t n, int64_t now, int days, X509 **pcert, char *err, size_t errlen);
/* 1 if cert names name (IP SAN for an address literal, else DNS SAN), else 0. */
int ssm_ca_cert_names(X509 *cert, const char *name);

/* Issue host_id's client certificate for the key in the PEM CSR (whose self-signature
 * must verify; its subject is ignored).  *pcert_pem (malloc'ed) and serial (lowercase hex)
 * on success; -EINVAL for a bad CSR or host id. */
int ssm_ca_issue_host(const struct ssm_ca *ca, const char *csr_pem, size_t csr_len,
		      const char *host_id, int64_t now, int days, char **pcert_pem,
		      char serial[SSM_CA_SERIAL_MAX], char *err, size_t errlen);

/* The broker's revocation list: 1 if this host id or certificate serial is revoked. */
typedef int (*ssm_ca_revoked_fn)(void *ctx, const char *host_id, const char *serial);

/* Verify a host's client certificate (and the untrusted intermediates the peer sent, may be
 * NULL) against ca_cert at time now, for TLS client use, then take the host id from it:
 * CN and the one urn:ssmsession:host: SAN must agree and be a valid id.  Then ask revoked
 * (may be NULL).  0 with host_id and serial filled; -EACCES (err says why: the X509 error,
 * or "revoked"); -EINVAL (no or malformed host id). */
int ssm_ca_verify_host(X509 *ca_cert, X509 *cert, STACK_OF(X509) *untrusted, int64_t now,
		       ssm_ca_revoked_fn revoked, void *ctx, char host_id[SSM_HOST_ID_LEN + 1],
		       char serial[SSM_CA_SERIAL_MAX], char *err, size_t errlen);

/* PEM helpers.  ssm_ca_cert_pem/key_pem: malloc'ed NUL-terminated PEM.  ssm_ca_csr_make:
 * a CSR for key (subject CN=ssmsession-host). */
int ssm_ca_cert_pem(X509 *cert, char **ppem);
int ssm_ca_key_pem(EVP_PKEY *key, char **ppem);
int ssm_ca_csr_make(EVP_PKEY *key, char **ppem);
/* Read one PEM certificate / private key from a file. */
int ssm_ca_read_cert(const char *path, X509 **pcert, char *err, size_t errlen);
int ssm_ca_read_key(const char *path, EVP_PKEY **pkey, char *err, size_t errlen);
/* Parse one PEM certificate from a buffer. */
int ssm_ca_parse_cert(const char *pem, size_t len, X509 **pcert);
/* The certificate's serial number in lowercase hex. */
int ssm_ca_serial_hex(X509 *cert, char serial[SSM_CA_SERIAL_MAX]);

/* Write len bytes to path atomically (a temporary file beside it, fsync, rename) with
 * mode.  0 or -errno (err names the file). */
int ssm_ca_write_file(const char *path, const void *data, size_t len, unsigned mode, char *err,
		      size_t errlen);

#endif
