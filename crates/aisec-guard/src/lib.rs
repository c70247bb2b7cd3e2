//! The LLM firewall of aisec: scanners over prompts and replies ([`scan`]), and the policy
//! engine that turns their hits into a verdict ([`engine::evaluate`]). Pure functions: no I/O,
//! no clock; the proxy in the binary is a thin adapter over them.

pub mod scan;
