#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| melnet_fuzz::sysex(data));
