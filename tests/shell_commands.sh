#!/bin/sh
# shell_commands.sh - ssm-shell command and port documents, as root in private namespaces:
# InteractiveCommands and NonInteractiveCommands with good and hostile parameter values
# (none may run anything but the document's command), no shell prompt ever, exit status
# passed back, no input for NonInteractiveCommands, -c refused for every type but
# Standard_Stream, and Port relaying bytes to 127.0.0.1 without a transcript.
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

PWN=$T/pwn # an injection would create files here (world-writable on purpose)
mkdir -p "$PWN" && chmod 1777 "$PWN"
pwned() { [ -n "$(ls -A "$PWN")" ]; }

mkdoc Cmd-Non '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "parameters": {"msg": {"type": "String", "description": "anything"},
                "other": {"type": "String", "default": "OTHER-DEFAULT"}},
 "properties": {"linux": {"commands": "printf '"'"'OUT[%s]\\n'"'"' {{ msg }}; exit 5"}}}'
mkdoc Cmd-List '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "parameters": {"files": {"type": "StringList"}},
 "properties": {"linux": {"commands": "printf '"'"'<%s>'"'"' {{files}}"}}}'
mkdoc Cmd-Stdin '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "cat; echo CAT-DONE"}}}'
mkdoc Cmd-Int '{"schemaVersion": "1.0", "sessionType": "InteractiveCommands",
 "parameters": {"msg": {"type": "String"}},
 "properties": {"linux": {"commands": "printf '"'"'OUT[%s]\\n'"'"' {{ msg }}; read -r line; echo GOT[$line]"}}}'
mkdoc Cmd-Sleep '{"schemaVersion": "1.0", "sessionType": "InteractiveCommands",
 "properties": {"linux": {"commands": "echo SLEEPING; sleep 30"}}}'

echo "== NonInteractiveCommands: hostile values are one literal word each"
python3 - "$T" "$PWN" <<'EOF'
import json, sys
t, pwn = sys.argv[1], sys.argv[2]
values = [
    "plain value",
    "x; touch PWN/a",
    "$(touch PWN/b)",
    "`touch PWN/c`",
    "${IFS}touch${IFS}PWN/d",
    "'; touch PWN/e; '",
    '"; touch PWN/f; "',
    "-n",
    "--version",
    "{{ other }}",
    "{{msg}}",
    "*",
    "/*",
    "[a-z]*?",
    "\\",
    "\\'",
    "$HOME",
    "| touch PWN/g > PWN/h",
    "& touch PWN/i &",
    "  two  spaces  ",
    "h\u00e9llo \u2603",
    "A" * 3000,
]
with open(t + "/values.count", "w") as f:
    f.write(str(len(values)))
for i, v in enumerate(values):
    v = v.replace("PWN", pwn)
    with open("%s/v%d.json" % (t, i), "w") as f:
        json.dump({"msg": [v]}, f)
    with open("%s/v%d.expect" % (t, i), "w", encoding="utf-8") as f:
        f.write("OUT[%s]\n" % v)
    with open("%s/v%d.name" % (t, i), "w") as f:
        f.write(repr(v)[:60])
refused = ["a\nb", "a\rb", "\x1b[2J", "tab\there", "A" * (1 << 20)]
with open(t + "/refused.count", "w") as f:
    f.write(str(len(refused)))
for i, v in enumerate(refused):
    with open("%s/r%d.json" % (t, i), "w") as f:
        json.dump({"msg": [v]}, f)
    with open("%s/r%d.name" % (t, i), "w") as f:
        f.write(repr(v)[:40])
with open(t + "/unknown.json", "w") as f:
    json.dump({"msg": ["a"], "evil": ["b"]}, f)
with open(t + "/list.json", "w") as f:
    json.dump({"files": ["a b", "*", "-x", "$(touch %s/l)" % pwn]}, f)
EOF
n=$(cat "$T/values.count")
i=0
while [ $i -lt "$n" ]; do
	ssm_login ssmtu Cmd-Non "@$T/v$i.json" >"$T/v$i.out" 2>"$T/v$i.err" </dev/null
	rc=$?
	ssm_check "value $(cat "$T/v$i.name"): printed literally, exit 5" \
		sh -c "cmp -s '$T/v$i.out' '$T/v$i.expect' && [ $rc = 5 ]"
	i=$((i + 1))
done
ssm_check_not "no injection created a file" pwned
ssm_check "exit status in session_end (5)" [ "$(jfield "$(audit_last session_end)" exit_status)" = 5 ]
ssm_check "the output is recorded" grep -q 'OUT\[AAAAAAAA' "$(cast_of "$(sid_last)")"

echo "== values that must refuse the session"
n=$(cat "$T/refused.count")
i=0
while [ $i -lt "$n" ]; do
	nd=$(audit_count login_denied)
	MKRECORD_RAW=1 ssm_login ssmtu Cmd-Non "@$T/r$i.json" >"$T/r$i.out" 2>&1 </dev/null
	rc=$?
	ssm_check "value $(cat "$T/r$i.name"): refused, audited, nothing ran" sh -c \
		"[ $rc = 1 ] && ! grep -q 'OUT\[' '$T/r$i.out' && [ $(audit_count login_denied) -gt $nd ]"
	i=$((i + 1))
done
ssm_login ssmtu Cmd-Non "@$T/unknown.json" >"$T/u.out" 2>&1 </dev/null
ssm_check "an undefined parameter refuses the session" sh -c "[ $? = 1 ] && ! grep -q 'OUT\[' '$T/u.out'"
ssm_login ssmtu Cmd-Non - >"$T/m.out" 2>&1 </dev/null
ssm_check "a missing parameter without default refuses the session" sh -c "[ $? = 1 ] && grep -q msg '$T/m.out'"
out=$(ssm_login ssmtu Cmd-List "@$T/list.json" 2>&1 </dev/null)
ssm_check "StringList: one word per element" [ "$out" = "<a b><*><-x><\$(touch $PWN/l)>" ]
ssm_check_not "still no injection" pwned

echo "== NonInteractiveCommands get no input"
out=$(echo SECRET-INPUT | ssm_login ssmtu Cmd-Stdin - 2>&1)
ssm_check "standard input is /dev/null" [ "$out" = CAT-DONE ]

echo "== -c is refused for every type but Standard_Stream"
for d in Cmd-Non Cmd-Int; do
	nd=$(audit_count login_denied)
	ssm_login ssmtu $d '{"msg": ["x"]}' -- -c 'echo VIA-C; id' >"$T/c.out" 2>&1 </dev/null
	rc=$?
	ssm_check "$d: -c refused" sh -c "[ $rc = 1 ] && ! grep -q VIA-C '$T/c.out'"
	ssm_check "$d: login_denied reason command_refused" \
		[ "$(jfield "$(audit_last login_denied)" reason)" = command_refused ]
done

echo "== InteractiveCommands on a terminal: the command, never a prompt"
f0=$SSM_FAIL
python3 -c 'import json; print(json.dumps({"msg": ["$(touch '"$PWN"'/int); `id`"]}))' >"$T/int.json"
tmux_login int 80 24 ssmtu Cmd-Int "@$T/int.json"
ssm_check "the value is printed literally" ssm_tmux_wait int 5 "^OUT\[\\\$\(touch $PWN/int\); \`id\`\]"
ssm_tmux_keys int -l 'typed; id'
ssm_tmux_keys int Enter
ssm_check "input reaches the command" ssm_tmux_wait int 5 '^GOT\[typed; id\]'
ssm_check "the session ends with the command" ssm_tmux_gone int 5
ssm_check_not "no shell prompt and no id output" ssm_tmux_wait int 0 '(\$ $|uid=)'
ssm_check_not "no injection" pwned
ssm_tmux_dump_if int "$f0"
ssm_tmux_kill int
f0=$SSM_FAIL
tmux_login sl 80 24 ssmtu Cmd-Sleep -
ssm_check "command runs" ssm_tmux_wait sl 5 '^SLEEPING'
ssm_tmux_keys sl C-c
ssm_check "Ctrl-C ends the session, no prompt" ssm_tmux_gone sl 3
ssm_check "exit status 130 (SIGINT) passed on" [ "$(cat "$T/rc")" = 130 ]
ssm_check_not "no prompt" ssm_tmux_wait sl 0 '\$ $'
ssm_tmux_dump_if sl "$f0"
ssm_tmux_kill sl

echo "== Port: bytes to and from 127.0.0.1:portNumber, no transcript"
python3 - "$T/port" <<'EOF' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(20)
c, _ = s.accept()
data = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    data += b
c.sendall(data.upper()); c.close()
EOF
ssm_wait_for 5 test -s "$T/port"
port=$(cat "$T/port")
mkdoc Port-Fwd '{"schemaVersion": "1.0", "sessionType": "Port",
 "parameters": {"portNumber": {"type": "String", "allowedPattern": "^[0-9]{1,5}$"}},
 "properties": {"portNumber": "{{ portNumber }}"}}'
out=$(printf 'hello port' | ssm_login ssmtu Port-Fwd "{\"portNumber\": [\"$port\"]}" 2>&1)
ssm_check "bytes relayed both ways" [ "$out" = "HELLO PORT" ]
sid=$(sid_last)
ssm_check "port_open audited" sh -c "grep '\"event\":\"port_open\"' '$T/log/audit.jsonl' | grep -q '\"port\":$port'"
end=$(audit_last session_end)
ssm_check "session_end with byte counts" sh -c \
	"[ '$(jfield "$end" bytes_in)' = 10 ] && [ '$(jfield "$end" bytes_out)' = 10 ]"
ssm_check_not "no transcript for a Port session" test -e "$(cast_of "$sid")"
nd=$(audit_count login_denied)
out=$(ssm_login ssmtu Port-Fwd "{\"portNumber\": [\"$port\"]}" -- -c 'id' 2>&1 </dev/null)
ssm_check "Port: -c refused" sh -c "[ $? = 1 ] && [ $(audit_count login_denied) -gt $nd ]"
wait

echo "== the seccomp filter holds in every path: -c and NonInteractiveCommands too"
mkdoc Cmd-Unshare '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "unshare -U -r true 2>/dev/null; echo NS=$?; true"}}}'
mkdoc Std-C '{"schemaVersion": "1.0", "sessionType": "Standard_Stream", "inputs": {}}'
if setpriv --reuid=ssmtu --regid=ssmtu --init-groups unshare -U -r true 2>/dev/null; then
	out=$(ssm_login ssmtu Cmd-Unshare - 2>&1 </dev/null)
	ssm_check "NonInteractiveCommands: unshare refused ($out)" [ "$out" = NS=1 ]
	out=$(ssm_login ssmtu Std-C - -- -c 'unshare -U -r true 2>/dev/null; echo NS=$?' 2>&1 </dev/null)
	ssm_check "Standard_Stream -c: unshare refused ($out)" [ "$out" = NS=1 ]
else
	echo "(no unprivileged user namespaces on this host: the unshare probe is skipped)"
fi
echo "== Port: a closed port ends the session with an error; a half-closed client does not spin"
rm -f "$T/port2" "$T/port2.eof1" "$T/port2.eof2" "$T/port2.release"
mkfifo "$T/port2.release"
# Two connections in turn: each is read until the relay passes the client's EOF on (shutdown
# SHUT_WR), which is announced in port2.eofN; the connection then stays open until the test
# writes to the FIFO port2.release (the first one), or until the server is killed (the
# second).
python3 - "$T/port2" <<'EOF' &
import socket, sys
port_file = sys.argv[1]
s = socket.socket()
s.bind(("127.0.0.1", 0)); s.listen(2)
open(port_file, "w").write(str(s.getsockname()[1]))
s.settimeout(120)
for n in (1, 2):
    c, _ = s.accept()
    c.settimeout(120)
    while c.recv(65536):
        pass
    open("%s.eof%d" % (port_file, n), "w").close()
    with open(port_file + ".release") as f: # blocks until the test opens the FIFO
        f.read()
    c.close()
EOF
srv=$!
ssm_wait_for 30 test -s "$T/port2"
port2=$(cat "$T/port2")
# a port nobody listens on: bound once, then closed
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ne=$(audit_count session_end)
out=$(ssm_login ssmtu Port-Fwd "{\"portNumber\": [\"$closed\"]}" 2>&1 </dev/null)
rc=$?
ssm_check "closed port: refused with exit 1 and one line ($out)" sh -c \
	"[ $rc = 1 ] && [ \$(printf '%s\n' '$out' | wc -l) = 1 ]"
ssm_check "closed port: session_end reason error" sh -c \
	"[ $(audit_count session_end) -gt $ne ] && [ '$(jfield "$(audit_last session_end)" reason)' = error ]"

# Does the relay wait after the client's EOF, or spin?  Events, not sleeps: the server sees
# the EOF the relay passes on, and from then on the relay has nothing to do until the port
# closes, which the test decides.  The recorder's CPU time is compared with a busy loop's
# over the same window, not with wall-clock time: under any load a spinning relay gets about
# a busy loop's share of the CPU, a waiting one next to nothing.
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"maxSessionDurationSeconds": 300}}'
rm -f "$T/sid"
: | ssm_login ssmtu Port-Fwd "{\"portNumber\": [\"$port2\"]}" >/dev/null 2>&1 &
pj=$!
live_recorder() { [ -s "$T/sid" ] && _p=$(recorder_pid) && [ -n "$_p" ] && [ -d "/proc/$_p" ]; }
cpu_ticks() { # PID: user + system clock ticks so far (fields 14 and 15 of /proc/PID/stat)
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
ssm_check "the port server sees the client's EOF through the relay" \
	ssm_wait_for 60 test -e "$T/port2.eof1"
ssm_wait_for 60 live_recorder
prp=$(recorder_pid)
sh -c 'while :; do :; done' &
spin=$!
r0=$(cpu_ticks "${prp:-0}")
s0=$(cpu_ticks "$spin")
r1=$r0 s1=$s0 gone='' i=0
# until the busy loop has had 0.5 s of CPU (or 600 rounds)
while [ -n "$r0" ] && [ -n "$s0" ] && [ $i -lt 600 ] && [ $((s1 - s0)) -lt 50 ]; do
	sleep 0.1
	r=$(cpu_ticks "$prp")
	s=$(cpu_ticks "$spin")
	[ -n "$r" ] || { gone=1; break; }
	r1=$r s1=${s:-$s1} i=$((i + 1))
done
kill "$spin"
wait "$spin" 2>/dev/null
dr=$((${r1:-0} - ${r0:-0}))
ds=$((${s1:-0} - ${s0:-0}))
echo "after the client's EOF, recorder ${prp:-?} used $dr clock ticks of CPU while a busy loop got $ds ($i rounds)"
if [ -z "$r0" ] || [ -n "$gone" ]; then
	ssm_check "the Port session's recorder lives until the port closes" false
elif [ "$ds" -lt 20 ]; then
	echo "SKIP: Port relay spin check: the busy loop got only $ds ticks in $i rounds (too loaded to tell)"
else
	ssm_check "the Port relay waits (does not spin) after the client's EOF: $dr ticks, at most a quarter of the busy loop's $ds" \
		[ $((dr * 4)) -le "$ds" ]
fi
timeout 60 sh -c ": >'$T/port2.release'" # the server closes the connection
wait "$pj"
ssm_check "... and ends when the port closes (reason exit)" \
	[ "$(jfield "$(audit_last session_end)" reason)" = exit ]

# the same half-closed client, and the port never closes: the maximum duration ends it
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"maxSessionDurationSeconds": 3}}'
rm -f "$T/sid"
: | ssm_login ssmtu Port-Fwd "{\"portNumber\": [\"$port2\"]}" >/dev/null 2>&1
ssm_check "a half-closed Port session ends at the maximum duration" sh -c \
	"[ -e '$T/port2.eof2' ] && [ '$(jfield "$(audit_last session_end)" reason)' = max_duration ]"
rm -f "$T/docs/SSM-SessionManagerRunShell.json"
kill "$srv" 2>/dev/null

ssm_done
