#!/bin/sh
# ssmsession: the Session Manager workshop on one machine.  Run as root on Debian 12:
#
#   ./demo/run.sh
#
# A broker and four hosts, each in a network namespace of its own (joined by a bridge in the
# broker's), none of the hosts listening on anything: a Dev and a Prod EC2-style host
# (registered by their signed instance identity: i- ids) and a Dev and a Prod on-premises
# host (registered by activation: mi- ids).  A developer with the workshop's SSMDevAccess policy, an on-call
# engineer who reaches Prod only with MFA, an interactive-command document, a port forward
# to a web server on a host, scp through ssh's ProxyCommand, an idle timeout, a terminate
# from the broker, the session history and a transcript played back from the broker; also a
# document that only the broker holds, fetched by the host over its channel, and a session
# that goes on across a 12-second cut of its host's network and across a broker restart.
#
# Everything runs inside private mount and pid namespaces with private copies of
# /etc/passwd, /etc/group, /etc/shadow and /etc/pam.d: the machine's users, PAM and sshd are
# never changed.  Files are left in demo-out/workshop/ to look at (or under /var/tmp when
# this tree is not reachable by other users).  The older demo of token logins through PAM
# alone is demo/tokens.sh.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-workshop"
work="$top/demo-out/workshop"
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$top/demo" 2>/dev/null; then
	work=/var/tmp/ssmsession-demo/workshop
fi

if [ -t 1 ]; then B1='\033[1m' G='\033[32m' R='\033[31m' N='\033[0m'; else B1='' G='' R='' N=''; fi
say() { printf "\n${B1}==> %s${N}\n" "$*"; }
note() { printf '    %s\n' "$*"; }
ok() { printf "    ${G}OK:${N} %s\n" "$*"; }
bad() { printf "    ${R}UNEXPECTED:${N} %s\n" "$*"; status=1; }
indent() { sed 's/^/    | /'; }
status=0

if [ "$(id -u)" != 0 ]; then
	echo "demo/run.sh: run me as root (I work inside private namespaces)" >&2
	exit 2
fi

# ------------------------------------------------------------------ outside: build
if [ "${1:-}" != "--inside" ]; then
	say "Installing build and demo dependencies (tools/deps.sh; nothing if already there)"
	"$top/tools/deps.sh"
	say "Building the project out of tree in build-workshop/"
	mkdir -p "$build"
	(cd "$top" && flock /tmp/ssm-autoreconf.lock ./autogen.sh >"$build/autogen.log" 2>&1) || {
		tail -20 "$build/autogen.log"; echo "autogen.sh failed" >&2; exit 1; }
	# ssm-shell reads its configuration from the compiled-in path only: this build points it
	# into the demo's directory (each host then mounts its own configuration there)
	if [ "$(cat "$build/.demo-sysconfdir" 2>/dev/null)" != "$work/etc" ]; then
		(cd "$build" && "$top/configure" --quiet --sysconfdir="$work/etc" >configure.log 2>&1 &&
			make clean >/dev/null && echo "$work/etc" >.demo-sysconfdir) || {
			tail -20 "$build/configure.log"; echo "configure failed" >&2; exit 1; }
	fi
	(cd "$build" && make -j"$(nproc)" >make.log 2>&1) || {
		tail -30 "$build/make.log"; echo "build failed" >&2; exit 1; }
	say "Entering private mount and pid namespaces"
	exec unshare --mount --propagation private --pid --fork --mount-proc -- /bin/sh "$0" --inside
fi

# ------------------------------------------------------------------ inside
[ "$$" = 1 ] || [ -n "${SSM_WORKSHOP_NS:-}" ] || { echo "demo/run.sh: --inside is internal" >&2; exit 2; }
broker_bin=$build/brokerd/ssm-broker
agent_bin=$build/agent/ssm-agent
ssmctl=$build/ssmctl/ssmctl
ssm_bin=$build/client/ssm
module=$build/pam_ssmsession/.libs/pam_ssmsession.so
for f in "$broker_bin" "$agent_bin" "$ssmctl" "$ssm_bin" "$module"; do
	[ -e "$f" ] || { echo "not built: $f" >&2; exit 1; }
done
rm -rf "$work"
mkdir -p "$work" && chmod 0755 "$work"
cd "$work"
umask 022
PIDS=""
NETNS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for n in $NETNS; do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT
# /run of our own (ip netns, utmp, sshd); the machine's stays untouched
mount -t tmpfs -o mode=0755 ssm-run /run
touch /run/utmp
mkdir -p /run/sshd

say "Private users and PAM for this demo only"
mkdir -p private bin home
cp -a /etc/passwd /etc/group /etc/shadow private/
cp -a /etc/pam.d private/pam.d
for f in passwd group shadow pam.d; do mount --bind "private/$f" "/etc/$f"; done
uid=2100
while getent passwd "$uid" >/dev/null || getent passwd $((uid + 1)) >/dev/null ||
	getent passwd $((uid + 2)) >/dev/null || getent group "$uid" >/dev/null; do
	uid=$((uid + 3))
done
cp "$build/ssm-shell/ssm-shell" bin/ssm-shell
chown root:root bin/ssm-shell && chmod 4755 bin/ssm-shell
adduser_() { # NAME UID SHELL HOME
	echo "$1:x:$2:$2::$4:$3" >>/etc/passwd
	echo "$1:x:$2:" >>/etc/group
	echo "$1:*:19000:0:99999:7:::" >>/etc/shadow  # "*": no password; "!" would lock ssh keys out
}
adduser_ ssmsession "$uid" /usr/sbin/nologin /nonexistent
adduser_ ssm-user $((uid + 1)) "$work/bin/ssm-shell" "$work/home/ssm-user"
adduser_ ec2-user $((uid + 2)) /bin/bash "$work/home/ec2-user"
for u in ssm-user ec2-user; do
	mkdir -p "home/$u"
	printf 'PS1="%s$ "\n' "$u" >"home/$u/.bashrc"
	printf '. ~/.bashrc\n' >"home/$u/.bash_profile"
	chown -R "$u:$u" "home/$u"
done
note "ssm-user: the user sessions run as (login shell: a setuid-root copy of ssm-shell);"
note "ssmsession: the recorder; ec2-user: an ordinary account for ssh through the channel"
if sh -c 'echo 0 >/proc/self/loginuid' 2>/dev/null; then lu="session  required  pam_loginuid.so"; else lu=""; fi
printf 'auth     required  %s\naccount  required  %s\n%s\nsession  required  pam_limits.so\nsession  required  %s\n' \
	"$module" "$module" "$lu" "$module" >/etc/pam.d/ssm-session
note "PAM service ssm-session: every session over the channel logs in through it, with the"
note "broker's token as the password; pam_ssmsession is the only judge:"
grep -v '^$' /etc/pam.d/ssm-session | indent

say "The network: a bridge in the broker's namespace, one veth to each host's namespace"
ns() { ip netns add "$1"; NETNS="$NETNS $1"; ip -n "$1" link set lo up; }
ns ssmw-broker
ip -n ssmw-broker link add br0 type bridge
ip -n ssmw-broker addr add 10.77.0.1/24 dev br0
ip -n ssmw-broker link set br0 up
HOSTS="dev-web dev-db prod-web prod-db"
i=10
for h in $HOSTS; do
	ns "ssmw-$h"
	ip link add "vw$i" type veth peer name "vh$i"
	ip link set "vw$i" netns ssmw-broker
	ip link set "vh$i" netns "ssmw-$h"
	ip -n ssmw-broker link set "vw$i" master br0 up
	ip -n "ssmw-$h" addr add "10.77.0.$i/24" dev "vh$i"
	ip -n "ssmw-$h" link set "vh$i" up
	i=$((i + 1))
done
IB="ip netns exec ssmw-broker"
note "broker 10.77.0.1; hosts dev-web .10, dev-db .11, prod-web .12, prod-db .13"

say "The broker: ssm-broker serve creates its state (database, CA, signing key) on first start"
# --keepalive 2:6 (a PING after 2 s of silence, a link dead after 6 s): short, so that the
# network cut below is noticed within seconds (the default is 15 s and 45 s)
$IB "$broker_bin" serve --state-dir "$work/broker" --listen 10.77.0.1:8443 --keepalive 2:6 >broker.log 2>&1 &
BPID=$!
PIDS="$PIDS $BPID"
n=0; while ! grep -q 'listening on' broker.log && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
grep 'listening on' broker.log | indent
B() { "$broker_bin" "$@" --state-dir "$work/broker"; }
URL=https://10.77.0.1:8443

say "Session documents, stored at the broker (the hosts hold the same bytes)"
mkdir -p docs
pat='^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$'
cat >docs/SSM-SessionManagerRunShell.json <<'EOF'
{"schemaVersion": "1.0", "description": "Shell sessions: 6 s idle timeout for the demo",
 "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "1", "idleSessionTimeoutSeconds": 6, "maxSessionDuration": "20"}}
EOF
cat >docs/ViewLog.json <<'EOF'
{"schemaVersion": "1.0", "description": "Show the end of a log file under /var/log, nothing else",
 "sessionType": "InteractiveCommands",
 "parameters": {"logpath": {"type": "String", "default": "/var/log/dpkg.log",
   "allowedPattern": "^/var/log/[A-Za-z0-9_./-]+$", "maxChars": 128}},
 "properties": {"linux": {"commands": "tail -n 3 {{ logpath }}"}}}
EOF
cat >docs/AWS-StartPortForwardingSession.json <<EOF
{"schemaVersion": "1.0", "description": "Port forwarding", "sessionType": "Port",
 "parameters": {"portNumber": {"type": "String", "allowedPattern": "$pat", "default": "80"},
  "localPortNumber": {"type": "String", "allowedPattern": "^([0-9]|[1-9][0-9]{1,4})$", "default": "0"}},
 "properties": {"portNumber": "{{ portNumber }}"}}
EOF
cat >docs/AWS-StartSSHSession.json <<EOF
{"schemaVersion": "1.0", "description": "ssh through Session Manager", "sessionType": "Port",
 "parameters": {"portNumber": {"type": "String", "allowedPattern": "$pat", "default": "22"}},
 "properties": {"portNumber": "{{ portNumber }}"}}
EOF
cat >docs/Sleep.json <<'EOF'
{"schemaVersion": "1.0", "description": "A long command", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo working; exec sleep 600"}}}
EOF
chmod 0644 docs/*.json
for d in docs/*.json; do B document put "$(basename "$d" .json)" "$d" >/dev/null; done
B document list | indent

say "Four hosts: two EC2-style (i-, by their signed instance identity), two on-premises (mi-, by activation)"
note "(the instance metadata service of each EC2-style host is tests/imds_emulator.py in its"
note " namespace, serving an identity document signed by a key the broker was told to trust, as"
note " AWS signs them; it stops once the host is registered, so the host listens on nothing)"
mkdir -p ec2
openssl req -x509 -newkey rsa:2048 -nodes -keyout ec2/signer.key -out ec2/signer.crt -days 7 \
	-subj "/O=Workshop EC2 instance identity signer" >/dev/null 2>&1
B ec2 trust add --cert ec2/signer.crt >/dev/null
B ec2 account add 111122223333 --region eu-west-3 >/dev/null
host_config() { # HOST: the keys sessions need, beside what registration wrote
	python3 - "$work/hosts/$1/etc/ssmsession.json" "$work" "$1" <<'PY'
import json, sys
p, w, h = sys.argv[1:4]
c = json.load(open(p))
c.update({"documents_dir": w + "/docs", "run_as_allowed": ["ssm-user"],
          "run_dir": w + "/hosts/" + h + "/run", "log_dir": w + "/hosts/" + h + "/log",
          "state_dir": w + "/hosts/" + h + "/state", "recorder_user": "ssmsession"})
json.dump(c, open(p, "w"), indent=1)
PY
	chmod 0644 "hosts/$1/etc/ssmsession.json"
}
for h in $HOSTS; do
	env_=Dev; case $h in prod-*) env_=Prod ;; esac
	mkdir -p "hosts/$h/etc" "hosts/$h/log" "hosts/$h/run" "hosts/$h/state"
	case $h in
	*-web) # EC2-style: IMDSv2 in the host's namespace, the document signed for this instance
		how="EC2 instance identity"
		iid=$(printf 'i-0%s' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" | cut -c1-19)
		B ec2 tag "$iid" "Environment=$env_" "Name=$h" >/dev/null
		mkdir -p "hosts/$h/imds"
		python3 - "hosts/$h/imds/document" "$iid" <<'PY'
import json, sys
f, iid = sys.argv[1:3]
json.dump({"accountId": "111122223333", "architecture": "x86_64",
           "availabilityZone": "eu-west-3a", "imageId": "ami-0abcdef1234567890",
           "instanceId": iid, "instanceType": "t3.micro", "pendingTime": "2026-11-30T08:00:00Z",
           "region": "eu-west-3", "version": "2017-09-30"}, open(f, "w"), indent=2)
PY
		openssl smime -sign -binary -in "hosts/$h/imds/document" -inkey ec2/signer.key \
			-signer ec2/signer.crt -nocerts -md sha256 -outform DER | base64 -w 64 >"hosts/$h/imds/pkcs7"
		ip -n "ssmw-$h" addr add 169.254.169.254/32 dev lo
		ip netns exec "ssmw-$h" python3 "$top/tests/imds_emulator.py" --listen 169.254.169.254:80 \
			--dir "$work/hosts/$h/imds" --ready "$work/hosts/$h/imds.ready" 2>"hosts/$h/imds.log" &
		imds=$!
		n=0; while [ ! -e "hosts/$h/imds.ready" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
		rc=0
		ip netns exec "ssmw-$h" "$ssmctl" register --broker "$URL" --ca "$work/broker/ca.crt" --ec2 \
			--config "$work/hosts/$h/etc/ssmsession.json" >"hosts/$h/id" 2>"hosts/$h/reg.err" || rc=$?
		kill "$imds" 2>/dev/null; wait "$imds" 2>/dev/null || true
		ip -n "ssmw-$h" addr del 169.254.169.254/32 dev lo
		[ "$rc" = 0 ] || { cat "hosts/$h/reg.err"; exit 1; }
		;;
	*) # on-premises: an activation (AWS's hybrid activations)
		how="activation"
		B activation create --limit 1 --expires 10m --tag "Environment=$env_" --tag "Name=$h" >"hosts/$h/act"
		aid=$(awk '/^activation_id:/{print $2}' "hosts/$h/act")
		acode=$(awk '/^activation_code:/{print $2}' "hosts/$h/act")
		ip netns exec "ssmw-$h" "$ssmctl" register --broker "$URL" --ca "$work/broker/ca.crt" \
			--activation-id "$aid" --activation-code "$acode" --config "$work/hosts/$h/etc/ssmsession.json" \
			>"hosts/$h/id" 2>"hosts/$h/reg.err" || { cat "hosts/$h/reg.err"; exit 1; }
		;;
	esac
	id=$(cat "hosts/$h/id")
	eval "ID_$(echo "$h" | tr - _)=$id"
	host_config "$h"
	note "$h: $id (Environment=$env_, registered by $how)"
done
mkdir -p etc/ssmsession

say "Each host's agent dials out to the broker (its configuration mounted where ssm-shell reads it)"
for h in $HOSTS; do
	ip netns exec "ssmw-$h" unshare --mount --propagation private sh -c \
		"mount --bind '$work/hosts/$h/etc' '$work/etc/ssmsession' && exec '$agent_bin' --config '$work/etc/ssmsession/ssmsession.json' --keepalive 2:6" \
		>"hosts/$h/agent.log" 2>&1 &
	PIDS="$PIDS $!"
done
n=0; while [ "$(grep -c ' linked' broker.log)" -lt 4 ] && [ $n -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
grep ' linked' broker.log | sed 's/.*ssm-broker: //' | indent
for h in $HOSTS; do
	if [ -z "$(ip netns exec "ssmw-$h" ss -Htuln)" ]; then
		ok "$h listens on nothing (ss -tuln is empty): its only connection is outbound"
	else
		bad "$h has a listening socket"
	fi
done

say "Users at the broker: alice (developer), carol and oscar (on call; oscar has a TOTP token)"
printf 'alice password\n' | B user add alice >/dev/null
printf 'carol password\n' | B user add carol >/dev/null
printf 'oscar password\n' | B user add oscar --totp >oscar.totp
OSCAR_SECRET=$(sed -n 's/^totp_secret: //p' oscar.totp)
cat >SSMDevAccess.json <<'EOF'
{
 "Version": "2012-10-17",
 "Statement": [
  {"Effect": "Allow",
   "Action": ["ssm:DescribeSessions", "ssm:GetConnectionStatus", "ssm:DescribeInstanceProperties",
              "ec2:DescribeInstances", "ssm:StartSession"],
   "Resource": "*"},
  {"Sid": "ReadAlltheSSMThings", "Effect": "Allow",
   "Action": ["ssm:Get*", "ssm:Describe*", "ssm:List*"], "Resource": "*"},
  {"Sid": "SameUserTerminate", "Effect": "Allow", "Action": "ssm:TerminateSession",
   "Resource": "arn:aws:ssm:*:*:session/${aws:username}-*"},
  {"Sid": "DenySMtoProd", "Effect": "Deny", "Action": "ssm:StartSession",
   "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ssm:*:*:managed-instance/*"],
   "Condition": {"StringLike": {"ssm:resourceTag/Environment": "Prod"}}}
 ]
}
EOF
cat >OnCallProd.json <<'EOF'
{
 "Version": "2012-10-17",
 "Statement": [
  {"Effect": "Allow", "Action": ["ssm:StartSession"],
   "Resource": ["arn:aws:ssm:*:*:managed-instance/*", "arn:aws:ssm:*:*:document/*"],
   "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
  {"Effect": "Allow", "Action": ["ssm:DescribeSessions", "ssm:DescribeInstanceInformation",
   "ssm:GetTranscript"], "Resource": "*"},
  {"Effect": "Allow", "Action": "ssm:TerminateSession", "Resource": "arn:aws:ssm:*:*:session/*"}
 ]
}
EOF
B policy attach --user alice SSMDevAccess.json >/dev/null
B policy attach --user carol OnCallProd.json >/dev/null
B policy attach --user oscar OnCallProd.json >/dev/null
note "alice: the workshop's SSMDevAccess (Deny StartSession on Environment=Prod; the"
note "       on-premises ARN added to its Deny, so that it covers managed instances too)"
note "carol and oscar: OnCallProd (StartSession anywhere, only with MFA)"

totp() {
	python3 - "$1" <<'PY'
import base64, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), "sha1").digest()
o = mac[19] & 15
print("%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000))
PY
}
user_ssm() { # USER ARGS...: the client as that user (its own credential cache)
	_u=$1; shift
	XDG_CONFIG_HOME="$work/users/$_u" $IB "$ssm_bin" "$@"
}
mkdir -p users
printf 'alice password\n' | user_ssm alice login --broker "$URL" --ca "$work/broker/ca.crt" --user alice | indent
printf 'carol password\n' | user_ssm carol login --broker "$URL" --ca "$work/broker/ca.crt" --user carol | indent
printf 'oscar password\n%s\n' "$(totp "$OSCAR_SECRET")" |
	user_ssm oscar login --broker "$URL" --ca "$work/broker/ca.crt" --user oscar | indent

say "alice: describe-instance-information (what the fleet looks like to her)"
user_ssm alice describe-instance-information | python3 -c 'import json,sys; [print("    | %s  %s" % (i["InstanceId"], i["PingStatus"])) for i in json.load(sys.stdin)["InstanceInformationList"]]'

say "alice starts a shell on dev-web: whoami says ssm-user"
printf 'whoami\nhostname -I\n' | user_ssm alice start-session --target "$ID_dev_web" >alice-dev.out 2>alice-dev.err || true
indent <alice-dev.out
if grep -qx ssm-user alice-dev.out; then ok "a shell as ssm-user on a Dev host"; else bad "no ssm-user shell"; cat alice-dev.err; fi

say "alice tries prod-web: AccessDenied (the Deny for Environment=Prod)"
if user_ssm alice start-session --target "$ID_prod_web" </dev/null >/dev/null 2>alice-prod.err; then
	bad "alice reached Prod"
else
	indent <alice-prod.err
	if grep -q AccessDenied alice-prod.err; then ok "refused by the broker, nothing reached the host"; else bad "refused, but not with AccessDenied"; fi
fi

say "carol (on call, logged in without MFA) tries prod-db: AccessDenied"
if user_ssm carol start-session --target "$ID_prod_db" </dev/null >/dev/null 2>carol.err; then
	bad "carol reached Prod without MFA"
else
	indent <carol.err
	if grep -q AccessDenied carol.err; then ok "MFA is required and carol has none"; else bad "refused, but not with AccessDenied"; fi
fi

say "oscar (on call, logged in with his TOTP code) reaches prod-db"
printf 'whoami\n' | user_ssm oscar start-session --target "$ID_prod_db" >oscar.out 2>oscar.err || true
indent <oscar.out
if grep -qx ssm-user oscar.out; then ok "aws:MultiFactorAuthPresent was true: Prod with MFA"; else bad "oscar did not reach prod-db"; cat oscar.err; fi

say "An interactive-command document: ViewLog runs one command only, with a checked parameter"
user_ssm alice start-session --target "$ID_dev_db" --document-name ViewLog \
	--parameters "logpath=/var/log/dpkg.log" </dev/null >viewlog.out 2>viewlog.err || true
indent <viewlog.out | head -4
user_ssm alice start-session --target "$ID_dev_db" --document-name ViewLog \
	--parameters 'logpath=/etc/shadow' </dev/null >/dev/null 2>viewlog-bad.err || true
indent <viewlog-bad.err
if [ -s viewlog.out ]; then ok "ViewLog showed the log"; else bad "ViewLog showed nothing"; cat viewlog.err; fi
if grep -q InvalidParameters viewlog-bad.err; then ok "a logpath outside /var/log is refused before any host is asked"; else bad "a logpath outside /var/log was not refused"; fi

say "A document put at the broker only: the host fetches it over its channel, then runs it"
mkdir -p broker-docs
cat >broker-docs/DiskSpace.json <<'EOF'
{"schemaVersion": "1.0", "description": "Free space on /, written at the broker only",
 "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo disk-space-report; df -P / | tail -n 1"}}}
EOF
chmod 0644 broker-docs/DiskSpace.json
B document put DiskSpace broker-docs/DiskSpace.json >/dev/null
note "no host holds DiskSpace in its documents_dir ($work/docs); the broker has it"
user_ssm alice start-session --target "$ID_dev_web" --document-name DiskSpace </dev/null >disk.out 2>disk.err || true
indent <disk.out
grep 'document DiskSpace' hosts/dev-web/agent.log | sed 's/.*ssm-agent: //' | indent
if grep -qx disk-space-report disk.out && ls hosts/dev-web/state/documents/DiskSpace@*.json >/dev/null 2>&1 &&
	cmp -s broker-docs/DiskSpace.json hosts/dev-web/state/documents/DiskSpace@*.json; then
	ok "dev-web fetched the exact bytes the token names (cached in state_dir/documents), then PAM judged the login as ever"
else
	bad "the broker-only document did not run"; indent <disk.err
fi

say "Port forwarding: a web server on dev-web's 127.0.0.1:8080, curl through a local port"
mkdir -p www && echo "hello from dev-web, through the channel" >www/index.html
ip netns exec ssmw-dev-web python3 -m http.server --bind 127.0.0.1 --directory "$work/www" 8080 >www.log 2>&1 &
PIDS="$PIDS $!"
n=0; while ! ip netns exec ssmw-dev-web ss -Hltn | grep -q 127.0.0.1:8080 && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
user_ssm alice start-session --target "$ID_dev_web" --document-name AWS-StartPortForwardingSession \
	--parameters portNumber=8080,localPortNumber=18080 </dev/null >pf.out 2>pf.err &
PFPID=$!
n=0; while ! grep -q opened pf.err && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
indent <pf.err
got=$($IB curl -sS --max-time 10 http://127.0.0.1:18080/index.html || true)
note "curl http://127.0.0.1:18080/ -> $got"
if [ "$got" = "hello from dev-web, through the channel" ]; then ok "the page came through the channel"; else bad "curl through the local port got: $got"; fi
pkill -INT -f 'localPortNumber=18080' || true
wait $PFPID 2>/dev/null || true

say "scp through ssh's ProxyCommand (AWS-StartSSHSession) to an sshd on dev-web's 127.0.0.1:22 only"
ssh-keygen -q -t ed25519 -N '' -f sshhost
ssh-keygen -q -t ed25519 -N '' -f alice-key
mkdir -p "home/ec2-user/.ssh" && cp alice-key.pub home/ec2-user/.ssh/authorized_keys
chown -R ec2-user:ec2-user home/ec2-user/.ssh && chmod 0700 home/ec2-user/.ssh
printf '%s\n' "ListenAddress 127.0.0.1" "HostKey $work/sshhost" "PidFile $work/sshd.pid" \
	"UsePAM no" "PasswordAuthentication no" "KbdInteractiveAuthentication no" \
	"StrictModes no" "Subsystem sftp internal-sftp" >sshd_config
ip netns exec ssmw-dev-web /usr/sbin/sshd -D -e -f "$work/sshd_config" >sshd.log 2>&1 &
PIDS="$PIDS $!"
n=0; while ! ip netns exec ssmw-dev-web ss -Hltn | grep -q 127.0.0.1:22 && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
cat >ssh_config <<EOF
Host i-* mi-*
  ProxyCommand env XDG_CONFIG_HOME=$work/users/alice $ssm_bin start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p
  IdentityFile $work/alice-key
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
EOF
note "~/.ssh/config, as AWS documents it:"
indent <ssh_config
echo "a report alice copies to dev-web" >report.txt
if $IB scp -F ssh_config report.txt "ec2-user@$ID_dev_web:report.txt" 2>scp.err &&
	cmp -s report.txt home/ec2-user/report.txt; then
	ok "scp report.txt ec2-user@$ID_dev_web: arrived intact"
else
	bad "scp failed"; indent <scp.err
fi

say "An idle timeout: the shell document ends a session after 6 s without input"
mkfifo idle.in
(sleep 15 >idle.in) &
t0=$(date +%s)
user_ssm alice start-session --target "$ID_dev_web" <idle.in >idle.out 2>idle.err || true
t1=$(date +%s)
note "the session ended after $((t1 - t0)) s with no input; the host says: $(tr -d '\r' <idle.out | grep -i idle | head -1)"
if [ $((t1 - t0)) -lt 14 ] && tr -d '\r' <idle.out | grep -qi idle; then ok "ended by the host's idle timeout, not by the end of input"; else bad "the session was not ended by the idle timeout"; fi

say "A terminate from the broker: oscar ends alice's long command on dev-db"
user_ssm alice start-session --target "$ID_dev_db" --document-name Sleep </dev/null >sleep.out 2>sleep.err &
SPID=$!
n=0; while ! grep -q working sleep.out && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
sid=$(sed -n 's/^Starting session with SessionId: //p' sleep.err)
note "alice's session: $sid"
user_ssm oscar terminate-session --session-id "$sid" | indent
t0=$(date +%s%N)
wait $SPID 2>/dev/null || true
t1=$(date +%s%N)
ended_terminated() { grep "\"sid\":\"$sid\"" hosts/dev-db/log/audit.jsonl | grep -q '"event":"session_end".*"reason":"terminated"'; }
n=0; while ! ended_terminated && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
if [ $(( (t1 - t0) / 1000000 )) -lt 5000 ] && ended_terminated; then
	ok "alice's client ended $(( (t1 - t0) / 1000000 )) ms after TerminateSession"
else
	bad "alice's session did not end as terminated within 5 s"; cat sleep.err
fi

say "A network cut: dev-db's network dropped for 12 s mid-session (nftables in its namespace)"
cat >docs/Count.json <<'EOF'
{"schemaVersion": "1.0", "description": "40 numbered lines, two a second",
 "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "i=1; while [ $i -le 40 ]; do echo line-$i; i=$((i+1)); sleep 0.5; done"}}}
EOF
chmod 0644 docs/Count.json
B document put Count docs/Count.json >/dev/null
user_ssm alice start-session --target "$ID_dev_db" --document-name Count </dev/null >count.out 2>count.err &
CPID=$!
n=0; while ! grep -q line-4 count.out && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
ip netns exec ssmw-dev-db nft -f - <<'EOF'
table inet democut {
	chain in { type filter hook input priority -10; policy accept; iifname "vh11" drop; }
	chain out { type filter hook output priority -10; policy accept; oifname "vh11" drop; }
}
EOF
note "cut at $(tail -n 1 count.out); every packet in or out of dev-db is dropped"
n=0; while ! grep -q 'disconnected: .*channels wait' hosts/dev-db/agent.log && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
grep 'disconnected: .*channels wait' hosts/dev-db/agent.log | tail -1 | sed 's/.*ssm-agent: /dev-db: /' | indent
sleep 6 # the rest of the cut: the session goes on printing on dev-db meanwhile
ip netns exec ssmw-dev-db nft delete table inet democut
note "the network is back"
wait $CPID 2>/dev/null || true
grep 'resuming' hosts/dev-db/agent.log | tail -1 | sed 's/.*ssm-agent: /dev-db: /' | indent
if [ "$(grep -c '^line-' count.out)" = 40 ] && seq 1 40 | sed 's/^/line-/' | cmp -s - count.out; then
	ok "the session went on: all 40 lines arrived, in order, none twice (PROTOCOL.md section 6, resumption)"
else
	bad "lines lost or repeated across the cut"; tail -3 count.err | indent
fi

say "The broker restarts mid-session: killed (SIGKILL) and started again on the same state"
user_ssm alice start-session --target "$ID_dev_db" --document-name Count </dev/null >count2.out 2>count2.err &
CPID=$!
n=0; while ! grep -q line-4 count2.out && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
kill -9 "$BPID"
wait "$BPID" 2>/dev/null || true
note "broker killed at $(tail -n 1 count2.out); the host and the client keep what the other has not acknowledged"
$IB "$broker_bin" serve --state-dir "$work/broker" --listen 10.77.0.1:8443 --keepalive 2:6 >>broker.log 2>&1 &
BPID=$!
PIDS="$PIDS $BPID"
wait $CPID 2>/dev/null || true
grep 'sessions from before the restart\|both ends are back' broker.log | tail -2 | sed 's/.*ssm-broker: /broker: /' | indent
if [ "$(grep -c '^line-' count2.out)" = 40 ] && seq 1 40 | sed 's/^/line-/' | cmp -s - count2.out; then
	ok "the session went on: all 40 lines arrived, in order, none twice (PROTOCOL.md section 6, a broker that restarted)"
else
	bad "lines lost or repeated across the broker restart"; tail -3 count2.err | indent
fi

say "The session history (describe-sessions --state History, as alice)"
user_ssm alice describe-sessions --state History --output text >history.txt 2>history.err || true
cut -f2,5,7,8 history.txt | indent
if grep -q "$(sed -n 's/^Starting session with SessionId: //p' alice-dev.err)" history.txt; then
	ok "alice's sessions are in the history"
else
	bad "the history does not list alice's first session"; cat history.err
fi

say "A transcript played back from the broker (ssm get-transcript | asciinema cat)"
dsid=$(sed -n 's/^Starting session with SessionId: //p' alice-dev.err)
n=0; while ! user_ssm oscar get-transcript --session-id "$dsid" >dev.cast 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
script -qec "asciinema cat $work/dev.cast" /dev/null </dev/null | tr -d '\r' | indent
if cmp -s dev.cast "hosts/dev-web/log/sessions/$dsid.cast"; then
	ok "the broker's copy is byte for byte the host's (log_dir/sessions/$dsid.cast)"
else
	bad "the broker's copy of $dsid differs from the host's"
fi

say "Where to look"
note "$work/broker.log                 the broker's log"
note "$work/hosts/*/log/audit.jsonl    each host's audit log; sessions/*.cast its transcripts"
note "$work/broker/transcripts/        the transcripts the hosts delivered to the broker"
if [ $status = 0 ]; then say "Workshop done: every step behaved as described"; else say "Something was UNEXPECTED (above)"; fi
exit $status
