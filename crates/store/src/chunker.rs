//! Content-defined chunking (docs/format.md §5): FastCDC, 2020 variant,
//! normalisation level 1, gear table XORed with the vault's chunker seed.
//! File content and tree streams are cut by the same code with different
//! sizes, so the boundaries — and therefore deduplication against every
//! point already in a vault — are fixed by the format, not by a caller.

use std::io::Read;

use crate::config::ChunkerParams;
use crate::error::{Error, Result};
use crate::format::{TREE_CDC_AVG, TREE_CDC_MAX, TREE_CDC_MIN};

/// A content-defined chunker with the vault's sizes and seed.
#[derive(Debug, Clone, Copy)]
pub struct Chunker {
    min: u32,
    avg: u32,
    max: u32,
    seed: u64,
}

impl Chunker {
    /// The chunker for file content and byte streams: the sizes fixed in `config`.
    pub fn for_content(params: ChunkerParams, seed: u64) -> Self {
        Self {
            min: params.min,
            avg: params.avg,
            max: params.max,
            seed,
        }
    }

    /// The chunker for tree streams (64 KiB / 256 KiB / 1 MiB).
    pub fn for_trees(seed: u64) -> Self {
        Self {
            min: TREE_CDC_MIN,
            avg: TREE_CDC_AVG,
            max: TREE_CDC_MAX,
            seed,
        }
    }

    pub fn max_size(&self) -> usize {
        self.max as usize
    }

    /// The cut points of a buffer as (offset, length); the last piece ends
    /// at the end of the buffer, wherever the content would have cut it.
    pub fn cuts(&self, buf: &[u8]) -> Vec<(usize, usize)> {
        fastcdc::v2020::FastCDC::with_level_and_seed(
            buf,
            self.min as usize,
            self.avg as usize,
            self.max as usize,
            fastcdc::v2020::Normalization::Level1,
            self.seed,
        )
        .map(|c| (c.offset, c.length))
        .collect()
    }

    /// Cuts a stream into chunks and hands each to `sink` in order; returns
    /// the bytes read. `what` names the stream in I/O errors. Memory stays
    /// within a few maximum chunk sizes however long the stream is.
    pub fn chunk_reader(
        &self,
        mut r: impl Read,
        what: &str,
        mut sink: impl FnMut(Vec<u8>) -> Result<()>,
    ) -> Result<u64> {
        // Read up to the minimum chunk size first: most files end there and
        // need no chunker (and no chunker buffer). The chunker would make the
        // same single chunk of them.
        let mut head = Vec::with_capacity(64 * 1024);
        (&mut r)
            .take(self.min as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(what, e))?;
        if (head.len() as u64) < self.min as u64 {
            let n = head.len() as u64;
            if n > 0 {
                sink(head)?;
            }
            return Ok(n);
        }
        let cdc = fastcdc::v2020::StreamCDC::with_level_and_seed(
            std::io::Cursor::new(head).chain(r),
            self.min as usize,
            self.avg as usize,
            self.max as usize,
            fastcdc::v2020::Normalization::Level1,
            self.seed,
        );
        let mut n = 0;
        for c in cdc {
            let c = c.map_err(|e| Error::io(what, e.into()))?;
            n += c.data.len() as u64;
            sink(c.data)?;
        }
        Ok(n)
    }
}

/// Whether a buffer is all zero bytes (such a chunk is stored as a hole).
pub fn is_zero(data: &[u8]) -> bool {
    // Compare 16-byte words; the compiler vectorises this well.
    // SAFETY: every bit pattern is a valid u128.
    let (pre, mid, post) = unsafe { data.align_to::<u128>() };
    pre.iter().all(|&b| b == 0) && mid.iter().all(|&w| w == 0) && post.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        lifeboat_testkit::noise(0x9e37_79b9_7f4a_7c15, n)
    }

    /// The stream and buffer forms cut the same content at the same places,
    /// so a file and a tree stream of the same bytes deduplicate alike.
    #[test]
    fn stream_and_buffer_cut_alike() {
        let c = Chunker::for_content(
            ChunkerParams {
                min: 4096,
                avg: 16384,
                max: 65536,
            },
            42,
        );
        let d = data(1 << 20);
        let mut streamed = Vec::new();
        let n = c
            .chunk_reader(&d[..], "test", |chunk| {
                streamed.push(chunk.len());
                Ok(())
            })
            .unwrap();
        assert_eq!(n, d.len() as u64);
        let cut: Vec<usize> = c.cuts(&d).into_iter().map(|(_, l)| l).collect();
        assert_eq!(streamed, cut);
        assert!(cut.len() > 10);
    }

    #[test]
    fn short_stream_is_one_chunk_and_empty_none() {
        let c = Chunker::for_trees(7);
        let mut got = Vec::new();
        c.chunk_reader(&b"abc"[..], "t", |x| {
            got.push(x);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![b"abc".to_vec()]);
        got.clear();
        assert_eq!(
            c.chunk_reader(&b""[..], "t", |x| {
                got.push(x);
                Ok(())
            })
            .unwrap(),
            0
        );
        assert!(got.is_empty());
    }

    #[test]
    fn zero_detection() {
        assert!(is_zero(&[]));
        assert!(is_zero(&[0; 1000]));
        let mut v = vec![0u8; 1000];
        v[999] = 1;
        assert!(!is_zero(&v));
        v[999] = 0;
        v[3] = 1;
        assert!(!is_zero(&v[1..]));
    }
}
