#!/usr/bin/env python3
"""The scaling benchmark (issue #6): runs build/bench_scale once per measurement
(each in its own process, so peak RSS is that measurement's own) and writes
docs/benchmarks.md (tables, the targets) and docs/benchmarks.svg (plot).

Usage (from the repository root, after building):
    python3 tests/bench/run_benchmarks.py [--build build] [--model models/default.safetensors]
                                          [--max-n 10000000] [--oneshot-max-n 4194304]
                                          [--quick] [--sections a,b,...] [--out docs]
About 7 minutes on 2 cores at the default sizes (the one-shot path at its
limit of 2^22 rows needs ~9 GB of memory; --oneshot-max-n 1000000 keeps it
under 2.2 GB); --quick stops at 10^5 rows (under a minute; a smoke test, not
for the docs).  Not part of ctest.

Sections (run in this order; --sections picks some):
    sgemm        the machine's cblas_sgemm rate, the reference for efficiency
    conditioning SQL aggregate, engine, one-shot full attention: rows/s, GFLOP/s,
                 peak RSS for N = 10^3 .. 10^7
    update       add 1 / 10 / 100 rows to a state of N rows and predict one target
    predict      targets/s through cmanp_predict (an IN list, one target per call)
                 and cmanp_mean (1 state x many targets, many states x 4 targets)
                 and through the engine; on 1 and on 2 threads (CMANP_THREADS)
    sizes        bytes per stored state, per cached model, per read-out state
    cmhp         CMHP: per-event update cost and state bytes for 10^2 .. 10^6 events
                 against one-shot causal attention; all of hawkes_meta scored in SQL
Further sections: write a function f(ctx) -> Section and append ("name", f) to
SECTIONS below (e.g. one that runs build/bench_cmhp and reads its JSON lines
with ctx.run_jsonl); its markdown lines, targets and plot series are merged
into the same report.
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MiB = 1024.0


@dataclass
class Section:
    md: list = field(default_factory=list)        # markdown lines
    targets: list = field(default_factory=list)   # (target, measured text, met: bool | None)
    plot: list = field(default_factory=list)      # (label, colour, [(N, peak RSS MiB)])


class Ctx:
    """What a section needs: options, the bench runners, earlier results."""

    def __init__(self, args):
        self.a = args
        self.ext = os.path.join(args.build, "cmanp")
        self.ns = [n for n in (10**3, 10**4, 10**5, 10**6, 10**7) if n <= args.max_n]
        self.results = {}   # section name -> whatever it wants to share (e.g. sgemm rate)
        self.env = dict(os.environ, OPENBLAS_NUM_THREADS="1")

    def run_jsonl(self, binary, *args, threads=1):
        """Run build/<binary> with args (readouts and decoding on `threads`
        threads: CMANP_THREADS); return its stdout's JSON lines as dicts."""
        env = dict(self.env, CMANP_THREADS=str(threads))
        out = subprocess.run([os.path.join(self.a.build, binary), *map(str, args)], env=env,
                             check=True, capture_output=True, text=True).stdout
        recs = [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]
        for r in recs:
            print(json.dumps(r), file=sys.stderr)
        return recs

    def scale(self, mode, n=None, threads=1):
        args = [mode] if mode == "sgemm" else [mode, self.ext, self.a.model, n]
        return self.run_jsonl("bench_scale", *args, threads=threads)[-1]


def verdict(ok):
    return "**met**" if ok else "not met"


# ------------------------------------------------------------------ sections

def section_sgemm(ctx):
    sg = ctx.scale("sgemm")["gflops"]
    ctx.results["sgemm"] = sg
    return Section(md=[f"Machine's `cblas_sgemm` (512³, one thread, best of 9): **{sg:.1f} GFLOP/s**.", ""])


def section_conditioning(ctx):
    sg = ctx.results.get("sgemm") or ctx.scale("sgemm")["gflops"]
    ns = ctx.ns
    sql = [ctx.scale("sql-stream", n) for n in ns]
    eng = [ctx.scale("engine-stream", n) for n in ns]
    one = [ctx.scale("oneshot", n) for n in ns if n <= ctx.a.oneshot_max_n]
    # the one-shot path's limit (cmanp_cond_new takes at most 2^22 rows per block)
    limit = 1 << 22
    one_limit = ctx.scale("oneshot", limit) if ctx.a.oneshot_max_n >= limit else None
    md = ["## Conditioning", "",
          "`SELECT cmanp_condition('m', x, y) FROM t` over N rows of a table in a database file "
          "(read through SQLite's page cache, fixed at 2 MB), the same rows fed to the engine from C, "
          "and the one-shot path (all N rows in one block: full attention over the set, as in training "
          "and in attention NPs without CMAB; the engine takes up to 2^22 rows that way).  Peak RSS is "
          "the whole process's (SQLite, the model, the extension).  CPU rows/s: the same work over "
          "the process's CPU time (equal to wall-clock rows/s on a quiet machine).", "",
          "| N | SQL rows/s | SQL GFLOP/s | of sgemm | SQL CPU rows/s | SQL peak RSS | engine rows/s "
          "| one-shot rows/s | one-shot peak RSS |",
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, n in enumerate(ns):
        s, e = sql[i], eng[i]
        o = next((r for r in one if r["n"] == n), None)
        md.append(f"| {n:,} | {s['rows_per_s']:,.0f} | {s['gflops']:.1f} | {100 * s['gflops'] / sg:.0f}% | "
                  f"{s['cpu_rows_per_s']:,.0f} | {s['peak_rss_kb'] / MiB:.1f} MiB | {e['rows_per_s']:,.0f} | "
                  + (f"{o['rows_per_s']:,.0f} | {o['peak_rss_kb'] / MiB:.1f} MiB |" if o else "— | — |"))
    growth = (sql[-1]["peak_rss_kb"] - sql[0]["peak_rss_kb"]) / MiB
    md += ["", f"Peak RSS growth of the SQL aggregate from N = {ns[0]:,} to {ns[-1]:,}: **{growth:.2f} MiB** "
           f"(state BLOB: {sql[0]['state_bytes']:,.0f} bytes at every N).", ""]
    if one_limit:
        md += [f"One-shot at its limit, N = {limit:,} (2^22 rows in one block; more is refused): "
               f"{one_limit['rows_per_s']:,.0f} rows/s, peak RSS {one_limit['peak_rss_kb'] / MiB / 1024:.2f} GiB "
               f"(the streaming aggregate: {sql[-1]['peak_rss_kb'] / MiB:.1f} MiB at any N).", ""]
        one = one + [one_limit]
    big = sql[-1]
    eff = big["gflops"] / sg
    ctx.results["conditioning"] = {"sql": sql, "engine": eng, "oneshot": one}
    targets = [
        (f"peak RSS growth of `cmanp_condition` from N = {ns[0]:,} to {ns[-1]:,} ≤ 2 MiB",
         f"{growth:.2f} MiB", growth <= 2.0),
        ("conditioning (SQL) ≥ 35% of the measured sgemm rate",
         f"{100 * eff:.0f}% ({big['gflops']:.1f} of {sg:.1f} GFLOP/s at N = {big['n']:,}; "
         f"CPU-time rate {100 * big['cpu_rows_per_s'] * big['gflops'] / big['rows_per_s'] / sg:.0f}%)",
         eff >= 0.35),
    ]
    plot = [("SQL aggregate", "#1f77b4", [(r["n"], r["peak_rss_kb"] / MiB) for r in sql]),
            ("one-shot", "#d62728", [(r["n"], r["peak_rss_kb"] / MiB) for r in one])]
    return Section(md=md, targets=targets, plot=plot)


def section_update(ctx):
    upd = [ctx.scale("update", n) for n in ctx.ns]
    upd2 = [ctx.scale("update", n, threads=2) for n in ctx.ns]
    md = ["## Update cost", "",
          "A state built from N rows (stored in a table), then `cmanp_update` with 1, 10 or 100 new rows "
          "and `cmanp_mean` at one target, through SQL (every repetition with new rows, so the new state "
          "is decoded and read out each time: the readout, 321 MFLOP at the reference configuration, "
          "dominates).  Medians of 21 repetitions, on one thread (the default) and on two "
          "(`SELECT cmanp_threads(2)`: the readout's row parts on both cores; the same bits).", "",
          "| N | +1 row, 1 target | +10 rows | +100 rows | +1 row (CPU time) "
          "| 2 threads: +1 row | +10 rows | +100 rows | +1 row (CPU time) |",
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for u, v in zip(upd, upd2):
        md.append(f"| {u['n']:,} | {u['add1_predict1_ms']:.2f} ms | {u['add10_predict1_ms']:.2f} ms | "
                  f"{u['add100_predict1_ms']:.2f} ms | {u['add1_predict1_cpu_ms']:.2f} ms "
                  f"| {v['add1_predict1_ms']:.2f} ms | {v['add10_predict1_ms']:.2f} ms | "
                  f"{v['add100_predict1_ms']:.2f} ms | {v['add1_predict1_cpu_ms']:.2f} ms |")
    first, last = upd[0]["add1_predict1_ms"], upd[-1]["add1_predict1_ms"]
    md += ["", f"From N = {upd[0]['n']:,} to {upd[-1]['n']:,} the +1-row cost changes by "
           f"{100 * (last / first - 1):+.0f}% on one thread and "
           f"{100 * (upd2[-1]['add1_predict1_ms'] / upd2[0]['add1_predict1_ms'] - 1):+.0f}% on two "
           "(the work is identical: tests/unit/test_bounded.c and tests/sql/bounded.sql count it).", ""]
    worst = max(u["add1_predict1_ms"] for u in upd)
    worst2 = max(u["add1_predict1_ms"] for u in upd2)
    ctx.results["update"] = {"1": upd, "2": upd2}
    return Section(md=md, targets=[("1-row update + 1-target prediction ≤ 5 ms (SQL)",
                                    f"{worst2:.2f} ms on 2 threads, {worst:.2f} ms on 1 (worst N)",
                                    worst2 <= 5.0)])


def section_predict(ctx):
    n = 1000 if ctx.a.quick else 4000
    pred = ctx.scale("predict", n)
    pred2 = ctx.scale("predict", n, threads=2)
    ne = 5000 if ctx.a.quick else 50000
    eng = ctx.scale("engine-predict", ne)
    eng2 = ctx.scale("engine-predict", ne, threads=2)
    md = ["## Prediction throughput", "",
          f"Through SQL, 1 state × {pred['n']:,} targets:", "",
          "| form | 1 thread | 2 threads |", "|---|---:|---:|",
          f"| all targets in one call: `cmanp_predict(state) WHERE a1 IN (SELECT x ...)` (batches of 48) "
          f"| **{pred['in_targets_per_s']:,.0f}/s** | **{pred2['in_targets_per_s']:,.0f}/s** |",
          f"| one target per call: `cmanp_predict(st.state, q.x)` in a lateral join "
          f"| {pred['tvf_targets_per_s']:,.0f}/s | {pred2['tvf_targets_per_s']:,.0f}/s |",
          f"| one target per call: `cmanp_mean(st.state, q.x)` "
          f"| {pred['mean_targets_per_s']:,.0f}/s | {pred2['mean_targets_per_s']:,.0f}/s |",
          f"| {pred['many_states']:,} states × 4 targets (`IN (-1.5, -0.5, 0.5, 1.5)`): states/s "
          f"| {pred['many_in_states_per_s']:,.0f} | {pred2['many_in_states_per_s']:,.0f} |",
          f"| the same, one target per call: states/s "
          f"| {pred['many_states_per_s']:,.0f} | {pred2['many_states_per_s']:,.0f} |",
          "",
          f"The engine (no SQL), a state read out once:", "",
          "| | 1 thread | 2 threads |", "|---|---:|---:|",
          f"| {eng['n']:,} targets in one call (batches of 48) | {eng['batch_targets_per_s']:,.0f}/s "
          f"({eng['batch_gflops']:.1f} GFLOP/s) | {eng2['batch_targets_per_s']:,.0f}/s "
          f"({eng2['batch_gflops']:.1f} GFLOP/s) |",
          f"| one target per call | {eng['one_targets_per_s']:,.0f}/s | {eng2['one_targets_per_s']:,.0f}/s |",
          f"| one readout | {eng['readout_ms']:.2f} ms ({eng['readout_gflops']:.1f} GFLOP/s) "
          f"| {eng2['readout_ms']:.2f} ms ({eng2['readout_gflops']:.1f} GFLOP/s) |",
          f"| add 1 row + readout + 1 target | {eng['add1_predict1_ms']:.2f} ms "
          f"| {eng2['add1_predict1_ms']:.2f} ms |", ""]
    ctx.results["predict"] = {"sql": pred, "sql2": pred2, "engine": eng, "engine2": eng2}
    targets = [
        ("≥ 100k predicted targets/s (SQL, many targets per call)",
         f"{pred2['in_targets_per_s']:,.0f}/s on 2 threads, {pred['in_targets_per_s']:,.0f}/s on 1",
         pred2["in_targets_per_s"] >= 100_000),
        ("≥ 100k predicted targets/s (engine, many targets per call)",
         f"{eng2['batch_targets_per_s']:,.0f}/s on 2 threads, {eng['batch_targets_per_s']:,.0f}/s on 1",
         eng2["batch_targets_per_s"] >= 100_000),
        ("(for reference) SQL, one target per call",
         f"{pred['tvf_targets_per_s']:,.0f}/s: each call looks up its state and decodes one row", None),
    ]
    return Section(md=md, targets=targets)


def section_sizes(ctx):
    z = ctx.scale("sizes", 0)
    md = ["## Sizes", "",
          "| what | bytes |", "|---|---:|",
          f"| stored state (BLOB, any number of rows) | {z['state_blob_bytes']:,.0f} |",
          f"| decoded state in memory | {z['state_memory_bytes']:,} |",
          f"| model file ({z['n_params']:,} float32 parameters) | {z['model_file_bytes']:,} |",
          f"| cached model in memory (parameters, per-layer constants, transposed decoder weights) "
          f"| {z['model_memory_bytes']:,} |",
          f"| read-out state (latents and decoder keys/values: one entry of the SQL state cache, "
          f"besides its BLOB) | {z['readout_memory_bytes']:,} |",
          "", "Through SQL (`cmanp_debug()` engine_live_bytes): "
          f"{z['sql_live_after_load']:,.0f} after `cmanp_model_load`, "
          f"{z['sql_live_after_condition']:,.0f} after a `cmanp_condition`, "
          f"{z['sql_live_after_predict']:,.0f} after a prediction (the read-out state cached).", ""]
    ctx.results["sizes"] = z
    return Section(md=md)


def section_cmhp(ctx):
    """Issue #8 item 5: CMHP per-event update cost and state bytes against the
    history length, a one-shot causal-attention history encoder (how THP
    conditions), and scoring all of hawkes_meta through the SQL window query."""
    model = os.path.join(ROOT, "models", "cmhp_hawkes_meta.safetensors")
    tpp = os.path.join(os.environ.get("CMANP_SHARED_DIR", os.path.join(ROOT, "..", "shared")),
                       "tpp", "hawkes_meta.sqlite")
    args = ["--model", model, "--ext", ctx.ext, "--set", tpp]
    if ctx.a.quick:
        args.append("--smoke")
    recs = ctx.run_jsonl("bench_cmhp", *args)
    cfg = next(r for r in recs if r["part"] == "config")
    upd = [r for r in recs if r["part"] == "update"]
    att = {r["n"]: r for r in recs if r["part"] == "attention"}
    sql = next((r for r in recs if r["part"] == "sql"), None)
    md = ["## CMHP event streams", "",
          f"Model `models/cmhp_hawkes_meta.safetensors` ({cfg['variant']} variant, {cfg['marks']} marks, "
          f"d_model {cfg['d_model']}, {cfg['num_layers']} CMAB layers).  Per history length n: fold one more "
          "event into a state of n events, then read out and score the next event (medians); the one-shot "
          "baseline is full causal self-attention over all n event embeddings (2 layers, as THP conditions), "
          "whose score matrix grows as n².", "",
          "| n events | fold 1 event (µs) | readout + logprob (µs) | state BLOB (bytes) | engine live bytes "
          "| one-shot causal attention (s) | its peak bytes |",
          "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in upd:
        a = att.get(r["n"])
        if a is None:
            at, ab = "—", "—"
        elif a.get("skipped"):
            at, ab = "skipped", a.get("note", "")
        else:
            at, ab = f"{a['seconds']:.4g}", f"{a['peak_bytes']:,}"
        md.append(f"| {r['n']:,} | {r['fold_us_median']:.2f} | {r['readout_logprob_us_median']:.1f} "
                  f"| {r['state_bytes']:,} | {r['engine_live_bytes']:,} | {at} | {ab} |")
    md.append("")
    targets = []
    if upd:
        flat = len({(r["state_bytes"], r["engine_live_bytes"]) for r in upd}) == 1 and \
            all(r["allocs_during"] == 0 for r in upd)
        f = [r["fold_us_median"] for r in upd]
        targets.append((f"CMHP state bytes and per-event cost flat, n = {upd[0]['n']:,} … {upd[-1]['n']:,}",
                        f"state {upd[0]['state_bytes']:,} B at every n, 0 allocations per event; "
                        f"fold {min(f):.2f}–{max(f):.2f} µs", flat))
    if sql:
        md += [f"Scoring every event of `hawkes_meta` through the SQL window query "
               f"(`sql/cmhp_eval.sql`'s form): {sql['events']:,} events of {sql['sequences']:,} sequences in "
               f"{sql['seconds']:.1f} s wall ({sql['cpu_seconds']:.1f} s CPU; {sql['events_per_s']:,.0f} "
               f"events/s), mean NLL {sql['nll']:.4f} against the oracle's {sql['oracle_nll']:.4f}.", ""]
    return Section(md=md, targets=targets)


SECTIONS = [
    ("sgemm", section_sgemm),
    ("conditioning", section_conditioning),
    ("update", section_update),
    ("predict", section_predict),
    ("sizes", section_sizes),
    ("cmhp", section_cmhp),
]


# ---------------------------------------------------------------------- plot

def svg_plot(series, xlabel, ylabel, title, logy=True):
    """A minimal log-log line plot as SVG text. series: [(label, colour, [(x, y)])]."""
    W, H, L, R, T, B = 560, 340, 70, 150, 40, 50
    series = [s for s in series if s[2]]
    xs = [x for _, _, pts in series for x, _ in pts]
    ys = [y for _, _, pts in series for _, y in pts if y > 0]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    fy = (lambda v: math.log10(v)) if logy else (lambda v: v)
    y0, y1 = fy(min(ys)), fy(max(ys))
    if logy:
        y0, y1 = math.floor(y0), math.ceil(y1)
    else:
        y0, y1 = 0, y1 * 1.1
    px = lambda x: L + (math.log10(x) - x0) / max(x1 - x0, 1e-9) * (W - L - R)
    py = lambda y: H - B - (fy(y) - y0) / max(y1 - y0, 1e-9) * (H - T - B)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2 - R/2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
         f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
         f'<text x="{(L + W - R)/2}" y="{H-12}" text-anchor="middle">{xlabel}</text>',
         f'<text x="16" y="{(T + H - B)/2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B)/2})">{ylabel}</text>']
    for e in range(int(x0), int(x1) + 1):
        x = px(10 ** e)
        s.append(f'<line x1="{x}" y1="{H-B}" x2="{x}" y2="{H-B+5}" stroke="black"/>')
        s.append(f'<text x="{x}" y="{H-B+18}" text-anchor="middle">10^{e}</text>')
    ticks = [10 ** e for e in range(int(y0), int(y1) + 1)] if logy else [y0 + (y1 - y0) * k / 4 for k in range(5)]
    for v in ticks:
        y = py(v)
        s.append(f'<line x1="{L-5}" y1="{y}" x2="{W-R}" y2="{y}" stroke="#ddd"/>')
        lab = f"10^{round(math.log10(v))}" if logy else f"{v:.3g}"
        s.append(f'<text x="{L-8}" y="{y+4}" text-anchor="end">{lab}</text>')
    for i, (label, colour, pts) in enumerate(series):
        d = " ".join(f"{'M' if k == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for k, (x, y) in enumerate(pts))
        s.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in pts:
            s.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        s.append(f'<line x1="{W-R+10}" y1="{T+14+18*i}" x2="{W-R+30}" y2="{T+14+18*i}" stroke="{colour}" stroke-width="2"/>')
        s.append(f'<text x="{W-R+35}" y="{T+18+18*i}">{label}</text>')
    s.append("</svg>")
    return "\n".join(s)


# ---------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "default.safetensors"))
    ap.add_argument("--max-n", type=int, default=10_000_000)
    ap.add_argument("--oneshot-max-n", type=int, default=1 << 22,
                    help="largest one-shot N (default 2^22, the engine's limit: ~8.7 GB of scratch)")
    ap.add_argument("--quick", action="store_true", help="N up to 10^5: a smoke run")
    ap.add_argument("--sections", default=",".join(n for n, _ in SECTIONS),
                    help="comma-separated subset of: " + ", ".join(n for n, _ in SECTIONS))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs"))
    a = ap.parse_args()
    if a.quick:
        a.max_n, a.oneshot_max_n = min(a.max_n, 100_000), min(a.oneshot_max_n, 100_000)
    wanted = [s.strip() for s in a.sections.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in dict(SECTIONS)]
    if unknown:
        ap.error("unknown sections: " + ", ".join(unknown))
    ctx = Ctx(a)
    t0 = time.time()
    done = [(name, fn(ctx)) for name, fn in SECTIONS if name in wanted]
    info = subprocess.run(["sqlite3", ":memory:", f".load {ctx.ext}",
                           f"SELECT cmanp_model_load('m', '{a.model}');",
                           "SELECT cmanp_model_info('m');"], capture_output=True, text=True).stdout.strip().splitlines()
    info = info[-1] if info else "?"

    md = ["# Benchmarks", "",
          f"Generated by `python3 tests/bench/run_benchmarks.py{' --quick' if a.quick else ''}` in "
          f"{time.time() - t0:.0f} s on {platform.processor() or platform.machine()} ({os.cpu_count()} cores), "
          "`OPENBLAS_NUM_THREADS=1`, one thread unless a column says 2 (`cmanp_threads(2)`), one process per measurement, SQLite page cache fixed at 2 MB "
          "(`PRAGMA cache_size = -2000`).  Where the work is, and why each number is what it is: "
          "[performance.md](performance.md).", "",
          f"Model: `{os.path.relpath(a.model, ROOT)}` — `{info}`.", ""]
    targets = [t for _, s in done for t in s.targets]
    if targets:
        md += ["## Targets", "", "| target | measured | |", "|---|---|---|"]
        md += [f"| {t} | {m} | {verdict(ok) if ok is not None else '—'} |" for t, m, ok in targets]
        md.append("")
    for _, s in done:
        md += s.md
    series = [p for _, s in done for p in s.plot]
    if series:
        md += ["![peak RSS against N](benchmarks.svg)", ""]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "benchmarks.md"), "w") as f:
        f.write("\n".join(md))
    if series:
        with open(os.path.join(a.out, "benchmarks.svg"), "w") as f:
            f.write(svg_plot(series, "rows conditioned (N)", "peak RSS (MiB)", "Memory: streaming vs one-shot"))
    print("\n".join(md))


if __name__ == "__main__":
    main()
