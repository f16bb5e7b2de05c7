//! `brig run` and `brig create`: Docker's flags.

use std::path::PathBuf;

use anyhow::Result;
use brig_engine::CreateOptions;
use brig_engine::attach::{AttachClient, RelayOptions};
use clap::{ArgAction, Args};

use super::{engine, exit_code, fail};
use crate::context::Context;

const RUN_EXAMPLES: &str = "\
Examples:
  brig run --rm busybox:1.36 echo hello
  brig run -it --rm busybox:1.36 sh
  brig run -d --name web -p 8080:80 --restart unless-stopped busybox:1.36 httpd -f
  brig run --user 1000:1000 --cap-drop=ALL --cap-add=NET_BIND_SERVICE --read-only --tmpfs /tmp \\
    --security-opt=no-new-privileges --memory=512m --cpus=0.5 --pids-limit=100 busybox:1.36 id";

const CREATE_EXAMPLES: &str = "\
Examples:
  brig create --name db -v data:/var/lib/db busybox:1.36 sleep infinity
  brig start db";

// The flags `run` and `create` share (`-h` is `--hostname`, as in Docker);
// a comment, not a doc comment: that would become their help text.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name the container (default: a random name).
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (KEY=VALUE, or KEY to take the host's value).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: NAME, UID, NAME:GROUP or UID:GID.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Replace the image's entrypoint ("" clears it).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// The container's hostname.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Set a label (KEY=VALUE).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Allocate a terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Run a small init (tini) as PID 1 that forwards signals and reaps zombies.
    #[arg(long)]
    pub init: bool,
    /// Signal that stops the container (default: the image's, else SIGTERM).
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds to wait after the stop signal before SIGKILL (default 10, -1 forever).
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Write the container ID to this file (which must not exist).
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// Add a supplementary group (name or GID).
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Set a resource limit, e.g. nofile=1024:2048.
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Set a namespaced kernel parameter, e.g. net.core.somaxconn=1024.
    #[arg(long, value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// Size of /dev/shm (default 64m).
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Give access to a host device: HOST[:CONTAINER][:rwm].
    #[arg(long, value_name = "DEVICE")]
    pub device: Vec<String>,
    /// Mount a host path or a named volume: HOST:CTR[:ro], NAME:CTR[:ro], or CTR.
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:OPTS]")]
    pub volume: Vec<String>,
    /// Mount with key=value fields: type=bind|volume|tmpfs,source=...,target=...
    #[arg(long, value_name = "SPEC")]
    pub mount: Vec<String>,
    /// Mount a tmpfs (default mode 1777): PATH[:OPTIONS].
    #[arg(long, value_name = "PATH[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Mount the root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Add a capability (ALL for every one).
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability (ALL for every one).
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give the container every capability and device, without seccomp (dangerous).
    #[arg(long)]
    pub privileged: bool,
    /// no-new-privileges, seccomp=FILE|unconfined, apparmor=NAME, label=...
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// User namespace: host (default) or auto.
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Memory limit, e.g. 512m.
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap).
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// CPUs the container may use, e.g. 0.5.
    #[arg(long)]
    pub cpus: Option<String>,
    /// Relative CPU weight.
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// CPUs the container may run on, e.g. 0-1.
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Maximum number of processes (default 2048, 0 or -1: unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Do not let the OOM killer kill the container's processes.
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// OOM score adjustment (-1000 to 1000).
    #[arg(long, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Health check command (run with /bin/sh -c).
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Time between health checks (e.g. 30s).
    #[arg(long)]
    pub health_interval: Option<String>,
    /// Maximum time of one check.
    #[arg(long)]
    pub health_timeout: Option<String>,
    /// Failures in a row before unhealthy.
    #[arg(long)]
    pub health_retries: Option<u32>,
    /// Time during which failures do not count.
    #[arg(long)]
    pub health_start_period: Option<String>,
    /// Disable the image's health check.
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Mount a secret at /run/secrets/NAME: NAME[,target=PATH].
    #[arg(long, value_name = "SECRET")]
    pub secret: Vec<String>,
    /// Log options: max-size=SIZE, max-file=N.
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Network: NET[,NET...] (default: the brig bridge), none, host or container:NAME.
    #[arg(long, alias = "net", value_name = "MODE")]
    pub network: Option<String>,
    /// The container's IPv4 or IPv6 address on its first network.
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// Another name other containers on its networks resolve to it.
    #[arg(long = "network-alias", alias = "net-alias", value_name = "NAME")]
    pub network_alias: Vec<String>,
    /// Allow new outbound connections only to CIDR[:PORT] (repeatable).
    #[arg(long = "egress-allow", value_name = "CIDR[:PORT]")]
    pub egress_allow: Vec<String>,
    /// Publish every exposed port on a free host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Publish a port: [IP:][HOST:]CONTAINER[/PROTO] (no HOST: a free one).
    #[arg(short = 'p', long, value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Expose a port without publishing it.
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// The image, then the command and its arguments.
    // Not allow_hyphen_values: an unknown flag before the image must be
    // an error, not taken for the image (after it, everything is the
    // command's).
    #[arg(
        trailing_var_arg = true,
        num_args = 1..,
        required = true,
        value_name = "IMAGE [COMMAND [ARG...]]"
    )]
    pub image_and_command: Vec<String>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true, after_help = RUN_EXAMPLES)]
pub struct RunArgs {
    /// Run in the background and print the container ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Forward signals brig receives to the container (default true).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true, after_help = CREATE_EXAMPLES)]
pub struct CreateCmd {
    #[command(flatten)]
    pub create: CreateArgs,
}

impl CreateArgs {
    pub fn options(self) -> CreateOptions {
        let mut words = self.image_and_command.into_iter();
        let image = words.next().unwrap_or_default();
        CreateOptions {
            image,
            command: words.collect(),
            name: self.name,
            entrypoint: self.entrypoint,
            env: self.env,
            env_files: self.env_file,
            workdir: self.workdir,
            user: self.user,
            hostname: self.hostname,
            labels: self.label,
            tty: self.tty,
            interactive: self.interactive,
            init: self.init,
            stop_signal: self.stop_signal,
            stop_timeout: self.stop_timeout,
            cidfile: self.cidfile,
            group_add: self.group_add,
            ulimits: self.ulimit,
            sysctls: self.sysctl,
            shm_size: self.shm_size,
            devices: self.device,
            volumes: self.volume,
            mounts: self.mount,
            tmpfs: self.tmpfs,
            read_only: self.read_only,
            cap_add: self.cap_add,
            cap_drop: self.cap_drop,
            privileged: self.privileged,
            security_opts: self.security_opt,
            userns: self.userns,
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            cpus: self.cpus,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus,
            pids_limit: self.pids_limit,
            oom_kill_disable: self.oom_kill_disable,
            oom_score_adj: self.oom_score_adj,
            restart: self.restart,
            auto_remove: self.rm,
            health_cmd: self.health_cmd,
            health_interval: self.health_interval,
            health_timeout: self.health_timeout,
            health_retries: self.health_retries,
            health_start_period: self.health_start_period,
            no_healthcheck: self.no_healthcheck,
            secrets: self.secret,
            log_opts: self.log_opt,
            network: self.network,
            ip: self.ip,
            network_aliases: self.network_alias,
            egress_allow: self.egress_allow,
            publish_all: self.publish_all,
            publish: self.publish,
            expose: self.expose,
        }
    }
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
}

pub fn create(ctx: &Context, args: CreateCmd) -> Result<()> {
    let engine = engine(ctx)?;
    let mut opts = args.create.options();
    ctx.apply_defaults(&mut opts);
    let created = engine.create(&opts).map_err(fail)?;
    print_warnings(&created.warnings);
    println!("{}", created.id);
    Ok(())
}

pub fn run(ctx: &Context, args: RunArgs) -> Result<()> {
    let engine = engine(ctx)?;
    let mut opts = args.create.options();
    ctx.apply_defaults(&mut opts);
    let (tty, interactive) = (opts.tty, opts.interactive);
    brig_engine::timing::mark("cli: engine opened");
    let created = engine.create(&opts).map_err(fail)?;
    brig_engine::timing::mark("cli: created");
    print_warnings(&created.warnings);
    if args.detach {
        engine.start(&created.id, false).map_err(fail)?;
        println!("{}", created.id);
        return Ok(());
    }
    engine
        .start_with(&created.id, true, terminal_size(tty))
        .map_err(fail)?;
    brig_engine::timing::mark("cli: started, attaching");
    let code = attach_and_relay(&engine, &created.id, tty, interactive, args.sig_proxy)?;
    brig_engine::timing::mark("cli: relay done");
    exit_code(code)
}

/// Our terminal's (rows, columns), for a container with a terminal.
pub fn terminal_size(tty: bool) -> Option<(u16, u16)> {
    if !tty {
        return None;
    }
    rustix::termios::tcgetwinsize(rustix::stdio::stdout())
        .ok()
        .filter(|ws| ws.ws_row > 0 && ws.ws_col > 0)
        .map(|ws| (ws.ws_row, ws.ws_col))
}

/// Relays our terminal or pipes to the container until it exits.
pub fn attach_and_relay(
    engine: &brig_engine::Engine,
    id: &str,
    tty: bool,
    stdin: bool,
    sig_proxy: bool,
) -> Result<i32> {
    let socket = engine.ctx().paths.attach_socket(id);
    let mut client = AttachClient::connect(&socket).map_err(fail)?;
    let kill = |sig: i32| {
        let _ = engine.kill(id, &sig.to_string());
    };
    client
        .relay(
            RelayOptions {
                stdin,
                tty,
                sig_proxy,
            },
            &kill,
        )
        .map_err(fail)
}
