//! The retention table of policy.md as data: every row, what starts its clock, how long data is
//! kept, and whether the purge engine removes it by itself. The retention run and its dry run
//! are driven by this table; rows the engine does not purge (yet) say why.

use chrono::Duration;

/// What a rule's clock starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The row's creation (request logs).
    Created,
    /// The moment an event left the sync window (`events.left_window_at`).
    LeftWindow,
    /// The end of the account's last authorization (`accounts.authorizations_ended_at`); a new
    /// authorization clears it and so cancels the clock.
    AccountAuthorizationsEnded,
    /// The end of the creating application's authorization on the account.
    ApplicationAuthorizationEnded,
    /// The end of the event an invitation is for.
    EventEnded,
    /// Kept permanently, or never stored.
    None,
}

/// How a rule is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// The retention run deletes what is due, in batches (see `store::retention`).
    Batched(Purgeable),
    /// Kept permanently.
    Never,
    /// Carried out elsewhere or not applicable; the text says where.
    Elsewhere(&'static str),
}

/// The data the retention run deletes itself, in the order it runs them (children first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purgeable {
    EventsOutsideWindow,
    ThirdPartyEvents,
    PartnerEvents,
    Credentials,
    AccountStructure,
    RequestLogs,
    SmartInvites,
}

/// One row of the policy's retention table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// A stable name for reports and logs.
    pub name: &'static str,
    /// The policy's words for the data.
    pub data: &'static str,
    pub clock: Clock,
    /// How long after the clock starts the data goes; `None` for data kept permanently.
    pub keep: Option<Duration>,
    pub purge: Purge,
}

/// Every row of policy.md's retention table, in its order.
pub const RULES: &[Rule] = &[
    Rule {
        name: "request_logs",
        data: "application logs (integrator-facing request logs)",
        clock: Clock::Created,
        keep: Some(Duration::days(90)),
        purge: Purge::Batched(Purgeable::RequestLogs),
    },
    Rule { name: "billing_records", data: "billing records", clock: Clock::None, keep: None, purge: Purge::Never },
    Rule {
        name: "application_configuration",
        data: "application configuration",
        clock: Clock::None,
        keep: None,
        purge: Purge::Never,
    },
    Rule {
        name: "credit_card_details",
        data: "credit card details",
        clock: Clock::None,
        keep: None,
        purge: Purge::Elsewhere("never stored: a payment provider holds them"),
    },
    Rule {
        name: "events_outside_window",
        data: "events that have fallen outside the queryable window",
        clock: Clock::LeftWindow,
        keep: Some(Duration::days(31)),
        purge: Purge::Batched(Purgeable::EventsOutsideWindow),
    },
    Rule {
        name: "third_party_events",
        data: "third-party events",
        clock: Clock::AccountAuthorizationsEnded,
        keep: Some(Duration::days(30)),
        purge: Purge::Batched(Purgeable::ThirdPartyEvents),
    },
    Rule {
        name: "partner_events",
        data: "partner events",
        clock: Clock::ApplicationAuthorizationEnded,
        keep: Some(Duration::days(90)),
        purge: Purge::Batched(Purgeable::PartnerEvents),
    },
    Rule {
        name: "credentials",
        data: "calendar account credentials",
        clock: Clock::AccountAuthorizationsEnded,
        keep: Some(Duration::days(30)),
        purge: Purge::Batched(Purgeable::Credentials),
    },
    Rule {
        name: "account_structure",
        data: "calendar account structure (profiles, calendars)",
        clock: Clock::AccountAuthorizationsEnded,
        keep: Some(Duration::days(90)),
        purge: Purge::Batched(Purgeable::AccountStructure),
    },
    Rule {
        name: "smart_invites",
        data: "Smart Invites",
        clock: Clock::EventEnded,
        keep: Some(Duration::days(30)),
        purge: Purge::Batched(Purgeable::SmartInvites),
    },
    Rule {
        name: "backups",
        data: "backups",
        clock: Clock::Created,
        keep: Some(Duration::days(7)),
        purge: Purge::Elsewhere("the daily backup run deletes the backup of day D on day D + 7 (see Backups)"),
    },
];

/// How long a rule keeps its data, in the policy's words.
pub fn kept(rule: &Rule) -> String {
    let days = |d: Duration| match d.num_days() {
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    };
    match (rule.clock, rule.keep) {
        (Clock::None, _) if matches!(rule.purge, Purge::Never) => "permanently".to_owned(),
        (Clock::None, _) => "never stored".to_owned(),
        (_, None) => "permanently".to_owned(),
        (Clock::Created, Some(d)) => days(d),
        (Clock::LeftWindow, Some(d)) => format!("{} after leaving the window", days(d)),
        (Clock::AccountAuthorizationsEnded, Some(d)) => {
            format!("{} after the account's last authorization ends", days(d))
        }
        (Clock::ApplicationAuthorizationEnded, Some(d)) => {
            format!("{} after the application's authorization ends", days(d))
        }
        (Clock::EventEnded, Some(d)) => format!("{} after the event's end", days(d)),
    }
}

/// The retention table as the README shows it, derived from [`RULES`].
pub fn markdown_table() -> String {
    let mut out = String::from("| data | kept | carried out by |\n|---|---|---|\n");
    for rule in RULES {
        let by = match rule.purge {
            Purge::Batched(_) => format!("the hourly retention run (`{}`)", rule.name),
            Purge::Never => "kept".to_owned(),
            Purge::Elsewhere(how) => how.to_owned(),
        };
        out.push_str(&format!("| {} | {} | {} |\n", rule.data, kept(rule), by));
    }
    out
}

/// The rules the retention run carries out itself, in the order it runs them.
pub fn batched() -> impl Iterator<Item = (&'static Rule, Purgeable, Duration)> {
    const ORDER: [Purgeable; 7] = [
        Purgeable::EventsOutsideWindow,
        Purgeable::ThirdPartyEvents,
        Purgeable::PartnerEvents,
        Purgeable::Credentials,
        Purgeable::AccountStructure,
        Purgeable::RequestLogs,
        Purgeable::SmartInvites,
    ];
    ORDER.into_iter().filter_map(|wanted| {
        RULES.iter().find_map(|rule| match (rule.purge, rule.keep) {
            (Purge::Batched(p), Some(keep)) if p == wanted => Some((rule, p, keep)),
            _ => None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_batched_rule_runs_once_and_has_a_period() {
        let names: Vec<&str> = batched().map(|(rule, _, _)| rule.name).collect();
        assert_eq!(
            names,
            [
                "events_outside_window",
                "third_party_events",
                "partner_events",
                "credentials",
                "account_structure",
                "request_logs",
                "smart_invites"
            ]
        );
        let batched_rules = RULES.iter().filter(|r| matches!(r.purge, Purge::Batched(_))).count();
        assert_eq!(batched_rules, names.len());
    }

    #[test]
    fn the_periods_are_the_policys() {
        let period = |name: &str| RULES.iter().find(|r| r.name == name).and_then(|r| r.keep).map(|d| d.num_days());
        assert_eq!(period("request_logs"), Some(90));
        assert_eq!(period("events_outside_window"), Some(31));
        assert_eq!(period("third_party_events"), Some(30));
        assert_eq!(period("partner_events"), Some(90));
        assert_eq!(period("credentials"), Some(30));
        assert_eq!(period("account_structure"), Some(90));
        assert_eq!(period("smart_invites"), Some(30));
        assert_eq!(period("backups"), Some(7));
        assert_eq!(period("billing_records"), None);
        assert_eq!(period("application_configuration"), None);
    }
}
