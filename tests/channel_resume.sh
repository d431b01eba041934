#!/bin/sh
# channel_resume.sh - live sessions survive a network cut of the host (SPEC section 8,
# docs/PROTOCOL.md section 6), as root, end to end: `ssm start-session` -> ssm-broker ->
# ssm-agent, the host's network cut with real nftables drop rules in the host's network
# namespace while sessions run.
#
#   - a cut of a minute: the output the shell produced during the cut (3 MB, more than the
#     windows hold: the shell is held back, not dropped) and the input typed during it
#     (200 KB) arrive byte for byte once the link is back (hashes compared), the session is
#     the same shell (a variable set before the cut, the same $$), and the transcript at the
#     broker is the host's, byte for byte;
#   - TerminateSession during the cut takes effect once the link is back;
#   - the same for a cut of the client's network: the client says it is reconnecting,
#     reconnects and resumes its session, output and input byte for byte, the same shell;
#   - a cut longer than the grace period (--grace 8, SSM_RESUME_GRACE=8 for that part), of
#     the host or of the client, ends the session with reason error on the host, and the
#     client exits non-zero saying why.
#
# Isolation as in channel_sessions.sh (tests/channel_setup.sh): private mount and pid
# namespaces, two network namespaces joined by a veth pair (broker, host) and a third for
# the client, joined to the broker's by another; every wait polls an event (ssm_wait_for),
# the only deliberate wait being the cut itself.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
command -v nft >/dev/null 2>&1 || { echo "SKIP: nft (nftables) missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net r 169.254.79
# nftables must work in the host's namespace: a table that drops nothing, then deleted
if ! $IH nft add table inet ssmprobe 2>/dev/null || ! $IH nft delete table inet ssmprobe 2>/dev/null; then
	echo "SKIP: nftables unusable in a network namespace here"
	exit 77
fi
# the client's namespace: 169.254.80.2, joined to the broker's (169.254.80.1)
NC=ssmrc$$
VC=vrc$$
ip netns add "$NC" || { echo "SKIP: cannot create a third network namespace"; exit 77; }
trap 'chan_cleanup; ip netns del "$NC" 2>/dev/null' EXIT
ip link add "$VC" type veth peer name "vrcb$$" && ip link set "$VC" netns "$NC" &&
	ip link set "vrcb$$" netns "$NB" &&
	ip -n "$NC" addr add 169.254.80.2/30 dev "$VC" && ip -n "$NB" addr add 169.254.80.1/30 dev "vrcb$$" &&
	ip -n "$NC" link set lo up && ip -n "$NC" link set "$VC" up && ip -n "$NB" link set "vrcb$$" up &&
	ip -n "$NC" route add "$BIP/32" via 169.254.80.1 || { echo "FAIL: the client's namespace"; exit 1; }
IC="ip netns exec $NC"

# the cut: every packet in or out of the host's (or the client's) veth is dropped
# (loopback untouched)
cut_on() { # [NETNS-EXEC IFACE]
	_x=${1:-$IH} _i=${2:-$VH}
	$_x nft -f - <<EOF
table inet ssmcut {
	chain in { type filter hook input priority -10; policy accept; iifname "$_i" drop; }
	chain out { type filter hook output priority -10; policy accept; oifname "$_i" drop; }
}
EOF
}
cut_off() { ${1:-$IH} nft delete table inet ssmcut; }
n_linked() { grep -c "agent $HID linked" "$T/broker.log"; }

chan_broker --keepalive 2:6 --grace 150
chan_docs_shell_sleep
chan_host Environment=Dev
chan_pam
chan_agent --keepalive 2:6 --grace 150

chan_dev_policy "$T/dev.json"
chan_user alice "$T/dev.json"
ssm() { XDG_CONFIG_HOME="$T/cfg" $IB "$SSM" "$@"; }
# the client in its own namespace, with a short keepalive so that it notices a cut soon
ssmc() { XDG_CONFIG_HOME="$T/cfg" SSM_KEEPALIVE=2:6 $IC "$SSM" "$@"; }
sid_of() { sed -n 's/^Starting session with SessionId: //p' "$1"; }

# ---- a shell session without a terminal, fed through a FIFO
mkfifo "$T/in.fifo"
ssm start-session --target "$HID" <"$T/in.fifo" >"$T/s.out" 2>"$T/s.err" &
SPID=$!
PIDS="$PIDS $SPID"
exec 3>"$T/in.fifo"
echo 'MARK=before-cut; echo "SET-$MARK-$$"' >&3
ssm_check "a shell session runs" ssm_wait_for 20 grep -q '^SET-before-cut-[0-9]*$' "$T/s.out"
SHPID=$(sed -n 's/^SET-before-cut-\([0-9]*\)$/\1/p' "$T/s.out")
SID=$(sid_of "$T/s.err")
# output produced all through the cut: 150 x 20 KB, 0.4 s apart, also kept on the host
echo '{ echo BEGIN-PRODUCE; i=0; while [ $i -lt 150 ]; do head -c 15000 /dev/urandom | base64 -w 100; i=$((i+1)); sleep 0.4; done; echo END-PRODUCE; } | tee "$HOME/produced.txt" &' >&3
ssm_check "  its output flows" ssm_wait_for 10 grep -q '^BEGIN-PRODUCE$' "$T/s.out"

# a second session, to be terminated during the cut
ssm start-session --target "$HID" --document-name Cmd-Sleep </dev/null >"$T/k.out" 2>"$T/k.err" &
KPID=$!
PIDS="$PIDS $KPID"
ssm_check "a second (command) session runs" ssm_wait_for 20 grep -q SLEEPING "$T/k.out"
KSID=$(sid_of "$T/k.err")

# ---- the cut: a minute
links=$(n_linked)
cut_on || { echo "FAIL: cannot install the drop rules"; exit 1; }
CUT_AT=$(date +%s)
ssm_check "the cut: the agent sees its link dead, its channels waiting" \
	ssm_wait_for 20 grep -q 'disconnected: .*channels wait' "$T/agent.log"
ssm_check "  the broker too" ssm_wait_for 20 grep -q "agent $HID disconnected.*channels wait" "$T/broker.log"
# input typed during the cut: 200 KB into a file on the host
head -c 150000 /dev/urandom | base64 -w 76 >"$T/typed.src"
{ echo "cat >\"\$HOME/typed.txt\" <<'TYPED_EOF'"; cat "$T/typed.src"; echo TYPED_EOF; } >&3
ssm_check "  TerminateSession during the cut is accepted" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' terminate-session --session-id '$KSID' >/dev/null"
ssm_check "  StartSession to the cut-off host is refused (TargetNotConnected)" sh -c \
	"! XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' start-session --target '$HID' --document-name Cmd-Sleep </dev/null >/dev/null 2>'$T/nc.err' && grep -q TargetNotConnected '$T/nc.err'"
left=$((CUT_AT + 60 - $(date +%s)))
[ "$left" -le 0 ] || sleep "$left" # the cut's length is the point: this is no wait for an event
ssm_check "  after a minute, the terminated session still runs on the host (it cannot know yet)" \
	sh -c "kill -0 $KPID 2>/dev/null && pgrep -u ssmtu -x sleep >/dev/null"
ssm_check "  nothing of the output produced during the cut has arrived" sh -c "! grep -q '^END-PRODUCE$' '$T/s.out'"
cut_off
ssm_check "the link is back: the agent links up again and resumes its channels" \
	ssm_wait_for 60 sh -c "[ \$(grep -c \"agent $HID linked\" '$T/broker.log') -gt $links ]"
ssm_check "  the agent says it resumes them" ssm_wait_for 5 grep -q 'link up .*resuming [1-9][0-9]* channels' "$T/agent.log"
rc=0
ssm_wait_for 15 sh -c "! kill -0 $KPID 2>/dev/null"
wait "$KPID" || rc=$?
ssm_check "  the terminated session ends now" sh -c "! kill -0 $KPID 2>/dev/null"
ssm_check "  and is in the history as Terminated" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' describe-sessions --state History | python3 -c 'import json,sys; s=[x for x in json.load(sys.stdin)[\"Sessions\"] if x[\"SessionId\"] == \"$KSID\"]; assert s and s[0][\"Status\"] == \"Terminated\", s'"
ssm_check "  its host audit says terminated" sh -c \
	"grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | grep '$KSID' | grep -q '\"reason\":\"terminated\"'"
ssm_check "the output produced during the cut arrives" ssm_wait_for 90 grep -q '^END-PRODUCE$' "$T/s.out"
sed -n '/^BEGIN-PRODUCE$/,/^END-PRODUCE$/p' "$T/s.out" >"$T/got.txt"
ssm_check "  byte for byte: 3 MB, the same hash as the host's copy" sh -c \
	"[ \"\$(sha256sum <'$T/got.txt')\" = \"\$(sha256sum <'$T/home/ssmtu/produced.txt')\" ] && [ \$(wc -c <'$T/got.txt') -gt 3000000 ] || { wc -c '$T/got.txt' '$T/home/ssmtu/produced.txt'; false; }"
ssm_check "the input typed during the cut arrives byte for byte (the same hash)" ssm_wait_for 20 sh -c \
	"[ \"\$(sha256sum <'$T/typed.src')\" = \"\$(sha256sum <'$T/home/ssmtu/typed.txt' 2>/dev/null)\" ]"
echo 'echo "AFTER-$MARK-$$"' >&3
ssm_check "the same shell: the variable set before the cut, the same process" \
	ssm_wait_for 10 grep -qx "AFTER-before-cut-$SHPID" "$T/s.out"
echo 'exit 4' >&3
exec 3>&-
rc=0
ssm_wait_for 15 sh -c "! kill -0 $SPID 2>/dev/null"
wait "$SPID" || rc=$?
ssm_check "  exit 4 ends it: the client exits 4" [ "$rc" = 4 ]
[ "$rc" = 4 ] || { cat "$T/s.err"; tail -20 "$T/agent.log" "$T/broker.log"; }
ssm_check "its transcript at the broker is the host's, byte for byte" \
	ssm_wait_for 20 cmp -s "$T/log/sessions/$SID.cast" "$ST/transcripts/$HID/$SID.cast"
ssm_check "  and it holds the output produced during the cut" sh -c \
	"grep -q END-PRODUCE '$ST/transcripts/$HID/$SID.cast' && [ \$(wc -c <'$ST/transcripts/$HID/$SID.cast') -gt 3000000 ]"
ssm_check "no protocol error on either side" sh -c "! grep -qi 'protocol error' '$T/agent.log' '$T/broker.log'"

# ---- the client's network cut for a minute: it reconnects and resumes
mkfifo "$T/cin.fifo"
ssmc start-session --target "$HID" <"$T/cin.fifo" >"$T/c.out" 2>"$T/c.err" &
CPID=$!
PIDS="$PIDS $CPID"
exec 3>"$T/cin.fifo"
echo 'MARK=client-cut; echo "SET-$MARK-$$"' >&3
ssm_check "a shell session from the client's namespace runs" \
	ssm_wait_for 20 grep -q '^SET-client-cut-[0-9]*$' "$T/c.out"
SHPID=$(sed -n 's/^SET-client-cut-\([0-9]*\)$/\1/p' "$T/c.out")
CSID=$(sid_of "$T/c.err")
echo '{ echo BEGIN-PRODUCE; i=0; while [ $i -lt 150 ]; do head -c 15000 /dev/urandom | base64 -w 100; i=$((i+1)); sleep 0.4; done; echo END-PRODUCE; } | tee "$HOME/cproduced.txt" &' >&3
ssm_check "  its output flows" ssm_wait_for 10 grep -q '^BEGIN-PRODUCE$' "$T/c.out"
cut_on "$IC" "$VC" || { echo "FAIL: cannot install the drop rules"; exit 1; }
CUT_AT=$(date +%s)
ssm_check "the client's cut: the client says it is reconnecting" \
	ssm_wait_for 20 grep -q 'connection to the broker was lost.*reconnecting' "$T/c.err"
ssm_check "  the broker keeps the client's link waiting" \
	ssm_wait_for 20 grep -q "client of alice disconnected.*channels wait" "$T/broker.log"
head -c 150000 /dev/urandom | base64 -w 76 >"$T/ctyped.src"
{ echo "cat >\"\$HOME/ctyped.txt\" <<'TYPED_EOF'"; cat "$T/ctyped.src"; echo TYPED_EOF; } >&3
left=$((CUT_AT + 60 - $(date +%s)))
[ "$left" -le 0 ] || sleep "$left" # the cut's length is the point: this is no wait for an event
ssm_check "  after a minute, the client still runs" sh -c "kill -0 $CPID 2>/dev/null"
cut_off "$IC"
ssm_check "the link is back: the client says it reconnected and resumed" \
	ssm_wait_for 60 grep -q 'reconnected to the broker: 1 sessions resumed' "$T/c.err"
ssm_check "  the broker matched it to its link" grep -q "client of alice connected from .*resuming 1 channels" "$T/broker.log"
ssm_check "  the output produced during the cut arrives" ssm_wait_for 90 grep -q '^END-PRODUCE$' "$T/c.out"
sed -n '/^BEGIN-PRODUCE$/,/^END-PRODUCE$/p' "$T/c.out" >"$T/cgot.txt"
ssm_check "  byte for byte: 3 MB, the same hash as the host's copy" sh -c \
	"[ \"\$(sha256sum <'$T/cgot.txt')\" = \"\$(sha256sum <'$T/home/ssmtu/cproduced.txt')\" ] && [ \$(wc -c <'$T/cgot.txt') -gt 3000000 ] || { wc -c '$T/cgot.txt' '$T/home/ssmtu/cproduced.txt'; false; }"
ssm_check "  the input typed during the cut arrives byte for byte" ssm_wait_for 20 sh -c \
	"[ \"\$(sha256sum <'$T/ctyped.src')\" = \"\$(sha256sum <'$T/home/ssmtu/ctyped.txt' 2>/dev/null)\" ]"
echo 'echo "AFTER-$MARK-$$"' >&3
ssm_check "  the same shell" ssm_wait_for 10 grep -qx "AFTER-client-cut-$SHPID" "$T/c.out"
echo 'exit 5' >&3
exec 3>&-
rc=0
ssm_wait_for 15 sh -c "! kill -0 $CPID 2>/dev/null"
wait "$CPID" || rc=$?
ssm_check "  exit 5 ends it: the client exits 5" [ "$rc" = 5 ]
[ "$rc" = 5 ] || { cat "$T/c.err"; tail -20 "$T/broker.log"; }
ssm_check "  its transcript at the broker is the host's, byte for byte" \
	ssm_wait_for 20 cmp -s "$T/log/sessions/$CSID.cast" "$ST/transcripts/$HID/$CSID.cast"

# ---- a cut longer than the grace period: both sides with --grace 8
kill "$BPID" "$APID"
wait "$BPID" "$APID" 2>/dev/null
# (in the ASan+UBSan build: a leak or an error of theirs would be in their logs by now)
ssm_check "no sanitizer report from the broker or the agent" sh -c \
	"! grep -E 'Sanitizer|runtime error' '$T/agent.log' '$T/broker.log'"
nlisten=$(grep -c "listening on" "$T/broker.log")
links=$(n_linked)
$IB "$BROKER" serve --state-dir "$ST" --listen "$BIP:$PORT" --keepalive 2:6 --grace 8 >>"$T/broker.log" 2>&1 &
BPID=$!
PIDS="$PIDS $BPID"
ssm_check "the broker restarts with --grace 8" \
	ssm_wait_for 10 sh -c "[ \$(grep -c 'listening on' '$T/broker.log') -gt $nlisten ]"
$IH "$AGENT" --config "$CONF_PATH" --keepalive 2:6 --grace 8 >>"$T/agent.log" 2>&1 &
APID=$!
PIDS="$PIDS $APID"
ssm_check "  the agent too, and links up" \
	ssm_wait_for 15 sh -c "[ \$(grep -c \"agent $HID linked\" '$T/broker.log') -gt $links ]"
ssm start-session --target "$HID" --document-name Cmd-Sleep </dev/null >"$T/g.out" 2>"$T/g.err" &
GPID=$!
PIDS="$PIDS $GPID"
ssm_check "a session runs (grace 8 s)" ssm_wait_for 20 grep -qs SLEEPING "$T/g.out"
GSID=$(sid_of "$T/g.err")
cut_on
rc=0
ssm_wait_for 40 sh -c "! kill -0 $GPID 2>/dev/null"
wait "$GPID" || rc=$?
ssm_check "a cut beyond the grace: the client exits non-zero, saying the host did not come back" sh -c \
	"[ $rc != 0 ] && grep -q \"host's connection was not restored within 8 s\" '$T/g.err' || { echo rc=$rc; cat '$T/g.err'; false; }"
ssm_check "  the host ends the session with reason error" ssm_wait_for 20 sh -c \
	"grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | grep '$GSID' | grep -q '\"reason\":\"error\"'"
ssm_check "  the agent says why" grep -q 'not restored within 8 s: closing' "$T/agent.log"
ssm_check "  no process of the run-as user is left" ssm_wait_for 10 sh -c "! pgrep -u ssmtu >/dev/null"
cut_off
ssm_check "  once the link is back, its transcript reaches the broker, byte for byte" \
	ssm_wait_for 60 cmp -s "$T/log/sessions/$GSID.cast" "$ST/transcripts/$HID/$GSID.cast"
ssm_check "  and the broker's history has it ended" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' describe-sessions --state History | grep -q '$GSID'"

# the client's network cut beyond the grace (SSM_RESUME_GRACE=8, the broker's --grace 8)
XDG_CONFIG_HOME="$T/cfg" SSM_KEEPALIVE=2:6 SSM_RESUME_GRACE=8 $IC "$SSM" start-session \
	--target "$HID" --document-name Cmd-Sleep </dev/null >"$T/h.out" 2>"$T/h.err" &
HPID=$!
PIDS="$PIDS $HPID"
ssm_check "a session from the client's namespace runs (grace 8 s)" ssm_wait_for 20 grep -qs SLEEPING "$T/h.out"
HSID=$(sid_of "$T/h.err")
cut_on "$IC" "$VC"
rc=0
ssm_wait_for 40 sh -c "! kill -0 $HPID 2>/dev/null"
wait "$HPID" || rc=$?
ssm_check "a client cut beyond the grace: the client exits non-zero, saying why" sh -c \
	"[ $rc = 255 ] && grep -q 'reconnecting' '$T/h.err' && grep -q 'not restored within 8 s: the session is lost' '$T/h.err' || { echo rc=$rc; cat '$T/h.err'; false; }"
ssm_check "  the broker ends the session: the client's connection was not restored" \
	ssm_wait_for 20 grep -q "client of alice: the client's connection was not restored within 8 s" "$T/broker.log"
ssm_check "  the host ends it with reason error" ssm_wait_for 20 sh -c \
	"grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | grep '$HSID' | grep -q '\"reason\":\"error\"'"
ssm_check "  no process of the run-as user is left" ssm_wait_for 10 sh -c "! pgrep -u ssmtu >/dev/null"
cut_off "$IC"

ssm_done
