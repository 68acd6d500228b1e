//! After the pool is built, the raw strings it copied (module, file, format,
//! class of every record, in `.rodata`) can leave the process's resident
//! memory: their pages are clean pages of a read-only private file mapping,
//! so `madvise(MADV_DONTNEED)` unmaps them and the next access, if any,
//! faults the same bytes back in from the file.
//!
//! Only pages that are provably clean file pages are dropped: inside a
//! `r--p` mapping of a file, and marked file-backed (not a private copy) in
//! `/proc/self/pagemap`. That excludes `.data.rel.ro` (the `Body` structs,
//! whose pointers the dynamic loader relocated: their private copies must
//! stay), and every written page.
//!
//! "The same bytes fault back in" holds only if nobody can change the file
//! under the mapping, so the mapping must also be the main executable's own
//! file on a local filesystem:
//! - a shared library can be rewritten in place while it is mapped (an
//!   installer that opens it with `O_TRUNC` and writes): a dropped page
//!   then faults in the new bytes (invalid strings) or, past the new end of
//!   the file, SIGBUS. The kernel refuses writes to a running executable
//!   (`ETXTBSY`), not to a mapped library.
//! - on NFS, another client can rewrite the file (no `ETXTBSY` across
//!   machines); on FUSE (sshfs, virtiofs...) the daemon serves the refault
//!   and can return anything, or fail with SIGBUS.
//!
//! Anywhere else the pages stay: the memory figures are those of
//! `DYNDBG_POOL=keep`. `MADV_COLD` was the other choice (it never drops
//! data, only ages pages), but it frees nothing until the system is under
//! pressure, which the kernel already does for clean `.rodata` pages on its
//! own: dropping pages of a file that cannot change keeps the measured
//! saving (1.6 MiB on the generated test program) where it is safe.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;

const PAGE: usize = 4096;

/// pagemap: bit 63 present, bit 61 file-page or shared-anon.
const PRESENT: u64 = 1 << 63;
const FILE_PAGE: u64 = 1 << 61;

/// `statfs` `f_type` values (`linux/magic.h`, and ZFS's own) of local
/// filesystems, whose files change only through this kernel: a running
/// executable on them cannot be rewritten (`ETXTBSY`). Network and FUSE
/// filesystems are not here.
const LOCAL_FILESYSTEMS: &[u32] = &[
    0xEF53,      // ext2, ext3, ext4
    0x5846_5342, // xfs
    0x9123_683E, // btrfs
    0xF2F5_2010, // f2fs
    0xCA45_1A4E, // bcachefs
    0x2FC1_2FC1, // zfs
    0x0102_1994, // tmpfs
    0x8584_58F6, // ramfs
    0x794C_7630, // overlayfs (container images): maps the underlying file
    0x7371_7368, // squashfs (read-only)
    0xE0F5_E1E2, // erofs (read-only)
];

/// Whether a `statfs` `f_type` is a local filesystem.
pub(crate) fn is_local_filesystem(f_type: u32) -> bool {
    LOCAL_FILESYSTEMS.contains(&f_type)
}

/// The `r--p` file mappings of `maps` (the text of `/proc/self/maps`) whose
/// pages may be dropped: those of the file `exe` (the main executable's
/// path, as `/proc/self/exe` reads), when `exe_is_local` (its filesystem is
/// local). `(start, end)`.
pub(crate) fn droppable_mappings(
    maps: &str,
    exe: &OsStr,
    exe_is_local: bool,
) -> Vec<(usize, usize)> {
    if !exe_is_local || exe.is_empty() {
        return Vec::new();
    }
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(6, |c: char| c.is_ascii_whitespace());
            let range = fields.next()?;
            let perms = fields.next()?;
            let _offset = fields.next()?;
            let _dev = fields.next()?;
            let inode = fields.next()?;
            // The path is what is left after the padding.
            let path = fields
                .next()?
                .trim_start_matches(|c: char| c.is_ascii_whitespace());
            if perms != "r--p" || inode == "0" || path.as_bytes() != exe.as_bytes() {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect()
}

/// The main executable's path and whether it is on a local filesystem.
fn main_executable() -> Option<(std::ffi::OsString, bool)> {
    let path = std::fs::read_link("/proc/self/exe").ok()?.into_os_string();
    // The file itself (even if renamed or deleted since), not a path.
    let file = File::open("/proc/self/exe").ok()?;
    Some((path, file_is_local(&file)))
}

fn file_is_local(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: the descriptor is open for the whole call and `st` is a
    // writable statfs buffer; fstatfs fills it on success.
    if unsafe { libc::fstatfs(file.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstatfs returned 0, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    // f_type's width and sign differ between libcs and targets; the magic
    // numbers are 32-bit, so the low 32 bits are the whole value.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let f_type = st.f_type as u32;
    is_local_filesystem(f_type)
}

/// The pages holding any byte of `ranges` (start, len), sorted, unique.
pub(crate) fn pages(ranges: impl Iterator<Item = (usize, usize)>) -> Vec<usize> {
    let mut pages = Vec::new();
    for (start, len) in ranges {
        if len == 0 {
            continue;
        }
        let mut p = start & !(PAGE - 1);
        while p < start + len {
            pages.push(p);
            p += PAGE;
        }
    }
    pages.sort_unstable();
    pages.dedup();
    pages
}

/// Drops the clean file pages among `pages`; returns the bytes dropped.
pub(crate) fn drop_clean_file_pages(pages: &[usize]) -> usize {
    let Ok(pagemap) = File::open("/proc/self/pagemap") else {
        return 0;
    };
    let Some((exe, exe_is_local)) = main_executable() else {
        return 0;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let maps = droppable_mappings(&maps, &exe, exe_is_local);
    let mut dropped = 0;
    let mut run: Option<(usize, usize)> = None;
    let mut flush = |run: &mut Option<(usize, usize)>| {
        if let Some((start, len)) = run.take() {
            // SAFETY: [start, start+len) are whole pages of read-only private
            // mappings of the main executable's file, on a local filesystem,
            // that pagemap reports as file pages (never copied-on-write, so
            // never written or relocated): their bytes are the file's, and
            // the file cannot change while it runs (ETXTBSY). MADV_DONTNEED
            // only unmaps them; any later read faults the identical bytes
            // back in from the page cache, so every `&'static str` into
            // them stays valid.
            let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
            if rc == 0 {
                dropped += len;
            }
        }
    };
    for &page in pages {
        let in_readonly_file = maps.iter().any(|&(s, e)| s <= page && page + PAGE <= e);
        let mut entry = [0u8; 8];
        let clean_file_page = in_readonly_file
            && pagemap
                .read_exact_at(&mut entry, (page / PAGE * 8) as u64)
                .is_ok()
            && {
                let bits = u64::from_le_bytes(entry);
                bits & PRESENT != 0 && bits & FILE_PAGE != 0
            };
        if !clean_file_page {
            flush(&mut run);
            continue;
        }
        run = match run {
            Some((start, len)) if start + len == page => Some((start, len + PAGE)),
            other => {
                let mut other = other;
                flush(&mut other);
                Some((page, PAGE))
            }
        };
    }
    flush(&mut run);
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0000000-55d0c0010000 r--p 00000000 fd:01 1234                       /opt/app/bin/server
55d0c0010000-55d0c0050000 r-xp 00010000 fd:01 1234                       /opt/app/bin/server
55d0c0050000-55d0c0060000 r--p 00050000 fd:01 1234                       /opt/app/bin/server
55d0c0060000-55d0c0062000 rw-p 00060000 fd:01 1234                       /opt/app/bin/server
55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]
7f0000000000-7f0000020000 r--p 00000000 fd:01 5678                       /opt/app/lib/libplugin.so
7f0000100000-7f0000110000 r--p 00000000 00:2f 91                         /mnt/nfs/bin/server
7f0000200000-7f0000201000 r--p 00000000 00:00 0 
7f0000300000-7f0000301000 r--p 00000000 fd:01 1234                       /opt/app/bin/server-old
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn only_read_only_mappings_of_the_main_executable_are_droppable() {
        let exe = OsStr::new("/opt/app/bin/server");
        assert_eq!(
            droppable_mappings(MAPS, exe, true),
            [
                (0x55d0_c000_0000, 0x55d0_c001_0000),
                (0x55d0_c005_0000, 0x55d0_c006_0000)
            ]
        );
        // The same executable on a network or FUSE filesystem: nothing.
        assert!(droppable_mappings(MAPS, exe, false).is_empty());
        // A program whose strings are in a library (a plugin): the
        // library's mapping is never droppable.
        let lib_pages = droppable_mappings(MAPS, OsStr::new("/opt/app/bin/other"), true);
        assert!(lib_pages.is_empty(), "{lib_pages:x?}");
        assert!(droppable_mappings(MAPS, OsStr::new(""), true).is_empty());
        // A deleted executable keeps its " (deleted)" path on both sides.
        let deleted = "7f0000000000-7f0000001000 r--p 00000000 fd:01 1234    /x/app (deleted)\n";
        assert_eq!(
            droppable_mappings(deleted, OsStr::new("/x/app (deleted)"), true),
            [(0x7f00_0000_0000, 0x7f00_0000_1000)]
        );
    }

    #[test]
    fn local_filesystems_are_told_from_network_and_fuse_ones() {
        assert!(is_local_filesystem(0xEF53)); // ext4
        assert!(is_local_filesystem(0x5846_5342)); // xfs
        assert!(is_local_filesystem(0x0102_1994)); // tmpfs
        assert!(!is_local_filesystem(0x6969)); // nfs
        assert!(!is_local_filesystem(0x6573_5546)); // fuse (sshfs, virtiofs)
        assert!(!is_local_filesystem(0xFF53_4D42)); // cifs
        assert!(!is_local_filesystem(0x0102_1997)); // 9p
    }

    fn present(page: usize) -> bool {
        let pagemap = File::open("/proc/self/pagemap").unwrap();
        let mut entry = [0u8; 8];
        pagemap
            .read_exact_at(&mut entry, (page / PAGE * 8) as u64)
            .unwrap();
        u64::from_le_bytes(entry) & PRESENT != 0
    }

    #[test]
    fn a_mapping_that_is_not_the_main_executable_is_not_advised() {
        // A read-only private mapping of a file on a local filesystem,
        // exactly like a shared library's `.rodata`: clean file pages.
        let path = std::env::temp_dir().join(format!("dyndbg-resident-{}", std::process::id()));
        std::fs::write(&path, vec![b'x'; 4 * PAGE]).unwrap();
        let file = File::open(&path).unwrap();
        let len = 4 * PAGE;
        // SAFETY: a fresh read-only private mapping of a file we keep
        // open; unmapped below, and no reference into it outlives that.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        assert_ne!(addr, libc::MAP_FAILED);
        let start = addr as usize;
        for p in (start..start + len).step_by(PAGE) {
            // SAFETY: p is inside the mapping, which is readable.
            assert_eq!(unsafe { std::ptr::read_volatile(p as *const u8) }, b'x');
            assert!(present(p));
        }
        let pages: Vec<usize> = (start..start + len).step_by(PAGE).collect();
        assert_eq!(
            drop_clean_file_pages(&pages),
            0,
            "a foreign mapping was advised"
        );
        assert!(pages.iter().all(|&p| present(p)), "its pages were dropped");
        // SAFETY: the mapping made above, not used after this.
        assert_eq!(unsafe { libc::munmap(addr, len) }, 0);
        std::fs::remove_file(&path).unwrap();
    }

    /// Three pages of the test binary's own `.rodata`.
    static OWN: [u8; 3 * PAGE] = [7; 3 * PAGE];

    #[test]
    fn pages_of_the_main_executable_are_dropped() {
        let (_, local) = main_executable().unwrap();
        assert!(
            local,
            "this test needs the test binary on a local filesystem (it is: target/ on ext4 in CI)"
        );
        let pages = super::pages(std::iter::once((OWN.as_ptr() as usize, OWN.len())));
        let inner: Vec<usize> = pages[1..pages.len() - 1].to_vec();
        assert!(!inner.is_empty());
        for &p in &inner {
            // SAFETY: p is a page inside OWN, a readable static.
            let _ = unsafe { std::ptr::read_volatile(p as *const u8) };
        }
        assert_eq!(drop_clean_file_pages(&inner), inner.len() * PAGE);
        // The bytes fault back in unchanged.
        assert!(OWN.iter().all(|&b| b == 7));
    }
}
