#!/bin/sh
# pam_pamtester.sh - the module under the REAL libpam, driven by pamtester (root only).
#
# Isolation: a private mount namespace in which /etc/pam.d, /etc/passwd, /etc/group and
# /etc/shadow are private copies (throwaway users ssmtest1/ssmtest2 exist only there) and
# /dev is a private tmpfs whose /dev/log is a socket this script listens on, so the
# module's syslog lines are checked for real.  The host's files are never touched.
#
# Checks: a full login (authenticate acct_mgmt open_session close_session) succeeds; the
# refusal codes (bad token, foreign key, replay, run_as mismatch, run_as not allowed,
# account without auth, missing config, unknown option, group-writable keys); a replay
# race (two pamtesters, same token, started together: exactly one wins); the audit log
# and the syslog lines (and that no token signature appears in either).
set -u
. "${srcdir:-$(dirname "$0")/..}/tests/pam_common.sh"
pam_need_root pamtester unshare mount
need_python_jwt
[ -f "$MODULE" ] || { echo "FAIL: module not built: $MODULE"; exit 1; }
pam_enter_ns "$@"

pam_scratch pamtester

# ---- private users
cp /etc/passwd /etc/group /etc/shadow "$tmp/"
echo "ssmtest1:x:64001:64001:ssm test:/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
echo "ssmtest2:x:64002:64002:ssm test:/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
echo "ssmtest1:x:64001:" >>"$tmp/group"
echo "ssmtest2:x:64002:" >>"$tmp/group"
echo "ssmtest1:!:19000:0:99999:7:::" >>"$tmp/shadow"
echo "ssmtest2:!:19000:0:99999:7:::" >>"$tmp/shadow"
for f in passwd group shadow; do mount --bind "$tmp/$f" "/etc/$f" || exit 1; done

# ---- host: keys, documents, config; one config with group-writable keys
setup_host "$tmp/host" '["ssmtest1"]'
cp "$tmp/host/jwks.json" "$tmp/host/jwks-gw.json"
chmod 664 "$tmp/host/jwks-gw.json"
sed "s#$tmp/host/jwks.json#$tmp/host/jwks-gw.json#" "$CONF" >"$tmp/host/gw.json"
chmod 644 "$tmp/host/gw.json"
AUDIT=$tmp/host/log/audit.jsonl

# ---- private /etc/pam.d
mkdir "$tmp/pam.d"
svc() { # name auth-args
	printf 'auth required %s %s\naccount required %s config=%s\nsession required %s config=%s\n' \
		"$MODULE" "$2" "$MODULE" "$CONF" "$MODULE" "$CONF" >"$tmp/pam.d/$1"
}
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
	>"$tmp/pam.d/other"
svc ssmtest "config=$CONF"
svc ssmtest_noconf "config=$tmp/host/absent.json"
svc ssmtest_badopt "config=$CONF no_such_option"
svc ssmtest_gw "config=$tmp/host/gw.json"
svc ssmtest_ufp "config=$CONF use_first_pass"
mount --bind "$tmp/pam.d" /etc/pam.d || exit 1

# ---- private /dev with a /dev/log we read ($tmp/syslog.txt)
pam_private_devlog "$tmp"

# SSM_TEST_VERIFYD=1 (tests/pam_verifyd.sh): every check again with ssm-verifyd answering,
# as its own unprivileged user; it must answer the logins, and they must come out the same
VERIFYD=$builddir/verifyd/ssm-verifyd
verifyd_pid=
if [ -n "${SSM_TEST_VERIFYD:-}" ]; then
	echo "ssm-verifyd:x:64009:64009:verifier:/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
	echo "ssm-verifyd:x:64009:" >>"$tmp/group"
	"$VERIFYD" --config "$CONF" --debug 2>"$tmp/verifyd.log" &
	verifyd_pid=$!
	i=0
	while [ ! -S "$tmp/host/run/verifyd.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	expect "ssm-verifyd listening on run_dir/verifyd.sock" test -S "$tmp/host/run/verifyd.sock"
	expect "the socket is root's, mode 0600" test "$(stat -c '%u %a' "$tmp/host/run/verifyd.sock")" = "0 600"
	expect "ssm-verifyd runs as ssm-verifyd (uid 64009), not root" sh -c \
		"grep -q '^Uid:.64009.64009.64009.64009' /proc/$verifyd_pid/status"
	expect "ssm-verifyd is not dumpable (no ptrace by its own uid)" sh -c \
		"[ \"\$(stat -c %u /proc/$verifyd_pid/mem)\" = 0 ]"
fi

# a module built with ASan/UBSan needs the runtimes preloaded into pamtester
if readelf -d "$MODULE" 2>/dev/null | grep -q 'libasan'; then
	LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
	ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0
	export LD_PRELOAD ASAN_OPTIONS
	echo "note: sanitizer build, runtimes preloaded into pamtester"
fi

# pt SERVICE USER TOKEN OPS...: run pamtester, token on stdin; output in $out, status $rc
pt() {
	s=$1 u=$2 tk=$3
	shift 3
	out=$(printf '%s\n' "$tk" | pamtester -v "$s" "$u" "$@" 2>&1)
	rc=$?
}
# refused DESC EXPECTED-PAM-MESSAGE SERVICE USER TOKEN OPS...
refused() {
	d=$1 msg=$2
	shift 2
	pt "$@"
	if [ $rc != 0 ] && printf '%s' "$out" | grep -q "$msg"; then
		ok "$d: refused with \"$msg\""
	else
		fail "$d: expected \"$msg\", got rc=$rc: $out"
	fi
}
audit_has() { grep -q "$1" "$AUDIT" 2>/dev/null; }
# the listener writes asynchronously: give a line up to 3 s to arrive
syslog_has() {
	n=0
	while ! grep -q "$1" "$tmp/syslog.txt"; do
		[ $n -ge 30 ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
}

# ---- success, full cycle
tok1=$(mint ssmtest1) || exit 1
sid1=$($PY -c 'import sys,json,base64;p=sys.argv[1].split(".")[1];print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["sid"])' "$tok1")
pt ssmtest ssmtest1 "$tok1" authenticate acct_mgmt open_session close_session
if [ $rc = 0 ]; then ok "full login with a good token"; else fail "full login: rc=$rc: $out"; fi
expect "prompted with 'Session token: '" sh -c 'printf "%s" "$1" | grep -q "Session token: "' _ "$out"
expect "session_start audited with the sid" grep -q "\"event\":\"session_start\".*$sid1\|$sid1.*\"event\":\"session_start\"" "$AUDIT"
expect "session_end audited with reason exit" sh -c "grep '$sid1' '$AUDIT' | grep 'session_end' | grep -q '\"reason\":\"exit\"'"
n=$(ls "$tmp/host/run/sessions" 2>/dev/null | wc -l)
expect "record removed at close (found $n)" test "$n" = 0
expect "jti recorded in the replay cache" sh -c "[ -n \"\$(ls '$tmp/host/state/replay' 2>/dev/null)\" ]"

# ---- open without close: the record stays, keyed by pamtester's pid
tok=$(mint ssmtest1)
pt ssmtest ssmtest1 "$tok" authenticate acct_mgmt open_session
rec=$(ls "$tmp/host/run/sessions"/*.json 2>/dev/null | head -1)
if [ $rc = 0 ] && [ -n "$rec" ] && grep -q '"run_as":"ssmtest1"\|"run_as": "ssmtest1"' "$rec"; then
	ok "open_session wrote the session record $(basename "$rec")"
else
	fail "open_session record: rc=$rc rec=$rec: $out"
fi
expect "record is root-owned and not group/other writable" sh -c \
	"[ \"\$(stat -c %u '$rec')\" = 0 ] && [ \$((0\$(stat -c %a '$rec') & 022)) = 0 ]"
expect "the record names the PAM service the login came through" \
	grep -q '"service": *"ssmtest"' "$rec"
if [ -x "$SSMCTL" ]; then
	lst=$("$SSMCTL" --config "$CONF" sessions list 2>&1)
	expect "ssmctl sessions lists the record" sh -c 'printf "%s" "$1" | grep -q "ssmtest1"' _ "$lst"
fi
rm -f "$tmp/host/run/sessions"/*.json

# ---- refusals
refused "garbage token" "Authentication failure" ssmtest ssmtest1 "not-a-token" authenticate
audit_has '"reason":"invalid_token"' && ok "garbage token audited as invalid_token" ||
	fail "no invalid_token event"
refused "token signed by an untrusted key" "Authentication failure" ssmtest ssmtest1 \
	"$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
refused "replay of the first token" "Authentication failure" ssmtest ssmtest1 "$tok1" authenticate
expect "replay audited with reason replay and the sid" sh -c \
	"grep '\"reason\":\"replay\"' '$AUDIT' | grep -q '$sid1'"
expect "replay logged to syslog" syslog_has "login refused for user ssmtest1: replay"
refused "run_as is not the PAM user" "Authentication failure" ssmtest ssmtest1 \
	"$(mint ssmtest2)" authenticate
refused "run_as not in run_as_allowed" "Permission denied" ssmtest ssmtest2 \
	"$(mint ssmtest2)" authenticate acct_mgmt
expect "account refusal audited" audit_has '"reason":"account"'
refused "expired token" "Authentication failure" ssmtest ssmtest1 \
	"$(mint ssmtest1 --now $(($(date +%s) - 4000)))" authenticate
refused "wrong audience" "Authentication failure" ssmtest ssmtest1 \
	"$(mint ssmtest1 --claims-json '{"aud":"i-ffffffffffffffff0"}')" authenticate
refused "alg none" "Authentication failure" ssmtest ssmtest1 \
	"$(mint ssmtest1 --header-json '{"alg":"none"}')" authenticate
# pamtester's conversation (misc_conv) cuts replies at PAM_MAX_RESP_SIZE, so the module
# sees a truncated token here; the >4096 check itself is in test_pamtest (pam_wrapper).
refused "token over 4096 bytes" "Authentication failure" ssmtest ssmtest1 \
	"$(mint ssmtest1 --claims-json "{\"pad\":\"$(head -c 4000 /dev/zero | tr '\0' a)\"}")" authenticate
refused "account without auth" "Permission denied" ssmtest ssmtest1 "" acct_mgmt
expect "account without auth audited" audit_has '"reason":"not_authenticated"'
refused "use_first_pass without PAM_AUTHTOK" "Authentication failure" ssmtest_ufp ssmtest1 \
	"$(mint ssmtest1)" authenticate
refused "group-writable trusted keys" "cannot retrieve authentication info" ssmtest_gw \
	ssmtest1 "$(mint ssmtest1)" authenticate
refused "unknown module option" "Error in service module\|Module is unknown" ssmtest_badopt \
	ssmtest1 "$(mint ssmtest1)" authenticate
expect "unknown option logged" syslog_has "no_such_option"

before=$(wc -l <"$tmp/syslog.txt")
refused "missing configuration" "cannot retrieve authentication info" ssmtest_noconf \
	ssmtest1 "$(mint ssmtest1)" authenticate
syslog_has "absent.json" || true
sleep 0.5 # any further line from that login would have arrived by now
after=$(wc -l <"$tmp/syslog.txt")
# every line logged during that login (libpam's own included), not only the module's
lines=$(sed -n "$((before + 1)),${after}p" "$tmp/syslog.txt")
if [ $((after - before)) = 1 ] && printf '%s' "$lines" | grep -q "pam_ssmsession(.*absent.json"; then
	ok "missing configuration: exactly one syslog line naming the file"
else
	fail "missing configuration: expected one syslog line, got $((after - before)): $lines"
fi

# ---- replay race: same token, two pamtesters started together, exactly one wins
for round in 1 2 3 4 5; do
	tok=$(mint ssmtest1)
	printf '%s\n' "$tok" >"$tmp/tok"
	pamtester ssmtest ssmtest1 authenticate <"$tmp/tok" >/dev/null 2>&1 &
	p1=$!
	pamtester ssmtest ssmtest1 authenticate <"$tmp/tok" >/dev/null 2>&1 &
	p2=$!
	wait $p1; r1=$?
	wait $p2; r2=$?
	if { [ $r1 = 0 ] && [ $r2 != 0 ]; } || { [ $r1 != 0 ] && [ $r2 = 0 ]; }; then
		ok "replay race round $round: exactly one of two logins won"
	else
		fail "replay race round $round: statuses $r1 and $r2"
	fi
done

# ---- ssmctl sees the used jti without consuming anything
if [ -x "$SSMCTL" ]; then
	err=$("$SSMCTL" --config "$CONF" token verify "$tok1" 2>&1 >/dev/null)
	expect "ssmctl token verify notes the used jti" sh -c 'printf "%s" "$1" | grep -q "already used"' _ "$err"
fi

# ---- ssmctl sessions terminate: a live recorder (here a sleep) registered for a sid
if [ -x "$SSMCTL" ]; then
	sleep 60 &
	sp=$!
	stt=$(sed 's/.*) //' "/proc/$sp/stat" | cut -d' ' -f20)
	mkdir -p "$tmp/host/run/live"
	chmod 755 "$tmp/host/run/live"
	printf '{"sid":"alice-00000000deadbeef","pid":%d,"starttime":%s,"run_as":"ssmtest1","started":%s}\n' \
		"$sp" "$stt" "$(date +%s)" >"$tmp/host/run/live/alice-00000000deadbeef.json"
	chmod 644 "$tmp/host/run/live/alice-00000000deadbeef.json"
	"$SSMCTL" --config "$CONF" sessions terminate alice-00000000deadbeef >/dev/null 2>&1
	expect "ssmctl sessions terminate: exit 0 for a live recorder" test $? = 0
	wait "$sp"
	expect "the recorder got SIGTERM" test $? = 143
	"$SSMCTL" --config "$CONF" sessions terminate alice-00000000deadbeef >/dev/null 2>&1
	expect "terminate again: exit 1, the recorder is gone" test $? = 1
	expect "terminate_requested audited" audit_has '"terminate_requested"'
fi

# ---- ssm-verifyd answered, and logins go on without it
if [ -n "$verifyd_pid" ]; then
	nv=$(grep -c 'verdict 0 valid' "$tmp/verifyd.log")
	nr=$(grep -c 'verdict -13 invalid_token' "$tmp/verifyd.log")
	expect "ssm-verifyd gave the valid verdicts ($nv) and the refusals ($nr)" \
		test "$nv" -ge 5 -a "$nr" -ge 4
	expect "ssm-verifyd logged why it could not judge the group-writable keys" \
		grep -q 'cannot verify (trusted_keys)' "$tmp/verifyd.log"
	expect "a user other than root cannot ask ssm-verifyd" sh -c "! setpriv --reuid=64001 \
		--regid=64001 --clear-groups $PY -c 'import socket,sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])' \
		'$tmp/host/run/verifyd.sock' 2>/dev/null"
	# the daemon's verdicts are what the module uses: a copy of the module with no
	# ssm-verify.so beside it (and none installed) can only log in through the daemon
	mkdir -p "$tmp/modonly"
	cp "$MODULE" "$tmp/modonly/pam_ssmsession.so"
	printf 'auth required %s config=%s\naccount required %s config=%s\nsession required %s config=%s\n' \
		"$tmp/modonly/pam_ssmsession.so" "$CONF" "$tmp/modonly/pam_ssmsession.so" "$CONF" \
		"$tmp/modonly/pam_ssmsession.so" "$CONF" >"$tmp/pam.d/ssmtest_modonly"
	installed=
	for d in $(strings "$MODULE" | grep '^/.*/ssmsession$'); do
		[ -e "$d/ssm-verify.so" ] && installed=$d
	done
	if [ -z "$installed" ]; then
		pt ssmtest_modonly ssmtest1 "$(mint ssmtest1)" authenticate acct_mgmt open_session close_session
		expect "the module used ssm-verifyd's verdict (no in-process verifier to fall back on)" \
			test "$rc" = 0
		refused "and ssm-verifyd's refusal" "Authentication failure" ssmtest_modonly ssmtest1 \
			"$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
	fi
	# a daemon that sees other files (its own mount namespace: here another key file bind-
	# mounted over the path) must not decide: the module finds the files differ and judges
	# in-process, where the key the daemon trusts is unknown
	kill "$verifyd_pid"
	wait "$verifyd_pid"
	unshare --mount --propagation private sh -c '
		mount --bind "$1/host/evil.json" "$1/host/jwks.json" &&
		exec "$2" --config "$3" --debug' _ "$tmp" "$VERIFYD" "$CONF" 2>"$tmp/verifyd-ns.log" &
	nspid=$!
	i=0
	while ! grep -q answering "$tmp/verifyd-ns.log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	refused "a daemon seeing another key file: its \"valid\" not taken" "Authentication failure" \
		ssmtest ssmtest1 "$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
	expect "(that daemon did say valid)" grep -q 'verdict 0 valid' "$tmp/verifyd-ns.log"
	pt ssmtest ssmtest1 "$(mint ssmtest1)" authenticate
	expect "and its refusal of a token the host's keys accept not taken either" test "$rc" = 0
	kill "$nspid" 2>/dev/null
	wait "$nspid" 2>/dev/null
	"$VERIFYD" --config "$CONF" --debug 2>>"$tmp/verifyd.log" &
	verifyd_pid=$!
	i=0
	while ! "$PY" -c 'import socket,sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])' \
		"$tmp/host/run/verifyd.sock" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

	# the daemon keeps keys imported: a rotated key file must be seen at the next login
	cp "$tmp/host/jwks.json" "$tmp/host/jwks.saved"
	cp "$tmp/host/evil.json" "$tmp/host/jwks.json.new"
	chmod 644 "$tmp/host/jwks.json.new"
	mv "$tmp/host/jwks.json.new" "$tmp/host/jwks.json"
	pt ssmtest ssmtest1 "$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
	expect "key rotation seen by ssm-verifyd: the new key's token accepted" test "$rc" = 0
	refused "and the retired key's token refused" "Authentication failure" ssmtest ssmtest1 \
		"$(mint ssmtest1)" authenticate
	cp "$tmp/host/jwks.saved" "$tmp/host/jwks.json"
	pt ssmtest ssmtest1 "$(mint ssmtest1)" authenticate
	expect "key file rewritten in place: seen too" test "$rc" = 0
	kill "$verifyd_pid"
	wait "$verifyd_pid"
	expect "ssm-verifyd stops on SIGTERM" test $? = 0
	# The module trusts the socket only where only root can have put it.  A stand-in daemon
	# that forges "valid" (with the right file identities) for a token signed by a key the
	# host does not trust: taken from a root-owned socket in a trusted run_dir (what any
	# daemon there could do: the control), ignored when the socket is someone else's or
	# run_dir is group-writable (then the module verifies in-process and refuses).
	cat >"$tmp/forger.py" <<'PYEOF'
import base64, hashlib, json, os, socket, sys
path = sys.argv[1]
def fid(p):
    st = os.stat(p)
    t = lambda ns: "%d.%09d" % (ns // 10**9, ns % 10**9)
    return "%d:%d:%d:%s:%s" % (st.st_dev, st.st_ino, st.st_size, t(st.st_mtime_ns), t(st.st_ctime_ns))
def b64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
s.listen(8)
while True:
    c, _ = s.accept()
    magic, conf, user, tok = c.recv(20000).split(b"\0", 3)
    h, p, _sig = tok.decode().split(".")
    hdr, claims = json.loads(b64(h)), json.loads(b64(p))
    cfg = json.load(open(conf))
    ids = "%s;%s;%s" % (fid(conf.decode()), fid(cfg["trusted_keys"]),
                        fid("%s/%s.json" % (cfg["documents_dir"], claims["doc"]["name"])))
    key = hashlib.sha256(claims["jti"].encode()).hexdigest()
    c.send(b"\0".join([magic, b"0", b"", b"forged", key.encode(), hdr["kid"].encode(),
                       hdr["alg"].encode(), ids.encode(),
                       json.dumps(claims, separators=(",", ":")).encode()]))
    c.close()
PYEOF
	vsock=$tmp/host/run/verifyd.sock
	rm -f "$vsock"
	"$PY" "$tmp/forger.py" "$vsock" &
	forger=$!
	i=0
	while [ ! -S "$vsock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	pt ssmtest ssmtest1 "$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
	expect "(control) a forged verdict on root's socket in a trusted run_dir is taken" test "$rc" = 0
	chown 64001 "$vsock"
	refused "the same forger's socket owned by a user: ignored" "Authentication failure" \
		ssmtest ssmtest1 "$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
	chown 0 "$vsock"
	chmod 775 "$tmp/host/run"
	refused "root's socket in a group-writable run_dir: ignored" "Authentication failure" \
		ssmtest ssmtest1 "$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
	chmod 755 "$tmp/host/run"
	kill "$forger"
	wait "$forger" 2>/dev/null
	pt ssmtest ssmtest1 "$(mint ssmtest1)" authenticate acct_mgmt open_session close_session
	expect "with ssm-verifyd gone (stale socket) a login is verified in-process" test "$rc" = 0
	refused "and a bad token still refused" "Authentication failure" ssmtest ssmtest1 \
		"$(KEY=$tmp/host/evil.pem mint ssmtest1)" authenticate
fi

# ---- the audit log as a whole
expect "every audit line is JSON with ts, event, host_id" "$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert o["ts"].endswith("Z") and o["event"] and o["host_id"] == sys.argv[2], line
' "$AUDIT" "$HOST_ID"
sig=${tok1##*.}
expect "no token signature in the audit log" sh -c "! grep -q -- '$sig' '$AUDIT'"
expect "no token signature in syslog" sh -c "! grep -q -- '$sig' '$tmp/syslog.txt'"
expect "syslog lines come from pam_ssmsession" syslog_has "pam_ssmsession("

finish pam_pamtester
