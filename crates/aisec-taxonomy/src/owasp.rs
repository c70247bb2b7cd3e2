//! The OWASP Top 10 for LLM Applications 2025 (`LLM01`..`LLM10`) and the OWASP Top 10 for
//! Agentic Applications 2026 (`ASI01`..`ASI10`): ids and titles.

/// The OWASP Top 10 for LLM Applications, 2025 edition: (id, title).
pub const LLM_TOP10_2025: [(&str, &str); 10] = [
    ("LLM01", "Prompt Injection"),
    ("LLM02", "Sensitive Information Disclosure"),
    ("LLM03", "Supply Chain"),
    ("LLM04", "Data and Model Poisoning"),
    ("LLM05", "Improper Output Handling"),
    ("LLM06", "Excessive Agency"),
    ("LLM07", "System Prompt Leakage"),
    ("LLM08", "Vector and Embedding Weaknesses"),
    ("LLM09", "Misinformation"),
    ("LLM10", "Unbounded Consumption"),
];

/// The OWASP Top 10 for Agentic Applications, 2026 edition: (id, title).
pub const AGENTIC_TOP10_2026: [(&str, &str); 10] = [
    ("ASI01", "Agent Goal Hijack"),
    ("ASI02", "Tool Misuse and Exploitation"),
    ("ASI03", "Identity and Privilege Abuse"),
    ("ASI04", "Agentic Supply Chain Vulnerabilities"),
    ("ASI05", "Unexpected Code Execution"),
    ("ASI06", "Memory and Context Poisoning"),
    ("ASI07", "Insecure Inter-Agent Communication"),
    ("ASI08", "Cascading Failures"),
    ("ASI09", "Human-Agent Trust Exploitation"),
    ("ASI10", "Rogue Agents"),
];

/// The title of an OWASP LLM (`LLM01`) or Agentic (`ASI01`) id.
#[must_use]
pub fn title(id: &str) -> Option<&'static str> {
    LLM_TOP10_2025
        .iter()
        .chain(&AGENTIC_TOP10_2026)
        .find(|(i, _)| *i == id)
        .map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_numbered_in_order() {
        for (k, (id, _)) in super::LLM_TOP10_2025.iter().enumerate() {
            assert_eq!(*id, format!("LLM{:02}", k + 1));
        }
        for (k, (id, _)) in super::AGENTIC_TOP10_2026.iter().enumerate() {
            assert_eq!(*id, format!("ASI{:02}", k + 1));
        }
        assert_eq!(super::title("LLM07"), Some("System Prompt Leakage"));
        assert_eq!(super::title("ASI06"), Some("Memory and Context Poisoning"));
        assert_eq!(super::title("LLM11"), None);
    }
}
