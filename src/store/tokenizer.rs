//! Store, the archive index's own tokenizer lent to the live matcher
//! (docs/DESIGN.md §3): SQLite's FTS5 `porter unicode61 remove_diacritics 2`,
//! reached through the `fts5_api` of a private in-memory connection. The
//! matcher splits and folds text with the very code that builds the
//! archive's index, so a word `search` finds is a word the matcher finds:
//! one source of truth, where a port of unicode61's tables and of the
//! Porter stemmer would be a second one to keep equal (the differential
//! test in tests/it/matcher.rs checks the whole matcher against FTS5).
//!
//! The FFI calls are here, each with the invariant it relies on (the
//! crate's few other `unsafe` calls are listed in docs/DESIGN.md §5, and
//! `tests/it/architecture.rs` keeps the list true).

use std::ffi::{CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rusqlite::{Connection, ffi};

use super::{Result, StoreError};

/// The tokenizers and their arguments, as in the archive's `tokenize =`
/// option (`FTS_DEFINITION`): porter over unicode61, and unicode61 alone
/// (`Stage::Split`), which the matcher stems token by token through a memo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// unicode61: split and folded, not stemmed.
    Split,
    /// porter over unicode61: what the index holds.
    Stemmed,
}

impl Stage {
    fn name_and_arguments(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Stage::Split => ("unicode61", &["remove_diacritics", "2"]),
            Stage::Stemmed => ("porter", &["unicode61", "remove_diacritics", "2"]),
        }
    }
}

/// What the text is tokenised as: FTS5 passes query text with
/// `FTS5_TOKENIZE_QUERY`, and a prefix term's with `FTS5_TOKENIZE_PREFIX`
/// too (porter stems those as well).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Document,
    Query,
    PrefixQuery,
}

impl Purpose {
    fn flags(self) -> c_int {
        match self {
            Purpose::Document => ffi::FTS5_TOKENIZE_DOCUMENT,
            Purpose::Query => ffi::FTS5_TOKENIZE_QUERY,
            Purpose::PrefixQuery => ffi::FTS5_TOKENIZE_QUERY | ffi::FTS5_TOKENIZE_PREFIX,
        }
    }
}

/// One instance of the archive's tokenizer.
pub(super) struct Tokenizer {
    methods: ffi::fts5_tokenizer,
    instance: *mut ffi::Fts5Tokenizer,
    /// Owns the FTS5 module the tokenizer belongs to; declared last, so
    /// dropped after `Drop` has deleted the instance. Also holds the small
    /// FTS5 table `check` asks.
    conn: Connection,
}

// SAFETY: the instance is owned by this value alone and used only through
// `&mut self` (porter's instance has a buffer of its own, so it must not be
// shared; no `Sync`). Nothing in it is tied to the thread that made it.
unsafe impl Send for Tokenizer {}

impl Tokenizer {
    pub fn new(fts_definition: &str, stage: Stage) -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        // The stemming instance's database also answers `check` (and holds
        // the matcher's index of matched items).
        if stage == Stage::Stemmed {
            conn.execute_batch(&format!(
                "CREATE VIRTUAL TABLE probe USING fts5({fts_definition});"
            ))?;
        }
        let (tokenizer, arguments) = stage.name_and_arguments();
        let name = CString::new(tokenizer).map_err(|e| unavailable(e.to_string()))?;
        let args: Vec<CString> = arguments
            .iter()
            .map(|a| CString::new(*a))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| unavailable(e.to_string()))?;
        let mut arg_ptrs: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let (user_data, methods) = Fts5Api::of(&conn)?.find_tokenizer(&name)?;
        let create = methods.xCreate.ok_or_else(|| unavailable("xCreate"))?;
        let mut instance: *mut ffi::Fts5Tokenizer = std::ptr::null_mut();
        // SAFETY: the arguments outlive the call (FTS5 copies what it keeps).
        let rc = unsafe {
            create(
                user_data,
                arg_ptrs.as_mut_ptr(),
                arg_ptrs.len() as c_int,
                &mut instance,
            )
        };
        if rc != ffi::SQLITE_OK || instance.is_null() || methods.xTokenize.is_none() {
            if let (false, Some(delete)) = (instance.is_null(), methods.xDelete) {
                // SAFETY: made by xCreate above, deleted once, not kept.
                unsafe { delete(instance) };
            }
            return Err(unavailable(format!("cannot create the tokenizer ({rc})")));
        }
        Ok(Tokenizer {
            methods,
            instance,
            conn,
        })
    }

    /// Calls `each` with every token of `text`, in order, as FTS5 indexes
    /// (or, for a query, looks up) them.
    /// A tokenizer that stops part-way (out of memory, a panic in `each`)
    /// is an error: a cut token stream would let rules miss the item
    /// silently.
    pub(crate) fn tokens(
        &mut self,
        text: &str,
        purpose: Purpose,
        each: &mut dyn FnMut(&[u8]),
    ) -> Result<()> {
        // Longer texts than an int can count are cut (FTS5 itself takes no
        // longer text; items are far shorter, `MAX_SUMMARY`).
        let len = text.len().min(c_int::MAX as usize);
        let Some(tokenize) = self.methods.xTokenize else {
            return Err(unavailable("xTokenize"));
        };
        let mut sink: &mut dyn FnMut(&[u8]) = each;
        // SAFETY: `instance` is live (deleted only in Drop); `text` outlives
        // the call; the context is `sink`, read back as the same type.
        let rc = unsafe {
            tokenize(
                self.instance,
                (&mut sink as *mut &mut dyn FnMut(&[u8])).cast::<c_void>(),
                purpose.flags(),
                text.as_ptr().cast::<c_char>(),
                len as c_int,
                Some(on_token),
            )
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(StoreError::Tokenizer(format!("failed ({rc})")))
        }
    }

    /// The tokenizer's in-memory database, for the matcher's small index of
    /// matched items (`matching`).
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Whether FTS5 accepts `fts_query` (on an empty table of the archive's
    /// columns).
    pub(crate) fn check(&self, fts_query: &str) -> rusqlite::Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rowid FROM probe WHERE probe MATCH ?1")?;
        let mut rows = stmt.query([fts_query])?;
        rows.next().map(|_| ())
    }
}

impl Drop for Tokenizer {
    fn drop(&mut self) {
        if let Some(delete) = self.methods.xDelete {
            // SAFETY: made by xCreate, deleted once, before `conn` closes.
            unsafe { delete(self.instance) };
        }
    }
}

/// FTS5's token callback: hands the token to the sink in `ctx`.
// SAFETY: only FTS5 calls it (callers must not), from `tokens`, with the
// context `tokens` passed and a token of `len` bytes it owns for the call.
unsafe extern "C" fn on_token(
    ctx: *mut c_void,
    _flags: c_int,
    token: *const c_char,
    len: c_int,
    _start: c_int,
    _end: c_int,
) -> c_int {
    if ctx.is_null() || token.is_null() || len < 0 {
        return ffi::SQLITE_OK;
    }
    // SAFETY: `ctx` is the `&mut dyn FnMut` `tokens` passed, alive for the
    // call; the token is `len` bytes FTS5 owns until this returns.
    let sink = unsafe { &mut *ctx.cast::<&mut dyn FnMut(&[u8])>() };
    let bytes = unsafe { std::slice::from_raw_parts(token.cast::<u8>(), len as usize) };
    // A panic must not unwind into C.
    match catch_unwind(AssertUnwindSafe(|| sink(bytes))) {
        Ok(()) => ffi::SQLITE_OK,
        Err(_) => ffi::SQLITE_ERROR,
    }
}

/// A connection's `fts5_api`, borrowed from it: the pointer FTS5 hands out
/// lives as long as the connection, and the borrow keeps it from outliving
/// it.
struct Fts5Api<'c> {
    api: std::ptr::NonNull<ffi::fts5_api>,
    _conn: std::marker::PhantomData<&'c Connection>,
}

impl<'c> Fts5Api<'c> {
    /// By FTS5's documented way: `SELECT fts5(?1)` with a pointer bound
    /// under the type "fts5_api_ptr". Every step's return code is checked.
    fn of(conn: &'c Connection) -> Result<Self> {
        let mut api: *mut ffi::fts5_api = std::ptr::null_mut();
        let sql = c"SELECT fts5(?1)";
        let kind = c"fts5_api_ptr";
        // SAFETY: the handle is live for the borrow of `conn`; the
        // statement is finalized on every path before returning; `api`
        // outlives the step that writes it; `kind` is a static string, as
        // sqlite3_bind_pointer requires.
        let (bound, stepped, finalized) = unsafe {
            let db = conn.handle();
            let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut());
            if rc != ffi::SQLITE_OK {
                ffi::sqlite3_finalize(stmt);
                return Err(unavailable(format!("SELECT fts5(?1) failed ({rc})")));
            }
            let bound = ffi::sqlite3_bind_pointer(
                stmt,
                1,
                (&mut api as *mut *mut ffi::fts5_api).cast::<c_void>(),
                kind.as_ptr(),
                None,
            );
            let stepped = if bound == ffi::SQLITE_OK {
                ffi::sqlite3_step(stmt)
            } else {
                ffi::SQLITE_MISUSE
            };
            (bound, stepped, ffi::sqlite3_finalize(stmt))
        };
        if bound != ffi::SQLITE_OK || stepped != ffi::SQLITE_ROW || finalized != ffi::SQLITE_OK {
            return Err(unavailable(format!(
                "SELECT fts5(?1) failed (bind {bound}, step {stepped}, finalize {finalized})"
            )));
        }
        let api = std::ptr::NonNull::new(api).ok_or_else(|| unavailable("SQLite has no FTS5"))?;
        Ok(Fts5Api {
            api,
            _conn: std::marker::PhantomData,
        })
    }

    /// The tokenizer registered as `name`: its user data and its methods.
    fn find_tokenizer(&self, name: &std::ffi::CStr) -> Result<(*mut c_void, ffi::fts5_tokenizer)> {
        let api = self.api.as_ptr();
        let mut user_data: *mut c_void = std::ptr::null_mut();
        // SAFETY: `api` is the live fts5_api of the borrowed connection;
        // the methods struct is plain data (function pointers, all None
        // when zeroed) that FTS5 fills in; `name` outlives the call.
        let mut methods: ffi::fts5_tokenizer = unsafe { std::mem::zeroed() };
        let find = unsafe { (*api).xFindTokenizer }.ok_or_else(|| unavailable("xFindTokenizer"))?;
        let rc = unsafe { find(api, name.as_ptr(), &mut user_data, &mut methods) };
        if rc != ffi::SQLITE_OK {
            return Err(unavailable(format!("no tokenizer {name:?} ({rc})")));
        }
        Ok((user_data, methods))
    }
}

fn unavailable(why: impl std::fmt::Display) -> StoreError {
    StoreError::Tokenizer(format!("is unavailable: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(t: &mut Tokenizer, text: &str, purpose: Purpose) -> Vec<String> {
        let mut out = Vec::new();
        t.tokens(text, purpose, &mut |b| {
            out.push(String::from_utf8_lossy(b).into_owned())
        })
        .unwrap();
        out
    }

    #[test]
    fn folds_as_the_archive_index_does() {
        let mut t = Tokenizer::new(super::super::FTS_DEFINITION, Stage::Stemmed).unwrap();
        assert_eq!(
            tokens(
                &mut t,
                "Iran's DRONES hit Kyiv-Café, 2026!",
                Purpose::Document
            ),
            ["iran", "s", "drone", "hit", "kyiv", "cafe", "2026"]
        );
        assert_eq!(
            tokens(&mut t, "Україна, Ärger", Purpose::Document),
            ["україна", "arger"]
        );
        assert_eq!(tokens(&mut t, "running", Purpose::PrefixQuery), ["run"]);
        assert!(tokens(&mut t, "!!! …", Purpose::Query).is_empty());
    }
}
