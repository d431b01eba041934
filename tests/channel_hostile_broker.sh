#!/bin/sh
# channel_hostile_broker.sh - ssm-agent against a malicious broker (issue 8, "Hostile peers"),
# as root.  A host is registered with the real ssm-broker; then the broker is stopped and
# tests/hostile_broker.py takes its address with the broker's own certificate and key, so the
# agent's TLS checks pass and every refusal below is the agent's protocol code speaking.  One
# bad thing per connection (oversized, truncated, unknown, out-of-window and wrong-offset
# frames, frames for channels that are not the broker's, a forged session token, real tokens
# signed with the broker's key that PAM must refuse (expired, for another host, replayed), DOCUMENT
# channels answered with bytes of another hash, bytes that are no document, more than the
# agent granted, or nothing, ...): the
# agent answers each with GOAWAY (or CLOSE for the session), drops the connection, reconnects,
# and never crashes (the suite also runs this under ASan+UBSan).  Then the real broker is back
# and a session works over the same agent process.  Then the same for the users' client: the
# hostile broker answers `ssm start-session` and abuses the session channel; the client exits
# non-zero with one clear line, prints no escape sequence a broker sent, and never crashes.
# Last, a malicious host against the real broker, with a second host's real certificate:
# bad frames, a path in a transcript name, a flood of 2000 OPENs; the broker refuses each,
# and another host's session through it goes on to its end untouched.
#
# Isolation as in channel_sessions.sh (tests/channel_setup.sh): private mount and pid
# namespaces, two network namespaces joined by a veth pair (169.254.77.0/30).
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"
. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net x 169.254.77
chan_broker --keepalive 2:6
mkdoc Cmd-Id '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo CHAN-OK-$(id -un)"}}}'
mkdoc Cmd-Ticks '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "i=1; while [ $i -le 30 ]; do echo TICK-$i; sleep 0.3; i=$((i+1)); done"}}}'
chan_docs Cmd-Id Cmd-Ticks
chan_host Environment=Dev
chan_pam
chan_agent --keepalive 2:6
cat >"$T/pol.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "*"}]}
EOF
chan_user alice "$T/pol.json"
ssm() { XDG_CONFIG_HOME="$T/cfg" $IB "$SSM" "$@"; }
# FILE: the hostile peer's JSON lines as "ok|bad TAB case TAB what it got"
cases_of() {
	python3 -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "case" in r:
        print("%s\t%s\t%s" % ("ok" if r["ok"] else "bad", r["case"], r["got"] + ("" if r["ok"] else " (wanted " + " or ".join(r["want"]) + ")")))' "$1"
}
ssm_check "a session works before" sh -c "ssm() { XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' \"\$@\"; };
	ssm start-session --target '$HID' --document-name Cmd-Id </dev/null 2>'$T/s1.err' | grep -qx CHAN-OK-ssmtu"

# an audit line for the agent to deliver: its AUDIT channel is the one-way channel the hostile
# broker abuses (DATA against a zero window, ACKs beyond what was sent...)
printf '{"event":"hostile_broker_test"}\n' >>"$T/log/audit.jsonl"
chmod 0600 "$T/log/audit.jsonl"

# real tokens, signed with the broker's key, that PAM must refuse when a broker sends them:
# expired, for another host, and one the hostile broker sends twice (a replay)
PY=${SSM_PYTHON:-/usr/bin/python3}
ISS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["issuer"])' "$CONF_PATH")
KID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][0]["kid"])' "$ST/jwks.json")
mkdir -p "$T/tokens"
mintt() { "$PY" "$srcdir/broker/ssmtoken.py" mint --key "$ST/signing.key" --kid="$KID" --iss "$ISS" \
	--sub alice --run-as ssmtu --doc-name Cmd-Id --doc-file "$T/docs/Cmd-Id.json" "$@"; }
mintt --aud "$HID" --sid alice-0000000000000000a >"$T/tokens/replay" &&
	mintt --aud "$HID" --sid alice-0000000000000000b --now $(($(date +%s) - 3600)) --lifetime 60 >"$T/tokens/expired" &&
	mintt --aud mi-00000000000000000 --sid alice-0000000000000000c >"$T/tokens/otherhost" ||
	{ echo "FAIL: cannot mint the test tokens (python3-jwt?)"; exit 1; }
export HOSTILE_TOKENS="$T/tokens"

# ---- the broker goes, the hostile one takes its address and certificate
kill "$BPID"
wait "$BPID" 2>/dev/null
ssm_check "the agent sees the broker gone" ssm_wait_for 15 grep -q "disconnected" "$T/agent.log"
: >"$T/hostile.jsonl"
$IB python3 "$srcdir/tests/hostile_broker.py" "$BIP" "$PORT" "$ST/server.crt" "$ST/server.key" \
	"$T/hostile.jsonl" >"$T/hostile.log" 2>&1 &
HPID=$!
PIDS="$PIDS $HPID"
ssm_check "the hostile broker listens" ssm_wait_for 10 grep -q "listening" "$T/hostile.log"
ncases=$(sed -n '/^CASES = \[/,/^\]/p' "$srcdir/tests/hostile_broker.py" | grep -c '^    ("')
ssm_check "the agent went through all $ncases cases" ssm_wait_for 240 grep -q '"done"' "$T/hostile.jsonl"
[ -s "$T/hostile.log" ] && grep -v listening "$T/hostile.log" | head -5
cases_of "$T/hostile.jsonl" >"$T/cases.txt"
while IFS='	' read -r verdict name got; do
	ssm_check "hostile broker: $name -> $got" [ "$verdict" = ok ]
done <"$T/cases.txt"
ssm_check "every case was played" [ "$(wc -l <"$T/cases.txt")" = "$ncases" ]
ssm_check "the agent is still running (no crash)" kill -0 "$APID"
ssm_check "the agent logged the protocol errors" grep -q "protocol error from the broker" "$T/agent.log"
# (a token PAM refuses before it trusts its claims is audited without its sid)
denied() { grep '"event":"login_denied"' "$T/log/audit.jsonl" | grep -q "$2" || { grep login_denied "$T/log/audit.jsonl" | tail -3; false; }; }
ssm_check "a real token that expired: PAM's login_denied says expired" denied alice-0000000000000000b expired
ssm_check "a real token for another host: PAM's login_denied says wrong audience" denied alice-0000000000000000c "wrong audience"
ssm_check "a real token sent twice: the first ran, PAM's login_denied says replay" sh -c \
	"grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | grep -q '\"sid\":\"alice-0000000000000000a\"' &&
	 grep '\"event\":\"login_denied\"' '$T/log/audit.jsonl' | grep '\"sid\":\"alice-0000000000000000a\"' | grep -q replay"
# the DOCUMENT cases: whatever the broker sent, nothing entered the host's cache
ssm_check "DOCUMENT: the agent refused bytes of another hash" \
	grep -q "document Hostile-Doc from the broker refused: .*the bytes received hash to" "$T/agent.log"
ssm_check "DOCUMENT: the agent refused bytes that are not a document" \
	grep -q "document Hostile-Doc from the broker refused: .*not a valid session document" "$T/agent.log"
ssm_check "DOCUMENT: the agent gave up on a broker that never answered" \
	grep -q "document Hostile-Doc: no answer from the broker within 15 s" "$T/agent.log"
ssm_check "DOCUMENT: nothing the hostile broker sent is in the host's cache" sh -c \
	"! ls -A '$T/state/documents' 2>/dev/null | grep -q '^Hostile-Doc@'"
# a session terminated while its login waited: dropped (its token with it); the document
# that came after was stored, and started no login for it
psid=$(sed -n 's/.*session \(alice-[0-9a-f]*\): waiting for document Hostile-Parked from.*/\1/p' \
	"$T/agent.log" | head -n 1)
ssm_check "DOCUMENT: a session waiting for its document was terminated" \
	grep -q "session ${psid:-none}: terminated while waiting for its document" "$T/agent.log"
ssm_check "DOCUMENT: its document, arriving after, was stored" \
	grep -q "document Hostile-Parked (sha256 [0-9a-f]*, [0-9]* bytes): received from the broker, cached" \
	"$T/agent.log"
ssm_check "DOCUMENT: and no login started for the terminated session" sh -c \
	"! grep -q 'session ${psid:-none}: login of' '$T/agent.log'"

# ---- the real broker is back: the same agent process links up and serves a session
kill "$HPID" 2>/dev/null
wait "$HPID" 2>/dev/null
n=$(grep -c "agent $HID linked" "$T/broker.log")
chan_broker --keepalive 2:6
ssm_check "the same agent links up with the real broker" ssm_wait_for 40 sh -c \
	"[ \$(grep -c 'agent $HID linked' '$T/broker.log') -gt $n ]"
ssm_check "a session works after" sh -c "XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' start-session --target '$HID' \
	--document-name Cmd-Id </dev/null 2>'$T/s2.err' | grep -qx CHAN-OK-ssmtu"
ssm_check "the agent is still the same process" kill -0 "$APID"

# ---- the users' client against a malicious broker: one `ssm start-session` per case
kill "$APID" 2>/dev/null
wait "$APID" 2>/dev/null
kill "$BPID" 2>/dev/null
wait "$BPID" 2>/dev/null
: >"$T/hostile-client.jsonl"
$IB python3 "$srcdir/tests/hostile_broker.py" "$BIP" "$PORT" "$ST/server.crt" "$ST/server.key" \
	"$T/hostile-client.jsonl" client >"$T/hostile-client.log" 2>&1 &
HPID=$!
PIDS="$PIDS $HPID"
ssm_check "the hostile broker listens for clients" ssm_wait_for 10 grep -q "listening" "$T/hostile-client.log"
ncases=$(sed -n '/^CLIENT_CASES = \[/,/^\]/p' "$srcdir/tests/hostile_broker.py" | grep -c '^    ("')
i=0
while [ "$i" -lt "$ncases" ]; do
	i=$((i + 1))
	rc=0
	timeout 30 sh -c "XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' start-session --target '$HID' \
		--document-name Cmd-Id </dev/null >'$T/hc$i.out' 2>'$T/hc$i.err'" || rc=$?
	echo "$rc" >"$T/hc$i.rc"
done
ssm_wait_for 10 grep -q '"done"' "$T/hostile-client.jsonl"
cases_of "$T/hostile-client.jsonl" >"$T/ccases.txt"
i=0
while IFS='	' read -r verdict name got; do
	i=$((i + 1))
	ssm_check "hostile broker to the client: $name -> $got" [ "$verdict" = ok ]
	ssm_check "  the client exits non-zero (255 as ssh, not by a signal) and says why" sh -c \
		"rc=\$(cat '$T/hc$i.rc'); { [ \"\$rc\" -gt 0 ] && [ \"\$rc\" -lt 124 ] || [ \"\$rc\" = 255 ]; } &&
		grep -q -e 'protocol error from the broker' -e 'connection to the broker was lost' '$T/hc$i.err'"
	ssm_check_not "  no sanitizer report, no escape sequence printed" \
		grep -q -e AddressSanitizer -e 'runtime error' -e LeakSanitizer -e "$(printf '\033')" "$T/hc$i.err"
done <"$T/ccases.txt"
ssm_check "every client case was played" [ "$i" = "$ncases" ]

# ---- a malicious host against the real broker: another host's session goes on meanwhile
kill "$HPID" 2>/dev/null
wait "$HPID" 2>/dev/null
chan_broker --keepalive 2:6
$IH "$AGENT" --config "$CONF_PATH" --keepalive 2:6 >>"$T/agent.log" 2>&1 &
APID=$!
PIDS="$PIDS $APID"
ssm_check "the real broker and the host's agent are back" \
	ssm_wait_for 20 sh -c "[ \$(grep -c 'agent $HID linked' '$T/broker.log') -ge 3 ]"
"$BROKER" activation create --state-dir "$ST" --limit 1 --expires 1h >"$T/act2"
mkdir -p "$T/h2"
ssm_check "a second host registers (the hostile one)" sh -c "$IH '$SSMCTL' register --broker $URL --ca '$ST/ca.crt' \
	--activation-id $(awk '/^activation_id:/{print $2}' "$T/act2") \
	--activation-code $(awk '/^activation_code:/{print $2}' "$T/act2") \
	--config '$T/h2/ssmsession.json' >'$T/h2/id' 2>'$T/h2/reg.err'"
XDG_CONFIG_HOME="$T/cfg" $IB "$SSM" start-session --target "$HID" --document-name Cmd-Ticks \
	</dev/null >"$T/ticks.out" 2>"$T/ticks.err" &
TPID=$!
ssm_wait_for 15 grep -q TICK-1 "$T/ticks.out"
: >"$T/hostile-host.jsonl"
$IH python3 "$srcdir/tests/hostile_broker.py" "$BIP" "$PORT" "$T/h2/host.crt" "$T/h2/host.key" \
	"$T/hostile-host.jsonl" host "$ST/ca.crt" >"$T/hostile-host.log" 2>&1
cases_of "$T/hostile-host.jsonl" >"$T/hcases.txt"
while IFS='	' read -r verdict name got; do
	ssm_check "hostile host to the broker: $name -> $got" [ "$verdict" = ok ]
done <"$T/hcases.txt"
ncases=$(sed -n '/^HOST_CASES = \[/,/^\]/p' "$srcdir/tests/hostile_broker.py" | grep -c '^    ("')
ssm_check "every hostile-host case was played" [ "$(wc -l <"$T/hcases.txt")" = "$ncases" ]
ssm_check "  the broker is still running" kill -0 "$BPID"
rc=0
wait "$TPID" || rc=$?
ssm_check "  meanwhile the other host's session went on to its end, every line in order" sh -c \
	"[ $rc = 0 ] && [ \"\$(cat '$T/ticks.out')\" = \"\$(seq 1 30 | sed 's/^/TICK-/')\" ]"
ssm_check "  and that host's agent kept its link" sh -c \
	"[ \$(grep -c 'agent $HID linked' '$T/broker.log') = 3 ]"
if [ "$SSM_FAIL" -gt 0 ]; then
	echo "--- agent.log"; tail -40 "$T/agent.log"
	echo "--- hostile.log"; tail -20 "$T/hostile.log"
	echo "--- hostile-client.log"; tail -20 "$T/hostile-client.log"
	for f in "$T"/hc*.err; do [ -e "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done
fi
ssm_done
