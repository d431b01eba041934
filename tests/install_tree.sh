#!/bin/sh
# install_tree.sh - `make install DESTDIR=...` from the build dir (no root needed):
#  - every expected file is installed, with its mode (ssm-shell setuid), no libtool .la;
#  - nothing is written outside DESTDIR (every writing system call of the install, traced
#    with strace when it works; and the configured directories on this host unchanged);
#  - the compiled-in defaults come from configure's --sysconfdir/--localstatedir/
#    --runstatedir; no @VAR@ left in an installed file;
#  - the sample configuration passes ssmctl's own parser (and a broken copy does not), the
#    sample documents pass `ssmctl document validate`;
#  - systemd-analyze verify accepts the units, sshd -t the second sshd's configuration
#    (root), logrotate -d the logrotate file (each when available);
#  - configuration files an administrator changed are kept by install and uninstall;
#  - `make uninstall DESTDIR=...` leaves only empty directories.
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${SSM_BUILDDIR:-$(pwd)}
[ -f "$builddir/Makefile" ] || { echo "SKIP: run from the build dir"; exit 77; }
MAKE=${MAKE:-make}
# a plain make: not the jobserver or flags of the `make check` this runs under
mk() { (cd "$builddir" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$MAKE" "$@"); }
var() {
	printf 'ssm-print-var:\n\t@echo $(%s)\n' "$1" |
		(cd "$builddir" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$MAKE" -s \
			--no-print-directory -f Makefile -f - ssm-print-var) | tail -n 1
}

T=$(mktemp -d "${TMPDIR:-/tmp}/ssm-install.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
D=$T/dest
fails=0
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
check() { # DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

for v in prefix bindir sbindir sysconfdir localstatedir runstatedir securedir pkglibdir \
	pkglibexecdir docdir mandir systemdsystemunitdir tmpfilesdir SSHD; do
	val=$(var "$v")
	case $val in
	/*) eval "$v=\$val" ;;
	*) echo "FAIL: cannot read $v from the Makefile ('$val')"; exit 1 ;;
	esac
done
echo "prefix $prefix, sysconfdir $sysconfdir, localstatedir $localstatedir, runstatedir $runstatedir"
examples=$docdir/examples

# the configured directories as they are on this host, before
snap() {
	for d in "$bindir" "$sbindir" "$securedir" "$pkglibdir" "$pkglibexecdir" \
		"$sysconfdir/ssmsession" "$sysconfdir/pam.d" "$sysconfdir/ssh" \
		"$sysconfdir/logrotate.d" "$systemdsystemunitdir" "$tmpfilesdir" "$docdir" \
		"$mandir/man5" "$mandir/man8"; do
		if [ -d "$d" ]; then
			find "$d" -maxdepth 2 -printf '%p %s %T@ %m\n' 2>/dev/null | sort
		else
			echo "$d absent"
		fi
	done
}
snap >"$T/host.before"

# ---- install, traced --------------------------------------------------------------
traced=0
if command -v strace >/dev/null 2>&1 && strace -f -qq -o /dev/null true 2>/dev/null; then
	traced=1
	strace -f -qq -y -s 4096 -e status=successful -o "$T/trace" \
		-e trace=clone,clone3,fork,vfork,chdir,fchdir,rmdir,mknod,mknodat,open,openat,creat,mkdir,mkdirat,unlink,unlinkat,rename,renameat,renameat2,symlink,symlinkat,link,linkat,chmod,fchmodat,chown,fchownat,lchown,truncate,utimensat \
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL sh -c 'cd "$1" && shift && exec "$@"' sh \
		"$builddir" "$MAKE" install DESTDIR="$D" >"$T/install.out" 2>&1
	rc=$?
else
	mk install DESTDIR="$D" >"$T/install.out" 2>&1
	rc=$?
fi
if [ $rc != 0 ]; then
	echo "FAIL: make install DESTDIR=$D"; tail -30 "$T/install.out"; exit 1
fi
ok "make install DESTDIR=..."

if [ $traced = 1 ]; then
	# every path a writing call names (relative ones resolved against the caller's working
	# directory) must be under DESTDIR, the build dir or TMPDIR
	(cd "$builddir" && python3 "$srcdir/tests/install_trace.py" "$T/trace" "$D" "$builddir" \
		"${TMPDIR:-/tmp}") >"$T/outside"
	if [ -s "$T/outside" ]; then
		bad "install wrote outside DESTDIR:"; sort -u "$T/outside" | head -20
	else
		ok "install wrote nothing outside DESTDIR, the build dir and TMPDIR ($(wc -l <"$T/trace") calls traced)"
	fi
else
	echo "note: strace unusable here: only the configured directories are compared"
fi
snap >"$T/host.after"
check "the configured directories on this host are unchanged" cmp -s "$T/host.before" "$T/host.after"
check "no libtool .la installed" test -z "$(find "$D" -name '*.la')"

# ---- the expected files and modes -------------------------------------------------
mode_is() { # MODE PATH
	m=$(stat -c %a "$1" 2>/dev/null)
	[ "$m" = "$2" ] || { echo "  $1: mode ${m:-missing}, want $2"; return 1; }
}
expect() { # MODE PATH...
	want=$1; shift
	for f; do check "$f ($want)" mode_is "$D$f" "$want"; done
}
expect 4755 "$bindir/ssm-shell"
expect 755 "$sbindir/ssmctl" "$sbindir/ssm-verifyd" "$securedir/pam_ssmsession.so" \
	"$pkglibdir/ssm-verify.so"
expect 644 "$sysconfdir/ssmsession/ssmsession.json.example" "$sysconfdir/pam.d/ssm-sshd" \
	"$sysconfdir/ssh/ssm-sshd_config" "$sysconfdir/logrotate.d/ssmsession" \
	"$systemdsystemunitdir/ssm-verifyd.service" "$systemdsystemunitdir/ssm-sshd.service" \
	"$tmpfilesdir/ssmsession.conf" \
	"$examples/README" "$examples/ssmsession.json.example" "$examples/ssm-sshd_config" \
	"$examples/ssm-sshd.pam" "$examples/logrotate" "$examples/sshd_config.d/ssmsession.conf" \
	"$examples/sudoers.d/ssm-agent-users.example" \
	"$examples/documents/SSM-SessionManagerRunShell.json" \
	"$examples/documents/AWS-StartInteractiveCommand.json" \
	"$examples/documents/AWS-StartPortForwardingSession.json" \
	"$examples/documents/ViewLog.json" \
	"$mandir/man5/ssmsession.json.5" "$mandir/man8/ssm-shell.8" "$mandir/man8/ssmctl.8" \
	"$mandir/man8/pam_ssmsession.8" "$mandir/man8/ssm-verifyd.8"
expect 755 "$sysconfdir/ssmsession/documents"
if [ "$(id -u)" = 0 ]; then
	check "installed as root: every file root's" test -z "$(find "$D" ! -user 0)"
fi
check "ssm-sshd links to $SSHD" test "$(readlink "$D$pkglibexecdir/ssm-sshd")" = "$SSHD"
for f in documents/SSM-SessionManagerRunShell.json documents/ViewLog.json; do
	check "$f: the broker's exact bytes" cmp -s "$srcdir/broker/examples/$f" "$D$examples/$f"
done
check "the main sshd is not touched (nothing in sshd_config.d, no pam.d/sshd)" \
	test ! -e "$D$sysconfdir/ssh/sshd_config.d" -a ! -e "$D$sysconfdir/pam.d/sshd" \
	-a ! -e "$D$sysconfdir/ssh/sshd_config"
check "nothing in sudoers.d (ssmctl sudo manages it)" test ! -e "$D$sysconfdir/sudoers.d"
left=$(grep -rlE '@[A-Za-z_]+@' "$D$sysconfdir" "$D$systemdsystemunitdir" "$D$tmpfilesdir" \
	"$D$docdir" 2>/dev/null)
check "no @VAR@ left in the installed data ($left)" test -z "$left"
# the unit and the sshd configuration agree
check "ssm-sshd.service starts the link with the installed configuration" grep -q \
	"^ExecStart=$pkglibexecdir/ssm-sshd -D -f $sysconfdir/ssh/ssm-sshd_config\$" \
	"$D$systemdsystemunitdir/ssm-sshd.service"
check "ssm-sshd_config: own PidFile, ListenAddress, sftp subsystem, ForceCommand" sh -c '
	grep -q "^PidFile /run/ssm-sshd/sshd.pid" "$1" && grep -q "^ListenAddress " "$1" &&
	grep -q "^Subsystem sftp /" "$1" && grep -q "ForceCommand $2/ssm-shell\$" "$1" &&
	grep -q "^PermitUserRC no" "$1"' sh "$D$sysconfdir/ssh/ssm-sshd_config" "$bindir"

# ---- compiled-in defaults from configure ----------------------------------------------
# (ssm-shell runs, even for --help, only setuid root: tests/shell_setup.sh reads it so)
if [ "$(id -u)" = 0 ]; then
	check "ssm-shell --help: configuration $sysconfdir/ssmsession/ssmsession.json" test \
		"$("$D$bindir/ssm-shell" --help | sed -n 's/^configuration: //p')" = \
		"$sysconfdir/ssmsession/ssmsession.json"
fi
for p in "$sysconfdir/ssmsession/ssmsession.json" "$sysconfdir/ssmsession/documents" \
	"$localstatedir/lib/ssmsession" \
	"$runstatedir/ssmsession" "$localstatedir/log/ssmsession"; do
	check "default $p compiled into pam_ssmsession.so and ssm-shell" sh -c \
		'grep -aqF "$1" "$2" && grep -aqF "$1" "$3"' sh "$p" \
		"$D$securedir/pam_ssmsession.so" "$D$bindir/ssm-shell"
done
check "tmpfiles.d: state_dir, run_dir, log_dir with their modes" sh -c '
	grep -q "^d $2/lib/ssmsession  *0755 root root -" "$1" &&
	grep -q "^d $2/lib/ssmsession/replay  *0700 root root -" "$1" &&
	grep -q "^d $3/ssmsession  *0755 root root -" "$1" &&
	grep -q "^d $2/log/ssmsession  *0750 root root -" "$1" &&
	grep -q "^d $2/log/ssmsession/sessions  *0750 root root -" "$1"' sh \
	"$D$tmpfilesdir/ssmsession.conf" "$localstatedir" "$runstatedir"

# ---- the samples pass the programs' own parsers --------------------------------------
sample=$D$sysconfdir/ssmsession/ssmsession.json.example
check "sample configuration is JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$sample"
# token verify loads the configuration first, then the keys (absent here): getting that
# far means the configuration was accepted
"$D$sbindir/ssmctl" --config "$sample" token verify --user ssm-user a.b.c >"$T/v.out" 2>&1
check "ssmctl accepts the sample configuration (stops at the absent keys)" \
	grep -q 'trusted keys unusable' "$T/v.out"
sed 's/"leeway"/"leeway_"/' "$sample" >"$T/broken.json"
"$D$sbindir/ssmctl" --config "$T/broken.json" token verify --user ssm-user a.b.c >"$T/v2.out" 2>&1
check "control: a broken copy is refused as a configuration" \
	grep -q "configuration unusable.*unknown key 'leeway_'" "$T/v2.out"
for f in "$D$examples"/documents/*.json; do
	check "ssmctl document validate $(basename "$f")" sh -c \
		'"$1" --config "$2" document validate "$3" >/dev/null' sh "$D$sbindir/ssmctl" "$sample" "$f"
done

# ---- units, sshd, logrotate -----------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
	# the units name installed paths: point those into DESTDIR for the check
	mkdir -p "$T/units"
	for u in ssm-verifyd.service ssm-sshd.service; do
		sed -e "s|=\\([-@+!]*\\)$sbindir/|=\\1$D$sbindir/|" \
			-e "s|=\\([-@+!]*\\)$pkglibexecdir/|=\\1$D$pkglibexecdir/|" \
			"$D$systemdsystemunitdir/$u" >"$T/units/$u"
	done
	if systemd-analyze verify --man=no "$T/units/ssm-verifyd.service" \
		"$T/units/ssm-sshd.service" >"$T/sa.out" 2>&1; then
		ok "systemd-analyze verify: both units"
	else
		bad "systemd-analyze verify"; cat "$T/sa.out"
	fi
else
	echo "note: no systemd-analyze: units not verified"
fi
if [ "$(id -u)" = 0 ] && [ -x "$SSHD" ] && command -v unshare >/dev/null 2>&1 &&
	unshare --mount --propagation private true 2>/dev/null; then
	# sshd -t needs its privilege separation directory: a private /run for it
	if unshare --mount --propagation private sh -c 'mount -t tmpfs tmpfs /run &&
		mkdir -m 0755 /run/sshd && "$1" -t -f "$2"' sh "$D$pkglibexecdir/ssm-sshd" \
		"$D$sysconfdir/ssh/ssm-sshd_config" >"$T/sshd.out" 2>&1; then
		ok "sshd -t accepts ssm-sshd_config (through the ssm-sshd link)"
	else
		bad "sshd -t ssm-sshd_config"; cat "$T/sshd.out"
	fi
else
	echo "note: sshd -t needs root and unshare: not run"
fi
LOGROTATE=${LOGROTATE:-logrotate}
if command -v "$LOGROTATE" >/dev/null 2>&1; then
	if "$LOGROTATE" -d -s "$T/lr.state" "$D$sysconfdir/logrotate.d/ssmsession" >"$T/lr.out" 2>&1 &&
		grep -q "rotating pattern: $localstatedir/log/ssmsession/audit.jsonl" "$T/lr.out"; then
		ok "logrotate -d accepts logrotate.d/ssmsession"
	else
		bad "logrotate -d"; cat "$T/lr.out"
	fi
else
	echo "note: no logrotate: logrotate.d/ssmsession not checked (LOGROTATE=PATH to give one)"
fi

# ---- an administrator's changes survive install and uninstall ---------------------------
echo "# changed" >>"$D$sysconfdir/pam.d/ssm-sshd"
cp "$D$sysconfdir/pam.d/ssm-sshd" "$T/pam.changed"
mk install-data DESTDIR="$D" >"$T/install2.out" 2>&1 || { bad "second install"; tail "$T/install2.out"; }
check "install again: the changed pam.d/ssm-sshd kept, and said so" sh -c \
	'cmp -s "$1" "$2" && grep -q "note: .*pam.d/ssm-sshd kept" "$3"' sh \
	"$T/pam.changed" "$D$sysconfdir/pam.d/ssm-sshd" "$T/install2.out"

# ---- uninstall --------------------------------------------------------------------------
mk uninstall DESTDIR="$D" >"$T/uninstall.out" 2>&1 || { bad "make uninstall"; tail "$T/uninstall.out"; }
check "uninstall kept the changed pam.d/ssm-sshd" cmp -s "$T/pam.changed" "$D$sysconfdir/pam.d/ssm-sshd"
rm -f "$D$sysconfdir/pam.d/ssm-sshd"
files=$(find "$D" ! -type d)
check "make uninstall DESTDIR=...: no file left" test -z "$files"
[ -z "$files" ] || echo "$files" | head -20

echo "install_tree: $checks checks, $fails failed"
[ $fails = 0 ]
