#!/bin/sh
# channel_keys.sh - the broker's signing key rotated, and handed to hosts over their link
# (issue 8 point 3: "its signing key and JWK Set, handed to hosts at registration and on
# rotation"), as root:
#   - `ssm-broker key rotate` while the broker serves: its next token is signed with the new
#     key; the host, which does not know that key yet, holds the login back, fetches the
#     rotation chain, checks the statement with the key it already trusts, rewrites
#     trusted_keys (root's, 0644) and PAM then accepts the token;
#   - two rotations while the agent is stopped: at its next link-up it takes both, in order;
#   - the broker restarted keeps the rotated key; a key written by an interrupted rotation
#     that no statement published is removed at the next start;
#   - a statement the host's keys do not sign (planted in the broker's chain) changes nothing
#     on the host: its trusted_keys stay, and the refusal is logged.
# The statement rules themselves (forged, replayed, out of order, malformed) are table-tested
# in tests/test_keyrot.c and fuzzed by tests/fuzz/fuzz_keyrot.c.
#
# Isolation as tests/channel_sessions.sh (tests/channel_setup.sh): private mount and pid
# namespaces, the broker and the client in one network namespace, the host in another,
# joined by a veth pair; every wait polls with a bound.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net r 169.254.86
chan_broker --keepalive 2:6
mkdoc Cmd-Id '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo KEYS-OK-$(id -un)"}}}'
chan_docs Cmd-Id
chan_host Environment=Dev
chan_pam
chan_agent --keepalive 2:6
cat >"$T/pol.json" <<EOF
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession",
  "Resource": ["arn:aws:ssm:*:*:managed-instance/*", "arn:aws:ssm:*:*:document/*"]}]}
EOF
chan_user alice "$T/pol.json"
TK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["trusted_keys"])' "$CONF_PATH")
kids() { python3 -c 'import json,sys; print(" ".join(k["kid"] for k in json.load(open(sys.argv[1]))["keys"]))' "$1"; }
run_cmd() { XDG_CONFIG_HOME="$T/cfg" $IB "$SSM" start-session --target "$HID" --document-name Cmd-Id </dev/null 2>"$T/cmd.err"; }
cmd_ok() { run_cmd | grep -qx KEYS-OK-ssmtu || { cat "$T/cmd.err"; tail -n 5 "$T/agent.log"; false; }; }
rotate() { "$BROKER" key rotate --state-dir "$ST" 2>"$T/rot.err" | sed -n 's/^signing key: \([^ ]*\) .*/\1/p'; }

K0=$(kids "$TK")
cp "$TK" "$T/tk0"
ssm_check "the host trusts the broker's one key from registration ($K0)" sh -c "[ -n '$K0' ] && [ '$K0' = '$(kids "$ST/jwks.json")' ]"
ssm_check "a session works with it" cmd_ok

# ---- 1. rotated while the broker serves and the host is linked
ssm_check_not "key rotate refuses a user who does not own the state directory" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$BROKER" key rotate --state-dir "$ST" 2>"$T/rot0.err"
ssm_check "  saying whom to run it as" grep -q "run \`key rotate\` as the state directory's owner" "$T/rot0.err"
K1=$(rotate)
ssm_check "ssm-broker key rotate names a new key" sh -c "[ -n '$K1' ] && [ '$K1' != '$K0' ] || { cat '$T/rot.err'; false; }"
ssm_check "  the broker's JWK Set is the new key, then the old one" [ "$(kids "$ST/jwks.json")" = "$K1 $K0" ]
ssm_check "  its chain holds one statement" [ "$(find "$ST/keyrot" -name '*.jws' | wc -l)" = 1 ]
ssm_check "  the host does not know the new key yet" [ "$(kids "$TK")" = "$K0" ]
ssm_check "a session right after the rotation works (its token signed with the new key)" cmd_ok
ssm_check "  the agent held the login for the chain" \
	grep -q "waiting for the broker's key rotation chain (key $K1)" "$T/agent.log"
ssm_check "  and took the rotation" grep -q "the broker's signing key is now $K1 (1 rotation taken)" "$T/agent.log"
ssm_check "  trusted_keys is the new key, then the old one" [ "$(kids "$TK")" = "$K1 $K0" ]
ssm_check "  trusted_keys stays root's, mode 0644" [ "$(stat -c '%u %a' "$TK")" = "0 644" ]
nw=$(grep -c "waiting for the broker" "$T/agent.log")
ssm_check "a second session works" cmd_ok
ssm_check "  and needs no fetch" [ "$(grep -c "waiting for the broker" "$T/agent.log")" = "$nw" ]

# ---- 2. two rotations while the agent is stopped: taken in order at its link-up
kill "$APID"
wait "$APID" 2>/dev/null
K2=$(rotate)
K3=$(rotate)
ssm_check "two more rotations while the agent is stopped" sh -c "[ -n '$K2' ] && [ -n '$K3' ] && [ '$(kids "$ST/jwks.json")' = '$K3 $K2' ]"
chan_agent_again "the agent starts and links up again" --keepalive 2:6
ssm_check "  at its link-up it takes both rotations" \
	ssm_wait_for 15 grep -q "the broker's signing key is now $K3 (2 rotations taken)" "$T/agent.log"
ssm_check "  trusted_keys is $K3 then $K2" [ "$(kids "$TK")" = "$K3 $K2" ]
ssm_check "  a session works" cmd_ok

# ---- 3. the broker restarted keeps the key; an unpublished key is dropped
restart_broker() {
	kill "$BPID"
	wait "$BPID" 2>/dev/null
	_n=$(grep -c "agent $HID linked" "$T/broker.log")
	chan_broker --keepalive 2:6
	ssm_wait_for 20 sh -c "[ \$(grep -c 'agent $HID linked' '$T/broker.log') -gt $_n ]"
}
openssl genpkey -algorithm ED25519 -out "$ST/signing.key.new" 2>/dev/null
chmod 0600 "$ST/signing.key.new"
ssm_check "the broker restarted, the agent linked again" restart_broker
ssm_check "  its JWK Set is still $K3 then $K2" [ "$(kids "$ST/jwks.json")" = "$K3 $K2" ]
ssm_check "  a key no statement published is removed" sh -c \
	"[ ! -e '$ST/signing.key.new' ] && grep -q 'signing.key.new: a key no statement published: removed' '$T/broker.log'"
ssm_check "  a session works" cmd_ok

# ---- 4. a forged statement in the chain: a host that still trusts only K0 takes nothing
kill "$APID"
wait "$APID" 2>/dev/null
cp "$T/tk0" "$TK"
openssl genpkey -algorithm ED25519 -out "$T/foreign.key" 2>/dev/null
python3 - "$T/foreign.key" "$K0" "$ST/keyrot/00000000.jws" "$T/tk0" "$T" <<'PY'
import base64, json, subprocess, sys
key, kid, out, tk0, t = sys.argv[1:6]
b = lambda x: base64.urlsafe_b64encode(x).decode().rstrip("=")
h = b(json.dumps({"alg": "EdDSA", "typ": "ssm-keys+jwt", "kid": kid}, separators=(",", ":")).encode())
pub = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                     capture_output=True, check=True).stdout[-32:]
cur = json.load(open(tk0))["keys"][0]
p = b(json.dumps({"ssm": "keys", "iss": "x", "iat": 1,
                  "keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "evil", "x": b(pub)}, cur]},
                 separators=(",", ":")).encode())
open(t + "/tbs", "w").write(h + "." + p)
sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", t + "/tbs"],
                     capture_output=True, check=True).stdout
open(out, "w").write(h + "." + p + "." + b(sig) + "\n")
PY
ssm_check "a forged statement (kid $K0, signed by another key) is first in the broker's chain" [ -s "$ST/keyrot/00000000.jws" ]
kill "$BPID"
wait "$BPID" 2>/dev/null
chan_broker --keepalive 2:6
chan_agent_again "  the broker restarted with it, the agent started again links up" --keepalive 2:6
ssm_check "  the agent refuses the chain: the statement signed by $K0 does not verify" \
	ssm_wait_for 15 grep -q "the broker's key chain refused: the statement signed by $K0 does not verify; trusted_keys unchanged" "$T/agent.log"
ssm_check "  trusted_keys is unchanged ($K0 alone)" [ "$(kids "$TK")" = "$K0" ]
ssm_check_not "  a session, its token signed with $K3, is refused" cmd_ok
ssm_check "  by PAM: an unknown key" sh -c \
	"grep '\"event\":\"login_denied\"' '$T/log/audit.jsonl' | tail -1 | grep -q 'unknown key'"

# ---- 5. the forged statement gone: the host catches up three rotations from K0
rm -f "$ST/keyrot/00000000.jws"
ssm_check "the broker restarted without it, the agent linked again" restart_broker
ssm_check "  the agent takes the three rotations in order" \
	ssm_wait_for 15 grep -q "the broker's signing key is now $K3 (3 rotations taken)" "$T/agent.log"
ssm_check "  trusted_keys is $K3 then $K2" [ "$(kids "$TK")" = "$K3 $K2" ]
ssm_check "  a session works" cmd_ok

kill "$APID" 2>/dev/null
ssm_done
