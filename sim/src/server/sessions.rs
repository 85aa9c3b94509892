//! Server sessions (driver sessions spec: `lsid`, `endSessions`, `killAllSessions`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use bson::{Bson, Document};

/// The sessions a deployment has seen, by the bytes of their `lsid`.
#[derive(Debug, Default)]
pub struct Sessions {
    last_use: Mutex<HashMap<Vec<u8>, (Document, Instant)>>,
}

/// The key of a session: the canonical bytes of its `lsid` document.
pub fn session_key(lsid: &Document) -> Vec<u8> {
    lsid.to_vec().unwrap_or_default()
}

impl Sessions {
    /// Records a use of `lsid`.
    pub fn touch(&self, lsid: &Document) {
        let mut map = self.last_use.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(session_key(lsid), (lsid.clone(), Instant::now()));
    }

    /// Forgets the sessions listed in an `endSessions`/`killSessions` array.
    pub fn end(&self, ids: &[Bson]) {
        let mut map = self.last_use.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            if let Bson::Document(lsid) = id {
                map.remove(&session_key(lsid));
            }
        }
    }

    /// Forgets every session (`killAllSessions`); returns their `lsid`s.
    pub fn clear(&self) -> Vec<Document> {
        let mut map = self.last_use.lock().unwrap_or_else(|p| p.into_inner());
        map.drain().map(|(_, (lsid, _))| lsid).collect()
    }

    /// How many sessions are active.
    pub fn count(&self) -> usize {
        self.last_use.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
