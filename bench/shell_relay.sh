#!/bin/sh
# shell_relay.sh - benchmark of ssm-shell's relay against script(1) and tlog-rec, as sshd
# sees them (an outer pty read as fast as possible); root, private namespaces (tests/lib.sh).
#   cd BUILD_DIR && sh ../bench/shell_relay.sh [throughput|latency|startup|idle ...]
# Figures go to standard output and $T/bench.json; see bench/RESULTS.md.
srcdir=${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$srcdir/tests/shell_setup.sh"
write_config ', "transcript_max_bytes": 0'
mkdoc Bench '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeoutSeconds": 600}}'
mkdoc BenchIdle '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeoutSeconds": 20}}'
BIG=$T/big
head -c "${BIG_MB:-200}000000" /dev/urandom | base64 -w 200 | head -c "${BIG_MB:-200}000000" >"$BIG"
chmod 0644 "$BIG"
ulimit -n 4096
T=$T LOGIN=$T/bin/login BIG=$BIG /usr/bin/python3 "$srcdir/bench/shell_relay.py" "$@"
