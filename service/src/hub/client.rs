//! HTTP to the Hub: timeouts, retries with exponential backoff, `Retry-After`, body
//! size limits. Classifying a refused request (not found, gated, ...) is left to the
//! caller, which knows what was asked for.

use super::{HubError, Token};
use std::io::Read;
use std::time::Duration;

/// How the client talks to the Hub.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://huggingface.co` or another Hub endpoint (no trailing slash).
    pub endpoint: String,
    /// Sent as `Authorization: Bearer` (only over HTTPS, or to a loopback address).
    pub token: Option<Token>,
    pub connect_timeout: Duration,
    /// Whole request, body included.
    pub timeout: Duration,
    /// Further attempts after the first, on 429, 5xx and connection errors.
    pub retries: u32,
    /// First backoff; doubled on each retry, up to `max_backoff`.
    pub backoff_base: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the Hub counts as unavailable.
    pub max_retry_after: Duration,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            endpoint: super::DEFAULT_ENDPOINT.to_string(),
            token: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            retries: 4,
            backoff_base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(16),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// An answer other than a transport failure: status, the Hub's error headers, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`, `GatedRepo`).
    pub error_code: Option<String>,
    /// `X-Error-Message`, or the `error` field of a JSON body.
    pub error_message: Option<String>,
    /// `Retry-After` in seconds (an HTTP date is not interpreted: the backoff applies).
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub struct Client {
    http: reqwest::blocking::Client,
    cfg: ClientConfig,
    send_token: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("cfg", &self.cfg)
            .field("send_token", &self.send_token)
            .finish()
    }
}

/// Most bytes of an error body read (for its message).
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, HubError> {
        let url = reqwest::Url::parse(&cfg.endpoint).map_err(|e| {
            HubError::Usage(format!(
                "the Hub endpoint `{}` is not a URL: {e}",
                cfg.endpoint
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(HubError::Usage(format!(
                "the Hub endpoint `{}` is not an http(s) URL",
                cfg.endpoint
            )));
        }
        let loopback = is_loopback(&url);
        let send_token = url.scheme() == "https" || loopback;
        let mut b = reqwest::blocking::Client::builder()
            .user_agent(concat!("modelgate/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            // The Hub redirects renamed repositories and file downloads; reqwest drops
            // the Authorization header when a redirect leaves the host.
            .redirect(reqwest::redirect::Policy::limited(5));
        if loopback {
            b = b.no_proxy();
        }
        let http = b
            .build()
            .map_err(|e| HubError::Internal(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            http,
            cfg,
            send_token,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.cfg.endpoint
    }

    pub fn has_token(&self) -> bool {
        self.cfg.token.is_some()
    }

    /// Whether a configured token is withheld (plain HTTP to a remote host).
    pub fn token_withheld(&self) -> bool {
        self.cfg.token.is_some() && !self.send_token
    }

    /// GET with retries. `limit`: most bytes of a successful body; more is an error.
    /// `what` names the request in errors ("model info of hf:org/name").
    pub fn get(&self, url: &str, limit: u64, what: &str) -> Result<Reply, HubError> {
        let mut attempt: u32 = 0;
        loop {
            let (cause, retry_after) = match self.once(url, limit, what) {
                Ok(r) if r.status == 429 || r.status >= 500 => {
                    let cause = match &r.error_message {
                        Some(m) => format!("HTTP {} ({m})", r.status),
                        None => format!("HTTP {}", r.status),
                    };
                    (cause, r.retry_after)
                }
                Ok(r) => return Ok(r),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Transport(cause)) => (cause, None),
            };
            if attempt >= self.cfg.retries {
                return Err(HubError::Unavailable(format!(
                    "{what}: the Hub at {} is unreachable or failing: gave up after {} attempt(s); last error: {cause}",
                    self.cfg.endpoint,
                    attempt + 1
                )));
            }
            let backoff = self
                .cfg
                .backoff_base
                .saturating_mul(2u32.saturating_pow(attempt))
                .min(self.cfg.max_backoff);
            let delay = match retry_after {
                Some(ra) if ra > self.cfg.max_retry_after => {
                    return Err(HubError::Unavailable(format!(
                        "{what}: the Hub at {} asked to retry after {} s ({cause}); not waiting that long",
                        self.cfg.endpoint,
                        ra.as_secs()
                    )));
                }
                Some(ra) => ra.max(backoff),
                None => backoff,
            };
            std::thread::sleep(delay);
            attempt += 1;
        }
    }

    fn once(&self, url: &str, limit: u64, what: &str) -> Result<Reply, Attempt> {
        let mut req = self.http.get(url);
        if self.send_token
            && let Some(t) = &self.cfg.token
        {
            // `bearer_auth` marks the header sensitive: it is not shown in Debug output.
            req = req.bearer_auth(t.secret());
        }
        let resp = req.send().map_err(|e| Attempt::Transport(chain(&e)))?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let error_code = header("x-error-code");
        let header_message = header("x-error-message");
        let retry_after = header("retry-after");
        let ok = (200..300).contains(&status);
        let cap = if ok { limit } else { ERROR_BODY_LIMIT };
        let mut body = Vec::new();
        resp.take(cap + 1)
            .read_to_end(&mut body)
            .map_err(|e| Attempt::Transport(format!("reading the response: {}", chain(&e))))?;
        if body.len() as u64 > cap {
            if ok {
                return Err(Attempt::Fatal(HubError::TooLarge(format!(
                    "{what}: the response is over the limit of {limit} bytes"
                ))));
            }
            body.truncate(cap as usize);
        }
        let error_message = if ok {
            None
        } else {
            header_message.or_else(|| json_error(&body))
        };
        Ok(Reply {
            status,
            error_code,
            error_message: error_message.map(|m| clip(&m)),
            retry_after: retry_after
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs),
            body,
        })
    }
}

enum Attempt {
    /// Worth retrying: connection refused or reset, timeout, DNS.
    Transport(String),
    Fatal(HubError),
}

/// The `error` field of a JSON error body.
fn json_error(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("error")?.as_str().map(str::to_string)
}

/// A message from the network, shortened and on one line.
fn clip(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let t = one_line.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// An error and its causes, `: `-separated (reqwest's own message hides the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(h) if h.eq_ignore_ascii_case("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
