#!/bin/sh
# channel_broker_restart.sh - live sessions survive a broker restart (SPEC section 8,
# docs/PROTOCOL.md section 5 rule 6 and section 6), as root, end to end: `ssm
# start-session` -> ssm-broker -> ssm-agent.
#
#   - the broker killed with SIGKILL mid-session and started again on the same state: the
#     session goes on.  The output the shell produced while the broker was down and the
#     input typed meanwhile arrive byte for byte (hashes compared; no gap, no duplicate),
#     it is the same shell (a variable set before, the same $$), its exit status reaches the
#     client, and the transcript at the broker is the host's, byte for byte;
#   - TerminateSession, sent to the restarted broker, ends a session started before it, also
#     when it is sent before the host is back (its network cut with nftables meanwhile);
#     a window change made meanwhile reaches the shell once the host is back;
#   - the broker stopped with SIGTERM and started again: the same;
#   - a session whose client does not come back after the restart (--grace 8): the broker
#     ends it, the host ends it with reason error, and no process of it is left.
#   - a broker that sends HELLO and never RESUME_DONE (tests/hostile_broker.py noresume): the
#     agent closes the connection once the grace passes.
#
# Isolation as in channel_sessions.sh (tests/channel_setup.sh): private mount and pid
# namespaces, two network namespaces joined by a veth pair (broker and client, host); every
# wait polls an event (ssm_wait_for).
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net k 169.254.83

n_linked() { grep -c "agent $HID linked" "$T/broker.log"; }
n_listen() { grep -c "listening on" "$T/broker.log"; }
# the broker again, on the same state
broker_again() { # GRACE
	_n=$(n_listen)
	$IB "$BROKER" serve --state-dir "$ST" --listen "$BIP:$PORT" --keepalive 2:6 --grace "$1" \
		>>"$T/broker.log" 2>&1 &
	BPID=$!
	PIDS="$PIDS $BPID"
	ssm_check "  the broker starts again on the same state" \
		ssm_wait_for 10 sh -c "[ \$(grep -c 'listening on' '$T/broker.log') -gt $_n ]"
}

chan_broker --keepalive 2:6 --grace 60
chan_docs_shell_sleep
chan_host Environment=Dev
chan_pam
chan_agent --keepalive 2:6 --grace 60

chan_dev_policy "$T/dev.json"
chan_user alice "$T/dev.json"
ssm() { XDG_CONFIG_HOME="$T/cfg" SSM_KEEPALIVE=2:6 $IB "$SSM" "$@"; }
sid_of() { sed -n 's/^Starting session with SessionId: //p' "$1"; }
# PID SID: a command session that was terminated ends: its client exits, the host's audit
# says terminated, and no process of it is left
ended_terminated() {
	ssm_wait_for 60 sh -c "! kill -0 $1 2>/dev/null"
	wait "$1" 2>/dev/null
	ssm_check "  its client exits" sh -c "! kill -0 $1 2>/dev/null"
	ssm_check "  its host audit says terminated" ssm_wait_for 10 sh -c \
		"grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | grep '$2' | grep -q '\"reason\":\"terminated\"'"
	ssm_check "  no sleep of it is left" ssm_wait_for 10 sh -c "! pgrep -u ssmtu -x sleep >/dev/null"
}
# the output of the shell while the broker is away: N x 15000 random bytes, base64
produce() { # N TAG FILE
	echo "{ echo BEGIN-$2; i=0; while [ \$i -lt $1 ]; do head -c 15000 /dev/urandom | base64 -w 100; i=\$((i+1)); sleep 0.1; done; echo END-$2; } | tee \"\$HOME/$3\" &" >&3
}

# ---- a shell session without a terminal, fed through a FIFO, and a command session
mkfifo "$T/in.fifo"
ssm start-session --target "$HID" <"$T/in.fifo" >"$T/s.out" 2>"$T/s.err" &
SPID=$!
PIDS="$PIDS $SPID"
exec 3>"$T/in.fifo"
echo 'MARK=before-restart; echo "SET-$MARK-$$"' >&3
ssm_check "a shell session runs" ssm_wait_for 20 grep -q '^SET-before-restart-[0-9]*$' "$T/s.out"
SHPID=$(sed -n 's/^SET-before-restart-\([0-9]*\)$/\1/p' "$T/s.out")
SID=$(sid_of "$T/s.err")
ssm start-session --target "$HID" --document-name Cmd-Sleep </dev/null >"$T/k.out" 2>"$T/k.err" &
KPID=$!
PIDS="$PIDS $KPID"
ssm_check "a second (command) session runs" ssm_wait_for 20 grep -q SLEEPING "$T/k.out"
KSID=$(sid_of "$T/k.err")

# ---- SIGKILL: the broker has no chance to say anything
produce 150 KILL produced.txt
ssm_check "  its output flows" ssm_wait_for 10 grep -q '^BEGIN-KILL$' "$T/s.out"
links=$(n_linked)
kill -9 "$BPID"
wait "$BPID" 2>/dev/null
ssm_check "the broker killed (SIGKILL): the client says it is reconnecting" \
	ssm_wait_for 20 grep -q 'connection to the broker was lost.*reconnecting' "$T/s.err"
ssm_check "  the agent keeps its channels waiting" \
	ssm_wait_for 20 grep -q 'disconnected: .*channels wait' "$T/agent.log"
# input typed while the broker is away: 200 KB into a file on the host
head -c 150000 /dev/urandom | base64 -w 76 >"$T/typed.src"
{ echo "cat >\"\$HOME/typed.txt\" <<'TYPED_EOF'"; cat "$T/typed.src"; echo TYPED_EOF; } >&3
broker_again 60
ssm_check "  it waits for the sessions that were running" \
	grep -q 'sessions from before the restart wait up to 60 s' "$T/broker.log"
ssm_check "  the agent links up again" \
	ssm_wait_for 60 sh -c "[ \$(grep -c \"agent $HID linked\" '$T/broker.log') -gt $links ]"
ssm_check "  the broker takes the shell session up from both ends" \
	ssm_wait_for 60 grep -q "session $SID: both ends are back, relaying" "$T/broker.log"
ssm_check "  each client says it resumed" ssm_wait_for 30 sh -c \
	"grep -q 'reconnected to the broker: 1 sessions resumed' '$T/s.err' && grep -q 'reconnected to the broker: 1 sessions resumed' '$T/k.err'"
ssm_check "the output produced while the broker was away arrives" \
	ssm_wait_for 90 grep -q '^END-KILL$' "$T/s.out"
sed -n '/^BEGIN-KILL$/,/^END-KILL$/p' "$T/s.out" >"$T/got.txt"
ssm_check "  byte for byte: no gap, no duplicate (the host's copy's hash)" sh -c \
	"[ \"\$(sha256sum <'$T/got.txt')\" = \"\$(sha256sum <'$T/home/ssmtu/produced.txt')\" ] && [ \$(wc -c <'$T/got.txt') -gt 3000000 ] || { wc -c '$T/got.txt' '$T/home/ssmtu/produced.txt'; false; }"
ssm_check "the input typed while the broker was away arrives byte for byte" ssm_wait_for 20 sh -c \
	"[ \"\$(sha256sum <'$T/typed.src')\" = \"\$(sha256sum <'$T/home/ssmtu/typed.txt' 2>/dev/null)\" ]"
echo 'echo "AFTER-$MARK-$$"' >&3
ssm_check "the same shell: the variable set before, the same process" \
	ssm_wait_for 10 grep -qx "AFTER-before-restart-$SHPID" "$T/s.out"
ssm_check "TerminateSession through the restarted broker ends the command session" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' terminate-session --session-id '$KSID' >/dev/null"
ended_terminated "$KPID" "$KSID"

# ---- SIGTERM: the broker stops cleanly and starts again
produce 60 TERM produced2.txt
ssm_check "output flows again" ssm_wait_for 10 grep -q '^BEGIN-TERM$' "$T/s.out"
links=$(n_linked)
kill -TERM "$BPID"
rc=0
wait "$BPID" || rc=$?
ssm_check "the broker stopped (SIGTERM): it exits 0" [ "$rc" = 0 ]
broker_again 60
ssm_check "  the broker takes the shell session up again" \
	ssm_wait_for 60 sh -c "[ \$(grep -c 'session $SID: both ends are back, relaying' '$T/broker.log') -ge 2 ]"
ssm_check "  the output arrives" ssm_wait_for 60 grep -q '^END-TERM$' "$T/s.out"
sed -n '/^BEGIN-TERM$/,/^END-TERM$/p' "$T/s.out" >"$T/got2.txt"
ssm_check "  byte for byte" sh -c \
	"[ \"\$(sha256sum <'$T/got2.txt')\" = \"\$(sha256sum <'$T/home/ssmtu/produced2.txt')\" ]"
echo 'echo "AGAIN-$MARK-$$"' >&3
ssm_check "  the same shell" ssm_wait_for 10 grep -qx "AGAIN-before-restart-$SHPID" "$T/s.out"
echo 'exit 4' >&3
exec 3>&-
rc=0
ssm_wait_for 15 sh -c "! kill -0 $SPID 2>/dev/null"
wait "$SPID" || rc=$?
ssm_check "exit 4 ends the shell session: the client exits 4" [ "$rc" = 4 ]
[ "$rc" = 4 ] || { cat "$T/s.err"; tail -20 "$T/agent.log" "$T/broker.log"; }
ssm_check "its transcript at the broker is the host's, byte for byte" \
	ssm_wait_for 30 cmp -s "$T/log/sessions/$SID.cast" "$ST/transcripts/$HID/$SID.cast"
ssm_check "  and it holds the output produced while the broker was away" sh -c \
	"grep -q END-KILL '$ST/transcripts/$HID/$SID.cast' && grep -q END-TERM '$ST/transcripts/$HID/$SID.cast'"
ssm_check "  the history has it Terminated" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' describe-sessions --state History | python3 -c 'import json,sys; s=[x for x in json.load(sys.stdin)[\"Sessions\"] if x[\"SessionId\"] == \"$SID\"]; assert s and s[0][\"Status\"] == \"Terminated\", s'"
ssm_check "no protocol error on either side" sh -c "! grep -qi 'protocol error' '$T/agent.log' '$T/broker.log'"

# ---- TerminateSession sent to the restarted broker before the host is back (the host's
# network cut with nftables meanwhile): it takes effect once the host is back
if $IH nft add table inet ssmprobe 2>/dev/null && $IH nft delete table inet ssmprobe 2>/dev/null; then
	XDG_CONFIG_HOME="$T/cfg" SSM_KEEPALIVE=2:6 $IB "$SSM" start-session --target "$HID" \
		--document-name Cmd-Sleep </dev/null >"$T/t.out" 2>"$T/t.err" &
	TPID=$!
	PIDS="$PIDS $TPID"
	ssm_check "a command session runs" ssm_wait_for 20 grep -qs SLEEPING "$T/t.out"
	TSID=$(sid_of "$T/t.err")
	ssm_wait_for 10 grep -q "session $TSID: started" "$T/broker.log"
	# and a terminal session, whose window changes while the host is away
	RSID=
	if command -v tmux >/dev/null 2>&1; then
		ssm_tmux_start rsz 100 30 "XDG_CONFIG_HOME='$T/cfg' SSM_KEEPALIVE=2:6 TERM=xterm $IB '$SSM' start-session --target '$HID'; echo CLIENT-EXIT=\$?"
		ssm_check "a terminal session gives a prompt" ssm_tmux_wait rsz 20 'ssmtu\$'
		RSID=$(ssm_tmux_text rsz | sed -n 's/^Starting session with SessionId: \([^ ]*\).*/\1/p' | tr -d '\r' | head -1)
		# (the window-change checks below need it: an empty one would skip them silently)
		ssm_check "  its session id shows" [ -n "$RSID" ]
		ssm_wait_for 10 grep -q "session $RSID: started" "$T/broker.log"
	else
		echo "SKIP (part): tmux missing: no window change while the host is away"
	fi
	printf 'table inet ssmcut {\n\tchain in { type filter hook input priority -10; policy accept; iifname "%s" drop; }\n\tchain out { type filter hook output priority -10; policy accept; oifname "%s" drop; }\n}\n' \
		"vkh$$" "vkh$$" | $IH nft -f - || echo "FAIL: cannot install the drop rules"
	kill -9 "$BPID"
	wait "$BPID" 2>/dev/null
	broker_again 60
	ssm_check "  the broker restarted, the host cut off: the client resumes its session" \
		ssm_wait_for 30 grep -q "session $TSID: the client resumed it" "$T/broker.log"
	ssm_check "  TerminateSession is accepted" sh -c \
		"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' terminate-session --session-id '$TSID' >/dev/null"
	ssm_check "  the broker keeps it for the host" grep -q "session $TSID: TERMINATE waits for $HID" "$T/broker.log"
	ssm_check "  the session still runs on the host (it cannot know yet)" sh -c "pgrep -u ssmtu -x sleep >/dev/null"
	if [ -n "$RSID" ]; then
		ssm_check "  the terminal session's client resumes too" \
			ssm_wait_for 30 grep -q "session $RSID: the client resumed it" "$T/broker.log"
		SSM_TMUX resize-window -t rsz -x 120 -y 40
		ssm_check "  its window changes to 120x40: the broker keeps the change for the host" \
			ssm_wait_for 10 grep -q "session $RSID: window change to 120x40 kept" "$T/broker.log"
	fi
	$IH nft delete table inet ssmcut
	ended_terminated "$TPID" "$TSID"
	if [ -n "$RSID" ]; then
		ssm_check "  the host is back: the terminal session is taken up" \
			ssm_wait_for 30 grep -q "session $RSID: both ends are back" "$T/broker.log"
		# asked again until it shows: ssm-shell passes the change to the shell's pty on its
		# SIGWINCH, which may come just after the first line typed
		size_shows() {
			for _i in 1 2 3 4 5 6 7 8 9 10; do
				ssm_tmux_keys rsz 'stty size' Enter
				ssm_tmux_wait rsz 1 '^40 120$' && return 0
			done
			return 1
		}
		ssm_check "  the shell's terminal has the size set while the host was away (40 120)" \
			size_shows
		ssm_tmux_keys rsz 'exit 5' Enter
		ssm_check "  exit 5 ends it: the client exits 5" ssm_tmux_wait rsz 10 'CLIENT-EXIT=5'
		ssm_tmux_kill rsz
	fi
else
	echo "SKIP (part): nftables unusable in a network namespace here: no TerminateSession while the host is cut off"
fi

# ---- a client that does not come back: the restarted broker (--grace 8) ends the session
# (not through the function: $! must be the client itself, for the SIGKILL)
XDG_CONFIG_HOME="$T/cfg" SSM_KEEPALIVE=2:6 $IB "$SSM" start-session --target "$HID" \
	--document-name Cmd-Sleep </dev/null >"$T/g.out" 2>"$T/g.err" &
GPID=$!
PIDS="$PIDS $GPID"
ssm_check "a command session runs" ssm_wait_for 20 grep -qs SLEEPING "$T/g.out"
GSID=$(sid_of "$T/g.err")
ssm_wait_for 10 grep -q "session $GSID: started" "$T/broker.log"
kill -9 "$BPID" "$GPID"
wait "$BPID" "$GPID" 2>/dev/null
broker_again 8
ssm_check "  the host resumes it, the client never does: after 8 s the broker ends it" \
	ssm_wait_for 40 grep -q "session $GSID on $HID: the other end did not come back" "$T/broker.log"
ssm_check "  the host ends it with reason error" ssm_wait_for 20 sh -c \
	"grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | grep '$GSID' | grep -q '\"reason\":\"error\"'"
grep -q "session $GSID on $HID: the other end" "$T/broker.log" ||
	{ tail -25 "$T/broker.log"; tail -15 "$T/agent.log"; }
ssm_check "  no process of the run-as user is left" ssm_wait_for 10 sh -c "! pgrep -u ssmtu >/dev/null"
ssm_check "  the history has it ended" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' describe-sessions --state History | grep -q '$GSID'"

# ---- a broker that never finishes the resumption: the agent (--grace 8) does not wait on it
# for longer than on a lost connection (tests/hostile_broker.py noresume)
kill "$BPID" "$APID"
wait "$BPID" "$APID" 2>/dev/null
: >"$T/noresume.jsonl"
$IB python3 "$srcdir/tests/hostile_broker.py" "$BIP" "$PORT" "$ST/server.crt" "$ST/server.key" \
	"$T/noresume.jsonl" noresume >"$T/hostile.log" 2>&1 &
HPID=$!
PIDS="$PIDS $HPID"
ssm_wait_for 10 grep -q "listening" "$T/hostile.log"
$IH "$AGENT" --config "$CONF_PATH" --keepalive 2:6 --grace 8 >>"$T/agent.log" 2>&1 &
APID=$!
PIDS="$PIDS $APID"
ssm_check "a broker that never sends RESUME_DONE: the agent closes the connection after the grace" \
	ssm_wait_for 40 grep -q 'did not finish the resumption within 8 s: closing the connection' "$T/agent.log"
ssm_check "  the broker saw the connection closed, 8 to 20 s after its HELLO" ssm_wait_for 20 python3 -c \
	"import json,sys; r=json.loads(open('$T/noresume.jsonl').readline()); sys.exit(not (r['closed'] and 8 <= r['after'] <= 20))" 2>/dev/null
kill "$HPID" 2>/dev/null
wait "$HPID" 2>/dev/null
ssm_check "no sanitizer report from the broker or the agent" sh -c \
	"! grep -E 'Sanitizer|runtime error' '$T/agent.log' '$T/broker.log'"
ssm_done
