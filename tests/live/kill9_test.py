#!/usr/bin/env python3
"""Durability test: iotwall inline on a simulated site, killed with SIGKILL
in a loop while traffic flows and questions are being answered.

Each round starts the daemon (from round 2 on it restores its SQLite state);
1-4 times it lets it run a random 0.3-2 s, then approves or denies (at
random) every open question through the control CLI (for its type, or now
and then for one waiting service); then it kills it with SIGKILL: at a
random moment after the answers, or, in some rounds, 0-50 ms into an
approve that is still in flight. An answer whose CLI call returned ok is
"acknowledged". After each kill and restart it checks:

  - every approved or denied edge seen in `iotwall graph` after an
    acknowledged answer is still there in the same state (never lost, never
    flipped), in the restored graph and in the database's edges mirror;
  - every acknowledged answer is in the decision log (question, approve or
    deny); an approve acknowledged just before the kill closed its question;
  - the database passes PRAGMA integrity_check, the log holds at least as
    many rows as answers were acknowledged, and the daemon never found its
    newest snapshot invalid (no state_invalid line).

After the last round: SIGTERM stops it within 1 s and leaves no rule.
`iotwall drive` replays the site's trace at 240x all along (restarted when
it ends), so new relations keep turning into questions.

Exit 77 (skipped) with the reason when it cannot run here; 1 on a failure.
Usage: kill9_test.py IOTWALL_BINARY [WORKDIR]
Environment: KILL9_SEED (the random seed, printed at start), KILL9_ROUNDS.
"""

import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livesite  # noqa: E402
from livesite import say  # noqa: E402

SPEED = 240
ROUNDS = int(os.environ.get("KILL9_ROUNDS", "15"))
TIME_BUDGET_S = 170  # the rounds stop early rather than run past ~3 minutes
DECIDED = ("approved", "denied")

failures = []


def fail(what):
    say("  FAIL  " + what)
    failures.append(what)


def check(ok, what):
    if ok:
        say("  ok    " + what)
    else:
        fail(what)
    return ok


def detector_yaml():
    # As inline_test.py: the 15-minute learning phase shrinks with the trace's
    # speed-up; snapshots every second so kills land around periodic writes too.
    return f"""
detector:
  learning_phase: {900 / SPEED:.2f}s
  window: 1s
  snapshot_interval: 1s
"""


def sql(db, query):
    """Runs one query with the sqlite3 shell; returns (ok, output). Read-only,
    so the shell does not checkpoint a killed daemon's -wal file away: the
    daemon's own recovery of it at the restart is part of the test."""
    r = subprocess.run(["sqlite3", "-readonly", db, query], capture_output=True, text=True, timeout=30)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


class Traffic:
    """`iotwall drive` replaying the trace in the client namespace, restarted
    when it ends. Its process is the Site's, so the Site stops it."""

    def __init__(self, site, trace):
        self.site = site
        self.trace = trace
        self.proc = None
        self.runs = 0
        self.errors = 0

    def keep_going(self):
        if self.proc is not None and self.proc.poll() is None:
            return
        if self.proc is not None and self.proc.returncode != 0:
            self.errors += 1  # drive failed on its own (not a kill of ours)
        self.runs += 1
        report = os.path.join(self.site.dir, f"drive{self.runs}.json")
        self.proc = self.site.start("c", [self.site.bin, "drive", "--site-map", self.site.site_map,
                                          "--trace", self.trace, "--speed", str(SPEED),
                                          "--timeout-ms", "1000", "--report", report],
                                    "drive.log")


class Answer(threading.Thread):
    """One approve/deny through the CLI on a thread: the in-flight answer
    that the main thread kills the daemon under."""

    def __init__(self, daemon, qid, approve):
        super().__init__(daemon=True)
        self.d, self.qid, self.approve = daemon, qid, approve
        self.acknowledged = False
        self.error = ""

    def run(self):
        try:
            self.d.ctl("approve" if self.approve else "deny", self.qid)
            self.acknowledged = True
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
            self.error = str(e)


class Ledger:
    """What the daemon acknowledged: the decisions, and the state of every
    approved or denied edge seen in the graph after an acknowledged answer."""

    def __init__(self):
        self.edges = {}      # (src, dst, op) -> "approved" | "denied"
        self.decisions = []  # (question id, approve)

    def note_graph(self, graph, before):
        # Only edges the graph already had before the answer was sent: the
        # answer's snapshot (committed before the ack) holds them. An edge
        # created after (e.g. approved on sight by a type rule) may still be
        # in no snapshot, and losing it to a kill is allowed; it is noted at
        # the next answer instead.
        for e in graph["edges"]:
            key = (e["src"], e["dst"], e["op"])
            if e["state"] in DECIDED and key in before:
                self.edges[key] = e["state"]


def edge_keys(graph):
    return {(e["src"], e["dst"], e["op"]) for e in graph["edges"]}


def qnum(qid):
    # "3", or "1:3" with several queues: the decision log keeps the number.
    return int(str(qid).rsplit(":", 1)[-1])


def answer_all(d, rng, ledger, questions):
    """Answers each question (for its type, or now and then for one of the
    services waiting on it); returns how many were acknowledged."""
    n = 0
    before = edge_keys(d.ctl("graph"))
    for q in questions:
        approve = rng.random() < 0.5
        args = ["approve" if approve else "deny", q["id"]]
        if q.get("type_level") and len(q.get("sources", [])) > 1 and rng.random() < 0.3:
            args += ["--service", rng.choice(q["sources"])]
        try:
            d.ctl(*args)
        except (RuntimeError, ValueError) as e:
            fail(f"'{' '.join(args)}' refused by a running daemon: {e}")
            continue
        ledger.decisions.append((q["id"], approve))
        graph = d.ctl("graph")
        ledger.note_graph(graph, before)
        before = edge_keys(graph)
        n += 1
    return n


def check_restart(d, ledger, in_flight_acked, round_no):
    """After a restart: every acknowledged edge state and decision is there."""
    graph = {(e["src"], e["dst"], e["op"]): e["state"] for e in d.ctl("graph")["edges"]}
    lost = [(k, s, graph.get(k)) for k, s in ledger.edges.items() if graph.get(k) != s]
    if lost:
        for k, want, got in lost[:5]:
            fail(f"round {round_no}: edge {k[0]} {k[2]} {k[1]}: was {want}, now {got or 'missing'}")
        fail(f"round {round_no}: {len(lost)} of {len(ledger.edges)} acknowledged edges lost or changed")
    open_ids = {str(q["id"]) for q in d.ctl("pending")["questions"]}
    for qid, _ in in_flight_acked:
        if str(qid) in open_ids:
            fail(f"round {round_no}: question {qid} was acknowledged in flight but is open again")
    return len(ledger.edges) - len(lost)


def check_database(db, ledger, round_no):
    """With the daemon dead: the file, the log and the edges mirror."""
    ok, out = sql(db, "PRAGMA integrity_check")
    if not ok or out != "ok":
        fail(f"round {round_no}: integrity_check: {out}")
    ok, out = sql(db, "SELECT count(*) FROM decisions")
    if not ok or not out.isdigit() or int(out) < len(ledger.decisions):
        fail(f"round {round_no}: decision log holds {out}, acknowledged {len(ledger.decisions)}")
    ok, out = sql(db, "SELECT question, approve FROM decisions WHERE worker = 0")
    logged = set()
    for line in out.splitlines() if ok else []:
        q, a = line.split("|")
        logged.add((int(q), a == "1"))
    missing = [(q, a) for q, a in ledger.decisions if (qnum(q), a) not in logged]
    for q, a in missing[:5]:
        fail(f"round {round_no}: acknowledged {'approve' if a else 'deny'} {q} is not in the decision log")
    ok, out = sql(db, "SELECT src, dst, op, state FROM edges WHERE worker = 0")
    mirror = {}
    for line in out.splitlines() if ok else []:
        src, dst, op, state = line.split("|")
        mirror[(src, dst, op)] = state
    wrong = [k for k, s in ledger.edges.items() if mirror.get(k) != s]
    if not ok or wrong:
        fail(f"round {round_no}: edges mirror: {len(wrong)} acknowledged edges differ "
             f"({out[:200] if not ok else wrong[:3]})")


class Stats:
    def __init__(self):
        self.t_start = time.time()
        self.rounds = self.kills = self.edges_checked = 0
        self.in_flight_kills = self.in_flight_acked = 0  # kills under an approve; approves acknowledged


def run_site(binary, work, site_map, trace, rng, ledger, st):
    """The rounds on a live site; the Site is cleaned up however this ends."""
    with livesite.Site(binary, work, site_map) as site:
        site.start_kas(trace=trace)
        d = livesite.Daemon(site, "mode: enforce\n" + detector_yaml())
        traffic = Traffic(site, trace)
        traffic.keep_going()
        in_flight_acked = []
        for n in range(1, ROUNDS + 1):
            if time.time() - st.t_start > TIME_BUDGET_S:
                say(f"time budget spent: stopping after {st.rounds} rounds")
                break
            st.rounds = n
            invalid_before = site.log(d.name + ".log").count("state_invalid")
            d.start()
            if n > 1:
                st.edges_checked += check_restart(d, ledger, in_flight_acked, n)
                if site.log(d.name + ".log").count("state_invalid") > invalid_before:
                    fail(f"round {n}: the newest snapshot was invalid after kill -9 (state_invalid)")
            in_flight_acked = []
            # 1-4 times: run a random 0.3-2 s, then answer every open question.
            # The first round also covers the learning phase, so questions
            # start coming; all rounds together cover about one pass of the trace.
            # In some rounds the newest question is kept for an approve that
            # the kill then interrupts (kept questions survive into later
            # rounds, so most such rounds have one).
            cycles = rng.randint(1, 4)
            keep_one = rng.random() < 0.4
            asked = acked = 0
            for cycle in range(cycles):
                time.sleep(rng.uniform(0.3, 2.0) + (900 / SPEED + 2 if n == 1 and cycle == 0 else 0))
                traffic.keep_going()
                questions = d.ctl("pending")["questions"]
                asked += len(questions)
                acked += answer_all(d, rng, ledger, questions[:-1] if keep_one else questions)
            mode = f"{cycles} x run+answer: {asked} open, {acked} answered"
            kept = d.ctl("pending")["questions"] if keep_one else []
            if kept:
                q = kept[-1]
                # Always an approve: an unacknowledged answer may or may not
                # be committed, and an approve changes only pending edges,
                # whereas a type-level deny also closes edges approved for
                # single services, which the ledger could not tell from a flip.
                t = Answer(d, q["id"], True)
                t.start()
                time.sleep(rng.uniform(0.0, 0.05))
                d.kill9()
                t.join(timeout=40)
                if t.is_alive():
                    fail(f"round {n}: the in-flight answer's CLI did not return after the kill")
                elif t.acknowledged:
                    ledger.decisions.append((q["id"], t.approve))
                    in_flight_acked.append((q["id"], t.approve))
                    st.in_flight_acked += 1
                st.in_flight_kills += 1
                mode += f", killed in flight ({'acknowledged' if t.acknowledged else 'not acknowledged'})"
            else:
                time.sleep(rng.uniform(0.0, 0.5))
                d.kill9()
            st.kills += 1
            say(f"round {n:2d}: {mode}; {len(ledger.decisions)} acknowledged, "
                f"{len(ledger.edges)} decided edges")
            check_database(d.state, ledger, n)
            traffic.keep_going()

        say("after the last round: restart, check, then SIGTERM")
        invalid_before = site.log(d.name + ".log").count("state_invalid")
        d.start()
        st.edges_checked += check_restart(d, ledger, in_flight_acked, st.rounds + 1)
        check(site.log(d.name + ".log").count("state_invalid") == invalid_before,
              "the last restart loaded the newest snapshot")
        took = d.stop()
        check(took < 1.0 and d.proc.returncode == 0,
              f"SIGTERM stopped it in {took * 1000:.0f} ms (exit status {d.proc.returncode})")
        check(not d.rules(), "no rule left after the stop")
        check_database(d.state, ledger, st.rounds + 1)
        check(len(ledger.decisions) >= 1, f"answers were acknowledged ({len(ledger.decisions)})")
        check(len(ledger.edges) >= 1, f"edges were approved or denied ({len(ledger.edges)})")
        check(traffic.errors == 0, f"the traffic generator never failed ({traffic.runs} runs)")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    why = livesite.cannot_run()
    if why is None and shutil.which("sqlite3") is None:
        why = "the sqlite3 shell is not installed"
    if why:
        say(f"SKIP: {why}")
        return 77
    seed = int(os.environ.get("KILL9_SEED", str(int(time.time() * 1000) % 1_000_000)))
    rng = random.Random(seed)
    say(f"kill9: seed {seed} (KILL9_SEED={seed} repeats the choices), {ROUNDS} rounds")
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="iotwall-kill9-")
    os.makedirs(work, exist_ok=True)
    trace = os.path.join(work, "site.csv")
    site_map = os.path.join(work, "site.yaml")
    r = subprocess.run([binary, "sim", "--rooms", "3", "--hours", "4", "--seed", "9", "--out", trace,
                        "--pcap", os.path.join(work, "site.pcap"), "--site-map", site_map],
                       capture_output=True, text=True)
    if r.returncode != 0:
        say("sim failed: " + r.stderr)
        return 1

    ledger = Ledger()
    st = Stats()
    try:
        run_site(binary, work, site_map, trace, rng, ledger, st)
    except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        fail(f"aborted in round {st.rounds}: {e}")
    approvals = sum(1 for _, a in ledger.decisions if a)
    say(f"summary: {st.rounds} rounds, {st.kills} kills ({st.in_flight_kills} with an approve in flight, "
        f"{st.in_flight_acked} of them acknowledged), "
        f"{len(ledger.decisions)} decisions acknowledged ({approvals} approve, "
        f"{len(ledger.decisions) - approvals} deny), {len(ledger.edges)} decided edges, "
        f"{st.edges_checked} edge checks, {len(failures)} failures, {time.time() - st.t_start:.0f} s, "
        f"seed {seed}")
    return livesite.verdict(failures, work, keep=len(sys.argv) > 2)


if __name__ == "__main__":
    sys.exit(main())
