#!/bin/sh
# A full PAM cycle with pam_ssmsession against the same cycle with only pam_permit.so,
# measured side by side in one run, in a private mount namespace (private /etc/pam.d,
# /etc/passwd, /etc/group, /etc/shadow; the host is never changed).
# Goal: the pam_ssmsession cycle <= 1.5x the pam_permit cycle.  Two settings:
#   1. pamtester SERVICE ssm-user authenticate acct_mgmt open_session close_session, a new
#      process per cycle, exec'ed by bench/pam_sshd_like -x (no shell between; the token
#      on a pipe as stdin), with a pam_permit variant that preloads the module's libraries;
#   2. sshd-like (bench/pam_sshd_like): a parent with libcrypto loaded and initialised as
#      sshd's monitor has it forks a child per cycle that runs pam_start .. pam_end, the
#      token answered by the conversation function: the deployment figure.
# Variants are interleaved cycle by cycle; a hyperfine -N run of the pam_permit pamtester
# cycle cross-checks the driver's clock.
#
#   bench/pam_cycle.sh [BUILDDIR] [RUNS]      (root; BUILDDIR default build-bench)
#
# Every pam_ssmsession cycle needs a fresh token (a replayed jti is refused): all are
# minted beforehand.  Two pam_ssmsession variants: the production layout (state_dir and
# log_dir on the disk, every accepted jti fsync'ed; run_dir on a tmpfs like /run) and
# everything on a tmpfs (what the module costs without the disk).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-bench}
mkdir -p "$build" && build=$(cd "$build" && pwd)
runs=${2:-300}
warm=10
py=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "pam_cycle.sh: run as root" >&2; exit 2; }

if [ "${SSM_BENCH_INSIDE:-}" = "" ]; then
	# always (re)build: a stale module would be measured without a word
	mkdir -p "$build"
	(cd "$top" && [ -x configure ] || ./autogen.sh >/dev/null 2>&1)
	(cd "$build" && [ -f Makefile ] || "$top/configure" --quiet >/dev/null)
	(cd "$build" && make -j"$(nproc)" >/dev/null) || { echo "pam_cycle.sh: build failed" >&2; exit 1; }
	SSM_BENCH_INSIDE=$(readlink /proc/self/ns/mnt) exec unshare --mount --propagation private \
		-- /bin/sh "$0" "$build" "$runs"
fi
# never bind-mount over /etc unless this really is a new mount namespace
[ "$(readlink /proc/self/ns/mnt)" != "$SSM_BENCH_INSIDE" ] || { echo "not in a new namespace" >&2; exit 2; }

module="$build/pam_ssmsession/.libs/pam_ssmsession.so"
driver="$build/bench/pam_sshd_like"
mkdir -p "$build/bench"
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -o "$driver" "$top/bench/pam_sshd_like.c" -lpam -lcrypto
work=$(mktemp -d /var/tmp/ssm-bench.XXXXXX)
trap 'umount "$work/mem" 2>/dev/null; rm -rf "$work"' EXIT
chmod 0755 "$work"
cd "$work"
mkdir -p private etc/documents disk/state disk/log mem
mount -t tmpfs -o mode=0755 tmpfs mem
mkdir -p mem/state mem/run-mem mem/run-disk mem/run-v mem/log disk/vstate disk/vlog mem/vstate mem/vlog \
	disk/bstate disk/blog
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
# disk, mem: no ssm-verifyd (the module verifies in-process through ssm-verify.so);
# vdisk, vmem: the same with ssm-verifyd answering on mem/run-v/verifyd.sock
# bdisk: vdisk with "replay_durability": "boot" (no flush; tokens from before boot refused)
for where in disk mem vdisk vmem bdisk; do
	extra=
	case $where in
	v*) fs=${where#v} state=vstate log=vlog run=run-v ;;
	b*) fs=disk state=bstate log=blog run=run-v extra=', "replay_durability": "boot"' ;;
	*) fs=$where state=state log=log run=run-$where ;;
	esac
	cat >etc/$where.json <<EOF
{"host_id": "i-0be4c400000000001", "issuer": "bench", "trusted_keys": "$work/etc/jwks.json",
 "documents_dir": "$work/etc/documents", "state_dir": "$work/$fs/$state",
 "run_dir": "$work/mem/$run", "log_dir": "$work/$fs/$log"$extra}
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
def tok(sid):
    c = ssmtoken.build_claims("bench", "i-0be4c400000000001", "alice", sid, "ssm-user",
                              "SSM-SessionManagerRunShell", digest, lifetime=300)
    return ssmtoken.mint(key, "bench", "EdDSA", c) + "\n"
for where in ("disk", "mem", "vdisk", "vmem", "bdisk"):
    os.mkdir("tok." + where)
    for i in range(int(sys.argv[2])):
        with open("tok.%s/%05d" % (where, i), "w") as f:
            f.write(tok("alice-%017d" % i))
    # the driver's tokens (-x: pt.WHERE, sshd-like: sshd.WHERE): one a line, own sids
    for mode in ("pt", "sshd"):
        with open("%s.%s" % (mode, where), "w") as f:
            for i in range(int(sys.argv[2])):
                f.write(tok("alice-%s%s%012d" % (mode, where, i)))
EOF
# the prepare step: next token file becomes cur-WHERE.tok
cat >next.sh <<'EOF'
#!/bin/sh
f=$(ls "tok.$1" | head -n 1); mv "tok.$1/$f" "cur-$1.tok"
EOF
chmod +x next.sh

# ssm-verifyd for the v* services, as its own user
echo "ssm-verifyd:x:$((uid + 1)):$((uid + 1))::/nonexistent:/usr/sbin/nologin" >>/etc/passwd
echo "ssm-verifyd:x:$((uid + 1)):" >>/etc/group
"$build/verifyd/ssm-verifyd" --config "$work/etc/vmem.json" --debug 2>verifyd.log &
verifyd_pid=$!
trap 'kill $verifyd_pid 2>/dev/null; umount "$work/mem" 2>/dev/null; rm -rf "$work"' EXIT
i=0
while [ ! -S mem/run-v/verifyd.sock ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -S mem/run-v/verifyd.sock ] || { echo "pam_cycle.sh: ssm-verifyd did not start" >&2; cat verifyd.log >&2; exit 1; }

# sanity: each service works once, and a replay fails (so the cycle really verifies)
for where in disk mem vdisk vmem bdisk; do
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
#   SSM_BENCH_PROFILE=perf-sshd  the same with the sshd-like driver (bench/pam_sshd_like.c)
#   SSM_BENCH_PROFILE=cmd     run sh -c "$SSM_BENCH_CMD" in the prepared directory (services
#                             ssm-bench-mem/-disk and permit-bench, token files sshd.mem and
#                             sshd.disk, $module, $driver), for experiments
case ${SSM_BENCH_PROFILE:-} in
cmd)
	export module driver
	sh -c "$SSM_BENCH_CMD"
	exit ;;
strace)
	./next.sh mem
	strace -f -r -T -o "$SSM_BENCH_OUT" pamtester ssm-bench-mem ssm-user authenticate \
		acct_mgmt open_session close_session <cur-mem.tok >/dev/null
	exit ;;
perf-sshd)
	# the sshd-like driver, pam_ssmsession (tmpfs) and pam_permit cycles separately
	perf record -q -o "$SSM_BENCH_OUT" -- "$driver" -n "$runs" -w 0 ssm=ssm-bench-mem:sshd.mem \
		>/dev/null
	perf record -q -o "$SSM_BENCH_OUT.permit" -- "$driver" -n "$runs" -w 0 permit=permit-bench \
		>/dev/null
	for f in "$SSM_BENCH_OUT" "$SSM_BENCH_OUT.permit"; do
		echo "== $f: samples by shared object"
		perf report -i "$f" -n --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8
	done
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
echo "# $runs cycles + $warm warm-up per variant, variants interleaved; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# disk: state_dir and log_dir on $(df -T "$work" | awk 'NR == 2 {print $2, $1}'), run_dir on tmpfs (as /run) for"
echo "# pam_ssmsession-disk; everything on tmpfs for pam_ssmsession-tmpfs"
cyc="ssm-user authenticate acct_mgmt open_session close_session"
# the shared libraries pam_ssmsession brings in that pamtester does not already have: loading
# them into the pam_permit cycle shows what dynamic loading alone costs
libs=$(ldd "$module" | awk '/=> \// {print $3}' | while read -r l; do
	ldd "$(command -v pamtester)" | grep -q "$l" || printf '%s:' "$l"; done)
libs=${libs%:}
echo "# module-libs: $libs"
echo
echo "## 1. pamtester: a new process per cycle (exec'ed by $driver -x, token on a pipe)"
"$driver" -x -n "$runs" -w "$warm" pam_permit=permit-bench "pam_permit+module-libs=permit-bench@$libs" \
	pam_ssmsession-tmpfs=ssm-bench-mem:pt.mem pam_ssmsession-disk=ssm-bench-disk:pt.disk \
	verifyd-tmpfs=ssm-bench-vmem:pt.vmem verifyd-disk=ssm-bench-vdisk:pt.vdisk \
	verifyd-disk-boot=ssm-bench-bdisk:pt.bdisk
echo
echo "## 2. sshd-like: libcrypto loaded and initialised in the parent, a fork per cycle"
"$driver" -n "$runs" -w "$warm" pam_permit=permit-bench \
	pam_ssmsession-tmpfs=ssm-bench-mem:sshd.mem pam_ssmsession-disk=ssm-bench-disk:sshd.disk \
	verifyd-tmpfs=ssm-bench-vmem:sshd.vmem verifyd-disk=ssm-bench-vdisk:sshd.vdisk \
	verifyd-disk-boot=ssm-bench-bdisk:sshd.bdisk
echo
echo "## cross-check of the driver's clock: hyperfine -N, the pam_permit pamtester cycle alone"
hyperfine -N --runs "$runs" --warmup "$warm" --style basic --export-json "$work/result.json" \
	-n pam_permit "pamtester permit-bench $cyc" >/dev/null 2>&1
$py -c 'import json, sys; x = json.load(open(sys.argv[1]))["results"][0]; print("%-24s %9.3f %9.3f %9.3f" % ("pam_permit (hyperfine)", x["mean"] * 1e3, x["median"] * 1e3, x["min"] * 1e3))' "$work/result.json"
echo "# ssm-verifyd: $(grep -c "verdict 0 valid" verifyd.log) valid verdicts given, $(grep -c "cannot verify" verifyd.log) failures (must be 0)"
echo "# audit lines written (disk): $(wc -l <disk/log/audit.jsonl); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
