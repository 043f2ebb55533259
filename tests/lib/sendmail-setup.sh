# sendmail-setup.sh - a private Sendmail for the integration tests, run next
# to Postfix without installing it (MTA-NOTES.md, "A real Sendmail").
#
# Sourced by tests/lib/mta.sh (needs its MTA_TMP, mta_track, mta_free_port,
# mta_wait_socket and a running sink: MTA_SINK_PORT).
#
# Public functions:
#   mta_sendmail_require        skip (77) unless the .debs, m4, unshare exist
#   mta_sendmail_make DIR SPEC  unpack Sendmail into DIR/root and build
#                               DIR/sendmail.cf with INPUT_MAIL_FILTER to
#                               milter socket SPEC; sets MTA_SM_IN_PORT
#                               (daemon Name=$MTA_SM_IN_NAME, default INBOUND)
#                               and MTA_SM_SUB_PORT (Name=$MTA_SM_SUB_NAME,
#                               default ORIGINATING)
#   mta_sendmail_start DIR      run "sendmail -bD" in its own UTS and mount
#                               namespace (dotted host name, private
#                               /etc/hosts, a /dev/log that writes
#                               DIR/sendmail.log); sets MTA_SM_PID
#   mta_sendmail_stop DIR       SIGTERM that PID and wait
#   mta_sendmail_stop_all       used by mta.sh's exit trap
#
# Ownership: every file is under DIR; the only processes are the sendmail
# daemon (its PID is the one we started: unshare and sh exec into it) and a
# small python syslog listener, both tracked with mta_track.

: "${MTA_SENDMAIL_DEBS:=/var/cache/crm-milter-test}"
MTA_SM_PID=

# Skip unless the Sendmail packages were downloaded and the tools exist.
mta_sendmail_require() {
	local p
	for p in sendmail-bin sendmail-cf; do
		ls "$MTA_SENDMAIL_DEBS"/${p}_*.deb >/dev/null 2>&1 ||
			mta_skip "no $p .deb in $MTA_SENDMAIL_DEBS (run scripts/install-deps.sh)"
	done
	for p in m4 unshare dpkg; do
		command -v "$p" >/dev/null 2>&1 || mta_skip "$p is not installed"
	done
}

# Unpack the packages into DIR/root; drop the setgid bit (it would make the
# binary ignore LD_LIBRARY_PATH and run as group mail).
sendmail_unpack() {
	local dir=$1 deb
	mkdir -p "$dir/root"
	for deb in "$MTA_SENDMAIL_DEBS"/sendmail-bin_*.deb "$MTA_SENDMAIL_DEBS"/sendmail-cf_*.deb; do
		dpkg -x "$deb" "$dir/root" || return 1
	done
	chmod g-s "$dir/root/usr/libexec/sendmail/sendmail"
}

# Write DIR/sendmail.mc and build DIR/sendmail.cf from it with m4.
mta_sendmail_make() {
	local dir=$1 spec=$2 cfdir
	: "${MTA_SM_IN_NAME:=INBOUND}" "${MTA_SM_SUB_NAME:=ORIGINATING}"
	[ -n "$MTA_SINK_PORT" ] || { echo "start the sink first" >&2; return 1; }
	sendmail_unpack "$dir" || return 1
	MTA_SM_IN_PORT=$(mta_free_port) || return 1
	MTA_SM_SUB_PORT=$(mta_free_port) || return 1
	while [ "$MTA_SM_SUB_PORT" = "$MTA_SM_IN_PORT" ]; do
		MTA_SM_SUB_PORT=$(mta_free_port) || return 1
	done
	cfdir=$dir/root/usr/share/sendmail/cf
	mkdir -p "$dir/mqueue"
	chmod 700 "$dir/mqueue"
	chmod 755 "$dir"
	: >"$dir/aliases"
	: >"$dir/statistics"
	: >"$dir/helpfile"
	echo mta.sendmail.crm-test.invalid >"$dir/local-host-names"
	printf 'hosts\tfiles\naliases\tfiles\n' >"$dir/service.switch"
	printf '127.0.0.1\tmta.sendmail.crm-test.invalid mta localhost\n::1\tlocalhost ip6-localhost\n' \
		>"$dir/hosts"
	cat >"$dir/sendmail.mc" <<EOF
divert(-1)
# throwaway Sendmail written by tests/lib/sendmail-setup.sh
divert(0)dnl
include(\`$cfdir/m4/cf.m4')dnl
VERSIONID(\`crm-milter test instance')dnl
define(\`confEBINDIR', \`$dir/root/usr/libexec/sendmail')dnl
define(\`QUEUE_DIR', \`$dir/mqueue')dnl
define(\`confPID_FILE', \`$dir/sendmail.pid')dnl
define(\`STATUS_FILE', \`$dir/statistics')dnl
define(\`ALIAS_FILE', \`$dir/aliases')dnl
define(\`HELP_FILE', \`$dir/helpfile')dnl
define(\`confCW_FILE', \`$dir/local-host-names')dnl
define(\`confSERVICE_SWITCH_FILE', \`$dir/service.switch')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit,GroupWritableDirPathSafe,NonRootSafeAddr')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $MTA_SINK_PORT')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`promiscuous_relay')dnl
DAEMON_OPTIONS(\`Family=inet, Name=$MTA_SM_IN_NAME, Port=$MTA_SM_IN_PORT, Addr=127.0.0.1, Listen=128, M=AS')dnl
DAEMON_OPTIONS(\`Family=inet, Name=$MTA_SM_SUB_NAME, Port=$MTA_SM_SUB_PORT, Addr=127.0.0.1, Listen=128, M=AS')dnl
INPUT_MAIL_FILTER(\`crm', \`S=$spec, F=T, T=S:10s;R:10s;E:5m')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
	m4 "$dir/sendmail.mc" >"$dir/sendmail.cf" 2>"$dir/m4.err" || {
		cat "$dir/m4.err" >&2
		return 1
	}
}

# Start a datagram listener at DIR/log.sock appending to DIR/sendmail.log.
sendmail_log_listener() {
	local dir=$1
	python3 - "$dir/log.sock" "$dir/sendmail.log" >/dev/null 2>&1 <<'EOF' &
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(log, "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\n") + b"\n")
EOF
	mta_track $!
	local n=50
	while [ ! -S "$dir/log.sock" ] && [ "$n" -gt 0 ]; do
		sleep 0.05
		n=$((n - 1))
	done
}

# Start the daemon in a private UTS+mount namespace; sets MTA_SM_PID.
mta_sendmail_start() {
	local dir=$1 bin
	bin=$dir/root/usr/libexec/sendmail/sendmail
	sendmail_log_listener "$dir"
	# In the namespace: a dotted host name (else a 60 s stall), a private
	# /etc/hosts, and a /dev whose log is our listener (no syslogd here).
	unshare --uts --mount --propagation private sh -c '
		set -e
		dir=$1 bin=$2
		hostname mta.sendmail.crm-test.invalid
		mount --bind "$dir/hosts" /etc/hosts
		mkdir -p "$dir/dev"
		for n in null zero full random urandom tty; do
			[ -e "/dev/$n" ] || continue
			: >"$dir/dev/$n"
			mount --bind "/dev/$n" "$dir/dev/$n"
		done
		if [ -S "$dir/log.sock" ]; then
			: >"$dir/dev/log"
			mount --bind "$dir/log.sock" "$dir/dev/log"
		fi
		mount --rbind "$dir/dev" /dev
		exec "$bin" -C "$dir/sendmail.cf" -bD -q1m
	' sendmail-ns "$dir" "$bin" >"$dir/sendmail.out" 2>&1 &
	MTA_SM_PID=$!
	mta_track "$MTA_SM_PID"
	if ! mta_wait_socket "inet:$MTA_SM_IN_PORT@127.0.0.1" 20 "$MTA_SM_PID" ||
		! mta_wait_socket "inet:$MTA_SM_SUB_PORT@127.0.0.1" 5; then
		echo "sendmail did not start:" >&2
		tail -n 20 "$dir/sendmail.out" "$dir/sendmail.log" >&2 2>/dev/null
		return 1
	fi
}

# Stop the daemon started by mta_sendmail_start (its PID, SIGTERM).
mta_sendmail_stop() {
	[ -n "${MTA_SM_PID:-}" ] && mta_kill "$MTA_SM_PID" TERM
	return 0
}

# Exit-trap helper: stop our Sendmail daemon if it still runs.
mta_sendmail_stop_all() {
	mta_sendmail_stop
}
