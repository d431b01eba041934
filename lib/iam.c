/* iam.c - AWS IAM identity-policy evaluation, see iam.h and docs/IAM.md.
 *
 * Parsing copies everything it needs out of the JSON and checks every value against the
 * operator that will compare it, so evaluation never meets a malformed policy.  Evaluation
 * builds a small table of the request context (keys compared case-insensitively), expands
 * policy variables into a pattern buffer (chars plus a mask telling which '*' and '?' are
 * wildcards: text substituted from a variable, a default or ${*} ${?} ${$} never is), and
 * walks the statements. */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iam.h"
#include "json.h"

/* ------------------------------------------------------------------ operators */

enum kind { K_STR, K_STR_IC, K_LIKE, K_NUM, K_DATE, K_BOOL, K_BIN, K_IP, K_ARN, K_NULL };
enum cmp { C_EQ, C_LT, C_LE, C_GT, C_GE };

struct opdef {
	const char *name;
	enum kind kind;
	enum cmp cmp;
	int negated; /* multiple values: NOR instead of OR; a missing key: true */
};

static const struct opdef opdefs[] = {
	{ "StringEquals", K_STR, C_EQ, 0 },
	{ "StringNotEquals", K_STR, C_EQ, 1 },
	{ "StringEqualsIgnoreCase", K_STR_IC, C_EQ, 0 },
	{ "StringNotEqualsIgnoreCase", K_STR_IC, C_EQ, 1 },
	{ "StringLike", K_LIKE, C_EQ, 0 },
	{ "StringNotLike", K_LIKE, C_EQ, 1 },
	{ "NumericEquals", K_NUM, C_EQ, 0 },
	{ "NumericNotEquals", K_NUM, C_EQ, 1 },
	{ "NumericLessThan", K_NUM, C_LT, 0 },
	{ "NumericLessThanEquals", K_NUM, C_LE, 0 },
	{ "NumericGreaterThan", K_NUM, C_GT, 0 },
	{ "NumericGreaterThanEquals", K_NUM, C_GE, 0 },
	{ "DateEquals", K_DATE, C_EQ, 0 },
	{ "DateNotEquals", K_DATE, C_EQ, 1 },
	{ "DateLessThan", K_DATE, C_LT, 0 },
	{ "DateLessThanEquals", K_DATE, C_LE, 0 },
	{ "DateGreaterThan", K_DATE, C_GT, 0 },
	{ "DateGreaterThanEquals", K_DATE, C_GE, 0 },
	{ "Bool", K_BOOL, C_EQ, 0 },
	{ "BinaryEquals", K_BIN, C_EQ, 0 },
	{ "IpAddress", K_IP, C_EQ, 0 },
	{ "NotIpAddress", K_IP, C_EQ, 1 },
	{ "ArnEquals", K_ARN, C_EQ, 0 },
	{ "ArnLike", K_ARN, C_EQ, 0 },
	{ "ArnNotEquals", K_ARN, C_EQ, 1 },
	{ "ArnNotLike", K_ARN, C_EQ, 1 },
	{ "Null", K_NULL, C_EQ, 0 },
};

enum qual { Q_NONE, Q_FORALL, Q_FORANY };

/* ------------------------------------------------------------------ parsed policy */

struct cval {
	char *text;          /* the value as written (numbers and booleans as text) */
	double num;          /* K_NUM */
	int64_t ms;          /* K_DATE: milliseconds since the epoch */
	unsigned char ip[16]; /* K_IP: network, v4 in the first 4 bytes */
	int ip6, plen;
	unsigned char *bin; /* K_BIN: decoded bytes */
	size_t binlen;
	int flag; /* K_BOOL, K_NULL without variables: 1 true, 0 false */
};

struct cond {
	const struct opdef *op;
	enum qual qual;
	int if_exists;
	char *opname; /* as written, for messages */
	char *key;
	struct cval *vals;
	size_t nvals;
};

struct stmt {
	char *sid;
	int deny;
	int not_action, not_resource;
	char **actions;
	size_t nactions;
	char **resources;
	size_t nresources;
	struct cond *conds;
	size_t nconds;
};

struct ssm_iam_policy {
	char *name;
	int vars; /* Version 2012-10-17: policy variables are substituted */
	struct stmt *st;
	size_t nst;
};

/* ------------------------------------------------------------------ small helpers */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int strieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lc((unsigned char)*a) != lc((unsigned char)*b))
			return 0;
	return *a == *b;
}

static int strnieq(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);

	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return 0;
	return 1;
}

/* length of the UTF-8 character at s (1 for a stray byte), at most n */
static size_t u8len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t l = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

	return l > n ? n : l;
}

/* ------------------------------------------------------------------ values */

/* decimal number: -?digits(.digits)? */
static int parse_num(const char *s, double *out)
{
	const char *p = s;
	char *end;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p || p - s > 64)
		return 0;
	errno = 0;
	*out = strtod(s, &end);
	return *end == '\0' && isfinite(*out);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int mdays(int y, int m)
{
	static const int md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : md[m - 1];
}

/* W3C ISO 8601 profiles (YYYY-MM-DD[Thh:mm[:ss[.s+]]TZD], YYYY-MM, and epoch seconds (digits
 * only; so a bare 4-digit year is read as epoch seconds) -> milliseconds since the epoch */
static int parse_date(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
	const char *p;

	if (n == 0 || n > 40)
		return 0;
	if (strspn(s, "0123456789") == n) {
		if (n > 12)
			return 0;
		*out = (int64_t)strtoll(s, NULL, 10) * 1000;
		return 1;
	}
	if (n < 7 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || mo < 1 ||
	    mo > 12)
		return 0;
	p = s + 7;
	if (*p == '\0')
		goto done;
	if (*p != '-' || !digits(p + 1, 2, &d) || d < 1 || d > mdays(y, mo))
		return 0;
	p += 3;
	if (*p == '\0')
		goto done;
	if (*p != 'T' || !digits(p + 1, 2, &h) || h > 23 || p[3] != ':' ||
	    !digits(p + 4, 2, &mi) || mi > 59)
		return 0;
	p += 6;
	if (*p == ':') {
		if (!digits(p + 1, 2, &sec) || sec > 59)
			return 0;
		p += 3;
		if (*p == '.') {
			int k = 0, scale = 100;

			p++;
			while (*p >= '0' && *p <= '9') {
				if (k < 3)
					ms += (*p - '0') * scale;
				scale /= 10;
				k++;
				p++;
			}
			if (k == 0 || k > 9)
				return 0;
		}
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;

		if (!digits(p + 1, 2, &oh) || oh > 23 || p[3] != ':' || !digits(p + 4, 2, &om) ||
		    om > 59)
			return 0;
		off = (oh * 60 + om) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return 0; /* a time needs its zone designator */
	}
	if (*p)
		return 0;
done:
	*out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off * 60) *
		1000) + ms;
	return 1;
}

/* an address (cidr 0) or a CIDR block (cidr 1: "/n" optional, default /32 or /128) */
static int parse_ip(const char *s, int cidr, unsigned char ip[16], int *ip6, int *plen)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned char a6[16];

	if (n == 0 || n >= sizeof(buf) || (slash && !cidr))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, buf, ip) == 1) {
		*ip6 = 0;
		*plen = 32;
	} else if (inet_pton(AF_INET6, buf, a6) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (!cidr && memcmp(a6, mapped, 12) == 0) { /* ::ffff:a.b.c.d is a.b.c.d */
			memcpy(ip, a6 + 12, 4);
			*ip6 = 0;
			*plen = 32;
		} else {
			memcpy(ip, a6, 16);
			*ip6 = 1;
			*plen = 128;
		}
	} else {
		return 0;
	}
	if (slash) {
		int v, max = *ip6 ? 128 : 32;
		size_t dl = strlen(slash + 1);

		if (dl == 0 || dl > 3 || !digits(slash + 1, (int)dl, &v) || v > max ||
		    (dl > 1 && slash[1] == '0'))
			return 0;
		*plen = v;
	}
	return 1;
}

static int ip_in(const unsigned char net[16], int net6, int plen, const unsigned char a[16],
		 int a6)
{
	int full = plen / 8, rest = plen % 8;

	if (net6 != a6)
		return 0;
	if (memcmp(net, a, (size_t)full) != 0)
		return 0;
	if (rest) {
		unsigned char m = (unsigned char)(0xff << (8 - rest));

		if ((net[full] & m) != (a[full] & m))
			return 0;
	}
	return 1;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* standard base64, padding optional; out has room for strlen(s) bytes */
static int b64dec(const char *s, unsigned char *out, size_t *outlen)
{
	size_t n = strlen(s), o = 0;
	unsigned int acc = 0;
	int bits = 0;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (strlen(s) - n > 2 || n % 4 == 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);

		if (v < 0)
			return 0;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0)
		return 0; /* non-canonical trailing bits */
	*outlen = o;
	return 1;
}

/* ------------------------------------------------------------------ policy variables */

static int varname_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("_+=.@:/-", c) != NULL;
}

struct var {
	const char *name; /* special: "*", "?", "$" */
	size_t namelen;
	const char *def; /* NULL: no default */
	size_t deflen;
	size_t len; /* of the whole ${...} */
};

/* s points at "${": 1 and *v, or 0 (err says why) */
static int var_parse(const char *s, struct var *v, char *err, size_t errlen)
{
	const char *p = s + 2;

	memset(v, 0, sizeof(*v));
	if ((*p == '*' || *p == '?' || *p == '$') && p[1] == '}') {
		v->name = p;
		v->namelen = 1;
		v->len = 4;
		return 1;
	}
	v->name = p;
	while (*p && varname_char((unsigned char)*p))
		p++;
	v->namelen = (size_t)(p - v->name);
	if (v->namelen == 0) {
		seterr(err, errlen, "empty or malformed policy variable at \"%.20s\"", s);
		return 0;
	}
	if (*p == ',') {
		p++;
		while (*p == ' ')
			p++;
		if (*p != '\'') {
			seterr(err, errlen, "policy variable default must be quoted: \"%.40s\"", s);
			return 0;
		}
		v->def = ++p;
		while (*p && *p != '\'')
			p++;
		if (*p != '\'') {
			seterr(err, errlen, "policy variable default not closed: \"%.40s\"", s);
			return 0;
		}
		v->deflen = (size_t)(p - v->def);
		p++;
		while (*p == ' ')
			p++;
	}
	if (*p != '}') {
		seterr(err, errlen, "malformed policy variable (no '}' or a bad character) at \"%.40s\"",
		       s);
		return 0;
	}
	v->len = (size_t)(p + 1 - s);
	return 1;
}

/* every ${...} in s well formed; *first set to the offset of the first one (or -1) */
static int vars_check(const char *s, long *first, char *err, size_t errlen)
{
	struct var v;

	*first = -1;
	for (const char *p = s; (p = strstr(p, "${")) != NULL; p += v.len) {
		if (!var_parse(p, &v, err, errlen))
			return 0;
		if (*first < 0)
			*first = p - s;
	}
	return 1;
}

/* ------------------------------------------------------------------ request context */

struct ckey {
	const char *name;
	const char **v; /* values; nv == 0: not present */
	size_t nv;
};

struct ctx {
	struct ckey *k;
	size_t n;
	char **owned; /* strings made from numbers and booleans */
	size_t nowned;
	const char *ovname, *ovval; /* an override (ssm:SessionDocumentAccessCheck) */
	const char *ovv[1];
};

static void ctx_free(struct ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->k[i].v);
	free(c->k);
	for (size_t i = 0; i < c->nowned; i++)
		free(c->owned[i]);
	free(c->owned);
	memset(c, 0, sizeof(*c));
}

static const char *scalar_text(struct ctx *c, const cJSON *it, int *bad)
{
	char buf[64], *s;

	if (cJSON_IsString(it)) {
		if (strlen(it->valuestring) > SSM_IAM_MAX_CONTEXT_VALUE)
			*bad = 1;
		return it->valuestring;
	}
	if (cJSON_IsTrue(it))
		return "true";
	if (cJSON_IsFalse(it))
		return "false";
	if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;

		if (!isfinite(d)) {
			*bad = 1;
			return NULL;
		}
		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			snprintf(buf, sizeof(buf), "%.0f", d);
		else
			snprintf(buf, sizeof(buf), "%.17g", d);
		s = strdup(buf);
		if (!s)
			return NULL;
		c->owned[c->nowned++] = s;
		return s;
	}
	*bad = 1;
	return NULL;
}

static int ctx_build(struct ctx *c, const cJSON *obj, char *err, size_t errlen)
{
	const cJSON *it;
	size_t n = 0, nscalar = 0;

	memset(c, 0, sizeof(*c));
	if (!obj)
		return 0;
	if (!cJSON_IsObject(obj)) {
		seterr(err, errlen, "request context is not a JSON object");
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, obj) {
		n++;
		nscalar += cJSON_IsArray(it) ? (size_t)cJSON_GetArraySize(it) : 1;
	}
	if (n > SSM_IAM_MAX_CONTEXT_KEYS || nscalar > SSM_IAM_MAX_CONTEXT_KEYS * 4) {
		seterr(err, errlen, "request context too large");
		return -EINVAL;
	}
	c->k = calloc(n ? n : 1, sizeof(*c->k));
	c->owned = calloc(nscalar ? nscalar : 1, sizeof(char *));
	if (!c->k || !c->owned)
		goto nomem;
	cJSON_ArrayForEach(it, obj) {
		struct ckey *k = &c->k[c->n];
		int bad = 0;

		if (!it->string || !it->string[0]) {
			seterr(err, errlen, "request context: empty key name");
			goto inval;
		}
		for (size_t j = 0; j < c->n; j++)
			if (strieq(c->k[j].name, it->string)) {
				seterr(err, errlen, "request context: key %s twice (names are case-insensitive)",
				       it->string);
				goto inval;
			}
		k->name = it->string;
		c->n++;
		if (cJSON_IsNull(it))
			continue;
		if (cJSON_IsArray(it)) {
			const cJSON *e;
			size_t m = (size_t)cJSON_GetArraySize(it);

			k->v = calloc(m ? m : 1, sizeof(char *));
			if (!k->v)
				goto nomem;
			cJSON_ArrayForEach(e, it) {
				const char *t = scalar_text(c, e, &bad);

				if (bad)
					break;
				if (!t)
					goto nomem;
				k->v[k->nv++] = t;
			}
		} else {
			const char *t;

			k->v = calloc(1, sizeof(char *));
			if (!k->v)
				goto nomem;
			t = scalar_text(c, it, &bad);
			if (!bad && !t)
				goto nomem;
			if (!bad)
				k->v[k->nv++] = t;
		}
		if (bad) {
			seterr(err, errlen,
			       "request context: %s must be a string, number, boolean or list of them (at most %d bytes each)",
			       it->string, SSM_IAM_MAX_CONTEXT_VALUE);
			goto inval;
		}
	}
	return 0;
nomem:
	ctx_free(c);
	seterr(err, errlen, "out of memory");
	return -ENOMEM;
inval:
	ctx_free(c);
	return -EINVAL;
}

/* the values of a key (n == 0: not present) */
static const char *const *ctx_get(const struct ctx *c, const char *name, size_t namelen,
				  size_t *n)
{
	if (c->ovname && strnieq(name, namelen, c->ovname)) {
		*n = 1;
		return c->ovv;
	}
	for (size_t i = 0; i < c->n; i++)
		if (strnieq(name, namelen, c->k[i].name)) {
			*n = c->k[i].nv;
			return c->k[i].v;
		}
	*n = 0;
	return NULL;
}

/* ------------------------------------------------------------------ expansion and matching */

#define W_LIT 0
#define W_STAR 1
#define W_QMARK 2

struct xbuf {
	char *s;
	unsigned char *w;
	size_t n, cap;
};

static int xput(struct xbuf *b, const char *s, size_t n, int wildcards)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *ns = realloc(b->s, cap);

		if (!ns)
			return -ENOMEM;
		b->s = ns;
		unsigned char *nw = realloc(b->w, cap);

		if (!nw)
			return -ENOMEM;
		b->w = nw;
		b->cap = cap;
	}
	for (size_t i = 0; i < n; i++) {
		b->s[b->n] = s[i];
		b->w[b->n] = !wildcards ? W_LIT : s[i] == '*' ? W_STAR : s[i] == '?' ? W_QMARK : W_LIT;
		b->n++;
	}
	b->s[b->n] = '\0';
	return 0;
}

/* Expand policy text: 1 done, 0 a variable has no value (and no default), <0 error.
 * vars: substitute (Version 2012-10-17); wildcards: '*' '?' written in the policy are
 * wildcards.  Substituted text is always literal. */
static int expand(const char *s, int vars, int wildcards, const struct ctx *c, struct xbuf *b)
{
	const char *p = s;

	b->n = 0;
	if (xput(b, "", 0, 0) < 0)
		return -ENOMEM;
	while (*p) {
		const char *q = vars ? strstr(p, "${") : NULL;
		struct var v;
		int r;

		if (!q) {
			return xput(b, p, strlen(p), wildcards) < 0 ? -ENOMEM : 1;
		}
		if (xput(b, p, (size_t)(q - p), wildcards) < 0)
			return -ENOMEM;
		if (!var_parse(q, &v, NULL, 0))
			return 0; /* checked at parse; cannot happen */
		if (v.namelen == 1 && (*v.name == '*' || *v.name == '?' || *v.name == '$')) {
			r = xput(b, v.name, 1, 0);
		} else {
			size_t n;
			const char *const *vals = ctx_get(c, v.name, v.namelen, &n);

			if (n == 1)
				r = xput(b, vals[0], strlen(vals[0]), 0);
			else if (v.def) /* absent, or multivalued: no single value */
				r = xput(b, v.def, v.deflen, 0);
			else
				return 0;
		}
		if (r < 0)
			return -ENOMEM;
		p = q + v.len;
	}
	return 1;
}

/* glob over a pattern buffer range; '?' is one UTF-8 character */
static int glob(const char *p, const unsigned char *w, size_t pn, const char *s, size_t sn,
		int icase)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < sn) {
		if (pi < pn && w[pi] == W_QMARK) {
			pi++;
			si += u8len(s + si, sn - si);
		} else if (pi < pn && w[pi] == W_STAR) {
			star = pi++;
			mark = si;
		} else if (pi < pn && w[pi] == W_LIT &&
			   (icase ? lc((unsigned char)p[pi]) == lc((unsigned char)s[si])
				  : p[pi] == s[si])) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			mark += u8len(s + mark, sn - mark);
			si = mark;
		} else {
			return 0;
		}
	}
	while (pi < pn && w[pi] == W_STAR)
		pi++;
	return pi == pn;
}

/* offsets of the 5 first colons; 0 if fewer */
static int arn_split(const char *s, size_t n, size_t cut[5])
{
	int k = 0;

	for (size_t i = 0; i < n && k < 5; i++)
		if (s[i] == ':')
			cut[k++] = i;
	return k == 5;
}

/* ARN matching: the six colon-separated parts one by one (the last one is everything after
 * the fifth colon), each with '*' and '?'; a pattern that is not a six-part ARN ("*")
 * is matched against the whole value */
static int arn_match(const struct xbuf *b, const char *v)
{
	size_t pc[5], vc[5], vn = strlen(v);
	size_t ps = 0, vs = 0;

	if (!arn_split(b->s, b->n, pc))
		return glob(b->s, b->w, b->n, v, vn, 0);
	if (!arn_split(v, vn, vc))
		return 0;
	for (int i = 0; i <= 5; i++) {
		size_t pe = i < 5 ? pc[i] : b->n, ve = i < 5 ? vc[i] : vn;

		if (!glob(b->s + ps, b->w + ps, pe - ps, v + vs, ve - vs, 0))
			return 0;
		ps = pe + 1;
		vs = ve + 1;
	}
	return 1;
}

/* ------------------------------------------------------------------ evaluation */

struct evalstate {
	const struct ctx *c;
	struct xbuf b;
};

/* does the policy value pv match the context value v (positive sense)?  1, 0, <0 */
static int value_match(const struct ssm_iam_policy *pol, const struct cond *cd,
		       const struct cval *pv, const char *v, struct evalstate *es)
{
	const struct opdef *op = cd->op;
	int r;

	switch (op->kind) {
	case K_STR:
	case K_STR_IC:
	case K_LIKE:
	case K_ARN:
	case K_BOOL:
		r = expand(pv->text, pol->vars, op->kind == K_LIKE || op->kind == K_ARN, es->c,
			   &es->b);
		if (r <= 0)
			return r; /* a variable with no value: no equal or like value */
		if (op->kind == K_STR)
			return strlen(v) == es->b.n && memcmp(v, es->b.s, es->b.n) == 0;
		if (op->kind == K_STR_IC || op->kind == K_BOOL)
			return strieq(v, es->b.s) && strlen(v) == es->b.n;
		if (op->kind == K_LIKE)
			return glob(es->b.s, es->b.w, es->b.n, v, strlen(v), 0);
		return arn_match(&es->b, v);
	case K_NUM: {
		double d;

		if (!parse_num(v, &d))
			return 0;
		switch (op->cmp) {
		case C_EQ: return d == pv->num;
		case C_LT: return d < pv->num;
		case C_LE: return d <= pv->num;
		case C_GT: return d > pv->num;
		case C_GE: return d >= pv->num;
		}
		return 0;
	}
	case K_DATE: {
		int64_t t;

		if (!parse_date(v, &t))
			return 0;
		switch (op->cmp) {
		case C_EQ: return t == pv->ms;
		case C_LT: return t < pv->ms;
		case C_LE: return t <= pv->ms;
		case C_GT: return t > pv->ms;
		case C_GE: return t >= pv->ms;
		}
		return 0;
	}
	case K_IP: {
		unsigned char a[16];
		int a6, al;

		if (!parse_ip(v, 0, a, &a6, &al))
			return 0;
		return ip_in(pv->ip, pv->ip6, pv->plen, a, a6);
	}
	case K_BIN: {
		size_t n = strlen(v), got;
		unsigned char *buf = malloc(n + 1);

		if (!buf)
			return -ENOMEM;
		r = b64dec(v, buf, &got) && got == pv->binlen && memcmp(buf, pv->bin, got) == 0;
		free(buf);
		return r;
	}
	case K_NULL:
		return 0; /* handled by the caller */
	}
	return 0;
}

/* the operator on one context value: OR over the policy values, NOR when negated */
static int one_value(const struct ssm_iam_policy *pol, const struct cond *cd, const char *v,
		     struct evalstate *es)
{
	for (size_t i = 0; i < cd->nvals; i++) {
		int r = value_match(pol, cd, &cd->vals[i], v, es);

		if (r < 0)
			return r;
		if (r)
			return !cd->op->negated;
	}
	return cd->op->negated;
}

static int cond_holds(const struct ssm_iam_policy *pol, const struct cond *cd,
		      struct evalstate *es)
{
	size_t n;
	const char *const *v = ctx_get(es->c, cd->key, strlen(cd->key), &n);

	if (cd->op->kind == K_NULL) {
		for (size_t i = 0; i < cd->nvals; i++)
			if (cd->vals[i].flag == (n == 0))
				return 1;
		return 0;
	}
	if (n == 0) {
		if (cd->qual == Q_FORALL)
			return 1; /* no values: all of them match */
		if (cd->qual == Q_FORANY)
			return 0; /* no values: none matches (IfExists does not change it) */
		if (cd->if_exists)
			return 1;
		return cd->op->negated; /* a missing key: positive false, negated true */
	}
	if (cd->qual == Q_FORALL) {
		for (size_t i = 0; i < n; i++) {
			int r = one_value(pol, cd, v[i], es);

			if (r <= 0)
				return r;
		}
		return 1;
	}
	if (cd->qual == Q_FORANY) {
		for (size_t i = 0; i < n; i++) {
			int r = one_value(pol, cd, v[i], es);

			if (r != 0)
				return r;
		}
		return 0;
	}
	/* no set operator: with one value as documented; with several, the positive operator
	 * holds if any of them matches and a negated one if none does */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < cd->nvals; j++) {
			int r = value_match(pol, cd, &cd->vals[j], v[i], es);

			if (r < 0)
				return r;
			if (r)
				return !cd->op->negated;
		}
	}
	return cd->op->negated;
}

static int stmt_applies(const struct ssm_iam_policy *pol, const struct stmt *st,
			const char *action, const char *resource, struct evalstate *es)
{
	int hit = 0, r;

	for (size_t i = 0; i < st->nactions && !hit; i++) {
		r = expand(st->actions[i], 0, 1, es->c, &es->b);
		if (r < 0)
			return r;
		hit = glob(es->b.s, es->b.w, es->b.n, action, strlen(action), 1);
	}
	if (hit == st->not_action)
		return 0;
	hit = 0;
	for (size_t i = 0; i < st->nresources && !hit; i++) {
		r = expand(st->resources[i], pol->vars, 1, es->c, &es->b);
		if (r < 0)
			return r;
		if (r == 0)
			continue; /* a variable with no value: this entry matches no resource */
		hit = arn_match(&es->b, resource);
	}
	if (hit == st->not_resource)
		return 0;
	for (size_t i = 0; i < st->nconds; i++) {
		r = cond_holds(pol, &st->conds[i], es);
		if (r <= 0)
			return r;
	}
	return 1;
}

static int eval_ctx(const struct ssm_iam_policy *const *pols, size_t npols, const char *action,
		    const char *resource, const struct ctx *c, struct ssm_iam_result *res,
		    char *err, size_t errlen)
{
	struct evalstate es = { .c = c };
	const struct ssm_iam_policy *apol = NULL;
	size_t ai = 0;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	res->decision = SSM_IAM_IMPLICIT_DENY;
	res->statement = -1;
	res->resource = resource;
	for (size_t p = 0; p < npols; p++) {
		const struct ssm_iam_policy *pol = pols[p];

		if (!pol)
			continue;
		for (size_t i = 0; i < pol->nst; i++) {
			const struct stmt *st = &pol->st[i];
			int r;

			if (!st->deny && apol)
				continue; /* an Allow already found: only a Deny can change it */
			r = stmt_applies(pol, st, action, resource, &es);
			if (r < 0) {
				seterr(err, errlen, "out of memory");
				rc = r;
				goto out;
			}
			if (!r)
				continue;
			if (st->deny) {
				res->decision = SSM_IAM_EXPLICIT_DENY;
				res->policy = pol->name;
				res->sid = st->sid;
				res->statement = (int)i;
				goto out;
			}
			apol = pol;
			ai = i;
		}
	}
	if (apol) {
		res->decision = SSM_IAM_ALLOW;
		res->policy = apol->name;
		res->sid = apol->st[ai].sid;
		res->statement = (int)ai;
	}
out:
	free(es.b.s);
	free(es.b.w);
	return rc;
}

static int req_ok(const char *action, const char *resource, char *err, size_t errlen)
{
	if (!action || !*action || strlen(action) > SSM_IAM_MAX_STRING) {
		seterr(err, errlen, "request without a valid action");
		return 0;
	}
	if (!resource || !*resource || strlen(resource) > SSM_IAM_MAX_STRING) {
		seterr(err, errlen, "request without a valid resource");
		return 0;
	}
	return 1;
}

int ssm_iam_evaluate(const struct ssm_iam_policy *const *pols, size_t npols,
		     const struct ssm_iam_request *req, struct ssm_iam_result *res, char *err,
		     size_t errlen)
{
	struct ctx c;
	int rc;

	memset(res, 0, sizeof(*res));
	res->statement = -1;
	if (!req || !req_ok(req->action, req->resource, err, errlen) || (npols && !pols))
		return -EINVAL;
	rc = ctx_build(&c, req->context, err, errlen);
	if (rc < 0)
		return rc;
	rc = eval_ctx(pols, npols, req->action, req->resource, &c, res, err, errlen);
	ctx_free(&c);
	return rc;
}

#define SDAC "ssm:SessionDocumentAccessCheck"

static int is_default_document(const char *arn)
{
	const char *slash = strrchr(arn, '/');
	const char *tail = ":document/" SSM_IAM_DEFAULT_SESSION_DOCUMENT;
	size_t n = strlen(arn), tn = strlen(tail);

	return slash && n >= tn && strcmp(arn + n - tn, tail) == 0;
}

int ssm_iam_start_session(const struct ssm_iam_policy *const *pols, size_t npols,
			  const struct ssm_iam_session *s, struct ssm_iam_result *res, char *err,
			  size_t errlen)
{
	struct ctx tc, dc;
	struct ssm_iam_result skip, check, doc;
	const char *act = "ssm:StartSession";
	int rc;

	memset(res, 0, sizeof(*res));
	res->statement = -1;
	if (!s || !req_ok(act, s->target_arn, err, errlen) ||
	    !req_ok(act, s->document_arn, err, errlen) || (npols && !pols))
		return -EINVAL;
	rc = ctx_build(&tc, s->target_context, err, errlen);
	if (rc < 0)
		return rc;
	rc = ctx_build(&dc, s->document_context ? s->document_context : s->target_context, err,
		       errlen);
	if (rc < 0) {
		ctx_free(&tc);
		return rc;
	}
	tc.ovname = dc.ovname = SDAC;
	/* 1. the target as the default CLI scenario asks it, without the document check
	 *    (ssm:SessionDocumentAccessCheck false): allowed means no Allow statement for the
	 *    target requires the check */
	tc.ovv[0] = "false";
	rc = eval_ctx(pols, npols, act, s->target_arn, &tc, &skip, err, errlen);
	if (rc < 0)
		goto out;
	/* 2. with the check: the statements that require it apply */
	tc.ovv[0] = "true";
	rc = eval_ctx(pols, npols, act, s->target_arn, &tc, &check, err, errlen);
	if (rc < 0)
		goto out;
	if (skip.decision != SSM_IAM_ALLOW && check.decision != SSM_IAM_ALLOW) {
		*res = check.decision == SSM_IAM_EXPLICIT_DENY ? check : skip;
		goto out;
	}
	/* 3. the document, always with the check being made */
	dc.ovv[0] = "true";
	rc = eval_ctx(pols, npols, act, s->document_arn, &dc, &doc, err, errlen);
	if (rc < 0)
		goto out;
	if (doc.decision == SSM_IAM_ALLOW ||
	    (doc.decision == SSM_IAM_IMPLICIT_DENY && skip.decision == SSM_IAM_ALLOW &&
	     is_default_document(s->document_arn)))
		*res = skip.decision == SSM_IAM_ALLOW ? skip : check;
	else
		*res = doc;
out:
	ctx_free(&tc);
	ctx_free(&dc);
	return rc;
}

const char *ssm_iam_decision_name(enum ssm_iam_decision d)
{
	switch (d) {
	case SSM_IAM_ALLOW: return "Allow";
	case SSM_IAM_EXPLICIT_DENY: return "ExplicitDeny";
	case SSM_IAM_IMPLICIT_DENY: return "ImplicitDeny";
	}
	return "ImplicitDeny";
}

int ssm_iam_explain(const char *principal, const char *action, const struct ssm_iam_result *res,
		    char *buf, size_t len)
{
	char st[160];

	if (res->sid && res->sid[0])
		snprintf(st, sizeof(st), "%s", res->sid);
	else
		snprintf(st, sizeof(st), "#%d", res->statement + 1);
	if (res->decision == SSM_IAM_ALLOW)
		return snprintf(buf, len,
				"User: %s is allowed to perform: %s on resource: %s by statement %s of identity-based policy %s",
				principal, action, res->resource ? res->resource : "*", st,
				res->policy ? res->policy : "(unnamed)");
	if (res->decision == SSM_IAM_EXPLICIT_DENY)
		return snprintf(buf, len,
				"User: %s is not authorized to perform: %s on resource: %s with an explicit deny in statement %s of identity-based policy %s",
				principal, action, res->resource ? res->resource : "*", st,
				res->policy ? res->policy : "(unnamed)");
	return snprintf(buf, len,
			"User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
			principal, action, res->resource ? res->resource : "*", action);
}

/* ------------------------------------------------------------------ parsing */

static void cond_free(struct cond *cd)
{
	for (size_t i = 0; i < cd->nvals; i++) {
		free(cd->vals[i].text);
		free(cd->vals[i].bin);
	}
	free(cd->vals);
	free(cd->key);
	free(cd->opname);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void ssm_iam_policy_free(struct ssm_iam_policy *pol)
{
	if (!pol)
		return;
	for (size_t i = 0; i < pol->nst; i++) {
		struct stmt *st = &pol->st[i];

		free(st->sid);
		strv_free(st->actions, st->nactions);
		strv_free(st->resources, st->nresources);
		for (size_t j = 0; j < st->nconds; j++)
			cond_free(&st->conds[j]);
		free(st->conds);
	}
	free(pol->st);
	free(pol->name);
	free(pol);
}

struct pctx {
	char *err;
	size_t errlen;
	int vars;
	char where[96]; /* "statement 2 (Sid X)" */
};

#define PFAIL(pc, ...)                                                                     \
	do {                                                                               \
		char m_[1024];                                                              \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                                     \
		seterr((pc)->err, (pc)->errlen, "%s: %s", (pc)->where, m_);                \
		return -EINVAL;                                                            \
	} while (0)

static int str_ok(struct pctx *pc, const char *what, const char *s)
{
	if (strlen(s) > SSM_IAM_MAX_STRING)
		PFAIL(pc, "%s longer than %d bytes", what, SSM_IAM_MAX_STRING);
	return 0;
}

static int strdup_entry(struct pctx *pc, const char *what, const cJSON *e, char **v, size_t *pn)
{
	if (str_ok(pc, what, e->valuestring) < 0)
		return -EINVAL;
	if (!e->valuestring[0])
		PFAIL(pc, "%s has an empty entry", what);
	v[*pn] = strdup(e->valuestring);
	if (!v[*pn])
		return -ENOMEM;
	(*pn)++;
	return 0;
}

/* a string or a non-empty list of strings -> owned copies */
static int strlist(struct pctx *pc, const char *what, const cJSON *it, char ***pv, size_t *pn)
{
	const cJSON *e;
	size_t n = 0;
	char **v;
	int rc;

	if (cJSON_IsString(it)) {
		n = 1;
	} else if (cJSON_IsArray(it)) {
		n = (size_t)cJSON_GetArraySize(it);
		if (n == 0)
			PFAIL(pc, "%s is an empty list", what);
		if (n > SSM_IAM_MAX_VALUES)
			PFAIL(pc, "%s has more than %d entries", what, SSM_IAM_MAX_VALUES);
		cJSON_ArrayForEach(e, it) {
			if (!cJSON_IsString(e))
				PFAIL(pc, "%s must be a string or a list of strings", what);
		}
	} else {
		PFAIL(pc, "%s must be a string or a list of strings", what);
	}
	v = calloc(n, sizeof(char *));
	if (!v)
		return -ENOMEM;
	*pv = v;
	*pn = 0;
	if (cJSON_IsString(it))
		return strdup_entry(pc, what, it, v, pn);
	cJSON_ArrayForEach(e, it) {
		rc = strdup_entry(pc, what, e, v, pn);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse_actions(struct pctx *pc, const char *what, const cJSON *it, struct stmt *st)
{
	int rc = strlist(pc, what, it, &st->actions, &st->nactions);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < st->nactions; i++) {
		const char *a = st->actions[i], *colon = strchr(a, ':');

		if (strcmp(a, "*") != 0 && (!colon || colon == a || !colon[1]))
			PFAIL(pc, "%s \"%s\" is not \"*\" or service:action", what, a);
	}
	return 0;
}

static int parse_resources(struct pctx *pc, const char *what, const cJSON *it, struct stmt *st)
{
	int rc = strlist(pc, what, it, &st->resources, &st->nresources);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < st->nresources; i++) {
		const char *r = st->resources[i];
		size_t cut[5];
		long first;

		if (strcmp(r, "*") != 0 && (strncmp(r, "arn:", 4) != 0 || !arn_split(r, strlen(r), cut)))
			PFAIL(pc, "%s \"%s\" must be in ARN format (arn:partition:service:region:account:resource) or \"*\"",
			      what, r);
		if (!pc->vars)
			continue;
		if (!vars_check(r, &first, pc->err, pc->errlen)) {
			char m[160];

			snprintf(m, sizeof(m), "%s", pc->err ? pc->err : "");
			PFAIL(pc, "%s: %s", what, m);
		}
		if (first >= 0 && arn_split(r, strlen(r), cut) && (size_t)first < cut[4])
			PFAIL(pc, "%s \"%s\": a policy variable may only stand in the resource part of an ARN (after the fifth colon)",
			      what, r);
	}
	return 0;
}

static int parse_opname(struct pctx *pc, const char *name, struct cond *cd)
{
	const char *p = name;
	char base[64];
	size_t n;

	cd->qual = Q_NONE;
	if (strncmp(p, "ForAllValues:", 13) == 0) {
		cd->qual = Q_FORALL;
		p += 13;
	} else if (strncmp(p, "ForAnyValue:", 12) == 0) {
		cd->qual = Q_FORANY;
		p += 12;
	}
	n = strlen(p);
	if (n >= sizeof(base))
		PFAIL(pc, "unknown condition operator \"%.64s\"", name);
	memcpy(base, p, n + 1);
	cd->if_exists = 0;
	if (n > 8 && strcmp(base + n - 8, "IfExists") == 0) {
		cd->if_exists = 1;
		base[n - 8] = '\0';
	}
	cd->op = NULL;
	for (size_t i = 0; i < sizeof(opdefs) / sizeof(opdefs[0]); i++)
		if (strcmp(base, opdefs[i].name) == 0)
			cd->op = &opdefs[i];
	if (!cd->op)
		PFAIL(pc, "unknown condition operator \"%.64s\"", name);
	if (cd->op->kind == K_NULL && (cd->if_exists || cd->qual != Q_NONE))
		PFAIL(pc, "condition operator \"%s\": Null takes neither IfExists nor a set operator",
		      name);
	return 0;
}

static int bool_text(const char *s)
{
	return strieq(s, "true") ? 1 : strieq(s, "false") ? 0 : -1;
}

static int parse_cval(struct pctx *pc, struct cond *cd, const cJSON *e, struct cval *cv)
{
	char buf[64];
	const char *t;
	long first = -1;

	if (cJSON_IsString(e)) {
		t = e->valuestring;
	} else if (cJSON_IsBool(e)) {
		t = cJSON_IsTrue(e) ? "true" : "false";
	} else if (cJSON_IsNumber(e) && isfinite(e->valuedouble)) {
		double d = e->valuedouble;

		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			snprintf(buf, sizeof(buf), "%.0f", d);
		else
			snprintf(buf, sizeof(buf), "%.17g", d);
		t = buf;
	} else {
		PFAIL(pc, "%s %s: a value must be a string, number or boolean", cd->opname, cd->key);
	}
	if (str_ok(pc, "a condition value", t) < 0)
		return -EINVAL;
	cv->text = strdup(t);
	if (!cv->text)
		return -ENOMEM;
	switch (cd->op->kind) {
	case K_STR:
	case K_STR_IC:
	case K_LIKE:
	case K_ARN:
	case K_BOOL:
		if (pc->vars && !vars_check(t, &first, pc->err, pc->errlen)) {
			char m[160];

			snprintf(m, sizeof(m), "%s", pc->err ? pc->err : "");
			PFAIL(pc, "%s %s: %s", cd->opname, cd->key, m);
		}
		if (cd->op->kind == K_BOOL && first < 0 && (cv->flag = bool_text(t)) < 0)
			PFAIL(pc, "%s %s: \"%s\" is not true or false", cd->opname, cd->key, t);
		return 0;
	case K_NULL:
		if ((cv->flag = bool_text(t)) < 0)
			PFAIL(pc, "%s %s: \"%s\" is not true or false", cd->opname, cd->key, t);
		return 0;
	case K_NUM:
		if (!parse_num(t, &cv->num))
			PFAIL(pc, "%s %s: \"%s\" is not a number (policy variables are not allowed here)",
			      cd->opname, cd->key, t);
		return 0;
	case K_DATE:
		if (!parse_date(t, &cv->ms))
			PFAIL(pc, "%s %s: \"%s\" is not an ISO 8601 date or epoch seconds (policy variables are not allowed here)",
			      cd->opname, cd->key, t);
		return 0;
	case K_IP:
		if (!parse_ip(t, 1, cv->ip, &cv->ip6, &cv->plen))
			PFAIL(pc, "%s %s: \"%s\" is not an IPv4 or IPv6 address or CIDR block",
			      cd->opname, cd->key, t);
		for (int b = cv->plen; b < (cv->ip6 ? 128 : 32); b++) /* host bits off */
			cv->ip[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
		return 0;
	case K_BIN:
		cv->bin = malloc(strlen(t) + 1);
		if (!cv->bin)
			return -ENOMEM;
		if (!b64dec(t, cv->bin, &cv->binlen))
			PFAIL(pc, "%s %s: \"%s\" is not base64", cd->opname, cd->key, t);
		return 0;
	}
	return 0;
}

static int key_ok(const char *k)
{
	const char *colon = strchr(k, ':');

	if (!colon || colon == k || !colon[1] || strlen(k) > 256)
		return 0;
	for (const unsigned char *p = (const unsigned char *)k; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int parse_conditions(struct pctx *pc, const cJSON *cond, struct stmt *st)
{
	const cJSON *op, *kv;
	size_t n = 0;

	if (!cJSON_IsObject(cond))
		PFAIL(pc, "Condition must be an object");
	cJSON_ArrayForEach(op, cond) {
		if (!cJSON_IsObject(op) || !op->child)
			PFAIL(pc, "condition operator \"%.64s\" must map to a non-empty object of keys",
			      op->string);
		cJSON_ArrayForEach(kv, op) n++;
	}
	if (n > SSM_IAM_MAX_CONDITIONS)
		PFAIL(pc, "more than %d condition keys", SSM_IAM_MAX_CONDITIONS);
	st->conds = calloc(n ? n : 1, sizeof(*st->conds));
	if (!st->conds)
		return -ENOMEM;
	cJSON_ArrayForEach(op, cond) {
		cJSON_ArrayForEach(kv, op) {
			struct cond *cd = &st->conds[st->nconds];
			const cJSON *e;
			size_t m;
			int rc;

			st->nconds++;
			cd->opname = strdup(op->string);
			cd->key = strdup(kv->string);
			if (!cd->opname || !cd->key)
				return -ENOMEM;
			rc = parse_opname(pc, op->string, cd);
			if (rc < 0)
				return rc;
			if (!key_ok(kv->string))
				PFAIL(pc, "%s: \"%.64s\" is not a condition key (prefix:name)", cd->opname,
				      kv->string);
			for (const cJSON *o = op->child; o != kv; o = o->next)
				if (strieq(o->string, kv->string))
					PFAIL(pc, "%.64s: key %.64s twice (key names are case-insensitive)",
					      cd->opname, kv->string);
			if (cJSON_IsArray(kv)) {
				m = (size_t)cJSON_GetArraySize(kv);
				if (m == 0 || m > SSM_IAM_MAX_VALUES)
					PFAIL(pc, "%s %s: between 1 and %d values", cd->opname, cd->key,
					      SSM_IAM_MAX_VALUES);
			} else {
				m = 1;
			}
			cd->vals = calloc(m, sizeof(*cd->vals));
			if (!cd->vals)
				return -ENOMEM;
			if (cJSON_IsArray(kv)) {
				cJSON_ArrayForEach(e, kv) {
					rc = parse_cval(pc, cd, e, &cd->vals[cd->nvals++]);
					if (rc < 0)
						return rc;
				}
			} else {
				rc = parse_cval(pc, cd, kv, &cd->vals[cd->nvals++]);
				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
}

static int sid_ok(const char *s)
{
	if (strlen(s) > 128)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

static int parse_statement(struct pctx *pc, const cJSON *js, struct stmt *st)
{
	static const char *const known[] = { "Sid", "Effect", "Action", "NotAction", "Resource",
					     "NotResource", "Condition", NULL };
	const cJSON *e, *eff, *a, *na, *r, *nr, *c, *sid;
	int rc;

	if (!cJSON_IsObject(js))
		PFAIL(pc, "a statement must be an object");
	cJSON_ArrayForEach(e, js) {
		int ok = 0;

		if (!strcmp(e->string, "Principal") || !strcmp(e->string, "NotPrincipal"))
			PFAIL(pc, "%s: identity-based policies have no principal element", e->string);
		for (int i = 0; known[i]; i++)
			ok |= strcmp(e->string, known[i]) == 0;
		if (!ok)
			PFAIL(pc, "unknown statement element \"%.64s\"", e->string);
	}
	sid = ssm_json_member(js, "Sid");
	if (sid) {
		if (!cJSON_IsString(sid) || !sid_ok(sid->valuestring))
			PFAIL(pc, "Sid must be a string of ASCII letters and digits");
		st->sid = strdup(sid->valuestring);
		if (!st->sid)
			return -ENOMEM;
		snprintf(pc->where + strlen(pc->where), sizeof(pc->where) - strlen(pc->where),
			 " (Sid %.40s)", st->sid);
	}
	eff = ssm_json_member(js, "Effect");
	if (!eff)
		PFAIL(pc, "no Effect");
	if (!cJSON_IsString(eff) ||
	    (strcmp(eff->valuestring, "Allow") != 0 && strcmp(eff->valuestring, "Deny") != 0))
		PFAIL(pc, "Effect must be \"Allow\" or \"Deny\"");
	st->deny = strcmp(eff->valuestring, "Deny") == 0;
	a = ssm_json_member(js, "Action");
	na = ssm_json_member(js, "NotAction");
	if (!a == !na)
		PFAIL(pc, "needs exactly one of Action and NotAction");
	st->not_action = na != NULL;
	rc = parse_actions(pc, a ? "Action" : "NotAction", a ? a : na, st);
	if (rc < 0)
		return rc;
	r = ssm_json_member(js, "Resource");
	nr = ssm_json_member(js, "NotResource");
	if (!r == !nr)
		PFAIL(pc, "needs exactly one of Resource and NotResource");
	st->not_resource = nr != NULL;
	rc = parse_resources(pc, r ? "Resource" : "NotResource", r ? r : nr, st);
	if (rc < 0)
		return rc;
	c = ssm_json_member(js, "Condition");
	if (c) {
		rc = parse_conditions(pc, c, st);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ssm_iam_policy_from_json(const cJSON *doc, const char *name, struct ssm_iam_policy **ppol,
			     char *err, size_t errlen)
{
	struct pctx pc = { .err = err, .errlen = errlen };
	const cJSON *e, *ver, *sts, *id;
	struct ssm_iam_policy *pol;
	size_t n;
	int rc = -EINVAL;

	*ppol = NULL;
	snprintf(pc.where, sizeof(pc.where), "policy %.60s", name ? name : "(unnamed)");
	if (!cJSON_IsObject(doc)) {
		seterr(err, errlen, "%s: not a JSON object", pc.where);
		return -EINVAL;
	}
	cJSON_ArrayForEach(e, doc) {
		if (strcmp(e->string, "Version") && strcmp(e->string, "Id") &&
		    strcmp(e->string, "Statement")) {
			seterr(err, errlen, "%s: unknown policy element \"%.64s\"", pc.where, e->string);
			return -EINVAL;
		}
	}
	ver = ssm_json_member(doc, "Version");
	if (ver && (!cJSON_IsString(ver) || (strcmp(ver->valuestring, "2012-10-17") != 0 &&
					     strcmp(ver->valuestring, "2008-10-17") != 0))) {
		seterr(err, errlen, "%s: Version must be \"2012-10-17\" or \"2008-10-17\"", pc.where);
		return -EINVAL;
	}
	id = ssm_json_member(doc, "Id");
	if (id && (!cJSON_IsString(id) || strlen(id->valuestring) > SSM_IAM_MAX_STRING)) {
		seterr(err, errlen, "%s: Id must be a string", pc.where);
		return -EINVAL;
	}
	sts = ssm_json_member(doc, "Statement");
	if (!sts) {
		seterr(err, errlen, "%s: no Statement", pc.where);
		return -EINVAL;
	}
	if (cJSON_IsObject(sts)) {
		n = 1;
	} else if (cJSON_IsArray(sts)) {
		n = (size_t)cJSON_GetArraySize(sts);
		if (n == 0 || n > SSM_IAM_MAX_STATEMENTS) {
			seterr(err, errlen, "%s: Statement must hold 1 to %d statements", pc.where,
			       SSM_IAM_MAX_STATEMENTS);
			return -EINVAL;
		}
	} else {
		seterr(err, errlen, "%s: Statement must be an object or a list of objects", pc.where);
		return -EINVAL;
	}
	pol = calloc(1, sizeof(*pol));
	if (!pol)
		goto nomem;
	pol->vars = ver && strcmp(ver->valuestring, "2012-10-17") == 0;
	pc.vars = pol->vars;
	if (name && !(pol->name = strdup(name)))
		goto nomem;
	pol->st = calloc(n, sizeof(*pol->st));
	if (!pol->st)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const cJSON *js = cJSON_IsObject(sts) ? sts : cJSON_GetArrayItem(sts, (int)i);

		snprintf(pc.where, sizeof(pc.where), "policy %.40s statement %zu",
			 name ? name : "(unnamed)", i + 1);
		pol->nst++;
		rc = parse_statement(&pc, js, &pol->st[i]);
		if (rc < 0)
			goto fail;
		for (size_t j = 0; j < i && pol->st[i].sid && pol->st[i].sid[0]; j++)
			if (pol->st[j].sid && strcmp(pol->st[j].sid, pol->st[i].sid) == 0) {
				seterr(err, errlen, "%s: Sid %s is not unique in the policy", pc.where,
				       pol->st[i].sid);
				rc = -EINVAL;
				goto fail;
			}
	}
	*ppol = pol;
	return 0;
nomem:
	rc = -ENOMEM;
	seterr(err, errlen, "out of memory");
fail:
	if (rc == -ENOMEM)
		seterr(err, errlen, "out of memory");
	ssm_iam_policy_free(pol);
	return rc;
}

int ssm_iam_policy_parse(const char *json, size_t len, const char *name,
			 struct ssm_iam_policy **ppol, char *err, size_t errlen)
{
	cJSON *doc = NULL;
	int rc;

	*ppol = NULL;
	if (len > SSM_IAM_MAX_POLICY_BYTES) {
		seterr(err, errlen, "policy %s: larger than %d bytes", name ? name : "(unnamed)",
		       SSM_IAM_MAX_POLICY_BYTES);
		return -E2BIG;
	}
	rc = ssm_json_parse_object(json, len, &doc, err, errlen);
	if (rc < 0)
		return rc;
	rc = ssm_iam_policy_from_json(doc, name, ppol, err, errlen);
	cJSON_Delete(doc);
	return rc;
}
