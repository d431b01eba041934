#!/bin/sh
# A full PAM cycle with pam_ssmsession against the same cycle with only pam_permit.so:
#   pamtester SERVICE ssm-user authenticate acct_mgmt open_session close_session
# measured side by side in one hyperfine run, in a private mount namespace (private
# /etc/pam.d, /etc/passwd, /etc/group, /etc/shadow; the host is never changed).
# Goal: the pam_ssmsession cycle <= 1.5x the pam_permit cycle.
#
#   bench/pam_cycle.sh [BUILDDIR] [RUNS]      (root; BUILDDIR default build-bench)
#
# Every pam_ssmsession run needs a fresh token (a replayed jti is refused, and hyperfine
# stops on a failed run): RUNS + warm-up tokens are minted beforehand, one file each, and
# hyperfine's --prepare (not timed) moves the next one to cur.tok.  Two pam_ssmsession
# variants: state and log directories on the disk (every accepted jti and audit line is
# fsync'ed, as in production) and on a tmpfs (what the module costs without the disk).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-bench}
mkdir -p "$build" && build=$(cd "$build" && pwd)
runs=${2:-300}
warm=10
py=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "pam_cycle.sh: run as root" >&2; exit 2; }

if [ "${SSM_BENCH_INSIDE:-}" = "" ]; then
	if [ ! -f "$build/pam_ssmsession/.libs/pam_ssmsession.so" ]; then
		mkdir -p "$build"
		(cd "$top" && [ -x configure ] || ./autogen.sh >/dev/null 2>&1)
		(cd "$build" && [ -f Makefile ] || "$top/configure" --quiet >/dev/null)
		(cd "$build" && make -j"$(nproc)" pam_ssmsession/pam_ssmsession.la >/dev/null)
	fi
	SSM_BENCH_INSIDE=$(readlink /proc/self/ns/mnt) exec unshare --mount --propagation private \
		-- /bin/sh "$0" "$build" "$runs"
fi
# never bind-mount over /etc unless this really is a new mount namespace
[ "$(readlink /proc/self/ns/mnt)" != "$SSM_BENCH_INSIDE" ] || { echo "not in a new namespace" >&2; exit 2; }

module="$build/pam_ssmsession/.libs/pam_ssmsession.so"
work=$(mktemp -d /var/tmp/ssm-bench.XXXXXX)
trap 'umount "$work/mem" 2>/dev/null; rm -rf "$work"' EXIT
chmod 0755 "$work"
cd "$work"
mkdir -p private etc/documents disk/state disk/run disk/log mem
mount -t tmpfs -o mode=0755 tmpfs mem
mkdir -p mem/state mem/run mem/log
cp -a /etc/passwd /etc/group /etc/shadow private/
cp -a /etc/pam.d private/pam.d
for f in passwd group shadow pam.d; do mount --bind "private/$f" "/etc/$f"; done
uid=2000
while getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null; do uid=$((uid + 1)); done
echo "ssm-user:x:$uid:$uid::/nonexistent:/bin/sh" >>/etc/passwd
echo "ssm-user:x:$uid:" >>/etc/group
echo "ssm-user:!:19000:0:99999:7:::" >>/etc/shadow

cat >etc/documents/SSM-SessionManagerRunShell.json <<'EOF'
{"schemaVersion": "1.0", "description": "bench", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "20"}}
EOF
$py "$top/broker/ssmtoken.py" keygen --alg EdDSA --kid bench --out-private key.pem --out-jwks etc/jwks.json
for where in disk mem; do
	cat >etc/$where.json <<EOF
{"host_id": "i-0be4c400000000001", "issuer": "bench", "trusted_keys": "$work/etc/jwks.json",
 "documents_dir": "$work/etc/documents", "state_dir": "$work/$where/state",
 "run_dir": "$work/$where/run", "log_dir": "$work/$where/log"}
EOF
	for t in auth account session; do
		echo "$t required $module config=$work/etc/$where.json"
	done >/etc/pam.d/ssm-bench-$where
done
chmod 0644 etc/*.json
printf 'auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_permit.so\n' \
	>/etc/pam.d/permit-bench

# mint the tokens in one process: tok.disk/NNNNN, tok.mem/NNNNN
n=$((runs + warm + 5))
$py - "$top/broker" "$n" <<'EOF'
import os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import ssmtoken
key = ssmtoken.load_private("key.pem")
digest = ssmtoken.sha256_file("etc/documents/SSM-SessionManagerRunShell.json")
for where in ("disk", "mem"):
    os.mkdir("tok." + where)
    for i in range(int(sys.argv[2])):
        c = ssmtoken.build_claims("bench", "i-0be4c400000000001", "alice",
                                  "alice-%017d" % i, "ssm-user", "SSM-SessionManagerRunShell",
                                  digest, lifetime=300)
        with open("tok.%s/%05d" % (where, i), "w") as f:
            f.write(ssmtoken.mint(key, "bench", "EdDSA", c) + "\n")
EOF
# the prepare step: next token file becomes cur-WHERE.tok
cat >next.sh <<'EOF'
#!/bin/sh
f=$(ls "tok.$1" | head -n 1); mv "tok.$1/$f" "cur-$1.tok"
EOF
chmod +x next.sh

# sanity: each service works once, and a replay fails (so the cycle really verifies)
for where in disk mem; do
	./next.sh $where
	pamtester ssm-bench-$where ssm-user authenticate acct_mgmt open_session close_session \
		<cur-$where.tok >/dev/null
	if pamtester ssm-bench-$where ssm-user authenticate <cur-$where.tok >/dev/null 2>&1; then
		echo "pam_cycle.sh: replay accepted, refusing to benchmark" >&2; exit 1
	fi
done
pamtester permit-bench ssm-user authenticate acct_mgmt open_session close_session >/dev/null

# Profiling instead of benchmarking (what dominates a cycle):
#   SSM_BENCH_PROFILE=strace  one tmpfs cycle under strace -f -r -T, into $SSM_BENCH_OUT
#   SSM_BENCH_PROFILE=perf    perf record of RUNS tmpfs cycles (and as many pam_permit ones
#                             into $SSM_BENCH_OUT.permit), then perf report --sort dso
case ${SSM_BENCH_PROFILE:-} in
strace)
	./next.sh mem
	strace -f -r -T -o "$SSM_BENCH_OUT" pamtester ssm-bench-mem ssm-user authenticate \
		acct_mgmt open_session close_session <cur-mem.tok >/dev/null
	exit ;;
perf)
	# one shell loop, no helper processes: each pam_ssmsession cycle reads its own token file
	cat >loop.sh <<'EOF'
#!/bin/sh
n=0
for f in tok.mem/*; do
	[ $n -lt "$2" ] || break
	if [ "$1" = mem ]; then
		pamtester ssm-bench-mem ssm-user authenticate acct_mgmt open_session close_session <"$f"
	else
		pamtester permit-bench ssm-user authenticate acct_mgmt open_session close_session </dev/null
	fi >/dev/null || exit 1
	n=$((n + 1))
done
EOF
	perf record -q -o "$SSM_BENCH_OUT" -- sh loop.sh mem "$runs" 2>/dev/null
	perf record -q -o "$SSM_BENCH_OUT.permit" -- sh loop.sh permit "$runs" 2>/dev/null
	for f in "$SSM_BENCH_OUT" "$SSM_BENCH_OUT.permit"; do
		echo "== $f: samples by shared object"
		perf report -i "$f" -n --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8
	done
	exit ;;
esac

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $(nproc) cpus, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
echo "# $(hyperfine --version), $runs runs + $warm warm-up each; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# disk: $(df -T "$work" | awk 'NR == 2 {print $2, $1}') for state/log of ssm-bench-disk; tmpfs for ssm-bench-mem"
cyc="ssm-user authenticate acct_mgmt open_session close_session"
# the shared libraries pam_ssmsession brings in that pamtester does not already have: loading
# them into the pam_permit cycle shows what dynamic loading alone costs
libs=$(ldd "$module" | awk '/=> \// {print $3}' | while read -r l; do
	ldd "$(command -v pamtester)" | grep -q "$l" || printf '%s:' "$l"; done)
libs=${libs%:}
echo "# module-libs: $libs"
hyperfine --runs "$runs" --warmup "$warm" --style basic --export-json "$work/result.json" \
	-n pam_permit --prepare true "pamtester permit-bench $cyc </dev/null" \
	-n pam_permit+module-libs --prepare true "LD_PRELOAD='$libs' pamtester permit-bench $cyc </dev/null" \
	-n pam_ssmsession-disk --prepare "./next.sh disk" "pamtester ssm-bench-disk $cyc <cur-disk.tok" \
	-n pam_ssmsession-tmpfs --prepare "./next.sh mem" "pamtester ssm-bench-mem $cyc <cur-mem.tok"
$py - "$work/result.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["pam_permit"]
libs = r["pam_permit+module-libs"]
print("%-24s %9s %9s %9s %9s %12s" % ("cycle", "mean ms", "median ms", "min ms", "vs permit",
                                       "vs permit+libs"))
for name in ("pam_permit", "pam_permit+module-libs", "pam_ssmsession-tmpfs", "pam_ssmsession-disk"):
    x = r[name]
    print("%-24s %9.3f %9.3f %9.3f %8.2fx %11.2fx" % (name, x["mean"] * 1e3, x["median"] * 1e3,
          x["min"] * 1e3, x["mean"] / base["mean"], x["mean"] / libs["mean"]))
EOF
echo "# audit lines written (disk): $(wc -l <disk/log/audit.jsonl); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
