#!/usr/bin/env python3
"""install_trace.py TRACE ALLOWED_DIR... - for tests/install_tree.sh: read an
`strace -f -y -e status=successful` log of `make install` and print every path a writing
system call named outside the allowed directories.  Relative paths are resolved against the
calling process's working directory, followed through chdir/fchdir and fork (a child starts
in its parent's); strace -y's AT_FDCWD<path> and FD<path> give it outright where shown.
The first process starts in the current directory (the build dir)."""
import os
import re
import sys

trace, allowed_dirs = sys.argv[1], sys.argv[2:]
allowed = {os.path.realpath(p) for p in allowed_dirs} | set(allowed_dirs)
start_cwd = os.getcwd()
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")
# syscall -> {index of a written path argument: index of its dirfd argument or None}
WRITES = {"mkdir": {0: None}, "mkdirat": {1: 0}, "unlink": {0: None}, "unlinkat": {1: 0},
          "rmdir": {0: None},
          "rename": {0: None, 1: None}, "renameat": {1: 0, 3: 2}, "renameat2": {1: 0, 3: 2},
          "symlink": {1: None}, "symlinkat": {2: 1}, "link": {1: None}, "linkat": {3: 2},
          "chmod": {0: None}, "fchmodat": {1: 0}, "chown": {0: None}, "fchownat": {1: 0},
          "lchown": {0: None}, "truncate": {0: None}, "creat": {0: None},
          "utimensat": {1: 0}, "mknod": {0: None}, "mknodat": {1: 0}}
FORKS = ("clone", "clone3", "fork", "vfork")
done_re = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\w+)")
unfinished_re = re.compile(r"^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$")
resumed_re = re.compile(r"^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(-?\w+)")


def split_args(s):
    out, cur, quoted, depth, esc = [], "", False, 0, False
    for ch in s:
        if quoted:
            cur += ch
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch in "[{(<":
            depth += 1
        elif ch in "]})>":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def unq(a):
    return a[1:-1] if len(a) > 1 and a[0] == '"' and a[-1] == '"' else None


def fd_path(a):
    m = re.match(r"^(?:-?\d+|AT_FDCWD)<(.*)>$", a)
    return m.group(1) if m else None


events, pending = [], {}
for line in open(trace, errors="replace"):
    line = line.rstrip("\n")
    m = done_re.match(line)
    if m:
        events.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
        continue
    m = unfinished_re.match(line)
    if m:
        pending[int(m.group(1))] = (m.group(2), m.group(3))
        continue
    m = resumed_re.match(line)
    if m:
        pid = int(m.group(1))
        call, head = pending.pop(pid, (m.group(2), ""))
        events.append((pid, call, head + m.group(3), m.group(4)))

parent = {}
for pid, call, args, ret in events:
    if call in FORKS and ret.isdigit():
        parent.setdefault(int(ret), pid)
cwd = {}


def getcwd(pid, seen=()):
    if pid not in cwd:
        pp = parent.get(pid)
        cwd[pid] = getcwd(pp, seen + (pid,)) if pp is not None and pp not in seen else start_cwd
    return cwd[pid]


for pid, call, args, ret in events:
    a = split_args(args)
    here = getcwd(pid)
    for x in a:
        if x.startswith("AT_FDCWD<"):
            cwd[pid] = here = fd_path(x)
    if call in FORKS:
        if ret.isdigit():
            cwd.setdefault(int(ret), here)
        continue
    if call == "chdir" and a and unq(a[0]) is not None:
        cwd[pid] = os.path.normpath(os.path.join(here, unq(a[0])))
        continue
    if call == "fchdir" and a and fd_path(a[0]):
        cwd[pid] = fd_path(a[0])
        continue
    if call in ("open", "openat"):
        pi = 0 if call == "open" else 1
        writes = len(a) > pi + 1 and any(f in a[pi + 1] for f in WRITE_FLAGS)
        idx = {pi: (None if call == "open" else 0)} if writes else {}
    else:
        idx = WRITES.get(call, {})
    for i, di in idx.items():
        p = unq(a[i]) if i < len(a) else None
        if not p:
            continue
        if not p.startswith("/"):
            base = fd_path(a[di]) if di is not None and di < len(a) else None
            p = os.path.join(base or here, p)
        p = os.path.normpath(p)
        if p in ("/dev/null", "/dev/tty"):
            continue
        if not any(p == d or p.startswith(d.rstrip("/") + "/") for d in allowed):
            print(call, p)
