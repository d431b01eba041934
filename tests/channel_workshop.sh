#!/bin/sh
# channel_workshop.sh - the workshop's steps that only the demo showed, over the channel, as
# root (issue 8 point 5; the demo, ./demo/run.sh, is the README's first command and no test):
#   - an on-call policy that allows StartSession only with MFA (aws:MultiFactorAuthPresent):
#     a user without TOTP is refused with AccessDenied, one logged in with a TOTP code gets
#     a shell on the host;
#   - an InteractiveCommands document with a checked parameter runs its one command; a value
#     outside its allowedPattern is refused with InvalidParameters before any host is asked;
#   - the host's idle timeout ends a shell that gets no input (and says so);
#   - a port forward on a fixed local port (localPortNumber, not 0), and connections through
#     it that shut their sending side and still get the answer (half-close);
#   - a terminated session leaves no process behind: none of the run-as user, no ssm-shell,
#     and no session parent of the agent's;
#   - the client's terminal (tmux): raw while the session runs (^C interrupts the remote
#     command, not the client), restored after an exit, a TerminateSession, a SIGTERM of the
#     client and a broker that went away for good.
#
# Isolation as tests/channel_sessions.sh (tests/channel_setup.sh): private mount and pid
# namespaces, the broker and the client in one network namespace, the host in another,
# joined by a veth pair; every wait polls with a bound.
command -v ip >/dev/null 2>&1 || { echo "SKIP: ip (iproute2) missing"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl missing"; exit 77; }
. "${srcdir:-$(dirname "$0")/..}/tests/shell_setup.sh"

. "$srcdir/tests/channel_setup.sh"
chan_init
chan_net o 169.254.87
chan_broker --keepalive 2:6

mkdoc SSM-SessionManagerRunShell '{"schemaVersion": "1.0", "sessionType": "Standard_Stream",
 "inputs": {"idleSessionTimeout": "1", "idleSessionTimeoutSeconds": 4, "maxSessionDuration": "20"}}'
mkdir -p "$T/logs" && chmod 0755 "$T/logs"
printf 'line one\nline two\n' >"$T/logs/app.log" && chmod 0644 "$T/logs/app.log"
mkdoc ViewLog '{"schemaVersion": "1.0", "sessionType": "InteractiveCommands",
 "parameters": {"logpath": {"type": "String", "default": "'"$T"'/logs/app.log",
   "allowedPattern": "^'"$T"'/logs/[A-Za-z0-9_.-]+$", "maxChars": 128}},
 "properties": {"linux": {"commands": "echo VIEW-BEGIN; cat {{ logpath }}; echo VIEW-END"}}}'
mkdoc Sleep '{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
 "properties": {"linux": {"commands": "echo SLEEPING; exec sleep 1000"}}}'
chan_port_docs
chan_docs SSM-SessionManagerRunShell ViewLog Sleep AWS-StartPortForwardingSession
chan_host Environment=Prod
chan_pam
chan_agent --keepalive 2:6

# ---- users: carol (no TOTP) and oscar (TOTP), both on call: StartSession only with MFA
cat >"$T/oncall.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [
 {"Effect": "Allow", "Action": "ssm:StartSession",
  "Resource": ["arn:aws:ssm:*:*:managed-instance/*", "arn:aws:ssm:*:*:document/*"],
  "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
 {"Effect": "Allow", "Action": "ssm:TerminateSession", "Resource": "arn:aws:ssm:*:*:session/*"}]}
EOF
chan_user carol "$T/oncall.json"
printf 'oscar password\n' | "$BROKER" user add oscar --totp --state-dir "$ST" >"$T/oscar"
"$BROKER" user set-run-as oscar ssmtu --state-dir "$ST" >/dev/null
"$BROKER" policy attach --user oscar "$T/oncall.json" --state-dir "$ST" >/dev/null
SECRET=$(sed -n 's/^totp_secret: //p' "$T/oscar")
CODE=$(chan_totp "$SECRET")
ssm_check "ssm login as oscar with his TOTP code" sh -c "printf 'oscar password\n%s\n' '$CODE' | XDG_CONFIG_HOME='$T/cfgo' $IB '$SSM' login --broker $URL --ca '$ST/ca.crt' --user oscar >'$T/lo.out' 2>'$T/lo.err' && grep -q 'MFA: yes' '$T/lo.out' || { cat '$T/lo.err'; false; }"
oscar() { XDG_CONFIG_HOME="$T/cfgo" $IB "$SSM" "$@"; }

ssm_check_not "carol (no MFA) is refused a shell on the host" sh -c \
	"XDG_CONFIG_HOME='$T/cfg' $IB '$SSM' start-session --target '$HID' </dev/null >/dev/null 2>'$T/carol.err'"
ssm_check "  with AccessDenied, before anything reached the host" sh -c \
	"grep -q AccessDenied '$T/carol.err' && ! grep -q 'login of' '$T/agent.log' || { cat '$T/carol.err'; false; }"
printf 'id -un\nexit\n' >"$T/oscar.in"
ssm_check "oscar (MFA) gets a shell as ssmtu" sh -c \
	"XDG_CONFIG_HOME='$T/cfgo' $IB '$SSM' start-session --target '$HID' <'$T/oscar.in' 2>'$T/oscar.err' | tr -d '\r' | grep -qx ssmtu || { cat '$T/oscar.err'; false; }"

# ---- an interactive-command document with a checked parameter
oscar start-session --target "$HID" --document-name ViewLog --parameters "logpath=$T/logs/app.log" \
	</dev/null 2>"$T/vl.err" | tr -d '\r' >"$T/vl.out"
ssm_check "ViewLog runs its one command with the parameter given" sh -c \
	"grep -qx 'line two' '$T/vl.out' && grep -qx VIEW-END '$T/vl.out' || { cat '$T/vl.out' '$T/vl.err'; false; }"
n_logins=$(grep -c 'login of' "$T/agent.log")
ssm_check_not "a logpath outside the pattern's directory is refused" sh -c \
	"XDG_CONFIG_HOME='$T/cfgo' $IB '$SSM' start-session --target '$HID' --document-name ViewLog --parameters logpath=/etc/shadow </dev/null >'$T/vl2.out' 2>'$T/vl2.err'"
ssm_check "  with InvalidParameters, and no host was asked" sh -c \
	"grep -q InvalidParameters '$T/vl2.err' && [ \$(grep -c 'login of' '$T/agent.log') = $n_logins ] && ! grep -q root: '$T/vl2.out'"

# ---- the idle timeout of the shell document: 4 s without input
mkfifo "$T/idle.in"
(sleep 30 >"$T/idle.in") &
FEED=$!
t0=$(date +%s)
rc=0
XDG_CONFIG_HOME="$T/cfgo" $IB "$SSM" start-session --target "$HID" <"$T/idle.in" >"$T/idle.out" 2>"$T/idle.err" || rc=$?
t1=$(date +%s)
kill "$FEED" 2>/dev/null
ssm_check "a shell without input ends by the host's idle timeout ($((t1 - t0)) s, input open for 30 s)" sh -c \
	"[ $((t1 - t0)) -lt 25 ] && tr -d '\r' <'$T/idle.out' | grep -q 'idle too long' || { cat '$T/idle.out' '$T/idle.err'; false; }"
ssm_check "  audited with reason idle_timeout" sh -c \
	"grep '\"event\":\"session_end\"' '$T/log/audit.jsonl' | tail -1 | grep -q '\"reason\":\"idle_timeout\"'"

# ---- a port forward on a fixed local port
$IH python3 -c '
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"hello through the channel"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
socketserver.TCPServer(("127.0.0.1", 8080), H).serve_forever()' >"$T/web.log" 2>&1 &
PIDS="$PIDS $!"
ssm_wait_for 10 sh -c "$IH ss -Hltn | grep -q 127.0.0.1:8080"
LP=$((20000 + $$ % 20000))
XDG_CONFIG_HOME="$T/cfgo" $IB "$SSM" start-session --target "$HID" --document-name AWS-StartPortForwardingSession \
	--parameters "portNumber=8080,localPortNumber=$LP" </dev/null >"$T/pf.out" 2>"$T/pf.err" &
PFPID=$!
PIDS="$PIDS $PFPID"
ssm_check "a port forward listens on the local port asked for ($LP)" \
	ssm_wait_for 15 grep -q "^Port $LP opened for sessionId" "$T/pf.err"
ssm_check "  curl through it reaches the host's web server" sh -c \
	"[ \"\$($IB curl -sS --max-time 10 http://127.0.0.1:$LP/)\" = 'hello through the channel' ]"
# half-close, per connection: the client sends 300 kB and shuts its sending side; the host's
# server reads to EOF, then answers with the count, which must still come back
$IH python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8081)); s.listen(8)
while True:
    c, _ = s.accept(); n = 0
    while True:
        b = c.recv(65536)
        if not b: break
        n += len(b)
    c.sendall(b"GOT %d\n" % n); c.close()' >"$T/eof.log" 2>&1 &
PIDS="$PIDS $!"
ssm_wait_for 10 sh -c "$IH ss -Hltn | grep -q 127.0.0.1:8081"
LP2=$((LP + 1))
XDG_CONFIG_HOME="$T/cfgo" $IB "$SSM" start-session --target "$HID" --document-name AWS-StartPortForwardingSession \
	--parameters "portNumber=8081,localPortNumber=$LP2" </dev/null >"$T/pf2.out" 2>"$T/pf2.err" &
PF2=$!
PIDS="$PIDS $PF2"
ssm_wait_for 15 grep -q "^Port $LP2 opened for sessionId" "$T/pf2.err"
ssm_check "  half-close through the forward: 3 connections at once send 300 kB each, shut their side, get the count back" \
	$IB python3 -c '
import socket, sys, threading
res = []
def one():
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
    c.sendall(b"x" * 300000); c.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = c.recv(100)
        if not b: break
        got += b
    res.append(got)
ts = [threading.Thread(target=one) for _ in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]
sys.exit(0 if res == [b"GOT 300000\n"] * 3 else (print(res) or 1))' "$LP2"
kill -INT "$PFPID" "$PF2" 2>/dev/null
wait "$PFPID" "$PF2" 2>/dev/null

# ---- terminate: nothing of the session is left
XDG_CONFIG_HOME="$T/cfgo" $IB "$SSM" start-session --target "$HID" --document-name Sleep </dev/null >"$T/sl.out" 2>"$T/sl.err" &
SPID=$!
ssm_wait_for 15 grep -q SLEEPING "$T/sl.out"
SID=$(sed -n 's/^Starting session with SessionId: //p' "$T/sl.err")
ssm_check "a long command runs under an ssm-shell" sh -c "pgrep -u ssmtu -x sleep >/dev/null && pgrep -x ssm-shell >/dev/null"
ssm_check "oscar terminates it" sh -c "XDG_CONFIG_HOME='$T/cfgo' $IB '$SSM' terminate-session --session-id '$SID' >/dev/null"
wait "$SPID" 2>/dev/null
ssm_check "  no process of the run-as user is left" ssm_wait_for 5 sh -c "! pgrep -u ssmtu >/dev/null"
ssm_check "  no ssm-shell is left" ssm_wait_for 5 sh -c "! pgrep -x ssm-shell >/dev/null"
ssm_check "  the agent has no child left" ssm_wait_for 5 sh -c "! pgrep -P $APID >/dev/null"
ssm_check "  audited with reason terminated" sh -c \
	"grep '\"sid\":\"$SID\"' '$T/log/audit.jsonl' | grep -q '\"event\":\"session_end\".*\"reason\":\"terminated\"'"

# ---- the client's terminal: raw while the session runs, restored on every way out
command -v tmux >/dev/null 2>&1 || { echo "SKIP (terminal checks): tmux missing"; kill "$APID"; ssm_done; }
OSSM="XDG_CONFIG_HOME='$T/cfgo' TERM=xterm $IB '$SSM' start-session --target '$HID'"
RESTORED="echo CLIENT-EXIT=\$?; stty -a | grep -Eq '(^| )icanon( |\$)' && stty -a | grep -Eq '(^| )isig( |\$)' && echo TTY-RESTORED"
F0=$SSM_FAIL
ssm_tmux_start raw 100 30 "$OSSM; $RESTORED; sleep 60"
ssm_check "a terminal session gives a prompt" ssm_tmux_wait raw 20 'ssmtu\$'
ssm_tmux_keys raw 'sleep 100 && echo NOT-INTERRUPTED' Enter
ssm_wait_for 10 sh -c "pgrep -u ssmtu -x sleep >/dev/null"
ssm_tmux_keys raw C-c
ssm_check "  ^C reaches the remote shell (the client's terminal is raw): sleep interrupted" \
	ssm_wait_for 10 sh -c "! pgrep -u ssmtu -x sleep >/dev/null"
ssm_tmux_keys raw 'echo STILL-$((40+2))' Enter
ssm_check "  and the session goes on (the client was not interrupted)" ssm_tmux_wait raw 10 '^STILL-42'
ssm_tmux_text raw >"$T/raw.pane"
ssm_check_not "  the command did not run on" grep -q '^NOT-INTERRUPTED' "$T/raw.pane"
ssm_tmux_keys raw 'exit' Enter
ssm_check "  exit: the terminal is restored" ssm_tmux_wait raw 10 'TTY-RESTORED'
ssm_tmux_dump_if raw "$F0"
ssm_tmux_kill raw

F0=$SSM_FAIL
ssm_tmux_start term 100 30 "$OSSM; $RESTORED; sleep 60"
ssm_check "a terminal session for a TerminateSession" ssm_tmux_wait term 20 'ssmtu\$'
TSID=$(ssm_tmux_text term | sed -n 's/^Starting session with SessionId: \([^ ]*\).*/\1/p' | tr -d '\r' | head -1)
ssm_check "  terminated from the broker" sh -c \
	"[ -n '$TSID' ] && XDG_CONFIG_HOME='$T/cfgo' $IB '$SSM' terminate-session --session-id '$TSID' >/dev/null"
ssm_check "  the client exits and the terminal is restored" ssm_tmux_wait term 10 'TTY-RESTORED'
ssm_tmux_dump_if term "$F0"
ssm_tmux_kill term

F0=$SSM_FAIL
ssm_tmux_start sig 100 30 "$OSSM; $RESTORED; sleep 60"
ssm_check "a terminal session for a SIGTERM of the client" ssm_tmux_wait sig 20 'ssmtu\$'
ssm_check "  the client killed with SIGTERM" sh -c "pkill -TERM -n -x ssm"
ssm_check "  exits and the terminal is restored" ssm_tmux_wait sig 10 'TTY-RESTORED'
ssm_tmux_dump_if sig "$F0"
ssm_tmux_kill sig

F0=$SSM_FAIL
ssm_tmux_start lost 100 30 "SSM_RESUME_GRACE=5 $OSSM; $RESTORED; sleep 60"
ssm_check "a terminal session for a broker that goes away" ssm_tmux_wait lost 20 'ssmtu\$'
kill -KILL "$BPID"
wait "$BPID" 2>/dev/null
ssm_check "  the broker killed: the client gives up after its grace (5 s) and restores the terminal" \
	ssm_tmux_wait lost 30 'TTY-RESTORED'
ssm_tmux_dump_if lost "$F0"
ssm_tmux_kill lost

kill "$APID" 2>/dev/null
ssm_done
