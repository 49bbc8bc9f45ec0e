#!/usr/bin/env python3
"""make demo: a simulated IoT site behind iotwall, live, for a person.

Three network namespaces (services, gateway, Knowledge Agents); the
gateway runs `iotwall run` inline (NFQUEUE, default deny). A 4-hour trace
of a 3-room site is replayed as real HTTP at 240x (one minute): the
services learn for the first hour of trace time, then the attacks of the
DS2OS dataset begin. A status line shows what the firewall sees; a summary
at the end shows what got through, what was blocked, and the questions
for the site manager in plain words. Ctrl-C stops it and cleans up.

Usage: demo.py IOTWALL_BINARY [WORKDIR]
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livesite  # noqa: E402

SPEED = 240


def main():
    binary = os.path.abspath(sys.argv[1])
    work = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "build/demo-live")
    why = livesite.cannot_run()
    if why:
        print(f"The live demo cannot run here: {why}.")
        return 77
    os.makedirs(work, exist_ok=True)
    trace, site_map = os.path.join(work, "site.csv"), os.path.join(work, "site.yaml")
    subprocess.run([binary, "sim", "--rooms", "3", "--hours", "4", "--seed", "5", "--no-change",
                    "--no-new-device", "--out", trace, "--pcap", os.path.join(work, "site.pcap"),
                    "--site-map", site_map], check=True, stdout=subprocess.DEVNULL)
    for f in ("iotwall.db", "iotwall.db-wal", "iotwall.db-shm", "iotwall.log", "ka.log"):
        try:
            os.remove(os.path.join(work, f))
        except OSError:
            pass
    print(f"site: 3 rooms, {sum(1 for _ in open(trace)) - 1} accesses over 4 h of trace time, "
          f"replayed {SPEED}x faster; attacks from 2 h on")

    site = livesite.Site(binary, work, site_map, prefix="iwdemo")
    stop = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    try:
        site.__enter__()
        site.start_kas(trace=trace)
        d = livesite.Daemon(site, f"""mode: enforce
detector:
  learning_phase: {900 / SPEED:.2f}s
  window: 1s
  snapshot_interval: 5s
""")
        d.start()
        print(f"gateway: iotwall run (enforce, default deny), rules via {d.ctl('status')['backend']}; "
              f"log {os.path.join(work, 'iotwall.log')}\n")
        report = os.path.join(work, "drive.json")
        drive = subprocess.Popen(site.ns("c") + [binary, "drive", "--trace", trace, "--site-map", site_map,
                                                 "--speed", str(SPEED), "--timeout-ms", "1000",
                                                 "--report", report],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        site.procs.append(drive)
        start = time.time()
        attacks_said = False
        tty = sys.stdout.isatty()
        last_line = 0.0
        while drive.poll() is None and not stop["now"]:
            time.sleep(0.5)
            try:
                st = d.ctl("status")
            except RuntimeError:
                continue
            q = st["queues"][0]
            trace_min = (time.time() - start) * SPEED / 60
            if trace_min >= 120 and not attacks_said:
                print("\n  -- 2 h of trace time: the attacks begin --")
                attacks_said = True
            line = (f"\r  trace {int(trace_min) // 60}:{int(trace_min) % 60:02d}  "
                    f"packets {q['packets']:6d}  accesses {q['accesses']:5d}  "
                    f"dropped {q['dropped'] + q['rejected']:4d}  anomalies {q['anomalies']:4d}  "
                    f"pending {q['pending']:3d}  held {q['held']}  no-verdict {q['undecided']}  ")
            if tty:
                print(line, end="", flush=True)
            elif time.time() - last_line >= 5:  # a log, not a terminal: a line every 5 s
                print(line.strip(), flush=True)
                last_line = time.time()
        print()
        if stop["now"]:
            print("stopped by Ctrl-C")
            return 130
        with open(report) as f:
            rep = json.load(f)
        print("\nwhat became of each access:")
        print(f"  {'label':32s} {'sent':>6s} {'passed':>7s} {'blocked':>8s}")
        attack_rows = attack_blocked = 0
        for label, v in sorted(rep["per_label"].items(), key=lambda kv: kv[0] != "normal"):
            print(f"  {label:32s} {v['rows']:6d} {v['answered']:7d} {v['reset'] + v['timeout']:8d}")
            if label.startswith("anomalous"):
                attack_rows += v["rows"]
                attack_blocked += v["reset"] + v["timeout"]
        normal = rep["per_label"].get("normal", {"rows": 0, "answered": 0})
        print(f"  normal accesses passed: {100 * normal['answered'] / max(1, normal['rows']):.2f} %; "
              f"attack accesses blocked: {100 * attack_blocked / max(1, attack_rows):.1f} %")
        lat = rep["latency_ms"]["normal"]
        print(f"  latency of passed requests through the gateway: p50 {lat['p50']:.2f} ms, "
              f"p99 {lat['p99']:.2f} ms")
        pending = d.ctl("pending")["questions"]
        print(f"\n{len(pending)} questions for the site manager (iotwall pending), e.g.:")
        for q in pending[:6]:
            print(f"  {q['id']:>3s}  {q['text']}")
        if pending:
            print(f"\nthe manager approves question {pending[0]['id']} (iotwall approve {pending[0]['id']}):")
            r = d.ctl("approve", pending[0]["id"])
            print(f"  {r['decision']}: {r['text']} (scope: {r['scope']}); in force from the next packet,"
                  f" saved in {d.state}")
        took = d.stop()
        print(f"\niotwall stopped in {took * 1000:.0f} ms; its rules are gone: "
              f"{'yes' if not d.rules() else 'NO'}")
        return 0
    finally:
        site.close()
        print("namespaces removed")


if __name__ == "__main__":
    sys.exit(main())
