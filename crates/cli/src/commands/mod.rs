//! The command tree. Each group has a module (one file per command inside
//! it); Docker's top-level shortcuts (`brig pull`, `brig images`, `brig rmi`)
//! reuse the same argument structs as the long forms (`brig image pull`,
//! `brig image ls`, `brig image rm`).

pub mod auth;
pub mod completion;
pub mod image;
pub mod man;

use anyhow::Result;
use clap::Subcommand;

use crate::context::Context;

#[derive(Debug, Subcommand)]
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
    }
}
