#!/bin/sh
# ssmsession demo: a broker-issued session token opens a PAM session on this host, and
# what it refuses.  Run as root on Debian 12:  ./demo/tokens.sh
#
# Everything happens in a private mount namespace with private copies of /etc/passwd,
# /etc/group, /etc/shadow and /etc/pam.d bind-mounted over the real ones: the host's users,
# PAM configuration and sshd are never changed.  Files are left in demo-out/ to look at.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-demo"
work="$top/demo-out/tokens"
# ssm-user must be able to reach its login shell and home under $work: if the tree is not
# searchable by other users (cloned under /root, say), work under /var/tmp instead
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$top/demo" 2>/dev/null; then
	work=/var/tmp/ssmsession-demo/tokens
fi
host_dev=i-0de40000000000001   # the host we log in to (tag Environment=Dev)
host_prod=i-0de40000000000002  # a Prod host in the fleet (only for the broker's decisions)

if [ -t 1 ]; then B1='\033[1m' G='\033[32m' R='\033[31m' N='\033[0m'; else B1='' G='' R='' N=''; fi
say() { printf "\n${B1}==> %s${N}\n" "$*"; }
note() { printf '    %s\n' "$*"; }
ok() { printf "    ${G}OK:${N} %s\n" "$*"; }
bad() { printf "    ${R}UNEXPECTED:${N} %s\n" "$*"; status=1; }
# the last audit event, short
last_event() { $py -c 'import json,sys; e=json.loads(open(sys.argv[1]).readlines()[-1]); print("audit: " + json.dumps({k: e[k] for k in ("event","reason","detail") if k in e}))' log/audit.jsonl; }
# the last audit event must contain every given string (e.g. '"reason": "replay"')
event_has() { _e=$(tail -1 log/audit.jsonl 2>/dev/null | $py -c 'import json,sys; print(json.dumps(json.loads(sys.stdin.read())))' 2>/dev/null); for _w in "$@"; do case $_e in *"$_w"*) ;; *) return 1 ;; esac; done; }
# pamtester's last line without the echo-off prompt
pt_result() { tail -1 "$1" | sed 's/^Session token: //'; }
status=0

if [ "$(id -u)" != 0 ]; then
	echo "demo/tokens.sh: run me as root (I work inside a private mount namespace)" >&2
	exit 2
fi

# ------------------------------------------------------------------ outside: build
if [ "${1:-}" != "--inside" ]; then
	say "Installing build and demo dependencies (tools/deps.sh; nothing if already there)"
	"$top/tools/deps.sh"
	say "Building the project out of tree in build-demo/ (autogen, configure, make)"
	# (flock: other builds of this tree may run autoreconf at the same time)
	mkdir -p "$build"
	(cd "$top" && flock /tmp/ssm-autoreconf.lock ./autogen.sh >"$build/autogen.log" 2>&1) || {
		tail -20 "$build/autogen.log"; echo "autogen.sh failed" >&2; exit 1; }
	# --sysconfdir: ssm-shell reads its configuration only from the compiled-in path, so
	# the demo's build points it into demo-out/ instead of /usr/local/etc
	if [ "$(cat "$build/.demo-sysconfdir" 2>/dev/null)" != "$work/etc" ]; then
		(cd "$build" && "$top/configure" --quiet --sysconfdir="$work/etc" >configure.log 2>&1 &&
			make clean >/dev/null && echo "$work/etc" >.demo-sysconfdir) || {
			tail -20 "$build/configure.log"; echo "configure failed" >&2; exit 1; }
	fi
	(cd "$build" && make -j"$(nproc)" >make.log 2>&1) || {
		tail -30 "$build/make.log" 2>/dev/null; echo "build failed" >&2; exit 1; }
	note "built: $(cd "$build" && ls pam_ssmsession/.libs/pam_ssmsession.so ssmctl/ssmctl ssm-shell/ssm-shell 2>/dev/null | tr '\n' ' ')"
	say "Entering a private mount namespace (unshare --mount --propagation private)"
	SSM_DEMO_OUTER_NS=$(readlink /proc/self/ns/mnt) exec unshare --mount --propagation private \
		-- /bin/sh "$0" --inside
fi

# ------------------------------------------------------------------ inside the namespace
# Refuse to bind-mount anything unless we really are in a new mount namespace.
if [ -z "${SSM_DEMO_OUTER_NS:-}" ] || [ "$(readlink /proc/self/ns/mnt)" = "$SSM_DEMO_OUTER_NS" ]; then
	echo "demo/tokens.sh: --inside is internal; run ./demo/tokens.sh" >&2
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
while getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null ||
	getent passwd $((uid + 1)) >/dev/null || getent group $((uid + 1)) >/dev/null; do
	uid=$((uid + 2))
done
mkdir -p bin
cp "$build/ssm-shell/ssm-shell" bin/ssm-shell
chown root:root bin/ssm-shell && chmod 4755 bin/ssm-shell
echo "ssmsession:x:$uid:$uid:ssmsession recorder:/nonexistent:/usr/sbin/nologin" >>/etc/passwd
echo "ssmsession:x:$uid:" >>/etc/group
echo "ssmsession:!:19000:0:99999:7:::" >>/etc/shadow
uid=$((uid + 1))
echo "ssm-user:x:$uid:$uid:Session Manager user:$work/home/ssm-user:$work/bin/ssm-shell" >>/etc/passwd
echo "ssm-user:x:$uid:" >>/etc/group
echo "ssm-user:!:19000:0:99999:7:::" >>/etc/shadow
mkdir -p home/ssm-user && chown "$uid:$uid" home/ssm-user
printf 'PS1="ssm-user@demo:\\w\\$ "\n' >home/ssm-user/.bashrc
printf '. ~/.bashrc\n' >home/ssm-user/.bash_profile
chown "$uid:$uid" home/ssm-user/.bashrc home/ssm-user/.bash_profile
note "ssm-user (login shell: a setuid-root copy of ssm-shell) and ssmsession (the recorder),"
note "both only in this namespace: $(getent passwd ssm-user)"

say "A throwaway Ed25519 signing key for the broker; the host gets only the public JWK Set"
$ssmtoken keygen --alg EdDSA --kid demo-2026 --out-private broker/key.pem \
	--out-jwks etc/ssmsession/trusted_keys.jwks
note "broker/key.pem (0600) stays with the broker; etc/ssmsession/trusted_keys.jwks: $(tr -d ' \n' <etc/ssmsession/trusted_keys.jwks | cut -c1-90)..."

say "Session documents on the host (and the same bytes in the broker's fleet)"
cat >etc/ssmsession/documents/SSM-SessionManagerRunShell.json <<'EOF'
{
 "schemaVersion": "1.0",
 "description": "Shell sessions: 8 seconds idle timeout for the demo, 10 minutes at most",
 "sessionType": "Standard_Stream",
 "inputs": {
  "runAsEnabled": false,
  "idleSessionTimeout": "1",
  "idleSessionTimeoutSeconds": 8,
  "maxSessionDuration": "10",
  "shellProfile": {"linux": "cd ~; export SESSION_DEMO=yes"}
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
		note "$(basename "$d"): $(tr -d '\n' <"$d" | sed 's/  */ /g' | cut -c1-110)... valid (ssmctl document validate)"
	else
		note "$(basename "$d")"
	fi
done

say "Host configuration (docs/CONTRACT.md section 4) naming this host $host_dev, tagged Environment=Dev"
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
 "log_dir": "$work/log",
 "recorder_user": "ssmsession"
}
EOF
chmod 0644 etc/ssmsession/ssmsession.json etc/ssmsession/trusted_keys.jwks
sed 's/^/    /' etc/ssmsession/ssmsession.json

say "PAM services (private copies): ssm-demo for pamtester, and su / su-l for the terminal sessions"
cat >/etc/pam.d/ssm-demo <<EOF
auth     required  $module
account  required  $module
session  required  $module
EOF
cp /etc/pam.d/ssm-demo /etc/pam.d/su
cp /etc/pam.d/ssm-demo /etc/pam.d/su-l
sed 's/^/    /' /etc/pam.d/ssm-demo
note "(no config= argument: the module and ssm-shell read $work/etc/ssmsession/ssmsession.json,"
note " this build's compiled-in default; on a real host that is /etc/ssmsession/ssmsession.json)"

say "ssm-verifyd, the token verifier the module asks first, as its own unprivileged user"
vuid=$((uid + 1))
while getent passwd "$vuid" >/dev/null || getent group "$vuid" >/dev/null; do vuid=$((vuid + 1)); done
echo "ssm-verifyd:x:$vuid:$vuid:ssmsession token verifier:/nonexistent:/usr/sbin/nologin" >>/etc/passwd
echo "ssm-verifyd:x:$vuid:" >>/etc/group
"$build/verifyd/ssm-verifyd" --config "$work/etc/ssmsession/ssmsession.json" --debug 2>verifyd.log &
verifyd_pid=$!
trap 'kill $verifyd_pid 2>/dev/null' EXIT
i=0
while [ ! -S run/verifyd.sock ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -S run/verifyd.sock ]; then
	note "listening on $work/run/verifyd.sock (root's, mode $(stat -c %a run/verifyd.sock)), running as $(ps -o user= -p $verifyd_pid)"
	note "(the module itself loads no cryptography; without the daemon it verifies in-process)"
else
	bad "ssm-verifyd did not start: $(cat verifyd.log)"
fi

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
	if "$ssmctl" token verify - <token1 >verify.out 2>&1; then
		ok "ssmctl token verify: valid for run_as $(sed -n 's/.*"run_as": *"\([^"]*\)".*/\1/p' verify.out | head -1)"
	else
		note "ssmctl token verify: $(cat verify.out)"
	fi
fi

say "2. Log in as ssm-user through the real PAM library: pamtester auth, acct_mgmt, open_session, close_session"
if pamtester -v ssm-demo ssm-user authenticate acct_mgmt open_session close_session <token1 2>&1 |
	sed 's/^/    /'; then :; fi
if grep -q '"session_start"' log/audit.jsonl 2>/dev/null && grep -q '"session_end"' log/audit.jsonl; then
	ok "session opened and closed (session_start and session_end are in the audit log)"
else
	bad "the login with a fresh token failed"
fi

if pamtester ssm-demo ssm-user authenticate </dev/null >/dev/null 2>&1; then
	bad "a login without a token succeeded"
elif ! event_has '"event": "login_denied"'; then
	bad "refused, but not logged: $(last_event)"
else
	ok "and a login with no token at all fails; $(last_event)"
fi
say "3. Replay: the same token again is refused (its jti is remembered until exp + leeway)"
if pamtester ssm-demo ssm-user authenticate <token1 >replay.out 2>&1; then
	bad "the replayed token was accepted"
elif ! event_has '"reason": "replay"'; then
	bad "refused, but not as a replay: $(last_event)"
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
elif ! event_has '"detail": "bad signature"'; then
	bad "refused, but not for its signature: $(last_event)"
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
elif ! event_has '"detail": "wrong audience"'; then
	bad "refused, but not for its audience: $(last_event)"
else
	ok "this Dev host refuses it (aud is $host_prod): $(pt_result aud.out); $(last_event)"
fi

# ------------------------------------------------------------------ terminal sessions
tmx() { tmux -S "$work/tmux.sock" "$@"; }
# wait up to $2 seconds for the pane of session $1 to show a line matching ERE $3
pane_wait() {
	_i=0
	while [ $_i -lt $(($2 * 10)) ]; do
		tmx capture-pane -p -J -t "$1" 2>/dev/null | grep -Eq -- "$3" && return 0
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
pane_dead() { [ "$(tmx display-message -p -t "$1" '#{pane_dead}' 2>/dev/null)" = 1 ]; }
pane_show() { tmx capture-pane -p -J -t "$1" | sed -e '/^$/d' -e '/^Pane is dead/d' -e 's/^/    | /'; }
# start "su - ssm-user" in a detached 100x24 terminal; the pane stays after it ends
su_session() { # NAME TOKENFILE
	tmx new-session -d -s "$1" -x 100 -y 24 "TERM=xterm LANG=C.UTF-8 su - ssm-user"
	tmx set-option -t "$1" remain-on-exit on >/dev/null
	pane_wait "$1" 5 'Session token:' || { bad "no token prompt"; pane_show "$1"; return 1; }
	tmx send-keys -t "$1" -l "$(cat "$2")"
	tmx send-keys -t "$1" Enter
}
last_sid() { $py -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"session_start\"" in l][-1]["sid"])' log/audit.jsonl; }

if ! command -v tmux >/dev/null 2>&1; then
	note "tmux is missing: skipping the terminal sessions"
else
say "7. A Standard_Stream session on a real terminal (tmux): su - ssm-user, the token at the prompt"
note "su's PAM stack is pam_ssmsession; ssm-user's login shell is ssm-shell, which finds this"
note "login's session record, starts bash in a new pid namespace and records the terminal"
$B start-session --user alice --target "$host_dev" 2>/dev/null >token4
if su_session s1 token4 && pane_wait s1 10 'ssm-user@demo'; then
	tmx send-keys -t s1 'whoami; echo "profile ran: $SESSION_DEMO"; pwd; echo "processes visible: $(ps -e --no-headers | wc -l)"' Enter
	pane_wait s1 5 '^processes visible: [0-9]+' || true
	tmx send-keys -t s1 'exit' Enter
	i=0; while ! pane_dead s1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	pane_show s1
	sid1=$(last_sid)
	ok "session $sid1 ended; $(last_event)"
else
	bad "no shell prompt"; pane_show s1
fi
tmx kill-session -t s1 2>/dev/null || true

say "8. The transcript: asciinema cat $work/log/sessions/${sid1:-SID}.cast (root's, 0640)"
if [ -n "${sid1:-}" ] && [ -f "log/sessions/$sid1.cast" ]; then
	note "$(stat -c '%U:%G %a %s bytes' "log/sessions/$sid1.cast"); header: $(head -1 "log/sessions/$sid1.cast" | cut -c1-100)..."
	if command -v asciinema >/dev/null 2>&1; then
		# asciinema cat wants a terminal (/dev/tty): run it in one, keep what it prints
		tmx new-session -d -s cat -x 100 -y 24 \
			"cd '$work' && asciinema cat 'log/sessions/$sid1.cast' >cat.out 2>&1"
		i=0; while tmx has-session -t cat 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		tr -d '\r' <cat.out | sed -e 's/\x1b\[[?0-9;]*[A-Za-z]//g' -e '/^$/d' -e 's/^/    > /'
	else
		sed 's/^/    > /' "log/sessions/$sid1.cast"
	fi
else
	bad "no transcript for the session"
fi

say "9. An InteractiveCommands document (ViewLog: tail -n 5 {{ logpath }}): one command, never a shell"
$B start-session --user alice --target "$host_dev" --document ViewLog \
	--parameters '{"logpath": ["/var/log/dpkg.log"]}' 2>/dev/null >token5
if su_session s2 token5; then
	i=0; while ! pane_dead s2 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	pane_show s2 | tail -7
	ok "the command ran and the session ended with it; $(last_event)"
fi
tmx kill-session -t s2 2>/dev/null || true
note "a hostile parameter: logpath = '/var/log/dpkg.log; cat /etc/shadow' (the broker passes it on,"
note "it is the host that checks parameters against the document it holds)"
$B start-session --user alice --target "$host_dev" --document ViewLog \
	--parameters '{"logpath": ["/var/log/dpkg.log; cat /etc/shadow"]}' 2>/dev/null >token6
if su_session s3 token6; then
	i=0; while ! pane_dead s3 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if pane_show s3 | grep -q 'root:'; then
		bad "the hostile parameter ran a command"
	else
		pane_show s3 | tail -3
		ok "refused before any command ran; $(last_event)"
	fi
fi
tmx kill-session -t s3 2>/dev/null || true

say "10. Idle timeout: a shell nobody types into ends after idleSessionTimeoutSeconds (8 s here)"
$B start-session --user alice --target "$host_dev" 2>/dev/null >token7
if su_session s4 token7 && pane_wait s4 10 'ssm-user@demo'; then
	t0=$(date +%s)
	i=0; while ! pane_dead s4 && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	pane_show s4 | tail -3
	if pane_dead s4; then
		ok "ended after $(($(date +%s) - t0)) s without input; $(last_event)"
	else
		bad "the idle session is still running"
	fi
fi
tmx kill-session -t s4 2>/dev/null || true
tmx kill-server 2>/dev/null || true
fi

say "11. The audit log: $work/log/audit.jsonl (one JSON object a line)"
if command -v jq >/dev/null 2>&1; then
	if [ -t 1 ]; then jq -C . log/audit.jsonl; else jq . log/audit.jsonl; fi | sed 's/^/    /'
else
	while IFS= read -r line; do printf '%s\n' "$line" | $py -m json.tool | sed 's/^/    /'; done <log/audit.jsonl
fi

say "ssm-verifyd's verdicts (its log, --debug; tokens are never logged)"
sed 's/^/    /' verifyd.log | tail -n 8
nv=$(grep -c 'verdict 0 valid' verifyd.log)
if [ "$nv" -ge 1 ]; then
	ok "$nv valid verdicts and $(grep -c 'verdict -13' verifyd.log) refusals came from ssm-verifyd"
else
	bad "ssm-verifyd gave no valid verdict"
fi

say "Done.  The host's real /etc/passwd, /etc/pam.d and sshd were not touched; files are in $work"
[ $status = 0 ] || echo "SOME STEPS DID NOT BEHAVE AS EXPECTED (see UNEXPECTED above)"
exit $status
