"""The procedural bug strategies on a small module."""

from __future__ import annotations

import ast

import pytest

from codeagent.errors import UserError
from codeagent.repos.mutate import STRATEGIES, candidates, has_substance

from repo_fixtures import CODE

MODULE = '''def trivial(x):
    return x + 1


def busy(xs, k, flag):
    """Docstring stays."""
    out = []  # comments outside the site stay too
    for i in range(len(xs)):
        if xs[i] > k and flag:
            out.append(xs[i] * 2)
        else:
            out.append(max(xs[i], k))
    if not out:
        return None
    return out[1:len(out)]
'''


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_each_strategy_makes_a_small_parsable_change(strategy):
    made = candidates("m", {"m.py": MODULE}, [strategy], seed=0, per_function=10)
    assert made, f"{strategy} found no site in busy()"
    for c in made:
        assert c.function == "busy" and c.before != c.after
        mutated = c.apply({"m.py": MODULE})["m.py"]
        ast.parse(mutated)
        assert "comments outside the site stay too" in mutated or strategy == "drop_statement"
        assert mutated.startswith("def trivial(x):\n    return x + 1\n")


def test_trivial_functions_are_skipped():
    tree = ast.parse(MODULE)
    assert [f.name for f in tree.body if has_substance(f)] == ["busy"]


def test_the_seed_picks_the_sites():
    per_seed = {s: [c.after for c in candidates("m", {"m.py": MODULE}, ["off_by_one"], seed=s, per_function=1)]
                for s in range(6)}
    assert per_seed[0] == [c.after for c in candidates("m", {"m.py": MODULE}, ["off_by_one"], seed=0,
                                                         per_function=1)]
    assert len({tuple(v) for v in per_seed.values()}) > 1


def test_unknown_strategy_lists_the_known_ones():
    with pytest.raises(UserError, match="known: .*flip_comparison"):
        candidates("m", CODE, ["nope"])
