//! The container's root filesystem: mounts, /dev, pivot_root, masked and
//! read-only paths. Runs in the container's init process, inside its new
//! mount namespace, before the user program is executed.
//!
//! Call order (from `process::init`):
//! 1. [`validate`] in the parent, before anything is created;
//! 2. [`prepare`] right after the mount namespace exists (host paths still visible);
//! 3. createContainer hooks run here (still before pivot);
//! 4. [`pivot`];
//! 5. [`finalize`] (masked/read-only paths, read-only root, sysctl).
//!
//! The console (`/dev/console` bind of the pty slave) is [`bind_console`].
