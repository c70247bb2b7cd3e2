//! STRIDE: the six threat categories of Microsoft's model, each the violation of one property.

use serde::{Deserialize, Serialize};

/// A STRIDE category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Stride {
    /// Pretending to be someone or something else (violates authentication).
    Spoofing,
    /// Changing data or code (violates integrity).
    Tampering,
    /// Denying an action with no way to prove it (violates non-repudiation).
    Repudiation,
    /// Exposing information to someone not allowed to see it (violates confidentiality).
    InformationDisclosure,
    /// Degrading or denying service (violates availability).
    DenialOfService,
    /// Gaining capabilities without authorization (violates authorization).
    ElevationOfPrivilege,
}

impl Stride {
    /// All six, in the acronym's order.
    pub const ALL: [Stride; 6] = [
        Stride::Spoofing,
        Stride::Tampering,
        Stride::Repudiation,
        Stride::InformationDisclosure,
        Stride::DenialOfService,
        Stride::ElevationOfPrivilege,
    ];

    /// The name as written in reports (`Information Disclosure`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Stride::Spoofing => "Spoofing",
            Stride::Tampering => "Tampering",
            Stride::Repudiation => "Repudiation",
            Stride::InformationDisclosure => "Information Disclosure",
            Stride::DenialOfService => "Denial of Service",
            Stride::ElevationOfPrivilege => "Elevation of Privilege",
        }
    }

    /// The property it violates.
    #[must_use]
    pub fn property(self) -> &'static str {
        match self {
            Stride::Spoofing => "authentication",
            Stride::Tampering => "integrity",
            Stride::Repudiation => "non-repudiation",
            Stride::InformationDisclosure => "confidentiality",
            Stride::DenialOfService => "availability",
            Stride::ElevationOfPrivilege => "authorization",
        }
    }

    /// Parses a name or its letter (`T`, `tampering`, `Information Disclosure`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Stride> {
        let key: String = s
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_lowercase();
        Stride::ALL.into_iter().find(|c| {
            let name: String = c
                .name()
                .chars()
                .filter(char::is_ascii_alphabetic)
                .collect::<String>()
                .to_ascii_lowercase();
            key == name || (key.len() == 1 && name.starts_with(&key))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Stride;

    #[test]
    fn names_and_letters_parse() {
        assert_eq!(Stride::parse("T"), Some(Stride::Tampering));
        assert_eq!(
            Stride::parse("information disclosure"),
            Some(Stride::InformationDisclosure)
        );
        assert_eq!(
            Stride::parse("DenialOfService"),
            Some(Stride::DenialOfService)
        );
        assert_eq!(Stride::parse("x"), None);
        let letters: String = Stride::ALL.iter().map(|c| &c.name()[..1]).collect();
        assert_eq!(letters, "STRIDE");
    }
}
