#!/bin/bash
# run.sh BUILDDIR - build the libFuzzer targets with clang and run each for a while.
#
#   BUILDDIR                 build directory (created; configured with CC=clang
#                            --enable-fuzzing unless it already is)
#   SSM_FUZZ_SECONDS         seconds per target (default 30)
#   SSM_FUZZ_TARGETS         optional space-separated subset, e.g. "fuzz_json fuzz_jwks"
#
# Every tests/fuzz/fuzz_* program the build produced is run (targets added to the FUZZING
# block of Makefile.am are picked up by themselves).  Seeds come from
# tests/fuzz/corpus/NAME/ (NAME without the fuzz_ prefix, or the full program name); new
# inputs go to BUILDDIR/fuzz-corpus/NAME, never into the source tree, and crash inputs to
# BUILDDIR/fuzz-artifacts/.  One line per target; exit 1 if any target crashed, 2 if the
# build failed (targets that did build are still run).
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILDDIR" >&2
	exit 2
fi
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$1
seconds=${SSM_FUZZ_SECONDS:-30}
case $seconds in
'' | *[!0-9]*)
	echo "SSM_FUZZ_SECONDS must be a number of seconds" >&2
	exit 2
	;;
esac

mkdir -p "$builddir" || exit 2
builddir=$(cd "$builddir" && pwd)

if ! command -v clang >/dev/null; then
	echo "clang not found: apt-get install clang libclang-rt-14-dev" >&2
	exit 2
fi
if [ ! -f "$srcdir/configure" ]; then
	echo "no configure script in $srcdir: run autoreconf -fi first" >&2
	exit 2
fi
if [ ! -f "$builddir/Makefile" ] || ! grep -q -- '--enable-fuzzing' "$builddir/config.status" 2>/dev/null; then
	echo "configuring $builddir (CC=clang --enable-fuzzing)"
	(cd "$builddir" && CC=clang "$srcdir/configure" --enable-fuzzing >configure.out 2>&1) || {
		echo "configure failed, see $builddir/configure.out" >&2
		tail -n 20 "$builddir/configure.out" >&2
		exit 2
	}
fi
echo "building in $builddir"
build_failed=0
if ! make -k -C "$builddir" -j"$(nproc)" >"$builddir/make.out" 2>&1; then
	# keep going with the targets that did build, but fail at the end
	build_failed=1
	echo "build failed (continuing with what was built), see $builddir/make.out" >&2
	grep -E '\*\*\*|error:' "$builddir/make.out" | head -n 10 | sed 's/^/    /' >&2
fi

targets=()
for f in "$builddir"/tests/fuzz/fuzz_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	case $f in *.o | *.c | *.log | *.trs) continue ;; esac
	name=${f##*/}
	if [ -n "${SSM_FUZZ_TARGETS:-}" ]; then
		case " $SSM_FUZZ_TARGETS " in *" $name "*) ;; *) continue ;; esac
	fi
	targets+=("$f")
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "no fuzz_* programs built in $builddir/tests/fuzz" >&2
	exit 2
fi

mkdir -p "$builddir/fuzz-artifacts" "$builddir/fuzz-logs"
failed=0
for f in "${targets[@]}"; do
	name=${f##*/}
	short=${name#fuzz_}
	work="$builddir/fuzz-corpus/$short"
	mkdir -p "$work"
	seeds=()
	for d in "$srcdir/tests/fuzz/corpus/$short" "$srcdir/tests/fuzz/corpus/$name"; do
		[ -d "$d" ] && seeds+=("$d")
	done
	log="$builddir/fuzz-logs/$name.log"
	# leaks count as failures too (libFuzzer's -detect_leaks default)
	ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$f" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$builddir/fuzz-artifacts/$name-" \
		"$work" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -n 1 | grep -Eo '[0-9]+')
	if [ $rc -eq 0 ]; then
		echo "$name: ok, ${runs:-?} runs in ${seconds}s, corpus $(ls "$work" | wc -l) inputs (seeds: ${#seeds[@]} dir)"
	else
		failed=1
		art=$(grep -Eo "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
		echo "$name: FAILED (exit $rc) ${art:+input $art, }log $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 3 | sed 's/^/    /'
	fi
done
[ $build_failed -eq 0 ] || exit 2
exit $failed
