#!/bin/sh
# channel_ec2.sh - hosts registered by their EC2 instance identity (issue 8 point 5), as
# root: `ssmctl register --ec2` reads the instance identity document and its PKCS7
# signature from the instance metadata service (IMDSv2), the broker verifies the signature
# against the certificates its administrator trusts, checks the account and region, and
# names the host by its instanceId; then sessions to the i- host, with IAM policies on its
# EC2 ARN (arn:aws:ec2:REGION:ACCOUNT:instance/ID) and its tags.
#
# The instance metadata service does not exist here: tests/imds_emulator.py serves IMDSv2
# on 169.254.169.254:80 inside the host's network namespace, while the host registers
# (stopped before the agent starts: the host listens on nothing), serving documents this
# test signs with a key and certificate it made with the openssl CLI ("AWS's" signing
# certificate, trusted by the broker) and with another one (an untrusted signer).
#
# Isolation as tests/channel_sessions.sh: private mount and pid namespaces, two network
# namespaces joined by a veth pair (169.254.78.0/30).  Every wait polls with a bound.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
command -v ss >/dev/null 2>&1 || { echo "SKIP: ss missing"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: the openssl command is missing"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing (the IMDS emulator)"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

BROKER=$builddir/brokerd/ssm-broker
AGENT=$builddir/agent/ssm-agent
SSMCTL=$builddir/ssmctl/ssmctl
SSM=$builddir/client/ssm
MODULE=$builddir/pam_ssmsession/.libs/pam_ssmsession.so
IMDS_EMU=$srcdir/tests/imds_emulator.py
for p in "$BROKER" "$AGENT" "$SSMCTL" "$SSM" "$MODULE"; do
	[ -e "$p" ] || { echo "FAIL: $p not built"; exit 1; }
done
sed -i -e "s|^\(ssmtu2\{0,1\}:.*:\)/bin/bash\$|\1$SSM_SHELL|" /etc/passwd

mount -t tmpfs -o mode=0755 ssm-run /run || { echo "FAIL: cannot mount /run"; exit 1; }
touch /run/utmp && chmod 0664 /run/utmp
NB=ssmeb$$ NH=ssmeh$$ VB=veb$$ VH=veh$$
BIP=169.254.78.1 HIP=169.254.78.2 PORT=8443 URL=https://169.254.78.1:8443
PIDS="" IMDS_PID=""
cleanup_net() {
	for p in $PIDS $IMDS_PID; do kill "$p" 2>/dev/null; done
	for p in $PIDS $IMDS_PID; do wait "$p" 2>/dev/null; done
	ip netns del "$NB" 2>/dev/null
	ip netns del "$NH" 2>/dev/null
}
trap cleanup_net EXIT
ip netns add "$NB" && ip netns add "$NH" || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip link add "$VB" type veth peer name "$VH" || { echo "SKIP: no veth"; exit 77; }
ip link set "$VB" netns "$NB" && ip link set "$VH" netns "$NH"
ip -n "$NB" addr add "$BIP/30" dev "$VB" && ip -n "$NH" addr add "$HIP/30" dev "$VH"
for n in "$NB" "$NH"; do ip -n "$n" link set lo up; done
ip -n "$NB" link set "$VB" up && ip -n "$NH" link set "$VH" up
# the metadata service's link-local address, inside the host's namespace only
ip -n "$NH" addr add 169.254.169.254/32 dev lo
IB="ip netns exec $NB"
IH="ip netns exec $NH"
ST=$T/st
ACCOUNT=111122223333 REGION=eu-west-3
IID=i-0$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
IID=$(printf '%.19s' "$IID")

# ---- the signing keys: "AWS's" (trusted by the broker) and another (never trusted)
mkdir -p "$T/pki" "$T/imds"
for k in aws rogue; do
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/pki/$k.key" -out "$T/pki/$k.crt" \
		-days 30 -subj "/C=US/O=Test $k EC2 identity signer" >/dev/null 2>&1 ||
		{ echo "FAIL: openssl req ($k)"; exit 1; }
done

# mkdoc_ec2 FILE ID ACCOUNT REGION PENDINGTIME: an identity document as AWS formats it
mkdoc_ec2() {
	python3 - "$@" <<'PY'
import json, sys
f, iid, acct, region, pending = sys.argv[1:6]
d = {"accountId": acct, "architecture": "x86_64", "availabilityZone": region + "a",
     "billingProducts": None, "devpayProductCodes": None, "marketplaceProductCodes": None,
     "imageId": "ami-0abcdef1234567890", "instanceId": iid, "instanceType": "t3.micro",
     "kernelId": None, "pendingTime": pending, "privateIp": "10.0.0.12",
     "ramdiskId": None, "region": region, "version": "2017-09-30"}
open(f, "w").write(json.dumps(d, indent=2, separators=(",", " : ")))
PY
}
# sign DOC KEYNAME OUT: the detached PKCS7 signature, base64 in lines of 64 as IMDS serves it
sign() {
	openssl smime -sign -binary -in "$1" -inkey "$T/pki/$2.key" -signer "$T/pki/$2.crt" \
		-nocerts -md sha256 -outform DER 2>/dev/null | base64 -w 64 >"$3"
	[ -s "$3" ] || { echo "FAIL: openssl smime -sign"; exit 1; }
}
# serve ID ACCOUNT REGION PENDING KEYNAME: what the emulator answers from now on
serve() {
	mkdoc_ec2 "$T/imds/document" "$1" "$2" "$3" "$4"
	sign "$T/imds/document" "$5" "$T/imds/pkcs7"
	cp "$T/imds/pkcs7" "$T/imds/rsa2048"
}
start_imds() { # MODE
	[ -n "$IMDS_PID" ] && { kill "$IMDS_PID" 2>/dev/null; wait "$IMDS_PID" 2>/dev/null; }
	rm -f "$T/imds.ready"
	$IH python3 "$IMDS_EMU" --listen 169.254.169.254:80 --dir "$T/imds" --mode "$1" \
		--ready "$T/imds.ready" 2>>"$T/imds.log" &
	IMDS_PID=$!
	ssm_wait_for 10 test -e "$T/imds.ready" || { echo "FAIL: the IMDS emulator did not start"; exit 1; }
}
stop_imds() {
	kill "$IMDS_PID" 2>/dev/null; wait "$IMDS_PID" 2>/dev/null; IMDS_PID=""
}
# register [CONFIG [extra args]]: ssmctl register --ec2 in the host's namespace
register() {
	_c=${1:-$CONF_PATH}; [ $# -gt 0 ] && shift
	$IH "$SSMCTL" register --broker "$URL" --ca "$ST/ca.crt" --ec2 --config "$_c" "$@" \
		>"$T/reg.out" 2>"$T/reg.err"
}
refused() { # WHAT: the last registration failed and said WHAT on one line
	! [ -s "$T/reg.out" ] && [ "$(wc -l <"$T/reg.err")" = 1 ] && grep -q -- "$1" "$T/reg.err" ||
		{ echo "  got: $(cat "$T/reg.out" "$T/reg.err")"; false; }
}
no_ec2_host() { ! "$BROKER" host list --state-dir "$ST" | grep -q '^i-'; }

# ---- the broker
$IB "$BROKER" serve --state-dir "$ST" --listen "$BIP:$PORT" --keepalive 2:6 >"$T/broker.log" 2>&1 &
PIDS="$PIDS $!"
ssm_check "the broker starts" ssm_wait_for 10 grep -q "listening on $BIP:$PORT" "$T/broker.log"

PENDING=2026-11-30T08:00:00Z
serve "$IID" $ACCOUNT $REGION $PENDING aws
start_imds normal
ssm_check "the IMDS emulator is IMDSv2 only: a GET without a token gets 401" sh -c \
	"[ \"\$($IH curl -s -o /dev/null -w '%{http_code}' http://169.254.169.254/latest/dynamic/instance-identity/document)\" = 401 ]"

# ---- refusals
register
ssm_check "a broker that trusts no EC2 signing certificate refuses" refused "trusts no EC2 signing certificate"
"$BROKER" ec2 trust add --state-dir "$ST" --cert "$T/pki/aws.crt" >"$T/trust.out" 2>&1
ssm_check "ssm-broker ec2 trust add takes the signing certificate" grep -q "^trusted [0-9a-f]\{64\} " "$T/trust.out"
register
ssm_check "a trusted signature from an account not allowed is refused" refused "account $ACCOUNT is not allowed"
"$BROKER" ec2 account add --state-dir "$ST" $ACCOUNT --region $REGION --tag Environment=Dev >/dev/null
ssm_check "ssm-broker ec2 account add lists the account" sh -c \
	"'$BROKER' ec2 account list --state-dir '$ST' | grep -q '^$ACCOUNT  \[\"$REGION\"\]  {\"Environment\":\"Dev\"}$'"

serve "$IID" $ACCOUNT $REGION $PENDING rogue
register
ssm_check "a document signed by an untrusted signer is refused" refused "does not verify against a trusted certificate"
serve "$IID" $ACCOUNT $REGION $PENDING aws
sed -i 's/"t3.micro"/"t3.large"/' "$T/imds/document"
register
ssm_check "a tampered document (its signature over other bytes) is refused" refused "does not verify against a trusted certificate"
serve "$IID" 444455556666 $REGION $PENDING aws
register
ssm_check "a document of another account is refused" refused "account 444455556666 is not allowed"
serve "$IID" $ACCOUNT us-east-1 $PENDING aws
register
ssm_check "a document of a region the account does not allow is refused" refused "region us-east-1 is not allowed"
ssm_check "  and none of them registered a host" no_ec2_host

serve "$IID" $ACCOUNT $REGION $PENDING aws
start_imds notoken
register
ssm_check "an IMDS that refuses the IMDSv2 token: one clear line" refused "refused an IMDSv2 session token (HTTP 403)"
start_imds garbage
register
ssm_check "an IMDS answering something that is no identity document: one clear line" refused "a bad answer: identity document is not a JSON object"
register "$CONF_PATH" --imds http://169.254.169.254:81
ssm_check "no IMDS listening: one clear line" refused "no instance metadata service at http://169.254.169.254:81: Connection refused"
start_imds hang
t0=$(date +%s)
register
t1=$(date +%s)
ssm_check "an IMDS that never answers: a timeout, one clear line" refused "no answer to /latest/api/token within 5000 ms"
ssm_check "  within the 5 s bound ($((t1 - t0)) s)" [ $((t1 - t0)) -le 8 ]
register "$CONF_PATH" --activation-id x --activation-code y
ssm_check "--ec2 with an activation is a usage error" refused "no --activation-id or --activation-code"
ssm_check "  still no host registered" no_ec2_host

# ---- registration by identity
start_imds normal
ssm_check "the host registers by its instance identity" register
HID=$(cat "$T/reg.out")
ssm_check "  and prints its instanceId ($HID)" [ "$HID" = "$IID" ]
ssm_check "  the configuration names it, with the account's tags" python3 -c "
import json; c = json.load(open('$CONF_PATH'))
assert c['host_id'] == '$IID' and c['host_tags'] == {'Environment': 'Dev'}, c"
ssm_check "  its certificate names urn:ssmsession:host:$IID" sh -c \
	"openssl x509 -in '$CONF_DIR/host.crt' -noout -ext subjectAltName | grep -q 'URI:urn:ssmsession:host:$IID\$'"
ssm_check "  the registration nonce is kept 0600" sh -c "[ \"\$(stat -c %a '$CONF_DIR/ec2-nonce')\" = 600 ]"
ssm_check "  the broker lists the host" sh -c "'$BROKER' host list --state-dir '$ST' | grep -q '^$IID '"
SERIAL1=$(openssl x509 -in "$CONF_DIR/host.crt" -noout -serial | cut -d= -f2)

ssm_check "the same instance registers again (its nonce)" register
ssm_check "  under the same id" [ "$(cat "$T/reg.out")" = "$IID" ]
SERIAL2=$(openssl x509 -in "$CONF_DIR/host.crt" -noout -serial | cut -d= -f2)
ssm_check "  with a new certificate" [ "$SERIAL1" != "$SERIAL2" ]
ssm_check "  the broker logs it, the old certificate revoked" grep -q "registered host $IID (serial [0-9a-f]*, EC2 account $ACCOUNT region $REGION, pendingTime $PENDING): registered again, certificate [0-9a-f]* revoked" "$T/broker.log"
mkdir -p "$T/other"
register "$T/other/ssmsession.json"
ssm_check "another host presenting the same document (no nonce of this instance) is refused" refused "already registered, and this request does not carry its registration nonce"
serve "$IID" $ACCOUNT $REGION 2026-11-01T08:00:00Z aws
register
ssm_check "a document with an older pendingTime than the registered one is refused" refused "pendingTime is older"

# ---- the nonce is one instance's secret
ssm_check "the registration nonce names the instance it was made for" \
	grep -q "^$IID [A-Za-z0-9_-]\{43\}\$" "$CONF_DIR/ec2-nonce"
newiid() { printf '%.19s' "i-0$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"; }
# a clone: another instance started from an image made after this host registered, or with
# its configuration directory copied: it must not present this instance's nonce, which
# would let root there take this instance's registration over with its (public) document
IID2=$(newiid)
mkdir -p "$T/clone" && cp -p "$CONF_DIR/ec2-nonce" "$T/clone/ec2-nonce"
serve "$IID2" $ACCOUNT $REGION $PENDING aws
ssm_check "a clone carrying the registered instance's ec2-nonce registers as itself" \
	register "$T/clone/ssmsession.json"
ssm_check "  says the nonce file was another instance's" grep -q "was made for instance $IID, not this one ($IID2)" "$T/reg.err"
ssm_check "  and now keeps a nonce of its own, not the first instance's" sh -c \
	"grep -q '^$IID2 ' '$T/clone/ec2-nonce' && [ \"\$(stat -c %a '$T/clone/ec2-nonce')\" = 600 ] &&
	 [ \"\$(cut -d' ' -f2 '$T/clone/ec2-nonce')\" != \"\$(cut -d' ' -f2 '$CONF_DIR/ec2-nonce')\" ]"
mkdir -p "$T/takeover"
printf '%s %s\n' "$IID" "$(cut -d' ' -f2 "$T/clone/ec2-nonce")" >"$T/takeover/ec2-nonce"
chmod 0600 "$T/takeover/ec2-nonce"
serve "$IID" $ACCOUNT $REGION $PENDING aws
register "$T/takeover/ssmsession.json"
ssm_check "  so root on the clone cannot re-register the first instance with the clone's nonce" \
	refused "already registered, and this request does not carry its registration nonce"
# a host presenting another instance's nonce all the same (another client, a file made by hand)
IID3=$(newiid)
mkdir -p "$T/clone2"
printf '%s %s\n' "$IID3" "$(cut -d' ' -f2 "$CONF_DIR/ec2-nonce")" >"$T/clone2/ec2-nonce"
chmod 0600 "$T/clone2/ec2-nonce"
serve "$IID3" $ACCOUNT $REGION $PENDING aws
register "$T/clone2/ssmsession.json"
ssm_check "the broker refuses a first registration presenting another instance's nonce" \
	refused "presents the registration nonce of another instance"
serve "$IID" $ACCOUNT $REGION $PENDING aws
chmod 0640 "$CONF_DIR/ec2-nonce"
register
ssm_check "an ec2-nonce open to group or others is refused, never presented" \
	refused "ec2-nonce: a secret, but open to group or others (mode 0640)"
chmod 0600 "$CONF_DIR/ec2-nonce"
ssm_check "  and once it is 0600 again the instance registers again" register
cp -p "$CONF_DIR/ec2-nonce" "$T/nonce.keep"
cut -d' ' -f2 "$T/nonce.keep" >"$CONF_DIR/ec2-nonce"
register
ssm_check "a nonce file without its instance id (the first version's) is refused, saying what to do" \
	refused "a nonce without the instance it was made for: if it is this instance's, write it as \"$IID NONCE\""
cp -p "$T/nonce.keep" "$CONF_DIR/ec2-nonce"

# an 8-digit instance id, signed at rsa2048
mkdir -p "$T/h8"
serve i-0a1b2c3d $ACCOUNT $REGION $PENDING aws
: >"$T/imds/pkcs7"
ssm_check "an 8-digit instance id registers, its signature read from rsa2048" \
	register "$T/h8/ssmsession.json" --ec2-signature rsa2048
ssm_check "  and prints i-0a1b2c3d" [ "$(cat "$T/reg.out")" = i-0a1b2c3d ]
stop_imds

# ---- the agent, sessions, policies on the EC2 ARN
python3 - "$CONF_PATH" "$T" <<'PY'
import json, sys
p, t = sys.argv[1:3]
c = json.load(open(p))
c.update({"documents_dir": t + "/docs", "run_as_allowed": ["ssmtu", "ssmtu2"],
          "run_dir": t + "/run", "log_dir": t + "/log", "state_dir": t + "/state",
          "recorder_user": "ssmsession"})
json.dump(c, open(p, "w"))
PY
chmod 0644 "$CONF_PATH"
printf 'auth required %s\naccount required %s\nsession required pam_limits.so\nsession required %s\n' \
	"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/ssm-session
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "20"}}'
mkdoc Cmd-Whoami '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo WHOAMI=$(whoami)"}}}'
for d in SSM-SessionManagerRunShell Cmd-Whoami; do
	"$BROKER" document put --state-dir "$ST" "$d" "$T/docs/$d.json" >/dev/null
done
$IH "$AGENT" --config "$CONF_PATH" --keepalive 2:6 >"$T/agent.log" 2>&1 &
PIDS="$PIDS $!"
ssm_check "the agent of the i- host links up" ssm_wait_for 15 grep -q "agent $HID linked" "$T/broker.log"
ssm_check "no listening socket in the host's network namespace" sh -c "[ -z \"\$($IH ss -Htuln)\" ]"

# alice: EC2 instances of this account and region tagged Dev; bob: managed instances only;
# carol: EC2 instances in us-east-1
policy() { # USER RESOURCE
	cat >"$T/$1.json" <<EOF
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "$2",
  "Condition": {"StringEquals": {"ssm:resourceTag/Environment": "Dev"}}},
 {"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "arn:aws:ssm:*:*:document/*"},
 {"Effect": "Allow", "Action": "ssm:DescribeInstanceInformation", "Resource": "*"}]}
EOF
	printf 'password-%s\n' "$1" | "$BROKER" user add "$1" --state-dir "$ST" >/dev/null
	"$BROKER" user set-run-as "$1" ssmtu --state-dir "$ST" >/dev/null
	"$BROKER" policy attach --user "$1" "$T/$1.json" --state-dir "$ST" >/dev/null
	printf 'password-%s\n' "$1" | XDG_CONFIG_HOME="$T/cfg-$1" $IB "$SSM" login --broker "$URL" \
		--ca "$ST/ca.crt" --user "$1" >/dev/null 2>"$T/login-$1.err" ||
		{ echo "FAIL: ssm login $1: $(cat "$T/login-$1.err")"; exit 1; }
}
policy alice "arn:aws:ec2:$REGION:$ACCOUNT:instance/*"
policy bob "arn:aws:ssm:*:*:managed-instance/*"
policy carol "arn:aws:ec2:us-east-1:*:instance/*"
whoami_as() { # USER: a Cmd-Whoami session's output and errors into $T/USER.out, .err
	XDG_CONFIG_HOME="$T/cfg-$1" $IB "$SSM" start-session --target "$HID" --document-name Cmd-Whoami \
		</dev/null >"$T/$1.out" 2>"$T/$1.err"
}
whoami_as alice
ssm_check "a session to the i- host: alice (arn:aws:ec2:$REGION:$ACCOUNT:instance/*, tag Dev) gets whoami = ssmtu" \
	grep -qx WHOAMI=ssmtu "$T/alice.out"
whoami_as bob
ssm_check "bob (managed instances only) is refused on the EC2 instance's ARN" grep -q \
	"(AccessDeniedException) .*: User: bob is not authorized to perform: ssm:StartSession on resource: arn:aws:ec2:$REGION:$ACCOUNT:instance/$HID" "$T/bob.err"
whoami_as carol
ssm_check "carol (EC2 instances in us-east-1) is refused: the ARN has the document's region" \
	grep -q "(AccessDeniedException) .*: User: carol is not authorized to perform: ssm:StartSession on resource: arn:aws:ec2:$REGION:$ACCOUNT:instance/$HID" "$T/carol.err"
"$BROKER" ec2 tag --state-dir "$ST" "$HID" Environment=Prod >"$T/tag.out" 2>&1
ssm_check "ssm-broker ec2 tag retags the registered host at once" grep -q "\"Environment\":\"Prod\"" "$T/tag.out"
whoami_as alice
ssm_check "  alice is now refused (ssm:resourceTag/Environment is Prod)" grep -q "AccessDeniedException" "$T/alice.err"
"$BROKER" ec2 tag --state-dir "$ST" "$HID" Environment=Dev >/dev/null 2>&1
whoami_as alice
ssm_check "  and let in again once it is Dev" grep -qx WHOAMI=ssmtu "$T/alice.out"
ssm_check "describe-instance-information says EC2Instance for the i- host" sh -c \
	"XDG_CONFIG_HOME='$T/cfg-alice' $IB '$SSM' describe-instance-information | python3 -c '
import json, sys
l = {i[\"InstanceId\"]: i for i in json.load(sys.stdin)[\"InstanceInformationList\"]}
assert l[\"$HID\"][\"ResourceType\"] == \"EC2Instance\" and l[\"$HID\"][\"PingStatus\"] == \"Online\", l'"

ssm_check "the i- host's audit log reaches the broker under its instance id" ssm_wait_for 15 sh -c \
	"'$BROKER' audit show --state-dir '$ST' --host '$HID' 2>/dev/null | python3 -c 'import json, sys; l = [json.loads(x) for x in sys.stdin]; assert any(e[\"event\"] == \"session_start\" and e[\"host_id\"] == \"$HID\" for e in l)' 2>/dev/null"
ssm_check "ssm-broker host revoke takes an i- id" sh -c "'$BROKER' host revoke --state-dir '$ST' i-0a1b2c3d >/dev/null"

# ---- forget: the registration and its certificates are gone
"$BROKER" ec2 forget --state-dir "$ST" "$HID" >/dev/null
ssm_check "ssm-broker ec2 forget: the agent is disconnected" ssm_wait_for 10 grep -q "agent $HID: disconnecting\|agent $HID disconnected" "$T/broker.log"
ssm_check "  and the host is no longer listed" sh -c "! '$BROKER' host list --state-dir '$ST' | grep -q '^$HID '"
ssm_done
