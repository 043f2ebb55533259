# mta.sh - shell library for the integration tests and the benchmark: throwaway
# Postfix and Sendmail instances, smtp-sink, milters, checks and cleanup.
#
# Source it from bash (set -u safe). Everything lives under one directory,
# $MTA_TMP (mktemp -d under /tmp, mode 755 so the postfix user can traverse
# it), removed at exit unless a check failed or MTA_KEEP=1.
#
# Public functions (all prefixed mta_):
#   setup:    mta_init NAME, mta_skip REASON, mta_require_root,
#             mta_require_postfix, mta_require_bin PATH WHAT, mta_free_port
#   checks:   mta_ok DESC, mta_not_ok DESC [DETAIL], mta_check DESC CMD...,
#             mta_done (prints "N passed, N failed" last, exits 0/1)
#   procs:    mta_track PID, mta_kill PID [SIG], mta_wait_socket SPEC [SECS],
#             mta_wait_gone PID [SECS]
#   sink:     mta_sink_start [dump], mta_sink_count, mta_sink_wait N [SECS],
#             mta_sink_stop, mta_sink_find MESSAGE_ID
#   postfix:  mta_postfix_make DIR, mta_postfix_conf DIR NAME=VALUE...,
#             mta_postfix_milter SPEC (libmilter -> Postfix socket syntax),
#             mta_postfix_start DIR, mta_postfix_stop DIR, mta_postfix_reload DIR,
#             mta_postfix_idle DIR [SECS], mta_postfix_sasl DIR (AUTH PLAIN,
#             any user, password "secret", via a Dovecot-protocol stand-in)
#   sendmail: see tests/lib/sendmail-setup.sh (sourced from here)
#   milters:  mta_passthrough_start SPEC [ARGS], mta_crm_config FILE DIR SOCKSPEC,
#             mta_crm_start CONF SOCKSPEC
#   CRMs:     mta_emulator_start CONF.json (sets MTA_EMU), mta_emu METHOD PATH [JSON],
#             mta_crm_script NAME [SINKMODE [PROGRAM...]],
#             mta_crm_left CONF, mta_crm_drain CONF [ROUNDS]
#   send:     mta_swaks PORT FROM TO FILE [extra swaks args],
#             mta_pf_sendmail DIR FROM TO FILE, mta_make_message FILE ...,
#             mta_make_dsn FILE RCPT ORIG_MSGID [DSN_MSGID]
#   compare:  mta_strip_trace FILE, mta_same_body SENT DUMP
#   crm:      mta_activity_count JSON DIRECTION FROM TO SUBJECT,
#             mta_check_identical LABEL SENT MSGID COPIES,
#             mta_crm_flush_and_list CONF JSON,
#             mta_expect_activity JSON LABEL DIRECTION FROM TO SUBJECT COUNT,
#             mta_expect_activity_total JSON COUNT, mta_check_log_clean FILE
#
# Ownership and safety: only PIDs this library started (mta_track) are ever
# signalled, by PID, never by name. Postfix masters are stopped with
# "postfix -c DIR stop" and then, if still alive, their master.pid (which we
# started) is killed.

MTA_PASSED=0
MTA_FAILED=0
MTA_PIDS=()
MTA_POSTFIX_DIRS=()
MTA_TMP=
MTA_NAME=$(basename "$0" .sh)
MTA_SINK_PORT=
MTA_SINK_PID=
MTA_SINK_OUT=
MTA_SINK_DUMP=
MTA_PT_PID=
MTA_CRM_PID=
: "${MTA_KEEP:=0}"

MTA_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$MTA_LIBDIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

# Print a reason and exit 77 (automake's "skipped").
mta_skip() {
	echo "SKIP: $MTA_NAME: $*"
	exit 77
}

# Skip unless we are root (Postfix and Sendmail instances need it).
mta_require_root() {
	[ "$(id -u)" = 0 ] || mta_skip "needs root (runs private Postfix/Sendmail)"
}

# Skip unless postfix, postconf, smtp-sink and smtp-source are installed.
mta_require_postfix() {
	local b
	for b in postfix postconf smtp-sink smtp-source; do
		command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
			mta_skip "$b is not installed (apt-get install postfix)"
	done
	PATH=$PATH:/usr/sbin:/usr/lib/postfix/sbin
	getent passwd postfix >/dev/null || mta_skip "no postfix user"
}

# Skip unless PATH is an executable; WHAT names it in the message.
mta_require_bin() {
	[ -x "$1" ] || mta_skip "$2 not built: $1 is missing (run make first)"
}

# Make the scratch dir, install the cleanup trap. NAME labels messages.
mta_init() {
	MTA_NAME=${1:-$MTA_NAME}
	MTA_TMP=$(mktemp -d "/tmp/crm-$MTA_NAME.XXXXXX") || exit 99
	chmod 755 "$MTA_TMP"
	trap mta_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Print a TCP port on 127.0.0.1 that is free now, outside the ephemeral range.
mta_free_port() {
	python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free port")
EOF
}

# Record a passed check.
mta_ok() {
	MTA_PASSED=$((MTA_PASSED + 1))
	echo "ok - $1"
}

# Record a failed check; DETAIL (optional) is printed as "# " lines.
mta_not_ok() {
	MTA_FAILED=$((MTA_FAILED + 1))
	echo "not ok - $1"
	if [ -n "${2:-}" ]; then
		printf '%s\n' "$2" | sed 's/^/#   /' | head -40
	fi
}

# Run CMD... in this shell (so it may start and track daemons); record
# ok/not ok under DESC, showing CMD's output on failure.
mta_check() {
	local desc=$1 log=$MTA_TMP/check.out
	shift
	if "$@" >"$log" 2>&1; then
		mta_ok "$desc"
	else
		mta_not_ok "$desc" "$(cat "$log")"
	fi
}

# Print the summary line and exit 0 only if nothing failed.
mta_done() {
	echo "$MTA_PASSED passed, $MTA_FAILED failed"
	[ "$MTA_FAILED" = 0 ] && exit 0
	exit 1
}

# Remember PID (a background job of this shell) as ours so the exit trap
# stops it; disowned so bash does not print "Killed" when we stop it.
mta_track() {
	MTA_PIDS+=("$1")
	disown "$1" 2>/dev/null
	return 0
}

# True while PID exists.
mta_alive() {
	kill -0 "$1" 2>/dev/null
}

# Wait up to SECS (default 10) for PID to exit; false if it is still there.
mta_wait_gone() {
	local pid=$1 n=$(( ${2:-10} * 10 ))
	while [ "$n" -gt 0 ]; do
		mta_alive "$pid" || return 0
		sleep 0.1
		n=$((n - 1))
	done
	! mta_alive "$pid"
}

# Stop PID (ours): SIG (default TERM), then KILL after 3 s; reaps it.
mta_kill() {
	local pid=$1 sig=${2:-TERM}
	mta_alive "$pid" || return 0
	kill "-$sig" "$pid" 2>/dev/null
	mta_wait_gone "$pid" 3 || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# Wait up to SECS (default 10) until socket SPEC (unix:/path or
# inet:PORT@HOST) accepts connections; give up early if PID (optional) exits.
mta_wait_socket() {
	local spec=$1 secs=${2:-10} pid=${3:-0}
	python3 - "$spec" "$secs" "$pid" <<'EOF'
import os, socket, sys, time
spec, secs, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
end = time.time() + secs
while True:
    try:
        if spec.startswith("unix:") or spec.startswith("local:"):
            s = socket.socket(socket.AF_UNIX)
            s.connect(spec.split(":", 1)[1])
        else:
            port, host = spec.split(":", 1)[1].split("@")
            s = socket.create_connection((host or "127.0.0.1", int(port)))
        s.close()
        sys.exit(0)
    except OSError:
        pass
    if pid:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit("socket %s: process %d exited" % (spec, pid))
    if time.time() > end:
        sys.exit("socket %s not ready after %ss" % (spec, secs))
    time.sleep(0.05)
EOF
}

# ---------------------------------------------------------------- smtp-sink

# Start smtp-sink on a free port; with "dump", keep every message in a file.
mta_sink_start() {
	local dump=${1:-}
	local args=(-u nobody -4 -c)
	MTA_SINK_PORT=$(mta_free_port) || return 1
	MTA_SINK_OUT=$MTA_TMP/sink.$MTA_SINK_PORT.out
	MTA_SINK_DUMP=
	if [ "$dump" = dump ]; then
		MTA_SINK_DUMP=$MTA_TMP/sink.$MTA_SINK_PORT.d
		mkdir -p "$MTA_SINK_DUMP"
		chown nobody "$MTA_SINK_DUMP"
		args+=(-d "$MTA_SINK_DUMP/%H%M%S.")
	fi
	smtp-sink "${args[@]}" "127.0.0.1:$MTA_SINK_PORT" 1024 \
		>"$MTA_SINK_OUT" 2>"$MTA_SINK_OUT.err" &
	MTA_SINK_PID=$!
	mta_track "$MTA_SINK_PID"
	mta_wait_socket "inet:$MTA_SINK_PORT@127.0.0.1" 10 "$MTA_SINK_PID"
}

# Print how many messages the sink has accepted so far.
mta_sink_count() {
	local n
	n=$(tr '\r' '\n' <"$MTA_SINK_OUT" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -n 1)
	echo "${n:-0}"
}

# Wait up to SECS (default 60) until the sink has counted N messages.
mta_sink_wait() {
	local want=$1 secs=${2:-60} end
	end=$(($(date +%s) + secs))
	while [ "$(mta_sink_count)" -lt "$want" ]; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
	return 0
}

# Stop the sink (stop Postfix/Sendmail first or they defer to a dead sink).
mta_sink_stop() {
	[ -n "$MTA_SINK_PID" ] && mta_kill "$MTA_SINK_PID"
	MTA_SINK_PID=
}

# Print the dump file(s) holding the header "Message-ID: <ID>".
mta_sink_find() {
	[ -n "$MTA_SINK_DUMP" ] || return 1
	grep -l -i -F -x "Message-ID: <$1>" -r "$MTA_SINK_DUMP" 2>/dev/null | sort
}

# ---------------------------------------------------------------- Postfix

# Write DIR/main.cf and DIR/master.cf for a private instance relaying to the
# sink. Sets MTA_PF_IN_PORT (daemon name $MTA_PF_IN_NAME, default INBOUND)
# and MTA_PF_SUB_PORT (daemon name $MTA_PF_SUB_NAME, default ORIGINATING).
mta_postfix_make() {
	local dir=$1
	: "${MTA_PF_IN_NAME:=INBOUND}" "${MTA_PF_SUB_NAME:=ORIGINATING}"
	[ -n "$MTA_SINK_PORT" ] || { echo "start the sink first" >&2; return 1; }
	MTA_PF_IN_PORT=$(mta_free_port) || return 1
	MTA_PF_SUB_PORT=$(mta_free_port) || return 1
	while [ "$MTA_PF_SUB_PORT" = "$MTA_PF_IN_PORT" ]; do
		MTA_PF_SUB_PORT=$(mta_free_port) || return 1
	done
	mkdir -p "$dir/queue" "$dir/data"
	chmod 755 "$dir" "$dir/queue"
	chown postfix: "$dir/data"
	chmod 700 "$dir/data"
	cat >"$dir/main.cf" <<EOF
# throwaway instance written by tests/lib/mta.sh
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.crm-test.invalid
mydomain = crm-test.invalid
myorigin = \$myhostname
mydestination =
local_transport = error:5.1.1 no local delivery in tests
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
relayhost = [127.0.0.1]:$MTA_SINK_PORT
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_dns_support_level = disabled
smtputf8_enable = no
biff = no
append_dot_mydomain = no
maillog_file = $dir/maillog
maillog_file_prefixes = $MTA_TMP
milter_protocol = 6
milter_default_action = accept
smtpd_milters =
non_smtpd_milters =
EOF
	cat >"$dir/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$MTA_PF_IN_PORT inet n - n - - smtpd -o milter_macro_daemon_name=$MTA_PF_IN_NAME
127.0.0.1:$MTA_PF_SUB_PORT inet n - n - - smtpd -o milter_macro_daemon_name=$MTA_PF_SUB_NAME
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	mta_postfix_backdate "$dir"
}

# Postfix waits (in 300 ms steps) until main.cf is over 2 s old before it
# reads it; back-date our freshly written files so a start costs no sleep.
mta_postfix_backdate() {
	touch -d "@$(($(date +%s) - 10))" "$1/main.cf" "$1/master.cf"
}

# Set main.cf parameters: mta_postfix_conf DIR name=value...
mta_postfix_conf() {
	local dir=$1
	shift
	postconf -c "$dir" -e "$@" && mta_postfix_backdate "$dir"
}

# Print libmilter socket SPEC in Postfix's syntax: unix:/path stays,
# inet:PORT@HOST becomes inet:HOST:PORT.
mta_postfix_milter() {
	case $1 in
	inet:*@*) local p=${1#inet:}; echo "inet:${p#*@}:${p%@*}" ;;
	*) echo "$1" ;;
	esac
}

# Check and start the instance in DIR; remembers it for the exit trap.
mta_postfix_start() {
	local dir=$1 out
	if ! out=$(postfix -c "$dir" check 2>&1); then
		echo "postfix check failed: $out" >&2
		return 1
	fi
	if ! out=$(postfix -c "$dir" start 2>&1); then
		echo "postfix start failed: $out" >&2
		return 1
	fi
	MTA_POSTFIX_DIRS+=("$dir")
	mta_wait_socket "inet:$MTA_PF_IN_PORT@127.0.0.1" 10 &&
		mta_wait_socket "inet:$MTA_PF_SUB_PORT@127.0.0.1" 10
}

# Reload the instance in DIR (after mta_postfix_conf).
mta_postfix_reload() {
	postfix -c "$1" reload >/dev/null 2>&1
}

# Print the master PID of the instance in DIR (empty if not running).
mta_postfix_pid() {
	local f=$1/queue/pid/master.pid
	[ -r "$f" ] && tr -d ' \n' <"$f"
}

# Stop the instance in DIR and wait for its master to exit.
mta_postfix_stop() {
	local dir=$1 pid
	pid=$(mta_postfix_pid "$dir")
	postfix -c "$dir" stop >/dev/null 2>&1
	if [ -n "$pid" ] && ! mta_wait_gone "$pid" 10; then
		kill -KILL "$pid" 2>/dev/null
	fi
	return 0
}

# Wait up to SECS (default 30) until DIR's queue is empty (all delivered).
mta_postfix_idle() {
	local dir=$1 secs=${2:-30} end
	end=$(($(date +%s) + secs))
	while [ -n "$(find "$dir/queue/incoming" "$dir/queue/active" "$dir/queue/deferred" \
		"$dir/queue/maildrop" -type f 2>/dev/null | head -n 1)" ]; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# Start a stand-in for Dovecot's auth service (the protocol Postfix's
# smtpd_sasl_type = dovecot speaks) on $MTA_TMP/sasl-auth.sock: PLAIN,
# any user whose password is "secret". Then enable SASL AUTH in DIR's
# Postfix (no TLS: test only). Sets MTA_SASL_PID.
mta_postfix_sasl() {
	local dir=$1 sock=$MTA_TMP/sasl-auth.sock
	python3 - "$sock" >"$MTA_TMP/sasl.log" 2>&1 <<'EOF' &
import base64, os, socketserver, sys
class Auth(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            self.serve()
        except OSError:
            pass
    def serve(self):
        self.wfile.write(b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t%d\n"
                         b"CUID\t1\nCOOKIE\t%s\nDONE\n" % (os.getpid(), b"0" * 32))
        for line in self.rfile:
            f = line.rstrip(b"\n").split(b"\t")
            if f[0] != b"AUTH":
                continue
            args = dict(a.split(b"=", 1) for a in f[3:] if b"=" in a)
            try:
                _, user, pw = base64.b64decode(args.get(b"resp", b"")).split(b"\0")
            except ValueError:
                user, pw = b"", b""
            if f[2] == b"PLAIN" and user and pw == b"secret":
                self.wfile.write(b"OK\t%s\tuser=%s\n" % (f[1], user))
            else:
                self.wfile.write(b"FAIL\t%s\treason=bad password\n" % f[1])
            self.wfile.flush()
class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
srv = Server(sys.argv[1], Auth)
os.chmod(sys.argv[1], 0o666)
srv.serve_forever()
EOF
	MTA_SASL_PID=$!
	mta_track "$MTA_SASL_PID"
	mta_wait_socket "unix:$sock" 10 "$MTA_SASL_PID" || return 1
	mta_postfix_conf "$dir" "smtpd_sasl_auth_enable = yes" \
		"smtpd_sasl_type = dovecot" "smtpd_sasl_path = $sock" \
		"smtpd_tls_auth_only = no" "broken_sasl_auth_clients = no"
}

# ---------------------------------------------------------------- milters

# Start the in-tree pass-through milter on SPEC (unix:/path or inet:P@host);
# further ARGS go to it (bench.sh: -b BODYFILE).
mta_passthrough_start() {
	local spec=$1 bin=$top_builddir/bench/passthrough-milter
	shift
	"$bin" -p "$spec" -f "$@" >"$MTA_TMP/passthrough.log" 2>&1 &
	MTA_PT_PID=$!
	mta_track "$MTA_PT_PID"
	mta_wait_socket "$spec" 10 "$MTA_PT_PID"
}

# mta_crm_up WHAT: in a CRM script (CTL, CONF and SOCK set), check the
# config ("the WHAT config is valid"), start crm-milter, then
# mta_crm_postfix.
mta_crm_up() {
	mta_check "the $1 config is valid" "$CTL" -c "$CONF" check-config
	mta_check "crm-milter starts" mta_crm_start "$CONF" "$SOCK"
	mta_crm_postfix
}

# mta_crm_postfix: start a Postfix (PF=$MTA_TMP/pf) that has the crm-milter
# at SOCK as milter, and make M=$MTA_TMP/msg for the messages; the script
# ends when Postfix does not start.
mta_crm_postfix() {
	PF=$MTA_TMP/pf
	mta_postfix_make "$PF"
	mta_postfix_conf "$PF" "smtpd_milters = $SOCK" "non_smtpd_milters = $SOCK"
	mta_postfix_start "$PF" || { mta_not_ok "postfix starts" "$(tail "$PF/maillog")"; mta_done; }
	M=$MTA_TMP/msg
	mkdir -p "$M"
}

# mta_crm_messages DIR ID REPLY_ID NAME HTML [MORE_TO] [DSN_ID]: the three
# messages every CRM script sends, written into DIR:
#   sent   Alice to "NAME <bob@customer.test>"[, MORE_TO], Cc carol,
#          "Quote for Q3", Message-ID <ID>: a text part (with HTML as its
#          multipart/alternative HTML part, unless HTML is empty) and a PDF
#          attachment;
#   reply  Bob's answer, Message-ID <REPLY_ID>, In-Reply-To <ID>;
#   dsn    a bounce of ID for carol (mta_make_dsn, its own id DSN_ID).
mta_crm_messages() {
	local dir=$1 id=$2 reply_id=$3 name=$4 html=$5 more_to=${6:-} dsn_id=${7:-} text
	text=$'Content-Type: text/plain; charset=utf-8\n\nHello Bob, the quote is attached.'
	{
		printf 'From: Alice Example <alice@example.com>\nTo: %s <bob@customer.test>%s\n' "$name" "${more_to:+, $more_to}"
		printf 'Cc: carol@customer.test\nSubject: Quote for Q3\nDate: Sun, 22 Nov 2026 12:00:00 +0000\n'
		printf 'Message-ID: <%s>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n\n--b1\n' "$id"
		if [ -n "$html" ]; then
			printf 'Content-Type: multipart/alternative; boundary="b2"\n\n--b2\n%s\n--b2\n' "$text"
			printf 'Content-Type: text/html; charset=utf-8\n\n%s\n--b2--\n' "$html"
		else
			printf '%s\n' "$text"
		fi
		printf -- '--b1\nContent-Type: application/pdf; name="quote.pdf"\n'
		printf 'Content-Disposition: attachment; filename="quote.pdf"\nContent-Transfer-Encoding: base64\n\n'
		printf 'JVBERi0xLjQKJcOkw7zDtsOfCg==\n--b1--\n'
	} >"$dir/sent"
	cat >"$dir/reply" <<MSG
From: $name <bob@customer.test>
To: Alice Example <alice@example.com>
Subject: Re: Quote for Q3
Date: Sun, 22 Nov 2026 13:00:00 +0000
Message-ID: <$reply_id>
In-Reply-To: <$id>
References: <$id>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Thanks, looks good.
MSG
	mta_make_dsn "$dir/dsn" carol@customer.test "$id" $dsn_id
}

# Write FILE: a delivery status notification (multipart/report, as Postfix
# sends them) to alice@example.com saying that the message ORIG_MSGID
# (subject "Quote for Q3") failed for RCPT with 5.1.1; its own Message-ID
# is DSN_MSGID (default dsn.1@mx.customer.test).
mta_make_dsn() {
	local file=$1 rcpt=$2 orig=$3 own=${4:-dsn.1@mx.customer.test}
	cat >"$file" <<EOF
From: MAILER-DAEMON@mx.customer.test (Mail Delivery System)
To: <alice@example.com>
Subject: Undelivered Mail Returned to Sender
Date: Sun, 22 Nov 2026 12:05:00 +0000
Message-ID: <$own>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered to ${rcpt%%@*}.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.test

Final-Recipient: rfc822; $rcpt
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <$rcpt>: Recipient address rejected

--B1
Content-Type: text/rfc822-headers

From: <alice@example.com>
To: <$rcpt>
Subject: Quote for Q3
Message-ID: <$orig>

--B1--
EOF
}

# The start of a CRM connector script: what it needs (root, Postfix,
# swaks, curl, python3, the programs, the crm-milter user; skipped
# otherwise), mta_init NAME, smtp-sink (SINKMODE: "" counts, dump keeps
# the messages), and CRM, CONF, SOCK, CTL, FLUSHER set. EXTRA programs of
# the build dir may be required too.
mta_crm_script() {
	local name=$1 sink=${2:-} b
	shift 2 2>/dev/null || shift
	mta_require_root
	mta_require_postfix
	command -v swaks >/dev/null 2>&1 || mta_skip "swaks is not installed"
	command -v curl >/dev/null 2>&1 || mta_skip "curl is not installed"
	command -v python3 >/dev/null 2>&1 || mta_skip "python3 is not installed"
	for b in crm-milter crm-flusher crm-milterctl "$@"; do mta_require_bin "$top_builddir/$b" "$b"; done
	getent passwd crm-milter >/dev/null || mta_skip "no crm-milter user (run scripts/install-deps.sh)"
	mta_init "$name"
	mta_sink_start $sink || { mta_not_ok "smtp-sink starts"; mta_done; }
	CRM=$MTA_TMP/crm CONF=$MTA_TMP/crm-milter.conf SOCK=unix:$MTA_TMP/crm/milter.sock
	CTL=$top_builddir/crm-milterctl FLUSHER=$top_builddir/crm-flusher
	mkdir -p "$CRM"
}

# Print how many jobs of the spool of config CONF are pending or leased.
mta_crm_left() {
	"$top_builddir/crm-milterctl" -c "$1" queue profiles --json |
		python3 -c 'import json,sys; print(sum(p["pending"]+p["leased"] for p in json.load(sys.stdin)))'
}

# Run "crm-flusher -c CONF --once" until nothing is pending or leased, at
# most ROUNDS (default 40) times a second apart; MTA_DRAIN_ROUNDS gets the
# number of runs. Fails if jobs are left.
mta_crm_drain() {
	local conf=$1 max=${2:-40} left=1
	for MTA_DRAIN_ROUNDS in $(seq 1 "$max"); do
		"$top_builddir/crm-flusher" -c "$conf" --once >>"$MTA_TMP/flusher.log" 2>&1
		left=$(mta_crm_left "$conf")
		[ "$left" = 0 ] && break
		sleep 1
	done
	[ "$left" = 0 ]
}

# Start the CRM emulator (tests/crm-emulator) with config JSON file CONF
# (relative paths in it are taken from the config's directory). Sets
# MTA_EMU_PID and MTA_EMU (its base URL, http://127.0.0.1:PORT); the log
# goes to $MTA_TMP/emulator.log.
mta_emulator_start() {
	local conf=$1 portfile=$MTA_TMP/emulator.port i
	rm -f "$portfile"
	python3 "$top_srcdir/tests/crm-emulator/emulator.py" --config "$conf" --port 0 \
		--port-file "$portfile" >>"$MTA_TMP/emulator.log" 2>&1 &
	MTA_EMU_PID=$!
	mta_track "$MTA_EMU_PID"
	for i in $(seq 1 100); do
		[ -s "$portfile" ] && break
		mta_alive "$MTA_EMU_PID" || return 1
		sleep 0.1
	done
	[ -s "$portfile" ] || return 1
	MTA_EMU="http://127.0.0.1:$(cat "$portfile")"
}

# GET/POST/DELETE the emulator's control API: mta_emu METHOD PATH [JSON].
mta_emu() {
	if [ $# -ge 3 ]; then
		curl -s -X "$1" -H 'Content-Type: application/json' --data "$3" "$MTA_EMU$2"
	else
		curl -s -X "$1" "$MTA_EMU$2"
	fi
}

# Write a crm-milter config FILE with its spool and tmp dir under DIR
# (owned by the crm-milter user when we are root) and socket SOCKSPEC.
mta_crm_config() {
	local conf=$1 dir=$2 spec=$3
	mkdir -p "$dir/tmp"
	if [ "$(id -u)" = 0 ] && getent passwd crm-milter >/dev/null; then
		chown -R crm-milter: "$dir"
	fi
	chmod 755 "$dir"
	cat >"$conf" <<EOF
milter {
  socket = "$spec"
  user = "crm-milter"
  socket_group = "postfix"
  internal_domains = {"example.com"}
  internal_networks = {"10.99.0.0/16"}
  outbound_daemons = {"ORIGINATING"}
  on_internal_error = accept
  tmp_dir = "$dir/tmp"
}
spool { path = "$dir/spool.db" }
crm "local" { type = ledger }
rule "outbound" { direction = outbound  save = "local" }
rule "inbound"  { direction = inbound   save = "local" }
EOF
}

# Start crm-milter -c CONF -f in the background, wait for SOCKSPEC.
# Sets MTA_CRM_PID; the log goes to $MTA_TMP/crm-milter.log.
mta_crm_start() {
	local conf=$1 spec=$2
	"$top_builddir/crm-milter" -c "$conf" -f >>"$MTA_TMP/crm-milter.log" 2>&1 &
	MTA_CRM_PID=$!
	mta_track "$MTA_CRM_PID"
	if ! mta_wait_socket "$spec" 15 "$MTA_CRM_PID"; then
		echo "crm-milter did not open $spec; log:" >&2
		tail -n 20 "$MTA_TMP/crm-milter.log" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- sending

# Write a test message to FILE: mta_make_message FILE FROM TO SUBJECT MSGID
# [CC]. It has Date and Message-ID so the MTA adds only trace headers, and a
# body line starting with a dot (dot-stuffing must round-trip).
mta_make_message() {
	local file=$1 from=$2 to=$3 subject=$4 msgid=$5 cc=${6:-}
	{
		printf 'From: Sender <%s>\n' "$from"
		printf 'To: <%s>\n' "$to"
		[ -n "$cc" ] && printf 'Cc: <%s>\n' "$cc"
		printf 'Subject: %s\n' "$subject"
		printf 'Date: Sun, 22 Nov 2026 12:00:00 +0000\n'
		printf 'Message-ID: <%s>\n' "$msgid"
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=us-ascii\n'
		printf '\n'
		printf 'Hello,\n\nthis is %s.\n' "$subject"
		printf '.a line that starts with a dot\n'
		printf 'trailing spaces   \n\tand a tab\n'
		printf -- '-- \nThe sender\n'
	} >"$file"
}

# Send FILE by SMTP to 127.0.0.1:PORT with swaks; extra args go to swaks.
# swaks adds an empty line unless the data ends with "\n.\n", so a copy
# with the terminating dot is sent (swaks dot-stuffs every other line).
mta_swaks() {
	local port=$1 from=$2 to=$3 file=$4 data=$MTA_TMP/swaks.$BASHPID.data
	shift 4
	{ cat "$file"; echo .; } >"$data"
	swaks --server 127.0.0.1 --port "$port" --from "$from" --to "$to" \
		--helo client.crm-test.invalid --data "@$data" --hide-all "$@"
}

# Submit FILE with Postfix's sendmail command (non-SMTP, non_smtpd_milters).
mta_pf_sendmail() {
	local dir=$1 from=$2 to=$3 file=$4
	/usr/sbin/sendmail -C "$dir" -i -f "$from" -- "$to" <"$file"
}

# ---------------------------------------------------------------- comparing

# Print FILE with LF line ends and without the leading trace block: the
# sink's X-Client-Addr/-Proto, X-Helo/Mail/Rcpt-Args and every Received
# header (with its continuation lines) before the first other header.
# With "sink" as 2nd argument, also drop the one LF smtp-sink appends.
mta_strip_trace() {
	python3 - "$1" "${2:-}" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
if sys.argv[2] == "sink" and data.endswith(b"\n\n"):
    data = data[:-1]
lines = data.split(b"\n")
trace = re.compile(rb"^(Received|X-Client-Addr|X-Client-Proto|X-Helo-Args|"
                   rb"X-Mail-Args|X-Rcpt-Args):", re.I)
i, skipping = 0, False
while i < len(lines):
    ln = lines[i]
    if trace.match(ln):
        skipping = True
    elif skipping and ln[:1] in (b" ", b"\t"):
        pass
    else:
        break
    i += 1
sys.stdout.buffer.write(b"\n".join(lines[i:]))
EOF
}

# True if SENT and DUMP are the same message apart from trace headers.
mta_same_body() {
	local a=$MTA_TMP/cmp.a.$$ b=$MTA_TMP/cmp.b.$$
	mta_strip_trace "$1" >"$a" && mta_strip_trace "$2" sink >"$b" &&
		diff -u "$a" "$b"
}

# ---------------------------------------------------------------- crm checks

# Print how many activities in JSON file FILE (crm-milterctl activities
# --json) have DIRECTION, the address FROM in "from", TO among to/cc/bcc
# (or only in one field when written "cc:ADDR", "to:ADDR", "bcc:ADDR") and
# SUBJECT. Address fields may be strings, lists or objects: every address
# found in them counts.
mta_activity_count() {
	python3 - "$@" <<'EOF'
import json, re, sys
path, direction, frm, to, subject = sys.argv[1:6]
acts = json.load(open(path))
if isinstance(acts, dict):
    acts = acts.get("activities", [])
def addrs(v):
    return {a.lower() for a in re.findall(r"[\w.+-]+@[\w.-]+", json.dumps(v))}
n = 0
for a in acts:
    if str(a.get("direction", "")).lower() != direction:
        continue
    if frm.lower() not in addrs(a.get("from")):
        continue
    field, _, addr = to.rpartition(":")
    where = [a.get(field)] if field else [a.get("to"), a.get("cc"), a.get("bcc")]
    if addr.lower() not in addrs(where):
        continue
    if a.get("subject") != subject:
        continue
    n += 1
print(n)
EOF
}

# Check that the sink holds COPIES dumps with Message-ID ID, each equal to
# file SENT apart from trace headers: mta_check_identical LABEL SENT ID COPIES
mta_check_identical() {
	local label=$1 file=$2 id=$3 want=$4 dumps d n=0 out
	dumps=$(mta_sink_find "$id")
	for d in $dumps; do
		n=$((n + 1))
		if out=$(mta_same_body "$file" "$d"); then
			mta_ok "$label: copy $n at the sink is byte-identical apart from trace headers"
		else
			mta_not_ok "$label: copy $n at the sink is byte-identical apart from trace headers" "$out"
		fi
	done
	[ "$n" = "$want" ] || mta_not_ok "$label: $want copies at the sink (found $n)"
}

# Run crm-flusher --once on CONF, then write crm-milterctl's activities
# (JSON) to FILE; each step is a check. FILE holds [] if listing failed.
mta_crm_flush_and_list() {
	local conf=$1 file=$2 out
	if out=$("$top_builddir/crm-flusher" -c "$conf" --once 2>&1); then
		mta_ok "crm-flusher --once drains the spool"
	else
		mta_not_ok "crm-flusher --once drains the spool" "$out"
	fi
	if "$top_builddir/crm-milterctl" -c "$conf" activities --json >"$file" 2>"$file.err" &&
		python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$file" 2>>"$file.err"; then
		mta_ok "crm-milterctl activities --json prints JSON"
	else
		mta_not_ok "crm-milterctl activities --json prints JSON" \
			"$(cat "$file.err"; head -c 2000 "$file")"
		echo '[]' >"$file"
	fi
}

# Check that JSON file FILE has COUNT activities matching (see
# mta_activity_count): mta_expect_activity FILE LABEL DIRECTION FROM TO SUBJECT COUNT
mta_expect_activity() {
	local file=$1 n
	shift
	n=$(mta_activity_count "$file" "$2" "$3" "$4" "$5")
	if [ "$n" = "$6" ]; then
		mta_ok "$1: $6 $2 activity from $3, rcpt $4"
	else
		mta_not_ok "$1: $6 $2 activity from $3, rcpt $4 (found $n)" \
			"$(python3 -m json.tool "$file" | head -n 60)"
	fi
}

# Check that JSON file FILE lists exactly COUNT activities.
mta_expect_activity_total() {
	local total
	total=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$1" 2>/dev/null)
	if [ "$total" = "$2" ]; then
		mta_ok "exactly $2 activities in the ledger"
	else
		mta_not_ok "exactly $2 activities in the ledger (found $total)"
	fi
}

# Check that daemon log FILE has no sanitizer report (ASan, UBSan, LSan).
mta_check_log_clean() {
	local pat='AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer'
	if grep -E "$pat" "$1" >/dev/null 2>&1; then
		mta_not_ok "no sanitizer report in $(basename "$1")" "$(grep -E -A5 "$pat" "$1" | head -n 20)"
	else
		mta_ok "no sanitizer report in $(basename "$1")"
	fi
}

# ---------------------------------------------------------------- cleanup

# Exit trap: stop our MTAs, then every tracked PID; keep MTA_TMP on failure.
mta_cleanup() {
	local rc=$? d p
	trap - EXIT
	for d in "${MTA_POSTFIX_DIRS[@]}"; do
		mta_postfix_stop "$d"
	done
	if declare -F mta_sendmail_stop_all >/dev/null; then
		mta_sendmail_stop_all
	fi
	for p in "${MTA_PIDS[@]}"; do
		mta_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for p in "${MTA_PIDS[@]}"; do
		mta_wait_gone "$p" 1 || kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$MTA_TMP" ] && [ -d "$MTA_TMP" ]; then
		if [ "$MTA_KEEP" = 1 ] || [ "$MTA_FAILED" != 0 ] || { [ "$rc" != 0 ] && [ "$rc" != 77 ]; }; then
			echo "# kept $MTA_TMP for inspection" >&2
		else
			rm -rf "$MTA_TMP"
		fi
	fi
	exit "$rc"
}

# Sendmail helpers live in their own file to keep this one small.
# shellcheck source=sendmail-setup.sh
. "$MTA_LIBDIR/sendmail-setup.sh"
