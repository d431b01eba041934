#!/bin/sh
# channel_link.sh - the host-broker link (issue 8) end to end, as root, in two network
# namespaces of its own joined by a veth pair (169.254.77.0/30, nothing else reachable):
# the broker in one, the host in the other.  Registration with activations (limit, expiry,
# wrong code), the agent's link and keepalive, no listening socket on the host, refused
# certificates both ways, revocation within 2 s, the broker killed and restarted, the path
# silently dropping packets for 10 s.  Every wait is bounded and polls a log or the host
# list (ssm_wait_for), except the expiry wait and the 10 s drop themselves.
set -u
srcdir=${srcdir:-.}
. "$srcdir/tests/lib.sh"
ssm_require_root
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
command -v ss >/dev/null 2>&1 || { echo "SKIP: ss missing"; exit 77; }
BROKER=$PWD/brokerd/ssm-broker
AGENT=$PWD/agent/ssm-agent
SSMCTL=$PWD/ssmctl/ssmctl
for p in "$BROKER" "$AGENT" "$SSMCTL"; do
	[ -x "$p" ] || { echo "FAIL: $p not built"; exit 1; }
done
NB=ssmlb$$ NH=ssmlh$$ VB=vlb$$ VH=vlh$$
BIP=169.254.77.1 HIP=169.254.77.2 PORT=8443
T=$(mktemp -d /tmp/ssmlink.XXXXXX) || exit 1
chmod 0755 "$T"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del "$NB" 2>/dev/null
	ip netns del "$NH" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$NB" && ip netns add "$NH" || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip link add "$VB" type veth peer name "$VH" || { echo "SKIP: no veth"; exit 77; }
ip link set "$VB" netns "$NB" && ip link set "$VH" netns "$NH"
ip -n "$NB" addr add "$BIP/30" dev "$VB" && ip -n "$NH" addr add "$HIP/30" dev "$VH"
for n in "$NB" "$NH"; do ip -n "$n" link set lo up; done
ip -n "$NB" link set "$VB" up && ip -n "$NH" link set "$VH" up
IB="ip netns exec $NB"
IH="ip netns exec $NH"
KA=2:6 # keepalive for the test: PING after 2 s of silence, dead after 6 s (protocol: 15:45)

start_broker() { # STATE PORT LOG
	$IB "$BROKER" serve --state-dir "$1" --listen "$BIP:$2" --keepalive $KA >>"$3" 2>&1 &
	BPID=$!
	PIDS="$PIDS $BPID"
	ssm_wait_for 10 grep -q "listening on $BIP:$2" "$3"
}
start_agent() { # CONFIG LOG
	$IH "$AGENT" --config "$1" --keepalive $KA >>"$2" 2>&1 &
	APID=$!
	PIDS="$PIDS $APID"
}
activation() { # STATE ARGS... -> sets ACT_ID ACT_CODE
	_st=$1; shift
	"$BROKER" activation create --state-dir "$_st" "$@" >"$T/act" || return 1
	ACT_ID=$(awk '/^activation_id:/{print $2}' "$T/act")
	ACT_CODE=$(awk '/^activation_code:/{print $2}' "$T/act")
}
register() { # STATE-CA CONFIG ID CODE [PORT]
	$IH "$SSMCTL" register --broker "https://$BIP:${5:-$PORT}" --ca "$1" --activation-id "$3" \
		--activation-code "$4" --config "$2" >"$T/reg.out" 2>"$T/reg.err"
}
count() { grep -c "$1" "$2" 2>/dev/null || true; }
more_than() { [ "$(count "$1" "$2")" -gt "$3" ]; }

mkdir -p "$T/h1" "$T/h2" "$T/h3" "$T/x1" "$T/x2"
ssm_check "broker A starts and says where its state is" start_broker "$T/stA" $PORT "$T/a.log"
BPID_A=$BPID
ssm_check "state: database, CA, TLS and signing keys, JWK Set" \
	test -f "$T/stA/broker.db" -a -f "$T/stA/ca.crt" -a -f "$T/stA/server.crt" -a -f "$T/stA/jwks.json"
ssm_check "state: private keys 0600, directory 0700" sh -c \
	"[ \$(stat -c %a '$T/stA/ca.key') = 600 ] && [ \$(stat -c %a '$T/stA/signing.key') = 600 ] && [ \$(stat -c %a '$T/stA') = 700 ]"

# ---- registration
activation "$T/stA" --limit 1 --expires 1h --tag Environment=Test
ID1=$ACT_ID CODE1=$ACT_CODE
ssm_check_not "wrong activation code refused" register "$T/stA/ca.crt" "$T/h1/ssmsession.json" "$ID1" "x$CODE1"
ssm_check "  with the broker's reason" grep -q "unknown activation id or wrong code" "$T/reg.err"
ssm_check "register with the activation" register "$T/stA/ca.crt" "$T/h1/ssmsession.json" "$ID1" "$CODE1"
HID=$(cat "$T/reg.out")
ssm_check "  prints the host id mi- and 17 lowercase hex ($HID)" sh -c "echo '$HID' | grep -Eqx 'mi-[0-9a-f]{17}'"
ssm_check "  config has host_id, issuer, trusted_keys, broker keys, tags" python3 -c "
import json; c = json.load(open('$T/h1/ssmsession.json'))
assert c['host_id'] == '$HID' and c['issuer'].startswith('urn:ssmsession:broker:')
assert c['broker_url'] == 'https://$BIP:$PORT' and c['host_tags'] == {'Environment': 'Test'}
for k in ('trusted_keys', 'broker_ca', 'host_certificate', 'host_key'): open(c[k]).read()
assert json.load(open(c['trusted_keys']))['keys'][0]['crv'] == 'Ed25519'"
ssm_check "  host key is 0600" sh -c "[ \$(stat -c %a '$T/h1/host.key') = 600 ]"
ssm_check "  ssmctl config check accepts the configuration" sh -c \
	"'$SSMCTL' --config '$T/h1/ssmsession.json' config check >/dev/null 2>&1 || '$SSMCTL' --config '$T/h1/ssmsession.json' config check 2>&1 | grep -qv 'broker'"
ssm_check_not "a second registration with the limit-1 activation is refused" \
	register "$T/stA/ca.crt" "$T/h2/ssmsession.json" "$ID1" "$CODE1"
ssm_check "  because of the limit" grep -q "registration limit" "$T/reg.err"
activation "$T/stA" --limit 5 --expires 1s
sleep 2 # the activation's expiry is wall-clock time
ssm_check_not "an expired activation is refused" register "$T/stA/ca.crt" "$T/h2/ssmsession.json" "$ACT_ID" "$ACT_CODE"
ssm_check "  because it expired" grep -q "expired" "$T/reg.err"
ssm_check "host list shows one host" sh -c "'$BROKER' host list --state-dir '$T/stA' --json | python3 -c 'import json,sys; h=json.load(sys.stdin); assert len(h)==1 and h[0][\"id\"]==\"$HID\" and h[0][\"last_contact\"] is None'"

# ---- the link
start_agent "$T/h1/ssmsession.json" "$T/agent1.log"
AGENT1=$APID
ssm_check "agent links up (broker log)" ssm_wait_for 15 grep -q "agent $HID linked" "$T/a.log"
ssm_check "agent logs the link" ssm_wait_for 5 grep -q "link up" "$T/agent1.log"
ssm_check "host list shows its last contact" sh -c "'$BROKER' host list --state-dir '$T/stA' | grep '$HID' | grep -vq never"
ssm_check "no listening TCP or UDP socket in the host's namespace" sh -c "[ -z \"\$($IH ss -Htuln)\" ]"
ssm_check "the agent's one connection is outbound to the broker" sh -c "$IH ss -Htn state established | grep -q '$BIP:$PORT'"
sleep 3 # > the 2 s PING interval: the keepalive runs with no traffic
ssm_check "keepalive: still linked after PING/PONG, no reconnect" sh -c \
	"[ \$(grep -c 'linked' '$T/a.log') = 1 ] && ! grep -q 'disconnected' '$T/a.log'"

# ---- a second broker with its own CA, for the refused certificates
ssm_check "broker B (another CA) starts" start_broker "$T/stB" 8444 "$T/b.log"
BPID_B=$BPID
activation "$T/stB" --limit 1 --expires 1h
ssm_check "register a host at broker B" register "$T/stB/ca.crt" "$T/h2/ssmsession.json" "$ACT_ID" "$ACT_CODE" 8444
ssm_check_not "ssmctl register refuses broker A's certificate with broker B's CA" \
	register "$T/stB/ca.crt" "$T/h3/ssmsession.json" "$ACT_ID" "$ACT_CODE" $PORT
ssm_check "  saying so" grep -q "certificate is refused" "$T/reg.err"
# x1: the host of broker B dialing broker A while trusting B's CA: A's certificate refused
python3 - "$T/h2/ssmsession.json" "$T/x1/ssmsession.json" "https://$BIP:$PORT" "" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c['broker_url'] = sys.argv[3]
if sys.argv[4]: c['broker_ca'] = sys.argv[4]
json.dump(c, open(sys.argv[2], 'w'))
PY
start_agent "$T/x1/ssmsession.json" "$T/x1.log"
ssm_check "agent refuses a broker certificate not signed by its CA, with a clear log line" \
	ssm_wait_for 10 grep -q "broker certificate refused" "$T/x1.log"
kill "$APID"
# x2: the same host trusting A's CA: its certificate (from B's CA) is refused by broker A
python3 - "$T/h2/ssmsession.json" "$T/x2/ssmsession.json" "https://$BIP:$PORT" "$T/h1/broker-ca.pem" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c['broker_url'] = sys.argv[3]
if sys.argv[4]: c['broker_ca'] = sys.argv[4]
json.dump(c, open(sys.argv[2], 'w'))
PY
start_agent "$T/x2/ssmsession.json" "$T/x2.log"
ssm_check "broker refuses a host certificate from another CA" \
	ssm_wait_for 10 grep -q "TLS client certificate refused" "$T/a.log"
ssm_check "  and that host never links" sh -c "! grep -q 'linked' '$T/x2.log' && [ \$(grep -c 'linked' '$T/a.log') = 1 ]"
kill "$APID" "$BPID_B"

# ---- the broker killed and restarted: the agent comes back by itself
kill -9 "$BPID_A" 2>/dev/null || true
BPID_A=""
ssm_check "agent notices the broker is gone" ssm_wait_for 10 grep -q "disconnected" "$T/agent1.log"
ssm_check "broker A restarts on its state" start_broker "$T/stA" $PORT "$T/a.log"
BPID_A=$BPID
ssm_check "the agent reconnects by itself after the restart" ssm_wait_for 40 more_than "agent $HID linked" "$T/a.log" 1

# ---- 10 s of silently dropped packets (the broker's end of the veth down: the host's
# packets vanish without an error; nft/iptables are not installed here)
ip -n "$NB" link set "$VB" down
sleep 10
ip -n "$NB" link set "$VB" up
ssm_check "the agent declared the link dead during the drop" grep -q "nothing received" "$T/agent1.log"
ssm_check "the agent reconnects after the drop" ssm_wait_for 45 more_than "agent $HID linked" "$T/a.log" 2

# ---- revocation
N0=$(count "disconnected" "$T/agent1.log")
T0=$(date +%s%N)
ssm_check "host revoke" "$BROKER" host revoke --state-dir "$T/stA" "$HID"
ssm_check "the connected agent is disconnected within 2 s" ssm_wait_for 2 more_than "disconnected" "$T/agent1.log" "$N0"
T1=$(date +%s%N)
echo "  (revoke to disconnect: $(( (T1 - T0) / 1000000 )) ms)"
ssm_check "  told why (GOAWAY refused: revoked)" grep -q "GOAWAY refused: .*revoked" "$T/agent1.log"
start_agent "$T/h1/ssmsession.json" "$T/agent1b.log"
ssm_check "a revoked host cannot reconnect" ssm_wait_for 10 grep -q "agent $HID.*refused: .*revoked" "$T/a.log"
ssm_check "  the broker's host list says revoked" sh -c "'$BROKER' host list --state-dir '$T/stA' | grep '$HID' | grep -q revoked"
N1=$(count "agent $HID linked" "$T/a.log")
sleep 1
ssm_check "  and it never links again" [ "$(count "agent $HID linked" "$T/a.log")" = "$N1" ]

if [ "$SSM_FAIL" != 0 ]; then
	for f in a.log b.log agent1.log agent1b.log x1.log x2.log; do
		echo "==== $f"; tail -n 40 "$T/$f" 2>/dev/null
	done
fi
ssm_done
