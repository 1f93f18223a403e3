//! The listings of recent paged walks, kept so that a walk costs the mock O(N) in all rather than
//! O(N) a page. A collection GET pages through a listing (the positions of the records a query
//! selects, in answer order: [`super::list`]); the `next` link of each page names the same query
//! with the next position (`start.index`), so the next page asks for the same listing again.
//! Made once, it is kept beside the store's generation (a number every change of the store moves
//! on) and served again while the store is unchanged: a page then looks only at its own records.
//! After any change the listing is made again, so every page answers exactly as if the listing
//! were made for it (the same records, order and positions), as before it was kept.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// How many listings are kept (the most recently used): a few walks at once, each of a few
/// megabytes at most (8 bytes a record).
const KEPT: usize = 8;

/// What a listing depends on besides the store: the collection's path as requested (a nested
/// one names its parents), who asks (what they may see), and the query's filters and order
/// (its parameters less `fields`, `max_records`, `return_records`, `return_timeout` and the
/// paging position, which change only what is shown of the listing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingKey {
    pub path: String,
    pub who: String,
    pub query: Vec<(String, String)>,
}

impl ListingKey {
    pub fn new(path: &str, who: String, carry: &[(String, String)]) -> ListingKey {
        const SHOWN_ONLY: &[&str] = &["fields", "max_records", "return_records", "return_timeout"];
        ListingKey {
            path: path.to_string(),
            who,
            query: carry
                .iter()
                .filter(|(k, _)| !SHOWN_ONLY.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }
}

struct Kept {
    key: ListingKey,
    generation: u64,
    listed: Arc<[u64]>,
}

/// The listings kept, the most recently used first.
#[derive(Default)]
pub struct Listings {
    kept: Mutex<VecDeque<Kept>>,
}

impl Listings {
    /// The listing of `key` made at this generation of the store, or `make`'s (then kept).
    pub fn get_or(
        &self,
        key: ListingKey,
        generation: u64,
        make: impl FnOnce() -> Vec<u64>,
    ) -> Arc<[u64]> {
        {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = kept.iter().position(|k| k.key == key) {
                if kept[i].generation == generation {
                    let hit = kept.remove(i).expect("found");
                    let listed = hit.listed.clone();
                    kept.push_front(hit);
                    return listed;
                }
                kept.remove(i);
            }
        }
        // Made outside the lock: other walks go on meanwhile.
        let listed: Arc<[u64]> = make().into();
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|k| k.key != key);
        kept.push_front(Kept {
            key,
            generation,
            listed: listed.clone(),
        });
        kept.truncate(KEPT);
        listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(q: &str) -> ListingKey {
        ListingKey::new(
            "/api/x",
            "admin".into(),
            &[
                ("name".to_string(), q.to_string()),
                ("max_records".to_string(), "5".to_string()),
            ],
        )
    }

    #[test]
    fn a_listing_is_made_once_per_query_and_generation() {
        let l = Listings::default();
        let made = std::cell::Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            vec![3, 1, 2]
        };
        assert_eq!(&*l.get_or(key("a"), 1, make), &[3, 1, 2]);
        assert_eq!(&*l.get_or(key("a"), 1, make), &[3, 1, 2]);
        assert_eq!(
            made.get(),
            1,
            "the same query at the same generation is served again"
        );
        // Only what is shown differs: the same listing.
        let other_page = ListingKey::new("/api/x", "admin".into(), &[("name".into(), "a".into())]);
        l.get_or(other_page, 1, make);
        assert_eq!(made.get(), 1);
        l.get_or(key("a"), 2, make);
        assert_eq!(made.get(), 2, "a change of the store makes it again");
        l.get_or(key("b"), 2, make);
        assert_eq!(made.get(), 3, "another filter is another listing");
        for i in 0..KEPT {
            l.get_or(key(&format!("c{i}")), 2, make);
        }
        l.get_or(key("a"), 2, make);
        assert_eq!(made.get(), 4 + KEPT, "only the most recent are kept");
    }
}
