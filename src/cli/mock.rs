//! `ontap-conform mock`: turns the raw flags into a checked [`MockConfig`] (in one place), serves
//! the mock until Ctrl-C or SIGTERM, and prints what a user needs to point a client at it (URL,
//! users, TLS, faults).

use super::MockArgs;
use ontap_conform::error::{Error, Result};
use ontap_conform::mock::{
    DEFAULT_PASSWORD, Fault, MockConfig, Role, Tls, User, Variant, faults, variants,
};
use ontap_conform::spec::OntapVersion;
use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

fn read_text(flag: &str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("{flag} {}: cannot read it ({e})", path.display())))
}

/// The checked configuration of one `mock` command.
pub struct Prepared {
    pub config: MockConfig,
    pub listen: SocketAddr,
    pub tls: Tls,
}

/// Checks every flag; nothing after this re-checks arguments.
pub fn prepare(args: &MockArgs) -> Result<Prepared> {
    let spec = super::contract(args.contract.as_deref(), args.specs.as_deref())?;
    if !(1..=10_000).contains(&args.records) {
        return Err(Error::Usage(format!(
            "--records {}: expected 1 to 10000 records per family",
            args.records
        )));
    }
    let version: OntapVersion = match &args.ontap_version {
        Some(v) => v
            .parse::<OntapVersion>()
            .map_err(|e| Error::Usage(format!("--ontap-version: {e}")))?,
        // An imported release reports its own version: its families are all there.
        None => spec
            .release()
            .unwrap_or(ontap_conform::mock::DEFAULT_VERSION),
    };
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        Error::Usage(format!(
            "--listen {:?}: expected an address and port like 127.0.0.1:8443, [::1]:8443 or 0.0.0.0:0",
            args.listen
        ))
    })?;
    let mut faults = BTreeSet::new();
    for f in &args.faults {
        let fault = f
            .parse::<Fault>()
            .map_err(|e| Error::Usage(format!("--fault: {e}")))?;
        faults.insert(fault);
    }
    let mut variants = BTreeSet::new();
    for v in &args.variants {
        let variant = v
            .parse::<Variant>()
            .map_err(|e| Error::Usage(format!("--variant: {e}")))?;
        variants.insert(variant);
    }
    if variants.contains(&Variant::TrailingLf) && variants.contains(&Variant::NoTrailingLf) {
        return Err(Error::Usage(
            "--variant trailing-lf and --variant no-trailing-lf contradict each other; give one"
                .into(),
        ));
    }
    if args.admin_user == args.svm_user {
        return Err(Error::Usage(format!(
            "--admin-user and --svm-user are both {:?}; expected two different user names",
            args.admin_user
        )));
    }
    let mut fixtures = match &args.fixtures {
        None => None,
        Some(p) => Some(ontap_conform::mock::load_data_set(
            spec,
            &p.display().to_string(),
            &read_text("--fixtures", p)?,
        )?),
    };
    if args.svms > 0 {
        let mut base = match fixtures.take() {
            Some(v) => v,
            None => serde_json::from_str(ontap_conform::mock::store::BUILTIN_FIXTURES)
                .map_err(|e| Error::Usage(format!("the built-in data set: {e}")))?,
        };
        ontap_conform::mock::scale::add_svms(&mut base, args.svms);
        ontap_conform::mock::store::Store::from_value(spec, &base)
            .map_err(|e| Error::Usage(format!("--svms {}: {e}", args.svms)))?;
        fixtures = Some(base);
    }
    let tls = if args.plain_http {
        Tls::Plain
    } else {
        match (&args.cert, &args.key) {
            (Some(c), Some(k)) => Tls::Pem {
                cert: read_text("--cert", c)?,
                key: read_text("--key", k)?,
            },
            _ => Tls::SelfSigned,
        }
    };
    if args.max_body == 0 {
        return Err(Error::Usage(
            "--max-body 0: expected a positive number of bytes".into(),
        ));
    }
    if !(1..=86_400).contains(&args.idle_timeout) {
        return Err(Error::Usage(format!(
            "--idle-timeout {}: expected 1 to 86400 seconds",
            args.idle_timeout
        )));
    }
    let client_ca = match &args.client_ca {
        None => None,
        Some(p) => Some(read_text("--client-ca", p)?),
    };
    let config = MockConfig {
        spec,
        seed: args.seed,
        records: args.records,
        version,
        users: vec![
            User {
                name: args.admin_user.clone(),
                password: args.admin_password.clone(),
                role: Role::Admin,
            },
            User {
                name: args.svm_user.clone(),
                password: args.svm_password.clone(),
                role: Role::Vsadmin {
                    svm: args.svm_user_svm.clone(),
                },
            },
        ],
        faults,
        variants,
        fixtures,
        state_file: args.state.clone(),
        max_body: args.max_body,
        client_ca,
        warn: |m| eprintln!("ontap-conform mock: {m}"),
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
        ..MockConfig::new()
    };
    Ok(Prepared {
        config,
        listen,
        tls,
    })
}

/// Shows a password only when it is the documented default: a chosen one is a secret.
fn shown_password(p: &str) -> &str {
    if p == DEFAULT_PASSWORD {
        p
    } else {
        "(the password you set)"
    }
}

/// The start-up banner.
pub fn banner(p: &Prepared, base_url: &str, ca_file: Option<&Path>) -> String {
    let c = &p.config;
    let mut out = format!(
        "ontap-conform mock: ONTAP {} listening on {base_url}\n",
        c.version
    );
    for u in &c.users {
        let role = match &u.role {
            Role::Admin => "cluster administrator (role admin)".to_string(),
            Role::Vsadmin { svm } => format!("SVM administrator of {svm} (role vsadmin)"),
        };
        out.push_str(&format!(
            "  user {} / {}  {role}\n",
            u.name,
            shown_password(&u.password)
        ));
    }
    out.push_str(match p.tls {
        Tls::Plain => "  plain HTTP (no TLS)\n",
        Tls::SelfSigned => {
            "  TLS: self-signed certificate made at start (curl -k, verify=False, validate_certs: false)\n"
        }
        Tls::Pem { .. } => "  TLS: the --cert/--key pair\n",
    });
    if let Some(f) = ca_file {
        out.push_str(&format!("  certificate written to {}\n", f.display()));
    }
    if c.client_ca.is_some() {
        out.push_str(
            "  client certificates signed by --client-ca log in as the user their CN names\n",
        );
    }
    if c.faults.is_empty() {
        out.push_str("  faults: none\n");
    } else {
        let names: Vec<&str> = c.faults.iter().map(|f| f.name()).collect();
        out.push_str(&format!(
            "  faults: {}  (this mock breaks these rules on purpose)\n",
            names.join(", ")
        ));
    }
    if !c.variants.is_empty() {
        let names: Vec<&str> = c.variants.iter().map(|v| v.name()).collect();
        out.push_str(&format!(
            "  variants: {}  (freedoms a conformant ONTAP has)\n",
            names.join(", ")
        ));
    }
    match &c.state_file {
        Some(s) => out.push_str(&format!("  state: {}\n", s.display())),
        None => out.push_str("  state: in memory (use --state FILE to keep it)\n"),
    }
    out.push_str("Press Ctrl-C to stop.\n");
    out
}

pub fn main(args: MockArgs) -> Result<()> {
    if args.list_faults {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(faults::listing().as_bytes());
        let _ = stdout.flush();
        return Ok(());
    }
    if args.list_variants {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(variants::listing().as_bytes());
        let _ = stdout.flush();
        return Ok(());
    }
    let prepared = prepare(&args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("tokio runtime: {e}")))?;
    rt.block_on(async move {
        let running = ontap_conform::mock::spawn(
            prepared.config.clone(),
            prepared.listen,
            prepared.tls.clone(),
        )
        .await?;
        let ca_file = match (&args.ca_file, &running.ca_pem) {
            (Some(f), Some(pem)) => {
                ontap_conform::fsutil::write_atomic(f, pem.as_bytes())?;
                Some(f.as_path())
            }
            _ => None,
        };
        {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(banner(&prepared, &running.base_url, ca_file).as_bytes());
            let _ = stdout.flush();
        }
        wait_for_stop().await;
        eprintln!("ontap-conform mock: stopping");
        running.shutdown().await;
        Ok(())
    })
}

/// Waits for Ctrl-C (or, on Unix, SIGTERM, so scripts can stop the mock cleanly).
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
