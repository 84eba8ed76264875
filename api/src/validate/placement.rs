//! `spec.placement`: how many constraints, their fields and the values
//! their operators need.

use super::{Errors, at_most, has_control};
use crate::app::{AppSpec, MAX_CONSTRAINTS, Operator};

/// Compiled size allowed for a `LIKE`/`UNLIKE` regular expression.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub(super) fn placement(spec: &AppSpec, errs: &mut Errors) {
    let constraints = &spec.placement.constraints;
    // Each may be a regular expression to compile: count them first.
    if !at_most(
        errs,
        "spec.placement.constraints",
        constraints.len(),
        MAX_CONSTRAINTS,
        "constraints",
    ) {
        return;
    }
    for (i, c) in constraints.iter().enumerate() {
        let at = |f: &str| format!("spec.placement.constraints[{i}].{f}");
        let field = c.field.as_str();
        if field.is_empty() {
            errs.push(at("field"), "must not be empty: hostname or an agent attribute name");
        } else if has_control(field) || field.contains([' ', ':', ';', ',']) {
            errs.push(
                at("field"),
                format!("invalid field {field:?}: an attribute name has no spaces, ':', ';' or ','"),
            );
        }
        let op = c.operator;
        let value = c.value.as_deref();
        match op {
            Operator::Unique => {
                if value.is_some() {
                    errs.push(at("value"), "UNIQUE takes no value");
                }
            }
            Operator::Cluster | Operator::Is => match value {
                None | Some("") => errs.push(
                    at("value"),
                    format!("{op} needs a value: the value the field must have"),
                ),
                Some(_) => {}
            },
            Operator::Like | Operator::Unlike => match value {
                None => errs.push(at("value"), format!("{op} needs a value: a regular expression")),
                Some(re) => {
                    if let Err(e) = regex::RegexBuilder::new(&format!("^(?:{re})$"))
                        .size_limit(REGEX_SIZE_LIMIT)
                        .dfa_size_limit(REGEX_SIZE_LIMIT)
                        .build()
                    {
                        errs.push(
                            at("value"),
                            format!("invalid regular expression {re:?}: {}", regex_message(&e)),
                        );
                    }
                }
            },
            Operator::MaxPer => match value {
                None => errs.push(
                    at("value"),
                    "MAX_PER needs a value: the most tasks per value of the field",
                ),
                Some(v) => positive(v, op, &at("value"), errs),
            },
            Operator::GroupBy => {
                if let Some(v) = value {
                    positive(v, op, &at("value"), errs);
                }
            }
        }
    }
}

fn positive(v: &str, op: Operator, field: &str, errs: &mut Errors) {
    if !matches!(v.parse::<u32>(), Ok(n) if n > 0) {
        errs.push(field, format!("{op} takes a positive integer, found {v:?}"));
    }
}

/// The one-line gist of a regex error (syntax errors span several lines,
/// with a caret diagram).
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().next().unwrap_or_default())
        .to_string()
}
