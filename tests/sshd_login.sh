#!/bin/sh
# sshd_login.sh - a token login through a REAL sshd and ssh client (root only): the
# deployment the README describes (PasswordAuthentication, the token as the password,
# UsePAM, the run-as user's login shell ssm-shell), end to end.
#
# Isolation: private mount and pid namespaces (tests/shell_setup.sh: /etc overlaid,
# throwaway users), a private tmpfs on /run (sshd's privilege separation directory), sshd on
# 127.0.0.1 at a free port.  Checks: a NonInteractiveCommands login runs its command as the
# run-as user and passes its output back; the same token again is refused; a token for
# another user is refused; a terminal session (ssh -tt) runs a shell whose transcript
# asciinema reads; the audit log has session_start and exactly one session_end; the same
# through ssm-verifyd; the events carry the audit session pam_loginuid opened (the one ssm-shell
# runs in) and the login uid; keyboard-interactive is refused before the token is asked for
# (auth runs in a process sshd forked: pam_ssmsession(8)), audited as forked_auth, and the
# token is not used up.
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || { echo "SKIP: no sshd"; exit 77; }
command -v ssh >/dev/null 2>&1 || { echo "SKIP: no ssh client"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

PY=${SSM_PYTHON:-/usr/bin/python3}
"$PY" -c 'import jwt, cryptography' 2>/dev/null || { echo "SKIP: $PY lacks python3-jwt"; exit 77; }
SSMTOKEN="$PY $srcdir/broker/ssmtoken.py"
MODULE=$builddir/pam_ssmsession/.libs/pam_ssmsession.so
[ -f "$MODULE" ] || { echo "FAIL: module not built"; exit 1; }

# sshd's privilege separation directory, in this namespace only
mount -t tmpfs -o mode=0755 ssm-run /run || { echo "FAIL: cannot mount /run"; exit 1; }
mkdir -p /run/sshd && chmod 0755 /run/sshd

ssm_add_user ssmts 61003 "$SSM_SHELL"
$SSMTOKEN keygen --alg EdDSA --kid k1 --out-private "$T/k1.pem" --out-jwks "$CONF_DIR/jwks.json"
chmod 0644 "$CONF_DIR/jwks.json"
cat >"$CONF_PATH" <<EOF
{"host_id": "$HOST_ID", "issuer": "https://broker.test",
 "trusted_keys": "$CONF_DIR/jwks.json", "documents_dir": "$T/docs",
 "run_as_allowed": ["ssmts"], "run_dir": "$T/run", "log_dir": "$T/log",
 "state_dir": "$T/state", "recorder_user": "ssmsession"}
EOF
chmod 0644 "$CONF_PATH"
mkdoc Cmd-Id '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo SSHD-OK-$(id -un)"}}}'
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "5"}}'
mint() { # USER DOC: a fresh token
	$SSMTOKEN mint --key "$T/k1.pem" --kid k1 --iss https://broker.test --aud "$HOST_ID" \
		--sub alice --run-as "$1" --doc-name "$2" --doc-file "$T/docs/$2.json"
}

# the README's stack: pam_loginuid before pam_ssmsession in the session stack
loginuid_ok=
if sh -c 'echo 0 >/proc/self/loginuid' 2>/dev/null; then
	loginuid_ok=1
	printf 'auth required %s\naccount required %s\nsession required pam_loginuid.so\nsession required %s\n' \
		"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/sshd
else
	echo "note: /proc/self/loginuid is not writable here (no CAP_AUDIT_CONTROL, or immutable): no pam_loginuid in the stack"
	printf 'auth required %s\naccount required %s\nsession required %s\n' \
		"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/sshd
fi
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" || exit 1
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $T/hostkey
PidFile $T/sshd.pid
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
AuthorizedKeysFile none
PermitUserRC no
MaxSessions 1
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
EOF
/usr/sbin/sshd -t -f "$T/sshd_config" || { echo "FAIL: sshd -t refused the configuration"; exit 1; }
# a module built with ASan/UBSan needs the runtimes preloaded into sshd
san=
if readelf -d "$MODULE" 2>/dev/null | grep -q libasan; then
	san="LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0"
	echo "note: sanitizer build, runtimes preloaded into sshd"
fi
env $san /usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
sshd_pid=$!
ssm_wait_for 5 sh -c "ss -ltn | grep -q '127.0.0.1:$port '" ||
	{ echo "FAIL: sshd did not listen"; cat "$T/sshd.log"; exit 1; }

# the token is the password, given to ssh by an askpass program
printf '#!/bin/sh\ncat "%s"\n' "$T/token" >"$T/askpass"
chmod 0755 "$T/askpass"
sshc() { # USER ARGS...: ssh to the test sshd with the token in $T/token
	_u=$1
	shift
	SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none timeout -k 5 30 \
		ssh -F /dev/null -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o PreferredAuthentications=password -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
		-o LogLevel=ERROR "$@" "$_u@127.0.0.1"
}

ns=$(audit_count session_start)
ns=${ns:-0}
mint ssmts Cmd-Id >"$T/token"
out=$(sshc ssmts </dev/null 2>&1)
rc=$?
ssm_check "NonInteractiveCommands over ssh: the command ran as ssmts (rc $rc)" \
	sh -c 'printf "%s" "$1" | grep -q "SSHD-OK-ssmts"' _ "$out"
first_logged() {
	[ "$(audit_count session_start)" -gt "$ns" ] 2>/dev/null &&
		[ "$(audit_count session_end)" -gt "$ns" ] 2>/dev/null
}
ssm_check "its session_start and session_end are in the audit log" ssm_wait_for 3 first_logged
if [ -n "$loginuid_ok" ]; then
	# session_start (the module, after pam_loginuid) and shell_start (ssm-shell, in the
	# session) carry the same audit session, set, and the user's uid as loginuid
	ids() { grep "\"event\":\"$1\"" "$T/log/audit.jsonl" | tail -n 1 | "$PY" -c '
import json, sys
o = json.loads(sys.stdin.read())
print(o["audit_session"], o["loginuid"])'; }
	ss=$(ids session_start)
	sh_=$(ids shell_start)
	ssm_check "session_start carries a set audit session and loginuid 61003 ($ss)" \
		sh -c 'case "$1" in "None "*|*" None") exit 1;; *" 61003") exit 0;; *) exit 1;; esac' _ "$ss"
	ssm_check "shell_start (ssm-shell) carries the same audit session and loginuid ($sh_)" \
		test "$ss" = "$sh_"
else
	echo "SKIP: audit session checks: /proc/self/loginuid not writable"
fi
out=$(sshc ssmts </dev/null 2>&1)
ssm_check "the same token again: refused by sshd" sh -c \
	'printf "%s" "$1" | grep -q "Permission denied" && ! printf "%s" "$1" | grep -q SSHD-OK' _ "$out"
ssm_check "and audited as a replay" sh -c "grep '\"event\":\"login_denied\"' '$T/log/audit.jsonl' |
	tail -n 1 | grep -q '\"reason\":\"replay\"'"
mint ssmtu Cmd-Id >"$T/token"
out=$(sshc ssmts </dev/null 2>&1)
ssm_check "a token for another user: refused" sh -c \
	'printf "%s" "$1" | grep -q "Permission denied"' _ "$out"

# a terminal session: ssh -tt gives the session a pty; the shell runs what we type
mint ssmts SSM-SessionManagerRunShell >"$T/token"
out=$( (sleep 2; echo 'echo MARK-$((40+2))'; sleep 1; echo exit; sleep 1) | sshc ssmts -tt 2>&1)
ssm_check "Standard_Stream over ssh -tt: the shell ran the typed command" sh -c \
	'printf "%s" "$1" | grep -q "MARK-42"' _ "$out"
sid=$(grep '"event":"session_start"' "$T/log/audit.jsonl" | tail -n 1 |
	"$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["sid"])')
# (asciinema cat wants a terminal: script gives it one)
cast_cat() { script -qec "asciinema cat '$(cast_of "$sid")'" /dev/null </dev/null 2>&1; }
cast_has_mark() { cast_cat | grep -q MARK-42; }
if command -v asciinema >/dev/null; then
	ssm_check "its transcript: asciinema reads the typed command and its output back" \
		ssm_wait_for 3 cast_has_mark
	cast_has_mark || { echo "  asciinema cat says:"; cast_cat | tail -5; }
fi
one_end() { [ "$(grep '"event":"session_end"' "$T/log/audit.jsonl" | grep -c "$sid")" = 1 ]; }
ssm_check "exactly one session_end for it (ssm-shell's; sshd's close_session adds none)" \
	ssm_wait_for 3 one_end

# the same through ssm-verifyd: sshd's monitor (root) asks the daemon
VERIFYD=$builddir/verifyd/ssm-verifyd
if [ -x "$VERIFYD" ]; then
	ssm_add_user ssm-verifyd 61004 /usr/sbin/nologin
	"$VERIFYD" --config "$CONF_PATH" --debug 2>"$T/verifyd.log" &
	vpid=$!
	ssm_wait_for 5 test -S "$T/run/verifyd.sock"
	mint ssmts Cmd-Id >"$T/token"
	out=$(sshc ssmts </dev/null 2>&1)
	ssm_check "with ssm-verifyd: the login over ssh works" sh -c \
		'printf "%s" "$1" | grep -q "SSHD-OK-ssmts"' _ "$out"
	ssm_check "and ssm-verifyd gave the verdict" grep -q 'verdict 0 valid for user ssmts' "$T/verifyd.log"
	out=$(sshc ssmts </dev/null 2>&1)
	ssm_check "and the replay is still refused" sh -c \
		'printf "%s" "$1" | grep -q "Permission denied"' _ "$out"
	kill "$vpid" 2>/dev/null
	wait "$vpid" 2>/dev/null
fi

# keyboard-interactive: OpenSSH runs pam_authenticate in a child it forks, so the monitor's
# handle would never see this module's verified token.  The module sees that it runs in a
# process forked after libpam loaded it and refuses before asking for the token
# (pam_ssmsession(8)): no session, a login_denied forked_auth, and the token still unused.
kport=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s/^Port .*/Port $kport/" -e 's/^PasswordAuthentication yes/PasswordAuthentication no/' \
	-e 's/^KbdInteractiveAuthentication no/KbdInteractiveAuthentication yes/' \
	-e "s#^PidFile .*#PidFile $T/sshd-kbd.pid#" "$T/sshd_config" >"$T/sshd_kbd_config"
env $san /usr/sbin/sshd -D -e -f "$T/sshd_kbd_config" 2>"$T/sshd-kbd.log" &
kpid=$!
ssm_wait_for 5 sh -c "ss -ltn | grep -q '127.0.0.1:$kport '"
mint ssmts Cmd-Id >"$T/token"
nd=$(audit_count login_denied)
out=$(port=$kport; SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none timeout -k 5 30 \
	ssh -F /dev/null -p "$kport" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no \
	-o NumberOfPasswordPrompts=1 -o LogLevel=ERROR ssmts@127.0.0.1 </dev/null 2>&1)
ssm_check "keyboard-interactive: no session, fails closed" sh -c \
	'! printf "%s" "$1" | grep -q SSHD-OK' _ "$out"
kbd_denied() {
	[ "$(audit_count login_denied)" -gt "$nd" ] &&
		grep '"event":"login_denied"' "$T/log/audit.jsonl" | tail -n 1 |
		grep '"reason":"forked_auth"' | grep -q '"user":"ssmts"'
}
ssm_check "keyboard-interactive: audited as login_denied forked_auth for ssmts" kbd_denied
nokbd() { ! tail -n 1 "$T/log/audit.jsonl" | grep -q '"event":"session_start"'; }
ssm_check "keyboard-interactive: no session_start for it" nokbd
ssm_check_not "keyboard-interactive: sshd never got as far as pam_setcred" \
	grep -q 'pam_setcred' "$T/sshd-kbd.log"
# the token was not asked for, so not used: the same token logs in through password auth
out=$(sshc ssmts </dev/null 2>&1)
ssm_check "keyboard-interactive: the token was not used up (it then works with a password login)" \
	sh -c 'printf "%s" "$1" | grep -q "SSHD-OK-ssmts"' _ "$out"
kill "$kpid" 2>/dev/null
wait "$kpid" 2>/dev/null

kill "$sshd_pid" 2>/dev/null
wait "$sshd_pid" 2>/dev/null
if [ "$SSM_FAIL" != 0 ]; then
	echo "--- sshd log (tail)"
	tail -n 30 "$T/sshd.log"
	echo "--- audit log (tail)"
	tail -n 6 "$T/log/audit.jsonl"
fi
ssm_done sshd_login
