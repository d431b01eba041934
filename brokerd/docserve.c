/* docserve.c - the broker's end of DOCUMENT channels (docs/PROTOCOL.md section 4): a host's
 * agent asks for the bytes of document NAME whose SHA-256 is the one a session token named,
 * and the broker sends them, then EOF.  The host checks the hash and parses the document
 * itself before it caches it (lib/doccache.c), and judges every login with it as with any
 * document (allowed_documents keeps the last word).
 *
 * Who gets what: any registered, linked host may ask, and gets only the version whose exact
 * SHA-256 it names; the hash reaches a host in the session tokens addressed to it (an
 * unknown document's hash cannot be guessed).  Documents are not secrets at this broker
 * (hosts held copies by hand before), but a host never lists them.
 *
 * Bounds: the agent's grant caps the bytes (a document larger than it is refused with CLOSE
 * limit before anything is sent: nothing waits for room), at most DOCS_PER_LINK at once per
 * host, each sent whole from the send buffer (at most 64 KiB). */
#include "conn.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "document.h"
#include "keyrot.h"

#define DOCS_PER_LINK 8

static struct broker *B;
static void (*logf_)(const char *fmt, ...);
/* the user pointer of every DOCUMENT channel: its events are recognized by it */
static int doc_tag = RELAY_TAG_DOCUMENT;

void docserve_init(struct broker *b, void (*log)(const char *fmt, ...))
{
	B = b;
	logf_ = log;
}

/* Accept the DOCUMENT channel and send len bytes, then EOF (nothing to wait for: the grant
 * was checked); 0, or -1 with the channel closed. */
static int send_whole(struct conn *a, uint32_t ch, const char *p, size_t len)
{
	ssm_mux_set_user(a->mux, ch, 0, &doc_tag);
	if (ssm_mux_accept(a->mux, ch, 0, 0) < 0 ||
	    (len > 0 && ssm_mux_write(a->mux, ch, 0, p, len) != len) ||
	    ssm_mux_write_eof(a->mux, ch, 0) < 0) {
		(void)ssm_mux_close(a->mux, ch, 0, SSM_CODE_INTERNAL, "cannot send it");
		return -1;
	}
	a->ndocuments++;
	lws_callback_on_writable(a->wsi);
	return 0;
}

void docserve_open(struct conn *a, const struct ssm_mux_ev *ev)
{
	char name[SSM_FRAME_DOC_MAX + 1], sha[SSM_FRAME_SID_MAX + 1], *content = NULL;
	size_t len = 0;
	int r;

	/* the codec checked both: a name of [A-Za-z0-9_.-] and 64 lowercase hex digits */
	ssm_frame_str_copy(name, sizeof(name), &ev->f->u.open.document);
	ssm_frame_str_copy(sha, sizeof(sha), &ev->f->u.open.sid);
	if (a->ndocuments >= DOCS_PER_LINK) {
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_LIMIT,
				    "too many documents at once on this link");
		return;
	}
	if (strcmp(name, SSM_KEYROT_DOC_NAME) == 0 && strcmp(sha, SSM_KEYROT_DOC_SHA) == 0) {
		/* the key rotation chain (lib/keyrot.h): the host takes what carries its trusted
		 * set forward, verified from the keys it holds; empty before any rotation */
		(void)broker_keys_fresh(B);
		len = B->keychain_len;
		if (len > ev->f->value) {
			(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_LIMIT,
					    "the key chain is larger than the host takes");
			return;
		}
		if (send_whole(a, ev->channel, B->keychain, len) == 0)
			logf_("key chain (%zu bytes) sent to %s", len, a->host_id);
		return;
	}
	r = db_document_version_get(B->db, name, sha, &content, &len);
	if (r == -ENOENT) {
		logf_("document %s (sha256 %.12s) asked by %s: no such version", name, sha,
		      a->host_id);
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_REFUSED,
				    "the broker holds no such version of this document");
		return;
	}
	if (r < 0) {
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_INTERNAL, "database error");
		return;
	}
	if (len == 0 || len > SSM_DOCUMENT_MAX_SIZE || len > ev->f->value) {
		logf_("document %s (sha256 %.12s) asked by %s: %zu bytes, the host takes %llu",
		      name, sha, a->host_id, len, (unsigned long long)ev->f->value);
		(void)ssm_mux_close(a->mux, ev->channel, 0, SSM_CODE_LIMIT,
				    "the document is larger than the host takes");
		free(content);
		return;
	}
	if (send_whole(a, ev->channel, content, len) == 0)
		logf_("document %s (sha256 %.12s, %zu bytes) sent to %s", name, sha, len, a->host_id);
	free(content);
}

int docserve_event(struct conn *a, const struct ssm_mux_ev *ev)
{
	if (ev->user != &doc_tag)
		return 0;
	/* the host closes it once it stored the bytes (ok) or refused them (the reason says
	 * why: another hash, not a valid document, not allowed there) */
	if (ev->type == SSM_MUX_EV_CLOSED) {
		if (a->ndocuments > 0)
			a->ndocuments--;
		if (ev->code != SSM_CODE_OK)
			logf_("document channel %u: %s did not take it: %s", ev->channel, a->host_id,
			      ev->reason && ev->reason[0] ? ev->reason : ssm_frame_code_name(ev->code));
	}
	return 1;
}
