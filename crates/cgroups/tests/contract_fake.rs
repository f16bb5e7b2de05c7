//! Every backend passes the contract suite on a fake tree.

mod common;

use std::path::PathBuf;

use brig_cgroups::{CgroupPath, HybridManager, Mounts, V1Manager, V2Manager};
use common::FakeTree;
use common::contract::{self, Fixture};

fn path(p: &str) -> CgroupPath {
    CgroupPath::parse(p).unwrap()
}

fn all_dirs(mounts: &Mounts, p: &str) -> Vec<PathBuf> {
    let rel = p.trim_start_matches('/');
    let mut dirs: Vec<PathBuf> = mounts.v1.iter().map(|m| m.mount_point.join(rel)).collect();
    dirs.extend(mounts.unified.iter().map(|u| u.mount_point.join(rel)));
    dirs
}

struct V1Fake(#[allow(dead_code)] FakeTree, Mounts);
impl Fixture for V1Fake {
    type M = V1Manager;
    fn manager(&self, p: &str) -> V1Manager {
        V1Manager::new(&self.1.v1, &path(p), None).unwrap()
    }
    fn dirs(&self, p: &str) -> Vec<PathBuf> {
        all_dirs(&self.1, p)
    }
}

struct V2Fake(#[allow(dead_code)] FakeTree, Mounts);
impl Fixture for V2Fake {
    type M = V2Manager;
    fn manager(&self, p: &str) -> V2Manager {
        V2Manager::new(self.1.unified.as_ref().unwrap(), &path(p), None).unwrap()
    }
    fn dirs(&self, p: &str) -> Vec<PathBuf> {
        all_dirs(&self.1, p)
    }
}

struct HybridFake(#[allow(dead_code)] FakeTree, Mounts);
impl Fixture for HybridFake {
    type M = HybridManager;
    fn manager(&self, p: &str) -> HybridManager {
        let unified = self.1.unified.as_ref().unwrap();
        HybridManager::new(
            V1Manager::new(&self.1.v1, &path(p), None).unwrap(),
            V2Manager::new(unified, &path(p), None).unwrap(),
            unified.controllers.clone(),
        )
    }
    fn dirs(&self, p: &str) -> Vec<PathBuf> {
        all_dirs(&self.1, p)
    }
}

#[test]
fn v1_backend_passes_the_contract_on_a_fake_tree() {
    let (tree, mounts) = FakeTree::v1();
    contract::run(&V1Fake(tree, mounts));
}

#[test]
fn v2_backend_passes_the_contract_on_a_fake_tree() {
    let (tree, mounts) = FakeTree::v2();
    contract::run(&V2Fake(tree, mounts));
}

#[test]
fn hybrid_backend_passes_the_contract_on_a_fake_tree() {
    let (tree, mounts) = FakeTree::hybrid();
    contract::run(&HybridFake(tree, mounts));
}
