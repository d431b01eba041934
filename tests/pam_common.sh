# pam_common.sh - sourced by tests/pam_pamtester.sh and tests/ssmctl_*.sh.
# Run from the build directory (automake's harness does so and exports $srcdir).
# shellcheck shell=sh

if [ -z "${srcdir:-}" ]; then
	srcdir=$(cd "$(dirname "$0")/.." && pwd)
fi
top_srcdir=$(cd "$srcdir" && pwd)
builddir=${SSM_BUILDDIR:-$(pwd)}
# Debian's python3 (the one with python3-jwt), not a pyenv shim earlier in PATH
PY=${SSM_PYTHON:-/usr/bin/python3}
SSMTOKEN="$PY $top_srcdir/broker/ssmtoken.py"
SSMCTL=$builddir/ssmctl/ssmctl
MODULE=$builddir/pam_ssmsession/.libs/pam_ssmsession.so
HOST_ID=i-0123456789abcdef0
ISSUER=https://broker.test
failures=0
checks=0

ok() {
	checks=$((checks + 1))
	echo "ok: $*"
}
fail() {
	checks=$((checks + 1))
	failures=$((failures + 1))
	echo "FAIL: $*"
}
# expect DESC CONDITION-COMMAND...: runs the command, ok if it succeeds
expect() {
	d=$1
	shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}
finish() {
	echo "$1: $((checks - failures)) passed, $failures failed"
	[ "$failures" = 0 ]
}

need_python_jwt() {
	if ! "$PY" -c 'import jwt, cryptography' 2>/dev/null; then
		echo "SKIP: $PY lacks python3-jwt/python3-cryptography"
		exit 77
	fi
}

# setup_host DIR RUN_AS_ALLOWED_JSON: keys, documents, config under DIR (all mode 0644/0755,
# owned by the caller).  Sets CONF, KEY, DOC.
setup_host() {
	h=$1
	mkdir -p "$h/docs" "$h/state" "$h/run" "$h/log"
	chmod 755 "$h" "$h/docs"
	$SSMTOKEN keygen --alg EdDSA --kid k1 --out-private "$h/k1.pem" --out-jwks "$h/jwks.json"
	$SSMTOKEN keygen --alg ES256 --kid k2 --out-private "$h/k2.pem" --out-jwks "$h/jwks.json"
	# a key the host does not trust
	$SSMTOKEN keygen --alg EdDSA --kid k1 --out-private "$h/evil.pem" --out-jwks "$h/evil.json"
	chmod 644 "$h/jwks.json"
	cat >"$h/docs/SSM-SessionManagerRunShell.json" <<'EOF'
{"schemaVersion": "1.0", "description": "shell", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "20"}}
EOF
	cat >"$h/docs/Restart-Service.json" <<'EOF'
{"schemaVersion": "1.0", "description": "restart one service", "sessionType": "NonInteractiveCommands",
 "parameters": {"svc": {"type": "String", "description": "unit", "allowedPattern": "^[a-z]+$"}},
 "properties": {"linux": {"commands": "systemctl restart {{ svc }}"}}}
EOF
	chmod 644 "$h"/docs/*.json
	CONF=$h/ssmsession.json
	cat >"$CONF" <<EOF
{"host_id": "$HOST_ID", "issuer": "$ISSUER", "trusted_keys": "$h/jwks.json",
 "documents_dir": "$h/docs", "allowed_documents": ["SSM-*", "Restart-*"],
 "run_as_allowed": $2, "state_dir": "$h/state", "run_dir": "$h/run", "log_dir": "$h/log"}
EOF
	chmod 644 "$CONF"
	KEY=$h/k1.pem
	DOC=$h/docs/SSM-SessionManagerRunShell.json
}

# mint RUN_AS [extra ssmtoken mint args...]: a good token for the shell document
mint() {
	ra=$1
	shift
	$SSMTOKEN mint --key "$KEY" --kid k1 --iss "$ISSUER" --aud "$HOST_ID" --sub alice \
		--run-as "$ra" --doc-name SSM-SessionManagerRunShell --doc-file "$DOC" "$@"
}

# pam_need_root TOOL...: a root PAM test's prologue: skip (77) without root or a tool.
pam_need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root (mount namespace, private /etc/pam.d and users)"
		exit 77
	fi
	for _t in "$@"; do
		command -v "$_t" >/dev/null 2>&1 || { echo "SKIP: $_t not installed"; exit 77; }
	done
}

# pam_enter_ns ARGS...: run this script again (once) in a private mount namespace, where
# it may bind-mount private copies over /etc files and /dev.
pam_enter_ns() {
	if [ -z "${SSM_PAM_IN_NS:-}" ]; then
		SSM_PAM_IN_NS=1 SSM_BUILDDIR=$builddir srcdir=$top_srcdir \
			exec unshare --mount --propagation private -- /bin/sh "$0" "$@"
	fi
}

# pam_private_devlog DIR: /dev becomes a private tmpfs (DIR/dev: null, zero, full, random,
# urandom and tty bind-mounted from the real /dev) whose /dev/log is a datagram socket that
# a listener copies into $SYSLOG (default DIR/syslog.txt), one message a line, so that the
# module's syslog lines can be checked.  Sets logger_pid; the caller's cleanup kills it and
# unmounts /dev and DIR/dev.
pam_private_devlog() {
	SYSLOG=${SYSLOG:-$1/syslog.txt}
	mkdir "$1/dev"
	mount -t tmpfs -o mode=755 ssm-dev "$1/dev" || exit 1
	for _n in null zero full random urandom tty; do
		touch "$1/dev/$_n" && mount --bind "/dev/$_n" "$1/dev/$_n"
	done
	mkdir "$1/dev/pts" "$1/dev/shm"
	ln -s /proc/self/fd "$1/dev/fd"
	"$PY" - "$1/dev/log" "$SYSLOG" <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
f = open(sys.argv[2], "ab", buffering=0)
while True:
    f.write(s.recv(65536).replace(b"\n", b" ") + b"\n")
PYEOF
	logger_pid=$!
	_i=0
	while [ ! -S "$1/dev/log" ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	mount --rbind "$1/dev" /dev || exit 1
	: >"$SYSLOG"
}

# pam_scratch TAG: $tmp, a fresh 0755 directory /tmp/ssm-TAG.XXXXXX, removed at exit together
# with what pam_private_devlog set up (its listener killed, /dev unmounted).
pam_scratch() {
	tmp=$(mktemp -d "/tmp/ssm-$1.XXXXXX") || exit 1
	logger_pid=
	trap pam_scratch_cleanup EXIT
	chmod 755 "$tmp"
	pam_private_default_log_dir
}

# pam_private_default_log_dir: a refusal whose configuration cannot be loaded is audited in
# the compiled-in log_dir (config_error); in this namespace that directory's nearest existing
# ancestor gets a private overlay, so that no test writes to the host's.  Sets DEFLOG (the
# compiled-in log_dir) and DEFAUDIT (its audit.jsonl).  Only inside pam_enter_ns.
pam_private_default_log_dir() {
	DEFLOG=$(strings "$MODULE" 2>/dev/null | grep -m1 '^/.*/log/ssmsession$')
	[ -n "$DEFLOG" ] || { echo "FAIL: no compiled-in log_dir in $MODULE"; exit 1; }
	DEFAUDIT=$DEFLOG/audit.jsonl
	[ -n "${SSM_PAM_IN_NS:-}" ] || return 0
	_e=$DEFLOG
	while [ ! -d "$_e" ]; do _e=$(dirname "$_e"); done
	[ "$_e" != / ] || { echo "FAIL: $DEFLOG: no ancestor to overlay but /"; exit 1; }
	mkdir "$tmp/.deflog"
	mount -t tmpfs -o mode=700 ssm-deflog "$tmp/.deflog" || exit 1
	mkdir "$tmp/.deflog/up" "$tmp/.deflog/work"
	mount -t overlay overlay -o "lowerdir=$_e,upperdir=$tmp/.deflog/up,workdir=$tmp/.deflog/work" \
		"$_e" || { echo "FAIL: cannot overlay $_e"; exit 1; }
	mkdir -p "$DEFLOG"
	chmod 750 "$DEFLOG"
}
pam_scratch_cleanup() {
	[ -n "$logger_pid" ] && kill "$logger_pid" 2>/dev/null
	[ -n "${_e:-}" ] && umount -l "$_e" 2>/dev/null
	umount -l "$tmp/.deflog" 2>/dev/null
	umount -l /dev 2>/dev/null
	umount -l "$tmp/dev" 2>/dev/null
	rm -rf "$tmp"
}
