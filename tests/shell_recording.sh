#!/bin/sh
# shell_recording.sh - ssm-shell's transcript under pressure, as root in private namespaces:
# the size cap with action "end" (session ends, reason error, transcript_limit audited) and
# "stop_recording" (audited, session goes on), a full disk ending the session (never
# unrecorded), the session user filling the disk and RLIMIT_FSIZE reached mid-output (the
# client's output compared with the transcript byte for byte: nothing it got is missing),
# input recording off by default and on by configuration, and allow_privilege false
# (no_new_privs: sudo cannot gain privilege).
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

mkdoc Shell-R '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeoutSeconds": 600}}'

echo "== size cap, action end"
write_config ', "transcript_max_bytes": 20000, "transcript_limit_action": "end"'
ssm_login ssmtu Shell-R - -- -c 'head -c 200000 /dev/zero | tr "\0" x; echo; echo AFTER-LIMIT' \
	>"$T/o1" 2>&1 </dev/null
rc=$?
sid=$(sid_last)
ssm_check "the session ends (exit status not 0)" [ "$rc" != 0 ]
ssm_check "session_end reason error" [ "$(jfield "$(audit_last session_end)" reason)" = error ]
ssm_check "transcript_limit audited with action end" \
	sh -c "grep '\"event\":\"transcript_limit\"' '$T/log/audit.jsonl' | tail -1 | grep -q '\"action\":\"end\"'"
ssm_check_not "output past the limit did not reach the client" grep -q AFTER-LIMIT "$T/o1"
ssm_check "the transcript stays under the cap" [ "$(stat -c %s "$(cast_of "$sid")")" -le 20000 ]

echo "== size cap, action stop_recording"
write_config ', "transcript_max_bytes": 20000, "transcript_limit_action": "stop_recording"'
ssm_login ssmtu Shell-R - -- -c 'head -c 200000 /dev/zero | tr "\0" x; echo; echo AFTER-LIMIT; exit 4' \
	>"$T/o2" 2>&1 </dev/null
rc=$?
ssm_check "the session goes on to its end (exit 4)" [ "$rc" = 4 ]
ssm_check "the client got everything" grep -q AFTER-LIMIT "$T/o2"
ssm_check "transcript_limit audited with action stop_recording" \
	sh -c "grep '\"event\":\"transcript_limit\"' '$T/log/audit.jsonl' | tail -1 | grep -q stop_recording"
ssm_check "session_end reason exit" [ "$(jfield "$(audit_last session_end)" reason)" = exit ]

echo "== a full disk ends the session; nothing runs unrecorded"
write_config
mkdir -p "$T/log/sessions"
mount -t tmpfs -o size=64k,mode=0750 ssmfull "$T/log/sessions"
ssm_login ssmtu Shell-R - -- -c 'i=0; while [ $i -lt 4000 ]; do echo "line $i of output that fills the disk"; i=$((i+1)); done; echo DISK-AFTER' \
	>"$T/o3" 2>&1 </dev/null
rc=$?
ssm_check "the session ended with an error" [ "$rc" != 0 ]
# (ssm-shell writes session_end before it exits; wait anyway, and say what was there if not)
end_is_error() { [ "$(jfield "$(audit_last session_end)" reason)" = error ]; }
ssm_check "session_end reason error" ssm_wait_for 3 end_is_error
if ! end_is_error; then
	echo "  last session_end: $(audit_last session_end)"
	echo "  client output (tail): $(tail -c 600 "$T/o3" | tr '\n' ' ')"
fi
ssm_check_not "the end of the output never reached the client" grep -q DISK-AFTER "$T/o3"
umount "$T/log/sessions"

# What the client got against the transcript, byte for byte: the client's output must be
# the transcript's "o" data or a prefix of it, and every transcript line whole JSON.  Prints
# the counts; exit 0 only when nothing the client got is missing from the transcript.
cat >"$T/castcmp.py" <<'EOF'
import json, sys
client = open(sys.argv[1], "rb").read()
raw = open(sys.argv[2], "rb").read()
lines = raw.split(b"\n")
whole = lines[-1] == b""
bad = 0
data = []
for l in lines[1:-1] if whole else lines[1:]:
    try:
        ev = json.loads(l.decode("utf-8"))
    except ValueError:
        bad += 1
        continue
    if ev[1] == "o":
        data.append(ev[2])
data = "".join(data).encode("utf-8", "surrogateescape")
common = 0
while common < len(client) and common < len(data) and client[common] == data[common]:
    n = 1 << 16
    while n > 1 and client[common:common + n] != data[common:common + n]:
        n //= 2
    common += min(n, len(client) - common, len(data) - common)
missing = len(client) - common
state = "whole lines" if whole and not bad else "%d broken lines%s" % (
    bad, "" if whole else ", the last one cut")
print("  client got %d bytes, the transcript holds %d bytes of output (%d lines, %s): "
      "%d of the client's bytes missing from it" % (len(client), len(data), len(lines) - 1,
                                                     state, missing))
sys.exit(0 if missing == 0 and whole and bad == 0 else 1)
EOF
chmod 0644 "$T/castcmp.py"
# the transcript gave back the blocks it reserved beyond its data (a block of slack)
no_reserve_left() { # CAST
	[ $(($(stat -c %b "$1") * $(stat -c %B "$1"))) -le $(($(stat -c %s "$1") + 8192)) ]
}
# lots of numbered ASCII lines: unique, so a hole or a repetition shows
BIGOUT='base64 -w 76 /dev/urandom | head -c 20000000 | nl -ba'

echo "== the session user fills the disk: nothing reaches the client unrecorded"
# log_dir/sessions on a small tmpfs the session user can write to as well (another
# directory on it); the session prints numbered lines while dd fills the disk, from the
# start or after 1 MB of output.  The client must get nothing the transcript lacks.
mkdir -p "$T/log/sessions" "$T/fs"
mount -t tmpfs -o size=6m,mode=0755 ssmfill "$T/fs"
mkdir -m 0750 "$T/fs/sessions"
mkdir -m 0700 "$T/fs/user"
chown ssmtu:ssmtu "$T/fs/user"
mount --bind "$T/fs/sessions" "$T/log/sessions"
for when in start middle; do
	rm -f "$T/fs/user/fill"
	fill="dd if=/dev/zero of=$T/fs/user/fill bs=64k 2>/dev/null"
	case $when in
	start) cmd="exec 2>&1; $fill & $BIGOUT; wait" ;;
	middle) cmd="exec 2>&1; base64 -w 76 /dev/urandom | head -c 1000000 | nl -ba; $fill; $BIGOUT" ;;
	esac
	ssm_login ssmtu Shell-R - -- -c "$cmd" >"$T/fill.out" 2>"$T/fill.err" </dev/null
	rc=$?
	cast=$(cast_of "$(sid_last)")
	echo "  disk full from the $when: exit $rc, $(df -k "$T/fs" | awk 'NR == 2 {print $4}') KiB" \
		"free, transcript $(stat -c %s "$cast") bytes"
	sed 's/^/  client stderr: /' "$T/fill.err" | head -3
	ssm_check "disk full from the $when: the session ended with an error" [ "$rc" != 0 ]
	ssm_check "disk full from the $when: session_end reason error" ssm_wait_for 3 end_is_error
	ssm_check "disk full from the $when: the client got no byte the transcript lacks" \
		python3 "$T/castcmp.py" "$T/fill.out" "$cast"
	ssm_check "disk full from the $when: the reserved blocks were given back" \
		no_reserve_left "$cast"
done
rm -f "$T/fs/user/fill"
umount "$T/log/sessions"
umount "$T/fs"

echo "== the file size limit: nothing reaches the client unrecorded"
# RLIMIT_FSIZE that ssm-shell cannot lift (CAP_SYS_RESOURCE dropped from the bounding set:
# no raising the hard limit), reached in the middle of the output
sed -e "s|setpriv --reuid|setpriv --bounding-set -sys_resource --reuid|" \
	-e "s|--init-groups |--init-groups prlimit --fsize=\$FSZ:\$FSZ |" \
	"$T/bin/login" >"$T/bin/login-fsize2"
chmod 0755 "$T/bin/login-fsize2"
FSZ=$(($(stat -c %s "$T/log/audit.jsonl") + 300000)) timeout -k 5 60 "$T/bin/login-fsize2" \
	ssmtu Shell-R - -- -c "exec 2>&1; $BIGOUT" >"$T/fsz.out" 2>"$T/fsz.err" </dev/null
rc=$?
cast=$(cast_of "$(sid_last)")
echo "  exit $rc, transcript $(stat -c %s "$cast") bytes"
sed 's/^/  client stderr: /' "$T/fsz.err" | head -3
ssm_check "file size limit: the session ended with an error (exit $rc)" [ "$rc" = 1 ]
ssm_check "file size limit: session_end reason error" ssm_wait_for 3 end_is_error
ssm_check "file size limit: the client got no byte the transcript lacks" \
	python3 "$T/castcmp.py" "$T/fsz.out" "$cast"
ssm_check "file size limit: the reserved blocks were given back" no_reserve_left "$cast"

echo "== a quota, and a disk the user fills, on ext4: nothing reaches the client unrecorded"
# tmpfs quotas need CONFIG_TMPFS_QUOTA (Linux 6.6+, often off); an ext4 image on a loop
# device with the quota feature works wherever loop devices do.  The transcript is root's:
# its blocks count against uid 0's quota, which binds the recorder (no CAP_SYS_RESOURCE).
# Then the same on ext4 without the quota: the session user fills the disk.
cat >"$T/setquota.py" <<'EOF'
import ctypes, os, sys
# quotactl(QCMD(Q_SETQUOTA, USRQUOTA), dev, uid, struct if_dqblk): block limits in KiB
class dqblk(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("bhard", "bsoft", "curspace", "ihard",
                "isoft", "curinodes", "btime", "itime")] + [("valid", ctypes.c_uint32)]
libc = ctypes.CDLL(None, use_errno=True)
q = dqblk(bhard=int(sys.argv[3]), bsoft=int(sys.argv[3]), valid=1)
if libc.quotactl(ctypes.c_int(0x80000800), sys.argv[1].encode(), int(sys.argv[2]),
                 ctypes.byref(q)) != 0:
    sys.exit("quotactl: " + os.strerror(ctypes.get_errno()))
EOF
e4skip= e4quota=quota
mkext4() { # [MKFS OPTIONS]: a 24 MiB ext4 image on a loop device at $T/e4
	rm -f "$T/e4.img" && truncate -s 24m "$T/e4.img" && mkfs.ext4 -q -m 0 "$@" "$T/e4.img" &&
		mkdir -p "$T/e4" && mount -o "loop${1:+,usrquota}" "$T/e4.img" "$T/e4" 2>"$T/e4.err"
}
if ! command -v mkfs.ext4 >/dev/null || ! command -v losetup >/dev/null; then
	e4skip="no mkfs.ext4 or losetup"
elif ! mkext4 -O quota -E quotatype=usrquota; then
	echo "SKIP (quota check): the kernel refused an ext4 with quotas (no CONFIG_QUOTA?):" \
		"$(head -1 "$T/e4.err")"
	e4quota=
	mkext4 || e4skip="cannot mount an ext4 image on a loop device: $(head -1 "$T/e4.err")"
fi
if [ -n "$e4skip" ]; then
	echo "SKIP (quota and ext4 checks): $e4skip"
else
	e4dev=$(findmnt -n -o SOURCE "$T/e4")
	mkdir -m 0750 "$T/e4/sessions"
	mkdir -m 0700 "$T/e4/user"
	chown ssmtu:ssmtu "$T/e4/user"
	mount --bind "$T/e4/sessions" "$T/log/sessions"
	for what in $e4quota disk; do
		if [ $what = quota ]; then
			# uid 0 may have 1 MiB more than it has now: reached mid-output
			used=$(du -sk "$T/e4" | cut -f1)
			limit=$((used + 1024))
			if ! python3 "$T/setquota.py" "$e4dev" 0 "$limit" 2>"$T/e4.err"; then
				echo "SKIP (quota check): $(cat "$T/e4.err")"
				continue
			fi
			cmd="exec 2>&1; $BIGOUT"
		else
			[ -z "$e4quota" ] || python3 "$T/setquota.py" "$e4dev" 0 0 # no limit
			cmd="exec 2>&1; base64 -w 76 /dev/urandom | head -c 1000000 | nl -ba; dd if=/dev/zero of=$T/e4/user/fill bs=64k 2>/dev/null; $BIGOUT"
		fi
		ssm_login ssmtu Shell-R - -- -c "$cmd" >"$T/e4.out" 2>"$T/e4.err" </dev/null
		rc=$?
		cast=$(cast_of "$(sid_last)")
		echo "  ext4, $what: exit $rc, transcript $(stat -c %s "$cast") bytes"
		sed 's/^/  client stderr: /' "$T/e4.err" | head -3
		ssm_check "ext4, $what: the session ended with an error" [ "$rc" != 0 ]
		ssm_check "ext4, $what: session_end reason error" ssm_wait_for 3 end_is_error
		ssm_check "ext4, $what: the client got no byte the transcript lacks" \
			python3 "$T/castcmp.py" "$T/e4.out" "$cast"
		ssm_check "ext4, $what: the reserved blocks were given back" no_reserve_left "$cast"
		grep -q 'Disk quota exceeded\|No space left' "$T/e4.err" ||
			echo "  (the error was not the expected one)"
	done
	umount "$T/log/sessions"
	umount "$T/e4"
fi
echo "SKIP (I/O error check): EIO cannot be reserved away, and making one needs dm-error or" \
	"dm-flakey (device-mapper); what it loses is in lib/asciicast.h"

echo "== input is not recorded by default, and is with record_input"
mkdoc Cmd-Read '{"schemaVersion": "1.0", "sessionType": "InteractiveCommands",
 "properties": {"linux": {"commands": "stty -echo; read -r pw; stty echo; echo READ-DONE"}}}'
for ri in false true; do
	write_config ", \"record_input\": $ri"
	tmux_login in 80 24 ssmtu Cmd-Read -
	sleep 0.5
	ssm_tmux_keys in -l 'hunter2-secret'
	ssm_tmux_keys in Enter
	ssm_tmux_gone in 5
	ssm_tmux_kill in
	cast=$(cast_of "$(sid_last)")
	if [ $ri = false ]; then
		ssm_check_not "record_input false: the typed secret is not in the transcript" \
			grep -q hunter2 "$cast"
	else
		ssm_check "record_input true: input events recorded" grep -q '"i", *"h' "$cast"
	fi
	ssm_check "record_input $ri: session recorded its output" grep -q READ-DONE "$cast"
done

echo "== input that crosses the size cap (record_input, action end) never reaches the session"
# (review: the input path ignored the cap, so typed commands ran unrecorded and the session
# never ended while it printed nothing).  The pacing only splits the input into several
# reads; whichever read crosses the cap, the payload after it must never run.
write_config ', "transcript_max_bytes": 3000, "transcript_limit_action": "end", "record_input": true'
mkdir -m 0755 "$T/icap"; chown ssmtu:ssmtu "$T/icap"
nl0=$(audit_count transcript_limit)
(
	i=0
	while [ $i -lt 40 ]; do echo ": padding-line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; sleep 0.05; i=$((i+1)); done
	echo "id > $T/icap/PAYLOAD-RAN"
	sleep 0.3
	echo "exit 7"
) | ssm_login ssmtu Shell-R - -- -c 'exec 2>/dev/null; sh' >"$T/icap.out" 2>&1
rc=$?
ssm_check_not "the payload after the cap did not run" test -e "$T/icap/PAYLOAD-RAN"
ssm_check "the session ended (not exit 7)" [ "$rc" != 7 ]
ssm_check "session_end reason error" [ "$(jfield "$(audit_last session_end)" reason)" = error ]
ssm_check "transcript_limit audited" [ "$(audit_count transcript_limit)" -gt "$nl0" ]
write_config

echo "== a missing recorder user: no session (fail closed)"
RECORDER_USER=nosuchrecorder write_config
ssm_login ssmtu Shell-R - -- -c 'echo SHOULD-NOT-RUN' >"$T/o4" 2>&1 </dev/null
rc=$?
ssm_check "refused (exit 1), nothing ran" sh -c "[ $rc = 1 ] && ! grep -q SHOULD-NOT-RUN '$T/o4'"
ssm_check "login_denied reason recorder_user" \
	[ "$(jfield "$(audit_last login_denied)" reason)" = recorder_user ]

echo "== allow_privilege false: no_new_privs, sudo cannot gain root"
mkdir -p /etc/sudoers.d
echo 'ssmtu ALL=(root) NOPASSWD: ALL' >/etc/sudoers.d/ssm-test
chmod 0440 /etc/sudoers.d/ssm-test
write_config ', "allow_privilege": true'
out=$(ssm_login ssmtu Shell-R - -- -c 'sudo -n id -u' 2>&1 </dev/null)
ssm_check "allow_privilege true: sudo works in the session" [ "$out" = 0 ]
write_config ', "allow_privilege": false'
out=$(ssm_login ssmtu Shell-R - -- -c 'grep NoNewPrivs /proc/self/status; sudo -n id -u' 2>&1 </dev/null)
echo "$out" | sed 's/^/  /'
ssm_check "allow_privilege false: NoNewPrivs is set" sh -c "printf '%s' '$out' | grep -q 'NoNewPrivs:.*1'"
ssm_check_not "allow_privilege false: sudo cannot become root" sh -c "printf '%s\n' '$out' | grep -qx 0"

echo "== hostile output: random bytes, invalid UTF-8, NULs, escapes, a 300 KB line"
write_config
cat >"$T/hostile.py" <<'EOF'
import os, sys
w = sys.stdout.buffer.write
w(os.urandom(1 << 20))
w(b"\xff\xfe\xc3\x28\xe2\x82\xf0\x9f\x98\x00\x1b]0;title\x07\x1b[31m\x1bP+q\x1b\\\x9b6n")
w(b"L" * 300000)
w("\nUTF8-OK-\u00e9\u4e2d\U0001f600-END\n".encode())
sys.stdout.flush()
EOF
chmod 0644 "$T/hostile.py"
ssm_login ssmtu Shell-R - -- -c "/usr/bin/python3 $T/hostile.py" >"$T/hostile.out" 2>&1 </dev/null
rc=$?
ssm_check "the session ran (exit 0, got $rc)" [ "$rc" = 0 ]
ssm_check "the client got every byte" [ "$(stat -c %s "$T/hostile.out")" -ge $((1048576 + 300000)) ]
cast=$(cast_of "$(sid_last)")
ssm_check "every transcript line is valid JSON, UTF-8, header then [t, \"o\", text] events" \
	python3 - "$cast" <<'EOF'
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "no final newline"
hdr = json.loads(lines[0].decode("utf-8"))
assert hdr["version"] == 2
text = []
for l in lines[1:-1]:
    ev = json.loads(l.decode("utf-8"))
    assert isinstance(ev, list) and len(ev) == 3 and ev[1] in ("o", "r"), ev
    if ev[1] == "o":
        text.append(ev[2])
text = "".join(text)
assert "L" * 300000 in text, "the long line"
assert "UTF8-OK-\u00e9\u4e2d\U0001f600-END" in text, "valid UTF-8 after the garbage"
EOF
ssm_check "session_end reason exit" [ "$(jfield "$(audit_last session_end)" reason)" = exit ]

echo "== a file size limit the caller set cannot kill the recorder (SIGXFSZ)"
# ssm-shell lifts RLIMIT_FSIZE; where it cannot (no CAP_SYS_RESOURCE, as in some
# containers) a transcript write past the limit must end the session as an error, with
# session_end, never kill the recorder with the last second of transcript unwritten.
sed "s|--init-groups |--init-groups prlimit --fsize=\$FSZ:\$FSZ |" "$T/bin/login" >"$T/bin/login-fsize"
chmod 0755 "$T/bin/login-fsize"
ne=$(audit_count session_end)
FSZ=$(( $(stat -c %s "$T/log/audit.jsonl") + 20000 )) timeout -k 5 60 "$T/bin/login-fsize" \
	ssmtu Shell-R - -- -c 'head -c 200000 /dev/zero | tr "\0" y; echo; echo FSIZE-END' \
	>"$T/fsize.out" 2>&1 </dev/null
rc=$?
echo "  exit $rc, session_end: $(audit_last session_end | cut -c1-160)"
ssm_check "ssm-shell was not killed by a signal (exit $rc)" [ "$rc" -lt 128 ]
ssm_check "session_end was written" [ "$(audit_count session_end)" -gt "$ne" ]
ssm_check "... with reason exit (limit lifted) or error (write refused)" sh -c \
	"case '$(jfield "$(audit_last session_end)" reason)' in exit|error) exit 0;; *) exit 1;; esac"

ssm_done
