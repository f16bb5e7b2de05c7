//! Giving freed heap memory back to the kernel.

/// Returns the C heap's free memory to the kernel (glibc's `malloc_trim`),
/// so a long-lived process (a container's monitor) keeps resident only what
/// it still uses. Does nothing with other C libraries.
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: malloc_trim only walks glibc's own heap structures under
        // its own lock and takes no pointer from us.
        unsafe { libc::malloc_trim(0) };
    }
}
