#!/bin/sh
# load_bench.sh - one broker under load (issue 8, "Performance"):
#   idle hosts       N registered hosts (default 2000) linked to one ssm-broker at once by the
#                    load generator bench/loadhosts (one process, each host with its own
#                    certificate from `ssmctl register`, the agent's link state machine and
#                    reconnect backoff): time until all are up, the broker's memory per host
#                    connection (VmRSS with all up minus before, divided by N), then the broker
#                    killed (SIGKILL) and started again: time until all N are back
#   sessions         S concurrent NonInteractiveCommands sessions (default 200) through the same
#                    broker to one real host (ssm-agent, PAM ssm-session, ssm-shell recording),
#                    all started at once, each streaming a known 1 MB file: every byte compared
#                    (nothing lost), wall time, the broker's and agent's peak memory, and every
#                    transcript stored at the broker
# Set-up as bench/channel_bench.sh (as root, private mount+pid namespaces from
# tests/shell_setup.sh, network namespaces: the broker in one, the load generator in a second,
# the real host in a third).  Prints a markdown section for bench/RESULTS.md.
# Environment: LOADBENCH_HOSTS (2000), LOADBENCH_SESSIONS (200), LOADBENCH_MB (1).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

if [ "${SSM_IN_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "load_bench.sh: run as root" >&2; exit 2; }
	build=${1:-$top/build-bench}
	mkdir -p "$build" && build=$(cd "$build" && pwd)
	(cd "$top" && [ -x configure ] || ./autogen.sh >/dev/null 2>&1)
	(cd "$build" && [ -f Makefile ] || "$top/configure" --quiet --enable-werror >/dev/null)
	if grep -Eq '^(SAN_|SSM_)?CFLAGS = .*-fsanitize' "$build/Makefile"; then
		echo "load_bench.sh: $build is a sanitizer build: use an -O2 one" >&2
		exit 2
	fi
	(cd "$build" && make -j"$(nproc)" >/dev/null && make -j"$(nproc)" bench/loadhosts >/dev/null)
	export SSM_BUILDDIR="$build" LOADBENCH_BUILD="$build"
	LOADBENCH_REV=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
	export LOADBENCH_REV
	if [ -z "${LOADBENCH_TIMED:-}" ]; then
		LOADBENCH_TIMED=1 exec timeout -k 10 1190 sh "$0" "$@"
	fi
fi
srcdir=$top
export srcdir
# shellcheck source=../tests/shell_setup.sh
. "$top/tests/shell_setup.sh"
# shellcheck source=../tests/channel_setup.sh
. "$top/tests/channel_setup.sh"
# ---- from here: inside the namespaces, as root, $T a private tmpfs --------------------
builddir=$LOADBENCH_BUILD
N=${LOADBENCH_HOSTS:-2000}
S=${LOADBENCH_SESSIONS:-200}
MB=${LOADBENCH_MB:-1}
mount -o remount,size=8g "$T"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

BROKER=$builddir/brokerd/ssm-broker
AGENT=$builddir/agent/ssm-agent
SSMCTL=$builddir/ssmctl/ssmctl
SSM=$builddir/client/ssm
LOADHOSTS=$builddir/bench/loadhosts
MODULE=$builddir/pam_ssmsession/.libs/pam_ssmsession.so
for p in "$BROKER" "$AGENT" "$SSMCTL" "$SSM" "$MODULE" "$LOADHOSTS"; do
	[ -e "$p" ] || { echo "FAIL: $p not built"; exit 1; }
done
need() {
	_w=$1; shift
	"$@" || { echo "FAIL: $_w"; for f in "$T"/*.log; do echo "--- $f"; tail -15 "$f"; done; exit 1; }
}
CHAN_CHECK=need
ms() { date +%s%3N; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status"; }

sed -i -e "s|^\(ssmtu:.*:\)/bin/bash\$|\1$SSM_SHELL|" /etc/passwd
mount -t tmpfs -o mode=0755 ssm-run /run || { echo "FAIL: cannot mount /run"; exit 1; }
touch /run/utmp && chmod 0664 /run/utmp
NB=ssmlb$$ NL=ssmll$$
BIP=169.254.79.1 LIP=169.254.79.2 PORT=8443 URL=https://169.254.79.1:8443
PIDS=""
cleanup_net() {
	set +e
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del "$NB" 2>/dev/null
	ip netns del "$NL" 2>/dev/null
	:
}
trap cleanup_net EXIT
ip netns add "$NB" && ip netns add "$NL" || { echo "FAIL: cannot create network namespaces"; exit 1; }
ip link add vlb$$ type veth peer name vll$$ || { echo "FAIL: no veth"; exit 1; }
ip link set vlb$$ netns "$NB" && ip link set vll$$ netns "$NL"
ip -n "$NB" addr add "$BIP/30" dev vlb$$ && ip -n "$NL" addr add "$LIP/30" dev vll$$
for n in "$NB" "$NL"; do ip -n "$n" link set lo up; done
ip -n "$NB" link set vlb$$ up && ip -n "$NL" link set vll$$ up
# the hosts (the load generator's and the real one) in NL, the broker and the clients in NB
IB="ip netns exec $NB" IL="ip netns exec $NL" IH="ip netns exec $NL"
ST=$T/st

start_broker() {
	$IB "$BROKER" serve --state-dir "$ST" --listen "$BIP:$PORT" >>"$T/broker.log" 2>&1 &
	BPID=$!
}
start_broker
need "the broker starts" ssm_wait_for 10 grep -q "listening on $BIP:$PORT" "$T/broker.log"
RSS0=$(rss_kb "$BPID")

# ---- N hosts registered (one activation with limit N), N certificates
"$BROKER" activation create --state-dir "$ST" --limit "$N" --expires 1h --tag Environment=Load >"$T/act"
ACT_ID=$(awk '/^activation_id:/{print $2}' "$T/act")
ACT_CODE=$(awk '/^activation_code:/{print $2}' "$T/act")
mkdir -p "$T/lh"
t=$(ms)
seq 1 "$N" | xargs -P 4 -I@ sh -c "mkdir -p '$T/lh/@' &&
	$IL '$SSMCTL' register --broker $URL --ca '$ST/ca.crt' --activation-id $ACT_ID \
	--activation-code $ACT_CODE --config '$T/lh/@/ssmsession.json' >'$T/lh/@/id' 2>'$T/lh/@/err' ||
	{ cat '$T/lh/@/err'; exit 255; }"
REG_MS=$(( $(ms) - t ))
for i in $(seq 1 "$N"); do echo "$T/lh/$i/host.crt $T/lh/$i/host.key"; done >"$T/hosts.list"
RSS1=$(rss_kb "$BPID")

# ---- all N at once
t=$(ms)
$IL "$LOADHOSTS" --broker "$URL" --ca "$ST/ca.crt" --hosts "$T/hosts.list" >"$T/load.out" 2>"$T/load.err" &
LPID=$!
PIDS="$PIDS $LPID"
need "all $N hosts link up" ssm_wait_for 300 grep -q '^all-up' "$T/load.out"
# the generator's own figure: from its first dial (setting up 2,000 TLS client contexts before
# it takes tens of seconds, which is the generator's cost, not the broker's)
UP_MS=$(awk '/^all-up/{print $2; exit}' "$T/load.out")
# settle: every link has exchanged HELLO and RESUME_DONE; one keepalive round
sleep 2
RSS2=$(rss_kb "$BPID")
LRSS=$(rss_kb "$LPID")
PER_HOST=$(( (RSS2 - RSS1) * 1024 / N ))
FDS=$(ls "/proc/$BPID/fd" | wc -l)

# ---- the broker killed and started again
kill -9 "$BPID"
wait "$BPID" 2>/dev/null || true
n_allup=$(grep -c '^all-up' "$T/load.out")
t=$(ms)
start_broker
PIDS="$PIDS $BPID"
need "all $N hosts are back" ssm_wait_for 300 sh -c "[ \$(grep -c '^all-up' '$T/load.out') -gt $n_allup ]"
BACK_MS=$(( $(ms) - t ))
NCLOSE=$(awk '/ up /{c = $NF} END {print c}' "$T/load.out")
RSS3=$(rss_kb "$BPID")
kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null || true
[ -z "${LOADBENCH_KEEP:-}" ] || cp "$T/load.out" "$LOADBENCH_KEEP"

# ---- S concurrent sessions to one real host
if [ "$S" -eq 0 ]; then
	echo "idle hosts: $N up in $UP_MS ms; $PER_HOST bytes per host connection" \
		"(broker $((RSS1 / 1024)) -> $((RSS2 / 1024)) MiB); back after restart in $BACK_MS ms"
	exit 0
fi
mkdir -p "$T/data" && chmod 0755 "$T/data"
STREAM=$T/data/stream.txt
base64 -w 76 /dev/urandom | head -c "$((MB * 1000000))" >"$STREAM"
chmod 0644 "$STREAM"
WANT=$(sha256sum <"$STREAM" | cut -d' ' -f1)
mkdoc Cmd-Stream '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "cat '"$STREAM"'"}}}'
chan_docs Cmd-Stream
CHAN_RUN_AS=ssmtu
chan_host Environment=Dev
chan_pam
chan_agent
cat >"$T/pol.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "*"},
 {"Effect": "Allow", "Action": ["ssm:DescribeSessions", "ssm:GetTranscript"], "Resource": "*"}]}
EOF
chan_user alice "$T/pol.json"
need "one session streams" sh -c "XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' start-session --target '$HID' --document-name Cmd-Stream </dev/null 2>'$T/one.err' | sha256sum | grep -q $WANT"
mkdir -p "$T/out"
t=$(ms)
i=1
SPIDS=""
while [ "$i" -le "$S" ]; do
	( XDG_CONFIG_HOME="$T/cfg" $IB "$SSM" start-session --target "$HID" --document-name Cmd-Stream \
		</dev/null >"$T/out/$i" 2>"$T/out/$i.err"; echo $? >"$T/out/$i.rc" ) &
	SPIDS="$SPIDS $!"
	i=$((i + 1))
done
sample_hwm() { BH=$(hwm_kb "$BPID"); AH=$(hwm_kb "$APID"); }
for p in $SPIDS; do wait "$p" 2>/dev/null || true; done
SESS_MS=$(( $(ms) - t ))
sample_hwm
ok=0 bad=0 lost=0
i=1
while [ "$i" -le "$S" ]; do
	if [ "$(cat "$T/out/$i.rc" 2>/dev/null)" = 0 ] && [ "$(sha256sum <"$T/out/$i" | cut -d' ' -f1)" = "$WANT" ]; then
		ok=$((ok + 1))
	else
		bad=$((bad + 1))
		lost=$((lost + MB * 1000000 - $(stat -c %s "$T/out/$i")))
		[ "$bad" -le 3 ] && { echo "session $i: rc $(cat "$T/out/$i.rc" 2>/dev/null), $(stat -c %s "$T/out/$i") bytes: $(head -c 300 "$T/out/$i.err")"; }
	fi
	i=$((i + 1))
done
# every transcript reaches the broker (complete: the agent's EOF stored)
stored() { ls "$ST"/transcripts/*/*.cast 2>/dev/null | wc -l; }
ssm_wait_for 120 sh -c "[ \$(ls '$ST'/transcripts/*/*.cast 2>/dev/null | wc -l) -ge $((S + 1)) ]" || true
NT=$(stored)

cat <<EOF
## 4b. One broker under load (bench/load_bench.sh)

Revision $LOADBENCH_REV, $(nproc) vCPUs, $(date -u +%Y-%m-%d); the broker and the clients, and
the hosts (the load generator and the real host) in network namespaces of their own on this machine.

| figure | goal | measured |
| --- | --- | --- |
| idle host connections on one broker | 2,000 | $N linked, all at once (registration of $N hosts: $((REG_MS / 1000)) s) |
| time until all $N are up (all dialing at once) | | $UP_MS ms from the first dial |
| broker memory per host connection (VmRSS, all up minus before) | | $PER_HOST bytes (broker $((RSS1 / 1024)) MiB before, $((RSS2 / 1024)) MiB with $N up; $FDS descriptors) |
| broker killed (SIGKILL) and restarted: time until all $N are back | | $BACK_MS ms (agent backoff: 0.5-1 s first wait; broker $((RSS3 / 1024)) MiB after; $NCLOSE connection closes or failures seen by the hosts in all) |
| load generator for $N hosts | | $((LRSS / 1024)) MiB |
| concurrent sessions streaming through one broker, nothing lost | 200 | $S started at once, $ok byte-identical, $bad not ($lost bytes missing), ${MB} MB each |
| wall time of the $S sessions | | $SESS_MS ms |
| peak memory during them | | broker $((BH / 1024)) MiB, agent $((AH / 1024)) MiB (VmHWM) |
| transcripts stored at the broker | $((S + 1)) | $NT |
EOF
[ "$bad" -eq 0 ] || exit 1
