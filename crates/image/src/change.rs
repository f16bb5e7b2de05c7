//! Dockerfile-style config changes (`import --change 'CMD ["sh"]'`, also
//! written `CMD=sh` as Podman accepts), parsed into data and applied to the
//! `config` object of an image config.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// One config change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    Cmd(Vec<String>),
    Entrypoint(Vec<String>),
    Env(Vec<(String, String)>),
    /// Normalized `port[-port]/proto`.
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    User(String),
    Volume(Vec<String>),
    Workdir(String),
    StopSignal(String),
    OnBuild(String),
}

impl ConfigChange {
    /// Parses `INSTRUCTION value` or `INSTRUCTION=value`.
    pub fn parse(change: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidChange {
            change: change.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = change.trim_start();
        let split = trimmed
            .find([' ', '\t', '='])
            .ok_or_else(|| invalid("expected INSTRUCTION VALUE, e.g. CMD [\"sh\"]"))?;
        let (word, rest) = trimmed.split_at(split);
        let value = rest[1..].trim();
        if value.is_empty() {
            return Err(invalid("the value is empty"));
        }
        let words = || split_words(value).map_err(&invalid);
        match word.to_ascii_uppercase().as_str() {
            "CMD" => Ok(ConfigChange::Cmd(command(value))),
            "ENTRYPOINT" => Ok(ConfigChange::Entrypoint(command(value))),
            "ENV" => Ok(ConfigChange::Env(pairs(value, words()?).map_err(&invalid)?)),
            "LABEL" => Ok(ConfigChange::Label(
                pairs(value, words()?).map_err(&invalid)?,
            )),
            "EXPOSE" => words()?
                .iter()
                .map(|p| {
                    normalize_port(p).ok_or_else(|| invalid("ports are PORT[-PORT][/tcp|udp|sctp]"))
                })
                .collect::<Result<_>>()
                .map(ConfigChange::Expose),
            "VOLUME" => {
                let list = json_array(value).map_or_else(words, Ok)?;
                if list.iter().any(|v| v.is_empty()) {
                    return Err(invalid("a volume path is empty"));
                }
                Ok(ConfigChange::Volume(list))
            }
            "USER" => Ok(ConfigChange::User(value.to_owned())),
            "WORKDIR" if value.starts_with('/') => Ok(ConfigChange::Workdir(value.to_owned())),
            "WORKDIR" => Err(invalid("WORKDIR must be an absolute path")),
            "STOPSIGNAL" => Ok(ConfigChange::StopSignal(value.to_owned())),
            "ONBUILD" => Ok(ConfigChange::OnBuild(value.to_owned())),
            _ => Err(invalid(
                "supported instructions are CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR",
            )),
        }
    }

    /// Applies the change to the `config` object of an image config
    /// (Docker's field names: `Cmd`, `Env`, `ExposedPorts`, ...).
    pub fn apply(&self, config: &mut Map<String, Value>) {
        match self {
            ConfigChange::Cmd(c) => {
                config.insert("Cmd".into(), json!(c));
            }
            ConfigChange::Entrypoint(e) => {
                config.insert("Entrypoint".into(), json!(e));
                // As in a Dockerfile, a new entrypoint resets an inherited command.
                config.remove("Cmd");
            }
            ConfigChange::Env(vars) => {
                let mut env: Vec<String> = string_list(config.get("Env"));
                for (k, v) in vars {
                    env.retain(|e| e.split_once('=').map(|(name, _)| name) != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
                config.insert("Env".into(), json!(env));
            }
            ConfigChange::Label(labels) => {
                let entry = config.entry("Labels").or_insert_with(|| json!({}));
                if !entry.is_object() {
                    *entry = json!({});
                }
                for (k, v) in labels {
                    entry[k] = json!(v);
                }
            }
            ConfigChange::Expose(ports) => set_keys(config, "ExposedPorts", ports),
            ConfigChange::Volume(paths) => set_keys(config, "Volumes", paths),
            ConfigChange::User(u) => {
                config.insert("User".into(), json!(u));
            }
            ConfigChange::Workdir(w) => {
                config.insert("WorkingDir".into(), json!(w));
            }
            ConfigChange::StopSignal(s) => {
                config.insert("StopSignal".into(), json!(s));
            }
            ConfigChange::OnBuild(o) => {
                let mut list = string_list(config.get("OnBuild"));
                list.push(o.clone());
                config.insert("OnBuild".into(), json!(list));
            }
        }
    }
}

impl std::str::FromStr for ConfigChange {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ConfigChange::parse(s)
    }
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Go's `map[string]struct{}` JSON: `{"80/tcp": {}}`.
fn set_keys(config: &mut Map<String, Value>, field: &str, keys: &[String]) {
    let entry = config.entry(field).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    for k in keys {
        entry[k] = json!({});
    }
}

/// Exec form (`["a","b"]`) or shell form (`/bin/sh -c "..."`), like Docker,
/// which falls back to the shell form when the JSON does not parse.
fn command(value: &str) -> Vec<String> {
    json_array(value)
        .unwrap_or_else(|| vec!["/bin/sh".to_owned(), "-c".to_owned(), value.to_owned()])
}

fn json_array(value: &str) -> Option<Vec<String>> {
    if !value.starts_with('[') {
        return None;
    }
    serde_json::from_str(value).ok()
}

/// `K=V K2="v 2"` pairs, or the legacy single `KEY value with spaces`.
fn pairs(
    raw: &str,
    words: Vec<String>,
) -> std::result::Result<Vec<(String, String)>, &'static str> {
    if let Some(first) = words.first()
        && !first.contains('=')
    {
        let rest = raw.trim_start()[first.len()..].trim();
        if rest.is_empty() {
            return Err("expected KEY=VALUE");
        }
        return Ok(vec![(first.clone(), rest.to_owned())]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err("expected KEY=VALUE pairs"),
        })
        .collect()
}

/// Splits on whitespace, honouring "double" and 'single' quotes and
/// backslash escapes (outside single quotes), and removing the quotes.
fn split_words(s: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                cur.push(chars.next().ok_or("a trailing backslash escapes nothing")?);
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("a quote is not closed");
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn normalize_port(p: &str) -> Option<String> {
    let (ports, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return None;
    }
    let valid = |n: &str| n.parse::<u16>().is_ok_and(|v| v > 0);
    let ok = match ports.split_once('-') {
        Some((a, b)) => valid(a) && valid(b),
        None => valid(ports),
    };
    ok.then(|| format!("{ports}/{proto}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> Value {
        let mut config = Map::new();
        for c in changes {
            ConfigChange::parse(c).unwrap().apply(&mut config);
        }
        Value::Object(config)
    }

    #[test]
    fn both_separators_and_both_command_forms() {
        assert_eq!(
            applied(&["CMD=[\"sh\",\"-c\",\"echo hi\"]"])["Cmd"],
            json!(["sh", "-c", "echo hi"])
        );
        assert_eq!(
            applied(&["CMD echo hi"])["Cmd"],
            json!(["/bin/sh", "-c", "echo hi"])
        );
        assert_eq!(
            applied(&["cmd=/bin/sh"])["Cmd"],
            json!(["/bin/sh", "-c", "/bin/sh"])
        );
        assert_eq!(
            applied(&["CMD [broken"])["Cmd"],
            json!(["/bin/sh", "-c", "[broken"])
        );
        let v = applied(&["CMD x", "ENTRYPOINT [\"/init\"]"]);
        assert_eq!(v["Entrypoint"], json!(["/init"]));
        assert!(v.get("Cmd").is_none());
    }

    #[test]
    fn env_and_labels_with_quotes_replace_earlier_values() {
        let v = applied(&[
            "ENV A=1 B=\"two words\"",
            "ENV A=3",
            "ENV LEGACY value with spaces",
        ]);
        assert_eq!(
            v["Env"],
            json!(["B=two words", "A=3", "LEGACY=value with spaces"])
        );
        let v = applied(&["LABEL a=b 'c d'=e", "LABEL=a=z"]);
        assert_eq!(v["Labels"], json!({"a": "z", "c d": "e"}));
    }

    #[test]
    fn ports_volumes_and_simple_values() {
        let v = applied(&[
            "EXPOSE 80 53/udp 8000-8010",
            "VOLUME [\"/data\"]",
            "VOLUME /a /b",
            "USER 1000:1000",
            "WORKDIR /srv",
            "STOPSIGNAL SIGTERM",
        ]);
        assert_eq!(
            v["ExposedPorts"],
            json!({"80/tcp": {}, "53/udp": {}, "8000-8010/tcp": {}})
        );
        assert_eq!(v["Volumes"], json!({"/data": {}, "/a": {}, "/b": {}}));
        assert_eq!(v["User"], json!("1000:1000"));
        assert_eq!(v["WorkingDir"], json!("/srv"));
        assert_eq!(v["StopSignal"], json!("SIGTERM"));
    }

    #[test]
    fn bad_changes_say_why() {
        for (bad, why) in [
            ("FROM scratch", "supported instructions"),
            ("CMD", "expected INSTRUCTION"),
            ("EXPOSE 99999", "PORT"),
            ("EXPOSE 80/icmp", "PORT"),
            ("WORKDIR srv", "absolute"),
            ("ENV A=\"open", "quote"),
            ("ENV =x", "KEY=VALUE"),
            ("HEALTHCHECK CMD true", "supported instructions"),
        ] {
            let err = ConfigChange::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
