"""Repository tasks: real libraries as sources, bugs synthesized into them, graded by
FAIL_TO_PASS / PASS_TO_PASS pytest node ids with tests copied in pristine after the patch.

- `sources`: pinned sdists declared in `task_sets/sources/*.yaml`, fetched and sha256-checked.
- `driver`: the in-sandbox pytest driver (stdlib + pytest only); reports per-test outcomes.
- `grade`: runs the driver in a sandbox and turns its report into a verdict.
- `mutate`: procedural AST bug strategies.  `synthesize`: the validation pipeline.
- `taskset`: the `format: repos` task set loader.
"""
