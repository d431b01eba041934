#!/usr/bin/env python3
"""imds_emulator.py - a test fixture: the EC2 instance metadata service, IMDSv2 only.

    imds_emulator.py --listen ADDR:PORT --dir DIR [--mode normal|notoken|hang|garbage]
                     [--ready FILE]

PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1..21600) answers a fresh
token; every GET needs a live token in X-aws-ec2-metadata-token (else 401, as AWS answers an
IMDSv1 request when IMDSv2 is required).  It serves, read at each request:

    /latest/dynamic/instance-identity/document   DIR/document
    /latest/dynamic/instance-identity/pkcs7      DIR/pkcs7
    /latest/dynamic/instance-identity/rsa2048    DIR/rsa2048
    /latest/meta-data/instance-id                the document's instanceId

The test writes those files (signed with the openssl CLI by a key it made).  Modes for the
refusals: notoken (the token PUT is refused, 403), hang (connections are accepted and never
answered), garbage (the document is not JSON).  --ready FILE is written once listening.
"""
import argparse
import http.server
import json
import os
import secrets
import socket
import sys
import threading
import time

FILES = {
    "/latest/dynamic/instance-identity/document": "document",
    "/latest/dynamic/instance-identity/pkcs7": "pkcs7",
    "/latest/dynamic/instance-identity/rsa2048": "rsa2048",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mode", default="normal", choices=["normal", "notoken", "hang", "garbage"])
    ap.add_argument("--ready")
    a = ap.parse_args()
    addr, port = a.listen.rsplit(":", 1)
    tokens = {}
    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("imds: %s %s\n" % (self.address_string(), fmt % args))

        def answer(self, code, body=b"", ctype="text/plain"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def hang(self):
            while True:
                time.sleep(60)

        def do_PUT(self):
            if a.mode == "hang":
                self.hang()
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            if self.path != "/latest/api/token":
                return self.answer(404)
            if a.mode == "notoken":
                return self.answer(403)
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.answer(400)
            tok = secrets.token_urlsafe(40)
            with lock:
                tokens[tok] = time.monotonic() + int(ttl)
            self.answer(200, tok.encode())

        def do_GET(self):
            if a.mode == "hang":
                self.hang()
            tok = self.headers.get("X-aws-ec2-metadata-token", "")
            with lock:
                ok = tokens.get(tok, 0) > time.monotonic()
            if not ok:
                return self.answer(401)
            if self.path == "/latest/meta-data/instance-id":
                with open(os.path.join(a.dir, "document"), "rb") as f:
                    return self.answer(200, json.load(f)["instanceId"].encode())
            name = FILES.get(self.path)
            if name is None:
                return self.answer(404)
            if a.mode == "garbage" and name == "document":
                return self.answer(200, b"<html>not a document</html>")
            try:
                with open(os.path.join(a.dir, name), "rb") as f:
                    body = f.read()
            except FileNotFoundError:
                return self.answer(404)
            self.answer(200, body, "application/json" if name == "document" else "text/plain")

    class S(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        daemon_threads = True

    srv = S((addr.strip("[]"), int(port)), H)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("listening\n")
    srv.serve_forever()


if __name__ == "__main__":
    main()
