/* json.c - cJSON with the traps closed, see json.h.
 *
 * cJSON alone is lenient in ways that matter for signed tokens and trusted files: it keeps
 * the first of two members with the same name, turns \u0000 into a NUL that silently cuts a
 * string short, takes any byte <= 0x20 as white space, does not check UTF-8, and accepts
 * leading zeros.  So three passes:
 *   1. a scan of the raw bytes: valid UTF-8, no BOM, JSON white space only, the number
 *      grammar of RFC 8259, strings without raw control characters, escapes only of the
 *      JSON set, no escaped U+0000..U+001F/U+007F, surrogate escapes only as proper pairs,
 *      nesting at most SSM_JSON_MAX_DEPTH;
 *   2. cJSON on a NUL-terminated copy, which must consume everything but white space;
 *   3. a walk of the tree: no duplicate member names, decoded strings valid UTF-8, numbers
 *      finite. */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "util.h"

/* the longest number literal accepted (cJSON itself cuts numbers at 63 characters) */
#define SSM_JSON_MAX_NUMBER 63


int ssm_json_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c == 0xe0) {
			n = 2;
			lo = 0xa0; /* overlong below U+0800 */
		} else if (c == 0xed) {
			n = 2;
			hi = 0x9f; /* U+D800..U+DFFF surrogates */
		} else if (c >= 0xe1 && c <= 0xef) {
			n = 2;
		} else if (c == 0xf0) {
			n = 3;
			lo = 0x90; /* overlong below U+10000 */
		} else if (c >= 0xf1 && c <= 0xf3) {
			n = 3;
		} else if (c == 0xf4) {
			n = 3;
			hi = 0x8f; /* above U+10FFFF */
		} else {
			return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
		}
		if (len - i - 1 < n)
			return 0; /* truncated sequence */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += n + 1;
	}
	return 1;
}

static int hex4(const unsigned char *p, unsigned int *pv)
{
	unsigned int v = 0;

	for (int k = 0; k < 4; k++) {
		unsigned char c = p[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*pv = v;
	return 0;
}

/* Scan a string whose opening quote is at s[*pi - 1]; on success *pi is past the closing
 * quote. */
static int scan_string(const unsigned char *s, size_t len, size_t *pi, char *err, size_t errlen)
{
	size_t i = *pi;
	unsigned int cp, lo;

	while (i < len) {
		unsigned char c = s[i];

		if (c == '"') {
			*pi = i + 1;
			return 0;
		}
		if (c < 0x20 || c == 0x7f) {
			ssm_errf(err, errlen, "raw control character 0x%02x in a string at offset %zu",
				 c, i);
			return -EINVAL;
		}
		if (c != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= len)
			break;
		switch (s[i + 1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			i += 2;
			continue;
		case 'u':
			break;
		default:
			ssm_errf(err, errlen, "invalid escape in a string at offset %zu", i);
			return -EINVAL;
		}
		if (len - i < 6 || hex4(s + i + 2, &cp) < 0) {
			ssm_errf(err, errlen, "invalid \\u escape at offset %zu", i);
			return -EINVAL;
		}
		if (cp < 0x20 || cp == 0x7f) {
			ssm_errf(err, errlen, "escaped control character U+%04X at offset %zu", cp, i);
			return -EINVAL;
		}
		if (cp >= 0xdc00 && cp <= 0xdfff) {
			ssm_errf(err, errlen, "lone low surrogate \\u%04X at offset %zu", cp, i);
			return -EINVAL;
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (len - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' ||
			    hex4(s + i + 8, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
				ssm_errf(err, errlen,
					 "high surrogate \\u%04X not followed by a low one at offset %zu",
					 cp, i);
				return -EINVAL;
			}
			i += 12;
			continue;
		}
		i += 6;
	}
	ssm_errf(err, errlen, "unterminated string");
	return -EINVAL;
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 section 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int scan_number(const unsigned char *s, size_t len, size_t *pi, char *err, size_t errlen)
{
	size_t start = *pi, i = *pi;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0') {
		i++;
	} else if (i < len && s[i] >= '1' && s[i] <= '9') {
		while (i < len && is_digit(s[i]))
			i++;
	} else {
		goto bad;
	}
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || !is_digit(s[i]))
			goto bad;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !is_digit(s[i]))
			goto bad;
		while (i < len && is_digit(s[i]))
			i++;
	}
	/* "01", "1.2.3", "1e5e5", "1-2": the number must end here */
	if (i < len && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
			s[i] == '+' || s[i] == '-'))
		goto bad;
	if (i - start > SSM_JSON_MAX_NUMBER) {
		ssm_errf(err, errlen, "number longer than %d characters at offset %zu",
			 SSM_JSON_MAX_NUMBER, start);
		return -EINVAL;
	}
	*pi = i;
	return 0;
bad:
	ssm_errf(err, errlen, "malformed number at offset %zu", start);
	return -EINVAL;
}

static int prescan(const unsigned char *s, size_t len, char *err, size_t errlen)
{
	size_t i = 0;
	int depth = 0, r;

	if (!ssm_json_utf8_valid((const char *)s, len)) {
		ssm_errf(err, errlen, "not valid UTF-8");
		return -EINVAL;
	}
	if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) {
		ssm_errf(err, errlen, "byte order mark before the value");
		return -EINVAL;
	}
	while (i < len) {
		unsigned char c = s[i];

		if (c == '"') {
			i++;
			r = scan_string(s, len, &i, err, errlen);
			if (r < 0)
				return r;
			continue;
		}
		if (c == '-' || is_digit(c)) {
			r = scan_number(s, len, &i, err, errlen);
			if (r < 0)
				return r;
			continue;
		}
		if (c == '{' || c == '[') {
			if (++depth > SSM_JSON_MAX_DEPTH) {
				ssm_errf(err, errlen, "nested deeper than %d levels",
					 SSM_JSON_MAX_DEPTH);
				return -EINVAL;
			}
		} else if (c == '}' || c == ']') {
			if (depth > 0)
				depth--; /* mismatched brackets are cJSON's to refuse */
		} else if (c < 0x20 || c == 0x7f) {
			if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				ssm_errf(err, errlen, "control character 0x%02x at offset %zu", c, i);
				return -EINVAL;
			}
		}
		i++;
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int walk(const cJSON *item, int depth, char *err, size_t errlen)
{
	const cJSON *c;
	const char **names = NULL;
	size_t n = 0, k;
	int r = 0;

	if (cJSON_IsString(item)) {
		if (item->valuestring == NULL ||
		    !ssm_json_utf8_valid(item->valuestring, strlen(item->valuestring))) {
			ssm_errf(err, errlen, "string is not valid UTF-8");
			return -EINVAL;
		}
		return 0;
	}
	if (cJSON_IsNumber(item)) {
		if (!isfinite(item->valuedouble)) {
			ssm_errf(err, errlen, "number out of range");
			return -EINVAL;
		}
		return 0;
	}
	if (!cJSON_IsArray(item) && !cJSON_IsObject(item))
		return 0;
	/* the pre-scan counted this already; the recursion relies on it, so check again */
	if (depth > SSM_JSON_MAX_DEPTH) {
		ssm_errf(err, errlen, "nested deeper than %d levels", SSM_JSON_MAX_DEPTH);
		return -EINVAL;
	}

	for (c = item->child; c != NULL; c = c->next)
		n++;
	if (cJSON_IsObject(item) && n > 1) {
		names = calloc(n, sizeof(*names));
		if (names == NULL) {
			ssm_errf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	k = 0;
	for (c = item->child; c != NULL; c = c->next) {
		if (cJSON_IsObject(item)) {
			if (c->string == NULL ||
			    !ssm_json_utf8_valid(c->string, strlen(c->string))) {
				ssm_errf(err, errlen, "member name is not valid UTF-8");
				r = -EINVAL;
				goto out;
			}
			if (names)
				names[k++] = c->string;
		}
		r = walk(c, depth + 1, err, errlen);
		if (r < 0)
			goto out;
	}
	if (names) {
		qsort(names, n, sizeof(*names), key_cmp);
		for (k = 1; k < n; k++) {
			if (strcmp(names[k - 1], names[k]) == 0) {
				/* the name is untrusted: said only cut short and in printable
				 * ASCII (a newline, an escape or half a UTF-8 sequence must not
				 * reach a log line or an HTTP answer) */
				char shown[41];
				size_t j;

				for (j = 0; j + 1 < sizeof(shown) && names[k][j] != '\0'; j++)
					shown[j] = names[k][j] >= 0x20 && names[k][j] < 0x7f
							   ? names[k][j]
							   : '?';
				shown[j] = '\0';
				ssm_errf(err, errlen, "duplicate member name \"%s\"", shown);
				r = -EINVAL;
				goto out;
			}
		}
	}
out:
	free(names);
	return r;
}

int ssm_json_parse(const char *buf, size_t len, cJSON **pjson, char *err, size_t errlen)
{
	char *copy = NULL;
	cJSON *json = NULL;
	const char *end = NULL;
	int r;

	*pjson = NULL;
	if (buf == NULL || len == 0) {
		ssm_errf(err, errlen, "empty input");
		return -EINVAL;
	}
	if (len == SIZE_MAX) {
		ssm_errf(err, errlen, "input too large");
		return -EINVAL;
	}
	r = prescan((const unsigned char *)buf, len, err, errlen);
	if (r < 0)
		return r;

	/* cJSON wants the terminating NUL inside buffer_length; the pre-scan refused every
	 * NUL in the input, so the copy's only NUL is the terminator. */
	copy = malloc(len + 1);
	if (copy == NULL) {
		ssm_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(copy, buf, len);
	copy[len] = '\0';
	json = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 0);
	if (json == NULL) {
		/* cJSON also fails like this when out of memory; we cannot tell */
		if (end != NULL && end >= copy && end <= copy + len)
			ssm_errf(err, errlen, "not valid JSON (at offset %zu)",
				 (size_t)(end - copy));
		else
			ssm_errf(err, errlen, "not valid JSON");
		r = -EINVAL;
		goto out;
	}
	/* nothing but JSON white space after the value */
	if (end == NULL || end < copy || end > copy + len) {
		ssm_errf(err, errlen, "not valid JSON");
		r = -EINVAL;
		goto out;
	}
	while (end < copy + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (end != copy + len) {
		ssm_errf(err, errlen, "unexpected data after the JSON value (at offset %zu)",
			 (size_t)(end - copy));
		r = -EINVAL;
		goto out;
	}
	r = walk(json, 1, err, errlen);
	if (r < 0)
		goto out;
	*pjson = json;
	json = NULL;
out:
	cJSON_Delete(json);
	free(copy);
	return r;
}

int ssm_json_parse_object(const char *buf, size_t len, cJSON **pjson, char *err, size_t errlen)
{
	cJSON *json = NULL;
	int r;

	*pjson = NULL;
	r = ssm_json_parse(buf, len, &json, err, errlen);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(json)) {
		ssm_errf(err, errlen, "not a JSON object");
		cJSON_Delete(json);
		return -EINVAL;
	}
	*pjson = json;
	return 0;
}

int ssm_json_check_text(const cJSON *item, char *err, size_t errlen)
{
	const cJSON *c;
	const unsigned char *p;
	int r;

	if (item == NULL)
		return 0;
	for (int pass = 0; pass < 2; pass++) {
		p = (const unsigned char *)(pass == 0 ? item->string :
				cJSON_IsString(item) ? item->valuestring : NULL);
		for (; p != NULL && *p; p++) {
			/* U+0080..U+009F are C2 80..C2 9F in UTF-8 */
			if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
				ssm_errf(err, errlen, "control character in %s",
					 pass == 0 ? "a member name" : "a string");
				return -EINVAL;
			}
		}
	}
	if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
		for (c = item->child; c != NULL; c = c->next) {
			r = ssm_json_check_text(c, err, errlen);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

const cJSON *ssm_json_member(const cJSON *obj, const char *name)
{
	if (!cJSON_IsObject(obj) || name == NULL)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

int ssm_json_get_string(const cJSON *obj, const char *name, const char **pval)
{
	const cJSON *item = ssm_json_member(obj, name);

	*pval = NULL;
	if (item == NULL)
		return -ENOENT;
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return -EINVAL;
	*pval = item->valuestring;
	return 0;
}

int ssm_json_get_bool(const cJSON *obj, const char *name, int *pval)
{
	const cJSON *item = ssm_json_member(obj, name);

	*pval = 0;
	if (item == NULL)
		return -ENOENT;
	if (!cJSON_IsBool(item))
		return -EINVAL;
	*pval = cJSON_IsTrue(item) ? 1 : 0;
	return 0;
}

int ssm_json_to_int64(const cJSON *item, int64_t *pval)
{
	double d;

	*pval = 0;
	if (!cJSON_IsNumber(item))
		return -EINVAL;
	d = item->valuedouble;
	if (!isfinite(d))
		return -EINVAL;
	/* [-2^63, 2^63): both bounds are exact doubles; 9223372036854775807 rounds up to 2^63
	 * when parsed and is refused here, as it must be */
	if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
		return -EINVAL;
	if ((double)(int64_t)d != d)
		return -EINVAL; /* fractional */
	*pval = (int64_t)d;
	return 0;
}

int ssm_json_get_int64(const cJSON *obj, const char *name, int64_t *pval)
{
	const cJSON *item = ssm_json_member(obj, name);

	*pval = 0;
	if (item == NULL)
		return -ENOENT;
	return ssm_json_to_int64(item, pval);
}
