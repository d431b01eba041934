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
echo "ssmsudo1:x:64101:" >>"$tmp/group"
echo "ssmsudo2:x:64102:" >>"$tmp/group"
mount --bind "$tmp/passwd" /etc/passwd || exit 1
mount --bind "$tmp/group" /etc/group || exit 1
F=/etc/sudoers.d/ssm-agent-users

st() { # EXPECTED DESC CMD...
	want=$1 d=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" = "$want" ]; then ok "$d (exit $got)"; else fail "$d: exit $got, expected $want: $(cat "$tmp/err")"; fi
}
can_sudo() { sudo -n -l -U "$1" 2>/dev/null | grep -q 'NOPASSWD: ALL'; }
no_temp() { [ -z "$(ls -A /etc/sudoers.d | grep '^\.ssm-agent-users')" ]; }

st 0 "status before anything" "$SSMCTL" sudo status --user ssmsudo1
expect "status says disabled" grep -qx disabled "$tmp/out"
expect "ssmsudo1 cannot sudo yet" sh -c "! sudo -n -l -U ssmsudo1 2>/dev/null | grep -q NOPASSWD"

st 0 "enable ssmsudo1" "$SSMCTL" sudo enable --user ssmsudo1
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

finish ssmctl_sudo
