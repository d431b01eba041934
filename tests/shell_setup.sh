# shell_setup.sh - sourced by tests/shell_*.sh: a private host for ssm-shell.
#
# In private mount+pid namespaces (tests/lib.sh): /etc overlaid, throwaway users
#   ssmtu (61001) and ssmtu2 (61002), the session users, and ssmsession (61000), the
#   recorder; a setuid-root copy of ssm-shell in $T/bin; the configuration at ssm-shell's
#   default path; documents in $T/docs; run_dir $T/run; log_dir $T/log.
# ssm_login USER DOC [PARAMS_JSON|-] -- [ssm-shell args...]
#   writes a session record for this very process (the "PAM session process") and runs
#   ssm-shell as USER under it; REC_RUN_AS, REC_EXP, REC_CHOWN change the record.
# shellcheck shell=sh

if [ -z "${srcdir:-}" ]; then
	srcdir=$(cd "$(dirname "$0")/.." && pwd)
fi
. "$srcdir/tests/lib.sh"
builddir=${SSM_BUILDDIR:-$(pwd)}
SHELL_BUILT=$builddir/ssm-shell/ssm-shell
MKRECORD_BUILT=$builddir/tests/mkrecord
HOST_ID=i-0123456789abcdef0

ssm_require_root
for t in "$SHELL_BUILT" "$MKRECORD_BUILT"; do
	[ -x "$t" ] || { echo "SKIP: $t not built"; exit 77; }
done
command -v tmux >/dev/null || { echo "SKIP: tmux missing"; exit 77; }
ssm_enter_ns "$@"

set -u
CONF_PATH=$("$SHELL_BUILT" --help | sed -n 's/^configuration: //p')
[ -n "$CONF_PATH" ] || { echo "FAIL: ssm-shell --help gave no configuration path"; exit 1; }
CONF_DIR=$(dirname "$CONF_PATH")
ssm_private_etc /etc
case $CONF_DIR in
/etc/*) ;;
*) mkdir -p "$(dirname "$CONF_DIR")" 2>/dev/null; ssm_private_etc "$(dirname "$CONF_DIR")" ;;
esac
mkdir -p "$CONF_DIR"

ssm_add_user ssmsession 61000 /usr/sbin/nologin
ssm_add_user ssmtu 61001 /bin/bash
ssm_add_user ssmtu2 61002 /bin/bash
# a quiet, predictable prompt for the tests
for u in ssmtu ssmtu2; do
	printf 'PS1="%s\\$ "\n' "$u" >"$T/home/$u/.bashrc"
	printf '. ~/.bashrc\n' >"$T/home/$u/.bash_profile"
	chown "$u:$u" "$T/home/$u/.bashrc" "$T/home/$u/.bash_profile"
done

mkdir -p "$T/bin" "$T/docs" "$T/run" "$T/log"
chmod 0755 "$T/bin" "$T/docs"
cp "$SHELL_BUILT" "$T/bin/ssm-shell"
cp "$MKRECORD_BUILT" "$T/bin/mkrecord"
chown root:root "$T/bin/ssm-shell"
chmod 4755 "$T/bin/ssm-shell"
SSM_SHELL=$T/bin/ssm-shell
echo '{"keys": []}' >"$CONF_DIR/jwks.json"

# write_config [extra JSON members, with a leading comma]
write_config() {
	cat >"$CONF_PATH" <<EOF
{"host_id": "$HOST_ID", "issuer": "https://broker.test",
 "trusted_keys": "$CONF_DIR/jwks.json", "documents_dir": "$T/docs",
 "run_as_allowed": ["ssmtu", "ssmtu2"], "run_dir": "$T/run", "log_dir": "$T/log",
 "state_dir": "$T/state", "recorder_user": "${RECORDER_USER:-ssmsession}" ${1:-}}
EOF
	chmod 0644 "$CONF_PATH"
}
write_config

# mkdoc NAME JSON
mkdoc() {
	printf '%s\n' "$2" >"$T/docs/$1.json"
	chmod 0644 "$T/docs/$1.json"
}

# the login wrapper: this process is the "PAM session process" the record names
cat >"$T/bin/login" <<EOF
#!/bin/sh
u=\$1; doc=\$2; params=\$3; shift 3; [ "\$1" = -- ] && shift
sha=\$(sha256sum "$T/docs/\$doc.json" | cut -d' ' -f1)
[ "\$params" = - ] && params=
sid=\$("$T/bin/mkrecord" "$T/run" \$\$ "$HOST_ID" "\${REC_SUB:-alice}" "\${REC_RUN_AS:-\$u}" "\$doc" "\$sha" \\
	"\${REC_EXP:-120}" \${params:+"\$params"}) || exit 99
echo "\$sid" >"$T/sid"
if [ -n "\${REC_CHOWN:-}" ]; then
	chown "\$REC_CHOWN" "$T/run/sessions/\$\$-"*.json
fi
setpriv --reuid="\$u" --regid="\$u" --init-groups "$SSM_SHELL" "\$@"
rc=\$?
echo "\$rc" >"$T/rc"
exit \$rc
EOF
chmod 0755 "$T/bin/login"

# bounded: a hung session fails the test instead of hanging it
ssm_login() { timeout -k 5 60 "$T/bin/login" "$@"; }

# audit helpers
audit_last() { # EVENT: the last such line of the audit log
	grep "\"event\":\"$1\"" "$T/log/audit.jsonl" 2>/dev/null | tail -1
}
audit_count() { grep -c "\"event\":\"$1\"" "$T/log/audit.jsonl" 2>/dev/null || true; }
jfield() { # JSON-LINE KEY
	printf '%s' "$1" | python3 -c 'import json,sys; v=json.loads(sys.stdin.read()).get(sys.argv[1]); print("null" if v is None else v)' "$2"
}
sid_last() { cat "$T/sid"; }
cast_of() { echo "$T/log/sessions/$1.cast"; }

# tmux session running a login; the pane stays after it ends (remain-on-exit)
tmux_login() { # NAME COLS ROWS USER DOC [PARAMS] -- args
	_n=$1; _c=$2; _r=$3; shift 3
	_cmd="TERM=xterm LANG=C.UTF-8 $T/bin/login"
	for a in "$@"; do
		_cmd="$_cmd '$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'"
	done
	ssm_tmux_start "$_n" "$_c" "$_r" "$_cmd"
}

recorder_pid() { # the live recorder of the last sid
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' \
		"$T/run/live/$(sid_last).json" 2>/dev/null
}
