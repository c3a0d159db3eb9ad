#!/usr/bin/env python3
"""Turns the JSON lines of bench/gateway_bench.sh into a Markdown table.

Each figure is the median over the repetitions. Each cell shows the value and,
in parentheses, its ratio to the best peer for that figure, oriented so that
1.00 is the best and 0.50 means half as good (for rates: value / best; for
costs such as CPU, latency and memory: best / value).

Peers that ask for no client certificate (hitch, which cannot, and
tlsgate-tcp-nocert, tlsgate doing the same work) do less work per handshake,
resumption and idle connection: for those figures they are marked † and
compared only with each other.

Usage: table.py RESULTS.jsonl "PEER..." "PEER=yes|no ..."
"""
import json
import statistics
import sys

# key, title, mode, field, higher_is_better, fmt, same_work (a client
# certificate costs nothing more in it: all peers are compared)
FIGURES = [
    ("hs", "full handshakes/s", "handshake", "rate", True, "{:.0f}", False),
    ("cpu_hs", "server CPU µs/handshake", "handshake", "server_cpu_us_per_op", False, "{:.0f}", False),
    ("res", "resumed handshakes/s (+1 GET)", "resume", "rate", True, "{:.0f}", False),
    ("req", "requests/s (64 conns)", "requests", "rate", True, "{:.0f}", True),
    ("p50", "p50 ms", "requests", "p50_us", False, "{:.2f}", True),
    ("p99", "p99 ms", "requests", "p99_us", False, "{:.2f}", True),
    ("cpu_req", "server CPU µs/request", "requests", "server_cpu_us_per_op", False, "{:.0f}", True),
    ("mbs", "MB/s (1 conn)", "bulk", "mb_s", True, "{:.0f}", True),
    ("mem", "KiB per idle conn", "idle", None, False, "{:.1f}", False),
]


def main():
    path, peers, verifies = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
    verifies = dict(v.split("=", 1) for v in verifies)
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    val, notes = {}, []
    for p in peers:
        mine = [r for r in rows if r["peer"] == p]
        for key, _, mode, field, _, _, _ in FIGURES:
            runs = [r for r in mine if r["mode"] == mode]
            if not runs:
                continue
            if key == "mem":
                r = runs[-1]
                n = r.get("established") or 0
                if n:
                    val[p, key] = (r["after_kib"] - r["before_kib"]) / n
                if n != r.get("conns"):
                    notes.append(f"{p}: only {n} of {r.get('conns')} idle connections held")
                continue
            xs = [r.get(field, 0) for r in runs]
            if key in ("p50", "p99"):
                xs = [x / 1000.0 for x in xs]
            val[p, key] = statistics.median(xs)
        errs = sum(r.get("errors", 0) for r in mine)
        if errs:
            notes.append(f"{p}: {errs} failed operations over all runs")
        res = [r for r in mine if r["mode"] == "resume"]
        tried = sum(r.get("resumed", 0) + r.get("full", 0) for r in res)
        if tried and sum(r["resumed"] for r in res) < 0.9 * tried:
            share = sum(r["resumed"] for r in res) / tried
            notes.append(f"{p}: only {share:.0%} of its resume-mode handshakes were resumed")

    # For the figures where a client certificate costs work, peers are
    # compared within their group: those that check one, those that do not.
    def group(p, cert_work):
        return "all" if not cert_work else verifies.get(p, "yes")

    best = {}
    for key, _, _, _, higher, _, same_work in FIGURES:
        for p in peers:
            if (p, key) not in val or val[p, key] <= 0:
                continue
            g = (key, group(p, not same_work))
            b = best.get(g)
            if b is None or (val[p, key] > b if higher else val[p, key] < b):
                best[g] = val[p, key]

    head = "| peer | " + " | ".join(f[1] for f in FIGURES) + " |"
    print(head)
    print("|---|" + "---:|" * len(FIGURES))
    for p in peers:
        cells = []
        for key, _, _, _, higher, fmt, same_work in FIGURES:
            if (p, key) not in val:
                cells.append("-")
                continue
            v = val[p, key]
            b = best.get((key, group(p, not same_work)))
            ratio = ""
            if b and v > 0:
                ratio = f" ({(v / b) if higher else (b / v):.2f})"
            mark = "†" if not same_work and verifies.get(p, "yes") == "no" else ""
            cells.append(fmt.format(v) + ratio + mark)
        name = p if verifies.get(p, "yes") == "yes" else p + " †"
        print(f"| {name} | " + " | ".join(cells) + " |")
    spread = []
    for key, title, mode, field, _, _, _ in FIGURES:
        worst = 0.0
        for p in peers:
            xs = [r.get(field, 0) for r in rows if r["peer"] == p and r["mode"] == mode]
            if key != "mem" and len(xs) > 1 and statistics.median(xs) > 0:
                worst = max(worst, (max(xs) - min(xs)) / statistics.median(xs))
        if worst > 0:
            spread.append(f"{title} {worst:.0%}")
    print()
    if spread:
        print("Run-to-run spread, (max - min) / median, worst peer per figure: " + ", ".join(spread) + ".")
    print("Ratios: to the best peer per figure, 1.00 = best (rates: value/best; "
          "CPU, latency, memory: best/value).")
    if any(verifies.get(p) == "no" for p in peers):
        print("† asks for no client certificate (hitch cannot; tlsgate-tcp-nocert is tlsgate "
              "with --verify none): less work per handshake and per connection, so for those "
              "figures it is compared only with the other † peers.")
    for n in notes:
        print(f"Note: {n}.")


if __name__ == "__main__":
    main()
