#!/bin/sh
# Install what ssmsession needs to build, test and demo on Debian 12 (run as root).
set -eu
PKGS="build-essential autoconf automake autoconf-archive libtool pkg-config
libpam0g-dev libssl-dev libcjson-dev libseccomp-dev libselinux1-dev libwebsockets-dev libsqlite3-dev libpcre2-dev nettle-dev libcrypt-dev
pamtester libpam-wrapper libpamtest0-dev python3 python3-jwt python3-cryptography
asciinema tmux expect openssh-server openssh-client sudo tlog util-linux iproute2 curl nftables
clang libclang-rt-14-dev hyperfine gdb procps openssl
debhelper lintian
selinux-policy-dev setools semodule-utils checkpolicy policycoreutils selinux-utils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# tests/selinux_policy.sh links selinux/ with Debian's default policy: the package file only,
# never installed (its postinst would build a policy store under /etc/selinux)
pold=/var/cache/ssmsession-deps
if ! ls "$pold"/selinux-policy-default_*.deb >/dev/null 2>&1; then
	mkdir -p "$pold"
	(cd "$pold" && apt-get download -qq selinux-policy-default 2>/dev/null) ||
		echo "note: cannot download selinux-policy-default: tests/selinux_policy.sh will skip"
fi
