#!/bin/sh
# shell_session.sh - ssm-shell Standard_Stream sessions on a real terminal (tmux), as root in
# private namespaces with throwaway users: whoami, exit status, shellProfile, window size,
# descriptors, environment, the transcript read back with asciinema, -c (after the
# shellProfile, in the same shell), and refusals
# (no record, record for another user, expired, not root-owned, other audit session).
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

mkdoc Shell-Std '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeoutSeconds": 600,
  "shellProfile": {"linux": "export PROFILE_RAN=yes-it-did; cd /tmp"}}}'
mkdoc Shell-Plain '{"schemaVersion": "1.0", "sessionType": "Standard_Stream", "inputs": {}}'

echo "== a shell session: whoami, shellProfile, descriptors, environment, exit status"
f0=$SSM_FAIL
tmux_login s1 100 30 ssmtu Shell-Std -
ssm_check "the shell prompt appears" ssm_tmux_wait s1 5 'ssmtu\$ $'
ssm_tmux_keys s1 'echo "W=$(whoami) P=$PROFILE_RAN D=$(pwd)"' Enter
ssm_check "runs as the session user with shellProfile applied" \
	ssm_tmux_wait s1 5 '^W=ssmtu P=yes-it-did D=/tmp$'
ssm_tmux_keys s1 'echo FD=$(ls /proc/self/fd | tr "\n" " ")' Enter
# ls itself opens one directory fd (3): nothing else may be inherited
ssm_check "only descriptors 0 1 2 (+ the one ls opens)" ssm_tmux_wait s1 5 '^FD=0 1 2 3 ?$'
ssm_tmux_keys s1 'echo SZ=$(stty size)' Enter
ssm_check "the client's window size is the session's" ssm_tmux_wait s1 5 '^SZ=30 100$'
SSM_TMUX resize-window -t s1 -x 120 -y 40 >/dev/null 2>&1
sleep 0.3
ssm_tmux_keys s1 'echo SZ=$(stty size)' Enter
ssm_check "a window size change passes through" ssm_tmux_wait s1 5 '^SZ=40 120$'
ssm_tmux_keys s1 'echo tty=$(tty) ps=$(ps -e -o pid= | wc -l)' Enter
ssm_check "own pty and ps works (few processes visible)" ssm_tmux_wait s1 5 '^tty=/dev/pts/[0-9]+ ps=[1-9]$'
ssm_tmux_keys s1 'printf "MARK-%s\n" transcript; exit 7' Enter
ssm_check "the session ends when the shell exits" ssm_tmux_gone s1 5
ssm_tmux_dump_if s1 "$f0"
ssm_check "exit status passed on (7)" [ "$(cat "$T/rc")" = 7 ]
sid=$(sid_last)
end=$(audit_last session_end)
ssm_check "session_end: reason exit" [ "$(jfield "$end" reason)" = exit ]
ssm_check "session_end: exit_status 7" [ "$(jfield "$end" exit_status)" = 7 ]
ssm_check "session_end: sid" [ "$(jfield "$end" sid)" = "$sid" ]
cast=$(cast_of "$sid")
echo "transcript: $(stat -c %U:%G:%a "$cast")"
ssm_check "transcript is root's, 0640" [ "$(stat -c %U:%G:%a "$cast")" = root:root:640 ]
sha=$(sha256sum "$cast" | cut -d' ' -f1)
ssm_check "session_end: transcript sha256 matches the file" \
	[ "$(jfield "$end" transcript_sha256)" = "$sha" ]
ssm_check "session_end: transcript bytes match the file" \
	[ "$(jfield "$end" transcript_bytes)" = "$(stat -c %s "$cast")" ]
ssm_check "SID.end says exit 7" grep -q '"reason":"exit","exit_status":7' "$T/run/live/$sid.end"
ssm_check "SID.end is root's, 0600 (no other session's recorder may open it)" \
	[ "$(stat -c %U:%a "$T/run/live/$sid.end")" = root:600 ]
if command -v asciinema >/dev/null; then
	# asciinema cat wants a terminal: give it one with script(1)
	script -qec "asciinema cat '$cast'" /dev/null >"$T/cat.out" 2>"$T/cat.err" </dev/null
	ssm_check "asciinema cat reads the transcript" [ -s "$T/cat.out" ]
	ssm_check "the transcript has the output (MARK-transcript)" grep -q 'MARK-transcript' "$T/cat.out"
	ssm_check "the transcript has the profile's effect" grep -q 'P=yes-it-did' "$T/cat.out"
else
	echo "(asciinema missing: transcript read-back skipped)"
fi
ssm_tmux_kill s1

echo "== interrupting the shellProfile ends the session (it cannot be skipped)"
mkdoc Shell-SlowProfile '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"shellProfile": {"linux": "echo PROFILE-START; sleep 5; echo PROFILE-END"}}}'
tmux_login s2 80 24 ssmtu Shell-SlowProfile -
ssm_tmux_wait s2 5 'PROFILE-START' || true
ssm_tmux_keys s2 C-c
ssm_check "Ctrl-C in the profile ends the session" ssm_tmux_gone s2 5
ssm_check_not "no prompt was reached" ssm_tmux_wait s2 0 'ssmtu\$'
ssm_tmux_kill s2

echo "== -c COMMAND for Standard_Stream: same recording, exit status passed on"
out=$(ssm_login ssmtu Shell-Plain - -- -c 'echo C-OUT $(whoami); echo C-ERR >&2; exit 3' 2>&1 </dev/null)
rc=$?
ssm_check "-c runs as the user" [ "$(printf '%s\n' "$out" | grep C-OUT)" = "C-OUT ssmtu" ]
ssm_check "-c stderr passed on" sh -c "printf '%s\n' '$out' | grep -q C-ERR"
ssm_check "-c exit status 3" [ "$rc" = 3 ]
ssm_check "-c recorded" grep -q 'C-OUT ssmtu' "$(cast_of "$(sid_last)")"
ssm_check "-c audited in shell_start" sh -c "grep '\"event\":\"shell_start\"' '$T/log/audit.jsonl' | tail -1 | grep -q 'C-OUT'"
out=$(env -i PATH=/usr/bin:/bin TERM=vt100 LANG=C SECRET=x BASH_ENV=/nonexistent-bash-env timeout 60 \
	"$T/bin/login" ssmtu Shell-Plain - -- -c 'cat /proc/$$/environ | tr "\0" "\n" | cut -d= -f1 | sort | tr "\n" ,' 2>&1 </dev/null)
echo "environment names: $out"
ssm_check "the session's environment is exactly HOME LANG LOGNAME PATH SHELL TERM USER" \
	[ "$out" = "HOME,LANG,LOGNAME,PATH,SHELL,TERM,USER," ]
out=$(echo 'echo FROM-STDIN' | ssm_login ssmtu Shell-Plain - 2>&1)
ssm_check "no tty, no -c: the shell reads standard input" [ "$out" = FROM-STDIN ]
out=$(ssm_login ssmtu Shell-Plain - -- -c 'kill -SEGV $$' 2>&1 </dev/null)
rc=$?
ssm_check "a fatal signal is passed on as such (139)" [ "$rc" = 139 ]

echo "== -c COMMAND with a shellProfile: the profile runs first, in the same shell"
mkdoc Shell-ProfC '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"shellProfile": {"linux": "umask 077; cd /tmp; export PROFILE_RAN=yes; profile_fn() { echo FN-FROM-PROFILE; }"}}}'
out=$(ssm_login ssmtu Shell-ProfC - -- -c 'echo "P=$PROFILE_RAN U=$(umask) D=$(pwd)"; profile_fn; exit 5' 2>&1 </dev/null)
rc=$?
echo "$out" | sed 's/^/| /'
ssm_check "-c after the profile: its variables, umask and directory" \
	sh -c "printf '%s\n' '$out' | grep -qx 'P=yes U=0077 D=/tmp'"
ssm_check "-c after the profile: in the same shell (the profile's function)" \
	sh -c "printf '%s\n' '$out' | grep -qx FN-FROM-PROFILE"
ssm_check "-c after the profile: the command's exit status (5)" [ "$rc" = 5 ]
# the profile sees the waiting command in SSM_COMMAND: one that execs an interactive shell
# (AWS's usual "exec bash -l") leaves that out for commands, one that is a control allows
# only some commands
mkdoc Shell-ExecProf '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"shellProfile": {"linux": "cd /tmp && { [ -n \"${SSM_COMMAND+set}\" ] || exec bash -l; }"}}}'
out=$(ssm_login ssmtu Shell-ExecProf - -- -c 'echo "RAN-IN=$(pwd)"' 2>&1 </dev/null)
ssm_check "a profile that execs a login shell for interactive sessions lets a command run" \
	sh -c "printf '%s\n' '$out' | grep -qx 'RAN-IN=/tmp'"
mkdoc Shell-OnlyScp '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"shellProfile": {"linux": "case \"${SSM_COMMAND-}\" in \"echo allowed\") ;; *) echo REFUSED-BY-PROFILE; exit 3;; esac"}}}'
out=$(ssm_login ssmtu Shell-OnlyScp - -- -c 'echo allowed' 2>&1 </dev/null)
ssm_check "a profile that allows some commands: the allowed one runs" [ "$out" = allowed ]
out=$(ssm_login ssmtu Shell-OnlyScp - -- -c 'echo allowed; id' 2>&1 </dev/null)
rc=$?
ssm_check "... another is refused by the profile (exit 3, nothing ran)" \
	sh -c "[ $rc = 3 ] && [ '$out' = REFUSED-BY-PROFILE ]"
mkdoc Shell-Menu '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"shellProfile": {"linux": "echo MENU-ONLY; exit 9"}}}'
for cmd in 'echo BYPASSED' "'; echo BYPASSED; '" 'echo BYPASSED #' "\"; echo BYPASSED"; do
	out=$(ssm_login ssmtu Shell-Menu - -- -c "$cmd" 2>&1 </dev/null)
	rc=$?
	ssm_check "a profile that exits: -c \"$cmd\" never runs (exit 9)" \
		sh -c "[ $rc = 9 ] && printf '%s\n' '$out' | grep -q MENU-ONLY && ! printf '%s\n' '$out' | grep -q BYPASSED"
done

echo "== refusals: one line, an audit event, no session"
nd=$(audit_count login_denied)
out=$(setpriv --reuid=ssmtu --regid=ssmtu --init-groups "$SSM_SHELL" </dev/null 2>&1)
rc=$?
ssm_check "no record: refused (exit 1)" [ "$rc" = 1 ]
ssm_check "no record: one clear line" sh -c "[ \$(printf '%s\n' '$out' | wc -l) = 1 ] && printf '%s' '$out' | grep -q 'no session record'"
ssm_check "no record: login_denied logged" [ "$(audit_count login_denied)" -gt "$nd" ]
ssm_check "no record: reason no_record" [ "$(jfield "$(audit_last login_denied)" reason)" = no_record ]

deny_case() { # WHAT REASON env... : run a login that must be refused
	_what=$1; _reason=$2; shift 2
	nd=$(audit_count login_denied)
	env "$@" timeout -k 5 60 "$T/bin/login" ssmtu Shell-Plain - -- -c 'echo SHOULD-NOT-RUN' >"$T/deny.out" 2>&1 </dev/null
	_rc=$?
	ssm_check "$_what: refused" [ "$_rc" = 1 ]
	ssm_check_not "$_what: nothing ran" grep -q SHOULD-NOT-RUN "$T/deny.out"
	ssm_check "$_what: login_denied reason $_reason" \
		[ "$(jfield "$(audit_last login_denied)" reason)" = "$_reason" ]
	ssm_check "$_what: one line on stderr" [ "$(wc -l <"$T/deny.out")" = 1 ]
}
deny_case "record for another user" run_as_mismatch REC_RUN_AS=ssmtu2
deny_case "expired record" expired REC_EXP=-3600
deny_case "record not owned by root" bad_record REC_CHOWN=ssmtu
deny_case "record of another audit session" audit_session_mismatch MKRECORD_AUDIT_SESSION=12345

out=$(setpriv --reuid=ssmtu --regid=ssmtu --init-groups "$SSM_SHELL" --config /nonexistent </dev/null 2>&1)
ssm_check "--config is refused from a non-root caller" [ $? = 2 ]
out=$(setpriv --reuid=ssmtu --regid=ssmtu --init-groups "$SSM_SHELL" -x </dev/null 2>&1)
ssm_check "unknown arguments are refused" [ $? = 2 ]
setpriv --reuid=ssmtu --regid=ssmtu --init-groups /usr/bin/python3 -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
argv = (ctypes.c_char_p * 1)(None)
envp = (ctypes.c_char_p * 1)(None)
libc.execve(sys.argv[1].encode(), argv, envp)
sys.exit(99)' "$SSM_SHELL" </dev/null >"$T/argc0.out" 2>&1
rc=$?
# (kernels since 5.18 turn an empty argv into {"", NULL}: then it is "no record")
ssm_check "argc 0 is handled: refused with one line (exit 2 or 1)" sh -c \
	"[ $rc = 2 -o $rc = 1 ] && grep -q '^ssm-shell: ' '$T/argc0.out'"

ssm_done
