//! Schemas of providers, resources and data sources, built with small builders:
//!
//! ```
//! use zdd_tfplugin::{Attribute, Schema};
//! let schema = Schema::new(1)
//!     .description("A thing.")
//!     .attribute(Attribute::string("id").computed().use_state_for_unknown())
//!     .attribute(Attribute::string("name").required().requires_replace().description("Its **name**."))
//!     .attribute(Attribute::number("size").optional())
//!     .timeouts(&["create", "delete"]);
//! assert_eq!(schema.version(), 1);
//! ```
//!
//! Descriptions are markdown. `requires_replace` and `use_state_for_unknown`
//! are plan behaviours applied by this crate (top-level attributes only); they
//! are not sent to Terraform.

use std::collections::BTreeMap;

use crate::Type;

/// How a nested attribute or block holds its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// One object (null when absent).
    Single,
    /// A list of objects.
    List,
    /// A set of objects.
    Set,
    /// A map of objects.
    Map,
    /// Blocks only: one object that is never null (its attributes are null when absent).
    Group,
}

/// What an attribute holds: a plain type or nested attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeKind {
    /// A value of a Terraform type.
    Type(Type),
    /// Nested attributes (`attr = { ... }` / `attr = [{ ... }]` syntax).
    Nested(Nesting, Vec<Attribute>),
}

/// One attribute of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub(crate) name: String,
    pub(crate) kind: AttributeKind,
    pub(crate) description: String,
    pub(crate) required: bool,
    pub(crate) optional: bool,
    pub(crate) computed: bool,
    pub(crate) sensitive: bool,
    pub(crate) write_only: bool,
    pub(crate) deprecated: bool,
    pub(crate) requires_replace: bool,
    pub(crate) use_state_for_unknown: bool,
}

impl Attribute {
    /// An attribute of type `ty`; mark it required, optional and/or computed.
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        Attribute {
            name: name.into(),
            kind: AttributeKind::Type(ty),
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: false,
            requires_replace: false,
            use_state_for_unknown: false,
        }
    }

    /// A `string` attribute.
    pub fn string(name: impl Into<String>) -> Self {
        Attribute::new(name, Type::String)
    }

    /// A `number` attribute.
    pub fn number(name: impl Into<String>) -> Self {
        Attribute::new(name, Type::Number)
    }

    /// A `bool` attribute.
    pub fn bool(name: impl Into<String>) -> Self {
        Attribute::new(name, Type::Bool)
    }

    /// A `list(element)` attribute.
    pub fn list(name: impl Into<String>, element: Type) -> Self {
        Attribute::new(name, Type::list(element))
    }

    /// A `set(element)` attribute.
    pub fn set(name: impl Into<String>, element: Type) -> Self {
        Attribute::new(name, Type::set(element))
    }

    /// A `map(element)` attribute.
    pub fn map(name: impl Into<String>, element: Type) -> Self {
        Attribute::new(name, Type::map(element))
    }

    /// An attribute holding nested attributes.
    pub fn nested(name: impl Into<String>, nesting: Nesting, attributes: Vec<Attribute>) -> Self {
        let mut attribute = Attribute::new(name, Type::Dynamic);
        attribute.kind = AttributeKind::Nested(nesting, attributes);
        attribute
    }

    /// Must be set in configuration.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// May be set in configuration.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Set by the provider (combine with `optional` for "optional + computed").
    pub fn computed(mut self) -> Self {
        self.computed = true;
        self
    }

    /// Hidden in Terraform's output.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Never stored in state or plan (Terraform 1.11+).
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    /// Shown as deprecated.
    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    /// A markdown description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// A change of this attribute replaces the resource.
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }

    /// A computed attribute keeps its prior value in plans instead of
    /// becoming "known after apply".
    pub fn use_state_for_unknown(mut self) -> Self {
        self.use_state_for_unknown = true;
        self
    }

    /// The attribute's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Terraform type of the attribute's value.
    pub fn value_type(&self) -> Type {
        match &self.kind {
            AttributeKind::Type(ty) => ty.clone(),
            AttributeKind::Nested(nesting, attributes) => {
                let object = Type::Object(
                    attributes
                        .iter()
                        .map(|a| (a.name.clone(), a.value_type()))
                        .collect(),
                );
                nest(*nesting, object)
            }
        }
    }
}

fn nest(nesting: Nesting, object: Type) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => object,
        Nesting::List => Type::list(object),
        Nesting::Set => Type::set(object),
        Nesting::Map => Type::map(object),
    }
}

/// A nested block (`name { ... }` syntax).
#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    pub(crate) type_name: String,
    pub(crate) block: Block,
    pub(crate) nesting: Nesting,
    pub(crate) min_items: i64,
    pub(crate) max_items: i64,
}

impl NestedBlock {
    /// A nested block type.
    pub fn new(type_name: impl Into<String>, nesting: Nesting, block: Block) -> Self {
        NestedBlock {
            type_name: type_name.into(),
            block,
            nesting,
            min_items: 0,
            max_items: 0,
        }
    }

    /// Item count limits (0 = no limit).
    pub fn items(mut self, min: i64, max: i64) -> Self {
        self.min_items = min;
        self.max_items = max;
        self
    }
}

/// A block: attributes and nested blocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) blocks: Vec<NestedBlock>,
    pub(crate) description: String,
    pub(crate) deprecated: bool,
}

impl Block {
    /// An empty block.
    pub fn new() -> Self {
        Block::default()
    }

    /// Adds an attribute.
    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Adds a nested block type.
    pub fn block(mut self, block: NestedBlock) -> Self {
        self.blocks.push(block);
        self
    }

    /// A markdown description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// The object type of this block's values.
    pub fn value_type(&self) -> Type {
        let mut attributes: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect();
        for nested in &self.blocks {
            attributes.insert(
                nested.type_name.clone(),
                nest(nested.nesting, nested.block.value_type()),
            );
        }
        Type::Object(attributes)
    }

    /// The attributes.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }
}

/// A versioned schema of a provider, resource or data source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    pub(crate) version: i64,
    pub(crate) block: Block,
}

impl Schema {
    /// An empty schema at `version` (bump it when the state layout changes
    /// and handle the old versions in `Resource::upgrade_state`).
    pub fn new(version: i64) -> Self {
        Schema {
            version,
            block: Block::new(),
        }
    }

    /// Adds an attribute.
    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.block = self.block.attribute(attribute);
        self
    }

    /// Adds a nested block type.
    pub fn block(mut self, block: NestedBlock) -> Self {
        self.block = self.block.block(block);
        self
    }

    /// A markdown description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.block = self.block.description(text);
        self
    }

    /// Adds the conventional `timeouts { create = "30m" ... }` block with one
    /// optional duration string per operation named (see [`crate::Timeouts`]).
    pub fn timeouts(self, operations: &[&str]) -> Self {
        let mut block = Block::new()
            .description("Time limits per operation, as durations like `30s`, `10m` or `1h30m`.");
        for operation in operations {
            block = block.attribute(Attribute::string(*operation).optional());
        }
        self.block(NestedBlock::new("timeouts", Nesting::Single, block))
    }

    /// The schema version.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The top-level block.
    pub fn root(&self) -> &Block {
        &self.block
    }

    /// The object type of values of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}
