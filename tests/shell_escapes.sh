#!/bin/sh
# shell_escapes.sh - command documents never reach a shell prompt through the programs they
# run (issue 7 point 2): the real less, more, man and vi, driven on a real terminal (tmux)
# inside InteractiveCommands sessions, try their shell escapes (! and :!) and fail; the
# same keys typed into the same program outside ssm-shell (the control) do reach a shell,
# which shows that the keys are right.  The environment of command sessions is checked
# too.  Root, private namespaces (tests/shell_setup.sh); a program that is not installed
# is skipped with a line saying so.
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

mkdoc Cmd-Env '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "printenv SHELL EDITOR VISUAL LESSSECURE SYSTEMD_PAGERSECURE PAGER MANPAGER; $SHELL -c \"echo SHELL-RAN\"; echo SHELL-STATUS=$?"}}}'

echo "== the environment of a command session"
out=$(ssm_login ssmtu Cmd-Env - 2>&1 </dev/null)
printf '%s\n' "$out" | sed 's/^/| /'
nologin=$(printf '%s\n' "$out" | sed -n 1p)
ssm_check "SHELL is a program that refuses ($nologin)" \
	sh -c "case '$nologin' in */nologin|/bin/false) true;; *) false;; esac"
ssm_check "EDITOR and VISUAL are the same refusing program" \
	[ "$(printf '%s\n' "$out" | sed -n 2,3p | sort -u)" = "$nologin" ]
ssm_check "LESSSECURE=1 and SYSTEMD_PAGERSECURE=1" \
	[ "$(printf '%s\n' "$out" | sed -n 4,5p | tr '\n' ,)" = "1,1," ]
ssm_check_not "\$SHELL -c runs nothing" sh -c "printf '%s\n' '$out' | grep -q SHELL-RAN"
ssm_check "\$SHELL -c fails" sh -c "printf '%s\n' '$out' | grep -q 'SHELL-STATUS=[1-9]'"

# a file long enough that every pager pages it
seq 1 400 | sed 's/^/LINE-/' >"$T/long.txt"
chmod 0644 "$T/long.txt"
home=$T/home/ssmtu

# control NAME CMD...: the program as the user outside ssm-shell, with a plain shell
control() {
	_n=$1; shift
	ssm_tmux_start "$_n" 100 30 "setpriv --reuid=ssmtu --regid=ssmtu --init-groups env -i HOME=$home TERM=xterm LANG=C.UTF-8 SHELL=/bin/sh PATH=/usr/bin:/bin $*"
}

# escape_case PROG DOC-COMMAND READY-ERE KEYS-FN QUIT-FN
escape_case() {
	prog=$1; cmdline=$2; ready=$3; keys=$4; quit=$5
	if ! command -v "$prog" >/dev/null; then
		echo "SKIP: $prog not installed"
		return 0
	fi
	f0=$SSM_FAIL
	mkdoc "Cmd-$prog" "{\"schemaVersion\": \"1.0\", \"sessionType\": \"InteractiveCommands\",
	 \"parameters\": {\"file\": {\"type\": \"String\", \"allowedPattern\": \"^[A-Za-z0-9/._-]+\$\"}},
	 \"properties\": {\"linux\": {\"commands\": \"$cmdline {{ file }}\"}}}"
	rm -f "$home/esc-$prog-control" "$home/esc-$prog-session"

	echo "== $prog: control (outside ssm-shell the escape works)"
	control "c-$prog" "$cmdline $T/long.txt"
	ssm_tmux_wait "c-$prog" 10 "$ready" || true
	$keys "c-$prog" "$home/esc-$prog-control"
	ssm_check "$prog control: the shell escape ran (the keys are right)" \
		ssm_wait_for 10 test -e "$home/esc-$prog-control"
	ssm_tmux_dump_if "c-$prog" "$f0"
	ssm_tmux_kill "c-$prog"

	echo "== $prog: in an InteractiveCommands session"
	f0=$SSM_FAIL
	tmux_login "s-$prog" 100 30 ssmtu "Cmd-$prog" "{\"file\": [\"$T/long.txt\"]}"
	ssm_check "$prog session: the program shows the file" ssm_tmux_wait "s-$prog" 10 "$ready"
	$keys "s-$prog" "$home/esc-$prog-session"
	$quit "s-$prog"
	ssm_check "$prog session: ends when the program quits" ssm_tmux_gone "s-$prog" 10
	ssm_check_not "$prog session: the shell escape ran nothing" test -e "$home/esc-$prog-session"
	ssm_tmux_dump_if "s-$prog" "$f0"
	ssm_tmux_kill "s-$prog"
}

bang_keys() { # less, more, man: !command
	ssm_tmux_keys "$1" '!'
	sleep 0.2
	ssm_tmux_keys "$1" -l "touch $2"
	ssm_tmux_keys "$1" Enter
}
pager_quit() {
	ssm_tmux_keys "$1" Enter
	for _k in 1 2 3; do
		ssm_tmux_dead "$1" && return 0
		ssm_tmux_keys "$1" q
		ssm_wait_for 2 ssm_tmux_dead "$1" && return 0
	done
}
vi_keys() {
	ssm_tmux_keys "$1" Escape
	ssm_tmux_keys "$1" -l ":!touch $2"
	ssm_tmux_keys "$1" Enter
}
vi_quit() {
	ssm_tmux_keys "$1" Enter
	ssm_tmux_keys "$1" Escape
	ssm_tmux_keys "$1" -l ':qa!'
	ssm_tmux_keys "$1" Enter
}

escape_case less less 'LINE-1$' bang_keys pager_quit
escape_case more more 'LINE-1$' bang_keys pager_quit
# man -l FILE formats a local page and shows it through its pager (less, in secure mode)
printf '.TH ESC 1\n.SH NAME\nesc \\- MAN-PAGE-SHOWN\n.SH DESCRIPTION\n' >"$T/esc.1"
seq 1 200 | sed 's/^/Paragraph /; s/$/\n.PP/' >>"$T/esc.1"
chmod 0644 "$T/esc.1"
cp "$T/esc.1" "$T/long.txt.man"
escape_case_man() {
	saved=$T/long.txt
	cp "$T/esc.1" "$T/long.txt"
	escape_case man 'man -l' 'MAN-PAGE-SHOWN' bang_keys pager_quit
	seq 1 400 | sed 's/^/LINE-/' >"$T/long.txt"
}
escape_case_man
escape_case vi vi 'LINE-1$' vi_keys vi_quit

ssm_done
