//! The zstd pool itself (the `pool` feature): the records' layout, the
//! dictionary, the blocks and their index.

use std::fmt;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::DecoderDictionary;

use super::{BodyView, CachedBody, raw_bytes};

/// Raw bytes per block. Measured on the 21,000-callsite fixture with the
/// dictionary (`cargo bench -p benches --bench pool` prints the sweep),
/// pool / raw: 4 KiB 0.112, 16 KiB 0.096, 64 KiB 0.090. 16 KiB: within 7%
/// of the best ratio while one body's lookup decompresses only ~16 KiB
/// (~25 µs).
pub(crate) const BLOCK_TARGET: usize = 16 * 1024;

/// Dictionary size. Measured on the fixture (pool / raw): none 0.114,
/// 16 KiB 0.098, 32 KiB 0.096, 64 KiB 0.099 (the dictionary outgrows what
/// it saves).
pub(crate) const DICT_MAX: usize = 32 * 1024;

/// zstd level. Measured: level 19 gains ~10% on level 3 but takes seconds
/// to build, at first use; level 3 builds in ~50 ms.
pub(crate) const LEVEL: i32 = 3;

/// Blocks decompressed since the start: how tests check that an enabled
/// print never decompresses.
pub(crate) static BLOCKS_READ: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// The parameters of a pool, for the measurements of the block size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) block_target: usize,
    pub(crate) dict_max: usize,
    pub(crate) level: i32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            block_target: BLOCK_TARGET,
            dict_max: DICT_MAX,
            level: LEVEL,
        }
    }
}

/// A pool that cannot be built or read: only zstd failing (out of memory)
/// or a corrupted pool gets here.
#[derive(Debug)]
pub(crate) struct PoolError(pub(crate) String);

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Below this many sampled bytes there is no dictionary: a small program's
/// records do not pay back the dictionary's own size.
const DICT_MIN_SAMPLE: usize = 4 * 1024;

/// A guess of a serialized record's size, to choose the sampling stride
/// that spreads the dictionary's sample over the whole program.
const SAMPLE_RECORD_GUESS: usize = 128;

/// One entry of the index.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Start of the block's frame in `data`.
    offset: u32,
    /// Decompressed size.
    raw_len: u32,
    /// The first callsite of the block.
    first: u32,
}

/// The compressed bodies.
pub(crate) struct Pool {
    data: Box<[u8]>,
    blocks: Box<[Block]>,
    dict: Option<DecoderDictionary<'static>>,
    dict_len: usize,
    sites: usize,
    raw_body_bytes: usize,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("sites", &self.sites)
            .field("blocks", &self.blocks.len())
            .field("compressed", &self.data.len())
            .field("dict", &self.dict_len)
            .finish_non_exhaustive()
    }
}

fn zstd_err(what: &str) -> impl Fn(std::io::Error) -> PoolError + '_ {
    move |e| PoolError(format!("zstd {what}: {e}"))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Appends one record.
pub(crate) fn encode(out: &mut Vec<u8>, view: &BodyView<'_>) {
    put_varint(out, u64::from(view.line));
    for s in [
        view.module,
        view.file,
        view.function,
        view.format,
        view.class,
    ] {
        put_varint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

/// Reads the record at `*pos`, moving `*pos` past it.
fn decode<'a>(buf: &'a [u8], pos: &mut usize) -> Option<BodyView<'a>> {
    let line = u32::try_from(get_varint(buf, pos)?).ok()?;
    let mut parts = [""; 5];
    for part in &mut parts {
        let len = usize::try_from(get_varint(buf, pos)?).ok()?;
        let bytes = buf.get(*pos..pos.checked_add(len)?)?;
        *pos += len;
        *part = std::str::from_utf8(bytes).ok()?;
    }
    let [module, file, function, format, class] = parts;
    Some(BodyView {
        module,
        file,
        function,
        format,
        class,
        line,
    })
}

/// Hands the body of callsite `i` to the function it is given.
type BodySource<'a> = dyn FnMut(usize, &mut dyn FnMut(&BodyView<'_>)) + 'a;

/// The dictionary: an even sample of the records (every `stride`-th),
/// concatenated, up to `dict_max` bytes, used by zstd as raw content that
/// every block can match against. Measured against zstd's trainer on the
/// same sample: within 2% of its ratio, ~100 ms faster, and without the
/// trainer's ~6 MiB of scratch that glibc keeps mapped in a thread's arena.
fn sample_dictionary(sites: usize, body: &mut BodySource<'_>, dict_max: usize) -> Option<Vec<u8>> {
    let stride = (sites * SAMPLE_RECORD_GUESS).div_ceil(dict_max).max(1);
    let mut dict = Vec::with_capacity(dict_max + 1024);
    for i in (0..sites).step_by(stride) {
        body(i, &mut |view| encode(&mut dict, view));
        if dict.len() >= dict_max {
            break;
        }
    }
    dict.truncate(dict_max);
    (dict.len() >= DICT_MIN_SAMPLE).then_some(dict)
}

impl Pool {
    /// Serializes and compresses the bodies of callsites `0..sites`;
    /// `body(i, f)` calls `f` with the body of callsite `i`. Two passes:
    /// a sample to train the dictionary, then block after block, so the
    /// build never holds more than a block of serialized records.
    pub(crate) fn build(
        sites: usize,
        mut body: impl FnMut(usize, &mut dyn FnMut(&BodyView<'_>)),
        params: Params,
    ) -> Result<Pool, PoolError> {
        let dict = if params.dict_max > 0 {
            sample_dictionary(sites, &mut body, params.dict_max)
        } else {
            None
        };
        let mut compressor = match &dict {
            Some(d) => {
                Compressor::with_dictionary(params.level, d).map_err(zstd_err("dictionary"))?
            }
            None => Compressor::new(params.level).map_err(zstd_err("compressor"))?,
        };
        // Frames need no checksum (the pool never leaves memory) nor their
        // content size (the index has it) nor the dictionary id.
        for (param, what) in [
            (zstd::zstd_safe::CParameter::ChecksumFlag(false), "checksum"),
            (zstd::zstd_safe::CParameter::ContentSizeFlag(false), "size"),
            (zstd::zstd_safe::CParameter::DictIdFlag(false), "dict id"),
        ] {
            compressor.set_parameter(param).map_err(zstd_err(what))?;
        }
        let mut data = Vec::new();
        let mut blocks = Vec::new();
        let mut raw = Vec::with_capacity(params.block_target + 1024);
        let mut frame = Vec::new();
        let mut raw_body_bytes = 0;
        let mut first = 0;
        let mut flush = |raw: &mut Vec<u8>, first: usize| -> Result<(), PoolError> {
            frame.clear();
            frame.reserve(zstd::zstd_safe::compress_bound(raw.len()));
            compressor
                .compress_to_buffer(&raw[..], &mut frame)
                .map_err(zstd_err("compression"))?;
            blocks.push(Block {
                offset: data.len() as u32,
                raw_len: raw.len() as u32,
                first: first as u32,
            });
            data.extend_from_slice(&frame);
            raw.clear();
            Ok(())
        };
        for i in 0..sites {
            body(i, &mut |view| {
                raw_body_bytes += raw_bytes(view);
                encode(&mut raw, view);
            });
            if raw.len() >= params.block_target || i + 1 == sites {
                flush(&mut raw, first)?;
                first = i + 1;
            }
        }
        Ok(Pool {
            data: data.into_boxed_slice(),
            blocks: blocks.into_boxed_slice(),
            dict_len: dict.as_ref().map_or(0, Vec::len),
            dict: dict.as_deref().map(DecoderDictionary::copy),
            sites,
            raw_body_bytes,
        })
    }

    pub(crate) fn raw_body_bytes(&self) -> usize {
        self.raw_body_bytes
    }

    /// Compressed frames, index and dictionary: all the pool holds.
    pub(crate) fn bytes(&self) -> usize {
        self.data.len() + std::mem::size_of_val(&*self.blocks) + self.dict_len
    }

    pub(crate) fn blocks(&self) -> usize {
        self.blocks.len()
    }

    fn decompressor(&self) -> Result<Decompressor<'_>, PoolError> {
        match &self.dict {
            Some(d) => Decompressor::with_prepared_dictionary(d),
            None => Decompressor::new(),
        }
        .map_err(zstd_err("decompressor"))
    }

    fn frame(&self, b: usize) -> &[u8] {
        let start = self.blocks[b].offset as usize;
        let end = self
            .blocks
            .get(b + 1)
            .map_or(self.data.len(), |n| n.offset as usize);
        &self.data[start..end]
    }

    fn block_end(&self, b: usize) -> usize {
        self.blocks
            .get(b + 1)
            .map_or(self.sites, |n| n.first as usize)
    }

    /// Decompresses block `b` into `buf` and calls `f` for each of its
    /// records with the callsite's index.
    fn read_block(
        &self,
        dec: &mut Decompressor<'_>,
        buf: &mut Vec<u8>,
        b: usize,
        f: &mut dyn FnMut(usize, &BodyView<'_>),
    ) -> Result<(), PoolError> {
        let block = self.blocks[b];
        BLOCKS_READ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        buf.clear();
        buf.reserve(block.raw_len as usize);
        let n = dec
            .decompress_to_buffer(self.frame(b), buf)
            .map_err(zstd_err("decompression"))?;
        if n != block.raw_len as usize {
            return Err(PoolError(format!(
                "pool block {b}: {n} bytes, index says {}",
                block.raw_len
            )));
        }
        let mut pos = 0;
        for i in block.first as usize..self.block_end(b) {
            let view = decode(buf, &mut pos)
                .ok_or_else(|| PoolError(format!("pool block {b}: bad record {i}")))?;
            f(i, &view);
        }
        Ok(())
    }

    /// Calls `f` for every body in order, one block decompressed at a time.
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, &BodyView<'_>)) {
        let mut dec = self
            .decompressor()
            .unwrap_or_else(|e| panic!("dyndbg: {e}"));
        let mut buf = Vec::new();
        for b in 0..self.blocks.len() {
            self.read_block(&mut dec, &mut buf, b, &mut f)
                .unwrap_or_else(|e| panic!("dyndbg: {e}"));
        }
    }

    /// The body of callsite `index`, decompressing only its block.
    pub(crate) fn get(&self, index: usize) -> CachedBody {
        assert!(index < self.sites, "callsite {index} out of the pool");
        let b = self
            .blocks
            .partition_point(|blk| blk.first as usize <= index)
            - 1;
        let mut dec = self
            .decompressor()
            .unwrap_or_else(|e| panic!("dyndbg: {e}"));
        let mut buf = Vec::new();
        let mut found = None;
        self.read_block(&mut dec, &mut buf, b, &mut |i, view| {
            if i == index {
                found = Some(CachedBody::new(view));
            }
        })
        .unwrap_or_else(|e| panic!("dyndbg: {e}"));
        found.expect("the block covers the index")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: usize) -> (String, String, String, String, String) {
        (
            format!("app::m{}", i / 50),
            format!("src/m{}/f{}.rs", i / 50, i / 7),
            format!("f{}", i / 3),
            format!("event {i} with \"quotes\", tabs\t and ünïcödé {{}}"),
            if i.is_multiple_of(11) {
                "NET".into()
            } else {
                String::new()
            },
        )
    }

    #[test]
    fn round_trips_every_record_in_order() {
        let owned: Vec<_> = (0..5000).map(sample).collect();
        let view = |i: usize| {
            let (m, f, func, fmt, c) = &owned[i];
            BodyView {
                module: m,
                file: f,
                function: func,
                format: fmt,
                class: c,
                line: i as u32 * 3 + 1,
            }
        };
        for params in [
            Params::default(),
            Params {
                block_target: 1,
                dict_max: 0,
                level: 1,
            },
        ] {
            let pool = Pool::build(owned.len(), |i, f| f(&view(i)), params).unwrap();
            let mut seen = 0;
            pool.for_each(|i, v| {
                assert_eq!(i, seen);
                assert_eq!(*v, view(i));
                seen += 1;
            });
            assert_eq!(seen, owned.len());
            for i in [0, 1, 777, 4999] {
                assert_eq!(pool.get(i).view(), view(i));
            }
            if params.block_target > 1 {
                assert!(pool.bytes() < pool.raw_body_bytes() / 3, "{pool:?}");
            } else {
                assert_eq!(pool.blocks(), owned.len());
            }
        }
    }

    #[test]
    fn empty_program_has_an_empty_pool() {
        let pool = Pool::build(0, |_, _| unreachable!(), Params::default()).unwrap();
        assert_eq!(pool.blocks(), 0);
        pool.for_each(|_, _| panic!("no records"));
    }

    #[test]
    fn corrupted_record_is_reported() {
        let mut buf = Vec::new();
        encode(
            &mut buf,
            &BodyView {
                module: "m",
                file: "f",
                function: "g",
                format: "x",
                class: "",
                line: 300,
            },
        );
        let mut pos = 0;
        assert!(decode(&buf, &mut pos).is_some());
        buf.truncate(buf.len() - 2);
        let mut pos = 0;
        assert!(decode(&buf, &mut pos).is_none());
    }
}
