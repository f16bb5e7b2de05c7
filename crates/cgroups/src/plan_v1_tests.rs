use std::collections::{HashMap, HashSet};

use super::*;

/// A probe over a made-up cgroup: these files exist, these have values.
#[derive(Default)]
pub(crate) struct FakeProbe {
    pub files: HashSet<&'static str>,
    pub values: HashMap<&'static str, &'static str>,
}

impl Probe for FakeProbe {
    fn exists(&self, _: Controller, file: &str) -> bool {
        self.files.contains(file)
    }
    fn read(&self, _: Controller, file: &str) -> Option<String> {
        self.values.get(file).map(|v| v.to_string())
    }
}

fn probe(files: &[&'static str]) -> FakeProbe {
    FakeProbe {
        files: files.iter().copied().collect(),
        ..FakeProbe::default()
    }
}

fn plan(json: &str, probe: &FakeProbe) -> Result<Vec<(String, String)>> {
    let res: LinuxResources = serde_json::from_str(json).unwrap();
    Ok(plan_v1(&res, probe)?
        .into_iter()
        .map(|w| (w.file, w.value))
        .collect())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, v)| (f.to_string(), v.to_string()))
        .collect()
}

#[test]
fn memory_limit_swap_and_friends() {
    let p = probe(&["memory.memsw.limit_in_bytes"]);
    let got = plan(r#"{"memory":{"limit":1048576,"swap":2097152,"reservation":524288,"swappiness":10,"disableOOMKiller":true}}"#, &p).unwrap();
    // Current limit unknown (= unlimited): memory first, then memsw.
    assert_eq!(
        got,
        pairs(&[
            ("memory.limit_in_bytes", "1048576"),
            ("memory.memsw.limit_in_bytes", "2097152"),
            ("memory.soft_limit_in_bytes", "524288"),
            ("memory.swappiness", "10"),
            ("memory.oom_control", "1"),
        ])
    );
}

#[test]
fn swap_goes_first_when_it_grows_past_the_current_limit() {
    let mut p = probe(&["memory.memsw.limit_in_bytes"]);
    p.values.insert("memory.limit_in_bytes", "1048576");
    let got = plan(r#"{"memory":{"limit":4194304,"swap":8388608}}"#, &p).unwrap();
    assert_eq!(got[0].0, "memory.memsw.limit_in_bytes");
    assert_eq!(got[1].0, "memory.limit_in_bytes");
    let got = plan(r#"{"memory":{"limit":-1,"swap":-1}}"#, &p).unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("memory.memsw.limit_in_bytes", "-1"),
            ("memory.limit_in_bytes", "-1")
        ])
    );
}

#[test]
fn swap_without_swap_accounting_is_refused_unless_unlimited() {
    let err = plan(
        r#"{"memory":{"limit":1048576,"swap":2097152}}"#,
        &probe(&[]),
    )
    .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::NotSupported);
    assert!(
        err.to_string().contains("linux.resources.memory.swap"),
        "{err}"
    );
    let got = plan(r#"{"memory":{"limit":1048576,"swap":-1}}"#, &probe(&[])).unwrap();
    assert_eq!(got, pairs(&[("memory.limit_in_bytes", "1048576")]));
}

#[test]
fn cpu_files() {
    let p = probe(&[
        "cpu.cfs_burst_us",
        "cpu.rt_period_us",
        "cpu.rt_runtime_us",
        "cpu.idle",
    ]);
    let got = plan(
        r#"{"cpu":{"shares":512,"quota":25000,"period":100000,"burst":1000,"realtimePeriod":1000000,"realtimeRuntime":0,"idle":0,"cpus":"0","mems":"0"}}"#,
        &p,
    )
    .unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("cpu.shares", "512"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "25000"),
            ("cpu.cfs_burst_us", "1000"),
            ("cpu.rt_period_us", "1000000"),
            ("cpu.rt_runtime_us", "0"),
            ("cpu.idle", "0"),
            ("cpuset.cpus", "0"),
            ("cpuset.mems", "0"),
        ])
    );
}

#[test]
fn cpu_features_missing_from_the_kernel_are_refused_by_field() {
    let err = plan(r#"{"cpu":{"burst":1000}}"#, &probe(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linux.resources.cpu.burst") && err.contains("cpu.cfs_burst_us"),
        "{err}"
    );
    let err = plan(r#"{"cpu":{"idle":1}}"#, &probe(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("linux.resources.cpu.idle"), "{err}");
}

#[test]
fn pids_limit_zero_is_unset_and_negative_is_max() {
    assert_eq!(
        plan(r#"{"pids":{"limit":0}}"#, &probe(&[])).unwrap(),
        vec![]
    );
    assert_eq!(
        plan(r#"{"pids":{"limit":-1}}"#, &probe(&[])).unwrap(),
        pairs(&[("pids.max", "max")])
    );
    assert_eq!(
        plan(r#"{"pids":{"limit":16}}"#, &probe(&[])).unwrap(),
        pairs(&[("pids.max", "16")])
    );
}

#[test]
fn blkio_uses_cfq_or_bfq_files_and_throttles() {
    let json = r#"{"blockIO":{"weight":300,"weightDevice":[{"major":8,"minor":0,"weight":700}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
        "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":100}]}}"#;
    let got = plan(
        json,
        &probe(&["blkio.bfq.weight", "blkio.bfq.weight_device"]),
    )
    .unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("blkio.bfq.weight", "300"),
            ("blkio.bfq.weight_device", "8:0 700"),
            ("blkio.throttle.read_bps_device", "8:0 1048576"),
            ("blkio.throttle.write_iops_device", "8:16 100"),
        ])
    );
    let got = plan(
        r#"{"blockIO":{"weight":300}}"#,
        &probe(&["blkio.weight", "blkio.bfq.weight"]),
    )
    .unwrap();
    assert_eq!(got, pairs(&[("blkio.weight", "300")]));
    let err = plan(r#"{"blockIO":{"weight":300}}"#, &probe(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("linux.resources.blockIO.weight"), "{err}");
}

#[test]
fn hugetlb_sets_limit_and_reservation_limit() {
    let p = probe(&["hugetlb.2MB.rsvd.limit_in_bytes"]);
    let got = plan(
        r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#,
        &p,
    )
    .unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("hugetlb.2MB.limit_in_bytes", "4194304"),
            ("hugetlb.2MB.rsvd.limit_in_bytes", "4194304")
        ])
    );
}

#[test]
fn devices_become_deny_and_allow_lines() {
    let got = plan(
        r#"{"devices":[{"allow":false,"access":"rwm"}]}"#,
        &probe(&[]),
    )
    .unwrap();
    assert_eq!(got[0], ("devices.deny".to_owned(), "a".to_owned()));
    assert!(got.contains(&("devices.allow".to_owned(), "c 1:3 rwm".to_owned())));
    assert!(
        !got.iter().any(|(_, v)| v.starts_with('b')),
        "no block device is allowed by default"
    );
}

#[test]
fn network_and_rdma() {
    let got = plan(r#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]},"rdma":{"mlx5_1":{"hcaHandles":3}}}"#, &probe(&[])).unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("net_cls.classid", "1048577"),
            ("net_prio.ifpriomap", "eth0 5"),
            ("rdma.max", "mlx5_1 hca_handle=3 hca_object=max")
        ])
    );
}

#[test]
fn unified_is_refused_on_v1_naming_the_field() {
    let err = plan(r#"{"unified":{"memory.high":"1"}}"#, &probe(&[])).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::NotSupported);
    assert!(
        err.to_string().contains("linux.resources.unified") && err.to_string().contains("v1"),
        "{err}"
    );
}
