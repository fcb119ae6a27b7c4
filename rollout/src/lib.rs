//! zdd-rollout: the pure rollout engine (see ARCHITECTURE.md).
