#!/bin/sh
# ssmctl_admin.sh - `ssmctl --version`, `sudo enable --for` / `sudo expire` (a grant sudo
# itself stops honouring at its deadline, audited when given and when it lapses),
# `user ensure`, `config check` (a table of broken configurations), `sessions list` (root
# only; source, tty, idle) and the --json forms.  Root only: everything happens in a private
# mount namespace over a private copy of /etc (useradd renames files in it), a tmpfs /home
# and a tmpfs over the build's bindir (where ssm-shell is expected); throwaway users exist
# only there.  The host's users, sudoers and PAM are never touched.
set -u
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (mount namespace, private /etc)"
	exit 77
fi
for t in unshare mount visudo sudo useradd usermod setpriv script; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not installed"; exit 77; }
done
. "${srcdir:-$(dirname "$0")/..}/tests/pam_common.sh"
need_python_jwt
[ -x "$SSMCTL" ] || { echo "FAIL: ssmctl not built: $SSMCTL"; exit 1; }

if [ -z "${SSM_ADMIN_IN_NS:-}" ]; then
	SSM_ADMIN_IN_NS=1 SSM_BUILDDIR=$builddir srcdir=$top_srcdir \
		exec unshare --mount --propagation private -- /bin/sh "$0" "$@"
fi

tmp=$(mktemp -d /tmp/ssm-admin.XXXXXX)
trap 'cd /; rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
# private /etc (a copy: useradd and usermod replace files by rename), /home, bindir
cp -a /etc "$tmp/etc" || exit 1
mount --bind "$tmp/etc" /etc || exit 1
rm -f /etc/sudoers.d/ssm-agent-users
mount -t tmpfs -o mode=0755 tmpfs /home || exit 1
SHELL_PATH=$("$SSMCTL" --version | sed -n 's/^ssm-shell: //p')
BINDIR=$(dirname "$SHELL_PATH")
[ -d "$BINDIR" ] || { echo "SKIP: $BINDIR (the build's bindir) does not exist"; exit 77; }
mount -t tmpfs -o mode=0755 tmpfs "$BINDIR" || exit 1
cp "$builddir/ssm-shell/ssm-shell" "$SHELL_PATH" && chown root:root "$SHELL_PATH" &&
	chmod 4755 "$SHELL_PATH" || exit 1
grep -qx "$SHELL_PATH" /etc/shells || echo "$SHELL_PATH" >>/etc/shells
# throwaway users (private /etc): two for sudo, the recorder
for u in ssmadm1:64301 ssmadm2:64302 ssmrec:64303; do
	n=${u%%:*} id=${u#*:}
	echo "$n:x:$id:$id::/nonexistent:/bin/sh" >>/etc/passwd
	echo "$n:x:$id:" >>/etc/group
	echo "$n:*:19000:0:99999:7:::" >>/etc/shadow
done

setup_host "$tmp/host" '["ssm-user", "ssmadm1"]' >/dev/null 2>&1
# root's files, as the module requires
chown -R root:root "$tmp/host"
sed -i 's|"log_dir": "[^"]*"}|"log_dir": "'"$tmp"'/host/log", "recorder_user": "ssmrec"}|' "$CONF"
chmod 700 "$tmp/host/log"
AUDIT=$tmp/host/log/audit.jsonl
F=/etc/sudoers.d/ssm-agent-users
C="$SSMCTL --config $CONF"

st() { # EXPECTED DESC CMD...: stdout in $tmp/out, stderr in $tmp/err
	want=$1 d=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" = "$want" ]; then ok "$d (exit $got)"; else
		fail "$d: exit $got, expected $want: $(head -c 600 "$tmp/err") $(head -c 600 "$tmp/out")"; fi
}
# runs_sudo USER: USER itself runs `sudo -n true` (sudo's own verdict, password-less)
runs_sudo() { setpriv --reuid="$1" --regid="$1" --clear-groups sudo -n true 2>/dev/null; }
jget() { # FILE PYTHON-EXPRESSION-ON-j
	"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
events() { grep -c "\"event\":\"$1\"" "$AUDIT" 2>/dev/null || echo 0; }

# ------------------------------------------------------------------ --version
st 0 "--version" "$SSMCTL" --version
v=$(sed -n 's/^PACKAGE_VERSION = //p' "$builddir/Makefile")
expect "--version prints PACKAGE_VERSION ($v)" grep -qx "ssmctl (ssmsession) $v" "$tmp/out"

# ------------------------------------------------------------------ sudo enable --for
st 0 "a 2-second grant" $C sudo enable --for 2s --user ssmadm1
expect "the grant line carries NOTAFTER" \
	grep -Eq '^ssmadm1 ALL=\(ALL:ALL\) NOTAFTER=[0-9]{14}Z NOPASSWD:ALL$' "$F"
expect "visudo -c accepts it" visudo -c -q
expect "sudo grants it now (ssmadm1 runs sudo -n true)" runs_sudo ssmadm1
expect "sudo_granted audited" test "$(events sudo_granted)" = 1
expect "sudo_granted has user, until, seconds, by_uid" "$PY" -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if "sudo_granted" in l][-1]
assert e["user"] == "ssmadm1" and e["until"].endswith("Z") and e["seconds"] == 2, e
assert e["by_uid"] == 0 and e["host_id"], e
' "$AUDIT"
st 0 "status of a timed grant" "$SSMCTL" sudo status --user ssmadm1
expect "status: enabled, then the deadline and the time left" \
	sh -c "head -1 '$tmp/out' | grep -qx enabled && sed -n 2p '$tmp/out' | grep -Eq '^until .*Z \([0-9]+s left\)$'"
st 0 "status --json" "$SSMCTL" sudo status --json --user ssmadm1
expect "status --json: enabled, until, remaining_seconds <= 2" \
	test "$(jget "$tmp/out" 'j["enabled"] and j["until"].endswith("Z") and 0 <= j["remaining_seconds"] <= 2')" = True
until_s=$(sed -n 's/.*NOTAFTER=\([0-9]*\)Z.*/\1/p' "$F")
# wait on the clock (bounded): sudo must stop honouring the grant with nothing run
i=0
while [ $i -lt 15 ] && runs_sudo ssmadm1; do sleep 1; i=$((i + 1)); done
expect "after the deadline sudo no longer grants it, without ssmctl running (${i}s)" \
	sh -c "! setpriv --reuid=ssmadm1 --regid=ssmadm1 --clear-groups sudo -n true 2>/dev/null"
expect "the lapsed line is still in the file (nothing ran)" grep -q "NOTAFTER=${until_s}Z" "$F"
st 0 "status after the lapse" "$SSMCTL" sudo status --user ssmadm1
expect "status: disabled, the lapse named" \
	sh -c "head -1 '$tmp/out' | grep -qx disabled && grep -q '^lapsed at ' '$tmp/out'"
st 0 "sudo expire" $C sudo expire
expect "expire names the lapsed grant" grep -q "removed the grant of ssmadm1 that lapsed at" "$tmp/out"
expect "file removed (no grant left)" test ! -e "$F"
expect "sudo_lapsed audited once, with user and until" "$PY" -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if "sudo_lapsed" in l]
assert len(e) == 1 and e[0]["user"] == "ssmadm1" and e[0]["until"].endswith("Z"), e
' "$AUDIT"
st 0 "expire again: nothing to do" $C sudo expire
expect "says no lapsed grant" grep -qx "no lapsed grant" "$tmp/out"
expect "no second sudo_lapsed" test "$(events sudo_lapsed)" = 1

# expire keeps what has not lapsed: a permanent grant, a later deadline, other lines
st 0 "permanent grant for ssmadm1" $C sudo enable --user ssmadm1
st 0 "1-second grant for ssmadm2" $C sudo enable --for 1 --user ssmadm2
sleep 2
st 0 "expire with one lapsed grant among others" $C sudo expire
expect "the permanent grant stays" grep -qx 'ssmadm1 ALL=(ALL:ALL) NOPASSWD:ALL' "$F"
expect "the lapsed one is gone" sh -c "! grep -q '^ssmadm2 ' '$F'"
expect "visudo -c accepts the result" visudo -c -q
st 0 "--for replaces the user's permanent grant" $C sudo enable --for 1h --user ssmadm1
expect "one line for ssmadm1, timed" sh -c "test \$(grep -c '^ssmadm1 ' '$F') = 1 && grep -q '^ssmadm1 .*NOTAFTER=' '$F'"
st 0 "status of a 1-hour grant" "$SSMCTL" sudo status --user ssmadm1
expect "about an hour left" grep -Eq '^until .*\((59m[0-9]+s|1h0m0s) left\)$' "$tmp/out"
st 0 "enable without --for makes it permanent again" $C sudo enable --user ssmadm1
expect "permanent line back, no timed one" sh -c "grep -qx 'ssmadm1 ALL=(ALL:ALL) NOPASSWD:ALL' '$F' && ! grep -q NOTAFTER '$F'"
st 0 "disable" $C sudo disable --user ssmadm1
expect "sudo_revoked audited" test "$(events sudo_revoked)" = 1
for bad in 0 0s 31d 2592001 5x 1h30m -1 '' m; do
	st 2 "--for '$bad' refused" $C sudo enable --for "$bad" --user ssmadm1
done
st 2 "--for needs an audit log: no configuration" \
	"$SSMCTL" --config "$tmp/absent.json" sudo enable --for 1h --user ssmadm1
expect "nothing granted without an audit log" test ! -e "$F"
st 2 "expire needs an audit log" "$SSMCTL" --config "$tmp/absent.json" sudo expire
st 2 "--for with disable" $C sudo disable --for 1h --user ssmadm1
st 2 "--json with enable" $C sudo enable --json --user ssmadm1

# ------------------------------------------------------------------ user ensure
st 0 "user ensure creates ssm-user" $C user ensure
expect "ssm-user's login shell is ssm-shell" \
	test "$(getent passwd ssm-user | cut -d: -f7)" = "$SHELL_PATH"
expect "ssm-user's home is /home/ssm-user and exists" \
	sh -c "test \"\$(getent passwd ssm-user | cut -d: -f6)\" = /home/ssm-user && test -d /home/ssm-user"
expect "its own group" test "$(id -gn ssm-user)" = ssm-user
expect "no sudo by default (ssm_user_sudo false)" sh -c "! setpriv --reuid=ssm-user --regid=ssm-user --clear-groups sudo -n true 2>/dev/null"
expect "says sudo was not granted" grep -q "sudo not granted to ssm-user" "$tmp/out"
st 0 "user ensure again" $C user ensure
expect "says already" grep -q "already exists as it should" "$tmp/out"
st 1 "an existing account with another shell is refused" $C user ensure --user ssmadm2
expect "names the shell that differs" grep -q "login shell /bin/sh, not $SHELL_PATH" "$tmp/err"
expect "names the home that differs" grep -q "home /nonexistent, not /home/ssmadm2" "$tmp/err"
expect "ssmadm2 unchanged" test "$(getent passwd ssmadm2 | cut -d: -f7)" = /bin/sh
st 0 "--force changes it" $C user ensure --user ssmadm2 --force
expect "ssmadm2's shell is now ssm-shell" test "$(getent passwd ssmadm2 | cut -d: -f7)" = "$SHELL_PATH"
expect "ssmadm2's home is now /home/ssmadm2" test "$(getent passwd ssmadm2 | cut -d: -f6)" = /home/ssmadm2
expect "warns: not in run_as_allowed" grep -q "ssmadm2 is not in run_as_allowed" "$tmp/err"
st 0 "--sudo grants sudo" $C user ensure --sudo
expect "ssm-user may sudo" runs_sudo ssm-user
st 0 "--no-sudo removes it" $C user ensure --no-sudo
expect "ssm-user may no longer sudo" sh -c "! setpriv --reuid=ssm-user --regid=ssm-user --clear-groups sudo -n true 2>/dev/null"
sed 's|^{|{"ssm_user_sudo": true, |' "$CONF" >"$tmp/host/sudo.json"
st 0 "ssm_user_sudo true: sudo by default" "$SSMCTL" --config "$tmp/host/sudo.json" user ensure
expect "ssm-user may sudo" runs_sudo ssm-user
"$SSMCTL" sudo disable >/dev/null 2>&1
st 1 "uid 0 refused even with --force" $C user ensure --user root --force
st 2 "bad user name" $C user ensure --user 'Bad Name'
st 2 "unknown option" $C user ensure --bogus
st 2 "user without ensure" $C user

# ------------------------------------------------------------------ config check
# make the host complete: ssm-user and ssmadm1 exist with ssm-shell, root's directories
usermod -s "$SHELL_PATH" ssmadm1 >/dev/null
mkdir -p "$tmp/host/state/replay" "$tmp/host/run/sessions" "$tmp/host/run/live"
chmod 700 "$tmp/host/state/replay"
st 0 "config check of a good host" $C config check
expect "says no problem" grep -q "no problem found" "$tmp/out"
st 0 "config check --json of a good host" $C config check --json
expect "--json: ok true, no problems" test "$(jget "$tmp/out" 'j["ok"] and j["problems"] == [] and j["config"] != ""')" = True

# row DESC EXPECTED-TEXT SETUP RESTORE: the check names the problem (exit 1)
row() {
	d=$1 want=$2
	sh -c "$3" || { fail "$d: setup failed"; return; }
	$C config check >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ $got = 1 ] && grep -q -- "$want" "$tmp/out"; then ok "config check: $d"; else
		fail "config check: $d: exit $got, output: $(cat "$tmp/out" "$tmp/err" | head -c 800)"; fi
	sh -c "$4"
	$C config check >/dev/null 2>&1 || fail "config check: $d: not good again after restoring"
}
H=$tmp/host
row "configuration writable by others" "config: $CONF has mode 0666" "chmod 666 $CONF" "chmod 644 $CONF"
row "configuration not root's" "owned by uid 64301, not root" "chown ssmadm1 $CONF" "chown root $CONF"
row "unknown key" "unknown key 'bogus'" "sed -i 's|^{|{\"bogus\": 1, |' $CONF" "sed -i 's|^{\"bogus\": 1, |{|' $CONF"
row "trusted keys writable by others" "trusted_keys: $H/jwks.json has mode 0666" "chmod 666 $H/jwks.json" "chmod 644 $H/jwks.json"
row "trusted keys with a private key" "trusted_keys:.*private" \
	"cp $H/jwks.json $H/jwks.bak && $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); j[\"keys\"][0][\"d\"]=\"AAAA\"; json.dump(j, open(sys.argv[1],\"w\"))' $H/jwks.json" \
	"mv $H/jwks.bak $H/jwks.json"
row "trusted keys missing" "trusted_keys: $H/jwks.json: No such file" "mv $H/jwks.json $H/jwks.bak" "mv $H/jwks.bak $H/jwks.json"
row "a document that does not parse" "documents: $H/docs/Broken-Doc.json" \
	"echo '{\"schemaVersion\": \"1.0\"' >$H/docs/Broken-Doc.json" "rm $H/docs/Broken-Doc.json"
row "a document not root's" "documents: $H/docs/Restart-Service.json is owned by uid 64301" \
	"chown ssmadm1 $H/docs/Restart-Service.json" "chown root $H/docs/Restart-Service.json"
row "a document writable by others" "Restart-Service.json has mode 0666" \
	"chmod 666 $H/docs/Restart-Service.json" "chmod 644 $H/docs/Restart-Service.json"
row "RunShell not Standard_Stream" "SSM-SessionManagerRunShell.json: must be a Standard_Stream" \
	"cp $H/docs/SSM-SessionManagerRunShell.json $H/rs.bak && cp $H/docs/Restart-Service.json $H/docs/SSM-SessionManagerRunShell.json" \
	"mv $H/rs.bak $H/docs/SSM-SessionManagerRunShell.json"
row "allowed_documents glob matching nothing" "allowed_documents: \"Nothing-.\" matches no document" \
	"sed -i 's|\"Restart-\\*\"|\"Restart-*\", \"Nothing-*\"|' $CONF" "sed -i 's|, \"Nothing-\\*\"||' $CONF"
row "run_as_allowed user missing" "run_as_allowed: user nosuchssm does not exist" \
	"sed -i 's|\"ssmadm1\"\\]|\"ssmadm1\", \"nosuchssm\"]|' $CONF" "sed -i 's|, \"nosuchssm\"||' $CONF"
row "run_as_allowed user with another shell" "user ssmadm1 has login shell /bin/bash, not $SHELL_PATH" \
	"usermod -s /bin/bash ssmadm1" "usermod -s $SHELL_PATH ssmadm1"
row "recorder_user missing" "recorder_user: user ssmrecx does not exist" \
	"sed -i 's|\"ssmrec\"|\"ssmrecx\"|' $CONF" "sed -i 's|\"ssmrecx\"|\"ssmrec\"|' $CONF"
row "log_dir writable by others" "log_dir: $H/log has mode 0777" "chmod 777 $H/log" "chmod 700 $H/log"
row "run_dir not root's" "run_dir: $H/run is owned by uid 64302" "chown ssmadm2 $H/run" "chown root $H/run"
row "state_dir's parent missing" "state_dir: /nonexistent-ssm/state does not exist, and cannot be created" \
	"sed -i 's|\"state_dir\": \"[^\"]*\"|\"state_dir\": \"/nonexistent-ssm/state\"|' $CONF" \
	"sed -i 's|\"state_dir\": \"/nonexistent-ssm/state\"|\"state_dir\": \"$H/state\"|' $CONF"
row "a session record readable by everyone" "run_dir: $H/run/sessions/1-1.json has mode 0644" \
	"echo '{}' >$H/run/sessions/1-1.json && chmod 644 $H/run/sessions/1-1.json" "rm $H/run/sessions/1-1.json"
row "command_line_parameters naming a missing document" "command_line_parameters: names document No-Such-Doc" \
	"sed -i 's|^{|{\"command_line_parameters\": {\"No-Such-Doc\": [\"command\"]}, |' $CONF" \
	"sed -i 's|^{\"command_line_parameters\": {\"No-Such-Doc\": \\[\"command\"\\]}, |{|' $CONF"
row "command_line_parameters naming a parameter the document lacks" "command_line_parameters: Restart-Service:" \
	"sed -i 's|^{|{\"command_line_parameters\": {\"Restart-Service\": [\"nope\"]}, |' $CONF" \
	"sed -i 's|^{\"command_line_parameters\": {\"Restart-Service\": \\[\"nope\"\\]}, |{|' $CONF"
row "unknown seccomp profile" "seccomp_profiles: Port: unknown profile \"nope\"" \
	"sed -i 's|^{|{\"seccomp_profiles\": {\"Port\": \"nope\"}, |' $CONF" \
	"sed -i 's|^{\"seccomp_profiles\": {\"Port\": \"nope\"}, |{|' $CONF"
row "ssm-shell not setuid" "ssm-shell: $SHELL_PATH is owner uid 0 mode 0755" "chmod 755 $SHELL_PATH" "chmod 4755 $SHELL_PATH"
row "ssm-shell missing" "ssm-shell: $SHELL_PATH: No such file" "mv $SHELL_PATH $SHELL_PATH.bak" "mv $SHELL_PATH.bak $SHELL_PATH"
row "ssm-shell not in /etc/shells" "is not in /etc/shells" \
	"grep -vx $SHELL_PATH /etc/shells >$tmp/shells && cat $tmp/shells >/etc/shells" "echo $SHELL_PATH >>/etc/shells"
# several problems at once: every one named, not just the first
chmod 666 "$H/jwks.json" "$H/docs/Restart-Service.json"
chmod 755 "$SHELL_PATH"
st 1 "three problems at once" $C config check
expect "all three named, and counted" sh -c "test \$(grep -c '^problem: ' '$tmp/out') = 3 && grep -q '3 problems' '$tmp/out'"
st 1 "three problems, --json" $C config check --json
expect "--json: ok false, three problems with what and message" \
	test "$(jget "$tmp/out" 'not j["ok"] and sorted(p["what"] for p in j["problems"]) == ["documents", "ssm-shell", "trusted_keys"] and all(p["message"] for p in j["problems"])')" = True
chmod 644 "$H/jwks.json" "$H/docs/Restart-Service.json"
chmod 4755 "$SHELL_PATH"
st 1 "missing configuration file" "$SSMCTL" --config "$tmp/absent.json" config check
st 2 "config without check" $C config
st 2 "config check with an extra argument" $C config check extra

# ------------------------------------------------------------------ document validate --json
st 0 "document validate --json" "$SSMCTL" document validate --json "$H/docs/Restart-Service.json"
expect "--json: valid, type, name, sha256, warnings, error null" \
	test "$(jget "$tmp/out" 'j["valid"] and j["session_type"] == "NonInteractiveCommands" and j["name"] == "Restart-Service" and len(j["sha256"]) == 64 and j["warnings"] == [] and j["error"] is None')" = True
echo '{"schemaVersion": "1.0", "sessionType": "Nope"}' >"$tmp/Bad-Doc.json"
st 1 "document validate --json, invalid" "$SSMCTL" document validate --json "$tmp/Bad-Doc.json"
expect "--json: valid false, the error" test "$(jget "$tmp/out" 'not j["valid"] and j["sha256"] is None and len(j["error"]) > 0')" = True

# ------------------------------------------------------------------ token verify --json
tok=$(mint ssmadm1 --params '{}')
st 0 "token verify --json" $C token verify --json "$tok"
expect "--json: valid, jti_used false, claims" test "$(jget "$tmp/out" 'j["valid"] and j["jti_used"] is False and j["claims"]["run_as"] == "ssmadm1"')" = True
st 1 "token verify --json, refused" $C token verify --json --user ssm-user "$tok"
expect "--json: valid false, a reason" test "$(jget "$tmp/out" 'not j["valid"] and len(j["reason"]) > 0')" = True

# ------------------------------------------------------------------ sessions list
st 0 "sessions list --json with none" $C sessions list --json
expect "an empty array" test "$(cat "$tmp/out")" = "[]"
# a session: this shell's record (as the module writes it), and a "recorder" on a terminal
[ -x "$builddir/tests/mkrecord" ] || make -C "$builddir" tests/mkrecord >/dev/null 2>&1
sid=$("$builddir/tests/mkrecord" "$H/run" $$ "$HOST_ID" alice ssmadm1 Restart-Service \
	"$(sha256sum <"$H/docs/Restart-Service.json" | cut -c1-64)" 600)
expect "record written ($sid)" test -n "$sid"
expect "the record is root's and 0600" test "$(stat -c '%u %a' "$H"/run/sessions/$$-*.json)" = "0 600"
script -qfc "sleep 61.2345" /dev/null >/dev/null 2>&1 &
spid=$!
i=0
while [ $i -lt 50 ] && ! rpid=$(pgrep -xf "sleep 61.2345"); do sleep 0.1; i=$((i + 1)); done
rst=$(awk '{sub(/.*\) /, ""); print $20}' /proc/$rpid/stat)
rtty=$(readlink /proc/$rpid/fd/0)
printf '{"sid":"%s","pid":%s,"starttime":%s,"run_as":"ssmadm1","started":1}' "$sid" "$rpid" "$rst" \
	>"$H/run/live/$sid.json"
chmod 600 "$H/run/live/$sid.json"
touch -a -d '-100 seconds' "$rtty"
echo "{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"session_start\",\"host_id\":\"$HOST_ID\",\"sid\":\"$sid\",\"service\":\"sshd\",\"rhost\":\"192.0.2.9\"}" >>"$AUDIT"
st 0 "sessions list" $C sessions list
expect "the session, with source, tty and idle time" \
	grep -Eq "^$sid +alice +ssmadm1 +Restart-Service +sshd@192.0.2.9 +${rtty#/dev/} +[0-9TZ:-]+ +1m[0-9]{2}s$" "$tmp/out"
st 0 "sessions list --json" $C sessions list --json
expect "--json: sid, sub, run_as, document, source, tty, recorder, started, idle_seconds >= 100" \
	test "$(jget "$tmp/out" 'len(j) == 1 and j[0]["sid"] == "'"$sid"'" and j[0]["sub"] == "alice" and j[0]["run_as"] == "ssmadm1" and j[0]["document"] == "Restart-Service" and j[0]["service"] == "sshd" and j[0]["rhost"] == "192.0.2.9" and j[0]["source"] == "sshd@192.0.2.9" and j[0]["tty"] == "'"$rtty"'" and j[0]["recorder_pid"] == '"$rpid"' and j[0]["pid"] == '"$$"' and j[0]["started"].endswith("Z") and 100 <= j[0]["idle_seconds"] < 200')" = True
kill $spid 2>/dev/null
wait $spid 2>/dev/null
st 1 "sessions list is refused to other users" setpriv --reuid=ssmadm1 --regid=ssmadm1 --clear-groups "$SSMCTL" --config "$CONF" sessions list
expect "says root only" grep -q "for root only" "$tmp/err"
st 1 "sessions list --json is refused too" setpriv --reuid=ssmadm1 --regid=ssmadm1 --clear-groups "$SSMCTL" --config "$CONF" sessions list --json
expect "nothing on stdout when refused" test ! -s "$tmp/out"

finish ssmctl_admin
