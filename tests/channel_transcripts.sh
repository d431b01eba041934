#!/bin/sh
# channel_transcripts.sh - transcript delivery's corner cases (agent/deliver.c,
# brokerd/transcripts.c), as root:
#  - a session whose every byte was acknowledged long before it ended: its EOF still reaches
#    the broker, which marks the transcript complete (a CLOSE queued behind the EOF used to
#    discard it);
#  - an agent restarted after delivering: it remembers what it delivered and offers none of
#    it; without its list, the broker refuses the complete transcripts once each and the
#    agent does not offer them again (it used to every second);
#  - the broker's disk full: nothing it could not store is acknowledged, it says so and goes
#    on; the host keeps the spool, and once there is room the transcript arrives byte for
#    byte and complete;
#  - a file in the spool named by no session id (a copy) is delivered and ended.
# Isolation as in channel_sessions.sh (tests/channel_setup.sh), 169.254.76.0/30.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"
. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net t 169.254.76
chan_broker_fs 8m # the broker's state on a small file system of its own, to fill later
chan_broker --keepalive 2:6
mkdoc Cmd-Tail '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo TAIL-OUTPUT; sleep 2"}}}'
mkdoc Cmd-Big '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "sleep 4; seq 1 60000"}}}'
chan_docs Cmd-Tail Cmd-Big
chan_host Environment=Dev
chan_pam
chan_agent --keepalive 2:6
cat >"$T/pol.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": ["ssm:StartSession", "ssm:GetTranscript"], "Resource": "*"}]}
EOF
chan_user alice "$T/pol.json"
ssm() { XDG_CONFIG_HOME="$T/cfg" $IB "$SSM" "$@"; }
complete_at_broker() { # SID: stored complete and identical to the host's file
	python3 -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute("SELECT complete FROM transcripts WHERE sid=?", (sys.argv[2],)).fetchone(); sys.exit(0 if r and r[0] == 1 else 1)' \
		"$ST/broker.db" "$1" && cmp -s "$T/log/sessions/$1.cast" "$ST/transcripts/$HID/$1.cast"
}
sid_of() { sed -n 's/^Starting session with SessionId: //p' "$1"; }

# ---- every byte acknowledged before the session ends: still marked complete
ssm start-session --target "$HID" --document-name Cmd-Tail </dev/null >"$T/tail.out" 2>"$T/tail.err"
TSID=$(sid_of "$T/tail.err")
ssm_check "a session that is quiet for 2 s before it ends runs" grep -qx TAIL-OUTPUT "$T/tail.out"
ssm_check "  its transcript is stored complete and identical at the broker" \
	ssm_wait_for 15 complete_at_broker "$TSID"
ssm_check "  the agent says it was delivered" ssm_wait_for 10 grep -q "transcript $TSID delivered" "$T/agent.log"

# ---- the agent restarted: it remembers what it delivered (state_dir/delivered-transcripts)
# and offers none of it again; without that file, the broker refuses each complete one once
restart_agent() { chan_agent_again "$1" --keepalive 2:6; }
refusals() { grep -c "transcript $TSID: the broker closed its delivery: refused" "$T/agent.log"; }
ssm_check "the agent wrote down the delivered transcript" grep -qx "$TSID" "$T/state/delivered-transcripts"
restart_agent "the agent restarted links up"
ssm_check "  it knows the spool's delivered transcripts" \
	grep -q "transcripts in the spool were delivered before" "$T/agent.log"
# a session lasting 2 s: the agent scans every second meanwhile
ssm start-session --target "$HID" --document-name Cmd-Tail </dev/null >/dev/null 2>"$T/tail2.err"
T2=$(sid_of "$T/tail2.err")
ssm_check "  a new session's transcript is delivered complete meanwhile" \
	ssm_wait_for 15 complete_at_broker "$T2"
ssm_check "  the delivered one was not offered again" [ "$(refusals)" = 0 ]
rm -f "$T/state/delivered-transcripts"
restart_agent "the agent restarted without its list links up"
ssm_check "  it offers the delivered transcript, which the broker refuses as complete" \
	ssm_wait_for 10 grep -q "transcript $TSID: the broker closed its delivery: refused" "$T/agent.log"
ssm start-session --target "$HID" --document-name Cmd-Tail </dev/null >/dev/null 2>"$T/tail3.err"
T3=$(sid_of "$T/tail3.err")
ssm_check "  a new session's transcript is delivered complete meanwhile" \
	ssm_wait_for 15 complete_at_broker "$T3"
ssm_check "  the complete one was offered once only (not every second)" [ "$(refusals)" = 1 ]
ssm_check "  a refusal is not written down (a broker may refuse for other reasons: offered again after a restart)" \
	sh -c "! grep -qx '$TSID' '$T/state/delivered-transcripts'"
# the list's bad lines: too long, a path, a name cut short at the end, one whose transcript
# is gone; only the good ones count, and the list is written again without the others
L=$T/state/delivered-transcripts
ssm_wait_for 10 grep -qx "$T3" "$L"
NGOOD=$(wc -l <"$L")
{ head -c 600 /dev/zero | tr '\0' a; echo; echo ../../etc/passwd; echo gone-00000000;
  printf 'cut-short'; } >>"$L"
restart_agent "the agent restarted with bad lines in its list links up"
ssm_check "  it counts only the good ones ($NGOOD)" sh -c \
	"grep 'transcripts in the spool were delivered before' '$T/agent.log' | tail -n 1 | grep -Eq '(^|[^0-9])$NGOOD transcripts'"
ssm_check "  and writes the list again without the others" \
	sh -c "[ \$(wc -l <'$L') = $NGOOD ] && ! grep -q 'passwd\|gone-\|cut-short\|aaaa' '$L'"
chmod 0666 "$L"
restart_agent "the agent restarted with a list others may write links up"
ssm_check "  it says it does not trust the list" grep -q "delivered-transcripts: not a file of ours or unreadable (.*writable by group or others" "$T/agent.log"
ssm_check "  and leaves it as it is" sh -c "[ \$(stat -c %a '$L') = 666 ] && [ \$(wc -l <'$L') = $NGOOD ]"
chmod 0600 "$L"

# ---- the broker's disk full (after the session started: StartSession itself needs the
# broker's database), then room again
# (the session prints after 4 s; the disk is full within milliseconds of its start)
ssm start-session --target "$HID" --document-name Cmd-Big </dev/null >"$T/big.out" 2>"$T/big.err" &
BIGPID=$!
ssm_wait_for 15 grep -q "^Starting session with SessionId: " "$T/big.err"
BSID=$(sid_of "$T/big.err")
ssm_wait_for 15 grep -q "session $BSID: started on" "$T/broker.log"
dd if=/dev/zero of="$ST/filler" bs=64k 2>/dev/null || true
ssm_check "the broker's file system is full" sh -c "! dd if=/dev/zero of='$ST/filler2' bs=4k count=1 2>/dev/null"
rm -f "$ST/filler2"
wait "$BIGPID"
ssm_check "a session runs while the broker cannot store its transcript" sh -c \
	"[ \$(wc -l <'$T/big.out') = 60000 ] && tail -n 1 '$T/big.out' | grep -qx 60000"
ssm_check "  the broker says it cannot store it" \
	ssm_wait_for 15 grep -qE "transcript $BSID from $HID(: cannot store| refused)" "$T/broker.log"
ssm_check "  it acknowledged nothing it did not store: its copy is a prefix of the host's" sh -c \
	"s=\$(stat -c %s '$ST/transcripts/$HID/$BSID.cast' 2>/dev/null || echo 0);
	 head -c \"\$s\" '$T/log/sessions/$BSID.cast' | cmp -s - '$ST/transcripts/$HID/$BSID.cast' ||
	 [ \"\$s\" = 0 ]"
ssm_check "  the host keeps the whole transcript (the spool)" \
	grep -q '60000' "$T/log/sessions/$BSID.cast"
ssm_check "  the broker is still running" kill -0 "$BPID"
rm -f "$ST/filler"
ssm_check "room again: the transcript arrives complete and byte for byte" \
	ssm_wait_for 30 complete_at_broker "$BSID"
ssm get-transcript --session-id "$BSID" >"$T/got.cast" 2>"$T/got.err"
ssm_check "  and get-transcript serves it" cmp -s "$T/got.cast" "$T/log/sessions/$BSID.cast"
cmp "$T/got.cast" "$T/log/sessions/$BSID.cast" || { ls -l "$T/got.cast" "$T/log/sessions/$BSID.cast"; cat "$T/got.err"; }
ssm_check "the agent logs no protocol error" sh -c "! grep -qi 'protocol error' '$T/agent.log' '$T/broker.log'"

# ---- transcript_backlog_max: the broker stops taking a session's transcript (stopped), the
# session goes on printing on another login path (the sshd path: a session record, then
# ssm-shell), its transcript's unacknowledged bytes pass the limit: it ends, reason error
python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); c["transcript_backlog_max"] = 100000; json.dump(c, open(sys.argv[1], "w"))' "$CONF_PATH"
mkdoc Cmd-Slow '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "i=0; while [ $i -lt 40 ]; do seq 1 5000; sleep 0.5; i=$((i+1)); done"}}}'
sed "s|\"$HOST_ID\"|\"$HID\"|" "$T/bin/login" >"$T/bin/login-hid" && chmod 0755 "$T/bin/login-hid"
rm -f "$T/sid"
timeout 60 "$T/bin/login-hid" ssmtu Cmd-Slow - -- </dev/null >"$T/bl.out" 2>"$T/bl.err" &
LPID=$!
ssm_wait_for 10 test -s "$T/sid"
LSID=$(cat "$T/sid")
ssm_check "a session on the sshd path is delivered while it runs" \
	ssm_wait_for 15 test -e "$T/run/agent/delivered-$LSID"
kill -STOP "$BPID"
rc=0
wait "$LPID" || rc=$?
kill -CONT "$BPID"
ssm_check "  the broker stopped: the session ends before its 20 s (reason error)" sh -c \
	"[ $rc != 0 ] && [ $rc != 124 ] && grep -q 'backlog' '$T/bl.err'"
ssm_check "  audited: session_end, reason error, the backlog named" sh -c \
	"grep '\"session_end\"' '$T/log/audit.jsonl' | grep '$LSID' | grep -q '\"reason\":\"error\".*backlog'"
ssm_check "  the broker back: its transcript still arrives complete, byte for byte" \
	ssm_wait_for 40 complete_at_broker "$LSID"

# ---- a transcript just created: ssm-shell makes SID.cast, then registers the session as
# live, then writes the header.  The agent offers a new file at once (inotify); an empty one
# whose session is not live is that moment, not a finished transcript, and is not ended
RSID=alice-justmade0001
: >"$T/log/sessions/$RSID.cast"
chmod 0640 "$T/log/sessions/$RSID.cast"
offered() { [ -e "$ST/transcripts/$HID/$RSID.cast" ]; }
ssm_check "a new, empty transcript is offered to the broker at once" ssm_wait_for 10 offered
sleep 2 # the agent's ticks (250 ms) and scans (1 s) meanwhile
ssm_check_not "  it is not ended while empty: its ssm-shell may be between the file and its live record" \
	complete_at_broker "$RSID"
printf '{"version": 2, "width": 80, "height": 24}\n' >>"$T/log/sessions/$RSID.cast"
ssm_check "  once it has bytes (its session not live) it ends, complete, byte for byte" \
	ssm_wait_for 15 complete_at_broker "$RSID"

# ---- a file in the spool whose name is no session id ssm-shell makes (a copy, say: the
# tail after the last dash is too short): no recorder can be live for it, so it is a
# finished transcript, delivered and ended; it used to wait forever as a running session's
CSID=alice-copy
printf '{"version": 2, "width": 80, "height": 24}\n[0.5, "o", "copied\\r\\n"]\n' >"$T/log/sessions/$CSID.cast"
chmod 0640 "$T/log/sessions/$CSID.cast"
ssm_check "a transcript named by no session id (a copy) is delivered and ended, complete" \
	ssm_wait_for 15 complete_at_broker "$CSID"

if [ "$SSM_FAIL" -gt 0 ]; then
	echo "--- agent.log"; tail -30 "$T/agent.log"
	echo "--- broker.log"; tail -30 "$T/broker.log"
fi
kill "$APID" 2>/dev/null
ssm_done
