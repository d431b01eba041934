#!/bin/sh
# The SELinux policy module (selinux/): built with the reference policy's devel Makefile
# (Debian 12: selinux-policy-dev), linked with Debian's whole default policy into a binary
# policy file in a temporary directory (semodule_link + semodule_expand, which also checks
# the policy's neverallow rules), its file contexts checked against that policy
# (setfiles -c) and looked up (selabel_lookup), then every rule the design needs asserted
# with sesearch, and the rules it must not have refused.
#
# Nothing is installed or loaded: no semodule -i, no load_policy, /etc/selinux untouched.
#
# The base policy: the modules of selinux-policy-default, taken from (first found)
#   $SSM_SELINUX_POLICY_DIR            a directory with base.pp[.bz2] and the other modules
#   /usr/share/selinux/default         selinux-policy-default installed
#   $SSM_SELINUX_POLICY_DEB, or /var/cache/ssmsession-deps/selinux-policy-default_*.deb
#                                      the package file (tools/deps.sh downloads it there
#                                      without installing it: its postinst would build a
#                                      policy store under /etc/selinux), unpacked here
# The module source: $SSM_SELINUX_SRC (default $srcdir/selinux), so a changed copy can be
# checked (that is how each assertion was seen to fail).
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
src=${SSM_SELINUX_SRC:-$srcdir/selinux}
devel=/usr/share/selinux/devel/Makefile
[ -f "$devel" ] || { echo "SKIP: $devel missing (apt-get install selinux-policy-dev)"; exit 77; }
for t in sesearch seinfo semodule_link semodule_expand semodule_unpackage setfiles \
	selabel_lookup make bunzip2; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "SKIP: $t missing (setools, semodule-utils, policycoreutils, selinux-utils)"
		exit 77
	}
done

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

polsrc=""
for d in "${SSM_SELINUX_POLICY_DIR:-}" /usr/share/selinux/default; do
	if [ -n "$d" ] && { [ -f "$d/base.pp" ] || [ -f "$d/base.pp.bz2" ]; }; then
		polsrc=$d; break
	fi
done
if [ -z "$polsrc" ]; then
	deb=${SSM_SELINUX_POLICY_DEB:-}
	if [ -z "$deb" ]; then
		deb=$(ls /var/cache/ssmsession-deps/selinux-policy-default_*.deb 2>/dev/null | tail -1)
	fi
	if [ -z "$deb" ] || [ ! -f "$deb" ]; then
		echo "SKIP: no base policy (selinux-policy-default: tools/deps.sh downloads its .deb)"
		exit 77
	fi
	dpkg-deb -x "$deb" "$tmp/deb" || exit 1
	polsrc=$tmp/deb/usr/share/selinux/default
fi
echo "base policy: $polsrc"

# 1. build the module from the source tree, in a copy
mkdir "$tmp/mod" "$tmp/pp"
cp "$src/ssmsession.te" "$src/ssmsession.if" "$src/ssmsession.fc" "$tmp/mod/" || exit 1
if ! (cd "$tmp/mod" && make -f "$devel" NAME=default ssmsession.pp) >"$tmp/build.log" 2>&1; then
	echo "FAIL: the module does not build"; cat "$tmp/build.log"; exit 1
fi
echo "ok   built ssmsession.pp with $devel"
# selinux/README.md's local module (the block after its "selinux_policy.sh: local module"
# marker), built beside ssmsession.te as the README says, and linked too
awk '/selinux_policy.sh: local module/ { m = 1; next }
	m && /^```$/ { if (in_block) exit; in_block = 1; next }
	in_block { print }' "$src/README.md" >"$tmp/mod/ssmsession_local.te"
if [ ! -s "$tmp/mod/ssmsession_local.te" ] ||
	! (cd "$tmp/mod" && make -f "$devel" NAME=default ssmsession_local.pp) >"$tmp/build.log" 2>&1; then
	echo "FAIL: selinux/README.md's local module does not build"; cat "$tmp/build.log"; exit 1
fi
echo "ok   built selinux/README.md's local module"

# 2. link it with the whole default policy and expand to a kernel policy file
for f in "$polsrc"/*.pp "$polsrc"/*.pp.bz2; do
	[ -f "$f" ] || continue
	b=$(basename "$f"); b=${b%.bz2}
	case $b in ssmsession.pp | ssmsession_local.pp) continue ;; esac
	case $f in
	*.bz2) bunzip2 -c "$f" >"$tmp/pp/$b" || exit 1 ;;
	*) cp "$f" "$tmp/pp/$b" || exit 1 ;;
	esac
done
mods=$(ls "$tmp/pp"/*.pp | grep -v '/base\.pp$')
# shellcheck disable=SC2086
if ! semodule_link -o "$tmp/linked.lnk" "$tmp/pp/base.pp" $mods "$tmp/mod/ssmsession.pp" \
	"$tmp/mod/ssmsession_local.pp" >"$tmp/link.log" 2>&1; then
	echo "FAIL: semodule_link"; grep -v 'loading package' "$tmp/link.log"; exit 1
fi
if ! semodule_expand "$tmp/linked.lnk" "$tmp/policy.bin" >"$tmp/expand.log" 2>&1; then
	echo "FAIL: semodule_expand (neverallow or unresolved requirement)"; cat "$tmp/expand.log"; exit 1
fi
P=$tmp/policy.bin
echo "ok   linked with $(echo "$mods" | wc -l) modules and base; expanded (neverallow checked)"

fail=0; n=0
pass() { n=$((n + 1)); echo "ok   $*"; }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL $*"; }

# 3. file contexts: valid in this policy, and the installed paths get the right types
semodule_unpackage "$tmp/mod/ssmsession.pp" "$tmp/m.mod" "$tmp/m.fc" || exit 1
if setfiles -c "$P" "$tmp/m.fc" >"$tmp/fc.log" 2>&1; then
	pass "file contexts valid (setfiles -c)"
else
	bad "file contexts invalid:"; cat "$tmp/fc.log"
fi
while read -r path type; do
	[ -n "$path" ] || continue
	got=$(selabel_lookup -b file -f "$tmp/m.fc" -k "$path" 2>/dev/null |
		sed -n 's/^Default context: [^:]*:[^:]*:\([^:]*\):.*/\1/p')
	if [ "$got" = "$type" ]; then pass "fc $path $type"; else bad "fc $path: '$got', want $type"; fi
done <<'EOF'
/usr/bin/ssm-shell ssm_shell_exec_t
/usr/local/bin/ssm-shell ssm_shell_exec_t
/usr/sbin/ssmctl ssmctl_exec_t
/usr/sbin/ssm-verifyd ssm_verifyd_exec_t
/usr/local/sbin/ssm-verifyd ssm_verifyd_exec_t
/usr/lib/x86_64-linux-gnu/security/pam_ssmsession.so lib_t
/usr/lib/ssmsession/ssm-verify.so lib_t
/usr/lib/systemd/system/ssm-verifyd.service ssm_unit_t
/usr/lib/systemd/system/ssm-sshd.service ssm_unit_t
/etc/ssmsession/ssmsession.json ssm_etc_t
/etc/ssmsession/trusted_keys.jwks ssm_etc_t
/etc/ssmsession/documents/SSM-SessionManagerRunShell.json ssm_etc_t
/var/lib/ssmsession/replay/x ssm_var_lib_t
/run/ssmsession/sessions/1-2.json ssm_var_run_t
/run/ssmsession/verifyd.sock ssm_verifyd_sock_t
/var/log/ssmsession/audit.jsonl ssm_log_t
/var/log/ssmsession/sessions ssm_transcript_t
/var/log/ssmsession/sessions/s-1.cast ssm_transcript_t
EOF

# 4. the rules, a table read by setools (the library sesearch is made of: one policy load
# instead of ~200 sesearch runs of a second each; each failure prints its sesearch line).
#   allow S T C PERMS...     every permission granted, through attributes too, with the
#                            booleans at their defaults
#   never S T C PERMS...     none of them, whatever the booleans
#   never_default S T C PERMS...   none of them with the booleans at their defaults
#   trans S T C NEW [BOOL=true|false]   type_transition (with the booleans at their
#                            defaults, or with BOOL set so)
#   domtrans S EXEC NEW      the type_transition and what the exec needs (transition,
#                            execute, entrypoint, sigchld and fd use back to the parent)
#   role R T                 role R may have type T
#   writes_only S T:C...     rules written for S (direct source) grant write-like
#                            permissions on file-like classes only on these T:C
#   entered_only T S...      only these domains may transition or dyntransition to T
#                            (whatever the booleans; attributes count as their members)
#   caps_none S              no capability or capability2 permission for S
py=/usr/bin/python3
$py -c 'import setools' 2>/dev/null || { echo "SKIP: $py lacks setools (python3-setools)"; exit 77; }
sed -e 's/#.*//' >"$tmp/table" <<'EOF'
--- ssm-verifyd: a system daemon; reads /etc/ssmsession, writes only its socket
domtrans init_t ssm_verifyd_exec_t ssm_verifyd_t
role system_r ssm_verifyd_t
allow ssm_verifyd_t ssm_etc_t dir search read open getattr
allow ssm_verifyd_t ssm_etc_t file read open getattr
trans ssm_verifyd_t ssm_var_run_t sock_file ssm_verifyd_sock_t
allow ssm_verifyd_t ssm_var_run_t dir search write add_name remove_name
allow ssm_verifyd_t ssm_verifyd_sock_t sock_file create setattr unlink getattr
allow ssm_verifyd_t ssm_verifyd_t unix_stream_socket create bind listen accept read write connectto
allow ssm_verifyd_t ssm_verifyd_t capability setuid setgid
trans ssm_verifyd_t var_run_t dir ssm_var_run_t        # run_dir when missing
allow ssm_verifyd_t ssm_var_run_t dir create
allow ssm_verifyd_t devlog_t sock_file write
never ssm_verifyd_t ssm_etc_t file write append create unlink rename setattr
never ssm_verifyd_t ssm_etc_t dir write add_name remove_name create
never ssm_verifyd_t ssm_var_lib_t file read write append create unlink
never ssm_verifyd_t ssm_var_lib_t dir search write add_name create
never ssm_verifyd_t ssm_log_t file read write append create unlink
never ssm_verifyd_t ssm_log_t dir search write add_name create
never ssm_verifyd_t ssm_var_run_t file write append create unlink rename
never ssm_verifyd_t ssm_verifyd_t capability dac_override sys_admin chown fowner
writes_only ssm_verifyd_t ssm_verifyd_sock_t:sock_file ssm_var_run_t:dir var_run_t:dir devlog_t:sock_file nscd_runtime_t:sock_file console_device_t:chr_file initrc_devpts_t:chr_file init_t:fifo_file initrc_t:fifo_file init_tmpfs_t:file ssm_verifyd_t:file ssm_verifyd_t:fifo_file
--- sshd_t: pam_ssmsession in the login program, and the exec of ssm-shell
domtrans sshd_t ssm_shell_exec_t ssm_shell_t
allow sshd_t ssm_etc_t file read open getattr
allow sshd_t ssm_verifyd_sock_t sock_file write getattr
allow sshd_t ssm_verifyd_t unix_stream_socket connectto
allow sshd_t ssm_var_lib_t dir create search write add_name remove_name
allow sshd_t ssm_var_lib_t file create read write rename unlink
allow sshd_t ssm_var_run_t dir create search write add_name remove_name
allow sshd_t ssm_var_run_t file create read write rename unlink
allow sshd_t ssm_log_t dir create search add_name setattr
allow sshd_t ssm_log_t file create append setattr
trans sshd_t var_lib_t dir ssm_var_lib_t
trans sshd_t var_run_t dir ssm_var_run_t
trans sshd_t var_log_t dir ssm_log_t
never sshd_t ssm_etc_t file write append create unlink rename setattr
never sshd_t ssm_log_t file write unlink rename
--- local_login_t: pam_ssmsession in the login program, and the exec of ssm-shell
domtrans local_login_t ssm_shell_exec_t ssm_shell_t
allow local_login_t ssm_etc_t file read open getattr
allow local_login_t ssm_verifyd_sock_t sock_file write getattr
allow local_login_t ssm_verifyd_t unix_stream_socket connectto
allow local_login_t ssm_var_lib_t dir create search write add_name remove_name
allow local_login_t ssm_var_lib_t file create read write rename unlink
allow local_login_t ssm_var_run_t dir create search write add_name remove_name
allow local_login_t ssm_var_run_t file create read write rename unlink
allow local_login_t ssm_log_t dir create search add_name setattr
allow local_login_t ssm_log_t file create append setattr
trans local_login_t var_lib_t dir ssm_var_lib_t
trans local_login_t var_run_t dir ssm_var_run_t
trans local_login_t var_log_t dir ssm_log_t
never local_login_t ssm_etc_t file write append create unlink rename setattr
never local_login_t ssm_log_t file write unlink rename
--- remote_login_t: pam_ssmsession in the login program, and the exec of ssm-shell
domtrans remote_login_t ssm_shell_exec_t ssm_shell_t
allow remote_login_t ssm_etc_t file read open getattr
allow remote_login_t ssm_verifyd_sock_t sock_file write getattr
allow remote_login_t ssm_verifyd_t unix_stream_socket connectto
allow remote_login_t ssm_var_lib_t dir create search write add_name remove_name
allow remote_login_t ssm_var_lib_t file create read write rename unlink
allow remote_login_t ssm_var_run_t dir create search write add_name remove_name
allow remote_login_t ssm_var_run_t file create read write rename unlink
allow remote_login_t ssm_log_t dir create search add_name setattr
allow remote_login_t ssm_log_t file create append setattr
trans remote_login_t var_lib_t dir ssm_var_lib_t
trans remote_login_t var_run_t dir ssm_var_run_t
trans remote_login_t var_log_t dir ssm_log_t
never remote_login_t ssm_etc_t file write append create unlink rename setattr
never remote_login_t ssm_log_t file write unlink rename
--- su: staff_su_t, sysadm_su_t, user_su_t
domtrans staff_su_t ssm_shell_exec_t ssm_shell_t
domtrans sysadm_su_t ssm_shell_exec_t ssm_shell_t
domtrans user_su_t ssm_shell_exec_t ssm_shell_t
role sysadm_r ssm_shell_t
allow staff_su_t ssm_verifyd_t unix_stream_socket connectto
allow user_su_t ssm_var_lib_t file create write rename
allow sysadm_su_t ssm_log_t file create append
--- selinux/README.md's local module: rshd_t
domtrans rshd_t ssm_shell_exec_t ssm_shell_t
allow rshd_t ssm_verifyd_t unix_stream_socket connectto
allow rshd_t ssm_log_t file create append
--- ssm-shell (setuid) and the session's init
role system_r ssm_shell_t
domtrans unconfined_t ssm_shell_exec_t ssm_shell_t
role unconfined_r ssm_shell_t
domtrans user_t ssm_shell_exec_t ssm_shell_t
role user_r ssm_shell_t
domtrans staff_t ssm_shell_exec_t ssm_shell_t
role staff_r ssm_shell_t
allow ssm_shell_t ssm_etc_t file read open getattr
allow ssm_shell_t ssm_var_run_t file create read write unlink getattr
allow ssm_shell_t ssm_var_run_t dir create search write add_name remove_name
allow ssm_shell_t ssm_log_t dir create search add_name
allow ssm_shell_t ssm_log_t file create append setattr getattr
trans ssm_shell_t ssm_log_t dir ssm_transcript_t          # log_dir/sessions
allow ssm_shell_t ssm_log_t dir write add_name
allow ssm_shell_t ssm_transcript_t dir create search read open getattr write add_name
allow ssm_shell_t ssm_transcript_t file create open append setattr getattr
allow ssm_shell_t ssm_shell_t capability setuid setgid sys_admin sys_resource chown fowner kill
allow ssm_shell_t ssm_shell_t process setrlimit sigkill fork
allow ssm_shell_t proc_t filesystem mount          # the session's own /proc
allow ssm_shell_t proc_t dir mounton
allow ssm_shell_t root_t dir mounton               # MS_SLAVE on /
trans ssm_shell_t devpts_t chr_file user_devpts_t  # the session's pty
allow ssm_shell_t ptmx_t chr_file read write open
allow ssm_shell_t user_devpts_t chr_file read write setattr
allow ssm_shell_t sshd_devpts_t chr_file read write setattr   # the client's terminal
domtrans ssm_shell_t shell_exec_t unconfined_t     # the session's program, by default
trans ssm_shell_t shell_exec_t process user_t ssmsession_unconfined_sessions=false
never ssm_shell_t ssm_log_t file read write unlink rename     # append only
never ssm_shell_t ssm_log_t dir remove_name rmdir
never ssm_shell_t ssm_transcript_t file read write unlink rename link   # creates, never rewrites
never ssm_shell_t ssm_transcript_t dir remove_name rmdir rename reparent
never_default ssm_shell_t http_port_t tcp_socket name_connect   # Port: the recorder's
never ssm_shell_t ssm_etc_t file write append create unlink rename setattr
never ssm_shell_t ssm_etc_t dir write add_name remove_name
never ssm_shell_t ssm_var_lib_t file write append create unlink
never user_t ssm_log_t file write append unlink rename setattr
never user_t ssm_transcript_t file write append unlink rename setattr
never user_t ssm_shell_t process signal sigkill sigstop ptrace
never user_t ssm_var_run_t file write append unlink
--- ssm-shell's recorder: ssm_recorder_t, entered with setcon after the privilege drop
role system_r ssm_recorder_t
role unconfined_r ssm_recorder_t
role user_r ssm_recorder_t
role staff_r ssm_recorder_t
role sysadm_r ssm_recorder_t
allow ssm_shell_t ssm_shell_t process setcurrent
allow ssm_shell_t ssm_recorder_t process dyntransition
entered_only ssm_recorder_t ssm_shell_t
allow ssm_shell_t security_t security check_context      # the context, checked first
allow ssm_shell_t security_t file read open getattr         # selinuxfs: enforce
allow ssm_shell_t ssm_recorder_t process sigchld          # init's end
never ssm_recorder_t ssm_recorder_t process setcurrent dyntransition setexec
never ssm_recorder_t ssm_shell_t process dyntransition transition
# what it uses: descriptors ssm-shell opened, and nothing it opens itself
allow ssm_recorder_t ssm_shell_t fd use
allow ssm_recorder_t ssm_shell_t fifo_file read write getattr     # pipes to init, the session
allow ssm_recorder_t ssm_transcript_t file append write getattr   # write: ftruncate on close
allow ssm_recorder_t ssm_log_t file append getattr
allow ssm_recorder_t ssm_var_run_t file write getattr             # SID.end
allow ssm_recorder_t ptmx_t chr_file read write ioctl getattr     # the pty master
allow ssm_recorder_t sshd_devpts_t chr_file read write ioctl getattr   # the client's terminal
allow ssm_recorder_t user_devpts_t chr_file read write ioctl getattr
allow ssm_recorder_t sshd_t fd use                                # sshd's pipes, no pty
allow ssm_recorder_t sshd_t fifo_file read write
allow ssm_recorder_t sshd_t process sigchld
allow ssm_recorder_t local_login_t fd use
allow ssm_recorder_t user_su_t fd use
allow ssm_recorder_t ssm_shell_t process sigkill                  # init: the backstop
allow ssm_recorder_t devlog_t sock_file write                     # the journal's copy
allow ssm_recorder_t ssm_recorder_t file read open                # /proc/self/sessionid
never ssm_recorder_t ssm_transcript_t file open create read unlink rename link setattr
never ssm_recorder_t ssm_transcript_t dir search add_name remove_name write
never ssm_recorder_t ssm_log_t file open create read write unlink rename setattr
never ssm_recorder_t ssm_log_t dir search add_name remove_name write
allow ssm_recorder_t ssm_var_run_t file open read               # run_dir/agent/delivered-SID
allow ssm_recorder_t ssm_var_run_t dir search open read
allow ssm_recorder_t var_run_t dir search                         # /run
never ssm_recorder_t ssm_var_run_t file create append unlink rename link setattr
never ssm_recorder_t ssm_var_run_t dir add_name remove_name write
never ssm_recorder_t ssm_etc_t file open read write
never ssm_recorder_t ssm_var_lib_t file open read write
never ssm_recorder_t shell_exec_t file execute execute_no_trans
never ssm_recorder_t bin_t file execute execute_no_trans
never ssm_recorder_t unconfined_t process transition dyntransition
never ssm_recorder_t user_t process transition dyntransition
never ssm_recorder_t ssm_shell_t process ptrace
caps_none ssm_recorder_t
never_default ssm_recorder_t http_port_t tcp_socket name_connect   # Port sessions: off
writes_only ssm_recorder_t ssm_transcript_t:file ssm_log_t:file ssm_var_run_t:file ssm_shell_t:fifo_file ssm_recorder_t:fifo_file ssm_recorder_t:file ptmx_t:chr_file ptynode:chr_file ttynode:chr_file user_devpts_t:chr_file user_tty_device_t:chr_file console_device_t:chr_file devlog_t:sock_file sshd_t:fifo_file local_login_t:fifo_file remote_login_t:fifo_file rshd_t:fifo_file staff_su_t:fifo_file sysadm_su_t:fifo_file user_su_t:fifo_file unconfined_t:fifo_file user_t:fifo_file staff_t:fifo_file
# the session's domains (and ssm-shell started again inside a session) cannot stop it
never user_t ssm_recorder_t process signal sigkill sigstop signull ptrace setsched
never staff_t ssm_recorder_t process signal sigkill sigstop ptrace
never ssm_shell_t ssm_recorder_t process signal sigkill sigstop signull ptrace
never user_t ssm_recorder_t process dyntransition transition
never user_t ssm_recorder_t fd use
--- ssmctl
domtrans sysadm_t ssmctl_exec_t ssmctl_t
role sysadm_r ssmctl_t
domtrans unconfined_t ssmctl_exec_t ssmctl_t
role unconfined_r ssmctl_t
allow ssmctl_t ssm_etc_t file read open getattr
allow ssmctl_t ssm_var_run_t file read open getattr
allow ssmctl_t ssm_var_lib_t file read open getattr
allow ssmctl_t ssm_log_t file create append
allow ssmctl_t ssm_shell_t process signal
allow ssmctl_t ssm_recorder_t process signal            # sessions terminate
allow ssmctl_t etc_t dir write add_name remove_name        # /etc/sudoers.d
allow ssmctl_t etc_t file create write rename unlink setattr
allow ssmctl_t sudo_exec_t file execute
allow ssmctl_t bin_t file execute                          # visudo
never ssmctl_t ssm_etc_t file write append create unlink rename setattr
never ssmctl_t ssm_var_lib_t file write append create unlink
never ssmctl_t ssm_var_run_t file write append create unlink
never ssmctl_t ssm_log_t file write unlink rename
--- administrators and systemd
allow sysadm_t ssm_log_t file read open getattr
allow sysadm_t ssm_log_t dir search read
allow sysadm_t ssm_transcript_t file read open getattr
allow sysadm_t ssm_transcript_t dir search read
allow init_t ssm_unit_t file read getattr
EOF
$py - "$P" "$tmp/table" <<'PYEOF'
import sys
import setools

pol = setools.SELinuxPolicy(sys.argv[1])
defaults = {b.name: b.state for b in pol.bools()}
WRITE = {"write", "append", "create", "unlink", "rename", "setattr", "add_name",
         "remove_name", "rmdir", "link", "reparent"}
FILECLASSES = ["file", "dir", "lnk_file", "sock_file", "fifo_file", "chr_file", "blk_file"]
n = fail = 0


def holds(rule, state):
    try:
        expr = rule.conditional
    except setools.exception.RuleNotConditional:
        return True
    return expr.evaluate(**state) == rule.conditional_block


# all the rules once, by (rule type, class); a type matches a rule written for it or for
# one of its attributes (as sesearch -s/-t do; direct: the type itself only)
index = {}
for r in pol.terules():
    index.setdefault((str(r.ruletype), str(r.tclass)), []).append(r)
names = {}


def matches(name, direct):
    if direct:
        return {name}
    if name not in names:
        try:
            names[name] = {name} | {str(a) for a in pol.lookup_type(name).attributes()}
        except setools.exception.InvalidType:
            names[name] = {name}
    return names[name]


def rules(kind, s, t, c, state=None, direct=False):
    srcs = matches(s, direct)
    tgts = matches(t, False) if t else None
    return [r for r in index.get((kind, c), [])
            if str(r.source) in srcs and (tgts is None or str(r.target) in tgts)
            and (state is None or holds(r, state))]


def report(ok, what, detail=""):
    global n, fail
    n += 1
    if ok:
        print("ok   " + what)
    else:
        fail += 1
        print("FAIL " + what + (": " + detail if detail else ""))


def allow(s, t, c, *perms):
    have = set()
    for r in rules("allow", s, t, c, defaults):
        have |= set(r.perms)
    miss = [p for p in perms if p not in have]
    report(not miss, "allow %s %s:%s { %s }" % (s, t, c, " ".join(perms)),
           "missing %s (sesearch -A -s %s -t %s -c %s)" % (" ".join(miss), s, t, c))


def known(s, t, c, perms):
    """a check that names an unknown type, class or permission could never fail"""
    try:
        for x in (s, t):
            try:
                pol.lookup_type(x)
            except setools.exception.InvalidType:
                pol.lookup_typeattr(x)
        cls = pol.lookup_class(c)
        valid = set(cls.perms)
        try:
            valid |= set(cls.common.perms)
        except setools.exception.NoCommon:
            pass
    except Exception as e:
        return str(e)
    bad = [p for p in perms if p not in valid]
    return "no permission %s in class %s" % (" ".join(bad), c) if bad else ""


def never(s, t, c, *perms, state=None):
    err = known(s, t, c, perms)
    if err:
        report(False, "never %s %s:%s" % (s, t, c), err)
        return
    bad = [r for r in rules("allow", s, t, c, state) if set(r.perms) & set(perms)]
    report(not bad, "never%s %s %s:%s { %s }" % ("" if state is None else " (defaults)", s, t,
           c, " ".join(perms)), "; ".join(str(r) for r in bad))


def trans(s, t, c, new, cond=None):
    state = defaults
    if cond:
        b, v = cond.split("=")
        state = dict(defaults, **{b: v == "true"})
    got = [str(r.default) for r in rules("type_transition", s, t, c, state)]
    report(new in got, "type_transition %s %s:%s %s%s" % (s, t, c, new,
           " (%s)" % cond if cond else ""), "got %s (sesearch -T -s %s -t %s -c %s)"
           % (got or "none", s, t, c))


def domtrans(s, ex, new):
    trans(s, ex, "process", new)
    allow(s, new, "process", "transition")
    allow(s, ex, "file", "execute", "read", "open", "getattr")
    allow(new, ex, "file", "entrypoint")
    allow(new, s, "process", "sigchld")
    allow(new, s, "fd", "use")


def entered_only(t, *ok):
    found = set()
    for r in index.get(("allow", "process"), []):
        if set(r.perms) & {"transition", "dyntransition"} and \
                t in {str(x) for x in expand(str(r.target))}:
            found |= {str(x) for x in expand(str(r.source))}
    extra = sorted(found - set(ok))
    report(found and not extra, "only %s enter %s" % (" ".join(sorted(found)) or "none", t),
           "also %s (sesearch -A -t %s -c process -p transition,dyntransition)"
           % (" ".join(extra), t))


def expand(name):
    """the types a rule's source or target stands for (an attribute: its members)"""
    try:
        return list(pol.lookup_typeattr(name).expand())
    except setools.exception.InvalidType:
        return [pol.lookup_type(name)]


def caps_none(s):
    bad = []
    for c in ("capability", "capability2", "cap_userns", "cap2_userns"):
        try:
            pol.lookup_class(c)
        except Exception:
            continue
        bad += [str(r) for r in rules("allow", s, None, c)]
    report(not bad, "%s has no capability" % s, "; ".join(bad))


def role(r, t):
    types = {str(x) for x in pol.lookup_role(r).types()}
    report(t in types, "role %s types %s" % (r, t))


def writes_only(s, *ok):
    found = set()
    for c in FILECLASSES:
        for r in rules("allow", s, None, c, direct=True):
            if set(r.perms) & WRITE:
                found.add("%s:%s" % (r.target, r.tclass))
    extra = sorted(found - set(ok))
    report(found and not extra, "%s writes only to %s" % (s, " ".join(sorted(found))),
           "also to %s (sesearch -A -ds -s %s -p write,...)" % (" ".join(extra), s))


for line in open(sys.argv[2]):
    w = line.split()
    if not w:
        continue
    if w[0] == "---":
        print(line.rstrip())
        continue
    op, args = w[0], w[1:]
    if op == "allow":
        allow(*args)
    elif op == "never":
        never(*args)
    elif op == "never_default":
        never(*args, state=defaults)
    elif op == "trans":
        trans(*args)
    elif op == "domtrans":
        domtrans(*args)
    elif op == "role":
        role(*args)
    elif op == "writes_only":
        writes_only(*args)
    elif op == "entered_only":
        entered_only(*args)
    elif op == "caps_none":
        caps_none(*args)
    else:
        report(False, "unknown table line: " + line.strip())
print("selinux policy rules: %d of %d checks passed" % (n - fail, n))
sys.exit(1 if fail else 0)
PYEOF
r=$?
echo "selinux policy: $((n - fail)) of $n file checks passed"
[ "$fail" = 0 ] && [ $r = 0 ]
