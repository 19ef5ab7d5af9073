#!/usr/bin/env bash
# Runs cargo-mutants over the metrics, each mutant judged by the fast metric tests, e.g.
#   scripts/with-cargo-mutants.sh --file src/metrics/rrc.rs
#   scripts/with-cargo-mutants.sh --in-diff target/mutants.diff
#   scripts/with-cargo-mutants.sh --list
# What to mutate is in .cargo/mutants.toml; docs/mutants.md says how long a run takes and what
# the last score was.
#
# cargo-mutants is pinned and installed on first use into ~/.cache/dnlts/cargo-mutants (a few
# minutes of compiling, once). It runs through with-libtorch.sh, so its builds see the same
# environment as every other build here and never rebuild tch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CARGO_MUTANTS_VERSION=27.1.0
prefix="$HOME/.cache/dnlts/cargo-mutants"
bin="$prefix/bin/cargo-mutants"

# The tests that judge a mutant: unit tests, property tests against slow references, analysis
# goldens. Given to every cargo call (not only the test run), so each mutant builds these three
# test binaries, not all of them.
tests=(--lib --test metrics_props --test analysis_golden)

if [ "$("$bin" mutants --version 2>/dev/null || true)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
  echo "with-cargo-mutants: installing cargo-mutants $CARGO_MUTANTS_VERSION into $prefix" >&2
  cargo install --locked --quiet --version "$CARGO_MUTANTS_VERSION" cargo-mutants --root "$prefix"
fi

# cargo-mutants copies the tree with target/ (.cargo/mutants.toml): build what the mutants
# need here first, so the copy starts with every dependency built (a no-op when up to date).
"$here/with-libtorch.sh" cargo test --release --locked -p dnlts "${tests[@]}" --no-run --quiet

# Called directly, not as `cargo mutants`, so the first argument is the subcommand's name.
exec "$here/with-libtorch.sh" "$bin" mutants --cargo-arg=--locked \
  "${tests[@]/#/--cargo-arg=}" "$@"
