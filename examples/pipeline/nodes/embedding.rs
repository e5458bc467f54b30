//! Node 4, `embedding`: the pipeline's model, guarded by a circuit breaker whose fallback
//! answers zero vectors.

use super::{Faults, Guarded, NodeFailure, Segment, simulate_work};

/// Width of a segment vector (that of the small sentence-embedding models).
const EMBEDDING_DIM: usize = 384;
/// Segments embedded together: one token buffer and one block of rows per batch.
const EMBEDDING_BATCH: usize = 32;

/// One unit-length vector per segment, row after row.
pub(crate) struct Embeddings {
    vectors: Vec<f32>,
}

impl Embeddings {
    fn row(&self, segment: usize) -> &[f32] {
        &self.vectors[segment * EMBEDDING_DIM..(segment + 1) * EMBEDDING_DIM]
    }

    /// Cosine similarity of two segments (rows are unit vectors, or zero for empty segments).
    pub(crate) fn similarity(&self, a: usize, b: usize) -> f32 {
        self.row(a)
            .iter()
            .zip(self.row(b))
            .map(|(x, y)| x * y)
            .sum()
    }
}

/// Embeds every segment by signed feature hashing of its unigrams and bigrams, in batches.
#[instrument_runtime::budget(p95 = "50ms", p99 = "80ms")]
#[instrument_runtime::circuit_breaker(
    name = "embedding",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = embedding_fallback
)]
pub(crate) fn embedding(
    segments: &[Segment<'_>],
    faults: Faults,
) -> Result<Embeddings, NodeFailure> {
    simulate_work("embedding");
    faults.check(Guarded::Embedding)?;
    let mut vectors = vec![0.0; segments.len() * EMBEDDING_DIM];
    let mut tokens = Vec::new();
    for (batch, rows) in segments
        .chunks(EMBEDDING_BATCH)
        .zip(vectors.chunks_mut(EMBEDDING_BATCH * EMBEDDING_DIM))
    {
        for (segment, row) in batch.iter().zip(rows.chunks_exact_mut(EMBEDDING_DIM)) {
            tokens.clear();
            tokens.extend(words(segment.text).map(hash_lowercase));
            for (at, &token) in tokens.iter().enumerate() {
                add_feature(row, token);
                if let Some(&next) = tokens.get(at + 1) {
                    add_feature(row, token.rotate_left(21) ^ next);
                }
            }
        }
        for row in rows.chunks_exact_mut(EMBEDDING_DIM) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                for x in row.iter_mut() {
                    *x /= norm;
                }
            }
        }
    }
    Ok(Embeddings { vectors })
}

/// While `embedding`'s breaker is open: zero vectors, as for empty segments. No two segments are
/// then similar, so `contradiction_detection` reports no contradiction rather than an unconfirmed
/// one.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn embedding_fallback(
    segments: &[Segment<'_>],
    _faults: Faults,
) -> Result<Embeddings, NodeFailure> {
    Ok(Embeddings {
        vectors: vec![0.0; segments.len() * EMBEDDING_DIM],
    })
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "the remainder is below EMBEDDING_DIM"
)]
fn add_feature(row: &mut [f32], hash: u64) {
    let index = (hash % EMBEDDING_DIM as u64) as usize;
    row[index] += if hash >> 63 == 0 { 1.0 } else { -1.0 };
}

/// FNV-1a of the word, ASCII letters lowercased.
fn hash_lowercase(word: &str) -> u64 {
    word.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Words: runs of letters, digits and apostrophes.
pub(crate) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|word| !word.is_empty())
}
