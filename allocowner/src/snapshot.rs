//! A consistent copy of what the tracker knows, taken outside the allocator:
//! the input of every report. (Contract between the tracker and reports.)

use std::collections::HashMap;

/// A 32-bit handle to a deduplicated stack in the stack depot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct StackHandle(pub(crate) u32);

impl StackHandle {
    /// Allocations made by allocowner itself (the kernel's dummy handle).
    pub const DUMMY: StackHandle = StackHandle(u32::MAX);
    /// A stack the depot could not store (full, capped): the failure handle.
    pub const FAILURE: StackHandle = StackHandle(u32::MAX - 1);
    /// Live bytes allocated while tracking was off, as one estimated owner.
    pub const EARLY: StackHandle = StackHandle(u32::MAX - 2);
    /// In sampling mode, allocations whose stack was not captured.
    pub const UNSAMPLED: StackHandle = StackHandle(u32::MAX - 3);

    /// Marks the stack of sampled records in a snapshot (see
    /// [`StackHandle::is_sampled`]).
    const SAMPLED_BIT: u32 = 1 << 31;

    /// The handle with raw value `raw` (for snapshots built by hand, or read
    /// back from a file). Values at or above `u32::MAX - 3` are the special
    /// handles ([`StackHandle::DUMMY`] and the rest); below them, bit 31
    /// marks the stack of sampled records ([`StackHandle::is_sampled`]).
    pub const fn from_raw(raw: u32) -> StackHandle {
        StackHandle(raw)
    }

    /// The raw 32-bit value.
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// Whether this handle names a stored stack rather than a special owner.
    pub const fn is_stack(self) -> bool {
        self.0 < u32::MAX - 3
    }

    /// Whether this stack owns sampled records (sampled mode,
    /// `sample_bytes=N`): each stands for
    /// [`Snapshot::weight`] allocations. The same stack's records made in
    /// exact mode (weight 1) have another handle, without this bit, and
    /// the same frames.
    pub const fn is_sampled(self) -> bool {
        self.is_stack() && self.0 & Self::SAMPLED_BIT != 0
    }

    /// The handle with the sampled mark (for the tracker's snapshot).
    pub(crate) const fn with_sampled_mark(self) -> StackHandle {
        StackHandle(self.0 | Self::SAMPLED_BIT)
    }

    /// The depot's handle behind a snapshot's handle.
    pub(crate) const fn without_sampled_mark(self) -> StackHandle {
        if self.is_sampled() {
            StackHandle(self.0 & !Self::SAMPLED_BIT)
        } else {
            self
        }
    }
}

/// How owner stacks were captured: every report says which.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CaptureMode {
    /// Every allocation's stack, by walking frame pointers.
    FramePointers,
    /// Every `every`-th allocation's stack, with the unwinder (no frame
    /// pointers in the program).
    Sampling {
        /// One allocation in this many has its stack captured.
        every: u64,
    },
}

/// One live allocation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Allocation {
    /// Address returned to the program.
    pub addr: usize,
    /// Requested size in bytes.
    pub size: usize,
    /// Requested alignment.
    pub align: usize,
    /// The owner stack.
    pub stack: StackHandle,
    /// OS thread id of the allocating thread, when the thread client is on.
    pub thread: Option<u64>,
    /// Nanoseconds since tracking was enabled, when the thread client is on.
    pub timestamp_ns: Option<u64>,
}

/// One deduplicated stack with its live totals.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Stack {
    /// Its handle.
    pub handle: StackHandle,
    /// Return addresses, innermost first, allocowner's own frames removed.
    pub frames: Vec<usize>,
    /// Live allocations owned by this stack.
    pub live_count: u64,
    /// Live bytes owned by this stack.
    pub live_bytes: u64,
}

/// What the tracker knew at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// How stacks were captured.
    pub mode: CaptureMode,
    /// Live allocations (records in the side table).
    pub allocations: Vec<Allocation>,
    /// Stacks referenced by the allocations, by handle.
    pub stacks: HashMap<StackHandle, Stack>,
    /// Estimated live bytes allocated before tracking was enabled.
    pub early_bytes: u64,
    /// Bytes allocowner itself has mapped from the OS (side table, depot),
    /// never mixed into the program's figures.
    pub own_mapped_bytes: u64,
    /// The sampling period (`sample_bytes=N`: mean bytes between sampled
    /// allocations) of the sampled records, `None` if there are none
    /// (exact mode since tracking was last started). See
    /// [`Snapshot::sampling`].
    pub sample_bytes: Option<u64>,
}

/// Scaled live totals of one owner: in exact mode its record totals, in
/// sampled mode the sum of each record's [`Snapshot::weight`] (count) and
/// of weight × size (bytes), rounded.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Estimate {
    /// Estimated live allocations.
    pub count: u64,
    /// Estimated live bytes.
    pub bytes: u64,
}

impl Snapshot {
    /// The sampling period in bytes (`sample_bytes=N`) if sampled records
    /// are in this snapshot's program figures, else `None` (every record
    /// is one allocation). Records of a stack with
    /// [`StackHandle::is_sampled`] stand for [`Snapshot::weight`]
    /// allocations each; the others (exact mode, special owners) for one.
    pub fn sampling(&self) -> Option<u64> {
        self.sample_bytes.filter(|&n| n > 0)
    }

    /// How many allocations the record `a` stands for: 1 for an exact
    /// record; for a sampled one of `s` bytes at period `N`, the inverse
    /// of its probability of being sampled, `1 / (1 - exp(-s / N))` (as
    /// tcmalloc and pprof scale). Its bytes stand for `weight × s` bytes.
    pub fn weight(&self, a: &Allocation) -> f64 {
        match self.sampling() {
            Some(n) if a.stack.is_sampled() => {
                1.0 / crate::tracker::sampling::probability(a.size as u64, n)
            }
            _ => 1.0,
        }
    }

    /// The scaled live totals of every owner in [`Snapshot::stacks`], by
    /// handle (one pass over the allocations). For an exact owner they
    /// are its `live_count` and `live_bytes`.
    pub fn estimates(&self) -> HashMap<StackHandle, Estimate> {
        let mut sums: HashMap<StackHandle, (f64, f64)> = HashMap::new();
        if self.sampling().is_some() {
            for a in self.allocations.iter().filter(|a| a.stack.is_sampled()) {
                let w = self.weight(a);
                let e = sums.entry(a.stack).or_default();
                e.0 += w;
                e.1 += w * a.size as f64;
            }
        }
        self.stacks
            .iter()
            .map(|(&h, s)| {
                let e = match sums.get(&h) {
                    Some(&(c, b)) => Estimate {
                        count: c.round() as u64,
                        bytes: b.round() as u64,
                    },
                    None => Estimate {
                        count: s.live_count,
                        bytes: s.live_bytes,
                    },
                };
                (h, e)
            })
            .collect()
    }

    /// The scaled live totals of one owner (a pass over the allocations;
    /// for every owner at once, [`Snapshot::estimates`]). Zero for a
    /// handle not in [`Snapshot::stacks`].
    pub fn estimate(&self, handle: StackHandle) -> Estimate {
        let Some(s) = self.stacks.get(&handle) else {
            return Estimate::default();
        };
        if !(handle.is_sampled() && self.sampling().is_some()) {
            return Estimate {
                count: s.live_count,
                bytes: s.live_bytes,
            };
        }
        let (c, b) =
            self.allocations
                .iter()
                .filter(|a| a.stack == handle)
                .fold((0.0, 0.0), |(c, b), a| {
                    let w = self.weight(a);
                    (c + w, b + w * a.size as f64)
                });
        Estimate {
            count: c.round() as u64,
            bytes: b.round() as u64,
        }
    }
}

impl Stack {
    /// This owner's scaled live totals in `snapshot` (see
    /// [`Snapshot::estimate`]).
    pub fn estimated(&self, snapshot: &Snapshot) -> Estimate {
        snapshot.estimate(self.handle)
    }

    /// Estimated live allocations (see [`Snapshot::estimate`]).
    pub fn estimated_count(&self, snapshot: &Snapshot) -> u64 {
        self.estimated(snapshot).count
    }

    /// Estimated live bytes (see [`Snapshot::estimate`]).
    pub fn estimated_bytes(&self, snapshot: &Snapshot) -> u64 {
        self.estimated(snapshot).bytes
    }
}
