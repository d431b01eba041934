#!/bin/sh
# channel_turns.sh - more transcripts being written on a host than the broker takes channels
# for at once (SSM_FRAME_TRANSCRIPTS_MAX, 16), as root (agent/deliver.c's turns):
#  - eighteen idle sessions, then three that print 1.6 MB each with transcript_backlog_max
#    at 600 kB: the idle ones give their channels up (caught up), the busy ones are delivered
#    live and run to their end (they used to wait behind the idle ones until their recorder
#    ended them at the limit);
#  - twenty sessions printing 3.2 MB each at once: they take turns on the sixteen channels
#    and every one runs to its end;
#  - every transcript, idle and busy, arrives complete and byte for byte at the broker.
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
sed "s|\"$HOST_ID\"|\"$HID\"|" "$T/bin/login" >"$T/bin/login-hid" && chmod 0755 "$T/bin/login-hid"

complete_at_broker() { # SID: stored complete and identical to the host's file
	python3 -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute("SELECT complete FROM transcripts WHERE sid=?", (sys.argv[2],)).fetchone(); sys.exit(0 if r and r[0] == 1 else 1)' \
		"$ST/broker.db" "$1" 2>/dev/null && cmp -s "$T/log/sessions/$1.cast" "$ST/transcripts/$HID/$1.cast"
}
all_complete() { # FILE of sids
	while read -r _s; do complete_at_broker "$_s" || return 1; done <"$1"
}
run() { # NAME DOC: a session in the background, its output in $T/NAME.out, rc in $T/NAME.rc
	( rc=0; timeout 120 "$T/bin/login-hid" ssmtu "$2" - -- </dev/null >"$T/$1.out" 2>"$T/$1.err" || rc=$?
	  echo "$rc" >"$T/$1.rc" ) &
}
rcs_ok() { # NAME...: each ended with 0 and printed its last line
	for _n in "$@"; do
		[ "$(cat "$T/$_n.rc" 2>/dev/null)" = 0 ] || { echo "  $_n: rc $(cat "$T/$_n.rc" 2>/dev/null), $(tail -2 "$T/$_n.err")"; return 1; }
	done
}
ended_by_exit() { # count of session_end events with reason exit
	grep '"session_end"' "$T/log/audit.jsonl" | grep -c '"reason":"exit"'
}
all_done() { for _n in "$@"; do [ -e "$T/$_n.rc" ] || return 1; done; }

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
ssm_wait_for 90 all_done $BUSY
ssm_check "three busy sessions beside them run to their end (each 1.6 MB, limit 600 kB)" rcs_ok $BUSY
for b in $BUSY; do
	ssm_check "  $b printed its last line" grep -qx BUSY-END "$T/$b.out"
done
ssm_check "  audited as ended by their exit (none by the backlog limit)" \
	[ $(( $(ended_by_exit) - n0 )) -ge 3 ]
ssm_check "  no session ended at the backlog limit" sh -c \
	"! grep '\"session_end\"' '$T/log/audit.jsonl' | grep -q backlog"
touch "$GO"
ssm_wait_for 60 all_done $IDLE
ssm_check "the idle sessions end" rcs_ok $IDLE
ls "$T"/log/sessions/*.cast | sed 's|.*/\(.*\)\.cast$|\1|' >"$T/sids1"
ssm_check "  all $(wc -l <"$T/sids1") transcripts arrive complete at the broker, byte for byte" \
	ssm_wait_for 60 all_complete "$T/sids1"
rm -f "$GO"

# ---- twenty busy sessions at once: turns on sixteen channels
MANY=""
i=1
while [ $i -le 20 ]; do MANY="$MANY many$i"; i=$((i + 1)); done
n0=$(ended_by_exit)
for m in $MANY; do run "$m" Cmd-Long; done
ssm_wait_for 110 all_done $MANY
ssm_check "twenty busy sessions at once (3.2 MB each) run to their end" rcs_ok $MANY
ssm_check "  audited as ended by their exit" [ $(( $(ended_by_exit) - n0 )) -ge 20 ]
ssm_check "  no session ended at the backlog limit" sh -c \
	"! grep '\"session_end\"' '$T/log/audit.jsonl' | grep -q backlog"
ls "$T"/log/sessions/*.cast | sed 's|.*/\(.*\)\.cast$|\1|' >"$T/sids2"
ssm_check "  all $(wc -l <"$T/sids2") transcripts arrive complete at the broker, byte for byte" \
	ssm_wait_for 60 all_complete "$T/sids2"
ssm_check "  the broker refused no transcript for its limit (the agent keeps to it)" sh -c \
	"! grep -q 'too many transcripts' '$T/agent.log'"

chan_end_checks
kill "$APID" 2>/dev/null
ssm_done
