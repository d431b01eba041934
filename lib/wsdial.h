/* wsdial.h - a dialer's connection to the broker (ssm, ssm-agent): its own TCP socket and
 * OpenSSL TLS, the websocket handshake and frames of lib/wsclient.c, and the link's and
 * mux's messages written and read, all driven from libwebsockets' loop, which only
 * watches the socket (as a raw file, lib/lwsglue.c).
 *
 * Why not libwebsockets' websocket client: see lib/wsclient.h.  What stays the same for
 * the broker: the bytes on the wire (HTTP/1.1 upgrade, ALPN http/1.1, TLS 1.2 or later, the
 * frames of RFC 6455, masked by lib/wsframe.c).  What the dialer checks: the broker's
 * certificate chains to ca_file and names host (an IP SAN for an address, a DNS SAN
 * otherwise: ssm_ca_cert_names), or the connection fails with "broker certificate refused:
 * ...". */
#ifndef SSM_WSDIAL_H
#define SSM_WSDIAL_H
#include <libwebsockets.h>
#include "link.h"
#include "mux.h"

/* The protocol the watched socket is bound to: a program lists ssm_wsd_protocol in its
 * vhost's protocols (by value: SSM_WSD_PROTOCOL_ENTRY). */
#define SSM_WSD_PROTOCOL "ssm-wsdial"
int ssm_wsd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len);
#define SSM_WSD_PROTOCOL_ENTRY { SSM_WSD_PROTOCOL, ssm_wsd_callback, 0, 0, 0, NULL, 0 }

struct ssm_wsd_cfg {
	struct lws_context *ctx;
	struct lws_vhost *vh; /* its protocols hold SSM_WSD_PROTOCOL_ENTRY */
	const char *host;     /* name or address, no brackets */
	int port;
	const char *path;     /* "/v1/agent" */
	const char *ca_file;  /* the broker's CA: the only trust anchor */
	const char *cert_file, *key_file; /* this side's certificate (mutual TLS), or NULL */
	const char *bearer;   /* "Authorization: Bearer <bearer>", or NULL */
	int timeout_s;        /* connect, TLS and websocket handshakes, all told */
	struct ssm_link *link;
	struct ssm_mux *mux;
	/* the websocket is open: initialise link (and attach mux); its HELLO goes out next */
	void (*on_open)(void *arg);
	/* ssm_link_rx returned ev (not SSM_LINK_EV_NONE); < 0 closes the connection */
	int (*on_event)(void *arg, int ev);
	/* the connection is over (was_open: on_open had been called); why in one line.  Called
	 * once, from the loop, never from inside another ssm_wsd_ call; the connection is freed
	 * when it returns. */
	void (*on_close)(void *arg, int was_open, const char *why);
	void *arg;
};

struct ssm_wsd;

/* Start connecting (the name is resolved here, blocking).  NULL with err set when no
 * attempt can start (a bad CA file, no address, no socket); otherwise every outcome
 * reaches on_open / on_close. */
struct ssm_wsd *ssm_wsd_dial(const struct ssm_wsd_cfg *cfg, char *err, size_t errlen);
/* The link or mux queued something: written now, as far as the socket takes it. */
void ssm_wsd_want_write(struct ssm_wsd *w);
/* End the connection (why for on_close, which follows from the loop). */
void ssm_wsd_close(struct ssm_wsd *w, const char *why);
/* At the program's end, before lws_context_destroy: close w if it is not, and free it,
 * without on_close (a w whose on_close has run is gone already: never pass it). */
void ssm_wsd_free(struct ssm_wsd *w);
/* 1 once the websocket is open and until it is closed */
int ssm_wsd_is_open(const struct ssm_wsd *w);

#endif
