//! What `connect` and `disconnect` refuse, and why.

use std::fmt;

use crate::probe::ProbeId;

/// Why a [`connect`](crate::connect) or [`disconnect`](crate::disconnect)
/// was refused. A refused call changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// No site has this name (or no site matches this glob).
    UnknownMarker {
        /// The name or glob given.
        pattern: String,
    },
    /// A typed probe's arguments are not the site's.
    SignatureMismatch {
        /// The marker's name.
        marker: &'static str,
        /// Where the site is: `src/net.rs:42`.
        location: String,
        /// The site's arguments as written: `len: usize, proto: u8`.
        site_signature: &'static str,
        /// The tuple the site passes: `(usize, u8)`.
        site_args: &'static str,
        /// The tuple the probe takes: `(u32, u8)`.
        probe_args: &'static str,
    },
    /// The same probe (function and equal data) is already connected to
    /// this marker: the kernel's `EBUSY`.
    AlreadyConnected {
        /// The marker's name.
        marker: &'static str,
        /// The probe already connected.
        existing: ProbeId,
    },
    /// Two sites with the same name pass different arguments (found by
    /// [`check`](crate::check); a typed probe for that name is refused).
    SitesDisagree {
        /// The marker's name.
        marker: &'static str,
        /// One site: `src/net.rs:42: (len: usize, proto: u8)`.
        first: String,
        /// Another site of the same name with other arguments.
        second: String,
    },
    /// No probe with this id is connected (already disconnected?).
    UnknownProbe(ProbeId),
    /// `disconnect` was called from inside a probe, where waiting for
    /// running probes could wait for itself.
    InsideProbe(ProbeId),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownMarker { pattern } => {
                write!(f, "no marker site matches `{pattern}`")
            }
            Error::SignatureMismatch {
                marker,
                location,
                site_signature,
                site_args,
                probe_args,
            } => write!(
                f,
                "signature mismatch on marker `{marker}`: the site at {location} is \
                 `{marker}({site_signature})` and passes `&{site_args}`, the probe takes `&{probe_args}`"
            ),
            Error::AlreadyConnected { marker, existing } => write!(
                f,
                "this probe is already connected to marker `{marker}` ({existing}) with equal data"
            ),
            Error::SitesDisagree {
                marker,
                first,
                second,
            } => write!(
                f,
                "the sites of marker `{marker}` disagree on their arguments: {first} vs {second}"
            ),
            Error::UnknownProbe(id) => write!(f, "{id} is not connected"),
            Error::InsideProbe(id) => write!(
                f,
                "cannot disconnect {id} from inside a probe: disconnect waits for running probes"
            ),
        }
    }
}

impl std::error::Error for Error {}
