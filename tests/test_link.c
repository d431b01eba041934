/* test_link.c - the link state machine (lib/link.c): an agent and a broker end wired
 * together in memory, then the refusals of docs/PROTOCOL.md section 8 one by one. */
#include "config.h"
#include <string.h>
#include "check.h"
#include "link.h"

/* deliver every queued message of a to b; returns the last event */
static int pump(struct ssm_link *a, struct ssm_link *b, int64_t now)
{
	uint8_t *p;
	size_t n;
	int ev = 0;

	while ((p = ssm_link_tx_peek(a, &n)) != NULL) {
		int r = ssm_link_rx(b, p, n, 1, 1, 1, now);
		if (r != 0)
			ev = r;
		ssm_link_tx_pop(a);
	}
	return ev;
}

static void up(struct ssm_link *ag, struct ssm_link *br)
{
	ssm_link_init(ag, SSM_ROLE_AGENT, "agent", 0, 0, 0);
	ssm_link_init(br, SSM_ROLE_BROKER, "broker", 0, 0, 0);
	pump(ag, br, 0);
	pump(br, ag, 0);
	pump(ag, br, 0);
}

/* one raw frame into l */
static int send_frame(struct ssm_link *l, const struct ssm_frame *f)
{
	uint8_t buf[SSM_FRAME_MAX];
	size_t n;

	if (ssm_frame_encode(f, buf, sizeof(buf), &n) != 0)
		return 99;
	return ssm_link_rx(l, buf, n, 1, 1, 1, 1);
}

static int last_goaway_code(struct ssm_link *l)
{
	uint8_t *p, *last = NULL;
	size_t n, lastn = 0;
	struct ssm_frame f;

	while ((p = ssm_link_tx_peek(l, &n)) != NULL) {
		last = p;
		lastn = n;
		if (ssm_frame_decode(p, n, &f) == 0 && f.type == SSM_FRAME_GOAWAY)
			return f.u.close.code;
		ssm_link_tx_pop(l);
	}
	(void)last;
	(void)lastn;
	return -1;
}

int main(void)
{
	struct ssm_link ag, br;
	struct ssm_frame f;
	uint8_t *p;
	size_t n;

	/* the happy path: HELLO both ways, RESUME_DONE both ways */
	ssm_link_init(&ag, SSM_ROLE_AGENT, "agent", 0, 0, 0);
	ssm_link_init(&br, SSM_ROLE_BROKER, "broker", 0, 0, 0);
	CHECK(pump(&ag, &br, 0) == 0 && br.state == SSM_LINK_RESUME_WAIT, "broker got HELLO");
	CHECK(pump(&br, &ag, 0) == SSM_LINK_EV_UP && ag.state == SSM_LINK_UP, "agent up");
	CHECK(pump(&ag, &br, 0) == SSM_LINK_EV_UP && br.state == SSM_LINK_UP, "broker up");
	CHECK(strcmp(br.peer_software, "agent") == 0, "software");

	/* keepalive: PING after 15 s of silence, answered; dead after 45 s */
	CHECK(ssm_link_tick(&ag, 14999) == 0 && ag.q_n == 0, "no PING before 15 s");
	CHECK(ssm_link_tick(&ag, 15000) == 0 && ag.q_n == 1 && ag.pings_sent == 1, "PING at 15 s");
	CHECK(ssm_link_tick(&ag, 15100) == 0 && ag.q_n == 1, "one PING per interval");
	pump(&ag, &br, 15000);
	p = ssm_link_tx_peek(&br, &n);
	CHECK(p && ssm_frame_decode(p, n, &f) == 0 && f.type == SSM_FRAME_PONG && f.value == 1,
	      "PONG with the nonce");
	pump(&br, &ag, 15001);
	CHECK(ag.pongs_received == 1, "PONG counted");
	CHECK(ssm_link_tick(&ag, 15001 + 44999) == 0, "alive before 45 s");
	CHECK(ssm_link_tick(&ag, 15001 + 45000) == SSM_LINK_EV_DEAD, "dead after 45 s");

	/* GOAWAY from the broker */
	up(&ag, &br);
	CHECK(ssm_link_goaway(&br, SSM_CODE_SHUTDOWN, 1000, "restart") == 0, "goaway queued");
	CHECK(pump(&br, &ag, 1) == SSM_LINK_EV_GOAWAY && ag.peer_goaway_code == SSM_CODE_SHUTDOWN &&
		      ag.peer_goaway_retry_ms == 1000 && strcmp(ag.peer_goaway_reason, "restart") == 0,
	      "agent sees GOAWAY");
	CHECK(ssm_link_done(&br), "broker done after writing GOAWAY");

	/* refusals: each is a GOAWAY protocol */
	ssm_link_init(&br, SSM_ROLE_BROKER, "broker", 0, 0, 0);
	ssm_link_tx_pop(&br);
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_PING;
	CHECK(send_frame(&br, &f) == SSM_LINK_EV_ERROR && last_goaway_code(&br) == SSM_CODE_PROTOCOL,
	      "anything before HELLO");
	ssm_link_init(&br, SSM_ROLE_BROKER, "broker", 0, 0, 0);
	ssm_link_tx_pop(&br);
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_HELLO;
	f.u.hello.role = SSM_ROLE_CLIENT;
	CHECK(send_frame(&br, &f) == SSM_LINK_EV_ERROR, "a client's HELLO on the agent path");
	up(&ag, &br);
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_HELLO;
	f.u.hello.role = SSM_ROLE_AGENT;
	CHECK(send_frame(&br, &f) == SSM_LINK_EV_ERROR, "a second HELLO");
	up(&ag, &br);
	CHECK(ssm_link_rx(&br, (const uint8_t *)"hello", 5, 1, 1, 0, 1) == SSM_LINK_EV_ERROR,
	      "a text message");
	up(&ag, &br);
	{
		static uint8_t big[SSM_FRAME_MAX + 1];
		CHECK(ssm_link_rx(&br, big, sizeof(big), 1, 1, 1, 1) == SSM_LINK_EV_ERROR,
		      "a message longer than one frame");
	}
	up(&ag, &br);
	{
		uint8_t junk[32] = { 2, 3 };
		CHECK(ssm_link_rx(&br, junk, sizeof(junk), 1, 1, 1, 1) == SSM_LINK_EV_ERROR &&
			      strstr(br.error, "bad frame") != NULL,
		      "a frame the codec refuses (version 2): %s", br.error);
	}
	up(&ag, &br);
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_DATA;
	f.channel = 1;
	f.u.data.p = (const uint8_t *)"x";
	f.u.data.len = 1;
	CHECK(send_frame(&br, &f) == SSM_LINK_EV_ERROR, "DATA on a channel never opened");
	/* fragments are assembled: a PING in two pieces */
	up(&ag, &br);
	{
		uint8_t buf[64];
		size_t len;
		memset(&f, 0, sizeof(f));
		f.type = SSM_FRAME_PING;
		f.value = 7;
		ssm_frame_encode(&f, buf, sizeof(buf), &len);
		CHECK(ssm_link_rx(&br, buf, 10, 1, 0, 1, 1) == 0 &&
			      ssm_link_rx(&br, buf + 10, len - 10, 0, 1, 1, 1) == 0 && br.q_n == 1,
		      "fragmented PING answered");
	}
	/* an agent's TRANSCRIPT OPEN is refused (CLOSE refused), the link stays */
	up(&ag, &br);
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_OPEN;
	f.channel = 1;
	f.u.open.kind = SSM_KIND_TRANSCRIPT;
	f.u.open.sid = ssm_frame_str("s-1");
	f.u.open.document = ssm_frame_str("Doc");
	CHECK(send_frame(&br, &f) == 0 && br.state == SSM_LINK_UP && br.q_n == 1, "OPEN refused");
	p = ssm_link_tx_peek(&br, &n);
	CHECK(p && ssm_frame_decode(p, n, &f) == 0 && f.type == SSM_FRAME_CLOSE &&
		      f.u.close.code == SSM_CODE_REFUSED,
	      "CLOSE refused");
	return check_done("test_link");
}
