#!/bin/sh
# channel_users.sh - POST /v1/login on ssm-broker (issue 8 point 3), as root, in a network
# namespace of its own (loopback only): users added with `ssm-broker user add`, a login with
# the right password (a bearer credential, only its SHA-256 stored, one hour), a wrong
# password and an unknown user refused alike, a TOTP user refused without a code and with a
# wrong one, accepted with the right one (computed here: RFC 6238 with python3's hmac),
# the same code refused a second time, bad requests refused with 400, and the per-user
# rate limit (5 failures a minute, then 429 even with the right password); then the client,
# `ssm login` (password and TOTP code on standard input): the credential file 0600 in a 0700
# directory, a wrong password one line and no file, the code asked for, a readable
# directory refused, another CA refused.
set -u
srcdir=${srcdir:-.}
. "$srcdir/tests/lib.sh"
ssm_require_root
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
BROKER=$PWD/brokerd/ssm-broker
[ -x "$BROKER" ] || { echo "FAIL: $BROKER not built"; exit 1; }
NS=ssmusr$$
T=$(mktemp -d /tmp/ssmusers.XXXXXX) || exit 1
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add "$NS" || { echo "SKIP: cannot create a network namespace"; exit 77; }
ip -n "$NS" link set lo up
IN="ip netns exec $NS"
ST=$T/st

cat >"$T/login.py" <<'PY'
# login.py URL CA USER PASSWORD [TOTP|-] [RAW-BODY]: prints the status and the JSON answer
import http.client, json, ssl, sys
url, ca, user, pw = sys.argv[1:5]
totp = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
body = {"user": user, "password": pw}
if totp is not None:
    body["totp"] = totp
data = sys.argv[6].encode() if len(sys.argv) > 6 else json.dumps(body).encode()
ctx = ssl.create_default_context(cafile=ca)
host, port = url.split("//")[1].rsplit(":", 1)
c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
c.request("POST", "/v1/login", body=data, headers={"Content-Type": "application/json"})
r = c.getresponse()
print(r.status)
print(r.read().decode())
PY
cat >"$T/totp.py" <<'PY'
# totp.py BASE32-SECRET [STEP-OFFSET]: the RFC 6238 code (SHA-1, 30 s, 6 digits)
import base64, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
step = int(time.time()) // 30 + (int(sys.argv[2]) if len(sys.argv) > 2 else 0)
mac = hmac.new(key, struct.pack(">Q", step), "sha1").digest()
off = mac[19] & 15
print("%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 1000000))
PY
URL=https://127.0.0.1:8443
login() { $IN python3 "$T/login.py" "$URL" "$ST/ca.crt" "$@" >"$T/out" 2>"$T/py.err"; }
status() { [ "$(head -1 "$T/out")" = "$1" ]; }
says() { sed -n 2p "$T/out" | grep -q "$1"; }
field() { sed -n 2p "$T/out" | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }
db() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print("\n".join("|".join(str(v) for v in r) for r in c.execute(sys.argv[2], sys.argv[3:])))' "$ST/broker.db" "$@"; }

$IN "$BROKER" serve --state-dir "$ST" --listen 127.0.0.1:8443 >"$T/broker.log" 2>&1 &
BPID=$!
PIDS="$PIDS $BPID"
ssm_check "the broker starts" ssm_wait_for 10 grep -q "listening on 127.0.0.1:8443" "$T/broker.log"
ssm_check "user add alice" sh -c "printf 'correct horse\n' | '$BROKER' user add alice --state-dir '$ST' >/dev/null"
ssm_check "user add carol --totp" sh -c "printf 'battery staple\n' | '$BROKER' user add carol --totp --state-dir '$ST' >'$T/carol'"
SECRET=$(sed -n 's/^totp_secret: //p' "$T/carol")
ssm_check "user add dave" sh -c "printf 'dave password\n' | '$BROKER' user add dave --state-dir '$ST' >/dev/null"

login alice 'correct horse'
ssm_check "alice: the right password gives 200" status 200
CRED=$(field credential)
ssm_check "  a 256-bit credential (43 base64url characters)" sh -c "printf %s '$CRED' | grep -Eq '^[A-Za-z0-9_-]{43}$'"
ssm_check "  mfa false" [ "$(field mfa)" = False ]
ssm_check "  expires in an hour" sh -c "[ \$(( $(field expires_at) - \$(date +%s) )) -gt 3500 ] && [ \$(( $(field expires_at) - \$(date +%s) )) -le 3600 ]"
H=$(printf %s "$CRED" | sha256sum | cut -d' ' -f1)
ssm_check "  only its SHA-256 is stored" [ "$(db 'SELECT count(*) FROM credentials WHERE hash=? AND user_name=?' "$H" alice)" = 1 ]
ssm_check "  not the credential itself" [ "$(db 'SELECT count(*) FROM credentials WHERE hash=?' "$CRED")" = 0 ]
login alice 'wrong horse'
ssm_check "alice: a wrong password gives 401" status 401
ssm_check "  wrong user name or password" says "wrong user name or password"
ssm_check "  and no credential" sh -c "! grep -q credential '$T/out'"
login mallory 'correct horse'
ssm_check "an unknown user: the same 401 and message" sh -c "[ \"\$(head -1 '$T/out')\" = 401 ] && grep -q 'wrong user name or password' '$T/out'"

login carol 'battery staple'
ssm_check "carol (TOTP) without a code: 401" status 401
ssm_check "  saying a TOTP code is needed" says "needs a TOTP code"
login carol 'battery staple' "$(python3 "$T/totp.py" "$SECRET" 5)"
ssm_check "carol with a wrong code: 401" status 401
ssm_check "  wrong or already used TOTP code" says "wrong or already used TOTP code"
login carol 'wrong staple' "$(python3 "$T/totp.py" "$SECRET")"
ssm_check "carol with the right code and a wrong password: 401" status 401
CODE=$(python3 "$T/totp.py" "$SECRET")
login carol 'battery staple' "$CODE"
ssm_check "carol with the right code: 200" status 200
ssm_check "  mfa true" [ "$(field mfa)" = True ]
login carol 'battery staple' "$CODE"
ssm_check "the same code again: 401 (replay)" status 401

login alice x - '{"user":"alice","password":"correct horse","admin":true}'
ssm_check "an unknown member: 400" status 400
login alice x - '{"user":"alice","user":"root","password":"correct horse"}'
ssm_check "a duplicate member: 400" status 400
login alice x - 'user=alice&password=x'
ssm_check "not JSON: 400" status 400

for i in 1 2 3 4 5; do login dave "wrong $i"; done
ssm_check "dave: the fifth wrong password still 401" status 401
login dave 'dave password'
ssm_check "dave: the right password after 5 failures in a minute: 429" status 429
ssm_check "  too many failed logins" says "too many failed logins"
login alice 'correct horse'
ssm_check "alice is not slowed down by dave's failures" status 200
ssm_check "the broker logs logins without passwords" sh -c "grep -q 'login of alice' '$T/broker.log' && ! grep -q 'horse' '$T/broker.log'"
# the client: ssm login (password and TOTP code on standard input, not a terminal)
SSM=$PWD/client/ssm
CF=$T/cfg/ssmsession/credentials
ssm_check "ssm login as alice" sh -c "printf 'correct horse\n' | XDG_CONFIG_HOME='$T/cfg' $IN '$SSM' login --broker $URL --ca '$ST/ca.crt' --user alice >'$T/ssm.out' 2>'$T/ssm.err'"
ssm_check "  says who and until when" grep -q "logged in to $URL as alice until .* (MFA: no)" "$T/ssm.out"
ssm_check "  the credential file is 0600" [ "$(stat -c %a "$CF")" = 600 ]
ssm_check "  in a 0700 directory" [ "$(stat -c %a "$T/cfg/ssmsession")" = 700 ]
ssm_check "  holding a credential the broker issued" sh -c "h=\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"credential\"])' '$CF' | tr -d '\n' | sha256sum | cut -d' ' -f1); python3 -c 'import sqlite3,sys; sys.exit(0 if sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM credentials WHERE hash=? AND user_name=?\", (sys.argv[2], \"alice\")).fetchone()[0] == 1 else 1)' '$ST/broker.db' \$h"
ssm_check_not "ssm login with a wrong password fails" sh -c "printf 'wrong horse\n' | XDG_CONFIG_HOME='$T/cfg2' $IN '$SSM' login --broker $URL --ca '$ST/ca.crt' --user alice >/dev/null 2>'$T/ssm.err'"
ssm_check "  one line: wrong user name or password" sh -c "[ \$(wc -l <'$T/ssm.err') = 1 ] && grep -q 'wrong user name or password' '$T/ssm.err'"
ssm_check "  and writes no credential" test ! -e "$T/cfg2/ssmsession/credentials"
# erin: a TOTP user of her own (carol's failures above count against her for a minute)
printf 'erin password\n' | "$BROKER" user add erin --totp --state-dir "$ST" >"$T/erin"
ESECRET=$(sed -n 's/^totp_secret: //p' "$T/erin")
ssm_check "ssm login as erin: the TOTP code asked and given" sh -c "printf 'erin password\n%s\n' \$(python3 '$T/totp.py' '$ESECRET') | XDG_CONFIG_HOME='$T/cfg3' $IN '$SSM' login --broker $URL --ca '$ST/ca.crt' --user erin >'$T/ssm.out' 2>'$T/ssm.err'"
ssm_check "  MFA: yes" grep -q "as erin until .* (MFA: yes)" "$T/ssm.out"
ssm_check_not "ssm login as erin without a code fails" sh -c "printf 'erin password\n' | XDG_CONFIG_HOME='$T/cfg4' $IN '$SSM' login --broker $URL --ca '$ST/ca.crt' --user erin >/dev/null 2>'$T/ssm.err'"
ssm_check "  saying a TOTP code is needed" grep -q "needs a TOTP code" "$T/ssm.err"
mkdir -p "$T/cfg5/ssmsession" && chmod 0755 "$T/cfg5/ssmsession"
ssm_check_not "a credential directory others can read is refused" sh -c "printf 'correct horse\n' | XDG_CONFIG_HOME='$T/cfg5' $IN '$SSM' login --broker $URL --ca '$ST/ca.crt' --user alice >/dev/null 2>'$T/ssm.err'"
ssm_check "  saying so" grep -q "refusing it" "$T/ssm.err"
ssm_check_not "ssm login with another CA fails" sh -c "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout '$T/x.key' -out '$T/x.crt' -days 1 2>/dev/null && printf 'correct horse\n' | XDG_CONFIG_HOME='$T/cfg6' $IN '$SSM' login --broker $URL --ca '$T/x.crt' --user alice >/dev/null 2>'$T/ssm.err'"
ssm_check "  the broker's certificate refused" grep -q "certificate is refused" "$T/ssm.err"

# ssm describe-instance-information: GET /v1/instances, the user's policies evaluated
pol() { # NAME EFFECT [CONDITION-JSON]
	printf '{"Version": "2012-10-17", "Statement": [{"Effect": "%s", "Action": "ssm:DescribeInstanceInformation", "Resource": "*"%s}]}\n' "$2" "${3:+, \"Condition\": $3}" >"$T/$1.json"
}
pol Describe Allow
pol DescribeMFA Allow '{"Bool": {"aws:MultiFactorAuthPresent": "true"}}'
pol NoDescribe Deny
dii() { XDG_CONFIG_HOME="$T/$1" $IN "$SSM" describe-instance-information >"$T/dii.out" 2>"$T/dii.err"; }
ssm_check_not "alice, no policy: describe-instance-information denied" dii cfg
ssm_check "  AccessDeniedException, no policy allows" grep -q "AccessDeniedException.*because no identity-based policy allows the ssm:DescribeInstanceInformation action" "$T/dii.err"
"$BROKER" policy attach --user alice "$T/DescribeMFA.json" --state-dir "$ST" >/dev/null
ssm_check_not "alice (no MFA), a policy that needs MFA: denied" dii cfg
"$BROKER" policy attach --user erin "$T/DescribeMFA.json" --state-dir "$ST" >/dev/null
ssm_check "erin (MFA), the same policy: allowed" dii cfg3
ssm_check "  an InstanceInformationList (no hosts)" python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == {"InstanceInformationList": []}' "$T/dii.out"
"$BROKER" policy attach --user alice "$T/Describe.json" --state-dir "$ST" >/dev/null
ssm_check "alice with an Allow: allowed" dii cfg
"$BROKER" policy attach --user alice "$T/NoDescribe.json" --state-dir "$ST" >/dev/null
ssm_check_not "alice with an explicit Deny too: denied" dii cfg
ssm_check "  with an explicit deny in NoDescribe" grep -q "explicit deny.*NoDescribe" "$T/dii.err"
chmod 0640 "$CF"
ssm_check_not "a group-readable credential file is refused" dii cfg
ssm_check "  saying so" grep -q "refusing to use it" "$T/dii.err"
chmod 0600 "$CF"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["credential"]="A"*43; open(sys.argv[1],"w").write(json.dumps(d))' "$CF"
ssm_check_not "a credential the broker never issued is refused" dii cfg
ssm_check "  unknown or expired" grep -q "unknown or expired" "$T/dii.err"

kill "$BPID" 2>/dev/null
wait "$BPID" 2>/dev/null
ssm_check "no sanitizer report from the broker" sh -c "! grep -Eq 'Sanitizer|runtime error' '$T/broker.log'"
ssm_done
