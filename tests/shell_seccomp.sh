#!/bin/sh
# shell_seccomp.sh - the session seccomp filter inside real ssm-shell sessions, as root in
# private namespaces (tests/shell_setup.sh) with throwaway users:
#  0. control: tests/seccomp_probe run unconfined passes its "none" expectations and fails
#     its "baseline" ones (so the probe can fail); its line count is what sessions must show.
#  1. Standard_Stream via -c, via a terminal (tmux), and NonInteractiveCommands: every probe
#     line ok, exit 0, Seccomp: 2, NoNewPrivs: 0 (allow_privilege defaults to true).
#     Named: ioctl(TIOCSETD) and modify_ldt work unconfined (or are skipped with the reason)
#     and are EPERM in the session; ioctl(TIOCGETD) still works there.
#  2. sudo inside a session (NOPASSWD for the probe in a private /etc/sudoers.d bind-mounted
#     in this namespace): the probe runs as uid 0 and still gets EPERM for mount, unshare...
#  3. "allow_privilege": false: NoNewPrivs: 1, sudo cannot gain root, the probe still passes.
#  4. "seccomp_profiles": debug for Standard_Stream allows ptrace (probe debug passes, the
#     probe's baseline expectations fail, gdb runs a program); strict for
#     InteractiveCommands is in force in such a session (probe strict passes, baseline fails).
#  5. ordinary work in a session: cc hello world, dpkg -l | head, ed and vi -es scripts, ps,
#     ls -l /proc/self/fd, sort, python3 -c.
#  6. a denial inside a session reaches the kernel log (type=1326), where it is readable.
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

PROBE_BUILT=$builddir/tests/seccomp_probe
[ -x "$PROBE_BUILT" ] || { echo "FAIL: $PROBE_BUILT not built (make tests/seccomp_probe)"; exit 99; }
avail=$(cat /proc/sys/kernel/seccomp/actions_avail 2>/dev/null)
case " $avail " in
*" kill_process "*" log "*) ;;
*) echo "SKIP: kernel seccomp lacks kill_process/log actions ($avail)"; exit 77 ;;
esac
ulimit -c 0
PROBE=$T/bin/seccomp_probe
cp "$PROBE_BUILT" "$PROBE"
chmod 0755 "$PROBE"
# show a captured output when a check failed since the count given
show_if() { # FILE FAILCOUNT-BEFORE
	[ "$SSM_FAIL" -gt "$2" ] || return 0
	echo "--- $1:"; sed 's/^/| /' "$1" | tail -80
}

mkdoc Sc-Std '{"schemaVersion": "1.0", "sessionType": "Standard_Stream", "inputs": {}}'
mkdoc Sc-Non '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "'"$PROBE"' baseline"}}}'
mkdoc Sc-Int '{"schemaVersion": "1.0", "sessionType": "InteractiveCommands",
 "parameters": {"p": {"type": "String", "default": "strict"}},
 "properties": {"linux": {"commands": "'"$PROBE"' {{ p }}; echo PROBE-RC=$?"}}}'

# a -c session as ssmtu; output in FILE, exit status in $rc
run_c() { # FILE DOC COMMAND
	ssm_login ssmtu "$2" - -- -c "$3" >"$1" 2>&1 </dev/null
	rc=$?
}
# probe_ok FILE PROFILE NNP: every probe line ok, as many as the control run has
probe_ok() {
	[ "$(grep -c ' ok$' "$1")" = "$NLINES" ] && ! grep -q 'FAIL' "$1" &&
		grep -qx "seccomp_probe $2: 0 failures" "$1" &&
		grep -Eq '^Seccomp:[[:space:]]+2$' "$1" &&
		grep -Eq "^NoNewPrivs:[[:space:]]+$3\$" "$1"
}

echo "== 6. a denial inside a session reaches the kernel log (first: before rate limits)"
if dmesg >/dev/null 2>&1; then
	cp "$(command -v unshare)" "$T/bin/ssm-sc-logtest"
	chmod 0755 "$T/bin/ssm-sc-logtest"
	found=
	: >"$T/log6.all"
	for i in 1 2 3; do
		run_c "$T/log6.out" Sc-Std "$T/bin/ssm-sc-logtest --user true; echo NS=\$?"
		cat "$T/log6.out" >>"$T/log6.all"
		sleep 1
		if dmesg | grep 'type=1326' | grep -q "exe=\"$T/bin/ssm-sc-logtest\""; then
			found=1
			break
		fi
		echo "note: no record yet (attempt $i), waiting for the printk rate limit window"
		sleep 5
	done
	# never allowed, in any attempt (the probe rows above check the EPERM itself); once in
	# a CI run the session's last line was missing here: say so when it happens again
	ssm_check "unshare --user in the session is refused" sh -c "! grep -qx 'NS=0' '$T/log6.all'"
	grep -qx 'NS=1' "$T/log6.out" ||
		{ echo "note: the session's output lacks its NS= line:"; sed 's/^/| /' "$T/log6.out"; }
	if [ -n "$found" ]; then
		ssm_check "kernel logged the session's denial: $(dmesg | grep "exe=\"$T/bin/ssm-sc-logtest\"" |
			tail -1 | sed 's/.*\(type=1326\)/\1/; s/ ip=.*code/ ... code/')" true
	elif ! grep -q errno /proc/sys/kernel/seccomp/actions_logged 2>/dev/null ||
		pgrep -x auditd >/dev/null; then
		echo "note: no record in dmesg (auditd running, or errno not logged): not tested"
	else
		ssm_check "a type=1326 record for the session's denied unshare" false
	fi
else
	echo "note: kernel log not readable: row 6 skipped"
fi

echo "== 0. control: the probe unconfined"
"$PROBE" none >"$T/none.out" 2>&1
ssm_check "unconfined probe passes its 'none' expectations" [ $? = 0 ]
NLINES=$(grep -c ' ok$' "$T/none.out")
echo "probe lines: $NLINES"
ssm_check "the probe has lines to check" [ "$NLINES" -gt 40 ]
ssm_check_not "unconfined probe fails its 'baseline' expectations" sh -c "'$PROBE' baseline >/dev/null 2>&1"
# rows named in the checks below: the pty line discipline, and the x86 LDT where it exists
newrows() {
	printf '%s\n' 'ioctl(TIOCSETD, N_TTY) on a pty' 'ioctl(0xffffffff<<32|TIOCSETD, N_TTY) on a pty'
	[ "$(uname -m)" != x86_64 ] || echo 'modify_ldt(read)'
}
newrows >"$T/newrows"
while IFS= read -r row; do
	line=$(grep -F "$row: " "$T/none.out")
	case $line in
	*"SKIPPED: "*" ok") echo "SKIP: unconfined $line" ;;
	*) ssm_check "unconfined: $row works ($line)" \
		[ "$line" = "$row: OK (allowed here: expected OK) ok" ] ;;
	esac
done <"$T/newrows"

echo "== 1. the filter in Standard_Stream (-c, terminal) and NonInteractiveCommands sessions"
f0=$SSM_FAIL
run_c "$T/c.out" Sc-Std "$PROBE baseline"
ssm_check "-c: probe exit 0" [ "$rc" = 0 ]
ssm_check "-c: every probe line ok (baseline, Seccomp 2, NoNewPrivs 0)" probe_ok "$T/c.out" baseline 0
ssm_check "-c: runs as the session user" grep -qx 'uid=61001 euid=61001' "$T/c.out"
while IFS= read -r row; do
	ssm_check "-c: $row EPERM" grep -qxF "$row: EPERM (expected EPERM) ok" "$T/c.out"
done <"$T/newrows"
ssm_check "-c: ioctl(TIOCGETD) on a pty still works" grep -qxF 'ioctl(TIOCGETD) on a pty: OK ok' "$T/c.out"
show_if "$T/c.out" "$f0"

f0=$SSM_FAIL
tmux_login sc 120 40 ssmtu Sc-Std -
ssm_check "terminal: prompt" ssm_tmux_wait sc 5 'ssmtu\$ $'
ssm_tmux_keys sc "$PROBE baseline >$T/home/ssmtu/t.out 2>&1; echo PRC=\$?" Enter
ssm_check "terminal: probe exit 0" ssm_tmux_wait sc 20 '^PRC=0$'
ssm_check "terminal: every probe line ok" probe_ok "$T/home/ssmtu/t.out" baseline 0
ssm_tmux_keys sc 'exit 0' Enter
ssm_check "terminal: session ends" ssm_tmux_gone sc 5
show_if "$T/home/ssmtu/t.out" "$f0"
ssm_tmux_dump_if sc "$f0"
ssm_tmux_kill sc

f0=$SSM_FAIL
ssm_login ssmtu Sc-Non - >"$T/non.out" 2>&1 </dev/null
rc=$?
ssm_check "NonInteractiveCommands: probe exit 0" [ "$rc" = 0 ]
ssm_check "NonInteractiveCommands: every probe line ok" probe_ok "$T/non.out" baseline 0
show_if "$T/non.out" "$f0"

echo "== 2. sudo inside a session: root, still confined"
if ! command -v sudo >/dev/null || ! command -v visudo >/dev/null; then
	echo "note: sudo not installed: rows 2 and 3 skipped"
	HAVE_SUDO=
else
	HAVE_SUDO=1
	# a private sudoers.d over the real one, in this mount namespace only
	mkdir -m 0750 "$T/sudoers.d"
	printf 'ssmtu ALL=(root) NOPASSWD: %s, /usr/bin/id\n' "$PROBE" >"$T/sudoers.d/ssm-sc-test"
	chmod 0440 "$T/sudoers.d/ssm-sc-test"
	mount --bind "$T/sudoers.d" /etc/sudoers.d ||
		{ echo "FAIL: cannot bind-mount the private sudoers.d"; exit 1; }
	ssm_check "private sudoers file parses" visudo -cqf "$T/sudoers.d/ssm-sc-test"
	f0=$SSM_FAIL
	run_c "$T/sudo.out" Sc-Std "sudo -n /usr/bin/id -u; echo ID-RC=\$?; sudo -n $PROBE baseline; echo PROBE-RC=\$?"
	ssm_check "sudo id -u gives 0 in the session" \
		[ "$(grep -x -B1 'ID-RC=0' "$T/sudo.out" | head -1)" = 0 ]
	ssm_check "sudo probe: exit 0" grep -qx 'PROBE-RC=0' "$T/sudo.out"
	ssm_check "sudo probe: runs as uid 0" grep -qx 'uid=0 euid=0' "$T/sudo.out"
	ssm_check "sudo probe: every line ok (root still confined)" probe_ok "$T/sudo.out" baseline 0
	for c in 'mount' 'unshare(CLONE_NEWNS)' 'unshare(CLONE_NEWUSER)' 'setns' 'init_module' \
		'ptrace(PTRACE_TRACEME)' 'bpf' 'ioctl(TIOCSETD, N_TTY) on a pty'; do
		ssm_check "as root: $c EPERM" grep -qF "$c: EPERM (expected EPERM) ok" "$T/sudo.out"
	done
	if [ "$(uname -m)" = x86_64 ]; then
		ssm_check "as root: modify_ldt(read) EPERM" \
			grep -qxF 'modify_ldt(read): EPERM (expected EPERM) ok' "$T/sudo.out"
	fi
	show_if "$T/sudo.out" "$f0"
	# the same through a terminal (sudo's use_pty path)
	f0=$SSM_FAIL
	tmux_login ss 120 40 ssmtu Sc-Std -
	ssm_check "terminal: prompt" ssm_tmux_wait ss 5 'ssmtu\$ $'
	ssm_tmux_keys ss "sudo -n $PROBE baseline >$T/home/ssmtu/st.out 2>&1; echo SRC=\$?" Enter
	ssm_check "terminal: sudo probe exit 0" ssm_tmux_wait ss 20 '^SRC=0$'
	ssm_check "terminal: sudo probe runs as uid 0" grep -qx 'uid=0 euid=0' "$T/home/ssmtu/st.out"
	ssm_check "terminal: sudo probe, every line ok" probe_ok "$T/home/ssmtu/st.out" baseline 0
	ssm_tmux_keys ss 'exit 0' Enter
	ssm_check "terminal: session ends" ssm_tmux_gone ss 5
	show_if "$T/home/ssmtu/st.out" "$f0"
	ssm_tmux_dump_if ss "$f0"
	ssm_tmux_kill ss
fi

echo "== 3. allow_privilege false: no_new_privs, sudo cannot gain root"
write_config ', "allow_privilege": false'
f0=$SSM_FAIL
run_c "$T/nnp.out" Sc-Std "$PROBE baseline"
ssm_check "probe exit 0" [ "$rc" = 0 ]
ssm_check "every probe line ok (NoNewPrivs 1)" probe_ok "$T/nnp.out" baseline 1
show_if "$T/nnp.out" "$f0"
if [ -n "$HAVE_SUDO" ]; then
	f0=$SSM_FAIL
	run_c "$T/nnps.out" Sc-Std "sudo -n /usr/bin/id -u; echo ID-RC=\$?; sudo -n $PROBE baseline; echo PROBE-RC=\$?"
	ssm_check_not "sudo id fails" grep -qx 'ID-RC=0' "$T/nnps.out"
	ssm_check_not "sudo probe fails" grep -qx 'PROBE-RC=0' "$T/nnps.out"
	ssm_check_not "nothing ran as root" grep -Eqx '0|uid=0 euid=0' "$T/nnps.out"
	echo "sudo says: $(grep -m1 sudo "$T/nnps.out")"
	show_if "$T/nnps.out" "$f0"
fi

echo "== 4. configured profiles: debug for Standard_Stream, strict for InteractiveCommands"
write_config ', "seccomp_profiles": {"Standard_Stream": "debug", "InteractiveCommands": "strict"}'
f0=$SSM_FAIL
run_c "$T/dbg.out" Sc-Std "$PROBE debug"
ssm_check "debug: probe exit 0" [ "$rc" = 0 ]
ssm_check "debug: every probe line ok" probe_ok "$T/dbg.out" debug 0
ssm_check "debug: ptrace allowed" grep -qF 'ptrace(PTRACE_TRACEME): OK' "$T/dbg.out"
ssm_check "debug: process_vm_readv allowed" grep -qF 'process_vm_readv: OK' "$T/dbg.out"
show_if "$T/dbg.out" "$f0"
run_c "$T/dbgb.out" Sc-Std "$PROBE baseline"
ssm_check "debug session fails the probe's baseline expectations (ptrace)" sh -c \
	"[ $rc != 0 ] && grep -q '^ptrace(PTRACE_TRACEME): OK .*FAIL' '$T/dbgb.out'"
if command -v gdb >/dev/null; then
	run_c "$T/gdb.out" Sc-Std "gdb -batch -ex run /bin/true 2>&1"
	ssm_check "debug: gdb runs a program under ptrace" grep -q 'exited normally' "$T/gdb.out"
	show_if "$T/gdb.out" "$f0"
fi
f0=$SSM_FAIL
tmux_login si 120 40 ssmtu Sc-Int -
ssm_check "InteractiveCommands (strict): probe exit 0" ssm_tmux_wait si 20 '^PROBE-RC=0$'
ssm_check "InteractiveCommands (strict): session ends" ssm_tmux_gone si 5
ssm_check "InteractiveCommands (strict): 0 failures, Seccomp 2" sh -c \
	"tmux -S '$T/tmux.sock' capture-pane -p -J -S -300 -t si | tr -d '\r' >'$T/int.out'; grep -qx 'seccomp_probe strict: 0 failures' '$T/int.out' && grep -Eq '^Seccomp:[[:space:]]+2' '$T/int.out'"
ssm_check "strict: chroot and sethostname EPERM" sh -c \
	"grep -qF 'chroot: EPERM (expected EPERM) ok' '$T/int.out' && grep -qF 'sethostname: EPERM (expected EPERM) ok' '$T/int.out'"
ssm_tmux_dump_if si "$f0"
ssm_tmux_kill si
tmux_login sb 120 40 ssmtu Sc-Int '{"p": ["baseline"]}'
ssm_check "strict session fails the probe's baseline expectations" ssm_tmux_wait sb 20 '^PROBE-RC=1$'
ssm_tmux_gone sb 5 || true
ssm_tmux_kill sb
f0=$SSM_FAIL
ssm_login ssmtu Sc-Non - >"$T/non2.out" 2>&1 </dev/null
rc=$?
ssm_check "per session type: NonInteractiveCommands (not configured) exits 0" [ "$rc" = 0 ]
ssm_check "per session type: NonInteractiveCommands (not configured) stays baseline" \
	probe_ok "$T/non2.out" baseline 0
show_if "$T/non2.out" "$f0"
write_config

echo "== 5. ordinary work in a session"
cat >"$T/bin/tools.sh" <<'EOF'
cd "$HOME" || exit 1
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >hello.c
cc -o hello hello.c && [ "$(./hello)" = hello ] && echo "TOOL cc hello world: ok"
dpkg -l | head -5 >dpkg.out && grep -q '^||/' dpkg.out && echo "TOOL dpkg -l | head: ok"
printf 'pear\napple\nfig\n' | sort | tr '\n' ' ' | grep -qx 'apple fig pear ' && echo "TOOL sort: ok"
printf 'one\nold\nthree\n' >e.txt
if command -v ed >/dev/null; then
	printf '%s\n' '2s/old/ed/' w q | ed -s e.txt && grep -qx ed e.txt && echo "TOOL ed script: ok"
else
	sed -i 's/^old$/ed/' e.txt; echo "TOOL ed script: not installed"
fi
if command -v vi >/dev/null; then
	vi -es -c '%s/^ed$/vi/' -c 'wq' e.txt </dev/null && grep -qx vi e.txt && echo "TOOL vi -es script: ok"
else
	echo "TOOL vi -es script: not installed"
fi
ps -ef >ps.out && grep -q 'ps -ef' ps.out && echo "TOOL ps: ok"
ls -l /proc/self/fd >fd.out && grep -q ' 0 -> ' fd.out && echo "TOOL ls -l /proc/self/fd: ok"
[ "$(python3 -c 'import os; print(sum(range(10)), os.getuid())')" = "45 $(id -u)" ] &&
	echo "TOOL python3 -c: ok"
EOF
chmod 0755 "$T/bin/tools.sh"
f0=$SSM_FAIL
run_c "$T/tools.out" Sc-Std "sh $T/bin/tools.sh"
for t in 'cc hello world' 'dpkg -l | head' 'sort' 'ed script' 'vi -es script' 'ps' \
	'ls -l /proc/self/fd' 'python3 -c'; do
	ssm_check "$t" grep -Eq "^TOOL $(printf '%s' "$t" | sed 's/[|.]/\\&/g'): (ok|not installed)\$" "$T/tools.out"
done
grep 'not installed' "$T/tools.out" || true
show_if "$T/tools.out" "$f0"

ssm_done
