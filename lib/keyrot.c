/* keyrot.c - rotation statements of the broker's token signing key (keyrot.h). */
#include "config.h"
#include "keyrot.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "b64url.h"
#include "json.h"
#include "jwk.h"
#include "token_mint.h"
#include "util.h"

static int is_kid_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* cJSON_AddItemToObject that frees item when it cannot add it */
static int add_item(cJSON *o, const char *name, cJSON *item)
{
	if (item == NULL)
		return 0;
	if (!cJSON_AddItemToObject(o, name, item)) {
		cJSON_Delete(item);
		return 0;
	}
	return 1;
}

char *ssm_keyrot_sign(EVP_PKEY *old_key, const char *old_kid, const char *issuer,
		      const cJSON *newset, int64_t now, char *err, size_t errlen)
{
	cJSON *h = NULL, *p = NULL, *keys;
	char *out = NULL;

	keys = cJSON_GetObjectItemCaseSensitive(newset, "keys");
	if (old_key == NULL || !EVP_PKEY_is_a(old_key, "ED25519") || old_kid == NULL ||
	    !ssm_str_charset(old_kid, 1, 64, is_kid_char) || issuer == NULL || !cJSON_IsArray(keys)) {
		ssm_errf(err, errlen, "a rotation statement needs the old Ed25519 key, its kid and the new set");
		return NULL;
	}
	h = cJSON_CreateObject();
	p = cJSON_CreateObject();
	if (h == NULL || p == NULL || !cJSON_AddStringToObject(h, "alg", "EdDSA") ||
	    !cJSON_AddStringToObject(h, "typ", SSM_KEYROT_TYP) ||
	    !cJSON_AddStringToObject(h, "kid", old_kid) || !cJSON_AddStringToObject(p, "ssm", "keys") ||
	    !cJSON_AddStringToObject(p, "iss", issuer) ||
	    !cJSON_AddNumberToObject(p, "iat", (double)now) || !add_item(p, "keys", cJSON_Duplicate(keys, 1)))
		ssm_errf(err, errlen, "out of memory");
	else
		out = ssm_jws_sign_ed25519(old_key, h, p, SSM_KEYROT_STMT_MAX, err, errlen);
	cJSON_Delete(h);
	cJSON_Delete(p);
	return out;
}

int ssm_keyrot_newest_kid(const char *set, size_t len, char kid[65])
{
	struct ssm_jwks *ks = NULL;
	char err[64];
	const struct ssm_jwk *k;

	if (ssm_jwks_parse(set, len, &ks, err, sizeof(err)) < 0)
		return -EINVAL;
	k = ssm_jwks_at(ks, 0);
	if (k == NULL || strlen(ssm_jwk_kid(k)) > 64) {
		ssm_jwks_free(ks);
		return -EINVAL;
	}
	snprintf(kid, 65, "%s", ssm_jwk_kid(k));
	ssm_jwks_free(ks);
	return 0;
}

/* One statement: its header's kid (*kid), the signing input's length, the signature and the
 * parsed payload.  0, -EINVAL (err says why), -ENOMEM. */
static int stmt_parse(const char *s, size_t len, char kid[65], size_t *ptbs, unsigned char **psig,
		      cJSON **ppayload, int64_t *piat, char *err, size_t errlen)
{
	const char *d1, *d2, *alg, *typ, *k, *ssm, *iss;
	unsigned char *hb = NULL, *pb = NULL, *sig = NULL;
	size_t hl, pl, sl;
	cJSON *h = NULL, *p = NULL;
	int64_t iat;
	int r = -EINVAL;

	*psig = NULL;
	*ppayload = NULL;
	if (len == 0 || len > SSM_KEYROT_STMT_MAX || memchr(s, '\0', len) != NULL) {
		ssm_errf(err, errlen, "a statement is empty or longer than %d bytes", SSM_KEYROT_STMT_MAX);
		return -EINVAL;
	}
	d1 = memchr(s, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - s)) : NULL;
	if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - s)) != NULL) {
		ssm_errf(err, errlen, "a statement is not three dot-separated parts");
		return -EINVAL;
	}
	if (ssm_b64url_decode(s, (size_t)(d1 - s), &hb, &hl) < 0 ||
	    ssm_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &pb, &pl) < 0 ||
	    ssm_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - s), &sig, &sl) < 0) {
		ssm_errf(err, errlen, "a statement's part is not strict base64url");
		goto out;
	}
	if (sl != 64) {
		ssm_errf(err, errlen, "a statement's signature is not 64 bytes");
		goto out;
	}
	if (ssm_json_parse_object((const char *)hb, hl, &h, err, errlen) < 0 ||
	    ssm_json_parse_object((const char *)pb, pl, &p, err, errlen) < 0)
		goto out;
	if (cJSON_GetArraySize(h) != 3 || ssm_json_get_string(h, "alg", &alg) < 0 ||
	    strcmp(alg, "EdDSA") != 0 || ssm_json_get_string(h, "typ", &typ) < 0 ||
	    strcmp(typ, SSM_KEYROT_TYP) != 0 || ssm_json_get_string(h, "kid", &k) < 0 ||
	    !ssm_str_charset(k, 1, 64, is_kid_char)) {
		ssm_errf(err, errlen, "a statement's header is not {alg EdDSA, typ %s, kid}",
			 SSM_KEYROT_TYP);
		goto out;
	}
	if (cJSON_GetArraySize(p) != 4 || ssm_json_get_string(p, "ssm", &ssm) < 0 ||
	    strcmp(ssm, "keys") != 0 || ssm_json_get_string(p, "iss", &iss) < 0 ||
	    ssm_json_get_int64(p, "iat", &iat) < 0 || iat < 0 ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(p, "keys"))) {
		ssm_errf(err, errlen, "a statement's payload is not {ssm keys, iss, iat, keys}");
		goto out;
	}
	snprintf(kid, 65, "%s", k);
	*piat = iat;
	*ptbs = (size_t)(d2 - s);
	*psig = sig;
	sig = NULL;
	*ppayload = p;
	p = NULL;
	r = 0;
out:
	cJSON_Delete(h);
	cJSON_Delete(p);
	free(hb);
	free(pb);
	free(sig);
	return r;
}

int ssm_keyrot_stmt_set(const char *stmt, size_t len, char **pset)
{
	char kid[65], err[128], *t = NULL;
	unsigned char *sig = NULL;
	cJSON *payload = NULL, *o = NULL;
	size_t tbs;
	int64_t iat;
	int r = stmt_parse(stmt, len, kid, &tbs, &sig, &payload, &iat, err, sizeof(err));

	*pset = NULL;
	if (r < 0)
		return r;
	free(sig);
	if ((o = cJSON_CreateObject()) == NULL ||
	    !add_item(o, "keys", cJSON_DetachItemFromObjectCaseSensitive(payload, "keys")) ||
	    (t = cJSON_PrintUnformatted(o)) == NULL)
		r = -ENOMEM;
	cJSON_Delete(o);
	cJSON_Delete(payload);
	*pset = t;
	return r;
}

/* The JWK Set text of the "keys" of payload (taken from it), parsed into *pset. */
static int payload_set(cJSON *payload, char **ptext, struct ssm_jwks **pset, char *jerr, size_t jlen)
{
	cJSON *o = cJSON_CreateObject();
	int r = -ENOMEM;

	*ptext = NULL;
	*pset = NULL;
	if (o != NULL && add_item(o, "keys", cJSON_DetachItemFromObjectCaseSensitive(payload, "keys")) &&
	    (*ptext = cJSON_PrintUnformatted(o)) != NULL)
		r = ssm_jwks_parse(*ptext, strlen(*ptext), pset, jerr, jlen) < 0 ? -EINVAL : 0;
	cJSON_Delete(o);
	if (r < 0) {
		free(*ptext);
		*ptext = NULL;
	}
	return r;
}

/* The set with its first key alone, as text (to free), or NULL. */
static char *first_only(const char *text)
{
	cJSON *o = cJSON_Parse(text), *keys = cJSON_GetObjectItemCaseSensitive(o, "keys");
	char *out = NULL;

	if (cJSON_IsArray(keys)) {
		while (cJSON_GetArraySize(keys) > 1)
			cJSON_DeleteItemFromArray(keys, 1);
		out = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(o);
	return out;
}

int ssm_keyrot_apply(const char *cur, size_t cur_len, const char *chain, size_t chain_len,
		     const char *issuer, int64_t now, int64_t retire_after, char **pnew,
		     size_t *papplied, int64_t *pretire_at, char *err, size_t errlen)
{
	struct ssm_jwks *set = NULL, *next = NULL;
	char *text = NULL, kid[65], jerr[256];
	const char *p = chain, *end = chain + chain_len, *nl;
	size_t nstmt = 0, applied = 0, tbs;
	int64_t iat, intro_iat = -1;
	int r;

	*pnew = NULL;
	*papplied = 0;
	*pretire_at = 0;
	if (chain_len > SSM_KEYROT_CHAIN_MAX) {
		ssm_errf(err, errlen, "the chain is longer than %d bytes", SSM_KEYROT_CHAIN_MAX);
		return -EINVAL;
	}
	if ((text = malloc(cur_len + 1)) == NULL)
		return -ENOMEM;
	memcpy(text, cur, cur_len);
	text[cur_len] = '\0';
	if (ssm_jwks_parse(text, cur_len, &set, jerr, sizeof(jerr)) < 0 || ssm_jwks_count(set) == 0) {
		ssm_errf(err, errlen, "the trusted keys: %s", set ? "no key" : jerr);
		r = -EINVAL;
		goto out;
	}
	while (p < end) {
		unsigned char *sig = NULL;
		cJSON *payload = NULL;
		const struct ssm_jwk *newest = ssm_jwks_at(set, 0), *signer;
		const char *iss = NULL;
		char *nt = NULL;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || ++nstmt > SSM_KEYROT_KEEP) {
			ssm_errf(err, errlen, nl ? "more than %d statements" : "a statement without its newline",
				 SSM_KEYROT_KEEP);
			r = -EINVAL;
			goto out;
		}
		r = stmt_parse(p, (size_t)(nl - p), kid, &tbs, &sig, &payload, &iat, err, errlen);
		if (r < 0)
			goto out;
		(void)ssm_json_get_string(payload, "iss", &iss);
		if (strcmp(kid, ssm_jwk_kid(newest)) != 0) {
			/* not a step from here: skipped.  The step that brought the newest key (signed
			 * by the key it replaced, still in the set) dates the old key's retirement. */
			signer = ssm_jwks_find(set, kid);
			if (signer != NULL && ssm_jwk_type(signer) == SSM_KEY_ED25519 &&
			    (issuer == NULL || strcmp(iss, issuer) == 0) &&
			    ssm_jwk_verify(signer, sig, 64, (const unsigned char *)p, tbs) == 0 &&
			    payload_set(payload, &nt, &next, jerr, sizeof(jerr)) == 0 &&
			    ssm_jwks_count(next) == 2 &&
			    EVP_PKEY_eq(ssm_jwk_pkey(ssm_jwks_at(next, 0)), ssm_jwk_pkey(newest)) == 1 &&
			    strcmp(ssm_jwk_kid(ssm_jwks_at(next, 1)), kid) == 0)
				intro_iat = iat;
			free(nt);
			ssm_jwks_free(next);
			next = NULL;
			OPENSSL_cleanse(sig, 64);
			free(sig);
			cJSON_Delete(payload);
			p = nl + 1;
			continue;
		}
		r = -EBADMSG;
		if (ssm_jwk_type(newest) != SSM_KEY_ED25519 ||
		    ssm_jwk_verify(newest, sig, 64, (const unsigned char *)p, tbs) != 0) {
			ssm_errf(err, errlen, "the statement signed by %s does not verify", kid);
		} else if (issuer != NULL && strcmp(iss, issuer) != 0) {
			ssm_errf(err, errlen, "the statement signed by %s is from another issuer (%s)", kid, iss);
		} else if ((r = payload_set(payload, &nt, &next, jerr, sizeof(jerr))) < 0) {
			if (r == -EINVAL)
				ssm_errf(err, errlen, "the set the statement signed by %s names: %s", kid, jerr);
			r = r == -EINVAL ? -EBADMSG : r;
		} else if (ssm_jwks_count(next) != 2 ||
			   ssm_jwk_type(ssm_jwks_at(next, 0)) != SSM_KEY_ED25519 ||
			   strcmp(ssm_jwk_kid(ssm_jwks_at(next, 0)), kid) == 0 ||
			   strcmp(ssm_jwk_kid(ssm_jwks_at(next, 1)), kid) != 0 ||
			   EVP_PKEY_eq(ssm_jwk_pkey(ssm_jwks_at(next, 1)), ssm_jwk_pkey(newest)) != 1) {
			r = -EBADMSG;
			ssm_errf(err, errlen,
				 "the statement signed by %s does not name a new Ed25519 key and %s alone",
				 kid, kid);
		} else {
			r = 0;
		}
		OPENSSL_cleanse(sig, 64);
		free(sig);
		cJSON_Delete(payload);
		if (r < 0) {
			free(nt);
			ssm_jwks_free(next);
			next = NULL;
			goto out;
		}
		ssm_jwks_free(set);
		set = next;
		next = NULL;
		free(text);
		text = nt;
		applied++;
		intro_iat = iat;
		p = nl + 1;
	}
	/* the key the last step replaced: kept until retire_after past the step */
	if (ssm_jwks_count(set) > 1 && intro_iat >= 0) {
		if (now >= intro_iat + retire_after) {
			char *one = first_only(text);

			if (one == NULL) {
				r = -ENOMEM;
				goto out;
			}
			free(text);
			text = one; /* the set changes, with no step taken or after them */
			*pnew = text;
			text = NULL;
		} else {
			*pretire_at = intro_iat + retire_after;
		}
	}
	if (applied > 0 && *pnew == NULL) {
		*pnew = text;
		text = NULL;
	}
	*papplied = applied;
	r = 0;
out:
	ssm_jwks_free(set);
	free(text);
	return r;
}
