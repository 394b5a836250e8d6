"""Repository tasks: real libraries as sources, bugs synthesized into them, graded by
FAIL_TO_PASS / PASS_TO_PASS pytest node ids with tests copied in pristine after the patch.

- `sources`: pinned sdists declared in `task_sets/sources/*.yaml`, fetched and sha256-checked.
- `driver`: the in-sandbox pytest driver (stdlib + pytest only); reports per-test outcomes.
- `grade`: runs the driver in a sandbox and turns its report into a verdict.
- `mutate`: procedural AST bug strategies; `coverage`: which tests can see a function.
- `synthesize`: the validation pipeline; `statements`: problem statements at three levels.
- `taskset`: the `format: repos` set files (writer and loader); `validate`: checks a built set.
- `swebench`: SWE-bench-format instances out and in.
"""
