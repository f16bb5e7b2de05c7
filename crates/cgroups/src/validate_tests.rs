use super::*;

fn machine() -> Machine {
    Machine {
        cpus: BTreeSet::from([0, 1]),
        mems: BTreeSet::from([0]),
        hugepage_sizes: vec!["1GB".into(), "2MB".into()],
    }
}

fn check(json: &str) -> Result<()> {
    let res: LinuxResources = serde_json::from_str(json).unwrap();
    validate_for(&res, &machine())
}

fn field_of(json: &str) -> String {
    match check(json).unwrap_err() {
        CgroupError::InvalidResource { field, .. } => field,
        other => panic!("not an invalid-resource error: {other}"),
    }
}

#[test]
fn a_typical_spec_is_valid() {
    check(
        r#"{"memory":{"limit":33554432,"swap":67108864,"reservation":-1},
            "cpu":{"shares":1024,"quota":25000,"period":100000,"cpus":"0-1","mems":"0"},
            "pids":{"limit":-1},"blockIO":{"weight":500},
            "hugepageLimits":[{"pageSize":"2MB","limit":0}],
            "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}],
            "unified":{"memory.high":"100000"}}"#,
    )
    .unwrap();
}

#[test]
fn negative_values_name_their_field() {
    assert_eq!(
        field_of(r#"{"memory":{"limit":-2}}"#),
        "linux.resources.memory.limit"
    );
    assert_eq!(
        field_of(r#"{"memory":{"reservation":-5}}"#),
        "linux.resources.memory.reservation"
    );
    assert_eq!(
        field_of(r#"{"cpu":{"quota":-7}}"#),
        "linux.resources.cpu.quota"
    );
    assert_eq!(
        field_of(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-3}]}"#),
        "linux.resources.hugepageLimits[0].limit"
    );
}

#[test]
fn zero_or_out_of_range_period_is_refused() {
    assert_eq!(
        field_of(r#"{"cpu":{"period":0}}"#),
        "linux.resources.cpu.period"
    );
    assert!(
        check(r#"{"cpu":{"period":0}}"#)
            .unwrap_err()
            .to_string()
            .contains("zero")
    );
    assert_eq!(
        field_of(r#"{"cpu":{"period":2000000}}"#),
        "linux.resources.cpu.period"
    );
    assert_eq!(
        field_of(r#"{"cpu":{"realtimePeriod":0}}"#),
        "linux.resources.cpu.realtimePeriod"
    );
    assert_eq!(
        field_of(r#"{"cpu":{"quota":500}}"#),
        "linux.resources.cpu.quota"
    );
}

#[test]
fn cpuset_out_of_range_for_this_machine_is_refused() {
    let err = check(r#"{"cpu":{"cpus":"0-3"}}"#).unwrap_err().to_string();
    assert!(
        err.contains("linux.resources.cpu.cpus") && err.contains("CPU 2") && err.contains("0-1"),
        "{err}"
    );
    assert_eq!(
        field_of(r#"{"cpu":{"mems":"1"}}"#),
        "linux.resources.cpu.mems"
    );
    assert_eq!(
        field_of(r#"{"cpu":{"cpus":"x"}}"#),
        "linux.resources.cpu.cpus"
    );
    assert_eq!(
        field_of(r#"{"cpu":{"cpus":"1-0"}}"#),
        "linux.resources.cpu.cpus"
    );
}

#[test]
fn unknown_unified_key_is_refused() {
    let err = check(r#"{"unified":{"foo.bar":"1"}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"linux.resources.unified["foo.bar"]"#),
        "{err}"
    );
}

#[test]
fn bad_device_rules_are_refused() {
    assert_eq!(
        field_of(r#"{"devices":[{"allow":true,"type":"p","access":"rwm"}]}"#),
        "linux.resources.devices[0].type"
    );
    assert_eq!(
        field_of(r#"{"devices":[{"allow":true,"type":"c","access":"rwx"}]}"#),
        "linux.resources.devices[0].access"
    );
    assert_eq!(
        field_of(r#"{"devices":[{"allow":true,"type":"c","access":""}]}"#),
        "linux.resources.devices[0].access"
    );
    assert_eq!(
        field_of(r#"{"devices":[{"allow":true,"type":"c","major":-4}]}"#),
        "linux.resources.devices[0].major"
    );
}

#[test]
fn out_of_range_weights_shares_and_swappiness_are_refused() {
    assert_eq!(
        field_of(r#"{"blockIO":{"weight":5}}"#),
        "linux.resources.blockIO.weight"
    );
    assert_eq!(
        field_of(r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":2000}]}}"#),
        "linux.resources.blockIO.weightDevice[0].weight"
    );
    assert_eq!(
        field_of(r#"{"blockIO":{"throttleReadBpsDevice":[{"major":-1,"minor":0,"rate":1}]}}"#),
        "linux.resources.blockIO.throttleReadBpsDevice[0].major"
    );
    assert_eq!(
        field_of(r#"{"cpu":{"shares":1}}"#),
        "linux.resources.cpu.shares"
    );
    assert_eq!(
        field_of(r#"{"memory":{"swappiness":101}}"#),
        "linux.resources.memory.swappiness"
    );
    assert_eq!(
        field_of(r#"{"cpu":{"idle":2}}"#),
        "linux.resources.cpu.idle"
    );
}

#[test]
fn swap_below_limit_or_without_limit_is_refused() {
    assert_eq!(
        field_of(r#"{"memory":{"limit":100000,"swap":5000}}"#),
        "linux.resources.memory.swap"
    );
    assert_eq!(
        field_of(r#"{"memory":{"swap":5000}}"#),
        "linux.resources.memory.swap"
    );
    check(r#"{"memory":{"limit":-1,"swap":-1}}"#).unwrap();
}

#[test]
fn unknown_hugepage_size_is_refused() {
    let err = check(r#"{"hugepageLimits":[{"pageSize":"3MB","limit":1}]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hugepageLimits[0].pageSize") && err.contains("2MB"),
        "{err}"
    );
}

#[test]
fn lists_parse_and_format() {
    assert_eq!(
        parse_list("0-2,5,7-8").unwrap(),
        BTreeSet::from([0, 1, 2, 5, 7, 8])
    );
    assert_eq!(
        format_list(&BTreeSet::from([0, 1, 2, 5, 7, 8])),
        "0-2,5,7-8"
    );
    assert!(parse_list("").unwrap().is_empty());
    assert!(parse_list("0-").is_err());
}

#[test]
fn hugepage_sizes_are_named_like_cgroup_files() {
    assert_eq!(hugepage_size_name(2 * 1024 * 1024), "2MB");
    assert_eq!(hugepage_size_name(1024 * 1024 * 1024), "1GB");
    assert_eq!(hugepage_size_name(64 * 1024), "64KB");
}

#[test]
fn machine_detection_reads_sysfs() {
    let sys = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(sys.path().join("devices/system/cpu")).unwrap();
    std::fs::write(sys.path().join("devices/system/cpu/online"), "0-3\n").unwrap();
    std::fs::create_dir_all(sys.path().join("kernel/mm/hugepages/hugepages-2048kB")).unwrap();
    let m = Machine::detect_at(sys.path());
    assert_eq!(m.cpus, BTreeSet::from([0, 1, 2, 3]));
    assert_eq!(m.mems, BTreeSet::from([0]));
    assert_eq!(m.hugepage_sizes, vec!["2MB".to_owned()]);
    let here = Machine::detect();
    assert!(!here.cpus.is_empty());
}
