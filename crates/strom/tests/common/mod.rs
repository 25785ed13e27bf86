//! The harness the end-to-end tests share: a real `strom server` child process on a free port
//! with its own data directory, killed on drop, and clients configured to reach it.

#![allow(dead_code)] // each test crate uses its own subset

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, FromClientConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};

pub const STROM: &str = env!("CARGO_BIN_EXE_strom");

pub struct Server {
    pub child: Child,
    pub addr: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts `strom server` with extra arguments (e.g. `--set name=value`) and waits until it
    /// answers Metadata.
    pub fn start_with(extra_args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("cannot find a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.path().join("server.log");
        let log_file = File::create(&log).expect("cannot create the server log");
        let child = Command::new(STROM)
            .arg("server")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", &addr])
            // Brokers run in parallel: any free admin port (the last --set of a name applies,
            // so a test's own admin.listen still wins).
            .args(["--set", "admin.listen=127.0.0.1:0"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("cannot clone the log file"))
            .stderr(log_file)
            .spawn()
            .expect("cannot start `strom server`");
        let mut server = Server {
            child,
            addr,
            log,
            _dir: dir,
        };
        server.wait_until_ready();
        server
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to 30 s for the port to accept connections and a metadata request to work.
    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot poll the server") {
                panic!("`strom server` exited with {status}; log:\n{}", self.log());
            }
            if TcpStream::connect(&self.addr).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "`strom server` did not listen on {} within 30 s; log:\n{}",
                self.addr,
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
        let consumer: BaseConsumer = self.client(&[]);
        while let Err(err) = consumer.fetch_metadata(None, Duration::from_secs(1)) {
            assert!(
                Instant::now() < deadline,
                "`strom server` did not answer Metadata within 30 s ({err}); log:\n{}",
                self.log()
            );
        }
    }

    pub fn config(&self, extra: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.addr);
        for (key, value) in extra {
            config.set(*key, *value);
        }
        config
    }

    pub fn client<T: FromClientConfig>(&self, extra: &[(&str, &str)]) -> T {
        self.config(extra).create().expect("cannot create client")
    }

    pub fn admin(&self) -> AdminClient<DefaultClientContext> {
        self.client(&[])
    }

    /// Creates a topic and waits until metadata shows all its partitions with a leader.
    pub async fn create_topic(&self, name: &str, partitions: i32) {
        let results = self
            .admin()
            .create_topics(
                &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .expect("CreateTopics failed");
        assert_eq!(results, vec![Ok(name.to_owned())], "creating {name}");
        self.wait_for_topic(name, partitions as usize);
    }

    /// Waits until metadata shows `name` with `partitions` partitions that all have a leader.
    pub fn wait_for_topic(&self, name: &str, partitions: usize) {
        let consumer: BaseConsumer = self.client(&[]);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = consumer
                .fetch_metadata(None, Duration::from_secs(5))
                .ok()
                .is_some_and(|metadata| {
                    metadata.topics().iter().any(|t| {
                        t.name() == name
                            && t.partitions().len() == partitions
                            && t.partitions().iter().all(|p| p.leader() >= 0)
                    })
                });
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "topic {name} never became ready");
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
