//! The session argument of an execution (driver sessions spec "Explicit vs implicit
//! sessions"): what the executor is handed for one command ([`SessionArg`]), and what an
//! operation of several commands keeps across them ([`OpSession`]).

use super::ClientSession;

/// The session an operation runs in (driver sessions spec).
#[derive(Debug)]
pub enum SessionArg<'a> {
    /// No session beyond what the `ExecutionContext` ([`crate::executor::ExecutionContext`]) carries.
    None,
    /// A session the application passed (checked: same client, not ended).
    Explicit(&'a mut ClientSession),
    /// An implicit session: after a connection is checked out, the executor fills the slot
    /// from the server session pool when the server supports sessions and the write is
    /// acknowledged. The caller keeps it (a cursor's getMores) or drops it (back to the pool).
    Implicit(&'a mut Option<ClientSession>),
}

impl SessionArg<'_> {
    pub(crate) fn session(&mut self) -> Option<&mut ClientSession> {
        match self {
            SessionArg::None => None,
            SessionArg::Explicit(s) => Some(&mut **s),
            SessionArg::Implicit(slot) => slot.as_mut(),
        }
    }

    pub(crate) fn session_ref(&self) -> Option<&ClientSession> {
        match self {
            SessionArg::None => None,
            SessionArg::Explicit(s) => Some(&**s),
            SessionArg::Implicit(slot) => slot.as_ref(),
        }
    }
}

/// The session of one operation: the application's explicit session, or an implicit slot
/// the executor fills after check-out and that is kept across the operation's commands (a
/// bulk write's batches, a cursor's getMores).
#[derive(Debug, Default)]
pub(crate) struct OpSession<'a> {
    explicit: Option<&'a mut ClientSession>,
    implicit: Option<ClientSession>,
}

impl<'a> OpSession<'a> {
    pub(crate) fn new(explicit: Option<&'a mut ClientSession>) -> Self {
        Self { explicit, implicit: None }
    }

    /// The argument for one command of the operation.
    pub(crate) fn arg(&mut self) -> SessionArg<'_> {
        match &mut self.explicit {
            Some(s) => SessionArg::Explicit(s),
            None => SessionArg::Implicit(&mut self.implicit),
        }
    }

    /// What a cursor keeps: a handle of the explicit session, or the implicit session.
    pub(crate) fn into_cursor_session(self) -> Option<ClientSession> {
        match self.explicit {
            Some(s) => Some(s.handle()),
            None => self.implicit,
        }
    }
}
