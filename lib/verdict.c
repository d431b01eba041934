/* verdict.c - struct ssm_verdict and the module <-> ssm-verifyd wire form (verdict.h).
 * Both directions are parsed strictly: a field count, length or charset out of bounds is
 * -EBADMSG, never a partial result. */
#include "config.h"
#include <errno.h>
#include <stdint.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "verdict.h"

#define MAGIC_LEN (sizeof(SSM_VERDICT_MAGIC)) /* with its NUL */
#define USER_MAX 256
#define NFIELDS 9 /* magic, code, why, reason, key, kid, alg, ids, claims */

void ssm_file_id(const char *path, char *out)
{
	struct stat st;

	if (path == NULL || stat(path, &st) != 0) {
		strcpy(out, "-");
		return;
	}
	snprintf(out, SSM_FILE_ID_MAX, "%ju:%ju:%jd:%jd.%09ld:%jd.%09ld", (uintmax_t)st.st_dev,
		 (uintmax_t)st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec, (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

void ssm_document_file_id(const char *documents_dir, const char *name, char *out)
{
	char path[4096];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s.json", documents_dir ? documents_dir : "",
		     name ? name : "");
	if (documents_dir == NULL || name == NULL || n < 0 || (size_t)n >= sizeof(path)) {
		strcpy(out, "-");
		return;
	}
	ssm_file_id(path, out);
}

void ssm_verdict_init(struct ssm_verdict *v)
{
	memset(v, 0, sizeof(*v));
}

void ssm_verdict_clear(struct ssm_verdict *v)
{
	if (v->claims != NULL) {
		explicit_bzero(v->claims, strlen(v->claims));
		free(v->claims);
	}
	explicit_bzero(v, sizeof(*v));
}

void ssm_verdict_fail(struct ssm_verdict *v, int code, const char *why, const char *fmt, ...)
{
	va_list ap;

	if (v->claims != NULL) {
		free(v->claims);
		v->claims = NULL;
	}
	v->code = code;
	snprintf(v->why, sizeof(v->why), "%s", why);
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
	v->key[0] = v->kid[0] = v->alg[0] = '\0';
	/* ids stay: a refusal still says which files it rests on */
}

/* printable ASCII or any byte >= 0x80 (UTF-8 in a reason); no control characters */
static int text_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static int charset_ok(const char *s, size_t len, const char *set)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return 0;
	return 1;
}

#define LOWER_HEX "0123456789abcdef"
#define KID_SET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define WHY_SET "abcdefghijklmnopqrstuvwxyz_"
#define IDS_SET "0123456789:.;-"

int ssm_verify_request_encode(char *buf, size_t size, const char *config_path,
			      const char *user, const char *token, size_t tokenlen)
{
	size_t clen, ulen, n;

	if (config_path == NULL || user == NULL || token == NULL)
		return -EINVAL;
	clen = strlen(config_path);
	ulen = strlen(user);
	if (memchr(token, '\0', tokenlen) != NULL)
		return -EINVAL;
	n = MAGIC_LEN + clen + 1 + ulen + 1 + tokenlen;
	if (n > size || n > SSM_VERIFY_MSG_MAX)
		return -EMSGSIZE;
	memcpy(buf, SSM_VERDICT_MAGIC, MAGIC_LEN);
	memcpy(buf + MAGIC_LEN, config_path, clen + 1);
	memcpy(buf + MAGIC_LEN + clen + 1, user, ulen + 1);
	memcpy(buf + MAGIC_LEN + clen + 1 + ulen + 1, token, tokenlen);
	return (int)n;
}

int ssm_verify_request_decode(char *buf, size_t len, const char **config_path,
			      const char **user, const char **token, size_t *tokenlen)
{
	char *p = buf, *end = buf + len, *z;
	size_t n;

	if (len > SSM_VERIFY_MSG_MAX || len < MAGIC_LEN || memcmp(buf, SSM_VERDICT_MAGIC, MAGIC_LEN))
		return -EBADMSG;
	p += MAGIC_LEN;
	/* config path: absolute, at most PATH_MAX - 1, no control characters */
	z = memchr(p, '\0', (size_t)(end - p));
	if (z == NULL)
		return -EBADMSG;
	n = (size_t)(z - p);
	if (n == 0 || n >= PATH_MAX || p[0] != '/' || !text_ok(p, n))
		return -EBADMSG;
	*config_path = p;
	p = z + 1;
	/* user: 1 to 256 bytes, no control characters (the name rules are the module's) */
	z = memchr(p, '\0', (size_t)(end - p));
	if (z == NULL)
		return -EBADMSG;
	n = (size_t)(z - p);
	if (n == 0 || n > USER_MAX || !text_ok(p, n))
		return -EBADMSG;
	*user = p;
	p = z + 1;
	/* token: the rest, no NUL; it gets a NUL only in the caller's copy */
	if (memchr(p, '\0', (size_t)(end - p)) != NULL)
		return -EBADMSG;
	*token = p;
	*tokenlen = (size_t)(end - p);
	return 0;
}

int ssm_verdict_encode(const struct ssm_verdict *v, char *buf, size_t size)
{
	const char *claims = v->code == 0 && v->claims != NULL ? v->claims : "";
	int n;

	if (size > SSM_VERIFY_MSG_MAX)
		size = SSM_VERIFY_MSG_MAX;
	n = snprintf(buf, size, "%s%c%d%c%s%c%s%c%s%c%s%c%s%c%s%c%s", SSM_VERDICT_MAGIC, 0, v->code,
		     0, v->code ? v->why : "", 0, v->reason, 0, v->code ? "" : v->key, 0,
		     v->code ? "" : v->kid, 0, v->code ? "" : v->alg, 0, v->ids, 0, claims);
	if (n < 0 || (size_t)n >= size)
		return -EMSGSIZE;
	return n;
}

static int parse_code(const char *s, size_t len, int *pcode)
{
	long v = 0;
	size_t i = 0;
	int neg = 0;

	if (len == 1 && s[0] == '0') {
		*pcode = 0;
		return 0;
	}
	if (len < 2 || len > 5 || s[0] != '-' || s[1] == '0')
		return -EBADMSG;
	neg = 1;
	for (i = 1; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		v = v * 10 + (s[i] - '0');
	}
	if (!neg || v < 1 || v > 4095)
		return -EBADMSG;
	*pcode = (int)-v;
	return 0;
}

int ssm_verdict_decode(const char *buf, size_t len, struct ssm_verdict *v)
{
	const char *f[NFIELDS];
	size_t fl[NFIELDS];
	const char *p = buf, *end = buf + len, *z;
	int i, code;

	ssm_verdict_init(v);
	if (len > SSM_VERIFY_MSG_MAX)
		return -EBADMSG;
	for (i = 0; i < NFIELDS - 1; i++) {
		z = memchr(p, '\0', (size_t)(end - p));
		if (z == NULL)
			return -EBADMSG;
		f[i] = p;
		fl[i] = (size_t)(z - p);
		p = z + 1;
	}
	f[i] = p; /* claims: the rest, no NUL */
	fl[i] = (size_t)(end - p);
	if (memchr(f[i], '\0', fl[i]) != NULL)
		return -EBADMSG;
	if (fl[0] != MAGIC_LEN - 1 || memcmp(f[0], SSM_VERDICT_MAGIC, fl[0]) != 0)
		return -EBADMSG;
	if (parse_code(f[1], fl[1], &code) < 0)
		return -EBADMSG;
	if (fl[3] >= sizeof(v->reason) || !text_ok(f[3], fl[3]))
		return -EBADMSG;
	if (fl[7] >= sizeof(v->ids) || !charset_ok(f[7], fl[7], IDS_SET))
		return -EBADMSG;
	if (code == 0) {
		if (fl[2] != 0 || fl[4] != 64 || !charset_ok(f[4], 64, LOWER_HEX) ||
		    fl[5] < 1 || fl[5] > 64 || !charset_ok(f[5], fl[5], KID_SET) || fl[8] == 0 ||
		    !text_ok(f[8], fl[8]))
			return -EBADMSG;
		if (!((fl[6] == 5 && memcmp(f[6], "EdDSA", 5) == 0) ||
		      (fl[6] == 7 && memcmp(f[6], "Ed25519", 7) == 0) ||
		      (fl[6] == 5 && memcmp(f[6], "ES256", 5) == 0)))
			return -EBADMSG;
	} else if (fl[2] < 1 || fl[2] >= sizeof(v->why) || !charset_ok(f[2], fl[2], WHY_SET) ||
		   fl[4] != 0 || fl[5] != 0 || fl[6] != 0 || fl[8] != 0) {
		return -EBADMSG;
	}
	v->code = code;
	memcpy(v->why, f[2], fl[2]);
	memcpy(v->reason, f[3], fl[3]);
	memcpy(v->key, f[4], fl[4]);
	memcpy(v->kid, f[5], fl[5]);
	memcpy(v->alg, f[6], fl[6]);
	memcpy(v->ids, f[7], fl[7]);
	if (code == 0) {
		v->claims = malloc(fl[8] + 1);
		if (v->claims == NULL) {
			ssm_verdict_init(v);
			return -ENOMEM;
		}
		memcpy(v->claims, f[8], fl[8]);
		v->claims[fl[8]] = '\0';
	}
	return 0;
}
