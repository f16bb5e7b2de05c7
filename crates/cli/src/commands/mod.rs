//! The command tree. Each group has a module (one file per command inside
//! it); Docker's top-level shortcuts (`brig pull`, `brig images`, `brig rmi`)
//! reuse the same argument structs as the long forms (`brig image pull`,
//! `brig image ls`, `brig image rm`).

pub mod auth;
pub mod completion;
pub mod container;
pub mod image;
pub mod man;
pub mod network;
pub mod secret;
pub mod system;
pub mod volume;

use anyhow::Result;
use clap::Subcommand;

use crate::context::Context;

#[derive(Debug, Subcommand)]
// Each command's arguments are built only when it runs (all of
// them took ~1.5 ms of every command's start).
#[command(defer = true)]
pub enum Command {
    /// Manage images.
    #[command(subcommand, after_help = image::EXAMPLES)]
    Image(image::ImageCommand),
    /// Download an image from a registry and unpack it, ready to run.
    Pull(image::pull::PullArgs),
    /// Upload an image to a registry.
    Push(image::push::PushArgs),
    /// List images.
    Images(image::list::ListArgs),
    /// Show the history of an image.
    History(image::history::HistoryArgs),
    /// Give an image another name.
    Tag(image::tag::TagArgs),
    /// Remove images.
    Rmi(image::remove::RemoveArgs),
    /// Load images from a docker-archive, OCI archive or OCI layout (file, directory or stdin).
    Load(image::load::LoadArgs),
    /// Save images to a docker-archive, OCI archive or OCI layout directory.
    Save(image::save::SaveArgs),
    /// Create an image from a root filesystem tarball.
    Import(image::import::ImportArgs),
    /// Log in to a registry.
    Login(auth::LoginArgs),
    /// Log out from a registry.
    Logout(auth::LogoutArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completion(completion::CompletionArgs),
    /// Write man pages for brig and every command.
    Man(man::ManArgs),
    /// Manage containers.
    #[command(subcommand, after_help = container::EXAMPLES)]
    Container(container::ContainerCommand),
    /// Create and start a container.
    Run(container::run::RunArgs),
    /// Create a container without starting it.
    Create(container::run::CreateCmd),
    /// Start stopped containers.
    Start(container::lifecycle::StartArgs),
    /// Stop running containers (stop signal, then SIGKILL after the timeout).
    Stop(container::lifecycle::StopArgs),
    /// Stop and start containers.
    Restart(container::lifecycle::StopArgs),
    /// Send a signal to running containers.
    Kill(container::lifecycle::KillArgs),
    /// Remove containers.
    Rm(container::lifecycle::RmArgs),
    /// List containers.
    Ps(container::ps::PsArgs),
    /// Show a container's output.
    Logs(container::logs::LogsArgs),
    /// Run a command in a running container.
    Exec(container::exec::ExecArgs),
    /// Attach to a running container's input and output.
    Attach(container::exec::AttachArgs),
    /// Show containers' details as JSON.
    Inspect(container::inspect::InspectArgs),
    /// Wait until containers stop and print their exit codes.
    Wait(container::lifecycle::WaitArgs),
    /// Show a container's processes.
    Top(container::query::TopArgs),
    /// Show containers' resource use.
    Stats(container::query::StatsArgs),
    /// Show a container's published ports.
    Port(container::query::PortArgs),
    /// Copy files between a container and the host.
    Cp(container::files::CpArgs),
    /// Show the files a container changed.
    Diff(container::files::DiffArgs),
    /// Write a container's root filesystem as a tar.
    Export(container::files::ExportArgs),
    /// Rename a container.
    Rename(container::lifecycle::RenameArgs),
    /// Freeze every process of containers.
    Pause(container::lifecycle::NamesArgs),
    /// Thaw paused containers.
    Unpause(container::lifecycle::NamesArgs),
    /// Change containers' resource limits and restart policy.
    Update(container::update::UpdateArgs),
    /// Show events as they happen.
    Events(system::EventsArgs),
    /// Manage volumes.
    #[command(subcommand, after_help = volume::EXAMPLES)]
    Volume(volume::VolumeCommand),
    /// Manage networks.
    #[command(subcommand, after_help = network::EXAMPLES)]
    Network(network::NetworkCommand),
    /// Manage secrets.
    #[command(subcommand, after_help = secret::EXAMPLES)]
    Secret(secret::SecretCommand),
    /// Disk use, clean-up and information.
    #[command(subcommand, after_help = system::EXAMPLES)]
    System(system::SystemCommand),
    /// Run health checks.
    #[command(subcommand, after_help = "Examples:\n  brig healthcheck run web")]
    Healthcheck(system::HealthcheckCommand),
    /// Report, per container, which defense-in-depth layers are in place.
    Audit(system::AuditArgs),
    /// (internal) A container's monitor; brig starts it itself.
    #[command(name = "__monitor", hide = true)]
    Monitor(container::monitor::MonitorArgs),
}

pub fn dispatch(ctx: &Context, command: Command) -> Result<()> {
    use image::ImageCommand as I;
    match command {
        Command::Image(sub) => image::dispatch(ctx, sub),
        Command::Pull(a) => image::dispatch(ctx, I::Pull(a)),
        Command::Push(a) => image::dispatch(ctx, I::Push(a)),
        Command::Images(a) => image::dispatch(ctx, I::Ls(a)),
        Command::History(a) => image::dispatch(ctx, I::History(a)),
        Command::Tag(a) => image::dispatch(ctx, I::Tag(a)),
        Command::Rmi(a) => image::dispatch(ctx, I::Rm(a)),
        Command::Load(a) => image::dispatch(ctx, I::Load(a)),
        Command::Save(a) => image::dispatch(ctx, I::Save(a)),
        Command::Import(a) => image::dispatch(ctx, I::Import(a)),
        Command::Login(a) => auth::login(&a),
        Command::Logout(a) => auth::logout(&a),
        Command::Completion(a) => completion::run(&a),
        Command::Man(a) => man::run(&a),
        Command::Container(sub) => container::dispatch(ctx, sub),
        Command::Monitor(_) => container::monitor::run(),
        other => dispatch_container_shortcut(ctx, other),
    }
}

/// Docker's top-level container commands, as `brig container ...`.
fn dispatch_container_shortcut(ctx: &Context, command: Command) -> Result<()> {
    use container::ContainerCommand as C;
    let sub = match command {
        Command::Run(a) => C::Run(a),
        Command::Create(a) => C::Create(a),
        Command::Start(a) => C::Start(a),
        Command::Stop(a) => C::Stop(a),
        Command::Restart(a) => C::Restart(a),
        Command::Kill(a) => C::Kill(a),
        Command::Rm(a) => C::Rm(a),
        Command::Ps(a) => C::Ls(a),
        Command::Logs(a) => C::Logs(a),
        Command::Exec(a) => C::Exec(a),
        Command::Attach(a) => C::Attach(a),
        Command::Inspect(a) => C::Inspect(a),
        Command::Wait(a) => C::Wait(a),
        Command::Top(a) => C::Top(a),
        Command::Stats(a) => C::Stats(a),
        Command::Port(a) => C::Port(a),
        Command::Cp(a) => C::Cp(a),
        Command::Diff(a) => C::Diff(a),
        Command::Export(a) => C::Export(a),
        Command::Rename(a) => C::Rename(a),
        Command::Pause(a) => C::Pause(a),
        Command::Unpause(a) => C::Unpause(a),
        Command::Update(a) => C::Update(a),
        Command::Events(a) => return system::dispatch(ctx, system::SystemCommand::Events(a)),
        Command::Volume(sub) => return volume::dispatch(ctx, sub),
        Command::Secret(sub) => return secret::dispatch(ctx, sub),
        Command::Network(sub) => return network::dispatch(ctx, sub),
        Command::System(sub) => return system::dispatch(ctx, sub),
        Command::Healthcheck(sub) => return system::healthcheck(ctx, sub),
        Command::Audit(a) => return system::audit(ctx, &a),
        other => anyhow::bail!("internal error: {other:?} is not a container command"),
    };
    container::dispatch(ctx, sub)
}
