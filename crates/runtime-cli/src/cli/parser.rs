//! A small table-driven parser over `lexopt`: it finds the subcommand, checks
//! every flag against the tables, and collects raw values. Turning values
//! into types is left to `cli.rs`.

use std::ffi::{OsStr, OsString};

use lexopt::Arg;

use super::help;
use super::table::{self, CommandSpec, Flag, GLOBAL_FLAGS, TOP_FLAGS};

/// A command line that cannot be run: printed with a usage hint, exit code 2
/// (as clap did before).
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError {
    pub message: String,
    /// The usage line of the command, or the whole help when no command was given.
    pub detail: String,
}

impl UsageError {
    pub fn new(message: impl Into<String>, command: Option<&CommandSpec>) -> UsageError {
        UsageError {
            message: message.into(),
            detail: help::usage(command),
        }
    }
}

/// The flags and positionals given at one level (before the subcommand, or after it).
#[derive(Debug, Default)]
pub struct Matches {
    flags: Vec<(&'static Flag, Option<OsString>)>,
    pub positionals: Vec<OsString>,
}

impl Matches {
    pub fn switch(&self, long: &str) -> bool {
        self.flags.iter().any(|(f, _)| f.long == long)
    }

    /// The last value of `--long`.
    pub fn value<'a>(&'a self, long: &'a str) -> Option<&'a OsString> {
        self.values(long).last()
    }

    pub fn values<'a>(&'a self, long: &'a str) -> impl Iterator<Item = &'a OsString> + 'a {
        self.flags
            .iter()
            .filter(move |(f, _)| f.long == long)
            .filter_map(|(_, v)| v.as_ref())
    }

    fn add(
        &mut self,
        flag: &'static Flag,
        value: Option<OsString>,
        command: Option<&CommandSpec>,
    ) -> Result<(), UsageError> {
        if !flag.repeat && self.switch(flag.long) {
            let msg = format!(
                "the argument '--{}' cannot be used multiple times",
                flag.long
            );
            return Err(UsageError::new(msg, command));
        }
        self.flags.push((flag, value));
        Ok(())
    }
}

#[derive(Debug)]
pub enum Outcome {
    Run {
        /// Flags given before the subcommand.
        global: Matches,
        command: &'static CommandSpec,
        /// The subcommand's flags (including global ones given after it) and positionals.
        matches: Matches,
    },
    Help(String),
    Version,
}

/// One lexopt item, owned so the parser can be used again.
enum Item {
    Short(char),
    Long(String),
    Value(OsString),
}

fn next_item(
    p: &mut lexopt::Parser,
    command: Option<&CommandSpec>,
) -> Result<Option<Item>, UsageError> {
    let item = p.next().map_err(|e| lexopt_error(e, command))?;
    Ok(item.map(|arg| match arg {
        Arg::Short(c) => Item::Short(c),
        Arg::Long(name) => Item::Long(name.to_owned()),
        Arg::Value(v) => Item::Value(v),
    }))
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Outcome, UsageError> {
    let mut p = lexopt::Parser::from_args(args);
    let mut global = Matches::default();
    let top = || GLOBAL_FLAGS.iter().chain(TOP_FLAGS);
    loop {
        let flag = match next_item(&mut p, None)? {
            None => {
                return Err(UsageError {
                    message: "brig-runtime requires a command".into(),
                    detail: help::main_help(),
                });
            }
            Some(Item::Short('h')) => return Ok(Outcome::Help(help::main_help())),
            Some(Item::Long(name)) if name == "help" => {
                return Ok(Outcome::Help(help::main_help()));
            }
            Some(Item::Short('V')) => return Ok(Outcome::Version),
            Some(Item::Long(name)) if name == "version" => return Ok(Outcome::Version),
            Some(Item::Value(name)) => return parse_command(&mut p, global, &name),
            Some(Item::Short(c)) => top()
                .find(|f| f.short == Some(c))
                .ok_or_else(|| unknown_short(c, None))?,
            Some(Item::Long(name)) => top()
                .find(|f| f.matches_long(&name))
                .ok_or_else(|| unknown_long(&name, None))?,
        };
        let value = take_value(&mut p, flag, None)?;
        global.add(flag, value, None)?;
    }
}

fn parse_command(
    p: &mut lexopt::Parser,
    global: Matches,
    name: &OsStr,
) -> Result<Outcome, UsageError> {
    let name = name.to_string_lossy();
    if name == "help" {
        return help_command(p);
    }
    let Some(command) = table::find_command(&name) else {
        return Err(UsageError::new(
            format!("unrecognized subcommand '{name}'"),
            None,
        ));
    };
    let matches = parse_command_args(p, command)?;
    match matches {
        Some(matches) => Ok(Outcome::Run {
            global,
            command,
            matches,
        }),
        None => Ok(Outcome::Help(help::command_help(command))),
    }
}

/// `help [COMMAND]`.
fn help_command(p: &mut lexopt::Parser) -> Result<Outcome, UsageError> {
    let Some(Item::Value(name)) = next_item(p, None)? else {
        return Ok(Outcome::Help(help::main_help()));
    };
    let name = name.to_string_lossy();
    let command = table::find_command(&name)
        .ok_or_else(|| UsageError::new(format!("unrecognized subcommand '{name}'"), None))?;
    if let Some(extra) = next_item(p, Some(command))? {
        let extra = match extra {
            Item::Value(v) => v.to_string_lossy().into_owned(),
            Item::Long(name) => format!("--{name}"),
            Item::Short(c) => format!("-{c}"),
        };
        let msg = format!("unexpected argument '{extra}' found");
        return Err(UsageError::new(msg, Some(command)));
    }
    Ok(Outcome::Help(help::command_help(command)))
}

/// The subcommand's arguments; `None` when help was asked for.
fn parse_command_args(
    p: &mut lexopt::Parser,
    command: &'static CommandSpec,
) -> Result<Option<Matches>, UsageError> {
    let cmd = Some(command);
    let mut matches = Matches::default();
    loop {
        if trailing_starts(p, command, &matches) {
            let rest = p
                .try_raw_args()
                .map(|raw| raw.collect::<Vec<_>>())
                .unwrap_or_default();
            matches.positionals.extend(rest);
            break;
        }
        let flag = match next_item(p, cmd)? {
            None => break,
            Some(Item::Short('h')) => return Ok(None),
            Some(Item::Long(name)) if name == "help" => return Ok(None),
            Some(Item::Value(value)) => {
                if matches.positionals.len() >= command.positionals.len() {
                    let msg = format!("unexpected argument '{}' found", value.to_string_lossy());
                    return Err(UsageError::new(msg, cmd));
                }
                matches.positionals.push(value);
                continue;
            }
            Some(Item::Short(c)) => table::flags_of(command)
                .find(|f| f.short == Some(c))
                .ok_or_else(|| unknown_short(c, cmd))?,
            Some(Item::Long(name)) => table::flags_of(command)
                .find(|f| f.matches_long(&name))
                .ok_or_else(|| unknown_long(&name, cmd))?,
        };
        let value = take_value(p, flag, cmd)?;
        matches.add(flag, value, cmd)?;
    }
    if let Some(missing) = command
        .positionals
        .iter()
        .skip(matches.positionals.len())
        .find(|a| a.required)
    {
        let msg = format!(
            "the following required argument was not provided: <{}>",
            missing.name
        );
        return Err(UsageError::new(msg, cmd));
    }
    Ok(Some(matches))
}

/// Whether the next argument begins the trailing positional (exec's command):
/// from there on every argument is taken verbatim, flags included, like
/// clap's `trailing_var_arg` with hyphen values did. A known flag right after
/// the id is still a flag (`exec ID --tty sh`).
fn trailing_starts(p: &mut lexopt::Parser, command: &CommandSpec, matches: &Matches) -> bool {
    let next_slot = command.positionals.get(matches.positionals.len());
    if !next_slot.is_some_and(|slot| slot.trailing) {
        return false;
    }
    let Some(raw) = p.try_raw_args() else {
        return false;
    };
    match raw.peek().and_then(OsStr::to_str) {
        None => raw.peek().is_some(),
        Some("--") => false,
        Some(arg) => !is_known_flag(arg, command),
    }
}

fn is_known_flag(arg: &str, command: &CommandSpec) -> bool {
    if let Some(long) = arg.strip_prefix("--") {
        let name = long.split('=').next().unwrap_or_default();
        name == "help" || table::flags_of(command).any(|f| f.matches_long(name))
    } else if let Some(shorts) = arg.strip_prefix('-') {
        match shorts.chars().next() {
            Some(c) => c == 'h' || table::flags_of(command).any(|f| f.short == Some(c)),
            None => false,
        }
    } else {
        false
    }
}

/// The flag's value: attached (`--flag=v`, `-fv`) or the next argument, which
/// may not look like a flag unless the flag allows it (`--memory -1`).
fn take_value(
    p: &mut lexopt::Parser,
    flag: &Flag,
    command: Option<&CommandSpec>,
) -> Result<Option<OsString>, UsageError> {
    let Some(value_name) = flag.value else {
        return Ok(None);
    };
    if let Some(value) = p.optional_value() {
        return Ok(Some(value));
    }
    let acceptable = |arg: &OsStr| {
        let bytes = arg.as_encoded_bytes();
        flag.hyphen_value || bytes.len() < 2 || bytes[0] != b'-'
    };
    match p.try_raw_args().and_then(|mut raw| raw.next_if(acceptable)) {
        Some(value) => Ok(Some(value)),
        None => {
            let msg = format!(
                "a value is required for '--{} <{value_name}>' but none was supplied",
                flag.long
            );
            Err(UsageError::new(msg, command))
        }
    }
}

fn unknown_long(name: &str, command: Option<&CommandSpec>) -> UsageError {
    UsageError::new(format!("unexpected argument '--{name}' found"), command)
}

fn unknown_short(c: char, command: Option<&CommandSpec>) -> UsageError {
    UsageError::new(format!("unexpected argument '-{c}' found"), command)
}

fn lexopt_error(err: lexopt::Error, command: Option<&CommandSpec>) -> UsageError {
    let msg = match err {
        lexopt::Error::UnexpectedValue { option, value } => format!(
            "unexpected value '{}' for '{option}' found; no more were expected",
            value.to_string_lossy()
        ),
        other => other.to_string(),
    };
    UsageError::new(msg, command)
}
