/* agent.h - the parts of ssm-agent: the connection (ssm-agent.c) and the session channels
 * (sessions.c), which run the logins through session_priv.c. */
#ifndef SSM_AGENT_H
#define SSM_AGENT_H
#include <stddef.h>
#include <stdint.h>
#include <libwebsockets.h>
#include "log.h"
#include "link.h"
#include "mux.h"

struct agent_env {
	struct ssm_mux *mux;
	struct lws_context *ctx;    /* for timers */
	struct lws_vhost *vhost;    /* for adopting descriptors */
	const char *raw_protocol;   /* the protocol name of agent_raw_cb */
	const char *pam_service;    /* "ssm-session" */
	const char *broker_host;    /* PAM_RHOST */
	void (*want_write)(void);   /* ask for a writeable callback on the link */
	const struct ssm_link *link; /* the link (the broker's HELLO features) */
	void (*log)(const char *fmt, ...) SSM_PRINTF(1, 2);
};

void agent_sessions_init(const struct agent_env *env);
void agent_mux_event(void *ctx, const struct ssm_mux_ev *ev);
int agent_raw_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len);
/* the agent is stopping: every session ends */
void agent_sessions_link_lost(void);
void agent_sessions_tick(void);
size_t agent_sessions_count(void);
/* docfetch.c is done with document name/sha (stored or not): the sessions waiting for it
 * go on to their login */
void agent_sessions_doc_ready(const char *name, const char *sha);

/* docfetch.c: documents from the broker (DOCUMENT channels) into the host's cache */
struct ssm_config;
void agent_docs_init(const struct agent_env *env, const struct ssm_config *cfg);
/* 1 if a session naming document name/sha (from its token, unverified) must wait: the host
 * takes that document from the broker, holds it nowhere, and a fetch is now under way (the
 * caller then waits for agent_sessions_doc_ready); 0 to go on at once */
int agent_docs_need(const char *name, const char *sha);
int agent_docs_event(const struct ssm_mux_ev *ev); /* 1 if it was a fetch's */
void agent_docs_tick(int64_t now_ms);
/* The broker's key rotation chain (lib/keyrot.h), asked for at every link-up and when a
 * session's token names a key trusted_keys lacks: 1 a fetch is under way (its end calls
 * agent_sessions_doc_ready(SSM_KEYROT_DOC_NAME, SSM_KEYROT_DOC_SHA)), 0 not possible */
int agent_keys_fetch(void);
/* 1 if trusted_keys holds kid (0 also when it cannot be read: PAM says why) */
int agent_keys_known(const char *kid);

/* deliver.c: transcripts to the broker (TRANSCRIPT channels) */
struct ssm_config;
void agent_deliver_init(const struct agent_env *env, const struct ssm_config *cfg);
int agent_deliver_event(const struct ssm_mux_ev *ev); /* 1 if it was a delivery's */
void agent_deliver_tick(int64_t now_ms, int link_up);
/* the watch of log_dir/sessions (a libwebsockets raw file adopted with a NULL user):
 * agent_raw_cb hands its events over */
int agent_deliver_is_watch(const struct lws *wsi);
void agent_deliver_watch_cb(int readable, int closed);

/* deliver_audit.c: the host's audit.jsonl segments to the broker (AUDIT channels) */
void agent_deliver_audit_init(const struct agent_env *env, const struct ssm_config *cfg);
int agent_deliver_audit_event(const struct ssm_mux_ev *ev); /* 1 if it was a segment's */
void agent_deliver_audit_tick(int64_t now_ms, int link_up);

#endif
