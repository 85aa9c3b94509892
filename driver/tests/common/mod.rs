//! Shared by the integration tests: a client on a freshly started simulated deployment that
//! records the command events it publishes. Each test file adds its own helpers to
//! [`Fixture`] (an inherent `impl` in the same test crate).

// Each test crate uses a part of this module.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use mongo_driver::Client;
use mongo_driver::event::command::{CommandEvent, CommandStartedEvent};
use mongo_sim::{Config, Deployment};

/// A client on a simulated deployment, recording its command events.
pub struct Fixture {
    pub sim: Deployment,
    pub client: Client,
    pub events: Arc<Mutex<Vec<CommandEvent>>>,
}

impl Fixture {
    /// Starts a deployment from `config` and a client on its connection string with the URI
    /// `options` (`a=1&b=2`) added; `""` adds none.
    pub async fn start(config: Config, options: &str) -> Self {
        let sim = Deployment::start(config).await.expect("the simulator starts");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let mut uri = sim.connection_string().to_string();
        if !options.is_empty() {
            uri.push(if uri.contains('?') { '&' } else { '?' });
            uri.push_str(options);
        }
        let client = Client::builder(uri)
            .command_event_handler(Arc::new(move |e: &CommandEvent| {
                sink.lock().expect("not poisoned").push(e.clone())
            }))
            .build()
            .expect("the client starts");
        Self { sim, client, events }
    }

    /// The started events of `name`, in order.
    pub fn started(&self, name: &str) -> Vec<CommandStartedEvent> {
        self.started_where(|s| s.command_name == name)
    }

    /// Every started event, in order (hello and monitoring excluded: they never reach the
    /// handler).
    pub fn all_started(&self) -> Vec<CommandStartedEvent> {
        self.started_where(|_| true)
    }

    fn started_where(&self, keep: impl Fn(&CommandStartedEvent) -> bool) -> Vec<CommandStartedEvent> {
        let events = self.events.lock().expect("not poisoned");
        events
            .iter()
            .filter_map(|e| match e {
                CommandEvent::Started(s) if keep(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// Forgets the events recorded so far.
    pub fn clear(&self) {
        self.events.lock().expect("not poisoned").clear();
    }
}
