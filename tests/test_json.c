/* test_json.c - the strict JSON front end over cJSON: every trap as a table row */
#include "config.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "check.h"

struct row {
	int line;
	const char *in;
	size_t len; /* 0: strlen(in) */
	int want;
};

#define OK(s) { __LINE__, s, 0, 0 }
#define BAD(s) { __LINE__, s, 0, -EINVAL }
#define BADN(s, n) { __LINE__, s, n, -EINVAL }

static const struct row rows[] = {
	/* plain good values */
	OK("{}"),
	OK("[]"),
	OK("0"),
	OK("-0"),
	OK("\"x\""),
	OK("true"),
	OK("null"),
	OK(" \t\r\n{\"a\": [1, 2.5, -3e2, true, false, null, {\"b\": \"c\"}]} \n"),
	OK("{\"a\":1,\"A\":2}"),                 /* case differs: not duplicates */
	OK("{\"a\":{\"x\":1},\"b\":{\"x\":1}}"), /* same name in different objects */
	OK("\"\\u00e9 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""), /* escapes and raw UTF-8 */
	OK("\"\\ud83d\\ude00\""),                  /* a proper surrogate pair */
	OK("\"\\n\\t\\r\\b\\f\\/\\\\\\\"\""),      /* the JSON escapes themselves */
	OK("\"\\u0020\\u007e\\u0080\""),
	OK("1e308"),
	OK("1E+2"),
	OK("-1.25e-3"),
	OK("[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]"),   /* depth 16: the limit */
	OK("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
	   "{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}}}}}}}}"),
	OK("\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\""), /* brackets inside a string do not nest */

	/* duplicate member names: cJSON keeps the first, another parser the last */
	BAD("{\"a\":1,\"a\":2}"),
	BAD("{\"x\":{\"a\":1,\"b\":2,\"a\":3}}"),       /* nested */
	BAD("[{\"k\":1},{\"k\":1,\"k\":1}]"),         /* inside an array */
	BAD("{\"a\":1,\"\\u0061\":2}"),               /* same name, one escaped */
	BAD("{\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"b\":1}"),
	/* ... whose name, said in the message, holds a newline, an ESC, or UTF-8 cut short at
	 * the message's 40 bytes: the message stays one line of printable ASCII */
	BAD("{\"a\\nb\":1,\"a\\nb\":2}"),
	BAD("{\"\\u001b\":1}"),
	BAD("{\"x\\u001b[2J\":1,\"x\\u001b[2J\":1}"),
	BAD("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u00e9\":1,"
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u00e9\":1}"),
	/* NUL: cJSON would cut the string at it */
	BAD("\"ab\\u0000cd\""),
	BAD("{\"sub\\u0000\":1}"),
	BADN("\"ab\0cd\"", 7),                        /* raw NUL in a string */
	BADN("{}\0", 3),                              /* raw NUL after the value */
	BADN("\0{}", 3),
	/* control characters in strings */
	BAD("\"a\tb\""),                              /* raw tab */
	BAD("\"a\nb\""),                              /* raw newline */
	BAD("\"a\x1b[2Jb\""),                         /* raw ESC: terminal injection */
	BAD("\"a\x7f\""),                             /* raw DEL */
	BAD("\"\\u001b[2J\""),                        /* escaped ESC */
	BAD("\"\\u001F\""),
	BAD("\"\\u007f\""),
	BAD("\"\\u000a\""),
	/* control characters between tokens: cJSON takes any byte <= 0x20 as white space */
	BAD("{\x0b}"),
	BAD("{\x0c\"a\":1}"),
	BAD("\x01{}"),
	/* invalid UTF-8 */
	BAD("\"\xc0\x80\""),                          /* overlong NUL */
	BAD("\"\xc1\xbf\""),                          /* overlong */
	BAD("\"\xe0\x80\xaf\""),                      /* overlong '/' */
	BAD("\"\xf0\x80\x80\xaf\""),                  /* overlong, 4 bytes */
	BAD("\"\xed\xa0\x80\""),                      /* surrogate D800 encoded in UTF-8 */
	BAD("\"\xed\xbf\xbf\""),                      /* surrogate DFFF encoded in UTF-8 */
	BAD("\"\xf4\x90\x80\x80\""),                  /* above U+10FFFF */
	BAD("\"\xf5\x80\x80\x80\""),
	BAD("\"\xff\""),
	BAD("\"\x80\""),                              /* lone continuation byte */
	BAD("\"\xc3\""),                              /* truncated 2-byte sequence */
	BAD("\"\xe2\x82\""),                          /* truncated 3-byte sequence */
	BAD("\"\xf0\x9f\x98\""),                      /* truncated 4-byte sequence */
	BADN("\"a\"\xe2\x82", 5),                     /* truncated at the very end */
	BAD("{\"\xc3\x28\":1}"),                      /* bad UTF-8 in a member name */
	/* surrogate escapes */
	BAD("\"\\ud800\""),                           /* lone high */
	BAD("\"\\udc00\""),                           /* lone low */
	BAD("\"\\ude00\\ud83d\""),                    /* misordered pair */
	BAD("\"\\ud83d\\u0041\""),                    /* high then not a low */
	BAD("\"\\ud83d\\ud83d\""),                    /* high then high */
	BAD("\"\\ud83dx\""),
	/* bad escapes */
	BAD("\"\\x41\""),
	BAD("\"\\u12\""),
	BAD("\"\\u12g4\""),
	BAD("\"\\'\""),
	BAD("\"abc"),                                 /* unterminated */
	BAD("\"abc\\"),
	/* trailing data and several values */
	BAD("{} x"),
	BAD("{}{}"),
	BAD("{} {}"),
	BAD("[1] [2]"),
	BAD("1 2"),
	BAD("{}]"),
	BAD("nullx"),
	BAD("{\"a\":1},"),
	/* nesting */
	BAD("[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]"),   /* depth 17 */
	BAD("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["),
	BAD("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
	    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}}}}}}}}}"),
	/* numbers */
	BAD("1e400"),                                 /* overflows to infinity */
	BAD("-1e400"),
	BAD("[1e99999]"),
	BAD("NaN"),
	BAD("Infinity"),
	BAD("-Infinity"),
	BAD("[nan]"),
	BAD("01"),                                    /* leading zero */
	BAD("-01"),
	BAD("1."),
	BAD(".5"),
	BAD("+1"),
	BAD("1e"),
	BAD("1e+"),
	BAD("--1"),
	BAD("0x10"),
	BAD("1.2.3"),
	BAD("[1-2]"),
	BAD("12345678901234567890123456789012345678901234567890123456789012345678"),
	/* other syntax */
	BAD(""),
	BAD("   "),
	BAD("{"),
	BAD("{\"a\"}"),
	BAD("{\"a\":}"),
	BAD("{a:1}"),
	BAD("{'a':1}"),
	BAD("[1,]"),
	BAD("{\"a\":1,}"),
	BAD("/*c*/{}"),
	BAD("\xef\xbb\xbf{}"),                        /* leading BOM */
	BAD("TRUE"),
};

static void test_rows(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *t = &rows[i];
		size_t len = t->len ? t->len : strlen(t->in);
		cJSON *j = (cJSON *)1;
		char err[256] = "";
		int r = ssm_json_parse(t->in, len, &j, err, sizeof(err));

		CHECK_ROW(t->line, r == t->want, "parse returned %d, want %d (%s)", r, t->want, err);
		for (const char *c = err; *c; c++)
			CHECK_ROW(t->line, *c >= 0x20 && *c < 0x7f,
				  "the message holds byte 0x%02x (untrusted bytes said as they are)",
				  (unsigned char)*c);
		if (r == 0)
			CHECK_ROW(t->line, j != NULL, "no tree");
		else
			CHECK_ROW(t->line, j == NULL && err[0] != '\0', "no reset or no message");
		if (r == 0 && j != (cJSON *)1)
			cJSON_Delete(j);
	}
}

struct int_row {
	int line;
	const char *in; /* the value of member "n" */
	int want;
	int64_t val;
};

static const struct int_row int_rows[] = {
	{ __LINE__, "0", 0, 0 },
	{ __LINE__, "-0", 0, 0 },
	{ __LINE__, "1700000000", 0, 1700000000 },
	{ __LINE__, "-42", 0, -42 },
	{ __LINE__, "1e3", 0, 1000 },
	{ __LINE__, "9007199254740992", 0, 9007199254740992LL },
	{ __LINE__, "-9223372036854775808", 0, INT64_MIN },      /* -2^63: in range */
	{ __LINE__, "9223372036854774784", 0, 9223372036854774784LL }, /* largest double < 2^63 */
	{ __LINE__, "1.5", -EINVAL, 0 },                         /* fractional */
	{ __LINE__, "-0.5", -EINVAL, 0 },
	{ __LINE__, "1700000000.000001", -EINVAL, 0 },
	{ __LINE__, "9223372036854775807", -EINVAL, 0 },         /* rounds to 2^63 as a double */
	{ __LINE__, "9223372036854775808", -EINVAL, 0 },         /* 2^63 */
	{ __LINE__, "-9223372036854777856", -EINVAL, 0 },        /* below -2^63 */
	{ __LINE__, "1e19", -EINVAL, 0 },
	{ __LINE__, "-1e19", -EINVAL, 0 },
	{ __LINE__, "1e300", -EINVAL, 0 },                       /* big exponent */
	{ __LINE__, "\"5\"", -EINVAL, 0 },                       /* string, not number */
	{ __LINE__, "true", -EINVAL, 0 },
	{ __LINE__, "null", -EINVAL, 0 },
	{ __LINE__, "[5]", -EINVAL, 0 },
};

static void test_int64(void)
{
	for (size_t i = 0; i < sizeof(int_rows) / sizeof(int_rows[0]); i++) {
		const struct int_row *t = &int_rows[i];
		char buf[128], err[256] = "";
		cJSON *j = NULL;
		int64_t v = 77;
		int r;

		snprintf(buf, sizeof(buf), "{\"n\":%s}", t->in);
		r = ssm_json_parse_object(buf, strlen(buf), &j, err, sizeof(err));
		CHECK_ROW(t->line, r == 0, "parse %s: %s", buf, err);
		if (r != 0)
			continue;
		r = ssm_json_get_int64(j, "n", &v);
		CHECK_ROW(t->line, r == t->want, "get_int64(%s) returned %d, want %d", t->in, r,
			  t->want);
		if (t->want == 0)
			CHECK_ROW(t->line, v == t->val, "value %lld, want %lld", (long long)v,
				  (long long)t->val);
		cJSON_Delete(j);
	}
}

static void test_accessors(void)
{
	const char *doc = "{\"s\":\"str\",\"b\":true,\"f\":false,\"n\":7,\"Name\":\"x\",\"o\":{}}";
	cJSON *j = NULL;
	const char *s = NULL;
	int b = -1;
	int64_t n = 0;
	char err[256] = "";

	CHECK(ssm_json_parse_object(doc, strlen(doc), &j, err, sizeof(err)) == 0, "parse: %s", err);
	CHECK(ssm_json_get_string(j, "s", &s) == 0 && s && strcmp(s, "str") == 0, "get s");
	CHECK(ssm_json_get_string(j, "S", &s) == -ENOENT && s == NULL, "case-sensitive: S");
	CHECK(ssm_json_get_string(j, "name", &s) == -ENOENT, "case-sensitive: name vs Name");
	CHECK(ssm_json_get_string(j, "Name", &s) == 0, "Name");
	CHECK(ssm_json_get_string(j, "n", &s) == -EINVAL, "number is not a string");
	CHECK(ssm_json_get_string(j, "missing", &s) == -ENOENT, "missing");
	CHECK(ssm_json_get_bool(j, "b", &b) == 0 && b == 1, "bool true");
	CHECK(ssm_json_get_bool(j, "f", &b) == 0 && b == 0, "bool false");
	CHECK(ssm_json_get_bool(j, "s", &b) == -EINVAL, "string is not bool");
	CHECK(ssm_json_get_bool(j, "n", &b) == -EINVAL, "number is not bool");
	CHECK(ssm_json_get_int64(j, "n", &n) == 0 && n == 7, "int");
	CHECK(ssm_json_get_int64(j, "x", &n) == -ENOENT, "int missing");
	CHECK(ssm_json_member(j, "o") != NULL, "member o");
	CHECK(ssm_json_member(ssm_json_member(j, "s"), "x") == NULL, "member of a non-object");
	CHECK(ssm_json_member(NULL, "x") == NULL, "member of NULL");
	cJSON_Delete(j);

	/* parse_object refuses other values */
	j = (cJSON *)1;
	CHECK(ssm_json_parse_object("[]", 2, &j, err, sizeof(err)) == -EINVAL && j == NULL,
	      "array is not an object");
	CHECK(ssm_json_parse_object("\"{}\"", 4, &j, err, sizeof(err)) == -EINVAL,
	      "string is not an object");

	/* not NUL-terminated at len: the parser must not read past it */
	{
		char *mb = malloc(2);

		if (mb) {
			memcpy(mb, "{}", 2);
			CHECK(ssm_json_parse(mb, 2, &j, err, sizeof(err)) == 0, "unterminated buffer");
			cJSON_Delete(j);
			memcpy(mb, "12", 2);
			CHECK(ssm_json_parse(mb, 1, &j, err, sizeof(err)) == 0 && j &&
				      j->valuedouble == 1.0,
			      "len is honoured");
			cJSON_Delete(j);
			free(mb);
		}
	}
}

static void test_check_text(void)
{
	static const struct {
		int line;
		const char *in;
		int want;
	} t[] = {
		{ __LINE__, "{\"a\":\"plain \xc3\xa9 text\",\"b\":[\"x\"]}", 0 },
		{ __LINE__, "{\"a\":\"line\\nbreak\"}", -EINVAL }, /* newline via escape */
		{ __LINE__, "{\"a\":[\"tab\\t\"]}", -EINVAL },
		{ __LINE__, "{\"a\\r\":1}", -EINVAL },              /* in a member name */
		{ __LINE__, "{\"a\":{\"b\":\"\\u0085\"}}", -EINVAL }, /* C1 control (NEL) */
		{ __LINE__, "{\"a\":\"\xc2\x9b" "31m\"}", -EINVAL },  /* raw C1 CSI */
		{ __LINE__, "{\"a\":\"\\u00a0\"}", 0 },               /* NBSP is not a control */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cJSON *j = NULL;
		char err[256] = "";
		int r = ssm_json_parse(t[i].in, strlen(t[i].in), &j, err, sizeof(err));

		CHECK_ROW(t[i].line, r == 0, "parse: %s", err);
		r = ssm_json_check_text(j, err, sizeof(err));
		CHECK_ROW(t[i].line, r == t[i].want, "check_text returned %d, want %d", r, t[i].want);
		cJSON_Delete(j);
	}
}

static void test_utf8(void)
{
	CHECK(ssm_json_utf8_valid("", 0), "empty");
	CHECK(ssm_json_utf8_valid("\xf4\x8f\xbf\xbf", 4), "U+10FFFF");
	CHECK(ssm_json_utf8_valid("\xee\x80\x80", 3), "U+E000");
	CHECK(!ssm_json_utf8_valid("\xed\xa0\x80", 3), "surrogate");
	CHECK(!ssm_json_utf8_valid("\xc0\x80", 2), "overlong");
	CHECK(!ssm_json_utf8_valid("\xe2\x82\xac", 2), "cut by len");
}

int main(void)
{
	test_rows();
	test_int64();
	test_accessors();
	test_check_text();
	test_utf8();
	return check_done("json");
}
