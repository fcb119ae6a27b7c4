//! `docs/` is the provider's Terraform registry documentation and holds nothing else (issue #17):
//! the registry publishes `index.md` and one page per resource, data source, ephemeral
//! resource, function or guide in their folders. `check`'s rule pages live in `check/rules/`,
//! and every relative link in them, and the README's links to them, must resolve.

// Helpers shared by the tests abort on broken fixtures: clippy.toml only exempts #[test] fns.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use zdd_check::rules::RULES_DIR;

/// The folders the registry reads under `docs/` (developer.hashicorp.com, "Provider
/// Documentation": `docs/index.md`, then `resources/`, `data-sources/`,
/// `ephemeral-resources/`, `functions/`, `guides/`, each of `<name>.md` pages).
const REGISTRY_FOLDERS: &[&str] = &[
    "resources",
    "data-sources",
    "ephemeral-resources",
    "functions",
    "guides",
];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Everything under `docs/` that the registry layout does not allow, as paths under `docs/`.
fn outside_registry_layout(docs: &Path) -> Vec<String> {
    let mut strays = Vec::new();
    for entry in fs::read_dir(docs).expect("docs/ exists") {
        let path = entry.expect("readable entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_file() {
            if name != "index.md" {
                strays.push(name);
            }
            continue;
        }
        if !REGISTRY_FOLDERS.contains(&name.as_str()) {
            strays.push(format!("{name}/"));
            continue;
        }
        for page in fs::read_dir(&path).expect("readable folder") {
            let page = page.expect("readable entry").path();
            let page_name = page.file_name().unwrap().to_string_lossy().into_owned();
            let is_page = page.is_file() && page_name.ends_with(".md");
            let has_front_matter = is_page
                && fs::read_to_string(&page)
                    .expect("readable page")
                    .starts_with("---\n");
            if !has_front_matter {
                strays.push(format!("{name}/{page_name}"));
            }
        }
    }
    strays.sort();
    strays
}

#[test]
fn docs_holds_only_the_registry_layout() {
    let docs = repository().join("docs");
    assert!(docs.join("index.md").is_file(), "docs/index.md is missing");
    assert!(
        docs.join("resources/rollout.md").is_file(),
        "the zdd_rollout page is missing"
    );
    assert_eq!(outside_registry_layout(&docs), Vec::<String>::new());
}

/// The check above must see what it rejects: the old rule folder, a stray file, a nested
/// folder and a page without front matter.
#[test]
fn a_rules_folder_or_stray_file_under_docs_is_rejected() {
    let docs = tempfile::tempdir().expect("tempdir");
    let root = docs.path();
    fs::write(root.join("index.md"), "---\n---\n").unwrap();
    fs::create_dir_all(root.join("resources/nested")).unwrap();
    fs::write(root.join("resources/rollout.md"), "---\n---\n").unwrap();
    fs::write(root.join("resources/bare.md"), "# no front matter\n").unwrap();
    fs::create_dir(root.join("rules")).unwrap();
    fs::write(root.join("rules/ZDD010.md"), "---\n---\n").unwrap();
    fs::write(root.join("notes.txt"), "").unwrap();
    assert_eq!(
        outside_registry_layout(root),
        vec![
            "notes.txt",
            "resources/bare.md",
            "resources/nested",
            "rules/"
        ]
    );
}

/// Markdown links `](target)` of a page that are neither URLs nor anchors.
fn relative_links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target))
        .map(|target| target.split('#').next().unwrap_or_default().to_owned())
        .filter(|target| !target.is_empty() && !target.contains("://"))
        .collect()
}

#[test]
fn relative_links_of_the_rule_pages_and_the_readme_resolve() {
    let rules = repository().join(RULES_DIR);
    let mut pages: Vec<PathBuf> = fs::read_dir(&rules)
        .expect("check/rules exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.push(repository().join("README.md"));
    let mut broken = Vec::new();
    for page in &pages {
        let text = fs::read_to_string(page).expect("readable page");
        for target in relative_links(&text) {
            let base = page.parent().expect("a page has a folder");
            if !base.join(&target).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert_eq!(broken, Vec::<String>::new());
    let readme = fs::read_to_string(repository().join("README.md")).expect("README.md");
    assert!(
        readme.contains(&format!("]({RULES_DIR}/)")),
        "README.md must link the rule pages at {RULES_DIR}/"
    );
    assert!(
        !readme.contains("docs/rules"),
        "README.md still names docs/rules"
    );
}
