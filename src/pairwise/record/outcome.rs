//! What a record did with a decryption-failure notice ([SPEC §13](crate::spec)).

/// What [`SessionRecord::on_decryption_failure`](crate::SessionRecord::on_decryption_failure) did with a notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoticeOutcome {
    /// The current session is abandoned: the peer could not read two
    /// different messages of it. Store the record, fetch the peer's bundle
    /// and [`start_new`](crate::SessionRecord::start_new); send again what the
    /// peer missed.
    Abandoned,
    /// The first notice about the current session: the peer could not
    /// read one message (it may have been altered in transit). Store the
    /// record and send again, as new messages, what the peer may have
    /// missed; the session stays current.
    ResendRequested,
    /// Nothing changed; the reason says whether the application should act.
    Ignored(IgnoredNotice),
}

impl NoticeOutcome {
    /// Whether the record changed (and should be stored).
    pub const fn changed(&self) -> bool {
        !matches!(self, Self::Ignored(_))
    }
}

/// Why a notice changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IgnoredNotice {
    /// The record has no current session.
    NoSession,
    /// The notice is not signed by the record's pinned peer identity key
    /// for this device. A forgery, or the peer reinstalled: a notice signed
    /// by its new identity key lands here. Check the directory for a new
    /// identity key of the peer; sending on goes unread until the
    /// application starts a session with it (after the user's decision, as
    /// for [`Error::IdentityChanged`](crate::Error::IdentityChanged)).
    NotSignedByPeer,
    /// It names no current session: an archived or unknown one, or a chain
    /// the peer has since answered (a late notice).
    NotCurrent,
    /// A copy of the notice that already requested a resend.
    Repeated,
}

impl core::fmt::Display for IgnoredNotice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NoSession => "notice ignored: no current session",
            Self::NotSignedByPeer => {
                "notice ignored: not signed by the pinned peer identity key; the peer may have reinstalled, check the directory for a new identity key"
            }
            Self::NotCurrent => {
                "notice ignored: it names no current session (late, or about an archived one)"
            }
            Self::Repeated => "notice ignored: a copy of one already handled",
        })
    }
}
