"""Split execution: a wrong candidate cannot reach the judge; honest code behaves as in pytest.

Each attack here gave a wrong candidate a clean `passed` when tests and
candidate shared one interpreter (issue 12). In split mode the candidate runs in
its own sandbox and can decide its verdict only by the values it returns.
"""

from __future__ import annotations

import pytest
from helpers.sandbox import BACKENDS, require_backend

from sandboxes.base import Limits, RunResult

LIMITS = Limits(wall_s=10, memory_mb=256)

TESTS = {"test_solution.py": (
    "from solution import add\n\n\n"
    "def test_small():\n    assert add(1, 2) == 3\n\n\n"
    "def test_negative():\n    assert add(-1, -2) == -3\n")}


def split_run(backend: str, files: dict[str, str], tests: dict[str, str] = TESTS,
              limits: Limits = LIMITS) -> RunResult:
    sb = require_backend(backend)
    result = sb.run(files, tests, limits, mode="split")
    assert result.integrity == "split"
    return result


def outcomes(result: RunResult) -> dict[str, str]:
    return {t.name.split("::")[-1]: t.outcome for t in result.tests}


WRONG = "def add(a, b):\n    return a - b\n"

ATTACKS = {
    # The trusted tests are not in the candidate's sandbox: nothing to answer from.
    "reads_the_tests": (
        "import os, re\n"
        "ANSWERS = {}\n"
        "for root, _, files in os.walk('/in'):\n"
        "    for f in files:\n"
        "        if f.startswith('test_'):\n"
        "            src = open(os.path.join(root, f)).read()\n"
        "            for a, b, c in re.findall(r'add\\((-?\\d+), (-?\\d+)\\) == (-?\\d+)', src):\n"
        "                ANSWERS[(int(a), int(b))] = int(c)\n"
        "def add(a, b):\n    return ANSWERS.get((a, b), a - b)\n"),
    # Swap the test module in sys.modules while it imports the candidate.
    "sys_modules_swap": (
        "import sys, types\n"
        "for name, mod in list(sys.modules.items()):\n"
        "    if name.startswith('test_'):\n"
        "        fake = types.ModuleType(name)\n"
        "        for attr in dir(mod):\n"
        "            if attr.startswith('test_'):\n"
        "                setattr(fake, attr, lambda: None)\n"
        "        sys.modules[name] = fake\n" + WRONG),
    # Flip the caller's assertion temporaries with a trace function.
    "trace_function": (
        "import sys\n"
        "def tracer(frame, event, arg):\n"
        "    if frame.f_code.co_name.startswith('test_'):\n"
        "        for k, v in list(frame.f_locals.items()):\n"
        "            if v is False:\n"
        "                frame.f_locals[k] = True\n"
        "    return tracer\n"
        "sys.settrace(tracer)\n"
        "f = sys._getframe()\n"
        "while f is not None:\n"
        "    f.f_trace = tracer\n"
        "    f = f.f_back\n" + WRONG),
    # Reach pytest's config through a pytest module and register a passing hook.
    "hook_registration": (
        "import sys, gc\n"
        "for obj in gc.get_objects():\n"
        "    if type(obj).__name__ == 'Config' and hasattr(obj, 'pluginmanager'):\n"
        "        class P:\n"
        "            def pytest_runtest_makereport(self, item, call):\n"
        "                call.excinfo = None\n"
        "        obj.pluginmanager.register(P())\n" + WRONG),
    # Write signed records with the runner's own writer, then leave.
    "report_writer": (
        "import gc, os\n"
        "for obj in gc.get_objects():\n"
        "    if type(obj).__name__ == 'ReportPlugin':\n"
        "        w = obj._write\n"
        "        w('test', nodeid='test_solution.py::test_small', when='call', outcome='passed',"
        " xfail=False, raised=None, duration=0.0, message='')\n"
        "        w('end', exitstatus=0)\n"
        "        os._exit(0)\n"
        "try:\n"
        "    fd = os.open('/results/report.json', os.O_WRONLY | os.O_TRUNC)\n"
        "    os.write(fd, b'forged\\n')\n"
        "except OSError:\n"
        "    pass\n" + WRONG),
    # The gc/exec forge, spelled so no static rule sees it.
    "hidden_exec_forge": (
        "import base64\n"
        "getattr(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__), "
        "'get', lambda *a: None)\n"
        "code = base64.b64decode(b'aW1wb3J0IGdjLCBvcwpmb3IgbyBpbiBnYy5nZXRfb2JqZWN0cygpOgog"
        "ICAgaWYgdHlwZShvKS5fX25hbWVfXyA9PSAnUmVwb3J0UGx1Z2luJzoKICAgICAgICBvcy5fZXhpdCgwKQo=')\n"
        "vars(__builtins__)['ex' + 'ec'](code) if not isinstance(__builtins__, dict) else "
        "__builtins__['ex' + 'ec'](code)\n" + WRONG),
    # Answers that claim equality with anything.
    "eq_always_true": (
        "class Any:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return Any()\n"),
    "int_subclass_eq": (
        "class Sly(int):\n"
        "    def __eq__(self, other):\n        return 1\n"
        "    __hash__ = int.__hash__\n"
        "def add(a, b):\n    return Sly(a - b)\n"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_wrong_candidate_stays_failed(backend: str, attack: str) -> None:
    result = split_run(backend, {"solution.py": ATTACKS[attack]})
    assert result.status == "failed", (result.status, result.error, result.tamper,
                                       result.stderr[-1500:])
    assert outcomes(result) == {"test_small": "failed", "test_negative": "failed"}


HONEST = {"solution.py": (
    "import sys\n"
    "class TooBig(ValueError):\n    pass\n\n"
    "class Stack:\n"
    "    def __init__(self):\n        self.items = []\n"
    "    def push(self, x):\n        self.items.append(x)\n        return self\n"
    "    def pop(self):\n        return self.items.pop()\n"
    "    def __len__(self):\n        return len(self.items)\n\n"
    "def check(n):\n"
    "    if n > 10:\n        raise TooBig(f'{n} > 10')\n"
    "    return {}['missing'] if n < 0 else n\n\n"
    "def squares(n):\n"
    "    for i in range(n):\n        yield i * i\n\n"
    "def shout(text):\n"
    "    print(text.upper())\n    print('warn', file=sys.stderr)\n    return len(text)\n\n"
    "def apply(f, x):\n    return f(x) + 1\n\n"
    "def countdown(n, again):\n    return [] if n == 0 else [n] + again(n - 1, again)\n\n"
    "def deep(n):\n    return 0 if n == 0 else 1 + deep(n - 1)\n\n"
    "def values():\n"
    "    return (None, True, 2, 2.5, float('inf'), 1j, 'é', b'\\x00', [1], (2,), {3: 4},"
    " {5}, frozenset({6}))\n")}
HONEST_TESTS = {"test_solution.py": (
    "import math\n"
    "import pytest\n"
    "import solution\n"
    "from solution import Stack, TooBig, apply, check, countdown, deep, shout, squares, values\n\n"
    "def test_exceptions():\n"
    "    with pytest.raises(TooBig, match='11 > 10'):\n        check(11)\n"
    "    with pytest.raises(ValueError):\n        check(12)\n"
    "    with pytest.raises(KeyError):\n        check(-1)\n"
    "    assert check(3) == 3\n\n"
    "def test_class_with_methods():\n"
    "    s = Stack().push(1).push(2)\n"
    "    assert isinstance(s, Stack) and len(s) == 2\n"
    "    assert s.pop() == 2 and s.items == [1]\n"
    "    assert s == s and s != Stack()\n\n"
    "def test_generator_consumed_by_the_test():\n"
    "    assert list(squares(5)) == [0, 1, 4, 9, 16]\n"
    "    assert sum(squares(4)) == 14\n\n"
    "def test_printed_output(capsys):\n"
    "    assert shout('hi') == 2\n"
    "    captured = capsys.readouterr()\n"
    "    assert captured.out == 'HI\\n' and captured.err == 'warn\\n'\n\n"
    "def test_recursion_across_the_boundary():\n"
    "    assert apply(lambda x: x * 10, 4) == 41\n"
    "    assert countdown(4, countdown) == [4, 3, 2, 1]\n"
    "    judge_side = lambda n, again: [] if n == 0 else [-n] + countdown(n - 1, again)\n"
    "    assert countdown(4, judge_side) == [4, -3, 2, -1]\n"
    "    assert apply(lambda x: apply(lambda y: y * 2, x), 3) == 8\n"
    "    assert deep(200) == 200\n"
    "    with pytest.raises(RecursionError):\n        deep(100000)\n\n"
    "def test_values_cross_with_their_exact_types():\n"
    "    got = values()\n"
    "    assert [type(v).__name__ for v in got] == ['NoneType', 'bool', 'int', 'float',"
    " 'float', 'complex', 'str', 'bytes', 'list', 'tuple', 'dict', 'set', 'frozenset']\n"
    "    assert math.isinf(got[4]) and got[6] == 'é'\n"
    "    assert solution.Stack is Stack\n")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_honest_code_behaves_as_in_a_plain_pytest_run(backend: str) -> None:
    split = split_run(backend, HONEST, HONEST_TESTS)
    plain = require_backend(backend).run(HONEST, HONEST_TESTS, LIMITS, mode="in_process")
    assert plain.integrity == "in_process"
    assert (plain.status, split.status) == ("passed", "passed"), split.stdout[-3000:]
    assert outcomes(split) == outcomes(plain)


MISBEHAVING_TESTS = {"test_solution.py": (
    "from solution import add, misbehave\n\n"
    "def test_before():\n    assert add(1, 2) == 3\n\n"
    "def test_misbehaves():\n    assert misbehave() == 1\n")}
MISBEHAVIOUR = {
    "closes_the_link": "import os\ndef misbehave():\n"
                       "    for fd in range(3, 1024):\n"
                       "        try:\n            os.close(fd)\n"
                       "        except OSError:\n            pass\n    return 1\n",
    "floods_the_link": "import os, socket\ndef misbehave():\n"
                       "    for fd in range(3, 1024):\n"
                       "        try:\n"
                       "            s = socket.socket(fileno=os.dup(fd))\n"
                       "            s.sendall(b'\\xff' * (1 << 20))\n"
                       "        except OSError:\n            pass\n    return 1\n",
    # Parent and child both answer (a wrong value): the judge takes one answer.
    "forks": "import os\ndef misbehave():\n    os.fork()\n    return 2\n",
    "sleeps": "import time\ndef misbehave():\n    time.sleep(60)\n    return 1\n",
    "dies": "import os\ndef misbehave():\n    os._exit(3)\n",
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("how", sorted(MISBEHAVIOUR))
def test_a_misbehaving_candidate_fails_only_its_own_tests(backend: str, how: str) -> None:
    files = {"solution.py": "def add(a, b):\n    return a + b\n\n" + MISBEHAVIOUR[how]}
    result = split_run(backend, files, MISBEHAVING_TESTS, Limits(wall_s=8, memory_mb=256))
    assert result.status == "failed", (result.status, result.error, result.stdout[-2000:])
    assert outcomes(result) == {"test_before": "passed", "test_misbehaves": "failed"}
    failed = next(t for t in result.tests if t.outcome == "failed")
    if how != "forks":
        assert "CandidateUnavailable" in failed.message, failed.message
