"""The doctor's scenario matrix at a larger scale than the test suite: every signal injected alone with
several seeds, and many healthy baselines; precision, recall and per-signal detection, plus the time per
diagnosis. Writes its section of docs/diagnosis.md (between the bench:diagnosis markers) unless --no-write.

    python bench/diagnosis.py [--seeds 3] [--healthy 20] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, markdown_table
from huoli.diagnosis.simulate import INJECTIONS, matrix_scenarios, run, score

DOC = ROOT / "docs" / "diagnosis.md"
BEGIN, END = "<!-- bench:diagnosis:begin -->", "<!-- bench:diagnosis:end -->"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3, help="seeds per injected signal")
    ap.add_argument("--healthy", type=int, default=20, help="healthy baselines")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    runs, seconds = [], []
    for sc in matrix_scenarios(healthy_seeds=args.healthy, seeds_per_signal=args.seeds):
        t = time.perf_counter()
        runs.append(run(sc))
        seconds.append(time.perf_counter() - t)
        name = ",".join(sorted(sc.inject)) or "healthy"
        print(f"{name:>18} seed {sc.seed:>4}: {sorted(runs[-1].ids)} ({seconds[-1]:.1f} s)", flush=True)
    s = score(runs)
    rows = []
    for name in sorted(INJECTIONS):
        mine = [r for r in runs if name in r.scenario.inject]
        found = sum(1 for r in mine if INJECTIONS[name]["required"] <= r.ids)
        allowed = INJECTIONS[name]["required"] | INJECTIONS[name]["allowed"]
        stray = sorted({i for r in mine for i in r.ids - allowed})
        rows.append(
            [
                name,
                ", ".join(sorted(INJECTIONS[name]["required"])),
                f"{found}/{len(mine)}",
                ", ".join(stray) or "–",
            ]
        )
    healthy = [r for r in runs if not r.scenario.inject]
    rows.append(["(healthy)", "nothing", f"{sum(1 for r in healthy if not r.ids)}/{len(healthy)} clean", "–"])
    body = [
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} with "
        f"`python bench/diagnosis.py --seeds {args.seeds} --healthy {args.healthy}` on {machine()}.",
        "",
        f"**{s['scenarios']} scenarios** ({s['injected']} injected, {s['healthy']} healthy): "
        f"recall **{s['recall']:.3f}**, precision **{s['precision']:.3f}** "
        f"({s['findings']} findings, {s['false_findings']} unrelated to the injected signal; "
        f"{s['healthy_with_findings']} healthy scenarios with any finding). "
        f"Median time per scenario (generate + diagnose, in-memory DuckDB): "
        f"{sorted(seconds)[len(seconds) // 2]:.1f} s.",
        "",
        *markdown_table(["Injected", "Required findings", "Found", "Other findings"], rows),
    ]
    section = "\n".join([BEGIN, *body, END])
    print(section)
    if not args.no_write:
        text = DOC.read_text()
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        DOC.write_text(text)


if __name__ == "__main__":
    main()
