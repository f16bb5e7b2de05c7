//! A small subset of Docker's Go templates for `--format`: `{{.Field}}`,
//! nested `{{.Config.Cmd}}`, `{{.}}`, `{{json .Field}}` and `{{json .}}`.
//! Anything else is refused with a message naming the action.

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use super::Column;

/// One piece of a template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// A dotted path (empty: the whole value), printed as JSON when `json`.
    Field {
        path: Vec<&'a str>,
        json: bool,
    },
}

fn parse(template: &str) -> std::result::Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("template {template:?}: '{{{{' without '}}}}'"))?;
        pieces.push(action(after[..end].trim(), template)?);
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

fn action<'a>(text: &'a str, template: &str) -> std::result::Result<Piece<'a>, String> {
    let (json, arg) = match text.strip_prefix("json ") {
        Some(arg) => (true, arg.trim()),
        None => (false, text),
    };
    let Some(path) = arg.strip_prefix('.') else {
        return Err(format!(
            "template {template:?}: unsupported action {{{{{text}}}}}; use {{{{.Field}}}} or {{{{json .Field}}}}"
        ));
    };
    let path: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('.').collect()
    };
    if path
        .iter()
        .any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        return Err(format!(
            "template {template:?}: bad field name in {{{{{text}}}}}"
        ));
    }
    Ok(Piece::Field { path, json })
}

/// Checks a template's syntax (when the flag is parsed).
pub fn check(template: &str) -> std::result::Result<(), String> {
    parse(template).map(|_| ())
}

/// Renders `template` against `value`.
pub fn render(template: &str, value: &Value) -> Result<String> {
    let mut out = String::new();
    for piece in parse(template).map_err(|e| anyhow!(e))? {
        match piece {
            Piece::Text(t) => out.push_str(&unescape(t)),
            Piece::Field { path, json } => {
                let mut v = value;
                for name in &path {
                    v = match v.get(name) {
                        Some(next) => next,
                        None => bail!(
                            "template: no field {name:?}; fields here: {}",
                            field_names(v)
                        ),
                    };
                }
                if json {
                    out.push_str(&serde_json::to_string(v)?);
                } else {
                    out.push_str(&plain(v));
                }
            }
        }
    }
    Ok(out)
}

/// `\t` and `\n` written literally on a command line mean tab and newline.
fn unescape(text: &str) -> String {
    text.replace("\\t", "\t").replace("\\n", "\n")
}

/// Go's default printing: strings bare, lists as `[a b]`, the rest as JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(plain).collect();
            format!("[{}]", inner.join(" "))
        }
        other => other.to_string(),
    }
}

fn field_names(v: &Value) -> String {
    match v.as_object() {
        Some(map) => map.keys().cloned().collect::<Vec<_>>().join(", "),
        None => "none (not an object)".to_owned(),
    }
}

/// The header line of a `table` template: each field's column header.
pub fn header_of(template: &str, columns: &[Column]) -> String {
    let Ok(pieces) = parse(template) else {
        return String::new();
    };
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(&unescape(t)),
            Piece::Field { path, .. } => {
                let name = path.join(".");
                let header = columns
                    .iter()
                    .find(|c| c.field == name)
                    .map(|c| c.header.to_owned())
                    .unwrap_or_else(|| name.to_uppercase());
                out.push_str(&header);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_nested_fields_lists_and_json() {
        let v = json!({"Id": "sha256:ab", "Config": {"Cmd": ["sh", "-c"], "Env": null}});
        assert_eq!(render("{{.Id}}", &v).unwrap(), "sha256:ab");
        assert_eq!(render("{{.Config.Cmd}}", &v).unwrap(), "[sh -c]");
        assert_eq!(
            render("{{json .Config.Cmd}}", &v).unwrap(),
            r#"["sh","-c"]"#
        );
        assert_eq!(render("id={{ .Id }}\\t.", &v).unwrap(), "id=sha256:ab\t.");
    }

    #[test]
    fn unknown_fields_name_the_fields_there_are() {
        let err = render("{{.Nope}}", &json!({"Id": 1})).unwrap_err();
        assert!(err.to_string().contains("Id"), "{err}");
    }

    #[test]
    fn unsupported_actions_are_refused() {
        assert!(check("{{range .}}").is_err());
        assert!(check("{{.A..B}}").is_err());
    }
}
