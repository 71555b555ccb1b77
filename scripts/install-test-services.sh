#!/usr/bin/env bash
# Install, from Debian's packages, the servers that the test suite starts (only what is missing).
# Without root nothing is installed: the tests then skip what is absent, or fail under CI=true.
set -euo pipefail

# binary-to-check package-name
WANTED=(
  "/usr/lib/postgresql/15/bin/initdb postgresql"
  "/usr/bin/redis-server redis-server"
  "/usr/bin/prometheus prometheus"
  "/usr/bin/prometheus-alertmanager prometheus-alertmanager"
  "/usr/bin/prometheus-pushgateway prometheus-pushgateway"
  "/usr/bin/prometheus-node-exporter prometheus-node-exporter"
  "/usr/bin/prometheus-postgres-exporter prometheus-postgres-exporter"
  "/usr/bin/prometheus-redis-exporter prometheus-redis-exporter"
  "/usr/bin/pgbackrest pgbackrest"
  "/usr/bin/shellcheck shellcheck"
  "/usr/bin/chromium chromium"  # page layouts at phone width (tests/test_web_layout.py)
)

missing=()
for pair in "${WANTED[@]}"; do
  read -r binary package <<<"$pair"
  [ -x "$binary" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "test services missing (${missing[*]}); not root, so not installing them" >&2
  exit 0
fi
echo "installing test services from Debian's packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
