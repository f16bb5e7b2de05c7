//! A blocking client of the OCI distribution API: manifests and blobs,
//! with Basic and Bearer authentication, retries with backoff, TLS with
//! custom CAs, and plain HTTP for registries whose TLS is not verified.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::{self, Method, Request, Response, StatusCode};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body};

use super::auth::{AuthFile, Credentials, find_credentials, parse_challenge};
use crate::error::{Error, Result};
use crate::manifest::PlatformSpec;

/// The system's CA bundle (Debian's ca-certificates).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Verify TLS certificates. When false, any certificate is accepted and
    /// plain HTTP is used if the registry does not speak TLS
    /// (`--tls-verify=false`, for local registries).
    pub tls_verify: bool,
    /// Extra CA certificates (PEM files) to trust, besides the system's.
    pub ca_files: Vec<PathBuf>,
    /// Credentials to use; when `None` they are looked up in `auth_files`.
    pub credentials: Option<Credentials>,
    /// Auth files in Docker's config.json format, searched in order.
    pub auth_files: Vec<AuthFile>,
    /// The platform chosen from multi-platform images.
    pub platform: PlatformSpec,
    /// Attempts after the first for failed connections, 5xx and 429
    /// answers, and interrupted downloads.
    pub retries: u32,
    /// The first retry waits this long; each next one twice as long.
    pub retry_delay: Duration,
    /// Blobs larger than this are pushed in chunks of this size (a cut
    /// upload goes on from the last chunk the registry took); 0 pushes
    /// every blob in one request.
    pub push_chunk_size: u64,
}

/// Push chunks: large enough that the per-request cost is noise, small
/// enough that a cut connection loses little.
pub const DEFAULT_PUSH_CHUNK_SIZE: u64 = 16 << 20;

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            tls_verify: true,
            ca_files: Vec::new(),
            credentials: None,
            auth_files: vec![
                AuthFile::new(AuthFile::default_path()),
                AuthFile::new(AuthFile::docker_path()),
            ],
            platform: PlatformSpec::host(),
            retries: 4,
            retry_delay: Duration::from_millis(200),
            push_chunk_size: DEFAULT_PUSH_CHUNK_SIZE,
        }
    }
}

/// A request body that can be sent again on a retry.
pub(crate) enum ReqBody<'a> {
    Empty,
    Bytes(&'a [u8], &'a str),
    File(&'a Path),
}

/// One registry, with its connections and tokens.
#[derive(Debug)]
pub struct RegistryClient {
    agent: Agent,
    /// The registry as users name it (`docker.io`, `localhost:5000`).
    registry: String,
    /// The API host (`registry-1.docker.io` for Docker Hub).
    host: String,
    scheme: Mutex<&'static str>,
    allow_http: bool,
    creds: Option<Credentials>,
    /// `Authorization` values by scope.
    auth: Mutex<HashMap<String, String>>,
    retries: u32,
    retry_delay: Duration,
    chunk_size: u64,
}

impl RegistryClient {
    /// A client for `registry` (a reference's domain).
    pub fn new(registry: &str, opts: &RegistryOptions) -> Result<Self> {
        let host = if registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            registry
        };
        let creds = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None => find_credentials(registry, &opts.auth_files)?,
        };
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls_config(opts)?)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .user_agent(concat!("brig/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(RegistryClient {
            agent: config.new_agent(),
            registry: registry.to_owned(),
            host: host.to_owned(),
            scheme: Mutex::new("https"),
            allow_http: !opts.tls_verify,
            creds,
            auth: Mutex::new(HashMap::new()),
            retries: opts.retries,
            retry_delay: opts.retry_delay,
            chunk_size: opts.push_chunk_size,
        })
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    pub(crate) fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    pub(crate) fn backoff(&self, attempt: u32) {
        let base = self.retry_delay.saturating_mul(1 << attempt.min(8));
        let jitter = Duration::from_millis(fastrand::u64(..=base.as_millis() as u64 / 4 + 1));
        std::thread::sleep(base + jitter);
    }

    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_owned();
        }
        let scheme = *self.scheme.lock().unwrap_or_else(|p| p.into_inner());
        format!("{scheme}://{}{path}", self.host)
    }

    /// Sends a request, authenticating on 401 and retrying transport errors,
    /// 429 and 5xx with backoff. Other statuses are returned to the caller.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: ReqBody<'_>,
        scope: &str,
        what: &str,
    ) -> Result<Response<Body>> {
        let mut attempt = 0;
        let mut authenticated = false;
        loop {
            let url = self.url(path);
            let auth = self
                .auth
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(scope)
                .cloned();
            match self.send_once(&method, &url, headers, &body, auth.as_deref()) {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !authenticated => {
                    authenticated = true;
                    self.authenticate(&resp, scope, what)?;
                }
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
                    return Err(self.unauthorized(what, "; the registry refused the credentials"));
                }
                Ok(resp) if retryable(resp.status()) && attempt < self.retries => {
                    self.backoff(attempt);
                    attempt += 1;
                }
                Ok(resp) => return Ok(resp),
                Err(e) if self.switch_to_http(&e) => {}
                Err(e) if attempt < self.retries => {
                    self.backoff(attempt);
                    attempt += 1;
                    let _ = e;
                }
                Err(e) => {
                    return Err(Error::RegistryUnreachable {
                        registry: self.registry.clone(),
                        reason: format!("{what}: {e}"),
                    });
                }
            }
        }
    }

    fn send_once(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, String)],
        body: &ReqBody<'_>,
        auth: Option<&str>,
    ) -> Result<Response<Body>, ureq::Error> {
        let mut b = Request::builder().method(method.clone()).uri(url);
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        if let Some(a) = auth {
            b = b.header(http::header::AUTHORIZATION, a);
        }
        match body {
            ReqBody::Empty => self.agent.run(b.body(())?),
            ReqBody::Bytes(data, content_type) => self.agent.run(
                b.header(http::header::CONTENT_TYPE, *content_type)
                    .body(*data)?,
            ),
            ReqBody::File(path) => {
                let file = File::open(path)?;
                self.agent.run(
                    b.header(http::header::CONTENT_TYPE, "application/octet-stream")
                        .body(file)?,
                )
            }
        }
    }

    /// After a transport error on HTTPS, a registry whose TLS is not
    /// verified is tried over plain HTTP.
    fn switch_to_http(&self, _e: &ureq::Error) -> bool {
        let mut scheme = self.scheme.lock().unwrap_or_else(|p| p.into_inner());
        if self.allow_http && *scheme == "https" {
            *scheme = "http";
            return true;
        }
        false
    }

    /// Answers a 401 challenge: Basic with the credentials, or a Bearer
    /// token from the challenge's realm.
    fn authenticate(&self, resp: &Response<Body>, scope: &str, what: &str) -> Result<()> {
        let header = resp
            .headers()
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(parse_challenge)
            .max_by_key(|c| c.scheme == "bearer");
        let Some(challenge) = header else {
            return Err(self.unauthorized(what, ""));
        };
        let value = match challenge.scheme.as_str() {
            "basic" => match &self.creds {
                Some(c) => c.basic_header(),
                None => return Err(self.unauthorized(what, "")),
            },
            "bearer" => self.fetch_token(&challenge.params, scope, what)?,
            other => {
                return Err(self.unauthorized(what, &format!("; unsupported challenge {other}")));
            }
        };
        self.auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(scope.to_owned(), value);
        Ok(())
    }

    fn fetch_token(
        &self,
        params: &HashMap<String, String>,
        scope: &str,
        what: &str,
    ) -> Result<String> {
        let realm = params
            .get("realm")
            .ok_or_else(|| self.unauthorized(what, "; the Bearer challenge has no realm"))?;
        let mut req = self.agent.get(realm.as_str());
        if let Some(service) = params.get("service") {
            req = req.query("service", service);
        }
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            req = req.query("scope", s);
        }
        if let Some(c) = &self.creds {
            req = req.header(http::header::AUTHORIZATION, c.basic_header());
        }
        let mut resp = req.call().map_err(|e| Error::RegistryUnreachable {
            registry: self.registry.clone(),
            reason: format!("token service {realm}: {e}"),
        })?;
        if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
            return Err(self.unauthorized(what, "; the token service refused the credentials"));
        }
        if !resp.status().is_success() {
            return Err(self.status_error(&mut resp, &format!("token request to {realm}")));
        }
        let body: serde_json::Value = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .map_err(|e| Error::RegistryUnreachable {
                registry: self.registry.clone(),
                reason: format!("token service {realm} answered no JSON: {e}"),
            })?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| self.unauthorized(what, "; the token service answered no token"))?;
        Ok(format!("Bearer {token}"))
    }

    fn unauthorized(&self, what: &str, detail: &str) -> Error {
        Error::Unauthorized {
            registry: self.registry.clone(),
            what: what.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// An error for an unexpected status, with the registry's own message.
    pub(crate) fn status_error(&self, resp: &mut Response<Body>, what: &str) -> Error {
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .unwrap_or_default();
        Error::Registry {
            registry: self.registry.clone(),
            what: what.to_owned(),
            status,
            message: error_message(&text),
        }
    }
}

pub(crate) fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

pub(crate) fn push_scope(repo: &str, mount_from: Option<&str>) -> String {
    match mount_from {
        Some(from) => format!("repository:{repo}:pull,push repository:{from}:pull"),
        None => format!("repository:{repo}:pull,push"),
    }
}

fn retryable(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS || matches!(s.as_u16(), 500 | 502 | 503 | 504)
}

/// The distribution spec's error body, `{"errors":[{"code","message"}]}`,
/// as one line.
fn error_message(body: &str) -> String {
    let parsed: Option<Vec<String>> = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errors")?.as_array().map(|errs| {
                errs.iter()
                    .map(|e| {
                        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                        let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                        format!("{code}: {msg}")
                    })
                    .collect()
            })
        });
    match parsed {
        Some(list) if !list.is_empty() => list.join("; "),
        _ if body.trim().is_empty() => "no details".to_owned(),
        _ => body.trim().chars().take(300).collect(),
    }
}

fn tls_config(opts: &RegistryOptions) -> Result<TlsConfig> {
    let builder = TlsConfig::builder();
    if !opts.tls_verify {
        return Ok(builder.disable_verification(true).build());
    }
    if opts.ca_files.is_empty() {
        return Ok(builder.build());
    }
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    let system = Path::new(SYSTEM_CA_BUNDLE);
    let mut files: Vec<&Path> = opts.ca_files.iter().map(PathBuf::as_path).collect();
    if system.exists() {
        files.push(system);
    }
    for path in files {
        let bad = |problem: String| Error::Certificate {
            path: path.to_owned(),
            problem,
        };
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let before = certs.len();
        for item in ureq::tls::parse_pem(&pem) {
            if let PemItem::Certificate(c) = item.map_err(|e| bad(format!("invalid PEM: {e}")))? {
                certs.push(c);
            }
        }
        if certs.len() == before {
            return Err(bad("it holds no PEM certificate".to_owned()));
        }
    }
    Ok(builder
        .root_certs(RootCerts::new_with_certs(&certs))
        .build())
}
