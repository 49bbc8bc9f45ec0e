#!/usr/bin/env python3
"""The inline firewall's soak (`make soak`): does `iotwall run` grow under
sustained traffic?

One simulated site in network namespaces (tests/live/livesite.py); iotwall
on the gateway with its own rules (`rules.backend: auto`), fail-closed.
For MINUTES minutes it carries two kinds of traffic at once:

  - a 24-hour site trace (`iotwall sim --rooms 4 --hours 24`, with its
    attacks) squeezed into the soak: speed = 24 h / MINUTES. Its first hour
    is learned (learning mode), then SIGHUP into enforce: normal traffic
    flows, attacks are dropped and become pending questions. One keep-alive
    connection per service, real schedule, model windows every second;
  - flood bursts: every 2 s, `drive --flood` with 4 new connections and
    1000 requests (reads of each service's own node, learned at the start):
    connection churn (every burst opens and closes connections) and a
    moderate request rate (a burst lasts a fraction of the 2 s).

Every 5 s it samples the daemon's /proc/PID/status (VmRSS, VmHWM, RssAnon,
RssFile, RssShmem) and its open file descriptors; /proc/PID/smaps after the
warm-up and at the end names the mappings that grew. The summary: RSS at the start (after the warm-up:
the learning hour and the first tenth of the rest, at least 30 s), at the
end, the peak (VmHWM), and the growth per minute over the second half (a
least-squares line through those samples).

"No growth" when that slope is at most 128 KiB over the second half (e.g.
25.6 KiB/min for a 10-minute soak): 128 KiB is glibc's default trim
threshold (M_TRIM_THRESHOLD), the step by which a heap that does not leak
can still move once; a smaller slope cannot be told from that noise in one
run. The report also gives the slope as bytes per request sent.

Usage: soak.py BINARY_DIR [--minutes 10] [--traffic both|trace|flood] [--work DIR] [--json FILE]
(--traffic: after the learning hour, one kind of traffic only, to tell what grows.)
Exit: 0 no growth and no packet without a verdict, 1 growth or a failure,
77 skipped (not root, no namespaces or NFQUEUE).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "live"))
import livesite  # noqa: E402
from livesite import say  # noqa: E402
from inline_bench import machine  # noqa: E402

SAMPLE_S = 5.0
BURST_EVERY_S = 2.0
BURST_CONNECTIONS = 4
BURST_REQUESTS = 1000
TRIM_STEP_KIB = 128.0  # glibc M_TRIM_THRESHOLD default


def find_binary(bindir, name):
    for p in (os.path.join(bindir, "daemon", name), os.path.join(bindir, name)):
        if os.access(p, os.X_OK):
            return os.path.abspath(p)
    return None


def proc_status(pid):
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem (KiB) and the open fds of a
    process, or None when gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return None
    return out


def smaps_rss(pid):
    """{start address: (Rss KiB, size KiB, file)} of a process's mappings
    (file '[anon]' when none). Keyed by the start: a malloc arena grows
    upwards from a fixed start."""
    out, cur = {}, None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                fields = line.split()
                if fields and "-" in fields[0] and not fields[0].endswith(":"):
                    lo, hi = fields[0].split("-")
                    cur = lo
                    out[cur] = (0, (int(hi, 16) - int(lo, 16)) // 1024,
                                fields[5] if len(fields) > 5 else "[anon]")
                elif fields and fields[0] == "Rss:" and cur is not None:
                    out[cur] = (int(fields[1]),) + out[cur][1:]
    except (OSError, ValueError, IndexError):
        pass
    return out


def fit(ts, ys):
    """Least-squares slope of ys over ts, or 0 with fewer than 2 points."""
    n = len(ts)
    if n < 2:
        return 0.0
    mt, my = sum(ts) / n, sum(ys) / n
    den = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / den if den > 0 else 0.0


def kernel_queue_stats(site):
    r = site.run("g", ["cat", "/proc/net/netfilter/nfnetlink_queue"], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 8:
            out[int(f[0])] = {"waiting": int(f[2]), "dropped": int(f[5]), "user_dropped": int(f[6]),
                              "id_sequence": int(f[7])}
    return out


def detector_yaml(speed):
    # Trace time runs `speed` times faster: the learning phase (15 min of
    # trace time) shrinks with it; the model windows are the shortest (1 s),
    # snapshots every 5 s: the most churn in the models and the store.
    return (f"detector:\n  learning_phase: {max(0.5, 900 / speed):.2f}s\n  window: 1s\n"
            "  snapshot_interval: 5s\n")


class Bursts(threading.Thread):
    """Flood bursts every BURST_EVERY_S until stopped; sums their counts."""

    def __init__(self, site, stop):
        super().__init__(daemon=True)
        self.site, self.stop = site, stop
        self.sent = self.answered = self.bursts = 0
        self.failed = {}
        self.error = None

    def run(self):
        while not self.stop.is_set():
            t = time.time()
            try:
                rep = self.site.drive(["--flood", "--connections", str(BURST_CONNECTIONS), "--requests",
                                       str(BURST_REQUESTS), "--duration", "20"], "burst.json", timeout=40)
            except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as e:
                if not self.stop.is_set():
                    self.error = str(e)
                return
            tot = rep["total"]
            self.bursts += 1
            self.sent += tot["sent"]
            self.answered += tot["answered"]
            for k in ("non_2xx", "reset", "timeout", "refused", "error"):
                if tot.get(k):
                    self.failed[k] = self.failed.get(k, 0) + tot[k]
            self.stop.wait(max(0.0, BURST_EVERY_S - (time.time() - t)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bindir")
    ap.add_argument("--minutes", type=float, default=10.0, help="soak length (0.5 .. 240)")
    ap.add_argument("--work", help="work directory (kept); default: a temporary one, removed")
    ap.add_argument("--json", help="write the results (and the RSS series) as JSON to FILE")
    ap.add_argument("--traffic", choices=("both", "trace", "flood"), default="both",
                    help="after the learning hour: both kinds of traffic, or one (to tell what grows)")
    a = ap.parse_args()
    if not 0.5 <= a.minutes <= 240:
        ap.error("--minutes must be 0.5..240")
    iotwall = find_binary(a.bindir, "iotwall")
    if not iotwall:
        say(f"soak: no iotwall under {a.bindir} (build the target iotwall)")
        return 1
    why = livesite.cannot_run()
    if why:
        say(f"SKIP: {why}")
        return 77

    def on_term(*_):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)

    total_s = a.minutes * 60
    speed = 86400.0 / total_s
    learn_s = 3600.0 / speed
    warmup_s = learn_s + max(30.0, 0.1 * (total_s - learn_s))
    work = a.work or tempfile.mkdtemp(prefix="iotwall-soak-")
    os.makedirs(work, exist_ok=True)
    trace, site_map = os.path.join(work, "site.csv"), os.path.join(work, "site.yaml")
    r = subprocess.run([iotwall, "sim", "--rooms", "4", "--hours", "24", "--seed", "3", "--no-change",
                        "--no-new-device", "--out", trace, "--pcap", os.path.join(work, "site.pcap"),
                        "--site-map", site_map], capture_output=True, text=True)
    if r.returncode != 0:
        say("sim failed: " + r.stderr)
        return 1
    with open(trace) as f:
        header = f.readline().strip().split(",")
        first = f.readline().strip().split(",")
    t0 = int(first[header.index("timestamp")])

    samples = []  # (seconds since start, VmRSS KiB, VmHWM KiB, fds, RssAnon, RssFile, RssShmem KiB)
    res = {"machine": machine(a.bindir), "traffic": a.traffic, "minutes": a.minutes, "speed": speed, "warmup_s": warmup_s, "sample_s": SAMPLE_S}
    stop = threading.Event()
    failures = []
    try:
        with livesite.Site(iotwall, work, site_map, prefix=f"iws{os.getpid() % 1000000}") as site:
            site.start_kas(trace=trace)
            d = livesite.Daemon(site, "mode: learning\n" + detector_yaml(speed))
            d.start()
            pid = d.proc.pid
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            if comm != "iotwall":
                raise RuntimeError(f"pid {pid} is '{comm}', not iotwall")
            start = time.time()
            say(f"soak: {a.minutes:g} min, 24 h trace at {speed:.0f}x (learning {learn_s:.0f} s), "
                f"flood bursts of {BURST_REQUESTS} requests on {BURST_CONNECTIONS} connections every "
                f"{BURST_EVERY_S:g} s; backend {d.ctl('status')['backend']}; work dir {work}")

            def drive_trace(args, name):
                cmd = site.ns("c") + [iotwall, "drive", "--site-map", site_map, "--report",
                                      os.path.join(work, name), "--trace", trace, "--speed", str(speed),
                                      "--timeout-ms", "1000"] + args
                return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

            # The learning hour, with one burst so the flood's accesses are learned too.
            learner = drive_trace(["--duration", f"{learn_s:.2f}"], "learn.json")
            burst = site.drive(["--flood", "--connections", str(BURST_CONNECTIONS), "--requests",
                                str(BURST_REQUESTS)], "burst-learn.json", timeout=60)
            res["learn_burst"] = burst["total"]
            learner.wait(timeout=learn_s + 60)
            d.write_config("mode: enforce\n" + detector_yaml(speed))
            d.reload()
            deadline = time.time() + 5
            while d.ctl("status")["mode"] != "enforce" and time.time() < deadline:
                time.sleep(0.05)
            if d.ctl("status")["mode"] != "enforce":
                raise RuntimeError("SIGHUP did not switch to enforce")
            say(f"t={time.time() - start:.0f}s: enforce ({len(d.ctl('graph')['edges'])} edges learned)")

            rest_s = max(1.0, total_s - (time.time() - start))
            tracer = None
            if a.traffic != "flood":
                tracer = drive_trace(["--start-ms", str(t0 + 3600 * 1000), "--duration", f"{rest_s:.2f}"],
                                     "enforce.json")
            bursts = Bursts(site, stop)
            if a.traffic != "trace":
                bursts.start()
            next_sample = time.time()
            end = start + total_s
            smaps_warm = None
            while time.time() < end:
                s = proc_status(pid)
                if s is None or d.proc.poll() is not None:
                    raise RuntimeError("iotwall exited during the soak: " + site.log("iotwall.log")[-2000:])
                t = time.time() - start
                samples.append((t, s["VmRSS"], s["VmHWM"], s["fds"], s.get("RssAnon", 0), s.get("RssFile", 0),
                                s.get("RssShmem", 0)))
                if smaps_warm is None and t >= warmup_s:
                    smaps_warm = smaps_rss(pid)  # where the RSS is, to tell what grew
                if len(samples) % 12 == 1:
                    st = d.ctl("status")["queues"][0]
                    say(f"t={t:4.0f}s RSS {s['VmRSS'] / 1024:6.1f} MiB, peak {s['VmHWM'] / 1024:6.1f} MiB, "
                        f"fds {s['fds']}; packets {st['packets']}, dropped {st['dropped']}, "
                        f"undecided {st['undecided']}, pending {st['pending']}; bursts {bursts.bursts}")
                next_sample += SAMPLE_S
                time.sleep(max(0.0, min(next_sample, end) - time.time()))
            smaps_end = smaps_rss(pid)
            warm_rss = {k: v[0] for k, v in (smaps_warm or {}).items()}
            grew = sorted(((v[0] - warm_rss.get(k, 0), k) for k, v in smaps_end.items()), reverse=True)
            res["smaps_growth"] = [{"mapping": f"{k} ({smaps_end[k][1]} KiB {smaps_end[k][2]})",
                                    "rss_kib_warm": warm_rss.get(k, 0), "rss_kib_end": smaps_end[k][0]}
                                   for g, k in grew[:5] if g > 0]
            stop.set()
            if bursts.is_alive():
                bursts.join(timeout=60)
            trep = {"total": {"sent": 0, "answered": 0}, "per_label": {}, "latency_ms": {"all": {}}}
            if tracer is not None:
                tracer.wait(timeout=60)
                if tracer.returncode != 0:
                    failures.append(f"trace drive failed ({tracer.returncode}): {tracer.stderr.read()}")
                with open(os.path.join(work, "enforce.json")) as f:
                    trep = json.load(f)
            status = d.ctl("status")
            res["status"] = status["queues"][0]
            res["backend"] = status["backend"]
            # "waiting" is a packet the daemon has not read yet at this
            # instant (the last FINs of the drivers' connections): read it
            # again until the queue is empty (a verdict still owed after
            # 2 s is one).
            kq_deadline = time.time() + 2
            res["kernel_queue"] = kernel_queue_stats(site)
            while any(q["waiting"] for q in res["kernel_queue"].values()) and time.time() < kq_deadline:
                time.sleep(0.1)
                res["kernel_queue"] = kernel_queue_stats(site)
            res["trace"] = {"total": trep["total"], "per_label": trep["per_label"],
                            "latency_ms": trep["latency_ms"]}
            res["bursts"] = {"count": bursts.bursts, "sent": bursts.sent, "answered": bursts.answered,
                             "failed": bursts.failed}
            if bursts.error:
                failures.append("a flood burst failed: " + bursts.error)
            res["stop_s"] = d.stop()
    except KeyboardInterrupt:
        stop.set()
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
        say("interrupted: cleaned up")
        return 1
    except (RuntimeError, subprocess.TimeoutExpired, OSError, KeyError, ValueError) as e:
        stop.set()
        say(f"soak failed: {e} (logs in {work})")
        return 1

    res["samples"] = samples
    with open("/proc/loadavg") as f:
        res["machine"]["load_at_end"] = float(f.read().split()[0])
    ok = summarize(res, failures)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok and not failures else 1


def summarize(res, failures):
    warm = [s for s in res["samples"] if s[0] >= res["warmup_s"]]
    if len(warm) < 4:
        failures.append(f"too few samples after the warm-up ({len(warm)})")
        warm = res["samples"]
    half = warm[len(warm) // 2:]
    slope = fit([s[0] / 60 for s in half], [s[1] for s in half])  # KiB per minute
    half_min = (half[-1][0] - half[0][0]) / 60 if len(half) > 1 else 0
    threshold = TRIM_STEP_KIB / half_min if half_min > 0 else float("inf")
    rss = [s[1] for s in warm]
    st, tr, b = res["status"], res["trace"], res["bursts"]
    sent = tr["total"]["sent"] + b["sent"]
    per_min = sent / (res["minutes"] * 60) * 60
    normal = tr["per_label"].get("normal", {})
    attacks = {k: v for k, v in tr["per_label"].items() if k.startswith("anomalous")}
    a_rows = sum(v["rows"] for v in attacks.values())
    a_blocked = sum(v["reset"] + v["timeout"] for v in attacks.values())
    kq = res["kernel_queue"]
    k_bad = sum(q["waiting"] + q["dropped"] + q["user_dropped"] for q in kq.values())
    res["summary"] = {
        "rss_start_kib": warm[0][1], "rss_end_kib": warm[-1][1], "rss_min_kib": min(rss),
        "rss_max_kib": max(rss), "peak_hwm_kib": res["samples"][-1][2],
        "slope_kib_per_min": slope, "threshold_kib_per_min": threshold,
        "second_half_minutes": half_min, "fds_start": warm[0][3], "fds_end": warm[-1][3],
        "requests_sent": sent, "requests_per_min": per_min, "kernel_bad": k_bad}
    growth = slope > threshold
    say("")
    say(f"soak: {res['minutes']:g} min, traffic {res['traffic']}, backend {res['backend']}, {len(res['samples'])} samples every "
        f"{res['sample_s']:g} s, warm-up {res['warmup_s']:.0f} s")
    mc = res["machine"]
    say(f"  {mc['date']}, kernel {mc['kernel']}, {mc['cores']} cores, build {mc['build_type']}, load average "
        f"{mc['load_at_start']:.2f} at the start, {mc['load_at_end']:.2f} at the end")
    say(f"  RSS after warm-up {warm[0][1] / 1024:.1f} MiB, at the end {warm[-1][1] / 1024:.1f} MiB "
        f"(min {min(rss) / 1024:.1f}, max {max(rss) / 1024:.1f}); peak (VmHWM) {res['samples'][-1][2] / 1024:.1f} MiB")
    say(f"  growth over the second half ({half_min:.1f} min, {len(half)} samples): {slope:+.1f} KiB/min "
        f"({slope * 1024 / max(1.0, per_min):+.2f} bytes per request); threshold {threshold:.1f} KiB/min "
        f"(128 KiB over the half)")
    say(f"  of which anonymous {warm[0][4] / 1024:.1f} -> {warm[-1][4] / 1024:.1f} MiB, files "
        f"{warm[0][5] / 1024:.1f} -> {warm[-1][5] / 1024:.1f} MiB, shared (SQLite's -shm) "
        f"{warm[0][6] / 1024:.1f} -> {warm[-1][6] / 1024:.1f} MiB; open fds {warm[0][3]} -> {warm[-1][3]}")
    lat = tr["latency_ms"]["all"]
    for m in res.get("smaps_growth", []):
        say(f"  grew: mapping {m['mapping']}: RSS {m['rss_kib_warm']} -> {m['rss_kib_end']} KiB")
    say(f"  trace: {tr['total']['sent']} sent, {tr['total']['answered']} answered; normal "
        f"{normal.get('answered', 0)} of {normal.get('rows', 0)} answered; attacks {a_blocked} of {a_rows} blocked; "
        f"latency p50 {lat.get('p50', 0) * 1000:.0f} us p99 {lat.get('p99', 0) * 1000:.0f} us")
    say(f"  flood bursts: {b['count']}, {b['sent']} sent, {b['answered']} answered {b['failed'] or ''}")
    say(f"  iotwall: packets {st['packets']}, accepted {st['accepted']}, dropped {st['dropped']}, rejected "
        f"{st['rejected']}, undecided {st['undecided']}, anomalies {st['anomalies']}, pending {st['pending']}, "
        f"kernel_lost {st['kernel_lost']}; stopped in {res['stop_s'] * 1000:.0f} ms")
    say(f"  kernel queues: {kq}")
    if b["answered"] != b["sent"]:
        failures.append(f"flood bursts: {b['sent'] - b['answered']} requests not answered {b['failed']}")
    if st["undecided"] or k_bad or st["kernel_lost"]:
        failures.append(f"packets without a verdict: undecided {st['undecided']}, kernel {k_bad}, "
                        f"kernel_lost {st['kernel_lost']}")
    say(f"verdict: {'GROWTH' if growth else 'no growth'} ({slope:+.1f} KiB/min vs {threshold:.1f}); "
        f"{'no packet without a verdict' if not st['undecided'] and not k_bad else 'PACKETS WITHOUT A VERDICT'}")
    for f in failures:
        say("  FAIL " + f)
    return not growth


if __name__ == "__main__":
    sys.exit(main())
