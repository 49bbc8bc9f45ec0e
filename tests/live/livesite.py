"""A simulated site behind iotwall, in network namespaces, for the
integration tests, the demo and the benchmarks.

  clients (<prefix>-c)  --  gateway (<prefix>-g, iotwall inline, FORWARD)  --  KAs (<prefix>-k)

tests/live/netns.sh builds the namespaces from a site map (every service
address on the client side, every KA address on the KA side); `iotwall
serve-ka` answers the VSL REST interface in the KA namespace; `iotwall
drive` sends a trace's accesses from the client namespace. Everything
started here is stopped, and the namespaces removed, when the Site is
closed, also after a failure or Ctrl-C.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NETNS = os.path.join(HERE, "netns.sh")


def cannot_run():
    """Why the live site cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, NFQUEUE, packet rules)"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed"
    probe = f"iotwall-probe-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return "cannot create a network namespace: " + r.stderr.strip()
    try:
        r = subprocess.run(["ip", "netns", "exec", probe, "iptables", "-A", "OUTPUT", "-p", "tcp",
                            "--dport", "9", "-j", "NFQUEUE", "--queue-num", "0"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return "NFQUEUE is not available: " + r.stderr.strip()
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Site:
    def __init__(self, binary, workdir, site_map, prefix=None):
        self.bin = binary
        self.dir = workdir
        self.site_map = site_map
        self.prefix = prefix or f"iw{os.getpid() % 100000}"
        self.procs = []
        os.makedirs(workdir, exist_ok=True)

    # --- namespaces -----------------------------------------------------
    def __enter__(self):
        self.down()  # a leftover of a crashed run with the same prefix
        subprocess.run(["bash", NETNS, "up", self.prefix, self.site_map], check=True,
                       stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.procs = []
        self.down()

    def down(self):
        subprocess.run(["bash", NETNS, "down", self.prefix], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def ns(self, side):
        return ["ip", "netns", "exec", f"{self.prefix}-{side}"]

    def run(self, side, args, **kw):
        return subprocess.run(self.ns(side) + args, **kw)

    def start(self, side, args, log_name):
        log = open(os.path.join(self.dir, log_name), "ab")
        p = subprocess.Popen(self.ns(side) + args, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append(p)
        return p

    # --- the KA side ------------------------------------------------------
    def start_kas(self, ports="8081-8099", trace=None):
        args = [self.bin, "serve-ka", "--ports", ports, "--site-map", self.site_map]
        if trace:
            args += ["--trace", trace]
        p = self.start("k", args, "ka.log")
        time.sleep(0.3)
        if p.poll() is not None:
            raise RuntimeError("serve-ka exited: " + self.log("ka.log"))
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # --- traffic ------------------------------------------------------------
    def drive(self, args, report_name, progress=False, timeout=None):
        """Runs `iotwall drive` in the client namespace; returns its JSON report."""
        report = os.path.join(self.dir, report_name)
        cmd = self.ns("c") + [self.bin, "drive", "--site-map", self.site_map, "--report", report] + args
        if progress:
            cmd.append("--progress")
        out = None if progress else subprocess.DEVNULL
        r = subprocess.run(cmd, stdout=out, stderr=None if progress else subprocess.PIPE,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"drive failed ({r.returncode}): {r.stderr}")
        with open(report) as f:
            return json.load(f)


class Daemon:
    """iotwall run in the gateway namespace, and its control CLI."""

    def __init__(self, site, config_overrides="", name="iotwall"):
        self.site = site
        self.name = name
        self.sock = os.path.join(site.dir, name + ".sock")
        self.state = os.path.join(site.dir, name + ".db")
        self.config = os.path.join(site.dir, name + ".yaml")
        self.proc = None
        self.write_config(config_overrides)

    def write_config(self, overrides=""):
        base = {
            "mode": "enforce",
            "state": self.state,
            "control": f"\n  socket: {self.sock}\n  group: \"\"",
            "site_map": self.site.site_map,
        }
        keys = {}
        for line in overrides.strip().splitlines():
            if line and not line.startswith(" ") and ":" in line:
                keys[line.split(":", 1)[0]] = True
        text = "".join(f"{k}: {v}\n" for k, v in base.items() if k not in keys)
        with open(self.config, "w") as f:
            f.write(text + overrides.strip() + "\n")

    def start(self, wait=True):
        self.proc = self.site.start("g", [self.site.bin, "run", "--config", self.config], self.name + ".log")
        if wait:
            deadline = time.time() + 10
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("iotwall run exited: " + self.site.log(self.name + ".log"))
                if os.path.exists(self.sock):
                    try:
                        self.ctl("status")
                        return self
                    except RuntimeError:
                        pass
                time.sleep(0.05)
            raise RuntimeError("iotwall run did not come up: " + self.site.log(self.name + ".log"))
        return self

    def ctl(self, *args):
        r = subprocess.run([self.site.bin, *args, "--socket", self.sock, "--json"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"iotwall {' '.join(args)}: {r.stdout}{r.stderr}")
        return json.loads(r.stdout)

    def stop(self):
        """SIGTERM; returns the seconds it took to exit."""
        t = time.time()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        return time.time() - t

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def rules(self):
        r = self.site.run("g", ["iptables-save"], capture_output=True, text=True)
        return [l for l in r.stdout.splitlines() if "IOTWALL" in l or "iotwall" in l]


def verdict(failures, work, keep):
    """The exit status of a live test: its failures, else 0 (the work
    directory removed unless the caller named it)."""
    if failures:
        say(f"FAILED: {len(failures)} checks (logs in {work})")
        return 1
    say("all checks passed")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def say(*a):
    print(*a, flush=True)
    sys.stdout.flush()
