//! Writing file contents: holes stay holes (blocks of zeros are skipped,
//! not written), so sparse files stay sparse.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

const BLOCK: usize = 4096;

/// Copies `src` into the new, empty `file`; returns the bytes copied.
pub(crate) fn write_sparse(file: &File, src: &mut impl Read, buf: &mut [u8]) -> io::Result<u64> {
    let mut offset: u64 = 0;
    let mut written_end: u64 = 0;
    loop {
        let n = fill(src, buf)?;
        if n == 0 {
            break;
        }
        let data = &buf[..n];
        let mut i = 0;
        while i < n {
            if is_zero(&data[i..(i + BLOCK).min(n)]) {
                i = (i + BLOCK).min(n);
                continue;
            }
            let start = i;
            while i < n && !is_zero(&data[i..(i + BLOCK).min(n)]) {
                i = (i + BLOCK).min(n);
            }
            file.write_all_at(&data[start..i], offset + start as u64)?;
            written_end = offset + i as u64;
        }
        offset += n as u64;
    }
    if written_end < offset {
        // The file ends in a hole: give it its full length.
        file.set_len(offset)?;
    }
    Ok(offset)
}

/// Reads until `buf` is full or the source ends, so blocks stay aligned.
fn fill(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn is_zero(block: &[u8]) -> bool {
    let mut words = block.chunks_exact(16);
    let body = words.all(|w| <[u8; 16]>::try_from(w).is_ok_and(|a| u128::from_ne_bytes(a) == 0));
    body && words.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_are_skipped_and_length_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        let mut data = vec![0u8; 1 << 20];
        data[100] = 1;
        data[(1 << 20) - 1] = 0;
        let mut buf = vec![0u8; 64 << 10];
        let n = write_sparse(&file, &mut data.as_slice(), &mut buf).unwrap();
        assert_eq!(n, 1 << 20);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        use std::os::unix::fs::MetadataExt;
        assert!(
            file.metadata().unwrap().blocks() * 512 <= 64 << 10,
            "mostly a hole"
        );
    }
}
