//! Which session is current ([SPEC §12](crate::spec)): adopting new sessions, promoting
//! archived ones, and the limits on what is kept.

use alloc::boxed::Box;

use super::{Archived, SessionRecord, Standing, awaiting_answer};
use crate::pairwise::session::Session;

impl SessionRecord {
    /// The archived session at `at` decrypted a message: promote it, or
    /// not, by the rules on the type.
    pub(super) fn after_archived_decrypt(&mut self, at: usize, prekey: bool) {
        let Some(entry) = self.archived.get_mut(at) else {
            return;
        };
        let promote = match &self.current {
            None => entry.standing != Standing::Abandoned,
            Some(current) if awaiting_answer(current) => {
                let wins = prekey && entry.session.session_id() < current.session_id();
                if prekey && !wins && entry.standing == Standing::Replaced {
                    entry.standing = Standing::LostTieBreak;
                }
                wins
            }
            Some(_) => match entry.standing {
                Standing::Replaced => true,
                Standing::LostTieBreak => !prekey,
                Standing::Abandoned => false,
            },
        };
        if promote && let Some(entry) = self.archived.remove(at) {
            let standing = self.standing_of_replaced();
            self.replace_current(entry.session, standing);
        }
        self.enforce_limits();
    }

    /// A prekey message created `session`: it becomes current unless the
    /// tie-break keeps our own unanswered initiation.
    pub(super) fn adopt(&mut self, session: Box<Session>) {
        match &self.current {
            Some(current)
                if awaiting_answer(current) && current.session_id() < session.session_id() =>
            {
                self.archived.push_front(Archived {
                    session,
                    standing: Standing::LostTieBreak,
                });
            }
            Some(_) => {
                let standing = self.standing_of_replaced();
                self.replace_current(session, standing);
            }
            None => self.current = Some(session),
        }
        self.enforce_limits();
    }

    /// How the current session is archived when a session the peer sent
    /// on replaces it: as a tie-break loser if it was our own unanswered
    /// initiation.
    pub(super) fn standing_of_replaced(&self) -> Standing {
        if self.current.as_deref().is_some_and(awaiting_answer) {
            Standing::LostTieBreak
        } else {
            Standing::Replaced
        }
    }

    pub(super) fn replace_current(&mut self, session: Box<Session>, standing: Standing) {
        if let Some(old) = self.current.replace(session) {
            self.archived.push_front(Archived {
                session: old,
                standing,
            });
        }
    }

    /// Drops the oldest archived sessions beyond `max_archived`, then evicts
    /// skipped keys from the oldest archived sessions until the budget holds.
    pub(super) fn enforce_limits(&mut self) {
        let max = usize::try_from(self.max_archived).unwrap_or(usize::MAX);
        self.archived.truncate(max);
        let budget = usize::try_from(self.max_archived_skipped_keys).unwrap_or(usize::MAX);
        let mut total: usize = self.archived().map(Session::skipped_keys).sum();
        for entry in self.archived.iter_mut().rev() {
            if total <= budget {
                break;
            }
            let session = &mut entry.session;
            let before = session.skipped_keys();
            session.evict_skipped_to(before.saturating_sub(total.saturating_sub(budget)));
            total = total.saturating_sub(before.saturating_sub(session.skipped_keys()));
        }
    }
}
