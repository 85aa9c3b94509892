//! The `failCommand` fail point (transactions spec tests: "Server Fail Point") and the
//! `onPrimaryTransactionalWrite` and `failGetMoreAfterCursorCheckout` fail points, set with
//! `configureFailPoint`.

use std::time::Duration;

use bson::{Bson, Document};

use crate::engine::CommandError;

/// How often a fail point fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Never.
    Off,
    /// Every time.
    AlwaysOn,
    /// The next `n` times.
    Times(i64),
    /// Every time after skipping `n` matches.
    Skip(i64),
    /// With this probability.
    Probability(f64),
}

/// What `failCommand` does to a matching command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FailCommand {
    /// Command names that match.
    pub commands: Vec<String>,
    /// Close the connection without a reply.
    pub close_connection: bool,
    /// Fail the command with this code.
    pub error_code: Option<i32>,
    /// Labels of the failure (replacing the server's own).
    pub error_labels: Option<Vec<String>>,
    /// Hold the command this long first.
    pub block: Option<Duration>,
    /// Run the command, then attach this `writeConcernError`.
    pub write_concern_error: Option<Document>,
    /// Only match connections whose client metadata names this application.
    pub app_name: Option<String>,
    /// Extra fields to put into the error reply (`errorExtraInfo`).
    pub extra_info: Option<Document>,
}

/// One fired fail point: what to do with the command.
pub type Action = FailCommand;

fn bad(message: impl Into<String>) -> CommandError {
    CommandError::new(2, "BadValue", message)
}

fn number(v: &Bson) -> Option<f64> {
    match v {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        _ => None,
    }
}

fn parse_mode(v: Option<&Bson>) -> Result<Mode, CommandError> {
    match v {
        Some(Bson::String(s)) if s == "off" => Ok(Mode::Off),
        Some(Bson::String(s)) if s == "alwaysOn" => Ok(Mode::AlwaysOn),
        Some(Bson::Document(d)) => {
            let (key, value) = d.iter().next().ok_or_else(|| bad("empty fail point mode"))?;
            let n = number(value).ok_or_else(|| bad(format!("mode.{key} must be a number")))?;
            match key.as_str() {
                "times" if n >= 0.0 => Ok(if n == 0.0 { Mode::Off } else { Mode::Times(n as i64) }),
                "skip" if n >= 0.0 => Ok(Mode::Skip(n as i64)),
                "activationProbability" if (0.0..=1.0).contains(&n) => Ok(Mode::Probability(n)),
                _ => Err(bad(format!("invalid fail point mode {d}"))),
            }
        }
        other => Err(bad(format!("invalid fail point mode {other:?}"))),
    }
}

fn parse_data(data: Option<&Bson>) -> Result<FailCommand, CommandError> {
    let data = match data {
        None => return Ok(FailCommand::default()),
        Some(Bson::Document(d)) => d,
        Some(other) => return Err(bad(format!("data must be a document, got {other}"))),
    };
    let commands = match data.get("failCommands") {
        Some(Bson::Array(a)) => a
            .iter()
            .map(|c| c.as_str().map(str::to_owned).ok_or_else(|| bad("failCommands must be strings")))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
        Some(_) => return Err(bad("failCommands must be an array")),
    };
    let error_labels = match data.get("errorLabels") {
        Some(Bson::Array(a)) => Some(
            a.iter()
                .map(|l| l.as_str().map(str::to_owned).ok_or_else(|| bad("errorLabels must be strings")))
                .collect::<Result<_, _>>()?,
        ),
        None => None,
        Some(_) => return Err(bad("errorLabels must be an array")),
    };
    let block = if data.get_bool("blockConnection").unwrap_or(false) {
        let ms = data
            .get("blockTimeMS")
            .and_then(number)
            .ok_or_else(|| bad("blockConnection needs blockTimeMS"))?;
        Some(Duration::from_millis(ms.max(0.0) as u64))
    } else {
        None
    };
    Ok(FailCommand {
        commands,
        close_connection: data.get_bool("closeConnection").unwrap_or(false),
        error_code: data.get("errorCode").and_then(number).map(|c| c as i32),
        error_labels,
        block,
        write_concern_error: data.get_document("writeConcernError").ok().cloned(),
        app_name: data.get_str("appName").ok().map(str::to_owned),
        extra_info: data.get_document("errorExtraInfo").ok().cloned(),
    })
}

/// What `onPrimaryTransactionalWrite` does to a retryable write on the primary.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionalWrite {
    /// Close the connection before the reply (default `true`).
    pub close_connection: bool,
    /// Fail with this code instead of committing the write.
    pub fail_before_commit: Option<i32>,
}

impl Default for TransactionalWrite {
    fn default() -> Self {
        Self { close_connection: true, fail_before_commit: None }
    }
}

/// One fail point's activation mode and how often it fired.
#[derive(Debug, Clone)]
struct Slot<T> {
    mode: Mode,
    data: T,
    entered: i64,
}

impl<T: Default + Clone> Default for Slot<T> {
    fn default() -> Self {
        Self { mode: Mode::Off, data: T::default(), entered: 0 }
    }
}

impl<T: Clone> Slot<T> {
    /// Sets mode and data; returns how often the previous setting fired.
    fn set(&mut self, mode: Mode, data: T) -> i64 {
        let count = self.entered;
        *self = Self { mode, data, entered: 0 };
        count
    }

    /// Counts one eligible evaluation; returns the data if the fail point fires.
    fn fire(&mut self) -> Option<T> {
        let fire = match &mut self.mode {
            Mode::Off => false,
            Mode::AlwaysOn => true,
            Mode::Times(n) => {
                *n -= 1;
                true
            }
            Mode::Skip(n) if *n > 0 => {
                *n -= 1;
                false
            }
            Mode::Skip(_) => true,
            Mode::Probability(p) => rand_unit() < *p,
        };
        if self.mode == Mode::Times(0) {
            self.mode = Mode::Off;
        }
        if fire {
            self.entered += 1;
            Some(self.data.clone())
        } else {
            None
        }
    }
}

/// A node's fail points: `failCommand`, `onPrimaryTransactionalWrite` and
/// `failGetMoreAfterCursorCheckout`.
#[derive(Debug, Clone, Default)]
pub struct FailPoints {
    fail_command: Slot<FailCommand>,
    transactional_write: Slot<TransactionalWrite>,
    /// `failGetMoreAfterCursorCheckout`: a getMore fails once its cursor is checked out
    /// (`data.errorCode`, or `data.closeConnection`); only those fields of the data count.
    get_more_after_checkout: Slot<FailCommand>,
}

fn parse_transactional_write(data: Option<&Bson>) -> Result<TransactionalWrite, CommandError> {
    let data = match data {
        None => return Ok(TransactionalWrite::default()),
        Some(Bson::Document(d)) => d,
        Some(other) => return Err(bad(format!("data must be a document, got {other}"))),
    };
    Ok(TransactionalWrite {
        close_connection: data.get_bool("closeConnection").unwrap_or(true),
        fail_before_commit: data.get("failBeforeCommitExceptionCode").and_then(number).map(|c| c as i32),
    })
}

impl FailPoints {
    /// Applies `configureFailPoint`; returns how often the previous setting fired (`count`).
    pub fn configure(&mut self, cmd: &Document) -> Result<i64, CommandError> {
        let name = cmd
            .get_str("configureFailPoint")
            .map_err(|_| bad("configureFailPoint must name a fail point"))?;
        let mode = parse_mode(cmd.get("mode"))?;
        match name {
            "failCommand" => Ok(self.fail_command.set(mode, parse_data(cmd.get("data"))?)),
            "onPrimaryTransactionalWrite" => {
                Ok(self.transactional_write.set(mode, parse_transactional_write(cmd.get("data"))?))
            }
            "failGetMoreAfterCursorCheckout" => {
                Ok(self.get_more_after_checkout.set(mode, parse_data(cmd.get("data"))?))
            }
            other => Err(bad(format!(
                "unknown fail point '{other}': mongo-sim supports failCommand, onPrimaryTransactionalWrite \
                 and failGetMoreAfterCursorCheckout"
            ))),
        }
    }

    /// Whether `failCommand` fires for `command` on a connection of `app_name`; counts it.
    pub fn check(&mut self, command: &str, app_name: Option<&str>) -> Option<Action> {
        let slot = &mut self.fail_command;
        if slot.mode == Mode::Off || !slot.data.commands.iter().any(|c| c == command) {
            return None;
        }
        if let Some(want) = &slot.data.app_name {
            if app_name != Some(want.as_str()) {
                return None;
            }
        }
        slot.fire()
    }

    /// Whether `failGetMoreAfterCursorCheckout` fires for a getMore whose cursor exists.
    pub fn check_get_more_after_checkout(&mut self) -> Option<Action> {
        self.get_more_after_checkout.fire()
    }

    /// Whether `onPrimaryTransactionalWrite` fires for a retryable write about to commit.
    pub fn check_transactional_write(&mut self) -> Option<TransactionalWrite> {
        self.transactional_write.fire()
    }
}

/// A cheap pseudo-random number in `[0, 1)` for `activationProbability`.
fn rand_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn times_mode_fires_then_turns_off() {
        let mut fp = FailPoints::default();
        let cmd = doc! { "configureFailPoint": "failCommand", "mode": { "times": 2 },
        "data": { "failCommands": ["insert"], "errorCode": 91 } };
        assert_eq!(fp.configure(&cmd), Ok(0));
        assert!(fp.check("find", None).is_none());
        assert_eq!(fp.check("insert", None).and_then(|a| a.error_code), Some(91));
        assert!(fp.check("insert", None).is_some());
        assert!(fp.check("insert", None).is_none());
        assert_eq!(fp.configure(&doc! { "configureFailPoint": "failCommand", "mode": "off" }), Ok(2));
    }

    #[test]
    fn skip_and_app_name() {
        let mut fp = FailPoints::default();
        let cmd = doc! { "configureFailPoint": "failCommand", "mode": { "skip": 1 },
        "data": { "failCommands": ["ping"], "closeConnection": true, "appName": "a" } };
        assert!(fp.configure(&cmd).is_ok());
        assert!(fp.check("ping", Some("b")).is_none());
        assert!(fp.check("ping", Some("a")).is_none());
        assert!(fp.check("ping", Some("a")).is_some_and(|a| a.close_connection));
    }

    #[test]
    fn on_primary_transactional_write_defaults_to_closing() {
        let mut fp = FailPoints::default();
        let cmd = doc! { "configureFailPoint": "onPrimaryTransactionalWrite", "mode": { "times": 1 } };
        assert!(fp.configure(&cmd).is_ok());
        assert_eq!(fp.check_transactional_write(), Some(TransactionalWrite::default()));
        assert_eq!(fp.check_transactional_write(), None);
        let cmd = doc! { "configureFailPoint": "onPrimaryTransactionalWrite", "mode": "alwaysOn",
        "data": { "failBeforeCommitExceptionCode": 1, "closeConnection": false } };
        assert!(fp.configure(&cmd).is_ok());
        let fired = fp.check_transactional_write();
        assert_eq!(fired, Some(TransactionalWrite { close_connection: false, fail_before_commit: Some(1) }));
    }

    #[test]
    fn get_more_after_checkout_fires_without_a_command_list() {
        let mut fp = FailPoints::default();
        let cmd = doc! { "configureFailPoint": "failGetMoreAfterCursorCheckout", "mode": { "times": 1 },
        "data": { "errorCode": 6, "closeConnection": false } };
        assert_eq!(fp.configure(&cmd), Ok(0));
        assert_eq!(fp.check("getMore", None), None);
        assert_eq!(fp.check_get_more_after_checkout().and_then(|a| a.error_code), Some(6));
        assert_eq!(fp.check_get_more_after_checkout(), None);
    }

    #[test]
    fn bad_configuration_is_an_error() {
        let mut fp = FailPoints::default();
        assert!(fp.configure(&doc! { "configureFailPoint": "nope", "mode": "alwaysOn" }).is_err());
        assert!(fp.configure(&doc! { "configureFailPoint": "failCommand", "mode": "sometimes" }).is_err());
        assert!(
            fp.configure(&doc! { "configureFailPoint": "failCommand", "mode": "alwaysOn",
            "data": { "failCommands": ["x"], "blockConnection": true } })
                .is_err()
        );
    }
}
