//! Connecting: the server named by `--server`, or a simulator started
//! in-process for `--simulate`; one transport (client, token, rate) for
//! every read and write of the run.

use std::sync::atomic::AtomicBool;

use anyhow::{Result, bail};

use crate::cli::{Config, Target};
use crate::pam360::{Client, ClientConfig, TlsTrust};
use crate::secret::Secret;
use crate::simulator::{SimOptions, Simulator, random_token};
use crate::transport::{Abort, Transport, rate};

/// A run's way to the server; the simulator lives as long as it.
pub struct Connected<'s> {
    pub transport: Transport<'s>,
    _simulator: Option<Simulator>,
}

impl Connected<'_> {
    /// Ends the connection: the client closes on a thread aside (reqwest's
    /// blocking client waits for its runtime to close every pooled
    /// connection, tens of milliseconds nothing needs to wait for), the
    /// simulator here (it saves its `--state` as it stops).
    pub fn close(self) {
        super::finish::drop_aside(self.transport.into_client());
        drop(self._simulator);
    }
}

/// Connects, or `None` for a run that talks to no server (an offline dry
/// run). Nothing goes over the network yet.
pub fn connect<'s>(cfg: &Config, stop: &'s AtomicBool) -> Result<Option<Connected<'s>>> {
    if matches!(cfg.target, Target::None) {
        return Ok(None);
    }
    let (simulator, client, token) = open(cfg)?;
    let rate: Box<dyn rate::RateControl> = if cfg.rate_auto {
        Box::new(crate::transport::auto::Auto::new(cfg.rate, cfg.rate_max))
    } else {
        Box::new(rate::Fixed::new(cfg.rate))
    };
    Ok(Some(Connected {
        transport: Transport::new(client, token, rate, cfg.transport_settings(), stop),
        _simulator: simulator,
    }))
}

/// The message of rows an abort left untaken.
pub fn untaken(aborted: Option<&Abort>, again: crate::transport::Again) -> String {
    match aborted {
        Some(a) => format!("not sent: {}", a.describe_in(again)),
        None => "not sent".to_string(),
    }
}

/// The server, or a simulator started in-process for `--simulate`.
fn open(cfg: &Config) -> Result<(Option<Simulator>, Client, Secret)> {
    let (simulator, url, token) = match &cfg.target {
        Target::Simulate { inventory, state } => {
            let token = random_token();
            let sim = Simulator::start(
                "127.0.0.1:0",
                SimOptions {
                    token: token.clone(),
                    any_account: true,
                    inventory: inventory.clone(),
                    state_file: state.clone(),
                    ..SimOptions::default()
                },
            )?;
            let url = sim.url();
            log::info!("simulating PAM360 at {url}");
            (Some(sim), url, Secret::new(token))
        }
        Target::Server { url, token } => (None, url.clone(), token.clone()),
        Target::None => bail!("no server to send to"),
    };
    if matches!(cfg.trust, TlsTrust::Insecure) {
        log::warn!(
            "--insecure: the server's certificate is not checked; anyone on the path can read the token"
        );
    }
    let client = Client::new(&ClientConfig {
        server: url,
        token: token.clone(),
        trust: cfg.trust.clone(),
        timeout: cfg.timeout,
        concurrency: cfg.concurrency,
        // The in-process simulator is on loopback: never through a proxy.
        no_proxy: cfg.no_proxy || simulator.is_some(),
    })?;
    Ok((simulator, client, token))
}
