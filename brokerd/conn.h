/* conn.h - one link at the broker: an agent's (/v1/agent, mutual TLS) or a user's client
 * (/v1/client, bearer credential), with its channels.  A conn outlives its websocket
 * connection by the resumption grace period (docs/PROTOCOL.md section 6): wsi is NULL
 * while it waits, and the next connection of the same host (the host id of its verified
 * certificate) or of the same user resuming its sessions takes it over. */
#ifndef SSM_BROKERD_CONN_H
#define SSM_BROKERD_CONN_H
#include <libwebsockets.h>
#include "brokerd.h"
#include "link.h"
#include "mux.h"

struct conn {
	struct lws *wsi;
	int is_client;
	char host_id[SSM_HOST_ID_LEN + 1]; /* agents: from the verified certificate */
	char serial[SSM_CA_SERIAL_MAX];
	char user[65];                     /* clients: from the bearer credential */
	char peer[64];
	struct ssm_link link;
	struct ssm_mux *mux;
	int linked, kill;
	int revoked;           /* disconnected because the host was revoked: no resumption */
	unsigned ntranscripts; /* open TRANSCRIPT channels (transcripts.c) */
	unsigned ndocuments;   /* open DOCUMENT channels (docserve.c) */
	/* clients: the sessions named by resume= (a restarted broker takes up only these) */
	char (*resume)[SSM_FRAME_SID_MAX + 1];
	int nresume;
	struct conn *next;
};

/* ask for a writeable callback, if the conn has a connection now */
static inline void conn_wake(struct conn *c)
{
	if (c != NULL && c->wsi != NULL)
		lws_callback_on_writable(c->wsi);
}

/* the first member of every channel's user pointer at the broker */
enum { RELAY_TAG_SESSION = 1, RELAY_TAG_TRANSCRIPT = 2, RELAY_TAG_AUDIT = 3,
       RELAY_TAG_DOCUMENT = 4 };

/* transcripts.c: TRANSCRIPT channels from agents */
void transcripts_init(struct broker *b, void (*log)(const char *fmt, ...));
void transcripts_open(struct conn *a, const struct ssm_mux_ev *ev);
int transcripts_event(struct conn *a, const struct ssm_mux_ev *ev); /* 1 if it was one */
/* the broker's timer: commit (and then acknowledge) what waited; before ssm_mux_tick */
void transcripts_tick(void);

/* docserve.c: DOCUMENT channels from agents (a host fetching a document version) */
void docserve_init(struct broker *b, void (*log)(const char *fmt, ...));
void docserve_open(struct conn *a, const struct ssm_mux_ev *ev);
int docserve_event(struct conn *a, const struct ssm_mux_ev *ev); /* 1 if it was one */

/* relay.c: session channels between clients and agents (docs/PROTOCOL.md section 5 rule 6) */
void relay_init(struct broker *b, struct conn **conns, void (*log)(const char *fmt, ...));
int relay_conn_setup(struct conn *c); /* the mux, attached to c->link; 0 or -1 */
/* every channel of c closes (code timeout, reason why); the mux is freed */
void relay_conn_gone(struct conn *c, const char *why);
/* the client link of user whose sessions include every one of sids (n >= 1), or NULL */
struct conn *relay_client_of(const char *user, char (*sids)[SSM_FRAME_SID_MAX + 1], int n);
void relay_tick(void);
/* After a restart: the sessions that were running (relays table) wait grace_ms for their
 * host and client to resume them.  How many, or -1 (database error). */
int relay_restore(int64_t grace_ms);
/* The broker stops: sessions closed from now on stay recorded as running, so that the
 * next start takes them up (relay_restore). */
void relay_keep_for_restart(void);

#endif
