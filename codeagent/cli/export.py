"""codeagent export: verified attempts of runs -> training data + datasheet."""

from pathlib import Path

HELP = "export verified attempts of runs as training data (OpenAI JSONL, HF dataset, tool calls)"


def add_arguments(p) -> None:
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run dirs written by `codeagent run`")
    from codeagent.export.runs import SELECTIONS
    from codeagent.verify import VERIFIERS
    p.add_argument("--verifier", required=True, choices=[*VERIFIERS, *SELECTIONS],
                   help="whose acceptance counts: a verifier, or both (hack-flagged attempts are always dropped)")
    p.add_argument("--format", required=True, dest="fmt", metavar="FORMAT",
                   help="openai (chat JSONL) | hf (datasets folder + parquet, for `codeagent train`) | tools")
    p.add_argument("--out", required=True, type=Path, help="folder for the data, datasheet.json/.md, dropped.jsonl")
    p.add_argument("--max-per-task", type=int, default=2, help="most examples per task (default 2; 0: no cap)")
    p.add_argument("--eval-set", action="append", metavar="SET[:SPLIT]",
                   help="evaluation split never to train on (repeatable; default: the test split of each "
                        "run's task set; `none` for no decontamination)")
    p.add_argument("--ngram", type=int, default=13,
                   help="drop examples whose prompt shares this many consecutive words with an eval prompt")
    p.add_argument("--iteration", type=int, help="improve-loop iteration, recorded in the datasheet")


def run(args) -> int:
    from codeagent.export import export_runs

    eval_sets = args.eval_set
    if eval_sets is not None:
        eval_sets = [s for s in eval_sets if s.lower() != "none"]
    s = export_runs(args.run_dirs, args.verifier, args.fmt, args.out, max_per_task=args.max_per_task or None,
                    eval_sets=eval_sets, ngram=args.ngram, iteration=args.iteration)
    print(f"exported {s.n_examples} examples ({s.format}, verifier {s.verifier}) to {s.out}")
    print("  " + " -> ".join(f"{k} {v}" for k, v in s.counts.items()))
    if s.dropped_by_reason:
        print("  dropped: " + ", ".join(f"{k} {v}" for k, v in s.dropped_by_reason.items())
              + f" (details: {s.out / 'dropped.jsonl'})")
    print(f"  datasheet: {s.out / 'datasheet.md'}")
    if s.n_examples == 0:
        print("  warning: no examples survived the filters; see the datasheet for why")
    return 0
