#!/bin/sh
# channel_slow_broker.sh - a broker that acknowledges slowly (issue 8's fault list), as root:
# the host's link to the broker is throttled to 0.5 MB/s with a real tc token-bucket filter in
# the host's network namespace, so the broker's acknowledgements of a transcript come far
# slower than the session writes it. A session on the sshd path prints 32 MB of output in a
# few seconds:
#  - the backlog grows on the host's disk (the spool), tens of MB beyond what the broker
#    acknowledged, and the session is not slowed to the link's pace;
#  - the memory of ssm-agent, of the broker and of the session's recorder stays flat: each
#    grows by less than 4 MiB while the backlog passes 16 MB (the agent holds at most the
#    transcript channel's window, 1 MiB, in memory; the rest stays on disk);
#  - the throttle removed, the transcript arrives complete at the broker, byte for byte.
# Isolation as in channel_sessions.sh (tests/channel_setup.sh), 169.254.83.0/30.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
command -v tc >/dev/null 2>&1 || { echo "SKIP: tc (iproute2) missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"
. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net w 169.254.83
chan_tbf 4mbit 200ms # usable here? (set again for the flood)
$IH tc qdisc del dev "$VH" root
# the sanitizers' allocator keeps freed memory in quarantine: keep it small so that RSS
# means what the program holds
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1:malloc_context_size=5
export ASAN_OPTIONS
chan_broker
mkdoc Cmd-Flood '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "i=0; while [ $i -lt 16 ]; do head -c 1500000 /dev/urandom | base64 -w 100; sleep 0.3; i=$((i+1)); done; echo FLOOD-END"}}}'
chan_docs Cmd-Flood
# the backlog may pass the default transcript_backlog_max (16 MiB): this test is about memory
CHAN_CONF_EXTRA='{"transcript_backlog_max": 1000000000}'
chan_host Environment=Dev
chan_pam
chan_agent
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
sz() { stat -c %s "$1" 2>/dev/null || echo 0; }

# a first session, unthrottled, so that the agent's and broker's memory are warm
chan_login_hid
mkdoc Cmd-Warm '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "head -c 3000000 /dev/urandom | base64 -w 100"}}}'
timeout 60 "$T/bin/login-hid" ssmtu Cmd-Warm - -- </dev/null >/dev/null 2>"$T/warm.err"
WSID=$(cat "$T/sid")
complete_at_broker() { # SID: stored complete and identical to the host's file
	python3 -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute("SELECT complete FROM transcripts WHERE sid=?", (sys.argv[2],)).fetchone(); sys.exit(0 if r and r[0] == 1 else 1)' \
		"$ST/broker.db" "$1" 2>/dev/null && cmp -s "$T/log/sessions/$1.cast" "$ST/transcripts/$HID/$1.cast"
}
ssm_check "a warm-up session's 4 MB transcript is delivered" ssm_wait_for 30 complete_at_broker "$WSID"
A0=$(rss_kb "$APID") B0=$(rss_kb "$BPID")
echo "note: after the warm-up: agent RSS $A0 KiB, broker RSS $B0 KiB"

# ---- the throttle, then a session that floods
$IH tc qdisc add dev "$VH" root tbf rate 4mbit burst 128kb latency 200ms
rm -f "$T/sid"
t0=$(date +%s%N)
timeout 120 "$T/bin/login-hid" ssmtu Cmd-Flood - -- </dev/null >"$T/flood.out" 2>"$T/flood.err" &
LPID=$!
ssm_wait_for 10 test -s "$T/sid"
FSID=$(cat "$T/sid")
CAST=$T/log/sessions/$FSID.cast
# the recorder's memory while it records: every process of the recorder user, sampled
: >"$T/rec.rss"
while kill -0 "$LPID" 2>/dev/null; do
	ps -u ssmsession -o rss= 2>/dev/null | awk '{s += $1} END {print s + 0}' >>"$T/rec.rss"
	sleep 0.2
done
wait "$LPID"
rc=$?
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
ssm_check "the flooding session runs to its end while the link is throttled" sh -c \
	"[ $rc = 0 ] && tail -n 1 '$T/flood.out' | grep -qx FLOOD-END"
CS=$(sz "$CAST")
echo "note: the session took $ms ms; its transcript holds $CS bytes"
ssm_check "  not slowed to the link's pace (0.5 MB/s): it wrote more than 1 MB/s" \
	[ $(( ms * 1000 )) -lt "$CS" ]
AT=$(sz "$ST/transcripts/$HID/$FSID.cast")
BACKLOG=$(( CS - AT ))
echo "note: at its end the broker holds $AT bytes of it: $BACKLOG bytes wait in the host's spool"
ssm_check "  the backlog is on the host's disk: more than half the transcript (16 MB) beyond what the broker holds" \
	[ "$BACKLOG" -gt 16000000 ]
ssm_check "  delivery goes on meanwhile (the broker's copy grows)" \
	ssm_wait_for 20 sh -c "[ \$(stat -c %s '$ST/transcripts/$HID/$FSID.cast' 2>/dev/null || echo 0) -gt $AT ]"
$IH tc -s qdisc show dev "$VH"
A1=$(hwm_kb "$APID") B1=$(rss_kb "$BPID") A1r=$(rss_kb "$APID")
RMAX=$(sort -n "$T/rec.rss" | tail -1)
RMIN=$(awk '$1 > 0 {print; exit}' "$T/rec.rss")
echo "note: agent RSS $A0 -> $A1r KiB (peak $A1), broker RSS $B0 -> $B1 KiB, recorder RSS $RMIN..$RMAX KiB"
LIM=4096 # KiB: the transcript channel's window (1 MiB) and buffers, whatever the backlog
ssm_check "  ssm-agent's memory stays flat: its peak grew by less than 4 MiB, a quarter of the backlog ($(( A1 - A0 )) < $LIM KiB)" \
	[ $(( A1 - A0 )) -lt "$LIM" ]
ssm_check "  the broker's too ($(( B1 - B0 )) < $LIM KiB)" [ $(( B1 - B0 )) -lt "$LIM" ]
ssm_check "  and the recorder's while it wrote it ($(( RMAX - ${RMIN:-0} )) < $LIM KiB)" \
	[ $(( RMAX - ${RMIN:-0} )) -lt "$LIM" ]
ssm_check "  the session's end is audited (no backlog limit was hit)" sh -c \
	"grep '\"session_end\"' '$T/log/audit.jsonl' | grep '$FSID' | grep -qv backlog"

# ---- the throttle removed: the whole transcript arrives
$IH tc qdisc del dev "$VH" root
ssm_check "the throttle removed: the transcript arrives complete, byte for byte" \
	ssm_wait_for 60 complete_at_broker "$FSID"
A2=$(hwm_kb "$APID")
echo "note: the agent's peak RSS at the end: $A2 KiB"
ssm_check "  the agent's peak stayed under the bound to the end ($(( A2 - A0 )) < $LIM KiB)" \
	[ $(( A2 - A0 )) -lt "$LIM" ]

# ---- transcript_backlog_max (2 MB here) and a broker slower than the session: the session
# waits for the broker (ssm-shell stops reading its output at half the limit until a quarter
# is left) and runs to its end, where it would end with reason error once 2 MB wait
python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); c["transcript_backlog_max"] = 2000000; json.dump(c, open(sys.argv[1], "w"))' "$CONF_PATH"
mkdoc Cmd-Flood2 '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "head -c 4500000 /dev/urandom | base64 -w 100; echo FLOOD2-END"}}}'
$IH tc qdisc add dev "$VH" root tbf rate 16mbit burst 128kb latency 200ms
rm -f "$T/sid"
t0=$(date +%s%N)
rc=0
timeout 120 "$T/bin/login-hid" ssmtu Cmd-Flood2 - -- </dev/null >"$T/flood2.out" 2>"$T/flood2.err" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
S2=$(cat "$T/sid" 2>/dev/null)
ssm_check "6 MB printed faster than the broker takes them (limit 2 MB): the session runs to its end ($ms ms)" \
	sh -c "[ $rc = 0 ] && tail -n 1 '$T/flood2.out' | grep -qx FLOOD2-END || { tail -3 '$T/flood2.err'; false; }"
ssm_check "  audited as ended by its exit, not by the backlog" sh -c \
	"grep '\"session_end\"' '$T/log/audit.jsonl' | grep '$S2' | grep -q '\"reason\":\"exit\"'"
$IH tc qdisc del dev "$VH" root
ssm_check "  its transcript arrives complete, byte for byte" ssm_wait_for 60 complete_at_broker "$S2"

chan_end_checks
[ "$SSM_FAIL" = 0 ] || { echo "--- flood.err"; tail -5 "$T/flood.err"; }
kill "$APID" 2>/dev/null
ssm_done
