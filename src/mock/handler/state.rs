//! The shared state of one running mock: its configuration, the query engine's table of every
//! catalog family, the credentials, and the store behind a lock, with the state file written
//! after every change. Built once at start; every request borrows it.

use super::auth::Logins;
use super::discovery::{Discovery, discovery};
use crate::error::{Error, Result};
use crate::mock::config::Role;
use crate::mock::config::{MockConfig, default_data_set, load_data_set};
use crate::mock::errors::{ApiError, CODE_INTERNAL};
use crate::mock::query::{ListingKey, Listings, QueryPlan, ServedResource};
use crate::mock::store::Store;
use crate::spec::model::Kind;
use axum::http::StatusCode;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The shared state of one mock.
pub struct Mock {
    pub(super) cfg: MockConfig,
    /// Family name to the table the query engine serves it from.
    pub(super) tables: BTreeMap<String, ServedResource>,
    pub(super) disc: &'static Discovery,
    pub(super) creds: Logins,
    store: RwLock<Store>,
    /// Moves on whenever the store may change (each write lock taken): what a kept listing was
    /// made at.
    generation: AtomicU64,
    /// The listings of recent paged walks (see [`Listings`]).
    listings: Listings,
}

impl Mock {
    pub fn new(cfg: MockConfig) -> Result<Mock> {
        let spec = cfg.spec;
        let from_state = match &cfg.state_file {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                Some(load_data_set(spec, &p.display().to_string(), &text)?)
            }
            _ => None,
        };
        let data = match (from_state, &cfg.fixtures) {
            (Some(v), _) => v,
            (None, Some(v)) => v.clone(),
            (None, None) => default_data_set(spec, cfg.seed, cfg.records, cfg.version),
        };
        let store = Store::from_value(spec, &data)
            .map_err(|e| Error::Usage(format!("mock data set: {e}")))?;
        let mut tables = BTreeMap::new();
        for fam in &spec.families {
            let coll = spec
                .endpoints
                .iter()
                .find(|e| e.family == fam.family && e.kind() == Kind::Collection);
            let inst = spec
                .endpoints
                .iter()
                .find(|e| e.family == fam.family && e.kind() == Kind::Instance);
            let Some(res) = spec.resource(&fam.resource) else {
                continue;
            };
            // An instance-only family lists under its instance path minus the key; a
            // singleton's one record lives at its path.
            let path = match (coll, inst, spec.singleton_of(&fam.family)) {
                (Some(c), _, _) => c.path().to_string(),
                (None, Some(i), _) => i
                    .path()
                    .rsplit_once('/')
                    .map(|(a, _)| a.to_string())
                    .unwrap_or_default(),
                (None, None, Some(s)) => s.path().to_string(),
                (None, None, None) => continue,
            };
            tables.insert(fam.family.clone(), ServedResource::new(res, path, inst));
        }
        let creds = Logins::new(&cfg.users);
        let mock = Mock {
            cfg,
            tables,
            disc: discovery(),
            creds,
            store: RwLock::new(store),
            generation: AtomicU64::new(0),
            listings: Listings::default(),
        };
        if mock.cfg.state_file.is_some() {
            let store = mock.read();
            mock.persist(&store)?;
        }
        Ok(mock)
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        let guard = self.store.write().unwrap_or_else(|e| e.into_inner());
        // Taken while no reader holds the store: a listing made under a read lock is of the
        // store as this generation says.
        self.generation.fetch_add(1, Ordering::SeqCst);
        guard
    }

    /// The listing of a collection GET (the positions of the records it selects, in answer
    /// order): for a page of a walk, the one kept from an earlier page of the same query while
    /// the store is unchanged, else `make`'s. Call it holding the store's read lock.
    pub(super) fn listing(
        &self,
        path: &str,
        role: &Role,
        plan: &QueryPlan,
        make: impl FnOnce() -> Vec<u64>,
    ) -> Arc<[u64]> {
        if !crate::mock::query::pages(plan, self.faults()) {
            return make().into();
        }
        let key = ListingKey::new(path, format!("{role:?}"), &plan.carry);
        self.listings
            .get_or(key, self.generation.load(Ordering::SeqCst), make)
    }

    /// Writes the state file (a temporary sibling renamed over it, which is removed if anything
    /// fails), then syncs the directory so the rename itself survives a crash.
    fn persist(&self, store: &Store) -> Result<()> {
        if let Some(p) = &self.cfg.state_file {
            let mut text = serde_json::to_string_pretty(&store.to_value())
                .map_err(|e| Error::Internal(format!("state: {e}")))?;
            text.push('\n');
            crate::fsutil::write_atomic(p, text.as_bytes())?;
            let dir = crate::fsutil::dir_of(p);
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(dir, e))?;
        }
        Ok(())
    }

    /// What to restore if saving a change fails: a copy of the store, kept only with `--state`.
    pub(super) fn snapshot(&self, store: &Store) -> Option<Store> {
        self.cfg.state_file.as_ref().map(|_| store.clone())
    }

    /// Saves a change; if the state file cannot be written, the change is undone (the store
    /// goes back to `before`) and the request answers 500 with the envelope, so the client never
    /// believes in a change that a restart would lose.
    pub(super) fn persist_or_roll_back(
        &self,
        store: &mut Store,
        before: Option<Store>,
    ) -> std::result::Result<(), ApiError> {
        let Err(e) = self.persist(store) else {
            return Ok(());
        };
        (self.cfg.warn)(&format!(
            "could not write the state file, change undone: {e}"
        ));
        if let Some(b) = before {
            *store = b;
        }
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            CODE_INTERNAL,
            format!("The change could not be saved ({e}); nothing was changed"),
        ))
    }

    /// Writes the state after a change the faults make; a failure is told to `cfg.warn`.
    pub(super) fn persist_after_change(&self, store: &Store) {
        if let Err(e) = self.persist(store) {
            (self.cfg.warn)(&format!("could not write the state file: {e}"));
        }
    }
}
