#!/usr/bin/env bash
# The README's test command: installs what the test suites need beyond the .NET SDK when it is missing,
# then runs every test. Works as root or through sudo. .ci/run calls exactly this script.
#
# Installs (Debian packages through apt-get, only the missing ones):
#   haproxy          the reliability suite puts it in front of three nodes
#   prometheus       promtool checks and unit-tests deploy/prometheus/alerts.yml; a real Prometheus scrapes a node
#   chromium         headless browser tests of the analyst viewer
#   python3-pandas   the analysts' Python client tests (/usr/bin/python3)
#   nodejs, npm      the KPL deaggregator and browser test packages
# then `npm ci` in every tests/*/ folder that has a package-lock.json (from the npm registry, pinned by the lock).
# It does not install moto_server or cfn-lint (PyPI is not reachable here): it stops with how to get them.
set -euo pipefail
cd "$(dirname "$0")"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

# command -> Debian package; a package is installed when its command (or, for libraries, its dpkg entry) is missing.
missing=()
need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || missing+=("$2"); }
need haproxy haproxy
need promtool prometheus
need chromium chromium
need node nodejs
need npm npm
dpkg -s python3-pandas >/dev/null 2>&1 || missing+=(python3-pandas)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

for lock in tests/*/package-lock.json; do
  [ -e "$lock" ] || continue
  (cd "$(dirname "$lock")" && npm ci --no-audit --no-fund)
done

for tool in moto_server cfn-lint; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test.sh: $tool is not on PATH. The integration and reliability suites start moto_server, the deployment" >&2
    echo "tests run cfn-lint. Install them from a machine that reaches PyPI (pip install 'moto[server]' cfn-lint)" >&2
    echo "or from a wheel mirror, put them on PATH, and run test.sh again." >&2
    exit 1
  fi
done

dotnet test IngestService.sln "$@"
