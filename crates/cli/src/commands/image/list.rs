//! `brig images` / `brig image ls`: one row per image name, as Docker.

use std::collections::HashSet;

use anyhow::{Result, bail};
use brig_image::{ImageRecord, Reference};
use clap::Args;
use serde_json::{Value, json};

use super::short_id;
use crate::context::Context;
use crate::output::{self, Column, Format};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig images
  brig images --digests debian
  brig images -q --filter dangling=true
  brig images --format json
  brig images --format '{{.Repository}}:{{.Tag}} {{.Size}}'")]
pub struct ListArgs {
    /// Show only images of this repository (NAME or NAME:TAG).
    #[arg(value_name = "REPOSITORY")]
    pub repository: Option<String>,
    /// Also show intermediate images (brig has none: every image is always listed).
    #[arg(short, long)]
    pub all: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Show only image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate IDs.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter: dangling=true|false, reference=PATTERN (* matches within a path component).
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// table, json (one object per line) or a template such as '{{.ID}}'.
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: Format,
}

const COLUMNS: [Column; 6] = [
    Column {
        header: "REPOSITORY",
        field: "Repository",
    },
    Column {
        header: "TAG",
        field: "Tag",
    },
    Column {
        header: "DIGEST",
        field: "Digest",
    },
    Column {
        header: "IMAGE ID",
        field: "ID",
    },
    Column {
        header: "CREATED",
        field: "CreatedSince",
    },
    Column {
        header: "SIZE",
        field: "Size",
    },
];

/// What `--filter` keeps.
#[derive(Debug, Default)]
struct Filters {
    dangling: Option<bool>,
    references: Vec<String>,
}

fn parse_filters(args: &[String]) -> Result<Filters> {
    let mut f = Filters::default();
    for arg in args {
        match arg.split_once('=') {
            Some(("dangling", v)) => {
                f.dangling = Some(match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => bail!("--filter {arg}: dangling takes true or false"),
                })
            }
            Some(("reference", v)) => f.references.push(v.to_owned()),
            _ => bail!("--filter {arg}: use dangling=true|false or reference=PATTERN"),
        }
    }
    Ok(f)
}

pub fn run(ctx: &Context, args: &ListArgs) -> Result<()> {
    let filters = parse_filters(&args.filter)?;
    let wanted = args
        .repository
        .as_deref()
        .map(Reference::parse)
        .transpose()?;
    let now = output::unix_now();
    let mut images = ctx.images()?.images()?;
    images.sort_by_key(|i| std::cmp::Reverse(created_secs(i)));
    let mut rows = Vec::new();
    for image in &images {
        if filters
            .dangling
            .is_some_and(|d| d != image.names.is_empty())
        {
            continue;
        }
        for row in image_rows(image, args, now) {
            if keep_row(&row, wanted.as_ref(), &filters.references) {
                rows.push(row);
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if args.quiet {
        let mut seen = HashSet::new();
        for row in &rows {
            let id = row["ID"].as_str().unwrap_or_default();
            if seen.insert(id.to_owned()) {
                use std::io::Write;
                writeln!(out, "{id}")?;
            }
        }
        return Ok(());
    }
    let columns: Vec<Column> = COLUMNS
        .iter()
        .copied()
        .filter(|c| args.digests || c.field != "Digest")
        .collect();
    output::print_rows(&mut out, &args.format, &columns, &rows)
}

fn created_secs(image: &ImageRecord) -> i64 {
    image
        .created
        .as_deref()
        .and_then(output::parse_rfc3339)
        .unwrap_or(image.added_at)
}

/// A row per `repo:tag`; a repository known only by digest gets a `<none>`
/// tag row; an image without names one `<none>` row.
fn image_rows(image: &ImageRecord, args: &ListArgs, now: i64) -> Vec<Value> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for name in image.repo_tags() {
        if let Ok(r) = Reference::parse(name) {
            let familiar = r.familiar();
            let repo = familiar
                .rsplit_once(':')
                .map_or(familiar.as_str(), |(repo, _)| repo)
                .to_owned();
            pairs.push((repo, r.tag().unwrap_or("<none>").to_owned()));
        }
    }
    for name in image.repo_digests() {
        if let Ok(r) = Reference::parse(name) {
            let familiar = r.familiar();
            let repo = familiar
                .split_once('@')
                .map_or(familiar.as_str(), |(repo, _)| repo)
                .to_owned();
            if !pairs.iter().any(|(p, _)| *p == repo) {
                pairs.push((repo, "<none>".to_owned()));
            }
        }
    }
    if pairs.is_empty() {
        pairs.push(("<none>".to_owned(), "<none>".to_owned()));
    }
    let created = created_secs(image);
    let id = if args.no_trunc {
        image.id.to_string()
    } else {
        short_id(&image.id)
    };
    pairs
        .into_iter()
        .map(|(repo, tag)| {
            let digest = digest_of(image, &repo);
            json!({
                "Containers": "N/A",
                "CreatedAt": created_at(created),
                "CreatedSince": output::human_duration_since(created, now),
                "Digest": digest,
                "ID": id,
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": output::human_size(image.size),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": output::human_size(image.size),
            })
        })
        .collect()
}

/// The manifest digest under which `repo` knows the image, or `<none>`.
fn digest_of(image: &ImageRecord, repo: &str) -> String {
    image
        .repo_digests()
        .filter_map(|n| Reference::parse(n).ok())
        .find(|r| {
            let f = r.familiar();
            f.split_once('@').is_some_and(|(name, _)| name == repo)
        })
        .and_then(|r| r.digest().map(|d| d.to_string()))
        .unwrap_or_else(|| "<none>".to_owned())
}

/// Docker's `CreatedAt`: `2024-01-02 03:04:05 +0000 UTC`.
fn created_at(secs: i64) -> String {
    let rfc = brig_image::import::rfc3339_utc(secs);
    format!("{} +0000 UTC", rfc.trim_end_matches('Z').replace('T', " "))
}

fn keep_row(row: &Value, wanted: Option<&Reference>, patterns: &[String]) -> bool {
    let repo = row["Repository"].as_str().unwrap_or_default();
    let tag = row["Tag"].as_str().unwrap_or_default();
    if let Some(w) = wanted {
        let same_repo = Reference::parse(repo).is_ok_and(|r| r.repository() == w.repository());
        // `brig images busybox` lists every tag; `busybox:1` only that one.
        if !same_repo || (!w.tag_implied() && w.tag() != Some(tag)) {
            return false;
        }
    }
    patterns.is_empty()
        || patterns
            .iter()
            .any(|p| glob(p, repo) || glob(p, &format!("{repo}:{tag}")))
}

/// Docker's reference filter: `*` matches any run of characters except '/'.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .take_while(|&i| !rest[..i].contains('/'))
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_stays_within_a_path_component() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("*:latest", "busybox:latest"));
        assert!(!glob("busy*", "busybox/extra"));
        assert!(glob("localhost:5000/*", "localhost:5000/app"));
    }

    #[test]
    fn filters_parse_or_say_what_is_allowed() {
        assert_eq!(
            parse_filters(&["dangling=true".into()]).unwrap().dangling,
            Some(true)
        );
        let err = parse_filters(&["label=x".into()]).unwrap_err();
        assert!(err.to_string().contains("dangling=true|false"));
    }
}
