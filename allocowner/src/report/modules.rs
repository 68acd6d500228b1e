//! The module map: which file each code address belongs to, with the
//! file's build-id and load address, so raw addresses can be symbolized
//! offline when the running binary has no debug info.

use std::fmt;
use std::path::{Path, PathBuf};

use super::elf;

/// One mapped object (the executable, a shared library, the vDSO).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Path of the mapped file, or a pseudo name such as `[vdso]`.
    pub path: PathBuf,
    /// The GNU build-id (`.note.gnu.build-id`) in hex, if the file has one.
    pub build_id: Option<String>,
    /// The load bias: a runtime address minus it is the address
    /// `addr2line -e PATH` expects (0 for a non-PIE executable).
    pub load_address: usize,
    /// Mappings of the file: `(start, end, file offset)`.
    pub mappings: Vec<(usize, usize, u64)>,
    /// Why the file's ELF headers could not be read, if they could not.
    pub elf_error: Option<String>,
    segments: Option<elf::ElfInfo>,
}

impl Module {
    /// The address of runtime address `addr` inside this module's file, as
    /// `addr2line -e PATH` expects it, if a mapping of the module holds it.
    pub fn file_address(&self, addr: usize) -> Option<u64> {
        let &(start, _, offset) = self
            .mappings
            .iter()
            .find(|&&(start, end, _)| addr >= start && addr < end)?;
        let file_offset = (addr - start) as u64 + offset;
        match &self.segments {
            Some(info) if !info.segments.is_empty() => info.vaddr_of_offset(file_offset),
            _ => Some(addr.wrapping_sub(self.load_address) as u64),
        }
    }

    /// The file name without its directories, for short frame labels.
    pub fn file_name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// A module known from a saved dump: no ELF headers read, so a file
    /// address is the runtime address less `load_address`.
    pub(super) fn saved(
        path: PathBuf,
        build_id: Option<String>,
        load_address: usize,
        mappings: Vec<(usize, usize, u64)>,
    ) -> Module {
        Module {
            path,
            build_id,
            load_address,
            mappings,
            elf_error: None,
            segments: None,
        }
    }

    /// Whether this is a real file (not `[vdso]`, `[heap]`...).
    pub fn is_file(&self) -> bool {
        self.path.is_absolute()
    }
}

/// The code mappings of a process, grouped by file, from
/// `/proc/self/maps`.
///
/// ```
/// let text = "5581a0e00000-5581a0e01000 r--p 00000000 08:01 42 /usr/bin/prog\n\
///             5581a0e01000-5581a0e05000 r-xp 00001000 08:01 42 /usr/bin/prog\n";
/// let map = allocowner::report::ModuleMap::parse(text).unwrap();
/// let (module, addr) = map.lookup(0x5581a0e01234).unwrap();
/// assert_eq!(module.path.to_str(), Some("/usr/bin/prog"));
/// assert_eq!(module.load_address, 0x5581a0e00000);
/// // The file does not exist here, so the address is taken relative to the
/// // load address: what `addr2line -e /usr/bin/prog 0x1234` expects.
/// assert_eq!(addr, 0x1234);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleMap {
    modules: Vec<Module>,
}

/// A line of a maps file that could not be parsed (the parser is
/// allocowner's one `/proc/self/maps` parser, shared with the access
/// sampler).
pub use crate::maps::MapsError;

impl ModuleMap {
    /// Reads `/proc/self/maps` and the ELF headers (build-id, segments) of
    /// every mapped file. Linux only: elsewhere, an error.
    pub fn current() -> std::io::Result<ModuleMap> {
        crate::guard::inside(|| {
            let mut map = ModuleMap::from_mappings(crate::maps::read()?);
            map.read_elf_headers();
            Ok(map)
        })
    }

    /// Parses the text of a `/proc/PID/maps` file, keeping executable
    /// mappings (and, per file, all its mappings to find the load address).
    /// Does not read the files: see [`ModuleMap::read_elf_headers`].
    pub fn parse(text: &str) -> Result<ModuleMap, MapsError> {
        crate::guard::inside(|| Ok(ModuleMap::from_mappings(crate::maps::parse(text)?)))
    }

    /// Groups `maps` by file, keeping the files that have an executable
    /// mapping.
    fn from_mappings(maps: Vec<crate::maps::Mapping>) -> ModuleMap {
        crate::guard::inside(|| {
            let mut modules: Vec<Module> = Vec::new();
            let mut executable: Vec<bool> = Vec::new();
            for m in maps {
                if m.name.is_empty() {
                    continue; // anonymous memory: no code we can name
                }
                let path = m.name.strip_suffix(" (deleted)").unwrap_or(&m.name);
                let (start, offset) = (m.start, m.offset);
                let idx = modules
                    .iter()
                    .position(|x| x.path == Path::new(path))
                    .unwrap_or_else(|| {
                        modules.push(Module {
                            path: PathBuf::from(path),
                            build_id: None,
                            load_address: start.wrapping_sub(offset as usize),
                            mappings: Vec::new(),
                            elf_error: None,
                            segments: None,
                        });
                        executable.push(false);
                        modules.len() - 1
                    });
                let module = &mut modules[idx];
                if offset == 0 || start.wrapping_sub(offset as usize) < module.load_address {
                    module.load_address = start.wrapping_sub(offset as usize);
                }
                module.mappings.push((start, m.end, offset));
                executable[idx] |= m.is_executable();
            }
            let modules = modules
                .into_iter()
                .zip(executable)
                .filter_map(|(m, x)| x.then_some(m))
                .collect();
            ModuleMap { modules }
        })
    }

    /// Reads each file's ELF headers: the build-id, and the segments that
    /// make the load address exact (`runtime address - load address =
    /// address in the file`). Files that cannot be read keep the estimate
    /// from the maps (`start - offset` of the first mapping) and say why in
    /// [`Module::elf_error`].
    pub fn read_elf_headers(&mut self) {
        crate::guard::inside(|| {
            for m in self.modules.iter_mut().filter(|m| m.is_file()) {
                match elf::read(&m.path) {
                    Ok(info) => {
                        m.build_id = info.build_id.as_deref().map(hex);
                        // The bias is any mapped address minus its vaddr.
                        if let Some(&(start, _, off)) = m.mappings.first()
                            && let Some(vaddr) = info.vaddr_of_offset(off)
                        {
                            m.load_address = start.wrapping_sub(vaddr as usize);
                        }
                        m.segments = Some(info);
                    }
                    Err(e) => m.elf_error = Some(e.to_string()),
                }
            }
        });
    }

    /// The module holding `addr` and the address inside its file.
    pub fn lookup(&self, addr: usize) -> Option<(&Module, u64)> {
        self.modules
            .iter()
            .find_map(|m| m.file_address(addr).map(|a| (m, a)))
    }

    /// A map of the given modules (read back from a saved dump).
    pub(super) fn from_modules(modules: Vec<Module>) -> ModuleMap {
        ModuleMap { modules }
    }

    /// All modules with executable mappings, in the order of the maps file.
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_groups_by_file_and_skips_data_only_files() {
        let text = "\
555555554000-555555556000 r--p 00000000 08:01 7 /bin/with space
555555556000-555555558000 r-xp 00002000 08:01 7 /bin/with space
7ffff7fc1000-7ffff7fc5000 r--p 00000000 00:00 0 [vvar]
7ffff7fc5000-7ffff7fc7000 r-xp 00000000 00:00 0 [vdso]
7ffff7fd0000-7ffff7fd1000 rw-p 00000000 00:00 0
7ffff7fe0000-7ffff7fe1000 r--p 00000000 08:01 9 /usr/share/locale.bin
";
        let map = ModuleMap::parse(text).unwrap();
        let names: Vec<_> = map.modules().iter().map(|m| m.path.clone()).collect();
        assert_eq!(
            names,
            [PathBuf::from("/bin/with space"), PathBuf::from("[vdso]")]
        );
        let (m, a) = map.lookup(0x5555_5555_6010).unwrap();
        assert_eq!(m.load_address, 0x5555_5555_4000);
        assert_eq!(a, 0x2010);
        assert!(map.lookup(0x1000).is_none());
    }

    #[test]
    fn parse_errors_name_the_line_and_field() {
        let e = ModuleMap::parse("0-1000 r-xp 0 0:0 0 /a\nzz-10 r-xp 0 0:0 0 /b\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(
            e.to_string(),
            "invalid maps line 2: bad address range \"zz-10\""
        );
        let e = ModuleMap::parse("0-1000 rwq 0 0:0 0 /a").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid maps line 1: bad permissions \"rwq\""
        );
        let e = ModuleMap::parse("0-1000 r-xp 0g 0:0 0 /a").unwrap_err();
        assert!(e.reason.contains("file offset"), "{e}");
        let e = ModuleMap::parse("0-1000 r-xp 0 0:0 x /a").unwrap_err();
        assert!(e.reason.contains("inode"), "{e}");
    }

    #[test]
    fn current_map_holds_this_function_with_a_build_id_read_from_the_file() {
        let map = ModuleMap::current().unwrap();
        let here = current_map_holds_this_function_with_a_build_id_read_from_the_file as *const ()
            as usize;
        let (m, _) = map.lookup(here).unwrap();
        assert_eq!(m.path, std::env::current_exe().unwrap());
        assert!(m.elf_error.is_none(), "{:?}", m.elf_error);
    }
}
