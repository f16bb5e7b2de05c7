//! Registry credentials in Docker's `config.json` format
//! (`{"auths": {"host": {"auth": base64("user:password")}}}`), which brig's
//! own auth file uses too, with Docker's credential helpers (`credHelpers`,
//! `credsStore`), and `WWW-Authenticate` challenge parsing.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::helper::{Helper, creds_store, own_helper};
use crate::error::{Error, Result};

/// The key Docker uses for Docker Hub in `auths`.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

impl Credentials {
    /// The `Authorization: Basic ...` value.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            B64.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// An auth file in Docker's `config.json` format.
#[derive(Debug, Clone)]
pub struct AuthFile {
    path: PathBuf,
}

impl AuthFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        AuthFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// brig's auth file: `$REGISTRY_AUTH_FILE`, else
    /// `$XDG_CONFIG_HOME/brig/auth.json` (`~/.config/brig/auth.json`).
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE") {
            return PathBuf::from(p);
        }
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .unwrap_or_else(|| PathBuf::from("/root/.config"));
        config.join("brig/auth.json")
    }

    /// Docker's own file: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
    pub fn docker_path() -> PathBuf {
        match std::env::var_os("DOCKER_CONFIG") {
            Some(d) => PathBuf::from(d).join("config.json"),
            None => std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/root"))
                .join(".docker/config.json"),
        }
    }

    fn read(&self) -> Result<Map<String, Value>> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(self.problem(format!("cannot read it: {e}"))),
        };
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(self.problem("it is not a JSON object".to_owned())),
            Err(e) => Err(self.problem(format!("invalid JSON: {e}"))),
        }
    }

    fn problem(&self, problem: String) -> Error {
        Error::AuthFile {
            path: self.path.clone(),
            problem,
        }
    }

    fn helper<'a>(&'a self, name: &'a str, server: &'a str) -> Helper<'a> {
        Helper {
            name,
            config: &self.path,
            server,
        }
    }

    /// The credentials stored for `registry` (a reference's domain): from
    /// the registry's credential helper (`credHelpers`), else the file's
    /// own `auths` entry, else the `credsStore` helper.
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>> {
        let doc = self.read()?;
        let server = store_key(registry);
        if let Some(name) = own_helper(&doc, &normalize_key(registry)) {
            return self.helper(&name, &server).get();
        }
        if let Some(found) = self.inline(&doc, registry)? {
            return Ok(Some(found));
        }
        match creds_store(&doc) {
            Some(name) => self.helper(&name, &server).get(),
            None => Ok(None),
        }
    }

    /// Credentials written in the file itself (`auths`).
    fn inline(&self, doc: &Map<String, Value>, registry: &str) -> Result<Option<Credentials>> {
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        for key in lookup_keys(registry) {
            let Some(entry) = auths
                .iter()
                .find(|(k, _)| normalize_key(k) == key)
                .map(|(_, v)| v)
            else {
                continue;
            };
            if let Some(encoded) = entry
                .get("auth")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                let decoded = B64
                    .decode(encoded.trim())
                    .map_err(|e| self.problem(format!("auth of {key} is not base64: {e}")))?;
                let text = String::from_utf8(decoded)
                    .map_err(|_| self.problem(format!("auth of {key} is not UTF-8")))?;
                let (u, p) = text
                    .split_once(':')
                    .ok_or_else(|| self.problem(format!("auth of {key} is not user:password")))?;
                return Ok(Some(Credentials {
                    username: u.to_owned(),
                    password: p.to_owned(),
                }));
            }
            if let (Some(u), Some(p)) = (
                entry.get("username").and_then(Value::as_str),
                entry.get("password").and_then(Value::as_str),
            ) {
                return Ok(Some(Credentials {
                    username: u.to_owned(),
                    password: p.to_owned(),
                }));
            }
        }
        Ok(None)
    }

    /// Stores credentials for `registry` (`brig login`): with the
    /// registry's credential helper when the file names one, else in the
    /// file, keeping everything else in it (written atomically, readable
    /// only by its owner).
    pub fn set(&self, registry: &str, creds: &Credentials) -> Result<()> {
        let mut doc = self.read()?;
        let helper = own_helper(&doc, &normalize_key(registry)).or_else(|| creds_store(&doc));
        if let Some(name) = helper {
            return self.helper(&name, &store_key(registry)).store(creds);
        }
        let auths = doc.entry("auths").or_insert_with(|| json!({}));
        if !auths.is_object() {
            *auths = json!({});
        }
        let key = store_key(registry);
        let encoded = B64.encode(format!("{}:{}", creds.username, creds.password));
        if let Some(map) = auths.as_object_mut() {
            map.retain(|k, _| normalize_key(k) != normalize_key(&key));
            map.insert(key, json!({ "auth": encoded }));
        }
        self.write(&doc)
    }

    /// Forgets the credentials of `registry` (`brig logout`); returns
    /// whether there were any.
    pub fn remove(&self, registry: &str) -> Result<bool> {
        let mut doc = self.read()?;
        let helper = own_helper(&doc, &normalize_key(registry)).or_else(|| creds_store(&doc));
        let erased = match helper {
            Some(name) => self.helper(&name, &store_key(registry)).erase()?,
            None => false,
        };
        let keys = lookup_keys(registry);
        let removed = match doc.get_mut("auths").and_then(Value::as_object_mut) {
            Some(map) => {
                let before = map.len();
                map.retain(|k, _| !keys.contains(&normalize_key(k)));
                before != map.len()
            }
            None => false,
        };
        if removed {
            self.write(&doc)?;
        }
        Ok(removed || erased)
    }

    fn write(&self, doc: &Map<String, Value>) -> Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir)
            .map_err(|e| self.problem(format!("cannot create {}: {e}", dir.display())))?;
        let tmp = dir.join(format!(".auth-{}.tmp", fastrand::u64(..)));
        let data = serde_json::to_vec_pretty(doc).map_err(|e| self.problem(e.to_string()))?;
        let result = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&data).and_then(|_| f.sync_all()))
            .and_then(|_| fs::rename(&tmp, &self.path));
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(self.problem(format!("cannot write it: {e}")));
        }
        Ok(())
    }
}

/// Looks `registry` up in brig's auth file, then in Docker's.
pub fn find_credentials(registry: &str, files: &[AuthFile]) -> Result<Option<Credentials>> {
    for f in files {
        if let Some(c) = f.get(registry)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// `https://host/v1/` -> `host`; Docker Hub's aliases -> `docker.io`.
pub(super) fn normalize_key(key: &str) -> String {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_owned(),
        h => h.to_owned(),
    }
}

fn lookup_keys(registry: &str) -> Vec<String> {
    vec![normalize_key(registry)]
}

fn store_key(registry: &str) -> String {
    match normalize_key(registry).as_str() {
        "docker.io" => DOCKER_HUB_KEY.to_owned(),
        h => h.to_owned(),
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer`, lowercased.
    pub scheme: String,
    pub params: HashMap<String, String>,
}

/// Parses `Bearer realm="...",service="...",scope="..."`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars
                .by_ref()
                .take_while(|c| *c != ',')
                .collect::<String>()
                .trim()
                .to_owned();
        }
        params.insert(key, value);
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_parse_with_quoted_commas() {
        let c = parse_challenge(r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push""#).unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["service"], "reg");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(
            (c.scheme.as_str(), c.params["realm"].as_str()),
            ("basic", "Registry Realm")
        );
    }

    #[test]
    fn auth_file_round_trip_in_docker_format() {
        let dir = tempfile::tempdir().unwrap();
        let file = AuthFile::new(dir.path().join("sub/auth.json"));
        let c = Credentials {
            username: "me".into(),
            password: "p:ss".into(),
        };
        file.set("docker.io", &c).unwrap();
        file.set("localhost:5000", &c).unwrap();
        let doc: Value = serde_json::from_slice(&fs::read(file.path()).unwrap()).unwrap();
        assert_eq!(doc["auths"][DOCKER_HUB_KEY]["auth"], B64.encode("me:p:ss"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(file.path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(file.get("index.docker.io").unwrap(), Some(c.clone()));
        assert_eq!(file.get("localhost:5000").unwrap(), Some(c));
        assert!(file.remove("localhost:5000").unwrap());
        assert_eq!(file.get("localhost:5000").unwrap(), None);
        assert!(!file.remove("localhost:5000").unwrap());
    }

    #[test]
    fn docker_config_keys_with_scheme_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, format!(r#"{{"auths":{{"https://reg.example:5000/v1/":{{"auth":"{}"}}}},"credsStore":"x"}}"#, B64.encode("u:p"))).unwrap();
        let got = AuthFile::new(&path)
            .get("reg.example:5000")
            .unwrap()
            .unwrap();
        assert_eq!((got.username.as_str(), got.password.as_str()), ("u", "p"));
        fs::write(&path, "not json").unwrap();
        assert!(
            AuthFile::new(&path)
                .get("x")
                .unwrap_err()
                .to_string()
                .contains("config.json")
        );
    }
}
