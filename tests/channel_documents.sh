#!/bin/sh
# channel_documents.sh - session documents reach the host from the broker (issue 8 point 3),
# as root: a document stored only at the broker (`ssm-broker document put`) runs on a host
# whose documents_dir does not hold it, fetched by ssm-agent over a DOCUMENT channel into
# state_dir/documents; the host keeps the last word: a name allowed_documents leaves out is
# never fetched nor run, a copy in documents_dir wins over the broker's (another hash there
# is a hash mismatch), a token whose hash the host cannot find is refused; the session user
# cannot write the cache; a replaced document's new version is fetched; and a login on
# another path (a real sshd, the token as the password) runs a cached document.
#
# Isolation as tests/channel_sessions.sh (tests/channel_setup.sh): private mount and pid
# namespaces, the broker and the client in one network namespace, the host in another,
# joined by a veth pair; every wait polls with a bound.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net d 169.254.82
chan_broker --keepalive 2:6

# ---- documents: only SSM-SessionManagerRunShell on the host; the rest only at the broker
mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "20"}}'
mkdir -p "$T/bdocs"
bdoc() { printf '%s\n' "$2" >"$T/bdocs/$1.json"; "$BROKER" document put --state-dir "$ST" "$1" "$T/bdocs/$1.json" >/dev/null || { echo "FAIL: document put $1"; exit 1; }; }
bdoc Dist-Cmd '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "parameters": {"word": {"type": "String", "allowedPattern": "^[a-z]{1,10}$", "default": "one"}},
 "properties": {"linux": {"commands": "id -un; echo DIST-OK {{ word }}; exit 5"}}}'
bdoc Denied-Cmd '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo DENIED-RAN"}}}'
bdoc Pinned-Cmd '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo PINNED-BROKER"}}}'
# the host's administrator pinned another version of Pinned-Cmd
mkdoc Pinned-Cmd '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo PINNED-LOCAL"}}}'
SHA1=$(sha256sum <"$T/bdocs/Dist-Cmd.json" | cut -d' ' -f1)
ssm_check "Dist-Cmd and Denied-Cmd are not in the host's documents_dir" \
	sh -c "[ ! -e '$T/docs/Dist-Cmd.json' ] && [ ! -e '$T/docs/Denied-Cmd.json' ]"

# ---- the host: Denied-* is not in allowed_documents
CHAN_CONF_EXTRA='{"allowed_documents": ["SSM-SessionManagerRunShell", "Dist-*", "Pinned-*"]}'
chan_host Environment=Dev
chan_pam
chan_agent --keepalive 2:6
CACHE=$T/state/documents

cat >"$T/pol.json" <<EOF
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession",
  "Resource": ["arn:aws:ssm:*:*:managed-instance/*", "arn:aws:ssm:*:*:document/*"]},
 {"Effect": "Allow", "Action": ["ssm:TerminateSession", "ssm:DescribeSessions"], "Resource": "*"}]}
EOF
chan_user alice "$T/pol.json"
ssm() { XDG_CONFIG_HOME="$T/cfg" $IB "$SSM" "$@"; }
denied_detail() { # the last login_denied's detail contains $1
	grep '"event":"login_denied"' "$T/log/audit.jsonl" | tail -1 | grep -q "$1"
}

# ---- 1. a document only the broker holds runs on the host
rc=0
ssm start-session --target "$HID" --document-name Dist-Cmd --parameters word=abc \
	</dev/null >"$T/d1.out" 2>"$T/d1.err" || rc=$?
ssm_check "a document that exists only at the broker runs on the host" sh -c \
	"grep -qx 'DIST-OK abc' '$T/d1.out' && grep -qx ssmtu '$T/d1.out' || { cat '$T/d1.err'; tail -n 5 '$T/agent.log' '$T/broker.log'; false; }"
ssm_check "  the client exits with its status (5)" [ "$rc" = 5 ]
ssm_check "  the agent fetched it over a DOCUMENT channel and cached it" \
	grep -q "document Dist-Cmd (sha256 ${SHA1%"${SHA1#????????????}"}, [0-9]* bytes): received from the broker, cached" "$T/agent.log"
ssm_check "  the broker sent it to this host" \
	ssm_wait_for 10 grep -q "document Dist-Cmd (sha256 .*) sent to $HID" "$T/broker.log"
E=$CACHE/Dist-Cmd@$SHA1.json
ssm_check "  the cache holds the broker's exact bytes under NAME@SHA256.json" cmp -s "$E" "$T/bdocs/Dist-Cmd.json"
ssm_check "  the entry is root's, mode 0644" [ "$(stat -c '%u %a' "$E")" = "0 644" ]
ssm_check "  the cache directory is root's, mode 0755" [ "$(stat -c '%u %a' "$CACHE")" = "0 755" ]
ssm_check "  documents_dir still has no Dist-Cmd.json" [ ! -e "$T/docs/Dist-Cmd.json" ]

# the session user cannot plant, alter or remove cached documents
asu() { setpriv --reuid=ssmtu --regid=ssmtu --clear-groups "$@"; }
ssm_check_not "  the session user cannot create a file in the cache" asu sh -c "echo x >'$CACHE/Evil@$SHA1.json'" 2>/dev/null
ssm_check_not "  the session user cannot write the cached entry" asu sh -c "echo x >>'$E'" 2>/dev/null
ssm_check_not "  the session user cannot remove or rename it" asu sh -c "rm -f '$E' || mv '$E' '$E.x'" 2>/dev/null
ssm_check "  the entry is unchanged" cmp -s "$E" "$T/bdocs/Dist-Cmd.json"

# a second session uses the cached copy: no second fetch
ssm start-session --target "$HID" --document-name Dist-Cmd </dev/null >"$T/d2.out" 2>"$T/d2.err"
ssm_check "a second session runs from the cache" grep -qx "DIST-OK one" "$T/d2.out"
ssm_check "  without fetching it again" [ "$(grep -c 'document Dist-Cmd (sha256 .*): fetching it' "$T/agent.log")" = 1 ]

# ---- 2. allowed_documents keeps the last word: a name it leaves out is neither fetched nor run
rc=0
ssm start-session --target "$HID" --document-name Denied-Cmd </dev/null >"$T/n.out" 2>"$T/n.err" || rc=$?
ssm_check "a broker document whose name allowed_documents leaves out is refused" sh -c \
	"[ $rc != 0 ] && ! grep -q DENIED-RAN '$T/n.out'"
ssm_check "  the host never fetched it" sh -c \
	"! grep -q 'document Denied-Cmd.*fetching' '$T/agent.log' && ! ls '$CACHE' | grep -q '^Denied-Cmd@'"
ssm_check "  audited as login_denied: not present (no broker copy for that name)" denied_detail "unknown document"

# ---- 3. documents_dir wins: another version there is a hash mismatch, never the broker's
rc=0
ssm start-session --target "$HID" --document-name Pinned-Cmd </dev/null >"$T/p.out" 2>"$T/p.err" || rc=$?
ssm_check "a token whose hash does not match the host's own copy is refused" sh -c \
	"[ $rc != 0 ] && ! grep -q PINNED '$T/p.out'"
ssm_check "  audited as a document hash mismatch" denied_detail "document hash mismatch"
ssm_check "  the broker's version was not fetched" sh -c \
	"! grep -q 'document Pinned-Cmd.*fetching' '$T/agent.log' && ! ls '$CACHE' | grep -q '^Pinned-Cmd@'"

# ---- 4. a replaced document: tokens name the new hash, the host fetches the new version
bdoc Dist-Cmd '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo DIST-V2-$(id -un)"}}}'
SHA2=$(sha256sum <"$T/bdocs/Dist-Cmd.json" | cut -d' ' -f1)
ssm start-session --target "$HID" --document-name Dist-Cmd </dev/null >"$T/v2.out" 2>"$T/v2.err"
ssm_check "the broker's new version of a document runs" sh -c \
	"grep -qx DIST-V2-ssmtu '$T/v2.out' || { cat '$T/v2.err'; tail -n 5 '$T/agent.log'; false; }"
ssm_check "  both versions are cached, each under its own hash" sh -c "[ -f '$E' ] && [ -f '$CACHE/Dist-Cmd@$SHA2.json' ]"

# ---- 5. the cache is used on another login path: a real sshd, the token as the password
PY=${SSM_PYTHON:-/usr/bin/python3}
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
if [ -x "$SSHD" ] && command -v ssh >/dev/null 2>&1 && "$PY" -c 'import jwt, cryptography' 2>/dev/null; then
	mkdir -p /run/sshd && chmod 0755 /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$T/sshhost"
	printf '%s\n' "ListenAddress 127.0.0.1" "Port 22" "HostKey $T/sshhost" "PidFile $T/sshd.pid" \
		"UsePAM yes" "PasswordAuthentication yes" "KbdInteractiveAuthentication no" \
		"PubkeyAuthentication no" "PermitRootLogin no" "AuthorizedKeysFile none" \
		"UseDNS no" "PrintMotd no" "PrintLastLog no" >"$T/sshd_config"
	printf 'auth required %s\naccount required %s\nsession required %s\n' \
		"$MODULE" "$MODULE" "$MODULE" >/etc/pam.d/sshd
	san=
	if readelf -d "$MODULE" 2>/dev/null | grep -q libasan; then
		san="LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0"
	fi
	$IH env $san "$SSHD" -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
	PIDS="$PIDS $!"
	ssm_wait_for 10 sh -c "$IH ss -Hltn | grep -q 127.0.0.1:22" || echo "note: sshd did not start: $(cat "$T/sshd.log")"
	ISS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["issuer"])' "$CONF_PATH")
	# the key id is base64url: "--kid=" keeps one that begins with "-" a value
	KID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][0]["kid"])' "$ST/jwks.json")
	mint() { "$PY" "$srcdir/broker/ssmtoken.py" mint --key "$ST/signing.key" --kid="$KID" \
		--iss "$ISS" --aud "$HID" --sub alice --run-as ssmtu --doc-name Dist-Cmd --doc-sha256 "$1" \
		--params '{"word": ["ssh"]}'; }
	printf '#!/bin/sh\ncat "%s"\n' "$T/token" >"$T/askpass"
	chmod 0755 "$T/askpass"
	sshc() { SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none timeout -k 5 30 \
		$IH ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o PreferredAuthentications=password -o PubkeyAuthentication=no \
		-o NumberOfPasswordPrompts=1 -o LogLevel=ERROR ssmtu@127.0.0.1 </dev/null; }
	ssm_check "sshd: (the cache holds Dist-Cmd's first version, documents_dir does not)" sh -c \
		"[ -f '$E' ] && [ ! -e '$T/docs/Dist-Cmd.json' ]"
	mint "$SHA1" >"$T/token"
	sshc >"$T/ssh1.out" 2>"$T/ssh1.err"
	ssm_check "sshd: a token for a document the host holds only in the cache runs it" sh -c \
		"grep -qx 'DIST-OK ssh' '$T/ssh1.out' || { cat '$T/ssh1.err' '$T/sshd.log' | tail -n 8; tail -n 3 '$T/log/audit.jsonl'; false; }"
	# a hash no copy on the host has (and the agent is not asked on this path)
	mint "$(printf 'no such version' | sha256sum | cut -d' ' -f1)" >"$T/token"
	sshc >"$T/ssh2.out" 2>"$T/ssh2.err"
	ssm_check "sshd: a token whose hash matches no copy on the host is refused" sh -c \
		"! grep -q DIST '$T/ssh2.out' && grep '\"event\":\"login_denied\"' '$T/log/audit.jsonl' | tail -1 | grep -q 'unknown document'"
	# the cache entry damaged by hand (only root can): refused as the host's fault
	cp "$E" "$T/e.save"
	printf ' ' >>"$E"
	mint "$SHA1" >"$T/token"
	sshc >"$T/ssh3.out" 2>"$T/ssh3.err"
	ssm_check "sshd: a damaged cache entry is refused (the bytes must hash to its name)" sh -c \
		"! grep -q DIST '$T/ssh3.out' && grep '\"event\":\"login_denied\"' '$T/log/audit.jsonl' | tail -1 | grep -q '\"reason\":\"host_error\"'"
	cp "$T/e.save" "$E"
	# a cached entry with a writable mode is not used either
	chmod 0666 "$E"
	mint "$SHA1" >"$T/token"
	sshc >"$T/ssh4.out" 2>"$T/ssh4.err"
	ssm_check "sshd: a world-writable cache entry is refused" sh -c "! grep -q DIST '$T/ssh4.out'"
	chmod 0644 "$E"
else
	echo "note: no sshd, ssh client or python3-jwt: the sshd path is not checked"
fi

# ---- 6. broker_documents false: the host takes nothing from the broker
kill "$APID" 2>/dev/null; wait "$APID" 2>/dev/null
python3 - "$CONF_PATH" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["broker_documents"] = False; json.dump(c, open(sys.argv[1], "w"))
PY
rm -rf "$CACHE"
chan_agent_again "the agent links up again" --keepalive 2:6
rc=0
ssm start-session --target "$HID" --document-name Dist-Cmd </dev/null >"$T/off.out" 2>"$T/off.err" || rc=$?
ssm_check "broker_documents false: a broker-only document is refused and not fetched" sh -c \
	"[ $rc != 0 ] && ! grep -q DIST '$T/off.out' && [ ! -e '$CACHE' ]"

kill "$APID" 2>/dev/null
ssm_done
