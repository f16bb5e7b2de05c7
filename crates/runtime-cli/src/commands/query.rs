//! state, list, ps, spec, features.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use brig_runtime::Store;

use crate::cli::ListFormat;

pub fn state(store: &Store, id: &str) -> Result<i32> {
    let state = brig_runtime::container::state(store, id)?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(0)
}

pub fn list(store: &Store, format: ListFormat, quiet: bool) -> Result<i32> {
    let states = brig_runtime::container::list(store)?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for s in &states {
            writeln!(out, "{}", s.id)?;
        }
        return Ok(0);
    }
    match format {
        ListFormat::Json => writeln!(out, "{}", serde_json::to_string(&states)?)?,
        ListFormat::Table => {
            writeln!(
                out,
                "{:<24} {:<8} {:<10} {:<40} {:<32} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            )?;
            for s in &states {
                let owner = if s.owner.is_empty() { "root" } else { &s.owner };
                writeln!(
                    out,
                    "{:<24} {:<8} {:<10} {:<40} {:<32} {owner}",
                    s.id,
                    s.pid,
                    s.status,
                    s.bundle.display(),
                    s.created
                )?;
            }
        }
    }
    Ok(0)
}

pub fn ps(store: &Store, id: &str, format: ListFormat, ps_args: &[String]) -> Result<i32> {
    let pids = brig_runtime::container::pids(store, id)?;
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string(&pids)?),
        ListFormat::Table => print_ps_table(&pids, ps_args)?,
    }
    Ok(0)
}

/// Like runc: run ps(1) and keep its header plus the container's lines.
fn print_ps_table(pids: &[i32], ps_args: &[String]) -> Result<()> {
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("running ps(1) for the table format (use --format json without it)")?;
    if !output.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(())
}

pub fn spec(bundle: &Path, rootless: bool) -> Result<i32> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{}: file exists; remove it first", path.display());
    }
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    let spec = brig_runtime::spec::default_spec(rootless, uid, gid);
    std::fs::write(&path, serde_json::to_string_pretty(&spec)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(0)
}

pub fn features() -> Result<i32> {
    println!(
        "{}",
        serde_json::to_string_pretty(&brig_runtime::spec::features())?
    );
    Ok(0)
}
