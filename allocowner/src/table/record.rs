//! One live allocation's record, and its two encodings: four words in the
//! hashed rows (two of the core client, two of the thread client), or 32
//! bits in a page slot (see [`super::pages`]).

use super::pages::{self, Small};
use crate::snapshot::StackHandle;

// A core row is two words.
// Word 0: address (48 bits) | distance from home (8, saturating) |
//         log2 of the alignment (6) | size bits 40..42 (2).
// Word 1: size bits 0..40 | stack handle (24 bits, see `pack_handle`).
pub(super) const ADDR_MASK: u64 = (1 << 48) - 1;
pub(super) const DIST_SHIFT: u32 = 48;
const ALIGN_SHIFT: u32 = 56;
pub(super) const SIZE_TOP_SHIFT: u32 = 62;
pub(super) const SIZE_LO_BITS: u32 = 40;
/// Largest size a record holds exactly; bigger sizes are kept as this.
pub(super) const MAX_SIZE: u64 = (1 << 42) - 1;
/// Stack handles are below 2^24 (see `limits::MAX_POOLS`); the special
/// handles at the top of `u32` are kept as the top of 24 bits.
pub(super) const HANDLE_MASK: u32 = (1 << 24) - 1;
pub(super) const SPECIAL_FLOOR: u32 = HANDLE_MASK - 15;

/// One live allocation's record, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) addr: usize,
    pub(crate) size: usize,
    pub(crate) align: usize,
    pub(crate) handle: StackHandle,
    /// OS thread id and nanoseconds since the epoch (thread client), or 0.
    pub(crate) tid: u64,
    pub(crate) ts: u64,
}

/// What [`super::Table::resize`] did with the record of the old address.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resized {
    /// There was none.
    Untracked,
    /// It stays: the block did not move (its size is updated), or the
    /// reallocation failed (unchanged).
    Kept,
    /// The block moved: the record, as it was, is out of the table, for
    /// the caller to insert at the new address.
    Moved(Record),
}

/// The address a row's word 0 is the record of (its key).
#[inline]
pub(super) fn key(w0: u64) -> u64 {
    w0 & ADDR_MASK
}

/// A size as a change to live bytes (sizes are below 2^63).
#[inline(always)]
pub(super) fn signed(size: usize) -> i64 {
    (size as u64).cast_signed()
}

#[inline]
pub(super) fn pack_handle(h: StackHandle) -> u64 {
    u64::from(h.raw() & HANDLE_MASK)
}

#[inline]
pub(super) fn unpack_handle(v: u64) -> StackHandle {
    let v = v as u32 & HANDLE_MASK;
    StackHandle::from_raw(if v >= SPECIAL_FLOOR {
        v | !HANDLE_MASK
    } else {
        v
    })
}

/// The packed handle and the size kept in a row's two words.
#[inline(always)]
pub(super) fn owner_of(w0: u64, w1: u64) -> (u32, i64) {
    let size = ((w0 >> SIZE_TOP_SHIFT) << SIZE_LO_BITS) | (w1 & ((1 << SIZE_LO_BITS) - 1));
    ((w1 >> SIZE_LO_BITS) as u32, size.cast_signed())
}

impl Record {
    /// The record as row words (distance from home 0).
    #[inline(always)]
    pub(super) fn encode(&self) -> [u64; 4] {
        let size = (self.size as u64).min(MAX_SIZE);
        let align_log2 = u64::from(self.align.max(1).trailing_zeros()).min(63);
        [
            (self.addr as u64)
                | (align_log2 << ALIGN_SHIFT)
                | ((size >> SIZE_LO_BITS) << SIZE_TOP_SHIFT),
            (size & ((1 << SIZE_LO_BITS) - 1)) | (pack_handle(self.handle) << SIZE_LO_BITS),
            self.tid,
            self.ts,
        ]
    }

    /// The record that row words `w` hold.
    pub(super) fn decode(w: &[u64; 4]) -> Record {
        let (handle, size) = owner_of(w[0], w[1]);
        Record {
            addr: key(w[0]) as usize,
            size: size as usize,
            align: 1usize << ((w[0] >> ALIGN_SHIFT) & 63),
            handle: unpack_handle(handle.into()),
            tid: w[2],
            ts: w[3],
        }
    }

    /// The page-slot value of the record, if it is small enough for one.
    #[inline(always)]
    pub(super) fn slot(&self) -> Option<u32> {
        let addr = self.addr as u64;
        let small = Small {
            h24: pack_handle(self.handle) as u32,
            size: self.size,
            align: self.align,
        };
        if pages::indexed(addr) {
            pages::encode(addr, small)
        } else {
            None
        }
    }

    /// The record that page-slot value `v` of `addr` holds.
    pub(super) fn from_slot(addr: u64, v: u32) -> Record {
        let s = pages::decode(v);
        Record {
            addr: addr as usize,
            size: s.size,
            align: s.align,
            handle: unpack_handle(s.h24.into()),
            tid: 0,
            ts: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rows::{dist_of, with_dist};
    use super::*;

    #[test]
    fn rows_round_trip() {
        for (size, align, handle) in [
            (1usize, 1usize, StackHandle::from_raw(0)),
            (
                MAX_SIZE as usize,
                1 << 29,
                StackHandle::from_raw((8190 << 11) | 2047),
            ),
            (12_345, 16, StackHandle::DUMMY),
            (7, 8, StackHandle::FAILURE),
            (0, 4096, StackHandle::EARLY),
            (1 << 41, 64, StackHandle::UNSAMPLED),
        ] {
            let r = Record {
                addr: 0x7fff_1234_5670,
                size,
                align,
                handle,
                tid: 9,
                ts: 10,
            };
            let mut w = r.encode();
            w[0] = with_dist(w[0], 200);
            assert_eq!(Record::decode(&w), r);
            assert_eq!(dist_of(w[0], 0, 1024), 200);
            let (packed, bytes) = owner_of(w[0], w[1]);
            assert_eq!(
                (unpack_handle(packed.into()), bytes),
                (handle, i64::try_from(size).unwrap())
            );
        }
    }

    #[test]
    fn slots_hold_small_records_only() {
        let r = Record {
            addr: 0x5555_0000_1010,
            size: 40,
            align: 8,
            handle: StackHandle::FAILURE,
            tid: 0,
            ts: 0,
        };
        let v = r.slot().unwrap();
        assert_eq!(Record::from_slot(r.addr as u64, v), r);
        assert_eq!(Record { size: 4000, ..r }.slot(), None, "too big");
        assert_eq!(Record { addr: 0x1008, ..r }.slot(), None, "not indexed");
    }
}
