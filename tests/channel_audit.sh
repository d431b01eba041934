#!/bin/sh
# channel_audit.sh - the host's audit log delivered to the broker over AUDIT channels
# (docs/PROTOCOL.md section 4; agent/deliver_audit.c, brokerd/audit_store.c), as root:
# every line of log_dir/audit.jsonl reaches state_dir/audit/HOST/SEGMENT.jsonl at the
# broker byte for byte, exactly once, also across an agent restart and a logrotate-style
# rotation (audit.jsonl renamed to audit.jsonl.1 while a session still writes to it), and
# `ssm-broker audit list|show` show it.
#
# Isolation as in channel_sessions.sh: private mount and pid namespaces
# (tests/shell_setup.sh), two network namespaces joined by a veth pair (169.254.79.0/30),
# the broker and the client in one, the host in the other.  Every wait polls with a bound.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net a 169.254.79
chan_broker --keepalive 2:6

mkdoc Cmd-Id '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo CHAN-OK-$(id -un); exit 7"}}}'
mkdoc Cmd-Sleep '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo SLEEPING; exec sleep 1000"}}}'
chan_docs Cmd-Id Cmd-Sleep

# ---- the host
chan_host Environment=Dev
chan_pam
# the host's own login path (no broker token): refused while the agent is down
chan_login_hid

start_agent() {
	$IH "$AGENT" --config "$CONF_PATH" --keepalive 2:6 >>"$T/agent.log" 2>&1 &
	APID=$!
	PIDS="$PIDS $APID"
}
chan_agent --keepalive 2:6

cat >"$T/dev.json" <<EOF
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession",
  "Resource": ["arn:aws:ssm:*:*:managed-instance/*", "arn:aws:ssm:*:*:document/*"]},
 {"Effect": "Allow", "Action": ["ssm:TerminateSession", "ssm:DescribeSessions"], "Resource": "*"}]}
EOF
chan_user alice "$T/dev.json"
ssm() { XDG_CONFIG_HOME="$T/cfg" $IB "$SSM" "$@"; }

LOG=$T/log
# the segment name the agent gives a file: audit.INODE.(SHA-256 of its first line)[:16]
seg_of() { echo "audit.$(stat -c %i "$1").$(head -n 1 "$1" | sha256sum | cut -c1-16)"; }
stored() { echo "$ST/audit/$HID/$(seg_of "$1").jsonl"; }
same() { [ -f "$1" ] && cmp -s "$1" "$(stored "$1")"; }
last_sid() { # the sid of the last session_start in FILE
	python3 -c 'import json,sys
s=[json.loads(l)["sid"] for l in open(sys.argv[1]) if "\"session_start\"" in l]
print(s[-1] if s else "")' "$1"
}
seg_state() { # FILE: "complete" or "open", from ssm-broker audit list --json
	"$BROKER" audit list --state-dir "$ST" --host "$HID" --json 2>/dev/null | python3 -c 'import json,sys
n=sys.argv[1]; s=[x for x in json.load(sys.stdin) if x["segment"] == n]
print(("complete" if s[0]["complete"] else "open") if s else "none")' "$(seg_of "$1")"
}

# ---- a command session: its events at the broker, byte for byte
rc=0
ssm start-session --target "$HID" --document-name Cmd-Id >"$T/id.out" 2>"$T/id.err" </dev/null || rc=$?
ssm_check "a command session runs (status 7)" sh -c "[ $rc = 7 ] && grep -qx CHAN-OK-ssmtu '$T/id.out'"
SID1=$(last_sid "$LOG/audit.jsonl")
ssm_check "  its session_end is on the host" ssm_wait_for 10 sh -c \
	"grep '\"session_end\"' '$LOG/audit.jsonl' | grep -q '\"$SID1\"'"
ssm_check "the broker's segment is byte-identical to the host's audit.jsonl" ssm_wait_for 20 same "$LOG/audit.jsonl"
same "$LOG/audit.jsonl" || { ls -l "$LOG" "$ST/audit/$HID" 2>&1; tail -5 "$T/agent.log"; tail -5 "$T/broker.log"; }
ssm_check "  it holds session_start and session_end of $SID1" sh -c \
	"f='$(stored "$LOG/audit.jsonl")'; grep '\"session_start\"' \"\$f\" | grep -q '\"$SID1\"' && grep '\"session_end\"' \"\$f\" | grep -q '\"$SID1\"'"
ssm_check "  one segment file for the host, 0600" sh -c \
	"[ \$(ls '$ST/audit/$HID' | wc -l) = 1 ] && [ \$(stat -c %a '$(stored "$LOG/audit.jsonl")') = 600 ]"
ssm_check "  audit list shows it open (audit.jsonl is still written)" [ "$(seg_state "$LOG/audit.jsonl")" = open ]

# ---- events written while the agent is stopped arrive once it is back, exactly once
kill "$APID" 2>/dev/null
wait "$APID" 2>/dev/null
ssm_wait_for 5 grep -q '"up": false' "$T/run/agent/link.json"
lines0=$(wc -l <"$LOG/audit.jsonl")
rc=0
timeout 30 "$T/bin/login-hid" ssmtu Cmd-Id - -- </dev/null >"$T/td.out" 2>"$T/td.err" || rc=$?
ssm_check "with the agent down a login is refused and audited (login_denied)" sh -c \
	"[ $rc != 0 ] && tail -3 '$LOG/audit.jsonl' | grep -q '\"login_denied\"'"
ssm_check_not "  the broker does not have that event yet" same "$LOG/audit.jsonl"
start_agent
ssm_check "  once the agent is back it reaches the broker: byte-identical" ssm_wait_for 20 same "$LOG/audit.jsonl"
ssm_check "  exactly once: as many lines at the broker as on the host, no line twice" sh -c \
	"f='$(stored "$LOG/audit.jsonl")'; [ \$(wc -l <\"\$f\") = \$(wc -l <'$LOG/audit.jsonl') ] && [ \$(wc -l <\"\$f\") -gt $lines0 ] && [ -z \"\$(sort \"\$f\" | uniq -d)\" ]"
ssm_check "  the agent resumed at the broker's offset (one segment, no new file)" sh -c \
	"[ \$(ls '$ST/audit/$HID' | wc -l) = 1 ]"

# ---- rotation while a session still writes to the old file
ssm start-session --target "$HID" --document-name Cmd-Sleep </dev/null >"$T/sleep.out" 2>"$T/sleep.err" &
CPID=$!
PIDS="$PIDS $CPID"
ssm_check "a long session starts" ssm_wait_for 15 grep -q SLEEPING "$T/sleep.out"
SID2=$(last_sid "$LOG/audit.jsonl")
ssm_wait_for 10 same "$LOG/audit.jsonl"
OLDSEG=$(seg_of "$LOG/audit.jsonl")
mv "$LOG/audit.jsonl" "$LOG/audit.jsonl.1"
rc=0
ssm start-session --target "$HID" --document-name Cmd-Id >"$T/id3.out" 2>"$T/id3.err" </dev/null || rc=$?
SID3=$(last_sid "$LOG/audit.jsonl")
ssm_check "after the rotation a new session writes a new audit.jsonl ($SID3)" sh -c \
	"[ $rc = 7 ] && [ -n '$SID3' ] && [ '$SID3' != '$SID2' ]"
ssm_check "  the rotated file keeps its segment name" [ "$(seg_of "$LOG/audit.jsonl.1")" = "$OLDSEG" ]
ssm_check "  the new file is a second segment at the broker, byte-identical" ssm_wait_for 20 same "$LOG/audit.jsonl"
ssm_check "  and the rotated one is byte-identical too" ssm_wait_for 10 same "$LOG/audit.jsonl.1"
sleep 3
ssm_check "  the rotated segment stays open while the running session holds it" \
	[ "$(seg_state "$LOG/audit.jsonl.1")" = open ]
ssm terminate-session --session-id "$SID2" >/dev/null 2>&1
ssm_wait_for 10 sh -c "! kill -0 $CPID 2>/dev/null"
ssm_check "  the ended session's session_end lands in audit.jsonl.1" ssm_wait_for 10 sh -c \
	"grep '\"session_end\"' '$LOG/audit.jsonl.1' | grep -q '\"$SID2\"'"
rotated_complete() { same "$LOG/audit.jsonl.1" && [ "$(seg_state "$LOG/audit.jsonl.1")" = complete ]; }
ssm_check "  and then the rotated segment is completed (identical, complete)" ssm_wait_for 20 rotated_complete
seg_state "$LOG/audit.jsonl.1" | grep -q complete || { tail -5 "$T/agent.log"; tail -5 "$T/broker.log"; }
# the broker stores the segment as complete, then acknowledges it: the agent's line follows
ssm_check "  the agent says it delivered it" ssm_wait_for 10 grep -q "audit segment $OLDSEG delivered" "$T/agent.log"
current_open() { same "$LOG/audit.jsonl" && [ "$(seg_state "$LOG/audit.jsonl")" = open ]; }
ssm_check "  the current segment is still open, identical" current_open

# an agent restart after the completion: the complete segment is not sent again
kill "$APID" 2>/dev/null
wait "$APID" 2>/dev/null
start_agent
ssm_check "after a restart the complete segment is refused as complete, not reopened" ssm_wait_for 15 \
	grep -q "audit segment $OLDSEG: the broker closed its delivery: refused" "$T/agent.log"
both_same() { same "$LOG/audit.jsonl.1" && same "$LOG/audit.jsonl"; }
ssm_check "  both stored segments are unchanged" both_same
grep -q "audit segment $OLDSEG: the broker closed its delivery: refused" "$T/agent.log" || grep 'audit' "$T/agent.log" | tail -8

# ---- whole lines only: a line being written is not sent before its end
WHOLE=$(wc -c <"$LOG/audit.jsonl")
printf '{"ts":"%s","event":"test_partial","host_id":null' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$LOG/audit.jsonl"
sleep 3
whole_only() {
	f=$(stored "$LOG/audit.jsonl")
	[ "$(wc -c <"$f")" = "$WHOLE" ] && head -c "$WHOLE" "$LOG/audit.jsonl" | cmp -s - "$f"
}
ssm_check "a partial last line is not delivered (the broker has every whole line)" whole_only
printf '}\n' >>"$LOG/audit.jsonl"
ssm_check "  once its end is written it arrives: byte-identical" ssm_wait_for 10 same "$LOG/audit.jsonl"

# ---- ssm-broker audit list / show
list_both() {
	"$BROKER" audit list --state-dir "$ST" --host "$HID" >"$T/list.out" &&
		grep -q "$OLDSEG.*complete" "$T/list.out" &&
		grep -q "$(seg_of "$LOG/audit.jsonl").*open" "$T/list.out"
}
ssm_check "audit list names both segments of the host" list_both
list_both || cat "$T/list.out"
"$BROKER" audit show --state-dir "$ST" --host "$HID" >"$T/show.out" 2>"$T/show.err"
ssm_check "audit show prints every stored event, the rotated segment's first" sh -c \
	"cat '$LOG/audit.jsonl.1' '$LOG/audit.jsonl' | cmp -s - '$T/show.out'"
ssm_check "  with the sessions' events" sh -c \
	"for s in $SID1 $SID2 $SID3; do grep '\"session_start\"' '$T/show.out' | grep -q \"\\\"\$s\\\"\" && grep '\"session_end\"' '$T/show.out' | grep -q \"\\\"\$s\\\"\" || exit 1; done"
ssm_check "  --since in the future prints nothing" sh -c \
	"\"$BROKER\" audit show --state-dir '$ST' --host '$HID' --since 2999-01-01T00:00:00Z >'$T/s2' && [ ! -s '$T/s2' ]"
ssm_check "  --since a minute ago prints the recent events" sh -c \
	"\"$BROKER\" audit show --state-dir '$ST' --host '$HID' --since \$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%S+00:00) | grep -q '\"$SID3\"'"
for bad in yesterday 2024-13-01T00:00:00Z 2023-02-29T00:00:00Z 2024-01-01T00:00:00 2024-01-01T25:00:00Z 2024-01-01T00:00:00+24:00 2024-1-01T00:00:00Z; do
	rc=0
	"$BROKER" audit show --state-dir "$ST" --host "$HID" --since "$bad" >/dev/null 2>&1 || rc=$?
	ssm_check "  --since $bad is a usage error (2)" [ "$rc" = 2 ]
done
for good in 2024-02-29T00:00:00Z 2024-01-01T00:00:00.123456Z 2024-01-01t00:00:00-05:30 "2024-01-01 00:00:00Z"; do
	ssm_check "  --since '$good' is accepted" sh -c "\"$BROKER\" audit show --state-dir '$ST' --host '$HID' --since '$good' >/dev/null"
done
# a malformed stored line is skipped with a warning, the others printed
BAD=mi-00000000000000bad
mkdir -p "$ST/audit/$BAD"
printf '{"ts":"2024-01-01T00:00:00Z","event":"a"}\nnot json\n{"ts":"2024-01-01T00:00:01Z","event":"b"}\n' >"$ST/audit/$BAD/audit.1.x.jsonl"
python3 - "$ST/broker.db" "$BAD" "$(wc -c <"$ST/audit/$BAD/audit.1.x.jsonl")" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO audit_segments (host, segment, bytes, complete, created, updated) VALUES (?, 'audit.1.x', ?, 1, 0, 0)", (sys.argv[2], int(sys.argv[3])))
db.commit()
PY
"$BROKER" audit show --state-dir "$ST" --host "$BAD" >"$T/bad.out" 2>"$T/bad.err"
ssm_check "audit show skips a malformed line with a warning" sh -c \
	"[ \$(wc -l <'$T/bad.out') = 2 ] && grep -q 'line 2: not a JSON object' '$T/bad.err'"
ssm_check "audit show of a host with nothing stored fails (1)" sh -c \
	"! \"$BROKER\" audit show --state-dir '$ST' --host mi-00000000000000000 >/dev/null 2>&1"

kill "$APID" 2>/dev/null
ssm_done
