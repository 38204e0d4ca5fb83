//! Tree streams: a point's entries as newline-separated JSON, cut into
//! content-defined chunks so an unchanged stretch of a file list is stored
//! once across points (docs/format.md §8). Both directions stream: neither
//! ever holds a whole tree.

use crate::chunker::Chunker;
use crate::error::{Error, Result};
use crate::format::*;
use crate::id::ChunkId;
use crate::manifest::Entry;
use crate::upload::Uploader;

pub struct TreeWriter {
    buf: Vec<u8>,
    chunker: Chunker,
    ids: Vec<ChunkId>,
}

impl TreeWriter {
    pub fn new(seed: u64) -> Self {
        Self {
            buf: Vec::with_capacity(4 * TREE_CDC_MAX as usize),
            chunker: Chunker::for_trees(seed),
            ids: Vec::new(),
        }
    }

    pub fn push(&mut self, entry: &Entry, up: &mut Uploader) -> Result<()> {
        serde_json::to_writer(&mut self.buf, entry).expect("entry serializes");
        self.buf.push(b'\n');
        if self.buf.len() >= 2 * TREE_CDC_MAX as usize {
            self.emit(up, false)?;
        }
        Ok(())
    }

    /// Cuts the buffer; keeps the last (possibly incomplete) piece unless `all`.
    fn emit(&mut self, up: &mut Uploader, all: bool) -> Result<()> {
        let cuts = self.chunker.cuts(&self.buf);
        let keep_last = !all && cuts.len() > 1;
        let take = if keep_last {
            cuts.len() - 1
        } else {
            cuts.len()
        };
        let mut consumed = 0;
        for &(off, len) in &cuts[..take] {
            let (id, _) = up.store(KIND_TREE, self.buf[off..off + len].to_vec())?;
            self.ids.push(id);
            consumed = off + len;
        }
        self.buf.drain(..consumed);
        Ok(())
    }

    pub fn finish(mut self, up: &mut Uploader) -> Result<Vec<ChunkId>> {
        if !self.buf.is_empty() {
            self.emit(up, true)?;
        }
        Ok(self.ids)
    }
}

/// Reads entries back, one tree chunk at a time.
type ChunkLoader<'a> = Box<dyn FnMut(&ChunkId) -> Result<Vec<u8>> + 'a>;

pub struct TreeReader<'a> {
    load: ChunkLoader<'a>,
    ids: std::vec::IntoIter<ChunkId>,
    buf: Vec<u8>,
    pos: usize,
    what: String,
}

impl<'a> TreeReader<'a> {
    pub fn new(
        ids: Vec<ChunkId>,
        what: impl Into<String>,
        load: impl FnMut(&ChunkId) -> Result<Vec<u8>> + 'a,
    ) -> Self {
        Self {
            load: Box::new(load),
            ids: ids.into_iter(),
            buf: Vec::new(),
            pos: 0,
            what: what.into(),
        }
    }
}

impl Iterator for TreeReader<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        loop {
            if let Some(nl) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let line = &self.buf[self.pos..self.pos + nl];
                self.pos += nl + 1;
                return Some(
                    serde_json::from_slice::<Entry>(line)
                        .map_err(|e| Error::corrupt(&self.what, format!("bad tree entry: {e}"))),
                );
            }
            let id = match self.ids.next() {
                Some(id) => id,
                None if self.pos < self.buf.len() => {
                    self.pos = self.buf.len();
                    return Some(Err(Error::corrupt(
                        &self.what,
                        "tree stream ends mid-entry",
                    )));
                }
                None => return None,
            };
            match (self.load)(&id) {
                Ok(chunk) => {
                    self.buf.drain(..self.pos);
                    self.pos = 0;
                    self.buf.extend_from_slice(&chunk);
                }
                Err(e) => {
                    // Give up on the rest of this stream after reporting.
                    self.ids = Vec::new().into_iter();
                    self.buf.clear();
                    self.pos = 0;
                    return Some(Err(e));
                }
            }
        }
    }
}
