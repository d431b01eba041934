#!/bin/sh
# channel_bench.sh - sessions over the broker channel next to OpenSSH, in the same run (issue 8,
# "Performance"): `ssm start-session` (client) -> ssm-broker -> the host's ssm-agent (PAM
# service ssm-session with the real pam_ssmsession, login shell ssm-shell) against `ssh` to a
# real sshd on the host's veth address (key authentication, the same user, bash as its shell).
# Two relayed OpenSSH sessions are measured in the echo and throughput rounds as yardsticks:
# through a bastion (a second sshd in the broker's namespace, ProxyCommand `ssh -W`) and
# through a bare TCP relay (socat, when installed: the least any relay hop adds).
#   echo latency     one byte at a time through `stty raw -echo; dd bs=1` in a terminal
#                    session, both sessions open at once and taking turns byte by byte
#   throughput       `cat` of a 200 MB base64 file in a terminal session (ssm start-session,
#                    default document SSM-SessionManagerRunShell, vs `ssh -tt`), bytes counted
#                    and discarded by the driver on the client's pty; CPU of every process
#   session start    command to the first output byte and to the prompt (terminal sessions),
#                    to the first byte and to the exit (command sessions: a NonInteractiveCommands
#                    document vs `ssh HOST CMD`)
#   port forwarding  200 MB from a server on the host's loopback through
#                    AWS-StartPortForwardingSession vs `ssh -L` (skipped when the client has none)
#   memory           VmRSS/VmHWM of ssm-broker and ssm-agent idle and during the transfers
#   where it goes    perf record -a by process and symbol; strace -c of broker and agent
# Set-up as tests/channel_sessions.sh: as root, private mount+pid namespaces
# (tests/shell_setup.sh), two network namespaces joined by a veth pair: the broker, the clients
# and the benchmark driver in one, the host (agent, sshd, the port forward's server) in the
# other.  The driver is a python3 program (os.openpty + select; written to the private tmpfs)
# that owns each client's terminal.
# It builds BUILDDIR (default build-bench: configure defaults -g -O2, --enable-werror; a
# sanitizer build is refused), re-runs itself at nice -10 within 10 minutes and replaces (or
# appends) the "## 4. Sessions over the channel" section of bench/RESULTS.md.
# About 8 minutes (bounded at 10).
# Environment: CHANBENCH_QUICK=1 for a short trial (20 MB, few samples; RESULTS.md not written),
# CHANBENCH_NO_WRITE=1 to print the section only, CHANBENCH_KEEP=DIR to keep the raw figures,
# CHANBENCH_TP_CAP=SECONDS (default 30) bounds each terminal `cat` (a slower run is stopped and
# its rate so far reported), CHANBENCH_ALT_SSM=PATH [CHANBENCH_ALT_NAME=TEXT] measures another
# client binary (e.g. with a proposed fix) next to the others in the echo and `cat` rounds,
# CHANBENCH_HOOK=FILE sources FILE in the prepared namespaces instead of measuring (for
# profiling by hand: drv, $SSMC, $SSHC, $BPID, $APID... are defined there).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

if [ "${SSM_IN_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "channel_bench.sh: run as root" >&2; exit 2; }
	build=${1:-$top/build-bench}
	mkdir -p "$build" && build=$(cd "$build" && pwd)
	(cd "$top" && [ -x configure ] || ./autogen.sh >/dev/null 2>&1)
	(cd "$build" && [ -f Makefile ] || "$top/configure" --quiet --enable-werror >/dev/null)
	if grep -q '^SAN_CFLAGS = .*-fsanitize' "$build/Makefile" ||
	   grep -Eq '^(SSM_)?CFLAGS = .*-fsanitize' "$build/Makefile"; then
		echo "channel_bench.sh: $build is a sanitizer build: use an -O2 one" >&2
		exit 2
	fi
	(cd "$build" && make -j"$(nproc)" >/dev/null && make -j"$(nproc)" tests/mkrecord >/dev/null)
	for t in ip ss python3 ssh ssh-keygen tmux unshare; do
		command -v $t >/dev/null || { echo "channel_bench.sh: $t missing" >&2; exit 2; }
	done
	[ -x "$(command -v sshd || echo /usr/sbin/sshd)" ] || { echo "channel_bench.sh: sshd missing" >&2; exit 2; }
	export SSM_BUILDDIR="$build" CHANBENCH_BUILD="$build"
	# the revision measured: the one built now (others may commit while it runs)
	if [ -z "${CHANBENCH_REV:-}" ]; then
		CHANBENCH_REV=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
		git -C "$top" status --porcelain -uno 2>/dev/null | grep -q . &&
			CHANBENCH_REV="$CHANBENCH_REV + uncommitted changes"
		export CHANBENCH_REV
	fi
	if [ -z "${CHANBENCH_TIMED:-}" ]; then
		# bounded: the whole run, namespaces included, ends within 10 minutes
		CHANBENCH_TIMED=1 exec nice -n -10 timeout -k 10 590 sh "$0" "$@"
	fi
fi
srcdir=$top
export srcdir
# shellcheck source=../tests/shell_setup.sh
. "$top/tests/shell_setup.sh"
# ---- from here: inside the namespaces, as root, $T a private tmpfs --------------------
builddir=$CHANBENCH_BUILD
quick=${CHANBENCH_QUICK:-}
mount -o remount,size=6g "$T"
if [ -n "$quick" ]; then
	SIZE=20000000 TP_ROUNDS=2 ECHO_RUNS=2 ECHO_N=200 START_N=5 PF_ROUNDS=2
else
	SIZE=200000000 TP_ROUNDS=3 ECHO_RUNS=5 ECHO_N=400 START_N=20 PF_ROUNDS=3
fi

BROKER=$builddir/brokerd/ssm-broker
AGENT=$builddir/agent/ssm-agent
SSMCTL=$builddir/ssmctl/ssmctl
SSM=$builddir/client/ssm
MODULE=$builddir/pam_ssmsession/.libs/pam_ssmsession.so
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
for p in "$BROKER" "$AGENT" "$SSMCTL" "$SSM" "$MODULE"; do
	[ -e "$p" ] || { echo "FAIL: $p not built"; exit 1; }
done
need() { # WHAT CMD...: the set-up stops at the first failure
	_w=$1; shift
	"$@" || { echo "FAIL: $_w"; for f in "$T"/*.log; do echo "--- $f"; tail -15 "$f"; done; exit 1; }
}

# the run-as user logs in with ssm-shell, as ssm-user does (sshd sees bash: see below)
sed -i -e "s|^\(ssmtu:.*:\)/bin/bash\$|\1$SSM_SHELL|" /etc/passwd
grep -q "^ssmtu:.*:$SSM_SHELL\$" /etc/passwd || { echo "FAIL: cannot set ssmtu's shell"; exit 1; }

# /run of our own: ip netns, utmp and sshd's privilege separation directory stay here
mount -t tmpfs -o mode=0755 ssm-run /run || { echo "FAIL: cannot mount /run"; exit 1; }
touch /run/utmp && chmod 0664 /run/utmp
mkdir -p /run/sshd && chmod 0755 /run/sshd
NB=ssmbb$$ NH=ssmbh$$ VB=vbb$$ VH=vbh$$
BIP=169.254.78.1 HIP=169.254.78.2 PORT=8443 URL=https://169.254.78.1:8443
PIDS=""
cleanup_net() {
	set +e
	if [ -n "${CHANBENCH_KEEP:-}" ]; then
		mkdir -p "$CHANBENCH_KEEP/logs" && cp "$T"/*.log "$T/log/audit.jsonl" "$CHANBENCH_KEEP/logs/" 2>/dev/null
		[ -e "$CHANBENCH_KEEP/section.md" ] || [ -z "${RES:-}" ] || cp -r "$RES"/. "$CHANBENCH_KEEP/"
	fi
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del "$NB" 2>/dev/null
	ip netns del "$NH" 2>/dev/null
	:
}
trap cleanup_net EXIT
ip netns add "$NB" && ip netns add "$NH" || { echo "FAIL: cannot create network namespaces"; exit 1; }
ip link add "$VB" type veth peer name "$VH" || { echo "FAIL: no veth"; exit 1; }
ip link set "$VB" netns "$NB" && ip link set "$VH" netns "$NH"
ip -n "$NB" addr add "$BIP/30" dev "$VB" && ip -n "$NH" addr add "$HIP/30" dev "$VH"
for n in "$NB" "$NH"; do ip -n "$n" link set lo up; done
ip -n "$NB" link set "$VB" up && ip -n "$NH" link set "$VH" up
IB="ip netns exec $NB"
IH="ip netns exec $NH"
ST=$T/st

# ---- the broker (default keepalive)
$IB "$BROKER" serve --state-dir "$ST" --listen "$BIP:$PORT" >"$T/broker.log" 2>&1 &
BPID=$!
PIDS="$PIDS $BPID"
need "the broker starts" ssm_wait_for 10 grep -q "listening on $BIP:$PORT" "$T/broker.log"

# ---- documents: the same bytes at the broker and on the host
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "60"}}'
mkdoc Cmd-Echo '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo CMD-OUT"}}}'
PORT_PATTERN='^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$'
mkdoc AWS-StartPortForwardingSession '{"schemaVersion": "1.0", "sessionType": "Port",
 "parameters": {"portNumber": {"type": "String", "allowedPattern": "'"$PORT_PATTERN"'", "default": "80"},
  "localPortNumber": {"type": "String", "allowedPattern": "^([0-9]|[1-9][0-9]{1,4})$", "default": "0"}},
 "properties": {"portNumber": "{{ portNumber }}"}}'
for d in SSM-SessionManagerRunShell Cmd-Echo AWS-StartPortForwardingSession; do
	"$BROKER" document put --state-dir "$ST" "$d" "$T/docs/$d.json" >/dev/null 2>"$T/doc.err" ||
		{ echo "FAIL: document put $d: $(cat "$T/doc.err")"; exit 1; }
done

# ---- the host: registered by activation, its configuration completed for sessions
"$BROKER" activation create --state-dir "$ST" --limit 1 --expires 1h --tag Environment=Dev >"$T/act"
ACT_ID=$(awk '/^activation_id:/{print $2}' "$T/act")
ACT_CODE=$(awk '/^activation_code:/{print $2}' "$T/act")
need "the host registers" sh -c "$IH '$SSMCTL' register --broker $URL --ca '$ST/ca.crt' \
	--activation-id $ACT_ID --activation-code $ACT_CODE --config '$CONF_PATH' >'$T/hid' 2>'$T/reg.err'"
HID=$(cat "$T/hid")
# transcript_max_bytes 1 GiB: the 64 MiB default would end the 200 MB cat's session
python3 - "$CONF_PATH" "$T" <<'PY'
import json, sys
p, t = sys.argv[1:3]
c = json.load(open(p))
c.update({"documents_dir": t + "/docs", "run_as_allowed": ["ssmtu", "ssmtu2"],
          "run_dir": t + "/run", "log_dir": t + "/log", "state_dir": t + "/state",
          "recorder_user": "ssmsession", "transcript_max_bytes": 1073741824})
json.dump(c, open(p, "w"))
PY
chmod 0644 "$CONF_PATH"
if sh -c 'echo 0 >/proc/self/loginuid' 2>/dev/null; then
	printf 'auth required %s\naccount required %s\nsession required pam_loginuid.so\nsession required pam_limits.so\nsession required %s\n' \
		"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/ssm-session
else
	printf 'auth required %s\naccount required %s\nsession required pam_limits.so\nsession required %s\n' \
		"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/ssm-session
fi
$IH "$AGENT" --config "$CONF_PATH" >"$T/agent.log" 2>&1 &
APID=$!
PIDS="$PIDS $APID"
need "the agent links up" ssm_wait_for 15 grep -q "agent $HID linked" "$T/broker.log"

# ---- the user: alice, sessions as ssmtu on Dev hosts
printf 'correct horse\n' | "$BROKER" user add alice --state-dir "$ST" >/dev/null
"$BROKER" user set-run-as alice ssmtu --state-dir "$ST" >/dev/null
cat >"$T/dev.json" <<EOF
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession",
  "Resource": ["arn:aws:ssm:*:*:managed-instance/*", "arn:aws:ssm:*:*:document/*"],
  "Condition": {"StringEquals": {"ssm:resourceTag/Environment": ["Dev"]}}},
 {"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "arn:aws:ssm:*:*:document/*"},
 {"Effect": "Allow", "Action": ["ssm:TerminateSession", "ssm:ResumeSession"],
  "Resource": "arn:aws:ssm:*:*:session/\${aws:username}-*"},
 {"Effect": "Allow", "Action": ["ssm:DescribeSessions", "ssm:DescribeInstanceInformation"], "Resource": "*"}]}
EOF
"$BROKER" policy attach --user alice "$T/dev.json" --state-dir "$ST" >/dev/null
need "ssm login as alice" sh -c "printf 'correct horse\n' | XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' login --broker $URL --ca '$ST/ca.crt' --user alice >/dev/null 2>'$T/login.err'"

# ---- OpenSSH: sshd on the host's veth address, key authentication, the same user ssmtu.
# sshd runs the user's login shell from passwd; its own mount namespace sees a passwd where
# ssmtu's shell is bash (ssm-shell would refuse a login without a session record).
sed -e "s|^\(ssmtu:.*:\)$SSM_SHELL\$|\1/bin/bash|" /etc/passwd >"$T/passwd.sshd"
chmod 0644 "$T/passwd.sshd"
mkdir -p "$T/ak"
ssh-keygen -q -t ed25519 -N '' -f "$T/sshhost" && ssh-keygen -q -t ed25519 -N '' -f "$T/userkey"
cp "$T/userkey.pub" "$T/ak/ssmtu" && chmod 0644 "$T/ak/ssmtu"
printf '%s\n' "ListenAddress $HIP" "Port 22" "HostKey $T/sshhost" "PidFile $T/sshd.pid" \
	"UsePAM no" "PasswordAuthentication no" "KbdInteractiveAuthentication no" \
	"PubkeyAuthentication yes" "AuthorizedKeysFile $T/ak/%u" "StrictModes no" \
	"AllowTcpForwarding yes" "PermitTTY yes" "PrintMotd no" "PrintLastLog no" "UseDNS no" \
	>"$T/sshd_config"
$IH unshare --mount --propagation private sh -c \
	"mount --bind '$T/passwd.sshd' /etc/passwd && exec '$SSHD' -D -e -f '$T/sshd_config'" >"$T/sshd.log" 2>&1 &
PIDS="$PIDS $!"
need "sshd listens on $HIP:22" ssm_wait_for 10 sh -c "$IH ss -Hltn | grep -q '$HIP:22 '"
SSHD_PID=$(cat "$T/sshd.pid")
SSHO="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -i $T/userkey"
need "ssh with the key runs bash as ssmtu" sh -c "$IB ssh $SSHO ssmtu@$HIP 'echo SSH-\$(id -un)-\$0' 2>'$T/ssh.err' | grep -qx 'SSH-ssmtu-bash'"
# ---- yardsticks of a relayed OpenSSH (what a brokered design is up against; skipped, with
# the reason in the report, when their set-up fails): ssh through a bastion, a second sshd in
# the broker's namespace reached by ProxyCommand `ssh -W` (what `ssh -J` does); and ssh through
# a bare TCP relay (socat, no crypto: the least any relay hop adds)
mkdir -p "$T/res"
printf '%s\n' "ListenAddress 127.0.0.1" "Port 2222" "HostKey $T/sshhost" "PidFile $T/sshdj.pid" \
	"UsePAM no" "PasswordAuthentication no" "KbdInteractiveAuthentication no" \
	"PubkeyAuthentication yes" "AuthorizedKeysFile $T/ak/%u" "StrictModes no" \
	"AllowTcpForwarding yes" "PermitTTY no" "PrintMotd no" "UseDNS no" >"$T/sshdj_config"
$IB unshare --mount --propagation private sh -c \
	"mount --bind '$T/passwd.sshd' /etc/passwd && exec '$SSHD' -D -e -f '$T/sshdj_config'" >"$T/sshdj.log" 2>&1 &
PIDS="$PIDS $!"
printf '#!/bin/sh\nexec ssh %s -p 2222 -W "$1:$2" ssmtu@127.0.0.1\n' "$SSHO" >"$T/jproxy"
chmod 0755 "$T/jproxy"
if ssm_wait_for 10 sh -c "$IB ss -Hltn | grep -q '127.0.0.1:2222 '" &&
	$IB ssh $SSHO -o ProxyCommand="$T/jproxy %h %p" ssmtu@$HIP 'echo J-$(id -un)' 2>"$T/sshj.err" | grep -qx J-ssmtu; then
	SSHJ="ssh $SSHO -o ProxyCommand='$T/jproxy %h %p' -tt ssmtu@$HIP"
else
	echo "the bastion's set-up failed: $(tail -2 "$T/sshj.err" "$T/sshdj.log" | tr '\n' ' ')" | tee "$T/res/sshj.skip"
	SSHJ=
fi
SSHR=
if command -v socat >/dev/null 2>&1; then
	$IB socat -b 65536 TCP-LISTEN:2223,bind=127.0.0.1,reuseaddr,fork,nodelay "TCP:$HIP:22,nodelay" >"$T/socat.log" 2>&1 &
	PIDS="$PIDS $!"
	if ssm_wait_for 10 sh -c "$IB ss -Hltn | grep -q '127.0.0.1:2223 '"; then
		SSHR="ssh $SSHO -p 2223 -tt ssmtu@127.0.0.1"
	else
		echo "socat did not listen: $(tail -2 "$T/socat.log" | tr '\n' ' ')" | tee "$T/res/sshr.skip"
	fi
else
	echo "socat is not installed (apt-get install socat)" | tee "$T/res/sshr.skip"
fi
need "an ssm command session runs" sh -c "XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' start-session --target '$HID' --document-name Cmd-Echo </dev/null 2>'$T/cmd.err' | grep -qx CMD-OUT"

# ---- the data and the driver
mkdir -p "$T/data" "$T/res" && chmod 0755 "$T/data"
BIG=$T/data/big.txt
base64 -w 76 /dev/urandom | head -c "$SIZE" >"$BIG"
chmod 0644 "$BIG"
DRV=$T/drive.py
cat >"$DRV" <<'PYEOF'
# the benchmark driver: owns each client's terminal (os.openpty), times bytes on it
import errno, fcntl, os, re, select, signal, socket, struct, subprocess, sys, termios, threading, time

PROMPT = re.compile(rb"ssmtu\$ $")
now = time.perf_counter

class Term:
    """a client on a pty of ours: its stdin/stdout the slave, its stderr a file"""
    def __init__(self, cmd, err):
        self.t0 = now()
        m, s = os.openpty()
        fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.p = subprocess.Popen(["sh", "-c", "exec " + cmd], stdin=s, stdout=s,
                                  stderr=open(err, "ab"), start_new_session=True,
                                  preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(s)
        self.fd = m
        self.tail = b""
        self.eof = False
        self.first = None
        self.rusage = None

    def read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return None
        try:
            d = os.read(self.fd, 1 << 16)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            d = b""
        if not d:
            self.eof = True
        elif self.first is None:
            self.first = now()
        return d

    def expect(self, pat, timeout):
        end = now() + timeout
        while True:
            m = pat.search(self.tail)
            if m:
                self.tail = self.tail[m.end():]
                return now()
            left = end - now()
            if left <= 0 or self.eof:
                raise RuntimeError("expected %r, have %r" % (pat.pattern, self.tail[-300:]))
            d = self.read(left)
            if d:
                self.tail = (self.tail + d)[-65536:]

    def drain(self, quiet=0.3):
        while self.read(quiet):
            pass
        self.tail = b""

    def write(self, b):
        os.write(self.fd, b)

    def finish(self, timeout=30):
        end = now() + timeout
        while not self.eof and now() < end:
            self.read(end - now())
        if not self.eof:
            self.p.kill()
        _, st, ru = os.wait4(self.p.pid, 0)
        self.p.returncode = os.waitstatus_to_exitcode(st)
        self.rusage = ru
        os.close(self.fd)
        return self.p.returncode

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p * (len(xs) - 1)))))]

def cmd_echo(args):
    # echo N WARMUP OUTDIR RUN name=cmd...: every session open at once, taking turns byte by byte
    n, warm, out, run = int(args[0]), int(args[1]), args[2], args[3]
    names, terms = [], []
    for a in args[4:]:
        name, cmd = a.split("=", 1)
        names.append(name)
        terms.append(Term(cmd, f"{out}/echo.{name}.err"))
    line = ("stty raw -echo; echo RE''ADY; dd bs=1 count=%d status=none; stty sane; exit\r"
            % (n + warm)).encode()
    for t in terms:
        t.expect(PROMPT, 60)
        t.write(line)
        t.expect(re.compile(rb"READY"), 30)
        t.drain()
    samples = [[] for _ in terms]
    failed = [None for _ in terms]
    for i in range(n + warm):
        b = bytes([97 + i % 26])
        for k, t in enumerate(terms):
            if failed[k]:
                continue
            t0 = now()
            t.write(b)
            got = b""
            while not got:
                got = t.read(10)
                if got is None or t.eof:
                    break
            t1 = now()
            if i == n + warm - 1 and got and got[:1] == b:
                got = b  # the last byte: the shell's exit (logout) may come in the same read
            if got != b:
                # a session that ends or answers something else is left out from here on
                failed[k] = f"byte {i}: sent {b!r}, got {got!r}"
                print(f"echo_error name={names[k]} run={run} {failed[k]}", file=sys.stderr)
                with open(f"{out}/echo.errors", "a") as f:
                    f.write(f"{names[k]} run {run}: {failed[k]}\n")
                continue
            if i >= warm:
                samples[k].append((t1 - t0) * 1e6)
    for k, t in enumerate(terms):
        if failed[k]:
            t.p.kill()
        t.finish(5 if failed[k] else 30)
        if not samples[k]:
            continue
        with open(f"{out}/echo.{names[k]}.{run}", "w") as f:
            f.write("\n".join("%.1f" % x for x in samples[k]) + "\n")
        print(f"  {names[k]}: median {pct(samples[k], .5):.1f} us, p99 {pct(samples[k], .99):.1f} us")

def proc_cpu(pid):
    # utime+stime (and of the reaped children) in clock ticks
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12]), int(f[13]) + int(f[14])

def cmd_tp(args):
    # tp NAME FILE SIZE OUT PIDS CMD: cat FILE in a terminal session, count bytes to the marker
    name, path, size, out, pids, cmd = args[0], args[1], int(args[2]), args[3], args[4], args[5]
    pids = [int(p) for p in pids.split(",") if p]
    hz = os.sysconf("SC_CLK_TCK")
    t = Term(cmd, f"{out}/tp.{name}.err")
    t.expect(PROMPT, 60)
    t.drain(0.2)
    c0 = {p: proc_cpu(p) for p in pids}
    mark = b"BENCH-42-END"
    t.write(b"cat " + path.encode() + b"; echo BENCH-$((6*7))-END\r")
    t0 = now()
    n, tail, last, gaps = 0, b"", t0, []
    cap = float(os.environ.get("CHANBENCH_TP_CAP", "30"))
    capped = 0
    while True:
        d = t.read(60)
        if d is None or t.eof:
            raise RuntimeError(f"{name}: stalled after {n} bytes")
        if now() - t0 > cap:
            # bounded: the rate so far stands for the run; ^C to cat, then the client goes
            capped = 1
            t.write(b"\x03")
            x = now() + 1
            while now() < x and t.read(0.2) is not None:
                pass
            t.p.kill()
            break
        x = now()
        if x - last >= 0.02:
            gaps.append((x - last, n))  # a pause of 20 ms or more in the output
        last = x
        n += len(d)
        tail = tail[-16:] + d
        if mark in tail:
            break
    t1 = now()
    if not capped:
        t.write(b"exit\r")
    rc = t.finish()
    time.sleep(0.3)  # the session's processes reaped
    c1 = {p: proc_cpu(p) for p in pids}
    ru = t.rusage
    cpu = " ".join("cpu_%d_ms=%.0f cpu_%d_children_ms=%.0f" % (
        p, (c1[p][0] - c0[p][0]) * 1000 / hz, p, (c1[p][1] - c0[p][1]) * 1000 / hz) for p in pids)
    mb_s = (size / (t1 - t0) if not capped else n * 77 / 78 / (t1 - t0)) / 1e6
    print(f"tp name={name} rc={0 if capped else rc} capped={capped} bytes={n} secs={t1 - t0:.4f} mb_s={mb_s:.2f} "
          f"client_ms={(ru.ru_utime + ru.ru_stime) * 1000:.0f} {cpu} "
          f"stalls={len(gaps)} stall_ms={sum(g for g, _ in gaps) * 1000:.0f} "
          f"max_stall_ms={max([g for g, _ in gaps] or [0]) * 1000:.0f}")
    if os.environ.get("CHANBENCH_GAPS"):
        for g, at in gaps:
            print(f"  stall {g * 1000:.1f} ms after {at} bytes")

def cmd_start(args):
    # start KIND NAME OUT CMD: KIND term (to the first byte, to the prompt) or cmd (first byte, exit)
    kind, name, out, cmd = args
    if kind == "term":
        t = Term(cmd, f"{out}/start.{name}.err")
        tp = t.expect(PROMPT, 60)
        first = t.first
        t.write(b"exit\r")
        rc = t.finish()
        print(f"start kind=term name={name} rc={rc} first_ms={(first - t.t0) * 1000:.2f} "
              f"prompt_ms={(tp - t.t0) * 1000:.2f}")
    else:
        t0 = now()
        p = subprocess.Popen(["sh", "-c", "exec " + cmd], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=open(f"{out}/start.{name}.err", "ab"))
        d = os.read(p.stdout.fileno(), 4096)
        t1 = now()
        while True:
            x = os.read(p.stdout.fileno(), 4096)
            if not x:
                break
            d += x
        rc = p.wait()
        t2 = now()
        ok = b"CMD-OUT" in d
        print(f"start kind=cmd name={name} rc={rc} ok={int(ok)} first_ms={(t1 - t0) * 1000:.2f} "
              f"end_ms={(t2 - t0) * 1000:.2f}")

def cmd_serve(args):
    # serve PORT SIZE: on 127.0.0.1, SIZE bytes to every connection, then close
    port, size = int(args[0]), int(args[1])
    buf = os.urandom(1 << 20)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    def one(c):
        left = size
        mv = memoryview(buf)
        try:
            while left > 0:
                k = c.send(mv[:min(left, len(buf))])
                left -= k
            c.shutdown(socket.SHUT_WR)
            c.recv(1)
        except OSError:
            pass
        c.close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()

def cmd_pfget(args):
    # pfget NAME PORT SIZE: connect, read to EOF, time it
    name, port, size = args[0], int(args[1]), int(args[2])
    buf = bytearray(1 << 20)
    t0 = now()
    s = socket.create_connection(("127.0.0.1", port))
    n, first = 0, None
    while True:
        k = s.recv_into(buf)
        if not k:
            break
        if first is None:
            first = now()
        n += k
    t1 = now()
    s.close()
    fb = (first - t0) * 1000 if first else -1
    print(f"pf name={name} bytes={n} ok={int(n == size)} secs={t1 - t0:.4f} first_ms={fb:.1f} "
          f"mb_s={n / (t1 - t0) / 1e6:.2f} steady_mb_s={n / (t1 - first) / 1e6 if first else 0:.2f}")

def status_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0

def cmd_mem(args):
    # mem TAG name=pid...: VmRSS and VmHWM now
    tag = args[0]
    for a in args[1:]:
        name, pid = a.split("=")
        print(f"mem tag={tag} name={name} rss_kb={status_kb(pid, 'VmRSS')} hwm_kb={status_kb(pid, 'VmHWM')}")

def cmd_memwatch(args):
    # memwatch OUT TAG name=pid...: the largest VmRSS every 10 ms until SIGTERM
    out, tag = args[0], args[1]
    procs = [a.split("=") for a in args[2:]]
    mx = {n: 0 for n, _ in procs}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        for n, p in procs:
            try:
                mx[n] = max(mx[n], status_kb(p, "VmRSS"))
            except OSError:
                pass
        time.sleep(0.01)
    with open(out, "a") as f:
        for n, p in procs:
            f.write(f"mem tag={tag} name={n} rss_kb={mx[n]} hwm_kb={status_kb(p, 'VmHWM')}\n")

{"echo": cmd_echo, "tp": cmd_tp, "start": cmd_start, "serve": cmd_serve, "pfget": cmd_pfget,
 "mem": cmd_mem, "memwatch": cmd_memwatch}[sys.argv[1]](sys.argv[2:])
PYEOF

export TERM=xterm LANG=C.UTF-8
SSMC="env XDG_CONFIG_HOME=$T/cfg $SSM start-session --target $HID"
# CHANBENCH_ALT_SSM=PATH: another build of the client (a proposed fix), measured as "ssmalt"
# next to the others in the echo and throughput rounds
ALTC=
if [ -n "${CHANBENCH_ALT_SSM:-}" ]; then
	cp "$CHANBENCH_ALT_SSM" "$T/bin/ssm-alt"
	ALTC="env XDG_CONFIG_HOME=$T/cfg $T/bin/ssm-alt start-session --target $HID"
fi
SSHC="ssh $SSHO"
RES=$T/res
drv() { $IB python3 "$DRV" "$@"; }
# the transcripts (host and broker copies) of finished sessions, once the broker has all
transcripts_done() {
	for f in "$T/log/sessions/"*.cast; do
		[ -e "$f" ] || return 0
		b="$ST/transcripts/$HID/$(basename "$f")"
		[ "$(stat -c %s "$f" 2>/dev/null)" = "$(stat -c %s "$b" 2>/dev/null)" ] || return 1
	done
}
clear_transcripts() {
	ssm_wait_for 120 transcripts_done || echo "  (a transcript did not reach the broker within 120 s)"
	rm -f "$T/log/sessions/"*.cast "$ST/transcripts/$HID/"*.cast 2>/dev/null || true
}
# does the client forward ports? (client/ssm.c and client/stream.c: localPortNumber, a listener)
PF=
if grep -q 'local_port' "$top/client/ssm.c" && grep -q 'opened for sessionId' "$top/client/stream.c"; then
	PF=1
fi

if [ -n "${CHANBENCH_HOOK:-}" ]; then
	. "$CHANBENCH_HOOK"
	exit $?
fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
sleep 2
drv mem idle broker=$BPID agent=$APID >"$RES/mem"
sed 's/^/  /' "$RES/mem"

echo "== echo latency: $ECHO_N one-byte round trips, ssm and ssh sessions taking turns; $ECHO_RUNS runs"
for r in $(seq 1 "$ECHO_RUNS"); do
	drv echo "$ECHO_N" 20 "$RES" "$r" "ssm=$SSMC" "ssh=$SSHC -tt ssmtu@$HIP" ${ALTC:+"ssmalt=$ALTC"} \
		${SSHJ:+"sshj=$SSHJ"} ${SSHR:+"sshr=$SSHR"}
done
clear_transcripts

echo "== throughput: cat of $SIZE bytes in a terminal session, $TP_ROUNDS interleaved rounds"
for r in $(seq 1 "$TP_ROUNDS"); do
	$IB python3 "$DRV" memwatch "$RES/mem" tp broker=$BPID agent=$APID &
	W=$!
	drv tp ssm "$BIG" "$SIZE" "$RES" "$BPID,$APID" "$SSMC" | tee -a "$RES/tp"
	kill -TERM $W; wait $W || true
	clear_transcripts
	drv tp ssh "$BIG" "$SIZE" "$RES" "$SSHD_PID" "$SSHC -tt ssmtu@$HIP" | tee -a "$RES/tp"
	[ -z "$SSHJ" ] || drv tp sshj "$BIG" "$SIZE" "$RES" "$SSHD_PID" "$SSHJ" | tee -a "$RES/tp"
	[ -z "$SSHR" ] || drv tp sshr "$BIG" "$SIZE" "$RES" "$SSHD_PID" "$SSHR" | tee -a "$RES/tp"
	if [ -n "$ALTC" ]; then
		drv tp ssmalt "$BIG" "$SIZE" "$RES" "$BPID,$APID" "$ALTC" | tee -a "$RES/tp"
		clear_transcripts
	fi
done

echo "== session start: $START_N of each, taking turns"
for r in $(seq 1 "$START_N"); do
	drv start term ssm "$RES" "$SSMC" >>"$RES/start"
	drv start term ssh "$RES" "$SSHC -tt ssmtu@$HIP" >>"$RES/start"
	drv start cmd ssm "$RES" "$SSMC --document-name Cmd-Echo" >>"$RES/start"
	drv start cmd ssh "$RES" "$SSHC ssmtu@$HIP 'echo CMD-OUT'" >>"$RES/start"
done
for k in term cmd; do
	for v in ssm ssh; do
		echo "  $k $v: median to first byte $(grep "kind=$k name=$v " "$RES/start" |
			sed 's/.*first_ms=\([0-9.]*\).*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}') ms"
	done
done
clear_transcripts

if [ -n "$PF" ]; then
	echo "== port forwarding: $SIZE bytes from the host's 127.0.0.1:9000, $PF_ROUNDS interleaved rounds"
	$IH python3 "$DRV" serve 9000 "$SIZE" >"$T/serve.log" 2>&1 &
	PIDS="$PIDS $!"
	need "the host's server listens" ssm_wait_for 10 sh -c "$IH ss -Hltn | grep -q 127.0.0.1:9000"
	$IB sh -c "exec $SSMC --document-name AWS-StartPortForwardingSession --parameters portNumber=9000,localPortNumber=0" \
		</dev/null >"$T/pf.out" 2>"$T/pf.err" &
	PFPID=$!
	PIDS="$PIDS $PFPID"
	if ssm_wait_for 15 grep -q "^Port [0-9]* opened for sessionId" "$T/pf.err"; then
		LPORT=$(sed -n 's/^Port \([0-9]*\) opened.*/\1/p' "$T/pf.err")
		$IB ssh $SSHO -N -o ExitOnForwardFailure=yes -L 127.0.0.1:9100:127.0.0.1:9000 ssmtu@$HIP \
			2>"$T/sshL.err" &
		SLPID=$!
		PIDS="$PIDS $SLPID"
		need "ssh -L listens" ssm_wait_for 10 sh -c "$IB ss -Hltn | grep -q 127.0.0.1:9100"
		for r in $(seq 1 "$PF_ROUNDS"); do
			$IB python3 "$DRV" memwatch "$RES/mem" pf broker=$BPID agent=$APID &
			W=$!
			drv pfget ssm "$LPORT" "$SIZE" | tee -a "$RES/pf"
			kill -TERM $W; wait $W || true
			drv pfget ssh 9100 "$SIZE" | tee -a "$RES/pf"
		done
		kill $SLPID 2>/dev/null || true
	else
		echo "  the port forward did not open: $(tail -3 "$T/pf.err")" | tee "$RES/pf.skip"
	fi
	kill -INT $PFPID 2>/dev/null || true
	wait $PFPID 2>/dev/null || true
else
	echo "the client has no port forwarding: skipped" | tee "$RES/pf.skip"
fi
sleep 1
drv mem after broker=$BPID agent=$APID >>"$RES/mem"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
clear_transcripts

echo "== where it goes (not timed figures: profilers change timing)"
COMMS=ssm,ssm-agent,ssm-broker,ssm-shell,python3,ssh,sshd,cat,bash
if command -v perf >/dev/null 2>&1; then
	head -c $((SIZE / 4)) "$BIG" >"$T/data/quarter.txt"
	chmod 0644 "$T/data/quarter.txt"
	for v in ssm ssh; do
		case $v in ssm) c=$SSMC ;; ssh) c="$SSHC -tt ssmtu@$HIP" ;; esac
		perf record -q -a -F 1999 -o "$RES/perf.data" -- \
			$IB python3 "$DRV" tp "perf$v" "$T/data/quarter.txt" $((SIZE / 4)) "$RES" "" "$c" >/dev/null 2>&1 || true
		perf report -i "$RES/perf.data" --comms "$COMMS" --percentage relative --no-children --sort comm,dso,sym \
			--stdio 2>/dev/null | grep -E '^ +[0-9]' >"$RES/perf.tp.$v" || true
		perf report -i "$RES/perf.data" --comms "$COMMS" --no-children --sort comm --stdio 2>/dev/null |
			grep -E '^ +[0-9]' >"$RES/perf.tpcomm.$v" || true
	done
	clear_transcripts
	if [ -n "$PF" ] && [ -n "${LPORT:-}" ]; then
		$IB sh -c "exec $SSMC --document-name AWS-StartPortForwardingSession --parameters portNumber=9000,localPortNumber=$LPORT" \
			</dev/null >"$T/pf2.out" 2>"$T/pf2.err" &
		PFPID=$!
		if ssm_wait_for 15 grep -q "^Port [0-9]* opened for sessionId" "$T/pf2.err"; then
			perf record -q -a -F 1999 -o "$RES/perf.data" -- \
				$IB python3 "$DRV" pfget perf "$LPORT" "$SIZE" >/dev/null 2>&1 || true
			perf report -i "$RES/perf.data" --comms "$COMMS" --percentage relative --no-children --sort comm,dso,sym \
				--stdio 2>/dev/null | grep -E '^ +[0-9]' >"$RES/perf.pf" || true
			perf report -i "$RES/perf.data" --comms "$COMMS" --no-children --sort comm --stdio 2>/dev/null |
				grep -E '^ +[0-9]' >"$RES/perf.pfcomm" || true
			# system calls of broker and agent per MB forwarded
			if command -v strace >/dev/null 2>&1; then
				strace -c -o "$RES/strace.pf.broker" -p "$BPID" & S1=$!
				strace -c -o "$RES/strace.pf.agent" -p "$APID" & S2=$!
				sleep 1
				drv pfget strace "$LPORT" $((SIZE / 4)) >/dev/null 2>&1 || true
				kill -INT $S1 $S2; wait $S1 $S2 2>/dev/null || true
			fi
		fi
		kill -INT $PFPID 2>/dev/null || true
		wait $PFPID 2>/dev/null || true
	fi
	rm -f "$RES/perf.data"
fi
if command -v strace >/dev/null 2>&1; then
	# system calls of broker and agent (their own processes, not the session's) per keystroke
	# and per MB of terminal output
	strace -c -o "$RES/strace.echo.broker" -p "$BPID" & S1=$!
	strace -c -o "$RES/strace.echo.agent" -p "$APID" & S2=$!
	sleep 1
	drv echo 300 0 "$RES" strace "ssm=$SSMC" >/dev/null || true
	kill -INT $S1 $S2; wait $S1 $S2 2>/dev/null || true
	head -c $((SIZE / 10)) "$BIG" >"$T/data/tenth.txt"
	chmod 0644 "$T/data/tenth.txt"
	strace -c -o "$RES/strace.tp.broker" -p "$BPID" & S1=$!
	strace -c -o "$RES/strace.tp.agent" -p "$APID" & S2=$!
	sleep 1
	# the client with the proposed fix when there is one (the other stalls on its tick)
	drv tp strace "$T/data/tenth.txt" $((SIZE / 10)) "$RES" "" "${ALTC:-$SSMC}" >"$RES/tp.strace" || true
	kill -INT $S1 $S2; wait $S1 $S2 2>/dev/null || true
fi
echo "load_start=$load_start" >"$RES/load"
echo "load_end=$load_end" >>"$RES/load"
# ---- the report -------------------------------------------------------------------------
python3 - "$RES" "$SIZE" "$TP_ROUNDS" "$ECHO_RUNS" "$ECHO_N" "$START_N" "$PF_ROUNDS" \
	"$(nproc)" "$(uname -r)" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	"${CHANBENCH_REV:-unknown}" \
	"$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" "$(ssh -V 2>&1 | sed 's/,.*//')" \
	"$(dpkg-query -W -f '${Version}' libwebsockets17 2>/dev/null || echo '?')" \
	"$(dpkg-query -W -f '${Version}' libssl3 2>/dev/null || echo '?')" "${CHANBENCH_ALT_NAME:-}" \
	"$(free -m | awk '/^Mem:/ {print $2}')" >"$T/section.md" <<'PYEOF'
import os, re, sys, statistics as st
(res, size, tp_rounds, echo_runs, echo_n, start_n, pf_rounds, ncpu, kern, date, rev, cpumodel,
 sshv, lwsv, sslv, altname, memmb) = sys.argv[1:]
size, echo_runs = int(size), int(echo_runs)
cap_s = float(os.environ.get("CHANBENCH_TP_CAP", "30"))
MED = st.median
NAME = {"ssm": "ssm (channel)", "ssh": "OpenSSH", "ssmalt": "ssm, " + (altname or "alternative client"),
        "sshj": "OpenSSH through a bastion", "sshr": "OpenSSH through a TCP relay"}
VARIANTS = ("ssm", "ssh", "ssmalt", "sshj", "sshr")
RELAYED = ("sshj", "sshr")

def skipped(v):
    path = f"{res}/{v}.skip"
    return open(path).read().strip() if os.path.exists(path) else ""

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p * (len(xs) - 1)))))]

def lines(path, prefix):
    out = []
    if os.path.exists(path):
        for line in open(path):
            if line.startswith(prefix + " "):
                d = {}
                for f_ in line.split()[1:]:
                    if "=" in f_:
                        k, v = f_.split("=", 1)
                        try:
                            d[k] = float(v)
                        except ValueError:
                            d[k] = v
                out.append(d)
    return out

def f(x, n=1):
    return f"{x:.{n}f}"

def strace_calls(path):
    calls = {}
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
            if m and m.group(2) != "total":
                calls[m.group(2)] = int(m.group(1))
    return calls

def perf_rows(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.+)$", line.rstrip())
            if m:
                rows.append((float(m.group(1)), m.group(2), m.group(3), m.group(5).strip()))
    return rows

def perf_comm(path):
    out = []
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
            if m:
                out.append((float(m.group(1)), m.group(2)))
    return out

load = dict(x.strip().split("=", 1) for x in open(res + "/load") if "=" in x)
L = []
p = L.append
p("## 4. Sessions over the channel vs OpenSSH")
p("")
p(f"Measured {date}: {ncpu} vCPUs ({cpumodel}), {memmb} MB RAM, kernel {kern}, built from commit "
  f"`{rev}`; {sshv}, libwebsockets {lwsv}, OpenSSL {sslv}; configure's default `-g -O2` (no "
  f"sanitizers); every process at nice -10. Load average at the start {load.get('load_start', '?')}, "
  f"at the end {load.get('load_end', '?')} (other builds and tests share the 2 vCPUs: the "
  "variants take turns in every measurement, so each comparison is within the same moments).")
p("")
p("```")
p("sudo bench/channel_bench.sh [BUILDDIR]    # a few minutes (1 to 8 here); rewrites this section")
p("```")
p("")
p("How: the set-up of `tests/channel_sessions.sh` (private mount+pid namespaces, two network "
  "namespaces joined by a veth pair): `ssm start-session` in the broker's namespace -> "
  "ssm-broker (TLS websocket) -> ssm-agent on the host (its own TLS websocket link to the "
  "broker, dialled out), login through the PAM service ssm-session with the real "
  "pam_ssmsession, login shell ssm-shell (recording an asciicast transcript, delivered to the "
  "broker during the session). OpenSSH: `sshd` listening on the host's veth address, "
  "public key (ed25519), `UsePAM no`, the same user `ssmtu` with bash as its shell (sshd alone "
  "sees a passwd where the shell is bash; ssm-shell refuses a login without a session record), "
  "client `ssh -tt` (or `ssh -L`) from the broker's namespace, default ciphers. A python3 "
  "driver owns each client's terminal (`os.openpty`, 100x30, `select`): it plays the user, "
  "reading everything the client writes as fast as it comes.")
p("")
p("Two relayed OpenSSH sessions measured in the same rounds show what a brokered design is up "
  "against, since Session Manager's broker relays every byte by design: **OpenSSH through a "
  "bastion** (a second `sshd` on the broker's namespace's loopback, reached with "
  "`ProxyCommand='ssh -W %h:%p'`, what `ssh -J` does: the bastion host Session Manager "
  "retires) and **OpenSSH through a TCP relay** (`socat -b 65536` with `TCP_NODELAY` on the "
  "broker's loopback forwarding to the host's sshd: one relay hop with no cryptography, the "
  "least any relay adds). The goals are against direct OpenSSH, as the issue sets them.")
for v in RELAYED:
    if skipped(v):
        p("")
        p(f"{NAME[v]}: not measured: {skipped(v)}")
p("")

# ---- echo
ech = {}
for v in VARIANTS:
    runs = []
    for r in range(1, echo_runs + 1):
        path = f"{res}/echo.{v}.{r}"
        if os.path.exists(path):
            runs.append([float(x) for x in open(path).read().split()])
    if runs:
        ech[v] = runs
p(f"### 1. Keystroke echo: {echo_n} one-byte round trips per run, {echo_runs} runs, microseconds")
p("")
p("The shell runs `stty raw -echo; dd bs=1`: each byte comes back as soon as it is read, as a "
  "shell at its prompt echoes it. The sessions are open at once and take turns byte by byte "
  "(20 warm-up bytes each, not counted); time from the driver's write to the byte's arrival "
  "on the client's terminal.")
p("")
if os.path.exists(res + "/echo.errors"):
    errs = open(res + "/echo.errors").read().strip().splitlines()
    p(f"Sessions that ended or answered wrongly during a run (left out from there on): {len(errs)}: "
      + "; ".join(f"`{e}`" for e in errs[:4]) + ".")
    p("")
p("| | median | p90 | p99 | max | medians of the runs | vs OpenSSH (median / p99) |")
p("|---|---|---|---|---|---|---|")
for v in ech:
    allx = [x for r in ech[v] for x in r]
    rm = ", ".join(f(MED(r), 0) for r in ech[v])
    vs = ""
    if v != "ssh" and "ssh" in ech:
        sx = [x for r in ech["ssh"] for x in r]
        vs = f"{MED(allx) / MED(sx):.2f}x / {pct(allx, .99) / pct(sx, .99):.2f}x"
    p(f"| {NAME[v]} | {f(MED(allx))} | {f(pct(allx, .9))} | {f(pct(allx, .99))} | {f(max(allx))} | {rm} | {vs} |")
p("")

# ---- throughput
tp = {v: [x for x in lines(res + "/tp", "tp") if x["name"] == v] for v in VARIANTS}
tp = {v: x for v, x in tp.items() if x}
p(f"### 2. Terminal output: `cat` of a {size / 1e6:.0f} MB file (base64, 76-column lines), {tp_rounds} interleaved rounds")
p("")
p("ssm: `ssm start-session --target ID` (default document SSM-SessionManagerRunShell, "
  "Standard_Stream; `transcript_max_bytes` 1 GiB); OpenSSH: `ssh -tt`. The driver types "
  "`cat FILE; echo END-MARK` at the prompt and counts the bytes until the marker (the pty's "
  "CRLF makes them 1.3% more than the file); MB/s are the file's bytes (10^6) over that time. "
  "CPU: the client's (wait4), the broker's and the agent's own (/proc/PID/stat), and what the "
  "agent reaped (session parent, ssm-shell, bash, cat); sshd's side is not shown (its "
  "listener's reaped CPU came out at 10 to 30 ms for 200 MB, which cannot be all of it). A stall is a pause of 20 ms or more between two reads of "
  f"the driver. A run still going after {cap_s:.0f} s is stopped (^C, the client killed) and its "
  "rate is that of the bytes received so far (77/78 of them file bytes).")
p("")
p("| | MB/s (median, range) | vs OpenSSH | stalls >= 20 ms (median count / total) | CPU client ms | CPU broker ms | CPU agent ms | CPU session, reaped, ms |")
p("|---|---|---|---|---|---|---|---|")
med_tp = {}
for v, rs in tp.items():
    ok = [r for r in rs if r.get("rc") == 0]
    if not ok:
        p(f"| {NAME[v]} | (failed) | | | | | | |")
        continue
    mb = [r["mb_s"] for r in ok]
    med_tp[v] = MED(mb)
    cpu = {}
    for r in ok:
        for k, val in r.items():
            if k.startswith("cpu_"):
                cpu.setdefault(k, []).append(val)
    pids = []
    for k in cpu:
        pid = k.split("_")[1]
        if pid not in pids:
            pids.append(pid)
    def c(pid, ch=False):
        k = f"cpu_{pid}_children_ms" if ch else f"cpu_{pid}_ms"
        return f(MED(cpu[k]), 0) if k in cpu else "-"
    vs = f"{med_tp[v] / med_tp['ssh']:.3f}x" if "ssh" in med_tp and v != "ssh" else ""
    stl = f"{f(MED([r['stalls'] for r in ok]), 0)} / {f(MED([r['stall_ms'] for r in ok]) / 1000, 1)} s"
    ncap = sum(1 for r in ok if r.get("capped") == 1)
    if ncap:
        stl += f" (capped at {cap_s:.0f} s in {ncap} of {len(ok)} runs: {f(MED([r['bytes'] for r in ok]) / 1e6)} MB arrived)"
    if v.startswith("ssm") and len(pids) >= 2:
        p(f"| {NAME[v]} | {f(med_tp[v], 2)} ({f(min(mb), 2)}-{f(max(mb), 2)}) | {{vs_tp_{v}}} | {stl} | "
          f"{f(MED([r['client_ms'] for r in ok]), 0)} | {c(pids[0])} | {c(pids[1])} | {c(pids[1], True)} |")
    else:
        p(f"| {NAME[v]} | {f(med_tp[v], 2)} ({f(min(mb), 2)}-{f(max(mb), 2)}) | {{vs_tp_{v}}} | {stl} | "
          f"{f(MED([r['client_ms'] for r in ok]), 0)} | - | - | - |")
txt = "\n".join(L)
for v in VARIANTS:
    if v in med_tp and "ssh" in med_tp and v != "ssh":
        txt = txt.replace("{vs_tp_%s}" % v, f"{med_tp[v] / med_tp['ssh']:.3f}x")
    txt = txt.replace("{vs_tp_%s}" % v, "")
L = txt.split("\n")
p = L.append
p("")

# ---- start
sts = lines(res + "/start", "start")
p(f"### 3. Session start: {start_n} of each, taking turns, milliseconds")
p("")
p("Terminal: from the client's exec to the first byte on its terminal and to the prompt "
  "`ssmtu$ ` (ssm: StartSession over HTTPS, the websocket, the broker's channel to the agent, "
  "PAM with pam_ssmsession's token check, ssm-shell, `bash -l`; OpenSSH: TCP, key exchange, "
  "public key authentication, `bash -l`). Command: `ssm start-session --document-name Cmd-Echo` "
  "(NonInteractiveCommands, `echo CMD-OUT`) vs `ssh HOST 'echo CMD-OUT'`: to the first output "
  "byte and to the client's exit.")
p("")
p("| | kind | first byte, median | p90 | prompt (terminal) / exit (command), median | p90 | vs OpenSSH (prompt / first byte) |")
p("|---|---|---|---|---|---|---|")
stmed, rows = {}, []
for kind in ("term", "cmd"):
    for v in ("ssm", "ssh"):
        rs = [r for r in sts if r["kind"] == kind and r["name"] == v and r.get("rc") == 0]
        if kind == "cmd":
            rs = [r for r in rs if r.get("ok") == 1]
        if not rs:
            rows.append((kind, v, None))
            continue
        fb = [r["first_ms"] for r in rs]
        end = [r["prompt_ms"] if kind == "term" else r["end_ms"] for r in rs]
        stmed[(kind, v)] = (MED(fb), MED(end))
        rows.append((kind, v, (fb, end)))
for kind, v, x in rows:
    kn = "terminal" if kind == "term" else "command"
    if x is None:
        p(f"| {NAME[v]} | {kn} | (failed) | | | | |")
        continue
    fb, end = x
    vs = ""
    if v == "ssm" and (kind, "ssh") in stmed:
        a, b = stmed[(kind, "ssm")], stmed[(kind, "ssh")]
        vs = f"{a[1] / b[1]:.2f}x" if kind == "term" else f"{a[0] / b[0]:.2f}x"
    p(f"| {NAME[v]} | {kn} | {f(MED(fb))} | {f(pct(fb, .9))} | {f(MED(end))} | {f(pct(end, .9))} | {vs} |")
p("")

# ---- port forwarding
pfs = lines(res + "/pf", "pf")
p(f"### 4. Port forwarding: {size / 1e6:.0f} MB from a server on the host's 127.0.0.1, {pf_rounds} interleaved rounds")
p("")
med_pf = {}
if os.path.exists(res + "/pf.skip"):
    p("Skipped: " + open(res + "/pf.skip").read().strip())
else:
    p("ssm: `ssm start-session --document-name AWS-StartPortForwardingSession --parameters "
      "portNumber=9000,localPortNumber=0` (one listener; each connection is a session of its "
      "own); OpenSSH: `ssh -N -L 9100:127.0.0.1:9000` (one connection, a channel per TCP "
      "connection). The server (python, on the host's loopback) sends the bytes from memory; "
      "the driver connects to the local port and reads to EOF. MB/s over connect..EOF (the "
      "per-connection session start included) and from the first byte.")
    p("")
    p("| | MB/s (median, range) | from the first byte | first byte ms | vs ssh -L |")
    p("|---|---|---|---|---|")
    got = {}
    for v in ("ssm", "ssh"):
        rs = [r for r in pfs if r["name"] == v and r.get("ok") == 1]
        if rs:
            med_pf[v] = MED([r["mb_s"] for r in rs])
            got[v] = rs
    for v in ("ssm", "ssh"):
        if v not in got:
            p(f"| {NAME[v]} | (failed) | | | |")
            continue
        rs = got[v]
        mb = [r["mb_s"] for r in rs]
        vs = f"{med_pf[v] / med_pf['ssh']:.2f}x" if v != "ssh" and "ssh" in med_pf else ""
        p(f"| {NAME[v]} | {f(med_pf[v])} ({f(min(mb))}-{f(max(mb))}) | {f(MED([r['steady_mb_s'] for r in rs]))} | "
          f"{f(MED([r['first_ms'] for r in rs]))} | {vs} |")
p("")

# ---- memory
mem = lines(res + "/mem", "mem")
p("### 5. Memory of ssm-broker and ssm-agent (the long-lived processes), MiB")
p("")
p("VmRSS/VmHWM from /proc/PID/status: idle (linked, before any measured session; one command "
  "session ran to check the set-up), the largest VmRSS sampled every 10 ms during the "
  "transfers, and both after everything.")
p("")
p("| | idle VmRSS | idle VmHWM | largest VmRSS during the terminal `cat` | during the port forward | VmRSS after | VmHWM after |")
p("|---|---|---|---|---|---|---|")
def mget(tag, name, key):
    xs = [r[key] for r in mem if r["tag"] == tag and r["name"] == name]
    return f(max(xs) / 1024, 2) if xs else "-"
for n in ("broker", "agent"):
    p(f"| ssm-{n} | {mget('idle', n, 'rss_kb')} | {mget('idle', n, 'hwm_kb')} | {mget('tp', n, 'rss_kb')} | "
      f"{mget('pf', n, 'rss_kb')} | {mget('after', n, 'rss_kb')} | {mget('after', n, 'hwm_kb')} |")
p("")

# ---- where it goes
p("### Where it goes (profiled runs, not timed)")
p("")
for what in ("echo", "tp", "pf"):
    b, a = strace_calls(f"{res}/strace.{what}.broker"), strace_calls(f"{res}/strace.{what}.agent")
    if not b or not a:
        continue
    if what == "echo":
        n, unit = 300, "per keystroke (300 round trips, the session's set-up included)"
    elif what == "tp":
        ts = lines(res + "/tp.strace", "tp")
        if not ts:
            continue
        n = ts[0]["bytes"] / 1e6
        unit = (f"per MB of terminal output ({n:.0f} MB, client "
                + ("with the proposed fix" if altname else "as built") + ")")
    else:
        n, unit = size / 4 / 1e6, f"per MB forwarded ({size / 4 / 1e6:.0f} MB)"
    def per(c):
        return ", ".join(f"{k} {c[k] / n:.1f}" for k in sorted(c, key=lambda k: -c[k])[:4])
    p(f"- System calls {unit}, `strace -c` of the broker and the agent: ssm-broker "
      f"{sum(b.values()) / n:.1f} ({per(b)}); ssm-agent {sum(a.values()) / n:.1f} ({per(a)}).")
for path, what in (("tpcomm.ssm", "terminal `cat`, ssm"), ("tpcomm.ssh", "terminal `cat`, OpenSSH"),
                   ("pfcomm", "port forward, ssm")):
    rows = perf_comm(f"{res}/perf.{path}")
    if rows:
        p(f"- `perf record -a`, {what}, samples by process: "
          + ", ".join(f"{c_} {x:.0f}%" for x, c_ in rows[:7]) + ".")
for path, what in (("tp.ssm", "terminal `cat`, ssm"), ("pf", "port forward, ssm")):
    rows = perf_rows(f"{res}/perf.{path}")
    if rows:
        tot = sum(x for x, *_ in rows) or 1
        p(f"- top symbols, {what}: " + ", ".join(
            f"{c_} `{s_[:34]}` ({'kernel' if d.startswith('[kernel') else d}) {100 * x / tot:.1f}%"
            for x, c_, d, s_ in rows[:8]) + ".")
p("")

# ---- goals
G = []
if "ssm" in ech and "ssh" in ech:
    a = [x for r in ech["ssm"] for x in r]
    b = [x for r in ech["ssh"] for x in r]
    G.append(("echo latency median and p99 no worse than ssh's", MED(a) <= MED(b) and pct(a, .99) <= pct(b, .99),
              f"median {f(MED(a))} vs {f(MED(b))} us ({MED(a) / MED(b):.2f}x), p99 {f(pct(a, .99))} vs "
              f"{f(pct(b, .99))} us ({pct(a, .99) / pct(b, .99):.2f}x)"))
if "ssm" in med_tp and "ssh" in med_tp:
    G.append(("shell output throughput >= 0.9x ssh -tt's", med_tp["ssm"] >= 0.9 * med_tp["ssh"],
              f"{f(med_tp['ssm'], 2)} vs {f(med_tp['ssh'])} MB/s ({med_tp['ssm'] / med_tp['ssh']:.3f}x)"))
if "ssm" in med_pf and "ssh" in med_pf:
    G.append(("port forwarding >= 100 MB/s and >= 0.5x ssh -L's",
              med_pf["ssm"] >= 100 and med_pf["ssm"] >= 0.5 * med_pf["ssh"],
              f"{f(med_pf['ssm'])} vs {f(med_pf['ssh'])} MB/s ({med_pf['ssm'] / med_pf['ssh']:.2f}x)"))
else:
    G.append(("port forwarding >= 100 MB/s and >= 0.5x ssh -L's", None, "not measured"))
if ("term", "ssm") in stmed and ("term", "ssh") in stmed:
    a, b = stmed[("term", "ssm")], stmed[("term", "ssh")]
    G.append(("session start no slower than ssh with a key: terminal, to the prompt", a[1] <= b[1],
              f"{f(a[1])} vs {f(b[1])} ms ({a[1] / b[1]:.2f}x)"))
if ("cmd", "ssm") in stmed and ("cmd", "ssh") in stmed:
    a, b = stmed[("cmd", "ssm")], stmed[("cmd", "ssh")]
    G.append(("session start no slower than ssh with a key: command, to the first output byte", a[0] <= b[0],
              f"{f(a[0])} vs {f(b[0])} ms ({a[0] / b[0]:.2f}x)"))
R = []
if "ssm" in ech:
    a = [x for r in ech["ssm"] for x in r]
    for v in RELAYED:
        if v in ech and "ssh" in ech:
            b = [x for r in ech[v] for x in r]
            c = [x for r in ech["ssh"] for x in r]
            R.append(f"echo: {NAME[v]} {MED(b) / MED(c):.2f}x / {pct(b, .99) / pct(c, .99):.2f}x direct OpenSSH "
                     f"(median / p99); ssm {MED(a) / MED(b):.2f}x / {pct(a, .99) / pct(b, .99):.2f}x it")
if "ssm" in med_tp:
    for v in RELAYED:
        if v in med_tp and "ssh" in med_tp:
            R.append(f"terminal output: {NAME[v]} {med_tp[v] / med_tp['ssh']:.3f}x direct OpenSSH; "
                     f"ssm {med_tp['ssm'] / med_tp[v]:.3f}x it")
if R:
    p("### The relayed yardsticks")
    p("")
    for x in R:
        p(f"- {x}.")
    p("")
p("### Goals")
p("")
p("| goal | measured | |")
p("|---|---|---|")
for name, met, detail in G:
    p(f"| {name} | {detail} | {'-' if met is None else 'met' if met else '**not met**'} |")
print("\n".join(L))
PYEOF
echo
cat "$T/section.md"
if [ -n "${CHANBENCH_KEEP:-}" ]; then
	rm -rf "$CHANBENCH_KEEP"
	cp -r "$RES" "$CHANBENCH_KEEP"
	cp "$T/section.md" "$CHANBENCH_KEEP/"
fi
if [ -n "$quick" ] || [ -n "${CHANBENCH_NO_WRITE:-}" ]; then
	echo "(trial run: bench/RESULTS.md not written)"
	exit 0
fi
# replace our section of RESULTS.md (re-read right now: other sections are not ours)
RESULTS=${CHANBENCH_RESULTS:-$top/bench/RESULTS.md}
python3 - "$RESULTS" "$T/section.md" <<'PYEOF'
import sys, os, re
path, sec = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
old = open(path).read() if os.path.exists(path) else ""
m = re.search(r"^## 4\. Sessions over the channel[^\n]*\n", old, re.M)
if m:
    nxt = re.search(r"^## ", old[m.end():], re.M)
    end = m.end() + nxt.start() if nxt else len(old)
    new = old[:m.start()] + sec + ("\n" + old[end:] if nxt else "")
else:
    new = old + ("\n" if old and not old.endswith("\n\n") else "") + sec
open(path + ".tmp", "w").write(new)
os.replace(path + ".tmp", path)
PYEOF
echo "$RESULTS: section 4 (sessions over the channel) written"
exit 0
