//! JSON values written as Python literals (`true` → `True`, `null` → `None`), one key a line,
//! for the `RECIPE = {…}` block of train.py.
//!
//! ```
//! use anytune_core::export::trl::python::literal;
//! assert_eq!(literal(&serde_json::json!({"a": [1, null], "b": true}), 0), "{\n    \"a\": [1, None],\n    \"b\": True,\n}");
//! ```

use serde_json::Value;

/// `v` as a Python literal; objects one key a line, indented by `indent` levels of 4 spaces.
pub fn literal(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        // JSON numbers and strings (escapes included) are Python literals as they are.
        Value::Number(_) | Value::String(_) => v.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(|x| literal(x, indent)).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            let pad = "    ".repeat(indent + 1);
            let lines: String =
                map.iter().map(|(k, x)| format!("{pad}{}: {},\n", Value::from(k.as_str()), literal(x, indent + 1))).collect();
            format!("{{\n{lines}{}}}", "    ".repeat(indent))
        }
    }
}
