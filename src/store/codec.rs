//! Store, the item text at rest (docs/DESIGN.md §3): a summary is stored
//! as a zstd frame (a BLOB), or as plain TEXT when it is too short to
//! gain. `items.summary` is a virtual column that unpacks it through the
//! SQL function `unpack_text` (registered on every connection the store
//! opens), so `search`, `snippet()` and the archive's FTS5 index, whose
//! content table is `items`, read plain text as before.
//!
//! zstd was chosen for its ratio on short texts and its speed both ways
//! (measured on the benchmark's archive: see the README, "Performance").

use std::cell::RefCell;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value, ValueRef};

/// Texts shorter than this stay plain: a zstd frame's header and the
/// checksum-free block cost more than the few bytes they would save.
const MIN_PACKED: usize = 64;

/// zstd's level: 3 (its default) packed the benchmark's archive to within
/// a few percent of 9, at a third of the time.
const LEVEL: i32 = 3;

thread_local! {
    /// zstd's contexts, made once per thread: making one per call was 4% of
    /// a first poll (`perf` on the benchmark).
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The name of the SQL function that reads a stored summary.
pub(super) const UNPACK: &str = "unpack_text";

/// What to store for `text`: a zstd frame, or the text itself when short.
pub(super) fn pack(text: &str) -> Value {
    if text.len() < MIN_PACKED {
        return Value::Text(text.to_string());
    }
    let packed = COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(LEVEL).ok();
        }
        c.as_mut().map(|c| c.compress(text.as_bytes()))
    });
    match packed.unwrap_or_else(|| zstd::bulk::compress(text.as_bytes(), LEVEL)) {
        Ok(frame) if frame.len() < text.len() => Value::Blob(frame),
        _ => Value::Text(text.to_string()),
    }
}

/// The text of a stored summary: TEXT as is, a BLOB unpacked.
pub(super) fn unpack(stored: ValueRef<'_>) -> Result<String, String> {
    match stored {
        ValueRef::Null => Ok(String::new()),
        ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(frame) => {
            let size = zstd::zstd_safe::get_frame_content_size(frame)
                .map_err(|_| "not a zstd frame".to_string())?
                .ok_or_else(|| "a zstd frame without its size".to_string())?;
            // Summaries are capped far below this (`MAX_SUMMARY`); a larger
            // claim is damage, not text.
            if size > 64 << 20 {
                return Err(format!("a zstd frame claims {size} bytes"));
            }
            let bytes = DECOMPRESSOR
                .with(|d| {
                    let mut d = d.borrow_mut();
                    if d.is_none() {
                        *d = zstd::bulk::Decompressor::new().ok();
                    }
                    d.as_mut().map(|d| d.decompress(frame, size as usize))
                })
                .unwrap_or_else(|| zstd::bulk::decompress(frame, size as usize))
                .map_err(|e| e.to_string())?;
            String::from_utf8(bytes).map_err(|e| e.to_string())
        }
        ValueRef::Integer(i) => Ok(i.to_string()),
        ValueRef::Real(r) => Ok(r.to_string()),
    }
}

/// Registers `unpack_text` on `conn`. Deterministic and innocuous, as a
/// generated column's function must be.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        UNPACK,
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            unpack(ctx.get_raw(0))
                .map_err(|e| rusqlite::Error::UserFunctionError(format!("stored text: {e}").into()))
        },
    )
}

/// `pack`, as an SQL function for the migration that packs the archive.
pub(super) fn register_pack(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "pack_text",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = match ctx.get_raw(0) {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                ValueRef::Null => String::new(),
                other => unpack(other).unwrap_or_default(),
            };
            Ok(pack(&text))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_long_and_unicode() {
        let long = "Іран передав Росії дрони. Café naïve — ".repeat(20);
        for text in ["", "short", long.as_str()] {
            let stored = pack(text);
            let back = match &stored {
                Value::Text(t) => unpack(ValueRef::Text(t.as_bytes())),
                Value::Blob(b) => unpack(ValueRef::Blob(b)),
                _ => unreachable!(),
            };
            assert_eq!(back.unwrap(), text);
        }
        assert!(matches!(pack(&long), Value::Blob(b) if b.len() < long.len() / 3));
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        assert!(unpack(ValueRef::Blob(b"\x28\xb5\x2f\xfd garbage")).is_err());
        assert!(unpack(ValueRef::Blob(b"")).is_err());
    }
}
