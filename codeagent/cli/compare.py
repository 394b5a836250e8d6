"""codeagent compare: two improve loops side by side, task by task."""

from pathlib import Path

HELP = "compare two improve loops' eval task by task (e.g. generated vs held-out verifier), per seed"


def add_arguments(p) -> None:
    p.add_argument("a", type=Path, metavar="LOOP_A", help="an `improve --out` folder (or an `improve --seeds` one)")
    p.add_argument("b", type=Path, metavar="LOOP_B", help="another, evaluated on the same eval split")
    p.add_argument("--plot", type=Path, metavar="PNG", help="also draw both learning curves into one PNG")


def run(args) -> int:
    from codeagent.errors import UserError
    from codeagent.improve.layout import METRICS_FILE, seed_folders
    from codeagent.improve.paired import compare_loops
    from codeagent.improve.seeds import compare_seeded, markdown
    a, b = args.a.name, args.b.name
    seeded = bool(seed_folders(args.a) or seed_folders(args.b))
    if not seeded:
        rows = compare_loops(args.a, args.b)
        if not rows:
            raise UserError(f"no greedy eval of the base model has finished in both {args.a} and {args.b}; "
                            "pass two `codeagent improve --out` folders")
        print(f"| iter | {a} solved | {b} solved | only {a} | only {b} | sign test p |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['iteration']} | {r['solved_a']} | {r['solved_b']} | {r['only_a']} | {r['only_b']} | {r['p']:.3f} |")
    if seeded or ((args.a / METRICS_FILE).is_file() and (args.b / METRICS_FILE).is_file()):
        paired = compare_seeded(args.a, args.b)
        if any(len(r) > 1 for r in paired):  # figures with per-task results (loops before them have none)
            print()
            print(markdown(paired, f"{b} vs {a}", what=f"{b} - {a}"))
    if args.plot:
        if seeded:
            raise UserError("--plot draws two plain loops; pass one seed of each, e.g. A/seed_0 B/seed_0")
        from codeagent.improve.report import plot_side_by_side
        plot_side_by_side([args.a, args.b], args.plot)
        print(f"plot: {args.plot}")
    return 0
