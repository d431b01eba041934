#!/bin/sh
# agent_session.sh - the agent's session start (agent/session_priv.c) driven by
# tests/asess_run as ssm-agent drives it, through the PAM service ssm-session
# (data/ssm-session.pam, installed only inside the private /etc overlay), root only.
#
# Isolation: private mount and pid namespaces (tests/shell_setup.sh: /etc overlaid,
# throwaway users), a private tmpfs on /run (utmp), a private wtmp bound over the host's.
# Checks: a NonInteractiveCommands session runs its command as the run-as user and its exit
# status comes back as "exit 1 N"; a terminal session (Standard_Stream) runs a shell on a
# /dev/pts terminal and returns its status; loginuid is the user's (when writable here);
# utmp has the session while it runs and not after; pam_limits applies; a replayed, an
# expired, another host's and another user's token are each refused with nothing run;
# terminate ends a `sleep 1000` session within 2 s with nothing of the user left; what the
# login shell gets (a probe user whose login shell is asess_run itself): only 0-2 open, no
# signal blocked or ignored, nothing of the caller's environment, exactly login(1)'s
# variables, all six ids the user's, argv[0] "-NAME", the home directory.
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

PY=${SSM_PYTHON:-/usr/bin/python3}
"$PY" -c 'import jwt, cryptography' 2>/dev/null || { echo "SKIP: $PY lacks python3-jwt"; exit 77; }
SSMTOKEN="$PY $srcdir/broker/ssmtoken.py"
MODULE=$builddir/pam_ssmsession/.libs/pam_ssmsession.so
ASESS=$builddir/tests/asess_run
[ -f "$MODULE" ] || { echo "FAIL: module not built"; exit 1; }
[ -x "$ASESS" ] || { echo "FAIL: tests/asess_run not built"; exit 1; }

# utmp in this namespace only: a private /run; wtmp: a private file over the host's
mount -t tmpfs -o mode=0755 ssm-run /run || { echo "FAIL: cannot mount /run"; exit 1; }
: >/run/utmp
chmod 0664 /run/utmp
UTMP=/run/utmp
if [ -e /var/log/wtmp ]; then
	: >"$T/wtmp"
	mount --bind "$T/wtmp" /var/log/wtmp || { echo "FAIL: cannot bind over wtmp"; exit 1; }
fi

ssm_add_user ssmts 61003 "$SSM_SHELL"
ssm_add_user ssmts2 61005 "$SSM_SHELL"
# the probe user: its login shell is asess_run, which prints what it was given
cp "$ASESS" "$T/bin/probe-shell"
chmod 0755 "$T/bin/probe-shell"
ssm_add_user ssmtp 61006 "$T/bin/probe-shell"
$SSMTOKEN keygen --alg EdDSA --kid k1 --out-private "$T/k1.pem" --out-jwks "$CONF_DIR/jwks.json"
chmod 0644 "$CONF_DIR/jwks.json"
cat >"$CONF_PATH" <<EOF
{"host_id": "$HOST_ID", "issuer": "https://broker.test",
 "trusted_keys": "$CONF_DIR/jwks.json", "documents_dir": "$T/docs",
 "run_as_allowed": ["ssmts", "ssmts2", "ssmtp"], "run_dir": "$T/run", "log_dir": "$T/log",
 "state_dir": "$T/state", "recorder_user": "ssmsession"}
EOF
chmod 0644 "$CONF_PATH"
mkdoc Cmd-Id '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo NI-$(id -un); echo LEAK-$(env | grep -c FOO_LEAK); echo NOFILE-$(ulimit -Hn); ls /proc/self/fd | tr \"\\n\" \" \"; echo; exit 7"}}}'
mkdoc Mark "{\"schemaVersion\": \"1.0\", \"sessionType\": \"NonInteractiveCommands\",
 \"properties\": {\"linux\": {\"commands\": \"touch $T/home/ssmts/marker; echo MARKED\"}}}"
mkdoc Sleep '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo SLEEPING; exec sleep 1000"}}}'
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "5"}}'
printf 'PS1="ssmts$ "\n' >"$T/home/ssmts/.bashrc"
printf '. ~/.bashrc\n' >"$T/home/ssmts/.bash_profile"
chown ssmts:ssmts "$T/home/ssmts/.bashrc" "$T/home/ssmts/.bash_profile"

mint() { # USER DOC [ssmtoken mint options]: a fresh token
	_u=$1 _d=$2
	shift 2
	$SSMTOKEN mint --key "$T/k1.pem" --kid k1 --iss https://broker.test --aud "$HOST_ID" \
		--sub alice --run-as "$_u" --doc-name "$_d" --doc-file "$T/docs/$_d.json" "$@"
}

# the PAM service as shipped (data/ssm-session.pam), with the module built here; no
# pam_systemd (it would talk to this host's logind), no pam_loginuid where it cannot work
loginuid_ok=
if sh -c 'echo 0 >/proc/self/loginuid' 2>/dev/null; then
	loginuid_ok=1
fi
if [ -n "$loginuid_ok" ]; then
	drop=/pam_systemd/d
else
	drop='/pam_systemd/d; /pam_loginuid/d'
	echo "note: /proc/self/loginuid is not writable here: no pam_loginuid in the stack"
fi
sed -e "s|pam_ssmsession.so|$MODULE|" -e "$drop" "$srcdir/data/ssm-session.pam" \
	>/etc/pam.d/ssm-session
echo 'ssmts hard nofile 777' >>/etc/security/limits.conf
echo 'ssmtp hard nofile 778' >>/etc/security/limits.conf

# run USER DOC TOKENFILE NAME [asess_run args]: output in $T/NAME.out, messages in
# $T/NAME.err, status in $T/NAME.rc
run() {
	_u=$1 _d=$2 _t=$3 _n=$4
	shift 4
	FOO_LEAK=1 timeout -k 5 60 "$ASESS" --user "$_u" --token-file "$_t" --sid "sid-$_n" \
		--document "$_d" --rhost broker.test "$@" >"$T/$_n.out" 2>"$T/$_n.err" </dev/null
	echo $? >"$T/$_n.rc"
}
has() { grep -q -- "$2" "$T/$1.$3"; }
rc_is() { [ "$(cat "$T/$1.rc")" = "$2" ]; }
show() { # NAME: print what a failed row saw
	echo "  --- $1: rc $(cat "$T/$1.rc" 2>/dev/null)"
	sed 's/^/  err| /' "$T/$1.err" | tail -5
	sed "s/^/  out| /" "$T/$1.out" | tail -${SHOW_LINES:-10}
}
fails=$SSM_FAIL

# 1. NonInteractiveCommands: the command as ssmts, its status as "exit 1 7"
mint ssmts Cmd-Id >"$T/tok.ni"
run ssmts Cmd-Id "$T/tok.ni" ni
ssm_check "NonInteractiveCommands: ok, then the command ran as ssmts" \
	sh -c "grep -q '^ok [0-9]' '$T/ni.err' && grep -q '^NI-ssmts' '$T/ni.out'"
ssm_check "its exit status came back as 'exit 1 7' (and asess_run exits 7)" \
	sh -c "grep -qx 'exit 1 7' '$T/ni.err' && [ \$(cat '$T/ni.rc') = 7 ]"
ssm_check "the caller's FOO_LEAK=1 is not in the session's environment" has ni '^LEAK-0' out
ssm_check "pam_limits: ulimit -Hn in the session is 777 (limits.conf)" has ni '^NOFILE-777' out
ssm_check "the command sees descriptors 0 1 2 only (and ls's own 3)" has ni '^0 1 2 3 $' out
[ "$SSM_FAIL" = "$fails" ] || show ni
fails=$SSM_FAIL

# NonInteractiveCommands with a terminal (a client may ask for one): ssm-shell has no pty of
# its own then, so its output goes through the session's pty, as its errors do (the agent's
# output socket is for the raw relay of a pty ssm-shell makes): the newlines become CRLF
mint ssmts Cmd-Id >"$T/tok.nitty"
run ssmts Cmd-Id "$T/tok.nitty" nitty --term xterm --cols 80 --rows 24
ni_crlf() { # every line of the command's output ends in CR LF, none in a bare LF
	_cr=$(printf '\r')
	grep -q "^NI-ssmts$_cr\$" "$T/nitty.out" && ! grep -q "[^$_cr]\$" "$T/nitty.out" &&
		grep -qx 'exit 1 7' "$T/nitty.err"
}
ssm_check "NonInteractiveCommands on a terminal: its output went through the pty (CRLF)" ni_crlf
[ "$SSM_FAIL" = "$fails" ] || show nitty
fails=$SSM_FAIL

# 2. the same token again: refused, nothing runs
rm -f "$T/home/ssmts/marker"
mint ssmts Mark >"$T/tok.mark"
run ssmts Mark "$T/tok.mark" mark1
ssm_check "a Mark session runs (control for the refusals below)" \
	sh -c "grep -q MARKED '$T/mark1.out' && [ -e '$T/home/ssmts/marker' ]"
refused_row() { # NAME WHAT
	ssm_check "$2: refused (status 100), no process ran" sh -c "
		grep -q '^refused authentication: ' '$T/$1.err' && [ \$(cat '$T/$1.rc') = 100 ] &&
		! grep -q '^ok' '$T/$1.err' && [ ! -e '$T/home/ssmts/marker' ]"
	[ "$SSM_FAIL" = "$fails" ] || show "$1"
	fails=$SSM_FAIL
}
rm -f "$T/home/ssmts/marker"
run ssmts Mark "$T/tok.mark" replay
refused_row replay "the same token a second time (replay)"
mint ssmts Mark --now $(( $(date +%s) - 1000 )) --lifetime 60 >"$T/tok.exp"
run ssmts Mark "$T/tok.exp" expired
refused_row expired "an expired token"
$SSMTOKEN mint --key "$T/k1.pem" --kid k1 --iss https://broker.test --aud i-0fffffffffffffff0 \
	--sub alice --run-as ssmts --doc-name Mark --doc-file "$T/docs/Mark.json" >"$T/tok.host"
run ssmts Mark "$T/tok.host" otherhost
refused_row otherhost "a token for another host"
mint ssmts2 Mark >"$T/tok.user"
run ssmts Mark "$T/tok.user" otheruser
refused_row otheruser "a token for ssmts2 used to log in ssmts (run_as mismatch)"
ssm_check "and the last refusal's token was not used up by it: it logs ssmts2 in" sh -c "
	FOO_LEAK=1 timeout -k 5 60 '$ASESS' --user ssmts2 --token-file '$T/tok.user' --sid s \
		--document Mark </dev/null 2>&1 | grep -q '^ok'"

# 3. a terminal session: a shell on a /dev/pts terminal, as ssmts, status 3; utmp meanwhile
mint ssmts SSM-SessionManagerRunShell >"$T/tok.tty"
utmp_has() { who "$UTMP" | grep -q "^ssmts .*pts/"; }
: >"$T/hold"
mkfifo "$T/tty.fifo"
( printf 'echo U-$(id -un) T-$(tty)\n'; while [ -e "$T/hold" ]; do sleep 0.05; done;
  printf 'exit 3\n' ) >"$T/tty.fifo" &
feeder=$!
FOO_LEAK=1 timeout -k 5 60 "$ASESS" --user ssmts --token-file "$T/tok.tty" --sid sid-tty \
	--document SSM-SessionManagerRunShell --term xterm --cols 100 --rows 30 \
	--stdin-after 'ssmts$ ' <"$T/tty.fifo" >"$T/tty.out" 2>"$T/tty.err" &
apid=$!
ssm_check "terminal session: utmp has ssmts on a pts line while it runs" ssm_wait_for 10 utmp_has
ssm_wait_for 10 grep -q '^ok ' "$T/tty.err"
shpid=$(sed -n 's/^ok //p' "$T/tty.err")
if [ -n "$loginuid_ok" ]; then
	ssm_check "loginuid of the login shell (pid $shpid) is 61003" \
		sh -c "[ \"\$(cat /proc/$shpid/loginuid)\" = 61003 ]"
else
	echo "SKIP: loginuid: /proc/self/loginuid not writable here"
fi
ssm_wait_for 10 grep -q 'U-ssmts' "$T/tty.out"
sock=$(readlink "/proc/$shpid/fd/1" 2>/dev/null)
ssm_check "terminal session: ssm-shell's standard output is the agent's output socket ($sock)" \
	sh -c "case '$sock' in socket:*) true ;; *) false ;; esac"
user_lacks_sock() { # ssmts's processes (its shell runs now) hold no descriptor of $sock
	[ -n "$sock" ] && pgrep -u ssmts >/dev/null || return 1
	for p in $(pgrep -u ssmts); do ls -l "/proc/$p/fd" 2>/dev/null; done |
		grep -qF "$sock" && return 1
	return 0
}
ssm_check "terminal session: no process of ssmts holds that socket" user_lacks_sock
rm -f "$T/hold"
wait "$apid"
echo $? >"$T/tty.rc"
wait "$feeder" 2>/dev/null
ssm_check "terminal session: the shell ran as ssmts on /dev/pts" \
	grep -q 'U-ssmts T-/dev/pts/' "$T/tty.out"
ssm_check "terminal session: 'exit 3' came back as exit 1 3" \
	sh -c "grep -qx 'exit 1 3' '$T/tty.err' && [ \$(cat '$T/tty.rc') = 3 ]"
ssm_check_not "utmp: the session's entry is gone once asess_run returned" utmp_has
[ "$SSM_FAIL" = "$fails" ] || { show tty; who "$UTMP"; }
fails=$SSM_FAIL

# 4. terminate: a `sleep 1000` session ends within 2 s, nothing of ssmts left
mint ssmts Sleep >"$T/tok.sleep"
start=$(date +%s%N)
run ssmts Sleep "$T/tok.sleep" term --terminate-after-ms 300
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ssm_check "terminate: the session started and ended ($(tail -n 1 "$T/term.err"))" \
	sh -c "grep -q '^ok ' '$T/term.err' && grep -q '^exit ' '$T/term.err' && grep -q SLEEPING '$T/term.out'"
ssm_check "terminate: within 2 s of the request ($ms ms in all, 300 of them before it)" \
	[ "$ms" -lt 2300 ]
ssm_check_not "terminate: no process of ssmts remains" pgrep -u ssmts
ssm_check "terminate: ssm-shell audited the end as terminated" sh -c \
	"grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | tail -n 1 | grep -q '\"reason\":\"terminated\"'"
[ "$SSM_FAIL" = "$fails" ] || show term
fails=$SSM_FAIL

# the agent gone (its control socket closed): the same as terminate
mint ssmts Sleep >"$T/tok.sleep2"
start=$(date +%s%N)
run ssmts Sleep "$T/tok.sleep2" ctleof --close-ctl-after-ms 300
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ssm_check "control socket closed: the session parent ended the session and exited ($ms ms, 300 before)" \
	sh -c "grep -q '^ok ' '$T/ctleof.err' && [ $ms -lt 2300 ]"
ssm_check_not "control socket closed: no process of ssmts remains" pgrep -u ssmts
ssm_check "control socket closed: audited as terminated" sh -c \
	"grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | tail -n 1 | grep -q '\"reason\":\"terminated\"'"
[ "$SSM_FAIL" = "$fails" ] || show ctleof
fails=$SSM_FAIL

# 5. what the login shell itself gets (the probe user's shell is asess_run's probe)
mint ssmtp Mark >"$T/tok.probe"
run ssmtp Mark "$T/tok.probe" probe
ssm_check "probe: started, exit 1 0" sh -c "grep -q '^ok ' '$T/probe.err' && grep -qx 'exit 1 0' '$T/probe.err'"
ssm_check "probe: argv[0] is -probe-shell (a login shell)" has probe '^argv0 -probe-shell$' out
ssm_check "probe: real, effective, saved uid and gid all 61006" has probe '^ids 61006 61006 61006 61006 61006 61006$' out
ssm_check "probe: groups are the user's (61006 only)" has probe '^groups 61006$' out
ssm_check "probe: only descriptors 0, 1, 2" has probe '^fds 0 1 2$' out
# (signals 32 and 33 are glibc's own: no C library call resets an inherited SIG_IGN of
# them; make check's environment has them ignored)
sig_clean() {
	blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "$T/probe.out")
	ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' "$T/probe.out")
	[ -n "$blk" ] && [ -n "$ign" ] && [ $((0x$blk)) = 0 ] && [ $((0x$ign & ~0x180000000)) = 0 ]
}
ssm_check "probe: no signal blocked or ignored" sig_clean
ssm_check "probe: umask 022, no terminal, own session" sh -c \
	"grep -qx 'umask 022' '$T/probe.out' && grep -qx 'tty none ctty 0 leader 1' '$T/probe.out'"
ssm_check "probe: in its home directory" has probe "^cwd $T/home/ssmtp\$" out
envs=$(sed -n 's/^env \([^=]*\)=.*/\1/p' "$T/probe.out" | sort | tr '\n' ' ')
ssm_check "probe: environment is exactly HOME LOGNAME MAIL PATH SHELL USER ($envs)" \
	[ "$envs" = "HOME LOGNAME MAIL PATH SHELL USER " ]
ssm_check "probe: HOME, SHELL, USER, LOGNAME, MAIL, PATH as login(1) sets them" sh -c "
	grep -qx 'env HOME=$T/home/ssmtp' '$T/probe.out' &&
	grep -qx 'env SHELL=$T/bin/probe-shell' '$T/probe.out' &&
	grep -qx 'env USER=ssmtp' '$T/probe.out' && grep -qx 'env LOGNAME=ssmtp' '$T/probe.out' &&
	grep -qx 'env MAIL=/var/mail/ssmtp' '$T/probe.out' &&
	grep -qx 'env PATH=/usr/local/bin:/usr/bin:/bin' '$T/probe.out'"
ssm_check "probe: pam_limits' hard nofile 778" has probe '^nofile 778$' out
if [ -n "$loginuid_ok" ]; then
	ssm_check "probe: loginuid 61006" has probe '^loginuid 61006$' out
fi
[ "$SSM_FAIL" = "$fails" ] || show probe
fails=$SSM_FAIL

# the probe with a terminal: TERM added, the pty is its controlling terminal, the size set
mint ssmtp Mark >"$T/tok.probe2"
run ssmtp Mark "$T/tok.probe2" probetty --term vt100 --cols 91 --rows 17
tr -d '\r' <"$T/probetty.out" >"$T/probetty.txt"
ssm_check "probe on a terminal: TERM=vt100, a /dev/pts controlling terminal, session leader" sh -c "
	grep -qx 'env TERM=vt100' '$T/probetty.txt' &&
	grep -qx 'tty /dev/pts/[0-9]* ctty 1 leader 1' '$T/probetty.txt'"
ssm_check "probe on a terminal: the window size 91x17, the terminal the user's (0620)" sh -c "
	grep -qx 'winsize 91 17' '$T/probetty.txt' && grep -qx 'ttyowner 61006 0620' '$T/probetty.txt'"
ssm_check "probe on a terminal: another login shell than ssm-shell has the pty on 0, 1 and 2" \
	grep -qx 'stdio tty tty tty' "$T/probetty.txt"
[ "$SSM_FAIL" = "$fails" ] || show probetty
fails=$SSM_FAIL

# a login shell that is ssm-shell (the name, setuid root, on a mount that honours setuid)
# gets its standard output on the agent's output socket (session_priv.h, out_fd), the pty on
# 0 and 2; what it writes there reaches the agent.  The same file without the setuid bit
# (which the session user could trace and take the socket from) gets the pty on 0-2.
mkdir -p "$T/probe2" && cp "$ASESS" "$T/probe2/ssm-shell" && chmod 4755 "$T/probe2/ssm-shell"
ssm_add_user ssmtq 61007 "$T/probe2/ssm-shell"
sed -i 's/"ssmtp"\]/"ssmtp", "ssmtq"]/' "$CONF_PATH"
if ! findmnt -n -o OPTIONS -T "$T/probe2" | grep -qw nosuid; then
	mint ssmtq Mark >"$T/tok.probe3"
	run ssmtq Mark "$T/tok.probe3" probeout --term vt100 --cols 91 --rows 17
	tr -d '\r' <"$T/probeout.out" >"$T/probeout.txt"
	ssm_check "probe as ssm-shell (setuid root) on a terminal: stdout is a socket, 0 and 2 the pty" \
		grep -qx 'stdio tty socket tty' "$T/probeout.txt"
	ssm_check "probe as ssm-shell: its output came back whole, and 'exit 1 0'" sh -c "
		grep -qx 'tty /dev/pts/[0-9]* ctty 1 leader 1' '$T/probeout.txt' &&
		grep -qx 'env TERM=vt100' '$T/probeout.txt' && grep -qx 'exit 1 0' '$T/probeout.err'"
	[ "$SSM_FAIL" = "$fails" ] || show probeout
	fails=$SSM_FAIL
else
	echo "SKIP: output socket: $T is on a nosuid mount (the agent then keeps the pty on 1)"
fi
chmod 0755 "$T/probe2/ssm-shell"
mint ssmtq Mark >"$T/tok.probe4"
run ssmtq Mark "$T/tok.probe4" probenosuid --term vt100 --cols 91 --rows 17
tr -d '\r' <"$T/probenosuid.out" >"$T/probenosuid.txt"
ssm_check "a file named ssm-shell without the setuid bit: the pty on 0, 1 and 2" sh -c "
	grep -qx 'stdio tty tty tty' '$T/probenosuid.txt' && grep -qx 'exit 1 0' '$T/probenosuid.err'"
[ "$SSM_FAIL" = "$fails" ] || show probenosuid
fails=$SSM_FAIL
# a setuid-root script named ssm-shell (the kernel runs no script setuid): its interpreter
# could not open the close-on-exec descriptor it would be run through, so it runs by its
# path, with the pty on 0-2
mkdir -p "$T/probe3"
printf '#!/bin/sh\n[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo SCRIPT-ON-PTY\n' >"$T/probe3/ssm-shell"
chmod 4755 "$T/probe3/ssm-shell"
ssm_add_user ssmtr 61008 "$T/probe3/ssm-shell"
sed -i 's/"ssmtq"\]/"ssmtq", "ssmtr"]/' "$CONF_PATH"
mint ssmtr Mark >"$T/tok.probe5"
run ssmtr Mark "$T/tok.probe5" probescript --term vt100 --cols 91 --rows 17
ssm_check "a setuid script named ssm-shell runs by its path, with the pty on 0, 1 and 2" sh -c "
	grep -q SCRIPT-ON-PTY '$T/probescript.out' && grep -qx 'exit 1 0' '$T/probescript.err'"
[ "$SSM_FAIL" = "$fails" ] || show probescript
fails=$SSM_FAIL

# refused requests never reach PAM: a bad terminal, a user name like an option
printf 'x.y.z' >"$T/tok.bad"
ssm_check "a request with an invalid terminal is refused before anything starts" sh -c "
	'$ASESS' --user ssmts --token-file '$T/tok.bad' --sid s --document Mark --term 'x;y' \
		--cols 80 --rows 24 </dev/null 2>&1 | grep -q 'start: invalid terminal'"
ssm_check "a user name starting with - is refused before anything starts" sh -c "
	'$ASESS' --user -f --token-file '$T/tok.bad' --sid s --document Mark </dev/null 2>&1 |
		grep -q 'start: invalid user name'"

if [ "$SSM_FAIL" != 0 ]; then
	echo "--- audit log (tail)"
	tail -n 8 "$T/log/audit.jsonl"
fi
ssm_done agent_session
