//! The command line, and the only module that knows about flags, the environment, the terminal
//! and exit codes. Raw flags ([`args`]) become validated configuration in one place per command
//! ([`run`], [`mock`], [`spec`]), together with what is read from the environment, which is
//! gathered once into an [`Env`] (hurl's `RunContext`). The library below returns what happened;
//! this module prints it and maps it to an exit code (hurl's convention, see [`ontap_conform::error`]).

pub mod args;
pub mod config;
pub mod exit;
pub mod fleet;
pub mod mock;
pub mod progress;
pub mod report;
pub mod restore;
pub mod run;
pub mod spec;

pub use args::{Cli, Command, DiffArgs, MockArgs, RunArgs, SpecArgs, SpecCommand};

use clap::Parser;
use ontap_conform::error::{Error, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

/// What the command line reads from outside its arguments, gathered once: environment variables,
/// whether standard input and error are terminals, and how to ask for a password.
pub struct Env {
    pub vars: BTreeMap<String, String>,
    pub stdin_is_terminal: bool,
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
    /// Asks for a password on the terminal (the prompt names the user).
    pub prompt_password: fn(&str) -> std::io::Result<String>,
}

impl Env {
    /// The environment of this process.
    pub fn from_process() -> Env {
        use std::io::IsTerminal;
        Env {
            vars: std::env::vars().collect(),
            stdin_is_terminal: std::io::stdin().is_terminal(),
            stdout_is_terminal: std::io::stdout().is_terminal(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
            prompt_password: |p| rpassword::prompt_password(p),
        }
    }
    /// An environment with only these variables and no terminal (for tests).
    #[cfg(test)]
    pub fn with_vars(vars: &[(&str, &str)]) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stdin_is_terminal: false,
            stdout_is_terminal: false,
            stderr_is_terminal: false,
            prompt_password: |_| Err(std::io::Error::other("no terminal")),
        }
    }

    /// Whether text written to standard output (`stdout`) or standard error may be coloured:
    /// only on a terminal, and never when `NO_COLOR` is set to anything but the empty string
    /// (no-color.org) or `TERM` is `dumb`.
    pub fn color(&self, stdout: bool) -> bool {
        let terminal = if stdout {
            self.stdout_is_terminal
        } else {
            self.stderr_is_terminal
        };
        terminal
            && self.vars.get("NO_COLOR").is_none_or(|v| v.is_empty())
            && self.vars.get("TERM").is_none_or(|t| t != "dumb")
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match dispatch(cli, &Env::from_process()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = exit::code(&e);
            if !matches!(e, Error::Failed(_) | Error::Drift(_) | Error::Changed(_))
                || !e.to_string().is_empty()
            {
                eprintln!("error: {e}");
            }
            ExitCode::from(code)
        }
    }
}

pub fn dispatch(cli: Cli, env: &Env) -> Result<()> {
    match cli.command {
        Command::Spec(args) => spec::main(args, env),
        Command::Mock(args) => mock::main(*args),
        Command::Run(args) => run::main(*args, env),
        Command::Diff(args) => run::diff(args),
        Command::Restore(args) => restore::main(args, env),
        Command::Report(args::ReportCommand::Merge(args)) => report::merge(args, env),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "ontap-conform",
                &mut script,
            );
            out(&String::from_utf8_lossy(&script))
        }
    }
}

/// A client for one target outside `run` (`restore`, `spec import --swagger URL`): one request
/// at a time, Basic auth with the password from the setting `password_env` (or a prompt), or the
/// client certificate; TLS verified against the platform's roots, `ca_cert` only, or not at all;
/// the `proxy` setting, else the environment's proxies.
pub(crate) struct OneClient<'a> {
    pub base: String,
    pub user: &'a str,
    /// The login and transport settings (`password_env`, `insecure`, `ca_cert`, `client_cert`,
    /// `client_key`, `proxy`, `timeout`), as `run` reads them.
    pub login: &'a config::Settings,
}

impl OneClient<'_> {
    pub(crate) fn build(
        self,
        env: &Env,
        adjust: impl FnOnce(ontap_conform::client::ClientConfig) -> ontap_conform::client::ClientConfig,
    ) -> Result<ontap_conform::client::Client> {
        use ontap_conform::client::{Client, ClientConfig, Credentials};
        let s = self.login;
        let identity = run::client_identity(s)?;
        let admin = if identity.is_some() && s.password_env.is_none() {
            Credentials::certificate(self.user.to_string())
        } else {
            let password = run::password_from(
                env,
                s.password_env.as_deref(),
                run::PASSWORD_VAR,
                self.user,
                "--password-env",
            )?;
            Credentials::new(self.user, password)
        };
        let trust = run::trust(s.insecure.unwrap_or(false), s.ca_cert.as_deref())?;
        ontap_conform::client::install_crypto();
        Client::new(adjust(ClientConfig {
            concurrency: 1,
            proxy: run::proxies(s, env)?,
            identity,
            timeout: std::time::Duration::from_secs(
                s.timeout
                    .unwrap_or(ontap_conform::run::config::DEFAULT_TIMEOUT_SECS),
            ),
            ..ClientConfig::new(self.base, admin, trust)
        }))
        .map_err(Error::from)
    }
}

/// The contract a command reads: `--contract NAME|DIR`, else `--specs DIR`, else the built-in one.
pub(crate) fn contract(
    contract: Option<&str>,
    specs: Option<&std::path::Path>,
) -> Result<&'static ontap_conform::spec::Spec> {
    match contract {
        Some(name) => Ok(ontap_conform::spec::Spec::contract(name)?),
        None => Ok(ontap_conform::spec::Spec::load(specs)?),
    }
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
pub(crate) fn out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("standard output", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::Env;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        let on_terminal = |vars: &[(&str, &str)]| {
            let mut env = Env::with_vars(vars);
            env.stdout_is_terminal = true;
            env
        };
        assert!(on_terminal(&[]).color(true));
        assert!(
            !on_terminal(&[]).color(false),
            "standard error is no terminal"
        );
        assert!(!Env::with_vars(&[]).color(true), "piped");
        assert!(!on_terminal(&[("NO_COLOR", "1")]).color(true));
        assert!(
            on_terminal(&[("NO_COLOR", "")]).color(true),
            "an empty NO_COLOR does not count (no-color.org)"
        );
        assert!(!on_terminal(&[("TERM", "dumb")]).color(true));
    }
}
