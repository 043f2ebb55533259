#!/usr/bin/env bash
# tracker.sh - crm-tracker end to end: the real daemon with its own config
# and key file, driven with curl. The pixel (200, the GIF, no-cache
# headers), clicks (302 to the exact URL), forged, truncated, re-targeted
# and foreign-key tokens (404, nothing recorded), HEAD (answered, judged a
# machine), /healthz, 405, oversized requests (414, 431); the events land
# in the spool as JOB_EVENT jobs judged human, privacy proxy or scanner
# (Apple's bare agent, Google's image proxy, a burst of links, a click
# right after sending), and after crm-flusher --once in the ledger's
# events table under the Message-ID found through tracked.track_id.
# SIGHUP with broken engagement data is refused; SIGTERM writes the
# events still waiting. Tokens come from tests/integration/mktoken.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_init tracker
mta_require_bin "$top_builddir/crm-tracker" crm-tracker
mta_require_bin "$top_builddir/crm-flusher" crm-flusher
mta_require_bin "$top_builddir/tests/integration/mktoken" mktoken
command -v curl >/dev/null || mta_skip "curl is not installed"
command -v sqlite3 >/dev/null || mta_skip "sqlite3 is not installed"

MK=$top_builddir/tests/integration/mktoken
PORT=$(mta_free_port) || exit 99
BASE=http://127.0.0.1:$PORT
DIR=$MTA_TMP/spool
CONF=$MTA_TMP/crm-milter.conf
KEYS=$MTA_TMP/tracking.keys
DATA=$MTA_TMP/engagement.data
LOG=$MTA_TMP/crm-tracker.log
DB=$DIR/spool.db
UA_CHROME='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
UA_GIP='Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)'

# tracking ids (hex) of the messages: A sent an hour ago, B for a burst,
# C sent just now, D in no index
A=a0a1a2a3a4a5a6a7a8a9aaab
B=b0b1b2b3b4b5b6b7b8b9babb
C=c0c1c2c3c4c5c6c7c8c9cacb
D=d0d1d2d3d4d5d6d7d8d9dadb
E=e0e1e2e3e4e5e6e7e8e9eaeb
F=f0f1f2f3f4f5f6f7f8f9fafb
G=909192939495969798999a9b
H=808182838485868788898a8b

mkdir -p "$DIR/tmp"
python3 -c 'import base64,os; print("k2", base64.b64encode(os.urandom(32)).decode()); print("k1", base64.b64encode(os.urandom(32)).decode())' >"$KEYS"
python3 -c 'import base64,os; print("k1", base64.b64encode(os.urandom(32)).decode())' >"$MTA_TMP/other.keys"
tail -n 1 "$KEYS" >"$MTA_TMP/old.keys"
chmod 600 "$KEYS" "$MTA_TMP/other.keys" "$MTA_TMP/old.keys"
cp "$top_srcdir/conf/engagement.data" "$DATA"
if [ "$(id -u)" = 0 ] && getent passwd crm-milter >/dev/null; then
	chown -R crm-milter: "$DIR"
	chown root:crm-milter "$KEYS" "$DATA"
	chmod 640 "$KEYS"
fi
chmod 755 "$DIR"
# sqlite3 runs as the spool's owner, so no WAL file of ours belongs to root
SQL=(sqlite3)
if [ "$(id -u)" = 0 ] && getent passwd crm-milter >/dev/null; then
	SQL=(runuser -u crm-milter -- sqlite3)
fi
q() { "${SQL[@]}" "$DB" "$1"; }
cat >"$CONF" <<EOF
milter { user = "crm-milter"  tmp_dir = "$DIR/tmp" }
spool { path = "$DB"  busy_timeout = 300 }
tracking { base_url = "$BASE"  key_file = "$KEYS" }
tracker {
  listen = "127.0.0.1:$PORT"
  engagement_data = "$DATA"
  scanner_click_window = 2
  scanner_burst_links = 3
  max_headers = 20
  max_url_length = 6144
  per_ip_connections = 4
  trusted_proxies = {"127.0.0.1/32"}
  connection_timeout = 2
  max_events_per_message = 10
}
crm "local" { type = ledger }
EOF

# ------------------------------------------------------------ start
if "$top_builddir/crm-tracker" -c "$CONF" --check >"$MTA_TMP/check.out" 2>&1 &&
	grep -q "7 sections" "$MTA_TMP/check.out"; then
	mta_ok "--check reads the config, the key file and the shipped engagement data"
else
	mta_not_ok "--check" "$(cat "$MTA_TMP/check.out")"
fi
"$top_builddir/crm-tracker" -c "$CONF" -f >>"$LOG" 2>&1 &
TRK=$!
mta_track "$TRK"
if ! mta_wait_socket "inet:$PORT@127.0.0.1" 15 "$TRK"; then
	mta_not_ok "crm-tracker listens on 127.0.0.1:$PORT" "$(cat "$LOG")"
	mta_done
fi
mta_ok "crm-tracker listens on 127.0.0.1:$PORT"
if [ "$(id -u)" = 0 ] && getent passwd crm-milter >/dev/null; then
	user=$(ps -o user= -p "$TRK" | tr -d ' ')
	[ "$user" = crm-milter ] && mta_ok "runs as crm-milter" || mta_not_ok "runs as crm-milter (runs as $user)"
fi
# the spool with its schema (the tracker makes it on its first write), then
# the milter's index of tracked mail (written by crm-milter in production)
"$top_builddir/crm-flusher" -c "$CONF" --once >/dev/null 2>&1
q "INSERT INTO tracked (message_id, job_id, created_at, track_id) VALUES
	('msg-a@example.com', 1001, strftime('%s','now') - 3600, '$A'),
	('msg-b@example.com', 1002, strftime('%s','now') - 3600, '$B'),
	('msg-e@example.com', 1005, strftime('%s','now') - 3600, '$E'),
	('msg-f@example.com', 1006, strftime('%s','now') - 3600, '$F')" ||
	mta_not_ok "index tracked messages (schema with tracked.track_id)"

# req NAME ARGS...: curl into $MTA_TMP/NAME.{body,head}; prints the status
req() {
	local name=$1
	shift
	curl -s -o "$MTA_TMP/$name.body" -D "$MTA_TMP/$name.head" -w '%{http_code}' "$@"
}
# header NAME FIELD: the value of FIELD in NAME's response headers
header() {
	tr -d '\r' <"$MTA_TMP/$1.head" | sed -n "s/^$2: //Ip" | head -n 1
}
# expect DESC WANT GOT [DETAIL]
expect() {
	if [ "$2" = "$3" ]; then mta_ok "$1"; else mta_not_ok "$1 (want '$2', got '$3')" "${4:-}"; fi
}

# events of one kind, message, link and class within a minute are one
# job: start early in a minute so that the requests below share one
s=$((10#$(date +%S)))
[ "$s" -lt 40 ] || sleep $((61 - s))

# ------------------------------------------------------------ the pixel
OPEN_A=$("$MK" "$KEYS" "$BASE" open "$A")
expect "pixel: 200" 200 "$(req pix -A "$UA_CHROME" "$OPEN_A")"
expect "pixel: image/gif" image/gif "$(header pix Content-Type)"
expect "pixel: Cache-Control" "no-store, no-cache, must-revalidate, private" "$(header pix Cache-Control)"
expect "pixel: Pragma" no-cache "$(header pix Pragma)"
expect "pixel: Expires" 0 "$(header pix Expires)"
expect "pixel: a 43-byte GIF89a" "43 GIF89a" "$(stat -c %s "$MTA_TMP/pix.body") $(head -c 6 "$MTA_TMP/pix.body")"
expect "pixel through Apple's proxy" 200 "$(req mpp -A 'Mozilla/5.0' "$OPEN_A")"
expect "pixel through Google's image proxy" 200 \
	"$(req gip -A "$UA_GIP" "$("$MK" "$KEYS" "$BASE" open "$B")")"
expect "pixel: HEAD answered, no body" "200 0 43" \
	"$(curl -s --head -o /dev/null -D "$MTA_TMP/head.head" -w '%{http_code} %{size_download}' \
	   -A "$UA_CHROME" "$OPEN_A") $(header head Content-Length)"
expect "pixel: a query string is ignored" 200 "$(req query -A "$UA_CHROME" "$OPEN_A?utm_source=x")"

# ------------------------------------------------------------ clicks
T1='https://xn--bcher-kva.example/a%20b/c?x=1&y=%C3%A4&z=a+b#top'
T2='http://example.com:8080/path;p?q=%26amp%3B'
CLICK_A=$("$MK" "$KEYS" "$BASE" click "$A" 1 "$T1")
expect "click: 302" 302 "$(req c1 -A "$UA_CHROME" "$CLICK_A")"
expect "click: Location is the exact URL" "$T1" "$(header c1 Location)"
expect "click 2: 302 to its URL" "302 $T2" \
	"$(req c2 -A "$UA_CHROME" "$("$MK" "$KEYS" "$BASE" click "$A" 2 "$T2")") $(header c2 Location)"
expect "click: HEAD answered with the redirect" 302 "$(req c3 -I -A "$UA_CHROME" "$CLICK_A")"
# a burst: three links of B within a second
for n in 1 2 3; do
	req burst$n -A "$UA_CHROME" "$("$MK" "$KEYS" "$BASE" click "$B" "$n" "https://example.com/b$n")" >/dev/null
done
# C was sent just now: its click is a scanner's
q "INSERT INTO tracked (message_id, job_id, created_at, track_id) VALUES
	('msg-c@example.com', 1003, strftime('%s','now'), '$C')"
req fast -A "$UA_CHROME" "$("$MK" "$KEYS" "$BASE" click "$C" 1 "https://example.com/c")" >/dev/null
# through a trusted proxy (127.0.0.1): the client is the last
# X-Forwarded-For address that is not a trusted proxy
req xff1 -A "$UA_CHROME" -H 'X-Forwarded-For: 203.0.113.9, 40.107.1.1' \
	"$("$MK" "$KEYS" "$BASE" click "$E" 1 "https://example.com/e1")" >/dev/null
req xff2 -A "$UA_CHROME" -H 'X-Forwarded-For: 40.107.1.1, 203.0.113.9, 127.0.0.1' \
	"$("$MK" "$KEYS" "$BASE" click "$E" 2 "https://example.com/e2")" >/dev/null
# a proxy that appends its own field: the client's field comes first and
# is not believed; a hop with a port (as some proxies write it)
req xff3 -A "$UA_CHROME" -H 'X-Forwarded-For: 198.51.100.7' -H 'X-Forwarded-For: 40.107.1.1' \
	"$("$MK" "$KEYS" "$BASE" click "$F" 1 "https://example.com/f1")" >/dev/null
req xff4 -A "$UA_CHROME" -H 'X-Forwarded-For: 40.107.3.3:51234' \
	"$("$MK" "$KEYS" "$BASE" click "$F" 2 "https://example.com/f2")" >/dev/null
# D is in no index: recorded, then refused by the ledger
req lost -A "$UA_CHROME" "$("$MK" "$KEYS" "$BASE" open "$D")" >/dev/null
# a token signed with the second key of the ring verifies too
expect "a token of the second key in the ring" 200 \
	"$(req k2 -A "$UA_CHROME" "$("$MK" "$MTA_TMP/old.keys" "$BASE" open "$A")")"

# ------------------------------------------------------------ refused
TOK=${CLICK_A#"$BASE"/c/}
TOK=${TOK%%/*}
TGT=${CLICK_A##*/}
flip() {  # change one character in the middle of $1
	python3 -c 'import sys; s=sys.argv[1]; i=len(s)//2; print(s[:i]+("B" if s[i]!="B" else "C")+s[i+1:])' "$1"
}
OPEN_PATH=${OPEN_A#"$BASE"}
EVIL=$(printf '%s' 'https://evil.example/' | base64 -w0 | tr '+/' '-_' | tr -d '=')
for c in "forged token|$BASE/c/$(flip "$TOK")/$TGT" \
	"forged target|$BASE/c/$TOK/$(flip "$TGT")" \
	"another target|$BASE/c/$TOK/$EVIL" \
	"truncated token|$BASE/c/${TOK:0:20}/$TGT" \
	"no target|$BASE/c/$TOK" \
	"truncated pixel|$BASE${OPEN_PATH:0:30}.gif" \
	"pixel without .gif|$BASE${OPEN_PATH%.gif}" \
	"unknown key|$("$MK" "$MTA_TMP/other.keys" "$BASE" open "$A")" \
	"open token as a click|$BASE/c/${OPEN_PATH#/o/}" \
	"unknown path|$BASE/index.html" \
	"root|$BASE/"; do
	expect "404: ${c%%|*}" 404 "$(req bad -A "$UA_CHROME" "${c#*|}")"
done
expect "/healthz: 200 ok" "200 ok" "$(req hz "$BASE/healthz") $(cat "$MTA_TMP/hz.body")"
expect "POST: 405" 405 "$(req post -d x "$OPEN_A")"
expect "a path over max_url_length: 414" 414 "$(req long "$BASE/c/$(head -c 7000 /dev/zero | tr '\0' A)")"
hdrs=()
for i in $(seq 1 25); do hdrs+=(-H "X-Extra-$i: v"); done
expect "more than max_headers fields: 431" 431 "$(req many "${hdrs[@]}" "$OPEN_A")"
expect "headers over the memory limit: refused" 431 \
	"$(req huge -H "X-Big: $(head -c 65536 /dev/zero | tr '\0' a)" "$BASE/healthz")"
expect "still serving after the refusals" 200 "$(req hz2 "$BASE/healthz")"
# four slow clients hold every connection one address may have: a fifth
# is closed at once, and the four are closed after connection_timeout
out=$(python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def slow():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")   # never finished
    return s
held = [slow() for _ in range(4)]
time.sleep(0.3)
fifth = socket.create_connection(("127.0.0.1", port))
fifth.settimeout(1.5)
try:
    fifth_closed = fifth.recv(1) == b""
except socket.timeout:
    fifth_closed = False
start = time.time()
closed = 0
for s in held:
    s.settimeout(6)
    try:
        if s.recv(1) == b"":
            closed += 1
    except (socket.timeout, ConnectionResetError):
        pass
print("fifth-closed" if fifth_closed else "fifth-open", closed, "timeout-ok" if time.time() - start < 5 else "slow")
PY
)
expect "per_ip_connections: a fifth connection is refused; connection_timeout closes idle ones" \
	"fifth-closed 4 timeout-ok" "$out"
expect "serving again once they are gone" 200 "$(req hz4 "$BASE/healthz")"
# a client sending one header line every 0.4 s is never idle for
# connection_timeout (2 s), yet must finish its request within it; a
# keep-alive client that asks twice, well within it each time, is served
out=$(python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
start = time.time()
closed_after = None
s.settimeout(0.4)
while time.time() - start < 8:
    try:
        if s.recv(1) == b"":
            closed_after = time.time() - start
            break
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed_after = time.time() - start
        break
    try:
        s.sendall(b"X-Drip: 1\r\n")
    except (BrokenPipeError, ConnectionResetError):
        closed_after = time.time() - start
        break
k = socket.create_connection(("127.0.0.1", port))
answers = 0
for _ in range(2):
    k.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    k.settimeout(3)
    data = b""
    while b"ok\n" not in data:
        chunk = k.recv(4096)
        if not chunk:
            break
        data += chunk
    answers += b" 200 " in data and b"ok\n" in data
    time.sleep(1.2)
print("closed" if closed_after is not None and closed_after < 4 else "open-%s" % closed_after, answers)
PY
)
expect "connection_timeout bounds the time to send a request (slow headers are closed); keep-alive requests are served" \
	"closed 2" "$out"

# ------------------------------------------------------------ the spool
# opens of A: browser (human; the second key's and the query string's
# opens are the same person in the same minute: one job), Apple (privacy
# proxy), HEAD (scanner); Google's proxy open of B; 2 clicks + HEAD of A;
# 3 clicks of B; 1 of C; the open of D; 2 clicks of E, 2 of F: 16 jobs (clicks
# wait 2 s)
want_jobs=16
for _ in $(seq 1 100); do
	n=$(q "SELECT count(*) FROM jobs WHERE kind = 2")
	[ "$n" -ge "$want_jobs" ] && break
	sleep 0.1
done
sleep 0.5
expect "every answered request is one JOB_EVENT job, refused ones none" "$want_jobs" \
	"$(q "SELECT count(*) FROM jobs")" "$(q "SELECT idem_key FROM jobs")"
cls() {  # cls KIND HEX UA-LIKE: the classes of matching events, sorted
	q "SELECT json_extract(meta,'\$.class') FROM jobs WHERE json_extract(meta,'\$.kind') = '$1'
	   AND json_extract(meta,'\$.message_track_id') = '$2' AND coalesce(json_extract(meta,'\$.user_agent'),'') LIKE '$3'
	   ORDER BY 1" | tr '\n' ' '
}
expect "Apple's bare agent: privacy_proxy" "privacy_proxy " "$(cls opened "$A" 'Mozilla/5.0')"
expect "Google's image proxy: human" "human " "$(cls opened "$B" '%GoogleImageProxy%')"
expect "browser open and HEAD open of A: human and scanner" "human scanner " "$(cls opened "$A" '%Chrome/126%')"
expect "clicks of A: human, human, HEAD scanner" "human human scanner " "$(cls clicked "$A" '%')"
expect "burst of three links of B: all scanner" "scanner scanner scanner " "$(cls clicked "$B" '%')"
expect "click of C right after sending: scanner" "scanner " "$(cls clicked "$C" '%')"
expect "X-Forwarded-For from a trusted proxy: Exchange Online's address is a scanner, the next a person" \
	"1|scanner|Microsoft Defender for Office 365 (Safe Links): address in 40.107.0.0/16 2|human|no sign of a machine " \
	"$(q "SELECT json_extract(meta,'\$.link'), json_extract(meta,'\$.class'), json_extract(meta,'\$.reason') FROM jobs
	      WHERE json_extract(meta,'\$.message_track_id') = '$E' ORDER BY 1" | tr '\n' ' ')"
expect "X-Forwarded-For: every field counts (a proxy's own field after the client's); a hop's port is dropped" \
	"1|scanner|Microsoft Defender for Office 365 (Safe Links): address in 40.107.0.0/16 2|scanner|Microsoft Defender for Office 365 (Safe Links): address in 40.107.0.0/16 " \
	"$(q "SELECT json_extract(meta,'\$.link'), json_extract(meta,'\$.class'), json_extract(meta,'\$.reason') FROM jobs
	      WHERE json_extract(meta,'\$.message_track_id') = '$F' ORDER BY 1" | tr '\n' ' ')"
expect "reasons kept" 1 "$(q "SELECT count(*) FROM jobs WHERE json_extract(meta,'\$.reason') LIKE '3 links of the message clicked within 2 s'
	AND json_extract(meta,'\$.message_track_id') = '$B' AND json_extract(meta,'\$.link') = 1")"
expect "click meta has link and exact target" "1|$T1" \
	"$(q "SELECT json_extract(meta,'\$.link'), json_extract(meta,'\$.target') FROM jobs
	      WHERE idem_key LIKE 'event/clicked/$A/1/human/%'")"
expect "the job carries the Message-ID and profile from the index" "msg-a@example.com|local" \
	"$(q "SELECT DISTINCT message_id, profile FROM jobs WHERE json_extract(meta,'\$.message_track_id') = '$A'")"
expect "no client address is stored" 0 "$(q "SELECT count(*) FROM jobs WHERE meta LIKE '%127.0.0.1%'")"

# the same open again within the minute is the same job
req again -A "$UA_CHROME" "$OPEN_A" >/dev/null
sleep 1
expect "a repeated open in the same minute is no new job" "$want_jobs" "$(q "SELECT count(*) FROM jobs")"

# ------------------------------------------------------------ the ledger
out=$("$top_builddir/crm-flusher" -c "$CONF" --once 2>&1)
expect "crm-flusher --once: 15 done, 1 dead" "15 done, 0 to retry, 1 dead" \
	"$(printf '%s' "$out" | sed -n 's/.*leased, \(.*\)$/\1/p')" "$out"
expect "events of A in the ledger" "clicked|human|2 clicked|scanner|1 opened|human|1 opened|privacy_proxy|1 opened|scanner|1 " \
	"$(q "SELECT kind, status, count(*) FROM events WHERE message_id = 'msg-a@example.com' GROUP BY 1, 2" | tr '\n' ' ')"
expect "a click event's detail names link and target" 1 \
	"$(q "SELECT count(*) FROM events WHERE kind = 'clicked' AND detail = 'link 1 $T1 (no sign of a machine)'")"
expect "events of B and C" "msg-b@example.com|4 msg-c@example.com|1 " \
	"$(q "SELECT message_id, count(*) FROM events WHERE message_id IN ('msg-b@example.com','msg-c@example.com') GROUP BY 1" | tr '\n' ' ')"
expect "an id in no index is dead with the reason" "3|no tracked message has tracking id $D" \
	"$(q "SELECT state, last_error FROM jobs WHERE idem_key LIKE 'event/opened/$D/%'")"

# ------------------------------------------------------------ spool outage
# Another process holds the spool's write lock for 4 s: the event waits in
# memory, writes fail every ~1.3 s (busy_timeout 300 ms, retried a second
# later), one warning says so (not one per try), and when the lock goes
# the event is written and one line says the spool works again.
warned=$(grep -c "events wait" "$LOG")
"${SQL[@]}" "$DB" "BEGIN EXCLUSIVE; SELECT 1 FROM jobs LIMIT 1;" ".shell sleep 4" "ROLLBACK;" \
	>/dev/null 2>&1 &
LOCKER=$!
mta_track "$LOCKER"
sleep 0.5
before=$(q "SELECT count(*) FROM jobs")
req down -A "$UA_CHROME" "$("$MK" "$KEYS" "$BASE" open "$E")" >/dev/null
wait "$LOCKER"
for _ in $(seq 1 40); do grep -q "writing again" "$LOG" && break; sleep 0.1; done
expect "spool outage: one warning for several failed writes" 1 $(($(grep -c "events wait" "$LOG") - warned)) \
	"$(grep "spool" "$LOG" | tail -n 5)"
again=$(sed -n 's/.*writing again after [0-9]* s and \([0-9]*\) failed writes; 1 events written.*/\1/p' "$LOG" | tail -n 1)
expect "spool outage: the end is logged once, after 2 or more failed writes" yes \
	"$([ "${again:-0}" -ge 2 ] && echo yes)" "$(grep "spool" "$LOG" | tail -n 5)"
expect "spool outage: the waiting event is written" $((before + 1)) "$(q "SELECT count(*) FROM jobs")"

# ------------------------------------------------------------ per message
# max_events_per_message = 10: 12 different clicks of G in the hour are
# all answered, 10 recorded, and one line counts the 2 others
before=$(q "SELECT count(*) FROM jobs")
codes=''
for n in $(seq 1 12); do
	codes="$codes$(req g$n -A "$UA_CHROME" "$("$MK" "$KEYS" "$BASE" click "$G" "$n" "https://example.com/g$n")")"
done
expect "replayed clicks of one message are all answered" "$(printf '302%.0s' $(seq 1 12))" "$codes"
for _ in $(seq 1 60); do grep -q "over max_events_per_message" "$LOG" && break; sleep 0.1; done
sleep 1
expect "max_events_per_message: 10 of the 12 recorded" $((before + 10)) "$(q "SELECT count(*) FROM jobs")"
# (the 2 are counted in the log: checked after SIGTERM, which logs what a
# minute's wait would)

# the same open replayed 15 times is one event and takes one of the 10:
# with clicks of 9 links of H, all 10 are recorded and none is over. The
# spool is locked meanwhile, so all of them are judged in one batch when
# it frees (and each failed try gives its quota back); all in one minute.
s=$((10#$(date +%S)))
[ "$s" -lt 45 ] || sleep $((61 - s))
before=$(q "SELECT count(*) FROM jobs")
"${SQL[@]}" "$DB" "BEGIN EXCLUSIVE; SELECT 1 FROM jobs LIMIT 1;" ".shell sleep 4" "ROLLBACK;" \
	>/dev/null 2>&1 &
LOCKER=$!
mta_track "$LOCKER"
sleep 0.5
OPEN_H=$("$MK" "$KEYS" "$BASE" open "$H")
for _ in $(seq 1 15); do req h0 -A "$UA_CHROME" "$OPEN_H" >/dev/null; done
for n in $(seq 1 9); do
	req h$n -A "$UA_CHROME" "$("$MK" "$KEYS" "$BASE" click "$H" "$n" "https://example.com/h$n")" >/dev/null
done
wait "$LOCKER"
for _ in $(seq 1 60); do
	[ "$(q "SELECT count(*) FROM jobs")" -ge $((before + 10)) ] && break
	sleep 0.1
done
sleep 1
expect "an open replayed in one batch is one event: the open and 9 clicks of H recorded" $((before + 10)) \
	"$(q "SELECT count(*) FROM jobs")" "$(grep "not recorded" "$LOG")"

# ------------------------------------------------------------ reload, stop
printf '[scanner Broken\n' >"$DATA.bad"
cp "$DATA" "$DATA.good"
cp "$DATA.bad" "$DATA"
kill -HUP "$TRK"
for _ in $(seq 1 30); do grep -q "reload of .* refused" "$LOG" && break; sleep 0.1; done
grep -q "reload of .* refused" "$LOG" && mta_ok "SIGHUP with broken engagement data is refused" ||
	mta_not_ok "SIGHUP with broken engagement data is refused" "$(tail -n 5 "$LOG")"
expect "still serving with the old data" 200 "$(req hz3 "$BASE/healthz")"
cp "$DATA.good" "$DATA"
kill -HUP "$TRK"
for _ in $(seq 1 30); do grep -q "reloaded" "$LOG" && break; sleep 0.1; done
grep -q "reloaded" "$LOG" && mta_ok "SIGHUP with good data reloads" || mta_not_ok "SIGHUP reloads" "$(tail -n 5 "$LOG")"

before=$(q "SELECT count(*) FROM jobs")
req late -A "$UA_CHROME" "$("$MK" "$KEYS" "$BASE" click "$A" 7 "https://example.com/late")" >/dev/null
mta_kill "$TRK" TERM
if mta_wait_gone "$TRK" 5; then mta_ok "SIGTERM stops crm-tracker"; else mta_not_ok "SIGTERM stops crm-tracker"; fi
expect "the click still waiting is written at SIGTERM" $((before + 1)) "$(q "SELECT count(*) FROM jobs")"
# (one line or two: the 2 clicks may be judged in one batch or two)
expect "events not recorded are logged: at once, then at most a line a minute, the rest at stop" "2 yes" \
	"$(sed -n 's/.*not recorded.*, \([0-9]*\) over max_events_per_message.*/\1/p' "$LOG" | awk '{ s += $1 } END { print s }') $(
	n=$(grep -c "not recorded" "$LOG"); [ "$n" -ge 1 ] && [ "$n" -le 2 ] && echo yes)" \
	"$(grep "not recorded" "$LOG")"
mta_check_log_clean "$LOG"

# ------------------------------------------------------------ max_pending_size
# A second run with max_pending_size = 1M and clicks held 30 s: 8000
# requests of one click URL (~250 bytes each waiting) are all answered;
# what does not fit is not recorded and counted in the log, and the one
# event they make is written at SIGTERM.
sed -e 's/^  scanner_click_window = 2$/  scanner_click_window = 30/' \
	-e 's/^  max_events_per_message = 10$/  max_pending_size = 1M/' "$CONF" >"$CONF.pending"
LOG2=$MTA_TMP/crm-tracker-2.log
"$top_builddir/crm-tracker" -c "$CONF.pending" -f >>"$LOG2" 2>&1 &
TRK=$!
mta_track "$TRK"
if mta_wait_socket "inet:$PORT@127.0.0.1" 15 "$TRK"; then
	s=$((10#$(date +%S)))        # the requests within one minute: one event
	[ "$s" -lt 45 ] || sleep $((61 - s))
	before=$(q "SELECT count(*) FROM jobs")
	click=$("$MK" "$KEYS" "$BASE" click "$B" 9 "https://example.com/pending")
	codes=$(python3 - "$PORT" "${click#"$BASE"}" 8000 "$UA_CHROME" <<'PY'
import http.client, sys
port, path, n, ua = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
conn, codes = None, {}
for _ in range(n):
    if conn is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"User-Agent": ua})
    r = conn.getresponse()
    r.read()
    codes[r.status] = codes.get(r.status, 0) + 1
    if r.will_close:
        conn.close()
        conn = None
print(" ".join("%d:%d" % kv for kv in sorted(codes.items())))
PY
)
	expect "max_pending_size: 8000 requests, all answered" "302:8000" "$codes"
	mta_kill "$TRK" TERM
	mta_wait_gone "$TRK" 10 || mta_not_ok "SIGTERM stops the second crm-tracker"
	lost=$(sed -n 's/.*not recorded[^:]*: \([0-9]*\) over tracker max_pending_size.*/\1/p' "$LOG2" |
		awk '{ s += $1 } END { print s + 0 }')
	expect "max_pending_size: some events not recorded, and counted in the log" yes \
		"$([ "$lost" -gt 0 ] && [ "$lost" -lt 8000 ] && echo yes)" "$(grep "not recorded" "$LOG2")"
	expect "max_pending_size: the ones kept are one event, written at SIGTERM" $((before + 1)) \
		"$(q "SELECT count(*) FROM jobs")"
	mta_check_log_clean "$LOG2"
else
	mta_not_ok "the second crm-tracker listens" "$(cat "$LOG2")"
fi
mta_done
