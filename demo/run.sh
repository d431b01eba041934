#!/bin/sh
# ssmsession demo: a broker-issued session token opens a PAM session on this host, and
# what it refuses.  Run as root on Debian 12:  ./demo/run.sh
#
# Everything happens in a private mount namespace with private copies of /etc/passwd,
# /etc/group, /etc/shadow and /etc/pam.d bind-mounted over the real ones: the host's users,
# PAM configuration and sshd are never changed.  Files are left in demo-out/ to look at.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-demo"
work="$top/demo-out"
host_dev=i-0de40000000000001   # the host we log in to (tag Environment=Dev)
host_prod=i-0de40000000000002  # a Prod host in the fleet (only for the broker's decisions)

if [ -t 1 ]; then B1='\033[1m' G='\033[32m' R='\033[31m' N='\033[0m'; else B1='' G='' R='' N=''; fi
say() { printf "\n${B1}==> %s${N}\n" "$*"; }
note() { printf '    %s\n' "$*"; }
ok() { printf "    ${G}OK:${N} %s\n" "$*"; }
bad() { printf "    ${R}UNEXPECTED:${N} %s\n" "$*"; status=1; }
# the last audit event, short
last_event() { $py -c 'import json,sys; e=json.loads(open(sys.argv[1]).readlines()[-1]); print("audit: " + json.dumps({k: e[k] for k in ("event","reason","detail") if k in e}))' log/audit.jsonl; }
# pamtester's last line without the echo-off prompt
pt_result() { tail -1 "$1" | sed 's/^Session token: //'; }
status=0

if [ "$(id -u)" != 0 ]; then
	echo "demo/run.sh: run me as root (I work inside a private mount namespace)" >&2
	exit 2
fi

# ------------------------------------------------------------------ outside: build
if [ "${1:-}" != "--inside" ]; then
	say "Installing build and demo dependencies (tools/deps.sh; nothing if already there)"
	"$top/tools/deps.sh"
	say "Building the project out of tree in build-demo/ (autogen, configure, make)"
	(cd "$top" && ./autogen.sh >/dev/null 2>&1)
	mkdir -p "$build"
	(cd "$build" && "$top/configure" --quiet >/dev/null && make -j"$(nproc)" >make.log 2>&1) || {
		tail -30 "$build/make.log" 2>/dev/null; echo "build failed" >&2; exit 1; }
	note "built: $(cd "$build" && ls pam_ssmsession/.libs/pam_ssmsession.so ssmctl/ssmctl ssm-shell/ssm-shell 2>/dev/null | tr '\n' ' ')"
	say "Entering a private mount namespace (unshare --mount --propagation private)"
	SSM_DEMO_OUTER_NS=$(readlink /proc/self/ns/mnt) exec unshare --mount --propagation private \
		-- /bin/sh "$0" --inside
fi

# ------------------------------------------------------------------ inside the namespace
# Refuse to bind-mount anything unless we really are in a new mount namespace.
if [ -z "${SSM_DEMO_OUTER_NS:-}" ] || [ "$(readlink /proc/self/ns/mnt)" = "$SSM_DEMO_OUTER_NS" ]; then
	echo "demo/run.sh: --inside is internal; run ./demo/run.sh" >&2
	exit 2
fi
py=/usr/bin/python3
broker="$py $top/broker/ssm-broker"
ssmtoken="$py $top/broker/ssmtoken.py"
module="$build/pam_ssmsession/.libs/pam_ssmsession.so"
ssmctl="$build/ssmctl/ssmctl"
[ -f "$module" ] || { echo "no $module: build first" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work" && chmod 0755 "$work"
cd "$work"
umask 022
mkdir -p etc/ssmsession/documents broker/documents state run log home

say "Private /etc/passwd, /etc/group, /etc/shadow and /etc/pam.d for this namespace only"
mkdir -p private
cp -a /etc/passwd /etc/group /etc/shadow private/
cp -a /etc/pam.d private/pam.d
for f in passwd group shadow pam.d; do mount --bind "private/$f" "/etc/$f"; done
uid=2000
while getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null; do uid=$((uid + 1)); done
echo "ssm-user:x:$uid:$uid:Session Manager user:$work/home/ssm-user:/bin/sh" >>/etc/passwd
echo "ssm-user:x:$uid:" >>/etc/group
echo "ssm-user:!:19000:0:99999:7:::" >>/etc/shadow
mkdir -p home/ssm-user && chown "$uid:$uid" home/ssm-user
note "user ssm-user (uid $uid) exists only in this namespace: $(getent passwd ssm-user)"

say "A throwaway Ed25519 signing key for the broker; the host gets only the public JWK Set"
$ssmtoken keygen --alg EdDSA --kid demo-2026 --out-private broker/key.pem \
	--out-jwks etc/ssmsession/trusted_keys.jwks
note "broker/key.pem (0600) stays with the broker; etc/ssmsession/trusted_keys.jwks: $(tr -d ' \n' <etc/ssmsession/trusted_keys.jwks | cut -c1-90)..."

say "Session documents on the host (and the same bytes in the broker's fleet)"
cat >etc/ssmsession/documents/SSM-SessionManagerRunShell.json <<'EOF'
{
 "schemaVersion": "1.0",
 "description": "Shell sessions: 1 minute idle timeout, 10 minutes at most",
 "sessionType": "Standard_Stream",
 "inputs": {
  "runAsEnabled": false,
  "idleSessionTimeout": "1",
  "maxSessionDuration": "10",
  "shellProfile": {"linux": "cd ~"}
 }
}
EOF
cat >etc/ssmsession/documents/ViewLog.json <<'EOF'
{
 "schemaVersion": "1.0",
 "description": "Show the end of a log file, nothing else",
 "sessionType": "InteractiveCommands",
 "parameters": {
  "logpath": {
   "type": "String",
   "description": "The log file to read",
   "default": "/var/log/dpkg.log",
   "allowedPattern": "^/var/log/[A-Za-z0-9_./-]+$",
   "maxChars": 128
  }
 },
 "properties": {"linux": {"commands": "tail -n 5 {{ logpath }}", "runAsElevated": false}}
}
EOF
cp etc/ssmsession/documents/*.json broker/documents/
for d in etc/ssmsession/documents/*.json; do
	if [ -x "$ssmctl" ] && "$ssmctl" document validate "$d" >/dev/null 2>&1; then
		note "$(basename "$d"): valid (ssmctl document validate)"
	else
		note "$(basename "$d")"
	fi
done

say "Host configuration (SPEC section 4) naming this host $host_dev, tagged Environment=Dev"
cat >etc/ssmsession/ssmsession.json <<EOF
{
 "host_id": "$host_dev",
 "host_tags": {"Environment": "Dev"},
 "issuer": "https://broker.demo.internal",
 "trusted_keys": "$work/etc/ssmsession/trusted_keys.jwks",
 "max_token_lifetime": 300,
 "leeway": 60,
 "documents_dir": "$work/etc/ssmsession/documents",
 "allowed_documents": ["SSM-SessionManagerRunShell", "ViewLog"],
 "run_as_allowed": ["ssm-user"],
 "state_dir": "$work/state",
 "run_dir": "$work/run",
 "log_dir": "$work/log"
}
EOF
chmod 0644 etc/ssmsession/ssmsession.json etc/ssmsession/trusted_keys.jwks
sed 's/^/    /' etc/ssmsession/ssmsession.json

say "PAM service /etc/pam.d/ssm-demo (private copy): pam_ssmsession for auth, account, session"
cat >/etc/pam.d/ssm-demo <<EOF
auth     required  $module config=$work/etc/ssmsession/ssmsession.json
account  required  $module config=$work/etc/ssmsession/ssmsession.json
session  required  $module config=$work/etc/ssmsession/ssmsession.json
EOF
sed 's/^/    /' /etc/pam.d/ssm-demo

say "The broker's policy and fleet: the example IAM policies, this host and a Prod host"
cp "$top/broker/examples/policy.json" broker/policy.json
cat >broker/fleet.json <<EOF
{
 "documents_dir": "documents",
 "hosts": {
  "$host_dev": {"tags": {"Name": "DevHost", "Environment": "Dev"}},
  "$host_prod": {"tags": {"Name": "ProdHost", "Environment": "Prod"}}
 }
}
EOF
$py - broker/policy.json <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["broker"].update({"issuer": "https://broker.demo.internal", "key": "key.pem", "kid": "demo-2026"})
p["policies"]["ProductionPermissionSet"]["Statement"][1]["Resource"] = "arn:aws:ssm:*:*:document/ViewLog"
p["policies"]["DevelopmentPermissionSet"]["Statement"][1]["Resource"].append("arn:aws:ssm:*:*:document/ViewLog")
json.dump(p, open(sys.argv[1], "w"), indent=1)
EOF
note "alice: developers + operators (Prod only with MFA); bob: developers (Dev only)"
B="$broker --policy broker/policy.json --fleet broker/fleet.json"

say "1. alice asks the broker for a shell on the Dev host; the policy allows it, the broker signs a token"
$B start-session --user alice --target "$host_dev" >token1
note "token: $(cut -c1-60 token1)... ($(wc -c <token1) bytes)"
$py - token1 <<'EOF'
import base64, json, sys
p = open(sys.argv[1]).read().strip().split(".")[1]
print("    claims: " + json.dumps(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))))
EOF
if [ -x "$ssmctl" ]; then
	note "the host's own check, without using the token up: ssmctl token verify"
	if "$ssmctl" token verify --config etc/ssmsession/ssmsession.json - <token1 >verify.out 2>&1; then
		ok "ssmctl token verify: valid for run_as $(sed -n 's/.*"run_as": *"\([^"]*\)".*/\1/p' verify.out | head -1)"
	else
		note "ssmctl token verify: $(cat verify.out)"
	fi
fi

say "2. Log in as ssm-user through the real PAM library: pamtester auth, acct_mgmt, open_session, close_session"
if pamtester -v ssm-demo ssm-user authenticate acct_mgmt open_session close_session <token1 2>&1 |
	sed 's/^/    /'; then :; fi
if pamtester ssm-demo ssm-user authenticate </dev/null >/dev/null 2>&1; then
	bad "a login without a token succeeded"
else
	ok "and a login with no token at all fails; $(last_event)"
fi
if grep -q '"session_start"' log/audit.jsonl 2>/dev/null; then
	ok "session opened and closed (session_start and session_end are in the audit log)"
else
	bad "the login with a fresh token failed"
fi

say "3. Replay: the same token again is refused (its jti is remembered until exp + leeway)"
if pamtester ssm-demo ssm-user authenticate <token1 >replay.out 2>&1; then
	bad "the replayed token was accepted"
else
	ok "refused: $(pt_result replay.out); $(last_event)"
fi

say "4. Tampering: a fresh token with one payload character changed is refused (bad signature)"
$B start-session --user alice --target "$host_dev" 2>/dev/null >token2
$py - token2 >token2.bad 2>tamper.what <<'EOF'
import base64, json, sys
h, p, s = open(sys.argv[1]).read().strip().split(".")
raw = bytearray(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
# change one digit of "exp" that sits alone in the low 6 bits of a base64 quantum:
# exactly one character of the encoded payload changes, the JSON stays valid
start = raw.index(b'"exp":') + 6
cands = [k for k in range(start + 1, start + 10)  # not the first digit: no leading zero
         if k % 3 == 2 and k + 1 < len(raw) - len(raw) % 3]
k = ([k for k in cands if raw[k] in b"02468"] or cands)[0]  # prefer a later exp
old = json.loads(bytes(raw))["exp"]
raw[k] ^= 1
q = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
assert sum(a != b for a, b in zip(p, q)) == 1 and len(p) == len(q)
print(".".join((h, q, s)))
print("payload character %d changed: exp %d -> %d (%+d s)"
      % ([a != b for a, b in zip(p, q)].index(True), old, json.loads(bytes(raw))["exp"],
         json.loads(bytes(raw))["exp"] - old), file=sys.stderr)
EOF
note "$(cat tamper.what)"
if pamtester ssm-demo ssm-user authenticate <token2.bad >tamper.out 2>&1; then
	bad "the tampered token was accepted"
else
	ok "refused: $(pt_result tamper.out); $(last_event)"
fi

say "5. The broker refuses alice a shell on the Prod host without MFA (explicit Deny in the policy)"
if $B start-session --user alice --target "$host_prod" >/dev/null 2>deny.out; then
	bad "the broker allowed Prod without MFA"
else
	ok "$(cat deny.out)"
fi
note "with --mfa the broker allows it, but that token is bound to the Prod host:"
$B start-session --user alice --mfa --target "$host_prod" 2>/dev/null >token3
if pamtester ssm-demo ssm-user authenticate <token3 >aud.out 2>&1; then
	bad "a token for another host was accepted here"
else
	ok "this Dev host refuses it (aud is $host_prod): $(pt_result aud.out); $(last_event)"
fi

say "6. The audit log: $work/log/audit.jsonl (one JSON object a line)"
if command -v jq >/dev/null 2>&1; then
	if [ -t 1 ]; then jq -C . log/audit.jsonl; else jq . log/audit.jsonl; fi | sed 's/^/    /'
else
	while IFS= read -r line; do printf '%s\n' "$line" | $py -m json.tool | sed 's/^/    /'; done <log/audit.jsonl
fi

say "Done.  The host's real /etc/passwd, /etc/pam.d and sshd were not touched; files are in $work"
[ $status = 0 ] || echo "SOME STEPS DID NOT BEHAVE AS EXPECTED (see UNEXPECTED above)"
exit $status
