"""The SOQL subset the Salesforce connector sends, parsed and evaluated
over stored records.

Grammar (keywords and field names case-insensitive):
  SELECT field [, field]* FROM Object
    [WHERE cond]  cond := term [(AND|OR) term]*, term := [NOT] (cond) | field op value
                  | field [NOT] IN (value, ...) | field LIKE 'pat%'
                  op := = != <> < <= > >=
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST] [, ...]]
    [LIMIT n] [OFFSET n]
  values: 'text' (backslash escapes \\' \\\\ \\n), null, true, false, numbers,
  date-time literals (2026-11-22T12:00:00Z) and dates (2026-11-22).
Text comparison with = is case-insensitive, as in SOQL.  Not supported:
relationship fields (Account.Name), aggregates, COUNT(), GROUP BY,
sub-queries, date functions and date literals such as LAST_N_DAYS.

Public: parse(text) -> Query (fields, obj, where, order, limit, offset),
SoqlError, matches(), sort_records().
"""

import re

from common import parse_time

TOK = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|<>|=|<|>)|(?P<lp>\()|(?P<rp>\))"
                 r"|(?P<comma>,)|(?P<dt>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?)"
                 r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][\w.]*))")
KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc", "nulls",
            "first", "last", "limit", "offset", "null", "true", "false"}


class SoqlError(Exception):
    """MALFORMED_QUERY: the text is outside the supported subset."""


class Query:
    """A parsed query."""

    def __init__(self):
        self.fields = []
        self.obj = None
        self.where = None
        self.order = []
        self.limit = None
        self.offset = 0


def tokens(text):
    """(kind, value) tokens; keywords are lower-cased words of kind 'kw'."""
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = TOK.match(text, pos)
        if not m or m.end() == pos:
            raise SoqlError("unexpected character at position %d: %r" % (pos, text[pos:pos + 10]))
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "word" and val.lower() in KEYWORDS:
            kind, val = "kw", val.lower()
        out.append((kind, val))
    return out


class _P:
    def __init__(self, text):
        self.t = tokens(text)
        self.i = 0

    def peek(self, k=0):
        j = self.i + k
        return self.t[j] if j < len(self.t) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def kw(self, word):
        if self.peek() == ("kw", word):
            self.i += 1
            return True
        return False

    def need_kw(self, word):
        if not self.kw(word):
            got = self.peek()[1]
            raise SoqlError("expected %s, found %s" % (word.upper(), got if got is not None else "end of query"))

    def field(self):
        kind, val = self.take()
        if kind != "word":
            raise SoqlError("expected a field name, found %s" % val)
        if "." in val:
            raise SoqlError("relationship fields (%s) are not supported by the emulator" % val)
        return val

    def value(self):
        kind, val = self.take()
        if kind == "str":
            return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)),
                          val[1:-1])
        if kind == "kw" and val in ("null", "true", "false"):
            return {"null": None, "true": True, "false": False}[val]
        if kind == "num":
            return float(val) if "." in val else int(val)
        if kind == "dt":
            return ("dt", val)
        raise SoqlError("expected a value, found %s" % val)

    def cond(self):
        node = self.term()
        while self.peek() in (("kw", "and"), ("kw", "or")):
            op = self.take()[1]
            node = (op, node, self.term())
        return node

    def term(self):
        if self.kw("not"):
            return ("not", self.term())
        if self.peek()[0] == "lp":
            self.take()
            node = self.cond()
            if self.take()[0] != "rp":
                raise SoqlError("missing )")
            return node
        f = self.field()
        neg = self.kw("not")
        if self.kw("in"):
            if self.take()[0] != "lp":
                raise SoqlError("IN needs (")
            vals = [self.value()]
            while self.peek()[0] == "comma":
                self.take()
                vals.append(self.value())
            if self.take()[0] != "rp":
                raise SoqlError("IN list needs )")
            return ("nin" if neg else "in", f, vals)
        if neg:
            raise SoqlError("NOT must be followed by IN here")
        if self.kw("like"):
            v = self.value()
            if not isinstance(v, str):
                raise SoqlError("LIKE needs a text value")
            return ("like", f, v)
        kind, op = self.take()
        if kind != "op":
            raise SoqlError("expected an operator after %s" % f)
        return ("cmp", "!=" if op == "<>" else op, f, self.value())


def parse(text):
    """Parses a query; raises SoqlError."""
    p = _P(text)
    q = Query()
    p.need_kw("select")
    q.fields.append(p.field())
    while p.peek()[0] == "comma":
        p.take()
        q.fields.append(p.field())
    p.need_kw("from")
    q.obj = p.field()
    if p.kw("where"):
        q.where = p.cond()
    if p.kw("order"):
        p.need_kw("by")
        while True:
            f = p.field()
            desc = False
            if p.kw("desc"):
                desc = True
            else:
                p.kw("asc")
            nulls_last = desc
            if p.kw("nulls"):
                if p.kw("last"):
                    nulls_last = True
                else:
                    p.need_kw("first")
                    nulls_last = False
            q.order.append((f, desc, nulls_last))
            if p.peek()[0] != "comma":
                break
            p.take()
    if p.kw("limit"):
        kind, val = p.take()
        if kind != "num":
            raise SoqlError("LIMIT needs a number")
        q.limit = int(val)
    if p.kw("offset"):
        kind, val = p.take()
        if kind != "num":
            raise SoqlError("OFFSET needs a number")
        q.offset = int(val)
    if p.i != len(p.t):
        raise SoqlError("unexpected token: %s" % p.peek()[1])
    return q


def where_fields(node, out=None):
    """Field names used in a WHERE tree."""
    out = [] if out is None else out
    if node is None:
        return out
    if node[0] in ("and", "or"):
        where_fields(node[1], out)
        where_fields(node[2], out)
    elif node[0] == "not":
        where_fields(node[1], out)
    else:
        out.append(node[1] if node[0] in ("in", "nin", "like") else node[2])
    return out


def _norm(a, b):
    if isinstance(b, tuple) and b[0] == "dt":
        return parse_time(a) if isinstance(a, str) else None, parse_time(b[1])
    if isinstance(a, str) and isinstance(b, str):
        return a.lower(), b.lower()
    return a, b


def matches(node, rec, canon):
    """Evaluates a WHERE tree; canon maps a lower-case name to the record key."""
    if node is None:
        return True
    op = node[0]
    if op == "and":
        return matches(node[1], rec, canon) and matches(node[2], rec, canon)
    if op == "or":
        return matches(node[1], rec, canon) or matches(node[2], rec, canon)
    if op == "not":
        return not matches(node[1], rec, canon)
    if op in ("in", "nin"):
        v = rec.get(canon(node[1]))
        hit = any(_norm(v, x)[0] == _norm(v, x)[1] for x in node[2])
        return hit if op == "in" else not hit
    if op == "like":
        v = rec.get(canon(node[1]))
        if not isinstance(v, str):
            return False
        pat = "^" + re.escape(node[2].lower()).replace("%", ".*").replace("_", ".") + "$"
        return re.match(pat, v.lower(), re.S) is not None
    _, cop, f, lit = node
    v = rec.get(canon(f))
    if lit is None or v is None:
        return (v is None and lit is None) if cop == "=" else (not (v is None and lit is None)) if cop == "!=" \
            else False
    a, b = _norm(v, lit)
    if a is None or b is None:
        return False
    try:
        return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[cop]
    except TypeError:
        return False


def sort_records(recs, order, canon):
    """Sorts by ORDER BY items (field, desc, nulls_last)."""
    for f, desc, nulls_last in reversed(order):
        key = canon(f)
        present = [r for r in recs if r.get(key) is not None]
        absent = [r for r in recs if r.get(key) is None]
        present.sort(key=lambda r: _norm(r[key], r[key])[0], reverse=desc)
        recs = present + absent if nulls_last else absent + present
    return recs
