use std::collections::{HashMap, HashSet};

use super::*;

#[derive(Default)]
struct FakeProbe {
    files: HashSet<&'static str>,
    values: HashMap<&'static str, &'static str>,
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
    Ok(plan_v2(&res, probe)?
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
fn memory_max_low_and_swap_max() {
    let p = probe(&["memory.swap.max"]);
    let got = plan(r#"{"memory":{"limit":33554432,"swap":67108864,"reservation":1048576,"swappiness":5,"disableOOMKiller":true}}"#, &p).unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("memory.swap.max", "33554432"),
            ("memory.max", "33554432"),
            ("memory.low", "1048576")
        ])
    );
    let got = plan(r#"{"memory":{"limit":-1}}"#, &p).unwrap();
    assert_eq!(got, pairs(&[("memory.max", "max")]));
}

#[test]
fn swap_errors_name_the_field() {
    let err = plan(r#"{"memory":{"swap":1000}}"#, &probe(&["memory.swap.max"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("linux.resources.memory.swap"), "{err}");
    let err = plan(r#"{"memory":{"limit":1000,"swap":5000}}"#, &probe(&[])).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::NotSupported);
    // Swap equal to the limit means "no swap", which needs no swap file.
    assert_eq!(
        plan(r#"{"memory":{"limit":1000,"swap":1000}}"#, &probe(&[])).unwrap(),
        pairs(&[("memory.max", "1000")])
    );
}

#[test]
fn shares_become_weight_and_quota_period_become_cpu_max() {
    let got = plan(
        r#"{"cpu":{"shares":1024,"quota":25000,"period":100000}}"#,
        &probe(&[]),
    )
    .unwrap();
    assert_eq!(
        got,
        pairs(&[("cpu.weight", "100"), ("cpu.max", "25000 100000")])
    );
    let got = plan(r#"{"cpu":{"quota":-1}}"#, &probe(&[])).unwrap();
    assert_eq!(got, pairs(&[("cpu.max", "max")]));
}

#[test]
fn a_period_alone_keeps_the_current_quota() {
    let mut p = probe(&[]);
    p.values.insert("cpu.max", "50000 100000");
    assert_eq!(
        plan(r#"{"cpu":{"period":200000}}"#, &p).unwrap(),
        pairs(&[("cpu.max", "50000 200000")])
    );
}

#[test]
fn idle_and_burst_where_present_realtime_refused() {
    let got = plan(
        r#"{"cpu":{"idle":1,"burst":500}}"#,
        &probe(&["cpu.idle", "cpu.max.burst"]),
    )
    .unwrap();
    assert_eq!(got, pairs(&[("cpu.idle", "1"), ("cpu.max.burst", "500")]));
    let err = plan(r#"{"cpu":{"burst":500}}"#, &probe(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("linux.resources.cpu.burst"), "{err}");
    let err = plan(r#"{"cpu":{"realtimeRuntime":100}}"#, &probe(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("realtime"), "{err}");
}

#[test]
fn io_weight_is_converted_and_io_max_has_one_line_per_limit() {
    let json = r#"{"blockIO":{"weight":1000,"weightDevice":[{"major":8,"minor":0,"weight":10}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
        "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":0}]}}"#;
    let got = plan(json, &probe(&[])).unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("io.weight", "default 10000"),
            ("io.weight", "8:0 1"),
            ("io.max", "8:0 rbps=1048576"),
            ("io.max", "8:0 wbps=max"),
        ])
    );
    let got = plan(r#"{"blockIO":{"weight":300}}"#, &probe(&["io.bfq.weight"])).unwrap();
    assert_eq!(got, pairs(&[("io.bfq.weight", "default 300")]));
    assert!(plan(r#"{"blockIO":{"leafWeight":300}}"#, &probe(&[])).is_err());
}

#[test]
fn pids_and_hugetlb() {
    let got = plan(
        r#"{"pids":{"limit":-1},"hugepageLimits":[{"pageSize":"2MB","limit":-1}]}"#,
        &probe(&[]),
    )
    .unwrap();
    assert_eq!(
        got,
        pairs(&[("pids.max", "max"), ("hugetlb.2MB.max", "max")])
    );
}

#[test]
fn unified_keys_are_written_after_the_rest_in_key_order() {
    let got = plan(
        r#"{"pids":{"limit":5},"unified":{"memory.high":"1000","cgroup.max.depth":"2"}}"#,
        &probe(&[]),
    )
    .unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("pids.max", "5"),
            ("cgroup.max.depth", "2"),
            ("memory.high", "1000")
        ])
    );
    assert!(plan(r#"{"unified":{"cgroup.procs":"1"}}"#, &probe(&[])).is_err());
}

#[test]
fn network_is_refused_on_v2() {
    let err = plan(r#"{"network":{"classID":1}}"#, &probe(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("linux.resources.network"), "{err}");
}
