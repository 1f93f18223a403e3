//! Putting the target back. Before a check changes a record it asks [`Undo`] to protect it: the
//! record's state is written down ([`Saved`]; in the on-disk [`journal`] first, when the run keeps
//! one) and a [`Guard`] says the change may be sent. The run then asks [`Undo::restore`] to put
//! back each family after its write checks and everything at the end ([`restore`]: read back,
//! written back, verified). Once the run's [`Stop`] is set nothing more is protected, so nothing
//! more is changed.
//!
//! It knows the contract and the client, never the checks or the engine: they call into it, it
//! calls nothing of theirs.

pub mod journal;
pub mod lock;
pub mod restore;
mod stop;

pub use stop::Stop;

use crate::client::{Body, Client, Request};
use crate::spec::model::Kind;
use crate::spec::resource::{get_path, set_path};
use crate::spec::{Endpoint, Spec};
use crate::verdict::RestoreProblem;
use journal::Journal;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the run did to a record, and so how to undo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// PATCHed: write the original back.
    Changed,
    /// Created by the run: delete it.
    Created,
}

/// What the run sent to a record: every value it wrote to each field, or that any field may have
/// been changed (a probe the target should have refused, whose effect is unknown). A restore
/// writes a field back only while it holds one of these values: any other value was put there
/// by someone else, and is left alone and reported.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Wrote {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Vec<Value>>,
}

impl Wrote {
    pub fn is_empty(&self) -> bool {
        !self.any && self.fields.is_empty()
    }

    /// Adds what `other` wrote (each value once).
    pub fn merge(&mut self, other: &Wrote) {
        self.any |= other.any;
        for (f, vs) in &other.fields {
            let mine = self.fields.entry(f.clone()).or_default();
            for v in vs {
                if !mine.contains(v) {
                    mine.push(v.clone());
                }
            }
        }
    }

    /// What a request sends to a record of `res`: the patchable fields of a PATCH body; any
    /// field for another method (a PUT, POST or unlisted method the target should refuse).
    pub fn of(res: &crate::spec::resource::Resource, req: &Request) -> Wrote {
        let mut w = Wrote::default();
        match (&req.body, req.method.as_str()) {
            (Some(Body::Json(b)), "PATCH") => {
                for f in res.patchable() {
                    if let Some(v) = get_path(b, &f.path) {
                        w.fields.insert(f.path.clone(), vec![v.clone()]);
                    }
                }
            }
            (_, "PATCH") => {}
            _ => w.any = true,
        }
        w
    }
}

/// A record's state before the run's first change to it.
#[derive(Debug, Clone)]
pub struct Saved {
    pub family: String,
    pub path: String,
    pub change: Change,
    /// As a GET returned it (secret fields redacted), as compact JSON text: a collection PATCH
    /// keeps a whole family's originals, and a text costs a fraction of a `Value` tree.
    original: std::sync::Arc<str>,
}

impl Saved {
    /// `original`: the record as read (Null for a record the run creates).
    pub fn new(family: &str, path: &str, change: Change, original: &Value) -> Saved {
        Saved {
            family: family.to_string(),
            path: path.to_string(),
            change,
            original: original.to_string().into(),
        }
    }

    /// The record as it was before the run's first change (Null for a created one).
    pub fn original(&self) -> Value {
        // The text was written by serde_json from a Value: it parses.
        serde_json::from_str(&self.original).expect("a saved record's own JSON text")
    }
}

/// Records written down in bulk, read where the run keeps them anyway (the discovery's records
/// of a family, see [`Undo::protect_known`]) rather than copied: a collection PATCH on a large
/// cluster writes down hundreds of thousands.
pub trait Originals: Send + Sync {
    fn count(&self) -> usize;
    /// The record at `i`.
    fn record(&self, i: usize) -> Option<Value>;
    /// Every record, in order.
    fn each(&self) -> Box<dyn Iterator<Item = Value> + '_>;
    /// Every record, in order, with at least the fields `keep` names (a pass that reads only
    /// those need not build the rest); None: whole.
    fn each_keeping<'a>(
        &'a self,
        keep: Option<&'a crate::client::slim::Keep>,
    ) -> Box<dyn Iterator<Item = Value> + 'a> {
        let _ = keep;
        self.each()
    }
    /// Every record's identity ([`crate::checks::read::identity`]), in order, when they are kept
    /// apart from the records (a listing names the records it proved back from them, without
    /// parsing a record); None: not kept.
    fn ids(&self) -> Option<Box<dyn Iterator<Item = &str> + '_>> {
        None
    }
}

impl Originals for Vec<Value> {
    fn count(&self) -> usize {
        self.len()
    }
    fn record(&self, i: usize) -> Option<Value> {
        self.get(i).cloned()
    }
    fn each(&self) -> Box<dyn Iterator<Item = Value> + '_> {
        Box::new(self.iter().cloned())
    }
}

/// A family written down in bulk: where its records are, and per record (by position) the
/// hash of its path and of what a restore compares (see [`compared`]).
struct Bulk {
    family: String,
    inst: &'static Endpoint,
    records: Arc<dyn Originals>,
    paths: Arc<[PathHash]>,
    compared: Vec<u64>,
    /// Per record: a read-back proved it as written down, and no change was announced for it
    /// since (a restore skips it; see [`Undo::mark_clean`]). A byte a record, where a set of
    /// their path hashes took 16 and the set's slack.
    clean: Vec<bool>,
}

impl Bulk {
    /// The paths of the records at the positions `which` holds true, in order. Each is made
    /// from the record's identity when its records keep them apart (no record parsed), and
    /// taken only when its hash is the one written down; else from the record itself.
    fn paths_of<'a>(
        &'a self,
        res: &'a crate::spec::resource::Resource,
        which: &'a [bool],
    ) -> impl Iterator<Item = String> + 'a {
        let ids = self.records.ids();
        let from_record = move |i: usize| {
            self.records
                .record(i)
                .and_then(|r| instance_path(self.inst, &r))
        };
        let mut ids = ids.into_iter().flatten();
        which.iter().enumerate().filter_map(move |(i, &yes)| {
            let id = ids.next();
            if !yes {
                return None;
            }
            id.and_then(|id| path_from_identity(self.inst, &res.keys, id))
                .filter(|p| self.paths.get(i) == Some(&path_hash(p)))
                .or_else(|| from_record(i))
        })
    }
}

/// A record's path made from its identity (its key values joined by `/`), or None when the
/// identity does not split into one value a key (a value holding `/`) or the path names a key
/// the identity lacks. The caller checks the path against its hash.
fn path_from_identity(inst: &Endpoint, keys: &[String], id: &str) -> Option<String> {
    let values: Vec<&str> = id.split('/').collect();
    if values.len() != keys.len() {
        return None;
    }
    inst.render_by(|k| {
        let at = keys.iter().position(|x| x == k)?;
        Some(std::borrow::Cow::Borrowed(values[at]))
    })
}

/// Where a saved record is. Eight bytes: an entry of [`SavedList::at`] (a large family has one
/// a record).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Loc {
    /// Saved one by one, at this index.
    One(u32),
    /// Written down in bulk: (which bulk, the record's position in it).
    Bulk(u16, u32),
}

/// The saved records, found by path through a 96-bit hash of it ([`path_hash`]): a collection
/// PATCH saves a whole family, and every later write asks whether its record is saved.
#[derive(Default)]
struct SavedList {
    list: Vec<Saved>,
    /// The path hash of each record of `list`.
    list_paths: Vec<PathHash>,
    bulks: Vec<Bulk>,
    /// Where each saved record is (the first place it was saved), by its path's hash. A table
    /// of [`Loc`]s alone: the hash of an entry is read where its record is kept (`list_paths`,
    /// a bulk's paths), so an entry takes 8 bytes, where a map of hash and place took 20 (a
    /// large family has an entry a record: 11 MB at 350,000).
    at: hashbrown::HashTable<Loc>,
    /// How many are saved of each family.
    per_family: HashMap<String, usize>,
}

/// Where the path hashes of saved records are kept: records saved one by one, the bulks, and the
/// bulk being written down (its place in `bulks` is `bulks.len()`).
#[derive(Clone, Copy)]
struct Hashes<'a> {
    list: &'a [PathHash],
    bulks: &'a [Bulk],
    writing: &'a [PathHash],
}

impl Hashes<'_> {
    fn of(&self, loc: Loc) -> PathHash {
        match loc {
            Loc::One(i) => self.list[i as usize],
            Loc::Bulk(b, i) if usize::from(b) == self.bulks.len() => self.writing[i as usize],
            Loc::Bulk(b, i) => self.bulks[usize::from(b)].paths[i as usize],
        }
    }
    /// The place of a path hash in `at`, if it is saved.
    fn find(&self, at: &hashbrown::HashTable<Loc>, h: &PathHash) -> Option<Loc> {
        at.find(h.word(), |&l| self.of(l) == *h).copied()
    }
    /// Enters a place of a hash not in `at`.
    fn insert(&self, at: &mut hashbrown::HashTable<Loc>, h: &PathHash, loc: Loc) {
        at.insert_unique(h.word(), loc, |&l| self.of(l).word());
    }
}

impl SavedList {
    fn hashes(&self) -> Hashes<'_> {
        Hashes {
            list: &self.list_paths,
            bulks: &self.bulks,
            writing: &[],
        }
    }
    fn get(&self, h: &PathHash) -> Option<Loc> {
        self.hashes().find(&self.at, h)
    }
    fn find(&self, k: &Keep, path: &str) -> Option<Saved> {
        match self.get(&path_hash(path))? {
            Loc::One(i) => Some(self.list[i as usize].clone()),
            Loc::Bulk(b, i) => self.bulk_saved(k, b.into(), i as usize),
        }
    }
    fn loc(&self, path: &str) -> Option<Loc> {
        self.get(&path_hash(path))
    }
    fn contains(&self, path: &str) -> bool {
        self.get(&path_hash(path)).is_some()
    }
    /// Marks a record written down in bulk clean or not (records saved one by one are always
    /// read back: nothing to mark).
    fn set_clean(&mut self, hash: &PathHash, clean: bool) {
        if let Some(Loc::Bulk(b, i)) = self.get(hash) {
            self.bulks[usize::from(b)].clean[i as usize] = clean;
        }
    }
    fn count(&mut self, family: &str, n: usize) {
        match self.per_family.get_mut(family) {
            Some(k) => *k += n,
            None => {
                self.per_family.insert(family.to_string(), n);
            }
        }
    }
    /// Whether one more record can be saved one by one (its index must fit a [`Loc`]).
    fn has_room(&self) -> bool {
        u32::try_from(self.list.len()).is_ok()
    }
    /// Keeps a record saved one by one (the caller made sure of [`SavedList::has_room`]).
    fn push(&mut self, s: Saved) {
        let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.count(&s.family, 1);
        let h = path_hash(&s.path);
        self.list_paths.push(h);
        let hashes = Hashes {
            list: &self.list_paths,
            bulks: &self.bulks,
            writing: &[],
        };
        hashes.insert(&mut self.at, &h, Loc::One(i));
        self.list.push(s);
    }
    /// A bulk record as a [`Saved`] (read from where it is kept).
    fn bulk_saved(&self, k: &Keep, b: usize, i: usize) -> Option<Saved> {
        let bulk = &self.bulks[b];
        bulk_entry(k, bulk, &bulk.records.record(i)?)
    }
    /// The saved records of one family (or all) a restore must look at: those saved one by one,
    /// then those written down in bulk but the clean ones (read in order, parsed only when
    /// kept).
    fn select(&self, k: &Keep, family: Option<&str>) -> Vec<Saved> {
        let mut out: Vec<Saved> = self
            .list
            .iter()
            .filter(|s| family.is_none_or(|f| f == s.family))
            .cloned()
            .collect();
        for (b, bulk) in self.bulks.iter().enumerate() {
            if family.is_some_and(|f| f != bulk.family) {
                continue;
            }
            let mine = |i: usize| {
                let h = bulk.paths[i];
                matches!(self.get(&h), Some(Loc::Bulk(x, y)) if usize::from(x) == b && y as usize == i)
                    && !bulk.clean[i]
            };
            let wanted: Vec<usize> = (0..bulk.paths.len()).filter(|&i| mine(i)).collect();
            if wanted.len() * 8 < bulk.paths.len() {
                out.extend(wanted.into_iter().filter_map(|i| self.bulk_saved(k, b, i)));
            } else {
                // Many: the family is read in order once, not a record at a time.
                out.extend(
                    bulk.records
                        .each()
                        .enumerate()
                        .filter(|(i, _)| mine(*i))
                        .filter_map(|(_, r)| bulk_entry(k, bulk, &r)),
                );
            }
        }
        out
    }
}

/// A record of a bulk family as a [`Saved`].
fn bulk_entry(k: &Keep, bulk: &Bulk, r: &Value) -> Option<Saved> {
    let p = instance_path(bulk.inst, r)?;
    Some(Saved::new(
        &bulk.family,
        &p,
        Change::Changed,
        &kept_original(k, bulk.inst, r),
    ))
}

/// What reading a bulk record's original needs: the contract, and its secret fields' names
/// (worked out once, not once a record).
struct Keep {
    spec: &'static Spec,
    names: Vec<String>,
}

/// What a restore compares and writes back of a record written down in bulk: its patchable,
/// gettable fields, secrets redacted (the path names the record).
fn kept_original(k: &Keep, inst: &Endpoint, r: &Value) -> Value {
    let mut kept = serde_json::Map::new();
    for f in k
        .spec
        .resource_of(inst)
        .patchable()
        .filter(|f| f.gettable())
    {
        if let Some(v) = get_path(r, &f.path) {
            set_path(&mut kept, &f.path, v.clone());
        }
    }
    let mut original = Value::Object(kept);
    crate::redact::redact_named(&mut original, &k.names);
    original
}

/// A hash of [`kept_original`]: two records hash alike when a restore would find nothing to
/// write back (where they differ only as a restore's finer comparison forgives, the listing
/// reads the original and compares as a restore does).
fn compared(k: &Keep, inst: &Endpoint, r: &Value) -> u64 {
    hash_kept(&kept_original(k, inst, r))
}

/// [`compared`], of a [`kept_original`] already made.
fn hash_kept(kept: &Value) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x6f63_636d_7072).hash_one(kept.to_string())
}

/// What a listing shows of one record (see [`Listing::record`]).
#[derive(Debug)]
pub enum Seen {
    /// Equal to what was written down of it.
    Same,
    /// Not equal to what was written down of it: that original.
    Differs(Value),
    /// Not written down (or not named by its keys).
    NotSaved,
}

/// A listing of a family after a collection write (see [`Undo::listing`]).
pub struct Listing<'u> {
    undo: &'u Undo,
    coll: &'u Endpoint,
    inst: &'u Endpoint,
    /// Records written down in bulk that the listing showed equal to their originals: per bulk,
    /// a byte a record (a family of 200,000 records kept 15 MB of their paths here).
    equal_bulk: Vec<(u16, Vec<bool>)>,
    /// Records saved one by one that the listing showed equal, by path.
    equal_one: crate::checks::records::TextList,
    unjournaled: Vec<RestoreProblem>,
}

impl Listing<'_> {
    /// One record of the listing, against what was written down of it.
    pub fn record(&mut self, r: &Value) -> Seen {
        let Some(p) = instance_path(self.inst, r) else {
            return Seen::NotSaved;
        };
        let (spec, keep) = (self.undo.spec, &self.undo.keep);
        let saved = self.undo.saved.lock().unwrap();
        let loc = saved.loc(&p);
        let seen = match loc {
            Some(Loc::Bulk(b, i))
                if saved.bulks[usize::from(b)].compared[i as usize]
                    == compared(keep, self.inst, r) =>
            {
                Seen::Same
            }
            Some(_) => match saved.find(keep, &p) {
                Some(s) => {
                    let o = s.original();
                    if restore::differences(spec.resource_of(self.inst), &o, r).is_empty() {
                        Seen::Same
                    } else {
                        Seen::Differs(o)
                    }
                }
                None => Seen::NotSaved,
            },
            None => {
                self.unjournaled.push(RestoreProblem {
                    record: p.clone(),
                    field: None,
                    original: None,
                    reason: "appeared during a collection PATCH (created by someone else?): not journaled before it, so the PATCH may have changed it and its state before is unknown; check it by hand".into(),
                    curl: None,
                });
                Seen::NotSaved
            }
        };
        if matches!(seen, Seen::Same) {
            match loc {
                Some(Loc::Bulk(b, i)) => {
                    let at = match self.equal_bulk.iter().position(|(x, _)| *x == b) {
                        Some(at) => at,
                        None => {
                            let n = saved.bulks[usize::from(b)].paths.len();
                            self.equal_bulk.push((b, vec![false; n]));
                            self.equal_bulk.len() - 1
                        }
                    };
                    self.equal_bulk[at].1[i as usize] = true;
                }
                _ => self.equal_one.push(&p),
            }
        }
        seen
    }

    /// The listing ended; `complete`: it read every page, so the records it showed equal are
    /// proved back (in the journal too). Records not written down are reported either way.
    pub fn finish(self, complete: bool) {
        if complete && (!self.equal_one.is_empty() || !self.equal_bulk.is_empty()) {
            let mut saved = self.undo.saved.lock().unwrap();
            {
                let res = self.undo.spec.resource_of(self.inst);
                let bulk_paths = self
                    .equal_bulk
                    .iter()
                    .flat_map(|(b, equal)| saved.bulks[usize::from(*b)].paths_of(res, equal));
                let paths = self
                    .equal_one
                    .iter()
                    .map(std::borrow::Cow::Borrowed)
                    .chain(bulk_paths.map(std::borrow::Cow::Owned));
                // The journal is written with the saved records locked, as a write-down is.
                self.undo.verified_many(paths);
            }
            // Records saved one by one are always read back: only a bulk's are marked clean.
            for (b, equal) in &self.equal_bulk {
                let clean = &mut saved.bulks[usize::from(*b)].clean;
                for (c, &e) in clean.iter_mut().zip(equal) {
                    *c |= e;
                }
            }
        }
        let mut lasting = self.undo.lasting.lock().unwrap();
        if !complete {
            lasting.push(RestoreProblem {
                record: self.coll.path().to_string(),
                field: None,
                original: None,
                reason: "could not be listed after a collection PATCH to find records not written down before it".into(),
                curl: None,
            });
        }
        lasting.extend(self.unjournaled);
    }
}

/// The endpoint that names one record of a family (an instance or a singleton).
fn record_endpoint<'s>(spec: &'s Spec, family: &str) -> Option<&'s Endpoint> {
    spec.endpoints
        .iter()
        .find(|e| e.family == family && matches!(e.kind(), Kind::Instance | Kind::Singleton))
}

/// What [`Undo::protect`] and [`Undo::will_create`] hand back: the record is written down, so a
/// change to it may be sent. Dropping it restores nothing: the run puts each family back after
/// its write checks, and everything at the end.
#[must_use = "a record is protected to be changed: send the change while holding its guard"]
#[derive(Debug)]
pub struct Guard {
    original: Value,
}

impl Guard {
    /// The record before the run's first change to it, secrets redacted (Null for a record the
    /// run is about to create).
    pub fn original(&self) -> &Value {
        &self.original
    }
}

/// What [`Undo::protect_known`] hands back: every record of a family is written down, so a
/// change that may reach any of them (a collection PATCH) may be sent.
#[must_use = "records are protected to be changed: send the change while holding the guard"]
#[derive(Debug)]
pub struct FamilyGuard {
    /// The records it covers, by [`path_hash`] (shared with the bulk that wrote them down).
    paths: Arc<[PathHash]>,
}

impl FamilyGuard {
    /// How many records it covers.
    pub fn records(&self) -> usize {
        self.paths.len()
    }
}

/// A 96-bit hash of a record path (a fixed-seed 64-bit hash and 32 bits of another), to tell a
/// path from the others of a large family without keeping a copy of each. Two paths of a
/// million share one with a chance of about 10^-17.
pub(crate) fn path_hash(path: &str) -> PathHash {
    use std::hash::BuildHasher;
    let a = foldhash::quality::FixedState::with_seed(0x6f6e_7461_702d_636f).hash_one(path);
    let b = foldhash::quality::FixedState::with_seed(0x6e66_6f72_6d2d_7061).hash_one(path);
    PathHash([a as u32, (a >> 32) as u32, b as u32])
}

/// A record path's [`path_hash`]: three 32-bit words, aligned to 4. A large family has an entry
/// a record in each map keyed by it: two 64-bit words (aligned to 8) made an entry with a byte
/// of value 24 bytes, and a `u128` (aligned to 16) 32; this makes it 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PathHash([u32; 3]);

impl PathHash {
    /// The first 64 bits: what a table keyed by the hash hashes it by (it is a hash already).
    fn word(&self) -> u64 {
        u64::from(self.0[0]) | u64::from(self.0[1]) << 32
    }
}

impl std::hash::Hash for PathHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let [a, b, c] = self.0;
        state.write_u64(u64::from(a) | u64::from(b) << 32);
        state.write_u32(c);
    }
}

/// The hasher of maps keyed by [`PathHash`]: the key is a hash already, so a fast one will do
/// (std's SipHash cost more than the lookup).
pub(crate) type PathHasher = foldhash::fast::FixedState;
/// A map keyed by [`PathHash`].
pub(crate) type PathMap<V> = HashMap<PathHash, V, PathHasher>;

/// The path that names a record (and under which it is saved), from its key values.
pub fn instance_path(inst: &Endpoint, record: &Value) -> Option<String> {
    inst.render_with(|k| get_path(record, k))
}

/// Why a record must not be changed: a patchable text field holds a value another run of the
/// harness wrote (it starts with [`crate::generate::MARK`]), so that run may still be changing
/// the target, and its value would be taken for an original. None: no such value.
pub fn foreign(spec: &Spec, ep: &Endpoint, path: &str, record: &Value) -> Option<String> {
    let res = spec.resource_of(ep);
    res.patchable().find_map(|f| {
        let v = get_path(record, &f.path)?.as_str()?;
        v.starts_with(crate::generate::MARK).then(|| {
            format!(
                "another run may be in progress: {path} {} holds {}, a value ontap-conform writes (it starts with {}); nothing more is changed. If no other run is going on, a killed run left it: finish it with `ontap-conform restore`, or put the value back by hand",
                f.path,
                crate::verdict::show_value(Some(&Value::String(v.to_string()))),
                crate::generate::MARK
            )
        })
    })
}

/// Everything a run needs to put its target back: the saved records, the journal, the restore
/// and what it could not put back.
pub struct Undo {
    spec: &'static Spec,
    /// Restores go straight through the client: the checks do not judge them.
    client: Client,
    stop: Arc<Stop>,
    /// The on-disk journal (remote targets); None: saved records are kept in memory only.
    journal: Option<Arc<Journal>>,
    saved: Mutex<SavedList>,
    keep: Keep,
    /// Saved records journaled in bulk (a collection PATCH's family) that a read-back proved as
    /// saved, untouched since: a restore skips them.
    problems: Mutex<Vec<RestoreProblem>>,
    /// Problems no later restore clears (see [`Undo::problems`]).
    lasting: Mutex<Vec<RestoreProblem>>,
    /// What the run sent to each saved record...
    wrote: Mutex<HashMap<String, Wrote>>,
    /// ...and to every record of a family (collection writes).
    family_wrote: Mutex<HashMap<String, Wrote>>,
    /// When the last write in doubt (no answer: it may still land) got no answer.
    in_doubt: Mutex<Option<Instant>>,
    /// How long after a write in doubt a restore waits before it reads records back.
    settle: Duration,
}

/// How long a restore waits after a write that got no answer, before it reads back: twice the
/// request timeout (a write held up to three timeouts after it was sent lands before the read).
pub fn settle_time(timeout: Duration) -> Duration {
    timeout * 2
}

impl Undo {
    pub fn new(
        spec: &'static Spec,
        client: Client,
        stop: Arc<Stop>,
        journal: Option<Arc<Journal>>,
    ) -> Undo {
        let settle = settle_time(client.timeout());
        Undo {
            spec,
            client,
            stop,
            journal,
            saved: Mutex::default(),
            keep: Keep {
                spec,
                names: crate::redact::secret_names(spec),
            },
            problems: Mutex::default(),
            lasting: Mutex::default(),
            wrote: Mutex::default(),
            family_wrote: Mutex::default(),
            in_doubt: Mutex::default(),
            settle,
        }
    }

    /// Writes down what a request is about to send to saved records (in the journal first), so
    /// that a restore can tell the run's values from someone else's. GET, HEAD and OPTIONS send
    /// nothing. False: it could not be written down, and the request must not be sent.
    pub fn will_send(&self, ep: &Endpoint, req: &Request) -> bool {
        if matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            return true;
        }
        let res = self.spec.resource_of(ep);
        // The journal never holds a secret: the body's secret fields are redacted first.
        let mut w = Wrote::of(res, &crate::redact::redact_request(self.spec, req));
        if w.is_empty() {
            return true;
        }
        let path = req.path.split('?').next().unwrap_or(&req.path);
        let collection = ep.kind() == Kind::Collection;
        let paths: Option<Vec<String>> = if collection {
            None
        } else {
            if !self.saved.lock().unwrap().contains(path) {
                return true;
            }
            Some(vec![path.to_string()])
        };
        if let Some(j) = &self.journal
            && let Err(e) = j.wrote(&ep.family, paths.as_deref(), &w)
        {
            self.stop
                .now(format!("the restore journal could not be written: {e}"));
            return false;
        }
        // A probe's "any field" counts once its answer shows it was not refused (see
        // [`Undo::answered`]); the journal has it already, for a run that dies meanwhile.
        w.any = false;
        self.remember(ep, path, collection, &w);
        true
    }

    fn remember(&self, ep: &Endpoint, path: &str, collection: bool, w: &Wrote) {
        if collection {
            self.family_wrote
                .lock()
                .unwrap()
                .entry(ep.family.clone())
                .or_default()
                .merge(w);
        } else if self.saved.lock().unwrap().contains(path) {
            self.wrote
                .lock()
                .unwrap()
                .entry(path.to_string())
                .or_default()
                .merge(w);
        }
    }

    /// A request [`Undo::will_send`] wrote down was answered with `status` (None: no answer).
    /// A probe whose effect is not known field by field (a PUT, an unlisted method) that was not
    /// refused may have changed any field of the records it names: a restore then writes every
    /// difference back.
    pub fn answered(&self, ep: &Endpoint, req: &Request, status: Option<u16>) {
        if matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "PATCH")
            || status.is_some_and(|s| (400..500).contains(&s))
        {
            return;
        }
        let path = req.path.split('?').next().unwrap_or(&req.path);
        let any = Wrote {
            any: true,
            ..Wrote::default()
        };
        self.remember(ep, path, ep.kind() == Kind::Collection, &any);
    }

    /// A write got no answer (timed out, or its connection was lost): it may land later. The
    /// next restore waits the settle time before it reads records back.
    pub fn in_doubt(&self) {
        *self.in_doubt.lock().unwrap() = Some(Instant::now());
    }

    /// Whether a write of the run got no answer.
    pub fn had_doubt(&self) -> bool {
        self.in_doubt.lock().unwrap().is_some()
    }

    /// The settle time (see [`settle_time`]).
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// What the run sent to a saved record.
    fn wrote_of(&self, s: &Saved) -> Wrote {
        let mut w = self
            .wrote
            .lock()
            .unwrap()
            .get(&s.path)
            .cloned()
            .unwrap_or_default();
        if let Some(f) = self.family_wrote.lock().unwrap().get(&s.family) {
            w.merge(f);
        }
        w
    }

    /// Saves a record's state before the first change, so that it can be put back. `read` reads
    /// the record as the target has it (None: it could not be read); it is awaited only for a
    /// record not saved yet. None: do not change the record.
    pub async fn protect(
        &self,
        family: &str,
        path: &str,
        read: impl Future<Output = Option<Value>>,
    ) -> Option<Guard> {
        let found = {
            let mut saved = self.saved.lock().unwrap();
            let found = saved.find(&self.keep, path);
            if found.is_some() {
                // About to change again: the next restore reads it back.
                saved.set_clean(&path_hash(path), false);
            }
            found
        };
        if let Some(s) = found {
            return Some(Guard {
                original: s.original(),
            });
        }
        let mut original = read.await?;
        // Another run's value is never taken for an original.
        if let Some(inst) = record_endpoint(self.spec, family)
            && let Some(why) = foreign(self.spec, inst, path, &original)
        {
            self.stop.now(why);
            return None;
        }
        // A leaking target's secrets are never written down.
        crate::redact::redact_secrets(self.spec, &mut original);
        self.save(Saved::new(family, path, Change::Changed, &original))
            .then_some(Guard { original })
    }

    /// Writes down records as the shared discovery read returned them (before the run changed
    /// anything), in one journal write, without reading each again and without a copy of them
    /// (a restore reads them where they are kept): what a collection PATCH does for the whole
    /// family. None: not all could be written down, or a record has no key values to name it
    /// by (it could not be read back or put back): then nothing is written and the change must
    /// not be sent.
    pub fn protect_known(
        &self,
        inst: &'static Endpoint,
        records: Arc<dyn Originals>,
    ) -> Option<FamilyGuard> {
        if self.stop.requested() {
            return None;
        }
        let mut saved = self.saved.lock().unwrap();
        // Where this bulk's records will be; past 65,535 bulks or 4 billion records of one,
        // nothing more is written down (and the change is not sent).
        let (Ok(b), Ok(_)) = (
            u16::try_from(saved.bulks.len()),
            u32::try_from(records.count()),
        ) else {
            return None;
        };
        let mut paths: Vec<PathHash> = Vec::with_capacity(records.count());
        let mut hashes: Vec<u64> = Vec::with_capacity(records.count());
        // How many records were not written down before: each is entered in `at` as the pass
        // finds it (at this bulk, its position), and taken out again when the pass is refused.
        let mut fresh = 0;
        // What is read of each record here: what names it and its patchable fields.
        let res = self.spec.resource_of(inst);
        let keep = crate::client::slim::Keep::fields(
            inst.path_keys()
                .into_iter()
                .chain(res.patchable().map(|f| f.path.as_str())),
        );
        // One pass: each record is named, checked and hashed, and with a journal, a record not
        // written down before has its line written as it is read. A record that cannot be
        // written down ends the pass, and the journal keeps nothing of it.
        // Some(None): a record without its keys; Some(Some(why)): another run's value.
        let mut refused: Option<Option<String>> = None;
        let written = {
            let SavedList {
                at,
                list_paths,
                bulks,
                ..
            } = &mut *saved;
            let pass = records
                .each_keeping(keep.as_ref())
                .enumerate()
                .map(|(i, r)| {
                    let Some(p) = instance_path(inst, &r) else {
                        refused = Some(None);
                        return None;
                    };
                    if let Some(why) = foreign(self.spec, inst, &p, &r) {
                        refused = Some(Some(why));
                        return None;
                    }
                    let h = path_hash(&p);
                    let kept = kept_original(&self.keep, inst, &r);
                    paths.push(h);
                    hashes.push(hash_kept(&kept));
                    let places = Hashes {
                        list: list_paths,
                        bulks,
                        writing: &paths,
                    };
                    match places.find(at, &h) {
                        None => {
                            // The count was checked above: every position fits.
                            places.insert(at, &h, Loc::Bulk(b, i as u32));
                            fresh += 1;
                            Some(Some((p, kept)))
                        }
                        Some(_) => Some(None),
                    }
                });
            // What is left for the journal: the fresh records' lines, and an end where the pass
            // was refused.
            let mut lines = pass.filter_map(|x| match x {
                Some(Some(line)) => Some(Some(line)),
                Some(None) => None,
                None => Some(None),
            });
            match &self.journal {
                Some(j) => j.add_changed_unless(&inst.family, lines),
                None => Ok(lines.all(|l| l.is_some())),
            }
        };
        if refused.is_some() || written.is_err() {
            // Nothing of this pass stays written down.
            for (i, h) in paths.iter().enumerate() {
                let this = Loc::Bulk(b, i as u32);
                if let Ok(e) = saved.at.find_entry(h.word(), |&l| l == this) {
                    e.remove();
                }
            }
            drop(saved);
            if let Some(Some(why)) = refused {
                self.stop.now(why);
            } else if let (None, Err(e)) = (refused, written) {
                self.stop
                    .now(format!("the restore journal could not be written: {e}"));
            }
            return None;
        }
        let bulk = Bulk {
            family: inst.family.clone(),
            inst,
            records,
            clean: vec![false; paths.len()],
            paths: paths.into(),
            compared: hashes,
        };
        saved.count(&inst.family, fresh);
        let guard = FamilyGuard {
            paths: bulk.paths.clone(),
        };
        saved.bulks.push(bulk);
        for p in guard.paths.iter() {
            // A collection PATCH is about to be sent: every record may change (those written
            // down by an earlier bulk too).
            saved.set_clean(p, false);
        }
        Some(guard)
    }

    /// Before another collection write to a family [`Undo::protect_known`] wrote down: every
    /// record it covers may change again, so the next restore reads them back. False: the run
    /// stops, and the write must not be sent.
    pub fn protect_again(&self, g: &FamilyGuard) -> bool {
        if self.stop.requested() {
            return false;
        }
        let mut saved = self.saved.lock().unwrap();
        for p in g.paths.iter() {
            saved.set_clean(p, false);
        }
        true
    }

    /// Writes down a record the run is about to create (so that an interrupted run deletes it);
    /// None: do not create it.
    pub fn will_create(&self, family: &str, path: &str) -> Option<Guard> {
        self.save(Saved::new(family, path, Change::Created, &Value::Null))
            .then_some(Guard {
                original: Value::Null,
            })
    }

    /// Keeps a saved record, in the journal first: false when it could not be written down (then
    /// the change must not be sent).
    fn save(&self, s: Saved) -> bool {
        if self.stop.requested() {
            return false;
        }
        let mut saved = self.saved.lock().unwrap();
        if saved.contains(&s.path) {
            return true;
        }
        if !saved.has_room() {
            return false;
        }
        if let Some(j) = &self.journal
            && let Err(e) = j.add(&s.family, &s.path, s.change, &s.original())
        {
            drop(saved);
            self.stop
                .now(format!("the restore journal could not be written: {e}"));
            return false;
        }
        saved.push(s);
        true
    }

    /// Puts the saved records of one family (or all, with None) back and verifies them (write
    /// checks of other families may be running meanwhile); the problems are kept (see
    /// [`Undo::problems`]) and returned.
    pub async fn restore(&self, family: Option<&str>) -> Vec<RestoreProblem> {
        // A write that got no answer may still land: wait until it would have.
        let doubt = *self.in_doubt.lock().unwrap();
        if let Some(at) = doubt {
            let until = at + self.settle;
            if until > Instant::now() {
                tokio::time::sleep_until(until.into()).await;
            }
        }
        let mut problems = restore::saved(self, family).await;
        problems.sort_by(|a, b| (&a.record, &a.field).cmp(&(&b.record, &b.field)));
        let mut all = self.problems.lock().unwrap();
        all.extend(problems.clone());
        all.sort_by(|a, b| (&a.record, &a.field).cmp(&(&b.record, &b.field)));
        all.dedup();
        problems
    }

    /// The fields a listing of a family reads (see [`Undo::listing`]): the keys that name a
    /// record and what a restore compares (its patchable, gettable fields).
    pub fn listing_fields<'e>(&self, inst: &'e Endpoint) -> Vec<&'e str> {
        let res = self.spec.resource_of(inst);
        inst.path_keys()
            .into_iter()
            .chain(
                res.patchable()
                    .filter(|f| f.gettable())
                    .map(|f| f.path.as_str()),
            )
            .collect()
    }

    /// After a collection write, a listing of the family the caller reads page by page (with
    /// [`Undo::listing_fields`]) and hands over record by record: a record equal to what was
    /// written down is proved back by it (a restore then skips it); one not written down before
    /// the write (it appeared meanwhile) is reported: the write may have changed it, and its
    /// state before is unknown.
    pub fn listing<'u>(&'u self, coll: &'u Endpoint, inst: &'u Endpoint) -> Listing<'u> {
        Listing {
            undo: self,
            coll,
            inst,
            equal_bulk: Vec::new(),
            equal_one: Default::default(),
            unjournaled: Vec::new(),
        }
    }

    /// The restore was cut off (its bound ran out): what it did not verify stays in the journal.
    pub fn gave_up(&self, why: String) {
        self.lasting.lock().unwrap().push(RestoreProblem {
            record: "(the restore)".to_string(),
            field: None,
            original: None,
            reason: why,
            curl: None,
        });
    }

    /// Every restore problem so far (and what no restore can fix: records not journaled, a
    /// restore cut off).
    pub fn problems(&self) -> Vec<RestoreProblem> {
        let mut all = self.problems.lock().unwrap().clone();
        for p in self.lasting.lock().unwrap().iter() {
            if !all.contains(p) {
                all.push(p.clone());
            }
        }
        all
    }

    /// Forgets the problems of earlier restores, before one last restore verifies everything.
    pub fn clear_problems(&self) {
        self.problems.lock().unwrap().clear();
    }

    /// The saved records of one family (or all) that a restore must look at: all but those
    /// journaled in bulk that a read-back proved, untouched since (see [`Undo::mark_clean`]).
    fn saved_to_restore(&self, family: Option<&str>) -> Vec<Saved> {
        self.saved.lock().unwrap().select(&self.keep, family)
    }

    /// Records a read-back proved as saved; those journaled in bulk are skipped by later
    /// restores until a change is announced for them again (records saved one by one are
    /// always read back).
    fn mark_clean<'a>(&self, paths: impl IntoIterator<Item = &'a str>) {
        let mut saved = self.saved.lock().unwrap();
        for p in paths {
            saved.set_clean(&path_hash(p), true);
        }
    }

    /// A saved record was proved back to its original (or gone, for a created one).
    fn verified(&self, path: &str) {
        if let Some(j) = &self.journal
            && let Err(e) = j.restored(path)
        {
            self.journal_problem(path.to_string(), e);
        }
    }

    /// How many records of a family are saved.
    fn saved_of(&self, family: &str) -> usize {
        let saved = self.saved.lock().unwrap();
        saved.per_family.get(family).copied().unwrap_or(0)
    }

    /// Marks many records restored (a read-back proved each), in one journal write.
    fn verified_many<S: AsRef<str>>(&self, paths: impl IntoIterator<Item = S>) {
        if let Some(j) = &self.journal
            && let Err((n, e)) = j.restored_many(paths)
        {
            self.journal_problem(format!("{n} records"), e);
        }
    }

    /// Records put back that the journal could not mark restored.
    fn journal_problem(&self, record: String, e: journal::JournalError) {
        self.problems.lock().unwrap().push(RestoreProblem {
            record,
            field: None,
            original: None,
            reason: format!("restored, but the journal could not say so: {e}"),
            curl: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientConfig, Credentials, Trust};
    use crate::spec::model::Kind;
    use serde_json::json;

    /// A new journal in a directory of its own (kept while the caller holds it), and its path.
    fn journal() -> (tempfile::TempDir, std::path::PathBuf, Arc<Journal>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        let j = Arc::new(Journal::start(path.clone(), "https://t", "admin").unwrap());
        (dir, path, j)
    }

    /// An Undo over the built-in contract whose client is never used (nothing here restores).
    fn undo(journal: Option<Arc<Journal>>) -> Undo {
        let client = Client::new(ClientConfig::new(
            "https://127.0.0.1:9",
            Credentials::new("admin", "x"),
            Trust::Insecure,
        ))
        .unwrap();
        Undo::new(Spec::builtin(), client, Arc::new(Stop::new(0)), journal)
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// An instance endpoint with one key, and a record of it.
    fn instance() -> (&'static Endpoint, Value) {
        let ep = Spec::builtin()
            .endpoints
            .iter()
            .find(|e| e.kind() == Kind::Instance && e.path_keys().len() == 1)
            .expect("an instance endpoint with one key");
        let key = ep.path_keys()[0];
        let mut record = serde_json::Map::new();
        set_path(&mut record, key, json!("k1"));
        (ep, Value::Object(record))
    }

    #[test]
    fn a_record_is_read_and_written_down_once_and_its_first_original_handed_back() {
        let (_dir, path, j) = journal();
        let u = undo(Some(j.clone()));
        let (ep, record) = instance();
        let p = instance_path(ep, &record).unwrap();
        let g = block_on(u.protect(&ep.family, &p, async { Some(json!({"comment": "a"})) }));
        assert_eq!(g.unwrap().original(), &json!({"comment": "a"}));
        let again = block_on(u.protect(&ep.family, &p, async {
            panic!("a saved record is not read again")
        }));
        assert_eq!(again.unwrap().original(), &json!({"comment": "a"}));
        // A record that could not be read is not written down.
        assert!(block_on(u.protect(&ep.family, "/api/other", async { None })).is_none());
        assert!(u.will_create(&ep.family, "/api/new").is_some());
        let kept = journal::read(&path).unwrap().unwrap();
        let entries: Vec<(&str, Change)> = kept
            .entries
            .iter()
            .map(|e| (e.path.as_str(), e.change))
            .collect();
        assert_eq!(
            entries,
            [(p.as_str(), Change::Changed), ("/api/new", Change::Created)]
        );
        assert_eq!(u.saved_to_restore(None).len(), 2);
        assert_eq!(u.saved_to_restore(Some("no such family")).len(), 0);
    }

    #[test]
    fn what_a_change_sends_is_journaled_first_without_its_secrets() {
        let (_dir, path, j) = journal();
        let u = undo(Some(j));
        let ep = Spec::builtin()
            .endpoints
            .iter()
            .find(|e| e.family == "duo" && e.kind() == Kind::Instance)
            .unwrap();
        let p = "/api/security/authentication/duo/profiles/o1";
        let _g = block_on(u.protect("duo", p, async { Some(json!({"comment": "a"})) }));
        let req = Request::new("PATCH", p)
            .json(json!({"comment": "~oc~x", "secret_key": "s3cr3t-value"}));
        assert!(u.will_send(ep, &req));
        let kept = journal::read(&path).unwrap().unwrap();
        let w = &kept.entries[0].wrote;
        assert_eq!(w.fields["comment"], [json!("~oc~x")]);
        assert!(
            !std::fs::read_to_string(&path)
                .unwrap()
                .contains("s3cr3t-value")
        );
        // A record not written down is not the journal's business; a GET sends nothing.
        assert!(u.will_send(
            ep,
            &Request::new("PATCH", "/api/other").json(json!({"comment": "y"}))
        ));
        assert!(u.will_send(ep, &Request::get(p)));
        assert_eq!(journal::read(&path).unwrap().unwrap().entries.len(), 1);
    }

    #[test]
    fn a_value_another_run_wrote_is_never_taken_for_an_original() {
        let u = undo(None);
        let p = "/api/security/authentication/duo/profiles/o1";
        let g = block_on(u.protect("duo", p, async { Some(json!({"comment": "~oc~theirs"})) }));
        assert!(g.is_none());
        assert!(u.stop.requested());
        assert_stopped_for_another_run(&u);
        assert!(u.saved_to_restore(None).is_empty(), "nothing written down");
    }

    #[test]
    fn nothing_is_protected_once_the_run_stops() {
        let u = undo(None);
        let (ep, record) = instance();
        u.stop.now("a signal");
        let p = instance_path(ep, &record).unwrap();
        assert!(block_on(u.protect(&ep.family, &p, async { Some(json!({})) })).is_none());
        assert!(u.will_create(&ep.family, "/api/new").is_none());
        assert!(u.protect_known(ep, Arc::new(vec![record])).is_none());
        assert!(u.saved_to_restore(None).is_empty());
    }

    /// The run stopped because a record held a value another run writes.
    fn assert_stopped_for_another_run(u: &Undo) {
        assert!(
            u.stop
                .reason()
                .unwrap()
                .starts_with("another run may be in progress: "),
            "{:?}",
            u.stop.reason()
        );
    }

    /// The tests' instance endpoint, its first key and a patchable text field of its family.
    fn keyed_text_field() -> (&'static Endpoint, &'static str, String) {
        let (ep, _) = instance();
        let field = Spec::builtin()
            .resource_of(ep)
            .patchable()
            .find(|f| f.gettable() && f.ty == crate::spec::resource::FieldType::String)
            .expect("a patchable text field")
            .path
            .clone();
        (ep, ep.path_keys()[0], field)
    }

    /// A record of only its key value `k` and the text field's value `v`.
    fn keyed_record(key: &str, field: &str, k: &str, v: &str) -> Value {
        let mut r = serde_json::Map::new();
        set_path(&mut r, key, json!(k));
        set_path(&mut r, field, json!(v));
        Value::Object(r)
    }

    #[test]
    fn a_family_with_a_record_that_cannot_be_written_down_leaves_the_journal_as_it_was() {
        let (_dir, path, j) = journal();
        let (ep, key, field) = keyed_text_field();
        let rec = |k: &str, v: &str| keyed_record(key, &field, k, v);
        // Many records (their lines outgrow the write buffer), then one that cannot be written
        // down: without its keys, or holding another run's value.
        let family = |last: Value| -> Vec<Value> {
            (0..3000)
                .map(|i| rec(&format!("k{i}"), &"was".repeat(40)))
                .chain([last])
                .collect()
        };
        let before = std::fs::read(&path).unwrap();
        let u = undo(Some(j.clone()));
        assert!(u.protect_known(ep, Arc::new(family(json!({})))).is_none());
        assert!(
            !u.stop.requested(),
            "a record without keys is not another run"
        );
        let theirs = format!("{}theirs", crate::generate::MARK);
        assert!(
            u.protect_known(ep, Arc::new(family(rec("k9", &theirs))))
                .is_none()
        );
        assert_stopped_for_another_run(&u);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the journal as it was"
        );
        assert_eq!(j.contents().unwrap().unfinished().count(), 0);
        assert!(u.saved_to_restore(None).is_empty(), "nothing written down");
    }

    #[test]
    fn a_family_refused_part_way_leaves_none_of_its_records_taken_for_written_down() {
        let (_dir, _, j) = journal();
        let u = undo(Some(j.clone()));
        let (ep, key, field) = keyed_text_field();
        let family: Vec<Value> = (0..300)
            .map(|i| keyed_record(key, &field, &format!("k{i}"), "was"))
            .collect();
        // The last record has no keys: the pass has entered the others before it is refused.
        let refused: Vec<Value> = family.iter().cloned().chain([json!({})]).collect();
        assert!(u.protect_known(ep, Arc::new(refused)).is_none());
        assert!(u.saved.lock().unwrap().at.is_empty());
        // So the family, written down again, is written down whole (none skipped as known).
        let g = u.protect_known(ep, Arc::new(family)).unwrap();
        assert_eq!(g.records(), 300);
        assert_eq!(j.contents().unwrap().unfinished().count(), 300);
        assert_eq!(u.saved_to_restore(None).len(), 300);
    }

    /// A record is found where it was first written down: a path twice in one bulk at its
    /// first position, a record of an earlier bulk there and not in the later one, and a bulk
    /// refused part way leaves the others' places as they were. Hundreds of records make the
    /// table grow while a bulk is written down (its hashes read from the bulk being written).
    #[test]
    fn each_record_is_found_where_it_was_first_written_down() {
        let (_dir, _, j) = journal();
        let u = undo(Some(j.clone()));
        let (ep, key, field) = keyed_text_field();
        let rec = |i: usize| keyed_record(key, &field, &format!("k{i}"), "was");
        let loc = |i: usize| {
            let p = instance_path(ep, &rec(i)).unwrap();
            u.saved.lock().unwrap().loc(&p)
        };
        // Record 5 twice: once written down, at its first position.
        let first: Vec<Value> = (0..300).map(rec).chain([rec(5)]).collect();
        assert_eq!(u.protect_known(ep, Arc::new(first)).unwrap().records(), 301);
        assert_eq!(j.contents().unwrap().unfinished().count(), 300);
        assert_eq!(u.saved_to_restore(None).len(), 300);
        assert_eq!(loc(5), Some(Loc::Bulk(0, 5)));
        // A second bulk from 250 to 549: 250 new records; those of the first stay there.
        let second: Vec<Value> = (250..550).map(rec).collect();
        assert_eq!(
            u.protect_known(ep, Arc::new(second)).unwrap().records(),
            300
        );
        assert_eq!(j.contents().unwrap().unfinished().count(), 550);
        assert_eq!(u.saved_to_restore(None).len(), 550);
        assert_eq!(loc(260), Some(Loc::Bulk(0, 260)));
        assert_eq!(loc(300), Some(Loc::Bulk(1, 50)));
        assert_eq!(loc(549), Some(Loc::Bulk(1, 299)));
        // A third refused by its last record (no keys): nothing of it is kept.
        let third: Vec<Value> = (500..900).map(rec).chain([json!({})]).collect();
        assert!(u.protect_known(ep, Arc::new(third)).is_none());
        assert_eq!(loc(600), None);
        assert_eq!(loc(520), Some(Loc::Bulk(1, 270)));
        assert_eq!(loc(0), Some(Loc::Bulk(0, 0)));
        assert_eq!(u.saved.lock().unwrap().at.len(), 550);
    }

    #[test]
    fn a_record_written_down_costs_its_map_entries_8_and_16_bytes() {
        // A large family has an entry a record in each: a u128 key and a usize position made
        // the first 48, two u64 words 24, three u32 words 20 (it keeps the place alone now);
        // the journal's (a byte of value) was 24.
        assert_eq!(std::mem::size_of::<Loc>(), 8);
        assert_eq!(std::mem::size_of::<(PathHash, u8)>(), 16);
        assert_eq!(std::mem::size_of::<PathHash>(), 12);
    }

    /// The hash is the same for the same path and tells 100,000 paths of one family apart.
    #[test]
    fn path_hash_is_stable_and_tells_paths_apart() {
        let a = path_hash("/api/security/login/messages/1");
        assert_eq!(a, path_hash("/api/security/login/messages/1"));
        assert_ne!(a, path_hash("/api/security/login/messages/2"));
        let distinct: std::collections::HashSet<PathHash> = (0..100_000)
            .map(|i| path_hash(&format!("/api/x/{i}")))
            .collect();
        assert_eq!(distinct.len(), 100_000);
    }

    #[test]
    fn a_family_written_down_in_bulk_is_read_where_it_is_kept_and_a_listing_proves_it_back() {
        let (_dir, _, j) = journal();
        let u = undo(Some(j.clone()));
        let (ep, key, field) = keyed_text_field();
        let rec = |k: &str, v: &str| keyed_record(key, &field, k, v);
        let family: Vec<Value> = (0..100).map(|i| rec(&format!("k{i}"), "was")).collect();
        let g = u.protect_known(ep, Arc::new(family)).unwrap();
        assert_eq!(g.records(), 100);
        // Journaled one by one in the file, kept in memory as positions only.
        assert_eq!(j.contents().unwrap().unfinished().count(), 100);
        assert!(u.saved.lock().unwrap().list.is_empty());
        let found = u
            .saved
            .lock()
            .unwrap()
            .find(&u.keep, &ep.render(&[(key, "k7")]));
        // Read back from where the family is kept, as a restore writes it back.
        assert_eq!(
            get_path(&found.unwrap().original(), &field),
            Some(&json!("was"))
        );
        // A listing after the write: two records changed, one appeared meanwhile.
        let coll = u.spec.collection_of(ep).expect("its collection");
        let mut listing = u.listing(coll, ep);
        for i in 0..100 {
            let seen = listing.record(&rec(&format!("k{i}"), if i < 2 { "new" } else { "was" }));
            match (i < 2, seen) {
                (true, Seen::Differs(o)) => assert_eq!(get_path(&o, &field), Some(&json!("was"))),
                (false, Seen::Same) => {}
                (_, other) => panic!("record {i}: {other:?}"),
            }
        }
        assert!(matches!(listing.record(&rec("k-new", "x")), Seen::NotSaved));
        listing.finish(true);
        // Only the two changed records are left to put back; the newcomer is reported.
        let left: Vec<String> = u
            .saved_to_restore(None)
            .into_iter()
            .map(|s| s.path)
            .collect();
        assert_eq!(left, [ep.render(&[(key, "k0")]), ep.render(&[(key, "k1")])]);
        assert!(u.problems().iter().any(|p| p.record.ends_with("k-new")));
        assert_eq!(j.contents().unwrap().unfinished().count(), 2);
        // Another write to the family: every record may change again.
        assert!(u.protect_again(&g));
        assert_eq!(u.saved_to_restore(None).len(), 100);
        // Proved back again, then written down by a second bulk (none of its records fresh):
        // the first bulk's records are read back again too, each once.
        let all: Vec<String> = (0..100)
            .map(|i| ep.render(&[(key, &format!("k{i}"))]))
            .collect();
        u.mark_clean(all.iter().map(String::as_str));
        assert!(u.saved_to_restore(None).is_empty());
        let again: Vec<Value> = (0..100).map(|i| rec(&format!("k{i}"), "was")).collect();
        let g2 = u.protect_known(ep, Arc::new(again)).unwrap();
        assert_eq!(g2.records(), 100);
        assert_eq!(u.saved_to_restore(None).len(), 100);
    }

    #[test]
    fn a_listing_names_the_records_it_proved_back_from_their_identities_checked_by_hash() {
        let (_dir, _, j) = journal();
        let u = undo(Some(j.clone()));
        let (ep, key, field) = keyed_text_field();
        assert_eq!(u.spec.resource_of(ep).keys, [key], "identity = the one key");
        let rec = |k: &str| keyed_record(key, &field, k, "was");
        // Keys as identities, but for a value holding `/` (two parts for one key), one that is
        // percent-encoded in its path, and one pushed under another record's identity (a path
        // made from it would name the wrong record: its hash tells).
        let keys: Vec<String> = (0..40)
            .map(|i| format!("k{i}"))
            .chain(["a/b".into(), "sp ace".into(), "odd".into()])
            .collect();
        let mut family = crate::checks::records::Records::default();
        for k in &keys {
            let id = if k == "odd" { "k3" } else { k.as_str() };
            family.push(id.to_string(), &rec(k));
        }
        let g = u.protect_known(ep, Arc::new(family)).unwrap();
        assert_eq!(g.records(), keys.len());
        assert_eq!(j.contents().unwrap().unfinished().count(), keys.len());
        let coll = u.spec.collection_of(ep).expect("its collection");
        let mut listing = u.listing(coll, ep);
        // Listed in another order, one of them twice.
        for k in keys.iter().rev().chain([&keys[5]]) {
            assert!(matches!(listing.record(&rec(k)), Seen::Same), "{k}");
        }
        listing.finish(true);
        // Every one is marked restored in the journal under its own path, and clean.
        let c = j.contents().unwrap();
        let open: Vec<&str> = c.unfinished().map(|e| e.path.as_str()).collect();
        assert!(open.is_empty(), "left open: {open:?}");
        assert!(u.saved_to_restore(None).is_empty());
    }

    #[test]
    fn a_listing_cut_short_proves_nothing_back() {
        let (_dir, _, j) = journal();
        let u = undo(Some(j.clone()));
        let (ep, key, field) = keyed_text_field();
        let mut family = crate::checks::records::Records::default();
        for i in 0..10 {
            let k = format!("k{i}");
            family.push(k.clone(), &keyed_record(key, &field, &k, "was"));
        }
        let _g = u.protect_known(ep, Arc::new(family)).unwrap();
        let coll = u.spec.collection_of(ep).expect("its collection");
        let mut listing = u.listing(coll, ep);
        for i in 0..10 {
            listing.record(&keyed_record(key, &field, &format!("k{i}"), "was"));
        }
        listing.finish(false);
        assert_eq!(j.contents().unwrap().unfinished().count(), 10);
        assert_eq!(u.saved_to_restore(None).len(), 10);
    }

    #[test]
    fn a_family_with_a_record_that_has_no_keys_is_not_protected_at_all() {
        let u = undo(None);
        let (ep, record) = instance();
        let nameless = json!({"comment": "no keys"});
        assert!(
            u.protect_known(ep, Arc::new(vec![record.clone(), nameless]))
                .is_none()
        );
        assert!(u.saved_to_restore(None).is_empty(), "nothing written down");
        let g = u.protect_known(ep, Arc::new(vec![record])).unwrap();
        assert_eq!(g.records(), 1);
        assert_eq!(u.saved_to_restore(None).len(), 1);
        // A read-back proved it: later restores skip it, until it is protected again.
        let p = u.saved_to_restore(None)[0].path.clone();
        u.mark_clean([p.as_str()]);
        assert!(u.saved_to_restore(None).is_empty());
        let _again = block_on(u.protect(&ep.family, &p, async { None }));
        assert_eq!(u.saved_to_restore(None).len(), 1);
    }
}
