"""codeagent compare: two improve loops side by side, task by task."""

from pathlib import Path

HELP = "compare two improve loops' greedy eval task by task (e.g. generated vs held-out verifier)"


def add_arguments(p) -> None:
    p.add_argument("a", type=Path, metavar="LOOP_A", help="an `improve --out` folder")
    p.add_argument("b", type=Path, metavar="LOOP_B", help="another, evaluated on the same eval split")
    p.add_argument("--plot", type=Path, metavar="PNG", help="also draw both learning curves into one PNG")


def run(args) -> int:
    from codeagent.errors import UserError
    from codeagent.improve.paired import compare_loops
    rows = compare_loops(args.a, args.b)
    if not rows:
        raise UserError(f"no greedy eval of the base model has finished in both {args.a} and {args.b}; "
                        "pass two `codeagent improve --out` folders")
    a, b = args.a.name, args.b.name
    print(f"| iter | {a} solved | {b} solved | only {a} | only {b} | sign test p |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['iteration']} | {r['solved_a']} | {r['solved_b']} | {r['only_a']} | {r['only_b']} | {r['p']:.3f} |")
    if args.plot:
        from codeagent.improve.report import plot_side_by_side
        plot_side_by_side([args.a, args.b], args.plot)
        print(f"plot: {args.plot}")
    return 0
