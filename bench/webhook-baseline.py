#!/usr/bin/env python3
"""webhook-baseline.py - the receiver's own pace, the baseline of
bench/crm-bench.sh: N webhook documents (schema v1, signed with every line
of SECRET_FILE, as crm-flusher sends them) POSTed to URL over CONNS
keep-alive connections, built in advance so only the HTTP exchange is
timed. Prints "N documents in S s: R/s". Standard library only.

    webhook-baseline.py URL SECRET_FILE N [CONNS]
"""
import base64, hashlib, hmac, http.client, json, sys, threading, time, urllib.parse


def documents(n, secrets):
    out = []
    for i in range(n):
        doc_id = "crm_" + hashlib.sha256(("base\0%d" % i).encode()).hexdigest()[:32]
        body = json.dumps({
            "version": 1, "type": "activity", "id": doc_id, "profile": "base",
            "activity": {
                "direction": "outbound", "message_id": "base.%d@example.com" % i,
                "in_reply_to": None, "subject": "Proposal for the Q3 roll-out",
                "date": "2026-11-22T12:00:00Z",
                "from": {"address": "alice@example.com", "name": "Alice Example"},
                "to": [{"address": "bob@customer.test", "name": None}],
                "cc": [{"address": "carol@customer.test", "name": None}], "bcc": [],
                "text": "Thanks for the call today.\n" * 20,
                "html": "<p>Thanks for the call today.</p>\n" * 20,
                "attachments": [], "attachments_dropped": [], "regarding": None,
                "category": None, "correlation": None, "track_id": None}},
            separators=(",", ":")).encode()
        out.append((doc_id, body))
    return out


def sign(secrets, doc_id, ts, body):
    msg = ("%s.%d." % (doc_id, ts)).encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(k, msg, hashlib.sha256).digest()).decode()
                    for k in secrets)


def main():
    url, secret_file, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conns = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    secrets = [l.rstrip(b"\r") for l in open(secret_file, "rb").read().split(b"\n") if l.strip()]
    docs = documents(n, secrets)
    u = urllib.parse.urlsplit(url)
    errors = []

    def worker(part):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        for doc_id, body in part:
            ts = int(time.time())
            c.request("POST", u.path, body=body, headers={
                "Content-Type": "application/json", "webhook-id": doc_id,
                "webhook-timestamp": str(ts), "webhook-signature": sign(secrets, doc_id, ts, body),
                "Idempotency-Key": '"%s"' % doc_id})
            r = c.getresponse()
            r.read()
            if r.status not in (200, 201, 204, 409):
                errors.append(r.status)
        c.close()

    parts = [docs[i::conns] for i in range(conns)]
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    if errors:
        print("baseline: %d errors, e.g. HTTP %s" % (len(errors), errors[0]), file=sys.stderr)
        sys.exit(1)
    print("%d documents in %.2f s: %.0f/s" % (n, dt, n / dt))


if __name__ == "__main__":
    main()
