#!/usr/bin/env python3
# hostile_broker.py - a malicious broker for tests/channel_hostile_broker.sh (issue 8, "Hostile
# peers"): it accepts ssm-agent's connection with the real broker's certificate and key,
# completes the TLS and websocket handshakes and the HELLO/RESUME_DONE exchange exactly as
# ssm-broker does (docs/PROTOCOL.md sections 1, 2, 4), then sends one bad thing per
# connection: oversized, truncated, unknown, out-of-window and wrong-offset frames, frames for
# channels that are not its own, and so on.  For each case it writes one JSON line to the
# results file: what the agent answered (its GOAWAY or CLOSE code) and whether it closed the
# connection.  The agent reconnects by itself after each case.
#
#   hostile_broker.py ADDR PORT CERT KEY RESULTS [client|noresume]
#   hostile_broker.py BROKER_ADDR PORT HOST_CERT HOST_KEY RESULTS host CA
#
# With "client" it plays the broker to the users' client instead: it answers `ssm
# start-session`'s StartSession (HTTPS POST /v1/sessions) and then, on the client's websocket,
# accepts its OPEN and sends one bad thing per session.  With "noresume" it sends HELLO and
# never RESUME_DONE, and writes when the agent closed the connection.
#
# Only the standard library: ssl, socket, hashlib (the websocket accept key is SHA-1 by
# RFC 6455; no cryptography of our own).
import base64, hashlib, json, os, socket, ssl, struct, sys, time

ADDR, PORT, CERT, KEY, RESULTS = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HELLO, RESUME_DONE, PING, PONG, GOAWAY = 0x01, 0x02, 0x03, 0x04, 0x05
OPEN, ACCEPT, STREAM_OPEN, DATA, ACK, EOF, CLOSE = 0x10, 0x11, 0x12, 0x20, 0x21, 0x22, 0x23
RESIZE, EXIT, TERMINATE, RESUME = 0x24, 0x25, 0x26, 0x27
CODES = {0: "ok", 1: "protocol", 2: "flow", 3: "limit", 4: "unknown", 5: "refused", 6: "connect",
         7: "timeout", 8: "terminated", 9: "internal", 10: "shutdown", 11: "backlog"}


def frame(typ, ch=0, st=0, off=0, val=0, body=b"", version=1, flags=0, length=None):
    n = len(body) if length is None else length
    return struct.pack(">BBHIIIQQ", version, typ, flags, ch, st, n, off, val) + body


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


class Conn:
    def __init__(self, s):
        self.s = s
        self.buf = b""

    def recv_exact(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise EOFError
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        hdrs = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        if b"ssmsession.1" not in hdrs.get(b"sec-websocket-protocol", b""):
            raise ValueError("no ssmsession.1 subprotocol")
        acc = base64.b64encode(hashlib.sha1(hdrs[b"sec-websocket-key"] + GUID).digest())
        self.s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc +
                       b"\r\nSec-WebSocket-Protocol: ssmsession.1\r\n\r\n")

    def ws_send(self, payload, opcode=2):
        n = len(payload)
        if n < 126:
            h = struct.pack(">BB", 0x80 | opcode, n)
        elif n < 65536:
            h = struct.pack(">BBH", 0x80 | opcode, 126, n)
        else:
            h = struct.pack(">BBQ", 0x80 | opcode, 127, n)
        self.s.sendall(h + payload)

    def ws_recv(self):
        """one whole message: (opcode, payload); pings answered; close -> EOFError"""
        msg, op0 = b"", None
        while True:
            b0, b1 = self.recv_exact(2)
            op, fin, n = b0 & 0x0F, b0 & 0x80, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self.recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self.recv_exact(8))[0]
            mask = self.recv_exact(4) if b1 & 0x80 else b"\0\0\0\0"
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(self.recv_exact(n)))
            if op == 8:
                raise EOFError
            if op == 9:
                self.ws_send(data, 10)
                continue
            if op == 10:
                continue
            if op0 is None:
                op0 = op
            msg += data
            if fin:
                return op0, msg

    def recv_frame(self):
        op, m = self.ws_recv()
        if op != 2 or len(m) < 32:
            raise ValueError("agent sent a non-frame")
        v, typ, flags, ch, st, n, off, val = struct.unpack(">BBHIIIQQ", m[:32])
        return {"type": typ, "ch": ch, "st": st, "off": off, "val": val, "body": m[32:]}

    def send(self, f):
        self.ws_send(f)


def answer(c, until_type=None, seconds=8.0):
    """what the agent does next: the first GOAWAY or CLOSE (code), or the connection's end"""
    deadline = time.monotonic() + seconds
    got = {"closed": False}
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout
            c.s.settimeout(left)
            f = c.recv_frame()
            if f["type"] == PING:
                c.send(frame(PONG, val=f["val"]))
                continue
            if f["type"] in (GOAWAY, CLOSE) and "code" not in got:
                code = struct.unpack(">H", f["body"][:2])[0]
                got["code"] = CODES.get(code, str(code))
                got["frame"] = "GOAWAY" if f["type"] == GOAWAY else "CLOSE"
                got["ch"] = f["ch"]
                if f["type"] == CLOSE:
                    return got
                continue
            if until_type is not None and f["type"] == until_type:
                got["seen"] = f
                return got
    except (EOFError, ConnectionError, ssl.SSLError, OSError):
        got["closed"] = True
    except socket.timeout:
        got["timeout"] = True
    return got


def hello(c, role=2):
    f = c.recv_frame()
    if f["type"] != HELLO:
        raise ValueError("first frame not HELLO")
    # feature DOCUMENTS (0x1), as ssm-broker announces it: the agent then asks for documents
    c.send(frame(HELLO, body=struct.pack(">IBB", 1, role, 0) + string("hostile-broker")))


def up(c):
    hello(c)
    c.s.settimeout(10)
    while c.recv_frame()["type"] != RESUME_DONE:
        pass
    c.send(frame(RESUME_DONE))


def audit_channel(c):
    """wait for the agent's AUDIT OPEN (kind 3); its channel id"""
    c.s.settimeout(15)
    while True:
        f = c.recv_frame()
        if f["type"] == PING:
            c.send(frame(PONG, val=f["val"]))
        elif f["type"] == OPEN and f["body"][0] == 3:
            return f["ch"]


# each case: (name, what it does on an up link, expected answer)
def c_oversized(c):
    c.send(frame(DATA, ch=1, body=b"x" * 16385))


def c_truncated(c):
    c.send(frame(PING)[:20])


def c_length_mismatch(c):
    c.send(frame(GOAWAY, body=struct.pack(">H", 0) + string("bye"), length=40))


def c_unknown_type(c):
    c.send(frame(0x7F))


def c_bad_version(c):
    c.send(frame(PING, version=2))


def c_reserved_flags(c):
    c.send(frame(PING, flags=0x8000))


def c_text(c):
    c.ws_send(b"hello", opcode=1)


def c_data_never_opened(c):
    c.send(frame(DATA, ch=2, body=b"hi"))


def c_ack_never_opened(c):
    c.send(frame(ACK, ch=999999, off=0, val=65536))


def c_accept_not_theirs(c):
    c.send(frame(ACCEPT, ch=999997, val=65536))


def c_open_wrong_parity(c):
    body = struct.pack(">BBHH", 1, 0, 0, 0) + string("s-1") + string("Doc") + string("abc") + string("")
    c.send(frame(OPEN, ch=3, val=65536, body=body))


def c_open_bad_token(c):
    body = (struct.pack(">BBHH", 1, 0, 0, 0) + string("alice-0123456789abcdef0") +
            string("Cmd-Id") + string("not.a.token") + string(""))
    c.send(frame(OPEN, ch=2, val=65536, body=body))


def c_second_hello(c):
    c.send(frame(HELLO, body=struct.pack(">IBB", 0, 2, 0) + string("again")))


def c_goaway_retry_too_long(c):
    c.send(frame(GOAWAY, val=3600001, body=struct.pack(">H", 10) + string("later")))


def c_data_out_of_window(c):
    ch = audit_channel(c)
    c.send(frame(ACCEPT, ch=ch, off=0, val=1 << 20))
    c.send(frame(DATA, ch=ch, off=0, body=b"the broker never sends on an audit channel"))


def c_ack_beyond_sent(c):
    ch = audit_channel(c)
    c.send(frame(ACCEPT, ch=ch, off=0, val=1 << 20))
    c.send(frame(ACK, ch=ch, off=1 << 40, val=(1 << 40) + 65536))


def c_accept_window_too_large(c):
    ch = audit_channel(c)
    c.send(frame(ACCEPT, ch=ch, off=0, val=(16 << 20) + 1))


def c_accept_twice(c):
    ch = audit_channel(c)
    c.send(frame(ACCEPT, ch=ch, off=0, val=1 << 20))
    c.send(frame(ACCEPT, ch=ch, off=0, val=1 << 20))


def c_terminate_not_session(c):
    ch = audit_channel(c)
    c.send(frame(ACCEPT, ch=ch, off=0, val=1 << 20))
    c.send(frame(TERMINATE, ch=ch, body=string("no session here")))


def c_ping_flood(c):
    # 200 PINGs without reading a single PONG: the agent must not grow without bound
    for i in range(200):
        c.send(frame(PING, val=i + 1))


# ---- DOCUMENT channels: the broker opens a session whose token (unsigned: the agent reads
# its doc claim only to choose what to fetch) names document Hostile-Doc with a hash; the
# agent, which holds no copy, asks for it, and the broker abuses the answer.  Each case names
# another hash, so nothing a case leaves behind serves the next.
DOC_NAME = "Hostile-Doc"
PARKED_NAME = "Hostile-Parked"  # a good document, stored: not one of the refused ones
GOOD_DOC = (b'{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",'
            b' "properties": {"linux": {"commands": "echo HOSTILE-DOC-RAN"}}}\n')


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unsigned_token(sid, sha, name=DOC_NAME):
    head = {"alg": "EdDSA", "typ": "ssm-session+jwt", "kid": "k1"}
    claims = {"iss": "hostile", "aud": "x", "sub": "alice", "sid": sid, "jti": "j" * 16,
              "iat": int(time.time()), "exp": int(time.time()) + 60, "run_as": "ssmtu",
              "doc": {"name": name, "sha256": sha}}
    enc = lambda o: b64u(json.dumps(o, separators=(",", ":")).encode())
    return enc(head) + "." + enc(claims) + "." + b64u(b"\0" * 64)


def document_channel(c, sha, name=DOC_NAME):
    """a SESSION naming Hostile-Doc with hash sha; the agent's DOCUMENT OPEN (channel, grant)"""
    sid = "alice-" + sha[:20]
    body = (struct.pack(">BBHH", 1, 0, 0, 0) + string(sid) + string(name) +
            string(unsigned_token(sid, sha, name)) + string(""))
    c.send(frame(OPEN, ch=2, val=65536, body=body))
    c.s.settimeout(15)
    while True:
        f = c.recv_frame()
        if f["type"] == PING:
            c.send(frame(PONG, val=f["val"]))
        elif f["type"] == OPEN and f["body"][0] == 4:
            if f["body"][6:8] != b"\0\x40":
                raise ValueError("the agent's DOCUMENT OPEN names no hash")
            if f["body"][8:72].decode() != sha:
                # a fetch of an earlier case, sent again on this connection for the
                # resumption (PROTOCOL.md section 6): not this case's
                continue
            return f["ch"], f["val"]


def d_wrong_hash(c):
    ch, _ = document_channel(c, hashlib.sha256(b"wrong hash " + GOOD_DOC).hexdigest())
    c.send(frame(ACCEPT, ch=ch, val=0))
    c.send(frame(DATA, ch=ch, off=0, body=GOOD_DOC))
    c.send(frame(EOF, ch=ch, off=len(GOOD_DOC)))


def d_not_a_document(c):
    bad = b"#!/bin/sh\necho HOSTILE-DOC-RAN\n"
    ch, _ = document_channel(c, hashlib.sha256(bad).hexdigest())
    c.send(frame(ACCEPT, ch=ch, val=0))
    c.send(frame(DATA, ch=ch, off=0, body=bad))
    c.send(frame(EOF, ch=ch, off=len(bad)))


def d_beyond_grant(c):
    ch, grant = document_channel(c, hashlib.sha256(b"x" * 70000).hexdigest())
    c.send(frame(ACCEPT, ch=ch, val=0))
    off = 0
    while off <= grant:  # the grant in 16 KiB frames, then one byte more
        n = min(16384, grant + 1 - off)
        c.send(frame(DATA, ch=ch, off=off, body=b"x" * n))
        off += n


def d_accept_with_base(c):
    ch, _ = document_channel(c, hashlib.sha256(b"base " + GOOD_DOC).hexdigest())
    c.send(frame(ACCEPT, ch=ch, off=5, val=5))


def d_open_from_broker(c):
    sha = hashlib.sha256(GOOD_DOC).hexdigest()
    body = struct.pack(">BBHH", 4, 0, 0, 0) + string(sha) + string(DOC_NAME) + string("") + string("")
    c.send(frame(OPEN, ch=2, val=65536, body=body))


def d_terminate_parked(c):
    """TERMINATE for the session while its login waits for the document, then the document:
    the session ends (CLOSE terminated) and the document, stored, starts no login for it"""
    doc = GOOD_DOC.replace(b"HOSTILE-DOC-RAN", b"PARKED-DOC-RAN")
    ch, _ = document_channel(c, hashlib.sha256(doc).hexdigest(), PARKED_NAME)
    c.send(frame(TERMINATE, ch=2, body=string("terminated while it waits")))
    c.send(frame(ACCEPT, ch=ch, val=0))
    c.send(frame(DATA, ch=ch, off=0, body=doc))
    c.send(frame(EOF, ch=ch, off=len(doc)))
    got = answer(c)  # the session's CLOSE first
    if got.get("ch") != 2:
        got["code"] = "%s (channel %s)" % (got.get("code"), got.get("ch"))
        return got
    stored = answer(c)  # then the DOCUMENT channel's: ok once stored
    if stored.get("ch") != ch or stored.get("code") != "ok":
        got["code"] += " (the document: %s)" % stored.get("code", "no CLOSE")
    return got


def d_no_answer(c):
    document_channel(c, hashlib.sha256(b"never answered " + GOOD_DOC).hexdigest())
    return 20.0  # the agent gives up after 15 s


# ---- real tokens (signed with the broker's key, minted by the test: HOSTILE_TOKENS/NAME)
# sent in a SESSION OPEN: the agent passes each to PAM, which alone refuses it
TOKENS = os.environ.get("HOSTILE_TOKENS", "")


def token_open(c, ch, name):
    tok = open(os.path.join(TOKENS, name)).read().strip()
    part = tok.split(".")[1]
    sid = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["sid"]
    body = (struct.pack(">BBHH", 1, 0, 0, 0) + string(sid) + string("Cmd-Id") + string(tok) +
            string(""))
    c.send(frame(OPEN, ch=ch, val=65536, body=body))


def close_of(c, ch, seconds=20.0):
    """the agent's answer on channel ch: its CLOSE (code), or {"exit": True} at its EXIT;
    frames of other channels are answered as a broker would (ACK nothing, CLOSE after EXIT)"""
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return {"timeout": True}
            c.s.settimeout(left)
            f = c.recv_frame()
            if f["type"] == PING:
                c.send(frame(PONG, val=f["val"]))
            elif f["type"] == GOAWAY:
                return {"frame": "GOAWAY", "code": CODES.get(struct.unpack(">H", f["body"][:2])[0], "?")}
            elif f["ch"] == ch and f["type"] == CLOSE:
                return {"frame": "CLOSE", "code": CODES.get(struct.unpack(">H", f["body"][:2])[0], "?")}
            elif f["ch"] == ch and f["type"] == EXIT:
                return {"exit": True}
    except (EOFError, ConnectionError, ssl.SSLError, OSError):
        return {"closed": True}


def t_expired(c):
    token_open(c, 102, "expired")
    return close_of(c, 102)


def t_other_host(c):
    token_open(c, 104, "otherhost")
    return close_of(c, 104)


def t_replayed(c):
    token_open(c, 106, "replay")
    first = close_of(c, 106)
    if not first.get("exit"):
        return {"frame": "first use", "code": "not run: %r" % first}
    token_open(c, 108, "replay")
    return close_of(c, 108)


CASES = [
    ("DOCUMENT: bytes that do not have the hash asked for", d_wrong_hash, {"CLOSE refused"}),
    ("DOCUMENT: bytes with the right hash that are not a document", d_not_a_document, {"CLOSE refused"}),
    ("DOCUMENT: one byte beyond the agent's 64 KiB grant", d_beyond_grant, {"GOAWAY flow"}),
    ("DOCUMENT: an ACCEPT with a base offset", d_accept_with_base, {"GOAWAY protocol"}),
    ("DOCUMENT: an OPEN of a DOCUMENT by the broker", d_open_from_broker, {"GOAWAY protocol"}),
    ("DOCUMENT: no answer to the agent's OPEN", d_no_answer, {"CLOSE timeout"}),
    ("DOCUMENT: TERMINATE of a session waiting for its document, the document after",
     d_terminate_parked, {"CLOSE terminated"}),
    ("oversized frame (16385-byte DATA body)", c_oversized, {"GOAWAY protocol", "closed"}),
    ("truncated frame (20 of 32 header bytes)", c_truncated, {"GOAWAY protocol"}),
    ("length field beyond the message", c_length_mismatch, {"GOAWAY protocol"}),
    ("unknown frame type 0x7f", c_unknown_type, {"GOAWAY protocol"}),
    ("frame version 2", c_bad_version, {"GOAWAY protocol"}),
    ("reserved flag bits set", c_reserved_flags, {"GOAWAY protocol"}),
    ("a text message", c_text, {"GOAWAY protocol"}),
    ("DATA for a channel never opened", c_data_never_opened, {"GOAWAY protocol"}),
    ("ACK for a channel never opened", c_ack_never_opened, {"GOAWAY protocol"}),
    ("ACCEPT for a channel the agent never opened", c_accept_not_theirs, {"GOAWAY protocol"}),
    ("OPEN with the agent's (odd) channel parity", c_open_wrong_parity, {"GOAWAY protocol"}),
    ("a second HELLO", c_second_hello, {"GOAWAY protocol"}),
    ("GOAWAY retry hint over an hour", c_goaway_retry_too_long, {"GOAWAY protocol"}),
    ("DATA on a one-way AUDIT channel (out of window)", c_data_out_of_window, {"GOAWAY flow", "GOAWAY protocol"}),
    ("ACK beyond every byte sent (wrong offset)", c_ack_beyond_sent, {"GOAWAY flow", "GOAWAY protocol"}),
    ("ACCEPT granting more than 16 MiB", c_accept_window_too_large, {"GOAWAY protocol", "GOAWAY flow"}),
    ("a second ACCEPT of one channel", c_accept_twice, {"GOAWAY protocol"}),
    ("TERMINATE on an AUDIT channel", c_terminate_not_session, {"GOAWAY protocol"}),
    ("OPEN of a session with a forged token", c_open_bad_token, {"CLOSE refused"}),
    ("OPEN with a real token that expired", t_expired, {"CLOSE refused"}),
    ("OPEN with a real token for another host", t_other_host, {"CLOSE refused"}),
    ("OPEN with a real token used once already (a replay)", t_replayed, {"CLOSE refused"}),
    ("200 PINGs while never reading", c_ping_flood, {"GOAWAY protocol", "GOAWAY limit", "closed", "alive"}),
]


# ---- the client's side: one `ssm start-session` per case
SID = "alice-0123456789abcdef0"


def http_start_session(c, url):
    """answer the client's POST /v1/sessions with a session of our own"""
    while b"\r\n\r\n" not in c.buf:
        d = c.s.recv(4096)
        if not d:
            raise EOFError
        c.buf += d
    head, c.buf = c.buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"POST /v1/sessions "):
        raise ValueError("expected POST /v1/sessions, got %r" % head[:40])
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    c.recv_exact(n)
    body = json.dumps({"SessionId": SID, "TokenValue": "attach-secret", "StreamUrl": url,
                       "SessionType": "NonInteractiveCommands"}).encode()
    c.s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n" % len(body) + body)


def client_open(c):
    """HELLO, RESUME_DONE, then the client's OPEN: its channel id and window"""
    hello(c)
    c.s.settimeout(10)
    while c.recv_frame()["type"] != RESUME_DONE:
        pass
    c.send(frame(RESUME_DONE))
    while True:
        f = c.recv_frame()
        if f["type"] == OPEN:
            return f["ch"], f["val"]


def k_oversized(c, ch, win):
    c.send(frame(ACCEPT, ch=ch, val=65536))
    c.send(frame(DATA, ch=ch, body=b"x" * 16385))


def k_unknown_type(c, ch, win):
    c.send(frame(ACCEPT, ch=ch, val=65536))
    c.send(frame(0x6E, ch=ch))


def k_data_other_channel(c, ch, win):
    c.send(frame(ACCEPT, ch=ch, val=65536))
    c.send(frame(DATA, ch=ch + 2, body=b"not yours"))


def k_data_before_accept(c, ch, win):
    c.send(frame(DATA, ch=ch, body=b"before ACCEPT"))


def k_data_beyond_window(c, ch, win):
    c.send(frame(ACCEPT, ch=ch, val=65536))
    c.send(frame(DATA, ch=ch, off=win, body=b"past the window the client granted"))


def k_data_wrong_offset(c, ch, win):
    c.send(frame(ACCEPT, ch=ch, val=65536))
    c.send(frame(DATA, ch=ch, off=100, body=b"a gap before these bytes"))


def k_exit_bad_how(c, ch, win):
    c.send(frame(ACCEPT, ch=ch, val=65536))
    c.send(frame(EXIT, ch=ch, body=struct.pack(">BBBB", 9, 0, 1, 0) + string("")))


def k_exit_beyond_output(c, ch, win):
    c.send(frame(ACCEPT, ch=ch, val=65536))
    c.send(frame(EXIT, ch=ch, off=1 << 30, body=struct.pack(">BBBB", 1, 0, 1, 0) + string("")))


def k_close_escape(c, ch, win):
    # a reason with a terminal escape sequence: the codec refuses it, it is never printed
    c.send(frame(CLOSE, ch=ch, body=struct.pack(">H", 5) + string(b"\x1b]0;owned\x07\x1b[2J")))


def k_resize_from_broker(c, ch, win):
    c.send(frame(ACCEPT, ch=ch, val=65536))
    c.send(frame(RESIZE, ch=ch, body=struct.pack(">HH", 80, 24)))


def k_accept_huge_window(c, ch, win):
    c.send(frame(ACCEPT, ch=ch, val=(16 << 20) + 1))


def k_open_from_broker(c, ch, win):
    body = struct.pack(">BBHH", 1, 0, 0, 0) + string("s-1") + string("Doc") + string("") + string("")
    c.send(frame(OPEN, ch=2, val=65536, body=body))


CLIENT_CASES = [
    ("oversized frame", k_oversized, {"GOAWAY protocol", "closed"}),
    ("unknown frame type", k_unknown_type, {"GOAWAY protocol"}),
    ("DATA on a channel that is not the session's", k_data_other_channel, {"GOAWAY protocol"}),
    ("DATA before ACCEPT", k_data_before_accept, {"GOAWAY protocol", "GOAWAY flow"}),
    ("DATA beyond the client's window", k_data_beyond_window, {"GOAWAY flow"}),
    ("DATA at a wrong offset (a gap)", k_data_wrong_offset, {"GOAWAY protocol", "GOAWAY flow"}),
    ("EXIT with an unknown how", k_exit_bad_how, {"GOAWAY protocol"}),
    ("EXIT claiming output beyond the window", k_exit_beyond_output, {"GOAWAY flow"}),
    ("CLOSE whose reason holds a terminal escape", k_close_escape, {"GOAWAY protocol"}),
    ("RESIZE from the broker", k_resize_from_broker, {"GOAWAY protocol"}),
    ("ACCEPT granting more than 16 MiB", k_accept_huge_window, {"GOAWAY protocol"}),
    ("OPEN from the broker on the client link", k_open_from_broker, {"GOAWAY protocol", "CLOSE refused", "CLOSE protocol"}),
]


def play(out, cases, connect):
    """each case: connect() gives an up connection (and its case arguments), the case runs,
    and what the peer answered is one JSON line of results"""
    for name, fn, want in cases:
        res = {"case": name, "want": sorted(want)}
        c = None
        try:
            c, args = connect()
            try:
                secs = fn(c, *args)  # a case may ask to wait longer for the answer
            except socket.timeout:
                raise
            except (EOFError, ConnectionError, ssl.SSLError, OSError):
                # the peer hung up while the case was still sending (a flood cut short):
                # what it answered before, if anything, is lost with the connection
                secs = {"closed": True}
            # ... or have read the answer itself (a dict as answer() gives)
            got = secs if isinstance(secs, dict) else answer(
                c, seconds=secs if isinstance(secs, float) else 8.0)
            if "code" in got:
                res["got"] = got["frame"] + " " + got["code"]
            elif got.get("closed"):
                res["got"] = "closed"
            else:
                res["got"] = "alive"
        except Exception as e:  # the case could not even be played: a failure
            res["got"] = "error: %r" % e
        if c is not None:
            try:
                c.s.close()
            except OSError:
                pass
        res["ok"] = res["got"] in want
        out.write(json.dumps(res) + "\n")
        out.flush()
    out.write(json.dumps({"done": True}) + "\n")
    out.flush()


def main_client(ctx, ls, out):
    url = "wss://%s:%d/v1/client" % (ADDR, PORT)

    def connect():
        raw, _ = ls.accept()
        raw.settimeout(15)
        s1 = ctx.wrap_socket(raw, server_side=True)
        http_start_session(Conn(s1), url)
        s1.close()
        raw, _ = ls.accept()
        raw.settimeout(15)
        c = Conn(ctx.wrap_socket(raw, server_side=True))
        c.handshake()
        return c, client_open(c)

    play(out, CLIENT_CASES, connect)


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(CERT, KEY)
    ctx.set_alpn_protocols(["http/1.1"])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ADDR, PORT))
    ls.listen(4)
    print("hostile broker listening", flush=True)
    out = open(RESULTS, "a")
    if len(sys.argv) > 6 and sys.argv[6] == "client":
        main_client(ctx, ls, out)
        return
    if len(sys.argv) > 6 and sys.argv[6] == "noresume":
        # HELLO, then never RESUME_DONE: how long does the agent wait?
        raw, _ = ls.accept()
        raw.settimeout(15)
        c = Conn(ctx.wrap_socket(raw, server_side=True))
        c.handshake()
        hello(c)
        t0 = time.monotonic()
        got = answer(c, seconds=120.0)
        out.write(json.dumps({"case": "no RESUME_DONE", "closed": bool(got.get("closed")),
                              "after": round(time.monotonic() - t0, 1)}) + "\n")
        out.flush()
        return

    def connect():
        raw, _ = ls.accept()
        raw.settimeout(15)
        c = Conn(ctx.wrap_socket(raw, server_side=True))
        c.handshake()
        up(c)
        return c, ()

    play(out, CASES, connect)



# ---- a malicious host: the real broker's side is tested (ssm-broker), each case on a
# connection of its own made with the host's real certificate
class ClientConn(Conn):
    def ws_send(self, payload, opcode=2):
        # a client masks what it sends (RFC 6455 section 5.3)
        n = len(payload)
        mask = os.urandom(4)
        if n < 126:
            h = struct.pack(">BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            h = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            h = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, n)
        self.s.sendall(h + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))

    def client_handshake(self, host):
        key = base64.b64encode(os.urandom(16))
        self.s.sendall(b"GET /v1/agent HTTP/1.1\r\nHost: " + host.encode() +
                       b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                       b"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ssmsession.1\r\n\r\n")
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise EOFError
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ValueError("upgrade refused: %r" % head[:60])


def h_up(c):
    c.send(frame(HELLO, body=struct.pack(">IBB", 0, 1, 0) + string("hostile-host")))
    c.s.settimeout(10)
    f = c.recv_frame()
    if f["type"] != HELLO:
        raise ValueError("no HELLO from the broker")
    c.send(frame(RESUME_DONE))
    while c.recv_frame()["type"] != RESUME_DONE:
        pass


def t_open(kind, ch, sid, doc, token=""):
    return frame(OPEN, ch=ch, val=0, body=struct.pack(">BBHH", kind, 0, 0, 0) + string(sid) +
                 string(doc) + string(token) + string(""))


def t_doc(ch, sha, name, grant):
    return frame(OPEN, ch=ch, val=grant, body=struct.pack(">BBHH", 4, 0, 0, 0) + string(sha) +
                 string(name) + string("") + string(""))


HOST_CASES = [
    ("oversized frame", lambda c: c.send(frame(DATA, ch=1, body=b"x" * 16385)), {"GOAWAY protocol", "closed"}),
    ("truncated frame", lambda c: c.send(frame(PING)[:20]), {"GOAWAY protocol"}),
    ("unknown frame type", lambda c: c.send(frame(0x7F)), {"GOAWAY protocol"}),
    ("a text message", lambda c: c.ws_send(b"hello", opcode=1), {"GOAWAY protocol"}),
    ("DATA for a channel never opened", lambda c: c.send(frame(DATA, ch=1, body=b"hi")), {"GOAWAY protocol"}),
    ("ACCEPT for a channel the broker never opened", lambda c: c.send(frame(ACCEPT, ch=2, val=65536)), {"GOAWAY protocol"}),
    ("OPEN with the broker's (even) parity", lambda c: c.send(t_open(2, 2, "s-0123456789", "Doc-A")), {"GOAWAY protocol"}),
    ("a SESSION OPEN from a host", lambda c: c.send(t_open(1, 1, "alice-0123456789abcdef0", "Doc-A", "x.y.z")), {"GOAWAY protocol", "CLOSE refused", "CLOSE protocol"}),
    ("a transcript named ../../etc", lambda c: c.send(t_open(2, 1, "../../etc", "Doc-A")), {"GOAWAY protocol"}),
    ("EXIT from a host on a channel it opened", lambda c: (c.send(t_open(2, 1, "s-0123456789", "Doc-A")), c.send(frame(EXIT, ch=1, body=struct.pack(">BBBB", 1, 0, 1, 0) + string("")))), {"GOAWAY protocol"}),
    ("DATA beyond the broker's window", lambda c: (c.send(t_open(2, 1, "s-0123456789", "Doc-A")), c.send(frame(DATA, ch=1, off=(1 << 20) + 5, body=b"x"))), {"GOAWAY protocol", "GOAWAY flow"}),
    ("DOCUMENT for a version the broker does not hold", lambda c: c.send(t_doc(1, "0" * 64, "Cmd-Id", 65536)), {"CLOSE refused"}),
    ("DOCUMENT granting nothing (no size cap)", lambda c: c.send(t_doc(1, "0" * 64, "Cmd-Id", 0)), {"GOAWAY protocol"}),
    ("DOCUMENT naming ../../etc/passwd", lambda c: c.send(t_doc(1, "0" * 64, "../../etc/passwd", 65536)), {"GOAWAY protocol"}),
    ("2000 OPENs at once", lambda c: [c.send(t_open(3, 2 * i + 1, "audit.%d.flood" % i, "")) for i in range(2000)], {"GOAWAY protocol", "GOAWAY limit", "closed", "CLOSE limit"}),
]


def main_host(addr, port, cert, key, ca, out):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.check_hostname = False
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])

    def connect():
        raw = socket.create_connection((addr, port), timeout=15)
        c = ClientConn(ctx.wrap_socket(raw, server_hostname=addr))
        c.client_handshake(addr)
        h_up(c)
        return c, ()

    play(out, HOST_CASES, connect)


if len(sys.argv) > 6 and sys.argv[6] == "host":
    # hostile_broker.py ADDR PORT CERT KEY RESULTS host CA: the host's certificate and key
    main_host(ADDR, PORT, CERT, KEY, sys.argv[7], open(RESULTS, "a"))
    sys.exit(0)

main()
