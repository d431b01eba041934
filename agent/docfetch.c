/* docfetch.c - the documents a host's sessions need, fetched from the broker (DOCUMENT
 * channels, docs/PROTOCOL.md section 4) into the host's cache (lib/doccache.h).
 *
 * When the broker opens a SESSION whose token names a document this host would take from
 * the broker (broker_documents on, the name in allowed_documents) but holds neither in
 * documents_dir nor in the cache, sessions.c holds the login back and asks here.  One
 * DOCUMENT channel per (name, hash) at a time: the agent names the hash it wants and grants
 * 64 KiB, the most a document may be; it reads nothing before the broker's EOF, so the grant
 * never slides and is a hard cap (a broker that sends more breaks flow control and loses
 * the connection).  At EOF the bytes must hash to the name's hash and pass the document
 * parser (ssm_doccache_store) before they are written, atomically, in the root-owned
 * cache.  Whatever the outcome (stored, refused by the broker, the link lost, 15 s without
 * an answer) the held sessions then go on to PAM, which stays the only judge: a document
 * that did not arrive is a refused login with its reason, as any missing document.
 *
 * The hash and name are read from the token without verifying it: they only choose what to
 * fetch.  A broker (or anyone who can make a token reach the agent) can thereby make the
 * host cache a document only under a name allowed_documents accepts, with bytes that hash
 * as named and parse as a document; a login still needs a token that pam_ssmsession
 * verifies. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "agent.h"
#include "ca.h"
#include "doccache.h"
#include "document.h"
#include "jwk.h"
#include "keyrot.h"
#include "util.h"

#define FETCH_TIMEOUT_MS 15000
#define FETCHES_MAX 8 /* documents asked for at once */

struct fetch {
	uint32_t ch;
	char name[SSM_FRAME_DOC_MAX + 1];
	char sha[65];
	int64_t deadline;
	struct fetch *next;
};

static struct agent_env E;
static const struct ssm_config *cfg;
static struct fetch *fetches;
static int64_t keys_retire_ms; /* monotonic ms: the chain asked for again (0: not due) */
static char cache_dir[4096];

void agent_docs_init(const struct agent_env *env, const struct ssm_config *c)
{
	E = *env;
	cfg = c;
	if (ssm_doccache_dir(cfg, cache_dir, sizeof(cache_dir)) < 0)
		cache_dir[0] = '\0';
}

static struct fetch *find(const char *name, const char *sha)
{
	struct fetch *f;

	for (f = fetches; f; f = f->next)
		if (strcmp(f->name, name) == 0 && strcmp(f->sha, sha) == 0)
			return f;
	return NULL;
}

static struct fetch *find_ch(uint32_t ch)
{
	struct fetch *f;

	for (f = fetches; f; f = f->next)
		if (f->ch == ch)
			return f;
	return NULL;
}

static size_t count(void)
{
	struct fetch *f;
	size_t n = 0;

	for (f = fetches; f; f = f->next)
		n++;
	return n;
}

/* The fetch is over, whatever its outcome: forget it, then let its sessions go on. */
static void finish(struct fetch *f)
{
	struct fetch **pp;
	char name[sizeof(f->name)], sha[sizeof(f->sha)];

	for (pp = &fetches; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	memcpy(name, f->name, sizeof(name));
	memcpy(sha, f->sha, sizeof(sha));
	free(f);
	agent_sessions_doc_ready(name, sha);
}

static int start_fetch(const char *name, const char *sha);

int agent_docs_need(const char *name, const char *sha)
{
	char path[4096 + SSM_FRAME_DOC_MAX + 8], err[512] = "", *buf = NULL;
	struct stat st;
	size_t len;
	int r;

	if (cache_dir[0] == '\0' || !ssm_doccache_eligible(cfg, name))
		return 0; /* never taken from the broker here: PAM judges as ever */
	/* documents_dir's copy, whatever it holds, is the one the host uses */
	snprintf(path, sizeof(path), "%s/%s.json", cfg->documents_dir, name);
	if (lstat(path, &st) == 0 || errno != ENOENT)
		return 0;
	r = ssm_doccache_read(cache_dir, name, sha, &buf, &len, err, sizeof(err));
	free(buf);
	if (r == 0) {
		/* in use: pruned last */
		(void)ssm_doccache_touch(cache_dir, name, sha);
		return 0;
	}
	if (r != -ENOENT)
		E.log("document %s: the cached copy is unusable (%s): fetching it again", name, err);
	return start_fetch(name, sha);
}

static int is_keys(const struct fetch *f)
{
	return strcmp(f->name, SSM_KEYROT_DOC_NAME) == 0 && strcmp(f->sha, SSM_KEYROT_DOC_SHA) == 0;
}

int agent_keys_fetch(void)
{
	return start_fetch(SSM_KEYROT_DOC_NAME, SSM_KEYROT_DOC_SHA);
}

int agent_keys_known(const char *kid)
{
	struct ssm_jwks *set = NULL;
	char err[256];
	int r;

	if (ssm_jwks_load(cfg->trusted_keys, &set, err, sizeof(err)) < 0)
		return 0;
	r = ssm_jwks_find(set, kid) != NULL;
	ssm_jwks_free(set);
	return r;
}

/* The chain arrived whole: take what carries trusted_keys forward (verified from the keys
 * it holds: lib/keyrot.c), written atomically; the broker's word alone changes nothing. */
static int keys_complete(const char *chain, size_t len, char *why, size_t whylen)
{
	char err[512] = "", *cur = NULL, *next = NULL, kid[65];
	size_t clen = 0, applied = 0;
	int64_t retire_at = 0;
	int r;

	r = ssm_read_file(cfg->trusted_keys, SSM_JWKS_MAX_FILE, SSM_FILE_TRUSTED | SSM_FILE_NOFOLLOW,
			  &cur, &clen, err, sizeof(err));
	if (r == 0)
		r = ssm_keyrot_apply(cur, clen, chain, len, cfg->issuer, ssm_now(),
				     cfg->max_token_lifetime + cfg->leeway, &next, &applied, &retire_at,
				     err, sizeof(err));
	if (r == 0 && next != NULL) {
		r = ssm_ca_write_file(cfg->trusted_keys, next, strlen(next), 0644, err, sizeof(err));
		if (r == 0 && ssm_keyrot_newest_kid(next, strlen(next), kid) == 0) {
			if (applied > 0)
				E.log("trusted_keys: the broker's signing key is now %s (%zu rotation%s taken)",
				      kid, applied, applied == 1 ? "" : "s");
			if (retire_at == 0) /* a new set with no retirement ahead: its first key alone */
				E.log("trusted_keys: %s alone (the key it replaced is retired)", kid);
		}
	}
	/* the replaced key retires once no token it signed can still be valid: asked again then */
	keys_retire_ms = r == 0 && retire_at > 0
				 ? ssm_mono_ms() + (retire_at - ssm_now() + 1) * 1000
				 : 0;
	if (r < 0) {
		E.log("the broker's key chain refused: %s; trusted_keys unchanged", err);
		snprintf(why, whylen, "%s", r == -EBADMSG ? "a statement does not verify"
					   : "the host cannot take it");
	}
	free(cur);
	free(next);
	return r;
}

static int start_fetch(const char *name, const char *sha)
{
	struct ssm_frame o;
	struct fetch *f;

	if (find(name, sha) != NULL)
		return 1;
	if (E.link == NULL || !(E.link->peer_features & SSM_FRAME_FEAT_DOCUMENTS)) {
		if (strcmp(name, SSM_KEYROT_DOC_NAME) != 0)
			E.log("document %s: not on this host, and the broker does not send documents",
			      name);
		return 0;
	}
	if (count() >= FETCHES_MAX) {
		E.log("document %s: %d documents are being fetched already", name, FETCHES_MAX);
		return 0;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return 0;
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->sha, sizeof(f->sha), "%s", sha);
	memset(&o, 0, sizeof(o));
	o.u.open.kind = SSM_KIND_DOCUMENT;
	o.u.open.sid = ssm_frame_str(f->sha);
	o.u.open.document = ssm_frame_str(f->name);
	f->ch = ssm_mux_open(E.mux, &o, SSM_FRAME_DOCUMENT_MAX, f);
	if (f->ch == 0) {
		E.log("document %s: cannot open a channel to fetch it", name);
		free(f);
		return 0;
	}
	f->deadline = ssm_mono_ms() + FETCH_TIMEOUT_MS;
	f->next = fetches;
	fetches = f;
	if (strcmp(name, SSM_KEYROT_DOC_NAME) != 0)
		E.log("document %s (sha256 %.12s): fetching it from the broker", name, sha);
	E.want_write();
	return 1;
}

/* The broker's EOF: every byte is in the receive buffer (never consumed, so at most the
 * 64 KiB granted); check, store, close. */
static void complete(struct fetch *f)
{
	char err[512] = "", *buf;
	size_t len = ssm_mux_readable(E.mux, f->ch, 0), got = 0, n;
	const uint8_t *p;
	int r;

	buf = malloc(len + 1);
	if (buf == NULL) {
		(void)ssm_mux_close(E.mux, f->ch, 0, SSM_CODE_INTERNAL, "out of memory");
		finish(f);
		return;
	}
	while (got < len && (p = ssm_mux_read_peek_at(E.mux, f->ch, 0, got, &n)) != NULL && n > 0) {
		if (n > len - got)
			n = len - got;
		memcpy(buf + got, p, n);
		got += n;
	}
	if (is_keys(f)) {
		char why[128] = "incomplete";

		r = got == len ? keys_complete(buf, len, why, sizeof(why)) : -EIO;
		free(buf);
		(void)ssm_mux_close(E.mux, f->ch, 0, r == 0 ? SSM_CODE_OK : SSM_CODE_REFUSED,
				    r == 0 ? "" : why);
		E.want_write();
		finish(f);
		return;
	}
	r = got == len ? ssm_doccache_store(cache_dir, f->name, f->sha, buf, len,
					    cfg->document_cache_max_bytes, err, sizeof(err))
		       : -EIO;
	free(buf);
	if (r == 0) {
		E.log("document %s (sha256 %.12s, %zu bytes): received from the broker, cached",
		      f->name, f->sha, len);
		(void)ssm_mux_close(E.mux, f->ch, 0, SSM_CODE_OK, "");
	} else {
		E.log("document %s from the broker refused: %s", f->name,
		      err[0] ? err : "incomplete");
		(void)ssm_mux_close(E.mux, f->ch, 0, SSM_CODE_REFUSED,
				    r == -EBADMSG ? "the bytes do not have the SHA-256 asked for"
				    : r == -EINVAL ? "not a valid session document"
						   : "the host cannot store it");
	}
	E.want_write();
	finish(f);
}

int agent_docs_event(const struct ssm_mux_ev *ev)
{
	struct fetch *f = find_ch(ev->channel);

	if (f == NULL || ev->user != f)
		return 0;
	switch (ev->type) {
	case SSM_MUX_EV_EOF:
		complete(f);
		break;
	case SSM_MUX_EV_CLOSED:
		E.log("document %s: the broker did not send it: %s", f->name,
		      ev->reason && ev->reason[0] ? ev->reason : ssm_frame_code_name(ev->code));
		finish(f);
		break;
	default:
		/* ACCEPT, READABLE: the bytes wait for the EOF */
		break;
	}
	return 1;
}

void agent_docs_tick(int64_t now_ms)
{
	struct fetch *f, *next;

	if (keys_retire_ms != 0 && now_ms >= keys_retire_ms && agent_keys_fetch() > 0)
		keys_retire_ms = 0;
	for (f = fetches; f; f = next) {
		next = f->next;
		if (now_ms >= f->deadline) {
			E.log("document %s: no answer from the broker within %d s", f->name,
			      FETCH_TIMEOUT_MS / 1000);
			(void)ssm_mux_close(E.mux, f->ch, 0, SSM_CODE_TIMEOUT, "no answer");
			E.want_write();
			finish(f);
		}
	}
}
