//! Benchmark of `zdd-guard check` over a generated tree of 1,000 `.tf` files (placeholder).
fn main() {}
