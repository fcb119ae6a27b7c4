//! A read-only view of one Terraform module (one directory): its files, resources, `terraform`
//! blocks and locals, with helpers the rule families share.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use hcl::edit::Span;
use hcl::edit::structure::{Attribute, Block, Body};

use super::finding::{Finding, Severity};
use super::rules;
use super::source::SourceFile;
use super::value::{Scope, Value};

/// One module directory and its parsed files.
#[derive(Debug)]
pub struct Module {
    pub dir: PathBuf,
    /// The directory `check` was pointed at (backend rules apply only there).
    pub is_root: bool,
    pub files: Vec<SourceFile>,
}

/// A `resource "TYPE" "NAME" { ... }` block.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub file: &'a SourceFile,
    pub block: &'a Block,
    pub resource_type: &'a str,
    pub name: &'a str,
}

impl<'a> Resource<'a> {
    /// `TYPE.NAME`, as Terraform names the resource.
    pub fn address(&self) -> String {
        format!("{}.{}", self.resource_type, self.name)
    }

    pub fn body(&self) -> &'a Body {
        &self.block.body
    }
}

/// Everything the rules look at in one module.
#[derive(Debug)]
pub struct ModuleView<'a> {
    pub module: &'a Module,
    pub scope: Scope<'a>,
    pub resources: Vec<Resource<'a>>,
    /// `terraform { ... }` blocks with the file holding each.
    pub terraform_blocks: Vec<(&'a SourceFile, &'a Block)>,
    /// `variable "NAME" { ... }` blocks by name.
    pub variables: HashMap<&'a str, &'a Block>,
}

impl<'a> ModuleView<'a> {
    pub fn new(module: &'a Module) -> Self {
        let mut locals = HashMap::new();
        let mut resources = Vec::new();
        let mut terraform_blocks = Vec::new();
        let mut variables = HashMap::new();
        for file in &module.files {
            for block in file.body.blocks() {
                match block.ident.as_str() {
                    "locals" => {
                        for attribute in block.body.attributes() {
                            locals.insert(attribute.key.as_str(), &attribute.value);
                        }
                    }
                    "terraform" => terraform_blocks.push((file, block)),
                    "variable" => {
                        if let [name] = block.labels.as_slice() {
                            variables.insert(name.as_str(), block);
                        }
                    }
                    "resource" => {
                        if let [resource_type, name] = block.labels.as_slice() {
                            resources.push(Resource {
                                file,
                                block,
                                resource_type: resource_type.as_str(),
                                name: name.as_str(),
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        Self {
            module,
            scope: Scope::new(locals),
            resources,
            terraform_blocks,
            variables,
        }
    }

    /// Resources of any of `types`, in file order.
    pub fn resources_of<'s>(
        &'s self,
        types: &'s [&'s str],
    ) -> impl Iterator<Item = &'s Resource<'a>> + 's {
        self.resources
            .iter()
            .filter(move |resource| types.contains(&resource.resource_type))
    }

    /// The resource `TYPE.NAME` of this module, if it is declared here.
    pub fn resource(&self, resource_type: &str, name: &str) -> Option<&Resource<'a>> {
        self.resources
            .iter()
            .find(|resource| resource.resource_type == resource_type && resource.name == name)
    }

    /// The static value of attribute `key` of `body`; `None` when the attribute is absent.
    pub fn value(&self, body: &Body, key: &str) -> Option<Value> {
        body.get_attribute(key)
            .map(|attribute| self.scope.eval(&attribute.value))
    }

    /// An attribute written as `key = { ... }` or a block written as `key { ... }`, as a value.
    pub fn attribute_or_block(
        &self,
        body: &Body,
        key: &str,
    ) -> Option<(Value, Option<Range<usize>>)> {
        if let Some(attribute) = body.get_attribute(key) {
            return Some((self.scope.eval(&attribute.value), attribute.span()));
        }
        let block = nested_block(body, key)?;
        Some((self.block_value(&block.body), block.span()))
    }

    fn block_value(&self, body: &Body) -> Value {
        let mut entries: Vec<(String, Value)> = body
            .attributes()
            .map(|attribute| {
                (
                    attribute.key.as_str().to_owned(),
                    self.scope.eval(&attribute.value),
                )
            })
            .collect();
        for block in body.blocks() {
            let nested = self.block_value(&block.body);
            let key = block.ident.as_str();
            match entries.iter_mut().find(|(name, _)| name == key) {
                Some((_, Value::List(items))) => items.push(nested),
                _ => entries.push((key.to_owned(), Value::List(vec![nested]))),
            }
        }
        Value::Object(entries)
    }

    /// A finding of `rule_id` at `span` of `file`, with the rule's default severity.
    pub fn finding(
        &self,
        rule_id: &'static str,
        file: &SourceFile,
        span: Option<Range<usize>>,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        let severity = rules::rule(rule_id).map_or(Severity::Error, |rule| rule.severity);
        Finding {
            rule_id,
            severity,
            file: file.path.clone(),
            region: file.region(span),
            subject: subject.into(),
            message: message.into(),
        }
    }
}

/// The first nested block `ident` of `body`.
pub fn nested_block<'b>(body: &'b Body, ident: &str) -> Option<&'b Block> {
    body.blocks().find(|block| block.ident.as_str() == ident)
}

/// The span of attribute `key` of `body`, falling back to `fallback` when it is absent.
pub fn attribute_span(
    body: &Body,
    key: &str,
    fallback: Option<Range<usize>>,
) -> Option<Range<usize>> {
    body.get_attribute(key)
        .and_then(Attribute::span)
        .or(fallback)
}
