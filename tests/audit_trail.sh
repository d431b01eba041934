#!/bin/sh
# audit_trail.sh - the host audit trail beyond audit.jsonl (root only; issue 9 point 5):
#   J. every event also reaches the journal's native socket with its structured fields
#      (a private /run whose /run/systemd/journal/socket is a listener of this script; and a
#      real systemd-journald in that /run when it starts here);
#   K. events carry the kernel audit session id and login uid: session_start, written after
#      pam_loginuid in the session stack, has the session process's own /proc/self/sessionid
#      and the user's uid; auth's events, before pam_loginuid, have what was there (unset:
#      null); an ausearch join when auditd runs (it does not in a test namespace: skipped);
#   L. ssm-shell's refusals before a configuration is in hand (configuration error, bad
#      arguments) are audited in the compiled-in log_dir.
# Isolation: private mount namespace (pam_common.sh): private /etc/passwd, group, shadow and
# /etc/pam.d, private /dev/log, a private overlay over the compiled-in log_dir, tmpfs /run.
set -u
. "${srcdir:-$(dirname "$0")/..}/tests/pam_common.sh"
pam_need_root pamtester unshare mount logger
need_python_jwt
[ -f "$MODULE" ] || { echo "FAIL: module not built: $MODULE"; exit 1; }
pam_enter_ns "$@"
pam_scratch audit

cp /etc/passwd /etc/group /etc/shadow "$tmp/"
echo "ssmtest1:x:64001:64001:ssm test:/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
echo "ssmtest1:x:64001:" >>"$tmp/group"
echo "ssmtest1:!:19000:0:99999:7:::" >>"$tmp/shadow"
for f in passwd group shadow; do mount --bind "$tmp/$f" "/etc/$f" || exit 1; done
setup_host "$tmp/host" '["ssmtest1"]'
AUDIT=$tmp/host/log/audit.jsonl
mkdir "$tmp/pam.d"
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
	>"$tmp/pam.d/other"
printf 'auth required %s config=%s\naccount required %s config=%s\nsession required %s config=%s\n' \
	"$MODULE" "$CONF" "$MODULE" "$CONF" "$MODULE" "$CONF" >"$tmp/pam.d/ssma"
printf 'auth required %s config=%s\naccount required %s config=%s\nsession required pam_loginuid.so\nsession required %s config=%s\n' \
	"$MODULE" "$CONF" "$MODULE" "$CONF" "$MODULE" "$CONF" >"$tmp/pam.d/ssma_luid"
printf 'auth required %s config=%s\n' "$MODULE" "$tmp/host/absent.json" >"$tmp/pam.d/ssma_noconf"
mount --bind "$tmp/pam.d" /etc/pam.d || exit 1
pam_private_devlog "$tmp"
SAN=
if readelf -d "$MODULE" 2>/dev/null | grep -q 'libasan'; then
	SAN="env LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0"
fi
pt() { # SERVICE USER TOKEN OPS...
	_s=$1 _u=$2 _t=$3
	shift 3
	out=$(printf '%s\n' "$_t" | $SAN pamtester -v "$_s" "$_u" "$@" 2>&1)
	rc=$?
}

###########################################################################################
echo "---- J. the journal (native protocol on /run/systemd/journal/socket)"
mount -t tmpfs -o mode=755 ssm-run /run || exit 1
mkdir -p /run/systemd/journal
JOURNAL=$tmp/journal.txt
: >"$JOURNAL"
# the listener: each datagram (or a memfd passed with SCM_RIGHTS) parsed as the native
# protocol, printed as one JSON object a line
"$PY" - /run/systemd/journal/socket "$JOURNAL" <<'PYEOF' &
import array, json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
out = open(sys.argv[2], "a")
def parse(b):
    f, i = {}, 0
    while i < len(b):
        nl = b.index(b"\n", i)
        line = b[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            n = struct.unpack("<Q", b[nl + 1:nl + 9])[0]
            v = b[nl + 9:nl + 9 + n]
            assert b[nl + 9 + n:nl + 10 + n] == b"\n"
            i = nl + 10 + n
        f[k.decode()] = v.decode()
    return f
while True:
    data, anc, flags, addr = s.recvmsg(1 << 20, socket.CMSG_SPACE(4))
    for lvl, typ, cd in anc:
        if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fd = array.array("i", cd[:4])[0]
            data = os.pread(fd, 1 << 24, 0)
            os.close(fd)
    try:
        out.write(json.dumps(parse(data)) + "\n")
    except Exception as e:
        out.write(json.dumps({"PARSE_ERROR": repr(e)}) + "\n")
    out.flush()
PYEOF
jpid=$!
i=0
while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
tok=$(mint ssmtest1)
pt ssma ssmtest1 "$tok" authenticate acct_mgmt open_session close_session
expect "J0 a full login ($rc)" test "$rc" = 0
pt ssma ssmtest1 "$tok" authenticate
expect "J0 its replay refused ($rc)" test "$rc" != 0
pt ssma_noconf ssmtest1 "$(mint ssmtest1)" authenticate
sleep 0.3
# jcheck DESC EVENT PYTHON-ASSERTIONS: on the last journal entry of EVENT (e) and the last
# audit line of EVENT in FILE (a)
jcheck() {
	expect "$1" "$PY" -c '
import json, sys
ev, path = sys.argv[1], sys.argv[2]
es = [json.loads(l) for l in open(sys.argv[3])]
es = [e for e in es if e.get("SSM_EVENT") == ev]
assert es, "no journal entry for " + ev
e = es[-1]
a = [json.loads(l) for l in open(path) if json.loads(l)["event"] == ev][-1]
assert e["SSM_AUDIT_JSON"] == json.dumps(a, separators=(",", ":"), ensure_ascii=False), (e, a)
assert e["SYSLOG_IDENTIFIER"] == "ssmsession" and e["SYSLOG_FACILITY"] == "10", e
assert e["MESSAGE"].startswith("ssmsession " + ev), e
for k, v in a.items():
    if k == "ts" or v is None:
        assert "SSM_" + k.upper() not in e, (k, e)
        continue
    want = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    assert e["SSM_" + k.upper()] == want, (k, e)
' "$2" "$3" "$JOURNAL" || { echo "  journal: $(grep -c . "$JOURNAL") entries; last:"; tail -n 1 "$JOURNAL"; }
	expect "$1: $4" "$PY" -c "
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l).get('SSM_EVENT') == sys.argv[2]][-1]
assert $4, e
" "$JOURNAL" "$2"
}
jcheck "J1 session_start: every member as SSM_<NAME>, the line as SSM_AUDIT_JSON" session_start "$AUDIT" \
	"e['PRIORITY'] == '6' and e['MESSAGE_ID'] == '86eafb3d17d2444a9cd91e4595c606fa' and e['SSM_RUN_AS'] == 'ssmtest1' and e['SSM_DOC'] == 'SSM-SessionManagerRunShell' and e['SSM_SUB'] == 'alice' and e['SSM_HOST_ID'] == '$HOST_ID' and e['SSM_SID'].startswith('alice-')"
jcheck "J2 session_end (close_session)" session_end "$AUDIT" \
	"e['MESSAGE_ID'] == 'd18d8096fde74abea5e1a5bcb76b500f' and e['SSM_REASON'] == 'exit'"
expect "J3 the replay's login_denied: reason, sid, notice priority, its MESSAGE_ID" "$PY" -c '
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
e = [e for e in es if e.get("SSM_EVENT") == "login_denied" and e.get("SSM_REASON") == "replay"][-1]
assert e["PRIORITY"] == "5" and e["MESSAGE_ID"] == "55cb0813d2474268a5f4d48914dfd345", e
assert e["SSM_SID"].startswith("alice-") and e["SSM_USER"] == "ssmtest1" and "reason=replay" in e["MESSAGE"], e
' "$JOURNAL"
expect "J4 a configuration error reaches the journal too (config_error, no SSM_HOST_ID)" "$PY" -c '
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
e = [e for e in es if e.get("SSM_REASON") == "config_error"][-1]
assert "SSM_HOST_ID" not in e and "absent.json" in e["SSM_DETAIL"], e
' "$JOURNAL"
expect "J4 and the compiled-in log_dir ($DEFLOG) has it" sh -c \
	"tail -n 1 '$DEFAUDIT' | grep '\"reason\":\"config_error\"' | grep -q absent.json"
expect "J5 no entry the listener could not parse" sh -c "! grep -q PARSE_ERROR '$JOURNAL'"
kill "$jpid" 2>/dev/null
wait "$jpid" 2>/dev/null
rm -f /run/systemd/journal/socket
pt ssma ssmtest1 "$(mint ssmtest1)" authenticate acct_mgmt
expect "J6 no journal socket: the login is not affected ($rc)" test "$rc" = 0

# a real journald, if it runs here (it needs no systemd: it binds its own sockets)
JD=/lib/systemd/systemd-journald
if [ -x "$JD" ] && command -v journalctl >/dev/null 2>&1; then
	mkdir -p /run/systemd/journal /run/log/journal
	# never the host's persistent journal: a private tmpfs over it in this namespace
	[ -d /var/log/journal ] && { mount -t tmpfs -o mode=755 ssm-journal /var/log/journal || exit 1; }
	SYSTEMD_LOG_TARGET=console "$JD" >"$tmp/journald.log" 2>&1 &
	jdpid=$!
	i=0
	while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if [ -S /run/systemd/journal/socket ] && kill -0 "$jdpid" 2>/dev/null; then
		tok=$(mint ssmtest1)
		pt ssma ssmtest1 "$tok" authenticate acct_mgmt open_session close_session
		sid=$(tail -n 1 "$AUDIT" | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["sid"])')
		jfind() { journalctl -D /run/log/journal -o json "SSM_SID=$sid" MESSAGE_ID=86eafb3d17d2444a9cd91e4595c606fa 2>/dev/null | grep -q '"SSM_EVENT":"session_start"'; }
		i=0
		while ! jfind && [ $i -lt 30 ]; do sleep 0.2; i=$((i + 1)); done
		expect "J7 systemd-journald: journalctl SSM_SID=$sid MESSAGE_ID=<session_start> finds it" jfind
	else
		echo "SKIP: J7 systemd-journald does not start here: $(tail -n 2 "$tmp/journald.log" | tr '\n' ' ')"
	fi
	kill "$jdpid" 2>/dev/null
	wait "$jdpid" 2>/dev/null
else
	echo "SKIP: J7 no systemd-journald/journalctl installed"
fi

###########################################################################################
echo "---- K. audit session id and login uid"
if ! sh -c 'echo 0 >/proc/self/loginuid' 2>/dev/null; then
	echo "SKIP: K /proc/self/loginuid is not writable here (no CAP_AUDIT_CONTROL, or loginuid immutable)"
else
	# a PAM client that opens the session and reports its own ids afterwards
	cat >"$tmp/luid.py" <<'PYEOF'
import ctypes, sys
from ctypes import CFUNCTYPE, POINTER, Structure, c_char_p, c_int, c_void_p, cast, sizeof
pam = ctypes.CDLL("libpam.so.0")
libc = ctypes.CDLL(None)
libc.calloc.restype = c_void_p
libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
libc.strdup.restype = c_void_p
libc.strdup.argtypes = [c_char_p]
class Msg(Structure):
    _fields_ = [("msg_style", c_int), ("msg", c_char_p)]
class Resp(Structure):
    _fields_ = [("resp", c_void_p), ("resp_retcode", c_int)]
CONV = CFUNCTYPE(c_int, c_int, POINTER(POINTER(Msg)), POINTER(POINTER(Resp)), c_void_p)
class Conv(Structure):
    _fields_ = [("conv", CONV), ("appdata_ptr", c_void_p)]
token = sys.argv[3].encode()
def conv(n, msgs, presp, appdata):
    resp = cast(libc.calloc(n, sizeof(Resp)), POINTER(Resp))
    for i in range(n):
        if msgs[i].contents.msg_style in (1, 2):
            resp[i].resp = libc.strdup(token)
    presp[0] = resp
    return 0
cb = CONV(conv)
c = Conv(cb, None)
h = c_void_p()
pam.pam_start.argtypes = [c_char_p, c_char_p, POINTER(Conv), POINTER(c_void_p)]
for f in ("pam_authenticate", "pam_acct_mgmt", "pam_open_session", "pam_close_session"):
    getattr(pam, f).argtypes = [c_void_p, c_int]
assert pam.pam_start(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(c), ctypes.byref(h)) == 0
before = open("/proc/self/sessionid").read().strip()
for f in ("pam_authenticate", "pam_acct_mgmt", "pam_open_session"):
    r = getattr(pam, f)(h, 0)
    if r:
        print("%s: %d" % (f, r))
        sys.exit(1)
print(before, open("/proc/self/sessionid").read().strip(), open("/proc/self/loginuid").read().strip())
sys.stdout.flush()
pam.pam_close_session(h, 0)
PYEOF
	# this process's loginuid unset again is not possible once set: run in a child that
	# starts from the namespace's state (whatever it is), and compare with what it reports
	ids=$($SAN "$PY" "$tmp/luid.py" ssma_luid ssmtest1 "$(mint ssmtest1)")
	echo "note: session process ids (sessionid before, after, loginuid): $ids"
	set -- $ids
	expect "K1 pam_loginuid set the login uid of the session process to ssmtest1's ($3)" test "${3:-}" = 64001
	evk() { grep "\"event\":\"$1\"" "$AUDIT" | tail -n 1 | "$PY" -c "import json,sys; o=json.loads(sys.stdin.read()); print(o['audit_session'], o['loginuid'])"; }
	expect "K2 session_start carries the session process's audit session and login uid ($(evk session_start))" \
		test "$(evk session_start)" = "$2 64001"
	expect "K3 session_end (close_session, same process) carries them too" \
		test "$(evk session_end)" = "$2 64001"
	expect "K4 the audit session is a set one (not 4294967295)" test "${2:-}" != 4294967295
	# auth's events came before pam_loginuid: a refusal in a fresh process carries what its
	# process had (this namespace's shell: unset is null, else its numbers)
	pt ssma ssmtest1 "garbage" authenticate
	mine=$(cat /proc/self/loginuid)
	expect "K5 a refusal in auth carries its process's loginuid ($mine; unset = null)" sh -c '
		l=$(grep "\"event\":\"login_denied\"" "$1" | tail -n 1)
		if [ "$2" = 4294967295 ]; then printf "%s" "$l" | grep -q "\"loginuid\":null"
		else printf "%s" "$l" | grep -q "\"loginuid\":$2,"; fi' _ "$AUDIT" "$mine"
	if command -v ausearch >/dev/null 2>&1 && auditctl -s 2>/dev/null | grep -q 'pid [1-9]'; then
		expect "K6 ausearch --session $2 finds the login's kernel records" ausearch --session "$2"
	else
		echo "SKIP: K6 ausearch join: no auditd running here (auditd/ausearch absent or not in this namespace)"
	fi
fi

###########################################################################################
echo "---- L. ssm-shell: refusals before a configuration is in hand"
SHELL_BUILT=$builddir/ssm-shell/ssm-shell
if [ -x "$SHELL_BUILT" ]; then
	n0=$(grep -c login_denied "$DEFAUDIT" 2>/dev/null || echo 0)
	"$SHELL_BUILT" --config "$tmp/host/absent.json" >/dev/null 2>&1
	rc=$?
	expect "L1 ssm-shell with a configuration it cannot load: refused ($rc)" test "$rc" = 1
	expect "L1 audited as config_error by ssm-shell in the compiled-in log_dir, host_id null" "$PY" -c '
import json, sys
o = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert o["event"] == "login_denied" and o["reason"] == "config_error" and o["program"] == "ssm-shell", o
assert o["host_id"] is None and o["user"] == "root" and "absent.json" in o["detail"], o
' "$DEFAUDIT"
	"$SHELL_BUILT" --config "$CONF" --no-such-argument >/dev/null 2>&1
	rc=$?
	expect "L2 ssm-shell with unsupported arguments: usage ($rc)" test "$rc" = 2
	expect "L2 audited as usage in the configuration's log_dir, with its host_id" sh -c \
		"tail -n 1 '$AUDIT' | grep '\"reason\":\"usage\"' | grep '\"program\":\"ssm-shell\"' | grep -q '\"host_id\":\"$HOST_ID\"'"
else
	echo "SKIP: L ssm-shell not built"
fi

echo "---- every audit line is one JSON object with audit_session and loginuid"
expect "every line of both audit logs has audit_session and loginuid (number or null)" "$PY" -c '
import json, sys
for p in sys.argv[1:]:
    for l in open(p):
        o = json.loads(l)
        for k in ("audit_session", "loginuid"):
            assert k in o and (o[k] is None or isinstance(o[k], int)), (k, l)
' "$AUDIT" "$DEFAUDIT"
finish audit_trail
