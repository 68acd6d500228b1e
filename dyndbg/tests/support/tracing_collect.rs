//! A `tracing` layer that keeps every event it sees: file, line, target
//! and formatted message. Shared by the `tests/tracing_*.rs` files.
#![allow(dead_code, reason = "each test file uses a part")]

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// One event as seen by [`Collect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) target: String,
    pub(crate) name: String,
    /// `name=value` of every field, `message` first as plain text.
    pub(crate) fields: Vec<(String, String)>,
}

impl Seen {
    pub(crate) fn message(&self) -> &str {
        self.field("message").unwrap_or("")
    }

    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The file's last path component.
    pub(crate) fn basename(&self) -> &str {
        self.file.rsplit('/').next().unwrap_or(&self.file)
    }
}

/// Keeps every event in a shared list.
#[derive(Clone, Default)]
pub(crate) struct Collect(pub(crate) Arc<Mutex<Vec<Seen>>>);

impl Collect {
    /// Takes the events seen so far.
    pub(crate) fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.0.push((field.name().to_owned(), text));
    }
}

impl<S: Subscriber> Layer<S> for Collect {
    fn on_event(&self, event: &Event<'_>, _cx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(Seen {
            file: meta.file().unwrap_or("").to_owned(),
            line: meta.line().unwrap_or(0),
            target: meta.target().to_owned(),
            name: meta.name().to_owned(),
            fields: fields.0,
        });
    }
}
