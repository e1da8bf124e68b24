#!/usr/bin/env bash
# The first poll of the benchmark farm by feedwatch and by rss2email
# (`r2e run --no-send`), interleaved round by round on the same farm, with
# the ratio of their CPU (docs/performance.md, "Performance"). rss2email is
# installed from PyPI into a virtualenv under target/ the first time.
#
#   benches/rss2email.sh [--rounds N] [--feeds N --items M] [--binary NAME=PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$PWD/target/rss2email-venv"
if [[ ! -x $venv/bin/r2e ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'rss2email==3.14'
fi
cargo bench --locked --bench farm -- --versus --rss2email "$venv/bin/r2e" "$@"
