//! Black-box OCI runtime tests (being written).
