//! Retryable writes spec "Determining Retryable Errors" for write concern errors, against
//! the simulated replica set: a write concern error is retried once when it carries
//! `RetryableWriteError` (4.4+ servers add the label themselves) or, before 4.4, when its
//! code is a retryable one (the driver adds the label); a retry's own write concern error
//! is what the caller sees.

use std::sync::{Arc, Mutex};

use bson::{Document, doc};
use mongo_driver::Client;
use mongo_driver::error::ErrorKind;
use mongo_driver::event::command::CommandEvent;
use mongo_driver::options::ReadPreference;
use mongo_sim::{Config, Deployment, ServerVersion};

/// A client on a fresh replica set at `version`, counting the `insert` commands it starts.
struct Fixture {
    _sim: Deployment,
    client: Client,
    inserts: Arc<Mutex<usize>>,
}

impl Fixture {
    async fn new(version: ServerVersion) -> Self {
        let sim = Deployment::start(Config::replica_set(3).with_version(version))
            .await
            .expect("the simulator starts");
        let inserts = Arc::new(Mutex::new(0));
        let sink = inserts.clone();
        let client = Client::builder(sim.connection_string())
            .command_event_handler(Arc::new(move |e: &CommandEvent| {
                if let CommandEvent::Started(s) = e
                    && s.command_name == "insert"
                {
                    *sink.lock().expect("not poisoned") += 1;
                }
            }))
            .build()
            .expect("the client starts");
        Self { _sim: sim, client, inserts }
    }

    /// Makes the next `times` inserts report a write concern error `code` (91,
    /// ShutdownInProgress, is retryable), with `labels` when given.
    async fn fail_inserts(&self, times: i32, labels: Option<Vec<&str>>) {
        let mut data = doc! {
            "failCommands": ["insert"],
            "writeConcernError": {"code": 91, "errmsg": "Replication is being shut down"},
        };
        if let Some(labels) = labels {
            data.insert("errorLabels", labels);
        }
        let command = doc! {"configureFailPoint": "failCommand", "mode": {"times": times}, "data": data};
        self.client
            .database("admin")
            .run_command(command)
            .selection_criteria(ReadPreference::primary())
            .await
            .expect("the fail point is set");
    }

    fn inserts(&self) -> usize {
        *self.inserts.lock().expect("not poisoned")
    }

    async fn insert(&self, id: i32) -> mongo_driver::Result<()> {
        self.client.database("rw").collection::<Document>("c").insert_one(doc! {"_id": id}).await.map(|_| ())
    }
}

#[tokio::test]
async fn a_write_concern_error_with_a_retryable_code_is_retried_before_4_4() {
    let f = Fixture::new(ServerVersion::new(4, 2)).await;
    f.fail_inserts(1, None).await;
    f.insert(1).await.expect("the retry succeeds");
    assert_eq!(f.inserts(), 2, "the first attempt's write concern error was retried");

    // Both attempts fail: the retry's write concern error, labelled by the driver.
    f.fail_inserts(2, None).await;
    let err = f.insert(2).await.expect_err("both attempts report a write concern error");
    assert!(matches!(*err.kind, ErrorKind::WriteConcern { code: 91, .. }), "{err:?}");
    assert_eq!(f.inserts(), 4);
}

#[tokio::test]
async fn from_4_4_the_server_label_decides() {
    let f = Fixture::new(ServerVersion::new(7, 0)).await;
    // The server labels the retryable code itself.
    f.fail_inserts(1, None).await;
    f.insert(1).await.expect("the retry succeeds");
    assert_eq!(f.inserts(), 2);

    // Without the label a 4.4+ server's write concern error is not retried, whatever its code.
    f.fail_inserts(1, Some(vec![])).await;
    let err = f.insert(2).await.expect_err("the write concern error is returned");
    assert!(matches!(*err.kind, ErrorKind::WriteConcern { code: 91, .. }), "{err:?}");
    assert!(!err.contains_label("RetryableWriteError"), "{err:?}");
    assert_eq!(f.inserts(), 3, "no retry");
}
