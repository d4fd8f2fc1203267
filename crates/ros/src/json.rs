//! Python values as JSON and back: the form r2r's untyped messages take.

use robot_api::Value;

/// A Python value as JSON (records become dicts, arrays lists).
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::None => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Bytes(b) => J::Array(b.iter().map(|&x| J::from(x)).collect()),
        Value::List(items) => J::Array(items.iter().map(to_json).collect()),
        Value::FloatArray(items) => {
            J::Array(items.iter().map(|&f| to_json(&Value::Float(f))).collect())
        }
        Value::Dict(pairs) => {
            J::Object(pairs.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        Value::Record(r) => J::Object(
            r.fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// JSON as a Python value.
pub fn from_json(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::None,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(s.clone()),
        J::Array(items) => Value::List(items.iter().map(from_json).collect()),
        J::Object(map) => Value::Dict(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}
