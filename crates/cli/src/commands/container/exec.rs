//! `brig exec` and `brig attach`.

use anyhow::Result;
use brig_engine::ExecOptions;
use brig_engine::record::State;
use clap::Args;

use super::{engine, exit_code, fail};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig exec web ls /
  brig exec -it web sh
  brig exec -u 1000 -w /tmp -e DEBUG=1 web env
  brig exec -d web touch /tmp/flag")]
pub struct ExecArgs {
    /// Keep stdin open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Run in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Set an environment variable.
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// User to run as (NAME, UID, UID:GID).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory.
    #[arg(short, long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// Give the process every capability.
    #[arg(long)]
    pub privileged: bool,
    /// The container, then the command and its arguments.
    // Not allow_hyphen_values: an unknown flag before the container is an
    // error, not a container name.
    #[arg(
        trailing_var_arg = true,
        num_args = 2..,
        required = true,
        value_name = "CONTAINER COMMAND [ARG...]"
    )]
    pub container_and_command: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  brig attach web          (detach with Ctrl-C when --sig-proxy=false)")]
pub struct AttachArgs {
    /// Do not forward stdin.
    #[arg(long)]
    pub no_stdin: bool,
    /// Forward signals to the container (default true).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    pub container: String,
}

pub fn exec(ctx: &Context, args: ExecArgs) -> Result<()> {
    let mut words = args.container_and_command.into_iter();
    let container = words.next().unwrap_or_default();
    let opts = ExecOptions {
        command: words.collect(),
        interactive: args.interactive,
        tty: args.tty,
        detach: args.detach,
        env: args.env,
        user: args.user,
        workdir: args.workdir,
        privileged: args.privileged,
    };
    let code = engine(ctx)?.exec(&container, &opts).map_err(fail)?;
    exit_code(code)
}

pub fn attach(ctx: &Context, args: &AttachArgs) -> Result<()> {
    let engine = engine(ctx)?;
    let rec = engine.find(&args.container).map_err(fail)?;
    if rec.state != State::Running {
        anyhow::bail!(
            "container {} is {}: attach needs a running container; start it with brig start -a",
            rec.name,
            rec.state
        );
    }
    let stdin = rec.config.open_stdin && !args.no_stdin;
    let code =
        super::run::attach_and_relay(&engine, &rec.id, rec.config.tty, stdin, args.sig_proxy)?;
    exit_code(code)
}
