//! Store, the archive index's own tokenizer lent to the live matcher
//! (docs/DESIGN.md §3): SQLite's FTS5 `porter unicode61 remove_diacritics 2`,
//! reached through the `fts5_api` of a private in-memory connection. The
//! matcher splits and folds text with the very code that builds the
//! archive's index, so a word `search` finds is a word the matcher finds:
//! one source of truth, where a port of unicode61's tables and of the
//! Porter stemmer would be a second one to keep equal (the differential
//! test in tests/it/matcher.rs checks the whole matcher against FTS5).
//! And back: the archive index takes the matcher's tokens of the texts it
//! has just read (`Replay`, `register_replay`), so that a new item is
//! tokenised once.
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
        self.tokens_at(text, purpose, &mut |token, _, _| each(token))
    }

    /// `tokens`, with each token's byte offsets in `text` (start, end).
    pub(crate) fn tokens_at(
        &mut self,
        text: &str,
        purpose: Purpose,
        each: &mut dyn FnMut(&[u8], i32, i32),
    ) -> Result<()> {
        // Longer texts than an int can count are cut (FTS5 itself takes no
        // longer text; items are far shorter, `MAX_SUMMARY`).
        let len = text.len().min(c_int::MAX as usize);
        let Some(tokenize) = self.methods.xTokenize else {
            return Err(unavailable("xTokenize"));
        };
        let mut sink: &mut dyn FnMut(&[u8], i32, i32) = each;
        // SAFETY: `instance` is live (deleted only in Drop); `text` outlives
        // the call; the context is `sink`, read back as the same type.
        let rc = unsafe {
            tokenize(
                self.instance,
                (&mut sink as *mut &mut dyn FnMut(&[u8], i32, i32)).cast::<c_void>(),
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
    start: c_int,
    end: c_int,
) -> c_int {
    if ctx.is_null() || token.is_null() || len < 0 {
        return ffi::SQLITE_OK;
    }
    // SAFETY: `ctx` is the `&mut dyn FnMut` `tokens_at` passed, alive for
    // the call; the token is `len` bytes FTS5 owns until this returns.
    let sink = unsafe { &mut *ctx.cast::<&mut dyn FnMut(&[u8], i32, i32)>() };
    let bytes = unsafe { std::slice::from_raw_parts(token.cast::<u8>(), len as usize) };
    // A panic must not unwind into C.
    match catch_unwind(AssertUnwindSafe(|| sink(bytes, start, end))) {
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

/// The archive index's tokenizer on the store's own connection: porter as
/// SQLite has it, except that a document text the live matcher has just
/// tokenised is given the matcher's tokens (`Replay`) instead of being
/// split and stemmed a second time (nor again for its marks, `snippet()`
/// and `highlight()`). Registered under porter's own name,
/// which FTS5 then finds first (the newest of a name wins): the schema
/// still says `porter unicode61 remove_diacritics 2`, every other
/// connection (`search`, the sqlite3 shell) uses SQLite's porter, and a
/// text without a recording, or a query, goes to it as before. Only an
/// instance made with the archive's arguments replays (`ARCHIVE_ARGS`).
pub(super) fn register_replay(conn: &Connection, replay: std::sync::Arc<Replay>) -> Result<()> {
    let api = Fts5Api::of(conn)?;
    let (porter_data, porter) = api.find_tokenizer(c"porter")?;
    let api = api.api.as_ptr();
    // SAFETY: `api` is the live fts5_api of the borrowed connection.
    let create =
        unsafe { (*api).xCreateTokenizer }.ok_or_else(|| unavailable("xCreateTokenizer"))?;
    let module = Box::into_raw(Box::new(ReplayModule {
        porter_data,
        porter,
        replay,
    }));
    let mut methods = ffi::fts5_tokenizer {
        xCreate: Some(replay_create),
        xDelete: Some(replay_delete),
        xTokenize: Some(replay_tokenize),
    };
    // SAFETY: as above; FTS5 copies the methods; once registered, the
    // module is FTS5's, freed once by `replay_destroy` when the connection
    // closes.
    let rc = unsafe {
        create(
            api,
            c"porter".as_ptr(),
            module.cast::<c_void>(),
            &mut methods,
            Some(replay_destroy),
        )
    };
    if rc != ffi::SQLITE_OK {
        // Not registered (out of memory): FTS5 kept nothing and calls no
        // destructor (fts5CreateTokenizer), so the module is ours to free.
        // SAFETY: made by Box::into_raw above, not handed over.
        drop(unsafe { Box::from_raw(module) });
        return Err(unavailable(format!(
            "cannot register the replaying porter ({rc})"
        )));
    }
    Ok(())
}

/// The arguments of the archive's porter (`FTS_DEFINITION`): the only
/// instances whose texts the matcher's tokens are (its split is unicode61
/// with them).
const ARCHIVE_ARGS: [&str; 3] = ["unicode61", "remove_diacritics", "2"];

/// What the replaying porter needs: SQLite's porter, and the recordings.
struct ReplayModule {
    porter_data: *mut c_void,
    porter: ffi::fts5_tokenizer,
    replay: std::sync::Arc<Replay>,
}

/// One instance of the replaying porter: one of SQLite's porter inside.
struct ReplayInstance {
    porter: *mut ffi::Fts5Tokenizer,
    module: *const ReplayModule,
    /// Made with the archive's arguments: it may replay.
    archive: bool,
}

// SAFETY: only FTS5 calls it, with the module `register_replay` gave it,
// once, when the connection closes.
unsafe extern "C" fn replay_destroy(module: *mut c_void) {
    if !module.is_null() {
        // SAFETY: made by Box::into_raw in `register_replay`, freed once.
        drop(unsafe { Box::from_raw(module.cast::<ReplayModule>()) });
    }
}

// SAFETY: only FTS5 calls it, with the module as user data and its
// arguments for porter, which it owns for the call.
unsafe extern "C" fn replay_create(
    module: *mut c_void,
    args: *mut *const c_char,
    n_args: c_int,
    out: *mut *mut ffi::Fts5Tokenizer,
) -> c_int {
    let module = module.cast::<ReplayModule>();
    if module.is_null() || out.is_null() {
        return ffi::SQLITE_ERROR;
    }
    // SAFETY: the module lives as long as the connection's FTS5 (until
    // `replay_destroy`), longer than any instance.
    let Some(create) = (unsafe { (*module).porter.xCreate }) else {
        return ffi::SQLITE_ERROR;
    };
    let mut porter: *mut ffi::Fts5Tokenizer = std::ptr::null_mut();
    // SAFETY: porter's own xCreate with its user data and FTS5's arguments.
    let rc = unsafe { create((*module).porter_data, args, n_args, &mut porter) };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    // SAFETY: FTS5's arguments for this xCreate, live for the call.
    let archive = unsafe { archive_args(args, n_args) };
    let instance = Box::new(ReplayInstance {
        porter,
        module,
        archive,
    });
    // SAFETY: `out` is FTS5's slot for the new instance.
    unsafe { *out = Box::into_raw(instance).cast::<ffi::Fts5Tokenizer>() };
    ffi::SQLITE_OK
}

/// Whether `args` (`n` C strings) are the archive's porter arguments.
// SAFETY: callers pass `args` pointing to `n` pointers, each null or a C
// string, live for the call (FTS5's xCreate arguments).
unsafe fn archive_args(args: *mut *const c_char, n: c_int) -> bool {
    if args.is_null() || usize::try_from(n).ok() != Some(ARCHIVE_ARGS.len()) {
        return false;
    }
    ARCHIVE_ARGS.iter().enumerate().all(|(i, want)| {
        // SAFETY: i < n, per the contract above.
        let arg = unsafe { *args.add(i) };
        // SAFETY: a C string, live for the call, when not null.
        !arg.is_null() && unsafe { std::ffi::CStr::from_ptr(arg) }.to_bytes() == want.as_bytes()
    })
}

// SAFETY: only FTS5 calls it, once per instance `replay_create` made.
unsafe extern "C" fn replay_delete(instance: *mut ffi::Fts5Tokenizer) {
    if instance.is_null() {
        return;
    }
    // SAFETY: made by Box::into_raw in `replay_create`, deleted once; its
    // module outlives it.
    let instance = unsafe { Box::from_raw(instance.cast::<ReplayInstance>()) };
    // SAFETY: the module outlives its instances (`replay_destroy`).
    let delete = unsafe { (*instance.module).porter.xDelete };
    if let (false, Some(delete)) = (instance.porter.is_null(), delete) {
        // SAFETY: porter's instance, made by its xCreate, deleted once.
        unsafe { delete(instance.porter) };
    }
}

/// The token callback FTS5 passes to a tokenizer.
// SAFETY: a function type; only FTS5's own callback is ever called through it.
type TokenCallback =
    unsafe extern "C" fn(*mut c_void, c_int, *const c_char, c_int, c_int, c_int) -> c_int;

// SAFETY: only FTS5 calls it, with an instance `replay_create` made and a
// text of `len` bytes it owns for the call.
unsafe extern "C" fn replay_tokenize(
    instance: *mut ffi::Fts5Tokenizer,
    ctx: *mut c_void,
    flags: c_int,
    text: *const c_char,
    len: c_int,
    token: Option<TokenCallback>,
) -> c_int {
    let instance = instance.cast::<ReplayInstance>();
    if instance.is_null() {
        return ffi::SQLITE_ERROR;
    }
    // SAFETY: the instance is live for the call, its module longer.
    let (module, archive) = unsafe { (&*(*instance).module, (*instance).archive) };
    // A document being indexed, or read again for `snippet()` and
    // `highlight()` (the same tokens, whose offsets are recorded too); a
    // query is porter's.
    if archive
        && (flags == ffi::FTS5_TOKENIZE_DOCUMENT || flags == ffi::FTS5_TOKENIZE_AUX)
        && let Some(each) = token
        && !text.is_null()
        && len >= 0
    {
        // SAFETY: FTS5's text, `len` bytes, for the call.
        let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len as usize) };
        if let Some(rc) = module.replay.replayed(bytes, &mut |stem, start, end| {
            // SAFETY: FTS5's own callback and context, with a token that
            // lives until it returns.
            unsafe {
                each(
                    ctx,
                    0,
                    stem.as_ptr().cast::<c_char>(),
                    stem.len() as c_int,
                    start,
                    end,
                )
            }
        }) {
            return rc;
        }
    }
    let Some(tokenize) = module.porter.xTokenize else {
        return ffi::SQLITE_ERROR;
    };
    // SAFETY: porter's own xTokenize on its instance, with FTS5's arguments.
    unsafe { tokenize((*instance).porter, ctx, flags, text, len, token) }
}

/// The tokens the live matcher gave texts it has just read, by the text:
/// each a stem as porter makes it, with its place in the text. Kept for one
/// group's insert into the archive index, then cleared. A text's tokens are
/// a function of the text alone, so a recording can never be another
/// text's, whichever item it came from.
#[derive(Default)]
pub(crate) struct Replay {
    /// The recordings, and the bytes they hold.
    texts: std::sync::Mutex<(Recordings, usize)>,
    /// Texts given their recorded tokens so far (read by the tests; one
    /// relaxed add per text).
    replayed: std::sync::atomic::AtomicUsize,
}

/// Each recorded text's tokens, by the text.
type Recordings = rustc_hash::FxHashMap<Box<[u8]>, Recording>;

/// The most the recordings of one group hold, in bytes, as allocated
/// (about 2,000 items of 2.3 KB; a group is at most 5,000 items). At 4 MB
/// the farm's first poll lost most of the saving (groups are large while
/// the writer is busy) and its peak still grew.
const REPLAY_BUDGET: usize = 32 << 20;

/// One text's tokens: the stems one after another, and per token where its
/// stem ends in them and where it is in the text.
#[derive(Default)]
pub(crate) struct Recording {
    stems: Vec<u8>,
    tokens: Vec<(u32, i32, i32)>,
}

impl Recording {
    pub(crate) fn push(&mut self, stem: &[u8], start: i32, end: i32) {
        self.stems.extend_from_slice(stem);
        self.tokens.push((self.stems.len() as u32, start, end));
    }
}

impl Replay {
    /// Keeps `recording` for `text`, unless the recordings already hold
    /// `REPLAY_BUDGET` bytes: past it, texts go to porter, so that a group
    /// of 5,000 long items cannot hold twice its text in recordings.
    pub(crate) fn record(&self, text: &str, recording: Recording) {
        let size = text.len() + recording.stems.capacity() + recording.tokens.capacity() * 12;
        if let Ok(mut guard) = self.texts.lock() {
            let (texts, held) = &mut *guard;
            if *held + size <= REPLAY_BUDGET {
                *held += size;
                texts.insert(text.as_bytes().into(), recording);
            }
        }
    }

    /// How many texts were given their recorded tokens.
    #[cfg(test)]
    pub(crate) fn replayed_count(&self) -> usize {
        self.replayed.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut guard) = self.texts.lock() {
            guard.0.clear();
            guard.1 = 0;
        }
    }

    /// Hands `text`'s recorded tokens to `each`, stopping at its first
    /// error: `None` when there is no recording of it.
    fn replayed(
        &self,
        text: &[u8],
        each: &mut dyn FnMut(&[u8], i32, i32) -> c_int,
    ) -> Option<c_int> {
        let guard = self.texts.lock().ok()?;
        let recording = guard.0.get(text)?;
        self.replayed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut from = 0;
        for &(to, start, end) in &recording.tokens {
            // Cannot fail (the ends grow within the stems); were it to, the
            // text fails rather than being indexed twice.
            let Some(stem) = recording.stems.get(from..to as usize) else {
                return Some(ffi::SQLITE_ERROR);
            };
            from = to as usize;
            let rc = each(stem, start, end);
            if rc != ffi::SQLITE_OK {
                return Some(rc);
            }
        }
        Some(ffi::SQLITE_OK)
    }
}

fn unavailable(why: impl std::fmt::Display) -> StoreError {
    StoreError::Tokenizer(format!("is unavailable: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recordings_of_a_group_are_bounded() {
        let replay = Replay::default();
        let text = "word ".repeat(200_000); // 1 MB
        for i in 0..40 {
            let mut recording = Recording::default();
            recording.push(b"word", 0, 4);
            replay.record(&format!("{i}{text}"), recording);
        }
        let (texts, held) = &*replay.texts.lock().unwrap();
        assert!(*held <= REPLAY_BUDGET, "{held}");
        assert!((25..40).contains(&texts.len()), "{}", texts.len());
    }

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
