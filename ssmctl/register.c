/* register.c - `ssmctl register --broker URL --ca FILE --activation-id ID
 * --activation-code CODE [--config PATH]` (SPEC section 8), or, on an EC2 instance,
 * `ssmctl register --broker URL --ca FILE --ec2 [--imds URL] [--ec2-signature pkcs7|rsa2048]`:
 * the instance identity document and its signature from the instance metadata service
 * (ssmctl/imds.c, IMDSv2) instead of an activation, and a nonce kept beside the
 * configuration (ec2-nonce, 0600) that lets this instance, and only it, register again.
 *
 *   1. generate the host key (P-256, 0600, beside the configuration) and a CSR;
 *   2. POST /v1/register over TLS, trusting only --ca (no system store), host name checked;
 *   3. write the certificate, the broker's CA, its JWK Set, and the configuration keys
 *      host_id, issuer, trusted_keys, host_tags, broker_url, broker_ca, host_certificate,
 *      host_key (other keys kept), each file atomically; print the host id.
 *
 * TLS through OpenSSL directly (one request, blocking, bounded by a 30 s timeout); the
 * response body through lib/enroll.c. */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "b64url.h"
#include "https.h"
#include "ca.h"
#include "ec2id.h"
#include "enroll.h"
#include "imds.h"
#include "json.h"
#include "jwk.h"
#include "util.h"
#include "ssmctl.h"

#define REG_TIMEOUT_S 30
#define REG_RESPONSE_MAX (SSM_ENROLL_BODY_MAX + 8192)

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("ssmctl: register: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* POST body to https://host:port/v1/register; *presp the response body, *pstatus the HTTP
 * status.  0 or SSMCTL_REFUSED (SSMCTL_USAGE: an unusable CA file) after printing why. */
static int https_post(const char *host, int port, const char *ca_file, const char *body,
		      int *pstatus, char **presp)
{
	struct ssm_https_req req = {
		.host = host, .port = port, .ca_file = ca_file, .path = "/v1/register",
		.body = body, .agent = "ssmctl", .max_answer = REG_RESPONSE_MAX,
		.timeout_s = REG_TIMEOUT_S,
	};
	char err[512];
	int r = ssm_https_request(&req, pstatus, presp, err, sizeof(err));

	if (r == 0)
		return 0;
	return fail(r == -EINVAL ? SSMCTL_USAGE : SSMCTL_REFUSED, "%s", err);
}

/* dir/name, or the value already in the configuration. */
static int path_for(char *out, const cJSON *cfg, const char *key, const char *dir,
		    const char *name)
{
	const cJSON *v = ssm_json_member(cfg, key);

	if (cJSON_IsString(v) && v->valuestring[0] == '/')
		return snprintf(out, PATH_MAX, "%s", v->valuestring) < PATH_MAX ? 0 : -1;
	return snprintf(out, PATH_MAX, "%s/%s", dir, name) < PATH_MAX ? 0 : -1;
}

static int set_string(cJSON *cfg, const char *key, const char *value)
{
	cJSON *s = cJSON_CreateString(value);

	if (s == NULL)
		return -ENOMEM;
	if (cJSON_HasObjectItem(cfg, key))
		cJSON_ReplaceItemInObjectCaseSensitive(cfg, key, s);
	else
		cJSON_AddItemToObject(cfg, key, s);
	return 0;
}

static int write_str(const char *path, const char *s, unsigned mode)
{
	char err[512] = "";

	if (ssm_ca_write_file(path, s, strlen(s), mode, err, sizeof(err)) < 0) {
		fprintf(stderr, "ssmctl: register: %s\n", err);
		return -1;
	}
	return 0;
}

/* A new nonce for instance id into path (0600): "ID NONCE\n" written to a temporary file,
 * then linked to path when replace is 0 (so that of two registrations at once only one
 * nonce is ever kept: the other finds it, -EEXIST) or renamed over it when replace is 1.
 * 0, -EEXIST, or -1 after printing why. */
static int ec2_nonce_new(const char *path, const char *id, int replace, char **pnonce)
{
	char tmp[PATH_MAX], *b64 = NULL, *line = NULL;
	unsigned char rnd[32];
	size_t n;
	int fd = -1, r = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		fail(0, "%s: path too long", path);
		return -1;
	}
	r = RAND_bytes(rnd, sizeof(rnd)) == 1 && ssm_b64url_encode(rnd, sizeof(rnd), &b64) == 0;
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if (!r) {
		fail(0, "no randomness for the registration nonce");
		return -1;
	}
	r = -1;
	n = strlen(id) + 1 + strlen(b64) + 1;
	line = malloc(n + 1);
	if (line == NULL) {
		fail(0, "out of memory");
		goto out;
	}
	snprintf(line, n + 1, "%s %s\n", id, b64);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) != 0 || (errno = -ssm_write_all(fd, line, n)) != 0 ||
	    fsync(fd) != 0) {
		fail(0, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		fail(0, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (replace ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
		if (!replace && errno == EEXIST) {
			r = -EEXIST;
			goto out;
		}
		fail(0, "%s: cannot write: %s", path, strerror(errno));
		goto out;
	}
	*pnonce = b64;
	b64 = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	if (line != NULL) {
		OPENSSL_cleanse(line, n);
		free(line);
	}
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
	}
	return r;
}

/* The nonce of instance id kept in path ("ID NONCE", root's, 0600), or a new one written
 * there.  A nonce is a secret of one instance: a file open to group or others is refused
 * (its nonce may be known: the broker's administrator forgets the instance, the file is
 * removed); a file made for another instance (a configuration directory copied from
 * another host, an image made after its registration) is replaced by a nonce of this
 * instance's own, never presented for this one.  0, or -1 after printing why. */
static int ec2_nonce(const char *path, const char *id, char **pnonce)
{
	char err[512] = "", *buf = NULL, *sp;
	size_t len = 0;
	int r, tries;

	for (tries = 0; tries < 2; tries++) {
		r = ssm_read_file(path, SSM_ENROLL_NONCE_MAX + 32,
				  SSM_FILE_TRUSTED | SSM_FILE_NOFOLLOW | SSM_FILE_PRIVATE, &buf, &len,
				  err, sizeof(err));
		if (r == -ENOENT) {
			r = ec2_nonce_new(path, id, 0, pnonce);
			if (r == -EEXIST && tries == 0)
				continue; /* another registration made it meanwhile: read it */
			if (r == -EEXIST) {
				fail(0, "%s: changed while being made, twice", path);
				return -1;
			}
			return r;
		}
		break;
	}
	if (r < 0) {
		if (r == -EACCES && strstr(err, "open to group or others") != NULL)
			fail(0, "%s (the broker's administrator runs ssm-broker ec2 forget %s, then "
				"remove the file and register again)", err, id);
		else
			fail(0, "%s", err);
		return -1;
	}
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	sp = strchr(buf, ' ');
	if (sp != NULL)
		*sp = '\0';
	if (sp == NULL || !ssm_ca_ec2_id_valid(buf) || !ssm_enroll_nonce_valid(sp + 1)) {
		int bare = sp == NULL && ssm_enroll_nonce_valid(buf);
		OPENSSL_cleanse(buf, len);
		free(buf);
		if (bare) /* the form of the first version, which did not say whose it was */
			fail(0, "%s: a nonce without the instance it was made for: if it is this "
				"instance's, write it as \"%s NONCE\"; if not, remove the file (and "
				"have ssm-broker ec2 forget %s)", path, id, id);
		else
			fail(0, "%s: not a registration nonce (INSTANCE-ID NONCE, the nonce 32 to 128 "
				"of [A-Za-z0-9_-])", path);
		return -1;
	}
	if (strcmp(buf, id) != 0) {
		fprintf(stderr, "ssmctl: register: %s was made for instance %s, not this one (%s):"
				" a new nonce for this instance\n", path, buf, id);
		OPENSSL_cleanse(buf, len);
		free(buf);
		return ec2_nonce_new(path, id, 1, pnonce);
	}
	memmove(buf, sp + 1, strlen(sp + 1) + 1);
	*pnonce = buf;
	return 0;
}

int ssmctl_register(int argc, char **argv)
{
	const char *broker = NULL, *ca_file = NULL, *act_id = NULL, *act_code = NULL;
	const char *imds = SSMCTL_IMDS_DEFAULT, *ec2_sig = "pkcs7";
	char *ec2_doc_text = NULL, *ec2_sig_text = NULL, *nonce = NULL, nonce_path[PATH_MAX];
	struct ssm_ec2id_doc ec2_doc;
	int ec2 = 0;
	char host[SSM_ENROLL_HOST_MAX + 1], dir[PATH_MAX], tmp[PATH_MAX], err[512] = "";
	char key_path[PATH_MAX], cert_path[PATH_MAX], ca_path[PATH_MAX], jwks_path[PATH_MAX];
	char *csr = NULL, *key_pem = NULL, *body = NULL, *resp_body = NULL, *ca_pem = NULL,
	     *cfg_s = NULL, *old = NULL;
	struct ssm_enroll_response *resp = NULL;
	struct ssm_jwks *jwks = NULL;
	struct ssm_config *check = NULL;
	cJSON *cfg = NULL;
	EVP_PKEY *key = NULL;
	X509 *ca_cert = NULL, *cert = NULL;
	int i, port, status = 0, ret = SSMCTL_USAGE, r;
	size_t oldlen = 0;

	for (i = 0; i < argc; i++) {
		const char **dst = NULL;
		if (strcmp(argv[i], "--ec2") == 0) {
			ec2 = 1;
			continue;
		}
		if (strcmp(argv[i], "--imds") == 0)
			dst = &imds;
		else if (strcmp(argv[i], "--ec2-signature") == 0)
			dst = &ec2_sig;
		else if (strcmp(argv[i], "--broker") == 0)
			dst = &broker;
		else if (strcmp(argv[i], "--ca") == 0)
			dst = &ca_file;
		else if (strcmp(argv[i], "--activation-id") == 0)
			dst = &act_id;
		else if (strcmp(argv[i], "--activation-code") == 0)
			dst = &act_code;
		else if (strcmp(argv[i], "--config") == 0)
			dst = &ssmctl_config_path;
		if (dst == NULL || i + 1 >= argc)
			return fail(SSMCTL_USAGE, "usage: ssmctl register --broker URL --ca FILE "
						  "(--activation-id ID --activation-code CODE | --ec2 "
						  "[--imds URL] [--ec2-signature pkcs7|rsa2048]) "
						  "[--config PATH]");
		*dst = argv[++i];
	}
	if (ec2 && (act_id || act_code))
		return fail(SSMCTL_USAGE, "--ec2 registers by the instance identity: no "
					  "--activation-id or --activation-code with it");
	if (!ec2 && (imds != (const char *)SSMCTL_IMDS_DEFAULT || strcmp(ec2_sig, "pkcs7") != 0))
		return fail(SSMCTL_USAGE, "--imds and --ec2-signature go with --ec2");
	if (ec2 && strcmp(ec2_sig, "pkcs7") != 0 && strcmp(ec2_sig, "rsa2048") != 0)
		return fail(SSMCTL_USAGE, "--ec2-signature pkcs7 or rsa2048");
	if (!broker || !ca_file || (!ec2 && (!act_id || !act_code)))
		return fail(SSMCTL_USAGE, "--broker, --ca and either --activation-id and "
					  "--activation-code or --ec2 are required");
	if (ssm_enroll_url_parse(broker, host, sizeof(host), &port) < 0)
		return fail(SSMCTL_USAGE, "--broker %.200s: not https://HOST[:PORT]", broker);
	if (!ec2 && (!ssm_enroll_id_valid(act_id) || !ssm_enroll_code_valid(act_code)))
		return fail(SSMCTL_USAGE, "the activation id or code has characters outside "
					  "[A-Za-z0-9_-]");
	if (ssmctl_config_path[0] != '/')
		return fail(SSMCTL_USAGE, "--config must be an absolute path");
	if (ssm_ca_read_cert(ca_file, &ca_cert, err, sizeof(err)) < 0)
		return fail(SSMCTL_USAGE, "--ca: %s", err);
	/* the existing configuration, if any: its other keys are kept */
	r = ssm_read_file(ssmctl_config_path, SSM_CONFIG_MAX_SIZE, SSM_FILE_TRUSTED, &old, &oldlen,
			  err, sizeof(err));
	if (r == 0) {
		if (ssm_json_parse_object(old, oldlen, &cfg, err, sizeof(err)) < 0) {
			ret = fail(SSMCTL_USAGE, "%s: %s", ssmctl_config_path, err);
			goto out;
		}
	} else if (r == -ENOENT) {
		cfg = cJSON_CreateObject();
	} else {
		ret = fail(SSMCTL_USAGE, "%s", err);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s", ssmctl_config_path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	if (cfg == NULL || path_for(key_path, cfg, "host_key", dir, "host.key") < 0 ||
	    path_for(cert_path, cfg, "host_certificate", dir, "host.crt") < 0 ||
	    path_for(ca_path, cfg, "broker_ca", dir, "broker-ca.pem") < 0 ||
	    path_for(jwks_path, cfg, "trusted_keys", dir, "trusted_keys.jwks") < 0 ||
	    snprintf(nonce_path, sizeof(nonce_path), "%s/ec2-nonce", dir) >= (int)sizeof(nonce_path)) {
		ret = fail(SSMCTL_USAGE, "paths too long");
		goto out;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		ret = fail(SSMCTL_USAGE, "%s: %s", dir, strerror(errno));
		goto out;
	}
	/* 0. on EC2: the identity from the instance metadata service, checked for form here
	 * (the broker verifies its signature) */
	if (ec2) {
		r = ssmctl_imds_identity(imds, ec2_sig, &ec2_doc_text, &ec2_sig_text, err,
					 sizeof(err));
		if (r < 0) {
			ret = fail(r == -EINVAL ? SSMCTL_USAGE : SSMCTL_REFUSED, "%s", err);
			goto out;
		}
		if (ssm_ec2id_doc_parse(ec2_doc_text, strlen(ec2_doc_text), &ec2_doc, err,
					sizeof(err)) < 0) {
			ret = fail(SSMCTL_REFUSED, "the instance metadata service at %.100s: a bad "
						   "answer: %s", imds, err);
			goto out;
		}
		if (ec2_nonce(nonce_path, ec2_doc.instance_id, &nonce) < 0) {
			ret = SSMCTL_USAGE;
			goto out;
		}
	}
	/* 1. the key never leaves this host; it is written only once the broker answered */
	key = ssm_ca_keygen();
	if (key == NULL || ssm_ca_csr_make(key, &csr) < 0 || ssm_ca_key_pem(key, &key_pem) < 0 ||
	    (body = ec2 ? ssm_enroll_request_build_ec2(ec2_doc_text, ec2_sig_text, nonce, csr)
			: ssm_enroll_request_build(act_id, act_code, csr)) == NULL) {
		ret = fail(SSMCTL_REFUSED, "out of memory");
		goto out;
	}
	/* 2. */
	ret = https_post(host, port, ca_file, body, &status, &resp_body);
	if (ret != 0)
		goto out;
	if (status != 200) {
		cJSON *e = NULL;
		const char *msg = NULL;
		if (ssm_json_parse_object(resp_body, strlen(resp_body), &e, NULL, 0) == 0)
			(void)ssm_json_get_string(e, "error", &msg);
		ret = fail(SSMCTL_REFUSED, "the broker refused (HTTP %d): %.300s", status,
			   msg ? msg : "no reason given");
		cJSON_Delete(e);
		goto out;
	}
	ret = SSMCTL_REFUSED;
	if (ssm_enroll_response_parse(resp_body, strlen(resp_body), &resp, err, sizeof(err)) < 0) {
		fail(0, "the broker's answer is invalid: %s", err);
		goto out;
	}
	if (ssm_jwks_parse(resp->jwks, strlen(resp->jwks), &jwks, err, sizeof(err)) < 0) {
		fail(0, "the broker's JWK Set is invalid: %s", err);
		goto out;
	}
	/* the certificate must be for our key, from the CA we trust, naming the id we got */
	{
		char id[SSM_HOST_ID_LEN + 1], serial[SSM_CA_SERIAL_MAX];
		if (ssm_ca_parse_cert(resp->certificate, strlen(resp->certificate), &cert) < 0 ||
		    X509_check_private_key(cert, key) != 1 ||
		    ssm_ca_verify_host(ca_cert, cert, NULL, ssm_now(), NULL, NULL, id, serial, err,
				       sizeof(err)) < 0 ||
		    strcmp(id, resp->host_id) != 0 ||
		    (ec2 && strcmp(resp->host_id, ec2_doc.instance_id) != 0)) {
			fail(0, "the broker's certificate for this host is not valid: %s",
			     err[0] ? err : "not for this key or this host id");
			goto out;
		}
	}
	/* 3. files, then the configuration that names them */
	if (ssm_ca_cert_pem(ca_cert, &ca_pem) < 0 || write_str(key_path, key_pem, 0600) < 0 ||
	    write_str(cert_path, resp->certificate, 0644) < 0 || write_str(ca_path, ca_pem, 0644) < 0 ||
	    write_str(jwks_path, resp->jwks, 0644) < 0)
		goto out;
	if (set_string(cfg, "host_id", resp->host_id) < 0 ||
	    set_string(cfg, "issuer", resp->issuer) < 0 ||
	    set_string(cfg, "trusted_keys", jwks_path) < 0 ||
	    set_string(cfg, "broker_url", broker) < 0 || set_string(cfg, "broker_ca", ca_path) < 0 ||
	    set_string(cfg, "host_certificate", cert_path) < 0 ||
	    set_string(cfg, "host_key", key_path) < 0)
		goto out;
	if (cJSON_HasObjectItem(cfg, "host_tags"))
		cJSON_ReplaceItemInObjectCaseSensitive(cfg, "host_tags", cJSON_Duplicate(resp->tags, 1));
	else
		cJSON_AddItemToObject(cfg, "host_tags", cJSON_Duplicate(resp->tags, 1));
	cfg_s = cJSON_Print(cfg);
	if (cfg_s == NULL || ssm_config_parse(cfg_s, strlen(cfg_s), ssmctl_config_path, &check, err,
					      sizeof(err)) < 0) {
		fail(0, "the new configuration would be invalid: %s; %s unchanged", err,
		     ssmctl_config_path);
		goto out;
	}
	{
		size_t n = strlen(cfg_s);
		char *withnl = malloc(n + 2);
		if (withnl == NULL)
			goto out;
		memcpy(withnl, cfg_s, n);
		withnl[n] = '\n';
		withnl[n + 1] = '\0';
		r = write_str(ssmctl_config_path, withnl, 0644);
		free(withnl);
		if (r < 0)
			goto out;
	}
	printf("%s\n", resp->host_id);
	ret = SSMCTL_OK;
out:
	if (key_pem != NULL) {
		OPENSSL_cleanse(key_pem, strlen(key_pem));
		free(key_pem);
	}
	if (body != NULL) {
		OPENSSL_cleanse(body, strlen(body));
		free(body);
	}
	if (nonce != NULL) {
		OPENSSL_cleanse(nonce, strlen(nonce));
		free(nonce);
	}
	free(ec2_doc_text);
	free(ec2_sig_text);
	free(csr);
	free(resp_body);
	free(ca_pem);
	free(cfg_s);
	free(old);
	ssm_config_free(check);
	ssm_jwks_free(jwks);
	ssm_enroll_response_free(resp);
	cJSON_Delete(cfg);
	EVP_PKEY_free(key);
	X509_free(ca_cert);
	X509_free(cert);
	return ret;
}
