//! zdd-guard: not yet implemented (issue 6).
fn main() {
    eprintln!("zdd-guard: not yet implemented");
    std::process::exit(1);
}
