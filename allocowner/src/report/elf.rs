//! Just enough ELF to symbolize offline: the GNU build-id note and the
//! loadable segments (to turn a runtime address into the address
//! `addr2line` expects). Reads the file with `std::fs`; no extra crate.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;
/// Notes larger than this are not build-ids: not read.
const MAX_NOTE_SEGMENT: u64 = 1 << 20;
/// More program headers than this is not a file we want to read.
const MAX_PHDRS: u64 = 4096;

/// A loadable segment: file bytes `offset..offset + filesz` are mapped at
/// virtual address `vaddr` (before the load bias is added).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) offset: u64,
    pub(crate) vaddr: u64,
    pub(crate) filesz: u64,
}

/// What one ELF file tells us.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ElfInfo {
    /// The GNU build-id, if the file has one.
    pub(crate) build_id: Option<Vec<u8>>,
    /// PT_LOAD segments in file order.
    pub(crate) segments: Vec<Segment>,
}

impl ElfInfo {
    /// The segment virtual address of file offset `offset`, if a loadable
    /// segment covers it.
    pub(crate) fn vaddr_of_offset(&self, offset: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| offset >= s.offset && offset - s.offset < s.filesz.max(1))
            .map(|s| s.vaddr + (offset - s.offset))
    }
}

/// Why a file could not be read as ELF.
#[derive(Debug)]
pub(crate) enum ElfError {
    Io(io::Error),
    NotElf,
    Unsupported(&'static str),
    Malformed(&'static str),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::Io(e) => write!(f, "cannot read: {e}"),
            ElfError::NotElf => f.write_str("not an ELF file (bad magic)"),
            ElfError::Unsupported(what) => write!(f, "unsupported ELF: {what}"),
            ElfError::Malformed(what) => write!(f, "malformed ELF: {what}"),
        }
    }
}

impl From<io::Error> for ElfError {
    fn from(e: io::Error) -> Self {
        ElfError::Io(e)
    }
}

#[derive(Clone, Copy)]
struct Decoder {
    is64: bool,
    little: bool,
}

impl Decoder {
    fn u16(self, b: &[u8], at: usize) -> Result<u16, ElfError> {
        let s: [u8; 2] = b
            .get(at..at + 2)
            .and_then(|s| s.try_into().ok())
            .ok_or(ElfError::Malformed("truncated field"))?;
        Ok(if self.little {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        })
    }

    fn u32(self, b: &[u8], at: usize) -> Result<u32, ElfError> {
        let s: [u8; 4] = b
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or(ElfError::Malformed("truncated field"))?;
        Ok(if self.little {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    }

    fn u64(self, b: &[u8], at: usize) -> Result<u64, ElfError> {
        let s: [u8; 8] = b
            .get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .ok_or(ElfError::Malformed("truncated field"))?;
        Ok(if self.little {
            u64::from_le_bytes(s)
        } else {
            u64::from_be_bytes(s)
        })
    }

    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(self, b: &[u8], at: usize) -> Result<u64, ElfError> {
        if self.is64 {
            self.u64(b, at)
        } else {
            self.u32(b, at).map(u64::from)
        }
    }
}

/// Reads the build-id and loadable segments of the ELF file at `path`.
pub(crate) fn read(path: &Path) -> Result<ElfInfo, ElfError> {
    let mut file = File::open(path)?;
    let mut ident = [0u8; 64];
    let n = read_up_to(&mut file, &mut ident)?;
    parse_header_and_segments(&ident[..n], |offset, len| {
        let mut buf = vec![0u8; len];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut buf)?;
        Ok(buf)
    })
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Parses the ELF header in `head` (the file's first bytes) and reads the
/// program headers and notes through `read_at(offset, len)`.
fn parse_header_and_segments(
    head: &[u8],
    mut read_at: impl FnMut(u64, usize) -> Result<Vec<u8>, ElfError>,
) -> Result<ElfInfo, ElfError> {
    if head.len() < 16 || &head[..4] != b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    let is64 = match head[4] {
        1 => false,
        2 => true,
        _ => return Err(ElfError::Unsupported("unknown class")),
    };
    let little = match head[5] {
        1 => true,
        2 => false,
        _ => return Err(ElfError::Unsupported("unknown byte order")),
    };
    let d = Decoder { is64, little };
    let (phoff, phentsize, phnum) = if is64 {
        (d.u64(head, 32)?, d.u16(head, 54)?, d.u16(head, 56)?)
    } else {
        (
            u64::from(d.u32(head, 28)?),
            d.u16(head, 42)?,
            d.u16(head, 44)?,
        )
    };
    let min_entsize = if is64 { 56 } else { 32 };
    if phnum == 0 {
        return Ok(ElfInfo::default());
    }
    if usize::from(phentsize) < min_entsize {
        return Err(ElfError::Malformed("program header entry too small"));
    }
    if u64::from(phnum) > MAX_PHDRS {
        return Err(ElfError::Malformed("too many program headers"));
    }
    let table = read_at(phoff, usize::from(phentsize) * usize::from(phnum))?;
    let mut info = ElfInfo::default();
    let mut notes = Vec::new();
    for i in 0..usize::from(phnum) {
        let at = i * usize::from(phentsize);
        let p_type = d.u32(&table, at)?;
        // ELF64: type, flags, offset, vaddr, paddr, filesz; ELF32: type,
        // offset, vaddr, paddr, filesz.
        let (offset, vaddr, filesz) = if is64 {
            (
                d.word(&table, at + 8)?,
                d.word(&table, at + 16)?,
                d.word(&table, at + 32)?,
            )
        } else {
            (
                d.word(&table, at + 4)?,
                d.word(&table, at + 8)?,
                d.word(&table, at + 16)?,
            )
        };
        match p_type {
            PT_LOAD => info.segments.push(Segment {
                offset,
                vaddr,
                filesz,
            }),
            PT_NOTE if filesz <= MAX_NOTE_SEGMENT => notes.push((offset, filesz)),
            _ => {}
        }
    }
    for (offset, len) in notes {
        let bytes = read_at(offset, len as usize)?;
        if let Some(id) = find_build_id(d, &bytes)? {
            info.build_id = Some(id);
            break;
        }
    }
    Ok(info)
}

/// Walks the notes of one PT_NOTE segment for `NT_GNU_BUILD_ID` named "GNU".
fn find_build_id(d: Decoder, notes: &[u8]) -> Result<Option<Vec<u8>>, ElfError> {
    let align4 = |n: usize| (n + 3) & !3;
    let mut at = 0;
    while at + 12 <= notes.len() {
        let namesz = d.u32(notes, at)? as usize;
        let descsz = d.u32(notes, at + 4)? as usize;
        let ntype = d.u32(notes, at + 8)?;
        let name_at = at + 12;
        let desc_at = name_at
            .checked_add(align4(namesz))
            .ok_or(ElfError::Malformed("note name size"))?;
        let end = desc_at
            .checked_add(align4(descsz))
            .ok_or(ElfError::Malformed("note size"))?;
        if desc_at + descsz > notes.len() {
            return Err(ElfError::Malformed("note runs past its segment"));
        }
        if ntype == NT_GNU_BUILD_ID && notes.get(name_at..name_at + namesz) == Some(b"GNU\0") {
            return Ok(Some(notes[desc_at..desc_at + descsz].to_vec()));
        }
        at = end;
    }
    Ok(None)
}

/// A function symbol: `start..start + size` (file virtual addresses) and
/// its (mangled) name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Symbol {
    pub(crate) start: u64,
    pub(crate) size: u64,
    pub(crate) name: String,
}

const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const STT_FUNC: u8 = 2;
/// Symbol tables larger than this are not read.
const MAX_SYMTAB: u64 = 256 << 20;

/// Reads the function symbols of the ELF file at `path` from `.symtab`
/// (or `.dynsym` when stripped), sorted by address. The names come from
/// the linker, with their full paths, which line-tables-only debug info
/// lacks (it names functions without their module).
pub(crate) fn read_symbols(path: &Path) -> Result<Vec<Symbol>, ElfError> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 64];
    let n = read_up_to(&mut file, &mut head)?;
    let head = &head[..n];
    if head.len() < 52 || &head[..4] != b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    let d = Decoder {
        is64: head[4] == 2,
        little: head[5] == 1,
    };
    let (shoff, shentsize, shnum) = if d.is64 {
        (d.u64(head, 40)?, d.u16(head, 58)?, d.u16(head, 60)?)
    } else {
        (
            u64::from(d.u32(head, 32)?),
            d.u16(head, 46)?,
            d.u16(head, 48)?,
        )
    };
    let min_entsize = if d.is64 { 64 } else { 40 };
    if shnum == 0 || shoff == 0 {
        return Ok(Vec::new());
    }
    if usize::from(shentsize) < min_entsize {
        return Err(ElfError::Malformed("section header entry too small"));
    }
    let mut read_at = |offset: u64, len: u64| -> Result<Vec<u8>, ElfError> {
        if len > MAX_SYMTAB {
            return Err(ElfError::Unsupported("symbol table too large"));
        }
        let mut buf = vec![0u8; len as usize];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut buf)?;
        Ok(buf)
    };
    let table = read_at(shoff, u64::from(shentsize) * u64::from(shnum))?;
    // (type, link, offset, size, entsize) of section `i`.
    let section = |i: usize| -> Result<(u32, u32, u64, u64, u64), ElfError> {
        let at = i * usize::from(shentsize);
        if d.is64 {
            Ok((
                d.u32(&table, at + 4)?,
                d.u32(&table, at + 40)?,
                d.u64(&table, at + 24)?,
                d.u64(&table, at + 32)?,
                d.u64(&table, at + 56)?,
            ))
        } else {
            Ok((
                d.u32(&table, at + 4)?,
                d.u32(&table, at + 24)?,
                u64::from(d.u32(&table, at + 16)?),
                u64::from(d.u32(&table, at + 20)?),
                u64::from(d.u32(&table, at + 36)?),
            ))
        }
    };
    let mut chosen = None;
    for i in 0..usize::from(shnum) {
        let s = section(i)?;
        if s.0 == SHT_SYMTAB {
            chosen = Some(s);
            break;
        }
        if s.0 == SHT_DYNSYM && chosen.is_none() {
            chosen = Some(s);
        }
    }
    let Some((_, link, offset, size, entsize)) = chosen else {
        return Ok(Vec::new());
    };
    if link as usize >= usize::from(shnum) {
        return Err(ElfError::Malformed("symbol table links to no string table"));
    }
    let (_, _, str_off, str_size, _) = section(link as usize)?;
    let syms = read_at(offset, size)?;
    let strs = read_at(str_off, str_size)?;
    parse_symbols(d, &syms, &strs, entsize)
}

/// The function symbols of a symbol table `syms` whose names are in `strs`.
fn parse_symbols(
    d: Decoder,
    syms: &[u8],
    strs: &[u8],
    entsize: u64,
) -> Result<Vec<Symbol>, ElfError> {
    let sym_size = if d.is64 { 24 } else { 16 };
    if entsize < sym_size {
        return Err(ElfError::Malformed("symbol entry too small"));
    }
    let mut out = Vec::new();
    for i in 0..syms.len() / entsize as usize {
        let at = i * entsize as usize;
        let name_off = d.u32(syms, at)? as usize;
        let (info, value, sz) = if d.is64 {
            (syms[at + 4], d.u64(syms, at + 8)?, d.u64(syms, at + 16)?)
        } else {
            (
                syms[at + 12],
                u64::from(d.u32(syms, at + 4)?),
                u64::from(d.u32(syms, at + 8)?),
            )
        };
        if info & 0xf != STT_FUNC || value == 0 {
            continue;
        }
        let Some(name) = strs.get(name_off..) else {
            return Err(ElfError::Malformed("symbol name outside the string table"));
        };
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        out.push(Symbol {
            start: value,
            size: sz,
            name: String::from_utf8_lossy(&name[..end]).into_owned(),
        });
    }
    out.sort_by_key(|s| (s.start, std::cmp::Reverse(s.size)));
    Ok(out)
}

/// The function symbol of `symbols` (sorted by [`read_symbols`]) holding
/// file virtual address `addr`.
pub(crate) fn symbol_at(symbols: &[Symbol], addr: u64) -> Option<&Symbol> {
    let i = symbols.partition_point(|s| s.start <= addr);
    symbols[..i]
        .iter()
        .rev()
        .take(8)
        .find(|s| addr - s.start < s.size.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal little-endian ELF64 with one PT_LOAD and one PT_NOTE
    /// holding a build-id.
    fn tiny_elf(id: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
        f[56..58].copy_from_slice(&2u16.to_le_bytes()); // phnum
        let note_off = 64 + 2 * 56;
        let mut ph = |ty: u32, off: u64, vaddr: u64, sz: u64| {
            let mut p = vec![0u8; 56];
            p[..4].copy_from_slice(&ty.to_le_bytes());
            p[8..16].copy_from_slice(&off.to_le_bytes());
            p[16..24].copy_from_slice(&vaddr.to_le_bytes());
            p[32..40].copy_from_slice(&sz.to_le_bytes());
            f.extend_from_slice(&p);
        };
        let note_len = 16 + id.len().div_ceil(4) * 4;
        ph(PT_LOAD, 0, 0x40_0000, 0x1000);
        ph(PT_NOTE, note_off as u64, 0, note_len as u64);
        f.extend_from_slice(&4u32.to_le_bytes());
        f.extend_from_slice(&(id.len() as u32).to_le_bytes());
        f.extend_from_slice(&NT_GNU_BUILD_ID.to_le_bytes());
        f.extend_from_slice(b"GNU\0");
        f.extend_from_slice(id);
        while !f.len().is_multiple_of(4) {
            f.push(0);
        }
        f
    }

    fn parse(bytes: &[u8]) -> Result<ElfInfo, ElfError> {
        parse_header_and_segments(&bytes[..64.min(bytes.len())], |off, len| {
            bytes
                .get(off as usize..off as usize + len)
                .map(<[u8]>::to_vec)
                .ok_or(ElfError::Malformed("read past end"))
        })
    }

    #[test]
    fn reads_build_id_and_segments() {
        let info = parse(&tiny_elf(&[0xde, 0xad, 0xbe, 0xef, 0x01])).unwrap();
        assert_eq!(
            info.build_id.as_deref(),
            Some(&[0xde, 0xad, 0xbe, 0xef, 0x01][..])
        );
        assert_eq!(
            info.segments,
            [Segment {
                offset: 0,
                vaddr: 0x40_0000,
                filesz: 0x1000
            }]
        );
        assert_eq!(info.vaddr_of_offset(0x123), Some(0x40_0123));
        assert_eq!(info.vaddr_of_offset(0x1000), None);
    }

    #[test]
    fn rejects_non_elf_and_truncated_notes() {
        assert!(matches!(parse(b"#!/bin/sh\n"), Err(ElfError::NotElf)));
        let mut bad = tiny_elf(&[1, 2, 3, 4]);
        let len = bad.len();
        bad.truncate(len - 4);
        let err = parse(&bad).unwrap_err();
        assert!(err.to_string().contains("malformed ELF"), "{err}");
    }

    /// A function that keeps its own symbol: a test function may be
    /// inlined into the harness's closure in a release build.
    #[inline(never)]
    fn a_symbol_of_this_binary() -> usize {
        std::hint::black_box(7)
    }

    #[test]
    fn reads_this_test_binary() {
        assert_eq!(
            std::hint::black_box(a_symbol_of_this_binary as fn() -> usize)(),
            7
        );
        let exe = std::env::current_exe().unwrap();
        let info = read(&exe).unwrap();
        assert!(!info.segments.is_empty());
        let syms = read_symbols(&exe).unwrap();
        assert!(syms.windows(2).all(|w| w[0].start <= w[1].start));
        assert!(
            syms.iter()
                .any(|s| s.name.contains("a_symbol_of_this_binary"))
        );
    }

    #[test]
    fn symbol_lookup() {
        let s = |start, size, name: &str| Symbol {
            start,
            size,
            name: name.to_owned(),
        };
        let syms = [s(0x100, 0x10, "a"), s(0x110, 0x20, "b"), s(0x200, 0x8, "c")];
        assert_eq!(symbol_at(&syms, 0x10f).unwrap().name, "a");
        assert_eq!(symbol_at(&syms, 0x110).unwrap().name, "b");
        assert!(symbol_at(&syms, 0x130).is_none());
        assert!(symbol_at(&syms, 0x50).is_none());
    }
}
