#!/bin/sh
# shell_hardening.sh - the session user against the recorder, as root in private namespaces:
# kill -9 and ptrace (gdb) of the recorder and of the session's init fail, from inside the
# session and from a process of the same user outside it; the transcript and the audit log
# cannot be written, truncated, renamed or deleted; TIOCSTI fails; the client's terminal
# cannot be opened around the recorder, and a descriptor of it a process of the user opened
# before the session is hung up (vhangup); namespaces cannot be created (seccomp).
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

mkdoc Shell-H '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeoutSeconds": 600}}'
asuser() { setpriv --reuid=ssmtu --regid=ssmtu --init-groups "$@"; }
PY=/usr/bin/python3 # the system's, which the user can run
cat >"$T/tiocsti.py" <<'EOF'
import fcntl, termios
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"x")
    print("TIOCSTI-WORKED")
except OSError as e:
    print("TIOCSTI-REFUSED-%d" % e.errno)
EOF
cat >"$T/ptrace.py" <<'EOF'
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH, PTRACE_SEIZE = 16, 0x4206
r1 = libc.ptrace(PTRACE_ATTACH, int(sys.argv[1]), 0, 0)
r2 = libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), 0, 0)
print("ptrace attach", r1, "seize", r2, "errno", ctypes.get_errno())
sys.exit(0 if (r1 == 0 or r2 == 0) else 1)
EOF
chmod 0644 "$T/tiocsti.py" "$T/ptrace.py"

f0=$SSM_FAIL
# the client's terminal belongs to the user, as sshd leaves it
ssm_tmux_start h 100 30 "chown ssmtu \$(tty); TERM=xterm $T/bin/login ssmtu Shell-H -"
ssm_check "prompt" ssm_tmux_wait h 5 'ssmtu\$ $'
outer=$(SSM_TMUX display-message -p -t h '#{pane_tty}')
rp=$(recorder_pid)
ip=$(pgrep -P "$rp" | head -1)
sid=$(sid_last)
cast=$(cast_of "$sid")
echo "recorder $rp, session init $ip, client terminal $outer"
ssm_check "recorder and init found" [ -n "$rp" -a -n "$ip" ]

echo "== from inside the session"
ssm_tmux_keys h "kill -9 1; kill -9 $rp; echo K1=\$?" Enter
ssm_check "kill -9 of init is ignored and the recorder is not visible" ssm_tmux_wait h 5 '^K1=1$'
ssm_tmux_keys h "ls /proc/$rp >/dev/null 2>&1; echo VIS=\$?" Enter
ssm_check "the recorder's process is not visible inside" ssm_tmux_wait h 5 '^VIS=[12]$'
ssm_tmux_keys h "echo X >>$cast; echo W=\$?; : >$cast; echo TR=\$?; rm -f $cast; echo RM=\$?" Enter
ssm_check "writing the transcript fails" ssm_tmux_wait h 5 '^W=1$'
ssm_check "truncating the transcript fails" ssm_tmux_wait h 5 '^TR=1$'
ssm_check "deleting the transcript fails" ssm_tmux_wait h 5 '^RM=1$'
ssm_tmux_keys h "mv $cast /tmp/x 2>/dev/null; echo MV=\$?; echo X >>$T/log/audit.jsonl; echo AW=\$?" Enter
ssm_check "renaming the transcript fails" ssm_tmux_wait h 5 '^MV=1$'
ssm_check "writing the audit log fails" ssm_tmux_wait h 5 '^AW=1$'
ssm_tmux_keys h "echo BYPASS >$outer; echo OT=\$?" Enter
ssm_check "the client's terminal cannot be written around the recorder" ssm_tmux_wait h 5 '^OT=1$'
ssm_tmux_keys h "$PY $T/tiocsti.py" Enter
ssm_check "TIOCSTI fails" ssm_tmux_wait h 5 '^TIOCSTI-REFUSED-[0-9]+$'
ssm_tmux_keys h "unshare -U -r true 2>/dev/null; echo NS=\$?" Enter
ssm_check "creating a namespace fails (seccomp)" ssm_tmux_wait h 5 '^NS=1$'
ssm_tmux_keys h "$SSM_SHELL -c id; echo NESTED=\$?" Enter
ssm_check "ssm-shell refuses to run inside a session" ssm_tmux_wait h 5 '^NESTED=1$'
ssm_check "... with login_denied reason nested" ssm_wait_for 2 sh -c \
	"grep '\"event\":\"login_denied\"' '$T/log/audit.jsonl' | tail -1 | grep -q '\"reason\":\"nested\"'"
if command -v gdb >/dev/null; then
	ssm_tmux_keys h "gdb -batch -p 1 -ex 'print 1' 2>&1 | grep -c 'ptrace: Operation not permitted' | sed 's/^/GDB=/'" Enter
	ssm_check "gdb cannot attach to init" ssm_tmux_wait h 10 '^GDB=1$'
fi

echo "== from a process of the same user outside the session"
asuser kill -9 "$rp" 2>/dev/null
ssm_check "kill -9 of the recorder fails (EPERM)" [ $? != 0 ]
asuser kill -9 "$ip" 2>/dev/null
ssm_check "kill -9 of the session init fails (EPERM)" [ $? != 0 ]
ssm_check_not "the recorder's memory cannot be read" asuser head -c1 "/proc/$rp/mem"
ssm_check_not "the recorder's environment cannot be read" asuser cat "/proc/$rp/environ"
ssm_check_not "the recorder's descriptors cannot be listed" asuser ls "/proc/$rp/fd"
ssm_check_not "ptrace attach/seize of the recorder fails (EPERM)" asuser $PY "$T/ptrace.py" "$rp"
ssm_check_not "ptrace attach/seize of the session init fails (EPERM)" asuser $PY "$T/ptrace.py" "$ip"
ssm_check "(the ptrace probe itself works on the user's own process)" sh -c \
	"setpriv --reuid=ssmtu --regid=ssmtu --init-groups sleep 5 & sleep 0.2; asuser_pid=\$!; setpriv --reuid=ssmtu --regid=ssmtu --init-groups $PY '$T/ptrace.py' \$asuser_pid; r=\$?; kill \$asuser_pid; exit \$r"
if command -v gdb >/dev/null; then
	ssm_check "gdb as the user cannot attach to the recorder" sh -c \
		"setpriv --reuid=ssmtu --regid=ssmtu --init-groups gdb -batch -p $rp 2>&1 | grep -q 'ptrace: Operation not permitted'"
fi
ssm_check_not "the user cannot write the transcript" asuser sh -c "echo X >>'$cast'"
ssm_check_not "the user cannot delete the transcript" asuser rm -f "$cast"
ssm_check "the transcript is intact" [ -f "$cast" ]
ssm_check "the client's terminal is the recorder's for the session" \
	[ "$(stat -c %U:%a "$outer")" = ssmsession:600 ]

echo "== the session still works, and is recorded"
ssm_tmux_keys h 'echo STILL-$((40+2)); exit 0' Enter
ssm_check "session alive until exit" ssm_tmux_gone h 5
ssm_check "output recorded" grep -q 'STILL-42' "$cast"
ssm_check_not "nothing bypassed into the client's terminal" ssm_tmux_wait h 0 '^BYPASS'
ssm_check "session_end reason exit" [ "$(jfield "$(audit_last session_end)" reason)" = exit ]
ssm_tmux_dump_if h "$f0"
ssm_tmux_kill h

echo "== a descriptor of the client's terminal opened before the session is hung up"
# A process of the user opens the client's terminal while it is still theirs (before
# ssm-shell takes it over) and keeps the fd: with it they could write to the client around
# the recorder and read keystrokes.  ssm-shell, the session leader with the terminal as its
# controlling tty (as under sshd: the record's process is its parent), revokes every
# earlier descriptor with vhangup() and reopens the terminal.  login-sl runs ssm-shell
# through `setsid -c` to make it that session leader.
sed 's|^setpriv |setsid -c setpriv |' "$T/bin/login" >"$T/bin/login-sl"
chmod 0755 "$T/bin/login-sl"
mkdir -p "$T/vh"
chown ssmtu:ssmtu "$T/vh"
cat >"$T/vh/holder.py" <<'EOF'
import errno, os, select, sys, time
d = sys.argv[2]
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
open(d + "/opened", "w").close()
end = time.time() + 30
while not os.path.exists(d + "/go"):
    if time.time() > end:
        sys.exit(1)
    time.sleep(0.05)
res = []
try:
    os.write(fd, b"\r\nHOLDER-BYPASS\r\n")
    res.append("WRITE-OK")
except OSError as e:
    res.append("WRITE-" + errno.errorcode.get(e.errno, str(e.errno)))
if select.select([fd], [], [], 1)[0]:
    try:
        res.append("READ-EOF" if os.read(fd, 64) == b"" else "READ-DATA")
    except OSError as e:
        res.append("READ-" + errno.errorcode.get(e.errno, str(e.errno)))
else:
    res.append("READ-NONE")
with open(d + "/result.tmp", "w") as f:
    f.write(" ".join(res) + "\n")
os.rename(d + "/result.tmp", d + "/result")
EOF
cat >"$T/vh/pane.sh" <<EOF
t=\$(tty); chown ssmtu "\$t"; echo "\$t" >$T/vh/tty
setpriv --reuid=ssmtu --regid=ssmtu --init-groups setsid $PY $T/vh/holder.py "\$t" $T/vh \\
	</dev/null >/dev/null 2>&1 &
echo \$! >$T/vh/holder.pid
i=0; while [ ! -e $T/vh/opened ] && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i+1)); done
TERM=xterm exec $T/bin/login-sl ssmtu Shell-H -
EOF
chmod 0644 "$T/vh/holder.py" "$T/vh/pane.sh"
f0=$SSM_FAIL
rm -f "$T/rc"
ssm_tmux_start vh 100 30 "exec sh $T/vh/pane.sh"
ssm_check "prompt" ssm_tmux_wait vh 5 'ssmtu\$ $'
ssm_check "the user's holder opened the client's terminal before ssm-shell ran" \
	[ -e "$T/vh/opened" ]
vrp=$(recorder_pid)
vsid=$(ps -o sid= -p "${vrp:-0}" 2>/dev/null | tr -d ' ')
vcast=$(cast_of "$(sid_last)")
echo "recorder $vrp, its session $vsid, client terminal $(cat "$T/vh/tty" 2>/dev/null)"
ssm_check "ssm-shell is the session leader of the client's terminal" \
	[ -n "$vrp" -a "$vsid" = "$vrp" ]
touch "$T/vh/go"
ssm_wait_for 10 [ -e "$T/vh/result" ]
echo "holder: $(cat "$T/vh/result" 2>/dev/null)"
ssm_check "the holder's write on its early descriptor fails (EIO)" \
	grep -q 'WRITE-EIO' "$T/vh/result"
ssm_check "... and its read gives no keystrokes (EOF of a hung-up terminal)" \
	grep -Eq 'READ-(EOF|EIO)' "$T/vh/result"
ssm_tmux_keys vh 'whoami; echo VH-$((6*7))' Enter
ssm_check "the session still works (whoami)" ssm_tmux_wait vh 5 '^ssmtu$'
ssm_check "... and runs commands" ssm_tmux_wait vh 5 '^VH-42$'
ssm_check_not "the holder's marker is not on the client's terminal" \
	ssm_tmux_wait vh 0 'HOLDER-BYPASS'
# SIGWINCH goes to the terminal's foreground process group: ours again after the reopen
SSM_TMUX resize-window -t vh -x 120 -y 40 >/dev/null 2>&1
sleep 0.3
ssm_tmux_keys vh 'echo SZ=$(stty size)' Enter
ssm_check "a window size change still passes through" ssm_tmux_wait vh 5 '^SZ=40 120$'
ssm_tmux_keys vh 'exit 3' Enter
ssm_check "session ended" ssm_tmux_gone vh 5
ssm_wait_for 5 [ -s "$T/rc" ]
ssm_check "exit status passed on (3)" [ "$(cat "$T/rc" 2>/dev/null)" = 3 ]
if command -v asciinema >/dev/null; then
	script -qec "asciinema cat '$vcast'" /dev/null </dev/null >"$T/vh/cat" 2>&1
	ssm_check "the transcript has the session's output (asciinema cat)" \
		grep -q 'VH-42' "$T/vh/cat"
	ssm_check_not "... and not the holder's marker" grep -q 'HOLDER-BYPASS' "$T/vh/cat"
fi
ssm_check "session_end reason exit" [ "$(jfield "$(audit_last session_end)" reason)" = exit ]
ssm_tmux_dump_if vh "$f0"
ssm_tmux_kill vh
hp=$(cat "$T/vh/holder.pid" 2>/dev/null)
[ -n "$hp" ] && kill "$hp" 2>/dev/null

echo "== while still privileged, ssm-shell and the session's init cannot be signalled by the user"
# strace (root) holds each at unshare() for 3 s: ssm-shell before it forks init, init
# before it drops to the recorder user.  With the caller's real uid kept there, a process
# of the user could SIGSTOP init before its drop; the recorder (another uid by then) could
# not kill it at the end and the session would outlive it.
if command -v strace >/dev/null; then
	sed 's|setpriv --reuid="$u" --regid="$u" --init-groups|strace -f -qq -o /dev/null -e trace=unshare -e inject=unshare:delay_enter=3000000 -u "$u"|' \
		"$T/bin/login" >"$T/bin/login-held"
	chmod 0755 "$T/bin/login-held"
	timeout -k 5 60 "$T/bin/login-held" ssmtu Shell-H - -- -c 'echo HELD-DONE' \
		</dev/null >"$T/held.out" 2>&1 &
	held=$!
	ssm_wait_for 5 pgrep -x ssm-shell >/dev/null
	sp=$(pgrep -x ssm-shell | head -1)
	sleep 1
	ssm_check_not "the user cannot signal ssm-shell before it forks (kill -0)" \
		asuser kill -0 "$sp"
	ssm_wait_for 5 sh -c "pgrep -P '$sp' >/dev/null"
	hp=$(pgrep -P "$sp" | head -1)
	sleep 1
	echo "ssm-shell $sp, init before its drop $hp"
	ssm_check "init found" [ -n "$hp" ]
	ssm_check_not "the user cannot signal the session's init before its drop (kill -0)" \
		asuser kill -0 "${hp:-1}"
	wait "$held"
	ssm_check "the held session still ran" grep -q HELD-DONE "$T/held.out"
else
	echo "(strace missing: privileged-phase signal checks skipped)"
fi

echo "== an interval timer the caller left running cannot end the recorder"
# setitimer() timers survive execve: SIGALRM at 2 s would kill the recorder (default
# action) with up to a second of the transcript unwritten and no session_end.
cat >"$T/itimer.py" <<'EOF'
import os, signal, sys
signal.setitimer(signal.ITIMER_REAL, 2)
signal.setitimer(signal.ITIMER_VIRTUAL, 0.05)
signal.setitimer(signal.ITIMER_PROF, 0.05)
os.execv(sys.argv[1], sys.argv[1:])
EOF
chmod 0644 "$T/itimer.py"
sed "s|--init-groups |--init-groups $PY $T/itimer.py |" "$T/bin/login" >"$T/bin/login-itimer"
chmod 0755 "$T/bin/login-itimer"
ne=$(audit_count session_end)
timeout -k 5 30 "$T/bin/login-itimer" ssmtu Shell-H - -- \
	-c 'sleep 3; echo AFTER-ALARM; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo BUSY-DONE' \
	</dev/null >"$T/itimer.out" 2>&1
rc=$?
ssm_check "the session outlived the caller's timers (exit 0, got $rc)" [ "$rc" = 0 ]
ssm_check "its output arrived" grep -q BUSY-DONE "$T/itimer.out"
ssm_check "session_end was written by the recorder" [ "$(audit_count session_end)" -gt "$ne" ]
ssm_check "... with reason exit" [ "$(jfield "$(audit_last session_end)" reason)" = exit ]

echo "== a CPU time limit the caller set binds the session, not the recorder"
# RLIMIT_CPU would let the user kill the recorder (SIGXCPU, then SIGKILL) when they
# choose, by making it relay output: without session_end, the last second unwritten.
# (A soft limit: raising a hard one needs CAP_SYS_RESOURCE, which containers may lack.)
sed "s|--init-groups |--init-groups prlimit --cpu=7:unlimited |" "$T/bin/login" >"$T/bin/login-cpu"
chmod 0755 "$T/bin/login-cpu"
rm -f "$T/sid"
timeout -k 5 30 "$T/bin/login-cpu" ssmtu Shell-H - -- -c 'echo CPU=$(ulimit -t); sleep 4' \
	</dev/null >"$T/cpu.out" 2>&1 &
cpujob=$!
live_recorder() { [ -s "$T/sid" ] && _p=$(recorder_pid) && [ -n "$_p" ] && [ -d "/proc/$_p" ]; }
ssm_wait_for 5 live_recorder
crp=$(recorder_pid)
echo "recorder $crp: $(grep 'Max cpu time' "/proc/$crp/limits" 2>/dev/null)"
ssm_check "the recorder has no CPU time limit" \
	grep -Eq '^Max cpu time +unlimited +unlimited' "/proc/${crp:-0}/limits"
wait "$cpujob"
ssm_check "the session keeps the caller's CPU time limit (7)" grep -q '^CPU=7$' "$T/cpu.out"

ssm_done
