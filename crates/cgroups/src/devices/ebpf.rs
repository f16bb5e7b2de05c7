//! The cgroup v2 device program (`BPF_PROG_TYPE_CGROUP_DEVICE`), generated
//! directly as eBPF instructions from [`DeviceRule`]s.
//!
//! The kernel calls it with `struct bpf_cgroup_dev_ctx { u32 access_type;
//! u32 major; u32 minor; }`, where `access_type` is `(access << 16) | type`;
//! it returns 1 to allow and 0 to deny. The program decides each requested
//! access bit (mknod, read, write) separately with the last matching rule,
//! exactly as [`super::is_allowed`]:
//!
//! ```text
//!   r2 = type, r3 = access, r4 = major, r5 = minor
//!   for bit in [mknod, read, write]:
//!       if !(r3 & bit) goto bit_done
//!       for rule in rules (last first) that mention bit:
//!           if rule.type  && r2 != type  goto next_rule
//!           if rule.major && r4 != major goto next_rule
//!           if rule.minor && r5 != minor goto next_rule
//!           allow ? goto bit_done : return 0
//!         next_rule:
//!     bit_done:
//!   return 1
//! ```
//!
//! Rules after one that covers every device are never reached, and no
//! unreachable instruction is emitted (the verifier refuses those). Jumps
//! only go forward, so the verifier has no loop to bound.

use brig_sys::bpf::BpfInsn;

use super::{DeviceKind, DeviceRule, access};

/// The license the program is loaded under (no GPL-only helper is used).
pub const LICENSE: &std::ffi::CStr = c"Apache-2.0";

const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP_JA: u8 = 0x05;
const JMP_JEQ_K: u8 = 0x15;
const JMP32_JNE_K: u8 = 0x56;
const JMP_EXIT: u8 = 0x95;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

const DEVCG_DEV_BLOCK: i32 = 1;
const DEVCG_DEV_CHAR: i32 = 2;

/// A forward-jump assembler: labels are bound after the jumps that use them.
#[derive(Default)]
struct Asm {
    insns: Vec<BpfInsn>,
    fixups: Vec<(usize, usize)>,
    labels: Vec<usize>,
}

impl Asm {
    fn emit(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.insns.push(BpfInsn::new(code, dst, src, off, imm));
    }

    fn label(&mut self) -> usize {
        self.labels.push(usize::MAX);
        self.labels.len() - 1
    }

    fn bind(&mut self, label: usize) {
        self.labels[label] = self.insns.len();
    }

    fn jump(&mut self, code: u8, dst: u8, imm: i32, label: usize) {
        self.fixups.push((self.insns.len(), label));
        self.emit(code, dst, 0, 0, imm);
    }

    fn finish(mut self) -> Vec<BpfInsn> {
        for (at, label) in self.fixups {
            let target = self.labels[label];
            debug_assert!(
                target != usize::MAX && target > at,
                "unbound or backward label"
            );
            // Programs are far below 32k instructions (rules are few), checked in program().
            self.insns[at].off = (target - at - 1) as i16;
        }
        self.insns
    }
}

/// Most rules a program may hold: keeps every jump within i16 range.
pub const MAX_RULES: usize = 1000;

/// Generates the device program for `rules`. Callers keep the list to at
/// most [`MAX_RULES`] (validation refuses longer lists), so that every jump
/// offset fits the instruction's 16 bits.
pub fn program(rules: &[DeviceRule]) -> Vec<BpfInsn> {
    debug_assert!(rules.len() <= MAX_RULES);
    let mut asm = Asm::default();
    asm.emit(LDX_MEM_W, R2, R1, 0, 0);
    asm.emit(ALU32_AND_K, R2, 0, 0, 0xffff);
    asm.emit(LDX_MEM_W, R3, R1, 0, 0);
    asm.emit(ALU32_RSH_K, R3, 0, 0, 16);
    asm.emit(LDX_MEM_W, R4, R1, 4, 0);
    asm.emit(LDX_MEM_W, R5, R1, 8, 0);
    for bit in [access::MKNOD, access::READ, access::WRITE] {
        let bit_done = asm.label();
        asm.emit(ALU32_MOV_X, R1, R3, 0, 0);
        asm.emit(ALU32_AND_K, R1, 0, 0, i32::from(bit));
        asm.jump(JMP_JEQ_K, R1, 0, bit_done);
        for rule in rules.iter().rev().filter(|r| r.access & bit != 0) {
            emit_rule(&mut asm, rule, bit_done);
            if rule.kind == DeviceKind::All {
                break;
            }
        }
        asm.bind(bit_done);
    }
    asm.emit(ALU64_MOV_K, R0, 0, 0, 1);
    asm.emit(JMP_EXIT, 0, 0, 0, 0);
    asm.finish()
}

fn emit_rule(asm: &mut Asm, rule: &DeviceRule, bit_done: usize) {
    let next_rule = asm.label();
    let mut conditional = false;
    let kind = match rule.kind {
        DeviceKind::All => None,
        DeviceKind::Char => Some(DEVCG_DEV_CHAR),
        DeviceKind::Block => Some(DEVCG_DEV_BLOCK),
    };
    if let Some(kind) = kind {
        asm.jump(JMP32_JNE_K, R2, kind, next_rule);
        conditional = true;
        // Device numbers are compared as 32-bit patterns (JMP32).
        if let Some(major) = rule.major {
            asm.jump(JMP32_JNE_K, R4, major as i32, next_rule);
        }
        if let Some(minor) = rule.minor {
            asm.jump(JMP32_JNE_K, R5, minor as i32, next_rule);
        }
    }
    if rule.allow {
        asm.jump(JMP_JA, 0, 0, bit_done);
    } else {
        asm.emit(ALU64_MOV_K, R0, 0, 0, 0);
        asm.emit(JMP_EXIT, 0, 0, 0, 0);
    }
    if conditional {
        asm.bind(next_rule);
    } else {
        // Nothing jumps here; bind it anyway so finish() sees every label bound.
        asm.labels[next_rule] = asm.insns.len();
    }
}

#[cfg(test)]
#[path = "ebpf_tests.rs"]
mod tests;
