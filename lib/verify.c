/* verify.c - the token verifier of ssm-verifyd and ssm-verify.so (verify.h).
 *
 * A verifier caches, per configuration path, the parsed configuration and the imported
 * trusted keys, keyed by the identity of both files: importing a key is most of what a
 * first verification in a process costs (OpenSSL builds its key managers then), and the
 * daemon pays it once per key file instead of once per login.  Documents are read for every
 * token (the document's bytes are what its sha256 claim binds). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "doccache.h"
#include "jwk.h"
#include "jws.h"
#include "util.h"
#include "replay.h"
#include "token.h"
#include "verify.h"

#define CACHE_SLOTS 8

struct slot {
	struct ssm_config *cfg;
	struct ssm_jwks *keys;
	char *cfg_buf, *keys_buf; /* the bytes they were parsed from */
	size_t cfg_len, keys_len;
	char cfg_id[SSM_FILE_ID_MAX], keys_id[SSM_FILE_ID_MAX];
	uint64_t used; /* for replacing the least recently used slot */
};

struct ssm_verifier {
	struct slot slots[CACHE_SLOTS];
	uint64_t clock;
	int remote; /* answering for another process (ssm-verifyd) */
};

void ssm_verifier_set_remote(struct ssm_verifier *vf, int remote)
{
	vf->remote = remote;
}

struct ssm_verifier *ssm_verifier_new(void)
{
	return calloc(1, sizeof(struct ssm_verifier));
}

static void slot_clear(struct slot *s)
{
	ssm_config_free(s->cfg);
	ssm_jwks_free(s->keys);
	free(s->cfg_buf);
	free(s->keys_buf);
	memset(s, 0, sizeof(*s));
}

void ssm_verifier_free(struct ssm_verifier *vf)
{
	size_t i;

	if (vf == NULL)
		return;
	for (i = 0; i < CACHE_SLOTS; i++)
		slot_clear(&vf->slots[i]);
	free(vf);
}

static int host_code(int r)
{
	/* -EACCES (an unsafe file, the host's fault) must not read as SSM_TOKEN_REFUSED */
	return r == SSM_TOKEN_REFUSED ? -EPERM : r;
}

/* The slot for config_path, with the configuration and keys parsed from the files' current
 * bytes, or NULL with out set.  Both files are read (and their owner and mode checked) on
 * every call, and parsed again only when their bytes differ from the cached ones: a
 * timestamp or inode comparison would miss a same-size rewrite within one clock tick. */
static struct slot *slot_get(struct ssm_verifier *vf, const char *config_path,
			     struct ssm_verdict *out)
{
	struct slot *s = NULL, *victim = &vf->slots[0];
	char cid[SSM_FILE_ID_MAX], kid[SSM_FILE_ID_MAX], err[512] = "", perr[256];
	char *cbuf = NULL, *kbuf = NULL;
	size_t clen = 0, klen = 0, i;
	int r;

	vf->clock++;
	for (i = 0; i < CACHE_SLOTS; i++) {
		struct slot *c = &vf->slots[i];

		if (c->cfg != NULL && strcmp(c->cfg->path, config_path) == 0) {
			s = c;
			break;
		}
		if (c->cfg == NULL || (victim->cfg != NULL && c->used < victim->used))
			victim = c;
	}
	/* identities first: a change during the read shows as a mismatch at the module */
	ssm_file_id(config_path, cid);
	r = ssm_read_file(config_path, SSM_CONFIG_MAX_SIZE, SSM_FILE_TRUSTED, &cbuf, &clen, err,
			  sizeof(err));
	if (r < 0) {
		ssm_verdict_fail(out, host_code(r), "host_error", "configuration unusable: %s",
				 err[0] ? err : strerror(-r));
		goto fail;
	}
	if (s != NULL && s->cfg_len == clen && memcmp(s->cfg_buf, cbuf, clen) == 0) {
		free(cbuf);
		cbuf = NULL;
	} else {
		if (s == NULL)
			s = victim;
		slot_clear(s);
		r = ssm_config_parse(cbuf, clen, config_path, &s->cfg, err, sizeof(err));
		if (r < 0) {
			ssm_verdict_fail(out, host_code(r), "host_error",
					 "configuration unusable: %s", err);
			goto fail;
		}
		s->cfg_buf = cbuf;
		s->cfg_len = clen;
		cbuf = NULL;
	}
	snprintf(s->cfg_id, sizeof(s->cfg_id), "%s", cid);

	ssm_file_id(s->cfg->trusted_keys, kid);
	r = ssm_read_file(s->cfg->trusted_keys, SSM_JWKS_MAX_FILE, SSM_FILE_TRUSTED, &kbuf, &klen,
			  err, sizeof(err));
	if (r < 0) {
		ssm_verdict_fail(out, host_code(r), "trusted_keys", "%s",
				 err[0] ? err : strerror(-r));
		goto fail;
	}
	if (s->keys == NULL || s->keys_len != klen || memcmp(s->keys_buf, kbuf, klen) != 0) {
		ssm_jwks_free(s->keys);
		s->keys = NULL;
		free(s->keys_buf);
		s->keys_buf = NULL;
		r = ssm_jwks_parse(kbuf, klen, &s->keys, perr, sizeof(perr));
		if (r < 0) {
			ssm_verdict_fail(out, host_code(r), "trusted_keys", "%s: %s",
					 s->cfg->trusted_keys, perr);
			goto fail;
		}
		s->keys_buf = kbuf;
		s->keys_len = klen;
		kbuf = NULL;
	}
	free(kbuf);
	snprintf(s->keys_id, sizeof(s->keys_id), "%s", kid);
	s->used = vf->clock;
	return s;
fail:
	free(cbuf);
	free(kbuf);
	if (s != NULL)
		slot_clear(s);
	return NULL;
}

int ssm_verifier_check(struct ssm_verifier *vf, const char *config_path, const char *user,
		       const char *token, size_t len, int64_t now, struct ssm_verdict *out)
{
	struct ssm_verify_ctx ctx;
	struct ssm_token *tok = NULL;
	struct slot *s;
	char reason[512] = "";
	int r;

	ssm_verdict_init(out);
	/* refused before anything is decoded, or a key file is even looked at */
	if (len > SSM_TOKEN_MAX_LEN) {
		ssm_verdict_fail(out, SSM_TOKEN_REFUSED, "token_too_long",
				 "token longer than %d bytes", SSM_TOKEN_MAX_LEN);
		return out->code;
	}
	s = slot_get(vf, config_path, out);
	if (s == NULL)
		return out->code;
	ctx.cfg = s->cfg;
	ctx.keys = s->keys;
	ctx.now = now;
	ctx.user = user;
	snprintf(out->ids, sizeof(out->ids), "%s;%s;", s->cfg_id, s->keys_id);
	r = ssm_token_verify(&ctx, token, len, &tok, NULL, reason, sizeof(reason));
	if (vf->remote && r == SSM_TOKEN_REFUSED &&
	    strcmp(reason, SSM_REASON_UNKNOWN_DOCUMENT) == 0) {
		/* maybe only not visible from here (another mount namespace, PrivateTmp): not
		 * for this verifier to judge; the module verifies in-process then */
		ssm_verdict_fail(out, -ENOENT, "host_error", "%s", reason);
		goto out;
	}
	if (r == SSM_TOKEN_REFUSED) {
		ssm_verdict_fail(out, r, "invalid_token", "%s", reason);
		goto out;
	}
	if (r < 0) {
		ssm_verdict_fail(out, r, "host_error", "%s", reason[0] ? reason : strerror(-r));
		goto out;
	}
	r = ssm_replay_key(tok->jti, out->key);
	if (r == 0) {
		out->claims = cJSON_PrintUnformatted(tok->claims);
		if (out->claims == NULL)
			r = -ENOMEM;
	}
	if (r < 0) {
		ssm_verdict_fail(out, r, "host_error", "%s", strerror(-r));
		goto out;
	}
	snprintf(out->kid, sizeof(out->kid), "%s", tok->kid);
	snprintf(out->alg, sizeof(out->alg), "%s", tok->alg);
	{
		char did[SSM_FILE_ID_MAX];
		size_t n = strlen(out->ids);

		ssm_doccache_file_id(s->cfg, tok->doc_name, tok->doc_sha256, did);
		snprintf(out->ids + n, sizeof(out->ids) - n, "%s", did);
	}
	out->code = 0;
out:
	ssm_token_free(tok);
	return out->code;
}
