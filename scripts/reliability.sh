#!/usr/bin/env bash
# Regenerates RELIABILITY.md: runs the hostile suites of issue 15 (and the retry/budget and
# guarded-apply-under-faults tests that publish records too) with ZDD_RELIABILITY_DIR set
# (each trial publishes a record there), times each suite, and renders the records.
#
#   make reliability                 # the suites at their `make test` size
#   make stress                      # the long runs: each suite's own trial count (below);
#                                    # STRESS_TRIALS=N sets guard contention's (default 100)
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

# Every cargo command selects the whole workspace with its dev-dependencies, as `make test` does:
# one feature resolution, so nothing is compiled twice (a `-p` selection resolves differently).
"$CARGO" build --workspace --bins --tests

# suite name <TAB> trials under `make stress` (0: the suite has no trials) <TAB> cargo arguments.
# Under stress (RELIABILITY_STRESS=1) each suite runs its own count: 100 contention trials take
# ~12 min on 2 cores, one round of every kill phase ~4 min, one seed per strategy ~2 min.
SUITES=(
  "rollouts under faults	3	test --workspace --test provider -- hostile::"
  "retries and rate budget	0	test --workspace --test provider -- aws_budget::"
  "kill -9 at every phase	2	test --workspace --test provider -- kill_phases::"
  "guard contention	${STRESS_TRIALS:-100}	test --workspace --test guard -- contention::"
  "kill -9 of the guard	0	test --workspace --test guard -- guard_kill::"
  "guarded apply under faults	0	test --workspace --test guard -- guard_hostile::"
)
label=$LABEL
for entry in "${SUITES[@]}"; do
  IFS=$'\t' read -r suite stress_trials args <<< "$entry"
  unset ZDD_STRESS_TRIALS
  if [[ ${RELIABILITY_STRESS:-0} == 1 && $stress_trials != 0 ]]; then
    export ZDD_STRESS_TRIALS=$stress_trials
    label="$label; $suite: $stress_trials trials"
  fi
  echo "== $suite: ${ZDD_STRESS_TRIALS:+ZDD_STRESS_TRIALS=$ZDD_STRESS_TRIALS }cargo $args"
  started=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$CARGO" $args
  ended=$(date +%s.%N)
  printf '%s\tcargo %s\t%s\n' "$suite" "$args" "$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')" >> "$DIR/suite-times.tsv"
done
unset ZDD_STRESS_TRIALS

machine="$(nproc) cores, $(uname -sm), $(awk '/MemTotal/ {printf "%.0f GB RAM", $2/1048576}' /proc/meminfo)"
commit=$(git describe --always --dirty)
"${CARGO_TARGET_DIR:-target}/debug/zdd-reliability" \
  "$DIR" "$OUT" "$commit" "$machine" "$label" "$(date -u +%Y-%m-%d)"
