#!/usr/bin/env bash
# run-tests.sh - the whole test suite on a fresh Debian 12 machine (as root):
# installs every package, builds, runs the unit and integration tests
# (miltertest, crm-milterctl, real Postfix, real Sendmail, SIGKILL under
# load), then builds again with AddressSanitizer + UndefinedBehaviorSanitizer
# and runs the whole suite again under them.
# Exit 0 only when everything passed. .ci/run calls this and nothing else.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" = 0 ] && [ "${CRM_SKIP_INSTALL:-0}" != 1 ]; then
	scripts/install-deps.sh || { echo "package installation failed"; exit 1; }
fi

rc=0
# run_suite NAME BUILDDIR ENV... -- CONFIGURE-ARGS...
run_suite() {
	local name=$1 dir=$2
	shift 2
	echo "=== $name: build ($dir)"
	if ! scripts/build.sh "$dir" "$@"; then
		echo "=== $name: BUILD FAILED"
		rc=1
		return
	fi
	echo "=== $name: make check"
	if ! make -C "$dir" -j2 check; then
		rc=1
	fi
	# show every test's own output (cmocka summaries, "N passed, N failed")
	for log in $(find "$dir/tests" -name '*.log' ! -name 'test-suite.log' | sort); do
		echo "--- ${log#$dir/}"
		cat "$log"
	done
	grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$dir/test-suite.log"
	count "$dir/test-suite.log"
}

passed=0 failed=0 skipped=0
# count LOG: add automake's totals of one suite to the overall ones
count() {
	[ -f "$1" ] || return 0
	v() { local n; n=$(sed -n "s/^# $1: *//p" "$2" | head -n 1); echo "${n:-0}"; }
	passed=$((passed + $(v PASS "$1") + $(v XFAIL "$1")))
	failed=$((failed + $(v FAIL "$1") + $(v ERROR "$1") + $(v XPASS "$1")))
	skipped=$((skipped + $(v SKIP "$1")))
}

run_suite "plain build" _build/plain
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite "ASan+UBSan build" _build/asan --enable-sanitizers
# a suite that did not build has no totals: make sure it counts as failed
[ "$rc" = 0 ] || [ "$failed" != 0 ] || failed=1
echo "total: $passed passed, $failed failed, $skipped skipped"
exit $rc
