#!/usr/bin/python3
"""token_vectors.py - an independent maker of session-token test vectors (SPEC section 2).

Written against the SPEC with PyJWT and python3-cryptography only: none of the project's C
code is used, so that a bug shared by the signer and the verifier cannot hide.  Writes into
--out DIR:
  jwks.json              trusted keys (Ed25519 "ed1", P-256 "ec1" and "ec2")
  config.json            host configuration pointing at them
  documents/*.json       session documents (one invalid, one with an unsafe mode)
  vectors.json           {"now": N, "config": PATH, "rows": [{name, token, expect, user}]}
expect is "ok", "refused" (the token is not valid for this login) or "hostfault" (the
host's own files are at fault).  `now` is fixed (--now) so the C test uses the same clock.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import sys

try:
    import jwt  # PyJWT
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature, encode_dss_signature)
except ImportError as e:  # pragma: no cover
    print("token_vectors.py: needs python3-jwt and python3-cryptography: %s" % e,
          file=sys.stderr)
    sys.exit(77)

HOST_ID = "i-0123456789abcdef0"
ISSUER = "https://broker.test"
LEEWAY = 60
MAX_LIFE = 300
TYP = "ssm-session+jwt"
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_b64u(n, size=32):
    return b64u(n.to_bytes(size, "big"))


class Keys:
    def __init__(self):
        self.ed1 = ed25519.Ed25519PrivateKey.generate()
        self.ed_other = ed25519.Ed25519PrivateKey.generate()  # not trusted
        self.ec1 = ec.generate_private_key(ec.SECP256R1())
        self.ec2 = ec.generate_private_key(ec.SECP256R1())

    def jwks(self):
        def okp(kid, k):
            raw = k.public_key().public_bytes(serialization.Encoding.Raw,
                                              serialization.PublicFormat.Raw)
            return {"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64u(raw)}

        def ecj(kid, k):
            nums = k.public_key().public_numbers()
            return {"kty": "EC", "crv": "P-256", "kid": kid, "x": int_b64u(nums.x),
                    "y": int_b64u(nums.y)}
        return {"keys": [okp("ed1", self.ed1), ecj("ec1", self.ec1), ecj("ec2", self.ec2)]}


def sign_bytes(si, alg, key):
    """Signature over the signing input bytes, as the SPEC wants it (raw R||S for ES256)."""
    if alg in ("EdDSA", "Ed25519"):
        return key.sign(si)
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(si, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise ValueError(alg)


def raw_token(header, payload, alg, key, sig=None):
    """header/payload: bytes (exact JSON text, crafted by hand) or dicts."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":")).encode()
    if isinstance(payload, dict):
        payload = json.dumps(payload, separators=(",", ":")).encode()
    si = (b64u(header) + "." + b64u(payload)).encode()
    if sig is None:
        sig = sign_bytes(si, alg, key)
    return si.decode() + "." + b64u(sig)


def doc_bytes(d):
    return (json.dumps(d, indent=2) + "\n").encode()


DOCS = {
    "SSM-SessionManagerRunShell": doc_bytes({
        "schemaVersion": "1.0", "description": "Document to hold regional settings",
        "sessionType": "Standard_Stream",
        "inputs": {"s3BucketName": "", "runAsEnabled": True, "runAsDefaultUser": "",
                   "idleSessionTimeout": "20", "maxSessionDuration": "",
                   "shellProfile": {"windows": "", "linux": ""}}}),
    "AWS-StartInteractiveCommand": doc_bytes({
        "schemaVersion": "1.0", "description": "Run one interactive command",
        "sessionType": "InteractiveCommands",
        "parameters": {"command": {"type": "String", "description": "The command"}},
        "properties": {"linux": {"commands": "{{command}}", "runAsElevated": False}}}),
    "Svc-Control": doc_bytes({
        "schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
        "parameters": {
            "action": {"type": "String", "allowedValues": ["start", "stop", "status"]},
            "unit": {"type": "String", "allowedPattern": "^[a-z0-9-]{1,32}$",
                     "default": "nginx"}},
        "properties": {"linux": {"commands": "systemctl {{ action }} {{ unit }}"}}}),
    "AWS-StartPortForwardingSession": doc_bytes({
        "schemaVersion": "1.0", "sessionType": "Port",
        "parameters": {"portNumber": {
            "type": "String", "default": "80",
            "allowedPattern": "^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|"
                              "65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"}},
        "properties": {"portNumber": "{{ portNumber }}", "type": "LocalPortForwarding"}}),
    # exists, hash matches, but it is not a valid document: the host's fault
    "Broken-Doc": b'{"schemaVersion": "1.0", "sessionType": "Standard_Stream"',
    # valid, but world-writable: anyone could have changed it; the host's fault
    "Unsafe-Doc": doc_bytes({"schemaVersion": "1.0", "sessionType": "Standard_Stream"}),
}


def sha(name):
    return hashlib.sha256(DOCS[name]).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--now", type=int, default=1790000000)
    args = ap.parse_args()
    now = args.now
    out = os.path.abspath(args.out)
    os.umask(0o022)
    os.makedirs(os.path.join(out, "documents"), exist_ok=True)
    keys = Keys()

    with open(os.path.join(out, "jwks.json"), "w") as f:
        json.dump(keys.jwks(), f, indent=1)
    for name, data in DOCS.items():
        p = os.path.join(out, "documents", name + ".json")
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o666 if name == "Unsafe-Doc" else 0o644)
    cfg = {"host_id": HOST_ID, "issuer": ISSUER,
           "trusted_keys": os.path.join(out, "jwks.json"),
           "max_token_lifetime": MAX_LIFE, "leeway": LEEWAY,
           "documents_dir": os.path.join(out, "documents"),
           "allowed_documents": ["*"], "run_as_allowed": ["ssm-user"],
           "state_dir": os.path.join(out, "state"), "run_dir": os.path.join(out, "run"),
           "log_dir": os.path.join(out, "log")}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)

    rows = []

    def row(name, token, expect, user="ssm-user"):
        rows.append({"name": name, "token": token, "expect": expect, "user": user})

    def claims(**over):
        c = {"iss": ISSUER, "aud": HOST_ID, "sub": "alice@example.com",
             "sid": "alice@example.com-0a1b2c3d4e5f", "jti": "jti-" + os.urandom(12).hex(),
             "iat": now - 10, "exp": now + 200, "run_as": "ssm-user",
             "doc": {"name": "SSM-SessionManagerRunShell",
                     "sha256": sha("SSM-SessionManagerRunShell")}}
        for k, v in over.items():
            if v is DROP:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def hdr(alg="EdDSA", kid="ed1", **over):
        h = {"alg": alg, "typ": TYP, "kid": kid}
        h.update(over)
        return {k: v for k, v in h.items() if v is not DROP}

    def ed(c=None, h=None):
        return raw_token(h or hdr(), c or claims(), "EdDSA", keys.ed1)

    def es(c=None, h=None, key=None):
        return raw_token(h or hdr("ES256", "ec1"), c or claims(), "ES256", key or keys.ec1)

    # ---- good tokens, made with PyJWT (an unrelated implementation) ----
    row("ok EdDSA via PyJWT",
        jwt.encode(claims(), keys.ed1, algorithm="EdDSA", headers={"kid": "ed1", "typ": TYP}),
        "ok")
    row("ok ES256 via PyJWT",
        jwt.encode(claims(), keys.ec1, algorithm="ES256", headers={"kid": "ec1", "typ": TYP}),
        "ok")
    row("ok ES256 second key (rotation)",
        jwt.encode(claims(), keys.ec2, algorithm="ES256", headers={"kid": "ec2", "typ": TYP}),
        "ok")
    row("ok alg Ed25519 (fully specified, RFC 9864)", ed(h=hdr("Ed25519")), "ok")
    row("ok aud array with other hosts", ed(claims(aud=["i-0fff", HOST_ID, "mi-1"])), "ok")
    row("ok extra claims and header members ignored",
        ed(claims(foo={"bar": [1, 2]}, amr=["mfa"]), hdr(x5t_ignored="x", zzz=1)), "ok")
    row("ok user NULL uses run_as", ed(), "ok", None)
    row("ok params for AWS-StartInteractiveCommand",
        ed(claims(doc={"name": "AWS-StartInteractiveCommand",
                       "sha256": sha("AWS-StartInteractiveCommand")},
                  params={"command": ["top -b -n 1; $(id) `id` ' \" \\"]})), "ok")
    row("ok params allowedValues + default",
        ed(claims(doc={"name": "Svc-Control", "sha256": sha("Svc-Control")},
                  params={"action": ["status"]})), "ok")
    row("ok port document with default",
        ed(claims(doc={"name": "AWS-StartPortForwardingSession",
                       "sha256": sha("AWS-StartPortForwardingSession")})), "ok")
    row("ok sub 64, sid suffix 32, jti 128 (max lengths)",
        ed(claims(sub="a" * 64, sid="a" * 64 + "-" + "z9" * 16, jti="J_-" * 42 + "ab")), "ok")
    row("ok sub with all allowed punctuation",
        ed(claims(sub="A_b+c=d,e.f@g-h", sid="A_b+c=d,e.f@g-h-abcdefgh", jti="x" * 16)), "ok")

    # ---- time edges (leeway 60, max lifetime 300) ----
    row("ok iat = now + leeway", ed(claims(iat=now + LEEWAY, exp=now + LEEWAY + 100)), "ok")
    row("refused iat = now + leeway + 1",
        ed(claims(iat=now + LEEWAY + 1, exp=now + LEEWAY + 101)), "refused")
    row("ok nbf = now + leeway", ed(claims(nbf=now + LEEWAY)), "ok")
    row("refused nbf = now + leeway + 1", ed(claims(nbf=now + LEEWAY + 1)), "refused")
    row("ok nbf in the past", ed(claims(nbf=now - 100)), "ok")
    row("ok exp + leeway - 1 = now",
        ed(claims(iat=now - LEEWAY - 50, exp=now - LEEWAY + 1)), "ok")
    row("refused exp + leeway = now (expired)",
        ed(claims(iat=now - LEEWAY - 50, exp=now - LEEWAY)), "refused")
    row("refused long expired", ed(claims(iat=now - 10000, exp=now - 9800)), "refused")
    row("refused exp - iat = 0", ed(claims(iat=now, exp=now)), "refused")
    row("refused exp before iat", ed(claims(iat=now, exp=now - 1)), "refused")
    row("ok exp - iat = max_token_lifetime", ed(claims(iat=now - 10, exp=now - 10 + MAX_LIFE)),
        "ok")
    row("refused exp - iat = max + 1", ed(claims(iat=now - 10, exp=now - 10 + MAX_LIFE + 1)),
        "refused")
    row("refused iat missing", ed(claims(iat=DROP)), "refused")
    row("refused exp missing", ed(claims(exp=DROP)), "refused")
    row("refused iat as string", ed(claims(iat=str(now - 10))), "refused")
    row("refused exp fractional", ed(claims(exp=now + 100.5)), "refused")
    row("refused nbf fractional", ed(claims(nbf=now - 0.5)), "refused")
    row("refused nbf as string", ed(claims(nbf="0")), "refused")
    row("refused exp huge 1e300 (out of int64)", ed(claims(exp=1e300)), "refused")
    row("refused exp 2^63 (one past int64)", ed(claims(exp=2 ** 63)), "refused")
    row("refused iat -2^63 with exp near it (overflow in exp - iat)",
        ed(claims(iat=-2 ** 63, exp=now + 100)), "refused")
    row("refused exp = 2^63 - 1024 (largest int64 double; lifetime)",
        ed(claims(iat=now, exp=2 ** 63 - 1024)), "refused")
    row("refused nbf -2^63 (nbf - leeway overflows)", ed(claims(nbf=-2 ** 63)), "refused")
    row("refused iat as boolean", ed(claims(iat=True)), "refused")
    row("refused exp null", ed(claims(exp=None)), "refused")

    # ---- alg attacks, all refused before any cryptography ----
    good_c = claims()
    for alg in ("none", "None", "NONE", "nOnE"):
        row("refused alg %s, empty signature" % alg,
            raw_token(hdr(alg), good_c, None, None, sig=b""), "refused")
    row("refused alg none with a real EdDSA signature appended",
        raw_token(hdr("none"), good_c, None, None,
                  sig=keys.ed1.sign((b64u(json.dumps(hdr("none"))) + ".x").encode())), "refused")
    pub_raw = keys.ed1.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)
    pub_pem = keys.ed1.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    for label, secret in (("raw public key bytes", pub_raw), ("public key PEM", pub_pem),
                          ("JWKS text", json.dumps(keys.jwks()).encode()),
                          ("x member text", b64u(pub_raw).encode())):
        h = hdr("HS256")
        si = (b64u(json.dumps(h)) + "." + b64u(json.dumps(good_c))).encode()
        row("refused HS256 with the %s as HMAC secret" % label,
            si.decode() + "." + b64u(hmac.new(secret, si, hashlib.sha256).digest()), "refused")
    for alg in ("RS256", "PS256", "ES384", "ES256K", "EdDSA ", "eddsa", "ed25519", "EDDSA",
                "Ed448", "HS512"):
        row("refused alg %r" % alg, raw_token(hdr(alg), good_c, "EdDSA", keys.ed1), "refused")
    row("refused alg missing", raw_token(hdr(alg=DROP), good_c, "EdDSA", keys.ed1), "refused")
    row("refused alg as array",
        raw_token(hdr(alg=["EdDSA"]), good_c, "EdDSA", keys.ed1), "refused")
    row("refused alg ES256 naming an Ed25519 key (kty mismatch)",
        raw_token(hdr("ES256", "ed1"), good_c, "ES256", keys.ec1), "refused")
    row("refused alg EdDSA naming a P-256 key (kty mismatch)",
        raw_token(hdr("EdDSA", "ec1"), good_c, "EdDSA", keys.ed1), "refused")
    row("refused signed by an untrusted key claiming kid ed1",
        raw_token(hdr(), good_c, "EdDSA", keys.ed_other), "refused")
    row("refused ES256 signed by ec2 claiming kid ec1", es(key=keys.ec2), "refused")
    row("refused unknown kid", raw_token(hdr(kid="nope"), good_c, "EdDSA", keys.ed1), "refused")
    row("refused kid missing", raw_token(hdr(kid=DROP), good_c, "EdDSA", keys.ed1), "refused")
    row("refused kid empty", raw_token(hdr(kid=""), good_c, "EdDSA", keys.ed1), "refused")
    row("refused kid path ../ed1", raw_token(hdr(kid="../ed1"), good_c, "EdDSA", keys.ed1),
        "refused")
    row("refused kid 65 chars", raw_token(hdr(kid="k" * 65), good_c, "EdDSA", keys.ed1),
        "refused")
    row("refused kid as number", raw_token(hdr(kid=1), good_c, "EdDSA", keys.ed1), "refused")
    row("refused kid case variant ED1", raw_token(hdr(kid="ED1"), good_c, "EdDSA", keys.ed1),
        "refused")

    # ES256 signature encodings
    h = hdr("ES256", "ec1")
    si = (b64u(json.dumps(h)) + "." + b64u(json.dumps(good_c))).encode()
    der = keys.ec1.sign(si, ec.ECDSA(hashes.SHA256()))
    r_, s_ = decode_dss_signature(der)
    row("refused ES256 DER signature", si.decode() + "." + b64u(der), "refused")
    row("refused ES256 signature 63 bytes",
        si.decode() + "." + b64u((r_.to_bytes(32, "big") + s_.to_bytes(32, "big"))[:63]),
        "refused")
    row("refused ES256 signature 65 bytes",
        si.decode() + "." + b64u(r_.to_bytes(32, "big") + s_.to_bytes(32, "big") + b"\0"),
        "refused")
    row("refused ES256 r = s = 0 (psychic signature)", si.decode() + "." + b64u(b"\0" * 64),
        "refused")
    row("refused ES256 r = n", si.decode() + "." + b64u(P256_N.to_bytes(32, "big") +
                                                         s_.to_bytes(32, "big")), "refused")
    row("refused ES256 s + n does not fit (s = n)",
        si.decode() + "." + b64u(r_.to_bytes(32, "big") + P256_N.to_bytes(32, "big")),
        "refused")
    row("refused EdDSA signature 63 bytes",
        raw_token(hdr(), good_c, None, None, sig=b"\1" * 63), "refused")
    row("refused EdDSA signature all zero", raw_token(hdr(), good_c, None, None, sig=b"\0" * 64),
        "refused")

    # forbidden header members: keys never come from the token, no extension is understood
    ed_jwk = keys.jwks()["keys"][0]
    for member, val in (("crit", ["exp"]), ("jku", "https://evil.example/jwks"),
                        ("jwk", ed_jwk), ("x5u", "https://evil.example/x5u"),
                        ("x5c", ["MIIB"]), ("cty", "JWT"), ("b64", False),
                        ("crit", []), ("b64", True)):
        row("refused header %s=%s" % (member, json.dumps(val)[:30]),
            raw_token(hdr(**{member: val}), good_c, "EdDSA", keys.ed1), "refused")
    row("refused typ missing", raw_token(hdr(typ=DROP), good_c, "EdDSA", keys.ed1), "refused")
    for typ in ("JWT", "ssm-session+JWT", "application/ssm-session+jwt", "ssm-session+jwt ",
                "at+jwt"):
        row("refused typ %r" % typ, raw_token(hdr(typ=typ), good_c, "EdDSA", keys.ed1),
            "refused")

    # duplicate members: two parsers could disagree on which one counts
    hb = b'{"alg":"EdDSA","typ":"ssm-session+jwt","kid":"ed1","alg":"none"}'
    row("refused duplicate alg in header (EdDSA then none)",
        raw_token(hb, good_c, "EdDSA", keys.ed1), "refused")
    hb = b'{"alg":"none","typ":"ssm-session+jwt","kid":"ed1","alg":"EdDSA"}'
    row("refused duplicate alg in header (none then EdDSA)",
        raw_token(hb, good_c, "EdDSA", keys.ed1), "refused")
    hb = b'{"alg":"EdDSA","typ":"ssm-session+jwt","kid":"nope","kid":"ed1"}'
    row("refused duplicate kid in header", raw_token(hb, good_c, "EdDSA", keys.ed1), "refused")
    base = json.dumps(claims(), separators=(",", ":"))
    for member, val in (("aud", '"i-0ffffffffffffffff"'), ("run_as", '"root"'),
                        ("exp", str(now + 100000)), ("iss", '"https://evil"')):
        pb = (base[:-1] + ',"%s":%s}' % (member, val)).encode()
        row("refused duplicate %s in claims" % member, raw_token(hdr(), pb, "EdDSA", keys.ed1),
            "refused")
    pb = (base[:-1] + ',"doc":{"name":"Svc-Control","name":"Svc-Control","sha256":"%s"}}'
          % sha("Svc-Control")).encode()
    row("refused duplicate member in nested doc",
        raw_token(hdr(), pb.replace(b'"doc":{"name":"SSM', b'"dxc":{"name":"SSM'), "EdDSA",
                  keys.ed1), "refused")

    # JSON-level hostility in header/claims
    hb = json.dumps(hdr(), separators=(",", ":")).encode()
    row("refused header trailing garbage", raw_token(hb + b"x", good_c, "EdDSA", keys.ed1),
        "refused")
    row("refused claims followed by a second object",
        raw_token(hdr(), base.encode() + b"{}", "EdDSA", keys.ed1), "refused")
    row("ok claims with trailing white space",
        raw_token(hdr(), base.encode() + b" \n", "EdDSA", keys.ed1), "ok")
    row("refused claims is an array", raw_token(hdr(), b"[" + base.encode() + b"]", "EdDSA",
                                                keys.ed1), "refused")
    row("refused claims null", raw_token(hdr(), b"null", "EdDSA", keys.ed1), "refused")
    row("refused header is a string", raw_token(b'"EdDSA"', good_c, "EdDSA", keys.ed1),
        "refused")
    row("refused NUL escape in sub",
        raw_token(hdr(), base.replace('"sub":"alice@example.com"',
                                      '"sub":"alice@example.com\\u0000x"').encode(), "EdDSA",
                  keys.ed1), "refused")
    row("refused control character escape in an extra claim",
        raw_token(hdr(), (base[:-1] + ',"note":"a\\u001bb"}').encode(), "EdDSA", keys.ed1),
        "refused")
    row("refused raw control byte in a string",
        raw_token(hdr(), (base[:-1] + ',"note":"a\x01b"}').encode(), "EdDSA", keys.ed1),
        "refused")
    row("refused invalid UTF-8 in claims",
        raw_token(hdr(), base[:-1].encode() + b',"note":"\xff\xfe"}', "EdDSA", keys.ed1),
        "refused")
    row("refused lone surrogate escape",
        raw_token(hdr(), (base[:-1] + ',"note":"\\ud800"}').encode(), "EdDSA", keys.ed1),
        "refused")
    row("refused UTF-8 BOM before the header",
        raw_token(b"\xef\xbb\xbf" + hb, good_c, "EdDSA", keys.ed1), "refused")
    deep = "[" * 200 + "]" * 200
    row("refused deep nesting (200) in an extra claim",
        raw_token(hdr(), (base[:-1] + ',"deep":%s}' % deep).encode(), "EdDSA", keys.ed1),
        "refused")
    deep = '{"a":' * 40 + "1" + "}" * 40
    row("refused deep object nesting (40) in header",
        raw_token(hb[:-1] + b',"deep":' + deep.encode() + b"}", good_c, "EdDSA", keys.ed1),
        "refused")
    row("refused claim names are case-sensitive (EXP instead of exp)",
        ed({k.upper() if k == "exp" else k: v for k, v in claims().items()}), "refused")

    # ---- base64url and structure ----
    tok = ed()
    hpart, ppart, spart = tok.split(".")
    row("refused '=' padding on the signature", tok + "==", "refused")
    row("refused '=' padding on the payload",
        hpart + "." + ppart + "=" * ((-len(ppart)) % 4 or 4) + "." + spart, "refused")
    # 64-byte signature -> 86 characters, the last one carries 4 unused bits
    last = spart[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    noncanon = alphabet[alphabet.index(last) | 1]
    row("refused non-canonical last character of the signature",
        hpart + "." + ppart + "." + spart[:-1] + noncanon, "refused")
    # a token whose parts contain - or _ turned into + and /
    for _ in range(200):
        t2 = ed()
        if "-" in t2 or "_" in t2:
            break
    row("refused standard base64 alphabet ('+' '/')",
        t2.replace("-", "+").replace("_", "/"), "refused")
    row("refused space inside the payload", hpart + "." + ppart[:5] + " " + ppart[5:] + "." +
        spart, "refused")
    row("refused trailing newline", tok + "\n", "refused")
    row("refused leading space", " " + tok, "refused")
    row("refused tab before the signature", hpart + "." + ppart + ".\t" + spart, "refused")
    row("refused CRLF inside the header", hpart[:4] + "\r\n" + hpart[4:] + "." + ppart + "." +
        spart, "refused")
    row("refused part length 1 mod 4", tok + "AAA", "refused")
    row("refused 2 parts", hpart + "." + ppart, "refused")
    row("refused 4 parts", tok + ".", "refused")
    row("refused 5 parts (JWE shape)", tok + ".AAAA.BBBB", "refused")
    row("refused trailing garbage after the signature", tok + "!!", "refused")
    row("refused empty token", "", "refused")
    row("refused only dots", "..", "refused")
    row("refused empty signature", hpart + "." + ppart + ".", "refused")
    row("refused signature of another token (payload swapped)",
        hpart + "." + ed().split(".")[1] + "." + spart, "refused")
    # the signature covers the received bytes, never a re-encoding
    reenc = b64u(json.dumps(hdr(), indent=1))
    row("refused header re-encoded with other white space, same signature",
        reenc + "." + ppart + "." + spart, "refused")
    row("refused payload bit flipped", hpart + "." + ppart[:-2] +
        alphabet[(alphabet.index(ppart[-2]) + 1) % 64] + ppart[-1] + "." + spart, "refused")
    # length limits
    found = {}
    for filler in range(4):  # header filler shifts the lengths a payload alone cannot reach
        for pad in range(2400, 3000):
            t = ed(claims(pad="p" * pad), hdr(f="f" * filler))
            if len(t) in (4096, 4097) and len(t) not in found:
                found[len(t)] = t
    # both boundary rows must exist: a silently missing one would test nothing
    if 4096 not in found or 4097 not in found:
        sys.exit("token_vectors.py: no 4096/4097-byte token found (lengths %s)" % sorted(found))
    row("ok token of exactly 4096 bytes", found[4096], "ok")
    row("refused token of 4097 bytes", found[4097], "refused")
    row("refused token of 20000 bytes (validly signed)", ed(claims(pad="p" * 15000)), "refused")

    # ---- claims ----
    for label, c in (
            ("iss wrong", claims(iss="https://evil.test")),
            ("iss case differs", claims(iss=ISSUER.upper())),
            ("iss with trailing slash", claims(iss=ISSUER + "/")),
            ("iss missing", claims(iss=DROP)),
            ("iss number", claims(iss=1)),
            ("aud other host", claims(aud="i-0ffffffffffffffff")),
            ("aud case variant", claims(aud=HOST_ID.upper())),
            ("aud empty array", claims(aud=[])),
            ("aud array of non-strings", claims(aud=[1, 2])),
            ("aud array with host and a number", claims(aud=[HOST_ID, 1])),
            ("aud array of arrays", claims(aud=[[HOST_ID]])),
            ("aud missing", claims(aud=DROP)),
            ("aud null", claims(aud=None)),
            ("aud object", claims(aud={"host": HOST_ID})),
            ("aud prefix of host id", claims(aud=HOST_ID[:-1])),
            ("sub empty", claims(sub="", sid="-abcdefgh")),
            ("sub 65 chars", claims(sub="a" * 65, sid="a" * 65 + "-abcdefgh")),
            ("sub with space", claims(sub="a b", sid="a b-abcdefgh")),
            ("sub with slash", claims(sub="a/b", sid="a/b-abcdefgh")),
            ("sub non-ASCII", claims(sub="al\u00efce", sid="al\u00efce-abcdefgh")),
            ("sub missing", claims(sub=DROP)),
            ("sid for another sub", claims(sid="bob@example.com-0a1b2c3d4e5f")),
            ("sid sub-prefix trick", claims(sub="alice", sid="alice2-abcdefgh")),
            ("sid suffix 7 chars", claims(sid="alice@example.com-abcdefg")),
            ("sid suffix 33 chars", claims(sid="alice@example.com-" + "a" * 33)),
            ("sid suffix uppercase", claims(sid="alice@example.com-ABCDEFGH")),
            ("sid missing", claims(sid=DROP)),
            ("jti 15 chars", claims(jti="a" * 15)),
            ("jti 129 chars", claims(jti="a" * 129)),
            ("jti with dot", claims(jti="abcdefgh.ijklmnop")),
            ("jti with padding", claims(jti="abcdefghijklmnop==")),
            ("jti number", claims(jti=1234567890123456789)),
            ("jti missing", claims(jti=DROP)),
            ("run_as missing", claims(run_as=DROP)),
            ("run_as number", claims(run_as=0)),
            ("run_as with trailing space", claims(run_as="ssm-user ")),
            ("doc missing", claims(doc=DROP)),
            ("doc string", claims(doc="SSM-SessionManagerRunShell")),
            ("doc name missing", claims(doc={"sha256": sha("SSM-SessionManagerRunShell")})),
            ("doc sha256 missing", claims(doc={"name": "SSM-SessionManagerRunShell"})),
            ("doc sha256 mismatch", claims(doc={"name": "SSM-SessionManagerRunShell",
                                                "sha256": sha("Svc-Control")})),
            ("doc sha256 uppercase hex", claims(doc={"name": "SSM-SessionManagerRunShell",
                                                     "sha256": sha(
                                                         "SSM-SessionManagerRunShell").upper()})),
            ("doc sha256 63 digits", claims(doc={"name": "SSM-SessionManagerRunShell",
                                                 "sha256": sha("Svc-Control")[:63]})),
            ("doc name ../x", claims(doc={"name": "../x", "sha256": "0" * 64})),
            ("doc name a/b", claims(doc={"name": "a/b", "sha256": "0" * 64})),
            ("doc name with path to a real document",
             claims(doc={"name": "../documents/Svc-Control", "sha256": sha("Svc-Control")})),
            ("doc name too short", claims(doc={"name": "ab", "sha256": "0" * 64})),
            ("doc name not held by this host", claims(doc={"name": "Other-Doc",
                                                           "sha256": "0" * 64})),
            ("params not an object", claims(params=["x"])),
            ("params value not an array", claims(
                doc={"name": "Svc-Control", "sha256": sha("Svc-Control")},
                params={"action": "start"})),
            ("params array of numbers", claims(
                doc={"name": "Svc-Control", "sha256": sha("Svc-Control")},
                params={"action": [1]})),
            ("params unknown parameter", claims(
                doc={"name": "Svc-Control", "sha256": sha("Svc-Control")},
                params={"action": ["start"], "extra": ["x"]})),
            ("params value not in allowedValues", claims(
                doc={"name": "Svc-Control", "sha256": sha("Svc-Control")},
                params={"action": ["restart"]})),
            ("params value fails allowedPattern", claims(
                doc={"name": "Svc-Control", "sha256": sha("Svc-Control")},
                params={"action": ["start"], "unit": ["nginx; id"]})),
            ("params missing without default", claims(
                doc={"name": "AWS-StartInteractiveCommand",
                     "sha256": sha("AWS-StartInteractiveCommand")})),
            ("params two values for a String", claims(
                doc={"name": "Svc-Control", "sha256": sha("Svc-Control")},
                params={"action": ["start", "stop"]})),
            ("params port out of range", claims(
                doc={"name": "AWS-StartPortForwardingSession",
                     "sha256": sha("AWS-StartPortForwardingSession")},
                params={"portNumber": ["70000"]})),
            ("params for a document without parameters", claims(params={"x": ["1"]})),
            ("params with a C1 control (NEL)", claims(
                doc={"name": "AWS-StartInteractiveCommand",
                     "sha256": sha("AWS-StartInteractiveCommand")},
                params={"command": ["id\u0085whoami"]})),
    ):
        row("refused " + label, ed(c), "refused")
    row("refused run_as differs from the login user", ed(), "refused", "alice")
    row("refused run_as root for login user ssm-user", ed(claims(run_as="root")), "refused")
    row("ok run_as root when logging in as root (account step decides)",
        ed(claims(run_as="root")), "ok", "root")
    row("hostfault document exists but is invalid",
        ed(claims(doc={"name": "Broken-Doc", "sha256": sha("Broken-Doc")})), "hostfault")
    row("hostfault document is world-writable",
        ed(claims(doc={"name": "Unsafe-Doc", "sha256": sha("Unsafe-Doc")})), "hostfault")
    # rows added in review (SPEC section 2 rules that had no row of their own)
    row("refused duplicate member spelled with an escape (\\u0069ss after iss)",
        raw_token(hdr(), (base[:-1] + ',"\\u0069ss":"%s"}' % ISSUER).encode(), "EdDSA",
                  keys.ed1), "refused")
    row("refused C1 control escape (U+009B CSI) in an extra claim",
        raw_token(hdr(), (base[:-1] + ',"note":"a\\u009bb"}').encode(), "EdDSA", keys.ed1),
        "refused")
    row("refused raw C1 control (UTF-8 C2 9B) in an extra claim",
        raw_token(hdr(), (base[:-1] + ',"note":"a\u009bb"}').encode(), "EdDSA", keys.ed1),
        "refused")
    row("refused DEL escape in an extra claim",
        raw_token(hdr(), (base[:-1] + ',"note":"a\\u007fb"}').encode(), "EdDSA", keys.ed1),
        "refused")
    row("refused control character in a header member name",
        raw_token({"alg": "EdDSA", "typ": TYP, "kid": "ed1", "x\u0085": 1}, claims(),
                  "EdDSA", keys.ed1), "refused")
    row("refused iat fractional", ed(claims(iat=now - 10.5)), "refused")
    row("refused iat 2^63 (one past int64)", ed(claims(iat=2 ** 63)), "refused")
    row("refused sid suffix with a dash", ed(claims(sid="alice@example.com-abcd-efgh")),
        "refused")
    row("refused sid without the dash", ed(claims(sid="alice@example.com0a1b2c3d")), "refused")
    row("refused doc name 129 chars", ed(claims(doc={"name": "a" * 129, "sha256": "0" * 64})),
        "refused")
    row("refused aud empty string", ed(claims(aud="")), "refused")
    row("ok sub 1 char, sid suffix 8, jti 16 (min lengths)",
        ed(claims(sub="a", sid="a-abcdefgh", jti=os.urandom(8).hex())), "ok")
    row("refused typ JWT (no explicit typing)", ed(h=hdr(typ="JWT")), "refused")
    row("refused exp 1e400 (not finite once parsed)",
        raw_token(hdr(), re.sub(r'"exp":-?[0-9]+', '"exp":1e400', base).encode(), "EdDSA",
                  keys.ed1), "refused")

    with open(os.path.join(out, "vectors.json"), "w") as f:
        json.dump({"now": now, "config": os.path.join(out, "config.json"), "rows": rows}, f,
                  indent=1)
    bad = sum(1 for r in rows if r["expect"] != "ok")
    print("token_vectors.py: %d rows (%d bad, %d good) in %s" % (len(rows), bad,
                                                                 len(rows) - bad, out))
    return 0


class _Drop:
    pass


DROP = _Drop()

if __name__ == "__main__":
    sys.exit(main())
