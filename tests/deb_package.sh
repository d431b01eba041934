#!/bin/sh
# deb_package.sh - the Debian packages (debian/, issue 9 point 1), built and exercised:
#  - `dpkg-buildpackage -b -us -uc` on a copy of the committed tree (git archive HEAD, or
#    the tree SSM_DEB_SRC names), lintian --fail-on error,warning on the result;
#  - a second build of the same tree as a later version (the upgrade);
#  - in a private mount and pid namespace, an overlay on / (upper layer on a tmpfs of the
#    namespace, so nothing reaches the real /), chrooted: install, upgrade, remove and purge,
#    checking after each: files and modes, ssm-shell setuid through dpkg-statoverride and in
#    /etc/shells, the system users, the state directories, conffiles, which units are
#    enabled (ssm-verifyd and the sudo expiry timer; ssm-sshd never), the host's PAM and
#    sshd configuration unchanged, and after purge nothing the installation made is left;
#  - the real host: no package, user, shell or statoverride of ours appeared.
# Root, dpkg-buildpackage, debhelper, lintian, unshare and overlayfs, or it skips (77).
# Not in `make check` (it takes a minute or two): tests/run-all.sh runs it after distcheck.
set -u

# ---- inside the chroot (the overlay): the package's life, with checks -----------------------
if [ "${1:-}" = --chrooted ]; then
	debs=$2
	fails=0
	ok() { echo "ok: $*"; }
	bad() { fails=$((fails + 1)); echo "FAIL: $*"; }
	check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi; }
	# the host's login paths and accounts: these must never change
	HOSTCFG="/etc/pam.d/sshd /etc/pam.d/common-auth /etc/pam.d/common-account
		/etc/pam.d/common-session /etc/pam.d/common-password /etc/pam.d/login
		/etc/ssh/sshd_config"
	hostcfg() {
		for f in $HOSTCFG /etc/ssh/sshd_config.d/*; do
			[ -e "$f" ] && sha256sum "$f"
		done
		ls /usr/share/pam-configs 2>/dev/null
	}
	# ACCOUNTS: what install may change and purge must restore
	accounts() { cat /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/shells; dpkg-statoverride --list; }
	# what the package may leave: only dpkg's own bookkeeping (and adduser's lock file)
	tree() {
		find /etc /lib /usr /var/lib /var/log /run -xdev 2>/dev/null |
			grep -vE '^/var/lib/dpkg/|^/var/log/(dpkg|alternatives)\.log|^/etc/(passwd|group|shadow|gshadow|shells)-$|^/var/cache/' |
			grep -vE '^/var/lib/systemd/deb-systemd-helper-(enabled|masked)$|^/run/adduser$' | sort
	}
	export DEBIAN_FRONTEND=noninteractive
	SH=/usr/bin/ssm-shell
	MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
	PAMDIR=/lib/$MA/security

	# a fresh host as far as ssmsession goes (only in this overlay)
	for u in ssmsession ssm-verifyd; do
		getent passwd "$u" >/dev/null && userdel "$u"
		getent group "$u" >/dev/null && groupdel "$u"
	done
	remove-shell "$SH" 2>/dev/null
	dpkg-statoverride --list "$SH" >/dev/null 2>&1 && dpkg-statoverride --remove "$SH"
	rm -rf /etc/ssmsession /var/lib/ssmsession /var/log/ssmsession /run/ssmsession \
		/etc/pam.d/ssm-sshd /etc/ssh/ssm-sshd_config /etc/logrotate.d/ssmsession
	hostcfg >/tmp/hostcfg.before
	accounts >/tmp/accounts.before
	tree >/tmp/tree.before

	# ---- install
	v1=$(ls "$debs"/v1/ssmsession-host_*.deb)
	v2=$(ls "$debs"/v2/ssmsession-host_*.deb)
	if dpkg -i "$v1" >/tmp/dpkg.out 2>&1; then ok "install: dpkg -i $(basename "$v1")"; else
		bad "install: dpkg -i"; cat /tmp/dpkg.out; echo "FAILED: $fails"; exit 1; fi
	check "install: status installed" sh -c "dpkg-query -W -f='\${Status}' ssmsession-host | grep -qx 'install ok installed'"
	for f in /usr/sbin/ssmctl /usr/sbin/ssm-verifyd "$PAMDIR/pam_ssmsession.so" \
		/usr/lib/$MA/ssmsession/ssm-verify.so /lib/systemd/system/ssm-verifyd.service \
		/lib/systemd/system/ssm-sshd.service /lib/systemd/system/ssmctl-sudo-expire.timer \
		/lib/systemd/system/ssmctl-sudo-expire.service /usr/lib/tmpfiles.d/ssmsession.conf \
		/etc/logrotate.d/ssmsession /etc/pam.d/ssm-sshd /etc/ssh/ssm-sshd_config \
		/etc/ssmsession/ssmsession.json.example /usr/share/man/man8/pam_ssmsession.8.gz; do
		check "install: $f" test -f "$f"
	done
	check "install: /usr/libexec/ssmsession/ssm-sshd -> sshd" \
		sh -c 'readlink -f /usr/libexec/ssmsession/ssm-sshd | grep -q "/sbin/sshd$"'
	check "install: the PAM module beside pam_unix.so ($PAMDIR)" test -f "$PAMDIR/pam_unix.so"
	check "install: ssm-shell root:root 4755" sh -c "[ \"\$(stat -c '%U:%G %a' $SH)\" = 'root:root 4755' ]"
	check "install: statoverride root root 4755" sh -c "[ \"\$(dpkg-statoverride --list $SH)\" = 'root root 4755 $SH' ]"
	check "install: ssm-shell in /etc/shells, once" sh -c "[ \$(grep -cx $SH /etc/shells) = 1 ]"
	for u in ssmsession ssm-verifyd; do
		check "install: system user $u (uid < 1000, home /nonexistent, nologin, own group)" sh -c "
			e=\$(getent passwd $u) && uid=\$(echo \"\$e\" | cut -d: -f3) && [ \$uid -lt 1000 ] &&
			[ \"\$(echo \"\$e\" | cut -d: -f6-)\" = /nonexistent:/usr/sbin/nologin ] &&
			[ \"\$(id -gn $u)\" = $u ] && [ ! -e /nonexistent ]"
	done
	check "install: ssmctl runs" /usr/sbin/ssmctl --version
	check "install: state dirs (tmpfiles): /var/lib/ssmsession 755, replay 700, /run/ssmsession 755, /var/log/ssmsession 750" \
		sh -c "[ \"\$(stat -c %a /var/lib/ssmsession /var/lib/ssmsession/replay /run/ssmsession /var/log/ssmsession /var/log/ssmsession/sessions | tr '\n' ' ')\" = '755 700 755 750 750 ' ]"
	check "install: conffiles pam.d/ssm-sshd, ssh/ssm-sshd_config, logrotate, example" sh -c "
		c=\$(dpkg-query -W -f='\${Conffiles}' ssmsession-host) &&
		for f in /etc/pam.d/ssm-sshd /etc/ssh/ssm-sshd_config /etc/logrotate.d/ssmsession \
			/etc/ssmsession/ssmsession.json.example; do echo \"\$c\" | grep -q \" \$f \" || exit 1; done"
	W=/etc/systemd/system
	check "install: ssm-verifyd.service enabled" test -L $W/multi-user.target.wants/ssm-verifyd.service
	check "install: ssmctl-sudo-expire.timer enabled" test -L $W/timers.target.wants/ssmctl-sudo-expire.timer
	check "install: ssm-sshd.service NOT enabled" sh -c "! find $W -name ssm-sshd.service | grep -q ."
	hostcfg >/tmp/hostcfg.now
	check "install: /etc/pam.d/{sshd,common-*,login}, sshd_config(.d), pam-configs unchanged" \
		cmp /tmp/hostcfg.before /tmp/hostcfg.now
	check "install: nothing in /etc/pam.d/sshd or common-* names pam_ssmsession" \
		sh -c "! grep -l pam_ssmsession /etc/pam.d/sshd /etc/pam.d/common-* /etc/ssh/sshd_config"

	# ---- what an administrator does afterwards (purge must keep theirs, drop the package's)
	echo "# admin edit" >>/etc/ssh/ssm-sshd_config
	cp /etc/ssmsession/ssmsession.json.example /etc/ssmsession/ssmsession.json
	echo '{"event":"test"}' >/var/log/ssmsession/audit.jsonl
	uid1=$(id -u ssmsession)

	# ---- upgrade
	if dpkg -i "$v2" >/tmp/dpkg.out 2>&1; then ok "upgrade: dpkg -i $(basename "$v2")"; else
		bad "upgrade: dpkg -i"; cat /tmp/dpkg.out; fi
	ver2=$(dpkg-deb -f "$v2" Version)
	check "upgrade: version $ver2 installed" sh -c "[ \"\$(dpkg-query -W -f='\${Version} \${Status}' ssmsession-host)\" = '$ver2 install ok installed' ]"
	check "upgrade: ssm-shell still root:root 4755" sh -c "[ \"\$(stat -c '%U:%G %a' $SH)\" = 'root:root 4755' ]"
	check "upgrade: ssm-shell in /etc/shells, once" sh -c "[ \$(grep -cx $SH /etc/shells) = 1 ]"
	check "upgrade: user ssmsession kept (same uid)" sh -c "[ \$(id -u ssmsession) = $uid1 ]"
	check "upgrade: edited conffile kept" grep -qx "# admin edit" /etc/ssh/ssm-sshd_config
	check "upgrade: no .dpkg-dist/.dpkg-new left" sh -c "! find /etc -name '*.dpkg-*' | grep -q ."
	check "upgrade: audit log kept" test -s /var/log/ssmsession/audit.jsonl
	check "upgrade: ssm-sshd.service still not enabled" sh -c "! find $W -name ssm-sshd.service | grep -q ."
	hostcfg >/tmp/hostcfg.now
	check "upgrade: host PAM stacks and sshd_config unchanged" cmp /tmp/hostcfg.before /tmp/hostcfg.now

	# ---- remove
	if dpkg -r ssmsession-host >/tmp/dpkg.out 2>&1; then ok "remove: dpkg -r"; else
		bad "remove: dpkg -r"; cat /tmp/dpkg.out; fi
	check "remove: status config-files" sh -c "[ \"\$(dpkg-query -W -f='\${Status}' ssmsession-host)\" = 'deinstall ok config-files' ]"
	for f in $SH /usr/sbin/ssmctl /usr/sbin/ssm-verifyd "$PAMDIR/pam_ssmsession.so" \
		/lib/systemd/system/ssm-verifyd.service /usr/lib/tmpfiles.d/ssmsession.conf; do
		check "remove: $f gone" test ! -e "$f"
	done
	check "remove: ssm-shell out of /etc/shells" sh -c "! grep -qx $SH /etc/shells"
	for f in /etc/pam.d/ssm-sshd /etc/ssh/ssm-sshd_config /etc/logrotate.d/ssmsession; do
		check "remove: conffile $f kept" test -f "$f"
	done
	check "remove: users kept" sh -c "getent passwd ssmsession && getent passwd ssm-verifyd"
	check "remove: state and logs kept" test -s /var/log/ssmsession/audit.jsonl

	# ---- purge
	if dpkg -P ssmsession-host >/tmp/dpkg.out 2>&1; then ok "purge: dpkg -P"; else
		bad "purge: dpkg -P"; cat /tmp/dpkg.out; fi
	check "purge: not known to dpkg" sh -c "! dpkg-query -W ssmsession-host"
	for f in /etc/pam.d/ssm-sshd /etc/ssh/ssm-sshd_config /etc/logrotate.d/ssmsession \
		/etc/ssmsession/ssmsession.json.example /var/lib/ssmsession /var/log/ssmsession \
		/run/ssmsession; do
		check "purge: $f gone" test ! -e "$f"
	done
	for u in ssmsession ssm-verifyd; do
		check "purge: user and group $u gone" sh -c "! getent passwd $u && ! getent group $u"
	done
	check "purge: statoverride gone" sh -c "! dpkg-statoverride --list $SH"
	check "purge: no unit links left" sh -c "! find /etc/systemd -name 'ssm*' | grep -q ."
	check "purge: the administrator's ssmsession.json kept" test -f /etc/ssmsession/ssmsession.json
	rm -rf /etc/ssmsession

	# ---- an administrator's own statoverride (ssm-shell not setuid): kept, never removed
	dpkg-statoverride --add root root 0755 "$SH"
	if dpkg -i "$v2" >/tmp/dpkg.out 2>&1; then ok "admin override: install"; else
		bad "admin override: install"; cat /tmp/dpkg.out; fi
	check "admin override: ssm-shell installed 0755, as the administrator said" \
		sh -c "[ \"\$(stat -c '%U:%G %a' $SH)\" = 'root:root 755' ]"
	if dpkg -P ssmsession-host >/tmp/dpkg.out 2>&1; then ok "admin override: purge"; else
		bad "admin override: purge"; cat /tmp/dpkg.out; fi
	check "admin override: still root root 0755 after purge" \
		sh -c "dpkg-statoverride --list $SH | grep -qxE 'root root 0?755 $SH'"
	dpkg-statoverride --remove "$SH"

	# ---- the broker's package: its user, unit (not enabled), options file; purge
	b1=$(ls "$debs"/v1/ssmsession-broker_*.deb)
	b2=$(ls "$debs"/v2/ssmsession-broker_*.deb)
	if dpkg -i "$b1" >/tmp/dpkg.out 2>&1; then ok "broker: dpkg -i $(basename "$b1")"; else
		bad "broker: dpkg -i"; cat /tmp/dpkg.out; fi
	check "broker: system user ssm-broker (uid < 1000, nologin, own group)" sh -c "
		e=\$(getent passwd ssm-broker) && [ \$(echo \"\$e\" | cut -d: -f3) -lt 1000 ] &&
		[ \"\$(echo \"\$e\" | cut -d: -f6-)\" = /nonexistent:/usr/sbin/nologin ] &&
		[ \"\$(id -gn ssm-broker)\" = ssm-broker ]"
	check "broker: /lib/systemd/system/ssm-broker.service runs ssm-broker serve as ssm-broker" sh -c "
		grep -qx 'User=ssm-broker' /lib/systemd/system/ssm-broker.service &&
		grep -q '^ExecStart=/usr/sbin/ssm-broker serve --state-dir /var/lib/ssm-broker ' /lib/systemd/system/ssm-broker.service"
	if command -v systemd-analyze >/dev/null 2>&1; then
		[ -e /run/systemd ] && had_run_systemd=1 || had_run_systemd=
		check "broker: systemd-analyze verify ssm-broker.service" sh -c \
			"systemd-analyze verify /lib/systemd/system/ssm-broker.service 2>&1 | grep -v -e \"Command 'man \" -e '^\$' | grep -q . && exit 1; exit 0"
		[ -n "$had_run_systemd" ] || rm -rf /run/systemd # what systemd-analyze made
	fi
	check "broker: /etc/default/ssm-broker is a conffile" sh -c \
		"dpkg-query -W -f='\${Conffiles}' ssmsession-broker | grep -q ' /etc/default/ssm-broker '"
	check "broker: ssm-broker.service NOT enabled" sh -c "! find $W -name ssm-broker.service | grep -q ."
	check "broker: ssm-broker --help runs" sh -c "/usr/sbin/ssm-broker --help 2>&1 | grep -q serve"
	mkdir -p /var/lib/ssm-broker && echo state >/var/lib/ssm-broker/broker.db
	if dpkg -i "$b2" >/tmp/dpkg.out 2>&1; then ok "broker: upgrade"; else
		bad "broker: upgrade"; cat /tmp/dpkg.out; fi
	check "broker: upgrade keeps the state" test -s /var/lib/ssm-broker/broker.db
	if dpkg -P ssmsession-broker >/tmp/dpkg.out 2>&1; then ok "broker: purge"; else
		bad "broker: purge"; cat /tmp/dpkg.out; fi
	check "broker: purge removes the user, the state and the options file" sh -c \
		"! getent passwd ssm-broker && ! getent group ssm-broker && [ ! -e /var/lib/ssm-broker ] && [ ! -e /etc/default/ssm-broker ]"
	accounts >/tmp/accounts.now
	if cmp -s /tmp/accounts.before /tmp/accounts.now; then
		ok "purge: passwd, group, shadow, gshadow, shells, statoverrides as before install"
	else
		bad "purge: accounts differ from before install"; diff /tmp/accounts.before /tmp/accounts.now
	fi
	tree >/tmp/tree.now
	if cmp -s /tmp/tree.before /tmp/tree.now; then
		ok "purge: /etc /lib /usr /var/lib /var/log /run as before install"
	else
		bad "purge: files left or lost"; diff /tmp/tree.before /tmp/tree.now | head -40
	fi
	hostcfg >/tmp/hostcfg.now
	check "purge: host PAM stacks and sshd_config unchanged" cmp /tmp/hostcfg.before /tmp/hostcfg.now
	echo "FAILED: $fails"
	[ "$fails" = 0 ]
	exit
fi

# ---- in the new mount and pid namespace: the overlay, then the chroot -----------------------
if [ "${1:-}" = --namespace ]; then
	T=$2
	set -e
	mount --make-rprivate /
	mount -t tmpfs -o mode=0700 ssm-deb-ovl "$T/ovl"
	mkdir "$T/ovl/upper" "$T/ovl/work" "$T/ovl/root"
	R=$T/ovl/root
	mount -t overlay ssm-deb-root -o "lowerdir=/,upperdir=$T/ovl/upper,workdir=$T/ovl/work" "$R"
	mount -t proc proc "$R/proc"
	mount --rbind /dev "$R/dev"
	mount -t tmpfs -o mode=0755 run "$R/run"
	mount -t tmpfs -o mode=1777 tmp "$R/tmp"
	mkdir "$R/tmp/debs"
	mount --bind "$T/debs" "$R/tmp/debs"
	cp "$0" "$R/tmp/deb_package.sh"
	set +e
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
		chroot "$R" /bin/sh /tmp/deb_package.sh --chrooted /tmp/debs
	exit
fi

# ---- outside: build, lint, then the namespace ------------------------------------------------
srcdir=${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (dpkg in an overlay namespace)"; exit 77; }
for p in dpkg-buildpackage dh lintian unshare git; do
	command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p missing (tools/deps.sh)"; exit 77; }
done
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
grep -qw overlay /proc/filesystems || { echo "SKIP: no overlayfs"; exit 77; }
if [ -z "${SSM_DEB_SRC:-}" ]; then
	git -C "$srcdir" rev-parse HEAD >/dev/null 2>&1 || { echo "SKIP: not a git checkout"; exit 77; }
fi

T=$(mktemp -d "${TMPDIR:-/var/tmp}/ssm-deb.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { fails=$((fails + 1)); echo "FAIL: $*"; }
start=$(date +%s)

# the host, before: none of this may change
hostsnap() {
	dpkg-query -W -f='${Status}\n' ssmsession-host 2>&1
	getent passwd ssmsession ssm-verifyd; getent group ssmsession ssm-verifyd
	grep -c ssm-shell /etc/shells
	dpkg-statoverride --list /usr/bin/ssm-shell
	ls -l /usr/bin/ssm-shell /etc/ssmsession /lib/*/security/pam_ssmsession.so \
		/etc/pam.d/ssm-sshd /etc/systemd/system/*/ssm-verifyd.service 2>&1
	sha256sum /etc/pam.d/sshd /etc/ssh/sshd_config 2>&1
}
hostsnap >"$T/host.before"

# the committed tree (git archive HEAD: what a clean clone builds, whatever else is being
# edited in the work tree), or SSM_DEB_SRC, a source tree to copy instead
mkdir -p "$T/src/x" "$T/debs/v1" "$T/debs/v2" "$T/ovl"
if [ -n "${SSM_DEB_SRC:-}" ]; then
	(cd "$SSM_DEB_SRC" && tar -cf - .) | tar -xf - -C "$T/src/x"
else
	(cd "$srcdir" && git archive --format=tar HEAD) | tar -xf - -C "$T/src/x"
fi
[ -f "$T/src/x/debian/changelog" ] || { echo "SKIP: no debian/ in the tree"; exit 77; }
version=$(dpkg-parsechangelog -l "$T/src/x/debian/changelog" -S Version)
src=$T/src/ssmsession-$version
mv "$T/src/x" "$src"
(cd "$src" && dpkg-checkbuilddeps) || { echo "SKIP: build dependencies missing (tools/deps.sh)"; exit 77; }
echo "building $version in $src"
if (cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$T/build1.log" 2>&1); then
	ok "dpkg-buildpackage -b -us -uc ($version, $(($(date +%s) - start)) s)"
else
	bad "dpkg-buildpackage"; tail -40 "$T/build1.log"; exit 1
fi
mv "$T"/src/*.deb "$T"/src/*.changes "$T"/src/*.buildinfo "$T/debs/v1/"
echo "packages: $(cd "$T/debs/v1" && ls *.deb | tr '\n' ' ')"
if dpkg -c "$T"/debs/v1/ssmsession-broker_*.deb 2>/dev/null | grep -q ' ./usr/sbin/ssm-broker$'; then
	ok "ssmsession-broker holds /usr/sbin/ssm-broker"
else
	bad "ssmsession-broker holds /usr/sbin/ssm-broker"
fi
if dpkg -c "$T"/debs/v1/ssmsession-client_*.deb 2>/dev/null | grep -q ' ./usr/bin/ssm$'; then
	ok "ssmsession-client holds /usr/bin/ssm"
else
	bad "ssmsession-client holds /usr/bin/ssm"
fi
if dpkg -c "$T"/debs/v1/ssmsession-host_*.deb | grep -qE 'ssm-broker|/usr/bin/ssm$'; then
	bad "ssmsession-host holds no broker or client file"
else
	ok "ssmsession-host holds no broker or client file"
fi
if lintian --fail-on error,warning "$T"/debs/v1/*.changes >"$T/lintian.out" 2>&1; then
	ok "lintian --fail-on error,warning: $(grep -c '^[EW]:' "$T/lintian.out") errors and warnings"
else
	bad "lintian"; cat "$T/lintian.out"
fi
# the same tree as the next version: only the changelog differs (binary-only rebuild)
v2=$version+debtest1
(cd "$src" && {
	printf 'ssmsession (%s) unstable; urgency=medium\n\n  * Upgrade test build.\n\n -- %s  %s\n\n' \
		"$v2" "$(dpkg-parsechangelog -S Maintainer)" "$(date -R)"
	cat debian/changelog
} >"$T/changelog" && mv "$T/changelog" debian/changelog)
if (cd "$src" && dpkg-buildpackage -b -us -uc -nc >"$T/build2.log" 2>&1); then
	ok "dpkg-buildpackage of $v2"
else
	bad "dpkg-buildpackage of $v2"; tail -40 "$T/build2.log"; exit 1
fi
mv "$T"/src/*.deb "$T"/src/*.changes "$T"/src/*.buildinfo "$T/debs/v2/"

unshare --mount --pid --fork --propagation private "$0" --namespace "$T" | tee "$T/ns.out"
n=$(sed -n 's/^FAILED: //p' "$T/ns.out")
[ "${n:-x}" = 0 ] || fails=$((fails + ${n:-1}))

hostsnap >"$T/host.after"
if cmp -s "$T/host.before" "$T/host.after"; then
	ok "the real host: no package, user, shell, statoverride, file or unit of ours appeared"
else
	bad "the real host changed"; diff "$T/host.before" "$T/host.after"
fi
echo "$(grep -c '^ok:' "$T/ns.out") checks in the overlay; $(($(date +%s) - start)) s in all"
[ "$fails" = 0 ] && echo "PASS" || echo "FAILED: $fails"
[ "$fails" = 0 ]
