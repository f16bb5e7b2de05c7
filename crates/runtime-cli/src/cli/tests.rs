//! The command line as engines type it: every command's flags in both value
//! forms, before and after the id, and the errors a user sees.

use std::ffi::OsString;
use std::path::PathBuf;

use super::table::{COMMANDS, flags_of};
use super::*;

fn parse_args(args: &[&str]) -> Result<Parsed, UsageError> {
    parse(args.iter().map(OsString::from))
}

fn run(args: &[&str]) -> Cli {
    match parse_args(args) {
        Ok(Parsed::Run(cli)) => *cli,
        other => panic!("{args:?}: expected a command, got {other:?}"),
    }
}

fn command(args: &[&str]) -> Command {
    run(args).command
}

/// The error message, checked to name `needle`.
fn usage_error(args: &[&str], needle: &str) -> UsageError {
    match parse_args(args) {
        Err(err) => {
            assert!(
                err.message.contains(needle),
                "{args:?}: {err:?} lacks {needle:?}"
            );
            err
        }
        Ok(other) => panic!("{args:?}: expected a usage error, got {other:?}"),
    }
}

fn help(args: &[&str]) -> String {
    match parse_args(args) {
        Ok(Parsed::Help(text)) => text,
        other => panic!("{args:?}: expected help, got {other:?}"),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn global_flags_before_the_command() {
    let cli = run(&[
        "--root",
        "/r",
        "--log=/l",
        "--log-format",
        "json",
        "--debug",
        "--systemd-cgroup",
        "--rootless",
        "true",
        "state",
        "c1",
    ]);
    assert_eq!(cli.global.root, PathBuf::from("/r"));
    assert_eq!(cli.global.log, Some(PathBuf::from("/l")));
    assert_eq!(cli.global.log_format, LogFormat::Json);
    assert!(cli.global.debug && cli.global.systemd_cgroup);
    assert!(matches!(cli.command, Command::State { id } if id == "c1"));
}

#[test]
fn global_flags_after_the_command_and_the_id() {
    let cli = run(&[
        "--root",
        "/a",
        "delete",
        "--root=/b",
        "c1",
        "--log-format=json",
        "--debug",
    ]);
    assert_eq!(
        cli.global.root,
        PathBuf::from("/b"),
        "after the command wins"
    );
    assert_eq!(cli.global.log_format, LogFormat::Json);
    assert!(cli.global.debug);
}

#[test]
fn global_defaults() {
    let cli = run(&["state", "c1"]);
    assert_eq!(
        cli.global.root,
        brig_runtime::rootless::default_state_root()
    );
    assert_eq!(cli.global.log, None);
    assert_eq!(cli.global.log_format, LogFormat::Text);
    assert!(!cli.global.debug && !cli.global.systemd_cgroup);
}

#[test]
fn rootless_is_a_global_flag_only_before_the_command() {
    usage_error(&["state", "c1", "--rootless", "true"], "'--rootless'");
    let Command::Spec { rootless, bundle } = command(&["spec", "--rootless"]) else {
        panic!("not spec")
    };
    assert!(rootless);
    assert_eq!(bundle, PathBuf::from("."));
}

#[test]
fn create_and_run_flags_in_both_forms() {
    let Command::Create(c) = command(&[
        "create",
        "--bundle",
        "/b",
        "--pid-file=/p",
        "c1",
        "--console-socket",
        "/s",
        "--no-pivot",
        "--no-new-keyring",
        "--preserve-fds=2",
    ]) else {
        panic!("not create")
    };
    assert_eq!(
        (c.id.as_str(), c.bundle, c.pid_file),
        ("c1", "/b".into(), Some("/p".into()))
    );
    assert_eq!(c.console_socket, Some(PathBuf::from("/s")));
    assert!(c.no_pivot && c.no_new_keyring);
    assert_eq!(c.preserve_fds, 2);

    let Command::Run { create, detach } = command(&["run", "-d", "-b/b2", "c2", "--keep"]) else {
        panic!("not run")
    };
    assert!(detach);
    assert_eq!((create.id.as_str(), create.bundle), ("c2", "/b2".into()));
    let Command::Run { create, detach } = command(&["run", "c3"]) else {
        panic!("not run")
    };
    assert!(!detach && create.pid_file.is_none());
    assert_eq!((create.bundle, create.preserve_fds), (".".into(), 0));
}

#[test]
fn kill_delete_and_the_id_commands() {
    let Command::Kill { id, signal, all } = command(&["kill", "-a", "c1", "KILL"]) else {
        panic!("not kill")
    };
    assert_eq!(
        (id.as_str(), signal.as_deref(), all),
        ("c1", Some("KILL"), true)
    );
    let Command::Kill { signal, all, .. } = command(&["kill", "c1"]) else {
        panic!("not kill")
    };
    assert_eq!((signal, all), (None, false));
    assert!(matches!(
        command(&["delete", "c1", "-f"]),
        Command::Delete { force: true, .. }
    ));
    assert!(matches!(
        command(&["delete", "--force", "c1"]),
        Command::Delete { force: true, .. }
    ));
    assert!(matches!(command(&["start", "c1"]), Command::Start { id } if id == "c1"));
    assert!(matches!(command(&["pause", "c1"]), Command::Pause { id } if id == "c1"));
    assert!(matches!(command(&["resume", "c1"]), Command::Resume { id } if id == "c1"));
    assert!(matches!(command(&["state", "--", "-c1"]), Command::State { id } if id == "-c1"));
    assert!(matches!(command(&["features"]), Command::Features));
}

#[test]
fn list_and_ps() {
    let Command::List { format, quiet } = command(&["list", "-f", "json", "-q"]) else {
        panic!("not list")
    };
    assert_eq!((format, quiet), (ListFormat::Json, true));
    assert!(matches!(
        command(&["list"]),
        Command::List {
            format: ListFormat::Table,
            quiet: false
        }
    ));
    let Command::Ps {
        id,
        format,
        ps_args,
    } = command(&["ps", "--format=json", "c1"])
    else {
        panic!("not ps")
    };
    assert_eq!(
        (id.as_str(), format, ps_args.len()),
        ("c1", ListFormat::Json, 0)
    );
    for args in [&["ps", "c1", "-ef"][..], &["ps", "c1", "--", "-ef"]] {
        let Command::Ps { ps_args, .. } = command(args) else {
            panic!("not ps")
        };
        assert_eq!(ps_args, strings(&["-ef"]), "{args:?}");
    }
    usage_error(&["list", "--format", "xml"], "'--format'");
}

#[test]
fn exec_flags_repeated_and_clustered() {
    let Command::Exec(e) = command(&[
        "exec",
        "-te",
        "A=1",
        "--env=B=2",
        "-e=C=3",
        "-c",
        "CAP_KILL",
        "--cap",
        "CAP_CHOWN",
        "-g",
        "10",
        "--additional-gids=11",
        "-u",
        "1:2",
        "--cwd",
        "/w",
        "-d",
        "--pid-file",
        "/p",
        "--console-socket=/s",
        "--no-new-privs",
        "--preserve-fds",
        "1",
        "--apparmor",
        "prof",
        "--process-label",
        "lbl",
        "c1",
        "sh",
        "-c",
        "echo --tty",
    ]) else {
        panic!("not exec")
    };
    assert_eq!(e.id, "c1");
    assert_eq!(e.command, strings(&["sh", "-c", "echo --tty"]));
    assert_eq!(e.env, strings(&["A=1", "B=2", "C=3"]));
    assert_eq!(e.cap, strings(&["CAP_KILL", "CAP_CHOWN"]));
    assert_eq!(e.additional_gids, vec![10, 11]);
    assert_eq!(e.user.as_deref(), Some("1:2"));
    assert!(e.tty && e.detach && e.no_new_privs);
    assert_eq!((e.cwd, e.pid_file), (Some("/w".into()), Some("/p".into())));
    assert_eq!(e.console_socket, Some(PathBuf::from("/s")));
    assert_eq!(e.preserve_fds, 1);
    assert_eq!(e.apparmor.as_deref(), Some("prof"));
    assert_eq!(e.process_label.as_deref(), Some("lbl"));
    assert!(e.process.is_none());
}

#[test]
fn exec_command_starts_at_the_first_non_flag() {
    let exec = |args: &[&str]| match command(args) {
        Command::Exec(e) => e,
        other => panic!("{args:?}: {other:?}"),
    };
    let e = exec(&["exec", "c1", "--tty", "sh", "--tty"]);
    assert!(e.tty, "a known flag right after the id is a flag");
    assert_eq!(e.command, strings(&["sh", "--tty"]));
    assert_eq!(
        exec(&["exec", "c1", "--", "--tty"]).command,
        strings(&["--tty"])
    );
    assert_eq!(
        exec(&["exec", "c1", "--bogus", "x"]).command,
        strings(&["--bogus", "x"])
    );
    assert_eq!(exec(&["exec", "c1", "-"]).command, strings(&["-"]));
    let e = exec(&["exec", "-p", "/proc.json", "c1"]);
    assert_eq!(e.process, Some(PathBuf::from("/proc.json")));
    assert!(e.command.is_empty());
}

#[test]
fn update_flags_take_negative_values() {
    let Command::Update(u) = command(&[
        "update",
        "c1",
        "--memory",
        "-1",
        "--memory-reservation=32m",
        "--memory-swap",
        "-1",
        "--kernel-memory",
        "1",
        "--kernel-memory-tcp",
        "2",
        "--cpu-quota",
        "-1",
        "--cpu-period",
        "100000",
        "--cpu-share",
        "512",
        "--cpu-rt-period",
        "3",
        "--cpu-rt-runtime",
        "4",
        "--cpuset-cpus",
        "0-1",
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "-1",
        "--blkio-weight",
        "500",
    ]) else {
        panic!("not update")
    };
    assert_eq!(u.memory.as_deref(), Some("-1"));
    assert_eq!(u.memory_reservation.as_deref(), Some("32m"));
    assert_eq!(u.memory_swap.as_deref(), Some("-1"));
    assert_eq!(
        (u.kernel_memory.as_deref(), u.kernel_memory_tcp.as_deref()),
        (Some("1"), Some("2"))
    );
    assert_eq!(
        (u.cpu_quota.as_deref(), u.cpu_period.as_deref()),
        (Some("-1"), Some("100000"))
    );
    assert_eq!(
        u.cpu_shares.as_deref(),
        Some("512"),
        "--cpu-share is an alias"
    );
    assert_eq!(
        (u.cpu_rt_period.as_deref(), u.cpu_rt_runtime.as_deref()),
        (Some("3"), Some("4"))
    );
    assert_eq!(
        (u.cpuset_cpus.as_deref(), u.cpuset_mems.as_deref()),
        (Some("0-1"), Some("0"))
    );
    assert_eq!(
        (u.pids_limit.as_deref(), u.blkio_weight.as_deref()),
        (Some("-1"), Some("500"))
    );
    let Command::Update(u) = command(&["update", "-r", "-", "--l3-cache-schema=x", "c1"]) else {
        panic!("not update")
    };
    assert_eq!(u.resources, Some(PathBuf::from("-")));
    assert_eq!(u.l3_cache_schema.as_deref(), Some("x"));
    usage_error(
        &["update", "c1", "--cpuset-cpus", "-1"],
        "'--cpuset-cpus <LIST>'",
    );
}

#[test]
fn events_defaults_and_flags() {
    let Command::Events {
        id,
        stats,
        interval,
    } = command(&["events", "c1"])
    else {
        panic!("not events")
    };
    assert_eq!((id.as_str(), stats, interval.as_str()), ("c1", false, "5s"));
    let Command::Events {
        stats, interval, ..
    } = command(&["events", "--stats", "--interval=1s", "c1"])
    else {
        panic!("not events")
    };
    assert_eq!((stats, interval.as_str()), (true, "1s"));
}

#[test]
fn usage_errors_name_the_flag_or_argument() {
    usage_error(&[], "requires a command");
    usage_error(&["bogus"], "'bogus'");
    usage_error(&["state", "c1", "--bogus"], "'--bogus'");
    usage_error(&["kill", "c1", "-9"], "'-9'");
    usage_error(&["state", "c1", "extra"], "'extra'");
    usage_error(&["features", "x"], "'x'");
    usage_error(&["state"], "<ID>");
    usage_error(&["exec", "-e"], "'--env <KEY=VALUE>'");
    usage_error(
        &["create", "--pid-file", "--bundle", "x"],
        "'--pid-file <FILE>'",
    );
    usage_error(&["--root"], "'--root <DIR>'");
    usage_error(&["--debug=true", "state", "c1"], "'--debug'");
    usage_error(&["exec", "--tty=1", "c1", "sh"], "'--tty'");
    usage_error(&["--log-format", "xml", "state", "c1"], "'--log-format'");
    usage_error(&["create", "c1", "--preserve-fds", "x"], "'--preserve-fds'");
    usage_error(&["exec", "-g", "abc", "c1", "sh"], "'--additional-gids'");
    usage_error(&["--root", "/a", "--root", "/b", "state", "c1"], "'--root'");
    usage_error(&["help", "bogus"], "'bogus'");
    let err = usage_error(&["state"], "<ID>");
    assert_eq!(err.detail, "Usage: brig-runtime state [OPTIONS] <ID>");
}

#[test]
fn help_for_the_program_and_every_command() {
    for args in [&["--help"][..], &["-h"], &["help"], &["--debug", "-h"]] {
        let text = help(args);
        assert!(
            text.contains("Usage: brig-runtime [OPTIONS] <COMMAND>"),
            "{args:?}"
        );
        assert!(text.contains("--version") && text.contains("--rootless"));
    }
    for c in COMMANDS {
        for text in [
            help(&[c.name, "--help"]),
            help(&[c.name, "-h"]),
            help(&["help", c.name]),
        ] {
            assert!(text.contains(&format!("Usage: brig-runtime {} [OPTIONS]", c.name)));
            assert!(help(&["--help"]).contains(c.about));
            for flag in flags_of(c) {
                assert!(
                    text.contains(&format!("--{}", flag.long)),
                    "{}: --{}",
                    c.name,
                    flag.long
                );
                assert!(
                    !flag.help.is_empty(),
                    "{}: --{} has no help",
                    c.name,
                    flag.long
                );
            }
        }
    }
    assert!(help(&["state", "c1", "--help"]).contains("Usage: brig-runtime state"));
    assert!(help(&["exec", "-h", "c1", "sh"]).contains("<ID> [COMMAND]..."));
}

#[test]
fn version_flags() {
    assert!(matches!(parse_args(&["--version"]), Ok(Parsed::Version)));
    assert!(matches!(parse_args(&["-V"]), Ok(Parsed::Version)));
    usage_error(&["state", "--version", "c1"], "'--version'");
    assert!(VERSION.starts_with("brig-runtime version "));
    assert!(VERSION.ends_with("\nspec: 1.2.1"));
}

#[test]
fn non_utf8_values_are_errors_not_panics() {
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(vec![b'c', 0xff]);
    let args = [OsString::from("state"), bad.clone()];
    assert!(parse(args).unwrap_err().message.contains("UTF-8"));
    let args = [
        OsString::from("create"),
        "--bundle".into(),
        bad,
        "c1".into(),
    ];
    assert!(
        matches!(parse(args), Ok(Parsed::Run(_))),
        "a path need not be UTF-8"
    );
}
