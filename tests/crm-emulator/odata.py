"""A small OData v4 query-option subset for the Dataverse emulator.

Supported: $filter with eq ne gt ge lt le, and / or / not, parentheses,
contains() / startswith() / endswith(), literals 'string' (with '' escape),
null, true, false, numbers, GUIDs and ISO date-times; $select; $orderby
(field [asc|desc], ...); $top.  String comparison is case-insensitive, as
Dataverse documents ("All filters using string values are case insensitive").

Public: parse_filter(text) -> predicate(record) with .fields (names used),
parse_orderby(text) -> list of (field, descending), apply_orderby(),
ODataError.
"""

import re

from common import parse_time

TOKEN_RE = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"
                      r"|(?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\w-]))"
                      r"|(?P<word>[A-Za-z_][\w.@/]*)|(?P<lit>[0-9][0-9A-Za-z:.+\-]*|-[0-9][0-9.]*))")
OPS = ("eq", "ne", "gt", "ge", "lt", "le")
FUNCS = ("contains", "startswith", "endswith")


class ODataError(Exception):
    """A query option the emulator cannot parse."""


def tokenize(text):
    """Tokens as (kind, value)."""
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise ODataError("Syntax error at position %d in $filter '%s'." % (pos, text))
        pos = m.end()
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
    return out


class _Parser:
    def __init__(self, text):
        self.toks = tokenize(text)
        self.i = 0
        self.fields = set()
        self.text = text

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expect(self, kind):
        t = self.take()
        if t[0] != kind:
            raise ODataError("Syntax error in $filter '%s': expected %s." % (self.text, kind))
        return t[1]

    def parse(self):
        node = self.or_expr()
        if self.i != len(self.toks):
            raise ODataError("Syntax error in $filter '%s' near '%s'." % (self.text, self.peek()[1]))
        return node

    def or_expr(self):
        node = self.and_expr()
        while self.peek() == ("word", "or"):
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self):
        node = self.unary()
        while self.peek() == ("word", "and"):
            self.take()
            node = ("and", node, self.unary())
        return node

    def unary(self):
        if self.peek() == ("word", "not"):
            self.take()
            return ("not", self.unary())
        if self.peek()[0] == "lp":
            self.take()
            node = self.or_expr()
            self.expect("rp")
            return node
        kind, val = self.take()
        if kind != "word":
            raise ODataError("Syntax error in $filter '%s': expected a property name." % self.text)
        if val in FUNCS:
            self.expect("lp")
            field = self.expect("word")
            self.expect("comma")
            lit = self.literal()
            self.expect("rp")
            self.fields.add(field)
            return ("func", val, field, lit)
        self.fields.add(val)
        op = self.take()
        if op[0] != "word" or op[1] not in OPS:
            raise ODataError("Syntax error in $filter '%s': expected an operator after '%s'." % (self.text, val))
        return ("cmp", op[1], val, self.literal())

    def literal(self):
        kind, val = self.take()
        if kind == "str":
            return val[1:-1].replace("''", "'")
        if kind == "word":
            if val == "null":
                return None
            if val in ("true", "false"):
                return val == "true"
            raise ODataError("Syntax error in $filter '%s': '%s' is not a literal." % (self.text, val))
        if kind == "guid":
            return val  # a GUID literal (unquoted), compared as text
        if kind == "lit":
            if re.match(r"^-?\d+$", val):
                return int(val)
            if re.match(r"^-?\d+\.\d+$", val):
                return float(val)
            return val  # GUID or date-time, compared as text or time
        raise ODataError("Syntax error in $filter '%s': expected a literal." % self.text)


def _cmp_values(a, b):
    """Comparable forms of a record value and a literal."""
    if isinstance(a, str) and isinstance(b, str):
        ta, tb = parse_time(a), parse_time(b)
        if ta is not None and tb is not None and re.match(r"^\d{4}-", b):
            return ta, tb
        return a.lower(), b.lower()
    return a, b


def _eval(node, rec):
    op = node[0]
    if op == "and":
        return _eval(node[1], rec) and _eval(node[2], rec)
    if op == "or":
        return _eval(node[1], rec) or _eval(node[2], rec)
    if op == "not":
        return not _eval(node[1], rec)
    if op == "func":
        _, fn, field, lit = node
        v = rec.get(field)
        if not isinstance(v, str) or not isinstance(lit, str):
            return False
        v, lit = v.lower(), lit.lower()
        return {"contains": lit in v, "startswith": v.startswith(lit), "endswith": v.endswith(lit)}[fn]
    _, cop, field, lit = node
    v = rec.get(field)
    if lit is None or v is None:
        if cop == "eq":
            return v is None and lit is None
        if cop == "ne":
            return not (v is None and lit is None)
        return False
    a, b = _cmp_values(v, lit)
    try:
        return {"eq": a == b, "ne": a != b, "gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[cop]
    except TypeError:
        return False


def parse_filter(text):
    """A predicate for a $filter string; .fields lists the properties it uses."""
    node = _Parser(text)
    tree = node.parse()

    def pred(rec):
        return _eval(tree, rec)

    pred.fields = node.fields
    return pred


def parse_orderby(text):
    """'a desc, b' -> [("a", True), ("b", False)]."""
    out = []
    for part in text.split(","):
        bits = part.split()
        if not bits or len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise ODataError("Syntax error in $orderby '%s'." % text)
        out.append((bits[0], len(bits) == 2 and bits[1].lower() == "desc"))
    return out


def apply_orderby(recs, order):
    """Sorts records by an $orderby list (None sorts first)."""
    for field, desc in reversed(order):
        recs.sort(key=lambda r: (r.get(field) is not None, _cmp_values(r.get(field), r.get(field))[0]
                                 if r.get(field) is not None else 0), reverse=desc)
    return recs
