//! Manifests and indexes (OCI and Docker schema 2), platform selection and
//! the few config fields the store itself needs.

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde::Deserialize;

use crate::digest::{Digest, Hasher, parse_digest};
use crate::error::{Error, Result};

/// Media types brig reads and writes.
pub mod media_types {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}
use media_types as mt;

/// The largest manifest, index or config brig reads (Docker's limit too).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// The largest image config brig reads.
pub const MAX_CONFIG_SIZE: u64 = 8 << 20;

/// A parsed manifest document.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// An image manifest (OCI or Docker schema 2); `media_type` says which.
    Image {
        manifest: Box<ImageManifest>,
        media_type: String,
    },
    /// An index or Docker manifest list.
    Index {
        index: Box<ImageIndex>,
        media_type: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    layers: Option<serde_json::Value>,
    #[serde(default)]
    fs_layers: Option<serde_json::Value>,
}

/// Parses manifest bytes. The media type comes from the document itself,
/// else from `hint` (the descriptor or HTTP header), else from its shape.
pub fn parse_manifest(bytes: &[u8], hint: Option<&str>, digest: &Digest) -> Result<Manifest> {
    let what = || format!("manifest {digest}");
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| Error::json(what(), e))?;
    let media_type = match (probe.media_type, hint) {
        (Some(m), _) => m,
        (None, Some(h)) if !h.is_empty() => h.to_owned(),
        (None, _) if probe.manifests.is_some() => mt::OCI_INDEX.to_owned(),
        (None, _) if probe.layers.is_some() => mt::OCI_MANIFEST.to_owned(),
        (None, _) if probe.fs_layers.is_some() || probe.schema_version == Some(1) => {
            mt::DOCKER_SCHEMA1.to_owned()
        }
        (None, _) => String::new(),
    };
    match media_type.as_str() {
        mt::OCI_MANIFEST | mt::DOCKER_MANIFEST => {
            let manifest: ImageManifest =
                serde_json::from_slice(bytes).map_err(|e| Error::json(what(), e))?;
            Ok(Manifest::Image {
                manifest: Box::new(manifest),
                media_type,
            })
        }
        mt::OCI_INDEX | mt::DOCKER_MANIFEST_LIST => {
            let index: ImageIndex =
                serde_json::from_slice(bytes).map_err(|e| Error::json(what(), e))?;
            Ok(Manifest::Index {
                index: Box::new(index),
                media_type,
            })
        }
        mt::DOCKER_SCHEMA1 | mt::DOCKER_SCHEMA1_SIGNED => Err(Error::SchemaOne {
            digest: digest.to_string(),
        }),
        other => Err(Error::UnsupportedMediaType {
            what: what(),
            media_type: other.to_owned(),
        }),
    }
}

/// True for media types that name a manifest or index.
pub fn is_manifest_type(media_type: &str) -> bool {
    matches!(
        media_type,
        mt::OCI_MANIFEST | mt::DOCKER_MANIFEST | mt::OCI_INDEX | mt::DOCKER_MANIFEST_LIST
    )
}

/// The OS/architecture[/variant] an image is chosen for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// Parses `os/arch[/variant]`, e.g. `linux/amd64` or `linux/arm64/v8`.
    pub fn parse(value: &str) -> Result<Self> {
        let parts: Vec<&str> = value.split('/').collect();
        let ok =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| ok(p)) {
            return Err(Error::InvalidPlatform {
                value: value.to_owned(),
            });
        }
        Ok(PlatformSpec {
            os: parts[0].to_ascii_lowercase(),
            architecture: normalize_arch(&parts[1].to_ascii_lowercase()).to_owned(),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }

    /// The platform brig runs on (`linux/amd64` on x86-64).
    pub fn host() -> Self {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            other => (other, None),
        };
        PlatformSpec {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    /// Whether an index entry's platform fits; a missing variant on either
    /// side matches, except that a requested variant must be met exactly.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        if os != self.os || normalize_arch(architecture) != self.architecture {
            return false;
        }
        match (&self.variant, variant) {
            (Some(want), Some(have)) => {
                normalize_variant(&self.architecture, want) == normalize_variant(architecture, have)
            }
            (Some(want), None) => self.architecture == "arm64" && want == "v8",
            (None, _) => true,
        }
    }
}

impl std::fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn normalize_arch(a: &str) -> &str {
    match a {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" => "386",
        other => other,
    }
}

fn normalize_variant<'a>(arch: &str, v: &'a str) -> &'a str {
    match (normalize_arch(arch), v) {
        ("arm64", "8") => "v8",
        ("arm", "7") => "v7",
        (_, v) => v,
    }
}

/// Chooses the manifest for `want` from an index. Entries that are not
/// manifests (attestations, artifacts) are skipped. An index whose only
/// manifest has no platform yields that manifest.
pub fn select_manifest(
    index: &ImageIndex,
    want: &PlatformSpec,
    index_digest: &Digest,
) -> Result<Descriptor> {
    let manifests: Vec<&Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| is_manifest_type(d.media_type().as_ref()))
        .collect();
    let mut best: Option<(&Descriptor, bool)> = None;
    for d in &manifests {
        let Some(p) = d.platform() else { continue };
        let variant = p.variant().as_deref();
        if want.matches(&p.os().to_string(), &p.architecture().to_string(), variant) {
            let exact = variant
                .map(|v| Some(v) == want.variant.as_deref())
                .unwrap_or(want.variant.is_none());
            if best.is_none_or(|(_, e)| !e && exact) {
                best = Some((d, exact));
            }
        }
    }
    if let Some((d, _)) = best {
        return Ok(d.clone());
    }
    if manifests.len() == 1 && manifests[0].platform().is_none() {
        return Ok(manifests[0].clone());
    }
    let available: Vec<String> = manifests
        .iter()
        .filter_map(|d| d.platform().as_ref())
        .map(|p| match p.variant() {
            Some(v) => format!("{}/{}/{v}", p.os(), p.architecture()),
            None => format!("{}/{}", p.os(), p.architecture()),
        })
        .collect();
    Err(Error::NoMatchingPlatform {
        wanted: want.to_string(),
        index: index_digest.to_string(),
        available: if available.is_empty() {
            "nothing".to_owned()
        } else {
            available.join(", ")
        },
    })
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The compression a layer media type declares, or an error for media
/// types that are not layers brig can apply.
pub fn layer_compression(media_type: &str) -> Result<Compression> {
    let base = media_type
        .strip_prefix("application/vnd.oci.image.layer.nondistributable.v1.")
        .or_else(|| media_type.strip_prefix("application/vnd.oci.image.layer.v1."))
        .or_else(|| media_type.strip_prefix("application/vnd.docker.image.rootfs.foreign.diff."))
        .or_else(|| media_type.strip_prefix("application/vnd.docker.image.rootfs.diff."));
    match base {
        Some("tar") => Ok(Compression::None),
        Some("tar+gzip" | "tar.gzip") => Ok(Compression::Gzip),
        Some("tar+zstd" | "tar.zstd") => Ok(Compression::Zstd),
        _ => Err(Error::UnsupportedMediaType {
            what: "layer".to_owned(),
            media_type: media_type.to_owned(),
        }),
    }
}

/// Non-distributable ("foreign") layers: registries may not hold them, they
/// are never pushed, and their descriptor's `urls` say where to get them.
pub fn is_non_distributable(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.oci.image.layer.nondistributable.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.foreign.")
}

/// Guesses compression from a blob's first bytes (for archives that do not
/// say).
pub fn sniff_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The OCI layer media type for a compression.
pub fn oci_layer_type(c: Compression) -> &'static str {
    match c {
        Compression::None => mt::OCI_LAYER,
        Compression::Gzip => mt::OCI_LAYER_GZIP,
        Compression::Zstd => mt::OCI_LAYER_ZSTD,
    }
}

/// A reader of the uncompressed layer.
pub fn decompress<'a, R: std::io::Read + Send + 'a>(
    c: Compression,
    reader: R,
) -> std::io::Result<Box<dyn std::io::Read + Send + 'a>> {
    Ok(match c {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            std::io::BufReader::with_capacity(1 << 18, reader),
        )),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
    })
}

/// The fields of an image config the store needs; tolerant of extra or
/// missing fields so any Docker or OCI config can be recorded.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConfigSummary {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub rootfs: RootFsSummary,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFsSummary {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl ConfigSummary {
    pub fn parse(bytes: &[u8], digest: &Digest) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::json(format!("image config {digest}"), e))
    }

    /// The diff IDs as digests.
    pub fn diff_ids(&self) -> Result<Vec<Digest>> {
        self.rootfs
            .diff_ids
            .iter()
            .map(|d| parse_digest(d))
            .collect()
    }
}

/// Layer chain IDs: `chain[0] = diff[0]`,
/// `chain[n] = sha256(chain[n-1] + " " + diff[n])` (OCI image spec).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff in diff_ids {
        let next = match out.last() {
            None => diff.clone(),
            Some(parent) => {
                let mut h = Hasher::sha256();
                h.update(format!("{parent} {diff}").as_bytes());
                h.finish()
            }
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_of;

    fn index_json(entries: &[(&str, &str, Option<&str>)]) -> Vec<u8> {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .enumerate()
            .map(|(i, (os, arch, variant))| {
                let mut p = serde_json::json!({"os": os, "architecture": arch});
                if let Some(v) = variant {
                    p["variant"] = serde_json::json!(v);
                }
                serde_json::json!({
                    "mediaType": mt::OCI_MANIFEST,
                    "digest": sha256_of(&[i as u8]).to_string(),
                    "size": 100 + i,
                    "platform": p,
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": mt::OCI_INDEX, "manifests": manifests})).unwrap()
    }

    fn pick(entries: &[(&str, &str, Option<&str>)], want: &str) -> Result<u64> {
        let bytes = index_json(entries);
        let d = sha256_of(&bytes);
        let Manifest::Index { index, .. } = parse_manifest(&bytes, None, &d).unwrap() else {
            panic!()
        };
        select_manifest(&index, &PlatformSpec::parse(want).unwrap(), &d).map(|d| d.size())
    }

    #[test]
    fn index_selection_picks_the_requested_platform() {
        let e = [
            ("linux", "arm", Some("v7")),
            ("linux", "amd64", None),
            ("linux", "arm64", Some("v8")),
            ("windows", "amd64", None),
        ];
        assert_eq!(pick(&e, "linux/amd64").unwrap(), 101);
        assert_eq!(pick(&e, "linux/arm64").unwrap(), 102);
        assert_eq!(pick(&e, "linux/arm64/v8").unwrap(), 102);
        assert_eq!(pick(&e, "linux/arm/v7").unwrap(), 100);
        assert_eq!(pick(&e, "windows/amd64").unwrap(), 103);
        let err = pick(&e, "linux/s390x").unwrap_err().to_string();
        assert!(
            err.contains("linux/s390x") && err.contains("linux/arm/v7"),
            "{err}"
        );
        assert!(pick(&e, "linux/arm/v6").is_err());
    }

    #[test]
    fn host_platform_is_linux() {
        let h = PlatformSpec::host();
        assert_eq!(h.os, "linux");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(h.to_string(), "linux/amd64");
        }
        assert!(PlatformSpec::parse("linux").is_err());
        assert!(PlatformSpec::parse("linux/amd64/v1/x").is_err());
    }

    #[test]
    fn schema1_and_unknown_types_are_refused_by_name() {
        let d = sha256_of(b"x");
        let err = parse_manifest(br#"{"schemaVersion":1,"fsLayers":[]}"#, None, &d).unwrap_err();
        assert!(matches!(err, Error::SchemaOne { .. }));
        let err = parse_manifest(br#"{"mediaType":"text/plain"}"#, None, &d).unwrap_err();
        assert!(err.to_string().contains("text/plain"));
    }

    #[test]
    fn layer_media_types_map_to_compression() {
        assert_eq!(layer_compression(mt::OCI_LAYER).unwrap(), Compression::None);
        assert_eq!(
            layer_compression(mt::OCI_LAYER_ZSTD).unwrap(),
            Compression::Zstd
        );
        assert_eq!(
            layer_compression(mt::DOCKER_LAYER_GZIP).unwrap(),
            Compression::Gzip
        );
        assert_eq!(
            layer_compression(mt::DOCKER_FOREIGN_LAYER_GZIP).unwrap(),
            Compression::Gzip
        );
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
                .unwrap(),
            Compression::Gzip
        );
        assert!(is_non_distributable(mt::DOCKER_FOREIGN_LAYER_GZIP));
        assert!(!is_non_distributable(mt::OCI_LAYER_GZIP));
        assert!(layer_compression("application/vnd.oci.image.layer.v1.tar+encrypted").is_err());
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = sha256_of(b"a");
        let b = sha256_of(b"b");
        let chain = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(chain[0], a);
        assert_eq!(chain[1], sha256_of(format!("{a} {b}").as_bytes()));
    }
}
