//! What `connect` and `disconnect` refuse, and why.

use std::fmt;

use crate::site::ProbeId;

/// Why a [`connect`](crate::connect) or [`disconnect`](crate::disconnect)
/// was refused. A refused call changes nothing, except
/// [`Error::StillRunning`], which reports a disconnect that was done but
/// whose wait gave up.
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
    /// [`disconnect_timeout`](crate::disconnect_timeout) gave up: calls of
    /// the probe that started before it was disconnected are still running.
    /// The probe is disconnected all the same (no new call starts, it is not
    /// listed); the running calls keep its data alive until they return.
    /// Disconnecting the same id again waits for them.
    StillRunning {
        /// The probe.
        probe: ProbeId,
        /// The markers it was disconnected from.
        markers: Vec<&'static str>,
        /// How long `disconnect_timeout` waited.
        waited: std::time::Duration,
    },
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
            Error::StillRunning {
                probe,
                markers,
                waited,
            } => {
                let s = if markers.len() == 1 { "" } else { "s" };
                write!(f, "{probe} of marker{s} ")?;
                for (i, m) in markers.iter().enumerate() {
                    write!(f, "{}`{m}`", if i == 0 { "" } else { ", " })?;
                }
                write!(
                    f,
                    " is still running after {waited:?}; it is disconnected (no new call \
                     starts) and its data is dropped when the running calls return; \
                     disconnect it again to wait for them"
                )
            }
            Error::InsideProbe(id) => write!(
                f,
                "cannot disconnect {id} from inside a probe: disconnect waits for running probes"
            ),
        }
    }
}

impl std::error::Error for Error {}
