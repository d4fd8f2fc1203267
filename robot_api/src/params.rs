//! Typed skill parameters, declared once. A skill's handler takes a struct
//! (declared with [`skill_params!`]: field names, types and defaults) decoded
//! once from the checked arguments, never a fallback value. The same struct
//! declares the parameters: when the skill is added its fields join the
//! skill's declaration, from which the Python signature, the docstring, the
//! JSON tool schema and the argument checks on both sides of the sandbox
//! are made. A parameter declared by hand beside them, or read but not
//! declared, fails at start-up, in every test that builds the skill set.

use crate::error::{ErrorKind, SkillError};
use crate::registry::Args;
use crate::spec::{ParamType, SkillSpec};
use crate::value::Value;

/// A Rust type a parameter decodes into.
pub trait FromValue: Sized {
    /// Whether every value a parameter declared as `ty` accepts decodes into this type.
    fn fits(ty: &ParamType) -> bool;
    /// The decoded value; `None` if the value is of another type.
    fn from_value(value: &Value) -> Option<Self>;
    /// The parameter type a field of this type declares.
    fn param_type() -> ParamType;
    /// This as a value (a parameter's default).
    fn into_value(self) -> Value;
}

impl FromValue for f64 {
    fn fits(ty: &ParamType) -> bool {
        *ty == ParamType::Float
    }
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
    fn param_type() -> ParamType {
        ParamType::Float
    }
    fn into_value(self) -> Value {
        Value::Float(self)
    }
}

impl FromValue for i64 {
    fn fits(ty: &ParamType) -> bool {
        *ty == ParamType::Int
    }
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    fn param_type() -> ParamType {
        ParamType::Int
    }
    fn into_value(self) -> Value {
        Value::Int(self)
    }
}

impl FromValue for bool {
    fn fits(ty: &ParamType) -> bool {
        *ty == ParamType::Bool
    }
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn param_type() -> ParamType {
        ParamType::Bool
    }
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
}

impl FromValue for String {
    fn fits(ty: &ParamType) -> bool {
        *ty == ParamType::Str
    }
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn param_type() -> ParamType {
        ParamType::Str
    }
    fn into_value(self) -> Value {
        Value::Str(self)
    }
}

/// Any value, as it came.
impl FromValue for Value {
    fn fits(_: &ParamType) -> bool {
        true
    }
    fn from_value(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
    fn param_type() -> ParamType {
        ParamType::Any
    }
    fn into_value(self) -> Value {
        self
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn fits(ty: &ParamType) -> bool {
        matches!(ty, ParamType::Optional(inner) if T::fits(inner))
    }
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::None => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
    fn param_type() -> ParamType {
        ParamType::Optional(Box::new(T::param_type()))
    }
    fn into_value(self) -> Value {
        self.map_or(Value::None, T::into_value)
    }
}

/// A skill's parameters as one typed struct.
pub trait FromArgs: Sized {
    /// The declaration with this struct's parameters added, in field order
    /// (what [`skill_params!`] generates; the skill set adds them when the
    /// skill is added, so they are declared once). Others add none.
    fn declare(spec: SkillSpec) -> SkillSpec {
        spec
    }
    /// Checks the struct against a declaration: the same names, fitting types.
    fn check_spec(spec: &SkillSpec) -> Result<(), ParamsMismatch>;
    /// Decodes checked arguments.
    fn from_args(args: &Args<'_>) -> Result<Self, SkillError>;
}

/// All the arguments as checked values, in declaration order: for skills
/// declared at run time (from a robot profile), whose parameters no Rust
/// struct names.
#[derive(Debug, Clone, PartialEq)]
pub struct AnyArgs(pub Vec<Value>);

impl FromArgs for AnyArgs {
    fn check_spec(_spec: &SkillSpec) -> Result<(), ParamsMismatch> {
        Ok(())
    }

    fn from_args(args: &Args<'_>) -> Result<Self, SkillError> {
        Ok(AnyArgs(args.values().to_vec()))
    }
}

/// No parameters.
impl FromArgs for () {
    fn check_spec(spec: &SkillSpec) -> Result<(), ParamsMismatch> {
        match spec.params.first() {
            None => Ok(()),
            Some(p) => Err(ParamsMismatch::TakesNone(p.name.clone())),
        }
    }
    fn from_args(_: &Args<'_>) -> Result<Self, SkillError> {
        Ok(())
    }
}

/// How a skill's parameter struct and its declaration disagree (a bug in
/// the skill, found when it is added).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsMismatch {
    /// The handler takes no parameters, but one is declared.
    #[error("the handler takes no parameters, but '{0}' is declared")]
    TakesNone(String),
    /// The handler reads a parameter that is not declared.
    #[error("the handler reads '{0}', which is not a declared parameter")]
    NotDeclared(String),
    /// The handler reads a parameter as a type its declaration does not always give.
    #[error("the handler reads '{name}' as {rust}, which a parameter declared as {declared} does not always give")]
    WrongType {
        /// The parameter.
        name: String,
        /// The Rust type read.
        rust: &'static str,
        /// The declared type, as Python writes it.
        declared: String,
    },
    /// A declared parameter the handler never reads.
    #[error("the parameter '{0}' is declared but the handler never reads it")]
    NeverRead(String),
}

/// Checks one field of a parameter struct against a declaration (used by [`skill_params!`]).
pub fn check_field<T: FromValue>(spec: &SkillSpec, name: &str) -> Result<(), ParamsMismatch> {
    let param = spec
        .params
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ParamsMismatch::NotDeclared(name.into()))?;
    if T::fits(&param.ty) {
        Ok(())
    } else {
        Err(ParamsMismatch::WrongType {
            name: name.into(),
            rust: std::any::type_name::<T>(),
            declared: param.ty.annotation(),
        })
    }
}

/// Decodes one field (used by [`skill_params!`]): an error, never a panic or a default.
pub fn take<T: FromValue>(args: &Args<'_>, name: &str) -> Result<T, SkillError> {
    let skill = &args.spec().name;
    let value = args.value(name).ok_or_else(|| {
        SkillError::new(
            ErrorKind::Robot,
            format!("{skill}(): the skill reads a parameter '{name}' it does not declare; this is a bug in the skill"),
        )
    })?;
    T::from_value(value).ok_or_else(|| {
        SkillError::invalid(format!(
            "{skill}(): argument '{name}' is {}, which this skill cannot take",
            value.type_name()
        ))
    })
}

/// Declares a struct of skill parameters: the skill's parameters (in field
/// order, `= default` for an optional one) and their [`FromArgs`] decoding.
/// Field names are the Python parameter names (`r#type` for `type`).
///
/// ```
/// robot_api::skill_params! {
///     /// `move_to`'s parameters.
///     pub struct MoveTo { x: f64, y: f64, theta: Option<f64> = None, timeout: f64 = 120.0 }
/// }
/// ```
#[macro_export]
macro_rules! skill_params {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident : $ty:ty $(= $default:expr)?),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        #[allow(missing_docs)]
        $vis struct $name { $(pub $field: $ty),* }

        impl $crate::params::FromArgs for $name {
            fn declare(spec: $crate::SkillSpec) -> $crate::SkillSpec {
                $( let spec = $crate::__skill_param!(spec, $field, $ty $(, $default)?); )*
                spec
            }
            fn check_spec(spec: &$crate::SkillSpec) -> Result<(), $crate::params::ParamsMismatch> {
                let fields: &[&str] = &[$(stringify!($field).trim_start_matches("r#")),*];
                $( $crate::params::check_field::<$ty>(spec, stringify!($field).trim_start_matches("r#"))?; )*
                if let Some(p) = spec.params.iter().find(|p| !fields.contains(&p.name.as_str())) {
                    return Err($crate::params::ParamsMismatch::NeverRead(p.name.clone()));
                }
                Ok(())
            }
            fn from_args(args: &$crate::Args<'_>) -> Result<Self, $crate::SkillError> {
                Ok($name { $($field: $crate::params::take(args, stringify!($field).trim_start_matches("r#"))?),* })
            }
        }
    };
}

/// One parameter of a [`skill_params!`] struct added to a declaration.
#[doc(hidden)]
#[macro_export]
macro_rules! __skill_param {
    ($spec:ident, $field:ident, $ty:ty) => {
        $spec.param(
            stringify!($field).trim_start_matches("r#"),
            <$ty as $crate::params::FromValue>::param_type(),
        )
    };
    ($spec:ident, $field:ident, $ty:ty, $default:expr) => {{
        let default: $ty = $default;
        $spec.param_default(
            stringify!($field).trim_start_matches("r#"),
            <$ty as $crate::params::FromValue>::param_type(),
            $crate::params::FromValue::into_value(default),
        )
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{CallContext, SkillSet};

    skill_params! {
        struct Go { x: f64, name: String, theta: Option<f64> = None, r#type: Option<String> = None, any: Value = Value::None }
    }

    fn spec() -> SkillSpec {
        SkillSpec::new("go", "Go.")
    }

    #[test]
    fn parameters_decode_into_their_struct_with_ints_as_floats() {
        let mut set = SkillSet::new("t");
        set.add(spec(), |go: Go, _| Ok(Value::Str(format!("{go:?}"))));
        let ctx = CallContext::default();
        let out = set
            .call(
                0,
                vec![
                    Value::Int(2),
                    Value::Str("a".into()),
                    Value::None,
                    Value::Str("t".into()),
                    Value::Bool(true),
                ],
                &ctx,
            )
            .unwrap();
        assert_eq!(
            out,
            Value::Str(
                r#"Go { x: 2.0, name: "a", theta: None, type: Some("t"), any: Bool(true) }"#.into()
            )
        );
    }

    #[test]
    fn a_struct_that_does_not_match_its_declaration_is_refused_with_the_reason() {
        assert_eq!(Go::check_spec(&Go::declare(spec())), Ok(()));
        let renamed = SkillSpec::new("go", "Go.")
            .param("x_m", ParamType::Float)
            .param("name", ParamType::Str);
        assert!(Go::check_spec(&renamed)
            .unwrap_err()
            .to_string()
            .contains("'x'"));
        let retyped = SkillSpec::new("go", "Go.")
            .param("x", ParamType::Str)
            .param("name", ParamType::Str);
        assert!(Go::check_spec(&retyped)
            .unwrap_err()
            .to_string()
            .contains("declared as str"));
        let extra = Go::declare(spec()).param_default("speed", ParamType::Float, 1.0);
        assert!(Go::check_spec(&extra)
            .unwrap_err()
            .to_string()
            .contains("'speed'"));
        assert!(<()>::check_spec(&Go::declare(spec())).is_err());
    }

    #[test]
    fn the_struct_declares_its_parameters_once_with_types_and_defaults() {
        let declared = Go::declare(spec());
        let names: Vec<&str> = declared.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["x", "name", "theta", "type", "any"]);
        assert_eq!(declared.params[0].ty, ParamType::Float);
        assert_eq!(declared.params[0].default, None);
        assert_eq!(
            declared.params[2].ty,
            ParamType::Optional(Box::new(ParamType::Float))
        );
        assert_eq!(declared.params[2].default, Some(Value::None));
        assert_eq!(declared.params[4].ty, ParamType::Any);
    }

    #[test]
    #[should_panic(
        expected = "go(): the parameter 'x_m' is declared but the handler never reads it"
    )]
    fn adding_a_mismatched_skill_fails_at_once() {
        let mut set = SkillSet::new("t");
        let renamed = SkillSpec::new("go", "Go.").param("x_m", ParamType::Float);
        set.add(renamed, |go: Go, _| Ok(Value::Float(go.x)));
    }
}
