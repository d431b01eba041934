#!/bin/sh
# readme_deploy.sh - README.md's "Deploying on a host", step by step, on a fresh host (root).
#
# The ```sh blocks between <!-- deploy-test:begin --> and <!-- deploy-test:end --> are cut
# into commands (tests/readme_steps.py) and run in order in one shell, at the top of a source
# tree whose build/ is configured with the README's package paths, each command checked for
# exit status 0: make install, the users, add-shell, systemd-tmpfiles, the broker's keys and
# documents, the configuration, ssmctl user ensure and config check, the units, a token
# login through ssh, what the host recorded.  Then the test checks the login: the session
# printed ssm-user, the audit log has its session_start (PAM service ssm-sshd), shell_start
# and session_end, the transcript holds the session's output, ssm-verifyd answered.  Missing
# markers or blocks fail the test: the README cannot drift from what runs.
#
# Where: an overlay of / (upper layer on a tmpfs of a private mount namespace), chrooted,
# with private pid and network namespaces (loopback only), fresh /proc and /run, /tmp the overlay's:
# everything the steps write stays there; the real host's files, users, PAM and sshd are
# compared before and after.  What differs from a real host: no systemd runs there, so
# `systemctl enable --now UNIT` is a shim that does what the installed unit says (makes its
# RuntimeDirectory=, checks ConditionPathExists=, runs ExecStartPre= and starts ExecStart=
# read from the unit file); the build dir's configuration (config.status) must be the
# README's, else a private build is configured and built with it in the overlay.
# Root, unshare, chroot, overlayfs, sshd, ssh, add-shell, systemd-tmpfiles, useradd and
# python3-jwt, or it skips (77).

# ---- inside the chroot ----------------------------------------------------------------
if [ "${1:-}" = --chrooted ]; then
	srcdir=$2 build=$3
	fails=0
	ok() { echo "ok: $*"; }
	bad() { fails=$((fails + 1)); echo "FAIL: $*"; }
	check() { _d=$1; shift; if "$@"; then ok "$_d"; else bad "$_d"; fi; }
	wait_for() { # SECONDS CMD...: poll every 0.1 s
		_n=$(($1 * 10)); shift
		while ! "$@"; do
			_n=$((_n - 1)); [ $_n -gt 0 ] || return 1; sleep 0.1
		done
	}
	ip link set lo up || { echo "FAIL: no loopback"; exit 1; }
	# a fresh host as far as ssmsession goes (only in this overlay)
	for u in ssm-user ssmsession ssm-verifyd; do
		if getent passwd "$u" >/dev/null; then
			echo "note: the host has a user $u: removed in the overlay"; userdel -r "$u" 2>/dev/null
		fi
	done
	rm -rf /etc/ssmsession /var/lib/ssmsession /var/log/ssmsession /etc/pam.d/ssm-sshd \
		/etc/ssh/ssm-sshd_config /etc/logrotate.d/ssmsession /etc/sudoers.d/ssm-agent-users
	remove-shell /usr/bin/ssm-shell 2>/dev/null
	if [ -z "$build" ]; then
		# the build dir is not configured as the README says: configure and build with its flags
		build=/tmp/ssm-readme/build
		mkdir "$build" && cd "$build" || exit 1
		if "$srcdir/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
			--runstatedir=/run >configure.out 2>&1 && make -j"$(nproc)" >make.out 2>&1; then
			ok "a private build with the README's configure flags"
		else
			bad "private build"; tail -n 30 configure.out make.out; exit 1
		fi
	fi
	# the top of a source tree with build/ (the overlay's copy: keys written there stay in it)
	W=/tmp/ssm-readme/src
	mkdir "$W" && ln -s "$srcdir/broker" "$W/broker" && ln -s "$build" "$W/build" || exit 1
	SSM_STEPS=/tmp/ssm-readme/steps
	mkdir "$SSM_STEPS"
	# systemctl: no systemd here
	mkdir /tmp/ssm-readme/shim
	cat >/tmp/ssm-readme/shim/systemctl <<'SHIM'
#!/bin/sh
# systemctl enable --now UNIT without systemd: what the installed unit file says
[ "$1 $2" = "enable --now" ] && [ $# = 3 ] || { echo "systemctl (test shim): only enable --now UNIT" >&2; exit 1; }
u=${3%.service}.service
f=
for d in /etc/systemd/system /usr/lib/systemd/system /lib/systemd/system; do
	[ -f "$d/$u" ] && { f=$d/$u; break; }
done
[ -n "$f" ] || { echo "Failed to enable unit: Unit file $u does not exist." >&2; exit 1; }
val() { sed -n "s/^$1=//p" "$f"; }
echo "systemctl (test shim): $u from $f"
for w in $(val WantedBy); do
	mkdir -p "/etc/systemd/system/$w.wants" && ln -sf "$f" "/etc/systemd/system/$w.wants/$u"
done
for c in $(val ConditionPathExists); do
	[ -e "$c" ] || { echo "  condition failed: $c (inactive)"; exit 0; }
done
mode=$(val RuntimeDirectoryMode); mode=${mode:-0755}
for r in $(val RuntimeDirectory); do
	echo "  RuntimeDirectory /run/$r $mode"; mkdir -p "/run/$r" && chmod "$mode" "/run/$r" || exit 1
done
set -f
val ExecStartPre | while read -r c; do
	echo "  ExecStartPre $c"
	case $c in -*) env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${c#-} ;; *) env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin $c || exit 1 ;; esac
done || exit 1
c=$(val ExecStart)
echo "  ExecStart $c"
mkdir -p /run/shim
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin setsid $c >"/run/shim/$u.log" 2>&1 </dev/null &
echo $! >"/run/shim/$u.pid"
sleep 1
kill -0 "$(cat "/run/shim/$u.pid")" 2>/dev/null || { echo "  $u exited:" >&2; cat "/run/shim/$u.log" >&2; exit 1; }
SHIM
	chmod 0755 /tmp/ssm-readme/shim/systemctl

	ssm_step() { printf '== step %s: %s\n' "$1" "$2"; }
	ssm_after() {
		sed 's/^/   | /' "$SSM_STEPS/$1.out"
		if [ "$2" = 0 ]; then ok "step $1 (exit 0)"; else bad "step $1: exit $2"; exit 1; fi
	}
	cd "$W" || exit 1
	export PATH=/tmp/ssm-readme/shim:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SSM_STEPS
	. /tmp/ssm-readme/steps.sh
	echo "== the README's steps ran: now what they did"

	# the login step: the one with ssh -p
	n=$(grep -n '^ssm_step [0-9]* .*ssh -p' /tmp/ssm-readme/steps.sh | tail -n 1 | sed 's/^[0-9]*:ssm_step \([0-9]*\) .*/\1/')
	check "the login (step $n) printed ssm-user: the session ran as the run-as user" \
		grep -qx 'ssm-user' "$SSM_STEPS/$n.out"
	A=/var/log/ssmsession/audit.jsonl
	ev() { grep "\"event\":\"$1\"" "$A" | grep '"sub":"bob"' | grep -q '"run_as":"ssm-user"'; }
	check "audit: session_start for bob as ssm-user, through the PAM service ssm-sshd" sh -c \
		"grep '\"event\":\"session_start\"' $A | grep '\"sub\":\"bob\"' | grep -q '\"service\":\"ssm-sshd\"'"
	check "audit: shell_start" ev shell_start
	check "audit: session_end" wait_for 5 ev session_end
	sid=$(grep '"event":"session_start"' "$A" | tail -n 1 | sed 's/.*"sid":"\([^"]*\)".*/\1/')
	check "the transcript sessions/$sid.cast: root's, 0640, holds the session's output" sh -c \
		'[ "$(stat -c %U:%a "$1")" = root:640 ] && grep -q "ssm-user" "$1"' _ \
		"/var/log/ssmsession/sessions/$sid.cast"
	check "ssm-verifyd is up (its socket in run_dir)" test -S /run/ssmsession/verifyd.sock
	check "ssm-verifyd judged the token (no 'cannot verify' in its log)" sh -c \
		'kill -0 "$(cat /run/shim/ssm-verifyd.service.pid)" && ! grep -q "cannot verify" /run/shim/ssm-verifyd.service.log'
	check "ssm-sshd still runs (the unit's ExecStart)" sh -c 'kill -0 "$(cat /run/shim/ssm-sshd.service.pid)"'
	# the same token again: a replay
	tok=$(broker/ssm-broker --policy broker/examples/policy.json --fleet broker/examples/fleet.json \
		start-session --user bob --target i-0123456789abcdef0 2>/dev/null)
	login() {
		echo whoami | SSM_TOKEN=$tok SSH_ASKPASS=/root/ssm-askpass SSH_ASKPASS_REQUIRE=force \
			timeout 30 ssh -p 2222 -o PreferredAuthentications=password \
			-o StrictHostKeyChecking=accept-new -o NumberOfPasswordPrompts=1 ssm-user@127.0.0.1 2>&1
	}
	out=$(login)
	check "a second token: logs in too" sh -c 'printf "%s\n" "$1" | grep -qx ssm-user' _ "$out"
	out=$(login)
	check "the same token again: refused, audited as a replay" sh -c \
		'printf "%s" "$1" | grep -q "Permission denied" &&
		tail -n 3 "$2" | grep "\"event\":\"login_denied\"" | grep -q "\"reason\":\"replay\""' _ "$out" "$A"
	if [ "$fails" != 0 ]; then
		echo "--- ssm-sshd"; tail -n 20 /run/shim/ssm-sshd.service.log
		echo "--- audit"; tail -n 8 "$A"
	fi
	echo "FAILED: $fails"
	exit
fi

# ---- in the new mount, pid and network namespaces: the overlay, then the chroot --------
if [ "${1:-}" = --namespace ]; then
	T=$2 srcdir=$3 build=$4
	set -e
	mount --make-rprivate /
	mount -t tmpfs -o mode=0700 ssm-readme-ovl "$T/ovl"
	mkdir "$T/ovl/upper" "$T/ovl/work" "$T/ovl/root"
	R=$T/ovl/root
	mount -t overlay ssm-readme-root -o "lowerdir=/,upperdir=$T/ovl/upper,workdir=$T/ovl/work" "$R"
	mount -t proc proc "$R/proc"
	mount --rbind /dev "$R/dev"
	mount -t tmpfs -o mode=0755 run "$R/run"
	# /tmp: the overlay's (private: its writes stay in the upper layer), so that a source
	# or build tree under the host's /tmp stays visible
	mkdir -m 0700 "$R/tmp/ssm-readme"
	cp "$0" "$R/tmp/ssm-readme/readme_deploy.sh"
	cp "$T/steps.sh" "$R/tmp/ssm-readme/steps.sh"
	set +e
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root TERM=dumb \
		chroot "$R" /bin/sh /tmp/ssm-readme/readme_deploy.sh --chrooted "$srcdir" "$build"
	exit
fi

# ---- outside -------------------------------------------------------------------------
srcdir=$(cd "${srcdir:-$(dirname "$0")/..}" && pwd)
builddir=$(pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (an overlay of / in private namespaces)"; exit 77; }
for p in unshare chroot sshd ssh add-shell systemd-tmpfiles useradd ip setsid; do
	command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] ||
		{ echo "SKIP: $p missing (tools/deps.sh)"; exit 77; }
done
/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null ||
	{ echo "SKIP: /usr/bin/python3 lacks python3-jwt (the development broker)"; exit 77; }
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
grep -qw overlay /proc/filesystems || { echo "SKIP: no overlayfs"; exit 77; }
unshare --mount --pid --net --fork true 2>/dev/null ||
	{ echo "SKIP: cannot make mount, pid and network namespaces"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/var/tmp}/ssm-readme.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
mkdir "$T/ovl"
start=$(date +%s)
# the steps; no markers or no sh block: the README drifted from its test
n=$(/usr/bin/python3 "$srcdir/tests/readme_steps.py" "$srcdir/README.md" "$T/steps.sh") ||
	{ echo "FAIL: README.md: no deployment steps to run"; exit 1; }
echo "README.md: $n commands in the deployment steps"

# this build dir if configured as the README says (and without sanitizers: sshd loads the module)
build=
if [ -f "$builddir/config.status" ]; then
	cfg=" $("$builddir/config.status" --config | tr -d "'") "
	build=$builddir
	for o in --prefix=/usr --sysconfdir=/etc --localstatedir=/var --runstatedir=/run; do
		case $cfg in *" $o "*) ;; *) build= ;; esac
	done
	case $cfg in *" --enable-sanitizers "*) build= ;; esac
fi
[ -n "$build" ] && echo "build dir: $build" ||
	echo "build dir: not configured with the README's paths: a private build in the overlay"

hostsnap() {
	getent passwd ssm-user ssmsession ssm-verifyd; getent group ssm-user ssmsession ssm-verifyd
	grep ssm-shell /etc/shells
	ls -la /etc/ssmsession /usr/bin/ssm-shell /usr/sbin/ssmctl /etc/pam.d /etc/ssh \
		/etc/systemd/system /lib/systemd/system/ssm-* /usr/lib/systemd/system/ssm-* \
		/var/log/ssmsession /var/lib/ssmsession /home 2>&1
	sha256sum /etc/passwd /etc/group /etc/shadow /etc/shells /etc/pam.d/* /etc/ssh/*_config 2>&1
	ls -la "$srcdir/broker/examples"
}
hostsnap >"$T/host.before"

unshare --mount --pid --net --fork --propagation private "$0" --namespace "$T" "$srcdir" "$build" |
	tee "$T/ns.out"
fails=$(sed -n 's/^FAILED: //p' "$T/ns.out")
fails=${fails:-1}
[ -n "$(sed -n 's/^FAILED: //p' "$T/ns.out")" ] || echo "FAIL: the steps did not all run"

hostsnap >"$T/host.after"
if cmp -s "$T/host.before" "$T/host.after"; then
	echo "ok: the real host: no file, user, shell, PAM service or unit of ours appeared"
else
	echo "FAIL: the real host changed"; diff "$T/host.before" "$T/host.after"; fails=$((fails + 1))
fi
echo "readme_deploy: $(grep -c '^ok:' "$T/ns.out") checks passed in the overlay, $fails failed, $(($(date +%s) - start)) s"
[ "$fails" = 0 ]
