/* serve.c - `ssm-broker serve`: one libwebsockets context owns the loop (Debian's 4.1 has no
 * external poll).  HTTPS POST /v1/register and POST /v1/login (brokerd/login.c; neither
 * needs a client certificate) and the websocket GET /v1/agent, subprotocol ssmsession.1,
 * which requires a client certificate this broker's CA issued to a registered, non-revoked
 * host (docs/PROTOCOL.md section 1).  A link that loses its connection keeps its channels
 * for the resumption grace period (section 6; --grace): the host's next connection (the
 * same host id in its verified certificate) or the user's client resuming its sessions
 * (the same user, naming the session ids as resume=SID query arguments of the upgrade)
 * takes the link over.
 *
 * Never handles LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (CVE-2025-11677); ALPN http/1.1 only; no
 * websocket extensions. */
#include "brokerd.h"
#include "conn.h"
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "frame.h"
#include "link.h"
#include "lwsglue.h"
#include "log.h"
#include "login.h"
#include "util.h"

#define TICK_US (250 * 1000)
#define RESUME_SIDS_MAX 32 /* session ids a client names when it resumes */


struct http_pss {
	int is_register, is_login, is_sessions;
	char *body;
	size_t len;
	int too_large;
	unsigned char *resp; /* LWS_PRE headroom, then resp_len bytes */
	size_t resp_len;
};

struct agent_pss {
	struct conn *conn;
	int is_client;
	char host_id[SSM_HOST_ID_LEN + 1];
	char serial[SSM_CA_SERIAL_MAX];
	char user[65];
	char resume[RESUME_SIDS_MAX][SSM_FRAME_SID_MAX + 1]; /* clients: sessions to resume */
	int nresume;
};

static struct broker *B;
static const struct serve_opts *O;

static int64_t grace_ms(void)
{
	return O->grace_ms > 0 ? O->grace_ms : SSM_FRAME_RESUME_GRACE * 1000;
}
static struct lws_context *ctx;
static struct conn *conns;
static lws_sorted_usec_list_t tick_sul;
static volatile sig_atomic_t stop_signal;
static int stopping;
static int64_t stop_deadline, last_version = -1, last_full_check;

static void logf_(const char *fmt, ...) SSM_PRINTF(1, 2);
static void logf_(const char *fmt, ...)
{
	char ts[32];
	va_list ap;

	ssm_rfc3339(ssm_now(), ts);
	fprintf(stderr, "%s ssm-broker: ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void peer_name(struct lws *wsi, char *out, size_t size)
{
	char ip[64] = "?";

	lws_get_peer_simple(wsi, ip, sizeof(ip));
	snprintf(out, size, "%s", ip);
}

/* ---------------------------------------------------------------- HTTP: register */

static int respond(struct lws *wsi, struct http_pss *pss, int status, cJSON *body)
{
	unsigned char hdr[LWS_PRE + 512], *start = &hdr[LWS_PRE], *p = start,
						   *end = &hdr[sizeof(hdr) - 1];
	char *s = cJSON_PrintUnformatted(body);
	size_t n;

	cJSON_Delete(body);
	if (s == NULL)
		return -1;
	n = strlen(s);
	free(pss->resp);
	pss->resp = malloc(LWS_PRE + n + 1);
	if (pss->resp == NULL) {
		free(s);
		return -1;
	}
	memcpy(pss->resp + LWS_PRE, s, n);
	pss->resp[LWS_PRE + n] = '\n';
	pss->resp_len = n + 1;
	free(s);
	if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json",
					(lws_filepos_t)pss->resp_len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int respond_error(struct lws *wsi, struct http_pss *pss, int status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddStringToObject(o, "error", msg)) {
		cJSON_Delete(o);
		return -1;
	}
	return respond(wsi, pss, status, o);
}

static int handle_register(struct lws *wsi, struct http_pss *pss)
{
	struct ssm_enroll_request *req = NULL;
	char err[256] = "", msg[512] = "", peer[64];
	cJSON *resp = NULL;
	int status, r;

	peer_name(wsi, peer, sizeof(peer));
	if (pss->too_large) {
		logf_("register from %s refused: body larger than %d bytes", peer,
		      SSM_ENROLL_BODY_MAX);
		return respond_error(wsi, pss, 413, "request too large");
	}
	r = ssm_enroll_request_parse(pss->body ? pss->body : "", pss->len, &req, err, sizeof(err));
	/* the activation code or the EC2 nonce were in it: parsed (and wiped there), the raw
	 * body is wiped too, as POST /v1/login's */
	if (pss->body != NULL)
		OPENSSL_cleanse(pss->body, pss->len);
	if (r < 0) {
		logf_("register from %s refused: %s", peer, err);
		snprintf(msg, sizeof(msg), "bad request: %s", err);
		return respond_error(wsi, pss, 400, msg);
	}
	if (req->ec2_document != NULL)
		status = db_register_ec2(B, req, ssm_now(), &resp, msg, sizeof(msg));
	else
		status = db_register(B, req, ssm_now(), &resp, msg, sizeof(msg));
	ssm_enroll_request_free(req);
	if (status != 0) {
		/* a 500's detail (the database's own message) is for the log, not for a peer
		 * that is not trusted yet */
		logf_("register from %s refused: %s", peer, msg);
		return respond_error(wsi, pss, status, status == 500 ? "internal error" : msg);
	}
	logf_("registered host %s from %s", msg, peer);
	return respond(wsi, pss, 200, resp);
}

/* POST /v1/login (brokerd/login.c) */
static int handle_login(struct lws *wsi, struct http_pss *pss)
{
	struct ssm_login_request *req;
	char err[256] = "", msg[512] = "", peer[64];
	cJSON *resp = NULL;
	int status;

	peer_name(wsi, peer, sizeof(peer));
	if (pss->too_large)
		return respond_error(wsi, pss, 413, "request too large");
	req = calloc(1, sizeof(*req));
	if (req == NULL)
		return -1;
	if (ssm_login_request_parse(pss->body ? pss->body : "", pss->len, req, err,
				    sizeof(err)) < 0) {
		logf_("login from %s refused: %s", peer, err);
		snprintf(msg, sizeof(msg), "bad request: %s", err);
		status = 400;
	} else {
		status = users_login(B->db, req, ssm_now(), &resp, msg, sizeof(msg));
		logf_("login of %s from %s %s: %s", req->user, peer,
		      status ? "refused" : "accepted", msg);
	}
	OPENSSL_cleanse(req, sizeof(*req));
	free(req);
	if (pss->body != NULL)
		OPENSSL_cleanse(pss->body, pss->len);
	if (status != 0)
		return respond_error(wsi, pss, status, status == 500 ? "internal error" : msg);
	return respond(wsi, pss, 200, resp);
}

/* GET /v1/instances: DescribeInstanceInformation, for a user whose policies allow
 * ssm:DescribeInstanceInformation (brokerd/login.c: users_authorize) */
static int handle_instances(struct lws *wsi, struct http_pss *pss)
{
	char auth[256] = "", msg[1024] = "", user[65] = "", peer[64], ts[32];
	cJSON *hosts, *h, *out, *list;
	struct conn *c;
	int status;

	peer_name(wsi, peer, sizeof(peer));
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) >= (int)sizeof(auth) ||
	    lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
		auth[0] = '\0';
	status = users_authorize(B->db, auth[0] ? auth : NULL, "ssm:DescribeInstanceInformation",
				 "*", ssm_now(), user, sizeof(user), msg, sizeof(msg));
	OPENSSL_cleanse(auth, sizeof(auth));
	if (status != 0) {
		logf_("DescribeInstanceInformation from %s%s%s refused: %s", peer,
		      user[0] ? " by " : "", user, msg);
		return respond_error(wsi, pss, status, status == 500 ? "internal error" : msg);
	}
	hosts = db_host_list(B->db);
	out = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(out, "InstanceInformationList");
	if (hosts == NULL || list == NULL) {
		cJSON_Delete(hosts);
		cJSON_Delete(out);
		return respond_error(wsi, pss, 500, "internal error");
	}
	cJSON_ArrayForEach(h, hosts) {
		const char *id = cJSON_GetObjectItem(h, "id")->valuestring;
		const cJSON *lc = cJSON_GetObjectItem(h, "last_contact");
		const char *ping = "ConnectionLost";
		cJSON *o = cJSON_CreateObject();
		for (c = conns; c != NULL; c = c->next)
			if (!c->is_client && c->linked && !c->kill && strcmp(c->host_id, id) == 0)
				ping = "Online";
		if (cJSON_IsTrue(cJSON_GetObjectItem(h, "revoked")))
			ping = "Inactive";
		cJSON_AddStringToObject(o, "InstanceId", id);
		cJSON_AddStringToObject(o, "PingStatus", ping);
		if (cJSON_IsNumber(lc)) {
			ssm_rfc3339((int64_t)lc->valuedouble, ts);
			cJSON_AddStringToObject(o, "LastPingDateTime", ts);
		}
		ssm_rfc3339((int64_t)cJSON_GetObjectItem(h, "registered")->valuedouble, ts);
		cJSON_AddStringToObject(o, "RegistrationDate", ts);
		cJSON_AddStringToObject(o, "ResourceType",
					ssm_ca_ec2_id_valid(id) ? "EC2Instance" : "ManagedInstance");
		cJSON_AddItemToArray(list, o);
	}
	cJSON_Delete(hosts);
	logf_("DescribeInstanceInformation by %s from %s", user, peer);
	return respond(wsi, pss, 200, out);
}

/* /v1/sessions: StartSession, TerminateSession, DescribeSessions (brokerd/sessions.c) */
static int handle_sessions(struct lws *wsi, struct http_pss *pss)
{
	char auth[256] = "", host[256] = "", path[256] = "", query[128] = "", msg[1536] = "",
	     user[65] = "", peer[64];
	int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0, status;
	struct broker_http_request req = { post ? "POST" : "GET", path, NULL, NULL, peer, host,
					   O->listen, pss->body, pss->len, pss->too_large, user,
					   sizeof(user) };
	cJSON *resp = NULL;

	peer_name(wsi, peer, sizeof(peer));
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) < (int)sizeof(auth) &&
	    lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
		req.authorization = auth;
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) < 0)
		host[0] = '\0';
	if (lws_hdr_copy(wsi, path, sizeof(path), post ? WSI_TOKEN_POST_URI : WSI_TOKEN_GET_URI) < 0)
		path[0] = '\0';
	if (lws_hdr_copy_fragment(wsi, query, sizeof(query), WSI_TOKEN_HTTP_URI_ARGS, 0) > 0 &&
	    lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, 1) <= 0)
		req.query = query;
	status = broker_sessions_http(B, &req, &resp, msg, sizeof(msg));
	OPENSSL_cleanse(auth, sizeof(auth));
	logf_("%s %s from %s%s%s: %d %s", req.method, path, peer, user[0] ? " by " : "", user,
	      status, msg);
	if (status != 200)
		return respond_error(wsi, pss, status, status == 500 ? "internal error" : msg);
	return respond(wsi, pss, 200, resp);
}

static int client_cert_verify(void *x509_ctx, int preverify_ok)
{
	X509_STORE_CTX *sctx = x509_ctx;

	if (!preverify_ok) {
		int err = X509_STORE_CTX_get_error(sctx);
		logf_("TLS client certificate refused: %s (depth %d)",
		      X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(sctx));
		return 1; /* fail the handshake */
	}
	return 0;
}

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct http_pss *pss = user;
	char buf[64];

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
		return client_cert_verify(user, (int)len);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* a websocket upgrade that did not ask for ssmsession.1 lands here */
		peer_name(wsi, buf, sizeof(buf));
		logf_("websocket upgrade from %s refused: no subprotocol %s", buf,
		      SSM_FRAME_SUBPROTOCOL);
		return 1;
	case LWS_CALLBACK_HTTP:
		memset(pss, 0, sizeof(*pss));
		if (strcmp((const char *)in, "/v1/register") == 0 &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
			pss->is_register = 1;
			if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
				return respond_error(wsi, pss, 411, "Content-Length required") ? -1
												 : 0;
			}
			if (strtoul(buf, NULL, 10) > SSM_ENROLL_BODY_MAX)
				pss->too_large = 1;
			return 0; /* the body follows */
		}
		if (strcmp((const char *)in, "/v1/login") == 0 &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
			pss->is_login = 1;
			if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
				return respond_error(wsi, pss, 411, "Content-Length required") ? -1
												 : 0;
			if (strtoul(buf, NULL, 10) > SSM_LOGIN_BODY_MAX)
				pss->too_large = 1;
			return 0;
		}
		if (strcmp((const char *)in, "/v1/instances") == 0 &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
			return handle_instances(wsi, pss) ? -1 : 0;
		if (strncmp((const char *)in, "/v1/sessions", 12) == 0 &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
			pss->is_sessions = 1;
			if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
				return respond_error(wsi, pss, 411, "Content-Length required") ? -1
												 : 0;
			return 0; /* the body follows; a larger one than allowed is dropped */
		}
		if (strncmp((const char *)in, "/v1/sessions", 12) == 0 &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
			return handle_sessions(wsi, pss) ? -1 : 0;
		return respond_error(wsi, pss, 404, "not found") ? -1 : 0;
	case LWS_CALLBACK_HTTP_BODY:
		if (pss->is_sessions && (pss->too_large || len > BROKER_SESSIONS_BODY_MAX - pss->len)) {
			pss->too_large = 1; /* answered 413 at the end of the body */
			return 0;
		}
		if ((!pss->is_register && !pss->is_login && !pss->is_sessions) || pss->too_large)
			return pss->too_large ? -1 : 0;
		if (len == 0 || in == NULL)
			return 0; /* Content-Length: 0: nothing to copy (memcpy from NULL is UB) */
		if (len > (pss->is_login ? SSM_LOGIN_BODY_MAX : SSM_ENROLL_BODY_MAX) - pss->len) {
			pss->too_large = 1;
			return -1;
		} else {
			char *nb = realloc(pss->body, pss->len + len + 1);
			if (nb == NULL)
				return -1;
			pss->body = nb;
			memcpy(pss->body + pss->len, in, len);
			pss->len += len;
			pss->body[pss->len] = '\0';
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss->is_login)
			return handle_login(wsi, pss) ? -1 : 0;
		if (pss->is_sessions)
			return handle_sessions(wsi, pss) ? -1 : 0;
		if (!pss->is_register)
			return -1;
		return handle_register(wsi, pss) ? -1 : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (pss->resp == NULL)
			return 0;
		if (lws_write(wsi, pss->resp + LWS_PRE, pss->resp_len, LWS_WRITE_HTTP_FINAL) !=
		    (int)pss->resp_len)
			return -1;
		free(pss->resp);
		pss->resp = NULL;
		free(pss->body);
		pss->body = NULL;
		pss->len = 0;
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (pss != NULL) {
			free(pss->resp);
			pss->resp = NULL;
			free(pss->body);
			pss->body = NULL;
		}
		return 0;
	default:
		/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE among others: never handled (CVE-2025-11677) */
		return 0;
	}
}

/* ---------------------------------------------------------------- websocket: agents */

/* A user's client: a valid bearer credential (what it may do is decided per session: the
 * attach secret of StartSession, which already applied the user's policies). */
static int filter_client(struct lws *wsi, struct agent_pss *pss, const char *peer)
{
	char auth[256] = "", msg[512] = "";
	int status;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) >= (int)sizeof(auth) ||
	    lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
		auth[0] = '\0';
	pss->user[0] = '\0';
	status = users_authorize(B->db, auth[0] ? auth : NULL, "ssm:StartSession", "*", ssm_now(),
				 pss->user, sizeof(pss->user), msg, sizeof(msg));
	OPENSSL_cleanse(auth, sizeof(auth));
	if ((status != 0 && status != 403) || pss->user[0] == '\0') {
		logf_("client from %s refused: %s", peer, msg);
		return 1;
	}
	pss->is_client = 1;
	/* resume=SID arguments: the sessions of a link this client resumes */
	pss->nresume = 0;
	for (int i = 0; i < 64 && pss->nresume < RESUME_SIDS_MAX; i++) {
		char arg[16 + SSM_FRAME_SID_MAX];
		int n = lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i);

		if (n < 0)
			break;
		if (strncmp(arg, "resume=", 7) == 0 && n > 7 && n - 7 <= SSM_FRAME_SID_MAX) {
			memcpy(pss->resume[pss->nresume], arg + 7, (size_t)(n - 7));
			pss->resume[pss->nresume++][n - 7] = '\0';
		}
	}
	return 0;
}

/* The upgrade: the right path, and a client certificate naming an allowed host. */
static int filter_agent(struct lws *wsi, struct agent_pss *pss)
{
	char uri[64] = "", peer[64], err[256] = "", why[256] = "";
	SSL *ssl = lws_get_ssl(wsi);
	X509 *cert = NULL;
	int r;

	peer_name(wsi, peer, sizeof(peer));
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) > 0 &&
	    strcmp(uri, "/v1/client") == 0)
		return filter_client(wsi, pss, peer);
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(uri, "/v1/agent") != 0) {
		logf_("websocket upgrade from %s refused: path is neither /v1/agent nor /v1/client",
		      peer);
		return 1;
	}
	if (ssl != NULL)
		cert = SSL_get1_peer_certificate(ssl);
	if (cert == NULL) {
		logf_("agent from %s refused: no client certificate", peer);
		return 1;
	}
	r = ssm_ca_verify_host(ssm_ca_cert(B->ca), cert, SSL_get_peer_cert_chain(ssl), ssm_now(),
			       NULL, NULL, pss->host_id, pss->serial, err, sizeof(err));
	X509_free(cert);
	if (r < 0) {
		logf_("agent from %s refused: %s", peer, err);
		return 1;
	}
	r = db_host_allowed(B->db, pss->host_id, pss->serial, why, sizeof(why));
	if (r != 1) {
		logf_("agent %s from %s refused: %s", pss->host_id, peer,
		      r < 0 ? "database error" : why);
		return 1;
	}
	return 0;
}

/* The link of this connection's host or (resuming) client, if there is one: the new
 * connection takes it over, its channels resume on it. */
static struct conn *conn_resumable(const struct agent_pss *pss)
{
	struct conn *o;

	if (pss->is_client)
		return relay_client_of(pss->user, (char (*)[SSM_FRAME_SID_MAX + 1])pss->resume,
				       pss->nresume);
	for (o = conns; o; o = o->next)
		if (!o->is_client && strcmp(o->host_id, pss->host_id) == 0)
			return o;
	return NULL;
}

static void conn_remove(struct conn *c)
{
	struct conn **pp;

	for (pp = &conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	free(c->resume);
	free(c);
}

static int cb_agent(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct agent_pss *pss = user;
	struct conn *c = pss ? pss->conn : NULL;
	int ev;

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
		return client_cert_verify(user, (int)len);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter_agent(wsi, pss);
	case LWS_CALLBACK_ESTABLISHED:
		if (stopping)
			return -1; /* it would miss the GOAWAY: the next start takes it */
		if ((c = conn_resumable(pss)) != NULL) {
			if (c->wsi != NULL) {
				/* one link per host (PROTOCOL.md section 1): the newest connection
				 * replaces an older one that has not noticed it is dead */
				struct agent_pss *op = lws_wsi_user(c->wsi);

				if (op != NULL)
					op->conn = NULL;
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			}
			ssm_mux_link_down(c->mux, ssm_mono_ms());
			c->wsi = wsi;
			c->linked = c->kill = c->revoked = 0;
			memcpy(c->serial, pss->serial, sizeof(c->serial));
			peer_name(wsi, c->peer, sizeof(c->peer));
			ssm_link_init(&c->link, SSM_ROLE_BROKER, BROKER_SOFTWARE, O->ping_after_ms,
				      O->dead_after_ms, ssm_mono_ms());
			if (c->is_client)
				c->link.peer_role = SSM_ROLE_CLIENT;
			ssm_mux_attach(c->mux, &c->link);
			pss->conn = c;
			if (c->is_client)
				logf_("client of %s connected from %s, resuming %zu channels", c->user,
				      c->peer, ssm_mux_channels(c->mux));
			else
				logf_("agent %s connected from %s, resuming %zu channels", c->host_id,
				      c->peer, ssm_mux_channels(c->mux));
			if (!c->is_client)
				(void)db_host_contact(B->db, c->host_id, ssm_now());
			lws_callback_on_writable(wsi);
			return 0;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return -1;
		c->wsi = wsi;
		c->is_client = pss->is_client;
		memcpy(c->host_id, pss->host_id, sizeof(c->host_id));
		memcpy(c->serial, pss->serial, sizeof(c->serial));
		memcpy(c->user, pss->user, sizeof(c->user));
		if (pss->is_client && pss->nresume > 0 &&
		    (c->resume = calloc((size_t)pss->nresume, sizeof(*c->resume))) != NULL) {
			memcpy(c->resume, pss->resume, (size_t)pss->nresume * sizeof(*c->resume));
			c->nresume = pss->nresume;
		}
		peer_name(wsi, c->peer, sizeof(c->peer));
		ssm_link_init(&c->link, SSM_ROLE_BROKER, BROKER_SOFTWARE, O->ping_after_ms,
			      O->dead_after_ms, ssm_mono_ms());
		if (c->is_client)
			c->link.peer_role = SSM_ROLE_CLIENT;
		if (relay_conn_setup(c) < 0) {
			free(c->resume);
			free(c);
			return -1;
		}
		c->next = conns;
		conns = c;
		pss->conn = c;
		if (c->is_client) {
			logf_("client of %s connected from %s", c->user, c->peer);
			lws_callback_on_writable(wsi);
			return 0;
		}
		(void)db_host_contact(B->db, c->host_id, ssm_now());
		logf_("agent %s connected from %s", c->host_id, c->peer);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c == NULL)
			return -1;
		ev = ssm_link_rx(&c->link, in, len, lws_is_first_fragment(wsi),
				 lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0,
				 lws_frame_is_binary(wsi), ssm_mono_ms());
		if (ev == SSM_LINK_EV_UP && c->is_client) {
			c->linked = 1;
		} else if (ev == SSM_LINK_EV_UP) {
			c->linked = 1;
			(void)db_host_contact(B->db, c->host_id, ssm_now());
			logf_("agent %s linked (HELLO %s), %zu channels", c->host_id,
			      c->link.peer_software, ssm_mux_channels(c->mux));
		} else if (ev == SSM_LINK_EV_GOAWAY) {
			logf_("agent %s said GOAWAY %s: %s", c->host_id,
			      ssm_frame_code_name(c->link.peer_goaway_code),
			      c->link.peer_goaway_reason);
			return -1;
		} else if (ev == SSM_LINK_EV_ERROR) {
			logf_("agent %s: protocol error: %s", c->host_id, c->link.error);
		}
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		int r;

		if (c == NULL)
			return -1;
		if (c->kill)
			return -1;
		r = ssm_lws_write_next(wsi, &c->link, c->mux, 0);
		if (r < 0)
			return -1;
		if (r > 0) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
					 (unsigned char *)"goaway", 6);
			return -1;
		}
		return 0;
	}
	case LWS_CALLBACK_CLOSED:
		if (c != NULL) {
			const char *who = c->is_client ? "client of" : "agent";
			const char *name = c->is_client ? c->user : c->host_id;

			pss->conn = NULL;
			c->wsi = NULL;
			c->linked = 0;
			if (!c->is_client)
				(void)db_host_contact(B->db, c->host_id, ssm_now());
			if (stopping || c->revoked || ssm_mux_channels(c->mux) == 0) {
				logf_("%s %s disconnected%s%s", who, name, c->link.error[0] ? ": " : "",
				      c->link.error);
				relay_conn_gone(c, c->is_client ? "the client's connection was lost"
								: "the host's connection was lost");
				conn_remove(c);
				return 0;
			}
			/* its channels wait for the resumption (section 6) */
			ssm_mux_link_down(c->mux, ssm_mono_ms());
			logf_("%s %s disconnected%s%s; %zu channels wait up to %lld s", who, name,
			      c->link.error[0] ? ": " : "", c->link.error, ssm_mux_channels(c->mux),
			      (long long)(grace_ms() / 1000));
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "http", cb_http, sizeof(struct http_pss), 0, 0, NULL, 0 },
	{ SSM_FRAME_SUBPROTOCOL, cb_agent, sizeof(struct agent_pss), SSM_FRAME_MAX, 0, NULL,
	  SSM_FRAME_MAX },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---------------------------------------------------------------- the timer */

static void revocation_check(int64_t now)
{
	int64_t v = db_data_version(B->db);
	struct conn *c;

	/* another process (ssm-broker host revoke) committed, or a second passed */
	if (v == last_version && now - last_full_check < 1000)
		return;
	last_version = v;
	last_full_check = now;
	for (c = conns; c; c = c->next) {
		char why[256] = "";
		if (c->is_client || c->revoked || (c->wsi && c->link.state == SSM_LINK_CLOSING))
			continue;
		if (db_host_allowed(B->db, c->host_id, c->serial, why, sizeof(why)) == 0) {
			logf_("agent %s: disconnecting: %s", c->host_id, why);
			c->revoked = 1; /* its channels do not wait for a resumption */
			if (c->wsi == NULL) {
				relay_conn_gone(c, why);
				continue; /* removed by the tick */
			}
			if (ssm_link_goaway(&c->link, SSM_CODE_REFUSED, 60000, why) < 0)
				c->kill = 1;
			lws_callback_on_writable(c->wsi);
		}
	}
}

static void tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = ssm_mono_ms();
	struct conn *c, *next;

	if (stop_signal && !stopping) {
		stopping = 1;
		stop_deadline = now + 1000;
		relay_keep_for_restart();
		logf_("stopping: GOAWAY to %s agents", conns ? "the" : "no");
		for (c = conns; c; c = c->next) {
			if (c->wsi == NULL)
				continue;
			(void)ssm_link_goaway(&c->link, SSM_CODE_SHUTDOWN, 1000, "broker stopping");
			lws_callback_on_writable(c->wsi);
		}
	}
	/* links without a connection: their grace period, or the broker stopping */
	for (c = conns; c; c = next) {
		next = c->next;
		if (c->wsi != NULL)
			continue;
		if (stopping || c->revoked || ssm_mux_channels(c->mux) == 0 ||
		    ssm_mux_down_ms(c->mux, now) >= grace_ms()) {
			char why[128];

			snprintf(why, sizeof(why),
				 stopping ? "the broker is stopping"
				 : c->revoked ? "the host was revoked"
				 : c->is_client ? "the client's connection was not restored within %lld s"
						: "the host's connection was not restored within %lld s",
				 (long long)(grace_ms() / 1000));
			if (ssm_mux_channels(c->mux) > 0)
				logf_("%s %s: %s: closing %zu channels",
				      c->is_client ? "client of" : "agent",
				      c->is_client ? c->user : c->host_id, why, ssm_mux_channels(c->mux));
			relay_conn_gone(c, why);
			conn_remove(c);
		}
	}
	if (stopping && (conns == NULL || now >= stop_deadline)) {
		lws_cancel_service(ctx);
		return; /* the loop sees stopping and ends */
	}
	revocation_check(now);
	relay_tick();
	transcripts_tick();
	for (c = conns; c; c = c->next) {
		int ev;

		if (c->wsi == NULL)
			continue;
		if (c->mux && !c->kill && !ssm_mux_resumed(c->mux) &&
		    ssm_mux_down_ms(c->mux, now) >= grace_ms()) {
			/* a peer that never finishes the resumption holds its channels no longer
			 * than a lost connection would: closed, then the grace above ends them */
			logf_("%s %s did not finish the resumption within %lld s: closing",
			      c->is_client ? "client of" : "agent", c->is_client ? c->user : c->host_id,
			      (long long)(grace_ms() / 1000));
			c->kill = 1;
			lws_callback_on_writable(c->wsi);
			continue;
		}
		if (c->mux)
			ssm_mux_tick(c->mux); /* acknowledgements that waited for the tick */
		ev = ssm_link_tick(&c->link, now);
		if (ev == SSM_LINK_EV_DEAD) {
			logf_("agent %s: %s: closing", c->host_id, c->link.error);
			c->kill = 1;
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		} else if (c->link.q_n || ssm_mux_tx_pending(c->mux)) {
			lws_callback_on_writable(c->wsi);
		}
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
	fprintf(stderr, "ssm-broker: lws: %.*s\n", (int)n, line);
}

/* ADDR:PORT, [V6]:PORT */
static int split_listen(const char *s, char *addr, size_t size, int *pport)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;
	size_t n;

	if (colon == NULL)
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535 || colon[1] == '\0')
		return -EINVAL;
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= size)
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	*pport = (int)port;
	return 0;
}

/* One descriptor per host link and per client connection: a fleet needs more than the
 * usual soft limit of 1024.  Raise it to the hard limit, at most BROKER_FD_MAX (libwebsockets
 * sizes its descriptor table from it when the context is created). */
#define BROKER_FD_MAX 65536
static void raise_fd_limit(void)
{
	unsigned long long n = ssm_raise_nofile(BROKER_FD_MAX, NULL);

	if (n < 4096)
		logf_("warning: at most %llu open descriptors (a host link or a client each takes "
		      "one): raise LimitNOFILE", n);
}

int broker_serve(struct broker *b, const struct serve_opts *o)
{
	struct lws_context_creation_info info;
	char addr[128], host[256] = "";
	const char *names[4];
	size_t n = 0;
	struct sigaction sa;
	unsigned char buf4[16];
	int port, v6;

	B = b;
	O = o;
	if (split_listen(o->listen, addr, sizeof(addr), &port) < 0) {
		ssm_log(LOG_ERR, "--listen %s: not ADDR:PORT", o->listen);
		return -EINVAL;
	}
	v6 = inet_pton(AF_INET6, addr, buf4) == 1;
	if (inet_pton(AF_INET, addr, buf4) != 1 && !v6) {
		ssm_log(LOG_ERR, "--listen %s: ADDR must be an IP address", o->listen);
		return -EINVAL;
	}
	/* the server certificate names the listening address, localhost and this host */
	if (strcmp(addr, "0.0.0.0") != 0 && strcmp(addr, "::") != 0)
		names[n++] = addr;
	names[n++] = "localhost";
	if (gethostname(host, sizeof(host) - 1) == 0 && host[0] && strcmp(host, "localhost") != 0)
		names[n++] = host;
	if (broker_server_cert(b, names, n) < 0)
		return -EIO;

	raise_fd_limit();
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = addr;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
		       LWS_SERVER_OPTION_PEER_CERT_NOT_REQUIRED;
	if (!v6)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.ssl_cert_filepath = b->server_cert;
	info.ssl_private_key_filepath = b->server_key;
	info.ssl_ca_filepath = b->ca_cert;
	info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_RENEGOTIATION;
	info.alpn = "http/1.1";
	info.timeout_secs = 10;
	info.vhost_name = "ssm-broker";
	ctx = lws_create_context(&info);
	if (ctx == NULL) {
		ssm_log(LOG_ERR, "cannot listen on %s (libwebsockets context failed)", o->listen);
		return -EIO;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	logf_("listening on %s (state %s, issuer %s, CA %s)", o->listen, b->dir, b->issuer,
	      b->ca_cert);
	relay_init(b, &conns, logf_);
	if (relay_restore(grace_ms()) < 0)
		logf_("cannot read the sessions that ran before the restart (database error)");
	lws_sul_schedule(ctx, 0, &tick_sul, tick, TICK_US);
	while (!(stopping && (conns == NULL || ssm_mono_ms() >= stop_deadline))) {
		if (lws_service(ctx, 0) < 0)
			break;
	}
	lws_context_destroy(ctx);
	ctx = NULL;
	logf_("stopped");
	return 0;
}
