/* ec2id.h - EC2 instance identity documents and their PKCS7 signatures (docs/ARCHITECTURE.md
 * "Registration"), as AWS's instance metadata service serves them:
 *
 *   /latest/dynamic/instance-identity/document  a JSON object: instanceId, accountId, region,
 *                                               pendingTime, availabilityZone, ...
 *   /latest/dynamic/instance-identity/pkcs7     base64 (in lines) of a DER PKCS#7 signedData
 *   /latest/dynamic/instance-identity/rsa2048   over the document's bytes, detached, with no
 *                                               certificate the verifier should rely on
 *
 * The broker receives both from a host it does not know yet: untrusted bytes.  The
 * signature is checked with OpenSSL's PKCS7_verify over the exact document bytes received,
 * the signer being one of the certificates the administrator trusts, pinned (certificates
 * carried in the signature are ignored; no chain is built: AWS's signing certificates are
 * self-signed, and AWS documents checking them this way, `openssl smime -verify -noverify
 * -certfile`).  The document is parsed only after its signature verified. */
#ifndef SSM_EC2ID_H
#define SSM_EC2ID_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#define SSM_EC2ID_DOC_MAX 4096  /* AWS's documents are about 500 bytes */
#define SSM_EC2ID_SIG_MAX 8192  /* base64 text: an RSA-2048 signature is about 1.5 KiB */
#define SSM_EC2ID_DER_MAX 6144
#define SSM_EC2ID_CERTS_MAX 64  /* trusted signing certificates */
#define SSM_EC2ID_REGION_MAX 32
#define SSM_EC2ID_ACCOUNT_LEN 12
#define SSM_EC2ID_AZ_MAX 63     /* us-east-1-wl1-bos-wlz-1: a Wavelength Zone */

struct ssm_ec2id_doc {
	char instance_id[20];                      /* i- and 8 or 17 lowercase hex digits */
	char account_id[SSM_EC2ID_ACCOUNT_LEN + 1]; /* 12 digits */
	char region[SSM_EC2ID_REGION_MAX + 1];     /* e.g. eu-west-3, us-gov-west-1 */
	char availability_zone[SSM_EC2ID_AZ_MAX + 1]; /* "" when absent */
	int64_t pending_time;                      /* unix seconds */
};

/* Parse a document: one JSON object (lib/json.c: strict), at most SSM_EC2ID_DOC_MAX bytes,
 * with instanceId, accountId, region and pendingTime (YYYY-MM-DDTHH:MM:SSZ) valid; an
 * availabilityZone, if present, must be region and one lowercase letter (eu-west-3a), or
 * region, '-' and [a-z0-9-] ending in a letter or digit (a Local Zone, us-west-2-lax-1a; a
 * Wavelength Zone, us-east-1-wl1-bos-wlz-1), at most SSM_EC2ID_AZ_MAX bytes.  Other members
 * are ignored (AWS adds some).  0 or -EINVAL (err says which member and why), -ENOMEM. */
int ssm_ec2id_doc_parse(const char *buf, size_t len, struct ssm_ec2id_doc *doc, char *err,
			size_t errlen);

/* 1 if s is an AWS account id (12 digits), a region ([a-z]{2}(-[a-z]+)+-[0-9]{1,2}). */
int ssm_ec2id_account_valid(const char *s);
int ssm_ec2id_region_valid(const char *s);

/* YYYY-MM-DDTHH:MM:SSZ (pendingTime's form) to unix seconds.  0 or -EINVAL. */
int ssm_ec2id_parse_time(const char *s, int64_t *pt);

/* Verify that sig (the base64 text, white space between lines allowed, at most
 * SSM_EC2ID_SIG_MAX bytes) is a detached PKCS#7 signature over exactly doc[0..doclen) by
 * one of trusted (pinned: no chain, the signature's own certificates ignored).
 * 0; -EINVAL (not base64, not a signedData, carries content, trailing bytes); -EACCES
 * (it does not verify against any trusted certificate); -ENOMEM.  err says which. */
int ssm_ec2id_verify(const char *doc, size_t doclen, const char *sig, size_t siglen,
		     STACK_OF(X509) *trusted, char *err, size_t errlen);

#endif
