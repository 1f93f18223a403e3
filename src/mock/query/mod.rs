//! The one query engine every collection of the mock uses (catalog families and discovery
//! endpoints alike). Nothing here names a field of the catalog: it all comes from the
//! [`Resource`](crate::spec::resource::Resource) a [`ServedResource`] is made of. One concern a
//! file, each using only the ones before it:
//!
//! - `served.rs`: the resource as the engine serves it, with what is precomputed once (default
//!   field sets, keys, the fields as a tree in answer order, self links);
//! - `matching.rs`: the filters with ONTAP's operators (`|`, `!`, `*`, `<`, `..`, `null`);
//! - `parse.rs`: the query string decoded and checked into a [`QueryPlan`] (`fields`,
//!   `order_by`, `max_records`, `return_records`, the filters, the paging position);
//! - `order.rs`: `order_by`, unset values below every value (or where a variant puts them);
//! - `project.rs`: the fields an answer shows and one stored record written straight as JSON
//!   text (HAL links, secrets withheld);
//! - `page.rs`: a collection GET's listing (the records filtered and ordered) and its answer:
//!   `max_records` paging with `_links.next`, `return_records=false`, `num_records`;
//! - `listings.rs`: the listings of recent paged walks, kept while the store is unchanged, so
//!   that each page of a walk looks only at its own records.
//!
//! The engine uses the switches (`faults`, `variants`), `errors`, `keys` and the contract only;
//! the store and the handler use it, never the other way round.

mod listings;
mod matching;
mod order;
mod page;
mod parse;
mod project;
mod served;

pub use listings::{ListingKey, Listings};
pub use matching::{literals_on, matches_all, value_matches};
pub use order::compare as order_compare;
pub use page::{collection_get, decode_token, list, pages};
pub use parse::{QueryPlan, parse_query, reject_duplicates};
pub use project::{
    ReadKind, Render, Rendered, Row, Selection, post_selection, project, select, write_record,
};
pub use served::ServedResource;

/// The parameter that carries the paging position in `_links.next` (opaque to clients).
pub const START_PARAM: &str = "start.index";
/// The one parameter of a `next` link under the `opaque-next` variant: the whole query, hex.
pub const TOKEN_PARAM: &str = "next_token";
