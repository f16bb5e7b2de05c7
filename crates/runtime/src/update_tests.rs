use super::*;

fn flags(edit: impl FnOnce(&mut ResourceFlags)) -> Result<LinuxResources> {
    let mut f = ResourceFlags::default();
    edit(&mut f);
    resources_from_flags(&f)
}

fn flag_error(result: Result<LinuxResources>) -> (&'static str, String) {
    match result {
        Err(Error::InvalidFlag { flag, reason }) => (flag, reason),
        other => panic!("expected a flag error, got {other:?}"),
    }
}

#[test]
fn sizes_parse_like_runc() {
    let cases = [
        ("4096", 4096),
        ("32m", 32 << 20),
        ("32M", 32 << 20),
        ("32MB", 32 << 20),
        ("32MiB", 32 << 20),
        ("32 m", 32 << 20),
        ("512k", 512 << 10),
        ("1g", 1 << 30),
        ("1.5g", 3 << 29),
        ("100b", 100),
        ("-1", -1),
    ];
    for (text, want) in cases {
        assert_eq!(parse_bytes("--memory", text).unwrap(), want, "{text}");
    }
    for bad in [
        "",
        "m",
        "-5",
        "32x",
        "1.2.3",
        "32mm",
        "1..5",
        "ten",
        "99999999p",
    ] {
        assert!(parse_bytes("--memory", bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn flags_become_resources_and_zero_means_unchanged() {
    let r = flags(|f| {
        f.memory = Some("32m".into());
        f.memory_swap = Some("-1".into());
        f.memory_reservation = Some("0".into());
        f.cpu_quota = Some("25000".into());
        f.cpu_period = Some("100000".into());
        f.cpu_shares = Some("512".into());
        f.cpuset_cpus = Some("0".into());
        f.pids_limit = Some("10".into());
        f.blkio_weight = Some("500".into());
        f.kernel_memory = Some("10m".into());
    })
    .unwrap();
    let memory = r.memory().unwrap();
    assert_eq!(memory.limit(), Some(32 << 20));
    assert_eq!(memory.swap(), Some(-1));
    assert_eq!(memory.reservation(), None);
    #[allow(deprecated)]
    let kernel = memory.kernel();
    assert_eq!(kernel, None, "--kernel-memory is ignored");
    let cpu = r.cpu().as_ref().unwrap();
    assert_eq!(
        (cpu.quota(), cpu.period(), cpu.shares()),
        (Some(25000), Some(100000), Some(512))
    );
    assert_eq!(cpu.cpus().as_deref(), Some("0"));
    assert_eq!(r.pids().unwrap().limit(), 10);
    assert_eq!(r.block_io().as_ref().unwrap().weight(), Some(500));
    assert!(flags(|_| {}).unwrap().memory().is_none());
}

type Edit = fn(&mut ResourceFlags);

#[test]
fn bad_flag_values_name_the_flag() {
    let cases: [(&str, Edit); 6] = [
        ("--memory", |f| f.memory = Some("-2".into())),
        ("--cpu-quota", |f| f.cpu_quota = Some("-5".into())),
        ("--cpu-period", |f| f.cpu_period = Some("0".into())),
        ("--cpu-period", |f| f.cpu_period = Some("-1".into())),
        ("--pids-limit", |f| f.pids_limit = Some("-3".into())),
        ("--blkio-weight", |f| f.blkio_weight = Some("x".into())),
    ];
    for (want, edit) in cases {
        let (flag, reason) = flag_error(flags(edit));
        assert_eq!(flag, want, "{reason}");
    }
}

#[test]
fn validation_errors_are_reworded_with_the_flag() {
    let err = CgroupError::InvalidResource {
        field: "linux.resources.cpu.cpus".into(),
        reason: "CPU 99 does not exist here".into(),
    };
    match name_origin(err, &Origin::Flags) {
        Error::InvalidFlag { flag, reason } => {
            assert_eq!(flag, "--cpuset-cpus");
            assert!(reason.contains("99"));
        }
        other => panic!("{other:?}"),
    }
    let err = CgroupError::InvalidResource {
        field: "linux.resources.unified.bogus".into(),
        reason: "unknown".into(),
    };
    let file = PathBuf::from("/tmp/r.json");
    let msg = name_origin(err, &Origin::File(file)).to_string();
    assert!(
        msg.contains("/tmp/r.json") && msg.contains("unified.bogus"),
        "{msg}"
    );
}

#[test]
fn merge_keeps_what_the_delta_does_not_name() {
    let current: LinuxResources = serde_json::from_value(serde_json::json!({
        "memory": {"limit": 1000000, "swap": 2000000},
        "cpu": {"shares": 100, "cpus": "0"},
        "devices": [{"allow": false, "access": "rwm"}],
        "unified": {"memory.high": "500000"}
    }))
    .unwrap();
    let delta: LinuxResources = serde_json::from_value(serde_json::json!({
        "memory": {"limit": 500000},
        "unified": {"pids.max": "5"},
        "devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"}]
    }))
    .unwrap();
    let merged = merge(Some(&current), &delta).unwrap();
    let json = serde_json::to_value(&merged).unwrap();
    assert_eq!(json["memory"]["limit"], 500000);
    assert_eq!(json["memory"]["swap"], 2000000);
    assert_eq!(json["cpu"]["shares"], 100);
    assert_eq!(json["unified"]["memory.high"], "500000");
    assert_eq!(json["unified"]["pids.max"], "5");
    assert_eq!(json["devices"].as_array().unwrap().len(), 1);
    assert_eq!(json["devices"][0]["allow"], true);

    // The limit goes with the recorded swap, and nothing else is rewritten.
    let apply = coupled(&delta, &merged).unwrap();
    let memory = apply.memory().unwrap();
    assert_eq!(
        (memory.limit(), memory.swap()),
        (Some(500000), Some(2000000))
    );
    assert!(apply.cpu().is_none());
}

#[test]
fn resources_file_errors_name_file_and_field() {
    let file = Path::new("/tmp/res.json");
    let err = resources_from_json(br#"{"memory": {"limit": "lots"}}"#, file).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/tmp/res.json") && msg.contains("linux.resources.memory.limit"),
        "{msg}"
    );
    let ok = resources_from_json(br#"{"pids": {"limit": 5}}"#, file).unwrap();
    assert_eq!(ok.pids().unwrap().limit(), 5);
}
