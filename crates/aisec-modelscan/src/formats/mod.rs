//! Readers of the containers that carry pickles: archives and compressed streams.

pub(crate) mod compress;
pub(crate) mod sevenz;
pub(crate) mod tar;
pub(crate) mod zip;
