//! What a user finds around the commands: `--help` with an example on every
//! command, shell completions, man pages, `--version`, and the global
//! `--root`/`--runroot` flags anywhere on the line.

mod common;

use std::process::Command;

use common::{Brig, have_image_tools, have_tool, umoci_image};

fn brig(args: &[&str]) -> common::Run {
    let out = Command::new(env!("CARGO_BIN_EXE_brig"))
        .args(args)
        .output()
        .unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Subcommand names listed in a help text's "Commands:" section.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| l.as_bytes().get(2).is_some_and(|b| *b != b' '))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn every_command_has_help_with_an_example() {
    let mut todo = vec![Vec::<String>::new()];
    let mut checked = 0;
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let r = brig(&args);
        assert_eq!(r.code, 0, "brig {args:?}: {}", r.stderr);
        assert!(
            r.stdout.contains("Examples:\n  brig"),
            "brig {args:?} has no example:\n{}",
            r.stdout
        );
        assert!(
            r.stdout.contains("--root <DIR>"),
            "brig {args:?} lacks --root"
        );
        assert!(
            r.stdout.contains("--runroot <DIR>"),
            "brig {args:?} lacks --runroot"
        );
        for sub in subcommands(&r.stdout) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} commands found");
}

#[test]
fn version_and_no_arguments() {
    let r = brig(&["--version"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("brig "), "{}", r.stdout);
    let r = brig(&[]);
    assert_eq!(r.code, 0, "no command shows the help");
    assert!(r.stderr.contains("Usage: brig") || r.stdout.contains("Usage: brig"));
}

#[test]
fn completions_for_bash_zsh_and_fish_know_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let r = brig(&["completion", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        for word in ["pull", "images", "rmi", "tls-verify", "runroot"] {
            assert!(r.stdout.contains(word), "{shell} completion lacks {word}");
        }
        if have_tool(shell, &format!("completion syntax check ({shell})")) {
            let dir = tempfile::tempdir().unwrap();
            let script = dir.path().join("brig-completion");
            std::fs::write(&script, &r.stdout).unwrap();
            let check = Command::new(shell).arg("-n").arg(&script).output().unwrap();
            assert!(
                check.status.success(),
                "{shell} -n: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
    let r = brig(&["completion", "tcsh"]);
    assert_eq!(r.code, common::ENGINE_ERROR);
    assert!(r.stderr.contains("bash"), "{}", r.stderr);
}

#[test]
fn man_pages_are_written_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let r = brig(&["man", "--dir", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for page in [
        "brig.1",
        "brig-pull.1",
        "brig-images.1",
        "brig-image-ls.1",
        "brig-image-prune.1",
        "brig-login.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is not a man page");
        assert!(text.contains("Examples"), "{page} has no examples");
    }
    let pull = std::fs::read_to_string(out.join("brig-image-pull.1")).unwrap();
    assert!(pull.contains("tls\\-verify"), "options are documented");
    if have_tool("man", "man page rendering") {
        let rendered = Command::new("man")
            .arg("-l")
            .arg(out.join("brig-pull.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        assert!(rendered.status.success());
        assert!(String::from_utf8_lossy(&rendered.stdout).contains("brig pull"));
    }
}

#[test]
fn global_flags_work_anywhere_and_stores_are_separate() {
    let test = "global_flags_work_anywhere_and_stores_are_separate";
    if !have_image_tools(test) {
        return;
    }
    let a = Brig::new();
    let layout = a.path("layout");
    umoci_image(a.dir.path(), &layout, "1", &["x"]);
    let root = a.root();
    let run = a.runroot();
    // Flags before the command.
    let r = brig(&[
        "--root",
        root.to_str().unwrap(),
        "--runroot",
        run.to_str().unwrap(),
        "load",
        "-q",
        "-i",
        layout.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(root.join("brig.db").is_file(), "brig.db lives in --root");
    // ...and after it (Brig::command puts them last).
    assert_eq!(a.image_ids().len(), 1);
    let b = Brig::new();
    assert!(b.image_ids().is_empty(), "another --root is another store");
}
