#!/usr/bin/env python3
"""Integration test: iotwall inline on a gateway between simulated services
and their Knowledge Agents, in network namespaces, with real TCP traffic.

  1. learning mode, then SIGHUP into enforce (state kept);
  2. a 4-hour site trace with the seven attack kinds, 240x faster: normal
     traffic keeps flowing, every attack kind is blocked;
  3. pending questions: approve lets an edge through, deny keeps it out;
  4. kill -9: fail-closed (nothing passes, the rules stay), a restart
     cleans the leftovers and keeps every decision (SQLite);
  5. bypass: with queue.bypass, traffic passes while the daemon is dead;
  6. SIGTERM: stops within 1 s and removes its rules.

Exit 77 (skipped) with the reason when it cannot run here.
Usage: inline_test.py IOTWALL_BINARY [WORKDIR]
"""

import csv
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livesite  # noqa: E402
from livesite import say  # noqa: E402

SPEED = 240
failures = []


def check(ok, what):
    say(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        failures.append(what)


def detector_yaml(extra=""):
    # Trace time runs SPEED times faster: the learning phase (15 min of trace
    # time) shrinks with it; the descriptor window is the smallest allowed.
    return f"""
detector:
  learning_phase: {900 / SPEED:.2f}s
  window: 1s
  snapshot_interval: 2s
{extra}"""


def rows_of(trace):
    with open(trace, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        return header, list(r)


def write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    why = livesite.cannot_run()
    if why:
        say(f"SKIP: {why}")
        return 77
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="iotwall-inline-")
    os.makedirs(work, exist_ok=True)
    trace = os.path.join(work, "site.csv")
    site_map = os.path.join(work, "site.yaml")
    r = livesite.subprocess.run([binary, "sim", "--rooms", "3", "--hours", "4", "--seed", "5",
                                 "--no-change", "--no-new-device", "--out", trace,
                                 "--pcap", os.path.join(work, "site.pcap"), "--site-map", site_map],
                                capture_output=True, text=True)
    if r.returncode != 0:
        say("sim failed: " + r.stderr)
        return 1
    header, rows = rows_of(trace)
    col = {name: i for i, name in enumerate(header)}
    t0 = int(rows[0][col["timestamp"]])
    learn_ms = t0 + 3600 * 1000  # the first hour: learning mode

    with livesite.Site(binary, work, site_map) as site:
        site.start_kas(trace=trace)
        d = livesite.Daemon(site, "mode: learning\n" + detector_yaml())
        d.start()

        say("1. learning mode, then enforce by SIGHUP")
        rep = site.drive(["--trace", trace, "--speed", str(SPEED), "--duration", str(3600 / SPEED)],
                         "learn.json")
        learned = rep["total"]
        check(learned["answered"] == learned["sent"] > 100,
              f"learning: every request answered ({learned['answered']} of {learned['sent']})")
        edges_before = len(d.ctl("graph")["edges"])
        d.write_config("mode: enforce\n" + detector_yaml())
        d.reload()
        deadline = time.time() + 5
        while d.ctl("status")["mode"] != "enforce" and time.time() < deadline:
            time.sleep(0.05)
        check(d.ctl("status")["mode"] == "enforce", "SIGHUP switched to enforce")
        check(len(d.ctl("graph")["edges"]) == edges_before > 0,
              f"the reload kept the learned graph ({edges_before} edges)")

        say(f"2. the rest of the trace ({(int(rows[-1][col['timestamp']]) - learn_ms) / 3.6e6:.1f} h, "
            f"{SPEED}x): normal traffic flows, attacks are blocked")
        rep = site.drive(["--trace", trace, "--speed", str(SPEED), "--start-ms", str(learn_ms),
                          "--timeout-ms", "1000"], "enforce.json")
        per = rep["per_label"]
        normal = per.get("normal", {})
        n_ok = normal.get("answered", 0) / max(1, normal.get("rows", 0))
        check(n_ok >= 0.97, f"normal rows answered: {normal.get('answered')} of {normal.get('rows')} ({100 * n_ok:.2f} %)")
        attacks = {k: v for k, v in per.items() if k.startswith("anomalous")}
        check(len(attacks) == 7, f"all seven attack kinds were sent ({len(attacks)})")
        blocked = sum(v["reset"] + v["timeout"] for v in attacks.values())
        total = sum(v["rows"] for v in attacks.values())
        for k, v in sorted(attacks.items()):
            b = v["reset"] + v["timeout"]
            check(b >= 1, f"{k}: {b} of {v['rows']} blocked")
        check(blocked >= 0.7 * total, f"attack rows blocked: {blocked} of {total} ({100 * blocked / max(1, total):.1f} %)")
        st = d.ctl("status")["queues"][0]
        check(st["undecided"] == 0, f"no packet without a verdict (undecided {st['undecided']}, packets {st['packets']})")
        lat = rep["latency_ms"]["normal"]
        say(f"        latency of answered normal requests: p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms")

        say("3. questions: approve lets an edge through, deny keeps it out")
        pending = d.ctl("pending")["questions"]
        check(len(pending) >= 2, f"{len(pending)} pending questions")
        if len(pending) >= 2:
            before = {(e["src"], e["dst"], e["op"]): e["state"] for e in d.ctl("graph")["edges"]}
            d.ctl("approve", pending[0]["id"])
            d.ctl("deny", pending[1]["id"])
            after = {(e["src"], e["dst"], e["op"]): e["state"] for e in d.ctl("graph")["edges"]}
            approved = [k for k, s in after.items() if s == "approved" and before.get(k) == "pending"]
            denied = [k for k, s in after.items() if s == "denied" and before.get(k) == "pending"]
            check(approved and denied, f"edges approved {len(approved)}, denied {len(denied)}")

            def row_for(edge):
                src, dst, op = edge
                for row in rows:
                    if (row[col["sourceAddress"]] == src and row[col["destinationServiceAddress"]] == dst
                            and row[col["operation"]] == op):
                        return row
                return None

            for kind, edges, want in (("approved", approved, "answered"), ("denied", denied, "blocked")):
                row = next((r for r in map(row_for, edges) if r), None)
                check(row is not None, f"a trace row for a {kind} edge")
                if row is None:
                    continue
                mini = os.path.join(work, f"{kind}.csv")
                write_rows(mini, header, [row])
                rep = site.drive(["--trace", mini, "--timeout-ms", "1000"], f"{kind}.json")["total"]
                got = "answered" if rep["answered"] == 1 else ("blocked" if rep["reset"] + rep["timeout"] else "?")
                check(got == want, f"{kind} edge {row[col['sourceID']]} {row[col['operation']]} "
                      f"{row[col['accessedNodeAddress']]}: {got}")

        say("4. kill -9: fail-closed, then a restart keeps every decision")
        decisions = {(e["src"], e["dst"], e["op"]): e["state"] for e in d.ctl("graph")["edges"]
                     if e["state"] in ("approved", "denied")}
        known = [r for r in rows[:2000] if r[col["normality"]] == "normal" and r[col["operation"]] == "read"][:5]
        calm = os.path.join(work, "calm.csv")
        write_rows(calm, header, known)
        d.kill9()
        check(any("NFQUEUE" in l for l in d.rules()), "the rules stay after kill -9")
        rep = site.drive(["--trace", calm, "--timeout-ms", "800"], "dead.json")["total"]
        check(rep["answered"] == 0 and rep["rows"] == len(known),
              f"with the daemon dead nothing passes (answered {rep['answered']} of {rep['rows']}; "
              f"timeouts {rep['timeout']})")
        d.start()
        after = {(e["src"], e["dst"], e["op"]): e["state"] for e in d.ctl("graph")["edges"]}
        kept = all(after.get(k) == s for k, s in decisions.items())
        check(kept and decisions, f"every decision survived kill -9 ({len(decisions)} edges approved or denied)")
        check(sum(1 for l in d.rules() if l.startswith("-A IOTWALL") and "NFQUEUE" in l) in (2, 4),
              "the restart replaced the leftover rules (no duplicates)")
        rep = site.drive(["--trace", calm, "--timeout-ms", "1000"], "alive.json")["total"]
        check(rep["answered"] == rep["sent"] > 0, f"after the restart traffic passes ({rep['answered']} of {rep['sent']})")

        say("5. SIGTERM stops within 1 s and removes the rules")
        took = d.stop()
        check(took < 1.0, f"stopped in {took * 1000:.0f} ms")
        check(not d.rules(), "no rule left after the stop")

        say("6. queue.bypass: traffic passes while the daemon is dead")
        d.write_config("mode: enforce\nqueue:\n  bypass: true\n" + detector_yaml())
        d.start()
        d.kill9()
        rep = site.drive(["--trace", calm, "--timeout-ms", "1000"], "bypass.json")["total"]
        check(rep["answered"] == rep["sent"] > 0, f"with bypass, traffic passes ({rep['answered']} of {rep['sent']})")
        d.start()
        d.stop()
        check(not d.rules(), "no rule left after the last stop")

        say("7. two queues, one worker each")
        d.write_config("mode: learning\nqueue:\n  numbers: [0, 1]\n" + detector_yaml())
        d.start()
        first = os.path.join(work, "first.csv")
        write_rows(first, header, rows[:300])
        rep = site.drive(["--trace", first, "--speed", "100"], "two.json")["total"]
        st = d.ctl("status")["queues"]
        per_queue = {q["queue"]: q["packets"] for q in st}
        check(sorted(per_queue) == [0, 1], f"status shows queues {sorted(per_queue)}")
        check(all(v > 0 for v in per_queue.values()), f"both workers saw packets ({per_queue})")
        check(rep["answered"] == rep["sent"] > 0 and sum(q["undecided"] for q in st) == 0,
              f"every request answered ({rep['answered']} of {rep['sent']}), no packet without a verdict")
        d.stop()
        check(not d.rules(), "no rule left")

    return livesite.verdict(failures, work, keep=len(sys.argv) > 2)


if __name__ == "__main__":
    sys.exit(main())
