#!/bin/sh
# channel_sessions.sh - sessions over the broker channel end to end (issue 8), as root:
# `ssm start-session` (client) -> ssm-broker (StartSession: policy, token, attach) -> the
# host's ssm-agent (dialled out; the login through the PAM service ssm-session and the
# real pam_ssmsession, the user's login shell ssm-shell) and back.
#
# Isolation: private mount and pid namespaces (tests/shell_setup.sh: /etc overlaid,
# throwaway users, ssm-shell setuid in $T/bin), and two network namespaces joined by a veth
# pair (169.254.78.0/30): the broker and the client in one, the host in the other, which
# listens on nothing.  Every wait polls (ssm_wait_for) with a bound.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
command -v ss >/dev/null 2>&1 || { echo "SKIP: ss missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

BROKER=$builddir/brokerd/ssm-broker
AGENT=$builddir/agent/ssm-agent
SSMCTL=$builddir/ssmctl/ssmctl
SSM=$builddir/client/ssm
MODULE=$builddir/pam_ssmsession/.libs/pam_ssmsession.so
for p in "$BROKER" "$AGENT" "$SSMCTL" "$SSM" "$MODULE"; do
	[ -e "$p" ] || { echo "FAIL: $p not built"; exit 1; }
done

# the run-as users log in with ssm-shell, as ssm-user does
sed -i -e "s|^\(ssmtu2\{0,1\}:.*:\)/bin/bash\$|\1$SSM_SHELL|" /etc/passwd
grep -q "^ssmtu:.*:$SSM_SHELL\$" /etc/passwd || { echo "FAIL: cannot set ssmtu's shell"; exit 1; }

# /run of our own: ip netns and utmp stay in this namespace
mount -t tmpfs -o mode=0755 ssm-run /run || { echo "FAIL: cannot mount /run"; exit 1; }
touch /run/utmp && chmod 0664 /run/utmp
NB=ssmsb$$ NH=ssmsh$$ VB=vsb$$ VH=vsh$$
BIP=169.254.78.1 HIP=169.254.78.2 PORT=8443 URL=https://169.254.78.1:8443
PIDS=""
cleanup_net() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del "$NB" 2>/dev/null
	ip netns del "$NH" 2>/dev/null
}
trap cleanup_net EXIT
ip netns add "$NB" && ip netns add "$NH" || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip link add "$VB" type veth peer name "$VH" || { echo "SKIP: no veth"; exit 77; }
ip link set "$VB" netns "$NB" && ip link set "$VH" netns "$NH"
ip -n "$NB" addr add "$BIP/30" dev "$VB" && ip -n "$NH" addr add "$HIP/30" dev "$VH"
for n in "$NB" "$NH"; do ip -n "$n" link set lo up; done
ip -n "$NB" link set "$VB" up && ip -n "$NH" link set "$VH" up
IB="ip netns exec $NB"
IH="ip netns exec $NH"
ST=$T/st

# ---- the broker
$IB "$BROKER" serve --state-dir "$ST" --listen "$BIP:$PORT" --keepalive 2:6 >"$T/broker.log" 2>&1 &
PIDS="$PIDS $!"
ssm_check "the broker starts" ssm_wait_for 10 grep -q "listening on $BIP:$PORT" "$T/broker.log"

# ---- documents: the same bytes at the broker and on the host
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "20"}}'
mkdoc Cmd-Id '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo CHAN-OK-$(id -un); exit 7"}}}'
mkdoc Cmd-Seq '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "seq 1 400000"}}}'
mkdoc Cmd-Sleep '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo SLEEPING; exec sleep 1000"}}}'
for d in SSM-SessionManagerRunShell Cmd-Id Cmd-Seq Cmd-Sleep; do
	"$BROKER" document put --state-dir "$ST" "$d" "$T/docs/$d.json" >/dev/null 2>"$T/doc.err" ||
		{ echo "FAIL: document put $d: $(cat "$T/doc.err")"; exit 1; }
done

# ---- the host: registered by activation, its configuration completed for sessions
"$BROKER" activation create --state-dir "$ST" --limit 1 --expires 1h --tag Environment=Dev >"$T/act"
ACT_ID=$(awk '/^activation_id:/{print $2}' "$T/act")
ACT_CODE=$(awk '/^activation_code:/{print $2}' "$T/act")
ssm_check "the host registers" sh -c "$IH '$SSMCTL' register --broker $URL --ca '$ST/ca.crt' \
	--activation-id $ACT_ID --activation-code $ACT_CODE --config '$CONF_PATH' >'$T/hid' 2>'$T/reg.err'"
HID=$(cat "$T/hid")
python3 - "$CONF_PATH" "$T" <<'PY'
import json, sys
p, t = sys.argv[1:3]
c = json.load(open(p))
c.update({"documents_dir": t + "/docs", "run_as_allowed": ["ssmtu", "ssmtu2"],
          "run_dir": t + "/run", "log_dir": t + "/log", "state_dir": t + "/state",
          "recorder_user": "ssmsession"})
json.dump(c, open(p, "w"))
PY
chmod 0644 "$CONF_PATH"
if sh -c 'echo 0 >/proc/self/loginuid' 2>/dev/null; then
	loginuid_ok=1
	printf 'auth required %s\naccount required %s\nsession required pam_loginuid.so\nsession required pam_limits.so\nsession required %s\n' \
		"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/ssm-session
else
	loginuid_ok=
	echo "note: /proc/self/loginuid is not writable here: no pam_loginuid in the stack"
	printf 'auth required %s\naccount required %s\nsession required pam_limits.so\nsession required %s\n' \
		"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/ssm-session
fi
$IH "$AGENT" --config "$CONF_PATH" --keepalive 2:6 >"$T/agent.log" 2>&1 &
APID=$!
PIDS="$PIDS $APID"
ssm_check "the agent links up" ssm_wait_for 15 grep -q "agent $HID linked" "$T/broker.log"
ssm_check "no listening socket in the host's network namespace" sh -c "[ -z \"\$($IH ss -Htuln)\" ]"

# ---- the user: alice, sessions as ssmtu on Dev hosts
printf 'correct horse\n' | "$BROKER" user add alice --state-dir "$ST" >/dev/null
"$BROKER" user set-run-as alice ssmtu --state-dir "$ST" >/dev/null
cat >"$T/dev.json" <<EOF
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession",
  "Resource": ["arn:aws:ssm:*:*:managed-instance/*", "arn:aws:ssm:*:*:document/*"],
  "Condition": {"StringEquals": {"ssm:resourceTag/Environment": ["Dev"]}}},
 {"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "arn:aws:ssm:*:*:document/*"},
 {"Effect": "Allow", "Action": ["ssm:TerminateSession", "ssm:ResumeSession"],
  "Resource": "arn:aws:ssm:*:*:session/\${aws:username}-*"},
 {"Effect": "Allow", "Action": ["ssm:DescribeSessions", "ssm:DescribeInstanceInformation"], "Resource": "*"}]}
EOF
"$BROKER" policy attach --user alice "$T/dev.json" --state-dir "$ST" >/dev/null
ssm_check "ssm login as alice" sh -c "printf 'correct horse\n' | XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' login --broker $URL --ca '$ST/ca.crt' --user alice >/dev/null 2>'$T/login.err'"
ssm() { XDG_CONFIG_HOME="$T/cfg" $IB "$SSM" "$@"; }

# ---- NonInteractiveCommands: output and exit status
rc=0
ssm start-session --target "$HID" --document-name Cmd-Id >"$T/id.out" 2>"$T/id.err" </dev/null || rc=$?
ssm_check "a command session runs as the run-as user and its output comes back" grep -qx "CHAN-OK-ssmtu" "$T/id.out"
ssm_check "  the client exits with the command's status (7)" [ "$rc" = 7 ]
[ "$rc" = 7 ] || { cat "$T/id.err"; tail -20 "$T/agent.log"; tail -20 "$T/broker.log"; }
ssm_check "  the host's audit log has its session_start and session_end" sh -c \
	"grep -q '\"event\":\"session_start\"' '$T/log/audit.jsonl' && grep -q '\"event\":\"session_end\"' '$T/log/audit.jsonl'"

# a shell session without a terminal: standard input is the shell's, its end ends the shell
# (NonInteractiveCommands sessions read nothing: their standard input is /dev/null)
printf 'id -un\necho INPUT-$((6*7))\n' >"$T/in.txt"
rc=0
ssm start-session --target "$HID" <"$T/in.txt" >"$T/in.out" 2>"$T/in.err" || rc=$?
ssm_check "standard input reaches a shell session without a terminal" sh -c \
	"grep -qx ssmtu '$T/in.out' && grep -qx INPUT-42 '$T/in.out' || { cat '$T/in.out' '$T/in.err'; false; }"
ssm_check "  and its end ends the shell (status 0)" [ "$rc" = 0 ]

# several windows of output: nothing lost, nothing repeated
ssm start-session --target "$HID" --document-name Cmd-Seq </dev/null >"$T/seq.out" 2>"$T/seq.err"
ssm_check "2.7 MB of output arrive byte for byte" sh -c \
	"[ \"\$(seq 1 400000 | sha256sum)\" = \"\$(sha256sum <'$T/seq.out')\" ] || { wc -c '$T/seq.out'; cat '$T/seq.err'; false; }"

# ---- a terminal session (Standard_Stream) on tmux
ssm_tmux_start chan 100 30 "XDG_CONFIG_HOME='$T/cfg' TERM=xterm $IB '$SSM' start-session --target '$HID'; echo CLIENT-EXIT=\$?; stty -a | grep -q ' icanon' && echo TTY-RESTORED"
ssm_check "a shell session gives a prompt" ssm_tmux_wait chan 20 'ssmtu\$'
ssm_tmux_keys chan 'whoami; tty' Enter
ssm_check "  whoami is the run-as user, on a pty" ssm_tmux_wait chan 10 '^/dev/pts/'
ssm_check "  whoami says ssmtu" ssm_tmux_wait chan 5 '^ssmtu$'
if [ -n "$loginuid_ok" ]; then
	ssm_tmux_keys chan 'cat /proc/self/loginuid; echo' Enter
	ssm_check "  the login uid is the user's (pam_loginuid ran)" ssm_tmux_wait chan 5 '^61001$'
fi
ssm_tmux_keys chan 'stty size' Enter
ssm_check "  the terminal has the client's size (30 100)" ssm_tmux_wait chan 5 '^30 100$'
ssm_tmux_keys chan 'exit 3' Enter
ssm_check "  exit 3 ends it: the client exits 3" ssm_tmux_wait chan 10 'CLIENT-EXIT=3'
ssm_check "  and the terminal is restored" ssm_tmux_wait chan 5 'TTY-RESTORED'

# ---- TerminateSession: within 2 s, nothing left running
ssm start-session --target "$HID" --document-name Cmd-Sleep </dev/null >"$T/sleep.out" 2>"$T/sleep.err" &
CPID=$!
ssm_check "a long command session starts" ssm_wait_for 15 grep -q SLEEPING "$T/sleep.out"
SID=$(ssm describe-sessions --state Active 2>/dev/null | python3 -c 'import json,sys; print([s["SessionId"] for s in json.load(sys.stdin)["Sessions"] if s.get("DocumentName") == "Cmd-Sleep"][0])')
ssm_check "  describe-sessions lists it as active ($SID)" [ -n "$SID" ]
t0=$(date +%s%N)
ssm_check "terminate-session is accepted" sh -c "XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' terminate-session --session-id '$SID' >/dev/null"
ssm_check "  the client's session ends within 2 s" ssm_wait_for 2 sh -c "! kill -0 $CPID 2>/dev/null"
t1=$(date +%s%N)
echo "note: terminate to client exit: $(( (t1 - t0) / 1000000 )) ms"
ssm_check "  no process of the run-as user is left" ssm_wait_for 3 sh -c "! pgrep -u ssmtu >/dev/null"
wait $CPID 2>/dev/null
ssm_check "  the session is in the history as Terminated" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' describe-sessions --state History | python3 -c 'import json,sys; s=[x for x in json.load(sys.stdin)[\"Sessions\"] if x[\"SessionId\"] == \"$SID\"]; assert s and s[0][\"Status\"] == \"Terminated\", s'"

# ---- transcripts: every session's, delivered to the broker byte for byte
same_transcripts() {
	n=0
	for f in "$T/log/sessions/"*.cast; do
		b="$ST/transcripts/$HID/$(basename "$f")"
		cmp -s "$f" "$b" || return 1
		n=$((n + 1))
	done
	[ "$n" -ge 5 ]
}
ssm_check "every transcript reaches the broker, byte for byte" ssm_wait_for 15 same_transcripts
same_transcripts || ls -l "$T/log/sessions" "$ST/transcripts/$HID"
ssm_check "  and is marked complete there" sh -c "python3 -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*), sum(complete) FROM transcripts\").fetchone(); sys.exit(0 if r[0] >= 5 and r[0] == r[1] else 1)' '$ST/broker.db'"

ssm_check "no listening socket on the host after all that" sh -c "[ -z \"\$($IH ss -Htuln)\" ]"
ssm_check "the agent logs no protocol error" sh -c "! grep -qi 'protocol error' '$T/agent.log' '$T/broker.log'"

kill "$APID" 2>/dev/null
ssm_done
