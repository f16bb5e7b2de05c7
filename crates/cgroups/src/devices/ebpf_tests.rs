//! The generated program is run by a small interpreter of the instructions
//! it uses and must agree with the reference decision `is_allowed` on every
//! device and access combination that matters.

use super::*;
use crate::devices::{effective_rules, is_allowed};
use oci_spec::runtime::LinuxDeviceCgroup;

/// Runs `prog` on a device context; returns r0. Panics on an instruction
/// the generator is not supposed to emit, a backward jump or running off the end.
fn run(prog: &[BpfInsn], ctx: [u32; 3]) -> u64 {
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(
            steps <= prog.len(),
            "program did not terminate going forward"
        );
        let insn = prog[pc];
        let (dst, src) = (insn.dst() as usize, insn.src() as usize);
        let imm = insn.imm;
        let mut next = pc + 1;
        let jump = |cond: bool| {
            if cond {
                pc + 1 + insn.off as usize
            } else {
                pc + 1
            }
        };
        match insn.code {
            LDX_MEM_W => {
                assert_eq!(src, 1, "only the context is read");
                r[dst] = u64::from(ctx[insn.off as usize / 4]);
            }
            ALU32_AND_K => r[dst] = u64::from((r[dst] as u32) & imm as u32),
            ALU32_RSH_K => r[dst] = u64::from((r[dst] as u32) >> imm),
            ALU32_MOV_X => r[dst] = u64::from(r[src] as u32),
            ALU64_MOV_K => r[dst] = imm as i64 as u64,
            JMP_JA => next = jump(true),
            JMP_JEQ_K => next = jump(r[dst] == imm as i64 as u64),
            JMP32_JNE_K => next = jump(r[dst] as u32 != imm as u32),
            JMP_EXIT => return r[0],
            other => panic!("unexpected opcode {other:#x}"),
        }
        assert!(insn.off >= 0, "backward jump at {pc}");
        pc = next;
    }
}

fn ctx(kind: DeviceKind, major: u32, minor: u32, wanted: u8) -> [u32; 3] {
    let kind = match kind {
        DeviceKind::Block => DEVCG_DEV_BLOCK as u32,
        DeviceKind::Char => DEVCG_DEV_CHAR as u32,
        DeviceKind::All => unreachable!(),
    };
    [(u32::from(wanted) << 16) | kind, major, minor]
}

fn rules(json: &str) -> Vec<DeviceRule> {
    let spec: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
    effective_rules(&spec).unwrap()
}

fn assert_agrees(rules: &[DeviceRule]) {
    let prog = program(rules);
    for kind in [DeviceKind::Char, DeviceKind::Block] {
        for major in [0, 1, 5, 8, 10, 136, 4095] {
            for minor in [0, 1, 3, 5, 9, 200, 229] {
                for wanted in 1..=access::ALL {
                    let expected = is_allowed(rules, kind, major, minor, wanted);
                    let got = run(&prog, ctx(kind, major, minor, wanted)) == 1;
                    assert_eq!(
                        got, expected,
                        "{kind:?} {major}:{minor} access {wanted:#b} with {rules:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn default_spec_program_agrees_with_the_reference() {
    let r = rules(r#"[{"allow": false, "access": "rwm"}]"#);
    assert_agrees(&r);
    let prog = program(&r);
    assert_eq!(
        run(
            &prog,
            ctx(DeviceKind::Char, 1, 3, access::READ | access::WRITE)
        ),
        1,
        "/dev/null"
    );
    assert_eq!(
        run(&prog, ctx(DeviceKind::Char, 1, 1, access::READ)),
        0,
        "/dev/mem"
    );
    assert_eq!(
        run(&prog, ctx(DeviceKind::Block, 8, 0, access::MKNOD)),
        0,
        "mknod sda"
    );
}

#[test]
fn mixed_rules_agree_with_the_reference() {
    assert_agrees(&rules(
        r#"[{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "access": "rw"},
            {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "w"},
            {"allow": true, "type": "b", "minor": 0, "access": "m"},
            {"allow": true, "type": "c", "major": 5, "minor": 9, "access": "r"}]"#,
    ));
}

#[test]
fn allow_all_and_no_deny_all_agree_with_the_reference() {
    assert_agrees(&rules(r#"[{"allow": true, "access": "rwm"}]"#));
    assert_agrees(&rules(
        r#"[{"allow": false, "type": "b", "major": 8, "access": "rwm"}]"#,
    ));
    assert_agrees(&rules(r#"[{"allow": false, "type": "a", "access": "m"}]"#));
    assert_agrees(&rules("[]"));
}

#[test]
fn rules_after_a_catch_all_are_not_emitted() {
    // Everything before a final deny-all is dead code and must not be
    // emitted: the verifier refuses unreachable instructions.
    let r = rules(
        r#"[{"allow": true, "type": "c", "major": 1, "access": "rwm"}, {"allow": false, "access": "rwm"}]"#,
    );
    let without_dead: Vec<_> = r[1..].to_vec();
    assert_eq!(program(&r), program(&without_dead));
}

#[test]
fn every_jump_lands_inside_the_program() {
    let r = rules(
        r#"[{"allow": false, "access": "rwm"}, {"allow": true, "type": "b", "major": 8, "minor": 1, "access": "r"}]"#,
    );
    let prog = program(&r);
    for (pc, insn) in prog.iter().enumerate() {
        if matches!(insn.code, JMP_JA | JMP_JEQ_K | JMP32_JNE_K) {
            let target = pc + 1 + insn.off as usize;
            assert!(target < prog.len(), "jump at {pc} leaves the program");
        }
    }
    assert_eq!(prog.last().map(|i| i.code), Some(JMP_EXIT));
}
