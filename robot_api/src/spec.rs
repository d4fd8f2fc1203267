//! Skill and record declarations: the one place a skill's Python face is defined.

use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;
use crate::value::Value;

/// The Python type of a skill parameter, checked before a call crosses the worker boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParamType {
    /// `float`: accepts Python `int` or `float` (not `bool`), in SI units.
    Float,
    /// `int`: accepts Python `int` (not `bool`).
    Int,
    /// `bool`.
    Bool,
    /// `str`.
    Str,
    /// Any value that converts to a [`Value`].
    Any,
    /// `T | None`.
    Optional(Box<ParamType>),
    /// `list[T]`: accepts a list or tuple.
    List(Box<ParamType>),
}

impl ParamType {
    /// The Python annotation, as an LLM reads it (`float | None`).
    pub fn annotation(&self) -> String {
        match self {
            ParamType::Float => "float".into(),
            ParamType::Int => "int".into(),
            ParamType::Bool => "bool".into(),
            ParamType::Str => "str".into(),
            ParamType::Any => "object".into(),
            ParamType::Optional(t) => format!("{} | None", t.annotation()),
            ParamType::List(t) => format!("list[{}]", t.annotation()),
        }
    }

    /// Checks (and normalises: `int` to `float` where a float is declared) a value.
    ///
    /// The error says what was expected and what came, for a Python `TypeError`.
    pub fn check(&self, value: Value) -> Result<Value, TypeMismatch> {
        match (self, value) {
            (ParamType::Any, v) => Ok(v),
            (ParamType::Float, Value::Float(f)) => Ok(Value::Float(f)),
            (ParamType::Float, Value::Int(i)) => Ok(Value::Float(i as f64)),
            (ParamType::Int, Value::Int(i)) => Ok(Value::Int(i)),
            (ParamType::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
            (ParamType::Str, Value::Str(s)) => Ok(Value::Str(s)),
            (ParamType::Optional(_), Value::None) => Ok(Value::None),
            (ParamType::Optional(t), v) => t.check(v),
            (ParamType::List(t), Value::List(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    t.check(v).map_err(|mut e| {
                        e.items.insert(0, i);
                        e
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            (ParamType::List(t), Value::FloatArray(items))
                if matches!(**t, ParamType::Float | ParamType::Any) =>
            {
                Ok(Value::FloatArray(items))
            }
            (t, v) => Err(TypeMismatch {
                items: Vec::new(),
                expected: t.annotation(),
                got: v.type_name().into(),
            }),
        }
    }
}

/// A value that does not fit its declared type ("item 1: expected int, got None").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}expected {expected}, got {got}", items.iter().map(|i| format!("item {i}: ")).collect::<String>())]
pub struct TypeMismatch {
    /// Where in nested lists, outermost first (empty: the value itself).
    pub items: Vec<usize>,
    /// The declared type, as Python writes it.
    pub expected: String,
    /// The type of the value given.
    pub got: String,
}

/// Whether `name` is a plain Python name: ASCII letters, digits and
/// underscores, not starting with a digit (what a skill, parameter or
/// record may be called).
pub fn is_python_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One parameter of a skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Python parameter name.
    pub name: String,
    /// Declared type.
    pub ty: ParamType,
    /// Default value; parameters with defaults follow those without.
    pub default: Option<Value>,
}

/// The declaration of one skill: everything the Python side and the LLM see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillSpec {
    /// Python function name.
    pub name: String,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// Return annotation as Python text (`"Pose"`, `"None"`).
    pub returns: String,
    /// Docstring: what it does, units, errors, one example.
    pub doc: String,
    /// Error kinds the skill may raise (listed in the API text).
    pub errors: Vec<ErrorKind>,
    /// What a rehearsal on a twin does with it when the twin lacks it.
    pub rehearsal: InRehearsal,
    /// The robot of a fleet it acts on (a method of `robots[name]`); `None`:
    /// a plain function (the only or the first robot, or no robot at all).
    #[serde(default)]
    pub robot: Option<String>,
}

/// What a rehearsal does with a skill the twin does not have (one with
/// effects outside the twin: a declared ROS service, `ros_call`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum InRehearsal {
    /// Not called: it returns `None`, and the verdict says it would be called.
    #[default]
    Skip,
    /// Called for real: a read that changes nothing (`ros_read`).
    Call,
}

impl SkillSpec {
    /// Starts a declaration with a name and docstring; add parameters with [`SkillSpec::param`].
    pub fn new(name: impl Into<String>, doc: impl Into<String>) -> Self {
        SkillSpec {
            name: name.into(),
            params: Vec::new(),
            returns: "None".into(),
            doc: doc.into(),
            errors: Vec::new(),
            rehearsal: InRehearsal::Skip,
            robot: None,
        }
    }

    /// Sets what a rehearsal does with it (when the twin lacks it).
    pub fn in_rehearsal(mut self, what: InRehearsal) -> Self {
        self.rehearsal = what;
        self
    }

    /// Adds a required parameter.
    pub fn param(mut self, name: &str, ty: ParamType) -> Self {
        self.params.push(Param {
            name: name.into(),
            ty,
            default: None,
        });
        self
    }

    /// Adds a parameter with a default value.
    pub fn param_default(mut self, name: &str, ty: ParamType, default: impl Into<Value>) -> Self {
        self.params.push(Param {
            name: name.into(),
            ty,
            default: Some(default.into()),
        });
        self
    }

    /// Whether the skill returns `bytes` (a picture, which a tool call of it shows).
    pub fn returns_bytes(&self) -> bool {
        self.returns == "bytes"
    }

    /// Sets the return annotation.
    pub fn returns(mut self, annotation: &str) -> Self {
        self.returns = annotation.into();
        self
    }

    /// Declares an error kind the skill may raise.
    pub fn raises(mut self, kind: ErrorKind) -> Self {
        self.errors.push(kind);
        self
    }

    /// The Python parameter list, `x: float, y: float, theta: float | None = None`.
    pub fn python_params(&self) -> String {
        self.params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("{}: {} = {}", p.name, p.ty.annotation(), d.python_literal()),
                None => format!("{}: {}", p.name, p.ty.annotation()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The signature line, `def move_to(x: float, y: float) -> None:`.
    pub fn python_def(&self) -> String {
        format!(
            "def {}({}) -> {}:",
            self.name,
            self.python_params(),
            self.returns
        )
    }

    /// The docstring with the declared errors appended, as shown by `help()` and the API text.
    pub fn full_doc(&self) -> String {
        let mut doc = self.doc.trim().to_owned();
        if !self.errors.is_empty() {
            let names: Vec<_> = self.errors.iter().map(|e| e.python_name()).collect();
            doc.push_str("\n\nRaises: ");
            doc.push_str(&names.join(", "));
            doc.push('.');
        }
        doc
    }
}

/// A record type such as `Pose`: a small Python class with named fields and a readable repr.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordType {
    /// Python class name.
    pub name: String,
    /// Field names in order.
    pub fields: Vec<String>,
    /// Class docstring.
    pub doc: String,
    /// Extra Python method definitions for the class body (indented by 4
    /// spaces), e.g. `Pose.distance_to`. Empty for plain records.
    pub methods: String,
}

impl RecordType {
    /// Declares a record with the given fields.
    pub fn new(name: &str, fields: &[&str], doc: &str) -> Self {
        RecordType {
            name: name.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            doc: doc.into(),
            methods: String::new(),
        }
    }

    /// Adds Python methods to the class body (each line indented by 4 spaces).
    pub fn with_methods(mut self, methods: &str) -> Self {
        self.methods = methods.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_renders_defaults_and_optional_types() {
        let s = SkillSpec::new("move_to", "Drive there.")
            .param("x", ParamType::Float)
            .param_default(
                "theta",
                ParamType::Optional(Box::new(ParamType::Float)),
                Value::None,
            )
            .returns("Pose")
            .raises(ErrorKind::Blocked);
        assert_eq!(
            s.python_def(),
            "def move_to(x: float, theta: float | None = None) -> Pose:"
        );
        assert!(s.full_doc().ends_with("Raises: Blocked."));
    }

    #[test]
    fn check_converts_ints_to_floats_and_rejects_wrong_types() {
        assert_eq!(ParamType::Float.check(Value::Int(2)), Ok(Value::Float(2.0)));
        assert_eq!(
            ParamType::Float.check(Value::Str("a".into())),
            Err(TypeMismatch {
                items: vec![],
                expected: "float".into(),
                got: "str".into()
            })
        );
        assert!(ParamType::Float.check(Value::Bool(true)).is_err());
        let list = ParamType::List(Box::new(ParamType::Int));
        assert_eq!(
            list.check(Value::List(vec![Value::Int(1), Value::None]))
                .map_err(|e| e.to_string()),
            Err("item 1: expected int, got None".into())
        );
    }
}
