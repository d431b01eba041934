#!/usr/bin/env python3
"""shell_relay.py - ssm-shell's relay measured as sshd sees it, side by side with script(1)
and tlog-rec, in the same run (run by bench/shell_relay.sh inside its private namespace).

Every command runs on an outer pty whose master this process reads as fast as it can.
  throughput   cat of a large file: MiB/s, CPU per MiB over bare cat, peak RSS of the relay
  latency      one byte written to the master until it comes back (stty raw -echo; cat)
  startup      start to end of a relayed `bash -c true`
  idle         N idle sessions: CPU they use over a period, and idle timeouts' accuracy
Environment: T (work dir), LOGIN (the login wrapper), BIG (the file), N_IDLE.
"""
import json, os, pty, resource, select, signal, statistics, subprocess, sys, termios, time, tty

T = os.environ["T"]
LOGIN = os.environ["LOGIN"]
BIG = os.environ["BIG"]


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def spawn(argv):
    """argv on a new outer pty; returns (proc, master fd)."""
    master, slave = pty.openpty()
    tty.setraw(master)
    attrs = termios.tcgetattr(slave)
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=lambda: __import__("fcntl").ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    return p, master


def drain(p, master, watch_pid_file=None):
    """Read the master until EOF; returns (bytes, peak VmHWM kB of the relay or None)."""
    n = 0
    hwm = None
    rpid = None
    last_poll = 0.0
    while True:
        try:
            b = os.read(master, 1 << 16)
        except OSError:
            break
        if not b:
            break
        n += len(b)
        if watch_pid_file:
            now = time.monotonic()
            if now - last_poll > 0.05:
                last_poll = now
                if rpid is None:
                    rpid = relay_pid(watch_pid_file)
                if rpid:
                    h = vmhwm(rpid)
                    if h:
                        hwm = max(hwm or 0, h)
    p.wait()
    os.close(master)
    return n, hwm


def relay_pid(kind):
    if kind == "ssm-shell":
        try:
            live = os.path.join(T, "run", "live")
            for f in os.listdir(live):
                if f.endswith(".json"):
                    pid = json.load(open(os.path.join(live, f)))["pid"]
                    if os.path.exists("/proc/%d" % pid):
                        return pid
        except (OSError, ValueError, KeyError):
            return None
    else:
        out = subprocess.run(["pgrep", "-n", "-x", kind], capture_output=True, text=True)
        return int(out.stdout.split()[0]) if out.stdout.strip() else None
    return None


def vmhwm(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def relays(cmd):
    """The ways to run shell command cmd, each an argv."""
    return {
        "bare": ["sh", "-c", cmd],
        "script": ["script", "-q", "-e", "-c", cmd, "/dev/null"],
        "tlog-rec": ["tlog-rec", "--writer=file", "--file-path=" + T + "/tlog.out", "sh", "-c", cmd],
        "ssm-shell": [LOGIN, "ssmtu", "Bench", "-", "--", "-c", cmd],
    }


def clean_logs():
    for d in (os.path.join(T, "log", "sessions"), os.path.join(T, "run", "live")):
        if os.path.isdir(d):
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
    try:
        os.unlink(T + "/tlog.out")
    except OSError:
        pass


def throughput():
    size = os.path.getsize(BIG)
    mib = size / 1048576.0
    res = {}
    for name, argv in relays("cat " + BIG).items():
        clean_logs()
        c0, t0 = cpu_children(), time.monotonic()
        p, m = spawn(argv)
        n, hwm = drain(p, m, name if name in ("ssm-shell", "script", "tlog-rec") else None)
        t1, c1 = time.monotonic(), cpu_children()
        res[name] = {"mib_s": mib / (t1 - t0), "cpu_s": c1 - c0, "bytes": n, "hwm_kb": hwm,
                     "ok": n >= size}
    base = res["bare"]["cpu_s"]
    print("throughput: cat of %.0f MiB on an outer pty read as fast as possible" % mib)
    print("  %-10s %9s %16s %14s" % ("relay", "MiB/s", "extra CPU ms/MiB", "relay peak RSS"))
    for name, r in res.items():
        if not r["ok"]:
            print("  %-10s failed (%d of %d bytes came through)" % (name, r["bytes"], size))
            continue
        extra = (r["cpu_s"] - base) * 1000.0 / mib if name != "bare" else 0.0
        r["extra_ms_per_mib"] = extra
        print("  %-10s %9.1f %16.2f %14s" % (name, r["mib_s"], extra,
                                            ("%d kB" % r["hwm_kb"]) if r["hwm_kb"] else "-"))
    return res


def latency(rounds=2000):
    res = {}
    for name, argv in relays("stty raw -echo; cat").items():
        if name == "bare":
            continue
        clean_logs()
        p, m = spawn(argv)
        time.sleep(0.5)  # let it start
        lat = []
        try:
            # swallow anything printed at start
            while select.select([m], [], [], 0.2)[0]:
                os.read(m, 4096)
            for i in range(rounds):
                t0 = time.perf_counter()
                os.write(m, b"x")
                got = b""
                while not got:
                    if not select.select([m], [], [], 2)[0]:
                        raise OSError("no echo")
                    got = os.read(m, 64)
                lat.append((time.perf_counter() - t0) * 1e6)
        except OSError as e:
            print("  %-10s failed: %s" % (name, e))
            lat = []
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except OSError:
            pass
        p.wait()
        os.close(m)
        if not lat:
            continue
        lat.sort()
        res[name] = {"median_us": statistics.median(lat), "p99_us": lat[int(len(lat) * 0.99) - 1]}
    print("echo latency: %d round trips of one byte" % rounds)
    for name, r in res.items():
        print("  %-10s median %7.1f us   p99 %7.1f us" % (name, r["median_us"], r["p99_us"]))
    return res


def startup(runs=100):
    """ssm-shell under a record written once for this process (its ancestor), so that only
    ssm-shell's own start and end are timed (no login wrapper, no PAM)."""
    import hashlib
    sha = hashlib.sha256(open(os.path.join(T, "docs", "Bench.json"), "rb").read()).hexdigest()
    subprocess.run([os.path.join(T, "bin", "mkrecord"), os.path.join(T, "run"), str(os.getpid()),
                    os.environ.get("HOST_ID", "i-0123456789abcdef0"), "alice", "ssmtu", "Bench",
                    sha, "3600"], check=True, stdout=subprocess.DEVNULL)
    direct = ["setpriv", "--reuid=ssmtu", "--regid=ssmtu", "--init-groups",
              os.path.join(T, "bin", "ssm-shell"), "-c", "bash -c true"]
    res = {}
    ways = relays("bash -c true")
    ways["ssm-shell"] = direct
    ways["setpriv"] = direct[:4] + ["bash", "-c", "true"]
    for name, argv in ways.items():
        times = []
        for i in range(runs):
            clean_logs()
            t0 = time.perf_counter()
            p, m = spawn(argv)
            drain(p, m)
            times.append((time.perf_counter() - t0) * 1000.0)
        res[name] = {"median_ms": statistics.median(times)}
    print("start to end of a relayed `bash -c true` (ssm-shell: includes writing the record, "
          "no PAM)")
    for name, r in res.items():
        print("  %-10s median %6.2f ms" % (name, r["median_ms"]))
    return res


def idle(n, period=10.0):
    clean_logs()
    procs = []
    for i in range(n):
        p, m = spawn([LOGIN, "ssmtu", "BenchIdle", "-"])
        procs.append((p, m, time.monotonic()))
    time.sleep(3)
    pids = []
    live = os.path.join(T, "run", "live")
    for f in os.listdir(live):
        if f.endswith(".json"):
            pids.append(json.load(open(os.path.join(live, f)))["pid"])

    def ticks():
        s = 0
        for pid in pids:
            try:
                st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
                s += int(st[11]) + int(st[12])
            except OSError:
                pass
        return s
    k0 = ticks()
    time.sleep(period)
    k1 = ticks()
    hz = os.sysconf("SC_CLK_TCK")
    cpu = (k1 - k0) / hz
    # each ends at its idle deadline (idleSessionTimeoutSeconds of BenchIdle): how late?
    deadline = json.load(open(os.path.join(T, "docs", "BenchIdle.json")))["inputs"][
        "idleSessionTimeoutSeconds"]
    open_m = {m: t0 for p, m, t0 in procs}
    late = []
    stop = time.monotonic() + deadline + 30
    while open_m and time.monotonic() < stop:
        ready = select.select(list(open_m), [], [], 1)[0]
        for m in ready:
            try:
                b = os.read(m, 4096)
            except OSError:
                b = b""
            if not b:
                late.append(time.monotonic() - open_m.pop(m) - deadline)
    for p, m, t0 in procs:
        p.wait()
        os.close(m)
    ends = []
    for line in open(os.path.join(T, "log", "audit.jsonl")):
        e = json.loads(line)
        if e.get("event") == "session_end" and e.get("doc") == "BenchIdle":
            ends.append(e.get("reason"))
    print("  idle timeouts: earliest %+.2f s, latest %+.2f s from the deadline (spawn time + "
          "%d s)" % (min(late), max(late), deadline))
    print("%d idle sessions: %.3f s CPU of their recorders over %.0f s; %d of %d ended with "
          "idle_timeout" % (n, cpu, period, ends.count("idle_timeout"), n))
    return {"sessions": n, "cpu_s": cpu, "period_s": period, "late_max_s": max(late),
            "late_min_s": min(late), "idle_timeouts": ends.count("idle_timeout")}


def main():
    what = sys.argv[1:] or ["throughput", "latency", "startup", "idle"]
    out = {}
    for w in what:
        if w == "idle":
            out[w] = idle(int(os.environ.get("N_IDLE", "200")))
        else:
            out[w] = globals()[w]()
    json.dump(out, open(os.path.join(T, "bench.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
