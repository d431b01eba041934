#!/bin/sh
# channel_turns.sh - more transcripts being written on a host than the broker takes channels
# for at once (SSM_FRAME_TRANSCRIPTS_MAX, 16), as root (agent/deliver.c's turns):
#  - eighteen idle sessions, then three that print 1.6 MB each with transcript_backlog_max
#    at 600 kB: the idle ones give their channels up (caught up), the busy ones are delivered
#    live and run to their end (they used to wait behind the idle ones until their recorder
#    ended them at the limit);
#  - twenty sessions printing 3.2 MB each at once: they take turns on the sixteen channels
#    and every one runs to its end;
#  - every transcript, idle and busy, arrives complete and byte for byte at the broker;
#  - a spool of 1000 finished transcripts beside two busy sessions: the running sessions go
#    first, every spooled one arrives once; the agent restarted offers none of them again
#    (state_dir/delivered-transcripts).
# Sessions on the local login path (tests/shell_setup.sh's login, ssm-shell as the run-as
# user's shell), delivered by the agent as from sshd. Isolation as in channel_sessions.sh
# (tests/channel_setup.sh), 169.254.84.0/30.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"
. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net q 169.254.84
chan_broker
GO=$T/home/ssmtu/turns-go # the idle sessions end once it exists
mkdoc Cmd-Idle '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo IDLE-START; while [ ! -e '"$GO"' ]; do sleep 0.2; done; echo IDLE-END"}}}'
# 30 x 54 kB in about 6 s: 270 kB/s, 1.6 MB in all
mkdoc Cmd-Busy '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "i=0; while [ $i -lt 30 ]; do head -c 40000 /dev/urandom | base64 -w 100; sleep 0.2; i=$((i+1)); done; echo BUSY-END"}}}'
# twice as long: longer than a waiting session's pause (5 s) and its way to the limit
mkdoc Cmd-Long '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "i=0; while [ $i -lt 60 ]; do head -c 40000 /dev/urandom | base64 -w 100; sleep 0.2; i=$((i+1)); done; echo BUSY-END"}}}'
chan_docs Cmd-Idle Cmd-Busy Cmd-Long
# ssm-shell holds the output back at half of it (300 kB: a session waiting a second for a
# channel gets there) and ends the session once the broker took less than an eighth in 5 s
CHAN_CONF_EXTRA='{"transcript_backlog_max": 600000}'
chan_host Environment=Dev
chan_pam
chan_agent
chan_login_hid

run() { chan_bg "$@"; }
rcs_ok() { # NAME...: each ended with 0 and printed its last line
	for _n in "$@"; do
		[ "$(cat "$T/$_n.rc" 2>/dev/null)" = 0 ] || { echo "  $_n: rc $(cat "$T/$_n.rc" 2>/dev/null), $(tail -2 "$T/$_n.err")"; return 1; }
	done
}
ended_by_exit() { # count of session_end events with reason exit
	grep '"session_end"' "$T/log/audit.jsonl" | grep -c '"reason":"exit"'
}

# ---- eighteen idle sessions hold the channels, then three busy ones
IDLE=""
i=1
while [ $i -le 18 ]; do IDLE="$IDLE idle$i"; run "idle$i" Cmd-Idle; i=$((i + 1)); done
ssm_check "eighteen idle sessions start" ssm_wait_for 60 sh -c \
	"[ \$(grep -l IDLE-START $T/log/sessions/*.cast 2>/dev/null | wc -l) -ge 18 ]"
ssm_check "  the broker holds the first bytes of each idle transcript (not only 16)" ssm_wait_for 30 sh -c \
	"[ \$(find '$ST/transcripts/$HID' -name '*.cast' -size +0 2>/dev/null | wc -l) -ge 18 ]"
n0=$(ended_by_exit)
BUSY="busy1 busy2 busy3"
for b in $BUSY; do run "$b" Cmd-Busy; done
ssm_wait_for 90 chan_bg_done $BUSY
ssm_check "three busy sessions beside them run to their end (each 1.6 MB, limit 600 kB)" rcs_ok $BUSY
for b in $BUSY; do
	ssm_check "  $b printed its last line" grep -qx BUSY-END "$T/$b.out"
done
ssm_check "  audited as ended by their exit (none by the backlog limit)" \
	[ $(( $(ended_by_exit) - n0 )) -ge 3 ]
ssm_check "  no session ended at the backlog limit" sh -c \
	"! grep '\"session_end\"' '$T/log/audit.jsonl' | grep -q backlog"
touch "$GO"
ssm_wait_for 60 chan_bg_done $IDLE
ssm_check "the idle sessions end" rcs_ok $IDLE
ls "$T"/log/sessions/*.cast | sed 's|.*/\(.*\)\.cast$|\1|' >"$T/sids1"
ssm_check "  all $(wc -l <"$T/sids1") transcripts arrive complete at the broker, byte for byte" \
	ssm_wait_for 60 chan_all_complete "$T/sids1"
rm -f "$GO"

# ---- twenty busy sessions at once: turns on sixteen channels
MANY=""
i=1
while [ $i -le 20 ]; do MANY="$MANY many$i"; i=$((i + 1)); done
n0=$(ended_by_exit)
for m in $MANY; do run "$m" Cmd-Long; done
ssm_wait_for 110 chan_bg_done $MANY
ssm_check "twenty busy sessions at once (3.2 MB each) run to their end" rcs_ok $MANY
ssm_check "  audited as ended by their exit" [ $(( $(ended_by_exit) - n0 )) -ge 20 ]
ssm_check "  no session ended at the backlog limit" sh -c \
	"! grep '\"session_end\"' '$T/log/audit.jsonl' | grep -q backlog"
ls "$T"/log/sessions/*.cast | sed 's|.*/\(.*\)\.cast$|\1|' >"$T/sids2"
ssm_check "  all $(wc -l <"$T/sids2") transcripts arrive complete at the broker, byte for byte" \
	ssm_wait_for 60 chan_all_complete "$T/sids2"
ssm_check "  the broker refused no transcript for its limit (the agent keeps to it)" sh -c \
	"! grep -q 'too many transcripts' '$T/agent.log'"

# ---- a spool of 1000 finished transcripts (a host that keeps weeks of sessions, the broker
# back after an outage) and two busy sessions at once: the running sessions go first
NSP=1000
n0=$(ended_by_exit)
python3 - "$T/log/sessions" "$NSP" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    p = os.path.join(d, "spool-%08d.cast" % i)  # as ssm-shell names them: USER-TAIL
    with open(p, "w") as f:
        f.write('{"version": 2, "width": 80, "height": 24}\n[0.5, "o", "spool %d\\r\\n"]\n' % i)
    os.chmod(p, 0o640)
PY
ssm_check "the spool is made" [ "$(cd "$T/log/sessions" && ls | grep -c '^spool-')" = "$NSP" ]
for b in sp1 sp2; do run "$b" Cmd-Busy; done
ssm_wait_for 90 chan_bg_done sp1 sp2
ssm_check "$NSP finished transcripts in the spool: two busy sessions still run to their end" rcs_ok sp1 sp2
ssm_check "  audited as ended by their exit" [ $(( $(ended_by_exit) - n0 )) -ge 2 ]
(cd "$T/log/sessions" && ls spool-*.cast) | sed 's|\.cast$||' >"$T/spool"
ssm_check "  the $(wc -l <"$T/spool") arrive complete at the broker, byte for byte" \
	ssm_wait_for 180 chan_all_complete "$T/spool"
ssm_check "  and each once: the broker refused none as complete" sh -c \
	"! grep -q 'transcript spool-.*refused' '$T/agent.log'"
ls "$T"/log/sessions/*.cast | sed 's|.*/\(.*\)\.cast$|\1|' >"$T/sids3"
ssm_check "  so are the two sessions' (every transcript is)" ssm_wait_for 60 chan_all_complete "$T/sids3"
# restarted, the agent knows them all: it offers none again (once it wrote each down: the
# broker marks a transcript complete before its last acknowledgement reaches the agent)
listed_all() { # FILE of sids: each in state_dir/delivered-transcripts
	sort -u "$1" >"$T/want.s" && sort -u "$T/state/delivered-transcripts" >"$T/have.s" 2>/dev/null &&
		[ -z "$(comm -23 "$T/want.s" "$T/have.s")" ]
}
ssm_check "  the agent wrote each one down as delivered" ssm_wait_for 30 listed_all "$T/sids3"
chan_agent_again "the agent restarted links up"
ND=$(ls "$T/log/sessions" | wc -l)
ssm_check "  it knows the whole spool was delivered ($ND transcripts)" \
	grep -Eq "(^|[^0-9])$ND transcripts in the spool were delivered before" "$T/agent.log"
run after Cmd-Busy
ssm_wait_for 60 chan_bg_done after
ssm_check "  a new busy session runs to its end" rcs_ok after
ls "$T"/log/sessions/*.cast | sed 's|.*/\(.*\)\.cast$|\1|' >"$T/sids4"
ssm_check "  and is delivered" ssm_wait_for 30 chan_all_complete "$T/sids4"
ssm_check "  none of the spool was offered again" sh -c "! grep -q 'transcript spool-.*refused' '$T/agent.log'"

chan_end_checks
kill "$APID" 2>/dev/null
ssm_done
