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
#include "jwk.h"
#include "jws.h"
#include "replay.h"
#include "token.h"
#include "verify.h"

#define CACHE_SLOTS 8

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
	int valid;
};

struct slot {
	struct ssm_config *cfg;
	struct ssm_jwks *keys;
	struct file_id cfg_id, keys_id;
	uint64_t used; /* for replacing the least recently used slot */
};

struct ssm_verifier {
	struct slot slots[CACHE_SLOTS];
	uint64_t clock;
};

struct ssm_verifier *ssm_verifier_new(void)
{
	return calloc(1, sizeof(struct ssm_verifier));
}

static void slot_clear(struct slot *s)
{
	ssm_config_free(s->cfg);
	ssm_jwks_free(s->keys);
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

static void file_id_of(const char *path, struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (stat(path, &st) != 0)
		return;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtim = st.st_mtim;
	id->ctim = st.st_ctim;
	id->valid = 1;
}

static int file_id_same(const struct file_id *a, const struct file_id *b)
{
	return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/* The slot for config_path with a current configuration and keys, or NULL with out set. */
static struct slot *slot_get(struct ssm_verifier *vf, const char *config_path,
			     struct ssm_verdict *out)
{
	struct slot *s = NULL, *victim = &vf->slots[0];
	struct file_id cid, kid;
	char err[512] = "";
	size_t i;
	int r;

	vf->clock++;
	file_id_of(config_path, &cid);
	for (i = 0; i < CACHE_SLOTS; i++) {
		struct slot *c = &vf->slots[i];

		if (c->cfg != NULL && strcmp(c->cfg->path, config_path) == 0) {
			s = c;
			break;
		}
		if (c->cfg == NULL || (victim->cfg != NULL && c->used < victim->used))
			victim = c;
	}
	if (s != NULL && file_id_same(&s->cfg_id, &cid)) {
		file_id_of(s->cfg->trusted_keys, &kid);
		if (file_id_same(&s->keys_id, &kid)) {
			s->used = vf->clock;
			return s;
		}
	}
	if (s == NULL)
		s = victim;
	slot_clear(s);

	/* the identity is taken before reading: a change during the read is seen next time */
	r = ssm_config_load(config_path, &s->cfg, err, sizeof(err));
	if (r < 0) {
		if (r == SSM_TOKEN_REFUSED) /* -EACCES: an unsafe file, the host's fault */
			r = -EPERM;
		ssm_verdict_fail(out, r, "host_error", "configuration unusable: %s",
				 err[0] ? err : strerror(-r));
		goto fail;
	}
	s->cfg_id = cid;
	file_id_of(s->cfg->trusted_keys, &s->keys_id);
	r = ssm_jwks_load(s->cfg->trusted_keys, &s->keys, err, sizeof(err));
	if (r < 0) {
		if (r == SSM_TOKEN_REFUSED) /* -EACCES: an unsafe file, the host's fault */
			r = -EPERM;
		ssm_verdict_fail(out, r, "trusted_keys", "%s", err[0] ? err : strerror(-r));
		goto fail;
	}
	s->used = vf->clock;
	return s;
fail:
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
	r = ssm_token_verify(&ctx, token, len, &tok, NULL, reason, sizeof(reason));
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
	out->code = 0;
out:
	ssm_token_free(tok);
	return out->code;
}
