#!/bin/sh
# ssmctl_sudo.sh - `ssmctl sudo enable|disable|status` against the real visudo and sudo,
# in a private mount namespace: /etc/sudoers.d, /etc/passwd and /etc/group are private
# copies (throwaway users ssmsudo1/ssmsudo2 exist only there).  Root only.
set -u
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (mount namespace, private /etc/sudoers.d)"
	exit 77
fi
for t in unshare mount visudo sudo; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not installed"; exit 77; }
done
. "${srcdir:-$(dirname "$0")/..}/tests/pam_common.sh"
[ -x "$SSMCTL" ] || { echo "FAIL: ssmctl not built: $SSMCTL"; exit 1; }

if [ -z "${SSM_SUDO_IN_NS:-}" ]; then
	SSM_SUDO_IN_NS=1 SSM_BUILDDIR=$builddir srcdir=$top_srcdir \
		exec unshare --mount --propagation private -- /bin/sh "$0" "$@"
fi

tmp=$(mktemp -d /tmp/ssm-sudo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/sudoers.d"
chmod 755 "$tmp/sudoers.d"
cp -a /etc/sudoers.d/. "$tmp/sudoers.d/" 2>/dev/null
rm -f "$tmp/sudoers.d/ssm-agent-users"
mount --bind "$tmp/sudoers.d" /etc/sudoers.d || exit 1
cp /etc/passwd /etc/group "$tmp/"
echo "ssmsudo1:x:64101:64101::/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
echo "ssmsudo2:x:64102:64102::/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
echo "ssm-user:x:64103:64103::/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
echo "abcdefghijklmnopqrstuvwxyz012345:x:64104:64104::/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
echo "ssmsudo1:x:64101:" >>"$tmp/group"
echo "ssmsudo2:x:64102:" >>"$tmp/group"
echo "ssm-user:x:64103:" >>"$tmp/group"
echo "ssmsudogrp:x:64200:ssmsudo1" >>"$tmp/group"
mount --bind "$tmp/passwd" /etc/passwd || exit 1
mount --bind "$tmp/group" /etc/group || exit 1
F=/etc/sudoers.d/ssm-agent-users
# every grant is audited: a private configuration whose log_dir is here
mkdir -m 0750 "$tmp/log"
echo '{"keys": []}' >"$tmp/jwks.json"
printf '{"host_id": "i-0123456789abcdef0", "issuer": "https://broker.test", "trusted_keys": "%s",\n "log_dir": "%s", "state_dir": "%s", "run_dir": "%s"}\n' \
	"$tmp/jwks.json" "$tmp/log" "$tmp/state" "$tmp/run" >"$tmp/ssmsession.json"
chmod 0644 "$tmp/ssmsession.json"
SSMCTL_BIN=$SSMCTL
printf '#!/bin/sh\nexec "%s" --config "%s" "$@"\n' "$SSMCTL_BIN" "$tmp/ssmsession.json" >"$tmp/ssmctl"
chmod 0755 "$tmp/ssmctl"
SSMCTL=$tmp/ssmctl

st() { # EXPECTED DESC CMD...
	want=$1 d=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" = "$want" ]; then ok "$d (exit $got)"; else fail "$d: exit $got, expected $want: $(cat "$tmp/err")"; fi
}
can_sudo() { sudo -n -l -U "$1" 2>/dev/null | grep -q 'NOPASSWD: ALL'; }
no_temp() { [ -z "$(ls -A /etc/sudoers.d | grep '^\.')" ]; }
# has_rules USER: sudo itself lists rules for USER (any form, any file)
has_rules() { sudo -n -l -U "$1" 2>/dev/null | grep -q "^User $1 may run the following commands on "; }

st 0 "status before anything" "$SSMCTL" sudo status --user ssmsudo1
expect "status says disabled" grep -qx disabled "$tmp/out"
expect "ssmsudo1 cannot sudo yet" sh -c "! sudo -n -l -U ssmsudo1 2>/dev/null | grep -q NOPASSWD"

st 2 "enable without a usable configuration (no audit log) is refused" \
	"$SSMCTL_BIN" --config /nonexistent sudo enable --user ssmsudo1
expect "... and grants nothing" sh -c "! sudo -n -l -U ssmsudo1 2>/dev/null | grep -q NOPASSWD"
st 0 "enable ssmsudo1" "$SSMCTL" sudo enable --user ssmsudo1
expect "the grant is audited (sudo_granted)" grep -q '"event":"sudo_granted".*"user":"ssmsudo1"' "$tmp/log/audit.jsonl"
expect "file is root:root 0440" test "$(stat -c '%u:%g %a' "$F")" = "0:0 440"
expect "visudo -c accepts the whole configuration" visudo -c -q
expect "sudo -l shows NOPASSWD: ALL for ssmsudo1" can_sudo ssmsudo1
expect "ssmsudo2 still cannot sudo" sh -c "! sudo -n -l -U ssmsudo2 2>/dev/null | grep -q NOPASSWD"
expect "no temp file left behind" no_temp
st 0 "status" "$SSMCTL" sudo status --user ssmsudo1
expect "status says enabled" grep -qx enabled "$tmp/out"
ino=$(stat -c %i "$F")
st 0 "enable again is a no-op" "$SSMCTL" sudo enable --user ssmsudo1
expect "one line for ssmsudo1" test "$(grep -c '^ssmsudo1 ' "$F")" = 1
st 0 "enable ssmsudo2" "$SSMCTL" sudo enable --user=ssmsudo2
expect "file replaced by rename (new inode)" test "$(stat -c %i "$F")" != "$ino"
expect "both users can sudo" sh -c 'sudo -n -l -U ssmsudo1 | grep -q "NOPASSWD: ALL" && sudo -n -l -U ssmsudo2 | grep -q "NOPASSWD: ALL"'

st 0 "disable ssmsudo1" "$SSMCTL" sudo disable --user ssmsudo1
expect "ssmsudo1 no longer can sudo" sh -c "! sudo -n -l -U ssmsudo1 2>/dev/null | grep -q NOPASSWD"
expect "ssmsudo2 still can" can_sudo ssmsudo2
expect "file still root:root 0440" test "$(stat -c '%u:%g %a' "$F")" = "0:0 440"
st 0 "disable ssmsudo1 again is a no-op" "$SSMCTL" sudo disable --user ssmsudo1
st 0 "disable ssmsudo2" "$SSMCTL" sudo disable --user ssmsudo2
expect "file removed when nobody is left" test ! -e "$F"
expect "visudo -c still fine" visudo -c -q

# names that would inject sudoers syntax, or are not user names
for bad in 'ALL' 'root ALL=(ALL) ALL' 'a,b' '../x' '' '-x' 'a:b' "$(printf 'a\nb')" \
	'abcdefghijklmnopqrstuvwxyz0123456789'; do
	st 2 "refuses user name '$bad'" "$SSMCTL" sudo enable --user "$bad"
done
expect "no file after refused names" test ! -e "$F"
st 2 "missing action" "$SSMCTL" sudo
st 2 "unknown action" "$SSMCTL" sudo grant
st 2 "unknown option" "$SSMCTL" sudo enable --bogus
st 2 "unknown option with the --config prefix" "$SSMCTL" sudo status --configure
st 2 "--config without a value" "$SSMCTL" sudo status --config
st 0 "--config PATH is accepted (and not used)" "$SSMCTL" sudo status --config /nonexistent
st 0 "--config=PATH is accepted (and not used)" "$SSMCTL" sudo status --config=/nonexistent

# a file visudo refuses: the change is refused and the old file stays as it was
printf 'this is not sudoers syntax\n' >"$F"
chmod 0440 "$F"
sum=$(sha256sum "$F")
st 1 "enable over a broken file is refused by visudo" "$SSMCTL" sudo enable --user ssmsudo1
expect "broken file left unchanged" test "$(sha256sum "$F")" = "$sum"
expect "no temp file left after the refusal" no_temp
rm -f "$F"

# default user
st 0 "enable without --user" "$SSMCTL" sudo enable
expect "default user is ssm-user" grep -q '^ssm-user ALL=(ALL:ALL) NOPASSWD:ALL$' "$F"
st 0 "disable without --user" "$SSMCTL" sudo disable

# the longest name accepted (32 characters) into a new file: the header line and the
# grant must both fit (an undersized buffer cut the line, or wrote bytes past its end)
u32=abcdefghijklmnopqrstuvwxyz012345
st 0 "enable a 32-character user into a new file" "$SSMCTL" sudo enable --user $u32
expect "the whole grant line for the 32-character user" \
	grep -qx "$u32 ALL=(ALL:ALL) NOPASSWD:ALL" "$F"
expect "nothing else than the header and the grant" test "$(wc -l <"$F")" = 2
st 0 "disable the 32-character user" "$SSMCTL" sudo disable --user $u32
expect "file removed again" test ! -e "$F"

# an existing file sudo does not trust (group/world-writable, or not root's): its rules are
# not in force; copying them into a fresh root 0440 file would put them in force
for m in 0666 0460; do
	printf 'ssmsudo2 ALL=(ALL) NOPASSWD:ALL\n' >"$F"
	chmod $m "$F"
	sum=$(sha256sum "$F")
	st 1 "enable over a mode $m file is refused" "$SSMCTL" sudo enable --user ssmsudo1
	expect "mode $m file left unchanged" test "$(sha256sum "$F")" = "$sum"
	expect "mode $m file still has mode $m" test "$(stat -c %a "$F")" = "${m#0}"
	expect "no temp file after the mode $m refusal" no_temp
	st 1 "disable over a mode $m file is refused" "$SSMCTL" sudo disable --user ssmsudo2
	expect "mode $m file still there after disable" test -e "$F"
done
printf 'ssmsudo2 ALL=(ALL) NOPASSWD:ALL\n' >"$F"
chmod 0440 "$F"
chown 64102 "$F"
st 1 "enable over a file owned by another user is refused" "$SSMCTL" sudo enable --user ssmsudo1
expect "other user's file still owned by them" test "$(stat -c %u "$F")" = 64102
rm -f "$F"

# ---- status asks sudo; disable removes every form of grant (review findings 5 and 6) ----
# Files sudo includes from outside /etc/sudoers.d (for the #include forms) live in $tmp:
# root-owned, mode 0440, as sudo wants them.
mkdir "$tmp/incdir"
printf 'ssmsudo1 ALL=(ALL:ALL) NOPASSWD:ALL\n' >"$tmp/inc"
cp "$tmp/inc" "$tmp/incdir/grant"
chmod 0440 "$tmp/inc" "$tmp/incdir/grant"
O=/etc/sudoers.d/zz-other
# form NAME: sudoers text granting ssmsudo1 (uid 64101, groups ssmsudo1 = 64101 and
# ssmsudogrp = 64200) something, in one of the ways sudoers allows
form() {
	case $1 in
	canonical) printf 'ssmsudo1 ALL=(ALL:ALL) NOPASSWD:ALL\n' ;;
	leading-blank) printf ' ssmsudo1 ALL=(ALL:ALL) NOPASSWD:ALL\n' ;;
	tabs) printf 'ssmsudo1\tALL=(ALL:ALL)\tNOPASSWD:ALL\n' ;;
	user-list) printf 'ssmsudo2,ssmsudo1 ALL=(ALL:ALL) NOPASSWD:ALL\n' ;;
	uid) printf '#64101 ALL=(ALL:ALL) NOPASSWD:ALL\n' ;;
	group) printf '%%ssmsudogrp ALL=(ALL) NOPASSWD: ALL\n' ;;
	group-gid) printf '%%#64200 ALL=(ALL) NOPASSWD: ALL\n' ;;
	primary-group) printf '%%ssmsudo1 ALL=(ALL) NOPASSWD: ALL\n' ;;
	user-alias) printf 'User_Alias SSMU = ssmsudo1\nSSMU ALL=(ALL) NOPASSWD: ALL\n' ;;
	continued-list) printf 'ssmsudo2, \\\nssmsudo1 ALL=(ALL:ALL) NOPASSWD:ALL\n' ;;
	continued-rule) printf 'ssmsudo1 \\\n\tALL=(ALL:ALL) NOPASSWD:ALL\n' ;;
	all-users) printf 'ALL ALL=(ALL) NOPASSWD: ALL\n' ;;
	runas) printf 'ssmsudo1 ALL=(root) NOPASSWD: /usr/bin/id\n' ;;
	runas-alias) printf 'Runas_Alias SSMR = root\nssmsudo1 ALL=(SSMR) NOPASSWD: ALL\n' ;;
	host-alias) printf 'Host_Alias SSMH = ALL\nssmsudo1 SSMH=(ALL) NOPASSWD: ALL\n' ;;
	cmnd-alias) printf 'Cmnd_Alias SSMC = ALL\nssmsudo1 ALL=(ALL) NOPASSWD: SSMC\n' ;;
	with-password) printf 'ssmsudo1 ALL=(ALL) ALL\n' ;;
	include) printf '#include %s\n' "$tmp/inc" ;;
	at-include) printf '@include %s\n' "$tmp/inc" ;;
	includedir) printf '@includedir %s\n' "$tmp/incdir" ;;
	*) echo "no form $1" >&2; exit 1 ;;
	esac
}
FORMS="canonical leading-blank tabs user-list uid group group-gid primary-group user-alias
continued-list continued-rule all-users runas runas-alias host-alias cmnd-alias with-password
include at-include includedir"
put() { # FILE: sudoers text from standard input, root 0440
	cat >"$1" && chmod 0440 "$1"
}
no_trace() { # status and disable hide files from sudo only in their children's namespaces
	! grep -q ssm-agent-users /proc/self/mountinfo && no_temp
}
HEADER='# Managed by ssmctl sudo: passwordless sudo for Session Manager users.'
expect "nothing grants ssmsudo1 before the table" eval '! has_rules ssmsudo1'
for f in $FORMS; do
	# the form in the managed file, next to another user's grant that must survive
	{ echo "$HEADER"; echo 'ssmsudo2 ALL=(ALL:ALL) NOPASSWD:ALL'; form $f; } | put "$F"
	expect "[$f] sudo grants ssmsudo1 through the managed file" has_rules ssmsudo1
	st 0 "[$f] status" "$SSMCTL" sudo status --user ssmsudo1
	expect "[$f] status says enabled" grep -qx enabled "$tmp/out"
	expect "[$f] status names the managed file" grep -qx "granted by $F" "$tmp/out"
	expect "[$f] status names no other file" test "$(grep -c '^granted by ' "$tmp/out")" = 1
	expect "[$f] status leaves no mount and no temp file" no_trace
	st 0 "[$f] disable" "$SSMCTL" sudo disable --user ssmsudo1
	expect "[$f] disable says what it dropped" grep -q "^dropped line [0-9]* of $F" "$tmp/out"
	expect "[$f] sudo lists no rule for ssmsudo1 after disable" eval '! has_rules ssmsudo1'
	expect "[$f] ssmsudo2 keeps its grant" has_rules ssmsudo2
	expect "[$f] visudo -c accepts the tree after disable" visudo -c -q
	expect "[$f] managed file root:root 0440" test "$(stat -c '%u:%g %a' "$F")" = "0:0 440"
	expect "[$f] disable leaves no mount and no temp file" no_trace
	st 0 "[$f] status after disable" "$SSMCTL" sudo status --user ssmsudo1
	expect "[$f] status says disabled after disable" grep -qx disabled "$tmp/out"

	# the form in another file, the canonical grant in the managed one
	echo 'ssmsudo1 ALL=(ALL:ALL) NOPASSWD:ALL' | put "$F"
	form $f | put "$O"
	sum=$(sha256sum "$O")
	st 0 "[$f] status, grant in two files" "$SSMCTL" sudo status --user ssmsudo1
	expect "[$f] status names the managed file" grep -qx "granted by $F" "$tmp/out"
	expect "[$f] status names the other file" grep -qx "granted by $O" "$tmp/out"
	st 1 "[$f] disable with a grant left in another file fails" \
		"$SSMCTL" sudo disable --user ssmsudo1
	expect "[$f] disable names the other file" grep -qx "ssmctl: granted by $O" "$tmp/err"
	expect "[$f] disable still removed the managed grant" test ! -e "$F"
	expect "[$f] the other file is left alone" test "$(sha256sum "$O")" = "$sum"
	st 0 "[$f] status, grant in the other file only" "$SSMCTL" sudo status --user ssmsudo1
	expect "[$f] status says enabled" grep -qx enabled "$tmp/out"
	expect "[$f] status names only the other file" \
		test "$(grep '^granted by ' "$tmp/out")" = "granted by $O"
	rm -f "$O" "$F"
done

# not grants: Defaults, a Runas naming the user, another host, a comment, an unused alias,
# a longer name
for txt in 'Defaults:ssmsudo1 !authenticate' 'ssmsudo2 ALL=(ssmsudo1) NOPASSWD: ALL' \
	'ssmsudo1 nosuchhost.invalid=(ALL) NOPASSWD: ALL' '# ssmsudo1 ALL=(ALL) NOPASSWD: ALL' \
	'User_Alias SSMU = ssmsudo1' 'ssmsudo10 ALL=(ALL:ALL) NOPASSWD:ALL'; do
	echo "$txt" | put "$F"
	st 0 "status with only '$txt'" "$SSMCTL" sudo status --user ssmsudo1
	expect "'$txt' is no grant: status says disabled" grep -qx disabled "$tmp/out"
done
rm -f "$F"

# a grant made by two files together (an alias in one, the rule in another)
echo 'User_Alias SSMU = ssmsudo1' | put /etc/sudoers.d/zz-a
echo 'SSMU ALL=(ALL) NOPASSWD: ALL' | put /etc/sudoers.d/zz-b
st 0 "status, grant made by two files together" "$SSMCTL" sudo status --user ssmsudo1
expect "status says enabled" grep -qx enabled "$tmp/out"
expect "status says no single file grants it" grep -q '^granted by no single file' "$tmp/out"
st 1 "disable, grant made by two other files" "$SSMCTL" sudo disable --user ssmsudo1
expect "disable says no single file grants it" \
	grep -q '^ssmctl: granted by no single file' "$tmp/err"
rm -f /etc/sudoers.d/zz-a /etc/sudoers.d/zz-b

# a grant in /etc/sudoers itself (a private copy, bind-mounted in this namespace only)
cp /etc/sudoers "$tmp/sudoers"
echo 'ssmsudo1 ALL=(ALL) NOPASSWD: ALL' >>"$tmp/sudoers"
chmod 0440 "$tmp/sudoers"
mount --bind "$tmp/sudoers" /etc/sudoers || exit 1
st 0 "status, grant in /etc/sudoers" "$SSMCTL" sudo status --user ssmsudo1
expect "status names /etc/sudoers" grep -qx "granted by /etc/sudoers" "$tmp/out"
st 1 "disable, grant in /etc/sudoers" "$SSMCTL" sudo disable --user ssmsudo1
expect "disable names /etc/sudoers" grep -qx "ssmctl: granted by /etc/sudoers" "$tmp/err"
umount /etc/sudoers

# one line sudo cannot parse: sudo skips it and still grants; disable drops it with the grant
{ echo "$HEADER"; echo 'ssmsudo2 ALL=(ALL:ALL) NOPASSWD:ALL'; echo 'this is not sudoers syntax'
  echo 'ssmsudo1 ALL=(ALL:ALL) NOPASSWD:ALL'; } | put "$F"
expect "visudo -c refuses the tree with the bad line" eval '! visudo -c -q >/dev/null 2>&1'
expect "sudo still grants ssmsudo1 despite the bad line" has_rules ssmsudo1
st 0 "disable with a line sudo cannot parse" "$SSMCTL" sudo disable --user ssmsudo1
expect "disable reports the bad line" \
	grep -q "^dropped line 3 of $F (.*): this is not sudoers syntax\$" "$tmp/out"
expect "disable reports the grant" grep -q "^dropped line 4 of $F (grants the user)" "$tmp/out"
expect "sudo lists no rule for ssmsudo1 after disable" eval '! has_rules ssmsudo1'
expect "visudo -c accepts the tree after disable" visudo -c -q
expect "ssmsudo2 keeps its grant" has_rules ssmsudo2
expect "the header and ssmsudo2's line are all that is left" \
	test "$(cat "$F")" = "$(printf '%s\n%s' "$HEADER" 'ssmsudo2 ALL=(ALL:ALL) NOPASSWD:ALL')"
rm -f "$F"

# a line that looks like another user's grant but continues the line before (backslash) is
# no grant in force; disable must not turn it into one by keeping it alone
printf 'Cmnd_Alias SSMC = /bin/echo \\\nssmsudo2 ALL=(ALL:ALL) NOPASSWD:ALL\nssmsudo1 ALL=(ALL) NOPASSWD: SSMC\n' |
	put "$F"
expect "continued line: sudo grants ssmsudo2 nothing" eval '! has_rules ssmsudo2'
st 0 "disable ssmsudo1 next to a continued line" "$SSMCTL" sudo disable --user ssmsudo1
expect "the continued line is dropped too" grep -q "^dropped line 2 of $F" "$tmp/out"
expect "disable did not grant ssmsudo2 anything" eval '! has_rules ssmsudo2'
expect "sudo lists no rule for ssmsudo1" eval '! has_rules ssmsudo1'
expect "visudo -c accepts the tree" visudo -c -q
rm -f "$F"

# a rule whose first command carries a lapsed NOTAFTER and whose later command sets it again:
# sudo honours the later one (review: status said "disabled / lapsed" while sudo granted root)
for opt in 'NOTAFTER=20000101000000Z /bin/true, NOTAFTER=29990101000000Z NOPASSWD: ALL' \
	'NOTBEFORE=29990101000000Z /bin/true, NOTBEFORE=20000101000000Z NOPASSWD: ALL'; do
	printf 'ssmsudo1 ALL=(ALL) %s\n' "$opt" | put "$F"
	st 0 "status with a date overridden later in the rule ($opt)" "$SSMCTL" sudo status --user ssmsudo1
	expect "... says enabled" grep -qx enabled "$tmp/out"
	st 0 "disable removes it" "$SSMCTL" sudo disable --user ssmsudo1
	expect "... sudo lists no rule for ssmsudo1" eval '! has_rules ssmsudo1'
	rm -f "$F"
done

# a user that does not exist: refused, nothing written
for a in enable disable status; do
	st 2 "$a for a user that does not exist" "$SSMCTL" sudo $a --user ssmnosuchuser
	expect "$a says there is no such user" grep -q 'no such user "ssmnosuchuser"' "$tmp/err"
done
expect "no file after the unknown user" test ! -e "$F"

finish ssmctl_sudo
