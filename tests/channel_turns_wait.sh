#!/bin/sh
# channel_turns_wait.sh - sessions that wait longer for a transcript channel than ssm-shell's
# stall rule (5 s), as root (agent/deliver.c's turns, ssm-shell/relay.c's backlog):
#  - the host's link to the broker is throttled to 1 MB/s (a real tc token-bucket filter in
#    the host's network namespace), so that a turn that ends waits seconds for its last
#    acknowledgement, and 36 sessions print 600 kB each at once with transcript_backlog_max
#    at 400 kB: twenty of them wait for one of the broker's sixteen channels, some for two
#    rounds of turns;
#  - a waiting session's output is held back (back-pressure), and it is not ended: its
#    transcript is queued behind others, which the agent says (run_dir/agent/delivered-SID),
#    and that is not a broker that takes nothing. Before, such a session's recorder let its
#    output go on after 5 s and ended it at the limit (reason error);
#  - a session of another user, started once the queue is full, gets the next channel that
#    frees: turns go to the user holding the fewest channels first, so one user's many
#    busy sessions do not make everyone else's wait behind them;
#  - every session runs to its end, audited as ended by its exit, and every transcript
#    arrives complete and byte for byte;
#  - the broker's disk full, twenty more sessions: the broker stores nothing, so the agent
#    stops saying its transcripts wait, and each ends at the limit (SPEC section 8) instead
#    of being held back for ever; with room again, every transcript arrives complete.
# Sessions on the local login path (tests/shell_setup.sh's login, ssm-shell as the run-as
# user's shell). Isolation as in channel_sessions.sh (tests/channel_setup.sh), 169.254.85.0/30.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
command -v tc >/dev/null 2>&1 || { echo "SKIP: tc (iproute2) missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"
. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net v 169.254.85
chan_broker_fs 64m # the broker's state on a file system of its own, to fill in the last phase
chan_tbf 8mbit 400ms # 1 MB/s
chan_broker
# 600 kB in two bursts of 300 kB: one burst more than the limit's half
mkdoc Cmd-Burst '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "head -c 225000 /dev/urandom | base64 -w 100; sleep 0.3; head -c 225000 /dev/urandom | base64 -w 100; echo BURST-END"}}}'
chan_docs Cmd-Burst
# ssm-shell holds the output back from 200 kB not yet acknowledged, and ends the session past
# 400 kB once the broker took less than 50 kB in 5 s
CHAN_CONF_EXTRA='{"transcript_backlog_max": 400000}'
chan_host Environment=Dev
chan_pam
chan_agent
chan_login_hid

run() { chan_bg "$1" "$2" 240; }
rcs_ok() { # NAME...: each ended with 0 and printed its last line
	_bad=0
	for _n in "$@"; do
		[ "$(cat "$T/$_n.rc" 2>/dev/null)" = 0 ] && grep -qx BURST-END "$T/$_n.out" ||
			{ _bad=$((_bad + 1)); [ $_bad -le 3 ] && echo "  $_n: rc $(cat "$T/$_n.rc" 2>/dev/null), $(tail -2 "$T/$_n.err")"; }
	done
	[ $_bad = 0 ] || { echo "  $_bad sessions did not run to their end"; return 1; }
}

# ---- 36 sessions at once on a 1 MB/s link
N=36 S=""
i=1
while [ $i -le $N ]; do S="$S s$i"; i=$((i + 1)); done
t0=$(date +%s)
for s in $S; do run "$s" Cmd-Burst; done
# the agent says a transcript waits for its turn: seen while they wait
queued_seen() { grep -lqs ' queued ' "$T"/run/agent/delivered-* 2>/dev/null; }
ssm_check "some transcripts wait for a channel, and the agent says so" ssm_wait_for 60 queued_seen

# ---- another user meanwhile: bob's session, started once alice's fill the queue, gets the
# next channel that frees (the user holding the fewest channels first), ahead of alice's
# transcripts that were waiting before it; in plain turn order it came after all of them
ssm_wait_for 60 sh -c "[ \$(grep -ls ' queued ' '$T'/run/agent/delivered-* 2>/dev/null | wc -l) -ge 18 ]"
python3 - "$T/log/sessions" "$ST/transcripts/$HID" >"$T/s0" <<'PY'
import os, sys
host, broker = sys.argv[1:3]
for f in sorted(os.listdir(host)):
    p = os.path.join(broker, f)
    if f.startswith("alice-") and f.endswith(".cast") and (not os.path.exists(p) or os.path.getsize(p) == 0):
        print(f[:-5])
PY
( REC_SUB=bob; export REC_SUB; run bob Cmd-Burst )
W=$(python3 - "$T/log/sessions" "$ST/transcripts/$HID" "$T/s0" <<'PY'
import os, sys, time
host, broker, s0f = sys.argv[1:4]
s0 = open(s0f).read().split()
def size(p):
    try:
        return os.path.getsize(p)
    except OSError:
        return 0
end, bob = time.time() + 90, None
while time.time() < end:
    if bob is None:
        b = [f[:-5] for f in os.listdir(host) if f.startswith("bob-") and f.endswith(".cast")]
        bob = b[0] if b else None
    if bob and size(os.path.join(broker, bob + ".cast")) > 0:
        print(sum(1 for s in s0 if size(os.path.join(broker, s + ".cast")) == 0))
        sys.exit(0)
    time.sleep(0.05)
print(-1)
PY
)
echo "note: alice's transcripts waiting when bob's started: $(wc -l <"$T/s0"); still waiting when bob's reached the broker: $W"
if [ "$(wc -l <"$T/s0")" -ge 2 ]; then
	ssm_check "  bob's transcript reaches the broker before alice's that waited before it" [ "$W" -ge 1 ]
else
	echo "note: too few of alice's transcripts waited when bob's started to compare the order"
fi
ssm_wait_for 200 chan_bg_done $S bob
echo "note: $N sessions ended after $(( $(date +%s) - t0 )) s"
ssm_check "$N sessions of 600 kB each, twenty of them waiting for a turn, and bob's run to their end" rcs_ok $S bob
# on a failure: how the first sessions that did not run to their end ended
grep '"session_end"' "$T/log/audit.jsonl" | grep -v '"reason":"exit"' | head -3
ssm_check "  none ended at the backlog limit" sh -c \
	"! grep '\"session_end\"' '$T/log/audit.jsonl' | grep -q backlog"
ssm_check "  all audited as ended by their exit" \
	[ "$(grep '"session_end"' "$T/log/audit.jsonl" | grep -c '"reason":"exit"')" -ge $((N + 1)) ]
$IH tc qdisc del dev "$VH" root
ls "$T"/log/sessions/*.cast | sed 's|.*/\(.*\)\.cast$|\1|' >"$T/sids"
ssm_check "  all $(wc -l <"$T/sids") transcripts arrive complete at the broker, byte for byte" \
	ssm_wait_for 60 chan_all_complete "$T/sids"
ssm_check "  the broker refused no transcript for its limit (the agent keeps to it)" sh -c \
	"! grep -q 'too many transcripts' '$T/agent.log'"
none_queued() { ! queued_seen; }
ssm_check "  nothing is left queued once delivered" none_queued

# ---- a broker that stores nothing (its disk full) while twenty sessions print: the waiting
# ones are not held back for ever (the agent marks a transcript queued only while the broker
# acknowledges something); every one ends at the limit (reason error), as SPEC section 8
# says, and once there is room again every transcript still arrives complete
dd if=/dev/zero of="$ST/filler" bs=64k 2>/dev/null || true
ssm_check "the broker's file system is full" sh -c "! dd if=/dev/zero of='$ST/filler2' bs=4k count=1 2>/dev/null"
rm -f "$ST/filler2"
F=""
i=1
while [ $i -le 20 ]; do F="$F f$i"; i=$((i + 1)); done
n0=$(grep '"session_end"' "$T/log/audit.jsonl" | grep -c backlog)
t0=$(date +%s)
for f in $F; do run "$f" Cmd-Burst; done
ssm_wait_for 120 chan_bg_done $F
echo "note: 20 sessions ended after $(( $(date +%s) - t0 )) s"
ssm_check "twenty sessions while the broker stores nothing: all end, none held back for ever" chan_bg_done $F
ssm_check "  each at the backlog limit (reason error)" \
	[ $(( $(grep '"session_end"' "$T/log/audit.jsonl" | grep -c backlog) - n0 )) -ge 20 ]
rm -f "$ST/filler"
ls "$T"/log/sessions/*.cast | sed 's|.*/\(.*\)\.cast$|\1|' >"$T/sids"
ssm_check "  room again: every transcript arrives complete, byte for byte" \
	ssm_wait_for 90 chan_all_complete "$T/sids"

chan_end_checks
kill "$APID" 2>/dev/null
ssm_done
