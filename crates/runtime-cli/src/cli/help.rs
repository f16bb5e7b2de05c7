//! Help text, printed from the tables in `table.rs`.

use std::fmt::Write;

use super::table::{self, COMMANDS, CommandSpec, Flag, GLOBAL_FLAGS, TOP_FLAGS};

const PROGRAM: &str = "brig-runtime";
const ABOUT: &str = "An OCI container runtime with runc's command line";

/// `brig-runtime --help`.
pub fn main_help() -> String {
    let mut out = format!("{ABOUT}\n\n{}\n\nCommands:\n", usage(None));
    let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in COMMANDS {
        let _ = writeln!(out, "  {:width$}  {}", c.name, c.about);
    }
    let _ = writeln!(
        out,
        "  {:width$}  Print this message or the help of the given command",
        "help"
    );
    out.push_str("\nOptions:\n");
    let flags: Vec<&Flag> = GLOBAL_FLAGS.iter().chain(TOP_FLAGS).collect();
    write_flags(&mut out, &flags, &[("-V, --version", "Print version")]);
    out
}

/// `brig-runtime COMMAND --help`.
pub fn command_help(command: &'static CommandSpec) -> String {
    let mut out = format!(
        "{}\n\n{}\n\nOptions:\n",
        command.about,
        usage(Some(command))
    );
    let flags: Vec<&Flag> = table::flags_of(command).collect();
    write_flags(&mut out, &flags, &[]);
    out
}

/// The usage line of a command, or of the program.
pub fn usage(command: Option<&CommandSpec>) -> String {
    let Some(command) = command else {
        return format!("Usage: {PROGRAM} [OPTIONS] <COMMAND>");
    };
    let mut line = format!("Usage: {PROGRAM} {} [OPTIONS]", command.name);
    for arg in command.positionals {
        let _ = match (arg.required, arg.trailing) {
            (true, _) => write!(line, " <{}>", arg.name),
            (false, false) => write!(line, " [{}]", arg.name),
            (false, true) => write!(line, " [{}]...", arg.name),
        };
    }
    line
}

/// One line per flag, descriptions aligned; `-h, --help` last.
fn write_flags(out: &mut String, flags: &[&Flag], extra: &[(&str, &str)]) {
    let mut rows: Vec<(String, &str)> = flags.iter().map(|f| (flag_synopsis(f), f.help)).collect();
    rows.push(("-h, --help".into(), "Print help"));
    rows.extend(extra.iter().map(|(s, h)| (s.to_string(), *h)));
    let width = rows.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    for (synopsis, help) in rows {
        let _ = writeln!(out, "  {synopsis:width$}  {help}");
    }
}

fn flag_synopsis(flag: &Flag) -> String {
    let mut s = match flag.short {
        Some(c) => format!("-{c}, --{}", flag.long),
        None => format!("    --{}", flag.long),
    };
    if let Some(value) = flag.value {
        let _ = write!(s, " <{value}>");
    }
    s
}
