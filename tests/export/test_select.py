"""Dedup normalization and n-gram decontamination as plain functions."""

from codeagent.export.decontam import ngrams, words
from codeagent.export.select import normalized_code


def test_normalized_code_ignores_layout_and_comments_but_not_logic():
    a = "def f(x):\n    return x + 1\n"
    assert normalized_code(a) == normalized_code("def f(x):  # inc\n\n    return (x+1)\n")
    assert normalized_code(a) != normalized_code("def f(x):\n    return x + 2\n")
    broken = "def f(x):\n    return x +\n"  # does not parse: compared as tokens without comments
    assert normalized_code(broken) == normalized_code("def f(x):   # c\n    return x   +\n")
    assert normalized_code(broken) != normalized_code("def f(y):\n    return y +\n")


def test_ngrams_are_lowercased_word_windows():
    assert words("Return the Sum, of xs!") == ["return", "the", "sum", "of", "xs"]
    assert ngrams("a b c d", 3) == {("a", "b", "c"), ("b", "c", "d")}
    assert ngrams("a b", 3) == set()
