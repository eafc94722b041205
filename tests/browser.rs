//! The wasm-bindgen-test suite in a browser:
//! `wasm-pack test --headless --chrome` and `--headless --firefox`.
//! Same cases as tests/node.rs, plus all of them over a real IndexedDB.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod suite;

mod map {
    crate::suite::suite!(crate::suite::Backend::Map);
}

mod indexed_db {
    crate::suite::suite!(crate::suite::Backend::IndexedDb);
}
