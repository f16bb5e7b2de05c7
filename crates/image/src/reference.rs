//! Image references, normalized the way Docker does it: `busybox` means
//! `docker.io/library/busybox:latest`.

use std::fmt;

use crate::digest::{Digest, parse_digest};
use crate::error::{Error, Result};

/// The registry that short names refer to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The tag used when a reference names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A normalized image reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
    tag_implied: bool,
}

impl Reference {
    /// Parses and normalizes a reference. Without tag and digest the tag is
    /// `latest` and [`tag_implied`](Self::tag_implied) is set.
    pub fn parse(input: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidReference {
            reference: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(invalid("it is empty"));
        }
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "a 64-character hexadecimal string is an image ID, not a name",
            ));
        }
        let (name_and_tag, digest) = match input.split_once('@') {
            Some((n, d)) => (n, Some(parse_digest(d)?)),
            None => (input, None),
        };
        let (name, tag) = split_tag(name_and_tag);
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(invalid(
                "the tag must be 1-128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'",
            ));
        }
        let (domain, path) = split_domain(name);
        if domain.is_empty() || !valid_domain(&domain) {
            return Err(invalid("the registry host is not a valid host[:port]"));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid("repository name must be lowercase"));
        }
        if !valid_path(&path) {
            return Err(invalid(
                "the repository path must be lowercase components of letters and digits separated by '/', '.', '_', '__' or '-'",
            ));
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(invalid("the name is longer than 255 characters"));
        }
        let tag_implied = tag.is_none() && digest.is_none();
        let tag = match tag {
            Some(t) => Some(t.to_owned()),
            None if digest.is_none() => Some(DEFAULT_TAG.to_owned()),
            None => None,
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
            tag_implied,
        })
    }

    /// The registry host, e.g. `docker.io` or `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `domain/path`, e.g. `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// True when the input named neither a tag nor a digest, so `latest`
    /// was assumed.
    pub fn tag_implied(&self) -> bool {
        self.tag_implied
    }

    /// True when the reference resolves through the moving `latest` tag
    /// (written or implied) rather than a fixed tag or digest, so a CLI can
    /// warn.
    pub fn uses_latest(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref() == Some(DEFAULT_TAG)
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Self> {
        Reference::parse(&format!("{}:{tag}", self.repository()))
    }

    /// The same repository pinned to `digest` (and no tag).
    pub fn with_digest(&self, digest: &Digest) -> Self {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest.clone()),
            tag_implied: false,
        }
    }

    /// The short form Docker prints: `busybox:latest`, `user/app:1`,
    /// `localhost:5000/app@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut name = self.repository();
        if self.domain == DEFAULT_DOMAIN {
            name = self.path.clone();
            if let Some(short) = name.strip_prefix(OFFICIAL_REPO_PREFIX)
                && !short.contains('/')
            {
                name = short.to_owned();
            }
        }
        append_tag_and_digest(name, self.tag.as_deref(), self.digest.as_ref())
    }

    /// The host to contact for the registry API (`docker.io` is served by
    /// `registry-1.docker.io`).
    pub fn registry_host(&self) -> &str {
        if self.domain == DEFAULT_DOMAIN {
            "registry-1.docker.io"
        } else {
            &self.domain
        }
    }
}

impl fmt::Display for Reference {
    /// The canonical form, e.g. `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&append_tag_and_digest(
            self.repository(),
            self.tag.as_deref(),
            self.digest.as_ref(),
        ))
    }
}

impl std::str::FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Reference::parse(s)
    }
}

fn append_tag_and_digest(mut name: String, tag: Option<&str>, digest: Option<&Digest>) -> String {
    if let Some(t) = tag {
        name.push(':');
        name.push_str(t);
    }
    if let Some(d) = digest {
        name.push('@');
        name.push_str(d.as_ref());
    }
    name
}

/// Splits `name[:tag]`; a ':' before the last '/' belongs to a port.
fn split_tag(s: &str) -> (&str, Option<&str>) {
    match s.rfind(':') {
        Some(i) if !s[i..].contains('/') => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    }
}

/// Docker's rule: the first component is a registry host if it contains
/// '.' or ':', is `localhost`, or has uppercase letters.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_owned();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_REPO_PREFIX}{path}");
    }
    (domain, path)
}

fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        // [IPv6]:port
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    host.is_empty() && domain.starts_with('[')
        || host.split('.').all(|component| {
            let b = component.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

fn valid_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(valid_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn short_names_normalize_like_docker() {
        assert_eq!(canon("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(canon("user/app:1.0"), "docker.io/user/app:1.0");
        assert_eq!(
            canon("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(canon("localhost/app"), "localhost/app:latest");
        assert_eq!(canon("localhost:5000/a/b:v2"), "localhost:5000/a/b:v2");
        assert_eq!(canon("quay.io/podman/hello"), "quay.io/podman/hello:latest");
        assert_eq!(canon("[::1]:5000/app:x"), "[::1]:5000/app:x");
        assert_eq!(canon("abc/d.e_f__g--h"), "docker.io/abc/d.e_f__g--h:latest");
        assert_eq!(canon("a-b.c/e--f"), "a-b.c/e--f:latest");
    }

    #[test]
    fn latest_flag_tells_implied_from_written() {
        let implied = Reference::parse("busybox").unwrap();
        assert!(implied.tag_implied() && implied.uses_latest());
        let written = Reference::parse("busybox:latest").unwrap();
        assert!(!written.tag_implied() && written.uses_latest());
        let fixed = Reference::parse("busybox:1.36").unwrap();
        assert!(!fixed.tag_implied() && !fixed.uses_latest());
    }

    #[test]
    fn digests_pin_and_keep_no_default_tag() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().to_string(), d);
        assert!(!r.uses_latest() && !r.tag_implied());
        assert_eq!(r.familiar(), format!("busybox@{d}"));
        let both = Reference::parse(&format!("localhost:5000/x:1@{d}")).unwrap();
        assert_eq!(both.tag(), Some("1"));
        assert_eq!(both.to_string(), format!("localhost:5000/x:1@{d}"));
    }

    #[test]
    fn familiar_form_strips_default_registry() {
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar(),
            "busybox:latest"
        );
        assert_eq!(Reference::parse("me/app:2").unwrap().familiar(), "me/app:2");
        assert_eq!(
            Reference::parse("localhost:5000/app:2").unwrap().familiar(),
            "localhost:5000/app:2"
        );
    }

    #[test]
    fn malformed_references_are_refused_with_a_reason() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "a//b",
            "a/-b",
            "busybox@sha256:xyz",
            "busybox@md5:00",
            "bad host!/x",
            &"a".repeat(64).replace('a', "b"),
            &format!("x/{}", "a".repeat(300)),
        ] {
            let err = Reference::parse(bad).unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
        }
        let err = Reference::parse("docker.io/Library/x").unwrap_err();
        assert!(err.to_string().contains("lowercase"), "{err}");
    }

    #[test]
    fn registry_host_of_docker_hub() {
        assert_eq!(
            Reference::parse("busybox").unwrap().registry_host(),
            "registry-1.docker.io"
        );
        assert_eq!(
            Reference::parse("127.0.0.1:5000/x")
                .unwrap()
                .registry_host(),
            "127.0.0.1:5000"
        );
    }
}
