#!/usr/bin/python3
"""ssmtoken - make signing keys and JWK Sets, and mint ssmsession session tokens.

Used by the tests, the demo and the reference broker.  Only python3-jwt and
python3-cryptography; nothing here shares code with the host side (it is the
independent implementation the C verifier is checked against).

    ssmtoken.py keygen --alg EdDSA|ES256 --kid K --out-private F --out-jwks F
    ssmtoken.py mint --key F --kid K [--alg A] --iss I --aud A --sub S --sid SID
                     [--jti J] --run-as U --doc-name N --doc-file F [--params JSON]
                     [--lifetime S] [--now T] [--header-json JSON] [--claims-json JSON]

--header-json and --claims-json are merged over the computed header and claims
(a JSON null value deletes the member): they exist to build hostile tokens.
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

TYP = "ssm-session+jwt"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate(alg):
    """A new private key for alg ("EdDSA"/"Ed25519" or "ES256")."""
    if alg in ("EdDSA", "Ed25519"):
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError("unsupported alg %r" % alg)


def public_jwk(key, kid):
    """The public JWK (no "d") of a private or public key."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(pub, ed25519.Ed25519PublicKey):
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64url(raw)}
    if isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == "secp256r1":
        nums = pub.public_numbers()
        return {"kty": "EC", "crv": "P-256", "kid": kid,
                "x": b64url(nums.x.to_bytes(32, "big")),
                "y": b64url(nums.y.to_bytes(32, "big"))}
    raise ValueError("unsupported key type")


def private_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def write_file(path, data, mode):
    """Write atomically: temp file with the final mode, then rename."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def merge_jwks(path, jwk):
    """Add jwk to the set in path (replacing a key with the same kid)."""
    keys = []
    if os.path.exists(path):
        with open(path) as f:
            keys = json.load(f).get("keys", [])
    keys = [k for k in keys if k.get("kid") != jwk["kid"]] + [jwk]
    write_file(path, (json.dumps({"keys": keys}, indent=1) + "\n").encode(), 0o644)


def keygen(alg, kid, out_private, out_jwks):
    key = generate(alg)
    write_file(out_private, private_pem(key), 0o600)
    merge_jwks(out_jwks, public_jwk(key, kid))
    return key


def _sign(key, alg, signing_input):
    if alg in ("EdDSA", "Ed25519"):
        return key.sign(signing_input)
    # ES256: JWS wants R||S, 32 bytes each (RFC 7518 section 3.4), not DER
    from cryptography.hazmat.primitives import hashes
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _merge(base, over):
    for k, v in (over or {}).items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def encode(key, header, claims, alg=None):
    """Sign header/claims as given (used for hostile headers PyJWT would refuse)."""
    alg = alg or header.get("alg", "EdDSA")
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = _sign(key, alg if alg in ("EdDSA", "Ed25519", "ES256") else
                ("ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "EdDSA"),
                (h + "." + p).encode("ascii"))
    return h + "." + p + "." + b64url(sig)


def build_claims(iss, aud, sub, sid, run_as, doc_name, doc_sha256, jti=None, params=None,
                 lifetime=120, now=None):
    now = int(time.time()) if now is None else int(now)
    c = {"iss": iss, "aud": aud, "sub": sub, "sid": sid,
         "jti": jti or secrets.token_urlsafe(24), "iat": now, "exp": now + int(lifetime),
         "run_as": run_as, "doc": {"name": doc_name, "sha256": doc_sha256}}
    if params is not None:
        c["params"] = params
    return c


def mint(key, kid, alg, claims, header_over=None, claims_over=None):
    """A compact token.  The normal path goes through PyJWT; overrides use encode()."""
    header = {"alg": alg, "typ": TYP, "kid": kid}
    claims = dict(claims)
    if header_over or claims_over:
        return encode(key, _merge(header, header_over), _merge(claims, claims_over), alg)
    return jwt.encode(claims, key, algorithm="EdDSA" if alg == "Ed25519" else alg,
                      headers={"typ": TYP, "kid": kid})


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ssmtoken.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen", help="new key pair; public part merged into a JWK Set")
    k.add_argument("--alg", required=True, choices=["EdDSA", "Ed25519", "ES256"])
    k.add_argument("--kid", required=True)
    k.add_argument("--out-private", required=True)
    k.add_argument("--out-jwks", required=True)
    m = sub.add_parser("mint", help="print a signed session token")
    m.add_argument("--key", required=True, help="PEM private key")
    m.add_argument("--kid", required=True)
    m.add_argument("--alg", default=None, help="default: from the key type")
    m.add_argument("--iss", required=True)
    m.add_argument("--aud", required=True, help="a string, or a JSON array")
    m.add_argument("--sub", required=True)
    m.add_argument("--sid", default=None, help="default: SUB-<random>")
    m.add_argument("--jti", default=None, help="default: random")
    m.add_argument("--run-as", required=True)
    m.add_argument("--doc-name", required=True)
    m.add_argument("--doc-file", default=None, help="document file; its sha256 goes in doc")
    m.add_argument("--doc-sha256", default=None, help="explicit hash instead of --doc-file")
    m.add_argument("--params", default=None, help="JSON object name -> [strings]")
    m.add_argument("--lifetime", type=int, default=120)
    m.add_argument("--now", type=int, default=None)
    m.add_argument("--header-json", default=None)
    m.add_argument("--claims-json", default=None)
    a = ap.parse_args(argv)

    if a.cmd == "keygen":
        keygen(a.alg, a.kid, a.out_private, a.out_jwks)
        return 0
    key = load_private(a.key)
    alg = a.alg or ("ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "EdDSA")
    if a.doc_sha256:
        digest = a.doc_sha256
    elif a.doc_file:
        digest = sha256_file(a.doc_file)
    else:
        ap.error("mint needs --doc-file or --doc-sha256")
    aud = json.loads(a.aud) if a.aud.startswith("[") else a.aud
    sid = a.sid or "%s-%s" % (a.sub, secrets.token_hex(8))
    claims = build_claims(a.iss, aud, a.sub, sid, a.run_as, a.doc_name, digest, a.jti,
                          json.loads(a.params) if a.params else None, a.lifetime, a.now)
    print(mint(key, a.kid, alg, claims,
               json.loads(a.header_json) if a.header_json else None,
               json.loads(a.claims_json) if a.claims_json else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
