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

. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net s 169.254.78
chan_broker --keepalive 2:6

# ---- documents: the same bytes at the broker and on the host
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "20"}}'
mkdoc Cmd-Id '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo CHAN-OK-$(id -un); exit 7"}}}'
mkdoc Cmd-Seq '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "seq 1 400000"}}}'
mkdoc Cmd-Sleep '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo SLEEPING; exec sleep 1000"}}}'
chan_port_docs
chan_docs SSM-SessionManagerRunShell Cmd-Id Cmd-Seq Cmd-Sleep AWS-StartPortForwardingSession AWS-StartSSHSession

# ---- the host: registered by activation, its configuration completed for sessions
chan_host Environment=Dev
chan_pam
chan_agent --keepalive 2:6
ssm_check "no listening socket in the host's network namespace" sh -c "[ -z \"\$($IH ss -Htuln)\" ]"

# ---- the user: alice, sessions as ssmtu on Dev hosts
cat >"$T/dev.json" <<EOF
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession",
  "Resource": ["arn:aws:ssm:*:*:managed-instance/*", "arn:aws:ssm:*:*:document/*"],
  "Condition": {"StringEquals": {"ssm:resourceTag/Environment": ["Dev"]}}},
 {"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "arn:aws:ssm:*:*:document/*"},
 {"Effect": "Allow", "Action": ["ssm:TerminateSession", "ssm:ResumeSession", "ssm:GetTranscript"],
  "Resource": "arn:aws:ssm:*:*:session/\${aws:username}-*"},
 {"Effect": "Allow", "Action": ["ssm:DescribeSessions", "ssm:DescribeInstanceInformation"], "Resource": "*"}]}
EOF
chan_user alice "$T/dev.json"
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

# ---- Port sessions: servers on the host's loopback only, reached through the channel
ssm_check "still no listening socket in the host's namespace before its servers start" sh -c "[ -z \"\$($IH ss -Htuln)\" ]"
mkdir -p "$T/www" && head -c 3000000 /dev/urandom >"$T/www/blob" && chmod -R a+rX "$T/www"
$IH python3 -m http.server --bind 127.0.0.1 --directory "$T/www" 8080 >"$T/http.log" 2>&1 &
PIDS="$PIDS $!"
ssm_wait_for 10 sh -c "$IH ss -Hltn | grep -q 127.0.0.1:8080" || echo "note: the web server did not start"
ssm start-session --target "$HID" --document-name AWS-StartPortForwardingSession \
	--parameters portNumber=8080,localPortNumber=0 </dev/null >"$T/pf.out" 2>"$T/pf.err" &
PFPID=$!
PIDS="$PIDS $PFPID"
ssm_check "port forwarding: a local listener opens" ssm_wait_for 15 grep -q "^Port [0-9]* opened for sessionId" "$T/pf.err"
LPORT=$(sed -n 's/^Port \([0-9]*\) opened.*/\1/p' "$T/pf.err")
ssm_check "  curl through the local port gets the host's file, byte for byte" sh -c \
	"$IB curl -sS --max-time 20 -o '$T/got1' http://127.0.0.1:$LPORT/blob && cmp -s '$T/got1' '$T/www/blob'"
ssm_check "  a second connection (a session of its own) too" sh -c \
	"$IB curl -sS --max-time 20 -o '$T/got2' http://127.0.0.1:$LPORT/blob && cmp -s '$T/got2' '$T/www/blob'"
ssm_check "  four connections at once, each whole" sh -c \
	"for i in 1 2 3 4; do $IB curl -sS --max-time 30 -o '$T/par'\$i http://127.0.0.1:$LPORT/blob & done; wait; for i in 1 2 3 4; do cmp -s '$T/par'\$i '$T/www/blob' || exit 1; done"
# (the shell's background job ignores SIGINT: signal the client itself)
pkill -INT -f 'start-session.*AWS-StartPortForwardingSession'
rc=0
wait $PFPID || rc=$?
ssm_check "  ^C ends the port forward with status 0" [ "$rc" = 0 ]
grep '^ssm:' "$T/pf.err" | head -5

# ssh through the channel: ProxyCommand with AWS-StartSSHSession to an sshd on 127.0.0.1 only
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
if [ -x "$SSHD" ]; then
	ssm_add_user ssmssh 61005 /bin/bash
	mkdir -p /run/sshd "$T/ak" && chmod 0755 /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$T/sshhost" && ssh-keygen -q -t ed25519 -N '' -f "$T/userkey"
	cp "$T/userkey.pub" "$T/ak/ssmssh" && chmod 0644 "$T/ak/ssmssh"
	printf '%s\n' "ListenAddress 127.0.0.1" "Port 22" "HostKey $T/sshhost" "PidFile $T/sshd.pid" \
		"UsePAM no" "PasswordAuthentication no" "KbdInteractiveAuthentication no" \
		"PubkeyAuthentication yes" "AuthorizedKeysFile $T/ak/%u" "StrictModes no" \
		"Subsystem sftp internal-sftp" >"$T/sshd_config"
	$IH "$SSHD" -D -e -f "$T/sshd_config" >"$T/sshd.log" 2>&1 &
	PIDS="$PIDS $!"
	ssm_wait_for 10 sh -c "$IH ss -Hltn | grep -q 127.0.0.1:22" || echo "note: sshd did not start: $(cat "$T/sshd.log")"
	PROXY="env XDG_CONFIG_HOME=$T/cfg $SSM start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p"
	SSHO="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -i $T/userkey"
	ssm_check "ssh with ProxyCommand='ssm start-session ... AWS-StartSSHSession' runs a command" sh -c \
		"$IB ssh $SSHO -o ProxyCommand='$PROXY' ssmssh@$HID 'echo SSH-VIA-\$(id -un)' >'$T/ssh.out' 2>'$T/ssh.err'; grep -qx SSH-VIA-ssmssh '$T/ssh.out' || { cat '$T/ssh.err'; tail -4 '$T/agent.log' '$T/broker.log'; false; }"
	head -c 5000000 /dev/urandom >"$T/scp.src"
	ssm_check "  scp copies 5 MB to the host through it" sh -c \
		"$IB scp $SSHO -o ProxyCommand='$PROXY' '$T/scp.src' ssmssh@$HID:'$T/home/ssmssh/scp.dst' 2>'$T/scp.err' && cmp -s '$T/scp.src' '$T/home/ssmssh/scp.dst' || { cat '$T/scp.err'; tail -4 '$T/agent.log' '$T/broker.log'; false; }"
	ssm_check "  and back" sh -c \
		"$IB scp $SSHO -o ProxyCommand='$PROXY' ssmssh@$HID:'$T/home/ssmssh/scp.dst' '$T/scp.back' 2>'$T/scp.err' && cmp -s '$T/scp.src' '$T/scp.back' || { cat '$T/scp.err'; tail -4 '$T/agent.log' '$T/broker.log'; false; }"
	printf 'put %s %s\nget %s %s\n' "$T/scp.src" "$T/home/ssmssh/sftp.dst" "$T/home/ssmssh/sftp.dst" "$T/sftp.back" >"$T/sftp.batch"
	ssm_check "  sftp too" sh -c \
		"$IB sftp $SSHO -o ProxyCommand='$PROXY' -b '$T/sftp.batch' ssmssh@$HID >/dev/null 2>'$T/sftp.err' && cmp -s '$T/scp.src' '$T/sftp.back' || { cat '$T/sftp.err'; tail -4 '$T/agent.log' '$T/broker.log'; false; }"
else
	echo "SKIP: no sshd: the ProxyCommand rows"
fi
ssm_check "the host listens only on its loopback (its own servers), never on the veth" sh -c \
	"! $IH ss -Htuln | grep -v '127.0.0.1:' | grep -q ."

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
IDSID=$(sed -n 's/^Starting session with SessionId: //p' "$T/id.err")
ssm get-transcript --session-id "$IDSID" >"$T/got.cast" 2>"$T/got.err"
ssm_check "ssm get-transcript gives the host's transcript of a session, byte for byte ($IDSID)" \
	cmp -s "$T/got.cast" "$T/log/sessions/$IDSID.cast"
if command -v asciinema >/dev/null 2>&1; then
	ssm_check "  and asciinema plays it: the command's output" sh -c "script -qec 'asciinema cat $T/got.cast' /dev/null </dev/null | grep -q CHAN-OK-ssmtu"
fi
ssm_check_not "get-transcript of a session that is not the user's is refused" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' get-transcript --session-id bob-0123456789abcdef0 >/dev/null 2>'$T/gt.err'"
ssm_check "  AccessDenied" grep -q AccessDenied "$T/gt.err"
# a user whose name is another's plus a suffix: session/${aws:username}-* must not cover it
printf 'ops password\n' | "$BROKER" user add alice-ops --state-dir "$ST" >/dev/null
"$BROKER" user set-run-as alice-ops ssmtu --state-dir "$ST" >/dev/null
"$BROKER" policy attach --user alice-ops "$T/dev.json" --state-dir "$ST" >/dev/null
printf 'ops password\n' | XDG_CONFIG_HOME="$T/cfg-ops" $IB "$SSM" login --broker $URL --ca "$ST/ca.crt" --user alice-ops >/dev/null 2>&1
XDG_CONFIG_HOME="$T/cfg-ops" $IB "$SSM" start-session --target "$HID" --document-name Cmd-Id </dev/null >/dev/null 2>"$T/ops.err"
OPSID=$(sed -n 's/^Starting session with SessionId: //p' "$T/ops.err")
# stored once the broker committed it (it commits in batches, at the latest on its next tick)
ssm_wait_for 15 sh -c "python3 -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute(\"SELECT complete FROM transcripts WHERE sid=?\", (sys.argv[2],)).fetchone(); sys.exit(0 if r and r[0] == 1 else 1)' '$ST/broker.db' '$OPSID'" || true
ssm_check_not "alice cannot read alice-ops's transcript ($OPSID) though it matches session/alice-*" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' get-transcript --session-id '$OPSID' >/dev/null 2>'$T/gt2.err'"
ssm_check "  AccessDenied" grep -q AccessDenied "$T/gt2.err"
ssm_check "  while alice-ops can" sh -c "XDG_CONFIG_HOME='$T/cfg-ops' $IB '$SSM' get-transcript --session-id '$OPSID' | grep -q CHAN-OK"
ssm_check "  and is marked complete there" sh -c "python3 -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*), sum(complete) FROM transcripts\").fetchone(); sys.exit(0 if r[0] >= 5 and r[0] == r[1] else 1)' '$ST/broker.db'"

ssm_check "the agent logs no protocol error" sh -c "! grep -qi 'protocol error' '$T/agent.log' '$T/broker.log'"

# ---- the agent killed mid-session: the session ends, nothing is left; the broker keeps the
# session's channel for the resumption grace (PROTOCOL.md section 6) and learns from the
# restarted agent that the host lost it
ssm start-session --target "$HID" --document-name Cmd-Sleep </dev/null >"$T/k.out" 2>"$T/k.err" &
KPID=$!
ssm_wait_for 15 grep -q SLEEPING "$T/k.out"
KSID=$(sed -n 's/^Starting session with SessionId: //p' "$T/k.err")
kill -KILL "$APID"
ssm_check "agent killed: no process of the run-as user is left" ssm_wait_for 5 sh -c "! pgrep -u ssmtu >/dev/null"
ssm_check "  the broker keeps the session's channel waiting for the host" \
	ssm_wait_for 10 grep -q "agent $HID disconnected.*channels wait" "$T/broker.log"
# (started with the usual soft descriptor limit of 1024: it raises its own, six descriptors
# per terminal session, to its hard limit, at most 16384)
$IH sh -c "ulimit -Sn 1024 2>/dev/null; exec '$AGENT' --config '$CONF_PATH' --keepalive 2:6" >>"$T/agent.log" 2>&1 &
APID=$!
PIDS="$PIDS $APID"
agent_nofile_ok() {
	_s=$(awk '/^Max open files/ {print $4}' "/proc/$APID/limits")
	_h=$(awk '/^Max open files/ {print $5}' "/proc/$APID/limits")
	_want=16384
	[ "$_h" != unlimited ] && [ "$_h" -lt "$_want" ] && _want=$_h
	[ "$_s" = "$_want" ] || { echo "agent soft $_s hard $_h"; false; }
}
ssm_check "  the agent raised its soft descriptor limit from 1024 (to at most 16384)" \
	ssm_wait_for 5 agent_nofile_ok
rc=0
ssm_wait_for 20 sh -c "! kill -0 $KPID 2>/dev/null"
wait "$KPID" || rc=$?
ssm_check "  once the agent is back, the client ends non-zero: the host lost the session" sh -c \
	"[ $rc != 0 ] && grep -q 'the host lost the session' '$T/k.err' || { cat '$T/k.err'; false; }"
ssm_check "  the agent restarted links up again" ssm_wait_for 15 sh -c "[ \$(grep -c 'agent $HID linked' '$T/broker.log') -ge 2 ]"
ssm_check "  the interrupted session's transcript reaches the broker complete, byte for byte" \
	ssm_wait_for 20 cmp -s "$T/log/sessions/$KSID.cast" "$ST/transcripts/$HID/$KSID.cast"
ssm_check "  and a new session works" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' start-session --target '$HID' --document-name Cmd-Id </dev/null 2>/dev/null | grep -qx CHAN-OK-ssmtu"

# ---- transcript_delivery: "required" (the default) refuses a login while the agent is down
chan_login_hid
grep -q "$HID" "$T/bin/login-hid" || echo "note: the login wrapper names no host id to replace"
kill "$APID" 2>/dev/null
wait "$APID" 2>/dev/null
ssm_check "the agent stopped says its link is down" ssm_wait_for 5 grep -q '"up": false' "$T/run/agent/link.json"
rc=0
timeout 30 "$T/bin/login-hid" ssmtu Cmd-Id - -- </dev/null >"$T/td.out" 2>"$T/td.err" || rc=$?
ssm_check "transcript_delivery required: a login on another path is refused while the agent is down" \
	sh -c "[ $rc != 0 ] && grep -q 'transcript_delivery' '$T/td.err' && ! grep -q CHAN-OK '$T/td.out'"
ssm_check "  audited as login_denied, reason transcript_delivery" sh -c \
	"tail -3 '$T/log/audit.jsonl' | grep '\"login_denied\"' | grep -q '\"reason\":\"transcript_delivery\"'"
python3 - "$CONF_PATH" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["transcript_delivery"] = "deferred"; json.dump(c, open(sys.argv[1], "w"))
PY
rc=0
timeout 30 "$T/bin/login-hid" ssmtu Cmd-Id - -- </dev/null >"$T/td2.out" 2>"$T/td2.err" || rc=$?
ssm_check "transcript_delivery deferred: the same login runs, recorded on the host" sh -c \
	"grep -qx CHAN-OK-ssmtu '$T/td2.out' || { cat '$T/td2.err'; false; }"
DSID=$(cat "$T/sid")
$IH "$AGENT" --config "$CONF_PATH" --keepalive 2:6 >>"$T/agent.log" 2>&1 &
APID=$!
PIDS="$PIDS $APID"
ssm_check "  and its transcript reaches the broker once the agent is back" \
	ssm_wait_for 20 cmp -s "$T/log/sessions/$DSID.cast" "$ST/transcripts/$HID/$DSID.cast"

kill "$APID" 2>/dev/null
ssm_done
