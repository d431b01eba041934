# tests/lib.sh - shared helpers for the root-only namespace tests (POSIX sh; source it).
#
#   . "$srcdir/tests/lib.sh"
#   ssm_require_root                 # exit 77 unless root and unshare/overlay work
#   ssm_enter_ns "$@"                # re-run this script in private mount+pid namespaces
#                                    # on a fresh suid-capable tmpfs $T; returns in the copy
#   ssm_private_etc [DIR...]         # overlay /etc (and DIRs): writes stay in the namespace
#   ssm_add_user NAME UID [SHELL]    # a throwaway user (passwd, group, shadow; home in $T)
#   ssm_check "what" CMD...          # run CMD, print PASS/FAIL line, count
#   ssm_check_not "what" CMD...      # CMD must fail
#   ssm_wait_for SECONDS CMD...      # poll CMD every 0.05 s until it succeeds
#   ssm_tmux_start NAME COLS ROWS CMD  / ssm_tmux_keys NAME KEYS... / ssm_tmux_text NAME
#   ssm_tmux_wait NAME SECONDS PATTERN (grep -E on the pane) / ssm_tmux_gone NAME SECONDS
#   ssm_done                         # exit 0 if every check passed, else 1
#
# Nothing here touches the host outside the namespaces except the temporary directory
# (removed at the end).

SSM_PASS=0
SSM_FAIL=0

ssm_log() { printf '%s\n' "$*"; }

ssm_require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root"
		exit 77
	fi
	for t in unshare setpriv mount; do
		command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
	done
}

# Re-executes "$0" (with its arguments) inside new mount and pid namespaces.  In the
# copy, $T is a fresh tmpfs (mode 0755, suid allowed) and SSM_IN_NS=1.
ssm_enter_ns() {
	if [ "${SSM_IN_NS:-}" = 1 ]; then
		mount -t tmpfs -o mode=0755,suid,exec,size=512m ssmtest "$T" || {
			echo "FAIL: cannot mount a tmpfs on $T"; exit 1; }
		return 0
	fi
	T=$(mktemp -d /tmp/ssmtest.XXXXXX) || exit 1
	chmod 0755 "$T"
	rc=0
	SSM_IN_NS=1 T=$T unshare --mount --propagation private --pid --fork --mount-proc \
		sh "$0" "$@" || rc=$?
	rmdir "$T" 2>/dev/null || rm -rf "$T"
	exit $rc
}

# Overlay each directory (default /etc) so that changes stay in this namespace.
ssm_private_etc() {
	[ $# -gt 0 ] || set -- /etc
	for d in "$@"; do
		[ -d "$d" ] || mkdir -p "$d" 2>/dev/null || continue
		n=$(echo "$d" | tr / _)
		mkdir -p "$T/.ov$n/up" "$T/.ov$n/work"
		mount -t overlay overlay -o "lowerdir=$d,upperdir=$T/.ov$n/up,workdir=$T/.ov$n/work" \
			"$d" || { echo "FAIL: cannot overlay $d"; exit 1; }
	done
}

# ssm_add_user NAME UID [SHELL]: user and its own group (gid = uid), home $T/home/NAME.
ssm_add_user() {
	_sh=${3:-/bin/bash}
	mkdir -p "$T/home/$1"
	echo "$1:x:$2:$2::$T/home/$1:$_sh" >>/etc/passwd
	echo "$1:x:$2:" >>/etc/group
	echo "$1:*:19000:0:99999:7:::" >>/etc/shadow
	chown "$2:$2" "$T/home/$1"
	chmod 0750 "$T/home/$1"
}

ssm_check() {
	_ssm_what=$1; shift
	if "$@"; then
		SSM_PASS=$((SSM_PASS + 1)); echo "PASS: $_ssm_what"
	else
		SSM_FAIL=$((SSM_FAIL + 1)); echo "FAIL: $_ssm_what"
	fi
}

ssm_check_not() {
	_ssm_what=$1; shift
	if "$@"; then
		SSM_FAIL=$((SSM_FAIL + 1)); echo "FAIL: $_ssm_what"
	else
		SSM_PASS=$((SSM_PASS + 1)); echo "PASS: $_ssm_what"
	fi
}

ssm_wait_for() {
	_t=$1; shift
	_end=$(( $(date +%s%N) / 1000000 + _t * 1000 ))
	while :; do
		"$@" && return 0
		[ $(( $(date +%s%N) / 1000000 )) -ge $_end ] && return 1
		sleep 0.05
	done
}

ssm_done() {
	echo "$(basename "$0"): $SSM_PASS passed, $SSM_FAIL failed"
	[ "$SSM_FAIL" = 0 ]
}

# ---- tmux: a real terminal driven as a user would ------------------------------------
SSM_TMUX() { tmux -S "$T/tmux.sock" -f /dev/null "$@"; }

ssm_tmux_start() { # NAME COLS ROWS CMD
	SSM_TMUX new-session -d -s "$1" -x "$2" -y "$3" "$4"
	SSM_TMUX set-option -t "$1" remain-on-exit on >/dev/null 2>&1 || true
}
ssm_tmux_keys() { _n=$1; shift; SSM_TMUX send-keys -t "$_n" "$@"; }
ssm_tmux_text() { SSM_TMUX capture-pane -p -J -S -200 -t "$1" 2>/dev/null; }
ssm_tmux_wait() { # NAME SECONDS ERE
	ssm_wait_for "$2" sh -c 'tmux -S "$1" capture-pane -p -J -S -200 -t "$2" 2>/dev/null |
		grep -Eq -- "$3"' sh "$T/tmux.sock" "$1" "$3"
}
ssm_tmux_dead() { [ "$(SSM_TMUX display-message -p -t "$1" '#{pane_dead}' 2>/dev/null)" = 1 ]; }
ssm_tmux_gone() { ssm_wait_for "$2" ssm_tmux_dead "$1"; }
ssm_tmux_kill() { SSM_TMUX kill-session -t "$1" >/dev/null 2>&1 || true; }
# print the pane (for the log) when checks failed since the count given
ssm_tmux_dump_if() { # NAME FAILCOUNT-BEFORE
	[ "$SSM_FAIL" -gt "$2" ] || return 0
	echo "--- pane $1:"; ssm_tmux_text "$1" | sed 's/^/| /' | tail -40
}
