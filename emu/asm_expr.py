"""Integer expressions in assembly operands and directives: numbers, names, `.` or `$`
(the current address), + - * / % << >> & | ^ ~ and parentheses. Shared by the program
assembler and the vDSO's."""

from __future__ import annotations

import ast
import operator
import re

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Div: operator.floordiv, ast.Mod: operator.mod,
           ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
           ast.BitAnd: operator.and_, ast.BitXor: operator.xor}
_HERE = "__here__"
_IDENT = re.compile(r"(?<![\w.$@?])(?!0x)[A-Za-z_.$@?][\w.$@?]*")


class UnknownSymbol(ValueError):
    def __init__(self, name: str):
        super().__init__(f"unknown symbol {name!r}")
        self.name = name


def evaluate(expr: str, names: dict[str, int], here: int) -> int:
    """The value of `expr`; UnknownSymbol for a name not in `names`, ValueError for text
    that is not an expression."""
    text = expr.strip()
    text = re.sub(r"(?<![\w.$@])[.$](?![\w.$@])", _HERE, text)
    mapping: dict[str, str] = {}

    def name_key(m: re.Match) -> str:
        word = m.group(0)
        if word == _HERE:
            return word
        key = f"__n{len(mapping)}__"
        mapping[key] = word
        return key

    text = _IDENT.sub(name_key, text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot read expression {expr!r}") from None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            if node.id == _HERE:
                return here
            name = mapping.get(node.id, node.id)
            if name in names:
                return names[name]
            raise UnknownSymbol(name)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, (ast.FloorDiv, ast.Div, ast.Mod)) and right == 0:
                raise ValueError(f"division by zero in {expr.strip()!r}")
            if isinstance(node.op, (ast.LShift, ast.RShift)) and not 0 <= right < 128:
                raise ValueError(f"shift by {right} in {expr.strip()!r}")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.Invert):
                return ~v
            if isinstance(node.op, ast.UAdd):
                return v
        raise ValueError(f"cannot read expression {expr!r}")

    return ev(tree)
