/* test_verdict.c - the pam_ssmsession <-> ssm-verifyd wire form (lib/verdict.c): round
 * trips, and every malformed request and verdict refused whole. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "check.h"
#include "token.h"
#include "verdict.h"

#define M SSM_VERDICT_MAGIC
#define IDS300 "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"
#define KEY "31b15a258534261bcbdbe986579dc3cc6b7b40aae02b5896fc530a366a80af22"

/* a message with embedded NULs, written with '|' for NUL */
static size_t msg(char *out, const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		out[i] = s[i] == '|' ? '\0' : s[i];
	return n;
}

static const struct {
	int line;
	const char *m; /* '|' stands for NUL */
	int ok;
} verdicts[] = {
	{ __LINE__, M "|0||valid|" KEY "|k1|EdDSA||{\"sub\":\"a\"}", 1 },
	{ __LINE__, M "|0||valid|" KEY "|k.1-_|Ed25519||{}", 1 },
	{ __LINE__, M "|0|||" KEY "|k1|ES256||{}", 1 },
	{ __LINE__, M "|-13|invalid_token|bad signature|||||", 1 },
	{ __LINE__, M "|-5|trusted_keys|/etc/k: owned by uid 5|||||", 1 },
	/* wrong magic, or none */
	{ __LINE__, "ssmv2|-13|invalid_token|x||||", 0 },
	{ __LINE__, "ssmv|-13|invalid_token|x||||", 0 },
	{ __LINE__, "", 0 },
	/* field count: one short, or an extra NUL in the claims */
	{ __LINE__, M "|-13|invalid_token|x||||", 0 },
	{ __LINE__, M "|0||valid|" KEY "|k1|EdDSA|{}||", 0 },
	/* codes: positive, leading zero, "-0", not a number, out of the errno range, "+13" */
	{ __LINE__, M "|13|invalid_token|x|||||", 0 },
	{ __LINE__, M "|-013|invalid_token|x|||||", 0 },
	{ __LINE__, M "|-0|invalid_token|x|||||", 0 },
	{ __LINE__, M "|-1x|invalid_token|x|||||", 0 },
	{ __LINE__, M "|-4096|invalid_token|x|||||", 0 },
	{ __LINE__, M "|-99999999999|invalid_token|x|||||", 0 },
	{ __LINE__, M "|+13|invalid_token|x|||||", 0 },
	{ __LINE__, M "||invalid_token|x|||||", 0 },
	{ __LINE__, M "|00||valid|" KEY "|k1|EdDSA||{}", 0 },
	/* a refusal must name why, in [a-z_], and carry nothing else */
	{ __LINE__, M "|-13||x|||||", 0 },
	{ __LINE__, M "|-13|Invalid|x|||||", 0 },
	{ __LINE__, M "|-13|invalid token|x|||||", 0 },
	{ __LINE__, M "|-13|invalid_token|x|" KEY "||||", 0 },
	{ __LINE__, M "|-13|invalid_token|x||k1|||", 0 },
	{ __LINE__, M "|-13|invalid_token|x|||EdDSA||", 0 },
	{ __LINE__, M "|-13|invalid_token|x|||||{}", 0 },
	{ __LINE__, M "|-13|aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|x|||||", 0 },
	/* control characters in the reason (log injection) */
	{ __LINE__, M "|-13|invalid_token|bad\nsignature|||||", 0 },
	{ __LINE__, M "|-13|invalid_token|bad\x1b[31m|||||", 0 },
	{ __LINE__, M "|-13|invalid_token|bad\x7f|||||", 0 },
	/* valid: a why, a short / upper-case / non-hex key, a bad kid, alg, no claims */
	{ __LINE__, M "|0|invalid_token|valid|" KEY "|k1|EdDSA||{}", 0 },
	{ __LINE__, M "|0||valid|31b15a|k1|EdDSA||{}", 0 },
	{ __LINE__, M "|0||valid|31B15A258534261BCBDBE986579DC3CC6B7B40AAE02B5896FC530A366A80AF22|k1|EdDSA||{}", 0 },
	{ __LINE__, M "|0||valid|g1b15a258534261bcbdbe986579dc3cc6b7b40aae02b5896fc530a366a80af22|k1|EdDSA||{}", 0 },
	{ __LINE__, M "|0||valid|../5a258534261bcbdbe986579dc3cc6b7b40aae02b5896fc530a366a80af22|k1|EdDSA||{}", 0 },
	{ __LINE__, M "|0||valid||k1|EdDSA||{}", 0 },
	{ __LINE__, M "|0||valid|" KEY "||EdDSA||{}", 0 },
	{ __LINE__, M "|0||valid|" KEY "|k/1|EdDSA||{}", 0 },
	{ __LINE__, M "|0||valid|" KEY "|k1|none||{}", 0 },
	{ __LINE__, M "|0||valid|" KEY "|k1|HS256||{}", 0 },
	{ __LINE__, M "|0||valid|" KEY "|k1|eddsa||{}", 0 },
	{ __LINE__, M "|0||valid|" KEY "|k1|EdDSA||", 0 },
	{ __LINE__, M "|0||valid|" KEY "|k1|EdDSA||{\"a\":\"\x01\"}", 0 },
	/* ids: the file identities, [0-9:.;-] only, bounded */
	{ __LINE__, M "|0||valid|" KEY "|k1|EdDSA|1:2:3:4.000000005:6.000000007;-;8:9:10:11.0:12.0|{}", 1 },
	{ __LINE__, M "|-13|invalid_token|x||||1:2:3:4.5:6.7;1:2:3:4.5:6.7;|", 1 },
	{ __LINE__, M "|0||valid|" KEY "|k1|EdDSA|/etc/x|{}", 0 },
	{ __LINE__, M "|0||valid|" KEY "|k1|EdDSA|1 2|{}", 0 },
	{ __LINE__, M "|0||valid|" KEY "|k1|EdDSA|" IDS300 "|{}", 0 },
	/* another build's daemon (the magic carries the version) */
	{ __LINE__, "ssmv1/0.0.0-other|-13|invalid_token|x|||||", 0 },
	{ __LINE__, "ssmv1|-13|invalid_token|x|||||", 0 },
};

static const struct {
	int line;
	const char *m;
	int ok;
} requests[] = {
	{ __LINE__, M "|/etc/ssmsession/ssmsession.json|ssm-user|a.b.c", 1 },
	{ __LINE__, M "|/c|u|", 1 }, /* an empty token is the verifier's to refuse */
	{ __LINE__, "ssmv0|/c|u|a.b.c", 0 },
	{ __LINE__, M "|c|u|a.b.c", 0 },     /* relative configuration path */
	{ __LINE__, M "||u|a.b.c", 0 },      /* no configuration path */
	{ __LINE__, M "|/c||a.b.c", 0 },     /* no user */
	{ __LINE__, M "|/c|u\n|a.b.c", 0 },  /* control character in the user */
	{ __LINE__, M "|/c\t|u|a.b.c", 0 },  /* control character in the path */
	{ __LINE__, M "|/c|u|a.b|c", 0 },    /* NUL inside the token */
	{ __LINE__, M "|/c|u", 0 },          /* no token field at all */
	{ __LINE__, M "|/c", 0 },
	{ __LINE__, M, 0 },
};

int main(void)
{
	static char buf[SSM_VERIFY_MSG_MAX + 64];
	const char *cp, *up, *tp;
	struct ssm_verdict v, w;
	size_t i, n, tl;
	int r;

	for (i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		n = msg(buf, verdicts[i].m);
		r = ssm_verdict_decode(buf, n, &v);
		CHECK_ROW(verdicts[i].line, (r == 0) == verdicts[i].ok, "verdict decode gave %d", r);
		if (r != 0)
			CHECK_ROW(verdicts[i].line, v.claims == NULL && v.code == 0 && v.key[0] == 0,
				  "a refused verdict left something behind");
		ssm_verdict_clear(&v);
	}
	for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		n = msg(buf, requests[i].m);
		r = ssm_verify_request_decode(buf, n, &cp, &up, &tp, &tl);
		CHECK_ROW(requests[i].line, (r == 0) == requests[i].ok, "request decode gave %d", r);
	}

	/* round trips */
	ssm_verdict_init(&v);
	v.code = 0;
	strcpy(v.reason, "");
	strcpy(v.key, KEY);
	strcpy(v.kid, "k-1");
	strcpy(v.alg, "ES256");
	v.claims = strdup("{\"sub\":\"al\xc3\xa9\"}");
	r = ssm_verdict_encode(&v, buf, sizeof(buf));
	CHECK(r > 0, "encode a valid verdict: %d", r);
	CHECK(r > 0 && ssm_verdict_decode(buf, (size_t)r, &w) == 0, "decode it back");
	CHECK(w.code == 0 && strcmp(w.key, KEY) == 0 && strcmp(w.kid, "k-1") == 0 &&
		      strcmp(w.alg, "ES256") == 0 && w.claims && strcmp(w.claims, v.claims) == 0,
	      "valid verdict round trip");
	ssm_verdict_clear(&w);
	ssm_verdict_clear(&v);
	CHECK(v.claims == NULL && v.code == 0, "clear frees and zeroes");

	ssm_verdict_init(&v);
	ssm_verdict_fail(&v, SSM_TOKEN_REFUSED, "invalid_token", "bad %s", "signature");
	r = ssm_verdict_encode(&v, buf, sizeof(buf));
	CHECK(r > 0 && ssm_verdict_decode(buf, (size_t)r, &w) == 0 && w.code == SSM_TOKEN_REFUSED &&
		      strcmp(w.why, "invalid_token") == 0 && strcmp(w.reason, "bad signature") == 0,
	      "refusal round trip");
	ssm_verdict_clear(&w);
	ssm_verdict_clear(&v);

	/* a verdict bigger than a message is refused at encoding, not cut */
	ssm_verdict_init(&v);
	strcpy(v.key, KEY);
	strcpy(v.kid, "k1");
	strcpy(v.alg, "EdDSA");
	v.claims = malloc(SSM_VERIFY_MSG_MAX + 1);
	memset(v.claims, 'a', SSM_VERIFY_MSG_MAX);
	v.claims[SSM_VERIFY_MSG_MAX] = '\0';
	CHECK(ssm_verdict_encode(&v, buf, sizeof(buf)) == -EMSGSIZE, "oversize verdict refused");
	ssm_verdict_clear(&v);
	memset(buf, 'a', sizeof(buf));
	CHECK(ssm_verdict_decode(buf, SSM_VERIFY_MSG_MAX + 1, &w) == -EBADMSG,
	      "oversize message refused");

	r = ssm_verify_request_encode(buf, sizeof(buf), "/c", "u", "a.b.c", 5);
	CHECK(r > 0 && ssm_verify_request_decode(buf, (size_t)r, &cp, &up, &tp, &tl) == 0 &&
		      strcmp(cp, "/c") == 0 && strcmp(up, "u") == 0 && tl == 5 &&
		      memcmp(tp, "a.b.c", 5) == 0,
	      "request round trip");
	CHECK(ssm_verify_request_encode(buf, sizeof(buf), "/c", "u", "a\0b", 3) == -EINVAL,
	      "a token with a NUL is not sent");
	CHECK(ssm_verify_request_encode(buf, 10, "/c", "u", "a.b.c", 5) == -EMSGSIZE,
	      "request larger than the buffer refused");
	return check_done("test_verdict");
}
