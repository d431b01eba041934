#!/bin/sh
# verifyd_seccomp.sh - ssm-verifyd under its seccomp filter (verifyd/seccomp.c), root only.
#
# Isolation as in pam_pamtester.sh: a private mount namespace with private copies of
# /etc/passwd, /etc/group, /etc/shadow and /etc/pam.d (throwaway users ssmtest1 and
# ssm-verifyd exist only there) and a private /dev; the host's files are never touched.
#
# Checks:
#  1. the running daemon has a filter (/proc/PID/status: Seccomp 2, NoNewPrivs 1) and runs
#     as its own user;
#  2. real logins through it: a copy of the module with no ssm-verify.so beside it can only
#     log in through the daemon; a token of an untrusted key and garbage are refused; a
#     malformed request is answered; the daemon is still alive after all of them (a call
#     missing from the allow-list would have killed it);
#  3. forbidden calls die of SIGSYS: tests/verifyd_seccomp_probe installs the same filter in
#     forked children (execve, sockets, writing opens, unlink, setuid, foreign ABIs...) and
#     checks read-only opens and writes to fd 2 still work; the daemon has no test hook;
#  the daemon stops cleanly on SIGTERM under its filter (exit 0 within 10 s);
#  4. after kill -9 of the daemon, logins still work (the module verifies in-process with the
#     ssm-verify.so beside it), a bad token is still refused, and the module copy without
#     ssm-verify.so now fails (nobody answers: the success came from the fallback).
set -u
. "${srcdir:-$(dirname "$0")/..}/tests/pam_common.sh"
pam_need_root pamtester unshare mount
need_python_jwt
VERIFYD=$builddir/verifyd/ssm-verifyd
PROBE=$builddir/tests/verifyd_seccomp_probe
for f in "$MODULE" "$VERIFYD" "$PROBE"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "FAIL: not built: $f"; exit 1; }
done

pam_enter_ns "$@"

tmp=$(mktemp -d /tmp/ssm-vseccomp.XXXXXX)
verifyd_pid=
cleanup() {
	[ -n "$verifyd_pid" ] && kill -9 "$verifyd_pid" 2>/dev/null
	umount -l /dev 2>/dev/null
	umount -l "$tmp/dev" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"

# ---- private users, pam.d and /dev (the module's syslog lines go nowhere)
cp /etc/passwd /etc/group /etc/shadow "$tmp/"
echo "ssmtest1:x:64001:64001:ssm test:/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
echo "ssm-verifyd:x:64009:64009:verifier:/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
echo "ssmtest1:x:64001:" >>"$tmp/group"
echo "ssm-verifyd:x:64009:" >>"$tmp/group"
echo "ssmtest1:!:19000:0:99999:7:::" >>"$tmp/shadow"
for f in passwd group shadow; do mount --bind "$tmp/$f" "/etc/$f" || exit 1; done

setup_host "$tmp/host" '["ssmtest1"]'
mkdir "$tmp/pam.d" "$tmp/modonly"
cp "$MODULE" "$tmp/modonly/pam_ssmsession.so"
svc() { # name module
	printf 'auth required %s config=%s\naccount required %s config=%s\nsession required %s config=%s\n' \
		"$2" "$CONF" "$2" "$CONF" "$2" "$CONF" >"$tmp/pam.d/$1"
}
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
	>"$tmp/pam.d/other"
svc ssmtest "$MODULE"
svc ssmtest_modonly "$tmp/modonly/pam_ssmsession.so"
mount --bind "$tmp/pam.d" /etc/pam.d || exit 1
mkdir "$tmp/dev"
mount -t tmpfs -o mode=755 ssm-dev "$tmp/dev" || exit 1
for n in null zero full random urandom tty; do
	touch "$tmp/dev/$n" && mount --bind "/dev/$n" "$tmp/dev/$n"
done
ln -s /proc/self/fd "$tmp/dev/fd"
mount --rbind "$tmp/dev" /dev || exit 1

SOCK=$tmp/host/run/verifyd.sock
alive() { kill -0 "$verifyd_pid" 2>/dev/null; }
nverdicts() { grep -c "verdict $1" "$tmp/verifyd.log"; }

start_daemon() {
	"$VERIFYD" --config "$CONF" --debug 2>>"$tmp/verifyd.log" &
	verifyd_pid=$!
	i=0
	while ! grep -q answering "$tmp/verifyd.log" && alive && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# ---- 1. the daemon runs confined
start_daemon
expect "ssm-verifyd started and answers on run_dir/verifyd.sock" sh -c \
	"grep -q answering '$tmp/verifyd.log' && test -S '$SOCK'"
st=$(cat "/proc/$verifyd_pid/status" 2>/dev/null)
expect "/proc/PID/status: Seccomp: 2 (filter mode)" sh -c \
	'printf "%s\n" "$1" | grep -q "^Seccomp:[[:space:]]*2$"' _ "$st"
expect "/proc/PID/status: NoNewPrivs: 1" sh -c \
	'printf "%s\n" "$1" | grep -q "^NoNewPrivs:[[:space:]]*1$"' _ "$st"
expect "/proc/PID/status: runs as ssm-verifyd (uid 64009)" sh -c \
	'printf "%s\n" "$1" | grep -q "^Uid:.64009.64009.64009.64009"' _ "$st"
if grep -q "sanitizer build" "$tmp/verifyd.log"; then
	echo "note: sanitizer build: the filter's default action only logs (verifyd/seccomp.h)"
fi

# a module built with ASan/UBSan needs the runtimes preloaded into pamtester (not into the
# daemon or the probe, which are sanitizer programs themselves)
if readelf -d "$MODULE" 2>/dev/null | grep -q 'libasan'; then
	PT_ENV="LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0"
	echo "note: sanitizer build, runtimes preloaded into pamtester"
else
	PT_ENV=
fi
# pt SERVICE USER TOKEN OPS...: run pamtester, token on stdin; output in $out, status $rc
pt() {
	s=$1 u=$2 tk=$3
	shift 3
	# shellcheck disable=SC2086
	out=$(printf '%s\n' "$tk" | env $PT_ENV pamtester -v "$s" "$u" "$@" 2>&1)
	rc=$?
}
refused() { # DESC SERVICE USER TOKEN OPS...
	d=$1
	shift
	pt "$@"
	if [ $rc != 0 ] && printf '%s' "$out" | grep -q "Authentication failure"; then
		ok "$d: refused"
	else
		fail "$d: expected Authentication failure, got rc=$rc: $out"
	fi
}

# ---- 2. logins through the filtered daemon
installed=
for d in $(strings "$MODULE" | grep '^/.*/ssmsession$'); do
	[ -e "$d/ssm-verify.so" ] && installed=$d
done
[ -n "$installed" ] && echo "note: an installed $installed/ssm-verify.so could answer for the copy"
v0=$(nverdicts "0 valid")
pt ssmtest_modonly ssmtest1 "$(mint ssmtest1)" authenticate acct_mgmt open_session close_session
expect "full login through the daemon (module copy without ssm-verify.so)" test "$rc" = 0
pt ssmtest_modonly ssmtest1 "$(KEY=$tmp/host/k2.pem mint ssmtest1 --kid k2)" authenticate
expect "an ES256 token through the daemon" test "$rc" = 0
pt ssmtest ssmtest1 "$(mint ssmtest1)" authenticate acct_mgmt open_session close_session
expect "full login through the daemon (normal module)" test "$rc" = 0
v1=$(nverdicts "0 valid")
expect "the daemon gave those 3 valid verdicts (log: $v0 -> $v1)" test "$((v1 - v0))" -eq 3
r0=$(nverdicts "-13 invalid_token")
refused "a token of an untrusted key, through the daemon" ssmtest_modonly ssmtest1 \
	"$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
refused "a garbage token, through the daemon" ssmtest_modonly ssmtest1 "not-a-token" authenticate
r1=$(nverdicts "-13 invalid_token")
expect "the daemon gave those 2 refusals (log: $r0 -> $r1)" test "$((r1 - r0))" -eq 2
# a malformed request (root may ask): answered with an error verdict, logged
ans=$("$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(3)
s.connect(sys.argv[1])
s.send(b"\x00garbage request\xff" * 10)
print(len(s.recv(65536)))' "$SOCK" 2>&1)
expect "a malformed request is answered (${ans} bytes)" test "${ans:-0}" -gt 0 2>/dev/null
expect "and logged by the daemon" grep -q "malformed request" "$tmp/verifyd.log"
expect "the daemon is alive after every request (no call outside its allow-list)" alive

# ---- 3. forbidden system calls die of SIGSYS (the same filter, in the probe's children)
env -u LD_PRELOAD "$PROBE" >"$tmp/probe.txt" 2>&1
prc=$?
while IFS= read -r line; do
	case $line in
	ok:*) ok "probe: ${line#ok: }" ;;
	FAIL:*) fail "probe: ${line#FAIL: }" ;;
	note:*) echo "$line" ;;
	SKIP:*) echo "$line" ;; # a foreign ABI that does not work here even without a filter
	esac
done <"$tmp/probe.txt"
expect "the probe ran every row (exit $prc, $(tail -1 "$tmp/probe.txt"))" sh -c \
	"test $prc = 0 && grep -q 'verifyd_seccomp_probe: [1-9][0-9]* passed, 0 failed' '$tmp/probe.txt'"
grep -q "killed by SIGSYS" "$tmp/probe.txt" || fail "the probe saw no SIGSYS at all"

# ---- the way out under the filter: SIGTERM, cleanup, exit 0 (a sanitizer build's leak
# check at exit runs under it too); bounded, so a daemon that hangs fails instead
kill -TERM "$verifyd_pid"
i=0
while alive && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if alive; then
	fail "the daemon did not stop within 10 s of SIGTERM"
	kill -9 "$verifyd_pid"
fi
wait "$verifyd_pid"
wrc=$?
expect "SIGTERM: the daemon stops cleanly under its filter (status $wrc)" test "$wrc" = 0
: >"$tmp/verifyd.log"
start_daemon
pt ssmtest_modonly ssmtest1 "$(mint ssmtest1)" authenticate
expect "restarted: a login through the daemon again" test "$rc" = 0

# ---- 4. the daemon killed: logins go on in-process
kill -9 "$verifyd_pid" 2>/dev/null
wait "$verifyd_pid"
wrc=$?
verifyd_pid=
expect "the daemon died of SIGKILL, not SIGSYS (status $wrc)" test "$wrc" = 137
pt ssmtest ssmtest1 "$(mint ssmtest1)" authenticate acct_mgmt open_session close_session
expect "with the daemon killed, a full login is verified in-process" test "$rc" = 0
refused "and a token of an untrusted key still" ssmtest ssmtest1 \
	"$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
if [ -z "$installed" ]; then
	pt ssmtest_modonly ssmtest1 "$(mint ssmtest1)" authenticate
	expect "the module copy without ssm-verify.so now fails (no daemon answers)" \
		test "$rc" != 0
fi

finish verifyd_seccomp
