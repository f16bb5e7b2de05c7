//! The compiler against the rule semantics: generated programs run in the
//! BPF interpreter over many `seccomp_data` inputs and must return what the
//! profile says, computed independently by [`expected`].

use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

use super::abi::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, Abi, X32_SYSCALL_BIT};
use super::interp::{self, SeccompData};
use super::profile::{self, BAD_ARCH, Profile, ret};
use super::{KernelSupport, compile, default_profile};

fn parse(value: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(value).expect("a well-formed linux.seccomp")
}

/// What the profile means for `data`, straight from its rules.
fn expected(p: &Profile<'_>, data: &SeccompData) -> u32 {
    let abi = match data.arch {
        AUDIT_ARCH_X86_64 if data.nr >= X32_SYSCALL_BIT => Abi::X32,
        AUDIT_ARCH_X86_64 => Abi::X86_64,
        AUDIT_ARCH_I386 => Abi::X86,
        _ => return BAD_ARCH,
    };
    if !p.abis.contains(&abi) {
        return BAD_ARCH;
    }
    let rules: Vec<_> = p
        .rules
        .iter()
        .filter(|r| r.names.iter().any(|n| abi.number(n) == Some(data.nr)))
        .collect();
    if let Some(r) = rules.iter().find(|r| r.conds.is_empty()) {
        return r.action;
    }
    let wide = abi.wide_args();
    rules
        .iter()
        .find(|r| {
            r.conds
                .iter()
                .all(|c| c.holds(data.args[usize::from(c.index)], wide))
        })
        .map_or(p.default, |r| r.action)
}

/// xorshift64*: deterministic inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Numbers and argument values near everything the profile mentions.
fn interesting(p: &Profile<'_>) -> (Vec<u32>, Vec<u64>) {
    let mut nrs = vec![0, 1, X32_SYSCALL_BIT - 1, X32_SYSCALL_BIT, u32::MAX, 1000];
    for abi in [Abi::X86_64, Abi::X86, Abi::X32] {
        for r in &p.rules {
            for n in r.names {
                if let Some(nr) = abi.number(n) {
                    nrs.extend([nr.wrapping_sub(1), nr, nr.wrapping_add(1)]);
                }
            }
        }
    }
    let mut values = vec![0, 1, u64::MAX, 0xffff_ffff, 0x1_0000_0000];
    for r in &p.rules {
        for c in &r.conds {
            for v in [
                c.value,
                c.value_two,
                c.value & 0xffff_ffff,
                c.value | 1 << 40,
            ] {
                values.extend([v.wrapping_sub(1), v, v.wrapping_add(1)]);
            }
            values.push(c.value ^ (1 << 35));
        }
    }
    (nrs, values)
}

/// Runs `iterations` random inputs (plus every interesting number on every arch).
fn check_against_semantics(spec: &LinuxSeccomp, iterations: usize) {
    let p = profile::validate(spec).unwrap();
    let filter = compile(spec, &KernelSupport::everything()).unwrap();
    interp::check(&filter.program).unwrap();
    let (nrs, values) = interesting(&p);
    let arches = [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, 0xc000_00b7];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let run = |data: SeccompData| {
        let (got, _) = interp::run(&filter.program, &data).unwrap();
        assert_eq!(got, expected(&p, &data), "{data:x?}");
    };
    for &arch in &arches {
        for &nr in &nrs {
            run(SeccompData {
                nr,
                arch,
                ..SeccompData::default()
            });
        }
    }
    for _ in 0..iterations {
        let mut args = [0u64; 6];
        for a in &mut args {
            *a = if rng.next().is_multiple_of(4) {
                rng.next()
            } else {
                rng.pick(&values)
            };
        }
        run(SeccompData {
            nr: rng.pick(&nrs),
            arch: rng.pick(&arches),
            instruction_pointer: rng.next(),
            args,
        });
    }
}

#[test]
fn every_operator_on_64_bit_arguments() {
    let mut syscalls = Vec::new();
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    let values: [u64; 4] = [0, 5, 0x1_0000_0005, 0xffff_ffff_0000_0000];
    for (i, op) in ops.iter().enumerate() {
        for (j, v) in values.iter().enumerate() {
            // One syscall per (operator, value), a distinct errno per rule.
            let name = super::tables::X86_64[10 + i * 8 + j].0;
            syscalls.push(json!({"names": [name], "action": "SCMP_ACT_ERRNO",
                "errnoRet": 100 + i * 8 + j,
                "args": [{"index": j % 6, "value": v, "valueTwo": v & 0x000f_0000_000f, "op": op}]}));
        }
    }
    let spec = parse(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": syscalls}));
    check_against_semantics(&spec, 20_000);
}

#[test]
fn several_args_are_and_several_rules_are_or() {
    let spec = parse(
        json!({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_GE"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
             "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_TRAP",
             "args": [{"index": 2, "value": 0xffff_0000_0000_u64, "valueTwo": 0x1_0000_0000_u64, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_NE"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_TRACE", "errnoRet": 3},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0x7e02_0000, "op": "SCMP_CMP_MASKED_EQ"}]},
        ]}),
    );
    check_against_semantics(&spec, 20_000);
    // The unconditional mkdir rule wins over the conditional one.
    let filter = compile(&spec, &KernelSupport::everything()).unwrap();
    let mkdir = SeccompData {
        nr: 83,
        arch: AUDIT_ARCH_X86_64,
        ..SeccompData::default()
    };
    assert_eq!(
        interp::run(&filter.program, &mkdir).unwrap().0,
        ret::TRACE | 3
    );
}

#[test]
fn foreign_and_x32_calls_are_killed_unless_listed() {
    let spec = parse(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    let filter = compile(&spec, &KernelSupport::everything()).unwrap();
    let run = |nr, arch| {
        interp::run(
            &filter.program,
            &SeccompData {
                nr,
                arch,
                ..SeccompData::default()
            },
        )
        .unwrap()
        .0
    };
    assert_eq!(run(0, AUDIT_ARCH_X86_64), ret::ALLOW);
    assert_eq!(run(X32_SYSCALL_BIT, AUDIT_ARCH_X86_64), BAD_ARCH);
    assert_eq!(run(3, AUDIT_ARCH_I386), BAD_ARCH);
    let spec = parse(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]}));
    check_against_semantics(&spec, 2_000);
}

#[test]
fn docker_default_profile_matches_its_rules() {
    for caps in [&["CAP_KILL"][..], &["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"][..]] {
        let spec = parse(default_profile::docker_default(caps));
        check_against_semantics(&spec, 50_000);
    }
}

#[test]
fn docker_default_profile_is_short_and_fast_to_run() {
    let spec = parse(default_profile::docker_default(&["CAP_KILL"]));
    let filter = compile(&spec, &KernelSupport::everything()).unwrap();
    assert!(
        filter.program.len() < 600,
        "{} instructions",
        filter.program.len()
    );
    // Syscalls decided by number alone: arch check, binary search, ret.
    let with_args = ["socket", "personality", "clone"];
    let mut worst = (0, 0);
    for nr in 0..500 {
        if Abi::X86_64.name(nr).is_some_and(|n| with_args.contains(&n)) {
            continue;
        }
        let data = SeccompData {
            nr,
            arch: AUDIT_ARCH_X86_64,
            ..SeccompData::default()
        };
        let (_, steps) = interp::run(&filter.program, &data).unwrap();
        worst = worst.max((steps, nr));
    }
    eprintln!(
        "{} instructions; worst x86_64 path {worst:?}",
        filter.program.len()
    );
    assert!(
        worst.0 <= 13,
        "syscall {} took {} instructions",
        worst.1,
        worst.0
    );
}

#[test]
fn long_jumps_go_through_trampolines() {
    // 300 conditional rules on one syscall and hundreds of alternating ranges:
    // offsets far beyond the 255 a conditional jump can encode.
    let mut syscalls: Vec<_> = (0..300u64)
        .map(|v| {
            json!({"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": v + 1,
            "args": [{"index": 1, "value": v << 20, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let every_other: Vec<&str> = super::tables::X86_64
        .iter()
        .filter(|(_, nr)| nr % 2 == 0)
        .map(|(n, _)| *n)
        .collect();
    syscalls.push(json!({"names": every_other, "action": "SCMP_ACT_ALLOW"}));
    let spec = parse(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": syscalls,
        "architectures": ["SCMP_ARCH_X86"]}),
    );
    check_against_semantics(&spec, 20_000);
}

#[test]
fn too_large_a_filter_is_an_error() {
    let syscalls: Vec<_> = (0..900u64)
        .map(|v| {
            json!({"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 1, "value": v << 33, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let spec = parse(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls}));
    let err = compile(&spec, &KernelSupport::everything()).unwrap_err();
    assert!(err.reason.contains("4096"), "{err}");
}

#[test]
fn unknown_names_are_skipped() {
    let spec = parse(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["no_such_syscall", "read", "chown32"], "action": "SCMP_ACT_ALLOW"}]}));
    let filter = compile(&spec, &KernelSupport::everything()).unwrap();
    let read = SeccompData {
        nr: 0,
        arch: AUDIT_ARCH_X86_64,
        ..SeccompData::default()
    };
    assert_eq!(interp::run(&filter.program, &read).unwrap().0, ret::ALLOW);
}

fn error_of(value: serde_json::Value) -> String {
    compile(&parse(value), &KernelSupport::everything())
        .unwrap_err()
        .to_string()
}

#[test]
fn malformed_entries_name_the_field() {
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[0].names: must name at least one syscall",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read", ""], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[1].names[1]: is empty",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].index: 6 is out of range",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}),
            "linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_KILL does not take an errno",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}),
            "linux.seccomp.defaultErrnoRet: 70000 does not fit",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath: is required: linux.seccomp.syscalls[0] uses SCMP_ACT_NOTIFY",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                "syscalls": [{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.syscalls[0].names[0]: sendmsg cannot use SCMP_ACT_NOTIFY",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m"}),
            "linux.seccomp.listenerMetadata: must not be set without listenerPath",
        ),
    ];
    for (value, want) in cases {
        let err = error_of(value);
        assert!(err.starts_with(want), "got {err:?}, want {want:?}");
    }
}

#[test]
fn unknown_actions_and_operators_fail_when_parsing_with_the_field() {
    // The runtime parses config.json with json_path, which names these paths.
    for (text, path) in [
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_BOGUS"}]}"#,
            "syscalls[0].action",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_NOPE"}]}]}"#,
            "syscalls[0].args[0].op",
        ),
        (r#"{"defaultAction":"SCMP_ACT_NOPE"}"#, "defaultAction"),
    ] {
        let err = crate::json_path::from_slice::<LinuxSeccomp>(text.as_bytes()).unwrap_err();
        assert_eq!(err.path, path);
        assert!(err.reason.contains("unknown variant"), "{err:?}");
    }
}

#[test]
fn flags_follow_the_kernel_and_the_listener() {
    let spec = parse(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}));
    let all = compile(&spec, &KernelSupport::everything()).unwrap();
    use brig_sys::seccomp as s;
    assert_eq!(all.flags, s::FLAG_TSYNC | s::FLAG_LOG);
    let old_kernel = KernelSupport {
        flags: s::FLAG_TSYNC,
        actions: 0,
    };
    assert_eq!(compile(&spec, &old_kernel).unwrap().flags, s::FLAG_TSYNC);
    let notify = parse(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let f = compile(&notify, &KernelSupport::everything()).unwrap();
    assert_eq!(
        f.flags,
        s::FLAG_TSYNC | s::FLAG_NEW_LISTENER | s::FLAG_TSYNC_ESRCH | s::FLAG_WAIT_KILLABLE_RECV
    );
    assert!(f.notifies());
    let err = compile(&notify, &old_kernel).unwrap_err().to_string();
    assert!(
        err.contains("syscalls[0].action: SCMP_ACT_NOTIFY is not supported"),
        "{err}"
    );
}

#[test]
fn probing_asks_only_about_what_the_profile_uses() {
    // This kernel has all of these: nothing is left out either way.
    let docker = parse(default_profile::docker_default(&["CAP_KILL"]));
    let k = KernelSupport::probe_for(&docker);
    assert_eq!((k.flags, k.actions), (u32::MAX, u8::MAX));
    let notify = parse(
        json!({"defaultAction": "SCMP_ACT_LOG", "listenerPath": "/x",
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let k = KernelSupport::probe_for(&notify);
    assert!(k.has_action(ret::USER_NOTIF) && k.has_action(ret::LOG));
    assert_ne!(k.flags & brig_sys::seccomp::FLAG_NEW_LISTENER, 0);
}

/// Micro benchmark: `cargo test --release -p brig-runtime compile_speed -- --nocapture`.
#[test]
fn compile_speed_of_a_docker_sized_profile() {
    let spec = parse(default_profile::docker_default(&["CAP_KILL"]));
    let names: usize = spec
        .syscalls()
        .iter()
        .flatten()
        .map(|s| s.names().len())
        .sum();
    // As `plan` does it: validate, ask the kernel what the profile needs, generate.
    let mut times: Vec<std::time::Duration> = (0..300)
        .map(|_| {
            let start = std::time::Instant::now();
            let filter = super::compile_for_this_kernel(&spec).unwrap();
            std::hint::black_box(filter);
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    let len = compile(&spec, &KernelSupport::everything())
        .unwrap()
        .program
        .len();
    eprintln!(
        "seccomp compile: {names} names in {} rules -> {len} instructions: min {:?}, median {:?}",
        spec.syscalls().as_ref().map_or(0, Vec::len),
        times[0],
        times[times.len() / 2],
    );
    assert!(times[times.len() / 2] < std::time::Duration::from_millis(20));
}
