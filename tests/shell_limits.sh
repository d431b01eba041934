#!/bin/sh
# shell_limits.sh - ssm-shell limits on real terminals (tmux), as root in private namespaces:
# idle timeout (warning, then the end within a second), maximum duration, root ending a
# live session (SIGTERM to the recorder, as ssmctl sessions terminate does), and no
# process of the session surviving its end: setsid + nohup, SIGHUP ignored, sudo -b.
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
within() { # VALUE LOW HIGH
	echo "  elapsed ${1} ms (expected ${2}..${3})"
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
no_survivors() { ! pgrep -f '^(sudo -n -b )?sleep 10(00|01|02)$' >/dev/null; }

mkdoc Shell-Idle '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeoutSeconds": 3}}'
mkdoc Shell-Max '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeoutSeconds": 600, "maxSessionDurationSeconds": 4}}'
mkdoc Shell-Long '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeoutSeconds": 600}}'
mkdir -p /etc/sudoers.d
echo 'ssmtu ALL=(root) NOPASSWD: ALL' >/etc/sudoers.d/ssm-test
chmod 0440 /etc/sudoers.d/ssm-test

echo "== idle timeout 3 s: a warning, then the end 3 s after the last input"
f0=$SSM_FAIL
tmux_login idle 80 24 ssmtu Shell-Idle -
ssm_check "prompt" ssm_tmux_wait idle 5 'ssmtu\$ $'
ssm_tmux_keys idle 'echo INPUT-AT-T1' Enter
t1=$(now_ms)
ssm_check "the idle warning is shown" ssm_tmux_wait idle 4 'session idle: it ends in'
ssm_check "the session ends" ssm_tmux_gone idle 5
t2=$(now_ms)
ssm_check "it ended 3 s (within 1 s) after the last input" within $((t2 - t1)) 2800 4000
end=$(audit_last session_end)
ssm_check "session_end reason idle_timeout" [ "$(jfield "$end" reason)" = idle_timeout ]
ssm_check "exit status 124" [ "$(cat "$T/rc")" = 124 ]
ssm_tmux_dump_if idle "$f0"
ssm_tmux_kill idle

echo "== maximum duration 4 s, input or not; the session's processes do not survive it"
f0=$SSM_FAIL
t1=$(now_ms)
tmux_login max 80 24 ssmtu Shell-Max -
ssm_check "prompt" ssm_tmux_wait max 5 'ssmtu\$ $'
ssm_tmux_keys max 'setsid nohup sleep 1000 >/dev/null 2>&1 & (trap "" HUP TERM; exec sleep 1002) & sudo -n -b sleep 1001; echo STARTED-$?' Enter
ssm_check "background, setsid and sudo processes started" ssm_tmux_wait max 3 'STARTED-0'
ssm_check "they run (as the user and as root)" ssm_wait_for 2 sh -c \
	'[ "$(pgrep -f "^sleep 10(00|01|02)\$" | wc -l)" = 3 ] && pgrep -u root -f "^sleep 1001\$" >/dev/null'
ssm_tmux_keys max 'echo typing' Enter
ssm_check "the session ends" ssm_tmux_gone max 6
t2=$(now_ms)
ssm_check "it ended 4 s (within 1 s) after the start" within $((t2 - t1)) 3500 5000
ssm_check "session_end reason max_duration" [ "$(jfield "$(audit_last session_end)" reason)" = max_duration ]
ssm_check "no process of the session survives (setsid, nohup, SIGHUP ignored, sudo)" \
	ssm_wait_for 1 no_survivors
ssm_tmux_dump_if max "$f0"
ssm_tmux_kill max
pkill -9 -f '^(sudo -n -b )?sleep 10(00|01|02)$' 2>/dev/null

echo "== root ends a live session (SIGTERM to the recorder from run_dir/live/SID.json)"
f0=$SSM_FAIL
tmux_login term 80 24 ssmtu Shell-Long -
ssm_check "prompt" ssm_tmux_wait term 5 'ssmtu\$ $'
ssm_tmux_keys term 'setsid nohup sleep 1000 >/dev/null 2>&1 & echo BG-STARTED' Enter
ssm_tmux_wait term 3 '^BG-STARTED' || true
rp=$(recorder_pid)
ssm_check "the live record names the recorder" [ -n "$rp" ]
ssm_check "the recorder runs as the recorder user" [ "$(stat -c %U "/proc/$rp")" = ssmsession ]
t1=$(now_ms)
kill -TERM "$rp"
ssm_check "the session ends" ssm_tmux_gone term 3
t2=$(now_ms)
ssm_check "within 1 s" within $((t2 - t1)) 0 1000
ssm_check "session_end reason terminated" [ "$(jfield "$(audit_last session_end)" reason)" = terminated ]
ssm_check "SID.end written" grep -q '"reason":"terminated"' "$T/run/live/$(sid_last).end"
ssm_check "no process of the session survives" ssm_wait_for 1 no_survivors
ssm_tmux_dump_if term "$f0"
ssm_tmux_kill term

echo "== the client going away (SIGHUP / hangup) ends the session and its processes"
f0=$SSM_FAIL
tmux_login hup 80 24 ssmtu Shell-Long -
ssm_check "prompt" ssm_tmux_wait hup 5 'ssmtu\$ $'
ssm_tmux_keys hup 'setsid nohup sleep 1000 >/dev/null 2>&1 & echo BG-STARTED' Enter
ssm_tmux_wait hup 3 '^BG-STARTED' || true
ssm_tmux_kill hup
ssm_check "the recorder ends" ssm_wait_for 3 sh -c "! pgrep -u ssmsession >/dev/null"
ssm_check "session_end reason disconnect" [ "$(jfield "$(audit_last session_end)" reason)" = disconnect ]
ssm_check "no process of the session survives" ssm_wait_for 1 no_survivors

echo "== ^Z on the client's terminal (a job of the user's shell, as with su) stops nothing of ours"
# The user's interactive shell puts the login in a foreground job: its process group is not
# orphaned, so SIGTSTP from the terminal would stop the recorder (whatever its uid) and the
# maximum duration would not be enforced while it is stopped.
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"maxSessionDurationSeconds": 3}}'
mkdoc Cmd-NonMax '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo NONMAX-START; sleep 1000"}}}'
f0=$SSM_FAIL
ne=$(audit_count session_end)
ssm_tmux_start tstp 80 24 "env -i PATH=/usr/bin:/bin TERM=xterm PS1='job\$ ' bash --norc --noprofile -i"
ssm_tmux_wait tstp 5 'job\$ $' || true
ssm_tmux_keys tstp "$T/bin/login ssmtu Cmd-NonMax -; echo LOGIN-RC=\$?" Enter
ssm_check "the command runs" ssm_tmux_wait tstp 5 '^NONMAX-START'
ssm_tmux_keys tstp C-z
# (the login wrapper, a plain sh in the same job, does stop: the recorder must not)
ssm_check "the session still ends at its maximum duration" \
	ssm_tmux_wait tstp 6 'maximum session duration reached'
# (the message reaches the terminal before the recorder has written session_end: wait for it)
ssm_check "session_end reason max_duration" ssm_wait_for 3 sh -c \
	"[ \$(grep -c '\"event\":\"session_end\"' '$T/log/audit.jsonl') -gt $ne ] &&
	 grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | tail -1 | grep -q '\"reason\":\"max_duration\"'"
ssm_check "no process of the session survives" ssm_wait_for 1 sh -c '! pgrep -f "^sleep 1000\$" >/dev/null'
ssm_tmux_dump_if tstp "$f0"
ssm_tmux_kill tstp
pkill -9 -f '^sleep 1000$' 2>/dev/null
pkill -CONT -u ssmsession 2>/dev/null
rm -f "$T/docs/SSM-SessionManagerRunShell.json"

echo "== inside a session ^Z still stops the user's own job (job control signals are theirs)"
f0=$SSM_FAIL
tmux_login jc 80 24 ssmtu Shell-Long -
ssm_check "prompt" ssm_tmux_wait jc 5 'ssmtu\$ $'
ssm_tmux_keys jc 'sleep 100' Enter
sleep 0.3
ssm_tmux_keys jc C-z
ssm_check "^Z stops the job in the session" ssm_tmux_wait jc 3 'Stopped +sleep 100'
ssm_tmux_keys jc 'kill -9 %1' Enter
sleep 0.3
ssm_tmux_keys jc 'exit 0' Enter
sleep 0.3
ssm_tmux_keys jc 'exit 0' Enter
ssm_check "the session ends" ssm_tmux_gone jc 5
ssm_tmux_dump_if jc "$f0"
ssm_tmux_kill jc

ssm_done
