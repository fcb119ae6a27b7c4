//! ZDD001, ZDD002: the state backend of the root module.

use hcl::edit::Span;
use hcl::edit::structure::Block;

use super::super::finding::Finding;
use super::super::model::{ModuleView, attribute_span, nested_block};
use super::super::source::SourceFile;
use super::super::value::Value;

pub fn check(module: &ModuleView<'_>, out: &mut Vec<Finding>) {
    if !module.module.is_root {
        return; // Backends of called modules are ignored by Terraform.
    }
    let mut has_backend = false;
    for (file, terraform) in &module.terraform_blocks {
        if nested_block(&terraform.body, "cloud").is_some() {
            has_backend = true; // HCP Terraform locks every run itself.
        }
        for backend in terraform.body.get_blocks("backend") {
            has_backend = true;
            match backend.labels.first().map(|label| label.as_str()) {
                Some("s3") => check_s3(module, file, backend, out),
                Some("local") => out.push(module.finding(
                    "ZDD001",
                    file,
                    backend.span(),
                    "backend \"local\"",
                    "the local backend keeps state on one machine and cannot lock it against applies elsewhere",
                )),
                _ => {} // gcs, azurerm, consul, pg, http, remote: they lock natively.
            }
        }
    }
    if !has_backend
        && declares_infrastructure(module)
        && let Some((file, span)) = no_backend_anchor(module)
    {
        out.push(module.finding(
            "ZDD001",
            file,
            span,
            "terraform",
            "no backend is configured: state is local to whoever runs terraform and nothing locks it",
        ));
    }
}

fn check_s3(module: &ModuleView<'_>, file: &SourceFile, backend: &Block, out: &mut Vec<Finding>) {
    if backend.body.is_empty() {
        // A partial configuration completed by `-backend-config` at init: not ours to guess.
        return;
    }
    let dynamodb = module.value(&backend.body, "dynamodb_table");
    let lockfile = module.value(&backend.body, "use_lockfile");
    let dynamodb_locks = match &dynamodb {
        None | Some(Value::Null) => false,
        Some(Value::String(table)) => !table.is_empty(),
        Some(_) => true,
    };
    let lockfile_locks = match &lockfile {
        None | Some(Value::Null) => false,
        Some(value) => value.as_bool() != Some(false),
    };
    if !dynamodb_locks && !lockfile_locks {
        out.push(module.finding(
            "ZDD001",
            file,
            backend.span(),
            "backend \"s3\"",
            "the S3 backend has neither `use_lockfile = true` nor `dynamodb_table`: concurrent applies are not locked out",
        ));
    }
    match module.value(&backend.body, "encrypt") {
        None => out.push(module.finding(
            "ZDD002",
            file,
            backend.span(),
            "backend \"s3\"",
            "the S3 backend does not set `encrypt = true`: state (and the secrets in it) is written without server-side encryption requested",
        )),
        Some(value) if value.as_bool() == Some(false) => out.push(module.finding(
            "ZDD002",
            file,
            attribute_span(&backend.body, "encrypt", backend.span()),
            "backend \"s3\"",
            "the S3 backend sets `encrypt = false`: state (and the secrets in it) is written without server-side encryption requested",
        )),
        Some(_) => {}
    }
}

fn declares_infrastructure(module: &ModuleView<'_>) -> bool {
    module.module.files.iter().any(|file| {
        file.body
            .blocks()
            .any(|block| matches!(block.ident.as_str(), "resource" | "module"))
    })
}

/// Where "no backend" is reported: the first `terraform` block, else the first block of all.
fn no_backend_anchor<'a>(
    module: &ModuleView<'a>,
) -> Option<(&'a SourceFile, Option<std::ops::Range<usize>>)> {
    if let Some((file, block)) = module.terraform_blocks.first() {
        return Some((file, block.span()));
    }
    module
        .module
        .files
        .iter()
        .find_map(|file| file.body.blocks().next().map(|block| (file, block.span())))
}
