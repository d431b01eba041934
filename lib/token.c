/* token.c - session token verification (SPEC section 2) and account checks (section 5).
 *
 * The claims and account rules, which need no cryptography: the PAM module links only
 * these.  ssm_token_verify, which adds the signature and the document, is in
 * token_verify.c. */
#include "config.h"
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "document.h"
#include "json.h"
#include "log.h"
#include "token.h"
#include "util.h"

#define REASON(...) do { if (reason && reasonlen) snprintf(reason, reasonlen, __VA_ARGS__); } while (0)

static int is_sub_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '-';
}

static int is_sid_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_lower_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

void ssm_token_free(struct ssm_token *tok)
{
	if (tok == NULL)
		return;
	free(tok->iss);
	free(tok->sub);
	free(tok->sid);
	free(tok->jti);
	free(tok->run_as);
	free(tok->doc_name);
	cJSON_Delete(tok->params);
	cJSON_Delete(tok->claims);
	free(tok);
}

static int dup_into(char **pdst, const char *s)
{
	*pdst = strdup(s);
	return *pdst ? 0 : -ENOMEM;
}

/* aud: a string, or a non-empty array of strings; contains host_id. */
static int check_aud(const cJSON *aud, const char *host_id)
{
	const cJSON *el;
	int found = 0;

	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, host_id) == 0 ? 0 : -1;
	if (!cJSON_IsArray(aud) || cJSON_GetArraySize(aud) < 1)
		return -2;
	cJSON_ArrayForEach(el, aud) {
		if (!cJSON_IsString(el))
			return -2;
		if (strcmp(el->valuestring, host_id) == 0)
			found = 1;
	}
	return found ? 0 : -1;
}

/* Integer claim: 0, -ENOENT absent, -EINVAL not an integer. */
static int get_time(const cJSON *claims, const char *name, int64_t *pv)
{
	const cJSON *it = ssm_json_member(claims, name);

	*pv = 0;
	if (it == NULL)
		return -ENOENT;
	if (!cJSON_IsNumber(it))
		return -EINVAL;
	return ssm_json_to_int64(it, pv);
}

static int check_params_shape(const cJSON *params)
{
	const cJSON *p, *v;

	if (!cJSON_IsObject(params))
		return -EINVAL;
	cJSON_ArrayForEach(p, params) {
		if (!cJSON_IsArray(p))
			return -EINVAL;
		cJSON_ArrayForEach(v, p) {
			if (!cJSON_IsString(v))
				return -EINVAL;
		}
	}
	return 0;
}

int ssm_token_check_claims(const struct ssm_verify_ctx *ctx, const cJSON *claims,
			   struct ssm_token **ptok, char *reason, size_t reasonlen)
{
	const struct ssm_config *cfg = ctx->cfg;
	struct ssm_token *tok = NULL;
	const char *iss, *sub, *sid, *jti, *run_as, *dname, *dhash;
	const cJSON *aud, *doc, *params;
	int64_t limit, life;
	size_t sublen;
	int r;

	*ptok = NULL;
	if (cfg == NULL || !cJSON_IsObject(claims)) {
		REASON("malformed claims");
		return SSM_TOKEN_REFUSED;
	}
	r = SSM_TOKEN_REFUSED;
	if (ssm_json_get_string(claims, "iss", &iss) < 0) {
		REASON("missing or bad iss");
		goto out;
	}
	if (strcmp(iss, cfg->issuer) != 0) {
		REASON("wrong issuer");
		goto out;
	}
	aud = ssm_json_member(claims, "aud");
	if (aud == NULL) {
		REASON("missing aud");
		goto out;
	}
	switch (check_aud(aud, cfg->host_id)) {
	case 0:
		break;
	case -1:
		REASON("wrong audience");
		goto out;
	default:
		REASON("bad aud");
		goto out;
	}
	if (ssm_json_get_string(claims, "sub", &sub) < 0 ||
	    !ssm_str_charset(sub, 1, 64, is_sub_char)) {
		REASON("missing or bad sub");
		goto out;
	}
	sublen = strlen(sub);
	if (ssm_json_get_string(claims, "sid", &sid) < 0 || strncmp(sid, sub, sublen) != 0 ||
	    sid[sublen] != '-' || !ssm_str_charset(sid + sublen + 1, 8, 32, is_sid_char)) {
		REASON("missing or bad sid");
		goto out;
	}
	if (ssm_json_get_string(claims, "jti", &jti) < 0 ||
	    !ssm_str_charset(jti, 16, 128, ssm_is_b64url_char)) {
		REASON("missing or bad jti");
		goto out;
	}

	tok = calloc(1, sizeof(*tok));
	if (tok == NULL) {
		r = -ENOMEM;
		REASON("out of memory");
		goto out;
	}
	/* time: all arithmetic overflow-checked; an overflow refuses */
	if (get_time(claims, "iat", &tok->iat) < 0) {
		REASON("missing or bad iat");
		goto out;
	}
	if (get_time(claims, "exp", &tok->exp) < 0) {
		REASON("missing or bad exp");
		goto out;
	}
	r = get_time(claims, "nbf", &tok->nbf);
	if (r == -EINVAL) {
		r = SSM_TOKEN_REFUSED;
		REASON("bad nbf");
		goto out;
	}
	tok->has_nbf = r == 0;
	r = SSM_TOKEN_REFUSED;
	if (__builtin_add_overflow(ctx->now, cfg->leeway, &limit) || tok->iat > limit) {
		REASON("issued in the future");
		goto out;
	}
	if (tok->has_nbf &&
	    (__builtin_sub_overflow(tok->nbf, cfg->leeway, &limit) || ctx->now < limit)) {
		REASON("not yet valid");
		goto out;
	}
	if (__builtin_add_overflow(tok->exp, cfg->leeway, &limit) || ctx->now >= limit) {
		REASON("expired");
		goto out;
	}
	if (__builtin_sub_overflow(tok->exp, tok->iat, &life) || life <= 0 ||
	    life > cfg->max_token_lifetime) {
		REASON("bad lifetime");
		goto out;
	}
	if (ssm_json_get_string(claims, "run_as", &run_as) < 0 ||
	    !ssm_config_user_name_valid(run_as)) {
		REASON("missing or bad run_as");
		goto out;
	}
	if (ctx->user != NULL && strcmp(ctx->user, run_as) != 0) {
		REASON("wrong user");
		goto out;
	}
	doc = ssm_json_member(claims, "doc");
	if (!cJSON_IsObject(doc) || ssm_json_get_string(doc, "name", &dname) < 0 ||
	    ssm_json_get_string(doc, "sha256", &dhash) < 0) {
		REASON("missing or bad doc");
		goto out;
	}
	if (!ssm_document_name_valid(dname)) {
		REASON("bad doc name");
		goto out;
	}
	if (!ssm_str_charset(dhash, 64, 64, is_lower_hex)) {
		REASON("bad doc sha256");
		goto out;
	}
	params = ssm_json_member(claims, "params");
	if (params != NULL && check_params_shape(params) < 0) {
		REASON("bad params");
		goto out;
	}

	r = -ENOMEM;
	if (dup_into(&tok->iss, iss) < 0 || dup_into(&tok->sub, sub) < 0 ||
	    dup_into(&tok->sid, sid) < 0 || dup_into(&tok->jti, jti) < 0 ||
	    dup_into(&tok->run_as, run_as) < 0 || dup_into(&tok->doc_name, dname) < 0) {
		REASON("out of memory");
		goto out;
	}
	memcpy(tok->doc_sha256, dhash, 65);
	if (params != NULL && (tok->params = cJSON_Duplicate(params, 1)) == NULL) {
		REASON("out of memory");
		goto out;
	}
	if ((tok->claims = cJSON_Duplicate(claims, 1)) == NULL) {
		REASON("out of memory");
		goto out;
	}
	*ptok = tok;
	tok = NULL;
	r = 0;
out:
	ssm_token_free(tok);
	return r;
}

int ssm_token_check_account(const struct ssm_config *cfg, const struct ssm_token *tok,
			    char *reason, size_t reasonlen)
{
	struct passwd *pw;

	if (cfg == NULL || tok == NULL || tok->run_as == NULL || tok->doc_name == NULL) {
		REASON("no token");
		return SSM_TOKEN_REFUSED;
	}
	if (!ssm_config_run_as_allowed(cfg, tok->run_as)) {
		REASON("run_as not allowed");
		return SSM_TOKEN_REFUSED;
	}
	errno = 0;
	pw = getpwnam(tok->run_as);
	if (pw == NULL) {
		REASON("unknown user");
		return SSM_TOKEN_REFUSED;
	}
	/* run_as_allowed is a plain list of names (no globs), so being in it is naming the
	 * user explicitly: a uid 0 account passes only when listed under its own name. */
	if (pw->pw_uid == 0 && !ssm_config_run_as_allowed(cfg, pw->pw_name)) {
		REASON("uid 0 not allowed");
		return SSM_TOKEN_REFUSED;
	}
	if (!ssm_config_document_allowed(cfg, tok->doc_name)) {
		REASON("document not allowed");
		return SSM_TOKEN_REFUSED;
	}
	return 0;
}

int64_t ssm_token_keep_until(const struct ssm_config *cfg, const struct ssm_token *tok)
{
	int64_t t;

	if (__builtin_add_overflow(tok->exp, cfg->leeway, &t))
		return INT64_MAX;
	return t;
}

char *ssm_token_claims_json(const struct ssm_token *tok)
{
	if (tok == NULL || tok->claims == NULL)
		return NULL;
	return cJSON_PrintUnformatted(tok->claims);
}
