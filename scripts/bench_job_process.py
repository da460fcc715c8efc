"""What the job child costs a served compose job: the same compose jobs (the real model,
warm) run through ``pipeline.run_pipeline`` in this process and through the worker's
``JobProcess`` child, alternately, so both meet the same machine load. Prints the median and
each time; asserts nothing.

    .venv/bin/python scripts/bench_job_process.py --jobs 3 --bars 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--bars", type=int, default=8)
    args = parser.parse_args()

    import django

    django.setup()
    from generation import pipeline
    from generation.job_process import JobProcess

    params = {"kind": "compose", "style": "german_folk", "bars": args.bars, "variants": 1,
              "temperature": 1.0, "top_p": 0.95, "attributes": {}}
    child = JobProcess()
    t0 = time.perf_counter()
    child.start()
    pipeline.warm_up()
    print(f"warm-up here: {time.perf_counter() - t0:.1f} s")

    def one(runner, seed: int) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            runner(kind="compose", params={**params, "seed": seed}, input_path=None,
                   staging=Path(tmp), progress=lambda p, s: True, timings={})
            return time.perf_counter() - started

    t0 = time.perf_counter()
    one(child.run, 0)  # waits for the child's warm-up, not counted
    print(f"child ready and first job: {time.perf_counter() - t0:.1f} s")
    here, there = [], []
    for seed in range(1, args.jobs + 1):
        here.append(one(pipeline.run_pipeline, seed))
        there.append(one(child.run, seed))
        print(f"seed {seed}: in-process {here[-1]:.2f} s, job child {there[-1]:.2f} s")
    print(f"median of {args.jobs} compose jobs of {args.bars} bars: in-process "
          f"{statistics.median(here):.2f} s, job child {statistics.median(there):.2f} s")
    child.stop()


if __name__ == "__main__":
    main()
