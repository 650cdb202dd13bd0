//! OAuth scopes as Cronofy names them, and the set an authorization holds.
//!
//! The end-user scopes (`Scope::ALL`) are what an authorization over a calendar account holds.
//! `service_account/accounts/manage` is held only by a service account's own authorization
//! (Enterprise Connect): it lets the application authorize the organisation's mailboxes, and is
//! never part of `read_write` nor grantable through the end-user flow.

use std::{collections::BTreeSet, fmt};

/// One scope an application can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    ReadAccount,
    ListCalendars,
    ReadEvents,
    CreateEvent,
    DeleteEvent,
    CreateCalendar,
    ReadFreeBusy,
    ChangeParticipationStatus,
    /// A service account's right to authorize its organisation's accounts.
    ServiceAccountsManage,
}

impl Scope {
    /// The end-user scopes, in the order pages list them.
    pub const ALL: [Scope; 8] = [
        Scope::ReadAccount,
        Scope::ListCalendars,
        Scope::ReadEvents,
        Scope::CreateEvent,
        Scope::DeleteEvent,
        Scope::CreateCalendar,
        Scope::ReadFreeBusy,
        Scope::ChangeParticipationStatus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadAccount => "read_account",
            Scope::ListCalendars => "list_calendars",
            Scope::ReadEvents => "read_events",
            Scope::CreateEvent => "create_event",
            Scope::DeleteEvent => "delete_event",
            Scope::CreateCalendar => "create_calendar",
            Scope::ReadFreeBusy => "read_free_busy",
            Scope::ChangeParticipationStatus => "change_participation_status",
            Scope::ServiceAccountsManage => "service_account/accounts/manage",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().chain([Scope::ServiceAccountsManage]).find(|scope| scope.as_str() == s)
    }

    /// Whether an end-user's calendar account can be granted this scope.
    pub fn is_end_user(self) -> bool {
        self != Scope::ServiceAccountsManage
    }
}

/// A set of scopes, written space-separated as OAuth does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(BTreeSet<Scope>);

/// A scope string with a name calsync does not know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

impl Scopes {
    /// Parses a space- (or comma-) separated list; `read_write` and `read_only` expand as Cronofy's do.
    pub fn parse(s: &str) -> Result<Self, UnknownScope> {
        let mut set = BTreeSet::new();
        for word in s.split([' ', ',']).filter(|w| !w.is_empty()) {
            match word {
                "read_write" => set.extend(Scope::ALL),
                "read_only" => {
                    set.extend([Scope::ReadAccount, Scope::ListCalendars, Scope::ReadEvents, Scope::ReadFreeBusy])
                }
                _ => {
                    set.insert(Scope::parse(word).ok_or_else(|| UnknownScope(word.chars().take(64).collect()))?);
                }
            }
        }
        Ok(Self(set))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every scope is one an end-user's calendar account can be granted.
    pub fn all_end_user(&self) -> bool {
        self.0.iter().all(|s| s.is_end_user())
    }

    /// Whether every scope of `self` is also in `other`.
    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    /// True when the only event access is free/busy: reads must use the free/busy projection.
    pub fn is_free_busy_only(&self) -> bool {
        self.contains(Scope::ReadFreeBusy) && !self.contains(Scope::ReadEvents)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_text_form() {
        let scopes = Scopes::parse("read_events create_event").unwrap();
        assert_eq!(scopes.to_string(), "read_events create_event");
        assert_eq!(Scopes::parse(&scopes.to_string()).unwrap(), scopes);
    }

    #[test]
    fn an_unknown_scope_is_refused_by_name() {
        assert_eq!(Scopes::parse("read_events admin"), Err(UnknownScope("admin".into())));
    }

    #[test]
    fn the_service_account_scope_parses_but_is_never_part_of_read_write() {
        let scopes = Scopes::parse("service_account/accounts/manage").unwrap();
        assert!(scopes.contains(Scope::ServiceAccountsManage) && !scopes.all_end_user());
        assert_eq!(scopes.to_string(), "service_account/accounts/manage");
        let read_write = Scopes::parse("read_write").unwrap();
        assert!(!read_write.contains(Scope::ServiceAccountsManage) && read_write.all_end_user());
        assert!(Scopes::parse("read_events").unwrap().is_subset(&read_write));
        assert!(!read_write.is_subset(&Scopes::parse("read_only").unwrap()));
    }

    #[test]
    fn free_busy_alone_is_the_free_busy_projection() {
        assert!(Scopes::parse("read_free_busy").unwrap().is_free_busy_only());
        assert!(!Scopes::parse("read_free_busy read_events").unwrap().is_free_busy_only());
    }
}
