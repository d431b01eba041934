/* wsframe.h - a websocket client's frame, framed and masked by ssm and ssm-agent themselves
 * (RFC 6455 sections 5.2 and 5.3).
 *
 * libwebsockets 4.1 (Debian's) masks a client's payload one byte per loop turn, with the
 * mask index kept in its connection state (lib/roles/ws/ops-ws.c): in a port forward that
 * loop was about half of ssm-agent's CPU (bench/RESULTS.md section 4a).  The dialers
 * therefore frame each message here, masking eight bytes at a time: lib/wsdial.c writes
 * the frames to its own TLS connection, and bench/loadhosts hands them to libwebsockets'
 * client as bytes to send as they are (lib/lwsglue.c).  The broker, a websocket server,
 * parses them as any client's.  Writing only: lib/wsclient.c parses what the server sends. */
#ifndef SSM_WSFRAME_H
#define SSM_WSFRAME_H
#include <stddef.h>
#include <stdint.h>

#define SSM_WS_HEADER_MAX 14 /* 2, a 64-bit length, a 4-byte masking key */
#define SSM_WS_OP_TEXT 0x1
#define SSM_WS_OP_BINARY 0x2

/* One final (FIN) frame of opcode op (0x0..0xf) carrying payload[0..n) masked with key,
 * written at dst (cap bytes).  dst and payload must not overlap.  The frame's length, or 0
 * when cap is too small or op is out of range. */
size_t ssm_ws_client_frame(uint8_t *dst, size_t cap, unsigned op, const uint8_t *payload,
			   size_t n, const uint8_t key[4]);

#endif
