#!/usr/bin/env bash
# test_banned.sh - the functions STYLE.md bans (curl's checksrc list) do
# not appear in our C sources, and every C file starts with a header
# comment saying what it is for.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$top_srcdir" || exit 99
passed=0 failed=0
files=$(find core milter flusher ctl common tests bench tracker -name '*.[ch]' 2>/dev/null | sort)

hits=$(grep -HnE '(^|[^_a-zA-Z0-9])(sprintf|strcpy|strcat|strncpy|strtok|gets|atoi)[[:space:]]*\(' $files)
if [ -z "$hits" ]; then
	echo "ok - no banned functions"; passed=$((passed + 1))
else
	echo "not ok - banned functions:"; echo "$hits" | sed 's/^/#   /'; failed=$((failed + 1))
fi

missing=
for f in $files; do
	head -c 3 "$f" | grep -q '^/\*' || missing="$missing $f"
done
if [ -z "$missing" ]; then
	echo "ok - every C file opens with a header comment"; passed=$((passed + 1))
else
	echo "not ok - no header comment:$missing"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
