"""Write a task set's fixed, seeded train/test split (split.json), balanced over families.

Run once when tasks are added: existing assignments are kept, so the split never drifts.
    python scripts/make_split.py task_sets/pyfuncs [--train 150] [--seed 0]
"""

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--train", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    path = args.root / "split.json"
    split = json.loads(path.read_text()) if path.exists() else {}
    families = defaultdict(list)
    for fam in sorted((args.root / "families").glob("*.yaml")):
        doc = yaml.safe_load(fam.read_text())
        for t in doc["tasks"]:
            families[doc.get("family", fam.stem)].append(str(t["name"]))
    names = [n for ns in families.values() for n in ns]
    new = [n for n in names if n not in split]
    if new:
        rng = random.Random(args.seed)
        total = len(names)
        # Each family gets a share of the train budget proportional to its size; the rest is test.
        for fam, ns in sorted(families.items()):
            fresh = [n for n in ns if n not in split]
            rng.shuffle(fresh)
            quota = round(args.train * len(ns) / total) - sum(split.get(n) == "train" for n in ns)
            for i, n in enumerate(fresh):
                split[n] = "train" if i < quota else "test"
        # Fix rounding so that exactly --train tasks are train.
        train = [n for n in names if split[n] == "train"]
        test = [n for n in names if split[n] == "test"]
        rng.shuffle(train), rng.shuffle(test)
        while len(train) > args.train:
            n = train.pop(); split[n] = "test"
        while len(train) < args.train and test:
            n = test.pop(); split[n] = "train"; train.append(n)
    ordered = {n: split[n] for n in sorted(split) if n in set(names)}
    path.write_text(json.dumps(ordered, indent=1, sort_keys=True) + "\n")
    counts = defaultdict(lambda: defaultdict(int))
    for fam, ns in families.items():
        for n in ns:
            counts[fam][ordered[n]] += 1
    for fam in sorted(counts):
        print(f"{fam:20s} train={counts[fam]['train']:3d} test={counts[fam]['test']:3d}")
    print(f"total train={sum(v == 'train' for v in ordered.values())} test={sum(v == 'test' for v in ordered.values())}")


if __name__ == "__main__":
    main()
