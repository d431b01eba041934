#!/bin/sh
# pam_rules.sh - SPEC sections 2 to 5, rule by rule, through the REAL libpam (root only).
#
# Isolation as tests/pam_pamtester.sh: a private mount namespace with private copies of
# /etc/passwd, /etc/group, /etc/shadow (throwaway users ssmtest1, ssm-user and "toor", a
# second uid 0 account, exist only there) and /etc/pam.d, and a private /dev whose /dev/log
# is a socket this script reads.  The host's files are never touched.  Logins are driven by
# pamtester; the few that pamtester cannot drive (replies longer than its 4095-byte
# conversation buffer, two prompts in one login, several calls on one PAM handle, the echo
# style of the prompt) by "pamdrive", a ctypes client of the same libpam.so.0 below.
#
# What a broken module would do, and which check notices:
#   A. never logs the token (SPEC 5): every kind of login below with `debug` on; syslog, the
#      audit log and everything pamtester/pamdrive printed are scanned for each token, its
#      payload and signature parts and any 24-character piece of them (a %.100s cut is a
#      leak too).  The scanner is first shown to find a planted cut and to pass a jti.
#   B. uid 0 (SPEC 5 account): refused unless named explicitly; run_as_allowed holds plain
#      names (lib/config.c: strcmp, a glob entry makes the file invalid), so a glob that
#      would match root fails closed at configuration load, never grants root.
#   C. an invalid configuration fails closed (SPEC 4): PAM_AUTHINFO_UNAVAIL, exactly one
#      syslog line naming the file and the problem, no success.
#   D. "refused before anything is decoded" / "before any cryptography runs" (SPEC 2): the
#      recorded reason shows the order (size before syntax; alg before key lookup,
#      signature length and payload; forbidden members before the signature).
#   E. rules that had no test through PAM that fails when they are broken.
#   H. the audit trail (issue 9 point 5): every refusal is a login_denied (the `refused`
#      helper checks one was written for each refused login above, in log_dir or, for a
#      configuration that cannot be loaded, in the compiled-in log_dir: C); refusals from
#      setcred and open_session; bad module options.
#
# Coverage matrix, SPEC 2-5 (file: check).  "vec" = tests/token_vectors.py row run by
# tests/test_token.c; "pt" = tests/pam_pamtester.sh; "pw" = tests/test_pamtest.c (pam_wrapper);
# "rules" = this file (section letter).
# 2 strict base64url: no '=', no other char/white space, len%4==1, non-zero unused bits
#                       test_b64url rows; vec "'=' padding...", "space inside", "part length
#                       1 mod 4", "non-canonical last character"; test_jws token damage rows
# 2 >4096 bytes refused before decoding    vec "token of 4097 bytes" (and ok 4096); pw
#                       "over-long token audited"; rules D1-D3 (size reason wins over garbage
#                       and alg none; 4096 accepted through libpam)
# 2 signature over the received bytes     vec "header re-encoded..."; test_jws good row with odd
#                       spacing; rules E "header with odd white space", "re-encoded header"
# 2 alg EdDSA|Ed25519|ES256 only, before crypto  vec alg rows; test_jws parse rows (-EINVAL at
#                       parse); pt "alg none"; rules D4-D8 (reason is alg, not key/signature)
# 2 ES256 exactly 64-byte R||S, DER refused  vec "ES256 DER signature", r/s range rows;
#                       test_jws r/s rows; rules D9
# 2 typ exactly ssm-session+jwt           vec "typ ..." rows; test_jws typ rows
# 2 kid 1-64 [A-Za-z0-9._-], names a trusted key  vec kid rows (65, empty, path, case);
#                       pt "untrusted key"; rules D6, E17 (1 and 64 accepted: no vec row has
#                       a token with a 1- or 64-character kid)
# 2 crit/jku/jwk/x5u/x5c/cty/b64 refuse   vec "header crit=..." rows; rules D10 (jwk with the
#                       attacker's key, signed by it: refused for the member, not by crypto)
# 2 key type must match alg               vec "kty mismatch" rows; test_jws EKEYREJECTED
# 2 one JSON object, no dup/NUL/control/bad UTF-8, case-sensitive names  vec JSON rows
# 2 integers: no fraction, non-finite, out of int64  vec time rows
# 2 iss, aud, sub, sid, jti charset/lengths  vec claims rows; test_token claims table
# 2 jti once per host while it could be valid  pt "replay", "replay race"; pw replay;
#                       test_replay (keep_until, expiry); rules A replay
# 2 iat/nbf/exp/leeway/max lifetime       vec time edges (leeway 60, lifetime 300 explicit);
#                       pt "expired token"; rules E defaults (leeway 60 and lifetime 300
#                       when the configuration does not set them)
# 2 run_as equals the PAM user            vec "run_as differs"; pt "run_as is not the PAM user"
# 2 doc name + sha256 of the file bytes   vec doc rows; rules E "document changed on disk"
# 2 params checked against the document   vec params rows; test_document; rules E "bad params"
# 2 trusted keys: JWK Set, rotation, "d" refused  test_jws jwks rows; vec ES256 second key;
#                       rules E (ES256 and Ed25519 through PAM; private key file; no key file)
# 3 documents (name, schema, params, quoting)  test_document, fuzz; ssmctl_token.sh validate
# 4 config: fixed keys, strict, defaults  test_config rows and defaults; rules C (invalid file
#                       through PAM) and E (defaults through PAM)
# 4 unreadable/invalid config fails closed, one line  pt "missing configuration"; rules C
# 5 options strict (unknown -> PAM_SERVICE_ERR)  pt "unknown module option"; pw bad option
# 5 token from PAM_AUTHTOK (use_first_pass/try_first_pass) or prompt echo off
#                       pw authtok cases; pt prompt text, use_first_pass w/o item;
#                       rules E (prompt is PAM_PROMPT_ECHO_OFF; both options after pam_unix)
# 5 PAM_AUTH_ERR vs PAM_AUTHINFO_UNAVAIL  pt; pw; rules C, E (keys at fault)
# 5 never logs the token or its signature  pt (signature of one good token); pw (audit only);
#                       test_token (reason strings); rules A (all paths, debug, all sinks)
#                       and the final scan (also every file under state_dir, run_dir, log_dir)
# 5 account: run_as not allowed            pt; pw; test_token account
# 5 account: uid 0 unless named explicitly test_token account (root); rules B (root, toor,
#                       case, globs, account with its own configuration)
# 5 account: document not allowed          test_token account globs; rules E
# 5 account: not authenticated in this handle  pt; pw; rules E (failed re-auth on the same
#                       handle takes back the earlier success)
# 5 session open record + session_start; close session_end  pt; pw
set -u
. "${srcdir:-$(dirname "$0")/..}/tests/pam_common.sh"
pam_need_root pamtester unshare mount logger
need_python_jwt
[ -f "$MODULE" ] || { echo "FAIL: module not built: $MODULE"; exit 1; }
pam_enter_ns "$@"

pam_scratch rules

# ---- private users: ssmtest1, ssm-user (the default run_as_allowed), toor (uid 0)
cp /etc/passwd /etc/group /etc/shadow "$tmp/"
cat >>"$tmp/passwd" <<'EOF'
ssmtest1:x:64001:64001:ssm test:/nonexistent:/usr/sbin/nologin
ssm-user:x:64003:64003:ssm test:/nonexistent:/usr/sbin/nologin
toor:x:0:0:second uid 0 account:/root:/usr/sbin/nologin
EOF
printf 'ssmtest1:x:64001:\nssm-user:x:64003:\n' >>"$tmp/group"
printf 'ssmtest1:!:19000:0:99999:7:::\nssm-user:!:19000:0:99999:7:::\ntoor:!:19000:0:99999:7:::\n' \
	>>"$tmp/shadow"
for f in passwd group shadow; do mount --bind "$tmp/$f" "/etc/$f" || exit 1; done

# ---- host: keys (k1 Ed25519, k2 P-256, evil: untrusted Ed25519 also called k1), documents,
# the base configuration $CONF (run_as_allowed ["ssmtest1"])
H=$tmp/host
setup_host "$H" '["ssmtest1"]'
AUDIT=$H/log/audit.jsonl
# mkconf NAME KEYS-PATH [EXTRA-MEMBERS]: $H/NAME.json, mode 0644, root's; prints the path
mkconf() {
	f=$H/$1.json
	printf '{"host_id": "%s", "issuer": "%s", "trusted_keys": "%s", "documents_dir": "%s",
 "state_dir": "%s", "run_dir": "%s", "log_dir": "%s"%s}\n' "$HOST_ID" "$ISSUER" "$2" \
		"${DOCS_DIR:-$H/docs}" "$H/state" "$H/run" "$H/log" "${3:+, $3}" >"$f"
	chmod 644 "$f"
	echo "$f"
}

# ---- private /etc/pam.d (written to after the bind mount too: it is the same directory)
mkdir "$tmp/pam.d"
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
	>"$tmp/pam.d/other"
# svc NAME CONF [AUTH-OPTIONS [ACCOUNT-CONF [OTHER-OPTIONS]]]
svc() {
	printf 'auth required %s config=%s %s\naccount required %s config=%s %s\nsession required %s config=%s %s\n' \
		"$MODULE" "$2" "${3:-}" "$MODULE" "${4:-$2}" "${5:-}" "$MODULE" "$2" "${5:-}" \
		>"$tmp/pam.d/$1"
}
mount --bind "$tmp/pam.d" /etc/pam.d || exit 1

# ---- private /dev with a /dev/log we read ($SYSLOG)
SYSLOG=$tmp/syslog.txt
pam_private_devlog "$tmp"

# a module built with ASan/UBSan needs the runtimes preloaded into the PAM application
SAN=
if readelf -d "$MODULE" 2>/dev/null | grep -q 'libasan'; then
	SAN="env LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0"
	echo "note: sanitizer build, runtimes preloaded into pamtester and pamdrive"
fi

# ---- pamdrive: a libpam client (ctypes) for what pamtester cannot do.
#   pamdrive.py SERVICE USER ANSWERS-FILE OP...   (OP: authenticate acct_mgmt open_session
#   close_session; "-k" first: keep going after a failure).  Each prompt is answered with the
#   next line of ANSWERS-FILE (no length limit) and printed as "prompt[STYLE]: TEXT"; each op
#   prints "OP: CODE"; exit status is the first non-zero code (0: every op succeeded).
cat >"$tmp/pamdrive.py" <<'EOF'
import ctypes, sys
from ctypes import CFUNCTYPE, POINTER, Structure, c_char_p, c_int, c_void_p, cast, sizeof
pam = ctypes.CDLL("libpam.so.0")
libc = ctypes.CDLL(None)  # the global scope: malloc as libpam sees it (ASan's when preloaded)
libc.calloc.restype = c_void_p
libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
libc.strdup.restype = c_void_p
libc.strdup.argtypes = [c_char_p]
libc.free.argtypes = [c_void_p]
class Msg(Structure):
    _fields_ = [("msg_style", c_int), ("msg", c_char_p)]
class Resp(Structure):
    _fields_ = [("resp", c_void_p), ("resp_retcode", c_int)]
CONV = CFUNCTYPE(c_int, c_int, POINTER(POINTER(Msg)), POINTER(POINTER(Resp)), c_void_p)
class Conv(Structure):
    _fields_ = [("conv", CONV), ("appdata_ptr", c_void_p)]
args = sys.argv[1:]
keep = args[0] == "-k"
if keep:
    args = args[1:]
service, user, answers_file, ops = args[0], args[1], args[2], args[3:]
answers = open(answers_file, "rb").read().split(b"\n")
if answers and answers[-1] == b"":
    answers.pop()
STYLE = {1: "ECHO_OFF", 2: "ECHO_ON", 3: "ERROR_MSG", 4: "TEXT_INFO"}
def conv(n, msgs, presp, appdata):
    arr = libc.calloc(n, sizeof(Resp))
    if not arr:
        return 5  # PAM_BUF_ERR
    resp = cast(arr, POINTER(Resp))
    for i in range(n):
        m = msgs[i].contents
        text = (m.msg or b"").decode("utf-8", "replace")
        print("prompt[%s]: %s" % (STYLE.get(m.msg_style, m.msg_style), text), flush=True)
        if m.msg_style in (1, 2):
            if not answers:
                for j in range(i):
                    libc.free(resp[j].resp)
                libc.free(arr)
                return 19  # PAM_CONV_ERR
            resp[i].resp = libc.strdup(answers.pop(0))
    presp[0] = resp
    return 0
conv_cb = CONV(conv)
c = Conv(conv_cb, None)
h = c_void_p()
pam.pam_start.argtypes = [c_char_p, c_char_p, POINTER(Conv), POINTER(c_void_p)]
pam.pam_strerror.restype = c_char_p
pam.pam_strerror.argtypes = [c_void_p, c_int]
pam.pam_end.argtypes = [c_void_p, c_int]
r = pam.pam_start(service.encode(), user.encode(), ctypes.byref(c), ctypes.byref(h))
if r != 0:
    print("pam_start: %d" % r)
    sys.exit(r)
first = 0
for op in ops:
    f = getattr(pam, "pam_" + op)
    f.argtypes = [c_void_p, c_int]
    r = f(h, 0)
    print("%s: %d (%s)" % (op, r, pam.pam_strerror(h, r).decode()), flush=True)
    if r != 0 and first == 0:
        first = r
    if r != 0 and not keep:
        break
pam.pam_end(h, first)
sys.exit(first)
EOF

# ---- craft.py: hostile tokens the broker's ssmtoken.py does not make.  Each takes a fresh
# good token GOOD (for its claims; a new jti is put in) and prints one token.
cat >"$tmp/craft.py" <<'EOF'
import base64, hashlib, hmac, json, os, secrets, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def key(path):
    return serialization.load_pem_private_key(open(path, "rb").read(), password=None)
def sign(k, si):
    if isinstance(k, ec.EllipticCurvePrivateKey):
        return k.sign(si, ec.ECDSA(hashes.SHA256()))  # DER, as OpenSSL emits it
    return k.sign(si)
case, good = sys.argv[1], sys.argv[2]
a = sys.argv[3:]
claims = json.loads(unb64u(good.split(".")[1]))
claims["jti"] = secrets.token_urlsafe(24)
TYP = "ssm-session+jwt"
def compact(hb, pb, sig):
    return b64u(hb) + "." + b64u(pb) + "." + b64u(sig)
def js(o):
    return json.dumps(o, separators=(",", ":")).encode()
if case == "alg-badsig":        # ALG KID: a 64-byte random signature
    print(compact(js({"alg": a[0], "typ": TYP, "kid": a[1]}), js(claims), os.urandom(64)))
elif case == "hs512":           # JWKS KID: HMAC-SHA512 keyed with the trusted public key
    jwk = [k for k in json.load(open(a[0]))["keys"] if k["kid"] == a[1]][0]
    si = (b64u(js({"alg": "HS512", "typ": TYP, "kid": a[1]})) + "." + b64u(js(claims))).encode()
    print(si.decode() + "." + b64u(hmac.new(unb64u(jwk["x"]), si, hashlib.sha512).digest()))
elif case == "none-badpayload":  # header alg none, payload part not base64url at all
    print(b64u(js({"alg": "none", "typ": TYP, "kid": "k1"})) + ".!!!!$$$$." + b64u(os.urandom(64)))
elif case == "der":             # PEM KID: ES256 with the DER signature of a trusted key
    si = (b64u(js({"alg": "ES256", "typ": TYP, "kid": a[1]})) + "." + b64u(js(claims))).encode()
    print(si.decode() + "." + b64u(sign(key(a[0]), si)))
elif case == "jwk":             # PEM KID: the signer's own public key in the header
    k = key(a[0])
    raw = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    h = {"alg": "EdDSA", "typ": TYP, "kid": a[1],
         "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}}
    si = (b64u(js(h)) + "." + b64u(js(claims))).encode()
    print(si.decode() + "." + b64u(sign(k, si)))
elif case == "spaced":          # PEM KID: header with odd white space, signed over those bytes
    hb = ('{ "alg" : "EdDSA",\n "typ":"%s" , "kid":"%s" }' % (TYP, a[1])).encode()
    si = (b64u(hb) + "." + b64u(js(claims))).encode()
    print(si.decode() + "." + b64u(sign(key(a[0]), si)))
elif case == "reencoded":       # PEM KID: signed over a spaced header, sent re-encoded
    hb = ('{ "alg" : "EdDSA", "typ":"%s" , "kid":"%s" }' % (TYP, a[1])).encode()
    si = (b64u(hb) + "." + b64u(js(claims))).encode()
    sig = sign(key(a[0]), si)
    print(b64u(js(json.loads(hb))) + "." + b64u(js(claims)) + "." + b64u(sig))
elif case == "len":             # PEM KID N: validly signed, exactly N bytes (extra claim)
    k, kid, n = key(a[0]), a[1], int(a[2])
    for filler in range(4):
        h = {"alg": "EdDSA", "typ": TYP, "kid": kid, "f": "f" * filler}
        for pad in range(0, n):
            c = dict(claims, pad="p" * pad)
            si = (b64u(js(h)) + "." + b64u(js(c))).encode()
            if len(si) + 87 == n:
                print(si.decode() + "." + b64u(sign(k, si)))
                sys.exit(0)
            if len(si) + 87 > n:
                break
    sys.exit("no token of %d bytes" % n)
elif case == "none-len":        # N: alg none, N bytes
    n = int(a[0])
    h = b64u(js({"alg": "none", "typ": TYP, "kid": "k1"}))
    s = b64u(os.urandom(64))
    p = b64u(js(dict(claims, pad="p" * n)))[: n - len(h) - len(s) - 2]
    t = h + "." + p + "." + s
    assert len(t) == n, len(t)
    print(t)
elif case == "garbage-len":     # N: three parts, the header not base64url, N bytes
    n = int(a[0])
    t = "eyJ!" + "." + "A" * (n - 92) + "." + b64u(os.urandom(64))
    assert len(t) == n, len(t)
    print(t)
elif case == "garbage":         # three random base64url parts (looks like a token)
    print(b64u(os.urandom(30)) + "." + b64u(os.urandom(200)) + "." + b64u(os.urandom(64)))
else:
    sys.exit("unknown case " + case)
EOF
craft() { "$PY" "$tmp/craft.py" "$@"; }

# ---- scan.py SECRETS FILE...: does any file hold a token of SECRETS (one a line), its
# payload or signature part, or any 24-character piece of those parts?
cat >"$tmp/scan.py" <<'EOF'
import sys
secrets_ = [l.strip() for l in open(sys.argv[1]) if l.strip()]
blobs = {}
for f in sys.argv[2:]:
    try:
        blobs[f] = open(f, "rb").read().decode("latin-1")
    except FileNotFoundError:
        pass
W = 24
found = 0
for t in secrets_:
    parts = t.split(".")
    needles = [("token", t)]
    if len(parts) == 3:
        needles += [("payload", parts[1]), ("signature", parts[2])]
    for what, s in needles:
        pieces = [s] if len(s) <= W else [s[i:i + W] for i in range(0, len(s) - W + 1)]
        for f, b in blobs.items():
            for p in pieces:
                if p in b:
                    print("leak: %s of token %s... in %s (%r)" % (what, t[:12], f, p))
                    found += 1
                    break
sys.exit(1 if found else 0)
EOF

OUT=$tmp/output.txt # everything pamtester and pamdrive printed, stderr included
SECRETS=$tmp/secrets.txt
: >"$OUT"
: >"$SECRETS"
# pt SERVICE USER TOKEN OPS...: pamtester, token on stdin; $out, $rc
pt() {
	s=$1 u=$2 tk=$3
	shift 3
	printf '%s\n' "$tk" >>"$SECRETS"
	out=$(printf '%s\n' "$tk" | $SAN pamtester -v "$s" "$u" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" >>"$OUT"
}
# drv [-k] SERVICE USER OPS... with the answers in $tmp/answers: pamdrive; $out, $rc
drv() {
	cat "$tmp/answers" >>"$SECRETS"
	out=$($SAN "$PY" "$tmp/pamdrive.py" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" >>"$OUT"
}
answers() { printf '%s\n' "$@" >"$tmp/answers"; }
has() { printf '%s' "$1" | grep -q -- "$2"; }
MSG_AUTH="Authentication failure"
MSG_UNAVAIL="cannot retrieve authentication info"
MSG_PERM="Permission denied"
# login_denied events so far, in log_dir and in the compiled-in log_dir (config_error)
denied_count() { cat "$AUDIT" "$DEFAUDIT" 2>/dev/null | grep -c '"event":"login_denied"'; }
# refused DESC EXPECTED-PAM-MESSAGE SERVICE USER TOKEN OPS...: refused, and audited
refused() {
	d=$1 msg=$2
	shift 2
	_n0=$(denied_count)
	pt "$@"
	_n1=$(denied_count)
	if [ $rc != 0 ] && has "$out" "$msg" && [ "$_n1" -gt "$_n0" ]; then
		ok "$d: refused with \"$msg\" and a login_denied"
	elif [ $rc != 0 ] && has "$out" "$msg"; then
		fail "$d: refused with \"$msg\" but no login_denied was written"
	else
		fail "$d: expected \"$msg\", got rc=$rc: $(printf '%s' "$out" | tail -3)"
	fi
}
# accepted DESC SERVICE USER TOKEN OPS...
accepted() {
	d=$1
	shift
	pt "$@"
	if [ $rc = 0 ]; then ok "$d: accepted"; else fail "$d: rc=$rc: $(printf '%s' "$out" | tail -3)"; fi
}
# the last login_denied event, and tests on it
last_denied() { grep '"event":"login_denied"' "$AUDIT" 2>/dev/null | tail -n 1; }
# denied_with DESC REASON [DETAIL-FRAGMENT [NOT-FRAGMENT]]: the last refusal's audit event
denied_with() {
	l=$(last_denied)
	if has "$l" "\"reason\":\"$2\"" && { [ -z "${3:-}" ] || has "$l" "$3"; } &&
		{ [ -z "${4:-}" ] || ! has "$l" "$4"; }; then
		ok "$1: audited as $2${3:+ ($3)}"
	else
		fail "$1: want reason $2${3:+ with \"$3\"}${4:+ without \"$4\"}, got: $l"
	fi
}
# syslog: log_sync appends a marker through /dev/log and waits for it, so every line sent
# before it (the module's, from a finished login) is in $SYSLOG; lines_since N prints the
# module's and libpam's lines after line N (markers left out)
mark=0
log_sync() {
	mark=$((mark + 1))
	logger -u /dev/log "ssm-rules-mark-$mark-end" 2>/dev/null
	n=0
	while ! grep -q "ssm-rules-mark-$mark-end" "$SYSLOG"; do
		[ $n -ge 50 ] && { echo "note: syslog marker $mark lost"; return 1; }
		sleep 0.1
		n=$((n + 1))
	done
}
log_lines() { wc -l <"$SYSLOG"; }
lines_since() { sed -n "$(($1 + 1)),\$p" "$SYSLOG" | grep -v 'ssm-rules-mark-'; }

svc ssmr "$CONF"
DOC2=$H/docs/Restart-Service.json

###########################################################################################
echo "---- A. the token and its signature are never logged (debug on, every path)"
svc ssmr_dbg "$CONF" debug "$CONF" debug
# an earlier module collects a password into PAM_AUTHTOK (pam_unix, the user's password is
# locked so it fails, optional); ours takes the token from there or prompts
printf 'auth optional pam_unix.so nodelay\nauth required %s config=%s try_first_pass debug\naccount required %s config=%s debug\nsession required %s config=%s debug\n' \
	"$MODULE" "$CONF" "$MODULE" "$CONF" "$MODULE" "$CONF" >"$tmp/pam.d/ssmr_tfp"
printf 'auth optional pam_unix.so nodelay\nauth required %s config=%s use_first_pass debug\naccount required %s config=%s debug\nsession required %s config=%s debug\n' \
	"$MODULE" "$CONF" "$MODULE" "$CONF" "$MODULE" "$CONF" >"$tmp/pam.d/ssmr_ufp"
before_a=$(log_lines)
denied_a=$(grep -c login_denied "$AUDIT" 2>/dev/null || true)

good=$(mint ssmtest1) || exit 1
accepted "A1 good token, full cycle" ssmr_dbg ssmtest1 "$good" authenticate acct_mgmt open_session close_session
refused "A2 replay" "$MSG_AUTH" ssmr_dbg ssmtest1 "$good" authenticate
t=$(mint ssmtest1)
sig=${t##*.}
mid=$((${#sig} / 2))
c=$(printf '%s' "$sig" | cut -c$((mid + 1)))
[ "$c" = A ] && r=B || r=A
tampered=${t%.*}.$(printf '%s' "$sig" | cut -c1-$mid)$r$(printf '%s' "$sig" | cut -c$((mid + 2))-)
refused "A3 tampered signature" "$MSG_AUTH" ssmr_dbg ssmtest1 "$tampered" authenticate
refused "A4 expired" "$MSG_AUTH" ssmr_dbg ssmtest1 "$(mint ssmtest1 --now $(($(date +%s) - 4000)))" authenticate
refused "A5 wrong host (aud)" "$MSG_AUTH" ssmr_dbg ssmtest1 \
	"$(mint ssmtest1 --claims-json '{"aud":"i-ffffffffffffffff0"}')" authenticate
refused "A6 garbage" "$MSG_AUTH" ssmr_dbg ssmtest1 "$(craft garbage "$good")" authenticate
refused "A7 alg none (validly signed)" "$MSG_AUTH" ssmr_dbg ssmtest1 \
	"$(mint ssmtest1 --header-json '{"alg":"none"}')" authenticate
refused "A8 untrusted key" "$MSG_AUTH" ssmr_dbg ssmtest1 "$(KEY=$H/evil.pem mint ssmtest1)" authenticate
refused "A9 another user's token" "$MSG_AUTH" ssmr_dbg ssmtest1 "$(mint ssm-user)" authenticate
answers "$(craft len "$good" "$KEY" k1 4097)"
drv ssmr_dbg ssmtest1 "$tmp/answers" authenticate
if [ $rc = 7 ]; then ok "A10 oversize (4097 bytes, signed): PAM_AUTH_ERR"; else fail "A10 oversize: rc=$rc $out"; fi
answers "$(craft len "$good" "$KEY" k1 6000)"
drv ssmr_dbg ssmtest1 "$tmp/answers" authenticate
if [ $rc = 7 ]; then ok "A11 oversize (6000 bytes): PAM_AUTH_ERR"; else fail "A11 oversize: rc=$rc $out"; fi
# try_first_pass: pam_unix takes a tampered token as the password, ours finds it invalid
# in PAM_AUTHTOK (a debug line), prompts, and accepts the second answer
answers "$(craft alg-badsig "$good" EdDSA k1)" "$(mint ssmtest1)"
drv ssmr_tfp ssmtest1 "$tmp/answers" authenticate acct_mgmt
if [ $rc = 0 ] && [ "$(printf '%s\n' "$out" | grep -c 'prompt\[ECHO_OFF\]')" = 2 ]; then
	ok "A12 try_first_pass: invalid PAM_AUTHTOK, then the prompted token accepted"
else
	fail "A12 try_first_pass: rc=$rc $out"
fi
# use_first_pass: the token pam_unix collected is used, no second prompt (one answer only)
answers "$(mint ssmtest1)"
drv ssmr_ufp ssmtest1 "$tmp/answers" authenticate acct_mgmt
if [ $rc = 0 ] && [ "$(printf '%s\n' "$out" | grep -c 'prompt\[')" = 1 ]; then
	ok "A13 use_first_pass: the token from PAM_AUTHTOK accepted without a prompt of ours"
else
	fail "A13 use_first_pass: rc=$rc $out"
fi
answers "$tampered"
drv ssmr_ufp ssmtest1 "$tmp/answers" authenticate
if [ $rc = 7 ]; then ok "A14 use_first_pass with a bad token: PAM_AUTH_ERR"; else fail "A14: rc=$rc $out"; fi

log_sync
lines=$(lines_since "$before_a")
nref=$(printf '%s\n' "$lines" | grep -c 'pam_ssmsession(.*login refused for user')
expect "A: syslog captured the refusals ($nref refusal lines, want >= 11)" test "$nref" -ge 11
expect "A: debug lines were logged (token accepted, PAM_AUTHTOK not a token)" sh -c \
	'printf "%s" "$1" | grep -q "token accepted for sid" && printf "%s" "$1" | grep -q "PAM_AUTHTOK is not a valid token"' _ "$lines"
nden=$(grep -c login_denied "$AUDIT")
expect "A: audit log captured the refusals ($((nden - denied_a)) new login_denied)" \
	test $((nden - denied_a)) -ge 11
# the scanner finds a cut of a token, and leaves a jti and a sid alone (they are not secret
# and may appear: SPEC 6 puts the sid in the audit events)
tjti=$(mint ssmtest1 --jti "jti-not-secret-0123456789")
printf 'ok\n' >"$tmp/scan-good"
printf '%s\n' "$tjti" >"$tmp/scan-secret"
printf 'refused: token %.100s\n' "$tjti" >"$tmp/scan-planted"
printf '%.40s\n' "${tjti#*.}" >"$tmp/scan-planted2"
printf 'sid alice-0123 jti jti-not-secret-0123456789 "run_as":"ssmtest1"\n' >"$tmp/scan-jti"
expect "A: scanner self-test: a %.100s cut of a token is found" \
	sh -c '! "$1" "$2" "$3" "$4" >/dev/null' _ "$PY" "$tmp/scan.py" "$tmp/scan-secret" "$tmp/scan-planted"
expect "A: scanner self-test: 40 characters of a payload are found" \
	sh -c '! "$1" "$2" "$3" "$4" >/dev/null' _ "$PY" "$tmp/scan.py" "$tmp/scan-secret" "$tmp/scan-planted2"
expect "A: scanner self-test: a jti, a sid and run_as are not a leak" \
	"$PY" "$tmp/scan.py" "$tmp/scan-secret" "$tmp/scan-jti"
cp "$SYSLOG" "$tmp/syslog-a.txt"
cp "$OUT" "$tmp/output-a.txt"
if res=$("$PY" "$tmp/scan.py" "$SECRETS" "$tmp/syslog-a.txt" "$AUDIT" "$tmp/output-a.txt"); then
	ok "A: no token, payload or signature (nor a 24-char piece) in syslog, audit log or output ($(wc -l <"$SECRETS") tokens)"
else
	fail "A: token material logged: $(printf '%s' "$res" | head -5)"
fi
expect "A: the audit log has the sid of the accepted login (sids are not secret)" \
	grep -q "$($PY -c 'import sys,json,base64;p=sys.argv[1].split(".")[1];print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["sid"])' "$good")" "$AUDIT"

###########################################################################################
echo "---- B. uid 0: refused unless named explicitly in run_as_allowed"
svc ssmr_root "$(mkconf root "$H/jwks.json" '"run_as_allowed": ["root"]')"
svc ssmr_toor "$(mkconf toor "$H/jwks.json" '"run_as_allowed": ["toor"]')"
svc ssmr_rootcase "$(mkconf ROOT "$H/jwks.json" '"run_as_allowed": ["ROOT", "ssmtest1"]')"
accepted "B1 root named: run_as root, PAM user root, full cycle" ssmr_root root "$(mint root)" \
	authenticate acct_mgmt open_session close_session
expect "B1 session_start audited with run_as root" sh -c \
	"grep '\"event\":\"session_start\"' '$AUDIT' | tail -n 1 | grep -q '\"run_as\":\"root\"'"
refused "B2 root not listed (run_as_allowed [ssmtest1])" "$MSG_PERM" ssmr root "$(mint root)" \
	authenticate acct_mgmt
denied_with "B2" account "run_as not allowed"
refused "B3 root listed only as ROOT (names are case-sensitive)" "$MSG_PERM" ssmr_rootcase root \
	"$(mint root)" authenticate acct_mgmt
refused "B4 toor (uid 0) when only root is named" "$MSG_PERM" ssmr_root toor "$(mint toor)" \
	authenticate acct_mgmt
denied_with "B4" account
accepted "B5 toor named explicitly" ssmr_toor toor "$(mint toor)" authenticate acct_mgmt
refused "B6 root when only toor (also uid 0) is named" "$MSG_PERM" ssmr_toor root "$(mint root)" \
	authenticate acct_mgmt
# globs are not names: such a file is invalid, so nothing is granted (fail closed), and
# never through the account step
for g in '*' 'r*' 'ro?t' '[r]oot' 'roo[!x]'; do
	f=$(mkconf glob "$H/jwks.json" "\"run_as_allowed\": [\"$g\", \"ssmtest1\"]")
	svc ssmr_glob "$f"
	b=$(log_lines)
	refused "B7 run_as_allowed [\"$g\"]: invalid, root refused" "$MSG_UNAVAIL" ssmr_glob root \
		"$(mint root)" authenticate acct_mgmt
	log_sync
	expect "B7 [\"$g\"]: the syslog line names run_as_allowed" sh -c \
		'printf "%s" "$1" | grep -q "key .run_as_allowed.: invalid entry"' _ "$(lines_since "$b")"
done
# auth with a configuration naming root, account with its own configuration holding a glob
svc ssmr_mixed "$H/root.json" "" "$f"
refused "B8 account's own configuration has a glob: account fails closed" "$MSG_UNAVAIL" \
	ssmr_mixed root "$(mint root)" authenticate acct_mgmt
expect "B8 auth itself had succeeded" has "$out" "successfully authenticated"
# "0" is not a user name (getpwnam("0") must never look like uid 0)
refused "B9 run_as \"0\" for PAM user \"0\"" "$MSG_AUTH" ssmr_root 0 "$(mint 0)" authenticate acct_mgmt

###########################################################################################
echo "---- C. an invalid configuration fails closed with one clear syslog line"
base='"host_id": "'$HOST_ID'", "issuer": "'$ISSUER'", "trusted_keys": "'$H/jwks.json'", "documents_dir": "'$H/docs'", "run_as_allowed": ["ssmtest1"], "state_dir": "'$H/state'", "run_dir": "'$H/run'", "log_dir": "'$H/log'"'
# badconf NAME FRAGMENT-TO-FIND: the file $H/bad-NAME.json is prepared by the caller
badconf() {
	svc ssmr_bad "$H/bad-$1.json"
	for ops in authenticate acct_mgmt; do
		b=$(log_lines)
		ad=$(wc -l <"$AUDIT")
		refused "C $1 ($ops)" "$MSG_UNAVAIL" ssmr_bad ssmtest1 "$(mint ssmtest1)" $ops
		log_sync
		l=$(lines_since "$b")
		n=$(printf '%s' "$l" | grep -c .)
		if [ "$n" = 1 ] && has "$l" "pam_ssmsession(ssmr_bad:" && has "$l" "bad-$1.json" &&
			has "$l" "$2"; then
			ok "C $1 ($ops): exactly one syslog line, naming the file and \"$2\""
		else
			fail "C $1 ($ops): want one line with bad-$1.json and \"$2\", got $n: $l"
		fi
		expect "C $1 ($ops): nothing audited as a session" sh -c \
			"[ \"\$(sed -n '$((ad + 1)),\$p' '$AUDIT' | grep -c session_start)\" = 0 ]"
		expect "C $1 ($ops): login_denied config_error in the compiled-in log_dir, host_id null, naming the file" \
			"$PY" -c '
import json, sys
o = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert o["event"] == "login_denied" and o["reason"] == "config_error", o
assert o["host_id"] is None and o["user"] == "ssmtest1" and o["service"] == "ssmr_bad", o
assert sys.argv[2] in o["detail"], o
assert "audit_session" in o and "loginuid" in o, o
' "$DEFAUDIT" "bad-$1.json"
	done
}
printf '{%s,\n' "$base" >"$H/bad-json.json"
printf '{%s} {}\n' "$base" >"$H/bad-trailing.json"
printf '{%s, "run_as_alowed": ["root"]}\n' "$base" >"$H/bad-unknownkey.json"
printf '{%s, "leeway": "60"}\n' "$base" >"$H/bad-type.json"
printf '{%s, "leeway": 60, "leeway": 3600}\n' "$base" >"$H/bad-dup.json"
printf '{"host_id": "%s", "trusted_keys": "%s"}\n' "$HOST_ID" "$H/jwks.json" >"$H/bad-noissuer.json"
printf '{%s}\n' "$base" >"$H/bad-groupw.json"
printf '{%s}\n' "$base" >"$H/bad-worldw.json"
printf '{%s}\n' "$base" >"$H/bad-owner.json"
chmod 644 "$H"/bad-*.json
chmod 664 "$H/bad-groupw.json"
chmod 646 "$H/bad-worldw.json"
chown 64001:64001 "$H/bad-owner.json"
mkdir -m 755 "$H/bad-dir.json"
badconf json "not a valid JSON object"
badconf trailing "not a valid JSON object"
badconf unknownkey "unknown key 'run_as_alowed'"
badconf type "key 'leeway': must be an integer"
badconf dup "not a valid JSON object"
badconf noissuer "missing required key 'issuer'"
badconf groupw "writable by group or others"
badconf worldw "writable by group or others"
badconf owner "owned by uid 64001, not root"
badconf dir "not a regular file"
# the same content, root's and 0644, is accepted: the refusals above are about the file
chown 0:0 "$H/bad-owner.json"
svc ssmr_fixed "$H/bad-owner.json"
accepted "C control: the not-root-owned file's content, once root's, works" ssmr_fixed ssmtest1 \
	"$(mint ssmtest1)" authenticate acct_mgmt

###########################################################################################
echo "---- D. refused before decoding / before any cryptography (the recorded reason shows it)"
answers "$(craft len "$good" "$KEY" k1 4096)"
drv ssmr ssmtest1 "$tmp/answers" authenticate acct_mgmt
if [ $rc = 0 ]; then ok "D0 a validly signed token of exactly 4096 bytes is accepted"; else fail "D0 4096 bytes: rc=$rc $out"; fi
answers "$(craft len "$good" "$KEY" k1 4097)"
drv ssmr ssmtest1 "$tmp/answers" authenticate
[ $rc = 7 ] && ok "D1 a validly signed token of 4097 bytes is refused" || fail "D1 4097 bytes: rc=$rc $out"
denied_with "D1 4097 bytes, signed" token_too_long
answers "$(craft garbage-len "$good" 4097)"
drv ssmr ssmtest1 "$tmp/answers" authenticate
denied_with "D2 4097 bytes whose header is not base64url: size first" token_too_long "" "base64url"
answers "$(craft none-len "$good" 4097)"
drv ssmr ssmtest1 "$tmp/answers" authenticate
denied_with "D3 4097 bytes with alg none: size first" token_too_long "" "alg"
answers "$(craft garbage-len "$good" 4096)"
drv ssmr ssmtest1 "$tmp/answers" authenticate
denied_with "D3b the same garbage at 4096 bytes is decoded (and refused for its syntax)" \
	invalid_token "base64url"
ALGMSG='is not EdDSA, Ed25519 or ES256'
refused "D4 alg none, kid of a real key, random signature" "$MSG_AUTH" ssmr ssmtest1 \
	"$(craft alg-badsig "$good" none k1)" authenticate
denied_with "D4 alg none: alg reason, not a signature or key one" invalid_token "$ALGMSG" signature
refused "D5 HS512 keyed with the trusted Ed25519 public key (64-byte MAC)" "$MSG_AUTH" ssmr \
	ssmtest1 "$(craft hs512 "$good" "$H/jwks.json" k1)" authenticate
denied_with "D5 HS512: alg reason" invalid_token "$ALGMSG" signature
refused "D6 alg none naming no key" "$MSG_AUTH" ssmr ssmtest1 \
	"$(craft alg-badsig "$good" none nokey)" authenticate
denied_with "D6 alg none, unknown kid: alg reason, not the key lookup" invalid_token "$ALGMSG" "no trusted key"
refused "D7 alg none, payload not base64url" "$MSG_AUTH" ssmr ssmtest1 \
	"$(craft none-badpayload "$good")" authenticate
denied_with "D7 alg none before the payload is decoded" invalid_token "$ALGMSG" payload
refused "D7b alg ES256 naming the Ed25519 key, random signature" "$MSG_AUTH" ssmr ssmtest1 \
	"$(craft alg-badsig "$good" ES256 k1)" authenticate
denied_with "D7b key type checked before the signature" invalid_token "key type does not match" "bad signature"
cp "$H/jwks.json" "$H/jwks-gw.json"
chmod 664 "$H/jwks-gw.json"
svc ssmr_gw "$(mkconf gw "$H/jwks-gw.json" '"run_as_allowed": ["ssmtest1"]')"
refused "D8 alg none with an unusable (group-writable) trusted key file" "$MSG_UNAVAIL" ssmr_gw \
	ssmtest1 "$(mint ssmtest1 --header-json '{"alg":"none"}')" authenticate
refused "D9 ES256 with a valid DER signature of the trusted P-256 key" "$MSG_AUTH" ssmr ssmtest1 \
	"$(craft der "$good" "$H/k2.pem" k2)" authenticate
denied_with "D9 DER refused by its length, before any verification" invalid_token "must be 64" "bad signature"
refused "D10 header jwk with the signer's own key" "$MSG_AUTH" ssmr ssmtest1 \
	"$(craft jwk "$good" "$H/evil.pem" k1)" authenticate
denied_with "D10 the jwk member refuses, not the signature" invalid_token 'header member \\"jwk\\"' "bad signature"
b=$(log_lines)
refused "D11 alg none again (syslog)" "$MSG_AUTH" ssmr ssmtest1 "$(craft alg-badsig "$good" none k1)" authenticate
log_sync
expect "D11 the syslog line gives the alg reason" sh -c \
	'printf "%s" "$1" | grep -q "login refused for user ssmtest1: invalid_token: .*alg.*$2"' _ \
	"$(lines_since "$b")" "$ALGMSG"

###########################################################################################
echo "---- E. rules with no other test through PAM"
answers "$(mint ssmtest1)"
drv ssmr ssmtest1 "$tmp/answers" authenticate
expect "E1 the token prompt is \"Session token: \" with echo off" \
	sh -c 'printf "%s\n" "$1" | grep -qx "prompt\[ECHO_OFF\]: Session token: "' _ "$out"
accepted "E2 ES256 token (second key of the set)" ssmr ssmtest1 \
	"$($SSMTOKEN mint --key "$H/k2.pem" --kid k2 --iss "$ISSUER" --aud "$HOST_ID" --sub alice \
		--run-as ssmtest1 --doc-name SSM-SessionManagerRunShell --doc-file "$DOC")" authenticate acct_mgmt
accepted "E3 alg spelled Ed25519" ssmr ssmtest1 "$(mint ssmtest1 --header-json '{"alg":"Ed25519"}')" \
	authenticate acct_mgmt
accepted "E4 header with odd white space, signed over the received bytes" ssmr ssmtest1 \
	"$(craft spaced "$good" "$KEY" k1)" authenticate acct_mgmt
refused "E5 header re-encoded after signing" "$MSG_AUTH" ssmr ssmtest1 \
	"$(craft reencoded "$good" "$KEY" k1)" authenticate
denied_with "E5" invalid_token "bad signature"
# documents
svc ssmr_shellonly "$(mkconf shellonly "$H/jwks.json" '"run_as_allowed": ["ssmtest1"], "allowed_documents": ["SSM-*"]')"
rs() { mint "$1" --doc-name Restart-Service --doc-file "$DOC2" --params "$2"; }
accepted "E6 control: Restart-Service allowed by Restart-*" ssmr ssmtest1 \
	"$(rs ssmtest1 '{"svc":["nginx"]}')" authenticate acct_mgmt
refused "E6 document not in allowed_documents" "$MSG_PERM" ssmr_shellonly ssmtest1 \
	"$(rs ssmtest1 '{"svc":["nginx"]}')" authenticate acct_mgmt
denied_with "E6" account "document not allowed"
refused "E7 parameter failing allowedPattern" "$MSG_AUTH" ssmr ssmtest1 \
	"$(rs ssmtest1 '{"svc":["nginx; id"]}')" authenticate
denied_with "E7" invalid_token "bad params"
mkdir -m 755 "$H/docs2"
cp "$H/docs/"*.json "$H/docs2/"
svc ssmr_docs2 "$(DOCS_DIR=$H/docs2 mkconf docs2 "$H/jwks.json" '"run_as_allowed": ["ssmtest1"]')"
t=$(mint ssmtest1)
printf ' \n' >>"$H/docs2/SSM-SessionManagerRunShell.json"
refused "E8 document changed on disk after the token was issued" "$MSG_AUTH" ssmr_docs2 ssmtest1 \
	"$t" authenticate
denied_with "E8" invalid_token "document hash mismatch"
# defaults (SPEC 4): leeway 60, max_token_lifetime 300, run_as_allowed [ssm-user],
# allowed_documents ["*"], when the file does not set them
svc ssmr_def "$(mkconf defaults "$H/jwks.json")"
accepted "E9 defaults: run_as ssm-user allowed" ssmr_def ssm-user "$(mint ssm-user)" authenticate acct_mgmt
refused "E9 defaults: run_as ssmtest1 not allowed" "$MSG_PERM" ssmr_def ssmtest1 "$(mint ssmtest1)" \
	authenticate acct_mgmt
accepted "E9 defaults: any document allowed (*)" ssmr_def ssm-user "$(rs ssm-user '{"svc":["nginx"]}')" \
	authenticate acct_mgmt
now=$(date +%s)
accepted "E10 default leeway: expired 30 s ago, accepted" ssmr_def ssm-user \
	"$(mint ssm-user --now $((now - 150)) --lifetime 120)" authenticate
refused "E10 default leeway: expired 90 s ago, refused" "$MSG_AUTH" ssmr_def ssm-user \
	"$(mint ssm-user --now $((now - 210)) --lifetime 120)" authenticate
denied_with "E10" invalid_token "expired"
accepted "E11 default max_token_lifetime: 300 s accepted" ssmr_def ssm-user \
	"$(mint ssm-user --lifetime 300)" authenticate
refused "E11 default max_token_lifetime: 301 s refused" "$MSG_AUTH" ssmr_def ssm-user \
	"$(mint ssm-user --lifetime 301)" authenticate
denied_with "E11" invalid_token "bad lifetime"
svc ssmr_life "$(mkconf life "$H/jwks.json" '"run_as_allowed": ["ssmtest1"], "max_token_lifetime": 60, "leeway": 0')"
refused "E12 configured max_token_lifetime 60: 61 s refused" "$MSG_AUTH" ssmr_life ssmtest1 \
	"$(mint ssmtest1 --lifetime 61)" authenticate
now=$(date +%s)
refused "E12 configured leeway 0: exp one second ago refused" "$MSG_AUTH" ssmr_life ssmtest1 \
	"$(mint ssmtest1 --now $((now - 31)) --lifetime 30)" authenticate
# keys the host is at fault for: PAM_AUTHINFO_UNAVAIL
"$PY" -c '
import json, sys
from cryptography.hazmat.primitives import serialization
import base64
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), password=None)
raw = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
s = json.load(open(sys.argv[2]))
for j in s["keys"]:
    if j["kid"] == "k1":
        j["d"] = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
json.dump(s, open(sys.argv[3], "w"))' "$KEY" "$H/jwks.json" "$H/jwks-d.json"
chmod 644 "$H/jwks-d.json"
svc ssmr_d "$(mkconf keyd "$H/jwks-d.json" '"run_as_allowed": ["ssmtest1"]')"
b=$(log_lines)
refused "E13 trusted key file holding a private key" "$MSG_UNAVAIL" ssmr_d ssmtest1 "$(mint ssmtest1)" authenticate
log_sync
expect "E13 the syslog line says private" sh -c 'printf "%s" "$1" | grep -qi "private"' _ "$(lines_since "$b")"
expect "E13 exactly one syslog line for it (pam_ssmsession(8), RETURN VALUES)" \
	test "$(lines_since "$b" | grep -c .)" = 1
svc ssmr_nokeys "$(mkconf nokeys "$H/no-such-jwks.json" '"run_as_allowed": ["ssmtest1"]')"
refused "E14 trusted key file missing" "$MSG_UNAVAIL" ssmr_nokeys ssmtest1 "$(mint ssmtest1)" authenticate
# kid length bounds (1 and 64 of [A-Za-z0-9._-]): a key named so is found and used
kid64=k.-_$(printf '%060d' 0)
$SSMTOKEN keygen --alg EdDSA --kid "$kid64" --out-private "$H/kid64.pem" --out-jwks "$H/jwks-kid.json"
$SSMTOKEN keygen --alg EdDSA --kid K --out-private "$H/kid1.pem" --out-jwks "$H/jwks-kid.json"
chmod 644 "$H/jwks-kid.json"
svc ssmr_kid "$(mkconf kid "$H/jwks-kid.json" '"run_as_allowed": ["ssmtest1"]')"
accepted "E17 kid of 64 characters" ssmr_kid ssmtest1 "$(KEY=$H/kid64.pem mint ssmtest1 --kid "$kid64")" authenticate
accepted "E17 kid of 1 character" ssmr_kid ssmtest1 "$(KEY=$H/kid1.pem mint ssmtest1 --kid K)" authenticate
refused "E17 kid of 65 characters" "$MSG_AUTH" ssmr_kid ssmtest1 \
	"$(KEY=$H/kid64.pem mint ssmtest1 --kid "${kid64}0")" authenticate
denied_with "E17 kid of 65 characters: refused by its length" invalid_token "1 to 64"
# one handle: a later failed auth takes back an earlier success (account refuses)
answers "$(mint ssmtest1)" "$tampered"
drv -k ssmr ssmtest1 "$tmp/answers" authenticate authenticate acct_mgmt
if has "$out" "acct_mgmt: 6 " && [ "$(printf '%s\n' "$out" | grep -c '^authenticate: 0 ')" = 1 ]; then
	ok "E15 auth ok, auth failed, account on the same handle: PAM_PERM_DENIED"
else
	fail "E15 stale auth: $out"
fi
answers "$tampered"
drv -k ssmr ssmtest1 "$tmp/answers" authenticate acct_mgmt open_session
if has "$out" "acct_mgmt: 6 " && has "$out" "open_session: 14 "; then
	ok "E16 failed auth, then account and open_session on the same handle: both refused"
else
	fail "E16: $out"
fi
denied_with "E16 open_session without a verified token: audited" not_authenticated "session:"

###########################################################################################
echo "---- H. the audit trail: refusals outside auth and account are audited too"
answers "$(mint ssmtest1)"
drv -k ssmr ssmtest1 "$tmp/answers" setcred
expect "H1 setcred on a handle where no token was verified: PAM_CRED_ERR ($rc)" test "$rc" = 17
denied_with "H1 setcred refusal" not_authenticated "setcred:"
answers "$(mint ssmtest1)"
drv -k ssmr ssmtest1 "$tmp/answers" authenticate open_session
expect "H2 open_session after auth but no account step: PAM_SESSION_ERR ($rc)" has "$out" "open_session: 14 "
denied_with "H2 session refused without the account step" account_not_approved
printf 'auth required %s config=%s no_such_option\naccount required %s config=%s\nsession required %s config=%s\n' \
	"$MODULE" "$CONF" "$MODULE" "$CONF" "$MODULE" "$CONF" >"$tmp/pam.d/ssmr_badopt"
b=$(log_lines)
refused "H3 unknown module option" "service module" ssmr_badopt ssmtest1 "$(mint ssmtest1)" authenticate
log_sync
expect "H3 exactly one syslog line for it" test "$(lines_since "$b" | grep -c .)" = 1
expect "H3 audited as config_error (module options) in the compiled-in log_dir" sh -c \
	"tail -n 1 '$DEFAUDIT' | grep '\"reason\":\"config_error\"' | grep -q 'no_such_option'"

###########################################################################################
echo "---- F. replay_durability (project extension): \"fsync\" flushes every accepted jti;"
echo "     \"boot\" does not, and refuses tokens issued before the host booted (+ leeway)"
# pamtester in a time namespace whose CLOCK_BOOTTIME says the host booted 200 s ago
up=$(cut -d. -f1 /proc/uptime)
ptb() { # like pt, booted 200 s ago
	s=$1 u=$2 tk=$3
	shift 3
	printf '%s\n' "$tk" >>"$SECRETS"
	out=$(printf '%s\n' "$tk" | unshare --time --fork --boottime $((200 - up)) \
		$SAN pamtester -v "$s" "$u" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" >>"$OUT"
}
if unshare --time --fork --boottime $((200 - up)) true 2>/dev/null; then
	svc ssmr_boot "$(mkconf boot "$H/jwks.json" '"run_as_allowed": ["ssmtest1"], "replay_durability": "boot"')"
	svc ssmr_fsync "$(mkconf fsync "$H/jwks.json" '"run_as_allowed": ["ssmtest1"], "replay_durability": "fsync"')"
	now=$(date +%s)
	ptb ssmr_boot ssmtest1 "$(mint ssmtest1 --now $((now - 150)))" authenticate
	expect "F1 boot: a token issued 150 s ago, 200 s after boot (leeway 60) refused" test "$rc" != 0
	denied_with "F1 boot: refused as issued before boot" issued_before_boot
	ptb ssmr_fsync ssmtest1 "$(mint ssmtest1 --now $((now - 150)))" authenticate
	expect "F2 fsync: the same kind of token accepted" test "$rc" = 0
	ptb ssmr_boot ssmtest1 "$(mint ssmtest1 --now $((now - 130)))" authenticate
	expect "F3 boot: a token issued 130 s ago (after boot + leeway) accepted" test "$rc" = 0
	tk=$(mint ssmtest1)
	ptb ssmr_boot ssmtest1 "$tk" authenticate
	expect "F4 boot: a fresh token accepted" test "$rc" = 0
	ptb ssmr_boot ssmtest1 "$tk" authenticate
	expect "F4 boot: and its replay refused" test "$rc" != 0
	denied_with "F4 boot: audited as a replay" replay
	# the flushes themselves, seen by strace
	if command -v strace >/dev/null 2>&1; then
		tk=$(mint ssmtest1)
		printf '%s\n' "$tk" >>"$SECRETS"
		nb=$(printf '%s\n' "$tk" | strace -f -e trace=fsync,fdatasync,syncfs -o "$tmp/st.boot" $SAN \
			pamtester ssmr_boot ssmtest1 authenticate >/dev/null 2>&1; grep -c 'sync(' "$tmp/st.boot")
		tk=$(mint ssmtest1)
		printf '%s\n' "$tk" >>"$SECRETS"
		nf=$(printf '%s\n' "$tk" | strace -f -e trace=fsync,fdatasync,syncfs -o "$tmp/st.fsync" $SAN \
			pamtester ssmr_fsync ssmtest1 authenticate >/dev/null 2>&1; grep -c 'sync(' "$tmp/st.fsync")
		expect "F5 fsync: the accepted jti is flushed ($nf fsyncs), boot: not ($nb)" \
			test "$nf" -ge 2 -a "$nb" = 0
	fi
	printf '{%s, "replay_durability": "Boot"}\n' "$base" >"$H/bad-durability.json"
	chmod 644 "$H/bad-durability.json"
	badconf durability "replay_durability"
else
	echo "note: no time namespaces here (unshare --time): section F skipped"
fi

###########################################################################################
echo "---- G. the in-process verifier (ssm-verify.so) must be there and trustworthy, or no login"
# a copy of the module alone in a directory: no ssm-verify.so beside it (and none installed
# under this build's pkglibdir unless make install ran: then this row proves nothing, say so)
mkdir -p "$tmp/modg" "$tmp/modw"
cp "$MODULE" "$tmp/modg/pam_ssmsession.so"
vlib=$(dirname "$MODULE")/ssm-verify.so
printf 'auth required %s config=%s\naccount required %s config=%s\nsession required %s config=%s\n' \
	"$tmp/modg/pam_ssmsession.so" "$CONF" "$tmp/modg/pam_ssmsession.so" "$CONF" \
	"$tmp/modg/pam_ssmsession.so" "$CONF" >"$tmp/pam.d/ssmr_nolib"
installed=
for d in $(strings "$MODULE" | grep '^/.*/ssmsession$'); do
	[ -e "$d/ssm-verify.so" ] && installed=$d/ssm-verify.so
done
if [ -n "$installed" ]; then
	echo "note: $installed is installed: G1 skipped"
else
	b=$(log_lines)
	refused "G1 no ssm-verify.so anywhere: fails closed" "$MSG_UNAVAIL" ssmr_nolib ssmtest1 \
		"$(mint ssmtest1)" authenticate
	log_sync
	l=$(lines_since "$b")
	expect "G1 one syslog line naming ssm-verify.so" sh -c \
		'[ "$(printf "%s" "$1" | grep -c .)" = 1 ] && printf "%s" "$1" | grep -q "ssm-verify.so not found"' _ "$l"
fi
# beside the module but writable by its group: never loaded
cp "$MODULE" "$tmp/modw/pam_ssmsession.so"
cp "$vlib" "$tmp/modw/ssm-verify.so"
chmod 775 "$tmp/modw/ssm-verify.so"
sed "s#$tmp/modg/#$tmp/modw/#g" "$tmp/pam.d/ssmr_nolib" >"$tmp/pam.d/ssmr_gwlib"
refused "G2 group-writable ssm-verify.so beside the module: not loaded, fails closed" "$MSG_UNAVAIL" \
	ssmr_gwlib ssmtest1 "$(mint ssmtest1)" authenticate
denied_with "G2 audited as a host error naming the file" host_error "refusing to load it"
chmod 755 "$tmp/modw/ssm-verify.so"
accepted "G3 the same file made 0755: loaded and the login verified" ssmr_gwlib ssmtest1 \
	"$(mint ssmtest1)" authenticate

###########################################################################################
echo "---- the whole run"
log_sync
if res=$("$PY" "$tmp/scan.py" "$SECRETS" "$SYSLOG" "$OUT" $(find "$H/state" "$H/run" "$H/log" -type f)); then
	ok "no token material in syslog, output, state_dir, run_dir, log_dir after the whole run ($(wc -l <"$SECRETS") tokens)"
else
	fail "token material logged: $(printf '%s' "$res" | head -5)"
fi
expect "no sanitizer report in any output" sh -c "! grep -q 'ERROR: AddressSanitizer\|runtime error:' '$OUT'"
expect "every audit line is JSON with ts, event, host_id" "$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert o["ts"].endswith("Z") and o["event"] and o["host_id"] == sys.argv[2], line
' "$AUDIT" "$HOST_ID"

finish pam_rules
