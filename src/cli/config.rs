//! Every setting of `run`, layered and merged once (ripgrep's one conversion): the built-in
//! defaults < the `--config` file (its top level, then the chosen target's table) < the
//! environment (`ONTAP_CONFORM_<KEY>`) < the flags. Each layer is a [`Settings`], where a setting
//! the layer does not give is `None`; [`Settings::under`] lays one layer under another, for every
//! setting at once (through serde, so no setting is merged by hand), and `cli::run` turns the
//! result into the engine's `RunConfig`, whose `build()` validates it.
//!
//! The file's keys, the environment's and the flags' are one set of names: `timeout` in the file,
//! `ONTAP_CONFORM_TIMEOUT` in the environment, `--timeout` on the command line (`--check`,
//! `--endpoint`, `--report`, `--family`, `--fault`, `--variant` and `--allow-writes` are the
//! repeatable flags of the lists `checks`, `endpoints`, `reports`, `families`, `faults`,
//! `variants` and `allow_writes`; a target's table names its URL `url`).

use super::Env;
use super::args::RunArgs;
use ontap_conform::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The prefix of the environment's settings: `ONTAP_CONFORM_TIMEOUT=60`.
pub const ENV_PREFIX: &str = "ONTAP_CONFORM_";
/// Variables with the prefix that are not run settings (used by the test tooling and `spec lint`).
const ENV_NOT_SETTINGS: &[&str] = &["CACHE", "SEEDS", "BIN"];

/// The settings one layer gives; `None` (or an absent key) where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    // The target and how to log in to it.
    #[serde(alias = "url")]
    pub target: Option<String>,
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub insecure: Option<bool>,
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub proxy: Option<String>,
    pub svm_user: Option<String>,
    pub svm_password_env: Option<String>,
    pub tunnel_svm: Option<String>,
    // The contract, and the built-in mock.
    pub contract: Option<String>,
    pub specs: Option<PathBuf>,
    pub ontap_version: Option<String>,
    pub faults: Option<Vec<String>>,
    pub variants: Option<Vec<String>>,
    pub fixtures: Option<PathBuf>,
    // What the run does, and how fast.
    pub read_only: Option<bool>,
    pub allow_destructive: Option<bool>,
    pub allow_writes: Option<Vec<String>>,
    pub checks: Option<Vec<String>>,
    pub endpoints: Option<Vec<String>>,
    pub families: Option<Vec<String>>,
    pub cases: Option<u32>,
    pub seed: Option<u64>,
    pub sample: Option<usize>,
    pub strict: Option<bool>,
    pub timeout: Option<u64>,
    pub max_answer_bytes: Option<usize>,
    pub concurrency: Option<usize>,
    pub threads: Option<usize>,
    pub rate: Option<f64>,
    pub max_failures: Option<u64>,
    pub deadline: Option<u64>,
    pub journal: Option<PathBuf>,
    // What it leaves behind.
    pub reports: Option<Vec<String>>,
    pub record: Option<PathBuf>,
    pub compare: Option<PathBuf>,
    pub latency_drift: Option<f64>,
    // A fleet: one share of the work (`--shard K/N`), targets at once (`--all-targets`).
    pub shard: Option<String>,
    pub parallel_targets: Option<usize>,
    // The file only: a target's name, and the file's targets.
    #[serde(skip_serializing)]
    pub name: Option<String>,
    #[serde(skip_serializing)]
    pub targets: Option<Vec<Settings>>,
}

fn to_map(s: &Settings) -> Map<String, Value> {
    match serde_json::to_value(s).expect("settings are JSON") {
        Value::Object(m) => m,
        _ => unreachable!("settings are an object"),
    }
}

impl Settings {
    /// These settings with `over`'s laid on top: each setting `over` gives wins.
    pub fn under(&self, over: &Settings) -> Settings {
        let mut merged = to_map(self);
        for (k, v) in to_map(over) {
            if !v.is_null() {
                merged.insert(k, v);
            }
        }
        serde_json::from_value(Value::Object(merged)).expect("a merge of settings is settings")
    }

    /// The names of the settings (the file's keys).
    pub fn keys() -> Vec<String> {
        to_map(&Settings::default()).keys().cloned().collect()
    }

    /// The environment's layer: every `ONTAP_CONFORM_<KEY>` that names a setting. A list is
    /// comma-separated; a switch is true/false (or 1/0, yes/no, on/off). Returns the variables
    /// with the prefix that name no setting too, to be warned about.
    pub fn from_env(env: &Env) -> Result<(Settings, Vec<String>)> {
        let keys = Settings::keys();
        let mut layer = Map::new();
        let mut unknown = Vec::new();
        for (var, value) in &env.vars {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = rest.to_ascii_lowercase();
            if !keys.contains(&key) {
                if !ENV_NOT_SETTINGS.contains(&rest) {
                    unknown.push(var.clone());
                }
                continue;
            }
            let v = env_value(var, &key, value)?;
            layer.insert(key, v);
        }
        let s = serde_json::from_value(Value::Object(layer)).expect("each value was checked");
        Ok((s, unknown))
    }

    /// The flags' layer: a flag not given says nothing (a switch not given is not `false`).
    pub fn from_flags(a: &RunArgs) -> Settings {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let on = |b: bool| b.then_some(true);
        let t = &a.target;
        Settings {
            target: t.target.clone(),
            user: t.user.clone(),
            password_env: t.password_env.clone(),
            insecure: on(t.insecure),
            ca_cert: t.ca_cert.clone(),
            client_cert: t.client_cert.clone(),
            client_key: t.client_key.clone(),
            proxy: t.proxy.clone(),
            svm_user: a.svm_user.clone(),
            svm_password_env: a.svm_password_env.clone(),
            tunnel_svm: a.tunnel_svm.clone(),
            contract: a.contract.clone(),
            specs: a.specs.clone(),
            ontap_version: a.ontap_version.clone(),
            faults: list(&a.faults),
            variants: list(&a.variants),
            fixtures: a.fixtures.clone(),
            read_only: on(a.read_only),
            allow_destructive: on(a.allow_destructive),
            allow_writes: list(&a.allow_writes),
            checks: list(&a.checks),
            endpoints: list(&a.endpoints),
            families: list(&a.families),
            cases: a.cases,
            seed: a.seed,
            sample: a.sample,
            strict: on(a.strict),
            timeout: t.timeout,
            max_answer_bytes: a.max_answer_bytes,
            concurrency: a.concurrency,
            threads: a.threads,
            rate: a.rate,
            max_failures: a.max_failures,
            deadline: a.deadline,
            journal: a.journal.clone(),
            reports: list(&a.reports),
            record: a.record.clone(),
            compare: a.compare.clone(),
            latency_drift: a.latency_drift,
            shard: a.shard.clone(),
            parallel_targets: a.parallel_targets,
            name: None,
            targets: None,
        }
    }
}

/// One environment variable's value as the setting `key` takes it.
fn env_value(var: &str, key: &str, value: &str) -> Result<Value> {
    let mut candidates = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(value) {
        candidates.push(v);
    }
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" => candidates.push(Value::Bool(true)),
        "0" | "no" | "off" => candidates.push(Value::Bool(false)),
        _ => {}
    }
    candidates.push(Value::String(value.to_string()));
    candidates.push(Value::Array(
        value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_string()))
            .collect(),
    ));
    let mut why = String::new();
    for c in candidates {
        let one = Value::Object(Map::from_iter([(key.to_string(), c.clone())]));
        match serde_json::from_value::<Settings>(one) {
            Ok(_) => return Ok(c),
            Err(e) if why.is_empty() => why = e.to_string(),
            Err(_) => {}
        }
    }
    Err(Error::Usage(format!(
        "{var}={value:?}: not a value of the setting {key} ({why})"
    )))
}

/// The `--config` file: its top level and its targets, each a layer.
#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub top: Settings,
    pub targets: Vec<Settings>,
}

impl ConfigFile {
    /// Reads and checks the file: known keys only, every target named (uniquely) and with a
    /// `url`, and at least one target unless `target_given` (so that a misconfigured job never
    /// tests the built-in mock instead of the cluster).
    pub fn read(path: &Path, target_given: bool) -> Result<ConfigFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |why: String| Error::Usage(format!("--config {}: {why}", path.display()));
        let mut top: Settings =
            toml::from_str(&text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
        if top.name.is_some() {
            return Err(bad(
                "`name` names a target: it belongs in a [[targets]] table".into(),
            ));
        }
        let targets = top.targets.take().unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in targets.iter().enumerate() {
            let Some(name) = &t.name else {
                return Err(bad(format!(
                    "[[targets]] number {} has no name; expected name = \"...\"",
                    i + 1
                )));
            };
            if t.targets.is_some() {
                return Err(bad(format!(
                    "[[targets]] {name}: a target cannot hold targets"
                )));
            }
            if t.target.is_none() {
                return Err(bad(format!(
                    "[[targets]] {name}: no url; expected url = \"https://cluster.example.com\""
                )));
            }
            if !seen.insert(name.as_str()) {
                return Err(bad(format!(
                    "two targets are named {name:?}; expected unique names"
                )));
            }
        }
        if targets.is_empty() && top.target.is_none() && !target_given {
            return Err(bad("no [[targets]]; expected at least one target (or --target URL), so that a misconfigured job never tests the built-in mock instead of the cluster".into()));
        }
        Ok(ConfigFile {
            path: path.to_path_buf(),
            top,
            targets,
        })
    }

    /// The names of its targets, in the file's order.
    pub fn target_names(&self) -> Vec<&str> {
        self.targets
            .iter()
            .filter_map(|t| t.name.as_deref())
            .collect()
    }

    /// The target named `name`, or an error listing the file's targets.
    pub fn target(&self, name: &str) -> Result<&Settings> {
        self.targets
            .iter()
            .find(|t| t.name.as_deref() == Some(name))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--target-name {name}: not in the config file {}; its targets are {:?}",
                    self.path.display(),
                    self.target_names()
                ))
            })
    }
}

/// Every layer of a `run`, read once.
#[derive(Debug)]
pub struct Layers {
    pub file: Option<ConfigFile>,
    pub env: Settings,
    pub flags: Settings,
    /// `ONTAP_CONFORM_*` variables that name no setting (a typo, probably).
    pub unknown_env: Vec<String>,
}

impl Layers {
    pub fn read(a: &RunArgs, env: &Env) -> Result<Layers> {
        let flags = Settings::from_flags(a);
        let (env_layer, unknown_env) = Settings::from_env(env)?;
        let target_given = flags.target.is_some() || env_layer.target.is_some();
        let file = match &a.config {
            Some(p) => Some(ConfigFile::read(p, target_given)?),
            None => None,
        };
        Ok(Layers {
            file,
            env: env_layer,
            flags,
            unknown_env,
        })
    }

    /// The settings of one run: defaults < the file's top level < the target `name` of the
    /// file < the environment < the flags. Without a name, the file's first target unless the
    /// environment or the flags name a target URL themselves.
    pub fn merged(&self, name: Option<&str>) -> Result<Settings> {
        let mut s = Settings::default();
        if let Some(f) = &self.file {
            s = s.under(&f.top);
            let url_given = self.flags.target.is_some() || self.env.target.is_some();
            let entry = match name {
                Some(n) => Some(f.target(n)?),
                None if !url_given => f.targets.first(),
                None => None,
            };
            if let Some(t) = entry {
                s = s.under(t);
                s.name = t.name.clone();
            }
        }
        let name = s.name.take();
        let mut s = s.under(&self.env).under(&self.flags);
        s.name = name;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        Env::with_vars(vars)
    }

    #[test]
    fn a_layer_wins_only_where_it_says_something() {
        let file = Settings {
            timeout: Some(10),
            cases: Some(4),
            checks: Some(vec!["paging".into()]),
            read_only: Some(true),
            ..Settings::default()
        };
        let flags = Settings {
            timeout: Some(60),
            ..Settings::default()
        };
        let m = file.under(&flags);
        assert_eq!(m.timeout, Some(60));
        assert_eq!(m.cases, Some(4));
        assert_eq!(m.checks, Some(vec!["paging".to_string()]));
        assert_eq!(m.read_only, Some(true), "a switch not given is not false");
    }

    #[test]
    fn the_environment_gives_settings_by_name_and_refuses_bad_values() {
        let (s, unknown) = Settings::from_env(&env(&[
            ("ONTAP_CONFORM_TIMEOUT", "45"),
            ("ONTAP_CONFORM_CHECKS", "paging, field-selection"),
            ("ONTAP_CONFORM_READ_ONLY", "yes"),
            ("ONTAP_CONFORM_USER", "12345"),
            ("ONTAP_CONFORM_RATE", "2.5"),
            ("ONTAP_CONFORM_TIMOUT", "1"),
            ("ONTAP_CONFORM_CACHE", "/tmp"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(s.timeout, Some(45));
        assert_eq!(
            s.checks,
            Some(vec!["paging".to_string(), "field-selection".to_string()])
        );
        assert_eq!(s.read_only, Some(true));
        assert_eq!(s.user.as_deref(), Some("12345"));
        assert_eq!(s.rate, Some(2.5));
        assert_eq!(unknown, ["ONTAP_CONFORM_TIMOUT"]);
        let e = Settings::from_env(&env(&[("ONTAP_CONFORM_TIMEOUT", "soon")])).unwrap_err();
        assert!(
            e.to_string().contains("ONTAP_CONFORM_TIMEOUT=\"soon\"")
                && e.to_string().contains("timeout"),
            "{e}"
        );
    }

    #[test]
    fn defaults_then_file_then_target_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.toml");
        std::fs::write(
            &path,
            "timeout = 10\ncases = 3\nsample = 2\nrate = 5.0\n\n[[targets]]\nname = \"a\"\nurl = \"https://a.example.com\"\ntimeout = 20\nsample = 7\n\n[[targets]]\nname = \"b\"\nurl = \"https://b.example.com\"\n",
        )
        .unwrap();
        let layers = Layers {
            file: Some(ConfigFile::read(&path, false).unwrap()),
            env: Settings {
                timeout: Some(30),
                cases: Some(9),
                ..Settings::default()
            },
            flags: Settings {
                timeout: Some(40),
                ..Settings::default()
            },
            unknown_env: Vec::new(),
        };
        let a = layers.merged(None).unwrap();
        assert_eq!(a.name.as_deref(), Some("a"), "the first target by default");
        assert_eq!(a.target.as_deref(), Some("https://a.example.com"));
        assert_eq!(a.timeout, Some(40), "flags win");
        assert_eq!(a.cases, Some(9), "the environment wins over the file");
        assert_eq!(
            a.sample,
            Some(7),
            "a target's table wins over the top level"
        );
        assert_eq!(a.rate, Some(5.0), "the top level applies to every target");
        let b = layers.merged(Some("b")).unwrap();
        assert_eq!(b.target.as_deref(), Some("https://b.example.com"));
        assert_eq!(b.sample, Some(2));
        let e = layers.merged(Some("c")).unwrap_err().to_string();
        assert!(e.contains("[\"a\", \"b\"]"), "{e}");
    }

    #[test]
    fn a_file_with_an_unnamed_or_duplicate_target_or_an_unknown_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        for (text, needle) in [
            ("[[targets]]\nurl = \"https://a\"\n", "has no name"),
            ("[[targets]]\nname = \"a\"\n", "no url"),
            (
                "[[targets]]\nname = \"a\"\nurl = \"https://a\"\n[[targets]]\nname = \"a\"\nurl = \"https://b\"\n",
                "two targets are named",
            ),
            ("colour = \"blue\"\n", "colour"),
            ("cases = 4\n", "no [[targets]]"),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = ConfigFile::read(&path, false).unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("f.toml"), "{text}: {e}");
        }
    }
}
