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
        (u64::from(d.u32(head, 28)?), d.u16(head, 42)?, d.u16(head, 44)?)
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
        while f.len() % 4 != 0 {
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
        assert_eq!(info.build_id.as_deref(), Some(&[0xde, 0xad, 0xbe, 0xef, 0x01][..]));
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

    #[test]
    fn reads_this_test_binary() {
        let exe = std::env::current_exe().unwrap();
        let info = read(&exe).unwrap();
        assert!(!info.segments.is_empty());
    }
}
