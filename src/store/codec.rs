//! Store, the item text at rest (docs/DESIGN.md §3): a summary is stored
//! as a zstd frame (a BLOB), or as plain TEXT when it is too short to
//! gain. `items.summary` is a virtual column that unpacks it through the
//! SQL function `unpack_text` (registered on every connection the store
//! opens), so `search`, `snippet()` and the archive's FTS5 index, whose
//! content table is `items`, read plain text as before.
//!
//! A stored text that cannot be read (a damaged frame) is NULL, never an
//! error: an error of a function aborts the whole statement, and one bad
//! frame failed every digest and every search. Whoever reads a summary
//! takes NULL as "unreadable" (`damage`), and the full check finds them
//! all (`check`).
//!
//! zstd was chosen for its ratio on short texts and its speed both ways:
//! the benchmark's 1,000,000-item archive is 0.87× its text with it, 1.55×
//! without (docs/performance.md, "Performance").

use std::sync::Mutex;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value, ValueRef};

/// Texts shorter than this stay plain: a zstd frame's header and the
/// checksum-free block cost more than the few bytes they would save.
const MIN_PACKED: usize = 64;

/// zstd's fastest positive level. Measured on the benchmark farm's texts
/// (2.3 KB each): 9.7 µs an item at level 1 against 11.8 µs at zstd's
/// default 3, both 0.366 of the text; on the multilingual news fixtures
/// (743 texts) 0.811 against 0.819. Negative levels are faster (7.3 µs at
/// -1) but leave 0.478.
const LEVEL: i32 = 1;

/// The name of the SQL function that reads a stored summary.
pub(super) const UNPACK: &str = "unpack_text";

/// A zstd compression context, made on first use and kept: making one per
/// item was 4% of a first poll (perf). Owned by the store, which drops it
/// when a run is over (`release_memory`), so that the idle daemon does not
/// keep it.
#[derive(Default)]
pub(super) struct Packer(Option<zstd::bulk::Compressor<'static>>);

impl Packer {
    /// What to store for `text`: a zstd frame, or the text itself when short.
    pub(crate) fn pack(&mut self, text: &str) -> Value {
        if text.len() < MIN_PACKED {
            return Value::Text(text.to_string());
        }
        if self.0.is_none() {
            self.0 = zstd::bulk::Compressor::new(LEVEL).ok();
        }
        let packed = match &mut self.0 {
            Some(c) => c.compress(text.as_bytes()),
            None => zstd::bulk::compress(text.as_bytes(), LEVEL),
        };
        match packed {
            Ok(frame) if frame.len() < text.len() => Value::Blob(frame),
            _ => Value::Text(text.to_string()),
        }
    }
}

/// A zstd decompression context (small), kept by the SQL function.
#[derive(Default)]
pub(super) struct Unpacker(Option<zstd::bulk::Decompressor<'static>>);

impl Unpacker {
    /// The text of a stored summary: TEXT as is, a BLOB unpacked; the
    /// error says why a BLOB is not a text (the damage).
    pub(crate) fn unpack(&mut self, stored: ValueRef<'_>) -> Result<String, String> {
        match stored {
            ValueRef::Null => Ok(String::new()),
            ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(frame) => {
                let size = zstd::zstd_safe::get_frame_content_size(frame)
                    .map_err(|_| "not a zstd frame".to_string())?
                    .ok_or_else(|| "a zstd frame without its size".to_string())?;
                // Summaries are capped far below this (`MAX_SUMMARY`); a
                // larger claim is damage, not text.
                if size > 64 << 20 {
                    return Err(format!("a zstd frame claims {size} bytes"));
                }
                if self.0.is_none() {
                    self.0 = zstd::bulk::Decompressor::new().ok();
                }
                let bytes = match &mut self.0 {
                    Some(d) => d.decompress(frame, size as usize),
                    None => zstd::bulk::decompress(frame, size as usize),
                }
                .map_err(|e| e.to_string())?;
                String::from_utf8(bytes).map_err(|e| e.to_string())
            }
            ValueRef::Integer(i) => Ok(i.to_string()),
            ValueRef::Real(r) => Ok(r.to_string()),
        }
    }
}

/// Registers `unpack_text` on `conn`. Deterministic and innocuous, as a
/// generated column's function must be. A frame that cannot be read is
/// NULL (see the top of this file).
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let unpacker = Mutex::new(Unpacker::default());
    conn.create_scalar_function(
        UNPACK,
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        move |ctx| {
            // The connection is used by one thread at a time; the lock is
            // never contended, only required of a function SQLite holds.
            let mut unpacker = unpacker.lock().unwrap_or_else(|p| p.into_inner());
            Ok(unpacker.unpack(ctx.get_raw(0)).ok())
        },
    )
}

/// `pack_text`, for the migration that packs the archive (`compact`).
pub(super) fn register_pack(conn: &Connection) -> rusqlite::Result<()> {
    let contexts = Mutex::new((Packer::default(), Unpacker::default()));
    conn.create_scalar_function(
        "pack_text",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let mut contexts = contexts.lock().unwrap_or_else(|p| p.into_inner());
            let (packer, unpacker) = &mut *contexts;
            let text = unpacker.unpack(ctx.get_raw(0)).unwrap_or_default();
            Ok(packer.pack(&text))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_long_and_unicode() {
        let long = "Іран передав Росії дрони. Café naïve — ".repeat(20);
        let (mut p, mut u) = (Packer::default(), Unpacker::default());
        for text in ["", "short", long.as_str()] {
            let stored = p.pack(text);
            let back = match &stored {
                Value::Text(t) => u.unpack(ValueRef::Text(t.as_bytes())),
                Value::Blob(b) => u.unpack(ValueRef::Blob(b)),
                _ => unreachable!(),
            };
            assert_eq!(back.unwrap(), text);
        }
        assert!(matches!(p.pack(&long), Value::Blob(b) if b.len() < long.len() / 3));
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let mut u = Unpacker::default();
        assert!(
            u.unpack(ValueRef::Blob(b"\x28\xb5\x2f\xfd garbage"))
                .is_err()
        );
        assert!(u.unpack(ValueRef::Blob(b"")).is_err());
    }
}
