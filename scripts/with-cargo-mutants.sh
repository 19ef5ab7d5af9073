#!/usr/bin/env bash
# Runs cargo-mutants over the metrics, each mutant judged by the metric crate's own tests, e.g.
#   scripts/with-cargo-mutants.sh --file src/metrics/rrc.rs
#   scripts/with-cargo-mutants.sh --in-diff "$PWD/target/mutants.diff"
#   scripts/with-cargo-mutants.sh --list
#   scripts/with-cargo-mutants.sh --shard 3/8
# What to mutate and the cargo profile are in .cargo/mutants.toml; results go to mutants.out/
# here; docs/mutants.md says how long a run takes and what the last score was.
#
# cargo-mutants is pinned and installed on first use into ~/.cache/dnlts/cargo-mutants (a few
# minutes of compiling, once). The metrics are their own crate, `dnlts-metrics`, which needs
# neither libtorch nor the dnlts library: a mutant rebuilds only that crate and its tests
# (its unit tests, tests/metrics_props.rs and tests/analysis_golden.rs), and libtorch is never
# fetched for it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
CARGO_MUTANTS_VERSION=27.1.0
prefix="$HOME/.cache/dnlts/cargo-mutants"
bin="$prefix/bin/cargo-mutants"
package=dnlts-metrics
# No mutant of the metrics makes these tests run for minutes unless it hangs them: a healthy
# run takes seconds, a failing property shrinks for at most 10 s.
timeout_s=120

if [ "$("$bin" mutants --version 2>/dev/null || true)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
  echo "with-cargo-mutants: installing cargo-mutants $CARGO_MUTANTS_VERSION into $prefix" >&2
  cargo install --locked --quiet --version "$CARGO_MUTANTS_VERSION" cargo-mutants --root "$prefix"
fi

# The builds use this tree's target folder (absolute, as the mutants build elsewhere).
cd "$root"
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
export CARGO_TARGET_DIR="$target_dir"

# Mutate a copy of the files git sees (tracked or new, not ignored), which keeps every file's
# modification time: cargo finds the dependencies and the unmutated crate already built in
# target/ by an earlier run and builds only what a mutant changes. The tree here is never
# modified, even when a run is interrupted.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dnlts-mutants.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
git ls-files -z --cached --others --exclude-standard |
  tar --null --ignore-failed-read -T - -cf - | tar -C "$scratch" -xf -
cd "$scratch"
# Called directly, not as `cargo mutants`, so the first argument is the subcommand's name.
# MUTANTS_OUT puts mutants.out elsewhere: shards run at once (`--shard k/N`, one per core),
# each with its own MUTANTS_OUT and CARGO_TARGET_DIR, since a mutated tree is built in place.
out=$(realpath -m "${MUTANTS_OUT:-$root}")
"$bin" mutants --in-place --package "$package" --output "$out" --timeout "$timeout_s" \
  --cargo-arg=--locked "$@"
