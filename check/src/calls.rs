//! The calls between loaded modules: which module a `module "NAME" { source = "./..." }` block
//! loads, so a rule can follow a value into a child (`var.X` ← the call's argument `X`) or out of
//! it (`module.NAME.OUT` → the child's `output "OUT"`). Calls of registry or git modules, and of
//! local modules the loader did not load, resolve to nothing.

use hcl::edit::expr::{Expression, TraversalOperator};
use hcl::edit::structure::Block;
use hcl::edit::template::Element;

use super::loader::normalize;
use super::model::ModuleView;

/// One `module` block of a loaded module that loads another loaded module.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Index of the calling module in the slice [`resolve`] was given.
    pub caller: usize,
    /// Index of the called module.
    pub child: usize,
    pub name: &'a str,
    pub block: &'a Block,
}

/// Every call between `views`, in file order.
pub fn resolve<'a>(views: &[ModuleView<'a>]) -> Vec<Call<'a>> {
    let mut calls = Vec::new();
    for (caller, view) in views.iter().enumerate() {
        for file in &view.module.files {
            for block in file.body.get_blocks("module") {
                let [name] = block.labels.as_slice() else {
                    continue;
                };
                let Some(source) = block
                    .body
                    .get_attribute("source")
                    .and_then(|source| source.value.as_str())
                else {
                    continue;
                };
                if !(source.starts_with("./") || source.starts_with("../")) {
                    continue;
                }
                let dir = normalize(&view.module.dir.join(source));
                if let Some(child) = views.iter().position(|other| other.module.dir == dir) {
                    calls.push(Call {
                        caller,
                        child,
                        name: name.as_str(),
                        block,
                    });
                }
            }
        }
    }
    calls
}

/// `var.NAME`, alone or as the only part of a string template: the variable's name.
pub fn variable_name(expr: &Expression) -> Option<&str> {
    match plain_traversal(expr)?.as_slice() {
        ["var", name] => Some(name),
        _ => None,
    }
}

/// `module.CALL.OUTPUT`, alone or as the only part of a string template.
pub fn module_output(expr: &Expression) -> Option<(&str, &str)> {
    match plain_traversal(expr)?.as_slice() {
        ["module", call, output] => Some((call, output)),
        _ => None,
    }
}

/// The value expression of `output "NAME"` in `view`.
pub fn output_value<'a>(view: &ModuleView<'a>, name: &str) -> Option<&'a Expression> {
    view.module.files.iter().find_map(|file| {
        file.body
            .get_blocks("output")
            .find(|block| {
                block
                    .labels
                    .first()
                    .is_some_and(|label| label.as_str() == name)
            })
            .and_then(|block| block.body.get_attribute("value"))
            .map(|attribute| &attribute.value)
    })
}

/// `a.b.c` as `["a", "b", "c"]`: only attribute steps, no index or splat.
fn plain_traversal(expr: &Expression) -> Option<Vec<&str>> {
    let expr = match expr {
        Expression::StringTemplate(template) => {
            let mut elements = template.iter();
            match (elements.next(), elements.next()) {
                (Some(Element::Interpolation(interpolation)), None) => &interpolation.expr,
                _ => return None,
            }
        }
        other => other,
    };
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let mut parts = vec![traversal.expr.as_variable()?.as_str()];
    for operator in &traversal.operators {
        match operator.value() {
            TraversalOperator::GetAttr(name) => parts.push(name.as_str()),
            _ => return None,
        }
    }
    Some(parts)
}
