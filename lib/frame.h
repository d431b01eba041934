/* frame.h - the broker channel's frames (docs/PROTOCOL.md), shared by ssm-agent, ssm-broker
 * and the ssm client: encoding and strict decoding of every message type, and the per-stream
 * flow-control rules (offsets, cumulative acks, credit windows, resumption).
 *
 * A frame is one websocket binary message: a 32-byte big-endian header (version, type, flags,
 * channel, stream, length, offset, value) and exactly `length` bytes of body.  Decoding
 * allocates nothing: DATA payloads and strings point into the caller's buffer, which must
 * outlive the struct ssm_frame.  Every function returns 0 (or a length) or one of the
 * negative SSM_FRAME_E_* codes below; ssm_frame_strerror names each. */
#ifndef SSM_FRAME_H
#define SSM_FRAME_H
#include <stddef.h>
#include <stdint.h>

#define SSM_FRAME_VERSION 1
#define SSM_FRAME_SUBPROTOCOL "ssmsession.1"
#define SSM_FRAME_HEADER 32
#define SSM_FRAME_BODY_MAX 16384
#define SSM_FRAME_MAX (SSM_FRAME_HEADER + SSM_FRAME_BODY_MAX) /* one websocket message */
#define SSM_FRAME_OFFSET_MAX (UINT64_C(1) << 62)              /* offsets and limits stay below */
#define SSM_FRAME_WINDOW_MAX (16u * 1024 * 1024) /* a limit at most this beyond the ack */
#define SSM_FRAME_WINDOW_DEFAULT (256u * 1024)   /* recommended initial grant */
#define SSM_FRAME_GOAWAY_RETRY_MAX 3600000u      /* ms */
#define SSM_FRAME_TERM_DIM_MAX 4096              /* cols, rows */
/* string limits (bytes) */
#define SSM_FRAME_SID_MAX 128
#define SSM_FRAME_DOC_MIN 3
#define SSM_FRAME_DOC_MAX 128
#define SSM_FRAME_TOKEN_MAX 4096
#define SSM_FRAME_TERM_MAX 64
#define SSM_FRAME_SOFTWARE_MAX 64
#define SSM_FRAME_ORIGIN_MAX 128
#define SSM_FRAME_REASON_MAX 256
/* limits the peers enforce (not the codec): CLOSE "limit" beyond them */
#define SSM_FRAME_CHANNELS_MAX 1024 /* open channels per link */
#define SSM_FRAME_STREAMS_MAX 256   /* open streams per channel, stream 0 included */
#define SSM_FRAME_TRANSCRIPTS_MAX 16 /* TRANSCRIPT channels open at once per host link */
/* timers (seconds) */
#define SSM_FRAME_PING_IDLE 15
#define SSM_FRAME_DEAD_IDLE 45
#define SSM_FRAME_RESUME_GRACE 120

enum ssm_frame_type {
	SSM_FRAME_HELLO = 0x01,
	SSM_FRAME_RESUME_DONE = 0x02,
	SSM_FRAME_PING = 0x03,
	SSM_FRAME_PONG = 0x04,
	SSM_FRAME_GOAWAY = 0x05,
	SSM_FRAME_OPEN = 0x10,
	SSM_FRAME_ACCEPT = 0x11,
	SSM_FRAME_STREAM_OPEN = 0x12,
	SSM_FRAME_DATA = 0x20,
	SSM_FRAME_ACK = 0x21,
	SSM_FRAME_EOF = 0x22,
	SSM_FRAME_CLOSE = 0x23,
	SSM_FRAME_RESIZE = 0x24,
	SSM_FRAME_EXIT = 0x25,
	SSM_FRAME_TERMINATE = 0x26,
	SSM_FRAME_RESUME = 0x27,
};

/* RESUME flags: which of the peer's control frames the sender has seen */
#define SSM_FRAME_F_EOF_SEEN 0x0001u
#define SSM_FRAME_F_ACCEPT_SEEN 0x0002u
#define SSM_FRAME_F_EXIT_SEEN 0x0004u      /* stream 0 only */
#define SSM_FRAME_F_TERMINATE_SEEN 0x0008u /* stream 0 only */
/* the body holds the sender's acknowledged offset of its own sending direction (8 bytes;
 * sent only when both HELLOs announced SSM_FRAME_FEAT_RESUME_ACKED) */
#define SSM_FRAME_F_ACKED 0x0010u

enum ssm_frame_role { SSM_ROLE_AGENT = 1, SSM_ROLE_BROKER = 2, SSM_ROLE_CLIENT = 3 };
enum ssm_frame_kind {
	SSM_KIND_SESSION = 1,
	SSM_KIND_TRANSCRIPT = 2,
	SSM_KIND_AUDIT = 3,
	SSM_KIND_DOCUMENT = 4, /* agent to broker: send me document NAME whose SHA-256 is sid */
};
/* HELLO feature bits (PROTOCOL.md section 2): used only when both sides announced them */
#define SSM_FRAME_FEAT_DOCUMENTS 0x00000001u /* DOCUMENT channels (section 4) */
#define SSM_FRAME_FEAT_RESUME_ACKED 0x00000002u /* RESUME's ACKED flag (section 6) */
#define SSM_FRAME_FEATURES (SSM_FRAME_FEAT_DOCUMENTS | SSM_FRAME_FEAT_RESUME_ACKED)
/* a DOCUMENT channel's grant: a session document is at most this long (SPEC section 3,
 * lib/document.h SSM_DOCUMENT_MAX_SIZE) */
#define SSM_FRAME_DOCUMENT_MAX (64u * 1024)
/* CLOSE and GOAWAY codes */
enum ssm_frame_code {
	SSM_CODE_OK = 0,
	SSM_CODE_PROTOCOL = 1,
	SSM_CODE_FLOW = 2,
	SSM_CODE_LIMIT = 3,
	SSM_CODE_UNKNOWN = 4,
	SSM_CODE_REFUSED = 5,
	SSM_CODE_CONNECT = 6,
	SSM_CODE_TIMEOUT = 7,
	SSM_CODE_TERMINATED = 8,
	SSM_CODE_INTERNAL = 9,
	SSM_CODE_SHUTDOWN = 10,
	SSM_CODE_BACKLOG = 11,
	SSM_CODE_LAST = SSM_CODE_BACKLOG,
};
/* EXIT: how the session ended, and the SPEC section 6 end reason */
enum ssm_exit_how { SSM_EXIT_EXITED = 1, SSM_EXIT_SIGNALED = 2, SSM_EXIT_NONE = 3 };
enum ssm_end_reason {
	SSM_END_EXIT = 1,
	SSM_END_IDLE_TIMEOUT = 2,
	SSM_END_MAX_DURATION = 3,
	SSM_END_TERMINATED = 4,
	SSM_END_ERROR = 5,
};

/* errors: codec (-1..-24) and flow control (-40..-51) */
enum {
	SSM_FRAME_E_SHORT = -1,          /* fewer than 32 bytes */
	SSM_FRAME_E_VERSION = -2,        /* version byte is not 1 */
	SSM_FRAME_E_TYPE = -3,           /* unknown type */
	SSM_FRAME_E_LENGTH = -4,         /* length field above 16384 */
	SSM_FRAME_E_TRUNCATED = -5,      /* message ends before the body does */
	SSM_FRAME_E_TRAILING = -6,       /* bytes after the body */
	SSM_FRAME_E_FLAGS = -7,          /* a flag this type does not define */
	SSM_FRAME_E_CHANNEL = -8,        /* channel 0 where one is needed, or the reverse */
	SSM_FRAME_E_STREAM = -9,         /* stream not allowed for this type */
	SSM_FRAME_E_RESERVED = -10,      /* unused header field or reserved byte not 0 */
	SSM_FRAME_E_OFFSET = -11,        /* offset, limit or offset + length beyond 2^62 */
	SSM_FRAME_E_EMPTY = -12,         /* DATA without payload */
	SSM_FRAME_E_BODY = -13,          /* body ends inside a field */
	SSM_FRAME_E_BODY_TRAILING = -14, /* bytes after the last field */
	SSM_FRAME_E_TEXT_LEN = -15,      /* string too long or too short */
	SSM_FRAME_E_TEXT = -16,          /* invalid UTF-8 or a control character */
	SSM_FRAME_E_NAME = -17,          /* character outside a name's set */
	SSM_FRAME_E_WINDOW = -18,        /* limit below the offset or > 16 MiB beyond it */
	SSM_FRAME_E_KIND = -19,          /* unknown channel kind, or fields the kind forbids */
	SSM_FRAME_E_ROLE = -20,          /* unknown role */
	SSM_FRAME_E_TERMSIZE = -21,      /* cols/rows outside 1..4096 (or half a terminal) */
	SSM_FRAME_E_EXIT = -22,          /* unknown or inconsistent how/status/end reason */
	SSM_FRAME_E_CODE = -23,          /* unknown CLOSE/GOAWAY code, retry hint too long */
	SSM_FRAME_E_BUFFER = -24,        /* encode: output buffer too small */
	SSM_FRAME_E_INVAL = -25,         /* bad arguments */
	SSM_FRAME_E_FLOW_GAP = -40,      /* DATA/EOF beyond the received offset */
	SSM_FRAME_E_FLOW_OVERLAP = -41,  /* DATA starting below the received offset, ending above */
	SSM_FRAME_E_FLOW_WINDOW = -42,   /* DATA beyond the granted window */
	SSM_FRAME_E_FLOW_AFTER_EOF = -43, /* new DATA after EOF */
	SSM_FRAME_E_FLOW_EOF = -44, /* EOF below the received offset, or a second EOF elsewhere */
	SSM_FRAME_E_FLOW_ACK_BACK = -45,     /* ACK going backwards */
	SSM_FRAME_E_FLOW_ACK_AHEAD = -46,    /* ACK of bytes never sent */
	SSM_FRAME_E_FLOW_WINDOW_BACK = -47,  /* window limit going backwards */
	SSM_FRAME_E_FLOW_RESUME_LOST = -48,  /* RESUME below what the peer acknowledged */
	SSM_FRAME_E_FLOW_RESUME_AHEAD = -49, /* RESUME beyond what was sent */
	SSM_FRAME_E_FLOW_SEND = -50,  /* local: send beyond the window, after EOF, resend gap */
	SSM_FRAME_E_FLOW_GRANT = -51, /* local: ack/grant backwards or beyond what was received */
};

/* A string field: len bytes at p (inside the decoded buffer), not NUL-terminated. */
struct ssm_frame_str {
	const char *p;
	size_t len;
};

struct ssm_frame {
	uint8_t type;
	uint16_t flags;
	uint32_t channel;
	uint32_t stream;
	uint64_t offset;
	uint64_t value;
	union {
		struct {
			uint32_t features;
			uint8_t role;
			struct ssm_frame_str software;
		} hello;
		struct { /* GOAWAY, CLOSE */
			uint16_t code;
			struct ssm_frame_str reason;
		} close;
		struct {
			uint8_t kind;
			uint16_t cols, rows;
			struct ssm_frame_str sid, document, token, term;
		} open;
		struct {
			struct ssm_frame_str origin;
		} stream_open;
		struct {
			const uint8_t *p;
			size_t len;
		} data;
		struct {
			uint16_t cols, rows;
		} resize;
		struct {
			uint8_t how, status, reason;
			struct ssm_frame_str detail;
		} exit;
		struct {
			struct ssm_frame_str reason;
		} terminate;
		struct {
			uint64_t acked; /* with SSM_FRAME_F_ACKED */
		} resume;
	} u;
};

/* Decode one whole message.  0 and *f filled, or an SSM_FRAME_E_* code (then *f is zeroed).
 * f's pointers point into buf. */
int ssm_frame_decode(const uint8_t *buf, size_t len, struct ssm_frame *f);

/* Check the first bytes of a message as they arrive (at least the 32-byte header): version,
 * type and length.  0 and *ptotal the full message size, or an SSM_FRAME_E_* code. */
int ssm_frame_peek(const uint8_t *buf, size_t len, size_t *ptotal);

/* Encode f (checked by the same rules as decoding: only valid frames are written) into buf.
 * 0 and *plen the message size, SSM_FRAME_E_BUFFER, or the rule f breaks. */
int ssm_frame_encode(const struct ssm_frame *f, uint8_t *buf, size_t size, size_t *plen);

/* Write only the 32-byte header of a DATA frame of len payload bytes, for zero-copy sending:
 * the caller puts the payload right after it.  0 or the rule broken. */
int ssm_frame_data_header(uint8_t hdr[SSM_FRAME_HEADER], uint32_t channel, uint32_t stream,
                          uint64_t offset, size_t len);

/* Set s from a NUL-terminated string (NULL gives the empty string). */
struct ssm_frame_str ssm_frame_str(const char *s);
/* Copy a decoded string into dst as a C string, cut to size - 1 bytes (size > 0).  The codec
 * has already refused NUL and control characters in every text field. */
void ssm_frame_str_copy(char *dst, size_t size, const struct ssm_frame_str *s);

/* Names for logs: an error code's message, a type's name ("?" if unknown), a code's name. */
const char *ssm_frame_strerror(int err);
const char *ssm_frame_type_name(int type);
const char *ssm_frame_code_name(int code);

/* ---- flow control of one stream, both directions (docs/PROTOCOL.md section 5) ----
 * All counters are absolute byte offsets.  The ssm_flow_on_* functions check what the peer
 * sent (a negative result is a flow-control error: close the connection); the others check
 * what this side is about to do (a negative result is a bug in the caller). */
struct ssm_flow {
	/* this side sending */
	uint64_t send_next;  /* offset of the next byte to send (rewound by a RESUME) */
	uint64_t send_high;  /* end of everything ever sent: bytes acked..high are kept */
	uint64_t send_acked; /* the peer's cumulative ack: bytes below are freed */
	uint64_t send_limit; /* the peer's window: bytes below may be sent */
	uint64_t send_eof;   /* final offset once EOF was sent */
	/* this side receiving */
	uint64_t recv_next;  /* received offset: every byte below is in hand */
	uint64_t recv_acked; /* what this side last acknowledged */
	uint64_t recv_limit; /* what this side last granted */
	uint64_t recv_eof;   /* final offset once the peer's EOF arrived */
	unsigned flags;      /* SSM_FLOW_* */
};
#define SSM_FLOW_SENT_EOF 0x1u
#define SSM_FLOW_RECV_EOF 0x2u

/* Zero everything: nothing may be sent or received until the two inits below. */
void ssm_flow_init(struct ssm_flow *f);
/* Sending direction starts at base (ACCEPT's offset; 0 for sessions) with the peer's first
 * window limit (OPEN/STREAM_OPEN/ACCEPT value).  0, or SSM_FRAME_E_WINDOW/E_OFFSET. */
int ssm_flow_init_send(struct ssm_flow *f, uint64_t base, uint64_t limit);
/* Receiving direction starts at base with this side's first grant. */
int ssm_flow_init_recv(struct ssm_flow *f, uint64_t base, uint64_t limit);

/* How many bytes may be sent now (window room, 0 after EOF or when resending is due). */
uint64_t ssm_flow_send_room(const struct ssm_flow *f);
/* About to send a DATA frame of len new bytes: its offset in *poffset, next/high advance.
 * Only when next == high (nothing to resend); SSM_FRAME_E_FLOW_SEND beyond the window. */
int ssm_flow_send(struct ssm_flow *f, size_t len, uint64_t *poffset);
/* About to resend len bytes from next (after a RESUME): next advances, up to high. */
int ssm_flow_resend(struct ssm_flow *f, size_t len, uint64_t *poffset);
/* About to send EOF: its offset (high) in *poffset.  Only once everything was (re)sent. */
int ssm_flow_send_eof(struct ssm_flow *f, uint64_t *poffset);
/* The peer's ACK (offset ack, value limit): 0 and *pfreed how many bytes may be freed. */
int ssm_flow_on_ack(struct ssm_flow *f, uint64_t ack, uint64_t limit, uint64_t *pfreed);
/* The peer's RESUME (offset received, value limit): next rewinds to received; acked stays. */
int ssm_flow_on_resume(struct ssm_flow *f, uint64_t received, uint64_t limit);

/* The peer's DATA: 1 deliver the bytes (received advances), 0 a duplicate to drop, or a
 * flow-control error. */
int ssm_flow_on_data(struct ssm_flow *f, uint64_t offset, size_t len);
/* The peer's EOF: 1 new, 0 a duplicate, or a flow-control error. */
int ssm_flow_on_eof(struct ssm_flow *f, uint64_t offset);
/* This side acknowledges up to ack and grants up to limit (the next ACK or RESUME says
 * these): ack within recv_acked..recv_next, limit not backwards and at most 16 MiB beyond
 * ack.  SSM_FRAME_E_FLOW_GRANT otherwise. */
int ssm_flow_grant(struct ssm_flow *f, uint64_t ack, uint64_t limit);

#endif
