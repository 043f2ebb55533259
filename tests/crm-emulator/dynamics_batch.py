"""Dataverse $batch (multipart/mixed with change sets), per
execute-batch-operations-using-web-api (notes section 2.8).

A part is application/http holding one request; a change set is a nested
multipart/mixed whose parts run atomically (all writes undone if one
fails) and may refer to an earlier part's entity as $<Content-ID> in the
URL or in an @odata.bind value.  Without Prefer: odata.continue-on-error
the batch stops at the first failure and the outer status is that failure's;
with it the outer status is 200 and every part answers for itself.

UNCONFIRMED (our choice): a failed change set answers with one
application/http error part (OData 4.0), not a nested multipart; the
answers of parts that ran before a stopping failure are kept in the body;
$n references resolve only inside their own change set.

Public: run(dynamics, req) -> Response.
"""

import json
import re
import uuid

from common import ApiError, Request, Response, header_param, parse_headers_block, split_multipart

REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 412: "Precondition Failed",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
MAX_OPS = 1000


class BatchError(Exception):
    """The batch body itself is malformed."""


def err(status, message, code=""):
    """Dataverse error Response."""
    return Response.json(status, {"error": {"code": code, "message": message}})


def parse_parts(body, ctype):
    """Top-level items: ("op", part) or ("changeset", [parts]); part = dict."""
    boundary = header_param(ctype, "boundary")
    if not ctype.lower().startswith("multipart/mixed") or not boundary:
        raise BatchError("Content-Type must be multipart/mixed; boundary=batch_<id>, got '%s'" % ctype)
    items = []
    try:
        parts = split_multipart(body, boundary)
    except ValueError as e:
        raise BatchError(str(e)) from None
    for headers, content in parts:
        pct = headers.get("content-type", "")
        if pct.lower().startswith("multipart/mixed"):
            cs_boundary = header_param(pct, "boundary")
            if not cs_boundary:
                raise BatchError("change set without boundary")
            try:
                sub = split_multipart(content, cs_boundary)
            except ValueError as e:
                raise BatchError("change set: %s" % e) from None
            items.append(("changeset", [http_part(h, c) for h, c in sub]))
        else:
            items.append(("op", http_part(headers, content)))
    return items


def http_part(headers, content):
    """One application/http part: its MIME headers and embedded request."""
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/http":
        raise BatchError("each part must have Content-Type: application/http, got '%s'"
                         % headers.get("content-type", ""))
    text = content.lstrip(b"\r\n")
    line_end = text.find(b"\n")
    line = text[: line_end if line_end >= 0 else len(text)].decode("latin-1").strip()
    m = re.match(r"^(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.1$", line)
    if not m:
        raise BatchError("part request line must be 'METHOD URL HTTP/1.1', got '%s'" % line)
    rest = text[line_end + 1:] if line_end >= 0 else b""
    inner_headers, body = parse_headers_block(rest)
    if rest.startswith(b"\r\n") or rest.startswith(b"\n"):
        inner_headers, body = {}, rest.lstrip(b"\r\n")
    return {"mime": headers, "method": m.group(1), "url": m.group(2), "headers": inner_headers,
            "body": body.rstrip(b"\r\n"), "cid": headers.get("content-id")}


def api_path(dyn, url, refs):
    """The path after /api/data/v9.2 for a part URL (absolute, rooted, relative or $n)."""
    m = re.match(r"^\$(\d+)(/.*)?$", url)
    if m:
        if m.group(1) not in refs:
            raise ApiError(err(400, "Content-ID Reference: '$%s' does not exist in the batch context." % m.group(1)))
        url = refs[m.group(1)] + (m.group(2) or "")
    for prefix in (dyn.org_url() + "/api/data/v9.2", dyn.emu.base_url + "/api/data/v9.2",
                   "/dynamics/api/data/v9.2", "/api/data/v9.2"):
        if url.startswith(prefix):
            return url[len(prefix):]
    if re.match(r"^[a-z$]", url):
        return "/" + url
    raise ApiError(err(400, "Part URL '%s' is not under the service root." % url))


def substitute(body, refs):
    """Replaces "$n" values of @odata.bind properties by the entity URI."""
    if not body.strip():
        return body
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return body
    if not isinstance(obj, dict):
        return body
    changed = False
    for k, v in list(obj.items()):
        if k.endswith("@odata.bind") and isinstance(v, str) and re.match(r"^\$\d+$", v):
            if v[1:] not in refs:
                raise ApiError(err(400, "Content-ID Reference: '%s' does not exist in the batch context." % v))
            obj[k] = refs[v[1:]]
            changed = True
    return json.dumps(obj).encode("utf-8") if changed else body


def execute(dyn, outer, part, refs):
    """Runs one part through the Web API; returns its Response."""
    try:
        path = api_path(dyn, part["url"], refs)
        body = substitute(part["body"], refs)
    except ApiError as e:
        return e.response
    headers = dict(outer.headers)
    for k in ("content-type", "prefer", "if-match", "if-none-match"):
        headers.pop(k, None)
    headers.update(part["headers"])
    req = Request(part["method"], "/dynamics/api/data/v9.2" + path, headers, body, outer.base_url)
    req.vendor, req.sub = outer.vendor, req.path[len("/dynamics"):]
    if part["method"] in ("POST", "PATCH", "PUT") and req.body and \
            "application/json" not in part["headers"].get("content-type", ""):
        outer.warn("batch part %s %s has no Content-Type: application/json" % (part["method"], part["url"]))
    try:
        resp = dyn.api(req, req.path[len("/dynamics/api/data/v9.2"):])
    except ApiError as e:
        resp = e.response
    outer.warnings.extend(req.warnings)
    entity = req.note.get("entity")
    if entity and part["cid"]:
        refs[part["cid"]] = entity
    return resp


def render(resp, cid=None):
    """One application/http answer part (without the boundary line)."""
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if cid:
        lines.append("Content-ID: %s" % cid)
    lines += ["", "HTTP/1.1 %d %s" % (resp.status, REASONS.get(resp.status, "Status"))]
    for k, v in resp.headers:
        lines.append("%s: %s" % (k, v))
    if resp.status >= 400:
        lines.append("REQ_ID: %s" % uuid.uuid4())
    text = "\r\n".join(lines) + "\r\n\r\n"
    return text.encode("latin-1") + resp.body + (b"\r\n" if resp.body else b"")


def run(dyn, req):
    """POST $batch."""
    try:
        items = parse_parts(req.body, req.h("content-type", ""))
    except BatchError as e:
        return err(400, "Invalid batch request: %s" % e)
    nops = sum(len(p) if kind == "changeset" else 1 for kind, p in items)
    if nops > MAX_OPS:
        return err(400, "Batch requests can contain up to %d individual requests; this one has %d." % (MAX_OPS, nops))
    for kind, p in items:
        if kind == "changeset" and any(x["method"] == "GET" for x in p):
            return err(400, "A change set cannot contain GET requests.")
    go_on = "odata.continue-on-error" in req.h("prefer", "")
    bid = "batchresponse_%s" % uuid.uuid4()
    out = []
    outer_status = 200
    req.note["batch_ops"] = nops
    for kind, p in items:
        if kind == "op":
            resp = execute(dyn, req, p, {})
            out.append(b"--" + bid.encode() + b"\r\n" + render(resp, p["cid"]))
            if resp.status >= 400 and not go_on:
                outer_status = resp.status
                break
            continue
        refs = {}
        dyn.undo = []
        failed = None
        answers = []
        try:
            for part in p:
                resp = execute(dyn, req, part, refs)
                if resp.status >= 400:
                    failed = (resp, part)
                    break
                answers.append((resp, part["cid"]))
        finally:
            undo, dyn.undo = dyn.undo, None
        if failed:
            dyn.rollback(undo)
            out.append(b"--" + bid.encode() + b"\r\n" + render(failed[0], failed[1]["cid"]))
            if not go_on:
                outer_status = failed[0].status
                break
            continue
        csid = "changesetresponse_%s" % uuid.uuid4()
        inner = b"".join(b"--" + csid.encode() + b"\r\n" + render(r, c) for r, c in answers)
        inner += b"--" + csid.encode() + b"--\r\n"
        out.append(b"--" + bid.encode() + b"\r\nContent-Type: multipart/mixed; boundary=" + csid.encode()
                   + b"\r\n\r\n" + inner)
    body = b"".join(out) + b"--" + bid.encode() + b"--\r\n"
    return Response(outer_status, body, headers=[("OData-Version", "4.0")],
                    content_type="multipart/mixed; boundary=%s" % bid)
