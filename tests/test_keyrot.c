/* test_keyrot.c - rotation statements of the broker's signing key (lib/keyrot.c): a chain
 * carries a host's trusted set forward one rotation at a time from its newest key; every
 * statement that is not that step is skipped, and a forged or malformed one is refused. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "b64url.h"
#include "keyrot.h"
#include "check.h"

static EVP_PKEY *K[4]; /* k0..k2: the broker's keys in turn; k3: nobody's */

static char *jwk(int i)
{
	unsigned char pub[32];
	size_t n = sizeof(pub);
	char *x = NULL, *out = malloc(256);

	if (out == NULL || EVP_PKEY_get_raw_public_key(K[i], pub, &n) != 1 ||
	    ssm_b64url_encode(pub, n, &x) < 0)
		abort();
	snprintf(out, 256, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k%d\",\"x\":\"%s\"}", i, x);
	free(x);
	return out;
}

/* {"keys":[ka, kb]} (kb < 0: one key) */
static char *set(int a, int b)
{
	char *ja = jwk(a), *jb = b >= 0 ? jwk(b) : NULL, *out = malloc(600);

	if (out == NULL)
		abort();
	snprintf(out, 600, "{\"keys\":[%s%s%s]}", ja, jb ? "," : "", jb ? jb : "");
	free(ja);
	free(jb);
	return out;
}

/* the statement by the library: key signer (kid k<signer>) makes set (a, b) current */
static char *stmt(int signer, int a, int b)
{
	char kid[8], err[256], *s = set(a, b), *out;
	cJSON *o = cJSON_Parse(s);

	snprintf(kid, sizeof(kid), "k%d", signer);
	out = ssm_keyrot_sign(K[signer], kid, "urn:test", o, 1700000000, err, sizeof(err));
	if (out == NULL) {
		fprintf(stderr, "sign: %s\n", err);
		abort();
	}
	cJSON_Delete(o);
	free(s);
	return out;
}

/* a statement of any header and payload text, signed by K[signer] */
static char *raw(int signer, const char *hdr, const char *payload)
{
	char *h = NULL, *p = NULL, *sg = NULL, *out = malloc(8192);
	unsigned char sig[64];
	size_t sl = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (out == NULL || md == NULL ||
	    ssm_b64url_encode((const unsigned char *)hdr, strlen(hdr), &h) < 0 ||
	    ssm_b64url_encode((const unsigned char *)payload, strlen(payload), &p) < 0)
		abort();
	snprintf(out, 8192, "%s.%s", h, p);
	if (EVP_DigestSignInit(md, NULL, NULL, NULL, K[signer]) != 1 ||
	    EVP_DigestSign(md, sig, &sl, (const unsigned char *)out, strlen(out)) != 1 ||
	    ssm_b64url_encode(sig, sl, &sg) < 0)
		abort();
	strcat(out, ".");
	strcat(out, sg);
	EVP_MD_CTX_free(md);
	free(h);
	free(p);
	free(sg);
	return out;
}

static char *payload(int a, int b)
{
	char *s = set(a, b), *out = malloc(800);

	if (out == NULL)
		abort();
	/* {"keys":[...]} -> {"ssm":"keys","iss":"x","iat":1,"keys":[...]} */
	snprintf(out, 800, "{\"ssm\":\"keys\",\"iss\":\"urn:test\",\"iat\":1,%s", s + 1);
	free(s);
	return out;
}

static char *chain(char *a, char *b, char *c)
{
	char *out = malloc(3 * (SSM_KEYROT_STMT_MAX + 8) + 1);

	if (out == NULL)
		abort();
	snprintf(out, 3 * (SSM_KEYROT_STMT_MAX + 8), "%s%s%s%s%s%s", a ? a : "", a ? "\n" : "",
		 b ? b : "", b ? "\n" : "", c ? c : "", c ? "\n" : "");
	free(a);
	free(b);
	free(c);
	return out;
}

#define HDR "{\"alg\":\"EdDSA\",\"typ\":\"ssm-keys+jwt\",\"kid\":\"k0\"}"

struct row {
	int line;
	int cur_a, cur_b;   /* the host's set */
	char *chain;        /* made in main */
	int want_r;         /* 0, -EINVAL, -EBADMSG */
	size_t want_applied;
	int want_a, want_b; /* the new set's first two kids (a new set; want_b < 0: one key) */
	int64_t now_off;    /* now - the statements' iat (the old key retires after 360 s) */
	int other_iss;      /* the host expects another issuer */
};
#define IAT 1700000000

int main(void)
{
	char *pl, *pl21, *pl1x, *pl3;
	size_t i;

	for (i = 0; i < 4; i++)
		if ((K[i] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
			abort();
	pl = payload(1, 0);
	pl21 = payload(2, 1);
	{
		/* k1 and, under k0's kid, k3's key; three keys */
		char *j1 = jwk(1), *j0 = jwk(0), *j3 = jwk(3), *x = strstr(j3, "\"x\"");

		pl1x = malloc(1024);
		pl3 = malloc(1024);
		if (pl1x == NULL || pl3 == NULL || x == NULL)
			abort();
		snprintf(pl1x, 1024, "{\"ssm\":\"keys\",\"iss\":\"urn:test\",\"iat\":1,\"keys\":[%s,"
			 "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k0\",%s]}", j1, x);
		snprintf(pl3, 1024, "{\"ssm\":\"keys\",\"iss\":\"urn:test\",\"iat\":1,\"keys\":[%s,%s,"
			 "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k7\",%s]}", j1, j0, x);
		free(j1);
		free(j0);
		free(j3);
	}
	{
		struct row rows[] = {
		    /* forward one step, two steps, from the middle, nothing to do */
		    {__LINE__, 0, -1, chain(stmt(0, 1, 0), NULL, NULL), 0, 1, 1, 0, 0, 0},
		    {__LINE__, 0, -1, chain(stmt(0, 1, 0), stmt(1, 2, 1), NULL), 0, 2, 2, 1, 0, 0},
		    {__LINE__, 1, 0, chain(stmt(0, 1, 0), stmt(1, 2, 1), NULL), 0, 1, 2, 1, 0, 0},
		    {__LINE__, 2, 1, chain(stmt(0, 1, 0), stmt(1, 2, 1), NULL), 0, 0, 0, 0, 0, 0},
		    /* a replayed old step after the new one changes nothing */
		    {__LINE__, 1, 0, chain(stmt(0, 1, 0), NULL, NULL), 0, 0, 0, 0, 0, 0},
		    /* signed by a key the host does not trust, or the chain's first link lost */
		    {__LINE__, 0, -1, chain(stmt(3, 1, 3), NULL, NULL), 0, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, chain(stmt(1, 2, 1), NULL, NULL), 0, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, chain(NULL, NULL, NULL), 0, 0, 0, 0, 0, 0},
		    /* forged: kid k0, signed by k3 */
		    {__LINE__, 0, -1, chain(raw(3, HDR, pl), NULL, NULL), -EBADMSG, 0, 0, 0, 0, 0},
		    /* signed by k0 but not a step from it: k0 not second, k0 first again */
		    {__LINE__, 0, -1, chain(stmt(0, 1, 3), NULL, NULL), -EBADMSG, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, chain(stmt(0, 0, 1), NULL, NULL), -EBADMSG, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, chain(stmt(0, 1, -1), NULL, NULL), -EBADMSG, 0, 0, 0, 0, 0},
		    /* a good step, then a bad one: nothing is taken */
		    {__LINE__, 0, -1, chain(stmt(0, 1, 0), stmt(1, 1, 0), NULL), -EBADMSG, 0, 0, 0, 0, 0},
		    /* the replaced key retires 360 s after the step: taken and retired at once, or
		     * retired later with no step, or not yet */
		    {__LINE__, 0, -1, chain(stmt(0, 1, 0), NULL, NULL), 0, 1, 1, -1, 400, 0},
		    {__LINE__, 1, 0, chain(stmt(0, 1, 0), NULL, NULL), 0, 0, 1, -1, 400, 0},
		    {__LINE__, 1, 0, chain(stmt(0, 1, 0), NULL, NULL), 0, 0, 0, 0, 359, 0},
		    {__LINE__, 2, 1, chain(stmt(0, 1, 0), stmt(1, 2, 1), NULL), 0, 0, 2, -1, 360, 0},
		    /* the dating step must verify: one forged by k3 as k1 retires nothing */
		    {__LINE__, 2, 1, chain(raw(3, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-keys+jwt\",\"kid\":\"k1\"}",
					   pl21), NULL, NULL), 0, 0, 0, 0, 400, 0},
		    /* another issuer */
		    {__LINE__, 0, -1, chain(stmt(0, 1, 0), NULL, NULL), -EBADMSG, 0, 0, 0, 0, 1},
		    /* the old key's kid, other material; three keys */
		    {__LINE__, 0, -1, chain(raw(0, HDR, pl1x), NULL, NULL), -EBADMSG, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, chain(raw(0, HDR, pl3), NULL, NULL), -EBADMSG, 0, 0, 0, 0, 0},
		    /* malformed */
		    {__LINE__, 0, -1, strdup("no-newline"), -EINVAL, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, strdup("a.b.c\n"), -EINVAL, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, strdup("\n"), -EINVAL, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1,
		     chain(raw(0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-session+jwt\",\"kid\":\"k0\"}",
			       pl), NULL, NULL), -EINVAL, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1,
		     chain(raw(0, "{\"alg\":\"ES256\",\"typ\":\"ssm-keys+jwt\",\"kid\":\"k0\"}",
			       pl), NULL, NULL), -EINVAL, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1,
		     chain(raw(0, "{\"alg\":\"EdDSA\",\"typ\":\"ssm-keys+jwt\",\"kid\":\"k0\",\"x\":1}",
			       pl), NULL, NULL), -EINVAL, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, chain(raw(0, HDR, "{\"ssm\":\"keys\",\"iss\":\"x\",\"iat\":1}"), NULL, NULL),
		     -EINVAL, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, chain(raw(0, HDR, "{\"ssm\":\"token\",\"iss\":\"x\",\"iat\":1,\"keys\":[]}"),
					    NULL, NULL), -EINVAL, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1, chain(raw(0, HDR, "{\"ssm\":\"keys\",\"iss\":\"x\",\"iat\":-1,\"keys\":[]}"),
					    NULL, NULL), -EINVAL, 0, 0, 0, 0, 0},
		    {__LINE__, 0, -1,
		     chain(raw(0, HDR, "{\"ssm\":\"keys\",\"iss\":\"x\",\"iat\":1,\"keys\":[],\"more\":1}"),
			   NULL, NULL), -EINVAL, 0, 0, 0, 0, 0},
		    /* a private key in the new set ("d"): the JWK Set parser refuses it */
		    {__LINE__, 0, -1,
		     chain(raw(0, HDR, "{\"ssm\":\"keys\",\"iss\":\"x\",\"iat\":1,\"keys\":[{\"kty\":\"OKP\","
				       "\"crv\":\"Ed25519\",\"kid\":\"k9\",\"x\":\"AAAA\",\"d\":\"AAAA\"}]}"),
			   NULL, NULL), -EBADMSG, 0, 0, 0, 0, 0},
		};
		free(pl);
		free(pl21);
		free(pl1x);
		free(pl3);
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			struct row *r = &rows[i];
			char *cur = set(r->cur_a, r->cur_b), *out = NULL, err[256] = "", kid[65];
			size_t applied = 99;
			int64_t retire_at = -1;
			int want_new = r->want_applied > 0 || r->want_b < 0;
			int rc = ssm_keyrot_apply(cur, strlen(cur), r->chain, strlen(r->chain),
						  r->other_iss ? "urn:other" : "urn:test", IAT + r->now_off, 360,
						  &out, &applied, &retire_at, err, sizeof(err));

			CHECK_ROW(r->line, rc == r->want_r, "rc %d, want %d (%s)", rc, r->want_r, err);
			CHECK_ROW(r->line, rc != 0 || applied == r->want_applied, "applied %zu, want %zu",
				  applied, r->want_applied);
			CHECK_ROW(r->line, (out != NULL) == (rc == 0 && want_new), "a new set iff changed");
			CHECK_ROW(r->line, rc >= 0 || err[0] != '\0', "an error says why");
			if (rc == 0 && r->now_off == 359)
				CHECK_ROW(r->line, retire_at == IAT + 360, "the old key retires at %lld",
					  (long long)retire_at);
			if (out != NULL && want_new) {
				char a[8], b[8];

				snprintf(a, sizeof(a), "\"k%d\"", r->want_a);
				snprintf(b, sizeof(b), "\"k%d\"", r->want_b);
				CHECK_ROW(r->line, ssm_keyrot_newest_kid(out, strlen(out), kid) == 0 &&
						       kid[0] == 'k' && kid[1] == '0' + r->want_a,
					  "newest key k%d, got %s", r->want_a, kid);
				if (r->want_b >= 0)
					CHECK_ROW(r->line, strstr(out, b) != NULL && strstr(out, a) < strstr(out, b),
						  "the new set is k%d then k%d: %s", r->want_a, r->want_b, out);
				else
					CHECK_ROW(r->line, strstr(strstr(out, "\"kid\"") + 1, "\"kid\"") == NULL,
						  "the new set is k%d alone: %s", r->want_a, out);
			}
			free(out);
			free(cur);
			free(r->chain);
		}
	}
	{
		/* bounds: a statement over SSM_KEYROT_STMT_MAX, more than SSM_KEYROT_KEEP */
		size_t n = (SSM_KEYROT_KEEP + 1) * 4, applied;
		int64_t ra;
		char *big = malloc(SSM_KEYROT_CHAIN_MAX + 2), *cur = set(0, -1), *out = NULL, err[256];

		if (big == NULL)
			abort();
		for (i = 0; i < n; i += 4)
			memcpy(big + i, "x.y\n", 4);
		CHECK(ssm_keyrot_apply(cur, strlen(cur), big, n, NULL, 0, 360, &out, &applied, &ra, err, sizeof(err)) ==
			      -EINVAL && out == NULL,
		      "more than %d statements refused", SSM_KEYROT_KEEP);
		memset(big, 'A', SSM_KEYROT_STMT_MAX + 1);
		big[10] = big[20] = '.';
		big[SSM_KEYROT_STMT_MAX + 1] = '\n';
		CHECK(ssm_keyrot_apply(cur, strlen(cur), big, SSM_KEYROT_STMT_MAX + 2, NULL, 0, 360, &out,
				       &applied, &ra, err, sizeof(err)) == -EINVAL,
		      "a statement over %d bytes refused", SSM_KEYROT_STMT_MAX);
		CHECK(ssm_keyrot_apply(cur, strlen(cur), big, SSM_KEYROT_CHAIN_MAX + 1, NULL, 0, 360, &out,
				       &applied, &ra, err, sizeof(err)) == -EINVAL,
		      "a chain over %d bytes refused", SSM_KEYROT_CHAIN_MAX);
		CHECK(ssm_keyrot_apply("{\"keys\":[]}", 11, "", 0, NULL, 0, 360, &out, &applied, &ra, err,
				       sizeof(err)) ==
			      -EINVAL,
		      "an empty trusted set refused");
		free(big);
		free(cur);
	}
	for (i = 0; i < 4; i++)
		EVP_PKEY_free(K[i]);
	return check_done("test_keyrot");
}
