//! Unit tests of the HDF5 reader and analysis, over hand-built files.
use super::*;
