#!/usr/bin/env python3
"""The inline firewall's latency and throughput benchmark (`make bench`).

One simulated site in network namespaces (tests/live/livesite.py):

  clients (-c)  --  gateway (-g: FORWARD, the queue rules)  --  KAs (-k: iotwall serve-ka)

The same traffic goes through the gateway in three configurations, in the
same run, interleaved (none, accept-all, iotwall, none, ...) so that the
noise of a shared machine hits all three alike:

  none        no rules: the kernel forwards (the baseline of "added");
  accept-all  the daemon's own queue rules (firewall/rule_spec.cc), sending
              the VSL ports to queue 1, where iotwall_nfq_accept_all
              accepts every packet (the floor of any NFQUEUE firewall);
  iotwall     the same rules to queue 0, where `iotwall run` (enforce mode,
              `rules.backend: none`) decodes, scores and decides.

Both NFQUEUE programs stay bound for the whole run; switching a
configuration swaps the rules only, so both see exactly the same rules and
neither restarts. iotwall first learns the benchmark's own traffic (learning
mode, then enforce by SIGHUP, as tests/live/inline_test.py does): the
measured traffic is known and accepted; a measured request that iotwall
drops invalidates the figures (reported).

Measurements (`iotwall drive --flood`, reads of each service's own node):
  latency     ONE connection, requests one at a time (closed loop), N of them:
              p50, p90, p99, max; added = config - none (p50 and p99);
  throughput  16 connections back to back: requests/s.
Each is repeated (3 times by default) and the medians are reported, with
the spread between repetitions. Then the verdicts on issue 5's goals.

Usage: inline_bench.py BINARY_DIR [--quick] [--reps N] [--work DIR] [--json FILE]
                                  [--backend auto|nftables|iptables] [--strict]
BINARY_DIR: the build directory (daemon/iotwall, tests/firewall/iotwall_nfq_accept_all).
Exit: 0 measured (goals met or not; --strict: 1 when one is not), 1 failed or
the figures are invalid, 77 skipped (not root, no namespaces or NFQUEUE).
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "live"))
import livesite  # noqa: E402
from livesite import say  # noqa: E402

PORTS = "8080-8179"           # config rules.ports default: the VSL servers' ports
RESET_MARK = "0x10771077"     # firewall/ticket.h kDefaultResetMark
IOTWALL_QUEUE = 0
ACCEPT_ALL_QUEUE = 1
CONFIGS = ("none", "accept-all", "iotwall")
LEARNING_PHASE_S = 2.0        # detector.learning_phase: the services leave it before enforce


def machine(bindir):
    """What the figures were measured on: date, kernel, cores, build type, load."""
    build_type = "?"
    try:
        with open(os.path.join(bindir, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    build_type = line.split("=", 1)[1].strip() or "(none)"
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "kernel": os.uname().release,
            "cores": os.cpu_count(), "build_type": build_type, "load_at_start": float(load)}


def find_binary(bindir, name, candidates):
    for c in candidates:
        p = os.path.join(bindir, c, name)
        if os.access(p, os.X_OK):
            return os.path.abspath(p)
    for root, _, files in os.walk(bindir):
        if name in files and os.access(os.path.join(root, name), os.X_OK):
            return os.path.abspath(os.path.join(root, name))
    return None


# --- the queue rules ---------------------------------------------------------
class QueueRules:
    """The daemon's packet rules for `rules: {hook: forward, ports: [8080-8179]}`,
    as firewall/rule_spec.cc renders them, installed in the gateway namespace
    with the queue number of the configuration being measured (or none)."""

    def __init__(self, site, backend):
        self.site = site
        self.backend = backend

    @staticmethod
    def detect(site):
        # The daemon's own test (firewall/rules.cc detect_backend): nftables
        # when the kernel has the queue expression, else iptables.
        probe = ("table inet iotwall_probe {\n\tchain c {\n\t\tmeta l4proto tcp queue num 0 bypass\n\t}\n}\n"
                 "delete table inet iotwall_probe\n")
        r = site.run("g", ["nft", "-f", "-"], input=probe, capture_output=True, text=True)
        return "nftables" if r.returncode == 0 else "iptables"

    def nft_text(self, queue):
        text = "table inet iotwall {}\ndelete table inet iotwall\n"
        if queue is None:
            return text
        lo, hi = PORTS.split("-")
        return text + (
            "table inet iotwall {\n"
            "\tchain forward {\n"
            "\t\ttype filter hook forward priority 0; policy accept;\n"
            f"\t\tmeta l4proto tcp meta mark {RESET_MARK} reject with tcp reset\n"
            "\t\ttcp flags & rst == rst return\n"
            f"\t\ttcp dport {{ {lo}-{hi} }} queue num {queue}\n"
            f"\t\ttcp sport {{ {lo}-{hi} }} queue num {queue}\n"
            "\t}\n}\n")

    def iptables_text(self, queue):
        ports = PORTS.replace("-", ":")
        target = f"-j NFQUEUE --queue-num {queue}"
        return ("*filter\n:IOTWALL - [0:0]\n"
                f"-A IOTWALL -p tcp -m mark --mark {RESET_MARK} -j REJECT --reject-with tcp-reset\n"
                "-A IOTWALL -p tcp -m tcp --tcp-flags RST RST -j RETURN\n"
                f"-A IOTWALL -p tcp -m multiport --dports {ports} {target}\n"
                f"-A IOTWALL -p tcp -m multiport --sports {ports} {target}\n"
                "-I FORWARD 1 -m comment --comment iotwall -j IOTWALL\nCOMMIT\n")

    def set(self, queue):
        """Installs the rules sending the VSL ports to `queue` (None: no rules)."""
        if self.backend == "nftables":
            r = self.site.run("g", ["nft", "-f", "-"], input=self.nft_text(queue), capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("nft: " + r.stderr.strip())
            return
        # iptables: the gateway namespace is ours alone; start from empty chains.
        for args in (["-F", "FORWARD"], ["-F", "IOTWALL"], ["-X", "IOTWALL"]):
            self.site.run("g", ["iptables", *args], capture_output=True)
        if queue is not None:
            r = self.site.run("g", ["iptables-restore", "--noflush"], input=self.iptables_text(queue),
                              capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("iptables-restore: " + r.stderr.strip())

    def text(self, queue):
        return self.nft_text(queue) if self.backend == "nftables" else self.iptables_text(queue)


def kernel_queue_stats(site):
    """/proc/net/netfilter/nfnetlink_queue in the gateway: {queue: {...}} of
    the bound queues (net/netfilter/nfnetlink_queue.c seq_show)."""
    r = site.run("g", ["cat", "/proc/net/netfilter/nfnetlink_queue"], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 8:
            out[int(f[0])] = {"portid": int(f[1]), "waiting": int(f[2]), "copy_mode": int(f[3]),
                              "copy_range": int(f[4]), "dropped": int(f[5]), "user_dropped": int(f[6]),
                              "id_sequence": int(f[7])}
    return out


# --- figures -----------------------------------------------------------------
def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs):
    """(max - min) / median, in %: how far the repetitions disagree."""
    m = med(xs)
    return 100.0 * (max(xs) - min(xs)) / m if xs and m > 0 else float("nan")


def us(ms):
    return f"{1000 * ms:7.1f}"


STATUS_KEYS = ("packets", "accepted", "dropped", "rejected", "held", "accesses", "anomalies", "hold_limit",
               "non_vsl", "malformed", "kernel_lost")


def queue_status(daemon):
    return daemon.ctl("status")["queues"][0]


def delta(after, before):
    d = {k: after.get(k, 0) - before.get(k, 0) for k in STATUS_KEYS}
    d["undecided"] = after.get("undecided", 0)
    d["pending"] = after.get("pending", 0)
    return d


def check_answered(rep, what, problems):
    t = rep["total"]
    bad = {k: t[k] for k in ("non_2xx", "reset", "timeout", "refused", "error", "unfinished") if t.get(k)}
    if t["answered"] != t["rows"] or bad:
        problems.append(f"{what}: answered {t['answered']} of {t['rows']} {bad}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bindir")
    ap.add_argument("--quick", action="store_true", help="fewer requests (under a minute)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of each measurement (odd: a true median)")
    ap.add_argument("--latency-requests", type=int, default=None)
    ap.add_argument("--throughput-requests", type=int, default=None)
    ap.add_argument("--connections", type=int, default=16, help="throughput: connections")
    ap.add_argument("--backend", choices=("auto", "nftables", "iptables"), default="auto")
    ap.add_argument("--work", help="work directory (kept); default: a temporary one, removed")
    ap.add_argument("--json", help="write the results as JSON to FILE")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is not met")
    a = ap.parse_args()
    if not 1 <= a.reps <= 15:
        ap.error("--reps must be 1..15")
    lat_n = a.latency_requests or (500 if a.quick else 3000)
    thr_n = a.throughput_requests or (4000 if a.quick else 20000)
    learn_n = 2000 if a.quick else 6000

    iotwall = find_binary(a.bindir, "iotwall", ["daemon", "."])
    accept_all = find_binary(a.bindir, "iotwall_nfq_accept_all", ["tests/firewall", "tests/bench", "."])
    if not iotwall or not accept_all:
        say(f"inline_bench: iotwall or iotwall_nfq_accept_all not found under {a.bindir} "
            "(build the targets iotwall and iotwall_nfq_accept_all)")
        return 1
    why = livesite.cannot_run()
    if why:
        say(f"SKIP: {why}")
        return 77

    # SIGTERM as Ctrl-C: the Site's cleanup runs either way.
    def on_term(*_):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    work = a.work or tempfile.mkdtemp(prefix="iotwall-bench-")
    os.makedirs(work, exist_ok=True)
    started = time.time()
    trace, site_map = os.path.join(work, "site.csv"), os.path.join(work, "site.yaml")
    r = subprocess.run([iotwall, "sim", "--rooms", "4", "--hours", "1", "--seed", "1", "--out", trace,
                        "--pcap", os.path.join(work, "site.pcap"), "--site-map", site_map],
                       capture_output=True, text=True)
    if r.returncode != 0:
        say("sim failed: " + r.stderr)
        return 1

    results = {"machine": machine(a.bindir), "reps": a.reps, "latency_requests": lat_n, "throughput_requests": thr_n,
               "throughput_connections": a.connections, "runs": []}
    problems = []  # reasons the figures do not count
    try:
        with livesite.Site(iotwall, work, site_map, prefix=f"iwb{os.getpid() % 1000000}") as site:
            backend = QueueRules.detect(site) if a.backend == "auto" else a.backend
            rules = QueueRules(site, backend)
            results["backend"] = backend
            site.start_kas()
            acc = site.start("g", [accept_all, "--queue", str(ACCEPT_ALL_QUEUE), "--batch"], "accept_all.log")
            d = livesite.Daemon(site, "mode: learning\nrules:\n  backend: none\n"
                                f"queue:\n  numbers: [{IOTWALL_QUEUE}]\n"
                                f"detector:\n  learning_phase: {LEARNING_PHASE_S}s\n")
            d.start()
            time.sleep(0.2)
            if acc.poll() is not None:
                raise RuntimeError("iotwall_nfq_accept_all exited: " + site.log("accept_all.log"))
            say(f"site up ({backend} rules, the daemon's, to queue {IOTWALL_QUEUE} or {ACCEPT_ALL_QUEUE}); "
                f"work dir {work}")

            def flood(conns, n, name):
                return site.drive(["--flood", "--connections", str(conns), "--requests", str(n),
                                   "--duration", "60"], name + ".json", timeout=90)

            # Learning: the benchmark's own traffic, at the benchmark's rates.
            rules.set(IOTWALL_QUEUE)
            t_learn = time.time()
            for conns, n in ((a.connections, learn_n), (1, learn_n // 4)):
                check_answered(flood(conns, n, f"learn-{conns}"), f"learning ({conns} connections)", problems)
            time.sleep(max(0.0, LEARNING_PHASE_S + 0.5 - (time.time() - t_learn)))
            d.write_config("mode: enforce\nrules:\n  backend: none\n"
                           f"queue:\n  numbers: [{IOTWALL_QUEUE}]\n"
                           f"detector:\n  learning_phase: {LEARNING_PHASE_S}s\n")
            d.reload()
            deadline = time.time() + 5
            while d.ctl("status")["mode"] != "enforce" and time.time() < deadline:
                time.sleep(0.05)
            if d.ctl("status")["mode"] != "enforce":
                raise RuntimeError("SIGHUP did not switch iotwall to enforce: " + site.log("iotwall.log"))
            edges = d.ctl("graph")["edges"]
            say(f"learned {len(edges)} edges ({sorted({e['state'] for e in edges})}); iotwall in enforce")
            # A warm-up in enforce: the measured traffic must pass untouched.
            before = queue_status(d)
            check_answered(flood(a.connections, learn_n // 4, "warmup"), "warm-up in enforce", problems)
            w = delta(queue_status(d), before)
            if w["dropped"] or w["rejected"]:
                problems.append(f"warm-up in enforce: iotwall dropped {w['dropped']} rejected {w['rejected']} "
                                f"(anomalies {w['anomalies']}): the flood is not accepted as learned")
            say(f"warm-up in enforce: packets {w['packets']}, dropped {w['dropped']}, anomalies {w['anomalies']}")

            queue_of = {"none": None, "accept-all": ACCEPT_ALL_QUEUE, "iotwall": IOTWALL_QUEUE}
            for rep in range(a.reps):
                for cfg in CONFIGS:
                    rules.set(queue_of[cfg])
                    before = queue_status(d)
                    lat = flood(1, lat_n, f"lat-{cfg}-{rep}")
                    thr = flood(a.connections, thr_n, f"thr-{cfg}-{rep}")
                    run = {"config": cfg, "rep": rep + 1, "latency_ms": lat["latency_ms"]["all"],
                           "latency_total": lat["total"], "requests_per_s": thr["requests_per_s"],
                           "throughput_latency_ms": thr["latency_ms"]["all"], "throughput_total": thr["total"]}
                    check_answered(lat, f"{cfg} latency run {rep + 1}", problems)
                    check_answered(thr, f"{cfg} throughput run {rep + 1}", problems)
                    if cfg == "iotwall":
                        run["daemon"] = delta(queue_status(d), before)
                        dd = run["daemon"]
                        if dd["dropped"] or dd["rejected"]:
                            problems.append(f"iotwall run {rep + 1}: dropped {dd['dropped']}, rejected "
                                            f"{dd['rejected']} (anomalies {dd['anomalies']})")
                    if cfg != "none":
                        run["kernel_queue"] = kernel_queue_stats(site).get(queue_of[cfg])
                    results["runs"].append(run)
                    l = run["latency_ms"]
                    say(f"  rep {rep + 1} {cfg:10s} latency p50 {l['p50'] * 1000:6.1f} us  p99 "
                        f"{l['p99'] * 1000:7.1f} us  max {l['max'] * 1000:7.1f} us   "
                        f"{run['requests_per_s']:8.0f} requests/s")
            rules.set(None)
            final_status = d.ctl("status")
            results["daemon_status"] = final_status["queues"][0]
            results["kernel_queue_end"] = kernel_queue_stats(site)
            results["ruleset_example"] = rules.text(IOTWALL_QUEUE)
            acc.send_signal(signal.SIGTERM)
            try:
                acc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            results["accept_all_log"] = site.log("accept_all.log").strip().splitlines()[-1:]
            d.stop()
    except KeyboardInterrupt:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
        say("interrupted: cleaned up")
        return 1
    except (RuntimeError, subprocess.TimeoutExpired, OSError, KeyError, ValueError) as e:
        say(f"inline_bench failed: {e} (logs in {work})")
        return 1

    results["elapsed_s"] = time.time() - started
    with open("/proc/loadavg") as f:
        results["machine"]["load_at_end"] = float(f.read().split()[0])
    results["problems"] = problems
    verdicts = report(results)
    results["verdicts"] = verdicts
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        say("FIGURES INVALID: " + "; ".join(problems))
        return 1
    if a.strict and not all(v["met"] for v in verdicts.values()):
        return 1
    return 0


def report(res):
    runs = res["runs"]

    def series(cfg, f):
        return [f(r) for r in runs if r["config"] == cfg]

    m = {}
    for cfg in CONFIGS:
        s = {k: series(cfg, lambda r, k=k: r["latency_ms"][k]) for k in ("p50", "p90", "p99", "max")}
        s["rps"] = series(cfg, lambda r: r["requests_per_s"])
        m[cfg] = s
    say("")
    say(f"inline benchmark: {res['reps']} repetitions interleaved, medians; latency: 1 connection, "
        f"{res['latency_requests']} requests; throughput: {res['throughput_connections']} connections, "
        f"{res['throughput_requests']} requests; rules: {res['backend']}")
    mc = res["machine"]
    say(f"{mc['date']}, kernel {mc['kernel']}, {mc['cores']} cores, build {mc['build_type']}, load average "
        f"{mc['load_at_start']:.2f} at the start, {mc['load_at_end']:.2f} at the end")
    say(f"{'config':11s} {'p50 us':>8s} {'p90 us':>8s} {'p99 us':>8s} {'max us':>8s} "
        f"{'+p50 us':>8s} {'+p99 us':>8s} {'req/s':>8s}  spread p50/p99/req/s")
    base50, base99 = med(m["none"]["p50"]), med(m["none"]["p99"])
    added = {}
    for cfg in CONFIGS:
        s = m[cfg]
        a50, a99 = med(s["p50"]) - base50, med(s["p99"]) - base99
        added[cfg] = (a50, a99)
        say(f"{cfg:11s} {us(med(s['p50'])):>8s} {us(med(s['p90'])):>8s} {us(med(s['p99'])):>8s} "
            f"{us(med(s['max'])):>8s} {us(a50) if cfg != 'none' else '':>8s} "
            f"{us(a99) if cfg != 'none' else '':>8s} {med(s['rps']):8.0f}  "
            f"{spread(s['p50']):.0f} % / {spread(s['p99']):.0f} % / {spread(s['rps']):.0f} %")
    res["medians"] = {cfg: {k: med(v) for k, v in m[cfg].items()} for cfg in CONFIGS}
    res["added_ms"] = {cfg: {"p50": added[cfg][0], "p99": added[cfg][1]} for cfg in ("accept-all", "iotwall")}

    say("")
    for r in runs:
        if r["config"] == "iotwall":
            dd = r["daemon"]
            say(f"iotwall run {r['rep']}: packets {dd['packets']}, accepted {dd['accepted']}, dropped "
                f"{dd['dropped']}, rejected {dd['rejected']}, undecided {dd['undecided']}, accesses "
                f"{dd['accesses']}, anomalies {dd['anomalies']}, kernel_lost {dd['kernel_lost']}")
        if r["config"] != "none":
            k = r.get("kernel_queue") or {}
            say(f"  kernel queue {r['config']} run {r['rep']}: waiting {k.get('waiting')}, dropped "
                f"{k.get('dropped')}, user_dropped {k.get('user_dropped')}, packets so far {k.get('id_sequence')}")
    st = res["daemon_status"]
    say(f"iotwall at the end: packets {st['packets']}, dropped {st['dropped']}, undecided {st['undecided']}, "
        f"pending {st['pending']}; {' '.join(res.get('accept_all_log', []))}")

    v = {}
    acc50, iot50 = added["accept-all"][0], added["iotwall"][0]
    if acc50 > 0:
        ratio = iot50 / acc50
        v["latency_p50"] = {"met": ratio <= 1.25, "text": f"added median {iot50 * 1000:.1f} us = {ratio:.2f}x "
                            f"accept-all's {acc50 * 1000:.1f} us (goal <= 1.25x)"}
    else:
        v["latency_p50"] = {"met": iot50 <= 0.0, "text": f"accept-all adds no measurable median "
                            f"({acc50 * 1000:.1f} us); iotwall adds {iot50 * 1000:.1f} us"}
    iot99 = added["iotwall"][1]
    v["latency_p99"] = {"met": iot99 < 1.0, "text": f"added p99 {iot99 * 1000:.1f} us (p99 itself "
                        f"{med(m['iotwall']['p99']) * 1000:.1f} us; goal < 1000 us, published 6 ms)"}
    tr = med(m["iotwall"]["rps"]) / med(m["accept-all"]["rps"])
    v["throughput"] = {"met": tr >= 0.8, "text": f"{med(m['iotwall']['rps']):.0f} requests/s = {100 * tr:.0f} % "
                       f"of accept-all's {med(m['accept-all']['rps']):.0f} (goal >= 80 %)"}
    undecided = max([st["undecided"]] + [r["daemon"]["undecided"] for r in runs if r["config"] == "iotwall"])
    # dropped / user_dropped count since the queue was bound: the last run's are the totals.
    kq = [r.get("kernel_queue") or {} for r in runs if r["config"] != "none"]
    k_bad = max([k.get("waiting", 0) for k in kq] + [0])
    for cfg in ("accept-all", "iotwall"):
        last = [r.get("kernel_queue") or {} for r in runs if r["config"] == cfg][-1:]
        k_bad += sum(k.get("dropped", 0) + k.get("user_dropped", 0) for k in last)
    v["no_verdict_missing"] = {"met": undecided == 0 and k_bad == 0 and st.get("kernel_lost", 0) == 0,
                               "text": f"undecided {undecided}; kernel queues: waiting (max after a run) + dropped + user_dropped "
                               f"{k_bad}; kernel_lost {st.get('kernel_lost', 0)}"}
    say("")
    say("goals (issue 5):")
    for name, x in v.items():
        say(f"  {'met    ' if x['met'] else 'NOT MET'}  {name}: {x['text']}")
    say(f"(elapsed {res['elapsed_s']:.0f} s)")
    return v


if __name__ == "__main__":
    sys.exit(main())
