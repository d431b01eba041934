/* enroll.h - host registration messages (SPEC section 8; docs/ARCHITECTURE.md):
 *
 *   POST /v1/register  {"activation_id": ID, "activation_code": CODE, "csr": PEM}
 *                  or  {"ec2_document": TEXT, "ec2_signature": BASE64, "ec2_nonce": NONCE,
 *                       "csr": PEM}   (an EC2 instance identity, lib/ec2id.h)
 *   200                {"host_id": "mi-..." or "i-...", "certificate": PEM, "ca": PEM,
 *                       "jwks": {JWK Set}, "issuer": ISS, "tags": {K: V}}
 *   4xx/5xx            {"error": "one line"}
 *
 * and the broker URL both ssmctl register and ssm-agent dial.  Parsing is strict (lib/json.c:
 * no duplicate members, valid UTF-8) and refuses unknown members. */
#ifndef SSM_ENROLL_H
#define SSM_ENROLL_H
#include <stddef.h>
#include <cjson/cJSON.h>

#define SSM_ENROLL_BODY_MAX (64 * 1024) /* request and response bodies */
#define SSM_ENROLL_ID_MAX 64             /* activation id: [A-Za-z0-9-] */
#define SSM_ENROLL_CODE_MAX 128          /* activation code: [A-Za-z0-9_-] */
#define SSM_ENROLL_CSR_MAX (16 * 1024)
#define SSM_ENROLL_ISSUER_MAX 256
#define SSM_ENROLL_TAGS_MAX 64
#define SSM_ENROLL_HOST_MAX 253
#define SSM_ENROLL_NONCE_MIN 32          /* ec2_nonce: [A-Za-z0-9_-] */
#define SSM_ENROLL_NONCE_MAX 128

/* Exactly one of the two ways in: an activation (activation_id and activation_code set,
 * the ec2_* members NULL), or an EC2 instance identity (ec2_document, ec2_signature and
 * ec2_nonce set, the activation members NULL).  The identity's bytes are only checked for
 * size and text here; lib/ec2id.c verifies and parses them. */
struct ssm_enroll_request {
	char *activation_id;
	char *activation_code; /* secret: wiped by ssm_enroll_request_free */
	char *ec2_document;    /* at most SSM_EC2ID_DOC_MAX bytes */
	char *ec2_signature;   /* at most SSM_EC2ID_SIG_MAX bytes */
	char *ec2_nonce;       /* secret: the host's re-registration proof, wiped */
	char *csr;
};

struct ssm_enroll_response {
	char *host_id;
	char *certificate; /* PEM */
	char *ca;          /* PEM */
	char *jwks;        /* the JWK Set, serialized; checked by ssm_jwks_parse */
	char *issuer;
	cJSON *tags; /* object of string values */
};

/* 0, -EINVAL (err says which member and why), -ENOMEM. */
int ssm_enroll_request_parse(const char *buf, size_t len, struct ssm_enroll_request **preq,
			     char *err, size_t errlen);
void ssm_enroll_request_free(struct ssm_enroll_request *req);
/* The request body for these values (malloc'ed JSON), NULL when out of memory. */
char *ssm_enroll_request_build(const char *activation_id, const char *activation_code,
			       const char *csr);
char *ssm_enroll_request_build_ec2(const char *document, const char *signature,
				   const char *nonce, const char *csr);
/* An ec2_nonce: 32 to 128 of [A-Za-z0-9_-]. */
int ssm_enroll_nonce_valid(const char *s);

int ssm_enroll_response_parse(const char *buf, size_t len, struct ssm_enroll_response **presp,
			      char *err, size_t errlen);
void ssm_enroll_response_free(struct ssm_enroll_response *resp);

/* An activation id / code as the broker issues them. */
int ssm_enroll_id_valid(const char *s);
int ssm_enroll_code_valid(const char *s);
/* Host tags: an object of at most 64 string values, keys 1..128, values 0..256 bytes. */
int ssm_enroll_tags_valid(const cJSON *tags);

/* A broker URL: https:// or wss://, then a DNS name, an IPv4 address or a bracketed IPv6
 * address, an optional :PORT (1..65535, default 443) and an optional "/" (no other path,
 * query, fragment or user info).  host receives the name without brackets.  0 or -EINVAL. */
int ssm_enroll_url_parse(const char *url, char *host, size_t hostsz, int *pport);

#endif
