//! Simulator (see mod docs).
