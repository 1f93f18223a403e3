//! The records the discovery read returned, kept for the whole run. A large cluster has hundreds
//! of thousands of them, and a `serde_json::Value` tree costs five to six times the record's text
//! (maps, keys and strings each allocated), so each record is kept as its compact JSON text beside
//! its identity, and parsed again only when a check looks at it. The texts are kept in blocks of
//! about [`BLOCK`] bytes, each compressed with LZ4 once full (records of one family repeat their
//! field names and many values: at 100,000 SVMs discovery's peak RSS fell from 163 to 88 MB,
//! `docs/performance.md`). Checks that need a
//! whole family look at it one record at a time ([`Records::iter`], a block decompressed at a
//! time); the identities, kept plain, answer most of their questions without parsing anything.

use serde_json::Value;

/// The text a block holds before it is compressed (a record longer than this has a block of its
/// own).
pub const BLOCK: usize = 64 * 1024;

/// The records of one family, in the order the target listed them: their texts in compressed
/// blocks, every identity in one buffer (a few allocations for a family, not two a record, so a
/// large family neither pays a header per record nor scatters itself among short-lived blocks).
#[derive(Debug, Default, Clone)]
pub struct Records {
    /// The full blocks, each the LZ4 of its records' texts one after the other.
    blocks: Vec<Box<[u8]>>,
    /// The index of the first record of each full block, and of the open one after them.
    block_first: Vec<usize>,
    /// The texts of the records after the full blocks, not compressed yet.
    open: String,
    /// Where each record's text ends in its block (or in `open`).
    text_ends: Vec<u32>,
    /// Each record's identity (its key values joined, see [`crate::checks::read::identity`]).
    ids: TextList,
    /// The records' shapes (which fields have a value): per shape, how many records have it and
    /// the first that does (at most [`SHAPES_KEPT`] shapes).
    shapes: Vec<Shape>,
}

/// Records of one set of fields with a value ([`shape_of`]).
#[derive(Debug, Clone, Copy)]
struct Shape {
    hash: u64,
    count: u32,
    first: u32,
}

/// Shapes counted per family: a family whose records differ more than that is varied enough
/// without them.
const SHAPES_KEPT: usize = 64;

/// Which fields of a record have a value (not null; `_links` left out), as a hash independent
/// of the fields' order.
fn shape_of(record: &Value) -> u64 {
    use std::hash::BuildHasher;
    fn walk(v: &Value, at: u64, sum: &mut u64) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, child) in m {
                    if at == 0 && k == "_links" {
                        continue;
                    }
                    let h = foldhash::fast::FixedState::with_seed(at).hash_one(k.as_str());
                    walk(child, h | 1, sum);
                }
            }
            Value::Null => {}
            _ => *sum = sum.wrapping_add(at),
        }
    }
    let mut sum = 0;
    walk(record, 0, &mut sum);
    sum
}

/// Texts one after another in chunks of about [`TEXT_CHUNK`] bytes, with where each ends: a list
/// of hundreds of thousands of short texts (a large family's identities or paths) in a few
/// allocations, not one a text (a `String` costs 24 bytes and an allocation's rounding on top of
/// its text). A full chunk is never moved: a list grows by a chunk, where one buffer doubling
/// held up to twice its texts, and three times while it moved (200,000 TOTP profiles' paths: 19
/// MB for 14).
#[derive(Debug, Default, Clone)]
pub struct TextList {
    chunks: Vec<String>,
    /// Per text: its chunk, and where it ends there.
    at: Vec<(u32, u32)>,
}

/// The bytes of a [`TextList`] chunk (the first grows up to it; a longer text has a chunk of its
/// own).
pub const TEXT_CHUNK: usize = 64 * 1024;

impl TextList {
    pub const fn new() -> TextList {
        TextList {
            chunks: Vec::new(),
            at: Vec::new(),
        }
    }

    pub fn push(&mut self, t: &str) {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.len() + t.len() <= TEXT_CHUNK.max(c.capacity()));
        if !fits {
            let first = self.chunks.is_empty();
            self.chunks.push(String::with_capacity(if first {
                t.len()
            } else {
                TEXT_CHUNK.max(t.len())
            }));
        }
        let c = self.chunks.len() - 1;
        let chunk = &mut self.chunks[c];
        chunk.push_str(t);
        // A chunk holds one text over TEXT_CHUNK at most: an answer's record, far below 4 GiB.
        self.at.push((c as u32, chunk.len() as u32));
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// The texts, in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = &str> + Clone {
        (0..self.at.len()).map(|i| {
            let (c, end) = self.at[i];
            let start = match i.checked_sub(1).map(|j| self.at[j]) {
                Some((before, e)) if before == c => e,
                _ => 0,
            };
            &self.chunks[c as usize][start as usize..end as usize]
        })
    }

    /// Gives back what the last chunk and the index hold beyond their texts (a list that is
    /// complete).
    pub fn shrink_to_fit(&mut self) {
        if let Some(c) = self.chunks.last_mut() {
            c.shrink_to_fit();
        }
        self.chunks.shrink_to_fit();
        self.at.shrink_to_fit();
    }
}

impl Records {
    /// No record (a family the run did not read).
    pub const EMPTY: Records = Records {
        blocks: Vec::new(),
        block_first: Vec::new(),
        open: String::new(),
        text_ends: Vec::new(),
        ids: TextList::new(),
        shapes: Vec::new(),
    };

    /// Adds a record (its `_links` left out: no check reads them here) with its identity.
    pub fn push(&mut self, id: String, record: &Value) {
        /// A record's fields but `_links`, written as they are (no copy of the record).
        struct WithoutLinks<'a>(&'a serde_json::Map<String, Value>);
        impl serde::Serialize for WithoutLinks<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().filter(|(k, _)| *k != "_links"))
            }
        }
        let text = match record {
            Value::Object(m) => serde_json::to_string(&WithoutLinks(m)),
            other => serde_json::to_string(other),
        };
        // Serialising a Value (or its fields) cannot fail.
        let text = text.unwrap_or_default();
        if self.block_first.is_empty() {
            self.block_first.push(0);
        }
        if !self.open.is_empty() && self.open.len() + text.len() > BLOCK {
            let full = std::mem::take(&mut self.open);
            self.blocks
                .push(lz4_flex::compress_prepend_size(full.as_bytes()).into_boxed_slice());
            self.block_first.push(self.text_ends.len());
        }
        let shape = shape_of(record);
        let kept = self.shapes.len();
        match self.shapes.iter_mut().find(|s| s.hash == shape) {
            Some(s) => s.count = s.count.saturating_add(1),
            None if kept < SHAPES_KEPT => self.shapes.push(Shape {
                hash: shape,
                count: 1,
                first: self.text_ends.len() as u32,
            }),
            None => {}
        }
        self.open.push_str(&text);
        self.text_ends.push(self.open.len() as u32);
        self.ids.push(&id);
    }

    /// Up to `n` records of the rarest shapes (fields with a value) other than the commonest,
    /// the first of each, rarest first: the records that lack a value the others have, or have
    /// one they lack. Empty when every record has the same fields.
    pub fn rare_shapes(&self, n: usize) -> Vec<usize> {
        let Some(commonest) = self
            .shapes
            .iter()
            .max_by_key(|s| (s.count, std::cmp::Reverse(s.first)))
        else {
            return Vec::new();
        };
        let mut rare: Vec<&Shape> = (self.shapes.iter())
            .filter(|s| s.hash != commonest.hash)
            .collect();
        rare.sort_by_key(|s| (s.count, s.first));
        rare.iter().take(n).map(|s| s.first as usize).collect()
    }

    pub fn len(&self) -> usize {
        self.text_ends.len()
    }

    /// Gives back what the buffers hold beyond the records (the family is read whole; more may
    /// still be pushed, at the cost of growing again).
    pub fn shrink_to_fit(&mut self) {
        self.blocks.shrink_to_fit();
        self.block_first.shrink_to_fit();
        self.open.shrink_to_fit();
        self.text_ends.shrink_to_fit();
        self.ids.shrink_to_fit();
    }

    pub fn is_empty(&self) -> bool {
        self.text_ends.is_empty()
    }

    /// The identities, in the target's order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter()
    }

    /// Block `b`'s text (decompressed, or the open block's).
    fn block_text(&self, b: usize) -> std::borrow::Cow<'_, str> {
        match self.blocks.get(b) {
            // A block was compressed from a String here: it decompresses to UTF-8.
            Some(z) => std::borrow::Cow::Owned(
                String::from_utf8(
                    lz4_flex::decompress_size_prepended(z).expect("a block compressed here"),
                )
                .expect("a block of JSON texts"),
            ),
            None => std::borrow::Cow::Borrowed(&self.open),
        }
    }

    /// The records of block `b`: (the index of its first record, its text, where each ends).
    fn block(&self, b: usize) -> (usize, std::borrow::Cow<'_, str>, &[u32]) {
        let first = self.block_first[b];
        let end = self.block_first.get(b + 1).copied().unwrap_or(self.len());
        (first, self.block_text(b), &self.text_ends[first..end])
    }

    /// Calls `f` with every record's compact JSON text, in order (nothing parsed: a caller
    /// looking for a word parses only the records whose text has it).
    pub fn each_text(&self, mut f: impl FnMut(&str)) {
        for b in 0..self.block_first.len() {
            let (_, text, ends) = self.block(b);
            let mut start = 0;
            for &end in ends {
                f(&text[start..end as usize]);
                start = end as usize;
            }
        }
    }

    /// The record at `i`, parsed.
    pub fn get(&self, i: usize) -> Option<Value> {
        if i >= self.len() {
            return None;
        }
        let b = self.block_first.partition_point(|&f| f <= i) - 1;
        let (first, text, ends) = self.block(b);
        let k = i - first;
        let start = if k == 0 { 0 } else { ends[k - 1] as usize };
        // The text was written by serde_json from a Value: it parses.
        Some(
            serde_json::from_str(&text[start..ends[k] as usize]).expect("a record's own JSON text"),
        )
    }

    /// Every record, parsed one at a time (a block's text decompressed at a time; no record is
    /// held longer than the caller keeps it).
    pub fn iter(&self) -> impl Iterator<Item = Value> + '_ {
        self.iter_keeping(None)
    }

    /// Every record, as [`Records::iter`], with only the fields `keep` names built (the rest of
    /// each text is read over): a pass that looks at a few fields of a large family. None: whole.
    pub fn iter_keeping<'a>(
        &'a self,
        keep: Option<&'a crate::client::slim::Keep>,
    ) -> impl Iterator<Item = Value> + 'a {
        // The text was written by serde_json from a Value: it parses.
        self.parsed(move |t| {
            match keep {
                Some(k) => crate::client::slim::record(t, k),
                None => serde_json::from_str(t).ok(),
            }
            .expect("a record's own JSON text")
        })
    }

    /// Every record's text, parsed by `parse`, a block at a time.
    fn parsed<'a>(
        &'a self,
        parse: impl Fn(&str) -> Value + 'a,
    ) -> impl Iterator<Item = Value> + 'a {
        (0..self.block_first.len()).flat_map(move |b| {
            let (_, text, ends) = self.block(b);
            let mut start = 0;
            let mut out = Vec::with_capacity(ends.len());
            for &end in ends {
                out.push(parse(&text[start..end as usize]));
                start = end as usize;
            }
            out
        })
    }

    /// The records at `indices`, parsed.
    pub fn pick(&self, indices: &[usize]) -> Vec<Value> {
        indices.iter().filter_map(|&i| self.get(i)).collect()
    }

    /// Where each identity is (the first record with it).
    pub fn positions(&self) -> std::collections::HashMap<&str, usize> {
        let mut out = std::collections::HashMap::with_capacity(self.len());
        for (i, id) in self.ids().enumerate() {
            out.entry(id).or_insert(i);
        }
        out
    }

    /// A [`Finder`] of these records by identity.
    pub fn finder(&self) -> Finder<'_> {
        Finder {
            records: self,
            state: Default::default(),
        }
    }
}

/// Identities a [`Finder`] looks up one at a time, by a pass over the family's identities,
/// before it indexes them all.
const FINDER_SCANS: usize = 64;

/// Finds records by identity (the first with it, as [`Records::positions`]). A check looks up
/// the few records its answers show (a page of the sample's size): each is found by one pass
/// over the identities and remembered, where an index of the whole family took a map entry a
/// record (23 MB for the three seed families at 100,000 SVMs, built by two checks at once).
/// Past [`FINDER_SCANS`] different identities (a target that ignores `max_records` shows them
/// all) the whole family is indexed once, so no lookup is slower than with the index.
pub struct Finder<'a> {
    records: &'a Records,
    state: std::sync::Mutex<FinderState<'a>>,
}

#[derive(Default)]
struct FinderState<'a> {
    found: std::collections::HashMap<String, Option<usize>>,
    index: Option<std::collections::HashMap<&'a str, usize>>,
}

impl Finder<'_> {
    /// Where the first record with identity `id` is.
    pub fn position(&self, id: &str) -> Option<usize> {
        let mut st = self.state.lock().unwrap();
        if let Some(index) = &st.index {
            return index.get(id).copied();
        }
        if let Some(&p) = st.found.get(id) {
            return p;
        }
        if st.found.len() >= FINDER_SCANS {
            st.found = Default::default();
            let index = self.records.positions();
            let p = index.get(id).copied();
            st.index = Some(index);
            return p;
        }
        let p = self.records.ids().position(|x| x == id);
        st.found.insert(id.to_string(), p);
        p
    }

    /// Whether the whole family was indexed (more identities were looked up than are scanned).
    pub fn indexed(&self) -> bool {
        self.state.lock().unwrap().index.is_some()
    }
}

impl crate::undo::Originals for Records {
    fn count(&self) -> usize {
        self.len()
    }
    fn ids(&self) -> Option<Box<dyn Iterator<Item = &str> + '_>> {
        Some(Box::new(self.ids.iter()))
    }
    fn record(&self, i: usize) -> Option<Value> {
        self.get(i)
    }
    fn each(&self) -> Box<dyn Iterator<Item = Value> + '_> {
        Box::new(self.iter())
    }
    fn each_keeping<'a>(
        &'a self,
        keep: Option<&'a crate::client::slim::Keep>,
    ) -> Box<dyn Iterator<Item = Value> + 'a> {
        Box::new(self.iter_keeping(keep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_come_back_as_they_went_in_without_links_and_with_their_identity() {
        let mut r = Records::default();
        let a =
            json!({"owner": {"name": "vs1"}, "comment": "a", "_links": {"self": {"href": "/x"}}});
        let b = json!({"owner": {"name": "vs2"}, "comment": "b", "n": 3, "on": true});
        r.push("vs1".into(), &a);
        r.push("vs2".into(), &b);
        assert_eq!(r.len(), 2);
        assert!(!r.is_empty());
        assert_eq!(
            r.get(0).unwrap(),
            json!({"owner": {"name": "vs1"}, "comment": "a"})
        );
        assert_eq!(r.get(1).unwrap(), b);
        assert_eq!(r.get(2), None);
        assert_eq!(r.ids().collect::<Vec<_>>(), ["vs1", "vs2"]);
        assert_eq!(r.iter().count(), 2);
        assert_eq!(r.pick(&[1]), vec![b]);
        assert_eq!(r.positions()["vs2"], 1);
    }

    /// The rarest shapes come first, each by its first record; the commonest never; a field's
    /// order, its `_links` and a null do not make a shape; a field of the same name at another
    /// depth does.
    #[test]
    fn rare_shapes_are_the_records_whose_fields_differ_from_the_most() {
        let mut r = Records::default();
        let full = |i: u32| json!({"uuid": i.to_string(), "message": "m", "svm": {"name": "s"}});
        for i in 0..10 {
            r.push(i.to_string(), &full(i));
        }
        assert!(r.rare_shapes(2).is_empty(), "one shape: nothing is rare");
        // The same fields, in another order, with links and a null: the commonest shape still.
        let same = json!({"svm": {"name": "s"}, "message": "m", "uuid": "10", "banner": null,
            "_links": {"self": {"href": "/x"}}});
        r.push("10".into(), &same);
        assert!(r.rare_shapes(2).is_empty());
        // Lacks message (twice), lacks svm.name (once), has message one level down (once).
        r.push("11".into(), &json!({"uuid": "11", "svm": {"name": "s"}}));
        r.push(
            "12".into(),
            &json!({"uuid": "12", "message": "m", "svm": {}}),
        );
        r.push("13".into(), &json!({"uuid": "13", "svm": {"name": "s"}}));
        r.push(
            "14".into(),
            &json!({"uuid": "14", "svm": {"message": "m", "name": "s"}}),
        );
        assert_eq!(r.rare_shapes(1), [12]);
        assert_eq!(r.rare_shapes(2), [12, 14]);
        assert_eq!(r.rare_shapes(9), [12, 14, 11]);
        assert!(r.rare_shapes(0).is_empty());
    }

    /// Past `SHAPES_KEPT` shapes, new ones are not counted (a family of records all different
    /// keeps a bounded list), and those counted still are.
    #[test]
    fn shapes_counted_are_bounded() {
        let mut r = Records::default();
        for i in 0..SHAPES_KEPT + 10 {
            r.push(i.to_string(), &json!({ format!("f{i}"): 1 }));
        }
        r.push("again".into(), &json!({"f0": 2}));
        assert_eq!(r.shapes.len(), SHAPES_KEPT);
        assert_eq!(r.shapes[0].count, 2);
        assert_eq!(r.rare_shapes(1), [1]);
    }

    #[test]
    fn records_over_many_compressed_blocks_come_back_in_order_one_by_one_and_all_together() {
        let mut r = Records::default();
        let made: Vec<Value> = (0..5000)
            .map(|i| json!({"uuid": format!("u{i}"), "comment": "x".repeat(i % 97), "n": i}))
            .collect();
        for (i, v) in made.iter().enumerate() {
            r.push(format!("u{i}"), v);
        }
        // A record longer than a block gets one of its own.
        let long = json!({"uuid": "long", "comment": "y".repeat(BLOCK * 2)});
        r.push("long".into(), &long);
        assert!(r.blocks.len() > 4, "{} blocks", r.blocks.len());
        assert_eq!(r.len(), 5001);
        assert_eq!(r.iter().take(5000).collect::<Vec<_>>(), made);
        assert_eq!(r.iter().last(), Some(long.clone()));
        for i in [0, 1, 63, 64, 1000, 2047, 4999] {
            assert_eq!(r.get(i).as_ref(), Some(&made[i]), "record {i}");
        }
        assert_eq!(r.get(5000), Some(long));
        assert_eq!(r.get(5001), None);
        let mut texts = 0;
        r.each_text(|t| {
            assert!(t.starts_with("{\"uuid\""));
            texts += 1;
        });
        assert_eq!(texts, 5001);
        assert_eq!(r.ids().nth(4999), Some("u4999"));
        let keep = crate::client::slim::Keep::fields(["n"]).unwrap();
        let slim: Vec<Value> = r.iter_keeping(Some(&keep)).collect();
        assert_eq!(slim.len(), 5001);
        for i in [0, 64, 4999] {
            assert_eq!(slim[i], json!({"n": i}), "record {i}");
        }
        assert_eq!(slim[5000], json!({}));
    }

    #[test]
    fn a_text_list_gives_back_every_text_in_order_across_chunks_without_doubling() {
        let mut l = TextList::new();
        let mut want: Vec<String> = (0..20_000)
            .map(|i| format!("/api/x/{i}/{}", "y".repeat(i % 50)))
            .collect();
        want.insert(7, String::new());
        want.insert(9_000, "z".repeat(3 * TEXT_CHUNK));
        want.push(String::new());
        for t in &want {
            l.push(t);
        }
        assert_eq!(l.len(), want.len());
        assert!(!l.is_empty());
        assert!(l.iter().eq(want.iter().map(String::as_str)));
        let held: usize = want.iter().map(String::len).sum();
        let cap: usize = l.chunks.iter().map(String::capacity).sum();
        assert!(l.chunks.len() > 10, "{} chunks", l.chunks.len());
        // Little left unused in each chunk (a text that did not fit starts the next one), but
        // before the long text's own.
        assert!(
            cap < held + TEXT_CHUNK + l.chunks.len() * 128,
            "{cap} bytes for {held}"
        );
        l.shrink_to_fit();
        assert!(l.iter().eq(want.iter().map(String::as_str)));
    }

    #[test]
    fn a_finder_finds_the_first_record_with_an_identity_before_and_after_it_indexes_them() {
        let mut r = Records::default();
        for i in 0..300 {
            r.push(format!("u{}", i % 200), &json!({"n": i}));
        }
        let f = r.finder();
        // Looked up one at a time: the first record with the identity, or none.
        assert_eq!(f.position("u150"), Some(150));
        assert_eq!(f.position("u5"), Some(5));
        assert_eq!(f.position("u5"), Some(5));
        assert_eq!(f.position("nobody"), None);
        assert!(!f.indexed());
        // Past the scans, the whole family is indexed; every answer stays the same.
        for i in 0..FINDER_SCANS {
            assert_eq!(f.position(&format!("u{i}")), Some(i));
        }
        assert!(f.indexed());
        assert_eq!(f.position("u150"), Some(150));
        assert_eq!(f.position("u199"), Some(199));
        assert_eq!(f.position("nobody"), None);
        let index = r.positions();
        for i in 0..200 {
            let id = format!("u{i}");
            assert_eq!(f.position(&id), index.get(id.as_str()).copied());
        }
    }
}
