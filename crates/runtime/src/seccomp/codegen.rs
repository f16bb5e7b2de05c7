//! Profile -> classic BPF, without libseccomp.
//!
//! ```text
//!   ld arch
//!   jeq AUDIT_ARCH_X86_64 ? ─► ld nr; binary search over number ranges ─► ret ACTION
//!   jeq AUDIT_ARCH_I386   ? ─► ld nr; binary search ...                   │ or ja rule block
//!   ret BAD_ARCH                                                           ▼
//!                                           per syscall with argument rules: each rule's
//!                                           conditions (64-bit values as two 32-bit
//!                                           compares), ret its action; last: ret default
//! ```
//!
//! Consecutive syscall numbers with the same unconditional outcome collapse
//! into one range, so a Docker-sized allow list becomes a few dozen ranges and
//! any syscall is decided after about seven comparisons. Semantics, per syscall:
//! an unconditional rule wins over conditional ones (as in libseccomp);
//! otherwise the first rule, in config order, whose conditions all hold.

use std::collections::HashMap;

use brig_sys::seccomp::SockFilter;

use super::abi::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, Abi, X32_SYSCALL_BIT};
use super::asm::{Asm, JMP_JEQ_K, JMP_JGE_K, JMP_JGT_K, Label, Target, TooLarge};
use super::profile::{BAD_ARCH, Cond, Op, Profile, Rule};

/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARGS: u32 = 16;

/// What a syscall number leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ret(u32),
    /// Index into the section's rule blocks.
    Block(usize),
}

/// The conditional rules of one syscall (indexes into the profile's rules),
/// tried in order. Syscalls with the same rules share one block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Block {
    wide: bool,
    rules: Vec<usize>,
}

/// Everything seen with one `seccomp_data.arch` value.
struct Section {
    /// Sorted, contiguous ranges covering 0..=u32::MAX: (first number, outcome).
    ranges: Vec<(u32, Outcome)>,
    blocks: Vec<Block>,
}

pub fn generate(profile: &Profile<'_>) -> Result<Vec<SockFilter>, TooLarge> {
    let mut asm = Asm::new();
    asm.load(ARCH);
    let native: Vec<Abi> = profile
        .abis
        .iter()
        .copied()
        .filter(|a| a.audit_arch() == AUDIT_ARCH_X86_64)
        .collect();
    let arches = [
        (AUDIT_ARCH_X86_64, native),
        (AUDIT_ARCH_I386, i386(profile)),
    ];
    for (audit_arch, abis) in arches {
        if abis.is_empty() {
            continue;
        }
        let other = asm.label();
        asm.jump(JMP_JEQ_K, audit_arch, Target::Next, Target::To(other));
        let section = section(profile, &abis);
        emit_section(&mut asm, &section, profile);
        asm.mark(other);
    }
    asm.ret(BAD_ARCH);
    asm.finish()
}

fn i386(profile: &Profile<'_>) -> Vec<Abi> {
    profile
        .abis
        .iter()
        .copied()
        .filter(|&a| a == Abi::X86)
        .collect()
}

fn section(profile: &Profile<'_>, abis: &[Abi]) -> Section {
    // Every (number, rule) pair as one sortable key: rules stay in config
    // order per number.
    let mut pairs: Vec<u64> = Vec::with_capacity(512);
    for &abi in abis {
        for (i, rule) in profile.rules.iter().enumerate() {
            for name in rule.names {
                if let Some(nr) = abi.number(name) {
                    pairs.push(u64::from(nr) << 32 | i as u64);
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut points: Vec<(u32, Outcome)> = Vec::with_capacity(pairs.len());
    let mut blocks: Vec<Block> = Vec::new();
    let mut known: HashMap<Block, usize> = HashMap::new();
    for group in pairs.chunk_by(|a, b| a >> 32 == b >> 32) {
        let nr = (group[0] >> 32) as u32;
        let rule = |p: &u64| &profile.rules[(p & 0xffff_ffff) as usize];
        let outcome = if let Some(p) = group.iter().find(|p| rule(p).conds.is_empty()) {
            Outcome::Ret(rule(p).action)
        } else {
            let mut rules: Vec<usize> = group.iter().map(|p| (p & 0xffff_ffff) as usize).collect();
            // Trailing rules that end in the default change nothing.
            while rules
                .last()
                .is_some_and(|&i| profile.rules[i].action == profile.default)
            {
                rules.pop();
            }
            if rules.is_empty() {
                Outcome::Ret(profile.default)
            } else {
                let wide = abis
                    .iter()
                    .find(|a| a.owns(nr))
                    .is_none_or(|a| a.wide_args());
                let block = Block { wide, rules };
                let index = *known.entry(block.clone()).or_insert_with(|| {
                    blocks.push(block);
                    blocks.len() - 1
                });
                Outcome::Block(index)
            }
        };
        points.push((nr, outcome));
    }
    let x32_missing = abis.contains(&Abi::X86_64) && !abis.contains(&Abi::X32);
    Section {
        ranges: ranges(points, profile.default, x32_missing),
        blocks,
    }
}

/// Ranges covering every number: the given points, the default between
/// them, and (for x86_64 without x32) BAD_ARCH for the x32 numbers.
fn ranges(points: Vec<(u32, Outcome)>, default: u32, x32_missing: bool) -> Vec<(u32, Outcome)> {
    let mut out: Vec<(u32, Outcome)> = vec![(0, Outcome::Ret(default))];
    for (nr, outcome) in points {
        if x32_missing && nr >= X32_SYSCALL_BIT {
            break;
        }
        push_range(&mut out, nr, outcome);
        if let Some(next) = nr.checked_add(1) {
            push_range(&mut out, next, Outcome::Ret(default));
        }
    }
    if x32_missing {
        push_range(&mut out, X32_SYSCALL_BIT, Outcome::Ret(BAD_ARCH));
    }
    out
}

/// Starts a range at `start`, replacing an empty one there and extending the
/// previous range instead when it returns the same.
fn push_range(out: &mut Vec<(u32, Outcome)>, start: u32, outcome: Outcome) {
    if out.last().is_some_and(|l| l.0 == start) {
        out.pop();
    }
    let extends = matches!(outcome, Outcome::Ret(_)) && out.last().map(|l| l.1) == Some(outcome);
    if !extends {
        out.push((start, outcome));
    }
}

fn emit_section(asm: &mut Asm, section: &Section, profile: &Profile<'_>) {
    asm.load(NR);
    let mut leaves = Leaves {
        blocks: section.blocks.iter().map(|_| asm.label()).collect(),
        rets: Vec::new(),
    };
    emit_tree(asm, &section.ranges, &mut leaves);
    // The tree's leaves: one shared `ret` per action, then the rule blocks.
    for (action, label) in std::mem::take(&mut leaves.rets) {
        asm.mark(label);
        asm.ret(action);
    }
    for (block, &label) in section.blocks.iter().zip(&leaves.blocks) {
        asm.mark(label);
        let rules: Vec<&Rule> = block.rules.iter().map(|&i| &profile.rules[i]).collect();
        let mut rest = &rules[..];
        while !rest.is_empty() {
            let run = value_set_len(rest, block.wide);
            if run > 1 {
                emit_value_set(asm, &rest[..run], block.wide);
            } else {
                emit_rule(asm, rest[0], block.wide);
            }
            rest = &rest[run.max(1)..];
        }
        asm.ret(profile.default);
    }
}

/// Where the tree's comparisons end up.
struct Leaves {
    blocks: Vec<Label>,
    /// Shared `ret ACTION` instructions, made on first use.
    rets: Vec<(u32, Label)>,
}

impl Leaves {
    fn target(&mut self, asm: &mut Asm, outcome: Outcome) -> Label {
        match outcome {
            Outcome::Block(i) => self.blocks[i],
            Outcome::Ret(action) => match self.rets.iter().find(|(a, _)| *a == action) {
                Some(&(_, label)) => label,
                None => {
                    let label = asm.label();
                    self.rets.push((action, label));
                    label
                }
            },
        }
    }
}

/// A balanced binary search over the ranges' first numbers; a comparison
/// whose side is a single range jumps straight to that range's leaf.
fn emit_tree(asm: &mut Asm, ranges: &[(u32, Outcome)], leaves: &mut Leaves) {
    if let [(_, outcome)] = ranges {
        let to = leaves.target(asm, *outcome);
        asm.ja(to);
        return;
    }
    let (left, right) = ranges.split_at(ranges.len() / 2);
    let mut side = |asm: &mut Asm, half: &[(u32, Outcome)]| match half {
        [(_, outcome)] => Some(Target::To(leaves.target(asm, *outcome))),
        _ => None,
    };
    let (left_leaf, right_leaf) = (side(asm, left), side(asm, right));
    match (left_leaf, right_leaf) {
        (Some(l), Some(r)) => asm.jump(JMP_JGE_K, right[0].0, r, l),
        (Some(l), None) => {
            asm.jump(JMP_JGE_K, right[0].0, Target::Next, l);
            emit_tree(asm, right, leaves);
        }
        (None, Some(r)) => {
            asm.jump(JMP_JGE_K, right[0].0, r, Target::Next);
            emit_tree(asm, left, leaves);
        }
        (None, None) => {
            let r = asm.label();
            asm.jump(JMP_JGE_K, right[0].0, Target::To(r), Target::Next);
            emit_tree(asm, left, leaves);
            asm.mark(r);
            emit_tree(asm, right, leaves);
        }
    }
}

/// How many leading rules test one argument for equality with different
/// values, with the same action (and, on 64-bit ABIs, the same high word):
/// such a run is one load and one compare per value.
fn value_set_len(rules: &[&Rule<'_>], wide: bool) -> usize {
    let key = |r: &Rule<'_>| match r.conds.as_slice() {
        [c] if c.op == Op::Eq => Some((c.index, r.action, if wide { c.value >> 32 } else { 0 })),
        _ => None,
    };
    match key(rules[0]) {
        None => 1,
        Some(k) => rules.iter().take_while(|r| key(r) == Some(k)).count(),
    }
}

fn emit_value_set(asm: &mut Asm, rules: &[&Rule<'_>], wide: bool) {
    let first = rules[0].conds[0];
    let lo_at = ARGS + 8 * u32::from(first.index);
    let (matched, none) = (asm.label(), asm.label());
    if wide {
        asm.load(lo_at + 4);
        asm.jump(
            JMP_JEQ_K,
            (first.value >> 32) as u32,
            Target::Next,
            Target::To(none),
        );
    }
    asm.load(lo_at);
    for rule in rules {
        asm.jump(
            JMP_JEQ_K,
            rule.conds[0].value as u32,
            Target::To(matched),
            Target::Next,
        );
    }
    asm.ja(none);
    asm.mark(matched);
    asm.ret(rules[0].action);
    asm.mark(none);
}

/// One rule: every condition must hold to reach `ret action`; any failing
/// condition skips to the next rule.
fn emit_rule(asm: &mut Asm, rule: &Rule<'_>, wide: bool) {
    let fail = asm.label();
    for cond in &rule.conds {
        emit_cond(asm, cond, wide, fail);
    }
    asm.ret(rule.action);
    asm.mark(fail);
}

fn emit_cond(asm: &mut Asm, cond: &Cond, wide: bool, fail: Label) {
    let lo_at = ARGS + 8 * u32::from(cond.index);
    let hi_at = lo_at + 4;
    let (v_hi, v_lo) = ((cond.value >> 32) as u32, cond.value as u32);
    let fail = Target::To(fail);
    if cond.op == Op::MaskedEq {
        let (w_hi, w_lo) = ((cond.value_two >> 32) as u32, cond.value_two as u32);
        if wide {
            masked_word(asm, hi_at, v_hi, w_hi, fail);
        }
        masked_word(asm, lo_at, v_lo, w_lo, fail);
        return;
    }
    if !wide {
        asm.load(lo_at);
        compare_low(asm, cond.op, v_lo, Target::Next, fail);
        return;
    }
    // 64 bits: the high words decide unless they are equal.
    let ok = asm.label();
    let pass = Target::To(ok);
    asm.load(hi_at);
    match cond.op {
        Op::Eq => asm.jump(JMP_JEQ_K, v_hi, Target::Next, fail),
        Op::Ne => asm.jump(JMP_JEQ_K, v_hi, Target::Next, pass),
        Op::Gt | Op::Ge => {
            asm.jump(JMP_JGT_K, v_hi, pass, Target::Next);
            asm.jump(JMP_JEQ_K, v_hi, Target::Next, fail);
        }
        Op::Lt | Op::Le => {
            asm.jump(JMP_JGT_K, v_hi, fail, Target::Next);
            asm.jump(JMP_JEQ_K, v_hi, Target::Next, pass);
        }
        Op::MaskedEq => unreachable!("handled above"),
    }
    asm.load(lo_at);
    compare_low(asm, cond.op, v_lo, Target::Next, fail);
    asm.mark(ok);
}

/// Jumps to `pass` when `A op v` holds (unsigned), else to `fail`.
fn compare_low(asm: &mut Asm, op: Op, v: u32, pass: Target, fail: Target) {
    match op {
        Op::Eq => asm.jump(JMP_JEQ_K, v, pass, fail),
        Op::Ne => asm.jump(JMP_JEQ_K, v, fail, pass),
        Op::Gt => asm.jump(JMP_JGT_K, v, pass, fail),
        Op::Ge => asm.jump(JMP_JGE_K, v, pass, fail),
        Op::Lt => asm.jump(JMP_JGE_K, v, fail, pass),
        Op::Le => asm.jump(JMP_JGT_K, v, fail, pass),
        Op::MaskedEq => unreachable!("masked compares are emitted by masked_word"),
    }
}

/// `(word & mask) == want`, or `fail`.
fn masked_word(asm: &mut Asm, at: u32, mask: u32, want: u32, fail: Target) {
    if want & !mask != 0 {
        // A bit outside the mask can never be seen set.
        asm.jump(JMP_JEQ_K, 0, fail, fail);
        return;
    }
    if mask == 0 {
        return; // 0 == 0 always holds
    }
    asm.load(at);
    if mask != u32::MAX {
        asm.and(mask);
    }
    asm.jump(JMP_JEQ_K, want, Target::Next, fail);
}
