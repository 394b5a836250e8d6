"""codeagent verify: attach verdicts (held-out, generated + agreement, hack guard) to a run."""

from pathlib import Path

from codeagent.cli.executor_args import add_executor_arguments, executor_choice
from codeagent.evaluation.base import DEFAULT_TIMEOUT_S

HELP = "verify every attempt of a run (held-out tests, model-written tests + CodeT agreement, hack guard)"


def add_arguments(p) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the --out folder of `codeagent run`")
    p.add_argument("--verifiers", default="generated,heldout",
                   help="comma-separated registered verifiers, e.g. generated, heldout (default both; the gap report "
                        "needs heldout and one other)")
    p.add_argument("--model", help="model spec that writes the generated tests (default: the run's model)")
    p.add_argument("--n-tests", type=int, default=10, help="most generated tests kept per task (default 10)")
    p.add_argument("--samples", type=int, default=4, help="replies sampled per task when writing tests (default 4)")
    p.add_argument("--backend", default="auto", choices=["auto", "docker", "local"],
                   help="sandbox backend (local is WEAKER isolation than docker)")
    p.add_argument("--workers", type=int, default=2, help="sandboxes running in parallel")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per test job")
    p.add_argument("--mutation", choices=["report", "filter"],
                   help="check the generated tests against mutants of the accepted solution (default: off)")
    p.add_argument("--min-cluster-size", type=int, default=1, help="smallest agreeing cluster accepted (default 1)")
    p.add_argument("--min-tests-passed", type=int, default=1, help="fewest generated tests passed (default 1)")
    add_executor_arguments(p)


def run(args) -> int:
    from codeagent.errors import UserError
    from codeagent.runfolder import GAP_REPORT_FILE, VERDICTS_FILE
    from codeagent.verify.gap import print_gap_report
    from codeagent.verify.stage import VerifyConfig, verify_run

    verifiers = tuple(v.strip() for v in args.verifiers.split(",") if v.strip())
    for name, value in (("--n-tests", args.n_tests), ("--samples", args.samples), ("--workers", args.workers)):
        if value < 1:
            raise UserError(f"{name} must be at least 1, got {value}")
    executor, options = executor_choice(args)
    cfg = VerifyConfig(verifiers=verifiers, model=args.model, n_tests=args.n_tests, samples=args.samples,
                       backend=args.backend, workers=args.workers, timeout_s=args.timeout,
                       executor=executor or "local", executor_options=options, mutation=args.mutation,
                       min_cluster_size=args.min_cluster_size, min_tests_passed=args.min_tests_passed)
    result = verify_run(args.run_dir, cfg)
    print(f"verified {result.n_verified} attempt(s) of {result.n_attempts} "
          f"({result.n_attempts - result.n_verified} already done) in {result.timings['wall_s']:.1f}s; "
          f"verdicts: {args.run_dir / VERDICTS_FILE}")
    if result.gap_report:
        print_gap_report(result.gap_report)
        print(f"gap report: {args.run_dir / GAP_REPORT_FILE}")
    return 0
