"""Split execution: the link between the judge and the candidate process.

Runs inside the sandboxes with the image's Python (3.11), standard library only.
The same file is two things:

- in the judge (the process running pytest and the trusted tests, which never
  imports candidate code), `_harness_runner.py` loads it and installs an import
  hook: importing a candidate module gives a stand-in module whose attribute
  reads, calls, classes and objects cross a socket to the candidate process;
- run as a script (`python3 -I -B /in/_harness_split.py`) it is the candidate
  process: it holds only the candidate's files and serves those requests.

Messages are frames (4-byte big-endian length, JSON). Values cross by value in a
closed encoding of builtin types (None, bool, int, float incl. nan/inf,
complex, str, bytes, list, tuple, dict, set, frozenset; exact types, subclasses
reduced to their base), never pickle; anything else crosses as a handle whose
methods run where the object lives. Either side can call the other while it
waits (a test's callback handed to the candidate), but the judge serves only
calls of callables it handed out itself, never attribute reads. Exceptions
cross as type name and arguments and are raised as the builtin type, or as a
stand-in class for the candidate's own exception classes. A candidate that does
not answer in time, dies, or breaks the protocol fails the test that waited
(`CandidateUnavailable`) and every later call, never the judge.
"""

from __future__ import annotations

import base64
import builtins
import importlib
import importlib.abc
import importlib.machinery
import io
import json
import operator
import os
import select
import shutil
import socket
import struct
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

MAX_FRAME = 32 << 20
# Where a container finds its end of the link: the host listens here and hands the
# socket over (SCM_RIGHTS); bwrap passes it as an inherited descriptor instead.
LINK_SOCKET = "/in/link.sock"
OUT_CAP = 1 << 20
READY = b"harness-runner-ready\n"
BUILTIN_EXCEPTIONS = {name: obj for name, obj in vars(builtins).items()
                      if isinstance(obj, type) and issubclass(obj, BaseException)}
BASES: tuple[Any, ...] = (int, float, complex, str, bytes, list, tuple, dict, set, frozenset)


class ProtocolError(Exception):
    """The other side sent something this protocol does not allow."""


class CandidateUnavailable(RuntimeError):  # noqa: N818 - the name a test failure shows
    """The candidate process did not answer in time, ended, or broke the protocol."""


class CandidateError(RuntimeError):
    """The candidate raised something that is not an Exception (KeyboardInterrupt, ...)."""


# -- values --------------------------------------------------------------------


def encode(value: Any, export: Callable[[Any], list[Any]]) -> Any:
    """A JSON-ready form of `value`; objects outside the closed set become handles."""
    t = type(value)
    if value is None or t is bool or t is str or t is int or t is float:
        return value
    if t is list:
        return [encode(v, export) for v in value]
    if t is tuple:
        return {"t": [encode(v, export) for v in value]}
    if t is dict:
        return {"d": [[encode(k, export), encode(v, export)] for k, v in value.items()]}
    if t is set:
        return {"s": [encode(v, export) for v in value]}
    if t is frozenset:
        return {"f": [encode(v, export) for v in value]}
    if t is bytes:
        return {"b": base64.b64encode(value).decode("ascii")}
    if t is complex:
        return {"c": [value.real, value.imag]}
    if t is not bool:
        for base in BASES:
            if isinstance(value, base):  # a subclass: reduced to its base
                return encode(base(value), export)
    return {"h": export(value)}


def decode(data: Any, resolve: Callable[[Any], Any]) -> Any:
    """The value `data` stands for: exact builtin types, or stand-ins for handles."""
    t = type(data)
    if data is None or t is bool or t is str or t is int or t is float:
        return data
    if t is list:
        return [decode(v, resolve) for v in data]
    if t is not dict or len(data) != 1:
        raise ProtocolError(f"not a value: {type(data).__name__}")
    ((tag, body),) = data.items()
    if tag == "h":
        return resolve(body)
    if tag == "b" and type(body) is str:
        return base64.b64decode(body.encode("ascii"), validate=True)
    if tag == "c" and type(body) is list and len(body) == 2 \
            and all(type(x) in (int, float) for x in body):
        return complex(body[0], body[1])
    if type(body) is not list:
        raise ProtocolError(f"bad value tag {tag!r}")
    if tag == "t":
        return tuple(decode(v, resolve) for v in body)
    if tag == "s":
        return {decode(v, resolve) for v in body}
    if tag == "f":
        return frozenset(decode(v, resolve) for v in body)
    if tag == "d":
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise ProtocolError("bad dict item")
            out[decode(pair[0], resolve)] = decode(pair[1], resolve)
        return out
    raise ProtocolError(f"bad value tag {tag!r}")


# -- frames ----------------------------------------------------------------------


class Link:
    """One end of the socket; `request` waits for its reply and serves the other
    side's requests meanwhile."""

    def __init__(self, sock: socket.socket, serve: Callable[[dict[str, Any]], dict[str, Any]],
                 timeout: float | None) -> None:
        self.sock = sock
        self.serve = serve
        self.timeout = timeout
        self.buf = bytearray()
        self.seq = 0
        self.broken: str | None = None
        self.lock = threading.RLock()
        self.on_output: Callable[[str, str], None] | None = None
        self.outgoing: Callable[[], tuple[str, str]] | None = None

    def send(self, msg: dict[str, Any]) -> None:
        data = json.dumps(msg, separators=(",", ":")).encode()
        if len(data) > MAX_FRAME:
            raise ValueError(f"message of {len(data)} bytes is larger than {MAX_FRAME}")
        self.sock.sendall(struct.pack(">I", len(data)) + data)

    def _fill(self, need: int, deadline: float | None) -> None:
        while len(self.buf) < need:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.sock], [], [], wait)
            if not ready:
                raise TimeoutError
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv(self, deadline: float | None) -> dict[str, Any]:
        self._fill(4, deadline)
        size = struct.unpack(">I", bytes(self.buf[:4]))[0]
        if size > MAX_FRAME:
            raise ProtocolError(f"frame of {size} bytes is larger than {MAX_FRAME}")
        self._fill(4 + size, deadline)
        body = bytes(self.buf[4:4 + size])
        del self.buf[:4 + size]
        try:
            msg = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(f"frame is not JSON: {exc}") from None
        if type(msg) is not dict:
            raise ProtocolError("frame is not an object")
        return msg

    def request(self, msg: dict[str, Any]) -> Any:
        """Send a request and wait for its reply; returns the reply message."""
        with self.lock:
            if self.broken:
                raise CandidateUnavailable(self.broken)
            self.seq += 1
            ident = self.seq
            msg["id"] = ident
            if self.outgoing is not None:
                out, err = self.outgoing()
                if out or err:
                    msg["o"], msg["x"] = out, err
            try:
                self.send(msg)
                deadline = None if self.timeout is None else time.monotonic() + self.timeout
                while True:
                    reply = self.recv(deadline)
                    if self.on_output is not None and ("o" in reply or "x" in reply):
                        o, x = reply.get("o", ""), reply.get("x", "")
                        if type(o) is not str or type(x) is not str:
                            raise ProtocolError("output is not text")
                        self.on_output(o, x)
                    if "re" not in reply:
                        self.send(self.serve(reply))
                        if deadline is not None:  # the other side called back: it is alive
                            deadline = time.monotonic() + self.timeout  # type: ignore[operator]
                        continue
                    if reply["re"] != ident:
                        raise ProtocolError(f"reply to {reply['re']!r}, expected {ident}")
                    return reply
            except TimeoutError:
                self.broken = f"the candidate process did not answer within {self.timeout:g} s"
            except EOFError:
                self.broken = "the candidate process closed the link (it ended or crashed)"
            except (OSError, ValueError, ProtocolError) as exc:
                self.broken = f"the candidate process broke the protocol: {exc}"
            raise CandidateUnavailable(self.broken)


def exception_info(exc: BaseException, encode_value: Callable[[Any], Any],
                   export: Callable[[Any], list[Any]]) -> dict[str, Any]:
    cls = type(exc)
    name = cls.__name__
    info: dict[str, Any] = {"type": name, "msg": str(exc)[:2000]}
    try:
        info["args"] = encode_value(list(exc.args)) if all(
            type(a) in (str, int, float, bool, type(None)) for a in exc.args) else None
    except Exception:  # noqa: BLE001 - the message is enough
        info["args"] = None
    if BUILTIN_EXCEPTIONS.get(name) is not cls:
        info["cls"] = export(cls)
    return info


def receive_link(path: str = LINK_SOCKET) -> int | None:
    """This sandbox's end of the link from the host, when the host offers it at `path`."""
    if not os.path.exists(path):
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    if len(fds) != 1:
        raise OSError("the host did not hand over the link")
    return fds[0]


# -- the judge's side ----------------------------------------------------------------

_LINK: Link | None = None
_JUDGE_EXPORTS: dict[int, Any] = {}
_STANDINS: dict[int, Any] = {}


def _link() -> Link:
    if _LINK is None:
        raise CandidateUnavailable("no link to the candidate process")
    return _LINK


def _judge_export(obj: Any) -> list[Any]:
    """A judge object handed to the candidate: only callables, and only to be called."""
    if isinstance(obj, RemoteType):
        return ["c", obj.__dict__["_ch"]]
    if isinstance(obj, RemoteObject | RemoteFunction | RemoteModule):
        return ["c", object.__getattribute__(obj, "_h")]
    if not callable(obj):
        raise TypeError(f"cannot hand a {type(obj).__name__} to candidate code in split "
                        "execution (values of builtin types and callables only)")
    _JUDGE_EXPORTS[id(obj)] = obj
    return ["j", id(obj), "function", getattr(obj, "__name__", "callable"), None]


def _enc(value: Any) -> Any:
    return encode(value, _judge_export)


def _dec(data: Any) -> Any:
    return decode(data, _resolve)


def _resolve(desc: Any) -> Any:
    """A stand-in for a handle the candidate sent (the same handle, the same stand-in)."""
    if type(desc) is not list or len(desc) < 2 or type(desc[1]) is not int:
        raise ProtocolError("bad handle")
    side, ident = desc[0], desc[1]
    if side == "j":
        if ident not in _JUDGE_EXPORTS:
            raise ProtocolError("unknown judge handle")
        return _JUDGE_EXPORTS[ident]
    if side != "c" or len(desc) != 5 or type(desc[3]) is not str:
        raise ProtocolError("bad handle")
    if ident in _STANDINS:
        return _STANDINS[ident]
    kind, name, extra = desc[2], desc[3][:200], desc[4]
    standin: Any
    if kind == "function":
        standin = RemoteFunction(ident, name)
    elif kind == "module":
        standin = RemoteModule(name)
        object.__setattr__(standin, "_h", ident)
        if type(extra) is list and all(type(n) is str for n in extra):
            standin.__dict__["__all__"] = list(extra)
    elif kind == "package":
        standin = RemoteModule(name)
        object.__setattr__(standin, "_h", ident)
        standin.__dict__["__path__"] = []
    elif kind == "class":
        base = BUILTIN_EXCEPTIONS.get(extra) if type(extra) is str else None
        if base is not None and not issubclass(base, Exception):
            base = CandidateError  # never a KeyboardInterrupt or SystemExit in the judge
        bases = (base,) if base is not None else (RemoteObject,)
        standin = RemoteType(name, bases, {"_ch": ident, "__module__": "candidate",
                                           "__qualname__": name})
    elif kind == "object":
        cls = _resolve(extra)
        if not isinstance(cls, RemoteType) or issubclass(cls, BaseException):
            raise ProtocolError("bad object class")
        standin = object.__new__(cls)
        object.__setattr__(standin, "_h", ident)
    else:
        raise ProtocolError(f"bad handle kind {kind!r}")
    _STANDINS[ident] = standin
    return standin


def _raise_from(info: Any) -> None:
    if type(info) is not dict or type(info.get("type")) is not str:
        raise ProtocolError("bad exception")
    name, msg = info["type"], str(info.get("msg", ""))
    args_data = info.get("args")
    args = tuple(_dec(args_data)) if type(args_data) is list else (msg,)
    if "cls" in info:
        cls = _resolve(info["cls"])
        if isinstance(cls, type) and issubclass(cls, BaseException):
            exc = cls.__new__(cls)
            BaseException.__init__(exc, *args)
            raise exc
        raise CandidateError(f"{name}: {msg}")
    builtin = BUILTIN_EXCEPTIONS.get(name)
    if builtin is None or not issubclass(builtin, Exception) and builtin is not SystemExit:
        raise CandidateError(f"{name}: {msg}")
    try:
        exc = builtin(*args)
    except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError needs 5 arguments
        exc = CandidateError(f"{name}: {msg}")
    raise exc


def _ask(op: str, h: int, **fields: Any) -> Any:
    reply = _link().request({"op": op, "h": h, **fields})
    if "e" in reply:
        try:
            _raise_from(reply["e"])
        except ProtocolError as exc:
            raise CandidateUnavailable(f"the candidate process broke the protocol: {exc}") \
                from None
    try:
        return _dec(reply.get("v"))
    except (ProtocolError, RecursionError, ValueError, TypeError) as exc:
        _link().broken = f"the candidate process broke the protocol: {exc}"
        raise CandidateUnavailable(_link().broken) from None


def _h(obj: Any) -> int:
    return object.__getattribute__(obj, "_h")


def _call(h: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _ask("call", h, a=[_enc(a) for a in args], k=_enc(kwargs))


def _dunder(name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any) -> Any:
        return _ask("op", _h(self), n=name, a=[_enc(a) for a in args])

    method.__name__ = name
    return method


class RemoteFunction:
    """A candidate function (or method, or builtin) called across the link."""

    def __init__(self, h: int, name: str) -> None:
        self._h = h
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._h, args, kwargs)

    def __repr__(self) -> str:
        return f"<candidate function {self.__name__}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _ask("getattr", self._h, n=name)


class RemoteModule(types.ModuleType):
    """A candidate module: attribute reads cross the link on every access."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _ask("getattr", _h(self), n=name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("__") and name.endswith("__"):  # the import system's own
            self.__dict__[name] = value
        else:
            _ask("setattr", _h(self), n=name, v=_enc(value))


class RemoteType(type):
    """The metaclass of stand-in classes: instantiating or reading a class attribute
    crosses the link; stand-ins of exception classes are real exception classes."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if issubclass(cls, BaseException):  # raised in the judge, built locally
            return type.__call__(cls, *args, **kwargs)
        return _call(cls.__dict__["_ch"], args, kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _ask("getattr", cls.__dict__["_ch"], n=name)

    def __instancecheck__(cls, obj: Any) -> bool:
        if issubclass(cls, BaseException):
            return type.__instancecheck__(cls, obj)
        if not isinstance(obj, RemoteObject):
            return False
        return bool(_ask("isinstance", _h(obj), c=cls.__dict__["_ch"]))

    def __repr__(cls) -> str:
        return f"<candidate class {cls.__name__}>"


class RemoteObject:
    """A candidate object: methods run in the candidate; equality is identity unless
    the test asks the candidate for a value."""

    __slots__ = ("_h", "__weakref__")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _ask("getattr", _h(self), n=name)

    def __setattr__(self, name: str, value: Any) -> None:
        _ask("setattr", _h(self), n=name, v=_enc(value))

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return object.__hash__(self)

    def __repr__(self) -> str:
        try:
            text = _ask("op", _h(self), n="__repr__", a=[])
        except CandidateUnavailable:
            raise
        except Exception:  # noqa: BLE001 - repr must not fail in a report
            text = None
        return text if type(text) is str else f"<candidate {type(self).__name__} object>"

    def __str__(self) -> str:
        text = _ask("op", _h(self), n="__str__", a=[])
        if type(text) is not str:
            raise TypeError("__str__ returned non-string")
        return text

    def __bool__(self) -> bool:
        value = _ask("op", _h(self), n="__bool__", a=[])
        if type(value) is not bool:
            raise TypeError("__bool__ should return bool")
        return value

    def __len__(self) -> int:
        value = _ask("op", _h(self), n="__len__", a=[])
        if type(value) is not int:
            raise TypeError("__len__ should return an int")
        return value

    def __iter__(self) -> Any:
        return _ask("op", _h(self), n="__iter__", a=[])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(_h(self), args, kwargs)


for _name in ("__next__", "__getitem__", "__setitem__", "__delitem__", "__contains__",
              "__lt__", "__le__", "__gt__", "__ge__", "__add__", "__sub__", "__mul__",
              "__truediv__", "__floordiv__", "__mod__", "__pow__", "__neg__", "__pos__",
              "__abs__", "__radd__", "__rsub__", "__rmul__", "__int__", "__float__",
              "__index__", "__enter__", "__exit__", "__and__", "__or__", "__xor__",
              "__invert__", "__round__", "__reversed__", "__matmul__"):
    setattr(RemoteObject, _name, _dunder(_name))


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of the candidate's top-level names (and below) give stand-ins."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.split(".", 1)[0] not in self.names:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=False)

    def create_module(self, spec: Any) -> Any:
        reply = _link().request({"op": "import", "n": spec.name})
        if "e" in reply:
            _raise_from(reply["e"])
        module = _dec(reply.get("v"))
        if not isinstance(module, RemoteModule):
            raise CandidateUnavailable("the candidate process broke the protocol: "
                                       "import did not give a module")
        module.__dict__["__spec__"] = spec
        module.__dict__["__loader__"] = self
        return module

    def exec_module(self, module: Any) -> None:
        return None


def judge_output(out: str, err: str) -> None:
    """The candidate's printed output of a call, where the test's output goes (capsys)."""
    if out:
        sys.stdout.write(out)
    if err:
        sys.stderr.write(err)


def _judge_serve(msg: dict[str, Any]) -> dict[str, Any]:
    """The candidate calls a callable the judge handed it (a test's callback)."""
    ident = msg.get("id")
    if msg.get("op") != "call" or msg.get("h") not in _JUDGE_EXPORTS:
        raise ProtocolError("the candidate may only call callables the judge handed it")
    fn = _JUDGE_EXPORTS[msg["h"]]
    try:
        args = _dec(msg.get("a"))
        kwargs = _dec(msg.get("k"))
        if type(args) is not list or type(kwargs) is not dict:
            raise ProtocolError("bad call")
        return {"re": ident, "v": _enc(fn(*args, **kwargs))}
    except ProtocolError:
        raise
    except Exception as exc:  # noqa: BLE001 - the test's callback raised: tell the candidate
        return {"re": ident, "e": exception_info(exc, _enc, _judge_export)}


def install_judge(fd: int, modules: list[str], call_timeout: float) -> None:
    """Called by the judge's runner: connect the link and hook the candidate's imports."""
    global _LINK
    sock = socket.socket(fileno=fd)
    _LINK = Link(sock, _judge_serve, call_timeout)
    _LINK.on_output = judge_output
    for name in modules:
        sys.modules.pop(name, None)
    sys.meta_path.insert(0, _Finder(set(modules)))


# -- the candidate's side --------------------------------------------------------------


class _CandidateSide:
    def __init__(self) -> None:
        self.objects: dict[int, Any] = {}
        self.by_id: dict[int, int] = {}
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.link: Link | None = None

    def export(self, obj: Any) -> list[Any]:
        if isinstance(obj, _JudgeCallable):
            return ["j", obj.h]
        ident = self.by_id.get(id(obj))
        if ident is None:
            ident = len(self.objects) + 1
            self.objects[ident] = obj
            self.by_id[id(obj)] = ident
        name = str(getattr(obj, "__name__", type(obj).__name__))[:200]
        if isinstance(obj, types.ModuleType):
            if hasattr(obj, "__path__"):
                return ["c", ident, "package", name, None]
            names = getattr(obj, "__all__", None)
            if not (isinstance(names, list | tuple) and all(type(n) is str for n in names)):
                names = [n for n in vars(obj) if not n.startswith("_")]
            return ["c", ident, "module", name, list(names)]
        if isinstance(obj, type):
            base = None
            if issubclass(obj, BaseException):
                base = next(c.__name__ for c in obj.__mro__
                            if BUILTIN_EXCEPTIONS.get(c.__name__) is c)
            return ["c", ident, "class", name, base]
        if isinstance(obj, types.FunctionType | types.BuiltinFunctionType | types.MethodType
                      | types.BuiltinMethodType):
            return ["c", ident, "function", name, None]
        return ["c", ident, "object", type(obj).__name__, self.export(type(obj))]

    def enc(self, value: Any) -> Any:
        return encode(value, self.export)

    def resolve(self, desc: Any) -> Any:
        if type(desc) is not list or len(desc) < 2 or type(desc[1]) is not int:
            raise ProtocolError("bad handle")
        if desc[0] == "c":
            return self.objects[desc[1]]
        return _JudgeCallable(self, desc[1])

    def dec(self, data: Any) -> Any:
        return decode(data, self.resolve)

    def take_output(self) -> tuple[str, str]:
        out, err = self.out.getvalue(), self.err.getvalue()
        for buf in (self.out, self.err):
            buf.seek(0)
            buf.truncate()
        return out[:OUT_CAP], err[:OUT_CAP]

    def handle(self, msg: dict[str, Any]) -> Any:
        op = msg.get("op")
        if op == "import":
            return importlib.import_module(str(msg["n"]))
        obj = self.objects[msg["h"]]
        if op == "getattr":
            return getattr(obj, str(msg["n"]))
        if op == "setattr":
            setattr(obj, str(msg["n"]), self.dec(msg.get("v")))
            return None
        if op == "call":
            return obj(*self.dec(msg.get("a")), **self.dec(msg.get("k")))
        if op == "op":
            return OPERATIONS[str(msg["n"])](obj, *self.dec(msg.get("a")))
        if op == "isinstance":
            return isinstance(obj, self.objects[msg["c"]])
        raise ProtocolError(f"unknown request {op!r}")

    def serve(self, msg: dict[str, Any]) -> dict[str, Any]:
        ident = msg.get("id")
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.out, self.err
        try:
            reply = {"re": ident, "v": self.enc(self.handle(msg))}
        except BaseException as exc:  # noqa: BLE001 - everything the candidate raises goes back
            if isinstance(exc, CandidateUnavailable):
                raise
            reply = {"re": ident, "e": exception_info(exc, self.enc, self.export)}
        finally:
            sys.stdout, sys.stderr = saved
        reply["o"], reply["x"] = self.take_output()
        return reply


OPERATIONS: dict[str, Callable[..., Any]] = {
    "__repr__": repr, "__str__": str, "__bool__": bool, "__len__": len, "__iter__": iter,
    "__next__": next, "__getitem__": operator.getitem, "__setitem__": operator.setitem,
    "__delitem__": operator.delitem, "__contains__": operator.contains,
    "__lt__": operator.lt, "__le__": operator.le, "__gt__": operator.gt,
    "__ge__": operator.ge, "__add__": operator.add, "__sub__": operator.sub,
    "__mul__": operator.mul, "__truediv__": operator.truediv,
    "__floordiv__": operator.floordiv, "__mod__": operator.mod, "__pow__": operator.pow,
    "__neg__": operator.neg, "__pos__": operator.pos, "__abs__": abs,
    "__radd__": lambda a, b: operator.add(b, a), "__rsub__": lambda a, b: operator.sub(b, a),
    "__rmul__": lambda a, b: operator.mul(b, a), "__int__": int, "__float__": float,
    "__index__": operator.index, "__enter__": lambda a: a.__enter__(),
    "__exit__": lambda a, *r: a.__exit__(*r), "__and__": operator.and_,
    "__or__": operator.or_, "__xor__": operator.xor, "__invert__": operator.invert,
    "__round__": round, "__reversed__": reversed, "__matmul__": operator.matmul,
}


class _JudgeCallable:
    """In the candidate: a callable the judge handed over (called back across the link)."""

    def __init__(self, side: _CandidateSide, h: int) -> None:
        self.side = side
        self.h = h

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        side = self.side
        assert side.link is not None
        saved = sys.stdout, sys.stderr
        reply = side.link.request({"op": "call", "h": self.h, "a": [side.enc(a) for a in args],
                                   "k": side.enc(kwargs)})
        sys.stdout, sys.stderr = saved
        if "e" in reply:
            info = reply["e"]
            cls = BUILTIN_EXCEPTIONS.get(str(info.get("type")), RuntimeError)
            raise cls(str(info.get("msg", "")))
        return side.dec(reply.get("v"))


def serve_candidate(candidate_dir: str = "/in/candidate", work: str = "/work") -> None:
    """The candidate process: READY, the job line, the candidate's files, then serve."""
    sys.dont_write_bytecode = True
    received = receive_link()
    os.write(1, READY)
    job = json.loads(sys.stdin.readline())
    for root, dirs, files in os.walk(candidate_dir):
        rel = os.path.relpath(root, candidate_dir)
        for d in dirs:
            os.makedirs(os.path.join(work, rel, d), exist_ok=True)
        for f in files:
            shutil.copyfile(os.path.join(root, f), os.path.join(work, rel, f))
    os.chdir(work)
    sys.path.insert(0, work)
    side = _CandidateSide()
    fd = job.get("link_fd")
    link = Link(socket.socket(fileno=int(fd) if fd is not None else int(received or -1)),
                side.serve, None)
    link.outgoing = side.take_output
    side.link = link
    while True:
        try:
            msg = link.recv(None)
        except (EOFError, OSError, ProtocolError):
            break
        if "re" in msg:
            break  # a reply nobody waits for: the judge is confused, stop
        link.send(side.serve(msg))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    serve_candidate()
