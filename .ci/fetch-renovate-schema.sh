#!/usr/bin/env bash
# Renovate's configuration JSON schema, for tests/test_repo_ci_files.py: taken from the renovate
# npm package (pinned below) into .ci/cache/renovate-schema.json (gitignored). Needs npm and tar.
# Does nothing when the cache already holds the schema of the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

RENOVATE_VERSION=44.121.2
CACHE=.ci/cache
TARGET="$CACHE/renovate-schema.json"

if [ -f "$TARGET" ] && grep -q "Renovate $RENOVATE_VERSION config" "$TARGET"; then
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm pack "renovate@$RENOVATE_VERSION" --pack-destination "$work" --silent >/dev/null
tar -xzf "$work/renovate-$RENOVATE_VERSION.tgz" -C "$work" package/renovate-schema.json
mkdir -p "$CACHE"
mv "$work/package/renovate-schema.json" "$TARGET"
echo "Renovate $RENOVATE_VERSION schema: $TARGET"
