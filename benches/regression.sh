#!/usr/bin/env bash
# The first poll's CPU of this checkout beside feedwatch built at other
# commits, on the same farm, interleaved (`cargo bench --bench farm --
# --versus`): a regression since REV shows as a ratio below 1 in the last
# column. Each REV is built once (release, as the benchmark builds this
# checkout) into target/regression/feedwatch-REV, from a worktree of it.
#
#   benches/regression.sh [--rounds N] REV...    e.g. benches/regression.sh fc2cf60
#
# Extra arguments before the revisions go to the benchmark's --versus
# (--rounds N, --feeds N, --items N, --poll KEYS, --rss2email PATH,
# --farm-rules, --again).
set -euo pipefail
cd "$(dirname "$0")/.."
bench_args=()
while [[ $# -gt 0 && $1 == --* ]]; do
    case $1 in
        # The benchmark's options without a value.
        --again | --farm-rules) bench_args+=("$1"); shift ;;
        *) bench_args+=("$1" "$2"); shift 2 ;;
    esac
done
[[ $# -gt 0 ]] || { echo "usage: $0 [--rounds N] REV..." >&2; exit 2; }
out="$PWD/target/regression"
mkdir -p "$out"
for rev in "$@"; do
    commit=$(git rev-parse --short "$rev^{commit}")
    binary="$out/feedwatch-$commit"
    if [[ ! -x $binary ]]; then
        tree="$out/tree-$commit"
        rm -rf "$tree"
        git worktree prune
        git worktree add --detach "$tree" "$commit" >/dev/null
        # Its own target directory: the dependencies of an older commit
        # must not displace this checkout's.
        (cd "$tree" && CARGO_TARGET_DIR="$out/target" cargo build --release --locked --bin feedwatch)
        cp "$out/target/release/feedwatch" "$binary"
        git worktree remove --force "$tree"
    fi
    bench_args+=(--binary "$rev=$binary")
done
cargo bench --locked --bench farm -- --versus "${bench_args[@]}"
