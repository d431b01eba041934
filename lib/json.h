/* json.h - cJSON with the traps closed.
 *
 * ssm_json_parse accepts exactly one JSON value spanning the whole buffer and refuses:
 * invalid UTF-8 anywhere, raw control characters in strings, \u0000 and escaped
 * control characters (U+0000..U+001F, U+007F), lone surrogates, duplicate member names
 * in any object, nesting deeper than SSM_JSON_MAX_DEPTH, and anything after the value
 * (white space excepted). Accessors are case-sensitive. */
#ifndef SSM_JSON_H
#define SSM_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define SSM_JSON_MAX_DEPTH 16

/* 0 or -EINVAL (err says why), -ENOMEM. */
int ssm_json_parse(const char *buf, size_t len, cJSON **pjson, char *err, size_t errlen);
/* Same, and the value must be an object. */
int ssm_json_parse_object(const char *buf, size_t len, cJSON **pjson, char *err, size_t errlen);

/* 1 if the len bytes are valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int ssm_json_utf8_valid(const char *s, size_t len);

/* Stricter text rule for signed tokens (SPEC section 2): no member name or string value
 * anywhere in item holds a control character (U+0000..U+001F, U+007F..U+009F), including
 * the ones the JSON escapes \b \f \n \r \t produce.  0 or -EINVAL (err says why).
 * (Documents and configuration may hold newlines; tokens may not.) */
int ssm_json_check_text(const cJSON *item, char *err, size_t errlen);

/* Case-sensitive member lookup; NULL if absent or obj is not an object. */
const cJSON *ssm_json_member(const cJSON *obj, const char *name);

/* 0, -ENOENT (absent), -EINVAL (wrong type or out of range). */
int ssm_json_get_string(const cJSON *obj, const char *name, const char **pval);
int ssm_json_get_bool(const cJSON *obj, const char *name, int *pval);
/* Integral, finite and within the signed 64-bit range. */
int ssm_json_get_int64(const cJSON *obj, const char *name, int64_t *pval);
int ssm_json_to_int64(const cJSON *item, int64_t *pval);

#endif
