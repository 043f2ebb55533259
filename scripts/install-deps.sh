#!/usr/bin/env bash
# install-deps.sh - install every Debian 12 package crm-milter builds, tests
# and runs with. Run as root. Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Keep the packaged Postfix from starting or being configured system-wide:
# our tests run their own throwaway instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential autoconf automake libtool pkg-config m4 ca-certificates \
	libgmime-3.0-dev libglib2.0-dev libjson-glib-dev libsqlite3-dev sqlite3 \
	libcurl4-openssl-dev libssl-dev libconfuse-dev libcmocka-dev libmilter-dev libcsv-dev libmodest-dev \
	libmicrohttpd-dev curl \
	postfix swaks miltertest libwrap0 util-linux procps iproute2 \
	python3

# Sendmail is unpacked privately by the tests (never installed: it would
# replace Postfix); fetch the packages once here.
mkdir -p /var/cache/crm-milter-test
cd /var/cache/crm-milter-test
for p in sendmail-bin sendmail-cf; do
	ls ${p}_*.deb >/dev/null 2>&1 || apt-get download -q "$p"
done

# The unprivileged user all crm-milter programs run as.
getent group crm-milter >/dev/null || groupadd --system crm-milter
getent passwd crm-milter >/dev/null || \
	useradd --system --gid crm-milter --home-dir /var/lib/crm-milter \
		--shell /usr/sbin/nologin crm-milter
