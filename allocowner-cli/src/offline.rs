//! Offline symbolization of a raw dump's frames (`0xADDR (file+0xOFFSET)`):
//! the file's ELF symbol table names the function (with its full path, as
//! the in-process symbolizer does), its DWARF gives the line and the
//! functions inlined at the address.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use addr2line::gimli;
use allocowner::report::Frame;
use object::{Object, ObjectSection, ObjectSymbol};

type Reader = gimli::EndianSlice<'static, gimli::RunTimeEndian>;

/// One file's symbols and line tables.
struct Loaded {
    /// Function symbols: (address, size, demangled name), by address.
    symbols: Vec<(u64, u64, String)>,
    dwarf: Option<addr2line::Context<Reader>>,
}

/// Files opened so far, with why a file could not be used.
pub(crate) struct Offline {
    sysroot: Option<PathBuf>,
    files: HashMap<PathBuf, Result<Loaded, String>>,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

/// Reads `path` (kept for the life of the process: the line tables borrow
/// it) and checks its build-id against the dump's.
fn load(path: &Path, build_id: Option<&str>) -> Result<Loaded, String> {
    let data = std::fs::read(path).map_err(|e| crate::io_message(&e))?;
    let data: &'static [u8] = Box::leak(data.into_boxed_slice());
    let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
    if let Some(want) = build_id {
        let have = file.build_id().ok().flatten().map(hex);
        if have.as_deref() != Some(want) {
            return Err(format!(
                "build-id {} is not the dump's {want}",
                have.as_deref().unwrap_or("none")
            ));
        }
    }
    let mut symbols: Vec<(u64, u64, String)> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0)
        .filter_map(|s| Some((s.address(), s.size(), demangle(s.name().ok()?))))
        .collect();
    symbols.sort_by_key(|s| s.0);
    symbols.dedup_by_key(|s| s.0);
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let section = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
        let data = file
            .section_by_name(id.name())
            // Compressed debug sections are not read (no zlib here): no lines.
            .filter(|s| {
                s.compressed_file_range()
                    .is_ok_and(|r| r.format == object::CompressionFormat::None)
            })
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(gimli::EndianSlice::new(data, endian))
    };
    let dwarf = gimli::Dwarf::load(section)
        .ok()
        .and_then(|d| addr2line::Context::from_dwarf(d).ok());
    Ok(Loaded { symbols, dwarf })
}

impl Loaded {
    fn symbol_at(&self, addr: u64) -> Option<&str> {
        let i = self
            .symbols
            .partition_point(|s| s.0 <= addr)
            .checked_sub(1)?;
        let (start, size, name) = &self.symbols[i];
        (size == &0 || addr < start + size).then_some(name.as_str())
    }

    /// The frames at return address `file_addr` (an address in the file),
    /// innermost first, each with runtime address `addr`.
    fn frames(&self, addr: usize, file_addr: u64) -> Vec<Frame> {
        // A return address points after the call: look up the call.
        let probe = file_addr.saturating_sub(1);
        let mut out = Vec::new();
        if let Some(ctx) = &self.dwarf
            && let Ok(mut it) = ctx.find_frames(probe).skip_all_loads()
        {
            while let Ok(Some(f)) = it.next() {
                let function = f
                    .function
                    .as_ref()
                    .and_then(|n| n.raw_name().ok())
                    .map(|n| demangle(&n));
                let (file, line) = f
                    .location
                    .map_or((None, None), |l| (l.file.map(str::to_owned), l.line));
                out.push(Frame {
                    addr,
                    function,
                    file,
                    line,
                    inlined: true,
                });
            }
        }
        if out.is_empty() {
            out.push(Frame::unresolved(addr));
        }
        let last = out.len() - 1;
        out[last].inlined = false;
        if let Some(name) = self.symbol_at(probe) {
            out[last].function = Some(name.to_owned());
        }
        out
    }
}

impl Offline {
    /// A symbolizer reading the files under `sysroot` when given (a
    /// dump's `/usr/lib/x.so` is then `SYSROOT/usr/lib/x.so`).
    pub(crate) fn new(sysroot: Option<PathBuf>) -> Offline {
        Offline {
            sysroot,
            files: HashMap::new(),
        }
    }

    /// The frames of a raw frame at `addr`, `file_addr` in the module
    /// `path` (whose build-id the dump gives), or why the module cannot
    /// be read (said once per module: `Err` only the first time).
    pub(crate) fn resolve(
        &mut self,
        path: &Path,
        build_id: Option<&str>,
        addr: usize,
        file_addr: u64,
    ) -> Result<Option<Vec<Frame>>, String> {
        if !self.files.contains_key(path) {
            let local = match &self.sysroot {
                Some(root) => root.join(path.strip_prefix("/").unwrap_or(path)),
                None => path.to_path_buf(),
            };
            let loaded = load(&local, build_id).map_err(|e| format!("{}: {e}", local.display()));
            let first_error = loaded.as_ref().err().cloned();
            self.files.insert(path.to_path_buf(), loaded);
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Ok(match &self.files[path] {
            Ok(l) => Some(l.frames(addr, file_addr)),
            Err(_) => None,
        })
    }
}
