#!/usr/bin/env bash
# Runs cargo-mutants over the metrics, each mutant judged by the fast metric tests, e.g.
#   scripts/with-cargo-mutants.sh --file src/metrics/rrc.rs
#   scripts/with-cargo-mutants.sh --in-diff "$PWD/target/mutants.diff"
#   scripts/with-cargo-mutants.sh --list
# What to mutate is in .cargo/mutants.toml; results go to mutants.out/ here; docs/mutants.md
# says how long a run takes and what the last score was.
#
# cargo-mutants is pinned and installed on first use into ~/.cache/dnlts/cargo-mutants (a few
# minutes of compiling, once). It runs through with-libtorch.sh, so its builds see the same
# environment as every other build here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
CARGO_MUTANTS_VERSION=27.1.0
prefix="$HOME/.cache/dnlts/cargo-mutants"
bin="$prefix/bin/cargo-mutants"

# The tests that judge a mutant: unit tests, property tests against slow references, analysis
# goldens. Given to every cargo call (not only the test run), so each mutant builds these three
# test binaries, not all of them.
tests=(--lib --test metrics_props --test analysis_golden)
# No mutant of the metrics makes these tests run for minutes unless it hangs them: a healthy
# run takes seconds, a failing property shrinks for at most 10 s.
timeout_s=120

if [ "$("$bin" mutants --version 2>/dev/null || true)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
  echo "with-cargo-mutants: installing cargo-mutants $CARGO_MUTANTS_VERSION into $prefix" >&2
  cargo install --locked --quiet --version "$CARGO_MUTANTS_VERSION" cargo-mutants --root "$prefix"
fi

# Build what the mutants need here first (a no-op when up to date)...
cd "$root"
"$here/with-libtorch.sh" cargo test --release --locked -p dnlts "${tests[@]}" --no-run --quiet

# ...then mutate a copy that keeps every file's modification time, so cargo finds the copied
# target/ up to date. (cargo-mutants' own copy gives files new times, and cargo then rebuilds
# every dependency, tch included, on every run.) The tree here is never modified.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dnlts-mutants.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
tar -C "$root" --exclude=./mutants.out --exclude=./mutants.out.old --exclude=./target/cuda \
  --exclude=./.venv-cuda -cf - . | tar -C "$scratch" -xf -
cd "$scratch"
# Called directly, not as `cargo mutants`, so the first argument is the subcommand's name.
"$here/with-libtorch.sh" "$bin" mutants --in-place --output "$root" --timeout "$timeout_s" \
  --cargo-arg=--locked "${tests[@]/#/--cargo-arg=}" "$@"
