//! OpenSSF model signing v1.0.
