/* ec2id.c - EC2 instance identity documents and signatures, see ec2id.h.  JSON through
 * cJSON (lib/json.c), the signature through OpenSSL's PKCS7 API: nothing here decodes DER
 * or checks a signature by hand. */
#include "ec2id.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <cjson/cJSON.h>
#include "ca.h"
#include "json.h"
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}

int ssm_ec2id_account_valid(const char *s)
{
	return s != NULL && ssm_str_charset(s, SSM_EC2ID_ACCOUNT_LEN, SSM_EC2ID_ACCOUNT_LEN,
					    is_digit);
}

/* [a-z]{2} ( -[a-z]+ )+ -[0-9]{1,2}, at most SSM_EC2ID_REGION_MAX characters */
int ssm_ec2id_region_valid(const char *s)
{
	size_t i = 0, n, words = 0, digits = 0;

	if (s == NULL || (n = strlen(s)) < 6 || n > SSM_EC2ID_REGION_MAX)
		return 0;
	if (!is_lower(s[0]) || !is_lower(s[1]) || s[2] != '-')
		return 0;
	i = 3;
	for (;;) {
		size_t start = i;
		while (i < n && is_lower(s[i]))
			i++;
		if (i == start)
			break;
		if (i >= n || s[i] != '-')
			return 0;
		i++;
		words++;
	}
	while (i < n && is_digit(s[i])) {
		i++;
		digits++;
	}
	return words >= 1 && digits >= 1 && digits <= 2 && i == n;
}

int ssm_ec2id_parse_time(const char *s, int64_t *pt)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, i;
	struct tm tm;
	time_t t;

	/* exactly YYYY-MM-DDTHH:MM:SSZ: 20 characters */
	if (s == NULL || strlen(s) != 20)
		return -EINVAL;
	for (i = 0; i < 20; i++) {
		char c = s[i];
		int ok = (i == 4 || i == 7) ? c == '-' : (i == 13 || i == 16) ? c == ':'
			 : i == 10 ? c == 'T' : i == 19 ? c == 'Z' : is_digit(c);
		if (!ok)
			return -EINVAL;
	}
	y = atoi(s);
	mo = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	h = (s[11] - '0') * 10 + (s[12] - '0');
	mi = (s[14] - '0') * 10 + (s[15] - '0');
	sec = (s[17] - '0') * 10 + (s[18] - '0');
	if (y < 2006 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 59)
		return -EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*pt = (int64_t)t;
	return 0;
}

/* name's string value into out (size bytes, NUL included), checked by valid. */
static int get_checked(const cJSON *o, const char *name, int (*valid)(const char *), char *out,
		       size_t size, char *err, size_t errlen)
{
	const char *v;
	int r = ssm_json_get_string(o, name, &v);

	if (r == -ENOENT) {
		ERR("identity document: missing member '%s'", name);
		return -EINVAL;
	}
	if (r < 0 || strlen(v) >= size || !valid(v)) {
		ERR("identity document: member '%s' is not valid", name);
		return -EINVAL;
	}
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int az_char(int c)
{
	return is_lower(c) || is_digit(c) || c == '-';
}

/* region + one lowercase letter, or region + '-' + [a-z0-9-]* ending in [a-z0-9] (Local
 * and Wavelength Zones), at most SSM_EC2ID_AZ_MAX characters */
static int az_valid(const char *az, const char *region)
{
	size_t rl = strlen(region), n = strlen(az);

	if (n <= rl || n > SSM_EC2ID_AZ_MAX || strncmp(az, region, rl) != 0)
		return 0;
	if (n == rl + 1)
		return is_lower(az[rl]);
	return az[rl] == '-' && az[n - 1] != '-' && ssm_str_charset(az + rl, 2, n - rl, az_char);
}

static int time_valid(const char *s)
{
	int64_t t;

	return ssm_ec2id_parse_time(s, &t) == 0;
}

int ssm_ec2id_doc_parse(const char *buf, size_t len, struct ssm_ec2id_doc *doc, char *err,
			size_t errlen)
{
	char when[32];
	const char *az;
	cJSON *root = NULL;
	char jerr[128] = "";
	int r;

	memset(doc, 0, sizeof(*doc));
	if (len > SSM_EC2ID_DOC_MAX) {
		ERR("identity document larger than %d bytes", SSM_EC2ID_DOC_MAX);
		return -EINVAL;
	}
	r = ssm_json_parse_object(buf, len, &root, jerr, sizeof(jerr));
	if (r < 0) {
		ERR("identity document is not a JSON object: %s", jerr);
		return r;
	}
	if ((r = get_checked(root, "instanceId", ssm_ca_ec2_id_valid, doc->instance_id,
			     sizeof(doc->instance_id), err, errlen)) < 0 ||
	    (r = get_checked(root, "accountId", ssm_ec2id_account_valid, doc->account_id,
			     sizeof(doc->account_id), err, errlen)) < 0 ||
	    (r = get_checked(root, "region", ssm_ec2id_region_valid, doc->region,
			     sizeof(doc->region), err, errlen)) < 0 ||
	    (r = get_checked(root, "pendingTime", time_valid, when, sizeof(when), err, errlen)) < 0)
		goto out;
	(void)ssm_ec2id_parse_time(when, &doc->pending_time);
	r = ssm_json_get_string(root, "availabilityZone", &az);
	if (r == 0) {
		if (!az_valid(az, doc->region)) {
			ERR("identity document: availabilityZone is not in its region");
			r = -EINVAL;
			goto out;
		}
		memcpy(doc->availability_zone, az, strlen(az) + 1);
	} else if (r != -ENOENT) {
		ERR("identity document: member 'availabilityZone' is not a string");
		goto out;
	}
	r = 0;
out:
	cJSON_Delete(root);
	if (r < 0)
		memset(doc, 0, sizeof(*doc));
	return r;
}

static void ossl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, size, "no reason given");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
}

/* base64 text (A-Z a-z 0-9 + / =, and \n \r between) to DER, at most SSM_EC2ID_DER_MAX */
static int b64_decode(const char *s, size_t len, unsigned char **pout, int *poutlen, char *err,
		      size_t errlen)
{
	EVP_ENCODE_CTX *ctx = NULL;
	unsigned char *out = NULL;
	int n = 0, m = 0, r = -EINVAL;
	size_t i, chars = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' || c == '\r')
			continue;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '+' ||
		      c == '/' || c == '=')) {
			ERR("signature: not base64 (a character 0x%02x at offset %zu)", c, i);
			return -EINVAL;
		}
		chars++;
	}
	if (chars == 0 || chars % 4 != 0 || chars / 4 * 3 > SSM_EC2ID_DER_MAX) {
		ERR("signature: base64 of a wrong length (%zu characters)", chars);
		return -EINVAL;
	}
	out = malloc(chars / 4 * 3 + 3);
	ctx = EVP_ENCODE_CTX_new();
	if (out == NULL || ctx == NULL) {
		r = -ENOMEM;
		goto out;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)s, (int)len) < 0 ||
	    EVP_DecodeFinal(ctx, out + n, &m) != 1) {
		ERR("signature: not base64");
		goto out;
	}
	*pout = out;
	*poutlen = n + m;
	out = NULL;
	r = 0;
out:
	EVP_ENCODE_CTX_free(ctx);
	free(out);
	return r;
}

int ssm_ec2id_verify(const char *doc, size_t doclen, const char *sig, size_t siglen,
		     STACK_OF(X509) *trusted, char *err, size_t errlen)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	char why[256];
	PKCS7 *p7 = NULL;
	X509_STORE *store = NULL;
	BIO *in = NULL;
	int derlen = 0, r;

	ERR_clear_error();
	if (doclen == 0 || doclen > SSM_EC2ID_DOC_MAX) {
		ERR("identity document: empty or larger than %d bytes", SSM_EC2ID_DOC_MAX);
		return -EINVAL;
	}
	if (siglen > SSM_EC2ID_SIG_MAX) {
		ERR("signature larger than %d bytes", SSM_EC2ID_SIG_MAX);
		return -EINVAL;
	}
	if (trusted == NULL || sk_X509_num(trusted) == 0) {
		ERR("no trusted signing certificate");
		return -EACCES;
	}
	if ((r = b64_decode(sig, siglen, &der, &derlen, err, errlen)) < 0)
		return r;
	r = -EINVAL;
	p = der;
	p7 = d2i_PKCS7(NULL, &p, derlen);
	if (p7 == NULL) {
		ossl_reason(why, sizeof(why));
		ERR("signature: not a DER PKCS#7 structure (%s)", why);
		goto out;
	}
	if (p != der + derlen) {
		ERR("signature: %ld bytes after the PKCS#7 structure", (long)(der + derlen - p));
		goto out;
	}
	if (!PKCS7_type_is_signed(p7)) {
		ERR("signature: the PKCS#7 structure is not signedData");
		goto out;
	}
	if (!PKCS7_get_detached(p7)) {
		ERR("signature: the PKCS#7 structure carries content (a detached signature over "
		    "the document is expected)");
		goto out;
	}
	in = BIO_new_mem_buf(doc, (int)doclen);
	store = X509_STORE_new();
	if (in == NULL || store == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/* NOINTERN: the signer must be one of trusted, never a certificate the signature
	 * carries; NOVERIFY: trusted is the pinned set, no chain to build; BINARY: the bytes
	 * as received, no MIME canonicalisation. */
	if (PKCS7_verify(p7, trusted, store, in, NULL,
			 PKCS7_NOINTERN | PKCS7_NOVERIFY | PKCS7_BINARY) != 1) {
		ossl_reason(why, sizeof(why));
		ERR("signature does not verify against a trusted certificate (%s)", why);
		r = -EACCES;
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	BIO_free(in);
	X509_STORE_free(store);
	PKCS7_free(p7);
	free(der);
	return r;
}
