"""codeagent tasks: list task sets, show their tasks, validate them, synthesize repository tasks."""

HELP = "list task sets and show their tasks"


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="tasks_command", required=True)
    sub.add_parser("list", help="the task sets the registry knows")
    show = sub.add_parser("show", help="the tasks of one set")
    show.add_argument("task_set", help="registry name or path to a set folder")
    show.add_argument("--split", choices=["train", "test"])
    show.add_argument("--id", help="print one task in full (problem statement and repo files)")
    val = sub.add_parser("validate", help="check every task: reference passes all held-out tests, bare stub fails one "
                         "(repository tasks: the bug fails every FAIL_TO_PASS test, the reference fix resolves)")
    val.add_argument("--max-tasks", type=int, help="only the first M tasks")
    val.add_argument("task_set")
    val.add_argument("--backend", default="auto", choices=["auto", "docker", "local"])
    val.add_argument("--workers", type=int, default=2)
    syn = sub.add_parser("synthesize", help="make validated bug-fix tasks from real libraries (task_sets/sources/)")
    syn.add_argument("--source", action="append", required=True,
                     help="a source name in task_sets/sources/ (or a path to a source YAML), optionally NAME:MAX to cap its kept tasks (repeatable)")
    syn.add_argument("--strategies", help="comma-separated bug strategies: the procedural ones and self_play "
                     "(default: all procedural ones; with --model: self_play)")
    syn.add_argument("--model", help="self-play: the model (any spec `codeagent run --model` takes) that writes a "
                     "subtle bug into each function it is shown")
    syn.add_argument("--temperature", type=float, default=0.7, help="self-play sampling temperature (seeded by --seed)")
    syn.add_argument("--self-play-batch", type=int, default=16, metavar="N",
                     help="self-play: functions asked per model call (the replies of one call are decoded together)")
    syn.add_argument("--max", type=int, help="stop a source once this many tasks were kept")
    syn.add_argument("--max-candidates", type=int, help="candidates validated per source (after shuffling); "
                     "self-play also asks the model about no more functions than this")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--heldout-library", help="a source whose tasks all go to the test split")
    syn.add_argument("--out", required=True, help="the set folder to write (resumes its .synth/ journal)")
    syn.add_argument("--backend", default="auto", choices=["auto", "docker", "local"])
    syn.add_argument("--workers", type=int, default=2)
    exp = sub.add_parser("export-swebench", help="write a repository set as SWE-bench instances (JSONL)")
    exp.add_argument("task_set")
    exp.add_argument("--split", choices=["train", "test"])
    exp.add_argument("--out", required=True, help="the JSONL file to write")
    exp.add_argument("--repos", help="also write a git repo per library whose commits are the base_commits")
    imp = sub.add_parser("import-swebench", help="read SWE-bench / SWE-Gym / SWE-smith instances into a task set "
                         "(format: swebench) that reads each repo from its local clone")
    imp.add_argument("file", help="instances, one JSON object a line")
    imp.add_argument("--repos", required=True, help="folder of local clones: REPOS/<owner>__<name> or REPOS/<name>")
    imp.add_argument("--out", required=True, help="the set folder to write (e.g. task_sets/NAME; its name is the set's)")
    imp.add_argument("--split", default="test", choices=["train", "test"], help="the split of every imported task")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from codeagent.tasks import available_task_sets, load_task_set, load_tasks
    console = Console()
    if args.tasks_command == "list":
        table = Table("task set", "splits", "tasks", "source")
        for name, source in available_task_sets().items():
            ts = load_task_set(name)
            table.add_row(name, ", ".join(f"{s}={len(ts.tasks(s))}" for s in ts.splits()),
                          str(len(ts.tasks())), source)
        console.print(table)
        return 0
    if args.tasks_command == "show":
        tasks = load_tasks(args.task_set, args.split)
        if args.id:
            task = next((t for t in tasks if t.id == args.id), None)
            if task is None:
                from codeagent.errors import UserError
                raise UserError(f"no task {args.id!r} in {args.task_set}")
            console.print(f"[bold]{task.id}[/] ({task.split}) {task.metadata}")
            for path, content in task.repo_files.items():
                console.rule(path)
                console.print(content, markup=False, highlight=False)
            return 0
        table = Table("id", "split", "family", "tier", "entry point")
        for t in tasks:
            table.add_row(t.id, t.split, str(t.metadata.get("family", "")), str(t.metadata.get("tier") or ""),
                          t.entry_point or "")
        console.print(table)
        console.print(f"{len(tasks)} tasks")
        return 0
    if args.tasks_command == "synthesize":
        return _synthesize(args, console)
    if args.tasks_command in ("export-swebench", "import-swebench"):
        return _swebench(args, console)
    from codeagent.tasks.validate import print_validation, validate_tasks
    report = validate_tasks(load_tasks(args.task_set)[:args.max_tasks], backend=args.backend, workers=args.workers)
    print_validation(report)
    return 0 if report.ok else 1


def _synthesize(args, console) -> int:
    from pathlib import Path

    from codeagent.repos.selfplay import SelfPlayConfig
    from codeagent.repos.synthesize import synthesize
    strategies = [s.strip() for s in args.strategies.split(",")] if args.strategies else None
    stats = synthesize(args.source, Path(args.out), strategies, seed=args.seed, max_candidates=args.max_candidates,
                       max_tasks=args.max, heldout_library=args.heldout_library, backend=args.backend,
                       workers=args.workers, model=args.model, self_play=SelfPlayConfig(temperature=args.temperature,
                                                                          batch=args.self_play_batch))
    from rich.table import Table
    table = Table("source", "pristine tests", "self-play replies", "candidates", "kept", "why dropped", "seconds")
    for s in stats:
        dropped = ", ".join(f"{k}={v}" for k, v in sorted(s.reasons.items()) if k != "kept")
        replies = ", ".join(f"{k}={v}" for k, v in s.replies.items()) or "-"
        table.add_row(s.source, str(s.baseline_tests), replies, str(sum(s.candidates.values())),
                      str(sum(s.kept.values())), dropped, str(s.seconds))
    console.print(table)
    console.print(f"wrote {args.out}")
    return 0


def _swebench(args, console) -> int:
    from pathlib import Path

    from codeagent.repos.imported import import_set
    from codeagent.repos.swebench import export_instances
    from codeagent.tasks import load_tasks
    if args.tasks_command == "export-swebench":
        n = export_instances(load_tasks(args.task_set, args.split), Path(args.out),
                             Path(args.repos) if args.repos else None)
        console.print(f"wrote {n} instances to {args.out}")
        return 0 if n else 1
    report = import_set(Path(args.file), Path(args.repos), Path(args.out), args.split)
    for problem in report.problems:
        console.print(f"[red]skipped[/] {problem}", markup=True, highlight=False)
    console.print(f"{len(report.tasks)} instances read ({len(report.problems)} skipped)"
                  + (f"; wrote the task set {args.out}" if report.tasks else "; nothing written"))
    return 0 if report.tasks else 1
