#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| angzarr_fuzz_targets::speculation::run(data));
