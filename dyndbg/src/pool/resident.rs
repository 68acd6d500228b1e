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

use std::fs::File;
use std::os::unix::fs::FileExt;

const PAGE: usize = 4096;

/// pagemap: bit 63 present, bit 61 file-page or shared-anon.
const PRESENT: u64 = 1 << 63;
const FILE_PAGE: u64 = 1 << 61;

/// Read-only private file mappings: `(start, end)`.
fn readonly_file_mappings() -> Vec<(usize, usize)> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let _offset = fields.next()?;
            let _dev = fields.next()?;
            let inode = fields.next()?;
            if perms != "r--p" || inode == "0" {
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
    let maps = readonly_file_mappings();
    let mut dropped = 0;
    let mut run: Option<(usize, usize)> = None;
    let mut flush = |run: &mut Option<(usize, usize)>| {
        if let Some((start, len)) = run.take() {
            // SAFETY: [start, start+len) are whole pages of read-only private
            // file mappings that pagemap reports as file pages (never
            // copied-on-write, so never written or relocated): their bytes
            // are the file's. MADV_DONTNEED only unmaps them; any later
            // read faults the identical bytes back in from the page cache,
            // so every `&'static str` into them stays valid.
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
