#!/bin/sh
# broker_users.sh - ssm-broker's users, groups and policies (issue 8 point 3), no root:
# user add (password on stdin, yescrypt in the database, --group, --totp with its base32
# secret and otpauth:// URI), user list [--json], user passwd, user del, group add, policy
# attach (a valid policy stored; an invalid one, an unknown user or group, a bad name
# refused).  The state directory is a fresh one with an empty database (what `serve`
# would create; the administration commands only use the database).
set -u
srcdir=${srcdir:-.}
. "$srcdir/tests/lib.sh"
BROKER=$PWD/brokerd/ssm-broker
[ -x "$BROKER" ] || { echo "FAIL: $BROKER not built"; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
T=$(mktemp -d /tmp/ssmusers.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
ST=$T/st
mkdir -m 0700 "$ST" && : >"$ST/broker.db" && chmod 0600 "$ST/broker.db"
db() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print("\n".join("|".join("" if v is None else str(v) for v in r) for r in c.execute(sys.argv[2], sys.argv[3:])))' "$ST/broker.db" "$@"; }

ssm_check "group add ops" sh -c "'$BROKER' group add ops --state-dir '$ST' >/dev/null"
ssm_check_not "group add ops twice refused" sh -c "'$BROKER' group add ops --state-dir '$ST' 2>/dev/null"
ssm_check "user add alice --group ops (password on stdin)" sh -c "printf 'correct horse\n' | '$BROKER' user add alice --group ops --state-dir '$ST' >'$T/alice'"
ssm_check "  prints the user id" grep -Eq '^user_id: AIDA[0-9A-F]{17}$' "$T/alice"
ssm_check_not "  no TOTP without --totp" grep -q totp "$T/alice"
H=$(db 'SELECT pw_hash FROM users WHERE name=?' alice)
ssm_check "  the hash is yescrypt (\$y\$), not the password" sh -c "case '$H' in '\$y\$'*) ! printf %s '$H' | grep -q horse;; *) false;; esac"
ssm_check "  python's crypt agrees with the hash" python3 -c '
import ctypes, sys
lib = ctypes.CDLL("libcrypt.so.1"); lib.crypt.restype = ctypes.c_char_p
h = sys.argv[1].encode()
sys.exit(0 if lib.crypt(b"correct horse", h) == h and lib.crypt(b"wrong horse", h) != h else 1)' "$H"
ssm_check "  member of ops" [ "$(db 'SELECT group_name FROM group_members WHERE user_name=?' alice)" = ops ]
ssm_check_not "user add alice again refused" sh -c "printf 'another pass\n' | '$BROKER' user add alice --state-dir '$ST' 2>/dev/null"
ssm_check_not "user add with an unknown group refused" sh -c "printf 'correct horse\n' | '$BROKER' user add bob --group nosuch --state-dir '$ST' 2>'$T/err'"
ssm_check "  says which group" grep -q "no group nosuch" "$T/err"
ssm_check "  and adds no user" [ -z "$(db 'SELECT name FROM users WHERE name=?' bob)" ]
ssm_check_not "a short password refused" sh -c "printf 'short\n' | '$BROKER' user add bob --state-dir '$ST' 2>/dev/null"
ssm_check_not "an empty password refused" sh -c "'$BROKER' user add bob --state-dir '$ST' </dev/null 2>/dev/null"
ssm_check_not "a bad user name refused" sh -c "printf 'correct horse\n' | '$BROKER' user add 'bo b' --state-dir '$ST' 2>/dev/null"
ssm_check_not "a 65-character user name refused" sh -c "printf 'correct horse\n' | '$BROKER' user add $(printf '%065d' 0) --state-dir '$ST' 2>/dev/null"

ssm_check "user add carol --totp" sh -c "printf 'battery staple\n' | '$BROKER' user add carol --totp --state-dir '$ST' >'$T/carol'"
SECRET=$(sed -n 's/^totp_secret: //p' "$T/carol")
ssm_check "  a 32-character base32 secret" sh -c "printf %s '$SECRET' | grep -Eq '^[A-Z2-7]{32}$'"
ssm_check "  the otpauth URI" grep -Eq "^totp_uri: otpauth://totp/ssm-broker:carol\\?secret=$SECRET&issuer=ssm-broker&algorithm=SHA1&digits=6&period=30$" "$T/carol"
ssm_check "  the secret stored" [ "$(db 'SELECT totp_secret FROM users WHERE name=?' carol)" = "$SECRET" ]

ssm_check "user list" sh -c "'$BROKER' user list --state-dir '$ST' >'$T/list'"
ssm_check "  names alice (ops) and carol (totp)" sh -c "grep -Eq '^alice +AIDA.* no +.* ops$' '$T/list' && grep -Eq '^carol +AIDA.* yes ' '$T/list'"
ssm_check "user list --json" sh -c "'$BROKER' user list --json --state-dir '$ST' | python3 -c '
import json, sys
u = {x[\"name\"]: x for x in json.load(sys.stdin)}
assert set(u) == {\"alice\", \"carol\"}
assert u[\"alice\"][\"groups\"] == [\"ops\"] and u[\"alice\"][\"totp\"] is False
assert u[\"carol\"][\"totp\"] is True and u[\"carol\"][\"groups\"] == []
assert all(\"pw_hash\" not in x and \"totp_secret\" not in x for x in u.values())'"

ssm_check "user passwd alice" sh -c "printf 'new horse battery\n' | '$BROKER' user passwd alice --state-dir '$ST' >/dev/null"
H2=$(db 'SELECT pw_hash FROM users WHERE name=?' alice)
ssm_check "  a new hash (new salt)" [ "$H2" != "$H" ]
ssm_check_not "user passwd of nobody refused" sh -c "printf 'new horse battery\n' | '$BROKER' user passwd nobody --state-dir '$ST' 2>/dev/null"

cat >"$T/StartOps.json" <<'P'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:StartSession",
 "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}
P
cat >"$T/Bad.json" <<'P'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:StartSession",
 "Resource": "*", "Principal": "*"}]}
P
printf '{"Version": "2012-10-17", "Statement": [' >"$T/Broken.json"
ssm_check "policy attach --group ops" sh -c "'$BROKER' policy attach --group ops '$T/StartOps.json' --state-dir '$ST' >/dev/null"
ssm_check "  stored under its file's name" [ "$(db "SELECT kind||':'||owner||':'||name FROM policies")" = group:ops:StartOps ]
ssm_check "policy attach --user carol" sh -c "'$BROKER' policy attach --user carol '$T/StartOps.json' --state-dir '$ST' >/dev/null"
ssm_check_not "a policy with a Principal refused" sh -c "'$BROKER' policy attach --user carol '$T/Bad.json' --state-dir '$ST' 2>'$T/err'"
ssm_check "  with the evaluator's reason" grep -q "not a valid policy" "$T/err"
ssm_check_not "a broken JSON policy refused" sh -c "'$BROKER' policy attach --user carol '$T/Broken.json' --state-dir '$ST' 2>/dev/null"
ssm_check_not "a policy for an unknown user refused" sh -c "'$BROKER' policy attach --user nobody '$T/StartOps.json' --state-dir '$ST' 2>/dev/null"
ssm_check_not "a policy for an unknown group refused" sh -c "'$BROKER' policy attach --group nogroup '$T/StartOps.json' --state-dir '$ST' 2>/dev/null"
ssm_check "  two policies stored" [ "$(db 'SELECT count(*) FROM policies')" = 2 ]

ssm_check "user del carol" sh -c "'$BROKER' user del carol --state-dir '$ST' >/dev/null"
ssm_check "  her user gone" [ "$(db 'SELECT count(*) FROM users WHERE name=?' carol)" = 0 ]
ssm_check "  her policy gone" [ "$(db 'SELECT count(*) FROM policies WHERE owner=?' carol)" = 0 ]
ssm_check_not "user del carol again refused" sh -c "'$BROKER' user del carol --state-dir '$ST' 2>/dev/null"
ssm_check_not "a usage error exits 2" sh -c "'$BROKER' user frob --state-dir '$ST' 2>/dev/null; [ \$? -ne 2 ]"
ssm_done
