#!/bin/sh
# The reference broker's policy evaluation (broker/ssm-broker) on the example policy and
# fleet in broker/examples: tag conditions, explicit Deny over Allow, MFA, documents,
# own-session TerminateSession, run-as, and that the tokens it mints carry the right claims.
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
ex="$srcdir/broker/examples"
py=/usr/bin/python3
if ! $py -c 'import jwt, cryptography' 2>/dev/null; then
	echo "SKIP: /usr/bin/python3 lacks python3-jwt or python3-cryptography"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp -r "$ex"/. "$tmp"/
$py "$srcdir/broker/ssmtoken.py" keygen --alg EdDSA --kid broker-2026-01 \
	--out-private "$tmp/broker-key.pem" --out-jwks "$tmp/jwks.json" || exit 1
B="$py $srcdir/broker/ssm-broker --policy $tmp/policy.json --fleet $tmp/fleet.json"
dev=i-0123456789abcdef0; prod=i-0fedcba9876543210; mprod=mi-0fedcba9876543210
fail=0; n=0

# expect RC WHAT ARGS...: run the broker, compare the exit status
expect() {
	want=$1; what=$2; shift 2
	n=$((n + 1))
	$B "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	if [ "$rc" = "$want" ]; then
		echo "ok   $what"
	else
		echo "FAIL $what: exit $rc, want $want"; sed 's/^/     /' "$tmp/err"; fail=$((fail + 1))
	fi
}
S=start-session
expect 0 "developer on a Dev instance, default document" $S --user bob --target $dev
expect 1 "developer on a Prod instance: no Allow matches its tag" $S --user bob --mfa --target $prod
expect 1 "operator on Prod without MFA: explicit Deny wins over Allow" $S --user alice --target $prod
grep -q "explicit deny in statement DenyProdWithoutMFA" "$tmp/err" || { echo "FAIL denial names the statement"; fail=$((fail + 1)); }
expect 0 "operator on Prod with MFA" $S --user alice --mfa --target $prod
expect 0 "operator on an on-prem Prod managed instance with MFA" $S --user alice --mfa --target $mprod
expect 1 "workshop policy: DenySMtoProd with StringLike on the Environment tag" $S --user carol --target $prod
expect 0 "workshop policy: its Deny names EC2 instances only, so mi- Prod is allowed" $S --user carol --target $mprod
expect 1 "document not granted (ViewLog for a developer)" $S --user bob --target $dev --document ViewLog
expect 0 "document granted (port forwarding for a developer)" $S --user bob --target $dev \
	--document AWS-StartPortForwardingSession --parameters '{"portNumber":["8080"]}'
expect 1 "parameter the document does not define" $S --user bob --target $dev \
	--document AWS-StartPortForwardingSession --parameters '{"command":["id"]}'
expect 1 "document that is not in the fleet" $S --user alice --mfa --target $dev --document Nope-Doc
expect 1 "path traversal in a document name" $S --user alice --target $dev --document ../../etc/passwd
expect 1 "unknown user" $S --user mallory --target $dev
expect 1 "user name that is not a valid principal" $S --user 'bob x' --target $dev
expect 1 "host not in the fleet" $S --user bob --target i-00000000000000001
expect 0 "terminate own session (\${aws:username}-*)" terminate-session --user bob --session-id bob-0123456789abcdefg
expect 1 "terminate someone else's session" terminate-session --user bob --session-id alice-0123456789abcdefg
expect 1 "terminate a session whose id only starts like the user name" terminate-session --user bob --session-id bobby-0123456789abcdefg
expect 2 "missing signing key is a configuration error" --key "$tmp/nokey.pem" $S --user bob --target $dev

# a policy with an operator we do not understand must not be half-evaluated
$py - "$tmp/policy.json" "$tmp/bad.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["policies"]["DevelopmentPermissionSet"]["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
json.dump(p, open(sys.argv[2], "w"))
PY
n=$((n + 1))
if $py "$srcdir/broker/ssm-broker" --policy "$tmp/bad.json" --fleet "$tmp/fleet.json" \
	$S --user bob --target $dev >/dev/null 2>"$tmp/err"; then
	echo "FAIL unknown condition operator allowed a session"; fail=$((fail + 1))
else
	echo "ok   unknown condition operator (IpAddress) is a configuration error"
fi

# the claims of a minted token
n=$((n + 1))
$B $S --user dave --target $dev >"$tmp/tok" 2>/dev/null
if $py - "$tmp/tok" "$tmp/documents/SSM-SessionManagerRunShell.json" "$tmp/jwks.json" <<'PY'
import hashlib, json, re, sys, jwt
tok = open(sys.argv[1]).read().strip()
key = jwt.PyJWK(json.load(open(sys.argv[3]))["keys"][0])
c = jwt.decode(tok, key.key, algorithms=["EdDSA"], audience="i-0123456789abcdef0",
               issuer="https://broker.example.internal")
h = jwt.get_unverified_header(tok)
assert h["typ"] == "ssm-session+jwt" and h["kid"] == "broker-2026-01", h
assert c["sub"] == "dave" and c["run_as"] == "dave", c  # SSMSessionRunAs principal tag
assert re.fullmatch(r"dave-[a-z0-9]{17}", c["sid"]), c["sid"]
assert re.fullmatch(r"[A-Za-z0-9_-]{16,128}", c["jti"]), c["jti"]
assert c["doc"] == {"name": "SSM-SessionManagerRunShell",
                    "sha256": hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()}, c
assert 0 < c["exp"] - c["iat"] <= 300, c
PY
then echo "ok   minted token: typ, kid, sub, sid, jti, run_as from principal tag, doc sha256, lifetime"
else echo "FAIL minted token claims"; fail=$((fail + 1)); fi

echo "broker_policy: $((n - fail)) passed, $fail failed"
[ $fail = 0 ]
