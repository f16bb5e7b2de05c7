//! Names the field a JSON document failed at (`linux.resources.memory.limit`,
//! `mounts[2].type`), for errors that say what to fix.
//!
//! serde_json reports where it stopped as a line and column; this walks the
//! text up to there and keeps the keys and indices of the values it is
//! inside. The alternative, `serde_path_to_error`, wraps every deserializer
//! in a path-tracking copy: ~400 KB of code in a binary whose size is its
//! memory at every container start (issue 5), for the rare bad file.

use serde::de::DeserializeOwned;

/// A document that did not deserialize: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field; empty for the document itself.
    pub path: String,
    pub reason: String,
}

/// Deserializes `data`, naming the field at fault on error.
pub fn from_slice<T: DeserializeOwned>(data: &[u8]) -> Result<T, FieldError> {
    serde_json::from_slice(data).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => FieldError {
            path: path_at(data, e.line(), e.column()),
            // serde_json appends " at line L column C": the path says it better.
            reason: strip_position(&e.to_string()).to_owned(),
        },
        // Not valid JSON (or cut short): the position is what helps.
        _ => FieldError {
            path: String::new(),
            reason: e.to_string(),
        },
    })
}

fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    }
}

#[derive(Debug)]
enum Frame {
    /// Inside an object; the key of the member being read, once seen.
    Object(Option<String>),
    /// Inside an array, at this element.
    Array(usize),
}

/// The path of the innermost value that contains 1-based `line`/`column`.
pub fn path_at(text: &[u8], line: usize, column: usize) -> String {
    let end = offset_of(text, line, column);
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        match text[i] {
            b'{' => stack.push(Frame::Object(None)),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(index)) => *index += 1,
                Some(Frame::Object(key)) => *key = None,
                None => {}
            },
            b'"' => {
                let (string, next) = read_string(text, i);
                if let Some(Frame::Object(key @ None)) = stack.last_mut() {
                    *key = Some(string);
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    render(&stack)
}

fn offset_of(text: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match text[offset..].iter().position(|&b| b == b'\n') {
            Some(at) => offset += at + 1,
            None => return text.len(),
        }
    }
    (offset + column).min(text.len())
}

/// The string starting at the quote `text[start]`, unescaped enough for a
/// key, and the offset after its closing quote.
fn read_string(text: &[u8], start: usize) -> (String, usize) {
    let mut out = Vec::new();
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'"' => return (String::from_utf8_lossy(&out).into_owned(), i + 1),
            b'\\' if i + 1 < text.len() => {
                out.push(text[i + 1]);
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), text.len())
}

fn render(stack: &[Frame]) -> String {
    let mut path = String::new();
    for frame in stack {
        match frame {
            Frame::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object(None) => {}
            Frame::Array(index) => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxResources, LinuxSeccomp, Spec};

    fn path_of<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> FieldError {
        from_slice::<T>(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn names_nested_fields_and_array_elements() {
        for (text, path) in [
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_BOGUS"}]}"#,
                "syscalls[0].action",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_NOPE"}]}]}"#,
                "syscalls[1].args[0].op",
            ),
            (r#"{"defaultAction":"SCMP_ACT_NOPE"}"#, "defaultAction"),
        ] {
            let err = path_of::<LinuxSeccomp>(text);
            assert_eq!(err.path, path, "{text}");
            assert!(err.reason.contains("unknown variant"), "{err:?}");
            assert!(!err.reason.contains(" at line "), "{err:?}");
        }
    }

    #[test]
    fn a_wrong_type_names_its_key_even_after_earlier_members() {
        let err = path_of::<LinuxResources>(
            r#"{"pids": {"limit": 5}, "memory": {"reservation": 1, "limit": "lots"}}"#,
        );
        assert_eq!(err.path, "memory.limit");
        assert!(err.reason.contains("invalid type"), "{err:?}");
    }

    #[test]
    fn keys_with_escapes_and_strings_with_brackets_do_not_confuse_it() {
        let err = path_of::<Spec>(
            r#"{"ociVersion": "1.0.2", "annotations": {"a\"]{": "x,[y"},
                "process": {"cwd": "/", "args": ["sh"], "user": {"uid": -1, "gid": 0}}}"#,
        );
        assert_eq!(err.path, "process.user.uid");
    }

    #[test]
    fn a_missing_field_names_the_object_that_lacks_it() {
        let err = path_of::<Spec>(
            r#"{"ociVersion": "1.0.2", "mounts": [{"destination": "/a"}, {"source": "x"}]}"#,
        );
        assert_eq!(err.path, "mounts[1]");
        assert!(
            err.reason.contains("missing field `destination`"),
            "{err:?}"
        );
    }

    #[test]
    fn document_level_errors_have_an_empty_path() {
        assert_eq!(path_of::<Spec>("").path, "");
        let cut = path_of::<Spec>("{\"ociVersion\": \"1\"");
        assert_eq!(cut.path, "");
        assert!(cut.reason.contains("line 1 column"), "{cut:?}");
        assert_eq!(path_at(b"{\"a\": 1}", 40, 2), "");
    }
}
