"""Templates in exercise specs: `{expr}` is replaced by a small expression over the run's
variables (`{word}`, `{len(word) + 1}`, `{quote(argv1 + "\\n")}`, `{word[::-1]}`), `{{` and
`}}` are literal braces. Expressions are parsed with `ast` and only a short list of node
kinds and functions is evaluated: a spec is data, never code."""

from __future__ import annotations

import ast
import random
import re
import string


class TemplateError(ValueError):
    """A template that cannot be expanded; str() says which expression and why."""


def _quote(value) -> str:
    from kernel_model.trace.strace import quote

    data = value if isinstance(value, bytes) else str(value).encode()
    return quote(data)


FUNCTIONS = {
    "len": lambda v: len(v.encode() if isinstance(v, str) else v),  # bytes, as write counts
    "str": str,
    "int": int,
    "hex": hex,
    "quote": _quote,  # strace's quoted form: quote("hi\n") == '"hi\\n"'
    "upper": lambda v: str(v).upper(),
    "lower": lambda v: str(v).lower(),
    "reverse": lambda v: v[::-1],
    "lines": lambda v: str(v).count("\n"),
    "words": lambda v: len(str(v).split()),
}

_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.FloorDiv: lambda a, b: a // b,
           ast.Mod: lambda a, b: a % b}
_CMPS = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
         ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
         ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}


def evaluate(expr: str, names: dict):
    # A TOML basic string turns `'\n'` into a real newline before we see it: put it back.
    source = expr.strip().replace("\n", "\\n").replace("\t", "\\t")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise TemplateError(f"{{{expr}}}: not an expression (a literal brace is written "
                            "{{ or }})") from None
    return _eval(tree.body, names, expr)


def _eval(node, names: dict, expr: str):
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            known = ", ".join(sorted(names))
            raise TemplateError(f"{{{expr}}}: no variable {node.id!r} (known: {known})")
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left, names, expr),
                                      _eval(node.right, names, expr))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, names, expr)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMPS:
        return _CMPS[type(node.ops[0])](_eval(node.left, names, expr),
                                        _eval(node.comparators[0], names, expr))
    if isinstance(node, ast.IfExp):
        cond = _eval(node.test, names, expr)
        return _eval(node.body if cond else node.orelse, names, expr)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        fn = FUNCTIONS.get(node.func.id)
        if fn is None:
            raise TemplateError(f"{{{expr}}}: no function {node.func.id!r} "
                                f"(known: {', '.join(sorted(FUNCTIONS))})")
        return fn(*(_eval(a, names, expr) for a in node.args))
    if isinstance(node, ast.Subscript):
        target = _eval(node.value, names, expr)
        if isinstance(node.slice, ast.Slice):
            parts = [None if p is None else _eval(p, names, expr)
                     for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            return target[slice(*parts)]
        return target[_eval(node.slice, names, expr)]
    raise TemplateError(f"{{{expr}}}: only names, numbers, strings, + - * // %, comparisons, "
                        "`a if c else b`, [i], [a:b] and the listed functions are allowed")


_PIECE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def expand(template: str, names: dict, escape=None) -> str:
    """Replace each `{expr}`; `escape` (e.g. re.escape) is applied to the values only."""
    def replace(m: re.Match) -> str:
        text = m.group(0)
        if text == "{{":
            return "{"
        if text == "}}":
            return "}"
        if m.group(1) is None:
            raise TemplateError(f"unmatched {text!r} in {template!r} (a literal brace is "
                                "written {{ or }})")
        value = str(evaluate(m.group(1), names))
        return escape(value) if escape else value

    return _PIECE.sub(replace, template)


def expand_value(value, names: dict):
    """A template string, or a list/dict of them, or a plain number (left as is)."""
    if isinstance(value, str):
        return expand(value, names)
    if isinstance(value, list):
        return [expand_value(v, names) for v in value]
    if isinstance(value, dict):
        return {expand(k, names): expand_value(v, names) for k, v in value.items()}
    return value


def expand_int(value, names: dict) -> int:
    """An int, or a template that evaluates to one (`exit = "{argc - 1}"`)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TemplateError(f"{value!r}: expected a number or a template")
    if isinstance(value, int):
        return value
    text = expand(value, names).strip()
    try:
        return int(text, 0)
    except ValueError:
        raise TemplateError(f"{value!r} gave {text!r}, not a number") from None


# -- random variables ([vars]) ----------------------------------------------------------
WORDS = ("apple", "orbit", "kernel", "vector", "gate", "table", "signal", "page", "stack",
         "cache", "trap", "ring", "frame", "shell", "pipe", "inode", "clock", "tick", "lemon",
         "river", "cloud", "tiger", "maple", "ocean", "piano", "zebra", "quartz", "falcon")


def draw(name: str, spec, rng: random.Random, names: dict):
    """One value of a [vars] entry. A spec is a constant (a template string or a number) or
    a table with one generator key: letters, int, choice, words, text."""
    if not isinstance(spec, dict):
        return expand_value(spec, names)
    if len(spec) != 1:
        raise TemplateError(f"vars.{name}: use one generator key (letters, int, choice, words, "
                            f"text), got {sorted(spec)}")
    (kind, arg), = spec.items()
    if kind == "letters":
        lo, hi = _range(name, kind, arg)
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(lo, hi)))
    if kind == "int":
        lo, hi = _range(name, kind, arg)
        return rng.randint(lo, hi)
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise TemplateError(f"vars.{name}: choice takes a non-empty list")
        return expand_value(rng.choice(arg), names)
    if kind == "words":  # a line of words: "tiger page orbit"
        lo, hi = _range(name, kind, arg)
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))
    if kind == "text":  # lines of words, each ending in a newline
        lo, hi = _range(name, kind, arg)
        return "".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))) + "\n"
                       for _ in range(rng.randint(lo, hi)))
    raise TemplateError(f"vars.{name}: unknown generator {kind!r} (letters, int, choice, "
                        "words, text)")


def _range(name: str, kind: str, arg) -> tuple[int, int]:
    if isinstance(arg, int) and not isinstance(arg, bool):
        return arg, arg
    if (isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, int) for a in arg)
            and arg[0] <= arg[1]):
        return arg[0], arg[1]
    raise TemplateError(f"vars.{name}: {kind} takes N or [MIN, MAX], got {arg!r}")
