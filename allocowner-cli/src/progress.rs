//! A plain progress bar on stderr for long symbolization: one line redrawn
//! with `\r` when the percentage changes. (indicatif would bring a
//! terminal crate and its width tables for one bar; this is 60 lines.)

use std::io::{IsTerminal, Write};

/// When to draw the bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum When {
    /// When stderr is a terminal.
    Auto,
    /// Always (a log gets one line per percent).
    Always,
    /// Never.
    Never,
}

/// The bar: `allocowner: symbolizing [=====>     ] 45% 123/270`.
pub(crate) struct Bar {
    shown: bool,
    what: &'static str,
    done: usize,
    total: usize,
    percent: Option<usize>,
}

const WIDTH: usize = 30;

impl Bar {
    pub(crate) fn new(when: When, what: &'static str, total: usize) -> Bar {
        let shown = match when {
            When::Auto => std::io::stderr().is_terminal(),
            When::Always => true,
            When::Never => false,
        };
        let mut bar = Bar {
            shown,
            what,
            done: 0,
            total: total.max(1),
            percent: None,
        };
        bar.draw();
        bar
    }

    fn draw(&mut self) {
        let percent = self.done * 100 / self.total;
        if !self.shown || self.percent == Some(percent) {
            return;
        }
        self.percent = Some(percent);
        let filled = self.done * WIDTH / self.total;
        let mut line = "=".repeat(filled);
        if filled < WIDTH {
            line.push('>');
            line.push_str(&" ".repeat(WIDTH - filled - 1));
        }
        let _ = write!(
            std::io::stderr(),
            "\rallocowner: {} [{line}] {percent:3}% {}/{}",
            self.what,
            self.done,
            self.total
        );
    }

    /// One more item done.
    pub(crate) fn step(&mut self) {
        self.done = (self.done + 1).min(self.total);
        self.draw();
    }

    /// Prints `text` on a line of its own, the bar redrawn below it.
    pub(crate) fn message(&mut self, text: &str) {
        if self.shown && self.percent.is_some() {
            eprint!("\r\x1b[K");
        }
        eprintln!("{text}");
        self.percent = None;
        self.draw();
    }

    /// The bar at 100 %, then a new line.
    pub(crate) fn finish(mut self) {
        self.done = self.total;
        self.draw();
        if self.shown {
            eprintln!();
        }
    }
}
