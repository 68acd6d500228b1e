//! A DAMON-style sampler of heap access regions, recorded in DAMON's formats.
//!
//! (Manual below: filled in with the measured figures.)

#![cfg(target_os = "linux")]

mod attribution;
mod detect;
mod env;
mod error;
mod heatmap;
mod json;
mod monitor;
mod record;
mod regions;
mod target;

pub use attribution::{Attribution, OwnerHeat, attribute};
pub use detect::{DetectError, Mode, PAGE, Probe};
pub use env::{ENV_VAR, MODE_ENV_VAR, stop_global};
pub use error::AccessError;
pub use heatmap::{HeatmapOptions, heat_matrix, heatmap_svg};
pub use monitor::{Attrs, Monitor, Summary};
pub use record::{
    Aggregation, Format, Intervals, MAGIC, MAX_BUFFER_LEN, MAX_PATH_LEN, MIN_BUFFER_LEN,
    RecordControl, RecordedRegion, Recording, WriteStats,
};
pub use regions::{MIN_REGION, Region};
pub use target::{exclude_mapping, forget_mapping};
