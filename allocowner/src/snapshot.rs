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

    /// The handle with raw value `raw` (for snapshots built by hand, or read
    /// back from a file). Values at or above `u32::MAX - 3` are the special
    /// handles ([`StackHandle::DUMMY`] and the rest).
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
}
