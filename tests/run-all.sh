#!/bin/sh
# The whole test suite, from scratch: dependencies, a -Werror build with `make check`,
# the same under ASan+UBSan, ssm-shell's tests built without libselinux, bounded libFuzzer runs, `make distcheck` and the Debian package.
# Run as root on Debian 12 for the root-only tests (they skip with 77 otherwise).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ "$(id -u)" = 0 ]; then tools/deps.sh; fi
./autogen.sh >/dev/null 2>&1
jobs=$(nproc 2>/dev/null || echo 2)
summary=""
fail=0

run_check() { # name builddir configure-args...
	name=$1; dir=$2; shift 2
	rm -rf "$dir"; mkdir -p "$dir"
	echo "== $name: configure $*"
	(cd "$dir" && "$top/configure" "$@" >configure.out 2>&1) || { cat "$dir/configure.out"; return 1; }
	(cd "$dir" && make -j"$jobs" >make.out 2>&1) || { tail -40 "$dir/make.out"; return 1; }
	echo "== $name: make check"
	rc=0
	(cd "$dir" && make -j"$jobs" check >check.out 2>&1) || rc=1
	grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' "$dir/check.out" || true
	if [ $rc != 0 ]; then
		for l in $(find "$dir/tests" -name '*.log' ! -name test-suite.log); do
			if grep -q -E '^:test-result: (FAIL|ERROR)' "${l%.log}.trs" 2>/dev/null; then
				echo "--- $l"; tail -60 "$l"
			fi
		done
	fi
	p=$(sed -n 's/^# PASS: *//p' "$dir/test-suite.log" 2>/dev/null | head -1)
	f=$(sed -n 's/^# FAIL: *//p' "$dir/test-suite.log" 2>/dev/null | head -1)
	e=$(sed -n 's/^# ERROR: *//p' "$dir/test-suite.log" 2>/dev/null | head -1)
	s=$(sed -n 's/^# SKIP: *//p' "$dir/test-suite.log" 2>/dev/null | head -1)
	PASSED=$((PASSED + ${p:-0})); FAILED=$((FAILED + ${f:-0} + ${e:-0})); SKIPPED=$((SKIPPED + ${s:-0}))
	return $rc
}
PASSED=0; FAILED=0; SKIPPED=0

# libselinux required in the two main builds (ssm-shell's recorder domain: on this
# SELinux-disabled machine the "disabled, go on" path), and a third build without it
run_check "werror" build-werror --enable-werror --with-selinux || fail=1
run_check "sanitizers" build-asan --enable-werror --enable-sanitizers --with-selinux || fail=1

echo "== without-selinux: configure --enable-werror --without-selinux; ssm-shell's tests"
rm -rf build-noselinux; mkdir -p build-noselinux
if (cd build-noselinux && "$top/configure" --enable-werror --without-selinux >configure.out 2>&1 &&
	make -j"$jobs" >make.out 2>&1) &&
	! ldd build-noselinux/ssm-shell/.libs/ssm-shell build-noselinux/ssm-shell/ssm-shell 2>/dev/null |
		grep -q libselinux &&
	ldd build-werror/ssm-shell/.libs/ssm-shell build-werror/ssm-shell/ssm-shell 2>/dev/null |
		grep -q libselinux &&
	(cd build-noselinux && make -j"$jobs" check TESTS="tests/shell_session.sh \
		tests/shell_limits.sh tests/shell_commands.sh tests/shell_hardening.sh \
		tests/shell_recording.sh tests/shell_seccomp.sh tests/shell_escapes.sh \
		tests/test_secontext" >check.out 2>&1); then
	grep -E '^(PASS|FAIL|SKIP):' build-noselinux/check.out || true
	PASSED=$((PASSED + 1))
else
	tail -40 build-noselinux/check.out 2>/dev/null || tail -40 build-noselinux/make.out
	FAILED=$((FAILED + 1)); fail=1
fi

if [ -x tests/fuzz/run.sh ]; then
	echo "== fuzz: bounded libFuzzer runs"
	if tests/fuzz/run.sh "$top/build-fuzz"; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fail=1; fi
fi

if [ "${SSM_SKIP_DISTCHECK:-0}" != 1 ]; then
	echo "== distcheck"
	if (cd build-werror && make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >distcheck.out 2>&1); then
		PASSED=$((PASSED + 1))
	else
		tail -40 build-werror/distcheck.out; FAILED=$((FAILED + 1)); fail=1
	fi
fi
# the Debian package: built, linted, installed, upgraded, removed and purged in an overlay
# namespace (root; skips with 77 otherwise).  A minute or two: SSM_SKIP_DEB=1 leaves it out.
if [ "${SSM_SKIP_DEB:-0}" != 1 ]; then
	echo "== deb: tests/deb_package.sh"
	rc=0
	tests/deb_package.sh >build-werror/deb_package.out 2>&1 || rc=$?
	case $rc in
	0) PASSED=$((PASSED + 1)); tail -2 build-werror/deb_package.out ;;
	77) SKIPPED=$((SKIPPED + 1)); grep "^SKIP" build-werror/deb_package.out || true ;;
	*) grep -E "^FAIL" build-werror/deb_package.out || true; tail -40 build-werror/deb_package.out; FAILED=$((FAILED + 1)); fail=1 ;;
	esac
fi
echo "ssmsession: $PASSED passed, $FAILED failed, $SKIPPED skipped"
exit $fail
