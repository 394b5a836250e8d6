"""codeagent sweep: loop settings x verifier modes x seeds from one spec file."""

from pathlib import Path

HELP = "run a recipe sweep (settings x verifier modes x seeds) from a YAML spec and summarise it"


def add_arguments(p) -> None:
    p.add_argument("spec", type=Path, metavar="SPEC", help="YAML/JSON sweep spec, e.g. sweeps/recipe.yaml")
    p.add_argument("--out", required=True, type=Path, help="sweep folder (rerun the same command to resume)")
    p.add_argument("--check", action="store_true", help="only build and check every config, print the plan")


def run(args) -> int:
    from codeagent.improve.sweep import SWEEP_REPORT, configs, read_spec, run_sweep
    if args.check:
        spec = read_spec(args.spec)
        planned = configs(spec, str(args.spec))
        for (name, verifier) in planned:
            print(f"{args.out / name / verifier}: seeds {spec['seeds']}")
        print(f"{len(planned) * len(spec['seeds'])} loop(s)")
        return 0
    run_sweep(args.spec, args.out)
    print((args.out / SWEEP_REPORT).read_text())
    return 0
