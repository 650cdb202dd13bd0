//! The calendar services the authorization page offers.

/// The calendar services the page offers, in page order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Google,
    Microsoft,
    Icloud,
    Exchange,
    CalDav,
    Hosted,
}

impl Service {
    pub const ALL: [Service; 6] =
        [Service::Google, Service::Microsoft, Service::Icloud, Service::Exchange, Service::CalDav, Service::Hosted];

    /// The form value.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Google => "google",
            Service::Microsoft => "microsoft",
            Service::Icloud => "icloud",
            Service::Exchange => "exchange",
            Service::CalDav => "caldav",
            Service::Hosted => "calsync",
        }
    }

    pub fn parse(value: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Maps Cronofy's `provider_name` hint onto a service.
    pub fn from_provider_name(name: &str) -> Option<Service> {
        match name {
            "google" => Some(Service::Google),
            "office365" | "live_connect" | "microsoft" => Some(Service::Microsoft),
            "apple" | "icloud" => Some(Service::Icloud),
            "exchange" => Some(Service::Exchange),
            "caldav" => Some(Service::CalDav),
            "cronofy" | "calsync" => Some(Service::Hosted),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Service::Google => "Google",
            Service::Microsoft => "Microsoft (Office 365 / Outlook.com)",
            Service::Icloud => "Apple iCloud",
            Service::Exchange => "Exchange",
            Service::CalDav => "CalDAV",
            Service::Hosted => "calsync calendar",
        }
    }

    /// Google and Microsoft sign in through their own OAuth, which needs calsync's client at that
    /// provider.
    pub fn is_configured(self, providers: &crate::providers::ProviderClients) -> bool {
        match self {
            Service::Google => providers.google.is_some(),
            Service::Microsoft => providers.microsoft.is_some(),
            _ => true,
        }
    }
}
