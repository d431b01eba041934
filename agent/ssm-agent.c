/* ssm-agent.c - the host's end of the broker channel (SPEC section 8; man/ssm-agent.8):
 *
 *   ssm-agent [--config PATH] [--keepalive PING:DEAD] [--grace SECONDS] [--debug]
 *
 * Reads the host configuration (broker_url, broker_ca, host_certificate, host_key), dials
 * wss://BROKER/v1/agent with subprotocol ssmsession.1 and its host certificate, checks the
 * broker's certificate against broker_ca and the URL's host name, exchanges HELLO, keeps the
 * link alive with PING/PONG, and reconnects by itself: backoff from 1 s doubling to 30 s,
 * each wait drawn from half to all of it, reset once a link came up.  When a connection
 * ends, its channels (sessions, transcripts, audit segments) wait for the next one and are
 * resumed on it (docs/PROTOCOL.md section 6); after the grace period (120 s, --grace) they
 * are closed and the sessions end with reason error.  It opens no
 * listening socket (the libwebsockets context has no listening vhost).  One lws context
 * owns the loop.  Logs every state change on stderr (the journal under systemd). */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libwebsockets.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "agent.h"
#include "ca.h"
#include "enroll.h"
#include "frame.h"
#include "link.h"
#include "lwsglue.h"
#include "wsdial.h"
#include "mux.h"
#include "record.h"
#include "session_priv.h"
#include "log.h"
#include "util.h"

#define AGENT_SOFTWARE "ssm-agent " PACKAGE_VERSION
#define TICK_US (250 * 1000)
#define RAW_PROTOCOL "ssm-agent-raw"
#define PAM_SERVICE "ssm-session"

static struct ssm_config *cfg;
static char broker_host[SSM_ENROLL_HOST_MAX + 1];
static int broker_port;
static struct lws_context *ctx;
static struct ssm_wsd *wsd_cur; /* the connection to the broker (lib/wsdial.c) */
static struct ssm_link link_;
static struct ssm_mux *mux;
static int connected;
static int64_t backoff_ms = SSM_BACKOFF_MIN_MS, next_connect_ms, ping_after_ms, dead_after_ms;
static int64_t grace_ms = SSM_FRAME_RESUME_GRACE * 1000;
static lws_sorted_usec_list_t tick_sul;
static volatile sig_atomic_t stop_signal;
static int stopping;

static void logf_(const char *fmt, ...) SSM_PRINTF(1, 2);
static void want_write(void);
static void logf_(const char *fmt, ...)
{
	char ts[32];
	va_list ap;

	ssm_rfc3339(ssm_now(), ts);
	fprintf(stderr, "%s ssm-agent: ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* The next wait: uniformly from half to all of the backoff, which then doubles up to 30 s;
 * at least hint_ms (a GOAWAY's retry hint). */
static void schedule_reconnect(uint64_t hint_ms)
{
	int64_t wait = ssm_backoff_next(&backoff_ms, hint_ms);

	next_connect_ms = ssm_mono_ms() + wait;
	logf_("reconnecting in %lld.%03lld s", (long long)(wait / 1000), (long long)(wait % 1000));
}

static void on_open(void *arg);
static int on_event(void *arg, int ev);
static void on_close(void *arg, int was_open, const char *why);

static void connect_now(void)
{
	struct ssm_wsd_cfg dc;
	char hostport[300], err[512];

	memset(&dc, 0, sizeof(dc));
	snprintf(hostport, sizeof(hostport), strchr(broker_host, ':') ? "[%s]:%d" : "%s:%d",
		 broker_host, broker_port);
	dc.ctx = ctx;
	dc.vh = lws_get_vhost_by_name(ctx, "ssm-agent");
	dc.host = broker_host;
	dc.port = broker_port;
	dc.path = "/v1/agent";
	/* mutual TLS: this host's certificate; the broker's checked against its CA and name */
	dc.ca_file = cfg->broker_ca;
	dc.cert_file = cfg->host_certificate;
	dc.key_file = cfg->host_key;
	dc.timeout_s = 10;
	dc.link = &link_;
	dc.mux = mux;
	dc.on_open = on_open;
	dc.on_event = on_event;
	dc.on_close = on_close;
	logf_("connecting to wss://%s/v1/agent", hostport);
	next_connect_ms = 0;
	wsd_cur = ssm_wsd_dial(&dc, err, sizeof(err));
	if (wsd_cur == NULL) {
		logf_("connection failed: %s", err);
		schedule_reconnect(0);
	}
}

static void link_closed(const char *why)
{
	uint64_t hint = 0;

	if (link_.state == SSM_LINK_CLOSING && link_.peer_goaway_reason[0])
		hint = link_.peer_goaway_retry_ms;
	if (ssm_mux_channels(mux) > 0 && ssm_mux_down_ms(mux, ssm_mono_ms()) < 0)
		logf_("disconnected: %s; %zu channels wait up to %lld s for the next connection",
		      why, ssm_mux_channels(mux), (long long)(grace_ms / 1000));
	else
		logf_("disconnected: %s", why);
	connected = 0;
	wsd_cur = NULL;
	(void)ssm_agent_status_write(cfg->run_dir, 0, ssm_now());
	/* the channels wait for the resumption (section 6): nothing is sent meanwhile */
	ssm_mux_link_down(mux, ssm_mono_ms());
	if (!stopping)
		schedule_reconnect(hint);
}

/* the websocket is open: the link starts with its HELLO */
static void on_open(void *arg)
{
	(void)arg;
	connected = 1;
	ssm_link_init(&link_, SSM_ROLE_AGENT, AGENT_SOFTWARE, ping_after_ms, dead_after_ms,
		      ssm_mono_ms());
	ssm_mux_attach(mux, &link_);
	logf_("connected to %s:%d, HELLO sent", broker_host, broker_port);
}

static int on_event(void *arg, int ev)
{
	(void)arg;
	if (ev == SSM_LINK_EV_UP) {
		if (ssm_mux_channels(mux) > 0)
			logf_("link up (broker %s), resuming %zu channels", link_.peer_software,
			      ssm_mux_channels(mux));
		else
			logf_("link up (broker %s)", link_.peer_software);
		backoff_ms = SSM_BACKOFF_MIN_MS;
		(void)ssm_agent_status_write(cfg->run_dir, 1, ssm_now());
	} else if (ev == SSM_LINK_EV_GOAWAY) {
		logf_("broker said GOAWAY %s: %s (retry after %llu ms)",
		      ssm_frame_code_name(link_.peer_goaway_code), link_.peer_goaway_reason,
		      (unsigned long long)link_.peer_goaway_retry_ms);
		return -1;
	} else if (ev == SSM_LINK_EV_ERROR) {
		logf_("protocol error from the broker: %s", link_.error);
	}
	return 0;
}

static void on_close(void *arg, int was_open, const char *why)
{
	(void)arg;
	if (!was_open) {
		logf_("connection failed: %s", why);
		link_closed("no link");
		return;
	}
	link_closed(link_.error[0] ? link_.error
		    : link_.peer_goaway_reason[0] ? link_.peer_goaway_reason : why);
}

static const struct lws_protocols protocols[] = {
	SSM_WSD_PROTOCOL_ENTRY,
	{ RAW_PROTOCOL, agent_raw_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void want_write(void)
{
	if (connected && wsd_cur)
		ssm_wsd_want_write(wsd_cur);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	static int was_up;
	int64_t now = ssm_mono_ms();
	int up = connected && wsd_cur && link_.state == SSM_LINK_UP && ssm_mux_resumed(mux);

	if (up && !was_up)
		(void)agent_keys_fetch(); /* a rotation while the link was down */
	was_up = up;

	agent_sessions_tick();
	agent_docs_tick(now);
	agent_deliver_tick(now, connected && wsd_cur && link_.state == SSM_LINK_UP);
	agent_deliver_audit_tick(now, connected && wsd_cur && link_.state == SSM_LINK_UP);

	if (stop_signal && !stopping) {
		stopping = 1;
		logf_("stopping");
	}
	if (stopping) {
		lws_cancel_service(ctx);
		return;
	}
	if (connected && wsd_cur) {
		ssm_mux_tick(mux); /* acknowledgements that waited for the tick */
		if (ssm_link_tick(&link_, now) == SSM_LINK_EV_DEAD) {
			logf_("%s: closing the connection", link_.error);
			ssm_wsd_close(wsd_cur, link_.error);
		} else if (!ssm_mux_resumed(mux) && ssm_mux_down_ms(mux, now) >= grace_ms) {
			/* a broker that never finishes the resumption holds the sessions no longer
			 * than a lost connection would: closed, then the grace below ends them */
			logf_("the broker did not finish the resumption within %lld s: closing the "
			      "connection",
			      (long long)(grace_ms / 1000));
			ssm_wsd_close(wsd_cur, "the resumption was not finished");
		} else if (link_.q_n || ssm_mux_tx_pending(mux)) {
			ssm_wsd_want_write(wsd_cur);
		}
	} else if (wsd_cur == NULL && next_connect_ms && now >= next_connect_ms) {
		connect_now();
	}
	if (!connected && ssm_mux_channels(mux) > 0 && ssm_mux_down_ms(mux, now) >= grace_ms) {
		char why[128];

		/* the grace period passed: sessions end with reason error, transcripts and
		 * audit segments stay in the spool for a later connection */
		snprintf(why, sizeof(why), "the connection to the broker was not restored within %lld s",
			 (long long)(grace_ms / 1000));
		logf_("%s: closing %zu channels", why, ssm_mux_channels(mux));
		ssm_mux_reset(mux, SSM_CODE_TIMEOUT, why);
	}
	lws_sul_schedule(ctx, 0, &tick_sul, tick, TICK_US);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_signal = 1;
}

static void lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	fprintf(stderr, "ssm-agent: lws: %.*s\n", (int)n, line);
}

static int usage(void)
{
	fputs("usage: ssm-agent [--config PATH] [--keepalive PING:DEAD] [--grace SECONDS] "
	      "[--debug]\n",
	      stderr);
	return 2;
}

#define AGENT_FD_MAX 16384 /* the soft RLIMIT_NOFILE the agent raises itself to */
#define AGENT_FD_MIN 2048  /* below it, 256 terminal sessions (6 descriptors each) fail */

int main(int argc, char **argv)
{
	const char *config_path = SSM_DEFAULT_CONFIG;
	struct lws_context_creation_info info;
	struct sigaction sa;
	char err[512] = "";
	int i, debug = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else if (strcmp(argv[i], "--keepalive") == 0 && i + 1 < argc) {
			char *end;
			long p = strtol(argv[++i], &end, 10), d;
			if (*end != ':' || p < 1)
				return usage();
			d = strtol(end + 1, &end, 10);
			if (*end != '\0' || d <= p || d > 3600)
				return usage();
			ping_after_ms = p * 1000;
			dead_after_ms = d * 1000;
		} else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
			char *end;
			long g = strtol(argv[++i], &end, 10);
			if (*end != '\0' || g < 1 || g > 86400)
				return usage();
			grace_ms = g * 1000;
		} else if (strcmp(argv[i], "--debug") == 0) {
			debug = 1;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("%s\n", AGENT_SOFTWARE);
			return 0;
		} else {
			return usage();
		}
	}
	if (ssm_config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "ssm-agent: configuration unusable: %s\n", err);
		return 2;
	}
	if (!cfg->broker_url || !cfg->broker_ca || !cfg->host_certificate || !cfg->host_key) {
		fprintf(stderr, "ssm-agent: %s: broker_url, broker_ca, host_certificate and "
				"host_key are required (run ssmctl register)\n",
			config_path);
		return 2;
	}
	if (ssm_enroll_url_parse(cfg->broker_url, broker_host, sizeof(broker_host), &broker_port) <
	    0) {
		fprintf(stderr, "ssm-agent: %s: broker_url %.200s is not https://HOST[:PORT]\n",
			config_path, cfg->broker_url);
		return 2;
	}
	if (access(cfg->host_key, R_OK) != 0 || access(cfg->host_certificate, R_OK) != 0 ||
	    access(cfg->broker_ca, R_OK) != 0) {
		fprintf(stderr, "ssm-agent: cannot read %s, %s or %s: %s\n", cfg->host_key,
			cfg->host_certificate, cfg->broker_ca, strerror(errno));
		return 2;
	}
	/* a terminal session takes six descriptors here (pty, output socket, control socket
	 * and libwebsockets' copy of each): 256 sessions pass the usual soft limit of 1024.
	 * Raised before the context (libwebsockets sizes its table from the limit); sessions
	 * start from the limit as it was */
	{
		struct rlimit orig;
		unsigned long long n = ssm_raise_nofile(AGENT_FD_MAX, &orig);

		if (n > 0) /* 0: getrlimit failed, orig unknown */
			ssm_asess_set_nofile(&orig);
		if (n < AGENT_FD_MIN)
			fprintf(stderr, "ssm-agent: warning: at most %llu open descriptors: fewer "
					"than 256 sessions may start at once (raise LimitNOFILE)\n",
				n);
	}
	lws_set_log_level(debug ? (LLL_ERR | LLL_WARN | LLL_NOTICE) : LLL_ERR, lws_log_emit);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN; /* never a listening socket */
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* the connection to the broker is lib/wsdial.c's own TLS (its SSL_CTX built at each
	 * dial); libwebsockets' client context below is never used to connect: it only loads
	 * the three files once at start, so that unusable ones stop the agent at once */
	info.client_ssl_cert_filepath = cfg->host_certificate;
	info.client_ssl_private_key_filepath = cfg->host_key;
	info.client_ssl_ca_filepath = cfg->broker_ca;
	info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_RENEGOTIATION;
	info.alpn = "http/1.1";
	info.timeout_secs = 10;
	info.vhost_name = "ssm-agent";
	ctx = lws_create_context(&info);
	if (ctx == NULL) {
		fprintf(stderr, "ssm-agent: cannot set up TLS with %s, %s and %s\n",
			cfg->host_certificate, cfg->host_key, cfg->broker_ca);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (ssm_mux_new(&mux, SSM_ROLE_AGENT, SSM_ROLE_BROKER, agent_mux_event, NULL) < 0) {
		fprintf(stderr, "ssm-agent: out of memory\n");
		return 2;
	}
	/* each ACK of a transcript's bytes is published for ssm-shell at once (deliver.c): its
	 * transcript_backlog_max compares the transcript with what the broker holds */
	ssm_mux_want_acked(mux);
	{
		struct agent_env env;

		memset(&env, 0, sizeof(env));
		env.mux = mux;
		env.ctx = ctx;
		env.vhost = lws_get_vhost_by_name(ctx, "ssm-agent");
		env.raw_protocol = RAW_PROTOCOL;
		env.pam_service = PAM_SERVICE;
		env.broker_host = broker_host;
		env.want_write = want_write;
		env.link = &link_;
		env.log = logf_;
		if (env.vhost == NULL) {
			fprintf(stderr, "ssm-agent: libwebsockets has no vhost to adopt sessions\n");
			return 2;
		}
		agent_sessions_init(&env);
		agent_deliver_init(&env, cfg);
		agent_deliver_audit_init(&env, cfg);
		agent_docs_init(&env, cfg);
	}
	logf_("host %s, broker %s", cfg->host_id, cfg->broker_url);
	(void)ssm_agent_status_write(cfg->run_dir, 0, ssm_now());
	connect_now();
	lws_sul_schedule(ctx, 0, &tick_sul, tick, TICK_US);
	while (!stopping) {
		if (lws_service(ctx, 0) < 0)
			break;
	}
	/* the sessions' CLOSEs (so that their users learn it now, not after a grace period),
	 * then a GOAWAY */
	agent_sessions_link_lost();
	{
		int64_t until = ssm_mono_ms() + 500;
		while (connected && wsd_cur && link_.state == SSM_LINK_UP &&
		       ssm_mux_tx_pending(mux) && ssm_mono_ms() < until) {
			ssm_wsd_want_write(wsd_cur);
			lws_service(ctx, 0);
		}
		if (connected && wsd_cur) {
			(void)ssm_link_goaway(&link_, SSM_CODE_SHUTDOWN, 0, "agent stopping");
			ssm_wsd_want_write(wsd_cur);
		}
		until = ssm_mono_ms() + 500;
		while (connected && link_.q_n && ssm_mono_ms() < until)
			lws_service(ctx, 0);
	}
	ssm_mux_reset(mux, SSM_CODE_SHUTDOWN, "agent stopping");
	(void)ssm_agent_status_write(cfg->run_dir, 0, ssm_now());
	ssm_wsd_free(wsd_cur);
	lws_context_destroy(ctx);
	ssm_mux_free(mux);
	ssm_config_free(cfg);
	logf_("stopped");
	return 0;
}
