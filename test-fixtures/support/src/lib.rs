//! zdd-test-support: dev-only test bed for integration tests.
