#!/bin/sh
# seccomp_live.sh - load each session seccomp profile for real and probe it (root only).
#
# What it checks (each step prints a line; any FAIL makes the test fail):
#  0. denials reach the kernel log (type=1326 records), where the kernel log is readable.
#  1. control: tests/seccomp_probe run WITHOUT a filter passes its "none" expectations (no
#     probed call answers with the filter's errno on its own), and fails its "baseline" ones:
#     so a passing confined run proves the filter did it.  The probe's calls are harmless
#     even unconfined (bad magic, bad flags, missing paths, bad descriptors, in children).
#     The calls that must work unconfined do: TIOCSETD (N_TTY on the probe's own pty) and
#     modify_ldt (reading its LDT; "SKIPPED" with the reason on a kernel without it).
#  2. each profile (baseline, strict, debug), with and without no_new_privs, applied by
#     tests/seccomp_run: the probe gets EPERM/ENOSYS for every denied call, ordinary work
#     works, debug allows ptrace and process_vm_*; a probe expecting another profile fails.
#     TIOCSETD and modify_ldt are EPERM in every profile; TIOCGETD still works.
#  3. without CAP_SYS_ADMIN, applying without no_new_privs is refused with a clear EPERM;
#     with no_new_privs it works.
#  4. sudo: filter applied as root without no_new_privs, privileges dropped to nobody, then
#     `sudo -n seccomp_probe baseline` runs as uid 0 and is STILL confined; with
#     no_new_privs sudo cannot gain root at all.  sudoers comes from a private sudoers.d
#     bind-mounted in a private mount namespace: the real one is never touched.
#  5. foreign ABIs: an i386 system call (int $0x80) and an x32 system call die of SIGSYS.
#     Each is first made WITHOUT a filter; where it does not work there (int $0x80 dies of
#     SIGSEGV when the kernel's 32-bit entry is off: ia32_emulation=0) it is skipped, saying
#     why, since the filter never sees such a call.
#  6. ordinary tools under each profile: cc hello world, dpkg -l, ed and vi -es scripts,
#     ls, ps, sort.
set -u

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: seccomp_live.sh needs root"
	exit 77
fi
top=$(pwd) # automake runs tests from the top build directory
RUN=${SECCOMP_RUN:-$top/tests/seccomp_run}
PROBE=${SECCOMP_PROBE:-$top/tests/seccomp_probe}
if [ ! -x "$RUN" ] || [ ! -x "$PROBE" ]; then
	echo "FAIL: $RUN or $PROBE missing (make tests/seccomp_run tests/seccomp_probe)"
	exit 99
fi
avail=$(cat /proc/sys/kernel/seccomp/actions_avail 2>/dev/null)
case " $avail " in
*" kill_process "*" log "*) ;;
*)
	echo "SKIP: kernel seccomp lacks kill_process/log actions ($avail)"
	exit 77
	;;
esac

# LeakSanitizer needs ptrace, which the filter denies (sanitizer builds).
ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export ASAN_OPTIONS
ulimit -c 0 # SIGSYS kills would dump core

tmp=$(mktemp -d /tmp/ssm-seccomp-live.XXXXXX) || exit 99
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "ok:   $*"; }
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
# show a captured output when a step fails
show() { sed 's/^/    | /' "$1"; }

SIGSYS_RC=$((128 + 31)) # SIGSYS is 31 on x86_64, arm64, riscv64

echo "== 0. denials are logged by the kernel (first: before the kernel's log rate limit)"
if dmesg >/dev/null 2>&1 && command -v unshare >/dev/null; then
	# a copy of unshare with a unique path, so its record can be found (exe="...")
	cp "$(command -v unshare)" "$tmp/ssm-logtest-unshare"
	# The kernel prints audit records through printk_ratelimit() (10 per 5 s) when no
	# auditd listens: after a burst of denials (other tests) a record can be dropped, so
	# try again after the window.
	found=
	for i in 1 2 3; do
		"$RUN" baseline 0 -- "$tmp/ssm-logtest-unshare" --user true >"$tmp/out" 2>&1
		sleep 1
		if dmesg | grep 'type=1326' | grep -q "exe=\"$tmp/ssm-logtest-unshare\""; then
			found=1
			break
		fi
		echo "note: no record yet (attempt $i), waiting for the printk rate limit window"
		sleep 5
	done
	if [ -n "$found" ]; then
		pass "kernel logged the denial: $(dmesg | grep "exe=\"$tmp/ssm-logtest-unshare\"" | tail -1 | sed 's/.*\(type=1326\)/\1/; s/ ip=.*code/ ... code/')"
	elif ! grep -q errno /proc/sys/kernel/seccomp/actions_logged 2>/dev/null || pgrep -x auditd >/dev/null; then
		echo "note: no record in dmesg (auditd running, or errno not in actions_logged): not tested"
	else
		fail "no type=1326 record in the kernel log for a denied unshare"
		show "$tmp/out"
	fi
else
	echo "note: kernel log not readable: step 0 skipped"
fi

echo "== 1. control runs without a filter"
if "$PROBE" none >"$tmp/out" 2>&1; then
	pass "unconfined probe: no denied call fails with the filter's errno by itself"
else
	fail "unconfined probe (profile none) failed: the probe cannot tell"
	show "$tmp/out"
fi
grep -q 'Seccomp:[[:space:]]*0' "$tmp/out" || echo "note: this test runs under a seccomp filter already"
# the terminal line discipline and the x86 LDT: working without the filter (or skipped)
for row in 'ioctl(TIOCSETD, N_TTY) on a pty' 'ioctl(0xffffffff<<32|TIOCSETD, N_TTY) on a pty' \
	'modify_ldt(read)'; do
	line=$(grep -F "$row: " "$tmp/out")
	case $line in
	*": OK (allowed here: expected OK) ok") pass "unconfined: $line" ;;
	*"SKIPPED: "*" ok") echo "SKIP: unconfined: $line" ;;
	"") [ "$row" = 'modify_ldt(read)' ] && [ "$(uname -m)" != x86_64 ] &&
		echo "note: modify_ldt: not x86, no row" || fail "unconfined: no probe row $row" ;;
	*) fail "unconfined: $line" ;;
	esac
done
if "$PROBE" baseline >"$tmp/out" 2>&1; then
	fail "unconfined probe passed its baseline expectations: it cannot fail"
else
	pass "unconfined probe fails its baseline expectations ($(grep -c FAIL "$tmp/out") calls)"
fi

echo "== 2. each profile, with and without no_new_privs"
for p in baseline strict debug; do
	for nnp in 0 1; do
		if "$RUN" "$p" "$nnp" -- "$PROBE" "$p" >"$tmp/out" 2>&1 &&
			grep -q 'Seccomp:[[:space:]]*2' "$tmp/out" &&
			grep -q "NoNewPrivs:[[:space:]]*$nnp" "$tmp/out"; then
			pass "profile $p, no_new_privs=$nnp: $(grep -c ' ok$' "$tmp/out") probe lines ok"
		else
			fail "profile $p, no_new_privs=$nnp"
			show "$tmp/out"
		fi
	done
done
grep -E '^(ptrace|process_vm_readv|perf_event_open|clone3|ioctl\(1<<32)' "$tmp/out" | sed 's/^/    debug: /'
for p in baseline strict debug; do
	"$RUN" "$p" 0 -- "$PROBE" "$p" >"$tmp/out" 2>&1
	for row in 'ioctl(TIOCSETD, N_TTY) on a pty' 'ioctl(0xffffffff<<32|TIOCSETD, N_TTY) on a pty' \
		'modify_ldt(read)'; do
		[ "$row" = 'modify_ldt(read)' ] && [ "$(uname -m)" != x86_64 ] && continue
		if grep -qxF "$row: EPERM (expected EPERM) ok" "$tmp/out"; then
			pass "$p: $row denied (EPERM)"
		else
			fail "$p: $row not denied: $(grep -F "$row: " "$tmp/out")"
		fi
	done
	if grep -qxF 'ioctl(TIOCGETD) on a pty: OK ok' "$tmp/out"; then
		pass "$p: ioctl(TIOCGETD) still works"
	else
		fail "$p: ioctl(TIOCGETD): $(grep -F 'ioctl(TIOCGETD)' "$tmp/out")"
	fi
done
for pair in "baseline debug" "debug baseline" "baseline strict" "strict baseline"; do
	set -- $pair
	if "$RUN" "$1" 0 -- "$PROBE" "$2" >"$tmp/out" 2>&1; then
		fail "filter $1 passed the probe's $2 expectations"
	else
		pass "filter $1 fails the probe's $2 expectations: $(grep FAIL "$tmp/out" | cut -d: -f1 | tr '\n' ' ')"
	fi
done

echo "== 3. without CAP_SYS_ADMIN"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
if $NOBODY "$RUN" baseline 0 -- /bin/true >"$tmp/out" 2>&1; then
	fail "nobody applied the filter without no_new_privs"
else
	rc=$?
	if [ "$rc" = 125 ] && grep -q 'CAP_SYS_ADMIN' "$tmp/out" && grep -q 'Operation not permitted' "$tmp/out"; then
		pass "nobody without no_new_privs: EPERM, says CAP_SYS_ADMIN"
	else
		fail "nobody without no_new_privs: rc $rc, unclear message"
		show "$tmp/out"
	fi
fi
if $NOBODY "$RUN" baseline 1 -- "$PROBE" baseline >"$tmp/out" 2>&1; then
	pass "nobody with no_new_privs: baseline probe passes"
else
	fail "nobody with no_new_privs"
	show "$tmp/out"
fi

echo "== 4. sudo under the filter"
if ! command -v sudo >/dev/null || ! command -v visudo >/dev/null; then
	echo "note: sudo not installed: step 4 skipped"
else
	mkdir -m 700 "$tmp/sudoers.d"
	printf 'nobody ALL=(root) NOPASSWD: %s, /usr/bin/id\n' "$PROBE" >"$tmp/sudoers.d/ssm-seccomp-test"
	chmod 440 "$tmp/sudoers.d/ssm-seccomp-test"
	visudo -cqf "$tmp/sudoers.d/ssm-seccomp-test" || fail "private sudoers file does not parse"
	# runs inside a private mount namespace with the private sudoers.d over the real one
	cat >"$tmp/sudo.sh" <<EOF
set -u
mount --bind "$tmp/sudoers.d" /etc/sudoers.d || exit 90
echo "== sanity: unconfined nobody -> sudo id -u"
$NOBODY sudo -n /usr/bin/id -u || exit 91
echo "== confined, no_new_privs=0"
"$RUN" baseline 0 -- $NOBODY sudo -n "$PROBE" baseline; echo "rc=\$?"
echo "== confined, no_new_privs=1"
"$RUN" baseline 1 -- $NOBODY sudo -n "$PROBE" baseline; echo "rc=\$?"
EOF
	unshare --mount --propagation private sh "$tmp/sudo.sh" >"$tmp/out" 2>&1
	rc=$?
	nnp0=$(sed -n '/no_new_privs=0/,/^rc=/p' "$tmp/out")
	nnp1=$(sed -n '/no_new_privs=1/,/^rc=/p' "$tmp/out")
	if [ "$rc" != 0 ] || ! sed -n '2p' "$tmp/out" | grep -qx 0; then
		fail "sudo setup in the private namespace (rc $rc)"
		show "$tmp/out"
	elif echo "$nnp0" | grep -q '^rc=0$' && echo "$nnp0" | grep -q '^uid=0 euid=0$' &&
		echo "$nnp0" | grep -q 'Seccomp:[[:space:]]*2' &&
		echo "$nnp0" | grep -q '^ptrace(PTRACE_TRACEME): EPERM'; then
		pass "nobody -> sudo -> probe runs as root and is still confined (no_new_privs=0)"
	else
		fail "sudo under the filter (no_new_privs=0)"
		show "$tmp/out"
	fi
	if echo "$nnp1" | grep -q '^rc=0$' || echo "$nnp1" | grep -q '^uid=0'; then
		fail "sudo gained root under no_new_privs"
		show "$tmp/out"
	else
		pass "with no_new_privs sudo cannot gain root: $(echo "$nnp1" | grep -m1 sudo)"
	fi
fi

echo "== 5. foreign ABIs are killed"
for abi in i386 x32; do
	# first WITHOUT a filter: the call must work here at all
	"$PROBE" --$abi >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" != 0 ]; then
		case $abi:$rc in
		i386:139) why="int \$0x80 dies of SIGSEGV without any filter: the kernel's 32-bit system call entry is off (ia32_emulation=0, or no CONFIG_IA32_EMULATION)" ;;
		*:77) why="not an x86_64 build" ;;
		*:3) why="wrong answer without a filter: $(cat "$tmp/out")" ;;
		*) why="exit status $rc without a filter (above 128: killed by signal $((rc - 128)))" ;;
		esac
		echo "SKIP: $abi system calls: $why"
		continue
	fi
	echo "note: unconfined: $(cat "$tmp/out")"
	for p in baseline strict debug; do
		"$RUN" "$p" 0 -- "$PROBE" --$abi >"$tmp/out" 2>&1
		rc=$?
		if [ "$rc" = "$SIGSYS_RC" ]; then
			pass "$abi system call under $p: killed by SIGSYS"
		else
			fail "$abi system call under $p: rc $rc, expected $SIGSYS_RC (SIGSYS)"
			show "$tmp/out"
		fi
	done
done

echo "== 6. ordinary tools under each profile"
cat >"$tmp/tools.sh" <<'EOF'
set -eu
cd "$1"
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >hello.c
cc -o hello hello.c && ./hello | grep -qx hello && echo "  cc hello world: ok"
dpkg -l | head -5 >dpkg.out && grep -q '^||/' dpkg.out && echo "  dpkg -l | head: ok"
printf 'pear\napple\nfig\n' | sort | tr '\n' ' ' | grep -qx 'apple fig pear ' && echo "  sort: ok"
printf 'one\nold\nthree\n' >e.txt
if command -v ed >/dev/null; then
	printf '%s\n' '2s/old/ed/' w q | ed -s e.txt && grep -qx ed e.txt && echo "  ed script: ok"
else
	sed -i 's/^old$/ed/' e.txt && echo "  ed script: not installed"
fi
if command -v vi >/dev/null; then
	vi -es -c '%s/^ed$/vi/' -c 'wq' e.txt && grep -qx vi e.txt && echo "  vi -es script: ok"
else
	echo "  vi -es script: not installed"
fi
ls -la / >ls.out && grep -q ' etc$' ls.out && echo "  ls: ok"
ps -ef >ps.out && grep -q 'ps -ef' ps.out && echo "  ps: ok"
EOF
for p in baseline strict debug; do
	mkdir -p "$tmp/tools-$p"
	if "$RUN" "$p" 0 -- sh "$tmp/tools.sh" "$tmp/tools-$p" >"$tmp/out" 2>&1 </dev/null &&
		[ "$(grep -c -E ': (ok|not installed)$' "$tmp/out")" = 7 ]; then
		pass "tools under $p: $(grep -E ': (ok|not installed)$' "$tmp/out" | tr -s ' \n' ' ')"
	else
		fail "tools under $p"
		show "$tmp/out"
	fi
done

if [ "$fails" != 0 ]; then
	echo "seccomp_live: $fails failures"
	exit 1
fi
echo "seccomp_live: all passed"
exit 0
