//! runc's command line: global flags, then one subcommand. Flags may come
//! before or after the container id; the global ones also after the
//! subcommand. The flags are data (`table.rs`); this file turns the parsed
//! values into the types the commands take.

mod help;
mod parser;
mod table;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;

pub use parser::UsageError;
use parser::{Matches, Outcome};
use table::CommandSpec;

/// What `--version` prints (engines log and parse it).
pub const VERSION: &str = concat!(
    "brig-runtime version ",
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("BRIG_GIT_COMMIT"),
    "\nspec: 1.2.1"
);

#[derive(Debug)]
pub enum Parsed {
    Run(Box<Cli>),
    /// `--help`, `-h` or `help [COMMAND]`: print this to stdout.
    Help(String),
    Version,
}

#[derive(Debug)]
pub struct Cli {
    pub global: Global,
    pub command: Command,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug)]
pub struct Global {
    /// Directory holding the state of containers.
    pub root: PathBuf,
    pub log: Option<PathBuf>,
    pub log_format: LogFormat,
    pub debug: bool,
    pub systemd_cgroup: bool,
}

#[derive(Debug)]
pub struct CreateArgs {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
}

#[derive(Debug)]
pub struct ExecArgs {
    pub id: String,
    /// The command and its arguments (when --process is not given).
    pub command: Vec<String>,
    pub process: Option<PathBuf>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub no_new_privs: bool,
    pub cap: Vec<String>,
    pub preserve_fds: u32,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
}

/// runc's `update` flags, kept as text: sizes accept units like `32m`
/// (parsed by the library, as runc does).
#[derive(Debug, Default)]
pub struct UpdateArgs {
    pub id: String,
    pub resources: Option<PathBuf>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub kernel_memory: Option<String>,
    pub kernel_memory_tcp: Option<String>,
    pub cpu_quota: Option<String>,
    pub cpu_period: Option<String>,
    pub cpu_shares: Option<String>,
    pub cpu_rt_period: Option<String>,
    pub cpu_rt_runtime: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<String>,
    pub blkio_weight: Option<String>,
    pub l3_cache_schema: Option<String>,
    pub mem_bw_schema: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug)]
pub enum Command {
    Spec {
        bundle: PathBuf,
        rootless: bool,
    },
    Create(CreateArgs),
    Start {
        id: String,
    },
    Run {
        create: CreateArgs,
        detach: bool,
    },
    State {
        id: String,
    },
    Kill {
        id: String,
        signal: Option<String>,
        all: bool,
    },
    Delete {
        id: String,
        force: bool,
    },
    List {
        format: ListFormat,
        quiet: bool,
    },
    Ps {
        id: String,
        format: ListFormat,
        ps_args: Vec<String>,
    },
    Exec(ExecArgs),
    Features,
    Update(UpdateArgs),
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    Events {
        id: String,
        stats: bool,
        interval: String,
    },
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, UsageError> {
    match parser::parse(args)? {
        Outcome::Help(text) => Ok(Parsed::Help(text)),
        Outcome::Version => Ok(Parsed::Version),
        Outcome::Run {
            global,
            command,
            matches,
        } => {
            let before = Values {
                m: &global,
                cmd: None,
            };
            let after = Values {
                m: &matches,
                cmd: Some(command),
            };
            Ok(Parsed::Run(Box::new(Cli {
                global: global_flags(&before, &after)?,
                command: command_args(command, &after)?,
            })))
        }
    }
}

/// Global flags given after the subcommand override those given before it.
fn global_flags(before: &Values, after: &Values) -> Result<Global, UsageError> {
    let path = |long| after.path(long).or_else(|| before.path(long));
    let log_format = match after.string("log-format")? {
        Some(text) => Some(text),
        None => before.string("log-format")?,
    };
    let log_format = match log_format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(after.invalid("log-format", other, "possible values: text, json"));
        }
    };
    Ok(Global {
        root: path("root").unwrap_or_else(brig_runtime::rootless::default_state_root),
        log: path("log"),
        log_format,
        debug: after.switch("debug") || before.switch("debug"),
        systemd_cgroup: after.switch("systemd-cgroup") || before.switch("systemd-cgroup"),
    })
}

fn command_args(command: &'static CommandSpec, v: &Values) -> Result<Command, UsageError> {
    Ok(match command.name {
        "spec" => Command::Spec {
            bundle: v.path("bundle").unwrap_or_else(|| ".".into()),
            rootless: v.switch("rootless"),
        },
        "create" => Command::Create(create_args(v)?),
        "start" => Command::Start { id: v.id()? },
        "run" => Command::Run {
            create: create_args(v)?,
            detach: v.switch("detach"),
        },
        "state" => Command::State { id: v.id()? },
        "kill" => Command::Kill {
            id: v.id()?,
            signal: v.positional_strings(1)?.pop(),
            all: v.switch("all"),
        },
        "delete" => Command::Delete {
            id: v.id()?,
            force: v.switch("force"),
        },
        "list" => Command::List {
            format: v.list_format()?,
            quiet: v.switch("quiet"),
        },
        "ps" => Command::Ps {
            id: v.id()?,
            format: v.list_format()?,
            ps_args: v.positional_strings(1)?,
        },
        "exec" => Command::Exec(exec_args(v)?),
        "features" => Command::Features,
        "update" => Command::Update(update_args(v)?),
        "pause" => Command::Pause { id: v.id()? },
        "resume" => Command::Resume { id: v.id()? },
        "events" => Command::Events {
            id: v.id()?,
            stats: v.switch("stats"),
            interval: v.string("interval")?.unwrap_or_else(|| "5s".into()),
        },
        other => {
            return Err(UsageError::new(
                format!("unrecognized subcommand '{other}'"),
                None,
            ));
        }
    })
}

fn create_args(v: &Values) -> Result<CreateArgs, UsageError> {
    Ok(CreateArgs {
        id: v.id()?,
        bundle: v.path("bundle").unwrap_or_else(|| ".".into()),
        pid_file: v.path("pid-file"),
        console_socket: v.path("console-socket"),
        no_pivot: v.switch("no-pivot"),
        no_new_keyring: v.switch("no-new-keyring"),
        preserve_fds: v.number("preserve-fds")?.unwrap_or(0),
    })
}

fn exec_args(v: &Values) -> Result<ExecArgs, UsageError> {
    Ok(ExecArgs {
        id: v.id()?,
        command: v.positional_strings(1)?,
        process: v.path("process"),
        tty: v.switch("tty"),
        console_socket: v.path("console-socket"),
        detach: v.switch("detach"),
        pid_file: v.path("pid-file"),
        cwd: v.path("cwd"),
        env: v.strings("env")?,
        user: v.string("user")?,
        additional_gids: v.numbers("additional-gids")?,
        no_new_privs: v.switch("no-new-privs"),
        cap: v.strings("cap")?,
        preserve_fds: v.number("preserve-fds")?.unwrap_or(0),
        apparmor: v.string("apparmor")?,
        process_label: v.string("process-label")?,
    })
}

fn update_args(v: &Values) -> Result<UpdateArgs, UsageError> {
    Ok(UpdateArgs {
        id: v.id()?,
        resources: v.path("resources"),
        memory: v.string("memory")?,
        memory_reservation: v.string("memory-reservation")?,
        memory_swap: v.string("memory-swap")?,
        kernel_memory: v.string("kernel-memory")?,
        kernel_memory_tcp: v.string("kernel-memory-tcp")?,
        cpu_quota: v.string("cpu-quota")?,
        cpu_period: v.string("cpu-period")?,
        cpu_shares: v.string("cpu-shares")?,
        cpu_rt_period: v.string("cpu-rt-period")?,
        cpu_rt_runtime: v.string("cpu-rt-runtime")?,
        cpuset_cpus: v.string("cpuset-cpus")?,
        cpuset_mems: v.string("cpuset-mems")?,
        pids_limit: v.string("pids-limit")?,
        blkio_weight: v.string("blkio-weight")?,
        l3_cache_schema: v.string("l3-cache-schema")?,
        mem_bw_schema: v.string("mem-bw-schema")?,
    })
}

/// Typed access to one level's raw values; errors name the flag.
struct Values<'a> {
    m: &'a Matches,
    cmd: Option<&'static CommandSpec>,
}

impl Values<'_> {
    fn switch(&self, long: &str) -> bool {
        self.m.switch(long)
    }

    fn path(&self, long: &str) -> Option<PathBuf> {
        self.m.value(long).map(PathBuf::from)
    }

    fn utf8(&self, what: &str, value: &OsString) -> Result<String, UsageError> {
        value.to_str().map(str::to_owned).ok_or_else(|| {
            let msg = format!("invalid UTF-8 in {what}: {}", value.to_string_lossy());
            UsageError::new(msg, self.cmd)
        })
    }

    fn string(&self, long: &str) -> Result<Option<String>, UsageError> {
        self.m
            .value(long)
            .map(|v| self.utf8(&format!("--{long}"), v))
            .transpose()
    }

    fn strings(&self, long: &str) -> Result<Vec<String>, UsageError> {
        self.m
            .values(long)
            .map(|v| self.utf8(&format!("--{long}"), v))
            .collect()
    }

    fn parse_number<T: FromStr>(&self, long: &str, text: &str) -> Result<T, UsageError>
    where
        T::Err: Display,
    {
        text.parse()
            .map_err(|e: T::Err| self.invalid(long, text, &e.to_string()))
    }

    fn number<T: FromStr>(&self, long: &str) -> Result<Option<T>, UsageError>
    where
        T::Err: Display,
    {
        self.string(long)?
            .map(|text| self.parse_number(long, &text))
            .transpose()
    }

    fn numbers<T: FromStr>(&self, long: &str) -> Result<Vec<T>, UsageError>
    where
        T::Err: Display,
    {
        self.strings(long)?
            .iter()
            .map(|text| self.parse_number(long, text))
            .collect()
    }

    fn list_format(&self) -> Result<ListFormat, UsageError> {
        match self.string("format")?.as_deref() {
            None | Some("table") => Ok(ListFormat::Table),
            Some("json") => Ok(ListFormat::Json),
            Some(other) => Err(self.invalid("format", other, "possible values: table, json")),
        }
    }

    /// The container id (the parser has checked it is there).
    fn id(&self) -> Result<String, UsageError> {
        let id = self.m.positionals.first().ok_or_else(|| {
            UsageError::new(
                "the following required argument was not provided: <ID>",
                self.cmd,
            )
        })?;
        self.utf8("the container id", id)
    }

    /// Positionals from index `from` on.
    fn positional_strings(&self, from: usize) -> Result<Vec<String>, UsageError> {
        let rest = self.m.positionals.iter().skip(from);
        rest.map(|v| self.utf8("an argument", v)).collect()
    }

    fn invalid(&self, long: &str, value: &str, why: &str) -> UsageError {
        UsageError::new(
            format!("invalid value '{value}' for '--{long}': {why}"),
            self.cmd,
        )
    }
}
