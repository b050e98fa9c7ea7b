"""The training set of the bundled adapter: a seeded share of a ``gpu_tune.sh prepare`` set, with
every Generate tests example kept (the task with the fewest examples and the weakest answers).

Usage: python -m tests.benchmarks.tune_subset SET.jsonl.gz OUT.jsonl [--explain 900] [--implement 400] [--seed 18]
Writes OUT and OUT's .json (the set's manifest, its counts made this subset's). An example whose
file path exists in more than one of the manifest's packages is left out: its package (and so its
count in the manifest) would be a guess.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import random
from pathlib import Path


def choose(rows: list[dict], explain: int, implement: int, seed: int) -> list[dict]:
    by_task = collections.defaultdict(list)
    for row in rows:
        by_task[row["task"]].append(row)
    rng = random.Random(seed)
    chosen = by_task["generate_tests"] + rng.sample(by_task["explain"], explain) + rng.sample(by_task["implement"], implement)
    rng.shuffle(chosen)
    return chosen


def package_of(row: dict, packages: list[str]) -> str | None:
    path = row["source"].rsplit(":", 1)[0]
    holding = [p for p in packages if (Path(p) / path).exists()]
    return holding[0] if len(holding) == 1 else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("set")
    parser.add_argument("out")
    parser.add_argument("--explain", type=int, default=900)
    parser.add_argument("--implement", type=int, default=400)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    source, out = Path(args.set), Path(args.out)
    manifest = json.loads(Path(str(source).removesuffix(".gz")).with_suffix(".json").read_text())
    with gzip.open(source, "rt") if source.suffix == ".gz" else source.open() as lines:
        rows = [json.loads(line) for line in lines]
    counts = collections.defaultdict(collections.Counter)
    kept = []
    for row in choose(rows, args.explain, args.implement, args.seed):
        package = package_of(row, list(manifest["repos"]))
        if package:
            counts[package][row["task"]] += 1
            kept.append(row)
    out.write_text("".join(json.dumps(row) + "\n" for row in kept))
    tasks = ("explain", "generate_tests", "implement")
    for package, facts in manifest["repos"].items():
        facts["examples"] = {task: counts[package][task] for task in tasks}
    manifest["examples"] = {task: sum(c[task] for c in counts.values()) for task in tasks}
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(kept)} of {len(rows)} examples to {out}: {manifest['examples']}")


if __name__ == "__main__":
    main()
