//! The project's binary run from a test: one command builder whose environment does not depend
//! on the developer's shell ([`oc`]), a run bounded in time with its output captured
//! ([`Run::run`]), and `ontap-conform mock` started on a free loopback port ([`MockProcess`]).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The variables of a user's shell that change what the binary does, removed from every command
/// [`oc`] builds (a test sets again the ones it means): the passwords, the mock's users,
/// proxies and `NO_COLOR`, and every `ONTAP_CONFORM_*` (a run's settings, the seed pages). clap
/// prints a variable's value in `--help`, so the snapshots depend on this too.
pub const CLEARED: &[&str] = &[
    "ONTAP_PASSWORD",
    "ONTAP_SVM_PASSWORD",
    "ONTAP_MOCK_ADMIN_USER",
    "ONTAP_MOCK_ADMIN_PASSWORD",
    "ONTAP_MOCK_SVM_USER",
    "ONTAP_MOCK_SVM_PASSWORD",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "NO_COLOR",
];

/// How long [`Run::run`] lets the binary run before it kills it and fails the test.
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// The prefix of the environment's settings of a run (`ONTAP_CONFORM_TIMEOUT`), and of
/// `ONTAP_CONFORM_SEEDS`: every such variable is removed too.
pub const CLEARED_PREFIX: &str = "ONTAP_CONFORM_";

/// Where the binary under test is (for a script that runs it from the `PATH`).
pub fn path() -> &'static str {
    env!("CARGO_BIN_EXE_ontap-conform")
}

/// `ontap-conform`, without the variables of [`CLEARED`] and [`CLEARED_PREFIX`]; add arguments
/// and variables as to any `Command`.
pub fn oc() -> Command {
    let mut c = Command::new(path());
    for v in CLEARED {
        c.env_remove(v);
    }
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with(CLEARED_PREFIX) {
            c.env_remove(k);
        }
    }
    c
}

/// A command run to its end, as `Command::output` runs it (stdin closed, stdout and stderr
/// captured), but bounded by [`TIMEOUT`].
pub trait Run {
    /// Runs the command; panics, naming it, when it cannot start or runs past [`TIMEOUT`].
    fn run(&mut self) -> Output;
}

impl Run for Command {
    fn run(&mut self) -> Output {
        let mut child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {self:?}: {e}"));
        let stdout = read_all(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(s) = child.try_wait().expect("the child can be waited for") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{self:?} ran longer than {TIMEOUT:?}; stderr so far:\n{}",
                    String::from_utf8_lossy(&stderr.join().unwrap_or_default())
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Output {
            status,
            stdout: stdout.join().expect("stdout is read"),
            stderr: stderr.join().expect("stderr is read"),
        }
    }
}

/// Reads a pipe to its end on a thread of its own (so that a full pipe never blocks the child).
fn read_all(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// `ontap-conform mock` in a process of its own on a free loopback port, with the URL it printed
/// (`https://`, or `http://` with `--plain-http`); killed when dropped.
pub struct MockProcess {
    child: Child,
    pub url: String,
}

impl MockProcess {
    /// Starts `ontap-conform mock --listen 127.0.0.1:0 ARGS` with these variables set and waits
    /// for the URL it prints on its first line.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> MockProcess {
        let mut cmd = oc();
        let mut child = cmd
            .args(["mock", "--listen", "127.0.0.1:0"])
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        // Killed on drop, even if no URL comes.
        let mut mock = MockProcess {
            child,
            url: String::new(),
        };
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("the mock prints its URL");
        mock.url = first
            .split_whitespace()
            .find(|w| w.starts_with("https://") || w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in the mock's first line: {first:?}"))
            .to_string();
        mock
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
