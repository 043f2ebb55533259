#!/usr/bin/env bash
# emulator.sh - the CRM emulator's own self-test (tests/crm-emulator):
# every vendor's happy path, fault kinds, paging, token expiry, Zoho's mint
# limit and Retry-After accounting, before the connectors are tested
# against it. Ends with "N passed, N failed".
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
command -v python3 >/dev/null 2>&1 || { echo "python3 is not installed: skipped"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "openssl is not installed: skipped"; exit 77; }
exec python3 "$top_srcdir/tests/crm-emulator/selftest.py"
