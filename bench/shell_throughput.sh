#!/bin/sh
# Terminal throughput of a recorded session: `cat` of a text file (default 200 MB) through
#   - an outer pty only: the floor
#   - script -q recording to a file, inside the outer pty
#   - tlog-rec recording to a file, inside the outer pty (rate limit lifted)
#   - an ssm-shell InteractiveCommands session (su - USER, token at the prompt; ssm-shell's pty,
#     recorder and asciicast transcript), inside the outer pty
# The outer pty is the same for all four: expect (bench/pty_drive.exp) spawns the command on a
# pty, answers the token prompt if there is one, and reads the output to the end unlogged.
# All in a private mount namespace (private /etc/passwd, group, shadow, pam.d and the
# directory of ssm-shell's compiled-in configuration); the host is never changed.
#
#   bench/shell_throughput.sh [BUILDDIR] [MB] [RUNS]     (root; BUILDDIR default build-bench)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-bench}
mkdir -p "$build" && build=$(cd "$build" && pwd)
mb=${2:-200}
runs=${3:-3}
py=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "shell_throughput.sh: run as root" >&2; exit 2; }
for t in hyperfine tlog-rec script su expect; do
	command -v $t >/dev/null || { echo "shell_throughput.sh: $t missing" >&2; exit 2; }
done

if [ "${SSM_BENCH_INSIDE:-}" = "" ]; then
	if [ ! -x "$build/ssm-shell/ssm-shell" ] || [ ! -f "$build/pam_ssmsession/.libs/pam_ssmsession.so" ]; then
		(cd "$top" && [ -x configure ] || ./autogen.sh >/dev/null 2>&1)
		(cd "$build" && [ -f Makefile ] || "$top/configure" --quiet >/dev/null)
		(cd "$build" && make -j"$(nproc)" >/dev/null)
	fi
	SSM_BENCH_INSIDE=$(readlink /proc/self/ns/mnt) exec unshare --mount --propagation private \
		-- /bin/sh "$0" "$build" "$mb" "$runs"
fi
[ "$(readlink /proc/self/ns/mnt)" != "$SSM_BENCH_INSIDE" ] || { echo "not in a new namespace" >&2; exit 2; }

module="$build/pam_ssmsession/.libs/pam_ssmsession.so"
conf=$("$build/ssm-shell/ssm-shell" --help | sed -n 's/^configuration: //p')
confdir=$(dirname "$conf")
work=$(mktemp -d /var/tmp/ssm-tput.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
cd "$work"
mkdir -p private bin docs state run log rec home
cp -a /etc/passwd /etc/group /etc/shadow private/
cp -a /etc/pam.d private/pam.d
for f in passwd group shadow pam.d; do mount --bind "private/$f" "/etc/$f"; done
# ssm-shell reads only its compiled-in configuration path: a private copy of its parent
parent=$(dirname "$confdir")
[ -d "$parent" ] || { echo "shell_throughput.sh: $parent does not exist" >&2; exit 2; }
mkdir -p private/confparent && cp -a "$parent/." private/confparent/
mount --bind private/confparent "$parent"
mkdir -p "$confdir"

# tlog-rec moves the utmp record of its terminal and fails without /run/utmp: give it a
# private, empty one (a tmpfs over /run in this namespace only)
if [ ! -e /run/utmp ]; then
	mount -t tmpfs -o mode=0755 tmpfs /run
	install -m 0664 -g utmp /dev/null /run/utmp 2>/dev/null || install -m 0664 /dev/null /run/utmp
fi
uid=2100
while getent passwd "$uid" >/dev/null || getent passwd $((uid + 1)) >/dev/null; do uid=$((uid + 2)); done
cp "$build/ssm-shell/ssm-shell" bin/ssm-shell && chown root:root bin/ssm-shell && chmod 4755 bin/ssm-shell
echo "ssmsession:x:$uid:$uid::/nonexistent:/usr/sbin/nologin" >>/etc/passwd
echo "ssmsession:x:$uid:" >>/etc/group
uid=$((uid + 1))
echo "ssm-user:x:$uid:$uid::$work/home:$work/bin/ssm-shell" >>/etc/passwd
echo "ssm-user:x:$uid:" >>/etc/group
echo "ssm-user:!:19000:0:99999:7:::" >>/etc/shadow
chown "$uid" home

echo "# generating $mb MB of base64 text"
head -c $((mb * 1024 * 1024 * 3 / 4)) /dev/urandom | base64 -w 99 >data.txt
chmod 0644 data.txt
cat >docs/CatData.json <<EOF
{"schemaVersion": "1.0", "description": "throughput", "sessionType": "InteractiveCommands",
 "properties": {"linux": {"commands": "cat $work/data.txt", "runAsElevated": false}}}
EOF
chmod 0644 docs/CatData.json
$py "$top/broker/ssmtoken.py" keygen --alg EdDSA --kid tput --out-private key.pem --out-jwks "$confdir/jwks.json"
cat >"$conf" <<EOF
{"host_id": "i-0be4c400000000002", "issuer": "bench", "trusted_keys": "$confdir/jwks.json",
 "documents_dir": "$work/docs", "state_dir": "$work/state", "run_dir": "$work/run",
 "log_dir": "$work/log", "recorder_user": "ssmsession", "transcript_max_bytes": 0}
EOF
chmod 0644 "$conf" "$confdir/jwks.json"
for f in su su-l; do
	printf 'auth required %s\naccount required %s\nsession required %s\n' \
		"$module" "$module" "$module" >/etc/pam.d/$f
done

mkdir tok
$py - "$top/broker" $((runs + 3)) "$work" <<'EOF'
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import ssmtoken
key = ssmtoken.load_private("key.pem")
digest = ssmtoken.sha256_file("docs/CatData.json")
for i in range(int(sys.argv[2])):
    c = ssmtoken.build_claims("bench", "i-0be4c400000000002", "alice", "alice-%017d" % i,
                              "ssm-user", "CatData", digest, lifetime=300)
    open("tok/%05d" % i, "w").write(ssmtoken.mint(key, "tput", "EdDSA", c) + "\n")
EOF
cat >next.sh <<'EOF'
#!/bin/sh
f=$(ls tok | head -n 1); mv "tok/$f" cur.tok; rm -f rec/*
EOF
chmod +x next.sh

drive="expect -f $top/bench/pty_drive.exp"
# sanity: one ssm-shell session produces the whole output and a transcript
./next.sh
SSM_DRIVE_SHOW=1 $drive cur.tok su - ssm-user >out.txt || true
got=$(tr -d '\r' <out.txt | grep -c '^[A-Za-z0-9+/=]*$' || true)
want=$(wc -l <data.txt)
cast=$(ls log/sessions/*.cast 2>/dev/null | head -1)
echo "# check: ssm-shell session printed $got of $want lines; transcript $(stat -c %s "$cast" 2>/dev/null || echo 0) bytes"
[ "$got" -ge "$want" ] || { echo "shell_throughput.sh: the ssm-shell session lost output" >&2; tail -5 out.txt >&2; exit 1; }
rm -f log/sessions/*.cast out.txt

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $(nproc) cpus, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
echo "# $(hyperfine --version), $(script --version | head -1), $(expect -v), tlog-rec $(tlog-rec --version 2>&1 | head -1 | awk '{print $NF}'); $mb MB, $runs runs each; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine --runs "$runs" --style basic --export-json "$work/result.json" \
	-n outer-pty-only --prepare "rm -f rec/*" "$drive - cat data.txt" \
	-n script-q --prepare "rm -f rec/*" "$drive - script -q -c 'cat data.txt' rec/typescript" \
	-n tlog-rec --prepare "rm -f rec/*" "$drive - tlog-rec --limit-rate=1000000000000 --limit-burst=1000000000000 -w file -o rec/tlog.json cat data.txt" \
	-n ssm-shell --prepare "./next.sh; rm -f log/sessions/*.cast" "$drive cur.tok su - ssm-user"
$py - "$work/result.json" "$mb" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
mb = float(sys.argv[2])
base = r["outer-pty-only"]["mean"]
print("%-16s %9s %9s %10s" % ("recorder", "mean s", "MB/s", "vs floor"))
for n in ("outer-pty-only", "script-q", "tlog-rec", "ssm-shell"):
    m = r[n]["mean"]
    print("%-16s %9.3f %9.1f %9.2fx" % (n, m, mb / m, m / base))
EOF
