/* enroll.c - host registration messages, see enroll.h. */
#include "enroll.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "ca.h"
#include "ec2id.h"
#include "json.h"
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)

static int is_id_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int is_code_char(int c)
{
	return is_id_char(c) || c == '_';
}

int ssm_enroll_id_valid(const char *s)
{
	return s != NULL && ssm_str_charset(s, 1, SSM_ENROLL_ID_MAX, is_id_char);
}

int ssm_enroll_code_valid(const char *s)
{
	return s != NULL && ssm_str_charset(s, 1, SSM_ENROLL_CODE_MAX, is_code_char);
}

int ssm_enroll_nonce_valid(const char *s)
{
	return s != NULL &&
	       ssm_str_charset(s, SSM_ENROLL_NONCE_MIN, SSM_ENROLL_NONCE_MAX, ssm_is_b64url_char);
}

/* text of 1..max bytes (the JSON parser already refused NUL and invalid UTF-8) */
static int ec2_doc_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= SSM_EC2ID_DOC_MAX;
}

static int ec2_sig_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > SSM_EC2ID_SIG_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] > 0x7e || ((unsigned char)s[i] < 0x20 && s[i] != '\n' &&
						  s[i] != '\r'))
			return 0;
	return 1;
}

int ssm_enroll_tags_valid(const cJSON *tags)
{
	const cJSON *el;
	int n = 0;

	if (!cJSON_IsObject(tags))
		return 0;
	cJSON_ArrayForEach(el, tags) {
		size_t kl = el->string ? strlen(el->string) : 0;
		if (!cJSON_IsString(el) || el->valuestring == NULL || kl < 1 || kl > 128 ||
		    strlen(el->valuestring) > 256 || ++n > SSM_ENROLL_TAGS_MAX)
			return 0;
	}
	return 1;
}

static int pem_valid(const char *s, const char *label, size_t max)
{
	char begin[64];
	size_t n = strlen(s);

	snprintf(begin, sizeof(begin), "-----BEGIN %s-----", label);
	return n > strlen(begin) && n <= max && strncmp(s, begin, strlen(begin)) == 0;
}

/* Every member of obj must be named in names. */
static int only_members(const cJSON *obj, const char *const *names, size_t n, char *err,
			size_t errlen)
{
	const cJSON *el;

	cJSON_ArrayForEach(el, obj) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(el->string, names[i]) == 0)
				break;
		if (i == n) {
			char esc[64];
			size_t j;
			for (j = 0; j + 1 < sizeof(esc) && el->string[j]; j++)
				esc[j] = (el->string[j] >= 0x20 && el->string[j] < 0x7f) ? el->string[j] : '?';
			esc[j] = '\0';
			ERR("unknown member '%s'", esc);
			return -EINVAL;
		}
	}
	return 0;
}

static int dup_member(const cJSON *obj, const char *name, int (*valid)(const char *), char **pdst,
		      char *err, size_t errlen)
{
	const char *v;
	int r = ssm_json_get_string(obj, name, &v);

	if (r == -ENOENT) {
		ERR("missing member '%s'", name);
		return -EINVAL;
	}
	if (r < 0 || !valid(v)) {
		ERR("member '%s' is not valid", name);
		return -EINVAL;
	}
	*pdst = strdup(v);
	return *pdst ? 0 : -ENOMEM;
}

static int csr_valid(const char *s)
{
	return pem_valid(s, "CERTIFICATE REQUEST", SSM_ENROLL_CSR_MAX);
}

static int cert_valid(const char *s)
{
	return pem_valid(s, "CERTIFICATE", SSM_CA_PEM_MAX);
}

static int issuer_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > SSM_ENROLL_ISSUER_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

void ssm_enroll_request_free(struct ssm_enroll_request *req)
{
	if (req == NULL)
		return;
	free(req->activation_id);
	if (req->activation_code != NULL) {
		OPENSSL_cleanse(req->activation_code, strlen(req->activation_code));
		free(req->activation_code);
	}
	free(req->ec2_document);
	free(req->ec2_signature);
	if (req->ec2_nonce != NULL) {
		OPENSSL_cleanse(req->ec2_nonce, strlen(req->ec2_nonce));
		free(req->ec2_nonce);
	}
	free(req->csr);
	free(req);
}

static void cleanse_member(cJSON *root, const char *name)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);

	if (cJSON_IsString(v) && v->valuestring)
		OPENSSL_cleanse(v->valuestring, strlen(v->valuestring));
}

int ssm_enroll_request_parse(const char *buf, size_t len, struct ssm_enroll_request **preq,
			     char *err, size_t errlen)
{
	static const char *const names[] = { "activation_id", "activation_code", "csr" };
	static const char *const ec2_names[] = { "ec2_document", "ec2_signature", "ec2_nonce",
						 "csr" };
	struct ssm_enroll_request *req = NULL;
	cJSON *root = NULL;
	char jerr[128] = "";
	int r;

	*preq = NULL;
	if (len > SSM_ENROLL_BODY_MAX) {
		ERR("request larger than %d bytes", SSM_ENROLL_BODY_MAX);
		return -EINVAL;
	}
	r = ssm_json_parse_object(buf, len, &root, jerr, sizeof(jerr));
	if (r < 0) {
		ERR("request is not a JSON object: %s", jerr);
		return r;
	}
	req = calloc(1, sizeof(*req));
	if (req == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (cJSON_HasObjectItem(root, "ec2_document")) {
		if ((r = only_members(root, ec2_names, 4, err, errlen)) < 0 ||
		    (r = dup_member(root, "ec2_document", ec2_doc_ok, &req->ec2_document, err,
				    errlen)) < 0 ||
		    (r = dup_member(root, "ec2_signature", ec2_sig_ok, &req->ec2_signature, err,
				    errlen)) < 0 ||
		    (r = dup_member(root, "ec2_nonce", ssm_enroll_nonce_valid, &req->ec2_nonce, err,
				    errlen)) < 0 ||
		    (r = dup_member(root, "csr", csr_valid, &req->csr, err, errlen)) < 0)
			goto out;
	} else if ((r = only_members(root, names, 3, err, errlen)) < 0 ||
	    (r = dup_member(root, "activation_id", ssm_enroll_id_valid, &req->activation_id, err,
			    errlen)) < 0 ||
	    (r = dup_member(root, "activation_code", ssm_enroll_code_valid, &req->activation_code,
			    err, errlen)) < 0 ||
	    (r = dup_member(root, "csr", csr_valid, &req->csr, err, errlen)) < 0)
		goto out;
	*preq = req;
	req = NULL;
out:
	if (root != NULL) {
		/* the code and the nonce were in the tree too */
		cleanse_member(root, "activation_code");
		cleanse_member(root, "ec2_nonce");
	}
	cJSON_Delete(root);
	ssm_enroll_request_free(req);
	return r;
}

char *ssm_enroll_request_build(const char *activation_id, const char *activation_code,
			       const char *csr)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o != NULL && cJSON_AddStringToObject(o, "activation_id", activation_id) &&
	    cJSON_AddStringToObject(o, "activation_code", activation_code) &&
	    cJSON_AddStringToObject(o, "csr", csr))
		s = cJSON_PrintUnformatted(o);
	if (o != NULL) {
		cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "activation_code");
		if (cJSON_IsString(code) && code->valuestring)
			OPENSSL_cleanse(code->valuestring, strlen(code->valuestring));
	}
	cJSON_Delete(o);
	return s;
}

char *ssm_enroll_request_build_ec2(const char *document, const char *signature,
				   const char *nonce, const char *csr)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o != NULL && cJSON_AddStringToObject(o, "ec2_document", document) &&
	    cJSON_AddStringToObject(o, "ec2_signature", signature) &&
	    cJSON_AddStringToObject(o, "ec2_nonce", nonce) &&
	    cJSON_AddStringToObject(o, "csr", csr))
		s = cJSON_PrintUnformatted(o);
	if (o != NULL)
		cleanse_member(o, "ec2_nonce");
	cJSON_Delete(o);
	return s;
}

void ssm_enroll_response_free(struct ssm_enroll_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->host_id);
	free(resp->certificate);
	free(resp->ca);
	free(resp->jwks);
	free(resp->issuer);
	cJSON_Delete(resp->tags);
	free(resp);
}

int ssm_enroll_response_parse(const char *buf, size_t len, struct ssm_enroll_response **presp,
			      char *err, size_t errlen)
{
	static const char *const names[] = { "host_id", "certificate", "ca", "jwks", "issuer",
					     "tags" };
	struct ssm_enroll_response *resp = NULL;
	const cJSON *jwks, *tags;
	cJSON *root = NULL;
	char jerr[128] = "";
	int r;

	*presp = NULL;
	if (len > SSM_ENROLL_BODY_MAX) {
		ERR("response larger than %d bytes", SSM_ENROLL_BODY_MAX);
		return -EINVAL;
	}
	r = ssm_json_parse_object(buf, len, &root, jerr, sizeof(jerr));
	if (r < 0) {
		ERR("response is not a JSON object: %s", jerr);
		return r;
	}
	resp = calloc(1, sizeof(*resp));
	if (resp == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = only_members(root, names, 6, err, errlen)) < 0 ||
	    (r = dup_member(root, "host_id", ssm_ca_host_id_valid, &resp->host_id, err, errlen)) < 0 ||
	    (r = dup_member(root, "certificate", cert_valid, &resp->certificate, err, errlen)) < 0 ||
	    (r = dup_member(root, "ca", cert_valid, &resp->ca, err, errlen)) < 0 ||
	    (r = dup_member(root, "issuer", issuer_valid, &resp->issuer, err, errlen)) < 0)
		goto out;
	jwks = ssm_json_member(root, "jwks");
	if (!cJSON_IsObject(jwks)) {
		ERR("member 'jwks' must be a JWK Set object");
		r = -EINVAL;
		goto out;
	}
	resp->jwks = cJSON_Print(jwks);
	tags = ssm_json_member(root, "tags");
	if (tags == NULL) {
		resp->tags = cJSON_CreateObject();
	} else if (!ssm_enroll_tags_valid(tags)) {
		ERR("member 'tags' must be an object of at most %d strings", SSM_ENROLL_TAGS_MAX);
		r = -EINVAL;
		goto out;
	} else {
		resp->tags = cJSON_Duplicate(tags, 1);
	}
	if (resp->jwks == NULL || resp->tags == NULL) {
		r = -ENOMEM;
		goto out;
	}
	*presp = resp;
	resp = NULL;
	r = 0;
out:
	cJSON_Delete(root);
	ssm_enroll_response_free(resp);
	return r;
}

static int is_host_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

static int is_v6_char(int c)
{
	return (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '.';
}

int ssm_enroll_url_parse(const char *url, char *host, size_t hostsz, int *pport)
{
	const char *p, *end;
	size_t hlen;
	long port = 443;

	if (url == NULL || hostsz == 0)
		return -EINVAL;
	host[0] = '\0';
	if (strncmp(url, "https://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "wss://", 6) == 0)
		p = url + 6;
	else
		return -EINVAL;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return -EINVAL;
		hlen = (size_t)(end - p - 1);
		if (hlen < 2 || hlen >= hostsz || hlen > 45)
			return -EINVAL;
		memcpy(host, p + 1, hlen);
		host[hlen] = '\0';
		if (!ssm_str_charset(host, 2, 45, is_v6_char) || strchr(host, ':') == NULL)
			goto bad;
		p = end + 1;
	} else {
		end = p + strcspn(p, ":/");
		hlen = (size_t)(end - p);
		if (hlen < 1 || hlen > SSM_ENROLL_HOST_MAX || hlen >= hostsz)
			return -EINVAL;
		memcpy(host, p, hlen);
		host[hlen] = '\0';
		if (!ssm_str_charset(host, 1, SSM_ENROLL_HOST_MAX, is_host_char) || host[0] == '-' ||
		    host[0] == '.')
			goto bad;
		p = end;
	}
	if (*p == ':') {
		char *e;
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		port = strtol(p, &e, 10);
		if (port < 1 || port > 65535 || e - p > 5)
			goto bad;
		p = e;
	}
	if (*p == '/')
		p++;
	if (*p != '\0')
		goto bad;
	*pport = (int)port;
	return 0;
bad:
	host[0] = '\0';
	return -EINVAL;
}
