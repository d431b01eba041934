# channel_setup.sh - what the channel tests and benches share, sourced after
# tests/shell_setup.sh (private mount and pid namespaces, $T, $CONF_PATH, mkdoc, ssmtu):
#
#   chan_init                   the programs (BROKER AGENT SSMCTL SSM MODULE), the run-as
#                               users' login shell ssm-shell, a private /run with utmp
#   chan_net TAG NET            two network namespaces (broker side NB, host side NH) joined
#                               by a veth pair on NET.1/30 and NET.2/30 (NET: three octets,
#                               e.g. 169.254.78); sets BIP HIP PORT URL IB IH VH ST and an EXIT
#                               trap that kills $PIDS and deletes the namespaces
#   chan_broker [ARG...]        ssm-broker serve in NB (state $ST), extra arguments after;
#                               BPID; waits until it listens
#   chan_docs NAME...           document put of $T/docs/NAME.json (written by mkdoc)
#   chan_host [TAG=V...]        an activation with these tags, `ssmctl register` in NH into
#                               $CONF_PATH (HID), then the keys sessions need: documents_dir
#                               $T/docs, run_as_allowed $CHAN_RUN_AS, run_dir, log_dir,
#                               state_dir in $T, recorder_user ssmsession, plus the JSON
#                               object $CHAN_CONF_EXTRA if set
#   chan_pam                    /etc/pam.d/ssm-session (of the namespace) with the real
#                               module; pam_loginuid when /proc/self/loginuid is writable
#                               (loginuid_ok=1)
#   chan_agent [ARG...]         ssm-agent in NH; APID; waits until the broker says linked
#   chan_user NAME POLICY       a broker user with password "correct horse", run as ssmtu,
#                               the policy file attached, `ssm login` into $T/cfg
#   chan_login_hid              $T/bin/login-hid: tests/shell_setup.sh's login wrapper with
#                               the registered host's id (HID), for the local login path
#   chan_all_complete FILE      each sid listed in FILE is stored complete at the broker and
#                               byte for byte the host's transcript
#   chan_bg NAME DOC [SECS]     a session on the local login path (login-hid, as ssmtu) in
#                               the background: output $T/NAME.out, errors $T/NAME.err, exit
#                               status $T/NAME.rc; stopped after SECS (default 120)
#   chan_bg_done NAME...        each of those sessions has ended
#   chan_tbf RATE LATENCY       a tc token-bucket filter on the host's end of the veth pair
#                               (VH), or SKIP (exit 77) where tc cannot make one
#   chan_broker_fs SIZE         the broker's state ($ST) on a tmpfs of that size, to fill
#
# Set-up steps report through $CHAN_CHECK (default ssm_check: a failure is counted and the
# test goes on); a bench sets CHAN_CHECK to a function that stops at the first failure.

CHAN_CHECK=${CHAN_CHECK:-ssm_check}
CHAN_RUN_AS=${CHAN_RUN_AS:-ssmtu ssmtu2}
PIDS=${PIDS:-}

chan_init() {
	BROKER=$builddir/brokerd/ssm-broker
	AGENT=$builddir/agent/ssm-agent
	SSMCTL=$builddir/ssmctl/ssmctl
	SSM=$builddir/client/ssm
	MODULE=$builddir/pam_ssmsession/.libs/pam_ssmsession.so
	for _p in "$BROKER" "$AGENT" "$SSMCTL" "$SSM" "$MODULE"; do
		[ -e "$_p" ] || { echo "FAIL: $_p not built"; exit 1; }
	done
	# the run-as users log in with ssm-shell, as ssm-user does
	sed -i -e "s|^\(ssmtu2\{0,1\}:.*:\)/bin/bash\$|\1$SSM_SHELL|" /etc/passwd
	grep -q "^ssmtu:.*:$SSM_SHELL\$" /etc/passwd || { echo "FAIL: cannot set ssmtu's shell"; exit 1; }
	# /run of our own: ip netns and utmp stay in this namespace
	mount -t tmpfs -o mode=0755 ssm-run /run || { echo "FAIL: cannot mount /run"; exit 1; }
	touch /run/utmp && chmod 0664 /run/utmp
}

chan_cleanup() {
	for _p in $PIDS; do kill "$_p" 2>/dev/null; done
	for _p in $PIDS; do wait "$_p" 2>/dev/null; done
	ip netns del "$NB" 2>/dev/null
	ip netns del "$NH" 2>/dev/null
	:
}

chan_net() {
	NB=ssm${1}b$$ NH=ssm${1}h$$
	BIP=$2.1 HIP=$2.2 PORT=8443
	URL=https://$BIP:$PORT
	trap chan_cleanup EXIT
	ip netns add "$NB" && ip netns add "$NH" || { echo "SKIP: cannot create network namespaces"; exit 77; }
	ip link add "v${1}b$$" type veth peer name "v${1}h$$" || { echo "SKIP: no veth"; exit 77; }
	ip link set "v${1}b$$" netns "$NB" && ip link set "v${1}h$$" netns "$NH"
	ip -n "$NB" addr add "$BIP/30" dev "v${1}b$$" && ip -n "$NH" addr add "$HIP/30" dev "v${1}h$$"
	for _n in "$NB" "$NH"; do ip -n "$_n" link set lo up; done
	ip -n "$NB" link set "v${1}b$$" up && ip -n "$NH" link set "v${1}h$$" up
	IB="ip netns exec $NB"
	IH="ip netns exec $NH"
	VH=v${1}h$$
	ST=$T/st
}

chan_broker() {
	$IB "$BROKER" serve --state-dir "$ST" --listen "$BIP:$PORT" "$@" >>"$T/broker.log" 2>&1 &
	BPID=$!
	PIDS="$PIDS $BPID"
	$CHAN_CHECK "the broker starts" ssm_wait_for 10 grep -q "listening on $BIP:$PORT" "$T/broker.log"
}

chan_docs() {
	for _d in "$@"; do
		"$BROKER" document put --state-dir "$ST" "$_d" "$T/docs/$_d.json" >/dev/null 2>"$T/doc.err" ||
			{ echo "FAIL: document put $_d: $(cat "$T/doc.err")"; exit 1; }
	done
}

chan_host() {
	_tags=
	for _t in "$@"; do _tags="$_tags --tag $_t"; done
	# shellcheck disable=SC2086
	"$BROKER" activation create --state-dir "$ST" --limit 1 --expires 1h $_tags >"$T/act"
	ACT_ID=$(awk '/^activation_id:/{print $2}' "$T/act")
	ACT_CODE=$(awk '/^activation_code:/{print $2}' "$T/act")
	$CHAN_CHECK "the host registers" sh -c "$IH '$SSMCTL' register --broker $URL --ca '$ST/ca.crt' \
		--activation-id $ACT_ID --activation-code $ACT_CODE --config '$CONF_PATH' >'$T/hid' 2>'$T/reg.err'"
	HID=$(cat "$T/hid")
	_extra='{}'
	[ -z "${CHAN_CONF_EXTRA:-}" ] || _extra=$CHAN_CONF_EXTRA
	python3 - "$CONF_PATH" "$T" "$CHAN_RUN_AS" "$_extra" <<'PY'
import json, sys
p, t, run_as, extra = sys.argv[1:5]
c = json.load(open(p))
c.update({"documents_dir": t + "/docs", "run_as_allowed": run_as.split(),
          "run_dir": t + "/run", "log_dir": t + "/log", "state_dir": t + "/state",
          "recorder_user": "ssmsession"})
c.update(json.loads(extra))
json.dump(c, open(p, "w"))
PY
	chmod 0644 "$CONF_PATH"
}

chan_pam() {
	if sh -c 'echo 0 >/proc/self/loginuid' 2>/dev/null; then
		loginuid_ok=1
		printf 'auth required %s\naccount required %s\nsession required pam_loginuid.so\nsession required pam_limits.so\nsession required %s\n' \
			"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/ssm-session
	else
		loginuid_ok=
		echo "note: /proc/self/loginuid is not writable here: no pam_loginuid in the stack"
		printf 'auth required %s\naccount required %s\nsession required pam_limits.so\nsession required %s\n' \
			"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/ssm-session
	fi
}

chan_agent() {
	$IH "$AGENT" --config "$CONF_PATH" "$@" >>"$T/agent.log" 2>&1 &
	APID=$!
	PIDS="$PIDS $APID"
	$CHAN_CHECK "the agent links up" ssm_wait_for 15 grep -q "agent $HID linked" "$T/broker.log"
}

# chan_agent_again MSG [AGENT ARGS...]: the agent stopped (if it runs) and started again;
# MSG is the check that it links up
chan_agent_again() {
	_msg=$1; shift
	kill "$APID" 2>/dev/null
	wait "$APID" 2>/dev/null
	_n=$(grep -c "agent $HID linked" "$T/broker.log")
	$IH "$AGENT" --config "$CONF_PATH" "$@" >>"$T/agent.log" 2>&1 &
	APID=$!
	PIDS="$PIDS $APID"
	$CHAN_CHECK "$_msg" ssm_wait_for 15 sh -c "[ \$(grep -c 'agent $HID linked' '$T/broker.log') -gt $_n ]"
}

chan_user() {
	printf 'correct horse\n' | "$BROKER" user add "$1" --state-dir "$ST" >/dev/null
	"$BROKER" user set-run-as "$1" ssmtu --state-dir "$ST" >/dev/null
	"$BROKER" policy attach --user "$1" "$2" --state-dir "$ST" >/dev/null
	$CHAN_CHECK "ssm login as $1" sh -c "printf 'correct horse\n' | XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' login --broker $URL --ca '$ST/ca.crt' --user $1 >/dev/null 2>'$T/login.err'"
}

# The documents of the resumption tests: a shell (idle timeout 20 min) and a command that
# sleeps, put at the broker and on the host.
chan_docs_shell_sleep() {
	mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "20"}}'
	mkdoc Cmd-Sleep '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo SLEEPING; exec sleep 1000"}}}'
	chan_docs SSM-SessionManagerRunShell Cmd-Sleep
}

# FILE: a developer's policy: any session on any host, terminate and read their own
# sessions' transcripts, describe everything.
chan_dev_policy() {
	cat >"$1" <<EOF
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession",
  "Resource": ["arn:aws:ssm:*:*:managed-instance/*", "arn:aws:ssm:*:*:document/*"]},
 {"Effect": "Allow", "Action": ["ssm:TerminateSession", "ssm:GetTranscript"],
  "Resource": "arn:aws:ssm:*:*:session/\${aws:username}-*"},
 {"Effect": "Allow", "Action": ["ssm:DescribeSessions", "ssm:DescribeInstanceInformation"], "Resource": "*"}]}
EOF
}

# the end of a test: neither side logged a protocol error or a sanitizer report; after a
# failure, the ends of their logs
chan_end_checks() {
	ssm_check "no protocol error on either side" sh -c "! grep -qi 'protocol error' '$T/agent.log' '$T/broker.log'"
	ssm_check "no sanitizer report from the broker or the agent" sh -c \
		"! grep -q 'ERROR: AddressSanitizer\|runtime error:' '$T/agent.log' '$T/broker.log'"
	if [ "$SSM_FAIL" -gt 0 ]; then
		echo "--- agent.log"; tail -30 "$T/agent.log"
		echo "--- broker.log"; tail -30 "$T/broker.log"
	fi
}

chan_login_hid() {
	sed "s|\"$HOST_ID\"|\"$HID\"|" "$T/bin/login" >"$T/bin/login-hid" && chmod 0755 "$T/bin/login-hid"
}

chan_all_complete() {
	python3 - "$ST/broker.db" "$T/log/sessions" "$ST/transcripts/$HID" "$1" <<'PY' 2>/dev/null
import filecmp, sqlite3, sys
db, host, broker, lst = sys.argv[1:5]
done = {r[0] for r in sqlite3.connect(db).execute("SELECT sid FROM transcripts WHERE complete=1")}
for sid in open(lst).read().split():
    if sid not in done or not filecmp.cmp(host + "/" + sid + ".cast", broker + "/" + sid + ".cast", shallow=False):
        sys.exit(1)
PY
}

chan_bg() {
	( _rc=0; timeout "${3:-120}" "$T/bin/login-hid" ssmtu "$2" - -- </dev/null >"$T/$1.out" 2>"$T/$1.err" ||
		_rc=$?; echo "$_rc" >"$T/$1.rc" ) &
}

chan_bg_done() { for _n in "$@"; do [ -e "$T/$_n.rc" ] || return 1; done; }

chan_tbf() {
	if ! $IH tc qdisc add dev "$VH" root tbf rate "$1" burst 128kb latency "$2" 2>"$T/tc.err"; then
		echo "SKIP: tc tbf unusable here: $(cat "$T/tc.err")"
		exit 77
	fi
}

chan_broker_fs() {
	mkdir -p "$ST" && mount -t tmpfs -o "size=$1,mode=0700" ssm-brokerst "$ST" ||
		{ echo "FAIL: cannot mount a tmpfs for the broker's state"; exit 1; }
}

# chan_port_docs: AWS-StartPortForwardingSession and AWS-StartSSHSession as AWS writes them
# (portNumber checked; localPortNumber for the client), on the host (mkdoc), for chan_docs
chan_port_docs() {
	_pp='^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$'
	mkdoc AWS-StartPortForwardingSession '{"schemaVersion": "1.0", "sessionType": "Port",
 "parameters": {"portNumber": {"type": "String", "allowedPattern": "'"$_pp"'", "default": "80"},
  "localPortNumber": {"type": "String", "allowedPattern": "^([0-9]|[1-9][0-9]{1,4})$", "default": "0"}},
 "properties": {"portNumber": "{{ portNumber }}"}}'
	mkdoc AWS-StartSSHSession '{"schemaVersion": "1.0", "sessionType": "Port",
 "parameters": {"portNumber": {"type": "String", "allowedPattern": "'"$_pp"'", "default": "22"}},
 "properties": {"portNumber": "{{ portNumber }}"}}'
}

# chan_totp BASE32-SECRET: the RFC 6238 code of now (SHA-1, 30 s, 6 digits)
chan_totp() {
	python3 - "$1" <<'PY'
import base64, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), "sha1").digest()
o = mac[19] & 15
print("%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000))
PY
}
