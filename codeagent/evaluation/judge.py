"""The function-level judge: tests run in a trusted process, the candidate in another one.
Stdlib only (runs inside the sandbox, started by `runner.py` in the job's forked process).

Why this design: a candidate that shares a process with the assertions and the report channel
can always reach them (gc, caller frames, `sys.modules`, trace hooks, names built at run time),
so no guard inside that process can make its verdict trustworthy. Here the test code and the
report channel live in the JUDGE process; the candidate's module is imported only in a separate
CANDIDATE process (forked before the judge holds anything worth stealing, every inherited fd but
its own channel closed, an audit hook (`guard.py`) installed before its first line). The judge
imports the task's own, trusted prompt file as the module under test, with the entry point
replaced by a proxy: each call crosses to the candidate process as plain data (`wire.py`) and
its result comes back the same way. So:

- the candidate cannot see or call anything of the judge: tests, `check`, the report closure;
- a result that is not plain data of exact builtin types (a class whose `__eq__` always says
  yes, an `int`/`str` subclass, a proxy) never reaches an assertion: the call raises
  `NotPlainData`, a BaseException test code cannot swallow, and the job fails `not-plain-data`;
- killing its own process or exiting early makes every later call raise `CandidateDied`.

Generators and iterators returned by the candidate become iterator proxies whose items cross as
plain data; an entry point that is a class yields object proxies whose methods do the same.
Iterators and callables the TESTS pass in (e.g. `itertools.count()`) stay in the judge; the
candidate gets references it can pull plain values from. The trusted prompt's helpers (e.g.
HumanEval's `poly`, `encode_cyclic`) are the task's own code, not the candidate's.
"""

import builtins
import json
import marshal
import os
import sys
import types

from_wire = None  # set by bind(): wire.decode / wire.encode / wire.NotPlain / guard.install
to_wire = None
NotPlain = Exception
install_guard = None


decode_value = None


def bind(wire, guard):
    global from_wire, to_wire, NotPlain, install_guard, decode_value
    from_wire, to_wire, NotPlain, install_guard = wire.decode, wire.encode, wire.NotPlain, guard.install
    decode_value = wire.decode_value


class NotPlainData(BaseException):
    """The candidate returned something that is not plain data (not catchable as Exception)."""


class CandidateDied(BaseException):
    """The candidate's process is gone (it exited, was killed, or broke the protocol)."""


class CandidateError(RuntimeError):
    """The candidate raised an exception that is not a builtin one (its type name is kept)."""


def _send(f, msg):
    f.write(json.dumps(msg, separators=(",", ":")) + "\n")
    f.flush()


# -- the candidate process ---------------------------------------------------------------------
def candidate_main(job_dir, spec, rfd, wfd, test_names):
    """Runs in the forked candidate process: import the candidate, then serve the judge."""
    out = os.fdopen(wfd, "w", buffering=1)
    inp = os.fdopen(rfd, "r")
    install_guard(lambda kind, event: _send(out, {"flag": [kind, event]}), test_names, block=False)
    os.chdir(job_dir)
    sys.path.insert(0, job_dir)
    handles = {}

    class Ref:
        """A judge-side iterator or callable the tests passed in."""

        def __init__(self, rid):
            self._rid = rid

        def __iter__(self):
            return self

        def __next__(self):
            return ask({"op": "next", "ref": self._rid})

        def __call__(self, *args, **kwargs):
            return ask({"op": "call", "ref": self._rid, "args": to_wire([list(args), kwargs])})

    def ask(request):
        _send(out, {"ask": request})
        reply = json.loads(inp.readline())
        if "stop" in reply:
            raise StopIteration
        if "raise" in reply:
            raise _exception(*reply["raise"])
        return decode_args(reply["value"])

    def decode_args(text):
        if text.startswith("m:"):  # the judge's fast path for plain arguments (the judge is trusted)
            return marshal.loads(bytes.fromhex(text[2:]))
        return _rebuild(json.loads(text), handles, Ref)

    try:
        module = __import__(spec["module"])
        for part in spec["module"].split(".")[1:]:
            module = getattr(module, part)
    except SyntaxError as e:
        _send(out, {"import_error": ["syntax", f"{type(e).__name__}: {e}"]})
        return
    except BaseException as e:  # noqa: BLE001 — candidate code may raise anything at import
        _send(out, {"import_error": ["runtime", f"{type(e).__name__}: {e}"]})
        return
    handles[0] = module
    pending = {}
    entry = getattr(module, spec["entry_point"], None)
    _send(out, {"ready": True})
    for line in inp:
        req = json.loads(line)
        try:
            target = handles[req["h"]]
            op = req["op"]
            if req["h"] in pending:  # an iterator's end or error, held back behind its last items
                raise pending.pop(req["h"])
            if op == "next":  # up to n items per round trip: the judge asks for more as it consumes
                items = []
                try:
                    for _ in range(max(1, min(int(req.get("n", 1)), 1024))):
                        items.append(to_wire(next(target)))
                except (StopIteration, NotPlain, Exception) as e:  # noqa: BLE001 — after the items
                    if not items:
                        raise
                    pending[req["h"]] = e
                _send(out, {"items": items})
                continue
            elif op == "getattr":
                result = getattr(target, req["name"])
            elif op == "has":
                result = hasattr(type(target), req["name"])
            else:
                fn = getattr(target, req["name"]) if req.get("name") else target
                args, kwargs = decode_args(req["args"])
                result = fn(*args, **kwargs)
        except StopIteration:
            _send(out, {"stop": True})
            continue
        except NotPlain as e:
            _send(out, {"notplain": str(e)})
            continue
        except BaseException as e:  # noqa: BLE001 — the judge re-raises it on its side
            _send(out, {"raise": [type(e).__name__, str(e)[:400]]})
            continue
        same = [i for i, a in enumerate(args) if a is result] if op == "call" else []
        if same and type(result) in (list, dict, set):
            _send(out, {"same_arg": same[0]})  # returned its (mutable) argument itself
            continue
        try:
            _send(out, {"value": to_wire(result)})
        except NotPlain as e:
            kind = _handle_kind(result, entry, op)
            if kind is None:
                _send(out, {"notplain": str(e)})
            else:
                handles[len(handles)] = result
                _send(out, {"handle": len(handles) - 1, "kind": kind})


def _handle_kind(x, entry, op):
    if isinstance(entry, type) and type(x) is entry:
        return "object"  # an instance of the class the task asks for
    if op == "getattr" and callable(x):
        return "callable"  # a method of such an instance
    if hasattr(type(x), "__next__") and hasattr(type(x), "__iter__"):
        return "iterator"
    return None


def _rebuild(v, handles, ref):
    """Arguments from the judge: plain values plus ["r", id] (judge refs) and ["h", id] (handles)."""
    if isinstance(v, list) and v and v[0] in ("r", "h"):
        return ref(v[1]) if v[0] == "r" else handles[v[1]]
    if isinstance(v, list) and v and v[0] in ("l", "t", "S", "F", "d"):
        if v[0] == "d":
            return {_rebuild(k, handles, ref): _rebuild(x, handles, ref) for k, x in v[1]}
        items = [_rebuild(x, handles, ref) for x in v[1]]
        return {"l": list, "t": tuple, "S": set, "F": frozenset}[v[0]](items)
    return decode_value(v)


def _exception(name, message):
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls is not StopIteration:
        return cls(message)
    return CandidateError(f"{name}: {message}")


# -- the judge process ---------------------------------------------------------------------------
class Channel:
    """The judge's end: requests out, replies in; serves the candidate's asks meanwhile."""

    def __init__(self, rfd, wfd, pid, on_flag, on_not_plain):
        self.inp, self.out, self.pid = os.fdopen(rfd, "r"), os.fdopen(wfd, "w", buffering=1), pid
        self.on_flag, self.on_not_plain = on_flag, on_not_plain
        self.refs = {}
        self.dead = None

    def _read(self):
        while True:
            line = self.inp.readline() if self.dead is None else ""
            if not line:
                self.dead = self.dead or "the candidate's process ended"
                raise CandidateDied(self.dead)
            try:
                msg = json.loads(line)
                if not isinstance(msg, dict):
                    raise ValueError("not an object")
            except ValueError:
                self.dead = "the candidate's process broke the protocol"
                raise CandidateDied(self.dead) from None
            if "flag" in msg:
                kind, event = msg["flag"]
                self.on_flag(str(kind), str(event))
            elif "ask" in msg:
                self._serve(msg["ask"])
            else:
                return msg

    def _serve(self, ask):
        try:
            obj = self.refs[ask["ref"]]
            if ask["op"] == "next":
                value = next(obj)
            else:
                args, kwargs = self.decode(ask["args"])
                value = obj(*args, **kwargs)
            reply = {"value": self.encode(value)}
        except StopIteration:
            reply = {"stop": True}
        except Exception as e:  # noqa: BLE001 — a test-side error is handed to the candidate
            reply = {"raise": [type(e).__name__, str(e)[:400]]}
        _send(self.out, reply)

    def encode(self, x):
        try:  # plain arguments: marshal is exact-typed and fast; only the candidate side reads it
            return "m:" + marshal.dumps(x).hex()
        except ValueError:
            return json.dumps(self._enc(x))

    def _enc(self, x):
        if isinstance(x, Remote):
            return ["h", x._h]
        t = type(x)
        if t in (list, tuple, set, frozenset):
            return [{list: "l", tuple: "t", set: "S", frozenset: "F"}[t], [self._enc(v) for v in x]]
        if t is dict:
            return ["d", [[self._enc(k), self._enc(v)] for k, v in x.items()]]
        try:
            return json.loads(to_wire(x))
        except NotPlain:
            self.refs[len(self.refs)] = x  # an iterator or callable of the tests: stays here
            return ["r", len(self.refs) - 1]

    def decode(self, text):
        return from_wire(text)

    def request(self, _args=None, **req):
        if self.dead is not None:
            raise CandidateDied(self.dead)
        try:
            _send(self.out, req)
        except OSError:
            self.dead = "the candidate's process ended"
            raise CandidateDied(self.dead) from None
        msg = self._read()
        if "value" in msg:
            try:
                return from_wire(msg["value"])
            except ValueError as e:
                self.dead = f"the candidate's process sent a malformed value ({e})"
                raise CandidateDied(self.dead) from None
        if "same_arg" in msg and _args is not None and type(msg["same_arg"]) is int \
                and 0 <= msg["same_arg"] < len(_args):
            return _args[msg["same_arg"]]  # the judge's own object: identity kept, nothing foreign
        if "handle" in msg and isinstance(msg["handle"], int):
            cls = REMOTES.get(msg.get("kind"))
            if cls is None:
                self.dead = "the candidate's process broke the protocol"
                raise CandidateDied(self.dead)
            return cls(self, msg["handle"])
        if "items" in msg and type(msg["items"]) is list and msg["items"]:
            try:
                return [from_wire(v) if type(v) is str else decode_value(None) for v in msg["items"]]
            except ValueError as e:
                self.dead = f"the candidate's process sent a malformed value ({e})"
                raise CandidateDied(self.dead) from None
        if "stop" in msg:
            raise StopIteration
        if "raise" in msg:
            raise _exception(*map(str, msg["raise"][:2]))
        if "notplain" in msg:
            what = str(msg["notplain"])[:300]
            self.on_not_plain(what)
            raise NotPlainData(f"the candidate returned {what}: not plain data")
        self.dead = "the candidate's process broke the protocol"
        raise CandidateDied(self.dead)


class Remote:
    """A candidate-side value the judge drives by plain data: an iterator, object or method."""

    def __init__(self, channel, h):
        self._c, self._h = channel, h

    def _call(self, name, *args, **kwargs):
        return self._c.request(args, op="call", h=self._h, name=name, args=self._c.encode([list(args), kwargs]))

    def __repr__(self):
        return f"<candidate {type(self).__name__} #{self._h}>"


class RemoteIterator(Remote):
    """Items come in growing batches (1, 2, 4, ... 1024 per round trip): a long iteration costs
    few round trips, a short or endless one runs the candidate's generator at most that far ahead."""

    def __init__(self, channel, h):
        super().__init__(channel, h)
        self._buf, self._n = [], 1

    def __iter__(self):
        return self

    def __next__(self):
        if not self._buf:
            self._buf = self._c.request(op="next", h=self._h, n=self._n)[::-1]
            self._n = min(self._n * 2, 1024)
        return self._buf.pop()


class RemoteCallable(Remote):
    def __call__(self, *args, **kwargs):
        return self._call(None, *args, **kwargs)


class RemoteObject(Remote):
    """An instance of the class a task asks for: attribute reads, method calls, common dunders."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._c.request(op="getattr", h=self._h, name=name)

    def __len__(self):
        return self._call("__len__")

    def __iter__(self):
        return self._call("__iter__")

    def __contains__(self, x):
        return self._call("__contains__", x)

    def __getitem__(self, k):
        return self._call("__getitem__", k)

    def __bool__(self):
        return bool(self._call("__len__")) if self._c.request(op="has", h=self._h, name="__len__") else True


REMOTES = {"iterator": RemoteIterator, "callable": RemoteCallable, "object": RemoteObject}


def trusted_module(spec, job_dir, channel):
    """The module under test as the judge sees it: the task's own prompt file, entry point proxied."""
    module = types.ModuleType(spec["module"])
    module.__file__ = os.path.join(job_dir, spec["path"])
    exec(compile(spec["trusted_source"], spec["path"], "exec"), module.__dict__)

    def entry(*args, **kwargs):
        return channel.request(args, op="call", h=0, name=spec["entry_point"], args=channel.encode([list(args), kwargs]))

    entry.__name__ = entry.__qualname__ = spec["entry_point"]
    setattr(module, spec["entry_point"], entry)
    return module
