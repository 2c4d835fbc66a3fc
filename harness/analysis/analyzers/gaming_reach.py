"""The behaviour half of the test-gaming rules (issue 12): answer tables keyed by the
tested inputs, names reached through strings, files run as code or read as data.

A mixin of gaming_checks.Checker, which supplies `qualname`, `fold_str` and `add`.
"""

from __future__ import annotations

import ast
import posixpath
from typing import Any

from harness.analysis.analyzers.gaming_behaviour import (
    BUILTINS,
    GETATTR_CALLS,
    IMPORT_CALLS,
    IMPORT_HOOK_LISTS,
    MODULE_TABLES,
    READ_CALLS,
    READ_METHODS,
    RUN_FILE_CALLS,
    RUN_FILE_METHODS,
    SENSITIVE_MODULES,
    SENSITIVE_NAMES,
    answer_table,
    literal_name,
    pair_table_hits,
    table_hits,
)


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


class BehaviourChecks(ast.NodeVisitor):
    test_literals: frozenset[str]
    data_files: frozenset[str]
    tables: dict[str, ast.expr]
    params: list[set[str]]
    function_depth: int

    def qualname(self, node: ast.AST, depth: int = 0) -> str | None:
        raise NotImplementedError

    def fold_str(self, node: ast.AST | None) -> str | None:
        raise NotImplementedError

    def add(self, rule_id: str, node: ast.AST | None, detail: str) -> None:
        raise NotImplementedError

    def check_behaviour(self, name: str | None, node: ast.Call) -> None:
        """Every behaviour rule that looks at a call."""
        self._check_dynamic(name, node)
        self._check_run_file(name, node)
        self._check_data_read(name, node)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            self._check_lookup(node.func.value, node.args[0], node)
        if name in ("dict", "builtins.dict") and len(node.args) == 1:
            self._check_pairs(node.args[0], node)


    def _check_dynamic(self, name: str | None, node: ast.Call) -> None:
        if name in GETATTR_CALLS:
            index = 0 if name == "operator.attrgetter" else 1
            if len(node.args) <= index:
                return
            arg = node.args[index]
            attr = self.fold_str(arg)
            computed = not (isinstance(arg, ast.Constant) and isinstance(arg.value, str))
            base = self.qualname(node.args[0]) if index == 1 else None
            if attr is not None and attr.split(".")[-1] in SENSITIVE_NAMES:
                how = "a name built at run time" if computed else "a string"
                self.add("dynamic-attribute", node, f"{name}() reaches {attr!r} through {how}")
            elif computed and base is not None and base.split(".")[0] in SENSITIVE_MODULES:
                shown = repr(attr) if attr is not None else "a name computed at run time"
                self.add("dynamic-attribute", node, f"{name}() on {base} with {shown}")
        elif name in IMPORT_CALLS and node.args and not literal_name(node):
            module = self.fold_str(node.args[0])
            if module is not None and module.split(".")[0] in SENSITIVE_MODULES:
                self.add("dynamic-attribute", node,
                         f"{name}() imports {module!r} through a name built at run time")

    def _check_run_file(self, name: str | None, node: ast.Call) -> None:
        if name in RUN_FILE_CALLS:
            self.add("runs-file", node, f"calls {name}()")
        elif isinstance(node.func, ast.Attribute) and node.func.attr in RUN_FILE_METHODS \
                and name not in RUN_FILE_CALLS:
            self.add("runs-file", node, f"calls .{node.func.attr}()")
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("append", "insert") \
                and self.qualname(node.func.value) in IMPORT_HOOK_LISTS:
            self.add("runs-file", node, f"adds an import hook to {self.qualname(node.func.value)}")

    def _check_data_read(self, name: str | None, node: ast.Call) -> None:
        named = [text for arg in [*node.args, *(k.value for k in node.keywords)]
                 if (text := self.fold_str(arg)) is not None and self._is_data_file(text)]
        if named and not self._writes(name, node):
            self.add("data-file-read", node, f"refers to its data file {named[0]!r}")
            return
        reads = name in READ_CALLS or (isinstance(node.func, ast.Attribute)
                                       and node.func.attr in READ_METHODS
                                       and not self._writes(name, node))
        if reads and self.function_depth == 0 and self.data_files and not self._writes(name, node):
            call = name or getattr(node.func, "attr", "?")
            self.add("data-file-read", node, f"reads a file while being imported ({call}()), "
                     "and the candidate ships non-.py files")

    def _is_data_file(self, text: str) -> bool:
        return bool(self.data_files) and (text in self.data_files
                                          or posixpath.basename(text) in self.data_files)

    @staticmethod
    def _writes(name: str | None, node: ast.Call) -> bool:
        if name not in ("open", "io.open", "codecs.open") and not (
                isinstance(node.func, ast.Attribute) and node.func.attr == "open"):
            return False
        mode = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "mode"), None)
        return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(
            c in mode.value for c in "wax+")

    def _in_params(self, key: ast.expr) -> bool:
        """The key is one of the enclosing function's arguments (as such, or through
        tuple()/str()/repr()/frozenset(), or a tuple of them)."""
        if not self.params:
            return False
        params = self.params[-1]
        if isinstance(key, ast.Name):
            return key.id in params
        if isinstance(key, ast.Tuple):
            return bool(key.elts) and all(self._in_params(e) for e in key.elts)
        if isinstance(key, ast.Call) and len(key.args) == 1 and self.qualname(key.func) in (
                "tuple", "str", "repr", "frozenset", "int", "float", "sorted", "list"):
            return self._in_params(key.args[0])
        return False

    def _table(self, container: ast.expr) -> ast.expr | None:
        if isinstance(container, ast.Dict | ast.List | ast.Tuple):
            return container
        if isinstance(container, ast.Name):
            return self.tables.get(container.id)
        if isinstance(container, ast.Call) and self.qualname(container.func) in (
                "dict", "builtins.dict") and len(container.args) == 1:
            inner = self._table(container.args[0])
            return inner
        return None

    def _check_lookup(self, container: ast.expr, key: ast.expr, node: ast.AST) -> None:
        if not self.test_literals or not self._in_params(key):
            return
        table = self._table(container)
        if table is None:
            return
        hits = table_hits(table, self.test_literals) or pair_table_hits(table, self.test_literals)
        if answer_table(table, hits):
            self._report_table(hits, node)

    def _check_pairs(self, pairs: ast.expr, node: ast.AST) -> None:
        """`dict([(input, answer), ...])`: the pairs table built into a dict."""
        table = self._table(pairs)
        if table is not None and self.test_literals:
            hits = pair_table_hits(table, self.test_literals)
            if answer_table(table, hits) and self.params:
                self._report_table(hits, node)

    def _report_table(self, hits: list[tuple[Any, Any]], node: ast.AST) -> None:
        shown = ", ".join(f"{k!r} -> {v!r}" for k, v in hits[:3])
        more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
        self.add("test-input-lookup", node, f"a table of tested inputs: {shown}{more}")

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Load):
            self._check_lookup(node.value, node.slice, node)
            base = self.qualname(node.value)
            key = self.fold_str(node.slice)
            computed = not (isinstance(node.slice, ast.Constant))
            if key and (base in MODULE_TABLES or base in BUILTINS) and (
                    key.split(".")[0] in SENSITIVE_MODULES or key in SENSITIVE_NAMES):
                how = "a name built at run time" if computed else "a string"
                self.add("dynamic-attribute", node, f"{base}[...] reaches {key!r} through {how}")
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        """`for k, v in PAIRS: if k == arg: return v`: a pairs table scanned for the input."""
        target = node.target
        if self.params and self.test_literals and isinstance(target, ast.Tuple) \
                and len(target.elts) == 2 and all(isinstance(e, ast.Name) for e in target.elts):
            key_name = target.elts[0].id  # type: ignore[attr-defined]
            table = self._table(node.iter)
            compares = any(
                isinstance(n, ast.Compare) and len(n.ops) == 1 and isinstance(n.ops[0], ast.Eq)
                and {_name(n.left), _name(n.comparators[0])} & {key_name}
                and {_name(n.left), _name(n.comparators[0])} & self.params[-1]
                for n in ast.walk(node))
            if table is not None and compares:
                hits = pair_table_hits(table, self.test_literals)
                if hits:
                    self._report_table(hits, node)
        self.generic_visit(node)
