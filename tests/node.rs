//! The wasm-bindgen-test suite in Node: `wasm-pack test --node`.
//! (tests/browser.rs runs the same cases in browsers.)
#![cfg(target_arch = "wasm32")]

mod suite;

mod map {
    crate::suite::suite!(crate::suite::Backend::Map);
}

/// Node has no IndexedDB, so the IndexedDB cases run in browsers only. Fails
/// once a Node does have it: then instantiate them here too.
#[wasm_bindgen_test::wasm_bindgen_test]
fn indexed_db_cases_are_browser_only() {
    assert!(!suite::has_indexed_db(), "this Node has indexedDB: add `mod indexed_db` as in tests/browser.rs");
}
