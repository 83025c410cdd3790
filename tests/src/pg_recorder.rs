//! A recording proxy in front of PostgreSQL: it passes every byte through
//! both ways and reads what clients send (the frontend protocol, plain
//! text: point clients at it with `sslmode=disable`), keeping, per
//! connection and in order, each statement run with its parameters:
//! simple queries (`Q`), and extended-protocol executions (`Bind` of a
//! statement `Parse`d earlier on that connection).
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html>
//!
//! Used to prove what a tenant's transactions touch (the Citus test).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A statement as run: its SQL and its parameters as sent (text, or binary
/// as the client chose; text-like types are their UTF-8 either way).
#[derive(Debug, Clone)]
pub struct Run {
    pub sql: String,
    pub params: Vec<Option<Vec<u8>>>,
}

impl Run {
    /// Parameter `i` as text, if it is.
    pub fn text(&self, i: usize) -> Option<String> {
        self.params.get(i)?.as_ref().and_then(|b| String::from_utf8(b.clone()).ok())
    }
}

/// The proxy; connections are recorded until it is dropped.
pub struct Recorder {
    pub port: u16,
    log: Arc<Mutex<Vec<Vec<Run>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    /// Listens on a free loopback port and forwards to `upstream`
    /// (`host:port`).
    pub async fn start(upstream: String) -> anyhow::Result<Recorder> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let log: Arc<Mutex<Vec<Vec<Run>>>> = Arc::default();
        let l = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (l, upstream) = (l.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else { return };
                    let index = {
                        let mut g = l.lock().unwrap();
                        g.push(Vec::new());
                        g.len() - 1
                    };
                    let (mut cr, cw) = client.into_split();
                    let (sr, mut sw) = server.into_split();
                    let back = tokio::spawn(async move {
                        let (mut sr, mut cw) = (sr, cw);
                        tokio::io::copy(&mut sr, &mut cw).await.ok();
                    });
                    let _ = pass_and_record(&mut cr, &mut sw, &l, index).await;
                    sw.shutdown().await.ok();
                    back.await.ok();
                });
            }
        });
        Ok(Recorder { port, log, task })
    }

    /// Every connection's statements so far, each in the order sent.
    pub fn connections(&self) -> Vec<Vec<Run>> {
        self.log.lock().unwrap().clone()
    }
}

fn cstring(buf: &[u8], at: &mut usize) -> Option<String> {
    let end = buf[*at..].iter().position(|b| *b == 0)? + *at;
    let s = String::from_utf8_lossy(&buf[*at..end]).into_owned();
    *at = end + 1;
    Some(s)
}

fn int16(buf: &[u8], at: &mut usize) -> Option<i16> {
    let v = i16::from_be_bytes(buf.get(*at..*at + 2)?.try_into().ok()?);
    *at += 2;
    Some(v)
}

fn int32(buf: &[u8], at: &mut usize) -> Option<i32> {
    let v = i32::from_be_bytes(buf.get(*at..*at + 4)?.try_into().ok()?);
    *at += 4;
    Some(v)
}

/// The parameters of a `Bind` body, after its portal and statement names.
fn bind_params(body: &[u8], mut at: usize) -> Option<Vec<Option<Vec<u8>>>> {
    let formats = int16(body, &mut at)?;
    at += 2 * usize::try_from(formats).ok()?;
    let n = int16(body, &mut at)?;
    let mut out = Vec::with_capacity(usize::try_from(n).ok()?);
    for _ in 0..n {
        let len = int32(body, &mut at)?;
        if len < 0 {
            out.push(None);
        } else {
            let len = len as usize;
            out.push(Some(body.get(at..at + len)?.to_vec()));
            at += len;
        }
    }
    Some(out)
}

async fn pass_and_record(from: &mut tokio::net::tcp::OwnedReadHalf, to: &mut tokio::net::tcp::OwnedWriteHalf, log: &Mutex<Vec<Vec<Run>>>, index: usize) -> std::io::Result<()> {
    // The startup packet (and any SSL or GSS request before it): a length,
    // then the body, no type byte.
    loop {
        let len = from.read_i32().await?;
        let mut body = vec![0u8; (len as usize).saturating_sub(4)];
        from.read_exact(&mut body).await?;
        to.write_i32(len).await?;
        to.write_all(&body).await?;
        let code = body.get(..4).map(|c| i32::from_be_bytes(c.try_into().unwrap())).unwrap_or(0);
        // 80877103: SSLRequest, 80877104: GSSENCRequest; the server answers
        // with one byte and the real startup follows (refused: we are plain).
        if code != 80_877_103 && code != 80_877_104 {
            break;
        }
    }
    let mut prepared: HashMap<String, String> = HashMap::new();
    loop {
        let kind = from.read_u8().await?;
        let len = from.read_i32().await?;
        let mut body = vec![0u8; (len as usize).saturating_sub(4)];
        from.read_exact(&mut body).await?;
        to.write_u8(kind).await?;
        to.write_i32(len).await?;
        to.write_all(&body).await?;
        let mut at = 0;
        let run = match kind {
            b'Q' => cstring(&body, &mut at).map(|sql| Run { sql, params: Vec::new() }),
            b'P' => {
                if let (Some(name), Some(sql)) = (cstring(&body, &mut at), cstring(&body, &mut at)) {
                    prepared.insert(name, sql);
                }
                None
            }
            b'B' => {
                let _portal = cstring(&body, &mut at);
                let stmt = cstring(&body, &mut at).unwrap_or_default();
                match (prepared.get(&stmt), bind_params(&body, at)) {
                    (Some(sql), Some(params)) => Some(Run { sql: sql.clone(), params }),
                    _ => None,
                }
            }
            b'X' => return Ok(()),
            _ => None,
        };
        if let Some(r) = run {
            log.lock().unwrap()[index].push(r);
        }
    }
}
