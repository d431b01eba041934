/* verify_rate - in-process session token verifications per second.
 *
 *   verify_rate CONFIG TOKENFILE [SECONDS]
 *
 * Loads the host configuration and its JWK Set once, then verifies the token in TOKENFILE
 * over and over for SECONDS (default 3) in three ways and prints one line each:
 *
 *   full     ssm_token_verify: parse, signature, claims, document load and sha256 check
 *   nodoc    ssm_jws_parse + ssm_jws_verify + ssm_token_check_claims (no document file I/O)
 *   sigonly  ssm_jws_verify on an already parsed token (the bare signature check)
 *   docload  ssm_document_load of the token's document alone (open, trust check, read,
 *            sha256, parse): what "full" adds to "nodoc"
 *
 * Nothing here touches the replay cache.  Used by bench/verify_rate.sh, which sets these
 * figures next to `openssl speed` verify rates measured in the same run. */
#include "config.h" /* lib/config.h */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "document.h"
#include "jwk.h"
#include "jws.h"
#include "token.h"
#include "util.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum mode { MODE_FULL, MODE_NODOC, MODE_SIGONLY, MODE_DOCLOAD };

static int one(enum mode m, const struct ssm_verify_ctx *ctx, const char *tok, size_t len,
	       const struct ssm_jws *parsed)
{
	struct ssm_token *t = NULL;
	struct ssm_document *doc = NULL;
	struct ssm_jws *jws = NULL;
	char why[256];
	int r;

	switch (m) {
	case MODE_FULL:
		r = ssm_token_verify(ctx, tok, len, &t, &doc, why, sizeof(why));
		break;
	case MODE_NODOC:
		r = ssm_jws_parse(tok, len, &jws, why, sizeof(why));
		if (r == 0)
			r = ssm_jws_verify(jws, ctx->keys, why, sizeof(why));
		if (r == 0)
			r = ssm_token_check_claims(ctx, jws->claims, &t, why, sizeof(why));
		break;
	case MODE_SIGONLY:
		r = ssm_jws_verify(parsed, ctx->keys, why, sizeof(why));
		break;
	default: {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(parsed->claims, "doc");

		r = ssm_document_load(ctx->cfg->documents_dir,
				      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "name")),
				      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "sha256")),
				      &doc, why, sizeof(why));
		break;
	}
	}
	if (r < 0)
		fprintf(stderr, "verify_rate: token refused: %s\n", why);
	ssm_token_free(t);
	ssm_document_free(doc);
	ssm_jws_free(jws);
	return r;
}

int main(int argc, char **argv)
{
	static const char *names[] = { "full", "nodoc", "sigonly", "docload" };
	struct ssm_config *cfg = NULL;
	struct ssm_jwks *keys = NULL;
	struct ssm_jws *parsed = NULL;
	struct ssm_verify_ctx ctx;
	char err[512], *tok = NULL;
	size_t len = 0;
	double secs = 3.0;
	int rc = 1, m;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: verify_rate CONFIG TOKENFILE [SECONDS]\n");
		return 2;
	}
	if (argc == 4 && (secs = strtod(argv[3], NULL)) <= 0)
		secs = 3.0;
	if (ssm_config_load(argv[1], &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "verify_rate: %s\n", err);
		goto out;
	}
	if (ssm_jwks_load(cfg->trusted_keys, &keys, err, sizeof(err)) < 0) {
		fprintf(stderr, "verify_rate: %s\n", err);
		goto out;
	}
	if (ssm_read_file(argv[2], SSM_TOKEN_MAX_LEN + 2, 0, &tok, &len, err, sizeof(err)) < 0) {
		fprintf(stderr, "verify_rate: %s\n", err);
		goto out;
	}
	while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
		tok[--len] = '\0';
	if (ssm_jws_parse(tok, len, &parsed, err, sizeof(err)) < 0) {
		fprintf(stderr, "verify_rate: %s\n", err);
		goto out;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.keys = keys;
	ctx.now = (int64_t)time(NULL);
	ctx.user = NULL;

	for (m = MODE_FULL; m <= MODE_DOCLOAD; m++) {
		double t0, t1;
		long n = 0;

		/* warm up (page cache, OpenSSL's lazy initialisation) */
		if (one((enum mode)m, &ctx, tok, len, parsed) < 0)
			goto out;
		t0 = now_s();
		do {
			int i;

			for (i = 0; i < 64; i++)
				if (one((enum mode)m, &ctx, tok, len, parsed) < 0)
					goto out;
			n += 64;
			t1 = now_s();
		} while (t1 - t0 < secs);
		printf("%s %s %ld %.3f %.1f\n", parsed->alg == SSM_ALG_ES256 ? "ES256" : "EdDSA",
		       names[m], n, t1 - t0, (double)n / (t1 - t0));
	}
	rc = 0;
out:
	ssm_jws_free(parsed);
	free(tok);
	ssm_jwks_free(keys);
	ssm_config_free(cfg);
	return rc;
}
