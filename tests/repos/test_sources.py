"""Repository sources: pinned sdists from the package index, sha256-checked, split by globs."""

from __future__ import annotations

import shutil

import pytest

from codeagent.repos.sources import SourceError, available_sources, fetch_sdist, load_source, pristine

SHIPPED = ("more-itertools", "boltons", "toolz", "inflection")


def test_shipped_sources_are_data_files():
    assert set(SHIPPED) <= set(available_sources())
    src = load_source("toolz")
    assert src.pin == "toolz==1.0.0" and len(src.sha256) == 64


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_each_source_fetches_verifies_and_splits_code_from_tests(name):
    pr = pristine(load_source(name))
    assert pr.code and pr.tests and not set(pr.code) & set(pr.tests)
    assert all(p.endswith(".py") for p in pr.code)
    assert any("def test" in t for t in pr.tests.values())


def test_a_wrong_sha256_is_refused_with_what_to_do(tmp_path):
    good = load_source("inflection")
    cached = fetch_sdist(good)  # the verified file, from the cache (or pip)
    cache = tmp_path / "cache"
    (cache / "inflection-0.5.1").mkdir(parents=True)
    shutil.copy(cached, cache / "inflection-0.5.1" / cached.name)
    bad = tmp_path / "inflection.yaml"
    bad.write_text(open(good.path).read().replace(good.sha256, "ab" * 32))
    with pytest.raises(SourceError, match=r"sha256 of inflection-0\.5\.1\.tar\.gz is .* pins abab.*update the pin"):
        fetch_sdist(load_source(str(bad)), cache)


def test_a_release_pip_cannot_download_is_a_clear_error(tmp_path):
    bad = tmp_path / "nope.yaml"
    bad.write_text("name: inflection\nversion: 0.0.0.999\nsha256: " + "0" * 64 +
                   "\nsource_files: ['inflection/*.py']\ntest_files: ['test_inflection.py']\n")
    with pytest.raises(SourceError, match=r"pip download inflection==0\.0\.0\.999.* failed"):
        fetch_sdist(load_source(str(bad)), tmp_path / "cache")


def test_bad_source_files_name_the_field(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("name: x\nversion: '1'\nsha256: " + "0" * 64 + "\nsource_files: []\ntest_files: [t.py]\n")
    with pytest.raises(SourceError, match="'source_files' must be a non-empty list"):
        load_source(str(bad))
    with pytest.raises(SourceError, match="unknown repository source 'nope'; known: .*boltons"):
        load_source("nope")
