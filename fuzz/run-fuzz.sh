#!/usr/bin/env bash
# run-fuzz.sh - build a libFuzzer target with clang under AddressSanitizer
# and UndefinedBehaviorSanitizer against the core sources it needs, seed
# its corpus, and run it for a number of seconds. Optional: not part of
# make check; installs clang (apt-get) when it is missing and we are root.
#
#   fuzz/run-fuzz.sh [SECONDS] [TARGET]     default: 60 token
#
# Targets: token (fuzz/fuzz_token.c: token_verify_path on arbitrary paths).
# FUZZ_DIR (default /tmp/crm-fuzz) holds the binary, the corpus (kept
# between runs) and any crash artifact. Exit 0 when the run found nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
target=${2:-token}
dir=${FUZZ_DIR:-/tmp/crm-fuzz}/$target

case $target in
token) srcs="fuzz/fuzz_token.c core/token.c core/hmac256.c core/errline.c"; pkgs="glib-2.0 libcrypto"; seeds=-DFUZZ_TOKEN_SEEDS; extra= ;;
rewrite) srcs="fuzz/fuzz_rewrite.c core/rewrite.c core/rewrite_part.c core/html_links.c core/html_links_filter.c core/html_links_out.c core/url_norm.c core/mime_codec.c core/message.c core/token.c core/hmac256.c core/errline.c"
	pkgs="gmime-3.0 gio-2.0 libcrypto"; seeds=-DFUZZ_REWRITE_SEEDS; extra="-lmodest -lm -lpthread" ;;
*) echo "run-fuzz.sh: unknown target '$target' (known: token, rewrite)" >&2; exit 2 ;;
esac
case $secs in ''|*[!0-9]*) echo "usage: run-fuzz.sh [SECONDS] [TARGET]" >&2; exit 2 ;; esac

if ! command -v clang >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "run-fuzz.sh: clang is needed (apt-get install clang)" >&2
		exit 1
	fi
	apt-get install -y -q clang >/dev/null || { apt-get update -q && apt-get install -y -q clang; }
fi

mkdir -p "$dir/corpus"
cd "$top"
cflags="-std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -Icore -I. $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) $extra"
echo "=== building fuzz_$target in $dir"
# shellcheck disable=SC2086
clang $cflags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	$srcs $libs -o "$dir/fuzz_$target"
if [ -n "$seeds" ] && [ -z "$(ls -A "$dir/corpus")" ]; then
	# shellcheck disable=SC2086
	clang $cflags $seeds -fsanitize=address,undefined $srcs $libs -o "$dir/seeds_$target"
	"$dir/seeds_$target" "$dir/corpus"
fi

echo "=== running fuzz_$target for ${secs}s (corpus $dir/corpus)"
set +e
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
"$dir/fuzz_$target" -max_total_time="$secs" -max_len=8192 -timeout=10 -error_exitcode=1 \
	-print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" >"$dir/last-run.log" 2>&1
rc=$?
set -e
# the log without libFuzzer's per-unit progress lines
grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|RELOAD)' "$dir/last-run.log" | tail -n 60
if [ "$rc" = 0 ]; then
	echo "=== fuzz_$target: no finding in ${secs}s"
else
	echo "=== fuzz_$target: FINDING (exit $rc); artifacts: $(find "$dir" -maxdepth 1 -newer "$dir/fuzz_$target" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | tr '\n' ' ')"
fi
exit "$rc"
