//! The printed comparison: one table per metric, ratios of medians.

use crate::stats::summarize;
use crate::worker::Metric;

/// One runtime's results.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub metrics: Result<Vec<Metric>, String>,
}

fn find<'a>(column: &'a Column, metric: &str) -> Result<&'a Metric, String> {
    match &column.metrics {
        Ok(metrics) => metrics
            .iter()
            .find(|m| m.name == metric)
            .ok_or_else(|| "not measured".to_owned()),
        Err(e) => Err(e.clone()),
    }
}

fn median(column: &Column, metric: &str) -> Option<f64> {
    let m = find(column, metric).ok()?;
    if m.error.is_some() {
        return None;
    }
    summarize(&m.samples).map(|s| s.median)
}

/// Prints a markdown table per metric and the brig/crun, brig/runc ratios.
pub fn print(columns: &[Column], metric_names: &[&str]) {
    for metric in metric_names {
        println!("\n### {metric}\n");
        println!("| runtime | n | median | p99 | min | max |");
        println!("|---|---:|---:|---:|---:|---:|");
        for column in columns {
            match find(column, metric) {
                Ok(m) if m.error.is_none() => match summarize(&m.samples) {
                    Some(s) => println!(
                        "| {} | {} | {:.2} {u} | {:.2} {u} | {:.2} {u} | {:.2} {u} |",
                        column.name,
                        s.n,
                        s.median,
                        s.p99,
                        s.min,
                        s.max,
                        u = m.unit
                    ),
                    None => println!("| {} | 0 | - | - | - | - |", column.name),
                },
                Ok(m) => println!(
                    "| {} | failed: {} | | | | |",
                    column.name,
                    one_line(m.error.as_deref().unwrap_or(""))
                ),
                Err(e) => println!("| {} | failed: {} | | | | |", column.name, one_line(&e)),
            }
        }
        let brig = columns
            .iter()
            .find(|c| c.name == "brig-runtime")
            .and_then(|c| median(c, metric));
        let ratio = |other: &str| {
            let theirs = columns
                .iter()
                .find(|c| c.name == other)
                .and_then(|c| median(c, metric));
            match (brig, theirs) {
                (Some(b), Some(t)) if t > 0.0 => format!("{:.2}", b / t),
                _ => "-".into(),
            }
        };
        println!(
            "\nbrig/crun: {}, brig/runc: {}",
            ratio("crun"),
            ratio("runc")
        );
    }
}

fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().replace('|', "/");
    if line.chars().count() > 160 {
        format!("{}...", line.chars().take(160).collect::<String>())
    } else {
        line
    }
}
