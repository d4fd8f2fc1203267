//! [`Value`]: the data that crosses the worker boundary in skill arguments and results.

use serde::{Deserialize, Serialize};

/// A Python-compatible value passed to or returned from a skill.
///
/// Records ([`Record`]) become instances of the Python class declared by a
/// [`crate::RecordType`] of the same name (for example `Pose`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// Python `None`.
    None,
    /// Python `bool`.
    Bool(bool),
    /// Python `int` that fits in 64 bits.
    Int(i64),
    /// Python `float`.
    Float(f64),
    /// Python `str`.
    Str(String),
    /// Python `bytes`.
    Bytes(Vec<u8>),
    /// Python `list` (tuples become lists too).
    List(Vec<Value>),
    /// Python `dict` with string keys, in insertion order.
    Dict(Vec<(String, Value)>),
    /// An instance of a declared record class.
    Record(Record),
    /// A numeric array: a numpy `float64` array in Python when numpy is installed, else a list.
    FloatArray(Vec<f64>),
}

/// An instance of a declared record type, such as `Pose(x=1.0, y=2.0, theta=0.0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The record type's name, as declared in a [`crate::RecordType`].
    pub type_name: String,
    /// Field values in declaration order.
    pub fields: Vec<(String, Value)>,
}

impl Value {
    /// The Python type name of this value, for error messages.
    pub fn type_name(&self) -> &str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Record(r) => &r.type_name,
            Value::FloatArray(_) => "ndarray",
        }
    }

    /// The number, if this is an `int` or a `float`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Renders the value as Python source (a literal that evaluates to it).
    ///
    /// Used for parameter defaults in generated signatures and in skill-call
    /// records, so it must round-trip through Python's `eval`.
    pub fn python_literal(&self) -> String {
        let mut out = String::new();
        self.write_python(&mut out);
        out
    }

    fn write_python(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => write_float(*f, out),
            Value::Str(s) => write_python_str(s, out),
            Value::Bytes(b) => {
                out.push_str("b'");
                for &c in b {
                    match c {
                        b'\\' => out.push_str("\\\\"),
                        b'\'' => out.push_str("\\'"),
                        0x20..=0x7e => out.push(c as char),
                        _ => {
                            let _ = write!(out, "\\x{c:02x}");
                        }
                    }
                }
                out.push('\'');
            }
            Value::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_python(out);
                }
                out.push(']');
            }
            Value::FloatArray(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_float(*v, out);
                }
                out.push(']');
            }
            Value::Dict(items) => {
                out.push('{');
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_python_str(k, out);
                    out.push_str(": ");
                    v.write_python(out);
                }
                out.push('}');
            }
            Value::Record(r) => {
                out.push_str(&r.type_name);
                out.push('(');
                for (i, (k, v)) in r.fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push('=');
                    v.write_python(out);
                }
                out.push(')');
            }
        }
    }
}

fn write_float(f: f64, out: &mut String) {
    use std::fmt::Write;
    if f.is_nan() {
        out.push_str("float('nan')");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "float('inf')"
        } else {
            "-float('inf')"
        });
    } else {
        // `{:?}` always keeps a decimal point or exponent, so Python reads a float back.
        let _ = write!(out, "{f:?}");
    }
}

fn write_python_str(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_literals_escape_and_keep_floats_as_floats() {
        assert_eq!(Value::Float(1.0).python_literal(), "1.0");
        assert_eq!(Value::Float(f64::INFINITY).python_literal(), "float('inf')");
        assert_eq!(Value::Str("a'b\n".into()).python_literal(), r"'a\'b\n'");
        assert_eq!(
            Value::Dict(vec![(
                "k".into(),
                Value::List(vec![Value::Int(1), Value::None])
            )])
            .python_literal(),
            "{'k': [1, None]}"
        );
        let pose = Value::Record(Record {
            type_name: "Pose".into(),
            fields: vec![("x".into(), 1.5.into()), ("y".into(), Value::Float(-2.0))],
        });
        assert_eq!(pose.python_literal(), "Pose(x=1.5, y=-2.0)");
    }
}
