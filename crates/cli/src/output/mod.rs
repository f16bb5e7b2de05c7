//! How commands print lists and objects, the same way everywhere:
//! an aligned table by default, `--format json` (one JSON object per line,
//! Docker's shape), `--format '{{.Field}}'` templates (with a `table`
//! prefix for a header), and `-q` for IDs only ([`print_listing`]).

mod human;
mod template;

use std::io::Write;
use std::str::FromStr;

use anyhow::{Context as _, Result};
use serde_json::Value;

pub use human::{human_duration_since, human_size, parse_rfc3339, unix_now};
pub use template::render;

/// A `--format` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// The default table.
    Table,
    /// One JSON object per row (`json`).
    Json,
    /// A template per row; `header` when it started with `table `.
    Template { template: String, header: bool },
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let trimmed = s.trim();
        match trimmed {
            "" | "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            _ => {
                let (template, header) = match trimmed.strip_prefix("table ") {
                    Some(rest) => (rest.to_owned(), true),
                    None => (s.to_owned(), false),
                };
                template::check(&template)?;
                Ok(Format::Template { template, header })
            }
        }
    }
}

/// One table column: its header and the row field it shows.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub field: &'static str,
}

/// Prints `rows` (JSON objects keyed by field name) in `format`.
pub fn print_rows(
    out: &mut dyn Write,
    format: &Format,
    columns: &[Column],
    rows: &[Value],
) -> Result<()> {
    match format {
        Format::Table => write_table(out, columns, rows),
        Format::Json => {
            for row in rows {
                writeln!(out, "{}", serde_json::to_string(row)?)?;
            }
            Ok(())
        }
        Format::Template { template, header } => {
            let mut lines = Vec::new();
            if *header {
                lines.push(template::header_of(template, columns));
            }
            for row in rows {
                lines.push(render(template, row)?);
            }
            if *header {
                // Tab-separated template columns are aligned like a table.
                let cells: Vec<Vec<String>> = lines
                    .iter()
                    .map(|l| l.split('\t').map(str::to_owned).collect())
                    .collect();
                write_aligned(out, &cells)
            } else {
                for line in lines {
                    writeln!(out, "{line}")?;
                }
                Ok(())
            }
        }
    }
    .context("write output")
}

/// A listing on stdout: with `quiet` only each row's `id_field`, one per
/// line, else [`print_rows`].
pub fn print_listing(
    format: &Format,
    quiet: bool,
    id_field: &str,
    columns: &[Column],
    rows: &[Value],
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if quiet {
        for row in rows {
            writeln!(out, "{}", row[id_field].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    print_rows(&mut out, format, columns, rows)
}

/// `inspect NAME...` on stdout: one JSON array of what `inspect` gives for
/// each name (or each through `template`); the first failure stops it.
pub fn print_inspected(
    names: &[String],
    template: Option<&str>,
    inspect: impl FnMut(&String) -> Result<Value>,
) -> Result<()> {
    let docs = names.iter().map(inspect).collect::<Result<Vec<_>>>()?;
    print_document(&mut std::io::stdout().lock(), template, &Value::Array(docs))
}

/// Prints one JSON document (an `inspect` result), or each element of the
/// array through a template.
pub fn print_document(out: &mut dyn Write, template: Option<&str>, doc: &Value) -> Result<()> {
    match (template, doc) {
        (Some(t), Value::Array(items)) => {
            for item in items {
                writeln!(out, "{}", render(t, item)?)?;
            }
        }
        (Some(t), other) => writeln!(out, "{}", render(t, other)?)?,
        (None, doc) => writeln!(out, "{}", serde_json::to_string_pretty(doc)?)?,
    }
    Ok(())
}

fn write_table(out: &mut dyn Write, columns: &[Column], rows: &[Value]) -> Result<()> {
    let mut cells = vec![columns.iter().map(|c| c.header.to_owned()).collect()];
    for row in rows {
        cells.push(
            columns
                .iter()
                .map(|c| match row.get(c.field) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                })
                .collect(),
        );
    }
    write_aligned(out, &cells)
}

/// Columns padded to their widest cell plus three spaces (Docker's tabwriter).
fn write_aligned(out: &mut dyn Write, cells: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = Vec::new();
    for row in cells {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    for row in cells {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COLS: [Column; 2] = [
        Column {
            header: "REPOSITORY",
            field: "Repository",
        },
        Column {
            header: "TAG",
            field: "Tag",
        },
    ];

    fn print(format: &str) -> String {
        let rows = [
            json!({"Repository": "busybox", "Tag": "latest"}),
            json!({"Repository": "localhost:5000/app", "Tag": "1"}),
        ];
        let mut out = Vec::new();
        print_rows(&mut out, &format.parse().unwrap(), &COLS, &rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_columns_are_aligned() {
        assert_eq!(
            print("table"),
            "REPOSITORY           TAG\nbusybox              latest\nlocalhost:5000/app   1\n"
        );
    }

    #[test]
    fn json_prints_one_object_per_line() {
        let text = print("json");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[1]["Repository"], "localhost:5000/app");
    }

    #[test]
    fn templates_with_and_without_header() {
        assert_eq!(
            print("{{.Repository}}:{{.Tag}}"),
            "busybox:latest\nlocalhost:5000/app:1\n"
        );
        assert_eq!(
            print("table {{.Tag}}\t{{.Repository}}"),
            "TAG      REPOSITORY\nlatest   busybox\n1        localhost:5000/app\n"
        );
    }

    #[test]
    fn bad_templates_are_refused_when_parsed() {
        assert!("{{.Repository".parse::<Format>().is_err());
    }
}
