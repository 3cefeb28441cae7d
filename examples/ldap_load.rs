//! A small LDAP load generator for `bench/ldap.sh`, on the same codec the server uses
//! (`ldap3_proto`): `CONNECTIONS` connections, each bound once as a service account, each
//! sending `(uid=<a random member>)` subtree searches one after another for `SECONDS`, on a
//! runtime of `THREADS` threads. Members are named by `TEMPLATE` with `{}` replaced by a number
//! below `COUNT` (`u{}@bench.test` → `u0@bench.test` … ).
//!
//! ```text
//! cargo run --release --example ldap_load -- ADDR BIND_DN PASSWORD BASE TEMPLATE COUNT \
//!     [CONNECTIONS=16] [SECONDS=10] [THREADS=2]
//! ```
//!
//! It prints one line in the shape the wrk scripts of `bench/` print, so that both sides of a
//! comparison are read alike: `RESULT requests=… duration_us=… errors=… non2xx=… p50_us=…
//! p99_us=…`, where `errors` counts connection and protocol failures and `non2xx` searches
//! that did not answer success with exactly one entry.

use std::error::Error;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapResultCode,
    LdapSearchRequest, LdapSearchScope,
};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

type BoxError = Box<dyn Error + Send + Sync>;

/// What to run, from the command line.
#[derive(Clone)]
struct Load {
    addr: String,
    bind_dn: String,
    password: String,
    base: String,
    template: String,
    count: u64,
    connections: usize,
    duration: Duration,
    threads: usize,
}

impl Load {
    fn from_args() -> Result<Load, BoxError> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let [addr, bind_dn, password, base, template, count, rest @ ..] = args.as_slice() else {
            return Err(
                "usage: ldap_load ADDR BIND_DN PASSWORD BASE TEMPLATE COUNT \
                        [CONNECTIONS] [SECONDS] [THREADS]"
                    .into(),
            );
        };
        let optional = |i: usize, default: u64| -> Result<u64, BoxError> {
            Ok(rest
                .get(i)
                .map(|v| v.parse())
                .transpose()?
                .unwrap_or(default))
        };
        Ok(Load {
            addr: addr.clone(),
            bind_dn: bind_dn.clone(),
            password: password.clone(),
            base: base.clone(),
            template: template.clone(),
            count: count.parse()?,
            connections: usize::try_from(optional(0, 16)?)?,
            duration: Duration::from_secs(optional(1, 10)?),
            threads: usize::try_from(optional(2, 2)?)?,
        })
    }
}

/// What one connection did.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: u64,
    not_found: u64,
}

/// A small xorshift generator: the member picked need not be unpredictable, only spread.
struct Picker(u64);

impl Picker {
    fn next_below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// One connection: bind, then search until the deadline.
async fn run_connection(load: Load, seed: u64, deadline: Instant) -> Result<Tally, BoxError> {
    let stream = TcpStream::connect(&load.addr).await?;
    stream.set_nodelay(true)?;
    let mut framed = Framed::new(stream, LdapCodec::default());
    let bind = LdapOp::BindRequest(LdapBindRequest {
        dn: load.bind_dn.clone(),
        cred: LdapBindCred::Simple(load.password.clone()),
    });
    framed.send(LdapMsg::new(1, bind)).await?;
    match framed.next().await.transpose()?.map(|m| m.op) {
        Some(LdapOp::BindResponse(r)) if r.res.code == LdapResultCode::Success => {}
        other => return Err(format!("the bind was refused: {other:?}").into()),
    }
    let mut picker = Picker(seed | 1);
    let mut tally = Tally::default();
    let mut id = 1;
    while Instant::now() < deadline {
        id += 1;
        let name = load
            .template
            .replace("{}", &picker.next_below(load.count).to_string());
        let search = LdapOp::SearchRequest(LdapSearchRequest {
            base: load.base.clone(),
            scope: LdapSearchScope::Subtree,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Equality("uid".to_owned(), name),
            attrs: Vec::new(),
        });
        let started = Instant::now();
        if framed.send(LdapMsg::new(id, search)).await.is_err() {
            tally.errors += 1;
            break;
        }
        let mut entries = 0;
        let code = loop {
            match framed.next().await {
                Some(Ok(LdapMsg {
                    op: LdapOp::SearchResultEntry(_),
                    ..
                })) => entries += 1,
                Some(Ok(LdapMsg {
                    op: LdapOp::SearchResultDone(done),
                    ..
                })) => break Some(done.code),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break None,
            }
        };
        match code {
            None => {
                tally.errors += 1;
                break;
            }
            Some(code) => {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                tally.latencies_us.push(micros);
                if code != LdapResultCode::Success || entries != 1 {
                    tally.not_found += 1;
                }
            }
        }
    }
    Ok(tally)
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() - 1) * p / 100]
}

fn main() -> Result<(), BoxError> {
    let load = Load::from_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(load.threads)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let tallies = runtime.block_on(async {
        let deadline = Instant::now() + load.duration;
        let tasks: Vec<_> = (0..load.connections)
            .map(|i| {
                let seed = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(i as u64 + 1);
                tokio::spawn(run_connection(load.clone(), seed, deadline))
            })
            .collect();
        let mut tallies = Vec::new();
        for task in tasks {
            tallies.push(task.await);
        }
        tallies
    });
    let elapsed = started.elapsed();
    let mut latencies = Vec::new();
    let (mut errors, mut not_found) = (0, 0);
    for tally in tallies {
        match tally {
            Ok(Ok(t)) => {
                latencies.extend(t.latencies_us);
                errors += t.errors;
                not_found += t.not_found;
            }
            Ok(Err(e)) => {
                eprintln!("a connection failed: {e}");
                errors += 1;
            }
            Err(e) => {
                eprintln!("a connection task failed: {e}");
                errors += 1;
            }
        }
    }
    latencies.sort_unstable();
    println!(
        "RESULT requests={} duration_us={} errors={errors} non2xx={not_found} p50_us={} p99_us={}",
        latencies.len(),
        elapsed.as_micros(),
        percentile(&latencies, 50),
        percentile(&latencies, 99),
    );
    Ok(())
}
