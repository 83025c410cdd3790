//! A DNS server for tests: answers TXT queries over UDP from records
//! the test sets, and NXDOMAIN for any other name. Real DNS messages
//! (hickory-proto encodes and decodes them), so the server under test
//! looks records up exactly as it would at a real name server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};

#[derive(Default)]
struct Zone {
    txt: HashMap<String, Vec<String>>,
    /// Queries answered, by name, for tests that want to see a lookup.
    asked: HashMap<String, u32>,
}

pub struct TestDns {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    task: tokio::task::JoinHandle<()>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl TestDns {
    pub async fn start() -> TestDns {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("a UDP port for the test DNS server");
        let addr = socket.local_addr().unwrap();
        let zone = Arc::new(Mutex::new(Zone::default()));
        let z = zone.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else { return };
                let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
                let mut answer = Message::response(q.metadata.id, q.metadata.op_code);
                answer.metadata.authoritative = true;
                answer.metadata.recursion_desired = q.metadata.recursion_desired;
                answer.metadata.recursion_available = true;
                let mut found = false;
                for query in &q.queries {
                    answer.add_query(query.clone());
                    let name = key(&query.name().to_string());
                    let mut zone = z.lock().unwrap();
                    *zone.asked.entry(name.clone()).or_default() += 1;
                    match query.query_type() {
                        RecordType::TXT => {
                            for text in zone.txt.get(&name).into_iter().flatten() {
                                answer.add_answer(Record::from_rdata(query.name().clone(), 0, RData::TXT(TXT::new(vec![text.clone()]))));
                                found = true;
                            }
                        }
                        _ => {}
                    }
                    // A name with records answers other types with none (NOERROR).
                    found |= zone.txt.contains_key(&name);
                }
                if !found {
                    answer.metadata.response_code = ResponseCode::NXDomain;
                }
                if let Ok(bytes) = answer.to_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        TestDns { addr, zone, task }
    }

    /// Publishes a TXT record (beside any others of the name).
    pub fn add_txt(&self, name: &str, text: &str) {
        self.zone.lock().unwrap().txt.entry(key(name)).or_default().push(text.to_owned());
    }

    /// Removes every TXT record of the name.
    pub fn clear_txt(&self, name: &str) {
        self.zone.lock().unwrap().txt.remove(&key(name));
    }

    /// How many queries for the name were answered.
    pub fn asked(&self, name: &str) -> u32 {
        self.zone.lock().unwrap().asked.get(&key(name)).copied().unwrap_or(0)
    }

    /// `TIKETHET_DNS_SERVERS` pointing at this server.
    pub fn setting(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}
