//! What every expression-operator family shares: the evaluation scope (root document and
//! bound variables), the evaluator as a trait (so a family calls back into evaluation without
//! importing the evaluator), argument helpers, and the language's truthiness.

use bson::{Bson, Document};

use crate::engine::CommandError;
use crate::engine::compare::num;

/// Variables in scope during evaluation.
pub(super) struct Scope<'a> {
    /// The document evaluated against (`$$ROOT`, `$$CURRENT` and plain field paths).
    pub root: &'a Document,
    /// Variables bound by `$let`, `$map` and `$filter`, innermost last.
    pub vars: Vec<(String, Bson)>,
}

/// Evaluation of a sub-expression, as the operator families see it (implemented in the
/// evaluator, `expr/mod.rs`).
pub(super) trait Evaluate {
    /// Evaluates `e`; a missing result is `None`.
    fn ev(&mut self, e: &Bson) -> Result<Option<Bson>, CommandError>;

    /// Evaluates each argument.
    fn evn(&mut self, args: &[&Bson]) -> Result<Vec<Option<Bson>>, CommandError> {
        args.iter().map(|a| self.ev(a)).collect()
    }

    /// Evaluates the first argument (null when there is none).
    fn ev_first(&mut self, args: &[&Bson]) -> Result<Option<Bson>, CommandError> {
        self.ev(args.first().copied().unwrap_or(&Bson::Null))
    }
}

/// A `Location<code>` failure.
pub(super) fn err(code: i32, msg: impl Into<String>) -> CommandError {
    CommandError::new(code, &format!("Location{code}"), msg)
}

impl CommandError {
    fn with_name(mut self, name: &str) -> Self {
        self.code_name = name.into();
        self
    }
}

/// mongod's error for an operator it does not know.
pub(super) fn unknown(op: &str) -> CommandError {
    err(168, format!("Unrecognized expression '{op}'")).with_name("InvalidPipelineOperator")
}

/// An operator's arguments: the elements of an array argument, else the argument itself.
pub(super) fn args_of(arg: &Bson) -> Vec<&Bson> {
    match arg {
        Bson::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// Whether an evaluated value is null, undefined or missing.
pub(super) fn nullish(v: &Option<Bson>) -> bool {
    matches!(v, None | Some(Bson::Null) | Some(Bson::Undefined))
}

/// Refuses an operator called with other than `n` arguments.
pub(super) fn need_args(op: &str, args: &[&Bson], n: usize) -> Result<(), CommandError> {
    if args.len() != n {
        return Err(err(
            16020,
            format!("Expression {op} takes exactly {n} arguments. {} were passed in.", args.len()),
        ));
    }
    Ok(())
}

/// Truthiness in the aggregation language: false, null, missing, undefined and 0 are false.
pub fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        other => num(other).is_none_or(|n| n.as_f64() != 0.0),
    }
}
