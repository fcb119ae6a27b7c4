//! Static evaluation of HCL expressions: literals, literal collections, string templates made of
//! literals, and `local.*` references to such values. Everything else is [`Value::Unknown`]: rules
//! leave unknown values alone instead of guessing what Terraform would compute.

use std::cell::Cell;
use std::collections::HashMap;

use hcl::edit::expr::{Expression, TraversalOperator};
use hcl::edit::template::Element;

/// A statically known value, or `Unknown`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// The length of a list literal is known even when its elements are not.
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
    Unknown,
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// A number, or a string holding one (Terraform converts "30" to 30 for number attributes).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(number) => Some(*number),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// A bool, or the strings "true"/"false" (Terraform converts them for bool attributes).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(flag) => Some(*flag),
            Value::String(text) if text == "true" => Some(true),
            Value::String(text) if text == "false" => Some(false),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }
}

/// Deepest chain of `local.a -> local.b -> ...` followed; a cycle is an error Terraform reports.
const MAX_LOCAL_DEPTH: usize = 16;

/// Expressions one evaluation may visit. Locals are expanded, not memoised, so a local that
/// names the one below it several times per level would cost exponentially many visits (three
/// per level over 16 levels: 43 million); past the budget the value is unknown, and rules stay
/// silent on unknown values.
const MAX_EVALUATION_STEPS: usize = 10_000;

/// Longest string an evaluation builds; longer is unknown (a name or version is far shorter).
const MAX_STRING_BYTES: usize = 64 * 1024;

/// The `locals` of one module, by name.
#[derive(Debug, Default)]
pub struct Scope<'a> {
    locals: HashMap<&'a str, &'a Expression>,
}

impl<'a> Scope<'a> {
    pub fn new(locals: HashMap<&'a str, &'a Expression>) -> Self {
        Self { locals }
    }

    pub fn eval(&self, expr: &Expression) -> Value {
        let steps = Cell::new(Some(MAX_EVALUATION_STEPS));
        let value = self.eval_at_depth(expr, 0, &steps);
        // A value cut short is not the value: a list with its tail unknown would mislead a rule.
        if steps.get().is_none() {
            return Value::Unknown;
        }
        value
    }

    fn eval_at_depth(&self, expr: &Expression, depth: usize, steps: &Cell<Option<usize>>) -> Value {
        let left = steps.get().and_then(|left| left.checked_sub(1));
        steps.set(left);
        if left.is_none() {
            return Value::Unknown;
        }
        match expr {
            Expression::Null(_) => Value::Null,
            Expression::Bool(flag) => Value::Bool(*flag.value()),
            Expression::Number(number) => number.as_f64().map_or(Value::Unknown, Value::Number),
            Expression::String(text) => Value::String(text.value().clone()),
            Expression::Array(array) => Value::List(
                array
                    .iter()
                    .map(|item| self.eval_at_depth(item, depth, steps))
                    .collect(),
            ),
            Expression::Object(object) => {
                let mut entries = Vec::with_capacity(object.len());
                for (key, value) in object.iter() {
                    let key = match key {
                        hcl::edit::expr::ObjectKey::Ident(ident) => ident.as_str().to_owned(),
                        hcl::edit::expr::ObjectKey::Expression(key) => {
                            match self.eval_at_depth(key, depth, steps) {
                                Value::String(text) => text,
                                _ => return Value::Unknown,
                            }
                        }
                    };
                    entries.push((key, self.eval_at_depth(value.expr(), depth, steps)));
                }
                Value::Object(entries)
            }
            Expression::StringTemplate(template) => {
                self.eval_template(template.iter(), depth, steps)
            }
            Expression::Parenthesis(inner) => self.eval_at_depth(inner.inner(), depth, steps),
            Expression::Traversal(traversal) => self.eval_local(traversal, depth, steps),
            _ => Value::Unknown,
        }
    }

    fn eval_template<'e>(
        &self,
        elements: impl Iterator<Item = &'e Element>,
        depth: usize,
        steps: &Cell<Option<usize>>,
    ) -> Value {
        let mut text = String::new();
        for element in elements {
            match element {
                Element::Literal(literal) => text.push_str(literal.value()),
                Element::Interpolation(interpolation) => {
                    match self.eval_at_depth(&interpolation.expr, depth, steps) {
                        Value::String(part) => text.push_str(&part),
                        Value::Number(number) => text.push_str(&format_number(number)),
                        Value::Bool(flag) => text.push_str(if flag { "true" } else { "false" }),
                        _ => return Value::Unknown,
                    }
                }
                Element::Directive(_) => return Value::Unknown,
            }
            if text.len() > MAX_STRING_BYTES {
                return Value::Unknown;
            }
        }
        Value::String(text)
    }

    fn eval_local(
        &self,
        traversal: &hcl::edit::expr::Traversal,
        depth: usize,
        steps: &Cell<Option<usize>>,
    ) -> Value {
        let Some(root) = traversal.expr.as_variable() else {
            return Value::Unknown;
        };
        if root.as_str() != "local" || depth >= MAX_LOCAL_DEPTH {
            return Value::Unknown;
        }
        let mut operators = traversal.operators.iter();
        let Some(TraversalOperator::GetAttr(name)) = operators.next().map(|op| op.value()) else {
            return Value::Unknown;
        };
        let Some(definition) = self.locals.get(name.as_str()) else {
            return Value::Unknown;
        };
        let mut value = self.eval_at_depth(definition, depth + 1, steps);
        for operator in operators {
            value = match (operator.value(), &value) {
                (TraversalOperator::GetAttr(key), Value::Object(_)) => {
                    value.get(key.as_str()).cloned().unwrap_or(Value::Unknown)
                }
                (TraversalOperator::Index(index), Value::List(items)) => {
                    match self.eval_at_depth(index, depth + 1, steps).as_number() {
                        Some(position) if position >= 0.0 && position.fract() == 0.0 => items
                            .get(position as usize)
                            .cloned()
                            .unwrap_or(Value::Unknown),
                        _ => Value::Unknown,
                    }
                }
                _ => Value::Unknown,
            };
        }
        value
    }
}

fn format_number(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        format!("{number}")
    }
}

/// `aws_lb_target_group.web.arn` → `("aws_lb_target_group", "web")`: the resource an expression
/// refers to, when it is a plain reference to a managed resource of this module.
pub fn resource_reference(expr: &Expression) -> Option<(&str, &str)> {
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let resource_type = traversal.expr.as_variable()?.as_str();
    if matches!(
        resource_type,
        "var" | "local" | "module" | "data" | "each" | "count" | "path" | "self"
    ) {
        return None;
    }
    match traversal.operators.first().map(|op| op.value()) {
        Some(TraversalOperator::GetAttr(name)) => Some((resource_type, name.as_str())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_in(body: &str, expr: &str) -> Value {
        let body = hcl::edit::parser::parse_body(body).unwrap();
        let mut locals = HashMap::new();
        for block in body.get_blocks("locals") {
            for attribute in block.body.attributes() {
                locals.insert(attribute.key.as_str(), &attribute.value);
            }
        }
        let expr = hcl::edit::parser::parse_expr(expr).unwrap();
        Scope::new(locals).eval(&expr)
    }

    #[test]
    fn literals_templates_and_locals_resolve() {
        let locals =
            "locals {\n  v = \"$Latest\"\n  n = 30\n  o = { a = [1, 2] }\n  loop = local.loop\n}\n";
        assert_eq!(eval_in(locals, "local.v"), Value::String("$Latest".into()));
        assert_eq!(
            eval_in(locals, "\"x-${local.n}\""),
            Value::String("x-30".into())
        );
        assert_eq!(eval_in(locals, "local.o.a[1]"), Value::Number(2.0));
        assert_eq!(eval_in(locals, "local.loop"), Value::Unknown);
    }

    #[test]
    fn variables_and_resource_attributes_stay_unknown() {
        assert_eq!(eval_in("", "var.version"), Value::Unknown);
        assert_eq!(
            eval_in("", "\"${aws_launch_template.a.id}\""),
            Value::Unknown
        );
        assert_eq!(
            eval_in("", "[var.a, var.b]").as_list().map(<[Value]>::len),
            Some(2)
        );
    }

    #[test]
    fn resource_references_name_type_and_name() {
        let expr = hcl::edit::parser::parse_expr("aws_lb_target_group.web.arn").unwrap();
        assert_eq!(
            resource_reference(&expr),
            Some(("aws_lb_target_group", "web"))
        );
        let expr = hcl::edit::parser::parse_expr("var.arn").unwrap();
        assert_eq!(resource_reference(&expr), None);
    }
}
