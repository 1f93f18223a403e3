//! The raw command line, as clap reads it. Nothing here is validated beyond what clap checks;
//! [`super::run`], [`super::mock`] and [`super::spec`] turn these into configuration.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const ABOUT: &str = "Contract-conformance harness for NetApp ONTAP's REST API";
const LONG_ABOUT: &str = "\
Contract-conformance harness for NetApp ONTAP's REST API.

It checks what generic API fuzzers cannot: ONTAP's fields= selection, query filters, paging,
ordering, PATCH restrictions, error envelopes and error codes, and it leaves a live cluster as it
found it. The contract is data (specs/); the built-in reference mock serves the same contract.

Typical uses:
  ontap-conform run                                 the whole suite against the built-in mock
  ontap-conform run --target https://cluster1 --user admin --password-env ONTAP_PASSWORD
  ontap-conform run --target URL ... --record baseline/      before an upgrade
  ontap-conform run --target URL ... --compare baseline/     after it
  ontap-conform mock                                serve the mock for Ansible, Terraform, scripts
  ontap-conform spec list                           the endpoint catalog
  ontap-conform restore --target URL ...            finish the restore of a killed run
  ontap-conform run --config FILE --all-targets     every cluster of a fleet, a few at once
  ontap-conform report merge OUT... -- IN...        the reports of CI shards, merged
  ontap-conform completions bash                    a completion script for your shell

Exit codes: 0 no failure, 1 a check failed, 2 usage or configuration error,
3 target unreachable or not ONTAP-like (or the run gave up: --max-failures, --deadline),
4 drift against a recorded baseline, 5 the target was left changed (wins over 1).";

const RUN_ABOUT: &str = "\
Run the conformance suite against a target (the built-in mock by default).

Every check reads the contract (specs/); `--list-checks` lists them with their evidence. Rules
known from NetApp's docs or client library fail the run; rules only observed on clusters warn
(--strict makes them fail).

What it changes on the target:
  --read-only            GETs only; nothing changes.
  (default)              Restorable PATCHes only: each record is read first and written to the
                         restore journal, written back after each check and verified, also on
                         failure and on SIGINT, SIGTERM or SIGHUP; `restore` finishes after a kill.
                         Also probes that must be refused and change nothing: methods a path does
                         not take (405) and DELETE or PATCH on keys that do not exist (404).
  --allow-destructive    Also POST and DELETE, write-only secrets and fields that could lock
                         people out (Duo is_enabled, api_host, ...). For lab clusters and mocks.

Examples:
  ontap-conform run
  ontap-conform run --target https://cluster1 --user admin --password-env PW --ca-cert ca.pem
  ontap-conform run --target https://cluster1 --password-env PW --read-only --report junit=junit.xml
  ontap-conform run --target https://lab1 --password-env PW --seed 1 --record baseline/
  ontap-conform run --target https://lab1 --password-env PW --compare baseline/
  ontap-conform run --fault crlf-kept --check patch-roundtrip      (see a check fail on the mock)
  ontap-conform run -q                        only the failures and the summary line
  ontap-conform run -v --check paging         every exchange on standard error
  ontap-conform run --config fleet.toml --all-targets --report junit=fleet.xml
                                              every target of the file, 4 at a time
  ontap-conform run --config fleet.toml --all-targets --shard 2/4 --seed 7 --report json=r2.json
                                              the second of four CI jobs (docs/fleet.md)

Without --password-env, the password is read from ONTAP_PASSWORD when it is set (that of
--svm-user from ONTAP_SVM_PASSWORD), else asked for on the terminal. Colour is used when standard
output is a terminal and NO_COLOR is not set.";

#[derive(Debug, Parser)]
#[command(name = "ontap-conform", version, about = ABOUT, long_about = LONG_ABOUT, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance suite against a target (the built-in mock by default)
    #[command(long_about = RUN_ABOUT)]
    Run(Box<RunArgs>),
    /// Serve the reference ONTAP mock over HTTPS
    Mock(Box<MockArgs>),
    /// Inspect the contract: the endpoint catalog, one definition, OpenAPI export, doc lint
    Spec(SpecArgs),
    /// Compare two recordings made with `run --record` (offline)
    Diff(DiffArgs),
    /// Put back every record an interrupted or killed run left changed, from its journal
    #[command(long_about = RESTORE_ABOUT)]
    Restore(RestoreArgs),
    /// Combine reports: the JSON reports of shards or targets into one fleet report
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(long_about = COMPLETIONS_ABOUT)]
    Completions {
        /// The shell to complete for
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

const COMPLETIONS_ABOUT: &str = "\
Print a completion script for SHELL on standard output.

Examples:
  ontap-conform completions bash > ~/.local/share/bash-completion/completions/ontap-conform
  ontap-conform completions zsh > \"${fpath[1]}/_ontap-conform\"
  ontap-conform completions fish > ~/.config/fish/completions/ontap-conform.fish";

const RESTORE_ABOUT: &str = "\
Put back every record an interrupted or killed run left changed, from its restore journal.

Before its first change to a record, `run` writes the record's original state to a journal file
(default: under $XDG_STATE_HOME or ~/.local/state/ontap-conform/journals/, one file per target;
`run --journal FILE` to choose). A run that ends normally removes it. After a SIGKILL, a power cut
or a restore that failed, the journal stays, the next run against that target refuses to start,
and this command finishes the job: it writes each record back, verifies it with a read-back,
deletes records the run created, and removes the journal when every record is back.

Exit codes: 0 every record is back (the journal is removed), 2 no journal or bad usage,
3 target unreachable, 5 some records are still not back (the journal stays).

Examples:
  ontap-conform restore --target https://cluster1 --password-env PW
  ontap-conform restore --journal ./run.journal --password-env PW";

/// Flags of `ontap-conform restore`.
#[derive(Debug, Clone, Default, Args)]
pub struct RestoreArgs {
    /// The journal to finish [default: the one of --target, under the user's state directory]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The target and how to reach it and log in: the flags `run` and `restore` share (in a `run
/// --config` file, the same names are keys of a target's table, with `url` for --target).
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// Base URL of the target, e.g. https://cluster1.example.com [run: default the built-in
    /// mock; restore: the one the journal names]
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// User name for HTTP Basic auth, a cluster administrator [default: admin; restore: the one
    /// the journal names]
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Read the password from this environment variable [default: ONTAP_PASSWORD when it is
    /// set, otherwise it is asked for]; never a flag value
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Do not verify the target's TLS certificate (like curl -k)
    #[arg(long, conflicts_with = "ca_cert")]
    pub insecure: bool,
    /// Verify the target's certificate against this PEM CA certificate
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Log in with this PEM client certificate (with --client-key; --password-env is then
    /// optional)
    #[arg(long, value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of --client-cert
    #[arg(long, value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// Go through this HTTP proxy (http://[user:password@]host:port) instead of the one
    /// HTTPS_PROXY or HTTP_PROXY names; NO_PROXY still applies
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Seconds a whole exchange may take: connecting, the request, the answer's headers and
    /// body [default: 30]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

const IMPORT_ABOUT: &str = "\
Turn NetApp's own machine-readable definitions into a contract directory in the specs/ format
(schemas with x-ontap-* flags, the endpoint catalog, evidence lib), for every family or those
--family names. Nothing the source does not state is added: an imported family has no error
codes, no CRLF rules and no descriptions.

Sources (exactly one):
  --netapp-ontap [VERSION|PATH]  NetApp's Python client: the one python3 imports, a release
                                 (9.16.1.0) from the cache or installed, or a directory made
                                 by `pip install --target DIR netapp-ontap==VERSION`
  --swagger FILE|URL             the Swagger 2.0 document a cluster serves at
                                 https://<cluster>/docs/api/swagger.yaml (YAML or JSON), a file
                                 or fetched with --user, --password-env and --insecure/--ca-cert

Examples:
  ontap-conform spec import --netapp-ontap 9.16.1.0 --out contracts/9.16
  ontap-conform spec import --netapp-ontap --family 'volume*' --family snapshot --out vol
  ontap-conform spec import --swagger swagger.yaml --out cluster1
  ontap-conform spec import --swagger https://cluster1/docs/api/swagger.yaml \\
      --password-env ONTAP_PASSWORD --ca-cert cluster1-ca.pem --out cluster1
  ontap-conform run --contract cluster1 --target https://cluster1 --password-env PW";

const DIFF_ABOUT: &str = "\
Print what an upgrade changes in the API, from two contracts: two shipped releases, a release and
a cluster's own swagger.yaml, a release and a directory from `spec import`, or a release and the
hand-written specs/. Families are paired by name, else by a path they share.

Exit codes: 0 no change, 4 changes (like `run --compare`), 2 a contract could not be read.

Examples:
  ontap-conform spec diff ontap-9.14 ontap-9.16
  ontap-conform spec diff ontap-latest ./swagger.yaml --json";

/// Flags of `spec import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Read NetApp's Python client: the installed one, a release (9.16.1.0) or a directory
    #[arg(
        long,
        value_name = "VERSION|PATH",
        num_args = 0..=1,
        default_missing_value = "",
        required_unless_present = "swagger",
        conflicts_with = "swagger"
    )]
    pub netapp_ontap: Option<String>,
    /// Read a cluster's Swagger 2.0 definition (swagger.yaml, YAML or JSON): a file, or a URL
    /// fetched with --user/--password-env and the TLS flags, like `run --target`
    #[arg(long, value_name = "FILE|URL")]
    pub swagger: Option<String>,
    /// With a --swagger URL: the user for HTTP Basic auth
    #[arg(long, value_name = "NAME", default_value = "admin")]
    pub user: String,
    /// With a --swagger URL: read the password from this environment variable [default:
    /// ONTAP_PASSWORD when it is set, otherwise it is asked for]
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// With a --swagger URL: do not verify the cluster's TLS certificate (like curl -k)
    #[arg(long, conflicts_with = "ca_cert")]
    pub insecure: bool,
    /// With a --swagger URL: verify the cluster's certificate against this PEM CA certificate
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Write the contract into this directory (new or empty)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Import only the families whose name matches (repeatable; `*` and `?`, e.g. 'volume*')
    #[arg(long = "family", value_name = "GLOB")]
    pub families: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Read the contract from this directory instead of the built-in copy of specs/
    #[arg(long, value_name = "DIR", global = true)]
    pub specs: Option<PathBuf>,
    /// The contract to inspect: `specs` (default), a shipped release (ontap-9.6 ... ontap-9.19,
    /// ontap-latest), a directory written by `spec import`, or a swagger.yaml
    #[arg(long, value_name = "NAME|DIR", global = true, conflicts_with = "specs")]
    pub contract: Option<String>,
    #[command(subcommand)]
    pub command: SpecCommand,
}

#[derive(Debug, Subcommand)]
pub enum SpecCommand {
    /// Print the endpoint catalog: path, methods, introduced in, number of rules
    List,
    /// Print one definition (e.g. `duo`, `owner`) or one endpoint (e.g. `/api/security/login/messages`)
    Show {
        /// A definition name or an endpoint path
        name: String,
        /// Print the raw JSON instead of the readable summary
        #[arg(long)]
        json: bool,
    },
    /// Write an OpenAPI 3.1 document built from specs/ (for Schemathesis, Prism, generators)
    Openapi {
        /// Write to FILE instead of standard output
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Turn NetApp's own definitions into a contract directory (the specs/ format)
    #[command(long_about = IMPORT_ABOUT)]
    Import(ImportArgs),
    /// Print what an upgrade changes in the API: families, paths, methods, fields, enums, limits
    #[command(long_about = DIFF_ABOUT)]
    Diff {
        /// The contract before: a shipped release (ontap-9.14), a directory from `spec import`,
        /// a swagger.yaml, or `specs`
        old: String,
        /// The contract after, the same kinds
        new: String,
        /// Print the changes as JSON
        #[arg(long)]
        json: bool,
    },
    /// Report the NetApp doc examples that contradict the declared types
    ///
    /// Exits non-zero only for defects in specs/ itself (1: a doc example the catalog has no
    /// schema for; 2: specs/ does not load); contradictions in the docs are reported and exit 0,
    /// because the declared types win.
    Lint {
        /// Directory of NetApp reference pages as text (e.g. ../shared/seeds beside a checkout)
        #[arg(long, value_name = "DIR", env = "ONTAP_CONFORM_SEEDS")]
        seeds: PathBuf,
        /// Print the findings as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The baseline recording
    #[arg(value_name = "DIR_A")]
    pub a: PathBuf,
    /// The recording to compare with it
    #[arg(value_name = "DIR_B")]
    pub b: PathBuf,
    /// Also write the drift as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// An endpoint whose p95 latency grew more than F times is drift (kind latency)
    #[arg(long, value_name = "F")]
    pub latency_drift: Option<f64>,
}

/// Flags of `ontap-conform mock`.
#[derive(Debug, Clone, Args)]
pub struct MockArgs {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub listen: String,
    /// Serve plain HTTP instead of HTTPS
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    pub plain_http: bool,
    /// PEM certificate to serve (default: a self-signed one made at start)
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key of --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// ONTAP version to report in /api/cluster; endpoints introduced later answer 404
    /// [default: 9.14.1, or the release of an imported contract]
    #[arg(long, value_name = "VERSION")]
    pub ontap_version: Option<String>,
    /// User name of the cluster administrator (role admin)
    #[arg(
        long,
        value_name = "NAME",
        env = "ONTAP_MOCK_ADMIN_USER",
        default_value = "admin"
    )]
    pub admin_user: String,
    /// Password of the cluster administrator
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "ONTAP_MOCK_ADMIN_PASSWORD",
        default_value = "netapp1!",
        hide_env_values = true
    )]
    pub admin_password: String,
    /// User name of the SVM administrator (role vsadmin)
    #[arg(
        long,
        value_name = "NAME",
        env = "ONTAP_MOCK_SVM_USER",
        default_value = "vsadmin"
    )]
    pub svm_user: String,
    /// Password of the SVM administrator
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "ONTAP_MOCK_SVM_PASSWORD",
        default_value = "netapp1!",
        hide_env_values = true
    )]
    pub svm_password: String,
    /// The SVM the SVM administrator manages
    #[arg(long, value_name = "SVM", default_value = "svm1")]
    pub svm_user_svm: String,
    /// Load this data set (JSON) instead of the built-in fixtures
    #[arg(long, value_name = "FILE")]
    pub fixtures: Option<PathBuf>,
    /// Add N generated SVMs to the data set, each with a login message, five accounts, TOTP for
    /// two of them and (about half) a Duo profile; deterministic (for measuring at scale)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub svms: usize,
    /// For a contract the built-in data set does not fit (an imported release): records per
    /// family of the data set made from the contract
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub records: usize,
    /// Seed of the data set made from the contract (the same seed gives the same records)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Keep state in FILE across restarts (written atomically after every change)
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Break one rule of the contract on purpose (repeatable; see --list-faults)
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// List the fault switches, one line each, and exit
    #[arg(long)]
    pub list_faults: bool,
    /// Show one freedom a conformant ONTAP has (repeatable; see --list-variants)
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,
    /// List the variant switches, one line each, and exit
    #[arg(long)]
    pub list_variants: bool,
    /// Largest request body accepted, in bytes; larger ones answer 413
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_body: usize,
    /// Close a connection idle (no byte either way) for this long, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Read the contract from this directory instead of the built-in copy of specs/
    #[arg(long, value_name = "DIR")]
    pub specs: Option<PathBuf>,
    /// The contract: `specs` (the hand-written families, default), a shipped release of NetApp's
    /// API (ontap-9.6 ... ontap-9.19, ontap-latest), a directory written by `spec import`, or a
    /// swagger.yaml
    #[arg(long, value_name = "NAME|DIR", conflicts_with = "specs")]
    pub contract: Option<String>,
    /// Write the self-signed certificate (PEM) to FILE, so clients can trust it instead of -k
    #[arg(long, value_name = "FILE", conflicts_with_all = ["plain_http", "cert"])]
    pub ca_file: Option<PathBuf>,
    /// Accept client certificates signed by this PEM CA: one logs in as the user its CN names,
    /// without a password
    #[arg(long, value_name = "FILE", conflicts_with = "plain_http")]
    pub client_ca: Option<PathBuf>,
}

/// Flags of `ontap-conform run`.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// An SVM administrator, for the role checks
    #[arg(long, value_name = "NAME")]
    pub svm_user: Option<String>,
    /// Read the SVM administrator's password from this environment variable [default:
    /// ONTAP_SVM_PASSWORD when it is set, otherwise it is asked for]
    #[arg(long, value_name = "VAR")]
    pub svm_password_env: Option<String>,
    /// Without --svm-user, run the role checks as the cluster administrator tunnelled into this
    /// SVM (X-Dot-SVM-Name)
    #[arg(long, value_name = "NAME")]
    pub tunnel_svm: Option<String>,
    /// Longest answer body read, in bytes; a longer one is cut off and is a finding [default:
    /// 16777216]
    #[arg(long, value_name = "N")]
    pub max_answer_bytes: Option<usize>,
    /// Requests in flight at once [default: 4]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Worker threads of the harness [default: 1 against --target, which leaves the other cores
    /// to a target on the same machine; every core with the built-in mock, which shares them].
    /// Decoding a large answer and a pass over a large family take one more thread while they
    /// last, so the requests of other checks go on meanwhile
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// TOML file with run settings and targets (docs/running-on-a-cluster.md); its keys are
    /// the flags' names (timeout, read_only, ...), also given as ONTAP_CONFORM_<KEY> in the
    /// environment. Flags win over the environment, which wins over the file
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Which target of the config file to use (default: its first)
    #[arg(long = "target-name", value_name = "NAME")]
    pub target_name: Option<String>,
    /// Run every target of --config FILE, several at once, and print a fleet summary: one line
    /// per target, worst first; the exit code is the worst target's (5 > 2 > 3 > 4 > 1 > 0).
    /// --record DIR and --compare DIR keep one baseline per target, in DIR/<name>/
    #[arg(long, requires = "config", conflicts_with_all = ["target", "target_name"])]
    pub all_targets: bool,
    /// With --all-targets: how many targets run at once, each with its own rate, journal and
    /// restore [default: 4]
    #[arg(long, value_name = "N", requires = "all_targets")]
    pub parallel_targets: Option<usize>,
    /// Run share K of N (1 ≤ K ≤ N) of the work, for N CI jobs: the families by name (with
    /// --all-targets the (target, family) pairs) cut into N blocks; the same K/N picks the same
    /// share and its reports name it. Needs --seed; `report merge` puts the shares together
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Generated cases per property check [default: 32]
    #[arg(long, value_name = "N")]
    pub cases: Option<u32>,
    /// Seed of the generators: the same seed sends the same requests [default: random, printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Send only GET requests
    #[arg(long, conflicts_with = "allow_destructive")]
    pub read_only: bool,
    /// Also run POST, DELETE and PATCHes that cannot be restored or could lock people out
    #[arg(long)]
    pub allow_destructive: bool,
    /// Write only to the families whose name matches (repeatable; `*` and `?`): their
    /// restorable PATCH checks run, journaled and put back as always; the other families are
    /// read only. An imported contract (--contract ontap-9.19) is read only without it
    #[arg(
        long = "allow-writes",
        value_name = "GLOB",
        conflicts_with = "read_only"
    )]
    pub allow_writes: Vec<String>,
    /// Run only these checks (repeatable; see --list-checks)
    #[arg(long = "check", value_name = "NAME")]
    pub checks: Vec<String>,
    /// Run only against these endpoints (repeatable; a catalog path)
    #[arg(long = "endpoint", value_name = "PATH")]
    pub endpoints: Vec<String>,
    /// Run only the families whose name matches (repeatable; `*` and `?`, e.g. 'volume*')
    #[arg(long = "family", value_name = "GLOB")]
    pub families: Vec<String>,
    /// List the checks with their evidence and exit
    #[arg(long)]
    pub list_checks: bool,
    /// List every rule of the contract with the checks that judge it, the mock faults that break
    /// it and the legal variants it must stay clean under (docs/rules.md), and exit
    #[arg(long, conflicts_with = "list_checks")]
    pub list_rules: bool,
    /// Write a report: json=FILE, junit=FILE or html=FILE (repeatable)
    #[arg(long = "report", value_name = "FORMAT=FILE")]
    pub reports: Vec<String>,
    /// Warnings fail the run too
    #[arg(long)]
    pub strict: bool,
    /// Record a baseline of the target's behaviour into DIR
    #[arg(long, value_name = "DIR", conflicts_with = "compare")]
    pub record: Option<PathBuf>,
    /// Compare the target's behaviour with the baseline in DIR (drift exits 4); the run replays
    /// the baseline's seed and case count, so --seed and --cases cannot be given with it
    #[arg(long, value_name = "DIR", conflicts_with_all = ["seed", "cases"])]
    pub compare: Option<PathBuf>,
    /// Built-in mock only: the ONTAP version it reports
    #[arg(long, value_name = "VERSION")]
    pub ontap_version: Option<String>,
    /// Built-in mock only: break one rule on purpose (repeatable; see `mock --list-faults`)
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// Built-in mock only: show one freedom a conformant ONTAP has (repeatable; see `mock
    /// --list-variants`)
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,
    /// Built-in mock only: serve this data set (JSON, like `mock --fixtures`) instead of its own
    #[arg(long, value_name = "FILE")]
    pub fixtures: Option<PathBuf>,
    /// Do not show the progress bar
    #[arg(long)]
    pub no_progress: bool,
    /// Print only the failures and the summary line (no table, no progress bar, no notes)
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print every exchange on standard error: method, path, status and latency (the
    /// progress bar is not shown)
    #[arg(short, long)]
    pub verbose: bool,
    /// Restore journal of a --target run [default: under $XDG_STATE_HOME or ~/.local/state,
    /// one file per target]; written (mode 0600, flushed) before each change
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Consecutive transport failures that stop the run: it restores, then exits 3 [default: 5;
    /// 0: never]
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u64>,
    /// Bound the whole run: after SECS no new change is sent, the run restores and exits 3
    #[arg(long, value_name = "SECS")]
    pub deadline: Option<u64>,
    /// Records per family the per-record checks touch: one in eight of the rarest field sets
    /// (a record that lacks a value the others have), the rest chosen by the seed (checks that
    /// must see a whole collection read it once, in pages) [default: 16]
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// At most R requests per second; answers 429 and 503 are retried after their Retry-After
    /// either way [default: no cap]
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// With --compare: an endpoint whose p95 latency grew more than F times is drift (kind
    /// latency, exit 4)
    #[arg(long, value_name = "F", requires = "compare")]
    pub latency_drift: Option<f64>,
    /// Read the contract from this directory instead of the built-in copy of specs/
    #[arg(long, value_name = "DIR")]
    pub specs: Option<PathBuf>,
    /// The contract: `specs` (the hand-written families, default), a shipped release of NetApp's
    /// API (ontap-9.6 ... ontap-9.19, ontap-latest), a directory written by `spec import`, or a
    /// swagger.yaml
    #[arg(long, value_name = "NAME|DIR", conflicts_with = "specs")]
    pub contract: Option<String>,
}

/// `ontap-conform report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Combine JSON reports of shards or targets into one JSON, JUnit and HTML fleet report
    #[command(long_about = MERGE_ABOUT)]
    Merge(MergeArgs),
}

const MERGE_ABOUT: &str = "\
Combine the JSON reports of shards or targets into one fleet report: a JSON document with every
target's report, JUnit XML with one test suite per target, and an HTML page with one row per
target (worst first) and a drill-down per family. The fleet summary is printed too.

The inputs are `run --report json=FILE` reports (of `--shard K/N` runs or whole runs) and fleet
reports (`run --all-targets --report json=FILE`, or an earlier merge). The shards of one target
are combined into one report. Merging refuses, naming both files and values (exit 2): reports
judged by different contracts, a target given twice or in overlapping shards, shards of one
target with different seeds, case counts or modes, and shards of different N. Nothing is written
then.

Each OUT is FORMAT=FILE (json=, junit=, html=; FORMAT:FILE too; - is standard output) or a file
whose name ends in .json, .xml or .html. The inputs follow `--`.

Exit codes: that of the fleet's worst target, ranked 5 > 2 > 3 > 4 > 1 > 0 (not restored,
refused, unreachable or stopped, drift, failed, passed); 3 when a shard of 1..N is missing and
nothing is worse; 2 when the reports cannot be merged.

Examples:
  ontap-conform report merge fleet.json fleet.xml fleet.html -- shard-*/report.json
  ontap-conform report merge junit=junit.xml html=- -- a.json b.json";

/// Flags of `report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Where to write the merged report: FORMAT=FILE or FILE.json, FILE.xml (JUnit), FILE.html
    #[arg(value_name = "OUT", required = true)]
    pub outputs: Vec<String>,
    /// The JSON reports to merge (after --)
    #[arg(value_name = "IN", last = true, required = true)]
    pub inputs: Vec<PathBuf>,
}
