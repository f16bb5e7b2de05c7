use std::path::Path;

use super::*;
use crate::config::SeccompChoice;
use crate::error::ErrorKind;
use crate::testutil::FakeHost;

fn image() -> ImageConfig {
    ImageConfig {
        env: Some(vec!["PATH=/bin".into(), "A=image".into()]),
        cmd: Some(vec!["sh".into()]),
        ..Default::default()
    }
}

fn opts(args: &[&str]) -> CreateOptions {
    CreateOptions {
        image: "busybox:1.36".into(),
        command: args.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

fn build(o: &CreateOptions) -> Result<ContainerConfig> {
    let mut n = 0;
    build_config(
        o,
        &image(),
        &"a".repeat(64),
        Path::new("/usr/bin/runc"),
        &FakeHost,
        &mut || {
            n += 1;
            format!("anon{n}")
        },
    )
}

#[test]
fn the_hardened_line_is_accepted() {
    let mut o = opts(&[]);
    o.user = Some("1000:1000".into());
    o.cap_drop = vec!["ALL".into()];
    o.cap_add = vec!["NET_BIND_SERVICE".into()];
    o.read_only = true;
    o.tmpfs = vec!["/tmp".into()];
    o.security_opts = vec!["no-new-privileges".into(), "seccomp=/profile.json".into()];
    o.memory = Some("512m".into());
    o.cpus = Some("0.5".into());
    o.pids_limit = Some(100);
    let c = build(&o).unwrap();
    assert_eq!(c.user, "1000:1000");
    assert_eq!(c.security.cap_drop, ["ALL"]);
    assert_eq!(c.security.cap_add, ["CAP_NET_BIND_SERVICE"]);
    assert!(c.security.no_new_privileges);
    assert!(matches!(c.security.seccomp, SeccompChoice::Custom(_)));
    assert_eq!(c.resources.memory, Some(512 << 20));
    assert_eq!(c.resources.nano_cpus, Some(500_000_000));
    assert_eq!(c.resources.pids_limit, Some(100));
    assert!(c.read_only);
    assert_eq!(c.network.name(), "brig", "the default network");
    assert_eq!(c.args, ["sh"]);
    assert_eq!(c.hostname, "aaaaaaaaaaaa");
}

#[test]
fn environment_merges_image_file_and_flags_in_order() {
    let mut o = opts(&[]);
    o.env_files = vec!["/env".into()];
    o.env = vec!["A=flag".into(), "HOSTVAR".into(), "UNSET".into()];
    o.tty = true;
    let c = build(&o).unwrap();
    assert_eq!(
        c.env,
        [
            "PATH=/bin",
            "FROM_FILE=1",
            "A=flag",
            "HOSTVAR=h",
            "TERM=xterm"
        ]
    );
}

#[test]
fn entrypoint_override_drops_the_image_cmd() {
    let mut o = opts(&[]);
    o.entrypoint = Some("/bin/echo".into());
    assert_eq!(build(&o).unwrap().args, ["/bin/echo"]);
    let mut o = opts(&["hi"]);
    o.entrypoint = Some("/bin/echo".into());
    assert_eq!(build(&o).unwrap().args, ["/bin/echo", "hi"]);
    let mut o = opts(&[]);
    o.entrypoint = Some(String::new());
    assert_eq!(build(&o).unwrap_err().kind(), ErrorKind::Invalid);
}

#[test]
fn bad_input_is_refused_with_the_flag_named() {
    type Change = Box<dyn Fn(&mut CreateOptions)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|o| o.memory = Some("lots".into())), "--memory"),
        (Box::new(|o| o.memory = Some("1m".into())), "6m"),
        (Box::new(|o| o.cpus = Some("9".into())), "--cpus"),
        (
            Box::new(|o| o.volumes = vec!["/missing:/data:ro".into()]),
            "does not exist",
        ),
        (Box::new(|o| o.auto_remove = true), ""),
        (
            Box::new(|o| o.publish = vec!["8080:80".into()]),
            "already in use",
        ),
        (
            Box::new(|o| o.secrets = vec!["nope".into()]),
            "no such secret",
        ),
        (Box::new(|o| o.cap_add = vec!["FLY".into()]), "FLY"),
        (Box::new(|o| o.workdir = Some("rel".into())), "-w"),
        (
            Box::new(|o| o.memory_swap = Some("1g".into())),
            "--memory-swap",
        ),
        (
            Box::new(|o| o.stop_signal = Some("SIGNOPE".into())),
            "--stop-signal",
        ),
        (
            Box::new(|o| o.health_interval = Some("often".into())),
            "--health-interval",
        ),
        (Box::new(|o| o.network = Some("a/b".into())), "--network"),
    ];
    for (i, (change, needle)) in cases.iter().enumerate() {
        let mut o = opts(&[]);
        change(&mut o);
        if i == 4 {
            o.restart = Some("always".into());
        }
        let err = build(&o).expect_err(needle).to_string();
        assert!(err.contains(needle), "case {i}: {err}");
    }
}

#[test]
fn rm_with_restart_always_conflicts() {
    let mut o = opts(&[]);
    o.auto_remove = true;
    o.restart = Some("always".into());
    let err = build(&o).unwrap_err();
    assert!(
        err.to_string().contains("--rm and --restart always"),
        "{err}"
    );
    o.restart = Some("no".into());
    assert!(build(&o).is_ok());
}

#[test]
fn image_healthcheck_is_used_and_flags_override_it() {
    let mut img = image();
    img.healthcheck = Some(crate::image_config::ImageHealthcheck {
        test: Some(vec!["CMD".into(), "true".into()]),
        interval: 2_000_000_000,
        ..Default::default()
    });
    let mut o = opts(&[]);
    o.health_retries = Some(7);
    let c = build_config(&o, &img, "id", Path::new("rt"), &FakeHost, &mut || {
        "v".into()
    })
    .unwrap();
    let h = c.healthcheck.unwrap();
    assert_eq!(h.test, ["CMD", "true"]);
    assert_eq!(h.interval, std::time::Duration::from_secs(2));
    assert_eq!(h.timeout, std::time::Duration::from_secs(30));
    assert_eq!(h.retries, 7);
    o.no_healthcheck = true;
    o.health_retries = None;
    let c = build_config(&o, &img, "id", Path::new("rt"), &FakeHost, &mut || {
        "v".into()
    })
    .unwrap();
    assert!(c.healthcheck.is_none());
}

#[test]
fn image_volumes_get_anonymous_volumes_unless_mounted() {
    let mut img = image();
    img.volumes = Some(
        [
            ("/data".to_owned(), serde_json::json!({})),
            ("/logs".to_owned(), serde_json::json!({})),
        ]
        .into_iter()
        .collect(),
    );
    let mut o = opts(&[]);
    o.volumes = vec!["named:/data".into()];
    let c = build_config(&o, &img, "id", Path::new("rt"), &FakeHost, &mut || {
        "anon".into()
    })
    .unwrap();
    let targets: Vec<&str> = c.mounts.iter().map(|m| m.target()).collect();
    assert_eq!(targets, ["/data", "/logs"]);
    assert!(matches!(
        &c.mounts[1],
        MountConfig::Volume {
            anonymous: true,
            ..
        }
    ));
}

#[test]
fn warnings_for_privileged_sockets_secrets_and_latest() {
    let mut o = opts(&[]);
    o.image = "busybox".into();
    o.privileged = true;
    o.volumes = vec!["/exists/run/docker.sock:/var/run/docker.sock".into()];
    o.env = vec!["DB_PASSWORD=hunter2".into()];
    let w = build(&o).unwrap().warnings.join("\n");
    assert!(w.contains("--privileged"), "{w}");
    assert!(w.contains("docker.sock"), "{w}");
    assert!(w.contains("DB_PASSWORD") && !w.contains("hunter2"), "{w}");
    assert!(w.contains("no tag"), "{w}");
}

#[test]
fn secrets_mount_under_run_secrets() {
    let mut o = opts(&[]);
    o.secrets = vec!["db".into(), "source=db,target=/etc/db.pw".into()];
    let c = build(&o).unwrap();
    assert_eq!(c.secrets[0].target, "/run/secrets/db");
    assert_eq!(c.secrets[1].target, "/etc/db.pw");
}
