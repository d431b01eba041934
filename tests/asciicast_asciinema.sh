#!/bin/sh
# asciicast_asciinema.sh - what the recorder writes, the real asciinema reads back exactly.
# tests/rec_tool records known bytes (UTF-8 text, colours, escapes, CR/LF, quotes, cut into
# random reads) into a .cast through the file sink; then `asciinema cat` must print exactly
# the original bytes, `asciinema play` must replay them, the reported size and sha256 must
# be those of the file, invalid UTF-8 must come back as U+FFFD exactly as Python's decoder
# ("maximal subpart") replaces it, and a capped recording must still be readable.
# asciinema needs a terminal (/dev/tty): it runs in a pty, its stdout into a file.
set -u
builddir=${builddir:-.}
tool=$builddir/tests/rec_tool
if ! command -v asciinema >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: asciinema or python3 not installed"
	exit 77
fi
if [ ! -x "$tool" ]; then
	echo "FAIL: $tool not built"
	exit 1
fi
export LC_ALL=C.UTF-8 PYTHONIOENCODING=utf-8 TERM=xterm
tmp=$(mktemp -d /tmp/asciicast_asciinema.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# in a pty, stdout to $1: inpty OUT CMD...
inpty() {
	python3 - "$@" <<'PY'
import os, pty, sys
out, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    f = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(f, 1)
    os.execvp(argv[0], argv)
while True:
    try:
        d = os.read(fd, 65536)
    except OSError:
        break
    if not d:
        break
    sys.stderr.buffer.write(d)
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
PY
}

# the known bytes: text with colours, cursor movement, CR/LF, tabs, quotes, backslashes,
# 2-, 3- and 4-byte UTF-8, NUL-free; repeated so that events split lines and sequences
python3 - "$tmp/in" <<'PY'
import sys
unit = ("\x1b[1;32muser@host\x1b[0m:\x1b[01;34m~/d\x1b[0m$ ls -l\r\n"
        "total 8\r\n-rw-r--r-- 1 root root \"quoted\" back\\slash\ttab\r\n"
        "Grüße, 世界! Привет – ça va? 😀🎉 \u2028\x07\x08\x7f\x1b]0;title\x07\r"
        "\x1b[2J\x1b[H\x1b[?1049h\x1b[38;5;208mcolour\x1b[m\n")
data = "".join(unit + str(i) + "\r\n" for i in range(3000)).encode()
open(sys.argv[1], "wb").write(data)
PY
echo "input: $(wc -c <"$tmp/in") bytes"

for seed in 1 7 42; do
	cast=$tmp/s$seed.cast
	out=$("$tool" -s "$seed" -r 100x30 "$cast" <"$tmp/in") || { bad "rec_tool seed $seed"; continue; }
	want="$(wc -c <"$cast" | tr -d ' ') $(sha256sum "$cast" | cut -d' ' -f1)"
	[ "$out" = "$want" ] && ok "seed $seed: size and sha256 reported = file's ($out)" ||
		bad "seed $seed: reported '$out', file is '$want'"
	if inpty "$tmp/cat$seed" asciinema cat "$cast" 2>"$tmp/err"; then
		cmp -s "$tmp/in" "$tmp/cat$seed" && ok "seed $seed: asciinema cat gives back the exact bytes" ||
			bad "seed $seed: asciinema cat output differs: $(cmp "$tmp/in" "$tmp/cat$seed" 2>&1)"
	else
		bad "seed $seed: asciinema cat failed: $(cat "$tmp/err")"
	fi
done

if inpty "$tmp/play" asciinema play -s 100 -i 0.01 "$tmp/s1.cast" 2>"$tmp/err"; then
	cmp -s "$tmp/in" "$tmp/play" && ok "asciinema play -s 100 replays the exact bytes" ||
		bad "asciinema play output differs"
else
	bad "asciinema play failed: $(cat "$tmp/err")"
fi

# input events are recorded and asciinema still reads the file
if "$tool" -s 3 -i "$tmp/i.cast" <"$tmp/in" >/dev/null &&
	inpty "$tmp/cati" asciinema cat "$tmp/i.cast" 2>"$tmp/err" && cmp -s "$tmp/in" "$tmp/cati" &&
	grep -q '^\[[0-9]*\.[0-9]\{6\}, "i", ' "$tmp/i.cast"; then
	ok "with input events: asciinema cat prints the output only"
else
	bad "input events"
fi

# invalid UTF-8: overlongs, surrogates, lone continuation bytes, cut sequences, > U+10FFFF
python3 - "$tmp/bad" "$tmp/bad.want" <<'PY'
import sys, random
r = random.Random(5)
pieces = [b"ok \xe2\x82\xac ", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
          b"\x80\xbf", b"\xf0\x9f\x98", b"\xe2\x82", b"\xff", b"\xfe", b"\xc3", b"\xf8\x88\x80\x80\x80",
          b"text\r\n", b"\x1b[31m", b"\xf0\x9f\x98\x80", b"\"\\"]
data = b"".join(r.choice(pieces) for _ in range(20000))
open(sys.argv[1], "wb").write(data)
open(sys.argv[2], "wb").write(data.decode("utf-8", "replace").encode("utf-8"))
PY
if "$tool" -s 9 "$tmp/bad.cast" <"$tmp/bad" >/dev/null &&
	inpty "$tmp/badout" asciinema cat "$tmp/bad.cast" 2>"$tmp/err"; then
	cmp -s "$tmp/bad.want" "$tmp/badout" &&
		ok "invalid UTF-8: U+FFFD exactly where Python's decoder puts it" ||
		bad "invalid UTF-8 replaced differently: $(cmp "$tmp/bad.want" "$tmp/badout" 2>&1)"
else
	bad "invalid UTF-8 recording not readable: $(cat "$tmp/err")"
fi

# every line is JSON for a strict reader too
if python3 - "$tmp"/*.cast <<'PY'
import json, sys
for p in sys.argv[1:]:
    with open(p, encoding="utf-8", errors="strict") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "", p
    hdr = json.loads(lines[0])
    assert hdr["version"] == 2 and hdr["width"] == 80 and hdr["height"] == 24, p
    last = 0.0
    for l in lines[1:-1]:
        t, ty, d = json.loads(l)
        assert isinstance(t, float) and t >= last and ty in "oir" and isinstance(d, str), l
        last = t
PY
then ok "every line of every transcript is strict JSON, times never go back"
else bad "a transcript line is not strict JSON"
fi

# the cap: rec_tool stops recording (exit 3); the file stays readable and within the cap
"$tool" -s 1 -m 20000 "$tmp/cap.cast" <"$tmp/in" >/dev/null
rc=$?
size=$(wc -c <"$tmp/cap.cast" | tr -d ' ')
if [ $rc = 3 ] && [ "$size" -le 20000 ] && [ "$size" -gt 10000 ] &&
	inpty "$tmp/capout" asciinema cat "$tmp/cap.cast" 2>"$tmp/err" &&
	[ -s "$tmp/capout" ] && cmp -s "$tmp/capout" "$tmp/in" -n "$(wc -c <"$tmp/capout")"; then
	ok "cap of 20000 bytes: $size bytes, readable, a prefix of the session"
else
	bad "cap: rc $rc, size $size"
fi

# a full disk: recording fails, never succeeds silently
if [ -w /dev/full ]; then
	if "$tool" -x /dev/full </dev/null >/dev/null 2>"$tmp/err"; then
		bad "recording to /dev/full succeeded"
	else
		grep -q "No space left" "$tmp/err" && ok "recording to /dev/full fails: $(cat "$tmp/err")" ||
			bad "recording to /dev/full: $(cat "$tmp/err")"
	fi
fi
exit $fail
