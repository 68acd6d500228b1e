//! A pretend key-value store.

use std::collections::BTreeMap;

use dyndbg::pr_debug;

#[derive(Default)]
pub(crate) struct Store {
    items: BTreeMap<String, Vec<u8>>,
}

impl Store {
    pub(crate) fn put(&mut self, key: &str, value: Vec<u8>) {
        pr_debug!("put {key} ({} bytes)", value.len());
        self.items.insert(key.to_owned(), value);
        if self.items.len().is_multiple_of(4) {
            self.flush();
        }
    }

    fn flush(&self) {
        pr_debug!("flushing {} items", self.items.len());
    }
}
