//! (being written)
use super::compress::DecompressBudget;
use crate::limits::Limits;
#[derive(thiserror::Error, Debug)]
pub(crate) enum SevenZError {
    #[error("x")]
    X,
}
pub(crate) fn is_7z(_d: &[u8]) -> bool {
    false
}
pub(crate) fn extract(
    _d: &[u8],
    _l: &Limits,
    _b: &mut DecompressBudget,
) -> Result<Vec<(String, Result<Vec<u8>, SevenZError>)>, SevenZError> {
    Err(SevenZError::X)
}
