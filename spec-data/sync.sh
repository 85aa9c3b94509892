#!/usr/bin/env bash
# Fill spec-data/specifications and spec-data/server (both gitignored) with the
# pinned upstream commits, for machines without ../shared/spec-data.
# Needs git and network access to github.com. Usage: spec-data/sync.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pin() { # section key
  awk -v s="[$1]" -v k="$2" '$0==s{on=1;next} /^\[/{on=0} on && $1==k {gsub(/"/,"",$3); print $3}' "$here/pin.toml"
}
sync_one() { # section, sparse paths...
  local section=$1; shift
  local repo commit dir
  repo=$(pin "$section" repository); commit=$(pin "$section" commit); dir="$here/$(pin "$section" synced)"
  if [ ! -d "$dir/.git" ]; then
    git clone --filter=blob:none --no-checkout "$repo" "$dir"
  fi
  git -C "$dir" sparse-checkout set --no-cone "$@"
  git -C "$dir" checkout --quiet "$commit"
  echo "$section: $(git -C "$dir" rev-parse HEAD) in $dir"
}
sync_one specifications '/source/'
sync_one legacy_sessions '/source/sessions/tests/legacy/' '/source/transactions/tests/'
sync_one server '/src/mongo/base/error_codes.yml' '/src/mongo/**/*.idl'
