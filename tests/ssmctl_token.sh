#!/bin/sh
# ssmctl_token.sh - `ssmctl token verify`, `document validate`, `sessions`, and the exit
# codes (0 ok, 1 refused, 2 usage/configuration).  No root needed: the host files live in
# a temp directory owned by the caller.
set -u
. "${srcdir:-$(dirname "$0")/..}/tests/pam_common.sh"
need_python_jwt
[ -x "$SSMCTL" ] || { echo "FAIL: ssmctl not built: $SSMCTL"; exit 1; }

tmp=$(mktemp -d /tmp/ssm-ctl.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
# real users: nobody allowed, daemon exists but is not allowed
setup_host "$tmp/host" '["nobody"]'

# st EXPECTED DESC CMD...: exit status check; stdout in $tmp/out, stderr in $tmp/err
st() {
	want=$1 d=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" = "$want" ]; then
		ok "$d (exit $got)"
	else
		fail "$d: exit $got, expected $want; stderr: $(head -c 300 "$tmp/err")"
	fi
}
C="$SSMCTL --config $CONF"

tok=$(mint nobody --params '{}')
st 0 "good token verifies" $C token verify "$tok"
expect "claims JSON on stdout" "$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["sub"] == "alice" and c["run_as"] == "nobody", c
assert c["doc"]["name"] == "SSM-SessionManagerRunShell", c
assert "jti" in c and "exp" in c, c
' "$tmp/out"
expect "nothing on stderr for a good token" test ! -s "$tmp/err"
printf '%s\n' "$tok" >"$tmp/tokfile"
"$SSMCTL" --config "$CONF" token verify - <"$tmp/tokfile" >/dev/null 2>&1
expect "token from standard input (-)" test $? = 0
st 0 "verify again: the jti was not used up" $C token verify "$tok"
n=$(find "$tmp/host/state" -type f | wc -l)
expect "nothing recorded in state_dir ($n files)" test "$n" = 0
st 0 "--config after the command" "$SSMCTL" token verify --config "$CONF" "$tok"
st 0 "--user matching run_as" $C token verify --user nobody "$tok"

# refusals: exit 1, one line saying why
st 1 "--user other than run_as" $C token verify --user daemon "$tok"
expect "refusal is one line on stderr" test "$(wc -l <"$tmp/err")" = 1
expect "nothing on stdout when refused" test ! -s "$tmp/out"
st 1 "token signed by an untrusted key" $C token verify "$(KEY=$tmp/host/evil.pem mint nobody)"
st 1 "expired token" $C token verify "$(mint nobody --now 1000000000)"
st 1 "wrong issuer" $C token verify "$(mint nobody --claims-json '{"iss":"https://evil.test"}')"
st 1 "alg none" $C token verify "$(mint nobody --header-json '{"alg":"none"}')"
st 1 "jwk in the header" $C token verify "$(mint nobody --header-json '{"jwk":{"kty":"OKP"}}')"
st 1 "garbage" $C token verify "x.y.z"
st 1 "run_as not allowed (account step)" $C token verify "$(mint daemon)"
st 1 "unknown parameter for the document" $C token verify "$(mint nobody --params '{"x":["1"]}')"
long=$(head -c 5000 /dev/zero | tr '\0' A)
st 1 "token over 4096 bytes" $C token verify "$long"
printf '%s' "$long" >"$tmp/long"
"$SSMCTL" --config "$CONF" token verify - <"$tmp/long" >/dev/null 2>&1
expect "over-long token on stdin refused" test $? = 1

# usage and configuration errors: exit 2
st 2 "no command" "$SSMCTL"
st 2 "unknown command" "$SSMCTL" frobnicate
st 2 "token without verify" "$SSMCTL" token
st 2 "token verify without a token" $C token verify
st 2 "unknown option" $C token verify --bogus "$tok"
st 2 "--user without a value" $C token verify "$tok" --user
st 2 "missing configuration file" "$SSMCTL" --config "$tmp/absent.json" token verify "$tok"
echo '{"host_id": 5}' >"$tmp/bad.json"
st 2 "invalid configuration" "$SSMCTL" --config "$tmp/bad.json" token verify "$tok"
chmod 666 "$tmp/host/jwks.json"
st 2 "group/other-writable trusted keys" $C token verify "$tok"
chmod 644 "$tmp/host/jwks.json"
st 2 "document without validate" "$SSMCTL" document
st 2 "sessions with an unknown subcommand" $C sessions frobnicate
st 2 "sessions terminate without SID" $C sessions terminate
st 2 "sessions terminate with a bad SID" $C sessions terminate '../../etc'
st 0 "--help" "$SSMCTL" --help

# document validate
st 0 "valid document" "$SSMCTL" document validate "$tmp/host/docs/Restart-Service.json"
expect "prints the document's sha256" grep -q "$(sha256sum <"$tmp/host/docs/Restart-Service.json" | cut -c1-64)" "$tmp/out"
cat >"$tmp/Unanchored-Doc.json" <<'EOF'
{"schemaVersion": "1.0", "description": "x", "sessionType": "NonInteractiveCommands",
 "parameters": {"svc": {"type": "String", "description": "unit", "allowedPattern": "[a-z]+"}},
 "properties": {"linux": {"commands": "echo {{ svc }}"}}}
EOF
st 0 "unanchored allowedPattern still valid" "$SSMCTL" document validate "$tmp/Unanchored-Doc.json"
expect "unanchored allowedPattern warned about" grep -qi "warning" "$tmp/err"
echo '{"schemaVersion": "1.0", "sessionType": "Nope"}' >"$tmp/Bad-Doc.json"
st 1 "invalid sessionType" "$SSMCTL" document validate "$tmp/Bad-Doc.json"
printf '{"schemaVersion": "1.0", "sessionType": "Standard_Stream"' >"$tmp/Trunc-Doc.json"
st 1 "truncated JSON" "$SSMCTL" document validate "$tmp/Trunc-Doc.json"
st 1 "missing file" "$SSMCTL" document validate "$tmp/absent.json"
st 2 "validate without FILE" "$SSMCTL" document validate

# sessions
if [ "$(id -u)" = 0 ]; then
	st 0 "sessions list with none" $C sessions
	expect "says there are none" grep -q "no live sessions" "$tmp/out"
else
	# the records hold tokens' jti and parameters: root only (tests/ssmctl_admin.sh)
	st 1 "sessions list refused to a user other than root" $C sessions
fi
st 1 "terminate a session that does not exist" $C sessions terminate alice-0123456789abcdef

# exit 2 for a usage or configuration error, in every command (SPEC section 7)
st 2 "sessions list with a missing configuration" "$SSMCTL" --config "$tmp/absent.json" sessions list
st 2 "sessions terminate with a missing configuration" \
	"$SSMCTL" --config "$tmp/absent.json" sessions terminate alice-0123456789abcdef
st 2 "sessions list with an invalid configuration" "$SSMCTL" --config "$tmp/bad.json" sessions
st 2 "document validate with two files" "$SSMCTL" document validate "$tmp/Bad-Doc.json" "$tmp/Bad-Doc.json"
st 2 "token verify with two tokens" $C token verify "$tok" "$tok"
st 2 "--config without a value before the command" "$SSMCTL" --config
st 2 "token verify with an empty --config=" "$SSMCTL" --config= token verify "$tok"

finish ssmctl_token
