#!/usr/bin/env bash
# build.sh - configure and build crm-milter out of tree.
#   scripts/build.sh BUILDDIR [configure options...]
# e.g. scripts/build.sh _build/asan --enable-sanitizers
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:?usage: build.sh BUILDDIR [configure options]}
shift
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi
fi
mkdir -p "$builddir"
cd "$builddir"
if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
	"$top/configure" -q "$@"
fi
make -j"$(nproc)" all
