//! The committed registry docs match the schema descriptions.
//! Regenerate with `ZDD_UPDATE_DOCS=1 cargo test -p terraform-provider-zdd --test provider -- docs::`.

use std::path::PathBuf;

use terraform_provider_zdd::docs::{render_index, render_rollout};

// A helper, not a #[test] fn: a failed write must fail the test loudly.
#[allow(clippy::unwrap_used)]
fn check(relative: &str, expected: String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    if std::env::var_os("ZDD_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{relative} is stale: run `ZDD_UPDATE_DOCS=1 cargo test -p terraform-provider-zdd --test provider -- docs::` and commit it"
    );
}

#[test]
fn index_is_current() {
    check("docs/index.md", render_index());
}

#[test]
fn rollout_resource_doc_is_current() {
    check("docs/resources/rollout.md", render_rollout());
}
