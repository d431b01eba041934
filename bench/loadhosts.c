/* loadhosts.c - a load generator for ssm-broker (issue 8, "2,000 idle host connections on one
 * broker"): many registered hosts' links from one process, each with its own host certificate
 * (one libwebsockets client vhost per host), doing what an idle ssm-agent does on its link:
 * HELLO, RESUME_DONE, keepalive (lib/link.c, the agent's own state machine), and reconnecting
 * after a close with the agent's backoff (1 s doubling to 30 s, each wait drawn from half to
 * all of it).  No sessions: a channel frame from the broker ends that link, as it would show a
 * bug in the bench.
 *
 *   loadhosts --broker https://ADDR:PORT --ca FILE --hosts LIST [--keepalive PING:DEAD]
 *
 * LIST has one host per line: "CERT KEY" (the files `ssmctl register` wrote).  Standard output
 * gets one line per second, "T_MS up N of M, connecting C, closes K", and a line
 * "all-up T_MS" each time the number of links up reaches M (T_MS: milliseconds since the
 * start).  SIGTERM ends it.  Not a test and not installed: bench/load_bench.sh drives it. */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libwebsockets.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include "enroll.h"
#include "frame.h"
#include "link.h"
#include "lwsglue.h"
#include "util.h"

#define TICK_US (100 * LWS_US_PER_MS)
#define MAX_HOSTS 20000

struct host {
	struct lws_vhost *vh;
	struct lws *wsi;
	struct ssm_link link;
	int connected, up;
	int64_t backoff_ms, next_connect_ms;
};

static struct host *hosts;
static size_t n_hosts, n_up, n_connecting;
static unsigned long long n_closes;
static struct lws_context *ctx;
static lws_sorted_usec_list_t tick_sul;
static char broker_host[256];
static int broker_port;
static int64_t ping_after_ms, dead_after_ms, t0, last_report;
static volatile sig_atomic_t stop_signal;

static void schedule_reconnect(struct host *h)
{
	h->next_connect_ms = ssm_mono_ms() + ssm_backoff_next(&h->backoff_ms, 0);
}

static void connect_host(struct host *h)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.context = ctx;
	ci.vhost = h->vh;
	ci.address = broker_host;
	ci.port = broker_port;
	ci.path = "/v1/agent";
	ci.host = broker_host;
	ci.origin = broker_host;
	ci.protocol = SSM_FRAME_SUBPROTOCOL;
	ci.alpn = "http/1.1";
	/* the broker's certificate is checked against --ca; its name is not (a bench) */
	ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
	ci.userdata = h;
	ci.pwsi = &h->wsi;
	h->next_connect_ms = 0;
	if (lws_client_connect_via_info(&ci) == NULL) {
		h->wsi = NULL;
		schedule_reconnect(h);
	}
}

static void closed(struct host *h)
{
	if (h->up)
		n_up--;
	h->up = 0;
	h->connected = 0;
	h->wsi = NULL;
	n_closes++;
	if (!stop_signal)
		schedule_reconnect(h);
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct host *h = user;
	int ev;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (h)
			closed(h);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		h->connected = 1;
		ssm_link_init(&h->link, SSM_ROLE_AGENT, "loadhosts", ping_after_ms, dead_after_ms,
			      ssm_mono_ms());
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		ev = ssm_link_rx(&h->link, in, len, lws_is_first_fragment(wsi),
				 lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0,
				 lws_frame_is_binary(wsi), ssm_mono_ms());
		if (ev == SSM_LINK_EV_UP) {
			h->up = 1;
			n_up++;
			h->backoff_ms = SSM_BACKOFF_MIN_MS;
			if (n_up == n_hosts) {
				printf("all-up %lld\n", (long long)(ssm_mono_ms() - t0));
				fflush(stdout);
			}
		} else if (ev == SSM_LINK_EV_GOAWAY) {
			return -1;
		}
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return ssm_lws_write_next(wsi, &h->link, NULL, SSM_LWS_DIALER) == 0 ? 0 : -1;
	case LWS_CALLBACK_CLIENT_CLOSED:
		closed(h);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ SSM_FRAME_SUBPROTOCOL, cb, 0, SSM_FRAME_MAX, 0, NULL, SSM_FRAME_MAX },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = ssm_mono_ms();
	size_t i;

	(void)sul;
	n_connecting = 0;
	if (stop_signal) {
		lws_cancel_service(ctx);
		return;
	}
	for (i = 0; i < n_hosts; i++) {
		struct host *h = &hosts[i];

		if (h->wsi && !h->up)
			n_connecting++;
		if (h->connected && h->wsi) {
			if (ssm_link_tick(&h->link, now) == SSM_LINK_EV_DEAD)
				lws_set_timeout(h->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			else if (h->link.q_n)
				lws_callback_on_writable(h->wsi);
		} else if (h->wsi == NULL && h->next_connect_ms && now >= h->next_connect_ms) {
			connect_host(h);
		}
	}
	if (now - last_report >= 1000) {
		last_report = now;
		printf("%lld up %zu of %zu, connecting %zu, closes %llu\n", (long long)(now - t0),
		       n_up, n_hosts, n_connecting, n_closes);
		fflush(stdout);
	}
	lws_sul_schedule(ctx, 0, &tick_sul, tick, TICK_US);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_signal = 1;
}

static int usage(void)
{
	fputs("usage: loadhosts --broker https://ADDR:PORT --ca FILE --hosts LIST "
	      "[--keepalive PING:DEAD]\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *url = NULL, *ca = NULL, *list = NULL;
	struct lws_context_creation_info info;
	char line[2 * 4096 + 2], cert[4096], key[4096];
	FILE *f;
	size_t cap = 0, i;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--broker") == 0 && a + 1 < argc) {
			url = argv[++a];
		} else if (strcmp(argv[a], "--ca") == 0 && a + 1 < argc) {
			ca = argv[++a];
		} else if (strcmp(argv[a], "--hosts") == 0 && a + 1 < argc) {
			list = argv[++a];
		} else if (strcmp(argv[a], "--keepalive") == 0 && a + 1 < argc) {
			long p, d;
			char *end;

			p = strtol(argv[++a], &end, 10);
			if (*end != ':' || p < 1)
				return usage();
			d = strtol(end + 1, &end, 10);
			if (*end != '\0' || d <= p)
				return usage();
			ping_after_ms = p * 1000;
			dead_after_ms = d * 1000;
		} else {
			return usage();
		}
	}
	if (!url || !ca || !list)
		return usage();
	if (ssm_enroll_url_parse(url, broker_host, sizeof(broker_host), &broker_port) < 0) {
		fprintf(stderr, "loadhosts: %s is not https://HOST[:PORT]\n", url);
		return 2;
	}
	if ((f = fopen(list, "r")) == NULL) {
		fprintf(stderr, "loadhosts: %s: %s\n", list, strerror(errno));
		return 2;
	}
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.timeout_secs = 20;
	ctx = lws_create_context(&info);
	if (ctx == NULL) {
		fprintf(stderr, "loadhosts: no libwebsockets context\n");
		return 2;
	}
	while (fgets(line, sizeof(line), f)) {
		struct lws_context_creation_info vi;
		char name[32];
		struct host *h;

		if (sscanf(line, "%4095s %4095s", cert, key) != 2)
			continue;
		if (n_hosts == MAX_HOSTS) {
			fprintf(stderr, "loadhosts: more than %d hosts\n", MAX_HOSTS);
			return 2;
		}
		if (n_hosts == cap) {
			struct host *nh;

			cap = cap ? cap * 2 : 256;
			nh = realloc(hosts, cap * sizeof(*hosts));
			if (nh == NULL) {
				fprintf(stderr, "loadhosts: out of memory\n");
				return 2;
			}
			hosts = nh;
		}
		h = &hosts[n_hosts];
		memset(h, 0, sizeof(*h));
		snprintf(name, sizeof(name), "h%zu", n_hosts);
		memset(&vi, 0, sizeof(vi));
		vi.port = CONTEXT_PORT_NO_LISTEN;
		vi.protocols = protocols;
		vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		vi.vhost_name = name;
		vi.client_ssl_cert_filepath = cert;
		vi.client_ssl_private_key_filepath = key;
		vi.client_ssl_ca_filepath = ca;
		vi.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_RENEGOTIATION;
		vi.alpn = "http/1.1";
		h->vh = lws_create_vhost(ctx, &vi);
		if (h->vh == NULL) {
			fprintf(stderr, "loadhosts: cannot set up TLS with %s and %s\n", cert, key);
			return 2;
		}
		h->backoff_ms = SSM_BACKOFF_MIN_MS;
		n_hosts++;
	}
	fclose(f);
	if (n_hosts == 0) {
		fprintf(stderr, "loadhosts: no hosts in %s\n", list);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	t0 = last_report = ssm_mono_ms();
	/* every host dials at once, as a fleet does when its broker comes up */
	for (i = 0; i < n_hosts; i++)
		connect_host(&hosts[i]);
	lws_sul_schedule(ctx, 0, &tick_sul, tick, TICK_US);
	while (!stop_signal) {
		if (lws_service(ctx, 0) < 0)
			break;
	}
	lws_context_destroy(ctx);
	free(hosts);
	return 0;
}
