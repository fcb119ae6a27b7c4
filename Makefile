# Two commands for a fresh machine: `make demo` and `make test`. Both run the set-up step first.
SHELL := /bin/bash
CARGO ?= cargo
VENV := $(CURDIR)/.venv
export CHECKPOINT_DISABLE := 1
# The tests and the demo find the terraform shim, python and moto here.
export ZDD_VENV := $(VENV)

.PHONY: setup build test test-python test-rust explore fuzz reliability stress demo fmt lint bench clean-venv

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace --all-targets

# The whole suite: the local-AWS health model (pytest), then every Rust crate
# (unit, simulator property tests, real terraform against the local AWS).
test: setup test-python test-rust

test-python: setup
	$(VENV)/bin/python -m pytest -q test-fixtures/localaws/tests

# One feature resolution for the whole run: every cargo command here selects the whole workspace
# with its dev-dependencies (`--tests`), so the build compiles each crate once and the test run
# compiles nothing more. Selecting less resolves features differently and compiles the stack
# again: `--bins` alone leaves out the dev-dependencies' features (regex's unicode tables,
# hashbrown's, similar's `inline`, ...), `-p terraform-provider-zdd` alone drops the other
# crates' (serde's, serde_json's), `--exclude terraform-provider-zdd` its tokio `test-util`: the
# three commands this replaced built the AWS SDK three times (#18, measured on a fresh machine).
# The end-to-end tests mostly wait (on the local AWS's health model, on terraform), 2 at a time
# (libtest's default on 2 cores). `make test TEST_THREADS=4` ran the provider's 777-796 s instead
# of 1,298 s on 2 cores, but at 4, with a build beside them, a kill -9 meant for a short phase
# landed after it (kill_phases) and a refresh wave split over more calls, and the guard's
# DynamoDB-locked tests saw terraform plan fail on its own lock, just written (one PutItem
# attempt answered late, the retry found the item).
TEST_THREADS ?= 2
# The run's output is kept in TEST_LOG, and after a failure the failed tests' own output (libtest's
# "failures:" sections: the panic message and what the test printed) is printed again at the very
# end: a CI log cut to its head and tail would otherwise lose it between the other crates' output.
TEST_LOG ?= $${CARGO_TARGET_DIR:-target}/test-rust.log
test-rust: setup
	$(CARGO) build --workspace --bins --tests
	@set -o pipefail; mkdir -p "$$(dirname $(TEST_LOG))"; \
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=$(TEST_THREADS) 2>&1 | tee $(TEST_LOG) \
	  || { status=$$?; echo; echo "==== the failed tests' output again (all of it: $(TEST_LOG)) ===="; \
	       awk '/^failures:$$/ { on = 1 } on { print } /^test result: FAILED/ { on = 0 }' $(TEST_LOG); \
	       exit $$status; }

# The simulator's property tests on new random scenarios (`make test` replays fixed ones):
# `make explore CASES=20000`. A failure prints the scenario; replay it with its seed.
CASES ?= 5000
explore:
	ZDD_PROPTEST_SEED=random PROPTEST_CASES=$(CASES) $(CARGO) test --release -p zdd-rollout --test rollout -- invariants:: abort:: listener_lag::

# The fuzz tests (`make test` replays a fixed few hundred cases each) on new random inputs:
# `make fuzz FUZZ_CASES=200000`. A failure prints the input; ZDD_PROPTEST_SEED=<number> replays.
FUZZ_CASES ?= 20000
fuzz:
	ZDD_PROPTEST_SEED=random PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test -p zdd-duration --lib -- fuzz::
	ZDD_PROPTEST_SEED=random PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test -p zdd-check --test check -- fuzz::
	ZDD_PROPTEST_SEED=random PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test -p zdd-tfplugin --test tfplugin -- fuzz::
	ZDD_PROPTEST_SEED=random PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test -p zdd-guard --test guard -- fuzz::

# RELIABILITY.md regenerated: the hostile suites (faults, kill -9 at every phase, guard
# contention, kill -9 of the guard) at their `make test` size, with the figures they publish.
reliability: setup
	bash scripts/reliability.sh

# The long runs of the same suites (guard contention: STRESS_TRIALS trials per locking kind;
# the others their own counts, see scripts/reliability.sh), then RELIABILITY.md. ~35 min on 2 cores.
STRESS_TRIALS ?= 100
stress: setup
	RELIABILITY_STRESS=1 STRESS_TRIALS=$(STRESS_TRIALS) RELIABILITY_COMMAND="make stress" bash scripts/reliability.sh

# A real run against the embedded local AWS (see README.md).
# The same build as `make test` (one feature resolution, see test-rust): after either, the other
# compiles nothing. `cargo run -p zdd-test-support` would resolve the demo's features alone and
# compile much of the AWS SDK again, so the binary is run directly.
demo: setup
	$(CARGO) build --workspace --bins --tests
	"$${CARGO_TARGET_DIR:-target}/debug/zdd-demo"

fmt:
	$(CARGO) fmt --all

# After setup: clippy builds tfplugin, whose build script needs protoc (a fresh CI machine has none).
lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Benchmarks print figures; they assert nothing about wall-clock time.
bench: setup
	$(CARGO) bench --workspace
	$(CARGO) build --release -p terraform-provider-zdd
	$(CARGO) test --workspace --test provider -- bench_rollouts:: bench_fleets:: bench_startup:: --ignored --nocapture --test-threads=1

clean-venv:
	rm -rf $(VENV)
