#!/usr/bin/env bash
# Runs pymongo's own spec and integration tests against the simulator (a third-party check of
# the simulator's fidelity; not part of CI). Downloads pymongo's source distribution (its test
# suite) and pytest into a scratch directory outside the repository.
#
#   sim/scripts/pymongo-spec.sh [WORKDIR] [PYTEST_FILE...]
#
# WORKDIR defaults to /tmp/pymongo-spec; the default files are the ones sim/README.md reports.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/pymongo-spec}"
shift || true
version="${PYMONGO_VERSION:-4.10.1}"
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(test/test_crud_unified.py test/test_transactions_unified.py test/test_retryable_writes_unified.py
    test/test_sessions_unified.py test/test_read_write_concern_spec.py test/test_retryable_reads_unified.py
    test/test_change_stream.py test/test_session.py test/test_transactions.py test/test_retryable_writes.py
    test/test_retryable_reads.py test/test_unified_format.py test/test_command_monitoring.py
    test/test_collection_management.py)
fi
mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
if [ ! -d "$work/pymongo-$version" ]; then
  "$work/venv/bin/pip" download --quiet --no-binary :all: --no-deps "pymongo==$version" -d "$work"
  tar xzf "$work/pymongo-$version.tar.gz" -C "$work"
  # pymongo 4.10's test configuration predates pytest 8.4 and pytest-asyncio 0.25.
  "$work/venv/bin/pip" install --quiet 'pytest>=8.2,<8.4' 'pytest-asyncio==0.24.0' 'dnspython>=1.16,<3'
  "$work/venv/bin/pip" install --quiet -e "$work/pymongo-$version"
fi
(cd "$here" && cargo build --quiet -p mongo-sim)
log="$work/sim.log"
"$here/target/debug/mongo-sim" --topology replicaset --members 3 --version 6.0 > "$log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q mongodb:// "$log" && break; sleep 0.1; done
port="$(sed -nE 's#^mongodb://127\.0\.0\.1:([0-9]+),.*#\1#p' "$log" | head -1)"
cd "$work/pymongo-$version"
for f in "${files[@]}"; do
  out="$(DB_IP=127.0.0.1 DB_PORT="$port" timeout 900 "$work/venv/bin/pytest" "$f" -q -p no:cacheprovider \
    -o addopts="" -rfE 2>&1 || true)"
  echo "$f: $(printf '%s\n' "$out" | tail -1)"
  printf '%s\n' "$out" | grep -E '^(FAILED|ERROR) ' || true
done
