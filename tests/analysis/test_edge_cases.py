"""What AI output often is: code that does not parse, empty or huge files, other languages."""

from __future__ import annotations

import pytest

from harness.analysis import AnalysisResult, Hint, analyze_files, analyzer_versions


def test_code_that_does_not_parse_gives_exactly_one_hint() -> None:
    code = "import subprocess\nsubprocess.call('ls', shell=True)\ndef f(x:\n    return x\n"
    result = analyze_files({"solution.py": code})
    assert len(result.hints) == 1
    (hint,) = result.hints
    assert hint.rule_id == "syntax-error" and hint.file_path == "solution.py"
    assert hint.line_start == 3
    assert hint.message.startswith("syntax error at line 3: ")
    assert result.summary["syntax_error"] is True
    assert result.metrics == {}
    assert result.summary["skipped"][0]["file"] == "solution.py"


@pytest.mark.parametrize(
    "code",
    [
        "def f(:\n",
        "x = (" * 300 + "1" + ")" * 300 + "\n",  # too many nested parentheses
        "x = 1\n\x00y = 2\n",  # a null byte
        "if True:\n  x = 1\n    y = 2\n",  # bad indentation
        "print 'python 2'\n",
        "s = 'unterminated\n",
        "x = 1\n" * 5 + "def f():\n\treturn 1\n        return 2\n",  # tabs and spaces
    ],
)
def test_unparseable_variants_never_crash_and_say_where(code: str) -> None:
    result = analyze_files({"solution.py": code})
    assert [h.rule_id for h in result.hints] == ["syntax-error"]
    assert result.hints[0].message.startswith(f"syntax error at line {result.hints[0].line_start}: ")


def test_only_the_broken_file_is_skipped() -> None:
    result = analyze_files(
        {"broken.py": "def (:\n", "ok.py": "import pickle\npickle.loads(b'')\n"}
    )
    assert {(h.file_path, h.rule_id) for h in result.hints} == {
        ("broken.py", "syntax-error"), ("ok.py", "B403"), ("ok.py", "B301")
    }
    assert set(result.metrics) == {"ok.py"}


def test_invalid_escape_sequences_are_not_errors() -> None:
    # A DeprecationWarning/SyntaxWarning while parsing; pytest runs with -W error.
    result = analyze_files({"solution.py": "import re\nPAT = re.compile('\\d+')\n"})
    assert result.hints == []
    assert result.metrics["solution.py"]["sloc"] == 2


def test_empty_and_whitespace_files() -> None:
    result = analyze_files({"empty.py": "", "blank.py": "\n\n   \n"})
    assert result.hints == []
    assert result.metrics["empty.py"]["loc"] == 0
    assert result.metrics["empty.py"]["functions"] == []
    assert result.summary["mi"] == 100.0
    assert analyze_files({}).hints == []


def test_files_over_the_cap_get_a_hint_and_are_not_analysed() -> None:
    big = "import os\nos.system('x')\n" + "x = 1\n" * 100
    result = analyze_files({"big.py": big, "small.py": "y = 2\n"}, max_bytes=200)
    assert [(h.file_path, h.rule_id, h.severity) for h in result.hints] == [
        ("big.py", "not-analysed", "info")
    ]
    assert "not analysed" in result.hints[0].message and "200" in result.hints[0].message
    assert set(result.metrics) == {"small.py"}
    assert result.summary["skipped"] == [{"file": "big.py", "reason": result.hints[0].message}]


def test_other_languages_get_no_python_hints() -> None:
    code = "import os\nos.system(input())\nclass A:\n    def __eq__(s, o):\n        return True\n"
    for language in ("javascript", "go", "rust"):
        result = analyze_files({"solution.py": code, "main.js": "eval(x)\n"}, language=language)
        assert result.hints == [] and result.metrics == {}
        assert result.summary["language"] == language
        assert result.versions == analyzer_versions()


def test_non_python_files_of_a_python_candidate_are_left_alone() -> None:
    result = analyze_files({"README.md": "def (:\n", "data.json": "{}", "solution.py": "x = 1\n"})
    assert result.hints == []
    assert set(result.metrics) == {"solution.py"}


def test_result_round_trips_through_json_shapes() -> None:
    result = analyze_files({"s.py": "import pickle\nclass A:\n    def m(self):\n        pass\n"})
    assert AnalysisResult.from_dict(result.to_dict()) == result
    for hint in result.hints:
        assert Hint.from_dict(hint.to_dict()) == hint
    assert result.hints[0].doc_url == (
        "https://bandit.readthedocs.io/en/1.9.4/blacklists/blacklist_imports.html"
        "#b403-import-pickle"
    )
    assert set(result.versions) >= {"bandit", "radon", "gaming"}


def test_summary_names_the_worst_function() -> None:
    branches = "".join(f"        if x == {i}:\n            x += {i}\n" for i in range(12))
    code = (
        "def simple():\n    return 1\n\n"
        f"class K:\n    def busy(self, x):\n{branches}        return x\n"
    )
    result = analyze_files({"solution.py": code})
    worst = result.summary["worst_cc"]
    assert (worst["function"], worst["rank"], worst["cc"]) == ("K.busy", "C", 13)
    cc_hints = [h for h in result.hints if h.rule_id == "cc"]
    assert len(cc_hints) == 1 and cc_hints[0].line_start == 5
    assert "K.busy" in cc_hints[0].message and cc_hints[0].doc_url


def test_code_the_analyzers_choke_on_says_so() -> None:
    # Parses, but radon's visitor recurses past the limit (and bandit reports an error).
    result = analyze_files({"s.py": "f = " + "lambda: " * 2000 + "0\n"})
    problems = [h for h in result.hints if h.rule_id == "not-analysed"]
    assert {h.title for h in problems} == {
        "bandit could not analyse this file", "radon could not analyse this file"
    }
    assert all(h.severity == "info" and h.file_path == "s.py" for h in problems)


@pytest.mark.parametrize("code", ["x = " + "not " * 3000 + "y\n", "x = " + "-" * 20000 + "1\n"])
def test_code_too_deep_for_the_parser_is_reported_not_raised(code: str) -> None:
    result = analyze_files({"s.py": code})
    assert [h.rule_id for h in result.hints] == ["not-analysed"]
    assert "nested too deeply" in result.hints[0].message
