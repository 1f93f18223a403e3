//! `--shard K/N`: one of N shares of the work, so that N CI jobs (a GitHub Actions matrix, a
//! GitLab `parallel` job, a Kubernetes indexed Job) each run one share and `report merge` puts
//! the verdicts back together.
//!
//! The work is a list of units: the (target, family) pairs, targets by name and each target's
//! families by name. The list is cut into N contiguous blocks whose sizes differ by one at most
//! (the first blocks get the extra unit), and share K is block K. So the same K/N of the same
//! contract and targets always picks the same share, every unit is in exactly one share, and a
//! target of a fleet is split between at most two shards at a block boundary (the others run it
//! whole or not at all). A single target is the same rule over its families alone.

use std::fmt;

/// Share `k` of `n` (1 ≤ k ≤ n).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

/// The form `--shard` takes, for error messages.
pub const FORM: &str = "K/N with 1 ≤ K ≤ N (e.g. 2/4: the second of four shares)";

/// The largest N: more shards than that is a typo, not a CI matrix.
pub const MAX_SHARDS: u32 = 10_000;

/// Why a `--shard` value is not a share; each message quotes the value and gives [`FORM`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// No `/` between K and N.
    #[error("--shard {0}: not of the form K/N; expected {FORM}")]
    NotKOfN(String),
    /// K or N is not a whole number.
    #[error("--shard {0}: K and N must be whole numbers; expected {FORM}")]
    NotWholeNumbers(String),
    /// N is 0 or above [`MAX_SHARDS`].
    #[error("--shard {0}: N must be 1 to {MAX_SHARDS}; expected {FORM}")]
    NOutOfRange(String),
    /// K is 0 or above N.
    #[error("--shard {given}: K must be 1 to N ({n}); expected {FORM}")]
    KOutOfRange { given: String, n: u32 },
}

impl From<ShardError> for crate::error::Error {
    fn from(e: ShardError) -> Self {
        crate::error::Error::Usage(e.to_string())
    }
}

impl std::str::FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let given = || s.to_string();
        let Some((k, n)) = s.trim().split_once('/') else {
            return Err(ShardError::NotKOfN(given()));
        };
        let (Ok(k), Ok(n)) = (k.trim().parse::<u32>(), n.trim().parse::<u32>()) else {
            return Err(ShardError::NotWholeNumbers(given()));
        };
        if n == 0 || n > MAX_SHARDS {
            return Err(ShardError::NOutOfRange(given()));
        }
        if k == 0 || k > n {
            return Err(ShardError::KOutOfRange { given: given(), n });
        }
        Ok(Shard { k, n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl Shard {
    /// The range of unit indices of this share among `len` units: contiguous blocks whose sizes
    /// differ by one at most, the larger ones first.
    pub fn range(&self, len: usize) -> std::ops::Range<usize> {
        let (n, k) = (self.n as usize, self.k as usize - 1);
        let (base, extra) = (len / n, len % n);
        let start = k * base + k.min(extra);
        let size = base + usize::from(k < extra);
        start..start + size
    }

    /// This share of `units` (taken in the order given).
    pub fn pick<'a, T>(&self, units: &'a [T]) -> &'a [T] {
        &units[self.range(units.len())]
    }

    /// This share of a fleet: for each target (by name) the families it runs in this share,
    /// targets absent that have none. Targets and families are sorted by name first, so the
    /// order they were given in does not matter.
    pub fn of_fleet(
        &self,
        targets: &[String],
        families: &[String],
    ) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut t: Vec<&String> = targets.iter().collect();
        t.sort();
        t.dedup();
        let mut f: Vec<&String> = families.iter().collect();
        f.sort();
        f.dedup();
        let units: Vec<(&String, &String)> = t
            .iter()
            .flat_map(|t| f.iter().map(move |f| (*t, *f)))
            .collect();
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (t, f) in self.pick(&units) {
            out.entry((*t).clone()).or_default().push((*f).clone());
        }
        out
    }
}

/// The families a run would run without a shard: those of `--endpoint`/`--family` when given,
/// else every family of the contract; sorted, once each.
pub fn families_of(c: &super::config::RunConfig) -> Vec<String> {
    let mut f: Vec<String> = c
        .spec
        .endpoints
        .iter()
        .filter(|e| c.endpoints.is_empty() || c.endpoints.iter().any(|p| p == e.path()))
        .map(|e| e.family.clone())
        .collect();
    f.sort();
    f.dedup();
    f
}

/// With a shard, keeps only the endpoints of its families (`RunConfig::build` calls it after
/// `--endpoint` and `--family`). A share with no family leaves the endpoints as they are and
/// `shard_families` empty: the engine then runs nothing (an empty `endpoints` means all).
pub fn narrow(c: &mut super::config::RunConfig) {
    let Some(shard) = c.shard else { return };
    let share: Vec<String> = match c.shard_families.take() {
        Some(given) => given,
        None => shard.pick(&families_of(c)).to_vec(),
    };
    let paths: Vec<String> = c
        .spec
        .endpoints
        .iter()
        .filter(|e| share.contains(&e.family))
        .filter(|e| c.endpoints.is_empty() || c.endpoints.iter().any(|p| p == e.path()))
        .map(|e| e.path().to_string())
        .collect();
    if paths.is_empty() {
        c.note = Some(format!(
            "--shard {shard}: no family of this run falls in this share; nothing is sent (its report says so, for report merge)"
        ));
        c.shard_families = Some(Vec::new());
    } else {
        c.endpoints = paths;
        c.shard_families = Some(share);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(k: u32, n: u32) -> Shard {
        Shard { k, n }
    }

    #[test]
    fn parses_k_of_n_and_names_the_form_otherwise() {
        assert_eq!("2/4".parse::<Shard>(), Ok(s(2, 4)));
        assert_eq!("1/1".parse::<Shard>(), Ok(s(1, 1)));
        for bad in [
            "0/4", "5/4", "x", "1/0", "/4", "2/", "-1/4", "1.5/4", "1/4/2", "",
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains("expected K/N with 1 ≤ K ≤ N"), "{bad}: {e}");
            assert!(e.starts_with(&format!("--shard {bad}:")), "{bad}: {e}");
        }
    }

    #[test]
    fn each_refusal_says_what_is_wrong() {
        assert_eq!(
            "5/4".parse::<Shard>().unwrap_err().to_string(),
            "--shard 5/4: K must be 1 to N (4); expected K/N with 1 ≤ K ≤ N (e.g. 2/4: the second of four shares)"
        );
        assert_eq!(
            "1/0".parse::<Shard>().unwrap_err().to_string(),
            "--shard 1/0: N must be 1 to 10000; expected K/N with 1 ≤ K ≤ N (e.g. 2/4: the second of four shares)"
        );
        assert_eq!("x".parse::<Shard>(), Err(ShardError::NotKOfN("x".into())));
        assert_eq!(
            "1.5/4".parse::<Shard>(),
            Err(ShardError::NotWholeNumbers("1.5/4".into()))
        );
    }

    #[test]
    fn shares_are_contiguous_balanced_and_cover_every_unit_once() {
        for len in 0..40 {
            for n in 1..12 {
                let mut seen = Vec::new();
                let mut sizes = Vec::new();
                for k in 1..=n {
                    let r = s(k, n).range(len);
                    sizes.push(r.len());
                    seen.extend(r);
                }
                assert_eq!(seen, (0..len).collect::<Vec<_>>(), "len {len}, n {n}");
                let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(max - min <= 1, "len {len}, n {n}: {sizes:?}");
            }
        }
    }

    #[test]
    fn a_fleet_share_does_not_depend_on_the_order_given() {
        let t = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = s(2, 3).of_fleet(&t(&["b", "a", "c"]), &t(&["y", "x"]));
        let b = s(2, 3).of_fleet(&t(&["c", "a", "b"]), &t(&["x", "y"]));
        assert_eq!(a, b);
        // Six pairs, two a share: (a,x) (a,y) | (b,x) (b,y) | (c,x) (c,y).
        assert_eq!(a.len(), 1);
        assert_eq!(a["b"], t(&["x", "y"]));
        // Two targets, three families, four shares: a target split at a block boundary.
        let first = s(1, 4).of_fleet(&t(&["a", "b"]), &t(&["x", "y", "z"]));
        assert_eq!(first["a"], t(&["x", "y"]));
        let second = s(2, 4).of_fleet(&t(&["a", "b"]), &t(&["x", "y", "z"]));
        assert_eq!(second["a"], t(&["z"]));
        assert_eq!(second["b"], t(&["x"]));
    }
}
