//! runc's command line: global flags, then one subcommand. Flags may come
//! before or after the container id.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const VERSION: &str = concat!(
    "version ",
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("BRIG_GIT_COMMIT"),
    "\nspec: 1.2.1"
);

#[derive(Debug, Parser)]
#[command(name = "brig-runtime", version = VERSION, about = "An OCI container runtime with runc's command line")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Directory holding the state of containers (default /run/brig-runtime,
    /// or $XDG_RUNTIME_DIR/brig-runtime when not run as root).
    #[arg(long, global = true, default_value_os_t = brig_runtime::rootless::default_state_root())]
    pub root: PathBuf,
    /// Also write errors to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value_t)]
    pub log_format: LogFormat,
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (not supported yet).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility with runc; rootless mode is detected.
    #[arg(long, value_name = "true|false|auto")]
    pub rootless: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub id: String,
    /// Bundle directory (config.json and rootfs); default: current directory.
    #[arg(long, short, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is true.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use chroot instead of pivot_root (for a ramdisk root).
    #[arg(long)]
    pub no_pivot: bool,
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra descriptors (from 3 on) to the container.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    pub id: String,
    /// The command and its arguments (when --process is not given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// A JSON process spec (config.json's "process" object).
    #[arg(long, short)]
    pub process: Option<PathBuf>,
    #[arg(long, short)]
    pub tty: bool,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    #[arg(long, short)]
    pub detach: bool,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// KEY=VALUE, repeatable.
    #[arg(long, short)]
    pub env: Vec<String>,
    /// UID[:GID]
    #[arg(long, short)]
    pub user: Option<String>,
    /// Additional group ids, repeatable.
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    #[arg(long)]
    pub no_new_privs: bool,
    /// Add a capability (CAP_X), repeatable.
    #[arg(long, short)]
    pub cap: Vec<String>,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long)]
    pub process_label: Option<String>,
}

/// runc's `update` flags; sizes accept units like `32m` (runc's parsing).
#[derive(Debug, Args)]
pub struct UpdateArgs {
    pub id: String,
    /// A JSON file with the new linux.resources (`-` for stdin); the other flags are then ignored, as in runc.
    #[arg(long, short)]
    pub resources: Option<std::path::PathBuf>,
    /// Memory limit in bytes (units like 32m allowed; -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit in bytes.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap in bytes; -1 for unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Accepted and ignored (kernel memory limits are obsolete).
    #[arg(long, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Accepted and ignored, like --kernel-memory.
    #[arg(long, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CFS quota in microseconds per period (-1 for none).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CFS period in microseconds.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_period: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long, alias = "cpu-share", allow_hyphen_values = true)]
    pub cpu_shares: Option<String>,
    /// Realtime period in microseconds (cgroup v1).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_period: Option<String>,
    /// Realtime runtime in microseconds per period (cgroup v1).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// CPUs to use, e.g. 0-1,3.
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use, e.g. 0.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Block I/O weight, 10 to 1000.
    #[arg(long, allow_hyphen_values = true)]
    pub blkio_weight: Option<String>,
    /// Intel RDT (not supported).
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT (not supported).
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum ListFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a default config.json.
    Spec {
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        /// A config for an unprivileged user (user namespace mapping the caller to root).
        #[arg(long)]
        rootless: bool,
    },
    /// Create a container: its process waits for `start`.
    Create(CreateArgs),
    /// Start the program of a created container.
    Start { id: String },
    /// Create and start a container; in the foreground, wait for it and exit with its status.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(long, short)]
        detach: bool,
        #[arg(long)]
        keep: bool,
    },
    /// Print the state of a container as JSON.
    State { id: String },
    /// Send a signal (default TERM) to the container's init, or with --all to all its processes.
    Kill {
        id: String,
        signal: Option<String>,
        #[arg(long, short)]
        all: bool,
    },
    /// Delete a container (and its processes with --force).
    Delete {
        id: String,
        #[arg(long, short)]
        force: bool,
    },
    /// List containers.
    List {
        #[arg(long, short, value_enum, default_value_t)]
        format: ListFormat,
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the processes of a container.
    Ps {
        id: String,
        #[arg(long, short, value_enum, default_value_t)]
        format: ListFormat,
        /// Options passed to ps(1) for the table format.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Run a new process in a running container.
    Exec(ExecArgs),
    /// Print the features this runtime supports, as JSON.
    Features,
    /// Change the resource limits of a container.
    Update(UpdateArgs),
    /// Freeze every process of a running container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Print the container's events (oom, and stats every interval) as JSON lines until it stops.
    Events {
        id: String,
        /// Print the statistics once and exit.
        #[arg(long)]
        stats: bool,
        /// How often to print statistics (e.g. 5s, 500ms, 1m).
        #[arg(long, default_value = "5s")]
        interval: String,
    },
}
