#!/usr/bin/env bash
# Regenerates RELIABILITY.md: runs the hostile suites of issue 15 (and the retry/budget and
# guarded-apply-under-faults tests that publish records too) with ZDD_RELIABILITY_DIR set
# (each trial publishes a record there), times each suite, and renders the records.
#
#   make reliability                 # the suites at their `make test` size
#   make stress STRESS_TRIALS=100    # the long runs: ZDD_STRESS_TRIALS trials where a suite has trials
#
# A suite that fails stops the script before RELIABILITY.md is written: a published table only
# ever shows runs whose assertions held.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CARGO=${CARGO:-cargo}
OUT=${RELIABILITY_OUT:-RELIABILITY.md}
LABEL=${RELIABILITY_COMMAND:-make reliability}
DIR=$(pwd)/target/reliability
rm -rf "$DIR"
mkdir -p "$DIR"
export ZDD_RELIABILITY_DIR=$DIR

"$CARGO" build --workspace --bins

# suite name <TAB> cargo arguments
SUITES=(
  "rollouts under faults	test -p terraform-provider-zdd --test provider -- hostile::"
  "retries and rate budget	test -p terraform-provider-zdd --test provider -- aws_budget::"
  "kill -9 at every phase	test -p terraform-provider-zdd --test provider -- kill_phases::"
  "guard contention	test -p zdd-guard --test guard -- contention::"
  "kill -9 of the guard	test -p zdd-guard --test guard -- guard_kill::"
  "guarded apply under faults	test -p zdd-guard --test guard -- guard_hostile::"
)
for entry in "${SUITES[@]}"; do
  suite=${entry%%	*}
  args=${entry#*	}
  echo "== $suite: cargo $args"
  started=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$CARGO" $args
  ended=$(date +%s.%N)
  printf '%s\tcargo %s\t%s\n' "$suite" "$args" "$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')" >> "$DIR/suite-times.tsv"
done

machine="$(nproc) cores, $(uname -sm), $(awk '/MemTotal/ {printf "%.0f GB RAM", $2/1048576}' /proc/meminfo)"
commit=$(git describe --always --dirty)
"$CARGO" run -q -p zdd-test-support --bin zdd-reliability -- \
  "$DIR" "$OUT" "$commit" "$machine" "$LABEL${ZDD_STRESS_TRIALS:+ (ZDD_STRESS_TRIALS=$ZDD_STRESS_TRIALS)}" "$(date -u +%Y-%m-%d)"
