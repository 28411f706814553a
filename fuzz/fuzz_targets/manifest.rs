#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hangar_fuzz::manifest(data));
