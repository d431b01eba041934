#!/bin/sh
# In-process token verification rate (bench/verify_rate.c over lib/libssm) for EdDSA and
# ES256, next to `openssl speed -seconds S ed25519 ecdsap256` verify rates in the same run.
# Goal: full ssm_token_verify >= 85% of OpenSSL's bare verify rate.
#
#   bench/verify_rate.sh [BUILDDIR] [SECONDS] [ROUNDS]   (root: the configuration must be root-owned)
#
# BUILDDIR (default build-bench) is configured without sanitizers and built if needed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-bench}
mkdir -p "$build" && build=$(cd "$build" && pwd)
secs=${2:-3}
rounds=${3:-3}
py=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "verify_rate.sh: run as root (trusted files must be root-owned)" >&2; exit 2; }

# always (re)build the libraries: a stale archive would be measured without a word
mkdir -p "$build"
(cd "$top" && [ -x configure ] || ./autogen.sh >/dev/null 2>&1)
(cd "$build" && [ -f Makefile ] || "$top/configure" --quiet >/dev/null)
(cd "$build" && make -j"$(nproc)" lib/libssm_verify.la lib/libssm_base.la lib/libssm_ossl.la \
	>/dev/null) || { echo "verify_rate.sh: build failed" >&2; exit 1; }
mkdir -p "$build/bench"
# same optimisation as the library build (configure's default -O2)
${CC:-gcc} -O2 -g -std=gnu11 -Wall -Wextra -I"$top/lib" -I"$build" -o "$build/bench/verify_rate" \
	"$top/bench/verify_rate.c" "$build/lib/.libs/libssm_verify.a" \
	"$build/lib/.libs/libssm_base.a" "$build/lib/.libs/libssm_ossl.a" \
	$(pkg-config --libs libcrypto libcjson libpcre2-8)

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"; mkdir -p "$tmp/docs" "$tmp/state" "$tmp/run" "$tmp/log"
cat >"$tmp/docs/SSM-SessionManagerRunShell.json" <<'EOF'
{"schemaVersion": "1.0", "description": "bench", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "20"}}
EOF
for alg in EdDSA ES256; do
	$py "$top/broker/ssmtoken.py" keygen --alg $alg --kid bench-$alg --out-private "$tmp/$alg.pem" \
		--out-jwks "$tmp/jwks.json"
done
cat >"$tmp/ssmsession.json" <<EOF
{"host_id": "i-0be4c400000000001", "issuer": "bench", "trusted_keys": "$tmp/jwks.json",
 "documents_dir": "$tmp/docs", "state_dir": "$tmp/state", "run_dir": "$tmp/run", "log_dir": "$tmp/log"}
EOF
chmod 0644 "$tmp/jwks.json" "$tmp/ssmsession.json"

for alg in EdDSA ES256; do
	$py "$top/broker/ssmtoken.py" mint --key "$tmp/$alg.pem" --kid bench-$alg --alg $alg \
		--iss bench --aud i-0be4c400000000001 --sub alice --sid alice-0123456789abcdefg \
		--run-as ssm-user --doc-name SSM-SessionManagerRunShell \
		--doc-file "$tmp/docs/SSM-SessionManagerRunShell.json" --lifetime 300 >"$tmp/$alg.tok"
done

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $(nproc) cpus, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
echo "# $(openssl version); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $rounds rounds of ${secs}s each, ours and openssl speed interleaved; best round kept"
: >"$tmp/all"
r=0
while [ $r -lt "$rounds" ]; do
	r=$((r + 1))
	for alg in EdDSA ES256; do
		"$build/bench/verify_rate" "$tmp/ssmsession.json" "$tmp/$alg.tok" "$secs" >>"$tmp/all"
	done
	openssl speed -seconds "$secs" ed25519 ecdsap256 2>/dev/null |
		awk '/EdDSA \(Ed25519\)/ {print "EdDSA openssl 0 0", $NF} /ecdsa \(nistp256\)/ {print "ES256 openssl 0 0", $NF}' >>"$tmp/all"
done
# best of the rounds for every (alg, mode)
best() { awk -v a="$1" -v m="$2" '$1 == a && $2 == m && $5 > b {b = $5} END {print b + 0}' "$tmp/all"; }

printf '%-6s %-8s %12s %12s %8s\n' alg mode verify/s openssl/s ratio
for alg in EdDSA ES256; do
	o=$(best $alg openssl)
	for mode in full nodoc sigonly docload; do
		v=$(best $alg $mode)
		if [ $mode = docload ]; then # not a verification: no ratio
			printf '%-6s %-8s %12.0f %12s %8s\n' $alg $mode "$v" - -
			continue
		fi
		printf '%-6s %-8s %12.0f %12.0f %7.1f%%\n' $alg $mode "$v" "$o" \
			"$(echo "$v $o" | awk '{print 100 * $1 / $2}')"
	done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
