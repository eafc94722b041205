//! `StoreError` → the JS error class SPEC §4 names for it.

use js_sys::Array;
use wasm_bindgen::JsValue;

use super::host::glue;
use crate::core::StoreError;

pub fn into_js(e: StoreError<JsValue>) -> JsValue {
    if let StoreError::Host(raw) = e {
        return raw;
    }
    // A key the host gave keeps its exact text: joined host-side.
    let message = match e.around_key() {
        Some((before, key, after)) => glue::message_around(&before, key, after),
        None => JsValue::from_str(&e.message()),
    };
    match e {
        StoreError::Host(raw) => raw,
        StoreError::InvalidScope
        | StoreError::InvalidKey
        | StoreError::MissingMethod { .. }
        | StoreError::NotAnArray { .. }
        | StoreError::InvalidOption { .. } => glue::type_error(&message),
        StoreError::VaultWriteOrphaned { cause, .. }
        | StoreError::CommitOrphaned { cause, .. }
        | StoreError::VaultDeleteOrphaned { cause, .. } => glue::error_with_cause(&message, &cause),
        StoreError::Conflict { .. } => glue::conflict_error(&message),
        StoreError::DeleteAll(errors) => {
            let errors: Array = errors.into_iter().map(into_js).collect();
            glue::aggregate_error(&errors, &message)
        }
    }
}
