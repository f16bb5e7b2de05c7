//! Black-box OCI runtime tests, run against the binary named by
//! `BRIG_TEST_RUNTIME` (`runc`, `crun`, `brig` or a path; default: the
//! workspace's brig-runtime). The tests live in `tests/`, one file per topic;
//! see `README.md` beside this crate for how to run them.
