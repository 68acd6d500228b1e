//! Names the callsite slice after the crate's semver-major, so that two
//! incompatible copies of dyndbg in one binary keep separate linker
//! sections instead of mixing records of different layouts.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let compat = if major == "0" {
        format!("0_{minor}")
    } else {
        major
    };
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let code = format!(
        "/// All callsites of the program (this semver-compatible copy of dyndbg).\n\
         #[distributed_slice]\n\
         pub static DYNDBG_CALLSITES_{compat}: [Callsite];\n\
         pub use DYNDBG_CALLSITES_{compat} as CALLSITES;\n"
    );
    std::fs::write(out.join("slice.rs"), code).expect("OUT_DIR is writable");
    println!("cargo::rerun-if-changed=build.rs");
}
