"""Repository sources: real libraries declared as data in `task_sets/sources/NAME.yaml`.

A source names a release on the package index (name, version, sha256 of its sdist), which of the
sdist's files are library code and which are its test suite. The sdist is fetched at build time
with pip into a cache (never vendored into this repository) and checked against its sha256, so
every task built from it starts from exactly the same bytes. Adding a library is a new file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from codeagent.errors import UserError

REQUIRED_FIELDS = ("name", "version", "sha256", "source_files", "test_files")


class SourceError(UserError):
    """A source that cannot be read, fetched or verified; the message says what to do."""


@dataclass(frozen=True)
class RepoSource:
    """One pinned library release and how to split its sdist into code and tests."""

    name: str
    """Distribution name on the package index (`more-itertools`)."""
    version: str
    sha256: str
    """Of the sdist file pip downloads; a mismatch refuses the source."""
    source_files: tuple[str, ...]
    """Globs (relative to the sdist root) of the library code: what agents see and bugs go into."""
    test_files: tuple[str, ...]
    """Globs of the test suite (and its data files): held out, copied in pristine to grade."""
    timeout_s: float = 120.0
    """Seconds for one pytest run of the whole suite in a sandbox."""
    path: str = ""
    """The YAML file it was read from, for messages."""

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


def sources_dir() -> Path:
    from codeagent.tasks import task_sets_dir
    return task_sets_dir() / "sources"


def available_sources() -> dict[str, Path]:
    d = sources_dir()
    return {p.stem: p for p in sorted(d.glob("*.yaml"))} if d.is_dir() else {}


def load_source(name_or_path: str) -> RepoSource:
    """A source by name (a file in `task_sets/sources/`) or by path to its YAML file."""
    path = Path(name_or_path)
    if not path.is_file():
        known = available_sources()
        if name_or_path not in known:
            raise SourceError(f"unknown repository source {name_or_path!r}; known: {', '.join(known) or '(none)'} "
                              f"(files in {sources_dir()}), or pass a path to a source YAML file")
        path = known[name_or_path]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise SourceError(f"{path}{f':{mark.line + 1}' if mark else ''}: invalid YAML") from None
    missing = [f for f in REQUIRED_FIELDS if f not in raw]
    if missing:
        raise SourceError(f"{path}: missing field(s) {', '.join(missing)}; see task_sets/sources/more-itertools.yaml")
    for f in ("source_files", "test_files"):
        if not isinstance(raw[f], list) or not raw[f]:
            raise SourceError(f"{path}: field {f!r} must be a non-empty list of globs")
    return RepoSource(name=str(raw["name"]), version=str(raw["version"]), sha256=str(raw["sha256"]).lower(),
                      source_files=tuple(map(str, raw["source_files"])),
                      test_files=tuple(map(str, raw["test_files"])),
                      timeout_s=float(raw.get("timeout_s", 120)), path=str(path))


def cache_dir() -> Path:
    """$CODEAGENT_CACHE/sources, else ~/.cache/codeagent/sources."""
    return Path(os.environ.get("CODEAGENT_CACHE", Path.home() / ".cache" / "codeagent")) / "sources"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_sdist(source: RepoSource, cache: Path | None = None) -> Path:
    """The verified sdist of `source`, downloading it with pip on first use."""
    d = (cache or cache_dir()) / f"{source.name}-{source.version}"
    found = _sdists(d)
    if not found:
        d.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               source.pin, "-d", str(d)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        found = _sdists(d)
        if proc.returncode != 0 or not found:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise SourceError(f"{source.path}: `pip download {source.pin}` failed ({' | '.join(tail)}); check the "
                              "name and version exist as an sdist on the package index and that it is reachable")
    sdist = found[0]
    got = sha256_of(sdist)
    if got != source.sha256:
        raise SourceError(f"{source.path}: sha256 of {sdist.name} is {got}, the source pins {source.sha256}; "
                          f"if the release really changed, measure it again and update the pin (delete {d} to refetch)")
    return sdist


def _sdists(d: Path) -> list[Path]:
    return sorted(p for p in d.glob("*") if p.name.endswith((".tar.gz", ".zip", ".tar.bz2"))) if d.is_dir() else []


@dataclass
class Pristine:
    """The library's files as released: code (what agents get) and tests (held out)."""

    source: RepoSource
    code: dict[str, str]
    tests: dict[str, str]


_pristine_cache: dict[tuple[str, str], Pristine] = {}


def pristine(source: RepoSource, cache: Path | None = None) -> Pristine:
    """Code and test files of the verified sdist, by the source's globs (memoised per process)."""
    key = (source.name, source.version)
    if key in _pristine_cache:
        return _pristine_cache[key]
    sdist = fetch_sdist(source, cache)
    members: dict[str, str] = {}
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            if not m.isfile():
                continue
            rel = m.name.split("/", 1)[1] if "/" in m.name else m.name  # drop the NAME-VERSION/ prefix
            data = tar.extractfile(m).read()
            try:
                members[rel] = data.decode("utf-8")
            except UnicodeDecodeError:
                continue  # binary files are not part of any task
    code = _select(members, source.source_files, source, "source_files")
    tests = _select(members, source.test_files, source, "test_files")
    overlap = set(code) & set(tests)
    if overlap:
        raise SourceError(f"{source.path}: files matched by both source_files and test_files: {sorted(overlap)[:5]}")
    out = _pristine_cache[key] = Pristine(source, code, tests)
    return out


def _select(members: dict[str, str], globs, source: RepoSource, field: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for g in globs:
        # `*` stays within one folder: a glob and its matches have as many path parts.
        hits = [p for p in members if fnmatch.fnmatchcase(p, g) and p.count("/") == g.count("/")]
        if not hits:
            raise SourceError(f"{source.path}: {field} glob {g!r} matches no file of the sdist {source.pin}")
        out.update({p: members[p] for p in hits})
    return dict(sorted(out.items()))
